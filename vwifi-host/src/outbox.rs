//! A guest's outbox: the messages the driver hands to a guest's port, in order, at most
//! `capacity` of them waiting.
//!
//! A bounded channel like tokio's `mpsc`, with one difference that matters to the data path:
//! the driver hands a turn's messages for a guest over **together** ([`OutboxSender::batch`]:
//! one lock, one wake-up of the port at the end). With a channel that wakes its receiver on
//! every send, the port's task woke on a turn's first frame, took it alone and slept again,
//! and the driver's next send woke it again: a VM's port took a turn's 32-63 frames in pieces
//! of one to three (43 000 of 52 000 wake-ups found nothing more waiting), every piece went to
//! the VM as a packet of its own instead of one coalesced run, and each wake-up cost the
//! driver a system call.
//!
//! The port's side ([`OutboxReceiver`]) is cancel-safe: [`OutboxReceiver::recv`] loses nothing
//! when it loses a `select!`.
//!
//! It is also the guest's **receive stage**: the Mux hands a connected station's protected
//! data frames over sealed ([`GuestItem::Sealed`], see `vwifi_core::station::rx_stage`), and
//! the port's side opens them as it takes them ([`ItemOpener`]: decrypted together, replay
//! checked, A-MSDUs split), on the port's thread instead of the driver's. The Ethernet frames
//! come out as [`Message::Data`] in their place, in order. An EAPOL frame found in one (a
//! rekey) is kept for the driver ([`OutboxSender::take_eapol`]), which the outbox wakes
//! ([`EapolWake`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;
use vwifi_core::mux::{GuestItem, ItemOpener};
use vwifi_core::proto::Message;
use vwifi_core::wire::EthernetFrame;

/// The most sealed frames opened together by one take of the port.
const OPEN_BATCH: usize = 64;

/// Why [`OutboxBatch::try_push`] did not take a message (it is handed back).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// `capacity` messages are waiting.
    Full(GuestItem),
    /// The port's side is gone (the guest's task ended).
    Closed(GuestItem),
}

/// Why [`OutboxReceiver::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryRecvError {
    /// Nothing waits now.
    Empty,
    /// Nothing waits and the driver let go of the outbox.
    Disconnected,
}

/// Wakes the driver when a port found EAPOL frames in sealed ones; one for all the guests'
/// outboxes.
///
/// A flag goes with the wake-up: the driver takes it every turn ([`EapolWake::take`]), so
/// frames found are taken at the driver's next turn even if a wake-up were lost (a
/// `Notified` that loses a `select!` hands its permit on, but nothing here depends on it).
#[derive(Debug, Default)]
pub(crate) struct EapolWake {
    notify: Notify,
    /// Frames were found since the driver last took the flag.
    pending: AtomicBool,
}

impl EapolWake {
    /// Nothing found yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Frames were found: raises the flag, then wakes the driver.
    fn wake(&self) {
        self.pending.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Waits until a port finds frames (at once if it did since the last wait).
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Whether frames were found since the last call (the flag is lowered).
    pub(crate) fn take(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }
}

/// What the two sides share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the port: something was pushed, or the driver let go.
    wake: Notify,
    /// Wakes the driver: the port found EAPOL frames in sealed ones ([`State::eapol`]).
    eapol_wake: Option<Arc<EapolWake>>,
    capacity: usize,
    /// How many times a waiting [`OutboxReceiver::recv`] was woken (tests count wake-ups).
    #[cfg(test)]
    woken: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<GuestItem>,
    /// EAPOL frames the port found in sealed frames, for the station.
    eapol: Vec<EthernetFrame>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds valid messages.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A guest's outbox that wakes no driver ([`outbox_waking`]).
#[cfg(test)]
pub(crate) fn outbox(capacity: usize) -> (OutboxSender, OutboxReceiver) {
    outbox_waking(capacity, None)
}

/// A guest's outbox of `capacity` messages (at least one): the driver's side and the port's.
/// `eapol_wake` is woken when the port finds EAPOL frames in sealed ones.
pub(crate) fn outbox_waking(
    capacity: usize,
    eapol_wake: Option<Arc<EapolWake>>,
) -> (OutboxSender, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake: Notify::new(),
        eapol_wake,
        capacity: capacity.max(1),
        #[cfg(test)]
        woken: Default::default(),
    });
    (
        OutboxSender {
            shared: Arc::clone(&shared),
        },
        OutboxReceiver {
            shared,
            ready: VecDeque::new(),
            taken: Vec::new(),
            opened: Vec::new(),
            opener: ItemOpener::new(),
        },
    )
}

/// The driver's side of an outbox.
#[derive(Debug)]
pub(crate) struct OutboxSender {
    shared: Arc<Shared>,
}

impl OutboxSender {
    /// Starts handing messages over: the port sees them, and is woken once, when the batch is
    /// dropped.
    pub(crate) fn batch(&self) -> OutboxBatch<'_> {
        OutboxBatch {
            state: Some(self.shared.lock()),
            wake: &self.shared.wake,
            capacity: self.shared.capacity,
            pushed: false,
        }
    }

    /// Hands one message over (a batch of one).
    // The message is handed back by value, as tokio's `TrySendError` does: boxing it would
    // allocate on the congested path, for every message that goes to the backlog.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_send(&self, msg: Message) -> Result<(), PushError> {
        self.batch().try_push(msg.into())
    }

    /// The EAPOL frames the port found in sealed frames since the last call, in order.
    pub(crate) fn take_eapol(&self) -> Vec<EthernetFrame> {
        std::mem::take(&mut self.shared.lock().eapol)
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        self.shared.lock().sender_gone = true;
        self.shared.wake.notify_one();
    }
}

/// Messages being handed over under one lock ([`OutboxSender::batch`]); the port is woken when
/// this is dropped, if anything was pushed.
#[derive(Debug)]
pub(crate) struct OutboxBatch<'a> {
    /// Held until the batch is dropped (`None` only in `drop`).
    state: Option<MutexGuard<'a, State>>,
    wake: &'a Notify,
    capacity: usize,
    pushed: bool,
}

impl OutboxBatch<'_> {
    /// Queues `msg` behind what waits, unless the outbox is full or the port is gone.
    #[allow(clippy::result_large_err)] // As `try_send`.
    pub(crate) fn try_push(&mut self, msg: GuestItem) -> Result<(), PushError> {
        let Some(state) = self.state.as_mut() else {
            return Err(PushError::Closed(msg));
        };
        if state.receiver_gone {
            return Err(PushError::Closed(msg));
        }
        if state.messages.len() >= self.capacity {
            return Err(PushError::Full(msg));
        }
        state.messages.push_back(msg);
        self.pushed = true;
        Ok(())
    }
}

impl Drop for OutboxBatch<'_> {
    fn drop(&mut self) {
        // The lock first: the woken port finds the whole batch and does not wait for it.
        drop(self.state.take());
        if self.pushed {
            self.wake.notify_one();
        }
    }
}

/// The port's side of an outbox.
#[derive(Debug)]
pub(crate) struct OutboxReceiver {
    shared: Arc<Shared>,
    /// Messages opened from sealed frames and not returned yet, in order: they come before
    /// anything still in the outbox.
    ready: VecDeque<Message>,
    /// What one take moved out of the outbox (kept for its allocation).
    taken: Vec<GuestItem>,
    /// What opening it gave (kept for its allocation).
    opened: Vec<Message>,
    /// Opens the sealed items taken, keeping its buffers.
    opener: ItemOpener,
}

impl OutboxReceiver {
    /// The next message, waiting for one; `None` once the driver let go and nothing waits.
    /// Cancel-safe: a message is taken only when this returns it.
    pub(crate) async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.try_recv() {
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Disconnected) => return None,
                // `notify_one` keeps a wake-up for a port not yet waiting, so a push between
                // the look and the wait is not missed.
                Err(TryRecvError::Empty) => {
                    self.shared.wake.notified().await;
                    #[cfg(test)]
                    self.shared
                        .woken
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    /// The next message if one waits (a sealed frame is opened first, with the sealed frames
    /// behind it).
    pub(crate) fn try_recv(&mut self) -> Result<Message, TryRecvError> {
        loop {
            if let Some(msg) = self.ready.pop_front() {
                return Ok(msg);
            }
            let mut state = self.shared.lock();
            match state.messages.pop_front() {
                Some(GuestItem::Message(msg)) => return Ok(msg),
                Some(GuestItem::Sealed(sealed)) => {
                    self.taken.push(GuestItem::Sealed(sealed));
                    while self.taken.len() < OPEN_BATCH {
                        match state.messages.pop_front() {
                            Some(item @ GuestItem::Sealed(_)) => self.taken.push(item),
                            Some(other) => {
                                state.messages.push_front(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    drop(state);
                    self.open_taken();
                    self.ready.extend(self.opened.drain(..));
                    // All of them may have been dropped (replays, forgeries): look again.
                }
                None if state.sender_gone => return Err(TryRecvError::Disconnected),
                None => return Err(TryRecvError::Empty),
            }
        }
    }

    /// Moves the data frames at the front of the outbox into `into`, under one lock, until
    /// `into` holds `max` frames or a message of another kind is next (it stays for
    /// [`recv`](Self::recv)); sealed frames are opened on the way. Returns how many were moved.
    pub(crate) fn take_data(&mut self, into: &mut Vec<Bytes>, max: usize) -> usize {
        let before = into.len();
        while into.len() < max {
            match self.ready.pop_front() {
                Some(Message::Data(frame)) => into.push(frame),
                Some(other) => {
                    self.ready.push_front(other);
                    return into.len() - before;
                }
                None => break,
            }
        }
        let mut sealed = false;
        {
            let mut state = self.shared.lock();
            while into.len() + self.taken.len() < max {
                match state.messages.pop_front() {
                    // Nothing sealed before it: no need to keep it in order with anything.
                    Some(GuestItem::Message(Message::Data(frame))) if !sealed => into.push(frame),
                    Some(item @ GuestItem::Message(Message::Data(_))) => self.taken.push(item),
                    Some(item @ GuestItem::Sealed(_)) => {
                        sealed = true;
                        self.taken.push(item);
                    }
                    Some(other) => {
                        state.messages.push_front(other);
                        break;
                    }
                    None => break,
                }
            }
        }
        if sealed {
            self.open_taken();
            let mut opened = self.opened.drain(..);
            while into.len() < max {
                match opened.next() {
                    Some(Message::Data(frame)) => into.push(frame),
                    Some(other) => {
                        self.ready.push_back(other);
                        break;
                    }
                    None => break,
                }
            }
            self.ready.extend(opened);
        }
        into.len() - before
    }

    /// Opens what was taken ([`ItemOpener`]) into `opened`; EAPOL frames go to the driver.
    fn open_taken(&mut self) {
        let mut eapol = Vec::new();
        self.opener
            .open(self.taken.drain(..), &mut self.opened, &mut eapol);
        if !eapol.is_empty() {
            self.shared.lock().eapol.append(&mut eapol);
            if let Some(wake) = &self.shared.eapol_wake {
                wake.wake();
            }
        }
    }

    /// How many messages wait (a sealed frame counts as one, its frames opened as theirs).
    pub(crate) fn len(&self) -> usize {
        self.shared.lock().messages.len() + self.ready.len()
    }

    /// How many messages may wait.
    pub(crate) fn max_capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        state.messages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use vwifi_core::crypto::TemporalKey;
    use vwifi_core::station::softmac::SoftMac;
    use vwifi_core::wire::{DataFrame, EtherType};
    use vwifi_core::MacAddr;

    fn data(i: u8) -> Message {
        Message::Data(Bytes::from(vec![i; 20]))
    }

    #[test]
    fn messages_come_out_in_order_and_a_full_outbox_hands_the_message_back() {
        let (tx, mut rx) = outbox(3);
        {
            let mut b = tx.batch();
            for i in 0..3 {
                b.try_push(data(i).into()).unwrap();
            }
            assert_eq!(
                b.try_push(data(3).into()),
                Err(PushError::Full(data(3).into()))
            );
        }
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.max_capacity(), 3);
        for i in 0..3 {
            assert_eq!(rx.try_recv(), Ok(data(i)));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.try_send(data(9)).unwrap();
        assert_eq!(rx.try_recv(), Ok(data(9)));
    }

    #[test]
    fn the_port_gone_closes_and_the_driver_gone_ends_after_what_waits() {
        let (tx, rx) = outbox(4);
        drop(rx);
        assert_eq!(tx.try_send(data(1)), Err(PushError::Closed(data(1).into())));

        let (tx, mut rx) = outbox(4);
        tx.try_send(data(1)).unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok(data(1)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_port_is_woken_once_with_the_whole_batch() {
        let (tx, mut rx) = outbox(64);
        let shared = Arc::clone(&rx.shared);
        let port = tokio::spawn(async move {
            let mut pieces = Vec::new();
            let mut got = 0;
            while got < 40 {
                let Some(Message::Data(first)) = rx.recv().await else {
                    panic!("data was pushed");
                };
                let mut piece = vec![first];
                rx.take_data(&mut piece, usize::MAX);
                got += piece.len();
                pieces.push(piece.len());
            }
            (pieces, rx)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        {
            let mut b = tx.batch();
            for i in 0..40 {
                b.try_push(data(i).into()).unwrap();
                // Were the port woken per message, it would have time to wake for this one.
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let (pieces, mut rx) = port.await.unwrap();
        assert_eq!(pieces, vec![40]);
        // Woken per push, the port would have a wake-up left over from the batch: this wait
        // would be woken once more before it times out.
        let more = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
        assert!(more.is_err(), "nothing more was pushed");
        assert_eq!(
            shared.woken.load(Ordering::Relaxed),
            1,
            "one wake-up in all"
        );
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[test]
    fn taking_data_stops_at_the_limit_and_before_a_message_of_another_kind() {
        let (tx, mut rx) = outbox(8);
        for i in 0..3 {
            tx.try_send(data(i)).unwrap();
        }
        tx.try_send(Message::Ack {
            id: vwifi_core::proto::RequestId(5),
        })
        .unwrap();
        tx.try_send(data(4)).unwrap();
        let mut frames = Vec::new();
        assert_eq!(rx.take_data(&mut frames, 2), 2);
        assert_eq!(rx.take_data(&mut frames, 8), 1);
        assert_eq!(frames.len(), 3);
        assert_eq!(Message::Data(frames[2].clone()), data(2));
        assert_eq!(
            rx.take_data(&mut frames, 8),
            0,
            "the control message is next"
        );
        assert!(matches!(rx.try_recv(), Ok(Message::Ack { .. })));
        assert_eq!(rx.take_data(&mut frames, 8), 1);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test]
    async fn a_recv_that_loses_a_select_takes_nothing_and_a_push_before_the_wait_is_not_missed() {
        let (tx, mut rx) = outbox(4);
        tokio::select! {
            biased;
            _ = std::future::ready(()) => {}
            _ = rx.recv() => unreachable!("nothing was pushed"),
        }
        tx.try_send(data(7)).unwrap();
        // Pushed while nobody waited: the wake-up is kept.
        let got = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert_eq!(got.unwrap(), Some(data(7)));
    }

    /// A staging station's sealed copy of `eth` from the AP `ap` under `pn`.
    fn sealed(mac: &mut SoftMac, ap: MacAddr, pn: u64, eth: &EthernetFrame) -> GuestItem {
        let raw = vwifi_core::testing::frames::protected_from_ap(&tk(), ap, pn, pn as u16, eth);
        let frame = DataFrame::parse_bytes(&raw).unwrap();
        let rx = mac.receive_data(&raw, &frame, ap, true).unwrap();
        GuestItem::Sealed(rx.sealed.expect("handed on sealed"))
    }

    fn tk() -> TemporalKey {
        TemporalKey::from_bytes(*b"0123456789abcdef")
    }

    fn bytes_of(eth: &EthernetFrame) -> Bytes {
        let mut v = Vec::new();
        eth.emit(&mut v);
        Bytes::from(v)
    }

    #[tokio::test]
    async fn sealed_frames_are_opened_on_the_ports_side_in_order_and_eapol_wakes_the_driver() {
        let (sta, ap, peer) = (
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0xa, 0]),
            MacAddr([2, 0, 0, 0, 0, 7]),
        );
        let mut mac = SoftMac::new(sta);
        mac.install_ptk(tk());
        mac.set_staging(true);
        let eth = |ethertype, fill: u8| EthernetFrame {
            dst: sta,
            src: peer,
            ethertype,
            payload: Bytes::from(vec![fill; 64]),
        };
        let (a, b, c) = (
            eth(EtherType::Ipv4, 1),
            eth(EtherType::Ipv4, 2),
            eth(EtherType::Ipv6, 3),
        );
        let rekey = eth(EtherType::Eapol, 4);
        let wake = Arc::new(EapolWake::new());
        let (tx, mut rx) = outbox_waking(16, Some(Arc::clone(&wake)));
        {
            let mut batch = tx.batch();
            for item in [
                data(9).into(),
                sealed(&mut mac, ap, 1, &a),
                sealed(&mut mac, ap, 2, &rekey),
                sealed(&mut mac, ap, 3, &b),
                Message::Ack {
                    id: vwifi_core::proto::RequestId(5),
                }
                .into(),
                sealed(&mut mac, ap, 4, &c),
                // A replay of PN 3: dropped by the stage, never handed to the port.
                sealed(&mut mac, ap, 3, &b),
            ] {
                batch.try_push(item).unwrap();
            }
        }
        assert_eq!(rx.len(), 7);
        let mut frames = Vec::new();
        assert_eq!(rx.take_data(&mut frames, 8), 3, "up to the reply");
        let Message::Data(nine) = data(9) else {
            unreachable!()
        };
        assert_eq!(frames, [nine, bytes_of(&a), bytes_of(&b)]);
        assert!(matches!(rx.try_recv(), Ok(Message::Ack { .. })));
        assert_eq!(rx.try_recv(), Ok(Message::Data(bytes_of(&c))));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        // The rekey's frame went to the driver's side, which was woken for it.
        tokio::time::timeout(Duration::from_secs(1), wake.notified())
            .await
            .expect("the driver is woken");
        assert!(wake.take(), "the flag is raised with the wake-up");
        assert!(!wake.take(), "and lowered when taken");
        assert_eq!(tx.take_eapol(), [rekey]);
        assert!(tx.take_eapol().is_empty());
        let (mut counters, mut stats) = Default::default();
        mac.stage_counts().add_to(&mut counters, &mut stats);
        assert_eq!((counters.rx_packets, stats.replayed), (3, 1));
    }
}
