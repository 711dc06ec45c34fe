//! A station whose MLME is the kernel's (the nl80211 radio), sans-IO: the decisions of a
//! join on a real card, apart from the netlink that carries them out.
//!
//! On the nl80211 radio the kernel authenticates and associates (`CONNECT`, or SAE's
//! `AUTHENTICATE` frames then `ASSOCIATE`), and vwifi's own [`Supplicant`] runs the 4-way
//! handshake over the nl80211 control port. [`KernelSta`] decides, for one guest's station:
//! - the join's steps once its BSS is found: the association, the EAPOL frames that come
//!   before the kernel reports it (kept, then handed over), the handshake's frames, keys and
//!   port, connected; the join's deadline ([`JOIN_TIMEOUT`]) and the handshake's;
//! - what a failure is told as ([`ConnectFailure`](crate::proto::ConnectFailure)): a wrong
//!   passphrase (our message 2 went out, then a MIC failure, a handshake timeout or the AP's
//!   deauthentication), a handshake timeout, a rejected association, an unreachable AP, and
//!   whether a first attempt that failed after the association is made once more
//!   ([`RETRY_DELAY`]) or told at once (the AP plainly refused our key: [`Msg1Repeats`]);
//! - what to do on the kernel's events: the link lost while connected (the guest told who
//!   ended it), the interface deleted under the station (what the recreated one rejoins), the
//!   AP's signal read while connected (a change of [`SIGNAL_STEP`] dB told);
//! - when to tell the guest what ([`Event`](crate::proto::Event)) and which state to publish.
//!
//! The loop around it (`vwifi-host`'s `nl80211::station`) scans (as often as [`JoinScans`]
//! says), chooses how to authenticate ([`plan`]), runs SAE through the kernel, and carries out [`KernelStaOutput`]s:
//! - **input**: [`KernelSta::handle_connect_request`], [`KernelSta::handle_disconnect_request`]
//!   (the guest), [`KernelSta::begin_join`], [`KernelSta::handle_authenticated`] (SAE done),
//!   [`KernelSta::handle_connect_result`], [`KernelSta::handle_eapol`],
//!   [`KernelSta::handle_disconnected`], [`KernelSta::handle_interface_gone`],
//!   [`KernelSta::handle_signal`] (the kernel),
//!   [`KernelSta::handle_command_result`] (the outcome of each [`Command`]), and
//!   [`KernelSta::handle_timeout`] when [`KernelSta::poll_timeout`] says;
//! - **output**: drain [`KernelSta::poll_output`] after every input, reporting each command's
//!   outcome before polling the next (a refused key ends the join and drops the rest).
//!
//! Like the rest of the core it reads no clock and performs no I/O: time is passed in, and
//! the random number generator of the supplicant's nonces is given at creation.
//!
//! [`Supplicant`]: crate::handshake::Supplicant

mod failure;
mod machine;
mod scans;
#[cfg(test)]
mod tests;

pub use failure::{
    handshake_failure, join_failure, plan, sae_failure, security_mismatch, step_failure,
    unsupported_security, Msg1Repeats, Plan, MSG1_REPEATS_FOR_WRONG_KEY,
};
pub use machine::{
    Command, CommandKind, Join, JoinAuth, JoinRequest, KernelSta, KernelStaOutput, Target,
    HANDSHAKE_TIMEOUT, JOIN_TIMEOUT, LINK_LOST_WITH_INTERFACE, MAX_EARLY_EAPOL, REASON_LEAVING,
    RETRY_DELAY, SIGNAL_STEP,
};
pub use scans::{JoinScans, FRESH_SCAN_MS, JOIN_SCANS, JOIN_SCAN_TRIES};
