//! The Mux: the engine that shares one radio among many guests.
//!
//! It owns every guest's [`Station`], the [`Demux`] (which guest owns a received frame) and the
//! [`Scheduler`] (which channel the radio is on, and who may use it for radio-wide work), and
//! routes the guest protocol between guests and their stations. It is sans-IO, like the rest
//! of the core: the caller (the host's driver loop, or a test world) feeds it
//!
//! - guest messages ([`Input::Guest`]): scan, connect, disconnect, status, data;
//! - radio events ([`Input::Radio`]): frames heard on the tuned channel, outcomes of sent frames;
//! - time ([`Mux::handle_timeout`] when [`Mux::poll_timeout`] says so),
//!
//! and drains [`Mux::poll_output`] after every call: frames to transmit, channel changes, and
//! messages to guests.
//!
//! ```text
//!   loop {
//!       select! { msg = guest.recv() => mux.handle_input(now, Input::Guest { guest, msg }),
//!                 ev  = radio.recv() => mux.handle_input(now, Input::Radio(ev)),
//!                 _   = sleep_until(mux.poll_timeout()) => mux.handle_timeout(now) }
//!       while let Some(out) = mux.poll_output() { /* Transmit / Tune / ToGuest */ }
//!   }
//! ```
//!
//! # Isolation and fairness
//! - A received frame reaches only the station that owns its receiver address; group frames
//!   reach the members of their BSS, each decrypting with its own key ([`Demux`]).
//! - A guest's data frames leave only with the guest's own source address.
//! - Bad input from a guest is answered with [`Message::Error`] to that guest only and counted;
//!   it never reaches the radio or another guest. Nothing in this module returns an error or
//!   panics because of what a guest or the air sent.
//! - Each guest's outgoing queue is bounded: a guest that does not read loses its own data
//!   frames (counted), and [`Mux::poll_output`] serves guests in turn, so no guest's backlog
//!   delays another's messages. Control messages (replies, events) are never dropped for data.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::demux::{Demux, DemuxError, GuestId, Route};
use crate::handshake::sae::SaeWorkerHandle;
use crate::io::RadioEvent;
use crate::proto::{
    self, Capabilities, ConnectFailure, ErrorCode, Event, Message, RequestId, StationState,
};
use crate::radio::RxMeta;
use crate::scheduler::{
    AdmitError as SchedAdmitError, Scheduler, SchedulerConfig, SchedulerOutput,
};
use crate::station::{
    local_mac_from_seed, rx_stage, Command, Station, StationConfig, StationError, StationOutput,
};
use crate::time::Instant;
use crate::wire::{EthernetFrame, FrameType, FrameView, MgmtSubtype};

/// The failure code sent in [`ConnectFailure::Other`] when the radio cannot take the
/// network's channel (it already shares its maximum number of channels).
pub const FAILURE_CODE_RADIO_BUSY: u8 = 20;

/// How the Mux is set up.
#[derive(Debug, Clone)]
pub struct MuxConfig {
    /// Channel time-sharing and admission limits.
    pub scheduler: SchedulerConfig,
    /// The most data frames waiting for one guest; more are dropped (counted).
    pub guest_data_queue: usize,
    /// The most control messages (replies, events) waiting for one guest. A guest that lets
    /// this many pile up is not reading at all: further ones are dropped and counted.
    pub guest_control_queue: usize,
    /// Every new station's configuration (its address and seed are set per guest).
    pub station: StationConfig,
    /// Whether stations reconnect by themselves after losing their network.
    pub auto_reconnect: bool,
}

impl Default for MuxConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            guest_data_queue: 256,
            guest_control_queue: 1024,
            station: StationConfig::new(MacAddr([0x02, 0, 0, 0, 0, 0]), [0; 32]),
            auto_reconnect: true,
        }
    }
}

/// A guest to admit.
#[derive(Debug, Clone, Default)]
pub struct GuestConfig {
    /// A stable name (the network namespace, the VM); with no address given, the station's
    /// address is derived from it, so a guest keeps its address across restarts.
    pub name: String,
    /// The station's address, if the guest asks for one.
    pub mac: Option<MacAddr>,
}

/// Why a guest could not be admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// The radio serves its maximum number of stations.
    #[error(transparent)]
    Radio(#[from] SchedAdmitError),
    /// The address is taken or not a station address.
    #[error(transparent)]
    Address(#[from] DemuxError),
}

/// An input to the Mux.
#[derive(Debug, Clone)]
pub enum Input {
    /// A message from a guest.
    Guest {
        /// Who sent it.
        guest: GuestId,
        /// What it sent.
        msg: Message,
    },
    /// An event of the radio.
    Radio(RadioEvent),
}

/// What the Mux asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Transmit this 802.11 frame (no FCS) on the current channel.
    Transmit {
        /// The frame.
        frame: Bytes,
        /// The channel the radio is tuned to (the frame's channel).
        channel: Channel,
    },
    /// Tune the radio to this channel after transmitting the frames output before it. A caller
    /// may instead keep the *data* frames among them until the radio is back on their channel
    /// (the `channel` of their [`Output::Transmit`]), as `MuxNode` does; it never sends them on
    /// another channel. A caller that reports when the change is carried out
    /// ([`Mux::set_reports_tunes`]) calls [`Mux::radio_tuned`] then.
    Tune(Channel),
    /// Send this to this guest.
    ToGuest {
        /// The guest.
        guest: GuestId,
        /// A message, or a data frame to open on the way ([`GuestItem::Sealed`]).
        item: GuestItem,
    },
}

/// What the Mux hands to a guest, in order: a message, or (stations configured with
/// [`StationConfig::stage_rx`]) a data frame still sealed, whose Ethernet frames the guest's
/// side opens on its way out ([`rx_stage::open`]) and whose EAPOL frames go back to
/// [`Mux::handle_staged_eapol`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestItem {
    /// A message.
    Message(Message),
    /// A protected data frame for the guest, not yet opened.
    Sealed(rx_stage::Sealed),
}

impl From<Message> for GuestItem {
    fn from(msg: Message) -> Self {
        Self::Message(msg)
    }
}

impl GuestItem {
    /// Whether it carries data (a [`Message::Data`] or a sealed frame), not a reply or event.
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Message(Message::Data(_)) | Self::Sealed(_))
    }
}

/// Why the Mux dropped something of a guest's, per guest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestCounters {
    /// Messages from the guest answered with an error.
    pub bad_messages: u64,
    /// Data frames from the guest with another source address.
    pub spoofed: u64,
    /// Data frames from the guest that could not be sent (not connected, queue full,
    /// malformed, reserved EtherType).
    pub tx_dropped: u64,
    /// Data frames for the guest dropped because it did not read them in time.
    pub rx_queue_full: u64,
    /// Control messages for the guest dropped because it did not read at all.
    pub control_dropped: u64,
}

/// Radio-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MuxStats {
    /// Frames received from the radio.
    pub rx_frames: u64,
    /// Frames delivered to at least one station.
    pub rx_routed: u64,
    /// Received frames not for any station (see [`Demux::dropped`] for the reasons).
    pub rx_dropped: u64,
    /// Frames routed to a station that was neither on that channel nor living there.
    pub rx_not_listening: u64,
    /// Frames handed to the radio.
    pub tx_frames: u64,
    /// Frames a station produced for a channel the radio was not on (dropped).
    pub tx_off_channel: u64,
    /// Channel changes.
    pub tunes: u64,
}

/// A guest's state as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestReport {
    /// The guest.
    pub guest: GuestId,
    /// Its name.
    pub name: String,
    /// Its station's status.
    pub status: proto::StationStatus,
    /// What the Mux dropped of its.
    pub counters: GuestCounters,
}

#[derive(Debug)]
struct Guest {
    name: String,
    station: Station,
    control: VecDeque<Message>,
    data: VecDeque<GuestItem>,
    pending_scan: Option<RequestId>,
    /// What the guest said it understands in its `Hello` (none before one): a guest without
    /// [`Capabilities::ROAM_EVENTS`] is told a roam as a connection.
    peer: Capabilities,
    counters: GuestCounters,
    /// Where the scheduler was last told this station lives: (home, wants the grant at).
    placed: (Option<Channel>, Option<Channel>),
    /// The station's timeout as indexed in `Mux::timers`.
    timer: Option<Instant>,
}

/// The engine: one radio, many guests. See the [module documentation](self).
#[derive(Debug)]
pub struct Mux {
    cfg: MuxConfig,
    guests: BTreeMap<GuestId, Guest>,
    demux: Demux,
    sched: Scheduler,
    radio: VecDeque<Output>,
    /// The channel of the radio as of the outputs queued so far. The scheduler's own idea
    /// runs ahead: it has already moved on when it asks the stations to leave a channel,
    /// and the frames they queue then must still go out on the old one.
    tuned: Option<Channel>,
    next_guest: u32,
    /// The guest to serve first in the next round of [`Mux::poll_output`].
    cursor: u32,
    /// Every station's next timeout: the earliest first, without visiting every guest.
    timers: BTreeSet<(Instant, GuestId)>,
    /// The guests with messages waiting, so that serving them does not visit every guest.
    ready: BTreeSet<GuestId>,
    stats: MuxStats,
    seed: [u8; 32],
    /// Whether the caller reports when the radio really reaches a channel
    /// ([`Mux::radio_tuned`]); the stations' arrivals then wait for it.
    reports_tunes: bool,
    /// Channel changes output and not yet reported carried out.
    tunes_outstanding: u32,
    /// When the last channel change was output.
    tune_sent_at: Instant,
    /// Arrivals waiting for the radio to reach the channel of the last change.
    deferred: Vec<Arrival>,
    /// Where the stations' SAE arithmetic runs ([`Mux::set_sae_worker`]).
    sae_worker: SaeWorkerHandle,
    /// Radios that take MPDUs of at most so many octets ([`Mux::set_mpdu_limits`]).
    mpdu_limits: BTreeMap<MacAddr, usize>,
}

/// A station's arrival on the radio's channel, held until the radio is really there.
#[derive(Debug, Clone, Copy)]
enum Arrival {
    /// The grant holder, on the channel it asked for.
    Holder(GuestId),
    /// The stations living on this channel (a home slot began).
    Home(Channel),
    /// A grant holder given the radio where it is.
    Resumed(GuestId),
}

impl Mux {
    /// A Mux with no guests. `seed` seeds every station's randomness (each gets its own).
    pub fn new(cfg: MuxConfig, seed: [u8; 32]) -> Self {
        Self {
            sched: Scheduler::new(cfg.scheduler),
            cfg,
            guests: BTreeMap::new(),
            demux: Demux::new(),
            radio: VecDeque::new(),
            tuned: None,
            next_guest: 1,
            cursor: 0,
            timers: BTreeSet::new(),
            ready: BTreeSet::new(),
            stats: MuxStats::default(),
            seed,
            reports_tunes: false,
            tunes_outstanding: 0,
            tune_sent_at: Instant::ZERO,
            deferred: Vec::new(),
            sae_worker: SaeWorkerHandle::default(),
            mpdu_limits: BTreeMap::new(),
        }
    }

    /// Runs the stations' SAE arithmetic (theirs and every later guest's) on `worker` instead
    /// of the caller's thread: a join then costs the thread that runs the Mux microseconds, not
    /// milliseconds.
    pub fn set_sae_worker(&mut self, worker: SaeWorkerHandle) {
        for g in self.guests.values_mut() {
            g.station.set_sae_worker(worker.clone());
        }
        self.sae_worker = worker;
    }

    /// Says that the caller will report every channel change it carries out
    /// ([`Mux::radio_tuned`]), as the simulation's radio does. The stations then count a
    /// channel's time (a scan's dwell) from when the radio really reached it rather than from
    /// when the change was asked for: a radio still sending the frames queued before the change
    /// (on a weak, lossy link, tens of milliseconds) would otherwise leave the scan too little
    /// time, or none, on the channel. Off by default: the stations arrive when the change is
    /// output.
    pub fn set_reports_tunes(&mut self, on: bool) {
        self.reports_tunes = on;
        if !on {
            self.tunes_outstanding = 0;
            self.deferred.clear();
        }
    }

    /// The radio has reached channel `c` (one report per [`Output::Tune`], in order; only with
    /// [`Mux::set_reports_tunes`]). Once the last change asked for is carried out, the stations
    /// waiting for the radio there arrive, and an off-channel slot is lengthened by the radio's
    /// delay.
    pub fn radio_tuned(&mut self, now: Instant, c: Channel) {
        if !self.reports_tunes {
            return;
        }
        self.tunes_outstanding = self.tunes_outstanding.saturating_sub(1);
        if self.tunes_outstanding > 0 || self.tuned != Some(c) {
            return;
        }
        self.sched
            .radio_arrived(now.saturating_duration_since(self.tune_sent_at));
        for arrival in core::mem::take(&mut self.deferred) {
            match arrival {
                Arrival::Holder(h) => {
                    if self.sched.holder() == Some(h) && self.sched.holder_active() {
                        self.arrive(now, h, c);
                    }
                }
                Arrival::Home(home) if home == c => {
                    let ids = self.guests_where(|g| g.placed.0 == Some(c));
                    for id in ids {
                        self.arrive(now, id, c);
                    }
                }
                Arrival::Home(_) => {}
                Arrival::Resumed(g) => self.arrive(now, g, c),
            }
        }
    }

    /// Whether arrivals must wait for the radio to report the last channel change.
    fn awaiting_tune(&self) -> bool {
        self.reports_tunes && self.tunes_outstanding > 0
    }

    /// Admits a guest: creates its station with its own address.
    pub fn admit(&mut self, guest_cfg: GuestConfig) -> Result<GuestId, AdmitError> {
        let id = GuestId(self.next_guest);
        let name_seed = name_seed(&guest_cfg.name);
        let mac = match guest_cfg.mac {
            Some(mac) => mac,
            None if !guest_cfg.name.is_empty() => local_mac_from_seed(name_seed),
            None => local_mac_from_seed(self.station_seed(id)),
        };
        self.sched.admit(id)?;
        if let Err(e) = self.demux.insert(id, mac) {
            self.sched.remove(Instant::ZERO, id);
            return Err(e.into());
        }
        self.next_guest += 1;
        let mut cfg = self.cfg.station.clone();
        cfg.mac = mac;
        cfg.seed = self.station_seed(id);
        tracing::info!(guest = id.0, name = %guest_cfg.name, %mac, "guest admitted");
        self.guests.insert(
            id,
            Guest {
                name: guest_cfg.name,
                station: {
                    let mut s = Station::new(cfg);
                    s.set_sae_worker(self.sae_worker.clone());
                    s
                },
                control: VecDeque::new(),
                data: VecDeque::new(),
                pending_scan: None,
                peer: Capabilities::EMPTY,
                counters: GuestCounters::default(),
                placed: (None, None),
                timer: None,
            },
        );
        Ok(id)
    }

    /// Removes a guest: its station leaves its network (a deauthentication goes out if it was
    /// connected and the radio is on its channel) and everything of it is forgotten.
    pub fn remove(&mut self, now: Instant, guest: GuestId) {
        let Some(mut g) = self.guests.remove(&guest) else {
            return;
        };
        if g.station.is_connected() && g.station.current_channel().is_some() {
            let _ = g.station.handle_command(now, Command::Disconnect);
            while let Some(out) = g.station.poll_output() {
                if let StationOutput::Transmit { frame, channel } = out {
                    if self.tuned == Some(channel) {
                        self.stats.tx_frames += 1;
                        self.radio.push_back(Output::Transmit { frame, channel });
                    }
                }
            }
        }
        if let Some(t) = g.timer {
            self.timers.remove(&(t, guest));
        }
        self.ready.remove(&guest);
        self.demux.remove(guest);
        self.sched.remove(now, guest);
        tracing::info!(guest = guest.0, name = %g.name, "guest removed");
        self.settle(now);
    }

    /// The guests admitted.
    pub fn guests(&self) -> impl Iterator<Item = GuestId> + '_ {
        self.guests.keys().copied()
    }

    /// A guest's station.
    pub fn station(&self, guest: GuestId) -> Option<&Station> {
        self.guests.get(&guest).map(|g| &g.station)
    }

    /// A guest's report: status and counters.
    pub fn report(&self, guest: GuestId) -> Option<GuestReport> {
        self.guests.get(&guest).map(|g| GuestReport {
            guest,
            name: g.name.clone(),
            status: g.station.status(),
            counters: g.counters,
        })
    }

    /// Radio-wide counters.
    pub const fn stats(&self) -> &MuxStats {
        &self.stats
    }

    /// The demultiplexer (its drop counters by reason).
    pub const fn demux(&self) -> &Demux {
        &self.demux
    }

    /// The channel the radio is tuned to.
    pub const fn tuned(&self) -> Option<Channel> {
        self.tuned
    }

    /// Feeds one input. Bad input is answered (to a guest) or counted (from the air), never
    /// returned as an error.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Guest { guest, msg } => self.handle_guest(now, guest, msg),
            Input::Radio(RadioEvent::Rx { frame, meta }) => {
                self.stats.rx_frames += 1;
                let targets = match self.demux.route(&frame) {
                    Route::Unicast(g) => vec![g],
                    Route::Group(gs) => gs,
                    Route::Drop(_) => {
                        self.stats.rx_dropped += 1;
                        return;
                    }
                };
                self.stats.rx_routed += 1;
                // Beacons and probe responses feed every station's BSS table, wherever it is
                // listening: the radio heard them, so one guest's scan serves all.
                let advert = FrameView::new_checked(&frame[..]).is_ok_and(|v| {
                    matches!(
                        v.frame_control().frame_type,
                        FrameType::Management(MgmtSubtype::Beacon | MgmtSubtype::ProbeResponse)
                    )
                });
                for g in targets {
                    let Some(guest) = self.guests.get_mut(&g) else {
                        continue;
                    };
                    // A station hears its channel while it is there, and also while the radio
                    // is still there after it said it leaves (its power-save null and the
                    // others' are still going out): the radio acknowledged the frame, so its
                    // sender will not repeat it. What it must answer waits for its return.
                    let c = Some(meta.channel);
                    let listening = guest.station.current_channel() == c
                        || guest.station.wanted_channel() == c
                        || guest.placed.0 == c;
                    if !advert && !listening {
                        self.stats.rx_not_listening += 1;
                        continue;
                    }
                    guest.station.handle_frame(now, &frame, meta);
                    self.pump(now, g);
                }
            }
            Input::Radio(RadioEvent::TxStatus { frame, status }) => {
                let owner = FrameView::new_checked(&frame[..])
                    .ok()
                    .and_then(|v| v.addr2())
                    .and_then(|ta| self.demux.owner_of(ta));
                if let Some(g) = owner {
                    if let Some(guest) = self.guests.get_mut(&g) {
                        guest.station.handle_tx_status(now, &frame, status);
                        self.pump(now, g);
                    }
                }
            }
        }
        self.settle(now);
    }

    /// Readies a batch of frames heard together for the stations they are for, before each is
    /// fed as [`RadioEvent::Rx`] in order: a station's protected frames are decrypted together
    /// ([`Station::open_batch`](crate::station::Station::open_batch)). Returns the guests to
    /// give to [`Mux::end_rx_batch`] once the frames are fed.
    pub fn begin_rx_batch(&mut self, frames: &[(Bytes, RxMeta)]) -> Vec<GuestId> {
        let mut by_guest: BTreeMap<GuestId, Vec<Bytes>> = BTreeMap::new();
        for (frame, _) in frames {
            // Only protected frames are decrypted: an open network's batch costs a glance.
            if frame.get(1).is_none_or(|b| b & 0x40 == 0) {
                continue;
            }
            let Ok(view) = FrameView::new_checked(&frame[..]) else {
                continue;
            };
            let ra = view.addr1();
            if ra.is_group() {
                continue;
            }
            if let Some(g) = self.demux.owner_of(ra) {
                // A staging station's frames are opened by its receive stage, not here.
                if self.guests.get(&g).is_some_and(|s| !s.station.stages_rx()) {
                    by_guest.entry(g).or_default().push(frame.clone());
                }
            }
        }
        let mut opened = Vec::new();
        for (g, raws) in by_guest {
            if let (Some(guest), true) = (self.guests.get_mut(&g), raws.len() > 1) {
                guest.station.open_batch(&raws);
                opened.push(g);
            }
        }
        opened
    }

    /// EAPOL frames a receive stage found in frames `guest`'s station handed on sealed
    /// ([`GuestItem::Sealed`]): they go to its supplicant, in order.
    pub fn handle_staged_eapol(&mut self, now: Instant, guest: GuestId, frames: &[EthernetFrame]) {
        let Some(g) = self.guests.get_mut(&guest) else {
            return;
        };
        for eth in frames {
            g.station.receive_staged_eapol(now, eth);
        }
        self.pump(now, guest);
        self.settle(now);
    }

    /// Ends a batch begun with [`Mux::begin_rx_batch`]: what was decrypted and not used is
    /// forgotten.
    pub fn end_rx_batch(&mut self, guests: &[GuestId]) {
        for g in guests {
            if let Some(guest) = self.guests.get_mut(g) {
                guest.station.forget_opened();
            }
        }
    }

    /// When [`Mux::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let station = self.timers.first().map(|(t, _)| *t);
        station.into_iter().chain(self.sched.poll_timeout()).min()
    }

    /// Wakes every part whose time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.sched.handle_timeout(now);
        self.settle(now);
        let due: Vec<GuestId> = self
            .timers
            .range(..=(now, GuestId(u32::MAX)))
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            if let Some(g) = self.guests.get_mut(&id) {
                g.station.handle_timeout(now);
                self.pump(now, id);
            }
        }
        self.settle(now);
    }

    /// The next thing to do: radio work first (in order), then guests' messages, one guest
    /// at a time in turn.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.radio.pop_front() {
            return Some(o);
        }
        let id = *self
            .ready
            .range(GuestId(self.cursor)..)
            .chain(self.ready.range(..GuestId(self.cursor)))
            .next()?;
        self.cursor = id.0.wrapping_add(1);
        let Some(g) = self.guests.get_mut(&id) else {
            self.ready.remove(&id);
            return None;
        };
        let item = g.control.pop_front().map(GuestItem::Message);
        let item = item.or_else(|| g.data.pop_front());
        if g.control.is_empty() && g.data.is_empty() {
            self.ready.remove(&id);
        }
        Some(Output::ToGuest {
            guest: id,
            item: item?,
        })
    }

    // ---- guests ----

    /// Sets the radios that take MPDUs of at most so many octets whatever their capabilities
    /// say (kernel radios), by address: the stations' A-MSDUs to them stay within it.
    pub fn set_mpdu_limits(&mut self, limits: BTreeMap<MacAddr, usize>) {
        self.mpdu_limits = limits;
    }

    /// Data frames from a guest handed over together (one read of its port), in order: as
    /// many [`Input::Guest`] data messages, except that the guest's station may put them in
    /// A-MSDUs ([`Station::send_data_batch`]). Frames with a foreign source or that do not
    /// parse are dropped and counted as one by one.
    pub fn handle_guest_data(&mut self, now: Instant, id: GuestId, frames: Vec<Bytes>) {
        let Some(g) = self.guests.get_mut(&id) else {
            tracing::debug!(guest = id.0, "data from an unknown guest dropped");
            return;
        };
        let mut batch = Vec::with_capacity(frames.len());
        for bytes in &frames {
            match EthernetFrame::parse_bytes(bytes) {
                Ok(eth) if !self.demux.check_source(id, eth.src) => {
                    g.counters.spoofed += 1;
                    tracing::debug!(guest = id.0, src = %eth.src, "data frame with a foreign source dropped");
                }
                Ok(eth) => batch.push(eth),
                Err(e) => {
                    g.counters.tx_dropped += 1;
                    tracing::debug!(guest = id.0, error = %e, "malformed data frame dropped");
                }
            }
        }
        let max_mpdu = g
            .station
            .bssid()
            .and_then(|b| self.mpdu_limits.get(&b).copied());
        let errors = g.station.send_data_batch(now, batch, max_mpdu);
        g.counters.tx_dropped += errors.len() as u64;
        for e in errors {
            tracing::trace!(guest = id.0, error = %e, "data frame not sent");
        }
        self.pump(now, id);
    }

    fn handle_guest(&mut self, now: Instant, id: GuestId, msg: Message) {
        let Some(g) = self.guests.get_mut(&id) else {
            tracing::debug!(guest = id.0, "message from an unknown guest dropped");
            return;
        };
        match msg {
            Message::Hello {
                id: rid,
                version,
                capabilities,
                ..
            } => {
                g.peer = capabilities;
                let reply = if version >= 1 {
                    Message::HelloAck {
                        id: rid,
                        version: version.min(proto::VERSION),
                        capabilities: host_capabilities(),
                    }
                } else {
                    g.counters.bad_messages += 1;
                    error(
                        Some(rid),
                        ErrorCode::UnsupportedVersion,
                        "protocol version 0 is not supported",
                    )
                };
                push_control(g, &self.cfg, reply);
            }
            Message::ScanRequest {
                id: rid,
                ssid,
                mode,
            } => {
                if g.pending_scan.is_some() {
                    g.counters.bad_messages += 1;
                    push_control(
                        g,
                        &self.cfg,
                        error(Some(rid), ErrorCode::Busy, "a scan is already running"),
                    );
                } else {
                    match g.station.handle_command(now, Command::Scan { ssid, mode }) {
                        Ok(()) => g.pending_scan = Some(rid),
                        Err(e) => {
                            g.counters.bad_messages += 1;
                            push_control(g, &self.cfg, station_error(Some(rid), &e));
                        }
                    }
                }
            }
            Message::Connect {
                id: rid,
                ssid,
                bssid,
                credentials,
            } => {
                let cmd = Command::Connect {
                    ssid,
                    bssid,
                    credentials,
                    auto_reconnect: self.cfg.auto_reconnect,
                };
                let reply = match g.station.handle_command(now, cmd) {
                    Ok(()) => Message::Ack { id: rid },
                    Err(e) => {
                        g.counters.bad_messages += 1;
                        station_error(Some(rid), &e)
                    }
                };
                push_control(g, &self.cfg, reply);
            }
            Message::Disconnect { id: rid } => {
                let reply = match g.station.handle_command(now, Command::Disconnect) {
                    Ok(()) => Message::Ack { id: rid },
                    Err(e) => station_error(Some(rid), &e),
                };
                push_control(g, &self.cfg, reply);
            }
            Message::StatusRequest { id: rid } => {
                let status = Box::new(g.station.status());
                push_control(g, &self.cfg, Message::Status { id: rid, status });
            }
            Message::Data(bytes) => match EthernetFrame::parse_bytes(&bytes) {
                Ok(eth) if !self.demux.check_source(id, eth.src) => {
                    g.counters.spoofed += 1;
                    tracing::debug!(guest = id.0, src = %eth.src, "data frame with a foreign source dropped");
                }
                Ok(eth) => {
                    if let Err(e) = g.station.send_data(now, eth) {
                        g.counters.tx_dropped += 1;
                        tracing::trace!(guest = id.0, error = %e, "data frame not sent");
                    }
                }
                Err(e) => {
                    g.counters.tx_dropped += 1;
                    tracing::debug!(guest = id.0, error = %e, "malformed data frame dropped");
                }
            },
            other => {
                g.counters.bad_messages += 1;
                let name = other.message_type().name();
                tracing::debug!(
                    guest = id.0,
                    message = name,
                    "unexpected message from a guest"
                );
                push_control(
                    g,
                    &self.cfg,
                    error(
                        other.request_id(),
                        ErrorCode::UnsupportedMessage,
                        "a host-to-guest message was sent to the host",
                    ),
                );
            }
        }
        self.pump(now, id);
    }

    // ---- stations ----

    /// Drains a station's outputs and updates its placement with the scheduler and demux.
    fn pump(&mut self, now: Instant, id: GuestId) {
        let Some(g) = self.guests.get_mut(&id) else {
            return;
        };
        let mut dtim = None;
        let mut delivered = Deliveries::default();
        while let Some(out) = g.station.poll_output() {
            match out {
                StationOutput::Transmit { frame, channel } => {
                    if self.tuned == Some(channel) {
                        self.stats.tx_frames += 1;
                        self.radio.push_back(Output::Transmit { frame, channel });
                    } else {
                        self.stats.tx_off_channel += 1;
                    }
                }
                StationOutput::Deliver(eth) => {
                    if g.data.len() + delivered.len() >= self.cfg.guest_data_queue {
                        g.counters.rx_queue_full += 1;
                    } else {
                        delivered.push(eth);
                    }
                }
                StationOutput::DeliverSealed(sealed) => {
                    if g.data.len() + delivered.len() >= self.cfg.guest_data_queue {
                        g.counters.rx_queue_full += 1;
                    } else {
                        // Behind the frames delivered before it.
                        delivered.flush(&mut g.data);
                        g.data.push_back(GuestItem::Sealed(sealed));
                    }
                }
                StationOutput::Event(ev) => {
                    log_event(id, &ev);
                    push_control(g, &self.cfg, Message::Event(ev.for_peer(g.peer)));
                }
                StationOutput::ScanDone(bss) => {
                    if let Some(rid) = g.pending_scan.take() {
                        push_control(g, &self.cfg, Message::ScanResults { id: rid, bss });
                    }
                }
                StationOutput::WantChannel(_) => {}
                StationOutput::DtimTiming { next, interval } => dtim = Some((next, interval)),
            }
        }
        delivered.flush(&mut g.data);
        if let Some((next, interval)) = dtim {
            self.sched.handle_dtim(id, next, interval);
        }
        self.place(now, id);
        self.index(id);
    }

    /// Updates the guest's entries in the timer and ready indexes. Every change to a station
    /// or a guest's queues is followed by [`Mux::pump`], which ends here.
    fn index(&mut self, id: GuestId) {
        let Some(g) = self.guests.get_mut(&id) else {
            return;
        };
        let timer = g.station.poll_timeout();
        if timer != g.timer {
            if let Some(t) = g.timer {
                self.timers.remove(&(t, id));
            }
            if let Some(t) = timer {
                self.timers.insert((t, id));
            }
            g.timer = timer;
        }
        if g.control.is_empty() && g.data.is_empty() {
            self.ready.remove(&id);
        } else {
            self.ready.insert(id);
        }
    }

    /// Tells the scheduler and the demux where a station lives now.
    fn place(&mut self, now: Instant, id: GuestId) {
        let Some(g) = self.guests.get_mut(&id) else {
            return;
        };
        let st = &g.station;
        let state = st.state();
        let bss_channel = st.bss_channel();
        let settled = matches!(state, StationState::Handshaking | StationState::Connected);
        let home = if settled { bss_channel } else { None };
        let want = st.wanted_channel();
        let grant = want.filter(|c| Some(*c) != home);
        self.demux
            .set_bssid(id, if st.is_connected() { st.bssid() } else { None });
        if g.placed == (home, grant) {
            return;
        }
        g.placed = (home, grant);
        if let Err(e) = self.sched.set_home(now, id, home) {
            tracing::info!(guest = id.0, error = %e, "network refused: radio busy");
            let _ = g.station.handle_command(now, Command::Disconnect);
            let reason = ConnectFailure::Other {
                code: FAILURE_CODE_RADIO_BUSY,
                detail: 0,
            };
            push_control(
                g,
                &self.cfg,
                Message::Event(Event::ConnectFailed { reason }),
            );
            g.placed = (None, None);
            let _ = self.sched.set_home(now, id, None);
            self.sched.release_grant(now, id);
            return;
        }
        match grant {
            Some(c) => {
                // Joining a new network: refuse early if the radio cannot take its channel.
                if matches!(
                    state,
                    StationState::Authenticating | StationState::Associating
                ) {
                    if let Err(e) = self.sched.can_use_channel(id, c) {
                        tracing::info!(guest = id.0, error = %e, "network refused: radio busy");
                        let _ = g.station.handle_command(now, Command::Disconnect);
                        let reason = ConnectFailure::Other {
                            code: FAILURE_CODE_RADIO_BUSY,
                            detail: 0,
                        };
                        push_control(
                            g,
                            &self.cfg,
                            Message::Event(Event::ConnectFailed { reason }),
                        );
                        g.placed = (home, None);
                        self.sched.release_grant(now, id);
                        return;
                    }
                }
                let _ = self.sched.request_grant(now, id);
                self.sched.tune_for_holder(now, id, c);
            }
            None => self.sched.release_grant(now, id),
        }
    }

    /// Applies the scheduler's instructions until nothing changes any more.
    fn settle(&mut self, now: Instant) {
        // Each round either drains outputs or stops; the bound guards against a livelock
        // between stations and scheduler (it would be a bug, not a reaction to input).
        for _ in 0..64 {
            let Some(out) = self.sched.poll_output() else {
                break;
            };
            match out {
                SchedulerOutput::Leaving(c) => {
                    let ids = self.guests_where(|g| {
                        g.placed.0 == Some(c) && g.station.current_channel() == Some(c)
                    });
                    for id in ids {
                        if let Some(g) = self.guests.get_mut(&id) {
                            g.station.off_channel(now);
                        }
                        self.pump(now, id);
                    }
                }
                SchedulerOutput::Tune(c) => {
                    // Whoever is still on another channel leaves it quietly (a paused or
                    // moving scan); the frames they queue go out before the tune.
                    let ids =
                        self.guests_where(|g| g.station.current_channel().is_some_and(|x| x != c));
                    for id in ids {
                        if let Some(g) = self.guests.get_mut(&id) {
                            g.station.off_channel(now);
                        }
                        self.pump(now, id);
                    }
                    self.stats.tunes += 1;
                    self.tuned = Some(c);
                    self.radio.push_back(Output::Tune(c));
                    if self.reports_tunes {
                        self.tunes_outstanding = self.tunes_outstanding.saturating_add(1);
                        self.tune_sent_at = now;
                        self.deferred.clear();
                    }
                    if let Some(h) = self.sched.holder().filter(|_| self.sched.holder_active()) {
                        if self.awaiting_tune() {
                            self.deferred.push(Arrival::Holder(h));
                        } else {
                            self.arrive(now, h, c);
                        }
                    }
                }
                SchedulerOutput::Arrived(c) if self.awaiting_tune() => {
                    self.deferred.push(Arrival::Home(c));
                }
                SchedulerOutput::Arrived(c) => {
                    let ids = self.guests_where(|g| g.placed.0 == Some(c));
                    for id in ids {
                        self.arrive(now, id, c);
                    }
                }
                SchedulerOutput::Granted(g) => {
                    // The new holder asked while another held the grant: tell the scheduler
                    // where it needs the radio, or its slot would leave the radio where it is.
                    let want = self.guests.get(&g).and_then(|x| x.placed.1);
                    if let Some(c) = want {
                        self.sched.tune_for_holder(now, g, c);
                    }
                }
                SchedulerOutput::Resumed(g) if self.awaiting_tune() => {
                    self.deferred.push(Arrival::Resumed(g));
                }
                SchedulerOutput::Resumed(g) => {
                    if let Some(c) = self.tuned {
                        self.arrive(now, g, c);
                    }
                }
                SchedulerOutput::Paused(g) => {
                    if let Some(guest) = self.guests.get_mut(&g) {
                        if guest.placed.0 != guest.station.current_channel() {
                            guest.station.off_channel(now);
                        }
                    }
                    self.pump(now, g);
                }
            }
        }
    }

    /// Tells a station the radio is on `c` for it, if that is where it wants to be.
    fn arrive(&mut self, now: Instant, id: GuestId, c: Channel) {
        let Some(g) = self.guests.get_mut(&id) else {
            return;
        };
        let wants = g.station.wanted_channel() == Some(c) || g.placed.0 == Some(c);
        if wants && g.station.current_channel() != Some(c) {
            g.station.on_channel(now, c);
            self.pump(now, id);
        }
    }

    fn guests_where(&self, f: impl Fn(&Guest) -> bool) -> Vec<GuestId> {
        self.guests
            .iter()
            .filter(|(_, g)| f(g))
            .map(|(id, _)| *id)
            .collect()
    }

    fn station_seed(&self, id: GuestId) -> [u8; 32] {
        let mut seed = self.seed;
        for (s, b) in seed.iter_mut().zip(id.0.to_le_bytes()) {
            *s ^= b;
        }
        seed[31] ^= 0x5a;
        seed
    }
}

/// A stable 32-byte seed from a guest's name (SHA-1 of a label and the name, padded).
fn name_seed(name: &str) -> [u8; 32] {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(b"vwifi station address\0");
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut seed = [0u8; 32];
    seed[..20].copy_from_slice(&digest);
    seed
}

fn host_capabilities() -> Capabilities {
    Capabilities::from_bits_retain(
        Capabilities::SCAN.bits()
            | Capabilities::OPEN.bits()
            | Capabilities::WPA2_PSK.bits()
            | Capabilities::WPA3_SAE.bits()
            | Capabilities::EVENTS.bits()
            | Capabilities::DATA.bits()
            | Capabilities::ROAM_EVENTS.bits(),
    )
}

fn error(id: Option<RequestId>, code: ErrorCode, text: &str) -> Message {
    Message::Error {
        id,
        code,
        text: Some(text.to_owned()),
    }
}

fn station_error(id: Option<RequestId>, e: &StationError) -> Message {
    let code = match e {
        StationError::NotConnected => ErrorCode::NotConnected,
        StationError::Busy { .. } => ErrorCode::Busy,
        StationError::QueueFull => ErrorCode::Busy,
        _ => ErrorCode::InvalidArgument,
    };
    let mut text = e.to_string();
    text.truncate(proto::MAX_ERROR_TEXT_LEN);
    Message::Error {
        id,
        code,
        text: Some(text),
    }
}

fn push_control(g: &mut Guest, cfg: &MuxConfig, msg: Message) {
    if g.control.len() >= cfg.guest_control_queue {
        g.counters.control_dropped += 1;
    } else {
        g.control.push_back(msg);
    }
}

fn log_event(id: GuestId, ev: &Event) {
    match ev {
        Event::Connected {
            ssid,
            bssid,
            channel,
        } => {
            tracing::info!(guest = id.0, %ssid, %bssid, channel, "connected");
        }
        Event::Disconnected {
            reason,
            locally_generated,
        } => {
            tracing::info!(guest = id.0, reason, locally_generated, "disconnected");
        }
        Event::ConnectFailed { reason } => tracing::info!(guest = id.0, ?reason, "connect failed"),
        Event::SignalChanged { dbm } => tracing::debug!(guest = id.0, dbm, "signal changed"),
        Event::Roamed {
            ssid,
            bssid,
            old_bssid,
            channel,
            roam_ms,
        } => {
            tracing::info!(guest = id.0, %ssid, %bssid, %old_bssid, channel, roam_ms, "roamed");
        }
    }
}

/// The Ethernet frames a station delivers in one [`Mux::pump`], written back to back into
/// shared buffers, each exactly as long as its frames and at most [`Deliveries::CHUNK`] bytes
/// (a longer frame alone): one allocation for several frames (an A-MSDU's MSDUs come out
/// together) instead of one each, and one free on the port's side. Each frame goes to the
/// guest's data queue as a slice of its buffer, in order. Exact lengths matter: a lone frame
/// kept long (a stopped VM's port keeps 1 280) holds no more memory than it did alone.
#[derive(Debug, Default)]
struct Deliveries {
    frames: Vec<EthernetFrame>,
}

impl Deliveries {
    /// The most bytes of frames one buffer holds: a frame kept long keeps at most this much.
    const CHUNK: usize = 16 * 1024;

    /// How many frames wait to be queued.
    fn len(&self) -> usize {
        self.frames.len()
    }

    /// Takes `eth` to be written at [`Deliveries::flush`].
    fn push(&mut self, eth: EthernetFrame) {
        self.frames.push(eth);
    }

    /// Writes the frames taken and queues them, in order.
    fn flush(&mut self, queue: &mut VecDeque<GuestItem>) {
        write_shared(&self.frames, |frame| {
            queue.push_back(GuestItem::Message(Message::Data(frame)));
        });
        self.frames.clear();
    }
}

/// Opens the sealed frames among a guest's items, on the guest's side of the Mux; it keeps
/// its buffers from one call to the next.
#[derive(Debug, Default)]
pub struct ItemOpener {
    /// The sealed frames of the run being gathered.
    run: Vec<rx_stage::Sealed>,
    /// What the last run held.
    unsealed: rx_stage::Unsealed,
}

impl ItemOpener {
    /// An opener with no buffers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the sealed frames among `items` in order ([`rx_stage::open`], each run of them
    /// together): the messages for the guest go to `out` (each sealed frame's Ethernet frames
    /// as [`Message::Data`], written into shared buffers), the EAPOL frames found to `eapol`,
    /// for [`Mux::handle_staged_eapol`].
    pub fn open(
        &mut self,
        items: impl IntoIterator<Item = GuestItem>,
        out: &mut Vec<Message>,
        eapol: &mut Vec<EthernetFrame>,
    ) {
        for item in items {
            match item {
                GuestItem::Sealed(s) => self.run.push(s),
                GuestItem::Message(m) => {
                    self.open_run(out, eapol);
                    out.push(m);
                }
            }
        }
        self.open_run(out, eapol);
    }

    /// Opens the run gathered so far, if any.
    fn open_run(&mut self, out: &mut Vec<Message>, eapol: &mut Vec<EthernetFrame>) {
        if self.run.is_empty() {
            return;
        }
        rx_stage::open(&self.run, &mut self.unsealed);
        self.run.clear();
        write_shared(&self.unsealed.frames, |frame| {
            out.push(Message::Data(frame))
        });
        self.unsealed.frames.clear();
        eapol.append(&mut self.unsealed.eapol);
    }
}

/// Writes `frames` back to back into shared buffers, each exactly as long as its frames and
/// at most [`Deliveries::CHUNK`] bytes (a longer frame alone), and hands each out, in order, as
/// a slice of its buffer.
fn write_shared(frames: &[EthernetFrame], mut hand_out: impl FnMut(Bytes)) {
    let mut at = 0;
    while at < frames.len() {
        // The next group: as many frames as fit a chunk, at least one.
        let (mut end, mut len) = (at, 0);
        while let Some(f) = frames.get(end) {
            if end > at && len + f.buffer_len() > Deliveries::CHUNK {
                break;
            }
            len += f.buffer_len();
            end += 1;
        }
        let group = frames.get(at..end).unwrap_or_default();
        let mut buf = Vec::with_capacity(len);
        for eth in group {
            eth.emit(&mut buf);
        }
        let buf = Bytes::from(buf);
        let mut start = 0;
        for eth in group {
            let stop = start + eth.buffer_len();
            hand_out(buf.slice(start..stop));
            start = stop;
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EtherType;

    fn frame(i: u8, len: usize) -> EthernetFrame {
        EthernetFrame {
            dst: MacAddr([2, 0, 0, 0, 0, 1]),
            src: MacAddr([2, 0, 0, 0, 0, i]),
            ethertype: EtherType::Ipv4,
            payload: Bytes::from(vec![i; len]),
        }
    }

    #[test]
    fn deliveries_share_buffers_and_queue_each_frame_whole_in_order() {
        let frames: Vec<EthernetFrame> = (1..=12).map(|i| frame(i, 1486)).collect();
        let mut queue = VecDeque::new();
        let mut d = Deliveries::default();
        for f in &frames {
            d.push(f.clone());
        }
        assert_eq!((queue.len(), d.len()), (0, 12));
        d.flush(&mut queue);
        assert_eq!((queue.len(), d.len()), (12, 0));
        let got: Vec<Bytes> = queue
            .into_iter()
            .map(|m| match m {
                GuestItem::Message(Message::Data(b)) => b,
                other => panic!("not data: {other:?}"),
            })
            .collect();
        for (g, f) in got.iter().zip(&frames) {
            let mut want = Vec::new();
            f.emit(&mut want);
            assert_eq!(g[..], want[..]);
        }
        // Ten 1 500-byte frames fit 16 KiB: back to back within a buffer, a new buffer for
        // the eleventh.
        for (i, pair) in got.windows(2).enumerate() {
            let adjacent = pair[0].as_ptr().wrapping_add(pair[0].len()) == pair[1].as_ptr();
            assert_eq!(adjacent, i != 9, "frames {i} and {}", i + 1);
        }
    }

    #[test]
    fn a_lone_delivery_takes_a_buffer_of_its_own_length() {
        let mut queue = VecDeque::new();
        let mut d = Deliveries::default();
        d.push(frame(1, 86));
        d.flush(&mut queue);
        let Some(GuestItem::Message(Message::Data(b))) = queue.pop_front() else {
            panic!("no data queued");
        };
        assert_eq!(b.len(), 100);
        // The whole buffer is the frame: `Bytes` turns a full `Vec` into its buffer as it is,
        // and a 16 KiB buffer would have kept a lone small frame's 16 KiB alive.
        let back = Vec::from(b);
        assert_eq!(back.capacity(), 100);
    }
}
