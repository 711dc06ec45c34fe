//! The error of the guest-protocol layer.

use crate::crypto::CryptoError;
use crate::wire::ParseError;

/// Why a message could not be encoded or decoded.
///
/// Decoding errors name the field that was wrong. Errors in the header ([`BadMagic`],
/// [`UnsupportedVersion`], [`TooLong`]) mean a byte stream has lost its framing; the others
/// concern one well-delimited message, which a stream reader can skip (see
/// [`ProtoError::is_framing`]).
///
/// [`BadMagic`]: ProtoError::BadMagic
/// [`UnsupportedVersion`]: ProtoError::UnsupportedVersion
/// [`TooLong`]: ProtoError::TooLong
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The input ended inside a field or before the end of the message the header announced.
    #[error("{what}: truncated, need {need} bytes, have {have}")]
    Truncated {
        /// The field or structure being read.
        what: &'static str,
        /// The number of bytes it needs.
        need: usize,
        /// The number of bytes that were left.
        have: usize,
    },
    /// The first byte is not the protocol's magic byte: this is not a vwifi message, or a stream
    /// is out of step.
    #[error("bad magic byte {got:#04x}, expected {expected:#04x}")]
    BadMagic {
        /// The byte found.
        got: u8,
        /// The magic byte, [`super::MAGIC`].
        expected: u8,
    },
    /// The header's version byte names a protocol version this side does not speak.
    #[error("unsupported protocol version {got}, this side speaks version {supported}")]
    UnsupportedVersion {
        /// The version in the header.
        got: u8,
        /// The highest version this side speaks.
        supported: u8,
    },
    /// The header's message type is unknown to this version.
    #[error("unknown message type {0:#04x}")]
    UnknownMessageType(u8),
    /// A message (header and body) is longer than [`super::MAX_MESSAGE_LEN`]. On decoding, `len`
    /// is what the header announced; nothing of the body has been read.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// The length of the whole message, in bytes.
        len: usize,
        /// The maximum, [`super::MAX_MESSAGE_LEN`].
        max: usize,
    },
    /// A variable-length field is longer than its limit.
    #[error("{what}: {len} bytes exceeds the maximum of {max}")]
    FieldTooLong {
        /// The field.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// A field holds a value that is not allowed (an unknown code where only known ones are
    /// meaningful, a flag bit that must be zero, a boolean that is not 0 or 1).
    #[error("{what}: bad value {value:#x}")]
    BadField {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u64,
    },
    /// A request or reply arrived without a request id.
    #[error("{message} without a request id")]
    MissingRequestId {
        /// The message type's name.
        message: &'static str,
    },
    /// An event or data message arrived with a request id, which only requests and replies
    /// carry.
    #[error("{message} must not carry a request id")]
    UnexpectedRequestId {
        /// The message type's name.
        message: &'static str,
    },
    /// A text field is not valid UTF-8.
    #[error("{what}: invalid UTF-8")]
    InvalidUtf8 {
        /// The field.
        what: &'static str,
    },
    /// The passphrase of a `Connect` is not a valid WPA2 passphrase.
    #[error("bad passphrase")]
    BadPassphrase(#[source] CryptoError),
    /// Bytes were left over after the last field of a message body.
    #[error("{what}: {len} trailing bytes")]
    TrailingData {
        /// The message whose body was too long.
        what: &'static str,
        /// The number of bytes left over.
        len: usize,
    },
}

impl ProtoError {
    /// Whether this error leaves a byte stream without framing: the message's length cannot be
    /// trusted, so nothing after it can be read. Other errors concern one message, which a
    /// stream reader skips.
    pub const fn is_framing(&self) -> bool {
        matches!(
            self,
            Self::BadMagic { .. } | Self::UnsupportedVersion { .. } | Self::TooLong { .. }
        )
    }
}

impl From<ParseError> for ProtoError {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Truncated { what, need, have } => Self::Truncated { what, need, have },
            ParseError::BadValue { what, value } => Self::BadField { what, value },
            ParseError::TrailingData { what, len } => Self::TrailingData { what, len },
        }
    }
}
