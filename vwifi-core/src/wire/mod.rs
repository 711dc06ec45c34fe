//! The 802.11 wire format: frame views, parsed representations, information elements,
//! LLC/SNAP and 802.3 conversion, EAPOL-Key frames.
//!
//! # The panic-free contract
//! Every parser in this module takes untrusted bytes (from the air or from a guest) and returns
//! either a representation or a [`ParseError`] that says what was wrong and where. No parser
//! panics, indexes out of bounds or allocates without bound on any input; the fuzz targets in
//! `fuzz/` and the corpus replay test hold us to that. Every `Repr` type has a `parse` and an
//! `emit` (appending to a `Vec<u8>`), and `parse(emit(r)) == r` is a property test.
//! Unknown code points (element IDs, status and reason codes, cipher suites) are kept, not
//! rejected, so a frame survives a round trip unchanged.
//!
//! # Entry points
//! - [`Frame::parse`] / [`Frame::parse_bytes`]: any frame (without FCS) into
//!   [`Frame::Management`], [`Frame::Control`], [`Frame::Data`] or [`Frame::Unknown`];
//!   [`Frame::emit`] writes the accepted input back byte for byte.
//! - [`Elements::new`]: a panic-free iterator over raw information elements;
//!   [`ElementList::parse`] for their typed forms.
//! - [`FrameView`]: zero-copy access to header fields (demux by address without parsing).
//! - [`EthernetFrame::to_data`] / [`EthernetFrame::from_data`]: 802.3 <-> 802.11 data.
//!
//! # Modules
//! - [`frame_control`]: type, subtype and flags; [`header`]: sequence and QoS control, the MAC
//!   header and its addressing by the DS bits, [`FrameView`].
//! - [`mgmt`], [`data`], [`control`]: frames by type; [`frame`]: all of them.
//! - [`ie`]: elements, SSID, rates; [`rsn`]: the RSN element; [`tim`]: the TIM element;
//!   [`phy_ie`]: the HT, VHT and HE capability and operation elements.
//! - [`block_ack`]: the Block Ack action frames (ADDBA Request/Response, DELBA).
//! - [`codes`]: status and reason codes, element IDs, cipher and AKM suites.
//! - [`llc`]: LLC/SNAP, EtherTypes, Ethernet frames and their conversion.
//! - [`eapol`]: EAPOL-Key frames.

#[macro_use]
mod macros;

mod error;
mod reader;

pub mod amsdu;
pub mod block_ack;
pub mod codes;
pub mod control;
pub mod data;
pub mod eapol;
pub mod frame;
pub mod frame_control;
pub mod header;
pub mod ie;
pub mod llc;
pub mod mgmt;
pub mod phy_ie;
pub mod rsn;
pub mod tim;

#[cfg(test)]
mod proptests;

pub use codes::{AkmSuite, AuthAlgorithm, CipherSuite, ElementId, ReasonCode, StatusCode};
pub use control::{ControlFrame, PsPoll};
pub use data::DataFrame;
pub use error::ParseError;
pub use frame::Frame;
pub use frame_control::{CtrlSubtype, DataSubtype, FcFlags, FrameControl, FrameType, MgmtSubtype};
pub use header::{FrameView, Header, QosControl, SequenceControl};
pub use ie::{Element, ElementList, Elements, Rate, RawElement, Ssid};
pub use llc::{DsDirection, EtherType, EthernetFrame, SnapHeader};
pub use mgmt::{
    AssocRequest, AssocResponse, Authentication, Beacon, CapabilityInfo, Deauthentication,
    Disassociation, MgmtBody, MgmtFrame, ProbeRequest, ReassocRequest,
};
pub use reader::Reader;
pub use rsn::{RsnCapabilities, Rsne};
pub use tim::Tim;
