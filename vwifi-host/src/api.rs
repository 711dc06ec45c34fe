//! The control socket's messages: the JSON requests and responses, and the status snapshot
//! they carry ([`crate::control`] documents the protocol). Plain data, shared by the daemon's
//! control server, the driver that fills the snapshot, the ports that report an attachment, and
//! the CLI client.

use serde::{Deserialize, Serialize};

/// The version of the snapshot's layout.
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

/// The longest request line the daemon reads, in bytes.
pub(crate) const MAX_REQUEST_LEN: usize = 4096;

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    /// The state of the radio and of every guest.
    Status,
    /// Serve a station on a TAP `ifname` (default `wlan0`) created inside the network
    /// namespace `netns` (see [`crate::ports::netns`]).
    ///
    /// The namespace is given by exactly one of `netns`, `netns_path` and `pid`
    /// ([`crate::ports::nsfile`]); the reply's `netns` is its key: the name, or the path
    /// (`/proc/PID/ns/net` for a PID).
    Attach {
        /// The namespace, as `ip netns` names it.
        #[serde(default)]
        netns: Option<String>,
        /// The namespace's file: `/proc/PID/ns/net` or a bind mount of one.
        #[serde(default)]
        netns_path: Option<String>,
        /// A process whose namespace it is.
        #[serde(default)]
        pid: Option<u32>,
        /// The interface to create there.
        #[serde(default)]
        ifname: Option<String>,
        /// A radio of its own instead of a TAP ([`crate::ports::native`]).
        #[serde(default)]
        native: bool,
        /// Where the native radio stands (metres); default: where `[hwsim]` puts radios.
        #[serde(default)]
        position: Option<[f64; 2]>,
    },
    /// Remove the station of an attached namespace and its TAP.
    Detach {
        /// The namespace, as attached (a name, or a path).
        #[serde(default)]
        netns: Option<String>,
        /// The namespace's file, as attached.
        #[serde(default)]
        netns_path: Option<String>,
        /// The process whose namespace was attached by PID.
        #[serde(default)]
        pid: Option<u32>,
    },
    /// Connect the station of an attached namespace to a network, and answer once it is
    /// associated ([`Response::Joined`]) or failed ([`Response::JoinFailed`]). The namespace
    /// is named as for [`Request::Attach`].
    Join {
        /// The namespace, as `ip netns` names it.
        #[serde(default)]
        netns: Option<String>,
        /// The namespace's file.
        #[serde(default)]
        netns_path: Option<String>,
        /// A process whose namespace it is.
        #[serde(default)]
        pid: Option<u32>,
        /// The network's name (UTF-8).
        ssid: String,
        /// Only this access point (`aa:bb:cc:dd:ee:ff`).
        #[serde(default)]
        bssid: Option<String>,
        /// The WPA2 passphrase.
        #[serde(default)]
        passphrase: Option<Secret>,
        /// The WPA2 PSK, 64 hex digits.
        #[serde(default)]
        psk: Option<Secret>,
    },
    /// Serve a VM's NIC as a vhost-user-net device on the unix socket `socket` (see
    /// [`crate::ports::vhost_user`]); the guest is named `vm:NAME` (default: the socket's file stem).
    VhostUser {
        /// The socket the VMM connects to.
        socket: String,
        /// The VM's name.
        #[serde(default)]
        name: Option<String>,
    },
    /// Stream what is on the simulated air: the daemon answers [`Response::Capturing`] on one
    /// line, then writes a pcapng stream on the same connection until the client closes it
    /// (see [`crate::lab::capture`]).
    Capture {
        /// Only this channel's frames (default: every channel).
        #[serde(default)]
        channel: Option<u8>,
        /// The band of `channel`: `"2.4"`, `"5"` or `"6"` (default: 2.4 or 5 GHz, which the
        /// number tells apart; 6 GHz channel numbers repeat theirs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        band: Option<String>,
    },
    /// Every node on the simulated air ([`Response::Nodes`]).
    SimNodes,
    /// Move a node to (`x`, `y`), or send it along `path` at `speed_mps` ([`Response::Node`]).
    SimMove {
        /// The node: a name from `sim_nodes` (`ap1`, `host`, `radio0`), a MAC address, or an
        /// SSID only one AP has.
        node: String,
        /// Where to, in metres (with `y`; not with `path`).
        #[serde(default)]
        x: Option<f64>,
        /// Where to, in metres (with `x`).
        #[serde(default)]
        y: Option<f64>,
        /// Waypoints `[[x, y], ...]` to follow from where it is, in order.
        #[serde(default)]
        path: Option<Vec<[f64; 2]>>,
        /// The speed along `path`, metres per second.
        #[serde(default)]
        speed_mps: Option<f64>,
    },
    /// Set an extra loss probability (0 to 1, 0 clears it) between two nodes ([`Response::Link`]).
    SimLink {
        /// One node.
        a: String,
        /// The other.
        b: String,
        /// The probability that a frame between them is lost, on top of the rest.
        loss: f64,
    },
    /// Add, remove, stop or start a simulated AP ([`Response::Node`], or [`Response::Removed`]).
    SimAp(SimApRequest),
}

/// What `sim_ap` does: `{"request":"sim_ap","action":"stop","node":"ap1"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum SimApRequest {
    /// A new AP on the air, beaconing at once.
    Add {
        /// Its network name.
        ssid: String,
        /// Its channel.
        channel: u8,
        /// The band of `channel` (`"6"` for a 6 GHz AP, which needs `standard = "ax"`), as
        /// in `[[sim.aps]]`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        band: Option<String>,
        /// Its standard (`"g"`, `"n"`, `"ac"` or `"ax"`), as in `[[sim.aps]]` (default `g`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        standard: Option<String>,
        /// Where, in metres.
        #[serde(default)]
        x: f64,
        /// Where, in metres.
        #[serde(default)]
        y: f64,
        /// Its BSSID (default: derived from its index, as for `[[sim.aps]]`).
        #[serde(default)]
        bssid: Option<String>,
        /// A WPA2 passphrase (default: an open network).
        #[serde(default)]
        passphrase: Option<Secret>,
    },
    /// Take an AP off the air for good.
    Remove {
        /// The AP.
        node: String,
    },
    /// Silence an AP: no beacons, no answers; its stations lose it.
    Stop {
        /// The AP.
        node: String,
    },
    /// Put a stopped AP back on the air, fresh (no station associated).
    Start {
        /// The AP.
        node: String,
    },
}

/// One node on the simulated air.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct NodeSnapshot {
    /// Its name (`ap1`..., `host`, `radio0`...).
    pub(crate) name: String,
    /// `ap`, `host` (the radio of every guest's station) or `kernel` (a hwsim radio).
    pub(crate) kind: String,
    /// Its address (an AP's BSSID; the host radio has one per station: `stations`).
    pub(crate) mac: String,
    /// Its network name (APs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ssid: Option<String>,
    /// Where it is, metres.
    pub(crate) x: f64,
    /// Where it is, metres.
    pub(crate) y: f64,
    /// Its channel.
    pub(crate) channel: u8,
    /// Its channel's centre frequency, MHz (which tells a 6 GHz channel from the 2.4 and 5 GHz
    /// ones of the same number); 0 if unknown.
    #[serde(default)]
    pub(crate) frequency_mhz: u16,
    /// Whether it is on the air (a stopped AP is not).
    pub(crate) on_air: bool,
    /// The speed it moves at along its path, m/s, while it moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) speed_mps: Option<f64>,
    /// The waypoints left of its path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) path: Vec<[f64; 2]>,
    /// The stations it carries (the host radio: every guest's), by MAC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) stations: Vec<String>,
    /// Links with an extra loss: `(other node, probability)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) link_loss: Vec<(String, f64)>,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Response {
    /// The state asked for.
    Status(Snapshot),
    /// A namespace was attached.
    Attached(Attachment),
    /// A namespace got a radio of its own.
    NativeAttached(NativeAttachment),
    /// A vhost-user port is listening for its VM.
    VhostUser(VhostUserAttachment),
    /// A namespace's station joined a network.
    Joined {
        /// The namespace.
        netns: String,
        /// The access point.
        bssid: String,
        /// Its channel.
        channel: u8,
    },
    /// A namespace's station could not join: the cause as the guest protocol codes it
    /// (`ConnectFailure::to_code`), for the client to explain.
    JoinFailed {
        /// The namespace.
        netns: String,
        /// The cause code.
        code: u8,
        /// Its detail (a status code, or 0).
        detail: u16,
    },
    /// A namespace was detached.
    Detached {
        /// The namespace.
        netns: String,
    },
    /// A capture starts: the pcapng stream follows this line.
    Capturing {
        /// The channel captured, or every channel.
        channel: Option<u8>,
        /// Its band, if one was named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        band: Option<String>,
    },
    /// The nodes on the simulated air.
    Nodes(Vec<NodeSnapshot>),
    /// A node, as a `sim_move` or `sim_ap` left it.
    Node(NodeSnapshot),
    /// The extra loss now set between two nodes.
    Link {
        /// One node's name.
        a: String,
        /// The other's.
        b: String,
        /// The probability.
        loss: f64,
    },
    /// An AP was taken off the air for good.
    Removed {
        /// Its name.
        node: String,
    },
    /// The request could not be served.
    Error {
        /// Why.
        message: String,
    },
}

/// A secret in a request (a passphrase, a PSK): never printed, wiped when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(pub(crate) String);

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// A namespace served by the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attachment {
    /// The namespace.
    pub(crate) netns: String,
    /// The TAP inside it.
    pub(crate) ifname: String,
    /// The station's (and the TAP's) address.
    pub(crate) mac: String,
    /// The guest's number.
    pub(crate) guest: u32,
}

/// A namespace's own radio (`attach --native`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NativeAttachment {
    /// The namespace.
    pub(crate) netns: String,
    /// The radio's interface inside it.
    pub(crate) ifname: String,
    /// The radio's wiphy name.
    pub(crate) wiphy: String,
    /// The radio's hwsim address (how the medium names it).
    pub(crate) radio: String,
    /// The interface's address.
    pub(crate) mac: String,
    /// Where the radio stands, metres.
    pub(crate) position: [f64; 2],
}

/// A VM's vhost-user port served by the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VhostUserAttachment {
    /// The socket the VMM connects to.
    pub(crate) socket: String,
    /// The VM's name (the guest is `vm:NAME`).
    pub(crate) name: String,
    /// The station's address: give it to the VMM (`-device virtio-net-pci,mac=...`).
    pub(crate) mac: String,
    /// The guest's number.
    pub(crate) guest: u32,
}

/// The state of the daemon at one moment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub(crate) version: u32,
    /// Milliseconds since the daemon started.
    pub(crate) uptime_ms: u64,
    /// The radio.
    pub(crate) radio: RadioSnapshot,
    /// The simulated access points (empty on a real radio).
    pub(crate) aps: Vec<ApSnapshot>,
    /// Every guest connected.
    pub(crate) guests: Vec<GuestSnapshot>,
    /// Why the last change to the state directory was not saved (unwritable, full, deleted),
    /// until a later save succeeds; the daemon serves on from memory meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) state_error: Option<String>,
    /// Why the uplink TAP is down (deleted under the daemon), while the daemon recreates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) uplink_error: Option<String>,
    /// The federated air, if `[federation]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) federation: Option<Box<FederationSnapshot>>,
}

/// The federated air as this daemon sees it ([`crate::federation`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct FederationSnapshot {
    /// This daemon's node name.
    pub(crate) node: String,
    /// The air's name.
    pub(crate) air: String,
    /// Every daemon heard since start.
    pub(crate) peers: Vec<PeerSnapshot>,
    /// Frames published.
    pub(crate) frames_out: u64,
    /// Remote frames taken into the local medium.
    pub(crate) frames_in: u64,
    /// Receptions of remote frames by local nodes.
    pub(crate) delivered: u64,
    /// Local unicast frames to remote nodes acknowledged on their behalf.
    pub(crate) remote_acked: u64,
    /// Messages dropped or refused, by reason.
    pub(crate) dropped: Vec<(String, u64)>,
}

/// Another daemon of the air.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct PeerSnapshot {
    /// Its node name.
    pub(crate) name: String,
    /// Heard within the peer timeout.
    pub(crate) present: bool,
    /// Half the last ping's round trip, in microseconds.
    pub(crate) latency_us: Option<u64>,
    /// Its nodes (transmitter addresses) heard.
    pub(crate) nodes: u64,
    /// Frames received from it.
    pub(crate) frames_in: u64,
    /// Frames missing from its sequence (lost between the daemons).
    pub(crate) seq_gaps: u64,
}

/// The radio's state and counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct RadioSnapshot {
    /// `sim` for the simulated radio.
    pub(crate) kind: String,
    /// The channel it is tuned to.
    pub(crate) channel: Option<u8>,
    /// Frames received.
    pub(crate) rx_frames: u64,
    /// Frames delivered to a station.
    pub(crate) rx_routed: u64,
    /// Frames transmitted.
    pub(crate) tx_frames: u64,
    /// Channel changes.
    pub(crate) tunes: u64,
    /// Received frames for no station, by reason (`unknown_receiver`, `foreign_bss`, ...).
    pub(crate) rx_dropped: Vec<(String, u64)>,
    /// Frames routed to a station not listening on that channel.
    pub(crate) rx_not_listening: u64,
    /// Frames produced for a channel the radio was not on.
    pub(crate) tx_off_channel: u64,
    /// Uplink bridge: unicast frames forwarded between APs.
    pub(crate) bridge_forwarded: u64,
    /// Uplink bridge: group frames flooded to the other APs.
    pub(crate) bridge_flooded: u64,
    /// Uplink bridge: frames for an address no AP knows.
    pub(crate) bridge_no_route: u64,
    /// A-MSDUs the stations and the simulated APs built and sent, and the MSDUs in them.
    #[serde(default)]
    pub(crate) amsdu_tx: (u64, u64),
    /// A-MSDUs they received and accepted, and the MSDUs taken from them.
    #[serde(default)]
    pub(crate) amsdu_rx: (u64, u64),
    /// A-MSDU subframes they dropped (a DA or SA the link does not allow, no valid MSDU).
    #[serde(default)]
    pub(crate) amsdu_refused: u64,
    /// What the radio says about itself (a real card: phy, bands, ciphers, combinations).
    #[serde(default)]
    pub(crate) details: Vec<(String, String)>,
}

/// A simulated access point.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct ApSnapshot {
    /// Its network name, printable.
    pub(crate) ssid: String,
    /// Its BSSID.
    pub(crate) bssid: String,
    /// Its channel.
    pub(crate) channel: u8,
    /// Whether it is WPA2 or WPA3.
    pub(crate) protected: bool,
    /// Its security as the configuration names it: `open`, `wpa2`, `wpa3` or `wpa2-wpa3`
    /// (empty from a daemon before this field).
    #[serde(default)]
    pub(crate) security: String,
    /// Stations associated.
    pub(crate) stations: u64,
    /// SAE exchanges completed (WPA3).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) sae_completed: u64,
    /// Stopped by `sim ap stop` (off the air until started).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub(crate) stopped: bool,
}

/// One guest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct GuestSnapshot {
    /// The guest's number.
    pub(crate) id: u32,
    /// Its name (from its connection).
    pub(crate) name: String,
    /// An attached namespace's interface, by its name now (the container may rename it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ifname: Option<String>,
    /// The agent it said it is in its Hello, if it said.
    pub(crate) agent: Option<String>,
    /// Who connected, as the kernel says (`uid 1000 gid 1000 pid 42`).
    pub(crate) peer: String,
    /// Its station's address.
    pub(crate) mac: String,
    /// Its station's state: `idle`, `scanning`, `authenticating`, `associating`, `handshaking`,
    /// `connected`, `failed`.
    pub(crate) state: String,
    /// The network joined or being joined, printable.
    pub(crate) ssid: Option<String>,
    /// The AP joined or being joined.
    pub(crate) bssid: Option<String>,
    /// The channel.
    pub(crate) channel: Option<u8>,
    /// The AP's signal, dBm.
    pub(crate) signal_dbm: Option<i8>,
    /// The transmit rate, kbit/s.
    pub(crate) rate_kbps: Option<u32>,
    /// The link's standard, width, streams, MCS and rate (`802.11ax 80 MHz 2x2 MCS 11
    /// 1201.0 Mbit/s`), when the radio reports them.
    #[serde(default)]
    pub(crate) phy: Option<String>,
    /// Frames delivered to the guest.
    pub(crate) rx_packets: u64,
    /// Bytes delivered to the guest.
    pub(crate) rx_bytes: u64,
    /// Frames sent by the guest.
    pub(crate) tx_packets: u64,
    /// Bytes sent by the guest.
    pub(crate) tx_bytes: u64,
    /// What was dropped of this guest's, by reason.
    pub(crate) dropped: Vec<(String, u64)>,
}

impl GuestSnapshot {
    /// Everything dropped of this guest's.
    pub(crate) fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

/// A request line that is not a request.
#[derive(Debug, thiserror::Error)]
#[error("bad request: {0}")]
pub(crate) struct BadRequest(#[from] serde_json::Error);

/// The request of one request line.
pub(crate) fn parse_request(line: &str) -> Result<Request, BadRequest> {
    Ok(serde_json::from_str(line.trim())?)
}

/// For `skip_serializing_if`: a zero count is left out.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
