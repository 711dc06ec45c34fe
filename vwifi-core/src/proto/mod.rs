//! The guest <-> host protocol: versioned messages and one codec shared by every transport.
//!
//! A guest's agent (`vwifi-guest`, or a VM's in-guest helper) and the host exchange
//! [`Message`]s: the guest says [`Message::Hello`], asks for scans, connects with its own
//! credentials, disconnects and asks for status; the host replies, reports [`Event`]s, and, on
//! stream transports, both carry the guest's Ethernet frames as [`Message::Data`].
//!
//! # One encoding, every transport
//! A message encodes to a 12-byte header and a compact big-endian body (see [`codec`] for the
//! exact layout). The header holds the body length, so messages delimit themselves:
//! - **in-band**: one message is the payload of an Ethernet frame of EtherType [`ETHERTYPE`]
//!   (0x88B5, IEEE 802 Local Experimental EtherType 1) on the guest's own link. Ethernet may pad
//!   the payload; [`decode`] returns how many bytes the message took and ignores the rest.
//! - **byte stream** (Unix socket, vsock, virtio-serial): messages back to back; [`Decoder`]
//!   buffers partial input and yields whole messages. The 4-byte big-endian body length at
//!   offset 8 also lets a generic length-delimited codec split the stream (field offset 8,
//!   length 4, adjustment +12 for the header, skip 0).
//!
//! # Limits
//! A message, header included, is at most [`MAX_MESSAGE_LEN`] (64 KiB), on encode and on
//! decode; SSIDs are at most 32 bytes, agent names 64, error texts 255. Decoding rejects an
//! over-long length before reading, buffering or reserving the body.
//!
//! # Requests and replies
//! Requests carry a [`RequestId`] chosen by the requester, and replies echo it, so a client
//! can match replies to requests. Events and data carry none; an error carries one if it
//! answers a request.
//!
//! # Versions
//! The header's second byte is the protocol version; this code speaks [`VERSION`] and rejects
//! others with [`ProtoError::UnsupportedVersion`]. The guest's `Hello` names the highest version
//! it speaks and the host's `HelloAck` the version both use.
//!
//! # Secrets
//! `Connect` carries a [`crypto::Passphrase`](crate::crypto::Passphrase) or
//! [`crypto::Psk`](crate::crypto::Psk). No `Debug` output of a message shows them (nor the
//! contents of data frames). The stream [`Decoder`] zeroizes a `Connect`'s bytes in its buffer
//! once decoded; whoever holds encoded bytes of a `Connect` should zeroize them after use.

pub mod codec;
mod error;
pub mod inband;
mod message;
mod phy_info;
mod stream;

#[cfg(test)]
mod tests;

pub use codec::{decode, encode, encoded_len, EncodeBuf, Header, HEADER_LEN};
pub use error::ProtoError;
pub use message::{
    BssInfo, Capabilities, ConnectFailure, Counters, Credentials, ErrorCode, Event, Message,
    MessageType, RequestId, RequestIdRule, ScanMode, Security, Ssid, StationState, StationStatus,
    FAILURE_CODE_CARD_FULL, MAX_AGENT_NAME_LEN, MAX_ERROR_TEXT_LEN, MAX_SSID_LEN,
};
pub use phy_info::PhyInfo;
pub use stream::{Decoder, Frame};

/// The EtherType of guest-protocol frames on a guest's own link (IEEE 802 Local Experimental
/// EtherType 1). Such frames arriving from the air are dropped: only the host speaks control.
pub const ETHERTYPE: u16 = 0x88B5;

/// The first byte of every message.
pub const MAGIC: u8 = 0x56;

/// The protocol version this code speaks, the second byte of every message.
pub const VERSION: u8 = 1;

/// The longest message, header included, in bytes (64 KiB).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;
