//! The engine against the `ccm` crate (the reference), one message and batches, sealing and
//! opening, in place and buffer to buffer.

use aes::cipher::KeyInit;
use aes::Aes128;
use ccm::aead::generic_array::GenericArray;
use ccm::aead::AeadInPlace;
use ccm::consts::{U13, U8};
use ccm::Ccm;
use proptest::prelude::*;

use super::*;

type Reference = Ccm<Aes128, U8, U13>;

/// The reference ciphertext and MIC.
fn reference(key: &[u8; 16], nonce: &[u8; 13], aad: &[u8], plain: &[u8]) -> (Vec<u8>, [u8; 8]) {
    let mut buf = plain.to_vec();
    let tag = Reference::new(GenericArray::from_slice(key))
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, &mut buf)
        .unwrap();
    (buf, tag.into())
}

#[derive(Debug, Clone)]
struct Case {
    key: [u8; 16],
    nonce: [u8; 13],
    aad: Vec<u8>,
    plain: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 13]>(),
        prop::collection::vec(any::<u8>(), 0..=MAX_AAD_LEN),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(key, nonce, aad, plain)| Case {
            key,
            nonce,
            aad,
            plain,
        })
}

/// Seals every case (in one batch, one key), buffer to buffer; returns ciphertexts and MICs.
fn seal_batch(key: &[u8; 16], cases: &[Case]) -> Vec<(Vec<u8>, [u8; 8])> {
    let cipher = Aes128Enc::new(key.into());
    let mut outs: Vec<(Vec<u8>, [u8; 8])> = cases
        .iter()
        .map(|c| (vec![0; c.plain.len()], [0; 8]))
        .collect();
    let mut finished = vec![false; cases.len()];
    let messages = cases
        .iter()
        .zip(outs.iter_mut())
        .map(|(c, (out, mic))| Message {
            nonce: c.nonce,
            aad: Aad::new(&c.aad).unwrap(),
            data: InOutBuf::new(&c.plain, out).unwrap(),
            mic: Mic::Write(mic),
        });
    process(&cipher, Direction::Seal, messages, |i, ok| {
        assert!(ok);
        finished[i] = true;
    });
    assert!(finished.iter().all(|f| *f));
    outs
}

/// Opens `sealed` in place; returns the plaintexts and whether each MIC matched.
fn open_batch(
    key: &[u8; 16],
    cases: &[Case],
    sealed: &[(Vec<u8>, [u8; 8])],
) -> Vec<(Vec<u8>, bool)> {
    let cipher = Aes128Enc::new(key.into());
    let mut bufs: Vec<Vec<u8>> = sealed.iter().map(|(c, _)| c.clone()).collect();
    let mut authentic = vec![None; cases.len()];
    let messages = cases
        .iter()
        .zip(sealed)
        .zip(bufs.iter_mut())
        .map(|((c, (_, mic)), buf)| Message {
            nonce: c.nonce,
            aad: Aad::new(&c.aad).unwrap(),
            data: InOutBuf::from(buf.as_mut_slice()),
            mic: Mic::Check(*mic),
        });
    process(&cipher, Direction::Open, messages, |i, ok| {
        authentic[i] = Some(ok)
    });
    bufs.into_iter()
        .zip(authentic)
        .map(|(b, ok)| (b, ok.expect("every message finished")))
        .collect()
}

/// RFC 3610 packet vector #1 has M = 8 but L = 2 and a 13-byte nonce: exactly our parameters.
#[test]
fn rfc3610_packet_vector_1() {
    let key: [u8; 16] = hex::decode("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
        .unwrap()
        .try_into()
        .unwrap();
    let c = Case {
        key,
        nonce: hex::decode("00000003020100a0a1a2a3a4a5")
            .unwrap()
            .try_into()
            .unwrap(),
        aad: hex::decode("0001020304050607").unwrap(),
        plain: hex::decode("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e").unwrap(),
    };
    let sealed = seal_batch(&key, std::slice::from_ref(&c));
    let mut got = sealed[0].0.clone();
    got.extend_from_slice(&sealed[0].1);
    assert_eq!(
        hex::encode(got),
        "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"
    );
}

#[test]
fn empty_data_and_empty_aad_match_the_reference() {
    for (aad, plain) in [
        (&[][..], &[][..]),
        (&[1, 2, 3][..], &[][..]),
        (&[][..], &[7; 17][..]),
    ] {
        let c = Case {
            key: [3; 16],
            nonce: [4; 13],
            aad: aad.to_vec(),
            plain: plain.to_vec(),
        };
        let sealed = seal_batch(&c.key, std::slice::from_ref(&c));
        assert_eq!(sealed[0], reference(&c.key, &c.nonce, aad, plain));
        let opened = open_batch(&c.key, std::slice::from_ref(&c), &sealed);
        assert_eq!(opened[0], (plain.to_vec(), true));
    }
}

#[test]
fn aad_longer_than_the_engine_takes_is_refused() {
    assert!(Aad::new(&[0; MAX_AAD_LEN]).is_some());
    assert!(Aad::new(&[0; MAX_AAD_LEN + 1]).is_none());
    let mut a = Aad::new(&[0; 20]).unwrap();
    assert!(a.push(&[0; 11]).is_none());
    assert!(a.push(&[1; 10]).is_some());
    assert_eq!(a.as_slice().len(), 30);
}

/// Thirty-two messages (all the lanes) of 67, 65, ..., 5 whole blocks under one key: they start
/// together and end one after the other, so the busy lanes go from 32 (eight loops of four)
/// through 31, 30, ... down to one, each width's loop and each count of groups taking its turn;
/// a 33rd and 34th message, with other AAD lengths, refill lanes on the way. Then the same with
/// eight messages alone, which run in the eight lanes of a short batch. Each equals the
/// reference, sealed and opened.
#[test]
fn lanes_ending_one_after_the_other_match_the_reference_at_every_width() {
    let key = [0x5a; 16];
    for (count, refills) in [(32u8, 2u8), (8, 0)] {
        let mut cases: Vec<Case> = (0..count)
            .map(|i| Case {
                key,
                nonce: [i; 13],
                aad: vec![i; 22],
                plain: (0..16 * (5 + 2 * usize::from(count - 1 - i)))
                    .map(|b| b as u8 ^ i)
                    .collect(),
            })
            .collect();
        for (i, aad_len) in (count..count + refills).zip([30, 0]) {
            cases.push(Case {
                key,
                nonce: [i; 13],
                aad: vec![i; aad_len],
                plain: vec![i; 16 * 12 + 5],
            });
        }
        let sealed = seal_batch(&key, &cases);
        for (c, s) in cases.iter().zip(&sealed) {
            assert_eq!(s, &reference(&key, &c.nonce, &c.aad, &c.plain));
        }
        let opened = open_batch(&key, &cases, &sealed);
        for (c, o) in cases.iter().zip(&opened) {
            assert_eq!(o, &(c.plain.clone(), true));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// One message: the engine's ciphertext and MIC are the reference's, and opening gives the
    /// plaintext back.
    #[test]
    fn one_message_equals_the_reference(c in case()) {
        let sealed = seal_batch(&c.key, std::slice::from_ref(&c));
        prop_assert_eq!(&sealed[0], &reference(&c.key, &c.nonce, &c.aad, &c.plain));
        let opened = open_batch(&c.key, std::slice::from_ref(&c), &sealed);
        prop_assert_eq!(&opened[0], &(c.plain.clone(), true));
    }

    /// A batch of messages of mixed lengths (more than the lanes, so lanes are refilled)
    /// under one key: each equals the reference.
    #[test]
    fn a_batch_equals_the_reference(key in any::<[u8; 16]>(), cases in prop::collection::vec(case(), 0..40)) {
        let sealed = seal_batch(&key, &cases);
        for (c, s) in cases.iter().zip(&sealed) {
            prop_assert_eq!(s, &reference(&key, &c.nonce, &c.aad, &c.plain));
        }
        let opened = open_batch(&key, &cases, &sealed);
        for (c, o) in cases.iter().zip(&opened) {
            prop_assert_eq!(o, &(c.plain.clone(), true));
        }
    }

    /// Flipping any bit of the ciphertext, the MIC, the AAD or the nonce is detected, and only
    /// the tampered message of a batch fails, in a batch of two (the interleaved engine) and
    /// in one of [`wide::WIDE_MIN`] (the wide one).
    #[test]
    fn tampering_is_detected(c in case(), pick in any::<prop::sample::Index>(), bit in 0u8..8, what in 0u8..4, wide in any::<bool>()) {
        let others = if wide { wide::WIDE_MIN - 1 } else { 1 };
        let mut cases = vec![c];
        for i in 0..others {
            let other = Case { key: cases[0].key, nonce: [0xee - i as u8; 13], aad: vec![1; 5], plain: vec![2; 40 + i] };
            cases.push(other);
        }
        let mut sealed = seal_batch(&cases[0].key, &cases);
        let key = cases[0].key;
        let flip = 1u8 << bit;
        match what {
            0 if !sealed[0].0.is_empty() => {
                let i = pick.index(sealed[0].0.len());
                sealed[0].0[i] ^= flip;
            }
            1 => sealed[0].1[pick.index(TAG_LEN)] ^= flip,
            2 if !cases[0].aad.is_empty() => {
                let i = pick.index(cases[0].aad.len());
                cases[0].aad[i] ^= flip;
            }
            _ => cases[0].nonce[pick.index(NONCE_LEN)] ^= flip,
        }
        let opened = open_batch(&key, &cases, &sealed);
        prop_assert!(!opened[0].1);
        for (o, c) in opened.iter().zip(&cases).skip(1) {
            prop_assert_eq!(o, &(c.plain.clone(), true));
        }
    }

    /// A batch for the wide engine sealed in place (the data path's way; the other tests seal
    /// buffer to buffer) and opened buffer to buffer: each equals the reference.
    #[test]
    fn a_wide_batch_in_place_and_across_equals_the_reference(key in any::<[u8; 16]>(), cases in prop::collection::vec(case(), wide::WIDE_MIN..wide::WIDTH + 2 * wide::GROUP)) {
        let cipher = Aes128Enc::new((&key).into());
        let mut sealed: Vec<(Vec<u8>, [u8; 8])> = cases.iter().map(|c| (c.plain.clone(), [0; 8])).collect();
        let messages = cases.iter().zip(sealed.iter_mut()).map(|(c, (buf, mic))| Message {
            nonce: c.nonce,
            aad: Aad::new(&c.aad).unwrap(),
            data: InOutBuf::from(buf.as_mut_slice()),
            mic: Mic::Write(mic),
        });
        process(&cipher, Direction::Seal, messages, |_, ok| assert!(ok));
        for (c, s) in cases.iter().zip(&sealed) {
            prop_assert_eq!(s, &reference(&key, &c.nonce, &c.aad, &c.plain));
        }
        let mut plains: Vec<Vec<u8>> = cases.iter().map(|c| vec![0; c.plain.len()]).collect();
        let mut authentic = vec![false; cases.len()];
        let messages = cases.iter().zip(&sealed).zip(plains.iter_mut()).map(|((c, (ct, mic)), out)| Message {
            nonce: c.nonce,
            aad: Aad::new(&c.aad).unwrap(),
            data: InOutBuf::new(ct, out).unwrap(),
            mic: Mic::Check(*mic),
        });
        process(&cipher, Direction::Open, messages, |i, ok| authentic[i] = ok);
        prop_assert!(authentic.iter().all(|ok| *ok));
        for (c, p) in cases.iter().zip(&plains) {
            prop_assert_eq!(&c.plain, p);
        }
    }
}
