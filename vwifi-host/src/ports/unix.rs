//! Unix-socket guests: each link on the guests' socket is one guest (a `vwifi-guest` agent or
//! CLI), admitted through the driver and served by its own task.
//!
//! A guest's data messages that are already readable when one arrives (decoded from the same
//! read, or on the socket) go to the driver together, as one [`Command::GuestData`] of up to
//! [`DATA_BATCH`] frames: one channel message and one wake-up of the driver instead of one per
//! frame. While the driver [holds the guest back](LinkFlow) nothing is read from it.

use core::time::Duration;
use std::sync::Arc;

use std::future::Future as _;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use vwifi_core::demux::GuestId;
use vwifi_core::io::LinkError;
use vwifi_core::proto::{ErrorCode, Message};
use vwifi_transport_unix::{UnixGuestListener, UnixLink};

use crate::command::{Command, LinkFlow};
use crate::outbox::OutboxReceiver;

/// The most data frames from one guest gathered into one command for the driver.
const DATA_BATCH: usize = super::tap_io::BATCH;

/// How long a refused guest or a dying link gets to take its last message.
const LAST_WORD_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts guests until shutdown; returns the guests' tasks, still running, to be awaited.
pub(crate) async fn accept_guests(
    mut listener: UnixGuestListener,
    cmds: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            r = listener.accept_link() => r,
        };
        while tasks.try_join_next().is_some() {}
        let mut link = match accepted {
            Ok(link) => link,
            Err(e) => {
                tracing::warn!(error = %e, "a guest could not connect");
                if matches!(e, LinkError::Accept(_)) {
                    // Out of file descriptors, say: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let (reply, answer) = oneshot::channel();
        let peer = link.peer();
        if cmds.send(Command::Admit { peer, reply }).await.is_err() {
            break;
        }
        match answer.await {
            Ok(Ok(adm)) => {
                tasks.spawn(serve_guest(
                    link,
                    adm.guest,
                    adm.name,
                    adm.outbox,
                    adm.flow,
                    cmds.clone(),
                ));
            }
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "guest refused");
                let refusal = Message::Error {
                    id: None,
                    code: ErrorCode::RadioUnavailable,
                    text: Some(e.to_string()),
                };
                tasks.spawn(async move {
                    let _ = tokio::time::timeout(LAST_WORD_TIMEOUT, link.send(&refusal)).await;
                    let _ = link.close().await;
                });
            }
            Err(_) => break,
        }
    }
    tasks
}

/// What woke a guest's task.
enum Wake {
    FromGuest(Result<Message, LinkError>),
    ToGuest(Option<Message>),
    /// The driver held the guest's data back, or let it go.
    Hold,
}

/// The guest's next message if it can be had without waiting (already decoded, or readable on
/// the socket), else `None`. `UnixLink::recv` is cancel-safe: dropping it unfinished loses
/// nothing.
async fn ready_now(link: &mut UnixLink) -> Option<Result<Message, LinkError>> {
    let recv = link.recv();
    tokio::pin!(recv);
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match recv.as_mut().poll(cx) {
            std::task::Poll::Ready(r) => Some(r),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

/// Serves one guest's link: its messages to the driver, its outbox to the link.
pub(crate) async fn serve_guest(
    mut link: UnixLink,
    guest: GuestId,
    name: String,
    mut outbox: OutboxReceiver,
    flow: Arc<LinkFlow>,
    cmds: mpsc::Sender<Command>,
) {
    let mut hold = flow.hold.subscribe();
    let capacity = outbox.max_capacity();
    // A message read while gathering data, handled on the next turn.
    let mut next: Option<Result<Message, LinkError>> = None;
    let why: String = loop {
        let holding = *hold.borrow_and_update();
        let wake = match next.take() {
            Some(r) => Wake::FromGuest(r),
            None => tokio::select! {
                r = link.recv(), if !holding => Wake::FromGuest(r),
                m = outbox.recv() => Wake::ToGuest(m),
                // Never an error: this task holds the sender (in `flow`) itself.
                _ = hold.changed() => Wake::Hold,
            },
        };
        match wake {
            Wake::Hold => {}
            Wake::FromGuest(Ok(Message::Data(frame))) => {
                let mut frames = vec![frame];
                while frames.len() < DATA_BATCH && !*hold.borrow() {
                    match ready_now(&mut link).await {
                        Some(Ok(Message::Data(f))) => frames.push(f),
                        Some(other) => {
                            next = Some(other);
                            break;
                        }
                        None => break,
                    }
                }
                let cmd = match frames.len() {
                    1 => Command::Guest {
                        guest,
                        msg: Message::Data(frames.remove(0)),
                    },
                    _ => Command::GuestData { guest, frames },
                };
                if cmds.send(cmd).await.is_err() {
                    break "the daemon is stopping".into();
                }
            }
            Wake::FromGuest(Ok(msg)) => {
                if cmds.send(Command::Guest { guest, msg }).await.is_err() {
                    break "the daemon is stopping".into();
                }
            }
            Wake::FromGuest(Err(e)) if !e.is_fatal() => {
                tracing::debug!(guest = guest.0, %name, error = %e, "bad message from a guest");
                if let Some(reply) = e.error_reply() {
                    if let Err(e) = link.send(&reply).await {
                        break e.to_string();
                    }
                }
            }
            Wake::FromGuest(Err(e)) => {
                if let Some(reply) = e.error_reply() {
                    let _ = tokio::time::timeout(LAST_WORD_TIMEOUT, link.send(&reply)).await;
                }
                break e.to_string();
            }
            Wake::ToGuest(Some(msg)) => {
                if let Err(e) = link.send(&msg).await {
                    break e.to_string();
                }
                if flow.drained(outbox.len(), capacity)
                    && cmds.send(Command::Drained { guest }).await.is_err()
                {
                    break "the daemon is stopping".into();
                }
            }
            Wake::ToGuest(None) => {
                // The driver let the guest go (shutdown): everything queued was written.
                let _ = link.close().await;
                tracing::debug!(guest = guest.0, %name, "guest link closed");
                return;
            }
        }
    };
    tracing::info!(guest = guest.0, %name, reason = %why, "guest link ended");
    let _ = cmds.send(Command::Gone { guest }).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use vwifi_core::io::PeerInfo;
    use vwifi_core::proto::RequestId;
    use vwifi_transport_unix::LinkConfig;

    fn link(stream: tokio::net::UnixStream) -> UnixLink {
        let (r, w) = stream.into_split();
        UnixLink::from_halves(r, w, PeerInfo::Anonymous, LinkConfig::default())
    }

    #[tokio::test]
    async fn data_already_sent_goes_to_the_driver_as_one_batch_in_order_before_later_control() {
        let (host, guest) = tokio::net::UnixStream::pair().unwrap();
        let mut guest = link(guest);
        let frames: Vec<Bytes> = (0..3u8).map(|i| Bytes::from(vec![i; 60])).collect();
        for f in &frames {
            guest.send(&Message::Data(f.clone())).await.unwrap();
        }
        let status = Message::StatusRequest { id: RequestId(3) };
        guest.send(&status).await.unwrap();
        let (_out_tx, out_rx) = crate::outbox::outbox(8);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let task = tokio::spawn(serve_guest(
            link(host),
            GuestId(1),
            "t".into(),
            out_rx,
            Arc::default(),
            cmd_tx,
        ));
        match cmd_rx.recv().await {
            Some(Command::GuestData { guest, frames: got }) => {
                assert_eq!(guest, GuestId(1));
                assert_eq!(got, frames);
            }
            other => panic!("{other:?}"),
        }
        match cmd_rx.recv().await {
            Some(Command::Guest { msg, .. }) => assert_eq!(msg, status),
            other => panic!("{other:?}"),
        }
        task.abort();
    }
}
