//! The simulated radio world the daemon runs: the medium, the software APs of the
//! configuration, the host's radio (the Mux as a [`MuxNode`]) and the in-process uplink bridge.
//!
//! Sans-IO like the core: time goes in ([`SimWorld::advance`]), the next wake-up comes out
//! ([`SimWorld::poll_timeout`]). The driver ([`crate::driver`]) runs it in real time; tests run it
//! in virtual time.
//!
//! # The uplink bridge ("the wired LAN")
//! Every AP configured with `uplink = true` is plugged into one in-process learning-free bridge:
//! a frame an AP sends to its uplink (a frame from one of its stations to an address outside its
//! BSS) goes to the AP whose BSS has that station, or, if it is group-addressed, to every other
//! AP with an uplink, which sends it into its BSS. So guests joined to different networks reach
//! each other as hosts on two Wi-Fi networks of one LAN would. A unicast frame for an address
//! no AP knows is dropped and counted (`no_route`). The bridge never sends a frame back to the
//! AP it came from, so it cannot loop.

use core::time::Duration;

use vwifi_core::channel::Channel;
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{AdmitError, GuestConfig, Mux, MuxConfig};
use vwifi_core::proto::Message;
use vwifi_core::sim::air;
use vwifi_core::sim::ap::SoftAp;
use vwifi_core::sim::config::{ConfigError, SimConfig};
use vwifi_core::sim::medium::{Medium, MediumError, Placement};
use vwifi_core::sim::{MuxNode, NodeId};
use vwifi_core::{Instant, MacAddr};

/// Where the host's radio stands on the simulated floor, in metres.
pub(crate) const HOST_POSITION: (f64, f64) = (2.0, 2.0);

/// The most bridge rounds per [`SimWorld::advance`]: each round moves every frame waiting in
/// an uplink; frames only come back when a station answers at once, so a few rounds suffice.
const BRIDGE_ROUNDS: usize = 8;

/// Why the simulated world could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorldError {
    /// The `[sim]` configuration is invalid.
    #[error("sim.{0}")]
    Config(#[from] ConfigError),
    /// The medium refused its configuration or an address.
    #[error("simulated medium")]
    Medium(#[from] MediumError),
    /// An AP refused its configuration.
    #[error("sim.aps[{index}]: {reason}")]
    Ap {
        /// Its index in the configuration.
        index: usize,
        /// What it refused.
        reason: vwifi_core::sim::ap::ApConfigError,
    },
    /// The `[sim.medium]` table does not map onto the medium.
    #[error("sim.medium")]
    Air(#[from] air::SimAirError),
    /// No channel to tune the host's radio to (cannot happen: channel 1 always exists).
    #[error("no channel for the host's radio")]
    NoChannel,
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
}

/// The simulated air with its APs and the host's radio. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct SimWorld {
    medium: Medium,
    /// `(BSSID, node)` of every AP, in configuration order.
    aps: Vec<(MacAddr, NodeId)>,
    /// Per AP, how many uplink frames the bridge has taken (against its counter: a node is
    /// touched only when it has frames, so that an idle world stays idle).
    taken: Vec<u64>,
    host: NodeId,
    bridge: BridgeCounters,
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
        let aps = sim.ap_configs()?;
        let mut medium = Medium::new(air::medium_config(&sim.medium)?, air::medium_seed(seed))?;
        let power = sim.medium.tx_power_dbm;
        let mut nodes = Vec::with_capacity(aps.len());
        let mut first_channel = None;
        for (index, cfg) in aps.into_iter().enumerate() {
            let bssid = cfg.bssid;
            let (x, y) = cfg.position;
            first_channel.get_or_insert(cfg.channel);
            let ap = SoftAp::new(cfg, medium.now(), seed.wrapping_add(index as u64 + 1))
                .map_err(|reason| WorldError::Ap { index, reason })?;
            let node = medium.add_node(ap, Placement::at(x, y).with_tx_power(power));
            medium.set_addresses(node, vec![bssid])?;
            nodes.push((bssid, node));
        }
        let channel = first_channel
            .or_else(|| Channel::new(1).ok())
            .ok_or(WorldError::NoChannel)?;
        let (x, y) = HOST_POSITION;
        let host = medium.add_node(
            MuxNode::new(Mux::new(mux_cfg, mux_seed), channel),
            Placement::at(x, y).with_tx_power(power),
        );
        Ok(Self {
            medium,
            taken: vec![0; nodes.len()],
            aps: nodes,
            host,
            bridge: BridgeCounters::default(),
        })
    }

    /// The world's clock.
    #[cfg(test)]
    pub(crate) fn now(&self) -> Instant {
        self.medium.now()
    }

    /// The medium.
    pub(crate) fn medium(&self) -> &Medium {
        &self.medium
    }

    /// The medium, for radios that join it from outside (the kernel's hwsim radios).
    pub(crate) fn medium_mut(&mut self) -> &mut Medium {
        &mut self.medium
    }

    /// The APs, in configuration order.
    pub(crate) fn aps(&self) -> impl Iterator<Item = &SoftAp> + '_ {
        self.aps
            .iter()
            .filter_map(|(_, n)| self.medium.node_as::<SoftAp>(*n))
    }

    /// The host's radio.
    fn node(&self) -> Option<&MuxNode> {
        self.medium.node_as::<MuxNode>(self.host)
    }

    /// The Mux.
    pub(crate) fn mux(&self) -> Option<&Mux> {
        self.node().map(MuxNode::mux)
    }

    /// What the uplink bridge did.
    pub(crate) fn bridge(&self) -> BridgeCounters {
        self.bridge
    }

    /// Admits a guest and registers its station's address with the medium.
    pub(crate) fn admit(&mut self, cfg: GuestConfig) -> Result<GuestId, AdmitError> {
        let Some(node) = self.medium.node_as_mut::<MuxNode>(self.host) else {
            // The host node is created with the world and never removed.
            return Err(AdmitError::Radio(
                vwifi_core::scheduler::AdmitError::TooManyStations { max: 0 },
            ));
        };
        let g = node.admit(cfg)?;
        self.register_addresses();
        Ok(g)
    }

    /// Removes a guest (its station deauthenticates if connected) at `now`.
    pub(crate) fn remove(&mut self, now: Instant, guest: GuestId) {
        self.medium.handle_timeout(now);
        let at = self.medium.now();
        if let Some(node) = self.medium.node_as_mut::<MuxNode>(self.host) {
            node.remove(at, guest);
        }
        self.register_addresses();
        self.advance(at);
    }

    /// A message from a guest, arriving at `now`.
    pub(crate) fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message) {
        self.medium.handle_timeout(now);
        let at = self.medium.now();
        if let Some(node) = self.medium.node_as_mut::<MuxNode>(self.host) {
            node.guest_message(at, guest, msg);
        }
        self.advance(at);
    }

    /// Takes the messages for `guest` (touching the node only if there are some, so that an
    /// idle world stays idle).
    pub(crate) fn take_guest_messages(&mut self, guest: GuestId) -> Vec<Message> {
        if self
            .node()
            .is_none_or(|n| n.guest_messages(guest).is_empty())
        {
            return Vec::new();
        }
        self.medium
            .node_as_mut::<MuxNode>(self.host)
            .map(|n| n.take_guest_messages(guest))
            .unwrap_or_default()
    }

    /// Processes everything due up to `now`, bridging the APs' uplinks.
    pub(crate) fn advance(&mut self, now: Instant) {
        self.medium.handle_timeout(now);
        for _ in 0..BRIDGE_ROUNDS {
            if !self.bridge_once() {
                break;
            }
            self.medium.handle_timeout(now);
        }
    }

    /// Lets `span` of simulated time pass at once (for the last deauthentications at shutdown).
    pub(crate) fn run_for(&mut self, span: Duration) {
        let until = self.medium.now() + span;
        self.advance(until);
    }

    /// When [`SimWorld::advance`] must be called next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.medium.poll_timeout()
    }

    fn register_addresses(&mut self) {
        let addrs = self.node().map(MuxNode::addresses).unwrap_or_default();
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
                self.aps
                    .iter()
                    .filter(|(b, _)| *b != from)
                    .map(|(_, n)| *n)
                    .collect()
            } else {
                let owner = self.aps.iter().find(|(b, n)| {
                    *b != from
                        && self
                            .medium
                            .node_as::<SoftAp>(*n)
                            .is_some_and(|ap| ap.station(frame.dst).is_some())
                });
                match owner {
                    Some((_, n)) => {
                        self.bridge.forwarded += 1;
                        vec![*n]
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(w.mux().unwrap().guests().next().is_none());
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
                eprintln!("{:?} {:?}", w.bridge(), w.mux().unwrap().stats());
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
        let mac = |g| w.mux().unwrap().station(g).unwrap().mac();
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
