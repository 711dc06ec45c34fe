//! The demultiplexer's cost: routes per second of received frames to their owner among 1, 16
//! and 256 stations (unicast data, group data fanned out to every member of the BSS, and frames
//! for nobody).
//!
//! Run: `cargo bench -p vwifi-benches --bench demux`.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vwifi_core::demux::{Demux, GuestId, Route};
use vwifi_core::wire::{DsDirection, EtherType, EthernetFrame, Frame};
use vwifi_core::MacAddr;

const BSSID: MacAddr = MacAddr([0x02, 0x76, 0, 0, 0, 1]);

fn station(i: u32) -> MacAddr {
    let [a, b, c, d] = i.to_be_bytes();
    MacAddr([0x06, a, b, c, d, 0x01])
}

/// A From-DS data frame of BSS `BSSID` to `dst` with a 1000-byte payload.
fn from_ap(dst: MacAddr) -> Bytes {
    let eth = EthernetFrame {
        dst,
        src: MacAddr([0x02, 0xee, 0, 0, 0, 1]),
        ethertype: EtherType::Ipv4,
        payload: Bytes::from(vec![0x45; 1000]),
    };
    let frame = eth.to_data(DsDirection::FromAp { bssid: BSSID }, None);
    Bytes::from(Frame::Data(frame).to_vec())
}

fn demux(stations: u32) -> Demux {
    let mut d = Demux::new();
    for i in 0..stations {
        d.insert(GuestId(i), station(i))
            .unwrap_or_else(|e| panic!("{e}"));
        d.set_bssid(GuestId(i), Some(BSSID));
    }
    d
}

fn route(c: &mut Criterion) {
    let mut group = c.benchmark_group("demux/route");
    for stations in [1u32, 16, 256] {
        // One unicast frame per station, routed in turn.
        let frames: Vec<Bytes> = (0..stations).map(|i| from_ap(station(i))).collect();
        let mut d = demux(stations);
        group.throughput(Throughput::Elements(frames.len() as u64));
        group.bench_with_input(BenchmarkId::new("unicast", stations), &frames, |b, f| {
            b.iter(|| {
                for frame in f {
                    let r = d.route(black_box(frame));
                    debug_assert!(matches!(r, Route::Unicast(_)));
                    black_box(r);
                }
            })
        });
        let group_frame = from_ap(MacAddr::BROADCAST);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(
            BenchmarkId::new("group-fan-out", stations),
            &group_frame,
            |b, f| b.iter(|| black_box(d.route(black_box(f)))),
        );
        let stranger = from_ap(MacAddr([0x02, 0x55, 0, 0, 0, 9]));
        group.bench_with_input(BenchmarkId::new("nobody", stations), &stranger, |b, f| {
            b.iter(|| black_box(d.route(black_box(f))))
        });
    }
    group.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
