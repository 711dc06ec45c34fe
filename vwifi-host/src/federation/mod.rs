//! `[federation]`: one simulated air across several daemons, over Zenoh.
//!
//! Each daemon simulates its own nodes (its APs, its guests' stations, its hwsim radios). The
//! medium hands out what they transmit ([`vwifi_core::sim::medium::Medium::poll_federated`]);
//! this module publishes each frame, encoded by [`vwifi_core::sim::federated`], on
//! `vwifi/<air>/ch/<channel>` (`6g37` for 6 GHz channel 37), and hands every frame the other daemons publish to the local
//! medium ([`vwifi_core::sim::medium::Medium::handle_remote`]), which delivers it through the
//! same path-loss, loss and airtime model from the sender's global position.
//!
//! Beside the frames, every daemon pings `vwifi/<air>/ping` twice a second ([`hello`]) and
//! answers the others' pings on `vwifi/<air>/pong/<node>`: a peer is present while it is heard
//! within `peer_timeout_ms`, and its latency is half the ping's round trip on the pinger's own
//! clock. A daemon that stops says so (`bye`); one that dies is noticed by its silence. When a
//! peer leaves or goes silent its addresses are forgotten: its APs' beacons stop, so the
//! local stations notice the loss as they would with a local AP switched off, and rejoin when
//! it is back.
//!
//! Zenoh runs in peer mode with explicit `listen`/`connect` endpoints, multicast scouting off.
//! Nothing here blocks the simulation: frames go out through a bounded queue to a publishing
//! task and come in through a bounded queue from the subscriber's callback; a full queue drops
//! the frame and counts it. The subscriber takes only other sessions' publications.

mod config;
pub(crate) mod hello;
pub(crate) mod report;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use vwifi_core::sim::federated::FederatedMessage;
use vwifi_core::sim::medium::{FederationConfig, FederationStats, RemoteOutcome};
use vwifi_core::wire::FrameView;
use vwifi_core::{Instant, MacAddr};

pub(crate) use config::FederationSection;
use hello::Hello;

use crate::api::{FederationSnapshot, PeerSnapshot};
use crate::world::SimWorld;

/// The most peers remembered; messages from more are refused and counted (a rogue publisher
/// inventing names cannot grow the table without bound).
const MAX_PEERS: usize = 256;

/// How long a remote address counts as present in the medium after its last frame.
const REMOTE_ADDRESS_LIFETIME: Duration = Duration::from_secs(3600);

/// How often a daemon pings.
const PING_INTERVAL: Duration = Duration::from_millis(500);

/// Why federation could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FederationError {
    /// A node or air name with characters other than letters, digits, `-`, `_`, `.`.
    #[error(
        "federation.{what} {name:?}: use 1 to 64 letters, digits, '-', '_' or '.' (it is part \
         of Zenoh key expressions)"
    )]
    Name {
        /// `node` or `air`.
        what: &'static str,
        /// The name given.
        name: String,
    },
    /// Neither `listen` nor `connect`.
    #[error("federation needs listen or connect endpoints (multicast scouting is off)")]
    NoEndpoints,
    /// An endpoint that is not `tcp/<address>:<port>`.
    #[error("federation endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A queue of 0 or absurdly large.
    #[error("federation.queue = {0}: use 1 to 1048576")]
    Queue(usize),
    /// A peer timeout out of range.
    #[error("federation.peer_timeout_ms = {0}: use 100 to 600000")]
    PeerTimeout(u64),
    /// A position that is not two finite coordinates within 1000 km.
    #[error("federation.position: two finite coordinates in metres, within ±1e6")]
    Position,
    /// The federation needs the simulated radio.
    #[error("federation shares the simulated air; a real radio (nl80211) has none")]
    NeedsSimRadio,
    /// Zenoh refused to start.
    #[error("zenoh session: {reason}")]
    Zenoh {
        /// Zenoh's message.
        reason: String,
    },
}

fn zenoh_err(e: impl core::fmt::Display) -> FederationError {
    FederationError::Zenoh {
        reason: e.to_string(),
    }
}

/// What came in from the other daemons.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A frame.
    Frame(FederatedMessage),
    /// A ping or pong.
    Hello(Hello),
}

/// Counters shared with the subscriber's callback and the publishing task.
#[derive(Debug, Default)]
struct Shared {
    /// Received messages dropped because the incoming queue was full.
    in_dropped: AtomicU64,
    /// Received messages that did not decode.
    malformed: AtomicU64,
    /// Messages dropped because the outgoing queue was full.
    out_dropped: AtomicU64,
    /// Publications Zenoh refused.
    publish_failed: AtomicU64,
}

/// What this daemon knows of another.
#[derive(Debug, Default)]
struct Peer {
    /// When it was last heard (ping, pong or frame), on the local clock.
    last_seen: Option<std::time::Instant>,
    present: bool,
    instance: u64,
    frames_in: u64,
    /// Frames missing from its sequence.
    seq_gaps: u64,
    next_seq: Option<u64>,
    latency: Option<Duration>,
    /// Transmitter addresses heard from it.
    addrs: BTreeSet<MacAddr>,
    /// Times its instance changed while present.
    restarts: u64,
    /// When a restart was last logged.
    restart_logged: Option<std::time::Instant>,
}

/// The daemon's side of a federated air. See the [module documentation](self).
pub(crate) struct Federation {
    node: String,
    air: String,
    instance: u64,
    peer_timeout: Duration,
    /// Where the host's radio stands, if configured.
    position: Option<[f64; 2]>,
    started: std::time::Instant,
    out: mpsc::Sender<(String, Vec<u8>)>,
    incoming: mpsc::Receiver<Incoming>,
    shared: Arc<Shared>,
    seq: u64,
    nonce: u64,
    peers: BTreeMap<String, Peer>,
    ticker: tokio::time::Interval,
    frames_out: u64,
    /// Frames refused because their origin is this daemon's own name.
    name_clashes: u64,
    /// Messages refused because [`MAX_PEERS`] peers are known.
    refused_peers: u64,
    /// Addresses already reported as clashing (each is logged once).
    clashing: BTreeSet<MacAddr>,
    /// Keeps the subscription (and with it the session) alive.
    _subscriber: zenoh::pubsub::Subscriber<()>,
}

impl core::fmt::Debug for Federation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Federation")
            .field("node", &self.node)
            .field("air", &self.air)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

/// One event of the federation for the driver.
#[derive(Debug)]
pub(crate) enum FederationEvent {
    /// Something came in.
    Incoming(Incoming),
    /// Time to ping and to check who is still there.
    Tick,
}

impl Federation {
    /// Opens the Zenoh session of `section` (validated) and subscribes to the air.
    pub(crate) async fn open(section: &FederationSection) -> Result<Self, FederationError> {
        section.validate()?;
        let mut config = zenoh::Config::default();
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        for (key, value) in [
            ("mode", "\"peer\"".to_owned()),
            ("scouting/multicast/enabled", "false".to_owned()),
            ("listen/endpoints", json(&section.listen)),
            ("connect/endpoints", json(&section.connect)),
        ] {
            config.insert_json5(key, &value).map_err(zenoh_err)?;
        }
        let session = zenoh::open(config).await.map_err(zenoh_err)?;
        let shared = Arc::new(Shared::default());
        let (in_tx, incoming) = mpsc::channel(section.queue);
        let cb_shared = Arc::clone(&shared);
        let subscriber = session
            .declare_subscriber(format!("vwifi/{}/**", section.air))
            .allowed_origin(zenoh::sample::Locality::Remote)
            .callback(move |sample| {
                let payload = sample.payload().to_bytes();
                let parsed = if sample.key_expr().as_str().contains("/ch/") {
                    FederatedMessage::parse(&payload)
                        .map(Incoming::Frame)
                        .map_err(|_| ())
                } else {
                    Hello::parse(&payload).map(Incoming::Hello).map_err(|_| ())
                };
                match parsed {
                    Ok(msg) => {
                        if in_tx.try_send(msg).is_err() {
                            cb_shared.in_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(()) => {
                        cb_shared.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .await
            .map_err(zenoh_err)?;
        let (out, mut out_rx) = mpsc::channel::<(String, Vec<u8>)>(section.queue);
        let pub_shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Some((key, bytes)) = out_rx.recv().await {
                if session.put(key, bytes).await.is_err() {
                    pub_shared.publish_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = session.close().await;
        });
        let mut seed = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        let mut ticker = tokio::time::interval(PING_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(
            node = %section.node,
            air = %section.air,
            listen = ?section.listen,
            connect = ?section.connect,
            "federation: joined the air"
        );
        Ok(Self {
            node: section.node.clone(),
            air: section.air.clone(),
            instance: u64::from_le_bytes(seed),
            peer_timeout: section.peer_timeout(),
            position: section.position,
            started: std::time::Instant::now(),
            out,
            incoming,
            shared,
            seq: 0,
            nonce: 0,
            peers: BTreeMap::new(),
            ticker,
            frames_out: 0,
            name_clashes: 0,
            refused_peers: 0,
            clashing: BTreeSet::new(),
            _subscriber: subscriber,
        })
    }

    /// The medium's settings for this federation. Remote addresses live long in the medium
    /// (an idle station may be silent for minutes, and a unicast frame to it must still be
    /// acknowledged on its behalf): this link forgets a peer's addresses when the peer leaves.
    pub(crate) fn medium_config(&self) -> FederationConfig {
        FederationConfig {
            outbox_limit: 4096,
            address_lifetime: REMOTE_ADDRESS_LIFETIME,
        }
    }

    /// Where the host's radio stands on the shared air, if configured.
    pub(crate) fn position(&self) -> Option<[f64; 2]> {
        self.position
    }

    /// Waits for the next event.
    pub(crate) async fn next(&mut self) -> FederationEvent {
        tokio::select! {
            m = self.incoming.recv() => match m {
                Some(m) => FederationEvent::Incoming(m),
                // The callback's sender lives as long as the subscriber, which we hold.
                None => std::future::pending().await,
            },
            _ = self.ticker.tick() => FederationEvent::Tick,
        }
    }

    /// The next message already received, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<FederationEvent> {
        self.incoming.try_recv().ok().map(FederationEvent::Incoming)
    }

    fn send(&mut self, key: String, bytes: Vec<u8>) {
        if self.out.try_send((key, bytes)).is_err() {
            self.shared.out_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publishes what the local nodes transmitted since the last call.
    pub(crate) fn publish(&mut self, world: &mut SimWorld) {
        while let Some(tx) = world.poll_federated() {
            let msg = FederatedMessage {
                origin: self.node.clone(),
                seq: self.seq,
                tx,
            };
            self.seq += 1;
            match msg.to_vec() {
                Ok(bytes) => {
                    let key = format!("vwifi/{}/ch/{}", self.air, msg.tx.channel.label());
                    self.frames_out += 1;
                    self.send(key, bytes);
                }
                Err(e) => tracing::debug!(error = %e, "federation: a frame was not encodable"),
            }
        }
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Handles one event at `now` (the simulation's clock).
    pub(crate) fn handle(&mut self, world: &mut SimWorld, now: Instant, ev: FederationEvent) {
        match ev {
            FederationEvent::Tick => self.tick(world),
            FederationEvent::Incoming(Incoming::Hello(Hello::Bye { node, instance })) => {
                self.bye(world, &node, instance);
            }
            FederationEvent::Incoming(Incoming::Hello(h)) => self.hello(h),
            FederationEvent::Incoming(Incoming::Frame(msg)) => self.frame(world, now, msg),
        }
    }

    fn tick(&mut self, world: &mut SimWorld) {
        self.nonce += 1;
        let ping = Hello::Ping {
            node: self.node.clone(),
            instance: self.instance,
            nonce: self.nonce,
            sent_us: self.micros(),
        };
        self.send(
            format!("vwifi/{}/ping", self.air),
            ping.to_line().into_bytes(),
        );
        let timeout = self.peer_timeout;
        for (name, peer) in &mut self.peers {
            let silent = peer.last_seen.is_none_or(|t| t.elapsed() > timeout);
            if peer.present && silent {
                peer.present = false;
                peer.latency = None;
                peer.next_seq = None;
                tracing::warn!(
                    peer = %name,
                    nodes = peer.addrs.len(),
                    "federation: peer lost; its nodes left the air"
                );
                world.forget_remote(core::mem::take(&mut peer.addrs));
            }
        }
    }

    /// The peer `name`, marked present (a clash with this daemon's own name gives `None`).
    fn heard(&mut self, name: &str, instance: Option<u64>) -> Option<&mut Peer> {
        if name == self.node {
            self.name_clashes += 1;
            if self.name_clashes == 1 {
                tracing::error!(
                    node = %self.node,
                    air = %self.air,
                    "federation: another daemon on this air uses this daemon's node name; its \
                     frames are refused: give every daemon a unique [federation] node"
                );
            }
            return None;
        }
        if !self.peers.contains_key(name) && self.peers.len() >= MAX_PEERS {
            self.refused_peers += 1;
            return None;
        }
        let peer = self.peers.entry(name.to_owned()).or_default();
        if let Some(i) = instance {
            if peer.instance != i && peer.present {
                peer.restarts += 1;
                peer.next_seq = None;
                // At most one line a second: a rogue flipping instances cannot flood the log.
                if peer
                    .restart_logged
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
                {
                    peer.restart_logged = Some(std::time::Instant::now());
                    tracing::info!(peer = %name, restarts = peer.restarts, "federation: peer restarted");
                }
            }
            peer.instance = i;
        }
        if !peer.present {
            peer.present = true;
            tracing::info!(peer = %name, "federation: peer joined");
        }
        peer.last_seen = Some(std::time::Instant::now());
        Some(peer)
    }

    /// Tells the other daemons this one is stopping (best effort: queued for the publishing
    /// task, which sends it while the daemon drains its guests).
    pub(crate) fn leave(&mut self) {
        let bye = Hello::Bye {
            node: self.node.clone(),
            instance: self.instance,
        };
        self.send(
            format!("vwifi/{}/ping", self.air),
            bye.to_line().into_bytes(),
        );
    }

    /// A peer says it is stopping: its nodes leave the air now.
    fn bye(&mut self, world: &mut SimWorld, node: &str, instance: u64) {
        let Some(peer) = self.peers.get_mut(node) else {
            return;
        };
        if !peer.present || peer.instance != instance {
            // Not the daemon we know under that name (or gone already): nothing to forget.
            return;
        }
        peer.present = false;
        peer.latency = None;
        peer.next_seq = None;
        peer.last_seen = None;
        tracing::info!(peer = %node, nodes = peer.addrs.len(), "federation: peer left; its nodes left the air");
        world.forget_remote(core::mem::take(&mut peer.addrs));
    }

    fn hello(&mut self, h: Hello) {
        let now_us = self.micros();
        let instance = h.instance();
        let node = h.node().to_owned();
        match h {
            Hello::Ping { nonce, sent_us, .. } => {
                if self.heard(&node, Some(instance)).is_some() {
                    let pong = Hello::Pong {
                        node: self.node.clone(),
                        instance: self.instance,
                        to: node.clone(),
                        nonce,
                        sent_us,
                    };
                    self.send(
                        format!("vwifi/{}/pong/{node}", self.air),
                        pong.to_line().into_bytes(),
                    );
                }
            }
            // Handled with the world ([`Federation::bye`]).
            Hello::Bye { .. } => {}
            Hello::Pong { to, sent_us, .. } => {
                if to != self.node {
                    return;
                }
                if let Some(peer) = self.heard(&node, Some(instance)) {
                    if sent_us <= now_us {
                        peer.latency = Some(Duration::from_micros((now_us - sent_us) / 2));
                    }
                }
            }
        }
    }

    fn frame(&mut self, world: &mut SimWorld, now: Instant, msg: FederatedMessage) {
        let ta = FrameView::new_checked(&msg.tx.frame[..])
            .ok()
            .and_then(|v| v.addr2());
        let Some(peer) = self.heard(&msg.origin, None) else {
            return;
        };
        peer.frames_in += 1;
        if let Some(expected) = peer.next_seq {
            if msg.seq > expected {
                peer.seq_gaps += msg.seq - expected;
            }
        }
        peer.next_seq = Some(msg.seq.saturating_add(1));
        match world.handle_remote(now, &msg.tx) {
            RemoteOutcome::Clash { addr, .. } => {
                if self.clashing.insert(addr) {
                    tracing::error!(
                        %addr,
                        peer = %msg.origin,
                        "federation: a remote node uses the address of a local node; its \
                         frames are refused (addresses must be unique across the air)"
                    );
                }
            }
            RemoteOutcome::Delivered(_) | RemoteOutcome::Disabled => {
                if let (Some(a), Some(peer)) = (ta, self.peers.get_mut(&msg.origin)) {
                    if a.is_unicast() && peer.addrs.len() < 4096 {
                        peer.addrs.insert(a);
                    }
                }
            }
        }
    }

    /// The federation's part of the status.
    pub(crate) fn snapshot(&self, stats: FederationStats) -> FederationSnapshot {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FederationSnapshot {
            node: self.node.clone(),
            air: self.air.clone(),
            peers: self
                .peers
                .iter()
                .map(|(name, p)| PeerSnapshot {
                    name: name.clone(),
                    present: p.present,
                    latency_us: p.latency.map(|l| u64::try_from(l.as_micros()).unwrap_or(0)),
                    nodes: p.addrs.len() as u64,
                    frames_in: p.frames_in,
                    seq_gaps: p.seq_gaps,
                })
                .collect(),
            frames_out: self.frames_out,
            frames_in: stats.received,
            delivered: stats.delivered,
            remote_acked: stats.remote_acked,
            dropped: vec![
                ("outbox_full".into(), stats.outbox_dropped),
                ("out_queue_full".into(), n(&self.shared.out_dropped)),
                ("publish_failed".into(), n(&self.shared.publish_failed)),
                ("in_queue_full".into(), n(&self.shared.in_dropped)),
                ("malformed".into(), n(&self.shared.malformed)),
                ("address_clash".into(), stats.clashes),
                ("name_clash".into(), self.name_clashes),
                ("too_many_peers".into(), self.refused_peers),
            ],
        }
    }
}
