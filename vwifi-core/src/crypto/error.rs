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
    /// The EAPOL-Key MIC did not verify: the frame was altered or the peer holds another key
    /// (with a PSK, most likely a wrong passphrase).
    #[error("EAPOL-Key MIC mismatch")]
    MicMismatch,
    /// The MIC field range does not lie inside the frame or is not 16 bytes long.
    #[error("MIC field {start}..{end} does not fit a {frame_len}-byte frame")]
    MicFieldOutOfRange {
        /// Start of the given range.
        start: usize,
        /// End of the given range.
        end: usize,
        /// Length of the frame.
        frame_len: usize,
    },
    /// AES key wrap input must be a multiple of 8 bytes, at least 16 (24 when wrapped).
    #[error("AES key wrap: bad length {len}")]
    KeyWrapLength {
        /// The length that was given.
        len: usize,
    },
    /// AES key unwrap failed its integrity check: wrong KEK or altered key data.
    #[error("AES key unwrap failed its integrity check")]
    KeyUnwrapFailed,
    /// A key ID outside its range (1 to 3 for a GTK, 0 to 3 in a CCMP header).
    #[error("invalid key ID {key_id}")]
    InvalidKeyId {
        /// The key ID that was given.
        key_id: u8,
    },
    /// The CCMP MIC did not verify: wrong temporal key or an altered frame.
    #[error("CCMP decryption failed (MIC mismatch)")]
    CcmpDecryptFailed,
    /// A CCMP frame whose PN is not greater than the last accepted PN of its TID.
    #[error("CCMP replay on TID {tid}: PN {pn} not greater than last PN {last}")]
    Replay {
        /// The TID of the replay counter.
        tid: u8,
        /// The PN of the rejected frame.
        pn: u64,
        /// The last accepted PN.
        last: u64,
    },
    /// The MPDU is shorter than its header (and CCMP header and MIC) require.
    #[error("MPDU truncated: need {need} bytes, have {have}")]
    MpduTooShort {
        /// The number of bytes needed.
        need: usize,
        /// The number of bytes present.
        have: usize,
    },
    /// The MPDU body is too long for CCMP (more than 65535 bytes).
    #[error("MPDU of {len} bytes is too long for CCMP")]
    MpduTooLong {
        /// The length of the MPDU.
        len: usize,
    },
    /// Only data and management frames of protocol version 0 can be CCMP-protected.
    #[error("frame control {frame_control:#06x} is not a protectable frame")]
    UnsupportedFrame {
        /// The frame control field (little-endian value).
        frame_control: u16,
    },
    /// A frame given to CCMP decryption does not have the protected bit set.
    #[error("frame is not protected")]
    NotProtected,
    /// The CCMP header does not have the ExtIV bit set.
    #[error("CCMP header without ExtIV bit")]
    MissingExtIv,
    /// The 48-bit packet number space is exhausted; the key must be replaced.
    #[error("CCMP packet number exhausted")]
    PnExhausted,
}
