//! The radio's transmit queue in the embedded simulation: frames and channel changes in order,
//! with each station's data kept aside while the radio is off its channel.
//!
//! A channel change goes ahead of the *data* frames queued before it (as mac80211 keeps its
//! per-station TXQs across an off-channel period): they are parked, tagged with the channel they
//! were queued for, and go out again once the radio is back on that channel to stay (no other
//! change queued behind the one that brought it there). Management, control, null and EAPOL frames
//! keep their place before the change, so a power-save announcement still leaves on the old
//! channel. A parked frame is never sent on another channel; frames whose channel the radio has
//! not come back to within [`PARKED_LIFETIME`] are dropped and counted, so none is stranded.
//! Parked frames still count against their station's [`STATION_TX_QUEUE`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::time::Instant;

/// The most data frames one station may have waiting in the radio's queue (parked ones
/// included); a station's data beyond it is dropped (a guest sending faster than the air
/// carries).
pub const STATION_TX_QUEUE: usize = 1024;

/// How long data frames wait, parked, for the radio to come back to their channel before they
/// are dropped: longer than a rotation of the scheduler's slots over several channels (100 ms
/// home slots, 60 ms exclusive slots), and long enough that a transport protocol has given
/// up on them and retransmitted anyway.
pub const PARKED_LIFETIME: Duration = Duration::from_secs(1);

/// An entry of the queue.
#[derive(Debug)]
enum Pending {
    /// A frame, the channel it was queued for, and the station whose data it is (`None`:
    /// management, control, EAPOL, null).
    Frame {
        frame: Bytes,
        channel: Channel,
        data_of: Option<MacAddr>,
    },
    Tune(Channel),
}

/// The data frames parked for one channel while the radio is elsewhere.
#[derive(Debug)]
struct Parked {
    frames: VecDeque<(Bytes, MacAddr)>,
    /// When the first of them was parked (the radio left their channel).
    since: Instant,
}

/// What [`TxQueue::push_frame`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued.
    Yes,
    /// Dropped: its station already had [`STATION_TX_QUEUE`] data frames waiting.
    StationQueueFull,
}

/// What is at the head of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A frame, to send on the channel the radio is on.
    Frame,
    /// A change to this channel, to apply once nothing is in flight.
    Tune(Channel),
    /// Nothing to do.
    Empty,
}

/// The radio's transmit queue (see the module documentation).
#[derive(Debug, Default)]
pub struct TxQueue {
    pending: VecDeque<Pending>,
    parked: BTreeMap<Channel, Parked>,
    /// Data frames of each station, queued or parked.
    queued_data: BTreeMap<MacAddr, usize>,
    /// Parked data frames dropped because their channel was not visited again in time.
    parked_expired: u64,
}

impl TxQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `frame` for `channel` (the channel the radio is on when the entries before it
    /// have been carried out); `data_of` is the station if it is a guest's data frame, which
    /// counts against that station's queue and may be parked.
    pub fn push_frame(
        &mut self,
        frame: Bytes,
        channel: Channel,
        data_of: Option<MacAddr>,
    ) -> Queued {
        if let Some(sta) = data_of {
            let queued = self.queued_data.entry(sta).or_default();
            if *queued >= STATION_TX_QUEUE {
                return Queued::StationQueueFull;
            }
            *queued += 1;
        }
        self.pending.push_back(Pending::Frame {
            frame,
            channel,
            data_of,
        });
        Queued::Yes
    }

    /// Queues a change to channel `c`: the data frames queued so far are parked for their
    /// channel (kept in their order), everything else stays ahead of the change.
    pub fn push_tune(&mut self, now: Instant, c: Channel) {
        let mut kept = VecDeque::with_capacity(self.pending.len());
        for entry in self.pending.drain(..) {
            match entry {
                Pending::Frame {
                    frame,
                    channel,
                    data_of: Some(sta),
                } => {
                    self.parked
                        .entry(channel)
                        .or_insert_with(|| Parked {
                            frames: VecDeque::new(),
                            since: now,
                        })
                        .frames
                        .push_back((frame, sta));
                }
                other => kept.push_back(other),
            }
        }
        kept.push_back(Pending::Tune(c));
        self.pending = kept;
    }

    /// What the head of the queue holds.
    pub fn head(&self) -> Head {
        match self.pending.front() {
            Some(Pending::Frame { .. }) => Head::Frame,
            Some(Pending::Tune(c)) => Head::Tune(*c),
            None => Head::Empty,
        }
    }

    /// Takes the frame at the head of the queue, if a frame is there.
    pub fn pop_frame(&mut self) -> Option<Bytes> {
        if !matches!(self.pending.front(), Some(Pending::Frame { .. })) {
            return None;
        }
        let Some(Pending::Frame { frame, data_of, .. }) = self.pending.pop_front() else {
            return None;
        };
        if let Some(sta) = data_of {
            self.uncount(sta, 1);
        }
        Some(frame)
    }

    /// Takes the channel change at the head of the queue, if one is there: the caller tunes the
    /// radio to it. If no other change is queued behind it (the radio stays), the data parked
    /// for that channel goes back into the queue, after the frames queued behind the change
    /// that are not data (a return's power-save announcement) and before the data queued since.
    pub fn pop_tune(&mut self) -> Option<Channel> {
        let Some(Pending::Tune(c)) = self.pending.front() else {
            return None;
        };
        let c = *c;
        self.pending.pop_front();
        let passing = self.pending.iter().any(|e| matches!(e, Pending::Tune(_)));
        if !passing {
            if let Some(parked) = self.parked.remove(&c) {
                let at = self
                    .pending
                    .iter()
                    .position(|e| {
                        matches!(
                            e,
                            Pending::Frame {
                                data_of: Some(_),
                                ..
                            }
                        )
                    })
                    .unwrap_or(self.pending.len());
                for (i, (frame, sta)) in parked.frames.into_iter().enumerate() {
                    self.pending.insert(
                        at + i,
                        Pending::Frame {
                            frame,
                            channel: c,
                            data_of: Some(sta),
                        },
                    );
                }
            }
        }
        Some(c)
    }

    /// Drops the data parked for a channel the radio has not come back to within
    /// [`PARKED_LIFETIME`]; returns how many frames were dropped.
    pub fn expire(&mut self, now: Instant) -> u64 {
        let expired: Vec<Channel> = self
            .parked
            .iter()
            .filter(|(_, p)| now >= p.since + PARKED_LIFETIME)
            .map(|(c, _)| *c)
            .collect();
        let mut dropped = 0;
        for c in expired {
            let Some(p) = self.parked.remove(&c) else {
                continue;
            };
            for (_, sta) in p.frames {
                self.uncount(sta, 1);
                dropped += 1;
            }
        }
        self.parked_expired += dropped;
        dropped
    }

    /// When [`TxQueue::expire`] has something to drop next.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.parked
            .values()
            .map(|p| p.since + PARKED_LIFETIME)
            .min()
    }

    /// The data frames station `sta` has waiting, queued or parked.
    pub fn queued_data(&self, sta: MacAddr) -> usize {
        self.queued_data.get(&sta).copied().unwrap_or(0)
    }

    /// The data frames parked (waiting for the radio to come back to their channel).
    pub fn parked(&self) -> usize {
        self.parked.values().map(|p| p.frames.len()).sum()
    }

    /// Parked data frames dropped because the radio did not come back to their channel within
    /// [`PARKED_LIFETIME`].
    pub const fn parked_expired(&self) -> u64 {
        self.parked_expired
    }

    fn uncount(&mut self, sta: MacAddr, n: usize) {
        if let Some(queued) = self.queued_data.get_mut(&sta) {
            *queued = queued.saturating_sub(n);
            if *queued == 0 {
                self.queued_data.remove(&sta);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STA: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const OTHER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap()
    }

    fn frame(tag: u8) -> Bytes {
        Bytes::from(vec![tag])
    }

    /// Carries the queue out on a radio starting on `on`: the frames sent with the channel they
    /// went out on, until the queue is empty or only parked data remains.
    fn run(q: &mut TxQueue, on: &mut Channel) -> Vec<(u8, u8)> {
        let mut sent = Vec::new();
        loop {
            match q.head() {
                Head::Frame => {
                    let f = q.pop_frame().unwrap();
                    sent.push((f[0], on.number()));
                }
                Head::Tune(_) => *on = q.pop_tune().unwrap(),
                Head::Empty => return sent,
            }
        }
    }

    #[test]
    fn a_tune_goes_ahead_of_queued_data_but_not_of_management_frames() {
        let mut q = TxQueue::new();
        for i in 0..5 {
            assert_eq!(q.push_frame(frame(i), ch(1), Some(STA)), Queued::Yes);
        }
        // The power-save announcement, queued after the data.
        q.push_frame(frame(100), ch(1), None);
        q.push_tune(Instant::ZERO, ch(6));
        assert_eq!(q.head(), Head::Frame);
        assert_eq!(q.pop_frame(), Some(frame(100)));
        assert_eq!(q.head(), Head::Tune(ch(6)));
        assert_eq!(q.parked(), 5);
        // Still counted against the station's queue.
        assert_eq!(q.queued_data(STA), 5);
    }

    #[test]
    fn parked_data_goes_out_on_its_own_channel_when_the_radio_is_back() {
        let mut q = TxQueue::new();
        let mut on = ch(1);
        for i in 0..3 {
            q.push_frame(frame(i), ch(1), Some(STA));
        }
        q.push_frame(frame(100), ch(1), None);
        q.push_tune(Instant::ZERO, ch(6));
        q.push_frame(frame(60), ch(6), None);
        // Data queued after the tune is for channel 6 and goes there.
        q.push_frame(frame(61), ch(6), Some(OTHER));
        assert_eq!(run(&mut q, &mut on), vec![(100, 1), (60, 6), (61, 6)]);
        assert_eq!(q.parked(), 3);
        // Back on 1: the return's null frame first, then the parked data, then newer data.
        q.push_tune(Instant::ZERO, ch(1));
        q.push_frame(frame(101), ch(1), None);
        q.push_frame(frame(3), ch(1), Some(STA));
        assert_eq!(
            run(&mut q, &mut on),
            vec![(101, 1), (0, 1), (1, 1), (2, 1), (3, 1)]
        );
        assert_eq!(q.parked(), 0);
        assert_eq!(q.queued_data(STA), 0);
        assert_eq!(q.parked_expired(), 0);
    }

    #[test]
    fn parked_data_stays_parked_while_the_radio_only_passes_through_its_channel() {
        let mut q = TxQueue::new();
        let mut on = ch(1);
        q.push_frame(frame(0), ch(1), Some(STA));
        q.push_tune(Instant::ZERO, ch(6));
        q.push_frame(frame(6), ch(6), Some(STA));
        // Two changes queued at once: 1 is only passed through on the way to 11.
        q.push_tune(Instant::ZERO, ch(1));
        q.push_tune(Instant::ZERO, ch(11));
        assert_eq!(run(&mut q, &mut on), vec![]);
        assert_eq!(on, ch(11));
        assert_eq!(q.parked(), 2);
        q.push_tune(Instant::ZERO, ch(6));
        assert_eq!(run(&mut q, &mut on), vec![(6, 6)]);
        q.push_tune(Instant::ZERO, ch(1));
        assert_eq!(run(&mut q, &mut on), vec![(0, 1)]);
    }

    #[test]
    fn data_for_a_channel_not_visited_again_is_dropped_after_its_lifetime() {
        let mut q = TxQueue::new();
        let mut on = ch(1);
        let t0 = Instant::from_millis(10);
        for i in 0..4 {
            q.push_frame(frame(i), ch(1), Some(STA));
        }
        q.push_tune(t0, ch(6));
        run(&mut q, &mut on);
        assert_eq!(q.next_expiry(), Some(t0 + PARKED_LIFETIME));
        assert_eq!(
            q.expire(t0 + (PARKED_LIFETIME - Duration::from_millis(1))),
            0
        );
        assert_eq!(q.parked(), 4);
        assert_eq!(q.expire(t0 + PARKED_LIFETIME), 4);
        assert_eq!((q.parked(), q.parked_expired()), (0, 4));
        assert_eq!(q.queued_data(STA), 0);
        assert_eq!(q.next_expiry(), None);
        // Coming back later finds nothing to send.
        q.push_tune(t0 + PARKED_LIFETIME, ch(1));
        assert_eq!(run(&mut q, &mut on), vec![]);
    }

    #[test]
    fn parked_frames_still_hold_their_station_to_its_queue_limit() {
        let mut q = TxQueue::new();
        for i in 0..STATION_TX_QUEUE {
            let tag = u8::try_from(i % 200).unwrap();
            assert_eq!(q.push_frame(frame(tag), ch(1), Some(STA)), Queued::Yes);
        }
        q.push_tune(Instant::ZERO, ch(6));
        assert_eq!(q.parked(), STATION_TX_QUEUE);
        assert_eq!(
            q.push_frame(frame(0), ch(6), Some(STA)),
            Queued::StationQueueFull
        );
        // Another station and non-data frames are not held back.
        assert_eq!(q.push_frame(frame(0), ch(6), Some(OTHER)), Queued::Yes);
        assert_eq!(q.push_frame(frame(0), ch(6), None), Queued::Yes);
    }
}
