//! The CNI commands (spec 1.0.0: ADD, DEL, CHECK, VERSION; 1.1.0 adds STATUS and GC) on the
//! runtime's environment and the network configuration.
//!
//! ADD attaches the namespace through the daemon (`attach` by path: the station's interface
//! `ifname` is created in it), joins the network (`join`: returns once associated, or fails
//! with the cause), then runs the IPAM plugin and puts its addresses and routes on the
//! interface. A failure after the attach detaches again. DEL releases the address (IPAM DEL)
//! and detaches; what is gone already is no error. The daemon itself removes the station of a
//! namespace whose last process exited, so GC has nothing left to collect.

use std::path::Path;

use crate::config::{NetConf, Secret};
use crate::daemon::{self, Credentials};
use crate::error::{self, CniError};
use crate::result::{CniResult, Interface};
use crate::{ipam, netcfg};

/// The CNI versions this plugin speaks.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["1.0.0", "1.1.0"];

/// The runtime's `CNI_*` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `CNI_COMMAND`.
    pub command: String,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the namespace's path.
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_PATH`: where the plugins are.
    pub path: String,
}

impl Env {
    /// From the process's environment (an absent variable is empty).
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Self {
            command: var("CNI_COMMAND"),
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            path: var("CNI_PATH"),
        }
    }

    fn require(&self, value: &str, name: &str) -> Result<(), CniError> {
        if value.is_empty() {
            return Err(CniError::new(
                error::INVALID_ENV,
                format!("{name} is not set"),
            ));
        }
        Ok(())
    }
}

/// Runs the command of `env` on the configuration `stdin`: what to print on success.
pub fn run(env: &Env, stdin: &[u8]) -> Result<String, CniError> {
    match env.command.as_str() {
        "VERSION" => Ok(version(stdin)),
        "ADD" => add(env, stdin),
        "DEL" => del(env, stdin).map(|()| String::new()),
        "CHECK" => check(env, stdin).map(|()| String::new()),
        "STATUS" => status(stdin).map(|()| String::new()),
        "GC" => conf(stdin).map(|_| String::new()),
        "" => Err(CniError::new(error::INVALID_ENV, "CNI_COMMAND is not set")),
        other => Err(CniError::new(
            error::INVALID_ENV,
            format!("unknown CNI_COMMAND {other:?} (ADD, DEL, CHECK, VERSION, STATUS, GC)"),
        )),
    }
}

/// The version reply: the versions this plugin speaks.
fn version(stdin: &[u8]) -> String {
    let asked = serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| v["cniVersion"].as_str().map(str::to_owned))
        .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| SUPPORTED_VERSIONS[0].to_owned());
    serde_json::json!({"cniVersion": asked, "supportedVersions": SUPPORTED_VERSIONS}).to_string()
}

/// The configuration, in a version this plugin speaks.
fn conf(stdin: &[u8]) -> Result<NetConf, CniError> {
    let c = NetConf::parse(stdin)?;
    if !SUPPORTED_VERSIONS.contains(&c.cni_version.as_str()) {
        return Err(CniError::new(
            error::INCOMPATIBLE_VERSION,
            format!(
                "CNI version {} is not supported (this plugin speaks {})",
                c.cni_version,
                SUPPORTED_VERSIONS.join(", ")
            ),
        ));
    }
    Ok(c)
}

/// The interface name: the configuration's `ifname`, else `CNI_IFNAME`.
fn ifname(c: &NetConf, env: &Env) -> Result<String, CniError> {
    match &c.ifname {
        Some(n) => Ok(n.clone()),
        None => {
            env.require(&env.ifname, "CNI_IFNAME")?;
            crate::config::check_ifname(&env.ifname)
                .map_err(|r| CniError::new(error::INVALID_ENV, format!("CNI_IFNAME: {r}")))?;
            Ok(env.ifname.clone())
        }
    }
}

fn require_netns(env: &Env) -> Result<(), CniError> {
    env.require(&env.netns, "CNI_NETNS")?;
    if !env.netns.starts_with('/') {
        return Err(CniError::new(
            error::INVALID_ENV,
            format!("CNI_NETNS {:?} is not an absolute path", env.netns),
        ));
    }
    Ok(())
}

fn add(env: &Env, stdin: &[u8]) -> Result<String, CniError> {
    let c = conf(stdin)?;
    env.require(&env.container_id, "CNI_CONTAINERID")?;
    require_netns(env)?;
    let ifname = ifname(&c, env)?;
    let ipam_plugin = match &c.ipam {
        Some(kind) => Some(ipam::find(kind, &env.path)?),
        None => None,
    };
    let ctl = c.control_socket();
    let mac = match daemon::attach(&ctl, &env.netns, &ifname) {
        Ok(a) => a.mac,
        // A retried ADD: the station is there already.
        Err(e) if e.code == error::DAEMON_REFUSED && e.msg.contains("attached already") => {
            daemon::station(&ctl, &env.netns)?.map(|s| s.mac).ok_or(e)?
        }
        Err(e) => return Err(e),
    };
    let undo = |e: CniError| {
        let _ = daemon::detach(&ctl, &env.netns);
        e
    };
    join(&c, &ctl, &env.netns).map_err(undo)?;
    // Chained after another plugin: its result, with ours appended.
    let mut result: CniResult = match &c.prev_result {
        Some(prev) => serde_json::from_value(prev.clone()).map_err(|e| {
            undo(
                CniError::new(error::DECODE, "prevResult is not a CNI result")
                    .with_details(e.to_string()),
            )
        })?,
        None => CniResult::default(),
    };
    result.cni_version = c.cni_version.clone();
    let ours = result.interfaces.len();
    result.interfaces.push(Interface {
        name: ifname.clone(),
        mac,
        sandbox: env.netns.clone(),
    });
    if let Some(plugin) = &ipam_plugin {
        let got = ipam::run(plugin, "ADD", stdin).map_err(undo)?;
        if let Some(r) = got {
            if let Err(e) = netcfg::configure(&env.netns, &ifname, &r) {
                let _ = ipam::run(plugin, "DEL", stdin);
                return Err(undo(e));
            }
            result.ips.extend(r.ips.into_iter().map(|mut ip| {
                ip.interface = Some(ours);
                ip
            }));
            result.routes.extend(r.routes);
            if !r.dns.is_null() {
                result.dns = r.dns;
            }
        }
    }
    serde_json::to_string(&result).map_err(|e| {
        CniError::new(error::IO_FAILURE, "cannot write the result").with_details(e.to_string())
    })
}

/// Joins the configured network from the station of `netns`.
fn join(c: &NetConf, ctl: &Path, netns: &str) -> Result<(), CniError> {
    let bssid = c.bssid.map(|b| b.to_string());
    match &c.secret {
        Secret::Open => daemon::join(ctl, netns, &c.ssid, bssid.as_deref(), Credentials::Open),
        Secret::Passphrase(p) => daemon::join(
            ctl,
            netns,
            &c.ssid,
            bssid.as_deref(),
            Credentials::Passphrase(p),
        ),
        Secret::PskFile(path) => {
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                CniError::new(
                    error::INVALID_CONFIG,
                    format!("cannot read psk_file {}", path.display()),
                )
                .with_details(e.to_string())
            })?);
            let secret = text.trim_end_matches(['\n', '\r']);
            let credentials = if secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
            {
                Credentials::Psk(secret)
            } else {
                crate::config::check_passphrase(secret).map_err(|r| {
                    CniError::new(
                        error::INVALID_CONFIG,
                        format!(
                            "psk_file {} holds neither a PSK (64 hex digits) nor a passphrase: {r}",
                            path.display()
                        ),
                    )
                })?;
                Credentials::Passphrase(secret)
            };
            daemon::join(ctl, netns, &c.ssid, bssid.as_deref(), credentials)
        }
    }
}

fn del(env: &Env, stdin: &[u8]) -> Result<(), CniError> {
    let c = conf(stdin)?;
    if let Some(kind) = &c.ipam {
        // Release the address even if the namespace is gone.
        let plugin = ipam::find(kind, &env.path)?;
        ipam::run(&plugin, "DEL", stdin)?;
    }
    if env.netns.is_empty() {
        // The runtime lost the namespace: the daemon removed its station when it died.
        return Ok(());
    }
    require_netns(env)?;
    match daemon::detach(&c.control_socket(), &env.netns) {
        Ok(()) => Ok(()),
        // No daemon, no station to remove (a restarted daemon forgets namespaces gone).
        Err(e) if e.code == error::TRY_AGAIN_LATER => {
            eprintln!("vwifi-cni: DEL: {e}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn check(env: &Env, stdin: &[u8]) -> Result<(), CniError> {
    let c = conf(stdin)?;
    env.require(&env.container_id, "CNI_CONTAINERID")?;
    require_netns(env)?;
    if c.prev_result.is_none() {
        return Err(CniError::new(
            error::INVALID_CONFIG,
            "CHECK needs prevResult in the configuration",
        ));
    }
    let station = daemon::station(&c.control_socket(), &env.netns)?.ok_or_else(|| {
        CniError::new(
            error::DAEMON_REFUSED,
            format!("the namespace {} has no vwifi station", env.netns),
        )
    })?;
    if station.state != "connected" || station.ssid.as_deref() != Some(c.ssid.as_str()) {
        return Err(CniError::new(
            error::JOIN_FAILED,
            format!(
                "the station of {} is not associated to {:?} (state {}, network {})",
                env.netns,
                c.ssid,
                station.state,
                station.ssid.as_deref().unwrap_or("none")
            ),
        ));
    }
    if let Some(kind) = &c.ipam {
        let plugin = ipam::find(kind, &env.path)?;
        ipam::run(&plugin, "CHECK", stdin)?;
    }
    Ok(())
}

fn status(stdin: &[u8]) -> Result<(), CniError> {
    let c = conf(stdin)?;
    daemon::ping(&c.control_socket())
        .map_err(|e| CniError::new(error::NOT_AVAILABLE, e.msg).with_details(e.details))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(command: &str) -> Env {
        Env {
            command: command.into(),
            container_id: "c1".into(),
            netns: "/run/netns/none".into(),
            ifname: "eth0".into(),
            path: "/nonexistent".into(),
        }
    }

    const CONF: &str = r#"{"cniVersion":"1.0.0","name":"w","type":"vwifi-cni","ssid":"lab",
        "socket":"/nonexistent/host.sock"}"#;

    #[test]
    fn version_lists_what_the_plugin_speaks() {
        let v: serde_json::Value =
            serde_json::from_str(&run(&env("VERSION"), br#"{"cniVersion":"1.1.0"}"#).unwrap())
                .unwrap();
        assert_eq!(v["cniVersion"], "1.1.0");
        assert_eq!(v["supportedVersions"][0], "1.0.0");
    }

    #[test]
    fn bad_environments_and_versions_have_their_codes() {
        assert_eq!(run(&env(""), b"{}").unwrap_err().code, error::INVALID_ENV);
        assert_eq!(
            run(&env("FOO"), b"{}").unwrap_err().code,
            error::INVALID_ENV
        );
        let old = CONF.replace("1.0.0", "0.2.0");
        assert_eq!(
            run(&env("ADD"), old.as_bytes()).unwrap_err().code,
            error::INCOMPATIBLE_VERSION
        );
        assert_eq!(run(&env("ADD"), b"nope").unwrap_err().code, error::DECODE);
        let mut no_netns = env("ADD");
        no_netns.netns.clear();
        assert_eq!(
            run(&no_netns, CONF.as_bytes()).unwrap_err().code,
            error::INVALID_ENV
        );
    }

    #[test]
    fn without_a_daemon_add_says_so_del_succeeds_and_status_is_unavailable() {
        let e = run(&env("ADD"), CONF.as_bytes()).unwrap_err();
        assert_eq!(e.code, error::TRY_AGAIN_LATER);
        assert!(e.msg.contains("not running"), "{e}");
        assert_eq!(run(&env("DEL"), CONF.as_bytes()).unwrap(), "");
        let e = run(&env("STATUS"), CONF.as_bytes()).unwrap_err();
        assert_eq!(e.code, error::NOT_AVAILABLE);
    }
}
