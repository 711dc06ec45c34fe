//! Roaming within an ESS (issue 16, item 4) on the simulated air: two APs of one SSID, the
//! host's radio (the Mux) moved from one towards the other, an AP that falls silent.
//!
//! Time here is the world's virtual time: the roam times asserted are sim time, not wall time.

mod mux_lab;

use std::time::Duration;

use mux_lab::{tagged_frame, Lab, LabOptions, Net, AP_A, AP_B, UPLINK_PEER};
use vwifi_core::crypto::Passphrase;
use vwifi_core::demux::GuestId;
use vwifi_core::mux::MuxConfig;
use vwifi_core::proto::{Capabilities, Event, Message, RequestId};
use vwifi_core::sim::air::forward_roams;
use vwifi_core::sim::ap::{ApEvent, ApSecurity, LeaveReason, SoftAp, StationState};
use vwifi_core::sim::medium::Placement;
use vwifi_core::wire::Ssid;
use vwifi_core::MacAddr;

const SSID: &str = "roam-ess";
const PASS: &str = "one passphrase for the ess";

/// Two APs of one WPA2 network, 100 m apart, on channels 1 and 6.
fn ess() -> Vec<Net> {
    vec![
        Net {
            ssid: SSID,
            bssid: AP_A,
            channel: 1,
            pass: Some(PASS),
            at: (0.0, 0.0),
        },
        Net {
            ssid: SSID,
            bssid: AP_B,
            channel: 6,
            pass: Some(PASS),
            at: (100.0, 0.0),
        },
    ]
}

/// A lab with the host's radio at `x` metres on the line from A to B.
fn lab_at(seed: u64, nets: &[Net], x: f64) -> Lab {
    Lab::with_options(
        seed,
        nets,
        LabOptions {
            mux: MuxConfig::default(),
            host_at: (x, 0.0),
            ..LabOptions::default()
        },
    )
}

/// Makes both APs WPA3-Personal (SAE) with the network's passphrase.
fn wpa3(lab: &mut Lab) {
    let pass = Passphrase::new(PASS).unwrap();
    let ssid = Ssid::new(SSID.as_bytes()).unwrap();
    for i in 0..lab.aps.len() {
        lab.set_security(i, ApSecurity::wpa3_passphrase(&pass, &ssid, false).unwrap());
    }
}

/// A guest that says it understands roam events, connected to the network.
fn roaming_guest(lab: &mut Lab) -> GuestId {
    let g = lab.admit("roamer");
    lab.send(
        g,
        Message::Hello {
            id: RequestId(1),
            version: 1,
            capabilities: Capabilities::EVENTS | Capabilities::ROAM_EVENTS,
            agent: "roam test".into(),
        },
    );
    lab.connect(g, SSID, Some(PASS));
    lab.drive_until(Duration::from_secs(20), |l| l.connected(g));
    g
}

/// The distribution system between the lab's APs (as `SimAir` and the host run it).
fn ds(lab: &mut Lab) {
    let aps: Vec<(MacAddr, _)> = lab
        .nets
        .iter()
        .map(|n| n.bssid)
        .zip(lab.aps.iter().copied())
        .collect();
    forward_roams(lab.world.medium_mut(), &aps);
}

fn move_host(lab: &mut Lab, x: f64) {
    let host = lab.host;
    lab.world
        .medium_mut()
        .set_position(host, Placement::at(x, 0.0).position)
        .unwrap();
}

fn roams(lab: &Lab, g: GuestId) -> Vec<(MacAddr, MacAddr, u32)> {
    lab.messages(g)
        .iter()
        .filter_map(|m| match m {
            Message::Event(Event::Roamed {
                bssid,
                old_bssid,
                roam_ms,
                ..
            }) => Some((*old_bssid, *bssid, *roam_ms)),
            _ => None,
        })
        .collect()
}

fn disconnections(lab: &Lab, g: GuestId) -> usize {
    lab.messages(g)
        .iter()
        .filter(|m| matches!(m, Message::Event(Event::Disconnected { .. })))
        .count()
}

/// The sequence numbers of the test's frames that left AP `i`'s uplink.
fn uplinked(lab: &mut Lab, i: usize, src: MacAddr) -> Vec<u16> {
    lab.drain_uplink(i)
        .iter()
        .filter(|f| f.src == src && f.payload.first() == Some(&0x5a))
        .filter_map(|f| Some(u16::from_be_bytes([*f.payload.get(1)?, *f.payload.get(2)?])))
        .collect()
}

/// The result of walking the host's radio from A to B while the guest sends.
struct Walk {
    sent: u16,
    through_a: Vec<u16>,
    through_b: Vec<u16>,
    sim_time: Duration,
}

/// Walks the host's radio from x = 5 to x = 95 m in 1 m steps every 100 ms (10 m/s), the
/// guest sending one frame to the uplink every 20 ms, the distribution system running every
/// 10 ms; then 2 s more at B.
fn walk_a_to_b(lab: &mut Lab, g: GuestId) -> Walk {
    walk(lab, g, 5.0, 1.0)
}

/// [`walk_a_to_b`] from `from_x`, one metre every 100 ms in direction `step` (±1).
fn walk(lab: &mut Lab, g: GuestId, from_x: f64, step: f64) -> Walk {
    let mac = lab.mac(g);
    let start = lab.world.now();
    let mut walk = Walk {
        sent: 0,
        through_a: Vec::new(),
        through_b: Vec::new(),
        sim_time: Duration::ZERO,
    };
    let steps = 90 * 10 + 200;
    for tick in 0..steps {
        if tick % 10 == 0 && tick / 10 <= 90 {
            move_host(lab, from_x + step * f64::from(tick / 10));
        }
        if tick % 2 == 0 && tick < 90 * 10 {
            let [hi, lo] = walk.sent.to_be_bytes();
            lab.send(g, tagged_frame(mac, UPLINK_PEER, &[0x5a, hi, lo, 0, 0, 0]));
            walk.sent += 1;
        }
        lab.run_for(Duration::from_millis(10));
        ds(lab);
        walk.through_a.extend(uplinked(lab, 0, mac));
        walk.through_b.extend(uplinked(lab, 1, mac));
    }
    walk.sim_time = lab.world.now() - start;
    walk
}

fn check_walk(lab: &mut Lab, g: GuestId, walk: &Walk) {
    let mac = lab.mac(g);
    let r = roams(lab, g);
    eprintln!(
        "stats {:?} status {:?}",
        lab.mux().station(g).unwrap().stats(),
        lab.mux().station(g).unwrap().status()
    );
    eprintln!(
        "roams {r:?}; sent {}, through A {}, through B {}, in {:?} of sim time",
        walk.sent,
        walk.through_a.len(),
        walk.through_b.len(),
        walk.sim_time
    );
    assert_eq!(r.len(), 1, "one roam expected");
    let (from, to, ms) = r[0];
    assert_eq!((from, to), (AP_A, AP_B));
    assert!(ms <= 1000, "the roam took {ms} ms of sim time");
    assert_eq!(
        disconnections(lab, g),
        0,
        "the guest was told it was disconnected"
    );
    assert_eq!(lab.bssid(g), Some(AP_B));
    assert!(lab.connected(g));
    // Data kept flowing: few frames lost, and the later ones went through B.
    let mut got: Vec<u16> = walk
        .through_a
        .iter()
        .chain(&walk.through_b)
        .copied()
        .collect();
    got.sort_unstable();
    got.dedup();
    let lost = usize::from(walk.sent) - got.len();
    assert!(lost <= 20, "{lost} of {} frames lost", walk.sent);
    // The last second of the walk (x = 85..95 m, nearer B) went through B, all of it.
    let last: Vec<u16> = (walk.sent - 50..walk.sent).collect();
    assert!(
        last.iter().all(|s| walk.through_b.contains(s)),
        "the last frames did not all go through B"
    );
    // The old AP let the station go when the new one told it (the distribution system).
    assert!(
        lab.ap(0).station(mac).is_none(),
        "A still holds the station"
    );
    assert!(lab
        .ap(1)
        .station(mac)
        .is_some_and(|s| s.state == StationState::Authorized));
    let a = lab.ap_mut(0);
    let left: Vec<ApEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        left.contains(&ApEvent::Left {
            sta: mac,
            reason: LeaveReason::Roamed { to: AP_B },
        }),
        "A's events: {left:?}"
    );
    let b = lab.ap_mut(1);
    let joined: Vec<ApEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(joined.iter().any(|e| matches!(
        e,
        ApEvent::Associated {
            sta,
            reassociation: true,
            ..
        } if *sta == mac
    )));
}

#[test]
fn a_wpa2_station_walked_from_a_to_b_roams_and_its_data_keeps_flowing() {
    let mut lab = lab_at(61, &ess(), 5.0);
    let g = roaming_guest(&mut lab);
    assert_eq!(lab.bssid(g), Some(AP_A));
    let walk = walk_a_to_b(&mut lab, g);
    check_walk(&mut lab, g, &walk);
    let stats = lab.mux().station(g).unwrap().stats();
    assert_eq!(stats.roams, 1);
    assert!(stats.roam_scans >= 1);
}

#[test]
fn a_wpa3_station_walked_from_a_to_b_roams_with_a_fresh_sae() {
    let mut lab = lab_at(62, &ess(), 5.0);
    wpa3(&mut lab);
    let g = roaming_guest(&mut lab);
    assert_eq!(lab.bssid(g), Some(AP_A));
    let walk = walk_a_to_b(&mut lab, g);
    check_walk(&mut lab, g, &walk);
}

#[test]
fn a_wpa3_station_walked_back_resumes_its_cached_pmksa_with_the_first_ap() {
    let mut lab = lab_at(69, &ess(), 5.0);
    wpa3(&mut lab);
    let g = roaming_guest(&mut lab);
    let w = walk(&mut lab, g, 5.0, 1.0);
    assert_eq!(roams(&lab, g).len(), 1, "{} frames sent", w.sent);
    assert_eq!(lab.ap(1).counters().sae_completed, 1, "a fresh SAE with B");
    let back = walk(&mut lab, g, 95.0, -1.0);
    let r = roams(&lab, g);
    assert_eq!(r.len(), 2, "{} frames sent", back.sent);
    assert_eq!((r[1].0, r[1].1), (AP_B, AP_A));
    assert_eq!(lab.bssid(g), Some(AP_A));
    // Back at A: Open System authentication and the PMKID of the PMKSA of the first join,
    // no second SAE exchange.
    let a = lab.ap(0).counters();
    assert_eq!((a.sae_completed, a.pmksa_resumed), (1, 1));
    assert_eq!(disconnections(&lab, g), 0);
}

#[test]
fn a_station_of_a_silent_ap_roams_to_another_ap_of_the_network_within_seconds() {
    for (seed, wpa3_ess) in [(63, false), (64, true)] {
        // Nearer A (-68 dBm) than B (-73 dBm): it joins A and has no reason to move.
        let mut lab = lab_at(seed, &ess(), 40.0);
        if wpa3_ess {
            wpa3(&mut lab);
        }
        let g = roaming_guest(&mut lab);
        assert_eq!(lab.bssid(g), Some(AP_A));
        lab.run_for(Duration::from_secs(3));
        assert!(roams(&lab, g).is_empty(), "roamed without a reason");
        // A vanishes (out of range).
        lab.move_ap(0, (100_000.0, 0.0));
        let gone = lab.world.now();
        lab.drive_until(Duration::from_secs(10), |l| !roams(l, g).is_empty());
        let took = lab.world.now() - gone;
        let (from, to, ms) = roams(&lab, g)[0];
        eprintln!("wpa3 {wpa3_ess}: roamed {took:?} after A went silent (roam {ms} ms)");
        assert_eq!((from, to), (AP_A, AP_B));
        assert!(took <= Duration::from_secs(4), "took {took:?}");
        assert_eq!(disconnections(&lab, g), 0);
        lab.drive_until(Duration::from_secs(1), |l| l.connected(g));
        // Data flows through B.
        let mac = lab.mac(g);
        lab.send(g, tagged_frame(mac, UPLINK_PEER, &[0x5a, 0, 7, 0, 0, 0]));
        let mut got = Vec::new();
        for _ in 0..100 {
            lab.run_for(Duration::from_millis(10));
            got.extend(uplinked(&mut lab, 1, mac));
        }
        assert_eq!(got, vec![7]);
    }
}

#[test]
fn a_station_whose_only_ap_falls_silent_is_told_disconnected() {
    let mut nets = ess();
    nets[1].ssid = "another-net";
    let mut lab = lab_at(65, &nets, 5.0);
    let g = roaming_guest(&mut lab);
    lab.move_ap(0, (100_000.0, 0.0));
    let gone = lab.world.now();
    lab.drive_until(Duration::from_secs(10), |l| disconnections(l, g) > 0);
    // No other AP of the network was ever heard: told at the beacon loss, without a scan.
    assert!(lab.world.now() - gone <= Duration::from_millis(1200));
    assert!(roams(&lab, g).is_empty());
    let stats = lab.mux().station(g).unwrap().stats();
    assert_eq!((stats.beacon_losses, stats.roam_failures), (1, 0));
}

#[test]
fn a_guest_without_roam_events_is_told_a_roam_as_a_connection_to_the_new_ap() {
    let mut lab = lab_at(66, &ess(), 40.0);
    let g = lab.admit("old-guest");
    lab.connect(g, SSID, Some(PASS));
    lab.drive_until(Duration::from_secs(20), |l| l.connected(g));
    lab.move_ap(0, (100_000.0, 0.0));
    lab.drive_until(Duration::from_secs(10), |l| {
        l.bssid(g) == Some(AP_B) && l.connected(g)
    });
    assert!(roams(&lab, g).is_empty());
    assert_eq!(disconnections(&lab, g), 0);
    let connected_to: Vec<MacAddr> = lab
        .messages(g)
        .iter()
        .filter_map(|m| match m {
            Message::Event(Event::Connected { bssid, .. }) => Some(*bssid),
            _ => None,
        })
        .collect();
    assert_eq!(connected_to, vec![AP_A, AP_B]);
}

#[test]
fn a_station_with_roaming_off_stays_and_is_disconnected_when_its_ap_goes() {
    let mut cfg = MuxConfig::default();
    cfg.station.roam.enabled = false;
    let mut lab = Lab::with_options(
        67,
        &ess(),
        LabOptions {
            mux: cfg,
            host_at: (5.0, 0.0),
            ..LabOptions::default()
        },
    );
    let g = roaming_guest(&mut lab);
    for x in 5..=90 {
        move_host(&mut lab, f64::from(x));
        lab.run_for(Duration::from_millis(50));
    }
    lab.run_for(Duration::from_secs(3));
    assert_eq!(lab.bssid(g), Some(AP_A), "roamed with roaming off");
    assert_eq!(lab.mux().station(g).unwrap().stats().roam_scans, 0);
    lab.move_ap(0, (100_000.0, 0.0));
    lab.drive_until(Duration::from_secs(10), |l| disconnections(l, g) > 0);
    assert!(roams(&lab, g).is_empty());
}

/// The AP keeps nothing of a station it released, and ignores a release for a stranger.
#[test]
fn a_released_station_is_forgotten_by_the_old_ap() {
    let mut lab = lab_at(68, &ess(), 5.0);
    let g = roaming_guest(&mut lab);
    let mac = lab.mac(g);
    let ap: &mut SoftAp = lab.ap_mut(0);
    assert!(!ap.release_roamed(MacAddr([2, 9, 9, 9, 9, 9]), AP_B));
    assert!(ap.release_roamed(mac, AP_B));
    assert!(ap.station(mac).is_none());
    assert!(!ap.release_roamed(mac, AP_B));
}

/// What a walk under a saturating stream showed.
#[derive(Debug)]
struct SaturatedWalk {
    /// The station's signal from A when it roamed (the last it reported on A), in dBm.
    signal_at_roam: i8,
    /// Where the host's radio was when it roamed, in metres from A.
    x_at_roam: f64,
    /// Sim time, before the roam, in 100 ms windows that carried under a tenth of the walk's
    /// median window: the stream stalled.
    stalled: Duration,
    /// Frames carried (both APs).
    carried: usize,
}

/// Walks the host's radio from x = 40 to 95 m (1 m every 100 ms) while the guest keeps its
/// station's radio queue full of 1400-byte frames to the uplink (`per_tick` frames every 10 ms
/// at most, fewer when the queue is full: the back-pressure a host's driver applies).
fn saturated_walk(lab: &mut Lab, g: GuestId, per_tick: usize) -> SaturatedWalk {
    use vwifi_core::mux_node::STATION_TX_QUEUE;
    let mac = lab.mac(g);
    let payload = [0x5b; 1400];
    let mut signal_at_roam = None;
    let mut x_at_roam = 0.0;
    let mut last_signal = 0;
    let mut windows: Vec<usize> = Vec::new();
    let mut roam_window = None;
    let mut x = 40.0;
    for tick in 0..(55 * 10 + 200) {
        if tick % 10 == 0 && x < 95.0 {
            x += 1.0;
            move_host(lab, x);
        }
        if tick % 10 == 0 {
            windows.push(0);
        }
        let queued = lab.node().station_queue(mac).0;
        for _ in 0..per_tick.min(STATION_TX_QUEUE.saturating_sub(queued)) {
            lab.send(g, tagged_frame(mac, UPLINK_PEER, &payload));
        }
        lab.run_for(Duration::from_millis(10));
        ds(lab);
        let carried = [0, 1]
            .into_iter()
            .flat_map(|i| lab.drain_uplink(i))
            .filter(|f| f.src == mac && f.payload.first() == Some(&0x5b))
            .count();
        if let Some(w) = windows.last_mut() {
            *w += carried;
        }
        let status = lab.mux().station(g).unwrap().status();
        if signal_at_roam.is_none() {
            if roams(lab, g).is_empty() {
                if status.bssid == Some(AP_A) {
                    last_signal = status.signal_dbm.unwrap_or(last_signal);
                }
            } else {
                signal_at_roam = Some(last_signal);
                x_at_roam = x;
                roam_window = Some(windows.len());
            }
        }
    }
    let mut sorted = windows.clone();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let before_roam = windows.get(..roam_window.unwrap_or(0)).unwrap_or(&[]);
    let stalled = before_roam.iter().filter(|&&w| w * 10 < median).count();
    SaturatedWalk {
        signal_at_roam: signal_at_roam.expect("no roam during the walk"),
        x_at_roam,
        stalled: Duration::from_millis(100) * u32::try_from(stalled).unwrap(),
        carried: windows.iter().sum(),
    }
}

/// Under a saturating stream a roam comes as it does with light traffic: the radio's queued
/// data does not hold the background scan's channel change back past its dwell (the change goes
/// ahead of the data, which waits for the radio's return), so the scan hears B in time.
#[test]
fn a_station_under_a_saturating_stream_roams_near_the_trigger() {
    let light = {
        let mut lab = lab_at(65, &ess(), 40.0);
        let g = roaming_guest(&mut lab);
        saturated_walk(&mut lab, g, 1)
    };
    let mut lab = lab_at(65, &ess(), 40.0);
    let g = roaming_guest(&mut lab);
    let busy = saturated_walk(&mut lab, g, 400);
    eprintln!("light traffic: {light:?}\nsaturating stream: {busy:?}");
    eprintln!(
        "roamed at x = {} m under load, {} m without",
        busy.x_at_roam, light.x_at_roam
    );
    eprintln!(
        "parked data dropped: {}, queue-full drops: {}",
        lab.node().parked_expired(),
        lab.node().tx_queue_dropped()
    );
    assert_eq!(roams(&lab, g).len(), 1);
    assert_eq!(disconnections(&lab, g), 0);
    assert_eq!(lab.bssid(g), Some(AP_B));
    // Roamed within 2 dB (of A's signal) of where a lightly loaded station roams, and near the
    // -70 dBm trigger (the 8 dB hysteresis towards B puts it a few dB below).
    assert!(
        i16::from(busy.signal_at_roam) >= i16::from(light.signal_at_roam) - 2,
        "roamed at {} dBm under load, {} dBm without",
        busy.signal_at_roam,
        light.signal_at_roam
    );
    assert!(
        busy.signal_at_roam >= -76,
        "roamed at {} dBm",
        busy.signal_at_roam
    );
    // The stream never stalled for long before the roam.
    assert!(
        busy.stalled <= Duration::from_secs(1),
        "stalled for {:?} before the roam",
        busy.stalled
    );
    assert!(
        busy.carried > 10 * light.carried,
        "{busy:?} against {light:?}"
    );
}
