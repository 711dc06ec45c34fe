//! Control frames (IEEE 802.11-2020 9.3.1): PS-Poll, RTS, CTS, Ack; others kept raw.

use super::frame_control::{CtrlSubtype, FcFlags, FrameControl, FrameType};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// A PS-Poll frame (IEEE 802.11-2020 9.3.1.5): a power-saving station asks its AP for one
/// buffered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PsPoll {
    /// The frame control flags (Power Management stays set while polling).
    pub flags: FcFlags,
    /// The raw ID field: the AID with its two top bits set.
    pub id: u16,
    /// The BSSID (address 1, the receiver).
    pub bssid: MacAddr,
    /// The transmitter: the polling station (address 2).
    pub ta: MacAddr,
}

impl PsPoll {
    /// A PS-Poll of station `ta` with association ID `aid` to AP `bssid`, Power Management set.
    pub fn new(aid: u16, bssid: MacAddr, ta: MacAddr) -> Self {
        Self {
            flags: FcFlags(FcFlags::POWER_MANAGEMENT),
            id: (aid & 0x3fff) | 0xc000,
            bssid,
            ta,
        }
    }

    /// The association ID, without the two top bits of the field.
    pub fn aid(&self) -> u16 {
        self.id & 0x3fff
    }
}

/// A control frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ControlFrame {
    /// PS-Poll.
    PsPoll(PsPoll),
    /// RTS: request to send.
    Rts {
        /// The frame control flags.
        flags: FcFlags,
        /// The Duration field.
        duration: u16,
        /// The receiver.
        ra: MacAddr,
        /// The transmitter.
        ta: MacAddr,
    },
    /// CTS: clear to send.
    Cts {
        /// The frame control flags.
        flags: FcFlags,
        /// The Duration field.
        duration: u16,
        /// The receiver.
        ra: MacAddr,
    },
    /// Ack.
    Ack {
        /// The frame control flags.
        flags: FcFlags,
        /// The Duration field.
        duration: u16,
        /// The receiver.
        ra: MacAddr,
    },
    /// Any other control subtype, kept raw. Not canonical for PS-Poll, RTS, CTS or Ack.
    Other {
        /// The subtype.
        subtype: CtrlSubtype,
        /// The frame control flags.
        flags: FcFlags,
        /// The bytes after the Frame Control field.
        rest: Vec<u8>,
    },
}

impl ControlFrame {
    /// Parses a whole control frame (without FCS). PS-Poll, RTS, CTS and Ack must have their
    /// exact length.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let fc = FrameControl::from_u16(r.u16_le("frame control")?);
        let FrameType::Control(subtype) = fc.frame_type else {
            return Err(ParseError::BadValue {
                what: "control frame type",
                value: fc.frame_type.type_bits().into(),
            });
        };
        let flags = fc.flags;
        let frame = match subtype {
            CtrlSubtype::PsPoll => Self::PsPoll(PsPoll {
                flags,
                id: r.u16_le("PS-Poll AID")?,
                bssid: MacAddr(r.array("PS-Poll BSSID")?),
                ta: MacAddr(r.array("PS-Poll TA")?),
            }),
            CtrlSubtype::Rts => Self::Rts {
                flags,
                duration: r.u16_le("duration")?,
                ra: MacAddr(r.array("RTS RA")?),
                ta: MacAddr(r.array("RTS TA")?),
            },
            CtrlSubtype::Cts => Self::Cts {
                flags,
                duration: r.u16_le("duration")?,
                ra: MacAddr(r.array("CTS RA")?),
            },
            CtrlSubtype::Ack => Self::Ack {
                flags,
                duration: r.u16_le("duration")?,
                ra: MacAddr(r.array("Ack RA")?),
            },
            subtype => Self::Other {
                subtype,
                flags,
                rest: r.rest().to_vec(),
            },
        };
        r.finish("control frame")?;
        Ok(frame)
    }

    /// The Frame Control field this frame is sent with.
    pub fn frame_control(&self) -> FrameControl {
        let (subtype, flags) = match self {
            Self::PsPoll(p) => (CtrlSubtype::PsPoll, p.flags),
            Self::Rts { flags, .. } => (CtrlSubtype::Rts, *flags),
            Self::Cts { flags, .. } => (CtrlSubtype::Cts, *flags),
            Self::Ack { flags, .. } => (CtrlSubtype::Ack, *flags),
            Self::Other { subtype, flags, .. } => (*subtype, *flags),
        };
        FrameControl::new(FrameType::Control(subtype), flags)
    }

    /// The number of bytes [`ControlFrame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::PsPoll(_) | Self::Rts { .. } => 16,
            Self::Cts { .. } | Self::Ack { .. } => 10,
            Self::Other { rest, .. } => 2 + rest.len(),
        }
    }

    /// Appends the frame (without FCS) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_control().to_u16().to_le_bytes());
        match self {
            Self::PsPoll(p) => {
                out.extend_from_slice(&p.id.to_le_bytes());
                out.extend_from_slice(&p.bssid.0);
                out.extend_from_slice(&p.ta.0);
            }
            Self::Rts {
                duration, ra, ta, ..
            } => {
                out.extend_from_slice(&duration.to_le_bytes());
                out.extend_from_slice(&ra.0);
                out.extend_from_slice(&ta.0);
            }
            Self::Cts { duration, ra, .. } | Self::Ack { duration, ra, .. } => {
                out.extend_from_slice(&duration.to_le_bytes());
                out.extend_from_slice(&ra.0);
            }
            Self::Other { rest, .. } => out.extend_from_slice(rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn parses_ps_poll() {
        // IEEE 802.11-2020 9.3.1.5: FC, AID (top bits set), BSSID, TA.
        let bytes = [
            0xa4, 0x10, 0x03, 0xc0,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        ];
        let frame = ControlFrame::parse(&bytes).unwrap();
        let expected = PsPoll::new(
            3,
            MacAddr([0x02, 0, 0, 0, 1, 0]),
            MacAddr([0x02, 0, 0, 0, 0, 1]),
        );
        assert_eq!(frame, ControlFrame::PsPoll(expected));
        assert_eq!(expected.aid(), 3);
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, bytes);
        assert!(ControlFrame::parse(&bytes[..15]).is_err());
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(ControlFrame::parse(&long), Err(ParseError::TrailingData { .. })));
    }

    #[test]
    fn ack_round_trips_and_block_ack_is_kept_raw() {
        let ack = [0xd4, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6];
        let frame = ControlFrame::parse(&ack).unwrap();
        assert!(matches!(
            frame,
            ControlFrame::Ack {
                ra: MacAddr([1, 2, 3, 4, 5, 6]),
                ..
            }
        ));
        let block_ack = [0x94, 0x00, 9, 9, 9];
        let frame = ControlFrame::parse(&block_ack).unwrap();
        assert_eq!(frame.buffer_len(), 5);
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, block_ack);
    }
}
