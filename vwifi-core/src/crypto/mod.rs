//! WPA2 cryptography: the key hierarchy (PBKDF2 PSK, PRF, PTK), the EAPOL-Key MIC, AES key wrap
//! and CCMP, built on the RustCrypto crates.
//!
//! Keys are held in types that zeroize on drop and print as `<redacted>` in `Debug`; none has
//! `Display`. MICs are compared in constant time with `subtle`.
//!
//! Verifying a recorded handshake takes a few calls:
//! ```
//! # use vwifi_core::crypto::{derive_ptk, verify_mic, Psk};
//! # use vwifi_core::MacAddr;
//! # fn check(psk: &Psk, aa: MacAddr, spa: MacAddr, anonce: &[u8; 32], snonce: &[u8; 32],
//! #          msg2: &[u8]) -> Result<(), vwifi_core::crypto::CryptoError> {
//! let ptk = derive_ptk(psk, aa, spa, anonce, snonce);
//! verify_mic(ptk.kck(), msg2, vwifi_core::wire::eapol::MIC_RANGE)?;
//! # Ok(()) }
//! ```
//! (or use [`crate::handshake::verify_recorded`]).

mod aes_ccm;
pub mod ccmp;
mod error;
pub mod keys;
pub mod keywrap;
pub mod mic;
pub mod prf;
pub mod psk;

pub use error::CryptoError;
pub use keys::{Gtk, Kck, Kek, Pmk, Ptk, TemporalKey};
pub use keywrap::{unwrap_key_data, wrap_key_data};
pub use mic::{compute_mic, verify_mic, write_mic, MIC_LEN};
pub use prf::{derive_ptk, prf_sha1, Nonce};
pub use psk::{derive_psk, Passphrase, Psk};
