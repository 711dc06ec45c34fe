//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same entry points
//! the cargo-fuzz targets call, on stable Rust. Also checks that the corpus holds the seed
//! inputs of `vwifi_core::testing::fuzz::seeds`; `VWIFI_BLESS_CORPUS=1` writes missing seeds.

use std::fs;
use std::path::PathBuf;

use vwifi_core::testing::fuzz::{seeds, TARGETS};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn corpus_holds_every_seed() {
    let bless = std::env::var_os("VWIFI_BLESS_CORPUS").is_some();
    let mut missing = Vec::new();
    for (target, name, bytes) in seeds() {
        let dir = corpus_dir(target);
        let path = dir.join(format!("seed-{name}"));
        if fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        if bless {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &bytes).unwrap();
        } else {
            missing.push(path.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "seed inputs missing or stale in the corpus (write them with \
         `VWIFI_BLESS_CORPUS=1 cargo test -p vwifi-core --test fuzz_corpus`): {missing:#?}"
    );
}

#[test]
fn replays_the_committed_corpus() {
    let mut total = 0;
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let entries = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {} unreadable: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{target}: input {} fails", path.display());
            n += 1;
        }
        assert!(n > 0, "{target}: the corpus in {} is empty", dir.display());
        total += n;
    }
    eprintln!("replayed {total} corpus inputs");
}

/// A stable stand-in for a short fuzzing run of the `sae` target: every SAE seed, truncated at
/// each length and with single bytes flipped, goes through the entry point without a panic.
#[test]
fn sae_seed_mutations_do_not_panic() {
    let mut n = 0;
    for (target, _, seed) in seeds() {
        if target != "sae" {
            continue;
        }
        for len in (0..seed.len()).step_by(7) {
            vwifi_core::testing::fuzz::sae(&seed[..len]);
            n += 1;
        }
        for i in (1..seed.len()).step_by(11) {
            for flip in [0x01, 0x80, 0xff] {
                let mut m = seed.clone();
                m[i] ^= flip;
                vwifi_core::testing::fuzz::sae(&m);
                n += 1;
            }
        }
        // Other selectors: the body read as the other frame kinds and statuses.
        for selector in 0..8u8 {
            let mut m = seed.clone();
            m[0] = selector;
            vwifi_core::testing::fuzz::sae(&m);
            n += 1;
        }
    }
    assert!(n > 100, "only {n} mutations ran");
}
