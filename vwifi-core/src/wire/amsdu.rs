//! A-MSDUs (IEEE 802.11-2020 9.3.2.2.2): the body of a QoS Data frame whose QoS Control has
//! the A-MSDU Present bit set, a sequence of subframes, each a 14-octet header (DA, SA, and
//! the MSDU's length, big-endian) and the MSDU (LLC/SNAP and payload), padded with zeros to a
//! multiple of 4 octets except the last (Figure 9-71).
//!
//! [`parse`] reads a body into its subframes, panic-free, every length checked and nothing
//! left over; [`emit`] writes subframes so that `parse(emit(x)) == x`.

use bytes::Bytes;

use super::frame_control::{DataSubtype, FcFlags, FrameControl, FrameType};
use super::header::{Header, QosControl};
use super::llc::{DsDirection, EtherType, EthernetFrame, SnapHeader};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// The length of an A-MSDU subframe header: DA, SA, Length.
pub const SUBFRAME_HEADER_LEN: usize = 14;

/// The longest MSDU a subframe carries (9.2.4.7.1: 2304 octets).
pub const MAX_MSDU_LEN: usize = 2304;

/// What an A-MSDU's MPDU adds to the A-MSDU at most: a QoS Data header without address 4
/// (26 octets), the CCMP header and MIC (16) and the FCS (4).
pub const MPDU_OVERHEAD: usize = 46;

/// The longest MPDU (without FCS) a Linux `mac80211_hwsim` radio takes from its medium: the
/// kernel refuses a longer `HWSIM_ATTR_FRAME` (`IEEE80211_MAX_DATA_LEN`, 2304), whatever the
/// radio's HT/VHT Capabilities say. A-MSDUs to such a radio stay within it.
pub const KERNEL_RADIO_MAX_MPDU: usize = 2304;

/// The longest A-MSDU in an MPDU of at most `max_mpdu` octets (without FCS): less the QoS
/// Data header and the CCMP header and MIC.
pub const fn within_mpdu(max_mpdu: usize) -> usize {
    max_mpdu.saturating_sub(MPDU_OVERHEAD - 4)
}

/// The longest A-MSDU an HT (not VHT or HE) link carries: an MPDU inside an HT A-MPDU is at
/// most 4095 octets (9.7.1, the MPDU delimiter's length; mac80211's
/// `IEEE80211_MAX_MPDU_LEN_HT_BA`), and the sender does not know whether its MPDU will be.
pub const HT_AMPDU_MAX_AMSDU: usize = 4095 - MPDU_OVERHEAD;

/// One A-MSDU subframe, borrowing its MSDU from the body it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subframe<'a> {
    /// The destination address.
    pub da: MacAddr,
    /// The source address.
    pub sa: MacAddr,
    /// The MSDU: LLC/SNAP header and payload.
    pub msdu: &'a [u8],
}

impl Subframe<'_> {
    /// The subframe's length on the air without padding.
    pub const fn len(&self) -> usize {
        SUBFRAME_HEADER_LEN + self.msdu.len()
    }

    /// Whether the MSDU is empty (a subframe is never zero octets long).
    pub const fn is_empty(&self) -> bool {
        self.msdu.is_empty()
    }
}

/// The length of an A-MSDU of subframes carrying MSDUs of `msdu_lens` octets.
pub fn body_len(msdu_lens: impl IntoIterator<Item = usize>) -> usize {
    let mut total: usize = 0;
    for len in msdu_lens {
        total = total.next_multiple_of(4) + SUBFRAME_HEADER_LEN + len;
    }
    total
}

/// How many of the MSDUs of `msdu_lens`, from the first, go in one A-MSDU of at most `max`
/// octets: at least one (a first MSDU too long for an A-MSDU goes alone, as a plain MPDU).
pub fn fitting(msdu_lens: impl IntoIterator<Item = usize>, max: usize) -> usize {
    let mut total: usize = 0;
    let mut n = 0;
    for len in msdu_lens {
        let next = match n {
            0 => SUBFRAME_HEADER_LEN + len,
            _ => total.next_multiple_of(4) + SUBFRAME_HEADER_LEN + len,
        };
        if n > 0 && next > max {
            break;
        }
        total = next;
        n += 1;
    }
    n
}

/// The header of an A-MSDU MPDU between station `sta` and its AP in direction `dir`: QoS Data
/// with TID `tid` and the A-MSDU Present bit; address 1 the receiver, 2 the transmitter, 3 the
/// BSSID (Table 9-30: with A-MSDU Present, DA and SA are in the subframes); sequence zero (the
/// sender assigns it).
pub fn data_header(dir: DsDirection, sta: MacAddr, tid: u8) -> Header {
    let (flags, a1, a2, bssid) = match dir {
        DsDirection::ToAp { bssid } => (FcFlags::TO_DS, bssid, sta, bssid),
        DsDirection::FromAp { bssid } => (FcFlags::FROM_DS, sta, bssid, bssid),
    };
    let fc = FrameControl::new(FrameType::Data(DataSubtype::QosData), FcFlags(flags));
    let mut header = Header::new(fc, a1, a2, bssid);
    header.qos = Some(QosControl::amsdu(tid));
    header
}

/// The length of the MPDU [`emit_ethernet`] writes for `frames` under `header`.
pub fn ethernet_mpdu_len(header: &Header, frames: &[EthernetFrame]) -> usize {
    header.buffer_len() + body_len(frames.iter().map(EthernetFrame::data_body_len))
}

/// Appends the A-MSDU MPDU of `frames` to `out`: `header` (from [`data_header`], its sequence
/// set), then a subframe per frame (its destination and source, the length, its LLC/SNAP body
/// as a plain data frame would carry it), each but the last padded to 4 octets.
pub fn emit_ethernet(header: &Header, frames: &[EthernetFrame], out: &mut Vec<u8>) {
    header.emit(out);
    let start = out.len();
    for (i, eth) in frames.iter().enumerate() {
        if i > 0 {
            let padded = (out.len() - start).next_multiple_of(4) + start;
            out.resize(padded, 0);
        }
        let len = u16::try_from(eth.data_body_len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&eth.dst.0);
        out.extend_from_slice(&eth.src.0);
        out.extend_from_slice(&len.to_be_bytes());
        eth.emit_data_body(out);
    }
}

/// Reads an A-MSDU body (see [`parse`]) into the Ethernet frames of its subframes, each with
/// the subframe's DA and SA and sharing `body` (no copy), or the error of a subframe whose MSDU
/// is no valid LLC payload. The receiver checks the addresses.
pub fn ethernet_frames(body: &Bytes) -> Result<Vec<Result<EthernetFrame, ParseError>>, ParseError> {
    let subframes = parse(body)?;
    let mut out = Vec::with_capacity(subframes.len());
    let mut at = 0;
    for s in subframes {
        let msdu_at = at + SUBFRAME_HEADER_LEN;
        let end = msdu_at + s.msdu.len();
        if end > body.len() {
            return Err(ParseError::Truncated {
                what: "A-MSDU subframe MSDU",
                need: end,
                have: body.len(),
            });
        }
        out.push(EthernetFrame::from_msdu(
            s.da,
            s.sa,
            &body.slice(msdu_at..end),
        ));
        at = end.next_multiple_of(4);
    }
    Ok(out)
}

/// Reads an A-MSDU body into its subframes. Fails on an empty body, a truncated header or
/// MSDU, an MSDU longer than [`MAX_MSDU_LEN`], padding that is missing or not zero before a
/// further subframe, or trailing bytes too short to be a subframe.
pub fn parse(body: &[u8]) -> Result<Vec<Subframe<'_>>, ParseError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    if r.is_empty() {
        return Err(ParseError::Truncated {
            what: "A-MSDU subframe header",
            need: SUBFRAME_HEADER_LEN,
            have: 0,
        });
    }
    while !r.is_empty() {
        let da = MacAddr(r.array("A-MSDU subframe DA")?);
        let sa = MacAddr(r.array("A-MSDU subframe SA")?);
        let len = usize::from(r.u16_be("A-MSDU subframe length")?);
        if len > MAX_MSDU_LEN {
            return Err(ParseError::BadValue {
                what: "A-MSDU subframe length",
                value: len as u64,
            });
        }
        let msdu = r.take(len, "A-MSDU subframe MSDU")?;
        out.push(Subframe { da, sa, msdu });
        if r.is_empty() {
            break;
        }
        let pad = (SUBFRAME_HEADER_LEN + len).next_multiple_of(4) - (SUBFRAME_HEADER_LEN + len);
        let padding = r.take(pad, "A-MSDU subframe padding")?;
        if padding.iter().any(|&b| b != 0) {
            return Err(ParseError::BadValue {
                what: "A-MSDU subframe padding",
                value: padding.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            });
        }
        if r.is_empty() {
            // Padding after the last subframe is not allowed.
            return Err(ParseError::TrailingData {
                what: "A-MSDU (padding after the last subframe)",
                len: pad,
            });
        }
    }
    Ok(out)
}

/// An A-MSDU whose subframes all go from one source to one destination and each carry an
/// Ethernet payload behind the LLC/SNAP header [`SnapHeader::for_ethertype`] writes for it:
/// what an AP can pass on whole, since [`emit_ethernet`] would write the same body again for
/// the subframes' Ethernet frames ([`ethernet_frames`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneFlow {
    /// The subframes' destination address.
    pub da: MacAddr,
    /// The subframes' source address.
    pub sa: MacAddr,
    /// How many subframes (MSDUs) the body carries.
    pub msdus: usize,
}

/// Reads an A-MSDU body as [`OneFlow`], or `None` if it does not parse ([`parse`]), its
/// subframes' addresses differ, or a subframe's MSDU is not an Ethernet payload behind the
/// header [`SnapHeader::for_ethertype`] writes for it, or is of a type in `excluded`.
pub fn one_flow(body: &[u8], excluded: EtherType) -> Option<OneFlow> {
    let subframes = parse(body).ok()?;
    let first = subframes.first()?;
    let (da, sa) = (first.da, first.sa);
    for s in &subframes {
        if s.da != da || s.sa != sa {
            return None;
        }
        let snap = SnapHeader::parse(&mut Reader::new(s.msdu)).ok()?;
        // The header written for a type is one an Ethernet payload is bridged behind.
        if snap != SnapHeader::for_ethertype(snap.ethertype) || snap.ethertype == excluded {
            return None;
        }
    }
    Some(OneFlow {
        da,
        sa,
        msdus: subframes.len(),
    })
}

/// Appends the A-MSDU of `subframes` to `out`: each but the last padded to 4 octets. An MSDU
/// longer than the 16-bit length field can say is cut to 65 535 octets (callers keep MSDUs
/// within [`MAX_MSDU_LEN`]).
pub fn emit<'a>(subframes: impl IntoIterator<Item = Subframe<'a>>, out: &mut Vec<u8>) {
    let start = out.len();
    for (i, s) in subframes.into_iter().enumerate() {
        if i > 0 {
            let padded = (out.len() - start).next_multiple_of(4) + start;
            out.resize(padded, 0);
        }
        let len = u16::try_from(s.msdu.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&s.da.0);
        out.extend_from_slice(&s.sa.0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(s.msdu.get(..usize::from(len)).unwrap_or(s.msdu));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn sub(msdu: &[u8]) -> Subframe<'_> {
        Subframe { da: A, sa: B, msdu }
    }

    #[test]
    fn round_trips_with_padding_between_subframes_only() {
        let (one, two, three) = ([0xaa; 5], [0xbb; 8], [0xcc; 1]);
        let subs = [sub(&one), sub(&two), sub(&three)];
        let mut out = Vec::new();
        emit(subs, &mut out);
        // 19 -> 20, 22 -> 24, 15: 59 octets.
        assert_eq!(out.len(), 20 + 24 + 15);
        assert_eq!(out.len(), body_len([5, 8, 1]));
        assert_eq!(&out[12..14], &[0, 5]);
        assert_eq!(out[19], 0, "padding");
        assert_eq!(parse(&out).unwrap(), subs);
    }

    #[test]
    fn fitting_keeps_an_amsdu_within_its_limit_and_always_takes_one() {
        // 14 + 100 = 114 -> 116 + 114 = 230 -> 232 + 114 = 346.
        assert_eq!(body_len([100, 100, 100]), 346);
        assert_eq!(fitting([100, 100, 100, 100], 346), 3);
        assert_eq!(fitting([100, 100, 100, 100], 345), 2);
        assert_eq!(fitting([100, 100], 229), 1);
        assert_eq!(
            fitting([5000, 10], 3839),
            1,
            "too long alone: it goes alone"
        );
        assert_eq!(fitting([], 3839), 0);
        // Every prefix fitting says fits, fits; one more does not.
        let lens = [1500, 64, 2304, 1, 700, 1500, 1500, 1500];
        for max in [0, 1000, 3839, 4049, 7935, 11_408] {
            let n = fitting(lens, max);
            assert!(n >= 1);
            assert!(n == 1 || body_len(lens[..n].iter().copied()) <= max);
            assert!(n == lens.len() || body_len(lens[..=n].iter().copied()) > max);
        }
    }

    #[test]
    fn ethernet_frames_go_in_and_come_out_with_their_addresses() {
        use crate::wire::EtherType;
        let frame = |dst, src, ethertype, payload: &'static [u8]| EthernetFrame {
            dst,
            src,
            ethertype,
            payload: Bytes::from_static(payload),
        };
        let frames = [
            frame(A, B, EtherType::Ipv4, &[0x45; 9]),
            frame(B, A, EtherType::Ipv6, &[0x60; 40]),
            // An 802.3 length frame: its LLC payload goes as it is.
            frame(A, B, EtherType::from(6), &[0x42, 0x42, 0x03, 1, 2, 3]),
        ];
        let header = data_header(DsDirection::FromAp { bssid: B }, A, 5);
        let mut out = Vec::new();
        emit_ethernet(&header, &frames, &mut out);
        assert_eq!(out.len(), ethernet_mpdu_len(&header, &frames));
        let view = crate::wire::FrameView::new_checked(&out[..]).unwrap();
        let qos = view.qos().unwrap();
        assert!(qos.amsdu_present() && qos.tid() == 5);
        assert_eq!(
            (view.addr1(), view.addr2(), view.addr3()),
            (A, Some(B), Some(B))
        );
        let body = Bytes::from(out).slice(header.buffer_len()..);
        let back: Vec<EthernetFrame> = ethernet_frames(&body)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, frames);
        // A subframe whose MSDU is no LLC payload is an error of its own; the others stand.
        let mut odd = Vec::new();
        emit(
            [
                sub(&[0xaa; 1600][..]),
                sub(&[0xaa, 0xaa, 0x03, 0, 0, 0, 8, 0]),
            ],
            &mut odd,
        );
        let read = ethernet_frames(&Bytes::from(odd)).unwrap();
        assert!(read[0].is_err() && read[1].is_ok());
    }

    #[test]
    fn one_flow_is_what_emit_ethernet_writes_again_for_its_frames() {
        use crate::wire::EtherType;
        let frame = |dst, ethertype, payload: &'static [u8]| EthernetFrame {
            dst,
            src: B,
            ethertype,
            payload: Bytes::from_static(payload),
        };
        let body = |frames: &[EthernetFrame]| {
            let header = data_header(DsDirection::ToAp { bssid: A }, B, 0);
            let mut out = Vec::new();
            emit_ethernet(&header, frames, &mut out);
            Bytes::from(out).slice(header.buffer_len()..)
        };
        let same = [
            frame(A, EtherType::Ipv4, &[0x45; 9]),
            frame(A, EtherType::Ipv6, &[0x60; 40]),
            frame(A, EtherType::Ipx, &[0xff; 3]),
        ];
        let whole = body(&same);
        let flow = one_flow(&whole, EtherType::Eapol).unwrap();
        assert_eq!(
            flow,
            OneFlow {
                da: A,
                sa: B,
                msdus: 3
            }
        );
        let again = body(
            &ethernet_frames(&whole)
                .unwrap()
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
        );
        assert_eq!(again, whole);
        // Not one flow: two destinations; an excluded type; an 802.3 length frame; IPX behind
        // RFC 1042 (kept as an LLC payload); IPv4 behind the bridge tunnel's header (a
        // re-emission would put RFC 1042's there); no A-MSDU at all.
        let two = [same[0].clone(), frame(B, EtherType::Ipv4, &[0x45; 9])];
        assert_eq!(one_flow(&body(&two), EtherType::Eapol), None);
        let eapol = [same[0].clone(), frame(A, EtherType::Eapol, &[1, 3, 0, 0])];
        assert_eq!(one_flow(&body(&eapol), EtherType::Eapol), None);
        assert!(one_flow(&body(&eapol), EtherType::Arp).is_some());
        let length = [
            same[0].clone(),
            frame(A, EtherType::from(3), &[0x42, 0x42, 3]),
        ];
        assert_eq!(one_flow(&body(&length), EtherType::Eapol), None);
        let alone = |msdu: &[u8]| {
            let mut out = Vec::new();
            emit([sub(msdu)], &mut out);
            out
        };
        let rfc1042_ipx = alone(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x81, 0x37, 0xff]);
        assert_eq!(one_flow(&rfc1042_ipx, EtherType::Eapol), None);
        let tunnel_ipv4 = alone(&[0xaa, 0xaa, 0x03, 0, 0, 0xf8, 0x08, 0x00, 0x45]);
        assert_eq!(one_flow(&tunnel_ipv4, EtherType::Eapol), None);
        assert_eq!(one_flow(&[], EtherType::Eapol), None);
    }

    #[test]
    fn refuses_truncation_bad_padding_and_trailing_bytes() {
        let mut out = Vec::new();
        emit([sub(&[1; 5]), sub(&[2; 3])], &mut out);
        assert!(parse(&[]).is_err());
        for cut in 1..out.len() {
            // Cut right after the first MSDU, the rest is a valid one-subframe A-MSDU.
            assert_eq!(parse(&out[..cut]).is_ok(), cut == 19, "cut at {cut}");
        }
        let mut bad_pad = out.clone();
        bad_pad[19] = 1;
        assert!(matches!(
            parse(&bad_pad),
            Err(ParseError::BadValue { what, .. }) if what.contains("padding")
        ));
        let mut one = Vec::new();
        emit([sub(&[1; 5])], &mut one);
        one.push(0);
        assert!(parse(&one).is_err(), "padding after the last subframe");
        let mut long = Vec::new();
        emit([sub(&[0; MAX_MSDU_LEN + 1])], &mut long);
        assert!(matches!(
            parse(&long),
            Err(ParseError::BadValue { what, .. }) if what.contains("length")
        ));
    }
}
