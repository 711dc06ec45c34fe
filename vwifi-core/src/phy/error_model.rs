//! The frame error model of HT/VHT/HE rates: a logistic waterfall around each MCS's
//! signal-to-noise ratio, shifted by the channel width and the spatial streams.

use super::mcs::Modulation;
use super::vector::{McsRate, TxVector};
use crate::sim::medium::frame_error_probability as legacy_frame_error_probability;

/// The SNR (dB, one stream, 20 MHz) at which half of the 1000-byte frames of per-stream MCS
/// `mcs` are lost: typical receiver minimum-SNR figures, consistent with the legacy table
/// (64-QAM 3/4 at 21 dB as OFDM 54 Mbit/s).
pub fn snr_midpoint_db(rate: &McsRate) -> f64 {
    let s = rate.scheme();
    let (n, d) = (s.rate.numerator, s.rate.denominator);
    match (s.modulation, n, d) {
        (Modulation::Bpsk, ..) => 3.0,
        (Modulation::Qpsk, 1, 2) => 6.0,
        (Modulation::Qpsk, ..) => 8.0,
        (Modulation::Qam16, 1, 2) => 11.0,
        (Modulation::Qam16, ..) => 15.0,
        (Modulation::Qam64, 2, 3) => 19.0,
        (Modulation::Qam64, 3, 4) => 21.0,
        (Modulation::Qam64, ..) => 23.0,
        (Modulation::Qam256, 3, 4) => 27.0,
        (Modulation::Qam256, ..) => 29.0,
        (Modulation::Qam1024, 3, 4) => 32.0,
        (Modulation::Qam1024, ..) => 34.0,
    }
}

/// How much SNR a rate needs beyond [`snr_midpoint_db`]: 3 dB per doubling of the width (the
/// same power over twice the noise bandwidth) and per doubling of the streams (the power
/// split between them).
pub fn snr_penalty_db(rate: &McsRate) -> f64 {
    10.0 * (f64::from(rate.width.mhz()) / 20.0).log10() + 10.0 * f64::from(rate.nss).log10()
}

/// The probability that a frame of `len` bytes sent with `vector` is lost at a (20 MHz)
/// signal-to-noise ratio of `snr_db`: the legacy model for legacy rates; for MCS rates the
/// same logistic waterfall (about 4.4 dB from 90 % to 10 % loss) around
/// [`snr_midpoint_db`] + [`snr_penalty_db`], scaled to the frame's length as independent
/// 1000-byte blocks.
pub fn frame_error_probability(vector: &TxVector, snr_db: f64, len: usize) -> f64 {
    let rate = match vector {
        TxVector::Legacy(r) => return legacy_frame_error_probability(*r, snr_db, len),
        TxVector::Mcs(r) => r,
    };
    let mid = snr_midpoint_db(rate) + snr_penalty_db(rate);
    let per_1000 = 1.0 / (1.0 + (snr_db - mid).exp());
    let blocks = len.max(1) as f64 / 1000.0;
    let p = 1.0 - (1.0 - per_1000).powf(blocks);
    if p.is_nan() {
        1.0
    } else {
        p.clamp(0.0, 1.0)
    }
}
