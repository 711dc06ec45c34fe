//! The virtual station: one per guest, with its own MAC address, scan results, association,
//! keys and traffic, sans-IO.
//!
//! A [`Station`] runs the life cycle Idle → Scanning → Authenticating → Associating →
//! Handshaking → Connected for one guest: active and passive scans with a BSS table (signal,
//! age), open-system or SAE authentication (WPA3, with PMKSA caching), association, the 4-way
//! and group-key handshakes (the [`Supplicant`](crate::handshake::Supplicant); AKM 2 or 8),
//! protected management frames, CCMP data with replay protection, beacon-loss
//! detection, deauthentication and disassociation, reconnection with capped exponential
//! backoff, and a precise [`Failure`] for every attempt that does not end connected.
//!
//! # Driving a station
//! Like the rest of the core it never reads a clock and performs no I/O; the caller (the Mux and
//! its scheduler) drives it:
//! - **input**: [`Station::handle_command`] (the guest's scan, connect, disconnect),
//!   [`Station::handle_frame`] (802.11 frames heard on the station's channel),
//!   [`Station::handle_tx_status`] (the outcome of each unicast frame it sent),
//!   [`Station::handle_timeout`] (when [`Station::poll_timeout`] says), [`Station::send_data`]
//!   (the guest's Ethernet frames);
//! - **channel**: [`Station::wanted_channel`] says where the station needs the radio (the channel
//!   being scanned, or its BSS's channel) and [`StationOutput::WantChannel`] announces each
//!   change; the scheduler answers with [`Station::on_channel`] when the radio is tuned there for
//!   this station and [`Station::off_channel`] before it retunes away;
//! - **output**: drain [`Station::poll_output`] after every call: frames to transmit (each with
//!   the channel it must go out on), decrypted Ethernet frames for the guest, events for the
//!   guest ([`Event`](crate::proto::Event)), scan results, channel wishes.
//!
//! # Sharing one radio: power save
//! An associated station (connected, or in its 4-way handshake, whose messages the AP then
//! buffers too) that is told it is leaving its BSS's channel ([`Station::off_channel`], or a
//! scan it starts itself) first queues a null-data frame with the power-management bit set,
//! so that its AP buffers frames for it; the scheduler must transmit that frame (drain
//! [`Station::poll_output`]) before retuning. Back on the channel ([`Station::on_channel`]) the
//! station sends a null-data frame with the bit clear, so the AP delivers what it buffered, and
//! then the frames the guest sent meanwhile (queued, bounded). Beacon-loss detection counts only
//! time spent on the BSS's channel.
//!
//! # The boundary below the station
//! The station's logic (what to join, when to give up, which failure to report, keys, events,
//! reconnection) is kept apart from how frames are built and protected. [`softmac::SoftMac`]
//! holds the frame level: building probe, authentication, association, deauthentication and
//! null-data frames, sequence numbers, EAPOL and data encapsulation (LLC/SNAP), CCMP with a PN
//! per key and replay counters per TID and per group key. The state machine talks to the layer
//! below only through these operations:
//!
//! | operation          | soft-MAC (this module)                        | full-MAC (nl80211, later)       |
//! |--------------------|-----------------------------------------------|---------------------------------|
//! | scan               | probe requests, dwell per channel, beacons    | `TRIGGER_SCAN`, scan results    |
//! | join               | auth/assoc frames, retries, status codes      | `CONNECT`, connect result       |
//! | EAPOL out / in     | data frames, LLC/SNAP 0x888E                  | control port TX / RX            |
//! | install keys       | [`softmac::SoftMac::install_ptk`] / `_gtk`    | `NEW_KEY`                       |
//! | data out / in      | CCMP here                                     | packet socket, kernel CCMP      |
//! | link events        | deauth/disassoc frames, beacon loss here      | `DISCONNECT`, `BEACON_LOSS`...  |
//!
//! A full-MAC backend replaces the frame level, reuses the supplicant driving, the failure
//! mapping, the events and the reconnect policy. It is not implemented yet.
//!
//! # Isolation and secrets
//! A station accepts data only from its own BSS (From DS, transmitter = BSSID) and unicast data
//! only to its own address; group frames it sent itself and reflected by the AP are dropped;
//! frames of the guest-control EtherType 0x88B5 from the air are dropped and counted. The guest
//! may only send frames with the station's own source address, and neither EAPOL nor 0x88B5.
//! Credentials arrive with the connect command, live in that station only, are dropped when it
//! stops trying to connect, and are never logged (their types redact `Debug`).

mod machine;
pub mod rx_stage;
mod scan;
pub mod softmac;
#[cfg(test)]
mod tests;

use core::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub use machine::Station;
pub use scan::{
    default_scan_channels, phy_info, security_of, BssEntry, BssTable, SECURITY_OTHER_RSN,
};
pub use scan::{MAX_BSS_ENTRIES, SECURITY_WEP_OR_WPA1};

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::crypto::CryptoError;
use crate::proto::{self, BssInfo, ConnectFailure, Credentials, ScanMode, Security};
use crate::time::Instant;
use crate::wire::{EthernetFrame, ReasonCode, StatusCode};
use bytes::Bytes;

/// What the guest asks its station to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Scan for networks; the results come as [`StationOutput::ScanDone`].
    Scan {
        /// Only report this network (and, in an active scan, probe for it by name).
        ssid: Option<proto::Ssid>,
        /// Active (probe requests) or passive (beacons only).
        mode: ScanMode,
    },
    /// Join a network, leaving the current one first. The outcome comes as an
    /// [`Event::Connected`](proto::Event::Connected) or
    /// [`Event::ConnectFailed`](proto::Event::ConnectFailed).
    Connect {
        /// The network.
        ssid: proto::Ssid,
        /// Only this access point, or the strongest of the network.
        bssid: Option<MacAddr>,
        /// The secret; kept by this station only, never logged.
        credentials: Credentials,
        /// Whether to reconnect (with backoff) when the connection is lost or an attempt fails
        /// for a reason that may pass (not a wrong passphrase or a security mismatch).
        auto_reconnect: bool,
    },
    /// Leave the network (deauthentication, reason 3) or stop trying to join one.
    Disconnect,
}

/// What a station asks its caller to do, from [`Station::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StationOutput {
    /// Transmit this 802.11 frame (no FCS) on `channel`. The station only produces frames for
    /// the channel it was last told it is on ([`Station::on_channel`]).
    Transmit {
        /// The frame.
        frame: Bytes,
        /// The channel it must go out on.
        channel: Channel,
    },
    /// Hand this (decrypted) Ethernet frame to the guest.
    Deliver(EthernetFrame),
    /// Hand the frames in this unopened data frame to the guest, opening it on the way
    /// ([`rx_stage::open`]; the EAPOL frames it holds go back to
    /// [`Station::receive_staged_eapol`]). Only with [`StationConfig::stage_rx`].
    DeliverSealed(rx_stage::Sealed),
    /// Tell the guest this.
    Event(proto::Event),
    /// A scan the guest asked for has ended: the BSSs seen during it, strongest first.
    ScanDone(Vec<BssInfo>),
    /// The station now needs the radio on this channel (`None`: it needs no channel). Answer
    /// with [`Station::on_channel`] once the radio is tuned there for this station.
    WantChannel(Option<Channel>),
    /// The joined AP's next DTIM beacon is due at `next`, then every `interval`: the AP sends
    /// the group frames it buffered for dozing stations right after it, so the radio should be
    /// on the channel then ([`crate::scheduler::Scheduler::handle_dtim`]). Reported once
    /// connected and again when the AP's timing moves.
    DtimTiming {
        /// The next DTIM beacon's target time.
        next: Instant,
        /// The time between DTIM beacons.
        interval: Duration,
    },
}

/// How a caller misused a station. Failures to connect are not errors: they are reported as
/// [`proto::Event::ConnectFailed`] with a [`Failure`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StationError {
    /// Data was sent while the station is not connected.
    #[error("the station is not connected")]
    NotConnected,
    /// The guest sent a frame whose source is not the station's address.
    #[error("source address {got} is not the station's address {expected}")]
    SourceAddressMismatch {
        /// The station's address.
        expected: MacAddr,
        /// The frame's source address.
        got: MacAddr,
    },
    /// The guest sent a frame of an EtherType only the host may send (EAPOL 0x888E, guest
    /// control 0x88B5).
    #[error("EtherType {ethertype:#06x} is reserved to the host")]
    ReservedEtherType {
        /// The EtherType.
        ethertype: u16,
    },
    /// The station is busy with something that excludes the request (a scan while another runs
    /// or while joining; changing the address while connected).
    #[error("the station is busy ({what})")]
    Busy {
        /// What it is busy with.
        what: &'static str,
    },
    /// The address asked for is not a unicast address.
    #[error("{0} is not a unicast address")]
    InvalidMac(MacAddr),
    /// A connect request named the empty SSID.
    #[error("cannot connect to the empty SSID")]
    EmptySsid,
    /// The station's transmit queue (frames waiting while it is off its channel) is full; the
    /// frame was dropped.
    #[error("transmit queue full; frame dropped")]
    QueueFull,
    /// The frame could not be protected (the packet number space is exhausted).
    #[error("cannot protect the frame: {0}")]
    Crypto(#[from] CryptoError),
}

/// The kind of credentials a guest gave, without the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// No secret.
    None,
    /// A passphrase.
    Passphrase,
    /// A PSK.
    Psk,
}

impl From<&Credentials> for CredentialKind {
    fn from(c: &Credentials) -> Self {
        match c {
            Credentials::None => Self::None,
            Credentials::Passphrase(_) => Self::Passphrase,
            Credentials::Psk(_) => Self::Psk,
        }
    }
}

/// Why a connection attempt did not end connected. Sticky: [`Station::failure`] keeps it until
/// the next connect request or connection.
///
/// The first six map one to one onto [`ConnectFailure`]; the others map onto
/// [`ConnectFailure::Other`] with the `FAILURE_CODE_*` codes below until the guest protocol names
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// No BSS with the SSID (and BSSID, if given) was found by a scan.
    NetworkNotFound,
    /// The AP refused authentication with this status.
    AuthRejected {
        /// The status code of the authentication response.
        status: StatusCode,
    },
    /// The AP refused association with this status.
    AssocRejected {
        /// The status code of the association response.
        status: StatusCode,
    },
    /// The 4-way handshake failed after the station answered message 1: the AP did not accept
    /// the station's PSK (a wrong passphrase or PSK).
    WrongPassphrase,
    /// The AP did not answer authentication or association requests.
    ApUnreachable,
    /// The 4-way handshake did not start (no message 1) in time.
    HandshakeTimeout,
    /// The network's security and the credentials given do not go together (a secret for an
    /// open network, none for a protected one).
    SecurityMismatch {
        /// What the network advertises.
        network: Security,
        /// What the guest gave.
        credentials: CredentialKind,
    },
    /// The network uses security vwifi cannot join (WPA3-SAE, WEP, enterprise, TKIP).
    UnsupportedSecurity {
        /// What the network advertises.
        network: Security,
    },
    /// The AP deauthenticated or disassociated the station during the attempt.
    RejectedByAp {
        /// The reason code of its frame.
        reason: ReasonCode,
    },
    /// The 4-way handshake failed on a protocol error (not a timeout or a wrong key).
    HandshakeFailed {
        /// The reason code sent in the deauthentication.
        reason: ReasonCode,
    },
}

/// [`ConnectFailure::Other`] code of [`Failure::SecurityMismatch`] (detail: the network's
/// [`Security::code`]).
pub const FAILURE_CODE_SECURITY_MISMATCH: u8 = 7;
/// [`ConnectFailure::Other`] code of [`Failure::UnsupportedSecurity`] (detail: the network's
/// [`Security::code`]).
pub const FAILURE_CODE_UNSUPPORTED_SECURITY: u8 = 8;
/// [`ConnectFailure::Other`] code of [`Failure::RejectedByAp`] (detail: the reason code).
pub const FAILURE_CODE_REJECTED_BY_AP: u8 = 9;
/// [`ConnectFailure::Other`] code of [`Failure::HandshakeFailed`] (detail: the reason code).
pub const FAILURE_CODE_HANDSHAKE_FAILED: u8 = 10;

impl Failure {
    /// Whether a later attempt may succeed without the guest changing anything (auto-reconnect
    /// retries only these).
    pub fn is_transient(self) -> bool {
        !matches!(
            self,
            Self::WrongPassphrase
                | Self::SecurityMismatch { .. }
                | Self::UnsupportedSecurity { .. }
        )
    }
}

impl From<Failure> for ConnectFailure {
    fn from(f: Failure) -> Self {
        match f {
            Failure::NetworkNotFound => Self::NetworkNotFound,
            Failure::AuthRejected { status } => Self::AuthRejected {
                status: status.into(),
            },
            Failure::AssocRejected { status } => Self::AssocRejected {
                status: status.into(),
            },
            Failure::WrongPassphrase => Self::WrongPassphrase,
            Failure::ApUnreachable => Self::ApUnreachable,
            Failure::HandshakeTimeout => Self::HandshakeTimeout,
            Failure::SecurityMismatch { network, .. } => Self::Other {
                code: FAILURE_CODE_SECURITY_MISMATCH,
                detail: network.code().into(),
            },
            Failure::UnsupportedSecurity { network } => Self::Other {
                code: FAILURE_CODE_UNSUPPORTED_SECURITY,
                detail: network.code().into(),
            },
            Failure::RejectedByAp { reason } => Self::Other {
                code: FAILURE_CODE_REJECTED_BY_AP,
                detail: reason.into(),
            },
            Failure::HandshakeFailed { reason } => Self::Other {
                code: FAILURE_CODE_HANDSHAKE_FAILED,
                detail: reason.into(),
            },
        }
    }
}

/// How a station scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    /// The channels visited, in order (default: [`default_scan_channels`]).
    pub channels: Vec<Channel>,
    /// How long an active scan stays on a channel after its probe request.
    pub active_dwell: Duration,
    /// How long a passive scan listens on a channel (longer than one beacon interval).
    pub passive_dwell: Duration,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            channels: default_scan_channels(),
            active_dwell: Duration::from_millis(40),
            passive_dwell: Duration::from_millis(110),
        }
    }
}

/// When a station that lost its connection (or failed to make one) tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The delay before the first retry; doubled after each failed retry.
    pub initial: Duration,
    /// The longest delay (the cap of the doubling, jitter included).
    pub max: Duration,
    /// How many retries in a row before giving up (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before retry number `attempt` (0 for the first), before jitter: `initial`
    /// doubled `attempt` times, at most `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// The configuration of one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationConfig {
    /// The station's MAC address (see [`local_mac_from_seed`]).
    pub mac: MacAddr,
    /// The seed of the station's random number generator (SNonces, backoff jitter).
    pub seed: [u8; 32],
    /// Scanning.
    pub scan: ScanConfig,
    /// How long to wait for an authentication or association response.
    pub mgmt_timeout: Duration,
    /// How many authentication (and then association) requests to send before giving up.
    pub mgmt_attempts: u32,
    /// How long the 4-way handshake may take, from association to message 3.
    pub handshake_timeout: Duration,
    /// How many beacon intervals without hearing the AP (on its channel) mean it is gone.
    pub beacon_loss_count: u32,
    /// The listen interval announced in association requests, in beacon intervals: how long
    /// the AP must buffer for the station in power save.
    pub listen_interval: u16,
    /// Reconnection.
    pub reconnect: ReconnectPolicy,
    /// BSS table entries older than this are removed.
    pub bss_max_age: Duration,
    /// A connect request uses a BSS table entry younger than this without scanning first.
    pub bss_fresh: Duration,
    /// How many frames may wait while the station is off its channel.
    pub tx_queue_limit: usize,
    /// A change of the AP's (smoothed) signal by this many dB is reported as
    /// [`proto::Event::SignalChanged`].
    pub signal_report_db: u8,
    /// Roaming within the network (ESS): when and where a connected station moves to another
    /// AP of the same SSID and security.
    pub roam: RoamConfig,
    /// Whether guest frames handed over together ([`crate::station::Station::send_data_batch`])
    /// go in A-MSDUs on links that take them.
    pub amsdu: bool,
    /// Whether, once connected, the unicast data frames (protected under the pairwise key, or
    /// unprotected on a link to an open network) are handed on unopened
    /// ([`StationOutput::DeliverSealed`]) for a receive stage to open on another thread
    /// ([`rx_stage`]: decrypt, replay-check, split A-MSDUs), instead of by the station.
    pub stage_rx: bool,
}

/// When a connected station roams to another AP of its network (the same SSID and security).
///
/// A station whose AP's signal falls below `trigger_dbm` scans its network in the background
/// (actively, on the channels where another AP of the network was heard, all channels if none;
/// the dwells take turns with its home channel, the AP buffering for it meanwhile), at most
/// every `scan_interval`, and reassociates to the strongest other AP whose signal beats
/// the current one by `hysteresis_db`: open-system (or SAE, or a cached PMKSA) authentication,
/// a Reassociation Request naming the current AP, a fresh 4-way handshake. An AP that falls
/// silent (beacon loss) makes the station scan at once and join another AP of the network
/// without telling the guest it was disconnected, unless there is none. The guest gets
/// [`proto::Event::Roamed`]; the data it sends during the roam waits (up to
/// [`StationConfig::tx_queue_limit`] frames) and leaves under the new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoamConfig {
    /// Whether the station roams at all (beacon loss then disconnects, as without an ESS).
    pub enabled: bool,
    /// The AP's signal below which the station looks for a better one, in dBm.
    pub trigger_dbm: i8,
    /// How much stronger another AP must be than the current one to move to it, in dB.
    pub hysteresis_db: u8,
    /// The least time between two background scans.
    pub scan_interval: Duration,
}

impl Default for RoamConfig {
    /// On; below -70 dBm, to an AP 8 dB stronger, scanning at most every 2 s.
    fn default() -> Self {
        Self {
            enabled: true,
            trigger_dbm: -70,
            hysteresis_db: 8,
            scan_interval: Duration::from_secs(2),
        }
    }
}

impl StationConfig {
    /// The defaults: scans of [`default_scan_channels`] with 40 ms (active) or 110 ms (passive)
    /// dwell, 200 ms × 3 for authentication and association, a 5 s handshake, beacon loss after
    /// 10 intervals, listen interval 10, reconnect after 1 s doubling to 30 s, BSS entries kept
    /// 30 s and used without a scan for 5 s, 256 queued frames, 5 dB signal reports, roaming on
    /// ([`RoamConfig::default`]), A-MSDUs on.
    pub fn new(mac: MacAddr, seed: [u8; 32]) -> Self {
        Self {
            mac,
            seed,
            scan: ScanConfig::default(),
            mgmt_timeout: Duration::from_millis(200),
            mgmt_attempts: 3,
            handshake_timeout: Duration::from_secs(5),
            beacon_loss_count: 10,
            listen_interval: 10,
            reconnect: ReconnectPolicy::default(),
            bss_max_age: Duration::from_secs(30),
            bss_fresh: Duration::from_secs(5),
            tx_queue_limit: 256,
            signal_report_db: 5,
            roam: RoamConfig::default(),
            amsdu: true,
            stage_rx: false,
        }
    }
}

/// Per-cause counters of a station beyond the guest-visible [`proto::Counters`]. Never secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StationStats {
    /// Frames that did not parse.
    pub malformed: u64,
    /// Data frames not addressed to this station (another unicast address, or not From DS).
    pub not_for_us: u64,
    /// Data frames not from this station's BSS, or received while not associated.
    pub not_from_bss: u64,
    /// Unprotected data frames in a protected BSS (other than EAPOL before the keys).
    pub unprotected: u64,
    /// Protected frames for which no key is installed.
    pub no_key: u64,
    /// Protected frames that failed CCMP decryption.
    pub decrypt_failed: u64,
    /// Protected frames with a packet number already seen (replays).
    pub replayed: u64,
    /// Frames of the guest-control EtherType 0x88B5 from the air.
    pub control_ethertype: u64,
    /// Group frames this station sent itself, reflected by the AP.
    pub own_reflection: u64,
    /// Retransmitted unicast data frames already received (their acknowledgement was lost).
    pub duplicates: u64,
    /// Unicast frames the station sent that were not acknowledged.
    pub tx_not_acked: u64,
    /// Connections lost to beacon loss.
    pub beacon_losses: u64,
    /// Reconnection attempts started.
    pub reconnects: u64,
    /// Background scans started to find a better AP of the network.
    pub roam_scans: u64,
    /// Roams completed (the new AP's handshake done).
    pub roams: u64,
    /// Roams that failed (the guest was then told it was disconnected).
    pub roam_failures: u64,
    /// Guest frames dropped during a roam because the hold queue was full, or already
    /// protected for the old AP when the roam began.
    pub roam_dropped: u64,
    /// A-MSDUs sent (each one MPDU, protected once).
    pub amsdu_tx: u64,
    /// The MSDUs those A-MSDUs carried.
    pub amsdu_tx_msdus: u64,
    /// A-MSDUs received and accepted (decrypted and replay-checked once).
    pub amsdu_rx: u64,
    /// The MSDUs taken from them.
    pub amsdu_rx_msdus: u64,
    /// A-MSDU subframes dropped: a DA other than this station, or no valid MSDU.
    pub amsdu_refused: u64,
}

/// A locally administered unicast address drawn from `seed`: the same seed always gives the
/// same address, so a guest identified by a stable seed keeps its address.
pub fn local_mac_from_seed(seed: [u8; 32]) -> MacAddr {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut octets = [0u8; 6];
    rng.fill_bytes(&mut octets);
    octets[0] = (octets[0] | 0x02) & !0x01;
    MacAddr(octets)
}
