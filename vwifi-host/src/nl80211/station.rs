//! One guest's station on a real card: its own kernel interface, joins through the kernel's
//! MLME, vwifi's own supplicant over the nl80211 control port, and a packet socket for data.
//!
//! Each station is one tokio task ([`run`]) with its own nl80211 socket. The socket
//! - creates the station's interface (`NEW_INTERFACE` with the station's MAC and
//!   `SOCKET_OWNER`: the kernel deletes the interface when the socket closes, so a daemon that
//!   dies, even by SIGKILL, leaves no interface behind);
//! - issues `CONNECT` with `SOCKET_OWNER` and `CONTROL_PORT_OVER_NL80211`, so the AP's EAPOL
//!   frames arrive on it as `CONTROL_PORT_FRAME` and the replies leave the same way;
//! - listens to the `mlme` and `scan` multicast groups, keeping the events of its interface.
//!
//! A receive thread per station ([`spawn_rx`]) reads the interface's packet socket and hands
//! the frames to the driver; frames from the guest are written to the same socket by the
//! driver's thread ([`DataPath::send_batch`]). The socket is batched ([`super::packet_ring`]): the
//! thread wakes as soon as a frame is in a slot of a `TPACKET_V2` ring, takes every slot that is
//! ready by then in one pass, copies their frames into one buffer and hands them over together;
//! a batch of the guest's frames leaves with one `sendmmsg`. A kernel that refuses the ring gets pnet's socket instead (one frame per call),
//! with one warning saying why.

use core::time::Duration;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use rand_core::OsRng;
use tokio::sync::{mpsc, watch};
use vwifi_core::crypto::derive_psk;
use vwifi_core::demux::GuestId;
use vwifi_core::handshake::SupplicantConfig;
use vwifi_core::kernel_sta::{
    plan, security_mismatch, Command, Join, JoinAuth, JoinRequest, JoinScans, KernelSta,
    KernelStaOutput, Plan, Target, HANDSHAKE_TIMEOUT, REASON_LEAVING,
};
use vwifi_core::proto::{
    self, Capabilities, ConnectFailure, Counters, ErrorCode, Event, Message, RequestId, Ssid,
    StationState, StationStatus,
};
use vwifi_core::{Instant, MacAddr};

use super::consts as c;
use super::genl::{as_u16, cmd, find, ifindex, top_attrs, Attr, Family, Genl, Reply};
use super::packet_ring::{self, read_slot, PacketSocket, RxRing};
use wpa3::SaeJoin;

mod wpa3;
use super::scan::{best, own_rsne, parse_entry, ScanEntry};
use super::Nl80211Error;

/// How long a scan may take before it is given up. A card with another interface connected
/// scans off-channel in short visits between its returns to the operating channel, and a full
/// scan then took about 20 s on the harness's hwsim cards: 25 s leaves room for that and still
/// answers before the guest's own wait for the reply (30 s) ends.
const SCAN_TIMEOUT: Duration = Duration::from_secs(25);
/// How often the signal of a connected station is read.
const SIGNAL_PERIOD: Duration = Duration::from_secs(2);
/// `ENODEV`: a request named an interface that is gone.
const ENODEV: i32 = 19;
/// `EEXIST` and `ENFILE`: what `NEW_INTERFACE` says when another interface has the name.
const EEXIST: i32 = 17;
const ENFILE: i32 = 23;
/// The pause before another try at recreating a deleted station interface.
const RECREATE_RETRY: Duration = Duration::from_secs(2);

/// What the station's task shares with the radio and the other stations.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The nl80211 family.
    pub(crate) family: Family,
    /// The card's wiphy index.
    pub(crate) wiphy: u32,
    /// Whether the card carries EAPOL over nl80211.
    pub(crate) control_port_over_nl80211: bool,
    /// Held for the whole of a scan: the card scans for one station at a time.
    pub(crate) scan_lock: tokio::sync::Mutex<()>,
    /// Messages for guests (events, replies, received data), to the driver.
    pub(crate) to_guests: mpsc::Sender<(GuestId, Message)>,
    /// The station interfaces on the card (index and data path), for guests that share one
    /// ([`super::follower`]).
    pub(crate) links: Mutex<Vec<(u32, Arc<DataPath>)>>,
}

/// The network a station's interface is connected to, for guests that would share it.
#[derive(Clone)]
pub(crate) struct LinkInfo {
    /// The network.
    pub(crate) ssid: Ssid,
    /// The AP.
    pub(crate) bssid: MacAddr,
    /// Its channel.
    pub(crate) channel: u8,
    /// What a sharing guest must prove it knows ([`Secret`]).
    pub(crate) secret: Secret,
}

/// The credential a join used, tagged with how it was used: a guest sharing the association
/// must give the same (the PSK, the SAE password, or nothing on an open network).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Secret {
    /// An open network.
    Open,
    /// WPA2-PSK with this PSK.
    Psk(zeroize::Zeroizing<[u8; 32]>),
    /// SAE with this password.
    Sae(zeroize::Zeroizing<Vec<u8>>),
}

impl Secret {
    /// Whether `other` is the same secret, compared without an early exit.
    pub(crate) fn matches(&self, other: &Self) -> bool {
        fn same(a: &[u8], b: &[u8]) -> bool {
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        }
        match (self, other) {
            (Self::Open, Self::Open) => true,
            (Self::Psk(a), Self::Psk(b)) => same(&a[..], &b[..]),
            (Self::Sae(a), Self::Sae(b)) => same(a, b),
            _ => false,
        }
    }
}

impl std::fmt::Debug for LinkInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkInfo")
            .field("ssid", &self.ssid)
            .field("bssid", &self.bssid)
            .finish_non_exhaustive()
    }
}

/// The traffic counters of one station, shared by its task, its receive thread and the driver.
#[derive(Debug, Default)]
pub(crate) struct DataCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    tx_dropped: AtomicU64,
}

impl DataCounters {
    fn snapshot(&self) -> Counters {
        Counters {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            rx_dropped: self.rx_dropped.load(Ordering::Relaxed),
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
        }
    }
}

/// The data path of one station, shared by its task (which opens it) and the driver (which
/// sends the guest's frames). On the kernel data path ([`crate::ports::kernel`]) no frame passes here:
/// the station's interface index is published for the guest's port instead.
pub(crate) struct DataPath {
    tx: Mutex<Option<Tx>>,
    /// The station interface's index, once created (the kernel data path joins it).
    pub(crate) station_if: watch::Sender<Option<u32>>,
    /// Whether the port is open (connected; keys installed and the station authorized).
    pub(crate) open: AtomicBool,
    /// Ends the receive thread.
    stop: AtomicBool,
    /// Its counters.
    pub(crate) counters: DataCounters,
    /// The guests behind the interface when it is shared (`[radio] max_interfaces`).
    pub(crate) bridge: Mutex<Option<super::bridge::Table>>,
    /// The network the interface is connected to (set while connected).
    pub(crate) link: Mutex<Option<LinkInfo>>,
    /// How often the station's interface was deleted under the daemon and recreated.
    pub(crate) recreated: AtomicU64,
    /// Why the station has no interface, while it recreates it.
    pub(crate) lost: Mutex<Option<String>>,
    /// The interface's generation: a receive thread of an earlier one ends.
    generation: AtomicU64,
}

impl Default for DataPath {
    fn default() -> Self {
        Self {
            tx: Mutex::new(None),
            station_if: watch::Sender::new(None),
            open: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            counters: DataCounters::default(),
            bridge: Mutex::new(None),
            link: Mutex::new(None),
            recreated: AtomicU64::new(0),
            lost: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for DataPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPath")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl DataPath {
    /// Sends one Ethernet frame of the guest whose station has address `mac`
    /// ([`DataPath::send_batch`]).
    pub(crate) fn send(&self, mac: MacAddr, frame: &[u8]) {
        self.send_batch(mac, &[frame]);
    }

    /// Sends Ethernet frames of the guest whose station has address `mac`, in order, with as
    /// few system calls as the socket allows (one `sendmmsg` per batch on the ring's socket):
    /// only when connected, only with the station's own source address, never EAPOL or
    /// vwifi's control EtherType. A refused or failed frame is counted as dropped.
    pub(crate) fn send_batch<F: AsRef<[u8]>>(&self, mac: MacAddr, frames: &[F]) {
        let open = self.open.load(Ordering::Relaxed);
        let out: Vec<&[u8]> = frames
            .iter()
            .map(AsRef::as_ref)
            .filter(|frame| {
                let src_ok = frame.get(6..12) == Some(&mac.octets()[..]);
                let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
                open && src_ok
                    && !matches!(
                        ethertype,
                        None | Some(c::ETH_P_PAE) | Some(proto::ETHERTYPE)
                    )
            })
            .collect();
        // The owner's addresses are learned even before anyone shares its interface, so that
        // its unicast finds it once someone does.
        if !out.is_empty() {
            if let Ok(mut b) = self.bridge.lock() {
                if let Some(t) = b.as_mut() {
                    for frame in &out {
                        t.owner_out(frame);
                    }
                }
            }
        }
        let (packets, bytes) = if out.is_empty() {
            (0, 0)
        } else {
            self.tx
                .lock()
                .ok()
                .and_then(|mut tx| tx.as_mut().map(|tx| tx.send(&out)))
                .unwrap_or((0, 0))
        };
        let ctr = &self.counters;
        ctr.tx_packets.fetch_add(packets, Ordering::Relaxed);
        ctr.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        let dropped = (frames.len() as u64).saturating_sub(packets);
        if dropped > 0 {
            ctr.tx_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Sends a frame of `guest`, which shares this interface: translated by the bridge, only
    /// while connected. A refused frame is dropped.
    pub(crate) fn send_shared(&self, guest: GuestId, frame: &[u8]) {
        let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
        if !self.open.load(Ordering::Relaxed)
            || matches!(
                ethertype,
                None | Some(c::ETH_P_PAE) | Some(proto::ETHERTYPE)
            )
        {
            return;
        }
        let mut out = frame.to_vec();
        let ok = self
            .bridge
            .lock()
            .ok()
            .and_then(|mut b| b.as_mut().map(|t| t.outbound(guest, &mut out)))
            .unwrap_or(false);
        if ok {
            if let Ok(mut tx) = self.tx.lock() {
                if let Some(tx) = tx.as_mut() {
                    let _ = tx.send(&[&out]);
                }
            }
        }
    }

    /// The guests sharing this interface besides its owner, taken out of the bridge (the
    /// link went down); the network forgotten.
    pub(crate) fn unshare(&self) -> Vec<GuestId> {
        if let Ok(mut l) = self.link.lock() {
            *l = None;
        }
        self.bridge
            .lock()
            .ok()
            .and_then(|mut b| b.as_mut().map(super::bridge::Table::clear))
            .unwrap_or_default()
    }

    /// Ends the receive thread (at its next read timeout).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.open.store(false, Ordering::Relaxed);
    }
}

/// Who the station is.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The guest.
    pub(crate) guest: GuestId,
    /// The station's address (the interface's).
    pub(crate) mac: MacAddr,
    /// The kernel interface's name.
    pub(crate) ifname: String,
    /// Whether the guest's data stays in the kernel ([`crate::ports::kernel`]): no packet socket.
    pub(crate) kernel_port: bool,
}

/// The station's task state.
struct Sta {
    spec: Spec,
    shared: Arc<Shared>,
    nl: Genl,
    ifindex: u32,
    /// The join's decisions ([`vwifi_core::kernel_sta`]): this task carries them out.
    m: KernelSta<OsRng>,
    /// The SAE part of a WPA3 join, while it authenticates ([`wpa3`]).
    sae: Option<Box<SaeJoin>>,
    signal: Option<i8>,
    rate_kbps: Option<u32>,
    data: Arc<DataPath>,
    status: watch::Sender<StationStatus>,
    clock: tokio::time::Instant,
    /// The IGTK last installed (key ID and key), so that a group rekey installs a new one once.
    igtk: Option<(u16, [u8; 16])>,
    /// The credential of the join in progress or done, for guests that would share it.
    secret: Option<Secret>,
    /// PMKSAs of earlier SAE joins, so that a reconnect skips SAE ([`wpa3`]).
    pmksa: vwifi_core::handshake::sae::PmksaCache,
    /// The SAE password the cache's entries were made with (another password empties it).
    pmksa_for: Option<Secret>,
    /// The interface is gone (a `DEL_INTERFACE` event, or a request told `ENODEV`).
    gone: bool,
    /// While the interface is being recreated: when to try again, and what to rejoin then.
    recreating: Option<Recreating>,
}

/// A deleted interface not recreated yet.
#[derive(Debug)]
struct Recreating {
    retry_at: tokio::time::Instant,
    rejoin: Option<JoinRequest>,
}
/// Runs one station until its guest goes (`cmds` closes). The interface is created first; if
/// that fails the guest is told why and the task ends.
pub(crate) async fn run(
    spec: Spec,
    shared: Arc<Shared>,
    mut cmds: mpsc::UnboundedReceiver<Message>,
    data: Arc<DataPath>,
    status: watch::Sender<StationStatus>,
) {
    let guest = spec.guest;
    let ifname = spec.ifname.clone();
    let mut sta = match Sta::start(spec, shared.clone(), data.clone(), status).await {
        Ok(sta) => sta,
        Err(e) => {
            tracing::warn!(guest = guest.0, %ifname, error = %super::error_chain(&e), "station interface not created");
            let _ = shared
                .to_guests
                .send((
                    guest,
                    Message::Error {
                        id: None,
                        code: ErrorCode::RadioUnavailable,
                        text: Some(truncate(format!("the station's interface: {e}"))),
                    },
                ))
                .await;
            // Answer what comes until the guest goes.
            while let Some(msg) = cmds.recv().await {
                if let Some(id) = msg.request_id() {
                    let _ = shared
                        .to_guests
                        .send((
                            guest,
                            Message::Error {
                                id: Some(id),
                                code: ErrorCode::RadioUnavailable,
                                text: Some("the station has no interface".into()),
                            },
                        ))
                        .await;
                }
            }
            return;
        }
    };
    tracing::info!(guest = guest.0, ifname = %sta.spec.ifname, ifindex = sta.ifindex, mac = %sta.spec.mac, "station interface created");
    loop {
        let wake = sta.next_wake();
        tokio::select! {
            msg = cmds.recv() => match msg {
                Some(msg) => sta.guest_message(msg).await,
                None => break,
            },
            r = sta.nl.recv() => match r {
                Ok(r) => sta.kernel(r).await,
                Err(e) => {
                    tracing::warn!(guest = guest.0, error = %e, "nl80211 socket failed; station ends");
                    break;
                }
            },
            () = tokio::time::sleep_until(wake) => sta.timer().await,
        }
        if sta.gone {
            sta.recover().await;
        }
    }
    sta.leave().await;
    data.stop();
    if let Ok(mut links) = shared.links.lock() {
        links.retain(|(_, d)| !Arc::ptr_eq(d, &data));
    }
    tracing::info!(guest = guest.0, ifname = %sta.spec.ifname, "station removed");
    // Dropping the socket deletes the interface (SOCKET_OWNER); delete it now all the same.
    let _ = sta
        .nl
        .request(
            "DEL_INTERFACE",
            c::CMD_DEL_INTERFACE,
            &[Attr::u32(c::ATTR_IFINDEX, sta.ifindex)],
            false,
        )
        .await;
}

/// Creates the station's interface on the card with `nl` (`NEW_INTERFACE`, the station's MAC,
/// `SOCKET_OWNER`), sets it up and opens its data path: the kernel port is told its index, or
/// a packet socket and its receive thread are opened. Returns the interface's index.
async fn create_interface(
    nl: &mut Genl,
    shared: &Arc<Shared>,
    spec: &Spec,
    data: &Arc<DataPath>,
) -> Result<u32, Nl80211Error> {
    let created = nl
        .request(
            "NEW_INTERFACE",
            c::CMD_NEW_INTERFACE,
            &[
                Attr::u32(c::ATTR_WIPHY, shared.wiphy),
                Attr::string(c::ATTR_IFNAME, &spec.ifname),
                Attr::u32(c::ATTR_IFTYPE, u32::from(c::IFTYPE_STATION)),
                Attr::bytes(c::ATTR_MAC, &spec.mac.octets()),
                Attr::flag(c::ATTR_SOCKET_OWNER),
            ],
            false,
        )
        .await?;
    let ifindex = created
        .iter()
        .find_map(ifindex)
        .ok_or(Nl80211Error::Malformed {
            what: "NEW_INTERFACE reply",
            attr: "IFINDEX",
        })?;
    if let Err(e) = open_data_path(shared, spec, data, ifindex) {
        let _ = nl
            .request(
                "DEL_INTERFACE",
                c::CMD_DEL_INTERFACE,
                &[Attr::u32(c::ATTR_IFINDEX, ifindex)],
                false,
            )
            .await;
        return Err(e);
    }
    Ok(ifindex)
}

/// Sets the new interface `ifindex` up and opens its data path (see [`create_interface`]).
fn open_data_path(
    shared: &Arc<Shared>,
    spec: &Spec,
    data: &Arc<DataPath>,
    ifindex: u32,
) -> Result<(), Nl80211Error> {
    // The guest's own stack is the only one on this link: the host's must stay silent
    // (an IPv6 link-local address here would collide with the guest's).
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", spec.ifname),
        "1",
    );
    super::set_link_up(ifindex)?;
    if let Ok(mut b) = data.bridge.lock() {
        *b = Some(super::bridge::Table::new(spec.mac, spec.guest));
    }
    if spec.kernel_port {
        data.station_if.send_replace(Some(ifindex));
    } else {
        let (tx, rx) = open_packet_socket(&spec.ifname, ifindex)?;
        if let Ok(mut slot) = data.tx.lock() {
            *slot = Some(tx);
        }
        spawn_rx(rx, spec.clone(), shared.to_guests.clone(), data.clone());
    }
    // Listed last: an interface whose data path failed is deleted again, never listed.
    if let Ok(mut links) = shared.links.lock() {
        links.push((ifindex, data.clone()));
    }
    Ok(())
}

fn truncate(mut s: String) -> String {
    while s.len() > proto::MAX_ERROR_TEXT_LEN {
        s.pop();
    }
    s
}

impl Sta {
    async fn start(
        spec: Spec,
        shared: Arc<Shared>,
        data: Arc<DataPath>,
        status: watch::Sender<StationStatus>,
    ) -> Result<Self, Nl80211Error> {
        let fam = shared.family;
        let mut nl = Genl::open(&fam, &[fam.mlme, fam.scan, fam.config])?;
        let ifindex = create_interface(&mut nl, &shared, &spec, &data).await?;
        let sta = Self {
            spec,
            shared,
            nl,
            ifindex,
            m: KernelSta::new(OsRng),
            sae: None,
            signal: None,
            rate_kbps: None,
            data,
            status,
            clock: tokio::time::Instant::now(),
            igtk: None,
            secret: None,
            pmksa: wpa3::pmksa_cache(),
            pmksa_for: None,
            gone: false,
            recreating: None,
        };
        sta.publish(StationState::Idle);
        Ok(sta)
    }

    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.clock + Duration::from_micros(t.as_micros())
    }

    async fn tell(&self, msg: Message) {
        let _ = self.shared.to_guests.send((self.spec.guest, msg)).await;
    }

    /// The link went down: the guests sharing the interface are told they are disconnected
    /// (`locally`: this side left).
    async fn unshare(&mut self, locally: bool) {
        for g in self.data.unshare() {
            tracing::info!(
                guest = g.0,
                owner = self.spec.guest.0,
                "the shared link went down"
            );
            let _ = self
                .shared
                .to_guests
                .send((
                    g,
                    Message::Event(Event::Disconnected {
                        reason: REASON_LEAVING,
                        locally_generated: locally,
                    }),
                ))
                .await;
        }
    }

    fn state(&self) -> StationState {
        self.m.state()
    }

    fn status(&self) -> StationStatus {
        let target = self.m.target();
        let connected = self.m.is_connected();
        StationStatus {
            state: self.state(),
            mac: self.spec.mac,
            ssid: target.map(|t| t.ssid),
            bssid: target.map(|t| t.bssid),
            channel: target.map(|t| t.channel),
            frequency_mhz: target.map(|t| t.frequency_mhz),
            signal_dbm: self.signal.filter(|_| connected),
            tx_rate_kbps: self.rate_kbps.filter(|_| connected),
            phy: None,
            counters: if self.spec.kernel_port {
                interface_counters(&self.spec.ifname)
            } else {
                self.data.counters.snapshot()
            },
        }
    }

    fn publish(&self, state: StationState) {
        let mut s = self.status();
        s.state = state;
        self.status.send_replace(s);
    }

    fn next_wake(&self) -> tokio::time::Instant {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        if let Some(r) = &self.recreating {
            return r.retry_at;
        }
        if self.m.is_connected() {
            return tokio::time::Instant::now() + SIGNAL_PERIOD;
        }
        let m = self.m.poll_timeout().map_or(far, |t| self.to_tokio(t));
        let a = self
            .sae
            .as_ref()
            .and_then(|j| j.poll_timeout())
            .map_or(far, |t| self.to_tokio(t));
        m.min(a)
    }

    /// Carries out what the join's machine asks, in order, reporting each request's outcome
    /// before the next.
    async fn drain(&mut self) {
        while let Some(o) = self.m.poll_output() {
            match o {
                KernelStaOutput::Command(c) => {
                    let kind = c.kind();
                    tracing::debug!(guest = self.spec.guest.0, command = ?kind, "join command");
                    let ok = self.execute(c).await;
                    self.m.handle_command_result(kind, ok);
                }
                KernelStaOutput::Event(e) => {
                    if let Event::ConnectFailed { reason } = &e {
                        tracing::info!(
                            guest = self.spec.guest.0,
                            ?reason,
                            "connection attempt failed"
                        );
                    }
                    self.tell(Message::Event(e)).await;
                }
                KernelStaOutput::State(s) => self.publish(s),
                KernelStaOutput::LinkUp(target) => self.link_up(target).await,
                KernelStaOutput::LinkDown { locally } => {
                    self.data.open.store(false, Ordering::Relaxed);
                    self.igtk = None;
                    self.unshare(locally).await;
                }
                KernelStaOutput::Join(req) => {
                    tracing::info!(guest = self.spec.guest.0, "trying the join once more");
                    Box::pin(self.join(req, false)).await;
                }
                KernelStaOutput::Associate(pmk) => Box::pin(self.associate_sae(pmk)).await,
                KernelStaOutput::RunSae => Box::pin(self.run_sae()).await,
            }
        }
        if !self.m.is_authenticating() {
            self.sae = None;
        }
    }

    /// The link is up: the data path opens and the network is published for guests that
    /// would share it.
    async fn link_up(&mut self, target: Target) {
        self.data.open.store(true, Ordering::Relaxed);
        if let (Ok(mut l), Some(secret)) = (self.data.link.lock(), self.secret.clone()) {
            *l = Some(LinkInfo {
                ssid: target.ssid,
                bssid: target.bssid,
                channel: target.channel,
                secret,
            });
        }
        self.poll_station().await;
        // The first reading is the reference for the changes told later.
        self.m.handle_signal(self.signal);
        tracing::info!(guest = self.spec.guest.0, ssid = %target.ssid, bssid = %target.bssid, "connected");
    }
    async fn guest_message(&mut self, msg: Message) {
        match msg {
            Message::Hello { id, version, .. } => {
                self.tell(hello_reply(id, version)).await;
            }
            Message::ScanRequest { id, .. } if self.recreating.is_some() => {
                self.tell(error(
                    Some(id),
                    ErrorCode::RadioUnavailable,
                    "the station's interface was deleted; vwifi is recreating it",
                ))
                .await;
            }
            Message::ScanRequest { id, ssid, .. } => {
                let reply = match self.scan(ssid).await {
                    Ok(table) => Message::ScanResults {
                        id,
                        bss: table
                            .into_iter()
                            .filter(|e| ssid.is_none_or(|s| s == e.info.ssid))
                            .map(|e| e.info)
                            .collect(),
                    },
                    Err(e) => {
                        self.note_error(&e);
                        tracing::warn!(guest = self.spec.guest.0, error = %super::error_chain(&e), "scan failed");
                        error(
                            Some(id),
                            ErrorCode::RadioUnavailable,
                            &format!("scan failed: {e}"),
                        )
                    }
                };
                self.tell(reply).await;
                let st = self.state();
                self.publish(st);
            }
            Message::Connect {
                id,
                ssid,
                bssid,
                credentials,
            } => {
                self.tell(Message::Ack { id }).await;
                let req = JoinRequest {
                    ssid,
                    bssid,
                    credentials,
                };
                self.m.handle_connect_request(req.clone());
                if let Some(r) = &mut self.recreating {
                    // Joined once the interface is back.
                    r.rejoin = Some(req);
                    return;
                }
                self.leave().await;
                self.join(req, true).await;
            }
            Message::Disconnect { id } => {
                if let Some(r) = &mut self.recreating {
                    r.rejoin = None;
                }
                let now = self.now();
                let was = self.m.handle_disconnect_request(now);
                self.drain().await;
                let reply = if was {
                    Message::Ack { id }
                } else {
                    error(
                        Some(id),
                        ErrorCode::NotConnected,
                        "the station is not connected",
                    )
                };
                self.tell(reply).await;
            }
            Message::StatusRequest { id } => {
                let status = Box::new(self.status());
                self.tell(Message::Status { id, status }).await;
            }
            // Data goes straight from the driver to the packet socket.
            Message::Data(_) => {}
            other => {
                self.tell(error(
                    other.request_id(),
                    ErrorCode::UnsupportedMessage,
                    "the host does not take this message from a guest",
                ))
                .await;
            }
        }
    }

    /// Leaves the network or stops joining it (`DISCONNECT`, reason 3), telling the guest
    /// if it was connected.
    async fn leave(&mut self) {
        let now = self.now();
        self.m.handle_leave(now);
        self.drain().await;
    }

    /// Carries out one request of the join's machine; whether the kernel took it.
    async fn execute(&mut self, command: Command) -> bool {
        let r = match command {
            Command::SendEapol { peer, frame, clear } => {
                let mut attrs = vec![
                    Attr::u32(c::ATTR_IFINDEX, self.ifindex),
                    Attr::bytes(c::ATTR_FRAME, &frame),
                    Attr::bytes(c::ATTR_MAC, &peer.octets()),
                    Attr::u16(c::ATTR_CONTROL_PORT_ETHERTYPE, c::ETH_P_PAE),
                ];
                if clear {
                    attrs.push(Attr::flag(c::ATTR_CONTROL_PORT_NO_ENCRYPT));
                }
                self.nl
                    .request(
                        "CONTROL_PORT_FRAME",
                        c::CMD_CONTROL_PORT_FRAME,
                        &attrs,
                        false,
                    )
                    .await
                    .map(drop)
            }
            Command::InstallPairwise { peer, tk } => {
                let key = Attr::nested(
                    c::ATTR_KEY,
                    &[
                        Attr::bytes(c::KEY_DATA, tk.expose()),
                        Attr::u32(c::KEY_CIPHER, c::CIPHER_CCMP),
                        Attr::bytes(c::KEY_IDX, &[0]),
                        Attr::u32(c::KEY_TYPE, u32::from(c::KEYTYPE_PAIRWISE)),
                    ],
                );
                let attrs = [
                    Attr::u32(c::ATTR_IFINDEX, self.ifindex),
                    Attr::bytes(c::ATTR_MAC, &peer.octets()),
                    key,
                ];
                self.nl
                    .request("NEW_KEY (pairwise)", c::CMD_NEW_KEY, &attrs, false)
                    .await
                    .map(drop)
            }
            Command::InstallGroup { gtk, rsc } => {
                let seq = &rsc.to_le_bytes()[..6];
                let key = Attr::nested(
                    c::ATTR_KEY,
                    &[
                        Attr::bytes(c::KEY_DATA, gtk.key().expose()),
                        Attr::u32(c::KEY_CIPHER, c::CIPHER_CCMP),
                        Attr::bytes(c::KEY_IDX, &[gtk.key_id()]),
                        Attr::bytes(c::KEY_SEQ, seq),
                        Attr::u32(c::KEY_TYPE, u32::from(c::KEYTYPE_GROUP)),
                    ],
                );
                let attrs = [Attr::u32(c::ATTR_IFINDEX, self.ifindex), key];
                let r = self
                    .nl
                    .request("NEW_KEY (group)", c::CMD_NEW_KEY, &attrs, false)
                    .await
                    .map(drop);
                // With management frame protection the same message carried the IGTK.
                match r {
                    Ok(()) => self.install_igtk().await,
                    e => e,
                }
            }
            Command::Authorize { peer } => {
                let bit = 1u32 << c::STA_FLAG_AUTHORIZED;
                let mut flags = Vec::new();
                flags.extend_from_slice(&bit.to_ne_bytes());
                flags.extend_from_slice(&bit.to_ne_bytes());
                let attrs = [
                    Attr::u32(c::ATTR_IFINDEX, self.ifindex),
                    Attr::bytes(c::ATTR_MAC, &peer.octets()),
                    Attr::bytes(c::ATTR_STA_FLAGS2, &flags),
                ];
                self.nl
                    .request(
                        "SET_STATION (authorized)",
                        c::CMD_SET_STATION,
                        &attrs,
                        false,
                    )
                    .await
                    .map(drop)
            }
            Command::Disconnect => {
                let attrs = [
                    Attr::u32(c::ATTR_IFINDEX, self.ifindex),
                    Attr::u16(c::ATTR_REASON_CODE, REASON_LEAVING),
                ];
                // Best effort: the link may be gone already.
                let _ = self
                    .nl
                    .request("DISCONNECT", c::CMD_DISCONNECT, &attrs, false)
                    .await;
                return true;
            }
            Command::Deauthenticate { peer } => {
                self.deauthenticate(peer).await;
                return true;
            }
        };
        if let Err(e) = &r {
            tracing::warn!(guest = self.spec.guest.0, error = %super::error_chain(e), "handshake step failed");
        }
        r.is_ok()
    }

    /// `DEAUTHENTICATE` `peer` (reason 3): ends an authentication the kernel holds before the
    /// association, which `DISCONNECT` does not reach. Best effort.
    async fn deauthenticate(&mut self, peer: MacAddr) {
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &peer.octets()),
            Attr::u16(c::ATTR_REASON_CODE, REASON_LEAVING),
        ];
        let _ = self
            .nl
            .request("DEAUTHENTICATE", c::CMD_DEAUTHENTICATE, &attrs, false)
            .await;
    }

    /// Whether `e` says the station's interface is gone (`ENODEV`); if so the station
    /// recreates it once the current step is done.
    fn note_error(&mut self, e: &Nl80211Error) -> bool {
        let gone = no_device(e);
        self.gone |= gone;
        gone
    }

    /// The station's interface was deleted under the daemon (an operator's `iw dev IF del`,
    /// another program): the link is gone with it. The guest is told it was disconnected (if
    /// it was connected and the kernel had not said so), the interface is made again with the
    /// same name and MAC, its data path opened again (the kernel port is given the new index
    /// and joins it), and the network of a link lost with it is joined again, as after a
    /// restart. A failed recreation is tried again every [`RECREATE_RETRY`].
    async fn recover(&mut self) {
        self.gone = false;
        let guest = self.spec.guest.0;
        let ifname = self.spec.ifname.clone();
        if self.recreating.is_none() {
            tracing::warn!(guest, %ifname, ifindex = self.ifindex, "the station's interface was deleted under the daemon: recreating it");
            // The link went with the interface: the guest is told (if it was connected and
            // the kernel had not said so), and the machine says what the new one rejoins.
            let now = self.now();
            let rejoin = self.m.handle_interface_gone(now);
            self.drain().await;
            // The old interface's data path ends: its receive thread, its socket, its entry.
            self.data.generation.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut tx) = self.data.tx.lock() {
                *tx = None;
            }
            if let Ok(mut links) = self.shared.links.lock() {
                links.retain(|(_, d)| !Arc::ptr_eq(d, &self.data));
            }
            self.recreating = Some(Recreating {
                retry_at: tokio::time::Instant::now(),
                rejoin,
            });
            self.publish(StationState::Idle);
        }
        match create_interface(&mut self.nl, &self.shared, &self.spec, &self.data).await {
            Ok(ifindex) => {
                let old = std::mem::replace(&mut self.ifindex, ifindex);
                let rejoin = self.recreating.take().and_then(|r| r.rejoin);
                self.m.handle_interface_recreated();
                self.data.recreated.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut lost) = self.data.lost.lock() {
                    *lost = None;
                }
                tracing::warn!(guest, %ifname, old_ifindex = old, ifindex, mac = %self.spec.mac, "station interface recreated");
                self.publish(StationState::Idle);
                if let Some(req) = rejoin {
                    tracing::info!(guest, ssid = %req.ssid, "rejoining the network of the lost interface");
                    self.join(req, true).await;
                }
            }
            Err(e) => {
                let why = if name_taken(&e) {
                    format!("the name {ifname} is taken by another interface")
                } else {
                    super::error_chain(&e)
                };
                let first = self.data.lost.lock().ok().is_some_and(|mut lost| {
                    let first = lost.is_none();
                    *lost = Some(format!(
                        "deleted under the daemon; not recreated yet: {why}"
                    ));
                    first
                });
                // One warning; the retries (every RECREATE_RETRY while the card is gone) at debug.
                if first {
                    tracing::warn!(guest, %ifname, error = %why, "the station's interface not recreated yet; trying again");
                } else {
                    tracing::debug!(guest, %ifname, error = %why, "the station's interface still not recreated");
                }
                if let Some(r) = &mut self.recreating {
                    r.retry_at = tokio::time::Instant::now() + RECREATE_RETRY;
                }
            }
        }
    }

    /// Scans (one station of the card at a time) and returns the card's BSS table.
    async fn scan(&mut self, ssid: Option<Ssid>) -> Result<Vec<ScanEntry>, Nl80211Error> {
        let shared = self.shared.clone();
        let _turn = shared.scan_lock.lock().await;
        self.publish(StationState::Scanning);
        let probe = ssid.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::nested(c::ATTR_SCAN_SSIDS, &[Attr::bytes(1, &probe)]),
        ];
        let mut tries = 0;
        loop {
            match self
                .nl
                .request("TRIGGER_SCAN", c::CMD_TRIGGER_SCAN, &attrs, false)
                .await
            {
                Ok(_) => break,
                // Another interface of the card (not ours) is scanning: wait a little.
                Err(Nl80211Error::Kernel { source, .. })
                    if source.raw_os_error() == Some(16) && tries < 20 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
        // Wait for the end of our scan, keeping every other message for later.
        let deadline = tokio::time::Instant::now() + SCAN_TIMEOUT;
        let mut kept = Vec::new();
        let outcome = loop {
            let r = match tokio::time::timeout_at(deadline, self.nl.recv()).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => break Err(e),
                Err(_) => break Err(Nl80211Error::Timeout("the scan")),
            };
            if let Reply::Msg { msg, .. } = &r {
                let ours = ifindex(msg) == Some(self.ifindex);
                match cmd(msg) {
                    c::CMD_NEW_SCAN_RESULTS if ours => break Ok(()),
                    c::CMD_SCAN_ABORTED if ours => break Err(Nl80211Error::ScanAborted),
                    _ => {}
                }
            }
            kept.push(r);
        };
        for r in kept {
            self.kernel(r).await;
        }
        outcome?;
        self.scan_table().await
    }

    /// The card's BSS table (`GET_SCAN`).
    async fn scan_table(&mut self) -> Result<Vec<ScanEntry>, Nl80211Error> {
        let msgs = self
            .nl
            .request(
                "GET_SCAN",
                c::CMD_GET_SCAN,
                &[Attr::u32(c::ATTR_IFINDEX, self.ifindex)],
                true,
            )
            .await?;
        Ok(msgs.iter().filter_map(parse_entry).collect())
    }

    /// The join failed for `reason` (see [`KernelSta::handle_join_failed`]).
    async fn fail(&mut self, reason: ConnectFailure) {
        let now = self.now();
        self.m.handle_join_failed(now, reason);
        self.drain().await;
    }

    /// One join attempt (`first`: a second may follow if this one fails after association).
    async fn join(&mut self, req: JoinRequest, first: bool) {
        let retry = first.then(|| req.clone());
        let JoinRequest {
            ssid,
            bssid,
            credentials,
        } = req;
        self.m.handle_join_started();
        self.publish(StationState::Scanning);
        let fresh = match self.scan_table().await {
            Ok(t) => best(&t, &ssid, bssid)
                .filter(|e| JoinScans::fresh(e.info.beacon_age_ms))
                .cloned(),
            Err(_) => None,
        };
        let mut found = fresh;
        let mut scans = JoinScans::default();
        while found.is_none() && scans.another() {
            match self.scan(Some(ssid)).await {
                Ok(t) => {
                    found = best(&t, &ssid, bssid).cloned();
                    scans.scanned();
                }
                // Another station's join or scan can abort ours: try again.
                Err(e) => {
                    scans.failed();
                    if self.note_error(&e) {
                        break;
                    }
                    tracing::info!(guest = self.spec.guest.0, error = %super::error_chain(&e), "scan before the join failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if self.gone {
            // The interface went under the join: the recreated one makes it again.
            let now = self.now();
            self.m.handle_link_lost(now);
            return;
        }
        let Some(bss) = found else {
            return self.fail(ConnectFailure::NetworkNotFound).await;
        };
        let security = bss.info.security;
        let target = Target {
            ssid,
            bssid: bss.info.bssid,
            channel: bss.info.channel,
            frequency_mhz: bss.info.frequency_mhz,
        };
        let pmk = match plan(security, credentials) {
            Err(failure) => return self.fail(failure).await,
            Ok(Plan::Open) => {
                self.secret = Some(Secret::Open);
                None
            }
            Ok(Plan::Sae(pass)) => {
                self.secret = Some(Secret::Sae(zeroize::Zeroizing::new(pass.expose().to_vec())));
                return self.join_sae(target, &bss, pass, retry).await;
            }
            Ok(Plan::Psk(psk)) => Some(psk),
            Ok(Plan::DerivePsk(pass)) => {
                let derived =
                    tokio::task::spawn_blocking(move || derive_psk(&pass, ssid.as_bytes()))
                        .await
                        .ok()
                        .and_then(Result::ok);
                match derived {
                    Some(psk) => Some(psk),
                    None => return self.fail(security_mismatch(security)).await,
                }
            }
        };
        let mut attrs = vec![
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &target.bssid.octets()),
            Attr::bytes(c::ATTR_SSID, ssid.as_bytes()),
            Attr::u32(c::ATTR_WIPHY_FREQ, bss.freq),
            Attr::u32(c::ATTR_AUTH_TYPE, u32::from(c::AUTHTYPE_OPEN_SYSTEM)),
            Attr::flag(c::ATTR_SOCKET_OWNER),
        ];
        let auth = match pmk {
            None => JoinAuth::Open,
            Some(pmk) => {
                self.secret = Some(Secret::Psk(zeroize::Zeroizing::new(*pmk.expose())));
                let own = own_rsne();
                attrs.extend([
                    Attr::bytes(c::ATTR_IE, &own),
                    Attr::flag(c::ATTR_PRIVACY),
                    Attr::u32(c::ATTR_WPA_VERSIONS, u32::from(c::WPA_VERSION_2)),
                    Attr::u32(c::ATTR_CIPHER_SUITES_PAIRWISE, c::CIPHER_CCMP),
                    Attr::u32(c::ATTR_CIPHER_SUITE_GROUP, c::CIPHER_CCMP),
                    Attr::u32(c::ATTR_AKM_SUITES, c::AKM_PSK),
                    Attr::flag(c::ATTR_CONTROL_PORT),
                    Attr::u16(c::ATTR_CONTROL_PORT_ETHERTYPE, c::ETH_P_PAE),
                ]);
                if self.shared.control_port_over_nl80211 {
                    attrs.push(Attr::flag(c::ATTR_CONTROL_PORT_OVER_NL80211));
                }
                JoinAuth::Psk(SupplicantConfig {
                    aa: target.bssid,
                    spa: self.spec.mac,
                    pmk,
                    ap_rsne: bss.rsne.clone().unwrap_or_default(),
                    own_rsne: own,
                    timeout: HANDSHAKE_TIMEOUT,
                })
            }
        };
        let now = self.now();
        let join = Join {
            target,
            security,
            auth,
            retry,
        };
        if !self.m.begin_join(now, join) {
            tracing::info!(
                guest = self.spec.guest.0,
                "the network's RSN element is not usable"
            );
            return self.drain().await;
        }
        self.drain().await;
        if let Err(e) = self
            .nl
            .request("CONNECT", c::CMD_CONNECT, &attrs, false)
            .await
        {
            tracing::warn!(guest = self.spec.guest.0, error = %super::error_chain(&e), "CONNECT refused");
            let gone = self.note_error(&e);
            let now = self.now();
            self.m.handle_connect_refused(now, gone);
            self.drain().await;
        }
    }

    /// A message from the kernel.
    async fn kernel(&mut self, r: Reply) {
        let msg = match r {
            Reply::Msg { msg, .. } => msg,
            Reply::Err { seq, errno } => {
                tracing::debug!(seq, errno, "late netlink error");
                return;
            }
            _ => return,
        };
        if ifindex(&msg) != Some(self.ifindex) {
            return;
        }
        tracing::debug!(guest = self.spec.guest.0, cmd = cmd(&msg), state = ?self.state(), "nl80211 event");
        let owned = top_attrs(&msg);
        let attrs = owned.view();
        let now = self.now();
        match cmd(&msg) {
            c::CMD_CONNECT => {
                let status = find(&attrs, c::ATTR_STATUS_CODE).and_then(as_u16);
                let timed_out = find(&attrs, c::ATTR_TIMED_OUT).is_some();
                tracing::debug!(
                    guest = self.spec.guest.0,
                    ?status,
                    timed_out,
                    "association result"
                );
                self.m.handle_connect_result(now, status, timed_out);
            }
            c::CMD_AUTHENTICATE => {
                let frame = find(&attrs, c::ATTR_FRAME).map(<[u8]>::to_vec);
                let timed_out = find(&attrs, c::ATTR_TIMED_OUT).is_some();
                return self.auth_event(frame.as_deref(), timed_out).await;
            }
            c::CMD_CONTROL_PORT_FRAME => {
                if let Some(frame) = find(&attrs, c::ATTR_FRAME) {
                    let clear = find(&attrs, c::ATTR_CONTROL_PORT_NO_ENCRYPT).is_some();
                    if let Err(e) = self.m.handle_eapol(now, frame, clear) {
                        tracing::info!(guest = self.spec.guest.0, error = %e, "EAPOL frame rejected");
                    }
                }
            }
            c::CMD_DISCONNECT => {
                let reason = find(&attrs, c::ATTR_REASON_CODE)
                    .and_then(as_u16)
                    .unwrap_or(0);
                let by_ap = find(&attrs, c::ATTR_DISCONNECTED_BY_AP).is_some();
                if let Some(t) = self.m.target().filter(|_| self.m.is_connected()) {
                    tracing::info!(guest = self.spec.guest.0, bssid = %t.bssid, reason, by_ap, "disconnected");
                }
                self.m.handle_disconnected(now, reason, by_ap);
            }
            c::CMD_DEL_INTERFACE => self.gone = true,
            _ => {}
        }
        self.drain().await;
    }

    async fn timer(&mut self) {
        if self.recreating.is_some() {
            self.gone = true;
            return;
        }
        if self.m.is_connected() {
            self.poll_station().await;
            let st = self.state();
            self.publish(st);
            self.m.handle_signal(self.signal);
            return self.drain().await;
        }
        let now = self.now();
        self.m.handle_timeout(now);
        self.drain().await;
        if self.sae.as_ref().is_some_and(|j| j.running()) {
            self.sae_timer().await;
        }
    }

    /// Reads the AP's signal and the transmit rate (`GET_STATION`, parsed by `neli-wifi`).
    async fn poll_station(&mut self) {
        let Some(target) = self.m.target().filter(|_| self.m.is_connected()) else {
            return;
        };
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &target.bssid.octets()),
        ];
        match self
            .nl
            .request("GET_STATION", c::CMD_GET_STATION, &attrs, false)
            .await
        {
            Ok(msgs) => {
                for m in &msgs {
                    if let Ok(st) = neli_wifi::Station::try_from(m.get_attr_handle()) {
                        if let Some(s) = st.signal {
                            self.signal = Some(s);
                        }
                        if let Some(rate) = st.tx_bitrate {
                            // neli-wifi gives the rate in units of 100 kbit/s.
                            self.rate_kbps = Some(rate.saturating_mul(100));
                        }
                    }
                }
            }
            Err(e) => {
                self.note_error(&e);
                tracing::debug!(guest = self.spec.guest.0, error = %e, "GET_STATION failed");
            }
        }
    }
}

/// The traffic counters of a station interface on the kernel data path, as the kernel keeps
/// them (`/sys/class/net/IFACE/statistics`): received is from the air to the guest, sent is
/// from the guest to the air. A counter that cannot be read is 0.
fn interface_counters(ifname: &str) -> Counters {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{ifname}/statistics/{name}"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Counters {
        rx_packets: read("rx_packets"),
        rx_bytes: read("rx_bytes"),
        tx_packets: read("tx_packets"),
        tx_bytes: read("tx_bytes"),
        rx_dropped: read("rx_dropped"),
        tx_dropped: read("tx_dropped"),
    }
}

/// Whether a request's error says its interface is gone (`ENODEV`).
fn no_device(e: &Nl80211Error) -> bool {
    matches!(e, Nl80211Error::Kernel { source, .. } if source.raw_os_error() == Some(ENODEV))
}

/// Whether `NEW_INTERFACE` was refused because another interface has the name: the kernel
/// says `ENFILE` (mac80211) or `EEXIST`.
fn name_taken(e: &Nl80211Error) -> bool {
    matches!(e, Nl80211Error::Kernel { source, .. } if matches!(source.raw_os_error(), Some(ENFILE | EEXIST)))
}

/// The answer to a guest's `Hello` on the nl80211 radio (a station of its own or a follower
/// sharing one): what this radio offers, or a refusal of protocol version 0.
pub(super) fn hello_reply(id: RequestId, version: u8) -> Message {
    if version >= 1 {
        Message::HelloAck {
            id,
            version: version.min(proto::VERSION),
            capabilities: Capabilities::SCAN
                | Capabilities::OPEN
                | Capabilities::WPA2_PSK
                | Capabilities::WPA3_SAE
                | Capabilities::EVENTS
                | Capabilities::DATA,
        }
    } else {
        error(
            Some(id),
            ErrorCode::UnsupportedVersion,
            "protocol version 0 is not supported",
        )
    }
}

/// An error answer to a guest, its text cut to the protocol's limit.
pub(super) fn error(id: Option<RequestId>, code: ErrorCode, text: &str) -> Message {
    Message::Error {
        id,
        code,
        text: Some(truncate(text.to_owned())),
    }
}

/// The sending side of a station interface's packet socket.
enum Tx {
    /// The batched socket: one `sendmmsg` per batch.
    Ring(Arc<PacketSocket>),
    /// pnet's socket (the kernel refused the ring): one `send` per frame.
    Frame(Box<dyn pnet_datalink::DataLinkSender>),
}

impl Tx {
    /// Sends `frames` in order; returns how many frames and bytes left.
    fn send(&mut self, frames: &[&[u8]]) -> (u64, u64) {
        match self {
            Self::Ring(sock) => sock.send_batch(frames),
            Self::Frame(tx) => frames
                .iter()
                .fold((0, 0), |(n, b), f| match tx.send_to(f, None) {
                    Some(Ok(())) => (n + 1, b + f.len() as u64),
                    _ => (n, b),
                }),
        }
    }
}

/// Where a receive thread reads its frames: the ring (every ready slot per call) or, on a
/// kernel that refused it, pnet's socket (a frame per call).
trait Receiver: Send {
    /// Waits a short while (at most a few hundred ms, so that the thread sees when to stop)
    /// and hands each frame that came to `frame`, in order (`None`: one that could not be
    /// read, to be counted as dropped). An error means the socket is done (the interface went).
    fn recv(&mut self, frame: &mut dyn FnMut(Option<&[u8]>)) -> io::Result<()>;
}

impl Receiver for RxRing {
    fn recv(&mut self, frame: &mut dyn FnMut(Option<&[u8]>)) -> io::Result<()> {
        self.next_slots(packet_ring::WAIT_MS, &mut |slot| match read_slot(slot) {
            Ok(f) => frame(Some(f)),
            Err(e) => {
                tracing::debug!(error = %e, "unreadable frame in the packet ring");
                frame(None);
            }
        })
        .map(drop)
    }
}

/// pnet's receiver, one frame per call.
struct FrameRx(Box<dyn pnet_datalink::DataLinkReceiver>);

impl Receiver for FrameRx {
    fn recv(&mut self, frame: &mut dyn FnMut(Option<&[u8]>)) -> io::Result<()> {
        match self.0.next() {
            Ok(f) => {
                frame(Some(f));
                Ok(())
            }
            Err(e) if crate::ports::io_errors::read_timed_out(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Opens the data path's packet socket on the station's interface: the batched one
/// ([`packet_ring`]), or pnet's if the kernel refuses the ring (one warning says why).
fn open_packet_socket(ifname: &str, ifindex: u32) -> Result<(Tx, Box<dyn Receiver>), Nl80211Error> {
    match packet_ring::open(ifindex) {
        Ok((sock, ring)) => {
            tracing::info!(
                ifname,
                slots = packet_ring::SLOT_COUNT,
                slot_bytes = packet_ring::FRAME_SIZE,
                per_pass = packet_ring::PASS_MAX,
                ignores_outgoing = sock.ignores_outgoing,
                "packet ring open: TPACKET_V2 receive ring, sendmmsg batches"
            );
            if !sock.ignores_outgoing {
                tracing::debug!(
                    ifname,
                    "the kernel refused PACKET_IGNORE_OUTGOING: the daemon's own frames are \
                     filtered out by their source address"
                );
            }
            Ok((Tx::Ring(sock), Box::new(ring)))
        }
        Err(e) => {
            let e = Nl80211Error::PacketRing {
                ifname: ifname.to_owned(),
                step: e.step,
                source: e.source,
            };
            tracing::warn!(
                error = %super::error_chain(&e),
                "falling back to a packet socket that moves one frame per system call"
            );
            let (tx, rx) = open_frame_socket(ifname, ifindex)?;
            Ok((Tx::Frame(tx), Box::new(FrameRx(rx))))
        }
    }
}

/// pnet's two halves of a packet socket.
type FrameSocket = (
    Box<dyn pnet_datalink::DataLinkSender>,
    Box<dyn pnet_datalink::DataLinkReceiver>,
);

/// Opens pnet's packet socket on the station's interface (one frame per call).
fn open_frame_socket(ifname: &str, ifindex: u32) -> Result<FrameSocket, Nl80211Error> {
    let iface = pnet_datalink::NetworkInterface {
        name: ifname.to_owned(),
        description: String::new(),
        index: ifindex,
        mac: None,
        ips: Vec::new(),
        flags: 0,
    };
    let cfg = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(200)),
        promiscuous: false,
        ..pnet_datalink::Config::default()
    };
    let err = |source| Nl80211Error::Packet {
        ifname: ifname.to_owned(),
        source,
    };
    match pnet_datalink::channel(&iface, cfg).map_err(err)? {
        pnet_datalink::Channel::Ethernet(tx, rx) => Ok((tx, rx)),
        _ => Err(err(io::Error::other("not an Ethernet channel"))),
    }
}

/// Reads the station's packet socket on a thread of its own until told to stop: frames from
/// the air for the guest (never the station's own, never EAPOL or vwifi's control EtherType).
/// The frames of one read (the ring's slots ready at a wake-up) are copied into one buffer and handed to the driver
/// together, each a slice of it.
fn spawn_rx(
    mut rx: Box<dyn Receiver>,
    spec: Spec,
    to_guests: mpsc::Sender<(GuestId, Message)>,
    data: Arc<DataPath>,
) {
    let name = format!("vwifi-rx-{}", spec.ifname);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let own = spec.mac.octets();
        let generation = data.generation.load(Ordering::Relaxed);
        // The frames of a read for the owner, back to back, and their lengths.
        let mut batch = BytesMut::new();
        let mut lens: Vec<usize> = Vec::new();
        let mut driver_gone = false;
        while !driver_gone
            && !data.stop.load(Ordering::Relaxed)
            && data.generation.load(Ordering::Relaxed) == generation
        {
            let read = rx.recv(&mut |frame| {
                let Some(frame) = frame else {
                    data.counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let src = frame.get(6..12);
                let ethertype = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
                if src.is_none()
                    || src == Some(&own[..])
                    || matches!(ethertype, Some(c::ETH_P_PAE) | Some(proto::ETHERTYPE))
                {
                    return;
                }
                if let Some(done) = demux_shared(&data, frame, &to_guests) {
                    driver_gone |= !done;
                    return;
                }
                batch.extend_from_slice(frame);
                lens.push(frame.len());
            });
            if !lens.is_empty() {
                let mut frames = batch.split().freeze();
                for len in lens.drain(..) {
                    let frame = frames.split_to(len);
                    match to_guests.try_send((spec.guest, Message::Data(frame))) {
                        Ok(()) => {
                            data.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
                            data.counters
                                .rx_bytes
                                .fetch_add(len as u64, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            data.counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            driver_gone = true;
                            break;
                        }
                    }
                }
                lens.clear();
            }
            if let Err(e) = read {
                tracing::debug!(ifname = %spec.ifname, error = %e, "packet socket closed");
                break;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the receive thread");
    }
}

/// Hands a frame from the air to the guests sharing the interface, through the bridge;
/// `None` if the interface is not shared (the owner takes every frame then), `Some(false)` if
/// the driver is gone.
fn demux_shared(
    data: &DataPath,
    frame: &[u8],
    to_guests: &mpsc::Sender<(GuestId, Message)>,
) -> Option<bool> {
    use super::bridge::Deliver;
    let mut out = frame.to_vec();
    let (deliver, all) = {
        let guard = data.bridge.lock().ok()?;
        let table = guard.as_ref().filter(|t| t.shared())?;
        (table.inbound(&mut out), table.guests())
    };
    let targets = match deliver {
        Deliver::Guest(g) => vec![g],
        Deliver::All => all,
        Deliver::Drop => Vec::new(),
    };
    let bytes = Bytes::from(out);
    for g in targets {
        match to_guests.try_send((g, Message::Data(bytes.clone()))) {
            Ok(()) => {
                data.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
                data.counters
                    .rx_bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                data.counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Some(false),
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sharing_guest_must_give_the_very_secret_of_the_join() {
        use zeroize::Zeroizing;
        let psk = Secret::Psk(Zeroizing::new([7; 32]));
        assert!(psk.matches(&Secret::Psk(Zeroizing::new([7; 32]))));
        let mut other = [7; 32];
        other[31] = 8;
        assert!(!psk.matches(&Secret::Psk(Zeroizing::new(other))));
        let sae = Secret::Sae(Zeroizing::new(b"correct horse".to_vec()));
        assert!(sae.matches(&Secret::Sae(Zeroizing::new(b"correct horse".to_vec()))));
        assert!(!sae.matches(&Secret::Sae(Zeroizing::new(b"correct hors".to_vec()))));
        assert!(!sae.matches(&psk) && !psk.matches(&Secret::Open));
        assert!(Secret::Open.matches(&Secret::Open));
    }

    #[test]
    fn enodev_says_the_interface_is_gone_and_enfile_that_its_name_is_taken() {
        let kernel = |errno| Nl80211Error::Kernel {
            what: "GET_STATION",
            source: io::Error::from_raw_os_error(errno),
        };
        assert!(no_device(&kernel(ENODEV)));
        assert!(!no_device(&kernel(16)));
        assert!(!no_device(&Nl80211Error::Timeout("the scan")));
        assert!(!no_device(&Nl80211Error::ScanAborted));
        // What mac80211 says when the name is taken (seen in the VM check), and EEXIST.
        assert!(name_taken(&kernel(ENFILE)) && name_taken(&kernel(EEXIST)));
        assert!(!name_taken(&kernel(ENODEV)) && !name_taken(&Nl80211Error::ScanAborted));
    }

    /// A packet socket that never has a frame; tells when it is dropped.
    struct IdleRx(Arc<AtomicBool>);

    impl Receiver for IdleRx {
        fn recv(&mut self, _frame: &mut dyn FnMut(Option<&[u8]>)) -> io::Result<()> {
            std::thread::sleep(Duration::from_millis(5));
            Ok(())
        }
    }

    impl Drop for IdleRx {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_recreated_interface_ends_the_receive_thread_of_the_old_one() {
        let data = Arc::new(DataPath::default());
        let (to_guests, _rx) = mpsc::channel(4);
        let spec = Spec {
            guest: GuestId(1),
            mac: MacAddr([2, 1, 2, 3, 4, 5]),
            ifname: "vw0".into(),
            kernel_port: false,
        };
        let old_done = Arc::new(AtomicBool::new(false));
        spawn_rx(
            Box::new(IdleRx(old_done.clone())),
            spec.clone(),
            to_guests.clone(),
            data.clone(),
        );
        std::thread::sleep(Duration::from_millis(50));
        assert!(!old_done.load(Ordering::Relaxed), "the thread ended early");
        data.generation.fetch_add(1, Ordering::Relaxed);
        let new_done = Arc::new(AtomicBool::new(false));
        spawn_rx(
            Box::new(IdleRx(new_done.clone())),
            spec,
            to_guests,
            data.clone(),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !old_done.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            old_done.load(Ordering::Relaxed),
            "the old receive thread still runs"
        );
        assert!(!new_done.load(Ordering::Relaxed), "the new one ended too");
        data.stop();
    }

    /// A receiver that gives one batch of frames (`None`: an unreadable one), then nothing.
    struct OnceRx(Option<Vec<Option<Vec<u8>>>>);

    impl Receiver for OnceRx {
        fn recv(&mut self, frame: &mut dyn FnMut(Option<&[u8]>)) -> io::Result<()> {
            match self.0.take() {
                Some(batch) => batch.iter().for_each(|f| frame(f.as_deref())),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
            Ok(())
        }
    }

    #[test]
    fn a_batch_from_the_air_reaches_the_guest_filtered_and_counted() {
        let mac = MacAddr([2, 1, 2, 3, 4, 5]);
        let ap = [2, 0, 0, 0, 0, 0xaa];
        let data = Arc::new(DataPath::default());
        // Room for three: the fourth frame for the guest is dropped and counted.
        let (to_guests, mut rx) = mpsc::channel(3);
        let spec = Spec {
            guest: GuestId(7),
            mac,
            ifname: "vw0".into(),
            kernel_port: false,
        };
        let mut peer: Vec<Vec<u8>> = (0..4u8).map(|_| frame(ap, 0x0800)).collect();
        for (i, f) in peer.iter_mut().enumerate() {
            f.push(i as u8);
        }
        let batch = vec![
            Some(peer[0].clone()),
            Some(peer[1].clone()),
            Some(frame(mac.octets(), 0x0800)), // its own (an outgoing copy)
            Some(frame(ap, c::ETH_P_PAE)),
            Some(frame(ap, proto::ETHERTYPE)),
            Some(vec![1, 2, 3]),
            None, // unreadable in the ring
            Some(peer[2].clone()),
            Some(peer[3].clone()),
        ];
        spawn_rx(Box::new(OnceRx(Some(batch))), spec, to_guests, data.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while data.counters.snapshot().rx_dropped < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut got = Vec::new();
        while let Ok((g, msg)) = rx.try_recv() {
            assert_eq!(g, GuestId(7));
            got.push(msg);
        }
        let want: Vec<Message> = peer[..3]
            .iter()
            .map(|f| Message::Data(Bytes::copy_from_slice(f)))
            .collect();
        assert_eq!(got, want);
        let c = data.counters.snapshot();
        let bytes = peer[..3].iter().map(|f| f.len() as u64).sum::<u64>();
        assert_eq!((c.rx_packets, c.rx_bytes, c.rx_dropped), (3, bytes, 2));
        data.stop();
    }

    fn frame(src: [u8; 6], ethertype: u16) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&src);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[0x45, 0, 0, 20]);
        f
    }

    #[test]
    fn the_data_path_refuses_what_a_guest_may_not_send_and_counts_it() {
        let mac = MacAddr([2, 1, 2, 3, 4, 5]);
        let path = DataPath::default();
        // Not connected: dropped.
        path.send(mac, &frame(mac.octets(), 0x0800));
        path.open.store(true, Ordering::Relaxed);
        // Another source, EAPOL, vwifi's control EtherType, a runt: dropped.
        path.send(mac, &frame([2, 9, 9, 9, 9, 9], 0x0800));
        path.send(mac, &frame(mac.octets(), c::ETH_P_PAE));
        path.send(mac, &frame(mac.octets(), proto::ETHERTYPE));
        path.send(mac, &[1, 2, 3]);
        // Allowed, but no socket: dropped too (never a panic).
        path.send(mac, &frame(mac.octets(), 0x0800));
        let c = path.counters.snapshot();
        assert_eq!((c.tx_packets, c.tx_dropped), (0, 6));
        path.stop();
        assert!(!path.open.load(Ordering::Relaxed));
    }
}
