//! The elements and frames a software AP sends: beacons, probe and association responses,
//! deauthentications, and the status code of a refused RSN association.

use crate::channel::{Band, Channel};
use crate::handshake::HandshakeError;
use crate::phy::elements::bss_elements;
use crate::phy::PhyCaps;
use crate::wire::{CapabilityInfo, Element, ElementList, Rate, Ssid, StatusCode};

/// The Supported Rates and Extended Supported Rates the AP advertises on `channel`:
/// 802.11b/g on 2.4 GHz (basic rates 1, 2, 5.5 and 11 Mbit/s), 802.11a on 5 GHz (basic rates
/// 6, 12 and 24 Mbit/s). Units of 500 kbit/s.
pub(super) fn rate_elements(channel: Channel) -> [Element; 2] {
    match channel.band() {
        Band::Ghz2_4 => [
            Element::SupportedRates(vec![
                Rate::new(2, true),
                Rate::new(4, true),
                Rate::new(11, true),
                Rate::new(22, true),
                Rate::new(12, false),
                Rate::new(18, false),
                Rate::new(24, false),
                Rate::new(36, false),
            ]),
            Element::ExtendedSupportedRates(vec![
                Rate::new(48, false),
                Rate::new(72, false),
                Rate::new(96, false),
                Rate::new(108, false),
            ]),
        ],
        Band::Ghz5 | Band::Ghz6 => [
            Element::SupportedRates(vec![
                Rate::new(12, true),
                Rate::new(18, false),
                Rate::new(24, true),
                Rate::new(36, false),
                Rate::new(48, true),
                Rate::new(72, false),
                Rate::new(96, false),
                Rate::new(108, false),
            ]),
            // No extended rates on 5 GHz: eight rates fit the Supported Rates element.
            Element::ExtendedSupportedRates(Vec::new()),
        ],
    }
}

/// The capability field of the BSS.
pub(super) fn capability(channel: Channel, privacy: bool) -> CapabilityInfo {
    let mut cap = CapabilityInfo::ESS;
    if privacy {
        cap |= CapabilityInfo::PRIVACY;
    }
    if channel.band() == Band::Ghz2_4 {
        cap |= CapabilityInfo::SHORT_PREAMBLE | CapabilityInfo::SHORT_SLOT_TIME;
    }
    CapabilityInfo(cap)
}

/// What goes into a beacon or probe response besides the fixed fields.
pub(super) struct BssElements<'a> {
    pub(super) ssid: &'a Ssid,
    pub(super) channel: Channel,
    pub(super) rsne: Option<&'a Element>,
    /// The RSN Extension element (WPA3: SAE hash-to-element), after the RSNE.
    pub(super) rsnxe: Option<&'a Element>,
    /// The BSS's HT/VHT/HE capabilities (legacy: no such elements).
    pub(super) phy: PhyCaps,
}

impl BssElements<'_> {
    /// The elements in the order of IEEE 802.11-2020 Table 9-32 (beacon) and 9-38 (probe
    /// response): SSID, Supported Rates, DS Parameter Set, TIM (beacons only), Extended
    /// Supported Rates, RSN, then HT Capabilities and Operation, VHT Capabilities and
    /// Operation, HE Capabilities and Operation as the BSS's standard has them.
    ///
    /// The DS Parameter Set is sent on 5 GHz too, so that a scanner learns the channel from
    /// the frame alone; not at 6 GHz, where the HE Operation element names the primary channel
    /// (IEEE 802.11ax-2021 Table 9-32: DS Parameter Set absent in the 6 GHz band).
    pub(super) fn build(&self, tim: Option<Element>) -> ElementList {
        let [rates, ext_rates] = rate_elements(self.channel);
        let mut list = ElementList::new();
        list.push(Element::Ssid(self.ssid.clone()));
        list.push(rates);
        if self.channel.band() != Band::Ghz6 {
            list.push(Element::DsParameterSet {
                channel: self.channel.number(),
            });
        }
        if let Some(tim) = tim {
            list.push(tim);
        }
        if matches!(&ext_rates, Element::ExtendedSupportedRates(r) if !r.is_empty()) {
            list.push(ext_rates);
        }
        if let Some(rsne) = self.rsne {
            list.push(rsne.clone());
        }
        for e in bss_elements(&self.phy, self.channel) {
            list.push(e);
        }
        if let Some(rsnxe) = self.rsnxe {
            list.push(rsnxe.clone());
        }
        list
    }
}

/// The elements of an association response: the rates, then the BSS's HT/VHT/HE
/// capability and operation elements.
pub(super) fn assoc_response_elements(channel: Channel, phy: &PhyCaps) -> ElementList {
    let mut list = ElementList::new();
    for e in rate_elements(channel) {
        if !matches!(&e, Element::ExtendedSupportedRates(r) if r.is_empty()) {
            list.push(e);
        }
    }
    for e in bss_elements(phy, channel) {
        list.push(e);
    }
    list
}

/// The status code that refuses an association whose RSNE the authenticator cannot serve
/// (IEEE 802.11-2020 Table 9-50, as hostapd maps its RSNE checks): 41 invalid group cipher,
/// 42 invalid pairwise cipher, 43 invalid AKMP, 44 unsupported RSNE version, 40 invalid
/// element for anything else (a malformed RSNE).
pub(super) fn rsne_refusal(e: &HandshakeError) -> StatusCode {
    match e {
        HandshakeError::UnsupportedGroupCipher { .. } => StatusCode::InvalidGroupCipher,
        HandshakeError::UnsupportedPairwiseCipher { .. } => StatusCode::InvalidPairwiseCipher,
        HandshakeError::UnsupportedAkm { .. } => StatusCode::InvalidAkmp,
        HandshakeError::UnsupportedRsnVersion { .. } => StatusCode::UnsupportedRsneVersion,
        _ => StatusCode::InvalidElement,
    }
}
