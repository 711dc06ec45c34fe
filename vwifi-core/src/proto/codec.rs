//! The codec: a fixed 12-byte header and a compact big-endian body per message type.
//!
//! ```text
//! offset  size  field
//!      0     1  magic, MAGIC (0x56, 'V')
//!      1     1  version, VERSION (1)
//!      2     1  message type (MessageType)
//!      3     1  flags: bit 0 = a request id is present; other bits must be 0
//!      4     4  request id (0 when the flag is clear)
//!      8     4  body length in bytes; header + body <= MAX_MESSAGE_LEN
//!     12     n  body
//! ```
//!
//! Body building blocks: integers are big-endian; a string or SSID is a one-byte length and
//! its bytes; an optional field is a presence byte (0 or 1) and then the field if present; a
//! boolean is one byte, 0 or 1. The bodies:
//!
//! ```text
//! Hello          version u8, capabilities u32, agent string (<= 64 bytes UTF-8)
//! HelloAck       version u8, capabilities u32
//! Ack            (empty)
//! Error          code u16, optional text string (<= 255 bytes UTF-8)
//! ScanRequest    mode u8 (0 active, 1 passive), optional SSID
//! ScanResults    count u16, then per BSS: SSID, BSSID [6], channel u8, frequency MHz u16,
//!                signal dBm i8, security u8, beacon age ms u32
//! Connect        SSID, optional BSSID [6], credentials: kind u8 (0 none; 1 passphrase:
//!                string of 8..=63 printable ASCII; 2 PSK: [32])
//! Disconnect     (empty)
//! StatusRequest  (empty)
//! Status         state u8, MAC [6], presence u8 (bit 0 SSID, 1 BSSID, 2 channel, 3 signal,
//!                4 tx rate; other bits 0), the present fields in that order (SSID, [6], u8,
//!                i8, tx rate kbit/s u32), counters 6 x u64 (rx packets, rx bytes, tx packets,
//!                tx bytes, rx dropped, tx dropped)
//! Event          kind u8, then: 1 Connected: SSID, BSSID [6], channel u8;
//!                2 Disconnected: reason u16, locally generated bool;
//!                3 ConnectFailed: cause u8, detail u16 (status code or 0);
//!                4 SignalChanged: dBm i8
//! Data           the 802.3 frame, to the end of the body
//! ```
//!
//! Every message has exactly one encoding: decoding rejects anything `encode` would not have
//! written (non-zero reserved bits, booleans other than 0/1, trailing bytes), so
//! `encode(decode(bytes))` gives back the same bytes.

use bytes::{Bytes, BytesMut};

use crate::addr::MacAddr;
use crate::crypto::{CryptoError, Passphrase, Psk};
use crate::wire::Reader;

use super::message::{
    BssInfo, Capabilities, ConnectFailure, Counters, Credentials, ErrorCode, Event, Message,
    MessageType, RequestId, RequestIdRule, ScanMode, Security, Ssid, StationState, StationStatus,
    MAX_AGENT_NAME_LEN, MAX_ERROR_TEXT_LEN, MAX_SSID_LEN,
};
use super::{ProtoError, MAGIC, MAX_MESSAGE_LEN, VERSION};

/// The length of the message header, in bytes.
pub const HEADER_LEN: usize = 12;

/// Header flag: the request id field is meaningful.
const FLAG_REQUEST_ID: u8 = 0x01;

/// The shortest encoding of one [`BssInfo`] (empty SSID): bounds preallocation on decode.
const MIN_BSS_LEN: usize = 1 + 6 + 1 + 2 + 1 + 1 + 4 + 1;

/// A growable byte buffer that messages are encoded into.
pub trait EncodeBuf {
    /// Makes room for at least `additional` more bytes.
    fn reserve(&mut self, additional: usize);
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl EncodeBuf for Vec<u8> {
    fn reserve(&mut self, additional: usize) {
        Self::reserve(self, additional);
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl EncodeBuf for BytesMut {
    fn reserve(&mut self, additional: usize) {
        Self::reserve(self, additional);
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The parsed message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    message_type: u8,
    flags: u8,
    request_id: u32,
    body_len: u32,
}

impl Header {
    /// Parses the header at the start of `input` (which may hold more).
    ///
    /// Checks the magic byte and the version as soon as they are there, so a stream that is out
    /// of step is caught on its first bytes, and the length before anything of the body is
    /// read. The message type and flags are checked by the body decoder, so that a stream
    /// reader can skip a message of an unknown type.
    pub fn parse(input: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(input);
        if let Some(&got) = input.first() {
            if got != MAGIC {
                return Err(ProtoError::BadMagic {
                    got,
                    expected: MAGIC,
                });
            }
        }
        if let Some(&got) = input.get(1) {
            if got != VERSION {
                return Err(ProtoError::UnsupportedVersion {
                    got,
                    supported: VERSION,
                });
            }
        }
        let head = r.take(HEADER_LEN, "message header")?;
        let mut r = Reader::new(head.get(2..).unwrap_or(&[]));
        let message_type = r.u8("message type")?;
        let flags = r.u8("header flags")?;
        let request_id = r.u32_be("request id")?;
        let body_len = r.u32_be("body length")?;
        let header = Self {
            message_type,
            flags,
            request_id,
            body_len,
        };
        let len = header.message_len();
        if len > MAX_MESSAGE_LEN {
            return Err(ProtoError::TooLong {
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(header)
    }

    /// The message type, if this version knows it.
    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::from_code(self.message_type)
    }

    /// The message type code as sent.
    pub const fn message_type_code(&self) -> u8 {
        self.message_type
    }

    /// The request id, if the header carries one. Useful to answer a message whose body failed
    /// to decode with an [`Message::Error`] the requester can match.
    pub const fn request_id(&self) -> Option<RequestId> {
        if self.flags & FLAG_REQUEST_ID != 0 {
            Some(RequestId(self.request_id))
        } else {
            None
        }
    }

    /// The length of the body, in bytes.
    pub fn body_len(&self) -> usize {
        usize::try_from(self.body_len).unwrap_or(usize::MAX)
    }

    /// The length of the whole message, header and body, in bytes.
    pub fn message_len(&self) -> usize {
        self.body_len().saturating_add(HEADER_LEN)
    }
}

/// Where the body writer puts bytes: a counter (first pass) or the output buffer.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

/// Counts bytes: the first pass of [`encode`], which also validates every field.
struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

/// Writes into the caller's buffer.
struct Out<'a, B: ?Sized>(&'a mut B);

impl<B: EncodeBuf + ?Sized> Sink for Out<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put(bytes);
    }
}

/// The length `msg` encodes to, header included, or why it cannot be encoded.
pub fn encoded_len(msg: &Message) -> Result<usize, ProtoError> {
    let mut count = Count(0);
    write_body(msg, &mut count)?;
    let len = count.0.saturating_add(HEADER_LEN);
    if len > MAX_MESSAGE_LEN {
        return Err(ProtoError::TooLong {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(len)
}

/// Appends the encoding of `msg` to `buf`.
///
/// Fails, leaving `buf` untouched, if the message would be longer than [`MAX_MESSAGE_LEN`] or a
/// field is over its limit ([`ProtoError::TooLong`], [`ProtoError::FieldTooLong`]). The whole
/// message is reserved before anything is written, so a passphrase or PSK is never left behind
/// in a buffer freed by a reallocation; the caller owns, and should zeroize, the bytes of a
/// `Connect` once sent.
pub fn encode<B: EncodeBuf + ?Sized>(msg: &Message, buf: &mut B) -> Result<(), ProtoError> {
    let len = encoded_len(msg)?;
    let body_len = len.saturating_sub(HEADER_LEN);
    let body_len = u32::try_from(body_len).map_err(|_| ProtoError::TooLong {
        len,
        max: MAX_MESSAGE_LEN,
    })?;
    buf.reserve(len);
    let (flags, id) = match msg.request_id() {
        Some(RequestId(id)) => (FLAG_REQUEST_ID, id),
        None => (0, 0),
    };
    buf.put(&[MAGIC, VERSION, msg.message_type().code(), flags]);
    buf.put(&id.to_be_bytes());
    buf.put(&body_len.to_be_bytes());
    write_body(msg, &mut Out(buf))
}

/// Decodes the message at the start of `input`, returning it and the number of bytes it took.
///
/// Bytes after the message are not looked at: an in-band Ethernet frame may be padded, and a
/// stream may hold the next message. For a byte stream, [`super::Decoder`] buffers partial
/// input. Never panics, whatever the input.
pub fn decode(input: &[u8]) -> Result<(Message, usize), ProtoError> {
    let header = Header::parse(input)?;
    let len = header.message_len();
    let body = input.get(HEADER_LEN..len).ok_or(ProtoError::Truncated {
        what: "message body",
        need: header.body_len(),
        have: input.len().saturating_sub(HEADER_LEN),
    })?;
    let msg = decode_body(&header, body, Bytes::copy_from_slice)?;
    Ok((msg, len))
}

/// Decodes a body whose header has been parsed. `data` turns the body of a `Data` message into
/// [`Bytes`] (a copy, or a zero-copy slice of a shared buffer).
pub(super) fn decode_body(
    header: &Header,
    body: &[u8],
    data: impl FnOnce(&[u8]) -> Bytes,
) -> Result<Message, ProtoError> {
    let kind = header
        .message_type()
        .ok_or(ProtoError::UnknownMessageType(header.message_type))?;
    if header.flags & !FLAG_REQUEST_ID != 0 {
        return Err(ProtoError::BadField {
            what: "header flags",
            value: u64::from(header.flags),
        });
    }
    if header.request_id().is_none() && header.request_id != 0 {
        return Err(ProtoError::BadField {
            what: "request id (must be 0 when its flag is clear)",
            value: u64::from(header.request_id),
        });
    }
    let message = kind.name();
    let id = match (kind.request_id_rule(), header.request_id()) {
        (RequestIdRule::Always, None) => return Err(ProtoError::MissingRequestId { message }),
        (RequestIdRule::Never, Some(_)) => return Err(ProtoError::UnexpectedRequestId { message }),
        (_, id) => id,
    };
    // Requests and replies always have an id (checked just above).
    let req = || id.unwrap_or_default();

    let mut r = Reader::new(body);
    let msg = match kind {
        MessageType::Hello => Message::Hello {
            id: req(),
            version: r.u8("Hello version")?,
            capabilities: Capabilities::from_bits_retain(r.u32_be("Hello capabilities")?),
            agent: read_string(&mut r, "Hello agent name", MAX_AGENT_NAME_LEN)?,
        },
        MessageType::HelloAck => Message::HelloAck {
            id: req(),
            version: r.u8("HelloAck version")?,
            capabilities: Capabilities::from_bits_retain(r.u32_be("HelloAck capabilities")?),
        },
        MessageType::Ack => Message::Ack { id: req() },
        MessageType::Error => Message::Error {
            id,
            code: ErrorCode::from_code(r.u16_be("Error code")?),
            text: if read_presence(&mut r, "Error text presence")? {
                Some(read_string(&mut r, "Error text", MAX_ERROR_TEXT_LEN)?)
            } else {
                None
            },
        },
        MessageType::ScanRequest => Message::ScanRequest {
            id: req(),
            mode: match r.u8("ScanRequest mode")? {
                0 => ScanMode::Active,
                1 => ScanMode::Passive,
                other => {
                    return Err(ProtoError::BadField {
                        what: "ScanRequest mode",
                        value: u64::from(other),
                    })
                }
            },
            ssid: if read_presence(&mut r, "ScanRequest SSID presence")? {
                Some(read_ssid(&mut r, "ScanRequest SSID")?)
            } else {
                None
            },
        },
        MessageType::ScanResults => {
            let count = usize::from(r.u16_be("ScanResults count")?);
            let mut bss = Vec::with_capacity(count.min(r.remaining() / MIN_BSS_LEN));
            for _ in 0..count {
                bss.push(read_bss(&mut r)?);
            }
            Message::ScanResults { id: req(), bss }
        }
        MessageType::Connect => Message::Connect {
            id: req(),
            ssid: read_ssid(&mut r, "Connect SSID")?,
            bssid: if read_presence(&mut r, "Connect BSSID presence")? {
                Some(read_mac(&mut r, "Connect BSSID")?)
            } else {
                None
            },
            credentials: read_credentials(&mut r)?,
        },
        MessageType::Disconnect => Message::Disconnect { id: req() },
        MessageType::StatusRequest => Message::StatusRequest { id: req() },
        MessageType::Status => Message::Status {
            id: req(),
            status: Box::new(read_status(&mut r)?),
        },
        MessageType::Event => Message::Event(read_event(&mut r)?),
        MessageType::Data => Message::Data(data(r.rest())),
    };
    r.finish(message)?;
    Ok(msg)
}

fn read_presence(r: &mut Reader<'_>, what: &'static str) -> Result<bool, ProtoError> {
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(ProtoError::BadField {
            what,
            value: u64::from(other),
        }),
    }
}

/// A one-byte length and that many bytes, at most `max`.
fn read_short_bytes<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    max: usize,
) -> Result<&'a [u8], ProtoError> {
    let len = usize::from(r.u8(what)?);
    if len > max {
        return Err(ProtoError::FieldTooLong { what, len, max });
    }
    Ok(r.take(len, what)?)
}

fn read_string(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<String, ProtoError> {
    let bytes = read_short_bytes(r, what, max)?;
    core::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| ProtoError::InvalidUtf8 { what })
}

fn read_ssid(r: &mut Reader<'_>, what: &'static str) -> Result<Ssid, ProtoError> {
    Ssid::new(read_short_bytes(r, what, MAX_SSID_LEN)?)
}

fn read_mac(r: &mut Reader<'_>, what: &'static str) -> Result<MacAddr, ProtoError> {
    Ok(MacAddr(r.array(what)?))
}

fn read_i8(r: &mut Reader<'_>, what: &'static str) -> Result<i8, ProtoError> {
    Ok(i8::from_be_bytes(r.array(what)?))
}

fn read_bss(r: &mut Reader<'_>) -> Result<BssInfo, ProtoError> {
    Ok(BssInfo {
        ssid: read_ssid(r, "BSS SSID")?,
        bssid: read_mac(r, "BSS BSSID")?,
        channel: r.u8("BSS channel")?,
        frequency_mhz: r.u16_be("BSS frequency")?,
        signal_dbm: read_i8(r, "BSS signal")?,
        security: Security::from_code(r.u8("BSS security")?),
        beacon_age_ms: r.u32_be("BSS beacon age")?,
        phy: match r.u8("BSS PHY present")? {
            0 => None,
            1 => Some(super::PhyInfo::read(r, "BSS PHY")?),
            other => {
                return Err(ProtoError::BadField {
                    what: "BSS PHY present",
                    value: other.into(),
                })
            }
        },
    })
}

fn read_credentials(r: &mut Reader<'_>) -> Result<Credentials, ProtoError> {
    match r.u8("Connect credentials kind")? {
        0 => Ok(Credentials::None),
        1 => {
            let bytes = read_short_bytes(r, "Connect passphrase", u8::MAX.into())?;
            passphrase_from_bytes(bytes)
                .map(Credentials::Passphrase)
                .map_err(ProtoError::BadPassphrase)
        }
        2 => Ok(Credentials::Psk(Psk::from_bytes(r.array("Connect PSK")?))),
        other => Err(ProtoError::BadField {
            what: "Connect credentials kind",
            value: u64::from(other),
        }),
    }
}

/// Validates passphrase bytes as [`Passphrase::new`] does, reporting a non-ASCII byte (which
/// also makes the bytes invalid UTF-8) as the character error it is.
fn passphrase_from_bytes(bytes: &[u8]) -> Result<Passphrase, CryptoError> {
    match core::str::from_utf8(bytes) {
        Ok(s) => Passphrase::new(s),
        Err(_) => {
            let len = bytes.len();
            if !(8..=63).contains(&len) {
                return Err(CryptoError::PassphraseLength { len });
            }
            let (position, byte) = bytes
                .iter()
                .copied()
                .enumerate()
                .find(|(_, b)| !(32..=126).contains(b))
                .unwrap_or((0, 0));
            Err(CryptoError::PassphraseCharacter { byte, position })
        }
    }
}

const STATUS_SSID: u8 = 1 << 0;
const STATUS_BSSID: u8 = 1 << 1;
const STATUS_CHANNEL: u8 = 1 << 2;
const STATUS_SIGNAL: u8 = 1 << 3;
const STATUS_TX_RATE: u8 = 1 << 4;
const STATUS_PHY: u8 = 1 << 5;
const STATUS_FREQUENCY: u8 = 1 << 6;
const STATUS_ALL: u8 = STATUS_SSID
    | STATUS_BSSID
    | STATUS_CHANNEL
    | STATUS_SIGNAL
    | STATUS_TX_RATE
    | STATUS_PHY
    | STATUS_FREQUENCY;

fn read_status(r: &mut Reader<'_>) -> Result<StationStatus, ProtoError> {
    let state = StationState::from_code(r.u8("Status state")?);
    let mac = read_mac(r, "Status MAC")?;
    let present = r.u8("Status presence bits")?;
    if present & !STATUS_ALL != 0 {
        return Err(ProtoError::BadField {
            what: "Status presence bits",
            value: u64::from(present),
        });
    }
    let has = |bit: u8| present & bit != 0;
    let ssid = has(STATUS_SSID)
        .then(|| read_ssid(r, "Status SSID"))
        .transpose()?;
    let bssid = has(STATUS_BSSID)
        .then(|| read_mac(r, "Status BSSID"))
        .transpose()?;
    let channel = has(STATUS_CHANNEL)
        .then(|| r.u8("Status channel"))
        .transpose()?;
    let signal_dbm = has(STATUS_SIGNAL)
        .then(|| read_i8(r, "Status signal"))
        .transpose()?;
    let tx_rate_kbps = has(STATUS_TX_RATE)
        .then(|| r.u32_be("Status tx rate"))
        .transpose()?;
    let phy = has(STATUS_PHY)
        .then(|| super::PhyInfo::read(r, "Status PHY"))
        .transpose()?;
    let frequency_mhz = has(STATUS_FREQUENCY)
        .then(|| r.u16_be("Status frequency"))
        .transpose()?;
    let counters = Counters {
        rx_packets: r.u64_be("Status rx packets")?,
        rx_bytes: r.u64_be("Status rx bytes")?,
        tx_packets: r.u64_be("Status tx packets")?,
        tx_bytes: r.u64_be("Status tx bytes")?,
        rx_dropped: r.u64_be("Status rx dropped")?,
        tx_dropped: r.u64_be("Status tx dropped")?,
    };
    Ok(StationStatus {
        state,
        mac,
        ssid,
        bssid,
        channel,
        frequency_mhz,
        signal_dbm,
        tx_rate_kbps,
        phy,
        counters,
    })
}

const EVENT_CONNECTED: u8 = 1;
const EVENT_DISCONNECTED: u8 = 2;
const EVENT_CONNECT_FAILED: u8 = 3;
const EVENT_SIGNAL_CHANGED: u8 = 4;
/// Sent only to guests that announce `Capabilities::ROAM_EVENTS` (see `Event::for_peer`).
const EVENT_ROAMED: u8 = 5;

fn read_event(r: &mut Reader<'_>) -> Result<Event, ProtoError> {
    match r.u8("Event kind")? {
        EVENT_CONNECTED => Ok(Event::Connected {
            ssid: read_ssid(r, "Connected SSID")?,
            bssid: read_mac(r, "Connected BSSID")?,
            channel: r.u8("Connected channel")?,
        }),
        EVENT_DISCONNECTED => Ok(Event::Disconnected {
            reason: r.u16_be("Disconnected reason")?,
            locally_generated: read_presence(r, "Disconnected locally-generated flag")?,
        }),
        EVENT_CONNECT_FAILED => {
            let code = r.u8("ConnectFailed cause")?;
            let detail = r.u16_be("ConnectFailed detail")?;
            Ok(Event::ConnectFailed {
                reason: ConnectFailure::from_code(code, detail)?,
            })
        }
        EVENT_SIGNAL_CHANGED => Ok(Event::SignalChanged {
            dbm: read_i8(r, "SignalChanged signal")?,
        }),
        EVENT_ROAMED => Ok(Event::Roamed {
            ssid: read_ssid(r, "Roamed SSID")?,
            bssid: read_mac(r, "Roamed BSSID")?,
            old_bssid: read_mac(r, "Roamed old BSSID")?,
            channel: r.u8("Roamed channel")?,
            roam_ms: r.u32_be("Roamed time")?,
        }),
        other => Err(ProtoError::BadField {
            what: "Event kind",
            value: u64::from(other),
        }),
    }
}

/// Writes a one-byte length and the bytes, or fails if there are more than `max`.
fn put_short_bytes(
    s: &mut impl Sink,
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<(), ProtoError> {
    let len = bytes.len();
    let len8 = u8::try_from(len)
        .ok()
        .filter(|_| len <= max)
        .ok_or(ProtoError::FieldTooLong { what, len, max })?;
    s.put(&[len8]);
    s.put(bytes);
    Ok(())
}

fn put_ssid(s: &mut impl Sink, what: &'static str, ssid: &Ssid) -> Result<(), ProtoError> {
    put_short_bytes(s, what, ssid.as_bytes(), MAX_SSID_LEN)
}

fn write_body(msg: &Message, s: &mut impl Sink) -> Result<(), ProtoError> {
    match msg {
        Message::Hello {
            id: _,
            version,
            capabilities,
            agent,
        } => {
            s.put(&[*version]);
            s.put(&capabilities.bits().to_be_bytes());
            put_short_bytes(s, "Hello agent name", agent.as_bytes(), MAX_AGENT_NAME_LEN)?;
        }
        Message::HelloAck {
            id: _,
            version,
            capabilities,
        } => {
            s.put(&[*version]);
            s.put(&capabilities.bits().to_be_bytes());
        }
        Message::Ack { .. } | Message::Disconnect { .. } | Message::StatusRequest { .. } => {}
        Message::Error { id: _, code, text } => {
            s.put(&code.code().to_be_bytes());
            match text {
                Some(text) => {
                    s.put(&[1]);
                    put_short_bytes(s, "Error text", text.as_bytes(), MAX_ERROR_TEXT_LEN)?;
                }
                None => s.put(&[0]),
            }
        }
        Message::ScanRequest { id: _, ssid, mode } => {
            s.put(&[match mode {
                ScanMode::Active => 0,
                ScanMode::Passive => 1,
            }]);
            match ssid {
                Some(ssid) => {
                    s.put(&[1]);
                    put_ssid(s, "ScanRequest SSID", ssid)?;
                }
                None => s.put(&[0]),
            }
        }
        Message::ScanResults { id: _, bss } => {
            let count = u16::try_from(bss.len()).map_err(|_| ProtoError::FieldTooLong {
                what: "ScanResults count",
                len: bss.len(),
                max: u16::MAX.into(),
            })?;
            s.put(&count.to_be_bytes());
            for b in bss {
                put_ssid(s, "BSS SSID", &b.ssid)?;
                s.put(&b.bssid.0);
                s.put(&[b.channel]);
                s.put(&b.frequency_mhz.to_be_bytes());
                s.put(&b.signal_dbm.to_be_bytes());
                s.put(&[b.security.code()]);
                s.put(&b.beacon_age_ms.to_be_bytes());
                match b.phy {
                    Some(p) => {
                        s.put(&[1]);
                        s.put(&p.to_bytes());
                    }
                    None => s.put(&[0]),
                }
            }
        }
        Message::Connect {
            id: _,
            ssid,
            bssid,
            credentials,
        } => {
            put_ssid(s, "Connect SSID", ssid)?;
            match bssid {
                Some(bssid) => {
                    s.put(&[1]);
                    s.put(&bssid.0);
                }
                None => s.put(&[0]),
            }
            match credentials {
                Credentials::None => s.put(&[0]),
                Credentials::Passphrase(p) => {
                    s.put(&[1]);
                    put_short_bytes(s, "Connect passphrase", p.expose(), u8::MAX.into())?;
                }
                Credentials::Psk(psk) => {
                    s.put(&[2]);
                    s.put(psk.expose());
                }
            }
        }
        Message::Status { id: _, status } => write_status(s, status)?,
        Message::Event(event) => write_event(s, event)?,
        Message::Data(frame) => s.put(frame),
    }
    Ok(())
}

fn write_status(s: &mut impl Sink, status: &StationStatus) -> Result<(), ProtoError> {
    s.put(&[status.state.code()]);
    s.put(&status.mac.0);
    let bit = |present: bool, bit: u8| if present { bit } else { 0 };
    s.put(&[bit(status.ssid.is_some(), STATUS_SSID)
        | bit(status.bssid.is_some(), STATUS_BSSID)
        | bit(status.channel.is_some(), STATUS_CHANNEL)
        | bit(status.signal_dbm.is_some(), STATUS_SIGNAL)
        | bit(status.tx_rate_kbps.is_some(), STATUS_TX_RATE)
        | bit(status.phy.is_some(), STATUS_PHY)
        | bit(status.frequency_mhz.is_some(), STATUS_FREQUENCY)]);
    if let Some(ssid) = &status.ssid {
        put_ssid(s, "Status SSID", ssid)?;
    }
    if let Some(bssid) = status.bssid {
        s.put(&bssid.0);
    }
    if let Some(channel) = status.channel {
        s.put(&[channel]);
    }
    if let Some(signal) = status.signal_dbm {
        s.put(&signal.to_be_bytes());
    }
    if let Some(rate) = status.tx_rate_kbps {
        s.put(&rate.to_be_bytes());
    }
    if let Some(phy) = status.phy {
        s.put(&phy.to_bytes());
    }
    if let Some(mhz) = status.frequency_mhz {
        s.put(&mhz.to_be_bytes());
    }
    let c = &status.counters;
    for v in [
        c.rx_packets,
        c.rx_bytes,
        c.tx_packets,
        c.tx_bytes,
        c.rx_dropped,
        c.tx_dropped,
    ] {
        s.put(&v.to_be_bytes());
    }
    Ok(())
}

fn write_event(s: &mut impl Sink, event: &Event) -> Result<(), ProtoError> {
    match event {
        Event::Connected {
            ssid,
            bssid,
            channel,
        } => {
            s.put(&[EVENT_CONNECTED]);
            put_ssid(s, "Connected SSID", ssid)?;
            s.put(&bssid.0);
            s.put(&[*channel]);
        }
        Event::Disconnected {
            reason,
            locally_generated,
        } => {
            s.put(&[EVENT_DISCONNECTED]);
            s.put(&reason.to_be_bytes());
            s.put(&[u8::from(*locally_generated)]);
        }
        Event::ConnectFailed { reason } => {
            let (code, detail) = reason.to_code();
            s.put(&[EVENT_CONNECT_FAILED, code]);
            s.put(&detail.to_be_bytes());
        }
        Event::SignalChanged { dbm } => {
            s.put(&[EVENT_SIGNAL_CHANGED]);
            s.put(&dbm.to_be_bytes());
        }
        Event::Roamed {
            ssid,
            bssid,
            old_bssid,
            channel,
            roam_ms,
        } => {
            s.put(&[EVENT_ROAMED]);
            put_ssid(s, "Roamed SSID", ssid)?;
            s.put(&bssid.0);
            s.put(&old_bssid.0);
            s.put(&[*channel]);
            s.put(&roam_ms.to_be_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoError;

    /// A message with a hand-built header: for inputs `encode` would never produce.
    fn raw(kind: u8, id: Option<u32>, body: &[u8]) -> Vec<u8> {
        let mut out = vec![MAGIC, VERSION, kind, u8::from(id.is_some())];
        out.extend_from_slice(&id.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn err(bytes: &[u8]) -> ProtoError {
        decode(bytes).unwrap_err()
    }

    #[test]
    fn hello_has_the_documented_layout() {
        let msg = Message::Hello {
            id: RequestId(0x0102_0304),
            version: 1,
            capabilities: Capabilities::SCAN | Capabilities::WPA2_PSK,
            agent: "g".into(),
        };
        let mut buf = Vec::new();
        encode(&msg, &mut buf).unwrap();
        #[rustfmt::skip]
        let expected = [
            0x56, 0x01, 0x01, 0x01, // magic, version, type Hello, flags: request id
            0x01, 0x02, 0x03, 0x04, // request id
            0x00, 0x00, 0x00, 0x07, // body length
            0x01,                   // version
            0x00, 0x00, 0x00, 0x05, // capabilities
            0x01, b'g',             // agent name
        ];
        assert_eq!(buf, expected);
        assert_eq!(decode(&buf).unwrap(), (msg, expected.len()));
    }

    #[test]
    fn connect_has_the_documented_layout() {
        let msg = Message::Connect {
            id: RequestId(9),
            ssid: Ssid::new(b"lab").unwrap(),
            bssid: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            credentials: Credentials::Passphrase(Passphrase::new("password").unwrap()),
        };
        let mut buf = Vec::new();
        encode(&msg, &mut buf).unwrap();
        let mut body = vec![3, b'l', b'a', b'b', 1, 2, 0, 0, 0, 0, 1, 1, 8];
        body.extend_from_slice(b"password");
        assert_eq!(buf, raw(0x12, Some(9), &body));
    }

    #[test]
    fn truncated_input_names_what_is_missing() {
        assert_eq!(
            err(&[MAGIC, VERSION, 0x03]),
            ProtoError::Truncated {
                what: "message header",
                need: 12,
                have: 3
            }
        );
        let mut ack = raw(0x03, Some(1), &[0; 10]);
        ack.truncate(14);
        assert_eq!(
            err(&ack),
            ProtoError::Truncated {
                what: "message body",
                need: 10,
                have: 2
            }
        );
        assert_eq!(
            err(&raw(0x01, Some(1), &[1, 0, 0])),
            ProtoError::Truncated {
                what: "Hello capabilities",
                need: 4,
                have: 2
            }
        );
        assert_eq!(
            err(&raw(0x04, None, &[0, 1, 1, 5, b'a'])),
            ProtoError::Truncated {
                what: "Error text",
                need: 5,
                have: 1
            }
        );
    }

    #[test]
    fn rejects_bad_magic_and_other_versions_on_the_first_bytes() {
        assert_eq!(
            err(&[0x45]),
            ProtoError::BadMagic {
                got: 0x45,
                expected: MAGIC
            }
        );
        assert_eq!(
            err(&[MAGIC, 2]),
            ProtoError::UnsupportedVersion {
                got: 2,
                supported: 1
            }
        );
    }

    #[test]
    fn rejects_unknown_message_types() {
        assert_eq!(
            err(&raw(0x7f, Some(1), &[])),
            ProtoError::UnknownMessageType(0x7f)
        );
    }

    #[test]
    fn rejects_over_long_lengths_from_the_header_alone() {
        let mut head = raw(0x30, None, &[]);
        head[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            err(&head),
            ProtoError::TooLong {
                len: u32::MAX as usize + HEADER_LEN,
                max: MAX_MESSAGE_LEN
            }
        );
        let body_max = u32::try_from(MAX_MESSAGE_LEN - HEADER_LEN).unwrap();
        head[8..12].copy_from_slice(&(body_max + 1).to_be_bytes());
        assert_eq!(
            err(&head),
            ProtoError::TooLong {
                len: MAX_MESSAGE_LEN + 1,
                max: MAX_MESSAGE_LEN
            }
        );
        // Exactly the maximum is a valid length (only the body is missing).
        head[8..12].copy_from_slice(&body_max.to_be_bytes());
        assert!(matches!(err(&head), ProtoError::Truncated { .. }));
    }

    #[test]
    fn encode_enforces_the_maximum_and_leaves_the_buffer_untouched() {
        let fits = Message::Data(Bytes::from(vec![0; MAX_MESSAGE_LEN - HEADER_LEN]));
        let mut buf = Vec::new();
        encode(&fits, &mut buf).unwrap();
        assert_eq!(buf.len(), MAX_MESSAGE_LEN);
        assert_eq!(decode(&buf).unwrap().0, fits);

        let mut buf = vec![7];
        let too_long = Message::Data(Bytes::from(vec![0; MAX_MESSAGE_LEN - HEADER_LEN + 1]));
        assert_eq!(
            encode(&too_long, &mut buf),
            Err(ProtoError::TooLong {
                len: MAX_MESSAGE_LEN + 1,
                max: MAX_MESSAGE_LEN
            })
        );
        assert_eq!(buf, [7]);

        let bss = BssInfo {
            ssid: Ssid::new(&[b'x'; 32]).unwrap(),
            bssid: MacAddr::ZERO,
            channel: 1,
            frequency_mhz: 2412,
            signal_dbm: -40,
            security: Security::Open,
            beacon_age_ms: 0,
            phy: None,
        };
        let many = Message::ScanResults {
            id: RequestId(1),
            bss: vec![bss; 2000],
        };
        assert!(matches!(
            encode(&many, &mut buf),
            Err(ProtoError::TooLong { .. })
        ));
        assert_eq!(buf, [7]);
    }

    #[test]
    fn encode_rejects_over_long_text_fields() {
        let hello = Message::Hello {
            id: RequestId(1),
            version: 1,
            capabilities: Capabilities::EMPTY,
            agent: "a".repeat(65),
        };
        assert_eq!(
            encode(&hello, &mut Vec::new()),
            Err(ProtoError::FieldTooLong {
                what: "Hello agent name",
                len: 65,
                max: MAX_AGENT_NAME_LEN
            })
        );
        let error = Message::Error {
            id: None,
            code: ErrorCode::Internal,
            text: Some("é".repeat(128)),
        };
        assert_eq!(
            encode(&error, &mut Vec::new()),
            Err(ProtoError::FieldTooLong {
                what: "Error text",
                len: 256,
                max: MAX_ERROR_TEXT_LEN
            })
        );
    }

    #[test]
    fn decode_rejects_over_long_fields() {
        let mut body = vec![33];
        body.extend_from_slice(&[b'a'; 33]);
        assert_eq!(
            err(&raw(0x12, Some(1), &body)),
            ProtoError::FieldTooLong {
                what: "Connect SSID",
                len: 33,
                max: 32
            }
        );
        let mut body = vec![1, 0, 0, 0, 0, 65];
        body.extend_from_slice(&[b'a'; 65]);
        assert_eq!(
            err(&raw(0x01, Some(1), &body)),
            ProtoError::FieldTooLong {
                what: "Hello agent name",
                len: 65,
                max: 64
            }
        );
    }

    #[test]
    fn rejects_bad_field_values() {
        let cases: [(Vec<u8>, &str, u64); 10] = [
            (
                raw(0x13, Some(1), &[]).tap(|b| b[3] = 0x03),
                "header flags",
                3,
            ),
            (
                raw(0x20, None, &[4, 0]).tap(|b| b[7] = 5),
                "request id (must be 0 when its flag is clear)",
                5,
            ),
            (raw(0x10, Some(1), &[2, 0]), "ScanRequest mode", 2),
            (raw(0x10, Some(1), &[0, 2]), "ScanRequest SSID presence", 2),
            (
                raw(0x12, Some(1), &[0, 0, 3]),
                "Connect credentials kind",
                3,
            ),
            (
                raw(0x15, Some(1), &[0, 0, 0, 0, 0, 0, 0, 0x80]),
                "Status presence bits",
                0x80,
            ),
            (raw(0x20, None, &[9]), "Event kind", 9),
            (
                raw(0x20, None, &[2, 0, 1, 2]),
                "Disconnected locally-generated flag",
                2,
            ),
            (
                raw(0x20, None, &[3, 4, 0, 1]),
                "connect failure detail (must be 0 for this cause)",
                1,
            ),
            (raw(0x04, None, &[0, 1, 3]), "Error text presence", 3),
        ];
        for (bytes, what, value) in cases {
            assert_eq!(err(&bytes), ProtoError::BadField { what, value }, "{what}");
        }
    }

    trait Tap: Sized {
        fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
    }
    impl Tap for Vec<u8> {
        fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }

    #[test]
    fn request_ids_are_required_on_requests_and_refused_on_events() {
        assert_eq!(
            err(&raw(0x12, None, &[0, 0, 0])),
            ProtoError::MissingRequestId { message: "Connect" }
        );
        assert_eq!(
            err(&raw(0x20, Some(3), &[4, 0])),
            ProtoError::UnexpectedRequestId { message: "Event" }
        );
        assert_eq!(
            err(&raw(0x30, Some(3), &[])),
            ProtoError::UnexpectedRequestId { message: "Data" }
        );
        // An error may answer a request or stand alone.
        for id in [None, Some(3)] {
            let (msg, _) = decode(&raw(0x04, id, &[0, 1, 0])).unwrap();
            assert_eq!(msg.request_id(), id.map(RequestId));
        }
    }

    #[test]
    fn rejects_text_that_is_not_utf8() {
        assert_eq!(
            err(&raw(0x01, Some(1), &[1, 0, 0, 0, 0, 2, 0xc3, 0x28])),
            ProtoError::InvalidUtf8 {
                what: "Hello agent name"
            }
        );
        assert_eq!(
            err(&raw(0x04, None, &[0, 1, 1, 1, 0xff])),
            ProtoError::InvalidUtf8 { what: "Error text" }
        );
    }

    #[test]
    fn rejects_invalid_passphrases() {
        let connect = |pass: &[u8]| {
            let mut body = vec![0, 0, 1, u8::try_from(pass.len()).unwrap()];
            body.extend_from_slice(pass);
            err(&raw(0x12, Some(1), &body))
        };
        assert_eq!(
            connect(b"seven77"),
            ProtoError::BadPassphrase(CryptoError::PassphraseLength { len: 7 })
        );
        assert_eq!(
            connect(&[b'a'; 64]),
            ProtoError::BadPassphrase(CryptoError::PassphraseLength { len: 64 })
        );
        assert_eq!(
            connect(b"pass\tword"),
            ProtoError::BadPassphrase(CryptoError::PassphraseCharacter {
                byte: 9,
                position: 4
            })
        );
        assert_eq!(
            connect(b"pass\xffword"),
            ProtoError::BadPassphrase(CryptoError::PassphraseCharacter {
                byte: 0xff,
                position: 4
            })
        );
        assert_eq!(
            connect(b"caf\xc3\xa9word"),
            ProtoError::BadPassphrase(CryptoError::PassphraseCharacter {
                byte: 0xc3,
                position: 3
            })
        );
    }

    #[test]
    fn rejects_trailing_bytes_in_a_body() {
        assert_eq!(
            err(&raw(0x03, Some(1), &[0])),
            ProtoError::TrailingData {
                what: "Ack",
                len: 1
            }
        );
        assert_eq!(
            err(&raw(0x20, None, &[4, 0, 0])),
            ProtoError::TrailingData {
                what: "Event",
                len: 1
            }
        );
    }

    #[test]
    fn scan_results_count_beyond_the_body_is_truncation_not_allocation() {
        assert_eq!(
            err(&raw(0x11, Some(1), &[0xff, 0xff])),
            ProtoError::Truncated {
                what: "BSS SSID",
                need: 1,
                have: 0
            }
        );
    }

    #[test]
    fn error_codes_for_decode_failures() {
        assert_eq!(
            ErrorCode::from(&ProtoError::UnknownMessageType(9)),
            ErrorCode::UnsupportedMessage
        );
        assert_eq!(
            ErrorCode::from(&ProtoError::UnsupportedVersion {
                got: 2,
                supported: 1
            }),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            ErrorCode::from(&ProtoError::InvalidUtf8 { what: "x" }),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn error_messages_name_the_problem() {
        assert_eq!(
            err(&raw(0x12, Some(1), &[40])).to_string(),
            "Connect SSID: 40 bytes exceeds the maximum of 32"
        );
        assert_eq!(
            err(&[MAGIC, 9]).to_string(),
            "unsupported protocol version 9, this side speaks version 1"
        );
    }
}
