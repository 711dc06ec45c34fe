//! The engine for batches of [`WIDE_MIN`] messages or more: each message's CBC-MAC and its CTR
//! run as two separate passes, each bound by the throughput of AES rather than its latency.
//!
//! - **MAC**: the chains of [`WIDTH`] messages side by side, one block of each per step, the
//!   eight blocks in one call of the backend (AES-NI interleaves their rounds). Eight chains
//!   cover the latency of AES with the throughput of two AES units, and the step has no counter
//!   or keystream bookkeeping: a load and an XOR per lane. A lane whose message is done takes
//!   the batch's next message at once.
//! - **CTR**: the keystream of one whole message, eight counter blocks per call, XORed into its
//!   data as it comes: no chain at all.
//!
//! Sealing MACs the plaintext first and encrypts it once its MAC is done (so that sealing in
//! place reads the plaintext before overwriting it); opening decrypts a message when it enters
//! a lane and MACs the plaintext it wrote. The data of a message is read twice, the second time
//! while it is still in the cache.
//!
//! Why not for every batch: one message alone has a single chain, which waits out the latency
//! of AES at every block whatever the pass does; the interleaved engine of the parent module
//! hides the message's CTR blocks in that wait and does one message 15-20 % faster.
//! Measured with a stand-alone loop (session 27, this module's design): eight chains side by
//! side MAC at about 5.4 GB/s and CTR runs at about 4.8 GB/s, where the interleaved engine
//! seals a batch of eight at about 1.5 GB/s.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{BlockBackend, BlockClosure, BlockSizeUser, ParBlocks};
use aes::Block;

use super::{padded, xor, Direction, Message, B0_ADATA, B0_FLAGS, BLOCK, CTR_FLAGS, MAX_DATA_LEN};

/// The fewest messages that go to this engine rather than the interleaved one (see the module
/// comment). The `ccmp-batch-length` bench (A-MSDU bodies, session 27), this engine against the
/// interleaved one, MB/s sealing: 2 messages 1 157 against 1 630, 4: 1 662 against 1 963,
/// 5: 1 907 against 1 791, 8: 2 387 against 1 989, 16: 2 402 against 1 954, 25: 2 183 against
/// 1 917 (opening alike). Below five, the interleaved engine hides each message's CTR in its
/// chains' latency, which two to four chains side by side leave mostly idle.
pub(super) const WIDE_MIN: usize = 5;

/// How many MAC chains run side by side: the AES-NI backend's eight blocks per call.
pub(super) const WIDTH: usize = 8;

/// The work handed to the AES backend.
pub(super) struct Wide<I, F> {
    pub(super) direction: Direction,
    pub(super) messages: I,
    pub(super) done: F,
}

impl<I, F> BlockSizeUser for Wide<I, F> {
    type BlockSize = U16;
}

impl<'i, 'o, I, F> BlockClosure for Wide<I, F>
where
    I: Iterator<Item = (usize, Message<'i, 'o>)>,
    F: FnMut(usize, bool),
{
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(mut self, backend: &mut B) {
        let mut lanes: [Option<Lane<'i, 'o>>; WIDTH] = core::array::from_fn(|_| None);
        let mut macs = [Block::default(); WIDTH];
        let mut more = true;
        loop {
            if more {
                for (slot, mac) in lanes.iter_mut().zip(macs.iter_mut()) {
                    if slot.is_some() {
                        continue;
                    }
                    let Some((index, message)) = self.messages.next() else {
                        more = false;
                        break;
                    };
                    let mut lane = Lane::new(index, message, self.direction);
                    if self.direction == Direction::Open {
                        lane.s0 = ctr(backend, &lane.a0, lane.data.reborrow());
                    }
                    *slot = Some(lane);
                    *mac = Block::default();
                }
            }
            match lanes.iter().flatten().map(Lane::whole_steps).min() {
                None => break,
                Some(0) => general_step(backend, &mut lanes, &mut macs),
                Some(steps) => lockstep(backend, &mut lanes, &mut macs, steps),
            }
            for (slot, mac) in lanes.iter_mut().zip(macs.iter()) {
                if !slot.as_ref().is_some_and(Lane::is_done) {
                    continue;
                }
                if let Some(mut lane) = slot.take() {
                    if lane.direction == Direction::Seal {
                        lane.s0 = ctr(backend, &lane.a0, lane.data.reborrow());
                    }
                    let (index, authentic) = lane.finish(mac);
                    (self.done)(index, authentic);
                }
            }
        }
    }
}

/// Encrypts (or decrypts) `blocks`, each in place: in one call of the backend when it takes
/// [`WIDTH`] blocks at once (AES-NI), else block by block.
#[inline(always)]
fn encrypt_blocks<B: BlockBackend<BlockSize = U16>>(backend: &mut B, blocks: &mut [Block; WIDTH]) {
    if <B::ParBlocksSize as Unsigned>::USIZE == WIDTH {
        let mut par = ParBlocks::<B>::default();
        for (dst, src) in par.iter_mut().zip(blocks.iter()) {
            *dst = *src;
        }
        backend.proc_par_blocks_inplace(&mut par);
        for (dst, src) in blocks.iter_mut().zip(par.iter()) {
            *dst = *src;
        }
    } else {
        for block in blocks.iter_mut() {
            backend.proc_block(block.into());
        }
    }
}

/// `steps` steps of every lane's MAC, each of which has at least that many whole data blocks
/// left: the tight loop, one block of each lane per step. An idle lane runs along on zero
/// blocks, its MAC dropped (a refilled lane starts from zero).
#[inline(always)]
fn lockstep<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; WIDTH],
    macs: &mut [Block; WIDTH],
    steps: usize,
) {
    let mut mac = *macs;
    {
        // Each lane's next `steps` data blocks (empty for an idle lane).
        let sources: [&[u8]; WIDTH] = {
            let mut it = lanes.iter_mut();
            core::array::from_fn(|_| match it.next() {
                Some(Some(lane)) => lane.next_whole_blocks(steps),
                _ => &[],
            })
        };
        for j in 0..steps {
            let mut blocks = [Block::default(); WIDTH];
            for ((block, mac), source) in blocks.iter_mut().zip(mac.iter()).zip(sources.iter()) {
                let input = source
                    .get(j * BLOCK..(j + 1) * BLOCK)
                    .map(Block::clone_from_slice)
                    .unwrap_or_default();
                *block = xor(*mac, input);
            }
            encrypt_blocks(backend, &mut blocks);
            mac = blocks;
        }
    }
    *macs = mac;
    for lane in lanes.iter_mut().flatten() {
        lane.pos += steps;
    }
}

/// One step of every busy lane's MAC, whatever its block: B0, the AAD, a whole data block or
/// the last, partial one.
#[inline(always)]
fn general_step<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; WIDTH],
    macs: &mut [Block; WIDTH],
) {
    let mut blocks = [Block::default(); WIDTH];
    for ((block, mac), slot) in blocks.iter_mut().zip(macs.iter()).zip(lanes.iter_mut()) {
        if let Some(lane) = slot {
            *block = xor(*mac, lane.mac_input());
            lane.pos += 1;
        }
    }
    encrypt_blocks(backend, &mut blocks);
    *macs = blocks;
}

/// CTR over one message's data, from its input to its output (counters A_1, A_2, ...), the
/// backend's parallel blocks at a time. Returns S_0 = E(A_0), which masks the MIC.
#[inline(always)]
fn ctr<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    a0: &[u8; BLOCK],
    data: InOutBuf<'_, '_, u8>,
) -> Block {
    // At most 4096 data blocks: the counter stays within its 2 bytes.
    let base = u128::from_be_bytes(*a0);
    let counter = |i: usize| Block::from((base + i as u128).to_be_bytes());
    let mut s0 = counter(0);
    backend.proc_block((&mut s0).into());
    let (blocks, mut tail) = data.into_chunks::<U16>();
    let (groups, rest) = blocks.into_chunks::<B::ParBlocksSize>();
    let mut i = 1;
    for mut group in groups {
        let mut keystream = ParBlocks::<B>::default();
        for ks in keystream.iter_mut() {
            *ks = counter(i);
            i += 1;
        }
        backend.proc_par_blocks_inplace(&mut keystream);
        group.xor_in2out(&keystream);
    }
    for mut block in rest {
        let mut ks = counter(i);
        i += 1;
        backend.proc_block((&mut ks).into());
        block.xor_in2out(&ks);
    }
    if !tail.is_empty() {
        let mut ks = counter(i);
        backend.proc_block((&mut ks).into());
        tail.xor_in2out(ks.get(..tail.len()).unwrap_or_default());
    }
    s0
}

/// The state of one message in a lane (its running MAC lives in the job's `macs`).
struct Lane<'i, 'o> {
    index: usize,
    direction: Direction,
    /// B0 and the AAD blocks: the MAC's first blocks.
    prefix: [Block; 3],
    prefix_len: usize,
    /// The counter block A_0.
    a0: [u8; BLOCK],
    data: InOutBuf<'i, 'o, u8>,
    /// E(A_0), which masks the MIC (known once the message's CTR pass has run).
    s0: Block,
    mic: super::Mic<'o>,
    /// How many blocks the MAC has taken.
    pos: usize,
    /// How many blocks the MAC takes in all: the prefix and the data blocks.
    total: usize,
}

impl<'i, 'o> Lane<'i, 'o> {
    fn new(index: usize, m: Message<'i, 'o>, direction: Direction) -> Self {
        let len = m.data.len().min(MAX_DATA_LEN);
        let data = m.data.split_at(len).0;
        let (aad, aad_blocks) = m.aad.blocks();
        let mut b0 = [0u8; BLOCK];
        b0[0] = B0_FLAGS | if aad_blocks > 0 { B0_ADATA } else { 0 };
        b0[1..14].copy_from_slice(&m.nonce);
        b0[14..].copy_from_slice(&(len as u16).to_be_bytes());
        let mut a0 = [0u8; BLOCK];
        a0[0] = CTR_FLAGS;
        a0[1..14].copy_from_slice(&m.nonce);
        let [a1, a2] = aad;
        let prefix_len = 1 + aad_blocks;
        Self {
            index,
            direction,
            prefix: [Block::from(b0), a1, a2],
            prefix_len,
            a0,
            data,
            s0: Block::default(),
            mic: m.mic,
            pos: 0,
            total: prefix_len + len.div_ceil(BLOCK),
        }
    }

    fn is_done(&self) -> bool {
        self.pos >= self.total
    }

    /// The bytes the MAC covers: the input when sealing, the decrypted output when opening.
    #[inline(always)]
    fn plaintext(&mut self) -> &[u8] {
        match self.direction {
            Direction::Seal => self.data.get_in(),
            Direction::Open => self.data.get_out(),
        }
    }

    /// How many of the next MAC steps take a whole data block each: 0 in the prefix and at a
    /// last, partial block.
    #[inline(always)]
    fn whole_steps(&self) -> usize {
        match self.pos.checked_sub(self.prefix_len) {
            Some(j) => (self.data.len() / BLOCK).saturating_sub(j),
            None => 0,
        }
    }

    /// The bytes of the next `steps` whole data blocks (at most [`Self::whole_steps`]).
    #[inline(always)]
    fn next_whole_blocks(&mut self, steps: usize) -> &[u8] {
        let start = self.pos.saturating_sub(self.prefix_len) * BLOCK;
        self.plaintext()
            .get(start..start + steps * BLOCK)
            .unwrap_or_default()
    }

    /// This step's MAC input block.
    #[inline(always)]
    fn mac_input(&mut self) -> Block {
        let pos = self.pos;
        match pos.checked_sub(self.prefix_len) {
            None => self.prefix.get(pos).copied().unwrap_or_default(),
            Some(j) => {
                let start = j * BLOCK;
                let data = self.plaintext();
                match data.get(start..start + BLOCK) {
                    Some(whole) => Block::clone_from_slice(whole),
                    None => padded(data.get(start..).unwrap_or_default()),
                }
            }
        }
    }

    /// The message's index and whether it is authentic (always true when sealing).
    fn finish(self, mac: &Block) -> (usize, bool) {
        super::finish_mic(self.index, self.mic, mac, &self.s0)
    }
}
