//! One loop for every Ethernet port whose guest speaks in-band control: a container's TAP
//! ([`super::netns`]) and a VM's vhost-user NIC ([`super::vhost_user`]).
//!
//! [`serve`] runs one guest's port until the driver lets the guest go or the port ends:
//! - a frame from the guest is classified ([`vwifi_core::proto::inband::classify`]): a control
//!   frame's message goes to the driver and its source becomes the peer answers go to; a bad
//!   one is answered with its error reply (if the port [allows](EthernetPort::answer_bad_control));
//!   any other frame is the station's data (if the port [takes it](EthernetPort::take_data));
//! - a message from the driver is the station's data from the air (written to the port, unless
//!   it is a control frame: only the host speaks control on the link) or a control message,
//!   framed from [`HOST_MAC`] to the peer, cut to one frame
//!   ([`vwifi_core::proto::inband::frame_truncating`]); an event that changes the association
//!   [moves the link](EthernetPort::follow_link) before the guest hears of it.
//!
//! While the driver [holds the guest's data back](crate::command::LinkFlow) the loop does not
//! read the guest (the frames already read go on), and after each write it tells the driver
//! when its outbox has room again for what the driver kept back.
//!
//! What differs between ports (how to read and write, what to count and drop early, how the link
//! shows the association, what closing means) is the [`EthernetPort`] trait.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;
use vwifi_core::demux::GuestId;
use vwifi_core::io::LinkError;
use vwifi_core::proto::inband::{self, InbandFrame};
use vwifi_core::proto::{Event, Message};
use vwifi_core::MacAddr;

use crate::command::{Command, LinkFlow};
use crate::outbox::OutboxReceiver;

/// Why a port's loop ends when the driver is gone: [`EthernetPort::ended`] hears it.
pub(crate) const STOPPING: &str = "the daemon is stopping";
/// The source address of the host's in-band control frames: locally administered, unicast.
pub(crate) const HOST_MAC: MacAddr = MacAddr([0x02, 0x76, 0x77, 0x69, 0x66, 0x69]);

/// What the guest's side of a port gave.
#[derive(Debug)]
pub(crate) enum FromPort {
    /// A frame the guest sent.
    Frame(Bytes),
    /// Nothing for the driver (a periodic check passed); the loop goes on.
    Idle,
    /// The port ended, for this reason.
    Ended(String),
}

/// An Ethernet port served by [`serve`]: what differs between a TAP and a vhost-user NIC.
#[async_trait]
pub(crate) trait EthernetPort: Send {
    /// What the port is, for its log lines (`TAP`, `vhost-user`).
    const KIND: &'static str;

    /// The next frame from the guest, a check that passed, or the end of the port.
    async fn recv(&mut self) -> FromPort;

    /// Writes one frame to the guest; an error ends the port (a port that drops frames when
    /// full says so itself and returns `Ok`).
    async fn send(&mut self, frame: Bytes) -> std::io::Result<()>;

    /// Writes a batch of data frames to the guest, in order; an error ends the port. Default:
    /// one [`send`](Self::send) each (a TAP with offloads coalesces them instead).
    async fn send_batch(&mut self, frames: &[Bytes]) -> std::io::Result<()> {
        for f in frames {
            self.send(f.clone()).await?;
        }
        Ok(())
    }

    /// Whether frames already read are waiting to be handed out by [`recv`](Self::recv)
    /// without a wait: the loop then gathers the guest's data into one
    /// [`Command::GuestData`] instead of one command per frame. Default: never.
    fn has_pending(&self) -> bool {
        false
    }

    /// Whether a data frame from `src` goes on to the driver while the station is (or is not)
    /// `associated`; a port may drop, and count, what the Mux would drop anyway. Default: all.
    fn take_data(&mut self, _src: MacAddr, _associated: bool) -> bool {
        true
    }

    /// A control frame did not decode: whether to answer it (a port may count it and limit
    /// its answers). Default: always.
    fn answer_bad_control(&mut self) -> bool {
        true
    }

    /// The station associated (`up`) or left: show it on the link.
    async fn follow_link(&mut self, up: bool);

    /// The driver let the guest go (detach, removal or shutdown): close the port.
    async fn close(&mut self);

    /// The port ended by itself for `why` (logged by the port, which knows its counters).
    fn ended(&mut self, why: &str);
}

/// How an event from the driver moves the link: up on `Connected`, down on `Disconnected` and
/// `ConnectFailed`, unchanged otherwise.
pub(crate) fn link_change(msg: &Message) -> Option<bool> {
    match msg {
        Message::Event(Event::Connected { .. }) => Some(true),
        Message::Event(Event::Disconnected { .. } | Event::ConnectFailed { .. }) => Some(false),
        _ => None,
    }
}

/// The most frames of the guest's data gathered from its port for one command to the driver.
const SEND_BATCH: usize = super::tap_io::BATCH;

/// The most data messages from the driver written to a port in one turn: two runs of TCP
/// segments as long as [`vwifi_core::offload::coalesce`] joins, so that a run the driver
/// delivered in one turn is rarely cut in two by the end of a write batch (each half would
/// reach the guest's kernel as a packet of its own, and be acknowledged on its own).
const WRITE_BATCH: usize = 2 * vwifi_core::offload::MAX_COALESCED_SEGMENTS;

/// What woke a port's task.
enum Wake {
    FromPort(FromPort),
    ToGuest(Option<Message>),
    /// The driver held the guest's data back, or let it go.
    Hold,
}

/// Serves one guest's port until the driver lets the guest go or the port ends. See the
/// [module documentation](self).
pub(crate) async fn serve<P: EthernetPort>(
    mut port: P,
    guest: GuestId,
    name: String,
    station: MacAddr,
    mut outbox: OutboxReceiver,
    flow: Arc<LinkFlow>,
    cmds: mpsc::Sender<Command>,
) {
    let mut hold = flow.hold.subscribe();
    let capacity = outbox.max_capacity();
    // Answers go to whoever asked last; before anyone asked, to the station's own address.
    let mut peer = station;
    let mut associated = false;
    // The data written in one turn.
    let mut out_frames: Vec<Bytes> = Vec::new();
    // The guest's data gathered from one read, for one command to the driver.
    let mut to_driver: Vec<Bytes> = Vec::new();
    let why: String = loop {
        let holding = *hold.borrow_and_update();
        if (holding || !port.has_pending() || to_driver.len() >= SEND_BATCH)
            && flush(&mut to_driver, guest, &cmds).await.is_err()
        {
            break STOPPING.into();
        }
        let wake = tokio::select! {
            r = port.recv(), if !holding => Wake::FromPort(r),
            m = outbox.recv() => Wake::ToGuest(m),
            // Never an error: the port holds the sender (in `flow`) itself.
            _ = hold.changed() => Wake::Hold,
        };
        let msg = match wake {
            Wake::Hold => continue,
            Wake::FromPort(FromPort::Idle) => continue,
            Wake::FromPort(FromPort::Ended(why)) => break why,
            Wake::FromPort(FromPort::Frame(frame)) => match inband::classify(&frame) {
                InbandFrame::Runt => continue,
                InbandFrame::Data { src, .. } => {
                    // Gathered; sent at the top of the loop once the read's frames are
                    // all handed out (or a batch is full).
                    if port.take_data(src, associated) {
                        to_driver.push(frame);
                    }
                    continue;
                }
                InbandFrame::Control {
                    src, msg: Ok(msg), ..
                } => {
                    if !src.is_group() {
                        peer = src;
                    }
                    // The data read before it goes first.
                    if flush(&mut to_driver, guest, &cmds).await.is_err() {
                        break STOPPING.into();
                    }
                    msg
                }
                InbandFrame::Control {
                    src, msg: Err(bad), ..
                } => {
                    let e = LinkError::from(bad);
                    tracing::debug!(guest = guest.0, %name, error = %e, "bad in-band message");
                    if !port.answer_bad_control() {
                        continue;
                    }
                    if let Some(reply) = e.error_reply() {
                        if !src.is_group() {
                            peer = src;
                        }
                        if let Err(e) = send_control(&mut port, reply, peer, &name).await {
                            break write_failed::<P>(&e);
                        }
                    }
                    continue;
                }
            },
            Wake::ToGuest(Some(Message::Data(frame))) => {
                // Take the data queued behind it too (up to a batch, under one lock), written
                // together; a message of another kind waits for the next turn.
                out_frames.clear();
                out_frames.push(frame);
                outbox.take_data(&mut out_frames, WRITE_BATCH);
                out_frames.retain(|f| {
                    // Only the host speaks control on the link: the guest must not take a
                    // frame from the air for the host's answer.
                    let control = matches!(inband::classify(f), InbandFrame::Control { .. });
                    if control {
                        tracing::debug!(guest = guest.0, %name, "control frame from the air dropped");
                    }
                    !control
                });
                if let Err(e) = port.send_batch(&out_frames).await {
                    break write_failed::<P>(&e);
                }
                if flow.drained(outbox.len(), capacity)
                    && cmds.send(Command::Drained { guest }).await.is_err()
                {
                    break STOPPING.into();
                }
                continue;
            }
            Wake::ToGuest(Some(msg)) => {
                // The link follows the association; set before the guest hears of it.
                if let Some(up) = link_change(&msg) {
                    associated = up;
                    port.follow_link(up).await;
                }
                if let Err(e) = send_control(&mut port, msg, peer, &name).await {
                    break write_failed::<P>(&e);
                }
                continue;
            }
            Wake::ToGuest(None) => {
                port.close().await;
                return;
            }
        };
        if cmds.send(Command::Guest { guest, msg }).await.is_err() {
            break STOPPING.into();
        }
    };
    port.ended(&why);
    let _ = cmds.send(Command::Gone { guest }).await;
}

/// Sends the gathered data frames to the driver, if any: one [`Command::Guest`] for a single
/// frame, one [`Command::GuestData`] for more. An error means the driver is gone.
async fn flush(
    frames: &mut Vec<Bytes>,
    guest: GuestId,
    cmds: &mpsc::Sender<Command>,
) -> Result<(), mpsc::error::SendError<Command>> {
    let cmd = match frames.len() {
        0 => return Ok(()),
        1 => Command::Guest {
            guest,
            msg: Message::Data(frames.remove(0)),
        },
        _ => Command::GuestData {
            guest,
            frames: std::mem::take(frames),
        },
    };
    cmds.send(cmd).await
}

/// Why a port whose write failed ends.
fn write_failed<P: EthernetPort>(e: &std::io::Error) -> String {
    format!("{} write failed: {e}", P::KIND)
}

/// Writes one control message to the port, from [`HOST_MAC`] to `dst`; a message that cannot
/// be framed is logged and dropped, a write error is returned.
async fn send_control<P: EthernetPort>(
    port: &mut P,
    msg: Message,
    dst: MacAddr,
    name: &str,
) -> std::io::Result<()> {
    match inband::frame_truncating(msg, HOST_MAC, dst) {
        Ok((frame, cut)) => {
            if cut > 0 {
                tracing::info!(%name, cut, "scan result cut to fit one frame");
            }
            port.send(Bytes::from(frame)).await
        }
        Err(e) => {
            tracing::warn!(%name, error = %e, "control message dropped: it does not fit a frame");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use vwifi_core::proto::{RequestId, Ssid};

    /// A port fed from a list of frames, recording what is written and the link.
    #[derive(Default, Clone)]
    struct Fake {
        inbox: Arc<Mutex<Vec<Bytes>>>,
        written: Arc<Mutex<Vec<Bytes>>>,
        link: Arc<Mutex<Vec<bool>>>,
        closed: Arc<Mutex<bool>>,
        /// Whether the inbox counts as one read's frames ([`EthernetPort::has_pending`]).
        batched: bool,
        /// The association `take_data` is told to assume, if set.
        assume_associated: bool,
    }

    #[async_trait]
    impl EthernetPort for Fake {
        const KIND: &'static str = "fake";

        async fn recv(&mut self) -> FromPort {
            let next = self.inbox.lock().unwrap().pop();
            match next {
                Some(f) => FromPort::Frame(f),
                None => std::future::pending().await,
            }
        }
        async fn send(&mut self, frame: Bytes) -> std::io::Result<()> {
            self.written.lock().unwrap().push(frame);
            Ok(())
        }
        fn has_pending(&self) -> bool {
            self.batched && !self.inbox.lock().unwrap().is_empty()
        }
        fn take_data(&mut self, _src: MacAddr, associated: bool) -> bool {
            associated || self.assume_associated
        }
        async fn follow_link(&mut self, up: bool) {
            self.link.lock().unwrap().push(up);
        }
        async fn close(&mut self) {
            *self.closed.lock().unwrap() = true;
        }
        fn ended(&mut self, _why: &str) {}
    }

    const STA: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const ASKER: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn data(src: MacAddr) -> Bytes {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.resize(60, 0);
        Bytes::from(f)
    }

    #[tokio::test]
    async fn control_goes_to_the_driver_answers_to_the_asker_and_the_link_follows_events() {
        let port = Fake::default();
        let status = Message::StatusRequest { id: RequestId(4) };
        let req = inband::frame(&status, ASKER, MacAddr::BROADCAST).unwrap();
        let mut bad = req.clone();
        bad[16] = 0x7f;
        // Popped from the end: the request, data before association, then a bad message.
        *port.inbox.lock().unwrap() = vec![Bytes::from(bad), data(STA), Bytes::from(req)];
        let (out_tx, out_rx) = crate::outbox::outbox(8);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let task = tokio::spawn(serve(
            port.clone(),
            GuestId(1),
            "t".into(),
            STA,
            out_rx,
            Arc::default(),
            cmd_tx,
        ));
        match cmd_rx.recv().await {
            Some(Command::Guest { msg, .. }) => assert_eq!(msg, status),
            other => panic!("{other:?}"),
        }
        // The data and the bad message come next, then the port is idle: wait for the reply.
        for _ in 0..1000 {
            if !port.written.lock().unwrap().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(port.written.lock().unwrap().len(), 1);
        out_tx
            .try_send(Message::Event(Event::Connected {
                ssid: Ssid::new(b"lab").unwrap(),
                bssid: MacAddr([2, 0, 0, 0, 0, 2]),
                channel: 1,
            }))
            .unwrap();
        // From the air: a control frame is dropped, data is written.
        out_tx
            .try_send(Message::Data(Bytes::from(
                inband::frame(&status, ASKER, STA).unwrap(),
            )))
            .unwrap();
        out_tx.try_send(Message::Data(data(ASKER))).unwrap();
        drop(out_tx);
        task.await.unwrap();
        assert!(*port.closed.lock().unwrap());
        assert_eq!(*port.link.lock().unwrap(), vec![true]);
        let written = port.written.lock().unwrap().clone();
        // The bad message's error reply, the event, the data: all answers to the asker.
        assert_eq!(written.len(), 3, "{written:?}");
        for w in &written[..2] {
            match inband::classify(w) {
                InbandFrame::Control { dst, src, .. } => {
                    assert_eq!((dst, src), (ASKER, HOST_MAC));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(written[2], data(ASKER));
        // The data sent before association was not taken.
        assert!(cmd_rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_held_port_stops_reading_the_guest_and_says_when_its_outbox_drained() {
        let port = Fake {
            assume_associated: true,
            ..Fake::default()
        };
        *port.inbox.lock().unwrap() = vec![data(STA), data(STA)];
        let flow = Arc::new(LinkFlow::default());
        flow.hold.send_replace(true);
        let (out_tx, out_rx) = crate::outbox::outbox(8);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let task = tokio::spawn(serve(
            port.clone(),
            GuestId(1),
            "t".into(),
            STA,
            out_rx,
            Arc::clone(&flow),
            cmd_tx,
        ));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        // Held: the guest's frames stay unread.
        assert_eq!(port.inbox.lock().unwrap().len(), 2);
        assert!(cmd_rx.try_recv().is_err());
        // Writing to the guest goes on meanwhile; with messages kept back in the driver, the
        // port says when its outbox has room.
        flow.backlog
            .store(true, std::sync::atomic::Ordering::Release);
        out_tx.try_send(Message::Data(data(ASKER))).unwrap();
        match cmd_rx.recv().await {
            Some(Command::Drained { guest }) => assert_eq!(guest, GuestId(1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(port.written.lock().unwrap().len(), 1);
        assert!(!flow.backlog.load(std::sync::atomic::Ordering::Acquire));
        // Let go: the frames read go to the driver.
        flow.hold.send_replace(false);
        for _ in 0..2 {
            match cmd_rx.recv().await {
                Some(Command::Guest {
                    msg: Message::Data(f),
                    ..
                }) => assert_eq!(f, data(STA)),
                other => panic!("{other:?}"),
            }
        }
        assert!(port.inbox.lock().unwrap().is_empty());
        task.abort();
    }

    #[tokio::test]
    async fn one_reads_data_goes_to_the_driver_as_one_batch_in_order_and_before_later_control() {
        let port = Fake {
            batched: true,
            assume_associated: true,
            ..Fake::default()
        };
        let status = Message::StatusRequest { id: RequestId(7) };
        let req = inband::frame(&status, ASKER, MacAddr::BROADCAST).unwrap();
        let frame = |i: u8| {
            let mut f = data(STA).to_vec();
            f[20] = i;
            Bytes::from(f)
        };
        // Popped from the end: three data frames, a control request, one more data frame.
        *port.inbox.lock().unwrap() =
            vec![frame(4), Bytes::from(req), frame(3), frame(2), frame(1)];
        let (_out_tx, out_rx) = crate::outbox::outbox(8);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let task = tokio::spawn(serve(
            port,
            GuestId(1),
            "t".into(),
            STA,
            out_rx,
            Arc::default(),
            cmd_tx,
        ));
        match cmd_rx.recv().await {
            Some(Command::GuestData { guest, frames }) => {
                assert_eq!(guest, GuestId(1));
                assert_eq!(frames, vec![frame(1), frame(2), frame(3)]);
            }
            other => panic!("{other:?}"),
        }
        match cmd_rx.recv().await {
            Some(Command::Guest { msg, .. }) => assert_eq!(msg, status),
            other => panic!("{other:?}"),
        }
        // The last frame of the read, alone: an ordinary data message.
        match cmd_rx.recv().await {
            Some(Command::Guest { msg, .. }) => assert_eq!(msg, Message::Data(frame(4))),
            other => panic!("{other:?}"),
        }
        task.abort();
    }
}
