//! The messages of the kernel's `MAC80211_HWSIM` generic netlink family: what the kernel sends
//! a registered medium and what the medium sends back, built and parsed with `neli`.
//!
//! The numbers are those of the kernel's `drivers/net/wireless/virtual/mac80211_hwsim.h`
//! (a stable user-space interface: wmediumd and our `tests/vmharness/tools/hwsim-medium.c`
//! speak it too). Attribute payloads are in host byte order, as everywhere in netlink.
//!
//! Parsing never trusts the kernel's lengths: a message is cut out of its datagram only after
//! its length was checked against what is left, and every attribute the medium needs is checked
//! for its size; anything wrong is a [`MsgError`] naming the attribute.

use std::io::Cursor;

use bytes::Bytes;
use neli::consts::nl::{NlmF, NlmFFlags};
use neli::genl::{Genlmsghdr, Nlattr};
use neli::nl::{NlPayload, Nlmsghdr};
use neli::types::GenlBuffer;
use neli::{FromBytes as _, ToBytes as _};
use vwifi_core::channel::{Band, Channel};
use vwifi_core::phy::{GuardInterval, McsRate, Standard, TxVector, Width};
use vwifi_core::sim::medium::PhyRate;
use vwifi_core::MacAddr;

/// The generic netlink family's name.
pub(crate) const FAMILY_NAME: &str = "MAC80211_HWSIM";

/// The family's version we speak (the kernel ignores it; wmediumd sends 1).
const VERSION: u8 = 1;

/// `HWSIM_CMD_REGISTER`: the sender becomes the medium of the radios of its network namespace.
pub(crate) const CMD_REGISTER: u8 = 1;
/// `HWSIM_CMD_FRAME`: a frame a radio sends (kernel to medium) or receives (medium to kernel).
pub(crate) const CMD_FRAME: u8 = 2;
/// `HWSIM_CMD_TX_INFO_FRAME`: the transmit status of a frame (medium to kernel).
pub(crate) const CMD_TX_INFO_FRAME: u8 = 3;
/// `HWSIM_CMD_NEW_RADIO`: create a radio (the acknowledgement's code is its index).
pub(crate) const CMD_NEW_RADIO: u8 = 4;
/// `HWSIM_CMD_DEL_RADIO`: delete a radio of the sender's network namespace.
pub(crate) const CMD_DEL_RADIO: u8 = 5;
/// `HWSIM_CMD_ADD_MAC_ADDR`: a radio got an interface with this address (kernel to medium).
pub(crate) const CMD_ADD_MAC_ADDR: u8 = 7;
/// `HWSIM_CMD_DEL_MAC_ADDR`: a radio's interface with this address went away.
pub(crate) const CMD_DEL_MAC_ADDR: u8 = 8;

/// `HWSIM_ATTR_ADDR_RECEIVER`: the radio a frame goes to (its second hardware address).
pub(crate) const ATTR_ADDR_RECEIVER: u16 = 1;
/// `HWSIM_ATTR_ADDR_TRANSMITTER`: the radio a frame comes from.
pub(crate) const ATTR_ADDR_TRANSMITTER: u16 = 2;
/// `HWSIM_ATTR_FRAME`: the 802.11 frame, without FCS.
pub(crate) const ATTR_FRAME: u16 = 3;
/// `HWSIM_ATTR_FLAGS`: `HWSIM_TX_CTL_*` and `HWSIM_TX_STAT_*` bits (u32).
pub(crate) const ATTR_FLAGS: u16 = 4;
/// `HWSIM_ATTR_RX_RATE`: the index of the received rate in the band's bitrate table (u32).
pub(crate) const ATTR_RX_RATE: u16 = 5;
/// `HWSIM_ATTR_SIGNAL`: the received signal, dBm (s32).
pub(crate) const ATTR_SIGNAL: u16 = 6;
/// `HWSIM_ATTR_TX_INFO`: the rates tried, up to four `struct hwsim_tx_rate { s8 idx; u8 count; }`.
pub(crate) const ATTR_TX_INFO: u16 = 7;
/// `HWSIM_ATTR_COOKIE`: the kernel's handle of a frame awaiting its status (u64).
pub(crate) const ATTR_COOKIE: u16 = 8;
/// `HWSIM_ATTR_DESTROY_RADIO_ON_CLOSE`: the radio dies with the socket that created it (flag).
pub(crate) const ATTR_DESTROY_RADIO_ON_CLOSE: u16 = 16;
/// `HWSIM_ATTR_RADIO_NAME`: the radio's wiphy name (string).
pub(crate) const ATTR_RADIO_NAME: u16 = 17;
/// `HWSIM_ATTR_NO_VIF`: create the radio without an interface (flag).
pub(crate) const ATTR_NO_VIF: u16 = 18;
/// `HWSIM_ATTR_FREQ`: the frequency the frame is sent or received on, MHz (u32).
pub(crate) const ATTR_FREQ: u16 = 19;
/// `HWSIM_ATTR_TX_INFO_FLAGS`: the flags of each rate of `HWSIM_ATTR_TX_INFO`, up to four
/// `struct hwsim_tx_rate_flag { s8 idx; u16 flags; }` (packed, host byte order).
pub(crate) const ATTR_TX_INFO_FLAGS: u16 = 21;

/// `MAC80211_HWSIM_TX_RC_MCS`: the rate index is an HT MCS (0-31).
pub(crate) const TX_RC_MCS: u16 = 1 << 3;
/// `MAC80211_HWSIM_TX_RC_40_MHZ_WIDTH`.
pub(crate) const TX_RC_40_MHZ: u16 = 1 << 5;
/// `MAC80211_HWSIM_TX_RC_SHORT_GI`.
pub(crate) const TX_RC_SHORT_GI: u16 = 1 << 7;
/// `MAC80211_HWSIM_TX_RC_VHT_MCS`: the index holds the streams minus one (high nibble) and
/// the VHT MCS (low nibble).
pub(crate) const TX_RC_VHT_MCS: u16 = 1 << 8;
/// `MAC80211_HWSIM_TX_RC_80_MHZ_WIDTH`.
pub(crate) const TX_RC_80_MHZ: u16 = 1 << 9;
/// `MAC80211_HWSIM_TX_RC_160_MHZ_WIDTH`.
pub(crate) const TX_RC_160_MHZ: u16 = 1 << 10;

/// `HWSIM_TX_STAT_ACK`: the frame was acknowledged.
pub(crate) const TX_STAT_ACK: u32 = 1 << 2;

/// The most rate entries in `HWSIM_ATTR_TX_INFO` (`IEEE80211_TX_MAX_RATES`).
pub(crate) const TX_MAX_RATES: usize = 4;

/// Netlink's error message type (`NLMSG_ERROR`): an acknowledgement or an error code.
const NLMSG_ERROR: u16 = 2;
/// Netlink's message header length.
const NLMSG_HDRLEN: usize = 16;
/// The largest 802.11 frame the kernel accepts from the medium (`IEEE80211_MAX_DATA_LEN`).
pub(crate) const MAX_FRAME_LEN: usize = 2304;
/// The shortest frame the kernel accepts from the medium (`struct ieee80211_hdr_3addr`).
pub(crate) const MIN_FRAME_LEN: usize = 24;

/// The 2.4 GHz bitrates of a hwsim radio in kbit/s, in the order of its bitrate table (the
/// index is what `HWSIM_ATTR_RX_RATE` carries). At 5 GHz the table starts at 6 Mbit/s.
const RATES_KBPS: [u32; 12] = [
    1000, 2000, 5500, 11000, 6000, 9000, 12000, 18000, 24000, 36000, 48000, 54000,
];

/// Why a message of the kernel could not be understood. The message is dropped and counted;
/// the radio goes on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MsgError {
    /// The datagram ends inside a message header or the length a header announces.
    #[error("netlink message truncated at byte {offset}: {need} bytes announced, {have} left")]
    Truncated {
        /// Where the message starts in its datagram.
        offset: usize,
        /// The bytes the header announces (at least a header).
        need: usize,
        /// The bytes left in the datagram.
        have: usize,
    },
    /// An attribute's length is below its header's or past the message's end (neli would
    /// panic on it: its length arithmetic overflows).
    #[error("netlink attribute at byte {at} announces {len} bytes, the message has {have}")]
    BadAttribute {
        /// Where the attribute starts in its message.
        at: usize,
        /// The length it announces.
        len: usize,
        /// The message's length.
        have: usize,
    },
    /// neli could not decode the generic netlink message.
    #[error("undecodable generic netlink message")]
    Decode(#[source] neli::err::DeError),
    /// A message the medium needs lacks an attribute.
    #[error("{cmd} without {attr}")]
    MissingAttr {
        /// The command.
        cmd: &'static str,
        /// The attribute.
        attr: &'static str,
    },
    /// An attribute has the wrong size.
    #[error("{attr} of {len} bytes, expected {expected}")]
    BadLength {
        /// The attribute.
        attr: &'static str,
        /// Its payload's length.
        len: usize,
        /// What it should be.
        expected: &'static str,
    },
}

/// The rates the kernel tried for a frame (`HWSIM_ATTR_TX_INFO`), echoed in its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxRates {
    /// `(rate index, count)`; an index of -1 ends the list.
    pub(crate) rates: [(i8, u8); TX_MAX_RATES],
}

impl TxRates {
    /// No rate at all (every index -1).
    pub(crate) const NONE: Self = Self {
        rates: [(-1, 0); TX_MAX_RATES],
    };

    fn parse(payload: &[u8]) -> Result<Self, MsgError> {
        if payload.len() % 2 != 0 || payload.len() > 2 * TX_MAX_RATES {
            return Err(MsgError::BadLength {
                attr: "HWSIM_ATTR_TX_INFO",
                len: payload.len(),
                expected: "up to 4 pairs of bytes",
            });
        }
        let mut out = Self::NONE;
        for (slot, pair) in out.rates.iter_mut().zip(payload.chunks_exact(2)) {
            if let [idx, count] = *pair {
                *slot = (i8::from_ne_bytes([idx]), count);
            }
        }
        Ok(out)
    }

    /// The rates as the kernel reads them back: one attempt count per rate tried. An
    /// acknowledged frame reports `attempts` on its first rate and no other rate (the medium
    /// sends every attempt at one rate); an unacknowledged one reports the rates as given.
    pub(crate) fn reported(self, acked: bool, attempts: u8) -> Self {
        if !acked {
            return self;
        }
        let mut out = Self::NONE;
        if let (Some(first), Some(slot)) = (self.rates.first(), out.rates.first_mut()) {
            *slot = (first.0.max(0), attempts.max(1));
        }
        out
    }

    fn to_bytes(self) -> [u8; 2 * TX_MAX_RATES] {
        let mut out = [0u8; 2 * TX_MAX_RATES];
        for (pair, (idx, count)) in out.chunks_exact_mut(2).zip(self.rates) {
            if let [a, b] = pair {
                *a = idx.to_ne_bytes()[0];
                *b = count;
            }
        }
        out
    }
}

/// A frame a kernel radio transmits (`HWSIM_CMD_FRAME` from the kernel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelFrame {
    /// The radio (its second hardware address, `42:00:00:00:NN:00` for radio NN).
    pub(crate) radio: MacAddr,
    /// The 802.11 frame, without FCS.
    pub(crate) frame: Bytes,
    /// `HWSIM_TX_CTL_*` flags.
    pub(crate) flags: u32,
    /// The kernel's handle for the frame's status.
    pub(crate) cookie: u64,
    /// The frequency it is sent on, MHz (older kernels send none).
    pub(crate) freq: Option<u32>,
    /// The rates tried.
    pub(crate) rates: TxRates,
    /// The flags of each rate tried (`HWSIM_ATTR_TX_INFO_FLAGS`; zero when absent).
    pub(crate) rate_flags: [u16; TX_MAX_RATES],
}

impl KernelFrame {
    /// The rate of the frame's first attempt as the kernel's rate control chose it, in `band`:
    /// an HT MCS (index 8 (streams - 1) + MCS), a VHT MCS (streams and MCS in the index's
    /// nibbles), with their width and guard interval flags, or a legacy rate (an index into
    /// the band's bitrate table). `None` without a usable first rate.
    pub(crate) fn tx_vector(&self, band: Band) -> Option<TxVector> {
        let (idx, _) = self.rates.rates[0];
        let idx = u8::try_from(idx).ok()?;
        let flags = self.rate_flags[0];
        let width = if flags & TX_RC_160_MHZ != 0 {
            Width::Mhz160
        } else if flags & TX_RC_80_MHZ != 0 {
            Width::Mhz80
        } else if flags & TX_RC_40_MHZ != 0 {
            Width::Mhz40
        } else {
            Width::Mhz20
        };
        let gi = if flags & TX_RC_SHORT_GI != 0 {
            GuardInterval::Short400
        } else {
            GuardInterval::Normal800
        };
        if flags & TX_RC_VHT_MCS != 0 {
            let r = McsRate::new(Standard::Vht, idx & 0x0f, (idx >> 4) + 1, width, gi).ok()?;
            return Some(TxVector::Mcs(r));
        }
        if flags & TX_RC_MCS != 0 {
            let r = McsRate::new(Standard::Ht, idx % 8, idx / 8 + 1, width, gi).ok()?;
            return Some(TxVector::Mcs(r));
        }
        let offset = match band {
            Band::Ghz2_4 => 0,
            // The 5 GHz table starts at 6 Mbit/s.
            Band::Ghz5 | Band::Ghz6 => 4,
        };
        let kbps = *RATES_KBPS.get(usize::from(idx) + offset)?;
        PhyRate::from_kbps(kbps).map(TxVector::Legacy)
    }
}

/// One message from the kernel, as the medium sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FromKernel {
    /// A radio transmits a frame.
    Frame(KernelFrame),
    /// A radio got an interface with address `addr`.
    AddMacAddr {
        /// The radio.
        radio: MacAddr,
        /// The interface's address.
        addr: MacAddr,
    },
    /// A radio's interface with address `addr` went away.
    DelMacAddr {
        /// The radio.
        radio: MacAddr,
        /// The interface's address.
        addr: MacAddr,
    },
    /// The kernel acknowledged a request (error code 0).
    Ack,
    /// The kernel refused a request with `-errno`.
    Error {
        /// The (positive) errno.
        errno: i32,
    },
    /// Anything else (another command, another family): ignored.
    Other {
        /// The netlink message type.
        nl_type: u16,
        /// The generic netlink command, if it had one.
        cmd: Option<u8>,
    },
}

/// A message for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToKernel {
    /// `HWSIM_CMD_FRAME`: radio `radio` receives `frame`.
    Frame {
        /// The receiving radio.
        radio: MacAddr,
        /// The 802.11 frame, without FCS.
        frame: Bytes,
        /// The received signal, dBm.
        signal_dbm: i32,
        /// The index of the rate in the radio's bitrate table ([`rate_index`]).
        rate_index: u32,
        /// The frequency, MHz.
        freq: u32,
    },
    /// `HWSIM_CMD_TX_INFO_FRAME`: the status of the frame with `cookie` that `radio` sent.
    TxInfo {
        /// The radio that sent the frame.
        radio: MacAddr,
        /// The frame's flags, with [`TX_STAT_ACK`] if it was acknowledged.
        flags: u32,
        /// The kernel's handle.
        cookie: u64,
        /// The signal of the acknowledgement, dBm.
        signal_dbm: i32,
        /// The rates and attempts.
        rates: TxRates,
    },
}

/// The index of the bitrate `kbps` in a hwsim radio's table for `band` (0, the slowest, if it
/// has no such rate).
pub(crate) fn rate_index(kbps: u32, band: Band) -> u32 {
    let table = match band {
        Band::Ghz2_4 => &RATES_KBPS[..],
        Band::Ghz5 | Band::Ghz6 => RATES_KBPS.get(4..).unwrap_or(&[]),
    };
    // An HT/VHT/HE rate has no index in the table (the attribute has no MCS form): the
    // fastest legacy rate not above it stands in for it.
    let exact = table.iter().position(|&r| r == kbps);
    let below = || {
        table
            .iter()
            .enumerate()
            .filter(|(_, &r)| r <= kbps)
            .max_by_key(|(_, &r)| r)
            .map(|(i, _)| i)
    };
    exact
        .or_else(below)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

/// The channel of frequency `freq` MHz, if it is one vwifi knows.
pub(crate) fn channel_of(freq: u32) -> Option<Channel> {
    Channel::from_frequency_mhz(u16::try_from(freq).ok()?)
}

pub(super) type GenlMsg = Genlmsghdr<u8, u16>;

pub(super) fn attr<P: neli::Size + neli::ToBytes>(
    kind: u16,
    payload: P,
) -> Result<Nlattr<u16, neli::types::Buffer>, neli::err::SerError> {
    Nlattr::new(false, false, kind, payload)
}

/// The bytes of a generic netlink request `cmd` of family `family` with `attrs`.
pub(super) fn request(
    family: u16,
    cmd: u8,
    ack: bool,
    seq: u32,
    attrs: GenlBuffer<u16, neli::types::Buffer>,
) -> Result<Vec<u8>, neli::err::SerError> {
    let flags = if ack {
        NlmFFlags::new(&[NlmF::Request, NlmF::Ack])
    } else {
        NlmFFlags::new(&[NlmF::Request])
    };
    let msg = Nlmsghdr::new(
        None,
        family,
        flags,
        Some(seq),
        None,
        NlPayload::Payload(GenlMsg::new(cmd, VERSION, attrs)),
    );
    let mut out = Cursor::new(Vec::new());
    msg.to_bytes(&mut out)?;
    Ok(out.into_inner())
}

/// `HWSIM_CMD_REGISTER`, asking for an acknowledgement.
pub(crate) fn register(family: u16, seq: u32) -> Result<Vec<u8>, neli::err::SerError> {
    request(family, CMD_REGISTER, true, seq, GenlBuffer::new())
}

/// `HWSIM_CMD_NEW_RADIO` for a radio named `name` without an interface, destroyed when the
/// sending socket closes; the kernel answers with the radio's index as the acknowledgement's
/// code ([`ack_code`]).
pub(crate) fn new_radio(family: u16, seq: u32, name: &str) -> Result<Vec<u8>, neli::err::SerError> {
    let mut attrs = GenlBuffer::new();
    attrs.push(attr(ATTR_RADIO_NAME, name)?);
    attrs.push(attr(ATTR_NO_VIF, &[][..])?);
    attrs.push(attr(ATTR_DESTROY_RADIO_ON_CLOSE, &[][..])?);
    request(family, CMD_NEW_RADIO, true, seq, attrs)
}

/// `HWSIM_CMD_DEL_RADIO` of the radio named `name`.
pub(crate) fn del_radio(family: u16, seq: u32, name: &str) -> Result<Vec<u8>, neli::err::SerError> {
    let mut attrs = GenlBuffer::new();
    attrs.push(attr(ATTR_RADIO_NAME, name)?);
    request(family, CMD_DEL_RADIO, true, seq, attrs)
}

/// The code of the first acknowledgement (`NLMSG_ERROR`) in a datagram: 0 or a positive
/// value on success (`HWSIM_CMD_NEW_RADIO` answers with the radio's index), a negative errno
/// on failure; `None` if the datagram holds no acknowledgement.
pub(crate) fn ack_code(buf: &[u8]) -> Option<i32> {
    let mut offset = 0;
    while offset < buf.len() {
        let rest = buf.get(offset..)?;
        let len = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(|b: [u8; 4]| u32::from_ne_bytes(b) as usize)?;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let nl_type = rest
            .get(4..6)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_ne_bytes)?;
        if nl_type == NLMSG_ERROR {
            return rest
                .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes);
        }
        offset += (len + 3) & !3;
    }
    None
}

impl ToKernel {
    /// The message's bytes for family `family`, with sequence number `seq`.
    pub(crate) fn to_bytes(&self, family: u16, seq: u32) -> Result<Vec<u8>, neli::err::SerError> {
        let mut attrs = GenlBuffer::new();
        match self {
            Self::Frame {
                radio,
                frame,
                signal_dbm,
                rate_index,
                freq,
            } => {
                attrs.push(attr(ATTR_ADDR_RECEIVER, &radio.octets()[..])?);
                attrs.push(attr(ATTR_FRAME, &frame[..])?);
                attrs.push(attr(ATTR_RX_RATE, *rate_index)?);
                attrs.push(attr(ATTR_SIGNAL, *signal_dbm as u32)?);
                attrs.push(attr(ATTR_FREQ, *freq)?);
                request(family, CMD_FRAME, false, seq, attrs)
            }
            Self::TxInfo {
                radio,
                flags,
                cookie,
                signal_dbm,
                rates,
            } => {
                attrs.push(attr(ATTR_ADDR_TRANSMITTER, &radio.octets()[..])?);
                attrs.push(attr(ATTR_FLAGS, *flags)?);
                attrs.push(attr(ATTR_COOKIE, *cookie)?);
                attrs.push(attr(ATTR_SIGNAL, *signal_dbm as u32)?);
                attrs.push(attr(ATTR_TX_INFO, &rates.to_bytes()[..])?);
                request(family, CMD_TX_INFO_FRAME, false, seq, attrs)
            }
        }
    }
}

/// Every message of one datagram from the kernel, each parsed on its own: a message that
/// cannot be understood is an `Err` in its place, and the others still count. A length that
/// leaves the rest of the datagram unreadable ends the list with its error.
pub(crate) fn parse_datagram(buf: &[u8], family: u16) -> Vec<Result<FromKernel, MsgError>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let rest = buf.get(offset..).unwrap_or(&[]);
        let len = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_ne_bytes(b) as usize);
        if len < NLMSG_HDRLEN || len > rest.len() {
            out.push(Err(MsgError::Truncated {
                offset,
                need: len.max(NLMSG_HDRLEN),
                have: rest.len(),
            }));
            break;
        }
        out.push(parse_message(rest.get(..len).unwrap_or(&[]), family));
        offset += (len + 3) & !3;
    }
    out
}

/// The generic netlink header's length.
const GENL_HDRLEN: usize = 4;

/// Checks what neli takes on trust in a generic netlink message: a generic header, and
/// attributes whose lengths cover their own header and stay inside the message.
fn check_attrs(msg: &[u8]) -> Result<(), MsgError> {
    let mut at = NLMSG_HDRLEN + GENL_HDRLEN;
    if msg.len() < at {
        return Err(MsgError::Truncated {
            offset: 0,
            need: at,
            have: msg.len(),
        });
    }
    while at < msg.len() {
        let len = msg
            .get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 2]| usize::from(u16::from_ne_bytes(b)));
        if len < 4 || at + len > msg.len() {
            return Err(MsgError::BadAttribute {
                at,
                len,
                have: msg.len(),
            });
        }
        at += (len + 3) & !3;
    }
    Ok(())
}

/// One netlink message (header included, exactly its length).
fn parse_message(msg: &[u8], family: u16) -> Result<FromKernel, MsgError> {
    let nl_type = msg
        .get(4..6)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u16::from_ne_bytes);
    if nl_type == NLMSG_ERROR {
        let code = msg
            .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_ne_bytes)
            .ok_or(MsgError::Truncated {
                offset: 0,
                need: NLMSG_HDRLEN + 4,
                have: msg.len(),
            })?;
        return Ok(if code == 0 {
            FromKernel::Ack
        } else {
            FromKernel::Error {
                errno: code.saturating_neg(),
            }
        });
    }
    if nl_type != family {
        return Ok(FromKernel::Other { nl_type, cmd: None });
    }
    check_attrs(msg)?;
    let parsed =
        Nlmsghdr::<u16, GenlMsg>::from_bytes(&mut Cursor::new(msg)).map_err(MsgError::Decode)?;
    let NlPayload::Payload(genl) = parsed.nl_payload else {
        return Ok(FromKernel::Other { nl_type, cmd: None });
    };
    let attrs = Attrs::of(&genl);
    match genl.cmd {
        CMD_FRAME => {
            let cmd = "HWSIM_CMD_FRAME";
            let radio = attrs.addr(cmd, ATTR_ADDR_TRANSMITTER, "HWSIM_ATTR_ADDR_TRANSMITTER")?;
            let frame = attrs.need(cmd, ATTR_FRAME, "HWSIM_ATTR_FRAME")?;
            let flags = attrs.u32(cmd, ATTR_FLAGS, "HWSIM_ATTR_FLAGS")?;
            let cookie = attrs.u64(cmd, ATTR_COOKIE, "HWSIM_ATTR_COOKIE")?;
            let freq = match attrs.get(ATTR_FREQ) {
                Some(_) => Some(attrs.u32(cmd, ATTR_FREQ, "HWSIM_ATTR_FREQ")?),
                None => None,
            };
            let rates = match attrs.get(ATTR_TX_INFO) {
                Some(p) => TxRates::parse(p)?,
                None => TxRates::NONE,
            };
            let rate_flags = match attrs.get(ATTR_TX_INFO_FLAGS) {
                Some(p) => parse_rate_flags(p)?,
                None => [0; TX_MAX_RATES],
            };
            Ok(FromKernel::Frame(KernelFrame {
                radio,
                frame: Bytes::copy_from_slice(frame),
                flags,
                cookie,
                freq,
                rates,
                rate_flags,
            }))
        }
        CMD_ADD_MAC_ADDR | CMD_DEL_MAC_ADDR => {
            let cmd = if genl.cmd == CMD_ADD_MAC_ADDR {
                "HWSIM_CMD_ADD_MAC_ADDR"
            } else {
                "HWSIM_CMD_DEL_MAC_ADDR"
            };
            let radio = attrs.addr(cmd, ATTR_ADDR_TRANSMITTER, "HWSIM_ATTR_ADDR_TRANSMITTER")?;
            let addr = attrs.addr(cmd, ATTR_ADDR_RECEIVER, "HWSIM_ATTR_ADDR_RECEIVER")?;
            Ok(if genl.cmd == CMD_ADD_MAC_ADDR {
                FromKernel::AddMacAddr { radio, addr }
            } else {
                FromKernel::DelMacAddr { radio, addr }
            })
        }
        cmd => Ok(FromKernel::Other {
            nl_type,
            cmd: Some(cmd),
        }),
    }
}

/// The flags of `HWSIM_ATTR_TX_INFO_FLAGS`: up to four packed `{ s8 idx; u16 flags; }`.
fn parse_rate_flags(payload: &[u8]) -> Result<[u16; TX_MAX_RATES], MsgError> {
    if payload.len() % 3 != 0 || payload.len() > 3 * TX_MAX_RATES {
        return Err(MsgError::BadLength {
            attr: "HWSIM_ATTR_TX_INFO_FLAGS",
            len: payload.len(),
            expected: "up to 4 triples of bytes",
        });
    }
    let mut out = [0u16; TX_MAX_RATES];
    for (slot, t) in out.iter_mut().zip(payload.chunks_exact(3)) {
        if let [_, lo, hi] = *t {
            *slot = u16::from_ne_bytes([lo, hi]);
        }
    }
    Ok(out)
}

/// The attributes of a message, by type (the first of each type counts).
struct Attrs {
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Attrs {
    fn of(genl: &GenlMsg) -> Self {
        let handle = genl.get_attr_handle();
        let attrs = handle
            .get_attrs()
            .iter()
            .map(|a| (a.nla_type.nla_type, a.nla_payload.as_ref().to_vec()))
            .collect();
        Self { attrs }
    }

    fn get(&self, kind: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| p.as_slice())
    }

    fn need(&self, cmd: &'static str, kind: u16, name: &'static str) -> Result<&[u8], MsgError> {
        self.get(kind)
            .ok_or(MsgError::MissingAttr { cmd, attr: name })
    }

    fn fixed<const N: usize>(
        &self,
        cmd: &'static str,
        kind: u16,
        name: &'static str,
        expected: &'static str,
    ) -> Result<[u8; N], MsgError> {
        let p = self.need(cmd, kind, name)?;
        p.try_into().map_err(|_| MsgError::BadLength {
            attr: name,
            len: p.len(),
            expected,
        })
    }

    fn addr(&self, cmd: &'static str, kind: u16, name: &'static str) -> Result<MacAddr, MsgError> {
        self.fixed::<6>(cmd, kind, name, "6 bytes")
            .map(MacAddr::from)
    }

    fn u32(&self, cmd: &'static str, kind: u16, name: &'static str) -> Result<u32, MsgError> {
        self.fixed::<4>(cmd, kind, name, "4 bytes")
            .map(u32::from_ne_bytes)
    }

    fn u64(&self, cmd: &'static str, kind: u16, name: &'static str) -> Result<u64, MsgError> {
        self.fixed::<8>(cmd, kind, name, "8 bytes")
            .map(u64::from_ne_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: u16 = 0x1d;

    /// A netlink attribute as the kernel lays it out: length, type, payload, padding.
    fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = 4 + payload.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    /// A generic netlink message of the family, as the kernel sends it.
    fn genl(nl_type: u16, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = attrs.concat();
        let len = 16 + 4 + body.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&nl_type.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&7u32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&[cmd, 1, 0, 0]);
        out.extend_from_slice(&body);
        out
    }

    fn radio(n: u8) -> MacAddr {
        MacAddr::from([0x42, 0, 0, 0, n, 0])
    }

    fn kernel_frame_msg(freq: Option<u32>) -> Vec<u8> {
        let mut attrs = vec![
            nla(ATTR_ADDR_TRANSMITTER, &radio(1).octets()),
            nla(
                ATTR_FRAME,
                &[0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
            nla(ATTR_FLAGS, &1u32.to_ne_bytes()),
            nla(ATTR_TX_INFO, &[11, 3, 4, 2, 0xff, 0, 0xff, 0]),
            nla(ATTR_COOKIE, &0x1122_3344_5566_7788u64.to_ne_bytes()),
        ];
        if let Some(f) = freq {
            attrs.push(nla(ATTR_FREQ, &f.to_ne_bytes()));
        }
        genl(FAMILY, CMD_FRAME, &attrs)
    }

    #[test]
    fn a_kernel_frame_is_parsed_with_its_cookie_rates_and_frequency() {
        let got = parse_datagram(&kernel_frame_msg(Some(2437)), FAMILY);
        let [Ok(FromKernel::Frame(f))] = &got[..] else {
            panic!("{got:?}");
        };
        assert_eq!(f.radio, radio(1));
        assert_eq!(f.frame.len(), 11);
        assert_eq!(f.flags, 1);
        assert_eq!(f.cookie, 0x1122_3344_5566_7788);
        assert_eq!(f.freq, Some(2437));
        assert_eq!(f.rates.rates, [(11, 3), (4, 2), (-1, 0), (-1, 0)]);
        assert_eq!(channel_of(2437).map(|c| c.number()), Some(6));
    }

    #[test]
    fn the_kernel_s_ht_and_vht_rates_become_tx_vectors() {
        // HT MCS 15 (two streams, MCS 7), 40 MHz, short GI, then a fallback entry.
        let mut attrs = vec![
            nla(ATTR_ADDR_TRANSMITTER, &radio(1).octets()),
            nla(ATTR_FRAME, &[0x08, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2]),
            nla(ATTR_FLAGS, &1u32.to_ne_bytes()),
            nla(ATTR_TX_INFO, &[15, 2, 0, 3, 0xff, 0, 0xff, 0]),
            nla(ATTR_COOKIE, &7u64.to_ne_bytes()),
        ];
        let ht = TX_RC_MCS | TX_RC_40_MHZ | TX_RC_SHORT_GI;
        let mut flags = vec![15];
        flags.extend_from_slice(&ht.to_ne_bytes());
        flags.extend_from_slice(&[0, 0, 0]);
        attrs.push(nla(ATTR_TX_INFO_FLAGS, &flags));
        let got = parse_datagram(&genl(FAMILY, CMD_FRAME, &attrs), FAMILY);
        let [Ok(FromKernel::Frame(f))] = &got[..] else {
            panic!("{got:?}");
        };
        assert_eq!(f.rate_flags, [ht, 0, 0, 0]);
        assert_eq!(f.tx_vector(Band::Ghz5).map(|v| v.kbps()), Some(300_000));
        // VHT: streams - 1 in the high nibble, MCS in the low one; 80 MHz, short GI.
        let vht = KernelFrame {
            rates: TxRates {
                rates: [(0x19, 1), (-1, 0), (-1, 0), (-1, 0)],
            },
            rate_flags: [TX_RC_VHT_MCS | TX_RC_80_MHZ | TX_RC_SHORT_GI, 0, 0, 0],
            ..f.clone()
        };
        assert_eq!(vht.tx_vector(Band::Ghz5).map(|v| v.kbps()), Some(866_667));
        // Legacy: an index into the band's table (5 GHz starts at 6 Mbit/s).
        let legacy = KernelFrame {
            rates: TxRates {
                rates: [(7, 1), (-1, 0), (-1, 0), (-1, 0)],
            },
            rate_flags: [0; 4],
            ..f.clone()
        };
        assert_eq!(legacy.tx_vector(Band::Ghz5).map(|v| v.kbps()), Some(54_000));
        assert_eq!(
            legacy.tx_vector(Band::Ghz2_4).map(|v| v.kbps()),
            Some(18_000)
        );
        let none = KernelFrame {
            rates: TxRates::NONE,
            ..f.clone()
        };
        assert_eq!(none.tx_vector(Band::Ghz5), None);
        // A flags attribute of the wrong size is an error naming it.
        attrs.pop();
        attrs.push(nla(ATTR_TX_INFO_FLAGS, &[1, 2]));
        let got = parse_datagram(&genl(FAMILY, CMD_FRAME, &attrs), FAMILY);
        assert!(
            matches!(
                &got[..],
                [Err(MsgError::BadLength {
                    attr: "HWSIM_ATTR_TX_INFO_FLAGS",
                    ..
                })]
            ),
            "{got:?}"
        );
    }

    #[test]
    fn several_messages_in_one_datagram_are_each_parsed() {
        let mut dgram = kernel_frame_msg(None);
        dgram.extend(genl(
            FAMILY,
            CMD_ADD_MAC_ADDR,
            &[
                nla(ATTR_ADDR_TRANSMITTER, &radio(0).octets()),
                nla(ATTR_ADDR_RECEIVER, &[2, 0, 0, 0, 0, 0]),
            ],
        ));
        let got = parse_datagram(&dgram, FAMILY);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(&got[0], Ok(FromKernel::Frame(f)) if f.freq.is_none()));
        assert!(matches!(
            &got[1],
            Ok(FromKernel::AddMacAddr { radio: r, addr }) if *r == radio(0)
                && *addr == MacAddr::from([2, 0, 0, 0, 0, 0])
        ));
    }

    #[test]
    fn acks_and_errors_are_told_apart() {
        let err = |code: i32| {
            let mut m = Vec::new();
            m.extend_from_slice(&36u32.to_ne_bytes());
            m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            m.extend_from_slice(&[0; 10]);
            m.extend_from_slice(&code.to_ne_bytes());
            m.extend_from_slice(&[0; 16]);
            m
        };
        assert!(matches!(
            parse_datagram(&err(0), FAMILY)[..],
            [Ok(FromKernel::Ack)]
        ));
        assert!(matches!(
            parse_datagram(&err(-16), FAMILY)[..],
            [Ok(FromKernel::Error { errno: 16 })]
        ));
    }

    #[test]
    fn malformed_messages_are_errors_naming_what_is_wrong() {
        // A frame without its cookie.
        let m = genl(
            FAMILY,
            CMD_FRAME,
            &[
                nla(ATTR_ADDR_TRANSMITTER, &radio(1).octets()),
                nla(ATTR_FRAME, &[0; 24]),
                nla(ATTR_FLAGS, &0u32.to_ne_bytes()),
            ],
        );
        let got = parse_datagram(&m, FAMILY);
        let [Err(e)] = &got[..] else {
            panic!("{got:?}")
        };
        assert_eq!(e.to_string(), "HWSIM_CMD_FRAME without HWSIM_ATTR_COOKIE");
        // A short transmitter address.
        let m = genl(
            FAMILY,
            CMD_ADD_MAC_ADDR,
            &[
                nla(ATTR_ADDR_TRANSMITTER, &[0x42, 0, 0]),
                nla(ATTR_ADDR_RECEIVER, &[2, 0, 0, 0, 0, 0]),
            ],
        );
        let got = parse_datagram(&m, FAMILY);
        assert!(
            matches!(&got[..], [Err(MsgError::BadLength { len: 3, .. })]),
            "{got:?}"
        );
        // A length running past the datagram, and one shorter than a header.
        let mut m = kernel_frame_msg(None);
        m.truncate(m.len() - 4);
        assert!(matches!(
            parse_datagram(&m, FAMILY)[..],
            [Err(MsgError::Truncated { offset: 0, .. })]
        ));
        assert!(matches!(
            parse_datagram(&[4, 0, 0, 0, 0, 0], FAMILY)[..],
            [Err(MsgError::Truncated { need: 16, .. })]
        ));
        // An attribute whose length overruns its message, and one shorter than its own
        // header (neli would panic on it), are refused before neli sees them.
        let mut m = kernel_frame_msg(None);
        m[20] = 0xff;
        assert!(matches!(
            parse_datagram(&m, FAMILY)[..],
            [Err(MsgError::BadAttribute { at: 20, .. })]
        ));
        let mut m = kernel_frame_msg(None);
        m[20] = 2;
        m[21] = 0;
        assert!(matches!(
            parse_datagram(&m, FAMILY)[..],
            [Err(MsgError::BadAttribute { at: 20, len: 2, .. })]
        ));
        // Another family's message and another command are not errors, only ignored.
        assert!(matches!(
            parse_datagram(&genl(FAMILY + 1, CMD_FRAME, &[]), FAMILY)[..],
            [Ok(FromKernel::Other { cmd: None, .. })]
        ));
        assert!(matches!(
            parse_datagram(&genl(FAMILY, 6, &[]), FAMILY)[..],
            [Ok(FromKernel::Other { cmd: Some(6), .. })]
        ));
    }

    #[test]
    fn random_bytes_never_panic_the_parser() {
        let mut x: u32 = 0x1234_5678;
        let base = kernel_frame_msg(Some(2412));
        for round in 0..2000 {
            let mut m = base.clone();
            for _ in 0..(round % 7 + 1) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % m.len();
                m[i] = (x >> 8) as u8;
            }
            m.truncate(x as usize % (m.len() + 1));
            let _ = parse_datagram(&m, FAMILY);
        }
    }

    /// Reads back what we send as the kernel's `nla_parse` would.
    fn attrs_of(bytes: &[u8]) -> (u16, u8, Vec<(u16, Vec<u8>)>) {
        let len = u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len());
        let nl_type = u16::from_ne_bytes(bytes[4..6].try_into().unwrap());
        let cmd = bytes[16];
        let mut out = Vec::new();
        let mut at = 20;
        while at < len {
            let alen = u16::from_ne_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(bytes[at + 2..at + 4].try_into().unwrap());
            out.push((kind, bytes[at + 4..at + alen].to_vec()));
            at += (alen + 3) & !3;
        }
        (nl_type, cmd, out)
    }

    #[test]
    fn a_frame_for_a_radio_carries_receiver_rate_signal_and_frequency() {
        let msg = ToKernel::Frame {
            radio: radio(2),
            frame: Bytes::from_static(&[0x08, 0x01, 0, 0, 1, 2, 3]),
            signal_dbm: -47,
            rate_index: 11,
            freq: 2412,
        };
        let (nl_type, cmd, attrs) = attrs_of(&msg.to_bytes(FAMILY, 9).unwrap());
        assert_eq!((nl_type, cmd), (FAMILY, CMD_FRAME));
        assert_eq!(
            attrs,
            vec![
                (ATTR_ADDR_RECEIVER, radio(2).octets().to_vec()),
                (ATTR_FRAME, vec![0x08, 0x01, 0, 0, 1, 2, 3]),
                (ATTR_RX_RATE, 11u32.to_ne_bytes().to_vec()),
                (ATTR_SIGNAL, (-47i32).to_ne_bytes().to_vec()),
                (ATTR_FREQ, 2412u32.to_ne_bytes().to_vec()),
            ]
        );
    }

    #[test]
    fn a_tx_status_echoes_the_cookie_with_the_ack_flag_and_attempts() {
        let rates = TxRates::parse(&[11, 3, 4, 2, 0xff, 0, 0xff, 0]).unwrap();
        let msg = ToKernel::TxInfo {
            radio: radio(1),
            flags: 1 | TX_STAT_ACK,
            cookie: 42,
            signal_dbm: -50,
            rates: rates.reported(true, 2),
        };
        let (_, cmd, attrs) = attrs_of(&msg.to_bytes(FAMILY, 1).unwrap());
        assert_eq!(cmd, CMD_TX_INFO_FRAME);
        assert_eq!(
            attrs,
            vec![
                (ATTR_ADDR_TRANSMITTER, radio(1).octets().to_vec()),
                (ATTR_FLAGS, 5u32.to_ne_bytes().to_vec()),
                (ATTR_COOKIE, 42u64.to_ne_bytes().to_vec()),
                (ATTR_SIGNAL, (-50i32).to_ne_bytes().to_vec()),
                (ATTR_TX_INFO, vec![11, 2, 0xff, 0, 0xff, 0, 0xff, 0]),
            ]
        );
        // Not acknowledged: the rates go back as tried.
        assert_eq!(rates.reported(false, 7), rates);
    }

    #[test]
    fn register_asks_for_an_acknowledgement() {
        let bytes = register(FAMILY, 3).unwrap();
        let (nl_type, cmd, attrs) = attrs_of(&bytes);
        assert_eq!((nl_type, cmd), (FAMILY, CMD_REGISTER));
        assert!(attrs.is_empty());
        let flags = u16::from_ne_bytes(bytes[6..8].try_into().unwrap());
        assert_eq!(flags, 0x1 | 0x4, "NLM_F_REQUEST | NLM_F_ACK");
    }

    #[test]
    fn new_radio_names_the_radio_without_interface_and_dies_with_its_socket() {
        let bytes = new_radio(FAMILY, 4, "vw-c1").unwrap();
        let (nl_type, cmd, attrs) = attrs_of(&bytes);
        assert_eq!((nl_type, cmd), (FAMILY, CMD_NEW_RADIO));
        let name = attrs.iter().find(|(t, _)| *t == ATTR_RADIO_NAME).unwrap();
        assert_eq!(name.1.split(|&b| b == 0).next().unwrap(), b"vw-c1");
        assert!(attrs.iter().any(|(t, p)| *t == ATTR_NO_VIF && p.is_empty()));
        assert!(attrs
            .iter()
            .any(|(t, p)| *t == ATTR_DESTROY_RADIO_ON_CLOSE && p.is_empty()));
        let del = del_radio(FAMILY, 5, "vw-c1").unwrap();
        let (_, cmd, attrs) = attrs_of(&del);
        assert_eq!(cmd, CMD_DEL_RADIO);
        assert_eq!(attrs.len(), 1);
    }

    #[test]
    fn the_acknowledgement_code_carries_a_new_radios_index_or_the_error() {
        let ack = |code: i32| {
            let mut m = Vec::new();
            m.extend_from_slice(&36u32.to_ne_bytes());
            m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            m.extend_from_slice(&[0; 10]);
            m.extend_from_slice(&code.to_ne_bytes());
            m.extend_from_slice(&[0; 16]);
            m
        };
        assert_eq!(ack_code(&ack(7)), Some(7));
        assert_eq!(ack_code(&ack(-17)), Some(-17));
        let mut two = genl(FAMILY, CMD_FRAME, &[]);
        two.extend(ack(0));
        assert_eq!(ack_code(&two), Some(0));
        assert_eq!(ack_code(&genl(FAMILY, CMD_FRAME, &[])), None);
        assert_eq!(ack_code(&[1, 2, 3]), None);
        assert_eq!(ack_code(&ack(3)[..20]), None);
    }

    #[test]
    fn rate_indexes_follow_the_hwsim_bitrate_tables() {
        assert_eq!(rate_index(1000, Band::Ghz2_4), 0);
        assert_eq!(rate_index(54000, Band::Ghz2_4), 11);
        assert_eq!(rate_index(6000, Band::Ghz2_4), 4);
        assert_eq!(rate_index(6000, Band::Ghz5), 0);
        assert_eq!(rate_index(54000, Band::Ghz5), 7);
        assert_eq!(rate_index(7, Band::Ghz5), 0);
        // An MCS rate: the fastest legacy rate not above it.
        assert_eq!(rate_index(300_000, Band::Ghz5), 7);
        assert_eq!(rate_index(13_000, Band::Ghz2_4), 6);
    }
}
