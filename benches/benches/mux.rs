//! The Mux's cost per frame, in frames per second of one core, with 1 and 256 connected
//! stations on an open and a WPA2 network:
//! - `mux/rx`: a received data frame for a connected station through `handle_input` (demux,
//!   station: CCMP decryption and replay check on WPA2, 802.11 -> 802.3) and out of
//!   `poll_output` as the guest's `Message::Data`;
//! - `mux/tx`: a guest's `Message::Data` through `handle_input` (source check, 802.3 ->
//!   802.11, CCMP) and out of `poll_output` as a frame to transmit.
//!
//! It also prints the time-shared goodput in the simulated world: one guest alone on channel 1
//! against two guests on channels 1 and 11 sharing the radio (frames per second of virtual
//! time reaching the APs' uplinks, 1400-byte payloads at 54 Mbit/s).
//!
//! `mux/rx` and `mux/tx` are measured in the thread's CPU time (`vwifi_benches::CpuTime`), so
//! that other processes on a shared machine do not count.
//!
//! Run: `cargo bench -p vwifi-benches --bench mux`.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

#[path = "../../vwifi-core/tests/mux_lab/mod.rs"]
mod mux_lab;

use std::time::Duration;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mux_lab::{Lab, LabOptions, Net, UPLINK_PEER};
use vwifi_benches::{thread_cpu_time, CpuTime};
use vwifi_core::channel::Channel;
use vwifi_core::demux::GuestId;
use vwifi_core::io::RadioEvent;
use vwifi_core::mux::{Input, Output};
use vwifi_core::proto::Message;
use vwifi_core::radio::{Node, RxMeta};
use vwifi_core::wire::{EtherType, EthernetFrame, FrameView};
use vwifi_core::MacAddr;

const PAYLOAD: usize = 1000;
/// Frames fed per timed chunk (fresh ones are made between chunks: CCMP refuses replays).
const CHUNK: u64 = 2048;

fn net(wpa2: bool) -> Net {
    Net {
        ssid: "bench",
        bssid: MacAddr([0x02, 0x76, 0x77, 0, 2, 1]),
        channel: 1,
        pass: wpa2.then_some("bench passphrase"),
        at: (0.0, 0.0),
    }
}

/// A world with `guests` stations connected to one network.
fn connected(guests: usize, wpa2: bool) -> (Lab, Vec<GuestId>) {
    let opts = LabOptions {
        max_stations: 300,
        ..LabOptions::default()
    };
    let mut lab = Lab::with_options(7, &[net(wpa2)], opts);
    let gs = lab.admit_many("bench", guests);
    for g in &gs {
        lab.connect_net(*g, 0);
    }
    lab.drive_coarse(Duration::from_secs(120), Duration::from_millis(50), |l| {
        gs.iter().all(|g| l.connected(*g))
    });
    for g in &gs {
        lab.take(*g);
    }
    (lab, gs)
}

/// `n` data frames from the AP to the stations in turn, as the AP puts them on the air.
fn frames_from_ap(lab: &mut Lab, macs: &[MacAddr], n: u64) -> Vec<Bytes> {
    let now = lab.world.now();
    let ap = lab.ap_mut(0);
    while ap.poll_transmit().is_some() {}
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let dst = macs[i % macs.len()];
        let eth = EthernetFrame {
            dst,
            src: UPLINK_PEER,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from(vec![0x45; PAYLOAD]),
        };
        ap.handle_uplink(now, eth);
        while let Some(f) = ap.poll_transmit() {
            let for_it = FrameView::new_checked(&f[..]).is_ok_and(|v| v.addr1() == dst);
            if for_it {
                out.push(f);
            }
        }
    }
    out
}

fn data_from(src: MacAddr) -> Message {
    mux_lab::tagged_frame(src, UPLINK_PEER, &[0x45; PAYLOAD])
}

fn rx(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("mux/rx");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    for (wpa2, guests) in [(false, 1), (false, 256), (true, 1), (true, 256)] {
        let (mut lab, gs) = connected(guests, wpa2);
        let macs: Vec<MacAddr> = gs.iter().map(|g| lab.mac(*g)).collect();
        let now = lab.world.now();
        let meta = RxMeta {
            channel: Channel::new(1).unwrap_or_else(|e| panic!("{e}")),
            signal_dbm: -40,
            rate_kbps: 54_000,
        };
        let name = if wpa2 { "wpa2" } else { "open" };
        group.bench_function(BenchmarkId::new(name, guests), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    left -= n;
                    let frames = frames_from_ap(&mut lab, &macs, n);
                    let mux = lab.node_mut().mux_mut();
                    let start = thread_cpu_time();
                    for frame in frames {
                        let ev = RadioEvent::Rx { frame, meta };
                        mux.handle_input(now, Input::Radio(ev));
                        while let Some(out) = mux.poll_output() {
                            debug_assert!(matches!(out, Output::ToGuest { .. }));
                            black_box(out);
                        }
                    }
                    spent += thread_cpu_time().saturating_sub(start);
                }
                spent
            })
        });
    }
    group.finish();
}

fn tx(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("mux/tx");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    for (wpa2, guests) in [(false, 1), (false, 256), (true, 1), (true, 256)] {
        let (mut lab, gs) = connected(guests, wpa2);
        let msgs: Vec<(GuestId, Message)> =
            gs.iter().map(|g| (*g, data_from(lab.mac(*g)))).collect();
        let now = lab.world.now();
        let mux = lab.node_mut().mux_mut();
        let name = if wpa2 { "wpa2" } else { "open" };
        let mut next = 0usize;
        group.bench_function(BenchmarkId::new(name, guests), |b| {
            b.iter(|| {
                let (guest, msg) = &msgs[next % msgs.len()];
                next += 1;
                let input = Input::Guest {
                    guest: *guest,
                    msg: msg.clone(),
                };
                mux.handle_input(now, input);
                while let Some(out) = mux.poll_output() {
                    debug_assert!(matches!(out, Output::Transmit { .. }));
                    black_box(out);
                }
            })
        });
    }
    group.finish();
}

/// Prints the goodput of one guest alone against two guests time-sharing two channels.
fn time_shared_goodput(_c: &mut Criterion) {
    let nets = || {
        let mut n = mux_lab::two_networks();
        for x in &mut n {
            x.pass = None;
        }
        n
    };
    let measure = Duration::from_secs(5);
    let (payload, window) = (1400, 32);
    let mut alone = Lab::new(51, &nets(), Default::default());
    let g = alone.admit("alone");
    alone.connect_net(g, 0);
    alone.drive_until(Duration::from_secs(10), |l| l.connected(g));
    let single = alone.goodput(&[(g, 0)], payload, window, measure)[0];
    let mut shared = Lab::new(51, &nets(), Default::default());
    let (g1, g2) = (shared.admit("one"), shared.admit("two"));
    shared.connect_net(g1, 0);
    shared.connect_net(g2, 1);
    shared.drive_until(Duration::from_secs(10), |l| {
        l.connected(g1) && l.connected(g2)
    });
    let both = shared.goodput(&[(g1, 0), (g2, 1)], payload, window, measure);
    let mbps = |fps: f64| fps * (payload as f64 + 14.0) * 8.0 / 1e6;
    let sum = both[0] + both[1];
    println!(
        "mux/time-shared goodput (simulated, {payload}-byte payloads, 54 Mbit/s, {measure:?}):\n  \
         one guest alone on channel 1:            {single:7.0} frames/s {:5.1} Mbit/s\n  \
         two guests on channels 1 and 11, each:   {:7.0} / {:7.0} frames/s\n  \
         two guests together:                     {sum:7.0} frames/s {:5.1} Mbit/s \
         ({:.0}% of one alone; each {:.0}% / {:.0}%)",
        mbps(single),
        both[0],
        both[1],
        mbps(sum),
        100.0 * sum / single,
        100.0 * both[0] / single,
        100.0 * both[1] / single,
    );
}

criterion_group!(benches, time_shared_goodput);
criterion_group! {
    name = per_frame;
    config = Criterion::default().with_measurement(CpuTime);
    targets = rx, tx
}
criterion_main!(benches, per_frame);
