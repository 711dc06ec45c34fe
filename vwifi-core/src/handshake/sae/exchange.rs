//! The cryptographic steps of one SAE exchange on group 19 (IEEE 802.11-2020 12.4.5): the local
//! commit, the shared secret and its keys (KCK, PMK, PMKID), and the confirm values.

use core::fmt;

use p256::elliptic_curve::subtle::ConstantTimeEq;
use p256::elliptic_curve::{Field, PrimeField};
use p256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::SaeError;
use super::frame::Commit;
use super::group::{
    decode_commit_scalar, decode_element, encode_element, x_coordinate, Pwe, ELEMENT_LEN, GROUP_19,
    PRIME_LEN,
};
use crate::crypto::kdf::{hmac_sha256, kdf_sha256};
use crate::crypto::Pmk;

/// A PMKID: the first 128 bits of `(commit-scalar + peer-commit-scalar) mod r` (12.4.5.4).
pub type Pmkid = [u8; 16];

/// Our side of an exchange: the secret `rand` and the commit scalar and element sent.
#[derive(Clone)]
pub(crate) struct LocalCommit {
    rand: Scalar,
    pub(crate) scalar: Scalar,
    pub(crate) element: ProjectivePoint,
}

impl fmt::Debug for LocalCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalCommit(<redacted>)")
    }
}

impl Drop for LocalCommit {
    fn drop(&mut self) {
        self.rand = Scalar::ZERO;
    }
}

impl LocalCommit {
    /// Draws `rand` and `mask` in 2..r until `scalar = (rand + mask) mod r` is at least 2, and
    /// sets `element = -(mask * PWE)`.
    pub(crate) fn new(pwe: &Pwe, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        loop {
            let rand = random_scalar(rng);
            let mask = random_scalar(rng);
            if let Some(c) = Self::with_values(pwe, rand, mask) {
                return c;
            }
        }
    }

    /// The commit for given `rand` and `mask` (test vectors fix them); `None` if the scalar
    /// would be 0 or 1.
    pub(crate) fn with_values(pwe: &Pwe, rand: Scalar, mask: Scalar) -> Option<Self> {
        let scalar = rand + mask;
        if bool::from(scalar.is_zero() | scalar.ct_eq(&Scalar::ONE)) {
            return None;
        }
        Some(Self {
            rand,
            scalar,
            element: -(pwe.0 * mask),
        })
    }

    /// The commit frame fields.
    pub(crate) fn to_commit(&self, token: Option<Vec<u8>>, password_id: Option<Vec<u8>>) -> Commit {
        Commit {
            group: GROUP_19,
            token,
            scalar: self.scalar.to_repr().into(),
            element: encode_element(&self.element),
            password_id,
            rejected_groups: Vec::new(),
        }
    }
}

/// A scalar drawn uniformly from 2..r.
pub(crate) fn random_scalar(rng: &mut (impl RngCore + CryptoRng)) -> Scalar {
    loop {
        let s = Scalar::random(&mut *rng);
        if !bool::from(s.is_zero() | s.ct_eq(&Scalar::ONE)) {
            return s;
        }
    }
}

/// The peer's validated commit scalar and element.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerCommit {
    pub(crate) scalar: Scalar,
    pub(crate) element: ProjectivePoint,
}

impl fmt::Debug for PeerCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerCommit(..)")
    }
}

impl PeerCommit {
    /// Validates the scalar (2..r) and element (on the curve) of a received commit.
    pub(crate) fn validate(commit: &Commit) -> Result<Self, SaeError> {
        Ok(Self {
            scalar: decode_commit_scalar(&commit.scalar).ok_or(SaeError::InvalidScalar)?,
            element: decode_element(&commit.element).ok_or(SaeError::InvalidElement)?,
        })
    }
}

/// The keys of a completed commit exchange.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Keys {
    pub(crate) kck: [u8; 32],
    pub(crate) pmk: [u8; 32],
    #[zeroize(skip)]
    pub(crate) pmkid: Pmkid,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// The PMK as the crypto layer's key type.
    pub(crate) fn pmk(&self) -> Pmk {
        Pmk::from_bytes(self.pmk)
    }
}

/// Derives the shared secret and the keys (12.4.5.4):
/// `K = rand * (peer-scalar * PWE + PEER-ELEMENT)`, `k = x(K)`, `keyseed = H(salt, k)`,
/// `KCK || PMK = KDF-512(keyseed, "SAE KCK and PMK", (scalar + peer-scalar) mod r)`.
/// `salt` is 32 zero bytes, or with hash-to-element the rejected groups list if the
/// initiator sent one.
pub(crate) fn derive_keys(
    pwe: &Pwe,
    local: &LocalCommit,
    peer: &PeerCommit,
    salt: Option<&[u8]>,
) -> Result<Keys, SaeError> {
    if bool::from(peer.scalar.ct_eq(&local.scalar)) && peer.element == local.element {
        return Err(SaeError::Reflection);
    }
    let shared = (pwe.0 * peer.scalar + peer.element) * local.rand;
    let mut k = x_coordinate(&shared).ok_or(SaeError::DegenerateSecret)?;
    let mut keyseed = hmac_sha256(salt.unwrap_or(&[0u8; 32]), &[&k]);
    k.zeroize();
    let context: [u8; PRIME_LEN] = (local.scalar + peer.scalar).to_repr().into();
    let mut out = [0u8; 64];
    kdf_sha256(&keyseed, b"SAE KCK and PMK", &context, &mut out);
    keyseed.zeroize();
    let mut keys = Keys {
        kck: [0; 32],
        pmk: [0; 32],
        pmkid: [0; 16],
    };
    keys.kck.copy_from_slice(&out[..32]);
    keys.pmk.copy_from_slice(&out[32..]);
    keys.pmkid.copy_from_slice(&context[..16]);
    out.zeroize();
    Ok(keys)
}

/// `confirm = HMAC-SHA-256(KCK, send-confirm || scalar || element || peer-scalar ||
/// peer-element)` from the sender's point of view (12.4.5.5).
pub(crate) fn confirm_value(
    kck: &[u8; 32],
    send_confirm: u16,
    scalar: &Scalar,
    element: &ProjectivePoint,
    peer_scalar: &Scalar,
    peer_element: &ProjectivePoint,
) -> [u8; 32] {
    let s1: [u8; PRIME_LEN] = scalar.to_repr().into();
    let s2: [u8; PRIME_LEN] = peer_scalar.to_repr().into();
    let e1: [u8; ELEMENT_LEN] = encode_element(element);
    let e2: [u8; ELEMENT_LEN] = encode_element(peer_element);
    hmac_sha256(kck, &[&send_confirm.to_le_bytes(), &s1, &e1, &s2, &e2])
}
