//! Every CCMP entry point (allocating, into a buffer, in place, batched) against the reference:
//! the `ccm` crate over the same AAD and nonce (whose construction the Annex J vectors check).

use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U13, U8};
use ccm::Ccm;
use proptest::prelude::*;

use super::*;

type Reference = Ccm<aes::Aes128, U8, U13>;

/// CCMP as vwifi computed it before the fast path: the `ccm` crate, keyed per frame.
fn reference_encrypt(tk: &TemporalKey, key_id: u8, pn: u64, mpdu: &[u8]) -> Vec<u8> {
    let l = layout(mpdu).unwrap();
    let (header, body) = mpdu.split_at(l.header_len);
    let mut out = header.to_vec();
    out[1] |= FC1_PROTECTED;
    let (aad, nonce) = aad_and_nonce(&out, &l, pn);
    out.extend_from_slice(&CcmpHeader { pn, key_id }.to_bytes());
    let mut sealed = body.to_vec();
    let tag = Reference::new(GenericArray::from_slice(tk.expose()))
        .encrypt_in_place_detached(
            GenericArray::from_slice(&nonce),
            aad.as_slice(),
            &mut sealed,
        )
        .unwrap();
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    out
}

/// A plaintext MPDU: data (non-QoS, QoS, QoS with HT control, four-address QoS) or management,
/// random header fields and flags, a body of `body` bytes.
fn mpdu() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..5,
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 40),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(kind, flags, fields, body)| {
            // Retry, power management and more data at random; the rest set by the kind.
            let flags = flags & (FC1_RETRY | FC1_PWR_MGMT | FC1_MORE_DATA);
            let (fc0, fc1) = match kind {
                0 => (0x08, 0x01),
                1 => (0x88, 0x02),
                2 => (0x88, 0x01 | FC1_ORDER),
                3 => (0x88, 0x03),
                _ => (0xd0, 0x00),
            };
            let mut f = vec![fc0, fc1 | flags];
            f.extend_from_slice(&fields);
            f.truncate(header_len(&f).unwrap());
            f.extend_from_slice(&body);
            f
        })
}

/// `mpdu` laid out for [`encrypt_in_place`].
fn with_room(mpdu: &[u8]) -> Vec<u8> {
    let mut f = vec![0xee; CCMP_HEADER_LEN];
    f.extend_from_slice(mpdu);
    f.extend_from_slice(&[0xee; CCMP_MIC_LEN]);
    f
}

/// The plaintext a decryption gives back: the header without the protected bit.
fn unprotected(mpdu: &[u8]) -> Vec<u8> {
    let mut m = mpdu.to_vec();
    m[1] &= !FC1_PROTECTED;
    m
}

fn key() -> impl Strategy<Value = TemporalKey> {
    any::<[u8; 16]>().prop_map(TemporalKey::from_bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// encrypt, encrypt_into (a dirty reused buffer), encrypt_in_place, encrypt_emitted all give the reference's
    /// bytes; decrypt, decrypt_into and decrypt_in_place all give the plaintext back.
    #[test]
    fn every_entry_point_equals_the_reference(
        tk in key(), key_id in 0u8..4, pn in 0..=PN_MAX, plain in mpdu(),
    ) {
        let want = reference_encrypt(&tk, key_id, pn, &plain);
        prop_assert_eq!(&encrypt(&tk, key_id, pn, &plain).unwrap(), &want);
        let mut out = vec![0x55; 7];
        encrypt_into(&tk, key_id, pn, &plain, &mut out).unwrap();
        prop_assert_eq!(&out, &want);
        let mut frame = with_room(&plain);
        encrypt_in_place(&tk, key_id, pn, &mut frame).unwrap();
        prop_assert_eq!(&frame, &want);
        let emitted = encrypt_emitted(&tk, key_id, pn, 3, |b| b.extend_from_slice(&plain));
        prop_assert_eq!(&emitted.unwrap(), &want);

        let info = decrypt_into(&tk, &want, &mut out).unwrap();
        prop_assert_eq!(&out, &unprotected(&plain));
        prop_assert_eq!((info.pn, info.key_id), (pn, key_id));
        let d = decrypt(&tk, &want).unwrap();
        prop_assert_eq!((&d.mpdu, d.pn, d.key_id, d.tid), (&out, info.pn, info.key_id, info.tid));
        let in_place = decrypt_in_place(&tk, &mut frame).unwrap();
        prop_assert_eq!(in_place, info);
        prop_assert_eq!(&frame[CCMP_HEADER_LEN..frame.len() - CCMP_MIC_LEN], &out[..]);
    }

    /// A batch gives what one frame at a time gives, PNs counting up from the first.
    #[test]
    fn a_batch_equals_one_frame_at_a_time(
        tk in key(), key_id in 0u8..4, first_pn in 0..PN_MAX - 64,
        plains in prop::collection::vec(mpdu(), 0..12),
    ) {
        let mut frames: Vec<Vec<u8>> = plains.iter().map(|p| with_room(p)).collect();
        encrypt_batch(&tk, key_id, first_pn, &mut frames).unwrap();
        for ((pn, plain), sealed) in (first_pn..).zip(&plains).zip(&frames) {
            prop_assert_eq!(sealed, &reference_encrypt(&tk, key_id, pn, plain));
        }
        let mut seen = 0;
        decrypt_batch(&tk, &mut frames, |i, r| {
            let info = r.unwrap();
            assert_eq!(info.pn, first_pn + i as u64);
            assert_eq!(i, seen);
            seen += 1;
        });
        prop_assert_eq!(seen, plains.len());
        for (plain, f) in plains.iter().zip(&frames) {
            prop_assert_eq!(&f[CCMP_HEADER_LEN..f.len() - CCMP_MIC_LEN], &unprotected(plain)[..]);
        }
    }

    /// A bit flipped in the addresses, the body or the MIC fails every decryption path with
    /// CcmpDecryptFailed and hands out no plaintext; in a batch only that frame fails.
    #[test]
    fn tampering_fails_every_decryption_path(
        tk in key(), pn in 0..=PN_MAX, plain in mpdu(), others in prop::collection::vec(mpdu(), 1..6),
        pick in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let sealed = encrypt(&tk, 0, pn, &plain).unwrap();
        let hl = header_len(&sealed).unwrap();
        // Addresses 1 to 3, or anything after the CCMP header (body and MIC).
        let covered: Vec<usize> = (4..22).chain(hl + CCMP_HEADER_LEN..sealed.len()).collect();
        let mut bad = sealed.clone();
        bad[covered[pick.index(covered.len())]] ^= 1 << bit;

        prop_assert_eq!(decrypt(&tk, &bad), Err(CryptoError::CcmpDecryptFailed));
        let mut out = vec![1, 2, 3];
        prop_assert_eq!(decrypt_into(&tk, &bad, &mut out), Err(CryptoError::CcmpDecryptFailed));
        prop_assert!(out.is_empty());
        let mut frame = bad.clone();
        prop_assert_eq!(decrypt_in_place(&tk, &mut frame), Err(CryptoError::CcmpDecryptFailed));
        let body = hl + CCMP_HEADER_LEN..frame.len() - CCMP_MIC_LEN;
        prop_assert!(frame[body.clone()].iter().all(|b| *b == 0));

        // In a batch, among good frames.
        let mut frames: Vec<Vec<u8>> = others
            .iter()
            .enumerate()
            .map(|(i, p)| encrypt(&tk, 0, i as u64, p).unwrap())
            .collect();
        let at = pick.index(frames.len() + 1);
        frames.insert(at, bad);
        let mut results = Vec::new();
        decrypt_batch(&tk, &mut frames, |i, r| results.push((i, r.is_ok())));
        let want: Vec<(usize, bool)> = (0..frames.len()).map(|i| (i, i != at)).collect();
        prop_assert_eq!(results, want);
        prop_assert!(frames[at][body].iter().all(|b| *b == 0));
    }
}

#[test]
fn bad_frames_fail_a_batch_before_it_touches_any() {
    let tk = TemporalKey::from_bytes([5; 16]);
    let good = with_room(
        &[0x08, 0x01]
            .into_iter()
            .chain([0; 22])
            .chain([7; 50])
            .collect::<Vec<_>>(),
    );
    let mut frames = vec![good.clone(), vec![0x08, 0x01, 0, 0], good.clone()];
    let before = frames.clone();
    assert!(matches!(
        encrypt_batch(&tk, 0, 1, &mut frames),
        Err(CryptoError::MpduTooShort { .. })
    ));
    assert_eq!(frames, before);
    let mut frames = vec![good.clone(), good.clone()];
    assert_eq!(
        encrypt_batch(&tk, 0, PN_MAX, &mut frames),
        Err(CryptoError::PnExhausted)
    );
    assert_eq!(frames, [good.clone(), good]);
    assert_eq!(
        encrypt_batch(&tk, 4, 1, &mut frames),
        Err(CryptoError::InvalidKeyId { key_id: 4 })
    );
}

#[test]
fn malformed_frames_in_a_batch_fail_alone() {
    let tk = TemporalKey::from_bytes([6; 16]);
    let plain: Vec<u8> = [0x88, 0x02]
        .into_iter()
        .chain([3; 24])
        .chain([9; 33])
        .collect();
    let good = encrypt(&tk, 0, 9, &plain).unwrap();
    let mut unprotected = good.clone();
    unprotected[1] &= !FC1_PROTECTED;
    let mut frames = vec![vec![], good.clone(), unprotected, good[..20].to_vec(), good];
    let mut results = Vec::new();
    decrypt_batch(&tk, &mut frames, |i, r| {
        results.push((i, r.map(|info| info.pn)))
    });
    assert_eq!(results[1], (1, Ok(9)));
    assert_eq!(results[2], (2, Err(CryptoError::NotProtected)));
    assert!(matches!(
        results[0],
        (0, Err(CryptoError::MpduTooShort { .. }))
    ));
    assert!(matches!(
        results[3],
        (3, Err(CryptoError::MpduTooShort { .. }))
    ));
    assert_eq!(results[4], (4, Ok(9)));
}

#[test]
fn in_place_frames_too_short_for_the_room_are_errors() {
    let tk = TemporalKey::from_bytes([7; 16]);
    for len in 0..40 {
        let mut f = vec![0x08; len];
        assert!(encrypt_in_place(&tk, 0, 1, &mut f).is_err(), "length {len}");
        let mut f = vec![0x08; len];
        if let Some(fc1) = f.get_mut(1) {
            *fc1 = 0x41;
        }
        assert!(decrypt_in_place(&tk, &mut f).is_err(), "length {len}");
    }
}

/// Frames with an empty body (a null data frame, say) through every entry point, alone and in
/// a batch (where the lanes finish right after the AAD): the case a regression once broke.
#[test]
fn empty_bodies_through_every_entry_point() {
    let tk = TemporalKey::from_bytes([8; 16]);
    let plain: Vec<u8> = [0x08, 0x01].into_iter().chain([0; 22]).collect();
    let want = reference_encrypt(&tk, 0, 0, &plain);
    assert_eq!(encrypt(&tk, 0, 0, &plain).unwrap(), want);
    let mut frame = with_room(&plain);
    encrypt_in_place(&tk, 0, 0, &mut frame).unwrap();
    assert_eq!(frame, want);
    let mut frames = vec![with_room(&plain); 5];
    encrypt_batch(&tk, 0, 0, &mut frames).unwrap();
    assert_eq!(frames[0], want);
    assert_eq!(frames[4], reference_encrypt(&tk, 0, 4, &plain));
    let mut ok = 0;
    decrypt_batch(&tk, &mut frames, |_, r| ok += usize::from(r.is_ok()));
    assert_eq!(ok, 5);
    assert_eq!(decrypt(&tk, &want).unwrap().mpdu, unprotected(&plain));
}
