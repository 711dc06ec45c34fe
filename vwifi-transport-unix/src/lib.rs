//! # vwifi-transport-unix
//!
//! vwifi's guest protocol ([`vwifi_core::proto`]) over a byte stream, on tokio: Unix sockets
//! for containers, network namespaces and local guests, and the same code over any other
//! stream a VMM gives (vsock, a virtio-serial port).
//!
//! ```text
//!  guest agent (vwifi-guest)                          host daemon (vwifi-host)
//!  connect(path) ──▶ UnixLink ══ Unix socket ══ UnixLink ◀── UnixGuestListener::accept_link
//!                    (StreamLink)   messages back to back,     peer credentials checked,
//!                                   each delimited by its       one connection = one guest
//!                                   12-byte header
//! ```
//!
//! - [`StreamLink`] implements [`GuestLink`](vwifi_core::io::GuestLink) over any
//!   [`AsyncRead`](tokio::io::AsyncRead) + [`AsyncWrite`](tokio::io::AsyncWrite): wrap a vsock
//!   stream or a serial port with [`StreamLink::new`]. It splits into a [`StreamRx`] and a
//!   [`StreamTx`] for a driver that reads and writes from different tasks.
//! - [`UnixGuestListener`] implements [`GuestListener`](vwifi_core::io::GuestListener): it
//!   binds a socket path (replacing a stale socket, refusing one in use), sets its permissions,
//!   and checks every peer's credentials against a [`PeerPolicy`].
//! - [`connect`] is the guest side over a Unix socket; [`open_char_device`] over a
//!   virtio-serial port whose host end the VMM connects to the daemon's socket, and
//!   [`connect_vsock`] over `AF_VSOCK`.
//!
//! # A hostile or broken peer ends only its own link
//! Framing is [`vwifi_core::proto::Decoder`]'s: a header is checked as soon as its 12 bytes
//! arrive, so a length over [`MAX_MESSAGE_LEN`](vwifi_core::proto::MAX_MESSAGE_LEN) (64 KiB),
//! a bad magic byte or an unknown version fails the link
//! ([`LinkError::Protocol`](vwifi_core::io::LinkError::Protocol)) before any of the announced
//! body is buffered. A well-delimited message with a bad body is reported on its own
//! ([`LinkError::BadMessage`](vwifi_core::io::LinkError::BadMessage)) and the link goes on. The
//! receive buffer holds at most one partial message plus one read chunk. A peer that stops
//! reading fails its link after [`LinkConfig::write_timeout`] instead of blocking the host.
//! Links share nothing: one link's error never touches another.
//!
//! # Secrets
//! A `Connect` carries a passphrase or PSK. Read chunks are zeroized once handed to the decoder
//! (which zeroizes its own copy once decoded), and the send buffer once a `Connect` is written.
#![forbid(unsafe_code)]

mod chardev;
mod error;
mod listener;
mod stream;
mod vsock;

pub use chardev::{open_char_device, CharDeviceLink};
pub use vsock::{connect_vsock, parse_vsock_addr, VsockLink, VMADDR_CID_HOST};

pub use error::Error;
pub use listener::{connect, ListenerConfig, PeerPolicy, UnixGuestListener, DEFAULT_SOCKET_MODE};
pub use stream::{
    LinkConfig, StreamLink, StreamRx, StreamTx, UnixLink, DEFAULT_READ_CHUNK, DEFAULT_WRITE_TIMEOUT,
};

#[cfg(test)]
mod tests;
