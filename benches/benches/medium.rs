//! The simulated medium's cost per frame: N stations on one channel sending unicast data
//! frames to each other (contention, delivery to every listener, Acks), in frames per second of
//! wall time. The medium must stay far cheaper than a frame's airtime.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use vwifi_core::channel::Channel;
use vwifi_core::phy::{PhyCaps, Standard, Width};
use vwifi_core::sim::medium::{Medium, MediumConfig, Placement};
use vwifi_core::testing::frames::{data, mac};
use vwifi_core::testing::{seed_bytes, ScriptedNode};

/// Frames sent per iteration, spread over the stations.
const FRAMES: u16 = 240;

/// A medium with `stations` nodes on channel 6 within a few metres, each with its share of
/// `FRAMES` unicast frames of `payload` bytes queued to the next station.
fn setup(stations: u8, payload: usize, capture: bool) -> Medium {
    setup_on(6, None, stations, payload, capture)
}

/// Like [`setup`], on channel `channel`, every node with PHY capabilities `caps` if given
/// (802.11ax links aggregate into A-MPDUs under a Block Ack agreement).
fn setup_on(
    channel: u8,
    caps: Option<PhyCaps>,
    stations: u8,
    payload: usize,
    capture: bool,
) -> Medium {
    let channel = Channel::new(channel).unwrap_or_else(|e| panic!("{e}"));
    let mut medium =
        Medium::new(MediumConfig::default(), seed_bytes(1)).unwrap_or_else(|e| panic!("{e}"));
    if capture {
        medium.enable_capture(None);
    }
    let per = FRAMES / u16::from(stations);
    for n in 0..stations {
        let mut node = ScriptedNode::new(channel);
        let to = mac((n + 1) % stations);
        for seq in 0..per {
            node.send(data(to, mac(n), seq, payload));
        }
        let id = medium.add_node(node, Placement::at(f64::from(n), 0.0));
        medium
            .set_addresses(id, vec![mac(n)])
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(caps) = caps {
            medium
                .set_phy_caps(id, caps)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    medium
}

fn run(mut medium: Medium) -> u64 {
    while medium.step().is_some() {}
    medium.stats().acked
}

fn unicast(c: &mut Criterion) {
    let mut group = c.benchmark_group("medium/unicast");
    for stations in [2u8, 8, 24] {
        let frames = u64::from(FRAMES / u16::from(stations) * u16::from(stations));
        group.throughput(Throughput::Elements(frames));
        group.bench_with_input(
            BenchmarkId::new("stations", stations),
            &stations,
            |b, &stations| {
                b.iter_batched(|| setup(stations, 1000, false), run, BatchSize::SmallInput)
            },
        );
    }
    group.finish();
}

/// The same frames between 802.11ax 80 MHz 2x2 stations: A-MPDUs, Block Acks, rate control.
fn ampdu(c: &mut Criterion) {
    let caps = PhyCaps {
        standard: Standard::He,
        width: Width::Mhz80,
        nss: 2,
    };
    let mut group = c.benchmark_group("medium/ampdu");
    for stations in [2u8, 8] {
        let frames = u64::from(FRAMES / u16::from(stations) * u16::from(stations));
        group.throughput(Throughput::Elements(frames));
        group.bench_with_input(
            BenchmarkId::new("stations", stations),
            &stations,
            |b, &stations| {
                b.iter_batched(
                    || setup_on(36, Some(caps), stations, 1000, false),
                    run,
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

fn capture(c: &mut Criterion) {
    let mut group = c.benchmark_group("medium/capture");
    group.throughput(Throughput::Elements(u64::from(FRAMES)));
    group.bench_function("stations/8", |b| {
        b.iter_batched(|| setup(8, 1000, true), run, BatchSize::SmallInput)
    });
    group.finish();
}

/// The live capture's cost on the driver's thread (the medium's tap, drained every 16 events as
/// the driver drains it every turn) and with the pcapng encoding its connection task adds, beside
/// `medium/unicast/stations/8` (the same frames untapped).
fn tap(c: &mut Criterion) {
    use vwifi_core::sim::medium::Position;
    use vwifi_core::sim::pcapng::PcapngWriter;
    let mut group = c.benchmark_group("medium/tap");
    group.throughput(Throughput::Elements(u64::from(FRAMES)));
    for encode in [false, true] {
        let name = if encode {
            "pcapng/stations/8"
        } else {
            "stations/8"
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut m = setup(8, 1000, false);
                    m.enable_tap(Some(Position::new(0.0, 0.0)), 1 << 16);
                    m
                },
                |mut m| {
                    let mut out = Vec::new();
                    let mut w = PcapngWriter::new(&mut out, None);
                    let mut n = 0u64;
                    let mut steps = 0u32;
                    loop {
                        let more = m.step().is_some();
                        steps += 1;
                        if !more || steps % 16 == 0 {
                            for f in m.take_tapped() {
                                n += 1;
                                if encode {
                                    w.write_frame(&mut out, f.at.as_micros(), &f.info, &f.frame);
                                    out.clear();
                                }
                            }
                        }
                        if !more {
                            break;
                        }
                    }
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, unicast, ampdu, capture, tap);
criterion_main!(benches);
