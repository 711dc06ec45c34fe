//! The SHA-256 key derivation function of IEEE 802.11-2020 12.7.1.6.2
//! (`KDF-Hash-Length(K, label, context)` with Hash = SHA-256), used by SAE (12.4.5.4) and by the
//! PTK derivation of the SHA-256 AKMs, SAE's AKM 00-0F-AC:8 among them (12.7.1.3).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use super::keys::{Pmk, Ptk, PTK_LEN};
use super::prf::{Nonce, PAIRWISE_KEY_EXPANSION};
use crate::addr::MacAddr;

/// `KDF-SHA-256-Length(key, label, context)` for `Length = 8 * out.len()` bits: the
/// concatenation of `HMAC-SHA-256(key, i || label || context || Length)` for `i = 1, 2, ...`,
/// `i` and `Length` as 16-bit little-endian integers, truncated to `out.len()` bytes.
pub fn kdf_sha256(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = u16::try_from(out.len() * 8).unwrap_or(u16::MAX);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return;
        };
        let counter = u16::try_from(i + 1).unwrap_or(u16::MAX);
        mac.update(&counter.to_le_bytes());
        mac.update(label);
        mac.update(context);
        mac.update(&bits.to_le_bytes());
        let mut block = mac.finalize().into_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(block.get(..n).unwrap_or(&[]));
        block.zeroize();
    }
}

/// `HMAC-SHA-256(key, data)`, SAE's `H(salt, ikm)` (HKDF-Extract).
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        for d in data {
            mac.update(d);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Derives the PTK for CCMP-128 with a SHA-256 AKM such as SAE (00-0F-AC:8)
/// (IEEE 802.11-2020 12.7.1.3): `KDF-SHA-256-384(PMK, "Pairwise key expansion",
/// Min(AA,SPA) || Max(AA,SPA) || Min(ANonce,SNonce) || Max(ANonce,SNonce))`.
pub fn derive_ptk_sha256(
    pmk: &Pmk,
    aa: MacAddr,
    spa: MacAddr,
    anonce: &Nonce,
    snonce: &Nonce,
) -> Ptk {
    let mut out = [0u8; PTK_LEN];
    kdf_sha256(
        pmk.expose(),
        PAIRWISE_KEY_EXPANSION,
        &ptk_context(aa, spa, anonce, snonce),
        &mut out,
    );
    Ptk::from_bytes(out)
}

/// The context of the pairwise key expansion (both KDFs): the sorted addresses and nonces.
pub(crate) fn ptk_context(aa: MacAddr, spa: MacAddr, anonce: &Nonce, snonce: &Nonce) -> [u8; 76] {
    let (aa, spa) = (aa.0, spa.0);
    let (a_lo, a_hi) = if aa <= spa { (aa, spa) } else { (spa, aa) };
    let (n_lo, n_hi) = if anonce <= snonce {
        (anonce, snonce)
    } else {
        (snonce, anonce)
    };
    let mut data = [0u8; 6 + 6 + 32 + 32];
    data[..6].copy_from_slice(&a_lo);
    data[6..12].copy_from_slice(&a_hi);
    data[12..44].copy_from_slice(n_lo);
    data[44..].copy_from_slice(n_hi);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// The SAE PTK derivation (AKM 00-0F-AC:8, KDF-SHA-256) with a KDK: IEEE Std 802.11-2024
    /// Annex J.13 ("KDK test vectors when PASN authentication is not used"), as reproduced in
    /// hostapd's `src/common/common_module_tests.c` (`pasn_test_no_pasn_auth`). With the KDK the
    /// KDF length is 640 bits: KCK (16) || KEK (16) || TK (16) || KDK (32).
    #[test]
    fn kdf_sha256_matches_ieee_j13_sae_ptk_with_kdk() {
        let pmk = unhex("def43e5567e01ca6649265f19a290eeff8bd888f6c1d9cc9d10f04bd378f3cad");
        let aa = MacAddr([0xc0, 0xff, 0xd4, 0xa8, 0xdb, 0xc1]);
        let spa = MacAddr([0x00, 0x90, 0x4c, 0x01, 0xc1, 0x07]);
        let anonce: Nonce =
            unhex("be7a1ca284347b5bd67dbd2dfdb4d99f1afae0b88ba18e008718417e4b27ef5f")
                .try_into()
                .unwrap();
        let snonce: Nonce =
            unhex("404b012ffb43ed0fb43ea1f287c91f2506d21b4a92d74b5ea50c943350ce8671")
                .try_into()
                .unwrap();
        let mut out = [0u8; 80];
        kdf_sha256(
            &pmk,
            PAIRWISE_KEY_EXPANSION,
            &ptk_context(aa, spa, &anonce, &snonce),
            &mut out,
        );
        assert_eq!(
            hex::encode(&out[..16]),
            "cd7b9e7555362df0b63568484a8112f5",
            "KCK"
        );
        assert_eq!(
            hex::encode(&out[16..32]),
            "99cad3588da0f1e63fd190191039bb4b",
            "KEK"
        );
        assert_eq!(
            hex::encode(&out[32..48]),
            "9e2e9377e7532e737a1bc250fe194a03",
            "TK"
        );
        assert_eq!(
            hex::encode(&out[48..]),
            "6c7fb97ceb55b01acff00f070942bdf5291feb4bee38e0365b25a250bb2ac9ff",
            "KDK"
        );
    }

    #[test]
    fn ptk_sha256_is_the_384_bit_kdf_split() {
        let pmk = Pmk::from_bytes([7; 32]);
        let (aa, spa) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let ptk = derive_ptk_sha256(&pmk, aa, spa, &[1; 32], &[2; 32]);
        // Swapping the roles' order gives the same key: the context is sorted.
        assert_eq!(ptk, derive_ptk_sha256(&pmk, spa, aa, &[2; 32], &[1; 32]));
        let mut out = [0u8; 48];
        kdf_sha256(
            &[7; 32],
            PAIRWISE_KEY_EXPANSION,
            &ptk_context(aa, spa, &[1; 32], &[2; 32]),
            &mut out,
        );
        assert_eq!(ptk.kck().expose(), &out[..16]);
    }
}
