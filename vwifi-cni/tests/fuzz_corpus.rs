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

/// The podman network file the README shows is one this plugin accepts.
#[test]
fn the_readme_podman_network_file_parses() {
    let readme =
        fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let start = readme
        .find("```json\n{\n  \"cniVersion\"")
        .expect("the podman network file in README.md");
    let body = &readme[start + "```json\n".len()..];
    let body = &body[..body.find("```").unwrap()];
    let list: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(list["plugins"][0]["type"], "vwifi-cni");
    let mut plugin = list["plugins"][0].clone();
    plugin["cniVersion"] = list["cniVersion"].clone();
    plugin["name"] = list["name"].clone();
    let c = vwifi_cni::config::NetConf::parse(plugin.to_string().as_bytes()).unwrap();
    assert_eq!(c.ssid, "vwifi-lab");
    assert_eq!(c.ipam.as_deref(), Some("host-local"));
}
