//! HT/VHT/HE links on the medium: rates per link, rate control, wide channels.

use core::time::Duration;

use super::*;
use crate::phy::{GuardInterval, McsRate, PhyCaps, Standard, Width};
use crate::sim::pcap::PcapFile;
use crate::sim::TxStatus;
use crate::testing::frames::{self, mac};
use crate::testing::{Bound, ScriptedNode, World};

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
}

const AX_80_2X2: PhyCaps = PhyCaps {
    standard: Standard::He,
    width: Width::Mhz80,
    nss: 2,
};

fn station(world: &mut World, n: u8, channel: Channel, x: f64, caps: PhyCaps) -> NodeId {
    let id = world.add_node(ScriptedNode::new(channel), Placement::at(x, 0.0));
    let m = world.medium_mut();
    m.set_addresses(id, vec![mac(n)])
        .unwrap_or_else(|e| panic!("{e}"));
    m.set_phy_caps(id, caps).unwrap_or_else(|e| panic!("{e}"));
    id
}

fn send_data(world: &mut World, from: NodeId, ra: u8, ta: u8, count: u16) {
    let node = world.node_mut::<ScriptedNode>(from);
    for seq in 0..count {
        node.send(frames::data(mac(ra), mac(ta), seq, 1500));
    }
}

fn run_idle(world: &mut World) {
    let r = world.drive_bounded(Bound::time(Duration::from_secs(600)), |_| false);
    assert!(
        matches!(r, Err(crate::testing::DriveError::Idle { .. })),
        "{r:?}"
    );
}

#[test]
fn an_he_link_climbs_to_the_top_rate_near_the_ap() {
    let mut world = World::new(5);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, PhyCaps::STATION_DEFAULT);
    send_data(&mut world, a, 2, 1, 3000);
    run_idle(&mut world);
    let got = world.node::<ScriptedNode>(b).received();
    assert_eq!(got.len(), 3000);
    // In order, each once (Block Ack reordering).
    let seqs: Vec<u16> = got
        .iter()
        .filter_map(|r| {
            crate::wire::FrameView::new_checked(&r.frame[..])
                .ok()?
                .sequence()
        })
        .map(|s| s.sequence)
        .collect();
    assert_eq!(seqs, (0..3000).map(|s| s % 4096).collect::<Vec<u16>>());
    let top = McsRate::new(Standard::He, 11, 2, Width::Mhz80, GuardInterval::Normal800).unwrap();
    assert_eq!(world.medium().link_rate(a, b), Some(top));
    assert_eq!(got.last().map(|r| r.meta.rate_kbps), Some(top.kbps()));
    assert_eq!(world.medium().link_rate(b, a), None);
    // The same frames over a legacy link take far longer in simulated time.
    let he_done = world.now();
    let mut legacy = World::new(5);
    let a = station(&mut legacy, 1, ch(36), 0.0, PhyCaps::LEGACY);
    let _ = station(&mut legacy, 2, ch(36), 3.0, PhyCaps::LEGACY);
    send_data(&mut legacy, a, 2, 1, 3000);
    run_idle(&mut legacy);
    let ratio = legacy.now().as_micros() as f64 / he_done.as_micros() as f64;
    assert!(ratio > 8.0, "legacy {:?} vs HE {he_done:?}", legacy.now());
}

#[test]
fn a_legacy_peer_keeps_the_legacy_rate() {
    let mut world = World::new(5);
    let a = station(&mut world, 1, ch(36), 0.0, PhyCaps::STATION_DEFAULT);
    let b = station(&mut world, 2, ch(36), 3.0, PhyCaps::LEGACY);
    send_data(&mut world, a, 2, 1, 20);
    run_idle(&mut world);
    let got = world.node::<ScriptedNode>(b).received();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|r| r.meta.rate_kbps == 54_000));
    assert_eq!(world.medium().link_rate(a, b), None);
}

#[test]
fn rates_fall_with_distance() {
    let mut rates = Vec::new();
    for x in [3.0, 25.0, 60.0] {
        let mut world = World::new(9);
        let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
        let b = station(&mut world, 2, ch(36), x, AX_80_2X2);
        send_data(&mut world, a, 2, 1, 600);
        run_idle(&mut world);
        let rate = world.medium().link_rate(a, b).unwrap();
        rates.push(rate.kbps());
    }
    assert!(rates[0] > rates[1] && rates[1] > rates[2], "{rates:?}");
}

#[test]
fn a_wide_ppdu_occupies_its_secondary_channels() {
    // An 80 MHz BSS on primary 36 and a legacy pair on channel 40, one of its secondaries.
    let mut world = World::new(11);
    world.medium_mut().enable_capture(None);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let _b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    let c = station(&mut world, 3, ch(40), 0.0, PhyCaps::LEGACY);
    let d = station(&mut world, 4, ch(40), 3.0, PhyCaps::LEGACY);
    send_data(&mut world, a, 2, 1, 300);
    send_data(&mut world, c, 4, 3, 100);
    run_idle(&mut world);
    assert_eq!(world.node::<ScriptedNode>(d).received().len(), 100);
    let pcap = world.medium_mut().take_capture().unwrap();
    let file = PcapFile::parse(&pcap).unwrap();
    let mut wide = Vec::new();
    let mut narrow = Vec::new();
    for rec in &file.records {
        let (rt, frame) = rec.radiotap().unwrap();
        let len = frame.len() + FCS_LEN;
        if let Some(he) = rt.he {
            let word = |i: usize| u16::from_le_bytes([he[2 * i], he[2 * i + 1]]);
            let width =
                [Width::Mhz20, Width::Mhz40, Width::Mhz80, Width::Mhz160][usize::from(word(4) & 3)];
            let mcs = (word(2) >> 8) as u8;
            let nss = word(5) as u8;
            let r = McsRate::new(Standard::He, mcs, nss, width, GuardInterval::Normal800).unwrap();
            if width > Width::Mhz20 {
                wide.push((rec.at, rec.at + r.airtime(len, Band::Ghz5)));
            }
        } else if rt.frequency_mhz == Some(5200) {
            let rate = PhyRate::ALL
                .into_iter()
                .find(|r| Some(r.radiotap_units()) == rt.rate_500kbps)
                .unwrap();
            narrow.push((rec.at, rec.at + rate.airtime(len, Band::Ghz5)));
        }
    }
    // 300 frames of 1500 octets, up to 7 in each A-MSDU.
    assert!(wide.len() > 20, "{}", wide.len());
    assert!(narrow.len() >= 200);
    for (ws, we) in &wide {
        for (ns, ne) in &narrow {
            assert!(
                ne <= ws || ns >= we,
                "channel 40 sent during an 80 MHz PPDU: {ns:?}..{ne:?} in {ws:?}..{we:?}"
            );
        }
    }
    // The wide BSS's airtime counts on its secondaries too.
    let m = world.medium();
    assert!(m.stats().airtime(ch(44)) > Duration::ZERO);
    assert!(m.stats().airtime(ch(48)) > Duration::ZERO);
    let _ = c;
}

#[test]
fn a_lossy_ampdu_link_delivers_in_order_once_and_reports_every_frame() {
    let mut world = World::with_config(
        13,
        MediumConfig {
            extra_loss: 0.2,
            ..MediumConfig::default()
        },
    )
    .unwrap();
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    send_data(&mut world, a, 2, 1, 1000);
    run_idle(&mut world);
    let sent = world.node::<ScriptedNode>(a).sent();
    assert_eq!(sent.len(), 1000, "every frame gets its status");
    let acked: Vec<u16> = sent
        .iter()
        .filter(|s| matches!(s.status, TxStatus::Acked { .. }))
        .filter_map(|s| {
            crate::wire::FrameView::new_checked(&s.frame[..])
                .ok()?
                .sequence()
        })
        .map(|s| s.sequence)
        .collect();
    let got: Vec<u16> = world
        .node::<ScriptedNode>(b)
        .received()
        .iter()
        .filter_map(|r| {
            crate::wire::FrameView::new_checked(&r.frame[..])
                .ok()?
                .sequence()
        })
        .map(|s| s.sequence)
        .collect();
    // In order (held behind lost ones), and everything acknowledged arrived. A frame may
    // arrive twice only while frames still go one by one (an Ack lost before the Block Ack
    // agreement): A-MPDU retransmissions of what the receiver has are not handed over again.
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "out of order");
    let dups = got.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(dups < 5, "{dups} duplicates");
    for s in &acked {
        assert!(
            got.binary_search(s).is_ok(),
            "acked frame {s} never delivered"
        );
    }
    assert!(acked.len() > 900, "{}", acked.len());
    assert!(world.medium().stats().retries > 0);
}

/// The Block Ack actions (category 3) in a capture: (transmitter's last octet, action).
fn block_ack_actions(pcap: &[u8]) -> Vec<(u8, u8)> {
    let file = PcapFile::parse(pcap).unwrap();
    file.records
        .iter()
        .filter_map(|r| {
            let (_, f) = r.radiotap().ok()?;
            if f.first() != Some(&0xd0) || f.get(24) != Some(&3) {
                return None;
            }
            Some((*f.get(15)?, *f.get(25)?))
        })
        .collect()
}

#[test]
fn the_block_ack_agreement_is_made_on_the_air_and_a_delba_ends_it() {
    let mut world = World::new(17);
    world.medium_mut().enable_capture(None);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    send_data(&mut world, a, 2, 1, 100);
    run_idle(&mut world);
    // a asks (ADDBA Request, action 0), b's side answers (ADDBA Response, action 1); the
    // nodes never see either frame.
    let pcap = world.medium().capture().unwrap().to_vec();
    assert_eq!(block_ack_actions(&pcap), [(1, 0), (2, 1)]);
    let got = world.node::<ScriptedNode>(b).received();
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|r| r.frame.first() != Some(&0xd0)));
    assert!(world.node::<ScriptedNode>(a).sent().len() == 100);
    // b ends the agreement with a DELBA; a's next frames ask again.
    let delba = crate::wire::block_ack::BlockAckAction::Delba {
        params: 0,
        reason: 37,
    };
    let frame = crate::wire::MgmtFrame::new(
        mac(1),
        mac(2),
        mac(1),
        crate::wire::MgmtBody::Other {
            subtype: crate::wire::MgmtSubtype::Action,
            body: delba.to_vec(),
        },
    );
    let mut bytes = Vec::new();
    frame.emit(&mut bytes);
    world.node_mut::<ScriptedNode>(b).send(bytes);
    run_idle(&mut world);
    send_data(&mut world, a, 2, 1, 10);
    run_idle(&mut world);
    let pcap = world.medium().capture().unwrap().to_vec();
    assert_eq!(
        block_ack_actions(&pcap),
        [(1, 0), (2, 1), (2, 2), (1, 0), (2, 1)]
    );
}

/// Whether `id`'s queue holds a frame of the medium's own (an ADDBA Request or Response).
fn queues_internal(world: &World, id: NodeId) -> bool {
    world.medium().radios[index(id)]
        .queue
        .iter()
        .any(|q| q.internal)
}

#[test]
fn an_addba_response_that_never_got_through_is_asked_for_again() {
    let mut world = World::new(23);
    world.medium_mut().enable_capture(None);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    send_data(&mut world, a, 2, 1, 1);
    // a's ADDBA Request is acknowledged and b's Response waits in b's queue: a leaves the
    // channel (a scan, say) before the Response airs.
    let mut steps = 0;
    while !queues_internal(&world, b) || queues_internal(&world, a) {
        assert!(world.step(), "the ADDBA exchange never started");
        steps += 1;
        assert!(steps < 10_000);
    }
    assert_eq!(
        world.medium().agreements.get(&(a, b)),
        Some(&ampdu::Agreement::Requested)
    );
    world.node_mut::<ScriptedNode>(a).tune(ch(1));
    world.run_for(Duration::from_millis(200));
    // The Response went unacknowledged: a's request is forgotten, asked again once back.
    assert_eq!(world.medium().agreements.get(&(a, b)), None);
    world.node_mut::<ScriptedNode>(a).tune(ch(36));
    let node = world.node_mut::<ScriptedNode>(a);
    for seq in 1..21 {
        node.send(frames::data(mac(2), mac(1), seq, 1500));
    }
    run_idle(&mut world);
    let requests = block_ack_actions(&world.medium_mut().take_capture().unwrap())
        .into_iter()
        .filter(|&(ta, action)| ta == 1 && action == 0)
        .count();
    assert_eq!(requests, 2, "the agreement is asked for again");
    assert!(matches!(
        world.medium().agreements.get(&(a, b)),
        Some(ampdu::Agreement::Active { .. })
    ));
    assert!(world.node::<ScriptedNode>(b).received().len() >= 20);
}

/// Whether `id`'s queue holds a frame its receiver got but holds behind a missing one.
fn holds_frames(world: &World, id: NodeId) -> bool {
    world.medium().radios[index(id)]
        .queue
        .iter()
        .any(|q| matches!(q.rx, AmpduRx::Held(..)))
}

#[test]
fn the_reorder_timer_releases_frames_held_behind_a_missing_one() {
    // A lossy link and a patient sender: when the sender leaves the channel with frames held at
    // the receiver, its retries (up to 40) would keep them there for far longer than 100 ms.
    let mut world = World::with_config(
        21,
        MediumConfig {
            extra_loss: 0.3,
            retry_limit: 40,
            ..MediumConfig::default()
        },
    )
    .unwrap();
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    send_data(&mut world, a, 2, 1, 400);
    world.drive(|w| holds_frames(w, a));
    let held_at = world.now();
    let before = world.node::<ScriptedNode>(b).received().len();
    world.node_mut::<ScriptedNode>(a).tune(ch(149));
    world.run_until(held_at + Duration::from_millis(90));
    assert_eq!(world.node::<ScriptedNode>(b).received().len(), before);
    world.run_until(held_at + Duration::from_millis(110));
    let after = world.node::<ScriptedNode>(b).received().len();
    assert!(
        after > before,
        "held frames not released ({before} -> {after})"
    );
    assert!(world.medium().stats().reorder_skipped > 0);
    // The sender has not given up any frame yet: the timer, not the retry limit, released them.
    assert!(world
        .node::<ScriptedNode>(a)
        .sent()
        .iter()
        .all(|s| matches!(s.status, TxStatus::Acked { .. })));
    // Back on the channel: what follows arrives, in order, each once; a skipped frame sent
    // again is not handed over.
    world.node_mut::<ScriptedNode>(a).tune(ch(36));
    run_idle(&mut world);
    let got: Vec<u16> = world
        .node::<ScriptedNode>(b)
        .received()
        .iter()
        .filter_map(|r| {
            crate::wire::FrameView::new_checked(&r.frame[..])
                .ok()?
                .sequence()
        })
        .map(|s| s.sequence)
        .collect();
    // (A frame may arrive twice only before the agreement, when an Ack is lost.)
    assert!(
        got.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {got:?}"
    );
    let dups = got.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(dups < 3, "{got:?}");
    assert!(got.len() > before);
}

#[test]
fn an_unused_agreement_ends_at_its_block_ack_timeout_and_is_set_up_again() {
    let mut world = World::new(5);
    world.medium_mut().enable_capture(None);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    send_data(&mut world, a, 2, 1, 20);
    run_idle(&mut world);
    assert_eq!(world.medium().stats().ba_timeouts, 0);
    // Idle for longer than the 5000 TU the ADDBA Request asked for.
    let later = world.now() + Duration::from_secs(6);
    world.run_until(later);
    let node = world.node_mut::<ScriptedNode>(a);
    for seq in 20..40 {
        node.send(frames::data(mac(2), mac(1), seq, 1500));
    }
    run_idle(&mut world);
    assert_eq!(world.medium().stats().ba_timeouts, 1);
    assert_eq!(world.node::<ScriptedNode>(b).received().len(), 40);
    let capture = world.medium_mut().take_capture().unwrap();
    let requests = block_ack_actions(&capture)
        .into_iter()
        .filter(|&(ta, action)| ta == 1 && action == 0)
        .count();
    assert_eq!(requests, 2, "one ADDBA Request per agreement");
}

/// The A-MSDU MPDUs (QoS Data with A-MSDU Present) of a capture: (frame length, subframes).
fn amsdus(pcap: &[u8]) -> Vec<(usize, usize)> {
    let file = PcapFile::parse(pcap).unwrap();
    file.records
        .iter()
        .filter_map(|r| {
            let (_, f) = r.radiotap().ok()?;
            let view = crate::wire::FrameView::new_checked(f).ok()?;
            if !view.qos()?.amsdu_present() {
                return None;
            }
            let subs = crate::wire::amsdu::parse(view.payload()).unwrap();
            Some((f.len(), subs.len()))
        })
        .collect()
}

/// Sends `count` frames from a to b on an `caps` link; returns the world when all is done.
fn amsdu_run(caps: PhyCaps, amsdu: bool, count: u16) -> (World, NodeId, NodeId) {
    let mut world = World::with_config(
        5,
        MediumConfig {
            amsdu,
            ..MediumConfig::default()
        },
    )
    .unwrap();
    world.medium_mut().enable_capture(None);
    let a = station(&mut world, 1, ch(36), 0.0, caps);
    let b = station(&mut world, 2, ch(36), 3.0, caps);
    send_data(&mut world, a, 2, 1, count);
    run_idle(&mut world);
    (world, a, b)
}

fn sequences(got: &[crate::testing::Received]) -> Vec<u16> {
    got.iter()
        .filter_map(|r| {
            crate::wire::FrameView::new_checked(&r.frame[..])
                .ok()?
                .sequence()
        })
        .map(|s| s.sequence)
        .collect()
}

#[test]
fn an_he_link_sends_amsdus_in_its_ampdus_and_the_receiver_gets_each_frame_once_in_order() {
    let (mut world, a, b) = amsdu_run(AX_80_2X2, true, 2000);
    let got = world.node::<ScriptedNode>(b).received();
    assert_eq!(
        sequences(got),
        (0..2000).map(|s| s % 4096).collect::<Vec<u16>>()
    );
    // The frames b gets are those a handed over, byte for byte.
    let sent = world.node::<ScriptedNode>(a).sent();
    assert!(got.iter().zip(sent).all(|(r, s)| r.frame == s.frame));
    let stats = world.medium().stats().clone();
    assert!(stats.amsdu_msdus > 1500, "{stats:?}");
    assert_eq!(stats.amsdu_refused, 0);
    let on_air = amsdus(&world.medium_mut().take_capture().unwrap());
    assert!(!on_air.is_empty());
    // Within the VHT maximum MPDU length vwifi advertises (11 454 octets with FCS).
    assert!(on_air.iter().all(|&(len, n)| len + 4 <= 11_454 && n >= 2));
    assert!(on_air.iter().any(|&(_, n)| n == 7), "{on_air:?}");
    // Fewer MPDUs for the same frames: less simulated time than without A-MSDUs.
    let with = world.now();
    let (without, _, _) = amsdu_run(AX_80_2X2, false, 2000);
    assert!(without.medium().stats().amsdu_msdus == 0);
    assert!(
        with.as_micros() * 10 < without.now().as_micros() * 9,
        "with A-MSDUs {with:?}, without {:?}",
        without.now()
    );
}

#[test]
fn an_ht_link_keeps_its_amsdus_within_3839_octets() {
    let ht = PhyCaps {
        standard: Standard::Ht,
        width: Width::Mhz40,
        nss: 2,
    };
    let (mut world, _, b) = amsdu_run(ht, true, 300);
    assert_eq!(world.node::<ScriptedNode>(b).received().len(), 300);
    let on_air = amsdus(&world.medium_mut().take_capture().unwrap());
    // Two 1500-octet MSDUs fit, three do not.
    assert!(!on_air.is_empty());
    assert!(on_air.iter().all(|&(len, n)| len - 26 <= 3839 && n == 2));
}

#[test]
fn protected_frames_are_never_put_in_an_amsdu() {
    let mut world = World::new(5);
    let a = station(&mut world, 1, ch(36), 0.0, AX_80_2X2);
    let b = station(&mut world, 2, ch(36), 3.0, AX_80_2X2);
    let node = world.node_mut::<ScriptedNode>(a);
    for seq in 0..200 {
        let mut f = frames::data(mac(2), mac(1), seq, 1500).to_vec();
        f[1] |= crate::wire::FcFlags::PROTECTED;
        node.send(f);
    }
    run_idle(&mut world);
    assert_eq!(world.node::<ScriptedNode>(b).received().len(), 200);
    assert_eq!(world.medium().stats().amsdu_msdus, 0);
}
