//! The SAE protocol instance of one peer (IEEE 802.11-2020 12.4.8.6), for both roles: the
//! initiator (a station, which sends the first commit) and the responder (an AP). Sans-IO: the
//! caller passes time and randomness in and carries the Authentication frames.

use std::collections::VecDeque;

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

use super::error::SaeError;
use super::exchange::{confirm_value, random_scalar, Keys, LocalCommit, PeerCommit, Pmkid};
use super::frame::{Commit, Confirm, TokenRequest};
use super::group::{Pwe, GROUP_19};
use super::password::SaePassword;
use super::worker::{Computed, SaeJob, SaeWorkerHandle, Slot, Work, POLL};
use crate::addr::MacAddr;
use crate::crypto::Pmk;
use crate::handshake::RetryPolicy;
use crate::time::Instant;
use crate::wire::codes::StatusCode;

/// Transaction sequence number of a commit.
pub const COMMIT: u16 = 1;
/// Transaction sequence number of a confirm.
pub const CONFIRM: u16 = 2;

/// The algorithm-specific part of an SAE Authentication frame to send (algorithm 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFrame {
    /// The transaction sequence number: [`COMMIT`] or [`CONFIRM`].
    pub transaction: u16,
    /// The status code.
    pub status: StatusCode,
    /// The body after the status code.
    pub body: Vec<u8>,
}

/// What an SAE instance asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaeOutput {
    /// Send this Authentication frame to the peer.
    Send(AuthFrame),
    /// The peer is authenticated: associate (initiator) or admit the association (responder)
    /// and run the 4-way handshake with this PMK.
    Complete {
        /// The PMK.
        pmk: Pmk,
        /// Its PMKID, for the PMKSA cache.
        pmkid: Pmkid,
    },
    /// The exchange failed for good.
    Failed(SaeError),
}

/// Which side of the exchange this instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the first commit (a station).
    Initiator,
    /// Answers commits (an AP).
    Responder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Nothing,
    Committed,
    Confirmed,
    Accepted,
    Failed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            Self::Nothing => "Nothing",
            Self::Committed => "Committed",
            Self::Confirmed => "Confirmed",
            Self::Accepted => "Accepted",
            Self::Failed => "Failed",
        }
    }
}

/// One SAE protocol instance. Drive it like the 4-way handshake machines:
/// 1. an initiator calls [`Sae::start`]; a responder waits for the peer's commit;
/// 2. feed each received SAE Authentication frame to [`Sae::handle_frame`] (an `Err` means the
///    frame was rejected; unless the instance failed, the state is unchanged);
/// 3. call [`Sae::handle_timeout`] when [`Sae::poll_timeout`] says so;
/// 4. drain [`Sae::poll_output`] after each call.
///
/// The group arithmetic runs on the instance's [`SaeWorker`](super::SaeWorker) ([`Sae::with_worker`];
/// at once on the caller's thread by default): while a job is out, frames of the exchange are
/// refused (the peer retransmits) and [`Sae::poll_timeout`] asks to look for its result.
#[derive(Debug)]
pub struct Sae {
    role: Role,
    own: MacAddr,
    peer: MacAddr,
    password: SaePassword,
    /// Hash-to-element (status 126) rather than hunting and pecking (status 0).
    h2e: bool,
    /// The responder accepts hash-to-element commits; the initiator uses it when set.
    allow_h2e: bool,
    /// The responder accepts hunting-and-pecking commits.
    allow_hnp: bool,
    policy: RetryPolicy,
    state: State,
    pwe: Option<Pwe>,
    local: Option<LocalCommit>,
    peer_commit: Option<PeerCommit>,
    keys: Option<Keys>,
    token: Option<Vec<u8>>,
    send_confirm: u16,
    /// The highest send-confirm accepted from the peer.
    peer_send_confirm: u16,
    attempts: u32,
    deadline: Option<Instant>,
    outputs: VecDeque<SaeOutput>,
    worker: SaeWorkerHandle,
    /// The job out, and what to do with its result.
    pending: Option<(Slot, Resume)>,
}

/// What an instance does when its job's result comes.
#[derive(Debug)]
enum Resume {
    /// Send the first commit (initiator).
    Start,
    /// Send the confirm for the responder's commit (initiator).
    Confirm(PeerCommit),
    /// Send the commit answering the initiator's (responder).
    Answer(PeerCommit),
}

impl Sae {
    /// An initiator towards `peer`; `h2e` selects hash-to-element (the password must then
    /// hold a PT, see [`SaePassword::with_h2e`]).
    pub fn initiator(
        own: MacAddr,
        peer: MacAddr,
        password: SaePassword,
        h2e: bool,
        policy: RetryPolicy,
    ) -> Self {
        Self::new(Role::Initiator, own, peer, password, h2e, !h2e, policy)
    }

    /// A responder for `peer`, accepting hunting-and-pecking commits if `allow_hnp` and
    /// hash-to-element commits if `allow_h2e` (with a PT in the password).
    pub fn responder(
        own: MacAddr,
        peer: MacAddr,
        password: SaePassword,
        allow_hnp: bool,
        allow_h2e: bool,
        policy: RetryPolicy,
    ) -> Self {
        Self::new(
            Role::Responder,
            own,
            peer,
            password,
            false,
            allow_hnp,
            policy,
        )
        .allowing_h2e(allow_h2e)
    }

    fn new(
        role: Role,
        own: MacAddr,
        peer: MacAddr,
        password: SaePassword,
        h2e: bool,
        allow_hnp: bool,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            role,
            own,
            peer,
            password,
            h2e,
            allow_h2e: h2e,
            allow_hnp,
            policy,
            state: State::Nothing,
            pwe: None,
            local: None,
            peer_commit: None,
            keys: None,
            token: None,
            send_confirm: 0,
            peer_send_confirm: 0,
            attempts: 0,
            deadline: None,
            outputs: VecDeque::new(),
            worker: SaeWorkerHandle::default(),
            pending: None,
        }
    }

    /// Runs the group arithmetic on `worker` instead of the caller's thread.
    #[must_use]
    pub fn with_worker(mut self, worker: SaeWorkerHandle) -> Self {
        self.worker = worker;
        self
    }

    fn allowing_h2e(mut self, allow: bool) -> Self {
        self.allow_h2e = allow;
        self
    }

    /// The role of this instance.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the exchange uses hash-to-element.
    pub fn is_h2e(&self) -> bool {
        self.h2e
    }

    /// Whether nothing was sent or received yet (an initiator before [`Sae::start`]).
    pub fn is_idle(&self) -> bool {
        self.state == State::Nothing && self.pending.is_none()
    }

    /// Whether the peer is authenticated.
    pub fn is_accepted(&self) -> bool {
        self.state == State::Accepted
    }

    /// Whether the instance failed for good.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Starts an initiator: derives the PWE and sends the first commit.
    pub fn start(
        &mut self,
        now: Instant,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), SaeError> {
        if self.role != Role::Initiator || !self.is_idle() {
            return Err(self.unexpected("start"));
        }
        let (rand, mask) = (random_scalar(rng), random_scalar(rng));
        let work = Work::Commit {
            password: self.password.clone(),
            h2e: self.h2e,
            own: self.own,
            peer: self.peer,
            rand,
            mask,
        };
        self.submit(now, work, Resume::Start)
    }

    /// Handles a received SAE Authentication frame: its transaction number, status code and
    /// the body after the status.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        transaction: u16,
        status: StatusCode,
        body: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), SaeError> {
        if self.state == State::Failed || self.pending.is_some() {
            return Err(self.unexpected("frame"));
        }
        match (self.role, transaction) {
            (Role::Initiator, COMMIT) => self.initiator_commit(now, status, body),
            (Role::Initiator, CONFIRM) => self.initiator_confirm(status, body),
            (Role::Responder, COMMIT) => self.responder_commit(now, status, body, rng),
            (Role::Responder, CONFIRM) => self.responder_confirm(status, body),
            _ => Err(SaeError::Malformed {
                what: "frame",
                reason: "unknown transaction sequence number",
            }),
        }
    }

    /// Retransmits on a timeout, or fails after the last attempt. A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.pending.is_some() {
            // A failure the result caused is in the outputs already (`SaeOutput::Failed`).
            let _ = self.collect(now);
            return;
        }
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.attempts >= self.policy.max_attempts {
            let what = match (self.role, self.state) {
                (Role::Initiator, State::Committed) => "commit",
                _ => "confirm",
            };
            self.fail(SaeError::Timeout { what });
            return;
        }
        match (self.role, self.state) {
            (_, State::Committed) => self.send_commit(now, false),
            (Role::Initiator, State::Confirmed) => self.send_confirm(now, false),
            _ => self.deadline = None,
        }
    }

    /// When [`Sae::handle_timeout`] is next due (while a job is out: when to look for its
    /// result).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next action for the caller.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<SaeOutput> {
        self.outputs.pop_front()
    }

    fn initiator_commit(
        &mut self,
        now: Instant,
        status: StatusCode,
        body: &[u8],
    ) -> Result<(), SaeError> {
        match self.state {
            State::Committed => {}
            // The responder retransmitted its commit: our confirm was lost.
            State::Confirmed => {
                self.send_confirm(now, false);
                return Ok(());
            }
            _ => return Err(self.unexpected("commit")),
        }
        match status {
            StatusCode::Success | StatusCode::SaeHashToElement => {}
            StatusCode::AntiCloggingTokenRequired => {
                let req = TokenRequest::parse(body, self.h2e)?;
                if req.group != GROUP_19 {
                    return Err(SaeError::UnsupportedGroup { group: req.group });
                }
                self.token = Some(req.token);
                self.attempts = 0;
                self.send_commit(now, true);
                return Ok(());
            }
            StatusCode::FiniteCyclicGroupNotSupported => {
                return Err(self.fail(SaeError::UnsupportedGroup { group: GROUP_19 }));
            }
            other => {
                return Err(self.fail(SaeError::Rejected {
                    status: other.into(),
                }))
            }
        }
        if (status == StatusCode::SaeHashToElement) != self.h2e {
            return Err(self.fail(SaeError::PweMethodMismatch {
                status: status.into(),
            }));
        }
        let commit = Commit::parse(body, self.h2e, 0)?;
        let peer = PeerCommit::validate(&commit)?;
        let (Some(pwe), Some(local)) = (self.pwe, self.local.clone()) else {
            return Err(self.unexpected("commit"));
        };
        self.submit(now, Work::Keys { pwe, local, peer }, Resume::Confirm(peer))
    }

    fn initiator_confirm(&mut self, status: StatusCode, body: &[u8]) -> Result<(), SaeError> {
        if !status.is_success() {
            // A refusal in answer to our confirm: the peer could not verify it.
            let status = status.into();
            let e = if self.state == State::Confirmed {
                SaeError::ConfirmRejected { status }
            } else {
                SaeError::Rejected { status }
            };
            return Err(self.fail(e));
        }
        if self.state != State::Confirmed {
            return Err(self.unexpected("confirm"));
        }
        let confirm = Confirm::parse(body)?;
        self.verify_peer_confirm(&confirm)?;
        self.accept();
        Ok(())
    }

    fn responder_commit(
        &mut self,
        now: Instant,
        status: StatusCode,
        body: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), SaeError> {
        let h2e = match status {
            StatusCode::Success => false,
            StatusCode::SaeHashToElement => true,
            other => {
                return Err(self.fail(SaeError::Rejected {
                    status: other.into(),
                }))
            }
        };
        if (h2e && !self.allow_h2e) || (!h2e && !self.allow_hnp) {
            let e = SaeError::PweMethodMismatch {
                status: status.into(),
            };
            self.reply_error(COMMIT, &e);
            return Err(e);
        }
        let commit = match Commit::parse(body, h2e, 0) {
            Ok(c) => c,
            Err(e) => {
                self.reply_error(COMMIT, &e);
                return Err(e);
            }
        };
        let peer = match PeerCommit::validate(&commit) {
            Ok(p) => p,
            Err(e) => {
                self.reply_error(COMMIT, &e);
                return Err(e);
            }
        };
        match self.state {
            State::Nothing => {}
            // A retransmission of the commit we answered: our commit was lost.
            State::Committed if self.peer_commit == Some(peer) => {
                self.send_commit(now, false);
                return Ok(());
            }
            // A new commit restarts the exchange (the peer gave up on the old one).
            State::Committed | State::Accepted => {}
            _ => return Err(self.unexpected("commit")),
        }
        self.h2e = h2e;
        let salt = (h2e && !commit.rejected_groups.is_empty()).then(|| {
            commit
                .rejected_groups
                .iter()
                .flat_map(|g| g.to_le_bytes())
                .collect::<Vec<u8>>()
        });
        let work = Work::Answer {
            password: self.password.clone(),
            h2e,
            own: self.own,
            peer_addr: self.peer,
            rand: random_scalar(rng),
            mask: random_scalar(rng),
            peer,
            salt,
        };
        self.submit(now, work, Resume::Answer(peer))
    }

    /// Hands `work` to the worker and, if the result is there already (an inline worker),
    /// acts on it at once: an `Err` is then the failure it caused.
    fn submit(&mut self, now: Instant, work: Work, then: Resume) -> Result<(), SaeError> {
        let slot = Slot::default();
        self.pending = Some((slot.clone(), then));
        self.deadline = Some(now + POLL);
        self.worker.0.submit(SaeJob::new(work, slot));
        self.collect(now)
    }

    /// Acts on the job's result if it came; otherwise looks again after [`POLL`]. An `Err` is
    /// the failure the result caused (already reported as [`SaeOutput::Failed`]).
    fn collect(&mut self, now: Instant) -> Result<(), SaeError> {
        let result = match &self.pending {
            Some((slot, _)) => slot.lock().ok().and_then(|mut r| r.take()),
            None => return Ok(()),
        };
        let Some(result) = result else {
            self.deadline = Some(now + POLL);
            return Ok(());
        };
        let Some((_, then)) = self.pending.take() else {
            return Ok(());
        };
        self.deadline = None;
        match (then, result) {
            (Resume::Start, Ok(Computed::Commit { pwe, local })) => {
                self.local = Some(local);
                self.pwe = Some(pwe);
                self.state = State::Committed;
                self.send_commit(now, true);
            }
            (Resume::Confirm(peer), Ok(Computed::Keys(keys))) => {
                self.peer_commit = Some(peer);
                self.keys = Some(keys);
                self.state = State::Confirmed;
                self.attempts = 0;
                self.send_confirm(now, true);
            }
            (Resume::Answer(peer), Ok(Computed::Answer { pwe, local, keys })) => {
                self.pwe = Some(pwe);
                self.local = Some(local);
                self.peer_commit = Some(peer);
                self.keys = Some(keys);
                self.send_confirm = 0;
                self.peer_send_confirm = 0;
                self.state = State::Committed;
                self.send_commit(now, true);
            }
            (Resume::Answer(_), Err(e)) => {
                // The secret could not be derived from the peer's commit (a reflection, a
                // degenerate secret): tell the peer, as for a malformed commit. No password
                // element is a local matter: nothing to tell.
                if !matches!(e, SaeError::NoPasswordElement) {
                    self.reply_error(COMMIT, &e);
                }
                return Err(self.fail(e));
            }
            (_, Err(e)) => return Err(self.fail(e)),
            (_, Ok(_)) => return Err(self.fail(self.unexpected("result"))),
        }
        Ok(())
    }

    fn responder_confirm(&mut self, status: StatusCode, body: &[u8]) -> Result<(), SaeError> {
        if !status.is_success() {
            return Err(self.fail(SaeError::Rejected {
                status: status.into(),
            }));
        }
        let confirm = Confirm::parse(body)?;
        match self.state {
            State::Committed => {}
            // Our confirm was lost: answer a newer confirm with ours again.
            State::Accepted if confirm.send_confirm > self.peer_send_confirm => {
                self.verify_peer_confirm(&confirm)?;
                self.send_confirm_frame();
                return Ok(());
            }
            _ => return Err(self.unexpected("confirm")),
        }
        if let Err(e) = self.verify_peer_confirm(&confirm) {
            // hostapd answers a mismatching confirm with status 15 so that the station can tell
            // a wrong password at once; do the same.
            self.reply_error(CONFIRM, &e);
            return Err(self.fail(e));
        }
        self.send_confirm_frame();
        self.accept();
        Ok(())
    }

    fn verify_peer_confirm(&mut self, confirm: &Confirm) -> Result<(), SaeError> {
        let (Some(keys), Some(local), Some(peer)) = (&self.keys, &self.local, &self.peer_commit)
        else {
            return Err(self.unexpected("confirm"));
        };
        let expected = confirm_value(
            &keys.kck,
            confirm.send_confirm,
            &peer.scalar,
            &peer.element,
            &local.scalar,
            &local.element,
        );
        if !bool::from(expected.ct_eq(&confirm.confirm)) {
            return Err(SaeError::ConfirmMismatch);
        }
        self.peer_send_confirm = confirm.send_confirm;
        Ok(())
    }

    fn accept(&mut self) {
        self.state = State::Accepted;
        self.deadline = None;
        if let Some(keys) = &self.keys {
            self.outputs.push_back(SaeOutput::Complete {
                pmk: keys.pmk(),
                pmkid: keys.pmkid,
            });
        }
    }

    fn send_commit(&mut self, now: Instant, first: bool) {
        let Some(local) = &self.local else {
            return;
        };
        let commit = local.to_commit(self.token.clone(), self.password.identifier());
        let status = if self.h2e {
            StatusCode::SaeHashToElement
        } else {
            StatusCode::Success
        };
        self.outputs.push_back(SaeOutput::Send(AuthFrame {
            transaction: COMMIT,
            status,
            body: commit.to_vec(self.h2e),
        }));
        self.arm(now, first);
    }

    fn send_confirm(&mut self, now: Instant, first: bool) {
        self.send_confirm_frame();
        self.arm(now, first);
    }

    fn send_confirm_frame(&mut self) {
        let (Some(keys), Some(local), Some(peer)) = (&self.keys, &self.local, &self.peer_commit)
        else {
            return;
        };
        self.send_confirm = self.send_confirm.saturating_add(1).min(0xfffe);
        let confirm = Confirm {
            send_confirm: self.send_confirm,
            confirm: confirm_value(
                &keys.kck,
                self.send_confirm,
                &local.scalar,
                &local.element,
                &peer.scalar,
                &peer.element,
            ),
        };
        self.outputs.push_back(SaeOutput::Send(AuthFrame {
            transaction: CONFIRM,
            status: StatusCode::Success,
            body: confirm.to_vec(),
        }));
    }

    fn arm(&mut self, now: Instant, first: bool) {
        self.attempts = if first { 1 } else { self.attempts + 1 };
        self.deadline = Some(now + self.policy.timeout);
    }

    fn reply_error(&mut self, transaction: u16, e: &SaeError) {
        if let Some(status) = e.status_code() {
            let body = if transaction == COMMIT {
                GROUP_19.to_le_bytes().to_vec()
            } else {
                Vec::new()
            };
            self.outputs.push_back(SaeOutput::Send(AuthFrame {
                transaction,
                status,
                body,
            }));
        }
    }

    fn fail(&mut self, e: SaeError) -> SaeError {
        self.state = State::Failed;
        self.deadline = None;
        self.outputs.push_back(SaeOutput::Failed(e.clone()));
        e
    }

    fn unexpected(&self, what: &'static str) -> SaeError {
        SaeError::UnexpectedFrame {
            what,
            state: self.state.name(),
        }
    }
}
