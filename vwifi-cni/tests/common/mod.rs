//! What the plugin's root tests share: the binaries, a daemon on a socket of its own.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The plugin under test.
pub(crate) const PLUGIN: &str = env!("CARGO_BIN_EXE_vwifi-cni");

/// The passphrase of the demo network `vwifi-lab`.
pub(crate) const LAB_PASSPHRASE: &str = "correct horse battery staple";

/// `vwifi-host`, built beside the plugin.
pub(crate) fn host_bin() -> PathBuf {
    sibling("vwifi-host")
}

/// A binary of the workspace built beside the plugin (`cargo build -p NAME`).
pub(crate) fn sibling(name: &str) -> PathBuf {
    let p = Path::new(PLUGIN).with_file_name(name);
    assert!(
        p.exists(),
        "{} is missing: cargo build -p {name}",
        p.display()
    );
    p
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A daemon on a socket of its own; killed when dropped.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) socket: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("host.sock");
        let log = dir.path().join("daemon.log");
        let config = dir.path().join("host.toml");
        std::fs::write(
            &config,
            format!(
                "[host]\nstate_dir = \"{}\"\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
        let child = Command::new(host_bin())
            .args(["run", "-vv", "--config"])
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let d = Self {
            child,
            socket,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d.ctl().exists() {
            assert!(Instant::now() < deadline, "no daemon: {}", d.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub(crate) fn ctl(&self) -> PathBuf {
        PathBuf::from(format!("{}.ctl", self.socket.display()))
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `vwifi-host ARGS --socket SOCKET`.
    pub(crate) fn host(&self, args: &[&str]) -> Output {
        Command::new(host_bin())
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .unwrap()
    }

    /// The guests of the status, as JSON text.
    pub(crate) fn guests(&self) -> String {
        let status = text(
            &Command::new(host_bin())
                .args(["status", "--json", "--socket"])
                .arg(&self.socket)
                .output()
                .unwrap(),
        );
        // Only the guests: the radio's details name namespaces that went away too.
        serde_json::from_str::<serde_json::Value>(&status)
            .map(|v| v["guests"].to_string())
            .unwrap_or(status)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
