//! The HT/VHT/HE elements a BSS or a station sends for its [`PhyCaps`], and the capabilities
//! a BSS advertises, read back from its beacon or probe response.

use super::caps::PhyCaps;
use super::channels::{center_channel, occupied};
use super::vector::{Standard, Width};
use crate::channel::{Band, Channel};
use crate::wire::phy_ie::{
    mcs_map, He6GhzBandCapabilities, HeCapabilities, HeOperation, HtCapabilities, HtOperation,
    SixGhzOperation, VhtCapabilities, VhtOperation, EXT_HE_6GHZ_BAND_CAPABILITIES,
    EXT_HE_CAPABILITIES, EXT_HE_OPERATION,
};
use crate::wire::{Element, ElementId, ElementList};

/// VHT and HE MCS map entry: MCS 0-9 (VHT) or 0-11 (HE).
const MAP_TOP: u16 = 2;
/// A-MPDU Parameters: maximum A-MPDU length exponent 3 (65535 octets), no start spacing.
const HT_AMPDU_PARAMS: u8 = 0x03;
/// VHT Capabilities Information: maximum MPDU length 11454 (bits 0-1 = 2), maximum A-MPDU
/// length exponent 7 (bits 23-25).
const VHT_INFO_BASE: u32 = 0x02 | (7 << 23);
/// HE Operation Parameters: TXOP duration RTS threshold 1023 (disabled, bits 4-13).
const HE_OP_PARAMS: u32 = 0x3ff << 4;
/// The 6 GHz Operation Information's Minimum Rate, Mbit/s: the lowest OFDM rate.
const SIX_GHZ_MIN_RATE: u8 = 6;

/// HE 6 GHz Band Capabilities: what [`HT_AMPDU_PARAMS`] and [`VHT_INFO_BASE`] say in the other
/// bands (no start spacing, A-MPDU exponent 7, MPDUs of 11 454 octets) and SM power save off.
fn he_6ghz_band_capabilities() -> He6GhzBandCapabilities {
    He6GhzBandCapabilities {
        info: (7 << He6GhzBandCapabilities::MAX_AMPDU_EXP_SHIFT)
            | (2 << He6GhzBandCapabilities::MAX_MPDU_SHIFT)
            | He6GhzBandCapabilities::SM_PS_DISABLED,
    }
}

/// The 6 GHz Operation Information of a BSS of `width` on 6 GHz channel `primary`: the
/// channel width, the centre of the BSS (of its primary 80 MHz at 160 MHz, the 160 MHz centre
/// in segment 1, as VHT Operation does it).
fn six_ghz_operation(primary: Channel, width: Width) -> SixGhzOperation {
    let centre = |w| center_channel(primary, w).unwrap_or(primary.number());
    let (control, ccfs0, ccfs1) = match width {
        Width::Mhz20 => (0, primary.number(), 0),
        Width::Mhz40 => (1, centre(Width::Mhz40), 0),
        Width::Mhz80 => (2, centre(Width::Mhz80), 0),
        Width::Mhz160 => (3, centre(Width::Mhz80), centre(Width::Mhz160)),
    };
    SixGhzOperation {
        primary_channel: primary.number(),
        control,
        ccfs0,
        ccfs1,
        min_rate: SIX_GHZ_MIN_RATE,
    }
}

fn ht_capabilities(caps: &PhyCaps) -> HtCapabilities {
    // Every vwifi node takes A-MSDUs of any length it can parse: the larger HT maximum.
    let mut info = HtCapabilities::SGI_20 | HtCapabilities::MAX_AMSDU_7935;
    if caps.width >= Width::Mhz40 {
        info |= HtCapabilities::WIDTH_40 | HtCapabilities::SGI_40;
    }
    let mut mcs_set = [0u8; 16];
    for byte in mcs_set.iter_mut().take(usize::from(caps.nss.min(4))) {
        *byte = 0xff;
    }
    mcs_set[12] = 0x01; // Tx MCS Set Defined, Tx equal to Rx
    HtCapabilities {
        info,
        ampdu_params: HT_AMPDU_PARAMS,
        mcs_set,
        ..HtCapabilities::default()
    }
}

fn vht_capabilities(caps: &PhyCaps) -> VhtCapabilities {
    let mut info = VHT_INFO_BASE | VhtCapabilities::SGI_80;
    if caps.width >= Width::Mhz160 {
        info |= (1 << 2) | VhtCapabilities::SGI_160;
    }
    let map = mcs_map(caps.nss, MAP_TOP);
    VhtCapabilities {
        info,
        rx_mcs_map: map,
        rx_highest: 0,
        tx_mcs_map: map,
        tx_highest: 0,
    }
}

fn he_capabilities(caps: &PhyCaps, band: Band) -> HeCapabilities {
    let mut phy = [0u8; 11];
    phy[0] = match (band, caps.width) {
        (_, Width::Mhz20) => 0,
        (Band::Ghz2_4, _) => HeCapabilities::WIDTH_40_2G,
        // B1 and B2 mean "in the 5 GHz and 6 GHz bands" (9.4.2.248.3).
        (Band::Ghz5 | Band::Ghz6, Width::Mhz160) => {
            HeCapabilities::WIDTH_80_5G | HeCapabilities::WIDTH_160_5G
        }
        (Band::Ghz5 | Band::Ghz6, _) => HeCapabilities::WIDTH_80_5G,
    };
    let map = mcs_map(caps.nss, MAP_TOP);
    let pairs = 1 + usize::from(phy[0] & HeCapabilities::WIDTH_160_5G != 0);
    HeCapabilities {
        mac: [0; 6],
        phy,
        mcs_maps: vec![(map, map); pairs],
        ppe: Vec::new(),
    }
}

/// The capability elements of a station with `caps` in `band` (association requests, probe
/// requests): HT (not at 6 GHz), then VHT (5 GHz), then HE, each only if the standard has it,
/// and at 6 GHz the HE 6 GHz Band Capabilities.
pub fn capability_elements(caps: &PhyCaps, band: Band) -> Vec<Element> {
    let mut out = Vec::new();
    if caps.standard >= Standard::Ht && band != Band::Ghz6 {
        out.push(ht_capabilities(caps).to_element());
    }
    if caps.standard >= Standard::Vht && band == Band::Ghz5 {
        out.push(vht_capabilities(caps).to_element());
    }
    if caps.standard >= Standard::He {
        out.push(he_capabilities(caps, band).to_element());
        if band == Band::Ghz6 {
            out.push(he_6ghz_band_capabilities().to_element());
        }
    }
    out
}

/// The elements of a BSS with `caps` on primary channel `primary` (beacons, probe and
/// association responses), in the order of IEEE 802.11-2020 Table 9-32: HT Capabilities, HT
/// Operation, VHT Capabilities, VHT Operation, HE Capabilities, HE Operation. Empty for a
/// legacy BSS.
///
/// A 6 GHz BSS (HE only) sends no HT or VHT element: its HE Operation carries the 6 GHz
/// Operation Information and the HE 6 GHz Band Capabilities follow (IEEE 802.11ax-2021
/// 26.17.2.1, Table 9-32 order 98 and 100+).
pub fn bss_elements(caps: &PhyCaps, primary: Channel) -> Vec<Element> {
    let band = primary.band();
    let mut out = Vec::new();
    if caps.standard < Standard::Ht {
        return out;
    }
    if band == Band::Ghz6 {
        // Only HE operates there (PhyCaps::check_on).
        if caps.standard >= Standard::He {
            out = he_elements(caps, primary);
        }
        return out;
    }
    let chans = occupied(primary, caps.width.min(Width::Mhz40)).unwrap_or_default();
    let secondary = chans.get(1).map(Channel::number);
    let mut info = [0u8; 5];
    if let Some(s) = secondary {
        info[0] = if s > primary.number() { 1 } else { 3 } | 0x04;
    }
    out.push(ht_capabilities(caps).to_element());
    out.push(
        HtOperation {
            primary_channel: primary.number(),
            info,
            basic_mcs: [0; 16],
        }
        .to_element(),
    );
    if caps.standard >= Standard::Vht && band == Band::Ghz5 {
        out.push(vht_capabilities(caps).to_element());
        let (channel_width, ccfs0, ccfs1) = match caps.width {
            Width::Mhz80 => (1, center_channel(primary, Width::Mhz80).unwrap_or(0), 0),
            Width::Mhz160 => (
                1,
                center_channel(primary, Width::Mhz80).unwrap_or(0),
                center_channel(primary, Width::Mhz160).unwrap_or(0),
            ),
            _ => (0, 0, 0),
        };
        out.push(
            VhtOperation {
                channel_width,
                ccfs0,
                ccfs1,
                basic_mcs: mcs_map(1, 0),
            }
            .to_element(),
        );
    }
    if caps.standard >= Standard::He {
        out.extend(he_elements(caps, primary));
    }
    out
}

/// A HE BSS's HE Capabilities and HE Operation on `primary`; at 6 GHz with the 6 GHz Operation
/// Information and followed by the HE 6 GHz Band Capabilities.
fn he_elements(caps: &PhyCaps, primary: Channel) -> Vec<Element> {
    let six_ghz = primary.band() == Band::Ghz6;
    let operation = HeOperation {
        params: HE_OP_PARAMS,
        bss_color: 1,
        basic_mcs: mcs_map(1, 0),
        six_ghz: six_ghz.then(|| six_ghz_operation(primary, caps.width).to_bytes()),
        ..HeOperation::default()
    };
    let mut out = vec![
        he_capabilities(caps, primary.band()).to_element(),
        operation.to_element(),
    ];
    if six_ghz {
        out.push(he_6ghz_band_capabilities().to_element());
    }
    out
}

/// The capabilities a BSS on `primary` advertises in `elements`: the newest standard whose
/// elements are present and parse, the width its operation elements set (HT Operation for 40
/// MHz, VHT Operation for 80 and 160 MHz, the HE Operation's 6 GHz Operation Information for a
/// 6 GHz BSS, which sends no HT element), the streams of its MCS set. Legacy without any.
pub fn caps_of(elements: &ElementList, primary: Channel) -> PhyCaps {
    let mut ht_caps = None;
    let mut ht_op = None;
    let mut vht_caps = None;
    let mut vht_op = None;
    let mut he_caps = None;
    let mut he_op = None;
    for e in elements {
        match e {
            Element::HtCapabilities(b) => ht_caps = HtCapabilities::parse(b).ok(),
            Element::HtOperation(b) => ht_op = HtOperation::parse(b).ok(),
            Element::VhtCapabilities(b) => vht_caps = VhtCapabilities::parse(b).ok(),
            Element::Other {
                id: ElementId::VhtOperation,
                data,
            } => vht_op = VhtOperation::parse(data).ok(),
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_CAPABILITIES => {
                he_caps = HeCapabilities::parse(data).ok();
            }
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_OPERATION => {
                he_op = HeOperation::parse(data).ok();
            }
            _ => {}
        }
    }
    let six_ghz = he_op
        .and_then(|o| o.six_ghz)
        .map(SixGhzOperation::from_bytes);
    if let (None, Some(he), Some(six)) = (&ht_caps, &he_caps, six_ghz) {
        let width = Width::from_mhz(six.width_mhz()).unwrap_or(Width::Mhz20);
        let caps = PhyCaps {
            standard: Standard::He,
            width,
            nss: he.streams().clamp(1, 4),
        };
        return caps.common(&PhyCaps::STATION_DEFAULT_MAX, primary);
    }
    let Some(ht) = ht_caps else {
        return PhyCaps::LEGACY;
    };
    let (standard, nss) = match (&he_caps, &vht_caps) {
        (Some(he), _) if he_op.is_some() => (Standard::He, he.streams()),
        (_, Some(vht)) if vht_op.is_some() => (
            Standard::Vht,
            crate::wire::phy_ie::mcs_map_streams(vht.rx_mcs_map),
        ),
        _ => (Standard::Ht, ht.streams()),
    };
    let mut width = if ht_op.is_some_and(|o| o.is_40_mhz()) {
        Width::Mhz40
    } else {
        Width::Mhz20
    };
    if let Some(op) = vht_op.filter(|_| standard >= Standard::Vht) {
        width = match op.width_mhz() {
            160 => Width::Mhz160,
            80 => Width::Mhz80,
            _ => width,
        };
    }
    let caps = PhyCaps {
        standard,
        width,
        nss: nss.clamp(1, 4),
    };
    // What cannot be on this channel is narrowed to what can.
    caps.common(&PhyCaps::STATION_DEFAULT_MAX, primary)
}

/// The longest A-MSDU (octets) a peer whose association request, beacon or probe response
/// carries `elements` takes, 0 for a non-HT peer: from its VHT Capabilities' Maximum MPDU
/// Length (3895, 7991 or 11 454 octets) less the MPDU's own octets
/// ([`crate::wire::amsdu::MPDU_OVERHEAD`]) if it sends them, else its HT Capabilities' Maximum
/// A-MSDU Length (3839 or 7935 octets; 9.4.2.55.2, 9.4.2.157.2), as mac80211 reads them. At 6
/// GHz, without HT or VHT elements, the HE 6 GHz Band Capabilities' Maximum MPDU Length less the
/// MPDU's octets.
pub fn max_amsdu_of(elements: &ElementList) -> usize {
    let mut ht = None;
    let mut vht = None;
    let mut six_ghz = None;
    for e in elements {
        match e {
            Element::HtCapabilities(b) => ht = HtCapabilities::parse(b).ok(),
            Element::VhtCapabilities(b) => vht = VhtCapabilities::parse(b).ok(),
            Element::Extension { ext_id, data } if *ext_id == EXT_HE_6GHZ_BAND_CAPABILITIES => {
                six_ghz = He6GhzBandCapabilities::parse(data).ok();
            }
            _ => {}
        }
    }
    let Some(ht) = ht else {
        return six_ghz.map_or(0, |c| c.max_mpdu_len() - crate::wire::amsdu::MPDU_OVERHEAD);
    };
    if let Some(vht) = vht {
        let mpdu = match vht.info & 0x03 {
            0 => 3895,
            1 => 7991,
            _ => 11_454,
        };
        return mpdu - crate::wire::amsdu::MPDU_OVERHEAD;
    }
    if ht.info & HtCapabilities::MAX_AMSDU_7935 != 0 {
        7935
    } else {
        3839
    }
}

/// The longest A-MSDU to send on a link whose two ends have `link` in common to a peer that
/// takes `peer_max` octets ([`max_amsdu_of`]): none below HT (802.11a/b/g have no A-MSDU and
/// no QoS), at most [`crate::wire::amsdu::HT_AMPDU_MAX_AMSDU`] on an HT link (its MPDUs may
/// go in an A-MPDU).
pub fn amsdu_limit(link: Standard, peer_max: usize) -> usize {
    match link {
        Standard::Legacy => 0,
        Standard::Ht => peer_max.min(crate::wire::amsdu::HT_AMPDU_MAX_AMSDU),
        Standard::Vht | Standard::He => peer_max,
    }
}

/// The newest standard whose capability elements a station's association request carries
/// (HT, then VHT, then HE Capabilities), legacy without any.
pub fn station_standard(elements: &ElementList) -> Standard {
    let mut standard = Standard::Legacy;
    for e in elements {
        let s = match e {
            Element::HtCapabilities(_) => Standard::Ht,
            Element::VhtCapabilities(_) => Standard::Vht,
            Element::Extension { ext_id, .. } if *ext_id == EXT_HE_CAPABILITIES => Standard::He,
            _ => continue,
        };
        standard = standard.max(s);
    }
    standard
}

impl PhyCaps {
    /// Everything the simulation models: HE, 160 MHz, 4 streams (the neutral element of
    /// [`PhyCaps::common`]).
    pub const STATION_DEFAULT_MAX: Self = Self {
        standard: Standard::He,
        width: Width::Mhz160,
        nss: 4,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap()
    }

    #[test]
    fn bss_elements_read_back_as_the_same_capabilities() {
        for (standard, width, nss, channel) in [
            (Standard::Ht, Width::Mhz20, 1, 6),
            (Standard::Ht, Width::Mhz40, 2, 1),
            (Standard::Ht, Width::Mhz40, 3, 11),
            (Standard::Vht, Width::Mhz80, 2, 36),
            (Standard::Vht, Width::Mhz160, 4, 100),
            (Standard::Vht, Width::Mhz40, 2, 157),
            (Standard::He, Width::Mhz80, 2, 149),
            (Standard::He, Width::Mhz160, 2, 36),
            (Standard::He, Width::Mhz40, 2, 1),
            (Standard::He, Width::Mhz20, 1, 165),
        ] {
            let caps = PhyCaps {
                standard,
                width,
                nss,
            };
            let list = ElementList(bss_elements(&caps, ch(channel)));
            let mut bytes = Vec::new();
            list.emit(&mut bytes);
            let parsed = ElementList::parse(&bytes).unwrap();
            assert_eq!(parsed, list);
            assert_eq!(caps_of(&parsed, ch(channel)), caps, "{caps:?} on {channel}");
        }
        assert!(bss_elements(&PhyCaps::LEGACY, ch(1)).is_empty());
        assert_eq!(caps_of(&ElementList::new(), ch(1)), PhyCaps::LEGACY);
    }

    #[test]
    fn station_elements_follow_the_band() {
        let sta = PhyCaps::STATION_DEFAULT;
        let ids = |b| -> Vec<ElementId> {
            capability_elements(&sta, b)
                .iter()
                .map(Element::id)
                .collect()
        };
        assert_eq!(
            ids(Band::Ghz5),
            [
                ElementId::HtCapabilities,
                ElementId::VhtCapabilities,
                ElementId::Extension
            ]
        );
        assert_eq!(
            ids(Band::Ghz2_4),
            [ElementId::HtCapabilities, ElementId::Extension]
        );
        // 6 GHz: HE Capabilities and HE 6 GHz Band Capabilities, no HT.
        let six = capability_elements(&sta, Band::Ghz6);
        let ext: Vec<u8> = six
            .iter()
            .filter_map(|e| match e {
                Element::Extension { ext_id, .. } => Some(*ext_id),
                _ => None,
            })
            .collect();
        assert_eq!(six.len(), 2);
        assert_eq!(ext, [EXT_HE_CAPABILITIES, EXT_HE_6GHZ_BAND_CAPABILITIES]);
    }

    #[test]
    fn six_ghz_bss_elements_are_he_only_and_read_back() {
        for (width, nss, channel, op) in [
            (Width::Mhz20, 1, 1, [1, 0, 1, 0, 6]),
            (Width::Mhz40, 2, 5, [5, 1, 3, 0, 6]),
            (Width::Mhz80, 2, 37, [37, 2, 39, 0, 6]),
            (Width::Mhz160, 4, 37, [37, 3, 39, 47, 6]),
        ] {
            let caps = PhyCaps {
                standard: Standard::He,
                width,
                nss,
            };
            let primary = Channel::six_ghz(channel).unwrap();
            let list = ElementList(bss_elements(&caps, primary));
            assert!(
                list.iter().all(|e| e.id() == ElementId::Extension),
                "{list:?}"
            );
            let he_op = list.iter().find_map(|e| match e {
                Element::Extension { ext_id, data } if *ext_id == EXT_HE_OPERATION => {
                    HeOperation::parse(data).ok()
                }
                _ => None,
            });
            assert_eq!(he_op.and_then(|o| o.six_ghz), Some(op), "{caps:?}");
            let mut bytes = Vec::new();
            list.emit(&mut bytes);
            let parsed = ElementList::parse(&bytes).unwrap();
            assert_eq!(caps_of(&parsed, primary), caps);
            assert_eq!(
                max_amsdu_of(&parsed),
                11_454 - crate::wire::amsdu::MPDU_OVERHEAD
            );
        }
        // Nothing but HE is sent at 6 GHz.
        let ht = PhyCaps {
            standard: Standard::Ht,
            width: Width::Mhz20,
            nss: 1,
        };
        assert!(bss_elements(&ht, Channel::six_ghz(1).unwrap()).is_empty());
    }
}
