//! The WPA2 4-way and group-key handshakes (IEEE 802.11-2020 12.7.6, 12.7.7), supplicant and
//! authenticator roles, sans-IO.
//!
//! Both roles are driven the same way:
//! 1. feed received EAPOL frames with `handle_eapol(now, frame, ..)`; an `Err` means the frame
//!    was rejected (and, unless the machine failed, ignored: the state is unchanged);
//! 2. call `handle_timeout(now)` when `poll_timeout()` says so;
//! 3. drain `poll_output()` after each call: frames to send, keys to install, completion and
//!    failure ([`Output`]). On [`Output::Failed`] send a deauthentication with
//!    [`HandshakeError::reason_code`].
//!
//! Two AKMs are supported, chosen by the supplicant's RSNE ([`Akm`]): WPA2-Personal's
//! 00-0F-AC:2 (PSK; PRF-SHA1 PTK, key descriptor version 2 with the HMAC-SHA1-128 MIC) and
//! WPA3-Personal's 00-0F-AC:8 (SAE, whose PMK comes from [`sae`]; KDF-SHA-256 PTK, key
//! descriptor version 0 with the AES-128-CMAC MIC). Both use CCMP-128 and AES key wrap. With
//! management frame protection the authenticator adds the IGTK KDE to messages 3 and group 1
//! ([`Authenticator::set_igtk`]) and the supplicant reports it ([`Supplicant::igtk`]).

mod authenticator;
mod error;
mod rsne;
pub mod sae;
mod supplicant;
#[cfg(test)]
pub(crate) mod tests;

use core::fmt;
use core::time::Duration;

pub use authenticator::{Authenticator, AuthenticatorConfig};
pub use error::{ErrorKind, HandshakeError};
pub use supplicant::{Supplicant, SupplicantConfig};

use crate::addr::MacAddr;
use crate::crypto::{self, Gtk, Kck, Pmk, Ptk, TemporalKey};
use crate::wire::eapol::{KeyFrame, KeyInfo, MIC_RANGE, VERSION_2004};

/// A message of the 4-way or group key handshake, to say which one an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// 4-way handshake message 1 (authenticator to supplicant: ANonce).
    Msg1,
    /// 4-way handshake message 2 (supplicant: SNonce, RSNE, MIC).
    Msg2,
    /// 4-way handshake message 3 (authenticator: install, RSNE and GTK, MIC).
    Msg3,
    /// 4-way handshake message 4 (supplicant: MIC).
    Msg4,
    /// Group key handshake message 1 (authenticator: GTK, MIC).
    GroupMsg1,
    /// Group key handshake message 2 (supplicant: MIC).
    GroupMsg2,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Msg1 => "4-way handshake message 1",
            Self::Msg2 => "4-way handshake message 2",
            Self::Msg3 => "4-way handshake message 3",
            Self::Msg4 => "4-way handshake message 4",
            Self::GroupMsg1 => "group key handshake message 1",
            Self::GroupMsg2 => "group key handshake message 2",
        })
    }
}

/// What a handshake state machine asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this EAPOL frame (from the 802.1X header on) to the peer.
    Send(Vec<u8>),
    /// Install the pairwise temporal key (key ID 0) for the peer; its PNs start at 1.
    InstallPairwise(TemporalKey),
    /// Install a group key; received group frames must have a PN greater than `rsc`.
    InstallGroup {
        /// The GTK with its key ID.
        gtk: Gtk,
        /// The receive sequence counter: the last PN the authenticator used with this GTK.
        rsc: u64,
    },
    /// The 4-way handshake completed: the port may pass data.
    Complete,
    /// A group key handshake completed (authenticator): the supplicant holds the new GTK.
    GroupKeyComplete,
    /// The handshake failed for good; deauthenticate with the error's reason code.
    Failed(HandshakeError),
}

/// How an authenticator retransmits messages 1 and 3 and group message 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The time to wait for a reply before retransmitting.
    pub timeout: Duration,
    /// How many times a message is sent in all, the first included
    /// (dot11RSNAConfigPairwiseUpdateCount / GroupUpdateCount, 4 by default).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            max_attempts: 4,
        }
    }
}

/// The authentication and key management suite of a handshake, as selected in the
/// supplicant's RSNE: it fixes the PTK derivation, the MIC and the key descriptor version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Akm {
    /// 00-0F-AC:2, PSK (WPA2-Personal): PRF-SHA1, HMAC-SHA1-128, descriptor version 2.
    Psk,
    /// 00-0F-AC:8, SAE (WPA3-Personal): KDF-SHA-256, AES-128-CMAC, descriptor version 0.
    Sae,
}

impl Akm {
    /// The key descriptor version of this AKM's EAPOL-Key frames (12.7.2 b.1).
    pub const fn descriptor_version(self) -> u16 {
        match self {
            Self::Psk => KeyInfo::VERSION_HMAC_SHA1_AES,
            Self::Sae => 0,
        }
    }

    /// The suite selector value.
    pub const fn suite(self) -> u32 {
        match self {
            Self::Psk => 0x000f_ac02,
            Self::Sae => 0x000f_ac08,
        }
    }

    /// Derives the PTK (12.7.1.3).
    pub fn derive_ptk(
        self,
        pmk: &Pmk,
        aa: MacAddr,
        spa: MacAddr,
        anonce: &crypto::Nonce,
        snonce: &crypto::Nonce,
    ) -> Ptk {
        match self {
            Self::Psk => crypto::derive_ptk(pmk, aa, spa, anonce, snonce),
            Self::Sae => crypto::kdf::derive_ptk_sha256(pmk, aa, spa, anonce, snonce),
        }
    }
}
/// Key length field of CCMP-128.
const CCMP_KEY_LEN: u16 = 16;

/// Builds and emits an EAPOL-Key frame; if `kck` is given, the MIC is computed and written.
/// (The arguments are the frame's fields, in their order.)
#[allow(clippy::too_many_arguments)]
fn build_frame(
    akm: Akm,
    key_info: u16,
    key_length: u16,
    replay_counter: u64,
    nonce: [u8; 32],
    rsc: u64,
    key_data: Vec<u8>,
    kck: Option<&Kck>,
) -> Vec<u8> {
    let mut frame = KeyFrame {
        version: VERSION_2004,
        key_info: KeyInfo(key_info | akm.descriptor_version()),
        key_length,
        replay_counter,
        nonce,
        iv: [0; 16],
        rsc: rsc.to_le_bytes(),
        reserved: [0; 8],
        mic: [0; 16],
        key_data,
    }
    .to_vec();
    if let Some(kck) = kck {
        // The range is inside every emitted key frame, so this cannot fail.
        let _ = match akm {
            Akm::Psk => crypto::write_mic(kck, &mut frame, MIC_RANGE),
            Akm::Sae => crypto::write_mic_cmac(kck, &mut frame, MIC_RANGE),
        };
    }
    frame
}

/// Parses a frame and checks the key descriptor version.
fn parse_frame(frame: &[u8], akm: Akm) -> Result<KeyFrame, HandshakeError> {
    let f = KeyFrame::parse(frame)?;
    let version = f.key_info.descriptor_version();
    if u16::from(version) != akm.descriptor_version() {
        return Err(HandshakeError::UnsupportedKeyDescriptor { version });
    }
    Ok(f)
}

/// Checks the MIC of a received frame.
fn check_mic(akm: Akm, kck: &Kck, frame: &[u8], message: Message) -> Result<(), HandshakeError> {
    match akm {
        Akm::Psk => crypto::verify_mic(kck, frame, MIC_RANGE),
        Akm::Sae => crypto::verify_mic_cmac(kck, frame, MIC_RANGE),
    }
    .map_err(|_| HandshakeError::MicMismatch { message })
}

/// Verifies a recorded 4-way handshake: derives the PTK from the PMK, the addresses and the
/// nonces of messages 1 and 2, then checks the MICs of messages 2, 3 and 4, their replay
/// counters, the ANonce of message 3 and the key wrap of its key data. Returns the PTK, with
/// which the recorded CCMP traffic can be decrypted.
///
/// A [`HandshakeError::MicMismatch`] on message 2 means the PMK (passphrase) is not the one the
/// supplicant used.
pub fn verify_recorded(
    pmk: &Pmk,
    aa: MacAddr,
    spa: MacAddr,
    msgs: [&[u8]; 4],
) -> Result<Ptk, HandshakeError> {
    let [m1, m2, m3, m4] = msgs;
    let (f1, f2, f3, f4) = (
        parse_frame(m1, Akm::Psk)?,
        parse_frame(m2, Akm::Psk)?,
        parse_frame(m3, Akm::Psk)?,
        parse_frame(m4, Akm::Psk)?,
    );
    let ptk = crypto::derive_ptk(pmk, aa, spa, &f1.nonce, &f2.nonce);
    check_mic(Akm::Psk, ptk.kck(), m2, Message::Msg2)?;
    check_mic(Akm::Psk, ptk.kck(), m3, Message::Msg3)?;
    check_mic(Akm::Psk, ptk.kck(), m4, Message::Msg4)?;
    for (message, expected, received) in [
        (Message::Msg2, f1.replay_counter, f2.replay_counter),
        (Message::Msg4, f3.replay_counter, f4.replay_counter),
    ] {
        if expected != received {
            return Err(HandshakeError::ReplayCounterMismatch {
                message,
                expected,
                received,
            });
        }
    }
    if f3.nonce != f1.nonce {
        return Err(HandshakeError::NonceMismatch {
            message: Message::Msg3,
        });
    }
    if f3.key_info.has(KeyInfo::ENCRYPTED_KEY_DATA) {
        crypto::unwrap_key_data(ptk.kek(), &f3.key_data).map_err(|source| {
            HandshakeError::KeyData {
                message: Message::Msg3,
                source,
            }
        })?;
    }
    Ok(ptk)
}
