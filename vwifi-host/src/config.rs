//! The daemon's configuration file (`vwifi-host run --config host.toml`).
//!
//! ```toml
//! [host]
//! socket = "/run/vwifi/host.sock"   # where guests connect; the control socket is <socket>.ctl
//! log = "info"                      # a tracing filter (RUST_LOG syntax); RUST_LOG and -v win
//! socket_mode = 0o660               # permissions of both sockets
//! allow_uids = []                   # who may connect besides the daemon's user and root
//! allow_gids = []
//! state_dir = "/var/lib/vwifi"      # attachments and profiles kept across restarts (root default)
//! uplink_tap = "vwifi-up0"          # a TAP on the host bridged to the APs' distribution system
//!
//! [mux]
//! max_stations = 256                # guests the radio serves at once
//! max_channels = 4                  # distinct channels the stations may use at once
//! guest_data_queue = 256            # data frames waiting in the Mux for one guest
//! guest_control_queue = 1024        # replies and events waiting in the Mux for one guest
//! link_queue = 512                  # messages waiting to be written to one guest's link
//! auto_reconnect = true
//! home_slot_ms = 100                # time share of a channel when several are in use
//! roam = true                       # stations move between APs of one network (SSID + security)
//! roam_trigger_dbm = -70            # below this signal a station looks for a better AP
//! roam_hysteresis_db = 8            # ... and moves to one at least this much stronger
//! roam_scan_interval_ms = 2000      # at most one background scan per this time
//! amsdu = true                      # a guest's frames read together go in A-MSDUs (HT/VHT/HE links)
//! rx_stage = true                   # guests' ports open their unicast data (decrypt, split; off: the driver does)
//!
//! [radio]
//! kind = "sim"                      # or "nl80211": a real card, with phy = "phy1" or ifname = "wlan1"
//! prefix = "vw"                     # names of the station interfaces on a real card (vw0, vw1, ...)
//! data_path = "kernel"              # nl80211: a namespace's data through a veth and tc filters; or "socket" (through the daemon)
//! max_interfaces = 1                # nl80211: station interfaces the card takes; guests beyond share one (unset: no sharing)
//!
//! [federation]                      # one air with other hosts' daemons (crate::federation)
//! node = "host-a"
//! air = "lab"
//! listen = ["tcp/0.0.0.0:7447"]
//! connect = ["tcp/192.0.2.2:7447"]
//!
//! [sim]                             # the simulated radio: vwifi_core::sim::config::SimConfig
//! seed = 1
//! [sim.medium]
//! phy_rate_kbps = 54000
//! airtime = true                  # false: zero-airtime measuring mode (benches/e2e.sh)
//! [[sim.aps]]
//! ssid = "vwifi-lab"
//! channel = 1
//! passphrase = "correct horse battery staple"
//! ```
//!
//! Every table and key is optional; unknown keys are refused with their name, and a bad value
//! is reported with its field (`mux.max_channels: must be between 1 and 16, got 0`,
//! `sim.aps[1].passphrase: must be 8 to 63 characters, got 5`). Without `[sim]`, the simulated
//! radio runs the built-in demo networks ([`vwifi_core::sim::config::DEMO_TOML`]).

use core::time::Duration;
use std::path::PathBuf;

use serde::Deserialize;
use vwifi_core::channel::Band;
use vwifi_core::mux::MuxConfig;
use vwifi_core::scheduler::SchedulerConfig;
use vwifi_core::sim::config::{ConfigError, SimConfig, DEMO_TOML};
use vwifi_core::station::{RoamConfig, ScanConfig, StationConfig};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostConfig {
    /// `[host]`: sockets and logs.
    #[serde(default)]
    pub(crate) host: HostSection,
    /// `[mux]`: limits and queues.
    #[serde(default)]
    pub(crate) mux: MuxSection,
    /// `[sim]`: the simulated radio; the demo networks if absent.
    #[serde(default)]
    pub(crate) sim: Option<SimConfig>,
    /// `[[attach]]`: network namespaces given a station (a TAP inside) at start.
    #[serde(default)]
    pub(crate) attach: Vec<AttachSection>,
    /// `[radio]`: the simulated radio (default) or a real card through nl80211.
    #[serde(default)]
    pub(crate) radio: RadioSection,
    /// `[hwsim]`: the kernel's mac80211_hwsim radios join the simulated air.
    #[serde(default)]
    pub(crate) hwsim: Option<crate::hwsim::HwsimSection>,
    /// `[[vhost_user]]`: VMs served as vhost-user-net devices at start.
    #[serde(default)]
    pub(crate) vhost_user: Vec<VhostUserSection>,
    /// `[federation]`: one air shared with other daemons (off when absent).
    #[serde(default)]
    pub(crate) federation: Option<crate::federation::FederationSection>,
}

/// One `[[vhost_user]]`: `socket = "PATH"`, `name = "NAME"` (default: the socket's stem).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VhostUserSection {
    /// The unix socket the VMM connects to.
    pub(crate) socket: PathBuf,
    /// The VM's name (its station's MAC derives from it).
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// Which radio the daemon drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RadioKind {
    /// The simulated medium with the APs of `[sim]`.
    #[default]
    Sim,
    /// A real card through nl80211: one kernel station interface per guest.
    Nl80211,
}

/// `[radio]`: `kind = "nl80211"` with `phy = "phy1"` or `ifname = "wlan1"` (an interface of
/// the card); `prefix` names the station interfaces (`vw0`, `vw1`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RadioSection {
    /// The radio.
    pub(crate) kind: RadioKind,
    /// The card, as `iw phy` names it.
    pub(crate) phy: Option<String>,
    /// An interface of the card, as `iw dev` names it (instead of `phy`).
    pub(crate) ifname: Option<String>,
    /// The name prefix of the station interfaces; interfaces on the card named so (prefix and
    /// digits) are taken for leftovers of an earlier run and deleted at start.
    pub(crate) prefix: String,
    /// How a namespace guest's data reaches its station interface (nl80211 radio).
    pub(crate) data_path: DataPathKind,
    /// The station interfaces the card takes (nl80211 radio). Set, guests beyond it share
    /// the interface of a guest on the same network (one association, vwifi's MAC-translating
    /// demultiplexer in the daemon: every guest's data takes the socket path then); a guest
    /// asking for another network is told "radio busy". Unset (the default): one interface
    /// per guest, up to the card's interface combinations, and no sharing.
    pub(crate) max_interfaces: Option<u32>,
}

/// `[radio] data_path`: how a namespace guest's frames reach its station interface on the
/// nl80211 radio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DataPathKind {
    /// In the kernel: a veth pair joined to the station interface by tc filters (default).
    #[default]
    Kernel,
    /// Through the daemon: a TAP in the namespace and a packet socket on the station
    /// interface.
    Socket,
}

impl Default for RadioSection {
    fn default() -> Self {
        Self {
            kind: RadioKind::Sim,
            phy: None,
            ifname: None,
            prefix: "vw".into(),
            data_path: DataPathKind::Kernel,
            max_interfaces: None,
        }
    }
}

/// One `[[attach]]`: `netns = "NAME"` (or `netns_path = "PATH"`, or `pid = PID`),
/// `ifname = "wlan0"` (the default); `native = true` (and `position = [x, y]`) for a radio of
/// its own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachSection {
    /// The network namespace, as `ip netns` names it.
    #[serde(default)]
    pub(crate) netns: Option<String>,
    /// The network namespace's file (a bind mount, `/proc/PID/ns/net`).
    #[serde(default)]
    pub(crate) netns_path: Option<String>,
    /// A process whose network namespace it is.
    #[serde(default)]
    pub(crate) pid: Option<u32>,
    /// The interface created inside it.
    #[serde(default = "default_ifname")]
    pub(crate) ifname: String,
    /// A Wi-Fi radio of its own instead of a TAP ([`crate::ports::native`]; turns `[hwsim]`
    /// on).
    #[serde(default)]
    pub(crate) native: bool,
    /// Where the native radio stands, metres.
    #[serde(default)]
    pub(crate) position: Option<[f64; 2]>,
}

impl AttachSection {
    /// The namespace's key ([`crate::ports::nsfile`]).
    pub(crate) fn key(&self) -> Result<String, crate::ports::netns::NetnsError> {
        crate::ports::nsfile::key(self.netns.clone(), self.netns_path.clone(), self.pid)
    }
}

fn default_ifname() -> String {
    crate::ports::netns::DEFAULT_IFNAME.to_owned()
}

/// `[host]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HostSection {
    /// The guests' socket; see [`default_socket`] when absent.
    pub(crate) socket: Option<PathBuf>,
    /// A tracing filter, `RUST_LOG` syntax.
    pub(crate) log: Option<String>,
    /// The permissions of the sockets.
    pub(crate) socket_mode: u32,
    /// Users allowed to connect besides the daemon's own and root.
    pub(crate) allow_uids: Vec<u32>,
    /// Groups allowed to connect (the peer's effective group).
    pub(crate) allow_gids: Vec<u32>,
    /// Where attachments and the networks their stations joined are kept across restarts
    /// ([`crate::state`]); see [`default_state_dir`] when absent.
    pub(crate) state_dir: Option<PathBuf>,
    /// A TAP the daemon creates on the host and plugs into the APs' uplink bridge: the wired
    /// side of the simulated networks (the host gives it an address; guests reach it).
    pub(crate) uplink_tap: Option<String>,
}

impl Default for HostSection {
    fn default() -> Self {
        Self {
            socket: None,
            log: None,
            socket_mode: vwifi_transport_unix::DEFAULT_SOCKET_MODE,
            allow_uids: Vec::new(),
            allow_gids: Vec::new(),
            state_dir: None,
            uplink_tap: None,
        }
    }
}

/// `[mux]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MuxSection {
    /// Guests served at once.
    pub(crate) max_stations: usize,
    /// Distinct home channels at once.
    pub(crate) max_channels: usize,
    /// Data frames waiting in the Mux for one guest.
    pub(crate) guest_data_queue: usize,
    /// Control messages waiting in the Mux for one guest.
    pub(crate) guest_control_queue: usize,
    /// Messages waiting to be written to one guest's link.
    pub(crate) link_queue: usize,
    /// Whether stations reconnect by themselves.
    pub(crate) auto_reconnect: bool,
    /// A channel's time share, in milliseconds, when several are in use.
    pub(crate) home_slot_ms: u64,
    /// Whether stations roam between the APs of their network.
    pub(crate) roam: bool,
    /// The AP signal below which a station looks for a better AP, in dBm.
    pub(crate) roam_trigger_dbm: i8,
    /// How much stronger another AP must be to move to it, in dB.
    pub(crate) roam_hysteresis_db: u8,
    /// The least time between two background roam scans, in milliseconds.
    pub(crate) roam_scan_interval_ms: u64,
    /// Whether a guest's frames read together go in A-MSDUs on links that take them.
    pub(crate) amsdu: bool,
    /// Whether a connected station's unicast data frames are opened by its guest's port (the
    /// receive stage, on the port's thread: decrypted if protected, split into Ethernet
    /// frames) rather than by the driver.
    pub(crate) rx_stage: bool,
}

impl Default for MuxSection {
    fn default() -> Self {
        let mux = MuxConfig::default();
        Self {
            max_stations: mux.scheduler.max_stations,
            max_channels: mux.scheduler.max_channels,
            guest_data_queue: mux.guest_data_queue,
            guest_control_queue: mux.guest_control_queue,
            link_queue: 512,
            auto_reconnect: mux.auto_reconnect,
            home_slot_ms: duration_ms(mux.scheduler.home_slot),
            roam: mux.station.roam.enabled,
            roam_trigger_dbm: mux.station.roam.trigger_dbm,
            roam_hysteresis_db: mux.station.roam.hysteresis_db,
            roam_scan_interval_ms: duration_ms(mux.station.roam.scan_interval),
            amsdu: mux.station.amsdu,
            rx_stage: true,
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why the configuration file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ConfigFileError {
    /// Not TOML, or an unknown key or a value of the wrong type.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// The parser's message (it names the key).
        message: String,
    },
    /// A value of `[host]` or `[mux]` is not acceptable.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, `mux.max_channels`.
        field: &'static str,
        /// What is wrong.
        problem: Problem,
    },
    /// A value of `[sim]` is not acceptable (the field is printed under `sim.`).
    #[error("sim.{0}")]
    Sim(#[source] ConfigError),
    /// A value of `[hwsim]` is not acceptable (the field is printed under `hwsim.`).
    #[error("hwsim.{0}")]
    Hwsim(#[source] crate::hwsim::HwsimConfigError),
    /// A value of `[federation]` is not acceptable (its message names the field).
    #[error("{0}")]
    Federation(#[source] crate::federation::FederationError),
}

/// What is wrong with a value of `[host]` or `[mux]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    /// A number outside its range.
    #[error("must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The least value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
        /// The value given.
        value: u64,
    },
    /// A signed number outside its range.
    #[error("must be between {min} and {max}, got {value}")]
    OutOfSignedRange {
        /// The least value allowed.
        min: i64,
        /// The largest value allowed.
        max: i64,
        /// The value given.
        value: i64,
    },
    /// A log filter that tracing does not understand.
    #[error("is not a valid log filter ({reason})")]
    LogFilter {
        /// What tracing-subscriber said.
        reason: String,
    },
    /// A path that cannot be a socket path.
    #[error("must be a non-empty path")]
    EmptyPath,
    /// Not a usable interface name.
    #[error("{reason}")]
    Ifname {
        /// What is wrong with it.
        reason: String,
    },
    /// Not exactly one usable namespace name, path or PID.
    #[error("{reason}")]
    Namespace {
        /// What is wrong with it.
        reason: String,
    },
    /// An interface name prefix that is not 1 to 8 letters, `-` or `_`.
    #[error("must be 1 to 8 letters, '-' or '_' (digits follow it), got {0:?}")]
    Prefix(String),
    /// Both `phy` and `ifname` name the card.
    #[error("give either radio.phy or radio.ifname, not both")]
    PhyAndIfname,
    /// Permission bits beyond 0o777.
    #[error("must be permission bits between 0o000 and 0o777, got {0:#o}")]
    Mode(u32),
}

impl HostConfig {
    /// Parses and validates a configuration file's text.
    pub(crate) fn from_toml_str(text: &str) -> Result<Self, ConfigFileError> {
        let cfg: Self = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, at);
            ConfigFileError::Syntax {
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value.
    pub(crate) fn validate(&self) -> Result<(), ConfigFileError> {
        let h = &self.host;
        if h.socket.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(invalid("host.socket", Problem::EmptyPath));
        }
        if h.state_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid("host.state_dir", Problem::EmptyPath));
        }
        if let Some(name) = &h.uplink_tap {
            crate::ports::netns::check_ifname(name).map_err(|e| {
                invalid(
                    "host.uplink_tap",
                    Problem::Ifname {
                        reason: e.to_string(),
                    },
                )
            })?;
        }
        for (i, a) in self.attach.iter().enumerate() {
            a.key().map_err(|e| {
                invalid(
                    "attach",
                    Problem::Namespace {
                        reason: format!("entry {}: {e}", i + 1),
                    },
                )
            })?;
            let bad_position = a
                .position
                .is_some_and(|[x, y]| !(x.is_finite() && y.is_finite() && a.native));
            if bad_position {
                return Err(invalid(
                    "attach",
                    Problem::Namespace {
                        reason: format!(
                            "entry {}: position needs native = true and finite coordinates",
                            i + 1
                        ),
                    },
                ));
            }
        }
        if h.socket_mode > 0o777 {
            return Err(invalid("host.socket_mode", Problem::Mode(h.socket_mode)));
        }
        if let Some(log) = &h.log {
            tracing_subscriber::EnvFilter::try_new(log).map_err(|e| {
                invalid(
                    "host.log",
                    Problem::LogFilter {
                        reason: e.to_string(),
                    },
                )
            })?;
        }
        let m = &self.mux;
        range("mux.max_stations", m.max_stations as u64, 1, 2007)?;
        range("mux.max_channels", m.max_channels as u64, 1, 16)?;
        range("mux.guest_data_queue", m.guest_data_queue as u64, 1, 65_536)?;
        range(
            "mux.guest_control_queue",
            m.guest_control_queue as u64,
            1,
            65_536,
        )?;
        range("mux.link_queue", m.link_queue as u64, 1, 65_536)?;
        range("mux.home_slot_ms", m.home_slot_ms, 10, 10_000)?;
        if !(-100..=-20).contains(&m.roam_trigger_dbm) {
            return Err(invalid(
                "mux.roam_trigger_dbm",
                Problem::OutOfSignedRange {
                    min: -100,
                    max: -20,
                    value: m.roam_trigger_dbm.into(),
                },
            ));
        }
        range("mux.roam_hysteresis_db", m.roam_hysteresis_db.into(), 0, 40)?;
        range(
            "mux.roam_scan_interval_ms",
            m.roam_scan_interval_ms,
            100,
            3_600_000,
        )?;
        if let Some(sim) = &self.sim {
            sim.validate().map_err(ConfigFileError::Sim)?;
        }
        if let Some(hwsim) = &self.hwsim {
            hwsim.validate().map_err(ConfigFileError::Hwsim)?;
        }
        if let Some(fed) = &self.federation {
            fed.validate().map_err(ConfigFileError::Federation)?;
        }
        let r = &self.radio;
        let prefix_ok = (1..=8).contains(&r.prefix.len())
            && r.prefix
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
        if !prefix_ok {
            return Err(invalid("radio.prefix", Problem::Prefix(r.prefix.clone())));
        }
        if let Some(n) = r.max_interfaces.filter(|n| !(1..=64).contains(n)) {
            return Err(invalid(
                "radio.max_interfaces",
                Problem::OutOfRange {
                    min: 1,
                    max: 64,
                    value: u64::from(n),
                },
            ));
        }
        if r.kind == RadioKind::Nl80211 && r.phy.is_some() && r.ifname.is_some() {
            return Err(invalid("radio.ifname", Problem::PhyAndIfname));
        }
        Ok(())
    }

    /// The Mux's configuration.
    pub(crate) fn mux_config(&self) -> MuxConfig {
        let m = &self.mux;
        let defaults = MuxConfig::default();
        let six_ghz = self.air_has_6ghz();
        MuxConfig {
            scheduler: SchedulerConfig {
                home_slot: Duration::from_millis(m.home_slot_ms),
                max_stations: m.max_stations,
                max_channels: m.max_channels,
                ..defaults.scheduler
            },
            guest_data_queue: m.guest_data_queue,
            guest_control_queue: m.guest_control_queue,
            auto_reconnect: m.auto_reconnect,
            station: StationConfig {
                roam: RoamConfig {
                    enabled: m.roam,
                    trigger_dbm: m.roam_trigger_dbm,
                    hysteresis_db: m.roam_hysteresis_db,
                    scan_interval: Duration::from_millis(m.roam_scan_interval_ms),
                },
                amsdu: m.amsdu,
                stage_rx: m.rx_stage,
                scan: ScanConfig {
                    channels: defaults
                        .station
                        .scan
                        .channels
                        .iter()
                        .copied()
                        .filter(|c| six_ghz || c.band() != Band::Ghz6)
                        .collect(),
                    ..defaults.station.scan
                },
                ..defaults.station
            },
        }
    }

    /// Whether the host's radio is a tri-band one that scans 6 GHz too: when the air can carry
    /// a 6 GHz network (a `band = "6"` AP in `[sim]`, the kernel's hwsim radios or other daemons
    /// sharing it). Otherwise it is a dual-band radio, as most cards are, and its scans skip the
    /// 15 6 GHz channels (about 0.6 s of every scan).
    fn air_has_6ghz(&self) -> bool {
        self.hwsim.is_some()
            || self.federation.is_some()
            || self.sim.as_ref().is_some_and(|sim| {
                sim.aps
                    .iter()
                    .any(|ap| ap.band.as_deref().and_then(Band::from_name) == Some(Band::Ghz6))
            })
    }

    /// The simulated radio's configuration: `[sim]`, or the demo networks.
    pub(crate) fn sim_config(&self) -> SimConfig {
        self.sim.clone().unwrap_or_else(SimConfig::demo)
    }
}

fn invalid(field: &'static str, problem: Problem) -> ConfigFileError {
    ConfigFileError::Invalid { field, problem }
}

fn range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigFileError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, Problem::OutOfRange { min, max, value }))
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

/// The default socket path: `/run/vwifi/host.sock` for root, else
/// `$XDG_RUNTIME_DIR/vwifi/host.sock`, else `/tmp/vwifi-<uid>/host.sock`.
pub(crate) fn default_socket(euid: u32, runtime_dir: Option<PathBuf>) -> PathBuf {
    if euid == 0 {
        return PathBuf::from("/run/vwifi/host.sock");
    }
    match runtime_dir.filter(|d| d.is_absolute()) {
        Some(dir) => dir.join("vwifi").join("host.sock"),
        None => PathBuf::from(format!("/tmp/vwifi-{euid}/host.sock")),
    }
}

/// The state directory when the configuration names none: [`crate::state::DEFAULT_STATE_DIR`]
/// for root; none otherwise (nothing is kept: attaching namespaces needs root anyway).
pub(crate) fn default_state_dir(euid: u32) -> Option<PathBuf> {
    (euid == 0).then(|| PathBuf::from(crate::state::DEFAULT_STATE_DIR))
}

/// The control socket beside the guests' socket: `<socket>.ctl`.
pub(crate) fn control_socket(socket: &std::path::Path) -> PathBuf {
    let mut s = socket.as_os_str().to_owned();
    s.push(".ctl");
    PathBuf::from(s)
}

/// The configuration `vwifi-host run --print-default-config` prints: every `[host]` and `[mux]`
/// key at its default, and the demo networks as `[sim]`.
pub(crate) fn default_config_text() -> String {
    let mux = MuxSection::default();
    let mut out = String::new();
    out.push_str(
        "# vwifi-host configuration (every key is optional; these are the defaults).\n\n\
         [host]\n\
         # socket = \"/run/vwifi/host.sock\"  # default: /run/vwifi (root) or $XDG_RUNTIME_DIR/vwifi\n\
         # log = \"info\"                     # tracing filter; RUST_LOG and -v take precedence\n\
         socket_mode = 0o660\n\
         allow_uids = []\n\
         allow_gids = []\n\
         # state_dir = \"/var/lib/vwifi\"     # kept across restarts: attachments, networks joined (root default)\n\
         # uplink_tap = \"vwifi-up0\"         # a host TAP bridged to the APs (give it an address)\n\n\
         [mux]\n",
    );
    out.push_str(&format!(
        "max_stations = {}\nmax_channels = {}\nguest_data_queue = {}\nguest_control_queue = {}\n\
         link_queue = {}\nauto_reconnect = {}\nhome_slot_ms = {}\n\
         # roaming between the APs of one network (SSID and security)\n\
         roam = {}\nroam_trigger_dbm = {}\nroam_hysteresis_db = {}\nroam_scan_interval_ms = {}\n\
         # a guest's frames read together go in A-MSDUs on HT/VHT/HE links that take them\n\
         amsdu = {}\n\
         # a guest's port opens its station's unicast data (decrypts, splits A-MSDUs; false: the driver does)\n\
         rx_stage = {}\n\n",
        mux.max_stations,
        mux.max_channels,
        mux.guest_data_queue,
        mux.guest_control_queue,
        mux.link_queue,
        mux.auto_reconnect,
        mux.home_slot_ms,
        mux.roam,
        mux.roam_trigger_dbm,
        mux.roam_hysteresis_db,
        mux.roam_scan_interval_ms,
        mux.amsdu,
        mux.rx_stage
    ));
    out.push_str(
        "# Network namespaces (containers) given a station at start: a TAP inside each, with\n\
         # the station's MAC (needs root). Same as `vwifi-host attach --netns c1`.\n\
         # [[attach]]\n\
         # netns = \"c1\"     # as `ip netns` names it: /var/run/netns/c1; or\n\
         # netns_path = \"/run/netns/cni-1\"  # any namespace file; or pid = 1234\n\
         # ifname = \"wlan0\"\n\
         # native = true    # a Wi-Fi radio of its own instead (mac80211_hwsim; turns [hwsim] on)\n\
         # position = [10.0, 0.0]  # where that radio stands, metres\n\n\
         # VMs served as vhost-user-net devices (QEMU -netdev vhost-user). Same as\n\
         # `vwifi-host vhost-user --socket /run/vwifi/vm1.sock --name vm1`.\n\
         # [[vhost_user]]\n\
         # socket = \"/run/vwifi/vm1.sock\"\n\
         # name = \"vm1\"       # default: the socket's file stem\n\n\
         # The kernel's mac80211_hwsim radios on the same air (needs root; or `run --hwsim`):\n\
         # [hwsim]\n\
         # position = [4.0, 2.0]  # radio N stands at (x + N, y) unless listed\n\
         # [[hwsim.radios]]\n\
         # index = 1\n\
         # position = [30.0, 0.0]\n\n\
         # One air with the daemons of other hosts, over Zenoh (peer to peer, TCP):\n\
         # [federation]\n\
         # node = \"host-a\"                 # unique on the air\n\
         # air = \"lab\"                     # daemons with the same air share frames\n\
         # listen = [\"tcp/0.0.0.0:7447\"]\n\
         # connect = [\"tcp/192.0.2.2:7447\"]  # the other hosts\n\
         # queue = 4096                    # frames waiting each way; more dropped, counted\n\
         # peer_timeout_ms = 3000          # a silent peer's nodes leave the air\n\
         # position = [40.0, 0.0]          # where this host's guests stand (global positions)\n\n",
    );
    out.push_str(
        "# The radio: the simulated one below (default), or a real card through nl80211 (root):\n\
         # one kernel station interface per guest, named PREFIX0, PREFIX1, ... on the card.\n\
         [radio]\n\
         kind = \"sim\"\n\
         # kind = \"nl80211\"\n\
         # phy = \"phy1\"      # the card, as `iw phy` names it\n\
         # ifname = \"wlan1\"  # or an interface of the card, as `iw dev` names it\n\
         prefix = \"vw\"\n\
         # data_path = \"kernel\"  # nl80211: a namespace's data stays in the kernel (veth + tc);\n\
         #                        # \"socket\": through the daemon (TAP and packet socket)\n\
         # max_interfaces = 1     # nl80211: the card takes 1 station interface; guests on the\n\
         #                        # same network share it (their data through the daemon)\n\n",
    );
    out.push_str("# The simulated radio (the built-in demo networks).\n[sim]\n");
    for line in DEMO_TOML.lines() {
        let trimmed = line.trim();
        if trimmed == "[medium]" {
            out.push_str("[sim.medium]\n");
        } else if trimmed == "[[aps]]" {
            out.push_str("[[sim.aps]]\n");
        } else if trimmed.starts_with('#') && out.ends_with("[sim]\n") {
            // The demo's title comment is replaced by ours.
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The socket path when none is given.
pub(crate) fn socket_or_default(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        default_socket(
            rustix::process::geteuid().as_raw(),
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        HostConfig::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn attach_tables_name_namespaces_with_wlan0_by_default() {
        let cfg = HostConfig::from_toml_str(
            "[[attach]]\nnetns = \"c1\"\n[[attach]]\nnetns = \"c2\"\nifname = \"wl1\"\n",
        )
        .unwrap();
        let got: Vec<(String, &str)> = cfg
            .attach
            .iter()
            .map(|a| (a.key().unwrap(), a.ifname.as_str()))
            .collect();
        assert_eq!(got, [("c1".into(), "wlan0"), ("c2".into(), "wl1")]);
        assert!(HostConfig::from_toml_str("[[attach]]\nifname = \"x\"\n").is_err());
        let cfg = HostConfig::from_toml_str(
            "[[attach]]\npid = 7\n[[attach]]\nnetns_path = \"/run/netns/p\"\n",
        )
        .unwrap();
        let keys: Vec<String> = cfg.attach.iter().map(|a| a.key().unwrap()).collect();
        assert_eq!(keys, ["/proc/7/ns/net", "/run/netns/p"]);
        let e = err("[[attach]]\nnetns = \"c1\"\npid = 7\n");
        assert!(e.contains("attach") && e.contains("exactly one"), "{e}");
    }

    #[test]
    fn empty_file_is_the_default_with_the_demo_networks() {
        let cfg = HostConfig::from_toml_str("").unwrap();
        assert_eq!(cfg, HostConfig::default());
        assert_eq!(cfg.sim_config(), SimConfig::demo());
        let mux = cfg.mux_config();
        assert_eq!(mux.scheduler.max_stations, 256);
        assert_eq!(mux.guest_data_queue, 256);
    }

    #[test]
    fn the_radio_scans_6ghz_only_when_the_air_can_carry_a_6ghz_network() {
        let six = |text: &str| {
            let cfg = HostConfig::from_toml_str(text).unwrap();
            let channels = cfg.mux_config().station.scan.channels;
            assert!(channels.iter().any(|c| c.band() == Band::Ghz5), "{text}");
            channels.iter().filter(|c| c.band() == Band::Ghz6).count()
        };
        // The demo networks and a 5 GHz AP: a dual-band radio.
        assert_eq!(six(""), 0);
        assert_eq!(six("[[sim.aps]]\nssid = \"a\"\nchannel = 36\n"), 0);
        // A 6 GHz AP, kernel radios or other daemons on the air: the 15 preferred channels.
        let ap6 = "[[sim.aps]]\nssid = \"a\"\nchannel = 37\nband = \"6\"\nstandard = \"ax\"\n";
        assert_eq!(six(ap6), 15);
        assert_eq!(six("[hwsim]\n"), 15);
    }

    #[test]
    fn roaming_is_on_by_default_and_its_thresholds_come_from_mux() {
        let roam = HostConfig::from_toml_str("")
            .unwrap()
            .mux_config()
            .station
            .roam;
        assert_eq!(roam, RoamConfig::default());
        assert!(roam.enabled);
        let cfg = HostConfig::from_toml_str(
            "[mux]
roam = false
roam_trigger_dbm = -75
roam_hysteresis_db = 5
             roam_scan_interval_ms = 500
",
        )
        .unwrap();
        let roam = cfg.mux_config().station.roam;
        assert_eq!(
            (roam.enabled, roam.trigger_dbm, roam.hysteresis_db),
            (false, -75, 5)
        );
        assert_eq!(roam.scan_interval, Duration::from_millis(500));
        assert_eq!(
            err("[mux]\nroam_trigger_dbm = -10\n"),
            "mux.roam_trigger_dbm: must be between -100 and -20, got -10"
        );
        assert!(err("[mux]\nroam_hysteresis_db = 41\n").starts_with("mux.roam_hysteresis_db"));
        assert!(err("[mux]\nroam_scan_interval_ms = 5\n").starts_with("mux.roam_scan_interval"));
        // Out of an i8 altogether: refused by the parser, at its line.
        assert!(err("[mux]\nroam_trigger_dbm = -1000\n").starts_with("line 2"));
    }

    #[test]
    fn printed_default_config_parses_back_to_the_defaults_and_demo() {
        let text = default_config_text();
        let cfg = HostConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.host, HostSection::default());
        assert_eq!(cfg.mux, MuxSection::default());
        assert_eq!(cfg.sim, Some(SimConfig::demo()));
    }

    #[test]
    fn a_federation_table_is_read_and_a_bad_one_refused_with_its_field() {
        let cfg = HostConfig::from_toml_str(
            "[federation]\nnode = \"host-a\"\nconnect = [\"tcp/192.0.2.2:7447\"]\n",
        )
        .unwrap();
        let fed = cfg.federation.expect("federation");
        assert_eq!((fed.node.as_str(), fed.air.as_str()), ("host-a", "default"));
        let e = err("[federation]\nnode = \"host a\"\nlisten = [\"tcp/0.0.0.0:7447\"]\n");
        assert!(e.contains("federation.node \"host a\""), "{e}");
        let e = err("[federation]\nnode = \"a\"\n");
        assert!(e.contains("listen or connect"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_line() {
        let e = err("[host]\nsocket = \"/x\"\nsokcet_mode = 1\n");
        assert!(e.starts_with("line 3, column 1:"), "{e}");
        assert!(e.contains("sokcet_mode"), "{e}");
        assert!(err("[radios]\n").contains("radios"));
        assert!(err("[radio]\nkind = \"nl80211\"\nphyy = \"phy1\"\n").contains("phyy"));
        assert!(
            err("[sim]\n[[sim.aps]]\nssid = \"a\"\nchannel = 1\ncolour = 2\n").contains("colour")
        );
    }

    #[test]
    fn the_radio_is_simulated_unless_nl80211_names_a_card() {
        let cfg = HostConfig::from_toml_str("").unwrap();
        assert_eq!(cfg.radio.kind, RadioKind::Sim);
        assert_eq!(cfg.radio.prefix, "vw");
        let cfg =
            HostConfig::from_toml_str("[radio]\nkind = \"nl80211\"\nifname = \"wlan1\"\n").unwrap();
        assert_eq!(cfg.radio.kind, RadioKind::Nl80211);
        assert_eq!(cfg.radio.ifname.as_deref(), Some("wlan1"));
        assert!(err("[radio]\nkind = \"wext\"\n").contains("wext"));
        assert_eq!(
            err("[radio]\nkind = \"nl80211\"\nphy = \"phy1\"\nifname = \"wlan1\"\n"),
            "radio.ifname: give either radio.phy or radio.ifname, not both"
        );
        assert!(err("[radio]\nprefix = \"vw0\"\n").starts_with("radio.prefix: must be"));
        assert!(err("[radio]\nprefix = \"\"\n").starts_with("radio.prefix: must be"));
    }

    #[test]
    fn a_namespace_s_data_stays_in_the_kernel_unless_the_socket_path_is_asked() {
        let cfg =
            HostConfig::from_toml_str("[radio]\nkind = \"nl80211\"\nifname = \"wlan1\"\n").unwrap();
        assert_eq!(cfg.radio.data_path, DataPathKind::Kernel);
        let cfg = HostConfig::from_toml_str(
            "[radio]\nkind = \"nl80211\"\nifname = \"wlan1\"\ndata_path = \"socket\"\n",
        )
        .unwrap();
        assert_eq!(cfg.radio.data_path, DataPathKind::Socket);
        assert!(err("[radio]\ndata_path = \"fast\"\n").contains("fast"));
    }

    #[test]
    fn max_interfaces_is_unset_by_default_and_bounded() {
        assert_eq!(
            HostConfig::from_toml_str("").unwrap().radio.max_interfaces,
            None
        );
        let cfg = HostConfig::from_toml_str(
            "[radio]\nkind = \"nl80211\"\nifname = \"wlan1\"\nmax_interfaces = 1\n",
        )
        .unwrap();
        assert_eq!(cfg.radio.max_interfaces, Some(1));
        assert_eq!(
            err("[radio]\nmax_interfaces = 0\n"),
            "radio.max_interfaces: must be between 1 and 64, got 0"
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(
            err("[mux]\nmax_channels = 0\n"),
            "mux.max_channels: must be between 1 and 16, got 0"
        );
        assert_eq!(
            err("[mux]\nlink_queue = 0\n"),
            "mux.link_queue: must be between 1 and 65536, got 0"
        );
        assert_eq!(
            err("[host]\nsocket_mode = 0o1777\n"),
            "host.socket_mode: must be permission bits between 0o000 and 0o777, got 0o1777"
        );
        assert_eq!(
            err("[host]\nsocket = \"\"\n"),
            "host.socket: must be a non-empty path"
        );
        assert!(
            err("[host]\nlog = \"info,=[\"\n").starts_with("host.log: is not a valid log filter")
        );
        assert!(err("[host]\nuplink_tap = \"a b\"\n").starts_with("host.uplink_tap: invalid"));
        assert_eq!(
            err("[host]\nstate_dir = \"\"\n"),
            "host.state_dir: must be a non-empty path"
        );
    }

    #[test]
    fn sim_errors_are_prefixed_and_never_quote_the_passphrase() {
        let e = err("[sim]\n[[sim.aps]]\nssid = \"a\"\nchannel = 1\n[[sim.aps]]\nssid = \"b\"\nchannel = 6\npassphrase = \"short\"\n");
        assert_eq!(
            e,
            "sim.aps[1].passphrase: must be 8 to 63 characters, got 5"
        );
        assert!(!e.contains("short"));
        assert_eq!(
            err("[sim]\n[[sim.aps]]\nssid = \"a\"\nchannel = 15\n"),
            "sim.aps[0].channel: 15 is not a valid channel"
        );
    }

    #[test]
    fn wrong_types_are_syntax_errors_naming_the_key() {
        let e = err("[mux]\nmax_stations = \"many\"\n");
        assert!(e.starts_with("line 2"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn default_socket_depends_on_the_user() {
        assert_eq!(
            default_socket(0, Some("/run/user/0".into())),
            PathBuf::from("/run/vwifi/host.sock")
        );
        assert_eq!(
            default_socket(1000, Some("/run/user/1000".into())),
            PathBuf::from("/run/user/1000/vwifi/host.sock")
        );
        assert_eq!(
            default_socket(1000, Some("relative".into())),
            PathBuf::from("/tmp/vwifi-1000/host.sock")
        );
        assert_eq!(default_state_dir(0), Some(PathBuf::from("/var/lib/vwifi")));
        assert_eq!(default_state_dir(1000), None);
        assert_eq!(
            control_socket(std::path::Path::new("/a/host.sock")),
            PathBuf::from("/a/host.sock.ctl")
        );
    }
}
