//! The virtio-net device model, independent of how the rings reach it (vhost-user from a VMM,
//! or in process from a `virtio-drivers` driver): features, config space, the transmit queue
//! turned into Ethernet frames and Ethernet frames written into the receive queue.
//!
//! Everything the guest controls (descriptor indexes, addresses, lengths, ring indexes) goes
//! through `virtio-queue`'s bounds-checked walkers and `vm-memory`'s checked accesses: an
//! address the VM does not own or a malformed chain is a [`DeviceError`], never a panic, and
//! the caller ends that VM's session.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};

use bytes::Bytes;
use virtio_bindings::bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::bindings::virtio_net::{
    VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_F_STATUS, VIRTIO_NET_S_LINK_UP,
};
use virtio_bindings::bindings::virtio_ring::{
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
};
use virtio_queue::{
    desc::split::Descriptor, DescriptorChain, Queue, QueueOwnedT as _, QueueT as _,
};
use virtio_queue::{Reader, Writer};
use vm_memory::GuestMemory;
use vwifi_core::offload;

/// The receive queue's index.
pub const RX_QUEUE: u16 = 0;
/// The transmit queue's index.
pub const TX_QUEUE: u16 = 1;
/// The number of queues (one receive/transmit pair, no control queue).
pub const NUM_QUEUES: usize = 2;
/// The largest queue the device accepts.
pub const MAX_QUEUE_SIZE: u16 = 256;

/// The virtio-net header with `num_buffers` (virtio 1.x, or legacy with mergeable buffers).
pub const NET_HDR_LEN: usize = 12;
/// The legacy virtio-net header without `num_buffers`.
pub const LEGACY_NET_HDR_LEN: usize = 10;
/// The longest Ethernet frame (without FCS) carried either way: a 64 KiB payload plus the
/// header and a VLAN tag. Anything longer is dropped and counted.
pub const MAX_FRAME_LEN: usize = 65_536 + 18;
/// The config space: `mac[6]`, `status: u16` (virtio 1.x, 5.1.4).
pub const CONFIG_LEN: usize = 8;
/// Offset of `status` in the config space.
pub const CONFIG_STATUS_OFFSET: usize = 6;

/// The receive offloads: with all three acknowledged, runs of TCP segments of one flow go to
/// the guest as one large frame behind a TCP GSO header with its checksum left partial
/// ([`vwifi_core::offload::coalesce`]), as GRO would give them to its stack.
pub const GUEST_OFFLOADS: u64 = (1 << VIRTIO_NET_F_GUEST_CSUM)
    | (1 << VIRTIO_NET_F_GUEST_TSO4)
    | (1 << VIRTIO_NET_F_GUEST_TSO6);

/// The features the device offers: virtio 1.x, a MAC in config space, the link status,
/// mergeable receive buffers, event-index notifications and indirect descriptors; the
/// transmit offloads `CSUM`, `HOST_TSO4` and `HOST_TSO6`: the guest may hand over TCP sends of
/// up to 64 KiB with checksums left to complete, which [`NetDevice::process_tx`] cuts into
/// MSDU-sized frames with complete checksums ([`vwifi_core::offload::segment`]); and the
/// receive offloads [`GUEST_OFFLOADS`]. A guest that does not acknowledge all of those gets
/// every frame whole, with complete checksums.
pub const DEVICE_FEATURES: u64 = (1 << VIRTIO_F_VERSION_1)
    | (1 << VIRTIO_NET_F_CSUM)
    | (1 << VIRTIO_NET_F_HOST_TSO4)
    | (1 << VIRTIO_NET_F_HOST_TSO6)
    | GUEST_OFFLOADS
    | (1 << VIRTIO_NET_F_MAC)
    | (1 << VIRTIO_NET_F_STATUS)
    | (1 << VIRTIO_NET_F_MRG_RXBUF)
    | (1 << VIRTIO_RING_F_EVENT_IDX)
    | (1 << VIRTIO_RING_F_INDIRECT_DESC);

/// Why a VM's session must end: the guest broke the virtio contract.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A ring or descriptor could not be read or written: it points outside the memory the VM
    /// gave the device, or the ring indexes are inconsistent.
    #[error("the {queue} queue is corrupt: {source}")]
    Queue {
        /// `receive` or `transmit`.
        queue: &'static str,
        /// What `virtio-queue` found.
        #[source]
        source: virtio_queue::Error,
    },
    /// A descriptor chain's buffers are not in the VM's memory, or cannot be read/written.
    #[error("a {queue} descriptor chain (head {head}) is invalid: {reason}")]
    BadChain {
        /// `receive` or `transmit`.
        queue: &'static str,
        /// The chain's head index.
        head: u16,
        /// What is wrong.
        reason: String,
    },
    /// The memory of the VM is not known yet, or the queue was used before it was set up.
    #[error("the {queue} queue was used before the VM set it up")]
    NotReady {
        /// `receive` or `transmit`.
        queue: &'static str,
    },
}

/// Counters of one device, for status output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Frames the guest transmitted and the device took.
    pub tx_frames: u64,
    /// Frames the guest transmitted that were too long or too short (dropped).
    pub tx_dropped: u64,
    /// Offloaded frames refused (a bad virtio-net header, segments too long for an MSDU):
    /// dropped.
    pub tx_offload_refused: u64,
    /// Frames written into the guest's receive buffers (a coalesced frame counts its
    /// segments).
    pub rx_frames: u64,
    /// Frames written that joined several segments ([`GUEST_OFFLOADS`]).
    pub rx_coalesced: u64,
    /// Frames for the guest dropped because it had no free receive buffers for too long.
    pub rx_no_buffer: u64,
    /// Frames for the guest dropped because they did not fit its receive buffers.
    pub rx_too_long: u64,
    /// Receive buffers used (more than `rx_frames` when frames span merged buffers).
    pub rx_buffers: u64,
    /// Times the device stopped taking the guest's transmit ring because the host had no
    /// room (back-pressure: the frames stayed in the VM, nothing was dropped). Counted by
    /// the transport that holds the ring (vhost-user), 0 in [`NetDevice::stats`].
    pub tx_holds: u64,
}

/// The state of one virtio-net device, whatever carries its rings.
#[derive(Debug)]
pub struct NetDevice {
    mac: [u8; 6],
    link_up: bool,
    acked: u64,
    /// Frames for the guest not yet prepared.
    pending: VecDeque<Bytes>,
    /// Frames for the guest prepared (coalesced or not) and waiting for receive buffers.
    ready: VecDeque<RxFrame>,
    /// The frames `ready` holds (a coalesced one counts its segments).
    ready_frames: usize,
    pending_limit: usize,
    stats: DeviceStats,
    /// Where frames for the guest are joined.
    scratch: Vec<u8>,
}

/// A frame for the guest behind its virtio-net header (without `num_buffers`).
#[derive(Debug)]
struct RxFrame {
    header: [u8; offload::VNET_HDR_LEN],
    frame: Bytes,
    /// How many frames from the host it joins.
    frames: usize,
}

impl NetDevice {
    /// A device with the station's `mac`, link down, keeping at most `pending_limit` frames
    /// for the guest while it has no receive buffers (at least 1).
    pub fn new(mac: [u8; 6], pending_limit: usize) -> Self {
        Self {
            mac,
            link_up: false,
            acked: 0,
            pending: VecDeque::new(),
            ready: VecDeque::new(),
            ready_frames: 0,
            pending_limit: pending_limit.max(1),
            stats: DeviceStats::default(),
            scratch: Vec::new(),
        }
    }

    /// The MAC in config space.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Whether the config space reports the link up.
    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// Sets the link status; returns whether it changed (the driver must then be sent a
    /// config-change interrupt).
    pub fn set_link(&mut self, up: bool) -> bool {
        let changed = self.link_up != up;
        self.link_up = up;
        changed
    }

    /// The features the driver acknowledged.
    pub fn acked_features(&self) -> u64 {
        self.acked
    }

    /// Records the features the driver acknowledged (those the device did not offer are
    /// ignored).
    pub fn set_acked_features(&mut self, features: u64) {
        self.acked = features & DEVICE_FEATURES;
    }

    /// The counters.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// Counts frames from the guest that the host could not take (its queue was full).
    pub fn count_tx_dropped(&mut self, n: u64) {
        self.stats.tx_dropped += n;
    }

    /// Frames waiting for receive buffers.
    pub fn pending(&self) -> usize {
        self.pending.len() + self.ready_frames
    }

    /// Whether the guest acknowledged the receive offloads ([`GUEST_OFFLOADS`]).
    pub fn rx_offloads(&self) -> bool {
        self.acked & GUEST_OFFLOADS == GUEST_OFFLOADS
    }

    fn acked(&self, bit: u32) -> bool {
        self.acked & (1 << bit) != 0
    }

    /// The length of the virtio-net header in front of each frame, as negotiated.
    pub fn header_len(&self) -> usize {
        if self.acked(VIRTIO_F_VERSION_1) || self.acked(VIRTIO_NET_F_MRG_RXBUF) {
            NET_HDR_LEN
        } else {
            LEGACY_NET_HDR_LEN
        }
    }

    /// `len` bytes of the config space from `offset` (bytes past its end read as nothing).
    pub fn config(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut space = [0u8; CONFIG_LEN];
        space[..6].copy_from_slice(&self.mac);
        let status: u16 = if self.link_up {
            VIRTIO_NET_S_LINK_UP as u16
        } else {
            0
        };
        space[CONFIG_STATUS_OFFSET..].copy_from_slice(&status.to_le_bytes());
        let end = offset.saturating_add(len).min(CONFIG_LEN);
        space.get(offset..end).unwrap_or_default().to_vec()
    }

    /// Takes every frame the guest queued on the transmit queue, handing each to `deliver`
    /// and returning its chain to the guest. Returns whether the guest must be notified.
    pub fn process_tx<M: GuestMemory>(
        &mut self,
        queue: &mut Queue,
        mem: &M,
        deliver: &mut dyn FnMut(Bytes),
    ) -> Result<bool, DeviceError> {
        self.process_tx_while(queue, mem, &mut || true, deliver)
    }

    /// [`process_tx`](Self::process_tx) while the host has room: `room` is asked before each
    /// chain is taken, and once it says no the rest stay in the guest's ring, untouched, with
    /// notifications left off (the guest's queue fills and its kernel stops sending; no kick
    /// comes until the host calls this again, once it has room). The frames of a chain already
    /// taken all go to `deliver` (a TSO send may give several), which must keep them.
    pub fn process_tx_while<M: GuestMemory>(
        &mut self,
        queue: &mut Queue,
        mem: &M,
        room: &mut dyn FnMut() -> bool,
        deliver: &mut dyn FnMut(Bytes),
    ) -> Result<bool, DeviceError> {
        const Q: &str = "transmit";
        let qerr = |source| DeviceError::Queue { queue: Q, source };
        if !queue.ready() {
            return Err(DeviceError::NotReady { queue: Q });
        }
        let hdr = self.header_len();
        let mut used_any = false;
        loop {
            queue.disable_notification(mem).map_err(qerr)?;
            loop {
                if !room() {
                    // Held: the chains stay in the ring, the guest is not asked to kick.
                    return if used_any {
                        queue.needs_notification(mem).map_err(qerr)
                    } else {
                        Ok(false)
                    };
                }
                let Some(chain) = next_chain(queue, mem).map_err(qerr)? else {
                    break;
                };
                let head = chain.head_index();
                let bad = |reason: String| DeviceError::BadChain {
                    queue: Q,
                    head,
                    reason,
                };
                check_chain(&chain, queue.size()).map_err(bad)?;
                let mut reader = Reader::new(mem, chain).map_err(|e| bad(e.to_string()))?;
                let total = reader.available_bytes();
                if total < hdr {
                    return Err(bad(format!(
                        "{total} bytes, shorter than the {hdr}-byte virtio-net header"
                    )));
                }
                let mut header = [0u8; NET_HDR_LEN];
                let header = header.get_mut(..hdr).unwrap_or_default();
                reader
                    .read_exact(header)
                    .map_err(|e| bad(format!("header unreadable: {e}")))?;
                let len = total - hdr;
                if !(14..=MAX_FRAME_LEN).contains(&len) {
                    self.stats.tx_dropped += 1;
                } else {
                    let mut frame = vec![0u8; len];
                    reader
                        .read_exact(&mut frame)
                        .map_err(|e| bad(format!("frame unreadable: {e}")))?;
                    self.stats.tx_frames += 1;
                    match offload::VnetHeader::parse(header) {
                        Ok(h) if h.gso_type == offload::GsoType::None && !h.needs_csum() => {
                            deliver(Bytes::from(frame));
                        }
                        Ok(h) => {
                            let cut =
                                offload::segment(&h, &frame, offload::MAX_MSDU_FRAME_LEN, |seg| {
                                    deliver(seg)
                                });
                            if cut.is_err() {
                                self.stats.tx_offload_refused += 1;
                            }
                        }
                        Err(_) => self.stats.tx_offload_refused += 1,
                    }
                }
                queue.add_used(mem, head, 0).map_err(qerr)?;
                used_any = true;
            }
            if !queue.enable_notification(mem).map_err(qerr)? {
                break;
            }
        }
        if used_any {
            queue.needs_notification(mem).map_err(qerr)
        } else {
            Ok(false)
        }
    }

    /// Queues a frame for the guest; it is written at the next [`process_rx`](Self::process_rx).
    /// A frame beyond the pending limit is dropped and counted; returns whether it was kept.
    pub fn push_rx(&mut self, frame: Bytes) -> bool {
        if frame.len() > MAX_FRAME_LEN {
            self.stats.rx_too_long += 1;
            return false;
        }
        if self.pending() >= self.pending_limit {
            self.stats.rx_no_buffer += 1;
            return false;
        }
        self.pending.push_back(frame);
        true
    }

    /// Drops the frames waiting for receive buffers (the queue was reset), counting them.
    pub fn drop_pending(&mut self) {
        self.stats.rx_no_buffer += self.pending() as u64;
        self.pending.clear();
        self.ready.clear();
        self.ready_frames = 0;
    }

    /// Prepares the pending frames: with the receive offloads, runs of TCP segments of one
    /// flow joined into one frame each ([`offload::coalesce`]), everything else (and every
    /// frame without them) behind a header that asks for nothing.
    fn prepare(&mut self) {
        let offloads = self.rx_offloads();
        let Self {
            pending,
            ready,
            ready_frames,
            scratch,
            ..
        } = self;
        *ready_frames += pending.len();
        if !offloads {
            ready.extend(pending.drain(..).map(|frame| RxFrame {
                header: offload::VnetHeader::PLAIN.to_bytes(),
                frame,
                frames: 1,
            }));
            return;
        }
        let frames = pending.make_contiguous();
        offload::coalesce(frames, scratch, |c| match c {
            offload::Coalesced::Single(i) => {
                if let Some(frame) = frames.get(i) {
                    ready.push_back(RxFrame {
                        header: offload::VnetHeader::PLAIN.to_bytes(),
                        frame: frame.clone(),
                        frames: 1,
                    });
                }
            }
            // One copy: the headers and the payloads where they are, into the frame kept.
            offload::Coalesced::Run(run) => ready.push_back(RxFrame {
                header: run.header.to_bytes(),
                frame: Bytes::from(run.to_vec()),
                frames: run.segments(),
            }),
        });
        pending.clear();
    }

    /// Writes pending frames into the guest's receive buffers while it has some. Returns
    /// whether the guest must be notified.
    pub fn process_rx<M: GuestMemory>(
        &mut self,
        queue: &mut Queue,
        mem: &M,
    ) -> Result<bool, DeviceError> {
        const Q: &str = "receive";
        let qerr = |source| DeviceError::Queue { queue: Q, source };
        if !queue.ready() {
            return Err(DeviceError::NotReady { queue: Q });
        }
        let mut used_any = false;
        loop {
            if self.ready.is_empty() {
                self.prepare();
            }
            let Some(rx) = self.ready.pop_front() else {
                break;
            };
            let n = rx.frames as u64;
            match self.write_frame(queue, mem, &rx.header, &rx.frame)? {
                Written::Yes => {
                    used_any = true;
                    self.stats.rx_frames += n;
                    if rx.frames > 1 {
                        self.stats.rx_coalesced += 1;
                    }
                }
                Written::TooLong => self.stats.rx_too_long += n,
                Written::NoBuffers => {
                    self.ready.push_front(rx);
                    // Ask for a kick when the guest adds buffers; if it added some meanwhile,
                    // try again at once.
                    if notify_on_more_buffers(queue, mem).map_err(qerr)? {
                        continue;
                    }
                    break;
                }
            }
            self.ready_frames = self.ready_frames.saturating_sub(rx.frames);
        }
        if used_any {
            queue.needs_notification(mem).map_err(qerr)
        } else {
            Ok(false)
        }
    }

    /// Writes one frame behind `vnet` (its virtio-net header without `num_buffers`) into as
    /// many receive chains as it needs (one without mergeable buffers), or into none.
    fn write_frame<M: GuestMemory>(
        &mut self,
        queue: &mut Queue,
        mem: &M,
        vnet: &[u8; offload::VNET_HDR_LEN],
        frame: &[u8],
    ) -> Result<Written, DeviceError> {
        const Q: &str = "receive";
        let qerr = |source| DeviceError::Queue { queue: Q, source };
        let mergeable = self.acked(VIRTIO_NET_F_MRG_RXBUF);
        let hdr = self.header_len();
        let total = hdr + frame.len();
        let mut writers: Vec<(u16, Writer<'_, _>)> = Vec::new();
        let mut room = 0usize;
        while room < total {
            let Some(chain) = next_chain(queue, mem).map_err(qerr)? else {
                for _ in 0..writers.len() {
                    queue.go_to_previous_position();
                }
                return Ok(Written::NoBuffers);
            };
            let head = chain.head_index();
            let bad = |reason: String| DeviceError::BadChain {
                queue: Q,
                head,
                reason,
            };
            check_chain(&chain, queue.size()).map_err(bad)?;
            let writer = Writer::new(mem, chain).map_err(|e| bad(e.to_string()))?;
            let n = writer.available_bytes();
            if n < hdr {
                return Err(bad(format!(
                    "{n} writable bytes, shorter than the {hdr}-byte virtio-net header"
                )));
            }
            room += n;
            writers.push((head, writer));
            if !mergeable && room < total {
                // Without mergeable buffers a frame must fit one chain: give it back.
                queue.go_to_previous_position();
                return Ok(Written::TooLong);
            }
        }
        let num_buffers = u16::try_from(writers.len()).unwrap_or(u16::MAX);
        let mut header = [0u8; NET_HDR_LEN];
        if let Some(h) = header.get_mut(..offload::VNET_HDR_LEN) {
            h.copy_from_slice(vnet);
        }
        if hdr == NET_HDR_LEN {
            header[10..12].copy_from_slice(&num_buffers.to_le_bytes());
        }
        let header = header.get(..hdr).unwrap_or_default();
        let mut used = Vec::with_capacity(writers.len());
        // What is left to write: the header (in the first chain), then the frame.
        let mut rest = frame;
        for (i, (head, mut writer)) in writers.into_iter().enumerate() {
            let unwritable = |e: std::io::Error| DeviceError::BadChain {
                queue: Q,
                head,
                reason: format!("receive buffer unwritable: {e}"),
            };
            let mut n = 0;
            if i == 0 {
                writer.write_all(header).map_err(unwritable)?;
                n += header.len();
            }
            let take = writer.available_bytes().min(rest.len());
            let (chunk, after) = rest.split_at(take);
            writer.write_all(chunk).map_err(unwritable)?;
            rest = after;
            used.push((head, n + take));
        }
        for (head, n) in used {
            queue
                .add_used(mem, head, u32::try_from(n).unwrap_or(u32::MAX))
                .map_err(qerr)?;
            self.stats.rx_buffers += 1;
        }
        Ok(Written::Yes)
    }
}

/// What became of a frame for the guest.
enum Written {
    Yes,
    TooLong,
    NoBuffers,
}

/// The receive ring has too few buffers for the next frame: asks the guest to notify the
/// device when it adds one beyond those it made available so far, and returns whether it
/// already added some since they were counted (then look again).
///
/// Not `enable_notification` alone: that asks for a kick from the device's position in the
/// ring, behind the buffers it left there for want of enough of them, which with event-index
/// notifications the guest has already passed (no kick would come) and which reads as "more
/// buffers" at once (the device would spin).
fn notify_on_more_buffers<M: GuestMemory>(
    queue: &mut Queue,
    mem: &M,
) -> Result<bool, virtio_queue::Error> {
    let position = queue.next_avail();
    let available = queue.avail_idx(mem, std::sync::atomic::Ordering::Acquire)?;
    queue.set_next_avail(available.0);
    let more = queue.enable_notification(mem);
    queue.set_next_avail(position);
    more
}

/// The next chain the guest made available, if any.
fn next_chain<'m, M: GuestMemory>(
    queue: &mut Queue,
    mem: &'m M,
) -> Result<Option<DescriptorChain<&'m M>>, virtio_queue::Error> {
    Ok(queue.iter(mem)?.next())
}

/// Checks what `virtio-queue`'s walker would silently cut short: a head or a `next` index
/// outside the queue, or a chain that does not end (a loop).
fn check_chain<M>(chain: &DescriptorChain<M>, size: u16) -> Result<(), String>
where
    M: std::ops::Deref + Clone,
    M::Target: GuestMemory,
{
    let head = chain.head_index();
    if head >= size {
        return Err(format!("head index {head} is outside the queue of {size}"));
    }
    let mut walk = chain.clone();
    let mut count = 0usize;
    let mut last: Option<Descriptor> = None;
    for desc in walk.by_ref() {
        count += 1;
        if count > usize::from(size) * 2 {
            return Err("the chain does not end".into());
        }
        last = Some(desc);
    }
    match last {
        None => Err("no descriptor of the chain could be read".into()),
        Some(desc) if desc.has_next() => Err(format!(
            "the chain continues to descriptor {} outside the queue of {size}, or loops",
            desc.next()
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtio_bindings::bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
    use virtio_queue::desc::RawDescriptor;
    use virtio_queue::mock::MockSplitQueue;
    use vm_memory::{Bytes as _, GuestAddress, GuestMemoryMmap};

    const MAC: [u8; 6] = [2, 0x76, 0, 0, 0, 1];
    const WRITE: u16 = VRING_DESC_F_WRITE as u16;
    const NEXT: u16 = VRING_DESC_F_NEXT as u16;

    fn memory() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap()
    }

    fn desc(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
        RawDescriptor::from(Descriptor::new(addr, len, flags, next))
    }

    fn device(features: u64) -> NetDevice {
        let mut d = NetDevice::new(MAC, 4);
        d.set_acked_features(features);
        d
    }

    fn frame(len: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![fill; len];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    fn used(vq: &MockSplitQueue<'_, GuestMemoryMmap>, i: usize) -> (u32, u32) {
        let e = vq.used().ring().ref_at(i).unwrap().load();
        (e.id(), e.len())
    }

    #[test]
    fn config_space_holds_the_mac_and_the_link_status() {
        let mut d = device(DEVICE_FEATURES);
        assert_eq!(d.config(0, 8), [2, 0x76, 0, 0, 0, 1, 0, 0]);
        assert!(d.set_link(true));
        assert!(!d.set_link(true), "no change, no config interrupt");
        assert_eq!(d.config(6, 2), [1, 0]);
        assert_eq!(d.config(7, 10), [0], "reads past the end are cut");
        assert!(d.config(100, 4).is_empty());
    }

    #[test]
    fn transmitted_frames_lose_their_header_and_chains_return_used() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        let f = frame(100, 0xab);
        // Header and frame in two descriptors, then a frame in one descriptor with its header.
        m.write_slice(&[0u8; 12], GuestAddress(0x1_0000)).unwrap();
        m.write_slice(&f, GuestAddress(0x2_0000)).unwrap();
        let mut both = vec![0u8; 12];
        both.extend_from_slice(&frame(60, 0xcd));
        m.write_slice(&both, GuestAddress(0x3_0000)).unwrap();
        vq.add_desc_chains(
            &[
                desc(0x1_0000, 12, NEXT, 1),
                desc(0x2_0000, 100, 0, 0),
                desc(0x3_0000, 72, 0, 0),
            ],
            0,
        )
        .unwrap();
        let mut d = device(DEVICE_FEATURES);
        let mut got = Vec::new();
        d.process_tx(&mut q, &m, &mut |fr| got.push(fr)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0][..], &f[..]);
        assert_eq!(&got[1][..], &frame(60, 0xcd)[..]);
        assert_eq!(vq.used().idx().load(), 2);
        assert_eq!(used(&vq, 0), (0, 0));
        assert_eq!(used(&vq, 1), (2, 0));
        assert_eq!(d.stats().tx_frames, 2);
    }

    #[test]
    fn a_tso_send_from_the_guest_is_cut_into_msdu_sized_frames() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        // A TCPv4 send of 4000 bytes, MSS 1448, its checksum left to complete.
        let payload = vec![0x42u8; 4000];
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
        f.extend_from_slice(&((20 + 20 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18]);
        f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&payload);
        let hdr = offload::VnetHeader {
            flags: offload::FLAG_NEEDS_CSUM,
            gso_type: offload::GsoType::TcpV4,
            ecn: false,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut chain = hdr.to_bytes().to_vec();
        chain.extend_from_slice(&[0, 0]); // num_buffers
        chain.extend_from_slice(&f);
        m.write_slice(&chain, GuestAddress(0x1_0000)).unwrap();
        // And a frame whose GSO request cannot fit an MSDU: refused, counted.
        let mut too_big = offload::VnetHeader {
            gso_size: 3000,
            ..hdr
        }
        .to_bytes()
        .to_vec();
        too_big.extend_from_slice(&[0, 0]);
        too_big.extend_from_slice(&f);
        m.write_slice(&too_big, GuestAddress(0x3_0000)).unwrap();
        vq.add_desc_chains(
            &[
                desc(0x1_0000, chain.len() as u32, 0, 0),
                desc(0x3_0000, too_big.len() as u32, 0, 0),
            ],
            0,
        )
        .unwrap();
        let mut d = device(DEVICE_FEATURES);
        let mut got = Vec::new();
        d.process_tx(&mut q, &m, &mut |fr| got.push(fr)).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|s| s.len() <= offload::MAX_MSDU_FRAME_LEN));
        let data: Vec<u8> = got.iter().flat_map(|s| s[54..].to_vec()).collect();
        assert_eq!(data, payload);
        // Each segment's IPv4 header checksum verifies.
        assert!(got
            .iter()
            .all(|s| offload::internet_checksum(&s[14..34]) == 0));
        assert_eq!(d.stats().tx_offload_refused, 1);
        assert_eq!(vq.used().idx().load(), 2, "both chains returned");
    }

    #[test]
    fn a_frame_spans_merged_receive_buffers_with_num_buffers_in_its_header() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        // Three single-descriptor buffers of 64 bytes.
        vq.add_desc_chains(
            &[
                desc(0x1_0000, 64, WRITE, 0),
                desc(0x2_0000, 64, WRITE, 0),
                desc(0x3_0000, 64, WRITE, 0),
            ],
            0,
        )
        .unwrap();
        let mut d = device(DEVICE_FEATURES);
        let f = frame(100, 0x5a); // 112 bytes with the header: two buffers
        assert!(d.push_rx(Bytes::from(f.clone())));
        d.process_rx(&mut q, &m).unwrap();
        assert_eq!(vq.used().idx().load(), 2);
        assert_eq!(used(&vq, 0), (0, 64));
        assert_eq!(used(&vq, 1), (1, 48));
        let mut got = [0u8; 112];
        m.read_slice(&mut got[..64], GuestAddress(0x1_0000))
            .unwrap();
        m.read_slice(&mut got[64..], GuestAddress(0x2_0000))
            .unwrap();
        assert_eq!(u16::from_le_bytes([got[10], got[11]]), 2, "num_buffers");
        assert_eq!(&got[12..], &f[..]);
        assert_eq!(d.stats().rx_buffers, 2);
        assert_eq!(d.stats().rx_frames, 1);
    }

    /// A TCPv4 send of `len` payload bytes as the guest's kernel would hand it over with TSO
    /// (MSS 1448, checksum partial), and its header.
    fn tso_send(len: usize) -> (offload::VnetHeader, Vec<u8>) {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
        f.extend_from_slice(&((20 + 20 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10]);
        f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&payload);
        let hdr = offload::VnetHeader {
            flags: offload::FLAG_NEEDS_CSUM,
            gso_type: offload::GsoType::TcpV4,
            ecn: false,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        (hdr, f)
    }

    /// The MSDU-sized segments of a TCP send of `len` bytes, as they come from the air.
    fn tcp_segments(len: usize) -> Vec<Bytes> {
        let (hdr, f) = tso_send(len);
        let mut segs = Vec::new();
        offload::segment(&hdr, &f, 2000, |s| segs.push(s)).unwrap();
        segs
    }

    /// `count` writable single-descriptor chains of `len` bytes from 0x1_0000 on.
    fn rx_buffers(vq: &MockSplitQueue<'_, GuestMemoryMmap>, count: u16, len: u32) {
        let descs: Vec<_> = (0..count)
            .map(|i| desc(0x1_0000 + u64::from(i) * u64::from(len), len, WRITE, 0))
            .collect();
        vq.add_desc_chains(&descs, 0).unwrap();
    }

    /// The frames the device wrote into the buffers of [`rx_buffers`]: each with its header
    /// (merged buffers joined by `num_buffers`).
    fn written(
        m: &GuestMemoryMmap,
        vq: &MockSplitQueue<'_, GuestMemoryMmap>,
        len: u32,
    ) -> Vec<(offload::VnetHeader, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < usize::from(vq.used().idx().load()) {
            let mut bytes = Vec::new();
            let mut buffers = 1;
            let mut k = 0;
            while k < buffers {
                let (id, n) = used(vq, i + k);
                let mut b = vec![0u8; n as usize];
                m.read_slice(
                    &mut b,
                    GuestAddress(0x1_0000 + u64::from(id) * u64::from(len)),
                )
                .unwrap();
                if k == 0 {
                    buffers = usize::from(u16::from_le_bytes([b[10], b[11]]));
                }
                bytes.extend_from_slice(&b);
                k += 1;
            }
            i += buffers;
            let hdr = offload::VnetHeader::parse(&bytes).unwrap();
            out.push((hdr, bytes.split_off(NET_HDR_LEN)));
        }
        out
    }

    #[test]
    fn with_receive_offloads_a_run_of_tcp_segments_reaches_the_guest_as_one_gso_frame() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 64);
        let mut q: Queue = vq.create_queue().unwrap();
        rx_buffers(&vq, 64, 4096);
        let mut d = NetDevice::new(MAC, 64);
        d.set_acked_features(DEVICE_FEATURES);
        assert!(d.rx_offloads());
        let segs = tcp_segments(20_000);
        assert_eq!(segs.len(), 14);
        let arp = Bytes::from(frame(60, 7));
        // A run, something else, then the run's continuation: three frames for the guest.
        for s in &segs[..10] {
            assert!(d.push_rx(s.clone()));
        }
        assert!(d.push_rx(arp.clone()));
        for s in &segs[10..] {
            assert!(d.push_rx(s.clone()));
        }
        assert_eq!(d.pending(), 15);
        assert!(d.process_rx(&mut q, &m).unwrap());
        assert_eq!(d.pending(), 0);
        let got = written(&m, &vq, 4096);
        assert_eq!(got.len(), 3);
        let (h0, f0) = &got[0];
        assert_eq!(h0.gso_type, offload::GsoType::TcpV4);
        assert!(h0.needs_csum());
        assert_eq!((h0.gso_size, h0.csum_start, h0.csum_offset), (1448, 34, 16));
        assert_eq!(f0.len(), 54 + 10 * 1448, "one frame, several buffers");
        assert_eq!(got[1], (offload::VnetHeader::PLAIN, arp.to_vec()));
        assert_eq!(got[2].0.gso_type, offload::GsoType::TcpV4);
        // Cut again, the GSO frames give the segments back byte for byte.
        let mut again = Vec::new();
        for (h, f) in [&got[0], &got[2]] {
            offload::segment(h, f, 2000, |s| again.push(s.to_vec())).unwrap();
        }
        assert_eq!(again, segs.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
        let stats = d.stats();
        assert_eq!((stats.rx_frames, stats.rx_coalesced), (15, 2));
    }

    #[test]
    fn without_receive_offloads_tcp_segments_reach_the_guest_one_by_one_with_plain_headers() {
        for acked in [
            // Mergeable buffers but no GUEST_*; GUEST_TSO without GUEST_TSO6.
            DEVICE_FEATURES & !GUEST_OFFLOADS,
            DEVICE_FEATURES & !(1 << VIRTIO_NET_F_GUEST_TSO6),
        ] {
            let m = memory();
            let vq = MockSplitQueue::new(&m, 64);
            let mut q: Queue = vq.create_queue().unwrap();
            rx_buffers(&vq, 64, 4096);
            let mut d = NetDevice::new(MAC, 64);
            d.set_acked_features(acked);
            assert!(!d.rx_offloads());
            let segs = tcp_segments(10_000);
            for s in &segs {
                assert!(d.push_rx(s.clone()));
            }
            d.process_rx(&mut q, &m).unwrap();
            let got = written(&m, &vq, 4096);
            assert_eq!(got.len(), segs.len());
            for ((h, f), s) in got.iter().zip(&segs) {
                assert_eq!(*h, offload::VnetHeader::PLAIN);
                assert_eq!(&f[..], &s[..]);
            }
            assert_eq!(d.stats().rx_coalesced, 0);
        }
    }

    #[test]
    fn a_coalesced_frame_waits_whole_for_buffers_and_counts_its_segments_as_pending() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 64);
        let mut q: Queue = vq.create_queue().unwrap();
        let mut d = NetDevice::new(MAC, 20);
        d.set_acked_features(DEVICE_FEATURES);
        let segs = tcp_segments(20_000);
        for s in &segs {
            assert!(d.push_rx(s.clone()));
        }
        // Two buffers of 4096: not enough for the joined frame; nothing is written.
        rx_buffers(&vq, 2, 4096);
        assert!(!d.process_rx(&mut q, &m).unwrap());
        assert_eq!(vq.used().idx().load(), 0);
        assert_eq!(d.pending(), 14, "the joined frame counts its segments");
        for _ in 0..6 {
            assert!(d.push_rx(Bytes::from(frame(60, 1))));
        }
        assert!(
            !d.push_rx(Bytes::from(frame(60, 1))),
            "the limit counts them too"
        );
        d.drop_pending();
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats().rx_no_buffer, 1 + 20);
    }

    #[test]
    fn without_buffers_frames_wait_then_are_dropped_and_counted() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        let mut d = device(DEVICE_FEATURES);
        for _ in 0..6 {
            d.push_rx(Bytes::from(frame(60, 1)));
        }
        assert_eq!(d.pending(), 4, "the pending limit");
        assert_eq!(d.stats().rx_no_buffer, 2);
        d.process_rx(&mut q, &m).unwrap();
        assert_eq!(d.pending(), 4, "nothing written without buffers");
        // One buffer too small for a frame and its header with mergeable buffers off: the frame
        // is dropped, the buffer is given back unused.
        let mut d = device(1 << VIRTIO_F_VERSION_1);
        d.push_rx(Bytes::from(frame(100, 1)));
        vq.add_desc_chains(&[desc(0x1_0000, 64, WRITE, 0)], 0)
            .unwrap();
        d.process_rx(&mut q, &m).unwrap();
        assert_eq!(d.stats().rx_too_long, 1);
        assert_eq!(vq.used().idx().load(), 0);
        d.push_rx(Bytes::from(frame(40, 1)));
        d.process_rx(&mut q, &m).unwrap();
        assert_eq!(
            vq.used().idx().load(),
            1,
            "the same buffer serves the next frame"
        );
        assert_eq!(used(&vq, 0), (0, 52));
    }

    #[test]
    fn a_buffer_outside_guest_memory_is_an_error_not_a_panic() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.add_desc_chains(&[desc(0x4000_0000, 64, WRITE, 0)], 0)
            .unwrap();
        let mut d = device(DEVICE_FEATURES);
        d.push_rx(Bytes::from(frame(60, 1)));
        let e = d.process_rx(&mut q, &m).unwrap_err();
        assert!(matches!(e, DeviceError::BadChain { head: 0, .. }), "{e}");
        assert!(e.to_string().contains("receive"), "{e}");
        let mut q: Queue = vq.create_queue().unwrap();
        let e = d.process_tx(&mut q, &m, &mut |_| {}).unwrap_err();
        assert!(matches!(e, DeviceError::BadChain { .. }), "{e}");
    }

    #[test]
    fn chains_leaving_the_queue_or_looping_are_errors() {
        let m = memory();
        // A `next` beyond the queue.
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.desc_table()
            .store(0, desc(0x1_0000, 12, NEXT, 99))
            .unwrap();
        vq.avail().ring().ref_at(0).unwrap().store(0);
        vq.avail().idx().store(1);
        let e = device(DEVICE_FEATURES)
            .process_tx(&mut q, &m, &mut |_| {})
            .unwrap_err();
        assert!(e.to_string().contains("outside the queue"), "{e}");
        // A loop.
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.desc_table()
            .store(0, desc(0x1_0000, 12, NEXT, 1))
            .unwrap();
        vq.desc_table()
            .store(1, desc(0x1_0000, 12, NEXT, 0))
            .unwrap();
        vq.avail().ring().ref_at(0).unwrap().store(0);
        vq.avail().idx().store(1);
        let e = device(DEVICE_FEATURES)
            .process_tx(&mut q, &m, &mut |_| {})
            .unwrap_err();
        assert!(matches!(e, DeviceError::BadChain { .. }), "{e}");
        // A head beyond the queue.
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.avail().ring().ref_at(0).unwrap().store(200);
        vq.avail().idx().store(1);
        let e = device(DEVICE_FEATURES)
            .process_tx(&mut q, &m, &mut |_| {})
            .unwrap_err();
        assert!(e.to_string().contains("head index 200"), "{e}");
        // An available index far ahead of the device.
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.avail().idx().store(1000);
        let e = device(DEVICE_FEATURES)
            .process_tx(&mut q, &m, &mut |_| {})
            .unwrap_err();
        assert!(matches!(e, DeviceError::Queue { .. }), "{e}");
    }

    #[test]
    fn a_transmit_chain_shorter_than_the_header_is_an_error_and_runts_are_dropped() {
        let m = memory();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.add_desc_chains(&[desc(0x1_0000, 20, 0, 0)], 0).unwrap();
        let mut d = device(DEVICE_FEATURES);
        d.process_tx(&mut q, &m, &mut |_| panic!("a runt delivered"))
            .unwrap();
        assert_eq!(d.stats().tx_dropped, 1);
        vq.add_desc_chains(&[desc(0x1_0000, 4, 0, 0)], 1).unwrap();
        let e = d.process_tx(&mut q, &m, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("shorter than the 12-byte"), "{e}");
    }
}
