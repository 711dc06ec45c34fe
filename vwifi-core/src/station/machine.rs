//! [`Station`]: the state machine of one virtual station.

mod wpa3;

use std::collections::VecDeque;

use core::fmt;
use core::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tracing::{debug, trace};

use super::softmac::{RxDrop, SoftMac};
use super::{
    BssEntry, BssTable, Command, Failure, StationConfig, StationError, StationOutput, StationStats,
};
use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::crypto::{derive_psk, Pmk, Psk};
use crate::handshake::sae::{
    Pmkid, PmksaCache, Sae, SaePassword, SaeWorkerHandle, RETRY as SAE_RETRY,
};
use crate::handshake::{self, Akm, HandshakeError, Supplicant, SupplicantConfig};
use crate::proto::{
    self, Counters, Credentials, Event, ScanMode, Security, StationState, StationStatus,
};
use crate::radio::{RxMeta, TxStatus};
use crate::time::{Instant, TU};
use crate::wire::{
    AuthAlgorithm, Element, EtherType, EthernetFrame, Frame, FrameControl, FrameType, MgmtBody,
    MgmtFrame, MgmtSubtype, ReasonCode,
};

/// What the guest asked to join, with its secret. Dropped when the station stops trying.
#[derive(Debug)]
struct Profile {
    ssid: proto::Ssid,
    bssid: Option<MacAddr>,
    credentials: Credentials,
    auto_reconnect: bool,
    /// The PSK, derived once per connect request.
    psk: Option<Psk>,
    /// The SAE password (with its hash-to-element PT), made once per connect request.
    sae: Option<SaePassword>,
    /// The PMK of the last SAE exchange.
    sae_pmk: Option<Pmk>,
    /// Failed retries in a row since the last connection (the backoff exponent).
    retries: u32,
}

/// An authentication or association exchange in progress.
#[derive(Debug)]
struct Join {
    bss: BssEntry,
    /// The AKM of a protected join.
    akm: Option<Akm>,
    /// The SAE exchange that authenticates a WPA3 join (none with a cached PMKSA).
    sae: Option<Box<Sae>>,
    /// The PMKID of the cached PMKSA this join resumes (Open System authentication, then the
    /// PMKID in the association request).
    pmkid: Option<Pmkid>,
    /// Requests sent so far.
    attempts: u32,
    /// When the outstanding request times out; `None`: the next request is still to be sent.
    deadline: Option<Instant>,
}

/// An association (handshaking or connected).
#[derive(Debug)]
struct Link {
    bss: BssEntry,
    aid: u16,
    supplicant: Option<Box<Supplicant>>,
    /// Whether the station answered a message 1 (so a failure after it means a wrong key).
    answered_msg1: bool,
    /// Whether unicast data from the AP was heard: from then on `bss.rate_kbps` is its rate,
    /// no longer the beacons'.
    data_rate_known: bool,
}

#[derive(Debug)]
enum Conn {
    Idle,
    /// Waiting for a scan to find the network.
    AwaitScan,
    Auth(Join),
    Assoc(Join),
    Handshake(Link),
    Connected(Link),
    /// Waiting to retry.
    Backoff {
        at: Instant,
    },
}

#[derive(Debug)]
struct ScanRun {
    channels: Vec<Channel>,
    next: usize,
    mode: ScanMode,
    ssid: Option<proto::Ssid>,
    started: Instant,
    /// When the dwell on the current channel ends; `None`: not started (not on it yet).
    dwell_until: Option<Instant>,
    /// Whether the guest asked for it (and gets [`StationOutput::ScanDone`]).
    report: bool,
    /// A background scan of a connected station for a better AP of its network.
    roam: bool,
}

/// A roam in progress: from leaving the old AP until the new AP's keys are in.
#[derive(Debug, Clone, Copy)]
struct Roam {
    /// The AP left.
    from: MacAddr,
    /// When the station decided to move (or found its AP silent).
    started: Instant,
    /// The reason told to the guest if the roam fails.
    reason: ReasonCode,
}

impl ScanRun {
    fn channel(&self) -> Option<Channel> {
        self.channels.get(self.next).copied()
    }
}

/// One guest's virtual station. See the [module documentation](super) for how to drive it.
///
/// Method groups, as in quinn's `Connection`: getters ([`Station::status`],
/// [`Station::wanted_channel`]...), input (`handle_*`, [`Station::send_data`],
/// [`Station::on_channel`], [`Station::off_channel`]) and output ([`Station::poll_output`],
/// then [`Station::poll_timeout`]). A spurious [`Station::handle_timeout`] does nothing.
pub struct Station {
    cfg: StationConfig,
    rng: ChaCha20Rng,
    softmac: SoftMac,
    table: BssTable,
    conn: Conn,
    scan: Option<ScanRun>,
    profile: Option<Profile>,
    failure: Option<Failure>,
    /// The channel the radio is on for this station, as last told.
    current: Option<Channel>,
    /// When the station last arrived on its channel.
    arrived: Instant,
    last_wanted: Option<Channel>,
    /// A null-data frame with the power-management bit went out: the AP buffers for us.
    power_save: bool,
    /// When a frame from the joined AP was last heard.
    last_heard: Instant,
    /// Time spent on the BSS's channel without hearing the AP, over the earlier visits since
    /// it was last heard: beacon loss counts listening time only, across channel switches.
    silent_listening: Duration,
    reported_signal: Option<i8>,
    /// The joined BSS's DTIM timing last reported ([`StationOutput::DtimTiming`]).
    reported_dtim: Option<(Instant, Duration)>,
    /// Scans of the current join that did not find its network ([`JOIN_SCANS`]).
    join_scans: u8,
    tx_queue: VecDeque<Bytes>,
    outputs: VecDeque<StationOutput>,
    counters: Counters,
    stats: StationStats,
    /// PMKs of completed SAE exchanges, by BSSID, for reconnects.
    pmksa: PmksaCache,
    /// The roam in progress, if any: the guest still counts as connected.
    roam: Option<Roam>,
    /// When the last background roam scan ended (or a roam did).
    last_roam_scan: Option<Instant>,
    /// Background scans of every channel in a row since another AP of the network was last
    /// known: each doubles the wait before the next ([`MAX_FULL_SCAN_BACKOFF`]).
    full_roam_scans: u32,
    /// The guest's frames sent during a roam, sent under the new keys once it ends.
    held: VecDeque<EthernetFrame>,
    /// Where SAE's group arithmetic runs ([`Station::set_sae_worker`]).
    sae_worker: SaeWorkerHandle,
}

/// How many scans a join makes for its network before it fails with
/// [`Failure::NetworkNotFound`]: a probe response lost to a slow AP, or to the radio leaving
/// the channel for another guest's slot, must not fail the connect (wpa_supplicant rescans too).
const JOIN_SCANS: u8 = 2;

/// A background roam scan of every channel (no other AP of the network known) that finds none
/// doubles the wait before the next, up to `scan_interval` times 2^this (64 s by default): a
/// lone AP's weak station must not spend its air on scans forever.
const MAX_FULL_SCAN_BACKOFF: u32 = 5;

/// A scan of every channel keeps the station away from its own for seconds (its data waits):
/// the first one waits `scan_interval` times 2^this (8 s by default) after the connection, a
/// roam or the last scan, where a scan of the network's known channels waits `scan_interval`.
const FIRST_FULL_SCAN_BACKOFF: u32 = 2;

/// How far the predicted DTIM may move before it is reported again: beacons leave late by
/// their contention and airtime, a few hundred microseconds, which says nothing new.
const DTIM_JITTER: Duration = Duration::from_millis(2);

impl fmt::Debug for Station {
    /// The address, state and target; never the RNG, keys or credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Station")
            .field("mac", &self.softmac.mac())
            .field("state", &self.state())
            .field("bssid", &self.bssid())
            .field("channel", &self.current)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Station {
    /// A station in the Idle state, with the address and RNG seed of `cfg`.
    pub fn new(cfg: StationConfig) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(cfg.seed),
            softmac: SoftMac::new(cfg.mac),
            cfg,
            table: BssTable::new(),
            conn: Conn::Idle,
            scan: None,
            profile: None,
            failure: None,
            current: None,
            arrived: Instant::ZERO,
            last_wanted: None,
            power_save: false,
            last_heard: Instant::ZERO,
            silent_listening: Duration::ZERO,
            reported_signal: None,
            reported_dtim: None,
            join_scans: 0,
            tx_queue: VecDeque::new(),
            outputs: VecDeque::new(),
            counters: Counters::default(),
            stats: StationStats::default(),
            pmksa: PmksaCache::new(16, PmksaCache::DEFAULT_LIFETIME),
            sae_worker: SaeWorkerHandle::default(),
            roam: None,
            last_roam_scan: None,
            full_roam_scans: 0,
            held: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The station's address.
    pub fn mac(&self) -> MacAddr {
        self.softmac.mac()
    }

    /// The configuration.
    pub fn config(&self) -> &StationConfig {
        &self.cfg
    }

    /// Where the station is in its life cycle.
    pub fn state(&self) -> StationState {
        match &self.conn {
            Conn::Idle | Conn::Backoff { .. } if self.scan.is_some() => StationState::Scanning,
            Conn::Idle | Conn::Backoff { .. } => match self.failure {
                Some(_) => StationState::Failed,
                None => StationState::Idle,
            },
            Conn::AwaitScan => StationState::Scanning,
            Conn::Auth(_) => StationState::Authenticating,
            Conn::Assoc(_) => StationState::Associating,
            Conn::Handshake(_) => StationState::Handshaking,
            Conn::Connected(_) => StationState::Connected,
        }
    }

    /// Whether the station is connected (data flows).
    pub fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected(_))
    }

    /// The BSS joined or being joined (authentication onwards): what the demux routes by.
    pub fn bssid(&self) -> Option<MacAddr> {
        self.target().map(|b| b.bssid)
    }

    /// The association ID the AP gave, while associated (handshaking or connected).
    pub fn aid(&self) -> Option<u16> {
        match &self.conn {
            Conn::Handshake(l) | Conn::Connected(l) => Some(l.aid),
            _ => None,
        }
    }

    /// The status, as the guest protocol reports it.
    pub fn status(&self) -> StationStatus {
        let target = self.target();
        let link = match &self.conn {
            Conn::Connected(l) => Some(&l.bss),
            _ => None,
        };
        StationStatus {
            state: self.state(),
            mac: self.mac(),
            ssid: target
                .map(|b| b.ssid)
                .or_else(|| self.profile.as_ref().map(|p| p.ssid)),
            bssid: target
                .map(|b| b.bssid)
                .or_else(|| self.profile.as_ref().and_then(|p| p.bssid)),
            channel: target.map(|b| b.channel.number()),
            frequency_mhz: target.map(|b| b.channel.frequency_mhz()),
            signal_dbm: link.map(|b| b.signal_dbm),
            tx_rate_kbps: link.map(|b| b.rate_kbps),
            phy: link.map(link_phy),
            counters: self.counters(),
        }
    }

    /// The channel of the network the station is joining or joined, as [`Station::status`]
    /// reports it, without building the rest of the status (the Mux asks after every output).
    pub fn bss_channel(&self) -> Option<Channel> {
        self.target().map(|b| b.channel)
    }

    /// Why the last connection attempt failed, until the next connect request or connection.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The guest-visible traffic counters.
    pub fn counters(&self) -> Counters {
        self.totals().0
    }

    /// Counters by cause (drops, losses, reconnects).
    pub fn stats(&self) -> StationStats {
        self.totals().1
    }

    /// The station's own counters with what its receive stages counted.
    fn totals(&self) -> (Counters, StationStats) {
        let (mut counters, mut stats) = (self.counters, self.stats);
        self.softmac
            .stage_counts()
            .add_to(&mut counters, &mut stats);
        (counters, stats)
    }

    /// The BSSs the station has heard.
    pub fn bss_table(&self) -> &BssTable {
        &self.table
    }

    /// The channel the station needs the radio on now: the channel being scanned, else its
    /// BSS's channel (from authentication on), else none. Changes are also announced as
    /// [`StationOutput::WantChannel`].
    pub fn wanted_channel(&self) -> Option<Channel> {
        if let Some(c) = self.scan.as_ref().and_then(ScanRun::channel) {
            return Some(c);
        }
        self.target().map(|b| b.channel)
    }

    /// The channel the station was last told the radio is on for it ([`Station::on_channel`]),
    /// if it was not told it left since.
    pub fn current_channel(&self) -> Option<Channel> {
        self.current
    }

    /// Whether the station told its AP it is in power save (it is away from its channel).
    pub fn is_power_save(&self) -> bool {
        self.power_save
    }

    fn target(&self) -> Option<&BssEntry> {
        match &self.conn {
            Conn::Auth(j) | Conn::Assoc(j) => Some(&j.bss),
            Conn::Handshake(l) | Conn::Connected(l) => Some(&l.bss),
            _ => None,
        }
    }

    // ---- input ----

    /// Changes the station's address (a guest asking for another). Only while the station is
    /// idle (not connected, joining, waiting to reconnect or scanning).
    pub fn set_mac(&mut self, mac: MacAddr) -> Result<(), StationError> {
        if !mac.is_unicast() || mac == MacAddr::ZERO {
            return Err(StationError::InvalidMac(mac));
        }
        if !matches!(self.conn, Conn::Idle) || self.scan.is_some() || self.profile.is_some() {
            return Err(StationError::Busy {
                what: "the address changes only while idle",
            });
        }
        self.softmac.set_mac(mac);
        Ok(())
    }

    /// A request of the guest. Errors are misuse only (a scan while joining, an empty SSID);
    /// the outcome of a connect request comes as events.
    pub fn handle_command(&mut self, now: Instant, command: Command) -> Result<(), StationError> {
        match command {
            Command::Scan { ssid, mode } => {
                if matches!(
                    self.conn,
                    Conn::AwaitScan | Conn::Auth(_) | Conn::Assoc(_) | Conn::Handshake(_)
                ) {
                    return Err(StationError::Busy { what: "joining" });
                }
                // A background roam scan gives way to the guest's (it runs again later).
                if self.scan.as_ref().is_some_and(|s| s.roam) {
                    self.scan = None;
                }
                if self.scan.is_some() {
                    return Err(StationError::Busy { what: "scanning" });
                }
                self.start_scan(now, ssid, mode, true);
            }
            Command::Connect {
                ssid,
                bssid,
                credentials,
                auto_reconnect,
            } => {
                if ssid.is_empty() {
                    return Err(StationError::EmptySsid);
                }
                if let Some(b) = bssid.filter(|b| !b.is_unicast()) {
                    return Err(StationError::InvalidMac(b));
                }
                self.leave(ReasonCode::DeauthLeaving);
                self.failure = None;
                debug!(station = %self.mac(), ssid = %ssid, "connect requested");
                self.profile = Some(Profile {
                    ssid,
                    bssid,
                    credentials,
                    auto_reconnect,
                    psk: None,
                    sae: None,
                    sae_pmk: None,
                    retries: 0,
                });
                self.start_join(now);
            }
            Command::Disconnect => {
                debug!(station = %self.mac(), "disconnect requested");
                self.leave(ReasonCode::DeauthLeaving);
                self.profile = None;
                self.failure = None;
                self.set_conn(Conn::Idle);
            }
        }
        self.sync(now);
        Ok(())
    }

    /// An 802.11 frame (without FCS) heard for this station: addressed to it, group-addressed,
    /// or a beacon or probe response. Anything else is ignored; bad frames are counted, never
    /// an error.
    pub fn handle_frame(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        // Protected management frames (PMF) are checked and decrypted before they are parsed.
        let Some(frame) = self.receive_pmf(frame) else {
            self.sync(now);
            return;
        };
        let frame = &frame;
        match Frame::parse_bytes(frame) {
            Ok(Frame::Management(m)) => self.on_mgmt(now, m, meta),
            Ok(Frame::Data(d)) => self.on_data(now, frame, &d, meta),
            Ok(Frame::Control(_) | Frame::Unknown(_)) => {}
            Err(e) => {
                self.stats.malformed += 1;
                trace!(station = %self.mac(), error = %e, "malformed frame dropped");
            }
        }
        self.sync(now);
    }

    /// Decrypts ahead, together, the frames of a batch about to be given to
    /// [`Station::handle_frame`] one by one that its pairwise key opens
    /// ([`SoftMac::open_batch`]); [`Station::forget_opened`] ends the batch.
    pub fn open_batch(&mut self, frames: &[Bytes]) {
        self.softmac.open_batch(frames);
    }

    /// Forgets what [`Station::open_batch`] decrypted and was not taken.
    pub fn forget_opened(&mut self) {
        self.softmac.forget_opened();
    }

    /// How many data frames were taken decrypted from a batch ([`Station::open_batch`]).
    pub fn batch_decrypted(&self) -> u64 {
        self.softmac.batch_decrypted()
    }

    /// Whether its protected unicast data frames go sealed to a receive stage now
    /// ([`StationConfig::stage_rx`], once connected).
    pub fn stages_rx(&self) -> bool {
        self.softmac.staging()
    }

    /// How many data frames were handed on sealed and opened by a receive stage
    /// ([`StationConfig::stage_rx`]).
    pub fn stage_opened(&self) -> u64 {
        self.softmac.stage_counts().opened()
    }

    /// An EAPOL frame a receive stage found in a frame this station handed on sealed
    /// ([`StationOutput::DeliverSealed`]): a rekey, for the supplicant.
    pub fn receive_staged_eapol(&mut self, now: Instant, eth: &EthernetFrame) {
        self.supplicant_eapol(now, eth);
        self.sync(now);
    }

    fn supplicant_eapol(&mut self, now: Instant, eth: &EthernetFrame) {
        if let Conn::Handshake(l) | Conn::Connected(l) = &mut self.conn {
            if let Some(s) = &mut l.supplicant {
                if let Err(e) = s.handle_eapol(now, &eth.payload, &mut self.rng) {
                    trace!(error = %e, "EAPOL frame rejected");
                }
            }
        }
        self.drain_supplicant(now);
    }

    /// The outcome of a frame this station transmitted. An unacknowledged authentication or
    /// association request is retried at once (it counts as an attempt).
    pub fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus) {
        if status != TxStatus::NotAcked {
            return;
        }
        self.stats.tx_not_acked += 1;
        let fc = match (frame.first(), frame.get(1)) {
            (Some(&a), Some(&b)) => FrameControl::from_u16(u16::from_le_bytes([a, b])),
            _ => return,
        };
        let pending = match (&mut self.conn, fc.frame_type) {
            (Conn::Auth(j), FrameType::Management(MgmtSubtype::Authentication))
            | (Conn::Assoc(j), FrameType::Management(MgmtSubtype::AssocRequest))
            | (Conn::Assoc(j), FrameType::Management(MgmtSubtype::ReassocRequest)) => Some(j),
            _ => None,
        };
        if let Some(j) = pending {
            if j.deadline.is_some() {
                j.deadline = None;
            }
        }
        self.sync(now);
    }

    /// Time has come (see [`Station::poll_timeout`]): ends scan dwells, retries or gives up
    /// requests, runs the supplicant's deadline, detects beacon loss, starts reconnects.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(scan) = &mut self.scan {
            if scan.dwell_until.is_some_and(|d| now >= d) {
                scan.next += 1;
                scan.dwell_until = None;
                let (roam, started, done) =
                    (scan.roam, scan.started, scan.next >= scan.channels.len());
                // A background scan over every channel (no other AP of the network known)
                // stops at the first channel that gave a better AP: the rest would take
                // seconds of home slots while the link weakens.
                if done || (roam && self.roam_candidate(started).is_some()) {
                    self.finish_scan(now);
                }
            }
        }
        let beacon_loss = self.beacon_loss_deadline().is_some_and(|d| now >= d);
        match &mut self.conn {
            // Resent (or given up) by `arrive`, from `sync` below.
            Conn::Auth(j) | Conn::Assoc(j) if j.deadline.is_some_and(|d| now >= d) => {
                j.deadline = None;
            }
            Conn::Handshake(l) => {
                if let Some(s) = &mut l.supplicant {
                    s.handle_timeout(now);
                }
                self.drain_supplicant(now);
            }
            Conn::Connected(_) if beacon_loss => self.beacon_lost(now),
            Conn::Backoff { at } if now >= *at => {
                self.stats.reconnects += 1;
                debug!(station = %self.mac(), "reconnecting");
                self.start_join(now);
            }
            _ => {}
        }
        self.sync(now);
    }

    /// An Ethernet frame from the guest. Only while connected; its source must be the
    /// station's address and its EtherType neither EAPOL nor guest control. While the station
    /// is away from its channel the frame waits in a bounded queue.
    pub fn send_data(&mut self, now: Instant, frame: EthernetFrame) -> Result<(), StationError> {
        let result = self.try_send_data(frame);
        if result.is_err() {
            self.counters.tx_dropped += 1;
        }
        self.sync(now);
        result
    }

    /// Ethernet frames from the guest handed over together (one read of its port): each as
    /// [`Station::send_data`] would, but runs of unicast frames go in A-MSDUs (one MPDU, one
    /// sequence number, protected once) on a link that takes them ([`Station::amsdu_limit`]),
    /// each A-MSDU within the AP's maximum A-MSDU length. Returns the errors of the frames not
    /// sent, in order. `max_mpdu`: what the AP's radio takes at most, if less than its
    /// capabilities say (a kernel radio: [`crate::wire::amsdu::KERNEL_RADIO_MAX_MPDU`]).
    pub fn send_data_batch(
        &mut self,
        now: Instant,
        frames: impl IntoIterator<Item = EthernetFrame>,
        max_mpdu: Option<usize>,
    ) -> Vec<StationError> {
        let limit = self
            .amsdu_limit()
            .min(max_mpdu.map_or(usize::MAX, crate::wire::amsdu::within_mpdu));
        let mut errors = Vec::new();
        let mut run: Vec<EthernetFrame> = Vec::new();
        for frame in frames {
            if limit == 0 || frame.dst.is_group() {
                self.send_run(&mut run, limit, &mut errors);
                if let Err(e) = self.try_send_data(frame) {
                    errors.push(e);
                }
            } else if let Err(e) = self.check_guest_frame(&frame) {
                errors.push(e);
            } else {
                run.push(frame);
            }
        }
        self.send_run(&mut run, limit, &mut errors);
        self.counters.tx_dropped += errors.len() as u64;
        self.sync(now);
        errors
    }

    /// The longest A-MSDU the station sends now, 0 for none: connected, on its channel and
    /// awake (frames queued off-channel go one by one), A-MSDUs configured, and a link of HT or
    /// newer to an AP that takes them (its HT/VHT Capabilities,
    /// [`crate::phy::elements::amsdu_limit`]). Never on an 802.11g link.
    pub fn amsdu_limit(&self) -> usize {
        let Conn::Connected(link) = &self.conn else {
            return 0;
        };
        if !self.cfg.amsdu || !self.can_transmit_on(link.bss.channel) {
            return 0;
        }
        let common = crate::phy::PhyCaps::STATION_DEFAULT.common(&link.bss.phy, link.bss.channel);
        crate::phy::elements::amsdu_limit(common.standard, link.bss.max_amsdu)
    }

    /// Sends the checked unicast frames of `run` (emptied), in A-MSDUs of at most `limit`
    /// octets; a frame that fits no A-MSDU with another goes alone.
    fn send_run(
        &mut self,
        run: &mut Vec<EthernetFrame>,
        limit: usize,
        errors: &mut Vec<StationError>,
    ) {
        let mut rest = run.as_slice();
        // A-MSDUs in a row, sealed together once a frame must go alone or the run ends.
        let mut groups: Vec<&[EthernetFrame]> = Vec::new();
        while !rest.is_empty() {
            let n =
                crate::wire::amsdu::fitting(rest.iter().map(EthernetFrame::data_body_len), limit);
            let (now, later) = rest.split_at(n.clamp(1, rest.len()));
            rest = later;
            if let [one] = now {
                self.send_amsdus(&mut groups, errors);
                if let Err(e) = self.try_send_data(one.clone()) {
                    errors.push(e);
                }
                continue;
            }
            groups.push(now);
        }
        self.send_amsdus(&mut groups, errors);
        run.clear();
    }

    /// Sends the A-MSDUs of `groups` (emptied), in order, sealed in one batch.
    fn send_amsdus(&mut self, groups: &mut Vec<&[EthernetFrame]>, errors: &mut Vec<StationError>) {
        if groups.is_empty() {
            return;
        }
        let Conn::Connected(link) = &self.conn else {
            errors.extend(
                groups
                    .iter()
                    .flat_map(|g| g.iter())
                    .map(|_| StationError::NotConnected),
            );
            groups.clear();
            return;
        };
        let (bssid, channel) = (link.bss.bssid, link.bss.channel);
        match self.softmac.data_amsdus(bssid, groups) {
            Ok(mpdus) => {
                for (now, bytes) in groups.iter().zip(mpdus) {
                    self.counters.tx_packets += now.len() as u64;
                    self.counters.tx_bytes +=
                        now.iter().map(|f| f.buffer_len() as u64).sum::<u64>();
                    self.stats.amsdu_tx += 1;
                    self.stats.amsdu_tx_msdus += now.len() as u64;
                    self.transmit_or_queue(bytes, channel);
                }
            }
            Err(e) => {
                let n = groups.iter().map(|g| g.len()).sum::<usize>();
                errors.extend(std::iter::repeat_n(StationError::from(e), n));
            }
        }
        groups.clear();
    }

    /// A guest frame's source must be the station's address and its EtherType neither EAPOL
    /// nor guest control.
    fn check_guest_frame(&self, frame: &EthernetFrame) -> Result<(), StationError> {
        if frame.src != self.mac() {
            return Err(StationError::SourceAddressMismatch {
                expected: self.mac(),
                got: frame.src,
            });
        }
        if matches!(frame.ethertype, EtherType::Eapol | EtherType::VwifiControl) {
            return Err(StationError::ReservedEtherType {
                ethertype: frame.ethertype.into(),
            });
        }
        Ok(())
    }

    fn try_send_data(&mut self, frame: EthernetFrame) -> Result<(), StationError> {
        if self.roam.is_some() && !self.is_connected() {
            return self.hold(frame);
        }
        let Conn::Connected(link) = &self.conn else {
            return Err(StationError::NotConnected);
        };
        let (bssid, channel) = (link.bss.bssid, link.bss.channel);
        self.check_guest_frame(&frame)?;
        if !self.can_transmit_on(channel) && self.tx_queue.len() >= self.cfg.tx_queue_limit {
            return Err(StationError::QueueFull);
        }
        let bytes = self.softmac.data(bssid, &frame)?;
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += frame.buffer_len() as u64;
        self.transmit_or_queue(bytes, channel);
        Ok(())
    }

    /// Keeps a guest frame sent during a roam, to send once the new AP's keys are in.
    fn hold(&mut self, frame: EthernetFrame) -> Result<(), StationError> {
        self.check_guest_frame(&frame)?;
        if self.held.len() >= self.cfg.tx_queue_limit {
            self.stats.roam_dropped += 1;
            return Err(StationError::QueueFull);
        }
        self.held.push_back(frame);
        Ok(())
    }

    /// The radio is now on `channel` for this station (the scheduler's answer to
    /// [`Station::wanted_channel`]). Back on its BSS's channel after being away, a connected
    /// station sends a null-data frame with power management clear, then its queued frames.
    pub fn on_channel(&mut self, now: Instant, channel: Channel) {
        self.current = Some(channel);
        if self.target().is_some_and(|b| b.channel == channel) {
            self.arrived = now;
        }
        self.sync(now);
    }

    /// The radio is about to leave the station's channel. A connected station on its BSS's
    /// channel queues a null-data frame with power management set, which the caller must
    /// transmit (drain [`Station::poll_output`]) before retuning; a scan dwell or an
    /// authentication/association request in flight restarts on return.
    pub fn off_channel(&mut self, now: Instant) {
        if let Some(cur) = self.current {
            self.enter_power_save(now, cur);
            if let Some(scan) = &mut self.scan {
                if scan.channel() == Some(cur) {
                    scan.dwell_until = None;
                }
            }
            if let Conn::Auth(j) | Conn::Assoc(j) = &mut self.conn {
                if j.bss.channel == cur && j.deadline.take().is_some() {
                    j.attempts = j.attempts.saturating_sub(1);
                }
            }
        }
        self.current = None;
        self.sync(now);
    }

    // ---- output ----

    /// Runs the group arithmetic of later SAE exchanges on `worker` (by default on the
    /// caller's thread): a daemon keeps it off the thread that carries the guests' data.
    pub fn set_sae_worker(&mut self, worker: SaeWorkerHandle) {
        self.sae_worker = worker;
    }

    /// The next thing to do. Drain after every input call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<StationOutput> {
        self.outputs.pop_front()
    }

    /// When [`Station::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let scan = self.scan.as_ref().and_then(|s| s.dwell_until);
        let conn = match &self.conn {
            Conn::Auth(j) | Conn::Assoc(j) => j.deadline,
            Conn::Handshake(l) => l.supplicant.as_ref().and_then(|s| s.poll_timeout()),
            Conn::Connected(_) => self.beacon_loss_deadline(),
            Conn::Backoff { at } => Some(*at),
            Conn::Idle | Conn::AwaitScan => None,
        };
        [scan, conn].into_iter().flatten().min()
    }

    // ---- internals ----

    fn set_conn(&mut self, conn: Conn) {
        let before = self.state();
        self.conn = conn;
        let after = self.state();
        if before != after {
            debug!(station = %self.mac(), from = ?before, to = ?after, "state");
        }
    }

    fn take_conn(&mut self) -> Conn {
        core::mem::replace(&mut self.conn, Conn::Idle)
    }

    fn push(&mut self, output: StationOutput) {
        self.outputs.push_back(output);
    }

    fn event(&mut self, event: Event) {
        self.push(StationOutput::Event(event));
    }

    fn transmit(&mut self, frame: Bytes, channel: Channel) {
        self.push(StationOutput::Transmit { frame, channel });
    }

    fn can_transmit_on(&self, channel: Channel) -> bool {
        self.current == Some(channel) && !self.power_save
    }

    fn transmit_or_queue(&mut self, frame: Bytes, channel: Channel) {
        if self.can_transmit_on(channel) {
            self.transmit(frame, channel);
        } else {
            self.tx_queue.push_back(frame);
        }
    }

    /// Sends a null-data frame with power management set if the station is associated
    /// (handshaking or connected) and on its BSS's channel `cur` and has not yet. During the
    /// handshake too: the AP then buffers its EAPOL messages instead of losing them while the
    /// radio serves another channel.
    fn enter_power_save(&mut self, now: Instant, cur: Channel) {
        let bssid = match &self.conn {
            Conn::Handshake(l) | Conn::Connected(l) if l.bss.channel == cur && !self.power_save => {
                l.bss.bssid
            }
            _ => return,
        };
        if let Some(since) = self.listening_since() {
            self.silent_listening += now.saturating_duration_since(since);
        }
        let null = self.softmac.null(bssid, true);
        self.transmit(null, cur);
        self.power_save = true;
        trace!(station = %self.mac(), "power save on");
    }

    /// Announces channel changes and does the work that waits for the current channel, until
    /// nothing changes.
    fn sync(&mut self, now: Instant) {
        for _ in 0..8 {
            let want = self.wanted_channel();
            if want == self.last_wanted && !self.arrive_pending() {
                return;
            }
            if want != self.last_wanted {
                if let (Some(cur), true) = (self.current, want != self.current) {
                    self.enter_power_save(now, cur);
                }
                self.last_wanted = want;
                self.push(StationOutput::WantChannel(want));
            }
            self.arrive(now);
        }
    }

    /// Whether [`Self::arrive`] has work to do.
    fn arrive_pending(&self) -> bool {
        let Some(cur) = self.current else {
            return false;
        };
        if let Some(scan) = &self.scan {
            return scan.channel() == Some(cur) && scan.dwell_until.is_none();
        }
        match &self.conn {
            Conn::Auth(j) | Conn::Assoc(j) => j.bss.channel == cur && j.deadline.is_none(),
            Conn::Handshake(l) | Conn::Connected(l) => l.bss.channel == cur && self.power_save,
            _ => false,
        }
    }

    /// The work that waits for the radio to be on the current channel: a scan dwell (with its
    /// probe request), the next authentication or association request, leaving power save.
    fn arrive(&mut self, now: Instant) {
        if !self.arrive_pending() {
            return;
        }
        let Some(cur) = self.current else {
            return;
        };
        // A scan started only to find the network to join, that had to wait for the radio: if
        // the network was heard meanwhile (the radio served other guests), join it now.
        if let (Some(scan), Some(p), Conn::AwaitScan) = (&self.scan, &self.profile, &self.conn) {
            let waiting = !scan.report && scan.next == 0 && scan.dwell_until.is_none();
            if waiting && self.table.best(&p.ssid, p.bssid, scan.started).is_some() {
                self.finish_scan(now);
                self.sync(now);
                return;
            }
        }
        if let Some(scan) = &mut self.scan {
            let dwell = match scan.mode {
                ScanMode::Active => self.cfg.scan.active_dwell,
                ScanMode::Passive => self.cfg.scan.passive_dwell,
            };
            scan.dwell_until = Some(now + dwell);
            if scan.mode == ScanMode::Active {
                let ssid = scan.ssid.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
                let probe = self.softmac.probe_request(&ssid, cur.band());
                self.transmit(probe, cur);
            }
            return;
        }
        match &self.conn {
            Conn::Auth(_) | Conn::Assoc(_) => self.send_join_request(now),
            Conn::Handshake(l) | Conn::Connected(l) => {
                let null = self.softmac.null(l.bss.bssid, false);
                self.transmit(null, cur);
                self.power_save = false;
                self.arrived = now;
                trace!(station = %self.mac(), queued = self.tx_queue.len(), "power save off");
                while let Some(frame) = self.tx_queue.pop_front() {
                    self.transmit(frame, cur);
                }
            }
            _ => {}
        }
    }

    fn send_join_request(&mut self, now: Instant) {
        if matches!(&self.conn, Conn::Auth(j) if j.sae.is_some()) {
            self.sae_auth_step(now);
            return;
        }
        let max = self.cfg.mgmt_attempts;
        let timeout = self.cfg.mgmt_timeout;
        let listen_interval = self.cfg.listen_interval;
        let (frame, channel, exhausted) = match &mut self.conn {
            Conn::Auth(j) | Conn::Assoc(j) if j.attempts >= max => (None, j.bss.channel, true),
            Conn::Auth(j) => {
                j.attempts += 1;
                j.deadline = Some(now + timeout);
                (
                    Some(self.softmac.auth_request(j.bss.bssid)),
                    j.bss.channel,
                    false,
                )
            }
            Conn::Assoc(j) => {
                j.attempts += 1;
                j.deadline = Some(now + timeout);
                let rsne = j.akm.map(|akm| wpa3::station_rsne(&j.bss, akm, j.pmkid));
                // Only to an AP that advertises hash-to-element: hostapd keeps the association
                // request's RSNXE, and message 2 must repeat it.
                let rsnxe = (j.akm == Some(Akm::Sae) && j.bss.sae_h2e).then(wpa3::station_rsnxe);
                let frame = match self.roam {
                    // Roaming: a Reassociation Request naming the AP left.
                    Some(r) => self.softmac.reassoc_request(
                        &j.bss,
                        listen_interval,
                        rsne.as_ref(),
                        rsnxe.as_ref(),
                        r.from,
                    ),
                    None => self.softmac.assoc_request_with_rsnxe(
                        &j.bss,
                        listen_interval,
                        rsne.as_ref(),
                        rsnxe.as_ref(),
                    ),
                };
                (Some(frame), j.bss.channel, false)
            }
            _ => return,
        };
        if exhausted {
            debug!(station = %self.mac(), "no response from the AP");
            self.fail(now, Failure::ApUnreachable, None);
        } else if let Some(frame) = frame {
            self.transmit(frame, channel);
        }
    }

    fn start_scan(
        &mut self,
        now: Instant,
        ssid: Option<proto::Ssid>,
        mode: ScanMode,
        report: bool,
    ) {
        debug!(station = %self.mac(), ?mode, report, "scan started");
        self.scan = Some(ScanRun {
            channels: self.cfg.scan.channels.clone(),
            next: 0,
            mode,
            ssid,
            started: now,
            dwell_until: None,
            report,
            roam: false,
        });
        if self.cfg.scan.channels.is_empty() {
            self.finish_scan(now);
        }
    }

    fn finish_scan(&mut self, now: Instant) {
        let Some(run) = self.scan.take() else {
            return;
        };
        self.table.expire(now, self.cfg.bss_max_age);
        debug!(station = %self.mac(), bss = self.table.len(), "scan done");
        if run.report {
            let results = self.table.results(now, run.started, run.ssid.as_ref());
            self.push(StationOutput::ScanDone(results));
        }
        if run.roam && self.is_connected() {
            self.consider_roam(now, run.started);
            return;
        }
        if !matches!(self.conn, Conn::AwaitScan) {
            return;
        }
        let Some(p) = &self.profile else {
            self.set_conn(Conn::Idle);
            return;
        };
        match self.table.best(&p.ssid, p.bssid, run.started).cloned() {
            Some(bss) => self.begin_auth(now, bss),
            // The guest's own scan may have looked for another network: look for ours.
            None if run.report => {
                let ssid = p.ssid;
                self.start_scan(now, Some(ssid), ScanMode::Active, false);
            }
            None if self.join_scans + 1 < JOIN_SCANS => {
                self.join_scans += 1;
                let ssid = p.ssid;
                debug!(station = %self.mac(), %ssid, "network not seen: scanning again");
                self.start_scan(now, Some(ssid), ScanMode::Active, false);
            }
            None => self.fail(now, Failure::NetworkNotFound, None),
        }
    }

    /// Starts (or restarts) joining the profile's network: with a fresh BSS table entry at
    /// once, else after a scan.
    fn start_join(&mut self, now: Instant) {
        let Some(p) = &self.profile else {
            self.set_conn(Conn::Idle);
            return;
        };
        self.table.expire(now, self.cfg.bss_max_age);
        let fresh_since =
            Instant::from_micros(now.as_micros().saturating_sub(micros(self.cfg.bss_fresh)));
        let (ssid, bssid) = (p.ssid, p.bssid);
        if let Some(bss) = self.table.best(&ssid, bssid, fresh_since).cloned() {
            self.begin_auth(now, bss);
            return;
        }
        self.set_conn(Conn::AwaitScan);
        self.join_scans = 0;
        if self.scan.is_none() {
            self.start_scan(now, Some(ssid), ScanMode::Active, false);
        }
    }

    /// Checks the credentials against the BSS's security and starts authentication: SAE for
    /// a WPA3 (or transition) network unless a cached PMKSA lets the station skip it.
    fn begin_auth(&mut self, now: Instant, bss: BssEntry) {
        let me = self.mac();
        let Some(p) = &mut self.profile else {
            return;
        };
        let mismatch = Failure::SecurityMismatch {
            network: bss.security,
            credentials: (&p.credentials).into(),
        };
        let akm = wpa3::choose_akm(bss.security, &p.credentials);
        let failure = match (bss.security, &p.credentials, akm) {
            (Security::Open, Credentials::None, _) => None,
            (Security::Open, _, _) => Some(mismatch),
            (_, Credentials::None, _) => Some(mismatch),
            (_, Credentials::Passphrase(pass), Some(Akm::Sae)) => {
                if p.sae.is_none() {
                    p.sae = Some(SaePassword::new(pass.expose()).with_h2e(p.ssid.as_bytes()));
                }
                None
            }
            (_, Credentials::Passphrase(pass), Some(Akm::Psk)) => {
                if p.psk.is_none() {
                    p.psk = derive_psk(pass, p.ssid.as_bytes()).ok();
                }
                p.psk.is_none().then_some(mismatch)
            }
            (_, Credentials::Psk(psk), Some(Akm::Psk)) => {
                p.psk = Some(psk.clone());
                None
            }
            (Security::Wpa3Sae, Credentials::Psk(_), _) => Some(mismatch),
            (network, _, _) => Some(Failure::UnsupportedSecurity { network }),
        };
        if let Some(f) = failure {
            self.fail(now, f, None);
            return;
        }
        let (sae, pmkid) = match (akm, &p.sae) {
            (Some(Akm::Sae), Some(password)) => match self.pmksa.get(now, bss.bssid) {
                Some(cached) => (None, Some(cached.pmkid)),
                None => (
                    Some(Box::new(
                        Sae::initiator(me, bss.bssid, password.clone(), bss.sae_h2e, SAE_RETRY)
                            .with_worker(self.sae_worker.clone()),
                    )),
                    None,
                ),
            },
            _ => (None, None),
        };
        debug!(station = %self.mac(), bssid = %bss.bssid, channel = bss.channel.number(),
               sae = sae.is_some(), pmksa = pmkid.is_some(), "joining");
        self.set_conn(Conn::Auth(Join {
            bss,
            akm,
            sae,
            pmkid,
            attempts: 0,
            deadline: None,
        }));
    }

    /// Leaves whatever the station is doing, at the guest's request: deauthenticates if
    /// authenticated, reports a disconnection if connected. Stops a join scan.
    fn leave(&mut self, reason: ReasonCode) {
        if self.scan.as_ref().is_some_and(|s| !s.report) {
            self.scan = None;
        }
        let conn = self.take_conn();
        match &conn {
            Conn::Connected(l) => {
                self.deauth(l.bss.bssid, l.bss.channel, reason);
                self.event(Event::Disconnected {
                    reason: reason.into(),
                    locally_generated: true,
                });
            }
            Conn::Assoc(Join { bss, .. }) | Conn::Handshake(Link { bss, .. }) => {
                self.deauth(bss.bssid, bss.channel, reason);
            }
            _ => {}
        }
        if self.roam.take().is_some() {
            // The guest still counted as connected.
            self.event(Event::Disconnected {
                reason: reason.into(),
                locally_generated: true,
            });
        }
        self.drop_held();
        self.conn = conn;
        self.set_conn(Conn::Idle);
        self.reset_link();
    }

    /// Sends a deauthentication if the radio is on the BSS's channel (otherwise the AP will
    /// time the station out).
    fn deauth(&mut self, bssid: MacAddr, channel: Channel, reason: ReasonCode) {
        if self.current == Some(channel) {
            let frame = self.softmac.deauth(bssid, reason);
            self.transmit(frame, channel);
        }
    }

    fn reset_link(&mut self) {
        self.softmac.clear_keys();
        self.power_save = false;
        self.tx_queue.clear();
        self.reported_signal = None;
    }

    /// A connection attempt failed: report it, then retry later or stop.
    fn fail(&mut self, now: Instant, failure: Failure, deauth: Option<ReasonCode>) {
        if let (Some(reason), Some(bss)) = (deauth, self.target()) {
            let (bssid, channel) = (bss.bssid, bss.channel);
            self.deauth(bssid, channel, reason);
        }
        self.set_conn(Conn::Idle);
        self.reset_link();
        self.drop_held();
        if let Some(roam) = self.roam.take() {
            // The guest was connected all along: a roam that finds no AP is a disconnection.
            self.stats.roam_failures += 1;
            debug!(station = %self.mac(), ?failure, from = %roam.from, "roam failed: disconnected");
            self.event(Event::Disconnected {
                reason: roam.reason.into(),
                locally_generated: true,
            });
            self.schedule_retry(now, failure.is_transient());
            return;
        }
        self.failure = Some(failure);
        debug!(station = %self.mac(), ?failure, "connection attempt failed");
        self.event(Event::ConnectFailed {
            reason: failure.into(),
        });
        self.schedule_retry(now, failure.is_transient());
    }

    /// The connection was lost: report it, then reconnect later or stop.
    fn link_lost(&mut self, now: Instant, reason: ReasonCode, locally_generated: bool) {
        if locally_generated {
            if let Some(bss) = self.target() {
                let (bssid, channel) = (bss.bssid, bss.channel);
                self.deauth(bssid, channel, reason);
            }
        }
        self.set_conn(Conn::Idle);
        self.reset_link();
        debug!(station = %self.mac(), ?reason, locally_generated, "disconnected");
        self.event(Event::Disconnected {
            reason: reason.into(),
            locally_generated,
        });
        self.schedule_retry(now, true);
    }

    fn schedule_retry(&mut self, now: Instant, transient: bool) {
        let policy = self.cfg.reconnect;
        match &mut self.profile {
            Some(p)
                if p.auto_reconnect
                    && transient
                    && policy.max_attempts.is_none_or(|m| p.retries < m) =>
            {
                let base = policy.delay(p.retries);
                let jitter_max = micros(base) / 4;
                let jitter = match jitter_max {
                    0 => 0,
                    j => self.rng.next_u64() % (j + 1),
                };
                let delay = (base + Duration::from_micros(jitter)).min(policy.max);
                p.retries += 1;
                debug!(retry = p.retries, ?delay, "reconnect scheduled");
                self.set_conn(Conn::Backoff { at: now + delay });
            }
            _ => {
                // Not trying any more: the credentials go.
                self.profile = None;
                self.set_conn(Conn::Idle);
            }
        }
    }

    /// Since when a connected station has been listening on its BSS's channel without
    /// hearing the AP, if it is listening now.
    fn listening_since(&self) -> Option<Instant> {
        let Conn::Connected(l) = &self.conn else {
            return None;
        };
        if self.current != Some(l.bss.channel) || self.power_save || self.scan.is_some() {
            return None;
        }
        Some(self.last_heard.max(self.arrived))
    }

    fn beacon_loss_deadline(&self) -> Option<Instant> {
        let since = self.listening_since()?;
        let Conn::Connected(l) = &self.conn else {
            return None;
        };
        let window = l.bss.beacon_period() * self.cfg.beacon_loss_count;
        Some(since + window.saturating_sub(self.silent_listening))
    }

    /// The joined AP was heard.
    fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.silent_listening = Duration::ZERO;
    }

    fn beacon_lost(&mut self, now: Instant) {
        self.stats.beacon_losses += 1;
        let Some(bssid) = self.bssid() else {
            return;
        };
        debug!(station = %self.mac(), %bssid, "beacon loss");
        self.table.remove(bssid);
        let others = self.ess_channels();
        if !self.may_roam() || others.is_empty() {
            self.link_lost(now, ReasonCode::Inactivity, true);
            return;
        }
        // Another AP of the network was heard: look for it before telling the guest anything
        // (a fresh entry is joined at once, else its channels are scanned).
        debug!(station = %self.mac(), %bssid, "AP lost: roaming");
        self.set_conn(Conn::Idle);
        self.reset_link();
        self.roam = Some(Roam {
            from: bssid,
            started: now,
            reason: ReasonCode::Inactivity,
        });
        self.start_join(now);
        if let (Some(scan), Conn::AwaitScan) = (&mut self.scan, &self.conn) {
            if !scan.report && scan.next == 0 {
                scan.channels = others;
            }
        }
    }

    /// The channels where other APs of the profile's network (not the one joined) were
    /// heard, in channel order.
    fn ess_channels(&self) -> Vec<Channel> {
        let Some(ssid) = self.profile.as_ref().map(|p| p.ssid) else {
            return Vec::new();
        };
        let current = self.bssid();
        let mut known: Vec<Channel> = self
            .table
            .iter()
            .filter(|e| e.ssid == ssid && Some(e.bssid) != current)
            .map(|e| e.channel)
            .collect();
        known.sort_unstable_by_key(|c| c.number());
        known.dedup();
        known
    }

    /// Whether this station roams: roaming is on, and the guest did not pin one AP.
    fn may_roam(&self) -> bool {
        self.cfg.roam.enabled && self.profile.as_ref().is_some_and(|p| p.bssid.is_none())
    }

    /// Starts a background scan for a better AP when the current one's signal is below the
    /// trigger and the last such scan is old enough.
    fn maybe_roam_scan(&mut self, now: Instant, signal: i8) {
        let cfg = self.cfg.roam;
        if !self.may_roam() || !self.is_connected() || self.scan.is_some() {
            return;
        }
        if signal >= cfg.trigger_dbm {
            return;
        }
        // Only the channels where other APs of the network were heard (wpa_supplicant scans
        // known frequencies first): a dwell on every channel between home slots takes seconds.
        let known = self.ess_channels();
        let backoff = match known.is_empty() {
            true => self
                .full_roam_scans
                .saturating_add(FIRST_FULL_SCAN_BACKOFF)
                .min(MAX_FULL_SCAN_BACKOFF),
            false => {
                self.full_roam_scans = 0;
                0
            }
        };
        let interval = cfg.scan_interval.saturating_mul(1 << backoff);
        if self
            .last_roam_scan
            .is_some_and(|t| now.saturating_duration_since(t) < interval)
        {
            return;
        }
        let Some(ssid) = self.profile.as_ref().map(|p| p.ssid) else {
            return;
        };
        if known.is_empty() {
            self.full_roam_scans = self.full_roam_scans.saturating_add(1);
        }
        debug!(station = %self.mac(), signal, channels = known.len(), "weak signal: scanning for a better AP");
        self.last_roam_scan = Some(now);
        self.stats.roam_scans += 1;
        // Active: a passive dwell (110 ms) does not fit in the scheduler's off-channel slot
        // (60 ms) while the station's home channel waits, and would restart on every visit.
        self.start_scan(now, Some(ssid), ScanMode::Active, false);
        if let Some(scan) = &mut self.scan {
            scan.roam = true;
            if !known.is_empty() {
                scan.channels = known;
            }
        }
    }

    /// The strongest other AP of the network (same SSID and security) heard since `since`, if
    /// it beats the current one by the hysteresis.
    fn roam_candidate(&self, since: Instant) -> Option<BssEntry> {
        let Conn::Connected(l) = &self.conn else {
            return None;
        };
        let (current, ssid, security, signal) =
            (l.bss.bssid, l.bss.ssid, l.bss.security, l.bss.signal_dbm);
        let margin = i16::from(self.cfg.roam.hysteresis_db);
        self.table
            .iter()
            .filter(|e| e.ssid == ssid && e.security == security && e.bssid != current)
            .filter(|e| e.last_seen >= since)
            .max_by_key(|e| (e.signal_dbm, core::cmp::Reverse(e.bssid)))
            .filter(|e| i16::from(e.signal_dbm) >= i16::from(signal) + margin)
            .cloned()
    }

    /// After a background scan: moves to the strongest other AP of the network (same SSID
    /// and security) heard during it, if it beats the current one by the hysteresis.
    fn consider_roam(&mut self, now: Instant, since: Instant) {
        // The next background scan waits a whole interval from here: a scan of every channel
        // between home slots takes seconds, longer than the interval itself.
        self.last_roam_scan = Some(now);
        let Conn::Connected(l) = &self.conn else {
            return;
        };
        let (current, signal) = (l.bss.bssid, l.bss.signal_dbm);
        let Some(bss) = self.roam_candidate(since) else {
            trace!(station = %self.mac(), signal, "no better AP");
            return;
        };
        debug!(station = %self.mac(), from = %current, to = %bss.bssid, signal,
               target_signal = bss.signal_dbm, "roaming");
        // Frames already protected for the old AP cannot follow; the guest's next ones wait.
        self.stats.roam_dropped += self.tx_queue.len() as u64;
        self.set_conn(Conn::Idle);
        self.reset_link();
        self.roam = Some(Roam {
            from: current,
            started: now,
            reason: ReasonCode::DisassocLeaving,
        });
        self.begin_auth(now, bss);
    }

    /// Drops the frames held for the end of a roam (counted as the guest's dropped frames).
    fn drop_held(&mut self) {
        self.counters.tx_dropped += self.held.len() as u64;
        self.held.clear();
    }

    fn connected(&mut self, now: Instant) {
        let link = match self.take_conn() {
            Conn::Handshake(l) | Conn::Connected(l) => l,
            other => {
                self.conn = other;
                return;
            }
        };
        let roam = self.roam.take();
        let event = match roam {
            Some(r) => Event::Roamed {
                ssid: link.bss.ssid,
                bssid: link.bss.bssid,
                old_bssid: r.from,
                channel: link.bss.channel.number(),
                roam_ms: u32::try_from(now.saturating_duration_since(r.started).as_millis())
                    .unwrap_or(u32::MAX),
            },
            None => Event::Connected {
                ssid: link.bss.ssid,
                bssid: link.bss.bssid,
                channel: link.bss.channel.number(),
            },
        };
        self.reported_signal = Some(link.bss.signal_dbm);
        self.set_conn(Conn::Connected(link));
        self.softmac.set_staging(self.cfg.stage_rx);
        if let Some(p) = &mut self.profile {
            p.retries = 0;
        }
        self.failure = None;
        self.heard(now);
        self.arrived = now;
        debug!(station = %self.mac(), roamed = roam.is_some(), "connected");
        self.event(event);
        self.full_roam_scans = 0;
        if roam.is_some() {
            self.stats.roams += 1;
            // A roam just chose the best AP heard: no background scan for an interval.
            self.last_roam_scan = Some(now);
            // What the guest sent during the roam leaves now, under the new keys.
            for frame in core::mem::take(&mut self.held) {
                if self.try_send_data(frame).is_err() {
                    self.counters.tx_dropped += 1;
                }
            }
        }
    }

    fn on_mgmt(&mut self, now: Instant, frame: MgmtFrame, meta: RxMeta) {
        let h = frame.header;
        let me = self.mac();
        let from_target = self.bssid() == Some(h.addr2);
        match frame.body {
            MgmtBody::Beacon(b) | MgmtBody::ProbeResponse(b) => {
                let Some(entry) = self.table.update(now, h.addr3, &b, meta) else {
                    return;
                };
                let (signal, rate) = (entry.signal_dbm, entry.rate_kbps);
                if from_target && h.addr3 == h.addr2 {
                    self.heard_ap(now, signal, rate);
                    if matches!(self.conn, Conn::Connected(_)) {
                        self.note_dtim(now, &b);
                    }
                }
            }
            MgmtBody::Authentication(a)
                if h.addr1 == me && from_target && a.algorithm == AuthAlgorithm::Sae =>
            {
                self.on_sae_frame(now, a.transaction_seq, a.status, &a.body);
            }
            MgmtBody::Authentication(a) if h.addr1 == me && from_target => {
                if !matches!(self.conn, Conn::Auth(_))
                    || a.algorithm != AuthAlgorithm::OpenSystem
                    || a.transaction_seq != 2
                {
                    trace!(station = %me, "unexpected authentication frame ignored");
                    return;
                }
                if !a.status.is_success() {
                    debug!(station = %me, status = ?a.status, "authentication rejected");
                    self.fail(now, Failure::AuthRejected { status: a.status }, None);
                    return;
                }
                self.start_assoc();
            }
            MgmtBody::AssocResponse(r) | MgmtBody::ReassocResponse(r)
                if h.addr1 == me && from_target =>
            {
                if !matches!(self.conn, Conn::Assoc(_)) {
                    return;
                }
                if let (false, Conn::Assoc(j)) = (r.status.is_success(), &self.conn) {
                    if j.pmkid.is_some() {
                        // The AP no longer holds our PMKSA: forget it and run SAE.
                        debug!(station = %me, status = ?r.status, "PMKSA refused: running SAE");
                        let bss = j.bss.clone();
                        self.pmksa.remove(bss.bssid);
                        self.begin_auth(now, bss);
                        return;
                    }
                }
                if !r.status.is_success() {
                    debug!(station = %me, status = ?r.status, "association rejected");
                    self.fail(now, Failure::AssocRejected { status: r.status }, None);
                    return;
                }
                self.associated(now, r.aid());
            }
            MgmtBody::Other {
                subtype: MgmtSubtype::Action,
                body,
            } if h.addr1 == me && from_target && self.softmac.pmf() => {
                self.on_sa_query(&body);
            }
            MgmtBody::Deauthentication(d) | MgmtBody::Disassociation(d)
                if (h.addr1 == me || h.addr1.is_broadcast()) && from_target =>
            {
                self.on_deauth(now, d.reason);
            }
            _ => {}
        }
    }

    fn start_assoc(&mut self) {
        if let Conn::Auth(j) = self.take_conn() {
            self.set_conn(Conn::Assoc(Join {
                bss: j.bss,
                akm: j.akm,
                sae: None,
                pmkid: j.pmkid,
                attempts: 0,
                deadline: None,
            }));
        }
    }

    fn associated(&mut self, now: Instant, aid: u16) {
        let Conn::Assoc(j) = self.take_conn() else {
            return;
        };
        let (bss, akm, pmkid) = (j.bss, j.akm, j.pmkid);
        match bss.security {
            Security::Open => {
                self.conn = Conn::Handshake(Link {
                    bss,
                    aid,
                    supplicant: None,
                    answered_msg1: false,
                    data_rate_known: false,
                });
                self.connected(now);
            }
            network => {
                let akm = akm.unwrap_or(Akm::Psk);
                let pmk = match akm {
                    Akm::Psk => self.profile.as_ref().and_then(|p| p.psk.clone()),
                    Akm::Sae => match pmkid {
                        Some(_) => self.pmksa.get(now, bss.bssid).map(|e| e.pmk.clone()),
                        None => self.profile.as_ref().and_then(|p| p.sae_pmk.clone()),
                    },
                };
                let own_rsne = element_bytes(Element::Rsn(wpa3::station_rsne(&bss, akm, pmkid)));
                let supplicant = pmk.ok_or(HandshakeError::NotEstablished).and_then(|pmk| {
                    Supplicant::new(
                        SupplicantConfig {
                            aa: bss.bssid,
                            spa: self.mac(),
                            pmk,
                            ap_rsne: bss.rsne.clone().unwrap_or_default(),
                            own_rsne,
                            timeout: self.cfg.handshake_timeout,
                        },
                        now,
                    )
                });
                self.conn = Conn::Assoc(Join {
                    bss: bss.clone(),
                    akm: Some(akm),
                    sae: None,
                    pmkid,
                    attempts: 0,
                    deadline: None,
                });
                let supplicant = supplicant.map(|mut s| {
                    if akm == Akm::Sae && bss.sae_h2e {
                        s.set_own_rsnxe(element_bytes(wpa3::station_rsnxe()));
                    }
                    s
                });
                match supplicant {
                    Ok(s) => self.set_conn(Conn::Handshake(Link {
                        bss,
                        aid,
                        supplicant: Some(Box::new(s)),
                        answered_msg1: false,
                        data_rate_known: false,
                    })),
                    Err(e) => {
                        let reason = ReasonCode::from(e.reason_code());
                        self.fail(now, Failure::UnsupportedSecurity { network }, Some(reason));
                    }
                }
            }
        }
    }

    fn on_deauth(&mut self, now: Instant, reason: ReasonCode) {
        debug!(station = %self.mac(), ?reason, "deauthenticated by the AP");
        let failure = match &self.conn {
            Conn::Auth(_) | Conn::Assoc(_) => Failure::RejectedByAp { reason },
            Conn::Handshake(l) => match (l.answered_msg1, reason) {
                (
                    true,
                    ReasonCode::MicFailure
                    | ReasonCode::FourWayHandshakeTimeout
                    | ReasonCode::Ieee8021xAuthFailed,
                ) => Failure::WrongPassphrase,
                (false, ReasonCode::FourWayHandshakeTimeout) => Failure::HandshakeTimeout,
                _ => Failure::RejectedByAp { reason },
            },
            Conn::Connected(_) => {
                self.link_lost(now, reason, false);
                return;
            }
            _ => return,
        };
        self.fail(now, failure, None);
    }

    /// Reports when the joined AP's next DTIM beacon is due, from a beacon of it: its TSF
    /// timestamp places the beacon on the TBTT grid, its TIM counts the beacons to the DTIM.
    /// Reported again only when the prediction moves by more than [`DTIM_JITTER`].
    fn note_dtim(&mut self, now: Instant, beacon: &crate::wire::Beacon) {
        let Some(tim) = beacon.elements.tim() else {
            return;
        };
        let bi_us = u64::from(beacon.beacon_interval) * TU.as_micros() as u64;
        if bi_us == 0 || tim.dtim_period == 0 {
            return;
        }
        // This beacon's TBTT, in our time: it went out `timestamp % interval` after it.
        let tbtt = Instant::from_micros(now.as_micros().saturating_sub(beacon.timestamp % bi_us));
        let beacons = match tim.dtim_count {
            0 => u64::from(tim.dtim_period),
            n => u64::from(n),
        };
        let next = tbtt + Duration::from_micros(bi_us * beacons);
        let interval = Duration::from_micros(bi_us * u64::from(tim.dtim_period));
        let moved = match self.reported_dtim {
            Some((at, every)) if every == interval => {
                let step = interval.as_micros().max(1) as u64;
                let (a, b) = (at.as_micros() % step, next.as_micros() % step);
                let diff = a.abs_diff(b).min(step - a.abs_diff(b));
                diff > DTIM_JITTER.as_micros() as u64
            }
            _ => true,
        };
        if moved {
            self.reported_dtim = Some((next, interval));
            self.push(StationOutput::DtimTiming { next, interval });
        }
    }

    /// A frame from the joined AP: it is alive; follow its signal.
    fn heard_ap(&mut self, now: Instant, signal: i8, rate_kbps: u32) {
        self.heard(now);
        let threshold = i16::from(self.cfg.signal_report_db);
        let (Conn::Connected(l) | Conn::Handshake(l)) = &mut self.conn else {
            if let Conn::Auth(j) | Conn::Assoc(j) = &mut self.conn {
                j.bss.signal_dbm = signal;
            }
            return;
        };
        l.bss.signal_dbm = signal;
        if !l.data_rate_known {
            l.bss.rate_kbps = rate_kbps;
        }
        if !matches!(self.conn, Conn::Connected(_)) {
            return;
        }
        let changed = self
            .reported_signal
            .is_none_or(|r| (i16::from(signal) - i16::from(r)).abs() >= threshold);
        if changed {
            self.reported_signal = Some(signal);
            self.event(Event::SignalChanged { dbm: signal });
        }
        self.maybe_roam_scan(now, signal);
    }

    fn on_data(&mut self, now: Instant, raw: &Bytes, frame: &crate::wire::DataFrame, meta: RxMeta) {
        let (bssid, protected_bss) = match &self.conn {
            Conn::Handshake(l) | Conn::Connected(l) => {
                (l.bss.bssid, l.bss.security != Security::Open)
            }
            _ => {
                if frame.header.addr1 == self.mac() {
                    self.stats.not_from_bss += 1;
                }
                return;
            }
        };
        let rx = match self.softmac.receive_data(raw, frame, bssid, protected_bss) {
            Ok(rx) => rx,
            Err(drop) => {
                self.count_drop(drop);
                if matches!(
                    drop,
                    RxDrop::NoPayload | RxDrop::OwnReflection | RxDrop::Duplicate
                ) {
                    self.heard(now);
                }
                return;
            }
        };
        self.heard(now);
        // The link's rate is that of the AP's unicast data to us, not of its beacons (sent at
        // the lowest basic rate). Sealed frames are unicast; an A-MSDU counts as data to us.
        if rx.sealed.is_some() || rx.amsdu || !rx.group {
            self.note_data_rate(meta);
        }
        if let Some(sealed) = rx.sealed {
            // The stage opens it and counts what it holds.
            match self.is_connected() {
                true => self.push(StationOutput::DeliverSealed(sealed)),
                false => self.counters.rx_dropped += 1,
            }
            return;
        }
        if rx.amsdu {
            self.receive_amsdu(rx);
            return;
        }
        let Some(eth) = rx.frames.into_iter().next() else {
            return;
        };
        if eth.ethertype == EtherType::Eapol {
            if rx.group {
                self.count_drop(RxDrop::NotForUs);
                return;
            }
            self.supplicant_eapol(now, &eth);
            return;
        }
        if !self.is_connected() {
            self.counters.rx_dropped += 1;
            return;
        }
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += eth.buffer_len() as u64;
        self.push(StationOutput::Deliver(eth));
    }

    /// Takes the rate of a data frame from the AP to us as the link's rate.
    fn note_data_rate(&mut self, meta: RxMeta) {
        if let Conn::Connected(l) | Conn::Handshake(l) = &mut self.conn {
            l.bss.rate_kbps = meta.rate_kbps;
            l.data_rate_known = true;
        }
    }

    /// An A-MSDU from the AP, decrypted and checked ([`SoftMac::receive_data`]): its MSDUs go to
    /// the guest once connected.
    fn receive_amsdu(&mut self, rx: crate::station::softmac::RxData) {
        self.stats.amsdu_rx += 1;
        self.stats.amsdu_rx_msdus += rx.frames.len() as u64;
        self.stats.amsdu_refused += rx.refused as u64;
        self.counters.rx_dropped += rx.refused as u64;
        if !self.is_connected() {
            self.counters.rx_dropped += rx.frames.len() as u64;
            return;
        }
        for eth in rx.frames {
            self.counters.rx_packets += 1;
            self.counters.rx_bytes += eth.buffer_len() as u64;
            self.push(StationOutput::Deliver(eth));
        }
    }

    fn count_drop(&mut self, drop: RxDrop) {
        let s = &mut self.stats;
        let counter = match drop {
            RxDrop::NoPayload => return,
            RxDrop::NotForUs => &mut s.not_for_us,
            RxDrop::NotFromBss => &mut s.not_from_bss,
            RxDrop::OwnReflection => &mut s.own_reflection,
            RxDrop::Malformed => &mut s.malformed,
            RxDrop::Unprotected => &mut s.unprotected,
            RxDrop::NoKey => &mut s.no_key,
            RxDrop::DecryptFailed => &mut s.decrypt_failed,
            RxDrop::Replay => &mut s.replayed,
            RxDrop::ControlEtherType => &mut s.control_ethertype,
            RxDrop::Duplicate => &mut s.duplicates,
        };
        *counter += 1;
        if !matches!(
            drop,
            RxDrop::NotForUs | RxDrop::NotFromBss | RxDrop::OwnReflection | RxDrop::Duplicate
        ) {
            self.counters.rx_dropped += 1;
        }
        trace!(station = %self.mac(), ?drop, "data frame dropped");
    }

    /// Carries out what the supplicant asks: EAPOL frames out, keys in, completion, failure.
    fn drain_supplicant(&mut self, now: Instant) {
        loop {
            let (output, bssid, channel) = match &mut self.conn {
                Conn::Handshake(l) | Conn::Connected(l) => {
                    match l.supplicant.as_mut().and_then(|s| s.poll_output()) {
                        Some(o) => (o, l.bss.bssid, l.bss.channel),
                        None => return,
                    }
                }
                _ => return,
            };
            match output {
                handshake::Output::Send(eapol) => {
                    if let Conn::Handshake(l) = &mut self.conn {
                        l.answered_msg1 = true;
                    }
                    let eth = EthernetFrame {
                        dst: bssid,
                        src: self.mac(),
                        ethertype: EtherType::Eapol,
                        payload: Bytes::from(eapol),
                    };
                    match self.softmac.data(bssid, &eth) {
                        Ok(frame) => self.transmit_or_queue(frame, channel),
                        Err(e) => trace!(error = %e, "EAPOL frame not sent"),
                    }
                }
                handshake::Output::InstallPairwise(tk) => self.softmac.install_ptk(tk),
                handshake::Output::InstallGroup { gtk, rsc } => self.softmac.install_gtk(gtk, rsc),
                handshake::Output::Complete => {
                    self.enable_pmf();
                    self.connected(now);
                }
                handshake::Output::GroupKeyComplete => {}
                handshake::Output::Failed(e) => self.handshake_failed(now, &e),
            }
        }
    }

    fn handshake_failed(&mut self, now: Instant, e: &HandshakeError) {
        let reason = ReasonCode::from(e.reason_code());
        debug!(station = %self.mac(), error = %e, "handshake failed");
        match &self.conn {
            Conn::Handshake(l) => {
                let failure = match e {
                    HandshakeError::Timeout { .. } if l.answered_msg1 => Failure::WrongPassphrase,
                    HandshakeError::Timeout { .. } => Failure::HandshakeTimeout,
                    HandshakeError::MicMismatch { .. } => Failure::WrongPassphrase,
                    _ => Failure::HandshakeFailed { reason },
                };
                self.fail(now, failure, Some(reason));
            }
            Conn::Connected(_) => self.link_lost(now, reason, true),
            _ => {}
        }
    }
}

/// A duration in whole microseconds, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// An element with its ID and length.
fn element_bytes(e: Element) -> Vec<u8> {
    let mut out = Vec::new();
    e.emit(&mut out);
    out
}

/// The link's PHY as the status reports it: the standard, width and streams the station and
/// the BSS have in common, and the MCS of the rate the AP's frames last came at (looked up
/// from that rate; none while only legacy-rate frames such as beacons were heard).
fn link_phy(bss: &BssEntry) -> crate::proto::PhyInfo {
    let caps = crate::phy::PhyCaps::STATION_DEFAULT.common(&bss.phy, bss.channel);
    let rate = caps.rate_with_kbps(bss.rate_kbps);
    crate::proto::PhyInfo {
        standard: caps.standard,
        width_mhz: rate.map_or(caps.width, |r| r.width).mhz(),
        streams: rate.map_or(caps.nss, |r| r.nss),
        mcs: rate.map(|r| r.mcs),
        rate_kbps: bss.rate_kbps,
    }
}
