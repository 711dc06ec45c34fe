//! `vwifi-guest radio`: this VM's own `mac80211_hwsim` radio on the host's simulated air.
//!
//! ```text
//!  wpa_supplicant/hostapd/iw ─ nl80211 ─ mac80211_hwsim ─ generic netlink ─ vwifi-guest radio
//!                                                                              │ Data messages
//!  vwifi-host: the radio, a node of the air ◀─ virtio-serial / vsock / socket ─┘
//! ```
//!
//! The agent registers as the medium of the VM's hwsim radios
//! ([`vwifi_netlink::hwsim::HwsimMedium`]) and relays every netlink datagram the
//! kernel sends (frames, address announcements) to the host as a guest-protocol `Data` message,
//! and every `Data` message from the host (frames for the radio, transmit reports) to the
//! kernel, unchanged: the host parses and builds the hwsim messages (the first message tells it
//! the family's id). It ends on SIGINT/SIGTERM or when the host goes away; the kernel's own
//! medium takes the radio back then.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use vwifi_core::proto::Message;
use vwifi_netlink::hwsim::{relay_hello, HwsimMedium};

use crate::agent::HostEndpoint;
use crate::GuestError;

/// The default socket name of the host's radio relay (in the runtime directory).
pub const RADIO_SOCKET_NAME: &str = "radio.sock";

/// Datagrams read from the kernel and not yet sent to the host; beyond, the reader waits
/// (and the kernel, whose socket buffer fills, drops and reports `ENOBUFS`).
const QUEUE: usize = 1024;

/// Bad messages from the host after which the relay gives up.
const MAX_BAD_MESSAGES: u32 = 100;

/// Relays this VM's hwsim radios to the host at `host` until a signal or the link ends.
pub async fn run(host: HostEndpoint) -> Result<(), GuestError> {
    let medium = tokio::task::spawn_blocking(HwsimMedium::register)
        .await
        .map_err(|e| GuestError::Radio(std::io::Error::other(e)))?
        .map_err(GuestError::Radio)?;
    let medium = Arc::new(medium);
    let mut link = host.open().await?;
    link.send(&Message::Data(Bytes::from(relay_hello(medium.family()))))
        .await
        .map_err(GuestError::Link)?;
    tracing::info!(family = medium.family(), %host, "relaying this VM's hwsim radios to the host");
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(QUEUE);
    let reader = Arc::clone(&medium);
    std::thread::Builder::new()
        .name("vwifi-radio-rx".into())
        .spawn(move || {
            let mut buf = Vec::new();
            loop {
                let item = reader
                    .recv(&mut buf)
                    .map(|n| buf.get(..n).unwrap_or(&[]).to_vec());
                let fatal = match &item {
                    Ok(_) => false,
                    Err(e) => e.raw_os_error() != Some(rustix::io::Errno::NOBUFS.raw_os_error()),
                };
                if tx.blocking_send(item).is_err() || fatal {
                    return;
                }
            }
        })
        .map_err(GuestError::Radio)?;
    // Sending to the host and receiving from it never wait for each other (both sides only
    // reading between sends could deadlock once the port's buffers are full).
    let (mut link_rx, mut link_tx) = link.split();
    let mut up = tokio::spawn(async move {
        let mut sent = 0u64;
        while let Some(dgram) = rx.recv().await {
            match dgram {
                Ok(d) => {
                    sent += 1;
                    link_tx
                        .send(&Message::Data(Bytes::from(d)))
                        .await
                        .map_err(GuestError::Link)?;
                }
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                    tracing::warn!("the kernel dropped hwsim messages (receive buffer full)");
                }
                Err(e) => return Err(GuestError::Radio(e)),
            }
        }
        Ok(sent)
    });
    let stop = crate::agent::shutdown_signal();
    tokio::pin!(stop);
    let (mut down, mut bad) = (0u64, 0u32);
    loop {
        tokio::select! {
            () = &mut stop => break,
            ended = &mut up => {
                return match ended {
                    Ok(Err(e)) => Err(e),
                    _ => Err(GuestError::Radio(std::io::Error::other("the netlink reader ended"))),
                };
            }
            msg = link_rx.recv() => match msg {
                Ok(Message::Data(d)) => {
                    down += 1;
                    if let Err(e) = medium.send(&d) {
                        tracing::debug!(error = %e, "the kernel refused a message from the host");
                    }
                }
                Ok(other) => tracing::debug!(?other, "ignored a message from the host"),
                Err(e) if e.is_fatal() => return Err(GuestError::Link(e)),
                Err(e) => {
                    // Never spin on a link that keeps failing: this VM may have one CPU.
                    bad += 1;
                    tracing::warn!(error = %e, bad, "a bad message from the host");
                    if bad > MAX_BAD_MESSAGES {
                        return Err(GuestError::Link(e));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
        }
    }
    up.abort();
    tracing::info!(from_host = down, "radio relay stopped");
    Ok(())
}
