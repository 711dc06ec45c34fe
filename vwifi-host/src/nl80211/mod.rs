//! The nl80211 radio: vwifi on a real Wi-Fi card.
//!
//! A real card under nl80211 is full-MAC from user space's view: the kernel's MLME
//! authenticates and associates, encrypts and decrypts. So this radio does not run the core's
//! soft-MAC [`Mux`](vwifi_core::mux::Mux); it serves the same guest protocol from the kernel's
//! side of the boundary described in [`vwifi_core::station`]:
//!
//! | operation | what this radio does |
//! |---|---|
//! | discovery | `GET_WIPHY` (split dump): bands and channels, ciphers, interface combinations, `EXT_FEATURE_CONTROL_PORT_OVER_NL80211`; `GET_INTERFACE` to find the card of `ifname` |
//! | a guest arrives | `NEW_INTERFACE` on the card, managed, with the station's MAC, `SOCKET_OWNER`; IPv6 off, link up (rtnetlink) |
//! | scan | `TRIGGER_SCAN` (one station at a time), wait for `NEW_SCAN_RESULTS`, `GET_SCAN` dump |
//! | join | `CONNECT` with the SSID, BSSID, frequency, and for WPA2 the own RSNE, ciphers, AKM, `CONTROL_PORT`, `CONTROL_PORT_OVER_NL80211`, `SOCKET_OWNER` |
//! | 4-way handshake | EAPOL in as `CONTROL_PORT_FRAME` events, into [`vwifi_core::handshake::Supplicant`]; out as `CONTROL_PORT_FRAME` requests |
//! | keys, port | `NEW_KEY` (pairwise CCMP, then group CCMP with its RSC), `SET_STATION` with `STA_FLAGS2` authorized |
//! | data | namespace guests: in the kernel, a veth pair joined to the station's interface by `clsact` filters ([`crate::ports::kernel`]); other guests: an `AF_PACKET` socket on the station's interface, frames from the air read from a `TPACKET_V2` ring (a wake-up per frame, every ready slot in one pass) and the guest's sent with one `sendmmsg` per batch ([`packet_ring`]; `pnet_datalink`, one frame per call, if the kernel refuses the ring) |
//! | events | `CONNECT` result, `DISCONNECT` (reason, by AP or not); signal and rate from `GET_STATION` |
//! | a guest goes | `DISCONNECT`, `DEL_INTERFACE`; a crashed daemon's interfaces die with its sockets, and names with the configured prefix left on the card are deleted at start |
//!
//! Each guest's station is a task of its own ([`station::run`]); this type is what the driver
//! holds: admission, the guests' messages in, their replies and events out.

pub(crate) mod bridge;
mod consts;
mod follower;
mod genl;
// The one module of the daemon with `unsafe`: the packet ring's FFI and its shared memory.
#[allow(unsafe_code)]
pub(crate) mod packet_ring;
mod sae;
mod scan;
mod station;
mod wiphy;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{AdmitError, GuestConfig};
use vwifi_core::proto::{Message, StationState, StationStatus};
use vwifi_core::MacAddr;

use crate::config::{DataPathKind, RadioSection};
use genl::{as_string, as_u32, find, top_attrs, Attr, Family, Genl};
use station::{DataPath, Shared, Spec};
pub(crate) use wiphy::Wiphy;

/// Messages for guests waiting for the driver.
const TO_GUESTS_QUEUE: usize = 4096;

/// Why the nl80211 radio failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Nl80211Error {
    /// A netlink socket could not be opened or used.
    #[error("netlink socket")]
    Socket(#[source] io::Error),
    /// The kernel has no nl80211 (no cfg80211) or its groups are missing.
    #[error("the kernel has no usable nl80211 family (is cfg80211 loaded?): {0}")]
    Family(String),
    /// A message could not be built or read.
    #[error("netlink message: {0}")]
    Netlink(String),
    /// The kernel refused a request.
    #[error("the kernel refused {what}")]
    Kernel {
        /// The request.
        what: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// The kernel did not answer in time.
    #[error("no answer from the kernel to {0} in time")]
    Timeout(&'static str),
    /// A reply lacked an attribute.
    #[error("{what} has no valid {attr} attribute")]
    Malformed {
        /// The message.
        what: &'static str,
        /// The attribute.
        attr: &'static str,
    },
    /// The configured card was not found.
    #[error("no wireless card {0} (see `iw dev` and `iw phy`)")]
    NoCard(String),
    /// The card cannot run station interfaces.
    #[error("the card {0} cannot run managed (station) interfaces")]
    NoStationMode(String),
    /// The kernel aborted a scan.
    #[error("the kernel aborted the scan")]
    ScanAborted,
    /// The packet socket of a station's interface could not be opened.
    #[error("packet socket on {ifname}")]
    Packet {
        /// The interface.
        ifname: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The batched packet socket (a `TPACKET_V2` receive ring) of a station's interface could
    /// not be set up: the kernel refused a step (an old kernel, a lacking capability).
    #[error("packet ring on {ifname}: the kernel refused {step}")]
    PacketRing {
        /// The interface.
        ifname: String,
        /// What was refused.
        step: packet_ring::Step,
        /// The errno.
        #[source]
        source: io::Error,
    },
}

pub(crate) use crate::error_text::error_chain;

/// One guest's station as the radio holds it.
#[derive(Debug)]
struct Handle {
    mac: MacAddr,
    ifname: String,
    cmds: mpsc::UnboundedSender<Message>,
    data: Arc<DataPath>,
    status: watch::Receiver<StationStatus>,
    /// Whether its data stays in the kernel ([`crate::ports::kernel`]).
    kernel_port: bool,
    /// For a guest without an interface of its own (the card is full): the interface it
    /// shares, if any ([`follower`]).
    sharing: Option<follower::Joined>,
}

/// The nl80211 radio. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Nl80211Radio {
    wiphy: Wiphy,
    shared: Arc<Shared>,
    prefix: String,
    data_path: DataPathKind,
    max_stations: usize,
    /// `[radio] max_interfaces`: station interfaces the card takes; guests beyond share one.
    max_interfaces: Option<usize>,
    guests: BTreeMap<GuestId, Handle>,
    next_id: u32,
    events: Option<mpsc::Receiver<(GuestId, Message)>>,
    inbox: BTreeMap<GuestId, Vec<Message>>,
    cleaned: Vec<String>,
}

impl Nl80211Radio {
    /// Finds the configured card, reads what it can do and deletes the station interfaces a
    /// crashed run left on it. Needs a tokio runtime.
    pub(crate) async fn open(
        cfg: &RadioSection,
        max_stations: usize,
    ) -> Result<Self, Nl80211Error> {
        let family = tokio::task::spawn_blocking(Family::resolve)
            .await
            .map_err(|e| Nl80211Error::Family(e.to_string()))??;
        let mut nl = Genl::open(&family, &[])?;
        let ifaces = interfaces(&mut nl).await?;
        let msgs = nl
            .request(
                "GET_WIPHY",
                consts::CMD_GET_WIPHY,
                &[Attr::flag(consts::ATTR_SPLIT_WIPHY_DUMP)],
                true,
            )
            .await?;
        let wiphys = Wiphy::parse_dump(&msgs);
        let wiphy = match (&cfg.ifname, &cfg.phy) {
            (Some(ifname), _) => {
                let phy = ifaces
                    .iter()
                    .find(|i| &i.name == ifname)
                    .map(|i| i.phy)
                    .ok_or_else(|| Nl80211Error::NoCard(format!("with interface {ifname}")))?;
                wiphys.into_iter().find(|w| w.index == phy)
            }
            (None, Some(phy)) => wiphys.into_iter().find(|w| &w.name == phy),
            (None, None) => wiphys.into_iter().next(),
        }
        .ok_or_else(|| {
            Nl80211Error::NoCard(
                cfg.phy
                    .clone()
                    .or_else(|| cfg.ifname.clone())
                    .unwrap_or_else(|| "at all".into()),
            )
        })?;
        if !wiphy.iftypes.is_empty() && !wiphy.iftypes.contains(&consts::IFTYPE_STATION) {
            return Err(Nl80211Error::NoStationMode(wiphy.name));
        }
        // Leftovers of a crashed run: managed interfaces on this card named PREFIX + digits.
        let mut cleaned = Vec::new();
        for i in &ifaces {
            if i.phy == wiphy.index
                && i.iftype == Some(consts::IFTYPE_STATION)
                && is_ours(&cfg.prefix, &i.name)
            {
                match nl
                    .request(
                        "DEL_INTERFACE",
                        consts::CMD_DEL_INTERFACE,
                        &[Attr::u32(consts::ATTR_IFINDEX, i.index)],
                        false,
                    )
                    .await
                {
                    Ok(_) => {
                        tracing::info!(ifname = %i.name, "stale station interface of an earlier run deleted");
                        cleaned.push(i.name.clone());
                    }
                    Err(e) => {
                        tracing::warn!(ifname = %i.name, error = %error_chain(&e), "cannot delete a stale interface")
                    }
                }
            }
        }
        let (to_guests, events) = mpsc::channel(TO_GUESTS_QUEUE);
        let shared = Arc::new(Shared {
            family,
            wiphy: wiphy.index,
            control_port_over_nl80211: wiphy.control_port_over_nl80211,
            scan_lock: tokio::sync::Mutex::new(()),
            to_guests,
            links: std::sync::Mutex::new(Vec::new()),
        });
        let max_interfaces = cfg.max_interfaces.and_then(|n| usize::try_from(n).ok());
        Ok(Self {
            // With sharing the card's limit is max_interfaces; guests beyond it share.
            max_stations: match max_interfaces {
                Some(_) => max_stations.max(1),
                None => max_stations.min(wiphy.max_stations()).max(1),
            },
            max_interfaces,
            wiphy,
            shared,
            prefix: cfg.prefix.clone(),
            data_path: cfg.data_path,
            guests: BTreeMap::new(),
            next_id: 0,
            events: Some(events),
            inbox: BTreeMap::new(),
            cleaned,
        })
    }

    /// The card.
    pub(crate) fn wiphy(&self) -> &Wiphy {
        &self.wiphy
    }

    /// Lines for `vwifi-host status`.
    pub(crate) fn details(&self) -> Vec<(String, String)> {
        let mut d = self.wiphy.details();
        d.push((
            "stations".into(),
            format!("{} of {}", self.guests.len(), self.max_stations),
        ));
        if let Some(n) = self.max_interfaces {
            let own = self.guests.values().filter(|h| h.sharing.is_none()).count();
            d.push((
                "interface sharing".into(),
                format!(
                    "{own} of {n} station interfaces in use (max_interfaces); {} guest(s) without one",
                    self.guests.len() - own
                ),
            ));
        }
        let joined: Vec<String> = self
            .guests
            .values()
            .filter(|h| h.kernel_port)
            .map(|h| {
                format!(
                    "{}<->{}",
                    h.ifname,
                    crate::ports::kernel::veth::outer_name(h.mac)
                )
            })
            .collect();
        if !joined.is_empty() {
            d.push(("kernel data path (veth + tc)".into(), joined.join(", ")));
        }
        let recreated: Vec<String> = self
            .guests
            .iter()
            .filter(|(_, h)| h.sharing.is_none())
            .filter_map(|(id, h)| {
                let lost = h.data.lost.lock().ok().and_then(|l| l.clone());
                recreated_note(
                    &h.ifname,
                    *id,
                    h.data.recreated.load(Ordering::Relaxed),
                    lost,
                )
            })
            .collect();
        if !recreated.is_empty() {
            d.push((
                "station interfaces deleted under the daemon".into(),
                recreated.join(", "),
            ));
        }
        if !self.cleaned.is_empty() {
            d.push((
                "stale interfaces deleted at start".into(),
                self.cleaned.join(","),
            ));
        }
        d
    }

    /// Admits a guest: its station gets an interface of its own (created by its task). A
    /// guest `in_kernel` (a namespace) keeps its data in the kernel unless the configuration
    /// says `data_path = "socket"`: its attach takes the [`crate::command::KernelPort`] then.
    pub(crate) fn admit(
        &mut self,
        cfg: GuestConfig,
        in_kernel: bool,
    ) -> Result<GuestId, AdmitError> {
        if self.guests.len() >= self.max_stations {
            return Err(AdmitError::Radio(
                vwifi_core::scheduler::AdmitError::TooManyStations {
                    max: self.max_stations,
                },
            ));
        }
        let mac = cfg
            .mac
            .unwrap_or_else(|| station_mac(&cfg.name, self.next_id));
        if self.guests.values().any(|h| h.mac == mac) {
            return Err(AdmitError::Address(
                vwifi_core::demux::DemuxError::AddressInUse { mac },
            ));
        }
        self.next_id += 1;
        let guest = GuestId(self.next_id);
        let (cmds, rx) = mpsc::unbounded_channel();
        let data = Arc::new(DataPath::default());
        let (status_tx, status) = watch::channel(StationStatus {
            state: StationState::Idle,
            mac,
            ssid: None,
            bssid: None,
            channel: None,
            frequency_mhz: None,
            signal_dbm: None,
            tx_rate_kbps: None,
            phy: None,
            counters: Default::default(),
        });
        // With sharing, every guest's data goes through the daemon: the bridge is there.
        let kernel_port =
            in_kernel && self.data_path == DataPathKind::Kernel && self.max_interfaces.is_none();
        let own = self.guests.values().filter(|h| h.sharing.is_none()).count();
        if let Some(max) = self.max_interfaces.filter(|m| own >= *m) {
            let joined = follower::Joined::default();
            let spec = follower::Spec {
                guest,
                mac,
                max_interfaces: u16::try_from(max).unwrap_or(u16::MAX),
            };
            tokio::spawn(follower::run(
                spec,
                self.shared.clone(),
                rx,
                joined.clone(),
                status_tx,
            ));
            self.guests.insert(
                guest,
                Handle {
                    mac,
                    ifname: String::new(),
                    cmds,
                    data,
                    status,
                    kernel_port: false,
                    sharing: Some(joined),
                },
            );
            return Ok(guest);
        }
        self.start_station(guest, mac, kernel_port, rx, data, status_tx, status, cmds);
        Ok(guest)
    }

    /// Starts the station task of `guest`, with an interface of its own.
    #[allow(clippy::too_many_arguments)]
    fn start_station(
        &mut self,
        guest: GuestId,
        mac: MacAddr,
        kernel_port: bool,
        rx: mpsc::UnboundedReceiver<Message>,
        data: Arc<DataPath>,
        status_tx: watch::Sender<StationStatus>,
        status: watch::Receiver<StationStatus>,
        cmds: mpsc::UnboundedSender<Message>,
    ) {
        let ifname = (0..)
            .map(|n| format!("{}{n}", self.prefix))
            .find(|n| !self.guests.values().any(|h| &h.ifname == n))
            .unwrap_or_default();
        let spec = Spec {
            guest,
            mac,
            ifname: ifname.clone(),
            kernel_port,
        };
        tokio::spawn(station::run(
            spec,
            self.shared.clone(),
            rx,
            data.clone(),
            status_tx,
        ));
        self.guests.insert(
            guest,
            Handle {
                mac,
                ifname,
                cmds,
                data,
                status,
                kernel_port,
                sharing: None,
            },
        );
    }

    /// Whether a guest's interface is connected to `ssid` (a sharing guest would join it).
    fn link_on(&self, ssid: &vwifi_core::proto::Ssid) -> bool {
        self.shared.links.lock().is_ok_and(|links| {
            links.iter().any(|(_, d)| {
                d.link
                    .lock()
                    .ok()
                    .and_then(|l| l.as_ref().map(|l| l.ssid == *ssid))
                    .unwrap_or(false)
            })
        })
    }

    /// A guest without an interface asks for a network no interface is on while the card has
    /// room again (an owner left): it gets an interface of its own; the follower task ends.
    fn promote(&mut self, guest: GuestId) {
        let Some(old) = self.guests.remove(&guest) else {
            return;
        };
        tracing::info!(
            guest = guest.0,
            "a station interface is free: the guest gets its own"
        );
        drop(old.cmds);
        let (cmds, rx) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(old.status.borrow().clone());
        let data = Arc::new(DataPath::default());
        self.start_station(guest, old.mac, false, rx, data, status_tx, status, cmds);
    }

    /// What the attach of `guest` needs for the kernel data path, if its data stays there.
    pub(crate) fn kernel_port(&self, guest: GuestId) -> Option<crate::command::KernelPort> {
        let h = self.guests.get(&guest).filter(|h| h.kernel_port)?;
        Some(crate::command::KernelPort {
            station_if: h.data.station_if.subscribe(),
        })
    }

    /// The station address of a guest.
    pub(crate) fn station_mac(&self, guest: GuestId) -> Option<MacAddr> {
        self.guests.get(&guest).map(|h| h.mac)
    }

    /// The kernel interface of a guest's station.
    pub(crate) fn ifname(&self, guest: GuestId) -> Option<&str> {
        self.guests
            .get(&guest)
            .map(|h| h.ifname.as_str())
            .filter(|n| !n.is_empty())
    }

    /// The state of a guest's station.
    pub(crate) fn status(&self, guest: GuestId) -> Option<StationStatus> {
        self.guests.get(&guest).map(|h| h.status.borrow().clone())
    }

    /// Removes a guest: its task leaves the network and deletes the interface.
    pub(crate) fn remove(&mut self, guest: GuestId) {
        if let Some(h) = self.guests.remove(&guest) {
            h.data.stop();
        }
        self.inbox.remove(&guest);
    }

    /// A message from a guest: data to its packet socket, the rest to its task.
    pub(crate) fn guest_message(&mut self, guest: GuestId, msg: Message) {
        if let (Message::Connect { ssid, .. }, Some(max)) = (&msg, self.max_interfaces) {
            let own = self.guests.values().filter(|h| h.sharing.is_none()).count();
            let follower = self.guests.get(&guest).is_some_and(|h| h.sharing.is_some());
            if follower && own < max && !self.link_on(ssid) {
                self.promote(guest);
            }
        }
        let Some(h) = self.guests.get(&guest) else {
            return;
        };
        match msg {
            Message::Data(frame) => match &h.sharing {
                None => h.data.send(h.mac, &frame),
                Some(joined) => {
                    let path = joined.lock().ok().and_then(|j| j.clone());
                    if let Some(path) = path {
                        path.send_shared(guest, &frame);
                    }
                }
            },
            other => {
                let _ = h.cmds.send(other);
            }
        }
    }

    /// Data frames `guest` handed over together, in order: one batch to its station's packet
    /// socket ([`DataPath::send_batch`]: one `sendmmsg`), or frame by frame through the bridge
    /// of the interface it shares.
    pub(crate) fn guest_data(&mut self, guest: GuestId, frames: Vec<bytes::Bytes>) {
        let Some(h) = self.guests.get(&guest) else {
            return;
        };
        if h.sharing.is_none() {
            h.data.send_batch(h.mac, frames.as_slice());
            return;
        }
        for frame in frames {
            self.guest_message(guest, Message::Data(frame));
        }
    }

    /// The receiver of the stations' messages for guests, taken once by the driver.
    pub(crate) fn take_events(&mut self) -> Option<mpsc::Receiver<(GuestId, Message)>> {
        self.events.take()
    }

    /// Queues a message of a station for its guest.
    pub(crate) fn push_event(&mut self, guest: GuestId, msg: Message) {
        if self.guests.contains_key(&guest) {
            self.inbox.entry(guest).or_default().push(msg);
        }
    }

    /// Takes the messages queued for `guest`.
    pub(crate) fn take_guest_messages(&mut self, guest: GuestId) -> Vec<Message> {
        self.inbox.remove(&guest).unwrap_or_default()
    }
}

/// The status note of a guest's station interface deleted under the daemon: how often it was
/// recreated, and why it is missing while it is (`None`: never deleted).
fn recreated_note(
    ifname: &str,
    guest: GuestId,
    recreated: u64,
    lost: Option<String>,
) -> Option<String> {
    match lost {
        Some(why) => Some(format!(
            "{ifname} (guest {}): MISSING ({why}); recreated {recreated} time(s) before",
            guest.0
        )),
        None if recreated > 0 => Some(format!(
            "{ifname} (guest {}): recreated {recreated} time(s)",
            guest.0
        )),
        None => None,
    }
}

/// Whether `name` is PREFIX followed by digits only.
fn is_ours(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// A guest's station address: derived from its name as the simulated radio does (stable
/// across restarts), or from a counter for an unnamed guest.
fn station_mac(name: &str, n: u32) -> MacAddr {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(b"vwifi station address\0");
    if name.is_empty() {
        h.update(n.to_le_bytes());
    } else {
        h.update(name.as_bytes());
    }
    let digest = h.finalize();
    let mut seed = [0u8; 32];
    for (s, d) in seed.iter_mut().zip(digest.iter()) {
        *s = *d;
    }
    vwifi_core::station::local_mac_from_seed(seed)
}

/// A wireless interface as `GET_INTERFACE` lists it.
#[derive(Debug, Clone)]
struct Iface {
    index: u32,
    name: String,
    phy: u32,
    iftype: Option<u16>,
}

/// Every wireless interface (parsed by `neli-wifi`, plus the type it does not read).
async fn interfaces(nl: &mut Genl) -> Result<Vec<Iface>, Nl80211Error> {
    let msgs = nl
        .request("GET_INTERFACE", consts::CMD_GET_INTERFACE, &[], true)
        .await?;
    Ok(msgs
        .iter()
        .filter_map(|m| {
            let i = neli_wifi::Interface::try_from(m.get_attr_handle()).ok()?;
            let iftype = find(&top_attrs(m).view(), consts::ATTR_IFTYPE)
                .and_then(as_u32)
                .and_then(|t| u16::try_from(t).ok());
            Some(Iface {
                index: u32::try_from(i.index?).ok()?,
                name: as_string(i.name.as_deref()?),
                phy: i.phy?,
                iftype,
            })
        })
        .collect())
}

/// Sets a link up (`IFF_UP`), like `ip link set DEV up`, through the workspace's one
/// route-netlink helper.
pub(crate) fn set_link_up(ifindex: u32) -> Result<(), Nl80211Error> {
    vwifi_netlink::Rtnl::open()
        .and_then(|mut rtnl| rtnl.set_up(ifindex))
        .map_err(|source| Nl80211Error::Kernel {
            what: "setting the station's interface up",
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefix_and_digits_are_taken_for_leftovers() {
        assert!(is_ours("vw", "vw0"));
        assert!(is_ours("vw", "vw12"));
        assert!(!is_ours("vw", "vw"));
        assert!(!is_ours("vw", "vwlan0"));
        assert!(!is_ours("vw", "wlan0"));
        assert!(!is_ours("vw", "vw0a"));
    }

    #[test]
    fn a_deleted_interface_is_noted_as_missing_then_as_recreated() {
        assert_eq!(recreated_note("vw0", GuestId(1), 0, None), None);
        assert_eq!(
            recreated_note("vw0", GuestId(1), 0, Some("no card".into())).as_deref(),
            Some("vw0 (guest 1): MISSING (no card); recreated 0 time(s) before")
        );
        assert_eq!(
            recreated_note("vw3", GuestId(4), 2, None).as_deref(),
            Some("vw3 (guest 4): recreated 2 time(s)")
        );
    }

    #[test]
    fn station_addresses_are_stable_local_unicast_and_follow_the_name() {
        let a = station_mac("netns:g1", 1);
        assert_eq!(a, station_mac("netns:g1", 7));
        assert_ne!(a, station_mac("netns:g2", 1));
        assert!(a.is_local() && a.is_unicast());
        assert_ne!(station_mac("", 1), station_mac("", 2));
    }
}
