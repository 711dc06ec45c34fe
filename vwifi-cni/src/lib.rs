//! `vwifi-cni`: a CNI plugin (container network interface, spec 1.0.0 and 1.1.0) that gives a
//! container a vwifi station: the interface is created in the container's namespace by the
//! vwifi daemon (`vwifi-host run`), joined to a Wi-Fi network, and given the addresses of a
//! chained IPAM plugin (`host-local`, `dhcp`, `static`).
//!
//! - [`config`]: the network configuration (`ssid`, `passphrase` or `psk_file`, `ifname`,
//!   `bssid`, `socket`, `ipam`);
//! - [`plugin`]: the commands (ADD, DEL, CHECK, VERSION, STATUS, GC);
//! - [`daemon`]: the daemon's control socket;
//! - [`ipam`]: the delegated IPAM plugin;
//! - [`netcfg`]: addresses and routes inside the namespace;
//! - [`result`], [`error`]: what the runtime reads on stdout.

#![forbid(unsafe_code)]

pub mod config;
pub mod daemon;
pub mod error;
pub mod ipam;
pub mod netcfg;
pub mod plugin;
pub mod result;

/// The fuzz entry point: a network configuration and a CNI result from untrusted bytes must
/// parse or fail, never panic (`fuzz/fuzz_targets/cni_config.rs`, replayed by
/// `tests/fuzz_corpus.rs`).
pub fn fuzz_config(data: &[u8]) {
    if let Ok(c) = config::NetConf::parse(data) {
        let _ = c.control_socket();
    }
    if let Ok(r) = serde_json::from_slice::<result::CniResult>(data) {
        for ip in &r.ips {
            let _ = result::parse_cidr(&ip.address);
        }
    }
    let _ = plugin::run(
        &plugin::Env {
            command: "VERSION".into(),
            ..plugin::Env::default()
        },
        data,
    );
}
