//! A lab for the Mux's integration tests: a simulated world with software APs and the host's
//! radio (a [`MuxNode`]), guests admitted by name, and helpers to drive it and look at what
//! each guest was told.

// Each test binary uses part of the lab.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use bytes::Bytes;
use vwifi_core::channel::Channel;
use vwifi_core::crypto::{Passphrase, Psk};
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{GuestConfig, GuestCounters, GuestItem, Mux, MuxConfig};
use vwifi_core::mux_node::MuxNode;
use vwifi_core::phy::PhyCaps;
use vwifi_core::proto::{
    ConnectFailure, Credentials, Event, Message, RequestId, Ssid, StationState,
};
use vwifi_core::radio::NodeId;
use vwifi_core::sim::ap::{ApConfig, ApSecurity, SoftAp};
use vwifi_core::sim::medium::{MediumConfig, Placement};
use vwifi_core::testing::{seed_bytes, World};
use vwifi_core::wire::{EtherType, EthernetFrame};
use vwifi_core::MacAddr;

/// One network of the lab: one AP.
#[derive(Debug, Clone)]
pub struct Net {
    pub ssid: &'static str,
    pub bssid: MacAddr,
    pub channel: u8,
    pub pass: Option<&'static str>,
    pub at: (f64, f64),
}

/// How the lab is built beyond its networks.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub medium: MediumConfig,
    pub mux: MuxConfig,
    /// Every AP's `max_stations`.
    pub max_stations: u16,
    /// Where the host's radio stands.
    pub host_at: (f64, f64),
    /// Every AP's PHY (legacy by default).
    pub ap_phy: PhyCaps,
    /// The host radio's PHY (legacy by default, so that the legacy figures stay).
    pub station_phy: PhyCaps,
    /// The networks' channel numbers are 6 GHz channels (false: 2.4 or 5 GHz).
    pub six_ghz: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            medium: MediumConfig::default(),
            mux: MuxConfig::default(),
            max_stations: 32,
            host_at: (0.0, 3.0),
            ap_phy: PhyCaps::LEGACY,
            station_phy: PhyCaps::LEGACY,
            six_ghz: false,
        }
    }
}

pub struct Lab {
    pub world: World,
    pub host: NodeId,
    pub aps: Vec<NodeId>,
    pub nets: Vec<Net>,
    /// The PSK of each network (`None`: open), derived once.
    pub psks: Vec<Option<Psk>>,
    restarts: u64,
}

/// The PSK of a passphrase and SSID, derived once per test binary (PBKDF2 is slow in debug
/// builds).
pub fn psk_of(pass: &str, ssid: &str) -> Psk {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<(String, String), Psk>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (pass.to_owned(), ssid.to_owned());
    if let Some(psk) = cache.lock().unwrap().get(&key) {
        return psk.clone();
    }
    let psk =
        vwifi_core::crypto::derive_psk(&Passphrase::new(pass).unwrap(), ssid.as_bytes()).unwrap();
    cache.lock().unwrap().insert(key, psk.clone());
    psk
}

pub const AP_A: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x0a]);
pub const AP_B: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x0b]);
/// An address behind the APs' uplinks.
pub const UPLINK_PEER: MacAddr = MacAddr([0x02, 0xee, 0, 0, 0, 1]);

/// WPA2 network "lab-a" on channel 1 and "lab-b" on channel 11.
pub fn two_networks() -> Vec<Net> {
    vec![
        Net {
            ssid: "lab-a",
            bssid: AP_A,
            channel: 1,
            pass: Some("passphrase of A"),
            at: (0.0, 0.0),
        },
        Net {
            ssid: "lab-b",
            bssid: AP_B,
            channel: 11,
            pass: Some("another secret B"),
            at: (5.0, 0.0),
        },
    ]
}

impl Lab {
    pub fn new(seed: u64, nets: &[Net], cfg: MuxConfig) -> Self {
        Self::with_options(
            seed,
            nets,
            LabOptions {
                mux: cfg,
                ..LabOptions::default()
            },
        )
    }

    pub fn with_options(seed: u64, nets: &[Net], opts: LabOptions) -> Self {
        let mut world = World::with_config(seed, opts.medium).unwrap();
        let mut aps = Vec::new();
        let mut psks = Vec::new();
        for (i, n) in nets.iter().enumerate() {
            let psk = n.pass.map(|p| psk_of(p, n.ssid));
            let security = match &psk {
                Some(psk) => ApSecurity::Wpa2Psk { psk: psk.clone() },
                None => ApSecurity::Open,
            };
            psks.push(psk);
            let mut ap_cfg = ApConfig::new(
                vwifi_core::wire::Ssid::new(n.ssid.as_bytes()).unwrap(),
                n.bssid,
                if opts.six_ghz {
                    Channel::six_ghz(n.channel).unwrap()
                } else {
                    Channel::new(n.channel).unwrap()
                },
                security,
            );
            ap_cfg.position = n.at;
            ap_cfg.tbtt_offset = ap_cfg.tbtt_offset_from_bssid();
            ap_cfg.uplink = true;
            ap_cfg.max_stations = opts.max_stations;
            ap_cfg.phy = opts.ap_phy;
            let ap = SoftAp::new(ap_cfg, world.now(), seed.wrapping_add(i as u64 + 1)).unwrap();
            let id = world.add_node(ap, Placement::at(n.at.0, n.at.1));
            world.medium_mut().set_addresses(id, vec![n.bssid]).unwrap();
            world.medium_mut().set_phy_caps(id, opts.ap_phy).unwrap();
            aps.push(id);
        }
        let mux = Mux::new(opts.mux, seed_bytes(seed ^ 0xabcd));
        let host = world.add_node(
            MuxNode::new(mux, Channel::new(1).unwrap()),
            Placement::at(opts.host_at.0, opts.host_at.1),
        );
        world
            .medium_mut()
            .set_phy_caps(host, opts.station_phy)
            .unwrap();
        Self {
            world,
            host,
            aps,
            nets: nets.to_vec(),
            psks,
            restarts: 0,
        }
    }

    pub fn node(&self) -> &MuxNode {
        self.world.node::<MuxNode>(self.host)
    }

    pub fn node_mut(&mut self) -> &mut MuxNode {
        self.world.node_mut::<MuxNode>(self.host)
    }

    pub fn mux(&self) -> &Mux {
        self.node().mux()
    }

    pub fn ap(&self, i: usize) -> &SoftAp {
        self.world.node::<SoftAp>(self.aps[i])
    }

    pub fn ap_mut(&mut self, i: usize) -> &mut SoftAp {
        self.world.node_mut::<SoftAp>(self.aps[i])
    }

    pub fn admit(&mut self, name: &str) -> GuestId {
        let g = self
            .node_mut()
            .admit(GuestConfig {
                name: name.into(),
                mac: None,
            })
            .unwrap();
        self.register_addresses();
        g
    }

    /// Admits `n` guests named `{prefix}-{i}`, registering the addresses once.
    pub fn admit_many(&mut self, prefix: &str, n: usize) -> Vec<GuestId> {
        let gs = (0..n)
            .map(|i| {
                self.node_mut()
                    .admit(GuestConfig {
                        name: format!("{prefix}-{i}"),
                        mac: None,
                    })
                    .unwrap()
            })
            .collect();
        self.register_addresses();
        gs
    }

    pub fn register_addresses(&mut self) {
        let addrs = self.node().addresses();
        self.world
            .medium_mut()
            .set_addresses(self.host, addrs)
            .unwrap();
    }

    pub fn send(&mut self, g: GuestId, msg: Message) {
        let now = self.world.now();
        self.node_mut().guest_message(now, g, msg);
    }

    /// Data frames guest `g` hands over together (one read of its port).
    pub fn send_batch(&mut self, g: GuestId, frames: Vec<Bytes>) {
        let now = self.world.now();
        self.node_mut().guest_data(now, g, frames);
    }

    /// Connects with a passphrase (the host derives the PSK).
    pub fn connect(&mut self, g: GuestId, ssid: &str, pass: Option<&str>) {
        let credentials = match pass {
            Some(p) => Credentials::Passphrase(Passphrase::new(p).unwrap()),
            None => Credentials::None,
        };
        self.connect_with(g, ssid, credentials);
    }

    /// Connects to network `net` with its PSK given directly (no PBKDF2 per guest).
    pub fn connect_net(&mut self, g: GuestId, net: usize) {
        let credentials = match &self.psks[net] {
            Some(psk) => Credentials::Psk(psk.clone()),
            None => Credentials::None,
        };
        let ssid = self.nets[net].ssid;
        self.connect_with(g, ssid, credentials);
    }

    pub fn connect_with(&mut self, g: GuestId, ssid: &str, credentials: Credentials) {
        let ssid = Ssid::new(ssid.as_bytes()).unwrap();
        self.send(
            g,
            Message::Connect {
                id: RequestId(7),
                ssid,
                bssid: None,
                credentials,
            },
        );
    }

    pub fn state(&self, g: GuestId) -> StationState {
        self.mux().station(g).unwrap().state()
    }

    pub fn mac(&self, g: GuestId) -> MacAddr {
        self.mux().station(g).unwrap().mac()
    }

    pub fn counters(&self, g: GuestId) -> GuestCounters {
        self.mux().report(g).unwrap().counters
    }

    pub fn bssid(&self, g: GuestId) -> Option<MacAddr> {
        self.mux().station(g).unwrap().bssid()
    }

    pub fn messages(&self, g: GuestId) -> Vec<Message> {
        self.node()
            .guest_items(g)
            .iter()
            .map(|item| match item {
                GuestItem::Message(m) => m.clone(),
                GuestItem::Sealed(_) => {
                    panic!("a sealed frame, but the lab's stations open their own")
                }
            })
            .collect()
    }

    pub fn take(&mut self, g: GuestId) -> Vec<Message> {
        self.node_mut().take_guest_messages(g)
    }

    /// Steps the world until `f` holds; panics (with the seed) after `limit` of virtual time.
    pub fn drive_until(&mut self, limit: Duration, mut f: impl FnMut(&Lab) -> bool) {
        let deadline = self.world.now() + limit;
        let mut last = (self.world.now(), 0u32);
        while !f(self) {
            // Many events without time passing: a livelock.
            if last.0 == self.world.now() {
                last.1 += 1;
            } else {
                last = (self.world.now(), 0);
            }
            if last.1 > 100_000 {
                self.dump();
                panic!("livelock at {:?} (seed {})", last.0, self.world.seed());
            }
            if self.world.now() >= deadline {
                self.dump();
                panic!(
                    "condition not met within {limit:?} (seed {})",
                    self.world.seed()
                );
            }
            if !self.world.step() {
                panic!("world idle (seed {})", self.world.seed());
            }
        }
    }

    /// Prints every guest's state, events and counters, and the APs' stations.
    pub fn dump(&self) {
        eprintln!(
            "--- lab at {:?}, radio on {:?}",
            self.world.now(),
            self.mux().tuned()
        );
        for g in self.mux().guests().collect::<Vec<_>>() {
            let st = self.mux().station(g).unwrap();
            let events: Vec<_> = self
                .messages(g)
                .into_iter()
                .filter(|m| !matches!(m, Message::Data(_)))
                .collect();
            eprintln!(
                "guest {g:?} {} {:?} bss {:?} on {:?} wants {:?} failure {:?}\n  stats {:?}\n  counters {:?}\n  messages {events:?}",
                st.mac(),
                st.state(),
                st.bssid(),
                st.current_channel(),
                st.wanted_channel(),
                st.failure(),
                st.stats(),
                self.counters(g),
            );
        }
        for (i, _) in self.aps.iter().enumerate() {
            let ap = self.ap(i);
            eprintln!("AP {} counters {:?}", ap.bssid(), ap.counters());
            for s in ap.stations() {
                eprintln!("  {:?}", s);
            }
        }
        eprintln!("mux stats {:?}", self.mux().stats());
    }

    /// Like [`Lab::drive_until`] for conditions too costly to check after every event:
    /// checks `f` every `every` of virtual time.
    pub fn drive_coarse(
        &mut self,
        limit: Duration,
        every: Duration,
        mut f: impl FnMut(&Lab) -> bool,
    ) {
        let deadline = self.world.now() + limit;
        while !f(self) {
            if self.world.now() >= deadline {
                self.dump();
                panic!(
                    "condition not met within {limit:?} (seed {})",
                    self.world.seed()
                );
            }
            self.world.run_for(every);
        }
    }

    /// Runs the world for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.world.run_for(d);
    }

    /// Runs the world for `d`, collecting what AP `i` sends to its uplink (polled every
    /// 10 ms of virtual time: touching a node makes the medium service it).
    pub fn collect_uplink(&mut self, i: usize, d: Duration) -> Vec<EthernetFrame> {
        let until = self.world.now() + d;
        let mut out = Vec::new();
        while self.world.now() < until {
            let step = Duration::from_millis(10).min(until - self.world.now());
            self.world.run_for(step);
            out.extend(self.drain_uplink(i));
        }
        out
    }

    pub fn connected(&self, g: GuestId) -> bool {
        self.state(g) == StationState::Connected
    }

    pub fn failure(&self, g: GuestId) -> Option<ConnectFailure> {
        self.messages(g).iter().find_map(|m| match m {
            Message::Event(Event::ConnectFailed { reason }) => Some(*reason),
            _ => None,
        })
    }

    pub fn data_received(&self, g: GuestId) -> Vec<EthernetFrame> {
        self.messages(g)
            .iter()
            .filter_map(|m| match m {
                Message::Data(b) => EthernetFrame::parse_bytes(b).ok(),
                _ => None,
            })
            .collect()
    }

    /// Everything AP `i` has sent to its uplink since the last call.
    pub fn drain_uplink(&mut self, i: usize) -> Vec<EthernetFrame> {
        let ap = self.ap_mut(i);
        std::iter::from_fn(|| ap.poll_uplink()).collect()
    }

    /// Power-cycles AP `i` in place: a fresh AP with the same configuration (new GTK, no
    /// stations, no keys, beacons from now), as after a reboot. Nobody is deauthenticated.
    pub fn restart_ap(&mut self, i: usize) {
        self.restarts += 1;
        let now = self.world.now();
        let seed = self.world.seed() ^ (0x5eed_0000 + self.restarts);
        let ap = self.ap_mut(i);
        let cfg = ap.config().clone();
        *ap = SoftAp::new(cfg, now, seed).unwrap();
    }

    /// Replaces AP `i` by one with the same configuration but `security` (a WPA3 or
    /// transition network), before any guest joins it.
    pub fn set_security(&mut self, i: usize, security: ApSecurity) {
        let now = self.world.now();
        let seed = self.world.seed() ^ (0x5ec0_0000 + i as u64);
        let ap = self.ap_mut(i);
        let mut cfg = ap.config().clone();
        cfg.security = security;
        *ap = SoftAp::new(cfg, now, seed).unwrap();
    }

    /// Moves AP `i` to `at`: far away, it is off the air for the host.
    pub fn move_ap(&mut self, i: usize, at: (f64, f64)) {
        let id = self.aps[i];
        self.world
            .medium_mut()
            .set_position(id, Placement::at(at.0, at.1).position)
            .unwrap();
    }
}

/// Marks the frames of a goodput measurement.
const GOODPUT_TAG: u8 = 0x6b;

impl Lab {
    /// Goodput under saturation: each `(guest, ap)` in `senders` sends frames of `payload`
    /// bytes to its AP's uplink, keeping at most `window` frames outstanding (sent and not yet
    /// out of the uplink), for `duration` of virtual time. Returns the frames per second of
    /// virtual time that left each sender's uplink.
    pub fn goodput(
        &mut self,
        senders: &[(GuestId, usize)],
        payload: usize,
        window: usize,
        duration: Duration,
    ) -> Vec<f64> {
        let macs: Vec<MacAddr> = senders.iter().map(|(g, _)| self.mac(*g)).collect();
        let mut body = vec![0u8; payload.max(1)];
        body[0] = GOODPUT_TAG;
        let frames: Vec<Message> = macs
            .iter()
            .map(|m| tagged_frame(*m, UPLINK_PEER, &body))
            .collect();
        let mut sent = vec![0usize; senders.len()];
        let mut got = vec![0usize; senders.len()];
        let until = self.world.now() + duration;
        while self.world.now() < until {
            for (i, (g, _)) in senders.iter().enumerate() {
                while sent[i] - got[i].min(sent[i]) < window {
                    self.send(*g, frames[i].clone());
                    sent[i] += 1;
                }
            }
            self.world.run_for(Duration::from_millis(1));
            for (i, (_, ap)) in senders.iter().enumerate() {
                let out = self.drain_uplink(*ap);
                got[i] += out
                    .iter()
                    .filter(|f| f.src == macs[i] && f.payload.first() == Some(&GOODPUT_TAG))
                    .count();
            }
        }
        let secs = duration.as_secs_f64();
        got.iter().map(|n| *n as f64 / secs).collect()
    }
}

/// An IPv4-ish frame from `src` to `dst` whose payload starts with `tag`.
pub fn ip_frame(src: MacAddr, dst: MacAddr, tag: u8) -> Message {
    tagged_frame(src, dst, &[0x45, tag, 0, 20, 1, 2, 3, 4])
}

/// An IPv4 frame from `src` to `dst` with this payload.
pub fn tagged_frame(src: MacAddr, dst: MacAddr, payload: &[u8]) -> Message {
    let eth = EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::copy_from_slice(payload),
    };
    let mut out = Vec::new();
    eth.emit(&mut out);
    Message::Data(out.into())
}
