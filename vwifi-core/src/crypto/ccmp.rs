//! CCMP-128 encapsulation and decapsulation of 802.11 MPDUs (IEEE 802.11-2020 12.5.3).
//!
//! The functions work on raw MPDU bytes (802.11 header and frame body, no FCS) and parse only
//! what CCMP needs: the frame control, the header length, addresses 2 and 4 and the QoS
//! control. Replay protection is a separate step: decrypt first, then pass the PN to
//! [`ReplayCounters::accept`], so that a forged frame never advances the counter.

use aes::cipher::inout::InOutBuf;

use super::aes_ccm::{self, Aad, Direction, Message, Mic, MAX_DATA_LEN, NONCE_LEN};
use super::keys::TemporalKey;
use super::CryptoError;

mod opened;
pub use opened::{Opened, OpenedMpdu};

/// The length of the CCMP header that follows the 802.11 header, in bytes.
pub const CCMP_HEADER_LEN: usize = 8;
/// The length of the CCMP-128 MIC at the end of the frame body, in bytes.
pub const CCMP_MIC_LEN: usize = 8;
/// The largest packet number: PNs are 48 bits.
pub const PN_MAX: u64 = (1 << 48) - 1;

// Frame control, second octet.
const FC1_TO_DS: u8 = 0x01;
const FC1_FROM_DS: u8 = 0x02;
const FC1_RETRY: u8 = 0x08;
const FC1_PWR_MGMT: u8 = 0x10;
const FC1_MORE_DATA: u8 = 0x20;
const FC1_PROTECTED: u8 = 0x40;
const FC1_ORDER: u8 = 0x80;
// Frame control, first octet.
const FC0_TYPE_MASK: u8 = 0x0c;
const FC0_TYPE_MGMT: u8 = 0x00;
const FC0_TYPE_DATA: u8 = 0x08;
const FC0_SUBTYPE_QOS: u8 = 0x80;
const FC0_DATA_SUBTYPE_MASK: u8 = 0x70;
// CCMP header, key ID octet.
const EXT_IV: u8 = 0x20;

/// What CCMP needs to know about an MPDU header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    header_len: usize,
    is_mgmt: bool,
    is_data: bool,
    addr4: bool,
    /// The offset of the QoS control field, for QoS data frames.
    qos_offset: Option<usize>,
}

fn layout(mpdu: &[u8]) -> Result<Layout, CryptoError> {
    let (Some(&fc0), Some(&fc1)) = (mpdu.first(), mpdu.get(1)) else {
        return Err(CryptoError::MpduTooShort {
            need: 2,
            have: mpdu.len(),
        });
    };
    if fc0 & 0x03 != 0 {
        return Err(CryptoError::UnsupportedFrame {
            frame_control: u16::from_le_bytes([fc0, fc1]),
        });
    }
    let (is_mgmt, is_data) = match fc0 & FC0_TYPE_MASK {
        FC0_TYPE_MGMT => (true, false),
        FC0_TYPE_DATA => (false, true),
        _ => {
            return Err(CryptoError::UnsupportedFrame {
                frame_control: u16::from_le_bytes([fc0, fc1]),
            })
        }
    };
    let addr4 = is_data && fc1 & (FC1_TO_DS | FC1_FROM_DS) == (FC1_TO_DS | FC1_FROM_DS);
    let mut len = 24;
    if addr4 {
        len += 6;
    }
    let mut qos_offset = None;
    if is_data && fc0 & FC0_SUBTYPE_QOS != 0 {
        qos_offset = Some(len);
        len += 2;
        if fc1 & FC1_ORDER != 0 {
            len += 4; // HT control
        }
    } else if is_mgmt && fc1 & FC1_ORDER != 0 {
        len += 4; // HT control
    }
    if mpdu.len() < len {
        return Err(CryptoError::MpduTooShort {
            need: len,
            have: mpdu.len(),
        });
    }
    Ok(Layout {
        header_len: len,
        is_mgmt,
        is_data,
        addr4,
        qos_offset,
    })
}

/// The length of the 802.11 header of `mpdu` (data or management frame), in bytes.
pub fn header_len(mpdu: &[u8]) -> Result<usize, CryptoError> {
    layout(mpdu).map(|l| l.header_len)
}

/// The fields of a CCMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcmpHeader {
    /// The 48-bit packet number.
    pub pn: u64,
    /// The key ID, 0 to 3.
    pub key_id: u8,
}

impl CcmpHeader {
    /// The 8 header bytes: PN0, PN1, reserved, key ID octet with ExtIV, PN2..PN5.
    pub fn to_bytes(&self) -> [u8; CCMP_HEADER_LEN] {
        let pn = self.pn.to_le_bytes();
        [
            pn[0],
            pn[1],
            0,
            ((self.key_id & 0x03) << 6) | EXT_IV,
            pn[2],
            pn[3],
            pn[4],
            pn[5],
        ]
    }

    /// Parses the 8 header bytes; the ExtIV bit must be set.
    pub fn from_bytes(b: &[u8; CCMP_HEADER_LEN]) -> Result<Self, CryptoError> {
        if b[3] & EXT_IV == 0 {
            return Err(CryptoError::MissingExtIv);
        }
        let pn = u64::from_le_bytes([b[0], b[1], b[4], b[5], b[6], b[7], 0, 0]);
        Ok(Self {
            pn,
            key_id: b[3] >> 6,
        })
    }
}

/// Reads the CCMP header of a protected MPDU without decrypting it.
pub fn peek_header(mpdu: &[u8]) -> Result<CcmpHeader, CryptoError> {
    let l = layout(mpdu)?;
    let mut hdr = [0u8; CCMP_HEADER_LEN];
    let src = mpdu
        .get(l.header_len..l.header_len + CCMP_HEADER_LEN)
        .ok_or(CryptoError::MpduTooShort {
            need: l.header_len + CCMP_HEADER_LEN,
            have: mpdu.len(),
        })?;
    hdr.copy_from_slice(src);
    CcmpHeader::from_bytes(&hdr)
}

/// The AAD (IEEE 802.11-2020 12.5.3.3.3) and the nonce (12.5.3.3.4) of an MPDU.
fn aad_and_nonce(header: &[u8], l: &Layout, pn: u64) -> (Aad, [u8; NONCE_LEN]) {
    let byte = |i: usize| header.get(i).copied().unwrap_or(0);
    let mut fc0 = byte(0);
    let mut fc1 = byte(1);
    if l.is_data {
        // Subtype bits 4, 5, 6 masked in data frames; bit 7 (QoS) stays.
        fc0 &= !FC0_DATA_SUBTYPE_MASK;
    }
    fc1 &= !(FC1_RETRY | FC1_PWR_MGMT | FC1_MORE_DATA);
    fc1 |= FC1_PROTECTED;
    if l.qos_offset.is_some() {
        // The order bit is masked in data frames that hold a QoS control field.
        fc1 &= !FC1_ORDER;
    }
    // At most 2 + 18 + 2 + 6 + 2 = 30 bytes: every push fits.
    let mut aad = Aad::default();
    let _ = aad.push(&[fc0, fc1]);
    let _ = aad.push(header.get(4..22).unwrap_or(&[0; 18])); // A1, A2, A3
    let _ = aad.push(&[byte(22) & 0x0f, 0]); // sequence number masked, fragment kept
    if l.addr4 {
        let _ = aad.push(header.get(24..30).unwrap_or(&[0; 6]));
    }
    let mut priority = 0;
    if let Some(q) = l.qos_offset {
        // Only the TID is kept; the A-MSDU present bit is masked (no SPP A-MSDU support).
        priority = byte(q) & 0x0f;
        let _ = aad.push(&[priority, 0]);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce[0] = priority | if l.is_mgmt { 0x10 } else { 0 };
    nonce[1..7].copy_from_slice(header.get(10..16).unwrap_or(&[0; 6])); // A2
    nonce[7..].copy_from_slice(&pn.to_be_bytes()[2..]);
    (aad, nonce)
}

fn check_seal_args(key_id: u8, pn: u64) -> Result<(), CryptoError> {
    if pn > PN_MAX {
        return Err(CryptoError::PnExhausted);
    }
    if key_id > 3 {
        return Err(CryptoError::InvalidKeyId { key_id });
    }
    Ok(())
}

/// Encrypts a plaintext MPDU (header and body, no FCS) with CCMP-128: sets the protected bit,
/// inserts the CCMP header with `pn` and `key_id`, encrypts the body and appends the MIC.
///
/// The caller owns the PN sequence and must never reuse a PN with the same key. This allocates
/// the returned frame; [`encrypt_into`] reuses a buffer and [`encrypt_in_place`] works in the
/// caller's frame buffer.
pub fn encrypt(tk: &TemporalKey, key_id: u8, pn: u64, mpdu: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::new();
    encrypt_into(tk, key_id, pn, mpdu, &mut out)?;
    Ok(out)
}

/// [`encrypt`] into `out`, which is cleared first (its capacity is reused: no allocation once
/// it is large enough). The body is encrypted straight from `mpdu` into `out`.
pub fn encrypt_into(
    tk: &TemporalKey,
    key_id: u8,
    pn: u64,
    mpdu: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    check_seal_args(key_id, pn)?;
    let l = layout(mpdu)?;
    let (header, body) = mpdu.split_at(l.header_len);
    if body.len() > MAX_DATA_LEN {
        return Err(CryptoError::MpduTooLong { len: mpdu.len() });
    }
    out.clear();
    out.reserve(mpdu.len() + CCMP_HEADER_LEN + CCMP_MIC_LEN);
    out.extend_from_slice(header);
    if let Some(fc1) = out.get_mut(1) {
        *fc1 |= FC1_PROTECTED;
    }
    let (aad, nonce) = aad_and_nonce(out, &l, pn);
    out.extend_from_slice(&CcmpHeader { pn, key_id }.to_bytes());
    let body_start = out.len();
    out.resize(body_start + body.len() + CCMP_MIC_LEN, 0);
    let (body_out, mic) = out
        .get_mut(body_start..)
        .unwrap_or_default()
        .split_at_mut(body.len());
    let message = Message {
        nonce,
        aad,
        data: InOutBuf::new(body, body_out).map_err(|_| CryptoError::MpduTooLong { len: 0 })?,
        mic: Mic::Write(mic_mut(mic)?),
    };
    aes_ccm::process(tk.cipher(), Direction::Seal, [message], |_, _| {});
    Ok(())
}

fn mic_mut(mic: &mut [u8]) -> Result<&mut [u8; CCMP_MIC_LEN], CryptoError> {
    let have = mic.len();
    mic.try_into().map_err(|_| CryptoError::MpduTooShort {
        need: CCMP_MIC_LEN,
        have,
    })
}

/// Prepares one frame laid out for [`encrypt_in_place`]: moves the header, writes the CCMP
/// header, and returns the message to seal.
fn seal_in_place<'f>(
    key_id: u8,
    pn: u64,
    frame: &'f mut [u8],
) -> Result<Message<'f, 'f>, CryptoError> {
    check_seal_args(key_id, pn)?;
    let room = CCMP_HEADER_LEN + CCMP_MIC_LEN;
    let plain = frame
        .get(CCMP_HEADER_LEN..frame.len().saturating_sub(CCMP_MIC_LEN))
        .ok_or(CryptoError::MpduTooShort {
            need: room,
            have: frame.len(),
        })?;
    let l = layout(plain)?;
    let hl = l.header_len;
    let body_len = plain.len() - hl;
    if body_len > MAX_DATA_LEN {
        return Err(CryptoError::MpduTooLong { len: plain.len() });
    }
    frame.copy_within(CCMP_HEADER_LEN..CCMP_HEADER_LEN + hl, 0);
    if let Some(fc1) = frame.get_mut(1) {
        *fc1 |= FC1_PROTECTED;
    }
    let (aad, nonce) = aad_and_nonce(frame, &l, pn);
    let (head, rest) = frame.split_at_mut(hl + CCMP_HEADER_LEN);
    if let Some(dst) = head.get_mut(hl..) {
        dst.copy_from_slice(&CcmpHeader { pn, key_id }.to_bytes());
    }
    let (body, mic) = rest.split_at_mut(body_len);
    Ok(Message {
        nonce,
        aad,
        data: InOutBuf::from(body),
        mic: Mic::Write(mic_mut(mic)?),
    })
}

/// [`encrypt`] in the caller's buffer, without copying the body: `frame` holds
/// [`CCMP_HEADER_LEN`] spare bytes, then the plaintext MPDU, then [`CCMP_MIC_LEN`] spare bytes.
/// Afterwards the whole of `frame` is the protected MPDU (the header moved to the front, the
/// CCMP header in the gap, the body encrypted in place, the MIC at the end).
pub fn encrypt_in_place(
    tk: &TemporalKey,
    key_id: u8,
    pn: u64,
    frame: &mut [u8],
) -> Result<(), CryptoError> {
    let message = seal_in_place(key_id, pn, frame)?;
    aes_ccm::process(tk.cipher(), Direction::Seal, [message], |_, _| {});
    Ok(())
}

/// Builds a frame and encrypts it in the same buffer: `emit` appends the plaintext MPDU (about
/// `len_hint` bytes) to the vector it is given, which already holds the room
/// [`encrypt_in_place`] needs; one allocation, the body never copied.
pub fn encrypt_emitted(
    tk: &TemporalKey,
    key_id: u8,
    pn: u64,
    len_hint: usize,
    emit: impl FnOnce(&mut Vec<u8>),
) -> Result<Vec<u8>, CryptoError> {
    let mut frame = Vec::with_capacity(len_hint + CCMP_HEADER_LEN + CCMP_MIC_LEN);
    frame.resize(CCMP_HEADER_LEN, 0);
    emit(&mut frame);
    frame.resize(frame.len() + CCMP_MIC_LEN, 0);
    encrypt_in_place(tk, key_id, pn, &mut frame)?;
    Ok(frame)
}

/// [`encrypt_in_place`] for several frames under one key, their CBC-MAC chains interleaved
/// (several frames take about the time of one, up to the AES unit's throughput): frame `i`
/// gets the packet number `first_pn + i`. Fails, touching no frame, if any frame does not fit
/// the layout or a PN would pass [`PN_MAX`].
pub fn encrypt_batch<F: AsMut<[u8]>>(
    tk: &TemporalKey,
    key_id: u8,
    first_pn: u64,
    frames: &mut [F],
) -> Result<(), CryptoError> {
    // Check every frame first, so that a bad one fails the batch before any PN is used.
    for (pn, frame) in (first_pn..).zip(frames.iter_mut()) {
        check_seal_args(key_id, pn)?;
        let frame = frame.as_mut();
        let plain = frame
            .get(CCMP_HEADER_LEN..frame.len().saturating_sub(CCMP_MIC_LEN))
            .ok_or(CryptoError::MpduTooShort {
                need: CCMP_HEADER_LEN + CCMP_MIC_LEN,
                have: frame.len(),
            })?;
        let hl = layout(plain)?.header_len;
        if plain.len() - hl > MAX_DATA_LEN {
            return Err(CryptoError::MpduTooLong { len: plain.len() });
        }
    }
    let messages = (first_pn..)
        .zip(frames.iter_mut())
        .filter_map(|(pn, f)| seal_in_place(key_id, pn, f.as_mut()).ok());
    aes_ccm::process(tk.cipher(), Direction::Seal, messages, |_, _| {});
    Ok(())
}

/// A decrypted MPDU and what its CCMP header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext MPDU: the header with the protected bit cleared, then the body.
    pub mpdu: Vec<u8>,
    /// The packet number of the frame; check it with [`ReplayCounters::accept`].
    pub pn: u64,
    /// The key ID of the CCMP header.
    pub key_id: u8,
    /// The TID of a QoS data frame, 0 for other frames: the replay counter to use.
    pub tid: u8,
}

/// What the CCMP header (and QoS control) of a decrypted frame said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The packet number of the frame; check it with [`ReplayCounters::accept`].
    pub pn: u64,
    /// The key ID of the CCMP header.
    pub key_id: u8,
    /// The TID of a QoS data frame, 0 for other frames: the replay counter to use.
    pub tid: u8,
}

/// What decryption needs of a protected MPDU, checked.
struct Opening {
    layout: Layout,
    info: FrameInfo,
    aad: Aad,
    nonce: [u8; NONCE_LEN],
    mic: [u8; CCMP_MIC_LEN],
}

fn opening(mpdu: &[u8]) -> Result<Opening, CryptoError> {
    let l = layout(mpdu)?;
    if mpdu.get(1).copied().unwrap_or(0) & FC1_PROTECTED == 0 {
        return Err(CryptoError::NotProtected);
    }
    let need = l.header_len + CCMP_HEADER_LEN + CCMP_MIC_LEN;
    if mpdu.len() < need {
        return Err(CryptoError::MpduTooShort {
            need,
            have: mpdu.len(),
        });
    }
    if mpdu.len() - need > MAX_DATA_LEN {
        return Err(CryptoError::MpduTooLong { len: mpdu.len() });
    }
    let hdr = peek_header(mpdu)?;
    let header = mpdu.get(..l.header_len).unwrap_or(&[]);
    let (aad, nonce) = aad_and_nonce(header, &l, hdr.pn);
    let mut mic = [0u8; CCMP_MIC_LEN];
    if let Some(src) = mpdu.get(mpdu.len() - CCMP_MIC_LEN..) {
        mic.copy_from_slice(src);
    }
    let tid = l
        .qos_offset
        .and_then(|q| mpdu.get(q))
        .map_or(0, |b| b & 0x0f);
    Ok(Opening {
        layout: l,
        info: FrameInfo {
            pn: hdr.pn,
            key_id: hdr.key_id,
            tid,
        },
        aad,
        nonce,
        mic,
    })
}

/// Decrypts and authenticates a CCMP-128 protected MPDU (no FCS).
///
/// Fails with [`CryptoError::CcmpDecryptFailed`] if the MIC does not verify (wrong key or an
/// altered frame). This does not check for replays; see [`ReplayCounters`]. This allocates
/// the returned frame; [`decrypt_into`] reuses a buffer and [`decrypt_in_place`] works in the
/// received frame's buffer.
pub fn decrypt(tk: &TemporalKey, mpdu: &[u8]) -> Result<Decrypted, CryptoError> {
    let mut out = Vec::new();
    let info = decrypt_into(tk, mpdu, &mut out)?;
    Ok(Decrypted {
        mpdu: out,
        pn: info.pn,
        key_id: info.key_id,
        tid: info.tid,
    })
}

/// [`decrypt`] into `out` (cleared first, its capacity reused): the plaintext MPDU, the header
/// with the protected bit cleared, then the body, decrypted straight from `mpdu`. On failure
/// `out` is left empty.
pub fn decrypt_into(
    tk: &TemporalKey,
    mpdu: &[u8],
    out: &mut Vec<u8>,
) -> Result<FrameInfo, CryptoError> {
    out.clear();
    let o = opening(mpdu)?;
    let hl = o.layout.header_len;
    let body = mpdu
        .get(hl + CCMP_HEADER_LEN..mpdu.len() - CCMP_MIC_LEN)
        .unwrap_or(&[]);
    out.reserve(hl + body.len());
    out.extend_from_slice(mpdu.get(..hl).unwrap_or(&[]));
    if let Some(fc1) = out.get_mut(1) {
        *fc1 &= !FC1_PROTECTED;
    }
    out.resize(hl + body.len(), 0);
    let body_out = out.get_mut(hl..).unwrap_or_default();
    let mut authentic = false;
    let message = Message {
        nonce: o.nonce,
        aad: o.aad,
        data: InOutBuf::new(body, body_out).map_err(|_| CryptoError::CcmpDecryptFailed)?,
        mic: Mic::Check(o.mic),
    };
    aes_ccm::process(tk.cipher(), Direction::Open, [message], |_, ok| {
        authentic = ok
    });
    if !authentic {
        // Unauthenticated plaintext is never handed out.
        out.fill(0);
        out.clear();
        return Err(CryptoError::CcmpDecryptFailed);
    }
    Ok(o.info)
}

/// The message to open for a frame of [`decrypt_in_place`] (its body decrypted in place).
fn open_in_place<'f>(frame: &'f mut [u8], o: &Opening) -> Message<'f, 'f> {
    let hl = o.layout.header_len;
    let end = frame.len().saturating_sub(CCMP_MIC_LEN);
    let body = frame.get_mut(hl + CCMP_HEADER_LEN..end).unwrap_or_default();
    Message {
        nonce: o.nonce,
        aad: o.aad,
        data: InOutBuf::from(body),
        mic: Mic::Check(o.mic),
    }
}

/// After opening in place: on success, clears the protected bit and moves the header next to
/// the body; on failure, zeroes the (unauthenticated) body.
fn finish_in_place(
    frame: &mut [u8],
    o: &Opening,
    authentic: bool,
) -> Result<FrameInfo, CryptoError> {
    let hl = o.layout.header_len;
    if !authentic {
        let end = frame.len().saturating_sub(CCMP_MIC_LEN);
        if let Some(body) = frame.get_mut(hl + CCMP_HEADER_LEN..end) {
            body.fill(0);
        }
        return Err(CryptoError::CcmpDecryptFailed);
    }
    if let Some(fc1) = frame.get_mut(1) {
        *fc1 &= !FC1_PROTECTED;
    }
    frame.copy_within(..hl, CCMP_HEADER_LEN);
    Ok(o.info)
}

/// [`decrypt`] in the received frame's buffer, without copying the body. On success the
/// plaintext MPDU (header with the protected bit cleared, then the body) is
/// `frame[CCMP_HEADER_LEN..frame.len() - CCMP_MIC_LEN]`: the header is moved up to the body.
/// On a MIC failure the body is zeroed; on other errors `frame` is untouched.
pub fn decrypt_in_place(tk: &TemporalKey, frame: &mut [u8]) -> Result<FrameInfo, CryptoError> {
    let o = opening(frame)?;
    let mut authentic = false;
    aes_ccm::process(
        tk.cipher(),
        Direction::Open,
        [open_in_place(frame, &o)],
        |_, ok| authentic = ok,
    );
    finish_in_place(frame, &o, authentic)
}

/// How many frames [`decrypt_batch`] opens per call of the engine (its bookkeeping lives on the
/// stack).
const OPEN_CHUNK: usize = 16;

/// [`decrypt_in_place`] for several frames under one key, their CBC-MAC chains interleaved.
/// `done(i, result)` is called for every frame, in order, as [`decrypt_in_place`] would return
/// for it (the plaintext of a good frame `f` is `f[CCMP_HEADER_LEN..f.len() - CCMP_MIC_LEN]`).
/// The caller picks the key: every frame of a batch must be under `tk` (see [`peek_header`]).
pub fn decrypt_batch<F: AsMut<[u8]>>(
    tk: &TemporalKey,
    frames: &mut [F],
    mut done: impl FnMut(usize, Result<FrameInfo, CryptoError>),
) {
    for (c, chunk) in frames.chunks_mut(OPEN_CHUNK).enumerate() {
        let mut openings: [Option<Result<Opening, CryptoError>>; OPEN_CHUNK] = Default::default();
        for (slot, frame) in openings.iter_mut().zip(chunk.iter_mut()) {
            *slot = Some(opening(frame.as_mut()));
        }
        let mut authentic = [false; OPEN_CHUNK];
        let messages = chunk
            .iter_mut()
            .zip(openings.iter())
            .enumerate()
            .filter_map(|(i, (frame, o))| match o {
                Some(Ok(o)) => Some((i, open_in_place(frame.as_mut(), o))),
                _ => None,
            });
        // The engine numbers the messages it is given; map them back to frame indices.
        let mut index = [0usize; OPEN_CHUNK];
        let messages = messages.zip(index.iter_mut()).map(|((i, m), slot)| {
            *slot = i;
            m
        });
        let mut opened = [false; OPEN_CHUNK];
        aes_ccm::process(tk.cipher(), Direction::Open, messages, |m, ok| {
            if let Some(flag) = opened.get_mut(m) {
                *flag = ok;
            }
        });
        for (m, ok) in opened.iter().enumerate() {
            if let Some(flag) = index.get(m).and_then(|&i| authentic.get_mut(i)) {
                *flag |= *ok;
            }
        }
        for (i, (frame, o)) in chunk.iter_mut().zip(openings).enumerate() {
            let result = match o {
                Some(Ok(o)) => finish_in_place(
                    frame.as_mut(),
                    &o,
                    authentic.get(i).copied().unwrap_or(false),
                ),
                Some(Err(e)) => Err(e),
                None => continue,
            };
            done(c * OPEN_CHUNK + i, result);
        }
    }
}

/// Receive replay counters (IEEE 802.11-2020 12.5.3.4.4): one per TID (0 to 15; non-QoS data
/// uses 0). A frame is accepted only if its PN is greater than the last accepted PN of its TID.
///
/// Keep one `ReplayCounters` per key (pairwise, and each GTK), and a separate one for robust
/// management frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayCounters {
    last: [Option<u64>; 16],
}

impl ReplayCounters {
    /// Counters that accept any first PN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters that start after `rsc` on every TID, for a GTK delivered with its receive
    /// sequence counter (the RSC is the last PN used, so `rsc` itself is rejected).
    pub fn starting_after(rsc: u64) -> Self {
        Self {
            last: [Some(rsc); 16],
        }
    }

    /// Checks `pn` against the counter of `tid` without recording it.
    pub fn check(&self, tid: u8, pn: u64) -> Result<(), CryptoError> {
        let tid = tid & 0x0f;
        match self.last.get(usize::from(tid)).copied().flatten() {
            Some(last) if pn <= last => Err(CryptoError::Replay { tid, pn, last }),
            _ => Ok(()),
        }
    }

    /// Checks `pn` and, if it is fresh, records it as the last PN of `tid`. Call this only
    /// after [`decrypt`] succeeded.
    pub fn accept(&mut self, tid: u8, pn: u64) -> Result<(), CryptoError> {
        self.check(tid, pn)?;
        if let Some(slot) = self.last.get_mut(usize::from(tid & 0x0f)) {
            *slot = Some(pn);
        }
        Ok(())
    }
}

#[cfg(test)]
mod fast_path_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn tk(s: &str) -> TemporalKey {
        TemporalKey::from_bytes(hex::decode(s).unwrap().try_into().unwrap())
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    struct Vector {
        tk: &'static str,
        pn: u64,
        key_id: u8,
        plain: &'static str,
        encrypted: &'static str,
    }

    fn check(v: &Vector) {
        let key = tk(v.tk);
        let plain = h(v.plain);
        let enc = h(v.encrypted);
        assert_eq!(
            hex::encode(encrypt(&key, v.key_id, v.pn, &plain).unwrap()),
            hex::encode(&enc)
        );
        let d = decrypt(&key, &enc).unwrap();
        // The decrypted header has the protected bit cleared.
        let mut want = plain.clone();
        want[1] &= !FC1_PROTECTED;
        assert_eq!(d.mpdu, want);
        assert_eq!((d.pn, d.key_id), (v.pn, v.key_id));
    }

    /// IEEE 802.11-2020 J.6.4 (CCMP test vector; 802.11-2012 M.6.4), first published in
    /// P802.11i/D7.0 I.7.4 as "CCMP test mpdu 1": a non-QoS data frame with the retry bit set.
    /// Cross-checked against FreeBSD `sys/net80211/test/test_ccmp.c`.
    #[test]
    fn annex_j6_4_ccmp_test_vector() {
        check(&Vector {
            tk: "c97c1f67ce371185514a8a19f2bdd52f",
            pn: 0xB503_9776_E70C,
            key_id: 0,
            plain: "08 48 c3 2c 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 ab ae a5 b8 fc ba 80 33
                    f8 ba 1a 55 d0 2f 85 ae 96 7b b6 2f b6 cd a8 eb 7e 78 a0 50",
            encrypted: "08 48 c3 2c 0f d2 e1 28 a5 7c 50 30 f1 84 44 08 ab ae a5 b8 fc ba 80 33
                        0c e7 00 20 76 97 03 b5 f3 d0 a2 fe 9a 3d bf 23 42 a6 43 e4 32 46 e8 0c
                        3c 04 d0 19 78 45 ce 0b 16 f9 76 23",
        });
    }

    /// P802.11i/D7.0 I.7.4 "CCMP test mpdu 2" (via FreeBSD `test_ccmp.c`): data subtype 3
    /// (subtype bits masked in the AAD), order bit set on a non-QoS frame (kept), key ID 2.
    #[test]
    fn d7_ccmp_test_mpdu_2() {
        check(&Vector {
            tk: "8f7a053fa577a5597529272097a603d5",
            pn: 0x31F3_CBBA_97EA,
            key_id: 2,
            plain: "38 c0 6a 51 ea 10 0c 84 68 50 ee c1 76 2c 88 de af 2e e9 f4 6a 07 e0 cc
                    83 a0 63 4b 5e d7 62 7e b9 df 22 5e 05 74 03 42 de 19 41 17",
            encrypted: "38 c0 6a 51 ea 10 0c 84 68 50 ee c1 76 2c 88 de af 2e e9 f4 6a 07 e0 cc
                        ea 97 00 a0 ba cb f3 31 81 4b 69 65 d0 5b f2 b2 ed 38 d4 be b0 69 fe 82
                        71 4a 61 0b 54 2f bf 8d a0 6a a4 ae",
        });
    }

    /// P802.11i/D7.0 I.7.4 "CCMP test mpdu 6" (via FreeBSD `test_ccmp.c`): a QoS data frame
    /// from the DS with power management set, TID 13 in nonce and AAD, key ID 1.
    /// (D7.0 mpdus 3, 4, 5 and 8 set the order bit on QoS frames, which the 2020 AAD masks
    /// but D7.0 did not, so they do not apply.)
    #[test]
    fn d7_ccmp_test_mpdu_6() {
        check(&Vector {
            tk: "f71eea4e1f58804b9717230ad0614641",
            pn: 0x6B81_ECA4_8989,
            key_id: 1,
            plain: "88 52 e1 1f 5a f2 84 30 fd ab bf f9 43 b9 f9 a6 ab 1d 98 c7 fe 73 50 71 3d 6a
                    ab fd a2 2d 3a 0b fc 9c c1 fc 07 93 63 c2 fc a1 43 e6 eb 1d",
            encrypted:
                "88 52 e1 1f 5a f2 84 30 fd ab bf f9 43 b9 f9 a6 ab 1d 98 c7 fe 73 50 71 3d 6a
                        89 89 00 60 a4 ec 81 6b 9a 70 9b 60 a3 9d 40 b1 df b6 12 e1 8b 5f 11 4b
                        ad b6 cc 86 30 9a 8d 5c 46 6b bb 71",
        });
    }

    /// P802.11i/D7.0 I.7.4 "CCMP test mpdu 7" (via FreeBSD `test_ccmp.c`): to-DS data with
    /// retry, power management and more data set (all masked), key ID 3.
    #[test]
    fn d7_ccmp_test_mpdu_7() {
        check(&Vector {
            tk: "1bdb34980e038124a1db1a892bec366a",
            pn: 0x5EEC_4073_E723,
            key_id: 3,
            plain: "18 79 81 46 9b 50 f4 fd 56 f6 ef ec 95 20 16 91 83 57 0c 4c cd ee 20 a0
                    98 be ca 86 f4 b3 8d a2 0c fd f2 47 24 c5 8e b8 35 66 53 39",
            encrypted: "18 79 81 46 9b 50 f4 fd 56 f6 ef ec 95 20 16 91 83 57 0c 4c cd ee 20 a0
                        23 e7 00 e0 73 40 ec 5e 12 c5 37 eb f3 ab 58 4e f1 fe f9 a1 f3 54 7a 8c
                        13 b3 22 5a 2d 09 57 ec fa be 95 b9",
        });
    }

    #[test]
    fn four_address_qos_round_trip_and_tamper_detection() {
        let key = TemporalKey::from_bytes([9; 16]);
        // QoS data, to DS and from DS: 30-byte header with address 4, then QoS control.
        let mut mpdu = vec![0x88, 0x03];
        mpdu.extend_from_slice(&[0; 2]);
        mpdu.extend((0u8..26).collect::<Vec<_>>());
        mpdu.extend_from_slice(&[0x05, 0x00]);
        mpdu.extend_from_slice(b"payload bytes");
        assert_eq!(header_len(&mpdu).unwrap(), 32);
        let enc = encrypt(&key, 0, 77, &mpdu).unwrap();
        let d = decrypt(&key, &enc).unwrap();
        assert_eq!((d.tid, d.pn), (5, 77));
        assert_eq!(d.mpdu, mpdu);
        for i in 0..enc.len() {
            // Duration, sequence number, QoS control high octet and the CCMP header's
            // reserved and key ID octets are outside the AAD (bit 0 of each).
            let unauthenticated = matches!(i, 2 | 3 | 23 | 31 | 34 | 35);
            let mut bad = enc.clone();
            bad[i] ^= 0x01;
            if !unauthenticated {
                assert!(decrypt(&key, &bad).is_err(), "flip at {i}");
            }
        }
        let other = TemporalKey::from_bytes([8; 16]);
        assert_eq!(decrypt(&other, &enc), Err(CryptoError::CcmpDecryptFailed));
    }

    #[test]
    fn malformed_mpdus_are_errors_not_panics() {
        let key = TemporalKey::from_bytes([9; 16]);
        assert!(matches!(
            decrypt(&key, &[]),
            Err(CryptoError::MpduTooShort { .. })
        ));
        assert!(matches!(
            decrypt(&key, &[0x08, 0x40, 0]),
            Err(CryptoError::MpduTooShort { .. })
        ));
        let mut unprotected = vec![0x08, 0x00];
        unprotected.resize(24 + 16, 0);
        assert_eq!(decrypt(&key, &unprotected), Err(CryptoError::NotProtected));
        let mut no_ext_iv = vec![0x08, 0x40];
        no_ext_iv.resize(24 + 16, 0);
        assert_eq!(decrypt(&key, &no_ext_iv), Err(CryptoError::MissingExtIv));
        let mut control = vec![0xd4, 0x40];
        control.resize(40, 0);
        assert!(matches!(
            decrypt(&key, &control),
            Err(CryptoError::UnsupportedFrame { .. })
        ));
        assert_eq!(
            encrypt(&key, 0, PN_MAX + 1, &[0x08, 0, 0, 0]),
            Err(CryptoError::PnExhausted)
        );
        for len in 0..60 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37) as u8 | 0x40).collect();
            let _ = decrypt(&key, &junk);
        }
    }

    #[test]
    fn replay_counters_reject_pn_not_greater_than_last_per_tid() {
        let mut rc = ReplayCounters::new();
        rc.accept(0, 5).unwrap();
        assert_eq!(
            rc.accept(0, 5),
            Err(CryptoError::Replay {
                tid: 0,
                pn: 5,
                last: 5
            })
        );
        assert!(rc.accept(0, 4).is_err());
        rc.accept(1, 1).unwrap();
        rc.accept(0, 6).unwrap();
        let g = ReplayCounters::starting_after(10);
        assert!(g.check(3, 10).is_err());
        g.check(3, 11).unwrap();
    }
}
