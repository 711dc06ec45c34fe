//! `vhost-user-tap`'s command line: help, and bad input refused with a clear message before
//! anything is created. (Its data path is tested as root in
//! `vwifi-host/tests/vhost_user_frontend.rs` and in the VM harness check `nl80211-vm`; having
//! an integration test here also makes `cargo test` build the binary those use.)

use std::process::{Command, Output};

fn tap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vhost-user-tap"))
        .args(args)
        .output()
        .expect("run vhost-user-tap")
}

#[test]
fn help_names_every_option() {
    let out = tap(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--socket", "--mac", "--tap", "--netns"] {
        assert!(help.contains(option), "{option} missing from\n{help}");
    }
}

#[test]
fn a_bad_mac_is_refused_by_name() {
    let out = tap(&["--socket", "/nonexistent/vm.sock", "--mac", "02:00:zz"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mac"), "{err}");
}

#[test]
fn a_namespace_path_is_refused_before_any_tap_exists() {
    let out = tap(&[
        "--socket",
        "/nonexistent/vm.sock",
        "--mac",
        "02:00:00:00:01:00",
        "--netns",
        "../etc",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot enter the network namespace ../etc: not a namespace name"),
        "{err}"
    );
}
