//! The radio seam: what a radio and the stations on it exchange, outside any simulation.
//!
//! A frame heard comes with its [`RxMeta`]; every frame sent comes back with its [`TxStatus`].
//! A participant on an air (a software AP, the host's [`MuxNode`](crate::mux_node::MuxNode), a
//! kernel radio, a test station) is a [`Node`] driven sans-IO: frames and outcomes in, frames
//! and its next wake-up out. The simulated medium ([`crate::sim::medium`]) carries frames between
//! nodes; the async [`crate::io::Radio`] is the same contract for a real card.

/// The frame type of the [`Node`] contract (re-exported for [`node_set!`](crate::node_set)).
pub use bytes::Bytes;

use crate::channel::Channel;
use crate::time::Instant;

/// Identifies a node (an AP or a station radio) on an air.
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

    /// Frames heard together (the MPDUs of an A-MPDU the medium hands over at once), in order.
    /// The default hands them to [`Node::handle_rx`] one by one; a node may do work across the
    /// batch first (decrypt the frames under one key together), but must then behave exactly
    /// as that loop does.
    fn handle_rx_batch(&mut self, now: Instant, frames: &[(Bytes, RxMeta)]) {
        for (frame, meta) in frames {
            self.handle_rx(now, frame, *meta);
        }
    }

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

impl<T: Node + ?Sized> Node for Box<T> {
    fn channel(&self) -> Channel {
        (**self).channel()
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        (**self).handle_rx(now, frame, meta);
    }

    fn handle_rx_batch(&mut self, now: Instant, frames: &[(Bytes, RxMeta)]) {
        (**self).handle_rx_batch(now, frames);
    }

    fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus) {
        (**self).handle_tx_status(now, frame, status);
    }

    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        (**self).poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }

    fn tx_vector(&self, frame: &Bytes) -> Option<crate::phy::TxVector> {
        (**self).tx_vector(frame)
    }
}

/// A node type that holds nodes of type `T` among others: the node set of an air (an enum
/// made with [`node_set!`](crate::node_set)) gives its nodes back by their type, without
/// type erasure or downcasts (the way smoltcp's socket set gives back its sockets).
pub trait Holds<T>: Node {
    /// `node` as one of the set's nodes.
    fn wrap(node: T) -> Self;

    /// The node, if it is a `T`.
    fn get(&self) -> Option<&T>;

    /// The node, if it is a `T`, to change it.
    fn get_mut(&mut self) -> Option<&mut T>;
}

/// Declares an enum of node types that is itself a [`Node`] (each call goes to the variant's
/// node) and [`Holds`] each of its types. Each variant holds one type, and no two variants the
/// same type (nor the enum itself, which it also holds); a variant may be compiled in only
/// under `@cfg(...)`.
///
/// ```
/// use vwifi_core::mux_node::MuxNode;
/// use vwifi_core::radio::Node;
/// use vwifi_core::sim::ap::SoftAp;
///
/// vwifi_core::node_set! {
///     /// The nodes of my air.
///     pub enum MyNode {
///         /// A software AP.
///         Ap(SoftAp),
///         /// The host's radio.
///         Host(MuxNode),
///         /// Anything else (its type is not given back).
///         Other(Box<dyn Node + Send>),
///     }
/// }
/// ```
#[macro_export]
macro_rules! node_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[doc = $doc:expr])*
                $(@cfg($cfg:meta))?
                $variant:ident($ty:ty)
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // A node is stored once, in the medium's table, and never moved on a hot path.
        #[allow(clippy::large_enum_variant)]
        $vis enum $name {
            $(
                $(#[doc = $doc])*
                $(#[cfg($cfg)])?
                $variant($ty),
            )+
        }

        impl $crate::radio::Node for $name {
            fn channel(&self) -> $crate::channel::Channel {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => $crate::radio::Node::channel(n),)+
                }
            }

            fn handle_rx(
                &mut self,
                now: $crate::time::Instant,
                frame: &$crate::radio::Bytes,
                meta: $crate::radio::RxMeta,
            ) {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => {
                        $crate::radio::Node::handle_rx(n, now, frame, meta)
                    })+
                }
            }

            fn handle_rx_batch(
                &mut self,
                now: $crate::time::Instant,
                frames: &[($crate::radio::Bytes, $crate::radio::RxMeta)],
            ) {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => {
                        $crate::radio::Node::handle_rx_batch(n, now, frames)
                    })+
                }
            }

            fn handle_tx_status(
                &mut self,
                now: $crate::time::Instant,
                frame: &$crate::radio::Bytes,
                status: $crate::radio::TxStatus,
            ) {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => {
                        $crate::radio::Node::handle_tx_status(n, now, frame, status)
                    })+
                }
            }

            fn handle_timeout(&mut self, now: $crate::time::Instant) {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => {
                        $crate::radio::Node::handle_timeout(n, now)
                    })+
                }
            }

            fn poll_transmit(&mut self) -> Option<$crate::radio::Bytes> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => $crate::radio::Node::poll_transmit(n),)+
                }
            }

            fn poll_timeout(&self) -> Option<$crate::time::Instant> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => $crate::radio::Node::poll_timeout(n),)+
                }
            }

            fn tx_vector(&self, frame: &$crate::radio::Bytes) -> Option<$crate::phy::TxVector> {
                match self {
                    $($(#[cfg($cfg)])? Self::$variant(n) => $crate::radio::Node::tx_vector(n, frame),)+
                }
            }
        }

        impl $crate::radio::Holds<$name> for $name {
            fn wrap(node: $name) -> Self {
                node
            }

            fn get(&self) -> Option<&$name> {
                Some(self)
            }

            fn get_mut(&mut self) -> Option<&mut $name> {
                Some(self)
            }
        }

        $(
            $(#[cfg($cfg)])?
            impl $crate::radio::Holds<$ty> for $name {
                fn wrap(node: $ty) -> Self {
                    Self::$variant(node)
                }

                fn get(&self) -> Option<&$ty> {
                    match self {
                        Self::$variant(n) => Some(n),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }

                fn get_mut(&mut self) -> Option<&mut $ty> {
                    match self {
                        Self::$variant(n) => Some(n),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )+
    };
}
