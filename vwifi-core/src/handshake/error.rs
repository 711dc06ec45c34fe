//! The error of the handshake layer and its 802.11 reason codes.

use super::Message;
use crate::crypto::CryptoError;
use crate::wire::ParseError;

/// Why a handshake frame was rejected or a handshake failed, split by cause (see
/// [`HandshakeError::kind`]). No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    // -- malformed --
    /// The frame is not a well-formed EAPOL-Key frame.
    #[error("invalid EAPOL-Key frame: {0}")]
    InvalidKeyFrame(#[from] ParseError),
    /// The (decrypted) key data lacks a required item or holds an invalid one.
    #[error("{message}: key data lacks a valid {what}")]
    MissingKeyData {
        /// The message.
        message: Message,
        /// The missing item ("GTK KDE", "RSNE").
        what: &'static str,
    },

    // -- peer misbehaved --
    /// The key information bits fit no message this role accepts.
    #[error("unexpected key information {key_info:#06x}")]
    UnexpectedKeyInfo {
        /// The key information field.
        key_info: u16,
    },
    /// A valid message arrived in a state that does not expect it.
    #[error("unexpected {message}")]
    UnexpectedMessage {
        /// The message.
        message: Message,
    },
    /// The supplicant saw a replay counter not greater than the last it accepted.
    #[error("{message}: replay counter {received} not greater than {last}")]
    ReplayCounterNotIncreasing {
        /// The message.
        message: Message,
        /// The counter in the frame.
        received: u64,
        /// The last counter accepted.
        last: u64,
    },
    /// The authenticator got a reply whose replay counter is not that of its request.
    #[error("{message}: replay counter {received}, expected {expected}")]
    ReplayCounterMismatch {
        /// The message.
        message: Message,
        /// The counter of the request.
        expected: u64,
        /// The counter in the reply.
        received: u64,
    },
    /// Message 3 carries another ANonce than message 1.
    #[error("{message}: ANonce differs from message 1")]
    NonceMismatch {
        /// The message.
        message: Message,
    },
    /// The RSNE in message 3 differs from the beacon's (a downgrade), or the RSNE in message 2
    /// differs from the association request's (IEEE 802.11-2020 12.7.6.3, 12.7.6.4).
    #[error("{message}: RSNE differs from the one advertised")]
    RsneMismatch {
        /// The message.
        message: Message,
    },
    /// The key data did not unwrap with the KEK.
    #[error("{message}: key data: {source}")]
    KeyData {
        /// The message.
        message: Message,
        /// The key wrap failure.
        #[source]
        source: CryptoError,
    },

    // -- wrong key --
    /// The MIC did not verify. On message 2 at the authenticator (and message 3 at the
    /// supplicant) this is what a wrong passphrase looks like: report it as "likely wrong
    /// passphrase". Otherwise the frame was altered in flight.
    #[error("{message}: MIC mismatch (likely wrong passphrase)")]
    MicMismatch {
        /// The message whose MIC failed.
        message: Message,
    },

    // -- incompatible --
    /// The key descriptor version is not 2 (HMAC-SHA1-128, AES key wrap).
    #[error("unsupported key descriptor version {version}")]
    UnsupportedKeyDescriptor {
        /// The version in the key information field.
        version: u8,
    },
    /// The RSNE's version is not 1.
    #[error("unsupported RSN version {version}")]
    UnsupportedRsnVersion {
        /// The version.
        version: u16,
    },
    /// The RSNE's group cipher is not CCMP-128 (00-0F-AC:4).
    #[error("unsupported group cipher suite {suite:#010x}")]
    UnsupportedGroupCipher {
        /// The suite (OUI and type, big-endian).
        suite: u32,
    },
    /// The RSNE offers or selects no CCMP-128 pairwise cipher.
    #[error("unsupported pairwise cipher suite {suite:#010x}")]
    UnsupportedPairwiseCipher {
        /// The first suite listed (0 if none).
        suite: u32,
    },
    /// The RSNE offers or selects no PSK AKM (00-0F-AC:2).
    #[error("unsupported AKM suite {suite:#010x}")]
    UnsupportedAkm {
        /// The first suite listed (0 if none).
        suite: u32,
    },

    // -- timeout --
    /// The 4-way handshake did not complete: `awaiting` never came (after `attempts` sends by
    /// the authenticator, or before the supplicant's deadline).
    #[error("4-way handshake timed out awaiting {awaiting} after {attempts} attempts")]
    Timeout {
        /// The message that did not come.
        awaiting: Message,
        /// How many times the authenticator sent its request (0 at the supplicant).
        attempts: u32,
    },
    /// The group key handshake did not complete.
    #[error("group key handshake timed out after {attempts} attempts")]
    GroupKeyTimeout {
        /// How many times group message 1 was sent.
        attempts: u32,
    },

    // -- local --
    /// A group key handshake was asked for before the 4-way handshake completed, or while
    /// another group key handshake runs.
    #[error("the 4-way handshake has not completed")]
    NotEstablished,
    /// The handshake already failed; start a new one.
    #[error("the handshake has already failed")]
    Closed,
}

/// The cause of a [`HandshakeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The frame could not be parsed or lacks a required item.
    Malformed,
    /// The peer broke the protocol (replays, unexpected messages, RSNE downgrade).
    PeerMisbehaved,
    /// A MIC failed: the peers hold different keys (a wrong passphrase) or a frame was altered.
    WrongKey,
    /// The peer wants something vwifi does not support.
    Incompatible,
    /// The peer did not answer in time.
    Timeout,
    /// The caller misused the state machine.
    Local,
}

impl HandshakeError {
    /// The cause of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidKeyFrame(_) | Self::MissingKeyData { .. } => ErrorKind::Malformed,
            Self::UnexpectedKeyInfo { .. }
            | Self::UnexpectedMessage { .. }
            | Self::ReplayCounterNotIncreasing { .. }
            | Self::ReplayCounterMismatch { .. }
            | Self::NonceMismatch { .. }
            | Self::RsneMismatch { .. }
            | Self::KeyData { .. } => ErrorKind::PeerMisbehaved,
            Self::MicMismatch { .. } => ErrorKind::WrongKey,
            Self::UnsupportedKeyDescriptor { .. }
            | Self::UnsupportedRsnVersion { .. }
            | Self::UnsupportedGroupCipher { .. }
            | Self::UnsupportedPairwiseCipher { .. }
            | Self::UnsupportedAkm { .. } => ErrorKind::Incompatible,
            Self::Timeout { .. } | Self::GroupKeyTimeout { .. } => ErrorKind::Timeout,
            Self::NotEstablished | Self::Closed => ErrorKind::Local,
        }
    }

    /// The 802.11 reason code to deauthenticate with (IEEE 802.11-2020 Table 9-49):
    /// 1 unspecified, 13 invalid element, 14 MIC failure, 15 4-way handshake timeout, 16 group
    /// key handshake timeout, 17 element in 4-way handshake differs, 18/19/20 invalid
    /// group/pairwise cipher or AKMP, 21 unsupported RSNE version.
    pub fn reason_code(&self) -> u16 {
        match self {
            Self::InvalidKeyFrame(_)
            | Self::UnexpectedKeyInfo { .. }
            | Self::UnexpectedMessage { .. }
            | Self::ReplayCounterNotIncreasing { .. }
            | Self::ReplayCounterMismatch { .. }
            | Self::NonceMismatch { .. }
            | Self::KeyData { .. }
            | Self::UnsupportedKeyDescriptor { .. }
            | Self::NotEstablished
            | Self::Closed => 1,
            Self::MissingKeyData { .. } => 13,
            Self::MicMismatch { .. } => 14,
            Self::Timeout { .. } => 15,
            Self::GroupKeyTimeout { .. } => 16,
            Self::RsneMismatch { .. } => 17,
            Self::UnsupportedGroupCipher { .. } => 18,
            Self::UnsupportedPairwiseCipher { .. } => 19,
            Self::UnsupportedAkm { .. } => 20,
            Self::UnsupportedRsnVersion { .. } => 21,
        }
    }
}

impl From<&HandshakeError> for u16 {
    /// The reason code; see [`HandshakeError::reason_code`].
    fn from(e: &HandshakeError) -> Self {
        e.reason_code()
    }
}
