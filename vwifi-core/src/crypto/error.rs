//! The error of the crypto layer.

/// Why a cryptographic operation failed. No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A WPA2 passphrase must be 8 to 63 printable ASCII characters (IEEE 802.11-2020 J.4.1).
    #[error("passphrase must be 8 to 63 characters long, got {len}")]
    PassphraseLength {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// A WPA2 passphrase may only hold printable ASCII characters (32 to 126).
    #[error("passphrase may only contain printable ASCII characters (byte {byte:#04x} at position {position})")]
    PassphraseCharacter {
        /// The offending byte.
        byte: u8,
        /// Its position in the passphrase.
        position: usize,
    },
    /// An SSID is 0 to 32 bytes long.
    #[error("SSID must be at most 32 bytes long, got {len}")]
    SsidLength {
        /// The length that was given.
        len: usize,
    },
}
