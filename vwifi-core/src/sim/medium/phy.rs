//! The PHY: legacy 802.11a/b/g rates, frame airtime and the MAC timing that surrounds a frame
//! (SIFS, slot, DIFS, ACK timeout), and the frame error model.

use core::fmt;
use core::time::Duration;

use crate::channel::Band;

/// A legacy (non-HT) PHY rate: DSSS/CCK (802.11b, 2.4 GHz only) or OFDM (802.11a/g).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhyRate {
    /// DSSS 1 Mbit/s (DBPSK).
    Dsss1,
    /// DSSS 2 Mbit/s (DQPSK).
    Dsss2,
    /// CCK 5.5 Mbit/s.
    Cck5_5,
    /// CCK 11 Mbit/s.
    Cck11,
    /// OFDM 6 Mbit/s (BPSK 1/2).
    Ofdm6,
    /// OFDM 9 Mbit/s (BPSK 3/4).
    Ofdm9,
    /// OFDM 12 Mbit/s (QPSK 1/2).
    Ofdm12,
    /// OFDM 18 Mbit/s (QPSK 3/4).
    Ofdm18,
    /// OFDM 24 Mbit/s (16-QAM 1/2).
    Ofdm24,
    /// OFDM 36 Mbit/s (16-QAM 3/4).
    Ofdm36,
    /// OFDM 48 Mbit/s (64-QAM 2/3).
    Ofdm48,
    /// OFDM 54 Mbit/s (64-QAM 3/4).
    Ofdm54,
}

/// OFDM preamble (16 µs) plus SIGNAL field (4 µs), IEEE 802.11-2020 17.3.2.
const OFDM_PLCP: u64 = 20;
/// One OFDM symbol, 4 µs.
const OFDM_SYMBOL: u64 = 4;
/// The OFDM signal extension of ERP-OFDM in the 2.4 GHz band (18.3.2.4), 6 µs.
const ERP_SIGNAL_EXTENSION: u64 = 6;
/// The long DSSS PLCP preamble (144 µs) plus header (48 µs), 15.3.3.
const DSSS_LONG_PLCP: u64 = 192;
/// The frame check sequence the air adds to every frame the medium is handed.
pub const FCS_LEN: usize = 4;
/// An Ack frame on the air: frame control, duration, receiver address and FCS.
pub const ACK_LEN: usize = 14;

impl PhyRate {
    /// Every rate, slowest first.
    pub const ALL: [Self; 12] = [
        Self::Dsss1,
        Self::Dsss2,
        Self::Cck5_5,
        Self::Cck11,
        Self::Ofdm6,
        Self::Ofdm9,
        Self::Ofdm12,
        Self::Ofdm18,
        Self::Ofdm24,
        Self::Ofdm36,
        Self::Ofdm48,
        Self::Ofdm54,
    ];

    /// The rate in kbit/s.
    pub const fn kbps(self) -> u32 {
        match self {
            Self::Dsss1 => 1_000,
            Self::Dsss2 => 2_000,
            Self::Cck5_5 => 5_500,
            Self::Cck11 => 11_000,
            Self::Ofdm6 => 6_000,
            Self::Ofdm9 => 9_000,
            Self::Ofdm12 => 12_000,
            Self::Ofdm18 => 18_000,
            Self::Ofdm24 => 24_000,
            Self::Ofdm36 => 36_000,
            Self::Ofdm48 => 48_000,
            Self::Ofdm54 => 54_000,
        }
    }

    /// The rate whose speed is `kbps`, if it is a legacy rate.
    pub fn from_kbps(kbps: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.kbps() == kbps)
    }

    /// The rate in the radiotap Rate field's unit, 500 kbit/s.
    pub const fn radiotap_units(self) -> u8 {
        // At most 108 for 54 Mbit/s: fits.
        (self.kbps() / 500) as u8
    }

    /// Whether this is an OFDM rate (else DSSS/CCK).
    pub const fn is_ofdm(self) -> bool {
        !matches!(self, Self::Dsss1 | Self::Dsss2 | Self::Cck5_5 | Self::Cck11)
    }

    /// Whether the rate can be used in `band` (DSSS/CCK exist only at 2.4 GHz; 5 and 6 GHz
    /// are OFDM).
    pub const fn allowed_in(self, band: Band) -> bool {
        match band {
            Band::Ghz2_4 => true,
            Band::Ghz5 | Band::Ghz6 => self.is_ofdm(),
        }
    }

    /// The rate of a control response (the Ack) to a frame sent at this rate: the highest
    /// mandatory rate of the same modulation class not above it (IEEE 802.11-2020 10.6.6.5).
    pub const fn control_response_rate(self) -> Self {
        match self {
            Self::Dsss1 => Self::Dsss1,
            Self::Dsss2 => Self::Dsss2,
            Self::Cck5_5 => Self::Cck5_5,
            Self::Cck11 => Self::Cck11,
            Self::Ofdm6 | Self::Ofdm9 => Self::Ofdm6,
            Self::Ofdm12 | Self::Ofdm18 => Self::Ofdm12,
            _ => Self::Ofdm24,
        }
    }

    /// The signal-to-noise ratio, in dB, at which half of the 1000-byte frames sent at this rate
    /// are lost. Lower rates need less (modelled on typical receiver minimum-SNR tables).
    pub const fn snr_midpoint_db(self) -> f64 {
        match self {
            Self::Dsss1 => 1.0,
            Self::Dsss2 => 3.0,
            Self::Cck5_5 => 5.0,
            Self::Cck11 => 8.0,
            Self::Ofdm6 => 3.0,
            Self::Ofdm9 => 5.0,
            Self::Ofdm12 => 6.0,
            Self::Ofdm18 => 8.0,
            Self::Ofdm24 => 11.0,
            Self::Ofdm36 => 15.0,
            Self::Ofdm48 => 19.0,
            Self::Ofdm54 => 21.0,
        }
    }

    /// The time on the air of a frame of `len` bytes (MAC header, body and FCS) at this rate in
    /// `band`: PLCP preamble and header, then the payload symbols.
    ///
    /// OFDM (17.4.3): 20 µs + 4 µs per symbol of 16 service bits, the data and 6 tail bits,
    /// plus the 6 µs signal extension in the 2.4 GHz band (ERP-OFDM). DSSS/CCK (15.3, 16.3):
    /// the 192 µs long preamble and header, then the bits at the rate, rounded up.
    pub fn airtime(self, len: usize, band: Band) -> Duration {
        let bits = 8 * len as u64;
        let kbps = u64::from(self.kbps());
        let micros = if self.is_ofdm() {
            let bits_per_symbol = kbps * 4 / 1000;
            let symbols = (16 + bits + 6).div_ceil(bits_per_symbol);
            let extension = match band {
                Band::Ghz2_4 => ERP_SIGNAL_EXTENSION,
                Band::Ghz5 | Band::Ghz6 => 0,
            };
            OFDM_PLCP + OFDM_SYMBOL * symbols + extension
        } else {
            DSSS_LONG_PLCP + (bits * 1000).div_ceil(kbps)
        };
        Duration::from_micros(micros)
    }

    /// The receiver's PHY start delay (aRxPHYStartDelay): 25 µs for OFDM, 192 µs for DSSS.
    pub const fn rx_start_delay(self) -> Duration {
        Duration::from_micros(if self.is_ofdm() { 25 } else { 192 })
    }
}

impl fmt::Display for PhyRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kbps = self.kbps();
        if kbps % 1000 == 0 {
            write!(f, "{} Mbit/s", kbps / 1000)
        } else {
            write!(f, "{}.{} Mbit/s", kbps / 1000, (kbps % 1000) / 100)
        }
    }
}

/// The MAC timing of a band (IEEE 802.11-2020 Table 17-21, 18-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Short interframe space: 10 µs at 2.4 GHz, 16 µs at 5 GHz.
    pub sifs: Duration,
    /// Slot time: 9 µs (OFDM, short slot), 20 µs (2.4 GHz long slot).
    pub slot: Duration,
}

impl Timing {
    /// The timing of `band`; `short_slot` selects the 9 µs slot at 2.4 GHz (always 9 µs at 5 and
    /// 6 GHz, whose OFDM PHY is the same).
    pub const fn of(band: Band, short_slot: bool) -> Self {
        match band {
            Band::Ghz2_4 => Self {
                sifs: Duration::from_micros(10),
                slot: Duration::from_micros(if short_slot { 9 } else { 20 }),
            },
            Band::Ghz5 | Band::Ghz6 => Self {
                sifs: Duration::from_micros(16),
                slot: Duration::from_micros(9),
            },
        }
    }

    /// DCF interframe space: SIFS plus two slots.
    pub fn difs(&self) -> Duration {
        self.sifs + 2 * self.slot
    }

    /// How long a sender waits for an Ack at `ack_rate` after its frame ends before it counts
    /// the attempt as failed: SIFS + slot + the receiver's PHY start delay (10.3.2.9).
    pub fn ack_timeout(&self, ack_rate: PhyRate) -> Duration {
        self.sifs + self.slot + ack_rate.rx_start_delay()
    }
}

/// The probability that a frame of `len` bytes at `rate` is lost at signal-to-noise ratio
/// `snr_db`: a logistic waterfall around the rate's [`PhyRate::snr_midpoint_db`] for a
/// 1000-byte frame (about 4.4 dB from 90 % to 10 % loss), scaled to the frame's length as
/// independent 1000-byte blocks, so short frames (Acks) survive more often than long ones.
pub fn frame_error_probability(rate: PhyRate, snr_db: f64, len: usize) -> f64 {
    let per_1000 = 1.0 / (1.0 + ((snr_db - rate.snr_midpoint_db()) / 1.0).exp());
    let blocks = len.max(1) as f64 / 1000.0;
    let p = 1.0 - (1.0 - per_1000).powf(blocks);
    if p.is_nan() {
        1.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ofdm_airtime_counts_preamble_and_symbols() {
        // A 14-byte Ack at 24 Mbit/s, 5 GHz: 16 + 112 + 6 = 134 bits -> 2 symbols of 96 bits:
        // 20 + 8 = 28 µs.
        assert_eq!(
            PhyRate::Ofdm24.airtime(ACK_LEN, Band::Ghz5),
            Duration::from_micros(28)
        );
        // 1534 bytes at 54 Mbit/s: 16 + 12272 + 6 = 12294 bits / 216 = 57 symbols: 248 µs.
        assert_eq!(
            PhyRate::Ofdm54.airtime(1534, Band::Ghz5),
            Duration::from_micros(248)
        );
        // ERP-OFDM at 2.4 GHz adds the 6 µs signal extension.
        assert_eq!(
            PhyRate::Ofdm54.airtime(1534, Band::Ghz2_4),
            Duration::from_micros(254)
        );
    }

    #[test]
    fn dsss_airtime_uses_the_long_preamble() {
        // 14-byte Ack at 1 Mbit/s: 192 + 112 = 304 µs.
        assert_eq!(
            PhyRate::Dsss1.airtime(ACK_LEN, Band::Ghz2_4),
            Duration::from_micros(304)
        );
        // 100 bytes at 5.5 Mbit/s: 800 bits / 5.5 = 145.45 -> 146 µs.
        assert_eq!(
            PhyRate::Cck5_5.airtime(100, Band::Ghz2_4),
            Duration::from_micros(192 + 146)
        );
    }

    #[test]
    fn timing_follows_the_band() {
        let t24 = Timing::of(Band::Ghz2_4, true);
        assert_eq!(t24.sifs, Duration::from_micros(10));
        assert_eq!(t24.difs(), Duration::from_micros(28));
        assert_eq!(
            Timing::of(Band::Ghz2_4, false).difs(),
            Duration::from_micros(50)
        );
        let t5 = Timing::of(Band::Ghz5, false);
        assert_eq!(t5.difs(), Duration::from_micros(34));
        assert_eq!(
            t5.ack_timeout(PhyRate::Ofdm24),
            Duration::from_micros(16 + 9 + 25)
        );
    }

    #[test]
    fn control_response_rate_is_a_mandatory_rate_not_above() {
        assert_eq!(PhyRate::Ofdm54.control_response_rate(), PhyRate::Ofdm24);
        assert_eq!(PhyRate::Ofdm18.control_response_rate(), PhyRate::Ofdm12);
        assert_eq!(PhyRate::Ofdm9.control_response_rate(), PhyRate::Ofdm6);
        assert_eq!(PhyRate::Cck11.control_response_rate(), PhyRate::Cck11);
        for r in PhyRate::ALL {
            assert!(r.control_response_rate() <= r);
            assert_eq!(r.control_response_rate().is_ofdm(), r.is_ofdm());
            assert_eq!(PhyRate::from_kbps(r.kbps()), Some(r));
        }
        assert!(!PhyRate::Dsss1.allowed_in(Band::Ghz5));
        assert_eq!(PhyRate::Cck5_5.to_string(), "5.5 Mbit/s");
        assert_eq!(PhyRate::Ofdm54.radiotap_units(), 108);
    }

    #[test]
    fn frame_errors_fall_smoothly_with_snr_and_grow_with_length() {
        let mut last = 1.0;
        for snr in -10..40 {
            let p = frame_error_probability(PhyRate::Ofdm54, f64::from(snr), 1000);
            assert!(p <= last, "not monotonic at {snr} dB");
            assert!((0.0..=1.0).contains(&p));
            last = p;
        }
        let mid = frame_error_probability(PhyRate::Ofdm54, 21.0, 1000);
        assert!((mid - 0.5).abs() < 1e-9);
        assert!(frame_error_probability(PhyRate::Ofdm54, 40.0, 1500) < 1e-6);
        assert!(frame_error_probability(PhyRate::Ofdm54, 0.0, 1500) > 0.999);
        // An Ack survives where a long frame is lost half the time.
        assert!(frame_error_probability(PhyRate::Ofdm54, 21.0, ACK_LEN) < 0.01);
    }
}
