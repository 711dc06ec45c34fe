//! A bounds-checked cursor over untrusted bytes.

use super::ParseError;

/// A cursor over a byte slice whose every read is bounds-checked and names its field.
///
/// Modelled on rustls' `codec::Reader`: [`Reader::sub`] gives a bounded sub-reader (for a
/// length-prefixed element) and [`Reader::finish`] rejects trailing bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// The number of bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not yet read, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Reads `n` bytes, or fails with [`ParseError::Truncated`] naming `what`.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        let rest = self.peek_rest();
        let out = rest.get(..n).ok_or(ParseError::Truncated {
            what,
            need: n,
            have: rest.len(),
        })?;
        self.pos += n;
        Ok(out)
    }

    /// Reads all the remaining bytes.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.peek_rest();
        self.pos = self.buf.len();
        out
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ParseError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a little-endian `u16` (802.11 header and management fields).
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, ParseError> {
        self.array(what).map(u16::from_le_bytes)
    }

    /// Reads a big-endian `u16` (EAPOL, LLC/SNAP EtherType, guest protocol).
    pub fn u16_be(&mut self, what: &'static str) -> Result<u16, ParseError> {
        self.array(what).map(u16::from_be_bytes)
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, ParseError> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// Reads a big-endian `u32`.
    pub fn u32_be(&mut self, what: &'static str) -> Result<u32, ParseError> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// Reads a little-endian `u64` (beacon timestamp).
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64, ParseError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Reads a big-endian `u64` (EAPOL-Key replay counter).
    pub fn u64_be(&mut self, what: &'static str) -> Result<u64, ParseError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// Splits off a sub-reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, ParseError> {
        self.take(n, what).map(Reader::new)
    }

    /// Succeeds only if every byte has been read; otherwise [`ParseError::TrailingData`].
    pub fn finish(&self, what: &'static str) -> Result<(), ParseError> {
        match self.remaining() {
            0 => Ok(()),
            len => Err(ParseError::TrailingData { what, len }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_both_byte_orders() {
        let mut r = Reader::new(&[1, 2, 1, 2, 9]);
        assert_eq!(r.u16_le("a").unwrap(), 0x0201);
        assert_eq!(r.u16_be("b").unwrap(), 0x0102);
        assert_eq!(r.remaining(), 1);
        assert_eq!(
            r.finish("x"),
            Err(ParseError::TrailingData { what: "x", len: 1 })
        );
        assert_eq!(r.u8("c").unwrap(), 9);
        r.finish("x").unwrap();
    }

    #[test]
    fn truncation_names_the_field() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.u32_be("replay counter"),
            Err(ParseError::Truncated {
                what: "replay counter",
                need: 4,
                have: 3
            })
        );
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 3);
        let mut sub = r.sub(2, "element").unwrap();
        assert_eq!(sub.rest(), &[1, 2]);
        assert_eq!(r.rest(), &[3]);
    }
}
