//! WPA2 cryptography: the key hierarchy (PBKDF2 PSK, PRF, PTK), the EAPOL-Key MIC, AES key wrap
//! and CCMP, built on the RustCrypto crates.
//!
//! Keys are held in types that zeroize on drop and print as `<redacted>` in `Debug`; none has
//! `Display`. MICs are compared in constant time with `subtle`.

mod error;
pub mod psk;

pub use error::CryptoError;
pub use psk::{derive_psk, Passphrase, Psk};
