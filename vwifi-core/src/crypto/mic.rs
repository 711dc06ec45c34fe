//! The EAPOL-Key MIC for key descriptor version 2 (AKM 00-0F-AC:2): HMAC-SHA1-128 with the
//! KCK over the whole EAPOL frame, its MIC field zeroed (IEEE 802.11-2020 12.7.2, item h).

use core::ops::Range;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::keys::Kck;
use super::CryptoError;

/// The length of the EAPOL-Key MIC field for AKM 00-0F-AC:2, in bytes.
pub const MIC_LEN: usize = 16;

/// Computes the MIC of `frame` (the EAPOL frame from its 802.1X header to the end of the key
/// data), treating the bytes in `mic_field` as zero whatever they hold.
///
/// `mic_field` is the byte range of the MIC field in `frame`
/// (`wire::eapol::MIC_RANGE`); it must lie inside the frame and be [`MIC_LEN`] long.
pub fn compute_mic(
    kck: &Kck,
    frame: &[u8],
    mic_field: Range<usize>,
) -> Result<[u8; MIC_LEN], CryptoError> {
    // `split_mic` checked that the field is exactly MIC_LEN bytes inside the frame.
    let (before, _field, after) = split_mic(frame, mic_field)?;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(kck.expose()) else {
        return Err(CryptoError::MicMismatch);
    };
    mac.update(before);
    mac.update(&[0u8; MIC_LEN]);
    mac.update(after);
    let full = mac.finalize().into_bytes();
    let mut mic = [0u8; MIC_LEN];
    mic.copy_from_slice(full.get(..MIC_LEN).unwrap_or(&[0; MIC_LEN]));
    Ok(mic)
}

/// Computes the MIC of `frame` and writes it into its MIC field.
pub fn write_mic(kck: &Kck, frame: &mut [u8], mic_field: Range<usize>) -> Result<(), CryptoError> {
    let mic = compute_mic(kck, frame, mic_field.clone())?;
    if let Some(field) = frame.get_mut(mic_field) {
        field.copy_from_slice(&mic);
    }
    Ok(())
}

/// Checks the MIC field of `frame` against the MIC computed with `kck`, in constant time.
pub fn verify_mic(kck: &Kck, frame: &[u8], mic_field: Range<usize>) -> Result<(), CryptoError> {
    let expected = compute_mic(kck, frame, mic_field.clone())?;
    let (_, received, _) = split_mic(frame, mic_field)?;
    if bool::from(expected.ct_eq(received)) {
        Ok(())
    } else {
        Err(CryptoError::MicMismatch)
    }
}

/// Computes the EAPOL-Key MIC of the SHA-256 AKMs with key descriptor version 0, SAE's
/// (AKM 00-0F-AC:8, IEEE 802.11-2020 12.7.3 Table 12-11): AES-128-CMAC with the KCK over the
/// frame, its MIC field taken as zero.
pub fn compute_mic_cmac(
    kck: &Kck,
    frame: &[u8],
    mic_field: Range<usize>,
) -> Result<[u8; MIC_LEN], CryptoError> {
    let (before, field, after) = split_mic(frame, mic_field)?;
    let Ok(mut mac) = <cmac::Cmac<aes::Aes128> as cmac::Mac>::new_from_slice(kck.expose()) else {
        return Err(CryptoError::MicMismatch);
    };
    cmac::Mac::update(&mut mac, before);
    let zeros = [0u8; MIC_LEN];
    let zeros = zeros.get(..field.len()).ok_or(CryptoError::MicMismatch)?;
    cmac::Mac::update(&mut mac, zeros);
    cmac::Mac::update(&mut mac, after);
    let mut mic = [0u8; MIC_LEN];
    mic.copy_from_slice(&cmac::Mac::finalize(mac).into_bytes());
    Ok(mic)
}

/// Writes the AES-128-CMAC MIC of `frame` into its MIC field.
pub fn write_mic_cmac(
    kck: &Kck,
    frame: &mut [u8],
    mic_field: Range<usize>,
) -> Result<(), CryptoError> {
    let mic = compute_mic_cmac(kck, frame, mic_field.clone())?;
    if let Some(field) = frame.get_mut(mic_field) {
        field.copy_from_slice(&mic);
    }
    Ok(())
}

/// Checks the AES-128-CMAC MIC field of `frame`, in constant time.
pub fn verify_mic_cmac(
    kck: &Kck,
    frame: &[u8],
    mic_field: Range<usize>,
) -> Result<(), CryptoError> {
    let expected = compute_mic_cmac(kck, frame, mic_field.clone())?;
    let (_, received, _) = split_mic(frame, mic_field)?;
    if bool::from(expected.ct_eq(received)) {
        Ok(())
    } else {
        Err(CryptoError::MicMismatch)
    }
}

/// A frame split around its MIC field: before, the field, after.
type MicSplit<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn split_mic(frame: &[u8], mic_field: Range<usize>) -> Result<MicSplit<'_>, CryptoError> {
    let bad = || CryptoError::MicFieldOutOfRange {
        start: mic_field.start,
        end: mic_field.end,
        frame_len: frame.len(),
    };
    if mic_field.end.checked_sub(mic_field.start) != Some(MIC_LEN) {
        return Err(bad());
    }
    let before = frame.get(..mic_field.start).ok_or_else(bad)?;
    let field = frame.get(mic_field.clone()).ok_or_else(bad)?;
    let after = frame.get(mic_field.end..).ok_or_else(bad)?;
    Ok((before, field, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mic_ignores_the_bytes_in_the_mic_field() {
        let kck = Kck::from_bytes([3; 16]);
        let mut frame = vec![0x55u8; 120];
        let a = compute_mic(&kck, &frame, 81..97).unwrap();
        frame[81..97].fill(0xee);
        assert_eq!(compute_mic(&kck, &frame, 81..97).unwrap(), a);
        write_mic(&kck, &mut frame, 81..97).unwrap();
        assert_eq!(&frame[81..97], &a);
        verify_mic(&kck, &frame, 81..97).unwrap();
    }

    #[test]
    fn verify_rejects_any_flipped_bit_and_wrong_key() {
        let kck = Kck::from_bytes([3; 16]);
        let mut frame = vec![0x11u8; 99];
        write_mic(&kck, &mut frame, 81..97).unwrap();
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                verify_mic(&kck, &bad, 81..97),
                Err(CryptoError::MicMismatch),
                "flip at {i}"
            );
        }
        let other = Kck::from_bytes([4; 16]);
        assert_eq!(
            verify_mic(&other, &frame, 81..97),
            Err(CryptoError::MicMismatch)
        );
    }

    /// AES-128-CMAC itself: RFC 4493 section 4, example 2 (16-byte message); the EAPOL MIC
    /// is that MAC over the frame with the MIC field zeroed.
    #[test]
    fn cmac_mic_is_aes_cmac_with_the_field_zeroed() {
        let key: [u8; 16] = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .unwrap()
            .try_into()
            .unwrap();
        let kck = Kck::from_bytes(key);
        let mut frame = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        frame.extend_from_slice(&[0xee; 16]);
        // The MIC field (the last 16 bytes) counts as zero: MAC over msg || 0^16.
        let mic = compute_mic_cmac(&kck, &frame, 16..32).unwrap();
        let mut zeroed = frame.clone();
        zeroed[16..].fill(0);
        let mut mac = <cmac::Cmac<aes::Aes128> as cmac::Mac>::new_from_slice(&key).unwrap();
        cmac::Mac::update(&mut mac, &zeroed[..16]);
        let example2 = cmac::Mac::finalize(mac).into_bytes();
        assert_eq!(hex::encode(example2), "070a16b46b4d4144f79bdd9dd04a287c");
        assert_ne!(&mic[..], &example2[..]);
        write_mic_cmac(&kck, &mut frame, 16..32).unwrap();
        verify_mic_cmac(&kck, &frame, 16..32).unwrap();
        frame[0] ^= 1;
        assert_eq!(
            verify_mic_cmac(&kck, &frame, 16..32),
            Err(CryptoError::MicMismatch)
        );
        assert_ne!(
            compute_mic(&kck, &frame, 16..32).unwrap(),
            mic,
            "not HMAC-SHA1"
        );
    }

    #[test]
    fn mic_field_outside_the_frame_is_an_error() {
        let kck = Kck::from_bytes([3; 16]);
        assert_eq!(
            compute_mic(&kck, &[0; 90], 81..97),
            Err(CryptoError::MicFieldOutOfRange {
                start: 81,
                end: 97,
                frame_len: 90
            })
        );
        assert!(compute_mic(&kck, &[0; 120], 81..90).is_err());
    }
}
