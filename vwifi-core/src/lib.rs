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
//! - [`crypto`]: WPA2/WPA3 key hierarchy (PBKDF2 PSK, PRF, KDF-SHA-256, PTK), EAPOL-Key MICs
//!   (HMAC-SHA1, AES-CMAC), AES key wrap, CCMP, BIP-CMAC-128.
//! - [`handshake`]: SAE (WPA3) and the 4-way and group-key handshakes, both roles, sans-IO.
//! - [`proto`]: the guest <-> host protocol and its codec.
//! - [`channel`]: Wi-Fi channels and frequencies.
//! - [`demux`]: which guest owns a frame received on the shared radio.
//! - [`scheduler`]: one radio, many stations: channel time-sharing, serialized radio-wide work, admission.
//! - [`radio`]: the radio seam: what a radio and its stations exchange ([`radio::RxMeta`],
//!   [`radio::TxStatus`], the [`radio::Node`] contract), outside any simulation.
//! - [`mux_node`]: the Mux as a [`radio::Node`], the host's radio on an air.
//! - [`sim`]: the simulated medium and software access points (the embedded default radio).
//! - [`station`]: the virtual station of one guest: scan, join, handshake, CCMP data, events.
//! - [`kernel_sta`]: a station whose MLME is the kernel's (the nl80211 radio): its join's
//!   decisions, sans-IO.
//! - [`mux`]: the engine: guests, their stations, the demux and the scheduler around one radio.
//! - [`phy`]: HT, VHT and HE rates, airtime, channel plans, rate control.
//! - [`offload`]: the virtio-net header, TCP/UDP segmentation (GSO) and checksum completion.
//! - [`io`]: the async traits that radios, guest links, listeners and clocks implement.
#![forbid(unsafe_code)]
// Bad input never panics: these stay denied for everything but tests (and the test helpers,
// which panic on a broken test by design; see `testing`).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod addr;
pub mod channel;
pub mod crypto;
pub mod demux;
pub mod handshake;
pub mod io;
pub mod kernel_sta;
pub mod mux;
pub mod mux_node;
pub mod offload;
pub mod phy;
pub mod proto;
pub mod radio;
pub mod scheduler;
pub mod sim;
pub mod station;
pub mod time;
pub mod wire;

// Test helpers (the deterministic world, scripted stations, fuzz entry points) panic on a
// broken test or a fuzz finding by design.
#[cfg(any(test, feature = "test-utils"))]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
pub mod testing;

pub use addr::MacAddr;
pub use time::Instant;
