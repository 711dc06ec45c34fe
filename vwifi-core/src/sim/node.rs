//! The contract between the medium and the participants on the air.

use bytes::Bytes;

use crate::channel::Channel;
use crate::time::Instant;

/// Identifies a node (an AP or a station radio) on the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// What a receiver learns about a frame besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// The channel it was received on.
    pub channel: Channel,
    /// The received signal strength, in dBm.
    pub signal_dbm: i8,
    /// The PHY rate it was sent at, in kbit/s.
    pub rate_kbps: u32,
}

/// The outcome of a node's transmission, reported for every frame it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// A unicast frame was acknowledged by its receiver after `retries` retransmissions.
    Acked {
        /// Retransmissions before the acknowledgement.
        retries: u8,
    },
    /// A unicast frame was not acknowledged after the retry limit.
    NotAcked,
    /// A group-addressed frame was sent (group frames are never acknowledged).
    Sent,
}

/// A participant on the simulated air: a software AP or a station's radio.
///
/// The medium drives every node the same way: after a call to any `handle_*` method it drains
/// [`Node::poll_transmit`], and it wakes the node at [`Node::poll_timeout`] with
/// [`Node::handle_timeout`]. A node transmits on the channel it is tuned to
/// ([`Node::channel`]) and hears only frames on that channel.
pub trait Node {
    /// The channel the node is tuned to now.
    fn channel(&self) -> Channel;

    /// A frame (802.11, without FCS) heard on the node's channel. Frames addressed to other
    /// stations are delivered too, as on the real air: the node filters.
    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta);

    /// The outcome of the node's oldest transmission not yet reported, in the order sent.
    fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus);

    /// The time given by [`Node::poll_timeout`] has come.
    fn handle_timeout(&mut self, now: Instant);

    /// The next frame the node wants to transmit, if any.
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// When the node next needs [`Node::handle_timeout`], if ever.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The rate the node's own rate control chose for `frame`, its oldest frame not yet
    /// reported (a kernel radio reports one with each frame); `None` (the default) leaves the
    /// rate to the medium.
    fn tx_vector(&self, _frame: &Bytes) -> Option<crate::phy::TxVector> {
        None
    }
}
