//! The CNI result (spec 1.0.0 "Success"): the interfaces, the IP configuration an IPAM plugin
//! gave, routes and DNS; and the `ADDRESS/PREFIX` notation its addresses use.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An ADD's result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CniResult {
    /// The version of the result's layout.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The interfaces created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// The addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// The routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS, as the IPAM plugin gave it.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub dns: serde_json::Value,
}

/// An interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its MAC address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// The namespace it is in (`CNI_NETNS`); empty on the host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
}

/// An address on an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `ADDRESS/PREFIX`.
    pub address: String,
    /// The gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The index of its interface in `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// `NETWORK/PREFIX`.
    pub dst: String,
    /// The next hop; absent: the gateway of the interface's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
}

/// Parses `ADDRESS/PREFIX` (the prefix within the address's length).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_within_their_length() {
        assert_eq!(
            parse_cidr("10.1.0.5/24"),
            Some(("10.1.0.5".parse().unwrap(), 24))
        );
        assert_eq!(parse_cidr("fd00::1/64").map(|c| c.1), Some(64));
        for bad in ["10.1.0.5", "10.1.0.5/33", "x/1", "fd00::1/129", "/24"] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_ipam_result_reads_and_our_result_writes_the_spec_keys() {
        let ipam = r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"}],
            "routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.1.0.1"]}}"#;
        let mut r: CniResult = serde_json::from_str(ipam).unwrap();
        r.interfaces.push(Interface {
            name: "wlan0".into(),
            mac: "02:00:00:00:00:01".into(),
            sandbox: "/run/netns/x".into(),
        });
        r.ips[0].interface = Some(0);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["interfaces"][0]["sandbox"], "/run/netns/x");
        assert_eq!(v["ips"][0]["interface"], 0);
        assert_eq!(v["routes"][0]["dst"], "0.0.0.0/0");
        assert!(v["routes"][0].get("gw").is_none());
        assert_eq!(v["dns"]["nameservers"][0], "10.1.0.1");
    }
}
