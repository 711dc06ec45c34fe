//! Rate selection per link, Minstrel-HT style: every rate's delivery probability is learnt
//! from the link's own transmissions (an exponentially weighted moving average of acked
//! attempts), the rate with the best expected throughput (probability times rate) carries the
//! traffic, and a share of the frames probes a faster rate, so the link climbs when conditions
//! allow and falls with distance and loss. Sans-IO: the caller passes the random draws.

use super::caps::PhyCaps;
use super::vector::McsRate;

/// Weight of a new sample in a rate's success average.
const EWMA_NEW: f64 = 0.125;
/// The first this many frames (PPDUs: an A-MPDU counts once) probe every other time.
const WARMUP_FRAMES: u32 = 32;
/// After warm-up, one frame in this many probes.
const PROBE_EVERY: u32 = 10;
/// The first this many attempts of a frame use the chosen rate; the later ones the most
/// reliable rate known, then the slowest.
const ATTEMPTS_AT_CHOSEN: u8 = 2;

#[derive(Debug, Clone, Copy, Default)]
struct RateStats {
    /// The success average, once sampled.
    prob: Option<f64>,
    attempts: u64,
    successes: u64,
}

/// The rate controller of one link (one sender towards one receiver).
#[derive(Debug, Clone)]
pub struct RateControl {
    /// Every rate of the link's capabilities, slowest first.
    rates: Vec<McsRate>,
    stats: Vec<RateStats>,
    /// Index of the rate with the best expected throughput.
    best: usize,
    /// Frames selected so far.
    frames: u32,
    attempts: u64,
}

impl RateControl {
    /// A controller for a link with capabilities `caps` (the [`PhyCaps::common`] of its two
    /// ends); `None` for legacy links, which use the configured legacy rate.
    pub fn new(caps: &PhyCaps) -> Option<Self> {
        let rates = caps.rates();
        if rates.is_empty() {
            return None;
        }
        Some(Self {
            stats: vec![RateStats::default(); rates.len()],
            rates,
            best: 0,
            frames: 0,
            attempts: 0,
        })
    }

    /// The rate for the first attempts of a new frame; `draw` is a uniform random number.
    /// Most frames go at the best rate; a probing frame at a faster one picked by `draw`.
    pub fn select(&mut self, draw: u32) -> McsRate {
        self.frames = self.frames.wrapping_add(1);
        let probe = if self.frames <= WARMUP_FRAMES {
            self.frames % 2 == 0
        } else {
            self.frames % PROBE_EVERY == 0
        };
        let index = if probe {
            self.probe_target(draw).unwrap_or(self.best)
        } else {
            self.best
        };
        self.rate(index)
    }

    /// The rate of attempt number `attempt` (1 for the first) of a frame whose first attempts
    /// went at `chosen`: `chosen` for the first two, then the most reliable known rate, then
    /// the slowest.
    pub fn retry_rate(&self, chosen: McsRate, attempt: u8) -> McsRate {
        if attempt <= ATTEMPTS_AT_CHOSEN {
            return chosen;
        }
        if attempt == ATTEMPTS_AT_CHOSEN + 1 {
            let reliable = self
                .stats
                .iter()
                .enumerate()
                .filter(|(_, s)| s.prob.is_some_and(|p| p >= 0.9))
                .map(|(i, _)| i)
                .max()
                .unwrap_or(0);
            return self.rate(reliable.min(self.best));
        }
        self.rate(0)
    }

    /// The outcome of one attempt at `rate`: acknowledged or not.
    pub fn report(&mut self, rate: McsRate, acked: bool) {
        let Some(i) = self.rates.iter().position(|r| *r == rate) else {
            return;
        };
        self.attempts += 1;
        if let Some(s) = self.stats.get_mut(i) {
            s.attempts += 1;
            s.successes += u64::from(acked);
            let sample = if acked { 1.0 } else { 0.0 };
            s.prob = Some(match s.prob {
                None => sample,
                Some(p) => p + EWMA_NEW * (sample - p),
            });
        }
        self.best = self.best_index();
    }

    /// The rate the link runs at now (the best expected throughput).
    pub fn current(&self) -> McsRate {
        self.rate(self.best)
    }

    /// Every rate with its success average (if sampled) and attempts, slowest first: for
    /// status and tests.
    pub fn table(&self) -> impl Iterator<Item = (McsRate, Option<f64>, u64)> + '_ {
        self.rates
            .iter()
            .zip(&self.stats)
            .map(|(r, s)| (*r, s.prob, s.attempts))
    }

    fn rate(&self, index: usize) -> McsRate {
        // `rates` is never empty (see `new`); the index is always one of its.
        self.rates
            .get(index)
            .or_else(|| self.rates.first())
            .copied()
            .unwrap_or_else(unreachable_rate)
    }

    fn throughput(&self, index: usize) -> f64 {
        let (Some(r), Some(s)) = (self.rates.get(index), self.stats.get(index)) else {
            return 0.0;
        };
        s.prob.unwrap_or(0.0) * f64::from(r.kbps())
    }

    fn best_index(&self) -> usize {
        (0..self.rates.len())
            .filter(|&i| self.stats.get(i).is_some_and(|s| s.prob.is_some()))
            .max_by(|&a, &b| self.throughput(a).total_cmp(&self.throughput(b)))
            .unwrap_or(0)
    }

    /// A rate faster than the best's expected throughput, picked by `draw`.
    fn probe_target(&self, draw: u32) -> Option<usize> {
        let floor = self.throughput(self.best);
        let candidates: Vec<usize> = (0..self.rates.len())
            .filter(|&i| {
                i != self.best
                    && self
                        .rates
                        .get(i)
                        .is_some_and(|r| f64::from(r.kbps()) > floor)
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let pick = (u64::from(draw) * candidates.len() as u64) >> 32;
        candidates.get(pick as usize).copied()
    }
}

/// Never reached: a controller always has rates. HT MCS 0 keeps the function total.
fn unreachable_rate() -> McsRate {
    McsRate {
        standard: super::vector::Standard::Ht,
        mcs: 0,
        nss: 1,
        width: super::vector::Width::Mhz20,
        gi: super::vector::GuardInterval::Normal800,
    }
}
