//! What a card can do (`GET_WIPHY`): its bands and channels, ciphers, interface types and
//! interface combinations, and whether it carries EAPOL over nl80211's control port.

use std::collections::BTreeMap;

use super::consts as c;
use super::genl::{as_string, as_u32, find, nested, top_attrs, GenlMsg};

/// One interface-combination limit: up to `max` interfaces of these types.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Limit {
    /// The most interfaces of these types.
    pub(crate) max: u32,
    /// The interface types (nl80211 `IFTYPE_*`).
    pub(crate) types: Vec<u16>,
}

/// One valid interface combination.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Combination {
    /// Its limits.
    pub(crate) limits: Vec<Limit>,
    /// The most interfaces in all.
    pub(crate) max_total: u32,
    /// The most distinct channels at once.
    pub(crate) channels: u32,
}

/// A wireless card (wiphy) as `GET_WIPHY` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Wiphy {
    /// The wiphy index.
    pub(crate) index: u32,
    /// Its name (`phy0`).
    pub(crate) name: String,
    /// Channels by band index: frequency in MHz and whether it is disabled.
    pub(crate) bands: BTreeMap<u16, BTreeMap<u32, bool>>,
    /// Cipher suite selectors.
    pub(crate) ciphers: Vec<u32>,
    /// Supported interface types.
    pub(crate) iftypes: Vec<u16>,
    /// Valid interface combinations.
    pub(crate) combinations: Vec<Combination>,
    /// SSIDs one scan may probe for.
    pub(crate) max_scan_ssids: u8,
    /// Whether EAPOL can travel over nl80211 (`EXT_FEATURE_CONTROL_PORT_OVER_NL80211`).
    pub(crate) control_port_over_nl80211: bool,
}

impl Wiphy {
    /// Parses the messages of a split `GET_WIPHY` dump into one entry per wiphy.
    pub(crate) fn parse_dump(msgs: &[GenlMsg]) -> Vec<Wiphy> {
        let mut out: BTreeMap<u32, Wiphy> = BTreeMap::new();
        for m in msgs {
            let owned = top_attrs(m);
            let attrs = owned.view();
            let Some(index) = find(&attrs, c::ATTR_WIPHY).and_then(as_u32) else {
                continue;
            };
            let w = out.entry(index).or_insert_with(|| Wiphy {
                index,
                ..Wiphy::default()
            });
            w.merge(&attrs);
        }
        out.into_values().collect()
    }

    /// Adds what one message of the dump says.
    pub(crate) fn merge(&mut self, attrs: &[(u16, &[u8])]) {
        for &(ty, p) in attrs {
            match ty {
                c::ATTR_WIPHY_NAME => self.name = as_string(p),
                c::ATTR_WIPHY_BANDS => {
                    for (band, body) in nested(p) {
                        let freqs = self.bands.entry(band).or_default();
                        for (bty, bp) in nested(body) {
                            if bty != c::BAND_ATTR_FREQS {
                                continue;
                            }
                            for (_, f) in nested(bp) {
                                let fa = nested(f);
                                if let Some(mhz) =
                                    find(&fa, c::FREQUENCY_ATTR_FREQ).and_then(as_u32)
                                {
                                    let disabled = find(&fa, c::FREQUENCY_ATTR_DISABLED).is_some();
                                    freqs.insert(mhz, disabled);
                                }
                            }
                        }
                    }
                }
                c::ATTR_CIPHER_SUITES => {
                    self.ciphers = p.chunks_exact(4).filter_map(as_u32).collect();
                }
                c::ATTR_SUPPORTED_IFTYPES => {
                    self.iftypes = nested(p).into_iter().map(|(t, _)| t).collect();
                }
                c::ATTR_MAX_NUM_SCAN_SSIDS => {
                    self.max_scan_ssids = p.first().copied().unwrap_or(0);
                }
                c::ATTR_EXT_FEATURES => {
                    let bit = usize::from(c::EXT_FEATURE_CONTROL_PORT_OVER_NL80211);
                    self.control_port_over_nl80211 =
                        p.get(bit / 8).is_some_and(|b| b & (1 << (bit % 8)) != 0);
                }
                c::ATTR_INTERFACE_COMBINATIONS => {
                    self.combinations = nested(p)
                        .into_iter()
                        .map(|(_, comb)| parse_combination(comb))
                        .collect();
                }
                _ => {}
            }
        }
    }

    /// How many station interfaces the card can run at once (on one channel): the best
    /// combination's room for stations, or 1 without combinations.
    pub(crate) fn max_stations(&self) -> usize {
        let best = self
            .combinations
            .iter()
            .map(|comb| {
                let stations: u32 = comb
                    .limits
                    .iter()
                    .filter(|l| l.types.contains(&c::IFTYPE_STATION))
                    .map(|l| l.max)
                    .sum();
                stations.min(comb.max_total)
            })
            .max()
            .unwrap_or(1);
        usize::try_from(best.max(1)).unwrap_or(1)
    }

    /// The most distinct channels at once over the combinations (1 without combinations).
    pub(crate) fn max_channels(&self) -> u32 {
        self.combinations
            .iter()
            .map(|c| c.channels)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// The enabled channels, by frequency.
    #[cfg(test)]
    pub(crate) fn enabled_freqs(&self) -> Vec<u32> {
        self.bands
            .values()
            .flat_map(|f| f.iter().filter(|(_, d)| !**d).map(|(mhz, _)| *mhz))
            .collect()
    }

    /// Lines for `vwifi-host status`.
    pub(crate) fn details(&self) -> Vec<(String, String)> {
        let mut out = vec![("phy".to_owned(), format!("{} (#{})", self.name, self.index))];
        let bands: Vec<String> = self
            .bands
            .iter()
            .map(|(band, freqs)| {
                let on: Vec<String> = freqs
                    .iter()
                    .filter(|(_, d)| !**d)
                    .filter_map(|(mhz, _)| {
                        u16::try_from(*mhz)
                            .ok()
                            .and_then(vwifi_core::channel::Channel::from_frequency_mhz)
                            .map(|ch| ch.number().to_string())
                    })
                    .collect();
                format!("{}: channels {}", band_name(*band), on.join(","))
            })
            .collect();
        out.push(("bands".into(), bands.join("; ")));
        out.push((
            "ciphers".into(),
            self.ciphers
                .iter()
                .map(|c| cipher_name(*c))
                .collect::<Vec<_>>()
                .join(","),
        ));
        let combos: Vec<String> = self
            .combinations
            .iter()
            .map(|comb| {
                let limits: Vec<String> = comb
                    .limits
                    .iter()
                    .map(|l| {
                        let types: Vec<&str> = l.types.iter().map(|t| iftype_name(*t)).collect();
                        format!("#{{{}}} <= {}", types.join(","), l.max)
                    })
                    .collect();
                format!(
                    "{}, total <= {}, #channels <= {}",
                    limits.join(", "),
                    comb.max_total,
                    comb.channels
                )
            })
            .collect();
        out.push(("interface combinations".into(), combos.join(" | ")));
        out.push(("max stations".into(), self.max_stations().to_string()));
        out.push((
            "max channels at once".into(),
            self.max_channels().to_string(),
        ));
        out.push((
            "control port over nl80211".into(),
            if self.control_port_over_nl80211 {
                "yes"
            } else {
                "no"
            }
            .into(),
        ));
        out
    }
}

fn parse_combination(comb: &[u8]) -> Combination {
    let attrs = nested(comb);
    let limits = find(&attrs, c::IFACE_COMB_LIMITS)
        .map(|l| {
            nested(l)
                .into_iter()
                .map(|(_, limit)| {
                    let la = nested(limit);
                    Limit {
                        max: find(&la, c::IFACE_LIMIT_MAX).and_then(as_u32).unwrap_or(0),
                        types: find(&la, c::IFACE_LIMIT_TYPES)
                            .map(|t| nested(t).into_iter().map(|(ty, _)| ty).collect())
                            .unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Combination {
        limits,
        max_total: find(&attrs, c::IFACE_COMB_MAXNUM)
            .and_then(as_u32)
            .unwrap_or(0),
        channels: find(&attrs, c::IFACE_COMB_NUM_CHANNELS)
            .and_then(as_u32)
            .unwrap_or(1),
    }
}

fn band_name(band: u16) -> &'static str {
    match band {
        0 => "2.4 GHz",
        1 => "5 GHz",
        2 => "60 GHz",
        3 => "6 GHz",
        _ => "other band",
    }
}

fn cipher_name(suite: u32) -> String {
    match suite {
        0x000f_ac01 => "WEP-40".into(),
        0x000f_ac02 => "TKIP".into(),
        0x000f_ac04 => "CCMP-128".into(),
        0x000f_ac05 => "WEP-104".into(),
        0x000f_ac06 => "BIP-CMAC-128".into(),
        0x000f_ac08 => "GCMP-128".into(),
        0x000f_ac09 => "GCMP-256".into(),
        0x000f_ac0a => "CCMP-256".into(),
        0x000f_ac0b => "BIP-GMAC-128".into(),
        0x000f_ac0c => "BIP-GMAC-256".into(),
        0x000f_ac0d => "BIP-CMAC-256".into(),
        other => format!("{other:08x}"),
    }
}

fn iftype_name(t: u16) -> &'static str {
    match t {
        c::IFTYPE_ADHOC => "IBSS",
        c::IFTYPE_STATION => "managed",
        c::IFTYPE_AP => "AP",
        c::IFTYPE_MONITOR => "monitor",
        c::IFTYPE_MESH_POINT => "mesh point",
        c::IFTYPE_P2P_CLIENT => "P2P-client",
        c::IFTYPE_P2P_GO => "P2P-GO",
        c::IFTYPE_P2P_DEVICE => "P2P-device",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::super::genl::Attr;
    use super::*;

    fn bytes(a: &Attr) -> Vec<u8> {
        // The payload of a nested attribute, as the kernel would send it.
        let mut b = Vec::new();
        a.emit(&mut b);
        nested(&b)
            .first()
            .map(|(_, p)| p.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn a_wiphy_message_gives_bands_ciphers_combinations_and_the_station_limit() {
        let freq = |mhz: u32, disabled: bool| {
            let mut inner = vec![Attr::u32(c::FREQUENCY_ATTR_FREQ, mhz)];
            if disabled {
                inner.push(Attr::flag(c::FREQUENCY_ATTR_DISABLED));
            }
            Attr::nested(0, &inner)
        };
        let bands = Attr::nested(
            c::ATTR_WIPHY_BANDS,
            &[Attr::nested(
                0,
                &[Attr::nested(
                    c::BAND_ATTR_FREQS,
                    &[freq(2412, false), freq(2437, false), freq(2484, true)],
                )],
            )],
        );
        let limit = |max: u32, types: &[u16]| {
            let t: Vec<Attr> = types.iter().map(|t| Attr::flag(*t)).collect();
            Attr::nested(
                0,
                &[
                    Attr::u32(c::IFACE_LIMIT_MAX, max),
                    Attr::nested(c::IFACE_LIMIT_TYPES, &t),
                ],
            )
        };
        let combos = Attr::nested(
            c::ATTR_INTERFACE_COMBINATIONS,
            &[Attr::nested(
                0,
                &[
                    Attr::nested(
                        c::IFACE_COMB_LIMITS,
                        &[
                            limit(1, &[c::IFTYPE_ADHOC]),
                            limit(2048, &[c::IFTYPE_STATION, c::IFTYPE_AP]),
                        ],
                    ),
                    Attr::u32(c::IFACE_COMB_MAXNUM, 2048),
                    Attr::u32(c::IFACE_COMB_NUM_CHANNELS, 1),
                ],
            )],
        );
        let mut ciphers = Vec::new();
        for s in [0x000f_ac04u32, 0x000f_ac02] {
            ciphers.extend_from_slice(&s.to_ne_bytes());
        }
        let mut ext = vec![0u8; 8];
        ext[3] |= 1 << 2; // bit 26
        let name = Attr::string(c::ATTR_WIPHY_NAME, "phy1");
        let (b, co, n) = (bytes(&bands), bytes(&combos), bytes(&name));
        let attrs: Vec<(u16, &[u8])> = vec![
            (c::ATTR_WIPHY_NAME, &n),
            (c::ATTR_WIPHY_BANDS, &b),
            (c::ATTR_INTERFACE_COMBINATIONS, &co),
            (c::ATTR_CIPHER_SUITES, &ciphers),
            (c::ATTR_EXT_FEATURES, &ext),
        ];
        let mut w = Wiphy::default();
        w.merge(&attrs);
        assert_eq!(w.name, "phy1");
        assert_eq!(w.enabled_freqs(), vec![2412, 2437]);
        assert_eq!(w.ciphers, vec![0x000f_ac04, 0x000f_ac02]);
        assert_eq!(w.max_stations(), 2048);
        assert_eq!(w.max_channels(), 1);
        assert!(w.control_port_over_nl80211);
        let details = w.details();
        let text: Vec<String> = details.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let text = text.join("\n");
        assert!(text.contains("2.4 GHz: channels 1,6"), "{text}");
        assert!(text.contains("CCMP-128,TKIP"), "{text}");
        assert!(text.contains("#{managed,AP} <= 2048"), "{text}");
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37)).collect();
        for cut in 0..junk.len() {
            let mut w = Wiphy::default();
            for ty in [
                c::ATTR_WIPHY_BANDS,
                c::ATTR_INTERFACE_COMBINATIONS,
                c::ATTR_CIPHER_SUITES,
                c::ATTR_EXT_FEATURES,
                c::ATTR_SUPPORTED_IFTYPES,
            ] {
                w.merge(&[(ty, &junk[..cut])]);
            }
            let _ = w.details();
            let _ = w.max_stations();
        }
    }
}
