//! A-MSDUs (IEEE 802.11-2020 9.3.2.2.2): the body of a QoS Data frame whose QoS Control has
//! the A-MSDU Present bit set, a sequence of subframes, each a 14-octet header (DA, SA, and
//! the MSDU's length, big-endian) and the MSDU (LLC/SNAP and payload), padded with zeros to a
//! multiple of 4 octets except the last (Figure 9-71).
//!
//! [`parse`] reads a body into its subframes, panic-free, every length checked and nothing
//! left over; [`emit`] writes subframes so that `parse(emit(x)) == x`.

use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// The length of an A-MSDU subframe header: DA, SA, Length.
pub const SUBFRAME_HEADER_LEN: usize = 14;

/// The longest MSDU a subframe carries (9.2.4.7.1: 2304 octets).
pub const MAX_MSDU_LEN: usize = 2304;

/// One A-MSDU subframe, borrowing its MSDU from the body it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subframe<'a> {
    /// The destination address.
    pub da: MacAddr,
    /// The source address.
    pub sa: MacAddr,
    /// The MSDU: LLC/SNAP header and payload.
    pub msdu: &'a [u8],
}

impl Subframe<'_> {
    /// The subframe's length on the air without padding.
    pub const fn len(&self) -> usize {
        SUBFRAME_HEADER_LEN + self.msdu.len()
    }

    /// Whether the MSDU is empty (a subframe is never zero octets long).
    pub const fn is_empty(&self) -> bool {
        self.msdu.is_empty()
    }
}

/// The length of an A-MSDU of subframes carrying MSDUs of `msdu_lens` octets.
pub fn body_len(msdu_lens: impl IntoIterator<Item = usize>) -> usize {
    let mut total: usize = 0;
    for len in msdu_lens {
        total = total.next_multiple_of(4) + SUBFRAME_HEADER_LEN + len;
    }
    total
}

/// Reads an A-MSDU body into its subframes. Fails on an empty body, a truncated header or
/// MSDU, an MSDU longer than [`MAX_MSDU_LEN`], padding that is missing or not zero before a
/// further subframe, or trailing bytes too short to be a subframe.
pub fn parse(body: &[u8]) -> Result<Vec<Subframe<'_>>, ParseError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    if r.is_empty() {
        return Err(ParseError::Truncated {
            what: "A-MSDU subframe header",
            need: SUBFRAME_HEADER_LEN,
            have: 0,
        });
    }
    while !r.is_empty() {
        let da = MacAddr(r.array("A-MSDU subframe DA")?);
        let sa = MacAddr(r.array("A-MSDU subframe SA")?);
        let len = usize::from(r.u16_be("A-MSDU subframe length")?);
        if len > MAX_MSDU_LEN {
            return Err(ParseError::BadValue {
                what: "A-MSDU subframe length",
                value: len as u64,
            });
        }
        let msdu = r.take(len, "A-MSDU subframe MSDU")?;
        out.push(Subframe { da, sa, msdu });
        if r.is_empty() {
            break;
        }
        let pad = (SUBFRAME_HEADER_LEN + len).next_multiple_of(4) - (SUBFRAME_HEADER_LEN + len);
        let padding = r.take(pad, "A-MSDU subframe padding")?;
        if padding.iter().any(|&b| b != 0) {
            return Err(ParseError::BadValue {
                what: "A-MSDU subframe padding",
                value: padding.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            });
        }
        if r.is_empty() {
            // Padding after the last subframe is not allowed.
            return Err(ParseError::TrailingData {
                what: "A-MSDU (padding after the last subframe)",
                len: pad,
            });
        }
    }
    Ok(out)
}

/// Appends the A-MSDU of `subframes` to `out`: each but the last padded to 4 octets. An MSDU
/// longer than the 16-bit length field can say is cut to 65 535 octets (callers keep MSDUs
/// within [`MAX_MSDU_LEN`]).
pub fn emit<'a>(subframes: impl IntoIterator<Item = Subframe<'a>>, out: &mut Vec<u8>) {
    let start = out.len();
    for (i, s) in subframes.into_iter().enumerate() {
        if i > 0 {
            let padded = (out.len() - start).next_multiple_of(4) + start;
            out.resize(padded, 0);
        }
        let len = u16::try_from(s.msdu.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&s.da.0);
        out.extend_from_slice(&s.sa.0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(s.msdu.get(..usize::from(len)).unwrap_or(s.msdu));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn sub(msdu: &[u8]) -> Subframe<'_> {
        Subframe { da: A, sa: B, msdu }
    }

    #[test]
    fn round_trips_with_padding_between_subframes_only() {
        let (one, two, three) = ([0xaa; 5], [0xbb; 8], [0xcc; 1]);
        let subs = [sub(&one), sub(&two), sub(&three)];
        let mut out = Vec::new();
        emit(subs, &mut out);
        // 19 -> 20, 22 -> 24, 15: 59 octets.
        assert_eq!(out.len(), 20 + 24 + 15);
        assert_eq!(out.len(), body_len([5, 8, 1]));
        assert_eq!(&out[12..14], &[0, 5]);
        assert_eq!(out[19], 0, "padding");
        assert_eq!(parse(&out).unwrap(), subs);
    }

    #[test]
    fn refuses_truncation_bad_padding_and_trailing_bytes() {
        let mut out = Vec::new();
        emit([sub(&[1; 5]), sub(&[2; 3])], &mut out);
        assert!(parse(&[]).is_err());
        for cut in 1..out.len() {
            // Cut right after the first MSDU, the rest is a valid one-subframe A-MSDU.
            assert_eq!(parse(&out[..cut]).is_ok(), cut == 19, "cut at {cut}");
        }
        let mut bad_pad = out.clone();
        bad_pad[19] = 1;
        assert!(matches!(
            parse(&bad_pad),
            Err(ParseError::BadValue { what, .. }) if what.contains("padding")
        ));
        let mut one = Vec::new();
        emit([sub(&[1; 5])], &mut one);
        one.push(0);
        assert!(parse(&one).is_err(), "padding after the last subframe");
        let mut long = Vec::new();
        emit([sub(&[0; MAX_MSDU_LEN + 1])], &mut long);
        assert!(matches!(
            parse(&long),
            Err(ParseError::BadValue { what, .. }) if what.contains("length")
        ));
    }
}
