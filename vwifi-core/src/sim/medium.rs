//! The simulated air: channels, radios with positions, signal from distance, loss, airtime,
//! one transmission at a time per channel, acknowledgement and retries.
//!
//! # Model
//! - **Signal.** A frame from radio A reaches radio B at
//!   `tx_power(A) - PathLoss::loss_db(distance(A, B))` dBm (log-distance model, per band).
//!   Below [`MediumConfig::sensitivity_dbm`] B does not hear it at all. Above, B decodes it
//!   unless it falls to the frame error probability at its SNR
//!   ([`frame_error_probability`], against [`MediumConfig::noise_floor_dbm`]) or to the
//!   configured [`MediumConfig::extra_loss`].
//! - **Channels.** A radio hears only the channel its node is tuned to ([`Node::channel`]), and
//!   only frames that started after it tuned in. A channel carries one transmission at a time:
//!   it is busy for the frame, then SIFS and the Ack (or the Ack timeout).
//! - **Access (DCF).** A node with a frame waits DIFS of idle channel, then a backoff of
//!   `0..=CW` slots drawn from the seeded RNG; the node whose backoff ends first sends, the
//!   others freeze what is left of theirs and resume after the next DIFS. Two nodes whose
//!   backoffs end in the same slot collide: a receiver that hears more than one of them decodes
//!   none.
//! - **Acknowledgement.** A unicast management or data frame is acknowledged by the node that
//!   registered its address 1 ([`Medium::set_addresses`]) if that node decoded it; the Ack
//!   (at the control response rate) may be lost too. Without an Ack the sender doubles its CW
//!   and retries with the Retry bit set, up to [`MediumConfig::retry_limit`] attempts. The
//!   sender is told the outcome with [`Node::handle_tx_status`]. Group frames go out once.
//! - **Airtime.** Legacy PHY timing ([`PhyRate::airtime`], [`Timing`]): the OFDM or long DSSS
//!   preamble, the symbols of the frame and its FCS, SIFS, slot, DIFS.
//!
//! # Driving it (sans-IO)
//! The medium owns its nodes (all but one a host may keep beside it, below). Time and randomness
//! are inputs: [`Medium::new`] takes a seed, [`Medium::poll_timeout`] says when the next event
//! is due and [`Medium::handle_timeout`] processes every event up to the time given, in time
//! order (ties: frame ends, then channel access, then node timers, each by channel or node
//! order). [`Medium::step`] processes just the next event. The same seed and the same calls
//! give the same events, bit for bit.
//!
//! After changing a node through [`Medium::node_mut`] or [`Medium::node_as_mut`] (giving it a
//! frame to send, tuning it elsewhere), the medium services it at its current time on the next
//! `handle_timeout` or `step`: it reads the node's channel, drains its frames and reads its timer.
//!
//! # A node beside the medium
//! A host may keep its own radio's node beside the medium rather than in it (smoltcp's
//! `iface.poll(now, &mut device, &mut sockets)`: the caller owns what the call drives).
//! [`Medium::add_lent`] gives it a slot (its place, channel, addresses, queue and timer) but
//! not the node; every call that may drive nodes has a `_with` form that lends it for the
//! call ([`Medium::handle_timeout_with`], [`Medium::step_with`],
//! [`Medium::handle_remote_with`]), and the medium calls it exactly where and when it would
//! call a node of its own. After changing it, the caller says so with [`Medium::touch`]. A
//! call that lends nothing drives the medium's own nodes only: what would reach the lent
//! node then is lost, so a host with one lends it to every such call.

mod ampdu;
mod amsdu;
mod config;
mod engine;
mod frames;
mod lab;
#[cfg(test)]
mod lent_tests;
#[cfg(test)]
mod mcs_tests;
mod phy;
mod remote;
#[cfg(test)]
mod remote_tests;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::addr::MacAddr;
use crate::channel::{Band, Channel};
use crate::phy::{McsRate, PhyCaps, RateControl, TxVector};
use crate::radio::{Holds, Node, NodeId, RxMeta};
use crate::sim::nodes::AirNode;
use crate::sim::pcap::PcapWriter;
use crate::time::Instant;

pub use config::{BandConfig, MediumConfig, MediumError, PathLoss, Placement, Position};
pub use lab::AirFrame;
pub use phy::{frame_error_probability, PhyRate, Timing, ACK_LEN, FCS_LEN};
pub use remote::{FederationConfig, FederationStats, RemoteOutcome};
pub use stats::{LossCause, LossCounts, MediumStats};

/// Where a radio's head-of-line frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// Nothing queued.
    Idle,
    /// Waiting for the channel: counting down its backoff since `ready_at` (plus DIFS).
    Contending { ready_at: Instant },
    /// On the air, or waiting for its Ack.
    OnAir,
}

/// Where a radio's node lives.
enum Slot<N> {
    /// In the medium's own node set.
    Own(N),
    /// Beside the medium, with its caller: lent to the calls that drive it
    /// ([`Medium::add_lent`]).
    Lent,
}

impl<N: Node> Slot<N> {
    /// The node to drive: the medium's own, or the one lent for this call (`None` for a lent
    /// slot in a call that lends nothing).
    fn drive<'s>(&'s mut self, lent: &'s mut Lent<'_>) -> Option<&'s mut dyn Node> {
        match self {
            Self::Own(node) => Some(node),
            Self::Lent => match &mut lent.0 {
                Some(node) => Some(&mut **node),
                None => None,
            },
        }
    }

    fn own(&self) -> Option<&N> {
        match self {
            Self::Own(node) => Some(node),
            Self::Lent => None,
        }
    }

    fn own_mut(&mut self) -> Option<&mut N> {
        match self {
            Self::Own(node) => Some(node),
            Self::Lent => None,
        }
    }
}

/// The node kept beside the medium, lent to one call that may drive nodes (`None`: the call
/// drives the medium's own nodes only).
pub(super) struct Lent<'a>(Option<&'a mut (dyn Node + 'a)>);

/// A node and what the medium knows about its radio.
struct Radio<N> {
    node: Slot<N>,
    placement: Placement,
    addresses: Vec<MacAddr>,
    rate: Option<PhyRate>,
    /// Its HT/VHT/HE capabilities (legacy unless set with [`Medium::set_phy_caps`]).
    caps: PhyCaps,
    /// The MCS rate the head frame's first attempts use (chosen by the link's controller).
    chosen: Option<McsRate>,
    /// The channel the node was last seen tuned to.
    channel: Channel,
    /// When it tuned to `channel`: it hears only frames that started at or after this.
    tuned_since: Instant,
    /// Frames handed over by the node, oldest first; the head is the one being sent.
    queue: VecDeque<Queued>,
    /// The id of the next frame queued.
    next_queued: u64,
    /// Transmission attempts of the head frame so far.
    attempts: u8,
    /// The current contention window.
    cw: u16,
    /// Backoff slots left for the head frame.
    backoff: u32,
    tx: TxState,
    /// The node's timer as registered in `Medium::timers`.
    timer: Option<Instant>,
}

/// A frame in a radio's transmit queue.
struct Queued {
    /// Unique within the radio: identifies the frame in an A-MPDU while the queue moves.
    id: u64,
    frame: Bytes,
    /// Transmissions in A-MPDUs so far (single frames count in `Radio::attempts`).
    attempts: u8,
    /// What its receiver has of it (A-MPDU frames only).
    rx: AmpduRx,
    /// Whether its final status went to the node (it waits in the queue only to be released
    /// to its receiver in order).
    reported: bool,
    /// A frame of the medium's own lower MAC (a Block Ack session's ADDBA Request or
    /// Response): never handed to a node, its status never reported.
    internal: bool,
}

impl Queued {
    fn new(id: u64, frame: Bytes) -> Self {
        Self {
            id,
            frame,
            attempts: 0,
            rx: AmpduRx::NotYet,
            reported: false,
            internal: false,
        }
    }
}

/// Where an A-MPDU frame is at its receiver (Block Ack reordering, 10.25.6.6).
#[derive(Debug, Clone, Copy, PartialEq)]
enum AmpduRx {
    /// Not received yet.
    NotYet,
    /// Received at the instant given, held back behind an earlier frame to the same receiver
    /// not received yet (until that arrives, is given up, or the reorder timeout passes).
    Held(RxMeta, Instant),
    /// Handed to the receiver.
    Delivered,
}

/// The state of one channel.
#[derive(Default)]
struct ChannelState {
    /// Nodes tuned to this channel.
    members: BTreeSet<NodeId>,
    /// Nodes whose head frame waits for this channel.
    contenders: BTreeSet<NodeId>,
    /// When the channel last became idle (valid while `air` is `None`).
    idle_since: Instant,
    /// The transmission (or colliding transmissions) on the air.
    air: Option<Airing>,
    /// The primary channel of a wide transmission that occupies this channel as one of its
    /// secondary 20 MHz channels: the channel is busy until that airing is done.
    borrowed_by: Option<Channel>,
    /// Until when a remote transmission (federation) holds the channel busy.
    remote_busy_until: Instant,
}

impl ChannelState {
    /// When the channel's idle time (DIFS, then backoff) starts counting: after the last local
    /// busy period and any remote transmission heard since.
    fn idle_from(&self) -> Instant {
        self.idle_since.max(self.remote_busy_until)
    }
}

/// One busy period of a channel: one frame, or several that collided, and their Acks.
struct Airing {
    start: Instant,
    /// When the channel is idle again; final once every frame is delivered.
    done: Instant,
    txs: Vec<Transmission>,
}

/// One frame on the air.
struct Transmission {
    sender: NodeId,
    /// The frame as the node handed it over (reported back in its status).
    original: Bytes,
    /// The frame as sent (Retry bit set on retransmissions).
    on_air: Bytes,
    rate: TxVector,
    /// The link (sender, receiver) whose rate controller chose an MCS rate.
    link: Option<NodeId>,
    /// The secondary 20 MHz channels a wide PPDU occupies besides its primary.
    secondaries: Vec<Channel>,
    /// The MPDUs of an A-MPDU (the first is `original`), answered with a Block Ack.
    ampdu: Option<ampdu::Aggregate>,
    /// A frame of the medium's own (see [`Queued::internal`]).
    internal: bool,
    end: Instant,
    delivered: bool,
    ack: AckState,
}

/// The acknowledgement of a transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckState {
    /// Not acknowledged by design (group address, No Ack policy, control frame).
    NotExpected,
    /// Expected from its receiver; decided when the frame ends.
    Pending,
    /// Sent by `by`, starting SIFS after the frame, at `rate`.
    Sent { by: NodeId, rate: PhyRate },
    /// Nobody acknowledged.
    Missing,
    /// Addressed to a node of another daemon's air (federation): acknowledged on its behalf
    /// (see [`remote`]).
    Remote,
}

/// The optional capture of the air.
struct Capture {
    writer: PcapWriter<Vec<u8>>,
    monitor: Option<Position>,
}

/// The simulated wireless medium: it owns the nodes on the air (but the one a host may keep
/// beside it, [`Medium::add_lent`]) and carries their frames.
///
/// Method groups, as in quinn: setup ([`Medium::new`], [`Medium::add_node`],
/// [`Medium::set_addresses`], placement), getters ([`Medium::node`], [`Medium::stats`],
/// [`Medium::signal_dbm`]), time input ([`Medium::handle_timeout`], [`Medium::step`]) and time
/// output ([`Medium::poll_timeout`]); the capture ([`Medium::enable_capture`],
/// [`Medium::take_capture`]). See the [module documentation](self) for the model.
pub struct Medium<N = AirNode> {
    config: MediumConfig,
    rng: ChaCha8Rng,
    now: Instant,
    radios: Vec<Radio<N>>,
    channels: BTreeMap<Channel, ChannelState>,
    /// The channels that may have an airing or contenders: every such channel is here (a
    /// superset, pruned after each event), so finding the next event walks these and not every
    /// channel a scan ever visited.
    busy: BTreeSet<Channel>,
    owners: BTreeMap<MacAddr, NodeId>,
    timers: BTreeSet<(Instant, NodeId)>,
    /// Nodes to service at `now` (added, or changed by the caller).
    dirty: BTreeSet<NodeId>,
    stats: MediumStats,
    capture: Option<Capture>,
    /// The rate controller of each HT/VHT/HE link, by (sender, receiver).
    /// (The capabilities the controller was made for are kept beside it.)
    links: BTreeMap<(NodeId, NodeId), (PhyCaps, RateControl)>,
    /// Block Ack agreements by (originator, recipient).
    agreements: BTreeMap<(NodeId, NodeId), ampdu::Agreement>,
    /// Receivers' reorder timers: (when, originator, recipient, receiver address).
    reorder_timers: BTreeSet<(Instant, NodeId, NodeId, MacAddr)>,
    /// The live tap of the air, if on ([`Medium::enable_tap`]).
    tap: Option<lab::Tap>,
    /// Extra loss probability between two nodes, keyed (lower id, higher id).
    link_loss: BTreeMap<(NodeId, NodeId), f64>,
    /// Nodes off the air ([`Medium::set_on_air`]).
    off_air: BTreeSet<NodeId>,
    /// The seam to other daemons' air, once enabled.
    federation: Option<remote::Federation>,
    /// The slot of the node kept beside the medium ([`Medium::add_lent`]).
    lent: Option<NodeId>,
    /// Scratch of each channel access: the contenders that send, and those that freeze
    /// their backoff with the slots counted down.
    winners: Vec<NodeId>,
    frozen: Vec<(NodeId, u32)>,
}

impl<N> core::fmt::Debug for Medium<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Medium")
            .field("now", &self.now)
            .field("nodes", &self.radios.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<N: Node> Medium<N> {
    /// An empty medium at time zero with `config`, drawing every random decision (backoff,
    /// frame loss) from a ChaCha8 generator seeded with `seed`.
    pub fn new(config: MediumConfig, seed: [u8; 32]) -> Result<Self, MediumError> {
        config.validate()?;
        Ok(Self {
            config,
            rng: ChaCha8Rng::from_seed(seed),
            now: Instant::ZERO,
            radios: Vec::new(),
            channels: BTreeMap::new(),
            busy: BTreeSet::new(),
            owners: BTreeMap::new(),
            timers: BTreeSet::new(),
            dirty: BTreeSet::new(),
            stats: MediumStats::default(),
            capture: None,
            links: BTreeMap::new(),
            agreements: BTreeMap::new(),
            reorder_timers: BTreeSet::new(),
            tap: None,
            link_loss: BTreeMap::new(),
            off_air: BTreeSet::new(),
            federation: None,
            lent: None,
            winners: Vec::new(),
            frozen: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MediumConfig {
        &self.config
    }

    /// The medium's clock: the time of the last event processed, or the latest time given to
    /// [`Medium::handle_timeout`].
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The counters.
    pub fn stats(&self) -> &MediumStats {
        &self.stats
    }

    /// Puts `node` on the air at `placement`. It is tuned to [`Node::channel`] from now on and
    /// is serviced (frames drained, timer read) at the current time by the next
    /// [`Medium::handle_timeout`] or [`Medium::step`]. It acknowledges nothing until its
    /// addresses are registered with [`Medium::set_addresses`].
    pub fn add_node<T>(&mut self, node: T, placement: Placement) -> NodeId
    where
        N: Holds<T>,
    {
        self.add(N::wrap(node), placement)
    }

    /// [`Medium::add_node`] with a node already of the medium's node type.
    pub fn add(&mut self, node: N, placement: Placement) -> NodeId {
        let channel = node.channel();
        self.add_slot(Slot::Own(node), channel, placement)
    }

    /// Puts the node the caller keeps beside the medium on the air at `placement`, as
    /// [`Medium::add`] does with a node of its own: a slot tuned to `node`'s channel, serviced
    /// at the current time by the next call that lends `node` (see the
    /// [module documentation](self)). [`Medium::node`] and the other node getters give nothing
    /// for it. A medium has at most one such slot.
    pub fn add_lent(
        &mut self,
        node: &dyn Node,
        placement: Placement,
    ) -> Result<NodeId, MediumError> {
        if let Some(lent) = self.lent {
            return Err(MediumError::LentSlotTaken(lent));
        }
        let id = self.add_slot(Slot::Lent, node.channel(), placement);
        self.lent = Some(id);
        Ok(id)
    }

    /// Marks `id` changed by its owner (a frame to send, another channel, a new timer): the
    /// medium services it at its current time on the next call that drives it. What
    /// [`Medium::node_mut`] does for a node of the medium's own, for the lent one.
    pub fn touch(&mut self, id: NodeId) {
        if self.radios.get(index(id)).is_some() {
            self.dirty.insert(id);
        }
    }

    fn add_slot(&mut self, node: Slot<N>, channel: Channel, placement: Placement) -> NodeId {
        let id = NodeId(u32::try_from(self.radios.len()).unwrap_or(u32::MAX));
        self.radios.push(Radio {
            node,
            placement,
            addresses: Vec::new(),
            rate: None,
            caps: PhyCaps::LEGACY,
            chosen: None,
            channel,
            tuned_since: self.now,
            queue: VecDeque::new(),
            next_queued: 0,
            attempts: 0,
            cw: self.config.cw_min,
            backoff: 0,
            tx: TxState::Idle,
            timer: None,
        });
        self.channels.entry(channel).or_default().members.insert(id);
        self.dirty.insert(id);
        id
    }

    /// The ids of every node, in the order they were added.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.radios.len()).filter_map(|i| u32::try_from(i).ok().map(NodeId))
    }

    /// Registers the addresses `node` answers to (a station's MAC; an AP's BSSID and any
    /// others): it acknowledges unicast frames whose address 1 is one of them. Replaces the
    /// node's earlier addresses. Fails if another node has one of them.
    pub fn set_addresses(
        &mut self,
        node: NodeId,
        addresses: Vec<MacAddr>,
    ) -> Result<(), MediumError> {
        self.radio(node)?;
        for addr in &addresses {
            match self.owners.get(addr) {
                Some(&owner) if owner != node => {
                    return Err(MediumError::AddressInUse { addr: *addr, owner });
                }
                _ => {}
            }
        }
        let radio = self.radio_mut(node)?;
        let old = core::mem::replace(&mut radio.addresses, addresses.clone());
        for addr in old {
            self.owners.remove(&addr);
        }
        for addr in addresses {
            self.owners.insert(addr, node);
        }
        Ok(())
    }

    /// The addresses `node` answers to.
    pub fn addresses(&self, node: NodeId) -> Option<&[MacAddr]> {
        self.radios.get(index(node)).map(|r| r.addresses.as_slice())
    }

    /// The node that answers to `addr`, if any.
    pub fn owner_of(&self, addr: MacAddr) -> Option<NodeId> {
        self.owners.get(&addr).copied()
    }

    /// Where `node` is and how loud it transmits.
    pub fn placement(&self, node: NodeId) -> Option<Placement> {
        self.radios.get(index(node)).map(|r| r.placement)
    }

    /// Moves `node` to `position`; frames that start from now on see the new distances.
    pub fn set_position(&mut self, node: NodeId, position: Position) -> Result<(), MediumError> {
        if !(position.x.is_finite() && position.y.is_finite()) {
            return Err(MediumError::InvalidParameter {
                what: "position",
                value: if position.x.is_finite() {
                    position.y
                } else {
                    position.x
                },
            });
        }
        self.radio_mut(node)?.placement.position = position;
        Ok(())
    }

    /// Sets the transmit power of `node`, in dBm.
    pub fn set_tx_power(&mut self, node: NodeId, dbm: f64) -> Result<(), MediumError> {
        if !dbm.is_finite() {
            return Err(MediumError::InvalidParameter {
                what: "tx power",
                value: dbm,
            });
        }
        self.radio_mut(node)?.placement.tx_power_dbm = dbm;
        Ok(())
    }

    /// Sets the rate of `node`'s unicast frames (`None`: the band's
    /// [`BandConfig::unicast_rate`]). A DSSS/CCK rate is replaced by the band's rate at 5 GHz.
    pub fn set_rate(&mut self, node: NodeId, rate: Option<PhyRate>) -> Result<(), MediumError> {
        self.radio_mut(node)?.rate = rate;
        Ok(())
    }

    /// Sets the HT/VHT/HE capabilities of `node` (legacy by default). Unicast frames between
    /// two nodes use what both can do on the sender's channel ([`PhyCaps::common`]): an MCS
    /// rate chosen per link by a [`RateControl`] when that is HT or newer, else the legacy
    /// rate as before. Forgets the node's links' rate statistics.
    pub fn set_phy_caps(&mut self, node: NodeId, caps: PhyCaps) -> Result<(), MediumError> {
        self.radio_mut(node)?.caps = caps;
        self.links.retain(|&(a, b), _| a != node && b != node);
        self.agreements.retain(|&(a, b), _| a != node && b != node);
        Ok(())
    }

    /// The HT/VHT/HE capabilities of `node`.
    pub fn phy_caps(&self, node: NodeId) -> Option<PhyCaps> {
        self.radios.get(index(node)).map(|r| r.caps)
    }

    /// The rate the link from `from` to `to` runs at now: the MCS rate its controller
    /// prefers, once the link has carried a frame; `None` for legacy links and unused ones.
    pub fn link_rate(&self, from: NodeId, to: NodeId) -> Option<McsRate> {
        self.links.get(&(from, to)).map(|(_, rc)| rc.current())
    }

    /// The link capabilities `from` and `to` have in common on `from`'s channel.
    pub fn link_caps(&self, from: NodeId, to: NodeId) -> Option<PhyCaps> {
        let a = self.radios.get(index(from))?;
        let b = self.radios.get(index(to))?;
        Some(a.caps.common(&b.caps, a.channel))
    }

    /// The channel `node` is tuned to, as the medium last saw it.
    pub fn channel_of(&self, node: NodeId) -> Option<Channel> {
        self.radios.get(index(node)).map(|r| r.channel)
    }

    /// The signal of `from`'s frames at `to`, in dBm, in the band of `from`'s channel.
    pub fn signal_dbm(&self, from: NodeId, to: NodeId) -> Option<f64> {
        let a = self.radios.get(index(from))?;
        let b = self.radios.get(index(to))?;
        Some(self.signal(&a.placement, b.placement.position, a.channel.band()))
    }

    /// The node `id`, to read its state (`None` for the lent slot: its node is the caller's).
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.radios.get(index(id))?.node.own()
    }

    /// The node `id`, to change it; the medium services it at its current time on the next
    /// [`Medium::handle_timeout`] or [`Medium::step`].
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut N> {
        let node = self.radios.get_mut(index(id))?.node.own_mut()?;
        self.dirty.insert(id);
        Some(node)
    }

    /// The node `id` as its type `T`, if it is one (the node set [holds](Holds) `T`s).
    pub fn node_as<T>(&self, id: NodeId) -> Option<&T>
    where
        N: Holds<T>,
    {
        self.radios.get(index(id))?.node.own()?.get()
    }

    /// The node `id` as its type `T`, to change it (serviced as with [`Medium::node_mut`]).
    pub fn node_as_mut<T>(&mut self, id: NodeId) -> Option<&mut T>
    where
        N: Holds<T>,
    {
        let node = self.radios.get_mut(index(id))?.node.own_mut()?.get_mut()?;
        self.dirty.insert(id);
        Some(node)
    }

    /// Every node of type `T`, with its id.
    pub fn nodes_of<'a, T: 'a>(&'a self) -> impl Iterator<Item = (NodeId, &'a T)> + 'a
    where
        N: Holds<T>,
    {
        self.node_ids()
            .zip(self.radios.iter())
            .filter_map(|(id, r)| r.node.own()?.get().map(|n| (id, n)))
    }

    /// Starts recording every frame on the air (Acks included) as a pcap capture in memory,
    /// from now on. With a `monitor` position, each record carries the signal there; without,
    /// it has no signal field. Restarting discards what was not taken. Each frame is recorded
    /// when it starts (an Ack when its frame ends), stamped with its start time: records are in
    /// time order on each channel; across channels an Ack may follow a frame that started
    /// during the SIFS before it.
    pub fn enable_capture(&mut self, monitor: Option<Position>) {
        // Writing to a Vec cannot fail.
        if let Ok(writer) = PcapWriter::new(Vec::new()) {
            self.capture = Some(Capture { writer, monitor });
        }
    }

    /// The capture so far (since it was enabled or last taken), if capturing.
    pub fn capture(&self) -> Option<&[u8]> {
        self.capture.as_ref().map(|c| c.writer.get_ref().as_slice())
    }

    /// Takes the capture so far, leaving the capture running. The first call returns the pcap
    /// global header and the records; later calls only the records since: appending every
    /// result to one file makes one valid pcap file.
    pub fn take_capture(&mut self) -> Option<Vec<u8>> {
        self.capture
            .as_mut()
            .map(|c| core::mem::take(c.writer.get_mut()))
    }

    /// The MAC timing of `channel`'s band under this configuration.
    pub fn timing(&self, channel: Channel) -> Timing {
        Timing::of(channel.band(), self.config.short_slot)
    }

    fn radio(&self, id: NodeId) -> Result<&Radio<N>, MediumError> {
        self.radios
            .get(index(id))
            .ok_or(MediumError::UnknownNode(id))
    }

    fn radio_mut(&mut self, id: NodeId) -> Result<&mut Radio<N>, MediumError> {
        self.radios
            .get_mut(index(id))
            .ok_or(MediumError::UnknownNode(id))
    }

    /// The signal at `to` of a frame sent from `from` in `band`, in dBm.
    fn signal(&self, from: &Placement, to: Position, band: Band) -> f64 {
        let distance = from.position.distance_to(to);
        from.tx_power_dbm - self.config.band(band).path_loss.loss_db(distance)
    }
}

fn index(id: NodeId) -> usize {
    id.0 as usize
}
