//! `attach --netns`: a container's station served on a TAP inside its network namespace.
//!
//! The daemon opens `/var/run/netns/NAME` (as `ip netns add NAME` leaves it), enters that
//! namespace on a dedicated thread (`setns` moves only the calling thread), creates the TAP
//! there with the station's MAC and brings it up, and hands the TAP's file descriptor back:
//! a descriptor keeps working from any namespace. The driver then serves it like any guest
//! ([`serve_tap`]):
//! - a frame with EtherType 0x88B5 ([`ETHERTYPE`](vwifi_core::proto::ETHERTYPE)) carries one guest-protocol message
//!   (in-band control, as `vwifi-guest --link IFACE` sends it); the answer goes back in one
//!   frame to the frame's source MAC, from [`HOST_MAC`](super::ethernet::HOST_MAC), padded to 60 bytes, at most
//!   [`MAX_CONTROL_PAYLOAD`](vwifi_core::proto::inband::MAX_CONTROL_PAYLOAD) bytes of message (a scan result too long for it loses its last
//!   BSSs, logged);
//! - every other frame is the station's data (`Message::Data`), and the station's data from the
//!   air is written to the TAP. The TAP has virtio-net headers and TCP offloads where the kernel
//!   allows: large sends are cut into MSDU-sized frames, reads and writes go in batches
//!   ([`super::tap_io`]).
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
//! the interface with the namespace). A namespace attached by path or PID
//! ([`super::nsfile`]) is followed the same way, through its processes: it ends when the last
//! one exits.
//!
//! # Changes in the container
//! - The interface deleted (`ip link del wlan0`): the TAP's reads fail while the namespace
//!   lives on ([`TapShared::lost`]); the namespace is attached again ([`REATTACH_ATTEMPTS`]
//!   times at most) and rejoins its recorded network; `status` counts it.
//! - The interface renamed (`ip link set wlan0 name foo`): the descriptor stays bound to it
//!   and the data flows on. The task reads its name (`TUNGETIFF`) at every namespace check,
//!   logs a change, shows it (`ifname` of the guest, a line of the radio's details) and records
//!   it, so that a restart takes the TAP up again under that name; `detach` deletes it by its
//!   index, whatever it is called.
//! - The namespace gone: the guest is removed, not attached again
//!   ([`TapShared::namespace_gone`]); `status` names it until a namespace of that name is
//!   attached anew.
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

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use vwifi_core::demux::GuestId;
use vwifi_core::MacAddr;

use super::ethernet::{self, EthernetPort, FromPort};
use super::tap_io::{Batch, TapIo, Written};
use crate::api::Attachment;
pub(crate) use crate::command::TapShared;
use crate::command::{Admitted, Command, Refused, TapClosed};
use crate::error_text::error_chain;

/// Where the namespaces named by `ip netns` are.
pub(crate) const NETNS_DIR: &str = "/var/run/netns";

/// The interface name when none is given.
pub(crate) const DEFAULT_IFNAME: &str = "wlan0";

/// The longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_IFNAME_LEN: usize = 15;

/// How often a TAP's task checks that its namespace still exists.
/// (A quarter second: a container whose last process exits loses its station within a second.)
pub(crate) const NAMESPACE_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

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
    /// No such namespace file (the process exited, the bind mount is gone).
    #[error("no network namespace at {path} (no such file: has the process exited?)")]
    NoNamespaceFile {
        /// The path given.
        path: String,
    },
    /// The file is not a network namespace.
    #[error("{path} is not a network namespace file (/proc/PID/ns/net or a bind mount of one)")]
    NotNamespace {
        /// The path given.
        path: String,
    },
    /// The daemon lacks the privilege (CAP_SYS_ADMIN for setns, CAP_NET_ADMIN for the TAP).
    #[error("not permitted to {what} (the daemon must run as root, or with CAP_SYS_ADMIN and CAP_NET_ADMIN, and CAP_SYS_PTRACE for another process's /proc/PID/ns/net)")]
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
    /// Not exactly one of a namespace name, a namespace path and a PID was given.
    #[error("give exactly one of a namespace name, a namespace path and a process id (> 0)")]
    Which,
    /// The namespace's thread died (a bug).
    #[error("the thread entering the network namespace failed")]
    Thread,
}

/// Checks a namespace name as `ip netns` would accept it (a file name in [`NETNS_DIR`]), or a
/// namespace path ([`super::nsfile`]).
pub(crate) fn check_netns_name(name: &str) -> Result<(), NetnsError> {
    let reason = if super::nsfile::is_path(name) {
        super::nsfile::path_problem(name)
    } else if name.is_empty() {
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

pub(crate) use super::nsfile::NamespaceId;

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
    let path = super::nsfile::path_of(netns);
    let file = File::open(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound if super::nsfile::is_path(netns) => NetnsError::NoNamespaceFile {
            path: netns.to_owned(),
        },
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
        let meta = file.metadata().map_err(|source| NetnsError::Open {
            name: netns.to_owned(),
            source,
        })?;
        NamespaceId::from_meta(&meta)
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
        if e == rustix::io::Errno::INVAL {
            NetnsError::NotNamespace {
                path: netns.to_owned(),
            }
        } else if e == rustix::io::Errno::PERM {
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
    // With virtio-net headers and TCP offloads (super::tap_io), or without where the kernel
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

pub(crate) use vwifi_netlink::Rtnl;

/// Why `attach --netns` failed (the control reply shows it with its causes).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttachError {
    /// A bad name, or the TAP could not be created in the namespace.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The driver refused the station.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The daemon is stopping.
    #[error("the daemon is stopping")]
    Stopping,
    /// The task creating the TAP failed.
    #[error("{0}")]
    Task(tokio::task::JoinError),
    /// The TAP could not be served asynchronously.
    #[error("{0}")]
    Async(io::Error),
    /// The kernel data path of a real card (a veth pair joined to the station's interface)
    /// could not be set up.
    #[error(transparent)]
    KernelPort(super::kernel::veth::PortError),
}

/// Attaches the network namespace `netns`: admits its station, creates the TAP `ifname` in
/// it (on a blocking thread) and serves the TAP ([`serve_tap`]) on a port thread
/// ([`super::threads`]).
pub(crate) async fn attach(
    cmds: &mpsc::Sender<Command>,
    netns: String,
    ifname: String,
) -> Result<Attachment, AttachError> {
    check_netns_name(&netns)?;
    check_ifname(&ifname)?;
    let stopping = |_| AttachError::Stopping;
    let (reply, answer) = oneshot::channel();
    let shared = Arc::new(TapShared::default());
    cmds.send(Command::AdmitNetns {
        netns: netns.clone(),
        shared: Arc::clone(&shared),
        reply,
    })
    .await
    .map_err(stopping)?;
    let (mut adm, mac) = answer.await.map_err(|_| AttachError::Stopping)??;
    if let Some(port) = adm.kernel_port.take() {
        return super::kernel::attach(cmds, adm, mac, netns, ifname, shared, port).await;
    }
    let (ns, ifn) = (netns.clone(), ifname.clone());
    let created = tokio::task::spawn_blocking(move || create_tap(&ns, &ifn, mac))
        .await
        .map_err(AttachError::Task)
        .and_then(|r| r.map_err(AttachError::Netns));
    let guest = adm.guest;
    let failed = |e: AttachError| async {
        tracing::warn!(%netns, %ifname, error = %error_chain(&e), "attach failed");
        shared.closed.send_replace(Some(TapClosed::Ended));
        let _ = cmds.send(Command::Gone { guest }).await;
        Err(e)
    };
    let CreatedTap {
        dev,
        id,
        index,
        rtnl,
        reopened,
    } = match created {
        Ok(created) => created,
        Err(e) => return failed(e).await,
    };
    shared.set_name(&ifname, true);
    let ns = Namespace {
        name: netns.clone(),
        watch: super::nsfile::Watch::new(&netns, id),
    };
    // The TAP is made asynchronous on its port thread (it registers with that thread's
    // reactor), which then serves it.
    let (made, is_made) = oneshot::channel();
    let link = LinkControl::new(ns, rtnl, index, Arc::clone(&shared));
    let (port_ifname, port_cmds) = (ifname.clone(), cmds.clone());
    super::threads::spawn(async move {
        match tun_rs::AsyncDevice::new(dev) {
            Ok(tap) => {
                let _ = made.send(Ok(()));
                serve_tap(tap, link, adm, mac, port_ifname, port_cmds).await;
            }
            Err(e) => {
                let _ = made.send(Err(e));
            }
        }
    });
    match is_made.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return failed(AttachError::Async(e)).await,
        // The port task was dropped unrun: its thread's runtime is gone (it lives as long
        // as the daemon, so this is not expected).
        Err(_) => {
            let gone = io::Error::other("the port thread stopped before it served the TAP");
            return failed(AttachError::Async(gone)).await;
        }
    }
    tracing::info!(guest = guest.0, %netns, %ifname, %mac, reopened, "network namespace attached");
    cmds.send(Command::Attached {
        guest,
        netns: netns.clone(),
        ifname: ifname.clone(),
    })
    .await
    .map_err(stopping)?;
    Ok(Attachment {
        netns,
        ifname,
        mac: mac.to_string(),
        guest: guest.0,
    })
}

/// How long `detach` waits for the TAP's task to delete the interface (it takes milliseconds;
/// the control client gives up after 5 s).
pub(crate) const DETACH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Why `detach --netns` failed (the control reply shows it with its causes).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DetachError {
    /// A bad name.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The driver refused (the namespace is not attached).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The daemon is stopping.
    #[error("the daemon is stopping")]
    Stopping,
    /// The station is gone but the kernel refused to delete its interface.
    #[error("the station was removed but its interface could not be deleted: {0}")]
    NotDeleted(String),
    /// The station is gone but its TAP's task did not finish in time.
    #[error("the station was removed but its interface was not deleted within {0:?}")]
    Timeout(std::time::Duration),
}

/// Detaches the network namespace `netns`: removes its station and returns once its TAP's
/// task has deleted the interface, so that an `attach` right after it finds the name free.
pub(crate) async fn detach(cmds: &mpsc::Sender<Command>, netns: String) -> Result<(), DetachError> {
    check_netns_name(&netns)?;
    let (reply, answer) = oneshot::channel();
    cmds.send(Command::Detach { netns, reply })
        .await
        .map_err(|_| DetachError::Stopping)?;
    let (_, tap) = answer.await.map_err(|_| DetachError::Stopping)??;
    let Some(shared) = tap else {
        return Ok(());
    };
    let mut closed = shared.closed.subscribe();
    let outcome = tokio::time::timeout(DETACH_WAIT, closed.wait_for(Option::is_some))
        .await
        .map_err(|_| DetachError::Timeout(DETACH_WAIT))?
        .map(|c| c.clone())
        .unwrap_or(Some(TapClosed::Ended));
    match outcome {
        Some(TapClosed::DeleteFailed(why)) => Err(DetachError::NotDeleted(why)),
        _ => Ok(()),
    }
}

/// The namespace an attached TAP lives in.
#[derive(Debug)]
pub(crate) struct Namespace {
    /// Its name or path.
    pub(crate) name: String,
    /// Whether it still lives (what its file was at attach).
    pub(crate) watch: super::nsfile::Watch,
}

/// Serves one attached namespace's TAP until the driver lets the guest go (detach, shutdown)
/// or the TAP fails ([`ethernet::serve`] with a [`TapPort`]). Dropping the TAP deletes the
/// interface unless it was left persistent for the next start.
pub(crate) async fn serve_tap(
    tap: tun_rs::AsyncDevice,
    link: LinkControl,
    adm: Admitted,
    station: MacAddr,
    ifname: String,
    cmds: mpsc::Sender<Command>,
) {
    let Admitted {
        guest,
        name,
        outbox,
        flow,
        ..
    } = adm;
    let mut check = tokio::time::interval(NAMESPACE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let io = TapIo::new(tap.tcp_gso());
    tracing::debug!(guest = guest.0, %name, offload = io.vnet(), "serving the TAP");
    let shared = Arc::clone(&link.shared);
    let again = ReattachTo {
        netns: link.ns.name.clone(),
        ifname,
        cmds: cmds.clone(),
    };
    let port = TapPort {
        tap,
        io,
        batch: Batch::default(),
        pending: VecDeque::new(),
        link,
        check,
        guest,
        name: name.clone(),
        station,
        cmds: cmds.clone(),
    };
    ethernet::serve(port, guest, name, station, outbox, flow, cmds).await;
    // The port (and the TAP's descriptor) is dropped: say so to a `detach` waiting for it, if
    // `close` did not say more.
    shared.closed.send_if_modified(|c| {
        let unset = c.is_none();
        if unset {
            *c = Some(TapClosed::Ended);
        }
        unset
    });
    if shared.lost.load(Ordering::Relaxed) && !again.cmds.is_closed() {
        tokio::spawn(again.reattach());
    }
}

/// Where to attach a namespace again whose TAP went under the daemon.
struct ReattachTo {
    netns: String,
    ifname: String,
    cmds: mpsc::Sender<Command>,
}

/// Attempts to attach a namespace again before giving up (a second apart).
pub(crate) const REATTACH_ATTEMPTS: u32 = 5;

impl ReattachTo {
    /// Attaches the namespace again as `attach` does (same name, so the same station address;
    /// the driver kept its record, so it rejoins its network as after a restart). Boxed: the
    /// attachment it makes may come back here.
    fn reattach(self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let Self {
                netns,
                ifname,
                cmds,
            } = self;
            for attempt in 1..=REATTACH_ATTEMPTS {
                match attach(&cmds, netns.clone(), ifname.clone()).await {
                    Ok(a) => {
                        tracing::info!(%netns, %ifname, guest = a.guest, "network namespace attached again");
                        return;
                    }
                    Err(AttachError::Stopping) => return,
                    Err(e) => {
                        tracing::warn!(%netns, %ifname, attempt, error = %error_chain(&e), "attaching the namespace again failed");
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let _ = cmds.send(Command::ReattachFailed { netns }).await;
        })
    }
}

/// A namespace's TAP as an [`EthernetPort`].
struct TapPort {
    tap: tun_rs::AsyncDevice,
    /// Batched, offloaded reads and writes.
    io: TapIo,
    /// The last batch read.
    batch: Batch,
    /// Frames of the last batch not handed out yet.
    pending: VecDeque<Bytes>,
    link: LinkControl,
    /// When to check that the namespace is still there.
    check: tokio::time::Interval,
    guest: GuestId,
    name: String,
    station: MacAddr,
    /// The driver (told of a rename).
    cmds: mpsc::Sender<Command>,
}

impl TapPort {
    /// Follows the interface's name: the container may rename it (`ip link set wlan0 name
    /// foo`), the descriptor stays bound to it (`TUNGETIFF` gives its name now). A change is
    /// logged, shown in the status and recorded, so that a restart takes the TAP up again under
    /// its name and `detach` deletes it (by index) whatever it is called.
    async fn follow_name(&mut self) {
        let Ok(now) = self.tap.name() else {
            return;
        };
        let before = self.link.shared.set_name(&now, false);
        if before == now {
            return;
        }
        tracing::warn!(guest = self.guest.0, name = %self.name, from = %before, to = %now, "the namespace's interface was renamed in the container: followed");
        let _ = self
            .cmds
            .send(Command::Renamed {
                guest: self.guest,
                ifname: now,
            })
            .await;
    }

    /// Counts the frames whose write the kernel refused (`tap_write_dropped`).
    fn count_dropped(&self, written: Written) {
        if written.dropped == 0 {
            return;
        }
        self.link
            .shared
            .write_dropped
            .fetch_add(written.dropped, Ordering::Relaxed);
        let error = written.last_error.map(io::Error::from_raw_os_error);
        tracing::debug!(guest = self.guest.0, name = %self.name, dropped = written.dropped, error = ?error, "frames to the TAP dropped: the kernel refused the write");
    }
}

#[async_trait]
impl EthernetPort for TapPort {
    const KIND: &'static str = "TAP";

    async fn recv(&mut self) -> FromPort {
        if let Some(frame) = self.pending.pop_front() {
            return FromPort::Frame(frame);
        }
        tokio::select! {
            r = self.io.recv_batch(&self.tap, &mut self.batch) => match r {
                Ok(()) => {
                    if self.batch.refused > 0 {
                        self.link
                            .shared
                            .bad_offload
                            .fetch_add(self.batch.refused, Ordering::Relaxed);
                        let error = self.batch.last_error.take().map(|e| e.to_string()).unwrap_or_default();
                        tracing::debug!(guest = self.guest.0, name = %self.name, %error, "offloaded frame refused");
                        self.batch.refused = 0;
                    }
                    self.pending.extend(self.batch.frames.drain(..));
                    match self.pending.pop_front() {
                        Some(frame) => FromPort::Frame(frame),
                        None => FromPort::Idle,
                    }
                }
                Err(e) => FromPort::Ended(format!("TAP read failed: {e}")),
            },
            _ = self.check.tick() => {
                if !self.link.ns.watch.alive() {
                    FromPort::Ended(format!("the network namespace {:?} was deleted (or its last process exited)", self.link.ns.name))
                } else {
                    self.follow_name().await;
                    FromPort::Idle
                }
            }
        }
    }

    /// Never waits: a write the kernel refuses for now drops the frame, counted
    /// ([`tap_io`](super::tap_io)).
    async fn send(&mut self, frame: Bytes) -> io::Result<()> {
        let written = self.io.send(&self.tap, &frame)?;
        self.count_dropped(written);
        Ok(())
    }

    /// Runs of one flow's TCP segments go as one coalesced write ([`TapIo::send_batch`]);
    /// never waits, as [`send`](Self::send).
    async fn send_batch(&mut self, frames: &[Bytes]) -> io::Result<()> {
        let written = self.io.send_batch(&self.tap, frames)?;
        self.count_dropped(written);
        Ok(())
    }

    fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What the Mux would drop anyway is dropped here, so that a container flooding its TAP
    /// costs the driver (and the other guests) nothing.
    fn take_data(&mut self, src: MacAddr, associated: bool) -> bool {
        if src != self.station {
            self.link.shared.spoofed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if !associated {
            self.link
                .shared
                .not_associated
                .fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn answer_bad_control(&mut self) -> bool {
        self.link.shared.bad_inband.fetch_add(1, Ordering::Relaxed);
        if self.link.error_budget.take(std::time::Instant::now()) {
            return true;
        }
        self.link
            .shared
            .replies_suppressed
            .fetch_add(1, Ordering::Relaxed);
        false
    }

    async fn follow_link(&mut self, up: bool) {
        self.link.operstate(up, &self.name).await;
    }

    async fn close(&mut self) {
        let (guest, name) = (self.guest, self.name.clone());
        let outcome = if self.link.shared.detach.load(Ordering::Relaxed) {
            match self.link.delete().await {
                Ok(()) => {
                    tracing::info!(guest = guest.0, %name, "TAP deleted");
                    TapClosed::Deleted
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e, "cannot delete the TAP");
                    TapClosed::DeleteFailed(e.to_string())
                }
            }
        } else {
            // The daemon is stopping: the persistent TAP stays for its next start.
            self.link.operstate(false, &name).await;
            tracing::info!(guest = guest.0, %name, "TAP left for the next start");
            TapClosed::Left
        };
        self.link.shared.closed.send_replace(Some(outcome));
    }

    fn ended(&mut self, why: &str) {
        let shared = &self.link.shared;
        let stopping = why == super::ethernet::STOPPING;
        let by_daemon = stopping || shared.detach.load(Ordering::Relaxed);
        if by_daemon {
            tracing::warn!(guest = self.guest.0, name = %self.name, reason = %why, "attached namespace detached");
        } else if self.link.ns.watch.alive() {
            // Not a detach and the namespace lives on: the TAP went under the daemon (its
            // interface deleted in the container). The task attaches the namespace again.
            shared.lost.store(true, Ordering::Relaxed);
            tracing::warn!(guest = self.guest.0, name = %self.name, reason = %why, "the namespace's interface went under the daemon: attaching it again");
        } else {
            // The namespace itself is gone (its interface went with it): nothing to attach
            // again; the driver removes the guest and shows it in the status.
            shared.namespace_gone.store(true, Ordering::Relaxed);
            tracing::warn!(guest = self.guest.0, name = %self.name, reason = %why, "the attached network namespace went away under the daemon: its station is removed");
        }
    }
}

/// At most this many error replies per second to one TAP's bad in-band messages; the rest are
/// counted, not answered (a flood then costs one decode per frame).
pub(crate) const ERROR_REPLIES_PER_SECOND: u32 = 20;

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
    async fn delete(&mut self) -> io::Result<()> {
        let (rtnl, index) = (Arc::clone(&self.rtnl), self.index);
        tokio::task::spawn_blocking(move || {
            rtnl.lock()
                .map_err(|_| io::Error::other("netlink socket poisoned"))
                .and_then(|mut r| r.delete_link(index))
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_replies_are_limited_per_second() {
        let t0 = std::time::Instant::now();
        let mut b = Budget::new(3);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0 + std::time::Duration::from_millis(900)));
        assert!(b.take(t0 + std::time::Duration::from_millis(1000)));
    }
}
