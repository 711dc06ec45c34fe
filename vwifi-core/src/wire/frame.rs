//! [`Frame`]: any 802.11 frame (without FCS) in typed form; the entry point for parsing.

use bytes::Bytes;

use super::control::ControlFrame;
use super::data::DataFrame;
use super::frame_control::{FrameControl, FrameType};
use super::header::Header;
use super::mgmt::MgmtFrame;
use super::{ParseError, Reader};

/// Any 802.11 frame, as delivered without FCS by mac80211_hwsim and nl80211.
///
/// For every input that [`Frame::parse`] accepts, [`Frame::emit`] writes the same bytes back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A management frame.
    Management(MgmtFrame),
    /// A control frame.
    Control(ControlFrame),
    /// A data frame.
    Data(DataFrame),
    /// A frame of a protocol version other than 0, or of the extension type, kept raw (Frame
    /// Control included). Not canonical for frames this enum models.
    Unknown(Bytes),
}

impl Frame {
    /// Parses any frame, copying the data payload.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        Self::parse_with(buf, None)
    }

    /// Parses any frame, sharing the data payload and unknown frames with `buf` (no copy).
    pub fn parse_bytes(buf: &Bytes) -> Result<Self, ParseError> {
        Self::parse_with(buf, Some(buf))
    }

    /// Parses `buf`; payloads are slices of `shared` (the same bytes) if given, else copies.
    fn parse_with(buf: &[u8], shared: Option<&Bytes>) -> Result<Self, ParseError> {
        let slice = |at: usize| match shared {
            Some(b) if at <= b.len() => b.slice(at..),
            _ => Bytes::copy_from_slice(buf.get(at..).unwrap_or(&[])),
        };
        let fc = FrameControl::from_u16(Reader::new(buf).u16_le("frame control")?);
        if fc.protocol_version != 0 {
            return Ok(Self::Unknown(slice(0)));
        }
        match fc.frame_type {
            FrameType::Control(_) => ControlFrame::parse(buf).map(Self::Control),
            FrameType::Extension(_) => Ok(Self::Unknown(slice(0))),
            FrameType::Management(_) => {
                let mut r = Reader::new(buf);
                let header = Header::parse(&mut r)?;
                MgmtFrame::parse_body(header, r.rest()).map(Self::Management)
            }
            FrameType::Data(_) => {
                let mut r = Reader::new(buf);
                let header = Header::parse(&mut r)?;
                DataFrame::with_header(header, slice(r.position())).map(Self::Data)
            }
        }
    }

    /// The Frame Control field.
    pub fn frame_control(&self) -> FrameControl {
        match self {
            Self::Management(m) => {
                let mut fc = m.header.frame_control;
                fc.frame_type = FrameType::Management(m.body.subtype());
                fc
            }
            Self::Control(c) => c.frame_control(),
            Self::Data(d) => d.header.frame_control,
            Self::Unknown(raw) => {
                FrameControl::from_u16(Reader::new(raw).u16_le("frame control").unwrap_or(0))
            }
        }
    }

    /// The number of bytes [`Frame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Management(m) => m.buffer_len(),
            Self::Control(c) => c.buffer_len(),
            Self::Data(d) => d.buffer_len(),
            Self::Unknown(raw) => raw.len(),
        }
    }

    /// Appends the frame (without FCS) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Self::Management(m) => m.emit(out),
            Self::Control(c) => c.emit(out),
            Self::Data(d) => d.emit(out),
            Self::Unknown(raw) => out.extend_from_slice(raw),
        }
    }

    /// The frame as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }
}

impl From<MgmtFrame> for Frame {
    fn from(f: MgmtFrame) -> Self {
        Self::Management(f)
    }
}

impl From<DataFrame> for Frame {
    fn from(f: DataFrame) -> Self {
        Self::Data(f)
    }
}

impl From<ControlFrame> for Frame {
    fn from(f: ControlFrame) -> Self {
        Self::Control(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_by_type_and_keeps_unknown_raw() {
        let ack = [0xd4, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6];
        assert!(matches!(Frame::parse(&ack), Ok(Frame::Control(_))));
        // Protocol version 1 and extension type are kept raw.
        for raw in [&[0x01, 0x00, 0xaa][..], &[0x0c, 0x00][..]] {
            let frame = Frame::parse(raw).unwrap();
            assert_eq!(frame, Frame::Unknown(Bytes::copy_from_slice(raw)));
            assert_eq!(frame.to_vec(), raw);
        }
        assert!(matches!(
            Frame::parse(&[0x80]),
            Err(ParseError::Truncated {
                what: "frame control",
                ..
            })
        ));
    }

    #[test]
    fn shared_parse_matches_copying_parse() {
        let mut data = vec![0x08, 0x02, 0, 0];
        data.extend_from_slice(&[0x11; 18]);
        data.extend_from_slice(&[0, 0, 0xaa, 0xbb]);
        let shared = Bytes::from(data.clone());
        let a = Frame::parse(&data).unwrap();
        let b = Frame::parse_bytes(&shared).unwrap();
        assert_eq!(a, b);
        let Frame::Data(d) = b else {
            panic!("not data")
        };
        assert_eq!(&d.payload[..], &[0xaa, 0xbb]);
        assert_eq!(a.frame_control().to_u16().to_le_bytes(), [0x08, 0x02]);
    }
}
