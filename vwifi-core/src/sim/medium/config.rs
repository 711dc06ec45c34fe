//! The configuration of the medium, the placement of its radios and the errors of its API.

use crate::addr::MacAddr;
use crate::channel::Band;
use crate::radio::NodeId;

use super::phy::PhyRate;

/// A point on the floor plan, in metres.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Position {
    /// East-west coordinate, metres.
    pub x: f64,
    /// North-south coordinate, metres.
    pub y: f64,
}

impl Position {
    /// The point (`x`, `y`), in metres.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// The straight-line distance to `other`, in metres.
    pub fn distance_to(&self, other: Self) -> f64 {
        // A square root rather than `hypot` (its overflow-safe algorithm is several times
        // slower, and is computed for every listener of every frame); positions far beyond
        // any radio's range overflow to infinity, which `PathLoss::loss_db` takes.
        let (dx, dy) = (self.x - other.x, self.y - other.y);
        (dx * dx + dy * dy).sqrt()
    }
}

/// Where a radio is and how loud it transmits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The radio's position.
    pub position: Position,
    /// The transmit power, in dBm (EIRP, antenna gains included).
    pub tx_power_dbm: f64,
}

impl Placement {
    /// The default transmit power, 20 dBm (100 mW), typical of an access point or a laptop.
    pub const DEFAULT_TX_POWER_DBM: f64 = 20.0;

    /// A radio at (`x`, `y`) metres transmitting at [`Placement::DEFAULT_TX_POWER_DBM`].
    pub const fn at(x: f64, y: f64) -> Self {
        Self {
            position: Position::new(x, y),
            tx_power_dbm: Self::DEFAULT_TX_POWER_DBM,
        }
    }

    /// The same placement with transmit power `dbm`.
    pub const fn with_tx_power(mut self, dbm: f64) -> Self {
        self.tx_power_dbm = dbm;
        self
    }
}

impl Default for Placement {
    fn default() -> Self {
        Self::at(0.0, 0.0)
    }
}

/// The log-distance path-loss model: `loss(d) = reference_loss_db + 10 * exponent * log10(d / 1 m)`
/// for `d >= 1 m` (closer than 1 m counts as 1 m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathLoss {
    /// The loss at the 1 m reference distance, in dB (free space: about 40 dB at 2.4 GHz,
    /// 47 dB at 5 GHz).
    pub reference_loss_db: f64,
    /// The path-loss exponent: 2 in free space, about 3 indoors, 4 and more through walls.
    pub exponent: f64,
}

impl PathLoss {
    /// The loss over `distance_m` metres, in dB.
    pub fn loss_db(&self, distance_m: f64) -> f64 {
        let d = if distance_m.is_finite() {
            distance_m.max(1.0)
        } else {
            f64::MAX
        };
        if d == 1.0 {
            // Within the reference distance (stations beside their AP): no logarithm needed.
            return self.reference_loss_db;
        }
        self.reference_loss_db + 10.0 * self.exponent * d.log10()
    }
}

/// What the medium does in one band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandConfig {
    /// Propagation in this band.
    pub path_loss: PathLoss,
    /// The rate of unicast frames (unless a node's rate is set with `Medium::set_rate`).
    pub unicast_rate: PhyRate,
    /// The rate of group-addressed frames (beacons, broadcast): a basic rate.
    pub group_rate: PhyRate,
}

impl BandConfig {
    /// 2.4 GHz defaults: 40 dB at 1 m, exponent 3.0 (indoor), unicast at 54 Mbit/s (ERP-OFDM),
    /// group frames at 1 Mbit/s (DSSS, the 802.11b-compatible basic rate).
    pub const DEFAULT_2_4_GHZ: Self = Self {
        path_loss: PathLoss {
            reference_loss_db: 40.0,
            exponent: 3.0,
        },
        unicast_rate: PhyRate::Ofdm54,
        group_rate: PhyRate::Dsss1,
    };

    /// 5 GHz defaults: 47 dB at 1 m, exponent 3.0, unicast at 54 Mbit/s, group frames at
    /// 6 Mbit/s.
    pub const DEFAULT_5_GHZ: Self = Self {
        path_loss: PathLoss {
            reference_loss_db: 47.0,
            exponent: 3.0,
        },
        unicast_rate: PhyRate::Ofdm54,
        group_rate: PhyRate::Ofdm6,
    };

    /// 6 GHz defaults: 48 dB at 1 m (free space loses `20 log10(6.135 / 2.437)`, 8 dB, more
    /// than at 2.4 GHz), exponent 3.0, unicast at 54 Mbit/s, group frames at 6 Mbit/s (OFDM as
    /// at 5 GHz; IEEE 802.11ax-2021 26.17.2.1).
    pub const DEFAULT_6_GHZ: Self = Self {
        path_loss: PathLoss {
            reference_loss_db: 48.0,
            exponent: 3.0,
        },
        unicast_rate: PhyRate::Ofdm54,
        group_rate: PhyRate::Ofdm6,
    };
}

/// The configuration of a [`super::Medium`].
#[derive(Debug, Clone, PartialEq)]
pub struct MediumConfig {
    /// The 2.4 GHz band.
    pub band_2_4_ghz: BandConfig,
    /// The 5 GHz band.
    pub band_5_ghz: BandConfig,
    /// The 6 GHz band.
    pub band_6_ghz: BandConfig,
    /// The noise floor, in dBm (thermal noise of 20 MHz, -101 dBm, plus a receiver noise figure).
    pub noise_floor_dbm: f64,
    /// Receiver sensitivity, in dBm: a frame received weaker than this is not heard at all.
    pub sensitivity_dbm: f64,
    /// An extra probability, in `[0, 1]`, that any frame (Acks included) is lost at a receiver,
    /// on top of the SNR-driven frame errors: interference the model does not otherwise know.
    pub extra_loss: f64,
    /// dot11ShortRetryLimit: the most transmission attempts of a unicast frame (first one
    /// included) before the sender gives up and is told [`crate::radio::TxStatus::NotAcked`].
    pub retry_limit: u8,
    /// The smallest contention window (slots), 15 for OFDM PHYs.
    pub cw_min: u16,
    /// The largest contention window (slots), 1023.
    pub cw_max: u16,
    /// Use the 9 µs short slot at 2.4 GHz (ERP networks without 802.11b stations); 20 µs if false.
    pub short_slot: bool,
    /// How many frames a node may have queued at the medium. While its queue is full the medium
    /// leaves further frames in the node (it stops calling `poll_transmit`).
    pub tx_queue_len: usize,
    /// Whether frames take airtime (the default). `false` is a *measuring mode*, not a model of
    /// any radio: every frame (and its Ack) ends the instant it starts, with no interframe
    /// spaces, no backoff, no collisions and no random loss (SNR errors, `extra_loss`), so the
    /// air is never the bottleneck and what is measured is vwifi itself. Reach (sensitivity),
    /// channels, acknowledgement, retries to an absent receiver, node timers (beacons,
    /// management timeouts) and the capture are unchanged.
    pub airtime: bool,
    /// Whether HT/VHT/HE links carry several data frames of one receiver as one A-MSDU inside
    /// their A-MPDUs (on by default; off: one MSDU per MPDU, as before A-MSDUs were built).
    pub amsdu: bool,
}

impl Default for MediumConfig {
    fn default() -> Self {
        Self {
            band_2_4_ghz: BandConfig::DEFAULT_2_4_GHZ,
            band_5_ghz: BandConfig::DEFAULT_5_GHZ,
            band_6_ghz: BandConfig::DEFAULT_6_GHZ,
            noise_floor_dbm: -95.0,
            sensitivity_dbm: -92.0,
            extra_loss: 0.0,
            retry_limit: 7,
            cw_min: 15,
            cw_max: 1023,
            short_slot: true,
            tx_queue_len: 256,
            airtime: true,
            amsdu: true,
        }
    }
}

impl MediumConfig {
    /// The configuration of `band`.
    pub fn band(&self, band: Band) -> &BandConfig {
        match band {
            Band::Ghz2_4 => &self.band_2_4_ghz,
            Band::Ghz5 => &self.band_5_ghz,
            Band::Ghz6 => &self.band_6_ghz,
        }
    }

    /// Checks that every value is usable: finite numbers, a probability in `[0, 1]`, rates that
    /// exist in their band, a non-empty retry limit and contention window, a queue of at
    /// least one frame.
    pub fn validate(&self) -> Result<(), MediumError> {
        for (band, cfg) in [
            (Band::Ghz2_4, &self.band_2_4_ghz),
            (Band::Ghz5, &self.band_5_ghz),
            (Band::Ghz6, &self.band_6_ghz),
        ] {
            finite("reference loss", cfg.path_loss.reference_loss_db)?;
            finite("path-loss exponent", cfg.path_loss.exponent)?;
            if cfg.path_loss.exponent <= 0.0 {
                return Err(invalid("path-loss exponent", cfg.path_loss.exponent));
            }
            for rate in [cfg.unicast_rate, cfg.group_rate] {
                if !rate.allowed_in(band) {
                    return Err(MediumError::RateNotInBand { rate, band });
                }
            }
        }
        finite("noise floor", self.noise_floor_dbm)?;
        finite("sensitivity", self.sensitivity_dbm)?;
        if !(0.0..=1.0).contains(&self.extra_loss) {
            return Err(invalid("extra loss", self.extra_loss));
        }
        if self.retry_limit == 0 {
            return Err(invalid("retry limit", 0.0));
        }
        if self.cw_min == 0 || self.cw_max < self.cw_min {
            return Err(invalid("contention window", f64::from(self.cw_max)));
        }
        if self.tx_queue_len == 0 {
            return Err(invalid("tx queue length", 0.0));
        }
        if !self.airtime && self.extra_loss > 0.0 {
            // Zero airtime means no loss: a loss rate would be silently ignored.
            return Err(invalid("extra loss without airtime", self.extra_loss));
        }
        Ok(())
    }
}

fn invalid(what: &'static str, value: f64) -> MediumError {
    MediumError::InvalidParameter { what, value }
}

fn finite(what: &'static str, value: f64) -> Result<(), MediumError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(what, value))
    }
}

/// Misuse of the medium's API by its caller. Nothing on the air produces an error.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum MediumError {
    /// The node id does not name a node of this medium.
    #[error("no node {0:?} on this medium")]
    UnknownNode(NodeId),
    /// The medium already has the slot of a node kept beside it ([`super::Medium::add_lent`]).
    #[error("node {0:?} is already the node kept beside the medium")]
    LentSlotTaken(NodeId),
    /// Another node already answers to this address.
    #[error("address {addr} already belongs to node {owner:?}")]
    AddressInUse {
        /// The address asked for.
        addr: MacAddr,
        /// The node that has it.
        owner: NodeId,
    },
    /// A DSSS/CCK rate was configured for the 5 GHz band.
    #[error("rate {rate} does not exist in the {band:?} band")]
    RateNotInBand {
        /// The rate.
        rate: PhyRate,
        /// The band.
        band: Band,
    },
    /// A configuration or placement value is out of range (not finite, a probability outside
    /// `[0, 1]`, a zero limit).
    #[error("invalid {what}: {value}")]
    InvalidParameter {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_loss_grows_by_ten_times_exponent_per_decade() {
        let pl = BandConfig::DEFAULT_2_4_GHZ.path_loss;
        assert!((pl.loss_db(1.0) - 40.0).abs() < 1e-9);
        assert!((pl.loss_db(0.1) - 40.0).abs() < 1e-9);
        assert!((pl.loss_db(10.0) - 70.0).abs() < 1e-9);
        assert!((pl.loss_db(100.0) - 100.0).abs() < 1e-9);
        assert!(pl.loss_db(f64::NAN) > 1000.0);
    }

    #[test]
    fn validation_rejects_unusable_values() {
        assert_eq!(MediumConfig::default().validate(), Ok(()));
        let mut c = MediumConfig::default();
        c.band_5_ghz.group_rate = PhyRate::Dsss1;
        assert_eq!(
            c.validate(),
            Err(MediumError::RateNotInBand {
                rate: PhyRate::Dsss1,
                band: Band::Ghz5
            })
        );
        let c = MediumConfig {
            extra_loss: 1.5,
            ..MediumConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(MediumError::InvalidParameter {
                what: "extra loss",
                ..
            })
        ));
        let c = MediumConfig {
            noise_floor_dbm: f64::NAN,
            ..MediumConfig::default()
        };
        assert!(c.validate().is_err());
        let c = MediumConfig {
            retry_limit: 0,
            ..MediumConfig::default()
        };
        assert!(c.validate().is_err());
        let c = MediumConfig {
            airtime: false,
            extra_loss: 0.1,
            ..MediumConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(MediumError::InvalidParameter {
                what: "extra loss without airtime",
                ..
            })
        ));
        let c = MediumConfig {
            airtime: false,
            ..MediumConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
        assert!(MediumConfig::default().airtime);
    }
}
