//! WPA2 crypto costs: PSK derivation (PBKDF2, 4096 rounds), PTK derivation (PRF-384) and
//! CCMP-128 encryption and decryption in bytes per second.
//!
//! Run: `cargo bench -p vwifi-benches --bench crypto`.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use criterion::measurement::Measurement;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion,
    Throughput,
};
use vwifi_benches::CpuTime;
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

/// An unprotected 802.11 data frame (to the AP, LLC/SNAP, IPv4 payload) whose frame body (what
/// CCMP encrypts: LLC/SNAP and payload) is `body` bytes long.
fn data_mpdu(body: usize) -> Vec<u8> {
    let eth = EthernetFrame {
        dst: MacAddr([0x02, 0, 0, 0, 0, 3]),
        src: SPA,
        ethertype: EtherType::Ipv4,
        payload: vec![0xa5; body.saturating_sub(LLC_SNAP_LEN)].into(),
    };
    let mut out = Vec::new();
    eth.to_data(DsDirection::ToAp { bssid: AA }, None)
        .emit(&mut out);
    out
}

const LLC_SNAP_LEN: usize = 8;
/// Frames per call of the batch API in the `*-batch` benches.
const BATCH: usize = 8;

/// `mpdu` laid out for `ccmp::encrypt_in_place`: spare room for the CCMP header and MIC.
fn with_room(mpdu: &[u8]) -> Vec<u8> {
    let mut f = vec![0; ccmp::CCMP_HEADER_LEN];
    f.extend_from_slice(mpdu);
    f.resize(f.len() + ccmp::CCMP_MIC_LEN, 0);
    f
}

/// CCMP by frame-body size (the bytes encrypted; `benches/ccmp-vs-openssl.sh` compares the
/// 1472-byte figures, in CPU time, with `openssl speed -evp aes-128-ccm -bytes 1472`):
/// - `encrypt`, `decrypt`: one frame per call, the allocating API;
/// - `encrypt-into`, `decrypt-into`: one frame per call into a reused buffer (no allocation);
/// - `encrypt-batch`, `decrypt-batch`: `BATCH` frames per call, in place, their CBC-MAC chains
///   interleaved (the bytes are those of all the frames);
/// - `receive-one-by-one`, `receive-opened`: `BATCH` received frames (shared `Bytes`, as the
///   medium hands them over) to plaintext one by one with `decrypt`, and the data path's
///   batch: `ccmp::Opened::open` (copied, decrypted together) then each taken in turn;
/// - `ccm-crate`: the RustCrypto `ccm` crate on the same body and AAD, the implementation
///   vwifi used before (for the before/after ratio in one run).
fn ccmp_bench(c: &mut Criterion) {
    let tk = TemporalKey::from_bytes([0x11; 16]);
    let mut group = c.benchmark_group("ccmp");
    for size in [64usize, 512, 1472] {
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
        fast_paths(&mut group, &tk, size);
    }
    group.finish();
}

/// The same benches measured in the thread's CPU time, as `openssl speed` measures by
/// default: what `benches/ccmp-vs-openssl.sh` compares on a shared machine, where wall time
/// also counts the time other processes hold the core.
fn ccmp_cpu_bench(c: &mut Criterion<CpuTime>) {
    let tk = TemporalKey::from_bytes([0x11; 16]);
    let mut group = c.benchmark_group("ccmp-cpu");
    for size in [64usize, 512, 1472] {
        fast_paths(&mut group, &tk, size);
    }
    group.finish();
}

/// The allocation-free, batched and reference benches of one body size.
fn fast_paths<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, tk: &TemporalKey, size: usize) {
    let plain = data_mpdu(size);
    let sealed = ccmp::encrypt(tk, 0, 1, &plain).unwrap();
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_with_input(BenchmarkId::new("encrypt-into", size), &plain, |b, mpdu| {
        let mut pn = 0u64;
        let mut out = Vec::new();
        b.iter(|| {
            pn += 1;
            ccmp::encrypt_into(tk, 0, pn, black_box(mpdu), &mut out).unwrap();
        })
    });
    group.bench_with_input(
        BenchmarkId::new("decrypt-into", size),
        &sealed,
        |b, mpdu| {
            let mut out = Vec::new();
            b.iter(|| ccmp::decrypt_into(tk, black_box(mpdu), &mut out).unwrap())
        },
    );
    group.bench_with_input(BenchmarkId::new("ccm-crate", size), &plain, |b, mpdu| {
        use ccm::aead::{generic_array::GenericArray, AeadInPlace, KeyInit};
        type Ccm = ccm::Ccm<aes::Aes128, ccm::consts::U8, ccm::consts::U13>;
        let (aad, body) = mpdu.split_at(22);
        let mut buf = body.to_vec();
        b.iter(|| {
            // Keyed per frame, as vwifi did.
            let cipher = Ccm::new(GenericArray::from_slice(tk.expose()));
            buf.copy_from_slice(body);
            cipher
                .encrypt_in_place_detached(GenericArray::from_slice(&[7; 13]), aad, &mut buf)
                .unwrap()
        })
    });
    group.throughput(Throughput::Bytes((BATCH * size) as u64));
    batch_benches(group, tk, &with_room(&plain), &sealed, BATCH, size);
}

/// `encrypt-batch` and `decrypt-batch` with parameter `param`: `n` copies of `plain` (laid out
/// by [`with_room`]) sealed in place per call, and `n` copies of `sealed` opened in place.
fn batch_benches<M: Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    tk: &TemporalKey,
    plain: &[u8],
    sealed: &[u8],
    n: usize,
    param: usize,
) {
    group.bench_with_input(BenchmarkId::new("encrypt-batch", param), plain, |b, f| {
        let mut pn = 1u64;
        b.iter_batched_ref(
            || vec![f.to_vec(); n],
            |frames| {
                ccmp::encrypt_batch(tk, 0, pn, frames).unwrap();
                pn += n as u64;
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_with_input(BenchmarkId::new("decrypt-batch", param), sealed, |b, f| {
        b.iter_batched_ref(
            || vec![f.to_vec(); n],
            |frames| {
                ccmp::decrypt_batch(tk, frames, |_, r| {
                    r.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
}

/// The receive path's two ways from `BATCH` received frames to their plaintexts.
fn receive_paths<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, tk: &TemporalKey, size: usize) {
    let sealed = bytes::Bytes::from(ccmp::encrypt(tk, 0, 1, &data_mpdu(size)).unwrap());
    // Distinct buffers, as distinct frames are.
    let frames: Vec<bytes::Bytes> = (0..BATCH)
        .map(|_| bytes::Bytes::copy_from_slice(&sealed))
        .collect();
    group.throughput(Throughput::Bytes((BATCH * size) as u64));
    group.bench_with_input(
        BenchmarkId::new("receive-one-by-one", size),
        &frames,
        |b, frames| {
            b.iter(|| {
                for f in frames {
                    black_box(ccmp::decrypt(tk, f).unwrap());
                }
            })
        },
    );
    group.bench_with_input(
        BenchmarkId::new("receive-opened", size),
        &frames,
        |b, frames| {
            let mut opened = ccmp::Opened::new();
            b.iter(|| {
                opened.open(tk, frames);
                for f in frames {
                    black_box(opened.decrypt(tk, f).unwrap());
                }
                opened.clear();
            })
        },
    );
}

fn ccmp_receive_bench(c: &mut Criterion) {
    let tk = TemporalKey::from_bytes([0x11; 16]);
    let mut group = c.benchmark_group("ccmp-receive");
    for size in [512usize, 1472, 7935] {
        receive_paths(&mut group, &tk, size);
    }
    group.finish();
}

/// The frame-body length of a full A-MSDU on the bench's 20 MHz HE link (7 935 octets, what
/// `benches/e2e.sh` moves on channel 1).
const AMSDU_BODY: usize = 7935;

/// Batches of 1 to 25 A-MSDU-long frames per call, sealed in place and opened, in CPU time:
/// how the batch's length uses the lanes (a batch of 5 fills more lanes than 4 but may leave a
/// tail that runs alone). Throughput counts every frame's body.
fn ccmp_batch_length_bench(c: &mut Criterion<CpuTime>) {
    let tk = TemporalKey::from_bytes([0x11; 16]);
    let mut group = c.benchmark_group("ccmp-batch-length");
    let plain = data_mpdu(AMSDU_BODY);
    let roomy = with_room(&plain);
    let sealed = ccmp::encrypt(&tk, 0, 1, &plain).unwrap();
    for n in [1usize, 2, 4, 5, 6, 8, 16, 17, 25] {
        group.throughput(Throughput::Bytes((n * AMSDU_BODY) as u64));
        batch_benches(&mut group, &tk, &roomy, &sealed, n, n);
    }
    group.finish();
}

criterion_group!(benches, psk, ptk, ccmp_bench, ccmp_receive_bench);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = ccmp_cpu_bench, ccmp_batch_length_bench
}
criterion_main!(benches, cpu_benches);
