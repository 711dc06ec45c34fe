//! A-MSDUs inside the medium's A-MPDUs (IEEE 802.11-2020 9.3.2.2.2, 10.12.1).
//!
//! Model: the medium plays the radios' lower MAC, as for A-MPDUs. Data frames that nodes hand
//! over one by one (one MSDU each) and that share their A-MSDU key (receiver, transmitter,
//! BSSID, DS bits and TID; unprotected, not null, no HT Control) go as one QoS Data MPDU with
//! the A-MSDU Present bit: the first frame's header (QoS Data, addr3 the BSSID, its sequence
//! number), then a subframe per MSDU with its DA and SA, up to the receiver's maximum A-MSDU
//! length (HT 3839 octets, the HT Capabilities vwifi sends; VHT/HE a whole 11 454-octet MPDU,
//! the VHT Capabilities' maximum MPDU length). Protected frames are never aggregated here: the
//! medium has no keys. The stations and APs build protected A-MSDUs themselves, before
//! encryption (`Station::send_data_batch`, the soft AP's onward path); those MPDUs already
//! have the A-MSDU Present bit and go through the medium as they are.
//!
//! The receiving side parses the A-MSDU ([`crate::wire::amsdu::parse`]) and checks every
//! subframe's DA and SA against the MPDU's addresses (from an AP: DA must be the receiver; to
//! an AP: SA must be the transmitter; between stations both): a subframe that fails is dropped
//! (9.3.2.2.2, and the A-MSDU injection defences of mac80211). Each subframe that passes is the
//! MSDU of one of the frames the sender handed over, and its receiver gets that frame.

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::phy::Standard;
use crate::wire::amsdu::{self, Subframe};
use crate::wire::{FcFlags, FrameType, FrameView};

/// QoS Data header without addr4: frame control, duration, three addresses, sequence
/// control, QoS Control.
pub(super) const HEADER_LEN: usize = 26;

/// The QoS Control A-MSDU Present bit (9.2.4.5.1).
const AMSDU_PRESENT: u8 = 0x80;

/// What frames must share to go in one A-MSDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    to_ds: bool,
    from_ds: bool,
    ra: MacAddr,
    ta: MacAddr,
    bssid: MacAddr,
    tid: u8,
}

/// One frame's part in an A-MSDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Msdu {
    /// Frames of one key go together.
    pub(super) key: Key,
    da: MacAddr,
    sa: MacAddr,
    /// Where the MSDU (the frame body) starts.
    body_at: usize,
}

/// The A-MSDU part of `frame`, if it can go in an A-MSDU: an unprotected Data or QoS Data
/// frame (not null, not already an A-MSDU, no HT Control, not 4-address, not fragmented) whose
/// MSDU fits a subframe.
pub(super) fn msdu_of(frame: &[u8]) -> Option<Msdu> {
    let view = FrameView::new_checked(frame).ok()?;
    let fc = view.frame_control();
    let FrameType::Data(subtype) = fc.frame_type else {
        return None;
    };
    let f = fc.flags;
    if subtype.is_null()
        || !(subtype == crate::wire::DataSubtype::Data
            || subtype == crate::wire::DataSubtype::QosData)
        || f.protected()
        || f.order()
        || f.more_fragments()
        || (f.to_ds() && f.from_ds())
    {
        return None;
    }
    let qos = view.qos();
    if qos.is_some_and(|q| q.amsdu_present() || q.ack_policy() != 0) {
        return None;
    }
    if view.sequence().is_some_and(|s| s.fragment != 0) {
        return None;
    }
    let (ra, ta, a3) = (view.addr1(), view.addr2()?, view.addr3()?);
    let (bssid, da, sa) = match (f.to_ds(), f.from_ds()) {
        (false, true) => (ta, ra, a3),
        (true, false) => (ra, a3, ta),
        _ => (a3, ra, ta),
    };
    let body_at = view.header_len();
    if frame.len().saturating_sub(body_at) > amsdu::MAX_MSDU_LEN {
        return None;
    }
    Some(Msdu {
        key: Key {
            to_ds: f.to_ds(),
            from_ds: f.from_ds(),
            ra,
            ta,
            bssid,
            tid: qos.map_or(0, |q| q.tid()),
        },
        da,
        sa,
        body_at,
    })
}

/// The body length of `frame` as an A-MSDU subframe's MSDU.
pub(super) fn msdu_len(frame: &[u8], msdu: &Msdu) -> usize {
    frame.len().saturating_sub(msdu.body_at)
}

/// The longest A-MSDU a receiver of `standard` takes, octets (see the module documentation).
pub(super) const fn max_amsdu_len(standard: Standard) -> usize {
    match standard {
        Standard::Legacy => 0,
        Standard::Ht => 3839,
        Standard::Vht | Standard::He => 11_454 - HEADER_LEN - super::phy::FCS_LEN,
    }
}

/// The length (without FCS) of the A-MSDU MPDU carrying MSDUs of `msdu_lens` octets.
pub(super) fn mpdu_len(msdu_lens: impl IntoIterator<Item = usize>) -> usize {
    HEADER_LEN + amsdu::body_len(msdu_lens)
}

/// The A-MSDU MPDU of `frames` (each with its [`Msdu`], all of one key, at least one): the
/// first frame's header as a QoS Data header with the A-MSDU Present bit, addr3 the BSSID, the
/// Retry bit if `retry`; a subframe per frame.
pub(super) fn build(frames: &[(&Bytes, Msdu)], retry: bool) -> Option<Bytes> {
    let (lead, first) = frames.first()?;
    let mut out = Vec::with_capacity(mpdu_len(frames.iter().map(|(f, m)| msdu_len(f, m))));
    // Type data (2), subtype QoS Data (8).
    out.push(0x88);
    let flags = lead.get(1)? & !(FcFlags::RETRY | FcFlags::ORDER | FcFlags::MORE_FRAGMENTS);
    out.push(if retry { flags | FcFlags::RETRY } else { flags });
    out.extend_from_slice(lead.get(2..4)?);
    out.extend_from_slice(&first.key.ra.0);
    out.extend_from_slice(&first.key.ta.0);
    out.extend_from_slice(&first.key.bssid.0);
    out.extend_from_slice(lead.get(22..24)?);
    out.push((first.key.tid & 0x0f) | AMSDU_PRESENT);
    out.push(0);
    let subframes: Option<Vec<Subframe<'_>>> = frames
        .iter()
        .map(|(f, m)| {
            Some(Subframe {
                da: m.da,
                sa: m.sa,
                msdu: f.get(m.body_at..)?,
            })
        })
        .collect();
    amsdu::emit(subframes?, &mut out);
    Some(Bytes::from(out))
}

/// Why a received A-MSDU subframe was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// The MPDU is not a well-formed A-MSDU.
    Malformed,
    /// The subframe's DA or SA contradicts the MPDU's addresses.
    Addresses,
}

/// De-aggregates a received A-MSDU MPDU: for each subframe, its DA, SA and MSDU if its
/// addresses agree with the MPDU's (see the module documentation).
pub(super) fn deaggregate(mpdu: &[u8]) -> Result<Vec<Result<Subframe<'_>, Refused>>, Refused> {
    let view = FrameView::new_checked(mpdu).map_err(|_| Refused::Malformed)?;
    if !view.qos().is_some_and(|q| q.amsdu_present()) {
        return Err(Refused::Malformed);
    }
    let f = view.frame_control().flags;
    let (ra, ta) = (view.addr1(), view.addr2().ok_or(Refused::Malformed)?);
    let body = mpdu.get(view.header_len()..).ok_or(Refused::Malformed)?;
    let subframes = amsdu::parse(body).map_err(|_| Refused::Malformed)?;
    Ok(subframes
        .into_iter()
        .map(|s| {
            let ok = match (f.to_ds(), f.from_ds()) {
                (false, true) => s.da == ra,
                (true, false) => s.sa == ta,
                (false, false) => s.da == ra && s.sa == ta,
                (true, true) => false,
            };
            if ok {
                Ok(s)
            } else {
                Err(Refused::Addresses)
            }
        })
        .collect())
}

/// Whether subframe `s` carries the MSDU of `frame` (part `m`).
pub(super) fn carries(s: &Subframe<'_>, frame: &[u8], m: &Msdu) -> bool {
    s.da == m.da && s.sa == m.sa && frame.get(m.body_at..) == Some(s.msdu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{DataFrame, DataSubtype, FrameControl, Header, QosControl, SequenceControl};

    const AP: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);
    const STA: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const FAR: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn data(flags: u8, a1: MacAddr, a2: MacAddr, a3: MacAddr, seq: u16, body: &[u8]) -> Bytes {
        let fc = FrameControl::new(FrameType::Data(DataSubtype::Data), FcFlags(flags));
        let mut header = Header::new(fc, a1, a2, a3);
        header.sequence = SequenceControl::new(seq);
        let mut out = Vec::new();
        DataFrame {
            header,
            payload: Bytes::copy_from_slice(body),
        }
        .emit(&mut out);
        Bytes::from(out)
    }

    #[test]
    fn frames_from_an_ap_become_one_amsdu_and_come_apart_again() {
        let one = data(FcFlags::FROM_DS, STA, AP, FAR, 7, &[0xaa; 40]);
        let two = data(FcFlags::FROM_DS, STA, AP, AP, 8, &[0xbb; 33]);
        let (m1, m2) = (msdu_of(&one).unwrap(), msdu_of(&two).unwrap());
        assert_eq!(m1.key, m2.key);
        let mpdu = build(&[(&one, m1), (&two, m2)], true).unwrap();
        assert_eq!(mpdu.len(), mpdu_len([40, 33]));
        let view = FrameView::new_checked(&mpdu[..]).unwrap();
        let qos = view.qos().unwrap();
        assert!(qos.amsdu_present() && qos.tid() == 0 && qos.ack_policy() == 0);
        assert_eq!(view.addr3(), Some(AP), "addr3 is the BSSID");
        assert_eq!(view.sequence().unwrap().sequence, 7);
        assert!(view.frame_control().flags.retry());
        let subs = deaggregate(&mpdu).unwrap();
        assert_eq!(subs.len(), 2);
        let s1 = subs[0].unwrap();
        assert_eq!((s1.da, s1.sa), (STA, FAR));
        assert!(carries(&s1, &one, &m1) && !carries(&s1, &two, &m2));
        assert!(carries(&subs[1].unwrap(), &two, &m2));
    }

    #[test]
    fn a_subframe_for_another_da_or_from_another_sa_is_refused() {
        // From an AP: a subframe whose DA is not the receiver.
        let one = data(FcFlags::FROM_DS, STA, AP, FAR, 1, &[1; 20]);
        let mut m = msdu_of(&one).unwrap();
        m.da = FAR;
        let mpdu = build(&[(&one, msdu_of(&one).unwrap()), (&one, m)], false).unwrap();
        let subs = deaggregate(&mpdu).unwrap();
        assert!(subs[0].is_ok());
        assert_eq!(subs[1], Err(Refused::Addresses));
        // To an AP: a subframe whose SA is not the transmitter.
        let up = data(FcFlags::TO_DS, AP, STA, FAR, 1, &[1; 20]);
        let mut m = msdu_of(&up).unwrap();
        m.sa = FAR;
        let mpdu = build(&[(&up, m)], false).unwrap();
        assert_eq!(deaggregate(&mpdu).unwrap(), [Err(Refused::Addresses)]);
        // Not an A-MSDU at all, or cut short.
        assert_eq!(deaggregate(&up), Err(Refused::Malformed));
        assert_eq!(deaggregate(&mpdu[..30]), Err(Refused::Malformed));
    }

    #[test]
    fn protected_null_and_no_ack_frames_stay_single() {
        let protected = data(
            FcFlags::TO_DS | FcFlags::PROTECTED,
            AP,
            STA,
            FAR,
            1,
            &[0; 16],
        );
        assert!(msdu_of(&protected).is_none());
        let fc = FrameControl::new(
            FrameType::Data(DataSubtype::QosData),
            FcFlags(FcFlags::TO_DS),
        );
        let mut header = Header::new(fc, AP, STA, FAR);
        header.qos = Some(QosControl(0x0020));
        let mut no_ack = Vec::new();
        DataFrame {
            header,
            payload: Bytes::from_static(&[0; 8]),
        }
        .emit(&mut no_ack);
        assert!(msdu_of(&no_ack).is_none());
        assert!(msdu_of(&[0x08, 0x01]).is_none());
        // Different TAs do not share a key.
        let a = data(FcFlags::TO_DS, AP, STA, FAR, 1, &[0; 8]);
        let b = data(FcFlags::TO_DS, AP, FAR, STA, 1, &[0; 8]);
        assert_ne!(msdu_of(&a).unwrap().key, msdu_of(&b).unwrap().key);
    }
}
