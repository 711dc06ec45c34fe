//! The supplicant (station) side of the 4-way and group key handshakes.

use std::collections::VecDeque;

use core::time::Duration;

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::{build_frame, check_mic, parse_frame, rsne, Akm, HandshakeError, Message, Output};
use crate::addr::MacAddr;
use crate::crypto::bip::Igtk;
use crate::crypto::{self, Gtk, Nonce, Pmk, Ptk};
use crate::time::Instant;
use crate::wire::eapol::{parse_key_data, KeyDataItem, KeyFrame, KeyInfo};

/// What a supplicant needs to know about its association.
#[derive(Debug, Clone)]
pub struct SupplicantConfig {
    /// The authenticator's address (the BSSID).
    pub aa: MacAddr,
    /// The supplicant's own address.
    pub spa: MacAddr,
    /// The PMK (the PSK).
    pub pmk: Pmk,
    /// The RSNE of the beacon or probe response, whole; message 3 must carry exactly these
    /// bytes.
    pub ap_rsne: Vec<u8>,
    /// The RSNE the supplicant sent in its association request, whole; sent again in message 2.
    pub own_rsne: Vec<u8>,
    /// How long the 4-way handshake may take from [`Supplicant::new`] to message 3.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
enum State {
    AwaitMsg1,
    AwaitMsg3 { anonce: Nonce, tptk: Ptk },
    Established { anonce: Nonce, ptk: Ptk },
    Failed,
}

/// The supplicant's state machine. See the [module documentation](super) for how to drive it.
#[derive(Debug, Clone)]
pub struct Supplicant {
    cfg: SupplicantConfig,
    akm: Akm,
    /// The RSNXE of the association request, whole, sent again in message 2 after the RSNE.
    own_rsnxe: Option<Vec<u8>>,
    /// The IGTK and its IPN from the last message 3 or group message 1 that carried one.
    igtk: Option<(Igtk, u64)>,
    state: State,
    snonce: Option<Nonce>,
    /// The highest replay counter accepted so far.
    last_counter: Option<u64>,
    deadline: Option<Instant>,
    gtk: Option<Gtk>,
    outputs: VecDeque<Output>,
}

impl Supplicant {
    /// A supplicant waiting for message 1. Fails if either RSNE asks for something other than
    /// PSK with CCMP-128 (the own RSNE must select exactly those).
    pub fn new(cfg: SupplicantConfig, now: Instant) -> Result<Self, HandshakeError> {
        let akm = rsne::negotiate(&cfg.own_rsne, &cfg.ap_rsne)?;
        let deadline = Some(now + cfg.timeout);
        Ok(Self {
            cfg,
            akm,
            own_rsnxe: None,
            igtk: None,
            state: State::AwaitMsg1,
            snonce: None,
            last_counter: None,
            deadline,
            gtk: None,
            outputs: VecDeque::new(),
        })
    }

    /// Whether the 4-way handshake has completed (and not failed since).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// The PTK, once the 4-way handshake has completed.
    pub fn ptk(&self) -> Option<&Ptk> {
        match &self.state {
            State::Established { ptk, .. } => Some(ptk),
            _ => None,
        }
    }

    /// Sets the RSN Extension element (whole) the association request carried: message 2
    /// repeats it after the RSNE, as the authenticator checks (WPA3 with hash-to-element).
    pub fn set_own_rsnxe(&mut self, rsnxe: Vec<u8>) {
        self.own_rsnxe = Some(rsnxe);
    }

    /// The AKM the handshake runs with (from the supplicant's RSNE).
    pub fn akm(&self) -> Akm {
        self.akm
    }

    /// The IGTK and the last IPN the authenticator used with it, once a message 3 or group
    /// message 1 carried one (management frame protection negotiated).
    pub fn igtk(&self) -> Option<(&Igtk, u64)> {
        self.igtk.as_ref().map(|(k, ipn)| (k, *ipn))
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Supplicant::handle_timeout`] must be called: the handshake deadline, until the
    /// 4-way handshake completes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Fails the handshake with [`HandshakeError::Timeout`] if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.deadline {
            if now >= deadline {
                let awaiting = match self.state {
                    State::AwaitMsg1 => Message::Msg1,
                    _ => Message::Msg3,
                };
                self.fail(HandshakeError::Timeout {
                    awaiting,
                    attempts: 0,
                });
            }
        }
    }

    /// Handles an EAPOL frame from the authenticator. `rng` draws the SNonce.
    ///
    /// An `Err` means the frame was rejected; unless an [`Output::Failed`] was queued (an RSNE
    /// mismatch, invalid key data in an authentic message), the state is unchanged.
    pub fn handle_eapol(
        &mut self,
        now: Instant,
        frame: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), HandshakeError> {
        self.handle_timeout(now);
        if matches!(self.state, State::Failed) {
            return Err(HandshakeError::Closed);
        }
        let f = parse_frame(frame, self.akm)?;
        let ki = f.key_info;
        if !ki.has(KeyInfo::ACK) || ki.has(KeyInfo::REQUEST) || ki.has(KeyInfo::ERROR) {
            return Err(HandshakeError::UnexpectedKeyInfo { key_info: ki.0 });
        }
        if ki.has(KeyInfo::PAIRWISE) {
            if !ki.has(KeyInfo::MIC) {
                if ki.has(KeyInfo::INSTALL) || ki.has(KeyInfo::ENCRYPTED_KEY_DATA) {
                    return Err(HandshakeError::UnexpectedKeyInfo { key_info: ki.0 });
                }
                self.on_msg1(&f, rng)
            } else if ki.has(KeyInfo::INSTALL | KeyInfo::SECURE | KeyInfo::ENCRYPTED_KEY_DATA) {
                self.on_msg3(&f, frame)
            } else {
                Err(HandshakeError::UnexpectedKeyInfo { key_info: ki.0 })
            }
        } else if ki.has(KeyInfo::MIC | KeyInfo::SECURE | KeyInfo::ENCRYPTED_KEY_DATA)
            && !ki.has(KeyInfo::INSTALL)
        {
            self.on_group_msg1(&f, frame)
        } else {
            Err(HandshakeError::UnexpectedKeyInfo { key_info: ki.0 })
        }
    }

    fn check_counter(&self, message: Message, received: u64) -> Result<(), HandshakeError> {
        match self.last_counter {
            Some(last) if received <= last => Err(HandshakeError::ReplayCounterNotIncreasing {
                message,
                received,
                last,
            }),
            _ => Ok(()),
        }
    }

    fn on_msg1(
        &mut self,
        f: &KeyFrame,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), HandshakeError> {
        self.check_counter(Message::Msg1, f.replay_counter)?;
        // A retransmitted message 1 of the same handshake gets the same SNonce; a message 1
        // after completion starts a new handshake (PTK rekey) with a new one.
        let snonce = match (&self.state, self.snonce) {
            (State::AwaitMsg1 | State::AwaitMsg3 { .. }, Some(s)) => s,
            _ => {
                let mut s = [0u8; 32];
                rng.fill_bytes(&mut s);
                self.snonce = Some(s);
                s
            }
        };
        let tptk = self
            .akm
            .derive_ptk(&self.cfg.pmk, self.cfg.aa, self.cfg.spa, &f.nonce, &snonce);
        let msg2 = build_frame(
            self.akm,
            KeyInfo::PAIRWISE | KeyInfo::MIC,
            0,
            f.replay_counter,
            snonce,
            0,
            [
                self.cfg.own_rsne.clone(),
                self.own_rsnxe.clone().unwrap_or_default(),
            ]
            .concat(),
            Some(tptk.kck()),
        );
        self.last_counter = Some(f.replay_counter);
        self.state = State::AwaitMsg3 {
            anonce: f.nonce,
            tptk,
        };
        self.outputs.push_back(Output::Send(msg2));
        Ok(())
    }

    fn on_msg3(&mut self, f: &KeyFrame, frame: &[u8]) -> Result<(), HandshakeError> {
        let message = Message::Msg3;
        let (anonce, ptk, retransmit) = match &self.state {
            State::AwaitMsg3 { anonce, tptk } => (*anonce, tptk.clone(), false),
            State::Established { anonce, ptk } => (*anonce, ptk.clone(), true),
            _ => return Err(HandshakeError::UnexpectedMessage { message }),
        };
        self.check_counter(message, f.replay_counter)?;
        check_mic(self.akm, ptk.kck(), frame, message)?;
        if f.nonce != anonce {
            return Err(HandshakeError::NonceMismatch { message });
        }
        // The frame is authentic from here on: what is wrong with it fails the handshake.
        let (gtk, rsc) = match self.read_msg3_key_data(f, &ptk) {
            Ok(v) => v,
            Err(e) => {
                self.fail(e.clone());
                return Err(e);
            }
        };
        self.last_counter = Some(f.replay_counter);
        let msg4 = build_frame(
            self.akm,
            KeyInfo::PAIRWISE | KeyInfo::MIC | KeyInfo::SECURE,
            0,
            f.replay_counter,
            [0; 32],
            0,
            Vec::new(),
            Some(ptk.kck()),
        );
        self.outputs.push_back(Output::Send(msg4));
        if retransmit {
            // Message 4 was lost: answer again, but never reinstall the keys.
            return Ok(());
        }
        self.outputs
            .push_back(Output::InstallPairwise(ptk.tk().clone()));
        self.install_gtk(gtk, rsc);
        self.outputs.push_back(Output::Complete);
        self.state = State::Established { anonce, ptk };
        self.snonce = None;
        self.deadline = None;
        Ok(())
    }

    fn read_msg3_key_data(
        &mut self,
        f: &KeyFrame,
        ptk: &Ptk,
    ) -> Result<(Gtk, u64), HandshakeError> {
        let message = Message::Msg3;
        let data = crypto::unwrap_key_data(ptk.kek(), &f.key_data)
            .map_err(|source| HandshakeError::KeyData { message, source })?;
        let items = parse_key_data(&data)?;
        let rsne = items.iter().find_map(|i| match i {
            KeyDataItem::Rsne(r) => Some(r),
            _ => None,
        });
        if rsne != Some(&self.cfg.ap_rsne) {
            return Err(HandshakeError::RsneMismatch { message });
        }
        let gtk = gtk_from(&items, message)?;
        self.igtk = igtk_from(&items, message)?.or(self.igtk.take());
        Ok((gtk, f.rsc_pn()))
    }

    fn on_group_msg1(&mut self, f: &KeyFrame, frame: &[u8]) -> Result<(), HandshakeError> {
        let message = Message::GroupMsg1;
        let State::Established { ptk, .. } = &self.state else {
            return Err(HandshakeError::UnexpectedMessage { message });
        };
        let ptk = ptk.clone();
        self.check_counter(message, f.replay_counter)?;
        check_mic(self.akm, ptk.kck(), frame, message)?;
        let gtk = crypto::unwrap_key_data(ptk.kek(), &f.key_data)
            .map_err(|source| HandshakeError::KeyData { message, source })
            .and_then(|data| Ok(parse_key_data(&data)?))
            .and_then(|items| {
                let igtk = igtk_from(&items, message)?;
                Ok((gtk_from(&items, message)?, igtk))
            });
        let gtk = match gtk {
            Ok((g, igtk)) => {
                if igtk.is_some() {
                    self.igtk = igtk;
                }
                g
            }
            Err(e) => {
                self.fail(e.clone());
                return Err(e);
            }
        };
        self.last_counter = Some(f.replay_counter);
        let msg2 = build_frame(
            self.akm,
            KeyInfo::MIC | KeyInfo::SECURE,
            0,
            f.replay_counter,
            [0; 32],
            0,
            Vec::new(),
            Some(ptk.kck()),
        );
        self.outputs.push_back(Output::Send(msg2));
        self.install_gtk(gtk, f.rsc_pn());
        Ok(())
    }

    /// Queues the GTK for installation unless it is the key already installed (no key
    /// reinstallation, which would reset its replay counter).
    fn install_gtk(&mut self, gtk: Gtk, rsc: u64) {
        if self.gtk.as_ref() != Some(&gtk) {
            self.gtk = Some(gtk.clone());
            self.outputs.push_back(Output::InstallGroup { gtk, rsc });
        }
    }

    fn fail(&mut self, e: HandshakeError) {
        self.state = State::Failed;
        self.deadline = None;
        self.outputs.push_back(Output::Failed(e));
    }
}

/// The IGTK KDE (00-0F-AC:9: key ID, IPN, IGTK) of the key data, if any (12.7.2, Figure
/// 12-39): present when management frame protection was negotiated.
fn igtk_from(
    items: &[KeyDataItem],
    message: Message,
) -> Result<Option<(Igtk, u64)>, HandshakeError> {
    let Some(data) = items.iter().find_map(|i| match i {
        KeyDataItem::Kde {
            oui: [0x00, 0x0f, 0xac],
            data_type: 9,
            data,
        } => Some(data),
        _ => None,
    }) else {
        return Ok(None);
    };
    let invalid = HandshakeError::MissingKeyData {
        message,
        what: "IGTK KDE",
    };
    let (Some(id), Some(ipn), Some(key)) = (data.get(..2), data.get(2..8), data.get(8..)) else {
        return Err(invalid);
    };
    let key: [u8; 16] = key.try_into().map_err(|_| invalid.clone())?;
    let mut ipn_bytes = [0u8; 8];
    ipn_bytes[..6].copy_from_slice(ipn);
    let id: [u8; 2] = id.try_into().map_err(|_| invalid.clone())?;
    let igtk = Igtk::new(key, u16::from_le_bytes(id)).map_err(|_| invalid)?;
    Ok(Some((igtk, u64::from_le_bytes(ipn_bytes))))
}

/// The GTK of the first GTK KDE in the key data.
fn gtk_from(items: &[KeyDataItem], message: Message) -> Result<Gtk, HandshakeError> {
    let missing = HandshakeError::MissingKeyData {
        message,
        what: "GTK KDE",
    };
    let kde = items
        .iter()
        .find_map(|i| match i {
            KeyDataItem::Gtk(g) => Some(g),
            _ => None,
        })
        .ok_or_else(|| missing.clone())?;
    let mut bytes: [u8; 16] = kde.gtk.as_slice().try_into().map_err(|_| missing.clone())?;
    let gtk = Gtk::new(bytes, kde.key_id).map_err(|_| missing);
    bytes.zeroize();
    gtk
}
