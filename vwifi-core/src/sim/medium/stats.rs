//! Counters of what happened on the air.

use core::time::Duration;
use std::collections::BTreeMap;

use crate::channel::Channel;

/// Why a frame did not reach a receiver. Counted per receiver (one broadcast frame missed by
/// three nodes counts three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LossCause {
    /// The signal at the receiver was below its sensitivity: the frame was not heard at all.
    BelowSensitivity,
    /// Heard, but not decoded: the frame error probability at its signal-to-noise ratio.
    Snr,
    /// Heard and decodable, but lost to the configured extra loss rate.
    Injected,
    /// Two or more frames started in the same slot and the receiver heard more than one.
    Collision,
    /// The addressee was tuned to another channel, or switched channel during the frame.
    WrongChannel,
}

/// Receptions lost, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossCounts {
    /// See [`LossCause::BelowSensitivity`].
    pub below_sensitivity: u64,
    /// See [`LossCause::Snr`].
    pub snr: u64,
    /// See [`LossCause::Injected`].
    pub injected: u64,
    /// See [`LossCause::Collision`].
    pub collision: u64,
    /// See [`LossCause::WrongChannel`].
    pub wrong_channel: u64,
}

impl LossCounts {
    /// The count for `cause`.
    pub fn get(&self, cause: LossCause) -> u64 {
        match cause {
            LossCause::BelowSensitivity => self.below_sensitivity,
            LossCause::Snr => self.snr,
            LossCause::Injected => self.injected,
            LossCause::Collision => self.collision,
            LossCause::WrongChannel => self.wrong_channel,
        }
    }

    /// All causes together.
    pub fn total(&self) -> u64 {
        self.below_sensitivity + self.snr + self.injected + self.collision + self.wrong_channel
    }

    pub(crate) fn bump(&mut self, cause: LossCause) {
        let slot = match cause {
            LossCause::BelowSensitivity => &mut self.below_sensitivity,
            LossCause::Snr => &mut self.snr,
            LossCause::Injected => &mut self.injected,
            LossCause::Collision => &mut self.collision,
            LossCause::WrongChannel => &mut self.wrong_channel,
        };
        *slot += 1;
    }
}

/// The medium's counters since it was created.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediumStats {
    /// Frames handed to the medium by nodes (each counted once, however often retried).
    pub queued: u64,
    /// Frames put on the air, retransmissions included, Acks not included.
    pub transmissions: u64,
    /// Of those, retransmissions (sent with the Retry bit set).
    pub retries: u64,
    /// Group-addressed (or otherwise unacknowledged) transmissions.
    pub group: u64,
    /// Unicast frames acknowledged (the sender was told `Acked`).
    pub acked: u64,
    /// Unicast frames given up after the retry limit (the sender was told `NotAcked`).
    pub not_acked: u64,
    /// Ack frames sent by receivers.
    pub acks_sent: u64,
    /// Ack frames the sender did not receive (loss, or the sender left the channel).
    pub acks_lost: u64,
    /// Times two or more frames started in the same slot on one channel.
    pub collisions: u64,
    /// Frames handed to receivers (per receiver; retransmitted duplicates included).
    pub delivered: u64,
    /// Receptions lost, by cause.
    pub lost: LossCounts,
    /// Frames a receiver's reorder timer skipped (missing when it released the frames held
    /// behind them).
    pub reorder_skipped: u64,
    /// Block Ack agreements ended by their Block Ack timeout (unused that long).
    pub ba_timeouts: u64,
    /// MSDUs sent inside A-MSDUs (per transmission).
    pub amsdu_msdus: u64,
    /// A-MSDU subframes a receiver dropped (malformed, or DA/SA not matching the MPDU).
    pub amsdu_refused: u64,
    airtime: BTreeMap<Channel, Duration>,
}

impl MediumStats {
    /// How long `channel` was busy (frames, SIFS and Acks or Ack timeouts; not the idle DIFS
    /// and backoff between them).
    pub fn airtime(&self, channel: Channel) -> Duration {
        self.airtime.get(&channel).copied().unwrap_or_default()
    }

    /// Busy time per channel, for every channel that was used, in channel order.
    pub fn airtime_by_channel(&self) -> impl Iterator<Item = (Channel, Duration)> + '_ {
        self.airtime.iter().map(|(c, d)| (*c, *d))
    }

    pub(crate) fn add_airtime(&mut self, channel: Channel, busy: Duration) {
        *self.airtime.entry(channel).or_default() += busy;
    }
}
