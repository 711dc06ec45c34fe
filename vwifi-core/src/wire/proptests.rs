//! Property tests of the wire format: `parse(emit(x)) == x` for every `Repr`, and no parser
//! panics on arbitrary bytes (for accepted frames, emit also reproduces the input exactly).

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::codes::{AkmSuite, AuthAlgorithm, CipherSuite, ElementId, ReasonCode, StatusCode};
use super::control::{ControlFrame, PsPoll};
use super::data::DataFrame;
use super::frame::Frame;
use super::frame_control::{CtrlSubtype, FcFlags, FrameControl, FrameType, MgmtSubtype};
use super::header::{FrameView, Header, QosControl, SequenceControl};
use super::ie::{Element, ElementList, Elements, Rate, Ssid};
use super::llc::{DsDirection, EtherType, EthernetFrame, SnapHeader};
use super::mgmt::{
    AssocRequest, AssocResponse, Authentication, Beacon, CapabilityInfo, Deauthentication,
    MgmtBody, MgmtFrame, ProbeRequest, ReassocRequest,
};
use super::rsn::{RsnCapabilities, Rsne};
use super::tim::Tim;
use super::Reader;
use crate::addr::MacAddr;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn sequence() -> impl Strategy<Value = SequenceControl> {
    any::<u16>().prop_map(SequenceControl::from_u16)
}

fn cipher() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        (0u8..16).prop_map(|t| CipherSuite::from_bytes([0x00, 0x0f, 0xac, t])),
        any::<[u8; 4]>().prop_map(CipherSuite::from_bytes),
    ]
}

fn akm() -> impl Strategy<Value = AkmSuite> {
    prop_oneof![
        (0u8..24).prop_map(|t| AkmSuite::from_bytes([0x00, 0x0f, 0xac, t])),
        any::<[u8; 4]>().prop_map(AkmSuite::from_bytes),
    ]
}

prop_compose! {
    fn rsne()(
        version in any::<u16>(),
        present in 0usize..=6,
        group in cipher(),
        pairwise in vec(cipher(), 0..5),
        akms in vec(akm(), 0..5),
        caps in any::<u16>(),
        pmkids in vec(any::<[u8; 16]>(), 0..4),
        mgmt in cipher(),
    ) -> Rsne {
        Rsne {
            version,
            group_cipher: (present >= 1).then_some(group),
            pairwise_ciphers: (present >= 2).then_some(pairwise),
            akm_suites: (present >= 3).then_some(akms),
            capabilities: (present >= 4).then_some(RsnCapabilities(caps)),
            pmkids: (present >= 5).then_some(pmkids),
            group_mgmt_cipher: (present >= 6).then_some(mgmt),
        }
    }
}

fn tim() -> impl Strategy<Value = Tim> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        vec(any::<u8>(), 1..=251),
    )
        .prop_map(|(dtim_count, dtim_period, bitmap_control, pvb)| Tim {
            dtim_count,
            dtim_period,
            bitmap_control,
            partial_virtual_bitmap: pvb,
        })
}

/// IDs that have a typed [`Element`] variant, so `Other` must avoid them.
const TYPED_IDS: [u8; 10] = [0, 1, 3, 5, 45, 48, 50, 61, 191, 255];

fn element() -> impl Strategy<Value = Element> {
    let rates = || vec(any::<u8>().prop_map(Rate), 0..=12);
    prop_oneof![
        bytes(32).prop_map(|b| Element::Ssid(Ssid::new(&b).unwrap_or_default())),
        rates().prop_map(Element::SupportedRates),
        rates().prop_map(Element::ExtendedSupportedRates),
        any::<u8>().prop_map(|channel| Element::DsParameterSet { channel }),
        tim().prop_map(Element::Tim),
        rsne().prop_map(Element::Rsn),
        bytes(255).prop_map(Element::HtCapabilities),
        bytes(255).prop_map(Element::HtOperation),
        bytes(255).prop_map(Element::VhtCapabilities),
        (any::<u8>(), bytes(254)).prop_map(|(ext_id, data)| Element::Extension { ext_id, data }),
        (
            any::<u8>().prop_filter("typed id", |id| !TYPED_IDS.contains(id)),
            bytes(255)
        )
            .prop_map(|(id, data)| Element::Other {
                id: ElementId::from(id),
                data
            }),
    ]
}

fn elements() -> impl Strategy<Value = ElementList> {
    vec(element(), 0..6).prop_map(ElementList)
}

/// A header whose optional fields agree with its frame control.
fn header_for(
    fc: FrameControl,
    a: [MacAddr; 4],
    seq: SequenceControl,
    dur: u16,
    qos: u16,
    htc: u32,
) -> Header {
    let mut h = Header::new(fc, a[0], a[1], a[2]);
    h.duration = dur;
    h.sequence = seq;
    h.addr4 = h.addr4.map(|_| a[3]);
    h.qos = h.qos.map(|_| QosControl(qos));
    h.ht_control = h.ht_control.map(|_| htc);
    h
}

fn header(
    frame_type: impl Strategy<Value = FrameType>,
    flags: impl Strategy<Value = u8>,
) -> impl Strategy<Value = Header> {
    (
        frame_type,
        flags,
        [mac(), mac(), mac(), mac()],
        sequence(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
    )
        .prop_map(|(ty, flags, a, seq, dur, qos, htc)| {
            header_for(FrameControl::new(ty, FcFlags(flags)), a, seq, dur, qos, htc)
        })
}

fn capability() -> impl Strategy<Value = CapabilityInfo> {
    any::<u16>().prop_map(CapabilityInfo)
}

fn beacon() -> impl Strategy<Value = Beacon> {
    (any::<u64>(), any::<u16>(), capability(), elements()).prop_map(
        |(timestamp, beacon_interval, capability, elements)| Beacon {
            timestamp,
            beacon_interval,
            capability,
            elements,
        },
    )
}

fn assoc_response() -> impl Strategy<Value = AssocResponse> {
    (capability(), any::<u16>(), any::<u16>(), elements()).prop_map(
        |(capability, status, association_id, elements)| AssocResponse {
            capability,
            status: status.into(),
            association_id,
            elements,
        },
    )
}

fn deauth() -> impl Strategy<Value = Deauthentication> {
    (any::<u16>(), elements()).prop_map(|(reason, elements)| Deauthentication {
        reason: ReasonCode::from(reason),
        elements,
    })
}

/// Bodies of unprotected frames, by modelled subtype.
fn typed_body() -> impl Strategy<Value = MgmtBody> {
    prop_oneof![
        beacon().prop_map(MgmtBody::Beacon),
        beacon().prop_map(MgmtBody::ProbeResponse),
        elements().prop_map(|elements| MgmtBody::ProbeRequest(ProbeRequest { elements })),
        (any::<u16>(), any::<u16>(), any::<u16>(), bytes(64)).prop_map(
            |(alg, seq, status, body)| {
                MgmtBody::Authentication(Authentication {
                    algorithm: AuthAlgorithm::from(alg),
                    transaction_seq: seq,
                    status: StatusCode::from(status),
                    body,
                })
            }
        ),
        (capability(), any::<u16>(), elements()).prop_map(
            |(capability, listen_interval, elements)| {
                MgmtBody::AssocRequest(AssocRequest {
                    capability,
                    listen_interval,
                    elements,
                })
            }
        ),
        (capability(), any::<u16>(), mac(), elements()).prop_map(
            |(capability, listen_interval, current_ap, elements)| {
                MgmtBody::ReassocRequest(ReassocRequest {
                    capability,
                    listen_interval,
                    current_ap,
                    elements,
                })
            }
        ),
        assoc_response().prop_map(MgmtBody::AssocResponse),
        assoc_response().prop_map(MgmtBody::ReassocResponse),
        deauth().prop_map(MgmtBody::Deauthentication),
        deauth().prop_map(MgmtBody::Disassociation),
    ]
}

fn mgmt_frame() -> impl Strategy<Value = MgmtFrame> {
    let unprotected = (
        header(
            Just(FrameType::Management(MgmtSubtype::Beacon)),
            any::<u8>().prop_map(|f| f & !FcFlags::PROTECTED),
        ),
        typed_body(),
    );
    // Unmodelled subtypes, or any subtype with the Protected bit, keep their body raw.
    let raw = (
        header(
            Just(FrameType::Management(MgmtSubtype::Beacon)),
            any::<u8>(),
        ),
        0u8..16,
        bytes(64),
    )
        .prop_filter_map(
            "modelled subtype of unprotected frame",
            |(mut header, subtype, body)| {
                let protected = header.flags().protected();
                let modelled = matches!(subtype, 0..=5 | 8 | 10..=12);
                (protected || !modelled).then(|| {
                    header.frame_control.frame_type = FrameType::Management(subtype.into());
                    (
                        header,
                        MgmtBody::Other {
                            subtype: subtype.into(),
                            body,
                        },
                    )
                })
            },
        );
    prop_oneof![unprotected, raw].prop_map(|(mut header, body)| {
        header.frame_control.frame_type = FrameType::Management(body.subtype());
        MgmtFrame { header, body }
    })
}

fn data_frame() -> impl Strategy<Value = DataFrame> {
    (
        header(
            (0u8..16).prop_map(|s| FrameType::Data(s.into())),
            any::<u8>(),
        ),
        bytes(64),
    )
        .prop_map(|(header, payload)| DataFrame {
            header,
            payload: Bytes::from(payload),
        })
}

fn control_frame() -> impl Strategy<Value = ControlFrame> {
    let flags = || any::<u8>().prop_map(FcFlags);
    prop_oneof![
        (flags(), any::<u16>(), mac(), mac()).prop_map(|(flags, id, bssid, ta)| {
            ControlFrame::PsPoll(PsPoll {
                flags,
                id,
                bssid,
                ta,
            })
        }),
        (flags(), any::<u16>(), mac(), mac()).prop_map(|(flags, duration, ra, ta)| {
            ControlFrame::Rts {
                flags,
                duration,
                ra,
                ta,
            }
        }),
        (flags(), any::<u16>(), mac()).prop_map(|(flags, duration, ra)| ControlFrame::Cts {
            flags,
            duration,
            ra
        }),
        (flags(), any::<u16>(), mac()).prop_map(|(flags, duration, ra)| ControlFrame::Ack {
            flags,
            duration,
            ra
        }),
        (
            (0u8..16).prop_filter("modelled", |s| !(10..=13).contains(s)),
            flags(),
            bytes(40)
        )
            .prop_map(|(s, flags, rest)| ControlFrame::Other {
                subtype: CtrlSubtype::from(s),
                flags,
                rest
            }),
    ]
}

fn unknown_frame() -> impl Strategy<Value = Frame> {
    (any::<u16>(), bytes(40)).prop_map(|(fc, rest)| {
        let [lo, hi] = fc.to_le_bytes();
        // Either a non-zero protocol version or the extension type (3).
        let lo = if lo & 0x03 == 0 { lo | 0x0c } else { lo };
        let mut raw = vec![lo, hi];
        raw.extend_from_slice(&rest);
        Frame::Unknown(Bytes::from(raw))
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        mgmt_frame().prop_map(Frame::Management),
        data_frame().prop_map(Frame::Data),
        control_frame().prop_map(Frame::Control),
        unknown_frame(),
    ]
}

fn emitted(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

proptest! {
    #[test]
    fn header_round_trips(h in header((0u8..4, 0u8..16).prop_map(|(t, s)| FrameType::from_bits(t & 2, s)), any::<u8>())) {
        let out = emitted(|o| h.emit(o));
        prop_assert_eq!(out.len(), h.buffer_len());
        let mut r = Reader::new(&out);
        prop_assert_eq!(Header::parse(&mut r)?, h);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn element_round_trips(e in element()) {
        let out = emitted(|o| e.emit(o));
        prop_assert_eq!(out.len(), e.buffer_len());
        prop_assert_eq!(ElementList::parse(&out)?, ElementList(vec![e]));
    }

    #[test]
    fn element_list_round_trips(list in elements()) {
        let out = emitted(|o| list.emit(o));
        prop_assert_eq!(out.len(), list.buffer_len());
        prop_assert_eq!(ElementList::parse(&out)?, list);
    }

    #[test]
    fn rsne_round_trips(rsne in rsne()) {
        let out = emitted(|o| rsne.emit_body(o));
        prop_assert_eq!(out.len(), rsne.body_len());
        prop_assert_eq!(Rsne::parse(&out)?, rsne);
    }

    #[test]
    fn tim_round_trips(tim in tim()) {
        let out = emitted(|o| tim.emit_body(o));
        prop_assert_eq!(out.len(), tim.body_len());
        prop_assert_eq!(Tim::parse(&out)?, tim);
    }

    #[test]
    fn tim_from_aids_indicates_exactly_those_aids(aids in vec(1u16..=2007, 0..20), group in any::<bool>()) {
        let tim = Tim::from_aids(0, 1, group, aids.iter().copied());
        let mut expected = aids.clone();
        expected.sort_unstable();
        expected.dedup();
        prop_assert_eq!(tim.aids().collect::<Vec<_>>(), expected);
        prop_assert_eq!(tim.group_traffic(), group);
        prop_assert_eq!(Tim::parse(&emitted(|o| tim.emit_body(o)))?, tim);
    }

    #[test]
    fn mgmt_frame_round_trips(f in mgmt_frame()) {
        let out = emitted(|o| f.emit(o));
        prop_assert_eq!(out.len(), f.buffer_len());
        prop_assert_eq!(MgmtFrame::parse(&out)?, f);
    }

    #[test]
    fn data_frame_round_trips(f in data_frame()) {
        let out = emitted(|o| f.emit(o));
        prop_assert_eq!(out.len(), f.buffer_len());
        prop_assert_eq!(DataFrame::parse(&out)?, f.clone());
        prop_assert_eq!(DataFrame::parse_bytes(&Bytes::from(out))?, f);
    }

    #[test]
    fn control_frame_round_trips(f in control_frame()) {
        let out = emitted(|o| f.emit(o));
        prop_assert_eq!(out.len(), f.buffer_len());
        prop_assert_eq!(ControlFrame::parse(&out)?, f);
    }

    #[test]
    fn frame_round_trips(f in frame()) {
        let out = f.to_vec();
        prop_assert_eq!(out.len(), f.buffer_len());
        prop_assert_eq!(Frame::parse(&out)?, f.clone());
        prop_assert_eq!(Frame::parse_bytes(&Bytes::from(out))?, f);
    }

    #[test]
    fn snap_header_round_trips(oui in any::<[u8; 3]>(), et in any::<u16>()) {
        let snap = SnapHeader { oui, ethertype: EtherType::from(et) };
        let out = emitted(|o| snap.emit(o));
        prop_assert_eq!(out.len(), SnapHeader::LEN);
        prop_assert_eq!(SnapHeader::parse(&mut Reader::new(&out))?, snap);
    }

    #[test]
    fn ethernet_frame_round_trips(dst in mac(), src in mac(), et in any::<u16>(), payload in bytes(64)) {
        let eth = EthernetFrame { dst, src, ethertype: et.into(), payload: Bytes::from(payload) };
        let out = emitted(|o| eth.emit(o));
        prop_assert_eq!(out.len(), eth.buffer_len());
        prop_assert_eq!(EthernetFrame::parse(&out)?, eth);
    }

    #[test]
    fn ethernet_survives_80211_in_both_directions(
        dst in mac(), src in mac(), bssid in mac(), et in EtherType::MIN_TYPE.., payload in bytes(64),
        to_ap in any::<bool>(), tid in proptest::option::of(0u8..8),
    ) {
        let eth = EthernetFrame { dst, src, ethertype: et.into(), payload: Bytes::from(payload) };
        let dir = if to_ap { DsDirection::ToAp { bssid } } else { DsDirection::FromAp { bssid } };
        let data = eth.to_data(dir, tid.map(QosControl::with_tid));
        let on_air = Frame::parse(&Frame::Data(data).to_vec())?;
        let Frame::Data(data) = on_air else {
            return Err(TestCaseError::fail("not a data frame"));
        };
        prop_assert_eq!(data.header.bssid(), Some(bssid));
        prop_assert_eq!(EthernetFrame::from_data(&data)?, eth);
    }

    #[test]
    fn frame_parse_never_panics_and_emit_reproduces_input(buf in bytes(300)) {
        if let Ok(frame) = Frame::parse(&buf) {
            prop_assert_eq!(frame.buffer_len(), buf.len());
            prop_assert_eq!(frame.to_vec(), buf.clone());
            prop_assert_eq!(Frame::parse_bytes(&Bytes::from(buf))?, frame);
        }
    }

    #[test]
    fn mgmt_prefix_with_random_body_never_panics(subtype in 0u8..16, flags in any::<u8>(), body in bytes(300)) {
        let fc = FrameControl::new(FrameType::Management(subtype.into()), FcFlags(flags));
        let mut buf = emitted(|o| Header::new(fc, MacAddr::ZERO, MacAddr::ZERO, MacAddr::ZERO).emit(o));
        buf.extend_from_slice(&body);
        if let Ok(frame) = Frame::parse(&buf) {
            prop_assert_eq!(frame.to_vec(), buf);
        }
    }

    #[test]
    fn element_parsers_never_panic(buf in bytes(300)) {
        let mut n = 0;
        for raw in Elements::new(&buf) {
            n += 1;
            if let Ok(raw) = raw {
                let _ = Element::parse(raw);
            }
        }
        prop_assert!(n <= buf.len());
        if let Ok(list) = ElementList::parse(&buf) {
            prop_assert_eq!(emitted(|o| list.emit(o)), buf.clone());
        }
        let _ = Rsne::parse(&buf);
        let _ = Tim::parse(&buf);
    }

    #[test]
    fn view_and_conversions_never_panic(buf in bytes(80)) {
        if let Ok(view) = FrameView::new_checked(&buf[..]) {
            let _ = (view.frame_control(), view.duration(), view.addr1(), view.addr2(), view.addr3());
            let _ = (view.sequence(), view.addr4(), view.qos(), view.payload());
        }
        if let Ok(Frame::Data(data)) = Frame::parse(&buf) {
            let _ = EthernetFrame::from_data(&data);
        }
        if let Ok(eth) = EthernetFrame::parse(&buf) {
            let _ = eth.to_data(DsDirection::ToAp { bssid: MacAddr::ZERO }, None);
        }
    }
}
