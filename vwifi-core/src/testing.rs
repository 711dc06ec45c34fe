//! Test helpers and fuzz entry points, available to this crate's tests and, with the
//! `test-utils` feature, to benches, fuzz targets and other crates' tests.
//!
//! - [`World`]: a deterministic simulation of the air (the [`crate::sim::medium::Medium`] with
//!   its nodes), a virtual clock, `step`/`drive`/`drive_bounded`, a pcap capture of everything
//!   on the air, the seed printed when a test fails.
//! - [`ScriptedNode`]: a node that sends the frames it is given (now or at set times), switches
//!   channel on cue, and records what it hears and the outcome of what it sent.
//! - [`ScriptedStation`]: a station node that scans, joins open and WPA2 BSSs, sends and
//!   receives data, dozes and polls, built from the wire and handshake modules.
//! - [`frames`]: small builders of 802.11 frames for tests.
//! - [`fuzz`]: the fuzz entry points and their seed inputs.

pub mod frames;
pub mod fuzz;
mod scripted;
mod station;
mod world;

pub use scripted::{Received, ScriptedNode, Sent};
pub use station::{Delivered, JoinStage, Outcome, ScannedBss, ScriptedCounters, ScriptedStation};
pub use world::{seed_bytes, seed_from_env, Bound, DriveError, World};
