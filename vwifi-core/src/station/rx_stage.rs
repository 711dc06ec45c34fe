//! The receive stage of a station's pairwise key: where the protected unicast data frames it
//! accepted are decrypted, replay-checked and split into Ethernet frames, possibly on another
//! thread than the station's. A link to an open network has a stage too, with no key: it
//! splits the unprotected unicast frames ([`RxStage::open_link`]).
//!
//! A connected station whose configuration asks for it ([`StationConfig::stage_rx`]) does
//! every check that needs no key itself (the addresses, the BSS, duplicates, the A-MSDU and
//! group rules) and hands each data frame protected with its pairwise key on, still sealed
//! ([`Sealed`], [`StationOutput::DeliverSealed`]). Whoever takes the frame for the guest
//! opens it ([`open`]): in the daemon, the guest's port thread, so that the decryption leaves
//! the driver's thread. Nothing waits for the stage; it is a pipeline stage in the guest's
//! FIFO queue, so order holds.
//!
//! The replay counters of the pairwise key live here alone, for every TID, whether the
//! station opens a frame itself (before it is connected) or the stage does: the A-MSDU-present
//! bit is not covered by the AAD (IEEE 802.11-2020 12.5.3.3.3, a non-SPP link), so counters
//! split between an A-MSDU path and a plain path would let a captured frame be replayed into
//! the other one. A frame that turns out to be EAPOL (a rekey) is not delivered: [`open`]
//! hands it back, and it goes to the station ([`Station::receive_staged_eapol`]). What the
//! stage counts reaches the station's counters through [`StageCounts`], shared by all the
//! stages of one station.
//!
//! [`StationConfig::stage_rx`]: super::StationConfig::stage_rx
//! [`StationOutput::DeliverSealed`]: super::StationOutput::DeliverSealed
//! [`Station::receive_staged_eapol`]: super::Station::receive_staged_eapol

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::crypto::ccmp::{self, ReplayCounters};
use crate::crypto::{CryptoError, TemporalKey};
use crate::proto::Counters;
use crate::wire::{amsdu, DataFrame, EtherType, EthernetFrame};

use super::softmac::RxDrop;
use super::StationStats;

/// What the stages of one station counted, shared with the station (atomics: a stage may
/// count on another thread).
#[derive(Debug, Default)]
pub struct StageCounts {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    malformed: AtomicU64,
    decrypt_failed: AtomicU64,
    replayed: AtomicU64,
    control_ethertype: AtomicU64,
    amsdu_rx: AtomicU64,
    amsdu_rx_msdus: AtomicU64,
    amsdu_refused: AtomicU64,
    opened: AtomicU64,
}

impl StageCounts {
    /// Adds what the stages counted to a station's own counters.
    pub fn add_to(&self, counters: &mut Counters, stats: &mut StationStats) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counters.rx_packets += get(&self.rx_packets);
        counters.rx_bytes += get(&self.rx_bytes);
        counters.rx_dropped += get(&self.rx_dropped);
        stats.malformed += get(&self.malformed);
        stats.decrypt_failed += get(&self.decrypt_failed);
        stats.replayed += get(&self.replayed);
        stats.control_ethertype += get(&self.control_ethertype);
        stats.amsdu_rx += get(&self.amsdu_rx);
        stats.amsdu_rx_msdus += get(&self.amsdu_rx_msdus);
        stats.amsdu_refused += get(&self.amsdu_refused);
    }

    /// How many frames the stages opened (decrypted and replay-checked).
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a dropped frame as the station would ([`RxDrop`]).
    fn count_drop(&self, drop: RxDrop) {
        let counter = match drop {
            RxDrop::DecryptFailed => &self.decrypt_failed,
            RxDrop::Replay => &self.replayed,
            RxDrop::ControlEtherType => &self.control_ethertype,
            _ => &self.malformed,
        };
        Self::add(counter, 1);
        Self::add(&self.rx_dropped, 1);
    }
}

/// The key state the stage keeps under its lock.
struct Keyed {
    tk: TemporalKey,
    rx: ReplayCounters,
    /// The frames of one [`open`] call decrypted together.
    opened: ccmp::Opened,
}

/// The receive stage of one pairwise key of one station, or of its link to an open network
/// (see the [module documentation](self)).
pub struct RxStage {
    mac: MacAddr,
    /// The key and its counters; `None` for an open link, whose frames come unprotected.
    keyed: Option<Mutex<Keyed>>,
    counts: Arc<StageCounts>,
}

impl fmt::Debug for RxStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("RxStage").field("mac", &self.mac).finish()
    }
}

impl RxStage {
    /// The stage of the pairwise key `tk` of the station `mac`: every packet number is new to
    /// it. It counts into `counts`.
    pub fn new(mac: MacAddr, tk: TemporalKey, counts: Arc<StageCounts>) -> Arc<Self> {
        Arc::new(Self {
            mac,
            keyed: Some(Mutex::new(Keyed {
                tk,
                rx: ReplayCounters::new(),
                opened: ccmp::Opened::new(),
            })),
            counts,
        })
    }

    /// The stage of the station `mac`'s link to an open network: it splits the unprotected
    /// unicast data frames the station accepted into Ethernet frames. It counts into `counts`.
    pub fn open_link(mac: MacAddr, counts: Arc<StageCounts>) -> Arc<Self> {
        Arc::new(Self {
            mac,
            keyed: None,
            counts,
        })
    }

    /// The key state, if this is a key's stage.
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Keyed>> {
        // Nothing panics under the lock; a poisoned one still holds a valid key and counters.
        let keyed = self.keyed.as_ref()?;
        Some(keyed.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Decrypts `raw` (a protected unicast frame under this key) with `opened`'s frames decrypted
    /// ahead, and records its packet number if it is fresh: the station's own path, before it is
    /// connected or without a stage. The frames the stage opens are checked against the same
    /// counters.
    pub(crate) fn decrypt(&self, opened: &mut ccmp::Opened, raw: &[u8]) -> Result<Bytes, RxDrop> {
        let mut k = self.lock().ok_or(RxDrop::NoKey)?;
        let k = &mut *k;
        let dec = opened.decrypt(&k.tk, raw).map_err(crypto_drop)?;
        // Recorded only once authentic, so forged frames cannot advance the counter.
        k.rx.accept(dec.info.tid, dec.info.pn)
            .map_err(|_| RxDrop::Replay)?;
        Ok(dec.mpdu)
    }

    /// Decrypts `frames` ahead with this key into `opened` (see [`ccmp::Opened::open`]).
    pub(crate) fn open_ahead(&self, opened: &mut ccmp::Opened, frames: &[Bytes]) {
        if let Some(k) = self.lock() {
            opened.open(&k.tk, frames);
        }
    }
}

/// A unicast data frame the station accepted and handed on unopened, with the stage it goes
/// to: protected, that of the key it came under; on an open link, unprotected, the link's.
#[derive(Clone)]
pub struct Sealed {
    frame: Bytes,
    amsdu: bool,
    stage: Arc<RxStage>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("len", &self.frame.len())
            .field("amsdu", &self.amsdu)
            .field("stage", &self.stage)
            .finish()
    }
}

impl PartialEq for Sealed {
    /// The same bytes under the same stage.
    fn eq(&self, other: &Self) -> bool {
        self.frame == other.frame
            && self.amsdu == other.amsdu
            && Arc::ptr_eq(&self.stage, &other.stage)
    }
}

impl Eq for Sealed {}

impl Sealed {
    /// `frame` (unicast to the stage's station; protected with key ID 0 for a key's stage,
    /// unprotected for an open link's), an A-MSDU if `amsdu`.
    pub(crate) fn new(frame: Bytes, amsdu: bool, stage: Arc<RxStage>) -> Self {
        Self {
            frame,
            amsdu,
            stage,
        }
    }

    /// The frame as received.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }
}

/// What [`open`] took out of sealed frames.
#[derive(Debug, Default)]
pub struct Unsealed {
    /// The Ethernet frames for the guest, in order.
    pub frames: Vec<EthernetFrame>,
    /// EAPOL frames (a rekey), in order: for the station ([`Station::receive_staged_eapol`]).
    ///
    /// [`Station::receive_staged_eapol`]: super::Station::receive_staged_eapol
    pub eapol: Vec<EthernetFrame>,
}

/// Opens `sealed` in order: each run of frames of one stage is decrypted together, replay
/// checked frame by frame, and split into the Ethernet frames it carries (appended to `out`).
/// Frames that fail are counted in their station's [`StageCounts`], never an error.
pub fn open(sealed: &[Sealed], out: &mut Unsealed) {
    let mut at = 0;
    while let Some(first) = sealed.get(at) {
        let run = sealed
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|s| Arc::ptr_eq(&s.stage, &first.stage))
            .count();
        open_run(
            &first.stage,
            sealed.get(at..at + run).unwrap_or_default(),
            out,
        );
        at += run;
    }
}

/// [`open`] for frames of one stage.
fn open_run(stage: &RxStage, run: &[Sealed], out: &mut Unsealed) {
    let counts = &stage.counts;
    let Some(mut k) = stage.lock() else {
        // An open link: nothing to decrypt or replay-check.
        for s in run {
            StageCounts::add(&counts.opened, 1);
            match DataFrame::parse_bytes(&s.frame) {
                Ok(plain) if !plain.header.flags().protected() => split(stage, s, &plain, out),
                _ => counts.count_drop(RxDrop::Malformed),
            }
        }
        return;
    };
    let k = &mut *k;
    if run.len() > 1 {
        k.opened.open(&k.tk, run.iter().map(|s| &s.frame));
    }
    for s in run {
        StageCounts::add(&counts.opened, 1);
        let plain = match k.opened.decrypt(&k.tk, &s.frame) {
            Ok(dec) => match k.rx.accept(dec.info.tid, dec.info.pn) {
                Ok(()) => DataFrame::parse_bytes(&dec.mpdu).map_err(|_| RxDrop::Malformed),
                Err(_) => Err(RxDrop::Replay),
            },
            Err(e) => Err(crypto_drop(e)),
        };
        match plain {
            Ok(plain) => split(stage, s, &plain, out),
            Err(drop) => counts.count_drop(drop),
        }
    }
    k.opened.clear();
}

/// The Ethernet frames of `s`, opened into `plain`, for the guest (EAPOL apart).
fn split(stage: &RxStage, s: &Sealed, plain: &DataFrame, out: &mut Unsealed) {
    let counts = &stage.counts;
    if s.amsdu {
        match amsdu_msdus(plain, stage.mac) {
            Ok((frames, refused)) => {
                StageCounts::add(&counts.amsdu_rx, 1);
                StageCounts::add(&counts.amsdu_rx_msdus, frames.len() as u64);
                StageCounts::add(&counts.amsdu_refused, refused as u64);
                StageCounts::add(&counts.rx_dropped, refused as u64);
                for eth in frames {
                    deliver(counts, eth, out);
                }
            }
            Err(drop) => counts.count_drop(drop),
        }
        return;
    }
    match single_msdu(plain) {
        Ok(eth) if eth.ethertype == EtherType::Eapol => out.eapol.push(eth),
        Ok(eth) => deliver(counts, eth, out),
        Err(drop) => counts.count_drop(drop),
    }
}

fn deliver(counts: &StageCounts, eth: EthernetFrame, out: &mut Unsealed) {
    StageCounts::add(&counts.rx_packets, 1);
    StageCounts::add(&counts.rx_bytes, eth.buffer_len() as u64);
    out.frames.push(eth);
}

fn crypto_drop(e: CryptoError) -> RxDrop {
    match e {
        CryptoError::CcmpDecryptFailed => RxDrop::DecryptFailed,
        _ => RxDrop::Malformed,
    }
}

/// The MSDU of a decrypted unicast data frame that is no A-MSDU: no valid LLC payload is
/// malformed; the guest-control EtherType never comes from the air.
pub(crate) fn single_msdu(plain: &DataFrame) -> Result<EthernetFrame, RxDrop> {
    let eth = EthernetFrame::from_data(plain).map_err(|_| RxDrop::Malformed)?;
    if eth.ethertype == EtherType::VwifiControl {
        return Err(RxDrop::ControlEtherType);
    }
    Ok(eth)
}

/// The MSDUs of a decrypted (or open) A-MSDU from the AP for the station `mac`, and how many
/// subframes were refused. A subframe whose DA is not the station is dropped (IEEE
/// 802.11-2020 9.3.2.2.2: from an AP the DA is the receiver; mac80211 checks the DA of a
/// station's A-MSDU subframes, the defence against A-MSDU injection), as is one that carries
/// EAPOL (the handshake never goes in an A-MSDU) or the guest-control EtherType, or is no
/// valid MSDU.
pub(crate) fn amsdu_msdus(
    plain: &DataFrame,
    mac: MacAddr,
) -> Result<(Vec<EthernetFrame>, usize), RxDrop> {
    let subframes = amsdu::ethernet_frames(&plain.payload).map_err(|_| RxDrop::Malformed)?;
    let total = subframes.len();
    let frames: Vec<EthernetFrame> = subframes
        .into_iter()
        .filter_map(Result::ok)
        .filter(|eth| {
            eth.dst == mac && !matches!(eth.ethertype, EtherType::Eapol | EtherType::VwifiControl)
        })
        .collect();
    let refused = total - frames.len();
    Ok((frames, refused))
}
