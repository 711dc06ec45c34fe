//! A `vwifi-host run` under test: a temporary directory of its own (configuration, guest
//! socket, log, state directory), started, asked, restarted and stopped the same way by every
//! test file; killed when dropped.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{run_ok, status_json, wait_for_status, Netns, HOST};

/// How a [`TestDaemon`] runs.
#[derive(Clone, Default)]
pub(crate) struct Options {
    /// Configuration after the `[host]` table's `state_dir` line (more `[host]` keys first, if
    /// any, then other tables).
    pub(crate) config: String,
    /// Namespaces attached by the configuration (`[[attach]] netns = ...`, after `config`).
    pub(crate) attach: Vec<String>,
    /// `-v` or `-vv`, or nothing (the default `info`).
    pub(crate) verbosity: &'static str,
    /// `RUST_LOG` for the daemon (removed from its environment if `None`).
    pub(crate) rust_log: Option<&'static str>,
    /// The guest socket: empty for `host.sock` in the daemon's directory, relative to that
    /// directory, or absolute.
    pub(crate) socket: PathBuf,
    /// The network namespace the daemon runs in (`ip netns exec`), if not the test's.
    pub(crate) host_ns: Option<String>,
    /// The state directory, if not `state` in the daemon's directory.
    pub(crate) state_dir: Option<PathBuf>,
}

impl Options {
    /// The daemon's configuration `config` (see [`Options::config`]), other options default.
    pub(crate) fn config(config: impl Into<String>) -> Self {
        Self {
            config: config.into(),
            ..Self::default()
        }
    }

    /// These options, attaching `namespaces` too.
    pub(crate) fn attaching(mut self, namespaces: &[&Netns]) -> Self {
        self.attach.extend(namespaces.iter().map(|n| n.0.clone()));
        self
    }

    /// These options, logging with `flag` (`-v`, `-vv`, or `""`).
    pub(crate) fn verbosity(mut self, flag: &'static str) -> Self {
        self.verbosity = flag;
        self
    }
}

/// A running `vwifi-host run` (see the module's documentation).
pub(crate) struct TestDaemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    config: PathBuf,
    options: Options,
    /// Logs of the daemons started before a restart.
    old_logs: String,
    dir: tempfile::TempDir,
}

impl TestDaemon {
    /// Writes the configuration and starts the daemon; does not wait for it.
    pub(crate) fn spawn(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // A state directory of its own: as root the default (/var/lib/vwifi) is shared, and
        // its lock admits one daemon at a time.
        let state = (options.state_dir.clone()).unwrap_or_else(|| dir.path().join("state"));
        let mut config = format!(
            "[host]\nstate_dir = \"{}\"\n{}",
            state.display(),
            options.config
        );
        for ns in &options.attach {
            config.push_str(&format!("[[attach]]\nnetns = \"{ns}\"\n"));
        }
        let config_path = dir.path().join("host.toml");
        std::fs::write(&config_path, config).expect("config");
        let socket = if options.socket.as_os_str().is_empty() {
            dir.path().join("host.sock")
        } else {
            dir.path().join(&options.socket)
        };
        let mut daemon = Self {
            child: Command::new("true").spawn().expect("true"),
            socket,
            log: dir.path().join("daemon.log"),
            config: config_path,
            options,
            old_logs: String::new(),
            dir,
        };
        daemon.run();
        daemon
    }

    /// [`TestDaemon::spawn`], then waits (30 s at most) until it answers `status`.
    pub(crate) fn start(options: Options) -> Self {
        let daemon = Self::spawn(options);
        daemon.wait_for(Duration::from_secs(30), "the daemon to answer", |_| true);
        daemon
    }

    /// [`TestDaemon::start`], then waits until every namespace of the configuration is a guest.
    pub(crate) fn start_attached(options: Options) -> Self {
        let n = options.attach.len();
        let daemon = Self::spawn(options);
        daemon.wait_guests(Duration::from_secs(30), n);
        daemon
    }

    fn run(&mut self) {
        let _ = self.child.wait();
        let mut cmd = match &self.options.host_ns {
            // `ip netns exec` execs the daemon: the child's pid is the daemon's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, HOST]);
                c
            }
            None => Command::new(HOST),
        };
        cmd.arg("run");
        if !self.options.verbosity.is_empty() {
            cmd.arg(self.options.verbosity);
        }
        match self.options.rust_log {
            Some(filter) => cmd.env("RUST_LOG", filter),
            None => cmd.env_remove("RUST_LOG"),
        };
        self.child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&self.log).expect("log file"))
            .spawn()
            .expect("run vwifi-host");
    }

    /// Stops the daemon with `signal` (`TERM` must end it cleanly) and starts it again with the
    /// same configuration, state directory and socket; does not wait for it.
    pub(crate) fn restart(&mut self, signal: &str) {
        self.signal(signal);
        self.run();
    }

    /// Stops the daemon with SIGTERM; it must exit cleanly.
    pub(crate) fn stop(&mut self) {
        self.signal("TERM");
    }

    /// Kills the daemon (SIGKILL), keeping its log for [`TestDaemon::all_logs`].
    pub(crate) fn kill(&mut self) {
        self.signal("KILL");
    }

    /// Starts the daemon again after [`TestDaemon::stop`] or [`TestDaemon::kill`].
    pub(crate) fn respawn(&mut self) {
        self.run();
    }

    fn signal(&mut self, signal: &str) {
        run_ok(Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]));
        let status = self.child.wait().expect("wait");
        if signal == "TERM" {
            assert!(status.success(), "SIGTERM: {status}: {}", self.log_text());
        }
        self.old_logs.push_str(&self.log_text());
    }

    /// Whether the daemon still runs.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How the daemon ended, if it has.
    pub(crate) fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// The daemon's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The guest socket.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// The control socket (`SOCKET.ctl`).
    pub(crate) fn ctl(&self) -> PathBuf {
        let mut s = self.socket.as_os_str().to_owned();
        s.push(".ctl");
        PathBuf::from(s)
    }

    /// A path in the daemon's temporary directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The log of the daemon running now.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every log of this daemon and of those before its restarts.
    pub(crate) fn all_logs(&self) -> String {
        format!("{}{}", self.old_logs, self.log_text())
    }

    /// `vwifi-host status --json`, if it answers with JSON.
    pub(crate) fn status(&self) -> Option<serde_json::Value> {
        status_json(&self.socket)
    }

    /// The guests of the status (none if it does not answer).
    pub(crate) fn guests(&self) -> Vec<serde_json::Value> {
        self.status()
            .and_then(|s| s["guests"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The guest named `name` (`netns:NS`, `vm:NAME`, ...) of the status.
    pub(crate) fn guest(&self, name: &str) -> Option<serde_json::Value> {
        self.guests()
            .into_iter()
            .find(|g| g["name"].as_str() == Some(name))
    }

    /// Polls the status until `f` holds for it (see [`wait_for_status`]).
    pub(crate) fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_for_status(&self.socket, limit, what, f, || self.all_logs())
    }

    /// Waits until the daemon has `n` guests.
    pub(crate) fn wait_guests(&self, limit: Duration, n: usize) -> serde_json::Value {
        self.wait_for(limit, &format!("{n} guests"), |s| {
            s["guests"].as_array().map_or(0, Vec::len) == n
        })
    }

    /// `vwifi-host ARGS --socket SOCKET`.
    pub(crate) fn host(&self, args: &[&str]) -> Output {
        Command::new(HOST)
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .expect("vwifi-host")
    }

    /// One request line on the control socket, its one answer line, parsed.
    pub(crate) fn ask(&self, request: &str) -> serde_json::Value {
        let mut s = UnixStream::connect(self.ctl()).expect("connect to the control socket");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        writeln!(s, "{request}").expect("request");
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .expect("an answer line");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
    }

    /// The daemon's resident memory, KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        super::rss_kib(self.pid())
    }

    /// Waits up to `limit` for the guest `name` to be gone; how long it took.
    pub(crate) fn wait_gone(&self, name: &str, limit: Duration) -> Duration {
        let t0 = Instant::now();
        self.wait_for(limit, &format!("{name} to be gone"), |s| {
            !s["guests"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["name"].as_str() == Some(name)))
        });
        t0.elapsed()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Declares `struct NAME(TestDaemon)` dereferencing to it: a test file's daemon, which adds
/// the methods that file asks of it. (Not every test binary uses it.)
#[allow(unused_macros)]
macro_rules! wrapper {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        struct $name(common::TestDaemon);

        impl std::ops::Deref for $name {
            type Target = common::TestDaemon;

            fn deref(&self) -> &common::TestDaemon {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut common::TestDaemon {
                &mut self.0
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use wrapper;
