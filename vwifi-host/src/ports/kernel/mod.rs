//! The kernel data path of a namespace guest on the nl80211 radio: its frames never enter
//! user space.
//!
//! The container's interface (`wlan0`) is the inner end of a veth pair ([`veth`]) whose
//! outer end ([`outer_name`], in the daemon's namespace, address [`HOST_MAC`]) is
//! joined to the guest's station interface (`vwN`) by `clsact` filters
//! ([`vwifi_netlink::tc`]), all in the kernel:
//! - **to the air**: a `u32` filter at the outer end's ingress redirects the container's frames
//!   from its station address to `vwN` (`mirred`); the veth's own transmit queues each frame
//!   to the outer end's backlog first, one softirq pass that no filter can save;
//! - **from the air**: a BPF classifier at `vwN`'s ingress ([`vwifi_netlink::bpf`], ten
//!   instructions loaded with `bpf(2)`, held by a direct-action `bpf` filter) hands each frame
//!   with `bpf_redirect_peer` straight to the ingress of the container's `wlan0`, in the
//!   container's namespace and the same softirq: no backlog pass. Where it cannot be loaded or
//!   attached (no `CAP_BPF`, a kernel before 5.10, no `cls_bpf`) the daemon says why once and
//!   uses `u32` filters with a `mirred` redirect to the outer end instead (the veth then queues
//!   the frame to the container's backlog).
//!
//! Two kinds of frame are kept out of that path:
//! - **in-band control** (EtherType 0x88B5) from the station's address passes up the outer
//!   end to a packet socket bound to that EtherType there (the daemon then sees only control,
//!   never a copy of the data); the answers are written to the same socket, from
//!   [`HOST_MAC`] to the station's address; control from the air is dropped at
//!   `vwN` (by the classifier or a `u32` filter);
//! - **EAPOL** stays on the nl80211 control port (the kernel hands it to the station's task);
//!   an EAPOL frame that reaches `vwN` all the same is dropped there.
//!
//! Frames from any other source address are dropped at the outer end (a container cannot
//! speak for another station, nor reach the host's stack through the veth).
//!
//! # Link state, restart, detach
//! As for the TAP of the user-space path ([`super::netns`]): the inner end is `dormant` until
//! the station is associated, `up` while it is. The pair outlives the daemon (the container
//! keeps its addresses and routes; the filters stay and drop what they cannot redirect; the
//! classifier lives as long as the filter holding it): a restarted daemon finds the inner end
//! by name, takes it if it is a veth with the station's address, and joins it to the new `vwN`
//! (its filters set afresh, the classifier loaded again). `detach` deletes the pair; so does the namespace's
//! deletion (checked every [`NAMESPACE_CHECK`]).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use vwifi_core::demux::GuestId;
use vwifi_core::io::LinkError;
use vwifi_core::proto::{self, Event, Message, ETHERTYPE};
use vwifi_core::MacAddr;

pub(crate) mod veth;

use veth::{create_pair, outer_name, PortError};
use vwifi_core::proto::inband::{frame_truncating, ETH_HEADER_LEN};
use vwifi_netlink::{tc, Rtnl};

use super::ethernet::HOST_MAC;
use super::io_errors::read_timed_out;
use super::netns::AttachError;
use super::netns::{NamespaceId, NAMESPACE_CHECK};
use crate::api::Attachment;
use crate::command::{Admitted, Command, TapClosed, TapShared};
use crate::outbox::OutboxReceiver;

/// Whether the daemon said once why the receive direction uses `mirred`, not the classifier.
static MIRRED_TOLD: AtomicBool = AtomicBool::new(false);
/// How long the control socket's reader waits before it checks whether to stop.
const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// Control messages from the guest waiting for the port's task.
const FROM_GUEST_QUEUE: usize = 64;

pub(crate) use crate::command::KernelPort;

type ControlTx = Box<dyn pnet_datalink::DataLinkSender>;
type ControlRx = Box<dyn pnet_datalink::DataLinkReceiver>;

/// A packet socket on the outer end for EtherType 0x88B5 only (it sees no data, and no frame
/// the outer end sends): what it sends goes to `station`.
fn open_control(
    ifname: &str,
    index: u32,
    station: MacAddr,
) -> Result<(ControlTx, ControlRx), PortError> {
    let iface = pnet_datalink::NetworkInterface {
        name: ifname.to_owned(),
        description: String::new(),
        index,
        mac: Some(pnet_datalink::MacAddr::from(station.0)),
        ips: Vec::new(),
        flags: 0,
    };
    let cfg = pnet_datalink::Config {
        read_timeout: Some(READ_TIMEOUT),
        channel_type: pnet_datalink::ChannelType::Layer3(ETHERTYPE),
        ..pnet_datalink::Config::default()
    };
    let err = |source| PortError::Socket {
        ifname: ifname.to_owned(),
        source,
    };
    match pnet_datalink::channel(&iface, cfg).map_err(err)? {
        pnet_datalink::Channel::Ethernet(tx, rx) => Ok((tx, rx)),
        _ => Err(err(io::Error::other("not a packet channel"))),
    }
}

/// Reads the guest's control messages (the payloads after the Ethernet header) on a thread of
/// its own until `stop` or the socket fails (the interface went away).
fn spawn_reader(
    mut rx: ControlRx,
    name: String,
    to_port: mpsc::Sender<Vec<u8>>,
    stop: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new()
        .name(format!("vwifi-ctl-{name}"))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match rx.next() {
                    Ok(payload) => {
                        if to_port.blocking_send(payload.to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if read_timed_out(&e) => {}
                    Err(e) => {
                        tracing::debug!(%name, error = %e, "control socket closed");
                        break;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the control socket's reader");
    }
}

/// Attaches namespace `netns` on the kernel data path: the veth pair, its control socket, and
/// the task that serves it. The error is the message for the operator.
pub(crate) async fn attach(
    cmds: &mpsc::Sender<Command>,
    adm: Admitted,
    mac: MacAddr,
    netns: String,
    ifname: String,
    shared: Arc<TapShared>,
    port: KernelPort,
) -> Result<Attachment, AttachError> {
    let (ns, ifn) = (netns.clone(), ifname.clone());
    let outer_if = outer_name(mac);
    let created = tokio::task::spawn_blocking(move || {
        let pair = create_pair(&ns, &ifn, mac)?;
        let (tx, rx) = open_control(&outer_name(mac), pair.outer, mac)?;
        Ok::<_, PortError>((pair, tx, rx))
    })
    .await
    .map_err(AttachError::Task)
    .and_then(|r| r.map_err(AttachError::KernelPort));
    let (pair, tx, rx) = match created {
        Ok(c) => c,
        Err(e) => {
            let message = crate::error_text::error_chain(&e);
            tracing::warn!(%netns, %ifname, error = %message, "attach failed");
            let _ = cmds.send(Command::Gone { guest: adm.guest }).await;
            return Err(e);
        }
    };
    tracing::info!(guest = adm.guest.0, %netns, %ifname, outer = %outer_if, %mac, reopened = pair.reopened, "network namespace attached (kernel data path)");
    let stop = Arc::new(AtomicBool::new(false));
    let (to_port, from_guest) = mpsc::channel(FROM_GUEST_QUEUE);
    spawn_reader(rx, outer_if.clone(), to_port, Arc::clone(&stop));
    let served = Served {
        guest: adm.guest,
        name: adm.name,
        netns: netns.clone(),
        ifname: ifname.clone(),
        outer_if,
        station: mac,
        outer: pair.outer,
        inner: pair.inner,
        id: pair.id,
        ns_route: Arc::new(Mutex::new(pair.ns_route)),
        route: Arc::new(Mutex::new(pair.route)),
        shared,
        tx,
        up: Some(false),
        budget: Budget::default(),
    };
    tokio::spawn(served.run(from_guest, adm.outbox, port.station_if, cmds.clone(), stop));
    cmds.send(Command::Attached {
        guest: adm.guest,
        netns: netns.clone(),
        ifname: ifname.clone(),
    })
    .await
    .map_err(|_| AttachError::Stopping)?;
    Ok(Attachment {
        netns,
        ifname,
        mac: mac.to_string(),
        guest: adm.guest.0,
    })
}

/// At most this many error replies a second to bad in-band messages (as on the TAP).
const ERROR_REPLIES_PER_SECOND: u32 = super::netns::ERROR_REPLIES_PER_SECOND;

/// Error replies left in the current second.
#[derive(Debug, Default)]
struct Budget {
    since: Option<Instant>,
    used: u32,
}

impl Budget {
    fn take(&mut self, now: Instant) -> bool {
        if self
            .since
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            self.since = Some(now);
            self.used = 0;
        }
        self.used += 1;
        self.used <= ERROR_REPLIES_PER_SECOND
    }
}

/// One attached namespace on the kernel data path, as its task holds it.
struct Served {
    guest: GuestId,
    name: String,
    netns: String,
    ifname: String,
    outer_if: String,
    station: MacAddr,
    outer: u32,
    inner: u32,
    id: NamespaceId,
    ns_route: Arc<Mutex<Rtnl>>,
    route: Arc<Mutex<Rtnl>>,
    shared: Arc<TapShared>,
    tx: ControlTx,
    /// The operational state last set (`true`: up).
    up: Option<bool>,
    budget: Budget,
}

/// Runs `f` on a route socket off the runtime (the kernel's answer may wait for its lock).
async fn with_route<T: Send + 'static>(
    route: &Arc<Mutex<Rtnl>>,
    f: impl FnOnce(&mut Rtnl) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let route = Arc::clone(route);
    tokio::task::spawn_blocking(move || {
        route
            .lock()
            .map_err(|_| io::Error::other("netlink socket poisoned"))
            .and_then(|mut r| f(&mut r))
    })
    .await
    .map_err(io::Error::other)
    .and_then(|r| r)
}

impl Served {
    async fn run(
        mut self,
        mut from_guest: mpsc::Receiver<Vec<u8>>,
        mut outbox: OutboxReceiver,
        mut station_if: watch::Receiver<Option<u32>>,
        cmds: mpsc::Sender<Command>,
        stop: Arc<AtomicBool>,
    ) {
        let mut check = tokio::time::interval(NAMESPACE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut station_open = true;
        // The station's interface may exist already.
        let ready = *station_if.borrow_and_update();
        if let Some(index) = ready {
            self.join(index).await;
        }
        let why: String = loop {
            tokio::select! {
                payload = from_guest.recv() => match payload {
                    Some(payload) => {
                        if let Some(msg) = self.guest_control(&payload) {
                            if cmds.send(Command::Guest { guest: self.guest, msg }).await.is_err() {
                                break "the daemon is stopping".into();
                            }
                        }
                    }
                    None => break format!("the interface {} is gone", self.outer_if),
                },
                msg = outbox.recv() => match msg {
                    // The data never passes here.
                    Some(Message::Data(_)) => {}
                    Some(msg) => self.tell_guest(msg).await,
                    None => {
                        stop.store(true, Ordering::Relaxed);
                        // A `detach` waits for this outcome (as for the TAP path).
                        let outcome = if self.shared.detach.load(Ordering::Relaxed) {
                            match self.delete().await {
                                Ok(()) => {
                                    tracing::info!(guest = self.guest.0, ifname = %self.ifname, "veth pair deleted");
                                    TapClosed::Deleted
                                }
                                Err(e) => TapClosed::DeleteFailed(e.to_string()),
                            }
                        } else {
                            // The daemon is stopping: the pair stays for its next start.
                            self.operstate(false).await;
                            tracing::info!(guest = self.guest.0, ifname = %self.ifname, "veth pair left for the next start");
                            TapClosed::Left
                        };
                        self.shared.closed.send_replace(Some(outcome));
                        return;
                    }
                },
                changed = station_if.changed(), if station_open => match changed {
                    Ok(()) => {
                        let index = *station_if.borrow_and_update();
                        if let Some(index) = index {
                            self.join(index).await;
                        }
                    }
                    Err(_) => station_open = false,
                },
                _ = check.tick() => {
                    if NamespaceId::of(&self.netns) != Some(self.id) {
                        let _ = self.delete().await;
                        break format!("the network namespace {:?} was deleted", self.netns);
                    }
                }
            }
        };
        stop.store(true, Ordering::Relaxed);
        self.shared.closed.send_replace(Some(TapClosed::Ended));
        tracing::warn!(guest = self.guest.0, name = %self.name, reason = %why, "attached namespace detached");
        let _ = cmds.send(Command::Gone { guest: self.guest }).await;
    }

    /// Joins the outer end to the station's interface `index`.
    async fn join(&mut self, index: u32) {
        let (outer, station) = (self.outer, self.station);
        let joined = with_route(&self.route, move |r| {
            let receive = tc::join(r, outer, station, index)?;
            r.set_allmulti(index)?;
            Ok(receive)
        });
        match joined.await {
            Ok(receive) => {
                let peer = matches!(receive, tc::Receive::Peer);
                if let tc::Receive::Mirred(why) = receive {
                    if !MIRRED_TOLD.swap(true, Ordering::Relaxed) {
                        tracing::warn!(reason = %why, "the kernel data path takes frames to namespace guests through tc mirred (a backlog pass more): its BPF classifier cannot be used");
                    }
                }
                tracing::info!(guest = self.guest.0, outer = %self.outer_if, station_if = index, receive = if peer { "bpf_redirect_peer" } else { "mirred" }, "kernel data path joined")
            }
            Err(e) => tracing::error!(
                guest = self.guest.0,
                outer = %self.outer_if,
                error = %e,
                "cannot join the guest's veth to its station interface (the kernel needs sch_ingress, cls_u32, act_gact and act_mirred)"
            ),
        }
    }

    /// A control message from the guest, or `None` (a bad one is answered, within budget).
    fn guest_control(&mut self, payload: &[u8]) -> Option<Message> {
        match proto::decode(payload) {
            Ok((msg, _)) => Some(msg),
            Err(error) => {
                let e = LinkError::BadMessage {
                    id: proto::Header::parse(payload)
                        .ok()
                        .and_then(|h| h.request_id()),
                    error,
                };
                tracing::debug!(guest = self.guest.0, error = %e, "bad in-band message");
                self.shared.bad_inband.fetch_add(1, Ordering::Relaxed);
                if !self.budget.take(Instant::now()) {
                    self.shared
                        .replies_suppressed
                        .fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                if let Some(reply) = e.error_reply() {
                    self.send(reply);
                }
                None
            }
        }
    }

    /// A message for the guest: the link state follows the association (set before the guest
    /// hears of it).
    async fn tell_guest(&mut self, msg: Message) {
        if let Message::Event(e) = &msg {
            match e {
                Event::Connected { .. } => self.operstate(true).await,
                Event::Disconnected { .. } | Event::ConnectFailed { .. } => {
                    self.operstate(false).await
                }
                _ => {}
            }
        }
        self.send(msg);
    }

    /// Writes one control message (a frame that cannot be built is logged and dropped).
    fn send(&mut self, msg: Message) {
        match frame_truncating(msg, HOST_MAC, self.station) {
            Ok((frame, cut)) => {
                if cut > 0 {
                    tracing::info!(ifname = %self.ifname, cut, "scan result cut to fit one frame");
                }
                // The socket adds the Ethernet header itself (to the station, from the outer end).
                let payload = frame.get(ETH_HEADER_LEN..).unwrap_or_default();
                if let Some(Err(e)) = self.tx.send_to(payload, None) {
                    tracing::debug!(ifname = %self.ifname, error = %e, "control frame not sent");
                }
            }
            Err(e) => {
                tracing::warn!(ifname = %self.ifname, error = %e, "control message dropped: it does not fit a frame")
            }
        }
    }

    async fn operstate(&mut self, up: bool) {
        if self.up == Some(up) {
            return;
        }
        let inner = self.inner;
        match with_route(&self.ns_route, move |r| r.set_operstate(inner, up)).await {
            Ok(()) => {
                self.up = Some(up);
                tracing::debug!(ifname = %self.ifname, up, "link state set");
            }
            Err(e) => {
                self.up = None;
                tracing::warn!(ifname = %self.ifname, up, error = %e, "cannot set the link state");
            }
        }
    }

    /// Deletes the pair (through its inner end: the namespace may hold it alone).
    async fn delete(&mut self) -> std::io::Result<()> {
        let inner = self.inner;
        let result = with_route(&self.ns_route, move |r| r.delete_link(inner)).await;
        if let Err(e) = &result {
            tracing::warn!(ifname = %self.ifname, error = %e, "cannot delete the veth pair");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_are_limited_per_second() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        assert!((0..ERROR_REPLIES_PER_SECOND).all(|_| b.take(t0)));
        assert!(!b.take(t0 + Duration::from_millis(900)));
        assert!(b.take(t0 + Duration::from_secs(1)));
    }
}
