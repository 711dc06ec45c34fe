//! The simulated air as a lab (issue 16), the parts the world and the driver hold: live
//! capture ([`capture`]), mobility ([`mobility`]: nodes walking paths) and what the runtime
//! controls changed ([`LabState`], kept in [`SimWorld`](crate::world::SimWorld); the controls
//! themselves are [`crate::sim_control`]). The medium carries the rest (positions, link losses,
//! nodes off the air). A leaf: it names only the core.

use core::time::Duration;
use std::collections::BTreeSet;

use vwifi_core::radio::{Node, NodeId};
use vwifi_core::sim::config::SimConfig;
use vwifi_core::sim::medium::Medium;
use vwifi_core::{Instant, MacAddr};

pub(crate) mod capture;
pub(crate) mod mobility;

use mobility::{Mobility, Path, PathError, DEFAULT_SPEED_MPS};

/// How often moving nodes are put where their path has them while the air is otherwise
/// idle (they also move at every event of the air).
pub(crate) const MOBILITY_TICK: Duration = Duration::from_millis(100);

/// What the lab controls changed in the world.
#[derive(Debug, Default)]
pub(crate) struct LabState {
    /// Nodes walking a path.
    pub(crate) mobility: Mobility,
    /// APs removed for good (off the air; the medium keeps every node it ever had).
    removed: BTreeSet<NodeId>,
    /// APs stopped (off the air until started).
    stopped: BTreeSet<NodeId>,
    /// The seed of the next AP (re)started or added.
    next_seed: u64,
}

impl LabState {
    /// The paths of `sim`'s APs (`[[sim.aps]] path`) and of the guests' radio `host`
    /// (`[sim.stations] path`), walked from now; `aps` are the APs' nodes in configuration
    /// order. An error names the AP's index (`None`: the stations').
    pub(crate) fn from_config<N: Node>(
        sim: &SimConfig,
        aps: &[(MacAddr, NodeId)],
        host: NodeId,
        medium: &Medium<N>,
    ) -> Result<Self, (Option<usize>, PathError)> {
        let mut lab = Self {
            next_seed: sim.seed.unwrap_or(1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ..Self::default()
        };
        let walks = sim
            .aps
            .iter()
            .zip(aps)
            .enumerate()
            .map(|(i, (e, (_, node)))| (Some(i), *node, &e.path, e.speed_mps))
            .chain([(None, host, &sim.stations.path, sim.stations.speed_mps)]);
        for (index, node, waypoints, speed) in walks {
            if waypoints.is_empty() {
                continue;
            }
            let from = medium
                .placement(node)
                .map(|p| p.position)
                .unwrap_or_default();
            let speed = speed.unwrap_or(DEFAULT_SPEED_MPS);
            let path =
                Path::new(from, medium.now(), waypoints, speed).map_err(|error| (index, error))?;
            lab.mobility.start(node, path);
        }
        Ok(lab)
    }

    /// Whether `node` is an AP removed for good.
    pub(crate) fn is_removed(&self, node: NodeId) -> bool {
        self.removed.contains(&node)
    }

    /// Whether `node` is an AP stopped.
    pub(crate) fn is_stopped(&self, node: NodeId) -> bool {
        self.stopped.contains(&node)
    }

    /// A fresh seed for an AP.
    pub(crate) fn next_ap_seed(&mut self) -> u64 {
        self.next_seed = self.next_seed.wrapping_add(1);
        self.next_seed
    }

    /// Records `node` as stopped.
    pub(crate) fn stopped_insert(&mut self, node: NodeId) {
        self.stopped.insert(node);
    }

    /// Records `node` as started again.
    pub(crate) fn stopped_remove(&mut self, node: NodeId) {
        self.stopped.remove(&node);
    }

    /// Records `node` as removed for good.
    pub(crate) fn remove(&mut self, node: NodeId) {
        self.stopped.remove(&node);
        self.removed.insert(node);
    }

    /// Puts moving nodes where they are at `now`.
    pub(crate) fn advance<N: Node>(&mut self, medium: &mut Medium<N>, now: Instant) {
        if !self.mobility.is_empty() {
            self.mobility.advance(medium, now);
        }
    }

    /// The next time moving nodes must be moved, if any moves.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        (!self.mobility.is_empty()).then(|| now + MOBILITY_TICK)
    }
}
