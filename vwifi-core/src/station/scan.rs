//! What a station knows of the networks around it: the BSS table, fed by beacons and probe
//! responses, with smoothed signal and age.

use std::collections::BTreeMap;

use core::time::Duration;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::proto::{self, BssInfo, Security};
use crate::radio::RxMeta;
use crate::time::Instant;
use crate::wire::{AkmSuite, Beacon, CapabilityInfo, CipherSuite, Element, Rate, Rsne};

/// [`Security::Other`] code for a BSS with the Privacy bit but no RSN element (WEP or WPA1).
pub const SECURITY_WEP_OR_WPA1: u8 = 3;
/// [`Security::Other`] code for an RSN BSS vwifi cannot join (enterprise, TKIP, other AKMs).
pub const SECURITY_OTHER_RSN: u8 = 4;

/// The most entries a BSS table holds; the oldest is evicted for a new one.
pub const MAX_BSS_ENTRIES: usize = 256;

/// The beacon interval assumed when a beacon says 0, in TU.
const DEFAULT_BEACON_INTERVAL: u16 = 100;

/// The channels a scan visits by default: 2.4 GHz 1 to 13, then the 5 GHz channels of UNII-1
/// (36-48) and UNII-3 (149-165), which need no radar detection, then the 6 GHz preferred
/// scanning channels (5, 21, ..., 229: every fourth 20 MHz channel, one in each 80 MHz block;
/// IEEE 802.11ax-2021 26.17.2.3.3), where 6 GHz APs are found without out-of-band discovery.
pub fn default_scan_channels() -> Vec<Channel> {
    let legacy = (1..=13u8)
        .chain([36, 40, 44, 48, 149, 153, 157, 161, 165])
        .filter_map(|n| Channel::new(n).ok());
    let psc = (0..15u8).filter_map(|i| Channel::six_ghz(5 + 16 * i).ok());
    legacy.chain(psc).collect()
}

/// What `scan` shows of a BSS's PHY: the standard, width and streams of `phy` (what its
/// elements advertise, [`crate::phy::elements::caps_of`]) and its fastest rate, the top MCS
/// rate or, for a legacy BSS, the fastest of its Supported Rates `rates` (54 Mbit/s without).
/// The simulated radio's scan table and the nl80211 radio's scan results both use it.
pub fn phy_info(phy: &crate::phy::PhyCaps, rates: &[Rate]) -> proto::PhyInfo {
    let rate_kbps = match phy.top_rate() {
        crate::phy::TxVector::Mcs(r) => r.kbps(),
        crate::phy::TxVector::Legacy(_) => rates
            .iter()
            .filter(|r| !r.is_membership_selector())
            .map(|r| r.kbps())
            .max()
            .unwrap_or(54_000),
    };
    proto::PhyInfo {
        standard: phy.standard,
        width_mhz: phy.width.mhz(),
        streams: phy.nss,
        mcs: None,
        rate_kbps,
    }
}

/// The security a beacon advertises: its RSN element's AKMs and ciphers, or the Privacy bit.
///
/// WPA2-PSK needs the PSK AKM with CCMP-128 as group and pairwise cipher (what the supplicant
/// does); the SAE AKM with CCMP-128 is WPA3-SAE, both AKMs WPA2/WPA3 (transition); any other RSNE is
/// [`SECURITY_OTHER_RSN`]; Privacy without RSNE is [`SECURITY_WEP_OR_WPA1`].
pub fn security_of(capability: CapabilityInfo, rsn: Option<&Rsne>) -> Security {
    let Some(rsn) = rsn else {
        return match capability.privacy() {
            true => Security::Other(SECURITY_WEP_OR_WPA1),
            false => Security::Open,
        };
    };
    // Absent fields take their defaults (IEEE 802.11-2020 9.4.2.24.1): CCMP-128, 802.1X.
    let group_ccmp = rsn.group_cipher.is_none_or(|c| c == CipherSuite::Ccmp128);
    let pairwise_ccmp = rsn
        .pairwise_ciphers
        .as_deref()
        .is_none_or(|p| p.contains(&CipherSuite::Ccmp128));
    let akms = rsn.akm_suites.as_deref().unwrap_or(&[AkmSuite::Ieee8021x]);
    let psk = akms.contains(&AkmSuite::Psk) && group_ccmp && pairwise_ccmp;
    let sae = akms.contains(&AkmSuite::Sae) && group_ccmp && pairwise_ccmp;
    if psk && sae {
        Security::Wpa2Wpa3
    } else if psk {
        Security::Wpa2Psk
    } else if sae {
        Security::Wpa3Sae
    } else {
        Security::Other(SECURITY_OTHER_RSN)
    }
}

/// One BSS as last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BssEntry {
    /// The AP's address.
    pub bssid: MacAddr,
    /// The network name (a hidden network's name once a probe response gave it).
    pub ssid: proto::Ssid,
    /// The BSS's channel: from its DS Parameter Set, else the channel it was heard on.
    pub channel: Channel,
    /// The signal, smoothed over the frames heard, in dBm.
    pub signal_dbm: i8,
    /// What it advertises.
    pub security: Security,
    /// Its beacon interval in TU (1024 µs).
    pub beacon_interval: u16,
    /// Its capabilities.
    pub capability: CapabilityInfo,
    /// Its RSN element, whole (ID and length included), exactly as advertised.
    pub rsne: Option<Vec<u8>>,
    /// Its RSN Extension element says SAE hash-to-element is supported (WPA3).
    pub sae_h2e: bool,
    /// Its supported rates (Supported and Extended Supported Rates).
    pub rates: Vec<Rate>,
    /// Its HT/VHT/HE capabilities as its elements advertise them (legacy without any).
    pub phy: crate::phy::PhyCaps,
    /// The longest A-MSDU it takes, octets (0: none; [`crate::phy::elements::max_amsdu_of`]).
    pub max_amsdu: usize,
    /// The PHY rate of the last frame heard from it, in kbit/s.
    pub rate_kbps: u32,
    /// When it was last heard.
    pub last_seen: Instant,
    /// The smoothed signal in 1/16 dBm.
    signal_x16: i32,
}

impl BssEntry {
    /// The time since it was last heard.
    pub fn age(&self, now: Instant) -> Duration {
        now - self.last_seen
    }

    /// The guest-protocol form of the entry at `now`.
    pub fn to_info(&self, now: Instant) -> BssInfo {
        BssInfo {
            ssid: self.ssid,
            bssid: self.bssid,
            channel: self.channel.number(),
            frequency_mhz: self.channel.frequency_mhz(),
            signal_dbm: self.signal_dbm,
            security: self.security,
            beacon_age_ms: u32::try_from(self.age(now).as_millis()).unwrap_or(u32::MAX),
            phy: Some(phy_info(&self.phy, &self.rates)),
        }
    }

    /// The fastest rate the BSS offers: its top MCS rate, or its fastest legacy rate.
    pub fn top_rate_kbps(&self) -> u32 {
        phy_info(&self.phy, &self.rates).rate_kbps
    }

    /// The beacon interval as a duration (100 TU if the beacon said 0).
    pub fn beacon_period(&self) -> Duration {
        let tu = match self.beacon_interval {
            0 => DEFAULT_BEACON_INTERVAL,
            n => n,
        };
        crate::time::TU * u32::from(tu)
    }

    /// Adds a signal sample to the smoothed signal (exponential average, weight 1/4).
    fn add_signal(&mut self, dbm: i8) {
        let sample = i32::from(dbm) * 16;
        self.signal_x16 += (sample - self.signal_x16) / 4;
        self.signal_dbm = i8::try_from(self.signal_x16.div_euclid(16)).unwrap_or(dbm);
    }
}

/// A BSS not heard for longer than this has its smoothed signal restarted by the next sample.
const SIGNAL_STALE: Duration = Duration::from_secs(1);

/// The BSSs a station has heard, keyed by BSSID, at most [`MAX_BSS_ENTRIES`].
#[derive(Debug, Clone, Default)]
pub struct BssTable {
    entries: BTreeMap<MacAddr, BssEntry>,
}

impl BssTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a beacon or probe response from `bssid` heard at `now`; returns the entry.
    ///
    /// Frames without an SSID element, from a group address, or whose SSID is hidden while the
    /// table does not know the name yet are still recorded (a hidden network keeps an empty
    /// SSID until a probe response names it).
    pub fn update(
        &mut self,
        now: Instant,
        bssid: MacAddr,
        beacon: &Beacon,
        meta: RxMeta,
    ) -> Option<&BssEntry> {
        if bssid.is_group() {
            return None;
        }
        let elements = &beacon.elements;
        let heard_ssid = elements
            .ssid()
            .and_then(|s| proto::Ssid::new(s.as_bytes()).ok());
        let channel = elements
            .channel()
            .and_then(|n| Channel::new(n).ok())
            .unwrap_or(meta.channel);
        let rsn = elements.rsn();
        let rsne = rsn.map(|r| {
            let mut out = Vec::new();
            Element::Rsn(r.clone()).emit(&mut out);
            out
        });
        let security = security_of(beacon.capability, rsn);
        // RSNXE (9.4.2.241): bit 5 of the first octet, SAE hash-to-element.
        let sae_h2e = elements.iter().any(|e| {
            matches!(e, Element::Other { id, data }
                if *id == crate::wire::ElementId::RsnExtension
                    && data.first().is_some_and(|b| b & 0x20 != 0))
        });
        let rates = elements.rates().collect();
        let phy = crate::phy::elements::caps_of(elements, channel);
        let max_amsdu = crate::phy::elements::max_amsdu_of(elements);
        if !self.entries.contains_key(&bssid) && self.entries.len() >= MAX_BSS_ENTRIES {
            let oldest = self
                .entries
                .values()
                .min_by_key(|e| e.last_seen)
                .map(|e| e.bssid);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        let ssid = heard_ssid.or_else(|| proto::Ssid::new(&[]).ok())?;
        let entry = self.entries.entry(bssid).or_insert_with(|| BssEntry {
            bssid,
            ssid,
            channel,
            signal_dbm: meta.signal_dbm,
            security,
            beacon_interval: beacon.beacon_interval,
            capability: beacon.capability,
            rsne: None,
            sae_h2e: false,
            rates: Vec::new(),
            phy,
            max_amsdu,
            rate_kbps: meta.rate_kbps,
            last_seen: now,
            signal_x16: i32::from(meta.signal_dbm) * 16,
        });
        if let Some(ssid) = heard_ssid {
            let hidden = ssid.as_bytes().iter().all(|&b| b == 0);
            if !hidden || entry.ssid.is_empty() {
                entry.ssid = ssid;
            }
        }
        entry.channel = channel;
        if now.saturating_duration_since(entry.last_seen) > SIGNAL_STALE {
            // An average over samples seconds apart mixes places: start again (a roam
            // compares this with the current AP's signal).
            entry.signal_x16 = i32::from(meta.signal_dbm) * 16;
        }
        entry.add_signal(meta.signal_dbm);
        entry.security = security;
        entry.beacon_interval = beacon.beacon_interval;
        entry.capability = beacon.capability;
        entry.rsne = rsne;
        entry.sae_h2e = sae_h2e;
        entry.rates = rates;
        entry.phy = phy;
        entry.max_amsdu = max_amsdu;
        entry.rate_kbps = meta.rate_kbps;
        entry.last_seen = now;
        Some(entry)
    }

    /// The entry of `bssid`.
    pub fn get(&self, bssid: MacAddr) -> Option<&BssEntry> {
        self.entries.get(&bssid)
    }

    /// Forgets `bssid` (after losing it, so that a reconnect looks for it again).
    pub fn remove(&mut self, bssid: MacAddr) -> Option<BssEntry> {
        self.entries.remove(&bssid)
    }

    /// Removes the entries older than `max_age`.
    pub fn expire(&mut self, now: Instant, max_age: Duration) {
        self.entries.retain(|_, e| e.age(now) <= max_age);
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, by BSSID.
    pub fn iter(&self) -> impl Iterator<Item = &BssEntry> + '_ {
        self.entries.values()
    }

    /// The strongest entry of network `ssid` (and BSSID `bssid`, if given) heard at or after
    /// `since`.
    pub fn best(
        &self,
        ssid: &proto::Ssid,
        bssid: Option<MacAddr>,
        since: Instant,
    ) -> Option<&BssEntry> {
        self.entries
            .values()
            .filter(|e| e.ssid == *ssid && bssid.is_none_or(|b| b == e.bssid))
            .filter(|e| e.last_seen >= since)
            .max_by_key(|e| (e.signal_x16, core::cmp::Reverse(e.bssid)))
    }

    /// The entries heard at or after `since` (of network `ssid`, if given), strongest first.
    pub fn results(
        &self,
        now: Instant,
        since: Instant,
        ssid: Option<&proto::Ssid>,
    ) -> Vec<BssInfo> {
        let mut found: Vec<&BssEntry> = self
            .entries
            .values()
            .filter(|e| e.last_seen >= since && ssid.is_none_or(|s| *s == e.ssid))
            .collect();
        found.sort_by_key(|e| (core::cmp::Reverse(e.signal_x16), e.bssid));
        found.into_iter().map(|e| e.to_info(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ElementList, RsnCapabilities, Ssid};

    const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 1, 0]);

    fn beacon(ssid: &[u8], channel: u8, rsn: Option<Rsne>, privacy: bool) -> Beacon {
        let mut elements = ElementList::new();
        elements.push(Element::Ssid(Ssid::new(ssid).unwrap()));
        elements.push(Element::SupportedRates(vec![Rate::new(2, true)]));
        elements.push(Element::DsParameterSet { channel });
        if let Some(r) = rsn {
            elements.push(Element::Rsn(r));
        }
        let mut cap = CapabilityInfo::ESS;
        if privacy {
            cap |= CapabilityInfo::PRIVACY;
        }
        Beacon {
            timestamp: 0,
            beacon_interval: 100,
            capability: CapabilityInfo(cap),
            elements,
        }
    }

    fn meta(channel: u8, dbm: i8) -> RxMeta {
        RxMeta {
            channel: Channel::new(channel).unwrap(),
            signal_dbm: dbm,
            rate_kbps: 1000,
        }
    }

    #[test]
    fn security_follows_akm_and_ciphers() {
        let cap = CapabilityInfo(CapabilityInfo::ESS);
        let privacy = CapabilityInfo(CapabilityInfo::ESS | CapabilityInfo::PRIVACY);
        assert_eq!(security_of(cap, None), Security::Open);
        assert_eq!(
            security_of(privacy, None),
            Security::Other(SECURITY_WEP_OR_WPA1)
        );
        assert_eq!(
            security_of(privacy, Some(&Rsne::wpa2_psk())),
            Security::Wpa2Psk
        );
        let sae = Rsne::new(
            CipherSuite::Ccmp128,
            vec![CipherSuite::Ccmp128],
            vec![AkmSuite::Sae],
            RsnCapabilities::default(),
        );
        assert_eq!(security_of(privacy, Some(&sae)), Security::Wpa3Sae);
        let transition = Rsne::new(
            CipherSuite::Ccmp128,
            vec![CipherSuite::Ccmp128],
            vec![AkmSuite::Psk, AkmSuite::Sae],
            RsnCapabilities(RsnCapabilities::MFPC),
        );
        assert_eq!(security_of(privacy, Some(&transition)), Security::Wpa2Wpa3);
        let tkip = Rsne::new(
            CipherSuite::Tkip,
            vec![CipherSuite::Tkip],
            vec![AkmSuite::Psk],
            RsnCapabilities::default(),
        );
        assert_eq!(
            security_of(privacy, Some(&tkip)),
            Security::Other(SECURITY_OTHER_RSN)
        );
        let enterprise = Rsne::new(
            CipherSuite::Ccmp128,
            vec![CipherSuite::Ccmp128],
            vec![AkmSuite::Ieee8021x],
            RsnCapabilities::default(),
        );
        assert_eq!(
            security_of(privacy, Some(&enterprise)),
            Security::Other(SECURITY_OTHER_RSN)
        );
    }

    #[test]
    fn table_takes_channel_from_ds_parameter_set_and_smooths_signal() {
        let mut t = BssTable::new();
        let b = beacon(b"net", 6, Some(Rsne::wpa2_psk()), true);
        // Heard on channel 5 (adjacent-channel leakage): the BSS is on 6.
        let e = t.update(Instant::ZERO, AP, &b, meta(5, -40)).unwrap();
        assert_eq!(e.channel.number(), 6);
        assert_eq!(e.signal_dbm, -40);
        assert_eq!(e.security, Security::Wpa2Psk);
        assert_eq!(e.rsne.as_deref().map(<[u8]>::len), Some(22));
        let e = t
            .update(Instant::from_millis(100), AP, &b, meta(6, -80))
            .unwrap();
        assert_eq!(e.signal_dbm, -50, "one quarter of the way to -80");
        let info = e.to_info(Instant::from_millis(350));
        assert_eq!(info.beacon_age_ms, 250);
        assert_eq!(info.frequency_mhz, 2437);
    }

    #[test]
    fn hidden_ssid_keeps_the_name_a_probe_response_gave() {
        let mut t = BssTable::new();
        t.update(
            Instant::ZERO,
            AP,
            &beacon(b"", 1, None, false),
            meta(1, -50),
        );
        assert!(t.get(AP).unwrap().ssid.is_empty());
        t.update(
            Instant::ZERO,
            AP,
            &beacon(b"named", 1, None, false),
            meta(1, -50),
        );
        t.update(
            Instant::ZERO,
            AP,
            &beacon(b"", 1, None, false),
            meta(1, -50),
        );
        assert_eq!(t.get(AP).unwrap().ssid.as_bytes(), b"named");
    }

    #[test]
    fn entries_expire_and_table_is_bounded() {
        let mut t = BssTable::new();
        for i in 0..(MAX_BSS_ENTRIES + 10) {
            let mac = MacAddr([0x02, 0, 0, 0, (i >> 8) as u8, i as u8]);
            let at = Instant::from_millis(i as u64);
            t.update(at, mac, &beacon(b"n", 1, None, false), meta(1, -50));
        }
        assert_eq!(t.len(), MAX_BSS_ENTRIES);
        assert!(
            t.get(MacAddr([0x02, 0, 0, 0, 0, 0])).is_none(),
            "oldest evicted"
        );
        t.expire(Instant::from_millis(30_000 + 200), Duration::from_secs(30));
        assert_eq!(t.len(), MAX_BSS_ENTRIES + 10 - 200);
        assert!(t
            .best(&proto::Ssid::new(b"n").unwrap(), None, Instant::ZERO)
            .is_some());
    }

    #[test]
    fn best_picks_the_strongest_of_the_network_and_honours_bssid() {
        let mut t = BssTable::new();
        let other = MacAddr([0x02, 0, 0, 0, 2, 0]);
        t.update(
            Instant::ZERO,
            AP,
            &beacon(b"net", 1, None, false),
            meta(1, -70),
        );
        t.update(
            Instant::ZERO,
            other,
            &beacon(b"net", 6, None, false),
            meta(6, -40),
        );
        let ssid = proto::Ssid::new(b"net").unwrap();
        assert_eq!(t.best(&ssid, None, Instant::ZERO).unwrap().bssid, other);
        assert_eq!(t.best(&ssid, Some(AP), Instant::ZERO).unwrap().bssid, AP);
        assert!(t
            .best(&proto::Ssid::new(b"x").unwrap(), None, Instant::ZERO)
            .is_none());
        let r = t.results(Instant::ZERO, Instant::ZERO, None);
        assert_eq!(
            r.iter().map(|b| b.signal_dbm).collect::<Vec<_>>(),
            [-40, -70]
        );
    }
}
