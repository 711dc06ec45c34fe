//! What the guests sent the driver, waiting for the world: one queue per guest, served by
//! deficit round robin by bytes ([`Intake`]).
//!
//! The ports' tasks all send to the driver over one channel. While the driver is the slower
//! side, serving that channel first in, first out gives each guest the share of the driver it
//! manages to put into the channel: a port that reads bigger batches, or more often (a TCP flow
//! with the bigger window, a port task that got the CPU), gets more, and the gap feeds itself.
//! The driver therefore moves whatever the channel holds into per-guest queues at once, and
//! hands the world a turn's worth of messages taken from them in turn: each guest with
//! something queued may send [`QUANTUM`] bytes per round (what it could not use is kept for its
//! next round while it stays backlogged, as in Shreedhar and Varghese's deficit round robin),
//! so guests that keep the driver busy get equal bytes whatever their batch sizes. A guest's
//! own messages stay in order; the driver holds a guest whose queue is long
//! ([`super::INTAKE_HOLD_AT`]) so that the queue is bounded and its kernel queues instead.
//!
//! A guest held back for a receiver that cannot keep up is also parked here ([`Intake::park`]):
//! its queued messages wait, unserved, until the receiver drained ([`Intake::unpark`]).
//! Holding its port alone would stop only its next reads, while what it queued before (up to
//! [`super::INTAKE_HOLD_AT`] messages) still went on to the receiver's backlog.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use vwifi_core::demux::GuestId;
use vwifi_core::proto::Message;

/// The bytes a guest with something queued may be served per round: a few of the largest
/// frames that go on the air, so a round never serves less than one frame.
pub(crate) const QUANTUM: usize = 4 * vwifi_core::offload::MAX_MSDU_FRAME_LEN;

/// What a message other than data counts for in a round (replies are small and rare).
const CONTROL_COST: usize = 64;

/// One message a guest sent, in its queue.
#[derive(Debug)]
pub(crate) enum Item {
    /// A data frame (most of them: kept small).
    Data(Bytes),
    /// Any other message.
    Other(Box<Message>),
}

impl Item {
    /// What serving it takes from its guest's round, in bytes.
    fn cost(&self) -> usize {
        match self {
            Self::Data(frame) => frame.len().max(1),
            Self::Other(_) => CONTROL_COST,
        }
    }

    /// The message itself.
    pub(crate) fn into_message(self) -> Message {
        match self {
            Self::Data(frame) => Message::Data(frame),
            Self::Other(msg) => *msg,
        }
    }
}

impl From<Message> for Item {
    fn from(msg: Message) -> Self {
        match msg {
            Message::Data(frame) => Self::Data(frame),
            other => Self::Other(Box::new(other)),
        }
    }
}

/// One guest's queue.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    /// The bytes it may still be served in its round (kept while it stays backlogged).
    deficit: usize,
}

/// The guests' queued messages, served fairly. See the [module documentation](self).
#[derive(Debug, Default)]
pub(crate) struct Intake {
    queues: BTreeMap<GuestId, Queue>,
    /// The guests with something queued, each once, in the order they are served; the first
    /// is being served.
    active: VecDeque<GuestId>,
    /// Whether the first of `active` got its quantum for the round in progress.
    visiting: bool,
    /// Messages queued, over all guests.
    len: usize,
    /// Guests whose queues wait unserved ([`Intake::park`]); never in `active`.
    parked: BTreeSet<GuestId>,
}

impl Intake {
    /// Queues a message of `guest` behind the ones it sent before; returns how many it has
    /// queued now.
    pub(crate) fn push(&mut self, guest: GuestId, item: Item) -> usize {
        self.extend(guest, std::iter::once(item))
    }

    /// Queues a guest's data frames, in order; returns how many messages it has queued now.
    pub(crate) fn push_data(&mut self, guest: GuestId, frames: Vec<Bytes>) -> usize {
        self.extend(guest, frames.into_iter().map(Item::Data))
    }

    fn extend(&mut self, guest: GuestId, items: impl Iterator<Item = Item>) -> usize {
        let q = self.queues.entry(guest).or_default();
        let before = q.items.len();
        q.items.extend(items);
        let after = q.items.len();
        self.len += after - before;
        if before == 0 && after > 0 && !self.parked.contains(&guest) {
            self.active.push_back(guest);
        }
        after
    }

    /// Leaves `guest`'s queue unserved, in order and kept, until [`Intake::unpark`].
    pub(crate) fn park(&mut self, guest: GuestId) {
        if !self.parked.insert(guest) {
            return;
        }
        if self.active.front() == Some(&guest) {
            self.visiting = false;
        }
        self.active.retain(|&g| g != guest);
    }

    /// Serves `guest`'s queue again, its turn at the end of the round.
    pub(crate) fn unpark(&mut self, guest: GuestId) {
        if self.parked.remove(&guest) && self.queued(guest) > 0 {
            self.active.push_back(guest);
        }
    }

    /// Whether `guest`'s queue waits unserved.
    #[cfg(test)]
    pub(crate) fn is_parked(&self, guest: GuestId) -> bool {
        self.parked.contains(&guest)
    }

    /// How many messages `guest` has queued.
    pub(crate) fn queued(&self, guest: GuestId) -> usize {
        self.queues.get(&guest).map_or(0, |q| q.items.len())
    }

    /// Whether nothing can be served now (parked guests' messages may wait).
    pub(crate) fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Forgets `guest` and what it queued (its link ended).
    pub(crate) fn remove(&mut self, guest: GuestId) {
        if let Some(q) = self.queues.remove(&guest) {
            self.len = self.len.saturating_sub(q.items.len());
        }
        self.parked.remove(&guest);
        if self.active.front() == Some(&guest) {
            self.visiting = false;
        }
        self.active.retain(|&g| g != guest);
    }

    /// The next message to serve, and whose: the guest whose round it is serves while its
    /// deficit covers its next message, then the next guest's round begins.
    pub(crate) fn next(&mut self) -> Option<(GuestId, Item)> {
        loop {
            let &guest = self.active.front()?;
            let Some(q) = self.queues.get_mut(&guest) else {
                self.active.pop_front();
                self.visiting = false;
                continue;
            };
            let Some(cost) = q.items.front().map(Item::cost) else {
                // Not backlogged any more: what it did not use is lost, as in DRR.
                q.deficit = 0;
                self.active.pop_front();
                self.visiting = false;
                continue;
            };
            if !self.visiting {
                q.deficit = q.deficit.saturating_add(QUANTUM);
                self.visiting = true;
            }
            if cost > q.deficit {
                // Its round is over; it keeps its deficit for the next one.
                self.active.rotate_left(1);
                self.visiting = false;
                continue;
            }
            q.deficit -= cost;
            let item = q.items.pop_front()?;
            self.len = self.len.saturating_sub(1);
            if q.items.is_empty() {
                q.deficit = 0;
                self.active.pop_front();
                self.visiting = false;
            }
            return Some((guest, item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, tag: u8) -> Bytes {
        Bytes::from(vec![tag; len])
    }

    /// Serves `n` messages: the bytes each guest got.
    fn serve(intake: &mut Intake, n: usize) -> BTreeMap<GuestId, usize> {
        let mut got = BTreeMap::new();
        for _ in 0..n {
            let Some((g, item)) = intake.next() else {
                break;
            };
            *got.entry(g).or_default() += item.cost();
        }
        got
    }

    #[test]
    fn backlogged_guests_get_equal_bytes_whatever_their_frame_sizes_and_batches() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        // a sends big frames in big batches, first; b small frames one at a time.
        for _ in 0..40 {
            intake.push_data(a, (0..64).map(|_| frame(1514, 1)).collect());
        }
        for _ in 0..20_000 {
            intake.push(b, Item::Data(frame(100, 2)));
        }
        let got = serve(&mut intake, 10_000);
        let (ga, gb) = (got[&a], got[&b]);
        // FIFO would give a everything (its 2560 frames came first).
        let diff = ga.abs_diff(gb) as f64 / ((ga + gb) as f64 / 2.0);
        assert!(diff < 0.05, "a {ga} bytes, b {gb} bytes");
    }

    #[test]
    fn a_guests_messages_come_out_in_order_and_none_is_lost() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        for i in 0..50u8 {
            intake.push_data(a, vec![frame(200, i), frame(1500, i)]);
            intake.push(b, Item::from(Message::Data(frame(60, i))));
            if i % 10 == 0 {
                intake.push(
                    b,
                    Item::from(Message::StatusRequest {
                        id: vwifi_core::proto::RequestId(u32::from(i)),
                    }),
                );
            }
        }
        assert_eq!(intake.queued(a), 100);
        assert_eq!(intake.queued(b), 55);
        let mut seen: BTreeMap<GuestId, Vec<Message>> = BTreeMap::new();
        while let Some((g, item)) = intake.next() {
            seen.entry(g).or_default().push(item.into_message());
        }
        assert!(intake.is_empty());
        let tags = |msgs: &[Message]| -> Vec<u8> {
            msgs.iter()
                .filter_map(|m| match m {
                    Message::Data(f) => f.first().copied(),
                    _ => None,
                })
                .collect()
        };
        let want_a: Vec<u8> = (0..50).flat_map(|i| [i, i]).collect();
        assert_eq!(tags(&seen[&a]), want_a);
        let want_b: Vec<u8> = (0..50).collect();
        assert_eq!(tags(&seen[&b]), want_b);
        // b's status requests stay where it sent them: right after its data frame 0, 10, ...
        let b_msgs = &seen[&b];
        for (k, m) in b_msgs.iter().enumerate() {
            if let Message::StatusRequest { id } = m {
                let Some(Message::Data(f)) = k.checked_sub(1).and_then(|p| b_msgs.get(p)) else {
                    panic!("a status request came first");
                };
                assert_eq!(u32::from(f[0]), id.0);
            }
        }
    }

    #[test]
    fn a_guest_removed_is_forgotten_and_the_others_go_on() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        intake.push_data(a, (0..10).map(|i| frame(1000, i)).collect());
        intake.push_data(b, (0..10).map(|i| frame(1000, i)).collect());
        // a is being served when it leaves.
        assert_eq!(intake.next().map(|(g, _)| g), Some(a));
        intake.remove(a);
        assert_eq!(intake.queued(a), 0);
        let rest: Vec<GuestId> = std::iter::from_fn(|| intake.next().map(|(g, _)| g)).collect();
        assert_eq!(rest, vec![b; 10]);
        assert!(intake.is_empty());
        assert_eq!(intake.next().map(|(g, _)| g), None);
    }

    #[test]
    fn a_parked_guest_waits_in_order_and_the_others_are_served_meanwhile() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        intake.push_data(a, (0..4).map(|i| frame(1000, i)).collect());
        intake.park(a);
        intake.push_data(a, (4..6).map(|i| frame(1000, i)).collect());
        intake.push_data(b, (0..3).map(|i| frame(1000, i)).collect());
        let served: Vec<GuestId> = std::iter::from_fn(|| intake.next().map(|(g, _)| g)).collect();
        assert_eq!(served, vec![b; 3], "a parked guest is not served");
        assert!(
            intake.is_empty(),
            "nothing to serve while only a parked guest has messages"
        );
        assert_eq!(intake.queued(a), 6);
        assert!(intake.is_parked(a));
        intake.unpark(a);
        let tags: Vec<u8> = std::iter::from_fn(|| intake.next())
            .map(|(g, item)| match item {
                Item::Data(f) if g == a => f[0],
                _ => u8::MAX,
            })
            .collect();
        assert_eq!(
            tags,
            vec![0, 1, 2, 3, 4, 5],
            "its messages, all and in order"
        );
        // Parked and removed: nothing left behind.
        intake.push_data(a, vec![frame(1000, 9)]);
        intake.park(a);
        intake.remove(a);
        intake.unpark(a);
        assert!(intake.is_empty() && intake.queued(a) == 0);
    }

    #[test]
    fn a_frame_bigger_than_a_quantum_is_served_after_enough_rounds() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        intake.push(a, Item::Data(frame(3 * QUANTUM, 1)));
        intake.push_data(b, (0..100).map(|_| frame(QUANTUM, 2)).collect());
        let order: Vec<GuestId> = std::iter::from_fn(|| intake.next().map(|(g, _)| g))
            .take(5)
            .collect();
        // b is served one quantum a round; a's frame goes out in its third round.
        assert_eq!(order, vec![b, b, a, b, b]);
    }
}
