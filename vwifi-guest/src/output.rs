//! What the CLI prints: tables and lines for people, JSON values for scripts, and failures
//! spelled out with what to do about them.

use core::fmt::Write as _;

use serde_json::{json, Value};
use vwifi_core::addr::MacAddr;
use vwifi_core::proto::{
    BssInfo, ConnectFailure, ErrorCode, Event, Security, Ssid, StationState, StationStatus,
};
use vwifi_core::station::{
    FAILURE_CODE_HANDSHAKE_FAILED, FAILURE_CODE_REJECTED_BY_AP, FAILURE_CODE_SECURITY_MISMATCH,
    FAILURE_CODE_UNSUPPORTED_SECURITY,
};

/// The [`ConnectFailure::Other`] code the host uses when the radio cannot take another channel
/// (`vwifi_core::mux::FAILURE_CODE_RADIO_BUSY`).
pub const FAILURE_CODE_RADIO_BUSY: u8 = vwifi_core::mux::FAILURE_CODE_RADIO_BUSY;
/// The [`ConnectFailure::Other`] code the host uses when a real card has no room for another
/// station interface (`vwifi_core::proto::FAILURE_CODE_CARD_FULL`; the detail is how many).
pub const FAILURE_CODE_CARD_FULL: u8 = vwifi_core::proto::FAILURE_CODE_CARD_FULL;

/// Signal bars as `nmcli` draws them: four steps, missing ones as `_`.
pub fn signal_bars(dbm: i8) -> &'static str {
    match dbm {
        -55..=i8::MAX => "▂▄▆█",
        -67..=-56 => "▂▄▆_",
        -75..=-68 => "▂▄__",
        -85..=-76 => "▂___",
        _ => "____",
    }
}

/// The name of a security mode, as the scan table and status print it.
pub fn security_name(s: Security) -> String {
    match s {
        Security::Open => "open".to_owned(),
        Security::Wpa2Psk => "WPA2-PSK".to_owned(),
        Security::Wpa3Sae => "WPA3-SAE".to_owned(),
        Security::Wpa2Wpa3 => "WPA2/WPA3".to_owned(),
        Security::Other(code) => format!("other({code})"),
    }
}

/// The name of a station state.
pub fn state_name(s: StationState) -> String {
    match s {
        StationState::Idle => "disconnected".to_owned(),
        StationState::Scanning => "scanning".to_owned(),
        StationState::Authenticating => "authenticating".to_owned(),
        StationState::Associating => "associating".to_owned(),
        StationState::Handshaking => "handshaking".to_owned(),
        StationState::Connected => "connected".to_owned(),
        StationState::Failed => "failed".to_owned(),
        StationState::Other(code) => format!("state {code}"),
    }
}

/// An age in milliseconds, short: `300ms`, `4.2s`, `3m`.
pub fn age(ms: u32) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", f64::from(ms) / 1000.0),
        _ => format!("{}m", ms / 60_000),
    }
}

/// The SSID for display; the empty (hidden) SSID as `(hidden)`.
fn ssid_text(ssid: &Ssid) -> String {
    if ssid.is_empty() {
        "(hidden)".to_owned()
    } else {
        ssid.to_string()
    }
}

/// The scan table: one BSS per line, strongest first, with a header.
pub fn scan_table(bss: &[BssInfo]) -> String {
    if bss.is_empty() {
        return "no networks found (scan again, or try --passive on channels where probing is not allowed)\n".to_owned();
    }
    let mut rows: Vec<&BssInfo> = bss.iter().collect();
    rows.sort_by(|a, b| {
        b.signal_dbm
            .cmp(&a.signal_dbm)
            .then_with(|| a.ssid.as_bytes().cmp(b.ssid.as_bytes()))
    });
    let ssids: Vec<String> = rows.iter().map(|b| ssid_text(&b.ssid)).collect();
    let width = ssids
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max("SSID".len());
    // A 6 GHz channel as `6g37` (its number alone names a 2.4 or 5 GHz channel too).
    let chans: Vec<String> = rows
        .iter()
        .map(|b| {
            vwifi_core::channel::Channel::from_frequency_mhz(b.frequency_mhz)
                .map_or_else(|| b.channel.to_string(), |c| c.label())
        })
        .collect();
    let ch_width = chans.iter().map(String::len).max().unwrap_or(0).max(3);
    // The PHY column (standard, width, streams, top rate) only when the radio reports it.
    let with_phy = rows.iter().any(|b| b.phy.is_some());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:<width$}  {:<17}  {:>ch_width$}  {:<12}  {:<9}  AGE",
        "SSID", "BSSID", "CH", "SIGNAL", "SECURITY"
    );
    out.push_str(if with_phy { "   PHY\n" } else { "\n" });
    for ((b, ssid), ch) in rows.iter().zip(&ssids).zip(&chans) {
        let pad = width.saturating_sub(ssid.chars().count());
        let signal = format!("{} dBm {}", b.signal_dbm, signal_bars(b.signal_dbm));
        let _ = write!(
            out,
            "{ssid}{:pad$}  {:<17}  {:>ch_width$}  {:<12}  {:<9}  {}",
            "",
            b.bssid.to_string(),
            ch,
            signal,
            security_name(b.security),
            if with_phy {
                format!("{:<5}", age(b.beacon_age_ms))
            } else {
                age(b.beacon_age_ms)
            },
        );
        if with_phy {
            let _ = write!(out, " {}", b.phy.map_or_else(|| "-".to_owned(), phy_short));
        }
        out.push('\n');
    }
    out
}

/// A network's PHY in a scan line: `ax 80 MHz 2x2 1201 Mbit/s`.
fn phy_short(p: vwifi_core::proto::PhyInfo) -> String {
    format!(
        "{} {} MHz {}x{} {} Mbit/s",
        p.standard.name(),
        p.width_mhz,
        p.streams,
        p.streams,
        (p.rate_kbps + 500) / 1000
    )
}

/// A PHY as JSON.
fn phy_json(p: Option<vwifi_core::proto::PhyInfo>) -> Value {
    p.map_or(Value::Null, |p| {
        json!({
            "standard": p.standard.name(),
            "width_mhz": p.width_mhz,
            "streams": p.streams,
            "mcs": p.mcs,
            "rate_kbps": p.rate_kbps,
        })
    })
}

/// The status as `key: value` lines.
pub fn status_text(s: &StationStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "state:    {}", state_name(s.state));
    let _ = writeln!(out, "mac:      {}", s.mac);
    if let Some(ssid) = &s.ssid {
        let _ = writeln!(out, "network:  {}", ssid_text(ssid));
    }
    if let Some(bssid) = s.bssid {
        let _ = writeln!(out, "bssid:    {bssid}");
    }
    if let Some(ch) = s.channel {
        // With the frequency: `6g37 (6135 MHz)`, so that a 6 GHz channel is told apart.
        match s
            .frequency_mhz
            .and_then(vwifi_core::channel::Channel::from_frequency_mhz)
        {
            Some(c) => {
                let _ = writeln!(out, "channel:  {} ({} MHz)", c.label(), c.frequency_mhz());
            }
            None => {
                let _ = writeln!(out, "channel:  {ch}");
            }
        }
    }
    if let Some(dbm) = s.signal_dbm {
        let _ = writeln!(out, "signal:   {dbm} dBm {}", signal_bars(dbm));
    }
    if let Some(kbps) = s.tx_rate_kbps {
        let _ = writeln!(out, "tx rate:  {:.1} Mbit/s", f64::from(kbps) / 1000.0);
    }
    if let Some(phy) = s.phy {
        let _ = writeln!(out, "phy:      {phy}");
    }
    let c = &s.counters;
    let _ = writeln!(
        out,
        "rx:       {} packets, {} bytes, {} dropped",
        c.rx_packets, c.rx_bytes, c.rx_dropped
    );
    let _ = writeln!(
        out,
        "tx:       {} packets, {} bytes, {} dropped",
        c.tx_packets, c.tx_bytes, c.tx_dropped
    );
    out
}

/// The line printed when the station has joined a network.
pub fn connected_line(ssid: &Ssid, bssid: MacAddr, channel: u8) -> String {
    format!(
        "connected to {} ({bssid}) on channel {channel}",
        ssid_text(ssid)
    )
}

/// Why the station left, for people.
pub fn disconnect_text(reason: u16, locally_generated: bool) -> String {
    let name = reason_name(reason);
    if locally_generated {
        format!("left the network (reason {reason}: {name})")
    } else {
        format!("the access point ended the connection (reason {reason}: {name})")
    }
}

/// One event as a line.
pub fn event_line(e: &Event) -> String {
    match e {
        Event::Connected {
            ssid,
            bssid,
            channel,
        } => connected_line(ssid, *bssid, *channel),
        Event::Disconnected {
            reason,
            locally_generated,
        } => format!(
            "disconnected: {}",
            disconnect_text(*reason, *locally_generated)
        ),
        Event::ConnectFailed { reason } => {
            format!("connection attempt failed: {}", failure_cause(*reason))
        }
        Event::SignalChanged { dbm } => format!("signal {dbm} dBm {}", signal_bars(*dbm)),
        Event::Roamed {
            ssid,
            bssid,
            old_bssid,
            channel,
            roam_ms,
        } => format!(
            "roamed in {roam_ms} ms: {ssid} now through {bssid} on channel {channel} (was {old_bssid})"
        ),
    }
}

/// A short name of an 802.11 reason code (IEEE 802.11-2020 Table 9-49), for the usual ones.
fn reason_name(reason: u16) -> &'static str {
    match reason {
        1 => "unspecified",
        2 => "previous authentication no longer valid",
        3 => "station leaving",
        4 => "inactivity",
        5 => "access point cannot handle all associated stations",
        6 | 7 => "frame from a station that is not authenticated or associated",
        8 => "station leaving the BSS",
        14 => "message integrity failure",
        15 => "4-way handshake timeout",
        16 => "group key handshake timeout",
        23 => "802.1X authentication failed",
        34 => "poor channel conditions",
        _ => "see IEEE 802.11 Table 9-49",
    }
}

/// A short name of an 802.11 status code (IEEE 802.11-2020 Table 9-50), for the usual ones.
fn status_name(status: u16) -> &'static str {
    match status {
        1 => "unspecified failure",
        10 => "cannot support all requested capabilities",
        12 => "denied for a reason outside the standard",
        13 => "authentication algorithm not supported",
        15 => "challenge failure",
        17 => "the access point cannot take more stations",
        18 => "basic rates not supported",
        30 => "try again later",
        53 => "invalid PMKID",
        _ => "see IEEE 802.11 Table 9-50",
    }
}

/// The security named by a failure's detail (a [`Security::code`]).
fn detail_security(detail: u16) -> Security {
    Security::from_code(u8::try_from(detail).unwrap_or(u8::MAX))
}

/// Why a connection attempt failed, without advice (for event lines).
pub fn failure_cause(reason: ConnectFailure) -> String {
    match reason {
        ConnectFailure::NetworkNotFound => "network not found".to_owned(),
        ConnectFailure::AuthRejected { status } => {
            format!(
                "authentication refused (status {status}: {})",
                status_name(status)
            )
        }
        ConnectFailure::AssocRejected { status } => {
            format!(
                "association refused (status {status}: {})",
                status_name(status)
            )
        }
        ConnectFailure::WrongPassphrase => "wrong passphrase".to_owned(),
        ConnectFailure::ApUnreachable => "access point unreachable".to_owned(),
        ConnectFailure::HandshakeTimeout => "handshake timeout".to_owned(),
        ConnectFailure::Other { code, detail } => match code {
            FAILURE_CODE_SECURITY_MISMATCH => format!(
                "security mismatch (the network is {})",
                security_name(detail_security(detail))
            ),
            FAILURE_CODE_UNSUPPORTED_SECURITY => format!(
                "unsupported security {}",
                security_name(detail_security(detail))
            ),
            FAILURE_CODE_REJECTED_BY_AP => format!(
                "sent away by the access point (reason {detail}: {})",
                reason_name(detail)
            ),
            FAILURE_CODE_HANDSHAKE_FAILED => format!(
                "WPA2 handshake failed (reason {detail}: {})",
                reason_name(detail)
            ),
            FAILURE_CODE_RADIO_BUSY => "radio busy on other channels".to_owned(),
            FAILURE_CODE_CARD_FULL => card_full(detail),
            _ => format!("failure code {code} (detail {detail})"),
        },
    }
}

/// "radio busy: the card takes N station interfaces".
fn card_full(n: u16) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("radio busy: the card takes {n} station interface{s}")
}

/// Why a connection attempt to `ssid` failed, and what to do about it.
pub fn failure_text(ssid: &Ssid, reason: ConnectFailure) -> String {
    let name = ssid_text(ssid);
    match reason {
        ConnectFailure::NetworkNotFound => format!(
            "network not found: no access point of '{name}' answered; run `vwifi-guest scan` to see the networks in range"
        ),
        ConnectFailure::WrongPassphrase => format!(
            "wrong passphrase: the access point refused the key; check the passphrase for '{name}'"
        ),
        ConnectFailure::ApUnreachable => format!(
            "access point unreachable: '{name}' stopped answering; try again, or check its signal with `vwifi-guest scan`"
        ),
        ConnectFailure::HandshakeTimeout => format!(
            "handshake timeout: the access point of '{name}' did not start the WPA2 handshake; try again"
        ),
        ConnectFailure::AuthRejected { .. } | ConnectFailure::AssocRejected { .. } => format!(
            "{}: '{name}' refused this station; try again later, or another access point with --bssid",
            failure_cause(reason)
        ),
        ConnectFailure::Other { code, detail } => match code {
            FAILURE_CODE_SECURITY_MISMATCH => match detail_security(detail) {
                Security::Open => format!(
                    "security mismatch: '{name}' is an open network; connect without --passphrase or --psk-file"
                ),
                s => format!(
                    "security mismatch: '{name}' uses {}; give its passphrase (--passphrase-stdin or --psk-file)",
                    security_name(s)
                ),
            },
            FAILURE_CODE_UNSUPPORTED_SECURITY => format!(
                "unsupported security: '{name}' uses {}, which this radio cannot join (vwifi joins open, WPA2-PSK and, except through the nl80211 radio, WPA3-SAE networks)",
                security_name(detail_security(detail))
            ),
            FAILURE_CODE_CARD_FULL => format!(
                "{}, each on another network than '{name}'; wait for a guest to leave, or join a network a guest is on",
                card_full(detail)
            ),
            FAILURE_CODE_RADIO_BUSY => format!(
                "radio busy: the radio already serves as many channels as it can, and '{name}' is on another; wait for other guests to leave, or pick a network on a channel in use"
            ),
            _ => format!("{}: try again", failure_cause(reason)),
        },
    }
}

/// A stable name of a failure, for `--json`.
pub fn failure_kind(reason: ConnectFailure) -> &'static str {
    match reason {
        ConnectFailure::NetworkNotFound => "network_not_found",
        ConnectFailure::AuthRejected { .. } => "auth_rejected",
        ConnectFailure::AssocRejected { .. } => "assoc_rejected",
        ConnectFailure::WrongPassphrase => "wrong_passphrase",
        ConnectFailure::ApUnreachable => "ap_unreachable",
        ConnectFailure::HandshakeTimeout => "handshake_timeout",
        ConnectFailure::Other { code, .. } => match code {
            FAILURE_CODE_SECURITY_MISMATCH => "security_mismatch",
            FAILURE_CODE_UNSUPPORTED_SECURITY => "unsupported_security",
            FAILURE_CODE_REJECTED_BY_AP => "rejected_by_ap",
            FAILURE_CODE_HANDSHAKE_FAILED => "handshake_failed",
            FAILURE_CODE_RADIO_BUSY => "radio_busy",
            FAILURE_CODE_CARD_FULL => "card_full",
            _ => "connect_failed",
        },
    }
}

/// A host error reply, for people: what went wrong and what to do.
pub fn host_error_text(code: ErrorCode, text: Option<&str>) -> String {
    let what = match code {
        ErrorCode::Busy => {
            "the host is busy with another scan or connection attempt; try again in a moment"
        }
        ErrorCode::NotConnected => "not connected to a network",
        ErrorCode::NotPermitted => "the host does not allow this guest to do that",
        ErrorCode::RadioUnavailable => "the host's radio is unavailable; check `vwifi-host status`",
        ErrorCode::InvalidArgument => "the host refused an argument",
        ErrorCode::UnsupportedVersion => {
            "the host speaks another protocol version; update vwifi-guest or vwifi-host"
        }
        ErrorCode::UnsupportedMessage => "the host does not support this request",
        ErrorCode::Malformed => "the host could not decode the request",
        ErrorCode::Internal => "the host failed (see its log)",
        ErrorCode::Other(_) => "the host refused the request",
    };
    match text {
        Some(t) if !t.is_empty() => format!("{what} ({t})"),
        _ => what.to_owned(),
    }
}

fn opt_ssid(s: Option<&Ssid>) -> Value {
    s.map_or(Value::Null, |s| Value::from(s.to_string()))
}

/// One BSS as JSON.
pub fn bss_json(b: &BssInfo) -> Value {
    json!({
        "ssid": b.ssid.to_string(),
        "bssid": b.bssid.to_string(),
        "channel": b.channel,
        "frequency_mhz": b.frequency_mhz,
        "signal_dbm": b.signal_dbm,
        "security": security_name(b.security),
        "age_ms": b.beacon_age_ms,
        "phy": phy_json(b.phy),
    })
}

/// A station status as JSON.
pub fn status_json(s: &StationStatus) -> Value {
    let c = &s.counters;
    json!({
        "state": state_name(s.state),
        "mac": s.mac.to_string(),
        "ssid": opt_ssid(s.ssid.as_ref()),
        "bssid": s.bssid.map(|b| b.to_string()),
        "channel": s.channel,
        "frequency_mhz": s.frequency_mhz,
        "signal_dbm": s.signal_dbm,
        "tx_rate_kbps": s.tx_rate_kbps,
        "phy": phy_json(s.phy),
        "counters": {
            "rx_packets": c.rx_packets, "rx_bytes": c.rx_bytes, "rx_dropped": c.rx_dropped,
            "tx_packets": c.tx_packets, "tx_bytes": c.tx_bytes, "tx_dropped": c.tx_dropped,
        },
    })
}

/// An event as JSON.
pub fn event_json(e: &Event) -> Value {
    match e {
        Event::Connected {
            ssid,
            bssid,
            channel,
        } => {
            json!({"event": "connected", "ssid": ssid.to_string(), "bssid": bssid.to_string(), "channel": channel})
        }
        Event::Disconnected {
            reason,
            locally_generated,
        } => {
            json!({"event": "disconnected", "reason": reason, "locally_generated": locally_generated})
        }
        Event::ConnectFailed { reason } => {
            let (code, detail) = reason.to_code();
            json!({"event": "connect_failed", "reason": failure_kind(*reason), "code": code, "detail": detail, "message": failure_cause(*reason)})
        }
        Event::SignalChanged { dbm } => json!({"event": "signal_changed", "signal_dbm": dbm}),
        Event::Roamed {
            ssid,
            bssid,
            old_bssid,
            channel,
            roam_ms,
        } => {
            json!({"event": "roamed", "ssid": ssid.to_string(), "bssid": bssid.to_string(), "old_bssid": old_bssid.to_string(), "channel": channel, "roam_ms": roam_ms})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwifi_core::proto::Counters;

    fn bss(ssid: &str, last: u8, channel: u8, dbm: i8, security: Security) -> BssInfo {
        BssInfo {
            ssid: Ssid::new(ssid.as_bytes()).unwrap(),
            bssid: MacAddr([2, 0, 0, 0, 0, last]),
            channel,
            frequency_mhz: 2407 + 5 * u16::from(channel),
            signal_dbm: dbm,
            security,
            beacon_age_ms: 1500,
            phy: None,
        }
    }

    #[test]
    fn scan_table_lists_strongest_first_with_aligned_columns() {
        let table = scan_table(&[
            bss("guest", 2, 6, -80, Security::Open),
            bss("lab", 1, 1, -42, Security::Wpa2Psk),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert_eq!(
            lines[0],
            "SSID   BSSID               CH  SIGNAL        SECURITY   AGE"
        );
        assert_eq!(
            lines[1],
            "lab    02:00:00:00:00:01    1  -42 dBm ▂▄▆█  WPA2-PSK   1.5s"
        );
        assert_eq!(
            lines[2],
            "guest  02:00:00:00:00:02    6  -80 dBm ▂___  open       1.5s"
        );
    }

    #[test]
    fn scan_table_names_six_ghz_channels_apart() {
        let table = scan_table(&[
            BssInfo {
                frequency_mhz: 6135,
                ..bss("six", 2, 37, -40, Security::Open)
            },
            bss("lab", 1, 1, -42, Security::Open),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "SSID  BSSID                CH  SIGNAL        SECURITY   AGE"
        );
        assert_eq!(
            lines[1],
            "six   02:00:00:00:00:02  6g37  -40 dBm ▂▄▆█  open       1.5s"
        );
        assert_eq!(
            lines[2],
            "lab   02:00:00:00:00:01     1  -42 dBm ▂▄▆█  open       1.5s"
        );
    }

    #[test]
    fn scan_table_shows_the_phy_when_the_radio_reports_it() {
        let ax = vwifi_core::proto::PhyInfo {
            standard: vwifi_core::phy::Standard::He,
            width_mhz: 80,
            streams: 2,
            mcs: None,
            rate_kbps: 1_200_980,
        };
        let table = scan_table(&[
            BssInfo {
                phy: Some(ax),
                ..bss("fast", 2, 36, -40, Security::Wpa2Psk)
            },
            bss("old", 1, 1, -42, Security::Open),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].ends_with("AGE   PHY"), "{table}");
        assert!(
            lines[1].ends_with("1.5s  ax 80 MHz 2x2 1201 Mbit/s"),
            "{table}"
        );
        assert!(lines[2].ends_with("1.5s  -"), "{table}");
        let s = StationStatus {
            phy: Some(vwifi_core::proto::PhyInfo {
                mcs: Some(11),
                ..ax
            }),
            ..StationStatus {
                state: StationState::Connected,
                mac: MacAddr([2, 0, 0, 0, 0, 9]),
                ssid: None,
                bssid: None,
                channel: Some(36),
                frequency_mhz: None,
                signal_dbm: None,
                tx_rate_kbps: Some(1_200_980),
                phy: None,
                counters: Counters::default(),
            }
        };
        assert!(status_text(&s).contains("phy:      802.11ax 80 MHz 2x2 MCS 11 1201.0 Mbit/s"));
        assert_eq!(status_json(&s)["phy"]["mcs"], 11);
        assert_eq!(
            bss_json(&bss("x", 1, 1, -1, Security::Open))["phy"],
            Value::Null
        );
    }

    #[test]
    fn scan_table_says_when_nothing_was_found() {
        assert!(scan_table(&[]).starts_with("no networks found"));
    }

    #[test]
    fn hidden_ssid_and_odd_bytes_are_shown_safely() {
        let table = scan_table(&[
            bss("", 1, 1, -50, Security::Open),
            BssInfo {
                ssid: Ssid::new(b"a\x1b[2J").unwrap(),
                ..bss("x", 2, 1, -60, Security::Open)
            },
        ]);
        assert!(table.contains("(hidden)"), "{table}");
        assert!(table.contains("a\\x1b[2J"), "{table}");
        assert!(!table.contains('\x1b'));
    }

    #[test]
    fn signal_bars_step_down_with_the_signal() {
        assert_eq!(signal_bars(-30), "▂▄▆█");
        assert_eq!(signal_bars(-60), "▂▄▆_");
        assert_eq!(signal_bars(-70), "▂▄__");
        assert_eq!(signal_bars(-80), "▂___");
        assert_eq!(signal_bars(-95), "____");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(age(300), "300ms");
        assert_eq!(age(4_200), "4.2s");
        assert_eq!(age(180_000), "3m");
    }

    #[test]
    fn failures_say_what_to_do() {
        let lab = Ssid::new(b"lab").unwrap();
        assert_eq!(
            failure_text(&lab, ConnectFailure::WrongPassphrase),
            "wrong passphrase: the access point refused the key; check the passphrase for 'lab'"
        );
        assert!(
            failure_text(&lab, ConnectFailure::NetworkNotFound).contains("run `vwifi-guest scan`")
        );
        assert!(
            failure_text(&lab, ConnectFailure::AssocRejected { status: 17 })
                .contains("status 17: the access point cannot take more stations")
        );
        let open = ConnectFailure::Other {
            code: FAILURE_CODE_SECURITY_MISMATCH,
            detail: 0,
        };
        assert!(failure_text(&lab, open).contains("connect without --passphrase"));
        let protected = ConnectFailure::Other {
            code: FAILURE_CODE_SECURITY_MISMATCH,
            detail: 1,
        };
        assert!(failure_text(&lab, protected).contains("uses WPA2-PSK; give its passphrase"));
        let enterprise = ConnectFailure::Other {
            code: FAILURE_CODE_UNSUPPORTED_SECURITY,
            detail: 4,
        };
        assert!(
            failure_text(&lab, enterprise).contains("uses other(4), which this radio cannot join")
        );
        assert_eq!(security_name(Security::Wpa2Wpa3), "WPA2/WPA3");
        let busy = ConnectFailure::Other {
            code: FAILURE_CODE_RADIO_BUSY,
            detail: 0,
        };
        assert!(failure_text(&lab, busy).starts_with("radio busy"));
        assert_eq!(failure_kind(busy), "radio_busy");
        let full = ConnectFailure::Other {
            code: FAILURE_CODE_CARD_FULL,
            detail: 1,
        };
        assert!(failure_text(&lab, full).starts_with(
            "radio busy: the card takes 1 station interface, each on another network"
        ));
        assert_eq!(failure_kind(full), "card_full");
    }

    #[test]
    fn status_lines_show_only_known_fields() {
        let s = StationStatus {
            state: StationState::Connected,
            mac: MacAddr([2, 0, 0, 0, 0, 9]),
            ssid: Some(Ssid::new(b"lab").unwrap()),
            bssid: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            channel: Some(1),
            frequency_mhz: None,
            signal_dbm: Some(-42),
            tx_rate_kbps: Some(54_000),
            phy: None,
            counters: Counters::default(),
        };
        let text = status_text(&s);
        assert!(text.contains("channel:  1\n"), "{text}");
        // With the frequency, a 6 GHz channel is told apart.
        let six = StationStatus {
            channel: Some(37),
            frequency_mhz: Some(6135),
            ..s.clone()
        };
        assert!(
            status_text(&six).contains("channel:  6g37 (6135 MHz)\n"),
            "{}",
            status_text(&six)
        );
        assert_eq!(status_json(&six)["frequency_mhz"], 6135);
        assert!(
            text.starts_with("state:    connected\nmac:      02:00:00:00:00:09\nnetwork:  lab\n"),
            "{text}"
        );
        assert!(text.contains("tx rate:  54.0 Mbit/s"));
        let idle = StationStatus {
            state: StationState::Idle,
            ssid: None,
            bssid: None,
            channel: None,
            frequency_mhz: None,
            signal_dbm: None,
            tx_rate_kbps: None,
            phy: None,
            ..s
        };
        let text = status_text(&idle);
        assert!(text.starts_with("state:    disconnected\n"), "{text}");
        assert!(!text.contains("network:"));
        assert_eq!(status_json(&idle)["ssid"], Value::Null);
    }

    #[test]
    fn events_print_as_lines_and_json() {
        let e = Event::Connected {
            ssid: Ssid::new(b"lab").unwrap(),
            bssid: MacAddr([2, 0, 0, 0, 0, 1]),
            channel: 1,
        };
        assert_eq!(
            event_line(&e),
            "connected to lab (02:00:00:00:00:01) on channel 1"
        );
        assert_eq!(event_json(&e)["event"], "connected");
        let d = Event::Disconnected {
            reason: 3,
            locally_generated: true,
        };
        assert_eq!(
            event_line(&d),
            "disconnected: left the network (reason 3: station leaving)"
        );
        let f = Event::ConnectFailed {
            reason: ConnectFailure::WrongPassphrase,
        };
        assert_eq!(event_json(&f)["reason"], "wrong_passphrase");
    }

    #[test]
    fn a_roam_prints_both_access_points_and_its_time() {
        let r = Event::Roamed {
            ssid: Ssid::new(b"lab").unwrap(),
            bssid: MacAddr([2, 0, 0, 0, 0, 2]),
            old_bssid: MacAddr([2, 0, 0, 0, 0, 1]),
            channel: 6,
            roam_ms: 42,
        };
        assert_eq!(
            event_line(&r),
            "roamed in 42 ms: lab now through 02:00:00:00:00:02 on channel 6 (was 02:00:00:00:00:01)"
        );
        let j = event_json(&r);
        assert_eq!(j["event"], "roamed");
        assert_eq!(j["old_bssid"], "02:00:00:00:00:01");
        assert_eq!(j["roam_ms"], 42);
    }

    #[test]
    fn host_errors_explain_themselves() {
        assert_eq!(
            host_error_text(ErrorCode::Busy, Some("a scan is already running")),
            "the host is busy with another scan or connection attempt; try again in a moment (a scan is already running)"
        );
        assert_eq!(
            host_error_text(ErrorCode::NotConnected, None),
            "not connected to a network"
        );
    }
}
