//! Behaviour of the medium with scripted nodes in a test [`World`].

use core::time::Duration;
use std::collections::BTreeSet;

use bytes::Bytes;

use super::*;
use crate::radio::TxStatus;
use crate::sim::pcap::{PcapFile, Radiotap};
use crate::sim::AirNode;
use crate::testing::frames::{self, mac};
use crate::testing::{Bound, ScriptedNode, World};
use crate::wire::{ControlFrame, FcFlags, Frame, FrameView};

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
}

fn world_with(seed: u64, tweak: impl FnOnce(&mut MediumConfig)) -> World {
    let mut config = MediumConfig::default();
    tweak(&mut config);
    World::with_config(seed, config).unwrap_or_else(|e| panic!("{e}"))
}

/// A scripted station with address `mac(n)` on `channel` at (`x`, 0).
fn station(world: &mut World, n: u8, channel: Channel, x: f64) -> NodeId {
    let id = world.add_node(ScriptedNode::new(channel), Placement::at(x, 0.0));
    world
        .medium_mut()
        .set_addresses(id, vec![mac(n)])
        .unwrap_or_else(|e| panic!("{e}"));
    id
}

fn node(world: &World, id: NodeId) -> &ScriptedNode {
    world.node::<ScriptedNode>(id)
}

fn send_all(world: &mut World, id: NodeId, frames: impl IntoIterator<Item = Bytes>) {
    let node = world.node_mut::<ScriptedNode>(id);
    for f in frames {
        node.send(f);
    }
}

fn run_idle(world: &mut World) {
    let r = world.drive_bounded(Bound::time(Duration::from_secs(600)), |_| false);
    assert!(
        matches!(r, Err(crate::testing::DriveError::Idle { .. })),
        "{r:?}"
    );
}

fn retry_bit(frame: &[u8]) -> bool {
    frame.get(1).is_some_and(|b| b & FcFlags::RETRY != 0)
}

fn seq(frame: &[u8]) -> u16 {
    FrameView::new_checked(frame)
        .ok()
        .and_then(|v| v.sequence())
        .map_or(u16::MAX, |s| s.sequence)
}

#[test]
fn signal_follows_the_log_distance_model() {
    let mut world = World::new(1);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 10.0);
    let c = station(&mut world, 3, ch(1), 100.0);
    let m = world.medium();
    // 20 dBm - (40 dB + 30 dB per decade).
    assert_eq!(m.signal_dbm(a, b), Some(-50.0));
    assert_eq!(m.signal_dbm(a, c), Some(-80.0));
    assert_eq!(m.signal_dbm(c, a), Some(-80.0));
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::beacon(mac(1), "net", 1, 0));
    run_idle(&mut world);
    let rb = &node(&world, b).received()[0];
    assert_eq!(rb.meta.signal_dbm, -50);
    assert_eq!(rb.meta.rate_kbps, 1000);
    assert_eq!(rb.meta.channel, ch(1));
    assert_eq!(node(&world, c).received()[0].meta.signal_dbm, -80);
    // 5 GHz loses 7 dB more at the reference distance.
    let mut world = World::new(1);
    let a = station(&mut world, 1, ch(36), 0.0);
    let b = station(&mut world, 2, ch(36), 10.0);
    world
        .medium_mut()
        .set_tx_power(a, 15.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.medium().signal_dbm(a, b), Some(15.0 - 47.0 - 30.0));
}

#[test]
fn far_node_loses_frames_and_out_of_range_node_hears_nothing() {
    // Group frames at 54 Mbit/s on channel 36: half of 1000-byte frames are lost at 21 dB SNR,
    // -74 dBm, that is 94 dB of path loss: 10^((94 - 47) / 30) = 36.8 m.
    let mut world = world_with(3, |c| c.band_5_ghz.group_rate = PhyRate::Ofdm54);
    let a = station(&mut world, 1, ch(36), 0.0);
    let near = station(&mut world, 2, ch(36), 5.0);
    let far = station(&mut world, 3, ch(36), 36.8);
    let out = station(&mut world, 4, ch(36), 500.0);
    let n = 200;
    send_all(
        &mut world,
        a,
        (0..n).map(|i| frames::data(MacAddr::BROADCAST, mac(1), i, 1000 - 24)),
    );
    run_idle(&mut world);
    let (got_near, got_far, got_out) = (
        node(&world, near).received().len(),
        node(&world, far).received().len(),
        node(&world, out).received().len(),
    );
    assert_eq!(got_near, usize::from(n));
    assert!(
        (40..160).contains(&got_far),
        "far node got {got_far} of {n}"
    );
    assert_eq!(got_out, 0);
    let s = world.medium().stats();
    assert_eq!(s.lost.below_sensitivity, u64::from(n));
    assert_eq!(s.lost.snr, u64::from(n) - got_far as u64);
    assert_eq!(s.delivered, (got_near + got_far) as u64);
    assert_eq!(s.group, u64::from(n));
    // Every group frame is reported as sent, once, in order (200 frames through a 64-frame
    // queue: the rest waited in the node).
    let sent = node(&world, a).sent();
    assert_eq!(sent.len(), usize::from(n));
    assert!(sent.iter().all(|s| s.status == TxStatus::Sent));
    assert!(sent
        .iter()
        .enumerate()
        .all(|(i, s)| seq(&s.frame) == i as u16));
    // The far node's frames are weaker than the near node's.
    assert!(node(&world, far).received()[0].meta.signal_dbm < -70);
}

#[test]
fn extra_loss_drops_frames_even_at_close_range() {
    let mut world = world_with(4, |c| c.extra_loss = 0.3);
    let a = station(&mut world, 1, ch(6), 0.0);
    let b = station(&mut world, 2, ch(6), 2.0);
    send_all(
        &mut world,
        a,
        (0..300).map(|i| frames::data(MacAddr::BROADCAST, mac(1), i, 50)),
    );
    run_idle(&mut world);
    let got = node(&world, b).received().len() as u64;
    assert!((150..270).contains(&got), "received {got} of 300");
    assert_eq!(world.medium().stats().lost.injected, 300 - got);
    assert_eq!(world.medium().stats().lost.snr, 0);
}

#[test]
fn nodes_hear_only_the_channel_they_are_tuned_to() {
    let mut world = World::new(5);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    let c = station(&mut world, 3, ch(6), 1.0);
    let d = station(&mut world, 4, ch(36), 1.0);
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::beacon(mac(1), "one", 1, 0));
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 1);
    assert!(node(&world, c).received().is_empty());
    assert!(node(&world, d).received().is_empty());
    // C tunes to channel 1 and hears the next beacon; B moves away to 11 and does not.
    world.node_mut::<ScriptedNode>(c).tune(ch(1));
    world.node_mut::<ScriptedNode>(b).tune(ch(11));
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::beacon(mac(1), "one", 1, 1));
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 1);
    assert_eq!(node(&world, c).received().len(), 1);
    assert_eq!(world.medium().channel_of(c), Some(ch(1)));
    assert!(world.medium().stats().airtime(ch(1)) > Duration::ZERO);
    assert_eq!(world.medium().stats().airtime(ch(6)), Duration::ZERO);
}

#[test]
fn a_node_that_leaves_during_a_frame_misses_it() {
    let mut world = World::new(6);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    let c = station(&mut world, 3, ch(1), 1.0);
    // 1500 bytes at 1 Mbit/s: about 12 ms on the air, starting just after 1 ms.
    world.node_mut::<ScriptedNode>(a).send_at(
        Instant::from_millis(1),
        frames::data(MacAddr::BROADCAST, mac(1), 0, 1476),
    );
    let bn = world.node_mut::<ScriptedNode>(b);
    bn.tune_at(Instant::from_millis(5), ch(6));
    bn.tune_at(Instant::from_millis(6), ch(1));
    run_idle(&mut world);
    assert!(node(&world, b).received().is_empty());
    assert_eq!(node(&world, c).received().len(), 1);
    assert_eq!(world.medium().stats().lost.wrong_channel, 1);
}

#[test]
fn unicast_is_acknowledged_with_exact_airtime() {
    let mut world = World::new(7);
    let a = station(&mut world, 1, ch(36), 0.0);
    let b = station(&mut world, 2, ch(36), 5.0);
    let frame = frames::data(mac(2), mac(1), 1, 100);
    world.node_mut::<ScriptedNode>(a).send(frame.clone());
    run_idle(&mut world);

    let sent = node(&world, a).sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, TxStatus::Acked { retries: 0 });
    assert_eq!(sent[0].frame, frame);
    let got = node(&world, b).received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].frame, frame);
    assert_eq!(got[0].meta.rate_kbps, 54_000);

    // 124 + 4 bytes at 54 Mbit/s: 16 + 1024 + 6 bits = 5 symbols: 40 µs. Ack at 24 Mbit/s: 28 µs.
    let pcap = world.pcap_bytes();
    let file = PcapFile::parse(pcap).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.records.len(), 2);
    let start = file.records[0].at;
    let difs = 16 + 2 * 9;
    let backoff = start.as_micros() - difs;
    assert!(backoff % 9 == 0 && backoff <= 15 * 9, "start {start:?}");
    assert_eq!(got[0].at, start + Duration::from_micros(40));
    assert_eq!(file.records[1].at, start + Duration::from_micros(40 + 16));
    assert_eq!(sent[0].at, start + Duration::from_micros(40 + 16 + 28));
    let (rt, ack) = file.records[1].radiotap().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rt.rate_500kbps, Some(48));
    assert!(matches!(
        ControlFrame::parse(ack),
        Ok(ControlFrame::Ack { ra, .. }) if ra == mac(1)
    ));
    let s = world.medium().stats();
    assert_eq!(s.airtime(ch(36)), Duration::from_micros(84));
    assert_eq!(
        (s.transmissions, s.acked, s.acks_sent, s.retries),
        (1, 1, 1, 0)
    );
}

#[test]
fn unicast_to_nobody_is_retried_to_the_limit_with_the_retry_bit() {
    let mut world = World::new(8);
    let a = station(&mut world, 1, ch(1), 0.0);
    let bystander = station(&mut world, 2, ch(1), 3.0);
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::data(mac(9), mac(1), 42, 10));
    run_idle(&mut world);
    assert_eq!(node(&world, a).sent().len(), 1);
    assert_eq!(node(&world, a).sent()[0].status, TxStatus::NotAcked);
    let s = world.medium().stats();
    assert_eq!(
        (s.transmissions, s.retries, s.not_acked, s.acks_sent),
        (7, 6, 1, 0)
    );
    let heard = node(&world, bystander).received();
    assert_eq!(heard.len(), 7);
    assert!(!retry_bit(&heard[0].frame));
    assert!(heard[1..]
        .iter()
        .all(|r| retry_bit(&r.frame) && seq(&r.frame) == 42));
    // The waits between attempts grow with the contention window: the gaps are no shorter
    // than the Ack timeout plus DIFS.
    let gaps: Vec<u128> = heard
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_micros())
        .collect();
    assert!(gaps.iter().all(|&g| g >= 44 + 28), "{gaps:?}");
}

#[test]
fn lossy_unicast_retries_and_reports_every_frame_in_order() {
    let mut world = world_with(9, |c| c.extra_loss = 0.4);
    let a = station(&mut world, 1, ch(11), 0.0);
    let b = station(&mut world, 2, ch(11), 4.0);
    let sent: Vec<Bytes> = (0..100)
        .map(|i| frames::data(mac(2), mac(1), i, 200))
        .collect();
    send_all(&mut world, a, sent.clone());
    run_idle(&mut world);

    let statuses = node(&world, a).sent();
    assert_eq!(statuses.len(), 100);
    assert!(statuses.iter().zip(&sent).all(|(s, f)| s.frame == *f));
    let acked: BTreeSet<u16> = statuses
        .iter()
        .filter(|s| matches!(s.status, TxStatus::Acked { .. }))
        .map(|s| seq(&s.frame))
        .collect();
    assert!(statuses
        .iter()
        .any(|s| matches!(s.status, TxStatus::Acked { retries } if retries > 0)));
    let received: Vec<u16> = node(&world, b)
        .received()
        .iter()
        .map(|r| seq(&r.frame))
        .collect();
    let unique: BTreeSet<u16> = received.iter().copied().collect();
    // Every acknowledged frame got there; lost Acks made duplicates, with the Retry bit.
    assert!(acked.is_subset(&unique));
    assert!(received.len() > unique.len());
    assert!(node(&world, b)
        .received()
        .iter()
        .any(|r| retry_bit(&r.frame)));
    let s = world.medium().stats();
    assert_eq!(s.acked + s.not_acked, 100);
    assert_eq!(s.acked, acked.len() as u64);
    assert!(s.retries > 0 && s.acks_lost > 0);
    assert_eq!(s.transmissions, 100 + s.retries);
    assert_eq!(s.queued, 100);
}

/// The airtime of a captured record, from its radiotap rate and channel.
fn record_airtime(rt: &Radiotap, frame_len: usize) -> Duration {
    let rate = rt
        .rate_500kbps
        .and_then(|r| PhyRate::from_kbps(u32::from(r) * 500))
        .unwrap_or_else(|| panic!("no rate in {rt:?}"));
    let band = rt
        .frequency_mhz
        .and_then(Channel::from_frequency_mhz)
        .map_or(Band::Ghz2_4, |c| c.band());
    rate.airtime(frame_len + FCS_LEN, band)
}

#[test]
fn frames_on_one_channel_never_overlap_unless_they_collide() {
    let mut world = World::new(10);
    let sink = station(&mut world, 9, ch(1), 0.0);
    let senders: Vec<NodeId> = (1..=3)
        .map(|n| station(&mut world, n, ch(1), f64::from(n)))
        .collect();
    for (i, &s) in senders.iter().enumerate() {
        let ta = mac(i as u8 + 1);
        send_all(
            &mut world,
            s,
            (0..20).map(|q| frames::data(mac(9), ta, q, 300)),
        );
    }
    run_idle(&mut world);
    let file = PcapFile::parse(world.pcap_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut busy_until = Instant::ZERO;
    let mut last_start = Instant::ZERO;
    let mut same_slot = 0;
    for rec in &file.records {
        let (rt, frame) = rec.radiotap().unwrap_or_else(|e| panic!("{e}"));
        if rec.at == last_start && rec.at < busy_until {
            same_slot += 1;
        } else {
            assert!(
                rec.at >= busy_until,
                "{:?} starts before {busy_until:?}",
                rec.at
            );
        }
        last_start = rec.at;
        busy_until = busy_until.max(rec.at + record_airtime(&rt, frame.len()));
    }
    let s = world.medium().stats();
    assert_eq!(same_slot > 0, s.collisions > 0);
    assert_eq!(node(&world, sink).received().len() as u64, s.delivered / 3);
    assert!(senders
        .iter()
        .all(|&id| node(&world, id).sent().len() == 20));
}

/// How long `pairs` senders, each with 40 frames to its own receiver, take to finish when pair
/// `i` uses `channels[i]`.
fn finish_time(channels: &[Channel]) -> (Instant, World) {
    let mut world = World::new(11);
    for (i, &c) in channels.iter().enumerate() {
        let n = 2 * i as u8 + 1;
        let tx = station(&mut world, n, c, 0.0);
        station(&mut world, n + 1, c, 2.0);
        send_all(
            &mut world,
            tx,
            (0..40).map(|q| frames::data(mac(n + 1), mac(n), q, 1000)),
        );
    }
    let senders: Vec<NodeId> = (0..channels.len()).map(|i| NodeId(2 * i as u32)).collect();
    let at = world.drive(|w| senders.iter().all(|&s| node(w, s).sent().len() == 40));
    (at, world)
}

#[test]
fn two_channels_carry_frames_in_parallel_one_channel_in_turn() {
    let (shared, world) = finish_time(&[ch(1), ch(1)]);
    let (parallel, world2) = finish_time(&[ch(1), ch(6)]);
    let (single, _) = finish_time(&[ch(1)]);
    assert!(
        parallel.as_micros() < single.as_micros() * 12 / 10,
        "parallel {parallel:?} vs single {single:?}"
    );
    assert!(
        shared.as_micros() > single.as_micros() * 17 / 10,
        "shared {shared:?} vs single {single:?}"
    );
    // Airtime is accounted per channel.
    let one = world2.medium().stats().airtime(ch(1));
    let six = world2.medium().stats().airtime(ch(6));
    let both = world.medium().stats().airtime(ch(1));
    assert!(one > Duration::ZERO && six > Duration::ZERO);
    assert!(both >= one + six - Duration::from_millis(1));
    // 80 frames of 1028 bytes at 54 Mbit/s (160 µs + 6 µs extension) plus SIFS and a 24 Mbit/s
    // Ack (28 + 6 µs): at least 200 µs each.
    assert!(both >= Duration::from_micros(80 * 200));
}

#[test]
fn backoffs_ending_in_the_same_slot_collide() {
    let mut world = world_with(12, |c| {
        c.cw_min = 1;
        c.cw_max = 3;
    });
    let sink = station(&mut world, 9, ch(1), 0.0);
    let a = station(&mut world, 1, ch(1), 1.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    send_all(
        &mut world,
        a,
        (0..50).map(|q| frames::data(mac(9), mac(1), q, 100)),
    );
    send_all(
        &mut world,
        b,
        (0..50).map(|q| frames::data(mac(9), mac(2), q, 100)),
    );
    run_idle(&mut world);
    let s = world.medium().stats();
    assert!(s.collisions > 0);
    assert!(s.lost.collision > 0);
    assert!(s.retries > 0);
    assert_eq!(node(&world, a).sent().len(), 50);
    assert_eq!(node(&world, b).sent().len(), 50);
    assert!(!node(&world, sink).received().is_empty());
}

/// A busy scenario: contention, loss, retries, channel switches.
fn busy_world(seed: u64) -> World {
    let mut world = world_with(seed, |c| c.extra_loss = 0.2);
    let ap = station(&mut world, 100, ch(6), 0.0);
    for n in 1..=4u8 {
        let id = station(&mut world, n, ch(6), f64::from(n) * 7.0);
        send_all(
            &mut world,
            id,
            (0..25).map(|q| frames::data(mac(100), mac(n), q, 400)),
        );
    }
    let node = world.node_mut::<ScriptedNode>(ap);
    for i in 0..20u64 {
        node.send_at(
            Instant::from_micros(i * 102_400),
            frames::beacon(mac(100), "busy", 6, i * 102_400),
        );
    }
    node.tune_at(Instant::from_millis(500), ch(1));
    node.tune_at(Instant::from_millis(700), ch(6));
    run_idle(&mut world);
    world
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let one = busy_world(13);
    let two = busy_world(13);
    assert_eq!(one.pcap_bytes(), two.pcap_bytes());
    assert_eq!(one.medium().stats(), two.medium().stats());
    assert_eq!(one.now(), two.now());
    for id in one.medium().node_ids() {
        assert_eq!(node(&one, id).received(), node(&two, id).received());
        assert_eq!(node(&one, id).sent(), node(&two, id).sent());
    }
    let other = busy_world(14);
    assert_ne!(one.pcap_bytes(), other.pcap_bytes());
}

#[test]
fn the_capture_is_a_pcap_of_every_frame_and_ack() {
    let world = busy_world(15);
    let bytes = world.pcap_bytes();
    assert_eq!(bytes[..4], 0xa1b2_c3d4u32.to_le_bytes());
    let file = PcapFile::parse(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.linktype, 127);
    let s = world.medium().stats();
    assert_eq!(file.records.len() as u64, s.transmissions + s.acks_sent);
    let (mut acks, mut beacons, mut data) = (0, 0, 0);
    for rec in &file.records {
        assert_eq!(rec.orig_len as usize, rec.data.len());
        let (rt, frame) = rec.radiotap().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rt.flags, Some(0), "radiotap must say: no FCS");
        assert!(matches!(rt.frequency_mhz, Some(2437) | Some(2412)));
        match Frame::parse(frame) {
            Ok(Frame::Control(ControlFrame::Ack { .. })) => acks += 1,
            Ok(Frame::Management(_)) => beacons += 1,
            Ok(Frame::Data(_)) => data += 1,
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(acks, s.acks_sent);
    assert_eq!(beacons, 20);
    assert_eq!(data, s.transmissions - 20);
    // Timestamps never go backwards on one channel.
    assert!(file.records.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn take_capture_drains_and_keeps_capturing() {
    let mut world = World::new(16);
    let a = station(&mut world, 1, ch(1), 0.0);
    station(&mut world, 2, ch(1), 1.0);
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::data(mac(2), mac(1), 0, 10));
    run_idle(&mut world);
    let mut file = world.medium_mut().take_capture().unwrap_or_default();
    world
        .node_mut::<ScriptedNode>(a)
        .send(frames::data(mac(2), mac(1), 1, 10));
    run_idle(&mut world);
    file.extend(world.medium_mut().take_capture().unwrap_or_default());
    let parsed = PcapFile::parse(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.records.len(), 4);
}

#[test]
fn api_misuse_is_reported() {
    let mut world = World::new(17);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = world.add_node(ScriptedNode::new(ch(1)), Placement::default());
    let m = world.medium_mut();
    assert_eq!(
        m.set_addresses(b, vec![mac(1)]),
        Err(MediumError::AddressInUse {
            addr: mac(1),
            owner: a
        })
    );
    assert_eq!(m.set_addresses(a, vec![mac(3)]), Ok(()));
    assert_eq!(m.owner_of(mac(1)), None);
    assert_eq!(m.owner_of(mac(3)), Some(a));
    assert_eq!(
        m.set_position(NodeId(99), Position::new(0.0, 0.0)),
        Err(MediumError::UnknownNode(NodeId(99)))
    );
    assert!(m.set_position(a, Position::new(f64::NAN, 0.0)).is_err());
    // A node is given back as its own type only.
    assert!(m.node_as::<crate::sim::ap::SoftAp>(a).is_none());
    let bad = MediumConfig {
        extra_loss: -1.0,
        ..MediumConfig::default()
    };
    assert!(Medium::<AirNode>::new(bad, [0; 32]).is_err());
}

/// A node that always asks to be woken at time zero, counting its wake-ups.
struct Stubborn {
    wakes: std::sync::Arc<core::sync::atomic::AtomicU32>,
}

impl Node for Stubborn {
    fn channel(&self) -> Channel {
        ch(1)
    }
    fn handle_rx(&mut self, _: Instant, _: &Bytes, _: crate::radio::RxMeta) {}
    fn handle_tx_status(&mut self, _: Instant, _: &Bytes, _: TxStatus) {}
    fn handle_timeout(&mut self, _: Instant) {
        self.wakes
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    fn poll_transmit(&mut self) -> Option<Bytes> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
}

#[test]
fn a_node_asking_for_past_wakeups_cannot_stall_the_clock() {
    let mut world = World::new(18);
    let wakes = std::sync::Arc::default();
    let stubborn = Stubborn {
        wakes: std::sync::Arc::clone(&wakes),
    };
    world.add_node(AirNode::other(stubborn), Placement::default());
    world.run_until(Instant::from_micros(100));
    let wakes = wakes.load(core::sync::atomic::Ordering::Relaxed);
    assert!((99..=101).contains(&wakes), "{wakes} wakes");
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn tshark_decodes_the_capture() {
    let mut world = World::new(19);
    let ap = station(&mut world, 1, ch(6), 0.0);
    station(&mut world, 2, ch(6), 3.0);
    let node = world.node_mut::<ScriptedNode>(ap);
    node.send(frames::beacon(mac(1), "tshark", 6, 0));
    node.send(frames::data(mac(2), mac(1), 0, 64));
    run_idle(&mut world);
    let path = std::env::temp_dir().join(format!("vwifi-medium-{}.pcap", std::process::id()));
    world.write_pcap(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "wlan.fc.type_subtype",
            "-e",
            "radiotap.dbm_antsignal",
        ])
        .output()
        .unwrap_or_else(|e| panic!("tshark: {e}"));
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let subtypes: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(|f| match f.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).unwrap_or(u32::MAX),
            None => f.parse().unwrap_or(u32::MAX),
        })
        .collect();
    // Beacon (0x08), Data (0x20), Ack (0x1d).
    assert_eq!(subtypes, [0x08, 0x20, 0x1d], "{text}");
}

#[test]
fn zero_airtime_delivers_and_acknowledges_at_the_same_instant() {
    let mut world = world_with(7, |c| c.airtime = false);
    let a = station(&mut world, 1, ch(36), 0.0);
    let b = station(&mut world, 2, ch(36), 5.0);
    let at = Instant::from_millis(5);
    let frame = frames::data(mac(2), mac(1), 1, 1500);
    world.node_mut::<ScriptedNode>(a).send_at(at, frame.clone());
    run_idle(&mut world);

    let got = node(&world, b).received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].frame, frame);
    assert_eq!(got[0].at, at, "delivered the instant it was sent");
    let sent = node(&world, a).sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, TxStatus::Acked { retries: 0 });
    assert_eq!(sent[0].at, at, "acknowledged at the same instant");
    let s = world.medium().stats();
    assert_eq!(s.airtime(ch(36)), Duration::ZERO);
    // The capture still shows the frame and its Ack.
    let file = PcapFile::parse(world.pcap_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.records.len(), 2);
    assert!(file.records.iter().all(|r| r.at == at));
}

#[test]
fn zero_airtime_has_no_contention_and_no_loss() {
    // Two senders that would collide (CW 1) and a lossy, far receiver that would lose most
    // 54 Mbit/s frames with airtime: none of it applies on the zero-airtime medium.
    let mut world = world_with(12, |c| {
        c.airtime = false;
        c.cw_min = 1;
        c.cw_max = 3;
        c.band_2_4_ghz.group_rate = PhyRate::Ofdm54;
    });
    let sink = station(&mut world, 9, ch(1), 30.0);
    let a = station(&mut world, 1, ch(1), 1.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    let n = 200u16;
    for (id, me) in [(a, 1), (b, 2)] {
        send_all(
            &mut world,
            id,
            (0..n).map(|q| frames::data(mac(9), mac(me), q, 1400)),
        );
    }
    send_all(
        &mut world,
        a,
        (0..n).map(|q| frames::data(MacAddr::BROADCAST, mac(1), n + q, 1400)),
    );
    let start = world.now();
    run_idle(&mut world);
    let s = world.medium().stats();
    assert_eq!(
        (s.collisions, s.retries, s.lost.total()),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(node(&world, sink).received().len(), usize::from(3 * n));
    assert!(node(&world, sink).received().iter().all(|r| r.at == start));
    assert_eq!(node(&world, a).sent().len(), usize::from(2 * n));
    assert_eq!(node(&world, b).sent().len(), usize::from(n));
}

#[test]
fn zero_airtime_still_retries_to_an_absent_receiver_and_keeps_range() {
    let mut world = world_with(13, |c| c.airtime = false);
    let a = station(&mut world, 1, ch(6), 0.0);
    let out = station(&mut world, 4, ch(6), 5000.0);
    let limit = world.medium().config().retry_limit;
    send_all(&mut world, a, [frames::data(mac(7), mac(1), 0, 100)]);
    send_all(&mut world, a, [frames::data(mac(4), mac(1), 1, 100)]);
    run_idle(&mut world);
    let sent = node(&world, a).sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.status == TxStatus::NotAcked));
    assert!(node(&world, out).received().is_empty());
    let s = world.medium().stats();
    assert_eq!(s.transmissions, 2 * u64::from(limit));
    assert!(s.lost.below_sensitivity > 0);
}

#[test]
fn the_default_medium_still_takes_airtime() {
    assert!(MediumConfig::default().airtime);
    let mut world = World::new(7);
    let a = station(&mut world, 1, ch(36), 0.0);
    let b = station(&mut world, 2, ch(36), 5.0);
    let at = Instant::from_millis(5);
    world
        .node_mut::<ScriptedNode>(a)
        .send_at(at, frames::data(mac(2), mac(1), 1, 1500));
    run_idle(&mut world);
    let got = node(&world, b).received();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].at > at + Duration::from_micros(200),
        "{:?}",
        got[0].at
    );
}

#[test]
fn the_tap_gives_every_frame_and_ack_and_bounds_its_queue() {
    let mut world = World::new(30);
    world
        .medium_mut()
        .enable_tap(Some(Position::new(0.0, 0.0)), 3);
    let a = station(&mut world, 1, ch(1), 0.0);
    station(&mut world, 2, ch(6), 5.0);
    let b = station(&mut world, 3, ch(1), 10.0);
    send_all(&mut world, a, [frames::data(mac(3), mac(1), 0, 10)]);
    run_idle(&mut world);
    let tapped = world.medium_mut().take_tapped();
    assert_eq!(tapped.len(), 2, "the frame and its Ack");
    assert_eq!(tapped[0].info.channel, ch(1));
    assert_eq!(
        tapped[0].info.signal_dbm,
        Some(-20),
        "at the sender: 20 dBm - 40 dB"
    );
    assert_eq!(tapped[1].info.signal_dbm, Some(-50), "the Ack from 10 m");
    assert_eq!(world.medium().tap_overflow(), 0);
    send_all(
        &mut world,
        b,
        (0..3).map(|i| frames::data(mac(1), mac(3), i, 10)),
    );
    run_idle(&mut world);
    assert_eq!(
        world.medium_mut().take_tapped().len(),
        3,
        "the queue holds 3"
    );
    assert_eq!(world.medium().tap_overflow(), 3);
    world.medium_mut().disable_tap();
    assert!(!world.medium().is_tapping());
}

#[test]
fn a_lossy_link_loses_only_its_own_frames() {
    let mut world = World::new(31);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    let c = station(&mut world, 3, ch(1), 1.0);
    world.medium_mut().set_link_loss(b, a, 1.0).unwrap();
    assert_eq!(world.medium().link_loss(a, b), 1.0);
    assert_eq!(world.medium().link_losses().count(), 1);
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 0)]);
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 0, "the lossy link");
    assert_eq!(node(&world, c).received().len(), 1);
    world.medium_mut().set_link_loss(a, b, 0.0).unwrap();
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 1)]);
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 1, "cleared");
    assert!(world.medium_mut().set_link_loss(a, b, 1.5).is_err());
    assert!(world
        .medium_mut()
        .set_link_loss(a, NodeId(99), 0.5)
        .is_err());
}

#[test]
fn a_node_off_the_air_neither_hears_nor_is_heard() {
    let mut world = World::new(32);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 1.0);
    world.medium_mut().set_on_air(a, false).unwrap();
    assert!(!world.medium().is_on_air(a));
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 0)]);
    send_all(&mut world, b, [frames::beacon(mac(2), "net", 1, 0)]);
    run_idle(&mut world);
    assert_eq!(node(&world, a).received().len(), 0);
    assert_eq!(node(&world, b).received().len(), 0);
    world.medium_mut().set_on_air(a, true).unwrap();
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 1)]);
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 1, "back on the air");
    // Frames already queued when it goes off reach nobody.
    send_all(
        &mut world,
        a,
        (2..6).map(|i| frames::beacon(mac(1), "net", 1, i)),
    );
    world.medium_mut().step();
    world.medium_mut().set_on_air(a, false).unwrap();
    run_idle(&mut world);
    assert_eq!(node(&world, b).received().len(), 1, "nothing more heard");
}

#[test]
fn moving_a_node_changes_the_signal_of_its_next_frames() {
    let mut world = World::new(33);
    let a = station(&mut world, 1, ch(1), 0.0);
    let b = station(&mut world, 2, ch(1), 10.0);
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 0)]);
    run_idle(&mut world);
    world
        .medium_mut()
        .set_position(b, Position::new(100.0, 0.0))
        .unwrap();
    send_all(&mut world, a, [frames::beacon(mac(1), "net", 1, 1)]);
    run_idle(&mut world);
    let signals: Vec<i8> = node(&world, b)
        .received()
        .iter()
        .map(|r| r.meta.signal_dbm)
        .collect();
    assert_eq!(signals, [-50, -80]);
}
