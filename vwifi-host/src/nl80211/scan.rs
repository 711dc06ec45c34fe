//! The kernel's scan results (`GET_SCAN`, parsed by `neli-wifi`) as the guest protocol's
//! [`BssInfo`], with what a join needs (the AP's RSN element, the frequency). The BSS's PHY
//! (standard, width, streams, top rate) is read from its HT/VHT/HE elements by the core's
//! parsers, the same summary the simulated radio's scan gives ([`phy_info`]).
//!
//! The kernel keeps one BSS table per card (cfg80211's), fed by every scan of every interface
//! on it: one guest's scan serves all guests, as the core's shared scan table does on the
//! simulated radio.

use vwifi_core::channel::Channel;
use vwifi_core::phy::elements::caps_of;
use vwifi_core::proto::{BssInfo, Security, Ssid};
use vwifi_core::station::{phy_info, security_of};
use vwifi_core::wire::mgmt::CapabilityInfo;
use vwifi_core::wire::{Element, ElementId, ElementList, Elements, Rate, Rsne};
use vwifi_core::MacAddr;

use super::consts as c;
use super::genl::{as_u16, find, nested, top_attrs, GenlMsg};

/// One BSS of the kernel's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanEntry {
    /// What the guest is told.
    pub(crate) info: BssInfo,
    /// The AP's RSN element, whole (ID, length, body), as its beacon or probe response has it.
    pub(crate) rsne: Option<Vec<u8>>,
    /// The channel's centre frequency in MHz.
    pub(crate) freq: u32,
    /// Whether the AP's RSNXE says SAE hash-to-element (then an SAE join uses it).
    pub(crate) sae_h2e: bool,
}

/// The entry of one `GET_SCAN` dump message, or `None` if it lacks a BSSID, a frequency or
/// a known channel. Never panics.
pub(crate) fn parse_entry(msg: &GenlMsg) -> Option<ScanEntry> {
    let bss = neli_wifi::Bss::try_from(msg.get_attr_handle()).ok()?;
    // The capability field neli-wifi does not read.
    let owned = top_attrs(msg);
    let attrs = owned.view();
    let capability = find(&attrs, c::ATTR_BSS)
        .map(nested)
        .and_then(|b| find(&b, c::BSS_CAPABILITY).and_then(as_u16))
        .unwrap_or(0);
    entry(&bss, capability)
}

/// The entry of a BSS parsed by `neli-wifi` with its capability field.
pub(crate) fn entry(bss: &neli_wifi::Bss, capability: u16) -> Option<ScanEntry> {
    let bssid = MacAddr::from_slice(bss.bssid.as_deref()?)?;
    let freq = bss.frequency?;
    let channel = Channel::from_frequency_mhz(u16::try_from(freq).ok()?)?;
    let ies = bss.information_elements.as_deref().unwrap_or(&[]);
    let mut ssid = Ssid::new(&[]).ok()?;
    let mut rsne = None;
    let mut parsed_rsn = None;
    let mut sae_h2e = false;
    // Every element that parses, for the PHY summary (a truncated tail is left out).
    let list = ElementList(
        Elements::new(ies)
            .flatten()
            .filter_map(|raw| Element::parse(raw).ok())
            .collect(),
    );
    let rates: Vec<Rate> = list.rates().collect();
    let phy = phy_info(&caps_of(&list, channel), &rates);
    for el in Elements::new(ies).flatten() {
        // RSNXE (IEEE 802.11-2020 9.4.2.241): bit 5 of the first octet, SAE hash-to-element.
        if el.id == ElementId::RsnExtension {
            sae_h2e = el
                .data
                .first()
                .is_some_and(|b| b & vwifi_core::handshake::sae::RSNXE_SAE_H2E != 0);
        }
        if el.id == ElementId::Ssid {
            if let Ok(s) = Ssid::new(el.data) {
                ssid = s;
            }
        } else if el.id == ElementId::Rsn {
            let mut whole = vec![48u8, u8::try_from(el.data.len()).unwrap_or(u8::MAX)];
            whole.extend_from_slice(el.data);
            rsne = Some(whole);
            parsed_rsn = Rsne::parse(el.data).ok();
        }
    }
    // An RSNE that does not parse counts as "some other RSN security".
    let security = match (&rsne, &parsed_rsn) {
        (Some(_), None) => Security::Other(vwifi_core::station::SECURITY_OTHER_RSN),
        _ => security_of(CapabilityInfo(capability), parsed_rsn.as_ref()),
    };
    let signal_dbm = bss
        .signal
        .map(|mbm| (mbm / 100).clamp(i32::from(i8::MIN), 0))
        .and_then(|d| i8::try_from(d).ok())
        .unwrap_or(i8::MIN);
    Some(ScanEntry {
        info: BssInfo {
            ssid,
            bssid,
            channel: channel.number(),
            frequency_mhz: channel.frequency_mhz(),
            signal_dbm,
            security,
            beacon_age_ms: bss.seen_ms_ago.unwrap_or(0),
            phy: Some(phy),
        },
        rsne,
        freq,
        sae_h2e,
    })
}

/// The own RSN element of a WPA2-PSK (CCMP) join, whole.
pub(crate) fn own_rsne() -> Vec<u8> {
    let mut out = Vec::new();
    Element::Rsn(Rsne::wpa2_psk()).emit(&mut out);
    out
}

/// The best BSS of `ssid` (of `bssid` if given): the strongest, the freshest on a tie.
pub(crate) fn best<'a>(
    table: &'a [ScanEntry],
    ssid: &Ssid,
    bssid: Option<MacAddr>,
) -> Option<&'a ScanEntry> {
    table
        .iter()
        .filter(|e| e.info.ssid == *ssid && bssid.is_none_or(|b| b == e.info.bssid))
        .max_by_key(|e| (e.info.signal_dbm, core::cmp::Reverse(e.info.beacon_age_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bss(ies: &[u8], freq: u32, signal_mbm: i32) -> neli_wifi::Bss {
        let mut b = neli_wifi::Bss::default();
        b.bssid = Some(vec![2, 0, 0, 0, 0, 1]);
        b.frequency = Some(freq);
        b.signal = Some(signal_mbm);
        b.seen_ms_ago = Some(120);
        b.information_elements = Some(ies.to_vec());
        b
    }

    fn ies(ssid: &str, rsn: bool) -> Vec<u8> {
        let mut out = vec![0, ssid.len() as u8];
        out.extend_from_slice(ssid.as_bytes());
        if rsn {
            out.extend_from_slice(&own_rsne());
        }
        out
    }

    #[test]
    fn a_wpa2_bss_gives_its_ssid_channel_signal_security_and_rsne() {
        let e = entry(&bss(&ies("lab-a", true), 2437, -4250), 0x0011).unwrap();
        assert_eq!(e.info.ssid, Ssid::new(b"lab-a").unwrap());
        assert_eq!(e.info.bssid, MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(e.info.channel, 6);
        assert_eq!(e.info.frequency_mhz, 2437);
        assert_eq!(e.info.signal_dbm, -42);
        assert_eq!(e.info.security, Security::Wpa2Psk);
        assert_eq!(e.info.beacon_age_ms, 120);
        assert_eq!(e.rsne.as_deref(), Some(&own_rsne()[..]));
    }

    #[test]
    fn an_open_bss_and_a_bad_one() {
        let e = entry(&bss(&ies("open", false), 2412, -3000), 0x0001).unwrap();
        assert_eq!(e.info.security, Security::Open);
        assert!(e.rsne.is_none());
        // A frequency that is no channel, no BSSID: no entry, no panic.
        assert!(entry(&bss(&ies("x", false), 1234, 0), 0).is_none());
        let mut b = bss(&ies("x", false), 2412, 0);
        b.bssid = Some(vec![1, 2]);
        assert!(entry(&b, 0).is_none());
        // Truncated elements: what parsed is kept.
        let mut cut = ies("cut", true);
        cut.truncate(cut.len() - 3);
        let e = entry(&bss(&cut, 2412, -5000), 0x0011).unwrap();
        assert_eq!(e.info.ssid, Ssid::new(b"cut").unwrap());
    }

    /// The elements of a hostapd beacon (`ieee80211n=1`, `ieee80211ac=1`, `channel=36`,
    /// `ht_capab=[HT40+][SHORT-GI-20][SHORT-GI-40]`, `vht_capab=[SHORT-GI-80]`,
    /// `vht_oper_chwidth=1`, `vht_oper_centr_freq_seg0_idx=42`, on a 2x2 mac80211_hwsim radio),
    /// as the kernel's scan results carry them.
    const HOSTAPD_VHT80_IES: &[u8] = &[
        0x00, 0x07, b'l', b'a', b'b', b'-', b'v', b'h', b't', // SSID
        0x01, 0x08, 0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c, // Supported Rates
        0x03, 0x01, 0x24, // DS Parameter Set: 36
        0x05, 0x04, 0x00, 0x02, 0x00, 0x00, // TIM
        0x2d, 0x1a, 0x6e, 0x00, 0x1b, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, // HT Capabilities: HT40, SGI 20/40, MCS 0-15
        0x3d, 0x16, 0x24, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, // HT Operation: primary 36, secondary above
        0x7f, 0x08, 0x04, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, // Extended Capabilities
        0xbf, 0x0c, 0x20, 0x00, 0x00, 0x00, 0xfa, 0xff, 0x00, 0x00, 0xfa, 0xff, 0x00,
        0x00, // VHT Capabilities: SGI 80, MCS 0-9 on 2 streams
        0xc0, 0x05, 0x01, 0x2a, 0x00, 0xfc, 0xff, // VHT Operation: 80 MHz, centre 42
        0xdd, 0x18, 0x00, 0x50, 0xf2, 0x02, 0x01, 0x01, 0x00, 0x00, 0x03, 0xa4, 0x00, 0x00, 0x27,
        0xa4, 0x00, 0x00, 0x42, 0x43, 0x5e, 0x00, 0x62, 0x32, 0x2f, 0x00, // WMM
    ];

    /// A hostapd 802.11n beacon at 2.4 GHz (`ieee80211n=1`, `channel=6`, default `ht_capab`:
    /// 20 MHz, no short GI) from a one-stream card.
    const HOSTAPD_HT20_IES: &[u8] = &[
        0x00, 0x06, b'l', b'a', b'b', b'-', b'h', b't', // SSID
        0x01, 0x08, 0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24, // Supported Rates
        0x03, 0x01, 0x06, // DS Parameter Set: 6
        0x32, 0x04, 0x30, 0x48, 0x60, 0x6c, // Extended Supported Rates
        0x2d, 0x1a, 0x0c, 0x00, 0x1b, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, // HT Capabilities: 20 MHz, MCS 0-7
        0x3d, 0x16, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // HT Operation: 6
    ];

    #[test]
    fn scan_results_show_the_standard_width_streams_and_top_rate_of_the_elements() {
        let vht = entry(&bss(HOSTAPD_VHT80_IES, 5180, -5000), 0x0001).unwrap();
        assert_eq!(vht.info.ssid, Ssid::new(b"lab-vht").unwrap());
        let phy = vht.info.phy.unwrap();
        assert_eq!(
            (phy.standard, phy.width_mhz, phy.streams, phy.rate_kbps),
            (vwifi_core::phy::Standard::Vht, 80, 2, 866_667)
        );
        assert_eq!(phy.to_string(), "802.11ac 80 MHz 2x2 866.7 Mbit/s");
        let ht = entry(&bss(HOSTAPD_HT20_IES, 2437, -5000), 0x0001).unwrap();
        let phy = ht.info.phy.unwrap();
        assert_eq!(
            (phy.standard, phy.width_mhz, phy.streams),
            (vwifi_core::phy::Standard::Ht, 20, 1)
        );
        // A legacy BSS: its fastest Supported Rate.
        let g = entry(&bss(&ies("g", false), 2412, -5000), 0x0001).unwrap();
        let phy = g.info.phy.unwrap();
        assert_eq!(
            (phy.standard, phy.rate_kbps),
            (vwifi_core::phy::Standard::Legacy, 54_000)
        );
        // A 6 GHz HE BSS (no HT element): its HE Operation's 6 GHz information.
        let six = vwifi_core::channel::Channel::six_ghz(37).unwrap();
        let caps = vwifi_core::phy::PhyCaps {
            standard: vwifi_core::phy::Standard::He,
            width: vwifi_core::phy::Width::Mhz160,
            nss: 2,
        };
        let mut he_ies = ies("six", true);
        ElementList(vwifi_core::phy::elements::bss_elements(&caps, six)).emit(&mut he_ies);
        let he = entry(&bss(&he_ies, 6135, -5000), 0x0011).unwrap();
        assert_eq!((he.info.channel, he.info.frequency_mhz), (37, 6135));
        let phy = he.info.phy.unwrap();
        assert_eq!(
            (phy.standard, phy.width_mhz, phy.streams),
            (vwifi_core::phy::Standard::He, 160, 2)
        );
    }

    #[test]
    fn best_prefers_the_strongest_of_the_network() {
        let mut a = entry(&bss(&ies("n", false), 2412, -6000), 1).unwrap();
        let mut b = a.clone();
        b.info.bssid = MacAddr([2, 0, 0, 0, 0, 2]);
        b.info.signal_dbm = -40;
        a.info.signal_dbm = -60;
        let other = entry(&bss(&ies("m", false), 2412, -1000), 1).unwrap();
        let table = vec![a.clone(), b.clone(), other];
        let n = Ssid::new(b"n").unwrap();
        assert_eq!(best(&table, &n, None).unwrap().info.bssid, b.info.bssid);
        assert_eq!(
            best(&table, &n, Some(a.info.bssid)).unwrap().info.bssid,
            a.info.bssid
        );
        assert!(best(&table, &Ssid::new(b"zz").unwrap(), None).is_none());
    }
}
