//! Route-netlink link requests shared by the vwifi host and guest: set a link's operational
//! state or carrier, delete a link. One [`Rtnl`] socket acts on the interfaces of the network
//! namespace it was opened in, from any thread; every request waits for the kernel's
//! acknowledgement.
//!
//! - [`Rtnl::set_operstate`]: link mode `dormant`, operational state `up` or `dormant`
//!   (RFC 2863, the way wpa_supplicant marks a Wi-Fi link waiting for its association; the
//!   carrier stays on). The host uses it for a container's TAP, the guest agent with `--link`.
//! - [`Rtnl::set_carrier`]: `IFLA_CARRIER` on a TAP (Linux 4.20 and later).
//! - [`Rtnl::delete_link`] deletes a link (`RTM_DELLINK`).
//! - [`Rtnl::add_address`] and [`Rtnl::add_route`]: an IP address on a link and a route through
//!   it (`RTM_NEWADDR`, `RTM_NEWROUTE`), as the CNI plugin configures what its IPAM plugin gave.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkMode, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;

/// A route-netlink socket opened in one network namespace.
pub struct Rtnl {
    socket: netlink_sys::Socket,
    seq: u32,
}

impl core::fmt::Debug for Rtnl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Rtnl")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Rtnl {
    /// Opens a route-netlink socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Puts interface `index` in link mode "dormant" and its operational state to `up`, or
    /// back to `dormant` (RTM_SETLINK with IFLA_LINKMODE and IFLA_OPERSTATE, RFC 2863): the way
    /// Linux marks a link whose carrier is up but which waits for an external event — a Wi-Fi
    /// association, as wpa_supplicant marks it. The carrier stays on.
    pub fn set_operstate(&mut self, index: u32, up: bool) -> io::Result<()> {
        let state = if up { State::Up } else { State::Dormant };
        self.set_link(
            index,
            vec![
                LinkAttribute::Mode(LinkMode::Dormant),
                LinkAttribute::OperState(state),
            ],
        )
    }

    /// Switches the carrier of interface `index` on or off (RTM_SETLINK with IFLA_CARRIER).
    pub fn set_carrier(&mut self, index: u32, on: bool) -> io::Result<()> {
        self.set_link(index, vec![LinkAttribute::Carrier(u8::from(on))])
    }

    /// Deletes interface `index` (RTM_DELLINK).
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(link), 0)
    }

    /// Adds the address `ip/prefix_len` to interface `index` (RTM_NEWADDR; an address there
    /// already is the kernel's `EEXIST`).
    pub fn add_address(&mut self, index: u32, ip: IpAddr, prefix_len: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = family(ip);
        msg.header.prefix_len = prefix_len;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(ip));
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds a route to `destination/prefix_len` out of interface `index`, through `gateway` if
    /// given (else on the link) (RTM_NEWROUTE in the main table).
    pub fn add_route(
        &mut self,
        index: u32,
        destination: IpAddr,
        prefix_len: u8,
        gateway: Option<IpAddr>,
    ) -> io::Result<()> {
        if gateway.is_some_and(|g| family(g) != family(destination)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the gateway and the destination are of different IP versions",
            ));
        }
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(destination);
        msg.header.destination_prefix_length = prefix_len;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.kind = RouteType::Unicast;
        msg.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if prefix_len > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(route_address(destination)));
        }
        if let Some(g) = gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(route_address(g)));
        }
        msg.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Sends one `RTM_SETLINK` for interface `index` with `attributes`.
    fn set_link(&mut self, index: u32, attributes: Vec<LinkAttribute>) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes = attributes;
        self.request(RouteNetlinkMessage::SetLink(link), 0)
    }

    /// Sends one request (with `flags` besides REQUEST and ACK) and waits for its
    /// acknowledgement.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut rx: Vec<u8> = Vec::with_capacity(8192);
        loop {
            rx.clear();
            let n = self.socket.recv(&mut rx, 0)?;
            let reply = rx
                .get(..n)
                .ok_or_else(|| io::Error::other("netlink reply longer than the buffer"))
                .and_then(|bytes| {
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                        .map_err(io::Error::other)
                })?;
            if reply.header.sequence_number != self.seq {
                continue;
            }
            if let NetlinkPayload::Error(e) = reply.payload {
                return match e.code {
                    None => Ok(()),
                    Some(_) => Err(e.to_io()),
                };
            }
        }
    }
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_for_a_missing_interface_is_the_kernels_error() {
        // Opening needs no privilege; the kernel refuses an interface index that does not
        // exist (ENODEV) or the request itself without CAP_NET_ADMIN (EPERM): an error either
        // way, and the socket still answers afterwards.
        let mut rtnl = Rtnl::open().unwrap();
        let missing = u32::MAX - 7;
        assert!(rtnl.set_operstate(missing, true).is_err());
        assert!(rtnl.set_carrier(missing, false).is_err());
        assert!(rtnl.delete_link(missing).is_err());
        let ip: IpAddr = "10.9.9.9".parse().unwrap();
        assert!(rtnl.add_address(missing, ip, 24).is_err());
        assert!(rtnl.add_route(missing, ip, 24, None).is_err());
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let mixed = rtnl.add_route(missing, ip, 0, Some(v6)).unwrap_err();
        assert_eq!(mixed.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(rtnl.seq, 5);
    }
}
