//! Data frames (IEEE 802.11-2020 9.3.2): data, QoS data, null and QoS null.

use bytes::Bytes;

use super::frame_control::{DataSubtype, FcFlags, FrameControl, FrameType};
use super::header::{Header, QosControl};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// A data frame: header and payload (the frame body, without FCS; still encrypted if the
/// Protected bit is set).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataFrame {
    /// The MAC header; its frame type is data.
    pub header: Header,
    /// The frame body: LLC/SNAP and upper-layer data, or ciphertext if protected; empty for
    /// null subtypes.
    pub payload: Bytes,
}

impl DataFrame {
    /// Parses a whole data frame (without FCS), copying the payload.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::parse(&mut r)?;
        Self::with_header(header, Bytes::copy_from_slice(r.rest()))
    }

    /// Parses a whole data frame, sharing the payload with `buf` (no copy).
    pub fn parse_bytes(buf: &Bytes) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::parse(&mut r)?;
        let at = r.position();
        Self::with_header(header, buf.slice(at..))
    }

    /// A data frame from an already parsed header and its body.
    pub fn with_header(header: Header, payload: Bytes) -> Result<Self, ParseError> {
        match header.frame_control.frame_type {
            FrameType::Data(_) => Ok(Self { header, payload }),
            other => Err(ParseError::BadValue {
                what: "data frame type",
                value: other.type_bits().into(),
            }),
        }
    }

    /// A Null (or, with `qos`, QoS Null) frame from station `sta` to AP `bssid` with the Power
    /// Management bit as given: how a station tells its AP it enters or leaves power save.
    pub fn null(sta: MacAddr, bssid: MacAddr, power_save: bool, qos: Option<QosControl>) -> Self {
        let subtype = match qos {
            Some(_) => DataSubtype::QosNull,
            None => DataSubtype::Null,
        };
        let flags = FcFlags(FcFlags::TO_DS).with(FcFlags::POWER_MANAGEMENT, power_save);
        let mut header = Header::new(
            FrameControl::new(FrameType::Data(subtype), flags),
            bssid,
            sta,
            bssid,
        );
        header.qos = qos;
        Self {
            header,
            payload: Bytes::new(),
        }
    }

    /// The data subtype.
    pub fn subtype(&self) -> DataSubtype {
        match self.header.frame_control.frame_type {
            FrameType::Data(s) => s,
            _ => DataSubtype::Unknown(0xff),
        }
    }

    /// Whether this is a Null or QoS Null (or other body-less) frame.
    pub fn is_null(&self) -> bool {
        self.subtype().is_null()
    }

    /// The Power Management bit: the sender is in power save after this frame.
    pub fn power_management(&self) -> bool {
        self.header.flags().power_management()
    }

    /// The number of bytes [`DataFrame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.header.buffer_len() + self.payload.len()
    }

    /// Appends the frame (without FCS) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.header.emit(out);
        out.extend_from_slice(&self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AP: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x01, 0x00]);
    const STA: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);

    #[test]
    #[rustfmt::skip]
    fn parses_qos_data_to_ds() {
        // IEEE 802.11-2020 9.3.2.1: QoS data, To DS; LLC/SNAP IPv4 payload.
        let bytes = [
            0x88, 0x01, 0x2c, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // RA = BSSID
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // TA = SA
            0x33, 0x33, 0x00, 0x00, 0x00, 0x01, // DA
            0x70, 0x02, // sequence 0x027
            0x05, 0x00, // QoS: TID 5
            0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
        ];
        let frame = DataFrame::parse(&bytes).unwrap();
        assert_eq!(frame.subtype(), DataSubtype::QosData);
        assert_eq!(frame.header.qos.map(QosControl::tid), Some(5));
        assert_eq!(frame.header.bssid(), Some(AP));
        assert_eq!(frame.header.source(), STA);
        assert_eq!(frame.header.destination(), MacAddr([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!(&frame.payload[..], &bytes[26..]);
        let shared = DataFrame::parse_bytes(&Bytes::copy_from_slice(&bytes)).unwrap();
        assert_eq!(shared, frame);
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    #[rustfmt::skip]
    fn null_data_carries_power_management_bit() {
        let bytes = [
            0x48, 0x11, 0x00, 0x00, // Null, To DS + PM
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x00, 0x00,
        ];
        let frame = DataFrame::parse(&bytes).unwrap();
        assert!(frame.is_null() && frame.power_management());
        assert_eq!(frame, DataFrame::null(STA, AP, true, None));
        let qos_null = DataFrame::null(STA, AP, false, Some(QosControl::with_tid(0)));
        let mut out = Vec::new();
        qos_null.emit(&mut out);
        assert_eq!(out.first(), Some(&0xc8));
        assert_eq!(out.len(), 26);
        assert_eq!(DataFrame::parse(&out).unwrap(), qos_null);
    }

    #[test]
    fn rejects_non_data_and_short_frames() {
        assert!(DataFrame::parse(&[0x80, 0, 0]).is_err());
        let mut beacon = vec![0x80, 0];
        beacon.resize(24, 0);
        assert!(matches!(
            DataFrame::parse(&beacon),
            Err(ParseError::BadValue { .. })
        ));
    }
}
