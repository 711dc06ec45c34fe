//! The Frame Control field (IEEE 802.11-2020 9.2.4.1): protocol version, type, subtype, flags.

enum_with_unknown! {
    /// The subtype of a management frame (IEEE 802.11-2020 Table 9-1).
    pub enum MgmtSubtype(u8) {
        /// 0: Association Request.
        AssocRequest = 0,
        /// 1: Association Response.
        AssocResponse = 1,
        /// 2: Reassociation Request.
        ReassocRequest = 2,
        /// 3: Reassociation Response.
        ReassocResponse = 3,
        /// 4: Probe Request.
        ProbeRequest = 4,
        /// 5: Probe Response.
        ProbeResponse = 5,
        /// 6: Timing Advertisement.
        TimingAdvertisement = 6,
        /// 8: Beacon.
        Beacon = 8,
        /// 9: ATIM.
        Atim = 9,
        /// 10: Disassociation.
        Disassociation = 10,
        /// 11: Authentication.
        Authentication = 11,
        /// 12: Deauthentication.
        Deauthentication = 12,
        /// 13: Action.
        Action = 13,
        /// 14: Action No Ack.
        ActionNoAck = 14,
    }
}

enum_with_unknown! {
    /// The subtype of a control frame (IEEE 802.11-2020 Table 9-1).
    pub enum CtrlSubtype(u8) {
        /// 2: Trigger.
        Trigger = 2,
        /// 4: Beamforming Report Poll.
        BeamformingReportPoll = 4,
        /// 5: VHT/HE NDP Announcement.
        NdpAnnouncement = 5,
        /// 6: Control Frame Extension.
        ControlFrameExtension = 6,
        /// 7: Control Wrapper.
        ControlWrapper = 7,
        /// 8: Block Ack Request.
        BlockAckRequest = 8,
        /// 9: Block Ack.
        BlockAck = 9,
        /// 10: PS-Poll.
        PsPoll = 10,
        /// 11: RTS.
        Rts = 11,
        /// 12: CTS.
        Cts = 12,
        /// 13: Ack.
        Ack = 13,
        /// 14: CF-End.
        CfEnd = 14,
        /// 15: CF-End +CF-Ack.
        CfEndCfAck = 15,
    }
}

enum_with_unknown! {
    /// The subtype of a data frame (IEEE 802.11-2020 Table 9-1). Bit 3 of the subtype marks
    /// QoS frames (which carry a QoS Control field), bit 2 frames without a frame body.
    pub enum DataSubtype(u8) {
        /// 0: Data.
        Data = 0,
        /// 4: Null (no data).
        Null = 4,
        /// 8: QoS Data.
        QosData = 8,
        /// 9: QoS Data +CF-Ack.
        QosDataCfAck = 9,
        /// 10: QoS Data +CF-Poll.
        QosDataCfPoll = 10,
        /// 11: QoS Data +CF-Ack +CF-Poll.
        QosDataCfAckCfPoll = 11,
        /// 12: QoS Null (no data).
        QosNull = 12,
        /// 14: QoS CF-Poll (no data).
        QosCfPoll = 14,
        /// 15: QoS CF-Ack +CF-Poll (no data).
        QosCfAckCfPoll = 15,
    }
}

impl DataSubtype {
    /// Whether frames of this subtype carry a QoS Control field.
    pub fn is_qos(self) -> bool {
        u8::from(self) & 0x08 != 0
    }

    /// Whether frames of this subtype carry no frame body (Null, QoS Null, CF-Poll...).
    pub fn is_null(self) -> bool {
        u8::from(self) & 0x04 != 0
    }
}

/// The type and subtype of a frame (IEEE 802.11-2020 9.2.4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Type 0: management.
    Management(MgmtSubtype),
    /// Type 1: control.
    Control(CtrlSubtype),
    /// Type 2: data.
    Data(DataSubtype),
    /// Type 3: extension (DMG beacons, S1G); the 4-bit subtype is kept.
    Extension(u8),
}

impl FrameType {
    /// The type and subtype from their wire values (`ty` 0..=3, `subtype` 0..=15; higher bits
    /// are ignored).
    pub fn from_bits(ty: u8, subtype: u8) -> Self {
        let subtype = subtype & 0x0f;
        match ty & 0x03 {
            0 => Self::Management(subtype.into()),
            1 => Self::Control(subtype.into()),
            2 => Self::Data(subtype.into()),
            _ => Self::Extension(subtype),
        }
    }

    /// The 2-bit type value.
    pub fn type_bits(self) -> u8 {
        match self {
            Self::Management(_) => 0,
            Self::Control(_) => 1,
            Self::Data(_) => 2,
            Self::Extension(_) => 3,
        }
    }

    /// The 4-bit subtype value.
    pub fn subtype_bits(self) -> u8 {
        let raw = match self {
            Self::Management(s) => s.into(),
            Self::Control(s) => s.into(),
            Self::Data(s) => s.into(),
            Self::Extension(s) => s,
        };
        raw & 0x0f
    }
}

/// The flag bits of the Frame Control field (its second octet, IEEE 802.11-2020 9.2.4.1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FcFlags(pub u8);

impl FcFlags {
    /// To DS: the frame is sent towards the distribution system (station to AP).
    pub const TO_DS: u8 = 0x01;
    /// From DS: the frame comes from the distribution system (AP to station).
    pub const FROM_DS: u8 = 0x02;
    /// More Fragments.
    pub const MORE_FRAGMENTS: u8 = 0x04;
    /// Retry: this is a retransmission.
    pub const RETRY: u8 = 0x08;
    /// Power Management: the sender enters (1) or leaves (0) power save after this frame.
    pub const POWER_MANAGEMENT: u8 = 0x10;
    /// More Data: the AP has more frames buffered for a power-saving station.
    pub const MORE_DATA: u8 = 0x20;
    /// Protected Frame: the body is encrypted.
    pub const PROTECTED: u8 = 0x40;
    /// +HTC/Order: an HT Control field is present (QoS data and management frames), or the
    /// frame is strictly ordered (non-QoS data).
    pub const ORDER: u8 = 0x80;

    /// Whether all the bits of `mask` are set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// These flags with the bits of `mask` set or cleared.
    #[must_use]
    pub const fn with(self, mask: u8, on: bool) -> Self {
        if on {
            Self(self.0 | mask)
        } else {
            Self(self.0 & !mask)
        }
    }

    /// The To DS bit.
    pub const fn to_ds(self) -> bool {
        self.contains(Self::TO_DS)
    }

    /// The From DS bit.
    pub const fn from_ds(self) -> bool {
        self.contains(Self::FROM_DS)
    }

    /// The More Fragments bit.
    pub const fn more_fragments(self) -> bool {
        self.contains(Self::MORE_FRAGMENTS)
    }

    /// The Retry bit.
    pub const fn retry(self) -> bool {
        self.contains(Self::RETRY)
    }

    /// The Power Management bit.
    pub const fn power_management(self) -> bool {
        self.contains(Self::POWER_MANAGEMENT)
    }

    /// The More Data bit.
    pub const fn more_data(self) -> bool {
        self.contains(Self::MORE_DATA)
    }

    /// The Protected Frame bit.
    pub const fn protected(self) -> bool {
        self.contains(Self::PROTECTED)
    }

    /// The +HTC/Order bit.
    pub const fn order(self) -> bool {
        self.contains(Self::ORDER)
    }
}

impl core::fmt::Debug for FcFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NAMES: [&str; 8] = [
            "TO_DS",
            "FROM_DS",
            "MORE_FRAG",
            "RETRY",
            "PM",
            "MORE_DATA",
            "PROTECTED",
            "ORDER",
        ];
        write!(f, "FcFlags(")?;
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                if !first {
                    write!(f, "|")?;
                }
                write!(f, "{name}")?;
                first = false;
            }
        }
        write!(f, ")")
    }
}

/// The Frame Control field (IEEE 802.11-2020 9.2.4.1), sent little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameControl {
    /// The protocol version (2 bits); 0 for every frame this module parses beyond the header.
    pub protocol_version: u8,
    /// The type and subtype.
    pub frame_type: FrameType,
    /// The flag bits.
    pub flags: FcFlags,
}

impl FrameControl {
    /// A version-0 Frame Control of the given type and flags.
    pub const fn new(frame_type: FrameType, flags: FcFlags) -> Self {
        Self {
            protocol_version: 0,
            frame_type,
            flags,
        }
    }

    /// Decodes the field from its 16-bit value. Every value decodes.
    pub fn from_u16(value: u16) -> Self {
        let [lo, hi] = value.to_le_bytes();
        Self {
            protocol_version: lo & 0x03,
            frame_type: FrameType::from_bits(lo >> 2, lo >> 4),
            flags: FcFlags(hi),
        }
    }

    /// Encodes the field as its 16-bit value.
    pub fn to_u16(self) -> u16 {
        let lo = (self.protocol_version & 0x03)
            | (self.frame_type.type_bits() << 2)
            | (self.frame_type.subtype_bits() << 4);
        u16::from_le_bytes([lo, self.flags.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_beacon_and_qos_data_frame_control() {
        // Beacon: 0x80 0x00 on the wire.
        let fc = FrameControl::from_u16(u16::from_le_bytes([0x80, 0x00]));
        assert_eq!(fc.frame_type, FrameType::Management(MgmtSubtype::Beacon));
        assert_eq!(fc.protocol_version, 0);
        // QoS data, To DS, protected: 0x88 0x41.
        let fc = FrameControl::from_u16(u16::from_le_bytes([0x88, 0x41]));
        assert_eq!(fc.frame_type, FrameType::Data(DataSubtype::QosData));
        assert!(fc.flags.to_ds() && fc.flags.protected() && !fc.flags.from_ds());
        assert_eq!(fc.to_u16().to_le_bytes(), [0x88, 0x41]);
    }

    #[test]
    fn every_frame_control_value_round_trips() {
        for v in 0..=u16::MAX {
            assert_eq!(FrameControl::from_u16(v).to_u16(), v);
        }
    }

    #[test]
    fn data_subtype_bits() {
        assert!(DataSubtype::QosNull.is_qos() && DataSubtype::QosNull.is_null());
        assert!(!DataSubtype::Data.is_qos() && !DataSubtype::Data.is_null());
        assert!(DataSubtype::Null.is_null());
        assert!(DataSubtype::from(13).is_qos());
    }
}
