//! The simulated radio: a medium that behaves like the air and software access points that
//! behave like real ones. This is vwifi's embedded default radio, not a test mock.
//!
//! Everything here is sans-IO and deterministic: time is passed in, randomness comes from seeds
//! given at construction. The pieces:
//! - [`medium`]: channels, radios with positions, signal from a log-distance path-loss model,
//!   loss, airtime, one transmission at a time per channel, acknowledgement and retries.
//! - [`ap`]: software access points (beacons, probe responses, open-system authentication,
//!   association, the WPA2 authenticator, CCMP, power-save buffering, bridging, uplink).
//! - [`config`]: the TOML configuration of the medium and its APs, and the built-in demo set.
//! - [`federated`]: a transmission shared with other daemons' air, and its wire encoding.
//! - [`pcap`]: a capture of the air as a pcap file (802.11 with radiotap) for Wireshark/tshark.
//! - [`pcapng`]: the same frames as a live pcapng stream, one interface per channel.
//!
//! # How the pieces meet
//! Every participant on the air (a software AP, a station) is a [`Node`]: the medium hands it
//! the frames it hears ([`Node::handle_rx`]) and the outcome of its own unicast transmissions
//! ([`Node::handle_tx_status`]); the node hands back frames to transmit ([`Node::poll_transmit`])
//! and the next time it must be woken ([`Node::poll_timeout`]).

pub mod air;
pub mod ap;
pub mod config;
pub mod federated;
pub mod medium;
pub mod nodes;
pub mod pcap;
pub mod pcapng;

pub use air::{SimAir, SimAirError, SimAps};
pub use nodes::AirNode;
// The radio seam and the Mux's node live outside the simulator; kept here for old paths.
pub use crate::mux_node::MuxNode;
pub use crate::radio::{Node, NodeId, RxMeta, TxStatus};
