//! The network configuration on the plugin's stdin: the CNI keys (`cniVersion`, `name`, `type`,
//! `ipam`, `prevResult`; others such as `runtimeConfig` and `args` are ignored), and ours:
//!
//! | key          | meaning                                                                  |
//! |--------------|--------------------------------------------------------------------------|
//! | `ssid`       | the network to join (required, 1 to 32 bytes)                             |
//! | `passphrase` | its WPA2 passphrase (8 to 63 printable ASCII characters)                  |
//! | `psk_file`   | or a file holding the passphrase or the PSK (64 hex digits)               |
//! | `ifname`     | the interface in the container (default: `CNI_IFNAME`)                    |
//! | `bssid`      | only this access point                                                    |
//! | `socket`     | the daemon's socket, as `vwifi-host run --socket` (default `/run/vwifi/host.sock`; its control socket is `<socket>.ctl`) |
//!
//! Neither `passphrase` nor `psk_file`: an open network.

use std::path::PathBuf;

use serde::Deserialize;
use vwifi_core::MacAddr;
use zeroize::Zeroizing;

/// The daemon's socket when the configuration names none (`vwifi-host run` as root).
pub const DEFAULT_SOCKET: &str = "/run/vwifi/host.sock";

/// The longest interface name Linux accepts.
const MAX_IFNAME_LEN: usize = 15;

/// What is wrong with a network configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON, or a key of the wrong type.
    #[error("the network configuration is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A key has a value that cannot be used.
    #[error("network configuration key {key:?}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// How the station proves it may join.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// An open network.
    Open,
    /// A passphrase given in the configuration.
    Passphrase(Zeroizing<String>),
    /// A file holding the passphrase or the PSK (read at ADD).
    PskFile(PathBuf),
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Open => f.write_str("Open"),
            Self::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            Self::PskFile(p) => f.debug_tuple("PskFile").field(p).finish(),
        }
    }
}

/// A checked network configuration.
#[derive(Debug, Clone)]
pub struct NetConf {
    /// `cniVersion`.
    pub cni_version: String,
    /// `name`: the network's name.
    pub name: String,
    /// The SSID to join.
    pub ssid: String,
    /// Its secret.
    pub secret: Secret,
    /// The interface name, if the configuration gives one.
    pub ifname: Option<String>,
    /// Only this access point.
    pub bssid: Option<MacAddr>,
    /// The daemon's socket.
    pub socket: PathBuf,
    /// The IPAM plugin's `type`, if there is one.
    pub ipam: Option<String>,
    /// `prevResult` (CHECK, DEL), as given.
    pub prev_result: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "cniVersion")]
    cni_version: String,
    name: String,
    #[serde(rename = "type")]
    _kind: String,
    ssid: String,
    #[serde(default)]
    passphrase: Option<Zeroizing<String>>,
    #[serde(default)]
    psk_file: Option<PathBuf>,
    #[serde(default)]
    ifname: Option<String>,
    #[serde(default)]
    bssid: Option<String>,
    #[serde(default)]
    socket: Option<PathBuf>,
    #[serde(default)]
    ipam: Option<RawIpam>,
    #[serde(default, rename = "prevResult")]
    prev_result: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawIpam {
    #[serde(rename = "type")]
    kind: String,
}

impl NetConf {
    /// Parses and checks the configuration's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let raw: Raw = serde_json::from_slice(bytes)?;
        if raw.name.is_empty() {
            return Err(invalid("name", "empty"));
        }
        if raw.ssid.is_empty() || raw.ssid.len() > 32 {
            return Err(invalid("ssid", "must be 1 to 32 bytes"));
        }
        let secret = match (raw.passphrase, raw.psk_file) {
            (None, None) => Secret::Open,
            (Some(p), None) => {
                check_passphrase(&p).map_err(|r| invalid("passphrase", r))?;
                Secret::Passphrase(p)
            }
            (None, Some(f)) if f.is_absolute() => Secret::PskFile(f),
            (None, Some(_)) => return Err(invalid("psk_file", "must be an absolute path")),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "passphrase",
                    "give passphrase or psk_file, not both",
                ))
            }
        };
        if let Some(name) = &raw.ifname {
            check_ifname(name).map_err(|r| invalid("ifname", r))?;
        }
        let bssid = raw
            .bssid
            .map(|b| {
                b.parse::<MacAddr>()
                    .map_err(|e| invalid("bssid", e.to_string()))
            })
            .transpose()?;
        let socket = raw.socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        if !socket.is_absolute() {
            return Err(invalid("socket", "must be an absolute path"));
        }
        let ipam = match raw.ipam {
            None => None,
            Some(i) if i.kind.is_empty() || i.kind.contains('/') || i.kind.starts_with('.') => {
                return Err(invalid(
                    "ipam",
                    "its type must be a plugin name (host-local, dhcp, static...)",
                ))
            }
            Some(i) => Some(i.kind),
        };
        Ok(Self {
            cni_version: raw.cni_version,
            name: raw.name,
            ssid: raw.ssid,
            secret,
            ifname: raw.ifname,
            bssid,
            socket,
            ipam,
            prev_result: raw.prev_result,
        })
    }

    /// The daemon's control socket: `<socket>.ctl`.
    pub fn control_socket(&self) -> PathBuf {
        let mut s = self.socket.as_os_str().to_owned();
        s.push(".ctl");
        PathBuf::from(s)
    }
}

/// What is wrong with a passphrase, if anything: WPA2 takes 8 to 63 printable ASCII characters.
pub fn check_passphrase(p: &str) -> Result<(), &'static str> {
    if !(8..=63).contains(&p.len()) {
        return Err("a WPA2 passphrase has 8 to 63 characters");
    }
    if !p.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("a WPA2 passphrase has only printable ASCII characters");
    }
    Ok(())
}

/// What is wrong with an interface name, if anything.
pub fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_IFNAME_LEN {
        return Err("an interface name has 1 to 15 bytes");
    }
    if name == "." || name == ".." {
        return Err("not an interface name");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err("an interface name has no '/', ':', space or control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"cniVersion":"1.0.0","name":"wifi","type":"vwifi-cni",
        "ssid":"vwifi-lab","passphrase":"correct horse battery staple","ifname":"wlan0",
        "socket":"/run/vwifi/host.sock","ipam":{"type":"host-local","subnet":"10.1.0.0/24"},
        "runtimeConfig":{"x":1}}"#;

    #[test]
    fn a_full_configuration_parses() {
        let c = NetConf::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(c.ssid, "vwifi-lab");
        assert_eq!(c.ifname.as_deref(), Some("wlan0"));
        assert_eq!(c.ipam.as_deref(), Some("host-local"));
        assert!(matches!(c.secret, Secret::Passphrase(_)));
        assert_eq!(
            c.control_socket(),
            PathBuf::from("/run/vwifi/host.sock.ctl")
        );
        assert!(!format!("{c:?}").contains("horse"), "{c:?}");
    }

    #[test]
    fn defaults_are_an_open_network_on_the_default_socket() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"w","type":"vwifi-cni","ssid":"open"}"#,
        )
        .unwrap();
        assert_eq!(c.secret, Secret::Open);
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!((c.ifname, c.bssid, c.ipam), (None, None, None));
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = r#""cniVersion":"1.0.0","name":"w","type":"vwifi-cni""#;
        for (extra, key) in [
            (r#""ssid":"""#, "ssid"),
            (r#""ssid":"123456789012345678901234567890123""#, "ssid"),
            (r#""ssid":"a","passphrase":"short""#, "passphrase"),
            (
                r#""ssid":"a","passphrase":"caf\u00e9 au lait""#,
                "passphrase",
            ),
            (
                r#""ssid":"a","passphrase":"longenough","psk_file":"/k""#,
                "passphrase",
            ),
            (r#""ssid":"a","psk_file":"relative""#, "psk_file"),
            (r#""ssid":"a","ifname":"a-very-long-interface""#, "ifname"),
            (r#""ssid":"a","bssid":"nope""#, "bssid"),
            (r#""ssid":"a","socket":"rel""#, "socket"),
            (r#""ssid":"a","ipam":{"type":"../x"}"#, "ipam"),
        ] {
            let e = NetConf::parse(format!("{{{base},{extra}}}").as_bytes()).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
                "{extra}: {e}"
            );
        }
        for bad in ["", "[]", r#"{"name":"w"}"#, r#"{"cniVersion":1}"#] {
            assert!(matches!(
                NetConf::parse(bad.as_bytes()),
                Err(ConfigError::Json(_))
            ));
        }
    }
}
