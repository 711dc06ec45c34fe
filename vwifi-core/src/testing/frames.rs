//! Builders of 802.11 frames (without FCS) for tests, from the wire types.

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::crypto::ccmp;
use crate::crypto::keys::TemporalKey;
use crate::wire::llc::EthernetFrame;
use crate::wire::{
    Beacon, CapabilityInfo, DataFrame, DataSubtype, Element, ElementList, FcFlags, FrameControl,
    FrameType, Header, MgmtBody, MgmtFrame, Rate, SequenceControl, Ssid,
};

/// The locally administered unicast address `02:00:00:00:00:nn`.
pub const fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

/// A data frame from `ta` to `ra` (no DS bits, address 3 = `ta`) with sequence number `seq`
/// and a `payload_len`-byte body of a repeating pattern.
pub fn data(ra: MacAddr, ta: MacAddr, seq: u16, payload_len: usize) -> Bytes {
    let fc = FrameControl::new(FrameType::Data(DataSubtype::Data), FcFlags::default());
    let mut header = Header::new(fc, ra, ta, ta);
    header.sequence = SequenceControl::new(seq);
    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    let frame = DataFrame {
        header,
        payload: Bytes::from(payload),
    };
    let mut out = Vec::with_capacity(frame.buffer_len());
    frame.emit(&mut out);
    Bytes::from(out)
}

/// `msdu` in a protected data frame (no A-MSDU) from the AP `bssid` to its DA: sealed under
/// `tk` with key ID 0 and packet number `pn`, sequence number `seq`.
pub fn protected_from_ap(
    tk: &TemporalKey,
    bssid: MacAddr,
    pn: u64,
    seq: u16,
    msdu: &EthernetFrame,
) -> Bytes {
    let mut header = msdu.data_header(crate::wire::DsDirection::FromAp { bssid }, None);
    header.sequence = SequenceControl::new(seq);
    let mut plain = Vec::new();
    msdu.emit_data(&header, &mut plain);
    Bytes::from(ccmp::encrypt(tk, 0, pn, &plain).expect("a data frame seals"))
}

/// A beacon of BSS `bssid` named `ssid` on channel `channel` (SSID, supported rates, DS
/// parameter set), open, 100 TU interval.
pub fn beacon(bssid: MacAddr, ssid: &str, channel: u8, timestamp: u64) -> Bytes {
    let mut elements = ElementList::new();
    if let Ok(ssid) = Ssid::try_from(ssid) {
        elements.push(Element::Ssid(ssid));
    }
    elements.push(Element::SupportedRates(vec![
        Rate(0x82),
        Rate(0x84),
        Rate(0x8b),
        Rate(0x96),
        Rate(0x0c),
        Rate(0x18),
        Rate(0x30),
        Rate(0x6c),
    ]));
    elements.push(Element::DsParameterSet { channel });
    let body = MgmtBody::Beacon(Beacon {
        timestamp,
        beacon_interval: 100,
        capability: CapabilityInfo(CapabilityInfo::ESS),
        elements,
    });
    let frame = MgmtFrame::new(MacAddr::BROADCAST, bssid, bssid, body);
    let mut out = Vec::with_capacity(frame.buffer_len());
    frame.emit(&mut out);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Frame;

    #[test]
    fn built_frames_parse() {
        let d = data(mac(2), mac(1), 7, 100);
        let Ok(Frame::Data(parsed)) = Frame::parse(&d) else {
            panic!("data frame did not parse");
        };
        assert_eq!(parsed.header.addr1, mac(2));
        assert_eq!(parsed.header.sequence.sequence, 7);
        assert_eq!(parsed.payload.len(), 100);
        let b = beacon(mac(9), "net", 6, 0);
        let Ok(Frame::Management(m)) = Frame::parse(&b) else {
            panic!("beacon did not parse");
        };
        let MgmtBody::Beacon(body) = m.body else {
            panic!("not a beacon");
        };
        assert_eq!(body.elements.channel(), Some(6));
    }
}
