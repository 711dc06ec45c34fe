//! Protected management frames (IEEE 802.11w, 802.11-2020 12.5.4): the IGTK and BIP-CMAC-128,
//! which protects group-addressed robust management frames (broadcast deauthentication and
//! disassociation, group action frames) with a Management MIC element (MME).

use core::fmt;

use aes::Aes128;
use cmac::{Cmac, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;

/// The Management MIC element ID.
pub const ELEMENT_ID_MME: u8 = 76;
/// The length of an MME for BIP-CMAC-128 (ID and length included): key ID 2, IPN 6, MIC 8.
pub const MME_LEN: usize = 18;
/// The length of a management frame header (no HT control).
const HEADER_LEN: usize = 24;

/// An integrity group temporal key with its key ID (4 or 5).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Igtk {
    key: [u8; 16],
    #[zeroize(skip)]
    key_id: u16,
}

impl fmt::Debug for Igtk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Igtk(id {}, <redacted>)", self.key_id)
    }
}

impl Igtk {
    /// An IGTK; the key ID must be 4 or 5 (12.7.2, IGTK KDE).
    pub fn new(key: [u8; 16], key_id: u16) -> Result<Self, CryptoError> {
        if !(4..=5).contains(&key_id) {
            return Err(CryptoError::InvalidKeyId {
                key_id: u8::try_from(key_id).unwrap_or(u8::MAX),
            });
        }
        Ok(Self { key, key_id })
    }

    /// A fresh random IGTK with key ID `key_id` (4 or 5).
    pub fn generate(
        rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
        key_id: u16,
    ) -> Result<Self, CryptoError> {
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        Self::new(key, key_id)
    }

    /// The key ID.
    pub fn key_id(&self) -> u16 {
        self.key_id
    }

    /// The key bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8; 16] {
        &self.key
    }
}

/// AES-128-CMAC over the BIP AAD (frame control with Retry, Power Management and More Data
/// masked, the three addresses) and the frame body whose MME MIC is taken as zero.
fn bip_mic(igtk: &Igtk, frame: &[u8]) -> Option<[u8; 8]> {
    let fc = frame.get(..2)?;
    // A1, A2 and A3: duration and sequence control are not covered.
    let addrs = frame.get(4..22)?;
    let body = frame.get(HEADER_LEN..)?;
    let mic_at = body.len().checked_sub(8)?;
    let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(igtk.expose()).ok()?;
    // Retry (bit 11), Power Management (12), More Data (13) are zeroed in the AAD.
    mac.update(&[*fc.first()?, fc.get(1)? & !0x38]);
    mac.update(addrs);
    mac.update(body.get(..mic_at)?);
    mac.update(&[0u8; 8]);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 8];
    out.copy_from_slice(full.get(..8)?);
    Some(out)
}

/// Appends an MME with `ipn` to a group-addressed management frame (header and body, no FCS)
/// and fills its MIC: BIP-CMAC-128 (12.5.4.5).
pub fn bip_protect(igtk: &Igtk, frame: &mut Vec<u8>, ipn: u64) -> Result<(), CryptoError> {
    if frame.len() < HEADER_LEN {
        return Err(CryptoError::MicFieldOutOfRange {
            start: HEADER_LEN,
            end: HEADER_LEN + MME_LEN,
            frame_len: frame.len(),
        });
    }
    frame.extend_from_slice(&[ELEMENT_ID_MME, (MME_LEN - 2) as u8]);
    frame.extend_from_slice(&igtk.key_id.to_le_bytes());
    frame.extend_from_slice(&ipn.to_le_bytes()[..6]);
    frame.extend_from_slice(&[0; 8]);
    let mic = bip_mic(igtk, frame).ok_or(CryptoError::MicMismatch)?;
    // The MIC replaces the 8 zero bytes just appended.
    frame.truncate(frame.len().saturating_sub(mic.len()));
    frame.extend_from_slice(&mic);
    Ok(())
}

/// Checks the MME at the end of a received group-addressed management frame: its key ID,
/// its IPN above `last_ipn` (replay) and its MIC, in constant time. Returns the IPN.
pub fn bip_verify(igtk: &Igtk, frame: &[u8], last_ipn: u64) -> Result<u64, CryptoError> {
    let mme_at = frame
        .len()
        .checked_sub(MME_LEN)
        .filter(|&at| at >= HEADER_LEN)
        .ok_or(CryptoError::MicMismatch)?;
    let mme: &[u8; MME_LEN] = frame
        .get(mme_at..)
        .and_then(|mme| mme.try_into().ok())
        .ok_or(CryptoError::MicMismatch)?;
    // A fixed-size array from here: its constant indices are checked at compile time.
    let (id, len) = (mme[0], mme[1]);
    if id != ELEMENT_ID_MME || usize::from(len) != MME_LEN - 2 {
        return Err(CryptoError::MicMismatch);
    }
    let key_id = u16::from_le_bytes([mme[2], mme[3]]);
    if key_id != igtk.key_id {
        return Err(CryptoError::InvalidKeyId {
            key_id: u8::try_from(key_id).unwrap_or(u8::MAX),
        });
    }
    let mut ipn_bytes = [0u8; 8];
    ipn_bytes[..6].copy_from_slice(&mme[4..10]);
    let ipn = u64::from_le_bytes(ipn_bytes);
    let mic = bip_mic(igtk, frame).ok_or(CryptoError::MicMismatch)?;
    if !bool::from(mic.ct_eq(&mme[10..18])) {
        return Err(CryptoError::MicMismatch);
    }
    if ipn <= last_ipn {
        return Err(CryptoError::Replay {
            tid: 0,
            pn: ipn,
            last: last_ipn,
        });
    }
    Ok(ipn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IEEE Std 802.11-2012 M.9.1 (802.11-2020 J.9.1) "BIP with broadcast Deauthentication
    /// frame": IGTK, IPN 4 and key ID 4, the protected frame's MME and MIC; the same vector
    /// as hostapd's `wlantest/test_vectors.c` (`test_vector_bip`).
    #[test]
    fn bip_matches_annex_j9_broadcast_deauthentication() {
        let igtk = Igtk::new(
            hex::decode("4ea9543e09cf2b1eca66ffc58bdecbcf")
                .unwrap()
                .try_into()
                .unwrap(),
            4,
        )
        .unwrap();
        let mut frame =
            hex::decode("c0000000ffffffffffff0200000000000200000000000900".to_owned() + "0200")
                .unwrap();
        bip_protect(&igtk, &mut frame, 4).unwrap();
        assert_eq!(
            hex::encode(&frame[26..]),
            "4c10040004000000000048dfbfa7b8278872"
        );
        assert_eq!(bip_verify(&igtk, &frame, 3), Ok(4));
        // Replayed, altered, or under another key: refused.
        assert!(bip_verify(&igtk, &frame, 4).is_err());
        let mut bad = frame.clone();
        bad[24] ^= 1;
        assert!(bip_verify(&igtk, &bad, 0).is_err());
        // The Retry bit is not covered: a retransmission verifies.
        let mut retry = frame.clone();
        retry[1] |= 0x08;
        assert_eq!(bip_verify(&igtk, &retry, 0), Ok(4));
        let other = Igtk::new([1; 16], 4).unwrap();
        assert!(bip_verify(&other, &frame, 0).is_err());
        assert!(bip_verify(&igtk, &frame[..30], 0).is_err());
    }
}
