//! A guest TAP's data path with virtio-net headers: offloaded reads cut into MSDU-sized frames,
//! drained in batches, and writes behind a plain header.
//!
//! An attached namespace's TAP is opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
//! (`TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`, plus `TUN_F_USO4 | TUN_F_USO6` where the kernel has
//! them; tun-rs's `offload(true)`). The container's kernel then hands over TCP sends of up to
//! 64 KiB with their checksums left to complete: one read instead of some forty, and no
//! segmentation in the container. [`TapIo::recv_batch`] waits for one read, takes whatever else
//! is readable without waiting (until it holds [`BATCH`] frames), and cuts every GSO frame into frames
//! that fit an MSDU with complete checksums ([`vwifi_core::offload::segment`]); what goes on the
//! air is the same sequence of ordinary frames the container's kernel would have sent.
//!
//! Frames to the container go out behind a header that asks for nothing
//! ([`VnetHeader::PLAIN`]: no segmentation, and no `DATA_VALID` either, so the container's
//! kernel still verifies every checksum: a frame from another guest is not trusted).
//!
//! # Writes never wait
//! A write to the container never blocks the port's task (nor, through it, the driver): each
//! is tried once without waiting, and a write the kernel refuses for a reason that concerns
//! only this frame or this moment (`EAGAIN`, `ENOBUFS`, `ENOMEM`, `EIO` while the container has
//! its interface down, `EINVAL`/`EMSGSIZE` for a frame it will not take) drops that frame,
//! counted ([`Written::dropped`], `tap_write_dropped` in the status), and the port goes on.
//! Only an error that means the TAP itself is gone (`EBADFD`, ...) ends the port.
//!
//! A TAP whose offloads could not be turned on (a kernel without `IFF_VNET_HDR`) is served
//! without headers, frame by frame as before ([`TapIo::new`] with `vnet: false`).

use std::io;

use bytes::Bytes;
use vwifi_core::offload::{self, OffloadError, VnetHeader, VNET_HDR_LEN};

use super::io_errors::write_refused_for_now;

/// Reads are taken from a TAP until a wake-up has given this many frames (or nothing more is
/// readable); also the most data messages written to it per turn.
pub(crate) const BATCH: usize = 64;

/// The largest read: a 64 KiB GSO frame, its Ethernet header and the virtio-net header.
const READ_BUFFER: usize = VNET_HDR_LEN + 14 + 65_536;

/// The header written before every frame to the container.
const PLAIN_HEADER: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

/// What a batch of writes did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Frames dropped because the kernel refused their write for the moment (see the
    /// [module documentation](self)); a coalesced write counts its segments.
    pub(crate) dropped: u64,
    /// The last refusal, for the log.
    pub(crate) last_error: Option<i32>,
}

/// Writes `bufs` once without waiting (again if interrupted): `Ok(false)` if the kernel
/// refused it for now ([`write_refused_for_now`]), the error if the TAP failed.
fn try_write(
    tap: &tun_rs::AsyncDevice,
    bufs: &[io::IoSlice<'_>],
    out: &mut Written,
) -> io::Result<bool> {
    loop {
        let r = match bufs {
            [one] => tap.try_send(one),
            _ => tap.try_send_vectored(bufs),
        };
        match r {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if write_refused_for_now(&e) => {
                out.last_error = e.raw_os_error();
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
}

/// One TAP's read and write state.
#[derive(Debug)]
pub(crate) struct TapIo {
    /// Whether the TAP speaks virtio-net headers.
    vnet: bool,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    /// The writes of one batch: header, frame and how many frames it carries.
    writes: Vec<([u8; VNET_HDR_LEN], Bytes, usize)>,
}

/// What one batch read gave.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The frames, in order, each a whole Ethernet frame.
    pub(crate) frames: Vec<Bytes>,
    /// GSO frames refused (bad header, too-long segments): dropped.
    pub(crate) refused: u64,
    /// The last refusal, for the log.
    pub(crate) last_error: Option<OffloadError>,
}

impl TapIo {
    /// The state of a TAP opened with (`vnet`) or without virtio-net headers.
    pub(crate) fn new(vnet: bool) -> Self {
        Self {
            vnet,
            buf: vec![0; READ_BUFFER],
            scratch: Vec::with_capacity(offload::MAX_MSDU_FRAME_LEN),
            writes: Vec::new(),
        }
    }

    /// Whether the TAP speaks virtio-net headers.
    pub(crate) fn vnet(&self) -> bool {
        self.vnet
    }

    /// Waits until the TAP is readable, then reads until [`BATCH`] frames without waiting again,
    /// cutting offloaded ones into MSDU-sized frames, into `out` (cleared first). Cancel-safe:
    /// the only wait is for the first read.
    pub(crate) async fn recv_batch(
        &mut self,
        tap: &tun_rs::AsyncDevice,
        out: &mut Batch,
    ) -> io::Result<()> {
        out.frames.clear();
        let n = tap.recv(&mut self.buf).await?;
        self.take(n, out);
        // Up to BATCH frames: one read of a large send may already give 45.
        while out.frames.len() < BATCH {
            match tap.try_recv(&mut self.buf) {
                Ok(n) => self.take(n, out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Takes the `n` bytes read into the buffer.
    fn take(&mut self, n: usize, out: &mut Batch) {
        let raw = self.buf.get(..n).unwrap_or_default();
        if !self.vnet {
            out.frames.push(Bytes::copy_from_slice(raw));
            return;
        }
        let cut = VnetHeader::parse(raw).and_then(|hdr| {
            let frame = raw.get(VNET_HDR_LEN..).unwrap_or_default();
            let frames = &mut out.frames;
            offload::segment(&hdr, frame, offload::MAX_MSDU_FRAME_LEN, |f| frames.push(f))
        });
        if let Err(e) = cut {
            out.refused += 1;
            out.last_error = Some(e);
        }
    }

    /// Writes `frames` to the container in order, never waiting (see the
    /// [module documentation](self)); with virtio-net headers, runs of TCP segments of one
    /// flow go as one coalesced frame ([`offload::coalesce`]): one write and one packet for the
    /// container's stack instead of up to [`offload::MAX_COALESCED_SEGMENTS`].
    pub(crate) fn send_batch(
        &mut self,
        tap: &tun_rs::AsyncDevice,
        frames: &[Bytes],
    ) -> io::Result<Written> {
        let mut out = Written::default();
        if !self.vnet {
            for f in frames {
                if !try_write(tap, &[io::IoSlice::new(f)], &mut out)? {
                    out.dropped += 1;
                }
            }
            return Ok(out);
        }
        // The whole batch is coalesced first, then written: writing each run as it is
        // joined gave 3 % less with WPA2 on the 2-core machine (alternated runs), the
        // receivers woken while the batch's work was still to do.
        self.writes.clear();
        offload::coalesce(frames, &mut self.scratch, |c| {
            self.writes.push(match c {
                offload::Coalesced::Single(i) => (PLAIN_HEADER, frames[i].clone(), 1),
                // One copy: the headers and the payloads where they are.
                offload::Coalesced::Run(run) => (
                    run.header.to_bytes(),
                    Bytes::from(run.to_vec()),
                    run.segments(),
                ),
            });
        });
        for (hdr, f, segments) in self.writes.drain(..) {
            let bufs = [io::IoSlice::new(&hdr), io::IoSlice::new(&f)];
            if !try_write(tap, &bufs, &mut out)? {
                out.dropped += segments as u64;
            }
        }
        Ok(out)
    }

    /// Writes one frame to the container (behind a plain header if the TAP has headers),
    /// never waiting: a refused write drops it ([`Written`]).
    pub(crate) fn send(&self, tap: &tun_rs::AsyncDevice, frame: &[u8]) -> io::Result<Written> {
        let mut out = Written::default();
        let written = if self.vnet {
            let bufs = [io::IoSlice::new(&PLAIN_HEADER), io::IoSlice::new(frame)];
            try_write(tap, &bufs, &mut out)?
        } else {
            try_write(tap, &[io::IoSlice::new(frame)], &mut out)?
        };
        if !written {
            out.dropped = 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_read_is_one_frame_and_a_bad_gso_read_is_refused_and_counted() {
        let mut io = TapIo::new(true);
        let mut batch = Batch::default();
        let frame = [2u8, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3, 4];
        io.buf[..VNET_HDR_LEN].copy_from_slice(&VnetHeader::PLAIN.to_bytes());
        io.buf[VNET_HDR_LEN..VNET_HDR_LEN + frame.len()].copy_from_slice(&frame);
        io.take(VNET_HDR_LEN + frame.len(), &mut batch);
        assert_eq!(batch.frames, [Bytes::copy_from_slice(&frame)]);

        // A TCPv4 GSO header on an ARP frame: refused, nothing handed on.
        io.buf[1] = 1;
        io.buf[4] = 100;
        io.take(VNET_HDR_LEN + frame.len(), &mut batch);
        assert_eq!(batch.frames.len(), 1);
        assert_eq!(batch.refused, 1);
        assert!(batch.last_error.is_some());

        // A runt read (shorter than the header) is refused too, never a panic.
        io.take(3, &mut batch);
        assert_eq!(batch.refused, 2);
    }

    #[test]
    fn without_headers_reads_are_frames_as_they_are() {
        let mut io = TapIo::new(false);
        let mut batch = Batch::default();
        io.buf[..4].copy_from_slice(&[1, 2, 3, 4]);
        io.take(4, &mut batch);
        assert_eq!(batch.frames, [Bytes::from_static(&[1, 2, 3, 4])]);
    }
}
