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
use crate::crypto::{ccmp, Gtk, Pmk, TemporalKey};
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
pub const TARGETS: &[Target] = &[
    ("frame", frame),
    ("elements", elements),
    ("eapol_key", eapol_key),
    ("guest_proto", guest_proto),
    ("inband_frame", inband_frame),
    ("sae", sae),
    ("ccmp", ccmp),
    ("phy_elements", phy_elements),
    ("block_ack", block_ack),
    ("amsdu", amsdu),
    ("vnet_offload", vnet_offload),
    ("pcapng", pcapng),
    ("federated", federated),
];

/// Any bytes as a live capture stream (what `vwifi-host capture` reads from the daemon):
/// [`crate::sim::pcapng::next_block`] never panics, takes a whole block or asks for more,
/// and a prefix of an accepted stream is never an error.
pub fn pcapng(data: &[u8]) {
    use crate::sim::pcapng::next_block;
    let mut rest = data;
    let mut whole = 0;
    while let Ok(Some((block, n))) = next_block(rest) {
        assert!(n >= 12 && n <= rest.len() && n % 4 == 0);
        let _ = block.ifdrop();
        whole += n;
        rest = rest.get(n..).unwrap_or_default();
    }
    if let Some(accepted) = data.get(..whole) {
        let mut cut = accepted.get(..whole.saturating_sub(1)).unwrap_or_default();
        while let Ok(Some((_, n))) = next_block(cut) {
            cut = cut.get(n..).unwrap_or_default();
        }
        assert!(
            next_block(cut).is_ok(),
            "a prefix of good blocks must not be an error"
        );
    }
}

/// Seeds of the `pcapng` target: a stream with two channels, frames and a loss report.
fn pcapng_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use crate::phy::TxVector;
    use crate::sim::medium::PhyRate;
    use crate::sim::pcap::RadioInfo;
    use crate::sim::pcapng::PcapngWriter;
    let mut out = Vec::new();
    let mut w = PcapngWriter::new(&mut out, Some("vwifi"));
    for (ch, at) in [(1u8, 10u64), (6, 20), (1, 30)] {
        if let Ok(channel) = crate::channel::Channel::new(ch) {
            let info = RadioInfo {
                channel,
                rate: TxVector::Legacy(PhyRate::Ofdm6),
                signal_dbm: Some(-40),
            };
            w.write_frame(&mut out, at, &info, &[0x80, 0, 0, 0, 0xff, 0xff]);
        }
    }
    w.write_drops(&mut out, 40, 2);
    vec![("pcapng", "stream".to_owned(), out)]
}

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
    let mut total = 0;
    let result = offload::segment(&hdr, frame, offload::MAX_MSDU_FRAME_LEN, |seg| {
        if hdr.gso_type != offload::GsoType::None {
            assert!(seg.len() <= offload::MAX_MSDU_FRAME_LEN);
        }
        total += 1;
    });
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
    // The same bytes through a station's protected-management-frame path (CCMP decryption,
    // BIP check) must be refused or passed without panicking.
    if let Ok(igtk) = crate::crypto::bip::Igtk::new([0x5a; 16], 4) {
        let _ = crate::crypto::bip::bip_verify(&igtk, data, 0);
        let mut mac = crate::station::softmac::SoftMac::new(SPA);
        mac.install_ptk(crate::crypto::TemporalKey::from_bytes([0x11; 16]));
        mac.enable_pmf(igtk, 0);
        let _ = mac.receive_mgmt(&Bytes::copy_from_slice(data));
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

/// Any bytes as an SAE Authentication frame body (algorithm 3). The first byte picks the
/// transaction (bit 0: confirm) and the status (bit 1: 126 hash-to-element, bit 2: 76
/// anti-clogging); the rest is the body after the status code. Every accepted commit, confirm
/// and token request must survive a round trip, and both roles of the state machine (a fresh
/// responder, an initiator that has sent its commit) must refuse junk without panicking.
pub fn sae(data: &[u8]) {
    use crate::handshake::sae::frame::{Commit, Confirm, TokenRequest};
    use crate::handshake::sae::{Sae, SaePassword, COMMIT, CONFIRM, RETRY};
    use crate::wire::StatusCode;

    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let h2e = selector & 2 != 0;
    for token_len in [0, 32] {
        if let Ok(c) = Commit::parse(body, h2e, token_len) {
            let again = Commit::parse(
                &c.to_vec(h2e),
                h2e,
                c.token.as_ref().map_or(0, |_| token_len),
            );
            assert_eq!(again.as_ref(), Ok(&c), "an accepted commit must round-trip");
        }
    }
    if let Ok(c) = Confirm::parse(body) {
        assert_eq!(
            c.to_vec(),
            body,
            "an accepted confirm must re-emit byte for byte"
        );
    }
    if let Ok(t) = TokenRequest::parse(body, h2e) {
        assert_eq!(TokenRequest::parse(&t.to_vec(h2e), h2e).as_ref(), Ok(&t));
    }
    let transaction = if selector & 1 != 0 { CONFIRM } else { COMMIT };
    let status = match selector & 6 {
        0 => StatusCode::Success,
        2 => StatusCode::SaeHashToElement,
        4 => StatusCode::AntiCloggingTokenRequired,
        _ => StatusCode::from(u16::from(selector >> 3)),
    };
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let pw = SaePassword::new(b"fuzz password").with_h2e(b"vwifi-lab");
    let mut ap = Sae::responder(AA, SPA, pw.clone(), true, true, RETRY);
    let _ = ap.handle_frame(Instant::ZERO, transaction, status, body, &mut rng);
    while ap.poll_output().is_some() {}
    let mut sta = Sae::initiator(SPA, AA, pw, h2e, RETRY);
    if sta.start(Instant::ZERO, &mut rng).is_ok() {
        let _ = sta.handle_frame(Instant::ZERO, transaction, status, body, &mut rng);
        while sta.poll_output().is_some() {}
    }
}

/// The temporal key of the [`ccmp()`] target and its seeds.
pub fn ccmp_key() -> TemporalKey {
    TemporalKey::from_bytes(*b"vwifi fuzz tk 16")
}

/// Any bytes as a received CCMP frame under [`ccmp_key`]: every decryption path (allocating,
/// into a buffer, in place, batched) gives the same answer without panicking, and a frame that
/// decrypts re-encrypts to one that decrypts to the same plaintext. The same bytes as a
/// plaintext MPDU: [`ccmp::encrypt_in_place`] agrees with [`ccmp::encrypt`].
pub fn ccmp(data: &[u8]) {
    let tk = ccmp_key();
    let mut out = vec![0xaa; 3];
    let into = ccmp::decrypt_into(&tk, data, &mut out);
    let mut frame = data.to_vec();
    let in_place = ccmp::decrypt_in_place(&tk, &mut frame);
    assert_eq!(in_place, into);
    let mut batch = [data.to_vec(), data.to_vec()];
    let mut results = Vec::new();
    ccmp::decrypt_batch(&tk, &mut batch, |i, r| results.push((i, r)));
    assert_eq!(results, [(0, into.clone()), (1, into.clone())]);
    match ccmp::decrypt(&tk, data) {
        Ok(d) => {
            let info = into.expect("decrypt and decrypt_into agree");
            assert_eq!((d.pn, d.key_id, d.tid), (info.pn, info.key_id, info.tid));
            assert_eq!(d.mpdu, out);
            let plain = frame.get(ccmp::CCMP_HEADER_LEN..frame.len() - ccmp::CCMP_MIC_LEN);
            assert_eq!(plain, Some(&out[..]));
            let again =
                ccmp::encrypt(&tk, d.key_id, d.pn, &d.mpdu).expect("a plaintext re-encrypts");
            assert_eq!(ccmp::decrypt(&tk, &again).map(|d| d.mpdu), Ok(out));
        }
        Err(e) => {
            assert_eq!(into, Err(e));
            assert!(out.is_empty(), "a failed decryption hands out no bytes");
        }
    }
    let sealed = ccmp::encrypt(&tk, 1, 7, data);
    let mut room = vec![0; ccmp::CCMP_HEADER_LEN];
    room.extend_from_slice(data);
    room.extend_from_slice(&[0; ccmp::CCMP_MIC_LEN]);
    match (sealed, ccmp::encrypt_in_place(&tk, 1, 7, &mut room)) {
        (Ok(sealed), Ok(())) => assert_eq!(sealed, room),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("encrypt {a:?} but encrypt_in_place {b:?}"),
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
        let tk = ccmp_key();
        if let Ok(sealed) = ccmp::encrypt(&tk, 0, 0x0102_0304_0506, &qos) {
            push("ccmp", "qos-data", sealed);
        }
        push("frame", "qos-data-eapol", qos);
        let mut plain = Vec::new();
        eth.to_data(DsDirection::FromAp { bssid: ap }, None)
            .emit(&mut plain);
        if let Ok(sealed) = ccmp::encrypt(&ccmp_key(), 2, 1, &plain) {
            push("ccmp", "group-data", sealed);
        }
        push("frame", "data-from-ap", plain);
    }
    let mut null = Vec::new();
    wire::DataFrame::null(sta, ap, true, None).emit(&mut null);
    if let Ok(sealed) = ccmp::encrypt(&ccmp_key(), 0, 3, &null) {
        push("ccmp", "null-data", sealed);
    }
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
    for (name, bytes) in sae_seeds() {
        push("sae", name, bytes);
    }
    out.extend(phy_seeds());
    out.extend(block_ack_seeds());
    out.extend(amsdu_seeds());
    out.extend(pcapng_seeds());
    out.extend(federated_seeds());
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

/// SAE seeds in the `sae` target's format (selector byte, then body): a real exchange between
/// the station and the AP of the target, by hunting and pecking and by hash-to-element.
fn sae_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::handshake::sae::{AntiClogging, Sae, SaeOutput, SaePassword, CONFIRM, RETRY};

    let mut out = Vec::new();
    let pw = SaePassword::new(b"fuzz password").with_h2e(b"vwifi-lab");
    for (h2e, commit_name, confirm_name) in [
        (false, "commit-hnp", "confirm-hnp"),
        (true, "commit-h2e", "confirm-h2e"),
    ] {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let mut sta = Sae::initiator(SPA, AA, pw.clone(), h2e, RETRY);
        let mut ap = Sae::responder(AA, SPA, pw.clone(), true, true, RETRY);
        if sta.start(Instant::ZERO, &mut rng).is_err() {
            continue;
        }
        let selector = if h2e { 2u8 } else { 0 };
        let Some(SaeOutput::Send(commit)) = sta.poll_output() else {
            continue;
        };
        out.push((commit_name, [&[selector][..], &commit.body].concat()));
        let reply = AntiClogging::new([5; 32], 0).admit(1, SPA, commit.status, &commit.body);
        if let Err(req) = reply {
            let name = if h2e {
                "token-request-h2e"
            } else {
                "token-request-hnp"
            };
            out.push((name, [&[selector | 4][..], &req.body].concat()));
        }
        let _ = ap.handle_frame(
            Instant::ZERO,
            commit.transaction,
            commit.status,
            &commit.body,
            &mut rng,
        );
        let Some(SaeOutput::Send(ap_commit)) = ap.poll_output() else {
            continue;
        };
        let _ = sta.handle_frame(
            Instant::ZERO,
            ap_commit.transaction,
            ap_commit.status,
            &ap_commit.body,
            &mut rng,
        );
        if let Some(SaeOutput::Send(confirm)) = sta.poll_output() {
            if confirm.transaction == CONFIRM {
                out.push((confirm_name, [&[1u8][..], &confirm.body].concat()));
            }
        }
    }
    out
}

/// Any bytes as a Block Ack action frame body: an accepted body re-emits byte for byte.
pub fn block_ack(data: &[u8]) {
    if let Ok(action) = wire::block_ack::BlockAckAction::parse(data) {
        assert_eq!(
            action.to_vec(),
            data,
            "an accepted body must re-emit byte for byte"
        );
    }
}

/// Any bytes as an A-MSDU body ([`wire::amsdu::parse`]): no panic; an accepted body re-emits
/// byte for byte, and its length is what [`wire::amsdu::body_len`] says. Read as Ethernet
/// frames ([`wire::amsdu::ethernet_frames`], what the stations and APs receive): accepted
/// exactly when the body is, a frame (or an error) per subframe, with the subframe's DA and SA.
pub fn amsdu(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let frames = wire::amsdu::ethernet_frames(&body);
    let Ok(subframes) = wire::amsdu::parse(data) else {
        assert!(frames.is_err(), "ethernet_frames took what parse refused");
        return;
    };
    let mut out = Vec::new();
    wire::amsdu::emit(subframes.iter().copied(), &mut out);
    assert_eq!(out, data, "an accepted body must re-emit byte for byte");
    assert_eq!(
        wire::amsdu::body_len(subframes.iter().map(|s| s.msdu.len())),
        data.len()
    );
    let frames = frames.expect("ethernet_frames refused what parse took");
    assert_eq!(frames.len(), subframes.len());
    for (frame, sub) in frames.iter().zip(&subframes) {
        if let Ok(eth) = frame {
            assert_eq!((eth.dst, eth.src), (sub.da, sub.sa));
        }
    }
    // What an AP passes on whole must be what it would write again for the frames.
    if let Some(flow) = wire::amsdu::one_flow(data, wire::EtherType::Eapol) {
        let eths: Vec<wire::llc::EthernetFrame> = frames
            .into_iter()
            .map(|f| f.expect("one_flow took a subframe that is no Ethernet frame"))
            .collect();
        assert_eq!(flow.msdus, eths.len());
        assert!(
            eths.iter()
                .all(|e| (e.dst, e.src) == (flow.da, flow.sa)
                    && e.ethertype != wire::EtherType::Eapol)
        );
        let bssid = flow.sa;
        let h = wire::amsdu::data_header(wire::llc::DsDirection::FromAp { bssid }, flow.da, 0);
        let mut again = Vec::new();
        wire::amsdu::emit_ethernet(&h, &eths, &mut again);
        assert_eq!(
            again.get(h.buffer_len()..),
            Some(data),
            "passed on whole, not as written"
        );
    }
}

/// Seeds of the `amsdu` target: one subframe; three (padding between them); the largest MSDU;
/// two IPv4 MSDUs of one flow (what an AP passes on whole).
fn amsdu_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use wire::amsdu::{emit, Subframe, MAX_MSDU_LEN};
    let (da, sa) = (MacAddr([2, 0, 0, 0, 0, 2]), MacAddr([2, 0, 0, 0, 0, 1]));
    let snap_ipv4 = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45, 0, 0, 20];
    let big = vec![0x5a; MAX_MSDU_LEN];
    let cases: [(&str, Vec<&[u8]>); 4] = [
        ("one", vec![&snap_ipv4]),
        ("three", vec![&snap_ipv4, &snap_ipv4[..7], &snap_ipv4[..1]]),
        ("largest", vec![&big]),
        ("one-flow", vec![&snap_ipv4, &snap_ipv4[..10]]),
    ];
    cases
        .into_iter()
        .map(|(name, msdus)| {
            let mut out = Vec::new();
            emit(
                msdus.into_iter().map(|msdu| Subframe { da, sa, msdu }),
                &mut out,
            );
            ("amsdu", name.to_owned(), out)
        })
        .collect()
}

/// Any bytes as a federated transmission from another daemon
/// ([`crate::sim::federated::FederatedMessage::parse`]): no panic; an accepted message re-emits
/// byte for byte; handing it to a federated medium with two listeners never panics either.
pub fn federated(data: &[u8]) {
    use crate::sim::federated::FederatedMessage;
    use crate::sim::medium::{FederationConfig, Medium, Placement};
    use crate::testing::ScriptedNode;

    let Ok(msg) = FederatedMessage::parse(data) else {
        return;
    };
    assert_eq!(
        msg.to_vec().ok().as_deref(),
        Some(data),
        "an accepted message must re-emit byte for byte"
    );
    let Ok(mut medium) = Medium::<ScriptedNode>::new(Default::default(), [0; 32]) else {
        return;
    };
    medium.enable_federation(FederationConfig::default());
    for x in [0.0, 50.0] {
        let id = medium.add(ScriptedNode::new(msg.tx.channel), Placement::at(x, 0.0));
        let _ = medium.set_addresses(id, vec![MacAddr([2, 0, 0, 0, 0, x as u8])]);
    }
    let _ = medium.handle_remote(Instant::from_millis(1), &msg.tx);
    medium.handle_timeout(Instant::from_millis(100));
}

/// Seeds of the `federated` target: a beacon at a legacy rate, a data frame at an HE rate.
fn federated_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use crate::phy::{GuardInterval, McsRate, Standard, TxVector, Width};
    use crate::sim::federated::{FederatedMessage, FederatedTx};
    use crate::sim::medium::{PhyRate, Position};
    let Ok(channel) = crate::channel::Channel::new(6) else {
        return Vec::new();
    };
    let beacon = crate::testing::frames::beacon(AA, "vwifi-lab", 6, 0);
    let data = crate::testing::frames::data(AA, SPA, 3, 64);
    let he = McsRate::new(Standard::He, 7, 2, Width::Mhz20, GuardInterval::Normal800)
        .map(TxVector::Mcs)
        .unwrap_or(TxVector::Legacy(PhyRate::Ofdm6));
    [
        ("beacon", beacon, TxVector::Legacy(PhyRate::Dsss1)),
        ("he-data", data, he),
    ]
    .into_iter()
    .filter_map(|(name, frame, rate)| {
        let msg = FederatedMessage {
            origin: "host-a".to_owned(),
            seq: 1,
            tx: FederatedTx {
                channel,
                frame,
                position: Position { x: 3.0, y: 4.0 },
                tx_power_dbm: 20.0,
                rate,
                duration: Duration::from_micros(300),
                timestamp: Instant::from_micros(1000),
            },
        };
        msg.to_vec().ok().map(|b| ("federated", name.to_owned(), b))
    })
    .collect()
}

/// Seeds of the `block_ack` target: an ADDBA Request, an ADDBA Response, a DELBA.
fn block_ack_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use wire::block_ack::{BaParams, BlockAckAction};
    [
        (
            "addba-request",
            BlockAckAction::AddbaRequest {
                dialog_token: 1,
                params: BaParams::immediate(0, 64),
                timeout_tu: 0,
                start_seq: 0x10,
            },
        ),
        (
            "addba-response",
            BlockAckAction::AddbaResponse {
                dialog_token: 1,
                status: 0,
                params: BaParams::immediate(0, 64),
                timeout_tu: 0,
            },
        ),
        (
            "delba",
            BlockAckAction::Delba {
                params: 0x0800,
                reason: 37,
            },
        ),
    ]
    .into_iter()
    .map(|(name, a)| ("block_ack", name.to_owned(), a.to_vec()))
    .collect()
}

/// Any bytes as elements whose HT/VHT/HE capability and operation elements are read in typed
/// form: each typed parse that accepts a body emits it back byte for byte, and the
/// capabilities read from the list ([`crate::phy::elements::caps_of`]) fit every channel.
pub fn phy_elements(data: &[u8]) {
    use crate::phy::elements::caps_of;
    use crate::wire::phy_ie::{
        He6GhzBandCapabilities, HeCapabilities, HeOperation, HtCapabilities, HtOperation,
        VhtCapabilities, VhtOperation, EXT_HE_6GHZ_BAND_CAPABILITIES, EXT_HE_CAPABILITIES,
        EXT_HE_OPERATION,
    };
    use crate::wire::{Element, ElementId};

    fn check<T>(
        body: &[u8],
        parse: fn(&[u8]) -> Result<T, wire::ParseError>,
        emit: fn(&T, &mut Vec<u8>),
    ) {
        if let Ok(v) = parse(body) {
            let mut out = Vec::new();
            emit(&v, &mut out);
            assert_eq!(
                out, body,
                "an accepted element body must re-emit byte for byte"
            );
        }
    }
    let Ok(list) = ElementList::parse(data) else {
        return;
    };
    for e in &list {
        match e {
            Element::HtCapabilities(b) => {
                check(b, HtCapabilities::parse, HtCapabilities::emit_body)
            }
            Element::HtOperation(b) => check(b, HtOperation::parse, HtOperation::emit_body),
            Element::VhtCapabilities(b) => {
                check(b, VhtCapabilities::parse, VhtCapabilities::emit_body);
            }
            Element::Other {
                id: ElementId::VhtOperation,
                data,
            } => check(data, VhtOperation::parse, VhtOperation::emit_body),
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_CAPABILITIES => {
                check(data, HeCapabilities::parse, HeCapabilities::emit_body);
            }
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_OPERATION => {
                check(data, HeOperation::parse, HeOperation::emit_body);
            }
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_6GHZ_BAND_CAPABILITIES => {
                check(
                    data,
                    He6GhzBandCapabilities::parse,
                    He6GhzBandCapabilities::emit_body,
                );
            }
            _ => {}
        }
    }
    let six = [1, 37, 149, 233].map(crate::channel::Channel::six_ghz);
    for channel in [1, 6, 11, 14, 36, 100, 149, 165]
        .map(crate::channel::Channel::new)
        .into_iter()
        .chain(six)
        .flatten()
    {
        let caps = caps_of(&list, channel);
        assert!(caps.check_on(channel).is_ok(), "{caps:?} on {channel:?}");
    }
}

/// Seeds of the `phy_elements` target: the elements of HT, VHT and HE BSSs, 6 GHz ones too.
fn phy_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use crate::channel::Channel;
    use crate::phy::elements::bss_elements;
    use crate::phy::{PhyCaps, Standard, Width};

    [
        ("ht40-ch1", Standard::Ht, Width::Mhz40, 2, Channel::new(1)),
        (
            "vht80-ch36",
            Standard::Vht,
            Width::Mhz80,
            2,
            Channel::new(36),
        ),
        (
            "he80-ch149",
            Standard::He,
            Width::Mhz80,
            2,
            Channel::new(149),
        ),
        (
            "he160-ch100",
            Standard::He,
            Width::Mhz160,
            4,
            Channel::new(100),
        ),
        (
            "he160-6g37",
            Standard::He,
            Width::Mhz160,
            2,
            Channel::six_ghz(37),
        ),
    ]
    .into_iter()
    .filter_map(|(name, standard, width, nss, channel)| {
        let caps = PhyCaps {
            standard,
            width,
            nss,
        };
        let channel = channel.ok()?;
        let mut bytes = Vec::new();
        ElementList(bss_elements(&caps, channel)).emit(&mut bytes);
        Some(("phy_elements", name.to_owned(), bytes))
    })
    .collect()
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
        (
            "event-roamed",
            Message::Event(proto::Event::Roamed {
                ssid,
                bssid: MacAddr([2, 0x76, 0x77, 1, 0, 0x0b]),
                old_bssid: MacAddr([2, 0x76, 0x77, 1, 0, 0x0a]),
                channel: 6,
                roam_ms: 42,
            }),
        ),
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
        for (_, target) in TARGETS.iter() {
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
                "ccmp" => ccmp::decrypt(&ccmp_key(), &bytes).is_ok(),
                "phy_elements" => ElementList::parse(&bytes).is_ok(),
                "block_ack" => wire::block_ack::BlockAckAction::parse(&bytes).is_ok(),
                "amsdu" => wire::amsdu::parse(&bytes).is_ok(),
                "inband_frame" => matches!(
                    proto::inband::classify(&bytes),
                    proto::inband::InbandFrame::Control { msg: Ok(_), .. }
                ),
                "sae" => {
                    use crate::handshake::sae::frame::{Commit, Confirm, TokenRequest};
                    let (selector, body) = bytes.split_first().expect("selector byte");
                    let h2e = selector & 2 != 0;
                    match selector {
                        1 => Confirm::parse(body).is_ok(),
                        4 | 6 => TokenRequest::parse(body, h2e).is_ok(),
                        _ => Commit::parse(body, h2e, 0).is_ok(),
                    }
                }
                "pcapng" => crate::sim::pcapng::next_block(&bytes).is_ok_and(|b| b.is_some()),
                "vnet_offload" => offload::VnetHeader::parse(&bytes).is_ok_and(|h| {
                    let frame = bytes.get(offload::VNET_HDR_LEN..).unwrap_or_default();
                    let max = offload::MAX_MSDU_FRAME_LEN;
                    offload::segment(&h, frame, max, |_| {}).is_ok()
                }),
                "federated" => crate::sim::federated::FederatedMessage::parse(&bytes).is_ok(),
                other => panic!("seed for unknown target {other}"),
            };
            assert!(ok, "seed {target}/{name} is refused by its own parser");
        }
    }
}
