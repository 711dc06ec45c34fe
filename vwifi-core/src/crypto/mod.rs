//! WPA2 and WPA3 cryptography: the key hierarchy (PBKDF2 PSK, PRF, PTK; SAE's KDF-SHA-256 in
//! [`kdf`]), the EAPOL-Key MICs, AES key wrap, CCMP and BIP-CMAC-128 ([`bip`]), built on the
//! RustCrypto crates (SAE's elliptic-curve part is in [`crate::handshake::sae`]).
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
pub mod bip;
pub mod ccmp;
mod error;
pub mod kdf;
pub mod keys;
pub mod keywrap;
pub mod mic;
pub mod prf;
pub mod psk;

pub use error::CryptoError;
pub use keys::{Gtk, Kck, Kek, Pmk, Ptk, TemporalKey};
pub use keywrap::{unwrap_key_data, wrap_key_data};
pub use mic::{
    compute_mic, compute_mic_cmac, verify_mic, verify_mic_cmac, write_mic, write_mic_cmac, MIC_LEN,
};
pub use prf::{derive_ptk, prf_sha1, Nonce};
pub use psk::{derive_psk, Passphrase, Psk};
