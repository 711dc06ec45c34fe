//! The veth pair of a namespace guest on the kernel data path ([`super`]): the inner end
//! is the container's interface (the station's MAC, dormant until associated), the outer end
//! ([`outer_name`], address [`HOST_MAC`]) stays in the daemon's namespace for the filters
//! ([`vwifi_netlink::tc`]). Created straight into the namespace (`RTM_NEWLINK` veth with the peer's
//! `IFLA_NET_NS_FD`), or found again after a restart (by name, a veth with the station's MAC).

use std::fs::File;
use std::io;

use vwifi_core::MacAddr;

use crate::ports::ethernet::HOST_MAC;
use crate::ports::netns::{check_ifname, check_netns_name, NamespaceId, NetnsError, NETNS_DIR};
use vwifi_netlink::{tc, Link, Rtnl};

/// Why the kernel data path of a namespace could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PortError {
    /// The namespace or interface name, or the namespace itself.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// An interface of that name that is not this station's veth exists in the namespace.
    #[error("an interface {ifname:?} already exists in the network namespace {netns:?}")]
    IfnameTaken {
        /// The interface name.
        ifname: String,
        /// The namespace.
        netns: String,
    },
    /// A route-netlink request failed.
    #[error("cannot {what} (route netlink)")]
    Route {
        /// What was asked.
        what: &'static str,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The packet socket for in-band control could not be opened.
    #[error("cannot open the control socket on {ifname}")]
    Socket {
        /// The outer end.
        ifname: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn route_err(what: &'static str) -> impl FnOnce(io::Error) -> PortError {
    move |source| PortError::Route { what, source }
}

/// The name of the outer end of a station's veth: `vp` and the station's address in hex (at
/// most 15 bytes, stable across restarts, never taken for a station interface `vwN`).
pub(crate) fn outer_name(mac: MacAddr) -> String {
    let mut name = String::from("vp");
    for b in mac.0 {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

/// The veth pair of one namespace, created or found again.
pub(crate) struct Pair {
    /// The outer end's index (in the daemon's namespace).
    pub(crate) outer: u32,
    /// The inner end's index (in the container's).
    pub(crate) inner: u32,
    /// Which namespace.
    pub(crate) id: NamespaceId,
    /// A route-netlink socket of the container's namespace (link state, deletion).
    pub(crate) ns_route: Rtnl,
    /// A route-netlink socket of the daemon's namespace (the filters).
    pub(crate) route: Rtnl,
    /// Whether the pair was there already (left by a daemon that stopped).
    pub(crate) reopened: bool,
}

/// What to do with what is found under the interface's name in the namespace (`inner`) and
/// under the outer end's name here (`outer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// This station's pair, left by a daemon that stopped: take it.
    Reuse,
    /// Create the pair, deleting first the station's own interface of another kind (the
    /// persistent TAP of `data_path = "socket"`: it carries the station's address, derived
    /// from the namespace's name) and an outer end without its inner end.
    Create {
        replace_inner: Option<u32>,
        stale_outer: Option<u32>,
    },
    /// Another interface has the name: refuse.
    Taken,
}

fn plan(inner: Option<&Link>, outer: Option<&Link>, mac: MacAddr) -> Plan {
    let stale_outer = outer.map(|o| o.index);
    match inner {
        Some(i) if i.mac != Some(mac) => Plan::Taken,
        Some(i) if i.veth && outer.is_some() => Plan::Reuse,
        // A veth with the station's address whose other end is not ours: not ours either.
        Some(i) if i.veth => Plan::Taken,
        Some(i) => Plan::Create {
            replace_inner: Some(i.index),
            stale_outer,
        },
        None => Plan::Create {
            replace_inner: None,
            stale_outer,
        },
    }
}

/// Creates (or finds again) the veth pair of station `mac`: `ifname` in the namespace
/// `netns`, [`outer_name`] here, the outer end guarded (control passes, nothing else yet) and
/// up, the inner end up and dormant. Blocks: run it off the runtime.
pub(crate) fn create_pair(netns: &str, ifname: &str, mac: MacAddr) -> Result<Pair, PortError> {
    check_netns_name(netns)?;
    check_ifname(ifname)?;
    let path = format!("{NETNS_DIR}/{netns}");
    let file = File::open(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => NetnsError::NoNamespace {
            name: netns.to_owned(),
        },
        io::ErrorKind::PermissionDenied => NetnsError::NotPermitted {
            what: "open the namespace",
        },
        _ => NetnsError::Open {
            name: netns.to_owned(),
            source,
        },
    })?;
    let id = NamespaceId::of(netns).ok_or_else(|| NetnsError::NoNamespace {
        name: netns.to_owned(),
    })?;
    let outer_if = outer_name(mac);
    // The sockets are opened on a thread of our own: one here, then one after entering the
    // namespace (a socket stays in the namespace it was opened in).
    let (netns_owned, ifname_owned) = (netns.to_owned(), ifname.to_owned());
    let pair = std::thread::Builder::new()
        .name(format!("netns {netns}"))
        .spawn(move || in_namespace(&file, &netns_owned, &ifname_owned, &outer_if, mac, id))
        .map_err(|_| NetnsError::Thread)?
        .join()
        .map_err(|_| NetnsError::Thread)??;
    // The host's stack stays off the outer end (no IPv6 link-local address to announce).
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", outer_name(mac)),
        "1",
    );
    Ok(pair)
}

fn in_namespace(
    ns: &File,
    netns: &str,
    ifname: &str,
    outer_if: &str,
    mac: MacAddr,
    id: NamespaceId,
) -> Result<Pair, PortError> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    use std::os::fd::{AsFd as _, AsRawFd as _};
    let mut route = Rtnl::open().map_err(route_err("open a socket"))?;
    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).map_err(|e| {
        if e == rustix::io::Errno::PERM {
            NetnsError::NotPermitted {
                what: "enter a network namespace",
            }
        } else {
            NetnsError::Enter {
                name: netns.to_owned(),
                source: e.into(),
            }
        }
    })?;
    let mut ns_route = Rtnl::open().map_err(route_err("open a socket in the namespace"))?;
    let inner = ns_route
        .link(ifname)
        .map_err(route_err("look up the interface"))?;
    let outer = route
        .link(outer_if)
        .map_err(route_err("look up the outer end"))?;
    let reopened = match plan(inner.as_ref(), outer.as_ref(), mac) {
        Plan::Reuse => true,
        Plan::Taken => {
            return Err(PortError::IfnameTaken {
                ifname: ifname.to_owned(),
                netns: netns.to_owned(),
            })
        }
        Plan::Create {
            replace_inner,
            stale_outer,
        } => {
            if let Some(index) = replace_inner {
                tracing::info!(%netns, %ifname, "the station's TAP of the socket data path replaced by a veth");
                ns_route
                    .delete_link(index)
                    .map_err(route_err("delete the station's former TAP"))?;
            }
            if let Some(index) = stale_outer {
                route
                    .delete_link(index)
                    .map_err(route_err("delete a stale outer end"))?;
            }
            route
                .new_veth(outer_if, HOST_MAC, ifname, mac, ns.as_raw_fd())
                .map_err(route_err("create the veth pair"))?;
            false
        }
    };
    let outer = route
        .link(outer_if)
        .map_err(route_err("look up the outer end"))?
        .ok_or_else(|| PortError::Route {
            what: "find the outer end",
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
    let inner = ns_route
        .link(ifname)
        .map_err(route_err("look up the interface"))?
        .ok_or_else(|| PortError::Route {
            what: "find the interface in the namespace",
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
    tc::guard(&mut route, outer.index, mac).map_err(route_err(
        "filter the outer end (the kernel needs sch_ingress, cls_u32, act_gact and act_mirred; \
         or set [radio] data_path = \"socket\")",
    ))?;
    route
        .set_up(outer.index)
        .map_err(route_err("set the outer end up"))?;
    ns_route
        .set_up(inner.index)
        .map_err(route_err("set the interface up"))?;
    ns_route
        .set_operstate(inner.index, false)
        .map_err(route_err("mark the interface dormant"))?;
    Ok(Pair {
        outer: outer.index,
        inner: inner.index,
        id,
        ns_route,
        route,
        reopened,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outer_end_is_named_for_the_station_and_fits_linux() {
        let name = outer_name(MacAddr([0x02, 0xab, 0, 1, 0x10, 0xff]));
        assert_eq!(name, "vp02ab000110ff");
        assert!(check_ifname(&name).is_ok());
        assert!(!name.starts_with("vw"));
    }

    #[test]
    fn a_found_interface_is_reused_replaced_or_refused() {
        let mac = MacAddr([2, 0, 0, 0, 0, 7]);
        let link = |index, mac, veth| Link {
            index,
            mac: Some(mac),
            veth,
        };
        let ours = link(3, mac, true);
        let outer = link(9, HOST_MAC, true);
        assert_eq!(plan(Some(&ours), Some(&outer), mac), Plan::Reuse);
        assert_eq!(
            plan(None, None, mac),
            Plan::Create {
                replace_inner: None,
                stale_outer: None
            }
        );
        assert_eq!(
            plan(None, Some(&outer), mac),
            Plan::Create {
                replace_inner: None,
                stale_outer: Some(9)
            }
        );
        // The station's TAP of the socket path goes; a veth without its outer end, or any
        // interface with another address, is not ours.
        assert_eq!(
            plan(Some(&link(4, mac, false)), None, mac),
            Plan::Create {
                replace_inner: Some(4),
                stale_outer: None
            }
        );
        assert_eq!(plan(Some(&ours), None, mac), Plan::Taken);
        let other = MacAddr([2, 0, 0, 0, 0, 8]);
        assert_eq!(plan(Some(&link(4, other, false)), None, mac), Plan::Taken);
        assert_eq!(
            plan(Some(&link(4, other, true)), Some(&outer), mac),
            Plan::Taken
        );
    }

    fn ip(args: &[&str]) -> String {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The route-netlink requests the kernel path makes, on a real kernel: a veth pair created
    /// straight into a namespace, found by name with its kind and address, set up and dormant,
    /// deleted with its peer. (The filters need act_gact, which not every test host has; the
    /// VM harness's `nl80211-radio` check runs them.)
    #[test]
    #[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
    fn a_veth_pair_is_created_into_a_namespace_found_by_name_and_deleted() {
        use std::os::fd::AsRawFd as _;
        let ns = format!("vwifi-veth-test-{}", std::process::id());
        let _ = ip(&["netns", "add", &ns]);
        let file = File::open(format!("{NETNS_DIR}/{ns}")).expect("the namespace");
        let station = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
        let outer = outer_name(station);
        let mut route = Rtnl::open().expect("route socket");
        route
            .new_veth(&outer, HOST_MAC, "wlan0", station, file.as_raw_fd())
            .expect("veth pair");
        let link = route.link(&outer).expect("lookup").expect("the outer end");
        assert!(link.veth);
        assert_eq!(link.mac, Some(HOST_MAC));
        route.set_up(link.index).expect("up");
        let inner = ip(&["-n", &ns, "-d", "link", "show", "wlan0"]);
        assert!(inner.contains("veth"), "{inner}");
        assert!(inner.contains(&station.to_string()), "{inner}");
        // Mode dormant, state dormant: set from a socket of the namespace.
        let index = std::thread::spawn({
            let file = file.try_clone().expect("dup");
            move || {
                use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
                use std::os::fd::AsFd as _;
                move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                    .expect("setns");
                let mut r = Rtnl::open().expect("route socket in the namespace");
                let l = r.link("wlan0").expect("lookup").expect("the inner end");
                r.set_up(l.index).expect("up");
                r.set_operstate(l.index, false).expect("dormant");
                l.index
            }
        })
        .join()
        .expect("thread");
        assert!(index > 0);
        let inner = ip(&["-n", &ns, "link", "show", "wlan0"]);
        assert!(inner.contains("mode DORMANT"), "{inner}");
        assert!(route.link("no-such-link0").expect("lookup").is_none());
        route.delete_link(link.index).expect("delete");
        assert!(route.link(&outer).expect("lookup").is_none());
        assert!(!ip(&["-n", &ns, "link"]).contains("wlan0"));
        let _ = ip(&["netns", "del", &ns]);
    }
}
