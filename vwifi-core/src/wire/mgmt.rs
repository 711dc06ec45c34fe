//! Management frames (IEEE 802.11-2020 9.3.3): beacon, probe, authentication,
//! (re)association, deauthentication and disassociation.

use super::codes::{AuthAlgorithm, ReasonCode, StatusCode};
use super::frame_control::{FcFlags, FrameControl, FrameType, MgmtSubtype};
use super::header::Header;
use super::ie::{ElementList, Elements};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

/// The Capability Information field (IEEE 802.11-2020 9.4.1.4), kept as its raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilityInfo(pub u16);

impl CapabilityInfo {
    /// Bit 0: the sender is an AP of an infrastructure BSS.
    pub const ESS: u16 = 1 << 0;
    /// Bit 1: the sender is in an IBSS.
    pub const IBSS: u16 = 1 << 1;
    /// Bit 4: privacy (encryption) is required.
    pub const PRIVACY: u16 = 1 << 4;
    /// Bit 5: short preamble allowed.
    pub const SHORT_PREAMBLE: u16 = 1 << 5;
    /// Bit 8: spectrum management.
    pub const SPECTRUM_MANAGEMENT: u16 = 1 << 8;
    /// Bit 9: QoS.
    pub const QOS: u16 = 1 << 9;
    /// Bit 10: short slot time.
    pub const SHORT_SLOT_TIME: u16 = 1 << 10;
    /// Bit 12: radio measurement.
    pub const RADIO_MEASUREMENT: u16 = 1 << 12;

    /// Whether all the bits of `mask` are set.
    pub const fn contains(self, mask: u16) -> bool {
        self.0 & mask == mask
    }

    /// Whether the ESS bit is set.
    pub const fn ess(self) -> bool {
        self.contains(Self::ESS)
    }

    /// Whether the Privacy bit is set.
    pub const fn privacy(self) -> bool {
        self.contains(Self::PRIVACY)
    }
}

/// The body of a Beacon or Probe Response frame (IEEE 802.11-2020 9.3.3.2, 9.3.3.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Beacon {
    /// The TSF timer value, in microseconds.
    pub timestamp: u64,
    /// The beacon interval, in time units (1024 µs).
    pub beacon_interval: u16,
    /// The capabilities of the BSS.
    pub capability: CapabilityInfo,
    /// The elements (SSID, rates, DS parameter set, TIM, RSN...).
    pub elements: ElementList,
}

/// The body of a Probe Request frame (IEEE 802.11-2020 9.3.3.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ProbeRequest {
    /// The elements (SSID, possibly empty for a wildcard probe; rates...).
    pub elements: ElementList,
}

/// The body of an Authentication frame (IEEE 802.11-2020 9.3.3.11).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authentication {
    /// The authentication algorithm.
    pub algorithm: AuthAlgorithm,
    /// The authentication transaction sequence number (1 for the request of open system).
    pub transaction_seq: u16,
    /// The status code (0 in requests).
    pub status: StatusCode,
    /// The rest of the body, kept raw: elements (challenge text) or algorithm fields (SAE).
    pub body: Vec<u8>,
}

impl Authentication {
    /// An open system authentication request (transaction 1) or response (transaction 2).
    pub fn open_system(transaction_seq: u16, status: StatusCode) -> Self {
        Self {
            algorithm: AuthAlgorithm::OpenSystem,
            transaction_seq,
            status,
            body: Vec::new(),
        }
    }

    /// The rest of the body read as elements.
    pub fn elements(&self) -> Elements<'_> {
        Elements::new(&self.body)
    }
}

/// The body of an Association Request frame (IEEE 802.11-2020 9.3.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssocRequest {
    /// The capabilities of the station.
    pub capability: CapabilityInfo,
    /// The listen interval, in beacon intervals.
    pub listen_interval: u16,
    /// The elements (SSID, rates, RSN...).
    pub elements: ElementList,
}

/// The body of a Reassociation Request frame (IEEE 802.11-2020 9.3.3.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReassocRequest {
    /// The capabilities of the station.
    pub capability: CapabilityInfo,
    /// The listen interval, in beacon intervals.
    pub listen_interval: u16,
    /// The BSSID of the AP the station is currently associated with.
    pub current_ap: MacAddr,
    /// The elements.
    pub elements: ElementList,
}

/// The body of an Association or Reassociation Response frame (IEEE 802.11-2020 9.3.3.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssocResponse {
    /// The capabilities of the AP.
    pub capability: CapabilityInfo,
    /// The status code.
    pub status: StatusCode,
    /// The raw Association ID field: the AID with its two top bits set (9.4.1.8).
    pub association_id: u16,
    /// The elements.
    pub elements: ElementList,
}

impl AssocResponse {
    /// The association ID (1..=2007), without the two top bits of the field.
    pub fn aid(&self) -> u16 {
        self.association_id & 0x3fff
    }

    /// The raw field value for AID `aid`: its two top bits set.
    pub fn aid_field(aid: u16) -> u16 {
        (aid & 0x3fff) | 0xc000
    }
}

/// The body of a Deauthentication or Disassociation frame (IEEE 802.11-2020 9.3.3.12, 9.3.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deauthentication {
    /// Why the sender ends the authentication or association.
    pub reason: ReasonCode,
    /// Trailing elements (vendor specific, Management MIC).
    pub elements: ElementList,
}

impl Deauthentication {
    /// A body with this reason and no elements.
    pub fn new(reason: ReasonCode) -> Self {
        Self {
            reason,
            elements: ElementList::new(),
        }
    }
}

/// The body of a Disassociation frame: the same fields as [`Deauthentication`].
pub type Disassociation = Deauthentication;

/// The body of a management frame, by subtype.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MgmtBody {
    /// Association Request.
    AssocRequest(AssocRequest),
    /// Association Response.
    AssocResponse(AssocResponse),
    /// Reassociation Request.
    ReassocRequest(ReassocRequest),
    /// Reassociation Response.
    ReassocResponse(AssocResponse),
    /// Probe Request.
    ProbeRequest(ProbeRequest),
    /// Probe Response.
    ProbeResponse(Beacon),
    /// Beacon.
    Beacon(Beacon),
    /// Disassociation.
    Disassociation(Disassociation),
    /// Authentication.
    Authentication(Authentication),
    /// Deauthentication.
    Deauthentication(Deauthentication),
    /// A subtype not modelled above (Action, ATIM...), or any body with the Protected bit set
    /// (still encrypted), kept raw. Not canonical for a modelled subtype of an unprotected frame.
    Other {
        /// The subtype.
        subtype: MgmtSubtype,
        /// The raw body.
        body: Vec<u8>,
    },
}

impl MgmtBody {
    /// The subtype this body is sent as.
    pub fn subtype(&self) -> MgmtSubtype {
        match self {
            Self::AssocRequest(_) => MgmtSubtype::AssocRequest,
            Self::AssocResponse(_) => MgmtSubtype::AssocResponse,
            Self::ReassocRequest(_) => MgmtSubtype::ReassocRequest,
            Self::ReassocResponse(_) => MgmtSubtype::ReassocResponse,
            Self::ProbeRequest(_) => MgmtSubtype::ProbeRequest,
            Self::ProbeResponse(_) => MgmtSubtype::ProbeResponse,
            Self::Beacon(_) => MgmtSubtype::Beacon,
            Self::Disassociation(_) => MgmtSubtype::Disassociation,
            Self::Authentication(_) => MgmtSubtype::Authentication,
            Self::Deauthentication(_) => MgmtSubtype::Deauthentication,
            Self::Other { subtype, .. } => *subtype,
        }
    }

    /// Parses a body of `subtype`; `protected` bodies are kept raw.
    pub fn parse(subtype: MgmtSubtype, protected: bool, body: &[u8]) -> Result<Self, ParseError> {
        let other = || Self::Other {
            subtype,
            body: body.to_vec(),
        };
        if protected {
            return Ok(other());
        }
        let mut r = Reader::new(body);
        let cap = |r: &mut Reader<'_>| r.u16_le("capability information").map(CapabilityInfo);
        let status = |r: &mut Reader<'_>| r.u16_le("status code").map(StatusCode::from);
        Ok(match subtype {
            MgmtSubtype::Beacon | MgmtSubtype::ProbeResponse => {
                let beacon = Beacon {
                    timestamp: r.u64_le("timestamp")?,
                    beacon_interval: r.u16_le("beacon interval")?,
                    capability: cap(&mut r)?,
                    elements: ElementList::parse(r.rest())?,
                };
                match subtype {
                    MgmtSubtype::Beacon => Self::Beacon(beacon),
                    _ => Self::ProbeResponse(beacon),
                }
            }
            MgmtSubtype::ProbeRequest => Self::ProbeRequest(ProbeRequest {
                elements: ElementList::parse(r.rest())?,
            }),
            MgmtSubtype::Authentication => Self::Authentication(Authentication {
                algorithm: r.u16_le("authentication algorithm")?.into(),
                transaction_seq: r.u16_le("authentication transaction sequence")?,
                status: status(&mut r)?,
                body: r.rest().to_vec(),
            }),
            MgmtSubtype::AssocRequest => Self::AssocRequest(AssocRequest {
                capability: cap(&mut r)?,
                listen_interval: r.u16_le("listen interval")?,
                elements: ElementList::parse(r.rest())?,
            }),
            MgmtSubtype::ReassocRequest => Self::ReassocRequest(ReassocRequest {
                capability: cap(&mut r)?,
                listen_interval: r.u16_le("listen interval")?,
                current_ap: MacAddr(r.array("current AP address")?),
                elements: ElementList::parse(r.rest())?,
            }),
            MgmtSubtype::AssocResponse | MgmtSubtype::ReassocResponse => {
                let resp = AssocResponse {
                    capability: cap(&mut r)?,
                    status: status(&mut r)?,
                    association_id: r.u16_le("association ID")?,
                    elements: ElementList::parse(r.rest())?,
                };
                match subtype {
                    MgmtSubtype::AssocResponse => Self::AssocResponse(resp),
                    _ => Self::ReassocResponse(resp),
                }
            }
            MgmtSubtype::Deauthentication | MgmtSubtype::Disassociation => {
                let body = Deauthentication {
                    reason: r.u16_le("reason code")?.into(),
                    elements: ElementList::parse(r.rest())?,
                };
                match subtype {
                    MgmtSubtype::Deauthentication => Self::Deauthentication(body),
                    _ => Self::Disassociation(body),
                }
            }
            _ => other(),
        })
    }

    /// The number of bytes [`MgmtBody::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Beacon(b) | Self::ProbeResponse(b) => 12 + b.elements.buffer_len(),
            Self::ProbeRequest(p) => p.elements.buffer_len(),
            Self::Authentication(a) => 6 + a.body.len(),
            Self::AssocRequest(a) => 4 + a.elements.buffer_len(),
            Self::ReassocRequest(a) => 10 + a.elements.buffer_len(),
            Self::AssocResponse(a) | Self::ReassocResponse(a) => 6 + a.elements.buffer_len(),
            Self::Deauthentication(d) | Self::Disassociation(d) => 2 + d.elements.buffer_len(),
            Self::Other { body, .. } => body.len(),
        }
    }

    /// Appends the body to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let u16le = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
        match self {
            Self::Beacon(b) | Self::ProbeResponse(b) => {
                out.extend_from_slice(&b.timestamp.to_le_bytes());
                u16le(out, b.beacon_interval);
                u16le(out, b.capability.0);
                b.elements.emit(out);
            }
            Self::ProbeRequest(p) => p.elements.emit(out),
            Self::Authentication(a) => {
                u16le(out, a.algorithm.into());
                u16le(out, a.transaction_seq);
                u16le(out, a.status.into());
                out.extend_from_slice(&a.body);
            }
            Self::AssocRequest(a) => {
                u16le(out, a.capability.0);
                u16le(out, a.listen_interval);
                a.elements.emit(out);
            }
            Self::ReassocRequest(a) => {
                u16le(out, a.capability.0);
                u16le(out, a.listen_interval);
                out.extend_from_slice(&a.current_ap.0);
                a.elements.emit(out);
            }
            Self::AssocResponse(a) | Self::ReassocResponse(a) => {
                u16le(out, a.capability.0);
                u16le(out, a.status.into());
                u16le(out, a.association_id);
                a.elements.emit(out);
            }
            Self::Deauthentication(d) | Self::Disassociation(d) => {
                u16le(out, d.reason.into());
                d.elements.emit(out);
            }
            Self::Other { body, .. } => out.extend_from_slice(body),
        }
    }
}

/// A management frame: header and typed body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MgmtFrame {
    /// The MAC header. On emit, its type and subtype are taken from [`MgmtFrame::body`].
    pub header: Header,
    /// The body.
    pub body: MgmtBody,
}

impl MgmtFrame {
    /// A frame from `sa` to `da` in BSS `bssid`, with zero duration, sequence and flags.
    pub fn new(da: MacAddr, sa: MacAddr, bssid: MacAddr, body: MgmtBody) -> Self {
        let fc = FrameControl::new(FrameType::Management(body.subtype()), FcFlags::default());
        Self {
            header: Header::new(fc, da, sa, bssid),
            body,
        }
    }

    /// Parses a whole management frame (without FCS).
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::parse(&mut r)?;
        Self::parse_body(header, r.rest())
    }

    /// Parses the body that follows an already parsed header.
    pub fn parse_body(header: Header, body: &[u8]) -> Result<Self, ParseError> {
        let FrameType::Management(subtype) = header.frame_control.frame_type else {
            return Err(ParseError::BadValue {
                what: "management frame type",
                value: header.frame_control.frame_type.type_bits().into(),
            });
        };
        let body = MgmtBody::parse(subtype, header.flags().protected(), body)?;
        Ok(Self { header, body })
    }

    /// The number of bytes [`MgmtFrame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.wire_header().buffer_len() + self.body.buffer_len()
    }

    /// Appends the frame (without FCS) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.wire_header().emit(out);
        self.body.emit(out);
    }

    fn wire_header(&self) -> Header {
        let mut header = self.header;
        header.frame_control.frame_type = FrameType::Management(self.body.subtype());
        header
    }
}

#[cfg(test)]
mod tests {
    use super::super::codes::{AkmSuite, CipherSuite, ElementId};
    use super::super::ie::{Element, Rate, Ssid};
    use super::super::rsn::Rsne;
    use super::*;

    const AP: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x01, 0x00]);
    const STA: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);

    /// A WPA2-PSK beacon laid out per IEEE 802.11-2020 9.3.3.2 (Table 9-32 order: timestamp,
    /// beacon interval, capability, SSID, supported rates, DS parameter set, TIM, RSN, ...).
    #[rustfmt::skip]
    const BEACON: &[u8] = &[
        0x80, 0x00, 0x00, 0x00, // FC: beacon; duration 0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // DA: broadcast
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // SA
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // BSSID
        0x30, 0x05, // sequence 0x053, fragment 0
        0x00, 0x10, 0x20, 0x30, 0x40, 0x00, 0x00, 0x00, // timestamp
        0x64, 0x00, // beacon interval 100 TU
        0x11, 0x04, // capability: ESS, privacy, short slot time
        0x00, 0x06, b'v', b'w', b'i', b'f', b'i', b'0', // SSID "vwifi0"
        0x01, 0x08, 0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24, // rates
        0x03, 0x01, 0x06, // channel 6
        0x05, 0x04, 0x00, 0x02, 0x00, 0x00, // TIM: DTIM count 0, period 2, no traffic
        0x30, 0x14, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04,
        0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, 0x00, 0x00, // RSN: CCMP/CCMP/PSK
        0x2d, 0x02, 0xef, 0x01, // HT capabilities (opaque; cut short on purpose)
        0xdd, 0x07, 0x00, 0x50, 0xf2, 0x02, 0x00, 0x01, 0x00, // vendor (WMM info)
    ];

    #[test]
    fn parses_wpa2_beacon() {
        let frame = MgmtFrame::parse(BEACON).unwrap();
        assert_eq!(frame.header.addr1, MacAddr::BROADCAST);
        assert_eq!(frame.header.bssid(), Some(AP));
        assert_eq!(frame.header.sequence.sequence, 0x053);
        let MgmtBody::Beacon(b) = &frame.body else {
            panic!("not a beacon: {frame:?}");
        };
        assert_eq!(b.timestamp, 0x40_3020_1000);
        assert_eq!(b.beacon_interval, 100);
        assert!(b.capability.ess() && b.capability.privacy());
        assert_eq!(b.elements.ssid(), Some(&Ssid::new(b"vwifi0").unwrap()));
        assert_eq!(b.elements.channel(), Some(6));
        assert_eq!(b.elements.rates().next(), Some(Rate::new(2, true)));
        assert_eq!(b.elements.tim().map(|t| t.dtim_period), Some(2));
        let rsn = b.elements.rsn().unwrap();
        assert_eq!(rsn, &Rsne::wpa2_psk());
        assert_eq!(rsn.akm_suites.as_deref(), Some(&[AkmSuite::Psk][..]));
        assert_eq!(rsn.group_cipher, Some(CipherSuite::Ccmp128));
        assert!(
            matches!(b.elements.get(ElementId::HtCapabilities), Some(Element::HtCapabilities(d)) if d == &[0xef, 0x01])
        );
        assert_eq!(
            b.elements.0.last().and_then(Element::vendor_oui),
            Some([0x00, 0x50, 0xf2])
        );
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, BEACON);
        assert_eq!(frame.buffer_len(), BEACON.len());
    }

    #[test]
    fn truncated_beacon_names_the_field() {
        assert_eq!(
            MgmtFrame::parse(&BEACON[..30]),
            Err(ParseError::Truncated {
                what: "timestamp",
                need: 8,
                have: 6
            })
        );
        assert!(matches!(
            MgmtFrame::parse(&BEACON[..BEACON.len() - 1]),
            Err(ParseError::Truncated {
                what: "element body",
                ..
            })
        ));
    }

    #[test]
    #[rustfmt::skip]
    fn parses_open_system_auth_request() {
        let bytes = [
            0xb0, 0x00, 0x3a, 0x01, // FC: authentication; duration 314
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // DA: AP
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SA: STA
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // BSSID
            0x10, 0x00, // sequence 1
            0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // open system, transaction 1, success
            0xdd, 0x03, 0x00, 0x10, 0x18, // a vendor element is kept
        ];
        let frame = MgmtFrame::parse(&bytes).unwrap();
        let MgmtBody::Authentication(auth) = &frame.body else {
            panic!("not auth: {frame:?}");
        };
        assert_eq!(auth.algorithm, AuthAlgorithm::OpenSystem);
        assert_eq!(auth.transaction_seq, 1);
        assert_eq!(auth.status, StatusCode::Success);
        assert_eq!(auth.elements().count(), 1);
        assert_eq!(frame.header.transmitter(), STA);
        let mut expected = MgmtFrame::new(AP, STA, AP, MgmtBody::Authentication(Authentication {
            body: bytes[30..].to_vec(),
            ..Authentication::open_system(1, StatusCode::Success)
        }));
        expected.header.duration = 314;
        expected.header.sequence.sequence = 1;
        assert_eq!(frame, expected);
        let mut out = Vec::new();
        expected.emit(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    #[rustfmt::skip]
    fn parses_assoc_request_and_response() {
        let req = [
            0x00, 0x00, 0x00, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x20, 0x00,
            0x31, 0x04, 0x0a, 0x00, // capability, listen interval 10
            0x00, 0x02, b'a', b'p', // SSID
            0x01, 0x02, 0x82, 0x84, // rates
            0x30, 0x14, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04,
            0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, 0x00, 0x00,
        ];
        let frame = MgmtFrame::parse(&req).unwrap();
        let MgmtBody::AssocRequest(a) = &frame.body else {
            panic!("not assoc req: {frame:?}");
        };
        assert_eq!(a.listen_interval, 10);
        assert_eq!(a.elements.rsn(), Some(&Rsne::wpa2_psk()));
        let resp = [
            0x10, 0x00, 0x00, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x30, 0x00,
            0x11, 0x04, 0x11, 0x00, 0x05, 0xc0, // capability, status 17, AID 5
            0x01, 0x01, 0x82,
        ];
        let frame = MgmtFrame::parse(&resp).unwrap();
        let MgmtBody::AssocResponse(a) = &frame.body else {
            panic!("not assoc resp: {frame:?}");
        };
        assert_eq!(a.status, StatusCode::ApUnableToHandleNewStations);
        assert_eq!(a.aid(), 5);
        assert_eq!(AssocResponse::aid_field(5), a.association_id);
        for bytes in [&req[..], &resp[..]] {
            let mut out = Vec::new();
            MgmtFrame::parse(bytes).unwrap().emit(&mut out);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    #[rustfmt::skip]
    fn parses_deauth_with_reason() {
        let bytes = [
            0xc0, 0x00, 0x00, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x40, 0x00,
            0x0f, 0x00, // 4-way handshake timeout
        ];
        let frame = MgmtFrame::parse(&bytes).unwrap();
        assert_eq!(
            frame.body,
            MgmtBody::Deauthentication(Deauthentication::new(ReasonCode::FourWayHandshakeTimeout))
        );
        // A protected deauth keeps its (encrypted) body raw.
        let mut protected = bytes;
        protected[1] = 0x40;
        let frame = MgmtFrame::parse(&protected).unwrap();
        assert_eq!(frame.body, MgmtBody::Other {
            subtype: MgmtSubtype::Deauthentication,
            body: vec![0x0f, 0x00],
        });
        assert!(MgmtFrame::parse(&bytes[..25]).is_err());
    }
}
