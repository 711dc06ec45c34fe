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

mod error;
mod reader;

pub mod eapol;

pub use error::ParseError;
pub use reader::Reader;
