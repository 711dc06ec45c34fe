//! Frames decrypted ahead of their turn: a receiver handed several frames at once opens those
//! under one key together ([`decrypt_batch`]: their AES runs interleaved), then processes the
//! frames one by one in order, taking each one's result where it would have called
//! [`decrypt`]. Replay checks stay with the caller, per frame and in order.

use core::fmt;

use bytes::Bytes;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{decrypt, decrypt_batch, FrameInfo, CCMP_HEADER_LEN, CCMP_MIC_LEN};
use crate::crypto::keys::{TemporalKey, KEY_LEN};
use crate::crypto::CryptoError;

/// A frame opened by [`Opened`]: the plaintext MPDU and what its CCMP header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedMpdu {
    /// The plaintext MPDU, as [`super::Decrypted::mpdu`] (header with the protected bit
    /// cleared, then the body), sharing the buffer it was decrypted in.
    pub mpdu: Bytes,
    /// The packet number, key ID and TID of the frame.
    pub info: FrameInfo,
}

/// One frame opened ahead: its received bytes (kept, so that its buffer is not reused and its
/// address names it), the key it was opened with (an index into [`Opened`]'s keys: one copy
/// per batch, not per frame) and the result, until taken.
#[derive(Clone)]
struct Entry {
    raw: Bytes,
    key: usize,
    result: Option<Result<OpenedMpdu, CryptoError>>,
}

/// Results of [`decrypt_batch`] kept for the frames' turn.
///
/// [`Opened::open`] decrypts a batch of received frames under one key; [`Opened::decrypt`]
/// then gives a frame's result as [`decrypt`] would, taken from the batch if the frame (the
/// same buffer, not only the same bytes) was opened there under the same key, computed at
/// once otherwise. A result is given once. [`Opened::clear`] forgets the results not taken
/// (call it when the batch is over: the kept frames hold their buffers).
#[derive(Clone, Default)]
pub struct Opened {
    entries: Vec<Entry>,
    /// The key of each [`Opened::open`] since the last [`Opened::clear`].
    keys: Vec<Zeroizing<[u8; KEY_LEN]>>,
    /// Where the next frame in order is expected: frames are taken in the order opened.
    cursor: usize,
    /// Results taken from a batch, in all.
    taken: u64,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("frames", &self.entries.len())
            .field("taken", &self.taken)
            .finish()
    }
}

impl Opened {
    /// No frames opened.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decrypts `frames`, all under `tk`, together; each result is kept for
    /// [`Opened::decrypt`]. Frames that are not protected or malformed keep the error
    /// [`decrypt`] would give.
    pub fn open<'a>(&mut self, tk: &TemporalKey, frames: impl IntoIterator<Item = &'a Bytes>) {
        let first = self.entries.len();
        let key = self.keys.len();
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        for raw in frames {
            bufs.push(raw.to_vec());
            self.entries.push(Entry {
                raw: raw.clone(),
                key,
                result: None,
            });
        }
        if bufs.is_empty() {
            return;
        }
        self.keys.push(Zeroizing::new(*tk.expose()));
        let entries = self.entries.get_mut(first..).unwrap_or_default();
        decrypt_batch(tk, &mut bufs, |i, r| {
            if let Some(e) = entries.get_mut(i) {
                e.result = Some(r.map(|info| OpenedMpdu {
                    mpdu: Bytes::new(),
                    info,
                }));
            }
        });
        // The plaintexts, moved out of the buffers they were decrypted in. A frame the batch
        // did not report (cannot happen) keeps no result and is decrypted on its own at its turn.
        for (e, buf) in entries.iter_mut().zip(bufs) {
            if let Some(Ok(opened)) = &mut e.result {
                let end = buf.len().saturating_sub(CCMP_MIC_LEN);
                opened.mpdu = Bytes::from(buf).slice(CCMP_HEADER_LEN.min(end)..end);
            }
        }
    }

    /// `raw` decrypted under `tk`, exactly as [`decrypt`] gives it: from the batch if `raw` was
    /// opened there under `tk` and not taken yet, else decrypted now.
    pub fn decrypt(&mut self, tk: &TemporalKey, raw: &[u8]) -> Result<OpenedMpdu, CryptoError> {
        if let Some(r) = self.take(tk, raw) {
            return r;
        }
        let d = decrypt(tk, raw)?;
        Ok(OpenedMpdu {
            mpdu: Bytes::from(d.mpdu),
            info: FrameInfo {
                pn: d.pn,
                key_id: d.key_id,
                tid: d.tid,
            },
        })
    }

    /// The kept result for `raw` (the same buffer) under `tk`, if there is one not taken.
    fn take(&mut self, tk: &TemporalKey, raw: &[u8]) -> Option<Result<OpenedMpdu, CryptoError>> {
        if self.entries.is_empty() {
            return None;
        }
        let keys = &self.keys;
        let same = |e: &Entry| {
            e.result.is_some()
                && e.raw.as_ptr() == raw.as_ptr()
                && e.raw.len() == raw.len()
                && keys
                    .get(e.key)
                    .is_some_and(|k| bool::from(k.ct_eq(tk.expose())))
        };
        let n = self.entries.len();
        let at = (self.cursor..n)
            .chain(0..self.cursor.min(n))
            .find(|&i| self.entries.get(i).is_some_and(same))?;
        self.cursor = at + 1;
        let result = self.entries.get_mut(at)?.result.take()?;
        self.taken += 1;
        Some(result)
    }

    /// Forgets the results not taken and the frames kept.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.keys.clear();
        self.cursor = 0;
    }

    /// Whether no result is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many results were taken from batches since this was made.
    pub fn taken(&self) -> u64 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ccmp::encrypt;

    fn key(b: u8) -> TemporalKey {
        TemporalKey::from_bytes([b; KEY_LEN])
    }

    /// A QoS data frame To DS from `ta`, `len` octets of payload.
    fn plain(ta: u8, seq: u16, len: usize) -> Vec<u8> {
        let mut f = vec![0x88, 0x01, 0, 0];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, ta]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&(seq << 4).to_le_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend((0..len).map(|i| (i as u8) ^ ta));
        f
    }

    #[test]
    fn every_result_is_what_decrypt_gives_and_is_taken_once() {
        let tk = key(7);
        let frames: Vec<Bytes> = (0..20u16)
            .map(|i| {
                Bytes::from(
                    encrypt(
                        &tk,
                        0,
                        100 + u64::from(i),
                        &plain(3, i, 40 + usize::from(i) * 13),
                    )
                    .unwrap(),
                )
            })
            .collect();
        let mut opened = Opened::new();
        opened.open(&tk, &frames);
        for f in &frames {
            let want = decrypt(&tk, f).unwrap();
            let got = opened.decrypt(&tk, f).unwrap();
            assert_eq!(&got.mpdu[..], &want.mpdu[..]);
            assert_eq!((got.info.pn, got.info.tid), (want.pn, want.tid));
        }
        assert_eq!(opened.taken(), 20);
        // Taken once: the same frame again is decrypted anew (and still right).
        assert!(opened.decrypt(&tk, &frames[0]).is_ok());
        assert_eq!(opened.taken(), 20);
    }

    #[test]
    fn a_bad_mic_in_the_middle_fails_alone() {
        let tk = key(1);
        let mut frames: Vec<Bytes> = (0..5u16)
            .map(|i| Bytes::from(encrypt(&tk, 0, u64::from(i) + 1, &plain(3, i, 64)).unwrap()))
            .collect();
        let mut bad = frames[2].to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        frames[2] = Bytes::from(bad);
        let mut opened = Opened::new();
        opened.open(&tk, &frames);
        for (i, f) in frames.iter().enumerate() {
            let r = opened.decrypt(&tk, f);
            match i {
                2 => assert_eq!(r, Err(CryptoError::CcmpDecryptFailed)),
                _ => assert!(r.is_ok(), "frame {i}"),
            }
        }
        assert_eq!(opened.taken(), 5);
    }

    #[test]
    fn another_key_or_another_buffer_with_the_same_bytes_is_decrypted_anew() {
        let tk = key(1);
        let other = key(2);
        let f = Bytes::from(encrypt(&tk, 0, 9, &plain(3, 0, 64)).unwrap());
        let mut opened = Opened::new();
        opened.open(&tk, core::slice::from_ref(&f));
        // Under another key (a rekey between opening and the frame's turn): decrypt's answer.
        assert_eq!(
            opened.decrypt(&other, &f),
            Err(CryptoError::CcmpDecryptFailed)
        );
        // A copy of the bytes is another frame.
        let copy = f.to_vec();
        assert!(opened.decrypt(&tk, &copy).is_ok());
        assert_eq!(opened.taken(), 0);
        assert!(opened.decrypt(&tk, &f).is_ok());
        assert_eq!(opened.taken(), 1);
        opened.clear();
        assert!(opened.is_empty());
    }

    #[test]
    fn unprotected_and_short_frames_keep_decrypts_error() {
        let tk = key(1);
        let frames = vec![Bytes::from(plain(3, 0, 10)), Bytes::from_static(&[0x88])];
        let mut opened = Opened::new();
        opened.open(&tk, &frames);
        for f in &frames {
            let want = decrypt(&tk, f).unwrap_err();
            assert_eq!(opened.decrypt(&tk, f), Err(want));
        }
        assert_eq!(opened.taken(), 2);
    }
}
