//! The driver: the tokio tasks that run the simulated world in real time and serve guests.
//!
//! Like quinn's `ConnectionDriver`, one task ([`Driver::run`]) owns the sans-IO state (the
//! [`SimWorld`]: medium, APs, the Mux as the host's radio) and is the only one to touch it.
//! Each turn it
//! 1. advances the world to the clock's `now` ([`TokioClock`]: time since the daemon started,
//!    as a [`vwifi_core::Instant`]), bridging the APs' uplinks;
//! 2. hands every message the Mux produced for a guest to that guest's bounded outbox
//!    (`try_send`: a guest whose outbox is full loses the message, counted as
//!    `link_queue_full`; the loop never waits for a guest);
//! 3. sleeps until the medium's next event, a [`Command`], or shutdown.
//!
//! Around it:
//! - [`accept_guests`]: accepts links on the guests' socket; each link is one guest, admitted
//!   through the driver and served by its own task ([`serve_guest`]);
//! - [`serve_guest`]: reads the guest's messages into the driver, writes its outbox to the link.
//!   A malformed message is answered with its `error_reply` and the link goes on; a fatal link
//!   error (closed, framing lost, write timeout) ends only this guest: the driver removes it
//!   from the Mux at once;
//! - [`serve_control`]: the control socket ([`crate::control`]).
//!
//! On shutdown the driver tells every guest `Event::Disconnected { reason: 3, locally_generated:
//! true }` (IEEE 802.11 reason 3: the station is leaving), removes it from the Mux (a connected
//! station sends its deauthentication), lets the air carry the last frames, and drops the
//! outboxes: each guest task writes what is left and closes its link.

use core::time::Duration;
use std::collections::BTreeMap;
use std::future::pending;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use vwifi_core::demux::{DropReason, GuestId};
use vwifi_core::io::{Clock, LinkError, PeerInfo};
use vwifi_core::mux::{AdmitError, GuestConfig};
use vwifi_core::proto::{
    Credentials, ErrorCode, Event, Message, RequestId, Ssid, StationState, MAX_AGENT_NAME_LEN,
};
use vwifi_core::{Instant, MacAddr};
use vwifi_transport_unix::{PeerPolicy, UnixGuestListener, UnixLink};

use crate::control::{
    self, ApSnapshot, Attachment, GuestSnapshot, RadioSnapshot, Request, Response, Snapshot,
    MAX_REQUEST_LEN, SNAPSHOT_VERSION,
};
use crate::netns::TapShared;
use crate::nl80211::Nl80211Radio;
use crate::state::{Profile, StateError, StateStore};
use crate::world::SimWorld;

/// The request id of the connection a restarted daemon asks for on a namespace's behalf (its
/// acknowledgement goes to the TAP, where nobody waits for it).
const RESTORE_REQUEST_ID: u32 = 0x7666_0001;

/// IEEE 802.11 reason code 3: deauthenticated because the sending station is leaving.
pub(crate) const REASON_LEAVING: u16 = 3;

/// How long the air runs after the last guests were removed, so their deauthentications go out.
const SHUTDOWN_AIR_TIME: Duration = Duration::from_millis(50);

/// The most commands handled in one turn of the driver before the world advances: a port's
/// batch of frames goes to the Mux together (well under the Mux's per-guest data queue, so a
/// batch from one guest does not overflow it before the world moves).
const COMMAND_BATCH: usize = 64;

/// How long a refused guest or a dying link gets to take its last message.
const LAST_WORD_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a control client gets to send its request.
const CONTROL_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The clock of the daemon: tokio's monotonic time since `start`, as core [`Instant`]s.
/// Under `tokio::time::pause` it follows tokio's virtual time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose zero is now.
    pub(crate) fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        let us = self.start.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    async fn sleep_until(&self, deadline: Instant) {
        let at = self
            .start
            .checked_add(Duration::from_micros(deadline.as_micros()));
        match at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => pending().await,
        }
    }
}

/// The radio the driver runs: the simulated world, or a real card through nl80211.
// One per daemon, built once and never moved on a hot path: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum World {
    /// The simulated medium, its APs and the Mux as the host's radio.
    Sim(SimWorld),
    /// A real card ([`crate::nl80211`]): the kernel's MLME, one interface per station.
    Nl80211(Nl80211Radio),
}

impl From<SimWorld> for World {
    fn from(w: SimWorld) -> Self {
        Self::Sim(w)
    }
}

impl World {
    fn admit(&mut self, cfg: GuestConfig) -> Result<GuestId, AdmitError> {
        match self {
            Self::Sim(w) => w.admit(cfg),
            Self::Nl80211(r) => r.admit(cfg),
        }
    }

    fn station_mac(&self, guest: GuestId) -> Option<MacAddr> {
        match self {
            Self::Sim(w) => w.mux().and_then(|m| m.station(guest)).map(|s| s.mac()),
            Self::Nl80211(r) => r.station_mac(guest),
        }
    }

    fn remove(&mut self, now: Instant, guest: GuestId) {
        match self {
            Self::Sim(w) => w.remove(now, guest),
            Self::Nl80211(r) => r.remove(guest),
        }
    }

    fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message) {
        match self {
            Self::Sim(w) => w.guest_message(now, guest, msg),
            Self::Nl80211(r) => r.guest_message(guest, msg),
        }
    }

    fn take_guest_messages(&mut self, guest: GuestId) -> Vec<Message> {
        match self {
            Self::Sim(w) => w.take_guest_messages(guest),
            Self::Nl80211(r) => r.take_guest_messages(guest),
        }
    }

    fn advance(&mut self, now: Instant) {
        if let Self::Sim(w) = self {
            w.advance(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Sim(w) => w.poll_timeout(),
            Self::Nl80211(_) => None,
        }
    }

    fn run_for(&mut self, span: Duration) {
        if let Self::Sim(w) = self {
            w.run_for(span);
        }
    }

    fn mux(&self) -> Option<&vwifi_core::mux::Mux> {
        match self {
            Self::Sim(w) => w.mux(),
            Self::Nl80211(_) => None,
        }
    }

    /// The simulated world, if that is the radio (hwsim and the uplink TAP join it).
    fn sim(&self) -> Option<&SimWorld> {
        match self {
            Self::Sim(w) => Some(w),
            Self::Nl80211(_) => None,
        }
    }

    /// [`World::sim`], mutably.
    fn sim_mut(&mut self) -> Option<&mut SimWorld> {
        match self {
            Self::Sim(w) => Some(w),
            Self::Nl80211(_) => None,
        }
    }
}

/// The next message a real radio's stations have for a guest (never, on the simulated radio).
async fn radio_event(
    rx: &mut Option<mpsc::Receiver<(GuestId, Message)>>,
) -> Option<(GuestId, Message)> {
    match rx {
        Some(rx) => rx.recv().await,
        None => pending().await,
    }
}

/// What the other tasks ask of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// A new link: admit its guest.
    Admit {
        /// Who connected.
        peer: PeerInfo,
        /// The guest, or why it was refused.
        reply: oneshot::Sender<Result<Admitted, AdmitError>>,
    },
    /// A message from a guest.
    Guest {
        /// The guest.
        guest: GuestId,
        /// Its message.
        msg: Message,
    },
    /// A guest's link ended.
    Gone {
        /// The guest.
        guest: GuestId,
    },
    /// `attach --netns`: admit the station of a network namespace (named `netns:NAME`).
    AdmitNetns {
        /// The namespace.
        netns: String,
        /// What the driver shares with the TAP's task (set on `detach`: the interface is
        /// deleted; counters of what the task dropped).
        shared: Arc<TapShared>,
        /// The guest and its station's address, or why not (already attached, radio full).
        reply: oneshot::Sender<Result<(Admitted, MacAddr), String>>,
    },
    /// A namespace's TAP is up and served: record the attachment, and rejoin the network
    /// recorded for it (after a restart).
    Attached {
        /// The guest.
        guest: GuestId,
        /// The namespace.
        netns: String,
        /// The interface in it.
        ifname: String,
    },
    /// `vhost-user`: admit the station of a VM named `name` (`vm:NAME`), unless a guest of
    /// that name is served already.
    AdmitNamed {
        /// The guest's name.
        name: String,
        /// The guest and its station's address, or why not.
        reply: oneshot::Sender<Result<(Admitted, MacAddr), String>>,
    },
    /// `detach --netns`: remove the station of a network namespace (its TAP goes with it).
    Detach {
        /// The namespace.
        netns: String,
        /// The guest removed, or why not.
        reply: oneshot::Sender<Result<GuestId, String>>,
    },
    /// A frame from the uplink TAP (the wired side of the APs' bridge).
    Wired {
        /// The Ethernet frame.
        frame: bytes::Bytes,
    },
    /// The state, for the control socket.
    Snapshot {
        /// Where to send it.
        reply: oneshot::Sender<Snapshot>,
    },
}

/// A guest admitted by the driver.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Its id in the Mux.
    pub(crate) guest: GuestId,
    /// Its name.
    pub(crate) name: String,
    /// The messages to write to its link.
    pub(crate) outbox: mpsc::Receiver<Message>,
}

/// What the daemon did, logged at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    /// Guests admitted since the start.
    pub(crate) guests_served: u64,
    /// Guests connected at shutdown (told and removed).
    pub(crate) guests_at_shutdown: usize,
    /// Frames the radio transmitted.
    pub(crate) tx_frames: u64,
    /// Frames the radio received.
    pub(crate) rx_frames: u64,
    /// How long the daemon ran.
    pub(crate) uptime: Duration,
}

#[derive(Debug)]
struct GuestEntry {
    name: String,
    agent: Option<String>,
    peer: PeerInfo,
    outbox: mpsc::Sender<Message>,
    /// The network namespace it serves, if attached with `attach --netns`.
    netns: Option<String>,
    /// Shared with the TAP's task, if attached with `attach --netns`.
    tap: Option<Arc<TapShared>>,
    /// The connection last asked for, until its outcome (netns guests: recorded on success).
    pending: Option<PendingConnect>,
    /// Messages dropped because the outbox was full: data frames, and replies or events.
    link_data_dropped: u64,
    link_control_dropped: u64,
}

/// A connection a guest (or the restart) asked for, waiting for its outcome.
#[derive(Debug)]
struct PendingConnect {
    ssid: Ssid,
    credentials: Credentials,
    /// Asked by the daemon itself after a restart: a failure keeps the recorded profile.
    restored: bool,
}

/// The task that owns the world. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Driver {
    world: World,
    clock: TokioClock,
    guests: BTreeMap<GuestId, GuestEntry>,
    link_queue: usize,
    connections: u64,
    /// The persistent state (attachments, profiles), if the daemon has a state directory.
    state: Option<StateStore>,
    /// Frames for the uplink TAP's task, if there is one.
    wired: Option<mpsc::Sender<bytes::Bytes>>,
    /// The kernel's hwsim radios, when vwifi is their medium.
    hwsim: Option<crate::hwsim::Hwsim>,
}

impl Driver {
    /// A driver of `world` on `clock`, with outboxes of `link_queue` messages.
    pub(crate) fn new(world: impl Into<World>, clock: TokioClock, link_queue: usize) -> Self {
        Self {
            world: world.into(),
            clock,
            guests: BTreeMap::new(),
            link_queue: link_queue.max(1),
            connections: 0,
            state: None,
            wired: None,
            hwsim: None,
        }
    }

    /// Plugs the uplink TAP's task into the bridge: frames for it go to `wired`.
    pub(crate) fn with_wired(mut self, wired: mpsc::Sender<bytes::Bytes>) -> Self {
        if let Some(w) = self.world.sim_mut() {
            w.enable_wired_port();
        }
        self.wired = Some(wired);
        self
    }

    /// Keeps attachments and profiles in `state` (see [`crate::state`]).
    pub(crate) fn with_state(mut self, state: Option<StateStore>) -> Self {
        self.state = state;
        self
    }

    /// Registers as the medium of the kernel's hwsim radios (see [`crate::hwsim`]).
    pub(crate) async fn start_hwsim(
        &mut self,
        cfg: crate::hwsim::HwsimSection,
        tx_power_dbm: f64,
    ) -> Result<(), crate::hwsim::HwsimError> {
        let now = self.clock.now();
        let world = self
            .world
            .sim_mut()
            .ok_or(crate::hwsim::HwsimError::NeedsSimRadio)?;
        let h = crate::hwsim::Hwsim::start(cfg, tx_power_dbm, world, now).await?;
        self.hwsim = Some(h);
        Ok(())
    }

    /// Runs until `shutdown` turns true (or every command sender is gone), then shuts down
    /// gracefully and returns what it did.
    pub(crate) async fn run(
        mut self,
        mut cmds: mpsc::Receiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Summary {
        let clock = self.clock;
        let mut radio_events = match &mut self.world {
            World::Nl80211(r) => r.take_events(),
            World::Sim(_) => None,
        };
        loop {
            let now = clock.now();
            self.world.advance(now);
            self.deliver();
            if let (Some(h), Some(w)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
                h.flush(w);
            }
            let next = self.world.poll_timeout();
            let sleep = async move {
                match next {
                    Some(t) => clock.sleep_until(t).await,
                    None => pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        self.handle(cmd);
                        // Take what else is queued in the same turn (a port's batch), then
                        // advance the world once for all of it.
                        for _ in 1..COMMAND_BATCH {
                            let Ok(cmd) = cmds.try_recv() else { break };
                            self.handle(cmd);
                        }
                    }
                    None => break,
                },
                r = crate::hwsim::recv(&mut self.hwsim) => self.handle_hwsim(r),
                ev = radio_event(&mut radio_events) => match (ev, &mut self.world) {
                    (Some((guest, msg)), World::Nl80211(r)) => {
                        r.push_event(guest, msg);
                        // Take what else is there in one turn.
                        if let Some(rx) = radio_events.as_mut() {
                            for _ in 0..256 {
                                let Ok((g, m)) = rx.try_recv() else { break };
                                r.push_event(g, m);
                            }
                        }
                    }
                    _ => radio_events = None,
                },
                () = sleep => {}
            }
        }
        self.shut_down()
    }

    /// Messages from the kernel's hwsim radios, or the end of their socket: then the kernel
    /// radios are let go (closing the socket hands them back to the kernel's own medium).
    fn handle_hwsim(
        &mut self,
        r: Result<
            Vec<Result<crate::hwsim::msg::FromKernel, crate::hwsim::msg::MsgError>>,
            crate::hwsim::HwsimError,
        >,
    ) {
        let now = self.clock.now();
        let Some(world) = self.world.sim_mut() else {
            return;
        };
        match (r, self.hwsim.as_mut()) {
            (Ok(msgs), Some(h)) => h.handle(world, now, msgs),
            (Err(e), Some(h)) => {
                tracing::error!(error = %error_chain(&e), "hwsim: the kernel's radios are lost");
                h.log_summary(world);
                self.hwsim = None;
            }
            (_, None) => {}
        }
    }

    fn handle(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::Admit { peer, reply } => {
                let result = self.admit(peer);
                if let Err(Ok(adm)) = reply.send(result) {
                    // The acceptor gave up on this link: forget the guest again.
                    self.remove(now, adm.guest, "link gone before admission");
                }
            }
            Command::Guest { guest, msg } => {
                let Some(entry) = self.guests.get_mut(&guest) else {
                    return;
                };
                match &msg {
                    Message::Hello { agent, .. } => {
                        entry.agent = Some(printable(agent, MAX_AGENT_NAME_LEN));
                    }
                    Message::Connect {
                        ssid, credentials, ..
                    } => {
                        entry.pending = Some(PendingConnect {
                            ssid: *ssid,
                            credentials: credentials.clone(),
                            restored: false,
                        });
                    }
                    Message::Disconnect { .. } => {
                        entry.pending = None;
                        if let Some(netns) = entry.netns.clone() {
                            self.record(|s| s.set_profile(&netns, None));
                        }
                    }
                    _ => {}
                }
                self.world.guest_message(now, guest, msg);
            }
            Command::Gone { guest } => {
                if let Some(netns) = self.guests.get(&guest).and_then(|e| e.netns.clone()) {
                    self.record(|s| s.detached(&netns));
                }
                self.remove(now, guest, "link ended");
            }
            Command::Attached {
                guest,
                netns,
                ifname,
            } => self.attached(now, guest, &netns, &ifname),
            Command::AdmitNetns {
                netns,
                shared,
                reply,
            } => {
                let result = self.admit_netns(&netns, shared);
                if let Err(Ok((adm, _))) = reply.send(result) {
                    self.remove(now, adm.guest, "attach abandoned");
                }
            }
            Command::AdmitNamed { name, reply } => {
                let result = self.admit_named(name);
                if let Err(Ok((adm, _))) = reply.send(result) {
                    self.remove(now, adm.guest, "attach abandoned");
                }
            }
            Command::Detach { netns, reply } => {
                let found = self
                    .guests
                    .iter()
                    .find(|(_, e)| e.netns.as_deref() == Some(netns.as_str()))
                    .map(|(&id, _)| id);
                let result = match found {
                    Some(id) => {
                        if let Some(tap) = self.guests.get(&id).and_then(|e| e.tap.as_ref()) {
                            tap.detach.store(true, Ordering::Relaxed);
                        }
                        self.record(|s| s.detached(&netns));
                        self.remove(now, id, "detached");
                        Ok(id)
                    }
                    None => Err(format!("the network namespace {netns:?} is not attached")),
                };
                let _ = reply.send(result);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::Wired { frame } => {
                match vwifi_core::wire::EthernetFrame::parse_bytes(&frame) {
                    Ok(frame) => {
                        if let Some(w) = self.world.sim_mut() {
                            w.wired_input(now, frame);
                        }
                    }
                    Err(e) => {
                        tracing::trace!(error = %e, "a frame from the uplink TAP was dropped")
                    }
                }
            }
        }
    }

    /// Changes the persistent state, if any; a failure is logged (the daemon goes on).
    fn record(&mut self, change: impl FnOnce(&mut StateStore) -> Result<(), StateError>) {
        if let Some(state) = &mut self.state {
            if let Err(e) = change(state) {
                tracing::warn!(error = %error_chain(&e), "the state was not saved");
            }
        }
    }

    /// A namespace's TAP is served: record it, and rejoin its recorded network.
    fn attached(&mut self, now: Instant, guest: GuestId, netns: &str, ifname: &str) {
        self.record(|s| s.attached(netns, ifname));
        let profile = self
            .state
            .as_ref()
            .and_then(|s| s.attachments().get(netns))
            .and_then(|r| r.profile.clone());
        let Some(profile) = profile else {
            return;
        };
        let Some(entry) = self.guests.get_mut(&guest) else {
            return;
        };
        let credentials = match profile.psk {
            Some(psk) => Credentials::Psk(psk),
            None => Credentials::None,
        };
        tracing::info!(guest = guest.0, %netns, ssid = %profile.ssid, "reconnecting the station to its recorded network");
        entry.pending = Some(PendingConnect {
            ssid: profile.ssid,
            credentials: credentials.clone(),
            restored: true,
        });
        self.world.guest_message(
            now,
            guest,
            Message::Connect {
                id: RequestId(RESTORE_REQUEST_ID),
                ssid: profile.ssid,
                bssid: None,
                credentials,
            },
        );
    }

    /// Records the outcome of a netns guest's connection (before the guest hears of it).
    fn outcome(&mut self, guest: GuestId, msg: &Message) {
        let Message::Event(event) = msg else {
            return;
        };
        let Some(entry) = self.guests.get_mut(&guest) else {
            return;
        };
        let Some(netns) = entry.netns.clone() else {
            return;
        };
        match event {
            Event::Connected { ssid, .. } => {
                let Some(p) = entry.pending.take_if(|p| p.ssid == *ssid) else {
                    return;
                };
                let psk = match &p.credentials {
                    Credentials::None => Ok(None),
                    Credentials::Psk(psk) => Ok(Some(psk.clone())),
                    Credentials::Passphrase(pass) => {
                        vwifi_core::crypto::derive_psk(pass, ssid.as_bytes()).map(Some)
                    }
                };
                match psk {
                    Ok(psk) => {
                        self.record(|s| s.set_profile(&netns, Some(Profile { ssid: p.ssid, psk })))
                    }
                    Err(e) => tracing::warn!(%netns, error = %e, "the profile was not saved"),
                }
            }
            Event::ConnectFailed { .. } => {
                let asked_by_guest = entry.pending.take().is_some_and(|p| !p.restored);
                if asked_by_guest {
                    self.record(|s| s.set_profile(&netns, None));
                }
            }
            _ => {}
        }
    }

    fn admit(&mut self, peer: PeerInfo) -> Result<Admitted, AdmitError> {
        let n = self.connections + 1;
        // Named after the peer's process while it has one link (an agent): its station keeps
        // its address when the agent reconnects to a restarted daemon.
        let name = match peer {
            PeerInfo::Process { pid: Some(pid), .. } => {
                let stable = format!("pid {pid}");
                if self.guests.values().any(|e| e.name == stable) {
                    format!("conn{n} pid {pid}")
                } else {
                    stable
                }
            }
            _ => format!("conn{n}"),
        };
        self.admit_as(name, peer, None, None)
    }

    /// Admits the station of the network namespace `netns`, named `netns:NAME` (so its
    /// address is the same at every attach), unless that namespace is attached already.
    fn admit_netns(
        &mut self,
        netns: &str,
        shared: Arc<TapShared>,
    ) -> Result<(Admitted, MacAddr), String> {
        if self
            .guests
            .values()
            .any(|e| e.netns.as_deref() == Some(netns))
        {
            return Err(format!(
                "the network namespace {netns:?} is attached already"
            ));
        }
        let adm = self
            .admit_as(
                format!("netns:{netns}"),
                PeerInfo::Anonymous,
                Some(netns.to_owned()),
                Some(shared),
            )
            .map_err(|e| e.to_string())?;
        let mac = self
            .world
            .station_mac(adm.guest)
            .ok_or_else(|| "the station vanished".to_owned())?;
        Ok((adm, mac))
    }

    /// Admits a guest named `name` (its address derives from the name), unless a guest of
    /// that name is served already.
    fn admit_named(&mut self, name: String) -> Result<(Admitted, MacAddr), String> {
        if self.guests.values().any(|e| e.name == name) {
            return Err(format!("a guest named {name:?} is served already"));
        }
        let adm = self
            .admit_as(name, PeerInfo::Anonymous, None, None)
            .map_err(|e| e.to_string())?;
        let mac = self
            .world
            .mux()
            .and_then(|m| m.station(adm.guest))
            .map(|s| s.mac())
            .ok_or_else(|| "the station vanished".to_owned())?;
        Ok((adm, mac))
    }

    fn admit_as(
        &mut self,
        name: String,
        peer: PeerInfo,
        netns: Option<String>,
        tap: Option<Arc<TapShared>>,
    ) -> Result<Admitted, AdmitError> {
        let guest = self.world.admit(GuestConfig {
            name: name.clone(),
            mac: None,
        })?;
        self.connections += 1;
        let (tx, rx) = mpsc::channel(self.link_queue);
        let mac = self
            .world
            .station_mac(guest)
            .map(|m| m.to_string())
            .unwrap_or_default();
        tracing::info!(guest = guest.0, %name, %peer, %mac, "guest admitted");
        self.guests.insert(
            guest,
            GuestEntry {
                name: name.clone(),
                agent: None,
                peer,
                outbox: tx,
                netns,
                tap,
                pending: None,
                link_data_dropped: 0,
                link_control_dropped: 0,
            },
        );
        Ok(Admitted {
            guest,
            name,
            outbox: rx,
        })
    }

    fn remove(&mut self, now: Instant, guest: GuestId, why: &str) {
        if let Some(entry) = self.guests.remove(&guest) {
            tracing::info!(guest = guest.0, name = %entry.name, reason = why, "guest removed");
        }
        self.world.remove(now, guest);
    }

    /// Moves the Mux's messages for each guest into its outbox, never waiting.
    fn deliver(&mut self) {
        if let Some(wired) = &self.wired {
            let frames = self
                .world
                .sim_mut()
                .map(SimWorld::take_wired)
                .unwrap_or_default();
            for frame in frames {
                let mut out = Vec::with_capacity(frame.buffer_len());
                frame.emit(&mut out);
                if wired.try_send(out.into()).is_err() {
                    tracing::trace!("uplink TAP queue full: frame dropped");
                }
            }
        }
        let ids: Vec<GuestId> = self.guests.keys().copied().collect();
        for id in ids {
            let msgs = self.world.take_guest_messages(id);
            for msg in &msgs {
                self.outcome(id, msg);
            }
            let Some(entry) = self.guests.get_mut(&id) else {
                continue;
            };
            for msg in msgs {
                let data = matches!(msg, Message::Data(_));
                match entry.outbox.try_send(msg) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        if data {
                            entry.link_data_dropped += 1;
                        } else {
                            entry.link_control_dropped += 1;
                        }
                        tracing::trace!(
                            guest = id.0,
                            data,
                            "guest link queue full: message dropped"
                        );
                    }
                    // The guest's task ended; its `Gone` is on the way.
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
    }

    fn shut_down(mut self) -> Summary {
        let now = self.clock.now();
        self.world.advance(now);
        self.deliver();
        if let (Some(h), Some(w)) = (&self.hwsim, self.world.sim()) {
            h.log_summary(w);
        }
        let ids: Vec<GuestId> = self.guests.keys().copied().collect();
        let at_shutdown = ids.len();
        for id in ids {
            if let Some(entry) = self.guests.get(&id) {
                let bye = Message::Event(Event::Disconnected {
                    reason: REASON_LEAVING,
                    locally_generated: true,
                });
                if entry.outbox.try_send(bye).is_err() {
                    tracing::debug!(guest = id.0, "could not tell the guest: its queue is full");
                }
            }
            self.remove(now, id, "daemon shutting down");
        }
        // Carry the deauthentications onto the air.
        self.world.run_for(SHUTDOWN_AIR_TIME);
        let stats = self.world.mux().map(|m| *m.stats()).unwrap_or_default();
        Summary {
            guests_served: self.connections,
            guests_at_shutdown: at_shutdown,
            tx_frames: stats.tx_frames,
            rx_frames: stats.rx_frames,
            uptime: Duration::from_micros(now.as_micros()),
        }
    }

    /// The state of the radio, the APs and every guest.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        let world = match &self.world {
            World::Sim(w) => w,
            World::Nl80211(r) => return self.nl80211_snapshot(now, r),
        };
        let mut radio = RadioSnapshot {
            kind: "sim".into(),
            ..RadioSnapshot::default()
        };
        let bridge = world.bridge();
        radio.bridge_forwarded = bridge.forwarded;
        radio.bridge_flooded = bridge.flooded;
        radio.bridge_no_route = bridge.no_route;
        let mut guests = Vec::new();
        if let Some(mux) = world.mux() {
            let st = mux.stats();
            radio.channel = mux.tuned().map(|c| c.number());
            radio.rx_frames = st.rx_frames;
            radio.rx_routed = st.rx_routed;
            radio.tx_frames = st.tx_frames;
            radio.tunes = st.tunes;
            radio.rx_not_listening = st.rx_not_listening;
            radio.tx_off_channel = st.tx_off_channel;
            radio.rx_dropped = DropReason::ALL
                .iter()
                .map(|r| (drop_reason_name(*r).to_owned(), mux.demux().dropped(*r)))
                .collect();
            for (&id, entry) in &self.guests {
                let Some(report) = mux.report(id) else {
                    continue;
                };
                let s = &report.status;
                let c = &report.counters;
                guests.push(guest_snapshot(
                    id,
                    entry,
                    s,
                    vec![
                        ("bad_message".into(), c.bad_messages),
                        ("spoofed".into(), c.spoofed),
                        ("tx_dropped".into(), c.tx_dropped),
                        ("rx_dropped".into(), s.counters.rx_dropped),
                        ("rx_queue_full".into(), c.rx_queue_full),
                        ("control_dropped".into(), c.control_dropped),
                        ("link_queue_full".into(), entry.link_data_dropped),
                        ("link_control_dropped".into(), entry.link_control_dropped),
                    ],
                ));
                if let (Some(tap), Some(g)) = (&entry.tap, guests.last_mut()) {
                    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                    g.dropped.extend([
                        ("tap_spoofed".into(), n(&tap.spoofed)),
                        ("tap_not_associated".into(), n(&tap.not_associated)),
                        ("tap_bad_inband".into(), n(&tap.bad_inband)),
                        ("tap_bad_offload".into(), n(&tap.bad_offload)),
                        (
                            "tap_error_replies_suppressed".into(),
                            n(&tap.replies_suppressed),
                        ),
                    ]);
                }
            }
        }
        let aps = world
            .aps()
            .map(|ap| {
                let cfg = ap.config();
                ApSnapshot {
                    ssid: vwifi_core::proto::Ssid::new(cfg.ssid.as_bytes())
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    bssid: ap.bssid().to_string(),
                    channel: cfg.channel.number(),
                    protected: cfg.security.is_protected(),
                    stations: ap.associated_count() as u64,
                }
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            uptime_ms: now.as_micros() / 1000,
            radio,
            aps,
            guests,
        }
    }

    /// The state of a real card's radio and every guest.
    fn nl80211_snapshot(&self, now: Instant, r: &Nl80211Radio) -> Snapshot {
        let mut details = r.details();
        let ifaces: Vec<String> = self
            .guests
            .keys()
            .filter_map(|id| r.ifname(*id).map(|n| format!("{n} (guest {})", id.0)))
            .collect();
        if !ifaces.is_empty() {
            details.push(("station interfaces".into(), ifaces.join(", ")));
        }
        let radio = RadioSnapshot {
            kind: "nl80211".into(),
            details,
            ..RadioSnapshot::default()
        };
        let guests = self
            .guests
            .iter()
            .filter_map(|(&id, entry)| {
                let s = r.status(id)?;
                Some(guest_snapshot(
                    id,
                    entry,
                    &s,
                    vec![
                        ("tx_dropped".into(), s.counters.tx_dropped),
                        ("rx_dropped".into(), s.counters.rx_dropped),
                        ("link_queue_full".into(), entry.link_data_dropped),
                        ("link_control_dropped".into(), entry.link_control_dropped),
                    ],
                ))
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            uptime_ms: now.as_micros() / 1000,
            radio,
            aps: Vec::new(),
            guests,
        }
    }
}

/// The name of a station state in the status.
/// One guest's row of the status: who it is (the driver's entry) and its station's `status`,
/// with the radio's own drop counters.
fn guest_snapshot(
    id: GuestId,
    entry: &GuestEntry,
    s: &vwifi_core::proto::StationStatus,
    dropped: Vec<(String, u64)>,
) -> GuestSnapshot {
    GuestSnapshot {
        id: id.0,
        name: entry.name.clone(),
        agent: entry.agent.clone(),
        peer: entry.peer.to_string(),
        mac: s.mac.to_string(),
        state: state_name(s.state),
        ssid: s.ssid.as_ref().map(ToString::to_string),
        bssid: s.bssid.map(|b| b.to_string()),
        channel: s.channel,
        signal_dbm: s.signal_dbm,
        rate_kbps: s.tx_rate_kbps,
        rx_packets: s.counters.rx_packets,
        rx_bytes: s.counters.rx_bytes,
        tx_packets: s.counters.tx_packets,
        tx_bytes: s.counters.tx_bytes,
        dropped,
    }
}

pub(crate) fn state_name(s: StationState) -> String {
    match s {
        StationState::Idle => "idle".into(),
        StationState::Scanning => "scanning".into(),
        StationState::Authenticating => "authenticating".into(),
        StationState::Associating => "associating".into(),
        StationState::Handshaking => "handshaking".into(),
        StationState::Connected => "connected".into(),
        StationState::Failed => "failed".into(),
        StationState::Other(code) => format!("state {code}"),
    }
}

fn drop_reason_name(r: DropReason) -> &'static str {
    match r {
        DropReason::Malformed => "malformed",
        DropReason::Control => "control",
        DropReason::UnknownReceiver => "unknown_receiver",
        DropReason::ForeignBss => "foreign_bss",
        DropReason::NoMemberOfBss => "no_member_of_bss",
        DropReason::FourAddress => "four_address",
        DropReason::ToDs => "to_ds",
    }
}

/// `text` cut to `max` bytes with control characters replaced, for logs and the status.
fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Accepts guests until shutdown; returns the guests' tasks, still running, to be awaited.
pub(crate) async fn accept_guests(
    mut listener: UnixGuestListener,
    cmds: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            r = listener.accept_link() => r,
        };
        while tasks.try_join_next().is_some() {}
        let mut link = match accepted {
            Ok(link) => link,
            Err(e) => {
                tracing::warn!(error = %e, "a guest could not connect");
                if matches!(e, LinkError::Accept(_)) {
                    // Out of file descriptors, say: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let (reply, answer) = oneshot::channel();
        let peer = link.peer();
        if cmds.send(Command::Admit { peer, reply }).await.is_err() {
            break;
        }
        match answer.await {
            Ok(Ok(adm)) => {
                tasks.spawn(serve_guest(
                    link,
                    adm.guest,
                    adm.name,
                    adm.outbox,
                    cmds.clone(),
                ));
            }
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "guest refused");
                let refusal = Message::Error {
                    id: None,
                    code: ErrorCode::RadioUnavailable,
                    text: Some(e.to_string()),
                };
                tasks.spawn(async move {
                    let _ = tokio::time::timeout(LAST_WORD_TIMEOUT, link.send(&refusal)).await;
                    let _ = link.close().await;
                });
            }
            Err(_) => break,
        }
    }
    tasks
}

/// What woke a guest's task.
enum Wake {
    FromGuest(Result<Message, LinkError>),
    ToGuest(Option<Message>),
}

/// Serves one guest's link: its messages to the driver, its outbox to the link.
pub(crate) async fn serve_guest(
    mut link: UnixLink,
    guest: GuestId,
    name: String,
    mut outbox: mpsc::Receiver<Message>,
    cmds: mpsc::Sender<Command>,
) {
    let why: String = loop {
        let wake = tokio::select! {
            r = link.recv() => Wake::FromGuest(r),
            m = outbox.recv() => Wake::ToGuest(m),
        };
        match wake {
            Wake::FromGuest(Ok(msg)) => {
                if cmds.send(Command::Guest { guest, msg }).await.is_err() {
                    break "the daemon is stopping".into();
                }
            }
            Wake::FromGuest(Err(e)) if !e.is_fatal() => {
                tracing::debug!(guest = guest.0, %name, error = %e, "bad message from a guest");
                if let Some(reply) = e.error_reply() {
                    if let Err(e) = link.send(&reply).await {
                        break e.to_string();
                    }
                }
            }
            Wake::FromGuest(Err(e)) => {
                if let Some(reply) = e.error_reply() {
                    let _ = tokio::time::timeout(LAST_WORD_TIMEOUT, link.send(&reply)).await;
                }
                break e.to_string();
            }
            Wake::ToGuest(Some(msg)) => {
                if let Err(e) = link.send(&msg).await {
                    break e.to_string();
                }
            }
            Wake::ToGuest(None) => {
                // The driver let the guest go (shutdown): everything queued was written.
                let _ = link.close().await;
                tracing::debug!(guest = guest.0, %name, "guest link closed");
                return;
            }
        }
    };
    tracing::info!(guest = guest.0, %name, reason = %why, "guest link ended");
    let _ = cmds.send(Command::Gone { guest }).await;
}

/// Serves the control socket until shutdown.
pub(crate) async fn serve_control(
    listener: UnixListener,
    peers: PeerPolicy,
    cmds: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            r = listener.accept() => r,
        };
        while tasks.try_join_next().is_some() {}
        match accepted {
            Ok((stream, _)) => {
                let allowed = stream
                    .peer_cred()
                    .is_ok_and(|c| peers.allows(c.uid(), c.gid()));
                if !allowed {
                    tracing::warn!("control client refused: its uid and gid are not allowed");
                    continue;
                }
                tasks.spawn(answer_control(stream, cmds.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tasks.abort_all();
}

/// Attaches the network namespace `netns`: admits its station, creates the TAP `ifname` in
/// it (on a blocking thread) and serves the TAP ([`crate::netns::serve_tap`]) on a task of
/// its own. The error is the message for the operator.
pub(crate) async fn attach(
    cmds: &mpsc::Sender<Command>,
    netns: String,
    ifname: String,
) -> Result<Attachment, String> {
    crate::netns::check_netns_name(&netns).map_err(|e| e.to_string())?;
    crate::netns::check_ifname(&ifname).map_err(|e| e.to_string())?;
    let stopping = || "the daemon is stopping".to_owned();
    let (reply, answer) = oneshot::channel();
    let shared = Arc::new(TapShared::default());
    cmds.send(Command::AdmitNetns {
        netns: netns.clone(),
        shared: Arc::clone(&shared),
        reply,
    })
    .await
    .map_err(|_| stopping())?;
    let (adm, mac) = answer.await.map_err(|_| stopping())??;
    let (ns, ifn) = (netns.clone(), ifname.clone());
    let created = tokio::task::spawn_blocking(move || crate::netns::create_tap(&ns, &ifn, mac))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| error_chain(&e)))
        .and_then(|created| {
            let crate::netns::CreatedTap {
                dev,
                id,
                index,
                rtnl,
                reopened,
            } = created;
            tun_rs::AsyncDevice::new(dev)
                .map(|tap| (tap, id, index, rtnl, reopened))
                .map_err(|e| e.to_string())
        });
    let (tap, id, index, rtnl, reopened) = match created {
        Ok(tap) => tap,
        Err(message) => {
            tracing::warn!(%netns, %ifname, error = %message, "attach failed");
            let _ = cmds.send(Command::Gone { guest: adm.guest }).await;
            return Err(message);
        }
    };
    tracing::info!(guest = adm.guest.0, %netns, %ifname, %mac, reopened, "network namespace attached");
    let ns = crate::netns::Namespace {
        name: netns.clone(),
        id,
    };
    tokio::spawn(crate::netns::serve_tap(
        tap,
        crate::netns::LinkControl::new(ns, rtnl, index, shared),
        adm.guest,
        adm.name,
        mac,
        adm.outbox,
        cmds.clone(),
    ));
    cmds.send(Command::Attached {
        guest: adm.guest,
        netns: netns.clone(),
        ifname: ifname.clone(),
    })
    .await
    .map_err(|_| stopping())?;
    Ok(Attachment {
        netns,
        ifname,
        mac: mac.to_string(),
        guest: adm.guest.0,
    })
}

/// Serves the uplink TAP: frames read from it go to the bridge, the bridge's frames for it are
/// written to it. Ends when the driver stops (or the TAP fails, logged).
pub(crate) async fn serve_uplink_tap(
    tap: tun_rs::AsyncDevice,
    name: String,
    mut frames: mpsc::Receiver<bytes::Bytes>,
    cmds: mpsc::Sender<Command>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            r = tap.recv(&mut buf) => match r {
                Ok(n) => {
                    let frame = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if cmds.send(Command::Wired { frame }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e, "uplink TAP read failed: the uplink stops");
                    return;
                }
            },
            f = frames.recv() => match f {
                Some(frame) => {
                    if let Err(e) = tap.send(&frame).await {
                        tracing::debug!(%name, error = %e, "uplink TAP write failed");
                    }
                }
                None => return,
            },
        }
    }
}

/// Creates (or takes up again) the persistent uplink TAP `name` in the daemon's namespace, up.
pub(crate) fn create_uplink_tap(name: &str) -> std::io::Result<tun_rs::AsyncDevice> {
    let dev = tun_rs::DeviceBuilder::new()
        .name(name)
        .layer(tun_rs::Layer::L2)
        .enable(true)
        .build_sync()?;
    // Its addresses (given by the host) survive a restart of the daemon.
    dev.persist()?;
    tun_rs::AsyncDevice::new(dev)
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Answers one control request.
async fn answer_control(stream: UnixStream, cmds: mpsc::Sender<Command>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let limit = u64::try_from(MAX_REQUEST_LEN).unwrap_or(u64::MAX);
    let mut reader = BufReader::new(read.take(limit));
    let read = tokio::time::timeout(CONTROL_READ_TIMEOUT, reader.read_line(&mut line)).await;
    let response = match read {
        Ok(Ok(_)) => match control::parse_request(&line) {
            Ok(Request::Attach { netns, ifname }) => {
                let ifname = ifname.unwrap_or_else(|| crate::netns::DEFAULT_IFNAME.to_owned());
                match attach(&cmds, netns, ifname).await {
                    Ok(a) => Response::Attached(a),
                    Err(message) => Response::Error { message },
                }
            }
            Ok(Request::Detach { netns }) => {
                let (reply, answer) = oneshot::channel();
                let cmd = Command::Detach {
                    netns: netns.clone(),
                    reply,
                };
                if cmds.send(cmd).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(Ok(_)) => Response::Detached { netns },
                    Ok(Err(message)) => Response::Error { message },
                    Err(_) => return,
                }
            }
            Ok(Request::VhostUser { socket, name }) => {
                match crate::vhost_user::attach(&cmds, socket.into(), name).await {
                    Ok(a) => Response::VhostUser(a),
                    Err(message) => Response::Error { message },
                }
            }
            Ok(Request::Status) => {
                let (reply, answer) = oneshot::channel();
                if cmds.send(Command::Snapshot { reply }).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(s) => Response::Status(s),
                    Err(_) => return,
                }
            }
            Err(message) => Response::Error { message },
        },
        Ok(Err(e)) => Response::Error {
            message: format!("cannot read the request: {e}"),
        },
        Err(_) => Response::Error {
            message: "no request within 5 s".into(),
        },
    };
    let Ok(mut text) = serde_json::to_string(&response) else {
        return;
    };
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostConfig;
    use vwifi_core::sim::config::SimConfig;

    fn open_world() -> SimWorld {
        let mut sim = SimConfig::demo();
        for ap in &mut sim.aps {
            ap.passphrase = None;
        }
        SimWorld::new(&sim, HostConfig::default().mux_config(), [7; 32]).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_counts_from_its_start_and_sleeps_until_a_deadline() {
        let clock = TokioClock::start();
        assert_eq!(clock.now(), Instant::ZERO);
        clock.sleep_until(Instant::from_millis(250)).await;
        assert_eq!(clock.now(), Instant::from_millis(250));
        // A deadline in the past completes at once.
        clock.sleep_until(Instant::from_millis(10)).await;
        assert_eq!(clock.now(), Instant::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_outbox_drops_that_guests_messages_and_counts_them() {
        let mut d = Driver::new(open_world(), TokioClock::start(), 1);
        let adm = d.admit(PeerInfo::Anonymous).unwrap();
        for id in 1..=3 {
            d.handle(Command::Guest {
                guest: adm.guest,
                msg: Message::StatusRequest {
                    id: vwifi_core::proto::RequestId(id),
                },
            });
        }
        d.deliver();
        let entry = &d.guests[&adm.guest];
        assert_eq!(entry.link_control_dropped, 2);
        let snap = d.snapshot();
        let dropped = &snap.guests[0].dropped;
        assert!(
            dropped.contains(&("link_control_dropped".into(), 2)),
            "{dropped:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_tells_every_guest_it_was_disconnected_and_removes_it() {
        let mut d = Driver::new(open_world(), TokioClock::start(), 8);
        let mut a = d.admit(PeerInfo::Anonymous).unwrap();
        let mut b = d.admit(PeerInfo::Anonymous).unwrap();
        assert_ne!(a.name, b.name);
        let summary = d.shut_down();
        assert_eq!(summary.guests_at_shutdown, 2);
        assert_eq!(summary.guests_served, 2);
        for outbox in [&mut a.outbox, &mut b.outbox] {
            assert_eq!(
                outbox.recv().await,
                Some(Message::Event(Event::Disconnected {
                    reason: 3,
                    locally_generated: true
                }))
            );
            // The driver let go of the outbox: the guest's task closes its link.
            assert_eq!(outbox.recv().await, None);
        }
    }

    /// Runs the world in virtual time until `outbox` yields a message `f` accepts.
    fn run_until(
        d: &mut Driver,
        outbox: &mut mpsc::Receiver<Message>,
        f: impl Fn(&Message) -> bool,
    ) {
        for _ in 0..200_000 {
            let next = d.world.poll_timeout().expect("the world never goes idle");
            d.world.advance(next);
            d.deliver();
            while let Ok(m) = outbox.try_recv() {
                if f(&m) {
                    return;
                }
            }
        }
        panic!("the awaited message never came");
    }

    #[tokio::test(start_paused = true)]
    async fn a_namespaces_network_is_recorded_when_joined_and_forgotten_on_disconnect() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open(dir.path()).unwrap();
        let mut d = Driver::new(open_world(), TokioClock::start(), 64).with_state(Some(state));
        let (mut adm, _) = d.admit_netns("c1", Arc::default()).unwrap();
        d.handle(Command::Attached {
            guest: adm.guest,
            netns: "c1".into(),
            ifname: "wlan0".into(),
        });
        let recorded = |d: &Driver| {
            d.state
                .as_ref()
                .and_then(|s| s.attachments().get("c1").cloned())
        };
        assert_eq!(recorded(&d).map(|r| r.profile), Some(None));
        let ssid = Ssid::new(b"vwifi-lab").unwrap();
        d.handle(Command::Guest {
            guest: adm.guest,
            msg: Message::Connect {
                id: RequestId(1),
                ssid,
                bssid: None,
                credentials: Credentials::None,
            },
        });
        run_until(&mut d, &mut adm.outbox, |m| {
            matches!(m, Message::Event(Event::Connected { .. }))
        });
        // Recorded before the guest heard of it.
        assert_eq!(
            recorded(&d).and_then(|r| r.profile),
            Some(Profile { ssid, psk: None })
        );
        d.handle(Command::Guest {
            guest: adm.guest,
            msg: Message::Disconnect { id: RequestId(2) },
        });
        assert_eq!(recorded(&d).map(|r| r.profile), Some(None));
        // A namespace whose link ends is forgotten.
        d.handle(Command::Gone { guest: adm.guest });
        assert_eq!(recorded(&d), None);
    }

    #[test]
    fn printable_cuts_and_masks_control_characters() {
        assert_eq!(printable("agent\n1", 64), "agent?1");
        assert_eq!(printable("ééé", 5), "éé");
    }
}
