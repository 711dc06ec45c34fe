//! Wi-Fi channels and their centre frequencies.

use core::fmt;

/// The frequency band of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    /// 2.4 GHz, channels 1 to 14.
    Ghz2_4,
    /// 5 GHz, channels 32 to 177.
    Ghz5,
}

/// A 20 MHz channel, by its IEEE channel number. Only valid numbers can be built.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(u8);

/// The error for a channel number that is not a 2.4 GHz or 5 GHz channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "channel {0} is not a 2.4 GHz (1-14) or 5 GHz (32-177, multiple of 4 or 165-177 odd) channel"
)]
pub struct InvalidChannel(pub u8);

impl Channel {
    /// Channel `number`, if it is a 2.4 GHz channel (1-14) or a 5 GHz 20 MHz channel.
    pub const fn new(number: u8) -> Result<Self, InvalidChannel> {
        match number {
            1..=14 => Ok(Self(number)),
            32..=144 if number % 4 == 0 => Ok(Self(number)),
            149..=177 if number % 4 == 1 => Ok(Self(number)),
            _ => Err(InvalidChannel(number)),
        }
    }

    /// The channel number.
    pub const fn number(&self) -> u8 {
        self.0
    }

    /// The band the channel is in.
    pub const fn band(&self) -> Band {
        if self.0 <= 14 {
            Band::Ghz2_4
        } else {
            Band::Ghz5
        }
    }

    /// The centre frequency in MHz.
    pub const fn frequency_mhz(&self) -> u16 {
        match self.0 {
            14 => 2484,
            n @ 1..=13 => 2407 + 5 * n as u16,
            n => 5000 + 5 * n as u16,
        }
    }

    /// The channel whose centre frequency is `mhz`, if any.
    pub fn from_frequency_mhz(mhz: u16) -> Option<Self> {
        let number = match mhz {
            2484 => 14,
            2412..=2472 if (mhz - 2407) % 5 == 0 => (mhz - 2407) / 5,
            5160..=5885 if (mhz - 5000) % 5 == 0 => (mhz - 5000) / 5,
            _ => return None,
        };
        Self::new(u8::try_from(number).ok()?).ok()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} MHz)", self.0, self.frequency_mhz())
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.0)
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
        for n in 0..=255u8 {
            if let Ok(c) = Channel::new(n) {
                assert_eq!(Channel::from_frequency_mhz(c.frequency_mhz()), Some(c));
            }
        }
    }

    #[test]
    fn rejects_invalid_numbers() {
        for n in [0, 15, 31, 37, 145, 150, 178, 255] {
            assert_eq!(Channel::new(n), Err(InvalidChannel(n)));
        }
        assert_eq!(Channel::new(6).unwrap().band(), Band::Ghz2_4);
        assert_eq!(Channel::new(149).unwrap().band(), Band::Ghz5);
    }
}
