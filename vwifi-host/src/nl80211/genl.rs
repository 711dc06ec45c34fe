//! nl80211 over a generic-netlink socket: `neli`'s socket and message types, `neli-wifi`'s
//! command and attribute enums, and a small panic-free reader for nested attributes.
//!
//! A [`Genl`] is one tokio netlink socket. Requests go out with [`Genl::send`] (each with its
//! own sequence number); everything the kernel sends back — replies, acknowledgements, errors
//! and the multicast events the socket subscribed to — comes out of [`Genl::recv`] as owned
//! [`Reply`]s. [`Genl::request`] sends and waits for the answer to that request, keeping
//! whatever else arrived meanwhile for the next [`Genl::recv`].

use std::collections::VecDeque;
use std::io;

use neli::consts::nl::{NlmF, NlmFFlags};
use neli::consts::socket::NlFamily;
use neli::err::{DeError, WrappedError};
use neli::genl::{Genlmsghdr, Nlattr};
use neli::nl::{NlPayload, Nlmsghdr};
use neli::socket::{self, NlSocketHandle};
use neli::types::GenlBuffer;
use neli_wifi::{Nl80211Attr, Nl80211Cmd};

use super::Nl80211Error;

/// The generic-netlink header and attributes of an nl80211 message.
pub(crate) type GenlMsg = Genlmsghdr<Nl80211Cmd, Nl80211Attr>;

/// The netlink attribute type bits (without the nested and byte-order flags).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The nl80211 family and the multicast groups vwifi listens to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family {
    /// The generic-netlink family id of nl80211.
    pub(crate) id: u16,
    /// The `mlme` multicast group (connect, disconnect, deauthentication).
    pub(crate) mlme: u32,
    /// The `scan` multicast group (scan results, scan aborted).
    pub(crate) scan: u32,
    /// The `config` multicast group (interfaces created and deleted).
    pub(crate) config: u32,
}

impl Family {
    /// Asks the kernel for the nl80211 family and its groups.
    pub(crate) fn resolve() -> Result<Self, Nl80211Error> {
        let mut sock =
            NlSocketHandle::connect(NlFamily::Generic, None, &[]).map_err(Nl80211Error::Socket)?;
        let id = sock
            .resolve_genl_family("nl80211")
            .map_err(|e| Nl80211Error::Family(e.to_string()))?;
        let mlme = sock
            .resolve_nl_mcast_group("nl80211", "mlme")
            .map_err(|e| Nl80211Error::Family(e.to_string()))?;
        let scan = sock
            .resolve_nl_mcast_group("nl80211", "scan")
            .map_err(|e| Nl80211Error::Family(e.to_string()))?;
        let config = sock
            .resolve_nl_mcast_group("nl80211", "config")
            .map_err(|e| Nl80211Error::Family(e.to_string()))?;
        Ok(Self {
            id,
            mlme,
            scan,
            config,
        })
    }
}

/// One message from the kernel, owned.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A reply to a request (`seq` its sequence number) or an event (`seq` 0).
    Msg {
        /// The sequence number.
        seq: u32,
        /// The message.
        msg: GenlMsg,
    },
    /// The end of a dump.
    Done {
        /// The sequence number of the dump request.
        seq: u32,
    },
    /// A request succeeded.
    Ack {
        /// Its sequence number.
        seq: u32,
    },
    /// A request failed with this errno.
    Err {
        /// Its sequence number.
        seq: u32,
        /// The (positive) errno.
        errno: i32,
    },
}

impl Reply {
    /// The sequence number.
    pub(crate) fn seq(&self) -> u32 {
        match self {
            Self::Msg { seq, .. }
            | Self::Done { seq }
            | Self::Ack { seq }
            | Self::Err { seq, .. } => *seq,
        }
    }
}

/// An attribute to send: its type and its payload bytes (zeroized when dropped: some carry
/// keys).
#[derive(Clone)]
pub(crate) struct Attr {
    ty: u16,
    nested: bool,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the payload: it may be a key.
        f.debug_struct("Attr")
            .field("ty", &self.ty)
            .field("len", &self.payload.len())
            .finish()
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.payload);
    }
}

impl Attr {
    /// An attribute with these payload bytes.
    pub(crate) fn bytes(ty: u16, payload: &[u8]) -> Self {
        Self {
            ty,
            nested: false,
            payload: payload.to_vec(),
        }
    }

    /// A `u32` attribute.
    pub(crate) fn u32(ty: u16, v: u32) -> Self {
        Self::bytes(ty, &v.to_ne_bytes())
    }

    /// A `u16` attribute.
    pub(crate) fn u16(ty: u16, v: u16) -> Self {
        Self::bytes(ty, &v.to_ne_bytes())
    }

    /// A flag attribute (no payload).
    pub(crate) fn flag(ty: u16) -> Self {
        Self::bytes(ty, &[])
    }

    /// A NUL-terminated string attribute.
    pub(crate) fn string(ty: u16, s: &str) -> Self {
        let mut payload = s.as_bytes().to_vec();
        payload.push(0);
        Self {
            ty,
            nested: false,
            payload,
        }
    }

    /// A nested attribute holding `inner`.
    pub(crate) fn nested(ty: u16, inner: &[Attr]) -> Self {
        let mut payload = Vec::new();
        for a in inner {
            a.emit(&mut payload);
        }
        Self {
            ty,
            nested: true,
            payload,
        }
    }

    /// Writes the attribute as netlink TLV (header, payload, padding to 4 bytes).
    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        let len = u16::try_from(4 + self.payload.len()).unwrap_or(u16::MAX);
        let ty = if self.nested {
            self.ty | 0x8000
        } else {
            self.ty
        };
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&self.payload);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
}

/// The attributes of a received message, copied out of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopAttrs(Vec<(u16, Vec<u8>)>);

impl TopAttrs {
    /// `(type, payload)` pairs, the type without flags.
    pub(crate) fn view(&self) -> Vec<(u16, &[u8])> {
        self.0.iter().map(|(t, p)| (*t, p.as_slice())).collect()
    }
}

/// The attributes of a received message.
pub(crate) fn top_attrs(msg: &GenlMsg) -> TopAttrs {
    TopAttrs(
        msg.get_attr_handle()
            .iter()
            .map(|a| {
                (
                    u16::from(a.nla_type.nla_type) & NLA_TYPE_MASK,
                    a.nla_payload.as_ref().to_vec(),
                )
            })
            .collect(),
    )
}

/// The attributes nested in `buf`. Stops at the first truncated one; never panics.
pub(crate) fn nested(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = buf;
    while let (Some(len), Some(ty)) = (rest.get(0..2), rest.get(2..4)) {
        let len = usize::from(u16::from_ne_bytes([len[0], len[1]]));
        let ty = u16::from_ne_bytes([ty[0], ty[1]]) & NLA_TYPE_MASK;
        let Some(payload) = rest.get(4..len) else {
            break;
        };
        out.push((ty, payload));
        let next = (len + 3) & !3;
        rest = rest.get(next..).unwrap_or(&[]);
    }
    out
}

/// The payload of the first attribute of type `ty`.
pub(crate) fn find<'a>(attrs: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(t, _)| *t == ty).map(|(_, p)| *p)
}

/// A `u32` payload.
pub(crate) fn as_u32(p: &[u8]) -> Option<u32> {
    p.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
}

/// A `u16` payload.
pub(crate) fn as_u16(p: &[u8]) -> Option<u16> {
    p.get(..2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_ne_bytes)
}

/// A NUL-terminated (or not) string payload, lossy.
pub(crate) fn as_string(p: &[u8]) -> String {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(p.get(..end).unwrap_or(&[])).into_owned()
}

/// The command of a received message.
pub(crate) fn cmd(msg: &GenlMsg) -> u8 {
    u8::from(msg.cmd)
}

/// The interface index a message is about, if it says.
pub(crate) fn ifindex(msg: &GenlMsg) -> Option<u32> {
    find(&top_attrs(msg).view(), super::consts::ATTR_IFINDEX).and_then(as_u32)
}

/// One nl80211 socket. See the [module documentation](self).
pub(crate) struct Genl {
    sock: socket::tokio::NlSocket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
    backlog: VecDeque<Reply>,
}

impl std::fmt::Debug for Genl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Genl")
            .field("family", &self.family)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Genl {
    /// A socket for nl80211, subscribed to the multicast `groups` (ids). Needs a tokio runtime.
    pub(crate) fn open(family: &Family, groups: &[u32]) -> Result<Self, Nl80211Error> {
        let raw = socket::NlSocket::connect(NlFamily::Generic, None, &[])
            .map_err(Nl80211Error::Socket)?;
        if !groups.is_empty() {
            raw.add_mcast_membership(groups)
                .map_err(Nl80211Error::Socket)?;
        }
        let sock = socket::tokio::NlSocket::new(raw).map_err(Nl80211Error::Socket)?;
        Ok(Self {
            sock,
            family: family.id,
            seq: 0,
            buf: Vec::new(),
            backlog: VecDeque::new(),
        })
    }

    /// Sends `cmd` with `attrs` (as a dump if `dump`); returns its sequence number.
    pub(crate) async fn send(
        &mut self,
        cmd: u8,
        attrs: &[Attr],
        dump: bool,
    ) -> Result<u32, Nl80211Error> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let mut buffer = GenlBuffer::new();
        for a in attrs {
            let ty = Nl80211Attr::from(a.ty);
            let attr = Nlattr::new(a.nested, false, ty, a.payload.as_slice())
                .map_err(|e| Nl80211Error::Netlink(e.to_string()))?;
            buffer.push(attr);
        }
        let genl = Genlmsghdr::new(Nl80211Cmd::from(cmd), 1, buffer);
        let mut flags = vec![NlmF::Request, NlmF::Ack];
        if dump {
            flags.push(NlmF::Dump);
        }
        let msg = Nlmsghdr::new(
            None,
            self.family,
            NlmFFlags::new(&flags),
            Some(seq),
            None,
            NlPayload::Payload(genl),
        );
        self.sock
            .send(&msg)
            .await
            .map_err(|e| Nl80211Error::Netlink(e.to_string()))?;
        Ok(seq)
    }

    /// Reads one datagram from the socket.
    async fn read_socket(&mut self) -> Result<Vec<Reply>, Nl80211Error> {
        loop {
            let read = self.sock.recv::<u16, GenlMsg>(&mut self.buf).await;
            let msgs = match read {
                Ok(msgs) => msgs,
                Err(DeError::Wrapped(WrappedError::IOError(e))) => {
                    return Err(Nl80211Error::Socket(e))
                }
                Err(e) => {
                    // One datagram the parser did not understand: skip it, keep the socket.
                    tracing::debug!(error = %e, "undecodable netlink datagram skipped");
                    continue;
                }
            };
            return Ok(msgs
                .into_iter()
                .map(|m| {
                    let seq = m.nl_seq;
                    match m.nl_payload {
                        NlPayload::Payload(msg) => Reply::Msg { seq, msg },
                        NlPayload::Ack(_) => Reply::Ack { seq },
                        NlPayload::Err(e) => Reply::Err {
                            seq,
                            errno: e.error.saturating_abs(),
                        },
                        NlPayload::Empty => Reply::Done { seq },
                    }
                })
                .collect());
        }
    }

    /// The next message from the kernel (a reply, an acknowledgement, an error or an event).
    /// Cancel safe.
    pub(crate) async fn recv(&mut self) -> Result<Reply, Nl80211Error> {
        loop {
            if let Some(r) = self.backlog.pop_front() {
                return Ok(r);
            }
            let got = self.read_socket().await?;
            self.backlog.extend(got);
        }
    }

    /// Sends a request and collects its answer: the messages of a reply or a dump, until the
    /// acknowledgement or the end of the dump. A kernel error is [`Nl80211Error::Kernel`]
    /// naming `what`. Other messages (events) stay queued for [`Genl::recv`], in order.
    pub(crate) async fn request(
        &mut self,
        what: &'static str,
        cmd: u8,
        attrs: &[Attr],
        dump: bool,
    ) -> Result<Vec<GenlMsg>, Nl80211Error> {
        let seq = self.send(cmd, attrs, dump).await?;
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        let mut result = None;
        while result.is_none() {
            let got = tokio::time::timeout_at(deadline, self.read_socket())
                .await
                .map_err(|_| Nl80211Error::Timeout(what))??;
            for r in got {
                if result.is_some() || r.seq() != seq {
                    self.backlog.push_back(r);
                    continue;
                }
                match r {
                    Reply::Msg { msg, .. } => out.push(msg),
                    Reply::Ack { .. } | Reply::Done { .. } => result = Some(Ok(())),
                    Reply::Err { errno, .. } => {
                        result = Some(Err(Nl80211Error::Kernel {
                            what,
                            source: io::Error::from_raw_os_error(errno),
                        }))
                    }
                }
            }
        }
        match result {
            Some(Err(e)) => Err(e),
            _ => Ok(out),
        }
    }
}

/// How long the kernel may take to answer one request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_round_trip_and_truncation_stops_cleanly() {
        let a = Attr::nested(
            5,
            &[Attr::u32(1, 2412), Attr::flag(2), Attr::string(3, "vw0")],
        );
        let mut buf = Vec::new();
        a.emit(&mut buf);
        let outer = nested(&buf);
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].0, 5);
        let inner = nested(outer[0].1);
        assert_eq!(find(&inner, 1).and_then(as_u32), Some(2412));
        assert_eq!(find(&inner, 2), Some(&[][..]));
        assert_eq!(find(&inner, 3).map(as_string).as_deref(), Some("vw0"));
        // Cut anywhere: never a panic, only fewer attributes.
        for cut in 0..buf.len() {
            let _ = nested(&buf[..cut]);
            let _ = nested(outer[0].1.get(..cut.min(outer[0].1.len())).unwrap());
        }
        assert!(nested(&[0xff, 0xff, 1, 0]).is_empty());
        assert!(nested(&[2, 0, 1, 0]).is_empty(), "length below the header");
    }
}
