//! The generic netlink socket to the kernel's `MAC80211_HWSIM` family.

use core::time::Duration;
use std::io;

use neli::consts::socket::NlFamily;
use neli::socket::tokio::NlSocket;
use neli::socket::NlSocketHandle;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::msg::{self, FromKernel, MsgError, ToKernel};
use super::HwsimError;

/// How long the kernel gets to acknowledge `HWSIM_CMD_REGISTER`.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(2);

/// The receive buffer: larger than any netlink datagram the kernel sends us.
const RECV_BUF: usize = 64 * 1024;

/// The socket through which vwifi is the medium of the kernel's hwsim radios.
pub(crate) struct HwsimLink {
    sock: NlSocket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl core::fmt::Debug for HwsimLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HwsimLink")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl HwsimLink {
    /// Opens a generic netlink socket, resolves the family and registers as the medium of the
    /// radios of this network namespace (`HWSIM_CMD_REGISTER`). Returns the link and the
    /// messages the kernel sent before its acknowledgement (frames may already flow then).
    pub(crate) async fn open() -> Result<(Self, Vec<Result<FromKernel, MsgError>>), HwsimError> {
        let mut handle =
            NlSocketHandle::connect(NlFamily::Generic, None, &[]).map_err(HwsimError::Socket)?;
        let family = handle
            .resolve_genl_family(msg::FAMILY_NAME)
            .map_err(|e| HwsimError::NoFamily {
                reason: e.to_string(),
            })?;
        let sock = NlSocket::new(handle).map_err(HwsimError::Socket)?;
        let mut link = Self {
            sock,
            family,
            seq: 1,
            buf: vec![0; RECV_BUF],
        };
        let req = msg::register(family, link.next_seq()).map_err(HwsimError::Encode)?;
        link.sock
            .write_all(&req)
            .await
            .map_err(HwsimError::Socket)?;
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
    /// (a datagram is consumed only when this returns). A full receive buffer (the kernel
    /// dropped messages for us) is not an error: it gives no message and a warning.
    pub(crate) async fn recv(&mut self) -> Result<Vec<Result<FromKernel, MsgError>>, HwsimError> {
        match self.sock.read(&mut self.buf).await {
            Ok(0) => Err(HwsimError::Closed),
            Ok(n) => Ok(msg::parse_datagram(
                self.buf.get(..n).unwrap_or(&[]),
                self.family,
            )),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                tracing::warn!("hwsim: the kernel dropped messages for vwifi (receive buffer full)");
                Ok(Vec::new())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Vec::new()),
            Err(e) => Err(HwsimError::Socket(e)),
        }
    }

    /// Sends one message to the kernel.
    pub(crate) async fn send(&mut self, m: &ToKernel) -> Result<(), HwsimError> {
        let seq = self.next_seq();
        let bytes = m
            .to_bytes(self.family, seq)
            .map_err(HwsimError::Encode)?;
        self.sock
            .write_all(&bytes)
            .await
            .map_err(HwsimError::Socket)
    }
}
