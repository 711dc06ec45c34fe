//! vwifi against a real WPA2-PSK association between hostapd 2.10 and wpa_supplicant 2.10,
//! recorded in the VM harness (`tests/fixtures/README.md`, `tests/vmharness/record-handshake.sh`):
//! vwifi's parsers accept every real frame, its key derivation reproduces the peers' MICs and
//! keys with the right passphrase and rejects them with a wrong one, and its CCMP opens the
//! real kernel's (mac80211's) protected data frames.

use std::path::PathBuf;

use vwifi_core::crypto::{ccmp, derive_psk, Passphrase, TemporalKey};
use vwifi_core::handshake::{verify_recorded, HandshakeError};
use vwifi_core::wire::{EtherType, EthernetFrame, Frame, MgmtBody};
use vwifi_core::MacAddr;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The recording's description (`handshake-wpa2.toml`).
struct Recording {
    doc: toml::Table,
}

impl Recording {
    fn load() -> Self {
        let text = std::fs::read_to_string(fixtures().join("handshake-wpa2.toml")).unwrap();
        Self {
            doc: text.parse().unwrap(),
        }
    }

    fn str(&self, key: &str) -> &str {
        self.doc[key].as_str().unwrap()
    }

    fn key(&self, key: &str) -> Vec<u8> {
        hex::decode(self.doc["keys"][key].as_str().unwrap()).unwrap()
    }

    fn mac(&self, key: &str) -> MacAddr {
        self.str(key).parse().unwrap()
    }

    fn frame(&self, name: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(format!("handshake-wpa2-{name}.bin"))).unwrap()
    }

    /// The EAPOL PDU carried by recorded frame `name`.
    fn eapol(&self, name: &str) -> Vec<u8> {
        let Frame::Data(data) = Frame::parse(&self.frame(name)).unwrap() else {
            panic!("{name} is not a data frame");
        };
        let eth = EthernetFrame::from_data(&data).unwrap();
        assert_eq!(eth.ethertype, EtherType::Eapol, "{name}");
        eth.payload.to_vec()
    }

    fn messages(&self) -> [Vec<u8>; 4] {
        ["eapol-m1", "eapol-m2", "eapol-m3", "eapol-m4"].map(|n| self.eapol(n))
    }
}

#[test]
fn every_recorded_frame_parses_and_reemits_byte_for_byte() {
    let rec = Recording::load();
    for name in [
        "beacon",
        "probe-resp",
        "auth-req",
        "auth-resp",
        "assoc-req",
        "assoc-resp",
        "eapol-m1",
        "eapol-m2",
        "eapol-m3",
        "eapol-m4",
    ] {
        let bytes = rec.frame(name);
        let frame = Frame::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(frame.to_vec(), bytes, "{name} does not re-emit identically");
    }
}

#[test]
fn recorded_rsnes_match_the_beacon_and_association_request() {
    let rec = Recording::load();
    let rsne_body = |name: &str| {
        let Ok(Frame::Management(m)) = Frame::parse(&rec.frame(name)) else {
            panic!("{name}")
        };
        let elements = match m.body {
            MgmtBody::Beacon(b) | MgmtBody::ProbeResponse(b) => b.elements,
            MgmtBody::AssocRequest(a) => a.elements,
            other => panic!("{name}: unexpected body {other:?}"),
        };
        let rsn = elements.rsn().expect("an RSN element").clone();
        let mut body = Vec::new();
        rsn.emit_body(&mut body);
        hex::encode(body)
    };
    assert_eq!(rsne_body("beacon"), rec.str("ap_rsne"));
    assert_eq!(rsne_body("probe-resp"), rec.str("ap_rsne"));
    assert_eq!(rsne_body("assoc-req"), rec.str("sta_rsne"));
}

#[test]
fn derivation_reproduces_the_real_peers_keys_and_mics() {
    let rec = Recording::load();
    let pass = Passphrase::new(rec.str("passphrase")).unwrap();
    let pmk = derive_psk(&pass, rec.str("ssid").as_bytes()).unwrap();
    assert_eq!(
        pmk.expose().to_vec(),
        rec.key("pmk"),
        "PSK differs from wpa_supplicant's PMK"
    );

    let msgs = rec.messages();
    let ptk = verify_recorded(
        &pmk,
        rec.mac("aa"),
        rec.mac("spa"),
        [&msgs[0], &msgs[1], &msgs[2], &msgs[3]],
    )
    .expect("vwifi must verify the MICs of messages 2, 3 and 4");
    assert_eq!(ptk.kck().expose().to_vec(), rec.key("kck"));
    assert_eq!(ptk.kek().expose().to_vec(), rec.key("kek"));
    assert_eq!(ptk.tk().expose().to_vec(), rec.key("tk"));
}

#[test]
fn a_wrong_passphrase_fails_on_message_2() {
    let rec = Recording::load();
    let msgs = rec.messages();
    for wrong in [
        "correct horse battery stapler",
        "Correct horse battery staple",
        "password",
    ] {
        let pmk = derive_psk(&Passphrase::new(wrong).unwrap(), rec.str("ssid").as_bytes()).unwrap();
        let err = verify_recorded(
            &pmk,
            rec.mac("aa"),
            rec.mac("spa"),
            [&msgs[0], &msgs[1], &msgs[2], &msgs[3]],
        )
        .unwrap_err();
        assert!(
            matches!(err, HandshakeError::MicMismatch { .. }),
            "{wrong:?}: expected a MIC mismatch, got {err}"
        );
    }
    // The right passphrase with the wrong SSID is a wrong PMK too.
    let pmk = derive_psk(
        &Passphrase::new(rec.str("passphrase")).unwrap(),
        b"vwifi-other",
    )
    .unwrap();
    assert!(verify_recorded(
        &pmk,
        rec.mac("aa"),
        rec.mac("spa"),
        [&msgs[0], &msgs[1], &msgs[2], &msgs[3]]
    )
    .is_err());
}

/// The 802.11 frames of the recording's pcap (radiotap stripped).
fn pcap_frames() -> Vec<Vec<u8>> {
    let pcap = std::fs::read(fixtures().join("handshake-wpa2.pcap")).unwrap();
    assert_eq!(
        &pcap[..4],
        &0xa1b2c3d4u32.to_le_bytes(),
        "little-endian pcap"
    );
    assert_eq!(
        u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        127,
        "radiotap linktype"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let rec = &pcap[at + 16..at + 16 + incl];
        let rt_len = u16::from_le_bytes([rec[2], rec[3]]) as usize;
        frames.push(rec[rt_len..].to_vec());
        at += 16 + incl;
    }
    frames
}

#[test]
fn ccmp_opens_the_real_kernels_protected_frames() {
    let rec = Recording::load();
    let tk = TemporalKey::from_bytes(rec.key("tk").try_into().unwrap());
    let (mut opened, mut pairwise) = (0, 0);
    for frame in pcap_frames() {
        let Ok(Frame::Data(data)) = Frame::parse(&frame) else {
            continue;
        };
        if !data.header.frame_control.flags.protected() || data.header.addr1.is_group() {
            continue;
        }
        pairwise += 1;
        let plain = ccmp::decrypt(&tk, &frame).expect("a pairwise CCMP frame of the recording");
        let Ok(Frame::Data(clear)) = Frame::parse(&plain.mpdu) else {
            panic!("decrypted frame")
        };
        let eth = EthernetFrame::from_data(&clear).unwrap();
        assert!(
            matches!(
                eth.ethertype,
                EtherType::Ipv4 | EtherType::Arp | EtherType::Ipv6
            ),
            "decrypted payload has EtherType {:?}",
            eth.ethertype
        );
        opened += 1;
        // One flipped bit anywhere in the body must fail authentication.
        let mut tampered = frame.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        assert!(ccmp::decrypt(&tk, &tampered).is_err());
    }
    assert!(
        pairwise > 0,
        "the recording holds no pairwise protected data frame"
    );
    assert_eq!(opened, pairwise);
}
