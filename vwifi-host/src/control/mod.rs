//! The control socket: how `vwifi-host status` and `vwifi-host metrics` talk to the daemon.
//!
//! # Protocol
//! JSON lines over a Unix stream socket at `<socket>.ctl` (beside the guests' socket, same
//! permissions and peer policy). The client sends one request line, the daemon answers with one
//! line and closes:
//!
//! ```text
//! > {"request":"status"}
//! < {"status":{"version":1,"uptime_ms":1234,"radio":{...},"aps":[...],"guests":[...]}}
//! < {"error":{"message":"unknown request"}}          (on a bad request)
//! ```
//!
//! On the simulated radio, `{"request":"sim_move","node":"host","x":60.0,"y":0.0}` moves the
//! host's radio (every guest with it), or with an AP's BSSID as `node` that AP, answered
//! `{"moved":{"node":"host"}}`: a minimal hook for the roaming end-to-end test
//! (`tests/roam.rs`) until the air's runtime control (issue 16, item 2) replaces it.
//!
//! JSON because it is self-describing, versionable (the snapshot carries `version`) and readable
//! with standard tools (`socat - UNIX-CONNECT:/run/vwifi/host.sock.ctl | jq`); the guest protocol's
//! binary codec is for guests, not for operators. Requests are at most
//! [`MAX_REQUEST_LEN`](crate::api::MAX_REQUEST_LEN) bytes. The snapshot holds no secret: no key, no passphrase.
//!
//! The simulated air's runtime controls (`sim_nodes`, `sim_move`, `sim_link`, `sim_ap`,
//! served by [`crate::sim_control::serve`]) follow the same one-line pattern; `capture` answers
//! `{"capturing":{"channel":N}}` and then streams pcapng on the connection until the client
//! closes it ([`crate::lab::capture`]). README.md's "Control socket" table lists every request
//! and answer.
//!
//! Both the table (`status`) and the Prometheus text (`metrics`) are rendered by the client from
//! the same [`Snapshot`] ([`format_status`], [`format_metrics`]).

use core::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::api::{GuestSnapshot, Request, Response, Snapshot};
use crate::error::HostError;

mod netns_locks;
mod server;
pub(crate) use server::serve_control;

/// The longest reply the client reads, in bytes.
const MAX_REPLY_LEN: u64 = 16 * 1024 * 1024;

/// How long the client waits for the daemon.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the daemon at `ctl` for its state.
pub(crate) fn query(ctl: &Path) -> Result<Snapshot, HostError> {
    match request(ctl, &Request::Status)? {
        Response::Status(s) => Ok(s),
        other => Err(HostError::ControlRefused {
            message: format!("unexpected answer {other:?}"),
        }),
    }
}

/// Sends `req` to the daemon at `ctl`; its refusal is an error.
pub(crate) fn request(ctl: &Path, req: &Request) -> Result<Response, HostError> {
    let io_err = |source| HostError::Control {
        path: ctl.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(ctl).map_err(io_err)?;
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(CLIENT_TIMEOUT))
        .map_err(io_err)?;
    let mut line = serde_json::to_string(req).map_err(HostError::ControlJson)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io_err)?;
    let mut reply = String::new();
    BufReader::new(stream.take(MAX_REPLY_LEN))
        .read_line(&mut reply)
        .map_err(io_err)?;
    match serde_json::from_str(&reply).map_err(HostError::ControlJson)? {
        Response::Error { message } => Err(HostError::ControlRefused { message }),
        other => Ok(other),
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// The human-readable status: the radio, the APs, then one line per guest.
pub(crate) fn format_status(s: &Snapshot) -> String {
    let mut out = String::new();
    let r = &s.radio;
    let dropped: u64 = r.rx_dropped.iter().map(|(_, n)| n).sum();
    if r.kind != "sim" {
        // A real card: the kernel counts its frames; the radio describes itself below.
        let _ = writeln!(
            out,
            "radio: {}, up {:.1} s",
            r.kind,
            s.uptime_ms as f64 / 1000.0
        );
    } else {
        let _ = writeln!(
        out,
        "radio: {}, channel {}, up {:.1} s; rx {} frames ({} routed, {} dropped), tx {} frames, {} channel changes",
        r.kind,
        opt(&r.channel),
        s.uptime_ms as f64 / 1000.0,
        r.rx_frames,
        r.rx_routed,
        dropped,
        r.tx_frames,
        r.tunes
    );
    }
    if let Some(why) = &s.state_error {
        let _ = writeln!(
            out,
            "state: NOT SAVED ({why}); serving from memory, saved again at the next change"
        );
    }
    if let Some(why) = &s.uplink_error {
        let _ = writeln!(out, "uplink: DOWN ({why}); recreating it");
    }
    for (key, value) in &r.details {
        let _ = writeln!(out, "  {key}: {value}");
    }
    if r.bridge_forwarded + r.bridge_flooded + r.bridge_no_route > 0 {
        let _ = writeln!(
            out,
            "uplink bridge: {} forwarded, {} flooded, {} without route",
            r.bridge_forwarded, r.bridge_flooded, r.bridge_no_route
        );
    }
    if r.amsdu_tx.0 + r.amsdu_rx.0 + r.amsdu_refused > 0 {
        let _ = writeln!(
            out,
            "A-MSDUs: {} sent ({} MSDUs), {} received ({} MSDUs), {} subframes refused",
            r.amsdu_tx.0, r.amsdu_tx.1, r.amsdu_rx.0, r.amsdu_rx.1, r.amsdu_refused
        );
    }
    if let Some(f) = &s.federation {
        out.push_str(&crate::federation::report::status_lines(f));
    }
    for ap in &s.aps {
        let _ = writeln!(
            out,
            "ap {} {:<20} channel {:>3}  {:<9}  {} station(s){}{}",
            ap.bssid,
            ap.ssid,
            ap.channel,
            match (ap.security.as_str(), ap.protected) {
                ("", true) => "wpa2",
                ("", false) => "open",
                (s, _) => s,
            },
            ap.stations,
            if ap.sae_completed > 0 {
                format!(", {} SAE exchange(s)", ap.sae_completed)
            } else {
                String::new()
            },
            if ap.stopped {
                "  STOPPED (sim ap start)"
            } else {
                ""
            }
        );
    }
    if s.guests.is_empty() {
        out.push_str("no guests\n");
        return out;
    }
    let header = [
        "ID", "NAME", "MAC", "STATE", "SSID", "BSSID", "CH", "SIGNAL", "RATE", "RX", "TX",
        "DROPPED",
    ];
    let rows: Vec<[String; 12]> = s
        .guests
        .iter()
        .map(|g| {
            [
                g.id.to_string(),
                g.name.clone(),
                g.mac.clone(),
                g.state.clone(),
                opt(&g.ssid),
                opt(&g.bssid),
                opt(&g.channel),
                g.signal_dbm.map_or("-".into(), |d| format!("{d} dBm")),
                match &g.phy {
                    Some(phy) => phy.clone(),
                    None => g
                        .rate_kbps
                        .map_or("-".into(), |k| format!("{} Mb/s", k as f64 / 1000.0)),
                },
                format!("{}/{}B", g.rx_packets, g.rx_bytes),
                format!("{}/{}B", g.tx_packets, g.tx_bytes),
                g.dropped_total().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (cell, w) in cells.zip(widths) {
            let _ = write!(l, "{cell:<w$}  ");
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(&mut header.iter().copied()));
    for row in &rows {
        let _ = writeln!(out, "{}", line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// A label value in the Prometheus text format: `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The Prometheus text exposition format (version 0.0.4) of a snapshot.
pub(crate) fn format_metrics(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {v}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
    };
    let r = &s.radio;
    let gl = |g: &GuestSnapshot| format!("guest=\"{}\",mac=\"{}\"", label(&g.name), label(&g.mac));
    let connected = s.guests.iter().filter(|g| g.state == "connected").count() as u64;
    family(
        "vwifi_guests",
        "gauge",
        "Guests connected to the daemon.",
        vec![(String::new(), s.guests.len() as u64)],
    );
    family(
        "vwifi_stations_connected",
        "gauge",
        "Virtual stations joined to a network.",
        vec![(String::new(), connected)],
    );
    family(
        "vwifi_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
        vec![(String::new(), s.uptime_ms / 1000)],
    );
    family(
        "vwifi_radio_rx_frames_total",
        "counter",
        "Frames the radio received.",
        vec![(String::new(), r.rx_frames)],
    );
    family(
        "vwifi_radio_tx_frames_total",
        "counter",
        "Frames the radio transmitted.",
        vec![(String::new(), r.tx_frames)],
    );
    family(
        "vwifi_radio_channel_changes_total",
        "counter",
        "Times the radio changed channel.",
        vec![(String::new(), r.tunes)],
    );
    let mut radio_drops: Vec<(String, u64)> = r
        .rx_dropped
        .iter()
        .map(|(reason, n)| (format!("reason=\"{}\"", label(reason)), *n))
        .collect();
    radio_drops.push(("reason=\"not_listening\"".into(), r.rx_not_listening));
    radio_drops.push(("reason=\"tx_off_channel\"".into(), r.tx_off_channel));
    family(
        "vwifi_radio_dropped_total",
        "counter",
        "Frames the radio side dropped, by reason.",
        radio_drops,
    );
    family(
        "vwifi_bridge_frames_total",
        "counter",
        "Frames the in-process uplink bridge handled, by outcome.",
        vec![
            ("outcome=\"forwarded\"".into(), r.bridge_forwarded),
            ("outcome=\"flooded\"".into(), r.bridge_flooded),
            ("outcome=\"no_route\"".into(), r.bridge_no_route),
        ],
    );
    family(
        "vwifi_amsdu_total",
        "counter",
        "A-MSDUs the stations and simulated APs sent and received, and the MSDUs in them.",
        vec![
            ("direction=\"tx\",unit=\"amsdu\"".into(), r.amsdu_tx.0),
            ("direction=\"tx\",unit=\"msdu\"".into(), r.amsdu_tx.1),
            ("direction=\"rx\",unit=\"amsdu\"".into(), r.amsdu_rx.0),
            ("direction=\"rx\",unit=\"msdu\"".into(), r.amsdu_rx.1),
            ("direction=\"rx\",unit=\"refused\"".into(), r.amsdu_refused),
        ],
    );
    family(
        "vwifi_ap_stations",
        "gauge",
        "Stations associated with each simulated AP.",
        s.aps
            .iter()
            .map(|a| {
                (
                    format!("ssid=\"{}\",bssid=\"{}\"", label(&a.ssid), label(&a.bssid)),
                    a.stations,
                )
            })
            .collect(),
    );
    family(
        "vwifi_guest_connected",
        "gauge",
        "1 if the guest's station is joined to a network.",
        s.guests
            .iter()
            .map(|g| (gl(g), u64::from(g.state == "connected")))
            .collect(),
    );
    for (name, help, get) in [
        (
            "vwifi_guest_rx_packets_total",
            "Frames delivered to the guest.",
            (|g: &GuestSnapshot| g.rx_packets) as fn(&GuestSnapshot) -> u64,
        ),
        (
            "vwifi_guest_rx_bytes_total",
            "Bytes delivered to the guest.",
            |g| g.rx_bytes,
        ),
        (
            "vwifi_guest_tx_packets_total",
            "Frames the guest sent.",
            |g| g.tx_packets,
        ),
        ("vwifi_guest_tx_bytes_total", "Bytes the guest sent.", |g| {
            g.tx_bytes
        }),
    ] {
        family(
            name,
            "counter",
            help,
            s.guests.iter().map(|g| (gl(g), get(g))).collect(),
        );
    }
    family(
        "vwifi_guest_dropped_total",
        "counter",
        "What was dropped of each guest's, by reason.",
        s.guests
            .iter()
            .flat_map(|g| {
                g.dropped
                    .iter()
                    .map(move |(reason, n)| (format!("{},reason=\"{}\"", gl(g), label(reason)), *n))
            })
            .collect(),
    );
    if let Some(f) = &s.federation {
        crate::federation::report::metrics(f, &mut family, label);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{parse_request, ApSnapshot, RadioSnapshot, SNAPSHOT_VERSION};

    fn snapshot() -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            uptime_ms: 12_345,
            radio: RadioSnapshot {
                kind: "sim".into(),
                channel: Some(1),
                rx_frames: 100,
                rx_routed: 90,
                tx_frames: 40,
                tunes: 3,
                rx_dropped: vec![("unknown_receiver".into(), 7), ("foreign_bss".into(), 3)],
                bridge_forwarded: 2,
                ..RadioSnapshot::default()
            },
            aps: vec![ApSnapshot {
                ssid: "vwifi-lab".into(),
                bssid: "02:76:77:00:00:02".into(),
                channel: 1,
                protected: true,
                security: "wpa2".into(),
                stations: 1,
                sae_completed: 0,
                stopped: false,
            }],
            guests: vec![
                GuestSnapshot {
                    id: 1,
                    name: "conn1 pid 42".into(),
                    ifname: None,
                    agent: Some("vwifi-guest 0.1.0".into()),
                    peer: "uid 1000 gid 1000 pid 42".into(),
                    mac: "02:aa:bb:cc:dd:01".into(),
                    state: "connected".into(),
                    ssid: Some("vwifi-lab".into()),
                    bssid: Some("02:76:77:00:00:02".into()),
                    channel: Some(1),
                    signal_dbm: Some(-52),
                    rate_kbps: Some(54_000),
                    phy: None,
                    rx_packets: 5,
                    rx_bytes: 500,
                    tx_packets: 6,
                    tx_bytes: 600,
                    dropped: vec![("spoofed".into(), 2), ("link_queue_full".into(), 1)],
                },
                GuestSnapshot {
                    id: 2,
                    name: "a \"quoted\" name".into(),
                    mac: "02:aa:bb:cc:dd:02".into(),
                    state: "idle".into(),
                    ..GuestSnapshot::default()
                },
            ],
            state_error: None,
            uplink_error: None,
            federation: None,
        }
    }

    #[test]
    fn a_real_card_shows_its_details_instead_of_the_simulated_counters() {
        let mut snap = snapshot();
        snap.radio = RadioSnapshot {
            kind: "nl80211".into(),
            details: vec![
                ("phy".into(), "phy1 (#1)".into()),
                ("max stations".into(), "2048".into()),
            ],
            ..RadioSnapshot::default()
        };
        snap.aps.clear();
        let text = format_status(&snap);
        assert!(text.starts_with("radio: nl80211, up "), "{text}");
        assert!(!text.contains("channel changes"), "{text}");
        assert!(
            text.contains("\n  phy: phy1 (#1)\n  max stations: 2048\n"),
            "{text}"
        );
        // The details survive the JSON round trip of `status --json`.
        let back: Snapshot = serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
        assert_eq!(back.radio.details, snap.radio.details);
    }

    #[test]
    fn status_table_has_a_header_and_one_aligned_row_per_guest() {
        let text = format_status(&snapshot());
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(
                "radio: sim, channel 1, up 12.3 s; rx 100 frames (90 routed, 10 dropped)"
            ),
            "{text}"
        );
        assert!(lines[1].contains("2 forwarded"), "{text}");
        assert!(
            lines[2].contains("vwifi-lab") && lines[2].contains("wpa2"),
            "{text}"
        );
        let header = lines[3];
        assert!(header.starts_with("ID  NAME"), "{text}");
        let row1 = lines[4];
        for cell in [
            "02:aa:bb:cc:dd:01",
            "connected",
            "vwifi-lab",
            "-52 dBm",
            "54 Mb/s",
            "5/500B",
            "6/600B",
        ] {
            assert!(row1.contains(cell), "{cell} missing in {row1}");
        }
        assert!(row1.ends_with(" 3"), "dropped total: {row1}");
        // Columns line up: the state column starts at the same offset in every line.
        let col = header.find("STATE").unwrap();
        assert_eq!(&row1[col..col + 9], "connected");
        assert_eq!(&lines[5][col..col + 4], "idle");
        assert!(lines[5].contains(" - "), "missing values print as -");
    }

    #[test]
    fn status_without_guests_says_so() {
        let mut s = snapshot();
        s.guests.clear();
        assert!(format_status(&s).ends_with("no guests\n"));
    }

    #[test]
    fn metrics_are_prometheus_text_with_gauges_and_counters_by_reason() {
        let text = format_metrics(&snapshot());
        for line in [
            "# TYPE vwifi_guests gauge",
            "vwifi_guests 2",
            "vwifi_stations_connected 1",
            "# TYPE vwifi_guest_dropped_total counter",
            "vwifi_guest_dropped_total{guest=\"conn1 pid 42\",mac=\"02:aa:bb:cc:dd:01\",reason=\"spoofed\"} 2",
            "vwifi_guest_rx_bytes_total{guest=\"conn1 pid 42\",mac=\"02:aa:bb:cc:dd:01\"} 500",
            "vwifi_radio_dropped_total{reason=\"unknown_receiver\"} 7",
            "vwifi_ap_stations{ssid=\"vwifi-lab\",bssid=\"02:76:77:00:00:02\"} 1",
            "vwifi_guest_connected{guest=\"a \\\"quoted\\\" name\",mac=\"02:aa:bb:cc:dd:02\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // Every sample line is `name{labels} value` or `name value`, with a numeric value.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<u64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn a_native_attach_carries_its_position() {
        assert_eq!(
            parse_request(
                "{\"request\":\"attach\",\"netns\":\"c1\",\"native\":true,\"position\":[3.5,-1]}"
            )
            .ok(),
            Some(Request::Attach {
                netns: Some("c1".into()),
                netns_path: None,
                pid: None,
                ifname: None,
                native: true,
                position: Some([3.5, -1.0])
            })
        );
    }

    #[test]
    fn attach_and_detach_requests_parse_with_an_optional_ifname() {
        assert_eq!(
            parse_request("{\"request\":\"attach\",\"netns\":\"c1\"}").ok(),
            Some(Request::Attach {
                netns: Some("c1".into()),
                netns_path: None,
                pid: None,
                ifname: None,
                native: false,
                position: None
            })
        );
        assert_eq!(
            parse_request("{\"request\":\"attach\",\"netns\":\"c1\",\"ifname\":\"wl0\"}").ok(),
            Some(Request::Attach {
                netns: Some("c1".into()),
                netns_path: None,
                pid: None,
                ifname: Some("wl0".into()),
                native: false,
                position: None
            })
        );
        assert_eq!(
            parse_request("{\"request\":\"attach\",\"pid\":42}").ok(),
            Some(Request::Attach {
                netns: None,
                netns_path: None,
                pid: Some(42),
                ifname: None,
                native: false,
                position: None
            })
        );
        assert_eq!(
            parse_request("{\"request\":\"detach\",\"netns_path\":\"/run/netns/x\"}").ok(),
            Some(Request::Detach {
                netns: None,
                netns_path: Some("/run/netns/x".into()),
                pid: None
            })
        );
        assert!(parse_request("{\"request\":\"attach\",\"pid\":\"x\"}").is_err());
    }

    #[test]
    fn a_join_request_parses_and_never_prints_its_secret() {
        let req = parse_request(
            "{\"request\":\"join\",\"pid\":7,\"ssid\":\"lab\",\"passphrase\":\"hunter22hunter\"}",
        )
        .unwrap();
        let Request::Join { pid, ssid, psk, .. } = &req else {
            panic!("{req:?}");
        };
        assert_eq!((*pid, ssid.as_str(), psk), (Some(7), "lab", &None));
        assert!(!format!("{req:?}").contains("hunter22"), "{req:?}");
        assert!(parse_request("{\"request\":\"join\",\"pid\":7}").is_err());
    }

    #[test]
    fn requests_and_responses_are_json_lines() {
        assert_eq!(
            parse_request("{\"request\":\"status\"}\n").ok(),
            Some(Request::Status)
        );
        assert!(parse_request("{\"request\":\"reboot\"}")
            .unwrap_err()
            .to_string()
            .starts_with("bad request"));
        assert!(parse_request("garbage").is_err());
        let s = snapshot();
        let line = serde_json::to_string(&Response::Status(s.clone())).unwrap();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("{\"status\":{\"version\":1,"), "{line}");
        let back: Response = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Response::Status(s));
    }
}
