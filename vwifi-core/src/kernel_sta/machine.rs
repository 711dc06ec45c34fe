//! The station's link through the kernel's MLME, as a machine: see the [module
//! documentation](super).

use core::time::Duration;
use std::collections::VecDeque;

use rand_core::{CryptoRng, RngCore};

use super::failure::{handshake_failure, join_failure, step_failure, unsupported_security};
use super::Msg1Repeats;
use crate::addr::MacAddr;
use crate::crypto::{Gtk, Pmk, TemporalKey};
use crate::handshake::{HandshakeError, Output, Supplicant, SupplicantConfig};
use crate::proto::{ConnectFailure, Credentials, Event, Security, Ssid, StationState};
use crate::time::Instant;

/// How long the 4-way handshake may take from the association to message 3 (hostapd gives up
/// on a wrong PSK after about 4 s and deauthenticates: that is the answer we want to see
/// first).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the kernel may take to authenticate and associate (and SAE to run).
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// The pause before a second join attempt.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);
/// EAPOL frames kept while the kernel has not yet reported the association.
pub const MAX_EARLY_EAPOL: usize = 4;
/// IEEE 802.11 reason 3: the station is leaving.
pub const REASON_LEAVING: u16 = 3;
/// How long after the kernel ended a link (not the AP) the interface's deletion is taken for
/// its cause: the kernel reports the disconnection first, then the interface gone.
pub const LINK_LOST_WITH_INTERFACE: Duration = Duration::from_secs(5);

/// A change of the AP's signal this large (dB) since the last one told is told to the guest.
pub const SIGNAL_STEP: i16 = 3;

/// A guest's connect request (the secret redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// The network.
    pub ssid: Ssid,
    /// The AP, if the guest named one.
    pub bssid: Option<MacAddr>,
    /// The secret.
    pub credentials: Credentials,
}

/// The BSS a join goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The network.
    pub ssid: Ssid,
    /// The AP.
    pub bssid: MacAddr,
    /// Its channel.
    pub channel: u8,
    /// Its channel's centre frequency in MHz: tells a 6 GHz channel from a 2.4 GHz one of the
    /// same number.
    pub frequency_mhz: u16,
}

/// How the join that [`KernelSta::begin_join`] starts authenticates.
#[derive(Debug)]
pub enum JoinAuth {
    /// Open System, no handshake: connected once the kernel reports the association.
    Open,
    /// WPA2-PSK: the 4-way handshake with this configuration after the association.
    Psk(SupplicantConfig),
    /// SAE, run by the loop through `AUTHENTICATE` before the association; the handshake's
    /// configuration comes with [`KernelSta::handle_authenticated`].
    Sae,
    /// SAE skipped: Open System authentication with the PMKID of a PMKSA cached for the AP,
    /// then the association with this PMK ([`KernelSta::handle_open_auth`]); an AP that does
    /// not take it gets a full SAE join ([`KernelStaOutput::RunSae`]).
    SaePmksa(Pmk),
}

/// A join the loop has found its BSS for and is about to start (`CONNECT`, or the first
/// `AUTHENTICATE` of SAE).
#[derive(Debug)]
pub struct Join {
    /// The BSS.
    pub target: Target,
    /// Its security, for the failure a refused RSN element is told as.
    pub security: Security,
    /// How it authenticates.
    pub auth: JoinAuth,
    /// The request, for one more attempt if this one fails after the association (`None` on
    /// the second attempt).
    pub retry: Option<JoinRequest>,
}

/// A request for the kernel, carried out by the loop; its outcome comes back through
/// [`KernelSta::handle_command_result`] before the next [`KernelSta::poll_output`].
#[derive(Debug)]
pub enum Command {
    /// Send this EAPOL frame to `peer` on the control port, unencrypted if `clear` (the frame
    /// it answers came in the clear).
    SendEapol {
        /// The AP.
        peer: MacAddr,
        /// The frame, from the 802.1X header on.
        frame: Vec<u8>,
        /// Unencrypted.
        clear: bool,
    },
    /// Install the pairwise key for `peer`.
    InstallPairwise {
        /// The AP.
        peer: MacAddr,
        /// The key.
        tk: TemporalKey,
    },
    /// Install a group key (and the IGTK of [`KernelSta::igtk`], if the AP gave one).
    InstallGroup {
        /// The GTK with its key ID.
        gtk: Gtk,
        /// Its receive sequence counter.
        rsc: u64,
    },
    /// Mark `peer` authorized: the 4-way handshake is done.
    Authorize {
        /// The AP.
        peer: MacAddr,
    },
    /// `DISCONNECT` with reason 3 (leaving).
    Disconnect,
    /// `DEAUTHENTICATE` `peer` with reason 3: an SAE authentication the kernel holds before
    /// the association, which `DISCONNECT` does not reach.
    Deauthenticate {
        /// The AP.
        peer: MacAddr,
    },
}

/// What kind a [`Command`] is, to report its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// [`Command::SendEapol`].
    SendEapol,
    /// [`Command::InstallPairwise`].
    InstallPairwise,
    /// [`Command::InstallGroup`].
    InstallGroup,
    /// [`Command::Authorize`].
    Authorize,
    /// [`Command::Disconnect`].
    Disconnect,
    /// [`Command::Deauthenticate`].
    Deauthenticate,
}

impl Command {
    /// Its kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::SendEapol { .. } => CommandKind::SendEapol,
            Self::InstallPairwise { .. } => CommandKind::InstallPairwise,
            Self::InstallGroup { .. } => CommandKind::InstallGroup,
            Self::Authorize { .. } => CommandKind::Authorize,
            Self::Disconnect => CommandKind::Disconnect,
            Self::Deauthenticate { .. } => CommandKind::Deauthenticate,
        }
    }
}

/// What the machine asks of its loop, in order.
#[derive(Debug)]
pub enum KernelStaOutput {
    /// A request for the kernel; report its outcome.
    Command(Command),
    /// Tell the guest.
    Event(Event),
    /// The station's state changed to this: publish it.
    State(StationState),
    /// The link is up to this BSS: open the data path.
    LinkUp(Target),
    /// The link is down (or was never up): close the data path, forget the keys installed,
    /// tell the guests sharing it (`locally`: this side ended it).
    LinkDown {
        /// This side ended the link (not the AP).
        locally: bool,
    },
    /// Join again with this request (the second attempt, after [`RETRY_DELAY`]): scan, then
    /// [`KernelSta::begin_join`] with no retry.
    Join(JoinRequest),
    /// The AP took the cached PMKSA's Open System authentication: associate with this PMK
    /// (then [`KernelSta::handle_authenticated`]).
    Associate(Pmk),
    /// The AP did not take the cached PMKSA: forget it and run a full SAE join to the same
    /// BSS ([`KernelSta::begin_join`] with [`JoinAuth::Sae`] and [`KernelSta::retry`]).
    RunSae,
}

/// A join in progress.
#[derive(Debug)]
struct Joining {
    target: Target,
    sup: Option<Box<Supplicant>>,
    /// SAE authentication (the kernel holds it until the association).
    sae: bool,
    /// A PMKSA join: the cached PMK until the AP takes the Open System authentication.
    cached: Option<Pmk>,
    /// A PMKSA join, which falls back to SAE if the AP refuses it.
    with_pmksa: bool,
    associated: bool,
    /// Our message 2 went out: a failure from here on is the AP not accepting our key.
    answered_msg1: bool,
    /// The ANonce of the last message 1 and how often the AP sent it again.
    msg1: Msg1Repeats,
    deadline: Instant,
    /// EAPOL frames that came before the kernel's association result (the kernel refuses to
    /// send ours until it has processed the association).
    early: Vec<(Vec<u8>, bool)>,
    /// The early frames, handed to the supplicant one at a time once associated.
    replay: VecDeque<(Vec<u8>, bool)>,
    retry: Option<JoinRequest>,
}

#[derive(Debug)]
enum Phase {
    Idle,
    /// A failed first attempt, joined again at `at`.
    Retrying {
        request: JoinRequest,
        at: Instant,
    },
    Joining(Box<Joining>),
    Connected {
        target: Target,
        sup: Option<Box<Supplicant>>,
    },
}

/// One guest's station whose MLME is the kernel's (nl80211), sans-IO: what to ask of the
/// kernel and what to tell the guest, from the guest's requests, the kernel's events and the
/// outcome of each request. Randomness (`rng`, for the supplicant's nonces) is passed in.
#[derive(Debug)]
pub struct KernelSta<R> {
    rng: R,
    phase: Phase,
    /// The last join failed for good (until the next join or a disconnect).
    failed: bool,
    /// The guest's last `Connect`, until it disconnects or the join fails for good: what a
    /// recreated interface rejoins.
    wanted: Option<JoinRequest>,
    /// When the kernel (not the AP) last ended a link.
    link_lost_at: Option<Instant>,
    /// The AP's signal last told to the guest (or first read) on this link.
    reported_signal: Option<i8>,
    /// The time of the last input.
    now: Instant,
    /// The supplicant's frames being drained answer a frame that came in the clear.
    clear: bool,
    outputs: VecDeque<KernelStaOutput>,
}

impl<R: RngCore + CryptoRng> KernelSta<R> {
    /// An idle station.
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            phase: Phase::Idle,
            failed: false,
            wanted: None,
            link_lost_at: None,
            reported_signal: None,
            now: Instant::from_micros(0),
            clear: true,
            outputs: VecDeque::new(),
        }
    }

    /// Where the station is, for its status.
    pub fn state(&self) -> StationState {
        match &self.phase {
            Phase::Idle | Phase::Retrying { .. } if self.failed => StationState::Failed,
            Phase::Idle | Phase::Retrying { .. } => StationState::Idle,
            Phase::Joining(j) if !j.associated => StationState::Authenticating,
            Phase::Joining(_) => StationState::Handshaking,
            Phase::Connected { .. } => StationState::Connected,
        }
    }

    /// The BSS being joined or connected to.
    pub fn target(&self) -> Option<&Target> {
        match &self.phase {
            Phase::Joining(j) => Some(&j.target),
            Phase::Connected { target, .. } => Some(target),
            Phase::Idle | Phase::Retrying { .. } => None,
        }
    }

    /// Whether the station is connected.
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected { .. })
    }

    /// Whether a join is in progress and the kernel has not yet reported the association.
    pub fn is_authenticating(&self) -> bool {
        matches!(&self.phase, Phase::Joining(j) if !j.associated)
    }

    /// The request of the join in progress, kept for its second attempt (none on the second).
    pub fn retry(&self) -> Option<&JoinRequest> {
        match &self.phase {
            Phase::Joining(j) => j.retry.as_ref(),
            Phase::Idle | Phase::Retrying { .. } | Phase::Connected { .. } => None,
        }
    }

    /// The IGTK the handshake gave (key and IPN), once there is one.
    pub fn igtk(&self) -> Option<(&crate::crypto::bip::Igtk, u64)> {
        match &self.phase {
            Phase::Joining(j) => j.sup.as_deref().and_then(Supplicant::igtk),
            Phase::Connected { sup, .. } => sup.as_deref().and_then(Supplicant::igtk),
            Phase::Idle | Phase::Retrying { .. } => None,
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<KernelStaOutput> {
        loop {
            if let Some(o) = self.outputs.pop_front() {
                return Some(o);
            }
            let (peer, sup, replay) = match &mut self.phase {
                Phase::Joining(j) => (j.target.bssid, j.sup.as_deref_mut(), Some(&mut j.replay)),
                Phase::Connected { target, sup } => (target.bssid, sup.as_deref_mut(), None),
                Phase::Idle | Phase::Retrying { .. } => return None,
            };
            let sup = sup?;
            match sup.poll_output() {
                Some(Output::Send(frame)) => {
                    return Some(KernelStaOutput::Command(Command::SendEapol {
                        peer,
                        frame,
                        clear: self.clear,
                    }))
                }
                Some(Output::InstallPairwise(tk)) => {
                    return Some(KernelStaOutput::Command(Command::InstallPairwise {
                        peer,
                        tk,
                    }))
                }
                Some(Output::InstallGroup { gtk, rsc }) => {
                    return Some(KernelStaOutput::Command(Command::InstallGroup { gtk, rsc }))
                }
                Some(Output::Complete) => {
                    return Some(KernelStaOutput::Command(Command::Authorize { peer }))
                }
                Some(Output::GroupKeyComplete) => {}
                Some(Output::Failed(e)) => self.handshake_failed(&e),
                None => {
                    // Every output of the last frame carried out: the next early one.
                    let (frame, clear) = replay.and_then(VecDeque::pop_front)?;
                    let now = self.now;
                    // A refused frame changes nothing: the AP sends it again.
                    let _ = self.eapol(now, &frame, clear);
                }
            }
        }
    }

    /// When [`Self::handle_timeout`] is due: the join's deadline, the handshake's timer, or
    /// the second attempt.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Retrying { at, .. } => Some(*at),
            Phase::Joining(j) => Some(
                j.sup
                    .as_deref()
                    .and_then(Supplicant::poll_timeout)
                    .map_or(j.deadline, |t| t.min(j.deadline)),
            ),
            Phase::Idle | Phase::Connected { .. } => None,
        }
    }

    /// Time passed: a join past its deadline fails (`ApUnreachable`), the handshake's timer
    /// runs, a second attempt starts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match &mut self.phase {
            Phase::Retrying { at, .. } if now >= *at => {
                if let Phase::Retrying { request, .. } =
                    core::mem::replace(&mut self.phase, Phase::Idle)
                {
                    self.outputs.push_back(KernelStaOutput::Join(request));
                }
            }
            Phase::Joining(j) if now >= j.deadline => self.fail(ConnectFailure::ApUnreachable),
            Phase::Joining(j) => {
                if let Some(sup) = j.sup.as_mut() {
                    sup.handle_timeout(now);
                    self.clear = true;
                }
            }
            Phase::Idle | Phase::Retrying { .. } | Phase::Connected { .. } => {}
        }
    }

    /// The guest asked to connect: remembered for a recreated interface. The loop then leaves
    /// ([`Self::handle_leave`]) and joins.
    pub fn handle_connect_request(&mut self, request: JoinRequest) {
        self.wanted = Some(request);
    }

    /// The guest asked to disconnect: the station leaves and forgets the network. Returns
    /// whether it was joining or connected (the guest is told it was not otherwise).
    pub fn handle_disconnect_request(&mut self, now: Instant) -> bool {
        let was = !matches!(self.phase, Phase::Idle);
        self.wanted = None;
        self.handle_leave(now);
        self.failed = false;
        self.outputs
            .push_back(KernelStaOutput::State(StationState::Idle));
        was
    }

    /// Leaves the network or stops joining it (`DISCONNECT`), telling the guest if it was
    /// connected.
    pub fn handle_leave(&mut self, now: Instant) {
        self.now = now;
        let phase = core::mem::replace(&mut self.phase, Phase::Idle);
        self.outputs
            .push_back(KernelStaOutput::LinkDown { locally: true });
        let connected = match &phase {
            Phase::Idle | Phase::Retrying { .. } => return,
            Phase::Joining(j) => {
                self.end_sae_auth(j);
                false
            }
            Phase::Connected { .. } => true,
        };
        self.command(Command::Disconnect);
        self.left(connected);
    }

    /// This side ended the link: the guest is told if it was `connected`; the station is idle.
    fn left(&mut self, connected: bool) {
        if connected {
            self.outputs
                .push_back(KernelStaOutput::Event(Event::Disconnected {
                    reason: REASON_LEAVING,
                    locally_generated: true,
                }));
        }
        self.outputs
            .push_back(KernelStaOutput::State(StationState::Idle));
    }

    /// A join begins (before its scans): a failure before is forgotten.
    pub fn handle_join_started(&mut self) {
        self.failed = false;
    }

    /// The loop found the BSS and starts the join's first request (`CONNECT`, or SAE's first
    /// `AUTHENTICATE`). Returns `false` if the join failed at once (the network's RSN element
    /// is not usable): no request then.
    pub fn begin_join(&mut self, now: Instant, join: Join) -> bool {
        self.now = now;
        let (sup, sae, cached) = match join.auth {
            JoinAuth::Open => (None, false, None),
            JoinAuth::Sae => (None, true, None),
            JoinAuth::SaePmksa(pmk) => (None, true, Some(pmk)),
            JoinAuth::Psk(cfg) => match Supplicant::new(cfg, now) {
                Ok(s) => (Some(Box::new(s)), false, None),
                Err(_) => {
                    self.fail(unsupported_security(join.security));
                    return false;
                }
            },
        };
        self.failed = false;
        self.phase = Phase::Joining(Box::new(Joining {
            target: join.target,
            sup,
            sae,
            with_pmksa: cached.is_some(),
            cached,
            associated: false,
            answered_msg1: false,
            msg1: Msg1Repeats::default(),
            deadline: now + JOIN_TIMEOUT,
            early: Vec::new(),
            replay: VecDeque::new(),
            retry: join.retry,
        }));
        self.outputs
            .push_back(KernelStaOutput::State(StationState::Authenticating));
        true
    }

    /// SAE is done: the 4-way handshake follows the association with this configuration
    /// (and our RSNXE in message 2, with hash-to-element). Returns `false` if the join failed
    /// (the network's RSN element is not usable): no `ASSOCIATE` then.
    pub fn handle_authenticated(
        &mut self,
        now: Instant,
        cfg: SupplicantConfig,
        own_rsnxe: Option<Vec<u8>>,
    ) -> bool {
        self.now = now;
        let Phase::Joining(j) = &mut self.phase else {
            return false;
        };
        match Supplicant::new(cfg, now) {
            Ok(mut s) => {
                if let Some(rsnxe) = own_rsnxe {
                    s.set_own_rsnxe(rsnxe);
                }
                j.sup = Some(Box::new(s));
                true
            }
            Err(_) => {
                self.fail(unsupported_security(Security::Wpa3Sae));
                false
            }
        }
    }

    /// Whether the join waits for the AP's answer to the Open System authentication of a
    /// cached PMKSA ([`JoinAuth::SaePmksa`]).
    pub fn awaits_open_auth(&self) -> bool {
        matches!(&self.phase, Phase::Joining(j) if !j.associated && j.cached.is_some())
    }

    /// The AP's answer to the Open System authentication of a cached PMKSA: `accepted`, or
    /// refused, not answered, or the request not sent (a full SAE join then).
    pub fn handle_open_auth(&mut self, now: Instant, accepted: bool) {
        self.now = now;
        let Phase::Joining(j) = &mut self.phase else {
            return;
        };
        if j.associated {
            return;
        }
        let Some(pmk) = j.cached.take() else {
            return;
        };
        if accepted {
            self.outputs.push_back(KernelStaOutput::Associate(pmk));
        } else {
            self.fall_back_to_sae();
        }
    }

    /// The join's request (`CONNECT`) was refused; `gone`: because the interface is gone (the
    /// recreated one joins again).
    pub fn handle_connect_refused(&mut self, now: Instant, gone: bool) {
        self.now = now;
        self.phase = Phase::Idle;
        if gone {
            self.link_lost_at = Some(now);
        } else {
            self.fail(ConnectFailure::ApUnreachable);
        }
    }

    /// The interface went under a join before its request (the recreated one joins again).
    pub fn handle_link_lost(&mut self, now: Instant) {
        self.link_lost_at = Some(now);
    }

    /// The join failed for this reason (no network found, its security, SAE, a refused
    /// `ASSOCIATE`): the kernel is told to stop, the guest told why, unless a first attempt
    /// that got as far as the association is made once more.
    pub fn handle_join_failed(&mut self, now: Instant, reason: ConnectFailure) {
        self.now = now;
        self.fail(reason);
    }

    /// The kernel's association result (`CONNECT` or `ASSOCIATE` event): status 0 is success;
    /// `timed_out`: the AP did not answer.
    pub fn handle_connect_result(&mut self, now: Instant, status: Option<u16>, timed_out: bool) {
        self.now = now;
        let Phase::Joining(j) = &mut self.phase else {
            return;
        };
        match status {
            Some(0) => {
                j.associated = true;
                j.replay = core::mem::take(&mut j.early).into();
                if j.sup.is_none() {
                    self.connected();
                } else {
                    self.outputs
                        .push_back(KernelStaOutput::State(StationState::Handshaking));
                }
            }
            // An AP that does not take our cached PMKSA (status 53, invalid PMKID, or another
            // refusal of the association) gets a full SAE join instead.
            _ if j.with_pmksa => self.fall_back_to_sae(),
            _ if timed_out => self.fail(ConnectFailure::ApUnreachable),
            Some(s) => self.fail(ConnectFailure::AssocRejected { status: s }),
            None => self.fail(ConnectFailure::ApUnreachable),
        }
    }

    /// An EAPOL frame from the AP on the control port, `clear` if it came unencrypted: the
    /// answer goes out the same way. Before the association it is kept (a few) for after.
    /// Returns the supplicant's refusal of the frame, if any (the AP sends it again).
    pub fn handle_eapol(
        &mut self,
        now: Instant,
        frame: &[u8],
        clear: bool,
    ) -> Result<(), HandshakeError> {
        self.now = now;
        self.eapol(now, frame, clear)
    }

    fn eapol(&mut self, now: Instant, frame: &[u8], clear: bool) -> Result<(), HandshakeError> {
        let sup = match &mut self.phase {
            Phase::Joining(j) if !j.associated => {
                if j.early.len() < MAX_EARLY_EAPOL {
                    j.early.push((frame.to_vec(), clear));
                }
                return Ok(());
            }
            Phase::Joining(j) => {
                j.msg1.saw(frame);
                j.sup.as_deref_mut()
            }
            Phase::Connected { sup, .. } => sup.as_deref_mut(),
            Phase::Idle | Phase::Retrying { .. } => None,
        };
        let Some(sup) = sup else {
            return Ok(());
        };
        self.clear = clear;
        sup.handle_eapol(now, frame, &mut self.rng)
    }

    /// The outcome of the last [`Command`] polled. Message 2 gone out means the station
    /// answered message 1; a key or port step the kernel refused ends the join.
    pub fn handle_command_result(&mut self, kind: CommandKind, ok: bool) {
        let Phase::Joining(j) = &mut self.phase else {
            return;
        };
        match (kind, ok) {
            (CommandKind::SendEapol, true) => j.answered_msg1 = true,
            (CommandKind::Authorize, true) => self.connected(),
            // A lost EAPOL frame is retransmitted by the AP; a key or port step is not.
            (
                CommandKind::InstallPairwise | CommandKind::InstallGroup | CommandKind::Authorize,
                false,
            ) => {
                self.fail(step_failure());
            }
            _ => {}
        }
    }

    /// The kernel says the link is gone (the AP deauthenticated or disassociated the station,
    /// with IEEE 802.11 `reason`, or the kernel lost the AP: not `by_ap`).
    pub fn handle_disconnected(&mut self, now: Instant, reason: u16, by_ap: bool) {
        self.now = now;
        match &self.phase {
            Phase::Idle | Phase::Retrying { .. } => {}
            Phase::Joining(j) => {
                let failure = join_failure(j.associated, j.answered_msg1, reason);
                // The kernel left already: no DISCONNECT of our own.
                self.fail_with(failure, true);
            }
            Phase::Connected { .. } => {
                self.link_lost_at = (!by_ap).then_some(now);
                self.phase = Phase::Idle;
                self.outputs
                    .push_back(KernelStaOutput::LinkDown { locally: !by_ap });
                self.outputs
                    .push_back(KernelStaOutput::State(StationState::Idle));
                self.outputs
                    .push_back(KernelStaOutput::Event(Event::Disconnected {
                        reason,
                        locally_generated: !by_ap,
                    }));
            }
        }
    }

    /// The station's interface was deleted under it: the link is gone with it (the guest is
    /// told it was disconnected if it was connected). Returns what the recreated interface
    /// joins: the guest's network if the station was joining or connected then, or the kernel
    /// ended its link just before (the disconnection the deletion caused came first).
    pub fn handle_interface_gone(&mut self, now: Instant) -> Option<JoinRequest> {
        self.now = now;
        let phase = core::mem::replace(&mut self.phase, Phase::Idle);
        let recent = self
            .link_lost_at
            .is_some_and(|t| now.saturating_duration_since(t) < LINK_LOST_WITH_INTERFACE);
        let rejoin = self
            .wanted
            .clone()
            .filter(|_| !matches!(phase, Phase::Idle) || recent);
        self.outputs
            .push_back(KernelStaOutput::LinkDown { locally: true });
        self.left(matches!(phase, Phase::Connected { .. }));
        rejoin
    }

    /// The AP's signal as read while connected (`None`: not read yet). The first reading on a
    /// link is the reference; a change of [`SIGNAL_STEP`] dB or more from the last one told is
    /// told to the guest ([`Event::SignalChanged`]).
    pub fn handle_signal(&mut self, dbm: Option<i8>) {
        if !self.is_connected() {
            return;
        }
        match (dbm, self.reported_signal) {
            (Some(now), Some(before)) => {
                if (i16::from(now) - i16::from(before)).abs() >= SIGNAL_STEP {
                    self.reported_signal = Some(now);
                    self.outputs
                        .push_back(KernelStaOutput::Event(Event::SignalChanged { dbm: now }));
                }
            }
            (_, None) => self.reported_signal = dbm,
            (None, Some(_)) => {}
        }
    }

    /// The interface is back: a link lost before is forgotten.
    pub fn handle_interface_recreated(&mut self) {
        self.link_lost_at = None;
    }

    fn command(&mut self, c: Command) {
        self.outputs.push_back(KernelStaOutput::Command(c));
    }

    fn end_sae_auth(&mut self, j: &Joining) {
        if j.sae && !j.associated {
            self.command(Command::Deauthenticate {
                peer: j.target.bssid,
            });
        }
    }

    fn connected(&mut self) {
        let (target, sup) = match core::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Joining(j) => (j.target, j.sup),
            Phase::Connected { target, sup } => (target, sup),
            other => {
                self.phase = other;
                return;
            }
        };
        self.phase = Phase::Connected { target, sup };
        self.reported_signal = None;
        self.outputs.push_back(KernelStaOutput::LinkUp(target));
        self.outputs
            .push_back(KernelStaOutput::State(StationState::Connected));
        self.outputs
            .push_back(KernelStaOutput::Event(Event::Connected {
                ssid: target.ssid,
                bssid: target.bssid,
                channel: target.channel,
            }));
    }

    /// The AP did not take the cached PMKSA: the kernel's Open System authentication ends,
    /// and the loop runs SAE.
    fn fall_back_to_sae(&mut self) {
        let Phase::Joining(j) = &mut self.phase else {
            return;
        };
        j.with_pmksa = false;
        j.cached = None;
        let peer = j.target.bssid;
        // The kernel may still hold the Open System authentication.
        self.command(Command::Deauthenticate { peer });
        self.outputs.push_back(KernelStaOutput::RunSae);
    }

    fn handshake_failed(&mut self, e: &HandshakeError) {
        match &self.phase {
            Phase::Joining(j) => {
                let failure = handshake_failure(e, j.answered_msg1);
                self.fail(failure);
            }
            Phase::Connected { .. } => {
                let now = self.now;
                self.handle_disconnected(now, e.reason_code(), false);
            }
            Phase::Idle | Phase::Retrying { .. } => {}
        }
    }

    fn fail(&mut self, reason: ConnectFailure) {
        self.fail_with(reason, false);
    }

    /// Ends a join attempt that failed (`kernel_left`: the kernel has disconnected already).
    /// An attempt that failed after the association is made once more before the guest is
    /// told: on a busy air the AP may take a retransmitted association request for a new one
    /// and restart its 4-way handshake under our answer, which it then takes for a wrong key
    /// (wpa_supplicant also retries before it reports a wrong key). A wrong passphrase the AP
    /// showed plainly (it repeated its message 1 after our answers, then gave up) is told at
    /// once, as wpa_supplicant does.
    fn fail_with(&mut self, reason: ConnectFailure, kernel_left: bool) {
        let phase = core::mem::replace(&mut self.phase, Phase::Idle);
        self.outputs
            .push_back(KernelStaOutput::LinkDown { locally: true });
        if !kernel_left {
            match &phase {
                Phase::Joining(j) => {
                    self.end_sae_auth(j);
                    self.command(Command::Disconnect);
                }
                Phase::Connected { .. } => self.command(Command::Disconnect),
                Phase::Idle | Phase::Retrying { .. } => {}
            }
        }
        if let Phase::Joining(j) = phase {
            let plain_wrong_key =
                reason == ConnectFailure::WrongPassphrase && j.msg1.shows_wrong_key();
            if let (true, Some(request), false) = (j.associated, j.retry, plain_wrong_key) {
                self.phase = Phase::Retrying {
                    request,
                    at: self.now + RETRY_DELAY,
                };
                return;
            }
        }
        self.failed = true;
        self.wanted = None;
        self.outputs
            .push_back(KernelStaOutput::State(StationState::Failed));
        self.outputs
            .push_back(KernelStaOutput::Event(Event::ConnectFailed { reason }));
    }
}
