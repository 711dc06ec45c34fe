//! The engine for batches of [`WIDE_MIN`] messages or more: each message's CBC-MAC and its CTR
//! run as two separate passes, each bound by the throughput of AES rather than its latency.
//!
//! - **MAC**: the chains of up to [`WIDTH`] messages side by side, one block of each per step,
//!   eight blocks per call of the backend (AES-NI interleaves their rounds). Eight chains
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
//! of AES at every block whatever the pass does, and two to four leave the AES units mostly
//! idle too; the interleaved engine of the parent module hides the messages' CTR blocks in that
//! wait (a batch of two 40 % faster than here, of four 18 %: see [`WIDE_MIN`]).
//! Measured with a stand-alone loop (session 27, this module's design): eight chains side by
//! side MAC at about 5.4 GB/s and CTR runs at about 4.8 GB/s, where the interleaved engine
//! seals a batch of eight at about 1.5 GB/s.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{BlockBackend, BlockClosure, BlockSizeUser, ParBlocks};
use aes::Block;

use super::{compact, padded, refill, xor, Direction, Message, BLOCK};

/// The fewest messages that go to this engine rather than the interleaved one (see the module
/// comment). The `ccmp-batch-length` bench (A-MSDU bodies, session 27), this engine against the
/// interleaved one, MB/s sealing: 2 messages 1 157 against 1 630, 4: 1 662 against 1 963,
/// 5: 1 907 against 1 791, 8: 2 387 against 1 989, 16: 2 402 against 1 954, 25: 2 183 against
/// 1 917 (opening alike). Below five, the interleaved engine hides each message's CTR in its
/// chains' latency, which two to four chains side by side leave mostly idle.
pub(super) const WIDE_MIN: usize = 5;

/// Blocks per call of the backend: AES-NI's eight. Eight chains side by side keep the two AES
/// units busy: each step's blocks take about one latency of AES to get through.
pub(super) const GROUP: usize = 8;

/// How many messages are in lanes at once, at most: the whole of the batches the data path
/// makes (up to 25 A-MSDUs sealed at once, 16 opened). They run in loops of [`GROUP`] lanes
/// but the last, which takes the 8 to 15 lanes left (one 8-block call and a block of each other
/// lane per step): with loops of eight only, a batch of 17 ran its last message alone, its
/// chain waiting out the latency of AES at every block. `ccmp-batch-length`, MB/s sealing
/// (opening), loops of eight against this: 17 messages 2 108 (2 086) against 2 301 (2 211),
/// 25: 2 183 (2 138) against 2 553 (2 398); 8 and 16 unchanged. The data path seals batches
/// of 17 and 18 most (a count of the batches of the WPA2 e2e run, session 27).
pub(super) const WIDTH: usize = 4 * GROUP;

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
                let direction = self.direction;
                more = refill(&mut lanes, &mut macs, &mut self.messages, |index, m| {
                    let mut lane = Lane::new(index, m, direction);
                    if direction == Direction::Open {
                        lane.s0 = ctr(backend, &lane.a0, lane.data.reborrow());
                    }
                    lane
                });
            }
            // The busy lanes are at the front (see `compact`): groups of eight while 16 or more
            // are left, then one loop of the 9 to 15 left, or a last group of up to eight.
            let mut busy = lanes.iter().take_while(|lane| lane.is_some()).count();
            if busy == 0 {
                break;
            }
            let (mut rest_lanes, mut rest_macs): (&mut [Option<Lane<'i, 'o>>], &mut [Block]) =
                (&mut lanes, &mut macs);
            while busy > 0 {
                if busy > GROUP && busy < 2 * GROUP {
                    let (Some(loop_lanes), Some(loop_macs)) =
                        (rest_lanes.get_mut(..busy), rest_macs.get_mut(..busy))
                    else {
                        break;
                    };
                    match loop_lanes.iter().flatten().map(Lane::whole_steps).min() {
                        Some(0) | None => general_step(backend, loop_lanes, loop_macs),
                        Some(steps) => lockstep_with_others(backend, loop_lanes, loop_macs, steps),
                    }
                    break;
                }
                // A group of eight lanes (the last may have idle ones at its end: the lanes
                // before it are whole groups, so eight are left in the array).
                let (Some((group, l)), Some((group_macs, m))) = (
                    rest_lanes.split_first_chunk_mut::<GROUP>(),
                    rest_macs.split_first_chunk_mut::<GROUP>(),
                ) else {
                    break;
                };
                match group.iter().flatten().map(Lane::whole_steps).min() {
                    Some(0) | None => general_step(backend, group, group_macs),
                    Some(steps) => lockstep_group(backend, group, group_macs, steps),
                }
                busy = busy.saturating_sub(GROUP);
                (rest_lanes, rest_macs) = (l, m);
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
            compact(&mut lanes, &mut macs);
        }
    }
}

/// Runs AES on each of `blocks`, in place: in one call of the backend when it takes [`GROUP`]
/// blocks at once (AES-NI), else block by block.
#[inline(always)]
fn encrypt_blocks<B: BlockBackend<BlockSize = U16>>(backend: &mut B, blocks: &mut [Block; GROUP]) {
    if <B::ParBlocksSize as Unsigned>::USIZE == GROUP {
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

/// `steps` steps of a group's MACs (at most [`GROUP`] lanes), each of which has at least that
/// many whole data blocks left: the tight loop, one block of each lane per step, the MACs kept
/// in registers. An idle lane runs along on zero blocks, its MAC dropped (a refilled lane
/// starts from zero).
#[inline(always)]
fn lockstep_group<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>; GROUP],
    macs: &mut [Block; GROUP],
    steps: usize,
) {
    let mut mac = *macs;
    {
        // Each lane's next `steps` data blocks (empty for an idle lane).
        let sources: [&[u8]; GROUP] = {
            let mut it = lanes.iter_mut();
            core::array::from_fn(|_| match it.next() {
                Some(Some(lane)) => lane.next_whole_blocks(steps),
                _ => &[],
            })
        };
        for j in 0..steps {
            let mut blocks = [Block::default(); GROUP];
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

/// The first up to [`GROUP`] MACs of `macs` (zero for missing lanes) and the others.
#[inline(always)]
fn split_macs(macs: &[Block]) -> ([Block; GROUP], [Block; GROUP - 1]) {
    let mut first = [Block::default(); GROUP];
    let mut others = [Block::default(); GROUP - 1];
    for (dst, src) in first.iter_mut().chain(others.iter_mut()).zip(macs) {
        *dst = *src;
    }
    (first, others)
}

/// One step of a loop's chains, their inputs already XORed in: `first` (a group of eight, see
/// [`encrypt_blocks`]; a lane short of eight runs along on a zero block, its result unused) and
/// the first `extra` of `others`, a block each, alongside.
#[inline(always)]
fn chain_step<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    first: &mut [Block; GROUP],
    others: &mut [Block; GROUP - 1],
    extra: usize,
) {
    encrypt_blocks(backend, first);
    for block in others.iter_mut().take(extra) {
        backend.proc_block(block.into());
    }
}

/// [`lockstep_group`] for the 9 to 15 lanes a batch's end may leave (all busy): the first eight
/// in one call of the backend per step, each other one a block alongside. Kept apart from
/// `lockstep_group`: with the others' code in it, the group's loop ran about 10 % slower.
#[inline(always)]
fn lockstep_with_others<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>],
    macs: &mut [Block],
    steps: usize,
) {
    let extra = lanes.len().saturating_sub(GROUP);
    let (mut first, mut others) = split_macs(macs);
    {
        // Each lane's next `steps` data blocks (empty for a missing lane).
        let mut it = lanes.iter_mut();
        let mut source = || match it.next() {
            Some(Some(lane)) => lane.next_whole_blocks(steps),
            _ => &[],
        };
        let first_sources: [&[u8]; GROUP] = core::array::from_fn(|_| source());
        let other_sources: [&[u8]; GROUP - 1] = core::array::from_fn(|_| source());
        for j in 0..steps {
            let (start, end) = (j * BLOCK, (j + 1) * BLOCK);
            for (mac, source) in first.iter_mut().zip(first_sources.iter()) {
                let input = source
                    .get(start..end)
                    .map(Block::clone_from_slice)
                    .unwrap_or_default();
                *mac = xor(*mac, input);
            }
            for (mac, source) in others.iter_mut().zip(other_sources.iter()).take(extra) {
                let input = source
                    .get(start..end)
                    .map(Block::clone_from_slice)
                    .unwrap_or_default();
                *mac = xor(*mac, input);
            }
            chain_step(backend, &mut first, &mut others, extra);
        }
    }
    for (dst, src) in macs.iter_mut().zip(first.iter().chain(others.iter())) {
        *dst = *src;
    }
    for lane in lanes.iter_mut().flatten() {
        lane.pos += steps;
    }
}

/// One step of the MACs of a group or of a loop of up to 15 lanes (see the job's `call`),
/// whatever each lane's block: B0, the AAD, a whole data block or the last, partial one.
#[inline(always)]
fn general_step<B: BlockBackend<BlockSize = U16>>(
    backend: &mut B,
    lanes: &mut [Option<Lane<'_, '_>>],
    macs: &mut [Block],
) {
    let extra = lanes.len().saturating_sub(GROUP);
    let (mut first, mut others) = split_macs(macs);
    for (mac, lane) in first
        .iter_mut()
        .chain(others.iter_mut())
        .zip(lanes.iter_mut())
    {
        if let Some(lane) = lane {
            *mac = xor(*mac, lane.mac_input());
            lane.pos += 1;
        }
    }
    chain_step(backend, &mut first, &mut others, extra);
    for (dst, src) in macs.iter_mut().zip(first.iter().chain(others.iter())) {
        *dst = *src;
    }
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
        let start = m.start();
        Self {
            index,
            direction,
            total: start.prefix_len + start.data.len().div_ceil(BLOCK),
            prefix: start.prefix,
            prefix_len: start.prefix_len,
            a0: start.a0,
            data: start.data,
            s0: Block::default(),
            mic: start.mic,
            pos: 0,
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
