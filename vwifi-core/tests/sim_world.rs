//! The simulated radio and software APs, end to end (issue 3, "Done when"): the built-in demo
//! networks of `SimConfig::demo()` put on a test `World`'s medium by `SimAps`, and
//! `ScriptedStation`s that scan, join, exchange data, sleep and poll.
//!
//! Everything is deterministic: each world is seeded (`VWIFI_SEED=<n>` replays another seed;
//! the world prints its seed when a test fails) and `VWIFI_PCAP_DIR=<dir>` keeps each world's
//! capture for Wireshark.

use std::sync::OnceLock;

use bytes::Bytes;
use core::time::Duration;
use vwifi_core::channel::Channel;
use vwifi_core::crypto::{derive_psk, Passphrase, Psk};
use vwifi_core::handshake::{HandshakeError, Message};
use vwifi_core::radio::NodeId;
use vwifi_core::sim::air::{medium_config, SimAps};
use vwifi_core::sim::ap::{ApConfig, ApEvent, ApSecurity, LeaveReason, SoftAp, StationState};
use vwifi_core::sim::config::SimConfig;
use vwifi_core::sim::medium::Position;
use vwifi_core::sim::pcap::PcapFile;
use vwifi_core::testing::{seed_from_env, JoinStage, Outcome, ScriptedStation, World};
use vwifi_core::wire::{
    EtherType, EthernetFrame, Frame, FrameType, MgmtSubtype, ReasonCode, StatusCode,
};
use vwifi_core::{Instant, MacAddr};

const OPEN: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x01]);
const LAB: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x02]);
const OFFICE: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x03]);
/// A host behind the APs' uplinks.
const PEER: MacAddr = MacAddr([0x02, 0, 0, 0, 0x09, 0x09]);

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap()
}

/// The demo configuration and its AP configurations, PSKs derived once per test binary
/// (PBKDF2 is slow in debug builds).
fn demo() -> &'static (SimConfig, Vec<ApConfig>) {
    static DEMO: OnceLock<(SimConfig, Vec<ApConfig>)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let cfg = SimConfig::demo();
        let aps = cfg.ap_configs().unwrap();
        (cfg, aps)
    })
}

/// The PSK of the demo AP `bssid`.
fn psk_of(bssid: MacAddr) -> Psk {
    match &demo().1.iter().find(|a| a.bssid == bssid).unwrap().security {
        ApSecurity::Wpa2Psk { psk } => psk.clone(),
        other => panic!("{bssid} is not WPA2: {other:?}"),
    }
}

/// A world with the demo APs, and what it takes to reach them.
struct Sim {
    world: World,
    aps: SimAps,
}

impl Sim {
    /// The demo networks on a world seeded with the demo's seed (or `VWIFI_SEED`).
    fn demo() -> Self {
        let (cfg, aps) = demo();
        let seed = seed_from_env(cfg.seed.unwrap());
        let mut world = World::with_config(seed, medium_config(&cfg.medium).unwrap()).unwrap();
        let aps =
            SimAps::install_configs(world.medium_mut(), &cfg.medium, aps.clone(), seed).unwrap();
        Self { world, aps }
    }

    /// Station `n` (MAC `02:00:00:00:00:nn`) at (`x`, `y`), tuned to channel 1.
    fn station(&mut self, n: u8, x: f64, y: f64) -> NodeId {
        let sta = ScriptedStation::new(MacAddr([0x02, 0, 0, 0, 0, n]), ch(1), u64::from(n));
        sta.add_to(
            self.world.medium_mut(),
            self.aps.placement(Position::new(x, y)),
        )
        .unwrap()
    }

    fn sta(&self, id: NodeId) -> &ScriptedStation {
        self.world.node(id)
    }

    /// Runs `f` on station `id` at the current time.
    fn with_sta<T>(&mut self, id: NodeId, f: impl FnOnce(&mut ScriptedStation, Instant) -> T) -> T {
        let now = self.world.now();
        f(self.world.node_mut(id), now)
    }

    fn ap(&self, bssid: MacAddr) -> &SoftAp {
        self.aps.ap(self.world.medium(), bssid).unwrap()
    }

    fn scan(&mut self, id: NodeId, channels: &[u8], dwell_ms: u64, active: bool) {
        let channels: Vec<Channel> = channels.iter().map(|&c| ch(c)).collect();
        let done = self.sta(id).scans_done() + 1;
        self.with_sta(id, |s, now| {
            s.scan(now, &channels, Duration::from_millis(dwell_ms), active)
        });
        self.world
            .drive(|w| w.node::<ScriptedStation>(id).scans_done() == done);
    }

    /// Joins `bssid` (heard by an active scan of its channel first); returns the outcome. A
    /// join is complete when the AP has authorized the station too (the station's last
    /// handshake message may still be on its way when the station holds its keys).
    fn join(&mut self, id: NodeId, bssid: MacAddr, psk: Option<Psk>) -> Outcome {
        let channel = demo().1.iter().find(|a| a.bssid == bssid).unwrap().channel;
        self.scan(id, &[channel.number()], 30, true);
        let bss = self.sta(id).bss(bssid).cloned().expect("the BSS was heard");
        let before = self.sta(id).outcomes().len();
        self.with_sta(id, |s, now| s.join(now, &bss, psk));
        self.world
            .drive(|w| w.node::<ScriptedStation>(id).outcomes().len() > before);
        let outcome = self.sta(id).last_outcome().cloned().unwrap();
        if matches!(outcome, Outcome::Joined { .. }) {
            let me = self.sta(id).addr();
            let aps = &self.aps;
            self.world.drive(|w| {
                aps.ap(w.medium(), bssid)
                    .and_then(|ap| ap.station(me))
                    .is_some_and(|s| s.state == StationState::Authorized)
            });
        }
        outcome
    }

    /// Runs the air for `ms` milliseconds.
    fn run_ms(&mut self, ms: u64) {
        self.world.run_for(Duration::from_millis(ms));
    }

    fn uplink(&mut self) -> Vec<(MacAddr, EthernetFrame)> {
        std::iter::from_fn(|| self.aps.poll_uplink(self.world.medium_mut())).collect()
    }

    fn events(&mut self) -> Vec<(MacAddr, ApEvent)> {
        std::iter::from_fn(|| self.aps.poll_event(self.world.medium_mut())).collect()
    }

    /// `frame` arrives on the uplink of `bssid` now.
    fn send_down(&mut self, bssid: MacAddr, frame: EthernetFrame) {
        let now = self.world.now();
        self.aps
            .handle_uplink(self.world.medium_mut(), bssid, now, frame)
            .unwrap();
    }
}

fn eth(dst: MacAddr, src: MacAddr, payload: &[u8]) -> EthernetFrame {
    EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn joined(bssid: MacAddr, aid: u16) -> Outcome {
    Outcome::Joined { bssid, aid }
}

// ---- scanning ----

#[test]
fn scan_finds_the_demo_aps_with_plausible_signal_stronger_when_closer() {
    let mut sim = Sim::demo();
    // 5 m from the open AP (0, 0); 7.2 m from the office AP (20, 10).
    let west = sim.station(1, -4.0, -3.0);
    let east = sim.station(2, 16.0, 4.0);
    for id in [west, east] {
        sim.scan(id, &[1, 6, 11], 40, true);
    }
    for id in [west, east] {
        let s = sim.sta(id);
        let found: Vec<(MacAddr, String, u8, bool)> = s
            .bss_list()
            .map(|b| {
                (
                    b.bssid,
                    b.ssid.to_string(),
                    b.channel.number(),
                    b.rsne.is_some(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (OPEN, "vwifi-open".to_owned(), 1, false),
                (LAB, "vwifi-lab".to_owned(), 1, true),
                (OFFICE, "vwifi-office".to_owned(), 6, true),
            ]
        );
        for b in s.bss_list() {
            assert!(b.probe_responses >= 1, "{b:?}");
            assert!((-80..=-40).contains(&b.signal_dbm), "{b:?}");
        }
    }
    let signal = |id, bssid| sim.sta(id).bss(bssid).unwrap().signal_dbm;
    assert!(signal(west, OPEN) > signal(east, OPEN));
    assert!(signal(east, OFFICE) > signal(west, OFFICE));
    // 20 dBm - (40 + 30 log10(d)): 5 m -> -41 dBm, 27.3 m -> -63.1 dBm.
    assert!((-42..=-40).contains(&signal(west, OPEN)));
    assert!((-64..=-62).contains(&signal(west, OFFICE)));
}

#[test]
fn passive_scan_finds_the_aps_from_their_beacons_alone() {
    let mut sim = Sim::demo();
    let id = sim.station(1, 10.0, 5.0);
    // A dwell of nearly three 102.4 ms beacon intervals on each channel: the two APs of
    // channel 1 share their TBTTs and may collide at one or two of them.
    sim.scan(id, &[1, 6], 250, false);
    let s = sim.sta(id);
    let bssids: Vec<MacAddr> = s.bss_list().map(|b| b.bssid).collect();
    assert_eq!(bssids, [OPEN, LAB, OFFICE]);
    assert!(s
        .bss_list()
        .all(|b| b.beacons >= 1 && b.probe_responses == 0));
    assert_eq!(sim.ap(OPEN).counters().probe_responses, 0);
}

// ---- joining ----

#[test]
fn open_join_passes_data_both_ways_through_the_uplink() {
    let mut sim = Sim::demo();
    let id = sim.station(1, 2.0, 0.0);
    assert_eq!(sim.join(id, OPEN, None), joined(OPEN, 1));
    let me = sim.sta(id).addr();
    assert!(sim.with_sta(id, |s, _| s.send_to(PEER, b"hello uplink")));
    sim.run_ms(10);
    let up = sim.uplink();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].0, OPEN);
    assert_eq!((up[0].1.src, up[0].1.dst), (me, PEER));
    assert_eq!(&up[0].1.payload[..], b"hello uplink");
    sim.send_down(OPEN, eth(me, PEER, b"hello station"));
    sim.run_ms(10);
    let got = sim.sta(id).received();
    assert_eq!(got.len(), 1);
    assert!(!got[0].protected && !got[0].group);
    assert_eq!(&got[0].frame.payload[..], b"hello station");
    assert_eq!(
        sim.events(),
        [
            (
                OPEN,
                ApEvent::Associated {
                    sta: me,
                    aid: 1,
                    reassociation: false
                }
            ),
            (OPEN, ApEvent::Authorized { sta: me })
        ]
    );
}

#[test]
fn wpa2_joins_key_the_link_and_data_round_trips_through_the_uplink() {
    let mut sim = Sim::demo();
    let lab = sim.station(1, 6.0, 2.0);
    let office = sim.station(2, 18.0, 9.0);
    assert_eq!(sim.join(lab, LAB, Some(psk_of(LAB))), joined(LAB, 1));
    assert_eq!(
        sim.join(office, OFFICE, Some(psk_of(OFFICE))),
        joined(OFFICE, 1)
    );
    for (id, bssid) in [(lab, LAB), (office, OFFICE)] {
        let me = sim.sta(id).addr();
        assert!(sim.sta(id).has_pairwise_key());
        assert_eq!(sim.sta(id).group_key_ids(), [1]);
        assert!(sim.with_sta(id, |s, _| s.send_to(PEER, b"over ccmp")));
        sim.run_ms(10);
        let up = sim.uplink();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].0, bssid);
        assert_eq!((up[0].1.src, &up[0].1.payload[..]), (me, &b"over ccmp"[..]));
        sim.send_down(bssid, eth(me, PEER, b"reply"));
        sim.send_down(bssid, eth(MacAddr::BROADCAST, PEER, b"to all"));
        sim.run_ms(10);
        let got = sim.with_sta(id, |s, _| s.take_received());
        let summary: Vec<(&[u8], bool, bool)> = got
            .iter()
            .map(|d| (&d.frame.payload[..], d.protected, d.group))
            .collect();
        assert_eq!(
            summary,
            [(&b"reply"[..], true, false), (&b"to all"[..], true, true)]
        );
        assert_eq!(sim.sta(id).counters().undecryptable, 0);
    }
    let events = sim.events();
    for (id, bssid) in [(lab, LAB), (office, OFFICE)] {
        let sta = sim.sta(id).addr();
        assert!(events.contains(&(bssid, ApEvent::Authorized { sta })));
    }
}

#[test]
fn wrong_passphrase_is_refused_with_reason_14() {
    let mut sim = Sim::demo();
    let id = sim.station(1, 4.0, 2.0);
    let wrong = derive_psk(
        &Passphrase::new("not the lab passphrase").unwrap(),
        b"vwifi-lab",
    )
    .unwrap();
    let outcome = sim.join(id, LAB, Some(wrong));
    assert_eq!(
        outcome,
        Outcome::Deauthenticated {
            bssid: LAB,
            reason: ReasonCode::MicFailure,
            stage: Some(JoinStage::Handshake),
        }
    );
    assert!(!sim.sta(id).is_connected() && !sim.sta(id).has_pairwise_key());
    let sta = sim.sta(id).addr();
    let events = sim.events();
    assert!(events.contains(&(
        LAB,
        ApEvent::HandshakeFailed {
            sta,
            error: HandshakeError::MicMismatch {
                message: Message::Msg2
            },
            wrong_passphrase: true,
        }
    )));
    assert!(events.contains(&(
        LAB,
        ApEvent::Left {
            sta,
            reason: LeaveReason::Removed(ReasonCode::MicFailure)
        }
    )));
    assert!(sim.ap(LAB).station(sta).is_none());
}

#[test]
fn joining_a_wpa2_network_without_credentials_is_refused_with_a_status() {
    let mut sim = Sim::demo();
    let id = sim.station(1, 4.0, 2.0);
    assert_eq!(
        sim.join(id, LAB, None),
        Outcome::Refused {
            bssid: LAB,
            stage: JoinStage::Association,
            status: StatusCode::from(40),
        }
    );
}

// ---- range ----

#[test]
fn far_station_loses_frames_to_retries_but_gets_through() {
    let mut sim = Sim::demo();
    // 55 m west of the open AP: -72.2 dBm, an SNR of 22.8 dB, on the 54 Mbit/s waterfall
    // (about one 1 kB frame in seven lost per attempt; eight attempts make a loss for good
    // unlikely).
    let id = sim.station(1, -55.0, 0.0);
    assert_eq!(sim.join(id, OPEN, None), joined(OPEN, 1));
    let signal = sim.sta(id).bss(OPEN).unwrap().signal_dbm;
    assert!((-74..=-71).contains(&signal), "{signal}");
    let payload = [0x5a; 1000];
    for i in 0..60u8 {
        let mut p = payload;
        p[0] = i;
        assert!(sim.with_sta(id, |s, _| s.send_to(PEER, &p)));
    }
    sim.run_ms(500);
    let mut firsts: Vec<u8> = sim.uplink().iter().map(|(_, f)| f.payload[0]).collect();
    firsts.dedup();
    assert_eq!(firsts, (0..60).collect::<Vec<u8>>());
    let stats = sim.world.medium().stats().clone();
    assert!(stats.retries > 0, "{stats:?}");
    assert!(stats.lost.snr > 0, "{stats:?}");
    assert!(sim.sta(id).counters().tx_retries > 0);
    assert_eq!(sim.sta(id).counters().tx_not_acked, 0);
}

#[test]
fn out_of_range_station_hears_nothing_and_cannot_join() {
    let mut sim = Sim::demo();
    let near = sim.station(1, 1.0, 0.0);
    let far = sim.station(2, 1000.0, 0.0);
    sim.scan(near, &[1], 30, true);
    let known = sim.sta(near).bss(OPEN).cloned().unwrap();
    let answered = |sim: &Sim| -> u64 {
        [OPEN, LAB, OFFICE]
            .iter()
            .map(|b| sim.ap(*b).counters().probe_responses)
            .sum()
    };
    let before = answered(&sim);
    sim.scan(far, &[1, 6, 11], 150, true);
    assert_eq!(sim.sta(far).bss_list().count(), 0);
    assert!(sim.world.medium().stats().lost.below_sensitivity > 0);
    // No AP heard its probe requests either.
    assert_eq!(answered(&sim), before);
    sim.with_sta(far, |s, now| s.join(now, &known, None));
    sim.world
        .drive(|w| w.node::<ScriptedStation>(far).last_outcome().is_some());
    assert_eq!(
        sim.sta(far).outcomes(),
        [Outcome::TimedOut {
            bssid: OPEN,
            stage: JoinStage::Authentication
        }]
    );
    assert_eq!(sim.sta(far).counters().tx_not_acked, 1);
}

// ---- power save ----

#[test]
fn sleeping_station_frames_are_buffered_announced_and_delivered_by_ps_poll_and_on_wake() {
    let mut sim = Sim::demo();
    let id = sim.station(1, 5.0, 3.0);
    assert_eq!(sim.join(id, LAB, Some(psk_of(LAB))), joined(LAB, 1));
    let me = sim.sta(id).addr();
    sim.with_sta(id, |s, _| s.doze());
    sim.run_ms(5);
    assert!(sim.ap(LAB).station(me).unwrap().power_save);
    for p in [&b"one"[..], b"two", b"three"] {
        sim.send_down(LAB, eth(me, PEER, p));
    }
    sim.run_ms(5);
    assert_eq!(sim.ap(LAB).station(me).unwrap().buffered, 3);
    assert!(sim.sta(id).received().is_empty());
    // The next beacon's TIM carries the station's AID.
    sim.world
        .drive(|w| w.node::<ScriptedStation>(id).tim_announcements() > 0);
    assert!(sim
        .sta(id)
        .bss(LAB)
        .unwrap()
        .tim
        .as_ref()
        .unwrap()
        .has_aid(1));
    // One frame per PS-Poll, More Data set while more remain.
    for expected in [1, 2] {
        assert!(sim.with_sta(id, |s, _| s.ps_poll()));
        sim.run_ms(5);
        assert_eq!(sim.sta(id).received().len(), expected);
    }
    let got: Vec<(&[u8], bool)> = sim
        .sta(id)
        .received()
        .iter()
        .map(|d| (&d.frame.payload[..], d.more_data))
        .collect();
    assert_eq!(got, [(&b"one"[..], true), (&b"two"[..], true)]);
    // Waking up flushes the rest.
    sim.with_sta(id, |s, _| s.wake());
    sim.run_ms(5);
    let got: Vec<&[u8]> = sim
        .sta(id)
        .received()
        .iter()
        .map(|d| &d.frame.payload[..])
        .collect();
    assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    assert_eq!(sim.ap(LAB).station(me).unwrap().buffered, 0);
    assert!(sim.sta(id).received().iter().all(|d| d.protected));
    // Once awake, the TIM no longer names it.
    sim.run_ms(210);
    assert!(!sim
        .sta(id)
        .bss(LAB)
        .unwrap()
        .tim
        .as_ref()
        .unwrap()
        .has_aid(1));
    // A PS-Poll with nothing buffered is answered by a Null frame.
    sim.with_sta(id, |s, _| s.ps_poll());
    sim.run_ms(5);
    assert_eq!(sim.sta(id).counters().nulls, 1);
}

// ---- two stations ----

#[test]
fn two_stations_of_one_ap_talk_through_it_each_decrypting_only_its_own_unicast() {
    let mut sim = Sim::demo();
    let a = sim.station(1, 4.0, 3.0);
    let b = sim.station(2, 6.0, -3.0);
    assert_eq!(sim.join(a, LAB, Some(psk_of(LAB))), joined(LAB, 1));
    assert_eq!(sim.join(b, LAB, Some(psk_of(LAB))), joined(LAB, 2));
    let (addr_a, addr_b) = (sim.sta(a).addr(), sim.sta(b).addr());
    assert!(sim.with_sta(a, |s, _| s.send_to(addr_b, b"a to b")));
    sim.run_ms(10);
    assert!(sim.with_sta(b, |s, _| s.send_to(addr_a, b"b to a")));
    sim.run_ms(10);
    for (id, from, text) in [(a, addr_b, &b"b to a"[..]), (b, addr_a, b"a to b")] {
        let got = sim.sta(id).received();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].frame.src, &got[0].frame.payload[..]), (from, text));
        assert!(got[0].protected && !got[0].group);
    }
    // Bridged inside the BSS, not sent up.
    assert!(sim.uplink().is_empty());
    // Each overheard the AP's frame to the other, and only the addressee's key opens it.
    for (listener, addressee) in [(a, b), (b, a)] {
        let overheard = sim.sta(listener).overheard();
        assert_eq!(overheard.len(), 1);
        assert!(!sim.sta(listener).can_decrypt(&overheard[0]));
        assert!(sim.sta(addressee).can_decrypt(&overheard[0]));
    }
}

// ---- capture ----

/// The capture of a WPA2 join to the lab network: beacons while listening on channel 1 for
/// 250 ms, then authentication, association and the 4-way handshake.
fn join_capture() -> Vec<u8> {
    let mut sim = Sim::demo();
    let id = sim.station(1, 3.0, 0.0);
    sim.scan(id, &[1], 250, false);
    let bss = sim.sta(id).bss(LAB).cloned().unwrap();
    sim.with_sta(id, |s, now| s.join(now, &bss, Some(psk_of(LAB))));
    sim.world
        .drive(|w| w.node::<ScriptedStation>(id).is_connected());
    sim.run_ms(5);
    sim.world.pcap_bytes().to_vec()
}

#[test]
fn join_capture_holds_beacons_association_and_four_eapol_key_frames() {
    let pcap = join_capture();
    let file = PcapFile::parse(&pcap).unwrap();
    let (mut beacons, mut assoc_req, mut assoc_resp, mut eapol) = (0, 0, 0, 0);
    for record in &file.records {
        let (radiotap, frame) = record.radiotap().unwrap();
        assert!(radiotap.frequency_mhz.is_some());
        match Frame::parse(frame).unwrap() {
            Frame::Management(m) => match m.header.frame_control.frame_type {
                FrameType::Management(MgmtSubtype::Beacon) => beacons += 1,
                FrameType::Management(MgmtSubtype::AssocRequest) => assoc_req += 1,
                FrameType::Management(MgmtSubtype::AssocResponse) => assoc_resp += 1,
                _ => {}
            },
            Frame::Data(d) if !d.header.flags().protected() && !d.is_null() => {
                let e = EthernetFrame::from_data(&d).unwrap();
                if e.ethertype == EtherType::Eapol {
                    eapol += 1;
                }
            }
            _ => {}
        }
    }
    assert!(beacons >= 2, "{beacons} beacons");
    assert_eq!((assoc_req, assoc_resp, eapol), (1, 1, 4));
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn join_capture_decodes_in_tshark() {
    let pcap = join_capture();
    let path = std::env::temp_dir().join(format!("vwifi-sim-join-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "wlan.fc.type_subtype",
            "-e",
            "wlan_rsna_eapol.keydes.msgnr",
            "-e",
            "wlan_rsna_eapol.keydes.key_info",
        ])
        .output()
        .expect("tshark runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // type/subtype, EAPOL-Key message number, key information.
    let rows: Vec<(u32, Option<u32>, Option<u32>)> = text
        .lines()
        .map(|line| {
            let mut fields = line.split('\t');
            let hex = |s: &str| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok();
            let subtype = fields.next().and_then(hex).expect("a type/subtype");
            let msgnr = fields.next().and_then(|s| s.trim().parse().ok());
            (subtype, msgnr, fields.next().and_then(hex))
        })
        .collect();
    let count = |st: u32| rows.iter().filter(|(s, _, _)| *s == st).count();
    assert!(count(0x08) >= 2, "beacons:\n{text}");
    assert_eq!(count(0x00), 1, "association requests:\n{text}");
    assert_eq!(count(0x01), 1, "association responses:\n{text}");
    let eapol: Vec<(u32, u32)> = rows
        .iter()
        .filter_map(|(_, m, k)| Some(((*m)?, (*k)?)))
        .collect();
    // Messages 1 to 4 of the 4-way handshake (key descriptor version 2): 1 Pairwise|Ack;
    // 2 Pairwise|MIC; 3 Pairwise|Install|Ack|MIC|Secure|Encrypted; 4 Pairwise|MIC|Secure.
    assert_eq!(
        eapol,
        [(1, 0x008a), (2, 0x010a), (3, 0x13ca), (4, 0x030a)],
        "\n{text}"
    );
}
