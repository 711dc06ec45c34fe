//! The scans a join makes for its network before it gives up.

/// Scan results older than this (ms) are not trusted for a join: it scans first.
pub const FRESH_SCAN_MS: u32 = 30_000;
/// Scans that miss the network before a join fails with `NetworkNotFound` (a probe response
/// lost on a busy air, an AP that has just come up: scanned once more, as the simulated
/// radio's stations do).
pub const JOIN_SCANS: u32 = 2;
/// Scans a join tries in all, the failed ones (another station's join or scan can abort
/// ours) included.
pub const JOIN_SCAN_TRIES: u32 = 3;

/// The scans of one join: whether another is made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JoinScans {
    tries: u32,
    misses: u32,
}

impl JoinScans {
    /// Whether a BSS seen `beacon_age_ms` ago can be joined without a scan first.
    pub fn fresh(beacon_age_ms: u32) -> bool {
        beacon_age_ms <= FRESH_SCAN_MS
    }

    /// Whether to scan (again): the network not found yet, and scans left.
    pub fn another(&self) -> bool {
        self.tries < JOIN_SCAN_TRIES && self.misses < JOIN_SCANS
    }

    /// A scan completed (the network found in it or not).
    pub fn scanned(&mut self) {
        self.tries = self.tries.saturating_add(1);
        self.misses = self.misses.saturating_add(1);
    }

    /// A scan failed (aborted, busy): it counts as a try, not as a miss.
    pub fn failed(&mut self) {
        self.tries = self.tries.saturating_add(1);
    }
}
