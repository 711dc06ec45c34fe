//! What a join through the kernel's MLME is told as when it fails, and which way it
//! authenticates: pure decisions, no state.

use crate::crypto::{Passphrase, Psk};
use crate::handshake::sae::SaeError;
use crate::handshake::HandshakeError;
use crate::proto::{ConnectFailure, Credentials, Security};
use crate::station::{
    FAILURE_CODE_HANDSHAKE_FAILED, FAILURE_CODE_REJECTED_BY_AP, FAILURE_CODE_SECURITY_MISMATCH,
    FAILURE_CODE_UNSUPPORTED_SECURITY,
};
use crate::wire::codes::StatusCode;
use crate::wire::eapol::{KeyFrame, KeyInfo};

/// How a join authenticates to the network it found, from the network's security and the
/// guest's credentials.
#[derive(Debug)]
pub enum Plan {
    /// An open network: `CONNECT` with Open System authentication, no handshake.
    Open,
    /// SAE with this password (WPA3, and the WPA2/WPA3 transition mode given a passphrase).
    Sae(Passphrase),
    /// WPA2-PSK with this PSK.
    Psk(Psk),
    /// WPA2-PSK with the PSK derived from this passphrase (PBKDF2: slow, off the loop's
    /// thread); a derivation that fails is told as [`security_mismatch`].
    DerivePsk(Passphrase),
}

/// Chooses how a join authenticates (SAE whenever the network offers it and a passphrase is
/// given, as the simulated radio's stations choose), or why it cannot.
pub fn plan(security: Security, credentials: Credentials) -> Result<Plan, ConnectFailure> {
    match (security, credentials) {
        (Security::Open, Credentials::None) => Ok(Plan::Open),
        (Security::Wpa3Sae | Security::Wpa2Wpa3, Credentials::Passphrase(pass)) => {
            Ok(Plan::Sae(pass))
        }
        (Security::Wpa2Psk | Security::Wpa2Wpa3, Credentials::Psk(psk)) => Ok(Plan::Psk(psk)),
        (Security::Wpa2Psk, Credentials::Passphrase(pass)) => Ok(Plan::DerivePsk(pass)),
        (Security::Open | Security::Wpa2Psk | Security::Wpa2Wpa3 | Security::Wpa3Sae, _) => {
            Err(security_mismatch(security))
        }
        (Security::Other(_), _) => Err(unsupported_security(security)),
    }
}

/// The guest's credentials do not fit the network's security.
pub fn security_mismatch(security: Security) -> ConnectFailure {
    ConnectFailure::Other {
        code: FAILURE_CODE_SECURITY_MISMATCH,
        detail: security.code().into(),
    }
}

/// The network's security (or its RSN element) is one this station cannot join.
pub fn unsupported_security(security: Security) -> ConnectFailure {
    ConnectFailure::Other {
        code: FAILURE_CODE_UNSUPPORTED_SECURITY,
        detail: security.code().into(),
    }
}

/// Why a join failed when the kernel reports the link gone during it, with IEEE 802.11
/// reason `reason`: after our message 2, a MIC failure, a 4-way handshake timeout or an
/// 802.1X failure means the AP did not accept our PSK.
pub fn join_failure(associated: bool, answered_msg1: bool, reason: u16) -> ConnectFailure {
    match (associated, answered_msg1, reason) {
        (true, true, 14 | 15 | 23) => ConnectFailure::WrongPassphrase,
        (true, false, 15) => ConnectFailure::HandshakeTimeout,
        _ => ConnectFailure::Other {
            code: FAILURE_CODE_REJECTED_BY_AP,
            detail: reason,
        },
    }
}

/// Why a join failed when our supplicant gave up (`answered_msg1`: our message 2 went out).
pub fn handshake_failure(e: &HandshakeError, answered_msg1: bool) -> ConnectFailure {
    match e {
        HandshakeError::Timeout { .. } if answered_msg1 => ConnectFailure::WrongPassphrase,
        HandshakeError::Timeout { .. } => ConnectFailure::HandshakeTimeout,
        HandshakeError::MicMismatch { .. } => ConnectFailure::WrongPassphrase,
        _ => ConnectFailure::Other {
            code: FAILURE_CODE_HANDSHAKE_FAILED,
            detail: e.reason_code(),
        },
    }
}

/// A handshake step the kernel refused (a key not installed, the port not authorized).
pub fn step_failure() -> ConnectFailure {
    ConnectFailure::Other {
        code: FAILURE_CODE_HANDSHAKE_FAILED,
        detail: 1,
    }
}

/// The connect failure an SAE failure is reported as (as the simulated radio's stations do).
pub fn sae_failure(e: &SaeError) -> ConnectFailure {
    if e.is_wrong_password() {
        return ConnectFailure::WrongPassphrase;
    }
    match e {
        SaeError::Timeout { .. } => ConnectFailure::ApUnreachable,
        SaeError::Rejected { status } => ConnectFailure::AuthRejected { status: *status },
        other => ConnectFailure::AuthRejected {
            status: other
                .status_code()
                .unwrap_or(StatusCode::UnspecifiedFailure)
                .into(),
        },
    }
}

/// How often the AP repeats its message 1 with the same ANonce after our answers before a
/// failure is taken for a wrong passphrase without a second attempt (hostapd sends message 1
/// four times before it gives up; a restarted handshake has a new ANonce).
pub const MSG1_REPEATS_FOR_WRONG_KEY: u8 = 2;

/// The AP's messages 1 during one join: the last ANonce and how often it came again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Msg1Repeats {
    anonce: Option<[u8; 32]>,
    repeats: u8,
}

impl Msg1Repeats {
    /// Notes an EAPOL frame from the AP (anything but a message 1 is ignored).
    pub fn saw(&mut self, frame: &[u8]) {
        let Ok(key) = KeyFrame::parse(frame) else {
            return;
        };
        let info = key.key_info;
        let msg1 = info.has(KeyInfo::PAIRWISE | KeyInfo::ACK)
            && !info.has(KeyInfo::MIC)
            && !info.has(KeyInfo::INSTALL);
        if !msg1 {
            return;
        }
        if self.anonce == Some(key.nonce) {
            self.repeats = self.repeats.saturating_add(1);
        } else {
            self.anonce = Some(key.nonce);
            self.repeats = 0;
        }
    }

    /// Whether the AP kept refusing our message 2 (see [`MSG1_REPEATS_FOR_WRONG_KEY`]).
    pub fn shows_wrong_key(&self) -> bool {
        self.repeats >= MSG1_REPEATS_FOR_WRONG_KEY
    }
}
