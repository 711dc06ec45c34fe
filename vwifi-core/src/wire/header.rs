//! The MAC header of management and data frames (IEEE 802.11-2020 9.2.3, 9.3.2.1, 9.3.3.2):
//! sequence control, QoS control, addressing by the DS bits, and a zero-copy view.

use super::frame_control::{CtrlSubtype, FcFlags, FrameControl, FrameType};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// The Sequence Control field (IEEE 802.11-2020 9.2.4.4): a 12-bit sequence number and a
/// 4-bit fragment number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SequenceControl {
    /// The sequence number, 0..=4095 (higher bits are dropped on emit).
    pub sequence: u16,
    /// The fragment number, 0..=15 (higher bits are dropped on emit).
    pub fragment: u8,
}

impl SequenceControl {
    /// The largest sequence number; numbers wrap to 0 after it.
    pub const MAX_SEQUENCE: u16 = 0x0fff;

    /// A sequence control for an unfragmented frame.
    pub const fn new(sequence: u16) -> Self {
        Self {
            sequence: sequence & Self::MAX_SEQUENCE,
            fragment: 0,
        }
    }

    /// Decodes the field from its 16-bit value.
    pub const fn from_u16(value: u16) -> Self {
        Self {
            sequence: value >> 4,
            fragment: (value & 0x0f) as u8,
        }
    }

    /// Encodes the field as its 16-bit value.
    pub const fn to_u16(self) -> u16 {
        ((self.sequence & Self::MAX_SEQUENCE) << 4) | (self.fragment & 0x0f) as u16
    }
}

/// The QoS Control field of QoS data frames (IEEE 802.11-2020 9.2.4.5), kept as its raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QosControl(pub u16);

impl QosControl {
    /// A QoS Control for traffic identifier `tid` (0..=15) with normal ack policy.
    pub const fn with_tid(tid: u8) -> Self {
        Self((tid & 0x0f) as u16)
    }

    /// The traffic identifier (bits 0-3).
    pub const fn tid(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// The EOSP bit (bit 4): end of service period.
    pub const fn eosp(self) -> bool {
        self.0 & 0x0010 != 0
    }

    /// The Ack Policy subfield (bits 5-6).
    pub const fn ack_policy(self) -> u8 {
        ((self.0 >> 5) & 0x03) as u8
    }

    /// The A-MSDU Present bit (bit 7): the body is an A-MSDU.
    pub const fn amsdu_present(self) -> bool {
        self.0 & 0x0080 != 0
    }

    /// A QoS Control for traffic identifier `tid` with normal ack policy and the A-MSDU
    /// Present bit set.
    pub const fn amsdu(tid: u8) -> Self {
        Self(Self::with_tid(tid).0 | 0x0080)
    }
}

/// The MAC header of a management or data frame.
///
/// Which optional fields are on the wire follows from [`Header::frame_control`]: `addr4` for
/// data frames with both To DS and From DS set, `qos` for QoS data subtypes, `ht_control` when
/// the +HTC/Order bit is set in a management or QoS data frame. [`Header::parse`] fills them
/// exactly so; [`Header::emit`] writes a field when the frame control calls for it (a zero value
/// if the option is `None`) and skips it otherwise. Keep the two in agreement for a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The Frame Control field; its type is management or data.
    pub frame_control: FrameControl,
    /// The Duration/ID field.
    pub duration: u16,
    /// Address 1: the receiver.
    pub addr1: MacAddr,
    /// Address 2: the transmitter.
    pub addr2: MacAddr,
    /// Address 3: the BSSID, source or destination according to the DS bits.
    pub addr3: MacAddr,
    /// The Sequence Control field.
    pub sequence: SequenceControl,
    /// Address 4 (data frames with To DS and From DS both set).
    pub addr4: Option<MacAddr>,
    /// The QoS Control field (QoS data subtypes).
    pub qos: Option<QosControl>,
    /// The HT Control field (+HTC bit set in a management or QoS data frame), little-endian.
    pub ht_control: Option<u32>,
}

/// Which optional fields a management or data header of this frame control carries.
#[derive(Debug, Clone, Copy)]
struct Layout {
    addr4: bool,
    qos: bool,
    ht_control: bool,
}

impl Layout {
    fn of(fc: FrameControl) -> Option<Self> {
        let flags = fc.flags;
        match fc.frame_type {
            FrameType::Management(_) => Some(Self {
                addr4: false,
                qos: false,
                ht_control: flags.order(),
            }),
            FrameType::Data(subtype) => Some(Self {
                addr4: flags.to_ds() && flags.from_ds(),
                qos: subtype.is_qos(),
                ht_control: subtype.is_qos() && flags.order(),
            }),
            FrameType::Control(_) | FrameType::Extension(_) => None,
        }
    }

    fn len(self) -> usize {
        Header::BASE_LEN
            + if self.addr4 { 6 } else { 0 }
            + if self.qos { 2 } else { 0 }
            + if self.ht_control { 4 } else { 0 }
    }
}

impl Header {
    /// The length of the header without optional fields.
    pub const BASE_LEN: usize = 24;

    /// A header with the given frame control and addresses, zero duration and sequence, and the
    /// optional fields the frame control calls for set to zero.
    pub fn new(
        frame_control: FrameControl,
        addr1: MacAddr,
        addr2: MacAddr,
        addr3: MacAddr,
    ) -> Self {
        let layout = Layout::of(frame_control);
        let has = |f: fn(Layout) -> bool| layout.is_some_and(f);
        Self {
            frame_control,
            duration: 0,
            addr1,
            addr2,
            addr3,
            sequence: SequenceControl::default(),
            addr4: has(|l| l.addr4).then_some(MacAddr::ZERO),
            qos: has(|l| l.qos).then_some(QosControl::default()),
            ht_control: has(|l| l.ht_control).then_some(0),
        }
    }

    /// Parses the header of a management or data frame from the start of `r`.
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let frame_control = FrameControl::from_u16(r.u16_le("frame control")?);
        let layout = Layout::of(frame_control).ok_or(ParseError::BadValue {
            what: "header frame type (not management or data)",
            value: frame_control.frame_type.type_bits().into(),
        })?;
        let duration = r.u16_le("duration/ID")?;
        let addr1 = MacAddr(r.array("address 1")?);
        let addr2 = MacAddr(r.array("address 2")?);
        let addr3 = MacAddr(r.array("address 3")?);
        let sequence = SequenceControl::from_u16(r.u16_le("sequence control")?);
        let addr4 = match layout.addr4 {
            true => Some(MacAddr(r.array("address 4")?)),
            false => None,
        };
        let qos = match layout.qos {
            true => Some(QosControl(r.u16_le("QoS control")?)),
            false => None,
        };
        let ht_control = match layout.ht_control {
            true => Some(r.u32_le("HT control")?),
            false => None,
        };
        Ok(Self {
            frame_control,
            duration,
            addr1,
            addr2,
            addr3,
            sequence,
            addr4,
            qos,
            ht_control,
        })
    }

    /// The number of bytes [`Header::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        Layout::of(self.frame_control).map_or(Self::BASE_LEN, Layout::len)
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_control.to_u16().to_le_bytes());
        out.extend_from_slice(&self.duration.to_le_bytes());
        out.extend_from_slice(&self.addr1.0);
        out.extend_from_slice(&self.addr2.0);
        out.extend_from_slice(&self.addr3.0);
        out.extend_from_slice(&self.sequence.to_u16().to_le_bytes());
        if let Some(layout) = Layout::of(self.frame_control) {
            if layout.addr4 {
                out.extend_from_slice(&self.addr4.unwrap_or_default().0);
            }
            if layout.qos {
                let qos = self.qos.unwrap_or_default();
                out.extend_from_slice(&qos.0.to_le_bytes());
            }
            if layout.ht_control {
                out.extend_from_slice(&self.ht_control.unwrap_or(0).to_le_bytes());
            }
        }
    }

    /// The frame control flags.
    pub fn flags(&self) -> FcFlags {
        self.frame_control.flags
    }

    /// The receiver address (address 1).
    pub fn receiver(&self) -> MacAddr {
        self.addr1
    }

    /// The transmitter address (address 2).
    pub fn transmitter(&self) -> MacAddr {
        self.addr2
    }

    /// The BSSID by the DS bits (IEEE 802.11-2020 Table 9-30); `None` for 4-address frames.
    pub fn bssid(&self) -> Option<MacAddr> {
        let f = self.flags();
        match (f.to_ds(), f.from_ds()) {
            (false, false) => Some(self.addr3),
            (false, true) => Some(self.addr2),
            (true, false) => Some(self.addr1),
            (true, true) => None,
        }
    }

    /// The final destination address by the DS bits.
    pub fn destination(&self) -> MacAddr {
        match self.flags().to_ds() {
            false => self.addr1,
            true => self.addr3,
        }
    }

    /// The original source address by the DS bits (address 4 in 4-address frames, or address
    /// 2 if that is missing).
    pub fn source(&self) -> MacAddr {
        let f = self.flags();
        match (f.to_ds(), f.from_ds()) {
            (_, false) => self.addr2,
            (false, true) => self.addr3,
            (true, true) => self.addr4.unwrap_or(self.addr2),
        }
    }
}

/// A read-only or writable view of a frame's header fields in a buffer, without copying
/// (smoltcp style).
///
/// [`FrameView::new_checked`] checks that the buffer holds the whole header the frame control
/// announces; after that no accessor panics. Control frames expose address 2 only for subtypes
/// that carry it, and never a sequence control.
#[derive(Debug, Clone)]
pub struct FrameView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FrameView<T> {
    /// Wraps `buffer` after checking that it holds the full header.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let view = Self { buffer };
        let len = view.buffer.as_ref().len();
        let need = view.header_len_checked()?;
        if len < need {
            return Err(ParseError::Truncated {
                what: "802.11 header",
                need,
                have: len,
            });
        }
        Ok(view)
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn header_len_checked(&self) -> Result<usize, ParseError> {
        let buf = self.buffer.as_ref();
        let fc = Reader::new(buf).u16_le("frame control")?;
        Ok(header_len(FrameControl::from_u16(fc)))
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.buffer.as_ref().get(at..at + N) {
            out.copy_from_slice(src);
        }
        out
    }

    /// The Frame Control field.
    pub fn frame_control(&self) -> FrameControl {
        FrameControl::from_u16(u16::from_le_bytes(self.bytes(0)))
    }

    /// The length of the header the frame control announces.
    pub fn header_len(&self) -> usize {
        header_len(self.frame_control())
    }

    /// The Duration/ID field.
    pub fn duration(&self) -> u16 {
        u16::from_le_bytes(self.bytes(2))
    }

    /// Address 1 (the receiver).
    pub fn addr1(&self) -> MacAddr {
        MacAddr(self.bytes(4))
    }

    /// Address 2 (the transmitter), if this frame type carries it.
    pub fn addr2(&self) -> Option<MacAddr> {
        (self.header_len() >= 16).then(|| MacAddr(self.bytes(10)))
    }

    /// Address 3, for management and data frames.
    pub fn addr3(&self) -> Option<MacAddr> {
        self.is_mgmt_or_data().then(|| MacAddr(self.bytes(16)))
    }

    /// The Sequence Control field, for management and data frames.
    pub fn sequence(&self) -> Option<SequenceControl> {
        self.is_mgmt_or_data()
            .then(|| SequenceControl::from_u16(u16::from_le_bytes(self.bytes(22))))
    }

    /// Address 4, for data frames with both DS bits set.
    pub fn addr4(&self) -> Option<MacAddr> {
        let fc = self.frame_control();
        Layout::of(fc)
            .is_some_and(|l| l.addr4)
            .then(|| MacAddr(self.bytes(24)))
    }

    /// The QoS Control field, for QoS data frames.
    pub fn qos(&self) -> Option<QosControl> {
        let layout = Layout::of(self.frame_control())?;
        let at = 24 + if layout.addr4 { 6 } else { 0 };
        layout
            .qos
            .then(|| QosControl(u16::from_le_bytes(self.bytes(at))))
    }

    /// The bytes after the header (frame body, without FCS).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    fn is_mgmt_or_data(&self) -> bool {
        Layout::of(self.frame_control()).is_some()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FrameView<T> {
    fn put(&mut self, at: usize, src: &[u8]) {
        if let Some(dst) = self.buffer.as_mut().get_mut(at..at + src.len()) {
            dst.copy_from_slice(src);
        }
    }

    /// Sets the Frame Control field. A change of the header layout is the caller's to handle.
    pub fn set_frame_control(&mut self, fc: FrameControl) {
        self.put(0, &fc.to_u16().to_le_bytes());
    }

    /// Sets the Duration/ID field.
    pub fn set_duration(&mut self, duration: u16) {
        self.put(2, &duration.to_le_bytes());
    }

    /// Sets address 1.
    pub fn set_addr1(&mut self, addr: MacAddr) {
        self.put(4, &addr.0);
    }

    /// Sets address 2, if this frame type carries it.
    pub fn set_addr2(&mut self, addr: MacAddr) {
        if self.header_len() >= 16 {
            self.put(10, &addr.0);
        }
    }

    /// Sets the Sequence Control field of a management or data frame.
    pub fn set_sequence(&mut self, seq: SequenceControl) {
        if self.is_mgmt_or_data() {
            self.put(22, &seq.to_u16().to_le_bytes());
        }
    }
}

/// The header length a frame control announces: management and data by [`Layout`], control
/// frames by subtype (10 for CTS/Ack and unknown subtypes, 16 otherwise), 10 for extension frames.
fn header_len(fc: FrameControl) -> usize {
    if let Some(layout) = Layout::of(fc) {
        return layout.len();
    }
    match fc.frame_type {
        FrameType::Control(CtrlSubtype::Cts | CtrlSubtype::Ack | CtrlSubtype::Unknown(_)) => 10,
        FrameType::Control(_) => 16,
        _ => 10,
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame_control::{DataSubtype, MgmtSubtype};
    use super::*;

    const A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xaa]);
    const B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xbb]);
    const C: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xcc]);
    const D: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xdd]);

    fn data(flags: u8) -> Header {
        let fc = FrameControl::new(FrameType::Data(DataSubtype::Data), FcFlags(flags));
        let mut h = Header::new(fc, A, B, C);
        if flags & 3 == 3 {
            h.addr4 = Some(D);
        }
        h
    }

    #[test]
    fn addresses_follow_the_ds_bits() {
        // IEEE 802.11-2020 Table 9-30.
        let h = data(0);
        assert_eq!((h.destination(), h.source(), h.bssid()), (A, B, Some(C)));
        let h = data(FcFlags::FROM_DS);
        assert_eq!((h.destination(), h.source(), h.bssid()), (A, C, Some(B)));
        let h = data(FcFlags::TO_DS);
        assert_eq!((h.destination(), h.source(), h.bssid()), (C, B, Some(A)));
        let h = data(FcFlags::TO_DS | FcFlags::FROM_DS);
        assert_eq!((h.destination(), h.source(), h.bssid()), (C, D, None));
        assert_eq!((h.receiver(), h.transmitter()), (A, B));
    }

    #[test]
    fn four_address_qos_header_round_trips() {
        let fc = FrameControl::new(
            FrameType::Data(DataSubtype::QosData),
            FcFlags(FcFlags::TO_DS | FcFlags::FROM_DS | FcFlags::ORDER),
        );
        let mut h = Header::new(fc, A, B, C);
        h.addr4 = Some(D);
        h.qos = Some(QosControl::with_tid(6));
        h.ht_control = Some(0x1234_5678);
        h.sequence = SequenceControl {
            sequence: 0xabc,
            fragment: 3,
        };
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out.len(), 36);
        assert_eq!(out.len(), h.buffer_len());
        let mut r = Reader::new(&out);
        assert_eq!(Header::parse(&mut r).unwrap(), h);
        assert!(r.is_empty());
        let view = FrameView::new_checked(&out[..]).unwrap();
        assert_eq!(view.addr4(), Some(D));
        assert_eq!(view.qos().map(QosControl::tid), Some(6));
        assert_eq!(view.sequence(), Some(h.sequence));
        assert!(FrameView::new_checked(&out[..35]).is_err());
    }

    #[test]
    fn view_reads_and_writes_management_header() {
        let fc = FrameControl::new(FrameType::Management(MgmtSubtype::Beacon), FcFlags(0));
        let h = Header::new(fc, MacAddr::BROADCAST, B, B);
        let mut out = Vec::new();
        h.emit(&mut out);
        out.extend_from_slice(&[1, 2, 3]);
        let mut view = FrameView::new_checked(&mut out[..]).unwrap();
        assert_eq!(view.addr1(), MacAddr::BROADCAST);
        assert_eq!(view.payload(), &[1, 2, 3]);
        view.set_sequence(SequenceControl::new(77));
        view.set_addr2(A);
        assert_eq!(view.sequence(), Some(SequenceControl::new(77)));
        assert_eq!(view.addr2(), Some(A));
    }

    #[test]
    fn sequence_control_packs_number_and_fragment() {
        let s = SequenceControl::from_u16(0x1234);
        assert_eq!((s.sequence, s.fragment), (0x123, 4));
        assert_eq!(s.to_u16(), 0x1234);
    }
}
