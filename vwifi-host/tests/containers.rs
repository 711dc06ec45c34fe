//! Namespaces the way container engines leave them: attached by process (`attach --pid`) and by
//! namespace file (`attach --netns-path`, `/proc/PID/ns/net` or a bind mount), joined to the
//! WPA2 demo network, pinging each other; the station removed within a second of the
//! namespace's last process exiting (or its bind mount going), with no `detach`; a namespace
//! attached by PID that died while the daemon was stopped forgotten at the next start.
//!
//! Needs root, `unshare`, `nsenter`, `mount`, `ip` and `ping`, and the `vwifi-guest` binary
//! next to `vwifi-host` (`cargo build -p vwifi-guest`); ignored otherwise (CI runs ignored
//! tests as root).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{guest_bin, run_ok, text, Options, TestDaemon, HOST, LAB_PASSPHRASE};

/// How soon a dead namespace's station must be gone.
const GONE_WITHIN: Duration = Duration::from_secs(1);

common::daemon::wrapper! {
    /// A daemon logging at trace level ([`TestDaemon`]), and what these tests ask of it.
    Daemon
}

impl Daemon {
    fn start() -> Self {
        Self(TestDaemon::start(Options::default().verbosity("-vv")))
    }

    /// Starts it again after [`TestDaemon::stop`], once it answers.
    fn spawn(&mut self) {
        self.respawn();
        self.wait_for(Duration::from_secs(20), "the daemon to answer", |_| true);
    }

    /// `vwifi-host attach ARGS`, which must succeed.
    fn attach(&self, args: &[&str]) -> String {
        let mut all = vec!["attach"];
        all.extend(args);
        let out = self.host(&all);
        assert!(out.status.success(), "attach {args:?}: {}", text(&out));
        text(&out)
    }

    /// The names of the guests.
    fn guest_names(&self) -> Vec<String> {
        self.guests()
            .iter()
            .filter_map(|g| g["name"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A process alone in a new network namespace (`unshare -n sleep`); killed when dropped.
struct Sandbox(Child);

impl Sandbox {
    fn new() -> Self {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .spawn()
            .expect("unshare");
        let s = Self(child);
        // Until unshare has made the namespace, the process is still in ours.
        let own = std::fs::metadata("/proc/self/ns/net").map(|m| ino(&m));
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(s.ns()).map(|m| ino(&m)).ok() == own.as_ref().ok().copied() {
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(10));
        }
        s
    }

    /// A second process in the same namespace (`nsenter -n sleep`).
    fn join(&self) -> Child {
        Command::new("nsenter")
            .args(["-t", &self.pid().to_string(), "-n", "sleep", "600"])
            .spawn()
            .expect("nsenter")
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn ns(&self) -> String {
        format!("/proc/{}/ns/net", self.pid())
    }

    /// `nsenter -t PID -n program args...`.
    fn exec(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.pid().to_string(), "-n"])
            .arg(program)
            .args(args)
            .output()
            .expect("nsenter")
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ino(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    m.ino()
}

/// A file with a namespace bind-mounted on it; unmounted and removed when dropped.
struct BindMount(PathBuf);

impl BindMount {
    fn new(dir: &Path, ns: &str) -> Self {
        let path = dir.join("netns-bind");
        File::create(&path).expect("mount point");
        run_ok(Command::new("mount").arg("--bind").arg(ns).arg(&path));
        Self(path)
    }

    fn unmount(&self) {
        run_ok(Command::new("umount").arg(&self.0));
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Joins the demo WPA2 network from `sb`'s `wlan0` and gives it `cidr`.
fn join_lab(sb: &Sandbox, cidr: &str) {
    let out = sb.exec(
        guest_bin(),
        &[
            "--link",
            "wlan0",
            "connect",
            "vwifi-lab",
            "--passphrase",
            LAB_PASSPHRASE,
        ],
    );
    assert!(out.status.success(), "connect: {}", text(&out));
    let out = sb.exec("ip", &["addr", "add", cidr, "dev", "wlan0"]);
    assert!(out.status.success(), "ip addr: {}", text(&out));
}

#[test]
#[ignore = "needs root, unshare and nsenter; CI runs ignored tests as root"]
fn namespaces_attached_by_pid_and_by_path_join_ping_and_go_when_their_processes_exit() {
    let daemon = Daemon::start();
    let mut a = Sandbox::new();
    let mut b = Sandbox::new();
    let out = daemon.attach(&["--pid", &a.pid().to_string()]);
    assert!(out.contains(&a.ns()), "{out}");
    daemon.attach(&["--netns-path", &b.ns()]);
    let (name_a, name_b) = (format!("netns:{}", a.ns()), format!("netns:{}", b.ns()));
    let guests = daemon.guest_names();
    assert!(
        guests.contains(&name_a) && guests.contains(&name_b),
        "{guests:?}"
    );
    assert!(a.exec("ip", &["link", "show", "wlan0"]).status.success());

    // From the host: a wrong passphrase is refused with its cause, the right one joins.
    let join = |passphrase: &str| {
        use std::io::Write as _;
        let mut child = Command::new(HOST)
            .args(["join", "--pid", &a.pid().to_string(), "vwifi-lab"])
            .args(["--passphrase-stdin", "--socket"])
            .arg(daemon.socket())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vwifi-host join");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{passphrase}").expect("passphrase");
        drop(stdin);
        child.wait_with_output().expect("join")
    };
    let wrong = join("not the lab passphrase");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("wrong passphrase"),
        "{}",
        text(&wrong)
    );
    let right = join(LAB_PASSPHRASE);
    assert!(right.status.success(), "{}", text(&right));
    assert!(
        text(&right).contains("joined vwifi-lab"),
        "{}",
        text(&right)
    );
    let out = a.exec("ip", &["addr", "add", "10.77.0.1/24", "dev", "wlan0"]);
    assert!(out.status.success(), "ip addr: {}", text(&out));
    join_lab(&b, "10.77.0.2/24");
    let ping = a.exec("ping", &["-c", "3", "-i", "0.2", "-W", "3", "10.77.0.2"]);
    assert!(ping.status.success(), "ping: {}", text(&ping));

    // A second process keeps a's namespace alive when the first exits.
    let mut other = a.join();
    std::thread::sleep(Duration::from_millis(200));
    a.kill();
    std::thread::sleep(GONE_WITHIN + Duration::from_millis(500));
    assert!(
        daemon.guest_names().contains(&name_a),
        "a namespace with a process left lost its station: {}",
        daemon.log_text()
    );
    let _ = other.kill();
    let _ = other.wait();
    let took = daemon.wait_gone(&name_a, GONE_WITHIN);
    eprintln!("station of a namespace gone {took:?} after its last process exited");

    b.kill();
    let took = daemon.wait_gone(&name_b, GONE_WITHIN);
    eprintln!("station of a namespace attached by path gone {took:?} after its process exited");
    // Forgotten too: not in the state file.
    let state = std::fs::read_to_string(daemon.path("state/state.json")).unwrap_or_default();
    assert!(!state.contains("/proc/"), "{state}");
}

#[test]
#[ignore = "needs root, unshare, nsenter and mount; CI runs ignored tests as root"]
fn a_bind_mounted_namespace_lives_until_it_is_unmounted() {
    let daemon = Daemon::start();
    let mut c = Sandbox::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let bind = BindMount::new(dir.path(), &c.ns());
    let key = bind.0.display().to_string();
    daemon.attach(&["--netns-path", &key]);
    let name = format!("netns:{key}");
    assert!(daemon.guest_names().contains(&name));
    // The mount holds the namespace: the process exiting does not end it.
    c.kill();
    std::thread::sleep(GONE_WITHIN + Duration::from_millis(500));
    assert!(
        daemon.guest_names().contains(&name),
        "{}",
        daemon.log_text()
    );
    bind.unmount();
    let took = daemon.wait_gone(&name, GONE_WITHIN);
    eprintln!("station of a bind-mounted namespace gone {took:?} after the unmount");
    // Detach by path of something not attached: a clear refusal.
    let out = daemon.host(&["detach", "--netns-path", &key]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not attached"), "{}", text(&out));
}

#[test]
#[ignore = "needs root and unshare; CI runs ignored tests as root"]
fn a_namespace_whose_process_died_while_the_daemon_was_stopped_is_forgotten() {
    let mut daemon = Daemon::start();
    let mut d = Sandbox::new();
    let e = Sandbox::new();
    daemon.attach(&["--pid", &d.pid().to_string()]);
    daemon.attach(&["--pid", &e.pid().to_string()]);
    daemon.stop();
    d.kill();
    daemon.spawn();
    let (name_d, name_e) = (format!("netns:{}", d.ns()), format!("netns:{}", e.ns()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.guest_names().contains(&name_e) {
        assert!(
            Instant::now() < deadline,
            "{name_e} not re-attached: {}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!daemon.guest_names().contains(&name_d));
    assert!(
        daemon.log_text().contains("attached by path is gone"),
        "{}",
        daemon.log_text()
    );
    // The interface the stopped daemon left in e's namespace was taken up again.
    assert!(e.exec("ip", &["link", "show", "wlan0"]).status.success());
}

#[test]
fn attach_needs_exactly_one_namespace() {
    for args in [
        &["attach"][..],
        &["attach", "--pid", "1", "--netns", "c1"],
        &["attach", "--netns-path", "/x", "--pid", "2"],
    ] {
        let out = Command::new(HOST).args(args).output().expect("vwifi-host");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}
