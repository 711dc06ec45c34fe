//! The pre-shared key: PBKDF2-HMAC-SHA1 over passphrase and SSID, 4096 rounds, 256 bits
//! (IEEE 802.11-2020 J.4.1).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;

/// The longest SSID, in bytes.
pub const MAX_SSID_LEN: usize = 32;

/// A validated WPA2 passphrase: 8 to 63 printable ASCII characters. Zeroized on drop, redacted
/// in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    /// Validates a passphrase.
    pub fn new(passphrase: &str) -> Result<Self, CryptoError> {
        let len = passphrase.len();
        if !(8..=63).contains(&len) {
            return Err(CryptoError::PassphraseLength { len });
        }
        if let Some((position, &byte)) = passphrase
            .as_bytes()
            .iter()
            .enumerate()
            .find(|(_, b)| !(32..=126).contains(*b))
        {
            return Err(CryptoError::PassphraseCharacter { byte, position });
        }
        Ok(Self(passphrase.to_owned()))
    }

    /// The passphrase's bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// A 256-bit pairwise master key from a passphrase or given directly. Zeroized on drop,
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Psk([u8; 32]);

impl Psk {
    /// Wraps raw key bytes (for a PSK given as 64 hex digits).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses a PSK written as 64 hex digits, as `wpa_passphrase` prints it.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let s = core::str::from_utf8(pair).ok()?;
            *o = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The key bytes. Handle with care: never log them.
    pub const fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lowercase hex digits, for `vwifi-host psk`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Psk(<redacted>)")
    }
}

/// Derives the PSK from a passphrase and an SSID (IEEE 802.11-2020 J.4.1):
/// `PBKDF2(HMAC-SHA1, passphrase, ssid, 4096, 256 bits)`.
pub fn derive_psk(passphrase: &Passphrase, ssid: &[u8]) -> Result<Psk, CryptoError> {
    if ssid.len() > MAX_SSID_LEN {
        return Err(CryptoError::SsidLength { len: ssid.len() });
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase.expose(), ssid, 4096, &mut out);
    let psk = Psk(out);
    out.zeroize();
    Ok(psk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// IEEE 802.11-2020 Annex J.4.2, test vector 1.
    #[test]
    fn annex_j4_vector_1() {
        let p = Passphrase::new("password").unwrap();
        let psk = derive_psk(&p, b"IEEE").unwrap();
        assert_eq!(
            psk.expose(),
            &hex32("f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e")
        );
    }

    /// IEEE 802.11-2020 Annex J.4.2, test vector 2.
    #[test]
    fn annex_j4_vector_2() {
        let p = Passphrase::new("ThisIsAPassword").unwrap();
        let psk = derive_psk(&p, b"ThisIsASSID").unwrap();
        assert_eq!(
            psk.expose(),
            &hex32("0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af")
        );
    }

    /// IEEE 802.11-2020 Annex J.4.2, test vector 3.
    #[test]
    fn annex_j4_vector_3() {
        let p = Passphrase::new("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let psk = derive_psk(&p, b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        assert_eq!(
            psk.expose(),
            &hex32("becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62")
        );
    }

    fn pbkdf2_sha1_hex(password: &[u8], salt: &[u8], rounds: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut out);
        hex::encode(out)
    }

    /// RFC 6070 section 2, PBKDF2-HMAC-SHA1 test vectors 1, 2, 3, 5 and 6 (vector 4, with
    /// 16777216 rounds, is left out for time): the primitive under `derive_psk`.
    #[test]
    fn rfc6070_pbkdf2_hmac_sha1_vectors() {
        assert_eq!(
            pbkdf2_sha1_hex(b"password", b"salt", 1, 20),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6"
        );
        assert_eq!(
            pbkdf2_sha1_hex(b"password", b"salt", 2, 20),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
        assert_eq!(
            pbkdf2_sha1_hex(b"password", b"salt", 4096, 20),
            "4b007901b765489abead49d926f721d065a429c1"
        );
        assert_eq!(
            pbkdf2_sha1_hex(
                b"passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                25
            ),
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"
        );
        assert_eq!(
            pbkdf2_sha1_hex(b"pass\0word", b"sa\0lt", 4096, 16),
            "56fa6aa75548099dcc37d7f03425e0c3"
        );
    }

    #[test]
    fn rejects_bad_passphrases_and_ssids() {
        assert_eq!(
            Passphrase::new("short"),
            Err(CryptoError::PassphraseLength { len: 5 })
        );
        assert_eq!(
            Passphrase::new(&"x".repeat(64)),
            Err(CryptoError::PassphraseLength { len: 64 })
        );
        assert_eq!(
            Passphrase::new("tab\there!"),
            Err(CryptoError::PassphraseCharacter {
                byte: 9,
                position: 3
            })
        );
        let p = Passphrase::new("password").unwrap();
        assert_eq!(
            derive_psk(&p, &[b'a'; 33]),
            Err(CryptoError::SsidLength { len: 33 })
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let p = Passphrase::new("supersecret").unwrap();
        let psk = derive_psk(&p, b"lab").unwrap();
        let shown = format!("{p:?} {psk:?}");
        assert!(!shown.contains("supersecret"));
        assert!(!shown.contains(&psk.to_hex()));
        assert_eq!(Psk::from_hex(&psk.to_hex()), Some(psk));
        assert_eq!(Psk::from_hex("zz"), None);
    }
}
