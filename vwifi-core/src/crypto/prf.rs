//! The 802.11 pseudo-random function and the PTK derivation (IEEE 802.11-2020 12.7.1.2,
//! 12.7.1.3).

use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroize;

use super::keys::{Pmk, Ptk, PTK_LEN};
use crate::addr::MacAddr;

/// A 256-bit EAPOL-Key nonce (ANonce or SNonce).
pub type Nonce = [u8; 32];

/// The label of the pairwise key expansion (IEEE 802.11-2020 12.7.1.3).
pub const PAIRWISE_KEY_EXPANSION: &[u8] = b"Pairwise key expansion";

/// `PRF-n(K, A, B)` of IEEE 802.11-2020 12.7.1.2, for `n = 8 * out.len()`:
/// the concatenation of `HMAC-SHA1(K, A || 0 || B || i)` for `i = 0, 1, ...`, truncated.
pub fn prf_sha1(key: &[u8], label: &[u8], data: &[u8], out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(20).enumerate() {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
            return;
        };
        mac.update(label);
        mac.update(&[0]);
        mac.update(data);
        // PRF-384 needs 3 blocks; the counter is one octet (at most 255 blocks).
        mac.update(&[u8::try_from(i).unwrap_or(u8::MAX)]);
        let mut block = mac.finalize().into_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(block.get(..n).unwrap_or(&[]));
        block.zeroize();
    }
}

/// Derives the PTK for CCMP-128 with AKM 00-0F-AC:2 (IEEE 802.11-2020 12.7.1.3):
/// `PRF-384(PMK, "Pairwise key expansion", Min(AA,SPA) || Max(AA,SPA) ||
/// Min(ANonce,SNonce) || Max(ANonce,SNonce))`.
pub fn derive_ptk(pmk: &Pmk, aa: MacAddr, spa: MacAddr, anonce: &Nonce, snonce: &Nonce) -> Ptk {
    let data = super::kdf::ptk_context(aa, spa, anonce, snonce);
    let mut out = [0u8; PTK_LEN];
    prf_sha1(pmk.expose(), PAIRWISE_KEY_EXPANSION, &data, &mut out);
    Ptk::from_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prf_hex(key: &[u8], label: &[u8], data: &[u8], len: usize) -> String {
        let mut out = vec![0u8; len];
        prf_sha1(key, label, data, &mut out);
        hex::encode(out)
    }

    /// IEEE 802.11-2020 J.3.2 (PRF test vectors), test case 1: PRF-192.
    #[test]
    fn annex_j3_test_case_1() {
        assert_eq!(
            prf_hex(&[0x0b; 20], b"prefix", b"Hi There", 24),
            "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606"
        );
    }

    /// IEEE 802.11-2020 J.3.2, test case 2: PRF-256.
    #[test]
    fn annex_j3_test_case_2() {
        assert_eq!(
            prf_hex(b"Jefe", b"prefix-2", b"what do ya want for nothing?", 32),
            "47c4908e30c947521ad20be9053450ecbea23d3aa604b77326d8b3825ff7475c"
        );
    }

    /// IEEE 802.11-2020 J.3.2, test case 3: PRF-384 with an 80-byte key.
    #[test]
    fn annex_j3_test_case_3() {
        assert_eq!(
            prf_hex(
                &[0xaa; 80],
                b"prefix-3",
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                48
            ),
            "0ab6c33ccf70d0d736f4b04c8a7373255511abc5073713163bd0b8c9eeb7e195\
             6fa066820a73ddee3f6d3bd407e0682a"
        );
    }

    /// IEEE 802.11-2020 J.3.2, test case 4: PRF-512.
    #[test]
    fn annex_j3_test_case_4() {
        assert_eq!(
            prf_hex(&[0x0b; 20], b"prefix-4", b"Hi There Again", 64),
            "248cfbc532ab38ffa483c8a2e40bf170eb542a2e0916d7bf6d97da2c4c5ca877\
             736c53a65b03fa4b3745ce7613f6ad68e0e4a798b7cf691c96176fd634a59a49"
        );
    }

    /// hostap `src/crypto/crypto_module_tests.c` / iwd `unit/test-prf-sha1.c` PRF-512 cases
    /// (the RFC 2202 HMAC inputs with label "prefix"); case 1 extends Annex J.3 case 1.
    #[test]
    fn hostap_prf512_cases() {
        assert_eq!(
            prf_hex(&[0x0b; 20], b"prefix", b"Hi There", 64),
            "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee\
             75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"
        );
        assert_eq!(
            prf_hex(b"Jefe", b"prefix", b"what do ya want for nothing?", 64),
            "51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009\
             a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc"
        );
        assert_eq!(
            prf_hex(&[0xaa; 20], b"prefix", &[0xdd; 50], 64),
            "e1ac546ec4cb636f9976487be5c86be17a0252ca5d8d8df12cfb0473525249ce\
             9dd8d177ead710bc9b590547239107aef7b4abd43d87f0a68f1cbd9e2b6f7607"
        );
    }

    #[test]
    fn ptk_derivation_is_symmetric_in_roles() {
        let pmk = Pmk::from_bytes([7; 32]);
        let aa = MacAddr([2, 0, 0, 0, 0, 1]);
        let spa = MacAddr([2, 0, 0, 0, 0, 2]);
        let (an, sn) = ([1u8; 32], [9u8; 32]);
        let p1 = derive_ptk(&pmk, aa, spa, &an, &sn);
        let p2 = derive_ptk(&pmk, spa, aa, &sn, &an);
        assert_eq!(p1, p2);
        let p3 = derive_ptk(&pmk, aa, spa, &an, &[8u8; 32]);
        assert_ne!(p1, p3);
    }
}
