//! The hwsim radio from the outside, without a kernel radio: the `[hwsim]` table and `--hwsim`
//! as a user meets them. The radio itself, with real hostapd and wpa_supplicant, is checked in
//! the VM harness (`tests/vmharness/tests/hwsim-*.sh`, run by `selftest.sh`).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vwifi-host");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run vwifi-host")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `vwifi-host run --config` with `text`; must fail (exit status 1) saying `needle`.
fn assert_config_refused(text: &str, needle: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("host.toml");
    std::fs::write(&cfg, text).expect("write config");
    let socket = dir.path().join("host.sock");
    let o = run(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8 path"),
        "--socket",
        socket.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains(needle), "stderr: {}", stderr(&o));
    assert!(!socket.exists(), "no socket is left behind");
}

#[test]
fn bad_values_of_the_hwsim_table_name_their_field() {
    assert_config_refused(
        "[hwsim]\nmgmt_timeout_ms = 5\n",
        "hwsim.mgmt_timeout_ms: must be between 50 and 10000, got 5",
    );
    assert_config_refused(
        "[hwsim]\nbeacon_loss_count = 0\n",
        "hwsim.beacon_loss_count: must be between 1 and 1000, got 0",
    );
    assert_config_refused(
        "[hwsim]\n[[hwsim.radios]]\nindex = 1\nposition = [0.0, 0.0]\n\
         [[hwsim.radios]]\nindex = 1\nposition = [3.0, 0.0]\n",
        "hwsim.radios[1].index: radio 1 is listed twice",
    );
    assert_config_refused("[hwsim]\ncolour = 1\n", "colour");
    assert_config_refused("[hwsim]\nposition = [1.0]\n", "line 2, column 12");
}

#[test]
fn the_default_config_shows_the_hwsim_table_commented_out() {
    let o = run(&["run", "--print-default-config"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("# [hwsim]\n"), "{text}");
    assert!(text.contains("# [[hwsim.radios]]\n"), "{text}");
}

/// Without the kernel module there is no `MAC80211_HWSIM` family: the daemon stops at once
/// with an error that says what to load, and leaves no socket behind.
#[test]
#[ignore = "needs a kernel without mac80211_hwsim loaded (the VM harness covers the loaded case)"]
fn run_hwsim_without_the_module_says_what_to_load() {
    assert!(
        !Path::new("/sys/module/mac80211_hwsim").exists(),
        "mac80211_hwsim is loaded on this machine: this check needs a kernel without it \
         (and must not take the radios of whoever uses them)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("host.sock");
    let o = run(&[
        "run",
        "--hwsim",
        "--socket",
        socket.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cannot be the medium of the kernel's hwsim radios"),
        "{err}"
    );
    assert!(err.contains("modprobe mac80211_hwsim"), "{err}");
    assert!(!socket.exists(), "no socket is left behind");
}
