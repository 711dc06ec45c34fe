//! `attach --netns` as a container user would see it: network namespaces given a station by
//! the daemon's config, `vwifi-guest --link wlan0` run inside them with `ip netns exec`, pings
//! through the simulated AP and the uplink bridge, a wrong passphrase refused, `detach`.
//!
//! Needs root, `ip` (iproute2), `ping` and, for the throughput figures, `iperf3`; the tests
//! are ignored otherwise (`.ci/run` runs ignored tests as root). They also need the
//! `vwifi-guest` binary next to `vwifi-host` in the same target directory: build it first
//! (`cargo build -p vwifi-guest`, or `cargo build --workspace`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const HOST: &str = env!("CARGO_BIN_EXE_vwifi-host");
const LAB_PASSPHRASE: &str = "correct horse battery staple";

/// The `vwifi-guest` binary of the same target directory and profile as `vwifi-host`.
fn guest_bin() -> PathBuf {
    let path = Path::new(HOST).with_file_name("vwifi-guest");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p vwifi-guest` first",
        path.display()
    );
    path
}

/// A network namespace with a unique name, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Self {
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
    fn exec(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(program)
            .args(args)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The daemon, with trace logs in a file; killed when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `vwifi-host run -vv` with a config attaching `attach`, once every namespace is served.
    fn start(attach: &[&Netns]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("host.sock");
        let log = dir.path().join("daemon.log");
        let mut config = String::new();
        for ns in attach {
            config.push_str(&format!("[[attach]]\nnetns = \"{}\"\n", ns.0));
        }
        let config_path = dir.path().join("host.toml");
        std::fs::write(&config_path, config).expect("config");
        let child = Command::new(HOST)
            .args(["run", "-vv", "--config"])
            .arg(&config_path)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .expect("run vwifi-host");
        let daemon = Self {
            child,
            socket,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let served = daemon.try_status().map_or(0, |s| guests(&s).len());
            if served == attach.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the namespaces were not attached: {}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn try_status(&self) -> Option<serde_json::Value> {
        let out = Command::new(HOST)
            .args(["status", "--json", "--socket"])
            .arg(&self.socket)
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    fn host(&self, args: &[&str]) -> Output {
        Command::new(HOST)
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .expect("vwifi-host")
    }
}

/// The names of the guests in a status.
fn guests(status: &serde_json::Value) -> Vec<String> {
    status["guests"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|g| g["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `vwifi-guest --link wlan0 connect SSID [--passphrase P]` inside `ns`.
fn connect(ns: &Netns, ssid: &str, passphrase: Option<&str>) -> Output {
    let mut args = vec!["--link", "wlan0", "connect", ssid];
    if let Some(p) = passphrase {
        args.extend(["--passphrase", p]);
    }
    ns.exec(guest_bin(), &args)
}

fn address(ns: &Netns, cidr: &str) {
    run_ok(Command::new("ip").args([
        "netns", "exec", &ns.0, "ip", "addr", "add", cidr, "dev", "wlan0",
    ]));
}

fn ping(from: &Netns, to: &str) -> Output {
    from.exec("ping", &["-c", "3", "-i", "0.2", "-W", "3", to])
}

/// A ping that waits up to 20 s for its first reply: across two time-shared channels the first
/// ARP request (a group frame) waits in the AP until a DTIM beacon falls in the slot the radio
/// spends on that channel (group delivery across time-shared channels is slow; see the issue
/// notes).
fn ping_patient(from: &Netns, to: &str) -> Output {
    from.exec("ping", &["-c", "1", "-i", "0.5", "-w", "20", to])
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn containers_join_networks_over_their_tap_and_ping_each_other() {
    let (a, b, c) = (Netns::new("a"), Netns::new("b"), Netns::new("c"));
    let daemon = Daemon::start(&[&a, &b, &c]);
    // Each namespace sees only its TAP, with its station's address.
    let status = daemon.try_status().expect("status");
    for ns in [&a, &b, &c] {
        let guest = status["guests"]
            .as_array()
            .and_then(|g| {
                g.iter()
                    .find(|g| g["name"].as_str() == Some(&format!("netns:{}", ns.0)))
            })
            .cloned()
            .expect("a guest per namespace");
        let link = text(&ns.exec("ip", &["-br", "link", "show", "wlan0"]));
        let mac = guest["mac"].as_str().expect("mac");
        assert!(link.contains(mac), "{link} lacks {mac}");
    }

    for ns in [&a, &b] {
        let out = connect(ns, "vwifi-lab", Some(LAB_PASSPHRASE));
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = connect(&c, "vwifi-lab", Some("not the passphrase"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("wrong passphrase"), "{}", text(&out));

    // Two containers on one network, through the AP.
    address(&a, "10.77.0.1/24");
    address(&b, "10.77.0.2/24");
    address(&c, "10.77.0.3/24");
    let out = ping(&a, "10.77.0.2");
    assert!(out.status.success(), "{}", text(&out));

    // Another network on another channel (6; vwifi-lab is on 1): the radio time-shares the two
    // channels, and the frames cross the host's uplink bridge.
    let out = connect(&c, "vwifi-office", Some("office demo passphrase"));
    assert!(out.status.success(), "{}", text(&out));
    let status = daemon.try_status().expect("status");
    let channel_of = |ns: &Netns| {
        status["guests"].as_array().and_then(|g| {
            g.iter()
                .find(|g| g["name"].as_str() == Some(&format!("netns:{}", ns.0)))
                .and_then(|g| g["channel"].as_u64())
        })
    };
    assert_eq!(
        (channel_of(&a), channel_of(&c)),
        (Some(1), Some(6)),
        "{status}"
    );
    let out = ping_patient(&a, "10.77.0.3");
    assert!(out.status.success(), "{}", text(&out));

    // Detach: the station and the interface go within a second.
    let mac_of = |ns: &Netns| {
        let link = text(&ns.exec("cat", &["/sys/class/net/wlan0/address"]));
        link.trim().to_owned()
    };
    let b_mac = mac_of(&b);
    let out = daemon.host(&["detach", "--netns", &b.0]);
    assert!(out.status.success(), "{}", text(&out));
    let gone = Instant::now() + Duration::from_secs(1);
    loop {
        let names = guests(&daemon.try_status().expect("status"));
        if !names.contains(&format!("netns:{}", b.0)) {
            break;
        }
        assert!(Instant::now() < gone, "still there: {names:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let link = b.exec("ip", &["link", "show", "wlan0"]);
    assert!(!link.status.success(), "{}", text(&link));
    // Detaching twice, or attaching a namespace that does not exist, is refused clearly.
    let out = daemon.host(&["detach", "--netns", &b.0]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not attached"), "{}", text(&out));
    let out = daemon.host(&["attach", "--netns", "vwt-no-such-namespace"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("ip netns add"), "{}", text(&out));
    let d = Netns::new("d");
    let out = daemon.host(&["attach", "--netns", &d.0, "--ifname", "lo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    // Attaching again works, with the same address (the station is named after the namespace).
    let out = daemon.host(&["attach", "--netns", &b.0]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&b_mac), "{} is not {b_mac}", text(&out));

    // Deleting an attached namespace detaches it (its TAP would otherwise keep it alive).
    run_ok(Command::new("ip").args(["netns", "del", &c.0]));
    let gone = Instant::now() + Duration::from_secs(3);
    loop {
        let names = guests(&daemon.try_status().expect("status"));
        if !names.contains(&format!("netns:{}", c.0)) {
            break;
        }
        assert!(Instant::now() < gone, "still there: {names:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let log = daemon.log_text();
    assert!(log.contains("network namespace attached"), "{log}");
    assert!(
        !log.contains(LAB_PASSPHRASE) && !log.contains("not the passphrase"),
        "a passphrase in the trace logs"
    );
}

/// Megabits per second of a 3-second TCP iperf3 run from `client` to `server_ip`.
fn iperf(server: &Netns, client: &Netns, server_ip: &str) -> f64 {
    let _ = server.exec("iperf3", &["-s", "-1", "-D"]);
    std::thread::sleep(Duration::from_millis(300));
    let out = client.exec("iperf3", &["-c", server_ip, "-t", "3", "-J"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("bits_per_second")
        / 1e6
}

#[test]
#[ignore = "needs root, ip netns and iperf3; .ci/run runs ignored tests as root"]
fn iperf3_through_vwifi_against_a_veth_pair() {
    let (a, b) = (Netns::new("ia"), Netns::new("ib"));
    let daemon = Daemon::start(&[&a, &b]);
    for ns in [&a, &b] {
        let out = connect(ns, "vwifi-lab", Some(LAB_PASSPHRASE));
        assert!(out.status.success(), "{}", text(&out));
    }
    address(&a, "10.77.0.1/24");
    address(&b, "10.77.0.2/24");
    let vwifi = iperf(&b, &a, "10.77.0.2");

    let (x, y) = (Netns::new("vx"), Netns::new("vy"));
    run_ok(Command::new("ip").args([
        "link",
        "add",
        "vwt-veth0",
        "netns",
        &x.0,
        "type",
        "veth",
        "peer",
        "name",
        "vwt-veth1",
        "netns",
        &y.0,
    ]));
    for (ns, ip, dev) in [
        (&x, "10.78.0.1/24", "vwt-veth0"),
        (&y, "10.78.0.2/24", "vwt-veth1"),
    ] {
        run_ok(
            Command::new("ip").args(["netns", "exec", &ns.0, "ip", "addr", "add", ip, "dev", dev]),
        );
        run_ok(Command::new("ip").args(["netns", "exec", &ns.0, "ip", "link", "set", dev, "up"]));
    }
    let veth = iperf(&y, &x, "10.78.0.2");
    eprintln!(
        "iperf3 TCP, 3 s: vwifi (sim radio, WPA2, two containers through one AP) {vwifi:.1} Mbit/s; \
         veth pair {veth:.1} Mbit/s"
    );
    assert!(vwifi > 0.0 && veth > 0.0);
    drop(daemon);
}
