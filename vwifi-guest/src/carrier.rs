//! The carrier of the agent's TAP, following the association: on while the station is
//! associated, off otherwise (the kernel then drops what the guest sends, as on a Wi-Fi
//! interface without association). Set with route netlink (`RTM_SETLINK` with `IFLA_CARRIER`;
//! a TAP takes it since Linux 4.20).
//!
//! The agent's control travels over its socket, not over the TAP, so the carrier can really be
//! off. (A container's TAP served in-band by the host cannot: there the host marks the link
//! `dormant` instead.)

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;

/// A route-netlink socket and the TAP's interface index.
pub struct Carrier {
    socket: netlink_sys::Socket,
    index: u32,
    seq: u32,
    /// What was last set, to skip repeats: the carrier ([`Carrier::set`]) or the operational
    /// state up ([`Carrier::set_operstate`]); a `Carrier` is used for one of the two.
    on: Option<bool>,
}

impl core::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Carrier")
            .field("index", &self.index)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl Carrier {
    /// The carrier (or operational state) of interface `index`, in this process's network
    /// namespace.
    pub fn open(index: u32) -> io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        Ok(Self {
            socket,
            index,
            seq: 0,
            on: None,
        })
    }

    /// Switches the carrier on or off (nothing if it is so already); waits for the kernel's
    /// acknowledgement.
    pub fn set(&mut self, on: bool) -> io::Result<()> {
        if self.on == Some(on) {
            return Ok(());
        }
        let result = self.set_link(vec![LinkAttribute::Carrier(u8::from(on))]);
        self.on = result.as_ref().ok().map(|()| on);
        result
    }

    /// Marks the interface `dormant` (not usable yet: the station is not associated) or `up`
    /// (RFC 2863 operational state, with the link mode that lets userspace set it, as
    /// wpa_supplicant does for a Wi-Fi interface), keeping its carrier: in-band control still
    /// gets through while it is dormant. Nothing if it is so already.
    pub fn set_operstate(&mut self, up: bool) -> io::Result<()> {
        use netlink_packet_route::link::{LinkMode, State};
        if self.on == Some(up) {
            return Ok(());
        }
        let state = if up { State::Up } else { State::Dormant };
        let result = self.set_link(vec![
            LinkAttribute::Mode(LinkMode::Dormant),
            LinkAttribute::OperState(state),
        ]);
        self.on = result.as_ref().ok().map(|()| up);
        result
    }

    /// Sends one `RTM_SETLINK` with `attributes` and waits for the kernel's acknowledgement.
    fn set_link(&mut self, attributes: Vec<LinkAttribute>) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = self.index;
        link.attributes = attributes;
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(
            header,
            NetlinkPayload::from(RouteNetlinkMessage::SetLink(link)),
        );
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
