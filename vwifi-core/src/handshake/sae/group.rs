//! SAE's finite cyclic group 19 (the NIST P-256 curve, IEEE 802.11-2020 12.4.4.2) on RustCrypto's
//! `p256`: the two password element (PWE) derivations, hunting-and-pecking (12.4.4.2.2) and
//! hash-to-element (12.4.4.2.3, RFC 9380's simplified SWU map with Z = -10), and the encoding
//! of scalars and elements in SAE frames.

use core::fmt;

use p256::elliptic_curve::bigint::{ArrayEncoding, Limb, U256};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::hash2curve::{FromOkm, MapToCurve};
use p256::elliptic_curve::point::{AffineCoordinates, DecompressPoint};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use p256::elliptic_curve::{Curve, Field, PrimeField};
use p256::{
    AffinePoint, EncodedPoint, FieldBytes, FieldElement, NistP256, ProjectivePoint, Scalar,
};
use zeroize::Zeroize;

use crate::addr::MacAddr;
use crate::crypto::kdf::{hmac_sha256, kdf_sha256};

/// The IANA number of the only group implemented: 256-bit random ECP group (NIST P-256).
pub const GROUP_19: u16 = 19;
/// The length of a scalar and of a field element of group 19, in bytes.
pub const PRIME_LEN: usize = 32;
/// The length of an encoded element (x || y), in bytes.
pub const ELEMENT_LEN: usize = 2 * PRIME_LEN;
/// The minimum number of hunting-and-pecking rounds (dot11RSNASAEMinimumHuntAndPeck... "k" in
/// 12.4.4.2.2: at least 40), all run whatever round finds the element, so that the time taken
/// does not depend on the password.
pub const HUNT_AND_PECK_ROUNDS: u8 = 40;

/// The password element of one SAE exchange. It is secret: `Debug` prints no coordinates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pwe(pub(crate) ProjectivePoint);

impl fmt::Debug for Pwe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pwe(<redacted>)")
    }
}

impl Pwe {
    /// The element as `x || y` (big-endian coordinates), for tests against published vectors.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        encode_element(&self.0)
    }
}

/// The password token of hash-to-element (`PT`, 12.4.4.2.3): derived once per SSID and password
/// (it may be stored in place of the password) and turned into a PWE per pair of addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pt(ProjectivePoint);

impl fmt::Debug for Pt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pt(<redacted>)")
    }
}

impl Pt {
    /// Derives PT from the SSID, the password and the optional password identifier:
    /// `pwd-seed = HKDF-Extract(ssid, password [|| identifier])`, then for `i` in 1, 2
    /// `u_i = HKDF-Expand(pwd-seed, "SAE Hash to Element u<i> P<i>", 48) mod p`,
    /// `P_i = SSWU(u_i)`, and `PT = P1 + P2`.
    pub fn derive(ssid: &[u8], password: &[u8], identifier: Option<&[u8]>) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(
            Some(ssid),
            &[password, identifier.unwrap_or_default()].concat(),
        );
        let mut point = ProjectivePoint::IDENTITY;
        for label in [
            &b"SAE Hash to Element u1 P1"[..],
            &b"SAE Hash to Element u2 P2"[..],
        ] {
            let mut okm = p256::elliptic_curve::generic_array::GenericArray::default();
            // 48 bytes is far below HKDF-SHA-256's limit of 255 * 32, so expand cannot fail.
            let _ = hk.expand(label, &mut okm);
            let u = FieldElement::from_okm(&okm);
            okm.zeroize();
            point += u.map_to_curve();
        }
        Self(point)
    }

    /// `PWE = val * PT` with `val = H(0^32, Max(addr1, addr2) || Min(addr1, addr2))
    /// mod (r - 1) + 1` (12.4.4.2.3).
    pub fn pwe(&self, addr1: MacAddr, addr2: MacAddr) -> Pwe {
        let (hi, lo) = sorted(addr1, addr2);
        let val = hmac_sha256(&[0u8; 32], &[&hi.0, &lo.0]);
        Pwe(self.0 * reduce_nonzero(&val))
    }

    /// The token as `x || y`, for tests against published vectors.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        encode_element(&self.0)
    }
}

/// Derives the PWE by hunting and pecking (12.4.4.2.2): for `counter` in 1..=40,
/// `pwd-seed = H(Max(addr1, addr2) || Min(addr1, addr2), password [|| identifier] || counter)`
/// and `pwd-value = KDF-256(pwd-seed, "SAE Hunting and Pecking", p)`; the first `pwd-value`
/// that is the x-coordinate of a curve point gives the PWE, its y of the parity of the seed.
/// All 40 rounds run and the choice is made with constant-time selects. `None` if no round found
/// a point (probability about 2^-40).
pub fn pwe_hunting_and_pecking(
    addr1: MacAddr,
    addr2: MacAddr,
    password: &[u8],
    identifier: Option<&[u8]>,
) -> Option<Pwe> {
    let (hi, lo) = sorted(addr1, addr2);
    let key = [hi.0, lo.0].concat();
    let mut found = Choice::from(0);
    let mut x = FieldElement::ZERO;
    let mut y_odd = Choice::from(0);
    for counter in 1..=HUNT_AND_PECK_ROUNDS {
        let mut seed = hmac_sha256(
            &key,
            &[password, identifier.unwrap_or_default(), &[counter]],
        );
        let mut value = [0u8; PRIME_LEN];
        kdf_sha256(
            &seed,
            b"SAE Hunting and Pecking",
            &FIELD_MODULUS,
            &mut value,
        );
        // `from_bytes` rejects values >= p (probability about 2^-32 per round).
        let candidate = FieldElement::from_bytes(&FieldBytes::from(value));
        value.zeroize();
        let cx = candidate.unwrap_or(FieldElement::ZERO);
        let is_point = candidate.is_some() & curve_rhs(&cx).sqrt().is_some();
        let take = is_point & !found;
        x = FieldElement::conditional_select(&x, &cx, take);
        y_odd = Choice::conditional_select(&y_odd, &Choice::from(seed[31] & 1), take);
        found |= is_point;
        seed.zeroize();
    }
    if !bool::from(found) {
        return None;
    }
    let point = AffinePoint::decompress(&x.to_bytes(), y_odd);
    Option::from(point).map(|p: AffinePoint| Pwe(p.into()))
}

/// `x^3 - 3x + b`, the right-hand side of the curve equation.
fn curve_rhs(x: &FieldElement) -> FieldElement {
    // b of P-256 (SEC 2 2.4.2); below p, so `from_bytes` cannot fail.
    const B: [u8; PRIME_LEN] = [
        0x5a, 0xc6, 0x35, 0xd8, 0xaa, 0x3a, 0x93, 0xe7, 0xb3, 0xeb, 0xbd, 0x55, 0x76, 0x98, 0x86,
        0xbc, 0x65, 0x1d, 0x06, 0xb0, 0xcc, 0x53, 0xb0, 0xf6, 0x3b, 0xce, 0x3c, 0x3e, 0x27, 0xd2,
        0x60, 0x4b,
    ];
    let b = FieldElement::from_bytes(&FieldBytes::from(B)).unwrap_or(FieldElement::ZERO);
    x.square() * x - (*x + *x + *x) + b
}

/// The field modulus p of P-256, big-endian (the context of the hunting-and-pecking KDF).
const FIELD_MODULUS: [u8; PRIME_LEN] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

/// The pair of addresses as (max, min).
fn sorted(a: MacAddr, b: MacAddr) -> (MacAddr, MacAddr) {
    if a.0 >= b.0 {
        (a, b)
    } else {
        (b, a)
    }
}

/// `val mod (r - 1) + 1` for a 256-bit big-endian `val`: a scalar in 1..r. `val < 2^256 <
/// 2 (r - 1)`, so one constant-time conditional subtraction reduces it.
fn reduce_nonzero(val: &[u8; 32]) -> Scalar {
    let v = U256::from_be_slice(val);
    let r1 = NistP256::ORDER.wrapping_sub(&U256::ONE);
    let (diff, borrow) = v.sbb(&r1, Limb::ZERO);
    // `borrow` is all ones when v < r - 1: keep v then.
    let keep = Choice::from((borrow.0 & 1) as u8);
    let reduced = U256::conditional_select(&diff, &v, keep).wrapping_add(&U256::ONE);
    // reduced is in 1..=r-1 < r, so from_repr cannot fail.
    Option::from(Scalar::from_repr(reduced.to_be_byte_array())).unwrap_or(Scalar::ONE)
}

/// Encodes a point as `x || y`; the identity (which SAE never sends) as zeros.
pub(crate) fn encode_element(point: &ProjectivePoint) -> [u8; ELEMENT_LEN] {
    let mut out = [0u8; ELEMENT_LEN];
    let encoded = point.to_affine().to_encoded_point(false);
    if let (Some(x), Some(y)) = (encoded.x(), encoded.y()) {
        out[..PRIME_LEN].copy_from_slice(x);
        out[PRIME_LEN..].copy_from_slice(y);
    }
    out
}

/// Decodes `x || y`; `None` unless both coordinates are below p and the point is on the curve
/// (the identity cannot be encoded so).
pub(crate) fn decode_element(bytes: &[u8; ELEMENT_LEN]) -> Option<ProjectivePoint> {
    let (x, y) = bytes.split_at(PRIME_LEN);
    let encoded = EncodedPoint::from_affine_coordinates(
        FieldBytes::from_slice(x),
        FieldBytes::from_slice(y),
        false,
    );
    let point: Option<AffinePoint> = AffinePoint::from_encoded_point(&encoded).into();
    point.map(ProjectivePoint::from)
}

/// Decodes a scalar; `None` unless it is in 2..r (a commit scalar, 12.4.5.4).
pub(crate) fn decode_commit_scalar(bytes: &[u8; PRIME_LEN]) -> Option<Scalar> {
    let s: Option<Scalar> = Scalar::from_repr(FieldBytes::from(*bytes)).into();
    s.filter(|s| !bool::from(s.is_zero()) && !bool::from(s.ct_eq(&Scalar::ONE)))
}

/// The x-coordinate of a point, `None` for the identity.
pub(crate) fn x_coordinate(point: &ProjectivePoint) -> Option<[u8; PRIME_LEN]> {
    if bool::from(point.is_identity()) {
        return None;
    }
    Some(point.to_affine().x().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> MacAddr {
        MacAddr(hex::decode(s).unwrap().try_into().unwrap())
    }

    /// IEEE Std 802.11-2020 Annex J.10 hash-to-element vector as published in hostapd's
    /// `src/common/common_module_tests.c` (`sae_tests`, `pwe_19_x`/`pwe_19_y`): SSID "byteme",
    /// password "mekmitasdigoat", identifier "psk4internet", addresses 00:09:5b:66:ec:1e and
    /// 00:0b:6b:d9:02:46.
    #[test]
    fn h2e_pwe_matches_annex_j10() {
        let pt = Pt::derive(b"byteme", b"mekmitasdigoat", Some(b"psk4internet"));
        let pwe = pt.pwe(mac("00095b66ec1e"), mac("000b6bd90246"));
        assert_eq!(
            hex::encode(pwe.to_bytes()),
            concat!(
                "c93049b9e64000f848201649e999f2b5c22dea69b5632c9df4d633b8aa1f6c1e",
                "73634e94b53d82e7383a8d258199d9dc1a5ee8269d060382ccbf33e614ff59a0"
            )
        );
        // The order of the addresses does not matter.
        assert_eq!(pwe, pt.pwe(mac("000b6bd90246"), mac("00095b66ec1e")));
    }

    #[test]
    fn hunting_and_pecking_is_symmetric_and_password_bound() {
        let (a, b) = (mac("4d3f2fffe387"), mac("a5d8aa958e3c"));
        let pwe = pwe_hunting_and_pecking(a, b, b"mekmitasdigoat", None).unwrap();
        assert_eq!(
            Some(pwe),
            pwe_hunting_and_pecking(b, a, b"mekmitasdigoat", None)
        );
        assert_ne!(
            Some(pwe),
            pwe_hunting_and_pecking(a, b, b"mekmitasdigoaT", None)
        );
        assert_ne!(
            Some(pwe),
            pwe_hunting_and_pecking(a, b, b"mekmitasdigoat", Some(b"id"))
        );
    }

    #[test]
    fn reduce_nonzero_maps_into_one_to_r_minus_one() {
        assert_eq!(reduce_nonzero(&[0; 32]), Scalar::ONE);
        // r - 1 reduces to 0, plus one.
        let r1 = NistP256::ORDER.wrapping_sub(&U256::ONE).to_be_byte_array();
        assert_eq!(reduce_nonzero(&r1.into()), Scalar::ONE);
        // 2^256 - 1 = (r - 1) + (2^256 - r): reduces to 2^256 - r, plus one.
        let top = reduce_nonzero(&[0xff; 32]);
        let expected = U256::ZERO
            .wrapping_sub(&NistP256::ORDER)
            .wrapping_add(&U256::ONE);
        assert_eq!(top.to_repr(), expected.to_be_byte_array());
    }

    #[test]
    fn elements_round_trip_and_off_curve_points_are_rejected() {
        let pt = Pt::derive(b"ssid", b"password", None);
        let bytes = pt.to_bytes();
        assert_eq!(decode_element(&bytes), Some(pt.0));
        let mut bad = bytes;
        bad[63] ^= 1;
        assert_eq!(decode_element(&bad), None);
        assert_eq!(decode_element(&[0; 64]), None);
        assert_eq!(decode_element(&[0xff; 64]), None);
    }

    #[test]
    fn commit_scalars_zero_one_and_r_are_rejected() {
        assert!(decode_commit_scalar(&[0; 32]).is_none());
        let mut one = [0; 32];
        one[31] = 1;
        assert!(decode_commit_scalar(&one).is_none());
        let mut two = [0; 32];
        two[31] = 2;
        assert!(decode_commit_scalar(&two).is_some());
        assert!(decode_commit_scalar(&NistP256::ORDER.to_be_byte_array().into()).is_none());
    }
}
