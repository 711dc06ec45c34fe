//! EAPOL-Key frames (IEEE 802.11-2020 12.7.2): the messages of the 4-way and group-key handshakes.
use core::ops::Range;
/// The byte range of the MIC field in an EAPOL-Key frame (from the start of the 802.1X header).
pub const MIC_RANGE: Range<usize> = 81..97;
