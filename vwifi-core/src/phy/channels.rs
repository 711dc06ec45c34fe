//! Channel plans: which 20 MHz channels a wide BSS occupies in the 2.4, 5 and 6 GHz bands.
//!
//! - **2.4 GHz** (IEEE 802.11-2020 19.3.15.4, Annex E): 20 MHz on channels 1-14; 40 MHz
//!   (HT only) as a primary channel plus a secondary 4 channels above (primary 1-9, "HT40+") or
//!   below (primary 10-13, "HT40-"), never channel 14; nothing wider.
//! - **5 GHz** (Annex E, Table E-4; 21.3.14): 40, 80 and 160 MHz are fixed blocks of 2, 4
//!   and 8 adjacent channels: 36-64 and 100-128 form the 160 MHz blocks, 132-144 and 149-161
//!   80 MHz blocks; channels 165 and above are 20 MHz only.
//! - **6 GHz** (E.1, 27.3.23.2): channels 1, 5, ..., 233 at `5950 + 5 n` MHz; blocks of 2, 4 and 8
//!   channels aligned on channel 1 (40 MHz: 1-5, 9-13, ...; 80 MHz: 1-13, 17-29, ...; 160 MHz:
//!   1-29, 33-61, ...; [`six_ghz_block`]).

use super::vector::Width;
use crate::channel::{Band, Channel};

/// Why a channel cannot carry a BSS of some width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The band has no channels this wide (80 MHz at 2.4 GHz, say).
    #[error("{width} channels do not exist in the {band} GHz band")]
    WidthNotInBand {
        /// The width asked for.
        width: Width,
        /// The band, as printed (`2.4`, `5`, `6`).
        band: &'static str,
    },
    /// The channel is not part of any block of that width (5 GHz channel 165 at 40 MHz).
    #[error("channel {channel} is not part of a {width} channel")]
    NoBlock {
        /// The primary channel.
        channel: u8,
        /// The width asked for.
        width: Width,
    },
    /// Not a 6 GHz channel number.
    #[error("{0} is not a 6 GHz channel (1, 5, 9, ..., 233)")]
    NotSixGhz(u8),
}

/// The 5 GHz 160 MHz blocks by their first channel; 80 and 40 MHz blocks are their halves.
const FIVE_GHZ_160: [u8; 2] = [36, 100];
/// The 5 GHz 80 MHz blocks outside the 160 MHz ones.
const FIVE_GHZ_80: [u8; 2] = [132, 149];

/// The first channel of the `width` block of 5 GHz channel `number`, if it has one.
fn five_ghz_block_start(number: u8, width: Width) -> Option<u8> {
    let span = 4 * width.subchannels() as u8;
    let in_block = |start: u8, len: u8| number >= start && number < start + len;
    let parent = FIVE_GHZ_160
        .iter()
        .map(|&s| (s, 32u8))
        .chain(FIVE_GHZ_80.iter().map(|&s| (s, 16u8)))
        .find(|&(s, len)| in_block(s, len))?;
    if span > parent.1 {
        return None;
    }
    let offset = (number - parent.0) / span * span;
    Some(parent.0 + offset)
}

/// The 20 MHz channels a BSS of `width` with primary channel `primary` occupies, primary
/// first, then the others in ascending order.
pub fn occupied(primary: Channel, width: Width) -> Result<Vec<Channel>, PlanError> {
    let n = primary.number();
    let err_band = PlanError::WidthNotInBand {
        width,
        band: primary.band().name(),
    };
    let numbers: Vec<u8> = match (primary.band(), width) {
        (_, Width::Mhz20) => vec![n],
        (Band::Ghz2_4, Width::Mhz40) => match n {
            1..=9 => vec![n, n + 4],
            10..=13 => vec![n, n - 4],
            _ => return Err(PlanError::NoBlock { channel: n, width }),
        },
        (Band::Ghz2_4, _) => return Err(err_band),
        (Band::Ghz6, _) => six_ghz_block(n, width)?,
        (Band::Ghz5, _) => {
            let start =
                five_ghz_block_start(n, width).ok_or(PlanError::NoBlock { channel: n, width })?;
            let mut v = vec![n];
            v.extend(
                (0..width.subchannels() as u8)
                    .map(|i| start + 4 * i)
                    .filter(|&c| c != n),
            );
            v
        }
    };
    numbers
        .into_iter()
        .map(|c| {
            Channel::in_band(primary.band(), c)
                .map_err(|_| PlanError::NoBlock { channel: n, width })
        })
        .collect()
}

/// The channel number at the centre of the block (the VHT/HE Operation element's channel
/// centre frequency segment): the primary at 20 MHz, else the mean of the block's first and
/// last channel numbers.
pub fn center_channel(primary: Channel, width: Width) -> Result<u8, PlanError> {
    let chans = occupied(primary, width)?;
    let lo = chans.iter().map(Channel::number).min().unwrap_or(0);
    let hi = chans.iter().map(Channel::number).max().unwrap_or(0);
    Ok(((u16::from(lo) + u16::from(hi)) / 2) as u8)
}

/// The centre frequency of 6 GHz channel `number`, MHz (`5950 + 5 n`), if it is one.
pub fn six_ghz_frequency_mhz(number: u8) -> Option<u16> {
    (number % 4 == 1 && number <= 233).then(|| 5950 + 5 * u16::from(number))
}

/// The 6 GHz channels a BSS of `width` on primary channel `number` occupies (primary first).
pub fn six_ghz_block(number: u8, width: Width) -> Result<Vec<u8>, PlanError> {
    six_ghz_frequency_mhz(number).ok_or(PlanError::NotSixGhz(number))?;
    let k = width.subchannels() as u8;
    let index = (number - 1) / 4;
    let start = index / k * k;
    let block: Vec<u8> = (start..start + k).map(|i| 1 + 4 * i).collect();
    if block.iter().any(|&c| c > 233) {
        return Err(PlanError::NoBlock {
            channel: number,
            width,
        });
    }
    let mut v = vec![number];
    v.extend(block.into_iter().filter(|&c| c != number));
    Ok(v)
}
