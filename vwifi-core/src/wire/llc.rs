//! LLC/SNAP encapsulation (IEEE 802.11-2020 5.1.5, RFC 1042, IEEE 802.1H) and the conversion
//! between Ethernet II (802.3) frames and 802.11 data frames.

use bytes::Bytes;

use super::data::DataFrame;
use super::frame_control::{DataSubtype, FcFlags, FrameControl, FrameType};
use super::header::{Header, QosControl};
use super::{ParseError, Reader};
use crate::addr::MacAddr;

enum_with_unknown! {
    /// An EtherType (IEEE 802 numbers). Values below 0x0600 in an 802.3 header are a length,
    /// not a type.
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// AppleTalk ARP (carried with the bridge-tunnel OUI).
        Aarp = 0x80f3,
        /// IEEE 802.1Q VLAN tag.
        Vlan = 0x8100,
        /// Novell IPX (carried with the bridge-tunnel OUI).
        Ipx = 0x8137,
        /// IPv6.
        Ipv6 = 0x86dd,
        /// EAPOL (IEEE 802.1X), carrying the 4-way handshake.
        Eapol = 0x888e,
        /// The vwifi guest control protocol (IEEE 802 local experimental EtherType 2).
        VwifiControl = 0x88b5,
        /// RSN pre-authentication.
        Preauth = 0x88c7,
        /// TDLS.
        Tdls = 0x890d,
    }
}

impl EtherType {
    /// The smallest value of the EtherType field that is a type, not an 802.3 length.
    pub const MIN_TYPE: u16 = 0x0600;
}

/// The LLC header of SNAP: DSAP 0xAA, SSAP 0xAA, control 0x03 (UI).
pub const LLC_SNAP: [u8; 3] = [0xaa, 0xaa, 0x03];
/// The OUI of RFC 1042 encapsulation.
pub const RFC1042_OUI: [u8; 3] = [0x00, 0x00, 0x00];
/// The OUI of IEEE 802.1H bridge-tunnel encapsulation, used for AARP and IPX.
pub const BRIDGE_TUNNEL_OUI: [u8; 3] = [0x00, 0x00, 0xf8];

/// An LLC/SNAP header: `AA-AA-03`, an OUI and an EtherType (8 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapHeader {
    /// The OUI: [`RFC1042_OUI`] or [`BRIDGE_TUNNEL_OUI`] for Ethernet bridging.
    pub oui: [u8; 3],
    /// The protocol.
    pub ethertype: EtherType,
}

impl SnapHeader {
    /// The length of the header.
    pub const LEN: usize = 8;

    /// The header an 802.11 station puts before an Ethernet payload of this type: bridge
    /// tunnel for AARP and IPX, RFC 1042 otherwise.
    pub fn for_ethertype(ethertype: EtherType) -> Self {
        let oui = match ethertype {
            EtherType::Aarp | EtherType::Ipx => BRIDGE_TUNNEL_OUI,
            _ => RFC1042_OUI,
        };
        Self { oui, ethertype }
    }

    /// Parses the header from the start of `r`.
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let llc: [u8; 3] = r.array("LLC header")?;
        if llc != LLC_SNAP {
            return Err(ParseError::BadValue {
                what: "LLC header (not SNAP)",
                value: u64::from(u32::from_be_bytes([0, llc[0], llc[1], llc[2]])),
            });
        }
        Ok(Self {
            oui: r.array("SNAP OUI")?,
            ethertype: r.u16_be("SNAP EtherType")?.into(),
        })
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&LLC_SNAP);
        out.extend_from_slice(&self.oui);
        out.extend_from_slice(&u16::from(self.ethertype).to_be_bytes());
    }

    /// Whether a payload starting with this header is translated to Ethernet II by removing
    /// it (IEEE 802.1H): bridge tunnel, or RFC 1042 for any type but AARP and IPX.
    pub fn is_ethernet_bridging(&self) -> bool {
        match self.oui {
            BRIDGE_TUNNEL_OUI => true,
            RFC1042_OUI => !matches!(self.ethertype, EtherType::Aarp | EtherType::Ipx),
            _ => false,
        }
    }
}

/// Which way a data frame crosses the BSS, with the addresses it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsDirection {
    /// A station sends to its AP (To DS): address 1 = BSSID, 2 = SA, 3 = DA.
    ToAp {
        /// The BSSID of the AP.
        bssid: MacAddr,
    },
    /// An AP sends to a station (From DS): address 1 = DA, 2 = BSSID, 3 = SA.
    FromAp {
        /// The BSSID of the AP.
        bssid: MacAddr,
    },
}

/// An Ethernet II (or 802.3 with length) frame, without FCS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthernetFrame {
    /// The destination address.
    pub dst: MacAddr,
    /// The source address.
    pub src: MacAddr,
    /// The EtherType; a value below 0x0600 is the 802.3 length of an LLC payload.
    pub ethertype: EtherType,
    /// The payload (any padding included).
    pub payload: Bytes,
}

impl EthernetFrame {
    /// The length of the Ethernet header.
    pub const HEADER_LEN: usize = 14;

    /// Parses a frame, copying the payload.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let (dst, src, ethertype, at) = Self::parse_header(buf)?;
        let payload = Bytes::copy_from_slice(buf.get(at..).unwrap_or(&[]));
        Ok(Self {
            dst,
            src,
            ethertype,
            payload,
        })
    }

    /// Parses a frame, sharing the payload with `buf` (no copy).
    pub fn parse_bytes(buf: &Bytes) -> Result<Self, ParseError> {
        let (dst, src, ethertype, at) = Self::parse_header(buf)?;
        Ok(Self {
            dst,
            src,
            ethertype,
            payload: buf.slice(at..),
        })
    }

    fn parse_header(buf: &[u8]) -> Result<(MacAddr, MacAddr, EtherType, usize), ParseError> {
        let mut r = Reader::new(buf);
        let dst = MacAddr(r.array("Ethernet destination")?);
        let src = MacAddr(r.array("Ethernet source")?);
        let ethertype = r.u16_be("EtherType")?.into();
        Ok((dst, src, ethertype, r.position()))
    }

    /// The number of bytes [`EthernetFrame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload.len()
    }

    /// Appends the frame to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.src.0);
        out.extend_from_slice(&u16::from(self.ethertype).to_be_bytes());
        out.extend_from_slice(&self.payload);
    }

    /// Whether the EtherType field is an 802.3 length rather than a type.
    pub fn is_length(&self) -> bool {
        u16::from(self.ethertype) < EtherType::MIN_TYPE
    }

    /// The 802.11 data frame that carries this frame in direction `dir`: Data, or QoS Data if
    /// `qos` is given, unprotected, with zero duration and sequence (the sender assigns them).
    ///
    /// The body is LLC/SNAP plus the payload; an 802.3 length frame's payload already starts
    /// with LLC and is carried as is (cut to its length). In [`DsDirection::ToAp`] the
    /// Ethernet source becomes the transmitter address: the caller checks it is the station's.
    pub fn to_data(&self, dir: DsDirection, qos: Option<QosControl>) -> DataFrame {
        let header = self.data_header(dir, qos);
        let payload = if self.is_length() {
            self.payload.slice(..self.data_body_len())
        } else {
            let mut body = Vec::with_capacity(self.data_body_len());
            self.emit_data_body(&mut body);
            Bytes::from(body)
        };
        DataFrame { header, payload }
    }

    /// The MAC header of [`EthernetFrame::to_data`]'s frame.
    pub fn data_header(&self, dir: DsDirection, qos: Option<QosControl>) -> Header {
        let subtype = match qos {
            Some(_) => DataSubtype::QosData,
            None => DataSubtype::Data,
        };
        let (flags, a1, a2, a3) = match dir {
            DsDirection::ToAp { bssid } => (FcFlags::TO_DS, bssid, self.src, self.dst),
            DsDirection::FromAp { bssid } => (FcFlags::FROM_DS, self.dst, bssid, self.src),
        };
        let fc = FrameControl::new(FrameType::Data(subtype), FcFlags(flags));
        let mut header = Header::new(fc, a1, a2, a3);
        header.qos = qos;
        header
    }

    /// The length of [`EthernetFrame::to_data`]'s frame body.
    pub fn data_body_len(&self) -> usize {
        if self.is_length() {
            usize::from(u16::from(self.ethertype)).min(self.payload.len())
        } else {
            SnapHeader::LEN + self.payload.len()
        }
    }

    /// Appends [`EthernetFrame::to_data`]'s frame body to `out`.
    pub fn emit_data_body(&self, out: &mut Vec<u8>) {
        if self.is_length() {
            let len = self.data_body_len();
            out.extend_from_slice(self.payload.get(..len).unwrap_or(&self.payload));
        } else {
            SnapHeader::for_ethertype(self.ethertype).emit(out);
            out.extend_from_slice(&self.payload);
        }
    }

    /// Appends the data frame of [`EthernetFrame::to_data`] under `header` (from
    /// [`EthernetFrame::data_header`], with its sequence number and flags set) to `out`,
    /// without building the body apart first: the one copy of the payload on a send path.
    pub fn emit_data(&self, header: &Header, out: &mut Vec<u8>) {
        header.emit(out);
        self.emit_data_body(out);
    }

    /// The Ethernet frame a decrypted data frame carries: addresses from the DS bits,
    /// LLC/SNAP removed for RFC 1042 and bridge-tunnel payloads (IEEE 802.1H), other LLC
    /// payloads kept behind an 802.3 length. Shares the payload with `frame` (no copy).
    ///
    /// Fails for protected (still encrypted) frames, null subtypes, A-MSDUs and 4-address
    /// frames without address 4.
    pub fn from_data(frame: &DataFrame) -> Result<Self, ParseError> {
        let header = &frame.header;
        if header.flags().protected() {
            return Err(ParseError::BadValue {
                what: "data frame Protected bit (decrypt first)",
                value: 1,
            });
        }
        if frame.is_null() {
            return Err(ParseError::BadValue {
                what: "data subtype without body",
                value: u8::from(frame.subtype()).into(),
            });
        }
        if header.qos.is_some_and(QosControl::amsdu_present) {
            return Err(ParseError::BadValue {
                what: "QoS control A-MSDU present",
                value: 1,
            });
        }
        if header.flags().to_ds() && header.flags().from_ds() && header.addr4.is_none() {
            return Err(ParseError::BadValue {
                what: "4-address frame without address 4",
                value: 0,
            });
        }
        Self::from_msdu(header.destination(), header.source(), &frame.payload)
    }

    /// The Ethernet frame of an MSDU (a data frame's body, or an A-MSDU subframe's) from `src`
    /// to `dst`: LLC/SNAP removed for RFC 1042 and bridge-tunnel payloads (IEEE 802.1H), other
    /// LLC payloads kept behind an 802.3 length. Shares the payload with `msdu` (no copy).
    pub fn from_msdu(dst: MacAddr, src: MacAddr, msdu: &Bytes) -> Result<Self, ParseError> {
        let mut r = Reader::new(msdu);
        if let Ok(snap) = SnapHeader::parse(&mut r) {
            if snap.is_ethernet_bridging() {
                return Ok(Self {
                    dst,
                    src,
                    ethertype: snap.ethertype,
                    payload: msdu.slice(SnapHeader::LEN..),
                });
            }
        }
        let len = msdu.len();
        match u16::try_from(len) {
            Ok(len) if len < EtherType::MIN_TYPE => Ok(Self {
                dst,
                src,
                ethertype: EtherType::from(len),
                payload: msdu.clone(),
            }),
            _ => Err(ParseError::BadValue {
                what: "LLC payload too long for an 802.3 length",
                value: len as u64,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AP: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x01, 0x00]);
    const STA: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
    const PEER: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x99]);

    fn eth(ethertype: EtherType, payload: &'static [u8]) -> EthernetFrame {
        EthernetFrame {
            dst: PEER,
            src: STA,
            ethertype,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    #[rustfmt::skip]
    fn station_sends_ipv4_with_rfc1042_snap() {
        let frame = eth(EtherType::Ipv4, &[0x45, 0x00]).to_data(DsDirection::ToAp { bssid: AP }, None);
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, [
            0x08, 0x01, 0x00, 0x00, // Data, To DS
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // BSSID
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SA
            0x02, 0x00, 0x00, 0x00, 0x00, 0x99, // DA
            0x00, 0x00,
            0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, // LLC/SNAP IPv4
            0x45, 0x00,
        ]);
        let back = EthernetFrame::from_data(&DataFrame::parse(&out).unwrap()).unwrap();
        assert_eq!(back, eth(EtherType::Ipv4, &[0x45, 0x00]));
    }

    #[test]
    fn ap_sends_eapol_and_station_recovers_it() {
        let mut ap_frame = eth(EtherType::Eapol, &[0x02, 0x03, 0x00, 0x5f]);
        ap_frame.src = AP;
        ap_frame.dst = STA;
        let data = ap_frame.to_data(
            DsDirection::FromAp { bssid: AP },
            Some(QosControl::with_tid(7)),
        );
        assert!(data.header.flags().from_ds());
        assert_eq!(data.header.addr1, STA);
        assert_eq!(data.header.addr3, AP);
        assert_eq!(data.payload.get(6..8), Some(&[0x88, 0x8e][..]));
        assert_eq!(EthernetFrame::from_data(&data).unwrap(), ap_frame);
    }

    #[test]
    fn ipx_uses_bridge_tunnel_and_round_trips() {
        let frame = eth(EtherType::Ipx, &[0xff, 0xff]);
        let data = frame.to_data(DsDirection::ToAp { bssid: AP }, None);
        assert_eq!(
            data.payload.get(..6),
            Some(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0xf8][..])
        );
        assert_eq!(EthernetFrame::from_data(&data).unwrap(), frame);
        // RFC 1042 + IPX is not bridged: it stays an 802.3 LLC frame.
        let mut data = data;
        data.payload = Bytes::from_static(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x81, 0x37, 1]);
        let back = EthernetFrame::from_data(&data).unwrap();
        assert!(back.is_length());
        assert_eq!(u16::from(back.ethertype), 9);
    }

    #[test]
    fn length_frames_carry_llc_as_is() {
        let frame = eth(EtherType::from(3), &[0x42, 0x42, 0x03, 0x00, 0x00]);
        let data = frame.to_data(DsDirection::ToAp { bssid: AP }, None);
        assert_eq!(&data.payload[..], &[0x42, 0x42, 0x03]);
        let back = EthernetFrame::from_data(&data).unwrap();
        assert_eq!(back.payload, Bytes::from_static(&[0x42, 0x42, 0x03]));
    }

    #[test]
    fn refuses_protected_null_and_amsdu() {
        let mut data = eth(EtherType::Ipv4, &[1]).to_data(DsDirection::ToAp { bssid: AP }, None);
        data.header.frame_control.flags = data.header.flags().with(FcFlags::PROTECTED, true);
        assert!(EthernetFrame::from_data(&data).is_err());
        assert!(EthernetFrame::from_data(&DataFrame::null(STA, AP, true, None)).is_err());
        let amsdu = eth(EtherType::Ipv4, &[1])
            .to_data(DsDirection::ToAp { bssid: AP }, Some(QosControl(0x80)));
        assert!(EthernetFrame::from_data(&amsdu).is_err());
    }

    #[test]
    fn ethernet_parse_and_emit() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xb5, 0xee];
        let frame = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(frame.ethertype, EtherType::VwifiControl);
        assert_eq!(
            frame,
            EthernetFrame::parse_bytes(&Bytes::copy_from_slice(&bytes)).unwrap()
        );
        let mut out = Vec::new();
        frame.emit(&mut out);
        assert_eq!(out, bytes);
        assert!(EthernetFrame::parse(&bytes[..13]).is_err());
    }
}
