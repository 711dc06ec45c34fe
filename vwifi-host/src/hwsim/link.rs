//! The generic netlink socket to the kernel's `MAC80211_HWSIM` family.

use core::time::Duration;
use std::io;
use std::sync::Arc;

use neli::consts::socket::NlFamily;
use neli::socket::{NlSocket, NlSocketHandle};
use tokio::sync::mpsc;

use super::msg::{self, FromKernel, MsgError, ToKernel};
use super::HwsimError;

/// How long the kernel gets to acknowledge `HWSIM_CMD_REGISTER`.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(2);

/// The receive buffer: larger than any netlink datagram the kernel sends us.
const RECV_BUF: usize = 64 * 1024;

/// Datagrams read but not yet handled; beyond, the reader waits (and the kernel, whose
/// socket buffer then fills, drops and says so with `ENOBUFS`).
const RX_QUEUE: usize = 1024;

/// What the reader thread hands over: a datagram, or the error that ended it.
type Datagram = io::Result<Vec<u8>>;

/// The socket through which vwifi is the medium of the kernel's hwsim radios.
///
/// A thread of its own reads the socket (blocking `recv`) and hands each datagram to the
/// driver over a channel; the driver sends with a plain `send`, which never waits: the kernel
/// handles a generic netlink message inside the call. (tokio's `AsyncFd` now needs `unsafe`
/// to register a descriptor, and neli's tokio socket clears the write readiness after every
/// send, so that with tokio's edge-triggered epoll the next send waited for some other event
/// on the socket: frames for the kernel went out only when the kernel sent something.) The
/// reader ends at the first socket error or when the link is dropped and a datagram arrives.
pub(crate) struct HwsimLink {
    sock: Arc<NlSocket>,
    family: u16,
    seq: u32,
    rx: mpsc::Receiver<Datagram>,
}

impl core::fmt::Debug for HwsimLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HwsimLink")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// Reads datagrams until the socket fails or nobody listens.
fn read_loop(sock: &NlSocket, tx: &mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let item = match sock.recv(&mut buf[..], 0) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of the netlink socket",
            )),
            Ok(n) => Ok(buf.get(..n).unwrap_or(&[]).to_vec()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let fatal = match &item {
            Ok(_) => false,
            // The kernel dropped messages for us: worth a warning, not the end.
            Err(e) => e.raw_os_error() != Some(rustix::io::Errno::NOBUFS.raw_os_error()),
        };
        if tx.blocking_send(item).is_err() || fatal {
            return;
        }
    }
}

impl HwsimLink {
    /// Opens a generic netlink socket, resolves the family and registers as the medium of the
    /// radios of this network namespace (`HWSIM_CMD_REGISTER`). Returns the link and the
    /// messages the kernel sent before its acknowledgement (frames may already flow then).
    pub(crate) async fn open() -> Result<(Self, Vec<Result<FromKernel, MsgError>>), HwsimError> {
        let mut handle =
            NlSocketHandle::connect(NlFamily::Generic, None, &[]).map_err(HwsimError::Socket)?;
        let family =
            handle
                .resolve_genl_family(msg::FAMILY_NAME)
                .map_err(|e| HwsimError::NoFamily {
                    reason: e.to_string(),
                })?;
        let sock = Arc::new(NlSocket::from(handle));
        sock.block().map_err(HwsimError::Socket)?;
        let (tx, rx) = mpsc::channel(RX_QUEUE);
        let reader = Arc::clone(&sock);
        std::thread::Builder::new()
            .name("vwifi-hwsim-rx".into())
            .spawn(move || read_loop(&reader, &tx))
            .map_err(HwsimError::Socket)?;
        let mut link = Self {
            sock,
            family,
            seq: 1,
            rx,
        };
        let seq = link.next_seq();
        let req = msg::register(family, seq).map_err(HwsimError::Encode)?;
        link.send_bytes(&req)?;
        let mut early = Vec::new();
        let acked = tokio::time::timeout(REGISTER_TIMEOUT, async {
            loop {
                for m in link.recv().await? {
                    match m {
                        Ok(FromKernel::Ack) => return Ok(()),
                        Ok(FromKernel::Error { errno }) => {
                            return Err(HwsimError::Register {
                                source: io::Error::from_raw_os_error(errno),
                            })
                        }
                        other => early.push(other),
                    }
                }
            }
        })
        .await
        .map_err(|_| HwsimError::RegisterTimeout)?;
        acked?;
        Ok((link, early))
    }

    /// The family's id.
    pub(crate) fn family(&self) -> u16 {
        self.family
    }

    fn next_seq(&mut self) -> u32 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        s
    }

    /// The messages of the next datagram from the kernel, each parsed on its own. Cancel-safe
    /// (a datagram is taken only when this returns). A full receive buffer (the kernel
    /// dropped messages for us) is not an error: it gives no message and a warning.
    pub(crate) async fn recv(&mut self) -> Result<Vec<Result<FromKernel, MsgError>>, HwsimError> {
        match self.rx.recv().await {
            None => Err(HwsimError::Closed),
            Some(Ok(dgram)) => Ok(msg::parse_datagram(&dgram, self.family)),
            Some(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                tracing::warn!(
                    "hwsim: the kernel dropped messages for vwifi (receive buffer full)"
                );
                Ok(Vec::new())
            }
            Some(Err(e)) => Err(HwsimError::Socket(e)),
        }
    }

    /// Sends one message to the kernel (never waits; see the type's documentation).
    pub(crate) fn send(&mut self, m: &ToKernel) -> Result<(), HwsimError> {
        let seq = self.next_seq();
        let bytes = m.to_bytes(self.family, seq).map_err(HwsimError::Encode)?;
        self.send_bytes(&bytes)
    }

    fn send_bytes(&self, bytes: &[u8]) -> Result<(), HwsimError> {
        match self.sock.send(bytes, 0) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(n) => Err(HwsimError::Socket(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", bytes.len()),
            ))),
            Err(e) => Err(HwsimError::Socket(e)),
        }
    }
}
