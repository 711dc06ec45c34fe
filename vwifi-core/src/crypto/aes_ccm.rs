//! AES-128-CCM (RFC 3610, NIST SP 800-38C) with CCMP's parameters: an 8-byte MIC (M = 8), a
//! 2-byte length field (L = 2), a 13-byte nonce and at most [`MAX_AAD_LEN`] bytes of AAD.
//!
//! The cipher is the `aes` crate's (AES-NI when the CPU has it, detected at run time, else its
//! constant-time software AES). The work runs inside one [`BlockEncrypt::encrypt_with_backend`]
//! call, so the AES rounds are inlined into the loop instead of one dispatch per block, and each
//! step hands the backend every independent block it has:
//! - the CBC-MAC chain of a message is serial (each block needs the previous one's output), so a
//!   single message is bound by the latency of AES; its CTR keystream blocks do not depend on the
//!   chain and are encrypted in the same step, in the shadow of that latency;
//! - up to [`LANES`] messages are processed at once (each in its own lane, a lane refilled from
//!   the batch as soon as its message is done), so their chains fill the AES unit's pipeline.
//!
//! That interleaved engine takes one message and short batches; a batch of
//! [`wide::WIDE_MIN`] or more goes to the wide engine ([`wide`]), which runs each message's
//! CBC-MAC and CTR as separate passes, eight chains per call of the backend, and does such
//! batches 4 to 33 % faster (`ccmp-batch-length`, session 27).
//!
//! While every busy lane is on whole data blocks a tight loop ([`lockstep`]) takes one block of
//! each per step, with 4 lanes in one 8-block call of the backend (AES-NI interleaves their
//! rounds); a general step handles B0, the AAD, the last partial block and lanes at different
//! points. The busy lanes are kept at the front, so that fewer messages than lanes (a short
//! batch, or a batch's tail) run in a loop as narrow as they are.
//!
//! The schedule of one lane, step by step (`k` AAD blocks, `n` data blocks):
//! step 0 MACs B0 and makes the tag's keystream S0; steps 1..=k MAC the AAD; step k + 1 + j
//! encrypts data block j with counter j + 1 and (sealing) MACs its plaintext. Opening MACs
//! plaintext block j one step later, at k + 2 + j, as it is only known once decrypted.
//!
//! Reference: the `ccm` crate computes the same function; the property tests check the two agree.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser, ParBlocks};
use aes::{Aes128Enc, Block};
use subtle::ConstantTimeEq;

/// The nonce length, in bytes (15 - L).
pub(crate) const NONCE_LEN: usize = 13;
/// The MIC length, in bytes (M).
pub(crate) const TAG_LEN: usize = 8;
/// The longest message: the 2-byte length field of B0 (L = 2).
pub(crate) const MAX_DATA_LEN: usize = 0xffff;
/// The longest AAD this engine takes: 30 bytes, the longest CCMP AAD (so that the AAD's
/// 2-byte length and the AAD fill at most two blocks).
pub(crate) const MAX_AAD_LEN: usize = 30;
/// How many messages this engine processes at once, at most: the batches of fewer than
/// [`wide::WIDE_MIN`] messages (longer ones go to the wide engine). Four chains already fill the
/// pipeline of two AES units (4 MAC + 4 CTR blocks per step take one AES latency).
pub(crate) const LANES: usize = wide::WIDE_MIN - 1;

const BLOCK: usize = 16;
/// B0 flags: Adata, (M - 2) / 2 = 3 in bits 3..5, L - 1 = 1 in bits 0..2.
const B0_FLAGS: u8 = (3 << 3) | 1;
const B0_ADATA: u8 = 0x40;
/// Counter block flags: L - 1.
const CTR_FLAGS: u8 = 1;

/// Whether a message is encrypted and its MIC computed, or decrypted and its MIC checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Encrypt the data and write the MIC.
    Seal,
    /// Decrypt the data and compare its MIC with the one received.
    Open,
}

/// The AAD of one message, held by value (at most [`MAX_AAD_LEN`] bytes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Aad {
    bytes: [u8; MAX_AAD_LEN],
    len: usize,
}

impl Aad {
    /// The AAD `bytes`; `None` if longer than [`MAX_AAD_LEN`].
    #[cfg(test)]
    pub(crate) fn new(bytes: &[u8]) -> Option<Self> {
        let mut aad = Self::default();
        aad.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        aad.len = bytes.len();
        Some(aad)
    }

    /// Appends `bytes`; `None` if the AAD would grow past [`MAX_AAD_LEN`].
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len + bytes.len();
        self.bytes.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    /// The AAD's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The formatted AAD blocks (2-byte length, the AAD, zero padding) and their count, 0 to 2.
    fn blocks(&self) -> ([Block; 2], usize) {
        let mut raw = [0u8; 2 * BLOCK];
        if self.len == 0 {
            return (Default::default(), 0);
        }
        // len <= 30 always fits the 2-byte form (lengths below 0xff00).
        raw[..2].copy_from_slice(&(self.len as u16).to_be_bytes());
        // len <= MAX_AAD_LEN = 30: the AAD always fits after the length field.
        if let Some(dst) = raw.get_mut(2..2 + self.len) {
            dst.copy_from_slice(self.as_slice());
        }
        let count = (2 + self.len).div_ceil(BLOCK);
        let (a, b) = raw.split_at(BLOCK);
        (
            [Block::clone_from_slice(a), Block::clone_from_slice(b)],
            count,
        )
    }
}

/// What to do with the MIC of a message.
pub(crate) enum Mic<'o> {
    /// Sealing: write the MIC here (8 bytes).
    Write(&'o mut [u8; TAG_LEN]),
    /// Opening: the MIC received, compared in constant time with the one computed.
    Check([u8; TAG_LEN]),
}

/// One message of a batch: its nonce and AAD, the data (encrypted or decrypted from its input
/// to its output, which may be the same buffer) and its MIC.
pub(crate) struct Message<'i, 'o> {
    /// The 13-byte nonce.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// The additional authenticated data.
    pub(crate) aad: Aad,
    /// The plaintext (sealing) or ciphertext (opening) in, the other out; at most
    /// [`MAX_DATA_LEN`] bytes (longer data is cut there: callers check first).
    pub(crate) data: InOutBuf<'i, 'o, u8>,
    /// Where the MIC goes, or the MIC to check.
    pub(crate) mic: Mic<'o>,
}

/// What both engines make of a message before its first block.
struct Start<'i, 'o> {
    /// The data, cut at [`MAX_DATA_LEN`].
    data: InOutBuf<'i, 'o, u8>,
    /// B0 and the formatted AAD blocks: the MAC's first blocks.
    prefix: [Block; 3],
    /// How many of `prefix` are in use: B0 and 0 to 2 AAD blocks.
    prefix_len: usize,
    /// The counter block A_0 (A_i is A_0 + i as a big-endian number).
    a0: [u8; BLOCK],
    mic: Mic<'o>,
}

impl<'i, 'o> Message<'i, 'o> {
    /// The message's data, MAC prefix and first counter block.
    fn start(self) -> Start<'i, 'o> {
        let len = self.data.len().min(MAX_DATA_LEN);
        let data = self.data.split_at(len).0;
        let (aad, aad_blocks) = self.aad.blocks();
        // Built as arrays: their constant indices are checked at compile time.
        let mut b0 = [0u8; BLOCK];
        b0[0] = B0_FLAGS | if aad_blocks > 0 { B0_ADATA } else { 0 };
        b0[1..14].copy_from_slice(&self.nonce);
        b0[14..].copy_from_slice(&(len as u16).to_be_bytes());
        let mut a0 = [0u8; BLOCK];
        a0[0] = CTR_FLAGS;
        a0[1..14].copy_from_slice(&self.nonce);
        let [a1, a2] = aad;
        Start {
            data,
            prefix: [Block::from(b0), a1, a2],
            prefix_len: 1 + aad_blocks,
            a0,
            mic: self.mic,
        }
    }
}

/// Seals or opens every message of `messages`: a batch of up to [`LANES`] in this module's
/// interleaved engine, a longer one in the wide engine ([`wide`]). `done(i, authentic)`
/// is called once for the `i`-th message when it is finished (in any order): `authentic` is
/// always true when sealing, and whether the MIC matched when opening. A message whose MIC did
/// not match has its output filled with unauthenticated plaintext: the caller must discard it.
pub(crate) fn process<'i, 'o, I, F>(cipher: &Aes128Enc, direction: Direction, messages: I, done: F)
where
    I: IntoIterator<Item = Message<'i, 'o>>,
    F: FnMut(usize, bool),
{
    let messages = messages.into_iter();
    let most = messages.size_hint().1;
    let messages = messages.enumerate();
    // By the most messages there may be (callers filter out the frames they refuse). As few
    // lanes as the batch needs: every step of the general case, the refill and the compaction
    // go over all the lanes (one message runs in a job of one lane).
    match most {
        Some(1) => cipher.encrypt_with_backend(Job::<_, _, 1> {
            direction,
            messages,
            done,
        }),
        Some(n) if n <= LANES => cipher.encrypt_with_backend(Job::<_, _, LANES> {
            direction,
            messages,
            done,
        }),
        _ => cipher.encrypt_with_backend(wide::Wide {
            direction,
            messages,
            done,
        }),
    }
}

/// The work handed to the AES backend: `N` lanes.
struct Job<I, F, const N: usize> {
    direction: Direction,
    messages: I,
    done: F,
}

impl<I, F, const N: usize> BlockSizeUser for Job<I, F, N> {
    type BlockSize = U16;
}

impl<'i, 'o, I, F, const N: usize> BlockClosure for Job<I, F, N>
where
    I: Iterator<Item = (usize, Message<'i, 'o>)>,
    F: FnMut(usize, bool),
{
    // Inlined into the backend's `#[target_feature(enable = "aes")]` entry point, so that the
    // AES rounds below are inlined too. Most steps run in `lockstep`, whose running MACs are
    // locals that stay in registers (the CBC-MAC chain is the critical path); the general step
    // below only covers the few steps at a frame's start and end.
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(mut self, backend: &mut B) {
        let mut lanes: [Option<Lane<'i, 'o>>; N] = core::array::from_fn(|_| None);
        let mut macs = [Block::default(); N];
        let mut more = true;
        loop {
            if more {
                more = refill(&mut lanes, &mut macs, &mut self.messages, |index, m| {
                    Lane::new(index, m, self.direction)
                });
            }
            // Every busy lane at its start: B0, A0 and the AAD; every busy lane on whole data
            // blocks: the tight loop. Then retire the lanes that are done.
            let started = prefix(backend, &mut lanes, &mut macs);
            let stepped = match self.direction {
                Direction::Seal => lockstep_busy::<B, N, false>(backend, &mut lanes, &mut macs),
                Direction::Open => lockstep_busy::<B, N, true>(backend, &mut lanes, &mut macs),
            };
            if started || stepped {
                for (slot, mac) in lanes.iter_mut().zip(macs.iter()) {
                    if slot.as_ref().is_some_and(|lane| lane.step >= lane.steps) {
                        if let Some(lane) = slot.take() {
                            let (index, authentic) = lane.finish(mac);
                            (self.done)(index, authentic);
                        }
                    }
                }
                compact(&mut lanes, &mut macs);
                continue;
            }
            // One step of the general case (B0, AAD, the last partial block, lanes at
            // different points): the MAC inputs (mac ^ block) first, then the counters.
            let mut mac_blocks = [Block::default(); N];
            let mut ctr_blocks = [Block::default(); N];
            let mut uses = [(false, false); N];
            let mut any = false;
            for (((slot, mac), (mac_block, ctr_block)), used) in lanes
                .iter_mut()
                .zip(macs.iter())
                .zip(mac_blocks.iter_mut().zip(ctr_blocks.iter_mut()))
                .zip(uses.iter_mut())
            {
                if let Some(lane) = slot {
                    let (input, counter) = lane.inputs();
                    if let Some(input) = input {
                        *mac_block = xor(*mac, input);
                    }
                    if let Some(counter) = counter {
                        *ctr_block = counter;
                    }
                    *used = (input.is_some(), counter.is_some());
                    any = true;
                }
            }
            if !any {
                break;
            }
            // Only the blocks in use: with many lanes the idle ones' blocks would cost more
            // AES throughput than the busy ones' latency leaves free.
            for ((mac_block, ctr_block), &(mac_used, ctr_used)) in mac_blocks
                .iter_mut()
                .zip(ctr_blocks.iter_mut())
                .zip(uses.iter())
            {
                if mac_used {
                    backend.proc_block(mac_block.into());
                }
                if ctr_used {
                    backend.proc_block(ctr_block.into());
                }
            }
            for (((slot, mac), (mac_block, ctr_block)), &(mac_used, ctr_used)) in lanes
                .iter_mut()
                .zip(macs.iter_mut())
                .zip(mac_blocks.iter().zip(ctr_blocks.iter()))
                .zip(uses.iter())
            {
                let Some(lane) = slot else { continue };
                if mac_used {
                    *mac = *mac_block;
                }
                if ctr_used {
                    lane.keystream(ctr_block);
                }
                if lane.advance() {
                    if let Some(lane) = slot.take() {
                        let (index, authentic) = lane.finish(mac);
                        (self.done)(index, authentic);
                    }
                }
            }
            compact(&mut lanes, &mut macs);
        }
    }
}

/// Fills the empty lanes with the next messages (`start` makes a lane of one), each with a
/// zero MAC. Returns false once `messages` has run out.
#[inline(always)]
fn refill<'i, 'o, T>(
    lanes: &mut [Option<T>],
    macs: &mut [Block],
    messages: &mut impl Iterator<Item = (usize, Message<'i, 'o>)>,
    mut start: impl FnMut(usize, Message<'i, 'o>) -> T,
) -> bool {
    for (slot, mac) in lanes.iter_mut().zip(macs.iter_mut()) {
        if slot.is_none() {
            let Some((index, message)) = messages.next() else {
                return false;
            };
            *slot = Some(start(index, message));
            *mac = Block::default();
        }
    }
    true
}

/// Moves the busy lanes (and their running MACs) to the front, keeping their order, so that
/// the first `k` lanes are the `k` busy ones.
#[inline(always)]
fn compact<T, const N: usize>(lanes: &mut [Option<T>; N], macs: &mut [Block; N]) {
    let mut front = 0;
    for i in 0..N {
        if lanes.get(i).is_some_and(Option::is_some) {
            if i != front {
                lanes.swap(front, i);
                macs.swap(front, i);
            }
            front += 1;
        }
    }
}

/// [`lockstep`] over the busy lanes only (they are at the front, see [`compact`]), in a loop as
/// wide as they are (three run in one of four, whose idle lane costs no time: four lanes are
/// bound by the latency of AES, not by its throughput).
#[inline(always)]
fn lockstep_busy<B: BlockBackend<BlockSize = U16>, const N: usize, const OPEN: bool>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; N],
    macs: &mut [Block; N],
) -> bool {
    match lanes.iter().take_while(|lane| lane.is_some()).count() {
        0 => false,
        1 => lockstep_first::<B, 1, OPEN>(backend, lanes, macs),
        2 => lockstep_first::<B, 2, OPEN>(backend, lanes, macs),
        _ => lockstep_first::<B, 4, OPEN>(backend, lanes, macs),
    }
}

/// [`lockstep`] over the first `K` of `lanes`; false if there are fewer than `K`.
#[inline(always)]
fn lockstep_first<B, const K: usize, const OPEN: bool>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>],
    macs: &mut [Block],
) -> bool
where
    B: BlockBackend<BlockSize = U16>,
{
    match (lanes.first_chunk_mut::<K>(), macs.first_chunk_mut::<K>()) {
        (Some(lanes), Some(macs)) => lockstep::<B, K, OPEN>(backend, lanes, macs),
        _ => false,
    }
}

/// The first steps of every busy lane, when all are at their start with the same AAD length
/// (one frame alone, or a batch's first frames): B0 with A0, then the AAD blocks, the MACs kept
/// in registers. Returns false, doing nothing, otherwise (the general step does the same work).
#[inline(always)]
fn prefix<B: BlockBackend<BlockSize = U16>, const N: usize>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; N],
    macs: &mut [Block; N],
) -> bool {
    let mut len = None;
    for lane in lanes.iter() {
        match lane {
            Some(l) if l.step == 0 && len.is_none_or(|n| n == l.prefix_len) => {
                len = Some(l.prefix_len)
            }
            Some(_) => return false,
            None => {}
        }
    }
    let Some(len) = len else { return false };
    let mut mac = [Block::default(); N];
    let mut s0 = [Block::default(); N];
    for t in 0..len {
        for ((slot, mac), s0) in lanes.iter().zip(mac.iter_mut()).zip(s0.iter_mut()) {
            if let Some(lane) = slot {
                *mac = xor(*mac, lane.prefix.get(t).copied().unwrap_or_default());
                if t == 0 {
                    *s0 = lane.counter_block(0);
                }
            }
        }
        for ((mac, s0), slot) in mac.iter_mut().zip(s0.iter_mut()).zip(lanes.iter()) {
            if slot.is_some() {
                backend.proc_block(mac.into());
                if t == 0 {
                    backend.proc_block(s0.into());
                }
            }
        }
    }
    *macs = mac;
    for (slot, s0) in lanes.iter_mut().zip(s0) {
        if let Some(lane) = slot {
            lane.s0 = s0;
            lane.step = len;
        }
    }
    true
}

/// The steady state, while every busy lane has whole data blocks left: `direction` is the same
/// for all lanes, each step takes one whole block from each, all their AES blocks are processed
/// together (four lanes' in one 8-block call of the AES-NI backend, their rounds interleaved;
/// other widths block by block), and the code is straight-line per lane. An idle lane (`None`:
/// the fourth when three are busy) runs along on zero blocks, its results dropped. Returns
/// false, doing nothing, if no lane is busy or some busy lane is not at a whole data block.
#[inline(always)]
fn lockstep<B: BlockBackend<BlockSize = U16>, const N: usize, const OPEN: bool>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; N],
    macs: &mut [Block; N],
) -> bool {
    let mut steps = usize::MAX;
    for lane in lanes.iter().flatten() {
        steps = steps.min(lane.whole_steps());
    }
    if steps == 0 || steps == usize::MAX {
        return false;
    }
    // Four lanes (ParBlocksSize = 2N): the step's blocks in one call of the backend.
    let par = <B::ParBlocksSize as Unsigned>::USIZE == 2 * N;
    // Locals for the loop, so that they live in registers.
    let mut mac = *macs;
    let mut pending = [Block::default(); N];
    let mut first = [0usize; N];
    for ((slot, pending), first) in lanes.iter().zip(pending.iter_mut()).zip(first.iter_mut()) {
        if let Some(lane) = slot {
            *pending = lane.pending;
            *first = lane.step - lane.prefix_len;
        }
    }
    for j in 0..steps {
        let mut mac_in = [Block::default(); N];
        let mut ks = [Block::default(); N];
        // By lane number with `get` (l < N: the checks fold away), not a zip of the six
        // arrays: that zip measured 1.5x the time per frame with one lane (encrypt-into).
        for l in 0..N {
            let (Some(Some(lane)), Some(mac), Some(pending), Some(first), Some(mac_in), Some(ks)) = (
                lanes.get(l),
                mac.get(l),
                pending.get(l),
                first.get(l),
                mac_in.get_mut(l),
                ks.get_mut(l),
            ) else {
                continue;
            };
            let input = if OPEN {
                *pending
            } else {
                lane.whole_block_in(first + j)
            };
            *mac_in = xor(*mac, input);
            *ks = lane.counter_block(first + j + 1);
        }
        if par {
            // ParBlocksSize = 2N here: the MAC inputs in the first half, the counter blocks in
            // the second (the splits are known to succeed at compile time).
            let mut blocks = ParBlocks::<B>::default();
            if let Some((macs_in, counters)) = blocks.split_at_mut_checked(N) {
                for ((dst_mac, dst_ctr), (mac_in, ks)) in macs_in
                    .iter_mut()
                    .zip(counters.iter_mut())
                    .zip(mac_in.iter().zip(ks.iter()))
                {
                    *dst_mac = *mac_in;
                    *dst_ctr = *ks;
                }
            }
            backend.proc_par_blocks_inplace(&mut blocks);
            if let Some((macs_out, keystream)) = blocks.split_at_checked(N) {
                for ((src_mac, src_ks), (mac_in, ks)) in macs_out
                    .iter()
                    .zip(keystream.iter())
                    .zip(mac_in.iter_mut().zip(ks.iter_mut()))
                {
                    *mac_in = *src_mac;
                    *ks = *src_ks;
                }
            }
        } else {
            for (mac_in, ks) in mac_in.iter_mut().zip(ks.iter_mut()) {
                backend.proc_block(mac_in.into());
                backend.proc_block(ks.into());
            }
        }
        // Every keystream block is needed only where its lane is busy, and without this the
        // compiler moved each one's AES into its lane's branch below: one block after the
        // other, each waiting out the latency of AES, instead of all at once (perf annotate of
        // the WPA2 e2e run, session 26). The barrier keeps them computed here, together.
        let ks = core::hint::black_box(ks);
        for ((slot, (mac, pending)), (first, (mac_in, ks))) in lanes
            .iter_mut()
            .zip(mac.iter_mut().zip(pending.iter_mut()))
            .zip(first.iter().zip(mac_in.iter().zip(ks.iter())))
        {
            *mac = *mac_in;
            if let Some(lane) = slot {
                // The input read again rather than kept: fewer live values (sealing in place,
                // it is not overwritten before this).
                let out = xor(lane.whole_block_in(first + j), *ks);
                lane.write_whole_block(first + j, &out);
                if OPEN {
                    *pending = out;
                }
            }
        }
    }
    *macs = mac;
    for (slot, pending) in lanes.iter_mut().zip(pending) {
        if let Some(lane) = slot {
            lane.pending = pending;
            lane.step += steps;
        }
    }
    true
}

/// The state of one message in flight (its running MAC lives in the job's `macs`).
struct Lane<'i, 'o> {
    index: usize,
    direction: Direction,
    /// B0 and the AAD blocks: the MAC's first blocks.
    prefix: [Block; 3],
    prefix_len: usize,
    /// The counter block A_0 as a big-endian number: A_i is `counter + i`.
    counter: u128,
    data: InOutBuf<'i, 'o, u8>,
    data_blocks: usize,
    /// The input of the data block of this step, zero-padded.
    current: Block,
    /// Opening: the plaintext block decrypted in the previous step, zero-padded, to MAC now.
    pending: Block,
    /// E(A_0), which masks the MIC.
    s0: Block,
    mic: Mic<'o>,
    step: usize,
    steps: usize,
}

impl<'i, 'o> Lane<'i, 'o> {
    fn new(index: usize, m: Message<'i, 'o>, direction: Direction) -> Self {
        let Start {
            data,
            prefix,
            prefix_len,
            a0,
            mic,
        } = m.start();
        let data_blocks = data.len().div_ceil(BLOCK);
        let lag = usize::from(direction == Direction::Open && data_blocks > 0);
        Self {
            index,
            direction,
            prefix,
            prefix_len,
            counter: u128::from_be_bytes(a0),
            data,
            data_blocks,
            current: Block::default(),
            pending: Block::default(),
            s0: Block::default(),
            mic,
            step: 0,
            steps: prefix_len + data_blocks + lag,
        }
    }

    /// How many steps from here take one whole data block each with nothing else (see
    /// [`lockstep`]): 0 before the data (and, opening, at its first block, which has no MAC).
    #[inline(always)]
    fn whole_steps(&self) -> usize {
        let first = self.prefix_len + usize::from(self.direction == Direction::Open);
        if self.step < first {
            return 0;
        }
        (self.data.len() / BLOCK).saturating_sub(self.step - self.prefix_len)
    }

    /// Data block `j`, which must be whole.
    #[inline(always)]
    fn whole_block_in(&self, j: usize) -> Block {
        let start = j * BLOCK;
        self.data
            .get_in()
            .get(start..start + BLOCK)
            .map(Block::clone_from_slice)
            .unwrap_or_default()
    }

    /// Writes data block `j`, which must be whole.
    #[inline(always)]
    fn write_whole_block(&mut self, j: usize, out: &Block) {
        let start = j * BLOCK;
        let dst = self
            .data
            .get_out()
            .get_mut(start..start + BLOCK)
            .and_then(|d| <&mut [u8; BLOCK]>::try_from(d).ok());
        if let Some(dst) = dst {
            *dst = (*out).into();
        }
    }

    /// The counter block A_i.
    #[inline(always)]
    fn counter_block(&self, i: usize) -> Block {
        // At most 4096 data blocks: the counter stays within its 2 bytes.
        Block::from((self.counter + i as u128).to_be_bytes())
    }

    /// This step's MAC input and counter block, if any.
    #[inline(always)]
    fn inputs(&mut self) -> (Option<Block>, Option<Block>) {
        let t = self.step;
        // The counter: A_0 at step 0, A_{j+1} for data block j at step prefix_len + j.
        let j = t.wrapping_sub(self.prefix_len);
        let counter = if t == 0 {
            Some(0)
        } else if j < self.data_blocks {
            let start = j * BLOCK;
            let input = self.data.get_in();
            // Whole blocks as one 16-byte load (a copy of a run-time length is a call).
            self.current = match input.get(start..start + BLOCK) {
                Some(whole) => Block::clone_from_slice(whole),
                None => padded(input.get(start..).unwrap_or(&[])),
            };
            Some(j + 1)
        } else {
            None
        };
        let input = if t < self.prefix_len {
            self.prefix.get(t).copied()
        } else {
            match self.direction {
                Direction::Seal => Some(self.current),
                // Plaintext block j - 1, decrypted in the previous step.
                Direction::Open => (t > self.prefix_len).then_some(self.pending),
            }
        };
        let counter = counter.map(|i| self.counter_block(i));
        (input, counter)
    }

    /// Uses this step's keystream block.
    #[inline(always)]
    fn keystream(&mut self, ks: &Block) {
        let j = self.step.wrapping_sub(self.prefix_len);
        if self.step == 0 {
            self.s0 = *ks;
        } else if j < self.data_blocks {
            let mut out = xor(self.current, *ks);
            let start = j * BLOCK;
            let data = self.data.get_out();
            let whole = data
                .get_mut(start..start + BLOCK)
                .and_then(|d| <&mut [u8; BLOCK]>::try_from(d).ok());
            if let Some(dst) = whole {
                *dst = out.into();
            } else {
                // The last, partial block: only its bytes are kept (and MACed when opening).
                let tail = data.get_mut(start..).unwrap_or_default();
                let len = tail.len();
                tail.copy_from_slice(out.get(..len).unwrap_or_default());
                out = padded(tail);
            }
            if self.direction == Direction::Open {
                self.pending = out;
            }
        }
    }

    /// Ends the step; true when the message is done.
    #[inline(always)]
    fn advance(&mut self) -> bool {
        self.step += 1;
        self.step >= self.steps
    }

    /// The message's index and whether it is authentic (always true when sealing).
    fn finish(self, mac: &Block) -> (usize, bool) {
        finish_mic(self.index, self.mic, mac, &self.s0)
    }
}

/// The end of message `index`: its MIC (the CBC-MAC `mac` masked with `s0`) written or checked.
/// Returns the index and whether the message is authentic (always true when sealing).
fn finish_mic(index: usize, mic: Mic<'_>, mac: &Block, s0: &Block) -> (usize, bool) {
    let tag = xor(*mac, *s0);
    let tag = tag.get(..TAG_LEN).unwrap_or(&[]);
    let authentic = match mic {
        Mic::Write(out) => {
            out.copy_from_slice(tag);
            true
        }
        Mic::Check(expected) => bool::from(expected.ct_eq(tag)),
    };
    (index, authentic)
}

#[inline(always)]
fn xor(a: Block, b: Block) -> Block {
    // Byte by byte on values: compiled to one vector XOR in registers.
    // (`get` on a constant-length array at an index below it: no check is left.)
    let (a, b): ([u8; BLOCK], [u8; BLOCK]) = (a.into(), b.into());
    Block::from(core::array::from_fn::<u8, BLOCK, _>(|i| {
        a.get(i).zip(b.get(i)).map_or(0, |(a, b)| a ^ b)
    }))
}

/// Up to 16 bytes, zero-padded to a block.
#[inline(always)]
fn padded(bytes: &[u8]) -> Block {
    let mut b = Block::default();
    if let Some(dst) = b.get_mut(..bytes.len()) {
        dst.copy_from_slice(bytes);
    }
    b
}

#[cfg(test)]
mod tests;
mod wide;
