//! The medium's seam to other daemons' air (federation): local transmissions out, remote ones
//! in. Transport-agnostic and sans-IO like the rest of the medium.
//!
//! - **Out.** Once [`Medium::enable_federation`] is called, every frame a local node puts on
//!   the air (not the Acks, not the medium's own Block Ack setup frames) is also queued as a
//!   [`FederatedTx`] for [`Medium::poll_federated`]; at most
//!   [`FederationConfig::outbox_limit`] wait, more are dropped and counted.
//! - **In.** [`Medium::handle_remote`] takes a remote transmission at the local arrival time:
//!   every local node tuned to its channel hears it from the sender's position and power through
//!   the same path-loss, sensitivity, frame-error and extra-loss model as a local frame (and
//!   loses it if a local frame is on the air that it also hears). The channel then counts as
//!   busy for the frame's duration (plus SIFS and Ack for an acknowledged frame) from the
//!   arrival: local contenders defer as they would to a local frame. Clocks are not
//!   synchronised: the sender's timestamp is not used for timing.
//! - **Acks across daemons.** The medium learns every remote transmitter address (address 2) it
//!   hears, for [`FederationConfig::address_lifetime`]. A local unicast frame to such an address
//!   is acknowledged *by the receiving side's model*: the sender is told `Acked` at the end of
//!   its frame, SIFS and the Ack time (a 100 µs network hop cannot fit in a 44 µs Ack timeout,
//!   so no round trip is waited for). A frame the remote side then loses is lost like a frame
//!   whose Ack was heard but whose data was not: the layers above (TCP, EAPOL retries) recover.
//! - **Uniqueness.** A remote frame whose transmitter address belongs to a local node is a
//!   clash: it is refused ([`RemoteOutcome::Clash`]) and counted, never delivered.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::frames::{ack_receiver, receiver};
use super::phy::{ACK_LEN, FCS_LEN};
use super::stats::LossCause;
use super::{index, Lent, Medium, Placement};
use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::phy::TxVector;
use crate::radio::{Node, NodeId, RxMeta};
use crate::sim::federated::FederatedTx;
use crate::time::Instant;
use crate::wire::FrameView;

/// How the medium takes part in a federated air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FederationConfig {
    /// The most local transmissions waiting for [`Medium::poll_federated`]; more are dropped.
    pub outbox_limit: usize,
    /// How long a remote transmitter address counts as remote after its last frame.
    pub address_lifetime: Duration,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            outbox_limit: 4096,
            address_lifetime: Duration::from_secs(30),
        }
    }
}

/// What the medium did with a remote transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteOutcome {
    /// Delivered to this many local nodes (0: nobody tuned in heard it).
    Delivered(usize),
    /// Its transmitter address belongs to local node `owner`: refused.
    Clash {
        /// The address both sides claim.
        addr: MacAddr,
        /// The local node that has it.
        owner: NodeId,
    },
    /// Federation is not enabled: ignored.
    Disabled,
}

/// The federation counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FederationStats {
    /// Local transmissions handed out by [`Medium::poll_federated`].
    pub published: u64,
    /// Local transmissions dropped because the outbox was full.
    pub outbox_dropped: u64,
    /// Remote transmissions taken in.
    pub received: u64,
    /// Receptions of remote transmissions by local nodes.
    pub delivered: u64,
    /// Receptions of remote transmissions lost to the model (any cause).
    pub lost: u64,
    /// Remote transmissions refused for an address clash.
    pub clashes: u64,
    /// Local unicast frames to remote addresses reported acknowledged.
    pub remote_acked: u64,
    /// Time channels were held busy by remote transmissions.
    pub remote_airtime: Duration,
}

/// The medium's federation state.
#[derive(Debug, Default)]
pub(super) struct Federation {
    config: FederationConfig,
    outbox: VecDeque<FederatedTx>,
    /// Remote transmitter addresses and when each was last heard.
    remote: BTreeMap<MacAddr, Instant>,
    stats: FederationStats,
}

impl Federation {
    /// Queues a local transmission, or counts it dropped.
    pub(super) fn publish(&mut self, tx: FederatedTx) {
        if self.outbox.len() >= self.config.outbox_limit {
            self.stats.outbox_dropped += 1;
        } else {
            self.outbox.push_back(tx);
        }
    }

    /// Whether `addr` is a remote transmitter heard within the lifetime before `now`.
    pub(super) fn is_remote(&self, addr: MacAddr, now: Instant) -> bool {
        self.remote
            .get(&addr)
            .is_some_and(|&t| now.saturating_duration_since(t) <= self.config.address_lifetime)
    }

    pub(super) fn count_remote_ack(&mut self) {
        self.stats.remote_acked += 1;
    }
}

/// Address 2 of a management or data frame with a complete header.
fn transmitter(frame: &[u8]) -> Option<MacAddr> {
    let view = FrameView::new_checked(frame).ok()?;
    view.addr2()
}

impl<N: Node> Medium<N> {
    /// Whether `frame` goes to a remote address (none of the local nodes has its address 1,
    /// and a remote transmitter used it within its lifetime).
    pub(super) fn to_remote(&self, frame: &[u8]) -> bool {
        let Some(fed) = &self.federation else {
            return false;
        };
        receiver(frame)
            .is_some_and(|ra| !self.owners.contains_key(&ra) && fed.is_remote(ra, self.now))
    }

    /// Queues a local transmission for the other daemons, if federated.
    pub(super) fn publish_federated(
        &mut self,
        channel: Channel,
        frame: &Bytes,
        rate: TxVector,
        from: Placement,
    ) {
        let now = self.now;
        let Some(fed) = &mut self.federation else {
            return;
        };
        fed.publish(FederatedTx {
            channel,
            frame: frame.clone(),
            position: from.position,
            tx_power_dbm: from.tx_power_dbm,
            rate,
            duration: rate.airtime(frame.len() + FCS_LEN, channel.band()),
            timestamp: now,
        });
    }

    /// Joins a federated air: from now on local transmissions are queued for
    /// [`Medium::poll_federated`] and [`Medium::handle_remote`] takes remote ones. Calling it
    /// again changes the configuration and keeps the state.
    pub fn enable_federation(&mut self, config: FederationConfig) {
        self.federation.get_or_insert_with(Default::default).config = config;
    }

    /// The next local transmission to send to the other daemons, oldest first.
    pub fn poll_federated(&mut self) -> Option<FederatedTx> {
        let fed = self.federation.as_mut()?;
        let tx = fed.outbox.pop_front()?;
        fed.stats.published += 1;
        Some(tx)
    }

    /// The federation counters (all zero if federation is off).
    pub fn federation_stats(&self) -> FederationStats {
        self.federation
            .as_ref()
            .map(|f| f.stats)
            .unwrap_or_default()
    }

    /// The remote transmitter addresses heard within their lifetime, with when each was last
    /// heard.
    pub fn remote_addresses(&self) -> impl Iterator<Item = (MacAddr, Instant)> + '_ {
        let now = self.now;
        self.federation.iter().flat_map(move |f| {
            f.remote
                .iter()
                .filter(move |(a, _)| f.is_remote(**a, now))
                .map(|(a, t)| (*a, *t))
        })
    }

    /// Forgets remote transmitter addresses: local frames to them are no longer acknowledged
    /// on the remote side's behalf (call it when the daemon that had them leaves).
    pub fn forget_remote<I: IntoIterator<Item = MacAddr>>(&mut self, addrs: I) {
        if let Some(f) = &mut self.federation {
            for a in addrs {
                f.remote.remove(&a);
            }
        }
    }

    /// A transmission from another daemon's air, arriving now at `now` (events due before it
    /// are processed first). The model is described in [`crate::sim::federated`].
    pub fn handle_remote(&mut self, now: Instant, tx: &FederatedTx) -> RemoteOutcome {
        self.remote_lending(now, tx, &mut Lent(None))
    }

    /// [`Medium::handle_remote`], lending `node`, the node kept beside the medium
    /// ([`Medium::add_lent`]), for the call.
    pub fn handle_remote_with(
        &mut self,
        now: Instant,
        tx: &FederatedTx,
        node: &mut dyn Node,
    ) -> RemoteOutcome {
        self.remote_lending(now, tx, &mut Lent(Some(node)))
    }

    fn remote_lending(
        &mut self,
        now: Instant,
        tx: &FederatedTx,
        lent: &mut Lent<'_>,
    ) -> RemoteOutcome {
        if self.federation.is_none() {
            return RemoteOutcome::Disabled;
        }
        self.run_until(now, lent);
        let now = self.now;
        let ta = transmitter(&tx.frame);
        if let Some(addr) = ta {
            if let Some(&owner) = self.owners.get(&addr) {
                if let Some(f) = &mut self.federation {
                    f.stats.clashes += 1;
                }
                return RemoteOutcome::Clash { addr, owner };
            }
        }
        let channel = tx.channel;
        let band = channel.band();
        let from = Placement {
            position: tx.position,
            tx_power_dbm: tx.tx_power_dbm,
        };
        let len = tx.frame.len() + FCS_LEN;
        // Local frames on the air now interfere with it.
        let others: Vec<NodeId> = self
            .channels
            .get(&channel)
            .and_then(|s| s.air.as_ref())
            .map(|a| a.txs.iter().map(|t| t.sender).collect())
            .unwrap_or_default();
        let members: Vec<NodeId> = self
            .channels
            .get(&channel)
            .map(|s| s.members.iter().copied().collect())
            .unwrap_or_default();
        let mut heard = Vec::new();
        let mut lost = 0;
        for id in members {
            let Some(radio) = self.radios.get(index(id)) else {
                continue;
            };
            let signal = self.signal(&from, radio.placement.position, band);
            let result = self
                .preamble(signal, id, &others, band)
                .and_then(|()| self.decode(signal, &tx.rate, len));
            match result {
                Ok(()) => heard.push((id, signal)),
                Err(cause) => {
                    if cause != LossCause::BelowSensitivity {
                        lost += 1;
                    }
                    self.stats.lost.bump(cause);
                }
            }
        }
        // The channel is busy for the frame (and its Ack) from its arrival.
        let timing = self.timing(channel);
        let mut busy = tx.duration;
        if ack_receiver(&tx.frame).is_some() {
            busy += timing.sifs + tx.rate.control_response_rate().airtime(ACK_LEN, band);
        }
        if self.config.airtime && !busy.is_zero() {
            self.freeze(channel);
            let state = self.channels.entry(channel).or_default();
            state.remote_busy_until = state.remote_busy_until.max(now + busy);
            self.stats.add_airtime(channel, busy);
        }
        self.record(
            now,
            channel,
            tx.rate,
            &tx.frame,
            tx.position,
            tx.tx_power_dbm,
        );
        let delivered = heard.len();
        if let Some(f) = &mut self.federation {
            f.stats.received += 1;
            f.stats.delivered += delivered as u64;
            f.stats.lost += lost;
            f.stats.remote_airtime += busy;
            if let Some(addr) = ta.filter(|a| !a.is_group()) {
                f.remote.insert(addr, now);
            }
        }
        for (id, signal) in heard {
            let meta = RxMeta {
                channel,
                signal_dbm: super::engine::to_i8_dbm(signal),
                rate_kbps: tx.rate.kbps(),
            };
            self.hand_rx(id, &tx.frame, meta, lent);
            self.service(id, false, lent);
        }
        RemoteOutcome::Delivered(delivered)
    }
}
