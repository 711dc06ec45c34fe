//! The PMKSA cache (IEEE 802.11-2020 12.6.10.2): PMKs from completed SAE exchanges, so that a
//! station reconnecting within the lifetime skips SAE (Open System authentication, then the
//! PMKID in its RSNE; the AP finds the PMK by PMKID and starts the 4-way handshake).

use core::time::Duration;

use super::exchange::Pmkid;
use crate::addr::MacAddr;
use crate::crypto::Pmk;
use crate::time::Instant;

/// One cached PMK security association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pmksa {
    /// The peer: the AP's BSSID in a station's cache, the station's address in an AP's.
    pub peer: MacAddr,
    /// The PMK.
    pub pmk: Pmk,
    /// Its PMKID.
    pub pmkid: Pmkid,
    /// When the entry stops being used.
    pub expires: Instant,
}

/// A bounded PMKSA cache; the oldest entry makes room for a new one.
#[derive(Debug, Clone)]
pub struct PmksaCache {
    entries: Vec<Pmksa>,
    capacity: usize,
    lifetime: Duration,
}

impl PmksaCache {
    /// The lifetime hostapd and wpa_supplicant use by default (dot11RSNAConfigPMKLifetime,
    /// 43200 s).
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(43_200);

    /// An empty cache of at most `capacity` entries, each kept for `lifetime`.
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            entries: Vec::new(),
            capacity: capacity.max(1),
            lifetime,
        }
    }

    /// Adds (or replaces) the entry of `peer`.
    pub fn insert(&mut self, now: Instant, peer: MacAddr, pmk: Pmk, pmkid: Pmkid) {
        self.expire(now);
        self.entries.retain(|e| e.peer != peer);
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push(Pmksa {
            peer,
            pmk,
            pmkid,
            expires: now + self.lifetime,
        });
    }

    /// The live entry of `peer`.
    pub fn get(&self, now: Instant, peer: MacAddr) -> Option<&Pmksa> {
        self.entries
            .iter()
            .find(|e| e.peer == peer && now < e.expires)
    }

    /// The live entry of `peer` with this PMKID (an AP checking an association request).
    pub fn find(&self, now: Instant, peer: MacAddr, pmkid: &Pmkid) -> Option<&Pmksa> {
        self.get(now, peer).filter(|e| &e.pmkid == pmkid)
    }

    /// Forgets the entry of `peer` (its PMK was refused, or the 4-way handshake failed).
    pub fn remove(&mut self, peer: MacAddr) {
        self.entries.retain(|e| e.peer != peer);
    }

    /// The number of entries, expired ones included until the next insert.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        self.entries.retain(|e| now < e.expires);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_are_replaced_and_bounded() {
        let t0 = Instant::ZERO;
        let mut c = PmksaCache::new(2, Duration::from_secs(10));
        let (a, b, d) = (
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 3]),
        );
        c.insert(t0, a, Pmk::from_bytes([1; 32]), [1; 16]);
        assert!(c.find(t0, a, &[1; 16]).is_some());
        assert!(c.find(t0, a, &[2; 16]).is_none());
        assert!(c.get(t0 + Duration::from_secs(10), a).is_none());
        c.insert(t0, a, Pmk::from_bytes([2; 32]), [2; 16]);
        assert_eq!(c.len(), 1);
        c.insert(t0, b, Pmk::from_bytes([3; 32]), [3; 16]);
        c.insert(t0, d, Pmk::from_bytes([4; 32]), [4; 16]);
        assert!(c.get(t0, a).is_none(), "oldest evicted");
        assert!(c.get(t0, d).is_some());
        c.remove(d);
        assert!(c.get(t0, d).is_none());
    }
}
