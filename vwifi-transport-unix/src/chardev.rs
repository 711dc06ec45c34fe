//! The guest protocol over a character device: a virtio-serial port (`/dev/vportNpM`) that the
//! VMM connects to the host daemon's socket, or any other bidirectional tty-like device.
//!
//! The device is opened once for reading and writing, switched to non-blocking mode and
//! registered with tokio's reactor ([`AsyncFd`]); [`CharDevice`] is then an ordinary
//! [`AsyncRead`] + [`AsyncWrite`] stream for [`StreamLink`]. virtio-console ports support
//! `poll`, so no thread blocks on them. A port that is open elsewhere (virtio-serial ports admit
//! one opener) fails with `EBUSY`, reported as [`Error::OpenDevice`].

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::{split, AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use vwifi_core::io::PeerInfo;

use crate::{Error, LinkConfig, StreamLink};

/// A [`StreamLink`] over a character device.
pub type CharDeviceLink = StreamLink<ReadHalf<CharDevice>, WriteHalf<CharDevice>>;

/// A non-blocking character device driven by tokio's reactor.
#[derive(Debug)]
pub struct CharDevice {
    fd: AsyncFd<File>,
}

impl CharDevice {
    /// Opens `path` for reading and writing, non-blocking. Must be called within a tokio
    /// runtime (the descriptor is registered with its reactor).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
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
        let flags = fcntl_getfl(&file).map_err(|e| err(e.into()))?;
        fcntl_setfl(&file, flags | OFlags::NONBLOCK).map_err(|e| err(e.into()))?;
        let fd = AsyncFd::new(file).map_err(err)?;
        Ok(Self { fd })
    }
}

impl AsyncRead for CharDevice {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| fd.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Not ready after all: readiness was cleared, wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for CharDevice {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| fd.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the device: nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Opens the character device at `path` (a virtio-serial port whose other end the VMM connects
/// to the host daemon's socket) as a guest link. The peer is [`PeerInfo::Anonymous`]: the port
/// cannot tell who is behind it; the host checks the VMM's credentials on its socket.
pub fn open_char_device(
    path: impl AsRef<Path>,
    config: LinkConfig,
) -> Result<CharDeviceLink, Error> {
    let device = CharDevice::open(path)?;
    Ok(StreamLink::new(device, PeerInfo::Anonymous, config))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
        let e = CharDevice::open("/nonexistent/vport9p9").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/vport9p9"), "{text}");
        assert!(matches!(e, Error::OpenDevice { .. }));
    }

    /// A FIFO is the closest thing to a character device a test can make without root: the
    /// bytes written to it come out of a `CharDevice` opened on it, without blocking a thread.
    #[tokio::test]
    async fn bytes_flow_through_a_nonblocking_device_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo_in(&dir);
        // Opening a FIFO read-write never blocks on Linux, like a virtio-serial port.
        let mut dev = CharDevice::open(&fifo).unwrap();
        dev.write_all(b"hello port").await.unwrap();
        let mut got = [0u8; 10];
        dev.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello port");
        // Reading with nothing there waits (pending), it does not fail with WouldBlock.
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), dev.read(&mut got)).await;
        assert!(
            pending.is_err(),
            "an empty device must wait, got {pending:?}"
        );
    }
}
