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
//!
//! **Deceptive idleness.** Deficit round robin shares only what is queued, and a guest's queue
//! runs dry now and then although it wants more: its port task, or the guest's own TCP, did
//! not get the CPU in time. Serving the others alone meanwhile is work-conserving but not
//! fair, and the gap feeds itself: the flow served less keeps less in flight (Linux shrinks an
//! unused congestion window), so its queue runs dry more often (two TCP pairs at once on a
//! 2-core machine split up to 0.24 of their mean, a sender's queue dry in up to a quarter of
//! the samples of it taken every 10 ms).
//! As in Iyer and Druschel's anticipatory scheduling ("Anticipatory scheduling: a disk
//! scheduling framework to overcome deceptive idleness in synchronous I/O", SOSP 2001), the
//! intake remembers each guest's recent share ([`SHARE_MEMORY`]) and whether it wanted more
//! lately ([`BACKLOG_AT`] messages queued within [`BACKLOG_MEMORY`]);
//! [`Intake::short_changed`] names such a guest whose queue is empty while another, served
//! more, is queued (of several, the one served least): the driver then waits a moment for it
//! before it serves the others, turn after turn while the guest stays dry, until
//! [`BACKLOG_MEMORY`] has passed since its last backlog. A light guest never queues that
//! much and is never waited for; one that sends bursts of [`BACKLOG_AT`] messages or more
//! now and then is, for up to [`BACKLOG_MEMORY`] after each (the driver goes on serving the
//! others between waits). That includes a TCP receiver's runs of acknowledgements (a single
//! flow's receiver is waited for about 140 times a second, 1 % of the driver's time, with no
//! change in the flow's throughput beyond the noise): counting bytes instead, or waiting only
//! for a guest whose queue held something most of the time lately, left the pairs apart by
//! more than 0.10 in some rounds.
//!
//! **Holding the guests ahead.** Waiting lends the short-changed guest the driver's core for a
//! moment, but when the machine is busy elsewhere the guest's sender may not get a core for
//! milliseconds, and meanwhile the others are served between the waits and stay ahead (two
//! pairs on a machine kept busy in bursts split above 0.10 in 10 of 70 rounds, up to 0.18, with
//! waiting alone). So when a guest waited for still has nothing queued after the wait, and it
//! sent in bulk lately ([`BULK_AT`] bytes queued within [`HOLD_MEMORY`]: a sender, not a
//! receiver's acknowledgements), the guests served more than it are held for that turn
//! ([`Intake::hold_ahead_of`]): only the ones behind it are served. What the held guests sent
//! waits at the driver (their ports stop reading once [`super::INTAKE_HOLD_AT`] messages
//! wait), their acknowledgements come later, their TCP slows, and the gap stops feeding
//! itself. Holding leaves the driver idle, so it is bounded: at most [`HOLD_SHARE`] of the
//! driver's time over [`SHARE_MEMORY`], which caps what a guest sending big bursts now and
//! then costs a steady sender beside it.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use vwifi_core::demux::GuestId;
use vwifi_core::proto::Message;
use vwifi_core::Instant;

/// The bytes a guest with something queued may be served per round: a few of the largest
/// frames that go on the air, so a round never serves less than one frame.
pub(crate) const QUANTUM: usize = 4 * vwifi_core::offload::MAX_MSDU_FRAME_LEN;

/// What a message other than data counts for in a round (replies are small and rare).
const CONTROL_COST: usize = 64;

/// How long a guest's share is remembered: the bytes it was served count for less by a factor
/// of e each time this passes (long against a driver's turn, short against a TCP flow's
/// lasting imbalance).
pub(crate) const SHARE_MEMORY: Duration = Duration::from_millis(20);

/// How long after it last had [`BACKLOG_AT`] messages queued a guest whose queue is empty
/// still counts as wanting more.
pub(crate) const BACKLOG_MEMORY: Duration = Duration::from_millis(5);

/// A guest with this many messages queued wants more than the driver gives it (a port's read
/// of one 64 KiB TCP send is 45 frames; a light guest's burst is fewer). Counted in messages,
/// not bytes: a receiver's run of 32 TCP acknowledgements counts too (see the module
/// documentation).
pub(crate) const BACKLOG_AT: usize = 32;

/// A guest served less than this share (in percent) of what the best-served queued guest got
/// lately is short-changed.
const SHORT_CHANGED_PERCENT: f64 = 97.0;

/// A guest with this many bytes queued sends in bulk (a TCP sender; a receiver's
/// acknowledgements are 32 in a kilobyte or two).
pub(crate) const BULK_AT: usize = 32 * 1024;

/// The most of the driver's time spent holding guests ([`Intake::hold_ahead_of`]), over
/// [`SHARE_MEMORY`].
pub(crate) const HOLD_SHARE: f64 = 0.1;

/// How long after it last had [`BULK_AT`] bytes queued a short-changed guest whose queue is
/// empty holds the guests ahead of it ([`Intake::hold_ahead_of`]).
pub(crate) const HOLD_MEMORY: Duration = Duration::from_millis(1);

/// Whether `at` was within `memory` before `now`.
fn within(at: Option<Instant>, now: Instant, memory: Duration) -> bool {
    at.is_some_and(|t| now.saturating_duration_since(t) < memory)
}

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
    /// The bytes it was served lately ([`SHARE_MEMORY`]).
    served: f64,
    /// When it last had [`BACKLOG_AT`] messages queued.
    backlogged_at: Option<Instant>,
    /// The bytes its queued messages cost.
    bytes: usize,
    /// When it last had [`BULK_AT`] bytes queued.
    bulk_at: Option<Instant>,
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
    /// When the guests' `served` were last decayed.
    decayed_at: Instant,
    /// Guests served more than this lately are held this turn ([`Intake::hold_ahead_of`]).
    ceiling: Option<f64>,
    /// When the hold in force began ([`Intake::hold_ahead_of`]).
    held_since: Option<Instant>,
    /// How long the guests were held lately, in seconds ([`SHARE_MEMORY`]).
    held_for: f64,
    /// Turns held, and holds not made for [`HOLD_SHARE`] ([`Intake::holds`]).
    held: u64,
    refused: u64,
}

impl Intake {
    /// Queues a message of `guest` behind the ones it sent before, at `now`; returns how many
    /// it has queued now.
    pub(crate) fn push(&mut self, now: Instant, guest: GuestId, item: Item) -> usize {
        self.extend(now, guest, std::iter::once(item))
    }

    /// Queues a guest's data frames, in order, at `now`; returns how many messages it has
    /// queued now.
    pub(crate) fn push_data(&mut self, now: Instant, guest: GuestId, frames: Vec<Bytes>) -> usize {
        self.extend(now, guest, frames.into_iter().map(Item::Data))
    }

    fn extend(&mut self, now: Instant, guest: GuestId, items: impl Iterator<Item = Item>) -> usize {
        let q = self.queues.entry(guest).or_default();
        let before = q.items.len();
        for item in items {
            q.bytes += item.cost();
            q.items.push_back(item);
        }
        let after = q.items.len();
        if after >= BACKLOG_AT {
            q.backlogged_at = Some(now);
        }
        if q.bytes >= BULK_AT {
            q.bulk_at = Some(now);
        }
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

    /// A guest to wait for at `now` before serving the others, if any: its queue is empty,
    /// it had [`BACKLOG_AT`] messages queued within [`BACKLOG_MEMORY`], and it was served
    /// lately less than [`SHORT_CHANGED_PERCENT`] of what the best-served guest with something
    /// queued got; of several such guests, the one served least. Called once a turn: it also
    /// ages the shares. See the [module documentation](self).
    pub(crate) fn short_changed(&mut self, now: Instant) -> Option<GuestId> {
        if self.active.is_empty() {
            // Nobody is served this turn: nobody gets ahead, and the shares age all the same
            // when next asked (the decay is exponential).
            return None;
        }
        let elapsed = now.saturating_duration_since(self.decayed_at);
        self.decayed_at = now;
        let keep = (-elapsed.as_secs_f64() / SHARE_MEMORY.as_secs_f64()).exp();
        for q in self.queues.values_mut() {
            q.served *= keep;
        }
        self.held_for *= keep;
        if let Some(t) = self.held_since.take() {
            self.held_for += now.saturating_duration_since(t).as_secs_f64();
        }
        let best = self
            .active
            .iter()
            .filter_map(|g| self.queues.get(g))
            .map(|q| q.served)
            .fold(0.0, f64::max);
        let bar = best * SHORT_CHANGED_PERCENT / 100.0;
        self.queues
            .iter()
            .filter(|&(g, q)| {
                q.items.is_empty()
                    && !self.parked.contains(g)
                    && q.served < bar
                    && within(q.backlogged_at, now, BACKLOG_MEMORY)
            })
            .min_by(|(_, p), (_, q)| p.served.total_cmp(&q.served))
            .map(|(&g, _)| g)
    }

    /// Holds, until [`Intake::release`], the guests served more lately than `guest` if
    /// `guest`, short-changed ([`Intake::short_changed`]), still has nothing queued at `now`
    /// and had [`BULK_AT`] bytes queued within [`HOLD_MEMORY`]; returns whether it did.
    pub(crate) fn hold_ahead_of(&mut self, now: Instant, guest: GuestId) -> bool {
        let ceiling = self
            .queues
            .get(&guest)
            .filter(|q| q.items.is_empty() && within(q.bulk_at, now, HOLD_MEMORY))
            .map(|q| q.served * 100.0 / SHORT_CHANGED_PERCENT);
        self.ceiling = None;
        if ceiling.is_none() {
            return false;
        }
        if self.held_for >= HOLD_SHARE * SHARE_MEMORY.as_secs_f64() {
            self.refused += 1;
            return false;
        }
        self.ceiling = ceiling;
        self.held_since = Some(now);
        self.held += 1;
        true
    }

    /// How many turns [`Intake::hold_ahead_of`] held the guests ahead, and how many more it
    /// would have but for [`HOLD_SHARE`].
    pub(crate) fn holds(&self) -> (u64, u64) {
        (self.held, self.refused)
    }

    /// Serves every guest again ([`Intake::hold_ahead_of`]).
    pub(crate) fn release(&mut self) {
        self.ceiling = None;
    }

    /// The next message to serve, and whose: the guest whose round it is serves while its
    /// deficit covers its next message, then the next guest's round begins.
    pub(crate) fn next(&mut self) -> Option<(GuestId, Item)> {
        let mut held = 0;
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
            if self.ceiling.is_some_and(|c| q.served > c) {
                // Ahead of a short-changed guest that sends in bulk: held this turn.
                self.visiting = false;
                held += 1;
                if held >= self.active.len() {
                    return None;
                }
                self.active.rotate_left(1);
                continue;
            }
            if !self.visiting {
                q.deficit = q.deficit.saturating_add(QUANTUM);
                self.visiting = true;
            }
            if cost > q.deficit {
                // Its round is over; it keeps its deficit for the next one.
                held = 0;
                self.active.rotate_left(1);
                self.visiting = false;
                continue;
            }
            q.deficit -= cost;
            let item = q.items.pop_front()?;
            q.bytes = q.bytes.saturating_sub(cost);
            q.served += cost as f64;
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
            intake.push_data(Instant::ZERO, a, (0..64).map(|_| frame(1514, 1)).collect());
        }
        for _ in 0..20_000 {
            intake.push(Instant::ZERO, b, Item::Data(frame(100, 2)));
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
            intake.push_data(Instant::ZERO, a, vec![frame(200, i), frame(1500, i)]);
            intake.push(Instant::ZERO, b, Item::from(Message::Data(frame(60, i))));
            if i % 10 == 0 {
                intake.push(
                    Instant::ZERO,
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
        intake.push_data(Instant::ZERO, a, (0..10).map(|i| frame(1000, i)).collect());
        intake.push_data(Instant::ZERO, b, (0..10).map(|i| frame(1000, i)).collect());
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
        intake.push_data(Instant::ZERO, a, (0..4).map(|i| frame(1000, i)).collect());
        intake.park(a);
        intake.push_data(Instant::ZERO, a, (4..6).map(|i| frame(1000, i)).collect());
        intake.push_data(Instant::ZERO, b, (0..3).map(|i| frame(1000, i)).collect());
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
        intake.push_data(Instant::ZERO, a, vec![frame(1000, 9)]);
        intake.park(a);
        intake.remove(a);
        intake.unpark(a);
        assert!(intake.is_empty() && intake.queued(a) == 0);
    }

    #[test]
    fn a_frame_bigger_than_a_quantum_is_served_after_enough_rounds() {
        let (a, b) = (GuestId(1), GuestId(2));
        let mut intake = Intake::default();
        intake.push(Instant::ZERO, a, Item::Data(frame(3 * QUANTUM, 1)));
        intake.push_data(
            Instant::ZERO,
            b,
            (0..100).map(|_| frame(QUANTUM, 2)).collect(),
        );
        let order: Vec<GuestId> = std::iter::from_fn(|| intake.next().map(|(g, _)| g))
            .take(5)
            .collect();
        // b is served one quantum a round; a's frame goes out in its third round.
        assert_eq!(order, vec![b, b, a, b, b]);
    }

    /// The driver's turns in a test: one every 10 µs; before each, the senders push what
    /// `sends` says (a guest, how many frames and how long each) and the driver asks
    /// [`Intake::short_changed`], and [`Intake::hold_ahead_of`] for the guest named; then it
    /// serves `serve` messages.
    struct Turns {
        intake: Intake,
        at: u64,
        serve: usize,
    }

    /// What [`Turns::run`] saw.
    #[derive(Debug, Default)]
    struct Ran {
        /// In how many turns a guest was named to wait for.
        named: usize,
        /// The last one named.
        who: Option<GuestId>,
        /// In how many turns the guests ahead of it were held.
        holds: usize,
        /// The bytes each guest was served.
        got: BTreeMap<GuestId, usize>,
    }

    impl Turns {
        fn new(serve: usize) -> Self {
            Self {
                intake: Intake::default(),
                at: 1000,
                serve,
            }
        }

        fn now(&self) -> Instant {
            Instant::from_micros(self.at)
        }

        /// Runs `n` turns, the senders sending 1500-byte frames.
        fn run(&mut self, n: usize, mut sends: impl FnMut(usize) -> Vec<(GuestId, usize)>) -> Ran {
            self.run_sized(n, |k| {
                sends(k).into_iter().map(|(g, n)| (g, n, 1500)).collect()
            })
        }

        /// Runs `n` turns, the senders sending frames of the length they say.
        fn run_sized(
            &mut self,
            n: usize,
            mut sends: impl FnMut(usize) -> Vec<(GuestId, usize, usize)>,
        ) -> Ran {
            let mut ran = Ran::default();
            for k in 0..n {
                let now = self.now();
                for (g, frames, len) in sends(k) {
                    if frames > 0 {
                        let batch = (0..frames).map(|i| frame(len, i as u8)).collect();
                        self.intake.push_data(now, g, batch);
                    }
                }
                if let Some(g) = self.intake.short_changed(now) {
                    ran.named += 1;
                    ran.who = Some(g);
                    if self.intake.hold_ahead_of(now, g) {
                        ran.holds += 1;
                    }
                }
                for (g, bytes) in serve(&mut self.intake, self.serve) {
                    *ran.got.entry(g).or_default() += bytes;
                }
                self.intake.release();
                self.at += 10;
            }
            ran
        }
    }

    const A: GuestId = GuestId(1);
    const B: GuestId = GuestId(2);

    /// Both flood the driver for 40 ms: 40 frames each at first, then as many as they are
    /// served (their queues stay about 40 long, more than BACKLOG_AT).
    fn both_flooding() -> Turns {
        let mut t = Turns::new(4);
        let named = t
            .run(4000, |k| {
                let n = if k == 0 { 40 } else { 2 };
                vec![(A, n), (B, n)]
            })
            .named;
        assert_eq!(
            named, 0,
            "nobody is short-changed while both are backlogged"
        );
        t
    }

    #[test]
    fn a_busy_guest_whose_queue_ran_dry_is_waited_for_until_it_comes_or_long_after_its_backlog() {
        let mut t = both_flooding();
        // a stops sending: its queue runs dry, b goes on alone and a falls behind.
        let ran = t.run(300, |_| vec![(B, 2)]);
        assert!(
            ran.named > 100,
            "a waited for in {} of 300 turns",
            ran.named
        );
        assert_eq!(ran.who, Some(A));
        // It comes: not waited for while it has something queued.
        let now = t.now();
        t.intake.push_data(now, A, vec![frame(1500, 1)]);
        assert!(t.intake.queued(A) > 0);
        assert_eq!(t.intake.short_changed(now), None);
        // It stays away: waited for no longer than BACKLOG_MEMORY after its last backlog.
        let turns = (BACKLOG_MEMORY.as_micros() / 10) as usize;
        let named = t.run(turns, |_| vec![(B, 2)]).named;
        assert!(named > 0 && named < turns, "{named} of {turns}");
        let named = t.run(100, |_| vec![(B, 2)]).named;
        assert_eq!(named, 0, "its backlog was too long ago");
    }

    #[test]
    fn a_light_guest_is_never_waited_for_and_a_bursty_one_after_each_big_burst() {
        // b floods; a sends a burst of 20 frames (fewer than BACKLOG_AT) every 2 ms.
        let mut t = Turns::new(4);
        let named = t
            .run(6000, |k| {
                vec![(A, if k % 200 == 0 { 20 } else { 0 }), (B, 2)]
            })
            .named;
        assert_eq!(named, 0, "a never queued BACKLOG_AT messages");
        // Bursts of 40 every 2 ms: waited for after each, between turns that serve b.
        let mut t = Turns::new(4);
        let ran = t.run(6000, |k| {
            vec![(A, if k % 200 == 0 { 40 } else { 0 }), (B, 2)]
        });
        assert!(ran.named > 0 && ran.who == Some(A), "{ran:?}");
    }

    #[test]
    fn a_parked_guest_is_not_waited_for_and_a_lead_is_forgotten_over_time() {
        let mut t = both_flooding();
        t.intake.park(A);
        let named = t.run(300, |_| vec![(B, 2)]).named;
        assert_eq!(named, 0, "a waits parked: nothing to wait for");
        t.intake.unpark(A);
        // a drains its queue, then falls behind.
        let named = t.run(300, |_| vec![(B, 2)]).named;
        assert!(named > 0);
        // Both flood again, equally: after a while b's lead no longer counts, and when a's
        // queue runs dry for a turn it is not short-changed.
        let named = t.run(10_000, |_| vec![(A, 2), (B, 2)]).named;
        assert!(named < 100, "{named}");
        let named = t.run(1, |_| vec![(B, 2)]).named;
        assert_eq!(named, 0);
    }

    const C: GuestId = GuestId(3);

    #[test]
    fn of_several_short_changed_guests_the_one_served_least_is_waited_for() {
        let mut t = Turns::new(6);
        t.run(4000, |k| {
            let n = if k == 0 { 40 } else { 2 };
            vec![(A, n), (B, n), (C, n)]
        });
        // b stops first and falls further behind than a, which stops later: both are
        // short-changed, and the one to wait for is b, although a comes first by id.
        t.run(150, |_| vec![(A, 2), (C, 2)]);
        let ran = t.run(150, |_| vec![(C, 2)]);
        assert_eq!(ran.who, Some(B), "{ran:?}");
        let served = |g| t.intake.queues.get(&g).map_or(0.0, |q| q.served);
        let bar = served(C) * SHORT_CHANGED_PERCENT / 100.0;
        assert!(
            served(B) < served(A) && served(A) < bar,
            "b {} a {}",
            served(B),
            served(A)
        );
        assert_eq!(t.intake.queued(A) + t.intake.queued(B), 0);
    }

    #[test]
    fn a_short_changed_bulk_sender_holds_the_guests_ahead_of_it_and_no_one_else() {
        let mut intake = Intake::default();
        let t0 = Instant::from_micros(1000);
        // b was served 60 frames lately; then a sent 40 (60 000 bytes, in bulk) and was served
        // them all; c, a receiver, has 10 acknowledgements queued.
        intake.push_data(t0, B, (0..100).map(|i| frame(1500, i)).collect());
        for _ in 0..60 {
            assert_eq!(intake.next().map(|(g, _)| g), Some(B));
        }
        intake.push_data(t0, A, (0..40).map(|i| frame(1500, i)).collect());
        intake.push_data(t0, C, (0..10).map(|i| frame(60, i)).collect());
        while intake.queued(A) > 0 {
            intake.next();
        }
        let now = t0 + Duration::from_micros(100);
        assert_eq!(intake.short_changed(now), Some(A));
        assert!(intake.hold_ahead_of(now, A));
        // Held: b, ahead of a. Served: c, behind it.
        let served: Vec<GuestId> = std::iter::from_fn(|| intake.next().map(|(g, _)| g)).collect();
        assert!(
            !served.contains(&B) && served.iter().all(|&g| g == C),
            "{served:?}"
        );
        assert!(intake.queued(B) > 0 && intake.queued(C) == 0);
        // Released after the turn: b goes on.
        intake.release();
        assert_eq!(intake.next().map(|(g, _)| g), Some(B));
        // Not when a came, nor once its bulk is HOLD_MEMORY old.
        intake.push(now, A, Item::Data(frame(1500, 1)));
        assert!(!intake.hold_ahead_of(now, A));
        while intake.queued(A) > 0 {
            intake.next();
        }
        assert!(intake.hold_ahead_of(now, A));
        assert!(!intake.hold_ahead_of(t0 + HOLD_MEMORY, A));
        // Nor for a guest that never sent in bulk: c's acknowledgements.
        assert!(!intake.hold_ahead_of(now, C));
    }

    #[test]
    fn holding_takes_at_most_its_share_of_the_time() {
        // b floods (more than the turns serve); a sends bursts of 40 frames (60 000 bytes)
        // 2 ms apart and is
        // short-changed after each: b is held then, but for no more than HOLD_SHARE of the
        // time, and gets the rest.
        let mut t = Turns::new(4);
        let turns = 6000;
        let ran = t.run(turns, |k| {
            vec![(A, if k % 200 == 0 { 40 } else { 0 }), (B, 4)]
        });
        assert!(ran.holds > 0, "{ran:?}");
        let held = Duration::from_micros(10 * ran.holds as u64);
        let bound = SHARE_MEMORY.mul_f64(HOLD_SHARE)
            + Duration::from_micros(10 * turns as u64).mul_f64(HOLD_SHARE);
        assert!(held <= bound, "held {held:?} of {} ms", turns / 100);
        assert!(t.intake.holds().1 > 0, "the limit was reached");
        let a_frames = 40 * turns / 200;
        let unheld = (turns * 4 - a_frames) * 1500;
        assert!(
            ran.got[&B] as f64 >= unheld as f64 * (1.0 - HOLD_SHARE - 0.05),
            "{ran:?}"
        );
        // A bulk sender whose queue runs dry for a turn now and then holds the one ahead.
        let mut t = both_flooding();
        let ran = t.run(2000, |k| {
            vec![(A, if k % 40 == 0 { 40 } else { 0 }), (B, 4)]
        });
        assert!(ran.holds > 0, "{ran:?}");
    }
}
