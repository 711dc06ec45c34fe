//! The event loop of the medium: channel access, delivery, acknowledgement, node servicing.

use core::time::Duration;

use rand_chacha::rand_core::RngCore;

use super::frames::{ack_frame, ack_receiver, receiver, with_retry};
use super::phy::{PhyRate, ACK_LEN, FCS_LEN};
use super::stats::LossCause;
use super::{index, AckState, Airing, Lent, Medium, Position, Transmission, TxState};
use crate::channel::Channel;
use crate::phy::error_model::frame_error_probability;
use crate::phy::{occupied, McsRate, RateControl, Standard, TxVector, Width};
use crate::radio::{Node, NodeId, RxMeta, TxStatus};
use crate::sim::pcap::RadioInfo;
use crate::time::Instant;

/// The next thing that happens on the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// Service the nodes changed by the caller or just added.
    Service,
    /// Frame `usize` of the channel's airing ends: deliver it.
    Deliver(Channel, usize),
    /// The channel's busy period (frames and Acks) is over: report the outcomes.
    Done(Channel),
    /// A contender's backoff ends: it (and any in the same slot) sends.
    Access(Channel),
    /// A node's timer.
    Timer(NodeId),
    /// A receiver's reorder timer: (originator, recipient, receiver address).
    Reorder(NodeId, NodeId, crate::addr::MacAddr),
}

impl<N: Node> Medium<N> {
    /// When the next event is due, if any: a frame ending, a backoff ending, a node's timer, or
    /// now if a node changed through [`Medium::node_mut`] waits to be serviced.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_event().map(|(t, _)| t)
    }

    /// Processes every event due at or before `now`, in time order, then sets the clock to
    /// `now` (a time before the clock is a no-op).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_until(now, &mut Lent(None));
    }

    /// [`Medium::handle_timeout`], lending `node`, the node kept beside the medium
    /// ([`Medium::add_lent`]), for the call.
    pub fn handle_timeout_with(&mut self, now: Instant, node: &mut dyn Node) {
        self.run_until(now, &mut Lent(Some(node)));
    }

    pub(super) fn run_until(&mut self, now: Instant, lent: &mut Lent<'_>) {
        while let Some((t, event)) = self.next_event() {
            if t > now {
                break;
            }
            self.process(t, event, lent);
        }
        self.now = self.now.max(now);
    }

    /// Processes the next event, whenever it is due, and returns its time; `None` if nothing is
    /// left to happen (no frame queued or on the air, no node timer).
    pub fn step(&mut self) -> Option<Instant> {
        self.step_lending(&mut Lent(None))
    }

    /// [`Medium::step`], lending `node`, the node kept beside the medium
    /// ([`Medium::add_lent`]), for the call.
    pub fn step_with(&mut self, node: &mut dyn Node) -> Option<Instant> {
        self.step_lending(&mut Lent(Some(node)))
    }

    fn step_lending(&mut self, lent: &mut Lent<'_>) -> Option<Instant> {
        let (t, event) = self.next_event()?;
        self.process(t, event, lent);
        Some(self.now)
    }

    fn next_event(&self) -> Option<(Instant, Event)> {
        if !self.dirty.is_empty() {
            return Some((self.now, Event::Service));
        }
        let mut best: Option<(Instant, u8, Event)> = None;
        let mut offer = |t: Instant, rank: u8, e: Event| {
            if best.is_none_or(|(bt, br, _)| (t, rank) < (bt, br)) {
                best = Some((t, rank, e));
            }
        };
        for &channel in &self.busy {
            let Some(state) = self.channels.get(&channel) else {
                continue;
            };
            if let Some(air) = &state.air {
                let next = air
                    .txs
                    .iter()
                    .enumerate()
                    .filter(|(_, tx)| !tx.delivered)
                    .min_by_key(|(_, tx)| tx.end);
                match next {
                    Some((i, tx)) => offer(tx.end, 0, Event::Deliver(channel, i)),
                    None => offer(air.done, 0, Event::Done(channel)),
                }
            } else if state.contenders.is_empty() {
                // Idle, nobody waiting: most of the channels a scan ever visited.
            } else if let Some(t) = self.access_time(channel) {
                offer(t, 1, Event::Access(channel));
            }
        }
        if let Some(&(t, id)) = self.timers.first() {
            offer(t.max(self.now), 2, Event::Timer(id));
        }
        if let Some(&(t, from, to, ra)) = self.reorder_timers.first() {
            offer(t.max(self.now), 3, Event::Reorder(from, to, ra));
        }
        best.map(|(t, _, e)| (t, e))
    }

    fn process(&mut self, t: Instant, event: Event, lent: &mut Lent<'_>) {
        self.now = self.now.max(t);
        match event {
            Event::Service => {
                let dirty = core::mem::take(&mut self.dirty);
                for id in dirty {
                    self.service(id, false, lent);
                }
            }
            Event::Timer(id) => {
                if let Some(radio) = self.radios.get_mut(index(id)) {
                    if let Some(old) = radio.timer.take() {
                        self.timers.remove(&(old, id));
                    }
                    if let Some(node) = radio.node.drive(lent) {
                        node.handle_timeout(self.now);
                    }
                }
                self.service(id, true, lent);
            }
            Event::Reorder(from, to, ra) => {
                self.reorder_timers.pop_first();
                self.reorder_timeout(from, to, ra, lent);
            }
            Event::Access(channel) => self.access(channel, lent),
            Event::Deliver(channel, i) => self.deliver(channel, i, lent),
            Event::Done(channel) => self.done(channel, lent),
        }
        let channels = &self.channels;
        let active = |c: &Channel| {
            channels
                .get(c)
                .is_some_and(|s| s.air.is_some() || !s.contenders.is_empty())
        };
        // A walk first: `retain` rebuilds the set even when it keeps everything.
        if !self.busy.iter().all(active) {
            self.busy.retain(active);
        }
    }

    /// When the first contender on `channel` may send: after DIFS of idle channel and its
    /// remaining backoff slots.
    fn access_time(&self, channel: Channel) -> Option<Instant> {
        let state = self.channels.get(&channel)?;
        if state.borrowed_by.is_some() {
            // A wide transmission on another primary occupies it: busy until that is done.
            return None;
        }
        let timing = self.timing(channel);
        let difs = timing.difs();
        if !self.config.airtime {
            // Zero airtime: no DIFS, no backoff; every contender sends as soon as it is ready.
            return state
                .contenders
                .iter()
                .filter_map(|&id| match self.radios.get(index(id))?.tx {
                    TxState::Contending { ready_at } => Some(state.idle_from().max(ready_at)),
                    _ => None,
                })
                .min();
        }
        state
            .contenders
            .iter()
            .filter_map(|&id| {
                let radio = self.radios.get(index(id))?;
                let TxState::Contending { ready_at } = radio.tx else {
                    return None;
                };
                Some(state.idle_from().max(ready_at) + difs + timing.slot * radio.backoff)
            })
            .min()
    }

    /// When contender `id` counts down from (after DIFS) and when its backoff ends.
    fn countdown(&self, channel: Channel, id: NodeId) -> Option<(Instant, Instant)> {
        let state = self.channels.get(&channel)?;
        let radio = self.radios.get(index(id))?;
        let TxState::Contending { ready_at } = radio.tx else {
            return None;
        };
        if !self.config.airtime {
            let from = state.idle_from().max(ready_at);
            return Some((from, from));
        }
        let timing = self.timing(channel);
        let from = state.idle_from().max(ready_at) + timing.difs();
        Some((from, from + timing.slot * radio.backoff))
    }

    /// Backoffs end on `channel`: the contender(s) whose backoff ends now send; the others
    /// freeze their remaining slots.
    fn access(&mut self, channel: Channel, lent: &mut Lent<'_>) {
        let now = self.now;
        let slot = self.timing(channel).slot;
        let Some(state) = self.channels.get(&channel) else {
            return;
        };
        // Kept from one access to the next (one per event would be an allocation each).
        let mut winners = core::mem::take(&mut self.winners);
        let mut frozen = core::mem::take(&mut self.frozen);
        winners.clear();
        frozen.clear();
        for &id in &state.contenders {
            let Some((from, start)) = self.countdown(channel, id) else {
                continue;
            };
            if start <= now {
                winners.push(id);
            } else if now > from {
                let elapsed = (now - from).as_micros() / slot.as_micros().max(1);
                frozen.push((id, u32::try_from(elapsed).unwrap_or(u32::MAX)));
            }
        }
        for &(id, elapsed) in &frozen {
            if let Some(radio) = self.radios.get_mut(index(id)) {
                radio.backoff = radio.backoff.saturating_sub(elapsed);
            }
        }
        self.frozen = frozen;
        if winners.len() > 1 && self.config.airtime {
            self.stats.collisions += 1;
        }
        let mut txs = Vec::with_capacity(winners.len());
        for &id in &winners {
            if let Some(tx) = self.transmit(channel, id, lent) {
                txs.push(tx);
            }
        }
        self.winners = winners;
        let Some(state) = self.channels.get_mut(&channel) else {
            return;
        };
        for tx in &txs {
            state.contenders.remove(&tx.sender);
        }
        if let Some(done) = txs.iter().map(|tx| tx.end).max() {
            self.busy.insert(channel);
            state.air = Some(Airing {
                start: now,
                done,
                txs,
            });
        }
    }

    /// Puts the head frame of `id` on the air on `channel` now.
    fn transmit(
        &mut self,
        channel: Channel,
        id: NodeId,
        lent: &mut Lent<'_>,
    ) -> Option<Transmission> {
        let now = self.now;
        let band = channel.band();
        let band_cfg = *self.config.band(band);
        let (mcs, link) = self
            .mcs_rate(channel, id)
            .map_or((None, None), |(r, to)| (Some(r), Some(to)));
        let (mcs, secondaries) = match mcs {
            Some(r) => {
                let (r, secondaries) = self.occupy(channel, r);
                (Some(r), secondaries)
            }
            None => (None, Vec::new()),
        };
        // An HT+ link aggregates under a Block Ack agreement; without one the lower MAC asks
        // for it first (an ADDBA Request ahead of the data, at the legacy rate).
        let (mut mcs, mut link) = (mcs, link);
        if let (Some(r), Some(to)) = (mcs, link) {
            if let Some(super::ampdu::Agreement::Active { timeout, last_used }) =
                self.agreements.get(&(id, to)).copied()
            {
                if !timeout.is_zero() && now.saturating_duration_since(last_used) > timeout {
                    // Unused for its Block Ack timeout: the agreement ended (10.25.4); a new
                    // one is set up before this frame.
                    self.agreements.remove(&(id, to));
                    self.stats.ba_timeouts += 1;
                }
            }
            match self.agreements.get(&(id, to)) {
                Some(super::ampdu::Agreement::Active { .. }) => {
                    if let Some(tx) = self.transmit_ampdu(channel, id, r, link, &secondaries) {
                        if let Some(super::ampdu::Agreement::Active { last_used, .. }) =
                            self.agreements.get_mut(&(id, to))
                        {
                            *last_used = now;
                        }
                        return Some(tx);
                    }
                }
                Some(super::ampdu::Agreement::Requested) => {}
                None => {
                    if self.request_agreement(id, to) {
                        (mcs, link) = (None, None);
                    }
                }
            }
        }
        let radio = self.radios.get_mut(index(id))?;
        let internal = radio.queue.front()?.internal;
        let original = radio.queue.front()?.frame.clone();
        radio.attempts = radio.attempts.saturating_add(1);
        radio.tx = TxState::OnAir;
        let retry = radio.attempts > 1;
        let on_air = if retry {
            with_retry(&original)
        } else {
            original.clone()
        };
        let acked = ack_receiver(&on_air).is_some();
        let chosen_by_node = radio.node.drive(lent).and_then(|n| n.tx_vector(&original));
        let chosen_by_node = chosen_by_node.filter(|v| match v {
            TxVector::Legacy(r) => r.allowed_in(band),
            TxVector::Mcs(_) => true,
        });
        let rate = if let Some(v) = chosen_by_node {
            v
        } else if let (Some(r), false) = (mcs, internal) {
            TxVector::Mcs(r)
        } else if receiver(&on_air).is_some_and(|a| a.is_unicast()) {
            TxVector::Legacy(
                radio
                    .rate
                    .filter(|r| r.allowed_in(band))
                    .unwrap_or(band_cfg.unicast_rate),
            )
        } else {
            TxVector::Legacy(band_cfg.group_rate)
        };
        let end = if self.config.airtime {
            now + rate.airtime(on_air.len() + FCS_LEN, band)
        } else {
            now
        };
        let placement = radio.placement;
        self.stats.transmissions += 1;
        if retry {
            self.stats.retries += 1;
        }
        if !acked {
            self.stats.group += 1;
        }
        self.record(
            now,
            channel,
            rate,
            &on_air,
            placement.position,
            placement.tx_power_dbm,
        );
        let remote_ack = acked && self.to_remote(&on_air);
        if !internal {
            self.publish_federated(channel, &on_air, rate, placement);
        }
        Some(Transmission {
            sender: id,
            original,
            on_air,
            rate,
            link,
            secondaries,
            ampdu: None,
            internal,
            end,
            delivered: false,
            ack: if remote_ack {
                AckState::Remote
            } else if acked {
                AckState::Pending
            } else {
                AckState::NotExpected
            },
        })
    }

    /// The MCS rate of `id`'s head frame on `channel` and the receiving node, if it is a
    /// unicast frame to a node with which it has HT or newer in common: the first attempt
    /// asks the link's rate controller (one random draw), later attempts its retry chain.
    fn mcs_rate(&mut self, channel: Channel, id: NodeId) -> Option<(McsRate, NodeId)> {
        let radio = self.radios.get(index(id))?;
        let head = radio.queue.front()?;
        if head.internal {
            // The lower MAC's own frames go at the legacy rate, outside rate control.
            return None;
        }
        let frame = &head.frame;
        let to = receiver(frame)
            .filter(|a| a.is_unicast())
            .and_then(|a| self.owners.get(&a).copied())
            .filter(|&to| to != id)?;
        let peer = self.radios.get(index(to))?;
        let caps = radio.caps.common(&peer.caps, channel);
        if caps.standard == Standard::Legacy {
            return None;
        }
        let attempt = radio.attempts.saturating_add(1);
        let chosen = radio.chosen;
        let draw = if attempt == 1 { self.rng.next_u32() } else { 0 };
        let entry = self.links.entry((id, to));
        let rc = match entry {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if o.get().0 != caps {
                    *o.get_mut() = (caps, RateControl::new(&caps)?);
                }
                o.into_mut()
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert((caps, RateControl::new(&caps)?))
            }
        };
        let rate = match (attempt, chosen) {
            (1, _) | (_, None) => {
                let r = rc.1.select(draw);
                if let Some(radio) = self.radios.get_mut(index(id)) {
                    radio.chosen = Some(r);
                }
                r
            }
            (n, Some(c)) => rc.1.retry_rate(c, n),
        };
        Some((rate, to))
    }

    /// The width a PPDU at `rate` on primary `channel` may take now, and the secondary
    /// channels it then occupies: its own width if every secondary 20 MHz channel is idle,
    /// else the widest narrower one that is (dynamic bandwidth, 10.23.2.6). The occupied
    /// secondaries are busy until the primary's airing is done; their contenders freeze.
    fn occupy(&mut self, channel: Channel, rate: McsRate) -> (McsRate, Vec<Channel>) {
        let mut width = rate.width;
        let secondaries = loop {
            let chans = occupied(channel, width).unwrap_or_default();
            let idle = chans.iter().skip(1).all(|c| {
                self.channels
                    .get(c)
                    .is_none_or(|s| s.air.is_none() && s.borrowed_by.is_none())
            });
            if idle || width == Width::Mhz20 {
                break if idle {
                    chans.into_iter().skip(1).collect::<Vec<_>>()
                } else {
                    Vec::new()
                };
            }
            width = Width::ALL
                .into_iter()
                .rev()
                .find(|w| *w < width)
                .unwrap_or(Width::Mhz20);
        };
        let rate = if width == rate.width {
            rate
        } else {
            (0..=rate.mcs)
                .rev()
                .find_map(|mcs| McsRate::new(rate.standard, mcs, rate.nss, width, rate.gi).ok())
                .unwrap_or(rate)
        };
        for &sec in &secondaries {
            self.freeze(sec);
            let state = self.channels.entry(sec).or_default();
            state.borrowed_by = Some(channel);
        }
        (rate, secondaries)
    }

    /// Freezes the backoff countdowns of `channel`'s contenders at the current time (the
    /// channel just became busy).
    pub(super) fn freeze(&mut self, channel: Channel) {
        let now = self.now;
        let slot = self.timing(channel).slot;
        let Some(state) = self.channels.get(&channel) else {
            return;
        };
        let mut frozen = Vec::new();
        for &id in &state.contenders {
            let Some((from, _)) = self.countdown(channel, id) else {
                continue;
            };
            if now > from {
                let elapsed = (now - from).as_micros() / slot.as_micros().max(1);
                frozen.push((id, u32::try_from(elapsed).unwrap_or(u32::MAX)));
            }
        }
        for (id, elapsed) in frozen {
            if let Some(radio) = self.radios.get_mut(index(id)) {
                radio.backoff = radio.backoff.saturating_sub(elapsed);
            }
        }
    }

    /// Frame `i` of `channel`'s airing ends: every node tuned in since it started tries to
    /// decode it; its addressee acknowledges it.
    /// The radios on `channel` that can hear what `sender` began to send at `start`, with
    /// where they stand: tuned to the channel since before it began (a later one is counted
    /// as lost on the wrong channel), both on the air. The walk every delivery (a single
    /// frame, an A-MPDU) starts from.
    pub(super) fn listeners(
        &mut self,
        channel: Channel,
        sender: NodeId,
        start: Instant,
    ) -> Vec<(NodeId, Position)> {
        let Some(state) = self.channels.get(&channel) else {
            return Vec::new();
        };
        let sender_off = self.off_air.contains(&sender);
        let mut late = 0;
        let mut out = Vec::with_capacity(state.members.len());
        for &id in &state.members {
            if id == sender {
                continue;
            }
            let Some(radio) = self.radios.get(index(id)) else {
                continue;
            };
            if radio.tuned_since > start {
                late += 1;
                continue;
            }
            if sender_off || self.off_air.contains(&id) {
                // Off the air: it hears nothing, and what it had queued reaches nobody.
                continue;
            }
            out.push((id, radio.placement.position));
        }
        for _ in 0..late {
            self.stats.lost.bump(LossCause::WrongChannel);
        }
        out
    }

    fn deliver(&mut self, channel: Channel, i: usize, lent: &mut Lent<'_>) {
        let now = self.now;
        let band = channel.band();
        let timing = self.timing(channel);
        let Some(air) = self.channels.get(&channel).and_then(|s| s.air.as_ref()) else {
            return;
        };
        let Some(tx) = air.txs.get(i) else {
            return;
        };
        if tx.ampdu.is_some() {
            self.deliver_ampdu(channel, i, lent);
            return;
        }
        let start = air.start;
        let sender = tx.sender;
        let frame = tx.on_air.clone();
        let rate = tx.rate;
        let ack_rate = tx.rate.control_response_rate();
        let internal = tx.internal;
        let ack_expected = tx.ack == AckState::Pending;
        let remote_ack = tx.ack == AckState::Remote;
        let others: Vec<NodeId> = air
            .txs
            .iter()
            .map(|t| t.sender)
            .filter(|&s| s != sender)
            .collect();
        let Some(from) = self.radios.get(index(sender)).map(|r| r.placement) else {
            return;
        };
        let addressee = receiver(&frame).and_then(|a| self.owners.get(&a).copied());
        let mut heard = Vec::new();
        for (id, to) in self.listeners(channel, sender, start) {
            let signal = self.signal(&from, to, band);
            match self.reception(signal, &rate, frame.len() + FCS_LEN, id, &others, band) {
                Ok(()) if self.link_lost(sender, id) => {
                    self.stats.lost.bump(LossCause::Injected);
                }
                Ok(()) => heard.push((id, signal)),
                Err(cause) => self.stats.lost.bump(cause),
            }
        }
        if let Some(owner) = addressee {
            let on_channel = self
                .radios
                .get(index(owner))
                .is_some_and(|r| r.channel == channel);
            if !on_channel && owner != sender {
                self.stats.lost.bump(LossCause::WrongChannel);
            }
        }

        // The Ack: sent by the addressee if it decoded the frame.
        let mut ack = if ack_expected {
            AckState::Missing
        } else if remote_ack {
            AckState::Remote
        } else {
            AckState::NotExpected
        };
        let mut tx_done = now;
        let airtime = self.config.airtime;
        if remote_ack && airtime {
            // The remote receiver's Ack, as its own daemon's model sends it.
            tx_done = now + timing.sifs + ack_rate.airtime(ACK_LEN, band);
        }
        if ack_expected {
            if airtime {
                tx_done = now + timing.ack_timeout(ack_rate);
            }
            if let Some(owner) = addressee.filter(|o| heard.iter().any(|(id, _)| id == o)) {
                let ack_start = if airtime { now + timing.sifs } else { now };
                if airtime {
                    tx_done = ack_start + ack_rate.airtime(ACK_LEN, band);
                }
                ack = AckState::Sent {
                    by: owner,
                    rate: ack_rate,
                };
                self.stats.acks_sent += 1;
                let acker = self.radios.get(index(owner)).map(|r| r.placement);
                if let (true, Some(ta), Some(acker)) =
                    (self.recording(), ack_receiver(&frame), acker)
                {
                    self.record(
                        ack_start,
                        channel,
                        TxVector::Legacy(ack_rate),
                        &ack_frame(ta),
                        acker.position,
                        acker.tx_power_dbm,
                    );
                }
            }
        }
        if let Some(air) = self.channels.get_mut(&channel).and_then(|s| s.air.as_mut()) {
            air.done = air.done.max(tx_done);
            if let Some(tx) = air.txs.get_mut(i) {
                tx.delivered = true;
                tx.ack = ack;
            }
        }

        if let Some(owner) = addressee.filter(|o| heard.iter().any(|(id, _)| id == o)) {
            self.on_block_ack_action(sender, owner, &frame, internal);
        }
        if internal {
            // The lower MAC's own frame: no node sees it.
            return;
        }
        for (id, signal) in heard {
            self.stats.delivered += 1;
            let meta = RxMeta {
                channel,
                signal_dbm: to_i8_dbm(signal),
                rate_kbps: rate.kbps(),
            };
            self.hand_rx(id, &frame, meta, lent);
            self.service(id, false, lent);
        }
    }

    /// Whether node `id`, tuned in, decodes a frame of `len` bytes at `rate` reaching it at
    /// `signal` dBm while `others` transmit at the same time.
    fn reception(
        &mut self,
        signal: f64,
        rate: &TxVector,
        len: usize,
        id: NodeId,
        others: &[NodeId],
        band: crate::channel::Band,
    ) -> Result<(), LossCause> {
        self.preamble(signal, id, others, band)?;
        self.decode(signal, rate, len)
    }

    /// Whether node `id` hears the start of a PPDU reaching it at `signal` dBm while `others`
    /// transmit at the same time: above sensitivity and not drowned by another sender it hears.
    pub(super) fn preamble(
        &self,
        signal: f64,
        id: NodeId,
        others: &[NodeId],
        band: crate::channel::Band,
    ) -> Result<(), LossCause> {
        if signal < self.config.sensitivity_dbm {
            return Err(LossCause::BelowSensitivity);
        }
        if !self.config.airtime {
            // Zero airtime: frames cannot overlap and nothing is lost at random.
            return Ok(());
        }
        if !others.is_empty() {
            let Some(at) = self.radios.get(index(id)).map(|r| r.placement.position) else {
                return Err(LossCause::Collision);
            };
            let interfered = others.iter().any(|&o| {
                o == id
                    || self.radios.get(index(o)).is_some_and(|r| {
                        self.signal(&r.placement, at, band) >= self.config.sensitivity_dbm
                    })
            });
            if interfered {
                return Err(LossCause::Collision);
            }
        }
        Ok(())
    }

    /// The random part of a reception above sensitivity: SNR-driven errors, then extra loss.
    pub(super) fn decode(
        &mut self,
        signal: f64,
        rate: &TxVector,
        len: usize,
    ) -> Result<(), LossCause> {
        // Zero airtime: nothing is lost to the channel (the configuration refuses extra loss).
        if self.config.airtime {
            let snr = signal - self.config.noise_floor_dbm;
            let per = frame_error_probability(rate, snr, len);
            if per > 0.0 && self.unit() < per {
                return Err(LossCause::Snr);
            }
        }
        if self.config.extra_loss > 0.0 && self.unit() < self.config.extra_loss {
            return Err(LossCause::Injected);
        }
        Ok(())
    }

    /// The busy period of `channel` is over: each sender learns whether its frame was
    /// acknowledged, retries or moves on to its next frame.
    fn done(&mut self, channel: Channel, lent: &mut Lent<'_>) {
        let now = self.now;
        let band = channel.band();
        let Some(state) = self.channels.get_mut(&channel) else {
            return;
        };
        let Some(air) = state.air.take() else {
            return;
        };
        state.idle_since = now;
        self.stats.add_airtime(channel, now - air.start);
        for tx in &air.txs {
            for &sec in &tx.secondaries {
                if let Some(s) = self.channels.get_mut(&sec) {
                    if s.borrowed_by == Some(channel) {
                        s.borrowed_by = None;
                        s.idle_since = s.idle_since.max(now);
                    }
                }
                self.stats.add_airtime(sec, now - air.start);
            }
        }
        let retry_limit = self.config.retry_limit;
        let cw_min = self.config.cw_min;
        let cw_max = self.config.cw_max;
        for tx in air.txs {
            let sender = tx.sender;
            if tx.ampdu.is_some() {
                self.done_ampdu(channel, tx, lent);
                continue;
            }
            let outcome = match tx.ack {
                AckState::NotExpected => Some(TxStatus::Sent),
                AckState::Sent { by, rate } => {
                    let heard = self.ack_heard(by, sender, channel, tx.end, rate, band);
                    if heard {
                        let retries = self
                            .radios
                            .get(index(sender))
                            .map_or(0, |r| r.attempts.saturating_sub(1));
                        Some(TxStatus::Acked { retries })
                    } else {
                        self.stats.acks_lost += 1;
                        None
                    }
                }
                AckState::Remote => {
                    if let Some(f) = &mut self.federation {
                        f.count_remote_ack();
                    }
                    let retries = self
                        .radios
                        .get(index(sender))
                        .map_or(0, |r| r.attempts.saturating_sub(1));
                    Some(TxStatus::Acked { retries })
                }
                AckState::Pending | AckState::Missing => None,
            };
            if let (Some(to), TxVector::Mcs(rate)) = (tx.link, tx.rate) {
                if let Some((_, rc)) = self.links.get_mut(&(sender, to)) {
                    rc.report(rate, matches!(outcome, Some(TxStatus::Acked { .. })));
                }
            }
            let Some(radio) = self.radios.get_mut(index(sender)) else {
                continue;
            };
            let status = match outcome {
                Some(status) => Some(status),
                None if radio.attempts >= retry_limit => Some(TxStatus::NotAcked),
                None => {
                    radio.cw = cw_max.min(radio.cw.saturating_mul(2).saturating_add(1));
                    None
                }
            };
            match status {
                Some(TxStatus::Acked { .. }) => self.stats.acked += 1,
                Some(TxStatus::NotAcked) => self.stats.not_acked += 1,
                _ => {}
            }
            if let Some(status) = status {
                radio.queue.pop_front();
                radio.attempts = 0;
                radio.chosen = None;
                radio.cw = cw_min;
                radio.tx = TxState::Idle;
                if tx.internal {
                    self.on_internal_status(sender, &tx.original, status);
                } else if let Some(node) = radio.node.drive(lent) {
                    node.handle_tx_status(now, &tx.original, status);
                }
            } else {
                radio.tx = TxState::Idle;
            }
            // `service` starts contention again (the retry, or the next frame) on the channel
            // the node is on now.
            self.service(sender, false, lent);
        }
    }

    /// Whether `sender`, still on `channel`, decodes the Ack `by` sent after its frame ended
    /// at `end`.
    pub(super) fn ack_heard(
        &mut self,
        by: NodeId,
        sender: NodeId,
        channel: Channel,
        end: Instant,
        rate: PhyRate,
        band: crate::channel::Band,
    ) -> bool {
        let (Some(acker), Some(radio)) = (
            self.radios.get(index(by)).map(|r| r.placement),
            self.radios.get(index(sender)),
        ) else {
            return false;
        };
        if radio.channel != channel || radio.tuned_since > end {
            return false;
        }
        let signal = self.signal(&acker, radio.placement.position, band);
        if self.link_lost(by, sender) {
            return false;
        }
        signal >= self.config.sensitivity_dbm
            && (!self.config.airtime
                || self
                    .decode(signal, &TxVector::Legacy(rate), ACK_LEN)
                    .is_ok())
    }

    /// Hands node `id` (the medium's own or the lent one) a frame it heard now.
    pub(super) fn hand_rx(
        &mut self,
        id: NodeId,
        frame: &bytes::Bytes,
        meta: RxMeta,
        lent: &mut Lent<'_>,
    ) {
        let now = self.now;
        if let Some(node) = self.driven(id, lent) {
            node.handle_rx(now, frame, meta);
        }
    }

    /// Hands node `id` (the medium's own or the lent one) frames it heard now, together, in
    /// order ([`Node::handle_rx_batch`]).
    pub(super) fn hand_rx_batch(
        &mut self,
        id: NodeId,
        frames: &[(bytes::Bytes, RxMeta)],
        lent: &mut Lent<'_>,
    ) {
        let now = self.now;
        if let Some(node) = self.driven(id, lent) {
            node.handle_rx_batch(now, frames);
        }
    }

    /// Node `id`: the medium's own, or the lent one if this call lends it (`None` otherwise,
    /// or if there is no such radio).
    pub(super) fn driven<'s>(
        &'s mut self,
        id: NodeId,
        lent: &'s mut Lent<'_>,
    ) -> Option<&'s mut dyn Node> {
        self.radios
            .get_mut(index(id))
            .and_then(|r| r.node.drive(lent))
    }

    /// Reads `id`'s channel, drains its frames into its queue and re-registers its timer.
    /// `after_timeout`: a timer that is not in the future is pushed 1 µs ahead, so a node that
    /// keeps asking for a past time cannot stall the clock. A lent slot in a call that lends
    /// nothing is left as it is.
    pub(super) fn service(&mut self, id: NodeId, after_timeout: bool, lent: &mut Lent<'_>) {
        let now = self.now;
        let limit = self.config.tx_queue_len;
        let Some(radio) = self.radios.get_mut(index(id)) else {
            return;
        };
        let Some(node) = radio.node.drive(lent) else {
            return;
        };
        let channel = node.channel();
        let old_channel = radio.channel;
        if channel != old_channel {
            radio.channel = channel;
            radio.tuned_since = now;
            if let TxState::Contending { .. } = radio.tx {
                radio.tx = TxState::Contending { ready_at: now };
            }
        }
        let mut queued = 0;
        if self.off_air.contains(&id) {
            // Off the air: what it sends goes nowhere.
            while node.poll_transmit().is_some() {}
        }
        while radio.queue.len() < limit {
            match node.poll_transmit() {
                Some(frame) => {
                    let id = radio.next_queued;
                    radio.next_queued += 1;
                    radio.queue.push_back(super::Queued::new(id, frame));
                    queued += 1;
                }
                None => break,
            }
        }
        let start_contending = radio.tx == TxState::Idle && !radio.queue.is_empty();
        let contending = matches!(radio.tx, TxState::Contending { .. });
        let timer = node.poll_timeout().map(|t| {
            if after_timeout && t <= now {
                now + Duration::from_micros(1)
            } else {
                t
            }
        });
        let old_timer = core::mem::replace(&mut radio.timer, timer);
        self.stats.queued += queued;

        if old_timer != timer {
            if let Some(t) = old_timer {
                self.timers.remove(&(t, id));
            }
            if let Some(t) = timer {
                self.timers.insert((t, id));
            }
        }
        if channel != old_channel {
            if let Some(state) = self.channels.get_mut(&old_channel) {
                state.members.remove(&id);
                state.contenders.remove(&id);
            }
            let state = self.channels.entry(channel).or_default();
            state.members.insert(id);
            if contending {
                state.contenders.insert(id);
                self.busy.insert(channel);
            }
        }
        if start_contending {
            let backoff = self.draw_backoff(id);
            if let Some(radio) = self.radios.get_mut(index(id)) {
                radio.backoff = backoff;
                radio.tx = TxState::Contending { ready_at: now };
            }
            self.channels
                .entry(channel)
                .or_default()
                .contenders
                .insert(id);
            self.busy.insert(channel);
        }
    }

    /// A backoff in `0..=CW` slots for node `id`.
    fn draw_backoff(&mut self, id: NodeId) -> u32 {
        let cw = self
            .radios
            .get(index(id))
            .map_or(self.config.cw_min, |r| r.cw);
        let span = u64::from(cw) + 1;
        ((u64::from(self.rng.next_u32()) * span) >> 32) as u32
    }

    /// A uniform draw in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Whether [`Medium::record`] keeps anything (a capture or a tap is on): frames made only
    /// to be recorded (Acks, Block Acks) are not made otherwise.
    pub(super) fn recording(&self) -> bool {
        self.capture.is_some() || self.tap.is_some()
    }

    /// Appends a frame to the capture, if capturing.
    pub(super) fn record(
        &mut self,
        at: Instant,
        channel: Channel,
        rate: TxVector,
        frame: &[u8],
        from: Position,
        tx_power_dbm: f64,
    ) {
        if !self.recording() {
            return;
        }
        let placement = super::Placement {
            position: from,
            tx_power_dbm,
        };
        let at_monitor =
            |m: Option<Position>| m.map(|m| to_i8_dbm(self.signal(&placement, m, channel.band())));
        let capture_signal = at_monitor(self.capture.as_ref().and_then(|c| c.monitor));
        let tap_signal = at_monitor(self.tap.as_ref().and_then(|t| t.monitor));
        if let Some(capture) = &mut self.capture {
            let info = RadioInfo {
                channel,
                rate,
                signal_dbm: capture_signal,
            };
            // Writing to a Vec cannot fail.
            let _ = capture.writer.write_frame(at, &info, frame);
        }
        if let Some(tap) = &mut self.tap {
            let info = RadioInfo {
                channel,
                rate,
                signal_dbm: tap_signal,
            };
            tap.push(at, info, frame);
        }
    }
}

/// A signal in dBm, rounded and clamped to the `i8` of [`RxMeta`].
pub(super) fn to_i8_dbm(dbm: f64) -> i8 {
    // Clamped to the i8 range first, so the cast is exact.
    dbm.round().clamp(-128.0, 127.0) as i8
}
