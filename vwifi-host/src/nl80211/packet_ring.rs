//! A batched packet socket on a station's interface (issue 12, item 2): frames from the air
//! arrive in a `TPACKET_V3` receive ring shared with the kernel, a block of them per wake-up,
//! and the guest's frames leave with one `sendmmsg` per batch.
//!
//! The socket is `AF_PACKET`/`SOCK_RAW`, created with protocol 0 (it receives nothing yet),
//! given `PACKET_VERSION = TPACKET_V3`, `PACKET_IGNORE_OUTGOING` (it does not see its own
//! sends; refused by kernels before 4.20, when the caller's source-address filter is what keeps
//! them out) and a `PACKET_RX_RING` of [`BLOCK_COUNT`] blocks of [`BLOCK_SIZE`] bytes, mapped
//! into the daemon; only then is it bound to the interface for every EtherType. The kernel
//! hands a block over (its status turns `TP_STATUS_USER`) when it is full or when
//! [`RETIRE_MS`] passed since it was opened; the reader walks the block's packet headers
//! ([`walk_block`], safe code over a byte slice) and gives the block back.
//!
//! Everything read from the ring is treated as untrusted: the walker checks every header,
//! offset and length against the block and skips (or stops at) what does not fit, never
//! panicking. The `unsafe` code here is the FFI (socket options, `mmap`, `poll`, `sendmmsg`)
//! and the view of a block the kernel handed over, each block with its `SAFETY` argument.

use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Bytes in one block of the receive ring (a multiple of the page size).
pub(crate) const BLOCK_SIZE: usize = 1 << 16;
/// Blocks in the ring (2 MiB per station interface).
pub(crate) const BLOCK_COUNT: usize = 32;
/// The ring's nominal frame size (`TPACKET_V3` checks it; frames of any length up to a block
/// are taken).
const FRAME_SIZE: usize = 2048;
/// How long the kernel keeps a block that is not full before handing it over, in ms: the
/// latency a lone frame (a ping) pays at most, rounded up by the kernel to its timer tick.
pub(crate) const RETIRE_MS: u32 = 1;
/// How long a wait for a block lasts before the reader checks whether it should stop.
pub(crate) const WAIT_MS: i32 = 100;
/// At most this many frames per `sendmmsg` call.
const SEND_BATCH: usize = 64;

/// The layout of `struct tpacket_block_desc` (`linux/if_packet.h`): offsets of the fields read.
mod block_desc {
    /// `hdr.bh1.block_status`.
    pub(super) const STATUS: usize = 8;
    /// `hdr.bh1.num_pkts`.
    pub(super) const NUM_PKTS: usize = 12;
    /// `hdr.bh1.offset_to_first_pkt`.
    pub(super) const FIRST: usize = 16;
    /// `hdr.bh1.blk_len`: bytes of the block in use, header included.
    pub(super) const BLK_LEN: usize = 20;
    /// The descriptor's size.
    pub(super) const LEN: usize = 48;
}

/// The layout of `struct tpacket3_hdr`: offsets of the fields read.
mod pkt_hdr {
    /// `tp_next_offset`: from this header to the next (0 for the last).
    pub(super) const NEXT: usize = 0;
    /// `tp_snaplen`: bytes of the frame in the ring.
    pub(super) const SNAPLEN: usize = 12;
    /// `tp_len`: the frame's length on the wire.
    pub(super) const LEN: usize = 16;
    /// `tp_mac`: from this header to the frame's first byte.
    pub(super) const MAC: usize = 24;
    /// The header's size.
    pub(super) const SIZE: usize = 48;
}

/// Why a block (or a frame in it) could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BlockError {
    /// The block is shorter than its descriptor.
    #[error("the block has {have} bytes, less than its descriptor")]
    Truncated {
        /// The block's length.
        have: usize,
    },
    /// The descriptor's length of the block in use exceeds the block.
    #[error("the block says {blk_len} bytes are in use, but it has {have}")]
    BadLength {
        /// What the descriptor says.
        blk_len: u32,
        /// The block's length.
        have: usize,
    },
    /// A packet header lies (partly) outside the block in use; the rest is unreadable.
    #[error("packet header {index} at offset {offset} lies outside the block")]
    HeaderOutside {
        /// The frame's place in the block.
        index: u32,
        /// Its offset.
        offset: usize,
    },
    /// A packet header's next offset does not move past it; the rest is unreadable.
    #[error("packet header {index} gives the next one at +{next}")]
    BadNext {
        /// The frame's place in the block.
        index: u32,
        /// Its next offset.
        next: u32,
    },
    /// A frame's bytes lie (partly) outside the block, or over its own header: skipped.
    #[error("frame {index} ({snaplen} bytes at +{mac}) lies outside the block")]
    FrameOutside {
        /// The frame's place in the block.
        index: u32,
        /// Its offset from its header.
        mac: u16,
        /// Its length in the ring.
        snaplen: u32,
    },
    /// A frame was cut short by the ring (longer than a block can take): skipped.
    #[error("frame {index} has {snaplen} of its {len} bytes")]
    Cut {
        /// The frame's place in the block.
        index: u32,
        /// Bytes in the ring.
        snaplen: u32,
        /// Bytes on the wire.
        len: u32,
    },
}

impl BlockError {
    /// Whether the walk goes on after this error (only the one frame is lost).
    pub(crate) fn skips_one_frame(&self) -> bool {
        matches!(self, Self::FrameOutside { .. } | Self::Cut { .. })
    }
}

/// A native-endian `u32` at `at`, if the block holds it.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

/// A native-endian `u16` at `at`, if the block holds it.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// The frames of one `TPACKET_V3` block, in order ([`walk_block`]).
#[derive(Debug)]
pub(crate) struct BlockFrames<'a> {
    /// The block up to its length in use.
    block: &'a [u8],
    /// The next packet header's offset, `None` once the walk ended.
    at: Option<usize>,
    /// The next frame's place in the block.
    index: u32,
    /// Frames the descriptor announces.
    count: u32,
    /// An error found after the frame just given (a bad next offset), to give next.
    pending: Option<BlockError>,
}

/// Reads the descriptor of `block` (the bytes of one block of a `TPACKET_V3` ring, as the
/// kernel handed it over) and returns its frames: each an `Ok` slice of the block, or an
/// `Err` for a frame that cannot be read ([`BlockError::skips_one_frame`]: the walk goes on)
/// or a header that cannot (the walk ends there). Never reads outside `block`; never panics.
pub(crate) fn walk_block(block: &[u8]) -> Result<BlockFrames<'_>, BlockError> {
    let have = block.len();
    let (Some(count), Some(first), Some(blk_len)) = (
        u32_at(block, block_desc::NUM_PKTS),
        u32_at(block, block_desc::FIRST),
        u32_at(block, block_desc::BLK_LEN),
    ) else {
        return Err(BlockError::Truncated { have });
    };
    if have < block_desc::LEN {
        return Err(BlockError::Truncated { have });
    }
    let used = usize::try_from(blk_len)
        .ok()
        .filter(|n| *n <= have)
        .ok_or(BlockError::BadLength { blk_len, have })?;
    Ok(BlockFrames {
        block: block.get(..used).unwrap_or_default(),
        at: (count > 0).then(|| usize::try_from(first).unwrap_or(usize::MAX)),
        index: 0,
        count,
        pending: None,
    })
}

impl<'a> Iterator for BlockFrames<'a> {
    type Item = Result<&'a [u8], BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let at = self.at.take()?;
        let index = self.index;
        self.index += 1;
        let b = self.block;
        let header = at
            .checked_add(pkt_hdr::SIZE)
            .filter(|end| *end <= b.len())
            .and_then(|_| {
                Some((
                    u32_at(b, at + pkt_hdr::NEXT)?,
                    u32_at(b, at + pkt_hdr::SNAPLEN)?,
                    u32_at(b, at + pkt_hdr::LEN)?,
                    u16_at(b, at + pkt_hdr::MAC)?,
                ))
            });
        let Some((next, snaplen, len, mac)) = header else {
            return Some(Err(BlockError::HeaderOutside { index, offset: at }));
        };
        // The next header, if the descriptor announces one: strictly after this header, so
        // the walk ends within `len / 48` steps whatever the counts say.
        if self.index < self.count {
            if (next as usize) < pkt_hdr::SIZE {
                self.pending = Some(BlockError::BadNext { index, next });
            } else {
                self.at = Some(at.saturating_add(next as usize));
            }
        }
        let frame = usize::from(mac).checked_sub(pkt_hdr::SIZE).and_then(|_| {
            let start = at.checked_add(usize::from(mac))?;
            b.get(start..start.checked_add(usize::try_from(snaplen).ok()?)?)
        });
        let Some(frame) = frame else {
            return Some(Err(BlockError::FrameOutside {
                index,
                mac,
                snaplen,
            }));
        };
        if snaplen < len {
            return Some(Err(BlockError::Cut {
                index,
                snaplen,
                len,
            }));
        }
        Some(Ok(frame))
    }
}

/// What a step of opening the ring was, for its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `socket(AF_PACKET, SOCK_RAW)`.
    Socket,
    /// `PACKET_VERSION = TPACKET_V3` (Linux 3.2 and later).
    Version,
    /// `PACKET_RX_RING`.
    Ring,
    /// `mmap` of the ring.
    Map,
    /// `bind` to the interface.
    Bind,
}

impl core::fmt::Display for Step {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Socket => "socket(AF_PACKET, SOCK_RAW)",
            Self::Version => "PACKET_VERSION = TPACKET_V3",
            Self::Ring => "PACKET_RX_RING",
            Self::Map => "mmap of the receive ring",
            Self::Bind => "bind to the interface",
        })
    }
}

/// A failed step of [`open`], with the kernel's errno.
#[derive(Debug)]
pub(crate) struct OpenError {
    /// The step.
    pub(crate) step: Step,
    /// The kernel's answer.
    pub(crate) source: io::Error,
}

/// The sending side of a station interface's packet socket, shared by the driver (which
/// sends) and the receive thread's ring (which keeps it open).
#[derive(Debug)]
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    /// Whether the kernel keeps the socket's own sends out of its ring.
    pub(crate) ignores_outgoing: bool,
}

/// The receive ring of a station interface's packet socket, read by one thread.
#[derive(Debug)]
pub(crate) struct RxRing {
    sock: std::sync::Arc<PacketSocket>,
    map: NonNull<u8>,
    /// The block to read next.
    next: usize,
}

// SAFETY: the mapping is owned by this value alone (it is unmapped in `Drop`), and the raw
// pointer is only dereferenced through `&mut self`: moving the ring to the receive thread moves
// that exclusive ownership with it.
unsafe impl Send for RxRing {}

/// The `errno` of the last failed call.
fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// Sets an `int`-sized or struct socket option of `SOL_PACKET`.
fn set_packet_option<T>(fd: &OwnedFd, option: libc::c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(core::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` points to a live `T` of `len` bytes for the duration of the call, and
    // the kernel only reads it; `fd` is an open socket.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            option,
            (value as *const T).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

/// Opens the batched packet socket of interface `ifindex`: see the [module
/// documentation](self). Errors name the step the kernel refused.
pub(crate) fn open(ifindex: u32) -> Result<(std::sync::Arc<PacketSocket>, RxRing), OpenError> {
    let fail = |step| move |source| OpenError { step, source };
    // SAFETY: a plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            0, // no protocol: nothing is received before the bind below
        )
    };
    if raw < 0 {
        return Err(fail(Step::Socket)(last_error()));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
    set_packet_option(&fd, libc::PACKET_VERSION, &version).map_err(fail(Step::Version))?;
    let ignores_outgoing =
        set_packet_option(&fd, libc::PACKET_IGNORE_OUTGOING, &(1 as libc::c_int)).is_ok();
    let frames_per_block = BLOCK_SIZE / FRAME_SIZE;
    let as_uint = |n: usize| libc::c_uint::try_from(n).unwrap_or(libc::c_uint::MAX);
    let req = libc::tpacket_req3 {
        tp_block_size: as_uint(BLOCK_SIZE),
        tp_block_nr: as_uint(BLOCK_COUNT),
        tp_frame_size: as_uint(FRAME_SIZE),
        tp_frame_nr: as_uint(frames_per_block * BLOCK_COUNT),
        tp_retire_blk_tov: RETIRE_MS,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    set_packet_option(&fd, libc::PACKET_RX_RING, &req).map_err(fail(Step::Ring))?;
    let len = BLOCK_SIZE * BLOCK_COUNT;
    // SAFETY: maps the ring the kernel just allocated for `fd` (of exactly `len` bytes); no
    // existing memory is touched; the result is checked before use.
    let addr = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(fail(Step::Map)(last_error()));
    }
    let Some(map) = NonNull::new(addr.cast::<u8>()) else {
        return Err(fail(Step::Map)(io::ErrorKind::AddrNotAvailable.into()));
    };
    let sock = std::sync::Arc::new(PacketSocket {
        fd,
        ignores_outgoing,
    });
    // From here on the mapping is unmapped by the ring's `Drop`, whatever fails next.
    let ring = RxRing { sock, map, next: 0 };
    bind(&ring.sock.fd, ifindex).map_err(fail(Step::Bind))?;
    Ok((ring.sock.clone(), ring))
}

/// Binds `fd` to interface `ifindex` for every EtherType.
fn bind(fd: &OwnedFd, ifindex: u32) -> io::Result<()> {
    let ifindex =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `sockaddr_ll` is plain data, valid when zeroed.
    let mut addr: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex;
    let len = core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` is a valid `sockaddr_ll` of `len` bytes, read by the kernel only.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

impl PacketSocket {
    /// Sends `frames` (whole Ethernet frames) on the interface, up to [`SEND_BATCH`] per
    /// `sendmmsg` call. A frame the kernel refuses is skipped (the rest still go). Returns
    /// how many frames and bytes left.
    pub(crate) fn send_batch(&self, frames: &[&[u8]]) -> (u64, u64) {
        let (mut packets, mut bytes) = (0u64, 0u64);
        let mut rest = frames;
        while !rest.is_empty() {
            let chunk = &rest[..rest.len().min(SEND_BATCH)];
            let mut iov: Vec<libc::iovec> = chunk
                .iter()
                .map(|f| libc::iovec {
                    iov_base: f.as_ptr().cast_mut().cast(),
                    iov_len: f.len(),
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iov
                .iter_mut()
                .map(|v| {
                    // SAFETY: `msghdr` is plain data, valid when zeroed (no name, no control).
                    let mut hdr: libc::msghdr = unsafe { core::mem::zeroed() };
                    hdr.msg_iov = v;
                    hdr.msg_iovlen = 1;
                    libc::mmsghdr {
                        msg_hdr: hdr,
                        msg_len: 0,
                    }
                })
                .collect();
            let n = libc::c_uint::try_from(msgs.len()).unwrap_or(0);
            // SAFETY: `msgs` holds `n` headers, each pointing at one `iovec` of `iov` that
            // points at a live frame of `chunk`; all outlive the call, and the kernel only
            // reads the frames (and writes `msg_len`).
            let sent = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), n, 0) };
            let done = match usize::try_from(sent) {
                Ok(k) if k > 0 => {
                    let k = k.min(chunk.len());
                    packets += k as u64;
                    bytes += chunk[..k].iter().map(|f| f.len() as u64).sum::<u64>();
                    k
                }
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => 0,
                // The first frame was refused (too long, the interface down): it is dropped.
                _ => 1,
            };
            rest = &rest[done..];
        }
        (packets, bytes)
    }
}

impl RxRing {
    /// The status word of block `i`.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block `i < BLOCK_COUNT` starts `i * BLOCK_SIZE` bytes into the mapping
        // (page-aligned), and its status word 8 bytes in: in bounds and 4-byte aligned. The
        // kernel and this process both access it atomically; it lives as long as `self`.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add((i % BLOCK_COUNT) * BLOCK_SIZE + block_desc::STATUS)
                .cast::<AtomicU32>()
        }
    }

    /// Waits up to `timeout_ms` for the next block the kernel handed over and gives `f` its
    /// bytes, then hands the block back. `Ok(false)`: no block came in time. An error is the
    /// socket's (the interface went away).
    pub(crate) fn next_block(
        &mut self,
        timeout_ms: i32,
        f: &mut dyn FnMut(&[u8]),
    ) -> io::Result<bool> {
        let i = self.next;
        if self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd {
                fd: self.sock.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            // SAFETY: one valid `pollfd` for the duration of the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if rc < 0 {
                let e = last_error();
                return match e.kind() {
                    io::ErrorKind::Interrupted => Ok(false),
                    _ => Err(e),
                };
            }
            if self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(self.socket_error());
                }
                return Ok(false);
            }
        }
        fence(Ordering::Acquire);
        {
            // SAFETY: block `i` lies within the mapping, and its status says the kernel handed
            // it over: the kernel does not write it until it is given back below, after this
            // borrow ends.
            let block = unsafe {
                core::slice::from_raw_parts(
                    self.map.as_ptr().add((i % BLOCK_COUNT) * BLOCK_SIZE),
                    BLOCK_SIZE,
                )
            };
            f(block);
        }
        fence(Ordering::Release);
        self.status(i)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.next = (i + 1) % BLOCK_COUNT;
        Ok(true)
    }

    /// The socket's pending error (`SO_ERROR`), or a generic one.
    fn socket_error(&self) -> io::Error {
        let mut err: libc::c_int = 0;
        let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid for writes of their sizes during the call.
        let rc = unsafe {
            libc::getsockopt(
                self.sock.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 && err != 0 {
            io::Error::from_raw_os_error(err)
        } else {
            io::Error::from(io::ErrorKind::NotConnected)
        }
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `open` made; no borrow of it outlives `&mut self`.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), BLOCK_SIZE * BLOCK_COUNT);
        }
    }
}

/// A block as the kernel lays it out, holding `frames` (tests and fuzz seeds): descriptor,
/// then each frame behind a 48-byte header at `tp_mac = 64`, headers 16-byte aligned.
#[cfg(test)]
pub(crate) fn build_block(frames: &[&[u8]]) -> Vec<u8> {
    const MAC: usize = 64;
    let mut b = vec![0u8; block_desc::LEN];
    let first = b.len();
    let mut prev: Option<usize> = None;
    for f in frames {
        let at = b.len();
        if let Some(p) = prev {
            let next = u32::try_from(at - p).expect("small block");
            b[p..p + 4].copy_from_slice(&next.to_ne_bytes());
        }
        b.resize(at + MAC, 0);
        let len = u32::try_from(f.len()).expect("small frame");
        b[at + pkt_hdr::SNAPLEN..at + pkt_hdr::SNAPLEN + 4].copy_from_slice(&len.to_ne_bytes());
        b[at + pkt_hdr::LEN..at + pkt_hdr::LEN + 4].copy_from_slice(&len.to_ne_bytes());
        b[at + pkt_hdr::MAC..at + pkt_hdr::MAC + 2]
            .copy_from_slice(&u16::try_from(MAC).expect("small").to_ne_bytes());
        b.extend_from_slice(f);
        b.resize(b.len().next_multiple_of(16), 0);
        prev = Some(at);
    }
    let count = u32::try_from(frames.len()).expect("few frames");
    let used = u32::try_from(b.len()).expect("small block");
    b[block_desc::STATUS..block_desc::STATUS + 4]
        .copy_from_slice(&libc::TP_STATUS_USER.to_ne_bytes());
    b[block_desc::NUM_PKTS..block_desc::NUM_PKTS + 4].copy_from_slice(&count.to_ne_bytes());
    b[block_desc::FIRST..block_desc::FIRST + 4]
        .copy_from_slice(&u32::try_from(first).expect("small").to_ne_bytes());
    b[block_desc::BLK_LEN..block_desc::BLK_LEN + 4].copy_from_slice(&used.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    fn frame(n: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| n.wrapping_add(i as u8)).collect()
    }

    fn set_u32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn the_offsets_read_are_those_of_the_kernel_structs() {
        assert_eq!(size_of::<libc::tpacket_block_desc>(), block_desc::LEN);
        let hdr = offset_of!(libc::tpacket_block_desc, hdr);
        assert_eq!(
            hdr + offset_of!(libc::tpacket_hdr_v1, block_status),
            block_desc::STATUS
        );
        assert_eq!(
            hdr + offset_of!(libc::tpacket_hdr_v1, num_pkts),
            block_desc::NUM_PKTS
        );
        assert_eq!(
            hdr + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt),
            block_desc::FIRST
        );
        assert_eq!(
            hdr + offset_of!(libc::tpacket_hdr_v1, blk_len),
            block_desc::BLK_LEN
        );
        assert_eq!(size_of::<libc::tpacket3_hdr>(), pkt_hdr::SIZE);
        assert_eq!(
            offset_of!(libc::tpacket3_hdr, tp_next_offset),
            pkt_hdr::NEXT
        );
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_snaplen), pkt_hdr::SNAPLEN);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_len), pkt_hdr::LEN);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_mac), pkt_hdr::MAC);
        const { assert!(BLOCK_SIZE % FRAME_SIZE == 0) };
        const { assert!(FRAME_SIZE >= libc::TPACKET3_HDRLEN) };
    }

    #[test]
    fn a_good_block_gives_its_frames_in_order() {
        let frames = [frame(1, 60), frame(2, 1514), frame(3, 98)];
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let block = build_block(&refs);
        let got: Vec<&[u8]> = walk_block(&block)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, refs);
        // Padding after the used part (the rest of a ring block) changes nothing.
        let mut padded = block.clone();
        padded.resize(BLOCK_SIZE, 0xee);
        assert_eq!(walk_block(&padded).unwrap().count(), 3);
    }

    #[test]
    fn an_empty_block_has_no_frames() {
        let block = build_block(&[]);
        assert_eq!(walk_block(&block).unwrap().count(), 0);
    }

    #[test]
    fn a_truncated_block_is_refused_or_stops_at_the_cut() {
        for have in [0, 7, 20, block_desc::LEN - 1] {
            assert_eq!(
                walk_block(&vec![0; have]).unwrap_err(),
                BlockError::Truncated { have }
            );
        }
        let f = [frame(1, 100), frame(2, 100)];
        let block = build_block(&[&f[0], &f[1]]);
        // The block cut, its descriptor still claiming the whole length: refused.
        let cut = &block[..block.len() - 10];
        assert!(matches!(
            walk_block(cut).unwrap_err(),
            BlockError::BadLength { .. }
        ));
        // The descriptor's length cut inside the second frame: the first one is read, the
        // second one skipped.
        let mut short = block.clone();
        set_u32(&mut short, block_desc::BLK_LEN, (block.len() - 40) as u32);
        let got: Vec<_> = walk_block(&short).unwrap().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok(&f[0][..]));
        assert!(matches!(
            got[1],
            Err(BlockError::FrameOutside { index: 1, .. })
        ));
        // Cut inside the second header: the walk ends there.
        set_u32(&mut short, block_desc::BLK_LEN, 48 + 64 + 112 + 20);
        let got: Vec<_> = walk_block(&short).unwrap().collect();
        assert!(matches!(
            got[1],
            Err(BlockError::HeaderOutside { index: 1, .. })
        ));
    }

    #[test]
    fn offsets_pointing_outside_are_errors_never_reads() {
        let f = [frame(1, 100), frame(2, 100), frame(3, 100)];
        let block = build_block(&[&f[0], &f[1], &f[2]]);
        // The first packet beyond the block.
        let mut b = block.clone();
        set_u32(&mut b, block_desc::FIRST, u32::MAX);
        let got: Vec<_> = walk_block(&b).unwrap().collect();
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Err(BlockError::HeaderOutside { .. })));
        // A frame's tp_mac past the block: skipped, the walk goes on.
        let mut b = block.clone();
        b[48 + pkt_hdr::MAC..48 + pkt_hdr::MAC + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        let got: Vec<_> = walk_block(&b).unwrap().collect();
        assert!(matches!(got[0], Err(e) if e.skips_one_frame()));
        assert_eq!(got[1..], [Ok(&f[1][..]), Ok(&f[2][..])]);
        // tp_mac inside the frame's own header: skipped.
        let mut b = block.clone();
        b[48 + pkt_hdr::MAC..48 + pkt_hdr::MAC + 2].copy_from_slice(&10u16.to_ne_bytes());
        assert!(matches!(
            walk_block(&b).unwrap().next(),
            Some(Err(BlockError::FrameOutside { mac: 10, .. }))
        ));
        // A snap length past the block.
        let mut b = block.clone();
        set_u32(&mut b, 48 + pkt_hdr::SNAPLEN, u32::MAX);
        set_u32(&mut b, 48 + pkt_hdr::LEN, u32::MAX);
        assert!(matches!(
            walk_block(&b).unwrap().next(),
            Some(Err(BlockError::FrameOutside { .. }))
        ));
        // A next offset that does not move on (0, or into the header): the walk ends.
        for next in [0, 1, 47] {
            let mut b = block.clone();
            set_u32(&mut b, 48 + pkt_hdr::NEXT, next);
            let got: Vec<_> = walk_block(&b).unwrap().collect();
            assert_eq!(
                got,
                [Ok(&f[0][..]), Err(BlockError::BadNext { index: 0, next })]
            );
        }
        // A next offset past the block.
        let mut b = block.clone();
        set_u32(&mut b, 48 + pkt_hdr::NEXT, u32::MAX);
        let got: Vec<_> = walk_block(&b).unwrap().collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], Err(BlockError::HeaderOutside { .. })));
        // A frame cut by the ring (snaplen < len): skipped.
        let mut b = block.clone();
        set_u32(&mut b, 48 + pkt_hdr::LEN, 9000);
        let got: Vec<_> = walk_block(&b).unwrap().collect();
        assert_eq!(
            got[0],
            Err(BlockError::Cut {
                index: 0,
                snaplen: 100,
                len: 9000
            })
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn zero_length_frames_are_empty_slices() {
        let block = build_block(&[&[], &frame(1, 14), &[]]);
        let got: Vec<_> = walk_block(&block).unwrap().collect();
        assert_eq!(got, [Ok(&[][..]), Ok(&frame(1, 14)[..]), Ok(&[][..])]);
    }

    #[test]
    fn a_block_of_many_frames_is_walked_whole_and_a_lying_count_is_bounded() {
        let frames: Vec<Vec<u8>> = (0..400).map(|i| frame(i as u8, 60 + i % 7)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let block = build_block(&refs);
        assert!(block.len() <= BLOCK_SIZE);
        let got: Vec<&[u8]> = walk_block(&block)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, refs);
        // A count beyond what is there: the last header's next offset (0) ends the walk.
        let mut b = block.clone();
        set_u32(&mut b, block_desc::NUM_PKTS, u32::MAX);
        let got: Vec<_> = walk_block(&b).unwrap().collect();
        assert_eq!(got.len(), 401);
        assert_eq!(got[399], Ok(refs[399]));
        assert!(matches!(
            got[400],
            Err(BlockError::BadNext {
                index: 399,
                next: 0
            })
        ));
        // A count below it: only that many.
        set_u32(&mut b, block_desc::NUM_PKTS, 3);
        assert_eq!(walk_block(&b).unwrap().count(), 3);
    }

    /// Frames sent on `lo` in one batch come back through the ring, once each: the socket's
    /// own outgoing copies are not in it. Needs CAP_NET_RAW (root): run with `--ignored`.
    #[test]
    #[ignore = "needs root (CAP_NET_RAW): a packet socket on lo"]
    fn a_batch_sent_on_lo_comes_back_through_the_ring_once() {
        const ETHERTYPE: u16 = 0x88b6; // IEEE local experimental
        let lo: u32 = std::fs::read_to_string("/sys/class/net/lo/ifindex")
            .expect("lo")
            .trim()
            .parse()
            .expect("an index");
        let (sock, mut ring) = open(lo).expect("the ring on lo");
        let marker: u64 = std::process::id() as u64 ^ 0x7770_6b74;
        let frames: Vec<Vec<u8>> = (0..10u8)
            .map(|i| {
                let mut f = vec![0xff; 6];
                f.extend_from_slice(&[2, 0, 0, 0, 0, i]);
                f.extend_from_slice(&ETHERTYPE.to_be_bytes());
                f.extend_from_slice(&marker.to_be_bytes());
                f.push(i);
                f.resize(60, 0);
                f
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        assert_eq!(sock.send_batch(&refs), (10, 600));
        let mut seen: Vec<u8> = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            ring.next_block(50, &mut |block| {
                for f in walk_block(block).into_iter().flatten().flatten() {
                    if f.get(12..14) == Some(&ETHERTYPE.to_be_bytes()[..])
                        && f.get(14..22) == Some(&marker.to_be_bytes()[..])
                    {
                        seen.push(f[22]);
                    }
                }
            })
            .expect("ring");
        }
        let copies = if sock.ignores_outgoing { 1 } else { 2 };
        let mut want: Vec<u8> = (0..10).flat_map(|i| vec![i; copies]).collect();
        want.sort_unstable();
        seen.sort_unstable();
        assert_eq!(seen, want, "ignores outgoing: {}", sock.ignores_outgoing);
    }
}
