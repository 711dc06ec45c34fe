//! # vwifi-core
//!
//! The transport-agnostic, I/O-free heart of vwifi: many guests (VMs and container network
//! namespaces) sharing one Wi-Fi radio, each with a virtual station of its own.
//!
//! ```text
//!  guest (802.3 + guest protocol)          vwifi-core                      radio (802.11)
//!  ------------------------------   ---------------------------   -------------------------
//!  proto::Message  ──────────────▶  station / handshake / crypto  ──▶  wire::Frame (CCMP)
//!  proto::Message  ◀──────────────  demux by address              ◀──  wire::Frame
//! ```
//!
//! Nothing in this crate reads a clock, draws randomness or performs I/O: time ([`time::Instant`])
//! and random number generators are passed in by the caller, so every behaviour can be replayed
//! deterministically in tests.
//!
//! Modules:
//! - [`addr`]: MAC addresses.
//! - [`time`]: the caller-supplied clock type.
//! - [`wire`]: 802.11 frames, information elements, LLC/SNAP, EAPOL-Key; panic-free parsing.
//! - [`crypto`]: WPA2 key hierarchy (PBKDF2 PSK, PRF, PTK), EAPOL-Key MIC, AES key wrap, CCMP.
//! - [`handshake`]: the 4-way and group-key handshakes, supplicant and authenticator, sans-IO.
//! - [`proto`]: the guest <-> host protocol and its codec.
//! - [`channel`]: Wi-Fi channels and frequencies.
//! - [`demux`]: which guest owns a frame received on the shared radio.
//! - [`scheduler`]: one radio, many stations: channel time-sharing, serialized radio-wide work, admission.
//! - [`sim`]: the simulated medium and software access points (the embedded default radio).
//! - [`station`]: the virtual station of one guest: scan, join, handshake, CCMP data, events.
//! - [`mux`]: the engine: guests, their stations, the demux and the scheduler around one radio.
//! - [`offload`]: the virtio-net header, TCP/UDP segmentation (GSO) and checksum completion.
//! - [`io`]: the async traits that radios, guest links, listeners and clocks implement.
#![forbid(unsafe_code)]

pub mod addr;
pub mod channel;
pub mod crypto;
pub mod demux;
pub mod handshake;
pub mod io;
pub mod mux;
pub mod offload;
pub mod proto;
pub mod scheduler;
pub mod sim;
pub mod station;
pub mod time;
pub mod wire;

#[cfg(any(test, feature = "test-utils"))]
pub mod testing;

pub use addr::MacAddr;
pub use time::Instant;
