//! The simulated radio world the daemon runs: the medium, the software APs of the
//! configuration, the host's radio (the Mux as a [`MuxNode`]) and the in-process uplink bridge.
//!
//! Sans-IO like the core: time goes in ([`SimWorld::advance`]), the next wake-up comes out
//! ([`SimWorld::poll_timeout`]). The driver ([`crate::driver`]) runs it in real time; tests run it
//! in virtual time.
//!
//! # The host's radio beside the medium
//! The medium owns the APs and the kernel's radios; the host's radio (the Mux) is a field of
//! the world beside it, in a slot of the medium that holds its place, channel, addresses,
//! queue and timer but not the node ([`Medium::add_lent`]). Every call that may drive the
//! medium's nodes lends it the Mux for the call ([`Medium::handle_timeout_with`],
//! [`Medium::handle_remote_with`]), so the Mux is called exactly where and when a node of the
//! medium's own would be; after changing the Mux the world marks its slot
//! ([`Medium::touch`]), as reaching a node of the medium's does.
//!
//! # The uplink bridge ("the wired LAN")
//! Every AP configured with `uplink = true` is plugged into one in-process learning-free bridge:
//! a frame an AP sends to its uplink (a frame from one of its stations to an address outside its
//! BSS) goes to the AP whose BSS has that station, or, if it is group-addressed, to every other
//! AP with an uplink, which sends it into its BSS. So guests joined to different networks reach
//! each other as hosts on two Wi-Fi networks of one LAN would. A unicast frame for an address
//! no AP knows is dropped and counted (`no_route`). The bridge never sends a frame back to the
//! AP it came from, so it cannot loop.
//!
//! The bridge is also the distribution system of roaming: when a station reassociates with an
//! AP naming another AP of the same SSID as its current one, that AP lets the station go
//! ([`air::forward_roams`], run by [`SimWorld::advance`]), so the station's traffic is routed
//! to its new AP only.
//!
//! # The wired port
//! With [`SimWorld::enable_wired_port`] (the daemon's `[host] uplink_tap`), the bridge has one
//! more port: the host's uplink TAP. Group frames from an AP go to it too; unicast frames for an
//! address no AP knows go to it instead of being dropped ([`SimWorld::take_wired`]). Frames from
//! the TAP ([`SimWorld::wired_input`]) go to the AP whose BSS has their destination, or, if
//! group-addressed, to every AP with an uplink.

use core::time::Duration;

use vwifi_core::channel::Channel;
use vwifi_core::demux::GuestId;
use vwifi_core::handshake::sae::SaeWorkerHandle;
use vwifi_core::mux::{AdmitError, GuestConfig, GuestItem, Mux, MuxConfig};
use vwifi_core::mux_node::MuxNode;
use vwifi_core::proto::Message;
use vwifi_core::radio::NodeId;
use vwifi_core::sim::air;
use vwifi_core::sim::ap::SoftAp;
use vwifi_core::sim::config::SimConfig;
use vwifi_core::sim::federated::FederatedTx;
use vwifi_core::sim::medium::{
    FederationConfig, FederationStats, Medium, MediumError, Placement, RemoteOutcome,
};
use vwifi_core::wire::EthernetFrame;
use vwifi_core::{Instant, MacAddr};

use crate::hwsim::{HwsimAir, KernelRadio};

pub(crate) use crate::hwsim::HOST_POSITION;

vwifi_core::node_set! {
    /// The nodes the daemon's medium owns: the software APs and the kernel's hwsim radios,
    /// each given back by its type (the host's radio is beside the medium, in the world).
    pub(crate) enum HostNode {
        /// A software AP of the configuration.
        Ap(SoftAp),
        /// A kernel hwsim radio ([`crate::hwsim`]).
        Kernel(KernelRadio),
    }
}

/// The most bridge rounds per [`SimWorld::advance`]: each round moves every frame waiting in
/// an uplink; frames only come back when a station answers at once, so a few rounds suffice.
const BRIDGE_ROUNDS: usize = 8;

/// Why the simulated world could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorldError {
    /// The APs of `[sim]` could not be put on the air (the error names the AP or field).
    #[error("sim")]
    Aps(#[source] air::SimAirError),
    /// The medium refused its configuration or an address.
    #[error("simulated medium")]
    Medium(#[from] MediumError),
    /// The `[sim.medium]` table does not map onto the medium.
    #[error("sim.medium")]
    Air(#[from] air::SimAirError),
    /// No channel to tune the host's radio to (cannot happen: channel 1 always exists).
    #[error("no channel for the host's radio")]
    NoChannel,
    /// An AP's `path` (or the stations', `index` `None`) cannot be walked.
    #[error("sim.{} path", index.map_or_else(|| "stations".to_owned(), |i| format!("aps[{i}]")))]
    Path {
        /// The AP's index in `[[sim.aps]]`, or `None` for `[sim.stations]`.
        index: Option<usize>,
        /// Why.
        #[source]
        error: crate::lab::mobility::PathError,
    },
}

/// What the uplink bridge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BridgeCounters {
    /// Unicast frames handed to the AP of their destination.
    pub(crate) forwarded: u64,
    /// Group frames handed to every other AP.
    pub(crate) flooded: u64,
    /// Unicast frames for an address no AP knows.
    pub(crate) no_route: u64,
    /// Frames sent out of the wired port.
    pub(crate) wired_out: u64,
    /// Frames taken in from the wired port.
    pub(crate) wired_in: u64,
}

/// The most frames waiting for the wired port; more are dropped (the TAP's reader is slow).
const WIRED_QUEUE: usize = 1024;

/// The simulated air with its APs and the host's radio. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct SimWorld {
    medium: Medium<HostNode>,
    /// The host's radio, beside the medium in its slot `host`, lent to the medium's calls.
    mux: MuxNode,
    /// `(BSSID, node)` of every AP, in configuration order.
    aps: Vec<(MacAddr, NodeId)>,
    /// Per AP, how many uplink frames the bridge has taken (against its counter: a node is
    /// touched only when it has frames, so that an idle world stays idle).
    taken: Vec<u64>,
    host: NodeId,
    bridge: BridgeCounters,
    /// Frames for the wired port, if it is enabled.
    wired: Option<std::collections::VecDeque<EthernetFrame>>,
    /// What the lab controls changed: moving nodes, stopped and removed APs
    /// ([`crate::lab`]).
    pub(crate) lab: crate::lab::LabState,
    /// Where SAE's group arithmetic runs, for the stations and for APs added at run time.
    sae_worker: SaeWorkerHandle,
}

impl SimWorld {
    /// The world of `sim`: its medium and APs at time zero, and a Mux with `mux_cfg` seeded
    /// with `mux_seed` as the host's radio. Derives the PSKs of WPA2 networks (PBKDF2).
    pub(crate) fn new(
        sim: &SimConfig,
        mux_cfg: MuxConfig,
        mux_seed: [u8; 32],
    ) -> Result<Self, WorldError> {
        let seed = sim.seed.unwrap_or(1);
        let mut medium = Medium::new(air::medium_config(&sim.medium)?, air::medium_seed(seed))?;
        let power = sim.medium.tx_power_dbm;
        // The core's installer: the same placements, BSSIDs and AP seeds as every simulation
        // of this configuration (tests, examples, the daemon).
        let installed = air::SimAps::install(&mut medium, sim, seed).map_err(WorldError::Aps)?;
        let nodes: Vec<(MacAddr, NodeId)> = installed
            .bssids()
            .filter_map(|b| installed.node(b).map(|n| (b, n)))
            .collect();
        let channel = installed
            .aps(&medium)
            .next()
            .map(|ap| ap.config().channel)
            .or_else(|| Channel::new(1).ok())
            .ok_or(WorldError::NoChannel)?;
        let [x, y] = sim
            .stations
            .position
            .unwrap_or([HOST_POSITION.0, HOST_POSITION.1]);
        let mux = MuxNode::new(Mux::new(mux_cfg, mux_seed), channel);
        let host = medium.add_lent(&mux, Placement::at(x, y).with_tx_power(power))?;
        // The guests' stations: ax 2x2 by default (`[stations]`); links to legacy APs stay legacy.
        medium.set_phy_caps(host, installed.station_caps())?;
        let lab = crate::lab::LabState::from_config(sim, &nodes, host, &medium)
            .map_err(|(index, error)| WorldError::Path { index, error })?;
        Ok(Self {
            medium,
            mux,
            taken: vec![0; nodes.len()],
            aps: nodes,
            host,
            bridge: BridgeCounters::default(),
            wired: None,
            lab,
            sae_worker: SaeWorkerHandle::default(),
        })
    }

    /// Runs SAE's group arithmetic, of the guests' stations and of the APs (those added
    /// later too), on `worker` rather than on the thread that runs the world.
    pub(crate) fn set_sae_worker(&mut self, worker: SaeWorkerHandle) {
        self.mux_node_mut().mux_mut().set_sae_worker(worker.clone());
        for &(_, node) in &self.aps {
            if let Some(ap) = self.medium.node_as_mut::<SoftAp>(node) {
                ap.set_sae_worker(worker.clone());
            }
        }
        self.sae_worker = worker;
    }

    /// `(BSSID, node)` of every AP ever put on the air, in order (removed ones included).
    pub(crate) fn ap_nodes(&self) -> &[(MacAddr, NodeId)] {
        &self.aps
    }

    /// The host's radio's node.
    pub(crate) fn host_node(&self) -> NodeId {
        self.host
    }

    /// Puts a new AP on the air (runtime control, [`crate::lab`]); it joins the uplink
    /// bridge if configured with one.
    pub(crate) fn add_ap(
        &mut self,
        mut ap: SoftAp,
        placement: Placement,
    ) -> Result<NodeId, MediumError> {
        ap.set_sae_worker(self.sae_worker.clone());
        let bssid = ap.bssid();
        if let Some(owner) = self.medium.owner_of(bssid) {
            return Err(MediumError::AddressInUse { addr: bssid, owner });
        }
        let phy = ap.config().phy;
        let node = self.medium.add_node(ap, placement);
        self.medium.set_addresses(node, vec![bssid])?;
        self.medium.set_phy_caps(node, phy)?;
        self.aps.push((bssid, node));
        self.taken.push(0);
        Ok(node)
    }

    /// The world's clock.
    #[cfg(test)]
    pub(crate) fn now(&self) -> Instant {
        self.medium.now()
    }

    /// The APs, in configuration order (those added at run time after; removed ones not).
    pub(crate) fn aps(&self) -> impl Iterator<Item = &SoftAp> + '_ {
        self.aps
            .iter()
            .filter(|(_, n)| !self.lab.is_removed(*n))
            .filter_map(|(_, n)| self.medium.node_as::<SoftAp>(*n))
    }

    /// Stops every AP: each sends its broadcast deauthentication (BIP-protected on a WPA3
    /// network, so that stations with management frame protection take it) and forgets its
    /// stations ([`SoftAp::stop`]). The frames go on the air at the next advance.
    pub(crate) fn stop_aps(&mut self) {
        let nodes: Vec<_> = self.aps.iter().map(|(_, n)| *n).collect();
        for n in nodes {
            if let Some(ap) = self.medium.node_as_mut::<SoftAp>(n) {
                ap.stop();
            }
        }
    }

    /// The host's radio, to change it: marked for servicing at the medium's clock on the next
    /// call that drives the medium (as reaching one of the medium's own nodes marks it).
    fn mux_node_mut(&mut self) -> &mut MuxNode {
        self.medium.touch(self.host);
        &mut self.mux
    }

    /// Processes the medium up to `now`, lending it the host's radio.
    fn run_air(&mut self, now: Instant) {
        self.medium.handle_timeout_with(now, &mut self.mux);
    }

    /// Services at once the nodes reached since (the medium up to its own clock), lending it
    /// the host's radio.
    fn settle(&mut self) {
        let now = self.medium.now();
        self.run_air(now);
    }

    /// The data frames station `sta` has waiting in the radio's queue, and how many of its
    /// frames were dropped because that queue was full ([`MuxNode::station_queue`]).
    pub(crate) fn station_queue(&self, sta: MacAddr) -> (usize, u64) {
        self.mux.station_queue(sta)
    }

    /// The Mux.
    pub(crate) fn mux(&self) -> &Mux {
        self.mux.mux()
    }

    /// What the uplink bridge did.
    pub(crate) fn bridge(&self) -> BridgeCounters {
        self.bridge
    }

    /// Plugs the wired port into the bridge (see the [module documentation](self)).
    pub(crate) fn enable_wired_port(&mut self) {
        self.wired.get_or_insert_with(Default::default);
    }

    /// Takes the frames waiting for the wired port.
    pub(crate) fn take_wired(&mut self) -> Vec<EthernetFrame> {
        self.wired
            .as_mut()
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// A frame from the wired port at `now`: to the AP that has its destination, or to every
    /// AP with an uplink if group-addressed. Does nothing if the port is not enabled.
    pub(crate) fn wired_input(&mut self, now: Instant, frame: EthernetFrame) {
        if self.wired.is_none() {
            return;
        }
        self.run_air(now);
        let at = self.medium.now();
        self.bridge.wired_in += 1;
        let targets: Vec<NodeId> = if frame.dst.is_group() {
            self.aps.iter().map(|(_, n)| *n).collect()
        } else {
            self.aps
                .iter()
                .filter(|(_, n)| {
                    self.medium
                        .node_as::<SoftAp>(*n)
                        .is_some_and(|ap| ap.station(frame.dst).is_some())
                })
                .map(|(_, n)| *n)
                .take(1)
                .collect()
        };
        if targets.is_empty() {
            self.bridge.no_route += 1;
        }
        for n in targets {
            if let Some(ap) = self.medium.node_as_mut::<SoftAp>(n) {
                ap.handle_uplink(at, frame.clone());
            }
        }
        self.advance(at);
    }

    /// Queues a frame for the wired port, if enabled; `false` if the port is off.
    fn queue_wired(&mut self, frame: &EthernetFrame) -> bool {
        let Some(q) = &mut self.wired else {
            return false;
        };
        if q.len() < WIRED_QUEUE {
            q.push_back(frame.clone());
            self.bridge.wired_out += 1;
        }
        true
    }

    /// Admits a guest and registers its station's address with the medium.
    pub(crate) fn admit(&mut self, cfg: GuestConfig) -> Result<GuestId, AdmitError> {
        let g = self.mux_node_mut().admit(cfg)?;
        self.register_addresses();
        Ok(g)
    }

    /// Removes a guest (its station deauthenticates if connected) at `now`.
    pub(crate) fn remove(&mut self, now: Instant, guest: GuestId) {
        self.run_air(now);
        let at = self.medium.now();
        self.mux_node_mut().remove(at, guest);
        self.register_addresses();
        self.advance(at);
    }

    /// A message from a guest, arriving at `now`.
    pub(crate) fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message) {
        self.run_air(now);
        let at = self.medium.now();
        self.mux_node_mut().guest_message(at, guest, msg);
        self.advance(at);
    }

    /// Tells the host's stations and the APs which radios take MPDUs of at most so many
    /// octets (the kernel's radios), so that their A-MSDUs to them stay within it.
    pub(crate) fn set_mpdu_limits(&mut self, limits: &std::collections::BTreeMap<MacAddr, usize>) {
        self.mux_node_mut()
            .mux_mut()
            .set_mpdu_limits(limits.clone());
        let nodes: Vec<_> = self.aps.iter().map(|(_, n)| *n).collect();
        for n in nodes {
            if let Some(ap) = self.medium.node_as_mut::<SoftAp>(n) {
                ap.set_mpdu_limits(limits.clone());
            }
        }
    }

    /// Data frames a guest handed over together, arriving at `now` (its station may put them
    /// in A-MSDUs: [`MuxNode::guest_data`]).
    pub(crate) fn guest_data(&mut self, now: Instant, guest: GuestId, frames: Vec<bytes::Bytes>) {
        self.run_air(now);
        let at = self.medium.now();
        self.mux_node_mut().guest_data(at, guest, frames);
        self.advance(at);
    }

    /// Takes the messages for `guest` (touching the node only if there are some, so that an
    /// idle world stays idle), opening sealed frames here: for tests, which read what a guest
    /// got without a port.
    #[cfg(test)]
    pub(crate) fn take_guest_messages(&mut self, guest: GuestId) -> Vec<Message> {
        if self.mux.guest_items(guest).is_empty() {
            return Vec::new();
        }
        let msgs = self.mux_node_mut().take_guest_messages(guest);
        // EAPOL found in sealed frames went to the station: what it sent goes out now.
        self.settle();
        msgs
    }

    /// Takes what is for `guest` as the Mux made it: sealed frames stay sealed, for the guest's
    /// port to open ([`crate::outbox`]).
    pub(crate) fn take_guest_items(&mut self, guest: GuestId) -> Vec<GuestItem> {
        if self.mux.guest_items(guest).is_empty() {
            return Vec::new();
        }
        self.mux_node_mut().take_guest_items(guest)
    }

    /// EAPOL frames `guest`'s port found in sealed frames ([`MuxNode::staged_eapol`]),
    /// arriving at `now`.
    pub(crate) fn staged_eapol(&mut self, now: Instant, guest: GuestId, frames: &[EthernetFrame]) {
        self.run_air(now);
        let at = self.medium.now();
        self.mux_node_mut().staged_eapol(at, guest, frames);
        self.advance(at);
    }

    /// Processes everything due up to `now`, bridging the APs' uplinks; moving nodes are
    /// where their path has them at `now` first.
    pub(crate) fn advance(&mut self, now: Instant) {
        self.lab.advance(&mut self.medium, now);
        self.run_air(now);
        // The distribution system: an AP a station roamed away from lets it go, so the bridge
        // routes its traffic to the new AP only ([`air::forward_roams`], the host's radio lent
        // to the servicing of the APs it reached).
        let (_, reached) = air::release_roams(&mut self.medium, &self.aps);
        if reached {
            self.settle();
        }
        for _ in 0..BRIDGE_ROUNDS {
            if !self.bridge_once() {
                break;
            }
            self.run_air(now);
        }
    }

    /// Lets `span` of simulated time pass at once (for the last deauthentications at shutdown).
    pub(crate) fn run_for(&mut self, span: Duration) {
        let until = self.medium.now() + span;
        self.advance(until);
    }

    /// When [`SimWorld::advance`] must be called next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let air = self.medium.poll_timeout();
        match self.lab.poll_timeout(self.medium.now()) {
            Some(t) => Some(air.map_or(t, |a| a.min(t))),
            None => air,
        }
    }

    /// Joins a federated air (see [`crate::federation`]).
    pub(crate) fn enable_federation(&mut self, config: FederationConfig) {
        self.medium.enable_federation(config);
    }

    /// Moves the host's radio (its guests' stations) to (`x`, `y`) on the air.
    pub(crate) fn set_host_position(&mut self, x: f64, y: f64) -> Result<(), MediumError> {
        self.medium
            .set_position(self.host, vwifi_core::sim::medium::Position { x, y })
    }

    /// The next local transmission to publish to the other daemons.
    pub(crate) fn poll_federated(&mut self) -> Option<FederatedTx> {
        self.medium.poll_federated()
    }

    /// A transmission from another daemon, arriving at `now`; then everything due, bridged.
    pub(crate) fn handle_remote(&mut self, now: Instant, tx: &FederatedTx) -> RemoteOutcome {
        let outcome = self.medium.handle_remote_with(now, tx, &mut self.mux);
        let at = self.medium.now();
        self.advance(at);
        outcome
    }

    /// Forgets the addresses of a daemon that left the air.
    pub(crate) fn forget_remote(&mut self, addrs: impl IntoIterator<Item = MacAddr>) {
        self.medium.forget_remote(addrs);
    }

    /// The federation counters of the medium.
    pub(crate) fn federation_stats(&self) -> FederationStats {
        self.medium.federation_stats()
    }

    fn register_addresses(&mut self) {
        let addrs = self.mux.addresses();
        if let Err(e) = self.medium.set_addresses(self.host, addrs) {
            // Station addresses are locally administered and unique in the Mux; an AP cannot
            // hold one unless configured with it.
            tracing::warn!(error = %e, "a station address is also an AP's");
        }
    }

    /// Moves every frame waiting in an uplink; `true` if any moved.
    fn bridge_once(&mut self) -> bool {
        let mut frames = Vec::new();
        for (&(bssid, node), taken) in self.aps.iter().zip(self.taken.iter_mut()) {
            let sent = self
                .medium
                .node_as::<SoftAp>(node)
                .map_or(0, |ap| ap.counters().uplink_tx_frames);
            if sent == *taken {
                continue;
            }
            *taken = sent;
            if let Some(ap) = self.medium.node_as_mut::<SoftAp>(node) {
                while let Some(f) = ap.poll_uplink() {
                    frames.push((bssid, f));
                }
            }
        }
        if frames.is_empty() {
            return false;
        }
        let now = self.medium.now();
        for (from, frame) in frames {
            let targets: Vec<NodeId> = if frame.dst.is_group() {
                self.bridge.flooded += 1;
                self.queue_wired(&frame);
                self.aps
                    .iter()
                    .filter(|(b, _)| *b != from)
                    .map(|(_, n)| *n)
                    .collect()
            } else {
                let owner = self
                    .aps
                    .iter()
                    .find(|(b, n)| {
                        *b != from
                            && self
                                .medium
                                .node_as::<SoftAp>(*n)
                                .is_some_and(|ap| ap.station(frame.dst).is_some())
                    })
                    .map(|(_, n)| *n);
                match owner {
                    Some(n) => {
                        self.bridge.forwarded += 1;
                        vec![n]
                    }
                    None if self.queue_wired(&frame) => Vec::new(),
                    None => {
                        self.bridge.no_route += 1;
                        tracing::trace!(dst = %frame.dst, "uplink frame for an unknown address dropped");
                        Vec::new()
                    }
                }
            };
            for n in targets {
                if let Some(ap) = self.medium.node_as_mut::<SoftAp>(n) {
                    ap.handle_uplink(now, frame.clone());
                }
            }
        }
        true
    }
}

impl HwsimAir for SimWorld {
    type Node = HostNode;

    fn advance(&mut self, now: Instant) {
        SimWorld::advance(self, now);
    }

    fn settle(&mut self) {
        SimWorld::settle(self);
    }

    fn medium(&self) -> &Medium<HostNode> {
        &self.medium
    }

    fn medium_mut(&mut self) -> &mut Medium<HostNode> {
        &mut self.medium
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn the_daemons_world_can_move_to_another_thread() {
        // Compile-time: the simulated world (medium, APs, Mux, kernel radios) is Send.
        assert_send::<HostNode>();
        assert_send::<SimWorld>();
    }

    use bytes::Bytes;
    use vwifi_core::proto::{Credentials, Event, RequestId, Ssid};
    use vwifi_core::wire::{EtherType, EthernetFrame};

    /// The demo networks, open (no PBKDF2 in unit tests), same places and channels.
    fn demo_open() -> SimConfig {
        let mut cfg = SimConfig::demo();
        for ap in &mut cfg.aps {
            ap.passphrase = None;
        }
        cfg
    }

    #[test]
    fn the_demo_world_has_its_three_networks_and_the_host_radio() {
        let w = SimWorld::new(&demo_open(), MuxConfig::default(), [3; 32]).unwrap();
        let ssids: Vec<(Vec<u8>, u8)> = w
            .aps()
            .map(|a| {
                (
                    a.config().ssid.as_bytes().to_vec(),
                    a.config().channel.number(),
                )
            })
            .collect();
        assert_eq!(
            ssids,
            [
                (b"vwifi-open".to_vec(), 1),
                (b"vwifi-lab".to_vec(), 1),
                (b"vwifi-office".to_vec(), 6)
            ]
        );
        assert!(w.mux().guests().next().is_none());
    }

    fn connect(w: &mut SimWorld, g: GuestId, ssid: &str) {
        let now = w.now();
        w.guest_message(
            now,
            g,
            Message::Connect {
                id: RequestId(1),
                ssid: Ssid::new(ssid.as_bytes()).unwrap(),
                bssid: None,
                credentials: Credentials::None,
            },
        );
    }

    /// Runs the world in virtual time until `f` holds for the messages taken so far.
    fn run_until(
        w: &mut SimWorld,
        inbox: &mut Vec<(GuestId, Message)>,
        guests: &[GuestId],
        limit: Duration,
        f: impl Fn(&[(GuestId, Message)]) -> bool,
    ) {
        let deadline = w.now() + limit;
        while !f(inbox) {
            let next = w.poll_timeout().expect("the world never goes idle");
            if next > deadline {
                for ap in w.aps() {
                    eprintln!("{} {:?}", ap.bssid(), ap.counters());
                }
                eprintln!("{:?} {:?}", w.bridge(), w.mux().stats());
                panic!("condition not met within {limit:?}");
            }
            w.advance(next);
            for &g in guests {
                inbox.extend(w.take_guest_messages(g).into_iter().map(|m| (g, m)));
            }
        }
    }

    fn connected(inbox: &[(GuestId, Message)], g: GuestId) -> bool {
        inbox
            .iter()
            .any(|(x, m)| *x == g && matches!(m, Message::Event(Event::Connected { .. })))
    }

    #[test]
    fn guests_on_different_networks_reach_each_other_through_the_uplink_bridge() {
        let mut w = SimWorld::new(&demo_open(), MuxConfig::default(), [3; 32]).unwrap();
        assert_eq!(w.aps().count(), 3);
        let a = w
            .admit(GuestConfig {
                name: "a".into(),
                mac: None,
            })
            .unwrap();
        let b = w
            .admit(GuestConfig {
                name: "b".into(),
                mac: None,
            })
            .unwrap();
        let addrs = w.medium().addresses(w.host).unwrap().to_vec();
        assert_eq!(addrs.len(), 2, "both stations acknowledge their frames");
        connect(&mut w, a, "vwifi-open");
        // Both on channel 1: see the report about frames to a time-shared station on another
        // channel (the AP does not buffer them, its retries run out while the radio is away).
        connect(&mut w, b, "vwifi-lab");
        let mut inbox = Vec::new();
        run_until(&mut w, &mut inbox, &[a, b], Duration::from_secs(20), |i| {
            connected(i, a) && connected(i, b)
        });
        let mac = |g| w.mux().station(g).unwrap().mac();
        let (ma, mb) = (mac(a), mac(b));
        let mut frame = Vec::new();
        EthernetFrame {
            dst: mb,
            src: ma,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(&[0x45, 0, 0, 20, 9, 9, 9, 9]),
        }
        .emit(&mut frame);
        let now = w.now();
        w.guest_message(now, a, Message::Data(frame.clone().into()));
        run_until(&mut w, &mut inbox, &[a, b], Duration::from_secs(5), |i| {
            i.iter()
                .any(|(g, m)| *g == b && matches!(m, Message::Data(d) if d[..] == frame[..]))
        });
        assert_eq!(w.bridge().forwarded, 1);
        // Nothing of it reached the sender.
        assert!(!inbox
            .iter()
            .any(|(g, m)| *g == a && matches!(m, Message::Data(_))));
    }

    #[test]
    fn an_ap_that_falls_silent_hands_its_station_to_another_ap_of_the_network() {
        let cfg = SimConfig::from_toml_str(
            "[[aps]]\nssid = \"ess\"\nchannel = 1\nposition = [0.0, 0.0]\nuplink = true\n\
             [[aps]]\nssid = \"ess\"\nchannel = 6\nposition = [30.0, 0.0]\nuplink = true\n",
        )
        .unwrap();
        let mut w = SimWorld::new(&cfg, MuxConfig::default(), [5; 32]).unwrap();
        let a = w
            .admit(GuestConfig {
                name: "a".into(),
                mac: None,
            })
            .unwrap();
        connect(&mut w, a, "ess");
        let mut inbox = Vec::new();
        run_until(&mut w, &mut inbox, &[a], Duration::from_secs(20), |i| {
            connected(i, a)
        });
        let (ap_a, ap_b) = (w.aps[0], w.aps[1]);
        let mac = w.mux().station(a).unwrap().mac();
        assert_eq!(w.mux().station(a).unwrap().bssid(), Some(ap_a.0));
        // A goes off the air without a word: its station roams to B (a reassociation naming
        // A), and the distribution system makes A let it go.
        w.medium
            .set_position(ap_a.1, Placement::at(100_000.0, 0.0).position)
            .unwrap();
        run_until(&mut w, &mut inbox, &[a], Duration::from_secs(10), |i| {
            i.iter().any(|(_, m)| {
                matches!(m, Message::Event(Event::Connected { bssid, .. }) if *bssid == ap_b.0)
            })
        });
        assert!(!inbox
            .iter()
            .any(|(_, m)| matches!(m, Message::Event(Event::Disconnected { .. }))));
        let holds = |w: &SimWorld, n: NodeId| {
            w.medium
                .node_as::<SoftAp>(n)
                .is_some_and(|ap| ap.station(mac).is_some())
        };
        assert!(holds(&w, ap_b.1));
        assert!(!holds(&w, ap_a.1), "the old AP still holds the station");
    }

    #[test]
    fn the_wired_port_takes_frames_for_unknown_addresses_and_reaches_stations() {
        let mut w = SimWorld::new(&demo_open(), MuxConfig::default(), [3; 32]).unwrap();
        w.enable_wired_port();
        let a = w
            .admit(GuestConfig {
                name: "a".into(),
                mac: None,
            })
            .unwrap();
        connect(&mut w, a, "vwifi-open");
        let mut inbox = Vec::new();
        run_until(&mut w, &mut inbox, &[a], Duration::from_secs(20), |i| {
            connected(i, a)
        });
        let ma = w.mux().station(a).unwrap().mac();
        let host = MacAddr([2, 0x99, 0, 0, 0, 1]);
        // The guest's frame to the wired host (no AP knows it) leaves through the port.
        let mut frame = Vec::new();
        EthernetFrame {
            dst: host,
            src: ma,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(&[0x45, 0, 0, 20, 1, 2, 3, 4]),
        }
        .emit(&mut frame);
        let now = w.now();
        w.guest_message(now, a, Message::Data(frame.into()));
        let mut out = Vec::new();
        let deadline = w.now() + Duration::from_secs(5);
        while out.is_empty() {
            let next = w.poll_timeout().expect("the world never goes idle");
            assert!(next <= deadline, "nothing left through the wired port");
            w.advance(next);
            out.extend(w.take_wired());
        }
        assert_eq!((out[0].dst, out[0].src), (host, ma));
        assert_eq!(w.bridge().wired_out, 1);
        // The wired host's answer reaches the station, through its AP.
        let reply = EthernetFrame {
            dst: ma,
            src: host,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(&[0x45, 0, 0, 20, 4, 3, 2, 1]),
        };
        let now = w.now();
        w.wired_input(now, reply);
        run_until(&mut w, &mut inbox, &[a], Duration::from_secs(5), |i| {
            i.iter().any(|(g, m)| {
                *g == a && matches!(m, Message::Data(d) if d.get(6..12) == Some(&host.0[..]))
            })
        });
        // A frame for nobody is counted, not delivered.
        let nobody = EthernetFrame {
            dst: MacAddr([2, 0x99, 0, 0, 0, 2]),
            src: host,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(&[0x45]),
        };
        let before = w.bridge().no_route;
        let now = w.now();
        w.wired_input(now, nobody);
        assert_eq!(w.bridge().no_route, before + 1);
        assert_eq!(w.bridge().wired_in, 2);
    }

    #[test]
    fn an_ap_with_a_configured_path_walks_it_with_the_worlds_clock() {
        let mut cfg = demo_open();
        cfg.aps[0].path = vec![[10.0, 0.0]];
        cfg.aps[0].speed_mps = Some(2.0);
        let mut w = SimWorld::new(&cfg, MuxConfig::default(), [3; 32]).unwrap();
        let ap = w.ap_nodes()[0].1;
        let host = w.host_node();
        let start = w.medium().signal_dbm(ap, host).unwrap();
        w.advance(Instant::from_millis(2500));
        let p = w.medium().placement(ap).unwrap().position;
        assert!((p.x - 5.0).abs() < 1e-9 && p.y == 0.0, "{p:?}");
        assert!(w.poll_timeout().unwrap() <= w.now() + crate::lab::MOBILITY_TICK);
        w.advance(Instant::from_millis(10_000));
        assert_eq!(w.medium().placement(ap).unwrap().position.x, 10.0);
        // Arrived: the signal at the host radio (2, 2) changed with the distance.
        assert!(w.medium().signal_dbm(ap, host).unwrap() < start - 5.0);
        // A bad path is refused naming the AP.
        cfg.aps[1].path = vec![[1.0, 1.0]];
        cfg.aps[1].speed_mps = Some(-1.0);
        let e = SimWorld::new(&cfg, MuxConfig::default(), [3; 32]).unwrap_err();
        assert!(
            crate::error_text::error_chain(&e).contains("speed_mps"),
            "{e:?}"
        );
    }

    #[test]
    fn the_guests_radio_stands_and_walks_where_sim_stations_says() {
        let mut cfg = demo_open();
        cfg.stations.position = Some([0.0, 0.0]);
        cfg.stations.path = vec![[4.0, 0.0]];
        cfg.stations.speed_mps = Some(2.0);
        let mut w = SimWorld::new(&cfg, MuxConfig::default(), [3; 32]).unwrap();
        let at = |w: &SimWorld| w.medium().placement(w.host_node()).unwrap().position;
        assert_eq!((at(&w).x, at(&w).y), (0.0, 0.0));
        w.advance(Instant::from_millis(1000));
        assert!((at(&w).x - 2.0).abs() < 1e-9, "{:?}", at(&w));
        cfg.stations.path = vec![[f64::INFINITY, 0.0]];
        let e = SimWorld::new(&cfg, MuxConfig::default(), [3; 32]).unwrap_err();
        assert!(crate::error_text::error_chain(&e).contains("path"), "{e:?}");
    }

    #[test]
    fn an_idle_world_only_wakes_for_the_air() {
        let mut w = SimWorld::new(&demo_open(), MuxConfig::default(), [3; 32]).unwrap();
        let g = w
            .admit(GuestConfig {
                name: "idle".into(),
                mac: None,
            })
            .unwrap();
        w.advance(Instant::from_millis(10));
        assert!(w.take_guest_messages(g).is_empty());
        // No spurious immediate wake-up: the next event is in the future (a beacon).
        assert!(w.poll_timeout().unwrap() > w.now());
        w.remove(w.now(), g);
        assert!(w.medium().addresses(w.host).unwrap().is_empty());
    }
}
