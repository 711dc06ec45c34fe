//! WPA2 crypto costs: PSK derivation (PBKDF2, 4096 rounds), PTK derivation (PRF-384) and
//! CCMP-128 encryption and decryption in bytes per second.
//!
//! Run: `cargo bench -p vwifi-benches --bench crypto`.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vwifi_core::crypto::{ccmp, derive_psk, derive_ptk, Passphrase, Pmk, TemporalKey};
use vwifi_core::wire::{DsDirection, EtherType, EthernetFrame};
use vwifi_core::MacAddr;

const AA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
const SPA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);

fn psk(c: &mut Criterion) {
    let pass = Passphrase::new("correct horse battery staple").unwrap();
    c.bench_function("psk/pbkdf2-4096", |b| {
        b.iter(|| derive_psk(black_box(&pass), black_box(b"vwifi-lab")).unwrap())
    });
}

fn ptk(c: &mut Criterion) {
    let pmk = Pmk::from_bytes([0x42; 32]);
    let (anonce, snonce) = ([1u8; 32], [2u8; 32]);
    c.bench_function("ptk/prf-384", |b| {
        b.iter(|| {
            derive_ptk(
                black_box(&pmk),
                AA,
                SPA,
                black_box(&anonce),
                black_box(&snonce),
            )
        })
    });
}

/// An unprotected 802.11 data frame (to the AP, LLC/SNAP, IPv4 payload) of `payload` bytes.
fn data_mpdu(payload: usize) -> Vec<u8> {
    let eth = EthernetFrame {
        dst: MacAddr([0x02, 0, 0, 0, 0, 3]),
        src: SPA,
        ethertype: EtherType::Ipv4,
        payload: vec![0xa5; payload].into(),
    };
    let mut out = Vec::new();
    eth.to_data(DsDirection::ToAp { bssid: AA }, None)
        .emit(&mut out);
    out
}

fn ccmp_bench(c: &mut Criterion) {
    let tk = TemporalKey::from_bytes([0x11; 16]);
    let mut group = c.benchmark_group("ccmp");
    for size in [64usize, 512, 1500] {
        let plain = data_mpdu(size);
        let sealed = ccmp::encrypt(&tk, 0, 1, &plain).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &plain, |b, mpdu| {
            let mut pn = 0u64;
            b.iter(|| {
                pn += 1;
                ccmp::encrypt(&tk, 0, pn, black_box(mpdu)).unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("decrypt", size), &sealed, |b, mpdu| {
            b.iter(|| ccmp::decrypt(&tk, black_box(mpdu)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, psk, ptk, ccmp_bench);
criterion_main!(benches);
