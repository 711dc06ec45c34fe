//! The authenticator (access point) side of the 4-way and group key handshakes.

use std::collections::VecDeque;

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::{
    build_frame, check_mic, parse_frame, rsne, Akm, HandshakeError, Message, Output, RetryPolicy,
    CCMP_KEY_LEN,
};
use crate::addr::MacAddr;
use crate::crypto::bip::Igtk;
use crate::crypto::{self, Gtk, Nonce, Pmk, Ptk};
use crate::time::Instant;
use crate::wire::eapol::{
    emit_key_data, pad_key_data, parse_key_data, GtkKde, KeyDataItem, KeyFrame, KeyInfo,
};

/// What an authenticator needs to know about the association it secures.
#[derive(Debug, Clone)]
pub struct AuthenticatorConfig {
    /// The authenticator's address (the BSSID).
    pub aa: MacAddr,
    /// The supplicant's address.
    pub spa: MacAddr,
    /// The PMK (the PSK).
    pub pmk: Pmk,
    /// The RSNE of the authenticator's beacons and probe responses, whole; sent in message 3.
    pub own_rsne: Vec<u8>,
    /// The RSNE of the supplicant's association request, whole; message 2 must carry exactly
    /// these bytes.
    pub peer_rsne: Vec<u8>,
    /// The current GTK of the BSS.
    pub gtk: Gtk,
    /// The last PN transmitted with the GTK (sent as the key RSC).
    pub gtk_rsc: u64,
    /// Retransmission of messages 1 and 3 and group message 1.
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone)]
enum State {
    AwaitMsg2,
    AwaitMsg4 { ptk: Ptk },
    Established { ptk: Ptk },
    AwaitGroupMsg2 { ptk: Ptk, gtk: Gtk, rsc: u64 },
    Failed,
}

/// The authenticator's state machine. See the [module documentation](super) for how to
/// drive it.
#[derive(Debug, Clone)]
pub struct Authenticator {
    cfg: AuthenticatorConfig,
    akm: Akm,
    /// The RSNXE of the authenticator's beacons (element bytes), sent in message 3.
    own_rsnxe: Option<Vec<u8>>,
    /// The IGTK and its last IPN, sent in messages 3 and group 1 (management frame protection).
    igtk: Option<(Igtk, u64)>,
    state: State,
    anonce: Nonce,
    /// The replay counter of the last request sent.
    replay_counter: u64,
    /// How many times the current request has been sent.
    attempts: u32,
    deadline: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl Authenticator {
    /// Starts a 4-way handshake: draws the ANonce from `rng` and queues message 1. Fails if
    /// either RSNE asks for something other than PSK with CCMP-128 (the peer's RSNE must
    /// select exactly those).
    pub fn new(
        cfg: AuthenticatorConfig,
        now: Instant,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Self, HandshakeError> {
        rsne::check(&cfg.own_rsne, false)?;
        let akm = rsne::negotiate(&cfg.peer_rsne, &cfg.own_rsne)?;
        let mut anonce = [0u8; 32];
        rng.fill_bytes(&mut anonce);
        let mut a = Self {
            cfg,
            akm,
            own_rsnxe: None,
            igtk: None,
            state: State::AwaitMsg2,
            anonce,
            replay_counter: 0,
            attempts: 0,
            deadline: None,
            outputs: VecDeque::new(),
        };
        a.send_request(now);
        Ok(a)
    }

    /// The AKM the handshake runs with (the one the supplicant's RSNE selects).
    pub fn akm(&self) -> Akm {
        self.akm
    }

    /// Sets the RSN Extension element (whole) of the authenticator's beacons: message 3
    /// carries it after the RSNE, as supplicants check (WPA3). Call before message 2 arrives.
    pub fn set_own_rsnxe(&mut self, rsnxe: Vec<u8>) {
        self.own_rsnxe = Some(rsnxe);
    }

    /// Sets the IGTK (and the last IPN used with it) to hand over in message 3 and in group
    /// key messages: call before message 2 arrives when management frame protection was
    /// negotiated (both RSNEs have MFPC).
    pub fn set_igtk(&mut self, igtk: Igtk, ipn: u64) {
        self.igtk = Some((igtk, ipn));
    }

    /// Whether an IGTK is handed over: management frame protection was negotiated.
    pub fn has_igtk(&self) -> bool {
        self.igtk.is_some()
    }

    /// Whether the 4-way handshake has completed (and not failed since).
    pub fn is_established(&self) -> bool {
        matches!(
            self.state,
            State::Established { .. } | State::AwaitGroupMsg2 { .. }
        )
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Authenticator::handle_timeout`] must be called: the retransmission deadline of
    /// the outstanding request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Retransmits the outstanding request with a new replay counter, or fails with a
    /// timeout once it has been sent `retry.max_attempts` times.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.attempts >= self.cfg.retry.max_attempts {
            let attempts = self.attempts;
            let e = match self.state {
                State::AwaitMsg2 => HandshakeError::Timeout {
                    awaiting: Message::Msg2,
                    attempts,
                },
                State::AwaitMsg4 { .. } => HandshakeError::Timeout {
                    awaiting: Message::Msg4,
                    attempts,
                },
                _ => HandshakeError::GroupKeyTimeout { attempts },
            };
            self.fail(e);
        } else {
            self.send_request(now);
        }
    }

    /// Starts a group key handshake that hands `gtk` (last transmitted PN `rsc`) to the
    /// supplicant. Only after the 4-way handshake completed, one at a time.
    pub fn start_group_rekey(
        &mut self,
        now: Instant,
        gtk: Gtk,
        rsc: u64,
    ) -> Result<(), HandshakeError> {
        let State::Established { ptk } = &self.state else {
            return Err(HandshakeError::NotEstablished);
        };
        self.state = State::AwaitGroupMsg2 {
            ptk: ptk.clone(),
            gtk,
            rsc,
        };
        self.attempts = 0;
        self.send_request(now);
        Ok(())
    }

    /// Handles an EAPOL frame from the supplicant.
    ///
    /// An `Err` means the frame was rejected; the state is unchanged unless an
    /// [`Output::Failed`] was queued: a MIC mismatch on message 2 (the supplicant holds
    /// another PMK: a wrong passphrase) or an RSNE mismatch.
    pub fn handle_eapol(&mut self, now: Instant, frame: &[u8]) -> Result<(), HandshakeError> {
        self.handle_timeout(now);
        let f = parse_frame(frame, self.akm)?;
        let ki = f.key_info;
        if ki.has(KeyInfo::ACK)
            || !ki.has(KeyInfo::MIC)
            || ki.has(KeyInfo::REQUEST)
            || ki.has(KeyInfo::ERROR)
        {
            return Err(HandshakeError::UnexpectedKeyInfo { key_info: ki.0 });
        }
        let pairwise = ki.has(KeyInfo::PAIRWISE);
        match (&self.state, pairwise) {
            (State::Failed, _) => Err(HandshakeError::Closed),
            (State::AwaitMsg2, true) => self.on_msg2(now, &f, frame),
            (State::AwaitMsg4 { ptk }, true) => {
                let ptk = ptk.clone();
                self.on_msg4(&f, frame, ptk)
            }
            (State::AwaitGroupMsg2 { ptk, gtk, .. }, false) => {
                let (ptk, gtk) = (ptk.clone(), gtk.clone());
                self.on_group_msg2(&f, frame, &ptk, gtk)
            }
            (_, true) => Err(HandshakeError::UnexpectedMessage {
                message: Message::Msg4,
            }),
            (_, false) => Err(HandshakeError::UnexpectedMessage {
                message: Message::GroupMsg2,
            }),
        }
    }

    fn check_counter(&self, message: Message, f: &KeyFrame) -> Result<(), HandshakeError> {
        if f.replay_counter == self.replay_counter {
            Ok(())
        } else {
            Err(HandshakeError::ReplayCounterMismatch {
                message,
                expected: self.replay_counter,
                received: f.replay_counter,
            })
        }
    }

    fn on_msg2(&mut self, now: Instant, f: &KeyFrame, frame: &[u8]) -> Result<(), HandshakeError> {
        let message = Message::Msg2;
        self.check_counter(message, f)?;
        let ptk = self.akm.derive_ptk(
            &self.cfg.pmk,
            self.cfg.aa,
            self.cfg.spa,
            &self.anonce,
            &f.nonce,
        );
        // With a PSK, a MIC that does not verify means the supplicant derived its PTK from
        // another passphrase: retrying cannot help.
        let checked = check_mic(self.akm, ptk.kck(), frame, message).and_then(|()| {
            let items = parse_key_data(&f.key_data)?;
            let rsne = items.iter().find_map(|i| match i {
                KeyDataItem::Rsne(r) => Some(r),
                _ => None,
            });
            if rsne == Some(&self.cfg.peer_rsne) {
                Ok(())
            } else {
                Err(HandshakeError::RsneMismatch { message })
            }
        });
        if let Err(e) = checked {
            self.fail(e.clone());
            return Err(e);
        }
        self.state = State::AwaitMsg4 { ptk };
        self.attempts = 0;
        self.send_request(now);
        Ok(())
    }

    fn on_msg4(&mut self, f: &KeyFrame, frame: &[u8], ptk: Ptk) -> Result<(), HandshakeError> {
        let message = Message::Msg4;
        if !f.key_info.has(KeyInfo::SECURE) {
            return Err(HandshakeError::UnexpectedKeyInfo {
                key_info: f.key_info.0,
            });
        }
        self.check_counter(message, f)?;
        check_mic(self.akm, ptk.kck(), frame, message)?;
        self.outputs
            .push_back(Output::InstallPairwise(ptk.tk().clone()));
        self.outputs.push_back(Output::Complete);
        self.state = State::Established { ptk };
        self.deadline = None;
        Ok(())
    }

    fn on_group_msg2(
        &mut self,
        f: &KeyFrame,
        frame: &[u8],
        ptk: &Ptk,
        gtk: Gtk,
    ) -> Result<(), HandshakeError> {
        let message = Message::GroupMsg2;
        self.check_counter(message, f)?;
        check_mic(self.akm, ptk.kck(), frame, message)?;
        self.cfg.gtk = gtk;
        self.state = State::Established { ptk: ptk.clone() };
        self.deadline = None;
        self.outputs.push_back(Output::GroupKeyComplete);
        Ok(())
    }

    /// Sends (or resends) the request of the current state with the next replay counter.
    fn send_request(&mut self, now: Instant) {
        self.replay_counter = self.replay_counter.wrapping_add(1);
        self.attempts += 1;
        self.deadline = Some(now + self.cfg.retry.timeout);
        let frame = match &self.state {
            State::AwaitMsg2 => build_frame(
                self.akm,
                KeyInfo::PAIRWISE | KeyInfo::ACK,
                CCMP_KEY_LEN,
                self.replay_counter,
                self.anonce,
                0,
                Vec::new(),
                None,
            ),
            State::AwaitMsg4 { ptk } => {
                let mut items = vec![KeyDataItem::Rsne(self.cfg.own_rsne.clone())];
                if let Some(rsnxe) = &self.own_rsnxe {
                    items.extend(parse_key_data(rsnxe).unwrap_or_default());
                }
                items.push(gtk_item(&self.cfg.gtk));
                items.extend(self.igtk.as_ref().map(igtk_item));
                build_frame(
                    self.akm,
                    KeyInfo::PAIRWISE
                        | KeyInfo::INSTALL
                        | KeyInfo::ACK
                        | KeyInfo::MIC
                        | KeyInfo::SECURE
                        | KeyInfo::ENCRYPTED_KEY_DATA,
                    CCMP_KEY_LEN,
                    self.replay_counter,
                    self.anonce,
                    self.cfg.gtk_rsc,
                    wrapped(&items, ptk),
                    Some(ptk.kck()),
                )
            }
            State::AwaitGroupMsg2 { ptk, gtk, rsc } => build_frame(
                self.akm,
                KeyInfo::ACK | KeyInfo::MIC | KeyInfo::SECURE | KeyInfo::ENCRYPTED_KEY_DATA,
                0,
                self.replay_counter,
                [0; 32],
                *rsc,
                wrapped(
                    &[Some(gtk_item(gtk)), self.igtk.as_ref().map(igtk_item)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>(),
                    ptk,
                ),
                Some(ptk.kck()),
            ),
            State::Established { .. } | State::Failed => {
                self.deadline = None;
                return;
            }
        };
        self.outputs.push_back(Output::Send(frame));
    }

    fn fail(&mut self, e: HandshakeError) {
        self.state = State::Failed;
        self.deadline = None;
        self.outputs.push_back(Output::Failed(e));
    }
}

/// The IGTK KDE: 00-0F-AC:9, key ID (2 octets), IPN (6 octets), IGTK.
fn igtk_item((igtk, ipn): &(Igtk, u64)) -> KeyDataItem {
    let mut data = Vec::with_capacity(24);
    data.extend_from_slice(&igtk.key_id().to_le_bytes());
    data.extend_from_slice(ipn.to_le_bytes().get(..6).unwrap_or_default());
    data.extend_from_slice(igtk.expose());
    KeyDataItem::Kde {
        oui: [0x00, 0x0f, 0xac],
        data_type: 9,
        data,
    }
}

fn gtk_item(gtk: &Gtk) -> KeyDataItem {
    KeyDataItem::Gtk(GtkKde {
        key_id: gtk.key_id(),
        tx: false,
        gtk: Zeroizing::new(gtk.key().expose().to_vec()),
    })
}

/// Emits, pads and AES-key-wraps key data with the KEK.
fn wrapped(items: &[KeyDataItem], ptk: &Ptk) -> Vec<u8> {
    let mut data = Zeroizing::new(Vec::with_capacity(256));
    emit_key_data(items, &mut data);
    pad_key_data(&mut data);
    // Padded key data is at least 16 bytes and a multiple of 8, so wrapping cannot fail.
    crypto::wrap_key_data(ptk.kek(), &data).unwrap_or_default()
}

#[cfg(test)]
impl Authenticator {
    pub(super) fn cfg_gtk_for_test(&self) -> &Gtk {
        &self.cfg.gtk
    }

    pub(super) fn set_peer_rsne_for_test(&mut self, rsne: Vec<u8>) {
        self.cfg.peer_rsne = rsne;
    }
}
