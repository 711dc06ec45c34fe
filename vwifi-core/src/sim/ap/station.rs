//! What the AP keeps per station: association, keys, handshake, power-save buffer, counters.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::crypto::ccmp::ReplayCounters;
use crate::crypto::{Pmk, TemporalKey};
use crate::handshake::sae::Sae;
use crate::handshake::Authenticator;
use crate::station::softmac::DuplicateFilter;
use crate::time::Instant;
use crate::wire::EthernetFrame;

use super::{StationCounters, StationInfo, StationState};

/// A station the AP knows: authenticated, perhaps associated, perhaps authorized.
#[derive(Debug)]
pub(super) struct Station {
    pub(super) addr: MacAddr,
    /// The association ID, once associated.
    pub(super) aid: Option<u16>,
    /// The listen interval of the association request, in beacon intervals.
    pub(super) listen_interval: u16,
    /// The authenticator of this station's 4-way and group key handshakes (WPA2).
    pub(super) authenticator: Option<Authenticator>,
    /// The SAE exchange with this station (WPA3), while it runs and after it completed.
    pub(super) sae: Option<Box<Sae>>,
    /// The PMK of the completed SAE exchange (or of the PMKSA the station resumed).
    pub(super) sae_pmk: Option<Pmk>,
    /// Management frame protection was negotiated (both RSNEs MFPC, WPA3).
    pub(super) mfp: bool,
    /// The SA Query the AP runs with it (PMF; see `pmf.rs`).
    pub(super) sa_query: Option<super::pmf::SaQuery>,
    /// Receive replay counter of protected management frames.
    pub(super) mgmt_replay: ReplayCounters,
    /// The pairwise temporal key, once the 4-way handshake installed it.
    pub(super) tk: Option<TemporalKey>,
    /// The last PN sent with `tk`.
    pub(super) tx_pn: u64,
    /// Receive replay counters of `tk`.
    pub(super) rx_replay: ReplayCounters,
    /// The 802.1X port is open: data other than EAPOL passes.
    pub(super) authorized: bool,
    /// The station's power-management bit: it dozes and its frames are buffered.
    pub(super) dozing: bool,
    /// Unicast frames buffered while the station dozes: plaintext From-DS frames, after
    /// frames that were already sent (sealed) but not acknowledged because the station dozed.
    pub(super) ps_queue: VecDeque<Buffered>,
    /// The generation of the GTK the station holds (see `SoftAp`'s group key).
    pub(super) gtk_generation: u64,
    /// The generation of the GTK a group key handshake is handing over, if one runs.
    pub(super) rekey_in_flight: Option<u64>,
    /// When the station was last heard.
    pub(super) last_seen: Instant,
    /// The signal of its last frame.
    pub(super) signal_dbm: Option<i8>,
    /// Retransmissions of frames already received from it.
    pub(super) duplicates: DuplicateFilter,
    pub(super) counters: StationCounters,
    /// The longest A-MSDU the AP sends it, octets (0: none), from its association request.
    pub(super) max_amsdu: usize,
}

/// A unicast frame held for a dozing station.
#[derive(Debug, Clone)]
pub(super) enum Buffered {
    /// Not sent yet: framed and encrypted (with the next PN) when it goes out.
    Plain(EthernetFrame),
    /// Sent before the station dozed and not acknowledged: the frame as it was on the air
    /// (already encrypted), sent again as a retransmission.
    Sealed(Bytes),
}

impl Station {
    /// A station that has just authenticated (open system).
    pub(super) fn new(addr: MacAddr, now: Instant) -> Self {
        Self {
            addr,
            aid: None,
            listen_interval: 0,
            authenticator: None,
            sae: None,
            sae_pmk: None,
            mfp: false,
            sa_query: None,
            mgmt_replay: ReplayCounters::new(),
            tk: None,
            tx_pn: 0,
            rx_replay: ReplayCounters::new(),
            authorized: false,
            dozing: false,
            ps_queue: VecDeque::new(),
            gtk_generation: 0,
            rekey_in_flight: None,
            last_seen: now,
            signal_dbm: None,
            duplicates: DuplicateFilter::new(),
            counters: StationCounters::default(),
            max_amsdu: 0,
        }
    }

    /// Forgets the association and its keys (disassociation, reassociation): the station is
    /// authenticated only.
    pub(super) fn clear_association(&mut self) {
        self.aid = None;
        self.authenticator = None;
        self.tk = None;
        self.tx_pn = 0;
        self.rx_replay = ReplayCounters::new();
        self.authorized = false;
        self.dozing = false;
        self.ps_queue.clear();
        self.rekey_in_flight = None;
        self.sa_query = None;
        self.max_amsdu = 0;
    }

    /// Whether the station is associated.
    pub(super) fn is_associated(&self) -> bool {
        self.aid.is_some()
    }

    /// The public view.
    pub(super) fn info(&self) -> StationInfo {
        StationInfo {
            addr: self.addr,
            aid: self.aid,
            state: match (self.aid, self.authorized) {
                (None, _) => StationState::Authenticated,
                (Some(_), false) => StationState::Associated,
                (Some(_), true) => StationState::Authorized,
            },
            power_save: self.dozing,
            buffered: self.ps_queue.len(),
            listen_interval: self.listen_interval,
            signal_dbm: self.signal_dbm,
            last_seen: self.last_seen,
            counters: self.counters.clone(),
        }
    }
}
