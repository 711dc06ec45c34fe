//! A socket guest of the daemon under test, as `vwifi-guest agent` is: hello, join, status,
//! and waiting for the message a test expects.

use std::path::Path;
use std::time::Duration;

use tokio::time::{timeout, Instant};
use vwifi_core::crypto::Passphrase;
use vwifi_core::proto::{Capabilities, Credentials, Event, Message, RequestId, Ssid};
use vwifi_core::MacAddr;
use vwifi_transport_unix::{connect, LinkConfig, UnixLink};

use super::LAB_PASSPHRASE;

/// Receives until `pick` returns something, within `limit`.
pub(crate) async fn recv_until<T>(
    link: &mut UnixLink,
    limit: Duration,
    mut pick: impl FnMut(&Message) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = timeout(left, link.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing expected arrived within {limit:?}"))
            .expect("link broken");
        if let Some(t) = pick(&msg) {
            return t;
        }
    }
}

/// Connects a guest, says hello, joins vwifi-lab, and returns its link and MAC address.
pub(crate) async fn join_lab(socket: &Path, agent: &str) -> (UnixLink, MacAddr) {
    let mut link = connect(socket, LinkConfig::default())
        .await
        .expect("connect to the daemon");
    link.send(&Message::Hello {
        id: RequestId(1),
        version: 1,
        capabilities: Capabilities::from_bits_retain(
            Capabilities::OPEN.bits()
                | Capabilities::WPA2_PSK.bits()
                | Capabilities::EVENTS.bits()
                | Capabilities::DATA.bits(),
        ),
        agent: agent.into(),
    })
    .await
    .expect("send Hello");
    recv_until(&mut link, Duration::from_secs(5), |m| {
        matches!(
            m,
            Message::HelloAck {
                id: RequestId(1),
                ..
            }
        )
        .then_some(())
    })
    .await;
    link.send(&Message::Connect {
        id: RequestId(2),
        ssid: Ssid::new(b"vwifi-lab").expect("ssid"),
        bssid: None,
        credentials: Credentials::Passphrase(Passphrase::new(LAB_PASSPHRASE).expect("valid")),
    })
    .await
    .expect("send Connect");
    recv_until(&mut link, Duration::from_secs(30), |m| match m {
        Message::Event(Event::Connected { ssid, .. }) => {
            assert_eq!(ssid.as_bytes(), b"vwifi-lab");
            Some(())
        }
        Message::Event(Event::ConnectFailed { reason }) => panic!("{agent}: failed: {reason:?}"),
        _ => None,
    })
    .await;
    link.send(&Message::StatusRequest { id: RequestId(3) })
        .await
        .expect("send StatusRequest");
    let mac = recv_until(&mut link, Duration::from_secs(5), |m| match m {
        Message::Status { status, .. } => Some(status.mac),
        _ => None,
    })
    .await;
    (link, mac)
}
