//! Running as a service: the systemd unit in `dist/` passes `systemd-analyze verify` (with the
//! man pages `vwifi-host gen` writes, which its `Documentation=` names), and the daemon tells
//! the service manager `READY=1` once it serves and `STOPPING=1` when it stops (`Type=notify`).

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
