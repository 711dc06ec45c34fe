//! A scripted node: sends what it is told, when it is told, and records the air.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::radio::{Node, RxMeta, TxStatus};
use crate::time::Instant;
use crate::wire::FrameView;

/// A frame a [`ScriptedNode`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When it was received (the end of the frame).
    pub at: Instant,
    /// The frame as on the air (without FCS).
    pub frame: Bytes,
    /// Channel, signal and rate.
    pub meta: RxMeta,
}

/// The outcome of a frame a [`ScriptedNode`] sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// When the medium reported it.
    pub at: Instant,
    /// The frame as the node handed it over.
    pub frame: Bytes,
    /// The outcome.
    pub status: TxStatus,
}

/// Something a [`ScriptedNode`] does at a set time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Send(Bytes),
    Tune(Channel),
}

/// A node driven by a script: frames to send now or at given times, channel switches, and a
/// record of every frame it heard and every transmission outcome, in order.
#[derive(Debug, Clone)]
pub struct ScriptedNode {
    channel: Channel,
    outbox: VecDeque<Bytes>,
    /// Actions by (time, order given).
    script: BTreeMap<(Instant, u64), Action>,
    next_order: u64,
    received: Vec<Received>,
    sent: Vec<Sent>,
}

impl ScriptedNode {
    /// A silent node tuned to `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            outbox: VecDeque::new(),
            script: BTreeMap::new(),
            next_order: 0,
            received: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Queues `frame` to send as soon as the medium services the node.
    pub fn send(&mut self, frame: impl Into<Bytes>) {
        self.outbox.push_back(frame.into());
    }

    /// Sends `frame` at `at`.
    pub fn send_at(&mut self, at: Instant, frame: impl Into<Bytes>) {
        self.schedule(at, Action::Send(frame.into()));
    }

    /// Tunes to `channel` now (when the medium services the node).
    pub fn tune(&mut self, channel: Channel) {
        self.channel = channel;
    }

    /// Tunes to `channel` at `at`.
    pub fn tune_at(&mut self, at: Instant, channel: Channel) {
        self.schedule(at, Action::Tune(channel));
    }

    /// Every frame heard, oldest first.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// Frames heard whose transmitter (address 2) is `ta`.
    pub fn received_from(&self, ta: MacAddr) -> impl Iterator<Item = &Received> + '_ {
        self.received.iter().filter(move |r| {
            FrameView::new_checked(&r.frame[..])
                .ok()
                .and_then(|v| v.addr2())
                == Some(ta)
        })
    }

    /// Every transmission outcome, in the order the frames were sent.
    pub fn sent(&self) -> &[Sent] {
        &self.sent
    }

    /// Whether nothing is left to send or to do: outbox empty and script done.
    pub fn is_done(&self) -> bool {
        self.outbox.is_empty() && self.script.is_empty()
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.script.insert((at, self.next_order), action);
        self.next_order += 1;
    }
}

impl Node for ScriptedNode {
    fn channel(&self) -> Channel {
        self.channel
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        self.received.push(Received {
            at: now,
            frame: frame.clone(),
            meta,
        });
    }

    fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus) {
        self.sent.push(Sent {
            at: now,
            frame: frame.clone(),
            status,
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.script.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Action::Send(frame) => self.outbox.push_back(frame),
                Action::Tune(channel) => self.channel = channel,
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.script.keys().next().map(|(t, _)| *t)
    }
}
