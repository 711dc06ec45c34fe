//! The guest protocol over a character device: a virtio-serial port (`/dev/vportNpM`) that the
//! VMM connects to the host daemon's socket, or any other bidirectional tty-like device.
//!
//! The device is opened once for reading and writing and switched to non-blocking mode; a
//! duplicate of its descriptor makes the writing half. tokio's `pipe` types drive the two
//! halves on the reactor (they accept character devices when told not to check for a FIFO), so
//! no thread blocks on the port and no `unsafe` is needed here. virtio-console ports support
//! `poll`. A port that is open elsewhere (virtio-serial ports admit one opener) fails with
//! `EBUSY`, reported as [`Error::OpenDevice`].
//!
//! The halves ([`PortReader`], [`PortWriter`]) use the pipes' `try_read`/`try_write`, not their
//! `AsyncRead`/`AsyncWrite`: those take a transfer shorter than the buffer as proof that the
//! descriptor is drained (or full) and wait for the next readiness edge. A virtio-console read
//! returns one of the port's buffers at a time, however many are queued, so a burst of the
//! host's messages was read one per later wake-up: what the host sent waited for whatever it
//! sent next (a VM's relayed radio heard its answers and beacons late or never). These halves
//! wait only when the device itself says `EAGAIN`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;
use vwifi_core::io::PeerInfo;

use crate::{Error, LinkConfig, StreamLink};

/// A [`StreamLink`] over a character device: its reading and writing halves.
pub type CharDeviceLink = StreamLink<PortReader, PortWriter>;

/// The reading half of a character device: reads until the device reports `EAGAIN`, never
/// assuming that a short read drained it.
#[derive(Debug)]
pub struct PortReader(pipe::Receiver);

/// The writing half of a character device: writes until the device reports `EAGAIN`, never
/// assuming that a short write filled it.
#[derive(Debug)]
pub struct PortWriter(pipe::Sender);

/// `Ready(Some(r))` for a transfer's outcome, `Ready(None)` to try again (`EAGAIN`: the
/// readiness was cleared, or `EINTR`).
fn settle<T>(r: io::Result<T>) -> Option<io::Result<T>> {
    match r {
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted =>
        {
            None
        }
        r => Some(r),
    }
}

impl AsyncRead for PortReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            // `try_read` clears the readiness only on `EAGAIN`.
            if let Some(r) = settle(self.0.try_read(buf.initialize_unfilled())) {
                return Poll::Ready(r.map(|n| buf.advance(n)));
            }
        }
    }
}

impl AsyncWrite for PortWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            if let Some(r) = settle(self.0.try_write(data)) {
                return Poll::Ready(r);
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Opens the character device at `path` (a virtio-serial port whose other end the VMM connects
/// to the host daemon's socket) as a guest link. The peer is [`PeerInfo::Anonymous`]: the port
/// cannot tell who is behind it; the host checks the VMM's credentials on its socket. Must be
/// called within a tokio runtime (the descriptors are registered with its reactor).
pub fn open_char_device(
    path: impl AsRef<Path>,
    config: LinkConfig,
) -> Result<CharDeviceLink, Error> {
    let path = path.as_ref();
    let err = |source: io::Error| Error::OpenDevice {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(err)?;
    from_file(file, config).map_err(err)
}

/// A link over the open, bidirectional descriptor `file` (switched to non-blocking mode).
fn from_file(file: File, config: LinkConfig) -> io::Result<CharDeviceLink> {
    let flags = fcntl_getfl(&file)?;
    // O_NONBLOCK lives in the open file description, which the duplicate shares.
    fcntl_setfl(&file, flags | OFlags::NONBLOCK)?;
    let writer = file.try_clone()?;
    let rx = pipe::Receiver::from_file_unchecked(file)?;
    let tx = pipe::Sender::from_file_unchecked(writer)?;
    Ok(StreamLink::from_halves(
        PortReader(rx),
        PortWriter(tx),
        PeerInfo::Anonymous,
        config,
    ))
}

#[cfg(test)]
mod tests {

    use bytes::Bytes;
    use vwifi_core::proto::Message;

    use super::*;

    fn fifo_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let fifo = dir.path().join("port");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        fifo
    }

    #[tokio::test]
    async fn a_link_over_a_device_carries_whole_messages() {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO opened read-write hands back what is written: the link hears itself.
        let mut link = open_char_device(fifo_in(&dir), LinkConfig::default()).unwrap();
        let msg = Message::Data(Bytes::from_static(b"an ethernet frame, more or less"));
        link.send(&msg).await.unwrap();
        assert_eq!(link.recv().await.unwrap(), msg);
        assert_eq!(vwifi_core::io::GuestLink::peer(&link), PeerInfo::Anonymous);
    }

    #[tokio::test]
    async fn a_missing_device_is_named_in_the_error() {
        let e = open_char_device("/nonexistent/vport9p9", LinkConfig::default())
            .map(|_| ())
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/vport9p9"), "{text}");
        assert!(matches!(e, Error::OpenDevice { .. }));
    }

    /// A device that hands out one buffer per read (as a virtio-console port does; a datagram
    /// socket does the same) is read to its end: a burst of messages all arrive, none waits
    /// for a later wake-up. tokio's pipe types stopped after the first short read (this hung).
    #[tokio::test]
    async fn a_burst_read_one_buffer_at_a_time_arrives_whole() {
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let mut tx = from_file(
            File::from(std::os::fd::OwnedFd::from(a)),
            LinkConfig::default(),
        )
        .unwrap();
        let mut rx = from_file(
            File::from(std::os::fd::OwnedFd::from(b)),
            LinkConfig::default(),
        )
        .unwrap();
        let msgs: Vec<Message> = (0u8..20)
            .map(|i| Message::Data(Bytes::from(vec![i; 40 + usize::from(i)])))
            .collect();
        for m in &msgs {
            tx.send(m).await.unwrap();
        }
        for m in &msgs {
            // A guard against a hang, not a speed limit.
            let got = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
                .await
                .expect("a queued message waited for a wake-up that never came")
                .unwrap();
            assert_eq!(&got, m);
        }
    }

    /// Reading with nothing there waits (pending) instead of failing with `WouldBlock`.
    #[tokio::test]
    async fn an_idle_device_waits_for_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut link = open_char_device(fifo_in(&dir), LinkConfig::default()).unwrap();
        let pending = tokio::time::timeout(std::time::Duration::from_millis(50), link.recv()).await;
        assert!(
            pending.is_err(),
            "an empty device must wait, got {pending:?}"
        );
    }
}
