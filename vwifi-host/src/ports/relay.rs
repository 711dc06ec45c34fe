//! The radio relay socket (`[hwsim] relay_socket`): VMs' own hwsim radios, relayed by
//! `vwifi-guest radio` over a virtio-serial port, vsock or a Unix socket whose host end is this
//! socket (see [`crate::hwsim::relay`]).
//!
//! Each connection is one VM: its first message is the relay hello (`Data`, the VM kernel's
//! hwsim family id); every later `Data` message is one netlink datagram of the VM's kernel,
//! handed to the driver as it is; what the air has for the VM's radios comes back the same way.
//! Links speak the guest protocol's framing (the same transport as the guests' socket).

use core::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use vwifi_core::proto::Message;
use vwifi_transport_unix::{UnixGuestListener, UnixLink};

use crate::command::Command;

/// Messages for one VM's kernel waiting for its link; beyond, they are dropped and counted.
const OUTBOX: usize = 1024;

/// Accepts relay links until shutdown; each is served on a task of its own.
pub(crate) async fn serve_relays(
    mut listener: UnixGuestListener,
    cmds: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            r = listener.accept_link() => r,
        };
        while tasks.try_join_next().is_some() {}
        match accepted {
            Ok(link) => {
                tasks.spawn(serve_relay(link, cmds.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "a radio relay could not connect");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tasks.abort_all();
}

/// Resolves when `task` has finished (polled every second: the loop's other arm is the link).
async fn closed(task: &tokio::task::JoinHandle<()>) {
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Serves one VM's relay link until it ends.
async fn serve_relay(mut link: UnixLink, cmds: mpsc::Sender<Command>) {
    let peer = link.peer();
    // No deadline: a VMM connects a virtio-serial port when the VM starts, long before its
    // agent runs; an idle link costs one task.
    let family = match link.recv().await {
        Ok(Message::Data(d)) => vwifi_netlink::hwsim::parse_relay_hello(&d),
        _ => None,
    };
    let Some(family) = family else {
        tracing::warn!(%peer, "a radio relay link did not start with the relay hello: closed");
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let name = format!("vm relay ({peer})");
    if cmds
        .send(Command::RelayOpen {
            name,
            family,
            tx,
            reply,
        })
        .await
        .is_err()
    {
        return;
    }
    let Ok(Some(id)) = answer.await else {
        tracing::warn!(%peer, "a radio relay was refused (the daemon is not the medium of hwsim radios, or 255 relays are open)");
        return;
    };
    // Reading never waits for writing (and the other way round): a relay that both sides
    // only read between their sends could deadlock once both streams' buffers are full.
    let (mut rx_half, mut tx_half) = link.into_halves();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if let Err(e) = tx_half.send(&Message::Data(bytes)).await {
                tracing::info!(relay = id, error = %e, "a radio relay link failed");
                return;
            }
        }
    });
    loop {
        tokio::select! {
            m = rx_half.recv() => match m {
                Ok(Message::Data(datagram)) => {
                    if cmds.send(Command::RelayData { id, datagram }).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) if e.is_fatal() => {
                    tracing::info!(relay = id, error = %e, "a radio relay link ended");
                    break;
                }
                Err(e) => tracing::debug!(relay = id, error = %e, "a bad message on a radio relay"),
            },
            _ = closed(&writer) => break,
        }
    }
    writer.abort();
    let _ = cmds.send(Command::RelayGone { id }).await;
}
