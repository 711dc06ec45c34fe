//! Wi-Fi channels and their centre frequencies.

use core::fmt;

/// The frequency band of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    /// 2.4 GHz, channels 1 to 14.
    Ghz2_4,
    /// 5 GHz, channels 32 to 177.
    Ghz5,
    /// 6 GHz, channels 1, 5, ..., 233 (IEEE 802.11ax-2021 27.3.23.2): 802.11ax only.
    Ghz6,
}

impl Band {
    /// The band as printed in messages and configuration: `2.4`, `5` or `6` (GHz).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ghz2_4 => "2.4",
            Self::Ghz5 => "5",
            Self::Ghz6 => "6",
        }
    }

    /// The band named `name` (`"2.4"`, `"5"` or `"6"`), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Ghz2_4, Self::Ghz5, Self::Ghz6]
            .into_iter()
            .find(|b| b.name() == name)
    }
}

/// A 20 MHz channel, by its band and IEEE channel number. Only valid channels can be built.
///
/// Channels order by band, then number (2.4 GHz, then 5 GHz, then 6 GHz: by frequency).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    band: Band,
    number: u8,
}

/// The error for a channel number that is not a channel of its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannel {
    /// Not a 2.4 GHz or 5 GHz channel ([`Channel::new`]).
    #[error(
        "channel {0} is not a 2.4 GHz (1-14) or 5 GHz (32-177, multiple of 4 or 165-177 odd) channel"
    )]
    Legacy(u8),
    /// Not a 6 GHz channel ([`Channel::six_ghz`]).
    #[error("channel {0} is not a 6 GHz channel (1, 5, 9, ..., 233)")]
    SixGhz(u8),
    /// A 2.4 or 5 GHz channel asked for in the other band ([`Channel::in_band`]).
    #[error("channel {number} is not in the {} GHz band", .band.name())]
    OtherBand {
        /// The channel number.
        number: u8,
        /// The band asked for.
        band: Band,
    },
}

impl Channel {
    /// Channel `number`, if it is a 2.4 GHz channel (1-14) or a 5 GHz 20 MHz channel.
    pub const fn new(number: u8) -> Result<Self, InvalidChannel> {
        let band = match number {
            1..=14 => Band::Ghz2_4,
            32..=144 if number % 4 == 0 => Band::Ghz5,
            149..=177 if number % 4 == 1 => Band::Ghz5,
            _ => return Err(InvalidChannel::Legacy(number)),
        };
        Ok(Self { band, number })
    }

    /// 6 GHz channel `number` (1, 5, ..., 233, at `5950 + 5 n` MHz), if it is one.
    pub const fn six_ghz(number: u8) -> Result<Self, InvalidChannel> {
        if number % 4 == 1 && number <= 233 {
            Ok(Self {
                band: Band::Ghz6,
                number,
            })
        } else {
            Err(InvalidChannel::SixGhz(number))
        }
    }

    /// Channel `number` of `band`, if the band has it.
    pub const fn in_band(band: Band, number: u8) -> Result<Self, InvalidChannel> {
        match band {
            Band::Ghz6 => Self::six_ghz(number),
            Band::Ghz2_4 | Band::Ghz5 => match Self::new(number) {
                Ok(c) if c.band as u8 == band as u8 => Ok(c),
                Ok(_) => Err(InvalidChannel::OtherBand { number, band }),
                Err(e) => Err(e),
            },
        }
    }

    /// The channel number (within its band: 6 GHz channel 1 is not 2.4 GHz channel 1).
    pub const fn number(&self) -> u8 {
        self.number
    }

    /// A short name, unique across bands: the number for 2.4 and 5 GHz (`6`, `36`), `6g`
    /// and the number at 6 GHz (`6g37`): capture interface names, federation keys.
    pub fn label(&self) -> String {
        match self.band {
            Band::Ghz6 => format!("6g{}", self.number),
            _ => self.number.to_string(),
        }
    }

    /// The band the channel is in.
    pub const fn band(&self) -> Band {
        self.band
    }

    /// The centre frequency in MHz.
    pub const fn frequency_mhz(&self) -> u16 {
        let n = self.number as u16;
        match self.band {
            Band::Ghz2_4 if n == 14 => 2484,
            Band::Ghz2_4 => 2407 + 5 * n,
            Band::Ghz5 => 5000 + 5 * n,
            Band::Ghz6 => 5950 + 5 * n,
        }
    }

    /// The channel whose centre frequency is `mhz`, if any (2.4, 5 and 6 GHz: 5955-7115 MHz).
    pub fn from_frequency_mhz(mhz: u16) -> Option<Self> {
        let (band, number) = match mhz {
            2484 => (Band::Ghz2_4, 14),
            2412..=2472 if (mhz - 2407) % 5 == 0 => (Band::Ghz2_4, (mhz - 2407) / 5),
            5160..=5885 if (mhz - 5000) % 5 == 0 => (Band::Ghz5, (mhz - 5000) / 5),
            5955..=7115 if (mhz - 5950) % 5 == 0 => (Band::Ghz6, (mhz - 5950) / 5),
            _ => return None,
        };
        Self::in_band(band, u8::try_from(number).ok()?).ok()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} MHz)", self.number, self.frequency_mhz())
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.band {
            Band::Ghz6 => write!(f, "Channel(6 GHz {})", self.number),
            _ => write!(f, "Channel({})", self.number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_the_band_plans() {
        assert_eq!(Channel::new(1).unwrap().frequency_mhz(), 2412);
        assert_eq!(Channel::new(11).unwrap().frequency_mhz(), 2462);
        assert_eq!(Channel::new(14).unwrap().frequency_mhz(), 2484);
        assert_eq!(Channel::new(36).unwrap().frequency_mhz(), 5180);
        assert_eq!(Channel::new(165).unwrap().frequency_mhz(), 5825);
        assert_eq!(Channel::six_ghz(1).unwrap().frequency_mhz(), 5955);
        assert_eq!(Channel::six_ghz(37).unwrap().frequency_mhz(), 6135);
        assert_eq!(Channel::six_ghz(233).unwrap().frequency_mhz(), 7115);
        for n in 0..=255u8 {
            for c in [Channel::new(n), Channel::six_ghz(n)].into_iter().flatten() {
                assert_eq!(Channel::from_frequency_mhz(c.frequency_mhz()), Some(c));
                assert_eq!(Channel::in_band(c.band(), n), Ok(c));
            }
        }
        assert_eq!(Channel::from_frequency_mhz(5950), None);
        assert_eq!(Channel::from_frequency_mhz(5960), None);
        assert_eq!(Channel::from_frequency_mhz(7120), None);
    }

    #[test]
    fn rejects_invalid_numbers() {
        for n in [0, 15, 31, 37, 145, 150, 178, 255] {
            assert_eq!(Channel::new(n), Err(InvalidChannel::Legacy(n)));
        }
        for n in [0, 2, 4, 36, 235, 237, 255] {
            assert_eq!(Channel::six_ghz(n), Err(InvalidChannel::SixGhz(n)));
        }
        assert_eq!(
            Channel::in_band(Band::Ghz5, 6),
            Err(InvalidChannel::OtherBand {
                number: 6,
                band: Band::Ghz5
            })
        );
        assert_eq!(
            Channel::in_band(Band::Ghz5, 6).unwrap_err().to_string(),
            "channel 6 is not in the 5 GHz band"
        );
        assert_eq!(Channel::new(6).unwrap().band(), Band::Ghz2_4);
        assert_eq!(Channel::new(149).unwrap().band(), Band::Ghz5);
        assert_eq!(Channel::six_ghz(149).unwrap().band(), Band::Ghz6);
    }

    #[test]
    fn six_ghz_channels_are_told_apart() {
        let two = Channel::new(1).unwrap();
        let six = Channel::six_ghz(1).unwrap();
        assert_ne!(two, six);
        assert!(Channel::new(165).unwrap() < six);
        assert_eq!(format!("{six:?}"), "Channel(6 GHz 1)");
        assert_eq!(format!("{two:?}"), "Channel(1)");
        assert_eq!(six.to_string(), "1 (5955 MHz)");
        assert_eq!(
            (two.label(), six.label()),
            ("1".to_owned(), "6g1".to_owned())
        );
        assert_eq!(Band::from_name("6"), Some(Band::Ghz6));
        assert_eq!(Band::from_name("7"), None);
    }
}
