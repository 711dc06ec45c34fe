//! Mobility: nodes that walk a path of waypoints at a speed, their position a function of the
//! world's clock. Sans-IO like the world: [`Mobility::advance`] puts every moving node where
//! it is at the time given; the medium's next frames see the new distances (signal, rate and
//! loss follow).

use std::collections::BTreeMap;

use vwifi_core::radio::{Node, NodeId};
use vwifi_core::sim::medium::{Medium, Position};
use vwifi_core::Instant;

/// The largest coordinate accepted, metres (as `[[sim.aps]] position`).
pub(crate) const MAX_COORDINATE: f64 = 1.0e6;
/// The speed range accepted, m/s (as `[[sim.aps]] speed_mps`).
pub(crate) const SPEED_RANGE: (f64, f64) = (0.001, 1.0e4);
/// The speed along a configured path that gives none, m/s.
pub(crate) const DEFAULT_SPEED_MPS: f64 = 1.0;
/// The most waypoints of one path.
pub(crate) const MAX_WAYPOINTS: usize = 1024;

/// Why a position or path is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PathError {
    /// A coordinate that is not a number or is too far out.
    #[error("coordinate {0} is not between -{MAX_COORDINATE} and {MAX_COORDINATE} metres")]
    Coordinate(f64),
    /// A speed out of range.
    #[error("speed {speed} m/s is not between {min} and {max} m/s", speed = .0, min = SPEED_RANGE.0, max = SPEED_RANGE.1)]
    Speed(f64),
    /// A path without a waypoint, or with too many.
    #[error("a path needs 1 to {MAX_WAYPOINTS} waypoints, got {0}")]
    Waypoints(usize),
}

/// Checks one coordinate.
pub(crate) fn coordinate(v: f64) -> Result<f64, PathError> {
    if v.is_finite() && v.abs() <= MAX_COORDINATE {
        Ok(v)
    } else {
        Err(PathError::Coordinate(v))
    }
}

/// A node's walk: from where it was at `start`, through `waypoints`, at `speed` m/s.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    from: Position,
    start: Instant,
    waypoints: Vec<Position>,
    speed: f64,
}

impl Path {
    /// A walk from `from` starting at `start`; checks every point and the speed.
    pub(crate) fn new(
        from: Position,
        start: Instant,
        waypoints: &[[f64; 2]],
        speed: f64,
    ) -> Result<Self, PathError> {
        if waypoints.is_empty() || waypoints.len() > MAX_WAYPOINTS {
            return Err(PathError::Waypoints(waypoints.len()));
        }
        if !(SPEED_RANGE.0..=SPEED_RANGE.1).contains(&speed) {
            return Err(PathError::Speed(speed));
        }
        let waypoints = waypoints
            .iter()
            .map(|[x, y]| Ok(Position::new(coordinate(*x)?, coordinate(*y)?)))
            .collect::<Result<Vec<_>, PathError>>()?;
        Ok(Self {
            from,
            start,
            waypoints,
            speed,
        })
    }

    /// The speed, m/s.
    pub(crate) fn speed(&self) -> f64 {
        self.speed
    }

    /// Where the node is at `now`, and the waypoints it has not reached yet.
    pub(crate) fn at(&self, now: Instant) -> (Position, &[Position]) {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        let mut left = elapsed * self.speed;
        let mut here = self.from;
        for (i, &next) in self.waypoints.iter().enumerate() {
            let leg = here.distance_to(next);
            if left < leg {
                let f = left / leg;
                let p = Position::new(
                    here.x + (next.x - here.x) * f,
                    here.y + (next.y - here.y) * f,
                );
                return (p, self.waypoints.get(i..).unwrap_or_default());
            }
            left -= leg;
            here = next;
        }
        (here, &[])
    }
}

/// Every moving node's path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mobility {
    paths: BTreeMap<NodeId, Path>,
}

impl Mobility {
    /// Sends `node` along `path` (replacing the one it had).
    pub(crate) fn start(&mut self, node: NodeId, path: Path) {
        self.paths.insert(node, path);
    }

    /// Stops `node` where it is.
    pub(crate) fn stop(&mut self, node: NodeId) {
        self.paths.remove(&node);
    }

    /// `node`'s path, while it moves.
    pub(crate) fn path(&self, node: NodeId) -> Option<&Path> {
        self.paths.get(&node)
    }

    /// Whether any node moves.
    pub(crate) fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Puts every moving node where it is at `now`; a node at the end of its path stops.
    pub(crate) fn advance<N: Node>(&mut self, medium: &mut Medium<N>, now: Instant) {
        self.paths.retain(|&node, path| {
            let (p, left) = path.at(now);
            let moving = !left.is_empty();
            medium.set_position(node, p).is_ok() && moving
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn a_path_is_walked_leg_by_leg_at_its_speed_and_ends_at_its_last_point() {
        let t0 = Instant::from_millis(1000);
        let p = Path::new(
            Position::new(0.0, 0.0),
            t0,
            &[[10.0, 0.0], [10.0, 10.0]],
            2.0,
        )
        .unwrap();
        let at = |s: u64| p.at(t0 + Duration::from_secs(s));
        assert_eq!(at(0).0, Position::new(0.0, 0.0));
        assert_eq!(at(0).1.len(), 2);
        assert_eq!(at(2).0, Position::new(4.0, 0.0));
        assert_eq!(at(7).0, Position::new(10.0, 4.0));
        assert_eq!(at(7).1, [Position::new(10.0, 10.0)]);
        assert_eq!(at(60), (Position::new(10.0, 10.0), &[][..]));
        // Before its start it has not moved.
        assert_eq!(p.at(Instant::ZERO).0, Position::new(0.0, 0.0));
    }

    #[test]
    fn bad_paths_are_refused() {
        let o = Position::default();
        assert_eq!(
            Path::new(o, Instant::ZERO, &[], 1.0),
            Err(PathError::Waypoints(0))
        );
        assert_eq!(
            Path::new(o, Instant::ZERO, &[[1.0, 1.0]], 0.0),
            Err(PathError::Speed(0.0))
        );
        assert!(matches!(
            Path::new(o, Instant::ZERO, &[[f64::NAN, 1.0]], 1.0),
            Err(PathError::Coordinate(_))
        ));
        assert!(coordinate(2.0e6).is_err());
    }
}
