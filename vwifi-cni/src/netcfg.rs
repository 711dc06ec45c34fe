//! Puts the IPAM plugin's addresses and routes on the interface inside the container's
//! namespace: on a thread of its own that enters the namespace (`setns` moves only the calling
//! thread), over route netlink ([`vwifi_netlink::Rtnl`]).

use std::fs::File;
use std::io;
use std::net::IpAddr;

use crate::error::{self, CniError};
use crate::result::{parse_cidr, CniResult};

/// An address or route the interface gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Address(IpAddr, u8),
    Route(IpAddr, u8, Option<IpAddr>),
}

/// What `result` asks for, in order: every address, then every route (a route without `gw`
/// goes through the gateway of the first address of its IP version, else on the link).
fn steps(result: &CniResult) -> Result<Vec<Step>, CniError> {
    let bad = |what: &str, v: &str| {
        CniError::new(
            error::DECODE,
            format!("the IPAM result has a bad {what} {v:?}"),
        )
    };
    let mut steps = Vec::new();
    let mut gateways: Vec<IpAddr> = Vec::new();
    for ip in &result.ips {
        let (addr, prefix) = parse_cidr(&ip.address).ok_or_else(|| bad("address", &ip.address))?;
        steps.push(Step::Address(addr, prefix));
        if let Some(g) = &ip.gateway {
            gateways.push(g.parse().map_err(|_| bad("gateway", g))?);
        }
    }
    for r in &result.routes {
        let (dst, prefix) = parse_cidr(&r.dst).ok_or_else(|| bad("route", &r.dst))?;
        let gw = match &r.gw {
            Some(g) => Some(g.parse::<IpAddr>().map_err(|_| bad("route gateway", g))?),
            None => gateways
                .iter()
                .copied()
                .find(|g| g.is_ipv4() == dst.is_ipv4()),
        };
        steps.push(Step::Route(dst, prefix, gw));
    }
    Ok(steps)
}

/// Configures `ifname` in the namespace at `netns` with `result`'s addresses and routes (one
/// already there is kept: an ADD may be retried).
pub fn configure(netns: &str, ifname: &str, result: &CniResult) -> Result<(), CniError> {
    let steps = steps(result)?;
    if steps.is_empty() {
        return Ok(());
    }
    let fail = |what: String, e: io::Error| {
        CniError::new(error::IO_FAILURE, what).with_details(e.to_string())
    };
    let ns =
        File::open(netns).map_err(|e| fail(format!("cannot open the namespace {netns}"), e))?;
    let (netns, ifname) = (netns.to_owned(), ifname.to_owned());
    std::thread::spawn(move || -> Result<(), CniError> {
        use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
        use std::os::fd::AsFd as _;
        move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
            .map_err(|e| fail(format!("cannot enter the namespace {netns}"), e.into()))?;
        let probe = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::DGRAM,
            None,
        )
        .map_err(|e| fail("cannot open a socket in the namespace".into(), e.into()))?;
        let index = rustix::net::netdevice::name_to_index(&probe, &ifname)
            .map_err(|e| fail(format!("no interface {ifname} in {netns}"), e.into()))?;
        let mut rtnl = vwifi_netlink::Rtnl::open()
            .map_err(|e| fail("cannot open route netlink in the namespace".into(), e))?;
        for step in steps {
            let done = match step {
                Step::Address(ip, prefix) => rtnl.add_address(index, ip, prefix),
                Step::Route(dst, prefix, gw) => rtnl.add_route(index, dst, prefix, gw),
            };
            match done {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fail(format!("cannot configure {ifname}: {step:?}"), e)),
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| CniError::new(error::IO_FAILURE, "the namespace thread failed"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_without_a_gateway_take_the_addresses_gateway_of_their_version() {
        let r: CniResult = serde_json::from_str(
            r#"{"cniVersion":"1.0.0",
            "ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"address":"fd00::5/64"}],
            "routes":[{"dst":"0.0.0.0/0"},{"dst":"fd01::/64"},{"dst":"10.2.0.0/16","gw":"10.1.0.9"}]}"#,
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            steps(&r).unwrap(),
            [
                Step::Address(ip("10.1.0.5"), 24),
                Step::Address(ip("fd00::5"), 64),
                Step::Route(ip("0.0.0.0"), 0, Some(ip("10.1.0.1"))),
                Step::Route(ip("fd01::"), 64, None),
                Step::Route(ip("10.2.0.0"), 16, Some(ip("10.1.0.9"))),
            ]
        );
        let bad: CniResult =
            serde_json::from_str(r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5"}]}"#)
                .unwrap();
        assert_eq!(steps(&bad).unwrap_err().code, error::DECODE);
    }
}
