//! A capture of the air as a pcap file: 802.11 frames behind a radiotap header
//! (LINKTYPE_IEEE802_11_RADIOTAP), readable by Wireshark and tshark.
//!
//! The writer is I/O-free in the sense of this crate: it writes into any [`std::io::Write`] the
//! caller supplies (a `Vec<u8>` in the medium; a file in a test or the host). [`PcapFile::parse`]
//! reads such a capture back, panic-free, for tests and tools.
//!
//! Every record holds a minimal radiotap header (version 0), its fields in radiotap field
//! order: Flags (FCS not included), Rate (500 kbit/s units; legacy frames only), Channel
//! (frequency and flags), when known dBm Antenna Signal, and for HT/VHT/HE frames the MCS
//! (HT), VHT or HE field with the MCS, streams, bandwidth and guard interval; then the 802.11
//! frame without FCS.

use std::io::{self, Write};

use crate::channel::{Band, Channel};
use crate::time::Instant;
use crate::wire::{ParseError, Reader};

use crate::phy::{GuardInterval, McsRate, Standard, TxVector, Width};

/// The pcap link type of 802.11 frames preceded by a radiotap header.
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
/// The pcap magic number for microsecond timestamps (written in little-endian byte order).
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// The largest record the writer keeps whole; longer frames are truncated in the capture.
pub const SNAPLEN: u32 = 65_535;

/// The pcap global header length.
const GLOBAL_HEADER_LEN: usize = 24;

/// Radiotap present-bit indexes used here (radiotap.org defined fields).
mod field {
    pub(super) const TSFT: u32 = 0;
    pub(super) const FLAGS: u32 = 1;
    pub(super) const RATE: u32 = 2;
    pub(super) const CHANNEL: u32 = 3;
    pub(super) const FHSS: u32 = 4;
    pub(super) const DBM_ANTSIGNAL: u32 = 5;
    pub(super) const MCS: u32 = 19;
    pub(super) const VHT: u32 = 21;
    pub(super) const HE: u32 = 23;
    pub(super) const EXT: u32 = 31;
}

/// Radiotap channel flags.
pub mod channel_flags {
    /// CCK channel.
    pub const CCK: u16 = 0x0020;
    /// OFDM channel.
    pub const OFDM: u16 = 0x0040;
    /// 2 GHz spectrum channel.
    pub const GHZ2: u16 = 0x0080;
    /// 5 GHz spectrum channel.
    pub const GHZ5: u16 = 0x0100;
}

/// How a frame was on the air: what goes into its radiotap header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioInfo {
    /// The channel it was sent on.
    pub channel: Channel,
    /// The PHY rate (legacy) or MCS rate it was sent at.
    pub rate: TxVector,
    /// The signal where it was captured, in dBm, if the capture has a position.
    pub signal_dbm: Option<i8>,
}

impl RadioInfo {
    /// The radiotap channel flags of this frame: band and modulation.
    pub fn channel_flags(&self) -> u16 {
        let band = match self.channel.band() {
            Band::Ghz2_4 => channel_flags::GHZ2,
            // Radiotap has no 6 GHz flag: the frequency tells, and Linux (mac80211) marks
            // 6 GHz frames "5 GHz spectrum" as well.
            Band::Ghz5 | Band::Ghz6 => channel_flags::GHZ5,
        };
        let ofdm = match self.rate {
            TxVector::Legacy(r) => r.is_ofdm(),
            TxVector::Mcs(_) => true,
        };
        let modulation = if ofdm {
            channel_flags::OFDM
        } else {
            channel_flags::CCK
        };
        band | modulation
    }

    /// Appends the radiotap header for this frame to `out`.
    ///
    /// Layout: the 8-byte header, Flags (offset 8), Rate (9, legacy only; else a pad byte so
    /// the Channel stays at 10), Channel (10), dBm Antenna Signal (14, if known), then one of
    /// MCS (3 bytes, alignment 1), VHT (12 bytes, alignment 2) or HE (12 bytes, alignment 2).
    pub fn emit_radiotap(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut present = (1 << field::FLAGS) | (1 << field::CHANNEL);
        if matches!(self.rate, TxVector::Legacy(_)) {
            present |= 1 << field::RATE;
        }
        if self.signal_dbm.is_some() {
            present |= 1 << field::DBM_ANTSIGNAL;
        }
        if let TxVector::Mcs(r) = &self.rate {
            present |= 1
                << match r.standard {
                    Standard::Vht => field::VHT,
                    Standard::He => field::HE,
                    _ => field::MCS,
                };
        }
        out.push(0); // version
        out.push(0); // pad
        out.extend_from_slice(&0u16.to_le_bytes()); // length, set below
        out.extend_from_slice(&u32::to_le_bytes(present));
        out.push(0); // flags: no FCS at the end, long preamble
        match self.rate {
            TxVector::Legacy(r) => out.push(r.radiotap_units()),
            TxVector::Mcs(_) => out.push(0), // alignment pad of the Channel field
        }
        // Channel: offset 10, aligned to 2.
        out.extend_from_slice(&self.channel.frequency_mhz().to_le_bytes());
        out.extend_from_slice(&self.channel_flags().to_le_bytes());
        if let Some(signal) = self.signal_dbm {
            out.extend_from_slice(&signal.to_le_bytes());
        }
        if let TxVector::Mcs(r) = &self.rate {
            match r.standard {
                Standard::Vht | Standard::He => {
                    if (out.len() - start) % 2 == 1 {
                        out.push(0);
                    }
                    if r.standard == Standard::Vht {
                        emit_vht(r, out);
                    } else {
                        emit_he(r, out);
                    }
                }
                _ => emit_mcs(r, out),
            }
        }
        let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
        if let Some(slot) = out.get_mut(start + 2..start + 4) {
            slot.copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// The radiotap MCS field (HT): known = bandwidth, MCS, guard interval; flags; the HT MCS
/// index `8 * (nss - 1) + mcs` (radiotap.org/fields/MCS).
fn emit_mcs(r: &McsRate, out: &mut Vec<u8>) {
    let known = 0x01 | 0x02 | 0x04;
    let mut flags = match r.width {
        Width::Mhz20 => 0,
        _ => 1,
    };
    if r.gi == GuardInterval::Short400 {
        flags |= 0x04;
    }
    out.extend_from_slice(&[known, flags, 8 * (r.nss - 1) + r.mcs]);
}

/// The radiotap VHT field: known = guard interval and bandwidth; flags (short GI); bandwidth
/// code (0 20, 1 40, 4 80, 11 160 MHz); user 0's MCS in the high and streams in the low
/// nibble; coding, group id, partial AID zero (radiotap.org/fields/VHT).
fn emit_vht(r: &McsRate, out: &mut Vec<u8>) {
    let known: u16 = 0x0004 | 0x0040;
    out.extend_from_slice(&known.to_le_bytes());
    out.push(if r.gi == GuardInterval::Short400 {
        0x04
    } else {
        0
    });
    out.push(match r.width {
        Width::Mhz20 => 0,
        Width::Mhz40 => 1,
        Width::Mhz80 => 4,
        Width::Mhz160 => 11,
    });
    out.extend_from_slice(&[(r.mcs << 4) | r.nss, 0, 0, 0]);
    out.extend_from_slice(&[0, 0, 0, 0]); // coding, group id, partial AID
}

/// The radiotap HE field: data1 says an HE SU PPDU with the data MCS, bandwidth/RU
/// allocation and spatial streams known; data3 the MCS (bits 8-11); data5 the bandwidth
/// (bits 0-3: 0 20, 1 40, 2 80, 3 160 MHz) and GI (bits 4-5: 0 0.8, 1 1.6, 2 3.2 µs); data6 the
/// streams (bits 0-3) (radiotap.org/fields/HE).
fn emit_he(r: &McsRate, out: &mut Vec<u8>) {
    // data1: PPDU format 0 (HE SU), data MCS known (0x0020), data BW/RU allocation known
    // (0x4000); data2: GI known (0x0002).
    let data1: u16 = 0x0020 | 0x4000;
    let data2: u16 = 0x0002;
    let data3: u16 = u16::from(r.mcs) << 8;
    let data4: u16 = 0;
    let bw: u16 = match r.width {
        Width::Mhz20 => 0,
        Width::Mhz40 => 1,
        Width::Mhz80 => 2,
        Width::Mhz160 => 3,
    };
    let gi: u16 = match r.gi {
        GuardInterval::He1600 => 1,
        GuardInterval::He3200 => 2,
        _ => 0,
    };
    let data5: u16 = bw | (gi << 4);
    let data6: u16 = u16::from(r.nss);
    for d in [data1, data2, data3, data4, data5, data6] {
        out.extend_from_slice(&d.to_le_bytes());
    }
}

/// Writes a pcap capture of 802.11 frames with radiotap headers into `W`.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    scratch: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Starts a capture: writes the pcap global header (version 2.4, link type 127) to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(GLOBAL_HEADER_LEN);
        header.extend_from_slice(&PCAP_MAGIC.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_IEEE802_11_RADIOTAP.to_le_bytes());
        out.write_all(&header)?;
        Ok(Self::resume(out))
    }

    /// Continues a capture whose global header was already written to an earlier writer:
    /// records only.
    pub fn resume(out: W) -> Self {
        Self {
            out,
            scratch: Vec::new(),
        }
    }

    /// Appends one record: `frame` (802.11 without FCS) as it was on the air at `at`.
    pub fn write_frame(&mut self, at: Instant, info: &RadioInfo, frame: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        info.emit_radiotap(&mut self.scratch);
        self.scratch.extend_from_slice(frame);
        let orig_len = u32::try_from(self.scratch.len()).unwrap_or(u32::MAX);
        let incl = self.scratch.len().min(SNAPLEN as usize);
        let micros = at.as_micros();
        let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
        let usecs = (micros % 1_000_000) as u32;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&secs.to_le_bytes());
        head[4..8].copy_from_slice(&usecs.to_le_bytes());
        head[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        head[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&head)?;
        self.out
            .write_all(self.scratch.get(..incl).unwrap_or(&self.scratch))
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The underlying writer, mutably (to drain a `Vec<u8>` sink, for example).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Ends the capture, returning the writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A pcap capture read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFile<'a> {
    /// The link type of every record.
    pub linktype: u32,
    /// The snapshot length.
    pub snaplen: u32,
    /// The records, in file order.
    pub records: Vec<PcapRecord<'a>>,
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapRecord<'a> {
    /// The timestamp.
    pub at: Instant,
    /// The length of the packet on the air (may exceed `data.len()` if truncated by the snaplen).
    pub orig_len: u32,
    /// The captured bytes (radiotap header and 802.11 frame for link type 127).
    pub data: &'a [u8],
}

impl<'a> PcapFile<'a> {
    /// Parses a whole little-endian, microsecond pcap file: the global header and every record.
    /// Fails on a wrong magic number, a record longer than the snapshot length or the rest of
    /// the file, or a partial record at the end.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let magic = r.u32_le("pcap magic")?;
        if magic != PCAP_MAGIC {
            return Err(ParseError::BadValue {
                what: "pcap magic",
                value: magic.into(),
            });
        }
        let major = r.u16_le("pcap major version")?;
        if major != 2 {
            return Err(ParseError::BadValue {
                what: "pcap major version",
                value: major.into(),
            });
        }
        r.take(2 + 4 + 4, "pcap header")?;
        let snaplen = r.u32_le("pcap snaplen")?;
        let linktype = r.u32_le("pcap link type")?;
        let mut records = Vec::new();
        while !r.is_empty() {
            let secs = r.u32_le("pcap record seconds")?;
            let usecs = r.u32_le("pcap record microseconds")?;
            if usecs >= 1_000_000 {
                return Err(ParseError::BadValue {
                    what: "pcap record microseconds",
                    value: usecs.into(),
                });
            }
            let incl = r.u32_le("pcap record length")?;
            let orig_len = r.u32_le("pcap record original length")?;
            if incl > snaplen || incl > orig_len {
                return Err(ParseError::BadValue {
                    what: "pcap record length",
                    value: incl.into(),
                });
            }
            let data = r.take(incl as usize, "pcap record data")?;
            records.push(PcapRecord {
                at: Instant::from_micros(u64::from(secs) * 1_000_000 + u64::from(usecs)),
                orig_len,
                data,
            });
        }
        Ok(Self {
            linktype,
            snaplen,
            records,
        })
    }
}

impl<'a> PcapRecord<'a> {
    /// Splits a link type 127 record into its radiotap fields and the 802.11 frame.
    pub fn radiotap(&self) -> Result<(Radiotap, &'a [u8]), ParseError> {
        Radiotap::parse(self.data)
    }
}

/// The radiotap fields this module writes, read back from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Radiotap {
    /// The Flags field (0x10: the frame ends with an FCS).
    pub flags: Option<u8>,
    /// The Rate field, in 500 kbit/s units.
    pub rate_500kbps: Option<u8>,
    /// The Channel field's frequency, MHz.
    pub frequency_mhz: Option<u16>,
    /// The Channel field's flags (see [`channel_flags`]).
    pub channel_flags: Option<u16>,
    /// The dBm Antenna Signal field.
    pub signal_dbm: Option<i8>,
    /// The MCS field (HT): known, flags, MCS index.
    pub mcs: Option<[u8; 3]>,
    /// The VHT field, raw.
    pub vht: Option<[u8; 12]>,
    /// The HE field, raw (six little-endian u16 words).
    pub he: Option<[u8; 12]>,
}

impl Radiotap {
    /// Reads a radiotap header from the start of `buf`: the fields TSFT to HE (later fields
    /// are skipped with the header's length). Returns the fields and the bytes
    /// after the header.
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8]), ParseError> {
        let mut r = Reader::new(buf);
        let version = r.u8("radiotap version")?;
        if version != 0 {
            return Err(ParseError::BadValue {
                what: "radiotap version",
                value: version.into(),
            });
        }
        r.u8("radiotap pad")?;
        let len = usize::from(r.u16_le("radiotap length")?);
        let mut whole = Reader::new(buf);
        let header = whole.take(len, "radiotap header")?;
        let frame = whole.rest();
        let mut h = Reader::new(header);
        h.take(4, "radiotap header start")?;
        let present = h.u32_le("radiotap present")?;
        let mut word = present;
        while word & (1 << field::EXT) != 0 {
            word = h.u32_le("radiotap extended present")?;
        }
        let mut out = Self::default();
        let mut offset = len - h.remaining();
        for bit in field::TSFT..=field::HE {
            if present & (1 << bit) == 0 {
                continue;
            }
            // Alignment and size of each field (radiotap.org defined fields).
            let (align, size) = match bit {
                field::TSFT => (8, 8),
                field::CHANNEL => (2, 4),
                field::FHSS => (1, 2),
                7..=9 | 14 | 15 => (2, 2),
                18 => (4, 8),
                field::MCS => (1, 3),
                20 => (4, 8),
                field::VHT | field::HE => (2, 12),
                22 => (8, 12),
                _ => (1, 1),
            };
            let pad = offset.next_multiple_of(align) - offset;
            h.take(pad, "radiotap alignment")?;
            let value = h.take(size, "radiotap field")?;
            offset += pad + size;
            let byte = value.first().copied();
            match bit {
                field::FLAGS => out.flags = byte,
                field::RATE => out.rate_500kbps = byte,
                field::CHANNEL => {
                    let mut v = Reader::new(value);
                    out.frequency_mhz = Some(v.u16_le("radiotap channel frequency")?);
                    out.channel_flags = Some(v.u16_le("radiotap channel flags")?);
                }
                field::DBM_ANTSIGNAL => out.signal_dbm = byte.map(|b| b as i8),
                field::MCS => out.mcs = value.try_into().ok(),
                field::VHT => out.vht = value.try_into().ok(),
                field::HE => out.he = value.try_into().ok(),
                _ => {}
            }
        }
        Ok((out, frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::medium::PhyRate;

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn writes_global_header_and_records_that_read_back() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let info = RadioInfo {
            channel: ch(6),
            rate: PhyRate::Dsss1.into(),
            signal_dbm: Some(-42),
        };
        let frame = [0x80, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        w.write_frame(Instant::from_micros(1_500_123), &info, &frame)
            .unwrap();
        let info5 = RadioInfo {
            channel: ch(36),
            rate: PhyRate::Ofdm24.into(),
            signal_dbm: None,
        };
        w.write_frame(Instant::from_micros(2_000_000), &info5, &frame[..4])
            .unwrap();
        let bytes = w.into_inner();
        assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
        let file = PcapFile::parse(&bytes).unwrap();
        assert_eq!(file.linktype, 127);
        assert_eq!(file.records.len(), 2);
        let rec = file.records[0];
        assert_eq!(rec.at, Instant::from_micros(1_500_123));
        let (rt, body) = rec.radiotap().unwrap();
        assert_eq!(body, frame);
        assert_eq!(rt.flags, Some(0));
        assert_eq!(rt.rate_500kbps, Some(2));
        assert_eq!(rt.frequency_mhz, Some(2437));
        assert_eq!(
            rt.channel_flags,
            Some(channel_flags::GHZ2 | channel_flags::CCK)
        );
        assert_eq!(rt.signal_dbm, Some(-42));
        let (rt, body) = file.records[1].radiotap().unwrap();
        assert_eq!(body, &frame[..4]);
        assert_eq!(rt.frequency_mhz, Some(5180));
        assert_eq!(rt.rate_500kbps, Some(48));
        assert_eq!(rt.signal_dbm, None);
    }

    #[test]
    fn six_ghz_frames_carry_their_frequency_and_ofdm_flags() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let he = McsRate::new(Standard::He, 7, 2, Width::Mhz80, GuardInterval::Normal800).unwrap();
        for rate in [PhyRate::Ofdm6.into(), TxVector::Mcs(he)] {
            let info = RadioInfo {
                channel: Channel::six_ghz(37).unwrap(),
                rate,
                signal_dbm: None,
            };
            w.write_frame(Instant::ZERO, &info, &[0x80, 0, 0, 0])
                .unwrap();
        }
        let bytes = w.into_inner();
        for rec in PcapFile::parse(&bytes).unwrap().records {
            let (rt, _) = rec.radiotap().unwrap();
            assert_eq!(rt.frequency_mhz, Some(6135));
            assert_eq!(
                rt.channel_flags,
                Some(channel_flags::GHZ5 | channel_flags::OFDM)
            );
        }
    }

    #[test]
    fn mcs_rates_carry_the_ht_vht_and_he_fields() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let frame = [0x08, 0x00, 0, 0, 0x02, 0, 0, 0, 0, 1];
        let rates = [
            McsRate::new(Standard::Ht, 7, 2, Width::Mhz40, GuardInterval::Short400).unwrap(),
            McsRate::new(Standard::Vht, 9, 2, Width::Mhz80, GuardInterval::Short400).unwrap(),
            McsRate::new(Standard::He, 11, 2, Width::Mhz80, GuardInterval::Normal800).unwrap(),
        ];
        for (r, signal) in rates.iter().zip([Some(-40), None, Some(-50)]) {
            let info = RadioInfo {
                channel: ch(36),
                rate: TxVector::Mcs(*r),
                signal_dbm: signal,
            };
            w.write_frame(Instant::ZERO, &info, &frame).unwrap();
        }
        let bytes = w.into_inner();
        let file = PcapFile::parse(&bytes).unwrap();
        let (ht, body) = file.records[0].radiotap().unwrap();
        assert_eq!(body, frame);
        assert_eq!(ht.rate_500kbps, None);
        assert_eq!(ht.frequency_mhz, Some(5180));
        assert_eq!(ht.signal_dbm, Some(-40));
        assert_eq!(ht.mcs, Some([0x07, 0x05, 15]));
        let (vht, body) = file.records[1].radiotap().unwrap();
        assert_eq!(body, frame);
        let v = vht.vht.unwrap();
        assert_eq!((v[2], v[3], v[4]), (0x04, 4, 0x92));
        let (he, body) = file.records[2].radiotap().unwrap();
        assert_eq!(body, frame);
        let h = he.he.unwrap();
        assert_eq!(u16::from_le_bytes([h[4], h[5]]) >> 8, 11);
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) & 0xf, 2);
        assert_eq!(u16::from_le_bytes([h[10], h[11]]), 2);
    }

    #[test]
    fn parse_rejects_bad_magic_and_partial_records() {
        let mut bytes = PcapWriter::new(Vec::new()).unwrap().into_inner();
        assert_eq!(PcapFile::parse(&bytes).unwrap().records.len(), 0);
        bytes.extend_from_slice(&[0; 8]);
        assert!(matches!(
            PcapFile::parse(&bytes),
            Err(ParseError::Truncated { .. })
        ));
        bytes[0] = 0;
        assert!(matches!(
            PcapFile::parse(&bytes),
            Err(ParseError::BadValue {
                what: "pcap magic",
                ..
            })
        ));
    }

    #[test]
    fn radiotap_parse_never_panics_on_short_or_odd_input() {
        for len in 0..24u8 {
            let mut buf = vec![0u8, 0, len, 0, 0xff, 0xff, 0xff, 0xff];
            buf.resize(usize::from(len), 0xff);
            let _ = Radiotap::parse(&buf);
        }
        let _ = Radiotap::parse(&[0, 0, 12, 0, 0x2f, 0, 0, 0, 1, 2, 3, 4]);
    }
}
