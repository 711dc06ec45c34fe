//! Helpers shared by the host's tests (`netns.rs`, `vhost_user.rs`, `nl80211.rs`, `daemon.rs`,
//! `lab.rs`, ...): the binaries under test, network namespaces that clean up after themselves,
//! commands that must succeed, a daemon under test ([`daemon`]) and a socket guest ([`guest`]).
//! Each test binary uses a part of it.
#![allow(dead_code)]

pub(crate) mod daemon;
pub(crate) mod guest;

// Each test binary uses a part of this module: not every one starts a daemon.
#[allow(unused_imports)]
pub(crate) use daemon::{Options, TestDaemon};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `vwifi-host` binary under test.
pub(crate) const HOST: &str = env!("CARGO_BIN_EXE_vwifi-host");

/// The passphrase of the demo network `vwifi-lab`.
pub(crate) const LAB_PASSPHRASE: &str = "correct horse battery staple";

/// The `vwifi-guest` binary of the same target directory and profile as `vwifi-host`.
pub(crate) fn guest_bin() -> PathBuf {
    let path = Path::new(HOST).with_file_name("vwifi-guest");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p vwifi-guest` first",
        path.display()
    );
    path
}

/// A network namespace with a unique name (`vwt-TAG-PID-N`), deleted when dropped.
pub(crate) struct Netns(pub(crate) String);

impl Netns {
    /// `ip netns add` a new namespace.
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "vwt-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Self(name)
    }

    /// `ip netns exec NAME program args...`.
    pub(crate) fn exec(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(program)
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Starts a one-off iperf3 server (`iperf3 -s -1 -D`) in this namespace and returns once it
    /// listens on port 5201; first waits for the last one-off server to be gone (it exits
    /// after its test, but not at once). A fixed sleep was too short on a loaded machine.
    pub(crate) fn iperf3_server_once(&self) {
        let listening = || {
            let out = self.exec("ss", &["-Hltn", "sport = :5201"]);
            !String::from_utf8_lossy(&out.stdout).trim().is_empty()
        };
        let wait = |want: bool, what: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while listening() != want {
                assert!(
                    std::time::Instant::now() < deadline,
                    "iperf3 server in {}: {what}",
                    self.0
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        };
        wait(false, "the last one-off server did not exit within 10 s");
        run_ok(
            Command::new("ip")
                .args(["netns", "exec", &self.0])
                .args(["iperf3", "-s", "-1", "-D"]),
        );
        wait(true, "not listening on port 5201 within 10 s");
    }

    /// Pins `ip` to `mac` on `wlan0` (a permanent neighbour entry): traffic to it keeps going
    /// out to that MAC while nothing answers ARP.
    pub(crate) fn pin_neighbour(&self, ip: &str, mac: &str) {
        let out = self.exec(
            "ip",
            &[
                "neigh",
                "replace",
                ip,
                "lladdr",
                mac,
                "dev",
                "wlan0",
                "nud",
                "permanent",
            ],
        );
        assert!(out.status.success(), "neighbour: {}", text(&out));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs `cmd`, which must succeed; its output.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    out
}

/// Standard output and error of a command, as text.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Mbit/s the receiver got in an `iperf3 -c ... -J` run, or what is wrong with the run, with
/// iperf3's whole output (it failed, its report is not JSON, or the report lacks
/// `end.sum_received`).
pub(crate) fn iperf3_received_mbits(out: &Output) -> Result<f64, String> {
    if !out.status.success() {
        return Err(format!("iperf3 failed ({}): {}", out.status, text(out)));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("iperf3's report is not JSON ({e}): {}", text(out)))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e6)
        .ok_or_else(|| {
            format!(
                "iperf3's report has no end.sum_received.bits_per_second: {}",
                text(out)
            )
        })
}

/// `vwifi-host status --json` of the daemon at `socket`, if it answers with JSON.
pub(crate) fn status_json(socket: &Path) -> Option<serde_json::Value> {
    let out = Command::new(HOST)
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls the status of the daemon at `socket` every 50 ms until `f` holds for it, and returns
/// it; after `limit`, fails naming `what`, with the last status and `logs()` (the daemon's).
pub(crate) fn wait_for_status(
    socket: &Path,
    limit: std::time::Duration,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
    logs: impl Fn() -> String,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = status_json(socket).filter(|s| f(s)) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {limit:?} for {what}: {:?}\n{}",
            status_json(socket),
            logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The resident memory of process `pid` (`VmRSS` of `/proc/PID/status`), KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The drop counter `name` of a guest of a status (its `dropped` pairs), 0 if it has none.
pub(crate) fn drop_count(guest: &serde_json::Value, name: &str) -> u64 {
    guest["dropped"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r[0] == name))
        .and_then(|r| r[1].as_u64())
        .unwrap_or(0)
}
