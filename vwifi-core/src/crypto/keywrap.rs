//! AES key wrap (RFC 3394) of EAPOL-Key key data with the KEK, for message 3 of the 4-way
//! handshake and message 1 of the group key handshake (IEEE 802.11-2020 12.7.2, item j).

use aes_kw::KekAes128;
use zeroize::Zeroizing;

use super::keys::Kek;
use super::CryptoError;

/// The length that AES key wrap adds to its input (the integrity check block), in bytes.
pub const WRAP_OVERHEAD: usize = 8;

/// Wraps `plaintext` with the KEK. The plaintext must be a multiple of 8 bytes and at least
/// 16 bytes long; [`crate::wire::eapol::pad_key_data`] pads key data to that shape.
pub fn wrap_key_data(kek: &Kek, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() < 16 || plaintext.len() % 8 != 0 {
        return Err(CryptoError::KeyWrapLength {
            len: plaintext.len(),
        });
    }
    let kw = KekAes128::from(*kek.expose());
    let mut out = vec![0u8; plaintext.len() + WRAP_OVERHEAD];
    kw.wrap(plaintext, &mut out)
        .map_err(|_| CryptoError::KeyWrapLength {
            len: plaintext.len(),
        })?;
    Ok(out)
}

/// Unwraps key data with the KEK. A wrong KEK or altered ciphertext fails the RFC 3394
/// integrity check and gives [`CryptoError::KeyUnwrapFailed`].
pub fn unwrap_key_data(kek: &Kek, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return Err(CryptoError::KeyWrapLength { len: wrapped.len() });
    }
    let kw = KekAes128::from(*kek.expose());
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - WRAP_OVERHEAD]);
    kw.unwrap(wrapped, &mut out)
        .map_err(|_| CryptoError::KeyUnwrapFailed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(s: &str) -> Kek {
        Kek::from_bytes(hex::decode(s).unwrap().try_into().unwrap())
    }

    /// RFC 3394 section 4.1: wrap 128 bits of key data with a 128-bit KEK.
    #[test]
    fn rfc3394_4_1() {
        let k = kek("000102030405060708090A0B0C0D0E0F");
        let data = hex::decode("00112233445566778899AABBCCDDEEFF").unwrap();
        let wrapped = wrap_key_data(&k, &data).unwrap();
        assert_eq!(
            hex::encode_upper(&wrapped),
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"
        );
        assert_eq!(&*unwrap_key_data(&k, &wrapped).unwrap(), &data);
    }

    #[test]
    fn unwrap_with_wrong_kek_or_tampered_data_fails() {
        let k = kek("000102030405060708090A0B0C0D0E0F");
        let data = [0x42u8; 32];
        let mut wrapped = wrap_key_data(&k, &data).unwrap();
        let other = kek("0F0E0D0C0B0A09080706050403020100");
        assert_eq!(
            unwrap_key_data(&other, &wrapped),
            Err(CryptoError::KeyUnwrapFailed)
        );
        wrapped[20] ^= 0x80;
        assert_eq!(
            unwrap_key_data(&k, &wrapped),
            Err(CryptoError::KeyUnwrapFailed)
        );
    }

    #[test]
    fn bad_lengths_are_rejected() {
        let k = kek("000102030405060708090A0B0C0D0E0F");
        assert_eq!(
            wrap_key_data(&k, &[0; 12]),
            Err(CryptoError::KeyWrapLength { len: 12 })
        );
        assert_eq!(
            wrap_key_data(&k, &[0; 8]),
            Err(CryptoError::KeyWrapLength { len: 8 })
        );
        assert_eq!(
            unwrap_key_data(&k, &[0; 23]),
            Err(CryptoError::KeyWrapLength { len: 23 })
        );
        assert_eq!(
            unwrap_key_data(&k, &[]),
            Err(CryptoError::KeyWrapLength { len: 0 })
        );
    }
}
