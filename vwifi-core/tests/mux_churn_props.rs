//! Property tests of the Mux under churn (issue 19): random sequences of guests admitted,
//! removed and admitted again under the same name (so with the same address, as a container
//! re-attached), connecting, disconnecting and sending data, on virtual time. After every step:
//! - one station per guest: the Mux's guests are exactly the live ones, each with its station
//!   and report, their addresses distinct, and the medium knows exactly those addresses;
//! - nothing for a non-owner: a removed guest has no station, no report, and is sent nothing
//!   after its removal;
//! - counters consistent: every received frame is either routed or dropped, and no counter
//!   (radio-wide or per guest) ever goes backwards; a connected station names its BSS.

mod mux_lab;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mux_lab::{ip_frame, Lab, Net};
use proptest::prelude::*;
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{GuestCounters, MuxConfig, MuxStats};
use vwifi_core::proto::{Message, RequestId, StationState};
use vwifi_core::MacAddr;

const SLOTS: usize = 4;

fn nets() -> Vec<Net> {
    vec![
        Net {
            ssid: "churn-wpa2",
            bssid: MacAddr([0x02, 0x76, 0x77, 0, 2, 0x0a]),
            channel: 1,
            pass: Some("churn passphrase"),
            at: (0.0, 0.0),
        },
        Net {
            ssid: "churn-open",
            bssid: MacAddr([0x02, 0x76, 0x77, 0, 2, 0x0b]),
            channel: 6,
            pass: None,
            at: (4.0, 0.0),
        },
    ]
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Admit(usize),
    Remove(usize),
    Connect(usize, usize),
    Disconnect(usize),
    Data(usize, usize),
}

fn action() -> impl Strategy<Value = Action> {
    let slot = 0..SLOTS;
    prop_oneof![
        2 => slot.clone().prop_map(Action::Admit),
        2 => slot.clone().prop_map(Action::Remove),
        3 => (slot.clone(), 0..2usize).prop_map(|(s, n)| Action::Connect(s, n)),
        1 => slot.clone().prop_map(Action::Disconnect),
        2 => (slot.clone(), slot).prop_map(|(s, d)| Action::Data(s, d)),
    ]
}

/// Every counter of a guest, in one comparable tuple.
fn guest_counts(c: &GuestCounters) -> [u64; 5] {
    [
        c.bad_messages,
        c.spoofed,
        c.tx_dropped,
        c.rx_queue_full,
        c.control_dropped,
    ]
}

fn stats_counts(s: &MuxStats) -> [u64; 7] {
    [
        s.rx_frames,
        s.rx_routed,
        s.rx_dropped,
        s.rx_not_listening,
        s.tx_frames,
        s.tx_off_channel,
        s.tunes,
    ]
}

struct Run {
    lab: Lab,
    /// The guest in each slot, if admitted.
    live: [Option<GuestId>; SLOTS],
    /// Guests removed so far.
    removed: BTreeSet<GuestId>,
    /// The last counters seen of each live guest.
    last: BTreeMap<GuestId, [u64; 5]>,
    last_stats: [u64; 7],
}

impl Run {
    fn new(seed: u64) -> Self {
        let lab = Lab::new(seed, &nets(), MuxConfig::default());
        Self {
            lab,
            live: [None; SLOTS],
            removed: BTreeSet::new(),
            last: BTreeMap::new(),
            last_stats: [0; 7],
        }
    }

    fn apply(&mut self, a: Action) {
        match a {
            Action::Admit(s) => {
                if self.live[s].is_none() {
                    self.live[s] = Some(self.lab.admit(&format!("slot{s}")));
                }
            }
            Action::Remove(s) => {
                if let Some(g) = self.live[s].take() {
                    let now = self.lab.world.now();
                    self.lab.node_mut().remove(now, g);
                    self.lab.register_addresses();
                    self.removed.insert(g);
                    self.last.remove(&g);
                }
            }
            Action::Connect(s, n) => {
                if let Some(g) = self.live[s] {
                    self.lab.connect_net(g, n);
                }
            }
            Action::Disconnect(s) => {
                if let Some(g) = self.live[s] {
                    self.lab.send(g, Message::Disconnect { id: RequestId(9) });
                }
            }
            Action::Data(s, d) => {
                if let Some(g) = self.live[s] {
                    let src = self.lab.mac(g);
                    let dst = self.live[d].map_or(MacAddr::BROADCAST, |h| self.lab.mac(h));
                    self.lab.send(g, ip_frame(src, dst, 1));
                }
            }
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let mux = self.lab.mux();
        let live: BTreeSet<GuestId> = self.live.iter().flatten().copied().collect();
        let admitted: BTreeSet<GuestId> = mux.guests().collect();
        prop_assert_eq!(&admitted, &live, "the Mux's guests are the live ones");
        let mut macs = BTreeSet::new();
        for &g in &live {
            let station = mux.station(g);
            prop_assert!(station.is_some(), "guest {:?} has no station", g);
            let report = mux.report(g);
            prop_assert!(report.is_some(), "guest {:?} has no report", g);
            let (station, report) = (station.unwrap(), report.unwrap());
            prop_assert!(
                macs.insert(station.mac()),
                "address {} shared",
                station.mac()
            );
            if station.state() == StationState::Connected {
                prop_assert!(station.bssid().is_some(), "connected without a BSS");
            }
            let now = guest_counts(&report.counters);
            if let Some(before) = self.last.get(&g) {
                prop_assert!(
                    before.iter().zip(&now).all(|(b, n)| b <= n),
                    "guest {:?} counters went back: {:?} -> {:?}",
                    g,
                    before,
                    now
                );
            }
            self.last.insert(g, now);
        }
        let medium: BTreeSet<MacAddr> = self.lab.node().addresses().into_iter().collect();
        prop_assert_eq!(
            &medium,
            &macs,
            "the medium knows exactly the live addresses"
        );
        for &g in &self.removed {
            prop_assert!(mux.station(g).is_none() && mux.report(g).is_none());
            prop_assert!(
                self.lab.node().guest_items(g).is_empty(),
                "removed guest {:?} was sent {:?}",
                g,
                self.lab.node().guest_items(g)
            );
        }
        let stats = mux.stats();
        prop_assert_eq!(stats.rx_frames, stats.rx_routed + stats.rx_dropped);
        let now = stats_counts(stats);
        prop_assert!(
            self.last_stats.iter().zip(&now).all(|(b, n)| b <= n),
            "radio counters went back: {:?} -> {:?}",
            self.last_stats,
            now
        );
        self.last_stats = now;
        // What the live guests were told is read (as a port would), so that only messages
        // sent after this point can show up for a guest removed later.
        for &g in &live {
            let _ = self.lab.take(g);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn churn_keeps_one_station_per_guest_nothing_for_non_owners_and_consistent_counters(
        seed in any::<u64>(),
        steps in prop::collection::vec((action(), 0u64..400), 1..40),
    ) {
        let mut run = Run::new(seed);
        for (a, ms) in steps {
            run.apply(a);
            run.check()?;
            run.lab.run_for(Duration::from_millis(ms + 1));
            run.check()?;
        }
        run.lab.run_for(Duration::from_secs(2));
        run.check()?;
    }
}
