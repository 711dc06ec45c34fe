//! `vhost-user` with stock QEMU: a VM of the VM harness (tests/vmharness, Debian's QEMU and
//! kernel) gets its NIC from `vwifi-host` on the simulated radio; inside the guest
//! `vwifi-guest --link eth0` scans, connects with the guest's own passphrase and pings a
//! namespace guest attached to the same network on the host; a wrong passphrase is refused
//! clearly and leaves the station disconnected. A VM whose QEMU is stopped (SIGSTOP) under a
//! flood costs a steady pair of namespace guests nothing, has its drops counted and recovers.
//!
//! Needs root (network namespaces, the TAP of the namespace guest), `ip`, `flock` and the VM
//! harness set up (`sudo tests/vmharness/setup.sh`, in `/tmp/vwifi-harness` or
//! `$VWIFI_HARNESS_DIR`); the tests are ignored otherwise (`.ci/run` runs ignored tests as
//! root) and fail loudly when a prerequisite is missing. They also need the `vwifi-guest`
//! binary next to `vwifi-host` (`cargo build -p vwifi-guest`). VMs run one at a time here and
//! take one of the two machine-wide harness slots (`flock /tmp/vwifi-vm-N.lock`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;
use common::{
    drop_count, guest_bin, run_ok, text, Netns, Options, TestDaemon, HOST, LAB_PASSPHRASE,
};

/// One VM at a time from this test binary.
static VM: Mutex<()> = Mutex::new(());

/// `tests/vmharness/run-vm.sh`, after checking the harness is set up and we are root.
fn run_vm_script() -> PathBuf {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "these tests need root"
    );
    let dir = std::env::var("VWIFI_HARNESS_DIR").unwrap_or_else(|_| "/tmp/vwifi-harness".into());
    assert!(
        Path::new(&dir).join("base.cpio").exists(),
        "the VM harness is not set up in {dir}: run `sudo tests/vmharness/setup.sh`"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vmharness/run-vm.sh");
    assert!(script.exists(), "{} is missing", script.display());
    script
}

common::daemon::wrapper! {
    /// The daemon on the simulated radio ([`TestDaemon`]), logging at debug level, and the VMs it
    /// serves.
    Daemon
}

impl Daemon {
    /// `vwifi-host run` with `config`, once it answers `status` with `guests` guests.
    fn start(config: &str, guests: usize) -> Self {
        Self::start_at(config, guests, PathBuf::new())
    }

    /// [`Daemon::start`] with its guest socket at `socket` (empty: `host.sock` in its own
    /// temporary directory).
    fn start_at(config: &str, guests: usize, socket: PathBuf) -> Self {
        Self::spawn(config, guests, socket, true)
    }

    /// [`Daemon::start_at`], logging at debug level if `verbose` (a measurement runs it
    /// without: a log line per frame would be what it measures).
    fn spawn(config: &str, guests: usize, socket: PathBuf, verbose: bool) -> Self {
        let daemon = TestDaemon::spawn(Options {
            socket,
            ..Options::config(config).verbosity(if verbose { "-v" } else { "" })
        });
        daemon.wait_guests(Duration::from_secs(30), guests);
        Self(daemon)
    }

    /// Attaches a VM named `name` at runtime (`vwifi-host vhost-user`), its socket `NAME.sock`
    /// in the daemon's directory: the socket, and the MAC of its station.
    fn attach_vm(&self, name: &str) -> (PathBuf, String) {
        let socket = self.path(&format!("{name}.sock"));
        run_ok(
            Command::new(HOST)
                .args(["vhost-user", "--socket"])
                .arg(&socket)
                .arg("--daemon-socket")
                .arg(self.socket()),
        );
        (socket, self.mac_of(&format!("vm:{name}")))
    }

    /// The MAC of the guest named `name`.
    fn mac_of(&self, name: &str) -> String {
        self.guest(name)
            .and_then(|g| g["mac"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no guest {name} in {:?}", self.status()))
    }
}

/// `vhost-user-wifi.sh`'s settings for a VM joining `vwifi-lab` as 10.99.0.3 and pinging a
/// namespace guest at 10.99.0.2.
const LAB_VM: [(&str, &str); 4] = [
    ("SSID", "vwifi-lab"),
    ("PASSPHRASE", LAB_PASSPHRASE),
    ("GUEST_IP", "10.99.0.3"),
    ("PEER_IP", "10.99.0.2"),
];

/// The namespace guest on `vwifi-lab` with `addr` (attached by the daemon's config).
fn join_lab(ns: &Netns, addr: &str) {
    join_lab_with(ns, addr, Some(LAB_PASSPHRASE));
}

/// [`join_lab`] with `passphrase`, or none (an open `vwifi-lab`).
fn join_lab_with(ns: &Netns, addr: &str, passphrase: Option<&str>) {
    // The guest is listed once admitted; its TAP may appear in the namespace a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ns.exec("ip", &["link", "show", "wlan0"]).status.success() {
        assert!(Instant::now() < deadline, "no wlan0 in {}", ns.0);
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut args = vec!["--link", "wlan0", "connect", "vwifi-lab"];
    if let Some(p) = passphrase {
        args.extend(["--passphrase", p]);
    }
    let out = ns.exec(guest_bin(), &args);
    assert!(out.status.success(), "{}", text(&out));
    run_ok(Command::new("ip").args([
        "netns", "exec", &ns.0, "ip", "addr", "add", addr, "dev", "wlan0",
    ]));
}

/// Boots the harness VM with its NIC on the vhost-user socket `socket` (MAC `mac`) and
/// `tests/vhost-user-wifi.sh` inside; returns whether it passed and its console.
fn boot_vm(socket: &Path, mac: &str, env: &[(&str, &str)]) -> (bool, String) {
    boot_vm_with(socket, mac, env, &[])
}

/// [`boot_vm`] with more `run-vm.sh` arguments (after the vhost-user NIC).
fn boot_vm_with(
    socket: &Path,
    mac: &str,
    env: &[(&str, &str)],
    extra: &[String],
) -> (bool, String) {
    let _one = VM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = vm_command(socket, mac, env, extra, std::process::id() % 2)
        .output()
        .expect("run-vm.sh");
    (out.status.success(), text(&out))
}

/// The command booting the harness VM on harness slot `slot` (0 or 1: at most two VMs run on
/// the machine at once, whoever starts them).
fn vm_command(
    socket: &Path,
    mac: &str,
    env: &[(&str, &str)],
    extra: &[String],
    slot: u32,
) -> Command {
    let script = run_vm_script();
    let guest_script = script.with_file_name("tests").join("vhost-user-wifi.sh");
    let mut cmd = Command::new("flock");
    cmd.arg(format!("/tmp/vwifi-vm-{slot}.lock"))
        .arg(&script)
        .args(["-t", "150", "-x", "-f"]);
    cmd.arg(guest_bin());
    cmd.args(["-e", &format!("STATION_MAC={mac}")]);
    for (k, v) in env {
        cmd.args(["-e", &format!("{k}={v}")]);
    }
    // QEMU's vhost-user-net: shared guest RAM (-x), the socket as a chardev, the station's
    // MAC on the device. `vectors=0` (INTx): QEMU 7.2 under TCG crashes setting up MSI-X
    // notifiers for a vhost-user-net device.
    for arg in [
        "-chardev".to_owned(),
        format!("socket,id=vu,path={}", socket.display()),
        "-netdev".to_owned(),
        "vhost-user,id=n0,chardev=vu".to_owned(),
        "-device".to_owned(),
        format!("virtio-net-pci,netdev=n0,mac={mac},vectors=0"),
    ] {
        cmd.arg("-q").arg(arg);
    }
    cmd.args(extra);
    cmd.arg(&guest_script);
    cmd
}

#[test]
#[ignore = "needs root and the VM harness; .ci/run runs ignored tests as root"]
fn a_vm_joins_over_vhost_user_and_pings_a_namespace_guest() {
    let peer = Netns::new("peer");
    let daemon = Daemon::start(&format!("[[attach]]\nnetns = \"{}\"\n", peer.0), 1);
    join_lab(&peer, "10.99.0.2/24");
    // At runtime, through the control socket.
    let vm_socket = daemon.path("vm1.sock");
    let out = run_ok(
        Command::new(HOST)
            .args(["vhost-user", "--name", "vm1", "--socket"])
            .arg(&vm_socket)
            .arg("--daemon-socket")
            .arg(daemon.socket()),
    );
    let mac = daemon.mac_of("vm:vm1");
    assert!(text(&out).contains(&mac), "{}", text(&out));
    assert!(vm_socket.exists(), "the socket is listening");
    let (passed, console) = boot_vm(&vm_socket, &mac, &LAB_VM);
    assert!(passed, "the VM failed:\n{console}\n{}", daemon.log_text());
    assert!(console.contains(&format!("eth0 {mac}")), "{console}");
    assert!(console.contains("connected to vwifi-lab"), "{console}");
    // Its link state followed the association (`vwifi-guest --link eth0 events --follow-link`).
    assert!(
        console.contains("VWIFI-LINK: dormant before connecting"),
        "{console}"
    );
    assert!(
        console.contains("VWIFI-LINK: up once connected"),
        "{console}"
    );
    assert!(console.contains("VWIFI-PING-OK"), "{console}");
    // The VM's shutdown ended the session: the guest is gone, the socket too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log_text().contains("vhost-user session ended") {
        assert!(Instant::now() < deadline, "{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let names: Vec<String> = daemon.status().expect("status")["guests"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|g| g["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, [format!("netns:{}", peer.0)]);
    assert!(!vm_socket.exists());
    let log = daemon.log_text();
    assert!(!log.contains(LAB_PASSPHRASE), "a passphrase in the logs");
}

#[test]
#[ignore = "needs root and the VM harness; .ci/run runs ignored tests as root"]
fn a_wrong_passphrase_leaves_the_vm_disconnected_with_a_clear_message() {
    // From the configuration this time.
    let dir = tempfile::tempdir().expect("tempdir");
    let vm_socket = dir.path().join("vm2.sock");
    let daemon = Daemon::start(
        &format!("[[vhost_user]]\nsocket = \"{}\"\n", vm_socket.display()),
        1,
    );
    let mac = daemon.mac_of("vm:vm2");
    let (passed, console) = boot_vm(
        &vm_socket,
        &mac,
        &[
            ("SSID", "vwifi-lab"),
            ("BAD_PASSPHRASE", "not the passphrase"),
        ],
    );
    assert!(passed, "the VM failed:\n{console}\n{}", daemon.log_text());
    let refused = console
        .lines()
        .find(|l| l.contains("VWIFI-CONNECT-REFUSED:"))
        .unwrap_or_else(|| panic!("no refusal in\n{console}"));
    assert!(refused.contains("wrong passphrase"), "{refused}");
    assert!(console.contains("wrong passphrase refused"), "{console}");
    assert!(
        console.contains("VWIFI-LINK: dormant after the refusal"),
        "{console}"
    );
    assert!(!daemon.log_text().contains("not the passphrase"));
}

/// A TAP in the host's namespace with an address, deleted when dropped.
struct Tap(String);

impl Tap {
    fn new(addr: &str) -> Self {
        let name = format!("vwtap{}", std::process::id() % 100_000);
        run_ok(Command::new("ip").args(["tuntap", "add", "dev", &name, "mode", "tap"]));
        let tap = Self(name);
        run_ok(Command::new("ip").args(["addr", "add", addr, "dev", &tap.0]));
        run_ok(Command::new("ip").args(["link", "set", &tap.0, "up"]));
        tap
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// An `iperf3 -s` daemon that gives up a test whose client fell silent for 20 s (so a retried
/// client finds it free); killed when dropped.
struct IperfServer(PathBuf);

impl IperfServer {
    fn start(netns: Option<&Netns>, bind: &str, dir: &Path) -> Self {
        let pidfile = dir.join(format!("iperf-{bind}.pid"));
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.0, "iperf3"]);
                c
            }
            None => Command::new("iperf3"),
        };
        cmd.args([
            "-s",
            "-D",
            "--rcv-timeout",
            "20000",
            "-B",
            bind,
            "--pidfile",
        ])
        .arg(&pidfile);
        run_ok(&mut cmd);
        Self(pidfile)
    }
}

impl Drop for IperfServer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// The receiver's Mbit/s on the console line tagged `tag`.
fn receiver_mbits(console: &str, tag: &str) -> f64 {
    let line = console
        .lines()
        .find(|l| l.contains(tag) && l.contains("receiver"))
        .unwrap_or_else(|| panic!("no {tag} receiver line in\n{console}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "Mbits/sec")
        .and_then(|i| words.get(i.checked_sub(1)?))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Mbits/sec in {line}"))
}

/// What [`iperf3_beside_a_tap`] measured, receivers' Mbit/s.
struct IperfFigures {
    /// VM -> namespace guest over vhost-user and vwifi.
    vwifi: f64,
    /// The same VM -> the host over the plain TAP NIC.
    plain: f64,
    /// The other way (`iperf3 -R`), if asked: namespace guest -> VM, host -> VM.
    reverse: Option<(f64, f64)>,
}

/// Boots the harness VM with its vhost-user NIC on a daemon started with `config` (which
/// must serve `vwifi-lab`; the namespace guest is attached here) and a second, plain
/// `-netdev tap` NIC, and runs iperf3 (TCP, `secs` seconds) from the VM over both, in the same
/// boot: to a namespace guest through vwifi, to the host through the TAP; `reverse` also runs
/// each reversed. `verbose`: the daemon logs at debug level.
fn iperf3_beside_a_tap(config: &str, verbose: bool, secs: u32, reverse: bool) -> IperfFigures {
    iperf3_beside_a_tap_on(config, verbose, secs, reverse, true)
}

/// [`iperf3_beside_a_tap`] on `vwifi-lab` with its passphrase if `wpa2`, else on an open
/// `vwifi-lab` (the configuration's).
fn iperf3_beside_a_tap_on(
    config: &str,
    verbose: bool,
    secs: u32,
    reverse: bool,
    wpa2: bool,
) -> IperfFigures {
    // One measurement at a time: the TAP's name and the addresses are the same.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let iperf = Path::new("/usr/bin/iperf3");
    assert!(iperf.exists(), "iperf3 is missing: apt-get install iperf3");
    let peer = Netns::new("ipf");
    let daemon = Daemon::spawn(
        &format!("{config}[[attach]]\nnetns = \"{}\"\n", peer.0),
        1,
        PathBuf::new(),
        verbose,
    );
    join_lab_with(&peer, "10.99.0.2/24", wpa2.then_some(LAB_PASSPHRASE));
    let (vm_socket, mac) = daemon.attach_vm("vm3");
    let tap = Tap::new("10.98.0.1/24");
    let _vwifi_server = IperfServer::start(Some(&peer), "10.99.0.2", &daemon.path(""));
    let _tap_server = IperfServer::start(None, "10.98.0.1", &daemon.path(""));
    let tap_mac = "52:54:00:76:77:01";
    let extra: Vec<String> = [
        "-f".to_owned(),
        iperf.display().to_string(),
        "-q".to_owned(),
        "-netdev".to_owned(),
        "-q".to_owned(),
        format!("tap,id=t0,ifname={},script=no,downscript=no", tap.0),
        "-q".to_owned(),
        "-device".to_owned(),
        "-q".to_owned(),
        format!("virtio-net-pci,netdev=t0,mac={tap_mac}"),
    ]
    .into();
    let secs = secs.to_string();
    let mut env = LAB_VM.to_vec();
    if !wpa2 {
        env.retain(|(k, _)| *k != "PASSPHRASE");
    }
    env.extend([
        ("IPERF_SECS", secs.as_str()),
        ("TAP_MAC", tap_mac),
        ("TAP_IP", "10.98.0.2"),
        ("TAP_PEER_IP", "10.98.0.1"),
    ]);
    if reverse {
        env.push(("IPERF_REVERSE", "1"));
    }
    let (passed, console) = boot_vm_with(&vm_socket, &mac, &env, &extra);
    assert!(passed, "the VM failed:\n{console}\n{}", daemon.log_text());
    IperfFigures {
        vwifi: receiver_mbits(&console, "VWIFI-IPERF-VHOST:"),
        plain: receiver_mbits(&console, "VWIFI-IPERF-TAP:"),
        reverse: reverse.then(|| {
            (
                receiver_mbits(&console, "VWIFI-IPERF-VHOST-R:"),
                receiver_mbits(&console, "VWIFI-IPERF-TAP-R:"),
            )
        }),
    }
}

#[test]
#[ignore = "needs root, iperf3 and the VM harness; .ci/run runs ignored tests as root"]
fn iperf3_from_a_vm_over_vhost_user_beside_a_plain_tap_backend() {
    let f = iperf3_beside_a_tap("", true, 5, false);
    println!(
        "iperf3 VM -> namespace guest, TCP 5 s: vwifi over vhost-user {:.1} Mbit/s; same VM over a plain TAP {:.1} Mbit/s",
        f.vwifi, f.plain
    );
    assert!(f.vwifi > 0.0 && f.plain > 0.0);
}

/// Issue 11's VM figure: the same, on the zero-airtime air (`[sim.medium] airtime = false`, a
/// measuring mode: the air is no limit, vwifi is what is measured), both directions; prints
/// the ratios to the plain TAP NIC of the same boot. Asserts only that data arrived both ways
/// over both NICs: the 0.8x target is a figure for the README, not a test.
/// `VWIFI_VM_STANDARD=ax` (or `n`, `ac`) sets the AP's standard (default: 802.11g, where
/// frames go one MPDU each; from HT on the station and the AP build A-MSDUs).
#[test]
#[ignore = "needs root, iperf3 and the VM harness; .ci/run runs ignored tests as root"]
fn iperf3_from_a_vm_over_vhost_user_on_the_zero_airtime_air_beside_a_plain_tap() {
    let standard = std::env::var("VWIFI_VM_STANDARD").unwrap_or_else(|_| "g".into());
    // VWIFI_VM_SECURITY=open measures an open network (no CCMP in the daemon) instead.
    let wpa2 = std::env::var("VWIFI_VM_SECURITY").map_or(true, |s| s != "open");
    let security = if wpa2 {
        format!("passphrase = \"{LAB_PASSPHRASE}\"\n")
    } else {
        String::new()
    };
    let config = format!(
        "[sim]\nseed = 1\n[sim.medium]\nairtime = false\n\
         [[sim.aps]]\nssid = \"vwifi-lab\"\nchannel = 1\n{security}standard = \"{standard}\"\n"
    );
    let f = iperf3_beside_a_tap_on(&config, false, 5, true, wpa2);
    let (vwifi_r, plain_r) = f.reverse.unwrap_or_default();
    println!(
        "zero-airtime air, {}, 802.11{standard}, iperf3 TCP 5 s, one boot:\n  \
         VM -> namespace guest over vhost-user {:.1} Mbit/s; VM -> host over a plain TAP {:.1} Mbit/s; ratio {:.2}\n  \
         namespace guest -> VM over vhost-user {vwifi_r:.1} Mbit/s; host -> VM over a plain TAP {plain_r:.1} Mbit/s; ratio {:.2}",
        if wpa2 { "WPA2" } else { "open" },
        f.vwifi,
        f.plain,
        f.vwifi / f.plain,
        vwifi_r / plain_r
    );
    assert!(f.vwifi > 0.0 && f.plain > 0.0, "no data VM -> peers");
    assert!(vwifi_r > 0.0 && plain_r > 0.0, "no data peers -> VM");
}

#[test]
#[ignore = "needs root and the VM harness (both slots); .ci/run runs ignored tests as root"]
fn two_vms_join_different_networks_at_the_same_time() {
    let (lab, office) = (Netns::new("lab"), Netns::new("office"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (sock_a, sock_b) = (dir.path().join("vma.sock"), dir.path().join("vmb.sock"));
    let daemon = Daemon::start(
        &format!(
            "[[attach]]\nnetns = \"{}\"\n[[attach]]\nnetns = \"{}\"\n\
             [[vhost_user]]\nsocket = \"{}\"\n[[vhost_user]]\nsocket = \"{}\"\n",
            lab.0,
            office.0,
            sock_a.display(),
            sock_b.display()
        ),
        4,
    );
    join_lab(&lab, "10.99.0.2/24");
    let out = office.exec(
        guest_bin(),
        &[
            "--link",
            "wlan0",
            "connect",
            "vwifi-office",
            "--passphrase",
            "office demo passphrase",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    run_ok(Command::new("ip").args([
        "netns",
        "exec",
        &office.0,
        "ip",
        "addr",
        "add",
        "10.97.0.2/24",
        "dev",
        "wlan0",
    ]));
    let (mac_a, mac_b) = (daemon.mac_of("vm:vma"), daemon.mac_of("vm:vmb"));
    let _one = VM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let vm_a = vm_command(
        &sock_a,
        &mac_a,
        &[
            ("SSID", "vwifi-lab"),
            ("PASSPHRASE", LAB_PASSPHRASE),
            ("GUEST_IP", "10.99.0.3"),
            ("PEER_IP", "10.99.0.2"),
            ("PING_WAIT", "30"),
        ],
        &[],
        0,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run-vm.sh");
    let vm_b = vm_command(
        &sock_b,
        &mac_b,
        &[
            ("SSID", "vwifi-office"),
            ("PASSPHRASE", "office demo passphrase"),
            ("GUEST_IP", "10.97.0.3"),
            ("PEER_IP", "10.97.0.2"),
            ("PING_WAIT", "30"),
        ],
        &[],
        1,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run-vm.sh");
    for (vm, ssid) in [(vm_a, "vwifi-lab"), (vm_b, "vwifi-office")] {
        let out = vm.wait_with_output().expect("run-vm.sh");
        let console = text(&out);
        assert!(
            out.status.success(),
            "the VM on {ssid} failed:\n{console}\n{}",
            daemon.log_text()
        );
        assert!(
            console.contains(&format!("connected to {ssid}")),
            "{console}"
        );
        assert!(console.contains("VWIFI-PING-OK"), "{console}");
    }
}

/// Boots the harness VM with `tests/stream-agent.sh` and `extra` run-vm.sh arguments (the
/// stream to the daemon), the agent joining `vwifi-lab` with `GUEST_IP` and pinging `PEER_IP`.
fn boot_stream_agent_vm(extra: &[String], env: &[&str]) -> (bool, String) {
    let script = run_vm_script();
    let guest_script = script.with_file_name("tests").join("stream-agent.sh");
    let _one = VM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut cmd = Command::new("flock");
    cmd.arg(format!("/tmp/vwifi-vm-{}.lock", std::process::id() % 2))
        .arg(&script)
        .args(["-t", "150", "-f"])
        .arg(guest_bin())
        .args(extra)
        .args(["-e", "SSID=vwifi-lab"])
        .args(["-e", &format!("PASSPHRASE={LAB_PASSPHRASE}")]);
    for e in env {
        cmd.args(["-e", e]);
    }
    let out = cmd.arg(&guest_script).output().expect("run-vm.sh");
    (out.status.success(), text(&out))
}

/// The stream path for VMMs without vhost-user (issue 6 item 4): QEMU connects a
/// virtio-serial port to the daemon's guest socket, and the VM's `vwifi-guest agent --serial`
/// makes its own TAP, joins `vwifi-lab` through the agent and pings a namespace guest.
#[test]
#[ignore = "needs root and the VM harness; .ci/run runs ignored tests as root"]
fn a_vm_agent_over_a_virtio_serial_port_joins_and_pings_a_namespace_guest() {
    let peer = Netns::new("serpeer");
    let daemon = Daemon::start(&format!("[[attach]]\nnetns = \"{}\"\n", peer.0), 1);
    join_lab(&peer, "10.97.0.2/24");
    let (passed, console) = boot_stream_agent_vm(
        &[
            "-p".to_owned(),
            format!("vwifi={}", daemon.socket().display()),
        ],
        &["GUEST_IP=10.97.0.3", "PEER_IP=10.97.0.2"],
    );
    assert!(passed, "the VM failed:\n{console}\n{}", daemon.log_text());
    assert!(console.contains("agent --serial"), "{console}");
    assert!(console.contains("connected to vwifi-lab"), "{console}");
    assert!(console.contains("VWIFI-PING-OK"), "{console}");
    // The VM's station was a guest of the daemon over its socket (QEMU was the peer).
    let log = daemon.log_text();
    assert!(log.contains("pid "), "no socket guest in the log:\n{log}");
    assert!(!log.contains(LAB_PASSPHRASE), "a passphrase in the logs");
}

/// The same over vsock: QEMU's vhost-user-vsock device backed by `vhost-device-vsock` (built
/// by `VWIFI_WITH_VSOCK=1 tests/vmharness/setup.sh`, as `.ci/run` does), which hands the
/// guest's connection to host port 5000 to the daemon's socket `<uds-path>_5000`; the VM's
/// `vwifi-guest agent --vsock host:5000` joins `vwifi-lab` and pings a namespace guest.
#[test]
#[ignore = "needs root, the VM harness and vhost-device-vsock; .ci/run runs ignored tests as root"]
fn a_vm_agent_over_vsock_joins_and_pings_a_namespace_guest() {
    let harness =
        std::env::var("VWIFI_HARNESS_DIR").unwrap_or_else(|_| "/tmp/vwifi-harness".into());
    let backend = std::path::Path::new(&harness).join("cargo/bin/vhost-device-vsock");
    assert!(
        backend.exists(),
        "{} is missing: run `VWIFI_WITH_VSOCK=1 sudo tests/vmharness/setup.sh`",
        backend.display()
    );
    let peer = Netns::new("vspeer");
    let dir = tempfile::tempdir().expect("tempdir");
    let uds = dir.path().join("vm.vsock");
    // The daemon's guest socket is where vhost-device-vsock sends the guest's port 5000.
    let daemon = Daemon::start_at(
        &format!("[[attach]]\nnetns = \"{}\"\n", peer.0),
        1,
        dir.path().join("vm.vsock_5000"),
    );
    join_lab(&peer, "10.96.0.2/24");
    let vhu = dir.path().join("vhu.sock");
    let mut vsockd = Command::new(&backend)
        .args(["--guest-cid", "3", "--socket"])
        .arg(&vhu)
        .arg("--uds-path")
        .arg(&uds)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vhost-device-vsock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !vhu.exists() {
        assert!(
            Instant::now() < deadline,
            "vhost-device-vsock did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (passed, console) = boot_stream_agent_vm(
        &["-V".to_owned(), vhu.display().to_string()],
        &["VSOCK_PORT=5000", "GUEST_IP=10.96.0.3", "PEER_IP=10.96.0.2"],
    );
    let _ = vsockd.kill();
    let _ = vsockd.wait();
    assert!(passed, "the VM failed:\n{console}\n{}", daemon.log_text());
    assert!(console.contains("agent --vsock host:5000"), "{console}");
    assert!(console.contains("connected to vwifi-lab"), "{console}");
    assert!(console.contains("VWIFI-PING-OK"), "{console}");
    assert!(
        !daemon.log_text().contains(LAB_PASSPHRASE),
        "a passphrase in the logs"
    );
}

/// Sends 1400-byte UDP datagrams to port 9 of `argv[1]` for `argv[2]` seconds, `argv[3]` a
/// second (a steady flood whether or not anything answers, where ping would slow down to 100 a
/// second); prints how many went out.
const PACED_UDP: &str = "import socket, sys, time
dst, secs, rate = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, start = 0, time.time()
while True:
    t = time.time() - start
    if t >= secs:
        break
    if n < t * rate:
        try:
            s.sendto(b'x' * 1400, (dst, 9)); n += 1
        except OSError:
            time.sleep(0.001)
    else:
        time.sleep(0.001)
print(n)
";

/// Frames a second of [`flood`]: ~4.5 Mbit/s, which a debug build of the daemon encrypts and a
/// VM under TCG reads on a loaded 2-core machine (at 1 500 a second the daemon's CPU was what
/// the flood and the pair shared, and the flooder's own TAP dropped half), and which fills the
/// VM's receive ring and the 1 024 frames kept for it within 4 s.
const FLOOD_RATE: u32 = 400;

/// [`PACED_UDP`] from `ns` to `dst` for `secs` seconds at [`FLOOD_RATE`]: how many datagrams
/// went out.
fn flood(ns: &Netns, dst: &str, secs: u32) -> u64 {
    let out = ns.exec(
        "python3",
        &[
            "-c",
            PACED_UDP,
            dst,
            &secs.to_string(),
            &FLOOD_RATE.to_string(),
        ],
    );
    assert!(out.status.success(), "flood: {}", text(&out));
    text(&out).trim().parse().expect("the flood's count")
}

/// Mbit/s received in a `secs`-second TCP iperf3 run from `client` to a one-off iperf3 server
/// started in `server` on `server_ip` (each second's figure printed).
fn iperf_tcp(server: &Netns, client: &Netns, server_ip: &str, secs: u32) -> f64 {
    run_ok(Command::new("ip").args([
        "netns", "exec", &server.0, "iperf3", "-s", "-1", "-D", "-B", server_ip,
    ]));
    std::thread::sleep(Duration::from_millis(300));
    let out = client.exec("iperf3", &["-c", server_ip, "-t", &secs.to_string(), "-J"]);
    assert!(out.status.success(), "iperf3: {}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    // Each second's figure, shown with a failure: a stall shows as seconds near 0.
    let seconds: Vec<String> = v["intervals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "{:.1}",
                i["sum"]["bits_per_second"].as_f64().unwrap_or(0.0) / 1e6
            )
        })
        .collect();
    println!(
        "iperf3 {client_ns} -> {server_ip}, Mbit/s each second: {}",
        seconds.join(" "),
        client_ns = client.0
    );
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("bits_per_second")
        / 1e6
}

/// A harness VM booted in the background, its console in a file. Dropped, its QEMU is
/// resumed (it may be stopped) and ended, and the harness slot freed.
struct BackgroundVm {
    child: Child,
    console: PathBuf,
    pidfile: PathBuf,
}

impl BackgroundVm {
    /// The console so far.
    fn console(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }

    /// QEMU's process id (from its `-pidfile`), once it wrote it.
    fn qemu_pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(&self.pidfile).ok()?;
        let pid = pid.trim();
        (!pid.is_empty()).then(|| pid.to_owned())
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`) to QEMU.
    fn signal(&self, signal: &str) {
        let pid = self.qemu_pid().expect("QEMU's pid file");
        run_ok(Command::new("kill").arg(format!("-{signal}")).arg(pid));
    }

    /// Waits until the console shows `line` (fails after `limit`, or if the VM ended).
    fn wait_for(&mut self, line: &str, limit: Duration, logs: impl Fn() -> String) {
        let deadline = Instant::now() + limit;
        while !self.console().contains(line) {
            let ended = self.child.try_wait().expect("wait").is_some();
            assert!(
                !ended && Instant::now() < deadline,
                "no {line} on the console (ended: {ended}):\n{}\n{}",
                self.console(),
                logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the VM to end by itself: whether it passed.
    fn wait(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for BackgroundVm {
    fn drop(&mut self) {
        if let Some(pid) = self.qemu_pid() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
            let _ = Command::new("kill").arg(&pid).status();
        }
        let _ = self.child.wait();
    }
}

/// The guest of `status` named `name`.
fn guest_named<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["guests"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"].as_str() == Some(name)))
        .unwrap_or(&serde_json::Value::Null)
}

/// Issue 19 item 3, a VM that stops servicing its rings: its QEMU is stopped (SIGSTOP) for
/// 20 s while a namespace guest floods it; beside it a steady pair of namespace
/// guests keeps its throughput, the daemon's memory stays bounded, the frames for the VM are
/// dropped and counted (`vm_rx_no_buffer`), and once resumed (SIGCONT) the VM answers and
/// pings again within seconds. About 50 s (a debug build, TCG, a loaded 2-core machine).
#[test]
#[ignore = "needs root, iperf3, python3 and the VM harness; .ci/run runs ignored tests as root"]
fn a_vm_stopped_under_a_flood_has_its_drops_counted_costs_the_others_nothing_and_recovers() {
    /// How long QEMU stays stopped (the flood to the VM lasts as long).
    const STALL_SECS: u32 = 20;
    /// How long the pair's throughput is measured, before and during the stall.
    const PAIR_SECS: u32 = 8;
    assert!(
        Path::new("/usr/bin/iperf3").exists(),
        "iperf3 is missing: apt-get install iperf3"
    );
    let [p, c, d] = ["vsp", "vsc", "vsd"].map(Netns::new);
    // On the zero-airtime air, so that the air is not what the pair and the flood share.
    let mut config = format!(
        "[sim.medium]\nairtime = false\n[[sim.aps]]\nssid = \"vwifi-lab\"\nchannel = 1\n\
         passphrase = \"{LAB_PASSPHRASE}\"\n"
    );
    for ns in [&p, &c, &d] {
        config.push_str(&format!("[[attach]]\nnetns = \"{}\"\n", ns.0));
    }
    // Not verbose: a debug line per frame would load the daemon being measured.
    let daemon = Daemon::spawn(&config, 3, PathBuf::new(), false);
    for (ns, ip) in [
        (&p, "10.99.0.2/24"),
        (&c, "10.99.0.4/24"),
        (&d, "10.99.0.5/24"),
    ] {
        join_lab(ns, ip);
    }
    let (vm_socket, mac) = daemon.attach_vm("vmstall");
    let _one = VM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let console = daemon.path("console.txt");
    let pidfile = daemon.path("qemu.pid");
    let out = File::create(&console).expect("console file");
    let child = vm_command(
        &vm_socket,
        &mac,
        &[LAB_VM.as_slice(), &[("RESUME_IP", "10.99.0.9")]].concat(),
        &[
            "-q".to_owned(),
            "-pidfile".to_owned(),
            "-q".to_owned(),
            pidfile.display().to_string(),
        ],
        std::process::id() % 2,
    )
    .stdout(out.try_clone().expect("console file"))
    .stderr(out)
    .spawn()
    .expect("run-vm.sh");
    let mut vm = BackgroundVm {
        child,
        console,
        pidfile,
    };
    vm.wait_for("VWIFI-WAITING-FOR-RESUME", Duration::from_secs(120), || {
        daemon.log_text()
    });
    let out = p.exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.99.0.3"]);
    assert!(out.status.success(), "ping the VM: {}", text(&out));
    // The flood keeps coming to the VM's MAC while it answers no ARP.
    p.pin_neighbour("10.99.0.3", &mac);

    // Before: the pair beside the same flood to the VM running.
    let before = std::thread::scope(|s| {
        s.spawn(|| flood(&p, "10.99.0.3", PAIR_SECS + 2));
        std::thread::sleep(Duration::from_secs(1));
        iperf_tcp(&d, &c, "10.99.0.5", PAIR_SECS)
    });

    let vm_name = "vm:vmstall";
    let status = daemon.status().expect("status");
    let no_buffer_before = drop_count(guest_named(&status, vm_name), "vm_rx_no_buffer");
    let rx_before = guest_named(&status, vm_name)["rx_packets"]
        .as_u64()
        .unwrap_or(0);
    let rss_before = daemon.rss_kib();
    vm.signal("STOP");
    let (sent, during, rss_max) = std::thread::scope(|s| {
        let flooding = s.spawn(|| flood(&p, "10.99.0.3", STALL_SECS));
        // The pair measured once the VM's ring and the frames kept for it are full.
        let pair = s.spawn(|| {
            std::thread::sleep(Duration::from_secs(4));
            iperf_tcp(&d, &c, "10.99.0.5", PAIR_SECS)
        });
        let mut rss_max = rss_before;
        while !flooding.is_finished() {
            rss_max = rss_max.max(daemon.rss_kib());
            std::thread::sleep(Duration::from_millis(500));
        }
        (
            flooding.join().expect("flood"),
            pair.join().expect("iperf3"),
            rss_max,
        )
    });
    // The last frames of the flood reach the port (still stopped) before the count.
    std::thread::sleep(Duration::from_secs(1));
    let stalled = daemon.status().expect("status");
    let rss_end = daemon.rss_kib();
    vm.signal("CONT");
    let resumed = Instant::now();

    // Resumed: the VM answers the namespace guest, then pings it (the address it waits for
    // appears now, so its answer comes after the stall).
    let mut answered = None;
    while resumed.elapsed() < Duration::from_secs(30) {
        if p.exec("ping", &["-c", "1", "-W", "1", "10.99.0.3"])
            .status
            .success()
        {
            answered = Some(resumed.elapsed());
            break;
        }
    }
    run_ok(Command::new("ip").args([
        "netns",
        "exec",
        &p.0,
        "ip",
        "addr",
        "add",
        "10.99.0.9/24",
        "dev",
        "wlan0",
    ]));
    let passed = vm.wait(Duration::from_secs(60));
    let pinged = resumed.elapsed();
    let console = vm.console();
    let no_buffer =
        drop_count(guest_named(&stalled, vm_name), "vm_rx_no_buffer") - no_buffer_before;
    // What the VM's station took from the air for it meanwhile.
    let for_vm = guest_named(&stalled, vm_name)["rx_packets"]
        .as_u64()
        .unwrap_or(0)
        - rx_before;
    println!(
        "VM stopped {STALL_SECS} s under a {FLOOD_RATE}/s UDP flood ({sent} datagrams): \
         steady pair TCP {before:.1} Mbit/s before, {during:.1} during ({:.2}x); \
         {for_vm} frames for the VM, vm_rx_no_buffer +{no_buffer}; \
         daemon VmRSS {rss_before} KiB before, max {rss_max}, {rss_end} at the end; resumed: answered in {answered:?}, its own pings done in {:.1} s",
        during / before,
        pinged.as_secs_f64()
    );
    assert!(
        passed,
        "the VM failed after the stall:\n{console}\n{}",
        daemon.log_text()
    );
    assert!(console.contains("VWIFI-RESUMED-PING-OK"), "{console}");
    let answered =
        answered.unwrap_or_else(|| panic!("the VM never answered after the stall:\n{console}"));
    assert!(
        answered < Duration::from_secs(10),
        "the VM answered {answered:?} after SIGCONT"
    );
    assert!(before > 0.0, "no throughput before the stall");
    // A bound, not a target: the pair kept 0.78x to 1.33x in runs on a loaded 2-core machine
    // (debug build; its seconds vary from 2 to 10 Mbit/s there), 0.63x with a 64-guest soak
    // running beside it (load 10, the pair at 1 Mbit/s), once 0.38x when the two measurements
    // were 5 s and 10 s; on session 25's slower machine 0.18x to 0.27x (the pair at about 2
    // Mbit/s before, its first seconds and a lost segment's 1 s timeout weighing most), for
    // session 23's build as for this one. A daemon held up by the stopped VM would leave it
    // near 0.
    assert!(
        during >= 0.1 * before,
        "the stopped VM held the pair back: {during:.0} against {before:.0} Mbit/s\n{}",
        daemon.log_text()
    );
    // Bounded: the flood brings ~11 MB while the VM is stopped; what is kept of it is counted
    // below. The daemon's RSS rose 0.6 to 8.5 MiB at most in runs (the pair's traffic too), and
    // was back within 3.8 MiB of the start by the end.
    assert!(
        rss_max - rss_before < 16 * 1024,
        "the daemon grew {} KiB while the VM was stopped",
        rss_max - rss_before
    );
    // Its receive ring (256 buffers) and the 1 024 frames the port keeps for it hold the first
    // ones; every later one is dropped and counted (in runs: exactly 1 280 kept, or fewer),
    // but for what is still on its way from the driver to the port when the status is taken:
    // on session 25's slower machine 124 to 128 frames (session 23's build and this one), at
    // most one driver turn's batch (`COMMAND_BATCH` in `vwifi-host/src/driver/mod.rs`).
    const ON_THE_WAY: u64 = 128;
    assert!(
        no_buffer > 0 && no_buffer + 256 + 1024 + ON_THE_WAY >= for_vm,
        "{no_buffer} of {for_vm} frames for the VM counted as dropped ({sent} sent): {stalled}"
    );
    for name in [
        vm_name,
        &format!("netns:{}", c.0),
        &format!("netns:{}", d.0),
    ] {
        assert_eq!(
            guest_named(&stalled, name)["state"],
            "connected",
            "{stalled}"
        );
    }
}
