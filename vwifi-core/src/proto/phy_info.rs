//! The PHY of a network or a link as guests see it: standard, width, streams, MCS, rate.

use super::ProtoError;
use crate::phy::Standard;
use crate::wire::Reader;

/// A network's or a link's PHY: in a scan result the network's standard, width, streams and
/// top rate; in a station's status the link's standard, width, streams, MCS and rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhyInfo {
    /// The standard (802.11g for legacy).
    pub standard: Standard,
    /// The channel width, MHz.
    pub width_mhz: u16,
    /// Spatial streams.
    pub streams: u8,
    /// The MCS index (per stream), if an HT/VHT/HE rate.
    pub mcs: Option<u8>,
    /// The rate, kbit/s: the top rate (scan) or the current one (status).
    pub rate_kbps: u32,
}

/// The encoded length: standard, width, streams, MCS, rate.
pub(super) const PHY_INFO_LEN: usize = 1 + 2 + 1 + 1 + 4;
/// The MCS byte of a legacy rate.
const NO_MCS: u8 = 0xff;

const fn standard_code(s: Standard) -> u8 {
    match s {
        Standard::Legacy => 0,
        Standard::Ht => 1,
        Standard::Vht => 2,
        Standard::He => 3,
    }
}

impl PhyInfo {
    /// The encoding (big-endian): standard (0 g, 1 n, 2 ac, 3 ax), width in MHz (u16), streams,
    /// MCS (0xff: none), rate in kbit/s (u32).
    pub(super) fn to_bytes(self) -> [u8; PHY_INFO_LEN] {
        let w = self.width_mhz.to_be_bytes();
        let r = self.rate_kbps.to_be_bytes();
        [
            standard_code(self.standard),
            w[0],
            w[1],
            self.streams,
            self.mcs.unwrap_or(NO_MCS),
            r[0],
            r[1],
            r[2],
            r[3],
        ]
    }

    /// Reads the encoding; an unknown standard code is a bad field.
    pub(super) fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, ProtoError> {
        let code = r.u8(what)?;
        let standard = match code {
            0 => Standard::Legacy,
            1 => Standard::Ht,
            2 => Standard::Vht,
            3 => Standard::He,
            other => {
                return Err(ProtoError::BadField {
                    what,
                    value: other.into(),
                })
            }
        };
        let width_mhz = r.u16_be(what)?;
        let streams = r.u8(what)?;
        let mcs = Some(r.u8(what)?).filter(|&m| m != NO_MCS);
        let rate_kbps = r.u32_be(what)?;
        Ok(Self {
            standard,
            width_mhz,
            streams,
            mcs,
            rate_kbps,
        })
    }
}

impl core::fmt::Display for PhyInfo {
    /// `802.11ax 80 MHz 2x2 MCS 11 1201.0 Mbit/s` (no MCS for legacy or a scan's top rate).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} {} MHz {}x{}",
            self.standard, self.width_mhz, self.streams, self.streams
        )?;
        if let Some(mcs) = self.mcs {
            write!(f, " MCS {mcs}")?;
        }
        // Rounded to 100 kbit/s, as the standard's rate tables print rates.
        let tenths = (u64::from(self.rate_kbps) + 50) / 100;
        write!(f, " {}.{} Mbit/s", tenths / 10, tenths % 10)
    }
}
