//! A live capture of the air as a pcapng stream: one Section Header Block, one Interface
//! Description Block per channel (link type 127, 802.11 with radiotap, named `chN`) written
//! when the channel first carries a frame, one Enhanced Packet Block per frame, and Interface
//! Statistics Blocks that tell how many frames the reader lost.
//!
//! pcapng rather than pcap because a stream that spans channels needs an interface per channel
//! (Wireshark's `-k -i -` and `tshark -r -` read it as it grows). Sans-IO: the writer appends
//! to a `Vec<u8>` the caller sends wherever it wants; [`next_block`] splits such a stream back
//! into blocks, panic-free, for the reader (the CLI counts frames and losses with it).
//!
//! Each frame's radiotap header is the one [`pcap`](super::pcap) writes ([`RadioInfo`]).
//! Timestamps are microseconds since the Unix epoch (the default `if_tsresol`).

use crate::channel::Channel;
use crate::sim::pcap::{RadioInfo, LINKTYPE_IEEE802_11_RADIOTAP, SNAPLEN};
use crate::wire::{ParseError, Reader};

/// The Section Header Block's type.
pub const BLOCK_SHB: u32 = 0x0A0D_0D0A;
/// The Interface Description Block's type.
pub const BLOCK_IDB: u32 = 1;
/// The Interface Statistics Block's type.
pub const BLOCK_ISB: u32 = 5;
/// The Enhanced Packet Block's type.
pub const BLOCK_EPB: u32 = 6;
/// The byte-order magic of a section (written little-endian).
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// The longest block [`next_block`] accepts, in bytes.
pub const MAX_BLOCK_LEN: usize = 1 << 20;

/// Option codes used here.
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const IF_NAME: u16 = 2;
const ISB_IFDROP: u16 = 5;

/// Writes a pcapng stream of the air's frames (see the [module documentation](self)).
#[derive(Debug, Clone, Default)]
pub struct PcapngWriter {
    /// The channel of each interface described so far, by interface id.
    interfaces: Vec<Channel>,
    scratch: Vec<u8>,
}

impl PcapngWriter {
    /// Starts a stream: appends the Section Header Block (with `comment`, if any) to `out`.
    pub fn new(out: &mut Vec<u8>, comment: Option<&str>) -> Self {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // major
        body.extend_from_slice(&0u16.to_le_bytes()); // minor
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: unknown
        if let Some(c) = comment {
            push_option(&mut body, OPT_COMMENT, c.as_bytes());
            push_option(&mut body, OPT_END, &[]);
        }
        push_block(out, BLOCK_SHB, &body);
        Self::default()
    }

    /// The channels described so far, in interface order.
    pub fn interfaces(&self) -> &[Channel] {
        &self.interfaces
    }

    /// The interface of `channel`, describing it first (an IDB appended to `out`) if new.
    fn interface(&mut self, out: &mut Vec<u8>, channel: Channel) -> u32 {
        if let Some(i) = self.interfaces.iter().position(|c| *c == channel) {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        let mut body = Vec::with_capacity(24);
        body.extend_from_slice(
            &u16::try_from(LINKTYPE_IEEE802_11_RADIOTAP)
                .unwrap_or(127)
                .to_le_bytes(),
        );
        body.extend_from_slice(&0u16.to_le_bytes()); // reserved
        body.extend_from_slice(&SNAPLEN.to_le_bytes());
        // `ch6`, `ch36`; 6 GHz channels `ch6g37` (their numbers repeat the other bands').
        let name = format!("ch{}", channel.label());
        push_option(&mut body, IF_NAME, name.as_bytes());
        push_option(&mut body, OPT_END, &[]);
        push_block(out, BLOCK_IDB, &body);
        self.interfaces.push(channel);
        u32::try_from(self.interfaces.len() - 1).unwrap_or(u32::MAX)
    }

    /// Appends `frame` (802.11 without FCS) as it was on the air at `at_us` (microseconds
    /// since the Unix epoch), with its radiotap header, on its channel's interface.
    pub fn write_frame(&mut self, out: &mut Vec<u8>, at_us: u64, info: &RadioInfo, frame: &[u8]) {
        let interface = self.interface(out, info.channel);
        self.scratch.clear();
        info.emit_radiotap(&mut self.scratch);
        self.scratch.extend_from_slice(frame);
        let orig_len = u32::try_from(self.scratch.len()).unwrap_or(u32::MAX);
        let incl = self.scratch.len().min(SNAPLEN as usize);
        let data = self.scratch.get(..incl).unwrap_or_default();
        let mut body = Vec::with_capacity(20 + incl + 3);
        body.extend_from_slice(&interface.to_le_bytes());
        push_timestamp(&mut body, at_us);
        body.extend_from_slice(&u32::try_from(incl).unwrap_or(u32::MAX).to_le_bytes());
        body.extend_from_slice(&orig_len.to_le_bytes());
        body.extend_from_slice(data);
        pad4(&mut body);
        push_block(out, BLOCK_EPB, &body);
    }

    /// Appends an Interface Statistics Block saying that `dropped` frames in all were lost
    /// before reaching the reader (on the first interface; nothing if none is described yet,
    /// as a block must name a described interface).
    pub fn write_drops(&mut self, out: &mut Vec<u8>, at_us: u64, dropped: u64) {
        if self.interfaces.is_empty() {
            return;
        }
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&0u32.to_le_bytes());
        push_timestamp(&mut body, at_us);
        push_option(&mut body, ISB_IFDROP, &dropped.to_le_bytes());
        push_option(&mut body, OPT_END, &[]);
        push_block(out, BLOCK_ISB, &body);
    }
}

fn push_timestamp(body: &mut Vec<u8>, at_us: u64) {
    body.extend_from_slice(&((at_us >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(at_us as u32).to_le_bytes());
}

fn pad4(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    body.extend_from_slice(value.get(..usize::from(u16::MAX)).unwrap_or(value));
    pad4(body);
}

fn push_block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = u32::try_from(12 + body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&len.to_le_bytes());
}

/// One block of a little-endian pcapng stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// The block type ([`BLOCK_EPB`], ...).
    pub kind: u32,
    /// The body, between the length fields.
    pub body: &'a [u8],
}

impl Block<'_> {
    /// An Interface Statistics Block's `isb_ifdrop` count, if this is one that has it.
    pub fn ifdrop(&self) -> Option<u64> {
        if self.kind != BLOCK_ISB {
            return None;
        }
        let mut r = Reader::new(self.body.get(12..)?);
        while !r.is_empty() {
            let code = r.u16_le("option code").ok()?;
            let len = usize::from(r.u16_le("option length").ok()?);
            let value = r.take(len, "option value").ok()?;
            r.take((4 - len % 4) % 4, "option padding").ok()?;
            if code == ISB_IFDROP {
                return Some(u64::from_le_bytes(value.try_into().ok()?));
            }
            if code == OPT_END {
                break;
            }
        }
        None
    }
}

/// The first whole block at the start of `buf` and the bytes it takes, `None` if `buf` holds
/// only part of one (read more), or an error if the stream is not little-endian pcapng (a
/// length under 12, not a multiple of 4, over [`MAX_BLOCK_LEN`], or unequal at both ends; a
/// section header with another byte-order magic).
pub fn next_block(buf: &[u8]) -> Result<Option<(Block<'_>, usize)>, ParseError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let mut r = Reader::new(buf);
    let kind = r.u32_le("block type")?;
    let len = r.u32_le("block length")?;
    let n = len as usize;
    if n < 12 || n % 4 != 0 || n > MAX_BLOCK_LEN {
        return Err(ParseError::BadValue {
            what: "pcapng block length",
            value: len.into(),
        });
    }
    let Some(block) = buf.get(..n) else {
        return Ok(None);
    };
    let body = block.get(8..n - 4).unwrap_or_default();
    let trailer = block.get(n - 4..).unwrap_or_default();
    if trailer != len.to_le_bytes() {
        return Err(ParseError::BadValue {
            what: "pcapng trailing block length",
            value: Reader::new(trailer).u32_le("length").map_or(0, u64::from),
        });
    }
    if kind == BLOCK_SHB {
        let magic = Reader::new(body).u32_le("byte-order magic")?;
        if magic != BYTE_ORDER_MAGIC {
            return Err(ParseError::BadValue {
                what: "pcapng byte-order magic",
                value: magic.into(),
            });
        }
    }
    Ok(Some((Block { kind, body }, n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phy::TxVector;
    use crate::sim::medium::PhyRate;

    fn info(ch: u8) -> RadioInfo {
        RadioInfo {
            channel: Channel::new(ch).unwrap(),
            rate: TxVector::Legacy(PhyRate::Ofdm6),
            signal_dbm: Some(-40),
        }
    }

    fn blocks(mut buf: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((b, n)) = next_block(buf).unwrap() {
            out.push((b.kind, b.body.to_vec()));
            buf = &buf[n..];
        }
        assert!(buf.is_empty(), "a partial block left");
        out
    }

    #[test]
    fn one_interface_per_channel_described_before_its_first_frame() {
        let mut out = Vec::new();
        let mut w = PcapngWriter::new(&mut out, Some("vwifi"));
        w.write_frame(&mut out, 1_000_001, &info(1), &[0x80, 0, 1, 2, 3]);
        w.write_frame(&mut out, 1_000_002, &info(6), &[0x80, 0]);
        w.write_frame(&mut out, 1_000_003, &info(1), &[0xd4, 0]);
        w.write_drops(&mut out, 1_000_004, 7);
        let kinds: Vec<u32> = blocks(&out).iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [BLOCK_SHB, BLOCK_IDB, BLOCK_EPB, BLOCK_IDB, BLOCK_EPB, BLOCK_EPB, BLOCK_ISB]
        );
        assert_eq!(w.interfaces().len(), 2);
        let b = blocks(&out);
        // The third frame is on interface 0 (channel 1), the second on interface 1.
        assert_eq!(&b[4].1[..4], &1u32.to_le_bytes());
        assert_eq!(&b[5].1[..4], &0u32.to_le_bytes());
        // Timestamps: high and low words of the microseconds.
        assert_eq!(&b[5].1[8..12], &1_000_003u32.to_le_bytes());
        let (block, _) = next_block(&out[out.len() - 40..]).unwrap().unwrap();
        assert_eq!(block.ifdrop(), Some(7));
    }

    #[test]
    fn drops_before_any_interface_write_nothing() {
        let mut out = Vec::new();
        let mut w = PcapngWriter::new(&mut out, None);
        let len = out.len();
        w.write_drops(&mut out, 5, 3);
        assert_eq!(out.len(), len);
    }

    #[test]
    fn partial_and_bad_blocks_are_told_apart() {
        let mut out = Vec::new();
        let mut w = PcapngWriter::new(&mut out, None);
        w.write_frame(&mut out, 1, &info(11), &[0x80; 30]);
        for cut in 0..out.len() {
            // A prefix is whole blocks then part of one: never an error.
            let mut buf = &out[..cut];
            while let Some((_, n)) = next_block(buf).unwrap() {
                buf = &buf[n..];
            }
        }
        let mut bad = out.clone();
        bad[4] = 13; // a length that is not a multiple of 4
        assert!(next_block(&bad).is_err());
        let mut bad = out.clone();
        bad[8] ^= 0xff; // byte-order magic
        assert!(next_block(&bad).is_err());
    }

    #[test]
    #[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
    fn tshark_reads_the_stream_with_one_interface_per_channel() {
        let tshark = "tshark";
        let mut out = Vec::new();
        let mut w = PcapngWriter::new(&mut out, None);
        // A beacon-like management frame on channel 1 and on channel 6.
        let mut frame = vec![0x80, 0, 0, 0];
        frame.extend_from_slice(&[0xff; 6]);
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&[0; 12]);
        w.write_frame(&mut out, 1_700_000_000_000_000, &info(1), &frame);
        w.write_frame(&mut out, 1_700_000_000_000_100, &info(6), &frame);
        let dir = std::env::temp_dir().join(format!("vwifi-pcapng-{}", std::process::id()));
        std::fs::write(&dir, &out).unwrap();
        let o = std::process::Command::new(tshark)
            .args(["-r"])
            .arg(&dir)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.interface_name",
                "-e",
                "wlan.fc.type_subtype",
            ])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&dir);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("ch1\t"), "{text}");
        assert!(lines[1].starts_with("ch6\t"), "{text}");
    }
}
