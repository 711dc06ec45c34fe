//! The vwifi daemon's control socket, as the plugin uses it: one JSON request line, one reply
//! line (the protocol of `vwifi-host`'s control module: `attach`, `join`, `detach`, `status`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use vwifi_core::proto::{ConnectFailure, Ssid};

use crate::error::{self, CniError};

/// How long a request may take: a join waits for the association (the daemon gives up at 30 s).
const TIMEOUT: Duration = Duration::from_secs(40);

/// The longest reply read.
const MAX_REPLY: u64 = 16 * 1024 * 1024;

/// A station served in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its MAC address (the interface's).
    pub mac: String,
}

/// Sends `request` to the daemon at `ctl`; its reply.
fn request(ctl: &Path, request: &Value) -> Result<Value, CniError> {
    let unreachable = |e: std::io::Error| {
        CniError::new(
            error::TRY_AGAIN_LATER,
            format!(
                "the vwifi daemon is not running (no answer on {}): start it with `vwifi-host run`",
                ctl.display()
            ),
        )
        .with_details(e.to_string())
    };
    let mut stream = UnixStream::connect(ctl).map_err(unreachable)?;
    let io = |e: std::io::Error| {
        CniError::new(
            error::IO_FAILURE,
            "the vwifi daemon's control socket failed",
        )
        .with_details(e.to_string())
    };
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut line = request.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(stream.take(MAX_REPLY))
        .read_line(&mut reply)
        .map_err(io)?;
    let v: Value = serde_json::from_str(&reply).map_err(|e| {
        CniError::new(error::IO_FAILURE, "the vwifi daemon's answer is not valid")
            .with_details(e.to_string())
    })?;
    if let Some(msg) = v.pointer("/error/message").and_then(Value::as_str) {
        return Err(CniError::new(
            error::DAEMON_REFUSED,
            format!("the vwifi daemon refused: {msg}"),
        ));
    }
    Ok(v)
}

/// `attach`: a station and its interface `ifname` in the namespace at `netns`.
pub fn attach(ctl: &Path, netns: &str, ifname: &str) -> Result<Attached, CniError> {
    let v = request(
        ctl,
        &json!({"request": "attach", "netns_path": netns, "ifname": ifname}),
    )?;
    let mac = v
        .pointer("/attached/mac")
        .and_then(Value::as_str)
        .ok_or_else(|| CniError::new(error::IO_FAILURE, format!("unexpected answer {v}")))?;
    Ok(Attached {
        mac: mac.to_owned(),
    })
}

/// The credentials of a `join`.
pub enum Credentials<'a> {
    /// An open network.
    Open,
    /// A passphrase.
    Passphrase(&'a str),
    /// A PSK in hex.
    Psk(&'a str),
}

/// `join`: connects the namespace's station to `ssid`; returns once associated, or fails with
/// the cause in words.
pub fn join(
    ctl: &Path,
    netns: &str,
    ssid: &str,
    bssid: Option<&str>,
    credentials: Credentials<'_>,
) -> Result<(), CniError> {
    let mut req = json!({"request": "join", "netns_path": netns, "ssid": ssid});
    if let Some(b) = bssid {
        req["bssid"] = b.into();
    }
    match credentials {
        Credentials::Open => {}
        Credentials::Passphrase(p) => req["passphrase"] = p.into(),
        Credentials::Psk(k) => req["psk"] = k.into(),
    }
    let v = request(ctl, &req)?;
    zeroize_secret(&mut req);
    if v.get("joined").is_some() {
        return Ok(());
    }
    let failed = v
        .get("join_failed")
        .ok_or_else(|| CniError::new(error::IO_FAILURE, format!("unexpected answer {v}")))?;
    let code = failed["code"]
        .as_u64()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(0);
    let detail = failed["detail"]
        .as_u64()
        .and_then(|d| u16::try_from(d).ok())
        .unwrap_or(0);
    let reason =
        ConnectFailure::from_code(code, detail).unwrap_or(ConnectFailure::Other { code, detail });
    let cni_code = match reason {
        ConnectFailure::NetworkNotFound => error::NETWORK_NOT_FOUND,
        ConnectFailure::WrongPassphrase => error::WRONG_PASSPHRASE,
        _ => error::JOIN_FAILED,
    };
    let kind = vwifi_guest::output::failure_kind(reason);
    let text = match Ssid::new(ssid.as_bytes()) {
        Ok(name) => vwifi_guest::output::failure_text(&name, reason),
        Err(_) => kind.to_owned(),
    };
    Err(CniError::new(cni_code, text).with_details(kind))
}

/// Overwrites the secret strings of a request.
fn zeroize_secret(req: &mut Value) {
    for key in ["passphrase", "psk"] {
        if let Some(Value::String(s)) = req.get_mut(key) {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

/// `detach`; a namespace not attached is no error (DEL is idempotent).
pub fn detach(ctl: &Path, netns: &str) -> Result<(), CniError> {
    match request(ctl, &json!({"request": "detach", "netns_path": netns})) {
        Ok(_) => Ok(()),
        Err(e) if e.code == error::DAEMON_REFUSED && e.msg.contains("is not attached") => Ok(()),
        Err(e) => Err(e),
    }
}

/// A namespace's station as the daemon's status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// `connected`, `idle`...
    pub state: String,
    /// The network joined.
    pub ssid: Option<String>,
    /// Its MAC address.
    pub mac: String,
}

/// The station of the namespace at `netns` (`status`), `None` if it has none.
pub fn station(ctl: &Path, netns: &str) -> Result<Option<Station>, CniError> {
    let v = request(ctl, &json!({"request": "status"}))?;
    let name = format!("netns:{netns}");
    Ok(v.pointer("/status/guests")
        .and_then(Value::as_array)
        .and_then(|g| g.iter().find(|g| g["name"].as_str() == Some(&name)))
        .map(|g| Station {
            state: g["state"].as_str().unwrap_or_default().to_owned(),
            ssid: g["ssid"].as_str().map(str::to_owned),
            mac: g["mac"].as_str().unwrap_or_default().to_owned(),
        }))
}

/// Whether the daemon answers (STATUS).
pub fn ping(ctl: &Path) -> Result<(), CniError> {
    request(ctl, &json!({"request": "status"})).map(|_| ())
}
