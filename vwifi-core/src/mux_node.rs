//! The host's radio on the simulated air: a [`Mux`] as a [`Node`] of the medium.
//!
//! In the embedded simulation the host's one radio is a node like the APs: it hears what is on
//! its channel and transmits the frames of every guest's station. [`MuxNode`] owns the Mux,
//! feeds it what the medium delivers, and carries out its outputs:
//! - frames go out in order; a channel change waits until the frame in flight has been sent
//!   (its [`TxStatus`] reported) and the management, control, null and EAPOL frames queued
//!   before it have gone, so a station's power-save announcement leaves on the old channel, but
//!   it goes ahead of the queued *data* frames: those are parked for their channel and go out
//!   when the radio is back on it ([`tx_queue`], as mac80211 keeps its per-station queues
//!   across an off-channel period), so a scan reaches its channel on time under a saturating
//!   stream;
//! - messages for guests are kept per guest until the caller takes them
//!   ([`MuxNode::take_guest_messages`]);
//! - a station holds at most [`STATION_TX_QUEUE`] data frames in the radio's queue (as
//!   mac80211's per-station queues do): more data from a guest that sends faster than the air
//!   carries is dropped and counted ([`MuxNode::tx_queue_dropped`]), so that one flooding guest
//!   cannot keep every other station's frames (their management frames, EAPOL and null frames
//!   too) waiting behind its backlog until they lose their association.
//!
//! The caller registers the stations' addresses with the medium
//! ([`MuxNode::addresses`] into `Medium::set_addresses`) so that frames to them are
//! acknowledged.

pub mod tx_queue;

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::demux::GuestId;
use crate::io::RadioEvent;
use crate::mux::{AdmitError, GuestConfig, GuestItem, Input, ItemOpener, Mux, Output};
use crate::proto::Message;
use crate::radio::{Node, RxMeta, TxStatus};
use crate::time::Instant;
use crate::wire::{EtherType, EthernetFrame, FrameType, FrameView};

use tx_queue::{Head, Queued, TxQueue};
pub use tx_queue::{PARKED_LIFETIME, STATION_TX_QUEUE};

/// The most frames the node hands the medium (the radio's hardware queue) before their
/// outcomes come back, on a clean link: the medium's A-MPDU maximum, so aggregation is whole.
pub const IN_FLIGHT_MAX: usize = 64;

/// The fewest: the limit on a lossy link (see [`MuxNode`]'s `in_flight_limit`).
pub const IN_FLIGHT_MIN: usize = 4;

/// The transmitting station of `frame` if it is a data frame carrying a guest's data (not a
/// null frame, not an EAPOL frame of a handshake): what counts against the station's queue.
fn data_sender(frame: &[u8]) -> Option<MacAddr> {
    let view = FrameView::new_checked(frame).ok()?;
    let fc = view.frame_control();
    let FrameType::Data(subtype) = fc.frame_type else {
        return None;
    };
    if subtype.is_null() {
        return None;
    }
    if !fc.flags.protected() {
        // An unprotected data frame may be a handshake's EAPOL: never dropped here.
        // LLC/SNAP (3 bytes), OUI (3), then the EtherType.
        let eapol = u16::from(EtherType::Eapol).to_be_bytes();
        if view.payload().get(6..8) == Some(&eapol[..]) {
            return None;
        }
    }
    view.addr2()
}

/// A [`Mux`] on the simulated medium: the host's radio in the embedded simulation. Frames go
/// out in order on the channel they were queued for; a channel change waits for the frame in
/// flight and the non-data frames before it, and parks the data before it until the radio is
/// back (see the module documentation); messages for guests are kept per guest until taken.
#[derive(Debug)]
pub struct MuxNode {
    mux: Mux,
    channel: Channel,
    queue: TxQueue,
    /// Data frames dropped because their station's queue was full.
    tx_queue_dropped: u64,
    /// The same, per station (while its guest is admitted).
    tx_queue_dropped_by: BTreeMap<MacAddr, u64>,
    in_flight: usize,
    /// How many frames may be in flight now: the hardware queue's depth, adapted to how fast
    /// it drains (as Linux's byte and airtime queue limits do). A frame acknowledged at once
    /// raises it by one (up to [`IN_FLIGHT_MAX`]); a frame retried twice or more lowers it by
    /// one, one never acknowledged halves it (down to [`IN_FLIGHT_MIN`]). On a weak link each
    /// frame in flight can hold the radio for milliseconds of retries and backoff, and a
    /// channel change waits for all of them: a shallow queue there keeps a background scan's
    /// change prompt, while a clean link keeps full A-MPDUs.
    in_flight_limit: usize,
    /// Set when a retune happened inside `poll_transmit`: the medium must service the node
    /// again to read the new channel before taking more frames.
    reservice: bool,
    inbox: BTreeMap<GuestId, Vec<GuestItem>>,
    now: Instant,
}

impl MuxNode {
    /// A node around `mux`, tuned to `channel` until the Mux says otherwise.
    pub fn new(mut mux: Mux, channel: Channel) -> Self {
        mux.set_reports_tunes(true);
        Self {
            mux,
            channel,
            queue: TxQueue::new(),
            tx_queue_dropped: 0,
            tx_queue_dropped_by: BTreeMap::new(),
            in_flight: 0,
            in_flight_limit: IN_FLIGHT_MAX,
            reservice: false,
            inbox: BTreeMap::new(),
            now: Instant::ZERO,
        }
    }

    /// Data frames dropped because their station already had [`STATION_TX_QUEUE`] waiting.
    pub const fn tx_queue_dropped(&self) -> u64 {
        self.tx_queue_dropped
    }

    /// Data frames parked for a channel the radio did not come back to within
    /// [`PARKED_LIFETIME`], and dropped.
    pub const fn parked_expired(&self) -> u64 {
        self.queue.parked_expired()
    }

    /// Data frames waiting, parked, for the radio to come back to their channel.
    pub fn parked(&self) -> usize {
        self.queue.parked()
    }

    /// The data frames station `sta` has waiting in the radio's queue, parked ones included (at
    /// most [`STATION_TX_QUEUE`]), and how many of its frames were dropped because it was full:
    /// what a caller watches to hold a guest's data back before it is dropped.
    pub fn station_queue(&self, sta: MacAddr) -> (usize, u64) {
        (
            self.queue.queued_data(sta),
            self.tx_queue_dropped_by.get(&sta).copied().unwrap_or(0),
        )
    }

    /// The Mux.
    pub const fn mux(&self) -> &Mux {
        &self.mux
    }

    /// The Mux, to drive it directly (benches, tests). What it outputs meanwhile is the
    /// caller's to drain; the node does not see it.
    pub fn mux_mut(&mut self) -> &mut Mux {
        &mut self.mux
    }

    /// Admits a guest (see [`Mux::admit`]); register [`MuxNode::addresses`] with the medium
    /// afterwards.
    pub fn admit(&mut self, cfg: GuestConfig) -> Result<GuestId, AdmitError> {
        self.mux.admit(cfg)
    }

    /// Removes a guest (see [`Mux::remove`]).
    pub fn remove(&mut self, now: Instant, guest: GuestId) {
        self.now = self.now.max(now);
        if let Some(sta) = self.mux.station(guest).map(|s| s.mac()) {
            self.tx_queue_dropped_by.remove(&sta);
        }
        self.mux.remove(self.now, guest);
        self.inbox.remove(&guest);
        self.drain();
    }

    /// The addresses of every station, for `Medium::set_addresses`.
    pub fn addresses(&self) -> Vec<MacAddr> {
        self.mux
            .guests()
            .filter_map(|g| self.mux.station(g))
            .map(|s| s.mac())
            .collect()
    }

    /// Delivers a message from a guest.
    pub fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message) {
        self.now = self.now.max(now);
        self.mux.handle_input(self.now, Input::Guest { guest, msg });
        self.drain();
    }

    /// Delivers data frames a guest handed over together (see [`Mux::handle_guest_data`]).
    pub fn guest_data(&mut self, now: Instant, guest: GuestId, frames: Vec<bytes::Bytes>) {
        self.now = self.now.max(now);
        self.mux.handle_guest_data(self.now, guest, frames);
        self.drain();
    }

    /// Takes what the Mux sent to `guest` so far, as it sent it: sealed frames stay sealed,
    /// for the guest's side to open ([`ItemOpener`]; their EAPOL frames come back through
    /// [`MuxNode::staged_eapol`]).
    pub fn take_guest_items(&mut self, guest: GuestId) -> Vec<GuestItem> {
        self.inbox.remove(&guest).unwrap_or_default()
    }

    /// Takes the messages the Mux sent to `guest` so far, opening sealed frames here (their
    /// EAPOL frames go to the station at once).
    pub fn take_guest_messages(&mut self, guest: GuestId) -> Vec<Message> {
        let items = self.take_guest_items(guest);
        let (mut out, mut eapol) = (Vec::with_capacity(items.len()), Vec::new());
        ItemOpener::new().open(items, &mut out, &mut eapol);
        if !eapol.is_empty() {
            let now = self.now;
            self.staged_eapol(now, guest, &eapol);
        }
        out
    }

    /// What the Mux sent to `guest` and was not taken yet.
    pub fn guest_items(&self, guest: GuestId) -> &[GuestItem] {
        self.inbox.get(&guest).map_or(&[], Vec::as_slice)
    }

    /// EAPOL frames a receive stage found in `guest`'s sealed frames
    /// ([`Mux::handle_staged_eapol`]).
    pub fn staged_eapol(&mut self, now: Instant, guest: GuestId, frames: &[EthernetFrame]) {
        self.now = self.now.max(now);
        self.mux.handle_staged_eapol(self.now, guest, frames);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(out) = self.mux.poll_output() {
            match out {
                Output::Transmit { frame, channel } => {
                    let sender = data_sender(&frame);
                    if self.queue.push_frame(frame, channel, sender) == Queued::StationQueueFull {
                        if let Some(sta) = sender {
                            self.tx_queue_dropped += 1;
                            *self.tx_queue_dropped_by.entry(sta).or_default() += 1;
                        }
                    }
                }
                Output::Tune(c) => {
                    self.queue.push_tune(self.now, c);
                }
                Output::ToGuest { guest, item } => {
                    self.inbox.entry(guest).or_default().push(item);
                }
            }
        }
        if self.apply_tune() {
            // The Mux was told: what its stations do on arrival is to queue now.
            self.drain();
        }
    }

    /// Applies a channel change at the head of the queue once nothing is in flight, and tells
    /// the Mux the radio is there.
    fn apply_tune(&mut self) -> bool {
        let mut tuned = false;
        while self.in_flight == 0 {
            let Some(c) = self.queue.pop_tune() else {
                break;
            };
            self.channel = c;
            self.mux.radio_tuned(self.now, c);
            tuned = true;
        }
        tuned
    }
}

impl Node for MuxNode {
    fn channel(&self) -> Channel {
        self.channel
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        self.now = self.now.max(now);
        let ev = RadioEvent::Rx {
            frame: frame.clone(),
            meta,
        };
        self.mux.handle_input(self.now, Input::Radio(ev));
        self.drain();
    }

    fn handle_rx_batch(&mut self, now: Instant, frames: &[(Bytes, RxMeta)]) {
        let opened = match frames.len() {
            0 | 1 => Vec::new(),
            _ => self.mux.begin_rx_batch(frames),
        };
        for (frame, meta) in frames {
            self.handle_rx(now, frame, *meta);
        }
        self.mux.end_rx_batch(&opened);
    }

    fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus) {
        self.now = self.now.max(now);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_flight_limit = match status {
            TxStatus::Acked { retries: 0 } => self.in_flight_limit + 1,
            TxStatus::Acked { retries: 1 } | TxStatus::Sent => self.in_flight_limit,
            TxStatus::Acked { .. } => self.in_flight_limit.saturating_sub(1),
            TxStatus::NotAcked => self.in_flight_limit / 2,
        }
        .clamp(IN_FLIGHT_MIN, IN_FLIGHT_MAX);
        let ev = RadioEvent::TxStatus {
            frame: frame.clone(),
            status,
        };
        self.mux.handle_input(self.now, Input::Radio(ev));
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.reservice = false;
        self.queue.expire(self.now);
        self.mux.handle_timeout(self.now);
        self.drain();
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        match self.queue.head() {
            Head::Frame if self.in_flight >= self.in_flight_limit => None,
            Head::Frame => {
                let f = self.queue.pop_frame()?;
                self.in_flight += 1;
                Some(f)
            }
            Head::Tune(_) => {
                if self.apply_tune() {
                    self.drain();
                    // The medium read the old channel for this pass: come back at once.
                    self.reservice = true;
                }
                None
            }
            Head::Empty => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.reservice {
            return Some(self.now);
        }
        match (self.mux.poll_timeout(), self.queue.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::MuxConfig;

    const STA: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap()
    }

    fn node_with_data(frames: usize) -> MuxNode {
        let mut node = MuxNode::new(Mux::new(MuxConfig::default(), [7; 32]), ch(1));
        for i in 0..frames {
            let f = Bytes::from(vec![u8::try_from(i % 256).unwrap(); 8]);
            assert_eq!(node.queue.push_frame(f, ch(1), Some(STA)), Queued::Yes);
        }
        node
    }

    fn take_all(node: &mut MuxNode) -> Vec<Bytes> {
        std::iter::from_fn(|| node.poll_transmit()).collect()
    }

    #[test]
    fn a_clean_link_keeps_a_full_aggregate_in_flight() {
        let mut node = node_with_data(100);
        let sent = take_all(&mut node);
        assert_eq!(sent.len(), IN_FLIGHT_MAX);
        for f in &sent {
            node.handle_tx_status(Instant::ZERO, f, TxStatus::Acked { retries: 0 });
        }
        assert_eq!(take_all(&mut node).len(), 100 - IN_FLIGHT_MAX);
    }

    #[test]
    fn a_lossy_link_shrinks_what_is_in_flight_so_a_tune_waits_for_little() {
        let mut node = node_with_data(200);
        let sent = take_all(&mut node);
        // Frames never acknowledged: the depth halves down to its floor.
        for f in sent.iter().take(6) {
            node.handle_tx_status(Instant::ZERO, f, TxStatus::NotAcked);
        }
        assert_eq!(node.in_flight_limit, IN_FLIGHT_MIN);
        for f in sent.iter().skip(6) {
            node.handle_tx_status(Instant::ZERO, f, TxStatus::Acked { retries: 3 });
        }
        assert_eq!(node.in_flight, 0);
        let now_sent = take_all(&mut node);
        assert_eq!(now_sent.len(), IN_FLIGHT_MIN);
        // A channel change now waits for those few frames only, not for the queued data.
        node.queue.push_tune(Instant::ZERO, ch(6));
        assert!(take_all(&mut node).is_empty());
        assert_eq!(node.channel(), ch(1));
        for f in &now_sent {
            node.handle_tx_status(Instant::ZERO, f, TxStatus::Acked { retries: 0 });
        }
        assert_eq!(node.channel(), ch(6));
        assert!(take_all(&mut node).is_empty(), "data went out on channel 6");
        assert_eq!(node.parked(), 200 - IN_FLIGHT_MAX - IN_FLIGHT_MIN);
        assert_eq!(node.station_queue(STA).0, node.parked());
    }
}
