//! One kernel hwsim radio as a node of vwifi's simulated medium.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use vwifi_core::channel::Channel;
use vwifi_core::phy::TxVector;
use vwifi_core::radio::{Node, RxMeta, TxStatus};
use vwifi_core::wire::{FrameType, FrameView};
use vwifi_core::{Instant, MacAddr};

use super::msg::{
    rate_index, KernelFrame, ToKernel, TxRates, MAX_FRAME_LEN, MIN_FRAME_LEN, TX_STAT_ACK,
};

/// The most messages waiting for the kernel per radio; beyond, new ones are dropped and
/// counted (the kernel is not reading, or the socket is gone).
pub(crate) const MAX_TO_KERNEL: usize = 4096;

/// The most frames of a radio waiting for the medium; beyond, a frame is reported unacked at
/// once (mac80211 queues are far shorter: this only guards against a runaway sender).
pub(crate) const MAX_WAITING: usize = 1024;

/// The most frames held for one sleeping station; beyond, a frame is reported unacked.
pub(crate) const MAX_HELD_PER_STATION: usize = 256;

/// How long a frame may be held for a sleeping station before it is reported unacked.
pub(crate) const HOLD_LIMIT: core::time::Duration = core::time::Duration::from_secs(5);

/// The acknowledgement signal reported when the receiver was never heard, dBm.
const UNKNOWN_ACK_SIGNAL_DBM: i32 = -60;

/// What one kernel radio did on the air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RadioCounters {
    /// Frames the radio transmitted (from the kernel onto the medium).
    pub(crate) tx_frames: u64,
    /// Of those, unicast frames acknowledged.
    pub(crate) tx_acked: u64,
    /// Of those, unicast frames not acknowledged after the retries.
    pub(crate) tx_not_acked: u64,
    /// Frames the radio received (from the medium to the kernel).
    pub(crate) rx_frames: u64,
    /// Frames heard that the kernel would refuse (shorter than a 3-address header, longer than
    /// 2304 bytes): not passed on.
    pub(crate) rx_unfit: u64,
    /// Frames sent on a frequency vwifi has no channel for: reported unacked, not sent.
    pub(crate) tx_unknown_freq: u64,
    /// Messages for the kernel dropped because too many were waiting.
    pub(crate) to_kernel_dropped: u64,
    /// Null frames with the power-management bit the radio received: a station told this
    /// radio (an AP) that it goes to sleep.
    pub(crate) ps_sleep_rx: u64,
    /// Beacons the radio sent whose TIM announces frames buffered for a sleeping station
    /// (unicast bits of the partial virtual bitmap set): the AP held frames back.
    pub(crate) tim_buffered: u64,
    /// Unicast frames the radio sent to a station that had told it it sleeps, held until the
    /// station woke (what real AP hardware reports as "filtered" for mac80211 to buffer).
    pub(crate) held_for_sleeper: u64,
    /// Of those, frames dropped (reported unacked): the station slept too long, or too many.
    pub(crate) held_dropped: u64,
}

/// A frame of the radio waiting for the medium.
#[derive(Debug, Clone)]
struct Waiting {
    frame: Bytes,
    channel: Channel,
    status: Pending,
}

/// A frame held for a sleeping station, since `at`.
#[derive(Debug, Clone)]
struct Held {
    waiting: Waiting,
    at: Instant,
}

/// What the status of a frame needs.
#[derive(Debug, Clone, Copy)]
struct Pending {
    cookie: u64,
    flags: u32,
    rates: TxRates,
    /// The rate the kernel's rate control chose for the first attempt, if it said.
    vector: Option<TxVector>,
}

/// A kernel hwsim radio on vwifi's medium.
///
/// The medium knows one channel per node; a hwsim radio tells its channel only with each frame
/// it sends (`HWSIM_ATTR_FREQ`). So the node is tuned to the channel of the frame it sends, and
/// stays there until it sends on another: it hears what the medium carries on that channel.
/// Frames on another channel wait until the frames before them have their status, then the
/// node retunes; so each frame goes out on its own frequency.
///
/// Everything it hears goes to the kernel (`HWSIM_CMD_FRAME` with the signal the medium
/// computed, the rate and the frequency): the kernel filters, as a real radio's hardware does.
///
/// **Frames for a sleeping station are held.** When a station tells this radio (an AP) that it
/// sleeps (a frame with the power-management bit), mac80211 buffers what it sends to it from
/// then on, but frames it handed to the driver just before are already on their way: real AP
/// hardware reports them "filtered" and mac80211 buffers them too; hwsim has no such report.
/// So the node holds unicast frames to a station that told it it sleeps, and sends them when
/// the station is awake again (a frame without the bit); held longer than [`HOLD_LIMIT`] (or
/// more than [`MAX_HELD_PER_STATION`]), a frame is reported unacknowledged.
/// The medium's outcome of each frame goes back as `HWSIM_CMD_TX_INFO_FRAME` with the frame's
/// cookie, the ACK flag when acknowledged, and the signal at which the receiver was last heard.
#[derive(Debug)]
pub(crate) struct KernelRadio {
    radio: MacAddr,
    channel: Channel,
    waiting: VecDeque<Waiting>,
    in_flight: VecDeque<Pending>,
    to_kernel: VecDeque<ToKernel>,
    /// The last signal heard from each transmitter, dBm (the acknowledgement's signal).
    heard: BTreeMap<MacAddr, i8>,
    /// Stations that told this radio they sleep (power-management bit), with the frames held
    /// for them.
    asleep: BTreeMap<MacAddr, VecDeque<Held>>,
    /// The time of the latest input.
    now: Instant,
    counters: RadioCounters,
    /// Deleted: hears nothing, sends nothing.
    retired: bool,
}

impl KernelRadio {
    /// The radio with hwsim address `radio` (`42:00:00:00:NN:00`), tuned to `channel`.
    pub(crate) fn new(radio: MacAddr, channel: Channel) -> Self {
        Self {
            radio,
            channel,
            waiting: VecDeque::new(),
            in_flight: VecDeque::new(),
            to_kernel: VecDeque::new(),
            heard: BTreeMap::new(),
            asleep: BTreeMap::new(),
            now: Instant::ZERO,
            counters: RadioCounters::default(),
            retired: false,
        }
    }

    /// The counters.
    pub(crate) fn counters(&self) -> RadioCounters {
        self.counters
    }

    /// Whether messages for the kernel are waiting.
    /// Refuses a frame the kernel handed over (reported unacknowledged, never sent).
    pub(crate) fn refuse(&mut self, f: KernelFrame) {
        self.counters.tx_not_acked += 1;
        let status = Pending {
            cookie: f.cookie,
            flags: f.flags,
            rates: f.rates,
            vector: None,
        };
        self.report(status, false, 1, UNKNOWN_ACK_SIGNAL_DBM);
    }

    /// The radio was deleted: it keeps nothing and sends the kernel nothing more.
    pub(crate) fn retire(&mut self) {
        self.retired = true;
        self.waiting.clear();
        self.in_flight.clear();
        self.to_kernel.clear();
        self.asleep.clear();
    }

    pub(crate) fn has_output(&self) -> bool {
        !self.to_kernel.is_empty()
    }

    /// Takes the messages for the kernel.
    pub(crate) fn take_output(&mut self) -> VecDeque<ToKernel> {
        core::mem::take(&mut self.to_kernel)
    }

    /// A frame the kernel sends on this radio. `channel` is its frequency's channel, or
    /// `None` if vwifi has no such channel (then it is reported unacked at once).
    pub(crate) fn transmit(&mut self, f: KernelFrame, channel: Option<Channel>) {
        if tim_announces_unicast(&f.frame) {
            self.counters.tim_buffered += 1;
        }
        let status = Pending {
            cookie: f.cookie,
            flags: f.flags,
            rates: f.rates,
            vector: channel.and_then(|c| f.tx_vector(c.band())),
        };
        let Some(channel) = channel else {
            self.counters.tx_unknown_freq += 1;
            self.report(status, false, 1, UNKNOWN_ACK_SIGNAL_DBM);
            return;
        };
        if self.waiting.len() >= MAX_WAITING {
            self.counters.tx_not_acked += 1;
            self.report(status, false, 1, UNKNOWN_ACK_SIGNAL_DBM);
            return;
        }
        if self.waiting.is_empty() && self.in_flight.is_empty() {
            self.channel = channel;
        }
        self.waiting.push_back(Waiting {
            frame: f.frame,
            channel,
            status,
        });
    }

    fn push(&mut self, msg: ToKernel) {
        if self.retired {
            return;
        }
        if self.to_kernel.len() >= MAX_TO_KERNEL {
            self.counters.to_kernel_dropped += 1;
            return;
        }
        self.to_kernel.push_back(msg);
    }

    fn report(&mut self, p: Pending, acked: bool, attempts: u8, signal_dbm: i32) {
        let flags = if acked {
            p.flags | TX_STAT_ACK
        } else {
            p.flags & !TX_STAT_ACK
        };
        self.push(ToKernel::TxInfo {
            radio: self.radio,
            flags,
            cookie: p.cookie,
            signal_dbm,
            rates: p.rates.reported(acked, attempts),
        });
    }

    /// Station `sta` told this radio whether it sleeps; on waking, its held frames go first.
    fn power_state(&mut self, sta: MacAddr, sleeps: bool) {
        if sleeps {
            self.asleep.entry(sta).or_default();
        } else if let Some(held) = self.asleep.remove(&sta) {
            for h in held.into_iter().rev() {
                self.waiting.push_front(h.waiting);
            }
            self.retune();
        }
    }

    /// When nothing is in flight, retune to the channel of the next waiting frame.
    fn retune(&mut self) {
        if self.in_flight.is_empty() {
            if let Some(next) = self.waiting.front() {
                self.channel = next.channel;
            }
        }
    }
}

impl Node for KernelRadio {
    fn channel(&self) -> Channel {
        self.channel
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        self.now = now;
        if let Ok(view) = FrameView::new_checked(&frame[..]) {
            if let Some(ta) = view.addr2() {
                self.heard.insert(ta, meta.signal_dbm);
                let own = matches!(
                    view.frame_control().frame_type,
                    FrameType::Management(_) | FrameType::Data(_)
                );
                if own && view.addr1() != ta {
                    self.power_state(ta, frame.get(1).is_some_and(|f| f & PM_BIT != 0));
                }
            }
        }
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&frame.len()) {
            self.counters.rx_unfit += 1;
            return;
        }
        self.counters.rx_frames += 1;
        if is_sleep_null(frame) {
            self.counters.ps_sleep_rx += 1;
        }
        self.push(ToKernel::Frame {
            radio: self.radio,
            frame: frame.clone(),
            signal_dbm: i32::from(meta.signal_dbm),
            rate_index: rate_index(meta.rate_kbps, meta.channel.band()),
            freq: u32::from(meta.channel.frequency_mhz()),
        });
    }

    fn handle_tx_status(&mut self, now: Instant, frame: &Bytes, status: TxStatus) {
        self.now = now;
        let Some(p) = self.in_flight.pop_front() else {
            return;
        };
        let (acked, attempts) = match status {
            TxStatus::Acked { retries } => {
                self.counters.tx_acked += 1;
                (true, retries.saturating_add(1))
            }
            TxStatus::NotAcked => {
                self.counters.tx_not_acked += 1;
                (false, 0)
            }
            // Group frames: nobody acknowledges; the kernel ignores the flag for them (it sent
            // them with HWSIM_TX_CTL_NO_ACK), as hwsim's own medium reports them.
            TxStatus::Sent => (true, 1),
        };
        let signal = FrameView::new_checked(&frame[..])
            .ok()
            .and_then(|v| self.heard.get(&v.addr1()).copied())
            .map_or(UNKNOWN_ACK_SIGNAL_DBM, i32::from);
        self.report(p, acked, attempts, signal);
        self.retune();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let mut expired = Vec::new();
        for held in self.asleep.values_mut() {
            while held.front().is_some_and(|h| now >= h.at + HOLD_LIMIT) {
                if let Some(h) = held.pop_front() {
                    expired.push(h.waiting.status);
                }
            }
        }
        for status in expired {
            self.counters.held_dropped += 1;
            self.report(status, false, 1, UNKNOWN_ACK_SIGNAL_DBM);
        }
    }

    /// The kernel's rate for the frame the medium sends: the oldest in flight (frames go out
    /// and get their status in order), so airtime and loss follow the kernel's HT/VHT rate.
    fn tx_vector(&self, _frame: &Bytes) -> Option<TxVector> {
        self.in_flight.front().and_then(|p| p.vector)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        loop {
            if self.waiting.front()?.channel != self.channel {
                return None;
            }
            let w = self.waiting.pop_front()?;
            let receiver = receiver_of(&w.frame);
            if let Some(held) = receiver.and_then(|r| self.asleep.get_mut(&r)) {
                if held.len() < MAX_HELD_PER_STATION {
                    self.counters.held_for_sleeper += 1;
                    held.push_back(Held {
                        waiting: w,
                        at: self.now,
                    });
                } else {
                    self.counters.held_dropped += 1;
                    self.report(w.status, false, 1, UNKNOWN_ACK_SIGNAL_DBM);
                }
                continue;
            }
            self.in_flight.push_back(w.status);
            self.counters.tx_frames += 1;
            return Some(w.frame);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.asleep
            .values()
            .filter_map(|held| held.front().map(|h| h.at + HOLD_LIMIT))
            .min()
    }
}

/// The power-management bit of the second frame control octet.
const PM_BIT: u8 = 0x10;

/// Address 1 of a unicast management or data frame (the frames a sleeping station's AP
/// buffers).
fn receiver_of(frame: &[u8]) -> Option<MacAddr> {
    let view = FrameView::new_checked(frame).ok()?;
    let unicast = !view.addr1().is_group();
    let kind = matches!(
        view.frame_control().frame_type,
        FrameType::Management(_) | FrameType::Data(_)
    );
    (unicast && kind).then(|| view.addr1())
}

/// Whether `frame` is a (QoS) null data frame with the power-management bit: "I sleep".
fn is_sleep_null(frame: &[u8]) -> bool {
    match (frame.first(), frame.get(1)) {
        // Type data (0b10), subtype Null (0b0100) or QoS Null (0b1100); PM is flags bit 4.
        (Some(&fc0), Some(&fc1)) => (fc0 == 0x48 || fc0 == 0xc8) && fc1 & PM_BIT != 0,
        _ => false,
    }
}

/// Whether `frame` is a beacon whose TIM element has a unicast bit set in its partial
/// virtual bitmap (frames buffered for a station in power save).
fn tim_announces_unicast(frame: &[u8]) -> bool {
    // Beacon: frame control 0x80; 24-byte header, 12 bytes of fixed fields, then elements.
    if frame.first() != Some(&0x80) {
        return false;
    }
    let mut rest = frame.get(36..).unwrap_or(&[]);
    while let [id, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some(body) = tail.get(..len) else {
            return false;
        };
        if *id == 5 {
            // DTIM count, DTIM period, bitmap control, partial virtual bitmap.
            return body.get(3..).is_some_and(|pvb| pvb.iter().any(|&b| b != 0));
        }
        rest = tail.get(len..).unwrap_or(&[]);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beacon_with_tim(tim: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80, 0];
        f.extend_from_slice(&[0; 34]);
        f.extend_from_slice(&[0, 3, b'l', b'a', b'b']);
        f.push(5);
        f.push(tim.len() as u8);
        f.extend_from_slice(tim);
        f
    }

    #[test]
    fn a_tim_with_a_unicast_bit_counts_as_buffered_frames() {
        // AID 1 bit set (offset 0, bitmap octet 0b10).
        assert!(tim_announces_unicast(&beacon_with_tim(&[0, 2, 0, 0b10])));
        // Nothing buffered: the single zero octet of an empty bitmap.
        assert!(!tim_announces_unicast(&beacon_with_tim(&[0, 2, 0, 0])));
        // Only group traffic (bitmap control bit 0) is not a station's.
        assert!(!tim_announces_unicast(&beacon_with_tim(&[0, 2, 1, 0])));
        // Truncated elements, other frames.
        let mut cut = beacon_with_tim(&[0, 2, 0, 0b10]);
        cut.truncate(cut.len() - 2);
        assert!(!tim_announces_unicast(&cut));
        assert!(!tim_announces_unicast(&[0x50, 0]));
    }

    #[test]
    fn a_null_frame_with_the_pm_bit_is_a_sleep_announcement() {
        assert!(is_sleep_null(&[0x48, 0x11]));
        assert!(is_sleep_null(&[0xc8, 0x11]));
        assert!(!is_sleep_null(&[0x48, 0x01]));
        assert!(!is_sleep_null(&[0x08, 0x11]));
        assert!(!is_sleep_null(&[0x48]));
    }
}
