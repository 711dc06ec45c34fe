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

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkMode, State};
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
        self.request(RouteNetlinkMessage::DelLink(link))
    }

    /// Sends one `RTM_SETLINK` for interface `index` with `attributes`.
    fn set_link(&mut self, index: u32, attributes: Vec<LinkAttribute>) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes = attributes;
        self.request(RouteNetlinkMessage::SetLink(link))
    }

    /// Sends one request and waits for its acknowledgement.
    fn request(&mut self, msg: RouteNetlinkMessage) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
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
        assert_eq!(rtnl.seq, 3);
    }
}
