//! Running as a service: the systemd unit in `dist/` passes `systemd-analyze verify` (with the
//! man pages `vwifi-host gen` writes, which its `Documentation=` names), and the daemon tells
//! the service manager `READY=1` once it serves and `STOPPING=1` when it stops (`Type=notify`),
//! and the capabilities the unit grants are enough to attach a process's namespace (the daemon
//! run under `setpriv` with exactly those).

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{run_ok, text, HOST};

#[test]
#[ignore = "needs systemd-analyze (systemd); CI runs ignored tests"]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(Command::new(HOST).args(["gen", "--dir"]).arg(dir.path()));
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/vwifi-host.service"),
    )
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("StateDirectory=vwifi"));
    assert!(!unit.contains("User=") || unit.contains("CapabilityBoundingSet="));
    // The unit names /usr/bin/vwifi-host, which verify requires to exist: the one built here.
    let path = dir.path().join("vwifi-host.service");
    std::fs::write(&path, unit.replace("/usr/bin/vwifi-host", HOST)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("MANPATH", dir.path().join("man"))
        .output()
        .expect("systemd-analyze");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("vwifi-host.service:"),
        "warnings: {}",
        text(&out)
    );
}

#[test]
fn the_daemon_notifies_readiness_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let listener = UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut child = Command::new(HOST)
        .args(["run", "--socket"])
        .arg(dir.path().join("host.sock"))
        .env("NOTIFY_SOCKET", &notify)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).expect("READY=1");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means serving: the control socket answers.
    run_ok(
        Command::new(HOST)
            .args(["status", "--socket"])
            .arg(dir.path().join("host.sock")),
    );
    run_ok(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let n = listener.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}

/// The capabilities the unit grants (`CapabilityBoundingSet=`), as setpriv names them.
fn unit_capabilities() -> Vec<String> {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/vwifi-host.service"),
    )
    .unwrap();
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet=");
    line.split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect()
}

/// `vwifi-host run` with only `caps` (bounding, inheritable and ambient sets, as the unit's
/// `CapabilityBoundingSet=` and `AmbientCapabilities=` leave it), then `attach --pid` of a
/// process in a new namespace: the attach's output.
fn attach_with_capabilities(caps: &[String]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("host.sock");
    let set = format!(
        "-all,{}",
        caps.iter()
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut daemon = Command::new("setpriv")
        .arg(format!("--bounding-set={set}"))
        .arg(format!("--inh-caps={set}"))
        .arg(format!("--ambient-caps={set}"))
        .arg(HOST)
        .args(["run", "--socket"])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("setpriv (util-linux)");
    let mut sandbox = Command::new("unshare")
        .args(["-n", "sleep", "60"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let ctl = dir.path().join("host.sock.ctl");
    while !ctl.exists() {
        assert!(std::time::Instant::now() < deadline, "no daemon");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let out = Command::new(HOST)
        .args(["attach", "--pid", &sandbox.id().to_string(), "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let _ = daemon.kill();
    let _ = daemon.wait();
    out
}

#[test]
#[ignore = "needs root and setpriv; CI runs ignored tests as root"]
fn the_units_capabilities_are_enough_and_attach_by_pid_needs_ptrace() {
    let caps = unit_capabilities();
    assert!(caps.contains(&"sys_admin".to_owned()), "{caps:?}");
    let out = attach_with_capabilities(&caps);
    assert!(out.status.success(), "{}", text(&out));
    // Without CAP_SYS_PTRACE another process's namespace cannot be opened: the refusal says
    // which capability is missing.
    let fewer: Vec<String> = caps.into_iter().filter(|c| c != "sys_ptrace").collect();
    let out = attach_with_capabilities(&fewer);
    assert!(!out.status.success());
    assert!(text(&out).contains("CAP_SYS_PTRACE"), "{}", text(&out));
}
