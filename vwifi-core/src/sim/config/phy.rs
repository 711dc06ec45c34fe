//! The PHY keys of the configuration: an AP's `standard`, `width_mhz` and `spatial_streams`,
//! and the `[stations]` table, turned into [`PhyCaps`] and checked against the channel plan.

use serde::Deserialize;

use super::{invalid, ApEntry, ConfigError, Problem, Section};
use crate::channel::{Band, Channel};
use crate::phy::{CapsError, PhyCaps, Standard, Width};

/// What the guests' stations can do and where they are (the `[stations]` table): one radio
/// carries them all.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StationsEntry {
    /// The newest standard (default `"ax"`).
    pub standard: Option<String>,
    /// The widest channel, MHz (default 160).
    pub width_mhz: Option<u16>,
    /// Spatial streams (default 2).
    pub spatial_streams: Option<u8>,
    /// Where their radio stands, `[x, y]` in metres (the host picks one if absent).
    pub position: Option<[f64; 2]>,
    /// Waypoints `[[x, y], ...]` their radio walks from `position` once the simulation starts,
    /// at `speed_mps` (the host moves it: mobility).
    pub path: Vec<[f64; 2]>,
    /// The speed along `path`, metres per second (default 1).
    pub speed_mps: Option<f64>,
}

fn standard_of(section: Section, name: Option<&str>) -> Result<Option<Standard>, ConfigError> {
    name.map(|n| {
        Standard::from_name(n).ok_or(invalid(section, "standard", Problem::UnknownStandard))
    })
    .transpose()
}

fn width_of(section: Section, mhz: Option<u16>) -> Result<Option<Width>, ConfigError> {
    mhz.map(|m| Width::from_mhz(m).ok_or(invalid(section, "width_mhz", Problem::InvalidWidth(m))))
        .transpose()
}

/// The field a capabilities error is about.
fn field_of(e: &CapsError) -> &'static str {
    match e {
        CapsError::StandardNotInBand { .. } => "standard",
        CapsError::Streams { .. } => "spatial_streams",
        CapsError::WidthNotInStandard { .. } | CapsError::Plan(_) => "width_mhz",
    }
}

impl StationsEntry {
    /// Checks `position`, `path` and `speed_mps` (the ranges of an AP's).
    pub fn check_placement(&self) -> Result<(), ConfigError> {
        let s = Section::Stations;
        for v in self.position.iter().chain(self.path.iter()).flatten() {
            let name = if self.position.is_some_and(|p| p.contains(v)) {
                "position"
            } else {
                "path"
            };
            super::check_range(s, name, *v, -1.0e6, 1.0e6)?;
        }
        if let Some(v) = self.speed_mps {
            super::check_range(s, "speed_mps", v, 0.001, 1.0e4)?;
        }
        Ok(())
    }

    /// The stations' capabilities: [`PhyCaps::STATION_DEFAULT`] with what the table changes.
    pub fn caps(&self) -> Result<PhyCaps, ConfigError> {
        let s = Section::Stations;
        let d = PhyCaps::STATION_DEFAULT;
        let standard = standard_of(s, self.standard.as_deref())?.unwrap_or(d.standard);
        let mut width = width_of(s, self.width_mhz)?.unwrap_or(d.width);
        if self.width_mhz.is_none() {
            width = width.min(standard.max_width());
        }
        let nss = self.spatial_streams.unwrap_or(match standard {
            Standard::Legacy => 1,
            _ => d.nss,
        });
        let caps = PhyCaps {
            standard,
            width,
            nss,
        };
        // Any channel of a band the standard has will do for the standard/width/streams checks;
        // the plan is the AP's business.
        let probe = Channel::new(if standard == Standard::Vht { 36 } else { 1 })
            .map_err(|_| invalid(s, "standard", Problem::UnknownStandard))?;
        let check = PhyCaps {
            width: Width::Mhz20,
            ..caps
        };
        check
            .check_on(probe)
            .map_err(|e| invalid(s, field_of(&e), Problem::Phy(e)))?;
        if width > standard.max_width() {
            let e = CapsError::WidthNotInStandard {
                standard,
                width,
                max: standard.max_width(),
            };
            return Err(invalid(s, "width_mhz", Problem::Phy(e)));
        }
        Ok(caps)
    }
}

impl ApEntry {
    /// The PHY capabilities of the entry at `index`, checked against its channel.
    pub(super) fn phy_caps(&self, index: usize) -> Result<PhyCaps, ConfigError> {
        let s = Section::Ap(index);
        let channel = self.channel_at(index)?;
        let standard = standard_of(s, self.standard.as_deref())?.unwrap_or(Standard::Legacy);
        if channel.band() == Band::Ghz6 && standard != Standard::He {
            return Err(invalid(s, "standard", Problem::SixGhzNeedsAx(standard)));
        }
        let nss = self.spatial_streams.unwrap_or(match standard {
            Standard::Legacy => 1,
            _ => 2,
        });
        let width = match width_of(s, self.width_mhz)? {
            Some(w) => w,
            None => default_width(standard, channel),
        };
        let caps = PhyCaps {
            standard,
            width,
            nss,
        };
        caps.check_on(channel)
            .map_err(|e| invalid(s, field_of(&e), Problem::Phy(e)))?;
        Ok(caps)
    }
}

/// An AP's default width: 20 MHz at 2.4 GHz and for legacy; at 5 and 6 GHz 40 MHz for "n" and
/// 80 MHz for "ac"/"ax", narrowed to what the channel plan has on the channel.
fn default_width(standard: Standard, channel: Channel) -> Width {
    let want = match (channel.band(), standard) {
        (Band::Ghz2_4, _) | (_, Standard::Legacy) => Width::Mhz20,
        (_, Standard::Ht) => Width::Mhz40,
        _ => Width::Mhz80,
    };
    Width::ALL
        .into_iter()
        .rev()
        .filter(|w| *w <= want)
        .find(|w| crate::phy::occupied(channel, *w).is_ok())
        .unwrap_or(Width::Mhz20)
}

#[cfg(test)]
mod tests {
    use super::super::SimConfig;
    use crate::phy::{PhyCaps, Standard, Width};

    fn err(text: &str) -> String {
        SimConfig::from_toml_str(text).unwrap_err().to_string()
    }

    fn ap(extra: &str, channel: u8) -> String {
        format!("[[aps]]\nssid = \"x\"\nchannel = {channel}\n{extra}\n")
    }

    #[test]
    fn aps_take_a_standard_width_and_streams() {
        let cfg = SimConfig::from_toml_str(&format!(
            "{}{}{}{}",
            ap("standard = \"ax\"\nwidth_mhz = 80\nspatial_streams = 2", 36),
            ap("standard = \"n\"\nwidth_mhz = 40\nspatial_streams = 2", 1),
            ap("standard = \"ac\"", 149),
            ap("", 6),
        ))
        .unwrap();
        let caps: Vec<PhyCaps> = cfg.ap_configs().unwrap().iter().map(|a| a.phy).collect();
        assert_eq!(
            caps,
            [
                PhyCaps {
                    standard: Standard::He,
                    width: Width::Mhz80,
                    nss: 2
                },
                PhyCaps {
                    standard: Standard::Ht,
                    width: Width::Mhz40,
                    nss: 2
                },
                PhyCaps {
                    standard: Standard::Vht,
                    width: Width::Mhz80,
                    nss: 2
                },
                PhyCaps::LEGACY,
            ]
        );
        assert_eq!(cfg.stations.caps().unwrap(), PhyCaps::STATION_DEFAULT);
        // The demo stays 802.11g.
        assert!(SimConfig::demo()
            .ap_configs()
            .unwrap()
            .iter()
            .all(|a| a.phy == PhyCaps::LEGACY));
    }

    #[test]
    fn a_six_ghz_ap_is_ax_on_the_six_ghz_plan() {
        let cfg = SimConfig::from_toml_str(&format!(
            "{}{}",
            ap("band = \"6\"\nstandard = \"ax\"", 37),
            ap("band = \"6\"\nstandard = \"ax\"\nwidth_mhz = 160", 1),
        ))
        .unwrap();
        let aps = cfg.ap_configs().unwrap();
        let six = crate::channel::Channel::six_ghz(37).unwrap();
        assert_eq!(aps[0].channel, six);
        assert_eq!(aps[0].channel.frequency_mhz(), 6135);
        assert_eq!(
            aps[0].phy,
            PhyCaps {
                standard: Standard::He,
                width: Width::Mhz80,
                nss: 2
            }
        );
        assert_eq!(aps[1].phy.width, Width::Mhz160);
        // "5" and "2.4" name the same channels as no band at all.
        let five = SimConfig::from_toml_str(&ap("band = \"5\"", 36)).unwrap();
        assert_eq!(five.ap_configs().unwrap()[0].channel.frequency_mhz(), 5180);
        assert_eq!(
            err(&ap("band = \"6\"", 37)),
            "aps[0].standard: a 6 GHz AP needs standard = \"ax\" (got 802.11g)"
        );
        assert_eq!(
            err(&ap("band = \"6\"\nstandard = \"ax\"", 36)),
            "aps[0].channel: channel 36 is not a 6 GHz channel (1, 5, 9, ..., 233)"
        );
        assert_eq!(
            err(&ap("band = \"7\"", 1)),
            "aps[0].band: must be \"2.4\", \"5\" or \"6\""
        );
        assert_eq!(
            err(&ap("band = \"2.4\"", 36)),
            "aps[0].channel: channel 36 is not in the 2.4 GHz band"
        );
        assert_eq!(
            err(&ap("band = \"6\"\nstandard = \"ax\"\nwidth_mhz = 160", 229)),
            "aps[0].width_mhz: channel 229 is not part of a 160 MHz channel"
        );
    }

    #[test]
    fn bad_phy_keys_name_their_field() {
        assert_eq!(
            err(&ap("standard = \"ax\"\nwidth_mhz = 80", 1)),
            "aps[0].width_mhz: 80 MHz channels do not exist in the 2.4 GHz band"
        );
        assert_eq!(
            err(&ap("standard = \"ac\"", 6)),
            "aps[0].standard: 802.11ac does not exist in the 2.4 GHz band"
        );
        assert_eq!(
            err(&ap("standard = \"wifi7\"", 36)),
            "aps[0].standard: must be \"g\", \"n\", \"ac\" or \"ax\""
        );
        assert_eq!(
            err(&ap("standard = \"n\"\nwidth_mhz = 80", 36)),
            "aps[0].width_mhz: 80 MHz is wider than 802.11n allows (40 MHz at most)"
        );
        assert_eq!(
            err(&ap("width_mhz = 30", 36)),
            "aps[0].width_mhz: must be 20, 40, 80 or 160, got 30"
        );
        assert_eq!(
            err(&ap("standard = \"ax\"\nspatial_streams = 5", 36)),
            "aps[0].spatial_streams: 5 spatial streams: 802.11ax allows 1 to 4"
        );
        assert_eq!(
            err(&ap("spatial_streams = 2", 36)),
            "aps[0].spatial_streams: 2 spatial streams: 802.11g allows 1 to 1"
        );
        assert_eq!(
            err(&ap("standard = \"ax\"\nwidth_mhz = 40", 165)),
            "aps[0].width_mhz: channel 165 is not part of a 40 MHz channel"
        );
        assert_eq!(
            err("[stations]\nspatial_streams = 0\n"),
            "stations.spatial_streams: 0 spatial streams: 802.11ax allows 1 to 4"
        );
        assert_eq!(
            err("[stations]\nstandard = \"n\"\nwidth_mhz = 160\n"),
            "stations.width_mhz: 160 MHz is wider than 802.11n allows (40 MHz at most)"
        );
    }
}
