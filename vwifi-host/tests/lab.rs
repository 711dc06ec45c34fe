//! The simulated air as a lab, end to end (issue 16): `vwifi-host capture` while guests join
//! a WPA2 network (read back by tshark), every runtime control request on the control
//! socket with its errors, and a station's signal following its moves. No root needed.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use vwifi_core::proto::Message;
use vwifi_core::wire::{EtherType, EthernetFrame};
use vwifi_core::MacAddr;

mod common;
use common::guest::{join_lab, recv_until};
use common::{Options, TestDaemon, HOST as BIN, LAB_PASSPHRASE};

common::daemon::wrapper! {
    /// The daemon process ([`TestDaemon`]) on the demo networks, logging at `info`; killed if the
    /// test fails before it ends.
    Daemon
}

impl Daemon {
    /// `vwifi-host run` on a temporary socket, with the demo networks.
    async fn start() -> Self {
        let daemon = TestDaemon::spawn(Options {
            rust_log: Some("info"),
            ..Options::default()
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

    /// The first guest's status.
    fn first_guest(&self) -> serde_json::Value {
        let v = self.ask(r#"{"request":"status"}"#);
        v["status"]["guests"][0].clone()
    }

    /// Waits until `f` holds for the first guest's status.
    async fn wait_guest(
        &self,
        limit: Duration,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let g = self.first_guest();
            if f(&g) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not within {limit:?}: {g:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn data(src: MacAddr, dst: MacAddr) -> Message {
    let mut out = Vec::new();
    EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from_static(b"\x45\x00\x00\x14 vwifi plaintext marker"),
    }
    .emit(&mut out);
    Message::Data(out.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
async fn live_capture_shows_a_wpa2_join_and_nothing_decrypted() {
    let daemon = Daemon::start().await;
    let file = daemon.path("air.pcapng");
    let capture = Command::new(BIN)
        .args(["capture", "-w"])
        .arg(&file)
        .arg("--socket")
        .arg(daemon.socket())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vwifi-host capture");
    // The section header is written once the daemon subscribed the capture.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 28 {
        assert!(Instant::now() < deadline, "the capture did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut a, mac_a) = join_lab(daemon.socket(), "cap-a").await;
    let (mut b, mac_b) = join_lab(daemon.socket(), "cap-b").await;
    a.send(&data(mac_a, mac_b)).await.expect("send data");
    recv_until(&mut b, Duration::from_secs(5), |m| {
        matches!(m, Message::Data(_)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Ctrl-C ends the capture with its summary.
    let pid = capture.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = capture.wait_with_output_timeout();
    assert!(out.status.success(), "{out:?}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("frames, none lost"), "{summary}");

    let bytes = std::fs::read(&file).unwrap();
    for secret in [LAB_PASSPHRASE.as_bytes(), b"vwifi plaintext marker"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "the capture holds a secret or plaintext"
        );
    }
    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "frame.interface_name",
            "-e",
            "wlan.fc.type_subtype",
            "-e",
            "wlan.fc.protected",
            "-e",
            "wlan_rsna_eapol.keydes.msgnr",
            "-e",
            "wlan.sa",
        ])
        .output()
        .expect("run tshark");
    assert!(
        tshark.status.success(),
        "{}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    let text = String::from_utf8_lossy(&tshark.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(';').collect()).collect();
    let count = |subtype: &str| rows.iter().filter(|r| r[1] == subtype).count();
    assert!(count("0x0008") >= 5, "beacons:\n{text}");
    assert!(
        count("0x000b") >= 4,
        "authentication (2 per guest):\n{text}"
    );
    assert!(
        count("0x0000") >= 2 && count("0x0001") >= 2,
        "association:\n{text}"
    );
    let a_text = mac_a.to_string();
    let msgs: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| !r[3].is_empty())
        .map(|r| r[3])
        .collect();
    assert_eq!(
        msgs.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4"],
        "the 4-way handshake:\n{text}"
    );
    assert!(
        rows.iter().any(|r| r[3] == "2" && r[4] == a_text),
        "guest a's message 2:\n{text}"
    );
    // Data frames with a payload, other than EAPOL, are all protected; at least one is there.
    let payload_data: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| matches!(r[1], "0x0020" | "0x0028") && r[3].is_empty())
        .collect();
    assert!(!payload_data.is_empty(), "no data frame:\n{text}");
    for r in payload_data {
        assert!(r[2] == "1" || r[2] == "True", "unprotected data {r:?}");
    }
    // One interface per channel: the lab network's (1) and the office's (6).
    for ch in ["ch1", "ch6"] {
        assert!(rows.iter().any(|r| r[0] == ch), "no frame on {ch}:\n{text}");
    }
}

trait WaitTimeout {
    fn wait_with_output_timeout(self) -> std::process::Output;
}

impl WaitTimeout for Child {
    /// Waits for the child (killed after 10 s).
    fn wait_with_output_timeout(mut self) -> std::process::Output {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.try_wait().ok().flatten().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait_with_output().expect("wait")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
async fn capture_pipes_live_into_tshark() {
    let daemon = Daemon::start().await;
    let cmd = format!(
        "{BIN} capture -w - --count 5 --channel 6 --socket {} | tshark -r - -T fields -e frame.interface_name -e wlan.ssid",
        daemon.socket().display()
    );
    let out = Command::new("sh")
        .args(["-c", &cmd])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh")
        .wait_with_output_timeout();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The office network's beacons (its SSID in hex or text, as tshark prints it).
    assert!(lines.iter().all(|l| l.starts_with("ch6\t")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sim_request_is_answered_and_errors_are_clear() {
    let daemon = Daemon::start().await;
    let nodes = daemon.ask(r#"{"request":"sim_nodes"}"#);
    let names: Vec<&str> = nodes["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["ap1", "ap2", "ap3", "host"], "{nodes}");
    assert_eq!(nodes["nodes"][1]["ssid"], "vwifi-lab");

    let moved = daemon.ask(r#"{"request":"sim_move","node":"vwifi-office","x":-4.5,"y":8}"#);
    assert_eq!(
        (moved["node"]["name"].as_str(), moved["node"]["x"].as_f64()),
        (Some("ap3"), Some(-4.5))
    );
    let walking =
        daemon.ask(r#"{"request":"sim_move","node":"host","path":[[2,30]],"speed_mps":0.5}"#);
    assert_eq!(walking["node"]["speed_mps"], 0.5, "{walking}");
    let link = daemon.ask(r#"{"request":"sim_link","a":"ap1","b":"02:76:77:00:00:02","loss":0.5}"#);
    assert_eq!(
        link,
        serde_json::json!({"link":{"a":"ap1","b":"ap2","loss":0.5}})
    );
    let stopped = daemon.ask(r#"{"request":"sim_ap","action":"stop","node":"ap1"}"#);
    assert_eq!(stopped["node"]["on_air"], false, "{stopped}");
    let status = daemon.ask(r#"{"request":"status"}"#);
    assert_eq!(status["status"]["aps"][0]["stopped"], true, "{status}");
    let table = String::from_utf8_lossy(&daemon.host(&["status"]).stdout).into_owned();
    assert!(table.contains("STOPPED (sim ap start)"), "{table}");
    let started = daemon.ask(r#"{"request":"sim_ap","action":"start","node":"ap1"}"#);
    assert_eq!(started["node"]["on_air"], true, "{started}");
    let status = daemon.ask(r#"{"request":"status"}"#);
    assert!(
        status["status"]["aps"][0].get("stopped").is_none(),
        "{status}"
    );
    let added = daemon.ask(
        r#"{"request":"sim_ap","action":"add","ssid":"pop-up","channel":11,"x":1,"y":1,"passphrase":"pop-up-secret"}"#,
    );
    assert_eq!(added["node"]["name"], "ap4", "{added}");
    assert_eq!(added["node"]["channel"], 11);
    let removed = daemon.ask(r#"{"request":"sim_ap","action":"remove","node":"pop-up"}"#);
    assert_eq!(removed, serde_json::json!({"removed":{"node":"ap4"}}));

    for (line, want) in [
        (
            r#"{"request":"sim_move","node":"ap9","x":1,"y":1}"#,
            "no node \"ap9\"",
        ),
        (
            r#"{"request":"sim_move","node":"host","x":1}"#,
            "give x and y",
        ),
        (
            r#"{"request":"sim_move","node":"host","x":1,"y":1,"z":1}"#,
            "bad request",
        ),
        (
            r#"{"request":"sim_link","a":"ap1","b":"host","loss":-0.1}"#,
            "not a probability",
        ),
        (
            r#"{"request":"sim_ap","action":"stop","node":"host"}"#,
            "not an AP",
        ),
        (
            r#"{"request":"sim_ap","action":"start","node":"ap4"}"#,
            "no node",
        ),
        (
            r#"{"request":"sim_ap","action":"add","ssid":"x","channel":1,"passphrase":"short"}"#,
            "passphrase",
        ),
        (
            r#"{"request":"sim_ap","action":"explode","node":"ap1"}"#,
            "bad request",
        ),
    ] {
        let answer = daemon.ask(line);
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{line}: {answer}");
    }
    // The passphrase of the AP added never reaches the log.
    assert!(!daemon.log_text().contains("pop-up-secret"));

    // The CLI prints the same, as a table.
    let out = daemon.host(&["sim", "nodes"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        table.contains("loss 0.5 to ap2") && table.contains("moving at 0.5 m/s"),
        "{table}"
    );
    let out = daemon.host(&["sim", "move", "nowhere", "1", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node \"nowhere\""));
    let out = daemon.host(&["sim", "link", "ap1", "ap2", "--clear"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ap1 <-> ap2: no extra loss\n"
    );

    let answer = daemon.ask(r#"{"request":"capture","channel":15}"#);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no channel 15"),
        "{answer}"
    );
    // A capture starts with its own line, then pcapng.
    let mut s = UnixStream::connect(daemon.ctl()).unwrap();
    s.write_all(b"{\"request\":\"capture\",\"channel\":1}\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    r.read_line(&mut head).unwrap();
    assert_eq!(head, "{\"capturing\":{\"channel\":1}}\n");
    let mut shb = [0u8; 4];
    std::io::Read::read_exact(&mut r, &mut shb).unwrap();
    assert_eq!(shb, 0x0A0D_0D0Au32.to_le_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moving_station_sees_its_signal_follow_and_a_stopped_ap_is_lost_then_found() {
    let daemon = Daemon::start().await;
    let (_link, _mac) = join_lab(daemon.socket(), "walker").await;
    let signal = |g: &serde_json::Value| g["signal_dbm"].as_i64().unwrap_or(i64::MIN);
    daemon
        .wait_guest(Duration::from_secs(5), "a signal", |g| signal(g) > -60)
        .await;
    let near = signal(&daemon.first_guest());
    // 55 m from the lab AP (at 5,0): about 35 dB weaker.
    let out = daemon.host(&["sim", "move", "host", "60", "0"]);
    assert!(out.status.success(), "{out:?}");
    daemon
        .wait_guest(Duration::from_secs(10), "a weaker signal", |g| {
            signal(g) < near - 25
        })
        .await;
    // Walking back at 100 m/s: near again within a second or two.
    let out = daemon.host(&[
        "sim", "move", "host", "--path", "30,0", "--path", "5,2", "--speed", "100",
    ]);
    assert!(out.status.success(), "{out:?}");
    daemon
        .wait_guest(Duration::from_secs(10), "a strong signal again", |g| {
            signal(g) > near - 5
        })
        .await;
    // The AP stops: its station loses it (beacon loss), then finds it again once started.
    let out = daemon.host(&["sim", "ap", "stop", "vwifi-lab"]);
    assert!(out.status.success(), "{out:?}");
    daemon
        .wait_guest(Duration::from_secs(10), "the AP lost", |g| {
            g["state"] != "connected"
        })
        .await;
    let out = daemon.host(&["sim", "ap", "start", "ap2"]);
    assert!(out.status.success(), "{out:?}");
    daemon
        .wait_guest(Duration::from_secs(60), "connected again", |g| {
            g["state"] == "connected"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_that_is_not_read_loses_frames_counted_and_the_air_goes_on() {
    let daemon = Daemon::start().await;
    let (mut a, mac_a) = join_lab(daemon.socket(), "flood-a").await;
    let (mut b, mac_b) = join_lab(daemon.socket(), "flood-b").await;
    // A capture whose reader does not read while the guests exchange frames.
    let mut s = UnixStream::connect(daemon.ctl()).unwrap();
    s.write_all(b"{\"request\":\"capture\"}\n").unwrap();
    let frame = {
        let mut out = Vec::new();
        EthernetFrame {
            dst: mac_b,
            src: mac_a,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from(vec![0x45; 1000]),
        }
        .emit(&mut out);
        Message::Data(Bytes::from(out))
    };
    let mut received = 0u64;
    for _ in 0..12 {
        // Sent and received at once: b is read while a sends. (Sending all 400 before reading
        // b could stall: the daemon holds a sender back while its receiver's link is full,
        // and ends a link whose guest takes nothing for 5 s; it did in CI.)
        let send = async {
            for _ in 0..400 {
                a.send(&frame).await.expect("send");
            }
        };
        // Wait for most of the round to arrive (the air carries it whoever captures).
        let target = received + 300;
        let receive = async {
            while received < target {
                recv_until(&mut b, Duration::from_secs(20), |m| {
                    matches!(m, Message::Data(_)).then_some(())
                })
                .await;
                received += 1;
            }
        };
        tokio::join!(send, receive);
    }
    // Now read: the stream holds a loss report (isb_ifdrop > 0) once frames flow again.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    r.read_line(&mut head).unwrap();
    assert!(head.starts_with("{\"capturing\""), "{head}");
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(20);
    let dropped = loop {
        assert!(
            Instant::now() < deadline,
            "no loss report in {} bytes",
            bytes.len()
        );
        let n = std::io::Read::read(&mut r, &mut chunk).expect("read the capture");
        assert!(n > 0, "the capture ended");
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(d) = last_ifdrop(&bytes) {
            break d;
        }
    };
    assert!(dropped > 0);
    assert!(received >= 12 * 300, "{received}");
}

/// The last `isb_ifdrop` of the whole blocks in a pcapng stream.
fn last_ifdrop(mut buf: &[u8]) -> Option<u64> {
    let mut found = None;
    while let Ok(Some((block, n))) = vwifi_core::sim::pcapng::next_block(buf) {
        found = block.ifdrop().or(found);
        buf = &buf[n..];
    }
    found
}
