//! A-MPDU with Block Ack on HT/VHT/HE links (IEEE 802.11-2020 10.12 A-MPDU, 10.25.6 Block
//! Ack with immediate policy and receiver reordering).
//!
//! Model: the medium plays each radio's lower MAC. The first data frame of an HT-or-newer link
//! without a Block Ack agreement is preceded by an ADDBA Request; the recipient's side answers
//! with an ADDBA Response (accepted, window 64); once that is acknowledged the agreement holds
//! (these frames are the medium's own: nodes never see them). A DELBA on the air ends it. When
//! the head of a radio's queue is a unicast data frame on a link with an agreement, the radio
//! sends one PPDU
//! holding the oldest unreported data frames to that receiver, in queue order, up to 64
//! MPDUs, the format's maximum A-MPDU length (65 535 octets HT, 1 048 575 VHT/HE, Table 9-163
//! and 9-270 with the largest exponent) and 4 ms of airtime (the limit Linux drivers use;
//! aPPDUMaxTime is 5.484 ms). Each MPDU takes a 4-octet delimiter and padding to 4 octets
//! (Figure 9-1015). Every receiver decodes each MPDU on its own (the error model at its length);
//! the addressee answers with a 32-octet compressed Block Ack at the control response rate.
//! An MPDU is acknowledged when the addressee decoded it and the sender heard the Block Ack;
//! the others go again in a later A-MPDU until the retry limit. The addressee gets the MPDUs in
//! queue order: one received behind a missing one is held until the missing one arrives or is
//! given up (reordering), and a retransmission of one it already has is not handed over again.

use core::time::Duration;

use bytes::Bytes;

use super::frames::{ack_receiver, receiver, with_retry};
use super::phy::FCS_LEN;
use super::stats::LossCause;
use super::{index, AckState, AmpduRx, Lent, Medium, Transmission, TxState};
use crate::addr::MacAddr;
use crate::channel::Channel;
use crate::phy::{McsRate, Standard, TxVector};
use crate::radio::{Node, NodeId, RxMeta, TxStatus};
use crate::time::Instant;
use crate::wire::block_ack::{BaParams, BlockAckAction};
use crate::wire::{FrameType, FrameView, MgmtBody, MgmtFrame, MgmtSubtype};

/// A Block Ack agreement of a link (originator, recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Agreement {
    /// The ADDBA Request is out; frames go one by one meanwhile.
    Requested,
    /// The recipient accepted: A-MPDUs.
    Active {
        /// The Block Ack timeout both agreed on (zero: none).
        timeout: Duration,
        /// When an A-MPDU last went under it.
        last_used: Instant,
    },
}

/// The Block Ack timeout the lower MAC asks for in its ADDBA Requests, in TU (1024 µs): an
/// agreement unused this long ends and is set up again before the next data (9.4.1.15,
/// 10.25.4).
pub(super) const BA_TIMEOUT_TU: u16 = 5000;

/// How long a receiver holds frames behind a missing one before it gives up waiting and
/// releases them (mac80211's reorder timer, `HT_RX_REORDER_BUF_TIMEOUT`, is 100 ms).
pub(super) const REORDER_TIMEOUT: Duration = Duration::from_millis(100);

/// A timeout in TU as a duration.
pub(super) fn tu(n: u16) -> Duration {
    Duration::from_micros(u64::from(n) * 1024)
}

/// The longest A-MPDU airtime the medium builds.
pub(super) const MAX_AMPDU_AIRTIME: Duration = Duration::from_micros(4000);
/// The Block Ack window: the most MPDUs in one A-MPDU.
pub(super) const BA_WINDOW: usize = 64;
/// A compressed Block Ack: frame control, duration, RA, TA, BA control, starting sequence
/// control, 8-octet bitmap, FCS (9.3.1.8).
pub(super) const BLOCK_ACK_LEN: usize = 32;
/// The MPDU delimiter before each MPDU of an A-MPDU.
const DELIMITER_LEN: usize = 4;

/// The MPDUs of one A-MPDU on the air.
#[derive(Debug)]
pub(super) struct Aggregate {
    /// Their receiver address.
    pub(super) ra: MacAddr,
    /// The node that answers to it.
    pub(super) to: NodeId,
    /// The queue entries it carries (one MSDU each), in queue order.
    pub(super) mpdus: Vec<Mpdu>,
    /// The MPDUs on the air, in order: each a queue entry's frame, or an A-MSDU of several.
    pub(super) air: Vec<AirMpdu>,
}

/// One queue entry carried in an A-MPDU.
#[derive(Debug)]
pub(super) struct Mpdu {
    /// Its queue entry.
    pub(super) id: u64,
    /// As the node handed it over.
    pub(super) original: Bytes,
    /// Whether the addressee got it.
    pub(super) received: bool,
}

/// One MPDU of an A-MPDU as it goes on the air.
#[derive(Debug)]
pub(super) struct AirMpdu {
    /// As sent (Retry bit on retransmissions).
    pub(super) frame: Bytes,
    /// The entries of [`Aggregate::mpdus`] it carries: one, or an A-MSDU's (with their
    /// A-MSDU parts, in subframe order).
    pub(super) members: Vec<(usize, Option<super::amsdu::Msdu>)>,
}

/// Whether `frame` can go in an A-MPDU: an individually addressed data frame that is
/// acknowledged.
fn aggregatable(frame: &[u8]) -> bool {
    FrameView::new_checked(frame)
        .is_ok_and(|v| matches!(v.frame_control().frame_type, FrameType::Data(_)))
        && ack_receiver(frame).is_some()
}

/// The PSDU length of an A-MPDU of MPDUs of `lens` octets (FCS included): each behind its
/// delimiter, all but the last padded to a multiple of 4 octets.
fn psdu_len(lens: &[usize]) -> usize {
    let n = lens.len();
    lens.iter()
        .enumerate()
        .map(|(i, l)| {
            let sub = DELIMITER_LEN + l;
            if i + 1 < n {
                sub.next_multiple_of(4)
            } else {
                sub
            }
        })
        .sum()
}

/// The A-MSDU body length of `group`'s frames, and `extra`'s if given.
fn amsdu_body(
    group: &[(&super::Queued, Option<super::amsdu::Msdu>)],
    extra: Option<(&Bytes, super::amsdu::Msdu)>,
) -> usize {
    let lens = group
        .iter()
        .map(|(q, m)| m.map_or(usize::MAX / 4, |m| super::amsdu::msdu_len(&q.frame, &m)))
        .chain(extra.map(|(f, m)| super::amsdu::msdu_len(f, &m)));
    crate::wire::amsdu::body_len(lens)
}

/// The longest A-MPDU of the format, octets.
const fn max_ampdu_len(rate: &McsRate) -> usize {
    match rate.standard {
        Standard::Ht | Standard::Legacy => 65_535,
        Standard::Vht | Standard::He => 1_048_575,
    }
}

impl<N: Node> Medium<N> {
    /// Puts an A-MPDU from `id` on the air on `channel` at `rate`, if its head frame is a data
    /// frame on the HT/VHT/HE link to `link`; `None` leaves the head to the single-frame path.
    pub(super) fn transmit_ampdu(
        &mut self,
        channel: Channel,
        id: NodeId,
        rate: McsRate,
        link: Option<NodeId>,
        secondaries: &[Channel],
    ) -> Option<Transmission> {
        let to = link?;
        let now = self.now;
        let band = channel.band();
        let radio = self.radios.get(index(id))?;
        let head = radio.queue.front()?;
        if !aggregatable(&head.frame) {
            return None;
        }
        let ra = receiver(&head.frame)?;
        // A frame tried twice already goes at the controller's more reliable rate.
        let rate = match self.links.get(&(id, to)) {
            Some((_, rc)) if head.attempts >= 2 => {
                let r = rc.retry_rate(rate, head.attempts.saturating_add(1));
                if r.width == rate.width {
                    r
                } else {
                    rate
                }
            }
            _ => rate,
        };
        // Queue entries in order, grouped into on-air MPDUs: a frame joins the last MPDU as an
        // A-MSDU subframe when both share an A-MSDU key and the A-MSDU stays within the
        // receiver's maximum length; the A-MPDU stays within its limits.
        let max_amsdu = if self.config.amsdu {
            super::amsdu::max_amsdu_len(rate.standard)
        } else {
            0
        };
        let fits = |lens: &[usize]| {
            let len = psdu_len(lens);
            len <= max_ampdu_len(&rate) && rate.airtime(len, band) <= MAX_AMPDU_AIRTIME
        };
        let mut lens: Vec<usize> = Vec::new();
        // The MPDUs' queue entries in order, one list for all: MPDU g has
        // `entries[starts[g]..starts[g + 1]]` (the last one up to the end).
        let mut entries: Vec<(&super::Queued, Option<super::amsdu::Msdu>)> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        for q in &radio.queue {
            if q.reported || receiver(&q.frame) != Some(ra) || !aggregatable(&q.frame) {
                continue;
            }
            let part = super::amsdu::msdu_of(&q.frame);
            let last = starts.last().and_then(|&first| entries.get(first..));
            let joined = match (last, part) {
                (Some(group), Some(p)) if max_amsdu > 0 => {
                    let same = group.iter().all(|(_, m)| m.is_some_and(|m| m.key == p.key));
                    let body = amsdu_body(group, Some((&q.frame, p)));
                    if same && body <= max_amsdu {
                        let before = lens.last().copied();
                        if let Some(l) = lens.last_mut() {
                            *l = super::amsdu::HEADER_LEN + body + FCS_LEN;
                        }
                        if fits(&lens) {
                            entries.push((q, part));
                            true
                        } else {
                            if let (Some(l), Some(b)) = (lens.last_mut(), before) {
                                *l = b;
                            }
                            break;
                        }
                    } else {
                        false
                    }
                }
                _ => false,
            };
            if joined {
                continue;
            }
            if starts.len() == BA_WINDOW {
                break;
            }
            lens.push(q.frame.len() + FCS_LEN);
            if !starts.is_empty() && !fits(&lens) {
                lens.pop();
                break;
            }
            starts.push(entries.len());
            entries.push((q, part));
        }
        let mut mpdus = Vec::with_capacity(entries.len());
        let mut air = Vec::with_capacity(starts.len());
        let mut amsdu_msdus = 0;
        for (g, &first_entry) in starts.iter().enumerate() {
            let end = starts.get(g + 1).copied().unwrap_or(entries.len());
            let group = entries.get(first_entry..end).unwrap_or_default();
            let retry = group.iter().any(|(q, _)| q.attempts > 0);
            let first = mpdus.len();
            let frame = match group {
                [(q, _)] => {
                    if retry {
                        with_retry(&q.frame)
                    } else {
                        q.frame.clone()
                    }
                }
                _ => {
                    let parts: Option<Vec<(&Bytes, super::amsdu::Msdu)>> =
                        group.iter().map(|(q, m)| Some((&q.frame, (*m)?))).collect();
                    amsdu_msdus += group.len() as u64;
                    super::amsdu::build(&parts?, retry)?
                }
            };
            for (q, _) in group {
                mpdus.push(Mpdu {
                    id: q.id,
                    original: q.frame.clone(),
                    received: false,
                });
            }
            let members = group
                .iter()
                .enumerate()
                .map(|(k, (_, m))| (first + k, if group.len() > 1 { *m } else { None }))
                .collect();
            air.push(AirMpdu { frame, members });
        }
        let original = mpdus.first()?.original.clone();
        let on_air = air.first()?.frame.clone();
        let radio = self.radios.get_mut(index(id))?;
        let mut retries = 0;
        for q in radio.queue.iter_mut() {
            if mpdus.iter().any(|m| m.id == q.id) {
                q.attempts = q.attempts.saturating_add(1);
                retries += u64::from(q.attempts > 1);
            }
        }
        radio.tx = TxState::OnAir;
        // Single-frame attempts count only for the single-frame path.
        radio.attempts = 0;
        let placement = radio.placement;
        let vector = TxVector::Mcs(rate);
        // Zero airtime (the measuring mode): the A-MPDU and its Block Ack take no time either.
        let end = if self.config.airtime {
            now + rate.airtime(psdu_len(&lens), band)
        } else {
            now
        };
        self.stats.transmissions += air.len() as u64;
        self.stats.retries += retries;
        self.stats.amsdu_msdus += amsdu_msdus;
        for m in &air {
            self.record(
                now,
                channel,
                vector,
                &m.frame,
                placement.position,
                placement.tx_power_dbm,
            );
        }
        Some(Transmission {
            sender: id,
            original,
            on_air,
            rate: vector,
            link,
            secondaries: secondaries.to_vec(),
            ampdu: Some(Aggregate { ra, to, mpdus, air }),
            internal: false,
            end,
            delivered: false,
            ack: AckState::Pending,
        })
    }

    /// A-MPDU `i` of `channel`'s airing ends: every node tuned in decodes its MPDUs one by one;
    /// the addressee answers with a Block Ack if it decoded any and gets them in order.
    pub(super) fn deliver_ampdu(&mut self, channel: Channel, i: usize, lent: &mut Lent<'_>) {
        let now = self.now;
        let band = channel.band();
        let timing = self.timing(channel);
        let Some(air) = self.channels.get(&channel).and_then(|s| s.air.as_ref()) else {
            return;
        };
        let Some(tx) = air.txs.get(i) else {
            return;
        };
        let Some(agg) = &tx.ampdu else {
            return;
        };
        let start = air.start;
        let sender = tx.sender;
        let rate = tx.rate;
        // Each on-air MPDU with the queue entries it carries, (id, original, A-MSDU part):
        // theirs are `carried[range]` (one list for all, not one per MPDU).
        let mut carried: Vec<(u64, Bytes, Option<super::amsdu::Msdu>)> =
            Vec::with_capacity(agg.mpdus.len());
        let mut frames: Vec<(Bytes, core::ops::Range<usize>)> = Vec::with_capacity(agg.air.len());
        for a in &agg.air {
            let first = carried.len();
            carried.extend(a.members.iter().filter_map(|&(k, part)| {
                let m = agg.mpdus.get(k)?;
                Some((m.id, m.original.clone(), part))
            }));
            frames.push((a.frame.clone(), first..carried.len()));
        }
        let (ra, to) = (agg.ra, agg.to);
        let others: Vec<NodeId> = air
            .txs
            .iter()
            .map(|t| t.sender)
            .filter(|&s| s != sender)
            .collect();
        let Some(from) = self.radios.get(index(sender)).map(|r| r.placement) else {
            return;
        };
        let addressee = self.owners.get(&ra).copied().filter(|&o| o == to);
        let mut received = Vec::new();
        let mut addressee_meta = None;
        let mut heard: Vec<(NodeId, Bytes, RxMeta)> = Vec::new();
        for (id, to) in self.listeners(channel, sender, start) {
            let signal = self.signal(&from, to, band);
            if let Err(cause) = self.preamble(signal, id, &others, band) {
                for _ in &frames {
                    self.stats.lost.bump(cause);
                }
                continue;
            }
            let meta = RxMeta {
                channel,
                signal_dbm: super::engine::to_i8_dbm(signal),
                rate_kbps: rate.kbps(),
            };
            for (frame, range) in &frames {
                match self.decode(signal, &rate, frame.len() + FCS_LEN) {
                    Ok(()) if self.link_lost(sender, id) => {
                        self.stats.lost.bump(LossCause::Injected);
                    }
                    Ok(()) => {
                        let mut got = |qid: u64, f: Bytes| {
                            if Some(id) == addressee {
                                received.push(qid);
                            } else {
                                heard.push((id, f, meta));
                            }
                        };
                        // A single MPDU is its one entry; an A-MSDU comes apart into the
                        // entries whose subframes pass the receiver's checks.
                        let carried = carried.get(range.clone()).unwrap_or_default();
                        match carried {
                            [(qid, _, None)] => got(*qid, frame.clone()),
                            _ => {
                                for (qid, f) in self.deaggregate(frame, carried) {
                                    got(qid, f);
                                }
                            }
                        }
                    }
                    Err(cause) => self.stats.lost.bump(cause),
                }
            }
            if Some(id) == addressee {
                addressee_meta = Some(meta);
            }
        }

        // The Block Ack, SIFS after the A-MPDU, if the addressee decoded anything.
        let ack_rate = rate.control_response_rate();
        let airtime = self.config.airtime;
        let mut tx_done = if airtime {
            now + timing.ack_timeout(ack_rate)
        } else {
            now
        };
        let mut ack = AckState::Missing;
        if let (Some(owner), false) = (addressee, received.is_empty()) {
            let ack_start = if airtime { now + timing.sifs } else { now };
            if airtime {
                tx_done = ack_start + ack_rate.airtime(BLOCK_ACK_LEN, band);
            }
            ack = AckState::Sent {
                by: owner,
                rate: ack_rate,
            };
            self.stats.acks_sent += 1;
            let acker = self.radios.get(index(owner)).map(|r| r.placement);
            if let Some(acker) = acker.filter(|_| self.recording()) {
                // To the originator (the data's transmitter), from the recipient.
                let originator = frames.first().and_then(|(f, _)| ack_receiver(f));
                let ba = block_ack_frame(originator.unwrap_or(MacAddr::ZERO), ra);
                self.record(
                    ack_start,
                    channel,
                    TxVector::Legacy(ack_rate),
                    &ba,
                    acker.position,
                    acker.tx_power_dbm,
                );
            }
        }
        if let Some(air) = self.channels.get_mut(&channel).and_then(|s| s.air.as_mut()) {
            air.done = air.done.max(tx_done);
            if let Some(tx) = air.txs.get_mut(i) {
                tx.delivered = true;
                tx.ack = ack;
                if let Some(agg) = tx.ampdu.as_mut() {
                    for m in &mut agg.mpdus {
                        m.received = received.contains(&m.id);
                    }
                }
            }
        }

        for (id, frame, meta) in heard {
            self.stats.delivered += 1;
            self.hand_rx(id, &frame, meta, lent);
            self.service(id, false, lent);
        }
        if let (Some(to), Some(meta)) = (addressee, addressee_meta) {
            self.release(sender, to, ra, meta, &received, lent);
        }
    }

    /// The queue entries of `carried` an A-MSDU MPDU `frame` delivers: those whose subframe
    /// passes the receiver's checks ([`super::amsdu::deaggregate`]) and carries their MSDU,
    /// each as the frame its sender handed over. Refused subframes are counted.
    fn deaggregate(
        &mut self,
        frame: &[u8],
        carried: &[(u64, Bytes, Option<super::amsdu::Msdu>)],
    ) -> Vec<(u64, Bytes)> {
        let Ok(subframes) = super::amsdu::deaggregate(frame) else {
            self.stats.amsdu_refused += carried.len() as u64;
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, (qid, original, part)) in carried.iter().enumerate() {
            match (subframes.get(k), part) {
                (Some(Ok(s)), Some(p)) if super::amsdu::carries(s, original, p) => {
                    out.push((*qid, original.clone()));
                }
                _ => self.stats.amsdu_refused += 1,
            }
        }
        out
    }

    /// Hands the addressee `to` the frames of `sender`'s queue to `ra` it can have in order:
    /// those just `received` and those held, up to the first one it still misses; a received one
    /// behind that is held (now). Frames whose status went out already leave the queue once
    /// handed.
    fn release(
        &mut self,
        sender: NodeId,
        to: NodeId,
        ra: MacAddr,
        meta: RxMeta,
        received: &[u64],
        lent: &mut Lent<'_>,
    ) {
        let now = self.now;
        let Some(radio) = self.radios.get_mut(index(sender)) else {
            return;
        };
        let mut out: Vec<(Bytes, RxMeta)> = Vec::new();
        let mut blocked = false;
        let mut oldest_held = None;
        for q in radio.queue.iter_mut() {
            if receiver(&q.frame) != Some(ra) || !aggregatable(&q.frame) {
                continue;
            }
            let fresh = received.contains(&q.id);
            match q.rx {
                // A retransmission of a frame the receiver has: not handed over again.
                AmpduRx::Delivered => {}
                AmpduRx::Held(m, _) if !blocked => {
                    out.push((q.frame.clone(), m));
                    q.rx = AmpduRx::Delivered;
                }
                AmpduRx::Held(_, since) => {
                    oldest_held = Some(oldest_held.map_or(since, |o: Instant| o.min(since)));
                }
                AmpduRx::NotYet if fresh && blocked => {
                    q.rx = AmpduRx::Held(meta, now);
                    oldest_held = Some(oldest_held.map_or(now, |o: Instant| o.min(now)));
                }
                AmpduRx::NotYet if fresh => {
                    out.push((q.frame.clone(), meta));
                    q.rx = AmpduRx::Delivered;
                }
                AmpduRx::NotYet => blocked = true,
            }
        }
        radio
            .queue
            .retain(|q| !(q.reported && q.rx == AmpduRx::Delivered));
        if let Some(since) = oldest_held {
            self.reorder_timers
                .insert((since + REORDER_TIMEOUT, sender, to, ra));
        }
        if out.is_empty() {
            return;
        }
        // Handed over together: the receiver may open them at once (one key, their AES runs
        // interleaved), then takes them in order as it would one by one.
        self.stats.delivered += out.len() as u64;
        self.hand_rx_batch(to, &out, lent);
        self.service(to, false, lent);
    }

    /// A reorder timer of `to` for frames from `sender` to `ra` expires: the frames it has held
    /// for [`REORDER_TIMEOUT`] go up, the missing ones before them are skipped (the receiver's
    /// window moves past them: should they come later, they are not handed over), and what
    /// follows in order goes with them (10.25.6.6; mac80211's `ieee80211_sta_reorder_release`).
    pub(super) fn reorder_timeout(
        &mut self,
        sender: NodeId,
        to: NodeId,
        ra: MacAddr,
        lent: &mut Lent<'_>,
    ) {
        let now = self.now;
        let Some(radio) = self.radios.get_mut(index(sender)) else {
            return;
        };
        let expired = radio.queue.iter().rposition(|q| {
            receiver(&q.frame) == Some(ra)
                && matches!(q.rx, AmpduRx::Held(_, since) if since + REORDER_TIMEOUT <= now)
        });
        let Some(last) = expired else {
            return;
        };
        let mut skipped = 0;
        for q in radio.queue.iter_mut().take(last) {
            if receiver(&q.frame) == Some(ra) && q.rx == AmpduRx::NotYet && aggregatable(&q.frame) {
                q.rx = AmpduRx::Delivered;
                skipped += 1;
            }
        }
        self.stats.reorder_skipped += skipped;
        let meta = RxMeta {
            channel: radio.channel,
            signal_dbm: 0,
            rate_kbps: 0,
        };
        self.release(sender, to, ra, meta, &[], lent);
    }

    /// The busy period of an A-MPDU is over: each MPDU the Block Ack covers is acknowledged,
    /// the others stay queued for the next A-MPDU until the retry limit; the link's rate
    /// controller learns each MPDU's outcome.
    pub(super) fn done_ampdu(&mut self, channel: Channel, tx: Transmission, lent: &mut Lent<'_>) {
        let now = self.now;
        let band = channel.band();
        let sender = tx.sender;
        let Some(agg) = tx.ampdu else {
            return;
        };
        let ba_heard = match tx.ack {
            AckState::Sent { by, rate } => {
                let heard = self.ack_heard(by, sender, channel, tx.end, rate, band);
                if !heard {
                    self.stats.acks_lost += 1;
                }
                heard
            }
            _ => false,
        };
        if let (Some(to), TxVector::Mcs(rate)) = (tx.link, tx.rate) {
            if let Some((_, rc)) = self.links.get_mut(&(sender, to)) {
                for m in &agg.mpdus {
                    rc.report(rate, ba_heard && m.received);
                }
            }
        }
        let retry_limit = self.config.retry_limit;
        let (cw_min, cw_max) = (self.config.cw_min, self.config.cw_max);
        let Some(radio) = self.radios.get_mut(index(sender)) else {
            return;
        };
        let mut statuses = Vec::new();
        let mut dropped = false;
        for m in &agg.mpdus {
            let Some(q) = radio.queue.iter_mut().find(|q| q.id == m.id) else {
                continue;
            };
            if ba_heard && m.received {
                q.reported = true;
                statuses.push((
                    m.original.clone(),
                    TxStatus::Acked {
                        retries: q.attempts.saturating_sub(1),
                    },
                ));
            } else if q.attempts >= retry_limit {
                q.reported = true;
                // Given up: the receiver will not wait for it.
                q.rx = AmpduRx::Delivered;
                dropped = true;
                statuses.push((m.original.clone(), TxStatus::NotAcked));
            }
        }
        radio.cw = if ba_heard {
            cw_min
        } else {
            cw_max.min(radio.cw.saturating_mul(2).saturating_add(1))
        };
        radio
            .queue
            .retain(|q| !(q.reported && q.rx == AmpduRx::Delivered));
        radio.tx = TxState::Idle;
        radio.chosen = None;
        for (frame, status) in &statuses {
            match status {
                TxStatus::Acked { .. } => self.stats.acked += 1,
                _ => self.stats.not_acked += 1,
            }
            if let Some(node) = self.driven(sender, lent) {
                node.handle_tx_status(now, frame, *status);
            }
        }
        if dropped {
            // Frames held behind a given-up one may go to the receiver now.
            let meta = RxMeta {
                channel,
                signal_dbm: 0,
                rate_kbps: tx.rate.kbps(),
            };
            self.release(sender, agg.to, agg.ra, meta, &[], lent);
        }
        self.service(sender, false, lent);
    }
}

/// A compressed Block Ack control frame to `ra` from `ta` (without FCS): frame control
/// (control, subtype 9), duration 0, RA, TA, BA control (compressed bitmap), starting sequence
/// control 0, an 8-octet bitmap of every frame received (9.3.1.8.2).
fn block_ack_frame(ra: MacAddr, ta: MacAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK_ACK_LEN - 4);
    out.extend_from_slice(&[0x94, 0x00, 0x00, 0x00]);
    out.extend_from_slice(&ra.0);
    out.extend_from_slice(&ta.0);
    out.extend_from_slice(&0x0004u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[0xff; 8]);
    out
}

/// The Block Ack action of a management frame, if it is one.
fn block_ack_action(frame: &[u8]) -> Option<BlockAckAction> {
    let view = FrameView::new_checked(frame).ok()?;
    if view.frame_control().frame_type != FrameType::Management(MgmtSubtype::Action) {
        return None;
    }
    BlockAckAction::parse(frame.get(MGMT_HEADER_LEN..)?).ok()
}

/// The length of a management frame's header (no HT Control).
const MGMT_HEADER_LEN: usize = 24;

/// An Action frame from `sa` to `da` in BSS `bssid` carrying `action`.
fn action_frame(da: MacAddr, sa: MacAddr, bssid: MacAddr, action: &BlockAckAction) -> Bytes {
    let frame = MgmtFrame::new(
        da,
        sa,
        bssid,
        MgmtBody::Other {
            subtype: MgmtSubtype::Action,
            body: action.to_vec(),
        },
    );
    let mut out = Vec::new();
    frame.emit(&mut out);
    Bytes::from(out)
}

/// The BSSID of a frame by its DS bits (IEEE 802.11-2020 Table 9-30); `None` for 4-address
/// frames.
fn bssid_of(view: &FrameView<&[u8]>) -> Option<MacAddr> {
    let f = view.frame_control().flags;
    match (f.to_ds(), f.from_ds()) {
        (false, false) => view.addr3(),
        (false, true) => view.addr2(),
        (true, false) => Some(view.addr1()),
        (true, true) => None,
    }
}

impl<N: Node> Medium<N> {
    /// Puts an ADDBA Request from `id` to `to` ahead of `id`'s head frame if that is a data
    /// frame that could be aggregated and is not being retried (the lower MAC's own frame, at
    /// the legacy rate); true if it did.
    pub(super) fn request_agreement(&mut self, id: NodeId, to: NodeId) -> bool {
        let Some(radio) = self.radios.get_mut(index(id)) else {
            return false;
        };
        if radio.attempts > 0 {
            return false;
        }
        let Some(head) = radio.queue.front() else {
            return false;
        };
        if head.internal || !aggregatable(&head.frame) {
            return false;
        }
        let Ok(view) = FrameView::new_checked(&head.frame[..]) else {
            return false;
        };
        let (ra, Some(ta)) = (view.addr1(), view.addr2()) else {
            return false;
        };
        let bssid = bssid_of(&view).unwrap_or(ra);
        let token = (radio.next_queued & 0xff) as u8;
        let req = BlockAckAction::AddbaRequest {
            dialog_token: token,
            // A-MSDUs in the A-MPDUs: the nodes' own (issue 13) and the medium's.
            params: BaParams::immediate(0, BA_WINDOW as u16).with_amsdu(),
            timeout_tu: BA_TIMEOUT_TU,
            start_seq: 0,
        };
        let qid = radio.next_queued;
        radio.next_queued += 1;
        let mut q = super::Queued::new(qid, action_frame(ra, ta, bssid, &req));
        q.internal = true;
        radio.queue.push_front(q);
        self.agreements.insert((id, to), Agreement::Requested);
        true
    }

    /// A Block Ack action frame from `sender` decoded by its addressee `owner`: an ADDBA
    /// Request of the lower MAC is answered (accepted, window 64) ahead of `owner`'s queue; a
    /// DELBA from anyone ends the agreements between the two.
    pub(super) fn on_block_ack_action(
        &mut self,
        sender: NodeId,
        owner: NodeId,
        frame: &[u8],
        internal: bool,
    ) {
        match block_ack_action(frame) {
            Some(BlockAckAction::AddbaRequest {
                dialog_token,
                params,
                timeout_tu,
                ..
            }) if internal => {
                let Ok(view) = FrameView::new_checked(frame) else {
                    return;
                };
                let (ra, Some(ta), Some(bssid)) = (view.addr1(), view.addr2(), bssid_of(&view))
                else {
                    return;
                };
                let resp = BlockAckAction::AddbaResponse {
                    dialog_token,
                    status: 0,
                    params: {
                        let window = params.buffer_size().clamp(1, BA_WINDOW as u16);
                        let accepted = BaParams::immediate(params.tid(), window);
                        // Taken if asked for: every node's receive path splits A-MSDUs.
                        match params.amsdu_supported() {
                            true => accepted.with_amsdu(),
                            false => accepted,
                        }
                    },
                    timeout_tu,
                };
                let Some(radio) = self.radios.get_mut(index(owner)) else {
                    return;
                };
                let qid = radio.next_queued;
                radio.next_queued += 1;
                let mut q = super::Queued::new(qid, action_frame(ta, ra, bssid, &resp));
                q.internal = true;
                // Behind the head, which may be on the air or counting down.
                let at = radio.queue.len().min(1);
                radio.queue.insert(at, q);
                self.dirty.insert(owner);
            }
            Some(BlockAckAction::Delba { .. }) => {
                self.agreements.remove(&(sender, owner));
                self.agreements.remove(&(owner, sender));
            }
            _ => {}
        }
    }

    /// The final status of the lower MAC's own frame from `sender`: an acknowledged ADDBA
    /// Response makes the agreement of its receiver towards `sender` active; an ADDBA Request
    /// nobody acknowledged is forgotten, to be asked again, and so is the request an ADDBA
    /// Response that never got through answered (its sender was away on another channel, a
    /// scan say: else the originator would wait for it, sending frame by frame, for good).
    pub(super) fn on_internal_status(&mut self, sender: NodeId, frame: &Bytes, status: TxStatus) {
        let Some(to) = receiver(frame).and_then(|a| self.owners.get(&a).copied()) else {
            return;
        };
        match (block_ack_action(frame), status) {
            (
                Some(BlockAckAction::AddbaResponse {
                    status: 0,
                    timeout_tu,
                    ..
                }),
                TxStatus::Acked { .. },
            ) => {
                let active = Agreement::Active {
                    timeout: tu(timeout_tu),
                    last_used: self.now,
                };
                self.agreements.insert((to, sender), active);
            }
            (Some(BlockAckAction::AddbaRequest { .. }), TxStatus::NotAcked) => {
                self.agreements.remove(&(sender, to));
            }
            (Some(BlockAckAction::AddbaResponse { .. }), TxStatus::NotAcked)
                if self.agreements.get(&(to, sender)) == Some(&Agreement::Requested) =>
            {
                self.agreements.remove(&(to, sender));
            }
            _ => {}
        }
    }
}
