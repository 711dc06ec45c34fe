//! The error of the wire layer.

/// Why bytes could not be parsed as the expected structure.
///
/// `what` always names the field or structure being read, so that a log line or a fuzz finding
/// tells where the input went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended before the field was complete.
    #[error("{what}: truncated, need {need} bytes, have {have}")]
    Truncated {
        /// The field or structure being read.
        what: &'static str,
        /// The number of bytes the field needs.
        need: usize,
        /// The number of bytes that were left.
        have: usize,
    },
    /// A field holds a value that this structure does not allow.
    #[error("{what}: bad value {value:#x}")]
    BadValue {
        /// The field being read.
        what: &'static str,
        /// The offending value.
        value: u64,
    },
    /// Bytes were left over after a structure that must fill its buffer exactly.
    #[error("{what}: {len} trailing bytes")]
    TrailingData {
        /// The structure that should have ended.
        what: &'static str,
        /// The number of bytes left over.
        len: usize,
    },
}
