//! Two media joined through the federation seam, with the host's transport replaced by
//! moving [`FederatedTx`]s by hand.

use core::time::Duration;

use super::*;
use crate::radio::TxStatus;
use crate::sim::federated::{FederatedMessage, FederatedTx};
use crate::testing::frames::{self, mac};
use crate::testing::{Bound, ScriptedNode, World};

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
}

fn federated_world(seed: u64) -> World {
    let mut w = World::new(seed);
    w.medium_mut()
        .enable_federation(FederationConfig::default());
    w
}

fn station(world: &mut World, n: u8, channel: Channel, x: f64) -> NodeId {
    let id = world.add_node(ScriptedNode::new(channel), Placement::at(x, 0.0));
    world
        .medium_mut()
        .set_addresses(id, vec![mac(n)])
        .unwrap_or_else(|e| panic!("{e}"));
    id
}

fn run_idle(world: &mut World) {
    let r = world.drive_bounded(Bound::time(Duration::from_secs(600)), |_| false);
    assert!(
        matches!(r, Err(crate::testing::DriveError::Idle { .. })),
        "{r:?}"
    );
}

fn outbox(world: &mut World) -> Vec<FederatedTx> {
    core::iter::from_fn(|| world.medium_mut().poll_federated()).collect()
}

/// Hands `txs` to `world`'s medium at its current time, through the wire encoding.
fn carry(world: &mut World, txs: &[FederatedTx]) -> Vec<RemoteOutcome> {
    txs.iter()
        .enumerate()
        .map(|(i, tx)| {
            let msg = FederatedMessage {
                origin: "peer".into(),
                seq: i as u64,
                tx: tx.clone(),
            };
            let bytes = msg.to_vec().unwrap_or_else(|e| panic!("{e}"));
            let back = FederatedMessage::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
            let now = world.medium().now();
            world.medium_mut().handle_remote(now, &back.tx)
        })
        .collect()
}

#[test]
fn a_unicast_frame_crosses_to_the_other_medium_and_is_acked_on_its_behalf() {
    let mut a = federated_world(1);
    let mut b = federated_world(2);
    let sa = station(&mut a, 1, ch(6), 0.0);
    let sb = station(&mut b, 2, ch(6), 10.0);
    let far = station(&mut b, 3, ch(6), 500.0);
    // B's station announces itself; A learns its address is remote.
    b.node_mut::<ScriptedNode>(sb)
        .send(frames::beacon(mac(2), "net", 6, 0));
    run_idle(&mut b);
    let out = outbox(&mut b);
    assert_eq!(out.len(), 1);
    assert_eq!(carry(&mut a, &out), vec![RemoteOutcome::Delivered(1)]);
    assert_eq!(a.node::<ScriptedNode>(sa).received().len(), 1);
    // 20 dBm - (40 + 30 dB) at 10 m.
    assert_eq!(
        a.node::<ScriptedNode>(sa).received()[0].meta.signal_dbm,
        -50
    );
    assert!(a
        .medium()
        .remote_addresses()
        .any(|(addr, _)| addr == mac(2)));

    // A's unicast to it is acknowledged at once (no retries) and published.
    let frame = frames::data(mac(2), mac(1), 5, 100);
    a.node_mut::<ScriptedNode>(sa).send(frame.clone());
    run_idle(&mut a);
    let sent = a.node::<ScriptedNode>(sa).sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, TxStatus::Acked { retries: 0 });
    let s = a.medium().stats();
    assert_eq!((s.transmissions, s.retries), (1, 0));
    assert_eq!(a.medium().federation_stats().remote_acked, 1);
    let out = outbox(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].frame, frame);

    // B delivers it to its station in range, not to the one 500 m away.
    assert_eq!(carry(&mut b, &out), vec![RemoteOutcome::Delivered(1)]);
    run_idle(&mut b);
    let got = b.node::<ScriptedNode>(sb).received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].frame, frame);
    assert!(b.node::<ScriptedNode>(far).received().is_empty());
    assert_eq!(b.medium().federation_stats().received, 1);
}

#[test]
fn an_unknown_unicast_address_is_still_retried_to_the_limit() {
    let mut a = federated_world(3);
    let sa = station(&mut a, 1, ch(1), 0.0);
    a.node_mut::<ScriptedNode>(sa)
        .send(frames::data(mac(9), mac(1), 1, 10));
    run_idle(&mut a);
    assert_eq!(
        a.node::<ScriptedNode>(sa).sent()[0].status,
        TxStatus::NotAcked
    );
    // Every attempt went out to the other daemons too.
    assert_eq!(outbox(&mut a).len(), 7);
}

#[test]
fn remote_airtime_defers_local_contention() {
    let mut a = federated_world(4);
    let sa = station(&mut a, 1, ch(36), 0.0);
    let long = FederatedTx {
        channel: ch(36),
        frame: frames::data(MacAddr::BROADCAST, mac(7), 1, 1000),
        position: Position { x: 5.0, y: 0.0 },
        tx_power_dbm: 20.0,
        rate: crate::phy::TxVector::Legacy(PhyRate::Ofdm6),
        duration: Duration::from_millis(2),
        timestamp: Instant::ZERO,
    };
    let start = a.medium().now();
    assert_eq!(
        a.medium_mut().handle_remote(start, &long),
        RemoteOutcome::Delivered(1)
    );
    a.node_mut::<ScriptedNode>(sa)
        .send(frames::data(MacAddr::BROADCAST, mac(1), 2, 10));
    run_idle(&mut a);
    let sent = a.node::<ScriptedNode>(sa).sent();
    assert_eq!(sent.len(), 1);
    // Its frame could not start before the remote one was over (and DIFS after).
    assert!(
        sent[0].at >= start + Duration::from_millis(2) + Duration::from_micros(34),
        "{:?}",
        sent[0].at
    );
    assert_eq!(
        a.medium().federation_stats().remote_airtime,
        Duration::from_millis(2)
    );
}

#[test]
fn a_remote_frame_from_a_local_address_is_a_clash_and_not_delivered() {
    let mut a = federated_world(5);
    let sa = station(&mut a, 1, ch(1), 0.0);
    let other = station(&mut a, 2, ch(1), 1.0);
    let tx = FederatedTx {
        channel: ch(1),
        frame: frames::beacon(mac(1), "evil", 1, 0),
        position: Position { x: 0.0, y: 0.0 },
        tx_power_dbm: 20.0,
        rate: crate::phy::TxVector::Legacy(PhyRate::Dsss1),
        duration: Duration::from_micros(100),
        timestamp: Instant::ZERO,
    };
    assert_eq!(
        carry(&mut a, &[tx]),
        vec![RemoteOutcome::Clash {
            addr: mac(1),
            owner: sa
        }]
    );
    assert!(a.node::<ScriptedNode>(other).received().is_empty());
    assert_eq!(a.medium().federation_stats().clashes, 1);
}

#[test]
fn the_outbox_is_bounded_and_counts_what_it_drops() {
    let mut a = World::new(6);
    a.medium_mut().enable_federation(FederationConfig {
        outbox_limit: 2,
        ..FederationConfig::default()
    });
    let sa = station(&mut a, 1, ch(1), 0.0);
    for i in 0..5 {
        a.node_mut::<ScriptedNode>(sa)
            .send(frames::data(MacAddr::BROADCAST, mac(1), i, 10));
    }
    run_idle(&mut a);
    assert_eq!(outbox(&mut a).len(), 2);
    let f = a.medium().federation_stats();
    assert_eq!((f.published, f.outbox_dropped), (2, 3));
}

#[test]
fn without_federation_nothing_is_published_or_taken_in() {
    let mut a = World::new(7);
    let sa = station(&mut a, 1, ch(1), 0.0);
    a.node_mut::<ScriptedNode>(sa)
        .send(frames::beacon(mac(1), "net", 1, 0));
    run_idle(&mut a);
    assert!(a.medium_mut().poll_federated().is_none());
    let tx = FederatedTx {
        channel: ch(1),
        frame: frames::beacon(mac(8), "x", 1, 0),
        position: Position { x: 0.0, y: 0.0 },
        tx_power_dbm: 20.0,
        rate: crate::phy::TxVector::Legacy(PhyRate::Dsss1),
        duration: Duration::from_micros(100),
        timestamp: Instant::ZERO,
    };
    let now = a.medium().now();
    assert_eq!(
        a.medium_mut().handle_remote(now, &tx),
        RemoteOutcome::Disabled
    );
}
