//! The deterministic test world: the medium, its nodes, a virtual clock and a seed.

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};

use crate::radio::{Holds, NodeId};
use crate::sim::medium::{Medium, MediumConfig, MediumError, Placement};
use crate::sim::AirNode;
use crate::time::Instant;

/// The 32-byte seed of the medium's generator for a 64-bit test seed (little-endian in the
/// first eight bytes, zeros after).
pub fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (dst, src) in out.iter_mut().zip(seed.to_le_bytes()) {
        *dst = src;
    }
    out
}

/// The seed from the `VWIFI_SEED` environment variable (decimal) if set and valid, else
/// `default`: replay a failed run with the seed it printed.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("VWIFI_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// How far [`World::drive_bounded`] may go before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Virtual time, from the start of the drive.
    pub time: Duration,
    /// Events processed.
    pub steps: u64,
}

impl Bound {
    /// The bound of [`World::drive`]: one hour of virtual time, ten million events.
    pub const DEFAULT: Self = Self {
        time: Duration::from_secs(3600),
        steps: 10_000_000,
    };

    /// At most `time` of virtual time (and the default number of events).
    pub const fn time(time: Duration) -> Self {
        Self {
            time,
            steps: Self::DEFAULT.steps,
        }
    }

    /// At most `steps` events (and the default virtual time).
    pub const fn steps(steps: u64) -> Self {
        Self {
            time: Self::DEFAULT.time,
            steps,
        }
    }
}

/// Why [`World::drive_bounded`] stopped before its condition held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// Nothing was left to happen (no frame, no timer) at `at`.
    #[error("the world went idle at {at:?} before the condition held")]
    Idle {
        /// The time it went idle.
        at: Instant,
    },
    /// The virtual time bound was reached at `at`.
    #[error("time bound reached at {at:?} before the condition held")]
    TimeLimit {
        /// The time reached.
        at: Instant,
    },
    /// The event bound was reached at `at`: a livelock, or a bound too tight.
    #[error("step bound reached at {at:?} before the condition held")]
    StepLimit {
        /// The time reached.
        at: Instant,
    },
}

/// A deterministic simulation of the air for tests: the [`Medium`] with its nodes, a virtual
/// clock starting at zero, a seeded generator, and a capture of every frame on the air.
///
/// When a test using a `World` panics, the world prints its seed (replay with
/// `VWIFI_SEED=<seed>` where the test uses [`seed_from_env`]). When the environment variable
/// `VWIFI_PCAP_DIR` is set, the world writes its capture there when dropped, named after the
/// test thread and the seed, to open in Wireshark.
pub struct World {
    medium: Medium,
    seed: u64,
    steps: u64,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.seed)
            .field("now", &self.now())
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl World {
    /// A world with the default [`MediumConfig`], seeded with `seed`, capturing the air.
    pub fn new(seed: u64) -> Self {
        let medium = match Medium::new(MediumConfig::default(), seed_bytes(seed)) {
            Ok(m) => m,
            Err(e) => panic!("the default medium configuration is invalid: {e}"),
        };
        Self::from_medium(medium, seed)
    }

    /// A world with `config`, seeded with `seed`, capturing the air.
    pub fn with_config(seed: u64, config: MediumConfig) -> Result<Self, MediumError> {
        Ok(Self::from_medium(
            Medium::new(config, seed_bytes(seed))?,
            seed,
        ))
    }

    fn from_medium(mut medium: Medium, seed: u64) -> Self {
        medium.enable_capture(None);
        Self {
            medium,
            seed,
            steps: 0,
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.medium.now()
    }

    /// Events processed so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The medium.
    pub fn medium(&self) -> &Medium {
        &self.medium
    }

    /// The medium, to configure it or its nodes.
    pub fn medium_mut(&mut self) -> &mut Medium {
        &mut self.medium
    }

    /// Adds `node` at `placement`; see [`Medium::add_node`].
    pub fn add_node<T>(&mut self, node: T, placement: Placement) -> NodeId
    where
        AirNode: Holds<T>,
    {
        self.medium.add_node(node, placement)
    }

    /// The node `id` as a `T`.
    ///
    /// # Panics
    /// If there is no such node or it is not a `T`: a bug in the test.
    pub fn node<T>(&self, id: NodeId) -> &T
    where
        AirNode: Holds<T>,
    {
        match self.medium.node_as(id) {
            Some(node) => node,
            None => panic!("{id:?} is not a {}", core::any::type_name::<T>()),
        }
    }

    /// The node `id` as a `T`, to change it; the medium services it at the current time.
    ///
    /// # Panics
    /// If there is no such node or it is not a `T`: a bug in the test.
    pub fn node_mut<T>(&mut self, id: NodeId) -> &mut T
    where
        AirNode: Holds<T>,
    {
        match self.medium.node_as_mut(id) {
            Some(node) => node,
            None => panic!("{id:?} is not a {}", core::any::type_name::<T>()),
        }
    }

    /// Processes the next event; `false` if nothing is left to happen.
    pub fn step(&mut self) -> bool {
        let stepped = self.medium.step().is_some();
        if stepped {
            self.steps += 1;
        }
        stepped
    }

    /// Processes every event up to `at` and sets the clock to `at`.
    pub fn run_until(&mut self, at: Instant) {
        while self.medium.poll_timeout().is_some_and(|t| t <= at) {
            self.step();
        }
        self.medium.handle_timeout(at);
    }

    /// Runs the world for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now() + duration);
    }

    /// Steps until `until` holds, and returns the time it does.
    ///
    /// # Panics
    /// If the world goes idle first, or after [`Bound::DEFAULT`] (a livelock); the message
    /// carries the seed.
    pub fn drive(&mut self, until: impl FnMut(&World) -> bool) -> Instant {
        match self.drive_bounded(Bound::DEFAULT, until) {
            Ok(at) => at,
            Err(e) => panic!("World::drive (seed {}): {e}", self.seed),
        }
    }

    /// Steps until `until` holds, within `bound`; returns the time it holds, or why it stopped.
    pub fn drive_bounded(
        &mut self,
        bound: Bound,
        mut until: impl FnMut(&World) -> bool,
    ) -> Result<Instant, DriveError> {
        let deadline = self.now() + bound.time;
        let mut steps = 0u64;
        loop {
            if until(self) {
                return Ok(self.now());
            }
            let at = self.now();
            if steps >= bound.steps {
                return Err(DriveError::StepLimit { at });
            }
            match self.medium.poll_timeout() {
                None => return Err(DriveError::Idle { at }),
                Some(t) if t > deadline => {
                    self.medium.handle_timeout(deadline);
                    return Err(DriveError::TimeLimit { at: deadline });
                }
                Some(_) => {}
            }
            self.step();
            steps += 1;
        }
    }

    /// The capture of the air so far, a pcap file (802.11 + radiotap).
    pub fn pcap_bytes(&self) -> &[u8] {
        self.medium.capture().unwrap_or_default()
    }

    /// Writes the capture to `path`.
    pub fn write_pcap(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.pcap_bytes())
    }

    /// Where the capture goes when `VWIFI_PCAP_DIR` is set.
    fn pcap_path(&self) -> Option<PathBuf> {
        let dir = std::env::var_os("VWIFI_PCAP_DIR")?;
        let thread = std::thread::current();
        let name: String = thread
            .name()
            .unwrap_or("world")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Some(PathBuf::from(dir).join(format!("{name}-seed{}.pcap", self.seed)))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "World seed: {} (replay with VWIFI_SEED={}), virtual time {:?}, {} events",
                self.seed,
                self.seed,
                self.now(),
                self.steps
            );
        }
        if let Some(path) = self.pcap_path() {
            match self.write_pcap(&path) {
                Ok(()) => eprintln!("World capture written to {}", path.display()),
                Err(e) => eprintln!("World capture not written to {}: {e}", path.display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::testing::{frames, ScriptedNode};

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn drive_stops_when_the_condition_holds_and_reports_idle() {
        let mut world = World::new(1);
        let mut a = ScriptedNode::new(ch(1));
        a.send_at(
            Instant::from_millis(5),
            frames::beacon(frames::mac(1), "x", 1, 0),
        );
        let a = world.add_node(a, Placement::at(0.0, 0.0));
        let b = world.add_node(ScriptedNode::new(ch(1)), Placement::at(3.0, 0.0));
        let at = world.drive(|w| !w.node::<ScriptedNode>(b).received().is_empty());
        assert!(at > Instant::from_millis(5));
        assert_eq!(world.node::<ScriptedNode>(a).sent().len(), 0);
        let idle = world.drive_bounded(Bound::DEFAULT, |_| false);
        assert!(matches!(idle, Err(DriveError::Idle { .. })));
        assert_eq!(world.node::<ScriptedNode>(a).sent().len(), 1);
    }

    #[test]
    fn drive_bounded_stops_at_the_time_bound() {
        let mut world = World::new(2);
        let mut a = ScriptedNode::new(ch(1));
        a.send_at(Instant::from_millis(10_000), frames::mac(1).0.to_vec());
        world.add_node(a, Placement::default());
        let r = world.drive_bounded(Bound::time(Duration::from_secs(1)), |_| false);
        assert_eq!(
            r,
            Err(DriveError::TimeLimit {
                at: Instant::from_millis(1000)
            })
        );
        assert_eq!(world.now(), Instant::from_millis(1000));
        world.run_for(Duration::from_secs(1));
        assert_eq!(world.now(), Instant::from_millis(2000));
    }

    #[test]
    fn seeds_expand_and_read_from_the_environment_default() {
        assert_eq!(seed_bytes(1)[0], 1);
        assert_eq!(seed_bytes(1)[8..], [0u8; 24]);
        if std::env::var_os("VWIFI_SEED").is_none() {
            assert_eq!(seed_from_env(42), 42);
        }
    }
}
