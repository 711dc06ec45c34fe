//! The messages of the guest protocol and the values they carry.

use core::fmt;
use core::ops::{BitAnd, BitOr};

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::crypto::{Passphrase, Psk};

use super::ProtoError;

/// The longest SSID, in bytes (IEEE 802.11-2020 9.4.2.2).
pub const MAX_SSID_LEN: usize = 32;
/// The longest agent name a [`Message::Hello`] may carry, in bytes of UTF-8.
pub const MAX_AGENT_NAME_LEN: usize = 64;
/// The longest text a [`Message::Error`] may carry, in bytes of UTF-8.
pub const MAX_ERROR_TEXT_LEN: usize = 255;

/// The identifier that a request carries and its reply echoes, so that a client with several
/// requests in flight can match replies to them. The requester picks it; the host never
/// interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub u32);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A set of protocol features, exchanged in [`Message::Hello`] and [`Message::HelloAck`].
///
/// Bits this version does not name are kept, so a newer peer's set survives a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// No capability.
    pub const EMPTY: Self = Self(0);
    /// The peer scans and reports [`Message::ScanResults`].
    pub const SCAN: Self = Self(1 << 0);
    /// The peer joins open networks.
    pub const OPEN: Self = Self(1 << 1);
    /// The peer joins WPA2-PSK networks.
    pub const WPA2_PSK: Self = Self(1 << 2);
    /// The peer joins WPA3-SAE networks.
    pub const WPA3_SAE: Self = Self(1 << 3);
    /// The peer sends and receives [`Message::Event`]s.
    pub const EVENTS: Self = Self(1 << 4);
    /// The link carries [`Message::Data`] frames (stream transports; in-band links carry data as
    /// ordinary Ethernet frames instead).
    pub const DATA: Self = Self(1 << 5);
    /// The peer understands [`Event::Roamed`] (a guest announces it; the host sends roams as
    /// [`Event::Connected`] to guests that do not).
    pub const ROAM_EVENTS: Self = Self(1 << 6);

    const NAMES: [(Self, &'static str); 7] = [
        (Self::SCAN, "SCAN"),
        (Self::OPEN, "OPEN"),
        (Self::WPA2_PSK, "WPA2_PSK"),
        (Self::WPA3_SAE, "WPA3_SAE"),
        (Self::EVENTS, "EVENTS"),
        (Self::DATA, "DATA"),
        (Self::ROAM_EVENTS, "ROAM_EVENTS"),
    ];

    /// The set with exactly these bits, named or not.
    pub const fn from_bits_retain(bits: u32) -> Self {
        Self(bits)
    }

    /// The bits of the set.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every capability of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in both sets: what two peers can use together.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The capabilities in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitAnd for Capabilities {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.intersection(rhs)
    }
}

impl fmt::Debug for Capabilities {
    /// Prints the named bits joined by `|`, then any unknown bits in hex: `SCAN | 0x100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { " | " };
            first = false;
            f.write_str(s)
        };
        f.write_str("Capabilities(")?;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                sep(f)?;
                f.write_str(name)?;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            sep(f)?;
            write!(f, "{rest:#x}")?;
        }
        if self.0 == 0 {
            f.write_str("EMPTY")?;
        }
        f.write_str(")")
    }
}

/// A service set identifier: 0 to 32 arbitrary bytes, usually but not necessarily UTF-8.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ssid {
    len: u8,
    bytes: [u8; MAX_SSID_LEN],
}

impl Ssid {
    /// An SSID of these bytes, or [`ProtoError::FieldTooLong`] if there are more than 32.
    pub fn new(bytes: &[u8]) -> Result<Self, ProtoError> {
        let mut out = [0u8; MAX_SSID_LEN];
        let len = bytes.len();
        let (Some(dst), Ok(len8)) = (out.get_mut(..len), u8::try_from(len)) else {
            return Err(ProtoError::FieldTooLong {
                what: "SSID",
                len,
                max: MAX_SSID_LEN,
            });
        };
        dst.copy_from_slice(bytes);
        Ok(Self {
            len: len8,
            bytes: out,
        })
    }

    /// The SSID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The SSID's length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the SSID is empty (the wildcard SSID of a probe request).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl TryFrom<&str> for Ssid {
    type Error = ProtoError;
    fn try_from(s: &str) -> Result<Self, ProtoError> {
        Self::new(s.as_bytes())
    }
}

impl fmt::Display for Ssid {
    /// The SSID as text: UTF-8 as is, any other byte and any control character escaped as
    /// `\xNN` (as `wpa_supplicant` prints SSIDs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || c == '\\' {
                    if let Ok(b) = u8::try_from(u32::from(c)) {
                        write!(f, "\\x{b:02x}")?;
                    } else {
                        write!(f, "{}", c.escape_unicode())?;
                    }
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Ssid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ssid(\"{self}\")")
    }
}

/// How a scan looks for networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ScanMode {
    /// Send probe requests and listen for probe responses and beacons.
    #[default]
    Active,
    /// Only listen for beacons (for channels where probing is not allowed).
    Passive,
}

/// The security a BSS advertises.
///
/// Codes this version does not name are kept in [`Security::Other`]; decoding never puts a
/// named code there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// No encryption.
    Open,
    /// WPA2 personal: RSN with the PSK AKM and CCMP.
    Wpa2Psk,
    /// WPA3 personal: RSN with the SAE AKM.
    Wpa3Sae,
    /// WPA2/WPA3 transition: RSN with both the PSK and the SAE AKMs (code 5).
    Wpa2Wpa3,
    /// Another code (WEP, enterprise, a newer mode), kept as received.
    Other(u8),
}

impl Security {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Wpa2Psk => 1,
            Self::Wpa3Sae => 2,
            Self::Wpa2Wpa3 => 5,
            Self::Other(code) => code,
        }
    }

    /// The security of a wire code.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Open,
            1 => Self::Wpa2Psk,
            2 => Self::Wpa3Sae,
            5 => Self::Wpa2Wpa3,
            other => Self::Other(other),
        }
    }
}

/// One BSS (access point) found by a scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BssInfo {
    /// The network name.
    pub ssid: Ssid,
    /// The access point's address.
    pub bssid: MacAddr,
    /// The channel number.
    pub channel: u8,
    /// The channel's centre frequency in MHz.
    pub frequency_mhz: u16,
    /// The received signal strength in dBm.
    pub signal_dbm: i8,
    /// What the BSS advertises.
    pub security: Security,
    /// How long ago the last beacon or probe response was received, in milliseconds.
    pub beacon_age_ms: u32,
    /// The network's standard, width, streams and top rate, as its elements advertise them.
    pub phy: Option<super::PhyInfo>,
}

/// What a guest gives to join a network. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An open network: no secret.
    None,
    /// A WPA2/WPA3 passphrase; the host derives the PSK.
    Passphrase(Passphrase),
    /// A WPA2 pre-shared key given directly (as `wpa_passphrase` prints it).
    Psk(Psk),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Passphrase(_) => "Passphrase(<redacted>)",
            Self::Psk(_) => "Psk(<redacted>)",
        })
    }
}

/// Where a virtual station is in its life cycle.
///
/// Codes this version does not name are kept in [`StationState::Other`]; decoding never puts a
/// named code there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StationState {
    /// Not connected and not trying to.
    Idle,
    /// Scanning.
    Scanning,
    /// Authenticating with an access point (802.11 authentication or SAE).
    Authenticating,
    /// Associating with an access point.
    Associating,
    /// Running the 4-way handshake.
    Handshaking,
    /// Connected: data flows.
    Connected,
    /// The last connection attempt failed; see the [`Event::ConnectFailed`] that said why.
    Failed,
    /// Another code, kept as received.
    Other(u8),
}

impl StationState {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Idle => 0,
            Self::Scanning => 1,
            Self::Authenticating => 2,
            Self::Associating => 3,
            Self::Handshaking => 4,
            Self::Connected => 5,
            Self::Failed => 6,
            Self::Other(code) => code,
        }
    }

    /// The state of a wire code.
    pub const fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Idle,
            1 => Self::Scanning,
            2 => Self::Authenticating,
            3 => Self::Associating,
            4 => Self::Handshaking,
            5 => Self::Connected,
            6 => Self::Failed,
            other => Self::Other(other),
        }
    }
}

/// Traffic counters of one virtual station, since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Frames delivered to the guest.
    pub rx_packets: u64,
    /// Bytes delivered to the guest.
    pub rx_bytes: u64,
    /// Frames sent by the guest onto the air.
    pub tx_packets: u64,
    /// Bytes sent by the guest onto the air.
    pub tx_bytes: u64,
    /// Received frames dropped (bad, undecryptable, queue full).
    pub rx_dropped: u64,
    /// Frames from the guest that were dropped (not connected, queue full).
    pub tx_dropped: u64,
}

/// The state of a guest's virtual station, the reply to [`Message::StatusRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationStatus {
    /// The life-cycle state.
    pub state: StationState,
    /// The station's own MAC address.
    pub mac: MacAddr,
    /// The network joined or being joined.
    pub ssid: Option<Ssid>,
    /// The access point joined or being joined.
    pub bssid: Option<MacAddr>,
    /// The operating channel.
    pub channel: Option<u8>,
    /// The operating channel's centre frequency in MHz, if the radio reports it: it tells a
    /// 6 GHz channel from a 2.4 GHz one of the same number.
    pub frequency_mhz: Option<u16>,
    /// The signal of the access point in dBm.
    pub signal_dbm: Option<i8>,
    /// The link's rate in kbit/s: that of the last unicast data frame from the access point
    /// (the rate the link runs at), or of its beacons until one arrives.
    pub tx_rate_kbps: Option<u32>,
    /// The link's standard, width, streams and MCS at `tx_rate_kbps`, when connected.
    pub phy: Option<super::PhyInfo>,
    /// Traffic counters.
    pub counters: Counters,
}

/// The [`ConnectFailure::Other`] code of "radio busy: the card takes N station interfaces":
/// a real card has no room for another station interface and no guest's interface is on the
/// network asked for, so none can be shared. The detail is N.
pub const FAILURE_CODE_CARD_FULL: u8 = 21;

/// Why a connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// No BSS with the requested SSID (and BSSID, if given) was found.
    NetworkNotFound,
    /// The access point refused 802.11 authentication with this status code.
    AuthRejected {
        /// The 802.11 status code (IEEE 802.11-2020 9.4.1.9).
        status: u16,
    },
    /// The access point refused association with this status code.
    AssocRejected {
        /// The 802.11 status code (IEEE 802.11-2020 9.4.1.9).
        status: u16,
    },
    /// The 4-way handshake failed in a way that means the passphrase or PSK is wrong.
    WrongPassphrase,
    /// The access point stopped answering during authentication or association.
    ApUnreachable,
    /// The 4-way handshake did not complete in time.
    HandshakeTimeout,
    /// A cause this version does not name, kept as received.
    Other {
        /// The cause code.
        code: u8,
        /// The cause's 16-bit detail field.
        detail: u16,
    },
}

impl ConnectFailure {
    /// The wire form: cause code and detail (the status code, or 0).
    pub const fn to_code(self) -> (u8, u16) {
        match self {
            Self::NetworkNotFound => (1, 0),
            Self::AuthRejected { status } => (2, status),
            Self::AssocRejected { status } => (3, status),
            Self::WrongPassphrase => (4, 0),
            Self::ApUnreachable => (5, 0),
            Self::HandshakeTimeout => (6, 0),
            Self::Other { code, detail } => (code, detail),
        }
    }

    /// The cause of a wire form. A named cause without a status must have detail 0; anything
    /// else is [`ProtoError::BadField`].
    pub fn from_code(code: u8, detail: u16) -> Result<Self, ProtoError> {
        let plain = |cause: Self| {
            if detail == 0 {
                Ok(cause)
            } else {
                Err(ProtoError::BadField {
                    what: "connect failure detail (must be 0 for this cause)",
                    value: u64::from(detail),
                })
            }
        };
        match code {
            1 => plain(Self::NetworkNotFound),
            2 => Ok(Self::AuthRejected { status: detail }),
            3 => Ok(Self::AssocRejected { status: detail }),
            4 => plain(Self::WrongPassphrase),
            5 => plain(Self::ApUnreachable),
            6 => plain(Self::HandshakeTimeout),
            code => Ok(Self::Other { code, detail }),
        }
    }
}

/// Something that happened to a guest's station, sent by the host unprompted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    /// The station joined a network; data flows.
    Connected {
        /// The network joined.
        ssid: Ssid,
        /// The access point joined.
        bssid: MacAddr,
        /// Its channel.
        channel: u8,
    },
    /// The station left its network.
    Disconnected {
        /// The 802.11 reason code (IEEE 802.11-2020 9.4.1.7).
        reason: u16,
        /// Whether the station left (at the guest's request, or on beacon loss) rather than the
        /// access point sending a deauthentication or disassociation.
        locally_generated: bool,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// Why.
        reason: ConnectFailure,
    },
    /// The signal of the joined access point changed noticeably.
    SignalChanged {
        /// The new signal strength in dBm.
        dbm: i8,
    },
    /// The station moved to another access point of its network (the same SSID and
    /// security) with a fresh handshake; data flows again. Sent only to guests that announce
    /// [`Capabilities::ROAM_EVENTS`] in their `Hello`; others get an [`Event::Connected`] with
    /// the new access point instead.
    Roamed {
        /// The network.
        ssid: Ssid,
        /// The access point joined.
        bssid: MacAddr,
        /// The access point left.
        old_bssid: MacAddr,
        /// The new access point's channel.
        channel: u8,
        /// How long the roam took, from the decision to move (or the old AP's beacon loss) to
        /// the new keys in place, in milliseconds.
        roam_ms: u32,
    },
}

impl Event {
    /// The event as a guest without [`Capabilities::ROAM_EVENTS`] understands it: a roam is
    /// told as a connection to the new access point; other events are unchanged.
    pub fn for_peer(self, peer: Capabilities) -> Self {
        match self {
            Self::Roamed {
                ssid,
                bssid,
                channel,
                ..
            } if !peer.contains(Capabilities::ROAM_EVENTS) => Self::Connected {
                ssid,
                bssid,
                channel,
            },
            other => other,
        }
    }
}

/// What went wrong with a request, in a [`Message::Error`].
///
/// Codes this version does not name are kept in [`ErrorCode::Other`]; decoding never puts a
/// named code there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The message could not be decoded.
    Malformed,
    /// The peer speaks a protocol version this side does not.
    UnsupportedVersion,
    /// The message type is unknown or not handled by this side.
    UnsupportedMessage,
    /// A field holds a value the request does not allow (no SSID, an unusable credential).
    InvalidArgument,
    /// Another operation is in progress (a scan or a connection attempt).
    Busy,
    /// The request needs a connection and the station has none.
    NotConnected,
    /// The guest may not do this (its policy forbids the network, or it sent no `Hello`).
    NotPermitted,
    /// The radio is gone or cannot serve another station.
    RadioUnavailable,
    /// The host failed; not the guest's fault.
    Internal,
    /// Another code, kept as received.
    Other(u16),
}

impl ErrorCode {
    /// The wire code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Malformed => 1,
            Self::UnsupportedVersion => 2,
            Self::UnsupportedMessage => 3,
            Self::InvalidArgument => 4,
            Self::Busy => 5,
            Self::NotConnected => 6,
            Self::NotPermitted => 7,
            Self::RadioUnavailable => 8,
            Self::Internal => 9,
            Self::Other(code) => code,
        }
    }

    /// The error code of a wire code.
    pub const fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Malformed,
            2 => Self::UnsupportedVersion,
            3 => Self::UnsupportedMessage,
            4 => Self::InvalidArgument,
            5 => Self::Busy,
            6 => Self::NotConnected,
            7 => Self::NotPermitted,
            8 => Self::RadioUnavailable,
            9 => Self::Internal,
            other => Self::Other(other),
        }
    }
}

impl From<&ProtoError> for ErrorCode {
    /// The code to answer a message that failed to decode with.
    fn from(e: &ProtoError) -> Self {
        match e {
            ProtoError::UnsupportedVersion { .. } => Self::UnsupportedVersion,
            ProtoError::UnknownMessageType(_) => Self::UnsupportedMessage,
            ProtoError::BadPassphrase(_) => Self::InvalidArgument,
            _ => Self::Malformed,
        }
    }
}

/// The type code of a message, the third byte of its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// [`Message::Hello`].
    Hello = 0x01,
    /// [`Message::HelloAck`].
    HelloAck = 0x02,
    /// [`Message::Ack`].
    Ack = 0x03,
    /// [`Message::Error`].
    Error = 0x04,
    /// [`Message::ScanRequest`].
    ScanRequest = 0x10,
    /// [`Message::ScanResults`].
    ScanResults = 0x11,
    /// [`Message::Connect`].
    Connect = 0x12,
    /// [`Message::Disconnect`].
    Disconnect = 0x13,
    /// [`Message::StatusRequest`].
    StatusRequest = 0x14,
    /// [`Message::Status`].
    Status = 0x15,
    /// [`Message::Event`].
    Event = 0x20,
    /// [`Message::Data`].
    Data = 0x30,
}

impl MessageType {
    /// Every message type.
    pub const ALL: [Self; 12] = [
        Self::Hello,
        Self::HelloAck,
        Self::Ack,
        Self::Error,
        Self::ScanRequest,
        Self::ScanResults,
        Self::Connect,
        Self::Disconnect,
        Self::StatusRequest,
        Self::Status,
        Self::Event,
        Self::Data,
    ];

    /// The message type of a code, if this version knows it.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name, as in [`Message`], for error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hello => "Hello",
            Self::HelloAck => "HelloAck",
            Self::Ack => "Ack",
            Self::Error => "Error",
            Self::ScanRequest => "ScanRequest",
            Self::ScanResults => "ScanResults",
            Self::Connect => "Connect",
            Self::Disconnect => "Disconnect",
            Self::StatusRequest => "StatusRequest",
            Self::Status => "Status",
            Self::Event => "Event",
            Self::Data => "Data",
        }
    }

    /// Whether a message of this type carries a request id: always for requests and replies,
    /// never for events and data, optionally for errors (see [`RequestIdRule`]).
    pub const fn request_id_rule(self) -> RequestIdRule {
        match self {
            Self::Event | Self::Data => RequestIdRule::Never,
            Self::Error => RequestIdRule::Optional,
            _ => RequestIdRule::Always,
        }
    }
}

/// Whether a message type carries a [`RequestId`] in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestIdRule {
    /// Requests and their replies.
    Always,
    /// An error answers a request when it has an id, and stands alone otherwise (a message so
    /// broken that its id could not be read).
    Optional,
    /// Unsolicited messages: events and data.
    Never,
}

/// A message of the guest protocol, in either direction.
///
/// The guest sends requests (`Hello`, `ScanRequest`, `Connect`, `Disconnect`,
/// `StatusRequest`); the host answers each with a reply carrying the same [`RequestId`]
/// (`HelloAck`, `ScanResults`, `Ack`, `Status`) or an `Error`. The host sends `Event`s
/// unprompted. `Data` goes both ways. A guest starts with `Hello`; the host picks the version in
/// `HelloAck`.
///
/// `Debug` never shows a passphrase or PSK, nor the contents of data frames (only their length).
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// Guest → host, first message: who the guest is and what it speaks.
    Hello {
        /// The request id.
        id: RequestId,
        /// The highest protocol version the guest speaks.
        version: u8,
        /// What the guest supports.
        capabilities: Capabilities,
        /// The agent's name and version, for logs (`vwifi-guest 0.1.0`); at most
        /// [`MAX_AGENT_NAME_LEN`] bytes of UTF-8.
        agent: String,
    },
    /// Host → guest, reply to `Hello`.
    HelloAck {
        /// The id of the `Hello`.
        id: RequestId,
        /// The version both sides use from now on: the lower of the two highest versions.
        version: u8,
        /// The capabilities both sides support.
        capabilities: Capabilities,
    },
    /// Host → guest: the request was accepted (`Connect`, `Disconnect`). The outcome of a
    /// `Connect` follows as an [`Event`].
    Ack {
        /// The id of the request.
        id: RequestId,
    },
    /// Either way: a request failed, or a message could not be handled.
    Error {
        /// The id of the failed request, if it could be read.
        id: Option<RequestId>,
        /// What went wrong.
        code: ErrorCode,
        /// A short explanation for humans, at most [`MAX_ERROR_TEXT_LEN`] bytes of UTF-8.
        text: Option<String>,
    },
    /// Guest → host: scan for networks.
    ScanRequest {
        /// The request id.
        id: RequestId,
        /// Only report this network (and, in an active scan, probe for it).
        ssid: Option<Ssid>,
        /// Active or passive.
        mode: ScanMode,
    },
    /// Host → guest, reply to `ScanRequest`.
    ScanResults {
        /// The id of the `ScanRequest`.
        id: RequestId,
        /// The BSSs found.
        bss: Vec<BssInfo>,
    },
    /// Guest → host: join a network.
    Connect {
        /// The request id.
        id: RequestId,
        /// The network.
        ssid: Ssid,
        /// Only this access point, or any of the network.
        bssid: Option<MacAddr>,
        /// The secret, if the network has one.
        credentials: Credentials,
    },
    /// Guest → host: leave the network (or stop trying to join one).
    Disconnect {
        /// The request id.
        id: RequestId,
    },
    /// Guest → host: report the station's status.
    StatusRequest {
        /// The request id.
        id: RequestId,
    },
    /// Host → guest, reply to `StatusRequest`.
    Status {
        /// The id of the `StatusRequest`.
        id: RequestId,
        /// The status (boxed: the largest variant, it would make every `Data` message as large).
        status: Box<StationStatus>,
    },
    /// Host → guest, unprompted.
    Event(Event),
    /// Either way: an 802.3 (Ethernet II) frame, destination address first, without FCS.
    Data(Bytes),
}

impl Message {
    /// The message's type code.
    pub const fn message_type(&self) -> MessageType {
        match self {
            Self::Hello { .. } => MessageType::Hello,
            Self::HelloAck { .. } => MessageType::HelloAck,
            Self::Ack { .. } => MessageType::Ack,
            Self::Error { .. } => MessageType::Error,
            Self::ScanRequest { .. } => MessageType::ScanRequest,
            Self::ScanResults { .. } => MessageType::ScanResults,
            Self::Connect { .. } => MessageType::Connect,
            Self::Disconnect { .. } => MessageType::Disconnect,
            Self::StatusRequest { .. } => MessageType::StatusRequest,
            Self::Status { .. } => MessageType::Status,
            Self::Event(_) => MessageType::Event,
            Self::Data(_) => MessageType::Data,
        }
    }

    /// The request id the message carries, if any.
    pub const fn request_id(&self) -> Option<RequestId> {
        match self {
            Self::Hello { id, .. }
            | Self::HelloAck { id, .. }
            | Self::Ack { id }
            | Self::ScanRequest { id, .. }
            | Self::ScanResults { id, .. }
            | Self::Connect { id, .. }
            | Self::Disconnect { id }
            | Self::StatusRequest { id }
            | Self::Status { id, .. } => Some(*id),
            Self::Error { id, .. } => *id,
            Self::Event(_) | Self::Data(_) => None,
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hello {
                id,
                version,
                capabilities,
                agent,
            } => f
                .debug_struct("Hello")
                .field("id", id)
                .field("version", version)
                .field("capabilities", capabilities)
                .field("agent", agent)
                .finish(),
            Self::HelloAck {
                id,
                version,
                capabilities,
            } => f
                .debug_struct("HelloAck")
                .field("id", id)
                .field("version", version)
                .field("capabilities", capabilities)
                .finish(),
            Self::Ack { id } => f.debug_struct("Ack").field("id", id).finish(),
            Self::Error { id, code, text } => f
                .debug_struct("Error")
                .field("id", id)
                .field("code", code)
                .field("text", text)
                .finish(),
            Self::ScanRequest { id, ssid, mode } => f
                .debug_struct("ScanRequest")
                .field("id", id)
                .field("ssid", ssid)
                .field("mode", mode)
                .finish(),
            Self::ScanResults { id, bss } => f
                .debug_struct("ScanResults")
                .field("id", id)
                .field("bss", bss)
                .finish(),
            Self::Connect {
                id,
                ssid,
                bssid,
                credentials,
            } => f
                .debug_struct("Connect")
                .field("id", id)
                .field("ssid", ssid)
                .field("bssid", bssid)
                // Credentials' own Debug redacts; spelled out here so that a change there cannot
                // leak a secret through this impl.
                .field("credentials", &RedactedCredentials(credentials))
                .finish(),
            Self::Disconnect { id } => f.debug_struct("Disconnect").field("id", id).finish(),
            Self::StatusRequest { id } => f.debug_struct("StatusRequest").field("id", id).finish(),
            Self::Status { id, status } => f
                .debug_struct("Status")
                .field("id", id)
                .field("status", status)
                .finish(),
            Self::Event(event) => f.debug_tuple("Event").field(event).finish(),
            Self::Data(frame) => f.debug_struct("Data").field("len", &frame.len()).finish(),
        }
    }
}

/// Prints only the kind of credentials.
struct RedactedCredentials<'a>(&'a Credentials);

impl fmt::Debug for RedactedCredentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Credentials::None => "None",
            Credentials::Passphrase(_) => "Passphrase(<redacted>)",
            Credentials::Psk(_) => "Psk(<redacted>)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssid_rejects_33_bytes_and_prints_escaped() {
        assert_eq!(
            Ssid::new(&[b'a'; 33]),
            Err(ProtoError::FieldTooLong {
                what: "SSID",
                len: 33,
                max: 32
            })
        );
        let ssid = Ssid::new(b"caf\xc3\xa9\x00\xff\\").unwrap();
        assert_eq!(ssid.len(), 8);
        assert_eq!(ssid.to_string(), "café\\x00\\xff\\x5c");
        assert_eq!(format!("{ssid:?}"), "Ssid(\"café\\x00\\xff\\x5c\")");
        assert!(Ssid::new(b"").unwrap().is_empty());
    }

    #[test]
    fn capabilities_keep_unknown_bits_and_print_names() {
        let caps =
            Capabilities::SCAN | Capabilities::WPA2_PSK | Capabilities::from_bits_retain(1 << 20);
        assert!(caps.contains(Capabilities::SCAN | Capabilities::WPA2_PSK));
        assert!(!caps.contains(Capabilities::DATA));
        assert_eq!(caps.bits(), 0b101 | (1 << 20));
        assert_eq!(
            format!("{caps:?}"),
            "Capabilities(SCAN | WPA2_PSK | 0x100000)"
        );
        assert_eq!(format!("{:?}", Capabilities::EMPTY), "Capabilities(EMPTY)");
        assert_eq!((caps & Capabilities::WPA2_PSK), Capabilities::WPA2_PSK);
    }

    #[test]
    fn codes_round_trip_and_keep_unknown_values() {
        for code in 0..=u8::MAX {
            assert_eq!(Security::from_code(code).code(), code);
            assert_eq!(StationState::from_code(code).code(), code);
        }
        for code in [0, 1, 9, 10, 0xffff] {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        assert_eq!(Security::from_code(7), Security::Other(7));
        assert_eq!(ErrorCode::from_code(300), ErrorCode::Other(300));
        for t in MessageType::ALL {
            assert_eq!(MessageType::from_code(t.code()), Some(t));
        }
        assert_eq!(MessageType::from_code(0x7f), None);
    }

    #[test]
    fn connect_failure_detail_must_be_zero_for_causes_without_status() {
        assert_eq!(
            ConnectFailure::from_code(2, 17),
            Ok(ConnectFailure::AuthRejected { status: 17 })
        );
        assert_eq!(
            ConnectFailure::from_code(4, 1),
            Err(ProtoError::BadField {
                what: "connect failure detail (must be 0 for this cause)",
                value: 1
            })
        );
        assert_eq!(
            ConnectFailure::from_code(200, 5),
            Ok(ConnectFailure::Other {
                code: 200,
                detail: 5
            })
        );
    }
}
