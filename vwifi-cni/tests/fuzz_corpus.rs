//! Replays the committed fuzz corpus of the `cni_config` target (`fuzz/corpus/cni_config/*`)
//! through [`vwifi_cni::fuzz_config`], on stable Rust: every input parses or fails, none panics.

use std::fs;
use std::path::PathBuf;

#[test]
fn replays_the_cni_config_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/cni_config");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let run = std::panic::catch_unwind(|| vwifi_cni::fuzz_config(&data));
        assert!(run.is_ok(), "input {} panics", path.display());
        n += 1;
    }
    assert!(n >= 5, "the corpus in {} has {n} inputs", dir.display());
    // The seeds are what they say: the full configuration parses, the bad one does not.
    let parse = |name: &str| vwifi_cni::config::NetConf::parse(&fs::read(dir.join(name)).unwrap());
    assert!(parse("seed-full").is_ok());
    assert!(parse("seed-psk-file").is_ok());
    assert!(parse("seed-bad").is_err());
}
