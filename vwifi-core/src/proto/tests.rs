//! Property tests of the whole protocol, and the strategies that generate every message.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::addr::MacAddr;
use crate::crypto::{Passphrase, Psk};

pub(super) fn arb_ssid() -> impl Strategy<Value = Ssid> {
    vec(any::<u8>(), 0..=MAX_SSID_LEN).prop_map(|b| Ssid::new(&b).unwrap())
}

fn arb_mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn arb_id() -> impl Strategy<Value = RequestId> {
    any::<u32>().prop_map(RequestId)
}

/// UTF-8 text of at most `max` bytes (multi-byte characters included).
fn arb_text(max: usize) -> impl Strategy<Value = String> {
    ".{0,80}".prop_map(move |s: String| {
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_owned()
    })
}

fn arb_security() -> impl Strategy<Value = Security> {
    // `Other` never holds a named code: decoding maps those to the named variant.
    any::<u8>().prop_map(Security::from_code)
}

fn arb_phy() -> impl Strategy<Value = Option<crate::proto::PhyInfo>> {
    option::of(
        (
            prop_oneof![
                Just(crate::phy::Standard::Legacy),
                Just(crate::phy::Standard::Ht),
                Just(crate::phy::Standard::Vht),
                Just(crate::phy::Standard::He),
            ],
            any::<u16>(),
            any::<u8>(),
            option::of(0u8..0xff),
            any::<u32>(),
        )
            .prop_map(|(standard, width_mhz, streams, mcs, rate_kbps)| {
                crate::proto::PhyInfo {
                    standard,
                    width_mhz,
                    streams,
                    mcs,
                    rate_kbps,
                }
            }),
    )
}

fn arb_bss() -> impl Strategy<Value = BssInfo> {
    (
        arb_phy(),
        arb_ssid(),
        arb_mac(),
        any::<u8>(),
        any::<u16>(),
        any::<i8>(),
        arb_security(),
        any::<u32>(),
    )
        .prop_map(
            |(phy, ssid, bssid, channel, frequency_mhz, signal_dbm, security, beacon_age_ms)| {
                BssInfo {
                    ssid,
                    bssid,
                    channel,
                    frequency_mhz,
                    signal_dbm,
                    security,
                    beacon_age_ms,
                    phy,
                }
            },
        )
}

pub(super) fn arb_passphrase() -> impl Strategy<Value = Passphrase> {
    "[ -~]{8,63}".prop_map(|s| Passphrase::new(&s).unwrap())
}

fn arb_credentials() -> impl Strategy<Value = Credentials> {
    prop_oneof![
        Just(Credentials::None),
        arb_passphrase().prop_map(Credentials::Passphrase),
        any::<[u8; 32]>().prop_map(|k| Credentials::Psk(Psk::from_bytes(k))),
    ]
}

fn arb_status() -> impl Strategy<Value = StationStatus> {
    (
        arb_phy(),
        any::<u8>().prop_map(StationState::from_code),
        arb_mac(),
        option::of(arb_ssid()),
        option::of(arb_mac()),
        option::of(any::<u8>()),
        option::of(any::<i8>()),
        option::of(any::<u32>()),
        any::<[u64; 6]>(),
        option::of(any::<u16>()),
    )
        .prop_map(
            |(
                phy,
                state,
                mac,
                ssid,
                bssid,
                channel,
                signal_dbm,
                tx_rate_kbps,
                c,
                frequency_mhz,
            )| StationStatus {
                state,
                mac,
                ssid,
                bssid,
                channel,
                frequency_mhz,
                signal_dbm,
                tx_rate_kbps,
                phy,
                counters: Counters {
                    rx_packets: c[0],
                    rx_bytes: c[1],
                    tx_packets: c[2],
                    tx_bytes: c[3],
                    rx_dropped: c[4],
                    tx_dropped: c[5],
                },
            },
        )
}

fn arb_failure() -> impl Strategy<Value = ConnectFailure> {
    prop_oneof![
        Just(ConnectFailure::NetworkNotFound),
        any::<u16>().prop_map(|status| ConnectFailure::AuthRejected { status }),
        any::<u16>().prop_map(|status| ConnectFailure::AssocRejected { status }),
        Just(ConnectFailure::WrongPassphrase),
        Just(ConnectFailure::ApUnreachable),
        Just(ConnectFailure::HandshakeTimeout),
        (prop_oneof![Just(0u8), 7u8..=255], any::<u16>())
            .prop_map(|(code, detail)| ConnectFailure::Other { code, detail }),
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (arb_ssid(), arb_mac(), any::<u8>()).prop_map(|(ssid, bssid, channel)| {
            Event::Connected {
                ssid,
                bssid,
                channel,
            }
        }),
        (any::<u16>(), any::<bool>()).prop_map(|(reason, locally_generated)| {
            Event::Disconnected {
                reason,
                locally_generated,
            }
        }),
        arb_failure().prop_map(|reason| Event::ConnectFailed { reason }),
        any::<i8>().prop_map(|dbm| Event::SignalChanged { dbm }),
        (arb_ssid(), arb_mac(), arb_mac(), any::<u8>(), any::<u32>()).prop_map(
            |(ssid, bssid, old_bssid, channel, roam_ms)| Event::Roamed {
                ssid,
                bssid,
                old_bssid,
                channel,
                roam_ms,
            }
        ),
    ]
}

/// Every variant of [`Message`], with every field varied.
pub(super) fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            arb_id(),
            any::<u8>(),
            any::<u32>(),
            arb_text(MAX_AGENT_NAME_LEN)
        )
            .prop_map(|(id, version, caps, agent)| Message::Hello {
                id,
                version,
                capabilities: Capabilities::from_bits_retain(caps),
                agent,
            }),
        (arb_id(), any::<u8>(), any::<u32>()).prop_map(|(id, version, caps)| {
            Message::HelloAck {
                id,
                version,
                capabilities: Capabilities::from_bits_retain(caps),
            }
        }),
        arb_id().prop_map(|id| Message::Ack { id }),
        (
            option::of(arb_id()),
            any::<u16>().prop_map(ErrorCode::from_code),
            option::of(arb_text(MAX_ERROR_TEXT_LEN)),
        )
            .prop_map(|(id, code, text)| Message::Error { id, code, text }),
        (
            arb_id(),
            option::of(arb_ssid()),
            prop_oneof![Just(ScanMode::Active), Just(ScanMode::Passive)],
        )
            .prop_map(|(id, ssid, mode)| Message::ScanRequest { id, ssid, mode }),
        (arb_id(), vec(arb_bss(), 0..20)).prop_map(|(id, bss)| Message::ScanResults { id, bss }),
        (
            arb_id(),
            arb_ssid(),
            option::of(arb_mac()),
            arb_credentials()
        )
            .prop_map(|(id, ssid, bssid, credentials)| Message::Connect {
                id,
                ssid,
                bssid,
                credentials,
            }),
        arb_id().prop_map(|id| Message::Disconnect { id }),
        arb_id().prop_map(|id| Message::StatusRequest { id }),
        (arb_id(), arb_status()).prop_map(|(id, status)| Message::Status {
            id,
            status: Box::new(status)
        }),
        arb_event().prop_map(Message::Event),
        vec(any::<u8>(), 0..1600).prop_map(|f| Message::Data(Bytes::from(f))),
    ]
}

fn encode_to_vec(msg: &Message) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(msg, &mut buf).unwrap();
    buf
}

proptest! {
    #[test]
    fn every_message_round_trips(msg in arb_message()) {
        let bytes = encode_to_vec(&msg);
        prop_assert_eq!(bytes.len(), encoded_len(&msg).unwrap());
        let (decoded, used) = decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decoded, msg);
    }

    #[test]
    fn encoding_into_bytes_mut_matches_vec(msg in arb_message()) {
        let mut buf = bytes::BytesMut::new();
        encode(&msg, &mut buf).unwrap();
        prop_assert_eq!(&buf[..], &encode_to_vec(&msg)[..]);
    }

    #[test]
    fn decode_ignores_bytes_after_the_message(msg in arb_message(), pad in vec(any::<u8>(), 0..64)) {
        let mut bytes = encode_to_vec(&msg);
        let len = bytes.len();
        bytes.extend_from_slice(&pad);
        let (decoded, used) = decode(&bytes).unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(decoded, msg);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    /// Arbitrary bodies behind a valid header reach the body decoders, which random bytes
    /// rarely do; whatever decodes re-encodes to the same bytes (the encoding is canonical).
    #[test]
    fn decode_never_panics_on_arbitrary_bodies_and_is_canonical(
        kind in prop::sample::select(MessageType::ALL.to_vec()),
        flags in prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
        id in prop_oneof![Just(0u32), any::<u32>()],
        body in vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![MAGIC, VERSION, kind.code(), flags];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&body);
        if let Ok((msg, used)) = decode(&bytes) {
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(encode_to_vec(&msg), bytes);
        }
    }

    /// Single-byte corruptions of valid messages: never a panic, and canonical when accepted.
    #[test]
    fn decode_survives_corrupted_messages(msg in arb_message(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode_to_vec(&msg);
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok((msg, used)) = decode(&bytes) {
            prop_assert_eq!(encode_to_vec(&msg), &bytes[..used]);
        }
    }

    #[test]
    fn stream_decoder_yields_messages_from_random_chunks(
        msgs in vec(arb_message(), 1..8),
        cuts in vec(any::<usize>(), 0..16),
    ) {
        let mut stream = Vec::new();
        for m in &msgs {
            encode(m, &mut stream).unwrap();
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        for w in cuts.windows(2) {
            dec.feed(&stream[w[0]..w[1]]).unwrap();
            while let Some(m) = dec.next_message().unwrap() {
                out.push(m);
            }
        }
        prop_assert_eq!(out, msgs);
        prop_assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn stream_decoder_never_panics_on_arbitrary_chunks(chunks in vec(vec(any::<u8>(), 0..64), 0..16)) {
        let mut dec = Decoder::new();
        for c in &chunks {
            if dec.feed(c).is_err() {
                break;
            }
            while let Ok(Some(_)) = dec.next_message() {}
        }
    }
}

#[test]
fn debug_never_shows_secrets_or_frame_contents() {
    let passphrase = "correct horse battery staple";
    let psk = Psk::from_bytes([0xab; 32]);
    for credentials in [
        Credentials::Passphrase(Passphrase::new(passphrase).unwrap()),
        Credentials::Psk(psk.clone()),
    ] {
        let msg = Message::Connect {
            id: RequestId(1),
            ssid: Ssid::new(b"home").unwrap(),
            bssid: None,
            credentials,
        };
        for shown in [format!("{msg:?}"), format!("{msg:#?}")] {
            assert!(!shown.contains(passphrase), "{shown}");
            assert!(!shown.contains("correct"), "{shown}");
            assert!(!shown.contains(&psk.to_hex()), "{shown}");
            assert!(!shown.contains("171"), "{shown}"); // 0xab as a decimal byte
            assert!(!shown.contains("ab, ab"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("home"), "{shown}");
        }
    }
    let data = Message::Data(Bytes::from_static(b"secret payload"));
    assert_eq!(format!("{data:?}"), "Data { len: 14 }");
}

#[test]
fn a_message_stays_small_enough_to_move_inline() {
    // Every frame a guest sends or receives is a `Message::Data`, moved through several
    // queues (Mux, MuxNode, driver, port): a message as large as its largest variant made each
    // move a call to memmove (the station status inline: 136 bytes, 1.7 % of the daemon's
    // samples on the e2e bench's open phase, about). The status is boxed to keep it small.
    assert!(
        core::mem::size_of::<Message>() <= 96,
        "Message is {} bytes",
        core::mem::size_of::<Message>()
    );
}
