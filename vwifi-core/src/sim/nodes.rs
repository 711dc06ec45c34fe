//! [`AirNode`]: the nodes this crate's simulations put on a [`Medium`](super::medium::Medium),
//! given back by their type through [`Holds`](crate::radio::Holds) (no downcasts).

use crate::mux_node::MuxNode;
use crate::radio::Node;
use crate::sim::ap::SoftAp;
#[cfg(any(test, feature = "test-utils"))]
use crate::testing::{ScriptedNode, ScriptedStation};

crate::node_set! {
    /// A node of the embedded simulation: a software AP, the host's radio, a test's scripted
    /// station, or any other [`Node`] (whose type is not given back). The default node type of
    /// [`Medium`](super::medium::Medium); a host with nodes of its own declares its own set
    /// with [`node_set!`](crate::node_set).
    pub enum AirNode {
        /// A software AP.
        Ap(SoftAp),
        /// The host's radio: the Mux.
        Mux(MuxNode),
        /// A scripted station ([`crate::testing`]).
        @cfg(any(test, feature = "test-utils"))
        Station(ScriptedStation),
        /// A scripted node ([`crate::testing`]).
        @cfg(any(test, feature = "test-utils"))
        Scripted(ScriptedNode),
        /// Any other node.
        Other(Box<dyn Node + Send>),
    }
}

impl AirNode {
    /// Any node, as [`AirNode::Other`].
    pub fn other(node: impl Node + Send + 'static) -> Self {
        Self::Other(Box::new(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::Mux;
    use crate::radio::Holds;
    use crate::sim::medium::Medium;
    use crate::sim::SimAir;

    fn assert_send<T: Send>() {}

    #[test]
    fn the_simulated_world_can_move_to_another_thread() {
        // Compile-time: parts of the world can run on other threads.
        assert_send::<AirNode>();
        assert_send::<Medium>();
        assert_send::<SimAir>();
        assert_send::<Mux>();
        assert_send::<MuxNode>();
    }

    #[test]
    fn a_node_is_given_back_as_its_own_type_only() {
        let mut medium: Medium = Medium::new(Default::default(), [1; 32]).unwrap();
        let ch = crate::channel::Channel::new(1).unwrap();
        let node = crate::testing::ScriptedNode::new(ch);
        let id = medium.add_node(node, Default::default());
        assert!(medium.node_as::<crate::testing::ScriptedNode>(id).is_some());
        assert!(medium.node_as::<SoftAp>(id).is_none());
        assert!(medium.node_as::<MuxNode>(id).is_none());
        let wrapped = AirNode::other(crate::testing::ScriptedNode::new(ch));
        assert!(Holds::<crate::testing::ScriptedNode>::get(&wrapped).is_none());
        assert!(Holds::<Box<dyn Node + Send>>::get(&wrapped).is_some());
    }
}
