//! Tests of links and listeners over real sockets and scripted streams.

use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::collections::HashSet;
use std::io;
use std::os::unix::fs::PermissionsExt;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::UnixStream;
use vwifi_core::crypto::{Passphrase, Psk};
use vwifi_core::io::{GuestLink, GuestListener, LinkError, PeerInfo};
use vwifi_core::proto::{
    self, BssInfo, Capabilities, ConnectFailure, Counters, Credentials, ErrorCode, Event, Message,
    MessageType, ProtoError, RequestId, ScanMode, Security, Ssid, StationState, StationStatus,
};
use vwifi_core::MacAddr;

use super::*;

fn ssid() -> Ssid {
    Ssid::new(b"lab").unwrap()
}

const BSSID: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);

/// At least one message of every type, with every optional field used somewhere.
fn every_message() -> Vec<Message> {
    vec![
        Message::Hello {
            id: RequestId(1),
            version: proto::VERSION,
            capabilities: Capabilities::SCAN | Capabilities::WPA2_PSK | Capabilities::DATA,
            agent: "vwifi-guest test".into(),
        },
        Message::HelloAck {
            id: RequestId(1),
            version: proto::VERSION,
            capabilities: Capabilities::SCAN | Capabilities::DATA,
        },
        Message::Ack { id: RequestId(2) },
        Message::Error {
            id: Some(RequestId(3)),
            code: ErrorCode::Busy,
            text: Some("a scan is in progress".into()),
        },
        Message::Error {
            id: None,
            code: ErrorCode::Malformed,
            text: None,
        },
        Message::ScanRequest {
            id: RequestId(4),
            ssid: Some(ssid()),
            mode: ScanMode::Passive,
        },
        Message::ScanResults {
            id: RequestId(4),
            bss: vec![BssInfo {
                ssid: ssid(),
                bssid: BSSID,
                channel: 6,
                frequency_mhz: 2437,
                signal_dbm: -48,
                security: Security::Wpa2Psk,
                beacon_age_ms: 120,
                phy: None,
            }],
        },
        Message::Connect {
            id: RequestId(5),
            ssid: ssid(),
            bssid: Some(BSSID),
            credentials: Credentials::Passphrase(Passphrase::new("correct horse").unwrap()),
        },
        Message::Connect {
            id: RequestId(6),
            ssid: ssid(),
            bssid: None,
            credentials: Credentials::Psk(Psk::from_bytes([7; 32])),
        },
        Message::Disconnect { id: RequestId(7) },
        Message::StatusRequest { id: RequestId(8) },
        Message::Status {
            id: RequestId(8),
            status: Box::new(StationStatus {
                state: StationState::Connected,
                mac: MacAddr([0x02, 0, 0, 0, 0, 0x10]),
                ssid: Some(ssid()),
                bssid: Some(BSSID),
                channel: Some(6),
                frequency_mhz: Some(2437),
                signal_dbm: Some(-50),
                tx_rate_kbps: Some(54_000),
                phy: None,
                counters: Counters {
                    rx_packets: 1,
                    rx_bytes: 2,
                    tx_packets: 3,
                    tx_bytes: 4,
                    rx_dropped: 5,
                    tx_dropped: 6,
                },
            }),
        },
        Message::Event(Event::Connected {
            ssid: ssid(),
            bssid: BSSID,
            channel: 6,
        }),
        Message::Event(Event::Disconnected {
            reason: 3,
            locally_generated: true,
        }),
        Message::Event(Event::ConnectFailed {
            reason: ConnectFailure::WrongPassphrase,
        }),
        Message::Event(Event::SignalChanged { dbm: -61 }),
        Message::Data(Bytes::from(vec![0xab; 1514])),
        // The largest data message there is: header and body fill MAX_MESSAGE_LEN.
        Message::Data(Bytes::from(vec![
            0x5a;
            proto::MAX_MESSAGE_LEN - proto::HEADER_LEN
        ])),
    ]
}

fn encoded(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    proto::encode(msg, &mut out).unwrap();
    out
}

fn pair() -> (UnixLink, UnixLink) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        StreamLink::unix(a, PeerInfo::Anonymous, LinkConfig::default()),
        StreamLink::unix(b, PeerInfo::Anonymous, LinkConfig::default()),
    )
}

fn own_peer() -> PeerInfo {
    PeerInfo::Process {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        pid: i32::try_from(std::process::id()).ok(),
    }
}

/// Sends every message from `from` while `to` receives them, and checks they arrive as sent.
async fn exchange(from: &mut dyn GuestLink, to: &mut dyn GuestLink, msgs: &[Message]) {
    let send = async {
        for m in msgs {
            from.send(m).await.unwrap();
        }
    };
    let recv = async {
        for m in msgs {
            assert_eq!(&to.recv().await.unwrap(), m);
        }
    };
    tokio::join!(send, recv);
}

mod stream {
    use super::*;

    #[test]
    fn the_test_messages_cover_every_type() {
        let types: HashSet<_> = every_message().iter().map(Message::message_type).collect();
        assert_eq!(types.len(), MessageType::ALL.len());
    }

    #[tokio::test]
    async fn every_message_round_trips_both_ways() {
        let (mut host, mut guest) = pair();
        let msgs = every_message();
        exchange(&mut host, &mut guest, &msgs).await;
        exchange(&mut guest, &mut host, &msgs).await;
    }

    #[tokio::test]
    async fn split_halves_carry_traffic_both_ways_at_once() {
        let (host, guest) = pair();
        let (mut host_rx, mut host_tx) = (Box::new(host) as Box<dyn GuestLink>).split();
        let (mut guest_rx, mut guest_tx) = (Box::new(guest) as Box<dyn GuestLink>).split();
        let frames: Vec<Message> = (0..200u8)
            .map(|i| Message::Data(Bytes::from(vec![i; 3000])))
            .collect();
        // Both sides write more than a socket buffer holds before reading: only concurrent
        // halves get through.
        let up = {
            let frames = frames.clone();
            tokio::spawn(async move {
                for f in &frames {
                    guest_tx.send(f).await.unwrap();
                }
            })
        };
        let down = {
            let frames = frames.clone();
            tokio::spawn(async move {
                for f in &frames {
                    host_tx.send(f).await.unwrap();
                }
            })
        };
        for f in &frames {
            assert_eq!(&host_rx.recv().await.unwrap(), f);
            assert_eq!(&guest_rx.recv().await.unwrap(), f);
        }
        up.await.unwrap();
        down.await.unwrap();
    }

    /// A stream that yields its bytes one at a time, and `Pending` before each.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        ready: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if !self.ready {
                self.ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = false;
            if let Some(&b) = self.data.get(self.pos) {
                buf.put_slice(&[b]);
                self.pos += 1;
            }
            Poll::Ready(Ok(()))
        }
    }

    fn trickle(data: Vec<u8>) -> StreamRx<Trickle> {
        let stream = Trickle {
            data,
            pos: 0,
            ready: false,
        };
        StreamRx::new(stream, PeerInfo::Anonymous, LinkConfig::default())
    }

    #[tokio::test]
    async fn messages_read_one_byte_at_a_time_arrive_whole() {
        let msgs = every_message();
        let bytes: Vec<u8> = msgs.iter().flat_map(encoded).collect();
        let mut rx = trickle(bytes);
        for m in &msgs {
            assert_eq!(&rx.recv().await.unwrap(), m);
        }
        assert!(matches!(rx.recv().await, Err(LinkError::Closed)));
    }

    #[tokio::test]
    async fn end_of_stream_inside_a_message_says_how_much_arrived() {
        let mut bytes = encoded(&Message::StatusRequest { id: RequestId(1) });
        bytes.extend_from_slice(&encoded(&Message::Disconnect { id: RequestId(2) })[..5]);
        let mut rx = trickle(bytes);
        assert_eq!(
            rx.recv().await.unwrap(),
            Message::StatusRequest { id: RequestId(1) }
        );
        let err = rx.recv().await.unwrap_err();
        assert!(
            matches!(err, LinkError::ClosedMidMessage { buffered: 5 }),
            "{err:?}"
        );
        assert!(err.is_fatal());
    }

    #[tokio::test]
    async fn over_long_length_ends_the_link_without_buffering_the_body() {
        let (host, mut guest) = UnixStream::pair().unwrap();
        let (mut rx, _tx) =
            StreamLink::unix(host, PeerInfo::Anonymous, LinkConfig::default()).into_halves();
        let mut head = vec![proto::MAGIC, proto::VERSION, 0x30, 0, 0, 0, 0, 0];
        head.extend_from_slice(&u32::MAX.to_be_bytes());
        head.extend_from_slice(&[0; 4096]);
        guest.write_all(&head).await.unwrap();
        let err = rx.recv().await.unwrap_err();
        let LinkError::Protocol(ProtoError::TooLong { len, max }) = err else {
            panic!("expected TooLong, got {err:?}");
        };
        assert_eq!(
            (len, max),
            (
                u32::MAX as usize + proto::HEADER_LEN,
                proto::MAX_MESSAGE_LEN
            )
        );
        assert_eq!(rx.buffered(), 0);
        // Sticky: the stream has no framing any more, whatever follows.
        guest
            .write_all(&encoded(&Message::Ack { id: RequestId(1) }))
            .await
            .unwrap();
        assert!(matches!(
            rx.recv().await,
            Err(LinkError::Protocol(ProtoError::TooLong { .. }))
        ));
    }

    #[tokio::test]
    async fn bad_body_is_reported_with_its_request_id_and_the_link_goes_on() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut host = StreamLink::unix(a, PeerInfo::Anonymous, LinkConfig::default());
        let (raw_rx, mut raw_tx) = b.into_split();
        // Unknown message type 0x7f with request id 42 and a 2-byte body, then a good message.
        let mut bytes = vec![
            proto::MAGIC,
            proto::VERSION,
            0x7f,
            1,
            0,
            0,
            0,
            42,
            0,
            0,
            0,
            2,
        ];
        bytes.extend_from_slice(&[0xaa, 0xbb]);
        bytes.extend_from_slice(&encoded(&Message::Disconnect { id: RequestId(43) }));
        raw_tx.write_all(&bytes).await.unwrap();
        let err = host.recv().await.unwrap_err();
        assert!(!err.is_fatal());
        assert!(matches!(
            err,
            LinkError::BadMessage {
                id: Some(RequestId(42)),
                error: ProtoError::UnknownMessageType(0x7f)
            }
        ));
        assert_eq!(
            host.recv().await.unwrap(),
            Message::Disconnect { id: RequestId(43) }
        );
        // The host answers the bad message; the guest sees an Error with the same id.
        host.send(&err.error_reply().unwrap()).await.unwrap();
        let mut guest =
            StreamLink::from_halves(raw_rx, raw_tx, PeerInfo::Anonymous, LinkConfig::default());
        let Message::Error { id, code, .. } = guest.recv().await.unwrap() else {
            panic!("expected an error");
        };
        assert_eq!(
            (id, code),
            (Some(RequestId(42)), ErrorCode::UnsupportedMessage)
        );
    }

    #[tokio::test]
    async fn an_unencodable_message_is_refused_and_the_link_goes_on() {
        let (mut host, mut guest) = pair();
        let too_long = Message::Error {
            id: None,
            code: ErrorCode::Internal,
            text: Some("x".repeat(proto::MAX_ERROR_TEXT_LEN + 1)),
        };
        let err = host.send(&too_long).await.unwrap_err();
        assert!(
            matches!(err, LinkError::Encode(ProtoError::FieldTooLong { .. })),
            "{err:?}"
        );
        assert!(!err.is_fatal());
        host.send(&Message::Ack { id: RequestId(9) }).await.unwrap();
        assert_eq!(
            guest.recv().await.unwrap(),
            Message::Ack { id: RequestId(9) }
        );
    }

    #[tokio::test]
    async fn close_ends_the_peers_stream_and_later_sends_fail() {
        let (mut host, mut guest) = pair();
        host.send(&Message::Ack { id: RequestId(1) }).await.unwrap();
        host.close().await.unwrap();
        assert_eq!(
            guest.recv().await.unwrap(),
            Message::Ack { id: RequestId(1) }
        );
        assert!(matches!(guest.recv().await, Err(LinkError::Closed)));
        assert!(matches!(
            host.send(&Message::Ack { id: RequestId(2) }).await,
            Err(LinkError::Broken)
        ));
        // The other direction still works until the guest closes too.
        guest
            .send(&Message::Disconnect { id: RequestId(3) })
            .await
            .unwrap();
        assert_eq!(
            host.recv().await.unwrap(),
            Message::Disconnect { id: RequestId(3) }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_times_out_the_write() {
        let (a, _never_read) = UnixStream::pair().unwrap();
        let config = LinkConfig {
            write_timeout: Duration::from_secs(2),
            ..LinkConfig::default()
        };
        let mut host = StreamLink::unix(a, PeerInfo::Anonymous, config);
        let frame = Message::Data(Bytes::from(vec![0; 60_000]));
        let start = tokio::time::Instant::now();
        let mut sent = 0;
        let err = loop {
            match host.send(&frame).await {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1000, "the socket never filled up");
        };
        assert!(
            matches!(err, LinkError::WriteTimeout { after } if after == Duration::from_secs(2)),
            "{err:?}"
        );
        assert!(err.is_fatal());
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert!(matches!(host.send(&frame).await, Err(LinkError::Broken)));
    }

    #[tokio::test(start_paused = true)]
    async fn recv_dropped_mid_message_loses_nothing() {
        let (host_end, mut guest) = tokio::io::duplex(1 << 16);
        let mut host = StreamLink::new(host_end, PeerInfo::Anonymous, LinkConfig::default());
        let connect = every_message().swap_remove(7);
        assert_eq!(connect.message_type(), MessageType::Connect);
        let bytes = encoded(&connect);
        let chunks: Vec<&[u8]> = bytes.chunks(7).collect();
        let (last, first) = chunks.split_last().unwrap();
        let mut delivered = 0;
        for chunk in first {
            guest.write_all(chunk).await.unwrap();
            delivered += chunk.len();
            // The recv reads the chunk, then is dropped when the timer wins.
            tokio::select! {
                r = host.recv() => panic!("a partial message was returned: {r:?}"),
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            assert_eq!(host.buffered(), delivered);
        }
        guest.write_all(last).await.unwrap();
        assert_eq!(host.recv().await.unwrap(), connect);
    }

    #[tokio::test(start_paused = true)]
    async fn send_dropped_mid_message_still_delivers_it_whole_before_the_next() {
        // A 64-byte pipe: the large frame cannot be written at once.
        let (host_end, guest_end) = tokio::io::duplex(64);
        let mut host = StreamLink::new(host_end, PeerInfo::Anonymous, LinkConfig::default());
        let mut guest = StreamLink::new(guest_end, PeerInfo::Anonymous, LinkConfig::default());
        let frame = Message::Data(Bytes::from(vec![0x42; 10_000]));
        tokio::select! {
            r = host.send(&frame) => panic!("the send finished through a 64-byte pipe: {r:?}"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        let next = Message::Disconnect { id: RequestId(1) };
        let (sent, received) = tokio::join!(host.send(&next), async {
            (guest.recv().await.unwrap(), guest.recv().await.unwrap())
        });
        sent.unwrap();
        assert_eq!(received, (frame, next));
    }
}

mod listener {
    use super::*;

    fn socket_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
        dir.path().join("vwifi.sock")
    }

    async fn listen(dir: &tempfile::TempDir) -> UnixGuestListener {
        UnixGuestListener::bind(socket_path(dir), ListenerConfig::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn own_user_is_accepted_and_both_sides_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut listener = listen(&dir).await;
        let mut guest = connect(listener.path(), LinkConfig::default())
            .await
            .unwrap();
        let mut host = listener.accept_link().await.unwrap();
        assert_eq!(host.peer(), own_peer());
        assert_eq!(guest.peer(), own_peer());
        let msgs = every_message();
        exchange(&mut guest, &mut host, &msgs).await;
        exchange(&mut host, &mut guest, &msgs).await;
    }

    #[tokio::test]
    async fn a_uid_outside_the_allow_list_is_refused_and_told_why() {
        let dir = tempfile::tempdir().unwrap();
        let PeerInfo::Process { uid, .. } = own_peer() else {
            unreachable!()
        };
        let config = ListenerConfig {
            peers: PeerPolicy::nobody().allow_uid(uid.wrapping_add(1)),
            ..ListenerConfig::default()
        };
        let mut listener = UnixGuestListener::bind(socket_path(&dir), config)
            .await
            .unwrap();
        let mut guest = connect(listener.path(), LinkConfig::default())
            .await
            .unwrap();
        let err = listener.accept_link().await.unwrap_err();
        match &err {
            LinkError::PeerRejected { peer } => assert_eq!(*peer, own_peer()),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let Message::Error { id, code, text } = guest.recv().await.unwrap() else {
            panic!("expected an error message");
        };
        assert_eq!((id, code), (None, ErrorCode::NotPermitted));
        assert!(text.unwrap().contains(&format!("uid {uid}")));
        assert!(matches!(guest.recv().await, Err(LinkError::Closed)));

        // The listener goes on, and judges the next peer the same way.
        let _again = connect(listener.path(), LinkConfig::default())
            .await
            .unwrap();
        assert!(matches!(
            listener.accept_link().await,
            Err(LinkError::PeerRejected { .. })
        ));
    }

    #[tokio::test]
    async fn an_allowed_group_lets_a_peer_in() {
        let dir = tempfile::tempdir().unwrap();
        let PeerInfo::Process { gid, .. } = own_peer() else {
            unreachable!()
        };
        let config = ListenerConfig {
            peers: PeerPolicy::nobody().allow_gid(gid),
            ..ListenerConfig::default()
        };
        let mut listener = UnixGuestListener::bind(socket_path(&dir), config)
            .await
            .unwrap();
        let _guest = connect(listener.path(), LinkConfig::default())
            .await
            .unwrap();
        assert_eq!(listener.accept_link().await.unwrap().peer(), own_peer());
    }

    #[test]
    fn policies_allow_what_they_list() {
        let p = PeerPolicy::nobody().allow_uid(1000).allow_gid(27);
        assert!(p.allows(1000, 1000));
        assert!(p.allows(1001, 27));
        assert!(!p.allows(1001, 1001));
        assert!(PeerPolicy::anyone().allows(4242, 4242));
        assert!(PeerPolicy::same_user().allows(0, 0));
        assert!(PeerPolicy::default().allows(rustix::process::geteuid().as_raw(), u32::MAX));
    }

    #[tokio::test]
    async fn garbage_from_one_guest_ends_only_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let mut listener: Box<dyn GuestListener> = Box::new(listen(&dir).await);
        let path = socket_path(&dir);

        let mut bad = UnixStream::connect(&path).await.unwrap();
        let mut bad_host = listener.accept().await.unwrap();
        let mut good = connect(&path, LinkConfig::default()).await.unwrap();
        let mut good_host = listener.accept().await.unwrap();

        bad.write_all(b"GET / HTTP/1.1\r\nHost: vwifi\r\n\r\n")
            .await
            .unwrap();
        let err = bad_host.recv().await.unwrap_err();
        assert!(
            matches!(
                err,
                LinkError::Protocol(ProtoError::BadMagic { got: b'G', .. })
            ),
            "{err:?}"
        );
        assert!(err.is_fatal());
        // The host tells the peer why and closes its link.
        bad_host.send(&err.error_reply().unwrap()).await.unwrap();
        bad_host.close().await.unwrap();
        drop(bad_host);
        let mut bad = StreamLink::unix(bad, PeerInfo::Anonymous, LinkConfig::default());
        assert!(matches!(
            bad.recv().await,
            Ok(Message::Error {
                code: ErrorCode::Malformed,
                ..
            })
        ));

        // The other guest, on the same listener, is unaffected; new guests still connect.
        let msgs = every_message();
        exchange(&mut good, &mut *good_host, &msgs).await;
        exchange(&mut *good_host, &mut good, &msgs).await;
        let mut third = connect(&path, LinkConfig::default()).await.unwrap();
        let mut third_host = listener.accept().await.unwrap();
        exchange(&mut third, &mut *third_host, &msgs[..3]).await;
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        // A daemon that died leaves its socket file behind.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let mut listener = UnixGuestListener::bind(&path, ListenerConfig::default())
            .await
            .unwrap();
        let _guest = connect(&path, LinkConfig::default()).await.unwrap();
        listener.accept_link().await.unwrap();
    }

    #[tokio::test]
    async fn a_socket_in_use_is_left_alone_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        let mut first = listen(&dir).await;
        let err = UnixGuestListener::bind(&path, ListenerConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InUse { path: p } if *p == path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{} is in use: another process is serving it",
                path.display()
            )
        );
        // The first listener still serves.
        let _guest = connect(&path, LinkConfig::default()).await.unwrap();
        first.accept_link().await.unwrap();
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        std::fs::write(&path, b"precious").unwrap();
        let err = UnixGuestListener::bind(&path, ListenerConfig::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotASocket { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    }

    #[tokio::test]
    async fn binding_in_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("vwifi.sock");
        let err = UnixGuestListener::bind(&path, ListenerConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Bind { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn the_socket_gets_the_configured_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let listener = listen(&dir).await;
        let mode = std::fs::metadata(listener.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, DEFAULT_SOCKET_MODE);
        drop(listener);
        let config = ListenerConfig {
            mode: 0o600,
            ..ListenerConfig::default()
        };
        let listener = UnixGuestListener::bind(socket_path(&dir), config)
            .await
            .unwrap();
        let mode = std::fs::metadata(listener.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn dropping_the_listener_removes_only_its_own_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        drop(listen(&dir).await);
        assert!(!path.exists());

        // A listener whose file was replaced by another's leaves the new one in place.
        let old = listen(&dir).await;
        std::fs::remove_file(&path).unwrap();
        let mut new = listen(&dir).await;
        drop(old);
        assert!(path.exists());
        let _guest = connect(&path, LinkConfig::default()).await.unwrap();
        new.accept_link().await.unwrap();
    }

    #[tokio::test]
    async fn connecting_without_a_daemon_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        let err = connect(&path, LinkConfig::default()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Connect { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("cannot connect to {}", path.display())
        );
    }
}
