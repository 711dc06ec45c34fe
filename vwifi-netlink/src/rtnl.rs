//! The route-netlink socket ([`Rtnl`]): link requests (look a link up by name, create a veth
//! pair, set a link up or all-multicast, its operational state or carrier, delete it), an
//! address and a route on a link (`RTM_NEWADDR`, `RTM_NEWROUTE`: what a CNI plugin's IPAM
//! result asks for), and the one request/answer helper the traffic-control requests of
//! [`crate::tc`] go through too.
//!
//! Messages are built and parsed by `netlink-packet-route`; this module only sends a request
//! and collects its answer (the kernel's acknowledgement, or the messages of a `GET`).

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, LinkMode, State,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use vwifi_core::MacAddr;

/// Largest answer read at once (a link message with its statistics is about 1.5 KiB).
const RECV_BUFFER: usize = 32 * 1024;
/// `ENODEV`: the kernel's answer to a link name it does not know.
const ENODEV: i32 = 19;

/// A link as `RTM_GETLINK` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its index in the socket's namespace.
    pub index: u32,
    /// Its hardware address.
    pub mac: Option<MacAddr>,
    /// Whether it is a veth.
    pub veth: bool,
}

/// A route-netlink socket opened in one network namespace (the one current when it was
/// opened); it acts on that namespace's links from any thread, and every request waits for the
/// kernel's answer.
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

    /// The link named `name`, if there is one.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(describe(&l)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the veth pair `outer` (here, with address `outer_mac`) and `inner` (with
    /// address `inner_mac`, in the namespace of the open file `netns`).
    pub fn new_veth(
        &mut self,
        outer: &str,
        outer_mac: MacAddr,
        inner: &str,
        inner_mac: MacAddr,
        netns: std::os::fd::RawFd,
    ) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes.extend([
            LinkAttribute::IfName(inner.to_owned()),
            LinkAttribute::Address(inner_mac.0.to_vec()),
            LinkAttribute::NetNsFd(netns),
        ]);
        let mut link = LinkMessage::default();
        link.attributes.extend([
            LinkAttribute::IfName(outer.to_owned()),
            LinkAttribute::Address(outer_mac.0.to_vec()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]),
        ]);
        self.request(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Sets link `index` up (`IFF_UP`).
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.set_flag(index, LinkFlags::Up)
    }

    /// Sets link `index` to receive every multicast group (`IFF_ALLMULTI`): a station
    /// interface whose guest's stack is behind a veth has joined none of the guest's groups
    /// (IPv6 neighbour discovery), and a real card filters multicast by what its interfaces
    /// joined.
    pub fn set_allmulti(&mut self, index: u32) -> io::Result<()> {
        self.set_flag(index, LinkFlags::Allmulti)
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

    /// Switches the carrier of interface `index` on or off (RTM_SETLINK with IFLA_CARRIER,
    /// Linux 4.20 and later for a TAP).
    pub fn set_carrier(&mut self, index: u32, on: bool) -> io::Result<()> {
        self.set_link(index, vec![LinkAttribute::Carrier(u8::from(on))])
    }

    /// Deletes interface `index` (RTM_DELLINK; a veth takes its peer with it).
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(link), 0)
            .map(drop)
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
        .map(drop)
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
        .map(drop)
    }

    /// Sets `flag` on link `index` (RTM_SETLINK with that flag in the change mask).
    fn set_flag(&mut self, index: u32, flag: LinkFlags) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = flag;
        link.header.change_mask = flag;
        self.request(RouteNetlinkMessage::SetLink(link), 0)
            .map(drop)
    }

    /// Sends one `RTM_SETLINK` for interface `index` with `attributes`.
    fn set_link(&mut self, index: u32, attributes: Vec<LinkAttribute>) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes = attributes;
        self.request(RouteNetlinkMessage::SetLink(link), 0)
            .map(drop)
    }

    /// Sends one request (`flags` besides `REQUEST | ACK`) and collects the kernel's answer:
    /// the messages before its acknowledgement, or the error it acknowledged with.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut answer = Vec::new();
        let mut rx: Vec<u8> = Vec::with_capacity(RECV_BUFFER);
        loop {
            rx.clear();
            let n = self.socket.recv(&mut rx, 0)?;
            let mut bytes = rx.get(..n).unwrap_or_default();
            while !bytes.is_empty() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = usize::try_from(reply.header.length).unwrap_or(usize::MAX);
                // Messages are 4-byte aligned in a datagram.
                let step = len.saturating_add(3) & !3;
                bytes = bytes.get(step.max(1)..).unwrap_or_default();
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answer),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(answer),
                    NetlinkPayload::InnerMessage(m) => answer.push(m),
                    _ => {}
                }
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

/// What the daemon needs to know of a link.
fn describe(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        mac: None,
        veth: false,
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::Address(bytes) => link.mac = MacAddr::from_slice(bytes),
            LinkAttribute::LinkInfo(infos) => {
                link.veth = infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
            }
            _ => {}
        }
    }
    link
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
        assert!(rtnl.set_up(missing).is_err());
        let ip: IpAddr = "10.9.9.9".parse().unwrap();
        assert!(rtnl.add_address(missing, ip, 24).is_err());
        assert!(rtnl.add_route(missing, ip, 24, None).is_err());
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let mixed = rtnl.add_route(missing, ip, 0, Some(v6)).unwrap_err();
        assert_eq!(mixed.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(rtnl.seq, 6);
        // A lookup by a name no link has is an answer, not an error (any user may ask).
        assert_eq!(rtnl.link("vwifi-none0").unwrap(), None);
    }

    #[test]
    fn a_link_is_described_by_its_index_address_and_kind() {
        let mut l = LinkMessage::default();
        l.header.index = 7;
        l.attributes.extend([
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
        ]);
        assert_eq!(
            describe(&l),
            Link {
                index: 7,
                mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
                veth: true
            }
        );
        l.attributes.truncate(1);
        assert!(!describe(&l).veth);
    }
}
