//! The federation seam's cost per frame (issue 18): encoding and decoding a federated
//! transmission, and delivering a remote frame to a medium's listeners
//! ([`Medium::handle_remote`]) beside delivering the same frame sent by a local node, in one
//! run: the ratio says what a frame from another daemon costs against a local one.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use core::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use vwifi_core::addr::MacAddr;
use vwifi_core::channel::Channel;
use vwifi_core::phy::TxVector;
use vwifi_core::sim::federated::{FederatedMessage, FederatedTx};
use vwifi_core::sim::medium::{
    FederationConfig, Medium, MediumConfig, PhyRate, Placement, Position,
};
use vwifi_core::testing::frames::{data, mac};
use vwifi_core::testing::{seed_bytes, ScriptedNode};
use vwifi_core::Instant;

/// Group frames per iteration.
const FRAMES: u16 = 240;

fn channel() -> Channel {
    Channel::new(6).unwrap_or_else(|e| panic!("{e}"))
}

fn message() -> FederatedMessage {
    FederatedMessage {
        origin: "host-b".into(),
        seq: 1,
        tx: FederatedTx {
            channel: channel(),
            frame: data(MacAddr::BROADCAST, mac(200), 1, 1500),
            position: Position { x: 0.0, y: 0.0 },
            tx_power_dbm: 20.0,
            rate: TxVector::Legacy(PhyRate::Ofdm54),
            duration: Duration::from_micros(248),
            timestamp: Instant::ZERO,
        },
    }
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("federation/codec");
    group.throughput(Throughput::Elements(1));
    let msg = message();
    let bytes = msg.to_vec().unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("encode-1500", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            msg.emit(&mut out).unwrap_or_else(|e| panic!("{e}"));
            out.len()
        })
    });
    group.bench_function("parse-1500", |b| {
        b.iter(|| FederatedMessage::parse(&bytes).map(|m| m.seq))
    });
    group.finish();
}

/// A federated medium with `listeners` nodes on channel 6 (addresses `mac(1..)`), and, if
/// `local`, a sender `mac(200)` with `FRAMES` group frames queued.
fn setup(listeners: u8, local: bool) -> Medium {
    let mut medium =
        Medium::new(MediumConfig::default(), seed_bytes(1)).unwrap_or_else(|e| panic!("{e}"));
    medium.enable_federation(FederationConfig::default());
    for n in 1..=listeners {
        let id = medium.add_node(
            ScriptedNode::new(channel()),
            Placement::at(f64::from(n), 0.0),
        );
        medium
            .set_addresses(id, vec![mac(n)])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    if local {
        let mut node = ScriptedNode::new(channel());
        for seq in 0..FRAMES {
            node.send(data(MacAddr::BROADCAST, mac(200), seq, 1500));
        }
        let id = medium.add_node(node, Placement::at(0.0, 0.0));
        medium
            .set_addresses(id, vec![mac(200)])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    medium
}

fn deliver(c: &mut Criterion) {
    let mut group = c.benchmark_group("federation/deliver");
    group.throughput(Throughput::Elements(u64::from(FRAMES)));
    let tx = message().tx;
    for listeners in [1u8, 8] {
        group.bench_with_input(BenchmarkId::new("local", listeners), &listeners, |b, &n| {
            b.iter_batched(
                || setup(n, true),
                |mut m| {
                    while m.step().is_some() {}
                    while m.poll_federated().is_some() {}
                    m.stats().delivered
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(
            BenchmarkId::new("remote", listeners),
            &listeners,
            |b, &n| {
                b.iter_batched(
                    || setup(n, false),
                    |mut m| {
                        let mut now = Instant::ZERO;
                        for _ in 0..FRAMES {
                            m.handle_remote(now, &tx);
                            now += Duration::from_micros(300);
                        }
                        m.federation_stats().delivered
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, codec, deliver);
criterion_main!(benches);
