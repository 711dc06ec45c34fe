//! The daemon, run as a user would: `vwifi-host run` on a temporary socket, guests connecting
//! over the Unix transport, `vwifi-host status`, and SIGTERM. No root needed.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use tokio::time::{timeout, Instant};
use vwifi_core::proto::{Event, Message};
use vwifi_core::wire::{EtherType, EthernetFrame};
use vwifi_core::MacAddr;

mod common;
use common::guest::{join_lab, recv_until};
use common::{Options, TestDaemon, HOST as BIN, LAB_PASSPHRASE};

common::daemon::wrapper! {
    /// The daemon process ([`TestDaemon`], trace logs, its socket in a `run/` directory it
    /// creates); killed if the test fails before it stops it.
    Daemon
}

impl Daemon {
    /// Starts `vwifi-host run` with trace logs into a file, and waits for its sockets.
    async fn start() -> Self {
        Self::start_with("").await
    }

    /// [`Daemon::start`] with `extra` appended to its configuration file.
    async fn start_with(extra: &str) -> Self {
        let daemon = TestDaemon::spawn(Options {
            socket: PathBuf::from("run/host.sock"),
            rust_log: Some("trace"),
            ..Options::config(extra)
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.ctl().exists() {
            assert!(
                Instant::now() < deadline,
                "daemon did not start: {}",
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self(daemon)
    }

    /// Waits until `f` holds for the guest list, for at most `limit`.
    async fn wait_guests(&self, limit: Duration, f: impl Fn(&[serde_json::Value]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let guests = self.guests();
            if f(&guests) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "guests not as expected within {limit:?}: {guests:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn frame(src: MacAddr, dst: MacAddr, tag: u8) -> Message {
    let mut out = Vec::new();
    EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from(vec![0x45, tag, 0, 20, 10, 0, 0, 1]),
    }
    .emit(&mut out);
    Message::Data(out.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_guests_survives_a_hostile_one_and_stops_on_sigterm() {
    let daemon = Daemon::start().await;

    // Two guests join the demo WPA2 network with its passphrase.
    let (mut a, mac_a) = join_lab(daemon.socket(), "test-guest-a").await;
    let (mut b, mac_b) = join_lab(daemon.socket(), "test-guest-b").await;
    assert_ne!(mac_a, mac_b);

    // A data frame from a to b, through the AP.
    a.send(&frame(mac_a, mac_b, 0x5a)).await.expect("send data");
    let got = recv_until(&mut b, Duration::from_secs(5), |m| match m {
        Message::Data(d) => EthernetFrame::parse_bytes(d).ok(),
        _ => None,
    })
    .await;
    assert_eq!((got.src, got.dst), (mac_a, mac_b));
    assert_eq!(got.payload[1], 0x5a);

    // The status shows both, connected to the lab network, with their counters.
    let guests = daemon.guests();
    assert_eq!(guests.len(), 2, "{guests:#?}");
    for g in &guests {
        assert_eq!(g["state"], "connected", "{g:#?}");
        assert_eq!(g["ssid"], "vwifi-lab");
        assert_eq!(g["bssid"], "02:76:77:00:00:02");
        assert_eq!(g["channel"], 1);
        assert!(g["signal_dbm"].as_i64().is_some());
    }
    let agents: Vec<&str> = guests.iter().filter_map(|g| g["agent"].as_str()).collect();
    assert_eq!(agents, ["test-guest-a", "test-guest-b"]);
    let b_status = guests
        .iter()
        .find(|g| g["mac"] == mac_b.to_string())
        .expect("b in the status");
    assert!(b_status["rx_packets"].as_u64().unwrap_or(0) >= 1);

    // The human-readable status and the metrics work too.
    let table = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(daemon.socket())
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("connected") && table.contains(&mac_a.to_string()),
        "{table}"
    );
    let metrics = Command::new(BIN)
        .args(["metrics", "--socket"])
        .arg(daemon.socket())
        .output()
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.lines().any(|l| l == "vwifi_stations_connected 2"),
        "{metrics}"
    );

    // A third connection sends garbage: it is cut off, the others stay connected.
    let mut hostile = UnixStream::connect(daemon.socket()).await.expect("connect");
    hostile
        .write_all(b"GET / HTTP/1.1\r\nHost: vwifi\r\n\r\n")
        .await
        .expect("write garbage");
    let mut sink = Vec::new();
    let closed = timeout(Duration::from_secs(1), hostile.read_to_end(&mut sink)).await;
    assert!(
        closed.is_ok(),
        "the hostile link was not closed within a second"
    );
    daemon
        .wait_guests(Duration::from_secs(1), |g| g.len() == 2)
        .await;
    a.send(&frame(mac_a, mac_b, 0x5b)).await.expect("send data");
    recv_until(&mut b, Duration::from_secs(5), |m| match m {
        Message::Data(d) => EthernetFrame::parse_bytes(d)
            .ok()
            .filter(|e| e.payload[1] == 0x5b),
        _ => None,
    })
    .await;

    // b's connection goes away: b is removed within a second; a stays connected.
    drop(b);
    daemon
        .wait_guests(Duration::from_secs(1), |g| {
            g.len() == 1 && g[0]["mac"] == mac_a.to_string() && g[0]["state"] == "connected"
        })
        .await;

    // SIGTERM: a is told it was disconnected (reason 3, locally generated), its link closes,
    // and the daemon exits with status 0.
    let pid = daemon.pid().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    recv_until(&mut a, Duration::from_secs(5), |m| {
        (*m == Message::Event(Event::Disconnected {
            reason: 3,
            locally_generated: true,
        }))
        .then_some(())
    })
    .await;
    let end = timeout(Duration::from_secs(5), a.recv()).await;
    assert!(
        matches!(end, Ok(Err(_))),
        "the link was not closed after shutdown"
    );
    let mut daemon = daemon;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = daemon.try_wait() {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = daemon.log_text();
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(
        log.contains("vwifi-host stopped"),
        "no summary line:\n{log}"
    );
    assert!(log.contains("TRACE"), "the log is not at trace level");
    assert!(
        !log.contains(LAB_PASSPHRASE) && !log.contains("correct horse"),
        "the passphrase leaked into the logs"
    );
    assert!(!daemon.socket().exists(), "the socket was not removed");
    assert!(!daemon.ctl().exists(), "the control socket was not removed");
}

/// A 6 GHz ax network in the configuration: a guest finds it (6135 MHz, 802.11ax), joins it
/// and the status shows its channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_joins_a_six_ghz_ax_network_of_the_configuration() {
    let daemon = Daemon::start_with(&format!(
        "[[sim.aps]]\nssid = \"vwifi-lab\"\nband = \"6\"\nchannel = 37\nstandard = \"ax\"\n\
         passphrase = \"{LAB_PASSPHRASE}\"\n"
    ))
    .await;
    let (mut a, mac) = join_lab(daemon.socket(), "six-ghz-guest").await;
    daemon
        .wait_guests(Duration::from_secs(5), |g| {
            g.len() == 1 && g[0]["mac"] == mac.to_string() && g[0]["channel"] == 37
        })
        .await;
    a.send(&Message::ScanRequest {
        id: vwifi_core::proto::RequestId(9),
        ssid: None,
        mode: vwifi_core::proto::ScanMode::Active,
    })
    .await
    .expect("send ScanRequest");
    let bss = recv_until(&mut a, Duration::from_secs(10), |m| match m {
        Message::ScanResults { bss, .. } => Some(bss.clone()),
        _ => None,
    })
    .await;
    let six = bss
        .iter()
        .find(|b| b.ssid.as_bytes() == b"vwifi-lab")
        .expect("the 6 GHz network in the scan");
    assert_eq!((six.channel, six.frequency_mhz), (37, 6135));
    assert_eq!(
        six.phy.map(|p| p.standard),
        Some(vwifi_core::phy::Standard::He)
    );
}

#[test]
fn status_without_a_daemon_fails_with_a_hint() {
    let out = Command::new(BIN)
        .args(["status", "--socket", "/nonexistent/vwifi/host.sock"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is `vwifi-host run` running?"), "{err}");
}

#[test]
fn an_invalid_config_file_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("host.toml");
    std::fs::write(&path, "[mux]\nmax_channels = 0\n").expect("write");
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mux.max_channels: must be between 1 and 16, got 0"),
        "{err}"
    );
}

#[test]
fn a_state_directory_that_cannot_be_created_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("host.toml");
    std::fs::write(
        &path,
        "[host]\nstate_dir = \"/proc/vwifi-cannot-be-here\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .arg("--socket")
        .arg(dir.path().join("host.sock"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot create the state directory /proc/vwifi-cannot-be-here")
            && err.contains("state_dir"),
        "{err}"
    );
}

#[test]
fn print_default_config_prints_the_demo_networks() {
    let out = Command::new(BIN)
        .args(["run", "--print-default-config"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "[host]",
        "[mux]",
        "[sim]",
        "[[sim.aps]]",
        "ssid = \"vwifi-lab\"",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}
