//! A VM's data path without a VM: `vhost-user-tap` (vwifi-transport-virtio's vhost-user
//! frontend, the VMM's side) connects to the socket of `vwifi-host vhost-user` as QEMU would,
//! and bridges the NIC to a TAP in a network namespace. There `vwifi-guest --link` joins the
//! WPA2 network in-band, as inside a VM, and pings a namespace guest on the same network.
//!
//! Needs root (network namespaces, TAPs), `ip` and `ping`, and the `vwifi-guest` and
//! `vhost-user-tap` binaries next to `vwifi-host` (`cargo build -p vwifi-guest -p
//! vwifi-transport-virtio`); ignored otherwise (`.ci/run` runs ignored tests as root). No QEMU:
//! it takes seconds.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{guest_bin, run_ok, text, Netns, Options, TestDaemon, HOST, LAB_PASSPHRASE};

/// The frontend binary of the same target directory as `vwifi-host`.
fn frontend_bin() -> PathBuf {
    let path = Path::new(HOST).with_file_name("vhost-user-tap");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p vwifi-transport-virtio` first",
        path.display()
    );
    path
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `limit` for `f`, failing with `what` and `logs()`.
fn wait_until(limit: Duration, what: &str, f: impl Fn() -> bool, logs: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} for {what}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// In `ns`, waits for `ifname`, joins `vwifi-lab` in-band over it and gives it `addr`.
fn join_lab_on(ns: &Netns, ifname: &str, addr: &str, logs: impl Fn() -> String) {
    wait_until(
        Duration::from_secs(10),
        &format!("{ifname} in {}", ns.0),
        || ns.exec("ip", &["link", "show", ifname]).status.success(),
        &logs,
    );
    let out = ns.exec(
        guest_bin(),
        &[
            "--link",
            ifname,
            "connect",
            "vwifi-lab",
            "--passphrase",
            LAB_PASSPHRASE,
        ],
    );
    assert!(out.status.success(), "{}\n{}", text(&out), logs());
    assert!(ns
        .exec("ip", &["addr", "add", addr, "dev", ifname])
        .status
        .success());
}

#[test]
#[ignore = "needs root (namespaces, TAPs); .ci/run runs ignored tests as root"]
fn a_vhost_user_frontend_in_a_namespace_joins_over_in_band_control_and_pings() {
    let started = Instant::now();
    let frontend = frontend_bin();
    let peer = Netns::new("vufp");
    let vm = Netns::new("vufv");
    // The daemon on the simulated radio, the namespace guest attached by its config.
    let daemon = TestDaemon::start_attached(Options::default().attaching(&[&peer]).verbosity("-v"));
    let socket = daemon.socket();
    let logs = || daemon.log_text();
    join_lab_on(&peer, "wlan0", "10.99.0.2/24", logs);

    // The VM's port, at runtime; its station's MAC goes to the frontend.
    let vm_socket = daemon.path("vm1.sock");
    let out = run_ok(
        Command::new(HOST)
            .args(["vhost-user", "--name", "vm1", "--socket"])
            .arg(&vm_socket)
            .arg("--daemon-socket")
            .arg(socket),
    );
    let printed = text(&out);
    let mac = printed
        .split("station ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no station in {printed}"))
        .to_owned();
    let frontend_log = daemon.path("frontend.log");
    let mut tap = Killed(
        Command::new(&frontend)
            .arg("--socket")
            .arg(&vm_socket)
            .args(["--mac", &mac, "--tap", "vu0", "--netns", &vm.0])
            .stdin(Stdio::null())
            .stdout(File::create(&frontend_log).expect("frontend log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("vhost-user-tap"),
    );
    let both_logs = || {
        format!(
            "frontend:\n{}\ndaemon:\n{}",
            std::fs::read_to_string(&frontend_log).unwrap_or_default(),
            logs()
        )
    };
    let joining = Instant::now();
    join_lab_on(&vm, "vu0", "10.99.0.3/24", both_logs);
    let joined = joining.elapsed();
    let mac_on_tap = vm.exec("cat", &["/sys/class/net/vu0/address"]);
    assert_eq!(
        text(&mac_on_tap).trim(),
        mac,
        "the TAP has the station's MAC"
    );
    let ping = vm.exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.99.0.2"]);
    assert!(ping.status.success(), "{}\n{}", text(&ping), both_logs());
    let status = daemon.status().expect("status");
    let vm_guest = status["guests"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"].as_str() == Some("vm:vm1")))
        .unwrap_or_else(|| panic!("no vm:vm1 in {status}"));
    assert_eq!(vm_guest["mac"].as_str(), Some(mac.as_str()), "{status}");

    // The frontend going ends the VM's session, as a VM's shutdown would.
    let _ = tap.0.kill();
    wait_until(
        Duration::from_secs(10),
        "the session to end",
        || logs().contains("vhost-user session ended"),
        logs,
    );
    assert!(!logs().contains(LAB_PASSPHRASE), "a passphrase in the logs");
    eprintln!(
        "TIMING: joined over vhost-user in {joined:?}; the whole test {:?}",
        started.elapsed()
    );
}
