//! The TOML configuration of the simulated radio: the medium and its access points, and the
//! built-in demo set.
//!
//! Parsing takes a `&str` (no I/O here: the host reads the file). Unknown keys are refused with
//! their name; every value is checked, and an error names the field and the problem, e.g.
//! `aps[1].passphrase: must be 8 to 63 characters, got 5` or
//! `aps[0].channel: 15 is not a valid channel`. Passphrases and PSKs are held in [`Secret`],
//! which never prints its value.
//!
//! ```toml
//! seed = 42                     # optional: the RNG seed of the medium and APs
//!
//! [medium]                      # optional; every key has a default
//! path_loss_exponent = 3.0      # log-distance model exponent
//! reference_loss_db = 40.0      # path loss at 1 m, dB
//! tx_power_dbm = 20.0           # transmit power of every radio
//! noise_floor_dbm = -95.0
//! loss_rate = 0.0               # extra random frame loss, 0 to 1
//! phy_rate_kbps = 54000         # the rate frames are sent at (airtime)
//! retry_limit = 7               # retransmissions of an unacknowledged unicast frame
//! airtime = true                # false: zero-airtime measuring mode (no airtime, contention
//!                               # or random loss; not a model of any radio)
//! amsdu = false                 # true: HT/VHT/HE links send A-MSDUs inside their A-MPDUs
//!
//! [[aps]]
//! ssid = "vwifi-lab"            # 1 to 32 bytes
//! channel = 1                   # 2.4 GHz 1-14 or a 5 GHz 20 MHz channel
//! passphrase = "correct horse battery staple"   # or psk = "<64 hex digits>"; neither: open
//! security = "wpa2"             # "open" | "wpa2" | "wpa3" (SAE) | "wpa2-wpa3" (transition)
//! bssid = "02:76:77:00:00:02"   # optional; default 02:76:77:01:HH:LL from the index
//! beacon_interval = 100         # TU (1024 µs), default 100
//! dtim_period = 2
//! max_stations = 32
//! position = [5.0, 0.0]         # metres
//! path = [[20.0, 0.0], [20.0, 10.0]]  # optional: waypoints it walks from position (the host)
//! speed_mps = 1.5               # along path, default 1 m/s
//! gtk_rekey_interval = 3600     # seconds; optional
//! hidden = false
//! inactivity_timeout = 300      # seconds
//! ps_queue_limit = 64
//! uplink = false
//! standard = "g"                # "g" (legacy, the default), "n", "ac" (5 GHz) or "ax"
//! width_mhz = 20                # 20, 40 (n, ac, ax), 80, 160 (ac, ax; 5 GHz); default below
//! spatial_streams = 1           # 1 to 4 (1 for "g"); default 2 for n/ac/ax
//!
//! [stations]                    # optional: what the guests' stations can do (one radio)
//! standard = "ax"               # default: 802.11ax, 2 streams, up to 160 MHz
//! width_mhz = 160
//! spatial_streams = 2
//! position = [2.0, 2.0]         # where their radio stands (the host's default: 2, 2)
//! path = [[40.0, 2.0]]          # optional: waypoints it walks from position (the host)
//! speed_mps = 1.0
//! ```
//!
//! An AP's default width is the widest its standard allows on its channel up to 40 MHz for
//! "n" and 80 MHz for "ac"/"ax" at 5 GHz, 20 MHz at 2.4 GHz. A width the channel plan does not
//! have there is an error naming the field (`aps[0].width_mhz: 80 MHz channels do not exist in
//! the 2.4 GHz band`). Links use what the AP and the station both do (see [`crate::phy`]);
//! the medium-wide `phy_rate_kbps` stays the rate of legacy ("g") links.
//!
//! [`SimConfig::demo`] is the set `vwifi-host` runs with no config file ([`DEMO_TOML`]): two
//! networks on channel 1 (`vwifi-open`, open; `vwifi-lab`, WPA2 with passphrase
//! `correct horse battery staple`) and one on channel 6 (`vwifi-office`, WPA2 with passphrase
//! `office demo passphrase`). These are demo credentials, published on purpose.

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;

use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

mod phy;

pub use phy::StationsEntry;

use super::ap::{ApConfig, ApSecurity};
use crate::addr::MacAddr;
use crate::channel::{Band, Channel};
use crate::crypto::{CryptoError, Passphrase, Psk};
use crate::wire::{Ssid, Tim};

/// The built-in demo configuration, as TOML (see the [module documentation](self)).
pub const DEMO_TOML: &str = r#"# vwifi built-in demo networks (demo credentials, not secrets).
seed = 1

[medium]
path_loss_exponent = 3.0
reference_loss_db = 40.0
tx_power_dbm = 20.0
noise_floor_dbm = -95.0
loss_rate = 0.0
phy_rate_kbps = 54000
retry_limit = 7

[[aps]]
ssid = "vwifi-open"
channel = 1
bssid = "02:76:77:00:00:01"
position = [0.0, 0.0]
uplink = true

[[aps]]
ssid = "vwifi-lab"
channel = 1
bssid = "02:76:77:00:00:02"
passphrase = "correct horse battery staple"
position = [5.0, 0.0]
uplink = true

[[aps]]
ssid = "vwifi-office"
channel = 6
bssid = "02:76:77:00:00:03"
passphrase = "office demo passphrase"
position = [20.0, 10.0]
gtk_rekey_interval = 3600
uplink = true
"#;

/// A credential from the configuration: zeroized on drop, `<redacted>` in `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The credential. Handle with care: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The whole simulation: the medium, its APs and the seed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The medium.
    #[serde(default)]
    pub medium: MediumConfig,
    /// The access points (`[[aps]]` tables).
    #[serde(default)]
    pub aps: Vec<ApEntry>,
    /// The seed of the medium's and the APs' RNGs; the host picks one if absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// What the guests' stations can do (`[stations]`).
    #[serde(default)]
    pub stations: StationsEntry,
}

/// The simulated medium: radio propagation and the link layer's retries. Plain data; the
/// medium reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediumConfig {
    /// The exponent of the log-distance path-loss model (2 in free space, 3 to 4 indoors).
    pub path_loss_exponent: f64,
    /// The path loss at the reference distance of 1 m, in dB.
    pub reference_loss_db: f64,
    /// The transmit power of every radio, in dBm.
    pub tx_power_dbm: f64,
    /// The noise floor, in dBm: frames below it (plus the rate's SNR) are lost.
    pub noise_floor_dbm: f64,
    /// An extra random loss probability per transmission, 0 to 1.
    pub loss_rate: f64,
    /// The PHY rate frames are sent at, in kbit/s (airtime).
    pub phy_rate_kbps: u32,
    /// How many times an unacknowledged unicast frame is retransmitted.
    pub retry_limit: u8,
    /// Whether frames take airtime (default `true`). `false` is a measuring mode for vwifi
    /// itself, not a model of any radio: frames take no airtime, meet no contention and are
    /// never lost at random; beacons, management timing and everything else are unchanged
    /// (see [`crate::sim::medium::MediumConfig::airtime`]).
    pub airtime: bool,
    /// Whether HT/VHT/HE links put several frames to one receiver in one A-MSDU inside their
    /// A-MPDUs (see [`crate::sim::medium::MediumConfig::amsdu`]). Default `false` for the
    /// daemon: iperf3 through a debug daemon measured lower ax figures with it on (README,
    /// issue 13), not yet explained.
    pub amsdu: bool,
}

impl Default for MediumConfig {
    fn default() -> Self {
        Self {
            path_loss_exponent: 3.0,
            reference_loss_db: 40.0,
            tx_power_dbm: 20.0,
            noise_floor_dbm: -95.0,
            loss_rate: 0.0,
            phy_rate_kbps: 54_000,
            retry_limit: 7,
            airtime: true,
            amsdu: false,
        }
    }
}

/// One access point of the configuration (an `[[aps]]` table). Checked by
/// [`SimConfig::validate`], turned into an [`ApConfig`] by [`SimConfig::ap_configs`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApEntry {
    /// The network name, 1 to 32 bytes.
    pub ssid: String,
    /// The channel number (in [`ApEntry::band`]).
    pub channel: u8,
    /// The band of `channel`: `"6"` for a 6 GHz channel (1, 5, ..., 233; `standard = "ax"`
    /// only); by default, or `"2.4"`/`"5"`, the number names a 2.4 or 5 GHz channel.
    #[serde(default)]
    pub band: Option<String>,
    /// The BSSID (`aa:bb:cc:dd:ee:ff`); by default `02:76:77:01:HH:LL` with `HHLL` the index
    /// plus one.
    #[serde(default)]
    pub bssid: Option<String>,
    /// The WPA2 passphrase (8 to 63 printable ASCII characters). With neither this nor
    /// [`ApEntry::psk`], the network is open.
    #[serde(default)]
    pub passphrase: Option<Secret>,
    /// The WPA2 PSK as 64 hex digits, instead of a passphrase.
    #[serde(default)]
    pub psk: Option<Secret>,
    /// The security mode; by default "wpa2" with a passphrase or PSK, else "open". "wpa3"
    /// (SAE) and "wpa2-wpa3" (transition) need a passphrase: it is the SAE password.
    #[serde(default)]
    pub security: Option<SecurityMode>,
    /// The beacon interval in TU (1024 µs).
    #[serde(default = "default_beacon_interval")]
    pub beacon_interval: u16,
    /// Beacon intervals between DTIM beacons.
    #[serde(default = "default_dtim_period")]
    pub dtim_period: u8,
    /// How many stations may be associated at once (1 to 2007).
    #[serde(default = "default_max_stations")]
    pub max_stations: u16,
    /// Where the AP stands, `[x, y]` in metres.
    #[serde(default)]
    pub position: [f64; 2],
    /// Waypoints `[[x, y], ...]` the AP walks from `position` once the simulation starts, in
    /// order, at `speed_mps`; it stays at the last one (the host moves it: mobility).
    #[serde(default)]
    pub path: Vec<[f64; 2]>,
    /// The speed along `path`, metres per second (default 1).
    #[serde(default)]
    pub speed_mps: Option<f64>,
    /// Seconds between GTK rekeys; none if absent.
    #[serde(default)]
    pub gtk_rekey_interval: Option<u64>,
    /// Whether the SSID is hidden.
    #[serde(default)]
    pub hidden: bool,
    /// Seconds of silence after which a station is removed.
    #[serde(default = "default_inactivity_timeout")]
    pub inactivity_timeout: u64,
    /// Frames buffered per dozing station.
    #[serde(default = "default_ps_queue_limit")]
    pub ps_queue_limit: usize,
    /// Whether the AP has an uplink port for the host to connect.
    #[serde(default)]
    pub uplink: bool,
    /// The standard: `"g"` (legacy, the default), `"n"`, `"ac"` or `"ax"`.
    #[serde(default)]
    pub standard: Option<String>,
    /// The channel width in MHz (20, 40, 80, 160); by default the widest usual one.
    #[serde(default)]
    pub width_mhz: Option<u16>,
    /// Spatial streams, 1 to 4 (1 for `"g"`, 2 by default otherwise).
    #[serde(default)]
    pub spatial_streams: Option<u8>,
}

fn default_beacon_interval() -> u16 {
    ApConfig::DEFAULT_BEACON_INTERVAL_TU
}
fn default_dtim_period() -> u8 {
    2
}
fn default_max_stations() -> u16 {
    32
}
fn default_inactivity_timeout() -> u64 {
    ApConfig::DEFAULT_INACTIVITY_TIMEOUT.as_secs()
}
fn default_ps_queue_limit() -> usize {
    64
}

/// Where a field sits in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top level.
    Root,
    /// `[medium]`.
    Medium,
    /// The `[[aps]]` table with this index.
    Ap(usize),
    /// `[stations]`.
    Stations,
}

/// A field of the configuration: prints as `seed`, `medium.loss_rate` or `aps[1].channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its section.
    pub section: Section,
    /// Its key.
    pub name: &'static str,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.section {
            Section::Root => f.write_str(self.name),
            Section::Medium => write!(f, "medium.{}", self.name),
            Section::Ap(i) => write!(f, "aps[{i}].{}", self.name),
            Section::Stations => write!(f, "stations.{}", self.name),
        }
    }
}

/// The `security` of an `[[aps]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityMode {
    /// No encryption.
    Open,
    /// WPA2-Personal (PSK).
    Wpa2,
    /// WPA3-Personal (SAE, protected management frames required).
    Wpa3,
    /// WPA2/WPA3 transition: SAE or PSK stations, protected management frames optional.
    Wpa2Wpa3,
}

/// What is wrong with a field's value.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Problem {
    /// A passphrase of the wrong length.
    #[error("must be 8 to 63 characters, got {len}")]
    PassphraseLength {
        /// Its length in bytes.
        len: usize,
    },
    /// A passphrase with a character outside printable ASCII.
    #[error("must be printable ASCII (character {position} is not)")]
    PassphraseCharacter {
        /// The position of the first bad character.
        position: usize,
    },
    /// A PSK that is not 64 hex digits.
    #[error("must be 64 hex digits")]
    PskFormat,
    /// Both a passphrase and a PSK.
    #[error("give either passphrase or psk, not both")]
    BothCredentials,
    /// A security mode whose credentials are missing or do not fit: "open" with a
    /// passphrase or PSK, "wpa2" without either, "wpa3"/"wpa2-wpa3" without a passphrase.
    #[error("{0}")]
    SecurityCredentials(&'static str),
    /// Not a channel number (of its band).
    #[error("{0} is not a valid channel")]
    InvalidChannel(u8),
    /// A channel number that is not one of the band's.
    #[error("{0}")]
    NotInBand(crate::channel::InvalidChannel),
    /// Not a band name.
    #[error("must be \"2.4\", \"5\" or \"6\"")]
    UnknownBand,
    /// A 6 GHz AP of another standard than 802.11ax.
    #[error("a 6 GHz AP needs standard = \"ax\" (got {0})")]
    SixGhzNeedsAx(crate::phy::Standard),
    /// An SSID of the wrong length.
    #[error("must be 1 to 32 bytes, got {len}")]
    SsidLength {
        /// Its length in bytes.
        len: usize,
    },
    /// Not a MAC address.
    #[error("is not a MAC address (aa:bb:cc:dd:ee:ff)")]
    InvalidMac,
    /// A group or all-zero MAC address where a station address is needed.
    #[error("{0} is not a unicast address")]
    NotUnicast(MacAddr),
    /// The same BSSID twice.
    #[error("{addr} is already the BSSID of aps[{first}]")]
    DuplicateBssid {
        /// The address.
        addr: MacAddr,
        /// The index of the AP that has it first.
        first: usize,
    },
    /// A value that must not be zero.
    #[error("must not be 0")]
    Zero,
    /// A loss rate on a zero-airtime medium, which loses nothing.
    #[error("must be 0 when airtime = false (the zero-airtime medium loses nothing)")]
    LossWithoutAirtime,
    /// A number outside its range.
    #[error("must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
        /// The value given.
        value: f64,
    },
    /// Not one of the standards.
    #[error("must be \"g\", \"n\", \"ac\" or \"ax\"")]
    UnknownStandard,
    /// Not a channel width.
    #[error("must be 20, 40, 80 or 160, got {0}")]
    InvalidWidth(u16),
    /// Capabilities that do not fit the standard or the channel.
    #[error("{0}")]
    Phy(crate::phy::CapsError),
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML, or a key or type the configuration does not have.
    #[error("config line {line}, column {column}: {message}")]
    Syntax {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What the TOML parser said (the key is named; no value is quoted).
        message: String,
    },
    /// A value is not acceptable.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: Field,
        /// What is wrong.
        problem: Problem,
    },
}

fn invalid(section: Section, name: &'static str, problem: Problem) -> ConfigError {
    ConfigError::Invalid {
        field: Field { section, name },
        problem,
    }
}

fn check_range(
    section: Section,
    name: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), ConfigError> {
    // NaN fails the range check too.
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            section,
            name,
            Problem::OutOfRange { min, max, value },
        ))
    }
}

fn non_zero(section: Section, name: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        Err(invalid(section, name, Problem::Zero))
    } else {
        Ok(())
    }
}

impl MediumConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = Section::Medium;
        check_range(s, "path_loss_exponent", self.path_loss_exponent, 1.0, 8.0)?;
        check_range(s, "reference_loss_db", self.reference_loss_db, 0.0, 200.0)?;
        check_range(s, "tx_power_dbm", self.tx_power_dbm, -30.0, 40.0)?;
        check_range(s, "noise_floor_dbm", self.noise_floor_dbm, -150.0, -30.0)?;
        check_range(s, "loss_rate", self.loss_rate, 0.0, 1.0)?;
        non_zero(s, "phy_rate_kbps", self.phy_rate_kbps.into())?;
        check_range(s, "retry_limit", self.retry_limit.into(), 0.0, 31.0)?;
        if !self.airtime && self.loss_rate > 0.0 {
            return Err(invalid(s, "loss_rate", Problem::LossWithoutAirtime));
        }
        Ok(())
    }
}

impl ApEntry {
    /// The BSSID: the configured one, or `02:76:77:01:HH:LL` from `index`.
    fn bssid_at(&self, index: usize) -> Result<MacAddr, ConfigError> {
        let s = Section::Ap(index);
        let addr = match &self.bssid {
            Some(text) => text
                .parse::<MacAddr>()
                .map_err(|_| invalid(s, "bssid", Problem::InvalidMac))?,
            None => {
                let n = (index + 1).to_be_bytes();
                let len = n.len();
                MacAddr([
                    0x02,
                    0x76,
                    0x77,
                    0x01,
                    n.get(len - 2).copied().unwrap_or(0),
                    n.get(len - 1).copied().unwrap_or(0),
                ])
            }
        };
        if !addr.is_unicast() || addr == MacAddr::ZERO {
            return Err(invalid(s, "bssid", Problem::NotUnicast(addr)));
        }
        Ok(addr)
    }

    /// The channel of the entry at `index`: `channel` in `band` (2.4 or 5 GHz by default).
    pub(super) fn channel_at(&self, index: usize) -> Result<Channel, ConfigError> {
        let s = Section::Ap(index);
        let Some(name) = self.band.as_deref() else {
            return Channel::new(self.channel)
                .map_err(|_| invalid(s, "channel", Problem::InvalidChannel(self.channel)));
        };
        let band = Band::from_name(name).ok_or(invalid(s, "band", Problem::UnknownBand))?;
        Channel::in_band(band, self.channel)
            .map_err(|e| invalid(s, "channel", Problem::NotInBand(e)))
    }

    /// Checks the entry at `index` (no key derivation).
    fn validate(&self, index: usize) -> Result<(), ConfigError> {
        let s = Section::Ap(index);
        let len = self.ssid.len();
        if !(1..=Ssid::MAX_LEN).contains(&len) {
            return Err(invalid(s, "ssid", Problem::SsidLength { len }));
        }
        self.channel_at(index)?;
        self.bssid_at(index)?;
        match (&self.passphrase, &self.psk) {
            (Some(_), Some(_)) => return Err(invalid(s, "psk", Problem::BothCredentials)),
            (Some(p), None) => {
                Passphrase::new(p.expose()).map_err(|e| {
                    let problem = match e {
                        CryptoError::PassphraseCharacter { position, .. } => {
                            Problem::PassphraseCharacter { position }
                        }
                        _ => Problem::PassphraseLength {
                            len: p.expose().len(),
                        },
                    };
                    invalid(s, "passphrase", problem)
                })?;
            }
            (None, Some(k)) => {
                Psk::from_hex(k.expose()).ok_or(invalid(s, "psk", Problem::PskFormat))?;
            }
            (None, None) => {}
        }
        let problem = match (self.security, &self.passphrase, &self.psk) {
            (Some(SecurityMode::Open), Some(_), _) | (Some(SecurityMode::Open), _, Some(_)) => {
                Some("an open network takes no passphrase or psk")
            }
            (Some(SecurityMode::Wpa2), None, None) => Some("wpa2 needs a passphrase or psk"),
            (Some(SecurityMode::Wpa3 | SecurityMode::Wpa2Wpa3), None, _) => {
                Some("wpa3 and wpa2-wpa3 need a passphrase (the SAE password), not a psk")
            }
            _ => None,
        };
        if let Some(p) = problem {
            return Err(invalid(s, "security", Problem::SecurityCredentials(p)));
        }
        non_zero(s, "beacon_interval", self.beacon_interval.into())?;
        non_zero(s, "dtim_period", self.dtim_period.into())?;
        non_zero(s, "max_stations", self.max_stations.into())?;
        check_range(
            s,
            "max_stations",
            self.max_stations.into(),
            1.0,
            Tim::MAX_AID.into(),
        )?;
        for v in self.position {
            check_range(s, "position", v, -1.0e6, 1.0e6)?;
        }
        for v in self.path.iter().flatten() {
            check_range(s, "path", *v, -1.0e6, 1.0e6)?;
        }
        if let Some(v) = self.speed_mps {
            check_range(s, "speed_mps", v, 0.001, 1.0e4)?;
        }
        if let Some(r) = self.gtk_rekey_interval {
            non_zero(s, "gtk_rekey_interval", r)?;
        }
        non_zero(s, "inactivity_timeout", self.inactivity_timeout)?;
        non_zero(s, "ps_queue_limit", self.ps_queue_limit as u64)?;
        self.phy_caps(index)?;
        Ok(())
    }

    /// The AP configuration of the entry at `index`; derives the PSK from a passphrase
    /// (PBKDF2, 4096 rounds).
    fn to_ap_config(&self, index: usize, medium: &MediumConfig) -> Result<ApConfig, ConfigError> {
        self.validate(index)?;
        let s = Section::Ap(index);
        let ssid = Ssid::new(self.ssid.as_bytes()).map_err(|_| {
            invalid(
                s,
                "ssid",
                Problem::SsidLength {
                    len: self.ssid.len(),
                },
            )
        })?;
        let channel = self.channel_at(index)?;
        let security = match (&self.passphrase, &self.psk) {
            (Some(p), _) => {
                let pass = Passphrase::new(p.expose()).map_err(|_| {
                    invalid(
                        s,
                        "passphrase",
                        Problem::PassphraseLength {
                            len: p.expose().len(),
                        },
                    )
                })?;
                match self.security {
                    Some(SecurityMode::Wpa3) => ApSecurity::wpa3_passphrase(&pass, &ssid, false),
                    Some(SecurityMode::Wpa2Wpa3) => ApSecurity::wpa3_passphrase(&pass, &ssid, true),
                    _ => ApSecurity::wpa2_passphrase(&pass, &ssid),
                }
                .map_err(|_| invalid(s, "ssid", Problem::SsidLength { len: ssid.len() }))?
            }
            (None, Some(k)) => ApSecurity::Wpa2Psk {
                psk: Psk::from_hex(k.expose()).ok_or(invalid(s, "psk", Problem::PskFormat))?,
            },
            (None, None) => ApSecurity::Open,
        };
        let mut cfg = ApConfig::new(ssid, self.bssid_at(index)?, channel, security);
        cfg.beacon_interval_tu = self.beacon_interval;
        cfg.dtim_period = self.dtim_period;
        cfg.tbtt_offset = cfg.tbtt_offset_from_bssid();
        cfg.max_stations = self.max_stations;
        cfg.position = (self.position[0], self.position[1]);
        cfg.rate_kbps = medium.phy_rate_kbps;
        cfg.gtk_rekey_interval = self.gtk_rekey_interval.map(Duration::from_secs);
        cfg.hidden = self.hidden;
        cfg.inactivity_timeout = Duration::from_secs(self.inactivity_timeout);
        cfg.ps_queue_limit = self.ps_queue_limit;
        cfg.uplink = self.uplink;
        cfg.phy = self.phy_caps(index)?;
        Ok(cfg)
    }
}

impl SimConfig {
    /// Parses and validates a TOML configuration.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, at);
            ConfigError::Syntax {
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The built-in demo set ([`DEMO_TOML`]).
    pub fn demo() -> Self {
        // DEMO_TOML is a constant checked by the `demo_config_parses` test.
        #[allow(clippy::expect_used)]
        Self::from_toml_str(DEMO_TOML).expect("the built-in demo configuration is valid")
    }

    /// Checks every value: the medium's, each AP's, and that no two APs share a BSSID.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.medium.validate()?;
        self.stations.caps()?;
        self.stations.check_placement()?;
        let mut seen = BTreeMap::new();
        for (i, ap) in self.aps.iter().enumerate() {
            ap.validate(i)?;
            let addr = ap.bssid_at(i)?;
            if let Some(&first) = seen.get(&addr) {
                return Err(invalid(
                    Section::Ap(i),
                    "bssid",
                    Problem::DuplicateBssid { addr, first },
                ));
            }
            seen.insert(addr, i);
        }
        Ok(())
    }

    /// The configuration of every AP, in order, PSKs derived from passphrases (PBKDF2: this
    /// takes a moment per WPA2 network).
    pub fn ap_configs(&self) -> Result<Vec<ApConfig>, ConfigError> {
        self.validate()?;
        self.aps
            .iter()
            .enumerate()
            .map(|(i, ap)| ap.to_ap_config(i, &self.medium))
            .collect()
    }
}

/// The 1-based line and column of byte offset `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        SimConfig::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn demo_config_parses_into_three_networks_on_two_channels() {
        let demo = SimConfig::demo();
        assert_eq!(demo.seed, Some(1));
        assert_eq!(demo.medium, MediumConfig::default());
        let aps = demo.ap_configs().unwrap();
        let summary: Vec<(&[u8], u8, bool)> = aps
            .iter()
            .map(|a| {
                (
                    a.ssid.as_bytes(),
                    a.channel.number(),
                    a.security.is_protected(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (&b"vwifi-open"[..], 1, false),
                (&b"vwifi-lab"[..], 1, true),
                (&b"vwifi-office"[..], 6, true),
            ]
        );
        // The lab PSK is PBKDF2("correct horse battery staple", "vwifi-lab").
        let expected = crate::crypto::derive_psk(
            &Passphrase::new("correct horse battery staple").unwrap(),
            b"vwifi-lab",
        )
        .unwrap();
        assert_eq!(aps[1].security, ApSecurity::Wpa2Psk { psk: expected });
        assert_eq!(aps[2].gtk_rekey_interval, Some(Duration::from_secs(3600)));
        assert_eq!(aps[2].position, (20.0, 10.0));
        for ap in aps {
            ap.validate().unwrap();
        }
    }

    #[test]
    fn minimal_entry_gets_defaults_and_a_derived_bssid() {
        let cfg = SimConfig::from_toml_str(
            "[[aps]]\nssid = \"a\"\nchannel = 11\n[[aps]]\nssid = \"b\"\nchannel = 36\n",
        )
        .unwrap();
        assert_eq!(cfg.seed, None);
        let aps = cfg.ap_configs().unwrap();
        assert_eq!(aps[0].bssid.to_string(), "02:76:77:01:00:01");
        assert_eq!(aps[1].bssid.to_string(), "02:76:77:01:00:02");
        assert_eq!(aps[0].security, ApSecurity::Open);
        assert_eq!(aps[0].beacon_interval_tu, 100);
        assert_eq!(aps[0].dtim_period, 2);
        assert_eq!(aps[0].inactivity_timeout, Duration::from_secs(300));
        assert!(!aps[0].uplink);
    }

    #[test]
    fn an_ap_path_parses_and_bad_ones_are_refused_naming_the_field() {
        let cfg = SimConfig::from_toml_str(
            "[[aps]]\nssid = \"a\"\nchannel = 1\npath = [[10.0, 0.0], [10.0, 5.0]]\nspeed_mps = 2.5\n",
        )
        .unwrap();
        assert_eq!(cfg.aps[0].path, [[10.0, 0.0], [10.0, 5.0]]);
        assert_eq!(cfg.aps[0].speed_mps, Some(2.5));
        cfg.validate().unwrap();
        let e = err("[[aps]]\nssid = \"a\"\nchannel = 1\npath = [[1.0, 0.0]]\nspeed_mps = 0.0\n");
        assert!(e.contains("speed_mps"), "{e}");
        let e = err("[[aps]]\nssid = \"a\"\nchannel = 1\npath = [[1.0e9, 0.0]]\n");
        assert!(e.contains("path"), "{e}");
        let cfg = SimConfig::from_toml_str(
            "[stations]\nposition = [1.0, 2.0]\npath = [[3.0, 4.0]]\nspeed_mps = 0.5\n",
        )
        .unwrap();
        assert_eq!(cfg.stations.position, Some([1.0, 2.0]));
        assert_eq!(cfg.stations.path, [[3.0, 4.0]]);
        let e = err("[stations]\nposition = [1.0e7, 2.0]\n");
        assert!(e.contains("position"), "{e}");
        let e = err("[stations]\npath = [[1.0, 2.0]]\nspeed_mps = 1e9\n");
        assert!(e.contains("speed_mps"), "{e}");
    }

    #[test]
    fn psk_given_as_hex_is_used_as_is() {
        let hex = "ab".repeat(32);
        let cfg = SimConfig::from_toml_str(&format!(
            "[[aps]]\nssid = \"x\"\nchannel = 1\npsk = \"{hex}\"\n"
        ))
        .unwrap();
        let aps = cfg.ap_configs().unwrap();
        assert_eq!(
            aps[0].security,
            ApSecurity::Wpa2Psk {
                psk: Psk::from_bytes([0xab; 32])
            }
        );
    }

    #[test]
    fn validation_errors_name_the_field_and_the_problem() {
        let ok = "[[aps]]\nssid = \"ok\"\nchannel = 1\n";
        let cases = [
            (
                format!("{ok}[[aps]]\nssid = \"x\"\nchannel = 1\npassphrase = \"short\"\n"),
                "aps[1].passphrase: must be 8 to 63 characters, got 5",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 15\n".to_owned(),
                "aps[0].channel: 15 is not a valid channel",
            ),
            (
                format!("[[aps]]\nssid = \"{}\"\nchannel = 1\n", "s".repeat(33)),
                "aps[0].ssid: must be 1 to 32 bytes, got 33",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\nbeacon_interval = 0\n".to_owned(),
                "aps[0].beacon_interval: must not be 0",
            ),
            (
                format!(
                    "{ok}bssid = \"02:00:00:00:00:01\"\n[[aps]]\nssid = \"y\"\nchannel = 6\nbssid = \"02:00:00:00:00:01\"\n"
                ),
                "aps[1].bssid: 02:00:00:00:00:01 is already the BSSID of aps[0]",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\nbssid = \"ff:ff:ff:ff:ff:ff\"\n".to_owned(),
                "aps[0].bssid: ff:ff:ff:ff:ff:ff is not a unicast address",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\nbssid = \"nope\"\n".to_owned(),
                "aps[0].bssid: is not a MAC address (aa:bb:cc:dd:ee:ff)",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\npsk = \"12\"\n".to_owned(),
                "aps[0].psk: must be 64 hex digits",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\npsk = \"12\"\npassphrase = \"long enough\"\n"
                    .to_owned(),
                "aps[0].psk: give either passphrase or psk, not both",
            ),
            (
                "[[aps]]\nssid = \"x\"\nchannel = 1\npassphrase = \"bad\u{e9}passphrase\"\n".to_owned(),
                "aps[0].passphrase: must be printable ASCII (character 3 is not)",
            ),
            (
                "[medium]\nloss_rate = 1.5\n".to_owned(),
                "medium.loss_rate: must be between 0 and 1, got 1.5",
            ),
            (
                "[medium]\nphy_rate_kbps = 0\n".to_owned(),
                "medium.phy_rate_kbps: must not be 0",
            ),
            (
                "[medium]\nairtime = false\nloss_rate = 0.1\n".to_owned(),
                "medium.loss_rate: must be 0 when airtime = false (the zero-airtime medium loses nothing)",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(&text), want, "for:\n{text}");
        }
    }

    #[test]
    fn security_modes_build_wpa3_and_transition_aps_and_check_their_credentials() {
        let text = "[[aps]]\nssid = \"w3\"\nchannel = 1\npassphrase = \"sae password\"\nsecurity = \"wpa3\"\n\
                    [[aps]]\nssid = \"tr\"\nchannel = 6\npassphrase = \"sae password\"\nsecurity = \"wpa2-wpa3\"\n\
                    [[aps]]\nssid = \"w2\"\nchannel = 11\npassphrase = \"sae password\"\n";
        let aps = SimConfig::from_toml_str(text)
            .unwrap()
            .ap_configs()
            .unwrap();
        let ApSecurity::Wpa3Sae { transition_psk, .. } = &aps[0].security else {
            panic!("{:?}", aps[0].security)
        };
        assert!(transition_psk.is_none());
        let ApSecurity::Wpa3Sae { transition_psk, .. } = &aps[1].security else {
            panic!("{:?}", aps[1].security)
        };
        let ssid = Ssid::new(b"tr").unwrap();
        let pass = Passphrase::new("sae password").unwrap();
        assert_eq!(
            transition_psk.as_ref(),
            Some(&crate::crypto::derive_psk(&pass, ssid.as_bytes()).unwrap())
        );
        assert!(
            matches!(aps[2].security, ApSecurity::Wpa2Psk { .. }),
            "wpa2 by default"
        );
        let ok = "[[aps]]\nssid = \"x\"\nchannel = 1\n";
        for (extra, want) in [
            (
                "security = \"wpa3\"\n",
                "aps[0].security: wpa3 and wpa2-wpa3 need a passphrase (the SAE password), not a psk",
            ),
            (
                "security = \"open\"\npassphrase = \"long enough\"\n",
                "aps[0].security: an open network takes no passphrase or psk",
            ),
            ("security = \"wpa2\"\n", "aps[0].security: wpa2 needs a passphrase or psk"),
        ] {
            assert_eq!(err(&format!("{ok}{extra}")), want);
        }
        let e = err(&format!("{ok}security = \"wep\"\n"));
        assert!(e.contains("unknown variant `wep`"), "{e}");
    }

    #[test]
    fn unknown_fields_are_refused_by_name_with_their_line() {
        let e =
            SimConfig::from_toml_str("seed = 3\n[[aps]]\nssid = \"x\"\nchannel = 1\nchanel = 2\n")
                .unwrap_err();
        let ConfigError::Syntax { line, message, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(*line, 5);
        assert!(message.contains("unknown field `chanel`"), "{message}");
        let e = err("[medium]\nshadowing = 1\n");
        assert!(e.contains("unknown field `shadowing`"), "{e}");
        let e = err("colour = 1\n");
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn syntax_errors_never_quote_the_passphrase() {
        let text = "[[aps]]\nssid = \"x\"\nchannel = 1\npassphrase = \"hunter2hunter2\" junk\n";
        let e = err(text);
        assert!(e.starts_with("config line 4"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn debug_redacts_credentials() {
        let cfg = SimConfig::demo();
        let text = format!("{cfg:?}");
        assert!(!text.contains("correct horse"), "{text}");
        assert!(!text.contains("office demo"), "{text}");
        assert!(text.contains("Secret(<redacted>)"));
        let aps = format!("{:?}", cfg.ap_configs().unwrap());
        assert!(aps.contains("Psk(<redacted>)"));
    }
}
