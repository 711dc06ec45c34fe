//! The hwsim radio: vwifi as the medium of the kernel's `mac80211_hwsim` radios.
//!
//! With `[hwsim]` in the configuration (or `vwifi-host run --hwsim`), the daemon registers
//! with the kernel's `MAC80211_HWSIM` generic netlink family (`HWSIM_CMD_REGISTER`). From then
//! on the kernel no longer carries frames between its hwsim radios itself: it hands each frame
//! a radio transmits to vwifi (`HWSIM_CMD_FRAME`, with the radio's address, the frequency and a
//! cookie), and delivers to a radio only what vwifi sends it (`HWSIM_CMD_FRAME` with the
//! receiving radio, the signal and the rate). A sent frame's fate goes back with its cookie
//! (`HWSIM_CMD_TX_INFO_FRAME`, the ACK flag if acknowledged).
//!
//! Each kernel radio becomes a node of vwifi's simulated medium ([`KernelRadio`]), added when
//! it first speaks: its frames enter the air on the frequency they were sent on, and what the
//! medium delivers to it (with the signal from its path loss) goes back to the kernel. So the
//! simulated APs, the Mux's stations (the host's radio) and the kernel's radios (real hostapd,
//! real wpa_supplicant) share one air, and kernel radios still reach each other through it.
//! The medium acknowledges a unicast frame for the node that registered its address 1: a
//! kernel radio answers to the address of its first interface (`02:00:00:00:NN:00`), to the
//! addresses the kernel announces (`HWSIM_CMD_ADD_MAC_ADDR`) and to the transmitter addresses
//! of its own management and data frames.
//!
//! [`msg`] builds and parses the messages (with `neli`), [`HwsimLink`] is the socket,
//! [`KernelRadios`] the bookkeeping on the medium, [`Hwsim`] what the driver runs.

mod link;
pub(crate) mod manage;
pub(crate) mod msg;
mod radio;
pub(crate) mod relay;

use std::collections::{BTreeMap, BTreeSet};
use std::future::pending;
use std::io;

use serde::Deserialize;
use vwifi_core::channel::Channel;
use vwifi_core::radio::{Holds, NodeId};
use vwifi_core::sim::medium::{Medium, Placement};
use vwifi_core::wire::{FrameType, FrameView};
use vwifi_core::{Instant, MacAddr};

pub(crate) use link::HwsimLink;
use msg::{FromKernel, KernelFrame, MsgError, ToKernel};
pub(crate) use radio::{KernelRadio, RadioCounters};

/// Why the hwsim radio could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HwsimError {
    /// The generic netlink socket failed (creating, reading or writing it).
    #[error("generic netlink socket")]
    Socket(#[source] io::Error),
    /// The kernel has no `MAC80211_HWSIM` family.
    #[error(
        "the kernel has no MAC80211_HWSIM generic netlink family (is the mac80211_hwsim module \
         loaded? `modprobe mac80211_hwsim radios=0` when vwifi is to create the radios of \
         native guests (attach --native), radios=N for N radios of the host): {reason}"
    )]
    NoFamily {
        /// What neli said.
        reason: String,
    },
    /// The kernel refused the registration.
    #[error(
        "the kernel refused HWSIM_CMD_REGISTER (is another medium, such as wmediumd, registered?)"
    )]
    Register {
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The kernel did not answer the registration.
    #[error("the kernel did not acknowledge HWSIM_CMD_REGISTER within 2 s")]
    RegisterTimeout,
    /// A message could not be serialized (cannot happen with the attributes we send).
    #[error("cannot encode a MAC80211_HWSIM message")]
    Encode(#[source] neli::err::SerError),
    /// The socket was closed.
    #[error("the generic netlink socket was closed")]
    Closed,
    /// `[hwsim]` joins the kernel's radios to the simulated air: it needs `[radio] kind = "sim"`.
    #[error("[hwsim] needs the simulated radio ([radio] kind = \"sim\", the default)")]
    NeedsSimRadio,
}

/// Why the `[hwsim]` table was refused; printed after `hwsim.`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum HwsimConfigError {
    /// A coordinate is not a finite number.
    #[error("{field}: coordinates must be finite numbers, got [{x}, {y}]")]
    Position {
        /// `position` or `radios[N].position`.
        field: String,
        /// East-west.
        x: f64,
        /// North-south.
        y: f64,
    },
    /// The management timeout is out of range.
    #[error("mgmt_timeout_ms: must be between 50 and 10000, got {0}")]
    MgmtTimeout(u64),
    /// The beacon loss count is out of range.
    #[error("beacon_loss_count: must be between 1 and 1000, got {0}")]
    BeaconLossCount(u32),
    /// Two `[[hwsim.radios]]` name the same radio.
    #[error("radios[{entry}].index: radio {index} is listed twice")]
    Duplicate {
        /// The second entry.
        entry: usize,
        /// The radio.
        index: u16,
    },
}

/// `[hwsim]`: the kernel's hwsim radios join the simulated air.
///
/// ```toml
/// [hwsim]
/// position = [4.0, 2.0]    # radio N stands at (x + N, y) unless listed below
/// mgmt_timeout_ms = 3000   # how long vwifi's stations wait for an AP's auth/assoc response
/// beacon_loss_count = 30   # beacon intervals of silence before a station counts its AP lost
/// [[hwsim.radios]]
/// index = 1                # hwsim radio 1 (phy of wlan1 when loaded with radios=N)
/// position = [30.0, 0.0]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HwsimSection {
    /// Where unlisted radios stand: radio N at (x + N, y); default 2 m east of the host's
    /// radio.
    #[serde(default)]
    pub(crate) position: Option<[f64; 2]>,
    /// Radios placed one by one.
    #[serde(default)]
    pub(crate) radios: Vec<HwsimRadioSection>,
    /// How long vwifi's stations wait for an authentication or association response, per
    /// attempt (three attempts), in milliseconds. Real hostapd answers a new station only after
    /// several netlink round trips and kernel work (hundreds of milliseconds in a TCG-emulated VM
    /// beside a debug build of vwifi-host), far longer than the simulated APs' microseconds; a station that asks
    /// again meanwhile makes hostapd restart the association and its 4-way handshake. The
    /// station's default, 200 ms, is mac80211's.
    #[serde(default = "default_mgmt_timeout_ms")]
    pub(crate) mgmt_timeout_ms: u64,
    /// Where VMs relay their own hwsim radios (`vwifi-guest radio`): a Unix socket the VMM's
    /// virtio-serial or vsock device connects to. With it, a host kernel without
    /// mac80211_hwsim is no error: only the relayed radios join the air.
    #[serde(default)]
    pub(crate) relay_socket: Option<std::path::PathBuf>,
    /// Beacon intervals without a word from its AP after which a vwifi station counts the
    /// AP lost. Kernel radios in an emulated VM stall now and then for over a second (the
    /// station's default, 10, is about one second).
    #[serde(default = "default_beacon_loss_count")]
    pub(crate) beacon_loss_count: u32,
}

impl Default for HwsimSection {
    fn default() -> Self {
        Self {
            position: None,
            radios: Vec::new(),
            mgmt_timeout_ms: default_mgmt_timeout_ms(),
            beacon_loss_count: default_beacon_loss_count(),
            relay_socket: None,
        }
    }
}

fn default_beacon_loss_count() -> u32 {
    30
}

fn default_mgmt_timeout_ms() -> u64 {
    3000
}

/// `[[hwsim.radios]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HwsimRadioSection {
    /// The radio's index (N of its address `42:00:00:00:NN:00`).
    pub(crate) index: u16,
    /// Where it stands, metres.
    pub(crate) position: [f64; 2],
}

impl HwsimSection {
    /// Checks every value.
    pub(crate) fn validate(&self) -> Result<(), HwsimConfigError> {
        let finite = |field: String, [x, y]: [f64; 2]| {
            if x.is_finite() && y.is_finite() {
                Ok(())
            } else {
                Err(HwsimConfigError::Position { field, x, y })
            }
        };
        if let Some(p) = self.position {
            finite("position".into(), p)?;
        }
        if !(50..=10_000).contains(&self.mgmt_timeout_ms) {
            return Err(HwsimConfigError::MgmtTimeout(self.mgmt_timeout_ms));
        }
        if !(1..=1000).contains(&self.beacon_loss_count) {
            return Err(HwsimConfigError::BeaconLossCount(self.beacon_loss_count));
        }
        let mut seen = BTreeSet::new();
        for (entry, r) in self.radios.iter().enumerate() {
            finite(format!("radios[{entry}].position"), r.position)?;
            if !seen.insert(r.index) {
                return Err(HwsimConfigError::Duplicate {
                    entry,
                    index: r.index,
                });
            }
        }
        Ok(())
    }

    /// The station settings of this table in `mux` (what real APs on kernel radios need).
    pub(crate) fn apply_to(&self, mux: &mut vwifi_core::mux::MuxConfig) {
        mux.station.mgmt_timeout = core::time::Duration::from_millis(self.mgmt_timeout_ms);
        mux.station.beacon_loss_count = self.beacon_loss_count;
    }

    /// Where the radio with hwsim address `radio` stands.
    pub(crate) fn position_of(&self, radio: MacAddr) -> (f64, f64) {
        let index = radio_index(radio);
        if let Some(r) = self.radios.iter().find(|r| r.index == index) {
            return (r.position[0], r.position[1]);
        }
        let [x, y] = self
            .position
            .unwrap_or([HOST_POSITION.0 + 2.0, HOST_POSITION.1]);
        (x + f64::from(index), y)
    }
}

/// The index N of a radio from its hwsim address `42:00:00:NN:NN:00` (bytes 3 and 4).
pub(crate) fn radio_index(radio: MacAddr) -> u16 {
    let o = radio.octets();
    u16::from_be_bytes([o[3], o[4]])
}

/// The address of a radio's first interface: its hwsim address without the 0x40 bit
/// (`02:00:00:00:NN:00`).
pub(crate) fn first_interface(radio: MacAddr) -> MacAddr {
    let mut o = radio.octets();
    o[0] &= !0x40;
    MacAddr::from(o)
}

/// What the hwsim bookkeeping saw that was not a radio's doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HwsimCounters {
    /// Kernel messages that could not be understood (dropped).
    pub(crate) malformed: u64,
    /// Errors the kernel returned for our messages.
    pub(crate) kernel_errors: u64,
    /// Messages of other commands (ignored).
    pub(crate) ignored: u64,
    /// Messages for the kernel that could not be sent.
    pub(crate) send_failed: u64,
    /// Frames of guests' radios refused: their transmitter address is another node's.
    pub(crate) spoofed: u64,
}

/// A radio vwifi created for a guest (`attach --native`): where it stands and whose it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GuestRadio {
    /// The guest (its namespace's key).
    pub(crate) guest: String,
    /// Where it stands, metres.
    pub(crate) position: (f64, f64),
    /// Its wiphy name.
    pub(crate) wiphy: String,
    /// Its interface in the guest.
    pub(crate) ifname: String,
    /// The address of its first interface (answered to while the radio lives).
    pub(crate) address: MacAddr,
}

/// Where the host's radio stands on the simulated floor, in metres (the kernel's radios stand
/// beside it unless placed).
pub(crate) const HOST_POSITION: (f64, f64) = (2.0, 2.0);

/// The air the kernel's radios join: a medium whose nodes include [`KernelRadio`]s, advanced
/// by its owner (the simulated world, [`crate::world::SimWorld`], which keeps the host's radio
/// beside the medium and lends it to every call that drives the medium), or a bare medium.
pub(crate) trait HwsimAir {
    /// The medium's node type.
    type Node: Holds<KernelRadio>;

    /// Processes everything due up to `now` (the owner's own work included).
    fn advance(&mut self, now: Instant);

    /// Services at once the nodes reached since the last call (processes the medium up to its
    /// own clock), so that an idle medium stays idle.
    fn settle(&mut self);

    /// The medium.
    fn medium(&self) -> &Medium<Self::Node>;

    /// The medium, to add and drive the kernel's radios.
    fn medium_mut(&mut self) -> &mut Medium<Self::Node>;
}

/// A bare medium (no node kept beside it) is an air of its own: advancing it is processing it.
impl<N: Holds<KernelRadio>> HwsimAir for Medium<N> {
    type Node = N;

    fn advance(&mut self, now: Instant) {
        self.handle_timeout(now);
    }

    fn settle(&mut self) {
        let now = self.now();
        self.handle_timeout(now);
    }

    fn medium(&self) -> &Self {
        self
    }

    fn medium_mut(&mut self) -> &mut Self {
        self
    }
}

/// The kernel's hwsim radios on a [`Medium`]: which node is which radio, and the addresses
/// each answers to. Sans-IO: messages from the kernel go in ([`KernelRadios::handle`]),
/// messages for the kernel come out ([`KernelRadios::poll_output`]).
#[derive(Debug)]
pub(crate) struct KernelRadios {
    cfg: HwsimSection,
    tx_power_dbm: f64,
    nodes: BTreeMap<MacAddr, NodeId>,
    addresses: BTreeMap<MacAddr, BTreeSet<MacAddr>>,
    /// The radios created for guests, by hwsim address.
    guests: BTreeMap<MacAddr, GuestRadio>,
    /// How many times the kernel announced each address of a guest's radio and not yet
    /// withdrawn it: hwsim announces an interface's address when it comes up and again when a
    /// scan starts, and withdraws it when the scan ends, so one withdrawal does not mean the
    /// interface is gone (a guest's radio learns no address from its frames to make up for it).
    announced: BTreeMap<(MacAddr, MacAddr), u32>,
    counters: HwsimCounters,
    /// Bumped whenever a radio's addresses change ([`KernelRadios::mpdu_limits`]).
    generation: u64,
}

impl KernelRadios {
    /// The addresses the kernel's radios answer to, each with the longest MPDU the kernel
    /// takes from the medium ([`vwifi_core::wire::amsdu::KERNEL_RADIO_MAX_MPDU`]), and a
    /// number that changes whenever they do.
    pub(crate) fn mpdu_limits(&self) -> (u64, BTreeMap<MacAddr, usize>) {
        let limit = vwifi_core::wire::amsdu::KERNEL_RADIO_MAX_MPDU;
        let limits = self
            .addresses
            .values()
            .flatten()
            .map(|&a| (a, limit))
            .collect();
        (self.generation, limits)
    }

    /// No radio yet; radios will stand where `cfg` says and transmit at `tx_power_dbm`.
    pub(crate) fn new(cfg: HwsimSection, tx_power_dbm: f64) -> Self {
        Self {
            cfg,
            tx_power_dbm,
            nodes: BTreeMap::new(),
            addresses: BTreeMap::new(),
            guests: BTreeMap::new(),
            announced: BTreeMap::new(),
            counters: HwsimCounters::default(),
            generation: 0,
        }
    }

    /// A radio created for a guest joins the air at once, where `g` says. Its frames are
    /// checked: one whose transmitter address another node answers to is refused (reported
    /// unacknowledged to the kernel) and counted, and the radio answers only to the addresses
    /// its kernel announces (and its first interface's), never to what its frames claim.
    pub(crate) fn add_guest<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        radio: MacAddr,
        g: GuestRadio,
    ) {
        let (x, y) = g.position;
        tracing::info!(%radio, guest = %g.guest, wiphy = %g.wiphy, x, y, "hwsim: a guest's radio joins the air");
        self.announced.insert((radio, g.address), 1);
        self.guests.insert(radio, g);
        let node = self.node(medium, radio, DEFAULT_CHANNEL);
        let _ = medium.set_position(node, vwifi_core::sim::medium::Position { x, y });
    }

    /// A guest's radio was deleted: it stops answering and its node falls silent (the medium
    /// keeps nodes; a new radio of the guest is a new node).
    pub(crate) fn remove_guest<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        radio: MacAddr,
    ) {
        self.guests.remove(&radio);
        self.addresses.remove(&radio);
        self.generation += 1;
        self.announced.retain(|(r, _), _| *r != radio);
        if let Some(node) = self.nodes.remove(&radio) {
            let _ = medium.set_addresses(node, Vec::new());
            if let Some(r) = medium.node_as_mut::<KernelRadio>(node) {
                r.retire();
            }
        }
    }

    /// The radios created for guests, with their node's counters.
    pub(crate) fn guest_radios<'m, N: Holds<KernelRadio>>(
        &'m self,
        medium: &'m Medium<N>,
    ) -> impl Iterator<Item = (MacAddr, &'m GuestRadio, Option<RadioCounters>)> + 'm {
        self.guests.iter().map(|(&radio, g)| {
            let c = self
                .nodes
                .get(&radio)
                .and_then(|&n| medium.node_as::<KernelRadio>(n))
                .map(KernelRadio::counters);
            (radio, g, c)
        })
    }

    /// Where a radio with hwsim address `radio` stands unless placed otherwise.
    pub(crate) fn position_of(&self, radio: MacAddr) -> (f64, f64) {
        self.cfg.position_of(radio)
    }

    /// The counters.
    pub(crate) fn counters(&self) -> HwsimCounters {
        self.counters
    }

    /// Every radio: its hwsim address, node and what it did.
    pub(crate) fn radios<'m, N: Holds<KernelRadio>>(
        &'m self,
        medium: &'m Medium<N>,
    ) -> impl Iterator<Item = (MacAddr, NodeId, RadioCounters)> + 'm {
        self.nodes.iter().filter_map(|(&radio, &node)| {
            let r = medium.node_as::<KernelRadio>(node)?;
            Some((radio, node, r.counters()))
        })
    }

    /// One message from the kernel, at the medium's current time (the caller advanced it).
    pub(crate) fn handle<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        m: Result<FromKernel, MsgError>,
    ) {
        match m {
            Ok(FromKernel::Frame(f)) => self.frame(medium, f),
            Ok(FromKernel::AddMacAddr { radio, addr }) => {
                let ch = self.channel_hint(medium, radio);
                self.node(medium, radio, ch);
                if self.guests.contains_key(&radio) {
                    *self.announced.entry((radio, addr)).or_default() += 1;
                }
                self.learn(medium, radio, addr);
            }
            Ok(FromKernel::DelMacAddr { radio, addr }) => {
                if let Some(n) = self.announced.get_mut(&(radio, addr)) {
                    *n = n.saturating_sub(1);
                    if *n > 0 {
                        return;
                    }
                    self.announced.remove(&(radio, addr));
                }
                self.forget(medium, radio, addr);
            }
            Ok(FromKernel::Ack) => {}
            Ok(FromKernel::Error { errno }) => {
                self.counters.kernel_errors += 1;
                tracing::debug!(error = %io::Error::from_raw_os_error(errno), "hwsim: the kernel refused a message");
            }
            Ok(FromKernel::Other { nl_type, cmd }) => {
                self.counters.ignored += 1;
                tracing::trace!(nl_type, ?cmd, "hwsim: message ignored");
            }
            Err(e) => {
                self.counters.malformed += 1;
                tracing::warn!(error = %e, "hwsim: a kernel message could not be understood");
            }
        }
    }

    fn channel_hint<N: Holds<KernelRadio>>(&self, medium: &Medium<N>, radio: MacAddr) -> Channel {
        self.nodes
            .get(&radio)
            .and_then(|&n| medium.channel_of(n))
            .unwrap_or(DEFAULT_CHANNEL)
    }

    fn frame<N: Holds<KernelRadio>>(&mut self, medium: &mut Medium<N>, f: KernelFrame) {
        tracing::trace!(radio = %f.radio, len = f.frame.len(), fc = ?f.frame.get(..2), freq = ?f.freq, cookie = f.cookie, flags = f.flags, "hwsim: frame from the kernel");
        // A frame without a frequency (kernels before 5.0) goes out where the radio is.
        let channel = match f.freq {
            Some(freq) => msg::channel_of(freq),
            None => Some(self.channel_hint(medium, f.radio)),
        };
        let node = self.node(medium, f.radio, channel.unwrap_or(DEFAULT_CHANNEL));
        let guest = self.guests.contains_key(&f.radio);
        if let Ok(view) = FrameView::new_checked(&f.frame[..]) {
            let own = matches!(
                view.frame_control().frame_type,
                FrameType::Management(_) | FrameType::Data(_)
            );
            let ta = view.addr2().filter(|_| own);
            if guest {
                // A guest's radio may not speak as another node.
                if let Some(ta) = ta.filter(|&ta| medium.owner_of(ta).is_some_and(|o| o != node)) {
                    self.counters.spoofed += 1;
                    tracing::debug!(radio = %f.radio, %ta, "hwsim: a guest's frame with another node's address refused");
                    if let Some(r) = medium.node_as_mut::<KernelRadio>(node) {
                        r.refuse(f);
                    }
                    return;
                }
            } else if let Some(ta) = ta {
                self.learn(medium, f.radio, ta);
            }
        }
        if let Some(r) = medium.node_as_mut::<KernelRadio>(node) {
            r.transmit(f, channel);
        }
    }

    /// The node of `radio`, added (tuned to `channel`) if it is new.
    fn node<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        radio: MacAddr,
        channel: Channel,
    ) -> NodeId {
        if let Some(&n) = self.nodes.get(&radio) {
            return n;
        }
        let (x, y) = self
            .guests
            .get(&radio)
            .map_or_else(|| self.cfg.position_of(radio), |g| g.position);
        let node = medium.add_node(
            KernelRadio::new(radio, channel),
            Placement::at(x, y).with_tx_power(self.tx_power_dbm),
        );
        self.nodes.insert(radio, node);
        tracing::info!(%radio, index = radio_index(radio), x, y, %channel, "hwsim: a kernel radio joined the air");
        let first = self
            .guests
            .get(&radio)
            .map_or_else(|| first_interface(radio), |g| g.address);
        self.learn(medium, radio, first);
        node
    }

    /// `radio` answers to `addr` from now on (unless another node does).
    fn learn<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        radio: MacAddr,
        addr: MacAddr,
    ) {
        let Some(&node) = self.nodes.get(&radio) else {
            return;
        };
        let set = self.addresses.entry(radio).or_default();
        if addr.is_group() || set.contains(&addr) {
            return;
        }
        if let Some(owner) = medium.owner_of(addr).filter(|&o| o != node) {
            tracing::debug!(%radio, %addr, ?owner, "hwsim: address already answered by another node");
            return;
        }
        set.insert(addr);
        self.generation += 1;
        let list: Vec<MacAddr> = set.iter().copied().collect();
        if let Err(e) = medium.set_addresses(node, list) {
            tracing::warn!(%radio, %addr, error = %e, "hwsim: cannot register an address");
            set.remove(&addr);
        } else {
            tracing::debug!(%radio, %addr, "hwsim: the radio answers to a new address");
        }
    }

    fn forget<N: Holds<KernelRadio>>(
        &mut self,
        medium: &mut Medium<N>,
        radio: MacAddr,
        addr: MacAddr,
    ) {
        let (Some(&node), Some(set)) = (self.nodes.get(&radio), self.addresses.get_mut(&radio))
        else {
            return;
        };
        if set.remove(&addr) {
            self.generation += 1;
            let list: Vec<MacAddr> = set.iter().copied().collect();
            if let Err(e) = medium.set_addresses(node, list) {
                tracing::warn!(%radio, error = %e, "hwsim: cannot update the addresses");
            }
        }
    }

    /// The messages every radio has for the kernel, radio by radio in order. Leaves the
    /// medium's next wake-up as it was.
    pub(crate) fn poll_output(&mut self, air: &mut impl HwsimAir) -> Vec<ToKernel> {
        let medium = air.medium_mut();
        let mut out = Vec::new();
        for &node in self.nodes.values() {
            if !medium
                .node_as::<KernelRadio>(node)
                .is_some_and(KernelRadio::has_output)
            {
                continue;
            }
            if let Some(r) = medium.node_as_mut::<KernelRadio>(node) {
                out.extend(r.take_output());
            }
        }
        for m in &out {
            match m {
                ToKernel::Frame {
                    radio,
                    frame,
                    signal_dbm,
                    freq,
                    ..
                } => {
                    tracing::trace!(%radio, len = frame.len(), fc = ?frame.get(..2), a1 = ?frame.get(4..10), signal_dbm, freq, "hwsim: frame to the kernel")
                }
                ToKernel::TxInfo {
                    radio,
                    flags,
                    cookie,
                    ..
                } => tracing::trace!(%radio, flags, cookie, "hwsim: tx status to the kernel"),
            }
        }
        if !out.is_empty() {
            // Reaching a node marks it for servicing "now": service it at once, so that an
            // idle medium stays idle.
            air.settle();
        }
        out
    }
}

/// The channel a radio is put on before it sent anything (an address announcement). Evaluated
/// at compile time: it cannot fail at run time.
const DEFAULT_CHANNEL: Channel = match Channel::new(1) {
    Ok(c) => c,
    Err(_) => panic!("channel 1 exists"),
};

/// The hwsim radio as the driver runs it: the socket and the radios on the world's medium.
#[derive(Debug)]
pub(crate) struct Hwsim {
    /// This kernel's hwsim family; `None` when the kernel has none and only VMs' relayed
    /// radios join the air.
    link: Option<HwsimLink>,
    radios: KernelRadios,
    /// VMs' relay links, by id (1 to 255: the second byte of their radios' names on the air).
    relays: BTreeMap<u8, relay::Relay>,
}

impl Hwsim {
    /// Registers as the medium of the kernel's hwsim radios; they will stand where `cfg`
    /// says and transmit at `tx_power_dbm`. The messages the kernel sent before it
    /// acknowledged are handled into `world` at `now`.
    pub(crate) async fn start(
        cfg: HwsimSection,
        tx_power_dbm: f64,
        world: &mut impl HwsimAir,
        now: Instant,
    ) -> Result<Self, HwsimError> {
        let relays_only = cfg.relay_socket.is_some();
        let (link, early) = match HwsimLink::open().await {
            Ok((link, early)) => {
                tracing::info!(
                    family = link.family(),
                    "hwsim: registered as the medium of the kernel's mac80211_hwsim radios"
                );
                (Some(link), early)
            }
            Err(HwsimError::NoFamily { reason }) if relays_only => {
                tracing::warn!(%reason, "hwsim: this kernel has no mac80211_hwsim: only VMs' relayed radios join the air");
                (None, Vec::new())
            }
            Err(e) => return Err(e),
        };
        let mut h = Self {
            link,
            radios: KernelRadios::new(cfg, tx_power_dbm),
            relays: BTreeMap::new(),
        };
        h.handle(world, now, early);
        Ok(h)
    }

    /// The next datagram's messages from the kernel (cancel-safe; never, without a kernel
    /// family).
    pub(crate) async fn recv(&mut self) -> Result<Vec<Result<FromKernel, MsgError>>, HwsimError> {
        match &mut self.link {
            Some(link) => link.recv().await,
            None => pending().await,
        }
    }

    /// A VM's relay link opens: its id, or `None` when 255 are open.
    pub(crate) fn open_relay(
        &mut self,
        name: String,
        family: u16,
        tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Option<u8> {
        let id = (1..=u8::MAX).find(|id| !self.relays.contains_key(id))?;
        tracing::info!(relay = id, %name, family, "hwsim: a VM relays its radios");
        self.relays.insert(
            id,
            relay::Relay {
                name,
                family,
                tx,
                seq: 1,
                dropped: 0,
            },
        );
        Some(id)
    }

    /// A datagram from relay link `id` at `now`; a radio heard of for the first time joins
    /// the air as the VM's.
    pub(crate) fn relay_datagram(
        &mut self,
        world: &mut impl HwsimAir,
        now: Instant,
        id: u8,
        datagram: &[u8],
    ) {
        let Some(r) = self.relays.get(&id) else {
            return;
        };
        let (family, name) = (r.family, r.name.clone());
        let msgs = relay::from_vm(datagram, family, id);
        for m in &msgs {
            let radio = match m {
                Ok(FromKernel::Frame(f)) => f.radio,
                Ok(FromKernel::AddMacAddr { radio, .. }) => *radio,
                _ => continue,
            };
            if !self.radios.guests.contains_key(&radio) {
                let position = self.radios.position_of(radio);
                let g = GuestRadio {
                    guest: name.clone(),
                    position,
                    wiphy: format!("relay {id}"),
                    ifname: "-".into(),
                    address: first_interface(relay::in_vm(radio)),
                };
                world.advance(now);
                self.radios.add_guest(world.medium_mut(), radio, g);
            }
        }
        self.handle(world, now, msgs);
    }

    /// Relay link `id` ended: its radios leave the air.
    pub(crate) fn close_relay(&mut self, world: &mut impl HwsimAir, id: u8) {
        let Some(r) = self.relays.remove(&id) else {
            return;
        };
        let gone: Vec<MacAddr> = self
            .radios
            .guests
            .keys()
            .copied()
            .filter(|&radio| relay::relay_of(radio) == id)
            .collect();
        for radio in gone {
            self.radios.remove_guest(world.medium_mut(), radio);
        }
        tracing::info!(relay = id, name = %r.name, dropped = r.dropped, "hwsim: a VM's relay ended");
    }

    /// Messages from the kernel arriving at `now`.
    pub(crate) fn handle(
        &mut self,
        world: &mut impl HwsimAir,
        now: Instant,
        msgs: Vec<Result<FromKernel, MsgError>>,
    ) {
        if msgs.is_empty() {
            return;
        }
        world.advance(now);
        for m in msgs {
            self.radios.handle(world.medium_mut(), m);
        }
        let at = world.medium().now();
        world.advance(at);
    }

    /// See [`KernelRadios::mpdu_limits`].
    pub(crate) fn mpdu_limits(&self) -> (u64, BTreeMap<MacAddr, usize>) {
        self.radios.mpdu_limits()
    }

    /// Sends the kernel what the radios have for it. A failed send is counted and logged;
    /// the radio goes on.
    pub(crate) fn flush(&mut self, world: &mut impl HwsimAir) {
        for m in self.radios.poll_output(world) {
            let id = relay::relay_of(relay::radio_of(&m));
            if id != 0 {
                if let Some(r) = self.relays.get_mut(&id) {
                    r.seq = r.seq.wrapping_add(1);
                    match relay::to_vm(m).to_bytes(r.family, r.seq) {
                        Ok(bytes) => {
                            if r.tx.try_send(bytes::Bytes::from(bytes)).is_err() {
                                r.dropped += 1;
                            }
                        }
                        Err(_) => self.radios.counters.send_failed += 1,
                    }
                }
                continue;
            }
            let Some(link) = self.link.as_mut() else {
                continue;
            };
            if let Err(e) = link.send(&m) {
                self.radios.counters.send_failed += 1;
                tracing::warn!(error = %crate::error_text::error_chain(&e), "hwsim: a message for the kernel was not sent");
            }
        }
    }

    /// The radios' bookkeeping (to add and remove guests' radios).
    pub(crate) fn radios_mut(&mut self) -> &mut KernelRadios {
        &mut self.radios
    }

    /// The radios' bookkeeping.
    pub(crate) fn radios(&self) -> &KernelRadios {
        &self.radios
    }

    /// Logs what every radio did.
    pub(crate) fn log_summary(&self, world: &impl HwsimAir) {
        for (radio, _, c) in self.radios.radios(world.medium()) {
            tracing::info!(
                %radio,
                tx = c.tx_frames,
                acked = c.tx_acked,
                not_acked = c.tx_not_acked,
                rx = c.rx_frames,
                sleep_nulls_rx = c.ps_sleep_rx,
                tim_buffered = c.tim_buffered,
                held_for_sleeper = c.held_for_sleeper,
                held_dropped = c.held_dropped,
                "hwsim radio"
            );
        }
        tracing::info!(medium = ?world.medium().stats(), "hwsim: the air");
        let c = self.radios.counters();
        tracing::info!(
            malformed = c.malformed,
            kernel_errors = c.kernel_errors,
            send_failed = c.send_failed,
            spoofed = c.spoofed,
            "hwsim: stopped"
        );
    }
}

/// [`Hwsim::recv`] if there is a hwsim radio, else never.
pub(crate) async fn recv(
    h: &mut Option<Hwsim>,
) -> Result<Vec<Result<FromKernel, MsgError>>, HwsimError> {
    match h {
        Some(h) => h.recv().await,
        None => pending().await,
    }
}

#[cfg(test)]
mod tests;
