//! The `vwifi-guest` binary, run as a user would run it, against a fake host: a tokio task on
//! a temporary Unix socket that answers with scripted guest-protocol messages.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use vwifi_core::addr::MacAddr;
use vwifi_core::proto::{
    BssInfo, Capabilities, ConnectFailure, Counters, Credentials, Event, Message, Security, Ssid,
    StationState, StationStatus,
};
use vwifi_transport_unix::{ListenerConfig, UnixGuestListener};

const BIN: &str = env!("CARGO_BIN_EXE_vwifi-guest");
const PASSPHRASE: &str = "correct horse";
/// IEEE 802.11-2020 Annex J.4.2 test vector 1: the PSK of "password" on SSID "IEEE".
const J42_PSK: &str = "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e";
const STATION: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x01]);
const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0x01, 0x00]);

fn ssid(s: &str) -> Ssid {
    Ssid::new(s.as_bytes()).unwrap()
}

fn status(state: StationState) -> StationStatus {
    let connected = state == StationState::Connected;
    StationStatus {
        state,
        mac: STATION,
        ssid: connected.then(|| ssid("lab")),
        bssid: connected.then_some(AP),
        channel: connected.then_some(1),
        frequency_mhz: connected.then_some(2412),
        signal_dbm: connected.then_some(-42),
        tx_rate_kbps: connected.then_some(54_000),
        phy: None,
        counters: Counters::default(),
    }
}

/// What the fake host answers: a reply per request, and events after some.
fn script(msg: &Message) -> Vec<Message> {
    match msg {
        Message::Hello { id, .. } => vec![Message::HelloAck {
            id: *id,
            version: 1,
            capabilities: Capabilities::SCAN | Capabilities::OPEN | Capabilities::WPA2_PSK,
        }],
        Message::ScanRequest { id, .. } => vec![Message::ScanResults {
            id: *id,
            bss: vec![
                BssInfo {
                    ssid: ssid("guest"),
                    bssid: MacAddr([0x02, 0, 0, 0, 0x02, 0x00]),
                    channel: 6,
                    frequency_mhz: 2437,
                    signal_dbm: -71,
                    security: Security::Open,
                    beacon_age_ms: 400,
                    phy: None,
                },
                BssInfo {
                    ssid: ssid("lab"),
                    bssid: AP,
                    channel: 1,
                    frequency_mhz: 2412,
                    signal_dbm: -42,
                    security: Security::Wpa2Psk,
                    beacon_age_ms: 1200,
                    phy: None,
                },
            ],
        }],
        Message::Connect {
            id,
            ssid: net,
            credentials,
            ..
        } => {
            let ack = Message::Ack { id: *id };
            let outcome = match (net.as_bytes(), credentials) {
                (b"slow", _) => return vec![ack],
                (b"lab", Credentials::Passphrase(p)) if p.expose() == PASSPHRASE.as_bytes() => {
                    Event::Connected {
                        ssid: *net,
                        bssid: AP,
                        channel: 1,
                    }
                }
                (b"IEEE", Credentials::Psk(psk)) if psk.to_hex() == J42_PSK => Event::Connected {
                    ssid: *net,
                    bssid: AP,
                    channel: 1,
                },
                (b"lab" | b"IEEE", _) => Event::ConnectFailed {
                    reason: ConnectFailure::WrongPassphrase,
                },
                _ => Event::ConnectFailed {
                    reason: ConnectFailure::NetworkNotFound,
                },
            };
            // An event of an earlier attempt before the Ack must not be taken for this one.
            vec![
                Message::Event(Event::ConnectFailed {
                    reason: ConnectFailure::ApUnreachable,
                }),
                ack,
                Message::Event(Event::SignalChanged { dbm: -50 }),
                Message::Event(outcome),
            ]
        }
        Message::Disconnect { id } => vec![Message::Ack { id: *id }],
        Message::StatusRequest { id } => vec![Message::Status {
            id: *id,
            status: Box::new(status(StationState::Connected)),
        }],
        _ => vec![],
    }
}

/// A fake host on a fresh socket, serving every connection with `script` (and, after the
/// `HelloAck`, the `after_hello` messages), on a thread of its own.
struct FakeHost {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// Every message the host received, in order.
    seen: std_mpsc::Receiver<Message>,
}

impl FakeHost {
    fn start(after_hello: Vec<Message>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.sock");
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (seen_tx, seen) = std_mpsc::channel();
        let bind_path = path.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut listener = UnixGuestListener::bind(&bind_path, ListenerConfig::default())
                    .await
                    .unwrap();
                ready_tx.send(()).unwrap();
                loop {
                    let Ok(mut link) = listener.accept_link().await else {
                        continue;
                    };
                    let after_hello = after_hello.clone();
                    let seen_tx = seen_tx.clone();
                    tokio::spawn(async move {
                        while let Ok(msg) = link.recv().await {
                            let hello = matches!(msg, Message::Hello { .. });
                            let replies = script(&msg);
                            let _ = seen_tx.send(msg);
                            for reply in replies {
                                if link.send(&reply).await.is_err() {
                                    return;
                                }
                            }
                            if hello {
                                for m in &after_hello {
                                    let _ = link.send(m).await;
                                }
                            }
                        }
                    });
                }
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            _dir: dir,
            path,
            seen,
        }
    }

    fn seen(&self) -> Vec<Message> {
        self.seen.try_iter().collect()
    }
}

/// Runs the binary with `args`, feeding `stdin`.
fn vwifi_guest(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("VWIFI_SOCKET")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vwifi-guest");
    // The process may exit before reading its input; a broken pipe is then expected.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("wait for vwifi-guest")
}

fn on(host: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut all = vec!["--socket", host.to_str().unwrap()];
    all.extend_from_slice(args);
    vwifi_guest(&all, stdin)
}

/// Runs an agent (no TAP) on its own thread, connected to the host at `host` and serving the
/// CLI on `control`; returns once it serves. The station must have the fake host's address.
fn spawn_agent(host: PathBuf, control: PathBuf) {
    let (ready_tx, ready_rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let agent =
                vwifi_guest::agent::Agent::connect(&vwifi_guest::agent::HostEndpoint::Socket(host))
                    .await
                    .unwrap();
            assert_eq!(agent.mac(), STATION);
            let listener = vwifi_guest::agent::bind_control(&control).await.unwrap();
            ready_tx.send(()).unwrap();
            let _ = agent.run(listener, None, std::future::pending()).await;
        });
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the agent did not come up");
}

fn stdout(o: &Output) -> &str {
    std::str::from_utf8(&o.stdout).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> &str {
    std::str::from_utf8(&o.stderr).expect("UTF-8 stderr")
}

fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

#[test]
fn scan_prints_a_table_strongest_first() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["scan"], b"");
    assert_exit(&o, 0);
    let lines: Vec<&str> = stdout(&o).lines().collect();
    assert_eq!(
        lines,
        [
            "SSID   BSSID               CH  SIGNAL        SECURITY   AGE",
            "lab    02:00:00:00:01:00    1  -42 dBm ▂▄▆█  WPA2-PSK   1.2s",
            "guest  02:00:00:00:02:00    6  -71 dBm ▂▄__  open       400ms",
        ]
    );
    assert!(matches!(host.seen().first(), Some(Message::Hello { .. })));
}

#[test]
fn scan_json_parses_and_carries_every_field() {
    let host = FakeHost::start(vec![]);
    let o = on(
        &host.path,
        &["--json", "scan", "--ssid", "lab", "--passive"],
        b"",
    );
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&o)).expect("JSON");
    let nets = v["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[1]["ssid"], "lab");
    assert_eq!(nets[1]["signal_dbm"], -42);
    assert_eq!(nets[1]["security"], "WPA2-PSK");
    let asked = host.seen();
    assert!(
        asked.iter().any(|m| matches!(m, Message::ScanRequest { ssid: Some(s), mode: vwifi_core::proto::ScanMode::Passive, .. } if s.as_bytes() == b"lab")),
        "{asked:?}"
    );
}

#[test]
fn connect_with_the_right_passphrase_prints_progress_and_succeeds() {
    let host = FakeHost::start(vec![]);
    let o = on(
        &host.path,
        &["connect", "lab", "--passphrase-stdin"],
        format!("{PASSPHRASE}\n").as_bytes(),
    );
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "connecting to lab…\nconnected to lab (02:00:00:00:01:00) on channel 1\n"
    );
    // RUST_LOG=debug logs every message sent, and the passphrase is in none of them.
    assert!(!stderr(&o).contains(PASSPHRASE), "{}", stderr(&o));
}

#[test]
fn connect_with_a_psk_file_sends_the_psk() {
    let host = FakeHost::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ieee.psk");
    std::fs::write(&file, format!("# IEEE\n{J42_PSK}\n")).unwrap();
    let o = on(
        &host.path,
        &["connect", "IEEE", "--psk-file", file.to_str().unwrap()],
        b"",
    );
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("connected to IEEE"), "{}", stdout(&o));
}

#[test]
fn wrong_passphrase_is_spelled_out_with_exit_1() {
    let host = FakeHost::start(vec![]);
    let o = on(
        &host.path,
        &["connect", "lab", "--passphrase", "not the passphrase"],
        b"",
    );
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains(
            "wrong passphrase: the access point refused the key; check the passphrase for 'lab'"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("not the passphrase"));
}

#[test]
fn network_not_found_points_to_scan_and_json_names_the_failure() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["--json", "connect", "nowhere"], b"");
    assert_exit(&o, 1);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("JSON");
    assert_eq!(v["error"]["kind"], "network_not_found");
    assert_eq!(v["error"]["exit_code"], 1);
    assert!(
        stderr(&o).contains("run `vwifi-guest scan`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn connect_without_an_outcome_times_out_with_exit_4() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["connect", "slow", "--timeout", "1"], b"");
    assert_exit(&o, 4);
    assert!(stderr(&o).contains("within 1 s"), "{}", stderr(&o));
}

#[test]
fn connect_no_wait_returns_once_accepted() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["connect", "slow", "--no-wait"], b"");
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("the host is connecting to slow"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn invalid_passphrase_is_a_usage_error_before_reaching_the_host() {
    let o = vwifi_guest(
        &[
            "--socket",
            "/nonexistent/host.sock",
            "connect",
            "lab",
            "--passphrase-stdin",
        ],
        b"short\n",
    );
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("invalid passphrase"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("short"));
}

#[test]
fn unreachable_host_exits_3_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.sock");
    let o = vwifi_guest(&["--socket", path.to_str().unwrap(), "status"], b"");
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains(&format!(
            "cannot reach the vwifi host at {}: no vwifi host listens there; start `vwifi-host run`",
            path.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn vwifi_socket_env_names_the_default_socket() {
    let host = FakeHost::start(vec![]);
    let o = Command::new(BIN)
        .arg("status")
        .env("VWIFI_SOCKET", &host.path)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).starts_with("state:    connected\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn status_prints_the_station_and_json_parses() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["status"], b"");
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("signal:   -42 dBm ▂▄▆█"),
        "{}",
        stdout(&o)
    );
    let o = on(&host.path, &["status", "--json"], b"");
    let v: serde_json::Value = serde_json::from_str(stdout(&o)).expect("JSON");
    assert_eq!(v["state"], "connected");
    assert_eq!(v["mac"], STATION.to_string());
}

#[test]
fn disconnect_says_disconnected() {
    let host = FakeHost::start(vec![]);
    let o = on(&host.path, &["disconnect"], b"");
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "disconnected\n");
}

#[test]
fn events_prints_each_event_and_stops_after_count() {
    let host = FakeHost::start(vec![
        Message::Event(Event::Connected {
            ssid: ssid("lab"),
            bssid: AP,
            channel: 1,
        }),
        Message::Event(Event::Disconnected {
            reason: 3,
            locally_generated: false,
        }),
        Message::Event(Event::SignalChanged { dbm: -60 }),
    ]);
    let o = on(&host.path, &["events", "--count", "2"], b"");
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "connected to lab (02:00:00:00:01:00) on channel 1\n\
         disconnected: the access point ended the connection (reason 3: station leaving)\n"
    );
    let o = on(&host.path, &["--json", "events", "--count", "3"], b"");
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["event"], "signal_changed");
}

#[test]
fn help_lists_the_exit_statuses() {
    let o = vwifi_guest(&["--help"], b"");
    assert_exit(&o, 0);
    for line in [
        "0  success",
        "1  the operation failed",
        "2  usage error",
        "3  cannot reach",
        "4  timeout",
    ] {
        assert!(stdout(&o).contains(line), "{line}: {}", stdout(&o));
    }
}

#[test]
fn socket_and_link_together_are_a_usage_error() {
    let o = vwifi_guest(&["--socket", "/s", "status", "--link", "lo"], b"");
    assert_exit(&o, 2);
}

/// The agent's control relay (no TAP): CLI requests are forwarded over the agent's one host
/// connection with ids of its own, replies come back to the right client, events reach the
/// CLI.
#[test]
fn agent_relays_the_cli_over_its_one_host_connection() {
    let host = FakeHost::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("guest.sock");
    spawn_agent(host.path.clone(), control.clone());
    let o = on(&control, &["status"], b"");
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("network:  lab"), "{}", stdout(&o));
    let o = on(
        &control,
        &["connect", "lab", "--passphrase-stdin"],
        format!("{PASSPHRASE}\n").as_bytes(),
    );
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("connected to lab"), "{}", stdout(&o));
    // The host saw one Hello (the agent's, asking for data) and the forwarded requests.
    let seen = host.seen();
    let hellos: Vec<_> = seen
        .iter()
        .filter_map(|m| match m {
            Message::Hello { capabilities, .. } => Some(*capabilities),
            _ => None,
        })
        .collect();
    assert_eq!(hellos.len(), 1, "{seen:?}");
    assert!(hellos[0].contains(Capabilities::DATA));
    assert!(seen.iter().any(|m| matches!(m, Message::Connect { .. })));
}

#[test]
fn agent_reconnects_to_a_host_that_went_away_and_asks_for_its_network_again() {
    // A host whose first link ends right after it answered a Connect (a daemon restart).
    let dir = tempfile::tempdir().unwrap();
    let host_path = dir.path().join("host.sock");
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let (seen_tx, seen) = std_mpsc::channel::<(u32, Message)>();
    let bind_path = host_path.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut listener = UnixGuestListener::bind(&bind_path, ListenerConfig::default())
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut n = 0u32;
            loop {
                let Ok(mut link) = listener.accept_link().await else {
                    continue;
                };
                n += 1;
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    while let Ok(msg) = link.recv().await {
                        let connect = matches!(msg, Message::Connect { .. });
                        let replies = script(&msg);
                        let _ = seen_tx.send((n, msg));
                        for reply in replies {
                            if link.send(&reply).await.is_err() {
                                return;
                            }
                        }
                        if connect && n == 1 {
                            // The daemon goes away.
                            return;
                        }
                    }
                });
            }
        });
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let control = dir.path().join("guest.sock");
    spawn_agent(host_path.clone(), control.clone());
    let o = on(
        &control,
        &["connect", "lab", "--passphrase-stdin"],
        format!("{PASSPHRASE}\n").as_bytes(),
    );
    assert_exit(&o, 0);
    // Without any command, the agent reconnects and asks for the same network again, with
    // the same credentials.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let second_connect = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok((n, msg)) = seen.recv_timeout(left) else {
            panic!("no second Connect: {got:?}");
        };
        if n == 2 && matches!(msg, Message::Connect { .. }) {
            break msg;
        }
        got.push((n, msg));
    };
    assert!(
        got.iter()
            .any(|(n, m)| *n == 2 && matches!(m, Message::Hello { .. })),
        "{got:?}"
    );
    let first_connect = got
        .iter()
        .find_map(|(n, m)| (*n == 1 && matches!(m, Message::Connect { .. })).then_some(m));
    match (first_connect, &second_connect) {
        (
            Some(Message::Connect {
                ssid: a,
                credentials: ca,
                ..
            }),
            Message::Connect {
                ssid: b,
                credentials: cb,
                ..
            },
        ) => assert!(a == b && ca == cb, "{a} / {b}"),
        other => panic!("{other:?}"),
    }
    // The CLI goes on working through the new link.
    let o = on(&control, &["status"], b"");
    assert_exit(&o, 0);
}

/// Runs `ip` with `args`, panicking with its stderr if it fails.
fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A network namespace holding one end of a veth pair; both go away on drop.
struct VethNetns {
    ns: String,
    host_if: String,
    guest_if: String,
}

impl VethNetns {
    fn new(tag: &str) -> Self {
        let id = std::process::id() % 100_000;
        let this = Self {
            ns: format!("vwg-{tag}-{id}"),
            host_if: format!("vwh{tag}{id}"),
            guest_if: format!("vwg{tag}{id}"),
        };
        ip(&["netns", "add", &this.ns]);
        ip(&[
            "link",
            "add",
            &this.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &this.guest_if,
        ]);
        ip(&["link", "set", &this.guest_if, "netns", &this.ns]);
        ip(&["link", "set", &this.host_if, "up"]);
        ip(&["-n", &this.ns, "link", "set", &this.guest_if, "up"]);
        this
    }
}

impl Drop for VethNetns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth end, and so the pair.
        for args in [["netns", "del", &self.ns], ["link", "del", &self.host_if]] {
            let _ = Command::new("ip").args(args).stderr(Stdio::null()).status();
        }
    }
}

/// In-band control over a real NIC: the CLI in a network namespace sends `Hello` and
/// `StatusRequest` in 0x88B5 frames on its veth end; a fake host on the other end answers.
#[test]
#[ignore = "needs root (CAP_NET_RAW, CAP_NET_ADMIN) and ip netns/veth"]
fn inband_status_round_trip_over_a_veth_pair() {
    use vwifi_guest::inband::{frame_message, parse_frame};
    let pair = VethNetns::new("i");
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == pair.host_if)
        .expect("host veth end");
    let host_mac = MacAddr(iface.mac.expect("veth MAC").octets());
    let config = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(100)),
        ..pnet_datalink::Config::default()
    };
    let pnet_datalink::Channel::Ethernet(mut tx, mut rx) =
        pnet_datalink::channel(&iface, config).expect("packet socket")
    else {
        panic!("not an Ethernet channel")
    };
    let (seen_tx, seen) = std_mpsc::channel();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let fake_host = std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(frame) = rx.next() else { continue };
            let Some(Ok(msg)) = parse_frame(frame, host_mac) else {
                continue;
            };
            let guest = MacAddr::from_slice(&frame[6..12]).unwrap();
            for reply in script(&msg) {
                let out = frame_message(&reply, host_mac, guest).unwrap();
                tx.send_to(&out, None).unwrap().unwrap();
            }
            let _ = seen_tx.send(msg);
        }
    });
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.ns,
            BIN,
            "--link",
            &pair.guest_if,
            "status",
        ])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    fake_host.join().unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).starts_with("state:    connected\nmac:      02:76:77:00:00:01\n"),
        "{}",
        stdout(&o)
    );
    let seen: Vec<Message> = seen.try_iter().collect();
    assert!(
        matches!(
            seen.as_slice(),
            [Message::Hello { .. }, Message::StatusRequest { .. }]
        ),
        "{seen:?}"
    );
}

/// The CLI's in-band socket is bound to EtherType 0x88B5 alone: a socket of every EtherType
/// (`ETH_P_ALL`, pnet's default) is handed a copy of every frame the NIC carries, and its
/// thread woke about 1 000 times a second while a VM sent over iperf3, halving the VM's rate.
#[test]
#[ignore = "needs root (CAP_NET_RAW, CAP_NET_ADMIN) and ip netns/veth"]
fn the_inband_socket_takes_only_control_frames() {
    let pair = VethNetns::new("p");
    // No host answers: the CLI waits for one, its socket open, until it is stopped.
    let mut cli = Command::new("ip")
        .args(["netns", "exec", &pair.ns, BIN, "--link", &pair.guest_if])
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The namespace's packet sockets: "sk RefCnt Type Proto Iface ...", Proto in hex.
    let mut protocols = Vec::new();
    for _ in 0..100 {
        let o = Command::new("ip")
            .args(["netns", "exec", &pair.ns, "cat", "/proc/net/packet"])
            .output()
            .unwrap();
        protocols = String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned))
            .collect();
        // "0000" while pnet binds the socket (the kernel unhooks it to bind, then hooks it
        // again with the interface and protocol): read again.
        if !protocols.is_empty() && protocols.iter().all(|p| p != "0000") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = cli.kill();
    let _ = cli.wait();
    assert_eq!(
        protocols,
        vec!["88b5".to_owned()],
        "the namespace's packet sockets"
    );
}

/// `--link` on a missing interface says so and exits 3.
#[test]
fn inband_on_a_missing_interface_exits_3() {
    let o = vwifi_guest(&["--link", "no-such-if0", "status"], b"");
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains("no network interface named 'no-such-if0'"),
        "{}",
        stderr(&o)
    );
}

/// The agent creates its TAP with the station's MAC address.
#[test]
#[ignore = "needs root (CAP_NET_ADMIN) and /dev/net/tun"]
fn agent_creates_its_tap_with_the_station_mac() {
    let host = FakeHost::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("guest.sock");
    let tap = format!("vwgt{}", std::process::id() % 100_000);
    let mut agent = Command::new(BIN)
        .args([
            "--socket",
            host.path.to_str().unwrap(),
            "agent",
            "--tap",
            &tap,
        ])
        .args(["--control", control.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !control.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let link = Command::new("ip")
        .args(["link", "show", &tap])
        .output()
        .unwrap();
    let status = on(&control, &["status"], b"");
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("link/ether 02:76:77:00:00:01"),
        "{}",
        String::from_utf8_lossy(&link.stdout)
    );
    assert_exit(&status, 0);
}
