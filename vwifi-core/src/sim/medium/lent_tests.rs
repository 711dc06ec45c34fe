//! A node kept beside the medium and lent to its calls behaves exactly as the same node owned
//! by the medium: the same frames on the air at the same times, the same random draws, the
//! same frames and outcomes at every node.

use super::*;
use crate::sim::pcap::PcapFile;
use crate::testing::frames::{self, mac};
use crate::testing::{seed_bytes, Received, ScriptedNode, Sent};

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
}

/// Everything a run left behind: the capture, the counters, the clock, and what every node
/// (the AP first) heard and learnt of its frames.
#[derive(Debug, PartialEq)]
struct Trace {
    pcap: Vec<u8>,
    stats: MediumStats,
    now: Instant,
    nodes: Vec<(Vec<Received>, Vec<Sent>)>,
}

/// How a run drives the medium.
#[derive(Debug, Clone, Copy)]
enum Drive {
    /// One `handle_timeout` per wake-up.
    Timeout,
    /// One `step` per event.
    Step,
}

/// A busy air: an AP (node 0, lent when `lend`) that beacons on a timer, leaves its channel and
/// comes back, and sends unicast data to a station; four stations that send it unicast data.
/// `caps` for every node (HT or newer: A-MPDUs, Block Acks, reordering). After the first run
/// the AP is given one more frame from outside and the medium runs again.
fn busy_trace(lend: bool, caps: PhyCaps, config: MediumConfig, drive: Drive) -> Trace {
    let mut medium: Medium = Medium::new(config, seed_bytes(21)).unwrap_or_else(|e| panic!("{e}"));
    medium.enable_capture(None);
    let mut ap = ScriptedNode::new(ch(6));
    for i in 0..20u64 {
        ap.send_at(
            Instant::from_micros(i * 102_400),
            frames::beacon(mac(100), "busy", 6, i * 102_400),
        );
    }
    for q in 0..30 {
        ap.send(frames::data(mac(1), mac(100), q, 300));
    }
    ap.tune_at(Instant::from_millis(500), ch(1));
    ap.tune_at(Instant::from_millis(700), ch(6));
    let at = Placement::at(0.0, 0.0);
    let ap_id = if lend {
        medium.add_lent(&ap, at).unwrap_or_else(|e| panic!("{e}"))
    } else {
        medium.add_node(ap.clone(), at)
    };
    let mut ids = vec![ap_id];
    for n in 1..=4u8 {
        let mut sta = ScriptedNode::new(ch(6));
        for q in 0..25 {
            sta.send(frames::data(mac(100), mac(n), q, 400));
        }
        ids.push(medium.add_node(sta, Placement::at(f64::from(n) * 7.0, 0.0)));
    }
    for (&id, n) in ids.iter().zip([100u8, 1, 2, 3, 4]) {
        medium
            .set_addresses(id, vec![mac(n)])
            .unwrap_or_else(|e| panic!("{e}"));
        medium
            .set_phy_caps(id, caps)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let run = |medium: &mut Medium, ap: &mut ScriptedNode| {
        let mut events = 0u32;
        while let Some(t) = medium.poll_timeout() {
            events += 1;
            assert!(events < 1_000_000, "the air never goes idle");
            match (drive, lend) {
                (Drive::Timeout, true) => medium.handle_timeout_with(t, ap),
                (Drive::Timeout, false) => medium.handle_timeout(t),
                (Drive::Step, true) => {
                    medium.step_with(ap);
                }
                (Drive::Step, false) => {
                    medium.step();
                }
            }
        }
    };
    run(&mut medium, &mut ap);
    let more = frames::data(mac(2), mac(100), 99, 200);
    if lend {
        ap.send(more);
        medium.touch(ap_id);
    } else if let Some(own) = medium.node_as_mut::<ScriptedNode>(ap_id) {
        own.send(more);
    }
    run(&mut medium, &mut ap);
    let nodes = ids
        .iter()
        .map(|&id| {
            let node = if id == ap_id && lend {
                &ap
            } else {
                medium
                    .node_as::<ScriptedNode>(id)
                    .unwrap_or_else(|| panic!("node {id:?} is not scripted"))
            };
            (node.received().to_vec(), node.sent().to_vec())
        })
        .collect();
    Trace {
        pcap: medium.capture().unwrap_or_default().to_vec(),
        stats: medium.stats().clone(),
        now: medium.now(),
        nodes,
    }
}

fn lossy() -> MediumConfig {
    MediumConfig {
        extra_loss: 0.2,
        ..MediumConfig::default()
    }
}

#[test]
fn a_lent_node_sees_the_same_air_as_an_owned_one() {
    for drive in [Drive::Timeout, Drive::Step] {
        let owned = busy_trace(false, PhyCaps::LEGACY, lossy(), drive);
        let lent = busy_trace(true, PhyCaps::LEGACY, lossy(), drive);
        assert_eq!(owned, lent, "{drive:?}");
        let (received, sent) = &lent.nodes[0];
        assert_eq!(sent.len(), 20 + 30 + 1, "every frame of the AP reported");
        assert!(!received.is_empty());
        assert!(lent.stats.retries > 0, "{:?}", lent.stats);
    }
}

#[test]
fn a_lent_node_sees_the_same_aggregates_as_an_owned_one() {
    let owned = busy_trace(false, PhyCaps::STATION_DEFAULT, lossy(), Drive::Timeout);
    let lent = busy_trace(true, PhyCaps::STATION_DEFAULT, lossy(), Drive::Timeout);
    assert_eq!(owned, lent);
    // The links aggregated: Block Acks (control subtype 9) answered A-MPDUs.
    let file = PcapFile::parse(&lent.pcap).unwrap_or_else(|e| panic!("{e}"));
    let block_acks = file
        .records
        .iter()
        .filter_map(|rec| rec.radiotap().ok())
        .filter(|(_, frame)| frame.first() == Some(&0x94))
        .count();
    assert!(block_acks > 0);
    assert_eq!(lent.nodes[0].1.len(), 20 + 30 + 1);
}

#[test]
fn a_lent_node_sees_the_same_zero_airtime_air_as_an_owned_one() {
    let config = MediumConfig {
        airtime: false,
        ..MediumConfig::default()
    };
    let owned = busy_trace(false, PhyCaps::LEGACY, config.clone(), Drive::Timeout);
    let lent = busy_trace(true, PhyCaps::LEGACY, config, Drive::Timeout);
    assert_eq!(owned, lent);
    assert_eq!(lent.now, owned.now);
}

#[test]
fn the_lent_slot_is_one_and_gives_no_node_back() {
    let mut medium: Medium =
        Medium::new(MediumConfig::default(), [1; 32]).unwrap_or_else(|e| panic!("{e}"));
    let node = ScriptedNode::new(ch(1));
    let id = medium
        .add_lent(&node, Placement::at(0.0, 0.0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(medium.channel_of(id), Some(ch(1)));
    assert!(medium.node(id).is_none());
    assert!(medium.node_mut(id).is_none());
    assert!(medium.node_as::<ScriptedNode>(id).is_none());
    assert_eq!(medium.nodes_of::<ScriptedNode>().count(), 0);
    assert_eq!(
        medium.add_lent(&node, Placement::at(1.0, 0.0)),
        Err(MediumError::LentSlotTaken(id))
    );
}

#[test]
fn a_call_that_lends_nothing_leaves_the_lent_slot_alone() {
    let mut medium: Medium =
        Medium::new(MediumConfig::default(), [1; 32]).unwrap_or_else(|e| panic!("{e}"));
    let mut node = ScriptedNode::new(ch(1));
    node.send(frames::beacon(mac(1), "x", 1, 0));
    let id = medium
        .add_lent(&node, Placement::at(0.0, 0.0))
        .unwrap_or_else(|e| panic!("{e}"));
    medium.handle_timeout(Instant::from_millis(10));
    assert_eq!(
        medium.stats().queued,
        0,
        "nothing taken from a node not lent"
    );
    medium.touch(id);
    medium.handle_timeout_with(Instant::from_millis(20), &mut node);
    assert_eq!(medium.stats().transmissions, 1);
    assert_eq!(node.sent().len(), 1);
}
