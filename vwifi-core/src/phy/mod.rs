//! The PHYs beside the legacy ones: HT (802.11n, IEEE 802.11-2020 clause 19), VHT (802.11ac,
//! clause 21) and HE (802.11ax, clause 27).
//!
//! - [`mcs`]: what an MCS index means (modulation, code rate).
//! - [`vector`]: [`Standard`], [`Width`], [`GuardInterval`], an [`McsRate`]'s data rate and
//!   PPDU airtime, and [`TxVector`], a legacy rate or an MCS rate.
//! - [`channels`]: the 2.4, 5 and 6 GHz channel plans: which 20 MHz channels a wide BSS
//!   occupies.
//! - [`caps`]: a radio's capabilities ([`PhyCaps`]) and what two radios have in common.
//! - [`elements`]: the HT/VHT/HE elements for some capabilities, and the capabilities of a
//!   BSS read from its elements.
//! - [`error_model`]: frame loss per MCS, width and streams at a given SNR.
//! - [`rate_control`]: Minstrel-HT-style rate selection per link.
//!
//! The legacy rates (802.11a/b/g) and the MAC timing stay in [`crate::sim::medium`]
//! ([`crate::sim::medium::PhyRate`], [`crate::sim::medium::Timing`]).

pub mod caps;
pub mod channels;
pub mod elements;
pub mod error_model;
pub mod mcs;
pub mod rate_control;
#[cfg(test)]
mod tests;
pub mod vector;

pub use caps::{CapsError, PhyCaps};
pub use channels::{occupied, PlanError};
pub use rate_control::RateControl;
pub use vector::{GuardInterval, McsRate, RateError, Standard, TxVector, Width};
