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
