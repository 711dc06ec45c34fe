//! Fuzz entry points: one function per target in `fuzz/fuzz_targets/`, each a plain function
//! of bytes, so that the same code runs under libFuzzer (`cargo fuzz run <target>`, nightly)
//! and in the stable corpus replay test (`vwifi-core/tests/fuzz_corpus.rs`).
//!
//! Each entry point checks more than "no panic": whatever a parser accepts must survive an
//! emit/parse round trip unchanged.

use core::time::Duration;

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::addr::MacAddr;
use crate::crypto::{Gtk, Pmk};
use crate::handshake::{
    Authenticator, AuthenticatorConfig, Output, RetryPolicy, Supplicant, SupplicantConfig,
};
use crate::offload;
use crate::proto;
use crate::time::Instant;
use crate::wire::{self, eapol, ElementList, Frame};

/// A fuzz target: its name (the directory under `fuzz/corpus/`) and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// The fuzz targets.
pub const TARGETS: [Target; 6] = [
    ("frame", frame),
    ("elements", elements),
    ("eapol_key", eapol_key),
    ("guest_proto", guest_proto),
    ("inband_frame", inband_frame),
    ("vnet_offload", vnet_offload),
];

/// Any bytes as a guest's frame behind a virtio-net header (the first 10 bytes):
/// [`offload::VnetHeader::parse`] and [`offload::segment`] never panic, an accepted header
/// re-emits byte for byte, and every segment of a GSO request fits the MSDU limit.
pub fn vnet_offload(data: &[u8]) {
    let Ok(hdr) = offload::VnetHeader::parse(data) else {
        return;
    };
    assert_eq!(
        hdr.to_bytes(),
        data.get(..offload::VNET_HDR_LEN).unwrap_or_default(),
        "an accepted header must re-emit byte for byte"
    );
    let frame = data.get(offload::VNET_HDR_LEN..).unwrap_or_default();
    let mut scratch = Vec::new();
    let mut total = 0;
    let result = offload::segment(
        &hdr,
        frame,
        offload::MAX_MSDU_FRAME_LEN,
        &mut scratch,
        |seg| {
            if hdr.gso_type != offload::GsoType::None {
                assert!(seg.len() <= offload::MAX_MSDU_FRAME_LEN);
            }
            total += 1;
        },
    );
    if let Ok(n) = result {
        assert_eq!(n, total);
    }
}

/// Any bytes as an 802.11 frame: [`Frame::parse`] never panics, and an accepted frame emits
/// the same bytes back.
pub fn frame(data: &[u8]) {
    if let Ok(f) = Frame::parse(data) {
        let out = f.to_vec();
        assert_eq!(out, data, "an accepted frame must re-emit byte for byte");
        let again = Frame::parse_bytes(&Bytes::copy_from_slice(&out));
        assert_eq!(again.as_ref(), Ok(&f));
    }
}

/// Any bytes as a list of information elements.
pub fn elements(data: &[u8]) {
    // The iterator and the typed list must agree on acceptance.
    let raw_ok = wire::Elements::new(data).all(|e| e.is_ok());
    match ElementList::parse(data) {
        Ok(list) => {
            assert!(raw_ok, "typed parse accepted what the raw iterator refused");
            let mut out = Vec::with_capacity(list.buffer_len());
            list.emit(&mut out);
            assert_eq!(out, data, "accepted elements must re-emit byte for byte");
        }
        Err(_) => {
            for e in wire::Elements::new(data).flatten() {
                let _ = wire::Element::parse(e);
            }
        }
    }
}

/// Any bytes as an EAPOL-Key frame, its key data, and input to both handshake roles.
pub fn eapol_key(data: &[u8]) {
    if let Ok(key) = eapol::KeyFrame::parse(data) {
        let out = key.to_vec();
        assert_eq!(eapol::KeyFrame::parse(&out).as_ref(), Ok(&key));
        let _ = eapol::parse_key_data(&key.key_data);
    }
    let _ = eapol::EapolHeader::parse(data);
    let _ = eapol::parse_key_data(data);
    // Both state machines take untrusted EAPOL frames: they must refuse junk without panicking.
    let (mut sup, mut auth, mut rng) = fresh_pair(Instant::ZERO);
    let _ = sup.handle_eapol(Instant::ZERO, data, &mut rng);
    let _ = auth.handle_eapol(Instant::ZERO, data);
    while sup.poll_output().is_some() {}
    while auth.poll_output().is_some() {}
}

/// Any bytes as guest protocol input, whole and as a stream in two chunks.
pub fn guest_proto(data: &[u8]) {
    if let Ok((msg, used)) = proto::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        proto::encode(&msg, &mut out).expect("a decoded message must encode");
        let (again, _) = proto::decode(&out).expect("an encoded message must decode");
        assert_eq!(again, msg);
    }
    let mut decoder = proto::Decoder::new();
    let (a, b) = data.split_at(data.len() / 2);
    for chunk in [a, b] {
        if decoder.feed(chunk).is_err() {
            return;
        }
        // Drain every whole message; a bad body is skipped, a framing error stops the stream.
        for _ in 0..=data.len() {
            match decoder.next_message() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.is_framing() => return,
                Err(_) => {}
            }
        }
    }
}

/// Any bytes as an Ethernet frame on a guest's link ([`proto::inband::classify`]): never
/// panics, and a control frame's message re-frames and classifies back to the same message.
pub fn inband_frame(data: &[u8]) {
    use proto::inband::{classify, frame, InbandFrame};
    if let InbandFrame::Control {
        dst,
        src,
        msg: Ok(msg),
    } = classify(data)
    {
        // A message longer than one standard frame is refused on send, never cut.
        if let Ok(out) = frame(&msg, src, dst) {
            assert_eq!(
                classify(&out),
                InbandFrame::Control {
                    dst,
                    src,
                    msg: Ok(msg)
                }
            );
        }
    }
}

/// The authenticator's address used by [`fresh_pair`] and [`handshake_frames`].
pub const AA: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
/// The supplicant's address used by [`fresh_pair`] and [`handshake_frames`].
pub const SPA: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

/// The RSNE of a WPA2-PSK BSS with CCMP-128, as emitted by [`wire::Rsne::wpa2_psk`].
pub fn wpa2_rsne() -> Vec<u8> {
    let mut out = Vec::new();
    wire::Element::Rsn(wire::Rsne::wpa2_psk()).emit(&mut out);
    out
}

/// A supplicant and an authenticator with the same fixed PMK, before message 1, and the RNG
/// that drives them.
pub fn fresh_pair(now: Instant) -> (Supplicant, Authenticator, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);
    let pmk = Pmk::from_bytes([0x42; 32]);
    let rsne = wpa2_rsne();
    let sup = Supplicant::new(
        SupplicantConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk.clone(),
            ap_rsne: rsne.clone(),
            own_rsne: rsne.clone(),
            timeout: Duration::from_secs(5),
        },
        now,
    )
    .expect("the WPA2-PSK RSNE is supported");
    let gtk = Gtk::generate(&mut rng, 1).expect("key id 1 is valid");
    let auth = Authenticator::new(
        AuthenticatorConfig {
            aa: AA,
            spa: SPA,
            pmk,
            own_rsne: rsne.clone(),
            peer_rsne: rsne,
            gtk,
            gtk_rsc: 0,
            retry: RetryPolicy::default(),
        },
        now,
        &mut rng,
    )
    .expect("the WPA2-PSK RSNE is supported");
    (sup, auth, rng)
}

/// Runs a complete 4-way handshake between [`fresh_pair`]'s roles and returns the four
/// EAPOL-Key frames in order (from the 802.1X header on).
pub fn handshake_frames() -> Vec<Vec<u8>> {
    let now = Instant::ZERO;
    let (mut sup, mut auth, mut rng) = fresh_pair(now);
    let mut frames = Vec::new();
    let mut to_sup: Vec<Vec<u8>> = drain_sends(|| auth.poll_output());
    for _ in 0..4 {
        let mut to_auth = Vec::new();
        for f in to_sup.drain(..) {
            frames.push(f.clone());
            let _ = sup.handle_eapol(now, &f, &mut rng);
            to_auth.extend(drain_sends(|| sup.poll_output()));
        }
        for f in to_auth {
            frames.push(f.clone());
            let _ = auth.handle_eapol(now, &f);
            to_sup.extend(drain_sends(|| auth.poll_output()));
        }
    }
    frames
}

fn drain_sends(mut poll: impl FnMut() -> Option<Output>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(o) = poll() {
        if let Output::Send(f) = o {
            out.push(f);
        }
    }
    out
}

/// Seed inputs for every target, built from valid representations: `(target, name, bytes)`.
///
/// The committed corpus must contain each of them as `fuzz/corpus/<target>/seed-<name>`;
/// `vwifi-core/tests/fuzz_corpus.rs` checks that and, with `VWIFI_BLESS_CORPUS=1`, writes them.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use wire::{
        AssocRequest, AssocResponse, Authentication, Beacon, CapabilityInfo, Deauthentication,
        DsDirection, Element, EtherType, EthernetFrame, MgmtBody, MgmtFrame, ProbeRequest, PsPoll,
        QosControl, Rate, ReasonCode, Rsne, Ssid, StatusCode, Tim,
    };

    let ap = AA;
    let sta = SPA;
    let ssid = Ssid::new(b"vwifi-lab").expect("9 bytes is a valid SSID");
    let mut elems = ElementList::new();
    elems.push(Element::Ssid(ssid.clone()));
    elems.push(Element::SupportedRates(
        [0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]
            .map(Rate)
            .to_vec(),
    ));
    elems.push(Element::DsParameterSet { channel: 6 });
    elems.push(Element::Tim(Tim::from_aids(0, 2, false, [1, 9])));
    elems.push(Element::Rsn(Rsne::wpa2_psk()));
    elems.push(Element::Other {
        id: wire::ElementId::from(221),
        data: vec![0x00, 0x50, 0xf2, 0x02, 0x01],
    });

    let mut out = Vec::new();
    let mut push = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((target, name.to_owned(), bytes));
    };
    let mgmt = |da, sa, body| MgmtFrame::new(da, sa, ap, body).emit_vec();
    let beacon = Beacon {
        timestamp: 0x1234_5678,
        beacon_interval: 100,
        capability: CapabilityInfo(0x0411),
        elements: elems.clone(),
    };
    push(
        "frame",
        "beacon",
        mgmt(MacAddr::BROADCAST, ap, MgmtBody::Beacon(beacon.clone())),
    );
    push(
        "frame",
        "probe-response",
        mgmt(sta, ap, MgmtBody::ProbeResponse(beacon)),
    );
    let mut probe_elems = ElementList::new();
    probe_elems.push(Element::Ssid(
        Ssid::new(b"").expect("empty SSID is the wildcard"),
    ));
    push(
        "frame",
        "probe-request",
        MgmtFrame::new(MacAddr::BROADCAST, sta, MacAddr::BROADCAST, {
            MgmtBody::ProbeRequest(ProbeRequest {
                elements: probe_elems,
            })
        })
        .emit_vec(),
    );
    push(
        "frame",
        "auth",
        mgmt(
            ap,
            sta,
            MgmtBody::Authentication(Authentication::open_system(1, StatusCode::Success)),
        ),
    );
    let mut assoc_elems = ElementList::new();
    assoc_elems.push(Element::Ssid(ssid));
    assoc_elems.push(Element::Rsn(Rsne::wpa2_psk()));
    push(
        "frame",
        "assoc-request",
        mgmt(
            ap,
            sta,
            MgmtBody::AssocRequest(AssocRequest {
                capability: CapabilityInfo(0x0431),
                listen_interval: 10,
                elements: assoc_elems,
            }),
        ),
    );
    push(
        "frame",
        "assoc-response",
        mgmt(
            sta,
            ap,
            MgmtBody::AssocResponse(AssocResponse {
                capability: CapabilityInfo(0x0411),
                status: StatusCode::Success,
                association_id: AssocResponse::aid_field(1),
                elements: ElementList::new(),
            }),
        ),
    );
    push(
        "frame",
        "deauth",
        mgmt(
            sta,
            ap,
            MgmtBody::Deauthentication(Deauthentication::new(ReasonCode::from(15))),
        ),
    );
    let eapol = handshake_frames();
    if let Some(msg2) = eapol.get(1) {
        let eth = EthernetFrame {
            dst: ap,
            src: sta,
            ethertype: EtherType::Eapol,
            payload: Bytes::copy_from_slice(msg2),
        };
        let mut qos = Vec::new();
        eth.to_data(
            DsDirection::ToAp { bssid: ap },
            Some(QosControl::with_tid(6)),
        )
        .emit(&mut qos);
        push("frame", "qos-data-eapol", qos);
        let mut plain = Vec::new();
        eth.to_data(DsDirection::FromAp { bssid: ap }, None)
            .emit(&mut plain);
        push("frame", "data-from-ap", plain);
    }
    let mut null = Vec::new();
    wire::DataFrame::null(sta, ap, true, None).emit(&mut null);
    push("frame", "null-pm", null);
    push(
        "frame",
        "ps-poll",
        Frame::Control(wire::ControlFrame::PsPoll(PsPoll::new(1, ap, sta))).to_vec(),
    );

    let mut list = Vec::new();
    elems.emit(&mut list);
    push("elements", "beacon-elements", list);

    for (i, f) in eapol.into_iter().enumerate() {
        push("eapol_key", &format!("msg{}", i + 1), f);
    }

    for (name, msg) in proto_seeds() {
        let mut bytes = Vec::new();
        if proto::encode(&msg, &mut bytes).is_ok() {
            push("guest_proto", name, bytes);
        }
        if let Ok(f) = proto::inband::frame(&msg, SPA, MacAddr::BROADCAST) {
            push("inband_frame", name, f);
        }
    }
    for (name, bytes) in offload_seeds() {
        out.push(("vnet_offload", name.to_owned(), bytes));
    }
    out
}

/// Seeds for `vnet_offload`: a plain frame, a TCPv4 GSO send of 3000 bytes (MSS 1448) with its
/// checksum left to complete, and the same as TCPv6 and UDP.
fn offload_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let build = |v6: bool, proto: u8, gso_type: u8| {
        let payload = [0x5au8; 3000];
        let l4_hdr: usize = if proto == 6 { 20 } else { 8 };
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        let l4_len = (l4_hdr + payload.len()) as u16;
        if v6 {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend_from_slice(&l4_len.to_be_bytes());
            f.extend_from_slice(&[proto, 64]);
            f.extend_from_slice(&[0xfd; 32]);
        } else {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
            f.extend_from_slice(&(l4_len + 20).to_be_bytes());
            f.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        }
        let l4 = f.len() as u16;
        if proto == 6 {
            f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18]);
            f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        } else {
            f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51]);
            f.extend_from_slice(&l4_len.to_be_bytes());
            f.extend_from_slice(&[0, 0]);
        }
        f.extend_from_slice(&payload);
        let hdr = offload::VnetHeader {
            flags: offload::FLAG_NEEDS_CSUM,
            gso_type: match gso_type {
                1 => offload::GsoType::TcpV4,
                4 => offload::GsoType::TcpV6,
                _ => offload::GsoType::UdpL4,
            },
            ecn: false,
            hdr_len: l4 + l4_hdr as u16,
            gso_size: 1448,
            csum_start: l4,
            csum_offset: if proto == 6 { 16 } else { 6 },
        };
        let mut out = hdr.to_bytes().to_vec();
        out.extend_from_slice(&f);
        out
    };
    let mut plain = offload::VnetHeader::PLAIN.to_bytes().to_vec();
    plain.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, 1, 2, 3]);
    vec![
        ("plain", plain),
        ("tcp4-gso", build(false, 6, 1)),
        ("tcp6-gso", build(true, 6, 4)),
        ("udp-gso", build(false, 17, 5)),
    ]
}

fn proto_seeds() -> Vec<(&'static str, proto::Message)> {
    use proto::{Capabilities, Credentials, Message, RequestId, ScanMode};
    let ssid = proto::Ssid::new(b"vwifi-lab").expect("9 bytes is a valid SSID");
    vec![
        (
            "hello",
            Message::Hello {
                id: RequestId(1),
                version: proto::VERSION,
                capabilities: Capabilities::SCAN,
                agent: "vwifi-guest".into(),
            },
        ),
        (
            "scan",
            Message::ScanRequest {
                id: RequestId(2),
                ssid: None,
                mode: ScanMode::Active,
            },
        ),
        (
            "connect",
            Message::Connect {
                id: RequestId(3),
                ssid,
                bssid: Some(AA),
                credentials: Credentials::Passphrase(
                    crate::crypto::Passphrase::new("correct horse").expect("valid passphrase"),
                ),
            },
        ),
        ("status", Message::StatusRequest { id: RequestId(4) }),
        ("data", Message::Data(Bytes::from_static(&[0xff; 60]))),
    ]
}

trait EmitVec {
    fn emit_vec(&self) -> Vec<u8>;
}

impl EmitVec for wire::MgmtFrame {
    fn emit_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_frames_are_the_four_messages() {
        let frames = handshake_frames();
        assert_eq!(frames.len(), 4);
        for f in &frames {
            eapol_key(f);
            assert!(eapol::KeyFrame::parse(f).is_ok());
        }
    }

    #[test]
    fn entry_points_accept_junk_without_panicking() {
        for (_, target) in TARGETS {
            for data in [&[][..], &[0xff; 3], &[0; 64], &[0x80, 0, 0, 0, 0xff, 0xff]] {
                target(data);
            }
        }
    }

    #[test]
    fn every_seed_is_accepted_by_its_parser() {
        for (target, name, bytes) in seeds() {
            let ok = match target {
                "frame" => Frame::parse(&bytes).is_ok(),
                "elements" => ElementList::parse(&bytes).is_ok(),
                "eapol_key" => eapol::KeyFrame::parse(&bytes).is_ok(),
                "guest_proto" => proto::decode(&bytes).is_ok(),
                "inband_frame" => matches!(
                    proto::inband::classify(&bytes),
                    proto::inband::InbandFrame::Control { msg: Ok(_), .. }
                ),
                "vnet_offload" => offload::VnetHeader::parse(&bytes).is_ok_and(|h| {
                    let frame = bytes.get(offload::VNET_HDR_LEN..).unwrap_or_default();
                    let max = offload::MAX_MSDU_FRAME_LEN;
                    offload::segment(&h, frame, max, &mut Vec::new(), |_| {}).is_ok()
                }),
                other => panic!("seed for unknown target {other}"),
            };
            assert!(ok, "seed {target}/{name} is refused by its own parser");
        }
    }
}
