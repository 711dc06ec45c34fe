//! Commands that mean what they say, and a daemon that stays correct while containers come and
//! go (issue 19): `detach` returns once the namespace's interface is gone, so an `attach` right
//! after it works; an `attach` and a `detach` sent together on one namespace are served one after
//! the other and leave the status and the namespace agreeing; and a bounded churn of
//! attach/connect/disconnect/detach cycles on several namespaces fails no operation and keeps the
//! daemon's memory flat after warm-up.
//!
//! Needs root and `ip` (iproute2); ignored otherwise (`.ci/run` runs ignored tests as root). Needs
//! the `vwifi-guest` binary next to `vwifi-host` (`cargo build -p vwifi-guest`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    drop_count as count, guest_bin, text, Netns, Options, TestDaemon, HOST, LAB_PASSPHRASE,
};

common::daemon::wrapper! {
    /// The daemon ([`TestDaemon`]) with no attachment at start.
    Daemon
}

impl Daemon {
    fn start() -> Self {
        Self::start_with_state(None)
    }

    /// The daemon with its state in `state_dir` (default: a directory of its own).
    fn start_with_state(state_dir: Option<&std::path::Path>) -> Self {
        Self::start_with(state_dir, None, "")
    }

    /// The daemon with its state in `state_dir` (default: a directory of its own), the
    /// uplink TAP `uplink`, if given, and `extra` at the end of its configuration.
    fn start_with(state_dir: Option<&std::path::Path>, uplink: Option<&str>, extra: &str) -> Self {
        let uplink = uplink.map_or_else(String::new, |u| format!("uplink_tap = \"{u}\"\n"));
        Self(TestDaemon::start(Options {
            state_dir: state_dir.map(std::path::Path::to_path_buf),
            ..Options::config(format!("{uplink}{extra}"))
        }))
    }

    /// Whether the status lists the guest of namespace `ns`.
    fn attached(&self, ns: &Netns) -> bool {
        self.guest(&format!("netns:{}", ns.0)).is_some()
    }
}

/// Whether `wlan0` exists in `ns` right now.
fn has_wlan0(ns: &Netns) -> bool {
    ns.exec("ip", &["link", "show", "wlan0"]).status.success()
}

/// Sends one request line to the daemon's control socket, as fast as a program can: the reply
/// line.
fn request(socket: &std::path::Path, line: &str) -> String {
    use std::io::{BufRead as _, Write as _};
    let mut ctl = socket.as_os_str().to_owned();
    ctl.push(".ctl");
    let mut stream = std::os::unix::net::UnixStream::connect(&ctl).expect("control socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("request");
    let mut reply = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut reply)
        .expect("reply");
    reply
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn detach_returns_once_the_interface_is_gone_so_attach_right_after_it_works() {
    let daemon = Daemon::start();
    let ns = Netns::new("dt");
    let attach = format!("{{\"request\":\"attach\",\"netns\":\"{}\"}}", ns.0);
    let detach = format!("{{\"request\":\"detach\",\"netns\":\"{}\"}}", ns.0);
    for round in 0..50 {
        // Back to back, as a program (a CNI plugin, a container engine) sends them.
        let attached = request(daemon.socket(), &attach);
        assert!(
            attached.starts_with("{\"attached\""),
            "round {round}: attach: {attached}\n{}",
            daemon.log_text()
        );
        let detached = request(daemon.socket(), &detach);
        assert!(
            detached.starts_with("{\"detached\""),
            "round {round}: detach: {detached}"
        );
    }
    // No waiting: the interface is gone when `detach` returns.
    let out = daemon.host(&["attach", "--netns", &ns.0]);
    assert!(out.status.success(), "attach: {}", text(&out));
    assert!(has_wlan0(&ns), "no wlan0 after attach");
    let out = daemon.host(&["detach", "--netns", &ns.0]);
    assert!(out.status.success(), "detach: {}", text(&out));
    assert!(!has_wlan0(&ns), "wlan0 still there after detach");
    // Detaching what is not attached says why, and changes nothing.
    let out = daemon.host(&["detach", "--netns", &ns.0]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is not attached"), "{}", text(&out));
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn attach_and_detach_sent_together_are_served_in_turn_and_leave_nothing_half_done() {
    let daemon = Daemon::start();
    let ns = Netns::new("cc");
    let socket = daemon.socket().to_path_buf();
    let run = |verb: &'static str, ns: String, socket: PathBuf| {
        std::thread::spawn(move || {
            Command::new(HOST)
                .args([verb, "--netns", &ns, "--socket"])
                .arg(&socket)
                .output()
                .expect("vwifi-host")
        })
    };
    for round in 0..20 {
        let verbs = if round % 2 == 0 {
            ["attach", "detach", "attach"]
        } else {
            ["detach", "attach", "detach"]
        };
        let outs: Vec<(&str, Output)> = verbs
            .iter()
            .map(|v| (*v, run(v, ns.0.clone(), socket.clone())))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(v, h)| (v, h.join().expect("thread")))
            .collect();
        for (verb, out) in &outs {
            // Each command either did its work or was refused for a reason the operator reads;
            // no other failure (a taken interface name, a time-out) is allowed.
            let t = text(out);
            assert!(
                out.status.success()
                    || t.contains("is attached already")
                    || t.contains("is not attached"),
                "round {round}: {verb}: {t}\n{}",
                daemon.log_text()
            );
        }
        // Whatever order they ran in, the status and the namespace agree.
        assert_eq!(
            daemon.attached(&ns),
            has_wlan0(&ns),
            "round {round}: status and namespace disagree: {outs:?}"
        );
    }
}

/// One round's operations on one namespace: attach, connect, check, disconnect, detach. The
/// failures, each described.
fn cycle(socket: &std::path::Path, ns: &str, round: usize) -> (u32, Vec<String>) {
    let mut ops = 0;
    let mut failures = Vec::new();
    let mut op = |what: &str, cmd: &mut Command, want: Option<&str>| {
        ops += 1;
        let out = cmd.output().expect("spawn");
        let t = text(&out);
        if !out.status.success() || want.is_some_and(|w| !t.contains(w)) {
            failures.push(format!("round {round} {ns}: {what}: {t}"));
            return false;
        }
        true
    };
    let host = |verb: &str| {
        let mut c = Command::new(HOST);
        c.args([verb, "--netns", ns, "--socket"]).arg(socket);
        c
    };
    let guest = |args: &[&str]| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns])
            .arg(guest_bin())
            .args(["--link", "wlan0"])
            .args(args);
        c
    };
    if !op("attach", &mut host("attach"), None) {
        return (ops, failures);
    }
    let connect: &[&str] = if round % 2 == 0 {
        &["connect", "vwifi-open"]
    } else {
        &["connect", "vwifi-lab", "--passphrase", LAB_PASSPHRASE]
    };
    if op("connect", &mut guest(connect), None) {
        op(
            "status",
            &mut guest(&["--json", "status"]),
            Some("\"connected\""),
        );
        op("disconnect", &mut guest(&["disconnect"]), None);
    }
    op("detach", &mut host("detach"), None);
    (ops, failures)
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn churn_of_attach_connect_disconnect_detach_fails_nothing_and_keeps_memory_flat() {
    const NAMESPACES: usize = 4;
    const ROUNDS: usize = 60;
    const WARM_UP: usize = 10;
    let daemon = Daemon::start();
    let spaces: Vec<Netns> = (0..NAMESPACES).map(|_| Netns::new("ch")).collect();
    let start = Instant::now();
    let (mut ops, mut failures) = (0u32, Vec::new());
    let mut rss_warm = 0;
    for round in 0..ROUNDS {
        let handles: Vec<_> = spaces
            .iter()
            .map(|ns| {
                let (socket, ns) = (daemon.socket().to_path_buf(), ns.0.clone());
                std::thread::spawn(move || cycle(&socket, &ns, round))
            })
            .collect();
        for h in handles {
            let (n, f) = h.join().expect("thread");
            ops += n;
            failures.extend(f);
        }
        if round + 1 == WARM_UP {
            rss_warm = daemon.rss_kib();
        }
    }
    let rss_end = daemon.rss_kib();
    let elapsed = start.elapsed();
    eprintln!(
        "churn: {NAMESPACES} namespaces x {ROUNDS} rounds, {ops} operations, {} failed, in {:.1} s; \
         RSS {rss_warm} KiB after round {WARM_UP}, {rss_end} KiB at the end",
        failures.len(),
        elapsed.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {ops} operations failed:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        daemon.log_text()
    );
    // Nothing is left behind: no guest in the status, no interface in any namespace.
    let status = daemon.status().expect("status");
    assert_eq!(
        status["guests"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );
    assert!(spaces.iter().all(|ns| !has_wlan0(ns)));
    assert!(
        rss_end * 10 <= rss_warm * 11,
        "RSS grew more than 10 % after warm-up: {rss_warm} KiB after round {WARM_UP}, {rss_end} KiB at the end"
    );
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn a_daemon_stopped_for_seconds_resumes_and_its_guests_carry_on() {
    let daemon = Daemon::start();
    let (a, b) = (Netns::new("sa"), Netns::new("sb"));
    for (ns, ip) in [(&a, "10.98.0.1/24"), (&b, "10.98.0.2/24")] {
        attach_and_join(&daemon, ns, "vwifi-open", ip);
    }
    let ping = |n: &str| a.exec("ping", &["-c", n, "-i", "0.2", "-w", "20", "10.98.0.2"]);
    let out = ping("3");
    assert!(out.status.success(), "ping before: {}", text(&out));
    // Stopped (as a debugger or a frozen cgroup would) for 30 s (issue 19 item 3), with
    // traffic waiting.
    let rss_before = daemon.rss_kib();
    let pid = daemon.pid().to_string();
    common::run_ok(Command::new("kill").args(["-STOP", &pid]));
    let waiting = std::thread::spawn({
        let ns = a.0.clone();
        move || {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "ping",
                    "-c",
                    "150",
                    "-i",
                    "0.2",
                    "-w",
                    "40",
                    "10.98.0.2",
                ])
                .output()
                .expect("ping")
        }
    });
    std::thread::sleep(Duration::from_secs(30));
    common::run_ok(Command::new("kill").args(["-CONT", &pid]));
    let _ = waiting.join();
    // Resumed: it answers, both guests are still there and connected, and traffic flows again.
    let status = daemon.status().expect("status after SIGCONT");
    let states: Vec<&str> = status["guests"]
        .as_array()
        .expect("guests")
        .iter()
        .filter_map(|g| g["state"].as_str())
        .collect();
    assert_eq!(states, ["connected", "connected"], "{status}");
    let out = ping("5");
    assert!(
        out.status.success(),
        "ping after: {}\n{}",
        text(&out),
        daemon.log_text()
    );
    // What waited in the kernel's queues meanwhile was bounded there: the daemon did not
    // pile it up.
    let rss_after = daemon.rss_kib();
    println!(
        "stopped 30 s: RSS {rss_before} KiB before, {rss_after} KiB after; dropped per guest {:?}",
        status["guests"]
            .as_array()
            .map(|g| g.iter().map(dropped).collect::<Vec<_>>())
    );
    assert!(
        rss_after <= rss_before + 32 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
}

/// The guest named `netns:NAME`, or the first whose name is none of those, in a status.
fn guest_of<'a>(status: &'a serde_json::Value, name: Option<&str>) -> &'a serde_json::Value {
    status["guests"]
        .as_array()
        .and_then(|g| {
            g.iter().find(|g| {
                let n = g["name"].as_str().unwrap_or_default();
                match name {
                    Some(want) => n == want,
                    None => !n.starts_with("netns:"),
                }
            })
        })
        .unwrap_or(&serde_json::Value::Null)
}

fn dropped(guest: &serde_json::Value) -> u64 {
    guest["dropped"]
        .as_array()
        .map(|d| d.iter().filter_map(|r| r[1].as_u64()).sum())
        .unwrap_or(0)
}

/// Attaches `ns`, joins its `wlan0` to the open network `ssid` and gives it `ip`.
fn attach_and_join(daemon: &Daemon, ns: &Netns, ssid: &str, ip: &str) {
    let out = daemon.host(&["attach", "--netns", &ns.0]);
    assert!(out.status.success(), "attach: {}", text(&out));
    let out = ns.exec(guest_bin(), &["--link", "wlan0", "connect", ssid]);
    assert!(out.status.success(), "connect: {}", text(&out));
    let out = ns.exec("ip", &["addr", "add", ip, "dev", "wlan0"]);
    assert!(out.status.success(), "address: {}", text(&out));
}

/// A socket guest: `vwifi-guest agent` in `ns` on the daemon's socket, its control socket
/// `control` (beside the daemon's), joined to the open network `ssid`, `vwifi0` given `ip`.
fn agent_joined(daemon: &Daemon, ns: &Netns, control: &str, ssid: &str, ip: &str) -> Agent {
    let control = daemon.socket().with_file_name(control);
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(guest_bin())
        .arg("agent")
        .arg("--socket")
        .arg(daemon.socket())
        .arg("--control")
        .arg(&control)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let agent = Agent(child, control);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ns.exec(guest_bin(), &["--socket", agent.control(), "connect", ssid]);
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "agent connect: {}", text(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = ns.exec("ip", &["addr", "add", ip, "dev", "vwifi0"]);
    assert!(out.status.success(), "address: {}", text(&out));
    agent
}

/// Sends 1400-byte UDP datagrams to 10.97.0.3 for 2 s, as fast as the stack takes them
/// (ping paces itself at 100 a second when no reply comes); prints how many went out.
const UDP_FLOOD: &str = "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, end = 0, time.time() + 2
while time.time() < end:
    try:
        s.sendto(b'x' * 1400, ('10.97.0.3', 9)); n += 1
    except OSError:
        time.sleep(0.001)
print('sent', n)
";

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn a_guest_that_stops_reading_has_its_drops_counted_is_cut_off_and_comes_back() {
    // Not shown yet (see the issue notes): that the others keep their throughput meanwhile;
    // a flood fills the shared air and its sender's queues whoever reads.
    // The flood for the stalled guest is first held back at its sender's TAP while the
    // daemon keeps what came before it (the guest's outbox, then a backlog of twice that);
    // once both are full the daemon drops and counts. A short link queue makes that happen
    // well within the flood's 2 s on the 54 Mbit/s air (1 355 frames reached it in a debug
    // build on a loaded machine; the default queue and backlog hold 1 536).
    let daemon = Daemon::start_with(None, None, "[mux]\nlink_queue = 64\n");
    let (a, b, s) = (Netns::new("ra"), Netns::new("rb"), Netns::new("rs"));
    for (ns, ip) in [(&a, "10.97.0.1/16"), (&b, "10.97.0.2/16")] {
        attach_and_join(&daemon, ns, "vwifi-open", ip);
    }
    // The slow guest: an agent on the daemon's socket, in its own namespace.
    let agent = agent_joined(&daemon, &s, "slow-agent.sock", "vwifi-open", "10.97.0.3/16");
    let out = a.exec("ping", &["-c", "2", "-i", "0.2", "-w", "10", "10.97.0.3"]);
    assert!(out.status.success(), "ping the slow guest: {}", text(&out));
    // It stops reading (SIGSTOP) while traffic keeps coming for it.
    let pid = agent.0.id().to_string();
    // `ip netns exec` execs the agent: the child's pid is the agent's.
    common::run_ok(Command::new("kill").args(["-STOP", &pid]));
    // For less than the 5 s after which the daemon cuts a guest that takes nothing.
    let flood = a.exec("python3", &["-c", UDP_FLOOD]);
    let status = daemon.status().expect("status");
    common::run_ok(Command::new("kill").args(["-CONT", &pid]));
    let slow = guest_of(&status, None);
    assert!(
        dropped(slow) > 0,
        "nothing counted as dropped for the slow guest: {status}\n{}",
        text(&flood)
    );
    for ns in [&a, &b] {
        let g = guest_of(&status, Some(&format!("netns:{}", ns.0)));
        assert_eq!(g["state"], "connected", "{status}");
    }
    // Resumed, it is still served: its station is connected and it answers.
    let out = s.exec(
        guest_bin(),
        &["--socket", agent.control(), "--json", "status"],
    );
    assert!(text(&out).contains("\"connected\""), "{}", text(&out));
    // Stopped for longer, it is cut off (the peer took no message for 5 s); resumed, the agent
    // reconnects by itself and rejoins its network.
    common::run_ok(Command::new("kill").args(["-STOP", &pid]));
    std::thread::sleep(Duration::from_secs(7));
    let cut = daemon.status().expect("status");
    common::run_ok(Command::new("kill").args(["-CONT", &pid]));
    assert!(guest_of(&cut, None).is_null(), "not cut off: {cut}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = daemon.status().expect("status");
        if guest_of(&status, None)["state"] == "connected" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not come back: {status}\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(agent);
}

/// Megabits per second of a 2-second TCP iperf3 run from `client` to an iperf3 server in
/// `server` at `server_ip`, while `beside` runs in `flooder` (the flood takes 2 s too). A run
/// whose report comes back incomplete (seen once in a local `.ci/run`: iperf3 exited 0 without
/// `end.sum_received`) is told and measured again, once.
fn iperf_beside(server: &Netns, client: &Netns, server_ip: &str, beside: Option<&Netns>) -> f64 {
    let mut tries = 0;
    loop {
        tries += 1;
        server.iperf3_server_once();
        let flood = beside.map(|ns| {
            let ns = ns.0.clone();
            std::thread::spawn(move || {
                Command::new("ip")
                    .args(["netns", "exec", &ns, "python3", "-c", UDP_FLOOD])
                    .output()
                    .expect("flood")
            })
        });
        let out = client.exec("iperf3", &["-c", server_ip, "-t", "2", "-J"]);
        if let Some(f) = flood {
            let f = f.join().expect("flood thread");
            assert!(f.status.success(), "flood: {}", text(&f));
        }
        match common::iperf3_received_mbits(&out) {
            Ok(mbits) => return mbits,
            Err(e) if tries == 1 && out.status.success() => {
                println!("iperf3's report was incomplete, measuring again: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// A daemon on the zero-airtime air (the air is not what guests share) with one open network
/// `ssid`, and three namespaces (tags `TAGf`, `TAGc`, `TAGd`) joined to it: a flooder
/// (10.97.0.1, [`UDP_FLOOD`]) and a steady pair (10.97.0.4 and 10.97.0.5, [`iperf_beside`]).
fn flooder_and_pair(tag: &str, ssid: &str) -> (Daemon, Netns, Netns, Netns) {
    let daemon = Daemon::start_with(
        None,
        None,
        &format!("[sim.medium]\nairtime = false\n[[sim.aps]]\nssid = \"{ssid}\"\nchannel = 1\n"),
    );
    let [f, c, d] = ["f", "c", "d"].map(|t| Netns::new(&format!("{tag}{t}")));
    for (ns, ip) in [
        (&f, "10.97.0.1/16"),
        (&c, "10.97.0.4/16"),
        (&d, "10.97.0.5/16"),
    ] {
        attach_and_join(&daemon, ns, ssid, ip);
    }
    (daemon, f, c, d)
}

#[test]
#[ignore = "needs root, ip netns, iperf3 and python3; .ci/run runs ignored tests as root"]
fn a_stalled_guest_costs_the_others_no_more_than_the_same_flood_to_a_reading_one() {
    // Issue 19 item 3: the others keep their throughput while one guest stops reading. A
    // flood for a guest loads the daemon whoever reads it, so the stall is told apart from the
    // flood: a steady pair's TCP is measured alone, beside a 2 s UDP flood to a guest that
    // reads (an agent on the daemon's socket), and beside the same flood to that guest
    // stopped (SIGSTOP). On the zero-airtime air, so that the air is not what is shared.
    let (daemon, f, c, d) = flooder_and_pair("s", "stall-open");
    let s = Netns::new("ss");
    let agent = agent_joined(
        &daemon,
        &s,
        "stall-agent.sock",
        "stall-open",
        "10.97.0.3/16",
    );
    let out = f.exec("ping", &["-c", "2", "-i", "0.2", "-w", "10", "10.97.0.3"]);
    assert!(out.status.success(), "ping the agent: {}", text(&out));

    let alone = iperf_beside(&d, &c, "10.97.0.5", None);
    let reading = iperf_beside(&d, &c, "10.97.0.5", Some(&f));
    let before = daemon.status().expect("status");
    assert_eq!(
        guest_of(&before, None)["state"],
        "connected",
        "the agent fell off under a flood it reads: {before}\n{}",
        daemon.log_text()
    );
    let pid = agent.0.id().to_string();
    common::run_ok(Command::new("kill").args(["-STOP", &pid]));
    let stalled = iperf_beside(&d, &c, "10.97.0.5", Some(&f));
    let status = daemon.status().expect("status");
    common::run_ok(Command::new("kill").args(["-CONT", &pid]));
    println!(
        "steady pair TCP 2 s: alone {alone:.0} Mbit/s; beside a flood to a reading guest \
         {reading:.0}; beside the same flood to that guest stopped {stalled:.0} \
         ({:.2}x the reading case)",
        stalled / reading
    );
    assert!(
        alone > 0.0 && reading > 0.0,
        "no throughput: {alone} {reading}"
    );
    // Robust bound, not a target: the stall must not take the pair down (a daemon blocked on
    // the stalled guest would give ~0); on a shared 2-core machine single runs vary by 2x.
    assert!(
        stalled > 0.25 * reading,
        "the stalled guest held the others back: {stalled:.0} against {reading:.0} Mbit/s\n{}",
        daemon.log_text()
    );
    // What came for the stalled guest was held back at the flooder's TAP, or dropped and
    // counted against the stalled guest, or it was cut off (a socket guest that takes nothing
    // for 5 s is; the flood fills its socket before it stops).
    let slow = guest_of(&status, None);
    println!(
        "stalled guest: {}",
        if slow.is_null() {
            "cut off".to_owned()
        } else {
            format!("{} dropped and counted", dropped(slow))
        }
    );
    for ns in [&c, &d] {
        let g = guest_of(&status, Some(&format!("netns:{}", ns.0)));
        // Frames sent before the station was associated (router solicitations at attach)
        // are refused at the TAP. After that, a steady guest whose port cannot keep up on a
        // loaded machine may lose a few to its own full queue (51 of ~30 000 seen in CI with
        // a 64-message link queue), never a share that would stall its TCP.
        let lost = dropped(g) - count(g, "tap_not_associated");
        let got = g["rx_packets"].as_u64().unwrap_or(0) + g["tx_packets"].as_u64().unwrap_or(0);
        assert!(
            lost * 100 <= got,
            "a steady guest lost {lost} of {got} frames: {status}"
        );
    }
    drop(agent);
}

/// An agent process killed when dropped (a failed assertion too), and its control socket.
struct Agent(std::process::Child, PathBuf);

impl Agent {
    fn control(&self) -> &str {
        self.1.to_str().expect("path")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small tmpfs, unmounted when dropped.
struct SmallFs(tempfile::TempDir);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
#[ignore = "needs root (mount) and ip netns; .ci/run runs ignored tests as root"]
fn a_full_state_directory_is_reported_in_status_and_saved_once_there_is_room() {
    let fs = SmallFs(tempfile::tempdir().expect("tempdir"));
    common::run_ok(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "vwifi-test"])
            .arg(fs.0.path()),
    );
    let state = fs.0.path().join("state");
    let daemon = Daemon::start_with_state(Some(&state));
    // Fill the file system to the last byte.
    let filler = fs.0.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", filler.display()))
        .output();
    let (a, b) = (Netns::new("fa"), Netns::new("fb"));
    let out = daemon.host(&["attach", "--netns", &a.0]);
    assert!(out.status.success(), "attach: {}", text(&out));
    let status = daemon.status().expect("status");
    let why = status["state_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("No space left"), "{status}");
    let table = text(&daemon.host(&["status"]));
    assert!(table.contains("state: NOT SAVED"), "{table}");
    // Room again: the next change saves everything, the first attachment included.
    std::fs::remove_file(&filler).expect("remove filler");
    let out = daemon.host(&["attach", "--netns", &b.0]);
    assert!(out.status.success(), "attach: {}", text(&out));
    let status = daemon.status().expect("status");
    assert!(status.get("state_error").is_none(), "{status}");
    let saved = std::fs::read_to_string(state.join("state.json")).expect("state.json");
    assert!(saved.contains(&a.0) && saved.contains(&b.0), "{saved}");
    for ns in [&a, &b] {
        let out = daemon.host(&["detach", "--netns", &ns.0]);
        assert!(out.status.success(), "detach: {}", text(&out));
    }
}

#[test]
#[ignore = "needs root; .ci/run runs ignored tests as root"]
fn an_uplink_tap_deleted_under_the_daemon_is_reported_and_recreated() {
    let name = format!("vwr{}", std::process::id() % 100_000);
    let daemon = Daemon::start_with(None, Some(&name), "");
    let _cleanup = scopeguard(name.clone());
    common::run_ok(Command::new("ip").args(["link", "show", &name]));
    common::run_ok(Command::new("ip").args(["link", "del", &name]));
    let (mut seen_down, deadline) = (false, Instant::now() + Duration::from_secs(10));
    loop {
        let status = daemon.status().expect("status");
        let down = status.get("uplink_error").is_some();
        seen_down |= down;
        let back = Command::new("ip")
            .args(["link", "show", &name])
            .output()
            .expect("ip")
            .status
            .success();
        if seen_down && back && !down {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "uplink not reported down and recreated (seen down: {seen_down}, back: {back}): {status}\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = daemon.log_text();
    assert!(
        log.contains("the uplink is down") && log.contains("uplink TAP recreated"),
        "{log}"
    );
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn an_interface_deleted_in_its_namespace_is_attached_again_and_rejoins() {
    // Issue 19 item 2: `ip link del wlan0` inside the container. The TAP's task notices (its
    // reads fail), the daemon keeps the namespace's record, attaches it again (a new wlan0,
    // the same station address) and rejoins the recorded network; status tells it.
    let (daemon, a, _b) = pair_joined("d", 96);
    let name = format!("netns:{}", a.0);
    let mac = guest_of(&daemon.status().expect("status"), Some(&name))["mac"].clone();
    let ping = || a.exec("ping", &["-c", "2", "-i", "0.2", "-w", "10", "10.96.0.2"]);

    let deleted = Instant::now();
    common::run_ok(Command::new("ip").args(["netns", "exec", &a.0, "ip", "link", "del", "wlan0"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = daemon.status().expect("status");
        let g = guest_of(&status, Some(&name));
        if g["state"] == "connected" && has_wlan0(&a) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "not attached again and connected: {status}\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "wlan0 deleted in the namespace: attached again and connected after {:.2} s",
        deleted.elapsed().as_secs_f64()
    );
    assert_eq!(
        guest_of(&status, Some(&name))["mac"],
        mac,
        "another address: {status}"
    );
    let details = status["radio"]["details"].to_string();
    assert!(
        details.contains("deleted under the daemon")
            && details.contains("1 time(s); attached again"),
        "not reported in status: {status}"
    );
    // A new interface: its address is the container's to set again, as after a re-plug.
    let out = a.exec("ip", &["addr", "add", "10.96.0.1/24", "dev", "wlan0"]);
    assert!(out.status.success(), "address: {}", text(&out));
    let out = ping();
    assert!(out.status.success(), "ping after: {}", text(&out));
    let log = daemon.log_text();
    assert!(
        log.contains("went under the daemon") && log.contains("attached again"),
        "{log}"
    );
    // A detach still forgets it, and deleting the namespace is not an interface lost.
    let out = daemon.host(&["detach", "--netns", &a.0]);
    assert!(out.status.success(), "detach: {}", text(&out));
    assert!(!has_wlan0(&a), "wlan0 left after detach");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!daemon.attached(&a), "attached again after a detach");
}

/// A daemon and two namespaces (tags `TAGa`, `TAGb`) joined to vwifi-open as 10.NET.0.1/24
/// and 10.NET.0.2/24, the first having pinged the second.
fn pair_joined(tag: &str, net: u8) -> (Daemon, Netns, Netns) {
    let daemon = Daemon::start();
    let [a, b] = ["a", "b"].map(|t| Netns::new(&format!("{tag}{t}")));
    attach_and_join(&daemon, &a, "vwifi-open", &format!("10.{net}.0.1/24"));
    attach_and_join(&daemon, &b, "vwifi-open", &format!("10.{net}.0.2/24"));
    assert_pings(&a, &format!("10.{net}.0.2"), "before");
    (daemon, a, b)
}

/// Pings `to` from `from` (twice, within 10 s), which must answer; `what` names the moment.
fn assert_pings(from: &Netns, to: &str, what: &str) {
    let out = from.exec("ping", &["-c", "2", "-i", "0.2", "-w", "10", to]);
    assert!(out.status.success(), "ping {what}: {}", text(&out));
}

/// Deletes the interface `name` when dropped.
fn scopeguard(name: String) -> impl Drop {
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
    Del(name)
}

/// The radio's details in a status, as one string.
fn details(status: &serde_json::Value) -> String {
    status["radio"]["details"].to_string()
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn an_interface_renamed_in_its_namespace_keeps_its_data_and_is_detached_under_its_new_name() {
    // Issue 19 item 2: `ip link set wlan0 name foo` inside the container. The TAP's descriptor
    // stays bound to the interface: the data flows on; the daemon follows the name (status,
    // log, state), and `detach` deletes the interface by its index whatever it is called.
    let (daemon, a, _b) = pair_joined("n", 94);

    let rename = a.exec("ip", &["link", "set", "wlan0", "name", "foo"]);
    if !rename.status.success() {
        // Kernels before 6.2 rename only an interface that is down.
        for args in [
            &["wlan0", "down"][..],
            &["wlan0", "name", "foo"],
            &["foo", "up"],
        ] {
            let out = a.exec("ip", &[&["link", "set"][..], args].concat());
            assert!(out.status.success(), "rename: {}", text(&out));
        }
    }
    let name = format!("netns:{}", a.0);
    let status = common::wait_for_status(
        daemon.socket(),
        Duration::from_secs(10),
        "the new name in the status",
        |s| guest_of(s, Some(&name))["ifname"] == "foo",
        || daemon.log_text(),
    );
    assert!(
        details(&status).contains("wlan0 -> foo"),
        "no rename in the details: {status}"
    );
    assert_eq!(guest_of(&status, Some(&name))["state"], "connected");
    assert_pings(&a, "10.94.0.2", "after the rename");
    let log = daemon.log_text();
    assert_eq!(log.matches("renamed in the container").count(), 1, "{log}");
    assert!(
        text(&daemon.host(&["status"])).contains("wlan0 -> foo"),
        "the table does not tell the rename"
    );
    // Recorded under its name now: a restart takes the TAP up again as `foo`.
    let state = daemon.socket().with_file_name("state").join("state.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let saved = std::fs::read_to_string(&state).unwrap_or_default();
        if saved.contains("\"ifname\": \"foo\"") {
            break;
        }
        assert!(Instant::now() < deadline, "not recorded: {saved}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // `detach` deletes it under its new name, and the namespace can be attached again.
    let out = daemon.host(&["detach", "--netns", &a.0]);
    assert!(out.status.success(), "detach: {}", text(&out));
    let links = text(&a.exec("ip", &["-o", "link"]));
    assert_eq!(links.lines().count(), 1, "an interface left: {links}");
    let out = daemon.host(&["attach", "--netns", &a.0]);
    assert!(out.status.success(), "attach again: {}", text(&out));
    assert!(has_wlan0(&a), "no wlan0 after attaching again");
    let status = daemon.status().expect("status");
    assert_eq!(
        guest_of(&status, Some(&name))["ifname"],
        "wlan0",
        "{status}"
    );
    assert!(!details(&status).contains("renamed"), "{status}");
}

#[test]
#[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
fn a_namespace_deleted_under_the_daemon_is_reported_and_its_name_can_be_attached_again() {
    // Issue 19 item 2: `ip netns del NS` while attached, nothing else in it. The daemon's
    // descriptor alone keeps it alive: the TAP's task sees its file gone, lets the namespace go
    // (the interface goes with it), removes the guest and says so; it does not try to attach
    // it again. A new namespace of that name is attached as any other.
    let (daemon, a, b) = pair_joined("g", 93);

    common::run_ok(Command::new("ip").args(["netns", "del", &a.0]));
    let gone = format!("network namespace {} gone", a.0);
    let status = common::wait_for_status(
        daemon.socket(),
        Duration::from_secs(10),
        "the namespace reported gone",
        |s| !daemon_lists(s, &a) && details(s).contains(&gone),
        || daemon.log_text(),
    );
    assert_eq!(
        guest_of(&status, Some(&format!("netns:{}", b.0)))["state"],
        "connected",
        "{status}"
    );
    let log = daemon.log_text();
    assert!(
        log.contains("went away under the daemon") && !log.contains("attaching it again"),
        "{log}"
    );

    // A new namespace of that name.
    common::run_ok(Command::new("ip").args(["netns", "add", &a.0]));
    attach_and_join(&daemon, &a, "vwifi-open", "10.93.0.1/24");
    assert_pings(&a, "10.93.0.2", "in the new namespace");
    let status = daemon.status().expect("status");
    assert!(!details(&status).contains(&gone), "{status}");
}

/// Whether a status lists the guest of namespace `ns`.
fn daemon_lists(status: &serde_json::Value, ns: &Netns) -> bool {
    !guest_of(status, Some(&format!("netns:{}", ns.0))).is_null()
}

#[test]
#[ignore = "needs root, ip netns, iperf3 and python3; .ci/run runs ignored tests as root"]
fn a_tap_that_takes_nothing_has_its_writes_dropped_and_counted_the_others_flow_and_it_recovers() {
    // Issue 19 item 3: a TAP whose container takes nothing (its interface down: the kernel
    // refuses every write to the TAP) while a flood comes for it. The daemon never waits on
    // that TAP: it drops what it cannot write and counts it against that guest
    // (`tap_write_dropped`), a steady pair beside it keeps its data flowing, and once the
    // container takes frames again its data flows again. On the zero-airtime air, so that the
    // flood does not share the air with the pair.
    let (daemon, f, c, d) = flooder_and_pair("q", "full-open");
    let s = Netns::new("qs");
    attach_and_join(&daemon, &s, "full-open", "10.97.0.3/16");
    assert_pings(&f, "10.97.0.3", "before");
    let name = format!("netns:{}", s.0);
    let mac = guest_of(&daemon.status().expect("status"), Some(&name))["mac"]
        .as_str()
        .expect("mac")
        .to_owned();
    // The flooder keeps sending to it without an answer to its ARP.
    f.pin_neighbour("10.97.0.3", &mac);
    // The flood loads the daemon whoever takes it: the pair is measured beside the flood to
    // the guest taking it, then beside the same flood to the guest taking nothing.
    let reading = iperf_beside(&d, &c, "10.97.0.5", Some(&f));
    let took = count(
        guest_of(&daemon.status().expect("status"), Some(&name)),
        "tap_write_dropped",
    );

    common::run_ok(Command::new("ip").args(["-n", &s.0, "link", "set", "wlan0", "down"]));
    let beside = iperf_beside(&d, &c, "10.97.0.5", Some(&f));
    assert_pings(&c, "10.97.0.5", "beside the full TAP");
    let status = daemon.status().expect("status");
    let full = guest_of(&status, Some(&name));
    println!(
        "steady pair TCP 2 s: beside a flood to a TAP that takes it {reading:.0} Mbit/s \
         ({took} writes dropped), beside the same flood to the TAP taking nothing {beside:.0} \
         ({:.2}x); its writes dropped: {}",
        beside / reading,
        count(full, "tap_write_dropped")
    );
    assert!(
        count(full, "tap_write_dropped") > took + 1000,
        "the refused writes are not counted: {status}"
    );
    assert_eq!(full["state"], "connected", "{status}");
    // Robust bound, not a target (a daemon blocked on the TAP would give ~0; on a shared
    // 2-core machine single runs vary by 2x).
    assert!(
        beside > 0.25 * reading,
        "the full TAP held the others back: {beside:.0} against {reading:.0} Mbit/s\n{}",
        daemon.log_text()
    );
    // It takes frames again: its data flows again.
    common::run_ok(Command::new("ip").args(["-n", &s.0, "link", "set", "wlan0", "up"]));
    assert_pings(&f, "10.97.0.3", "after");
}
