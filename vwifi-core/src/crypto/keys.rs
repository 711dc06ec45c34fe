//! Key types of the WPA2 key hierarchy (IEEE 802.11-2020 12.7.1): the PMK, the PTK split into
//! KCK, KEK and TK, and the GTK with its key ID.
//!
//! Every type zeroizes its bytes on drop, prints as `<redacted>` in `Debug` and has no
//! `Display`. The bytes are reachable only through `expose`, named so that a reviewer sees
//! every place where key material leaves its wrapper.

use core::fmt;

use aes::cipher::KeyInit;
use aes::Aes128Enc;
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{CryptoError, Psk};

/// The pairwise master key. With a pre-shared key (AKM 00-0F-AC:2) the PMK is the PSK
/// (IEEE 802.11-2020 12.7.1.3).
pub type Pmk = Psk;

/// The length of the KCK, KEK and TK for CCMP-128 with AKM 00-0F-AC:2, in bytes.
pub const KEY_LEN: usize = 16;

/// The length of the PTK for CCMP-128 (KCK + KEK + TK): 48 bytes, PRF-384.
pub const PTK_LEN: usize = 3 * KEY_LEN;

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// Wraps raw key bytes.
            pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// The key bytes. Handle with care: never log them.
            pub const fn expose(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_key!(
    /// The key confirmation key: the first 128 bits of the PTK, the key of the EAPOL-Key MIC.
    Kck
);
secret_key!(
    /// The key encryption key: bits 128..256 of the PTK, the AES key wrap key of the EAPOL-Key
    /// key data.
    Kek
);
/// A CCMP-128 temporal key: the pairwise TK (bits 256..384 of the PTK) or a GTK.
///
/// It holds its AES key schedule, expanded once when the key is made, so that CCMP does not
/// expand it again for every frame. The schedule is boxed (the `aes` crate's type is large) and,
/// like the key bytes, zeroized on drop.
#[derive(Clone)]
pub struct TemporalKey {
    bytes: [u8; KEY_LEN],
    cipher: Box<Aes128Enc>,
}

impl TemporalKey {
    /// Wraps raw key bytes and expands the AES key schedule.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let cipher = Box::new(Aes128Enc::new(&bytes.into()));
        Self { bytes, cipher }
    }

    /// The key bytes. Handle with care: never log them.
    pub const fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The expanded AES-128 encryption key schedule (all that CCM needs).
    pub(crate) fn cipher(&self) -> &Aes128Enc {
        &self.cipher
    }
}

impl PartialEq for TemporalKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for TemporalKey {}

impl Drop for TemporalKey {
    fn drop(&mut self) {
        // The `aes` crate zeroizes the key schedule on drop (its `zeroize` feature).
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for TemporalKey {}

impl fmt::Debug for TemporalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporalKey(<redacted>)")
    }
}

/// The pairwise transient key for CCMP-128: KCK, KEK and TK, 16 bytes each
/// (IEEE 802.11-2020 12.7.1.3, Table 12-8).
#[derive(Clone, PartialEq, Eq)]
pub struct Ptk {
    kck: Kck,
    kek: Kek,
    tk: TemporalKey,
}

impl Ptk {
    /// Splits 48 PRF output bytes into KCK, KEK and TK. The input is zeroized.
    pub fn from_bytes(mut bytes: [u8; PTK_LEN]) -> Self {
        let part = |i: usize| {
            let mut k = [0u8; KEY_LEN];
            if let Some(src) = bytes.get(i * KEY_LEN..(i + 1) * KEY_LEN) {
                k.copy_from_slice(src);
            }
            k
        };
        let (mut a, mut b, mut c) = (part(0), part(1), part(2));
        let ptk = Self {
            kck: Kck(a),
            kek: Kek(b),
            tk: TemporalKey::from_bytes(c),
        };
        a.zeroize();
        b.zeroize();
        c.zeroize();
        bytes.zeroize();
        ptk
    }

    /// The key confirmation key (EAPOL-Key MIC).
    pub const fn kck(&self) -> &Kck {
        &self.kck
    }

    /// The key encryption key (EAPOL-Key key data).
    pub const fn kek(&self) -> &Kek {
        &self.kek
    }

    /// The temporal key (CCMP of unicast data).
    pub const fn tk(&self) -> &TemporalKey {
        &self.tk
    }
}

impl fmt::Debug for Ptk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ptk(<redacted>)")
    }
}

/// A group temporal key for CCMP-128 with its key ID, 1 to 3 (key ID 0 is the pairwise key).
#[derive(Clone, PartialEq, Eq)]
pub struct Gtk {
    key: TemporalKey,
    key_id: u8,
}

impl Gtk {
    /// A GTK from its bytes and key ID; the key ID must be 1, 2 or 3.
    pub fn new(key: [u8; KEY_LEN], key_id: u8) -> Result<Self, CryptoError> {
        if !(1..=3).contains(&key_id) {
            return Err(CryptoError::InvalidKeyId { key_id });
        }
        Ok(Self {
            key: TemporalKey::from_bytes(key),
            key_id,
        })
    }

    /// Draws a fresh GTK from a cryptographic RNG (IEEE 802.11-2020 12.7.1.4 lets the
    /// authenticator pick any random value).
    pub fn generate(rng: &mut (impl RngCore + CryptoRng), key_id: u8) -> Result<Self, CryptoError> {
        let mut key = [0u8; KEY_LEN];
        rng.fill_bytes(&mut key);
        let gtk = Self::new(key, key_id);
        key.zeroize();
        gtk
    }

    /// The temporal key.
    pub const fn key(&self) -> &TemporalKey {
        &self.key
    }

    /// The key ID, 1 to 3.
    pub const fn key_id(&self) -> u8 {
        self.key_id
    }
}

impl fmt::Debug for Gtk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gtk")
            .field("key", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptk_splits_into_kck_kek_tk() {
        let mut bytes = [0u8; PTK_LEN];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let ptk = Ptk::from_bytes(bytes);
        assert_eq!(ptk.kck().expose()[0], 0);
        assert_eq!(ptk.kek().expose()[0], 16);
        assert_eq!(ptk.tk().expose()[15], 47);
    }

    #[test]
    fn keys_are_redacted_in_debug() {
        let ptk = Ptk::from_bytes([0xab; PTK_LEN]);
        let gtk = Gtk::new([0xcd; KEY_LEN], 1).unwrap();
        let shown = format!("{ptk:?} {:?} {gtk:?} {:?}", ptk.tk(), ptk.kck());
        assert!(!shown.contains("ab") && !shown.contains("171"));
        assert!(!shown.contains("cd") && !shown.contains("205"));
        assert!(shown.contains("key_id: 1"));
    }

    #[test]
    fn gtk_key_id_must_be_1_to_3() {
        assert_eq!(
            Gtk::new([0; KEY_LEN], 0),
            Err(CryptoError::InvalidKeyId { key_id: 0 })
        );
        assert_eq!(
            Gtk::new([0; KEY_LEN], 4),
            Err(CryptoError::InvalidKeyId { key_id: 4 })
        );
        assert_eq!(Gtk::new([0; KEY_LEN], 3).unwrap().key_id(), 3);
    }
}
