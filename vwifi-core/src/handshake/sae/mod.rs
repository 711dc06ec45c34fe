//! WPA3-Personal's Simultaneous Authentication of Equals (SAE, IEEE 802.11-2020 12.4) on
//! finite cyclic group 19 (NIST P-256), sans-IO.
//!
//! - [`group`]: the password element, by hunting and pecking or hash-to-element (RFC 9380's
//!   simplified SWU map through `p256`'s `hash2curve`), and the wire encoding of elements.
//! - [`frame`]: the commit, confirm and anti-clogging bodies of Authentication frames with
//!   algorithm 3.
//! - [`Sae`]: the protocol instance of one peer, initiator (station) or responder (AP). Its
//!   output PMK feeds the 4-way handshake with AKM 00-0F-AC:8.
//! - [`AntiClogging`]: an AP's token policy. [`PmksaCache`]: PMKs kept to skip SAE on reconnect.
//! - [`SaeWorker`]: where an instance's group arithmetic runs (off a data-carrying thread).
//!
//! Secrets (password, PWE, rand, KCK, PMK) never appear in `Debug` output; the PWE is found
//! with constant-time selects over all 40 hunting-and-pecking rounds, and confirms are compared
//! in constant time.

mod anti_clogging;
mod error;
mod exchange;
pub mod frame;
pub mod group;
mod machine;
mod password;
mod pmksa;
#[cfg(test)]
mod tests;
mod worker;

pub use anti_clogging::{AntiClogging, TOKEN_LEN};
pub use error::SaeError;
pub use exchange::Pmkid;
pub use group::{Pt, Pwe, GROUP_19};
pub use machine::{AuthFrame, Role, Sae, SaeOutput, COMMIT, CONFIRM};
pub use password::SaePassword;
pub use pmksa::{Pmksa, PmksaCache};
pub use worker::{Inline, SaeJob, SaeWorker, SaeWorkerHandle, POLL};

/// The RSN Extension element's "SAE hash-to-element" capability (IEEE 802.11-2020 9.4.2.241:
/// bit 5 of the first octet; bits 0-3 hold the field length minus one, 0 here).
pub const RSNXE_SAE_H2E: u8 = 1 << 5;

/// The retransmission policy of SAE frames: hostapd's dot11RSNASAERetransPeriod is 40 ms with
/// dot11RSNASAESync 5; here 300 ms and 8 sends (2.4 s in all), because the station's radio may
/// be time-shared away from the channel and a peer may take long over its first commit
/// (hostapd under emulation was seen answering after more than a second).
pub const RETRY: crate::handshake::RetryPolicy = crate::handshake::RetryPolicy {
    timeout: core::time::Duration::from_millis(300),
    max_attempts: 8,
};
