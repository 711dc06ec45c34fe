//! WPA3 costs: SAE's password element (hunting-and-pecking, 40 rounds; hash-to-element's PT
//! per SSID and PWE per pair of addresses) and a whole SAE exchange per join (both roles'
//! commit and confirm, as a station and the soft AP spend them), beside WPA2's PBKDF2 for
//! scale.
//!
//! Run: `cargo bench -p vwifi-benches --bench sae`.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vwifi_core::crypto::{derive_psk, Passphrase};
use vwifi_core::handshake::sae::group::pwe_hunting_and_pecking;
use vwifi_core::handshake::sae::{Pt, Sae, SaeOutput, SaePassword, RETRY};
use vwifi_core::{Instant, MacAddr};

const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);
const PASSWORD: &str = "correct horse battery staple";

/// One SAE exchange between a fresh initiator and responder: commit, commit, confirm,
/// confirm. Returns whether both sides completed.
fn exchange(sta_pw: &SaePassword, ap_pw: &SaePassword, h2e: bool, rng: &mut ChaCha20Rng) -> bool {
    let now = Instant::ZERO;
    let mut sta = Sae::initiator(STA, AP, sta_pw.clone(), h2e, RETRY);
    let mut ap = Sae::responder(AP, STA, ap_pw.clone(), true, true, RETRY);
    if sta.start(now, rng).is_err() {
        return false;
    }
    for _ in 0..4 {
        while let Some(out) = sta.poll_output() {
            if let SaeOutput::Send(f) = out {
                let _ = ap.handle_frame(now, f.transaction, f.status, &f.body, rng);
            }
        }
        while let Some(out) = ap.poll_output() {
            if let SaeOutput::Send(f) = out {
                let _ = sta.handle_frame(now, f.transaction, f.status, &f.body, rng);
            }
        }
    }
    sta.is_accepted() && ap.is_accepted()
}

fn pwe(c: &mut Criterion) {
    let mut group = c.benchmark_group("sae-pwe");
    group.bench_function("hunting-and-pecking", |b| {
        b.iter(|| pwe_hunting_and_pecking(AP, STA, black_box(PASSWORD.as_bytes()), None))
    });
    group.bench_function("h2e-pt-per-ssid", |b| {
        b.iter(|| {
            Pt::derive(
                black_box(b"vwifi-lab"),
                black_box(PASSWORD.as_bytes()),
                None,
            )
        })
    });
    let pt = Pt::derive(b"vwifi-lab", PASSWORD.as_bytes(), None);
    group.bench_function("h2e-pwe-from-pt", |b| {
        b.iter(|| black_box(&pt).pwe(AP, STA))
    });
    group.finish();
}

fn join(c: &mut Criterion) {
    let mut group = c.benchmark_group("sae-join");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let pw = SaePassword::new(PASSWORD.as_bytes()).with_h2e(b"vwifi-lab");
    assert!(
        exchange(&pw, &pw, false, &mut rng),
        "the exchange completes"
    );
    group.bench_function("hunting-and-pecking", |b| {
        b.iter(|| exchange(&pw, &pw, false, &mut rng))
    });
    group.bench_function("hash-to-element", |b| {
        b.iter(|| exchange(&pw, &pw, true, &mut rng))
    });
    // For scale: the PSK derivation a WPA2 join with a passphrase costs.
    let pass = Passphrase::new(PASSWORD).unwrap();
    group.bench_function("wpa2-pbkdf2-4096", |b| {
        b.iter(|| derive_psk(black_box(&pass), black_box(b"vwifi-lab")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, pwe, join);
criterion_main!(benches);
