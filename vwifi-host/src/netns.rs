//! `attach --netns`: a container's station served on a TAP inside its network namespace.
//!
//! The daemon opens `/var/run/netns/NAME` (as `ip netns add NAME` leaves it), enters that
//! namespace on a dedicated thread (`setns` moves only the calling thread), creates the TAP
//! there with the station's MAC and brings it up, and hands the TAP's file descriptor back:
//! a descriptor keeps working from any namespace. The driver then serves it like any guest
//! ([`serve_tap`]):
//! - a frame with EtherType 0x88B5 ([`ETHERTYPE`]) carries one guest-protocol message
//!   (in-band control, as `vwifi-guest --link IFACE` sends it); the answer goes back in one
//!   frame to the frame's source MAC, from [`HOST_MAC`], padded to 60 bytes, at most
//!   [`MAX_CONTROL_PAYLOAD`] bytes of message (a scan result too long for it loses its last
//!   BSSs, logged);
//! - every other frame is the station's data (`Message::Data`), and the station's data from the
//!   air is written to the TAP. The TAP has virtio-net headers and TCP offloads where the kernel
//!   allows: large sends are cut into MSDU-sized frames, reads and writes go in batches
//!   ([`crate::tap_io`]).
//!
//! # Persistence
//! The TAP is persistent (`TUNSETPERSIST`): when the daemon stops (signal or crash) the
//! interface stays in the container with its addresses and routes, its carrier off while no
//! one holds it. A restarted daemon finds it again by name in the namespace and takes it up if
//! it carries this station's address (a namespace's station address is derived from its name,
//! so it is the same at every start); an interface of that name that is not such a TAP is
//! refused ([`NetnsError::IfnameTaken`]). `detach` deletes the interface (`RTM_DELLINK`).
//!
//! The TAP's descriptor keeps its namespace alive, so `ip netns del NAME` alone would not end
//! it: the task checks every [`NAMESPACE_CHECK`] that `/var/run/netns/NAME` is still the
//! namespace it attached, and detaches itself when it is gone or replaced (the kernel deletes
//! the interface with the namespace).
//!
//! Data from the air that carries EtherType 0x88B5 is dropped, never written to the TAP: only
//! the host speaks control on the link.
//!
//! # Link state
//! The link follows the association the way Linux marks a Wi-Fi link waiting for its
//! supplicant (RFC 2863): link mode `dormant`, operational state `dormant` until the station
//! is associated, `up` while it is, `dormant` again when it leaves (`ip link` shows
//! `state DORMANT`; `/sys/class/net/IFACE/operstate`; IPv6 autoconfiguration and network
//! managers wait for `up`). Set over route netlink ([`Rtnl`], IFLA_LINKMODE and
//! IFLA_OPERSTATE) on a socket opened inside the namespace.
//!
//! The carrier itself stays on while the daemon serves the TAP: with the carrier off Linux drops
//! every frame the container sends, in-band control included, and not only in the queueing
//! discipline — `PACKET_QDISC_BYPASS` does not help, `__dev_direct_xmit` drops too without
//! carrier (`ENOBUFS`, seen on Linux 6.18) — so a station without association could never be
//! told to connect.
//!
//! # A container that floods its TAP
//! What the Mux would drop anyway is dropped in the TAP's task, before it reaches the driver:
//! data from another source than the station's address, data while the station is not
//! associated. Bad in-band messages get at most [`ERROR_REPLIES_PER_SECOND`] error replies a
//! second. All are counted ([`TapShared`], `tap_*` in the status).

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;
use vwifi_core::demux::GuestId;
use vwifi_core::io::LinkError;
use vwifi_core::proto::{self, Event, Message, ProtoError, ETHERTYPE};
use vwifi_core::MacAddr;

use crate::driver::Command;

/// Where the namespaces named by `ip netns` are.
pub(crate) const NETNS_DIR: &str = "/var/run/netns";

/// The interface name when none is given.
pub(crate) const DEFAULT_IFNAME: &str = "wlan0";

/// The source address of the host's in-band control frames: locally administered, unicast.
pub(crate) const HOST_MAC: MacAddr = MacAddr([0x02, 0x76, 0x77, 0x69, 0x66, 0x69]);

/// The longest message in one control frame: the standard Ethernet MTU.
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 1500;

/// The Ethernet II header: destination, source, EtherType.
const ETH_HEADER_LEN: usize = 14;

/// Ethernet's minimum frame length without FCS.
const MIN_FRAME_LEN: usize = 60;

/// The longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_IFNAME_LEN: usize = 15;

/// How often a TAP's task checks that its namespace still exists.
pub(crate) const NAMESPACE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a TAP could not be created in a namespace.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetnsError {
    /// The namespace or interface name cannot be used.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// `namespace name` or `interface name`.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No such namespace (`ip netns add NAME` creates it).
    #[error("no network namespace {name:?} (no {NETNS_DIR}/{name}; create it with `ip netns add {name}`)")]
    NoNamespace {
        /// The namespace.
        name: String,
    },
    /// The daemon lacks the privilege (CAP_SYS_ADMIN for setns, CAP_NET_ADMIN for the TAP).
    #[error("not permitted to {what} (the daemon must run as root, or with CAP_SYS_ADMIN and CAP_NET_ADMIN)")]
    NotPermitted {
        /// What was refused.
        what: &'static str,
    },
    /// The namespace file could not be opened.
    #[error("cannot open {NETNS_DIR}/{name}")]
    Open {
        /// The namespace.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The namespace could not be entered.
    #[error("cannot enter the network namespace {name:?}")]
    Enter {
        /// The namespace.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An interface of that name exists in the namespace.
    #[error("an interface {ifname:?} already exists in the network namespace {netns:?}")]
    IfnameTaken {
        /// The interface name.
        ifname: String,
        /// The namespace.
        netns: String,
    },
    /// The TAP could not be created or configured.
    #[error("cannot create the TAP {ifname:?} in the network namespace {netns:?}")]
    Tap {
        /// The interface name.
        ifname: String,
        /// The namespace.
        netns: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The namespace's thread died (a bug).
    #[error("the thread entering the network namespace failed")]
    Thread,
}

/// Checks a namespace name as `ip netns` would accept it: a file name in [`NETNS_DIR`].
pub(crate) fn check_netns_name(name: &str) -> Result<(), NetnsError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > 255 {
        Some("longer than 255 bytes")
    } else if name == "." || name == ".." {
        Some("not a namespace name")
    } else if name.contains('/') || name.contains('\0') {
        Some("contains '/' or NUL")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetnsError::InvalidName {
            what: "namespace name",
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks an interface name as Linux would accept it.
pub(crate) fn check_ifname(name: &str) -> Result<(), NetnsError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_IFNAME_LEN {
        Some("longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("not an interface name")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        Some("contains '/', ':', a space or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetnsError::InvalidName {
            what: "interface name",
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Which namespace a file in [`NETNS_DIR`] is: its device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NamespaceId {
    dev: u64,
    ino: u64,
}

impl NamespaceId {
    /// The namespace `/var/run/netns/NAME` is now, if it exists.
    pub(crate) fn of(netns: &str) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(format!("{NETNS_DIR}/{netns}")).ok()?;
        Some(Self {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// A TAP created (or found again) in a namespace, with what the daemon needs to serve it.
pub(crate) struct CreatedTap {
    /// The TAP's descriptor (works from any namespace).
    pub(crate) dev: tun_rs::SyncDevice,
    /// Which namespace it is in.
    pub(crate) id: NamespaceId,
    /// The interface's index in its namespace.
    pub(crate) index: u32,
    /// A route-netlink socket opened in that namespace, for the link state and for `detach`.
    pub(crate) rtnl: Rtnl,
    /// Whether the TAP was there already (left by a daemon that stopped) and was taken up again.
    pub(crate) reopened: bool,
}

impl core::fmt::Debug for CreatedTap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CreatedTap")
            .field("id", &self.id)
            .field("index", &self.index)
            .field("reopened", &self.reopened)
            .finish_non_exhaustive()
    }
}

/// Creates the persistent TAP `ifname` with `mac`, up and dormant, inside the namespace
/// `netns`, or takes up again the TAP a stopped daemon left there (same name, same MAC); blocks
/// (spawns and joins a thread). The descriptor works from the caller's namespace.
pub(crate) fn create_tap(
    netns: &str,
    ifname: &str,
    mac: MacAddr,
) -> Result<CreatedTap, NetnsError> {
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
    let id = {
        use std::os::unix::fs::MetadataExt as _;
        let meta = file.metadata().map_err(|source| NetnsError::Open {
            name: netns.to_owned(),
            source,
        })?;
        NamespaceId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    };
    let (netns_owned, ifname_owned) = (netns.to_owned(), ifname.to_owned());
    let (dev, index, rtnl, reopened) = std::thread::Builder::new()
        .name(format!("netns {netns}"))
        .spawn(move || in_namespace(&file, &netns_owned, &ifname_owned, mac))
        .map_err(|_| NetnsError::Thread)?
        .join()
        .map_err(|_| NetnsError::Thread)??;
    Ok(CreatedTap {
        dev,
        id,
        index,
        rtnl,
        reopened,
    })
}

/// On a thread of its own: enter the namespace, create (or take up again) the TAP, open the
/// route-netlink socket, mark the link dormant.
fn in_namespace(
    ns: &File,
    netns: &str,
    ifname: &str,
    mac: MacAddr,
) -> Result<(tun_rs::SyncDevice, u32, Rtnl, bool), NetnsError> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    use std::os::fd::AsFd as _;
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
    let taken = || NetnsError::IfnameTaken {
        ifname: ifname.to_owned(),
        netns: netns.to_owned(),
    };
    let tap_error = |source: io::Error| NetnsError::Tap {
        ifname: ifname.to_owned(),
        netns: netns.to_owned(),
        source,
    };
    // A socket created now belongs to the namespace: ask it whether the name is taken.
    let probe = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )
    .map_err(|e| tap_error(e.into()))?;
    let exists = rustix::net::netdevice::name_to_index(&probe, ifname).is_ok();
    // On an existing name, TUNSETIFF attaches to it if it is a TAP nobody holds (EINVAL if it
    // is another kind of interface, EBUSY if someone holds it).
    // With virtio-net headers and TCP offloads (crate::tap_io), or without where the kernel
    // refuses them.
    let build = |offload: bool| {
        tun_rs::DeviceBuilder::new()
            .name(ifname)
            .layer(tun_rs::Layer::L2)
            .offload(offload)
            .build_sync()
    };
    let dev =
        build(true)
            .or_else(|_| build(false))
            .map_err(|source| match source.raw_os_error() {
                Some(1) => NetnsError::NotPermitted {
                    what: "create a TAP",
                },
                Some(16) | Some(22) if exists => taken(),
                Some(16) => taken(),
                _ => tap_error(source),
            })?;
    if exists {
        // Ours only if it carries this station's address: a daemon that stopped left it.
        if dev.mac_address().map_err(tap_error)? != mac.0 {
            return Err(taken());
        }
    } else {
        dev.set_mac_address(mac.0).map_err(tap_error)?;
    }
    dev.enabled(true).map_err(tap_error)?;
    // The interface outlives the daemon (a restart finds it again, with the container's
    // addresses and routes); `detach` deletes it.
    dev.persist().map_err(tap_error)?;
    let index =
        rustix::net::netdevice::name_to_index(&probe, ifname).map_err(|e| tap_error(e.into()))?;
    let mut rtnl = Rtnl::open().map_err(tap_error)?;
    rtnl.set_operstate(index, false).map_err(tap_error)?;
    Ok((dev, index, rtnl, exists))
}

/// A route-netlink socket opened inside one network namespace: it acts on that namespace's
/// interfaces from any thread. Requests are acknowledged by the kernel before returning.
pub(crate) struct Rtnl {
    socket: netlink_sys::Socket,
    seq: u32,
}

impl Rtnl {
    /// Opens a route-netlink socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Puts interface `index` in link mode "dormant" and its operational state to `up`, or
    /// back to `dormant` (RTM_SETLINK with IFLA_LINKMODE and IFLA_OPERSTATE, RFC 2863): the way
    /// Linux marks a link whose carrier is up but which waits for an external event — a Wi-Fi
    /// association, as wpa_supplicant marks it. The carrier stays on.
    pub(crate) fn set_operstate(&mut self, index: u32, up: bool) -> io::Result<()> {
        use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkMode, State};
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes.push(LinkAttribute::OperState(if up {
            State::Up
        } else {
            State::Dormant
        }));
        link.attributes.push(LinkAttribute::Mode(LinkMode::Dormant));
        self.request(netlink_packet_route::RouteNetlinkMessage::SetLink(link))
    }

    /// Deletes interface `index` (RTM_DELLINK).
    pub(crate) fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut link = netlink_packet_route::link::LinkMessage::default();
        link.header.index = index;
        self.request(netlink_packet_route::RouteNetlinkMessage::DelLink(link))
    }

    /// Sends one request and waits for its acknowledgement.
    fn request(&mut self, msg: netlink_packet_route::RouteNetlinkMessage) -> io::Result<()> {
        use netlink_packet_core::{
            NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
        };
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
                    NetlinkMessage::<netlink_packet_route::RouteNetlinkMessage>::deserialize(bytes)
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

/// What a frame read from the TAP is.
#[derive(Debug)]
pub(crate) enum TapFrame {
    /// An in-band control message (or why it did not decode), from `src`.
    Control {
        /// Who sent it (answers go there).
        src: MacAddr,
        /// The message.
        msg: Result<Message, LinkError>,
    },
    /// The station's data, from `src`.
    Data {
        /// Its source address.
        src: MacAddr,
    },
    /// Too short to be an Ethernet frame.
    Runt,
}

/// Classifies a frame the container sent.
pub(crate) fn classify(frame: &[u8]) -> TapFrame {
    let Some((header, payload)) = frame.split_at_checked(ETH_HEADER_LEN) else {
        return TapFrame::Runt;
    };
    let Some(src) = header.get(6..12).and_then(MacAddr::from_slice) else {
        return TapFrame::Runt;
    };
    let ethertype = match header.get(12..14) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => return TapFrame::Runt,
    };
    if ethertype != ETHERTYPE {
        return TapFrame::Data { src };
    }
    let msg = match proto::decode(payload) {
        Ok((msg, _)) => Ok(msg),
        Err(error) => Err(LinkError::BadMessage {
            id: proto::Header::parse(payload)
                .ok()
                .and_then(|h| h.request_id()),
            error,
        }),
    };
    TapFrame::Control { src, msg }
}

/// The control frame carrying `msg` to `dst`, cut to fit [`MAX_CONTROL_PAYLOAD`]: a scan
/// result loses its last BSSs (the count lost is returned); any other message too long is an
/// error.
pub(crate) fn control_frame(msg: Message, dst: MacAddr) -> Result<(Vec<u8>, usize), ProtoError> {
    let mut msg = msg;
    let mut cut = 0;
    let mut len = proto::encoded_len(&msg)?;
    while len > MAX_CONTROL_PAYLOAD {
        match &mut msg {
            Message::ScanResults { bss, .. } if !bss.is_empty() => {
                bss.pop();
                cut += 1;
            }
            _ => {
                return Err(ProtoError::TooLong {
                    len,
                    max: MAX_CONTROL_PAYLOAD,
                })
            }
        }
        len = proto::encoded_len(&msg)?;
    }
    let mut frame = Vec::with_capacity((ETH_HEADER_LEN + len).max(MIN_FRAME_LEN));
    frame.extend_from_slice(&dst.0);
    frame.extend_from_slice(&HOST_MAC.0);
    frame.extend_from_slice(&ETHERTYPE.to_be_bytes());
    proto::encode(&msg, &mut frame)?;
    if frame.len() < MIN_FRAME_LEN {
        frame.resize(MIN_FRAME_LEN, 0);
    }
    Ok((frame, cut))
}

/// What woke a TAP's task.
enum Wake {
    FromTap(io::Result<()>),
    ToGuest(Option<Message>),
    Check,
}

/// The namespace an attached TAP lives in.
#[derive(Debug)]
pub(crate) struct Namespace {
    /// Its name.
    pub(crate) name: String,
    /// What `/var/run/netns/NAME` was at attach.
    pub(crate) id: NamespaceId,
}

/// Serves one attached namespace's TAP until the driver lets the guest go (detach, shutdown)
/// or the TAP fails. Dropping the TAP deletes the interface.
pub(crate) async fn serve_tap(
    tap: tun_rs::AsyncDevice,
    link: LinkControl,
    guest: GuestId,
    name: String,
    station: MacAddr,
    mut outbox: mpsc::Receiver<Message>,
    cmds: mpsc::Sender<Command>,
) {
    let mut io = crate::tap_io::TapIo::new(tap.tcp_gso());
    let mut batch = crate::tap_io::Batch::default();
    let mut out_frames: Vec<Bytes> = Vec::new();
    // A message taken from the outbox while draining data, handled on the next turn.
    let mut held: Option<Message> = None;
    tracing::debug!(guest = guest.0, %name, offload = io.vnet(), "serving the TAP");
    let mut link = link;
    // Answers go to whoever asked last; before anyone asked, to the interface's own address.
    let mut peer = station;
    let mut check = tokio::time::interval(NAMESPACE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let why: String = loop {
        let wake = match held.take() {
            Some(m) => Wake::ToGuest(Some(m)),
            None => tokio::select! {
                r = io.recv_batch(&tap, &mut batch) => Wake::FromTap(r),
                m = outbox.recv() => Wake::ToGuest(m),
                _ = check.tick() => Wake::Check,
            },
        };
        match wake {
            Wake::Check => {
                if NamespaceId::of(&link.ns.name) != Some(link.ns.id) {
                    break format!("the network namespace {:?} was deleted", link.ns.name);
                }
                continue;
            }
            Wake::FromTap(Err(e)) => break format!("TAP read failed: {e}"),
            Wake::FromTap(Ok(())) => {
                if batch.refused > 0 {
                    link.shared
                        .bad_offload
                        .fetch_add(batch.refused, Ordering::Relaxed);
                    let error = batch.last_error.map(|e| e.to_string()).unwrap_or_default();
                    tracing::debug!(guest = guest.0, %name, %error, "offloaded frame refused");
                    batch.refused = 0;
                }
                let mut stop = None;
                for frame in batch.frames.drain(..) {
                    let msg = match tap_frame(frame, station, &mut peer, &mut link, guest, &name) {
                        TapInput::Skip => continue,
                        TapInput::Send(msg) => msg,
                        TapInput::ErrorReply(reply) => {
                            if let Err(e) = send_control(&tap, &io, reply, peer, &name).await {
                                stop = Some(e);
                                break;
                            }
                            continue;
                        }
                    };
                    if cmds.send(Command::Guest { guest, msg }).await.is_err() {
                        stop = Some("the daemon is stopping".into());
                        break;
                    }
                }
                if let Some(why) = stop {
                    break why;
                }
                continue;
            }
            Wake::ToGuest(Some(Message::Data(frame))) => {
                // Take the data queued behind it too (up to a batch), written together; a
                // message of another kind waits for the next turn.
                out_frames.clear();
                out_frames.push(frame);
                while out_frames.len() < crate::tap_io::BATCH {
                    match outbox.try_recv() {
                        Ok(Message::Data(f)) => out_frames.push(f),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                out_frames.retain(|f| {
                    // Only the host speaks control on the link: the guest must not take a
                    // frame from the air for the host's answer.
                    let control = matches!(classify(f), TapFrame::Control { .. });
                    if control {
                        tracing::debug!(guest = guest.0, %name, "control frame from the air dropped");
                    }
                    !control
                });
                if let Err(e) = io.send_batch(&tap, &out_frames).await {
                    break format!("TAP write failed: {e}");
                }
                continue;
            }
            Wake::ToGuest(Some(msg)) => {
                // The link state follows the association; set before the guest hears of it.
                if let Message::Event(e) = &msg {
                    match e {
                        Event::Connected { .. } => {
                            link.associated = true;
                            link.operstate(true, &name).await;
                        }
                        Event::Disconnected { .. } | Event::ConnectFailed { .. } => {
                            link.associated = false;
                            link.operstate(false, &name).await;
                        }
                        _ => {}
                    }
                }
                if let Err(e) = send_control(&tap, &io, msg, peer, &name).await {
                    break e;
                }
                continue;
            }
            Wake::ToGuest(None) => {
                if link.shared.detach.load(Ordering::Relaxed) {
                    link.delete(&name).await;
                    tracing::info!(guest = guest.0, %name, "TAP deleted");
                } else {
                    // The daemon is stopping: the persistent TAP stays for its next start.
                    link.operstate(false, &name).await;
                    tracing::info!(guest = guest.0, %name, "TAP left for the next start");
                }
                return;
            }
        }
    };
    tracing::warn!(guest = guest.0, %name, reason = %why, "attached namespace detached");
    let _ = cmds.send(Command::Gone { guest }).await;
}

/// What a frame the container sent becomes.
enum TapInput {
    /// Nothing (dropped and counted, or a runt).
    Skip,
    /// A message for the driver.
    Send(Message),
    /// An error reply for the container (to `peer`).
    ErrorReply(Message),
}

/// Classifies one frame from the container: what the Mux would drop anyway is dropped here,
/// so that a container flooding its TAP costs the driver (and the other guests) nothing;
/// in-band control is decoded (`peer` follows its sender); a bad message is counted and, within
/// the error budget, answered.
fn tap_frame(
    frame: Bytes,
    station: MacAddr,
    peer: &mut MacAddr,
    link: &mut LinkControl,
    guest: GuestId,
    name: &str,
) -> TapInput {
    match classify(&frame) {
        TapFrame::Runt => TapInput::Skip,
        TapFrame::Data { src } if src != station => {
            link.shared.spoofed.fetch_add(1, Ordering::Relaxed);
            TapInput::Skip
        }
        TapFrame::Data { .. } if !link.associated => {
            link.shared.not_associated.fetch_add(1, Ordering::Relaxed);
            TapInput::Skip
        }
        TapFrame::Data { .. } => TapInput::Send(Message::Data(frame)),
        TapFrame::Control { src, msg: Ok(msg) } => {
            if !src.is_group() {
                *peer = src;
            }
            TapInput::Send(msg)
        }
        TapFrame::Control { src, msg: Err(e) } => {
            tracing::debug!(guest = guest.0, %name, error = %e, "bad in-band message");
            link.shared.bad_inband.fetch_add(1, Ordering::Relaxed);
            if !link.error_budget.take(std::time::Instant::now()) {
                link.shared
                    .replies_suppressed
                    .fetch_add(1, Ordering::Relaxed);
                return TapInput::Skip;
            }
            match e.error_reply() {
                Some(reply) => {
                    if !src.is_group() {
                        *peer = src;
                    }
                    TapInput::ErrorReply(reply)
                }
                None => TapInput::Skip,
            }
        }
    }
}

/// At most this many error replies per second to one TAP's bad in-band messages; the rest are
/// counted, not answered (a flood then costs one decode per frame).
pub(crate) const ERROR_REPLIES_PER_SECOND: u32 = 20;

/// What the driver and a TAP's task share.
#[derive(Debug, Default)]
pub(crate) struct TapShared {
    /// Set by the driver before it lets the guest go on `detach`: the TAP is deleted then
    /// (otherwise, at shutdown, it stays for the next start).
    pub(crate) detach: AtomicBool,
    /// Data frames from another source than the station's address, dropped at the TAP.
    pub(crate) spoofed: AtomicU64,
    /// Data frames sent while the station was not associated, dropped at the TAP.
    pub(crate) not_associated: AtomicU64,
    /// In-band control frames that did not decode.
    pub(crate) bad_inband: AtomicU64,
    /// Of those, how many got no error reply (over [`ERROR_REPLIES_PER_SECOND`]).
    pub(crate) replies_suppressed: AtomicU64,
    /// Offloaded (GSO) frames refused: a bad virtio-net header, or segments too long for an
    /// MSDU.
    pub(crate) bad_offload: AtomicU64,
}

/// A budget of `per_second` actions, refilled every second.
#[derive(Debug)]
struct Budget {
    per_second: u32,
    left: u32,
    since: Option<std::time::Instant>,
}

impl Budget {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            left: per_second,
            since: None,
        }
    }

    /// Takes one action from the budget at `now`; `false` if it is spent for this second.
    fn take(&mut self, now: std::time::Instant) -> bool {
        let fresh = self
            .since
            .is_none_or(|t| now.saturating_duration_since(t) >= std::time::Duration::from_secs(1));
        if fresh {
            self.since = Some(now);
            self.left = self.per_second;
        }
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

/// How the daemon drives an attached interface besides its descriptor.
pub(crate) struct LinkControl {
    /// The namespace the interface is in.
    ns: Namespace,
    /// The route-netlink socket of the interface's namespace.
    rtnl: Arc<Mutex<Rtnl>>,
    /// The interface's index in it.
    index: u32,
    /// What the driver shares with the TAP's task.
    shared: Arc<TapShared>,
    /// The operational state last set (`true`: up), to set it only on a change.
    up: Option<bool>,
    /// Whether the station is associated (the last event said so).
    associated: bool,
    /// Error replies to bad in-band messages left this second.
    error_budget: Budget,
}

impl LinkControl {
    /// The control of interface `index`, reached with `rtnl`.
    pub(crate) fn new(ns: Namespace, rtnl: Rtnl, index: u32, shared: Arc<TapShared>) -> Self {
        Self {
            ns,
            rtnl: Arc::new(Mutex::new(rtnl)),
            index,
            shared,
            up: Some(false),
            associated: false,
            error_budget: Budget::new(ERROR_REPLIES_PER_SECOND),
        }
    }

    /// Sets the operational state: `up` or dormant (off a runtime thread: the kernel's answer
    /// waits for its lock).
    async fn operstate(&mut self, up: bool, name: &str) {
        if self.up == Some(up) {
            return;
        }
        let (rtnl, index) = (Arc::clone(&self.rtnl), self.index);
        let done = tokio::task::spawn_blocking(move || {
            rtnl.lock()
                .map_err(|_| io::Error::other("netlink socket poisoned"))
                .and_then(|mut r| r.set_operstate(index, up))
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        match done {
            Ok(()) => {
                self.up = Some(up);
                tracing::debug!(%name, up, "link state set");
            }
            Err(e) => {
                self.up = None;
                tracing::warn!(%name, up, error = %e, "cannot set the link state");
            }
        }
    }

    /// Deletes the interface.
    async fn delete(&mut self, name: &str) {
        let (rtnl, index) = (Arc::clone(&self.rtnl), self.index);
        let done = tokio::task::spawn_blocking(move || {
            rtnl.lock()
                .map_err(|_| io::Error::other("netlink socket poisoned"))
                .and_then(|mut r| r.delete_link(index))
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        if let Err(e) = done {
            tracing::warn!(%name, error = %e, "cannot delete the TAP");
        }
    }
}

/// Writes one control message to the TAP; a message that cannot be framed is logged and
/// dropped, a write error is returned.
async fn send_control(
    tap: &tun_rs::AsyncDevice,
    io: &crate::tap_io::TapIo,
    msg: Message,
    dst: MacAddr,
    name: &str,
) -> Result<(), String> {
    match control_frame(msg, dst) {
        Ok((frame, cut)) => {
            if cut > 0 {
                tracing::info!(%name, cut, "scan result cut to fit one frame");
            }
            io.send(tap, &frame)
                .await
                .map_err(|e| format!("TAP write failed: {e}"))
        }
        Err(e) => {
            tracing::warn!(%name, error = %e, "control message dropped: it does not fit a frame");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwifi_core::proto::{BssInfo, RequestId, Security, Ssid};

    #[test]
    fn names_are_checked_before_any_system_call() {
        assert!(check_netns_name("lab-1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(check_netns_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_ifname("wlan0").is_ok());
        for bad in ["", "a-very-long-interface", "a b", "a:b", "a/b", ".."] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_namespace_is_named_in_the_error() {
        let Err(e) = create_tap(
            "vwifi-no-such-namespace-x",
            "wlan0",
            MacAddr([2, 0, 0, 0, 0, 1]),
        ) else {
            panic!("a TAP in a namespace that does not exist");
        };
        assert!(matches!(e, NetnsError::NoNamespace { .. }), "{e:?}");
        assert!(e.to_string().contains("ip netns add"), "{e}");
    }

    #[test]
    fn control_frames_are_decoded_and_other_frames_are_data() {
        let req = Message::StatusRequest { id: RequestId(9) };
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[2, 1, 1, 1, 1, 1]);
        frame.extend_from_slice(&ETHERTYPE.to_be_bytes());
        proto::encode(&req, &mut frame).unwrap();
        frame.resize(60, 0);
        match classify(&frame) {
            TapFrame::Control { src, msg: Ok(msg) } => {
                assert_eq!(src, MacAddr([2, 1, 1, 1, 1, 1]));
                assert_eq!(msg, req);
            }
            other => panic!("{other:?}"),
        }
        let mut ip = frame.clone();
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(
            matches!(classify(&ip), TapFrame::Data { src } if src == MacAddr([2, 1, 1, 1, 1, 1]))
        );
        assert!(matches!(classify(&frame[..10]), TapFrame::Runt));
        let mut bad = frame[..14].to_vec();
        bad.extend_from_slice(&[0xde, 0xad]);
        assert!(matches!(
            classify(&bad),
            TapFrame::Control { msg: Err(_), .. }
        ));
    }

    #[test]
    fn error_replies_are_limited_per_second() {
        let t0 = std::time::Instant::now();
        let mut b = Budget::new(3);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0 + std::time::Duration::from_millis(900)));
        assert!(b.take(t0 + std::time::Duration::from_millis(1000)));
    }

    #[test]
    fn replies_are_padded_and_long_scan_results_cut_to_one_frame() {
        let dst = MacAddr([2, 1, 1, 1, 1, 1]);
        let (small, cut) = control_frame(Message::StatusRequest { id: RequestId(1) }, dst).unwrap();
        assert_eq!(small.len(), 60);
        assert_eq!(cut, 0);
        assert_eq!(&small[..6], &dst.0);
        assert_eq!(&small[6..12], &HOST_MAC.0);
        let one = BssInfo {
            ssid: Ssid::new(b"a-network-with-a-long-name").unwrap(),
            bssid: MacAddr([2, 0, 0, 0, 0, 9]),
            channel: 1,
            frequency_mhz: 2412,
            signal_dbm: -40,
            security: Security::Wpa2Psk,
            beacon_age_ms: 100,
        };
        let bss = vec![one; 200];
        let (frame, cut) = control_frame(
            Message::ScanResults {
                id: RequestId(2),
                bss,
            },
            dst,
        )
        .unwrap();
        assert!(cut > 0);
        assert!(frame.len() <= ETH_HEADER_LEN + MAX_CONTROL_PAYLOAD);
        let Ok((Message::ScanResults { bss, .. }, _)) = proto::decode(&frame[14..]) else {
            panic!("not a scan result");
        };
        assert_eq!(bss.len() + cut, 200);
    }
}
