//! What changes the air while it runs, for a lab: a live tap of every frame on the air (the
//! source of a live capture), extra loss between two nodes, and taking a node off the air.

use std::collections::VecDeque;

use bytes::Bytes;
use rand_chacha::rand_core::RngCore as _;

use super::{MediumError, Position};
use crate::radio::{Node, NodeId};
use crate::sim::pcap::RadioInfo;
use crate::time::Instant;

use super::Medium;

/// A frame as it was on the air, taken from the tap ([`Medium::take_tapped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirFrame {
    /// When it started.
    pub at: Instant,
    /// Its channel, rate and (with a monitor position) signal: its radiotap header.
    pub info: RadioInfo,
    /// The 802.11 frame, without FCS, as sent (protected frames stay encrypted).
    pub frame: Bytes,
}

/// The tap's queue of frames not taken yet.
pub(super) struct Tap {
    pub(super) monitor: Option<Position>,
    frames: VecDeque<AirFrame>,
    limit: usize,
    /// Frames dropped because the queue was full (not taken in time).
    overflow: u64,
}

impl Tap {
    pub(super) fn push(&mut self, at: Instant, info: RadioInfo, frame: &[u8]) {
        if self.frames.len() >= self.limit {
            self.overflow += 1;
            return;
        }
        self.frames.push_back(AirFrame {
            at,
            info,
            frame: Bytes::copy_from_slice(frame),
        });
    }
}

impl<N: Node> Medium<N> {
    /// Starts tapping the air: every frame from now on (Acks included, as in
    /// [`Medium::enable_capture`]) waits for [`Medium::take_tapped`], at most `limit` of them
    /// (more are counted in [`Medium::tap_overflow`] and dropped). With a `monitor` position
    /// each carries the signal there. Restarting keeps the frames not taken.
    pub fn enable_tap(&mut self, monitor: Option<Position>, limit: usize) {
        match &mut self.tap {
            Some(t) => {
                t.monitor = monitor;
                t.limit = limit;
            }
            None => {
                self.tap = Some(Tap {
                    monitor,
                    frames: VecDeque::new(),
                    limit,
                    overflow: 0,
                });
            }
        }
    }

    /// Stops tapping the air, dropping the frames not taken.
    pub fn disable_tap(&mut self) {
        self.tap = None;
    }

    /// Whether the tap is on.
    pub fn is_tapping(&self) -> bool {
        self.tap.is_some()
    }

    /// Takes the tapped frames so far, oldest first.
    pub fn take_tapped(&mut self) -> Vec<AirFrame> {
        self.tap
            .as_mut()
            .map(|t| t.frames.drain(..).collect())
            .unwrap_or_default()
    }

    /// Frames the tap dropped because they were not taken in time, since it was enabled.
    pub fn tap_overflow(&self) -> u64 {
        self.tap.as_ref().map_or(0, |t| t.overflow)
    }

    /// Sets an extra loss probability (0 to 1) on the link between `a` and `b`, both ways:
    /// on top of every other cause, each frame one of them decodes from the other (and each
    /// Ack) is lost with that probability. 0 clears it.
    pub fn set_link_loss(&mut self, a: NodeId, b: NodeId, loss: f64) -> Result<(), MediumError> {
        self.radio(a)?;
        self.radio(b)?;
        if !(0.0..=1.0).contains(&loss) {
            return Err(MediumError::InvalidParameter {
                what: "link loss",
                value: loss,
            });
        }
        let key = (a.min(b), a.max(b));
        if loss == 0.0 {
            self.link_loss.remove(&key);
        } else {
            self.link_loss.insert(key, loss);
        }
        Ok(())
    }

    /// The extra loss probability between `a` and `b` (0 if none).
    pub fn link_loss(&self, a: NodeId, b: NodeId) -> f64 {
        self.link_loss
            .get(&(a.min(b), a.max(b)))
            .copied()
            .unwrap_or(0.0)
    }

    /// Every link with an extra loss: `(a, b, probability)` with `a < b`.
    pub fn link_losses(&self) -> impl Iterator<Item = (NodeId, NodeId, f64)> + '_ {
        self.link_loss.iter().map(|(&(a, b), &p)| (a, b, p))
    }

    /// Puts `node` on the air (`true`, the default) or takes it off: off the air it hears
    /// nothing and what it sends goes nowhere (frames it had already queued still take their
    /// airtime, reaching nobody). Its timers keep running.
    pub fn set_on_air(&mut self, node: NodeId, on: bool) -> Result<(), MediumError> {
        self.radio(node)?;
        if on {
            self.off_air.remove(&node);
        } else {
            self.off_air.insert(node);
        }
        self.dirty.insert(node);
        Ok(())
    }

    /// Whether `node` is on the air ([`Medium::set_on_air`]).
    pub fn is_on_air(&self, node: NodeId) -> bool {
        !self.off_air.contains(&node)
    }

    /// Whether a frame between `a` and `b` falls to the link's extra loss (draws from the RNG
    /// only for links that have one).
    pub(super) fn link_lost(&mut self, a: NodeId, b: NodeId) -> bool {
        if self.link_loss.is_empty() {
            return false;
        }
        let p = self.link_loss(a, b);
        if p <= 0.0 {
            return false;
        }
        let unit = (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        unit < p
    }
}
