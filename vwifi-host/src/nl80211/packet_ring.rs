//! A batched packet socket on a station's interface (issue 12, item 2): frames from the air
//! arrive in a `TPACKET_V2` receive ring shared with the kernel, one fixed-size slot per frame,
//! and the guest's frames leave with one `sendmmsg` per batch.
//!
//! The socket is `AF_PACKET`/`SOCK_RAW`, created with protocol 0 (it receives nothing yet),
//! given `PACKET_VERSION = TPACKET_V2`, `PACKET_IGNORE_OUTGOING` (it does not see its own
//! sends; refused by kernels before 4.20, when the caller's source-address filter is what keeps
//! them out) and a `PACKET_RX_RING` of [`SLOT_COUNT`] slots of [`FRAME_SIZE`] bytes (in
//! [`BLOCK_COUNT`] blocks of [`BLOCK_SIZE`]), mapped into the daemon; only then is it bound to
//! the interface for every EtherType. The kernel hands a slot over (its status turns
//! `TP_STATUS_USER`) as soon as a frame is in it and wakes the reader then, so a lone frame (a
//! ping) waits for nothing; a reader that wakes to find several slots ready takes them all in
//! one pass ([`RxRing::next_slots`], at most [`PASS_MAX`]), which is the batch under load.
//! (`TPACKET_V3`, tried first, hands over whole blocks, when full or at a retire timeout the
//! kernel rounds up to its timer tick: a lone frame waited up to 4 ms.) Each slot's header is
//! read by [`read_slot`], safe code over a byte slice, and the slot is given back.
//!
//! Everything read from the ring is treated as untrusted: the parser checks the header's
//! offset and lengths against the slot and refuses what does not fit, never panicking. The
//! `unsafe` code here is the FFI (socket options, `mmap`, `poll`, `sendmmsg`) and the view of
//! a slot the kernel handed over, each with its `SAFETY` argument.

use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Bytes in one block of the receive ring (a multiple of the page size and of [`FRAME_SIZE`]).
pub(crate) const BLOCK_SIZE: usize = 1 << 16;
/// Blocks in the ring (2 MiB per station interface).
pub(crate) const BLOCK_COUNT: usize = 32;
/// Bytes in one slot: its header, the kernel's `sockaddr_ll`, then the frame at `tp_mac`
/// (66 for Ethernet), so a frame of up to 4,030 bytes fits whole.
pub(crate) const FRAME_SIZE: usize = 4096;
/// Slots in a block.
const FRAMES_PER_BLOCK: usize = BLOCK_SIZE / FRAME_SIZE;
/// Slots in the ring.
pub(crate) const SLOT_COUNT: usize = FRAMES_PER_BLOCK * BLOCK_COUNT;
/// At most this many ready slots taken in one pass, so that the frames of a pass are handed
/// on while the kernel keeps filling the ring.
pub(crate) const PASS_MAX: usize = 64;
/// How long a wait for a frame lasts before the reader checks whether it should stop.
pub(crate) const WAIT_MS: i32 = 100;
/// At most this many frames per `sendmmsg` call.
const SEND_BATCH: usize = 64;

/// The layout of `struct tpacket2_hdr` (`linux/if_packet.h`): offsets of the fields read.
mod slot_hdr {
    /// `tp_status`: whose the slot is (`TP_STATUS_KERNEL` or `TP_STATUS_USER` and flags).
    pub(super) const STATUS: usize = 0;
    /// `tp_len`: the frame's length on the wire.
    pub(super) const LEN: usize = 4;
    /// `tp_snaplen`: bytes of the frame in the slot.
    pub(super) const SNAPLEN: usize = 8;
    /// `tp_mac`: from the slot's start to the frame's first byte.
    pub(super) const MAC: usize = 12;
    /// `tp_net`: from the slot's start to the network header (not read; the seeds set it).
    #[cfg(test)]
    pub(super) const NET: usize = 14;
    /// The header's size.
    pub(super) const SIZE: usize = 32;
}

/// Why a slot's frame could not be read (the frame is counted as dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SlotError {
    /// The slot is shorter than its header.
    #[error("the slot has {have} bytes, less than its header")]
    Truncated {
        /// The slot's length.
        have: usize,
    },
    /// The frame lies (partly) outside the slot, or over its header.
    #[error("the frame ({snaplen} bytes at +{mac}) lies outside the slot of {have} bytes")]
    FrameOutside {
        /// Its offset from the slot's start.
        mac: u16,
        /// Its length in the slot.
        snaplen: u32,
        /// The slot's length.
        have: usize,
    },
    /// The frame was cut short by the ring (longer than a slot takes).
    #[error("the frame has {snaplen} of its {len} bytes")]
    Cut {
        /// Bytes in the slot.
        snaplen: u32,
        /// Bytes on the wire.
        len: u32,
    },
}

/// A native-endian `u32` at `at`, if the slot holds it.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

/// A native-endian `u16` at `at`, if the slot holds it.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// Reads the header of `slot` (the bytes of one slot of a `TPACKET_V2` ring, as the kernel
/// handed it over) and returns its frame, a slice of the slot. The header is untrusted: the
/// frame must start after it and end within the slot, and be whole (`tp_snaplen` not less than
/// `tp_len`). Never reads outside `slot`; never panics.
pub(crate) fn read_slot(slot: &[u8]) -> Result<&[u8], SlotError> {
    let have = slot.len();
    let (Some(len), Some(snaplen), Some(mac)) = (
        u32_at(slot, slot_hdr::LEN),
        u32_at(slot, slot_hdr::SNAPLEN),
        u16_at(slot, slot_hdr::MAC),
    ) else {
        return Err(SlotError::Truncated { have });
    };
    if have < slot_hdr::SIZE {
        return Err(SlotError::Truncated { have });
    }
    let start = usize::from(mac);
    let frame = (start >= slot_hdr::SIZE)
        .then(|| slot.get(start..start.checked_add(usize::try_from(snaplen).ok()?)?))
        .flatten()
        .ok_or(SlotError::FrameOutside { mac, snaplen, have })?;
    if snaplen < len {
        return Err(SlotError::Cut { snaplen, len });
    }
    Ok(frame)
}

/// What a step of opening the ring was, for its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `socket(AF_PACKET, SOCK_RAW)`.
    Socket,
    /// `PACKET_VERSION = TPACKET_V2` (Linux 2.6.27 and later).
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
            Self::Version => "PACKET_VERSION = TPACKET_V2",
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
    /// The slot to read next (the kernel fills them in order).
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
    let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
    set_packet_option(&fd, libc::PACKET_VERSION, &version).map_err(fail(Step::Version))?;
    let ignores_outgoing =
        set_packet_option(&fd, libc::PACKET_IGNORE_OUTGOING, &(1 as libc::c_int)).is_ok();
    let as_uint = |n: usize| libc::c_uint::try_from(n).unwrap_or(libc::c_uint::MAX);
    let req = libc::tpacket_req {
        tp_block_size: as_uint(BLOCK_SIZE),
        tp_block_nr: as_uint(BLOCK_COUNT),
        tp_frame_size: as_uint(FRAME_SIZE),
        tp_frame_nr: as_uint(SLOT_COUNT),
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
    /// The status word of slot `i`.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: slot `i % SLOT_COUNT` starts `(i % SLOT_COUNT) * FRAME_SIZE` bytes into the
        // mapping (blocks are whole multiples of slots, so slots lie back to back), and its
        // status word is the slot's first: in bounds and 4-byte aligned (the mapping is
        // page-aligned, `FRAME_SIZE` a multiple of 16). The kernel and this process both
        // access it atomically; it lives as long as `self`.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add((i % SLOT_COUNT) * FRAME_SIZE + slot_hdr::STATUS)
                .cast::<AtomicU32>()
        }
    }

    /// Whether the kernel handed slot `i` over.
    fn ready(&self, i: usize) -> bool {
        self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Waits up to `timeout_ms` for the next slot the kernel hands over, then gives `f` the
    /// bytes of every consecutive slot that is ready (at most [`PASS_MAX`]), in order, handing
    /// each back after it. Returns how many slots `f` saw (0: none came in time). An error is
    /// the socket's (the interface went away).
    pub(crate) fn next_slots(
        &mut self,
        timeout_ms: i32,
        f: &mut dyn FnMut(&[u8]),
    ) -> io::Result<usize> {
        if !self.ready(self.next) {
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
                    io::ErrorKind::Interrupted => Ok(0),
                    _ => Err(e),
                };
            }
            if !self.ready(self.next) {
                if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(self.socket_error());
                }
                return Ok(0);
            }
        }
        let mut taken = 0;
        while taken < PASS_MAX && self.ready(self.next) {
            let i = self.next;
            fence(Ordering::Acquire);
            {
                // SAFETY: slot `i` lies within the mapping (see `status`), and its status says
                // the kernel handed it over: the kernel does not write it until it is given
                // back below, after this borrow ends.
                let slot = unsafe {
                    core::slice::from_raw_parts(
                        self.map.as_ptr().add((i % SLOT_COUNT) * FRAME_SIZE),
                        FRAME_SIZE,
                    )
                };
                f(slot);
            }
            fence(Ordering::Release);
            self.status(i)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.next = (i + 1) % SLOT_COUNT;
            taken += 1;
        }
        Ok(taken)
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

/// Where the kernel puts an Ethernet frame in a slot: `TPACKET_ALIGN(TPACKET2_HDRLEN + 16)`
/// for the network header, less the 14-byte MAC header.
#[cfg(test)]
const ETH_MAC: usize = 66;

/// A slot as the kernel lays it out, holding `frame` (tests and fuzz seeds): the header (status
/// `TP_STATUS_USER`, `tp_mac = 66`, `tp_net = 80`), then the frame, padded to 16 bytes (a ring
/// slot is [`FRAME_SIZE`] bytes; the parser takes any length).
#[cfg(test)]
pub(crate) fn build_slot(frame: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; ETH_MAC];
    let len = u32::try_from(frame.len()).expect("small frame");
    s[slot_hdr::STATUS..slot_hdr::STATUS + 4].copy_from_slice(&libc::TP_STATUS_USER.to_ne_bytes());
    s[slot_hdr::LEN..slot_hdr::LEN + 4].copy_from_slice(&len.to_ne_bytes());
    s[slot_hdr::SNAPLEN..slot_hdr::SNAPLEN + 4].copy_from_slice(&len.to_ne_bytes());
    s[slot_hdr::MAC..slot_hdr::MAC + 2]
        .copy_from_slice(&u16::try_from(ETH_MAC).expect("small").to_ne_bytes());
    s[slot_hdr::NET..slot_hdr::NET + 2]
        .copy_from_slice(&u16::try_from(ETH_MAC + 14).expect("small").to_ne_bytes());
    s.extend_from_slice(frame);
    s.resize(s.len().next_multiple_of(16), 0);
    s
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

    fn set_mac(b: &mut [u8], mac: u16) {
        b[slot_hdr::MAC..slot_hdr::MAC + 2].copy_from_slice(&mac.to_ne_bytes());
    }

    #[test]
    fn the_offsets_read_are_those_of_the_kernel_structs() {
        assert_eq!(size_of::<libc::tpacket2_hdr>(), slot_hdr::SIZE);
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_status), slot_hdr::STATUS);
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_len), slot_hdr::LEN);
        assert_eq!(
            offset_of!(libc::tpacket2_hdr, tp_snaplen),
            slot_hdr::SNAPLEN
        );
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_mac), slot_hdr::MAC);
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_net), slot_hdr::NET);
        // The kernel's offset of an Ethernet frame: header and sockaddr_ll, then room for a
        // 16-byte MAC header before the aligned network header.
        assert_eq!(
            (libc::TPACKET2_HDRLEN + 16).next_multiple_of(libc::TPACKET_ALIGNMENT) - 14,
            ETH_MAC
        );
        const { assert!(BLOCK_SIZE % FRAME_SIZE == 0) };
        const { assert!(FRAME_SIZE % 16 == 0) };
        const { assert!(FRAME_SIZE >= ETH_MAC + 4000) };
        const { assert!(BLOCK_SIZE * BLOCK_COUNT <= 2 << 20) };
        const { assert!(PASS_MAX <= SLOT_COUNT) };
    }

    #[test]
    fn a_good_slot_gives_its_frame() {
        for f in [frame(1, 60), frame(2, 1514), frame(3, 98), frame(4, 4030)] {
            let slot = build_slot(&f);
            assert_eq!(read_slot(&slot), Ok(&f[..]));
            // The rest of a ring slot after the frame changes nothing.
            let mut whole = slot.clone();
            whole.resize(FRAME_SIZE, 0xee);
            assert_eq!(read_slot(&whole), Ok(&f[..]));
        }
        // The largest frame a ring slot holds.
        let mut whole = build_slot(&frame(5, FRAME_SIZE - ETH_MAC));
        whole.truncate(FRAME_SIZE);
        assert_eq!(read_slot(&whole).map(<[u8]>::len), Ok(FRAME_SIZE - ETH_MAC));
    }

    #[test]
    fn a_truncated_slot_is_refused() {
        for have in [0, 3, 7, 13, slot_hdr::SIZE - 1] {
            assert_eq!(
                read_slot(&vec![0; have]),
                Err(SlotError::Truncated { have })
            );
        }
        // Cut inside the frame: the frame lies outside what is left.
        let slot = build_slot(&frame(1, 100));
        let cut = &slot[..ETH_MAC + 50];
        assert_eq!(
            read_slot(cut),
            Err(SlotError::FrameOutside {
                mac: ETH_MAC as u16,
                snaplen: 100,
                have: ETH_MAC + 50
            })
        );
    }

    #[test]
    fn offsets_pointing_outside_are_errors_never_reads() {
        let slot = build_slot(&frame(1, 100));
        // tp_mac past the slot.
        for mac in [u16::MAX, FRAME_SIZE as u16, slot.len() as u16] {
            let mut s = slot.clone();
            set_mac(&mut s, mac);
            assert!(matches!(
                read_slot(&s),
                Err(SlotError::FrameOutside { mac: m, .. }) if m == mac
            ));
        }
        // tp_mac inside the header.
        for mac in [0, 10, slot_hdr::SIZE as u16 - 1] {
            let mut s = slot.clone();
            set_mac(&mut s, mac);
            assert!(matches!(read_slot(&s), Err(SlotError::FrameOutside { .. })));
        }
        // Right after the header is allowed (the bytes are the slot's).
        let mut s = slot.clone();
        set_mac(&mut s, slot_hdr::SIZE as u16);
        assert_eq!(read_slot(&s).map(<[u8]>::len), Ok(100));
        // A snap length past the slot.
        for snaplen in [u32::MAX, 4096, slot.len() as u32] {
            let mut s = slot.clone();
            set_u32(&mut s, slot_hdr::SNAPLEN, snaplen);
            set_u32(&mut s, slot_hdr::LEN, snaplen);
            assert!(matches!(read_slot(&s), Err(SlotError::FrameOutside { .. })));
        }
    }

    #[test]
    fn a_zero_length_frame_is_an_empty_slice() {
        assert_eq!(read_slot(&build_slot(&[])), Ok(&[][..]));
        let mut s = build_slot(&[]);
        s.truncate(ETH_MAC);
        assert_eq!(read_slot(&s), Ok(&[][..]));
    }

    #[test]
    fn a_frame_cut_by_the_ring_is_an_error() {
        let mut s = build_slot(&frame(1, 100));
        set_u32(&mut s, slot_hdr::LEN, 9000);
        assert_eq!(
            read_slot(&s),
            Err(SlotError::Cut {
                snaplen: 100,
                len: 9000
            })
        );
        // A length below the snap length is not a cut (the bytes are there).
        set_u32(&mut s, slot_hdr::LEN, 60);
        assert_eq!(read_slot(&s).map(<[u8]>::len), Ok(100));
    }

    /// Frames sent on `lo` in one batch come back through the ring, once each: the socket's
    /// own outgoing copies are not in it; and a pass takes every slot that is ready. Needs
    /// CAP_NET_RAW (root): run with `--ignored`.
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
        // Larger than a V3 frame size, smaller than a slot: comes whole.
        let mut big = refs[0].to_vec();
        big[22] = 10;
        big.resize(3000, 0x5a);
        assert_eq!(sock.send_batch(&[&big]), (1, 3000));
        let copies = if sock.ignores_outgoing { 1 } else { 2 };
        let mut seen: Vec<u8> = Vec::new();
        // Passes that carried at least one of this test's frames (`lo` also carries whatever
        // else runs on the machine, other tests' traffic included).
        let mut passes = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            let before = seen.len();
            let n = ring
                .next_slots(50, &mut |slot| {
                    if let Ok(f) = read_slot(slot) {
                        if f.get(12..14) == Some(&ETHERTYPE.to_be_bytes()[..])
                            && f.get(14..22) == Some(&marker.to_be_bytes()[..])
                        {
                            seen.push(f[22]);
                            if f[22] == 10 {
                                assert_eq!(f, &big[..]);
                            }
                        }
                    }
                })
                .expect("ring");
            assert!(n <= PASS_MAX);
            passes += usize::from(seen.len() > before);
        }
        let mut want: Vec<u8> = (0..11).flat_map(|i| vec![i; copies]).collect();
        want.sort_unstable();
        seen.sort_unstable();
        assert_eq!(seen, want, "ignores outgoing: {}", sock.ignores_outgoing);
        // All eleven were queued before the first read: they came in fewer passes than frames.
        assert!(passes < 11 * copies, "{passes} passes");
    }
}
