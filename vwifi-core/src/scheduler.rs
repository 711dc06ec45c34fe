//! The association scheduler: one radio, many virtual stations.
//!
//! A radio is tuned to one channel at a time. The scheduler decides which channel, and when:
//! - **Home channels.** Every associated station has a home channel (its BSS's). When stations
//!   live on several channels, the radio visits each in turn for [`SchedulerConfig::home_slot`].
//!   Before it leaves a channel the scheduler says so ([`SchedulerOutput::Leaving`]): the
//!   stations there tell their APs they are dozing (a null frame with the power-management bit),
//!   so the APs buffer their frames instead of losing them; on return
//!   ([`SchedulerOutput::Arrived`]) they wake and the APs deliver.
//! - **Radio-wide work.** Scans and authentication/association exchanges need the radio on
//!   channels of their own choosing. They are serialized: one station at a time holds the
//!   exclusive grant, the others queue in arrival order (first come, first served). The holder
//!   gets a slot of [`SchedulerConfig::exclusive_slot`] in the rotation like a channel, so a
//!   guest's scan never keeps the radio away from another guest's home channel for longer than
//!   one slot: connections survive other guests' scans.
//! - **DTIM beacons.** An AP sends the group frames (ARP requests, multicast) it buffered for
//!   dozing stations right after its DTIM beacon, once: a station away then loses them. A
//!   fixed rotation drifts against the APs' DTIM interval (100 ms slots against 204.8 ms) and
//!   would be away for seconds of DTIMs at a time. So stations report when their AP's next
//!   DTIM is due ([`Scheduler::handle_dtim`]), and a home slot ends [`DTIM_LEAD`] before the
//!   next DTIM beacon of the channel that follows it in the rotation: every slot starts just
//!   before its own channel's DTIM beacon. Slots then last between [`MIN_HOME_SLOT`] and 2.5
//!   home slots (the usual DTIM interval is 204.8 ms); when two channels' DTIM beacons come
//!   closer together than that minimum, they get every other DTIM each. Channels without a
//!   report, and the exclusive slot, keep the fixed lengths.
//! - **Admission.** A radio serves at most [`SchedulerConfig::max_stations`] stations and at
//!   most [`SchedulerConfig::max_channels`] home channels at once; beyond that it refuses with
//!   [`AdmitError`].
//!
//! Sans-IO: drive it with the `handle_*` calls, then drain [`Scheduler::poll_output`] and wake
//! it at [`Scheduler::poll_timeout`]. When it emits [`SchedulerOutput::Tune`], frames queued
//! before must be sent before the radio changes channel.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::channel::Channel;
use crate::demux::GuestId;
use crate::time::Instant;

/// How long before a DTIM beacon the radio arrives on its channel: time to tune and for the
/// stations to announce they are awake.
pub const DTIM_LEAD: Duration = Duration::from_millis(2);

/// The shortest home slot that DTIM alignment makes: enough to hear a DTIM beacon and the
/// group frames after it, and to exchange some data.
pub const MIN_HOME_SLOT: Duration = Duration::from_millis(25);

/// The DTIM timing of a station's AP: the next DTIM beacon and the interval between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtim {
    next: Instant,
    interval: Duration,
}

impl Dtim {
    /// The first DTIM at or after `t`.
    fn first_from(self, t: Instant) -> Instant {
        if self.next >= t {
            return self.next;
        }
        let step = (self.interval.as_micros() as u64).max(1);
        let behind = t.as_micros() - self.next.as_micros();
        let periods = behind.div_ceil(step);
        Instant::from_micros(
            self.next
                .as_micros()
                .saturating_add(periods.saturating_mul(step)),
        )
    }
}

/// Limits and timing of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// How long the radio stays on a home channel when others are waiting.
    pub home_slot: Duration,
    /// How long the exclusive holder keeps the radio when home channels are waiting.
    pub exclusive_slot: Duration,
    /// The most stations the radio serves.
    pub max_stations: usize,
    /// The most distinct home channels at once.
    pub max_channels: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            home_slot: Duration::from_millis(100),
            exclusive_slot: Duration::from_millis(60),
            max_stations: 256,
            max_channels: 4,
        }
    }
}

/// Why the scheduler refused a station or a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// The radio already serves its maximum number of stations.
    #[error("the radio already serves its maximum of {max} stations")]
    TooManyStations {
        /// The limit.
        max: usize,
    },
    /// Joining this channel would exceed the number of channels the radio can share.
    #[error("the radio already shares its maximum of {max} channels; channel {channel} would be one more")]
    TooManyChannels {
        /// The channel that was refused.
        channel: u8,
        /// The limit.
        max: usize,
    },
    /// The guest is not admitted.
    #[error("unknown guest")]
    UnknownGuest,
}

/// What the scheduler asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerOutput {
    /// The radio is about to leave this home channel: its stations should announce power save.
    Leaving(Channel),
    /// Tune the radio to this channel (after sending the frames queued so far).
    Tune(Channel),
    /// The radio is back on this home channel: its stations should wake.
    Arrived(Channel),
    /// This guest now holds the radio-wide grant (its turn came).
    Granted(GuestId),
    /// The grant holder's slot ended; it keeps the grant and gets the radio back later.
    Paused(GuestId),
    /// The grant holder has the radio again.
    Resumed(GuestId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Home(Channel),
    Exclusive,
}

/// The scheduler of one radio.
#[derive(Debug)]
pub struct Scheduler {
    cfg: SchedulerConfig,
    admitted: BTreeSet<GuestId>,
    homes: BTreeMap<GuestId, Channel>,
    /// The DTIM timing of each station's AP, as the stations last reported it.
    dtims: BTreeMap<GuestId, Dtim>,
    queue: VecDeque<GuestId>,
    holder: Option<GuestId>,
    /// The channel the holder wants the radio on.
    holder_channel: Option<Channel>,
    slot: Option<Slot>,
    slot_end: Option<Instant>,
    tuned: Option<Channel>,
    out: VecDeque<SchedulerOutput>,
}

impl Scheduler {
    /// A scheduler with no stations.
    pub fn new(cfg: SchedulerConfig) -> Self {
        Self {
            cfg,
            admitted: BTreeSet::new(),
            homes: BTreeMap::new(),
            dtims: BTreeMap::new(),
            queue: VecDeque::new(),
            holder: None,
            holder_channel: None,
            slot: None,
            slot_end: None,
            tuned: None,
            out: VecDeque::new(),
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// The channel the radio is tuned to, as far as the scheduler knows.
    pub const fn tuned(&self) -> Option<Channel> {
        self.tuned
    }

    /// The distinct home channels in use.
    pub fn home_channels(&self) -> BTreeSet<Channel> {
        self.homes.values().copied().collect()
    }

    /// The guest holding the radio-wide grant.
    pub const fn holder(&self) -> Option<GuestId> {
        self.holder
    }

    /// Whether the grant holder has the radio right now.
    pub fn holder_active(&self) -> bool {
        self.holder.is_some() && self.slot == Some(Slot::Exclusive)
    }

    /// Admits a station, or refuses it when the radio is full.
    pub fn admit(&mut self, guest: GuestId) -> Result<(), AdmitError> {
        if !self.admitted.contains(&guest) && self.admitted.len() >= self.cfg.max_stations {
            return Err(AdmitError::TooManyStations {
                max: self.cfg.max_stations,
            });
        }
        self.admitted.insert(guest);
        Ok(())
    }

    /// Whether joining `channel` as a home channel is possible now.
    pub fn can_use_channel(&self, guest: GuestId, channel: Channel) -> Result<(), AdmitError> {
        let mut channels = self
            .homes
            .iter()
            .filter(|(g, _)| **g != guest)
            .map(|(_, c)| *c)
            .collect::<BTreeSet<_>>();
        channels.insert(channel);
        if channels.len() > self.cfg.max_channels {
            return Err(AdmitError::TooManyChannels {
                channel: channel.number(),
                max: self.cfg.max_channels,
            });
        }
        Ok(())
    }

    /// Sets (or clears, with `None`) a station's home channel: the channel of its BSS once
    /// associated.
    pub fn set_home(
        &mut self,
        now: Instant,
        guest: GuestId,
        channel: Option<Channel>,
    ) -> Result<(), AdmitError> {
        if !self.admitted.contains(&guest) {
            return Err(AdmitError::UnknownGuest);
        }
        match channel {
            Some(c) => {
                self.can_use_channel(guest, c)?;
                self.homes.insert(guest, c);
            }
            None => {
                self.homes.remove(&guest);
                self.dtims.remove(&guest);
            }
        }
        self.reschedule(now);
        Ok(())
    }

    /// A station's AP has its next DTIM beacon at `next`, then one every `interval`. Home
    /// slots of the station's channel are stretched to cover DTIM beacons (see the module
    /// documentation). Ignored for an unknown guest or a zero interval.
    pub fn handle_dtim(&mut self, guest: GuestId, next: Instant, interval: Duration) {
        if self.admitted.contains(&guest) && !interval.is_zero() {
            self.dtims.insert(guest, Dtim { next, interval });
        }
    }

    /// Queues `guest` for the radio-wide grant; [`SchedulerOutput::Granted`] says when it has
    /// it. Asking again while queued or holding changes nothing.
    pub fn request_grant(&mut self, now: Instant, guest: GuestId) -> Result<(), AdmitError> {
        if !self.admitted.contains(&guest) {
            return Err(AdmitError::UnknownGuest);
        }
        if self.holder != Some(guest) && !self.queue.contains(&guest) {
            self.queue.push_back(guest);
        }
        self.next_holder(now);
        Ok(())
    }

    /// The grant holder wants the radio on `channel` (the next scan channel, the BSS to
    /// authenticate with). Ignored from a guest that does not hold the grant.
    pub fn tune_for_holder(&mut self, now: Instant, guest: GuestId, channel: Channel) {
        if self.holder != Some(guest) {
            return;
        }
        self.holder_channel = Some(channel);
        if self.slot == Some(Slot::Exclusive) {
            self.tune(channel);
        } else {
            self.reschedule(now);
        }
    }

    /// Gives the grant back (work done or abandoned); the next in the queue gets it. Released
    /// during the exclusive slot, the grant passes on with the rest of the slot: the next
    /// holder has the radio at once ([`SchedulerOutput::Resumed`]), the home channels wait no
    /// longer than they would have, and many stations joining at once are not served one per
    /// rotation.
    pub fn release_grant(&mut self, now: Instant, guest: GuestId) {
        self.queue.retain(|g| *g != guest);
        if self.holder == Some(guest) {
            self.holder = None;
            self.holder_channel = None;
            let in_slot = self.slot == Some(Slot::Exclusive);
            if in_slot && self.queue.is_empty() {
                self.slot = None;
                self.slot_end = None;
            }
            self.next_holder(now);
            self.reschedule(now);
            if let Some(next) = self.holder.filter(|_| in_slot) {
                self.out.push_back(SchedulerOutput::Resumed(next));
            }
        }
    }

    /// Removes a station entirely (its grant, queue place and home channel).
    pub fn remove(&mut self, now: Instant, guest: GuestId) {
        self.release_grant(now, guest);
        self.homes.remove(&guest);
        self.dtims.remove(&guest);
        self.admitted.remove(&guest);
        self.reschedule(now);
    }

    /// The radio reached the channel of the last [`SchedulerOutput::Tune`] `late` after it
    /// was asked for (it was still sending what was queued before): an exclusive slot (a scan
    /// off the home channels) is lengthened by as much, so its holder gets the whole slot on
    /// the channel. Home slots keep their end, which is aligned on the next channel's DTIM.
    pub fn radio_arrived(&mut self, late: Duration) {
        if self.slot == Some(Slot::Exclusive) {
            self.slot_end = self.slot_end.map(|end| end + late);
        }
    }

    /// When [`Scheduler::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slot_end
    }

    /// Ends the current slot if its time has come and moves to the next.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.slot_end.is_some_and(|end| now >= end) {
            self.advance(now);
        }
    }

    /// The next instruction, if any.
    pub fn poll_output(&mut self) -> Option<SchedulerOutput> {
        self.out.pop_front()
    }

    fn next_holder(&mut self, now: Instant) {
        if self.holder.is_none() {
            if let Some(g) = self.queue.pop_front() {
                self.holder = Some(g);
                self.holder_channel = None;
                self.out.push_back(SchedulerOutput::Granted(g));
                self.reschedule(now);
            }
        }
    }

    /// The slots of one rotation: each home channel, then the exclusive holder (if any).
    fn rotation(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = self.home_channels().into_iter().map(Slot::Home).collect();
        if self.holder.is_some() {
            slots.push(Slot::Exclusive);
        }
        slots
    }

    /// Re-evaluates the current slot after a change of homes or holder.
    fn reschedule(&mut self, now: Instant) {
        let rotation = self.rotation();
        match self.slot {
            Some(s) if rotation.contains(&s) => {
                // Still valid; with one slot there is nothing to rotate to.
                if rotation.len() <= 1 {
                    self.slot_end = None;
                } else if self.slot_end.is_none() {
                    self.slot_end = Some(now + self.slot_len(now, s));
                }
                if s == Slot::Exclusive {
                    if let Some(c) = self.holder_channel {
                        self.tune(c);
                    }
                }
            }
            _ => {
                self.slot = None;
                self.slot_end = None;
                // Stay where the radio is if that channel is still served (a station that has
                // just associated there must not be taken away at once), else start over.
                let here = self.tuned.map(Slot::Home).filter(|s| rotation.contains(s));
                if let Some(first) = here.or_else(|| rotation.first().copied()) {
                    self.enter(now, first, rotation.len());
                }
            }
        }
    }

    fn advance(&mut self, now: Instant) {
        let rotation = self.rotation();
        let next = match self
            .slot
            .and_then(|s| rotation.iter().position(|x| *x == s))
        {
            Some(i) => rotation.get((i + 1) % rotation.len()).copied(),
            None => rotation.first().copied(),
        };
        let Some(next) = next else {
            self.slot_end = None;
            return;
        };
        if Some(next) == self.slot {
            self.slot_end = (rotation.len() > 1).then(|| now + self.slot_len(now, next));
            return;
        }
        match self.slot {
            Some(Slot::Home(c)) => self.out.push_back(SchedulerOutput::Leaving(c)),
            Some(Slot::Exclusive) => {
                if let Some(g) = self.holder {
                    self.out.push_back(SchedulerOutput::Paused(g));
                }
            }
            None => {}
        }
        self.enter(now, next, rotation.len());
    }

    fn enter(&mut self, now: Instant, slot: Slot, rotation_len: usize) {
        self.slot = Some(slot);
        self.slot_end = (rotation_len > 1).then(|| now + self.slot_len(now, slot));
        match slot {
            Slot::Home(c) => {
                self.tune(c);
                self.out.push_back(SchedulerOutput::Arrived(c));
            }
            Slot::Exclusive => {
                if let Some(c) = self.holder_channel {
                    self.tune(c);
                }
                if let Some(g) = self.holder {
                    self.out.push_back(SchedulerOutput::Resumed(g));
                }
            }
        }
    }

    /// The length of `slot` starting at `now`. A home slot followed by another home channel
    /// whose stations reported their AP's DTIM timing ends [`DTIM_LEAD`] before that
    /// channel's next DTIM beacon (at least [`MIN_HOME_SLOT`] from now, at most 2.5 home
    /// slots): each slot then starts just before its own channel's DTIM beacon and covers it.
    fn slot_len(&self, now: Instant, slot: Slot) -> Duration {
        let Slot::Home(channel) = slot else {
            return self.cfg.exclusive_slot;
        };
        let base = self.cfg.home_slot;
        let rotation = self.rotation();
        let next = rotation
            .iter()
            .position(|s| *s == slot)
            .and_then(|i| rotation.get((i + 1) % rotation.len()));
        let Some(Slot::Home(next_channel)) = next.copied() else {
            return base;
        };
        if next_channel == channel {
            return base;
        }
        let earliest = now + MIN_HOME_SLOT + DTIM_LEAD;
        let next_dtim = self
            .homes
            .iter()
            .filter(|(_, c)| **c == next_channel)
            .filter_map(|(g, _)| self.dtims.get(g))
            .map(|d| d.first_from(earliest))
            .min();
        match next_dtim {
            Some(at) => {
                let len = (at - now).saturating_sub(DTIM_LEAD);
                if len <= base * 5 / 2 {
                    len
                } else {
                    base
                }
            }
            None => base,
        }
    }

    fn tune(&mut self, c: Channel) {
        if self.tuned != Some(c) {
            self.tuned = Some(c);
            self.out.push_back(SchedulerOutput::Tune(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap()
    }

    fn drain(s: &mut Scheduler) -> Vec<SchedulerOutput> {
        std::iter::from_fn(|| s.poll_output()).collect()
    }

    fn sched(n: u32) -> Scheduler {
        let mut s = Scheduler::new(SchedulerConfig::default());
        for g in 0..n {
            s.admit(GuestId(g)).unwrap();
        }
        s
    }

    #[test]
    fn one_home_channel_needs_no_rotation() {
        let mut s = sched(2);
        let t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.set_home(t, GuestId(1), Some(ch(1))).unwrap();
        assert_eq!(
            drain(&mut s),
            vec![
                SchedulerOutput::Tune(ch(1)),
                SchedulerOutput::Arrived(ch(1))
            ]
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn two_home_channels_alternate_with_power_save_around_each_switch() {
        let mut s = sched(2);
        let mut t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.set_home(t, GuestId(1), Some(ch(11))).unwrap();
        drain(&mut s);
        let mut visits = Vec::new();
        for _ in 0..6 {
            t = s.poll_timeout().expect("rotating");
            s.handle_timeout(t);
            let out = drain(&mut s);
            // Leaving the old channel always comes before tuning to the new one.
            let leave = out
                .iter()
                .position(|o| matches!(o, SchedulerOutput::Leaving(_)))
                .unwrap();
            let tune = out
                .iter()
                .position(|o| matches!(o, SchedulerOutput::Tune(_)))
                .unwrap();
            assert!(leave < tune, "{out:?}");
            visits.push(s.tuned().unwrap().number());
        }
        assert_eq!(visits, vec![11, 1, 11, 1, 11, 1]);
        assert_eq!(t, Instant::ZERO + Duration::from_millis(600));
    }

    /// A slot of a rotation: (channel, start, end).
    type HomeSlot = (u8, Instant, Instant);

    /// The slots of a rotation over `span`.
    fn home_slots(s: &mut Scheduler, span: Duration) -> Vec<HomeSlot> {
        let mut slots = Vec::new();
        let mut start = Instant::ZERO;
        while let Some(t) = s.poll_timeout().filter(|t| *t <= Instant::ZERO + span) {
            slots.push((s.tuned().unwrap().number(), start, t));
            s.handle_timeout(t);
            drain(s);
            start = t;
        }
        slots
    }

    /// For each DTIM beacon of an AP on `channel` (first at `first`, then every `every`) in
    /// `[from, to)`: whether a slot on that channel covers it and 8 ms of group frames after.
    fn dtims_covered(
        slots: &[HomeSlot],
        channel: u8,
        first: Instant,
        every: Duration,
        from: Instant,
        to: Instant,
    ) -> Vec<bool> {
        let grace = Duration::from_millis(8);
        let mut out = Vec::new();
        let mut d = first;
        while d < to {
            if d >= from {
                out.push(
                    slots
                        .iter()
                        .any(|(c, a, b)| *c == channel && *a <= d && d + grace <= *b),
                );
            }
            d += every;
        }
        out
    }

    fn longest_miss(c: &[bool]) -> usize {
        c.split(|covered| *covered)
            .map(<[bool]>::len)
            .max()
            .unwrap_or(0)
    }

    /// Two channels time-shared for 20 s, their APs' first DTIMs at `dtim_1` and `dtim_11`
    /// (every 204.8 ms), reported to the scheduler or not: the slots, and which DTIMs of
    /// each channel after the first second were covered.
    fn two_channels_with_dtims(
        dtim_1: Instant,
        dtim_11: Instant,
        report: bool,
    ) -> (Vec<HomeSlot>, Vec<bool>, Vec<bool>) {
        let every = Duration::from_micros(204_800);
        let mut s = sched(2);
        s.set_home(Instant::ZERO, GuestId(0), Some(ch(1))).unwrap();
        s.set_home(Instant::ZERO, GuestId(1), Some(ch(11))).unwrap();
        if report {
            s.handle_dtim(GuestId(0), dtim_1, every);
            s.handle_dtim(GuestId(1), dtim_11, every);
        }
        drain(&mut s);
        let slots = home_slots(&mut s, Duration::from_secs(20));
        let (from, to) = (Instant::from_millis(1000), Instant::from_millis(19_000));
        let c1 = dtims_covered(&slots, 1, dtim_1, every, from, to);
        let c11 = dtims_covered(&slots, 11, dtim_11, every, from, to);
        (slots, c1, c11)
    }

    #[test]
    fn each_home_slot_starts_just_before_its_channels_dtim_beacon() {
        let (dtim_1, dtim_11) = (Instant::from_millis(30), Instant::from_millis(150));
        // Without DTIM reports the fixed 100 ms rotation drifts against 204.8 ms: runs of
        // missed DTIMs seconds long.
        let (_, c1, c11) = two_channels_with_dtims(dtim_1, dtim_11, false);
        assert!(
            longest_miss(&c1).max(longest_miss(&c11)) >= 5,
            "{c1:?} {c11:?}"
        );
        // With them, every DTIM of both channels is covered.
        let (slots, c1, c11) = two_channels_with_dtims(dtim_1, dtim_11, true);
        assert!(c1.iter().chain(&c11).all(|x| *x), "{c1:?} {c11:?}");
        let home = SchedulerConfig::default().home_slot;
        for (_, a, b) in slots.iter().skip(2) {
            let len = *b - *a;
            assert!(len >= MIN_HOME_SLOT && len <= home * 5 / 2, "{slots:?}");
        }
    }

    #[test]
    fn channels_whose_dtims_coincide_take_every_other_dtim_each() {
        let at = Instant::from_millis(50);
        let (_, c1, c11) = two_channels_with_dtims(at, at + Duration::from_millis(3), true);
        for c in [&c1, &c11] {
            assert!(longest_miss(c) <= 1, "{c:?}");
            let covered = c.iter().filter(|x| **x).count();
            assert!(covered * 2 + 2 >= c.len(), "{covered} of {}", c.len());
        }
    }

    #[test]
    fn dtim_reports_of_unknown_guests_and_removed_stations_are_forgotten() {
        let mut s = sched(1);
        s.handle_dtim(
            GuestId(9),
            Instant::from_millis(5),
            Duration::from_millis(200),
        );
        assert!(s.dtims.is_empty());
        s.set_home(Instant::ZERO, GuestId(0), Some(ch(1))).unwrap();
        s.handle_dtim(
            GuestId(0),
            Instant::from_millis(5),
            Duration::from_millis(200),
        );
        s.handle_dtim(GuestId(0), Instant::from_millis(5), Duration::ZERO);
        assert_eq!(s.dtims.len(), 1);
        s.remove(Instant::ZERO, GuestId(0));
        assert!(s.dtims.is_empty());
    }

    #[test]
    fn grants_are_first_come_first_served() {
        let mut s = sched(3);
        let t = Instant::ZERO;
        s.request_grant(t, GuestId(2)).unwrap();
        s.request_grant(t, GuestId(0)).unwrap();
        s.request_grant(t, GuestId(2)).unwrap(); // again: no second place in the queue
        assert_eq!(
            drain(&mut s),
            vec![
                SchedulerOutput::Granted(GuestId(2)),
                SchedulerOutput::Resumed(GuestId(2))
            ]
        );
        s.tune_for_holder(t, GuestId(0), ch(6)); // not the holder: ignored
        s.tune_for_holder(t, GuestId(2), ch(6));
        assert_eq!(drain(&mut s), vec![SchedulerOutput::Tune(ch(6))]);
        s.release_grant(t, GuestId(2));
        assert_eq!(s.holder(), Some(GuestId(0)));
        s.release_grant(t, GuestId(0));
        assert_eq!(s.holder(), None);
    }

    #[test]
    fn a_scan_shares_the_radio_with_a_connected_station() {
        let mut s = sched(2);
        let mut t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.request_grant(t, GuestId(1)).unwrap();
        s.tune_for_holder(t, GuestId(1), ch(36));
        drain(&mut s);
        // Over a long scan the home channel gets a slot in every rotation.
        let mut on_home = Duration::ZERO;
        let start = t;
        for _ in 0..20 {
            let next = s.poll_timeout().unwrap();
            if s.tuned() == Some(ch(1)) {
                on_home += next - t;
            }
            t = next;
            s.handle_timeout(t);
            drain(&mut s);
        }
        let total = t - start;
        assert!(
            on_home * 2 >= total,
            "home channel got {on_home:?} of {total:?}"
        );
    }

    #[test]
    fn admission_limits_are_enforced() {
        let mut s = Scheduler::new(SchedulerConfig {
            max_stations: 2,
            max_channels: 2,
            ..Default::default()
        });
        s.admit(GuestId(0)).unwrap();
        s.admit(GuestId(1)).unwrap();
        s.admit(GuestId(1)).unwrap(); // already admitted
        assert_eq!(
            s.admit(GuestId(2)),
            Err(AdmitError::TooManyStations { max: 2 })
        );
        let t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.set_home(t, GuestId(1), Some(ch(6))).unwrap();
        s.remove(t, GuestId(1));
        s.admit(GuestId(2)).unwrap();
        s.admit(GuestId(3)).unwrap_err();
        s.set_home(t, GuestId(2), Some(ch(6))).unwrap();
        let mut s3 = Scheduler::new(SchedulerConfig {
            max_channels: 1,
            ..Default::default()
        });
        s3.admit(GuestId(0)).unwrap();
        s3.admit(GuestId(1)).unwrap();
        s3.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        assert_eq!(
            s3.set_home(t, GuestId(1), Some(ch(6))),
            Err(AdmitError::TooManyChannels { channel: 6, max: 1 })
        );
        // Moving the only station to another channel is fine.
        s3.set_home(t, GuestId(0), Some(ch(6))).unwrap();
        assert_eq!(
            s3.set_home(t, GuestId(9), Some(ch(6))),
            Err(AdmitError::UnknownGuest)
        );
    }

    #[test]
    fn every_slot_is_served_within_one_rotation() {
        let mut s = sched(5);
        let mut t = Instant::ZERO;
        for (g, c) in [(0, 1), (1, 6), (2, 11), (3, 36)] {
            s.set_home(t, GuestId(g), Some(ch(c))).unwrap();
        }
        s.request_grant(t, GuestId(4)).unwrap();
        s.tune_for_holder(t, GuestId(4), ch(149));
        drain(&mut s);
        let mut seen = BTreeSet::new();
        for _ in 0..5 {
            t = s.poll_timeout().unwrap();
            s.handle_timeout(t);
            drain(&mut s);
            seen.insert(s.tuned().unwrap().number());
        }
        assert_eq!(seen, [1, 6, 11, 36, 149].into_iter().collect());
    }

    #[test]
    fn a_late_radio_lengthens_an_exclusive_slot_but_not_a_home_slot() {
        let mut s = sched(2);
        let mut t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.request_grant(t, GuestId(1)).unwrap();
        s.tune_for_holder(t, GuestId(1), ch(6));
        drain(&mut s);
        // A home slot keeps its end (aligned on DTIM beacons).
        let home_end = s.poll_timeout().unwrap();
        s.radio_arrived(Duration::from_millis(30));
        assert_eq!(s.poll_timeout(), Some(home_end));
        // The exclusive slot on 6: the radio got there 30 ms late, the slot ends 30 ms later.
        t = home_end;
        s.handle_timeout(t);
        drain(&mut s);
        assert!(s.holder_active());
        let slot_end = s.poll_timeout().unwrap();
        s.radio_arrived(Duration::from_millis(30));
        assert_eq!(s.poll_timeout(), Some(slot_end + Duration::from_millis(30)));
    }

    #[test]
    fn a_grant_released_in_the_exclusive_slot_passes_on_with_the_rest_of_the_slot() {
        let mut s = sched(3);
        let mut t = Instant::ZERO;
        s.set_home(t, GuestId(0), Some(ch(1))).unwrap();
        s.request_grant(t, GuestId(1)).unwrap();
        s.request_grant(t, GuestId(2)).unwrap();
        s.tune_for_holder(t, GuestId(1), ch(6));
        drain(&mut s);
        // Home 1, then the exclusive slot of guest 1 on channel 6.
        t = s.poll_timeout().unwrap();
        s.handle_timeout(t);
        drain(&mut s);
        assert!(s.holder_active());
        let slot_end = s.poll_timeout().unwrap();
        // Guest 1 is done 10 ms in: guest 2 has the radio at once, until the same slot end.
        t += Duration::from_millis(10);
        s.release_grant(t, GuestId(1));
        assert_eq!(
            drain(&mut s),
            vec![
                SchedulerOutput::Granted(GuestId(2)),
                SchedulerOutput::Resumed(GuestId(2))
            ]
        );
        assert!(s.holder_active());
        s.tune_for_holder(t, GuestId(2), ch(11));
        assert_eq!(drain(&mut s), vec![SchedulerOutput::Tune(ch(11))]);
        assert_eq!(s.poll_timeout(), Some(slot_end), "home 1 waits no longer");
        // The last one done: the slot ends and the radio goes home.
        s.release_grant(t, GuestId(2));
        let out = drain(&mut s);
        assert!(out.contains(&SchedulerOutput::Tune(ch(1))), "{out:?}");
        assert!(!s.holder_active());
    }
}
