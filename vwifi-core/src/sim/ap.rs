//! Software access points that behave like real ones: vwifi's embedded default radio.
//!
//! A [`SoftAp`] is a [`Node`] on the simulated medium. It is sans-IO: the medium hands it the
//! frames it hears and the time, it hands back frames to transmit and when it must next be
//! woken; its randomness (ANonces, GTKs) comes from a ChaCha RNG seeded at construction.
//!
//! What it does, as an 802.11 AP of an infrastructure BSS would:
//! - **Beacons** every beacon interval (TBTT `k` at `start + k * interval`), with SSID (empty
//!   when hidden), rates, DS Parameter Set, a TIM (the AIDs of dozing stations with buffered
//!   frames; the group bit on DTIM beacons when group frames are buffered) and, for WPA2, the
//!   RSN element.
//! - **Probe responses** to wildcard probe requests (unless hidden) and to probes for its SSID;
//!   probes for other SSIDs or with another channel in their DS Parameter Set are ignored.
//! - **Open-system authentication** (any other algorithm is refused with status 13, a wrong
//!   transaction number with 14) and **(re)association** with AIDs: status 17 when
//!   `max_stations` are associated, 1 for another SSID; on a WPA2 BSS a request without an RSNE
//!   is refused with 40 (invalid element), one whose RSNE selects anything but CCMP-128/PSK
//!   with 41/42/43/44, one that requires management frame protection with 31. A station that
//!   (re)associates without having authenticated is deauthenticated with reason 9; a class 3
//!   frame (data, PS-Poll) from a station that is not associated with reason 7.
//! - The **authenticator** of the WPA2 4-way and group key handshakes
//!   ([`crate::handshake::Authenticator`]), EAPOL in data frames with LLC/SNAP EtherType 0x888E.
//!   Until the 4-way handshake completes only EAPOL passes. A failed handshake deauthenticates
//!   the station with the error's reason code (14 for a MIC failure on message 2: a wrong
//!   passphrase; 15 for a timeout) and is reported as [`ApEvent::HandshakeFailed`].
//!   **GTK rekeying** every `gtk_rekey_interval`: a new GTK (key ID 1 <-> 2), a group key
//!   handshake with every authorized station, then group frames use the new key.
//! - **WPA3** ([`ApSecurity::Wpa3Sae`], `sae.rs`): SAE authentication (algorithm 3) as the
//!   responder, hunting-and-pecking or hash-to-element (the RSNXE says H2E), anti-clogging
//!   tokens from 5 open exchanges, a PMKSA cache so that a station may come back with Open
//!   System authentication and its PMKID; the 4-way handshake with AKM 8; management frame
//!   protection required (WPA3-only, MFPR) or optional (transition mode, which also takes
//!   WPA2-PSK stations), the IGTK handed over, and CCMP-protected deauthentication and
//!   disassociation with stations that negotiated it (`pmf.rs`); an unprotected
//!   (Re)Association Request for such a station is refused temporarily (status 30) while a
//!   protected SA Query asks the station, and [`SoftAp::stop`] sends a BIP-protected broadcast
//!   deauthentication. A failed SAE is reported as [`ApEvent::SaeFailed`].
//! - **CCMP** on every data frame of a WPA2 BSS: each station's pairwise key for unicast, the
//!   GTK for group frames; PNs per key; replay check on receive. Unprotected data from a station
//!   that holds its keys is dropped.
//! - **Power save**: the Power Management bit of every frame a station sends (null data too)
//!   says whether it dozes. Unicast frames to a dozing station are buffered (at most
//!   `ps_queue_limit`, the oldest dropped and counted), announced in the TIM, delivered one per
//!   PS-Poll (More Data set while more remain; a Null frame if none) and all at once when the
//!   station wakes. A unicast frame already on its way when its station began to doze, and
//!   therefore not acknowledged, goes back into the buffer ahead of the others (sent again
//!   with Retry set, as real APs do), instead of being lost. Group frames are buffered while
//!   any station dozes and sent after the next DTIM beacon.
//! - **Bridging**: a frame from one station to another's address is re-encrypted with the
//!   receiver's key and forwarded; group frames from a station go to the BSS (From DS, GTK)
//!   and to the uplink; anything else goes to the uplink.
//! - An optional **uplink** (`ApConfig::uplink`): 802.3 frames out ([`SoftAp::poll_uplink`])
//!   and in ([`SoftAp::handle_uplink`]). The host connects it to a TAP or an in-process peer.
//! - **Inactivity**: a station silent for `inactivity_timeout` is deauthenticated (reason 4).
//! - **Counters** per AP ([`ApCounters`]) and per station ([`StationCounters`]), with drops by
//!   [`DropReason`], and **events** ([`SoftAp::poll_event`]). No key or passphrase ever reaches
//!   `Debug` or the logs; state changes are traced at `debug`, drops at `trace`.
//!
//! # Driving it
//! ```
//! use vwifi_core::sim::ap::{ApConfig, ApSecurity, SoftAp};
//! use vwifi_core::radio::Node;
//! use vwifi_core::{channel::Channel, wire::Ssid, Instant, MacAddr};
//!
//! let bssid: MacAddr = "02:00:00:00:01:00".parse().unwrap();
//! let ssid = Ssid::try_from("vwifi-open").unwrap();
//! let cfg = ApConfig::new(ssid, bssid, Channel::new(1).unwrap(), ApSecurity::Open);
//! let mut ap = SoftAp::new(cfg, Instant::ZERO, 7).unwrap();
//! // The medium wakes the AP when it asks to, then drains its frames.
//! let wake = ap.poll_timeout().unwrap();
//! ap.handle_timeout(wake);
//! let beacon = ap.poll_transmit().unwrap();
//! assert_eq!(beacon[0], 0x80); // a beacon
//! ```

mod frames;
mod pmf;
mod sae;
mod station;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use core::time::Duration;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tracing::{debug, trace};
use zeroize::Zeroizing;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::crypto::ccmp;
use crate::crypto::keys::KEY_LEN;
use crate::crypto::{derive_psk, CryptoError, Gtk, Passphrase, Psk, TemporalKey};
use crate::handshake::sae::SaePassword;
use crate::handshake::{
    Authenticator, AuthenticatorConfig, HandshakeError, Message, Output, RetryPolicy,
};
use crate::time::{Instant, TU};
use crate::wire::amsdu;
use crate::wire::{
    AssocResponse, AuthAlgorithm, Authentication, Beacon, ControlFrame, DataFrame,
    Deauthentication, DsDirection, Element, ElementList, EtherType, EthernetFrame, FcFlags, Frame,
    FrameControl, FrameType, Header, MgmtBody, MgmtFrame, ProbeRequest, PsPoll, QosControl,
    ReasonCode, Rsne, SequenceControl, Ssid, StatusCode, Tim,
};

use self::frames::BssElements;
use self::sae::ApSae;
use self::station::{Buffered, Station};
use crate::radio::{Node, RxMeta, TxStatus};

/// The security of a BSS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApSecurity {
    /// No encryption, open-system authentication.
    Open,
    /// WPA2-Personal: PSK, CCMP-128. The PSK prints as `<redacted>`.
    Wpa2Psk {
        /// The pre-shared key (the PMK).
        psk: Psk,
    },
    /// WPA3-Personal: SAE (hunting-and-pecking or hash-to-element), CCMP-128, management frame
    /// protection required; with `transition_psk`, the WPA2/WPA3 transition mode: SAE or PSK
    /// stations, management frame protection optional. Nothing secret prints in `Debug`.
    Wpa3Sae {
        /// The SAE password.
        password: SaePassword,
        /// The PSK of WPA2 stations in transition mode.
        transition_psk: Option<Psk>,
    },
}

impl ApSecurity {
    /// WPA2-Personal with the PSK derived from `passphrase` and `ssid` (PBKDF2, IEEE
    /// 802.11-2020 J.4.1).
    pub fn wpa2_passphrase(passphrase: &Passphrase, ssid: &Ssid) -> Result<Self, CryptoError> {
        Ok(Self::Wpa2Psk {
            psk: derive_psk(passphrase, ssid.as_bytes())?,
        })
    }

    /// WPA3-Personal with `passphrase` as the SAE password; with `transition`, WPA2/WPA3
    /// transition mode with the PSK derived from it as well.
    pub fn wpa3_passphrase(
        passphrase: &Passphrase,
        ssid: &Ssid,
        transition: bool,
    ) -> Result<Self, CryptoError> {
        let transition_psk = if transition {
            Some(derive_psk(passphrase, ssid.as_bytes())?)
        } else {
            None
        };
        Ok(Self::Wpa3Sae {
            password: SaePassword::new(passphrase.expose()),
            transition_psk,
        })
    }

    /// Whether this is a WPA2 or WPA3 BSS.
    pub fn is_protected(&self) -> bool {
        matches!(self, Self::Wpa2Psk { .. } | Self::Wpa3Sae { .. })
    }
}

/// The configuration of a software AP. Build it with [`ApConfig::new`] and adjust the public
/// fields; [`SoftAp::new`] checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApConfig {
    /// The network name.
    pub ssid: Ssid,
    /// The BSSID: the AP's MAC address (unicast).
    pub bssid: MacAddr,
    /// The channel the AP operates on.
    pub channel: Channel,
    /// Open or WPA2-PSK.
    pub security: ApSecurity,
    /// The beacon interval, in time units of 1024 µs (100 by default; not 0).
    pub beacon_interval_tu: u16,
    /// Beacon intervals between DTIM beacons (2 by default; not 0).
    pub dtim_period: u8,
    /// How many stations may be associated at once (32 by default; 1 to 2007).
    pub max_stations: u16,
    /// Where the AP stands, `(x, y)` in metres: used by the medium for the signal.
    pub position: (f64, f64),
    /// The PHY rate the AP transmits data at, in kbit/s (54000 by default): for the medium.
    pub rate_kbps: u32,
    /// The GTK is replaced this often, if set.
    pub gtk_rekey_interval: Option<Duration>,
    /// Hidden SSID: beacons carry an empty SSID and wildcard probes are not answered.
    pub hidden: bool,
    /// A station silent this long is deauthenticated (300 s by default).
    pub inactivity_timeout: Duration,
    /// The most unicast frames buffered per dozing station, and group frames while any station
    /// dozes (64 by default).
    pub ps_queue_limit: usize,
    /// Whether the AP has an uplink port: frames to addresses outside the BSS go there.
    /// Without one they are dropped ([`DropReason::NoRoute`]).
    pub uplink: bool,
    /// Retransmission of handshake messages 1 and 3 and group message 1.
    pub handshake_retry: RetryPolicy,
    /// How long after its creation the AP's TSF and TBTT grid start (zero by default). Real
    /// APs' timers start whenever they booted, so their beacons, and DTIM beacons, are not in
    /// step; [`ApConfig::tbtt_offset_from_bssid`] gives such a phase.
    pub tbtt_offset: Duration,
    /// What the AP's radio can do: standard, width, streams (legacy 802.11g/a by default).
    pub phy: crate::phy::PhyCaps,
    /// Whether the MSDUs of a station's A-MSDU that go on to another station go in A-MSDUs
    /// too, where that station takes them (on by default; never on a legacy BSS).
    pub amsdu: bool,
}

impl ApConfig {
    /// The default beacon interval, in TU.
    pub const DEFAULT_BEACON_INTERVAL_TU: u16 = 100;
    /// The default inactivity timeout.
    pub const DEFAULT_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(300);
    /// The most frames the uplink queue holds before the oldest is dropped.
    pub const UPLINK_QUEUE_LIMIT: usize = 1024;

    /// An AP with the defaults of every other field: beacon interval 100 TU, DTIM period 2,
    /// 32 stations, at the origin, 54 Mbit/s, no GTK rekeying, SSID broadcast, 300 s
    /// inactivity timeout, 64 buffered frames per dozing station, no uplink.
    pub fn new(ssid: Ssid, bssid: MacAddr, channel: Channel, security: ApSecurity) -> Self {
        Self {
            ssid,
            bssid,
            channel,
            security,
            beacon_interval_tu: Self::DEFAULT_BEACON_INTERVAL_TU,
            dtim_period: 2,
            max_stations: 32,
            position: (0.0, 0.0),
            rate_kbps: 54_000,
            gtk_rekey_interval: None,
            hidden: false,
            inactivity_timeout: Self::DEFAULT_INACTIVITY_TIMEOUT,
            ps_queue_limit: 64,
            uplink: false,
            handshake_retry: RetryPolicy::default(),
            tbtt_offset: Duration::ZERO,
            phy: crate::phy::PhyCaps::LEGACY,
            amsdu: true,
        }
    }

    /// A TBTT phase for this AP, spread over one DTIM interval by a hash of its BSSID: APs
    /// brought up together then beacon out of step, as real ones do, and a radio that
    /// time-shares their channels can be on each channel for each DTIM beacon.
    pub fn tbtt_offset_from_bssid(&self) -> Duration {
        let mut x = self
            .bssid
            .0
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // SplitMix64's finalizer: neighbouring BSSIDs land far apart.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        let span = self.beacon_interval().as_micros() as u64 * u64::from(self.dtim_period.max(1));
        Duration::from_micros(x % span.max(1))
    }

    /// The beacon interval as a duration.
    pub fn beacon_interval(&self) -> Duration {
        TU * u32::from(self.beacon_interval_tu)
    }

    /// Checks the values [`SoftAp::new`] cannot work with.
    pub fn validate(&self) -> Result<(), ApConfigError> {
        if !self.bssid.is_unicast() || self.bssid == MacAddr::ZERO {
            return Err(ApConfigError::BssidNotUnicast(self.bssid));
        }
        if self.beacon_interval_tu == 0 {
            return Err(ApConfigError::ZeroBeaconInterval);
        }
        if self.dtim_period == 0 {
            return Err(ApConfigError::ZeroDtimPeriod);
        }
        if !(1..=Tim::MAX_AID).contains(&self.max_stations) {
            return Err(ApConfigError::MaxStations(self.max_stations));
        }
        if self.ps_queue_limit == 0 {
            return Err(ApConfigError::ZeroQueueLimit);
        }
        if self.gtk_rekey_interval == Some(Duration::ZERO) {
            return Err(ApConfigError::ZeroRekeyInterval);
        }
        if self.inactivity_timeout.is_zero() {
            return Err(ApConfigError::ZeroInactivityTimeout);
        }
        Ok(())
    }
}

/// Why an [`ApConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApConfigError {
    /// The BSSID is a group or all-zero address.
    #[error("BSSID {0} is not a unicast address")]
    BssidNotUnicast(MacAddr),
    /// The beacon interval is 0.
    #[error("beacon interval must not be 0")]
    ZeroBeaconInterval,
    /// The DTIM period is 0.
    #[error("DTIM period must not be 0")]
    ZeroDtimPeriod,
    /// `max_stations` is 0 or more than 2007 (the largest AID).
    #[error("max stations {0} is not in 1..=2007")]
    MaxStations(u16),
    /// The power-save queue limit is 0.
    #[error("power-save queue limit must not be 0")]
    ZeroQueueLimit,
    /// The GTK rekey interval is 0.
    #[error("GTK rekey interval must not be 0")]
    ZeroRekeyInterval,
    /// The inactivity timeout is 0.
    #[error("inactivity timeout must not be 0")]
    ZeroInactivityTimeout,
}

/// Why the AP dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Data other than EAPOL from or to a station whose 802.1X port is not open yet.
    NotAuthorized,
    /// A CCMP frame whose MIC did not verify.
    DecryptFailed,
    /// A CCMP frame whose PN was not greater than the last one accepted.
    Replay,
    /// An unprotected data frame from a station that holds its keys (WPA2), or a protected
    /// one on an open BSS.
    Unprotected,
    /// A protected frame from a station that has no pairwise key yet.
    NoKey,
    /// A power-save or uplink queue was full: its oldest frame was dropped.
    QueueFull,
    /// A frame that did not parse, or a PS-Poll with a wrong AID.
    Malformed,
    /// A class 3 frame (data, PS-Poll) from a station that is not associated.
    NotAssociated,
    /// A frame for an address neither in the BSS nor reachable through an uplink.
    NoRoute,
}

/// Dropped frames, by [`DropReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// See [`DropReason::NotAuthorized`].
    pub not_authorized: u64,
    /// See [`DropReason::DecryptFailed`].
    pub decrypt_failed: u64,
    /// See [`DropReason::Replay`].
    pub replay: u64,
    /// See [`DropReason::Unprotected`].
    pub unprotected: u64,
    /// See [`DropReason::NoKey`].
    pub no_key: u64,
    /// See [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// See [`DropReason::Malformed`].
    pub malformed: u64,
    /// See [`DropReason::NotAssociated`].
    pub not_associated: u64,
    /// See [`DropReason::NoRoute`].
    pub no_route: u64,
}

impl DropCounters {
    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        *self.field(reason)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.not_authorized
            + self.decrypt_failed
            + self.replay
            + self.unprotected
            + self.no_key
            + self.queue_full
            + self.malformed
            + self.not_associated
            + self.no_route
    }

    fn bump(&mut self, reason: DropReason) {
        let c = self.field_mut(reason);
        *c = c.saturating_add(1);
    }

    fn field(&self, reason: DropReason) -> &u64 {
        match reason {
            DropReason::NotAuthorized => &self.not_authorized,
            DropReason::DecryptFailed => &self.decrypt_failed,
            DropReason::Replay => &self.replay,
            DropReason::Unprotected => &self.unprotected,
            DropReason::NoKey => &self.no_key,
            DropReason::QueueFull => &self.queue_full,
            DropReason::Malformed => &self.malformed,
            DropReason::NotAssociated => &self.not_associated,
            DropReason::NoRoute => &self.no_route,
        }
    }

    fn field_mut(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::NotAuthorized => &mut self.not_authorized,
            DropReason::DecryptFailed => &mut self.decrypt_failed,
            DropReason::Replay => &mut self.replay,
            DropReason::Unprotected => &mut self.unprotected,
            DropReason::NoKey => &mut self.no_key,
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::Malformed => &mut self.malformed,
            DropReason::NotAssociated => &mut self.not_associated,
            DropReason::NoRoute => &mut self.no_route,
        }
    }
}

/// The AP's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApCounters {
    /// Beacons sent.
    pub beacons: u64,
    /// Probe responses sent.
    pub probe_responses: u64,
    /// Frames received for this AP (addressed to it, or group management frames).
    pub rx_frames: u64,
    /// Their bytes (802.11, without FCS).
    pub rx_bytes: u64,
    /// Frames handed to the medium.
    pub tx_frames: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Unicast transmissions acknowledged.
    pub tx_acked: u64,
    /// Unicast transmissions not acknowledged after the retry limit.
    pub tx_not_acked: u64,
    /// Data frames forwarded from one station to another.
    pub forwarded: u64,
    /// Frames buffered for dozing stations (unicast and group).
    pub ps_buffered: u64,
    /// Of those, frames already sent but not acknowledged because their station had begun to
    /// doze, buffered again for a retransmission.
    pub ps_rebuffered: u64,
    /// Frames received from the uplink.
    pub uplink_rx_frames: u64,
    /// Frames sent to the uplink.
    pub uplink_tx_frames: u64,
    /// GTK rekeys completed.
    pub gtk_rekeys: u64,
    /// SAE exchanges completed (WPA3).
    pub sae_completed: u64,
    /// Associations that resumed a cached PMKSA instead of running SAE (WPA3).
    pub pmksa_resumed: u64,
    /// SAE commits answered with an anti-clogging token request (status 76, WPA3).
    pub sae_tokens_requested: u64,
    /// A-MSDUs sent (each one MPDU, protected once).
    pub amsdu_tx: u64,
    /// The MSDUs those A-MSDUs carried.
    pub amsdu_tx_msdus: u64,
    /// A-MSDUs received and accepted (decrypted and replay-checked once).
    pub amsdu_rx: u64,
    /// The MSDUs taken from them.
    pub amsdu_rx_msdus: u64,
    /// A-MSDU subframes dropped: an SA other than the sending station, or no valid MSDU.
    pub amsdu_refused: u64,
    /// Dropped frames, by reason.
    pub dropped: DropCounters,
}

/// One station's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationCounters {
    /// Frames received from the station.
    pub rx_frames: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Data frames sent to the station (unicast).
    pub tx_frames: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Frames buffered while it dozed.
    pub ps_buffered: u64,
    /// Frames from or for it that were dropped, by reason.
    pub dropped: DropCounters,
}

/// How far a station has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StationState {
    /// Authenticated (open system), not associated.
    Authenticated,
    /// Associated; on a WPA2 BSS, the 4-way handshake has not completed.
    Associated,
    /// Associated and its port open: data passes.
    Authorized,
}

/// A snapshot of a station as the AP sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationInfo {
    /// The station's address.
    pub addr: MacAddr,
    /// Its association ID, if associated.
    pub aid: Option<u16>,
    /// How far it has come.
    pub state: StationState,
    /// Whether it dozes (power save).
    pub power_save: bool,
    /// Frames buffered for it.
    pub buffered: usize,
    /// The listen interval of its association request, in beacon intervals.
    pub listen_interval: u16,
    /// The signal of its last frame, in dBm.
    pub signal_dbm: Option<i8>,
    /// When it was last heard.
    pub last_seen: Instant,
    /// Its counters.
    pub counters: StationCounters,
}

/// Why a station left the BSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveReason {
    /// The station sent a deauthentication.
    Deauthenticated(ReasonCode),
    /// The station sent a disassociation (it stays authenticated).
    Disassociated(ReasonCode),
    /// The AP deauthenticated the station with this reason: a failed handshake (14 MIC
    /// failure, 15 4-way handshake timeout, 16 group key handshake timeout...), inactivity (4).
    Removed(ReasonCode),
    /// The station authenticated again while associated: the old association ended.
    Reauthenticated,
    /// The station reassociated with another AP of the network, which told this one through
    /// the distribution system ([`SoftAp::release_roamed`]).
    Roamed {
        /// The AP it moved to.
        to: MacAddr,
    },
}

/// A station that reassociated to this AP naming another AP as its current one: the
/// distribution system tells that AP to let it go ([`SoftAp::poll_roamed_in`],
/// [`SoftAp::release_roamed`], [`crate::sim::air::forward_roams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoamedIn {
    /// The station.
    pub sta: MacAddr,
    /// The AP it left (the Current AP Address of its Reassociation Request).
    pub from: MacAddr,
}

/// Something that happened at the AP, for the host's logs, status and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApEvent {
    /// A station (re)associated.
    Associated {
        /// The station.
        sta: MacAddr,
        /// Its association ID.
        aid: u16,
        /// Whether it was a reassociation request.
        reassociation: bool,
    },
    /// A (re)association request was refused.
    AssociationRefused {
        /// The station.
        sta: MacAddr,
        /// The status code sent.
        status: StatusCode,
    },
    /// A station's port opened: on a WPA2 BSS, the 4-way handshake completed.
    Authorized {
        /// The station.
        sta: MacAddr,
    },
    /// A station's handshake failed; the AP deauthenticated it with `error.reason_code()`.
    HandshakeFailed {
        /// The station.
        sta: MacAddr,
        /// What went wrong.
        error: HandshakeError,
        /// A MIC mismatch on message 2: the station most likely holds a wrong passphrase.
        wrong_passphrase: bool,
    },
    /// A station's SAE exchange failed (WPA3); it is forgotten.
    SaeFailed {
        /// The station.
        sta: MacAddr,
        /// What went wrong.
        error: crate::handshake::sae::SaeError,
        /// Its confirm did not verify: the station most likely holds a wrong password.
        wrong_passphrase: bool,
    },
    /// A station left the BSS (after [`ApEvent::Associated`]).
    Left {
        /// The station.
        sta: MacAddr,
        /// Why.
        reason: LeaveReason,
    },
    /// A new GTK is in use for group frames.
    GroupKeyRekeyed {
        /// Its key ID.
        key_id: u8,
    },
}

/// A GTK with its PN space.
#[derive(Debug)]
struct GroupKey {
    gtk: Gtk,
    /// Bumped by every rekey; stations record the generation they hold.
    generation: u64,
    /// The last PN sent with this key (0 before the first frame).
    last_pn: u64,
}

/// The most events kept before the oldest is dropped.
const EVENT_QUEUE_LIMIT: usize = 1024;

/// A software access point. See the [module documentation](self).
#[derive(Debug)]
pub struct SoftAp {
    cfg: ApConfig,
    rng: ChaCha20Rng,
    /// The AP's start: TSF zero and TBTT zero.
    start: Instant,
    /// The index of the next TBTT.
    next_tbtt: u64,
    /// The next sequence number.
    seq: u16,
    stations: BTreeMap<MacAddr, Station>,
    /// The RSN element of beacons and probe responses (WPA2).
    rsne: Option<Element>,
    /// The RSNE, whole, as the authenticator sends it in message 3.
    rsne_bytes: Vec<u8>,
    /// The RSN Extension element of beacons and probe responses (WPA3).
    rsnxe: Option<Element>,
    /// SAE, PMKSA cache and IGTK (WPA3).
    sae: Option<ApSae>,
    /// The GTK in use for group frames (WPA2).
    gtk: Option<GroupKey>,
    /// The GTK being handed to the stations by a rekey.
    next_gtk: Option<GroupKey>,
    next_rekey: Option<Instant>,
    /// Group frames buffered while a station dozes (plaintext).
    group_ps: VecDeque<DataFrame>,
    tx: VecDeque<Bytes>,
    uplink_out: VecDeque<EthernetFrame>,
    events: VecDeque<ApEvent>,
    /// Stations that roamed in from another AP, for the distribution system.
    roamed_in: VecDeque<RoamedIn>,
    counters: ApCounters,
    /// Radios that take MPDUs of at most so many octets ([`SoftAp::set_mpdu_limits`]).
    mpdu_limits: BTreeMap<MacAddr, usize>,
    /// The protected data frames of a batch being received, decrypted together per station
    /// ([`Node::handle_rx_batch`]); empty between batches.
    opened: ccmp::Opened,
    /// The frames made while a batch is received, in order (`None` between batches): those
    /// to protect are sealed together per key when the batch ends.
    outgoing: Option<Vec<Outgoing>>,
}

/// A frame made while a batch of received frames is handled ([`Node::handle_rx_batch`]).
enum Outgoing {
    /// Ready to queue.
    Ready(Vec<u8>),
    /// To protect for station `sta` under `key` with packet number `pn`: `frame` is laid out
    /// for [`ccmp::encrypt_in_place`] (room for the CCMP header before, the MIC after).
    Seal {
        sta: MacAddr,
        pn: u64,
        key: Zeroizing<[u8; KEY_LEN]>,
        frame: Vec<u8>,
    },
    /// Its sealing failed: not sent.
    Dropped,
}

impl core::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Ready(frame) => write!(f, "Ready({} octets)", frame.len()),
            // The key is never printed.
            Self::Seal { sta, pn, frame, .. } => {
                write!(f, "Seal({sta}, PN {pn}, {} octets)", frame.len())
            }
            Self::Dropped => write!(f, "Dropped"),
        }
    }
}

impl SoftAp {
    /// An AP that starts at `now` plus [`ApConfig::tbtt_offset`] (its first beacon is due
    /// then), drawing its randomness from a ChaCha20 RNG seeded with `seed`.
    pub fn new(cfg: ApConfig, now: Instant, seed: u64) -> Result<Self, ApConfigError> {
        cfg.validate()?;
        let start = now + cfg.tbtt_offset;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let sae = match &cfg.security {
            ApSecurity::Wpa3Sae {
                password,
                transition_psk,
            } => Some(ApSae::new(
                password,
                cfg.ssid.as_bytes(),
                transition_psk.is_some(),
                &mut rng,
            )),
            _ => None,
        };
        let rsnxe = sae.as_ref().map(|_| ApSae::rsnxe());
        let (rsne, rsne_bytes, gtk) = match cfg.security {
            ApSecurity::Open => (None, Vec::new(), None),
            ApSecurity::Wpa2Psk { .. } | ApSecurity::Wpa3Sae { .. } => {
                let element = sae
                    .as_ref()
                    .map_or_else(|| Element::Rsn(Rsne::wpa2_psk()), ApSae::rsne);
                let mut bytes = Vec::new();
                element.emit(&mut bytes);
                // Key ID 1 is in range: generation cannot fail.
                let gtk = Gtk::generate(&mut rng, 1).ok().map(|gtk| GroupKey {
                    gtk,
                    generation: 0,
                    last_pn: 0,
                });
                (Some(element), bytes, gtk)
            }
        };
        let next_rekey = cfg.gtk_rekey_interval.filter(|_| gtk.is_some());
        debug!(bssid = %cfg.bssid, ssid = %cfg.ssid, channel = %cfg.channel,
               protected = cfg.security.is_protected(), "soft AP up");
        Ok(Self {
            next_rekey: next_rekey.map(|i| now + i),
            cfg,
            rng,
            start,
            next_tbtt: 0,
            seq: 0,
            stations: BTreeMap::new(),
            rsne,
            rsne_bytes,
            rsnxe,
            sae,
            gtk,
            next_gtk: None,
            group_ps: VecDeque::new(),
            tx: VecDeque::new(),
            uplink_out: VecDeque::new(),
            events: VecDeque::new(),
            roamed_in: VecDeque::new(),
            counters: ApCounters::default(),
            mpdu_limits: BTreeMap::new(),
            opened: ccmp::Opened::new(),
            outgoing: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ApConfig {
        &self.cfg
    }

    /// Runs the SAE arithmetic of the stations joining this AP (WPA3) on `worker` instead of
    /// the caller's thread.
    pub fn set_sae_worker(&mut self, worker: crate::handshake::sae::SaeWorkerHandle) {
        if let Some(sae) = &mut self.sae {
            sae.worker = worker;
        }
    }

    /// The BSSID.
    pub fn bssid(&self) -> MacAddr {
        self.cfg.bssid
    }

    /// Where the AP stands, `(x, y)` in metres.
    pub fn position(&self) -> (f64, f64) {
        self.cfg.position
    }

    /// The AP's counters.
    pub fn counters(&self) -> &ApCounters {
        &self.counters
    }

    /// A snapshot of station `addr`, if the AP knows it.
    pub fn station(&self, addr: MacAddr) -> Option<StationInfo> {
        self.stations.get(&addr).map(Station::info)
    }

    /// Snapshots of every station the AP knows, by address.
    pub fn stations(&self) -> impl Iterator<Item = StationInfo> + '_ {
        self.stations.values().map(Station::info)
    }

    /// The number of associated stations.
    pub fn associated_count(&self) -> usize {
        self.stations.values().filter(|s| s.is_associated()).count()
    }

    /// The key ID of the GTK in use for group frames (WPA2).
    pub fn group_key_id(&self) -> Option<u8> {
        self.gtk.as_ref().map(|g| g.gtk.key_id())
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ApEvent> {
        self.events.pop_front()
    }

    /// Whether a station roamed in from another AP and the distribution system has not been
    /// told yet ([`SoftAp::poll_roamed_in`]).
    pub fn has_roamed_in(&self) -> bool {
        !self.roamed_in.is_empty()
    }

    /// The next station that reassociated here from another AP, for the distribution system
    /// to tell that AP ([`SoftAp::release_roamed`]).
    pub fn poll_roamed_in(&mut self) -> Option<RoamedIn> {
        self.roamed_in.pop_front()
    }

    /// The distribution system says `sta` reassociated with the AP `to`: forget it (its keys,
    /// its buffered frames) without a frame on the air, so the network routes its traffic to
    /// the new AP only. Returns whether the station was known here.
    pub fn release_roamed(&mut self, sta: MacAddr, to: MacAddr) -> bool {
        let Some(old) = self.stations.remove(&sta) else {
            return false;
        };
        debug!(bssid = %self.cfg.bssid, %sta, %to, "station roamed away");
        if old.is_associated() {
            self.push_event(ApEvent::Left {
                sta,
                reason: LeaveReason::Roamed { to },
            });
        }
        self.after_station_change();
        true
    }

    /// The next 802.3 frame for the uplink, if any (always `None` without an uplink).
    pub fn poll_uplink(&mut self) -> Option<EthernetFrame> {
        self.uplink_out.pop_front()
    }

    /// An 802.3 frame from the uplink: sent to the station it is addressed to (if authorized),
    /// or to the whole BSS if group-addressed; dropped otherwise. Ignored without an uplink.
    pub fn handle_uplink(&mut self, now: Instant, frame: EthernetFrame) {
        if !self.cfg.uplink {
            return;
        }
        self.counters.uplink_rx_frames += 1;
        self.expire(now);
        let bssid = self.cfg.bssid;
        if frame.dst.is_group() {
            self.send_group(frame.to_data(DsDirection::FromAp { bssid }, None));
        } else if self.stations.get(&frame.dst).is_some_and(|s| s.authorized) {
            let dst = frame.dst;
            self.send_unicast(dst, frame);
        } else {
            self.drop_frame(None, DropReason::NoRoute);
        }
    }

    /// Starts a GTK rekey now (as the rekey interval does): a new GTK, handed to every
    /// authorized station by a group key handshake, used for group frames once all have it.
    /// Does nothing on an open BSS or while a rekey runs.
    pub fn rekey_group(&mut self, now: Instant) {
        let Some(active) = &self.gtk else { return };
        if self.next_gtk.is_some() {
            debug!(bssid = %self.cfg.bssid, "GTK rekey still running; not starting another");
            return;
        }
        let key_id = if active.gtk.key_id() == 1 { 2 } else { 1 };
        let generation = active.generation + 1;
        let Ok(gtk) = Gtk::generate(&mut self.rng, key_id) else {
            return;
        };
        debug!(bssid = %self.cfg.bssid, key_id, "GTK rekey started");
        self.next_gtk = Some(GroupKey {
            gtk,
            generation,
            last_pn: 0,
        });
        let addrs: Vec<MacAddr> = self.stations.keys().copied().collect();
        for addr in addrs {
            self.sync_group_key(now, addr);
        }
        self.maybe_activate_next_gtk();
    }

    // ---- transmission ----

    fn next_seq(&mut self) -> SequenceControl {
        let s = SequenceControl::new(self.seq);
        self.seq = (self.seq + 1) & SequenceControl::MAX_SEQUENCE;
        s
    }

    fn push_tx(&mut self, frame: Vec<u8>) {
        if let Some(outgoing) = &mut self.outgoing {
            outgoing.push(Outgoing::Ready(frame));
            return;
        }
        self.queue_tx(frame);
    }

    fn queue_tx(&mut self, frame: Vec<u8>) {
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += frame.len() as u64;
        self.tx.push_back(Bytes::from(frame));
    }

    /// Queues the MPDU `emit` writes (about `len` octets) for station `addr`, protected with its
    /// pairwise key if it has one ([`seal_for`]). While a batch is received the protection
    /// waits for the batch's end ([`SoftAp::flush_outgoing`]), the PN taken now. Whether it
    /// was queued (or is to be).
    fn seal_and_push(
        &mut self,
        addr: MacAddr,
        len: usize,
        emit: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let Some(sta) = self.stations.get_mut(&addr) else {
            return false;
        };
        if let (Some(outgoing), Some(tk)) = (&mut self.outgoing, &sta.tk) {
            // A PN past the last fails at once, as `seal_for` would.
            if sta.tx_pn < ccmp::PN_MAX {
                sta.tx_pn += 1;
                let room = ccmp::CCMP_HEADER_LEN + ccmp::CCMP_MIC_LEN;
                let mut frame = Vec::with_capacity(len + room);
                frame.resize(ccmp::CCMP_HEADER_LEN, 0);
                emit(&mut frame);
                frame.resize(frame.len() + ccmp::CCMP_MIC_LEN, 0);
                sta.counters.tx_frames += 1;
                sta.counters.tx_bytes += frame.len() as u64;
                outgoing.push(Outgoing::Seal {
                    sta: addr,
                    pn: sta.tx_pn,
                    key: Zeroizing::new(*tk.expose()),
                    frame,
                });
                return true;
            }
        }
        let Some(out) = seal_for(sta, len, emit) else {
            return false;
        };
        self.push_tx(out);
        true
    }

    /// Ends a batch's deferral: seals the frames waiting for protection, together where they
    /// share a station, a key and consecutive PNs ([`ccmp::encrypt_batch`]), and queues every
    /// frame made during the batch in the order made.
    fn flush_outgoing(&mut self) {
        let Some(mut outgoing) = self.outgoing.take() else {
            return;
        };
        let mut by_station: BTreeMap<MacAddr, Vec<usize>> = BTreeMap::new();
        for (i, o) in outgoing.iter().enumerate() {
            if let Outgoing::Seal { sta, .. } = o {
                by_station.entry(*sta).or_default().push(i);
            }
        }
        for indices in by_station.values() {
            let mut run: Vec<usize> = Vec::new();
            for &i in indices {
                let follows =
                    run.last()
                        .is_some_and(|&last| match (outgoing.get(last), outgoing.get(i)) {
                            (
                                Some(Outgoing::Seal { pn: p, key: k, .. }),
                                Some(Outgoing::Seal { pn, key, .. }),
                            ) => *pn == p + 1 && key[..] == k[..],
                            _ => false,
                        });
                if !follows {
                    self.seal_run(&mut outgoing, &run);
                    run.clear();
                }
                run.push(i);
            }
            self.seal_run(&mut outgoing, &run);
        }
        for o in outgoing {
            match o {
                Outgoing::Ready(frame) => self.queue_tx(frame),
                // Every `Seal` was sealed (made `Ready`) or dropped above.
                Outgoing::Seal { .. } | Outgoing::Dropped => {}
            }
        }
    }

    /// Seals the frames of `outgoing` at `run` (one station, one key, consecutive PNs)
    /// together, making them `Ready`; if the batch fails, each alone (a failed one is dropped
    /// and uncounted).
    fn seal_run(&mut self, outgoing: &mut [Outgoing], run: &[usize]) {
        let Some(Some(Outgoing::Seal { sta, pn, key, .. })) = run.first().map(|&i| outgoing.get(i))
        else {
            return;
        };
        let (sta, first_pn) = (*sta, *pn);
        let tk = TemporalKey::from_bytes(**key);
        let mut frames: Vec<Vec<u8>> = run
            .iter()
            .map(|&i| match outgoing.get_mut(i) {
                Some(Outgoing::Seal { frame, .. }) => core::mem::take(frame),
                _ => Vec::new(),
            })
            .collect();
        let sealed: Vec<bool> = match ccmp::encrypt_batch(&tk, 0, first_pn, &mut frames) {
            Ok(()) => vec![true; frames.len()],
            Err(_) => (first_pn..)
                .zip(frames.iter_mut())
                .map(|(pn, f)| ccmp::encrypt_in_place(&tk, 0, pn, f).is_ok())
                .collect(),
        };
        for ((&i, frame), ok) in run.iter().zip(frames).zip(sealed) {
            let Some(slot) = outgoing.get_mut(i) else {
                continue;
            };
            if ok {
                *slot = Outgoing::Ready(frame);
                continue;
            }
            debug!(sta = %sta, "CCMP encryption failed");
            if let Some(s) = self.stations.get_mut(&sta) {
                s.counters.tx_frames = s.counters.tx_frames.saturating_sub(1);
                s.counters.tx_bytes = s.counters.tx_bytes.saturating_sub(frame.len() as u64);
            }
            *slot = Outgoing::Dropped;
        }
    }

    fn send_mgmt(&mut self, da: MacAddr, body: MgmtBody) {
        let mut frame = MgmtFrame::new(da, self.cfg.bssid, self.cfg.bssid, body);
        frame.header.sequence = self.next_seq();
        let mut out = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut out);
        self.push_tx(out);
    }

    fn send_deauth(&mut self, da: MacAddr, reason: ReasonCode) {
        self.send_mgmt_pmf(
            da,
            MgmtBody::Deauthentication(Deauthentication::new(reason)),
        );
    }

    fn push_event(&mut self, event: ApEvent) {
        if self.events.len() >= EVENT_QUEUE_LIMIT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn drop_frame(&mut self, sta: Option<MacAddr>, reason: DropReason) {
        trace!(bssid = %self.cfg.bssid, sta = ?sta, ?reason, "frame dropped");
        self.counters.dropped.bump(reason);
        if let Some(s) = sta.and_then(|a| self.stations.get_mut(&a)) {
            s.counters.dropped.bump(reason);
        }
    }

    /// Sends `frame` to station `addr` in a From-DS data frame, or buffers it if it dozes.
    fn send_unicast(&mut self, addr: MacAddr, frame: EthernetFrame) {
        let limit = self.cfg.ps_queue_limit;
        let Some(sta) = self.stations.get_mut(&addr) else {
            return;
        };
        if sta.dozing {
            let mut dropped = false;
            if sta.ps_queue.len() >= limit {
                sta.ps_queue.pop_front();
                dropped = true;
            }
            sta.ps_queue.push_back(Buffered::Plain(frame));
            sta.counters.ps_buffered += 1;
            self.counters.ps_buffered += 1;
            if dropped {
                self.drop_frame(Some(addr), DropReason::QueueFull);
            }
            return;
        }
        self.transmit_unicast(addr, frame, false);
    }

    /// Sets the radios that take MPDUs of at most so many octets whatever their capabilities
    /// say (kernel radios), by address: A-MSDUs to them stay within it.
    pub fn set_mpdu_limits(&mut self, limits: BTreeMap<MacAddr, usize>) {
        self.mpdu_limits = limits;
    }

    /// Frames `eth` as a From-DS data frame, encrypts it (if the station has its key) in the
    /// same buffer and queues it.
    fn transmit_unicast(&mut self, addr: MacAddr, eth: EthernetFrame, more_data: bool) {
        let seq = self.next_seq();
        let bssid = self.cfg.bssid;
        if !self.stations.contains_key(&addr) {
            return;
        }
        let mut h = eth.data_header(DsDirection::FromAp { bssid }, None);
        h.sequence = seq;
        h.frame_control.flags = h.flags().with(FcFlags::MORE_DATA, more_data);
        let len = h.buffer_len() + eth.data_body_len();
        self.seal_and_push(addr, len, |buf| eth.emit_data(&h, buf));
    }

    /// The longest A-MSDU station `addr` takes from the AP: its own maximum, within the MPDU
    /// its radio takes (`mpdu_limits`); 0 for a station the AP does not know.
    fn amsdu_limit(&self, addr: MacAddr) -> usize {
        let cap = self.mpdu_limits.get(&addr).copied();
        let limit = self.stations.get(&addr).map_or(0, |s| s.max_amsdu);
        limit.min(cap.map_or(usize::MAX, amsdu::within_mpdu))
    }

    /// Sends `frames` (all to station `addr`, which is awake) in A-MSDUs of at most its
    /// maximum length, each protected once; a frame that fits no A-MSDU with another goes
    /// alone.
    fn transmit_amsdus(&mut self, addr: MacAddr, frames: &[EthernetFrame]) {
        let bssid = self.cfg.bssid;
        let mut rest = frames;
        while !rest.is_empty() {
            let limit = self.amsdu_limit(addr);
            let n = amsdu::fitting(rest.iter().map(EthernetFrame::data_body_len), limit);
            let (now, later) = rest.split_at(n.clamp(1, rest.len()));
            rest = later;
            if let [one] = now {
                self.transmit_unicast(addr, one.clone(), false);
                continue;
            }
            let seq = self.next_seq();
            if !self.stations.contains_key(&addr) {
                return;
            }
            let mut h = amsdu::data_header(DsDirection::FromAp { bssid }, addr, 0);
            h.sequence = seq;
            let len = amsdu::ethernet_mpdu_len(&h, now);
            if !self.seal_and_push(addr, len, |buf| amsdu::emit_ethernet(&h, now, buf)) {
                return;
            }
            self.counters.amsdu_tx += 1;
            self.counters.amsdu_tx_msdus += now.len() as u64;
        }
    }

    /// Sends a frame from a station's power-save buffer.
    fn transmit_buffered(&mut self, addr: MacAddr, frame: Buffered, more_data: bool) {
        match frame {
            Buffered::Plain(f) => self.transmit_unicast(addr, f, more_data),
            Buffered::Sealed(bytes) => {
                // Retry and More Data are masked out of CCMP's AAD (IEEE 802.11-2020
                // 12.5.3.3.3): flipping them keeps the frame's MIC valid. Same sequence number
                // and Retry set: a station that did receive it drops it as a duplicate.
                let mut out = bytes.to_vec();
                if let Some(flags) = out.get_mut(1) {
                    *flags = FcFlags(*flags)
                        .with(FcFlags::RETRY, true)
                        .with(FcFlags::MORE_DATA, more_data)
                        .0;
                }
                if let Some(sta) = self.stations.get_mut(&addr) {
                    sta.counters.tx_frames += 1;
                    sta.counters.tx_bytes += out.len() as u64;
                }
                self.push_tx(out);
            }
        }
    }

    /// A unicast data frame to a station was not acknowledged. If the station dozes now (it
    /// left the channel after announcing power save, while the frame waited for the air), the
    /// frame goes back into its power-save buffer, ahead of frames buffered since, instead of
    /// being lost.
    fn rebuffer_unacked(&mut self, frame: &Bytes) {
        let Ok(Frame::Data(d)) = Frame::parse_bytes(frame) else {
            return;
        };
        let h = &d.header;
        let is_null = matches!(
            h.frame_control.frame_type,
            FrameType::Data(crate::wire::DataSubtype::Null)
        );
        if is_null || !h.flags().contains(FcFlags::FROM_DS) || h.addr2 != self.cfg.bssid {
            return;
        }
        let limit = self.cfg.ps_queue_limit;
        let Some(sta) = self
            .stations
            .get_mut(&h.addr1)
            .filter(|s| s.dozing && s.is_associated())
        else {
            return;
        };
        if sta.ps_queue.len() >= limit {
            // Full of newer frames: this oldest one is the one to lose.
            let addr = h.addr1;
            self.drop_frame(Some(addr), DropReason::QueueFull);
            return;
        }
        let at = sta
            .ps_queue
            .iter()
            .take_while(|b| matches!(b, Buffered::Sealed(_)))
            .count();
        sta.ps_queue.insert(at, Buffered::Sealed(frame.clone()));
        sta.counters.ps_buffered += 1;
        self.counters.ps_buffered += 1;
        self.counters.ps_rebuffered += 1;
    }

    /// Sends a plaintext From-DS group data frame to the BSS, or buffers it until the next DTIM
    /// beacon if a station dozes.
    fn send_group(&mut self, frame: DataFrame) {
        if self.stations.values().any(|s| s.dozing) {
            if self.group_ps.len() >= self.cfg.ps_queue_limit {
                self.group_ps.pop_front();
                self.drop_frame(None, DropReason::QueueFull);
            }
            self.group_ps.push_back(frame);
            self.counters.ps_buffered += 1;
            return;
        }
        self.transmit_group(frame, false);
    }

    fn transmit_group(&mut self, mut frame: DataFrame, more_data: bool) {
        let h = &mut frame.header;
        h.sequence = self.next_seq();
        h.frame_control.flags = h.flags().with(FcFlags::MORE_DATA, more_data);
        let len = frame.buffer_len();
        let out = match &mut self.gtk {
            Some(g) => {
                g.last_pn += 1;
                let (key, key_id) = (g.gtk.key(), g.gtk.key_id());
                match ccmp::encrypt_emitted(key, key_id, g.last_pn, len, |buf| frame.emit(buf)) {
                    Ok(c) => c,
                    Err(e) => {
                        debug!(error = %e, "CCMP group encryption failed");
                        return;
                    }
                }
            }
            None => {
                let mut mpdu = Vec::with_capacity(len);
                frame.emit(&mut mpdu);
                mpdu
            }
        };
        self.push_tx(out);
    }

    fn release_group_buffer(&mut self) {
        while let Some(frame) = self.group_ps.pop_front() {
            let more = !self.group_ps.is_empty();
            self.transmit_group(frame, more);
        }
    }

    // ---- beacons ----

    fn tbtt(&self, index: u64) -> Instant {
        let interval = u64::from(self.cfg.beacon_interval_tu) * TU.as_micros() as u64;
        Instant::from_micros(
            self.start
                .as_micros()
                .saturating_add(index.saturating_mul(interval)),
        )
    }

    fn send_beacon(&mut self, now: Instant, index: u64) {
        let period = u64::from(self.cfg.dtim_period);
        // index % period < period <= 255.
        let dtim_count = ((period - index % period) % period) as u8;
        let dtim = dtim_count == 0;
        let group = dtim && !self.group_ps.is_empty();
        let aids: Vec<u16> = self
            .stations
            .values()
            .filter(|s| s.dozing && !s.ps_queue.is_empty())
            .filter_map(|s| s.aid)
            .collect();
        let tim = Tim::from_aids(dtim_count, self.cfg.dtim_period, group, aids);
        let hidden = Ssid::default();
        let elements = BssElements {
            ssid: if self.cfg.hidden {
                &hidden
            } else {
                &self.cfg.ssid
            },
            channel: self.cfg.channel,
            rsne: self.rsne.as_ref(),
            rsnxe: self.rsnxe.as_ref(),
            phy: self.cfg.phy,
        }
        .build(Some(Element::Tim(tim)));
        let beacon = Beacon {
            timestamp: (now - self.start).as_micros() as u64,
            beacon_interval: self.cfg.beacon_interval_tu,
            capability: frames::capability(self.cfg.channel, self.rsne.is_some()),
            elements,
        };
        self.send_mgmt(MacAddr::BROADCAST, MgmtBody::Beacon(beacon));
        self.counters.beacons += 1;
        if dtim {
            self.release_group_buffer();
        }
    }

    // ---- receive ----

    fn on_mgmt(&mut self, now: Instant, frame: MgmtFrame) {
        let h = frame.header;
        let sa = h.addr2;
        let bssid = self.cfg.bssid;
        let for_us = h.addr1 == bssid;
        if let MgmtBody::ProbeRequest(p) = &frame.body {
            if (h.addr1 == bssid || h.addr1.is_broadcast())
                && (h.addr3 == bssid || h.addr3.is_broadcast())
            {
                self.on_probe(sa, p);
            }
            return;
        }
        if !for_us || h.addr3 != bssid || sa.is_group() {
            return;
        }
        if let Some(sta) = self.stations.get_mut(&sa) {
            sta.last_seen = now;
        }
        self.note_power_save(sa, h.flags().power_management());
        match frame.body {
            MgmtBody::Authentication(a) => self.on_auth(now, sa, &a),
            MgmtBody::AssocRequest(r) => {
                self.on_assoc(now, sa, r.listen_interval, &r.elements, false);
            }
            MgmtBody::ReassocRequest(r) => {
                let accepted = self.on_assoc(now, sa, r.listen_interval, &r.elements, true);
                if accepted && r.current_ap != bssid && r.current_ap.is_unicast() {
                    if self.roamed_in.len() >= EVENT_QUEUE_LIMIT {
                        self.roamed_in.pop_front();
                    }
                    self.roamed_in.push_back(RoamedIn {
                        sta: sa,
                        from: r.current_ap,
                    });
                }
            }
            MgmtBody::Deauthentication(d) => {
                if let Some(sta) = self.stations.remove(&sa) {
                    debug!(
                        bssid = %bssid,
                        sta = %sa,
                        reason = ?d.reason,
                        "station deauthenticated"
                    );
                    if sta.is_associated() {
                        self.push_event(ApEvent::Left {
                            sta: sa,
                            reason: LeaveReason::Deauthenticated(d.reason),
                        });
                    }
                    self.after_station_change();
                }
            }
            MgmtBody::Disassociation(d) => {
                if let Some(sta) = self.stations.get_mut(&sa) {
                    if sta.is_associated() {
                        sta.clear_association();
                        debug!(
                            bssid = %bssid,
                            sta = %sa,
                            reason = ?d.reason,
                            "station disassociated"
                        );
                        self.push_event(ApEvent::Left {
                            sta: sa,
                            reason: LeaveReason::Disassociated(d.reason),
                        });
                        self.after_station_change();
                    }
                }
            }
            MgmtBody::Other {
                subtype: crate::wire::MgmtSubtype::Action,
                body,
            } => self.on_action(sa, &body),
            _ => {}
        }
    }

    fn on_probe(&mut self, sa: MacAddr, p: &ProbeRequest) {
        let Some(ssid) = p.elements.ssid() else {
            return;
        };
        let wildcard = ssid.is_empty();
        if (wildcard && self.cfg.hidden) || (!wildcard && *ssid != self.cfg.ssid) {
            return;
        }
        if p.elements
            .channel()
            .is_some_and(|c| c != self.cfg.channel.number())
        {
            return;
        }
        let elements = BssElements {
            ssid: &self.cfg.ssid,
            channel: self.cfg.channel,
            rsne: self.rsne.as_ref(),
            rsnxe: self.rsnxe.as_ref(),
            phy: self.cfg.phy,
        }
        .build(None);
        let resp = Beacon {
            timestamp: 0,
            beacon_interval: self.cfg.beacon_interval_tu,
            capability: frames::capability(self.cfg.channel, self.rsne.is_some()),
            elements,
        };
        self.send_mgmt(sa, MgmtBody::ProbeResponse(resp));
        self.counters.probe_responses += 1;
    }

    fn on_auth(&mut self, now: Instant, sa: MacAddr, a: &Authentication) {
        if a.algorithm == AuthAlgorithm::Sae && self.sae.is_some() {
            self.on_sae_auth(now, sa, a);
            return;
        }
        let status = match (a.algorithm, a.transaction_seq) {
            (AuthAlgorithm::OpenSystem, 1) => StatusCode::Success,
            (AuthAlgorithm::OpenSystem, _) => StatusCode::TransactionSequenceError,
            _ => StatusCode::UnsupportedAuthAlgorithm,
        };
        let limit = usize::from(self.cfg.max_stations) * 2 + 8;
        let status = if status.is_success()
            && !self.stations.contains_key(&sa)
            && self.stations.len() >= limit
        {
            StatusCode::ApUnableToHandleNewStations
        } else {
            status
        };
        let mut resp = Authentication::open_system(2, status);
        resp.algorithm = a.algorithm;
        resp.transaction_seq = a.transaction_seq.wrapping_add(1);
        self.send_mgmt(sa, MgmtBody::Authentication(resp));
        if !status.is_success() {
            debug!(bssid = %self.cfg.bssid, sta = %sa, ?status, "authentication refused");
            return;
        }
        if let Some(old) = self.stations.insert(sa, Station::new(sa, now)) {
            if old.is_associated() {
                self.push_event(ApEvent::Left {
                    sta: sa,
                    reason: LeaveReason::Reauthenticated,
                });
                self.after_station_change();
            }
        }
        debug!(bssid = %self.cfg.bssid, sta = %sa, "station authenticated");
    }

    fn free_aid(&self) -> Option<u16> {
        let used: Vec<u16> = self.stations.values().filter_map(|s| s.aid).collect();
        (1..=self.cfg.max_stations).find(|a| !used.contains(a))
    }

    fn refuse_assoc(&mut self, sa: MacAddr, reassoc: bool, status: StatusCode) {
        debug!(bssid = %self.cfg.bssid, sta = %sa, ?status, "association refused");
        let resp = AssocResponse {
            capability: frames::capability(self.cfg.channel, self.rsne.is_some()),
            status,
            association_id: 0,
            elements: ElementList::new(),
        };
        self.send_mgmt(
            sa,
            if reassoc {
                MgmtBody::ReassocResponse(resp)
            } else {
                MgmtBody::AssocResponse(resp)
            },
        );
        self.push_event(ApEvent::AssociationRefused { sta: sa, status });
    }

    fn on_assoc(
        &mut self,
        now: Instant,
        sa: MacAddr,
        listen_interval: u16,
        elements: &ElementList,
        reassoc: bool,
    ) -> bool {
        let Some(sta) = self.stations.get(&sa) else {
            debug!(bssid = %self.cfg.bssid, sta = %sa, "association before authentication");
            self.send_deauth(sa, ReasonCode::NotAuthenticated);
            return false;
        };
        let current_aid = sta.aid;
        if self.sa_query_on_assoc(now, sa, reassoc) {
            return false;
        }
        if elements.ssid() != Some(&self.cfg.ssid) {
            self.refuse_assoc(sa, reassoc, StatusCode::UnspecifiedFailure);
            return false;
        }
        let Some(aid) = current_aid.or_else(|| self.free_aid()) else {
            self.refuse_assoc(sa, reassoc, StatusCode::ApUnableToHandleNewStations);
            return false;
        };
        let authenticator = match self.start_authenticator(now, sa, elements) {
            Ok(a) => a,
            Err(status) => {
                self.refuse_assoc(sa, reassoc, status);
                return false;
            }
        };
        let generation = self.gtk.as_ref().map_or(0, |g| g.generation);
        let open = authenticator.is_none();
        let Some(sta) = self.stations.get_mut(&sa) else {
            return false;
        };
        sta.clear_association();
        sta.aid = Some(aid);
        sta.listen_interval = listen_interval;
        sta.mfp = authenticator.as_ref().is_some_and(Authenticator::has_igtk);
        sta.authenticator = authenticator;
        sta.gtk_generation = generation;
        sta.authorized = open;
        sta.max_amsdu = match self.cfg.amsdu {
            true => crate::phy::elements::amsdu_limit(
                self.cfg
                    .phy
                    .standard
                    .min(crate::phy::elements::station_standard(elements)),
                crate::phy::elements::max_amsdu_of(elements),
            ),
            false => 0,
        };
        let resp = AssocResponse {
            capability: frames::capability(self.cfg.channel, self.rsne.is_some()),
            status: StatusCode::Success,
            association_id: AssocResponse::aid_field(aid),
            elements: frames::assoc_response_elements(self.cfg.channel, &self.cfg.phy),
        };
        self.send_mgmt(
            sa,
            if reassoc {
                MgmtBody::ReassocResponse(resp)
            } else {
                MgmtBody::AssocResponse(resp)
            },
        );
        debug!(bssid = %self.cfg.bssid, sta = %sa, aid, reassoc, "station associated");
        self.push_event(ApEvent::Associated {
            sta: sa,
            aid,
            reassociation: reassoc,
        });
        if open {
            debug!(bssid = %self.cfg.bssid, sta = %sa, "station authorized (open)");
            self.push_event(ApEvent::Authorized { sta: sa });
        } else {
            self.drain_authenticator(now, sa);
        }
        true
    }

    /// For a WPA2 BSS, the authenticator of a new association (message 1 queued), or the
    /// status code that refuses the association; `Ok(None)` on an open BSS.
    fn start_authenticator(
        &mut self,
        now: Instant,
        sa: MacAddr,
        elements: &ElementList,
    ) -> Result<Option<Authenticator>, StatusCode> {
        let Some((gtk, gtk_rsc)) = self.gtk.as_ref().map(|g| (g.gtk.clone(), g.last_pn)) else {
            return Ok(None);
        };
        let Some(rsne) = elements.get(crate::wire::ElementId::Rsn) else {
            return Err(StatusCode::InvalidElement);
        };
        let (pmk, igtk) = match (&self.cfg.security, rsne) {
            (ApSecurity::Open, _) => return Ok(None),
            (ApSecurity::Wpa2Psk { psk }, Element::Rsn(r)) => {
                if r.capabilities.is_some_and(|c| c.mfp_required()) {
                    return Err(StatusCode::RobustManagementPolicyViolation);
                }
                (psk.clone(), None)
            }
            (ApSecurity::Wpa2Psk { psk }, _) => (psk.clone(), None),
            (ApSecurity::Wpa3Sae { .. }, Element::Rsn(r)) => self.wpa3_pmk(now, sa, r)?,
            (ApSecurity::Wpa3Sae { .. }, _) => return Err(StatusCode::InvalidElement),
        };
        let mut peer_rsne = Vec::new();
        rsne.emit(&mut peer_rsne);
        let cfg = AuthenticatorConfig {
            aa: self.cfg.bssid,
            spa: sa,
            pmk,
            own_rsne: self.rsne_bytes.clone(),
            peer_rsne,
            gtk,
            gtk_rsc,
            retry: self.cfg.handshake_retry,
        };
        let mut authenticator =
            Authenticator::new(cfg, now, &mut self.rng).map_err(|e| frames::rsne_refusal(&e))?;
        if let Some((igtk, ipn)) = igtk {
            authenticator.set_igtk(igtk, ipn);
        }
        if let Some(rsnxe) = &self.rsnxe {
            let mut bytes = Vec::new();
            rsnxe.emit(&mut bytes);
            authenticator.set_own_rsnxe(bytes);
        }
        Ok(Some(authenticator))
    }

    /// Handles what a station's authenticator asks for.
    fn drain_authenticator(&mut self, now: Instant, addr: MacAddr) {
        loop {
            let Some(output) = self
                .stations
                .get_mut(&addr)
                .and_then(|s| s.authenticator.as_mut())
                .and_then(Authenticator::poll_output)
            else {
                return;
            };
            match output {
                Output::Send(eapol) => {
                    let eth = EthernetFrame {
                        dst: addr,
                        src: self.cfg.bssid,
                        ethertype: EtherType::Eapol,
                        payload: Bytes::from(eapol),
                    };
                    self.send_unicast(addr, eth);
                }
                Output::InstallPairwise(tk) => {
                    if let Some(sta) = self.stations.get_mut(&addr) {
                        sta.tk = Some(tk);
                        sta.tx_pn = 0;
                        sta.rx_replay = ccmp::ReplayCounters::new();
                    }
                }
                Output::InstallGroup { .. } => {}
                Output::Complete => {
                    if let Some(sta) = self.stations.get_mut(&addr) {
                        sta.authorized = true;
                    }
                    debug!(
                        bssid = %self.cfg.bssid,
                        sta = %addr,
                        "4-way handshake complete: station authorized"
                    );
                    self.push_event(ApEvent::Authorized { sta: addr });
                    self.sync_group_key(now, addr);
                }
                Output::GroupKeyComplete => {
                    if let Some(sta) = self.stations.get_mut(&addr) {
                        if let Some(g) = sta.rekey_in_flight.take() {
                            sta.gtk_generation = g;
                        }
                    }
                    trace!(bssid = %self.cfg.bssid, sta = %addr, "group key handshake complete");
                    self.sync_group_key(now, addr);
                    self.maybe_activate_next_gtk();
                }
                Output::Failed(error) => {
                    let reason = ReasonCode::from(error.reason_code());
                    let wrong_passphrase = matches!(
                        error,
                        HandshakeError::MicMismatch {
                            message: Message::Msg2
                        }
                    );
                    debug!(
                        bssid = %self.cfg.bssid,
                        sta = %addr,
                        %error,
                        ?reason,
                        "handshake failed: deauthenticating"
                    );
                    self.send_deauth(addr, reason);
                    self.stations.remove(&addr);
                    self.push_event(ApEvent::HandshakeFailed {
                        sta: addr,
                        error,
                        wrong_passphrase,
                    });
                    self.push_event(ApEvent::Left {
                        sta: addr,
                        reason: LeaveReason::Removed(reason),
                    });
                    self.after_station_change();
                    return;
                }
            }
        }
    }

    /// Starts a group key handshake with `addr` if it lacks the GTK it should hold.
    fn sync_group_key(&mut self, now: Instant, addr: MacAddr) {
        let Some(target) = self.next_gtk.as_ref().or(self.gtk.as_ref()) else {
            return;
        };
        let Some(sta) = self.stations.get_mut(&addr) else {
            return;
        };
        if !sta.authorized
            || sta.gtk_generation == target.generation
            || sta.rekey_in_flight.is_some()
        {
            return;
        }
        let Some(auth) = sta.authenticator.as_mut() else {
            return;
        };
        match auth.start_group_rekey(now, target.gtk.clone(), target.last_pn) {
            Ok(()) => {
                sta.rekey_in_flight = Some(target.generation);
                self.drain_authenticator(now, addr);
            }
            Err(e) => debug!(sta = %addr, error = %e, "group key handshake not started"),
        }
    }

    /// Puts the new GTK in use once every authorized station holds it.
    fn maybe_activate_next_gtk(&mut self) {
        let Some(next) = &self.next_gtk else { return };
        let all = self
            .stations
            .values()
            .filter(|s| s.authorized)
            .all(|s| s.gtk_generation == next.generation);
        if all {
            if let Some(next) = self.next_gtk.take() {
                let key_id = next.gtk.key_id();
                self.gtk = Some(next);
                self.counters.gtk_rekeys += 1;
                debug!(bssid = %self.cfg.bssid, key_id, "new GTK in use");
                self.push_event(ApEvent::GroupKeyRekeyed { key_id });
            }
        }
    }

    /// After a station left or lost its association.
    fn after_station_change(&mut self) {
        self.maybe_activate_next_gtk();
        if !self.stations.values().any(|s| s.dozing) {
            self.release_group_buffer();
        }
    }

    /// Records a station's Power Management bit; waking flushes its buffer.
    fn note_power_save(&mut self, addr: MacAddr, pm: bool) {
        let Some(sta) = self.stations.get_mut(&addr) else {
            return;
        };
        if !sta.is_associated() || sta.dozing == pm {
            return;
        }
        sta.dozing = pm;
        trace!(bssid = %self.cfg.bssid, sta = %addr, dozing = pm, "power save");
        if !pm {
            let frames: Vec<Buffered> = sta.ps_queue.drain(..).collect();
            for f in frames {
                self.transmit_buffered(addr, f, false);
            }
            if !self.stations.values().any(|s| s.dozing) {
                self.release_group_buffer();
            }
        }
    }

    /// A class 3 frame from a station that is not associated: deauthenticate it (reason 7).
    fn class3_from_unassociated(&mut self, sa: MacAddr) {
        self.drop_frame(Some(sa), DropReason::NotAssociated);
        if sa.is_unicast() {
            debug!(bssid = %self.cfg.bssid, sta = %sa, "class 3 frame from unassociated station");
            self.send_deauth(sa, ReasonCode::Class3FrameFromNonassocSta);
        }
    }

    fn on_ps_poll(&mut self, now: Instant, p: PsPoll) {
        if p.bssid != self.cfg.bssid {
            return;
        }
        let sa = p.ta;
        let Some(sta) = self.stations.get_mut(&sa).filter(|s| s.is_associated()) else {
            self.class3_from_unassociated(sa);
            return;
        };
        sta.last_seen = now;
        sta.counters.rx_frames += 1;
        if sta.aid != Some(p.aid()) {
            self.drop_frame(Some(sa), DropReason::Malformed);
            return;
        }
        match sta.ps_queue.pop_front() {
            Some(frame) => {
                let more = !sta.ps_queue.is_empty();
                self.transmit_buffered(sa, frame, more);
            }
            None => {
                // Nothing buffered: a Null frame ends the poll.
                let bssid = self.cfg.bssid;
                let fc = FrameControl::new(
                    FrameType::Data(crate::wire::DataSubtype::Null),
                    FcFlags(FcFlags::FROM_DS),
                );
                let null = DataFrame {
                    header: Header::new(fc, sa, bssid, bssid),
                    payload: Bytes::new(),
                };
                let seq = self.next_seq();
                let mut null = null;
                null.header.sequence = seq;
                self.push_tx(Frame::Data(null).to_vec());
            }
        }
    }

    fn on_data(&mut self, now: Instant, raw: &Bytes, frame: DataFrame) {
        let h = frame.header;
        let f = h.flags();
        if h.addr1 != self.cfg.bssid || !f.to_ds() || f.from_ds() {
            return;
        }
        let sa = h.addr2;
        let Some(sta) = self.stations.get_mut(&sa).filter(|s| s.is_associated()) else {
            self.class3_from_unassociated(sa);
            return;
        };
        sta.last_seen = now;
        sta.counters.rx_frames += 1;
        sta.counters.rx_bytes += raw.len() as u64;
        self.note_power_save(sa, f.power_management());
        if frame.is_null() {
            return;
        }
        let protected_bss = self.cfg.security.is_protected();
        let Some(sta) = self.stations.get_mut(&sa) else {
            return;
        };
        let is_amsdu = frame.header.qos.is_some_and(QosControl::amsdu_present);
        if is_amsdu && protected_bss && !frame.header.flags().protected() {
            // Only EAPOL comes unprotected, and never in an A-MSDU.
            self.drop_frame(Some(sa), DropReason::Unprotected);
            return;
        }
        let plain = match unprotect(sta, &mut self.opened, protected_bss, raw, frame) {
            Ok(p) => p,
            Err(reason) => {
                self.drop_frame(Some(sa), reason);
                return;
            }
        };
        if is_amsdu {
            self.on_amsdu(sa, &plain);
            return;
        }
        let Ok(eth) = EthernetFrame::from_data(&plain) else {
            self.drop_frame(Some(sa), DropReason::Malformed);
            return;
        };
        if eth.ethertype == EtherType::Eapol {
            self.on_eapol(now, sa, &eth);
            return;
        }
        let authorized = self.stations.get(&sa).is_some_and(|s| s.authorized);
        if !authorized {
            self.drop_frame(Some(sa), DropReason::NotAuthorized);
            return;
        }
        self.route_from_station(sa, eth);
    }

    /// An A-MSDU from station `sa`, decrypted and replay-checked once as one MPDU: each
    /// subframe whose SA is the station (IEEE 802.11-2020 9.3.2.2.2: to an AP the SA is the
    /// transmitter; mac80211's AP checks the SA of each subframe, the defence against A-MSDU
    /// injection) and that carries a valid MSDU other than EAPOL (the handshake never goes in
    /// an A-MSDU) is routed as one frame; the others are dropped. What goes on to stations
    /// that take A-MSDUs goes in A-MSDUs again.
    fn on_amsdu(&mut self, sa: MacAddr, plain: &DataFrame) {
        let authorized = self.stations.get(&sa).is_some_and(|s| s.authorized);
        if !authorized {
            self.drop_frame(Some(sa), DropReason::NotAuthorized);
            return;
        }
        if self.pass_on_whole(sa, &plain.payload) {
            return;
        }
        let Ok(subframes) = amsdu::ethernet_frames(&plain.payload) else {
            self.drop_frame(Some(sa), DropReason::Malformed);
            return;
        };
        let total = subframes.len();
        let frames: Vec<EthernetFrame> = subframes
            .into_iter()
            .filter_map(Result::ok)
            .filter(|eth| eth.src == sa && eth.ethertype != EtherType::Eapol)
            .collect();
        self.counters.amsdu_rx += 1;
        self.counters.amsdu_rx_msdus += frames.len() as u64;
        self.counters.amsdu_refused += (total - frames.len()) as u64;
        for _ in frames.len()..total {
            self.drop_frame(Some(sa), DropReason::Malformed);
        }
        // Frames for awake stations that take A-MSDUs, by station in order of first frame.
        let mut onward: Vec<(MacAddr, Vec<EthernetFrame>)> = Vec::new();
        for eth in frames {
            let dst = eth.dst;
            let aggregates = dst != self.cfg.bssid
                && self
                    .stations
                    .get(&dst)
                    .is_some_and(|s| s.authorized && !s.dozing && s.max_amsdu > 0);
            if !aggregates {
                self.route_from_station(sa, eth);
                continue;
            }
            self.counters.forwarded += 1;
            match onward.iter_mut().find(|(d, _)| *d == dst) {
                Some((_, run)) => run.push(eth),
                None => onward.push((dst, vec![eth])),
            }
        }
        for (dst, run) in onward {
            self.transmit_amsdus(dst, &run);
        }
    }

    /// Passes an A-MSDU from station `sa` on whole when [`SoftAp::on_amsdu`] would send the
    /// same A-MSDU body again: every subframe from `sa` to one station that takes A-MSDUs this
    /// long and is awake, none of them EAPOL, more than one, each with the LLC/SNAP header
    /// the AP would write ([`amsdu::one_flow`]). Only the header changes, and the body is
    /// copied once instead of parsed into frames and written again subframe by subframe.
    /// Returns whether it did.
    fn pass_on_whole(&mut self, sa: MacAddr, body: &Bytes) -> bool {
        let Some(flow) = amsdu::one_flow(body, EtherType::Eapol) else {
            return false;
        };
        let dst = flow.da;
        if flow.sa != sa || flow.msdus < 2 || dst == self.cfg.bssid || dst.is_group() {
            return false;
        }
        let Some(to) = self.stations.get(&dst) else {
            return false;
        };
        if !to.authorized || to.dozing || body.len() > self.amsdu_limit(dst) {
            return false;
        }
        let mut h = amsdu::data_header(
            DsDirection::FromAp {
                bssid: self.cfg.bssid,
            },
            dst,
            0,
        );
        h.sequence = self.next_seq();
        let len = h.buffer_len() + body.len();
        self.counters.amsdu_rx += 1;
        self.counters.amsdu_rx_msdus += flow.msdus as u64;
        self.counters.forwarded += flow.msdus as u64;
        if self.seal_and_push(dst, len, |buf| {
            h.emit(buf);
            buf.extend_from_slice(body);
        }) {
            self.counters.amsdu_tx += 1;
            self.counters.amsdu_tx_msdus += flow.msdus as u64;
        }
        true
    }

    fn on_eapol(&mut self, now: Instant, sa: MacAddr, eth: &EthernetFrame) {
        let Some(auth) = self
            .stations
            .get_mut(&sa)
            .and_then(|s| s.authenticator.as_mut())
        else {
            self.drop_frame(Some(sa), DropReason::NotAuthorized);
            return;
        };
        if let Err(e) = auth.handle_eapol(now, &eth.payload) {
            trace!(bssid = %self.cfg.bssid, sta = %sa, error = %e, "EAPOL frame rejected");
        }
        self.drain_authenticator(now, sa);
    }

    fn push_uplink(&mut self, frame: EthernetFrame) {
        if self.uplink_out.len() >= ApConfig::UPLINK_QUEUE_LIMIT {
            self.uplink_out.pop_front();
            self.drop_frame(None, DropReason::QueueFull);
        }
        self.uplink_out.push_back(frame);
        self.counters.uplink_tx_frames += 1;
    }

    fn route_from_station(&mut self, sa: MacAddr, eth: EthernetFrame) {
        let bssid = self.cfg.bssid;
        if eth.dst.is_group() {
            self.send_group(eth.to_data(DsDirection::FromAp { bssid }, None));
            if self.cfg.uplink {
                self.push_uplink(eth);
            }
        } else if eth.dst != bssid && self.stations.get(&eth.dst).is_some_and(|s| s.authorized) {
            self.counters.forwarded += 1;
            let dst = eth.dst;
            self.send_unicast(dst, eth);
        } else if self.cfg.uplink {
            self.push_uplink(eth);
        } else {
            self.drop_frame(Some(sa), DropReason::NoRoute);
        }
    }

    /// Removes stations silent for the inactivity timeout.
    fn expire(&mut self, now: Instant) {
        let timeout = self.cfg.inactivity_timeout;
        let idle: Vec<MacAddr> = self
            .stations
            .values()
            .filter(|s| now - s.last_seen >= timeout)
            .map(|s| s.addr)
            .collect();
        for addr in idle {
            let reason = ReasonCode::Inactivity;
            debug!(bssid = %self.cfg.bssid, sta = %addr, "station inactive: deauthenticating");
            self.send_deauth(addr, reason);
            if let Some(sta) = self.stations.remove(&addr) {
                if sta.is_associated() {
                    self.push_event(ApEvent::Left {
                        sta: addr,
                        reason: LeaveReason::Removed(reason),
                    });
                }
            }
            self.after_station_change();
        }
    }
}

/// The MPDU `emit` writes (about `len` octets) for station `sta`, protected with its pairwise
/// key if it has one, in the same buffer; counted as sent to it. `None` if encryption failed.
fn seal_for(sta: &mut Station, len: usize, emit: impl FnOnce(&mut Vec<u8>)) -> Option<Vec<u8>> {
    let out = match &sta.tk {
        Some(tk) => {
            sta.tx_pn += 1;
            match ccmp::encrypt_emitted(tk, 0, sta.tx_pn, len, emit) {
                Ok(c) => c,
                Err(e) => {
                    debug!(sta = %sta.addr, error = %e, "CCMP encryption failed");
                    return None;
                }
            }
        }
        None => {
            let mut mpdu = Vec::with_capacity(len);
            emit(&mut mpdu);
            mpdu
        }
    };
    sta.counters.tx_frames += 1;
    sta.counters.tx_bytes += out.len() as u64;
    Some(out)
}

/// The plaintext of a data frame from `sta`: decrypted (or taken from the batch `opened`) and
/// replay-checked if protected.
fn unprotect(
    sta: &mut Station,
    opened: &mut ccmp::Opened,
    protected_bss: bool,
    raw: &Bytes,
    frame: DataFrame,
) -> Result<DataFrame, DropReason> {
    if !frame.header.flags().protected() {
        // On a WPA2 BSS, only EAPOL may come unprotected, and only before the keys.
        return match protected_bss && sta.tk.is_some() {
            true => Err(DropReason::Unprotected),
            false => Ok(frame),
        };
    }
    if !protected_bss {
        return Err(DropReason::Unprotected);
    }
    let tk = sta.tk.as_ref().ok_or(DropReason::NoKey)?;
    let d = opened
        .decrypt(tk, raw)
        .map_err(|_| DropReason::DecryptFailed)?;
    sta.rx_replay
        .accept(d.info.tid, d.info.pn)
        .map_err(|_| DropReason::Replay)?;
    DataFrame::parse_bytes(&d.mpdu).map_err(|_| DropReason::Malformed)
}

impl SoftAp {
    /// Decrypts ahead, together per station, the protected unicast data frames of a batch
    /// that [`Node::handle_rx`] would decrypt: To DS, for this BSS, from a station holding a
    /// pairwise key (a frame whose turn finds the key changed is decrypted anew then).
    fn open_batch(&mut self, frames: &[(Bytes, RxMeta)]) {
        let mut by_station: BTreeMap<MacAddr, Vec<Bytes>> = BTreeMap::new();
        for (frame, meta) in frames {
            if meta.channel != self.cfg.channel {
                continue;
            }
            let Ok(view) = crate::wire::FrameView::new_checked(&frame[..]) else {
                continue;
            };
            let fc = view.frame_control();
            let to_us = matches!(fc.frame_type, crate::wire::FrameType::Data(_))
                && fc.flags.protected()
                && fc.flags.to_ds()
                && !fc.flags.from_ds()
                && view.addr1() == self.cfg.bssid;
            let Some(ta) = view.addr2().filter(|_| to_us) else {
                continue;
            };
            if self.stations.get(&ta).is_some_and(|s| s.tk.is_some()) {
                by_station.entry(ta).or_default().push(frame.clone());
            }
        }
        for (ta, raws) in by_station {
            if let Some(tk) = self.stations.get(&ta).and_then(|s| s.tk.as_ref()) {
                self.opened.open(tk, &raws);
            }
        }
    }

    /// How many data frames were taken decrypted from a batch ([`Node::handle_rx_batch`]).
    pub fn batch_decrypted(&self) -> u64 {
        self.opened.taken()
    }
}

impl Node for SoftAp {
    fn channel(&self) -> Channel {
        self.cfg.channel
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        if meta.channel != self.cfg.channel {
            return;
        }
        // The receive filter of a radio: unicast for another address goes no further than
        // its first address (on a busy channel, most frames are others' traffic).
        let for_others = crate::wire::FrameView::new_checked(&frame[..])
            .ok()
            .is_some_and(|v| !(v.addr1() == self.cfg.bssid || v.addr1().is_group()));
        if for_others {
            return;
        }
        // Protected management frames (PMF) are decrypted before they are parsed.
        let Some(unprotected) = self.pmf_rx(frame) else {
            return;
        };
        let frame = &unprotected;
        let parsed = match Frame::parse_bytes(frame) {
            Ok(f) => f,
            Err(e) => {
                trace!(bssid = %self.cfg.bssid, error = %e, "unparsable frame");
                // Count only frames that claim to be for us.
                let for_us = crate::wire::FrameView::new_checked(&frame[..])
                    .ok()
                    .is_some_and(|v| v.addr1() == self.cfg.bssid);
                if for_us {
                    self.counters.rx_frames += 1;
                    self.drop_frame(None, DropReason::Malformed);
                }
                return;
            }
        };
        let (ta, ra) = match &parsed {
            Frame::Management(m) => (Some(m.header.addr2), m.header.addr1),
            Frame::Data(d) => (Some(d.header.addr2), d.header.addr1),
            Frame::Control(ControlFrame::PsPoll(p)) => (Some(p.ta), p.bssid),
            _ => (None, MacAddr::ZERO),
        };
        if ta == Some(self.cfg.bssid) || !(ra == self.cfg.bssid || ra.is_group()) {
            return;
        }
        self.counters.rx_frames += 1;
        self.counters.rx_bytes += frame.len() as u64;
        if let Some(sta) = ta.and_then(|a| self.stations.get_mut(&a)) {
            sta.signal_dbm = Some(meta.signal_dbm);
            // A retransmission whose Ack was lost is not processed twice (IEEE 802.11-2020
            // 10.3.2.14): a repeated association request would restart the handshake.
            let header = match &parsed {
                Frame::Management(m) => Some(&m.header),
                Frame::Data(d) => Some(&d.header),
                _ => None,
            };
            if header.is_some_and(|h| !ra.is_group() && sta.duplicates.is_duplicate(h)) {
                trace!(bssid = %self.cfg.bssid, sta = ?ta, "duplicate frame dropped");
                return;
            }
        }
        match parsed {
            Frame::Management(m) => self.on_mgmt(now, m),
            Frame::Data(d) => self.on_data(now, frame, d),
            Frame::Control(ControlFrame::PsPoll(p)) => self.on_ps_poll(now, p),
            _ => {}
        }
    }

    fn handle_rx_batch(&mut self, now: Instant, frames: &[(Bytes, RxMeta)]) {
        if frames.len() < 2 || !self.cfg.security.is_protected() {
            for (frame, meta) in frames {
                self.handle_rx(now, frame, *meta);
            }
            return;
        }
        self.open_batch(frames);
        // What the frames make is queued at the end, in order, the protected frames for one
        // station sealed together.
        self.outgoing = Some(Vec::new());
        for (frame, meta) in frames {
            self.handle_rx(now, frame, *meta);
        }
        self.opened.clear();
        self.flush_outgoing();
    }

    fn handle_tx_status(&mut self, _now: Instant, frame: &Bytes, status: TxStatus) {
        match status {
            TxStatus::Acked { .. } => self.counters.tx_acked += 1,
            TxStatus::NotAcked => {
                self.counters.tx_not_acked += 1;
                self.rebuffer_unacked(frame);
            }
            TxStatus::Sent => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        // Beacon: one per call, at the latest TBTT that has come (missed ones are skipped).
        if self.tbtt(self.next_tbtt) <= now {
            let interval = self.cfg.beacon_interval().as_micros().max(1) as u64;
            let elapsed = (now - self.start).as_micros() as u64;
            let index = elapsed / interval;
            self.send_beacon(now, index);
            self.next_tbtt = index + 1;
        }
        if let (Some(at), Some(interval)) = (self.next_rekey, self.cfg.gtk_rekey_interval) {
            if at <= now {
                self.next_rekey = Some(now + interval);
                self.rekey_group(now);
            }
        }
        let due: Vec<MacAddr> = self
            .stations
            .values()
            .filter(|s| {
                s.authenticator
                    .as_ref()
                    .and_then(Authenticator::poll_timeout)
                    .is_some_and(|t| t <= now)
            })
            .map(|s| s.addr)
            .collect();
        for addr in due {
            if let Some(auth) = self
                .stations
                .get_mut(&addr)
                .and_then(|s| s.authenticator.as_mut())
            {
                auth.handle_timeout(now);
            }
            self.drain_authenticator(now, addr);
        }
        self.sae_timeouts(now);
        self.sa_query_timeouts(now);
        self.expire(now);
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.tbtt(self.next_tbtt);
        if let Some(r) = self.next_rekey {
            next = next.min(r);
        }
        for s in self.stations.values() {
            next = next.min(s.last_seen + self.cfg.inactivity_timeout);
            if let Some(t) = s
                .authenticator
                .as_ref()
                .and_then(Authenticator::poll_timeout)
            {
                next = next.min(t);
            }
        }
        if let Some(t) = self.sae_poll_timeout() {
            next = next.min(t);
        }
        if let Some(t) = self.sa_query_poll_timeout() {
            next = next.min(t);
        }
        Some(next)
    }
}
