//! The guest protocol over a character device: a virtio-serial port (`/dev/vportNpM`) that the
//! VMM connects to the host daemon's socket, or any other bidirectional tty-like device.
//!
//! The device is opened once for reading and writing and switched to non-blocking mode; a
//! duplicate of its descriptor makes the writing half. tokio's `pipe` types drive the two
//! halves on the reactor (they accept character devices when told not to check for a FIFO), so
//! no thread blocks on the port and no `unsafe` is needed here. virtio-console ports support
//! `poll`. A port that is open elsewhere (virtio-serial ports admit one opener) fails with
//! `EBUSY`, reported as [`Error::OpenDevice`].

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use tokio::net::unix::pipe;
use vwifi_core::io::PeerInfo;

use crate::{Error, LinkConfig, StreamLink};

/// A [`StreamLink`] over a character device: its reading and writing halves.
pub type CharDeviceLink = StreamLink<pipe::Receiver, pipe::Sender>;

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
    let flags = fcntl_getfl(&file).map_err(|e| err(e.into()))?;
    // O_NONBLOCK lives in the open file description, which the duplicate shares.
    fcntl_setfl(&file, flags | OFlags::NONBLOCK).map_err(|e| err(e.into()))?;
    let writer = file.try_clone().map_err(err)?;
    let rx = pipe::Receiver::from_file_unchecked(file).map_err(err)?;
    let tx = pipe::Sender::from_file_unchecked(writer).map_err(err)?;
    Ok(StreamLink::from_halves(rx, tx, PeerInfo::Anonymous, config))
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
