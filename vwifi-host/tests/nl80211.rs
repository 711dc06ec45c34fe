//! The nl80211 radio (`[radio] kind = "nl80211"`).
//!
//! Without a card: the daemon refuses to start with an error naming the radio, never a panic.
//! With the VM harness (root, qemu; `sudo tests/vmharness/setup.sh` first): real
//! mac80211_hwsim cards, real hostapd serving two WPA2 networks, three network-namespace
//! guests through the nl80211 radio (`tests/vmharness/tests/nl80211-radio.sh`, which checks
//! discovery, interfaces, scan, joins, a wrong passphrase, data, the AP's disappearance, and
//! SIGKILL + restart). Needs the `vwifi-guest` binary next to `vwifi-host` (`cargo build -p
//! vwifi-guest`, or `cargo build --workspace`).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{guest_bin, HOST};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

#[test]
fn a_card_that_is_not_there_is_an_error_naming_the_radio_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("host.toml");
    std::fs::write(
        &cfg,
        "[radio]\nkind = \"nl80211\"\nifname = \"no-such-wlan9\"\n",
    )
    .unwrap();
    let out = Command::new(HOST)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--socket")
        .arg(dir.path().join("host.sock"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot start the nl80211 radio"),
        "{stderr}"
    );
    // Either the kernel has no nl80211 here, or it has and the card is missing.
    assert!(
        stderr.contains("no usable nl80211 family") || stderr.contains("no-such-wlan9"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
#[ignore = "needs the VM harness: root, qemu and `sudo tests/vmharness/setup.sh`"]
fn three_guests_through_the_nl80211_radio_against_real_hostapd() {
    let root = repo();
    let harness = std::env::var_os("VWIFI_HARNESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/vwifi-harness"));
    assert!(
        harness.join("vmlinux").exists() || harness.join("vmlinuz").exists(),
        "no VM harness in {}: run `sudo tests/vmharness/setup.sh` first",
        harness.display()
    );
    let out = Command::new(root.join("tests/vmharness/run-vm.sh"))
        .arg("-d")
        .arg(&harness)
        .args(["-t", "240"])
        .arg("-f")
        .arg(format!("{HOST}:/opt/vwifi-host"))
        .arg("-f")
        .arg(format!("{}:/opt/vwifi-guest", guest_bin().display()))
        .arg(root.join("tests/vmharness/tests/nl80211-radio.sh"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    let steps: Vec<&str> = log.lines().filter(|l| l.contains("STEP")).collect();
    for s in &steps {
        eprintln!("{s}");
    }
    assert!(
        out.status.success() && log.contains("nl80211-radio: OK"),
        "the VM check failed:\n{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(steps.len(), 7, "every step reported ok: {steps:?}");
}
