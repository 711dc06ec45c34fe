//! The embedded default radio world: the [`Medium`] with the software APs of a [`SimConfig`].
//!
//! [`SimAir`] is what `vwifi-host` runs when no real radio is configured. It turns the
//! configuration file's view of the air ([`config::MediumConfig`]) into the medium's
//! ([`MediumConfig`]), creates the medium, puts every AP of the configuration on it at its
//! position with its BSSID registered (so it acknowledges its unicast frames), and gives the
//! host one place to reach the APs' uplinks and events. Station radios are added by whoever owns
//! them ([`SimAir::add_station_node`]). Like the rest of `sim`, it is sans-IO: time goes in
//! through [`SimAir::handle_timeout`], and [`SimAir::poll_timeout`] says when it must.
//!
//! # From the configuration file to the medium
//! - **Path loss per band.** The 2.4 GHz band uses `reference_loss_db` at 1 m and
//!   `path_loss_exponent`; the 5 GHz band the same exponent and
//!   `reference_loss_db + `[`FIVE_GHZ_EXTRA_LOSS_DB`] (free-space loss grows by
//!   `20 log10(f5 / f2.4)`, about 6.7 dB from 2.437 to 5.18 GHz, rounded to 7 dB: the medium's
//!   own defaults, 40 and 47 dB); the 6 GHz band `reference_loss_db + `[`SIX_GHZ_EXTRA_LOSS_DB`]
//!   (8 dB from 2.437 to 6.135 GHz: 48 dB).
//! - **Transmit power** `tx_power_dbm` for every radio: the APs, and stations added with
//!   [`SimAir::add_station_node`].
//! - **Noise floor** as given; receiver **sensitivity** [`SENSITIVITY_ABOVE_NOISE_DB`] above it
//!   (the medium's defaults, -95 and -92 dBm).
//! - **Extra loss** `loss_rate`.
//! - **Airtime** `airtime` as given (`false`: the zero-airtime measuring mode).
//! - **Retries.** The file counts *retransmissions* (`retry_limit`); the medium counts
//!   transmission *attempts*, the first included: `retry_limit + 1`.
//! - **PHY rate.** Unicast frames go at the legacy rate nearest to `phy_rate_kbps` in each band
//!   ([`nearest_rate`]: OFDM only at 5 GHz; ties go to the slower rate); group frames at the
//!   band's basic rate (1 Mbit/s DSSS at 2.4 GHz, 6 Mbit/s OFDM at 5 GHz).
//!
//! # Seeds
//! Everything random on the air comes from one master seed: the configuration's `seed`, or
//! [`SimAir::DEFAULT_SEED`] when it has none (so an unconfigured run is reproducible; a host
//! that wants variety passes its own to [`SimAir::with_seed`]). The medium's 32-byte seed is
//! [`medium_seed`] (the master seed little-endian in the first eight bytes, as
//! `testing::seed_bytes`), and AP number `i` (in configuration order) gets [`ap_seed`]`(seed, i)`,
//! a SplitMix64 mix of the two, so no two APs share ANonces or GTKs.
//!
//! # Using it with a medium you own
//! [`SimAps`] is the same AP bookkeeping without the medium: [`SimAps::install`] puts the APs
//! on any [`Medium`] (a test world's, say) and its methods take that medium as an argument.
//! [`SimAir`] is a [`Medium`] plus a [`SimAps`].
//!
//! ```
//! use vwifi_core::sim::air::SimAir;
//! use vwifi_core::sim::config::SimConfig;
//! use vwifi_core::Instant;
//!
//! let cfg = SimConfig::from_toml_str(
//!     "seed = 7\n[[aps]]\nssid = \"lab\"\nchannel = 6\nposition = [3.0, 4.0]\nuplink = true\n",
//! )
//! .unwrap();
//! let mut air = SimAir::new(&cfg).unwrap();
//! let bssid = air.aps().next().unwrap().bssid();
//! // The host's loop: wake the air when it asks, then drain uplinks and events.
//! while let Some(at) = air.poll_timeout().filter(|&t| t < Instant::from_millis(250)) {
//!     air.handle_timeout(at);
//!     while let Some((_bssid, _frame)) = air.poll_uplink() { /* to that AP's TAP */ }
//!     while let Some((_bssid, _event)) = air.poll_event() { /* to the logs */ }
//! }
//! // The AP's first beacons (its TBTT phase, within the first DTIM interval, comes from its BSSID).
//! assert!((1..=3).contains(&air.medium().stats().transmissions));
//! assert_eq!(air.ap(bssid).unwrap().config().channel.number(), 6);
//! ```

use crate::addr::MacAddr;
use crate::channel::Band;
use crate::phy::PhyCaps;
use crate::radio::{Holds, Node, NodeId};
use crate::sim::ap::{ApConfig, ApConfigError, ApEvent, SoftAp};
use crate::sim::config::{self, ConfigError, SimConfig};
use crate::sim::medium::{
    BandConfig, Medium, MediumConfig, MediumError, PathLoss, PhyRate, Placement, Position,
};
use crate::sim::nodes::AirNode;
use crate::time::Instant;
use crate::wire::EthernetFrame;

/// How much more the 5 GHz band loses at the 1 m reference distance than 2.4 GHz, in dB.
pub const FIVE_GHZ_EXTRA_LOSS_DB: f64 = 7.0;

/// How much more the 6 GHz band loses at the 1 m reference distance than 2.4 GHz, in dB.
pub const SIX_GHZ_EXTRA_LOSS_DB: f64 = 8.0;

/// How far above the noise floor the receiver sensitivity lies, in dB.
pub const SENSITIVITY_ABOVE_NOISE_DB: f64 = 3.0;

/// Why the simulated air could not be built, or a call named something it does not have.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimAirError {
    /// The configuration is invalid (the error names the field).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The medium refused its configuration or a node's addresses.
    #[error("simulated medium: {0}")]
    Medium(#[from] MediumError),
    /// An AP refused its configuration.
    #[error("aps[{index}] ({bssid}): {error}")]
    Ap {
        /// The index of the AP in the configuration.
        index: usize,
        /// Its BSSID.
        bssid: MacAddr,
        /// What it refused.
        error: ApConfigError,
    },
    /// No AP of this air has this BSSID.
    #[error("no simulated AP has BSSID {0}")]
    UnknownBssid(MacAddr),
}

/// The legacy rate closest to `kbps` that exists in `band` (OFDM only at 5 GHz); of two
/// equally close rates, the slower.
pub fn nearest_rate(kbps: u32, band: Band) -> PhyRate {
    PhyRate::ALL
        .into_iter()
        .filter(|r| r.allowed_in(band))
        .min_by_key(|r| (r.kbps().abs_diff(kbps), r.kbps()))
        .unwrap_or(PhyRate::Ofdm6)
}

/// The medium's configuration for the configuration file's `[medium]` table (checked first);
/// see the [module documentation](self) for the mapping.
pub fn medium_config(file: &config::MediumConfig) -> Result<MediumConfig, SimAirError> {
    file.validate()?;
    let defaults = MediumConfig::default();
    let band = |base: BandConfig, reference_loss_db: f64, b: Band| BandConfig {
        path_loss: PathLoss {
            reference_loss_db,
            exponent: file.path_loss_exponent,
        },
        unicast_rate: nearest_rate(file.phy_rate_kbps, b),
        group_rate: base.group_rate,
    };
    let cfg = MediumConfig {
        band_2_4_ghz: band(defaults.band_2_4_ghz, file.reference_loss_db, Band::Ghz2_4),
        band_5_ghz: band(
            defaults.band_5_ghz,
            file.reference_loss_db + FIVE_GHZ_EXTRA_LOSS_DB,
            Band::Ghz5,
        ),
        band_6_ghz: band(
            defaults.band_6_ghz,
            file.reference_loss_db + SIX_GHZ_EXTRA_LOSS_DB,
            Band::Ghz6,
        ),
        noise_floor_dbm: file.noise_floor_dbm,
        sensitivity_dbm: file.noise_floor_dbm + SENSITIVITY_ABOVE_NOISE_DB,
        extra_loss: file.loss_rate,
        retry_limit: file.retry_limit.saturating_add(1),
        airtime: file.airtime,
        amsdu: file.amsdu,
        ..defaults
    };
    cfg.validate()?;
    Ok(cfg)
}

/// The medium's 32-byte seed for master seed `seed`: little-endian in the first eight bytes,
/// zeros after.
pub fn medium_seed(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (dst, src) in out.iter_mut().zip(seed.to_le_bytes()) {
        *dst = src;
    }
    out
}

/// The seed of AP number `index` (configuration order) for master seed `seed`: SplitMix64's
/// output function applied to `seed + (index + 1) * golden gamma`. Distinct for distinct
/// indexes of one master seed.
pub fn ap_seed(seed: u64, index: usize) -> u64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut z = seed.wrapping_add((index as u64).wrapping_add(1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The software APs of a simulation, as nodes on a [`Medium`] the caller holds: which node
/// is which BSSID, and round-robin access to their uplinks and events. Every method that
/// reaches an AP takes that medium.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAps {
    /// `(BSSID, node)` in configuration order.
    nodes: Vec<(MacAddr, NodeId)>,
    tx_power_dbm: f64,
    /// The PHY capabilities given to station radios added through
    /// [`SimAps::add_station_node`] (the `[stations]` table).
    station_caps: PhyCaps,
    next_uplink: usize,
    next_event: usize,
}

impl SimAps {
    /// Puts every AP of `cfg` on `medium` at its position (transmit power from
    /// `cfg.medium.tx_power_dbm`), with its BSSID registered, starting at the medium's current
    /// time, AP `i` seeded with [`ap_seed`]`(seed, i)`. Derives the PSKs of WPA2 networks
    /// (PBKDF2: a moment per network); use [`SimAps::install_configs`] to reuse derived ones.
    pub fn install<N: Holds<SoftAp>>(
        medium: &mut Medium<N>,
        cfg: &SimConfig,
        seed: u64,
    ) -> Result<Self, SimAirError> {
        let aps = cfg.ap_configs()?;
        let mut installed = Self::install_configs(medium, &cfg.medium, aps, seed)?;
        installed.station_caps = cfg.stations.caps()?;
        Ok(installed)
    }

    /// Like [`SimAps::install`], from AP configurations already derived (by
    /// [`SimConfig::ap_configs`], or built by hand) and the `[medium]` table they go with.
    pub fn install_configs<N: Holds<SoftAp>>(
        medium: &mut Medium<N>,
        file: &config::MediumConfig,
        aps: Vec<ApConfig>,
        seed: u64,
    ) -> Result<Self, SimAirError> {
        file.validate()?;
        // Check everything before the first node goes on the air.
        for (index, ap) in aps.iter().enumerate() {
            ap.validate().map_err(|error| SimAirError::Ap {
                index,
                bssid: ap.bssid,
                error,
            })?;
            if let Some(owner) = medium.owner_of(ap.bssid) {
                return Err(MediumError::AddressInUse {
                    addr: ap.bssid,
                    owner,
                }
                .into());
            }
        }
        let mut nodes: Vec<(MacAddr, NodeId)> = Vec::with_capacity(aps.len());
        for (index, cfg) in aps.into_iter().enumerate() {
            let bssid = cfg.bssid;
            if nodes.iter().any(|(b, _)| *b == bssid) {
                let owner = nodes
                    .iter()
                    .find(|(b, _)| *b == bssid)
                    .map_or(NodeId(0), |(_, n)| *n);
                return Err(MediumError::AddressInUse { addr: bssid, owner }.into());
            }
            let (x, y) = cfg.position;
            let placement = Placement::at(x, y).with_tx_power(file.tx_power_dbm);
            let phy = cfg.phy;
            let ap = SoftAp::new(cfg, medium.now(), ap_seed(seed, index)).map_err(|error| {
                SimAirError::Ap {
                    index,
                    bssid,
                    error,
                }
            })?;
            let node = medium.add_node(ap, placement);
            medium.set_addresses(node, vec![bssid])?;
            medium.set_phy_caps(node, phy)?;
            nodes.push((bssid, node));
        }
        Ok(Self {
            nodes,
            tx_power_dbm: file.tx_power_dbm,
            station_caps: PhyCaps::STATION_DEFAULT,
            next_uplink: 0,
            next_event: 0,
        })
    }

    /// The BSSIDs, in configuration order.
    pub fn bssids(&self) -> impl Iterator<Item = MacAddr> + '_ {
        self.nodes.iter().map(|(b, _)| *b)
    }

    /// The number of APs.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no APs.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of the AP with `bssid`.
    pub fn node(&self, bssid: MacAddr) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|(b, _)| *b == bssid)
            .map(|(_, n)| *n)
    }

    /// The placement of a radio at `position` with the configured transmit power.
    pub fn placement(&self, position: Position) -> Placement {
        Placement {
            position,
            tx_power_dbm: self.tx_power_dbm,
        }
    }

    /// The AP with `bssid` on `medium`.
    pub fn ap<'m, N: Holds<SoftAp>>(
        &self,
        medium: &'m Medium<N>,
        bssid: MacAddr,
    ) -> Option<&'m SoftAp> {
        medium.node_as(self.node(bssid)?)
    }

    /// The AP with `bssid` on `medium`, to change it (the medium services it at its current
    /// time).
    pub fn ap_mut<'m, N: Holds<SoftAp>>(
        &self,
        medium: &'m mut Medium<N>,
        bssid: MacAddr,
    ) -> Option<&'m mut SoftAp> {
        medium.node_as_mut(self.node(bssid)?)
    }

    /// Every AP on `medium`, in configuration order.
    pub fn aps<'m, N: Holds<SoftAp>>(
        &'m self,
        medium: &'m Medium<N>,
    ) -> impl Iterator<Item = &'m SoftAp> + 'm {
        self.nodes
            .iter()
            .filter_map(move |(_, n)| medium.node_as::<SoftAp>(*n))
    }

    /// Adds a station's radio `node` at `position` with the configured transmit power and the
    /// stations' PHY capabilities ([`SimAps::station_caps`]). Its owner registers its MAC
    /// address with [`Medium::set_addresses`].
    pub fn add_station_node<N: Holds<T>, T>(
        &self,
        medium: &mut Medium<N>,
        node: T,
        position: Position,
    ) -> NodeId {
        let id = medium.add_node(node, self.placement(position));
        // The node was just added: it exists.
        let _ = medium.set_phy_caps(id, self.station_caps);
        id
    }

    /// The PHY capabilities of the guests' station radios (`[stations]`; 802.11ax 2x2 by
    /// default).
    pub fn station_caps(&self) -> PhyCaps {
        self.station_caps
    }

    /// The next 802.3 frame one of the APs sends to its uplink, with that AP's BSSID. The APs
    /// take turns, so a busy one cannot starve the others. Polling leaves
    /// [`Medium::poll_timeout`] as it was (it never asks for a wake-up "now" because of it).
    pub fn poll_uplink<N: Holds<SoftAp>>(
        &mut self,
        medium: &mut Medium<N>,
    ) -> Option<(MacAddr, EthernetFrame)> {
        let found = round_robin(&self.nodes, self.next_uplink, |node| {
            medium
                .node_as_mut::<SoftAp>(node)
                .and_then(SoftAp::poll_uplink)
        });
        settle(medium);
        let (i, item) = found?;
        self.next_uplink = i + 1;
        Some(item)
    }

    /// An 802.3 frame from the uplink of the AP with `bssid`, arriving at `now`: the medium
    /// first processes everything due up to `now` (a `now` before the medium's clock counts as
    /// its clock), then the AP takes the frame and the medium sends what it makes of it.
    pub fn handle_uplink<N: Holds<SoftAp>>(
        &self,
        medium: &mut Medium<N>,
        bssid: MacAddr,
        now: Instant,
        frame: EthernetFrame,
    ) -> Result<(), SimAirError> {
        let node = self.node(bssid).ok_or(SimAirError::UnknownBssid(bssid))?;
        medium.handle_timeout(now);
        let at = medium.now();
        let ap = medium
            .node_as_mut::<SoftAp>(node)
            .ok_or(SimAirError::UnknownBssid(bssid))?;
        ap.handle_uplink(at, frame);
        medium.handle_timeout(at);
        Ok(())
    }

    /// Runs the distribution system's roaming hand-offs between these APs
    /// ([`forward_roams`]); returns how many stations an old AP released.
    pub fn forward_roams<N: Holds<SoftAp>>(&self, medium: &mut Medium<N>) -> usize {
        forward_roams(medium, &self.nodes)
    }

    /// The next event of one of the APs, with that AP's BSSID; the APs take turns. Like
    /// [`SimAps::poll_uplink`], it leaves [`Medium::poll_timeout`] as it was.
    pub fn poll_event<N: Holds<SoftAp>>(
        &mut self,
        medium: &mut Medium<N>,
    ) -> Option<(MacAddr, ApEvent)> {
        let found = round_robin(&self.nodes, self.next_event, |node| {
            medium
                .node_as_mut::<SoftAp>(node)
                .and_then(SoftAp::poll_event)
        });
        settle(medium);
        let (i, item) = found?;
        self.next_event = i + 1;
        Some(item)
    }
}

/// The distribution system between the APs `aps` (`(BSSID, node)`) of `medium`, for roaming:
/// every station that reassociated with one of them naming another of the same SSID as its
/// current AP ([`SoftAp::poll_roamed_in`]) is released by that other AP
/// ([`SoftAp::release_roamed`]), so that only its new AP holds it and the uplink bridge routes
/// its traffic there. Returns how many stations were released. Reaches (marks for servicing)
/// only the APs with something to forward and the APs they name.
pub fn forward_roams<N: Holds<SoftAp>>(medium: &mut Medium<N>, aps: &[(MacAddr, NodeId)]) -> usize {
    let (released, reached) = release_roams(medium, aps);
    if reached {
        settle(medium);
    }
    released
}

/// [`forward_roams`] without servicing the APs it reached: returns how many stations were
/// released and whether any AP was reached (marked for servicing at the medium's clock). For
/// a host that keeps a node beside the medium ([`Medium::add_lent`]) and services them itself,
/// lending it.
pub fn release_roams<N: Holds<SoftAp>>(
    medium: &mut Medium<N>,
    aps: &[(MacAddr, NodeId)],
) -> (usize, bool) {
    let mut moves = Vec::new();
    for &(bssid, node) in aps {
        let pending = medium
            .node_as::<SoftAp>(node)
            .is_some_and(SoftAp::has_roamed_in);
        if !pending {
            continue;
        }
        if let Some(ap) = medium.node_as_mut::<SoftAp>(node) {
            let ssid = ap.config().ssid.clone();
            while let Some(r) = ap.poll_roamed_in() {
                moves.push((bssid, ssid.clone(), r));
            }
        }
    }
    let mut released = 0;
    let any = !moves.is_empty();
    for (to, ssid, r) in moves {
        let Some(&(_, old)) = aps.iter().find(|(b, _)| *b == r.from) else {
            continue;
        };
        let same_ess = medium
            .node_as::<SoftAp>(old)
            .is_some_and(|ap| ap.config().ssid == ssid && ap.station(r.sta).is_some());
        if !same_ess {
            continue;
        }
        if medium
            .node_as_mut::<SoftAp>(old)
            .is_some_and(|ap| ap.release_roamed(r.sta, to))
        {
            released += 1;
        }
    }
    (released, any)
}

/// Services at once the APs that [`SimAps::poll_uplink`] or [`SimAps::poll_event`] reached.
///
/// Reaching a node mutably marks it for servicing at the medium's current time; taking an
/// uplink frame or an event changes nothing the medium reads (channel, frames, timer), but
/// left marked, the AP would make [`Medium::poll_timeout`] answer "now" after every poll, and a
/// host loop that polls after each wake-up would spin at one instant forever. Processing the
/// medium up to its own clock does only that servicing (and anything else already due).
fn settle<N: Node>(medium: &mut Medium<N>) {
    let now = medium.now();
    medium.handle_timeout(now);
}

/// The first AP from `start` (wrapping) for which `poll` yields something: its index and the
/// item with its BSSID.
fn round_robin<T>(
    nodes: &[(MacAddr, NodeId)],
    start: usize,
    mut poll: impl FnMut(NodeId) -> Option<T>,
) -> Option<(usize, (MacAddr, T))> {
    let n = nodes.len();
    (0..n).find_map(|k| {
        let i = (start + k) % n;
        let (bssid, node) = nodes.get(i)?;
        poll(*node).map(|item| (i, (*bssid, item)))
    })
}

/// The simulated air: the [`Medium`] and the software APs of a [`SimConfig`]. See the
/// [module documentation](self).
///
/// Method groups: construction ([`SimAir::new`], [`SimAir::with_seed`],
/// [`SimAir::with_ap_configs`]); the medium and the APs ([`SimAir::medium`], [`SimAir::ap`],
/// [`SimAir::aps`], [`SimAir::add_station_node`]); the uplinks and events
/// ([`SimAir::poll_uplink`], [`SimAir::handle_uplink`], [`SimAir::poll_event`]); time
/// ([`SimAir::poll_timeout`], [`SimAir::handle_timeout`]).
#[derive(Debug)]
pub struct SimAir {
    medium: Medium,
    aps: SimAps,
    seed: u64,
}

impl SimAir {
    /// The master seed used when the configuration has none.
    pub const DEFAULT_SEED: u64 = 0x7677_6966_6900_0001;

    /// The air of `cfg`, seeded with its `seed` or [`SimAir::DEFAULT_SEED`].
    pub fn new(cfg: &SimConfig) -> Result<Self, SimAirError> {
        Self::with_seed(cfg, cfg.seed.unwrap_or(Self::DEFAULT_SEED))
    }

    /// The air of `cfg` with master seed `seed` (whatever the configuration says).
    pub fn with_seed(cfg: &SimConfig, seed: u64) -> Result<Self, SimAirError> {
        let aps = cfg.ap_configs()?;
        Self::with_ap_configs(&cfg.medium, aps, seed)
    }

    /// The air of a `[medium]` table and AP configurations already derived (PBKDF2 done once
    /// for many airs), with master seed `seed`.
    pub fn with_ap_configs(
        file: &config::MediumConfig,
        aps: Vec<ApConfig>,
        seed: u64,
    ) -> Result<Self, SimAirError> {
        let mut medium = Medium::new(medium_config(file)?, medium_seed(seed))?;
        let aps = SimAps::install_configs(&mut medium, file, aps, seed)?;
        Ok(Self { medium, aps, seed })
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The medium.
    pub fn medium(&self) -> &Medium {
        &self.medium
    }

    /// The medium, to add nodes, move them or capture the air.
    pub fn medium_mut(&mut self) -> &mut Medium {
        &mut self.medium
    }

    /// The AP bookkeeping (BSSIDs and nodes).
    pub fn ap_nodes(&self) -> &SimAps {
        &self.aps
    }

    /// The medium's clock.
    pub fn now(&self) -> Instant {
        self.medium.now()
    }

    /// The AP with `bssid`.
    pub fn ap(&self, bssid: MacAddr) -> Option<&SoftAp> {
        self.aps.ap(&self.medium, bssid)
    }

    /// The AP with `bssid`, to change it (serviced at the medium's current time).
    pub fn ap_mut(&mut self, bssid: MacAddr) -> Option<&mut SoftAp> {
        self.aps.ap_mut(&mut self.medium, bssid)
    }

    /// Every AP, in configuration order.
    pub fn aps(&self) -> impl Iterator<Item = &SoftAp> + '_ {
        self.aps.aps(&self.medium)
    }

    /// Adds a station's radio `node` at `position` with the configured transmit power, for a
    /// host that owns it; the owner registers its MAC with [`Medium::set_addresses`] (through
    /// [`SimAir::medium_mut`]).
    pub fn add_station_node<T>(&mut self, node: T, position: Position) -> NodeId
    where
        AirNode: Holds<T>,
    {
        self.aps.add_station_node(&mut self.medium, node, position)
    }

    /// The next 802.3 frame an AP sends to its uplink, with its BSSID (APs take turns).
    pub fn poll_uplink(&mut self) -> Option<(MacAddr, EthernetFrame)> {
        self.aps.poll_uplink(&mut self.medium)
    }

    /// An 802.3 frame from the uplink of AP `bssid` at `now` (see [`SimAps::handle_uplink`]).
    pub fn handle_uplink(
        &mut self,
        bssid: MacAddr,
        now: Instant,
        frame: EthernetFrame,
    ) -> Result<(), SimAirError> {
        self.aps.handle_uplink(&mut self.medium, bssid, now, frame)
    }

    /// The next AP event, with the AP's BSSID (APs take turns).
    pub fn poll_event(&mut self) -> Option<(MacAddr, ApEvent)> {
        self.aps.poll_event(&mut self.medium)
    }

    /// Runs the distribution system's roaming hand-offs ([`forward_roams`]): call after
    /// [`SimAir::handle_timeout`]. Returns how many stations an old AP released.
    pub fn forward_roams(&mut self) -> usize {
        self.aps.forward_roams(&mut self.medium)
    }

    /// When the air next needs [`SimAir::handle_timeout`] (a frame ending, a backoff, a
    /// beacon, a handshake retry...).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.medium.poll_timeout()
    }

    /// Processes everything due up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.medium.handle_timeout(now);
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::*;
    use crate::channel::Channel;
    use crate::radio::{RxMeta, TxStatus};
    use crate::wire::{EtherType, Frame, MgmtBody};
    use bytes::Bytes;

    /// What an [`Ear`] heard (shared with the test, which keeps a handle).
    type Heard = std::sync::Arc<std::sync::Mutex<Vec<(Bytes, RxMeta)>>>;

    /// A radio that only listens, recording what it hears.
    struct Ear {
        channel: Channel,
        heard: Heard,
    }

    impl Ear {
        /// An ear on `channel` as a node, and what it will hear.
        fn on(channel: u8) -> (AirNode, Heard) {
            let heard = Heard::default();
            let ear = Self {
                channel: Channel::new(channel).unwrap(),
                heard: heard.clone(),
            };
            (AirNode::other(ear), heard)
        }

        /// `(BSSID, signal)` of every beacon heard.
        fn beacons(heard: &Heard) -> Vec<(MacAddr, i8)> {
            heard
                .lock()
                .unwrap()
                .iter()
                .filter_map(|(f, meta)| match Frame::parse_bytes(f) {
                    Ok(Frame::Management(m)) if matches!(m.body, MgmtBody::Beacon(_)) => {
                        Some((m.header.addr3, meta.signal_dbm))
                    }
                    _ => None,
                })
                .collect()
        }
    }

    impl Node for Ear {
        fn channel(&self) -> Channel {
            self.channel
        }
        fn handle_rx(&mut self, _: Instant, frame: &Bytes, meta: RxMeta) {
            self.heard.lock().unwrap().push((frame.clone(), meta));
        }
        fn handle_tx_status(&mut self, _: Instant, _: &Bytes, _: TxStatus) {}
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_transmit(&mut self) -> Option<Bytes> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    /// The demo set with open networks only (no PBKDF2 in unit tests), same places and channels.
    fn demo_open() -> SimConfig {
        let mut cfg = SimConfig::demo();
        for ap in &mut cfg.aps {
            ap.passphrase = None;
        }
        cfg
    }

    #[test]
    fn demo_config_builds_three_aps_on_channels_1_and_6_at_their_positions() {
        let air = SimAir::new(&demo_open()).unwrap();
        assert_eq!(air.seed(), 1);
        let got: Vec<(String, u8, Position)> = air
            .aps()
            .map(|ap| {
                let node = air.ap_nodes().node(ap.bssid()).unwrap();
                (
                    ap.bssid().to_string(),
                    ap.config().channel.number(),
                    air.medium().placement(node).unwrap().position,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("02:76:77:00:00:01".to_owned(), 1, Position::new(0.0, 0.0)),
                ("02:76:77:00:00:02".to_owned(), 1, Position::new(5.0, 0.0)),
                ("02:76:77:00:00:03".to_owned(), 6, Position::new(20.0, 10.0)),
            ]
        );
        for bssid in air.ap_nodes().bssids() {
            let node = air.ap_nodes().node(bssid).unwrap();
            assert_eq!(air.medium().owner_of(bssid), Some(node));
            assert_eq!(
                air.medium().placement(node).unwrap().tx_power_dbm,
                Placement::DEFAULT_TX_POWER_DBM
            );
        }
    }

    #[test]
    fn the_full_demo_set_builds_with_its_wpa2_networks() {
        let air = SimAir::new(&SimConfig::demo()).unwrap();
        let protected: Vec<bool> = air
            .aps()
            .map(|a| a.config().security.is_protected())
            .collect();
        assert_eq!(protected, [false, true, true]);
        assert_eq!(
            air.ap(mac("02:76:77:00:00:03")).unwrap().group_key_id(),
            Some(1)
        );
    }

    #[test]
    fn beacons_reach_a_listener_on_their_channel_with_signal_from_distance() {
        let mut air = SimAir::new(&demo_open()).unwrap();
        let (ear1, ch1) = Ear::on(1);
        let (ear6, ch6) = Ear::on(6);
        air.add_station_node(ear1, Position::new(0.0, 10.0));
        air.add_station_node(ear6, Position::new(20.0, 0.0));
        air.handle_timeout(Instant::from_millis(1000));
        let on1 = Ear::beacons(&ch1);
        let on6 = Ear::beacons(&ch6);
        let open = mac("02:76:77:00:00:01");
        let lab = mac("02:76:77:00:00:02");
        let office = mac("02:76:77:00:00:03");
        // A beacon every 102.4 ms from each AP of the channel, from its TBTT phase (spread
        // over the first 204.8 ms by its BSSID): 8 to 10 in the first second.
        let count = |b| on1.iter().filter(|(x, _)| *x == b).count();
        assert!((8..=10).contains(&count(open)), "{on1:?}");
        assert!((8..=10).contains(&count(lab)), "{on1:?}");
        assert_eq!(count(office), 0);
        assert!(on6.iter().all(|(b, _)| *b == office));
        assert!((8..=10).contains(&on6.len()), "{on6:?}");
        // 20 dBm - (40 + 30 log10(d)): 10 m -> -50 dBm; sqrt(125) m -> -51.5 dBm; 10 m -> -50.
        let signal = |list: &[(MacAddr, i8)], b| list.iter().find(|(x, _)| *x == b).unwrap().1;
        assert_eq!(signal(&on1, open), -50);
        assert!((-52..=-51).contains(&signal(&on1, lab)));
        assert_eq!(signal(&on6, office), -50);
    }

    #[test]
    fn custom_toml_sets_the_medium_and_places_aps_on_5_ghz() {
        let cfg = SimConfig::from_toml_str(
            r#"
[medium]
path_loss_exponent = 2.0
reference_loss_db = 30.0
tx_power_dbm = 10.0
noise_floor_dbm = -90.0
loss_rate = 0.25
phy_rate_kbps = 20000
retry_limit = 3

[[aps]]
ssid = "five"
channel = 36
position = [1.0, 2.0]
uplink = true

[[aps]]
ssid = "two"
channel = 11
"#,
        )
        .unwrap();
        let air = SimAir::new(&cfg).unwrap();
        assert_eq!(air.seed(), SimAir::DEFAULT_SEED);
        let m = air.medium().config();
        assert_eq!(m.band_2_4_ghz.path_loss.reference_loss_db, 30.0);
        assert_eq!(m.band_5_ghz.path_loss.reference_loss_db, 37.0);
        assert_eq!(m.band_5_ghz.path_loss.exponent, 2.0);
        assert_eq!(m.band_2_4_ghz.unicast_rate, PhyRate::Ofdm18);
        assert_eq!(m.band_5_ghz.unicast_rate, PhyRate::Ofdm18);
        assert_eq!(m.band_2_4_ghz.group_rate, PhyRate::Dsss1);
        assert_eq!(m.band_5_ghz.group_rate, PhyRate::Ofdm6);
        assert_eq!(m.band_6_ghz.path_loss.reference_loss_db, 38.0);
        assert_eq!(m.band_6_ghz.group_rate, PhyRate::Ofdm6);
        assert_eq!(m.noise_floor_dbm, -90.0);
        assert_eq!(m.sensitivity_dbm, -87.0);
        assert_eq!(m.extra_loss, 0.25);
        assert_eq!(m.retry_limit, 4);
        assert!(m.airtime, "airtime is on unless the file turns it off");
        let bssids: Vec<MacAddr> = air.ap_nodes().bssids().collect();
        assert_eq!(bssids, [mac("02:76:77:01:00:01"), mac("02:76:77:01:00:02")]);
        let five = air.ap_nodes().node(bssids[0]).unwrap();
        assert_eq!(
            air.medium().placement(five),
            Some(Placement::at(1.0, 2.0).with_tx_power(10.0))
        );
        assert_eq!(air.medium().channel_of(five), Channel::new(36).ok());
        assert!(air.ap(bssids[0]).unwrap().config().uplink);
        assert!(!air.ap(bssids[1]).unwrap().config().uplink);
    }

    #[test]
    fn airtime_false_reaches_the_medium() {
        let cfg = SimConfig::from_toml_str(
            "[medium]\nairtime = false\n[[aps]]\nssid = \"x\"\nchannel = 1\n",
        )
        .unwrap();
        let air = SimAir::new(&cfg).unwrap();
        assert!(!air.medium().config().airtime);
    }

    #[test]
    fn rates_snap_to_the_nearest_legacy_rate_of_the_band() {
        assert_eq!(nearest_rate(54_000, Band::Ghz2_4), PhyRate::Ofdm54);
        assert_eq!(nearest_rate(1_000, Band::Ghz2_4), PhyRate::Dsss1);
        assert_eq!(nearest_rate(1_000, Band::Ghz5), PhyRate::Ofdm6);
        assert_eq!(nearest_rate(11_000, Band::Ghz5), PhyRate::Ofdm12);
        assert_eq!(nearest_rate(11_000, Band::Ghz2_4), PhyRate::Cck11);
        // 10 Mbit/s: 9 and 11 are equally close; the slower wins.
        assert_eq!(nearest_rate(10_000, Band::Ghz2_4), PhyRate::Ofdm9);
        assert_eq!(nearest_rate(1_000_000, Band::Ghz5), PhyRate::Ofdm54);
        assert_eq!(nearest_rate(0, Band::Ghz2_4), PhyRate::Dsss1);
    }

    #[test]
    fn seeds_are_fixed_by_default_and_distinct_per_ap() {
        let mut cfg = demo_open();
        cfg.seed = None;
        assert_eq!(SimAir::new(&cfg).unwrap().seed(), SimAir::DEFAULT_SEED);
        assert_eq!(SimAir::with_seed(&cfg, 9).unwrap().seed(), 9);
        let seeds: Vec<u64> = (0..64).map(|i| ap_seed(5, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
        assert_ne!(ap_seed(5, 0), ap_seed(6, 0));
        assert_eq!(medium_seed(0x0102)[..3], [2, 1, 0]);
    }

    #[test]
    fn same_seed_same_air_bit_for_bit() {
        let run = |seed| {
            let mut air = SimAir::with_seed(&demo_open(), seed).unwrap();
            air.medium_mut().enable_capture(None);
            air.handle_timeout(Instant::from_millis(500));
            (
                air.medium().stats().clone(),
                air.medium().capture().unwrap().to_vec(),
            )
        };
        assert_eq!(run(3), run(3));
    }

    #[test]
    fn validation_errors_are_typed() {
        let mut cfg = demo_open();
        cfg.medium.loss_rate = 2.0;
        assert!(matches!(
            SimAir::new(&cfg),
            Err(SimAirError::Config(ConfigError::Invalid { .. }))
        ));
        // A hand-built AP configuration that the AP refuses.
        let mut aps = demo_open().ap_configs().unwrap();
        aps[1].dtim_period = 0;
        let e = SimAir::with_ap_configs(&config::MediumConfig::default(), aps, 1).unwrap_err();
        assert_eq!(
            e,
            SimAirError::Ap {
                index: 1,
                bssid: mac("02:76:77:00:00:02"),
                error: ApConfigError::ZeroDtimPeriod
            }
        );
        // Two APs with one BSSID.
        let mut aps = demo_open().ap_configs().unwrap();
        aps[2].bssid = aps[0].bssid;
        let e = SimAir::with_ap_configs(&config::MediumConfig::default(), aps, 1).unwrap_err();
        assert!(matches!(
            e,
            SimAirError::Medium(MediumError::AddressInUse { .. })
        ));
        let mut air = SimAir::new(&demo_open()).unwrap();
        let stranger = mac("02:00:00:00:00:99");
        let eth = EthernetFrame {
            dst: stranger,
            src: stranger,
            ethertype: EtherType::Ipv4,
            payload: Bytes::new(),
        };
        assert_eq!(
            air.handle_uplink(stranger, Instant::ZERO, eth),
            Err(SimAirError::UnknownBssid(stranger))
        );
    }

    #[test]
    fn polling_uplinks_and_events_does_not_ask_for_a_wake_up_now() {
        let mut air = SimAir::new(&demo_open()).unwrap();
        air.handle_timeout(Instant::from_millis(1));
        let next = air.poll_timeout();
        assert!(next > Some(air.now()), "{next:?}");
        assert!(air.poll_uplink().is_none());
        assert!(air.poll_event().is_none());
        assert_eq!(air.poll_timeout(), next);
        // A host loop that drains after every wake-up gets through a second of beacons.
        let mut wakes = 0;
        while let Some(at) = air
            .poll_timeout()
            .filter(|&t| t < Instant::from_millis(1000))
        {
            air.handle_timeout(at);
            while air.poll_uplink().is_some() {}
            while air.poll_event().is_some() {}
            wakes += 1;
            assert!(wakes < 10_000, "the loop spins at {at:?}");
        }
        // Three APs, 8 to 10 beacons each in the first second (see above).
        assert!((24..=30).contains(&air.medium().stats().transmissions));
    }

    #[test]
    fn uplink_frames_go_out_as_group_data_and_time_advances_first() {
        let mut air = SimAir::new(&demo_open()).unwrap();
        let (ear, heard) = Ear::on(6);
        air.add_station_node(ear, Position::new(20.0, 12.0));
        let office = mac("02:76:77:00:00:03");
        let eth = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: mac("02:00:00:00:00:42"),
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(b"to everyone"),
        };
        air.handle_uplink(office, Instant::from_millis(50), eth)
            .unwrap();
        assert_eq!(air.now(), Instant::from_millis(50));
        air.handle_timeout(air.now() + Duration::from_millis(10));
        let data = heard
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| matches!(Frame::parse_bytes(f), Ok(Frame::Data(_))))
            .count();
        assert_eq!(data, 1);
        assert_eq!(air.ap(office).unwrap().counters().uplink_rx_frames, 1);
    }
}
