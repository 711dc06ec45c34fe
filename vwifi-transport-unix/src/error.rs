//! The error of setting up Unix-socket links.

use std::io;
use std::path::PathBuf;

/// Why a listening socket could not be set up, or a guest could not connect.
///
/// Errors of established links and of accepting connections are
/// [`LinkError`](vwifi_core::io::LinkError)s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process accepts connections on this socket: a second daemon, or one still
    /// running. Stop it, or pick another path.
    #[error("{} is in use: another process is serving it", path.display())]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something other than a socket is at this path; it is left alone.
    #[error("{} exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The socket at this path could not be probed to tell whether it is in use (no permission
    /// to connect to it, for example).
    #[error("cannot tell whether {} is in use", path.display())]
    Probe {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A stale socket (nothing accepts on it any more) could not be removed.
    #[error("cannot remove the stale socket {}", path.display())]
    RemoveStale {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Binding the listening socket failed (a missing directory, no permission).
    #[error("cannot bind the socket {}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Setting the permissions of the new socket failed; the socket was removed.
    #[error("cannot set the permissions of {} to {mode:04o}", path.display())]
    SetPermissions {
        /// The socket path.
        path: PathBuf,
        /// The permissions asked for.
        mode: u32,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Connecting to the host's socket failed (no daemon, no permission).
    #[error("cannot connect to {}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A character device (a virtio-serial port) could not be opened or set up.
    #[error("cannot open the device {}", path.display())]
    OpenDevice {
        /// The device path.
        path: PathBuf,
        /// The cause (`EBUSY`: another process holds the port).
        #[source]
        source: io::Error,
    },
    /// Connecting to the host over vsock failed (no vsock device in this VM, nothing
    /// listening on that port).
    #[error("cannot connect to vsock cid {cid} port {port}")]
    ConnectVsock {
        /// The context id.
        cid: u32,
        /// The port.
        port: u32,
        /// The cause.
        #[source]
        source: io::Error,
    },
}
