//! A transmission shared with other daemons' air (federation), and its wire encoding.
//!
//! Each daemon of a federated air simulates its own nodes; the medium hands out every frame
//! they put on the air as a [`FederatedTx`] ([`crate::sim::medium::Medium::poll_federated`]),
//! the host sends it to the other daemons, and each of them hands it to its own medium
//! ([`crate::sim::medium::Medium::handle_remote`]), which delivers it to its local listeners
//! through the same path-loss, loss and airtime model, from the sender's (global) position.
//! The transport is the host's business: this module only defines what travels and how it is
//! encoded.
//!
//! # What the medium does with it
//! - **Out.** Once [`Medium::enable_federation`] is called, every frame a local node puts on
//!   the air (not the Acks, not the medium's own Block Ack setup frames) is also queued for
//!   [`Medium::poll_federated`]; at most [`FederationConfig::outbox_limit`] wait, more are
//!   dropped and counted ([`FederationStats::outbox_dropped`]).
//! - **In.** [`Medium::handle_remote`] takes a remote transmission at the local arrival time:
//!   every local node tuned to its channel hears it from the sender's position and power through
//!   the same path-loss, sensitivity, frame-error and extra-loss model as a local frame (and
//!   loses it if a local frame it also hears is on the air). The channel then counts as busy for
//!   the frame's duration (plus SIFS and Ack for an acknowledged frame) from the arrival: local
//!   contenders defer as to a local frame. Clocks are not synchronised: the sender's timestamp
//!   is not used for timing.
//! - **Acks across daemons.** The medium learns every remote transmitter address (address 2)
//!   for [`FederationConfig::address_lifetime`]. A local unicast frame to such an address is
//!   acknowledged on the remote receiver's behalf: the sender is told `Acked` after its frame,
//!   SIFS and the Ack time (a network round trip cannot fit in an Ack timeout, so none is
//!   waited for). A frame the remote side then loses is lost as a frame whose Ack was heard but
//!   whose data was not; the layers above recover.
//! - **Uniqueness.** A remote frame whose transmitter address belongs to a local node is refused
//!   ([`RemoteOutcome::Clash`]) and counted, never delivered.
//!
//! [`Medium::enable_federation`]: crate::sim::medium::Medium::enable_federation
//! [`Medium::poll_federated`]: crate::sim::medium::Medium::poll_federated
//! [`Medium::handle_remote`]: crate::sim::medium::Medium::handle_remote
//! [`FederationConfig::outbox_limit`]: crate::sim::medium::FederationConfig::outbox_limit
//! [`FederationConfig::address_lifetime`]: crate::sim::medium::FederationConfig::address_lifetime
//! [`FederationStats::outbox_dropped`]: crate::sim::medium::FederationStats::outbox_dropped
//! [`RemoteOutcome::Clash`]: crate::sim::medium::RemoteOutcome::Clash
//!
//! # Wire encoding (version 2)
//! All integers little-endian; every message is exactly one transmission, nothing may trail.
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `VWFA` |
//! | 1 | version (2; 1 carried a channel number, which cannot tell 6 GHz channels apart) |
//! | 1 | origin length `n` (1..=[`MAX_ORIGIN_LEN`]) |
//! | n | origin: the sending daemon's node name (UTF-8, printable, no spaces) |
//! | 8 | sequence number (per origin, from 0) |
//! | 8 | timestamp: the sender's medium clock at the start of the frame, µs (informational) |
//! | 2 | the channel's centre frequency, MHz (2.4, 5 or 6 GHz: [`Channel::from_frequency_mhz`]) |
//! | 8 + 8 | sender position x, y (f64, metres, finite) |
//! | 8 | sender transmit power (f64, dBm, finite, -100..=100) |
//! | 1 | rate kind: 0 legacy, 1 MCS |
//! | 5 | legacy: rate index in [`PhyRate::ALL`], then 4 zero bytes; MCS: standard (1 HT, 2 VHT, 3 HE), MCS, NSS, width (0..=3: 20..160 MHz), GI (0..=3: 0.4, 0.8, 1.6, 3.2 µs) |
//! | 4 | duration on the air, µs (at most [`MAX_DURATION`]) |
//! | 2 | frame length `m` (1..=[`MAX_FRAME_LEN`]) |
//! | m | the 802.11 frame as sent (no FCS) |

use core::time::Duration;

use bytes::Bytes;

use crate::channel::Channel;
use crate::phy::{GuardInterval, McsRate, Standard, TxVector, Width};
use crate::sim::medium::{PhyRate, Position};
use crate::time::Instant;

/// The first bytes of every message.
pub const MAGIC: [u8; 4] = *b"VWFA";
/// The version this code writes and reads.
pub const VERSION: u8 = 2;
/// The longest origin (daemon node) name, in bytes.
pub const MAX_ORIGIN_LEN: usize = 64;
/// The longest frame carried (an 802.11 MPDU is at most 11454 bytes).
pub const MAX_FRAME_LEN: usize = 11_454;
/// The longest airtime accepted: a PPDU lasts at most 5.484 ms.
pub const MAX_DURATION: Duration = Duration::from_millis(10);
/// The largest transmit power accepted, in dBm (either sign).
pub const MAX_TX_POWER_DBM: f64 = 100.0;

/// One frame a node put on the air, as another daemon's medium needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedTx {
    /// The channel it was sent on.
    pub channel: Channel,
    /// The 802.11 frame as sent (Retry bit included, no FCS).
    pub frame: Bytes,
    /// The sender's position (positions are global across the air).
    pub position: Position,
    /// The sender's transmit power, dBm.
    pub tx_power_dbm: f64,
    /// The PHY rate it was sent at.
    pub rate: TxVector,
    /// How long it occupied the channel.
    pub duration: Duration,
    /// The sender's medium clock when it started (clocks are not synchronised: receivers use
    /// their own arrival time; this is for captures and diagnostics).
    pub timestamp: Instant,
}

/// A [`FederatedTx`] with the name of the daemon that sent it and its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedMessage {
    /// The sending daemon's node name.
    pub origin: String,
    /// Per origin, counting from 0: a gap is a message lost on the way.
    pub seq: u64,
    /// The transmission.
    pub tx: FederatedTx,
}

/// Why bytes are not a federated transmission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederatedWireError {
    /// Shorter than its fields say.
    #[error("truncated federated message (needed {needed} more bytes for {field})")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// How many bytes were missing.
        needed: usize,
    },
    /// Not a vwifi federation message.
    #[error("not a vwifi federation message (bad magic)")]
    BadMagic,
    /// A version this code does not read.
    #[error("unsupported federation message version {0}")]
    Version(u8),
    /// A field out of range.
    #[error("invalid {field} in federated message")]
    Invalid {
        /// The field.
        field: &'static str,
    },
    /// Bytes after the frame.
    #[error("{0} trailing bytes after the federated message")]
    Trailing(usize),
}

/// Whether `name` may name a daemon of the air: 1 to [`MAX_ORIGIN_LEN`] bytes of ASCII letters,
/// digits, `-`, `_` and `.`.
pub fn valid_origin(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ORIGIN_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl FederatedMessage {
    /// The encoded length.
    pub fn buffer_len(&self) -> usize {
        4 + 1 + 1 + self.origin.len() + 8 + 8 + 2 + 24 + 6 + 4 + 2 + self.tx.frame.len()
    }

    /// Appends the encoding to `out`. Fails (writing nothing) if a field cannot be encoded:
    /// an invalid origin, a frame empty or too long, a non-finite position or power, an
    /// airtime over [`MAX_DURATION`].
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), FederatedWireError> {
        let tx = &self.tx;
        check(valid_origin(&self.origin), "origin")?;
        check(
            !tx.frame.is_empty() && tx.frame.len() <= MAX_FRAME_LEN,
            "frame length",
        )?;
        check(
            tx.position.x.is_finite() && tx.position.y.is_finite(),
            "position",
        )?;
        check(valid_power(tx.tx_power_dbm), "tx power")?;
        check(tx.duration <= MAX_DURATION, "duration")?;
        let duration = u32::try_from(tx.duration.as_micros()).map_err(|_| invalid("duration"))?;
        let frame_len = u16::try_from(tx.frame.len()).map_err(|_| invalid("frame length"))?;
        let origin_len = u8::try_from(self.origin.len()).map_err(|_| invalid("origin"))?;
        out.reserve(self.buffer_len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(origin_len);
        out.extend_from_slice(self.origin.as_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&tx.timestamp.as_micros().to_le_bytes());
        out.extend_from_slice(&tx.channel.frequency_mhz().to_le_bytes());
        out.extend_from_slice(&tx.position.x.to_le_bytes());
        out.extend_from_slice(&tx.position.y.to_le_bytes());
        out.extend_from_slice(&tx.tx_power_dbm.to_le_bytes());
        out.extend_from_slice(&encode_rate(&tx.rate));
        out.extend_from_slice(&duration.to_le_bytes());
        out.extend_from_slice(&frame_len.to_le_bytes());
        out.extend_from_slice(&tx.frame);
        Ok(())
    }

    /// The encoding as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, FederatedWireError> {
        let mut out = Vec::new();
        self.emit(&mut out)?;
        Ok(out)
    }

    /// Parses one message: every field checked, nothing may trail. Never panics.
    pub fn parse(data: &[u8]) -> Result<Self, FederatedWireError> {
        let mut r = Reader(data);
        if r.take(4, "magic")? != MAGIC {
            return Err(FederatedWireError::BadMagic);
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(FederatedWireError::Version(version));
        }
        let origin_len = usize::from(r.u8("origin length")?);
        let origin =
            core::str::from_utf8(r.take(origin_len, "origin")?).map_err(|_| invalid("origin"))?;
        check(valid_origin(origin), "origin")?;
        let seq = r.u64("sequence")?;
        let timestamp = Instant::from_micros(r.u64("timestamp")?);
        let channel = Channel::from_frequency_mhz(r.u16("channel")?).ok_or(invalid("channel"))?;
        let x = r.f64("position")?;
        let y = r.f64("position")?;
        check(x.is_finite() && y.is_finite(), "position")?;
        let tx_power_dbm = r.f64("tx power")?;
        check(valid_power(tx_power_dbm), "tx power")?;
        let rate_bytes = r.take(6, "rate")?;
        let rate = decode_rate(rate_bytes)?;
        let duration = Duration::from_micros(u64::from(r.u32("duration")?));
        check(duration <= MAX_DURATION, "duration")?;
        let frame_len = usize::from(r.u16("frame length")?);
        check(frame_len > 0 && frame_len <= MAX_FRAME_LEN, "frame length")?;
        let frame = Bytes::copy_from_slice(r.take(frame_len, "frame")?);
        if !r.0.is_empty() {
            return Err(FederatedWireError::Trailing(r.0.len()));
        }
        Ok(Self {
            origin: origin.to_owned(),
            seq,
            tx: FederatedTx {
                channel,
                frame,
                position: Position { x, y },
                tx_power_dbm,
                rate,
                duration,
                timestamp,
            },
        })
    }
}

fn valid_power(dbm: f64) -> bool {
    dbm.is_finite() && dbm.abs() <= MAX_TX_POWER_DBM
}

fn invalid(field: &'static str) -> FederatedWireError {
    FederatedWireError::Invalid { field }
}

fn check(ok: bool, field: &'static str) -> Result<(), FederatedWireError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(field))
    }
}

fn encode_rate(rate: &TxVector) -> [u8; 6] {
    match rate {
        TxVector::Legacy(r) => {
            let index = PhyRate::ALL
                .iter()
                .position(|x| x == r)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(0);
            [0, index, 0, 0, 0, 0]
        }
        TxVector::Mcs(r) => {
            let standard = match r.standard {
                Standard::Legacy => 0,
                Standard::Ht => 1,
                Standard::Vht => 2,
                Standard::He => 3,
            };
            let width = match r.width {
                Width::Mhz20 => 0,
                Width::Mhz40 => 1,
                Width::Mhz80 => 2,
                Width::Mhz160 => 3,
            };
            let gi = match r.gi {
                GuardInterval::Short400 => 0,
                GuardInterval::Normal800 => 1,
                GuardInterval::He1600 => 2,
                GuardInterval::He3200 => 3,
            };
            [1, standard, r.mcs, r.nss, width, gi]
        }
    }
}

fn decode_rate(b: &[u8]) -> Result<TxVector, FederatedWireError> {
    let [kind, a, mcs, nss, width, gi] = *b else {
        return Err(invalid("rate"));
    };
    match kind {
        0 => {
            check(mcs == 0 && nss == 0 && width == 0 && gi == 0, "rate")?;
            PhyRate::ALL
                .get(usize::from(a))
                .copied()
                .map(TxVector::Legacy)
                .ok_or(invalid("rate"))
        }
        1 => {
            let standard = match a {
                1 => Standard::Ht,
                2 => Standard::Vht,
                3 => Standard::He,
                _ => return Err(invalid("rate standard")),
            };
            let width = *Width::ALL
                .get(usize::from(width))
                .ok_or(invalid("rate width"))?;
            let gi = match gi {
                0 => GuardInterval::Short400,
                1 => GuardInterval::Normal800,
                2 => GuardInterval::He1600,
                3 => GuardInterval::He3200,
                _ => return Err(invalid("rate guard interval")),
            };
            McsRate::new(standard, mcs, nss, width, gi)
                .map(TxVector::Mcs)
                .map_err(|_| invalid("rate"))
        }
        _ => Err(invalid("rate kind")),
    }
}

/// A cursor over the message's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FederatedWireError> {
        if self.0.len() < n {
            return Err(FederatedWireError::Truncated {
                field,
                needed: n - self.0.len(),
            });
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], FederatedWireError> {
        let bytes = self.take(N, field)?;
        bytes.try_into().map_err(|_| invalid(field))
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, FederatedWireError> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, FederatedWireError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, FederatedWireError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, FederatedWireError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn f64(&mut self, field: &'static str) -> Result<f64, FederatedWireError> {
        Ok(f64::from_le_bytes(self.array(field)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phy::{GuardInterval, McsRate, Standard, Width};

    fn sample(rate: TxVector) -> FederatedMessage {
        FederatedMessage {
            origin: "host-b".into(),
            seq: 7,
            tx: FederatedTx {
                channel: Channel::new(6).unwrap(),
                frame: Bytes::from_static(&[0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
                position: Position { x: 12.5, y: -3.0 },
                tx_power_dbm: 17.0,
                rate,
                duration: Duration::from_micros(212),
                timestamp: Instant::from_micros(123_456),
            },
        }
    }

    #[test]
    fn a_message_survives_the_round_trip_with_legacy_and_mcs_rates() {
        let mcs = McsRate::new(Standard::He, 7, 2, Width::Mhz40, GuardInterval::Normal800).unwrap();
        for rate in [TxVector::Legacy(PhyRate::Ofdm24), TxVector::Mcs(mcs)] {
            let msg = sample(rate);
            let bytes = msg.to_vec().unwrap();
            assert_eq!(bytes.len(), msg.buffer_len());
            assert_eq!(FederatedMessage::parse(&bytes), Ok(msg));
        }
        // A 6 GHz channel stays one: its number alone would name a 2.4 GHz channel.
        let mut msg = sample(TxVector::Mcs(mcs));
        msg.tx.channel = Channel::six_ghz(1).unwrap();
        let back = FederatedMessage::parse(&msg.to_vec().unwrap()).unwrap();
        assert_eq!(back.tx.channel, Channel::six_ghz(1).unwrap());
    }

    #[test]
    fn every_single_byte_change_of_a_message_is_refused_or_round_trips() {
        // The fuzz entry point asserts the round trip and feeds a federated medium.
        let mcs = McsRate::new(Standard::Vht, 3, 1, Width::Mhz80, GuardInterval::Short400).unwrap();
        for rate in [TxVector::Legacy(PhyRate::Cck11), TxVector::Mcs(mcs)] {
            let bytes = sample(rate).to_vec().unwrap();
            for i in 0..bytes.len() {
                for v in [
                    0u8,
                    1,
                    2,
                    3,
                    0x7f,
                    0x80,
                    0xff,
                    bytes[i] ^ 0x01,
                    bytes[i] ^ 0x40,
                ] {
                    let mut m = bytes.clone();
                    m[i] = v;
                    crate::testing::fuzz::federated(&m);
                }
            }
        }
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = sample(TxVector::Legacy(PhyRate::Ofdm6)).to_vec().unwrap();
        for n in 0..bytes.len() {
            assert!(FederatedMessage::parse(&bytes[..n]).is_err(), "cut at {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            FederatedMessage::parse(&long),
            Err(FederatedWireError::Trailing(1))
        );
    }

    #[test]
    fn bad_magic_version_power_and_origin_are_refused() {
        let good = sample(TxVector::Legacy(PhyRate::Ofdm6)).to_vec().unwrap();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(
            FederatedMessage::parse(&bad),
            Err(FederatedWireError::BadMagic)
        );
        let mut bad = good.clone();
        bad[4] = 1;
        assert_eq!(
            FederatedMessage::parse(&bad),
            Err(FederatedWireError::Version(1))
        );
        let mut msg = sample(TxVector::Legacy(PhyRate::Ofdm6));
        msg.tx.tx_power_dbm = f64::NAN;
        assert!(msg.to_vec().is_err());
        msg.tx.tx_power_dbm = 10.0;
        msg.origin = "has space".into();
        assert!(msg.to_vec().is_err());
        // A NaN x written by hand is refused on parse.
        let mut bad = good;
        let at = 4 + 1 + 1 + "host-b".len() + 8 + 8 + 2;
        bad[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(
            FederatedMessage::parse(&bad),
            Err(FederatedWireError::Invalid { field: "position" })
        );
    }
}
