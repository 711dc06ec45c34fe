//! What a radio can do (its standard, widest channel, spatial streams), and what two radios
//! agree on.

use super::channels::occupied;
use super::vector::{GuardInterval, McsRate, Standard, TxVector, Width};
use crate::channel::{Band, Channel};
use crate::sim::medium::PhyRate;

/// A radio's PHY capabilities: the newest standard it speaks, its widest channel and its
/// spatial streams. Two radios use the [`PhyCaps::common`] of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhyCaps {
    /// The newest standard.
    pub standard: Standard,
    /// The widest channel.
    pub width: Width,
    /// Spatial streams, 1 to 4.
    pub nss: u8,
}

/// Why capabilities do not fit a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    /// The standard does not exist in the channel's band (802.11ac at 2.4 GHz).
    #[error("{standard} does not exist in the {band} GHz band")]
    StandardNotInBand {
        /// The standard.
        standard: Standard,
        /// The band, as printed.
        band: &'static str,
    },
    /// The width is wider than the standard allows (80 MHz with 802.11n).
    #[error("{width} is wider than {standard} allows ({max} at most)")]
    WidthNotInStandard {
        /// The standard.
        standard: Standard,
        /// The width asked for.
        width: Width,
        /// The standard's widest.
        max: Width,
    },
    /// The channel plan has no such block (80 MHz at 2.4 GHz, 40 MHz on channel 165).
    #[error(transparent)]
    Plan(#[from] super::channels::PlanError),
    /// Streams outside 1 to 4 (legacy: 1).
    #[error("{nss} spatial streams: {standard} allows 1 to {max}")]
    Streams {
        /// The standard.
        standard: Standard,
        /// The streams asked for.
        nss: u8,
        /// The most the standard allows here.
        max: u8,
    },
}

impl PhyCaps {
    /// A legacy 802.11a/b/g radio: 20 MHz, one stream.
    pub const LEGACY: Self = Self {
        standard: Standard::Legacy,
        width: Width::Mhz20,
        nss: 1,
    };

    /// What a guest's station can do by default: 802.11ax, two streams, up to 160 MHz (the
    /// AP's channel sets the width actually used).
    pub const STATION_DEFAULT: Self = Self {
        standard: Standard::He,
        width: Width::Mhz160,
        nss: 2,
    };

    /// Checks that a BSS with these capabilities can operate on primary channel `primary`.
    pub fn check_on(&self, primary: Channel) -> Result<(), CapsError> {
        let band = primary.band();
        if !self.standard.allowed_in(band) {
            return Err(CapsError::StandardNotInBand {
                standard: self.standard,
                band: band.name(),
            });
        }
        let max = self.standard.max_width();
        if self.width > max {
            return Err(CapsError::WidthNotInStandard {
                standard: self.standard,
                width: self.width,
                max,
            });
        }
        let max_nss = if self.standard == Standard::Legacy {
            1
        } else {
            4
        };
        if !(1..=max_nss).contains(&self.nss) {
            return Err(CapsError::Streams {
                standard: self.standard,
                nss: self.nss,
                max: max_nss,
            });
        }
        occupied(primary, self.width)?;
        Ok(())
    }

    /// What `self` and `other` both do on primary channel `primary`: the older standard (VHT
    /// falls back to HT at 2.4 GHz, anything but HE to legacy OFDM at 6 GHz), the narrower width that the standard and the channel
    /// plan allow there, the fewer streams.
    pub fn common(&self, other: &Self, primary: Channel) -> Self {
        let mut standard = self.standard.min(other.standard);
        if !standard.allowed_in(primary.band()) {
            standard = match primary.band() {
                Band::Ghz6 => Standard::Legacy,
                _ => Standard::Ht,
            };
        }
        let mut width = self.width.min(other.width).min(standard.max_width());
        while width > Width::Mhz20 && occupied(primary, width).is_err() {
            width = Width::ALL
                .into_iter()
                .rev()
                .find(|w| *w < width)
                .unwrap_or(Width::Mhz20);
        }
        let nss = if standard == Standard::Legacy {
            1
        } else {
            self.nss.min(other.nss).clamp(1, 4)
        };
        Self {
            standard,
            width,
            nss,
        }
    }

    /// The guard interval used: the short 0.4 µs GI of HT/VHT, HE's 0.8 µs.
    pub const fn guard_interval(&self) -> GuardInterval {
        match self.standard {
            Standard::Ht | Standard::Vht => GuardInterval::Short400,
            _ => GuardInterval::Normal800,
        }
    }

    /// Every MCS rate of these capabilities at their width and guard interval (every MCS
    /// with 1 to `nss` streams), slowest first; empty for legacy.
    pub fn rates(&self) -> Vec<McsRate> {
        let Some(max) = self.standard.max_mcs() else {
            return Vec::new();
        };
        let mut v: Vec<McsRate> = (1..=self.nss)
            .flat_map(|nss| {
                (0..=max).filter_map(move |mcs| {
                    McsRate::new(self.standard, mcs, nss, self.width, self.guard_interval()).ok()
                })
            })
            .collect();
        v.sort_by_key(|r| (r.kbps(), r.nss));
        v
    }

    /// The MCS rate of these capabilities, or of a narrower width (a PPDU narrowed because a
    /// secondary channel was busy), whose data rate is `kbps`: the widest such, with the fewest
    /// streams. Rates are not unique (HT MCS 3 with 2 streams and MCS 5 with one are both 52
    /// Mbit/s), so this is the likeliest reading of a received rate, not a certainty.
    pub fn rate_with_kbps(&self, kbps: u32) -> Option<McsRate> {
        Width::ALL
            .into_iter()
            .rev()
            .filter(|w| *w <= self.width)
            .find_map(|width| {
                Self { width, ..*self }
                    .rates()
                    .into_iter()
                    .filter(|r| r.kbps() == kbps)
                    .min_by_key(|r| r.nss)
            })
    }

    /// The fastest rate of these capabilities (54 Mbit/s for legacy).
    pub fn top_rate(&self) -> TxVector {
        self.rates()
            .last()
            .copied()
            .map_or(TxVector::Legacy(PhyRate::Ofdm54), TxVector::Mcs)
    }
}

impl Default for PhyCaps {
    fn default() -> Self {
        Self::LEGACY
    }
}
