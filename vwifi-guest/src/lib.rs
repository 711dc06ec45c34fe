//! # vwifi-guest
//!
//! The guest side of vwifi: the `vwifi-guest` CLI (scan, connect, disconnect, status, events)
//! and agent, inside a VM or container network namespace.
//!
//! ```text
//!  vwifi-guest scan/connect/...                                   vwifi-host
//!    ├─ --socket PATH ── Unix socket (host.sock, or an agent's guest.sock) ──▶ one guest per
//!    │                                                                        connection
//!    └─ --link IFACE ─── Ethernet frames, EtherType 0x88B5, on the guest's NIC ─▶ the NIC's
//!                                                                        guest
//!  vwifi-guest agent ── one host connection + its own TAP + guest.sock for the CLI
//! ```
//!
//! - [`client::Client`]: the guest protocol's client over any
//!   [`GuestLink`](vwifi_core::io::GuestLink): requests matched to replies by request id,
//!   events queued.
//! - [`inband::InbandLink`]: the in-band link (AF_PACKET on the guest's NIC); its framing
//!   ([`inband::frame_message`], [`inband::parse_frame`]) is plain functions.
//! - [`agent::Agent`]: the agent's relay (TAP ⇄ `Data`, CLI clients ⇄ one host connection);
//!   [`carrier::Carrier`]: its TAP's carrier, following the association.
//! - [`output`]: what people and scripts see; [`secret`]: where a passphrase or PSK comes
//!   from; [`error::GuestError`] and the exit statuses.
//!
//! Exit statuses: 0 success, 1 the operation failed, 2 usage error, 3 the host cannot be
//! reached, 4 timeout ([`error::EXIT_OK`] ...).
#![forbid(unsafe_code)]

pub mod agent;
pub mod carrier;
pub mod cli;
pub mod client;
pub mod error;
pub mod inband;
pub mod output;
pub mod paths;
pub mod radio;
pub mod run;
pub mod secret;

pub use error::GuestError;
