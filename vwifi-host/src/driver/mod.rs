//! The driver: the one task that runs the radio in real time for every guest.
//!
//! Like quinn's `ConnectionDriver`, one task ([`Driver::run`]) owns the sans-IO state (its
//! radio behind [`HostRadio`]: the [`SimWorld`] with its medium, APs and the Mux as the host's
//! radio, or a real card) and is the only one to touch it.
//! Each turn it
//! 1. advances the world to the clock's `now` ([`TokioClock`]: time since the daemon started,
//!    as a [`vwifi_core::Instant`]), bridging the APs' uplinks;
//! 2. hands every message the Mux produced for a guest to that guest's bounded outbox
//!    (`try_send`: the loop never waits for a guest); what does not fit waits in the guest's
//!    backlog, in order, and the guests that send to it are held back meanwhile (see below);
//! 3. sleeps until the medium's next event, a [`Command`], or shutdown (not while guests'
//!    messages are queued);
//! 4. moves the commands that came into per-guest queues (a guest's messages; anything else is
//!    handled at once) and hands the world up to [`COMMAND_BATCH`] of the queued messages, the
//!    guests served in turn by bytes ([`intake`]: one fast port cannot crowd out the others),
//!    first waiting [`ANTICIPATION`] for a guest served less lately whose queue just ran dry
//!    ([`Driver::wait_for`]).
//!
//! **Back-pressure, not loss.** A guest's data is held back in its port ([`LinkFlow::hold`]:
//! the port stops reading its TAP, socket or ring) while
//! - a guest it sends to (by the Ethernet destination) has messages waiting in its backlog, until
//!   that guest's port has written out most of its outbox ([`Command::Drained`]); what it
//!   already queued at the driver waits meanwhile too ([`intake::Intake::park`]), or the
//!   receiver's backlog would still take up to [`INTAKE_HOLD_AT`] of its frames; or
//! - its own station has [`RADIO_HOLD_AT`] frames in the radio's queue, until it has at most
//!   [`RADIO_RELEASE_AT`]; or
//! - it has [`INTAKE_HOLD_AT`] messages queued at the driver, until it has at most
//!   [`INTAKE_RELEASE_AT`].
//!
//! A backlog holds at most [`BACKLOG_LINKS`] outboxes' worth of messages; once full, the guest
//! is not reading (a stalled VM, say): the guests held for it are let go, and what comes for it
//! is dropped and counted (`link_queue_full`), so one stalled guest never stalls the others.
//!
//! Around it, each on tasks of their own and talking to it only through [`Command`]s
//! ([`crate::command`]) and the guests' outboxes:
//! - the guests' ports ([`crate::ports`]): Unix-socket guests, namespace TAPs, vhost-user NICs
//!   and the uplink TAP; a fatal link error ends only that guest: the driver removes it from
//!   the Mux at once;
//! - the control server ([`crate::control`]), whose status snapshot the driver fills
//!   ([`snapshot`]).
//!
//! On shutdown the driver tells every guest `Event::Disconnected { reason: 3, locally_generated:
//! true }` (IEEE 802.11 reason 3: the station is leaving), removes it from the Mux (a connected
//! station sends its deauthentication), lets the air carry the last frames, and drops the
//! outboxes: each guest task writes what is left and closes its link.

use bytes::Bytes;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use vwifi_core::demux::GuestId;
use vwifi_core::io::{Clock as _, PeerInfo};
use vwifi_core::mux::{AdmitError, GuestConfig, GuestItem};
use vwifi_core::proto::{Credentials, Event, Message, RequestId, Ssid, MAX_AGENT_NAME_LEN};
use vwifi_core::{Instant, MacAddr};

use crate::clock::TokioClock;
use crate::command::{Admitted, Command, JoinError, Joined, LinkFlow, Refused, TapShared};
use crate::error_text::error_chain;
use crate::hwsim::HwsimAir as _;
use crate::outbox::{outbox_waking, EapolWake, OutboxSender, PushError};
use crate::state::{Profile, StateError, StateStore};
use crate::world::SimWorld;

/// The request id of the connection a restarted daemon asks for on a namespace's behalf (its
/// acknowledgement goes to the TAP, where nobody waits for it).
const RESTORE_REQUEST_ID: u32 = 0x7666_0001;

/// How many attached namespaces that went away under the daemon the status shows (the last
/// ones; a namespace attached anew leaves the list).
const GONE_SHOWN: usize = 8;

/// The request id of a connection asked on the control socket (`join`).
const JOIN_REQUEST_ID: u32 = 0x7666_0002;

/// Why a request of the simulated air is refused on a real card.
const NOT_SIMULATED: &str =
    "the daemon drives a real radio: capture and the sim controls need the simulated air";

/// IEEE 802.11 reason code 3: deauthenticated because the sending station is leaving.
pub(crate) const REASON_LEAVING: u16 = 3;

/// How long the air runs after the last guests were removed, so their deauthentications go out
/// (retries included), and again after the APs stopped, so theirs do.
const SHUTDOWN_AIR_TIME: Duration = Duration::from_millis(50);

/// The most guests' messages (a data frame each) handed to the world in one turn of the driver
/// before it advances, taken from the guests' queues in turn ([`intake`]): well under the
/// Mux's per-guest data queue, so a batch from one guest does not overflow it before the world
/// moves; and above what one read of a port gives (a TAP's read of two 64 KiB TCP sends cut
/// into MSDUs is 90 frames): with 64, such a read was served in two turns, the second send's
/// run of segments cut in two, and it reached the receiver as two packets (two ACKs).
const COMMAND_BATCH: usize = 128;

/// How long the driver waits for a short-changed guest whose queue ran dry
/// ([`intake::Intake::short_changed`]): about what a port's task takes to be woken and read its
/// next batch on a busy machine (the kernel adds its timer slack, 50 µs for a normal thread).
/// Waits of 5 to 50 µs all brought two TCP pairs at once within 0.09 of their mean in a trial
/// (from up to 0.24 without).
const ANTICIPATION: Duration = Duration::from_micros(20);

/// The most commands moved from the channel into the guests' queues per turn (the ports send
/// one per read; held guests send no more, so this is rarely reached).
const INTAKE_DRAIN: usize = 1024;

/// A guest with this many messages in its queue at the driver ([`intake`]) is held back...
/// (Lower thresholds, 256 and 128, left two TCP flows at once on a loaded 2-core machine
/// with their queues empty in a fifth of the driver's turns, their ports not woken in time:
/// the round robin cannot share what is not queued.)
pub(crate) const INTAKE_HOLD_AT: usize = 1024;

/// ... until it has at most this many: several turns' worth, for its port to be woken and
/// read the next batch before its queue runs dry.
pub(crate) const INTAKE_RELEASE_AT: usize = 512;

/// How many outboxes' worth of messages a guest's backlog holds (what the driver keeps back
/// while the guest's port writes out its outbox) before what comes for it is dropped.
const BACKLOG_LINKS: usize = 2;

/// A guest whose station has this many data frames in the radio's queue is held back...
pub(crate) const RADIO_HOLD_AT: usize = vwifi_core::mux_node::STATION_TX_QUEUE / 2;

/// ... until it has at most this many (so its port reads a batch at a time, not a frame).
pub(crate) const RADIO_RELEASE_AT: usize = vwifi_core::mux_node::STATION_TX_QUEUE / 4;

/// The most federation messages handled in one turn of the loop.
const FEDERATION_BATCH: usize = 256;

/// The federation's next event; never, without federation.
async fn federation_event(
    f: &mut Option<crate::federation::Federation>,
) -> crate::federation::FederationEvent {
    match f {
        Some(f) => f.next().await,
        None => pending().await,
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
pub(crate) struct GuestEntry {
    name: String,
    agent: Option<String>,
    peer: PeerInfo,
    outbox: OutboxSender,
    /// The network namespace it serves, if attached with `attach --netns`.
    netns: Option<String>,
    /// Shared with the TAP's task, if attached with `attach --netns`.
    tap: Option<Arc<TapShared>>,
    /// The connection last asked for, until its outcome (netns guests: recorded on success).
    pending: Option<PendingConnect>,
    /// Who waits for the outcome of a `join` on the control socket.
    join: Option<tokio::sync::oneshot::Sender<Result<Joined, JoinError>>>,
    /// Messages dropped because the outbox and the backlog were full: data frames, and
    /// replies or events.
    link_data_dropped: u64,
    link_control_dropped: u64,
    /// The back-pressure shared with the guest's port.
    flow: Arc<LinkFlow>,
    /// Messages for the guest that did not fit its outbox, in order.
    backlog: VecDeque<GuestItem>,
    /// The guests held back because they sent to this one while its backlog was filling.
    holding: BTreeSet<GuestId>,
    /// The guest this one's data is held back for, if any.
    held_for: Option<GuestId>,
    /// Whether its station's radio queue is long ([`RADIO_HOLD_AT`]).
    radio_full: bool,
    /// Whether its queue at the driver is long ([`INTAKE_HOLD_AT`]).
    intake_full: bool,
}

impl GuestEntry {
    /// Whether messages for this guest are kept back and more still fit: the guests that send
    /// to it are to wait.
    fn congested(&self, limit: usize) -> bool {
        !self.backlog.is_empty() && self.backlog.len() < limit
    }

    /// Moves what the outbox now has room for from the backlog into it, then hands `msgs` to
    /// the outbox, or to the backlog behind what already waits, or (the backlog holding
    /// `limit`) drops and counts them: all in one batch, so that the port, woken once, finds
    /// the turn's messages together ([`crate::outbox`]).
    fn hand_over(&mut self, id: GuestId, msgs: Vec<GuestItem>, limit: usize) {
        if msgs.is_empty() && self.backlog.is_empty() {
            return;
        }
        let mut out = self.outbox.batch();
        while let Some(msg) = self.backlog.pop_front() {
            match out.try_push(msg) {
                Ok(()) => {}
                Err(PushError::Full(msg)) => {
                    self.backlog.push_front(msg);
                    break;
                }
                // The guest's task ended; its `Gone` is on the way.
                Err(PushError::Closed(_)) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
        for msg in msgs {
            let msg = if self.backlog.is_empty() {
                match out.try_push(msg) {
                    Ok(()) | Err(PushError::Closed(_)) => continue,
                    Err(PushError::Full(msg)) => msg,
                }
            } else {
                msg
            };
            if self.backlog.len() < limit {
                self.backlog.push_back(msg);
                continue;
            }
            let data = msg.is_data();
            if data {
                self.link_data_dropped += 1;
            } else {
                self.link_control_dropped += 1;
            }
            tracing::trace!(guest = id.0, data, "guest link queue full: message dropped");
        }
    }

    /// Tells the port whether to hold the guest's data back, if that changed.
    fn update_hold(&self) {
        let hold = self.held_for.is_some() || self.radio_full || self.intake_full;
        self.flow.hold.send_if_modified(|h| {
            let changed = *h != hold;
            *h = hold;
            changed
        });
    }
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
    world: Box<dyn HostRadio>,
    clock: TokioClock,
    guests: BTreeMap<GuestId, GuestEntry>,
    /// The guests by their station's address (where an Ethernet destination goes).
    by_mac: BTreeMap<MacAddr, GuestId>,
    link_queue: usize,
    connections: u64,
    /// The persistent state (attachments, profiles), if the daemon has a state directory.
    state: Option<StateStore>,
    /// Why the last save of the state failed, until one succeeds (shown in the status).
    state_error: Option<String>,
    /// Why the uplink TAP is down, while its task recreates it (shown in the status).
    uplink_error: Option<String>,
    /// Namespaces whose interface went under the daemon (deleted in the container): how many
    /// times, and whether attaching it again was given up: shown in `status`.
    lost_interfaces: BTreeMap<String, (u32, bool)>,
    /// Attached namespaces that went away under the daemon (deleted, their last process
    /// exited), the last [`GONE_SHOWN`], until attached anew: shown in `status`.
    gone_namespaces: VecDeque<String>,
    /// Frames for the uplink TAP's task, if there is one.
    wired: Option<mpsc::Sender<bytes::Bytes>>,
    /// The kernel's hwsim radios, when vwifi is their medium.
    hwsim: Option<crate::hwsim::Hwsim>,
    /// The kernel radios' addresses last passed to the world ([`crate::hwsim::Hwsim::mpdu_limits`]).
    hwsim_generation: u64,
    /// Who captures the air ([`crate::lab::capture`]).
    capture: crate::lab::capture::Subscribers,
    /// The other daemons of a federated air, if `[federation]` is configured.
    federation: Option<crate::federation::Federation>,
    /// The radios created for namespaces (`attach --native`), by namespace.
    native: BTreeMap<String, native::NativeEntry>,
    /// The guests' messages waiting for the world, one queue per guest ([`intake`]).
    intake: intake::Intake,
    /// Waits for a short-changed guest ([`Driver::wait_for`]), and how many of them it did
    /// not come in.
    waits: u64,
    waits_in_vain: u64,
    /// Woken by a guest's port that found EAPOL frames in sealed ones (a rekey: see
    /// [`crate::outbox`]); they go to the guest's station.
    eapol_wake: Arc<EapolWake>,
}

impl Driver {
    /// A driver of `world` on `clock`, with outboxes of `link_queue` messages.
    pub(crate) fn new(world: Box<dyn HostRadio>, clock: TokioClock, link_queue: usize) -> Self {
        Self {
            world,
            clock,
            guests: BTreeMap::new(),
            by_mac: BTreeMap::new(),
            link_queue: link_queue.max(1),
            connections: 0,
            state: None,
            state_error: None,
            uplink_error: None,
            lost_interfaces: BTreeMap::new(),
            gone_namespaces: VecDeque::new(),
            wired: None,
            hwsim: None,
            hwsim_generation: 0,
            capture: crate::lab::capture::Subscribers::default(),
            federation: None,
            native: BTreeMap::new(),
            intake: intake::Intake::default(),
            waits: 0,
            waits_in_vain: 0,
            eapol_wake: Arc::new(EapolWake::new()),
        }
    }

    /// Shares the simulated air with the other daemons of `federation` (see
    /// [`crate::federation`]).
    pub(crate) fn with_federation(
        &mut self,
        federation: crate::federation::Federation,
    ) -> Result<(), crate::federation::FederationError> {
        let world = self
            .world
            .sim_mut()
            .ok_or(crate::federation::FederationError::NeedsSimRadio)?;
        world.enable_federation(federation.medium_config());
        if let Some([x, y]) = federation.position() {
            world
                .set_host_position(x, y)
                .map_err(|_| crate::federation::FederationError::Position)?;
        }
        self.federation = Some(federation);
        Ok(())
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
        let mut radio_events = self.world.take_events();
        // One timer for the whole loop, moved only when the world's next event moves, and not
        // used for an event already due. A new sleep each turn was registered with tokio's
        // timer and removed again; most turns' deadlines (a few microseconds after the turn's
        // start on the zero-airtime air) had passed by then, yet lay ahead of the timer's
        // wheel, so each woke the thread parked on it to re-arm (a write to its eventfd):
        // about 1 000 times a second while data flowed (perf, `syscalls:sys_enter_write`).
        let timer = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(timer);
        let mut armed: Option<tokio::time::Instant> = None;
        let eapol_wake = Arc::clone(&self.eapol_wake);
        loop {
            let now = clock.now();
            self.world.advance(now);
            self.publish_capture();
            self.deliver();
            if let (Some(h), Some(w)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
                h.flush(w);
                let (generation, limits) = h.mpdu_limits();
                if generation != self.hwsim_generation {
                    // The kernel's radios take short MPDUs only: A-MSDUs to them stay so.
                    self.hwsim_generation = generation;
                    w.set_mpdu_limits(&limits);
                }
            }
            if let (Some(f), Some(w)) = (self.federation.as_mut(), self.world.sim_mut()) {
                f.publish(w);
            }
            let next = self
                .world
                .poll_timeout()
                .and_then(|t| clock.tokio_instant(t));
            // Due already (the turn took longer than the gap to the world's next event): the
            // next turn comes at once, without the timer.
            let due = next.is_some_and(|at| at <= tokio::time::Instant::now());
            if due {
                armed = None;
            } else {
                if let Some(at) = next.filter(|at| armed != Some(*at)) {
                    timer.as_mut().reset(at);
                }
                armed = next;
            }
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        // Everything queued moves to the guests' queues (or is handled, if
                        // not a guest's message), so that the turn serves them in turn.
                        self.take(cmd);
                        self.take_waiting(&mut cmds);
                    }
                    None => break,
                },
                r = crate::hwsim::recv(&mut self.hwsim) => self.handle_hwsim(r),
                ev = federation_event(&mut self.federation) => self.handle_federation(ev),
                ev = radio_event(&mut radio_events) => match ev {
                    Some((guest, msg)) => {
                        self.world.push_event(guest, msg);
                        // Take what else is there in one turn.
                        if let Some(rx) = radio_events.as_mut() {
                            for _ in 0..256 {
                                let Ok((g, m)) = rx.try_recv() else { break };
                                self.world.push_event(g, m);
                            }
                        }
                    }
                    None => radio_events = None,
                },
                () = eapol_wake.notified() => {}
                () = &mut timer, if armed.is_some() => armed = None,
                () = std::future::ready(()), if due => {}
                // The guests' queues still hold messages: go on at once.
                () = std::future::ready(()), if !self.intake.is_empty() => {}
            }
            // EAPOL frames the ports found (the flag, not the wake-up, says whether).
            if eapol_wake.take() {
                self.take_staged_eapol();
            }
            // A guest short-changed lately whose queue ran dry is about to send more
            // (deceptive idleness, see `intake`): wait for it a moment first.
            if let Some(guest) = self.intake.short_changed(clock.now()) {
                self.wait_for(guest, &mut cmds);
                // Still dry: the guests ahead of it wait too, this turn.
                self.intake.hold_ahead_of(clock.now(), guest);
            }
            // A turn's worth of the guests' messages, fairly, then the world advances once
            // for all of them.
            self.serve_intake(COMMAND_BATCH);
            self.intake.release();
        }
        self.shut_down()
    }

    /// An event of the federation, and whatever else came in with it (up to a batch).
    fn handle_federation(&mut self, ev: crate::federation::FederationEvent) {
        let now = self.clock.now();
        let (Some(f), Some(w)) = (self.federation.as_mut(), self.world.sim_mut()) else {
            return;
        };
        f.handle(w, now, ev);
        for _ in 0..FEDERATION_BATCH {
            let Some(ev) = f.try_next() else { break };
            f.handle(w, now, ev);
        }
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

    /// Waits [`ANTICIPATION`] for `guest` ([`intake::Intake::short_changed`]), then takes what
    /// came on the channel meanwhile.
    ///
    /// The wait blocks this thread on purpose: it gives the driver's core to the ports' tasks
    /// and the guests for a moment shorter than tokio's timer can wait (1 ms). Nothing else on
    /// this thread needs to run that soon: it runs the driver, and beside it only the wait for
    /// the signals that stop the daemon.
    fn wait_for(&mut self, guest: GuestId, cmds: &mut mpsc::Receiver<Command>) {
        std::thread::sleep(ANTICIPATION);
        self.take_waiting(cmds);
        self.waits += 1;
        if self.intake.queued(guest) == 0 {
            self.waits_in_vain += 1;
        }
    }

    /// Takes what waits on the channel, up to [`INTAKE_DRAIN`] commands, without waiting.
    fn take_waiting(&mut self, cmds: &mut mpsc::Receiver<Command>) {
        for _ in 0..INTAKE_DRAIN {
            let Ok(cmd) = cmds.try_recv() else { break };
            self.take(cmd);
        }
    }

    /// Takes a command from the channel: a guest's message goes to the back of its queue
    /// ([`intake`]), served by [`serve_intake`](Self::serve_intake); anything else is handled
    /// at once. A guest whose queue grows long is held back.
    fn take(&mut self, cmd: Command) {
        let (guest, queued) = match cmd {
            Command::Guest { guest, msg } if self.guests.contains_key(&guest) => {
                (guest, self.intake.push(self.clock.now(), guest, msg.into()))
            }
            Command::GuestData { guest, frames } if self.guests.contains_key(&guest) => (
                guest,
                self.intake.push_data(self.clock.now(), guest, frames),
            ),
            cmd => return self.handle(cmd),
        };
        if queued >= INTAKE_HOLD_AT {
            if let Some(entry) = self.guests.get_mut(&guest) {
                if !entry.intake_full {
                    entry.intake_full = true;
                    entry.update_hold();
                }
            }
        }
    }

    /// Hands up to `budget` of the guests' queued messages to the world, by deficit round
    /// robin over the guests ([`intake::Intake::next`]); a held guest whose queue got short
    /// again is let go.
    ///
    /// Consecutive data frames of one guest go to the world together
    /// ([`HostRadio::guest_data`]), so that its station can put them in A-MSDUs.
    fn serve_intake(&mut self, budget: usize) {
        let mut run: Option<(GuestId, Vec<Bytes>)> = None;
        for _ in 0..budget {
            let Some((guest, item)) = self.intake.next() else {
                break;
            };
            if let Some(entry) = self.guests.get_mut(&guest) {
                if entry.intake_full && self.intake.queued(guest) <= INTAKE_RELEASE_AT {
                    entry.intake_full = false;
                    entry.update_hold();
                }
            }
            match (item, &mut run) {
                (intake::Item::Data(frame), Some((g, frames))) if *g == guest => frames.push(frame),
                (intake::Item::Data(frame), _) => {
                    if let Some((g, frames)) = run.replace((guest, vec![frame])) {
                        self.guest_data(g, frames);
                    }
                }
                (item, _) => {
                    if let Some((g, frames)) = run.take() {
                        self.guest_data(g, frames);
                    }
                    self.handle(Command::Guest {
                        guest,
                        msg: item.into_message(),
                    });
                }
            }
        }
        if let Some((g, frames)) = run {
            self.guest_data(g, frames);
        }
    }

    /// Data frames of `guest` served together: each holds back its sender as
    /// [`Command::Guest`] would, then the world takes them at once.
    fn guest_data(&mut self, guest: GuestId, frames: Vec<Bytes>) {
        let now = self.clock.now();
        for frame in &frames {
            self.hold_back_for(guest, frame);
        }
        if self.guests.contains_key(&guest) {
            self.world.guest_data(now, guest, frames);
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
            Command::GuestData { guest, frames } => {
                for frame in frames {
                    self.handle(Command::Guest {
                        guest,
                        msg: Message::Data(frame),
                    });
                }
            }
            Command::Drained { guest } => {
                // The port made room: the turn's delivery refills its outbox from the backlog
                // and lets go of the guests held for it.
                tracing::trace!(guest = guest.0, "outbox drained");
            }
            Command::Guest { guest, msg } => {
                if let Message::Data(frame) = &msg {
                    self.hold_back_for(guest, frame);
                }
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
                        entry.join = None;
                        if let Some(netns) = entry.netns.clone() {
                            self.record(|s| s.set_profile(&netns, None));
                        }
                    }
                    _ => {}
                }
                self.world.guest_message(now, guest, msg);
            }
            Command::Gone { guest } => {
                let entry = self.guests.get(&guest);
                let flag = |f: fn(&TapShared) -> &AtomicBool| {
                    entry
                        .and_then(|e| e.tap.as_deref())
                        .is_some_and(|t| f(t).load(Ordering::Relaxed))
                };
                let lost = flag(|t| &t.lost);
                let ns_gone = flag(|t| &t.namespace_gone);
                match entry.and_then(|e| e.netns.clone()) {
                    // Its interface went under it: the record (network, credentials) stays for
                    // the namespace's next attachment, which its port starts at once.
                    Some(netns) if lost => {
                        let lost = self.lost_interfaces.entry(netns).or_default();
                        *lost = (lost.0 + 1, false);
                    }
                    Some(netns) => {
                        self.record(|s| s.detached(&netns));
                        if ns_gone {
                            self.gone_namespaces.retain(|n| *n != netns);
                            if self.gone_namespaces.len() == GONE_SHOWN {
                                self.gone_namespaces.pop_front();
                            }
                            self.gone_namespaces.push_back(netns);
                        }
                    }
                    None => {}
                }
                let why = if lost {
                    "its interface went under the daemon"
                } else if ns_gone {
                    "its network namespace went away under the daemon"
                } else {
                    "link ended"
                };
                self.remove(now, guest, why);
            }
            Command::Renamed { guest, ifname } => {
                if let Some(netns) = self.guests.get(&guest).and_then(|e| e.netns.clone()) {
                    self.record(|s| s.attached(&netns, &ifname));
                }
            }
            Command::ReattachFailed { netns } => {
                tracing::warn!(%netns, "the namespace could not be attached again: forgotten");
                self.record(|s| s.detached(&netns));
                if let Some(lost) = self.lost_interfaces.get_mut(&netns) {
                    lost.1 = true;
                }
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
                        let tap = self.guests.get(&id).and_then(|e| e.tap.clone());
                        if let Some(tap) = &tap {
                            tap.detach.store(true, Ordering::Relaxed);
                        }
                        self.record(|s| s.detached(&netns));
                        self.remove(now, id, "detached");
                        Ok((id, tap))
                    }
                    None => Err(Refused::NotAttached { netns }),
                };
                let _ = reply.send(result);
            }
            Command::NativeCheck { netns, reply } => {
                let _ = reply.send(self.native_check(&netns));
            }
            Command::NativeAttach {
                netns,
                radio,
                watch,
                reply,
            } => {
                let _ = reply.send(self.native_attach(netns, radio, watch));
            }
            Command::NativeDetach { netns, reply } => {
                let _ = reply.send(self.native_detach(&netns));
            }
            Command::RelayOpen {
                name,
                family,
                tx,
                reply,
            } => {
                let id = self
                    .hwsim
                    .as_mut()
                    .and_then(|h| h.open_relay(name, family, tx));
                let _ = reply.send(id);
            }
            Command::RelayData { id, datagram } => {
                if let (Some(h), Some(w)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
                    h.relay_datagram(w, now, id, &datagram);
                }
            }
            Command::RelayGone { id } => {
                if let (Some(h), Some(w)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
                    h.close_relay(w, id);
                }
            }
            Command::UplinkDown { why } => self.uplink_error = why,
            Command::Sim { request, reply } => {
                let answer = match self.world.sim_mut() {
                    Some(w) => crate::sim_control::serve::handle(w, now, request),
                    None => crate::api::Response::Error {
                        message: NOT_SIMULATED.into(),
                    },
                };
                let _ = reply.send(answer);
            }
            Command::Capture { channel, reply } => {
                let result = match self.world.sim_mut() {
                    Some(w) => {
                        // Signals as heard where the host's radio stands now.
                        let at = w.medium().placement(w.host_node()).map(|p| p.position);
                        w.medium_mut()
                            .enable_tap(at, crate::lab::capture::TAP_LIMIT);
                        let wall = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                        let epoch = wall.saturating_sub(now.as_micros());
                        Ok(self.capture.subscribe(channel, epoch))
                    }
                    None => Err(NOT_SIMULATED.to_owned()),
                };
                let _ = reply.send(result);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::Join {
                netns,
                ssid,
                bssid,
                credentials,
                reply,
            } => self.join(now, netns, ssid, bssid, credentials, reply),
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

    /// Hands what the air carried to the capture's subscribers; the tap goes off when the
    /// last one leaves.
    fn publish_capture(&mut self) {
        let Some(w) = self.world.sim_mut() else {
            return;
        };
        let medium = w.medium_mut();
        if !medium.is_tapping() {
            return;
        }
        if self.capture.is_empty() {
            medium.disable_tap();
            return;
        }
        let frames = medium.take_tapped();
        let overflow = medium.tap_overflow();
        self.capture.publish(frames, overflow);
    }

    /// The most messages a guest's backlog holds.
    fn backlog_limit(&self) -> usize {
        self.link_queue.saturating_mul(BACKLOG_LINKS)
    }

    /// `sender` sent a data frame to the Ethernet destination at the start of `frame`: if that
    /// is a guest whose backlog is filling, hold the sender's data back until it drains.
    fn hold_back_for(&mut self, sender: GuestId, frame: &[u8]) {
        let Some(dst) = frame.get(..6).and_then(MacAddr::from_slice) else {
            return;
        };
        let Some(&receiver) = self.by_mac.get(&dst) else {
            return;
        };
        let limit = self.backlog_limit();
        if receiver == sender
            || !self
                .guests
                .get(&receiver)
                .is_some_and(|r| r.congested(limit))
        {
            return;
        }
        let Some(s) = self.guests.get_mut(&sender) else {
            return;
        };
        if s.held_for.is_some() {
            return;
        }
        s.held_for = Some(receiver);
        s.update_hold();
        // What it queued at the driver waits too, not only its port's next reads.
        self.intake.park(sender);
        if let Some(r) = self.guests.get_mut(&receiver) {
            r.holding.insert(sender);
        }
    }

    /// Lets go of the guests held back for `receiver`.
    fn release_held_for(&mut self, receiver: GuestId) {
        let held = self
            .guests
            .get_mut(&receiver)
            .map(|r| std::mem::take(&mut r.holding))
            .unwrap_or_default();
        for id in held {
            if let Some(s) = self.guests.get_mut(&id) {
                if s.held_for == Some(receiver) {
                    s.held_for = None;
                    s.update_hold();
                    self.intake.unpark(id);
                }
            }
        }
    }

    /// Changes the persistent state, if any; a failure is logged (the daemon goes on).
    fn record(&mut self, change: impl FnOnce(&mut StateStore) -> Result<(), StateError>) {
        if let Some(state) = &mut self.state {
            // Every save writes the whole file from memory: a later one that succeeds (the
            // directory writable again, space freed) repairs what an earlier one missed.
            match change(state) {
                Err(e) => {
                    let why = error_chain(&e);
                    tracing::warn!(error = %why, "the state was not saved");
                    self.state_error = Some(why);
                }
                Ok(()) => {
                    if self.state_error.take().is_some() {
                        tracing::info!("the state is saved again");
                    }
                }
            }
        }
    }

    /// A namespace's TAP is served: record it, and rejoin its recorded network.
    fn attached(&mut self, now: Instant, guest: GuestId, netns: &str, ifname: &str) {
        self.record(|s| s.attached(netns, ifname));
        self.gone_namespaces.retain(|n| n != netns);
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

    /// `join`: connects the station of the namespace `netns`; `reply` hears the outcome.
    fn join(
        &mut self,
        now: Instant,
        netns: String,
        ssid: Ssid,
        bssid: Option<MacAddr>,
        credentials: Credentials,
        reply: tokio::sync::oneshot::Sender<Result<Joined, JoinError>>,
    ) {
        let found = self
            .guests
            .iter_mut()
            .find(|(_, e)| e.netns.as_deref() == Some(netns.as_str()));
        let Some((&guest, entry)) = found else {
            let _ = reply.send(Err(Refused::NotAttached { netns }.into()));
            return;
        };
        tracing::info!(guest = guest.0, %netns, %ssid, "joining a network (control socket)");
        entry.pending = Some(PendingConnect {
            ssid,
            credentials: credentials.clone(),
            restored: false,
        });
        // An earlier join still waiting hears that it was superseded (its sender dropped).
        entry.join = Some(reply);
        self.world.guest_message(
            now,
            guest,
            Message::Connect {
                id: RequestId(JOIN_REQUEST_ID),
                ssid,
                bssid,
                credentials,
            },
        );
    }

    /// Gives the guests' stations the EAPOL frames their ports found in sealed frames.
    fn take_staged_eapol(&mut self) {
        let now = self.clock.now();
        for (&id, entry) in &self.guests {
            let frames = entry.outbox.take_eapol();
            if !frames.is_empty() {
                tracing::debug!(
                    guest = id.0,
                    frames = frames.len(),
                    "EAPOL from the receive stage"
                );
                self.world.staged_eapol(now, id, &frames);
            }
        }
    }

    /// Records the outcome of a netns guest's connection (before the guest hears of it).
    fn outcome(&mut self, guest: GuestId, msg: &Message) {
        let Message::Event(event) = msg else {
            return;
        };
        let Some(entry) = self.guests.get_mut(&guest) else {
            return;
        };
        match event {
            Event::Connected {
                ssid,
                bssid,
                channel,
            } if entry.pending.as_ref().is_some_and(|p| p.ssid == *ssid) => {
                if let Some(reply) = entry.join.take() {
                    let _ = reply.send(Ok(Joined {
                        bssid: *bssid,
                        channel: *channel,
                    }));
                }
            }
            Event::ConnectFailed { reason } => {
                if let Some(reply) = entry.join.take() {
                    let _ = reply.send(Err(JoinError::Failed(*reason)));
                }
            }
            _ => {}
        }
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
    ) -> Result<(Admitted, MacAddr), Refused> {
        if self.native.contains_key(netns)
            || self
                .guests
                .values()
                .any(|e| e.netns.as_deref() == Some(netns))
        {
            return Err(Refused::AlreadyAttached {
                netns: netns.to_owned(),
            });
        }
        let adm = self.admit_as(
            format!("netns:{netns}"),
            PeerInfo::Anonymous,
            Some(netns.to_owned()),
            Some(shared),
        )?;
        let mac = self
            .world
            .station_mac(adm.guest)
            .ok_or(Refused::StationVanished)?;
        Ok((adm, mac))
    }

    /// Admits a guest named `name` (its address derives from the name), unless a guest of
    /// that name is served already.
    fn admit_named(&mut self, name: String) -> Result<(Admitted, MacAddr), Refused> {
        if self.guests.values().any(|e| e.name == name) {
            return Err(Refused::NameTaken { name });
        }
        let adm = self.admit_as(name, PeerInfo::Anonymous, None, None)?;
        let mac = self
            .world
            .station_mac(adm.guest)
            .ok_or(Refused::StationVanished)?;
        Ok((adm, mac))
    }

    fn admit_as(
        &mut self,
        name: String,
        peer: PeerInfo,
        netns: Option<String>,
        tap: Option<Arc<TapShared>>,
    ) -> Result<Admitted, AdmitError> {
        let guest = self.world.admit(
            GuestConfig {
                name: name.clone(),
                mac: None,
            },
            netns.is_some(),
        )?;
        self.connections += 1;
        let (tx, rx) = outbox_waking(self.link_queue, Some(Arc::clone(&self.eapol_wake)));
        let station = self.world.station_mac(guest);
        if let Some(sta) = station {
            self.by_mac.insert(sta, guest);
        }
        let mac = station.map(|m| m.to_string()).unwrap_or_default();
        let flow = Arc::new(LinkFlow::default());
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
                join: None,
                link_data_dropped: 0,
                link_control_dropped: 0,
                flow: Arc::clone(&flow),
                backlog: VecDeque::new(),
                holding: BTreeSet::new(),
                held_for: None,
                radio_full: false,
                intake_full: false,
            },
        );
        let kernel_port = self.world.kernel_port(guest);
        Ok(Admitted {
            guest,
            name,
            outbox: rx,
            flow,
            kernel_port,
        })
    }

    fn remove(&mut self, now: Instant, guest: GuestId, why: &str) {
        self.release_held_for(guest);
        self.intake.remove(guest);
        self.by_mac.retain(|_, g| *g != guest);
        if let Some(entry) = self.guests.remove(&guest) {
            tracing::info!(guest = guest.0, name = %entry.name, reason = why, "guest removed");
            if let Some(r) = entry.held_for.and_then(|r| self.guests.get_mut(&r)) {
                r.holding.remove(&guest);
            }
        }
        self.world.remove(now, guest);
    }

    /// Moves the Mux's messages for each guest into its outbox (or backlog), never waiting, and
    /// updates who is held back (see the [module documentation](self)).
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
        let limit = self.backlog_limit();
        let ids: Vec<GuestId> = self.guests.keys().copied().collect();
        for id in ids {
            let msgs = self.world.take_guest_items(id);
            for msg in &msgs {
                if let GuestItem::Message(msg) = msg {
                    self.outcome(id, msg);
                }
            }
            let queued = self.world.radio_queue(id);
            let Some(entry) = self.guests.get_mut(&id) else {
                continue;
            };
            entry.hand_over(id, msgs, limit);
            if !entry.backlog.is_empty() {
                entry.flow.backlog.store(true, Ordering::Release);
            }
            let radio_full = if entry.radio_full {
                queued > RADIO_RELEASE_AT
            } else {
                queued >= RADIO_HOLD_AT
            };
            if radio_full != entry.radio_full {
                entry.radio_full = radio_full;
                entry.update_hold();
            }
            // Drained, or full (not reading): the guests held for it go on.
            if !entry.holding.is_empty() && !entry.congested(limit) {
                self.release_held_for(id);
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
        // The guests' stations' own deauthentications go out first: the APs' broadcast one
        // is sent once and never acknowledged, and contending with them it was lost to a
        // collision now and then (the VM check hwsim-wpas-softap-sae: wpa_supplicant, with
        // PMF, then noticed the AP gone only seconds later).
        self.world.run_for(SHUTDOWN_AIR_TIME);
        // The simulated APs go too, telling their stations (real ones on hwsim included).
        if let Some(w) = self.world.sim_mut() {
            w.stop_aps();
        }
        // Carry the deauthentications onto the air, to the kernel's radios and to the other
        // daemons' air (the publishing task sends what is queued before the runtime stops).
        self.world.run_for(SHUTDOWN_AIR_TIME);
        if let (Some(h), Some(w)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
            h.flush(w);
        }
        if let (Some(f), Some(w)) = (self.federation.as_mut(), self.world.sim_mut()) {
            f.publish(w);
            f.leave();
        }
        let stats = self.world.mux_stats().unwrap_or_default();
        Summary {
            guests_served: self.connections,
            guests_at_shutdown: at_shutdown,
            tx_frames: stats.tx_frames,
            rx_frames: stats.rx_frames,
            uptime: Duration::from_micros(now.as_micros()),
        }
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

mod intake;
mod native;
mod radio;
mod snapshot;

pub(crate) use radio::HostRadio;

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

    /// The driver's side of the receive stage: the guest's port opens the station's sealed
    /// frames (here `try_recv`), finds the AP's group-rekey messages among them and wakes the
    /// driver, which gives them to the station; its answers complete the AP's rekeys.
    #[tokio::test(start_paused = true)]
    async fn rekeys_found_by_the_ports_receive_stage_reach_the_station() {
        let mut sim = SimConfig::demo();
        sim.aps.retain(|ap| ap.ssid == "vwifi-office");
        sim.aps[0].gtk_rekey_interval = Some(1);
        let cfg = HostConfig::default().mux_config();
        assert!(cfg.station.stage_rx, "on by default");
        let world = SimWorld::new(&sim, cfg, [7; 32]).unwrap();
        let mut d = Driver::new(Box::new(world), TokioClock::start(), 64);
        let mut adm = d.admit(PeerInfo::Anonymous).unwrap();
        d.handle(Command::Guest {
            guest: adm.guest,
            msg: Message::Connect {
                id: RequestId(1),
                ssid: Ssid::new(b"vwifi-office").unwrap(),
                bssid: None,
                credentials: Credentials::Passphrase(
                    vwifi_core::crypto::Passphrase::new("office demo passphrase").unwrap(),
                ),
            },
        });
        run_until(&mut d, &mut adm.outbox, |m| {
            matches!(m, Message::Event(Event::Connected { .. }))
        });
        let rekeys = |d: &mut Driver| {
            let w = d.world.sim_mut().unwrap();
            w.aps().map(|ap| ap.counters().gtk_rekeys).sum::<u64>()
        };
        let before = rekeys(&mut d);
        let start = d.clock.now();
        let woken = Arc::clone(&d.eapol_wake);
        let mut returned = 0;
        while d.clock.now() < start + Duration::from_millis(3_500) {
            let next = d.world.poll_timeout().expect("the world never goes idle");
            tokio::time::advance(next.saturating_duration_since(d.clock.now())).await;
            d.world.advance(next);
            d.deliver();
            while adm.outbox.try_recv().is_ok() {}
            // The port woke the driver for what it found.
            if woken.take() {
                returned += 1;
                d.take_staged_eapol();
            }
        }
        assert!(returned >= 3, "the port found the rekeys: {returned}");
        assert!(
            rekeys(&mut d) >= before + 3,
            "the station answered every rekey"
        );
        let snap = d.snapshot();
        assert_eq!(snap.guests[0].state, "connected");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_outbox_and_backlog_drop_that_guests_messages_and_count_them() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 1);
        let adm = d.admit(PeerInfo::Anonymous).unwrap();
        // One in the outbox, two in the backlog, two dropped.
        for id in 1..=5 {
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
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 8);
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
        outbox: &mut crate::outbox::OutboxReceiver,
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
    async fn a_state_directory_that_cannot_be_written_is_reported_and_repaired_later() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let state = StateStore::open(&state_dir).unwrap();
        let mut d =
            Driver::new(Box::new(open_world()), TokioClock::start(), 64).with_state(Some(state));
        // The directory goes away under the daemon (deleted, or a disk that fails).
        std::fs::remove_dir_all(&state_dir).unwrap();
        let attach = |d: &mut Driver, netns: &str| {
            let (adm, _) = d.admit_netns(netns, Arc::default()).unwrap();
            d.handle(Command::Attached {
                guest: adm.guest,
                netns: netns.into(),
                ifname: "wlan0".into(),
            });
            adm
        };
        let _c1 = attach(&mut d, "c1");
        let why = d
            .snapshot()
            .state_error
            .expect("the failed save is reported");
        assert!(why.contains("state"), "{why}");
        assert!(crate::control::format_status(&d.snapshot()).contains("NOT SAVED"));
        // Writable again: the next change saves everything, the earlier attachment included.
        std::fs::create_dir_all(&state_dir).unwrap();
        let _c2 = attach(&mut d, "c2");
        assert_eq!(d.snapshot().state_error, None);
        let text = std::fs::read_to_string(state_dir.join("state.json")).unwrap();
        assert!(text.contains("\"c1\"") && text.contains("\"c2\""), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_namespaces_network_is_recorded_when_joined_and_forgotten_on_disconnect() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open(dir.path()).unwrap();
        let mut d =
            Driver::new(Box::new(open_world()), TokioClock::start(), 64).with_state(Some(state));
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

    #[tokio::test(start_paused = true)]
    async fn a_join_is_answered_with_its_outcome() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 64);
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let ssid = Ssid::new(b"vwifi-lab").unwrap();
        d.handle(Command::Join {
            netns: "c1".into(),
            ssid,
            bssid: None,
            credentials: Credentials::None,
            reply,
        });
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(JoinError::Refused(Refused::NotAttached { .. })))
        ));

        let (mut adm, _) = d.admit_netns("c1", Arc::default()).unwrap();
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        d.handle(Command::Join {
            netns: "c1".into(),
            ssid,
            bssid: None,
            credentials: Credentials::None,
            reply,
        });
        run_until(&mut d, &mut adm.outbox, |m| {
            matches!(m, Message::Event(Event::Connected { .. }))
        });
        let joined = answer.try_recv().unwrap().unwrap();
        assert_eq!(joined.channel, 1);

        let (reply, mut answer) = tokio::sync::oneshot::channel();
        d.handle(Command::Join {
            netns: "c1".into(),
            ssid: Ssid::new(b"no-such-network").unwrap(),
            bssid: None,
            credentials: Credentials::None,
            reply,
        });
        run_until(&mut d, &mut adm.outbox, |m| {
            matches!(m, Message::Event(Event::ConnectFailed { .. }))
        });
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(JoinError::Failed(
                vwifi_core::proto::ConnectFailure::NetworkNotFound
            )))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_of_data_frames_reaches_the_other_guest_whole_and_in_order() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 64);
        let (mut a, mac_a) = d.admit_netns("a", Arc::default()).unwrap();
        let (mut b, mac_b) = d.admit_netns("b", Arc::default()).unwrap();
        let ssid = Ssid::new(b"vwifi-lab").unwrap();
        for adm in [&mut a, &mut b] {
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
        }
        let frame = |i: u8| {
            let mut f = mac_b.0.to_vec();
            f.extend_from_slice(&mac_a.0);
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            f.extend_from_slice(&[i; 100]);
            bytes::Bytes::from(f)
        };
        let frames: Vec<bytes::Bytes> = (1..=3).map(frame).collect();
        d.handle(Command::GuestData {
            guest: a.guest,
            frames: frames.clone(),
        });
        let got = std::sync::Mutex::new(Vec::new());
        run_until(&mut d, &mut b.outbox, |m| {
            let mut got = got.lock().unwrap();
            if let Message::Data(f) = m {
                got.push(f.clone());
            }
            got.len() == frames.len()
        });
        assert_eq!(got.into_inner().unwrap(), frames);
    }

    /// Two guests connected to the open demo network, and a third if `three`: their
    /// admissions and stations' addresses.
    fn connected(d: &mut Driver, names: &[&str]) -> Vec<(Admitted, MacAddr)> {
        let ssid = Ssid::new(b"vwifi-lab").unwrap();
        let mut out = Vec::new();
        for name in names {
            let (mut adm, mac) = d.admit_netns(name, Arc::default()).unwrap();
            d.handle(Command::Guest {
                guest: adm.guest,
                msg: Message::Connect {
                    id: RequestId(1),
                    ssid,
                    bssid: None,
                    credentials: Credentials::None,
                },
            });
            run_until(d, &mut adm.outbox, |m| {
                matches!(m, Message::Event(Event::Connected { .. }))
            });
            out.push((adm, mac));
        }
        out
    }

    /// An Ethernet frame from `src` to `dst` with a 100-byte payload tagged `i`.
    fn eth(dst: MacAddr, src: MacAddr, i: u8) -> bytes::Bytes {
        let mut f = dst.0.to_vec();
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(&[i; 100]);
        bytes::Bytes::from(f)
    }

    /// Lets the air carry what was handed to it (20 ms), delivering to the outboxes.
    fn air(d: &mut Driver) {
        d.world.run_for(Duration::from_millis(20));
        d.deliver();
    }

    fn holding(adm: &Admitted) -> bool {
        *adm.flow.hold.borrow()
    }

    #[tokio::test(start_paused = true)]
    async fn a_sender_is_held_back_while_its_receiver_drains_and_nothing_is_dropped() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 4);
        let mut g = connected(&mut d, &["a", "b"]);
        let ((a, mac_a), (mut b, mac_b)) = (g.remove(0), g.remove(0));
        // Four fill b's outbox, one waits in its backlog.
        for i in 0..5 {
            d.handle(Command::Guest {
                guest: a.guest,
                msg: Message::Data(eth(mac_b, mac_a, i)),
            });
            air(&mut d);
        }
        assert!(!holding(&a), "held before b's backlog grew");
        assert!(b.flow.backlog.load(Ordering::Acquire));
        assert!(!holding(&b));
        // a sends again to b, whose backlog is filling: a's port must stop reading a.
        d.handle(Command::Guest {
            guest: a.guest,
            msg: Message::Data(eth(mac_b, mac_a, 5)),
        });
        assert!(holding(&a));
        air(&mut d);
        // b's port writes out its outbox and says so: the backlog moves on, a goes on.
        let mut got = Vec::new();
        while got.len() < 6 {
            while let Ok(m) = b.outbox.try_recv() {
                if let Message::Data(f) = m {
                    got.push(f);
                }
            }
            assert!(b.flow.drained(b.outbox.len(), b.outbox.max_capacity()) || got.len() >= 6);
            d.handle(Command::Drained { guest: b.guest });
            d.deliver();
        }
        assert!(!holding(&a), "a still held after b drained");
        let want: Vec<_> = (0..6).map(|i| eth(mac_b, mac_a, i)).collect();
        assert_eq!(got, want, "b got a's frames out of order or not all");
        assert_eq!(d.guests[&b.guest].link_data_dropped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_senders_frames_queued_at_the_driver_wait_there_not_in_the_receivers_backlog() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 4);
        let mut g = connected(&mut d, &["a", "b"]);
        let ((a, mac_a), (mut b, mac_b)) = (g.remove(0), g.remove(0));
        // a's port read 40 frames for b at once: they wait at the driver, served 2 a turn (a
        // turn's frames go on together: the daemon's 64 a turn against a backlog of 1024).
        let sent: Vec<_> = (0..40).map(|i| eth(mac_b, mac_a, i)).collect();
        d.intake.push_data(Instant::ZERO, a.guest, sent.clone());
        for _ in 0..20 {
            d.serve_intake(2);
            air(&mut d);
        }
        // b's outbox (4) filled and its backlog began: a is held, and what it queued waits at
        // the driver instead of going on to overflow b's backlog (8).
        assert!(holding(&a));
        assert!(d.intake.is_parked(a.guest));
        assert!(
            d.intake.queued(a.guest) > 0,
            "a's frames did not wait at the driver"
        );
        assert!(d.guests[&b.guest].backlog.len() < d.backlog_limit());
        assert_eq!(d.guests[&b.guest].link_data_dropped, 0);
        // b reads and says so, turn after turn: every frame arrives, in order, none dropped.
        let mut got = Vec::new();
        for _ in 0..200 {
            while let Ok(m) = b.outbox.try_recv() {
                if let Message::Data(f) = m {
                    got.push(f);
                }
            }
            if got.len() == sent.len() {
                break;
            }
            d.handle(Command::Drained { guest: b.guest });
            d.serve_intake(2);
            air(&mut d);
        }
        assert_eq!(got, sent, "b did not get all of a's frames in order");
        assert_eq!(d.guests[&b.guest].link_data_dropped, 0);
        assert!(!d.intake.is_parked(a.guest));
    }

    #[tokio::test(start_paused = true)]
    async fn a_guest_that_stops_reading_does_not_stall_the_others() {
        let mut d = Driver::new(Box::new(open_world()), TokioClock::start(), 4);
        let mut g = connected(&mut d, &["a", "b", "c"]);
        let ((mut a, mac_a), (b, mac_b), (c, mac_c)) = (g.remove(0), g.remove(0), g.remove(0));
        // b never reads: a's flood fills its outbox (4) and backlog (8), the rest is dropped
        // and counted; a is let go once b's backlog is full.
        for i in 0..20 {
            d.handle(Command::Guest {
                guest: a.guest,
                msg: Message::Data(eth(mac_b, mac_a, i)),
            });
            air(&mut d);
        }
        assert!(!holding(&a), "a stays held by a guest that does not read");
        assert_eq!(d.guests[&b.guest].backlog.len(), 8);
        assert_eq!(d.guests[&b.guest].link_data_dropped, 20 - 4 - 8);
        let snap = d.snapshot();
        let row = snap.guests.iter().find(|r| r.id == b.guest.0).unwrap();
        assert!(
            row.dropped.contains(&("link_queue_full".into(), 8)),
            "{:?}",
            row.dropped
        );
        assert!(row.dropped.iter().any(|(k, _)| k == "radio_queue_full"));
        // c's data to a flows meanwhile.
        for i in 0..3 {
            d.handle(Command::Guest {
                guest: c.guest,
                msg: Message::Data(eth(mac_a, mac_c, i)),
            });
        }
        assert!(!holding(&c));
        air(&mut d);
        let got: Vec<_> = std::iter::from_fn(|| a.outbox.try_recv().ok())
            .filter_map(|m| match m {
                Message::Data(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            (0..3).map(|i| eth(mac_a, mac_c, i)).collect::<Vec<_>>()
        );
        // b leaves: nobody stays held for it, and it is no longer a destination.
        d.remove(Instant::ZERO, b.guest, "test");
        assert!(!d.by_mac.contains_key(&mac_b));
    }

    /// A frame of `len` bytes from `src` to `dst` carrying `seq`.
    fn numbered(dst: MacAddr, src: MacAddr, seq: u32, len: usize) -> bytes::Bytes {
        let mut f = dst.0.to_vec();
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.resize(len, 0xa5);
        bytes::Bytes::from(f)
    }

    #[tokio::test(start_paused = true)]
    async fn two_senders_flooding_at_different_batch_sizes_get_equal_service() {
        // The zero-airtime air: the driver, not the air, is the limit.
        let mut sim = SimConfig::demo();
        for ap in &mut sim.aps {
            ap.passphrase = None;
        }
        sim.medium.airtime = false;
        let world = SimWorld::new(&sim, HostConfig::default().mux_config(), [7; 32]).unwrap();
        let mut d = Driver::new(Box::new(world), TokioClock::start(), 4096);
        let mut g = connected(&mut d, &["a", "b", "c", "e"]);
        let (mut e, mac_e) = g.remove(3);
        let (c, mac_c) = g.remove(2);
        let (mut b, mac_b) = g.remove(1);
        let (a, mac_a) = g.remove(0);
        let (mut next_a, mut next_c) = (0u32, 0u32);
        let (mut got_b, mut got_e) = (0u32, 0u32);
        let mut a_held = false;
        const TURNS: u32 = 300;
        for _ in 0..TURNS {
            // Both ports read more than the driver serves each of them (half a turn): a two
            // batches of 64 frames a turn, c twenty-four of 4 (while the driver does not hold
            // them back). First in, first out, a would get 128 of every 224 frames.
            if !holding(&a) {
                for _ in 0..2 {
                    let frames = (next_a..next_a + 64)
                        .map(|i| numbered(mac_b, mac_a, i, 1000))
                        .collect();
                    next_a += 64;
                    d.take(Command::GuestData {
                        guest: a.guest,
                        frames,
                    });
                }
            }
            if !holding(&c) {
                for _ in 0..24 {
                    let frames = (next_c..next_c + 4)
                        .map(|i| numbered(mac_e, mac_c, i, 1000))
                        .collect();
                    next_c += 4;
                    d.take(Command::GuestData {
                        guest: c.guest,
                        frames,
                    });
                }
            }
            a_held |= holding(&a);
            d.serve_intake(COMMAND_BATCH);
            air(&mut d);
            for (outbox, got, from) in [
                (&mut b.outbox, &mut got_b, mac_a),
                (&mut e.outbox, &mut got_e, mac_c),
            ] {
                while let Ok(m) = outbox.try_recv() {
                    if let Message::Data(f) = m {
                        // In order, none lost.
                        assert_eq!(
                            f,
                            numbered(f[..6].try_into().map(MacAddr).unwrap(), from, *got, 1000)
                        );
                        *got += 1;
                    }
                }
            }
        }
        assert!(a_held, "a's queue at the driver never held it back");
        let (sb, se) = (f64::from(got_b), f64::from(got_e));
        assert!(
            (sb - se).abs() / ((sb + se) / 2.0) < 0.1,
            "a got {got_b} frames through, c {got_e}"
        );
        // The driver served a full turn each time.
        assert!(
            got_b + got_e >= (TURNS - 2) * COMMAND_BATCH as u32,
            "{got_b} + {got_e}"
        );
        for id in [b.guest, e.guest] {
            assert_eq!(d.guests[&id].link_data_dropped, 0);
        }
    }

    fn assert_send<T: Send>() {}

    #[test]
    fn the_driver_and_its_radios_can_move_to_another_thread() {
        // Compile-time: the driver owns its radio through `HostRadio` (no world enum), and
        // the driver, the simulated world and a real card's radio are all `Send`.
        assert_send::<Driver>();
        assert_send::<SimWorld>();
        assert_send::<crate::nl80211::Nl80211Radio>();
    }

    #[test]
    fn printable_cuts_and_masks_control_characters() {
        assert_eq!(printable("agent\n1", 64), "agent?1");
        assert_eq!(printable("ééé", 5), "éé");
    }
}
