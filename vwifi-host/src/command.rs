//! What the daemon's tasks (the ports, the control server) ask of the driver: [`Command`], and
//! what it answers. A leaf: it names only the core's types, the snapshot it replies with
//! ([`crate::api`]) and what a port shares with the driver ([`TapShared`]).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use vwifi_core::demux::GuestId;
use vwifi_core::io::PeerInfo;
use vwifi_core::mux::AdmitError;
use vwifi_core::proto::Message;
use vwifi_core::MacAddr;

use crate::api::Snapshot;

/// What the other tasks ask of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// A new link: admit its guest.
    Admit {
        /// Who connected.
        peer: PeerInfo,
        /// The guest, or why it was refused.
        reply: oneshot::Sender<Result<Admitted, AdmitError>>,
    },
    /// A message from a guest.
    Guest {
        /// The guest.
        guest: GuestId,
        /// Its message.
        msg: Message,
    },
    /// A run of a guest's data frames, in order (what one read of its port gave): one channel
    /// message and one wake-up of the driver for all of them, queued by the driver as that
    /// many [`Command::Guest`] data messages behind the guest's earlier ones (the guests'
    /// queues are served in turn: `driver::intake`).
    GuestData {
        /// The guest.
        guest: GuestId,
        /// Its frames (at most one read's batch).
        frames: Vec<Bytes>,
    },
    /// A guest's port wrote out most of its outbox while the driver kept messages back for
    /// it ([`LinkFlow::backlog`]): move them on, and let the guests held back by it go.
    Drained {
        /// The guest.
        guest: GuestId,
    },
    /// A guest's link ended.
    Gone {
        /// The guest.
        guest: GuestId,
    },
    /// The interface of a namespace's TAP was renamed in the container (its descriptor stays
    /// bound to it): record the new name, so that a restart takes the TAP up again under it.
    Renamed {
        /// The guest.
        guest: GuestId,
        /// The interface's name now.
        ifname: String,
    },
    /// A namespace whose interface went under the daemon could not be attached again: its
    /// record goes, as on `detach`.
    ReattachFailed {
        /// The namespace.
        netns: String,
    },
    /// `attach --netns`: admit the station of a network namespace (named `netns:NAME`).
    AdmitNetns {
        /// The namespace.
        netns: String,
        /// What the driver shares with the TAP's task (set on `detach`: the interface is
        /// deleted; counters of what the task dropped).
        shared: Arc<TapShared>,
        /// The guest and its station's address, or why not (already attached, radio full).
        reply: oneshot::Sender<Result<(Admitted, MacAddr), Refused>>,
    },
    /// A namespace's TAP is up and served: record the attachment, and rejoin the network
    /// recorded for it (after a restart).
    Attached {
        /// The guest.
        guest: GuestId,
        /// The namespace.
        netns: String,
        /// The interface in it.
        ifname: String,
    },
    /// `vhost-user`: admit the station of a VM named `name` (`vm:NAME`), unless a guest of
    /// that name is served already.
    AdmitNamed {
        /// The guest's name.
        name: String,
        /// The guest and its station's address, or why not.
        reply: oneshot::Sender<Result<(Admitted, MacAddr), Refused>>,
    },
    /// `detach --netns`: remove the station of a network namespace (its TAP goes with it).
    Detach {
        /// The namespace.
        netns: String,
        /// The guest removed and what it shared with its TAP's task (to wait for the TAP to
        /// be gone: [`TapShared::closed`]), or why not.
        reply: oneshot::Sender<Result<Detached, Refused>>,
    },
    /// `join` on the control socket: connect the station of an attached namespace to a
    /// network, and answer with the outcome (as the CNI plugin needs it: done when associated).
    Join {
        /// The namespace.
        netns: String,
        /// The network.
        ssid: vwifi_core::proto::Ssid,
        /// Only this access point, or any of the network.
        bssid: Option<MacAddr>,
        /// The secret, if the network has one.
        credentials: vwifi_core::proto::Credentials,
        /// The access point joined, or why not.
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    /// `attach --native`, before its radio is created: may the namespace get one (the daemon
    /// is the medium of hwsim radios, the namespace is not attached)?
    NativeCheck {
        /// The namespace.
        netns: String,
        /// Yes, or why not.
        reply: oneshot::Sender<Result<(), Refused>>,
    },
    /// `attach --native`: the radio created for a namespace (its wiphy and interface inside
    /// it already) joins the air; the driver keeps it (dropping it destroys the radio).
    NativeAttach {
        /// The namespace.
        netns: String,
        /// The radio and where it stands.
        radio: NativeRadio,
        /// Dropped by the driver when the namespace is detached (ends its watch).
        watch: oneshot::Sender<()>,
        /// Where it stands, or why it was refused (the radio is destroyed then).
        reply: oneshot::Sender<Result<(f64, f64), Refused>>,
    },
    /// `detach` of a namespace with a native radio (or its namespace gone): the driver hands
    /// the radio back for deletion; `None` if the namespace has no native radio.
    NativeDetach {
        /// The namespace.
        netns: String,
        /// The radio.
        reply: oneshot::Sender<Option<crate::hwsim::manage::OwnedRadio>>,
    },
    /// A VM's radio relay link said hello ([`crate::ports::relay`]).
    RelayOpen {
        /// The VM, for logs and the status.
        name: String,
        /// Its kernel's hwsim family id.
        family: u16,
        /// Messages for its kernel.
        tx: mpsc::Sender<Bytes>,
        /// The relay's id, or `None` if refused (no hwsim medium, 255 relays open).
        reply: oneshot::Sender<Option<u8>>,
    },
    /// One netlink datagram of a VM's kernel.
    RelayData {
        /// The relay.
        id: u8,
        /// The datagram, as the VM's kernel sent it.
        datagram: Bytes,
    },
    /// A VM's relay link ended: its radios leave the air.
    RelayGone {
        /// The relay.
        id: u8,
    },
    /// A frame from the uplink TAP (the wired side of the APs' bridge).
    Wired {
        /// The Ethernet frame.
        frame: bytes::Bytes,
    },
    /// The uplink TAP failed (why), or is back (`None`).
    UplinkDown {
        /// Why it is down, or `None` once it is served again.
        why: Option<String>,
    },
    /// The state, for the control socket.
    Snapshot {
        /// Where to send it.
        reply: oneshot::Sender<Snapshot>,
    },
    /// A runtime control of the simulated air (`sim_nodes`, `sim_move`, `sim_link`,
    /// `sim_ap`: [`crate::sim_control::serve`]), answered with its reply or error.
    Sim {
        /// The request.
        request: crate::api::Request,
        /// Where to send the answer.
        reply: oneshot::Sender<crate::api::Response>,
    },
    /// `capture`: subscribe to the frames on the air ([`crate::lab::capture`]).
    Capture {
        /// Only this channel's, or every channel's.
        channel: Option<vwifi_core::channel::Channel>,
        /// The subscription, or why not (a real card has no simulated air).
        reply: oneshot::Sender<Result<crate::lab::capture::Subscription, String>>,
    },
}

/// A radio created for a namespace (`attach --native`).
#[derive(Debug)]
pub(crate) struct NativeRadio {
    /// The kernel's radio (destroyed when dropped).
    pub(crate) owned: crate::hwsim::manage::OwnedRadio,
    /// Its interface in the namespace.
    pub(crate) ifname: String,
    /// Where it stands; `None`: where `[hwsim]` puts radios of its index.
    pub(crate) position: Option<[f64; 2]>,
}

/// The network a `join` reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Joined {
    /// The access point.
    pub(crate) bssid: MacAddr,
    /// Its channel.
    pub(crate) channel: u8,
}

/// Why a `join` did not end associated.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    /// The namespace is not attached.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The station could not join ([`ConnectFailure`](vwifi_core::proto::ConnectFailure): the
    /// control reply carries its code, for the client to explain).
    #[error("the connection failed: {0:?}")]
    Failed(vwifi_core::proto::ConnectFailure),
    /// Another connection was asked for the station (or it left) before this one ended.
    #[error(
        "another connection was asked for the station, or it was detached, before this one ended"
    )]
    Superseded,
}

/// A namespace's station removed by the driver: the guest, and what it shared with its TAP's
/// task (`None` if it had no TAP yet).
pub(crate) type Detached = (GuestId, Option<Arc<TapShared>>);

/// A guest admitted by the driver.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Its id in the Mux.
    pub(crate) guest: GuestId,
    /// Its name.
    pub(crate) name: String,
    /// The messages to write to its link.
    pub(crate) outbox: crate::outbox::OutboxReceiver,
    /// The back-pressure between the driver and the guest's port ([`LinkFlow`]).
    pub(crate) flow: Arc<LinkFlow>,
    /// On the nl80211 radio, for a namespace: its data stays in the kernel
    /// ([`crate::ports::kernel`]).
    pub(crate) kernel_port: Option<KernelPort>,
}

/// What the radio gives the attach of a namespace guest whose data stays in the kernel
/// ([`crate::ports::kernel`]).
#[derive(Debug)]
pub(crate) struct KernelPort {
    /// The index of the station's interface once its task created it (closed when the task
    /// ends).
    pub(crate) station_if: tokio::sync::watch::Receiver<Option<u32>>,
}

/// The back-pressure between the driver and one guest's port, both ways.
///
/// - The driver sets [`hold`](Self::hold) while the guest's data must wait: a guest it sends
///   to has messages kept back because its outbox is full, or its own station already has
///   many frames in the radio's queue. The port then stops reading the guest (its TAP, socket
///   or ring), so the guest's kernel queues, and TCP slows down, instead of frames being
///   dropped further on.
/// - The driver sets [`backlog`](Self::backlog) while it keeps messages back for this guest;
///   the port, once it has written out most of its outbox, clears it and sends
///   [`Command::Drained`] so that the driver moves them on without waiting for its next turn.
#[derive(Debug)]
pub(crate) struct LinkFlow {
    /// `true` while the port must not read the guest's data.
    pub(crate) hold: watch::Sender<bool>,
    /// `true` while the driver keeps messages back for this guest.
    pub(crate) backlog: AtomicBool,
    /// What the guest's port counts itself (drops at the port, stalls), for `status`; set by
    /// ports that count more than [`TapShared`] holds (vhost-user's device).
    pub(crate) port_counters: std::sync::OnceLock<Arc<dyn PortCounters>>,
}

/// Counters a port keeps about its guest, shown in `status` beside the driver's (name, value).
pub(crate) trait PortCounters: Send + Sync + std::fmt::Debug {
    /// The counters, each named for the status output (`vm_*`, `tap_*`).
    fn counters(&self) -> Vec<(String, u64)>;
}

impl Default for LinkFlow {
    fn default() -> Self {
        Self {
            hold: watch::Sender::new(false),
            backlog: AtomicBool::new(false),
            port_counters: std::sync::OnceLock::new(),
        }
    }
}

impl LinkFlow {
    /// After a write to the guest: whether the port should send [`Command::Drained`] now
    /// (messages are kept back and the outbox, of which `queued` are left, is at most half
    /// full of its `capacity`). Clears the flag when it says yes.
    pub(crate) fn drained(&self, queued: usize, capacity: usize) -> bool {
        queued <= capacity / 2
            && self
                .backlog
                .swap(false, std::sync::atomic::Ordering::AcqRel)
    }
}

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
    /// Of those, how many got no error reply (over [`ERROR_REPLIES_PER_SECOND`](crate::ports::netns::ERROR_REPLIES_PER_SECOND)).
    pub(crate) replies_suppressed: AtomicU64,
    /// Offloaded (GSO) frames refused: a bad virtio-net header, or segments too long for an
    /// MSDU.
    pub(crate) bad_offload: AtomicU64,
    /// Frames to the container dropped because the kernel refused the write for the moment
    /// (`EAGAIN`, `ENOBUFS`, `EIO` with the interface down...): the port never waits on it.
    pub(crate) write_dropped: AtomicU64,
    /// Set by the TAP's task when the TAP failed under it while its namespace lives on (the
    /// interface deleted in the container): the driver keeps the namespace's record and the
    /// task attaches the namespace again.
    pub(crate) lost: AtomicBool,
    /// Set by the TAP's task when its namespace went away under it (`ip netns del`, the last
    /// process exited): the driver removes the guest and says so in the status.
    pub(crate) namespace_gone: AtomicBool,
    /// The interface's name in its namespace, as attached and now (the container may rename
    /// it; the TAP's task follows it).
    pub(crate) ifname: std::sync::Mutex<IfNames>,
    /// How the TAP's task ended (`None` while it serves): `detach` waits for it, so that it
    /// returns once the interface is gone and an `attach` right after it finds the name free.
    pub(crate) closed: watch::Sender<Option<TapClosed>>,
}

/// An attached interface's name, as attached and now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IfNames {
    /// The name it was created (or taken up again) with.
    pub(crate) attached: String,
    /// Its name now (the container may have renamed it).
    pub(crate) now: String,
}

impl TapShared {
    /// The interface's names (empty before the TAP is up).
    pub(crate) fn names(&self) -> IfNames {
        self.ifname
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the interface's name now (and as attached, if `attached`); the name before.
    pub(crate) fn set_name(&self, name: &str, attached: bool) -> String {
        let mut names = self
            .ifname
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if attached {
            name.clone_into(&mut names.attached);
        }
        std::mem::replace(&mut names.now, name.to_owned())
    }
}

/// How a namespace's TAP task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TapClosed {
    /// `detach`: the interface was deleted.
    Deleted,
    /// `detach`: the interface could not be deleted (why); it may still be in the namespace.
    DeleteFailed(String),
    /// The daemon is stopping: the persistent TAP stays for its next start.
    Left,
    /// The task ended on its own (the TAP failed, the namespace went away).
    Ended,
}

/// Why the driver refused an attach or a detach (the operator reads it in the control reply).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    /// `attach --netns` of a namespace that is attached already.
    #[error("the network namespace {netns:?} is attached already")]
    AlreadyAttached {
        /// The namespace.
        netns: String,
    },
    /// `detach --netns` of a namespace that is not attached.
    #[error("the network namespace {netns:?} is not attached")]
    NotAttached {
        /// The namespace.
        netns: String,
    },
    /// A guest of that name is served already (a VM attached twice).
    #[error("a guest named {name:?} is served already")]
    NameTaken {
        /// The guest's name.
        name: String,
    },
    /// The radio refused the station (no room, an address in use).
    #[error(transparent)]
    Admit(#[from] AdmitError),
    /// The station was admitted but the radio does not know its address.
    #[error("the station vanished")]
    StationVanished,
    /// `attach --native` on a daemon that is not the medium of hwsim radios.
    #[error(
        "this daemon gives no radios to guests: start it with `vwifi-host run --hwsim` (or \
         [hwsim] in its configuration), with the module loaded (`modprobe mac80211_hwsim radios=0`)"
    )]
    NoHwsim,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_the_operator_must_know() {
        let cases = [
            (
                Refused::AlreadyAttached { netns: "c1".into() },
                "the network namespace \"c1\" is attached already",
            ),
            (
                Refused::NotAttached { netns: "c1".into() },
                "the network namespace \"c1\" is not attached",
            ),
            (
                Refused::NameTaken {
                    name: "vm:a".into(),
                },
                "a guest named \"vm:a\" is served already",
            ),
            (Refused::StationVanished, "the station vanished"),
        ];
        for (refused, text) in cases {
            assert_eq!(refused.to_string(), text);
        }
    }
}
