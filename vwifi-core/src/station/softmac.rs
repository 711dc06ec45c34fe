//! The soft-MAC layer of a station: the frames it sends and how it reads the data frames it
//! receives. It holds what belongs to the frame level: the sequence number, the pairwise key
//! with its transmit packet number and receive replay counters, the group keys with theirs.
//!
//! The state machine ([`Station`](super::Station)) decides *what* to send; this layer decides
//! *how* it looks on the air. A full-MAC backend (the kernel's MLME through nl80211) has no use
//! for it: there the kernel builds the frames and holds the keys (see the
//! [module documentation](super) for the boundary).

use std::sync::Arc;

use bytes::Bytes;

use crate::addr::MacAddr;
use crate::channel::Band;
use crate::crypto::bip::Igtk;
use crate::crypto::ccmp::{self, ReplayCounters};
use crate::crypto::{CryptoError, Gtk, TemporalKey};
use crate::wire::amsdu;
use crate::wire::{
    AssocRequest, Authentication, CapabilityInfo, DataFrame, Deauthentication, DsDirection,
    Element, ElementList, EtherType, EthernetFrame, FrameType, Header, MgmtBody, MgmtFrame,
    ProbeRequest, QosControl, Rate, ReasonCode, ReassocRequest, Rsne, SequenceControl, Ssid,
    StatusCode,
};

use super::rx_stage::{self, RxStage, Sealed, StageCounts};
use super::BssEntry;

/// The most rates a Supported Rates element holds; the rest go in Extended Supported Rates.
const MAX_SUPPORTED_RATES: usize = 8;

/// The SA Query action category (IEEE 802.11-2020 Table 9-51).
pub const SA_QUERY_CATEGORY: u8 = 8;
/// SA Query Request.
pub const SA_QUERY_REQUEST: u8 = 0;
/// SA Query Response.
pub const SA_QUERY_RESPONSE: u8 = 1;

/// Why a received data frame was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RxDrop {
    /// The frame (or its decrypted form) did not parse.
    Malformed,
    /// Not From DS, or unicast to another address.
    NotForUs,
    /// Not transmitted by the station's BSS.
    NotFromBss,
    /// Unprotected in a protected BSS (and not EAPOL).
    Unprotected,
    /// Protected with a key the station does not hold.
    NoKey,
    /// CCMP decryption failed (wrong key or altered frame).
    DecryptFailed,
    /// The packet number was not greater than the last one accepted (a replay).
    Replay,
    /// A group frame the station itself sent, reflected by the AP.
    OwnReflection,
    /// A frame of the guest-control EtherType 0x88B5.
    ControlEtherType,
    /// A null-data frame: nothing to deliver.
    NoPayload,
    /// A retransmission of the frame received just before (its acknowledgement was lost).
    Duplicate,
}

/// Duplicate detection of received unicast frames from one transmitter (IEEE 802.11-2020
/// 10.3.2.14): a frame with the Retry bit whose sequence control equals that of the last frame
/// of its kind (management, non-QoS data, QoS data of one TID) is a retransmission whose
/// acknowledgement was lost, and must be discarded, not processed a second time.
#[derive(Debug, Clone, Default)]
pub struct DuplicateFilter {
    /// The last sequence control per cache: TIDs 0-15, then non-QoS data, then management.
    last: [Option<SequenceControl>; 18],
}

impl DuplicateFilter {
    /// A filter that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the frame with `header` is a duplicate; records it otherwise. Control frames
    /// (no sequence control) are never duplicates.
    pub fn is_duplicate(&mut self, header: &Header) -> bool {
        let slot = match header.frame_control.frame_type {
            FrameType::Management(_) => 17,
            FrameType::Data(_) => header.qos.map_or(16, |q| usize::from(q.tid())),
            FrameType::Control(_) | FrameType::Extension(_) => return false,
        };
        let Some(last) = self.last.get_mut(slot) else {
            return false;
        };
        if header.flags().retry() && *last == Some(header.sequence) {
            return true;
        }
        *last = Some(header.sequence);
        false
    }
}

/// A data frame accepted by [`SoftMac::receive_data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxData {
    /// The Ethernet frames it carried: one, or an A-MSDU's subframes that passed the checks.
    pub frames: Vec<EthernetFrame>,
    /// Whether it was group-addressed.
    pub group: bool,
    /// Whether it was CCMP-protected.
    pub protected: bool,
    /// Whether it was an A-MSDU.
    pub amsdu: bool,
    /// An A-MSDU's subframes dropped: for another DA, EAPOL or guest control, or no valid MSDU.
    pub refused: usize,
    /// A unicast frame handed on unopened ([`SoftMac::set_staging`]): protected under the
    /// pairwise key, or on an open link unprotected; `frames` is then empty.
    pub sealed: Option<Sealed>,
}

#[derive(Debug, Clone)]
struct PairwiseKey {
    tk: TemporalKey,
    tx_pn: u64,
    /// Its receive stage: the data frames' replay counters, for every TID.
    stage: Arc<RxStage>,
    /// Receive counter of protected management frames (PMF).
    mgmt_rx: ReplayCounters,
}

#[derive(Debug, Clone)]
struct GroupKey {
    gtk: Gtk,
    rx: ReplayCounters,
}

/// The frame level of one station. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct SoftMac {
    mac: MacAddr,
    seq: u16,
    ptk: Option<PairwiseKey>,
    /// Installed group keys, at most one per key ID.
    gtks: Vec<GroupKey>,
    /// Retransmissions of unicast data frames from the AP.
    duplicates: DuplicateFilter,
    /// Management frame protection with the AP (802.11w): its IGTK and the last IPN accepted.
    pmf: Option<(Igtk, u64)>,
    /// The protected unicast data frames of a batch being received, decrypted together
    /// ([`SoftMac::open_batch`]); empty between batches.
    opened: ccmp::Opened,
    /// What the receive stages of its pairwise keys counted.
    counts: Arc<StageCounts>,
    /// Whether unicast data frames are handed on unopened: protected ones under the pairwise
    /// key, or unprotected ones on a link to an open network.
    staging: bool,
    /// The receive stage of a link to an open network.
    open_stage: Arc<RxStage>,
}

impl SoftMac {
    /// The frame level of a station with address `mac`, without keys.
    pub fn new(mac: MacAddr) -> Self {
        let counts = Arc::<StageCounts>::default();
        Self {
            open_stage: RxStage::open_link(mac, Arc::clone(&counts)),
            mac,
            seq: 0,
            ptk: None,
            gtks: Vec::new(),
            duplicates: DuplicateFilter::new(),
            pmf: None,
            opened: ccmp::Opened::new(),
            counts,
            staging: false,
        }
    }

    /// What the receive stages of this station's pairwise keys counted.
    pub fn stage_counts(&self) -> &StageCounts {
        &self.counts
    }

    /// Hands unicast data frames on unopened ([`RxData::sealed`], see [`rx_stage`]), or opens
    /// them here: protected ones under the pairwise key, and on a link to an open network the
    /// unprotected ones (call it once connected). Forgetting the keys stops it.
    pub fn set_staging(&mut self, on: bool) {
        self.staging = on;
    }

    /// Whether protected unicast data frames under the pairwise key are handed on sealed now.
    pub fn staging(&self) -> bool {
        self.staging && self.ptk.is_some()
    }

    /// The station's address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Changes the station's address (only between connections).
    pub fn set_mac(&mut self, mac: MacAddr) {
        self.mac = mac;
        self.open_stage = RxStage::open_link(mac, Arc::clone(&self.counts));
    }

    /// Installs the pairwise key: transmit PNs restart at 1, receive counters accept any PN.
    pub fn install_ptk(&mut self, tk: TemporalKey) {
        let stage = RxStage::new(self.mac, tk.clone(), Arc::clone(&self.counts));
        self.ptk = Some(PairwiseKey {
            tk,
            tx_pn: 0,
            stage,
            mgmt_rx: ReplayCounters::new(),
        });
    }

    /// Installs a group key; received group frames must have a PN greater than `rsc`.
    pub fn install_gtk(&mut self, gtk: Gtk, rsc: u64) {
        self.gtks.retain(|g| g.gtk.key_id() != gtk.key_id());
        self.gtks.push(GroupKey {
            gtk,
            rx: ReplayCounters::starting_after(rsc),
        });
    }

    /// Forgets every key (the keys zeroize on drop).
    pub fn clear_keys(&mut self) {
        self.ptk = None;
        self.gtks.clear();
        self.pmf = None;
        self.duplicates = DuplicateFilter::new();
        self.opened.clear();
        self.staging = false;
    }

    /// Decrypts ahead, together, the frames of a batch that [`SoftMac::receive_data`] would
    /// decrypt with the pairwise key (protected data From DS to this station, key ID 0); each
    /// one's result is taken at its turn, where a frame whose turn finds another key is
    /// decrypted anew. Replay checks stay per frame, in the order received. Call
    /// [`SoftMac::forget_opened`] when the batch is over.
    pub fn open_batch(&mut self, frames: &[Bytes]) {
        let Some(ptk) = &self.ptk else {
            return;
        };
        if self.staging {
            // They go sealed: the stage opens them.
            return;
        }
        let mine: Vec<Bytes> = frames
            .iter()
            .filter(|raw| {
                let (Some(&b0), Some(&b1)) = (raw.first(), raw.get(1)) else {
                    return false;
                };
                // Data (type 2), From DS only, protected.
                b0 & 0x0c == 0x08
                    && b1 & 0x43 == 0x42
                    && raw.get(4..10) == Some(&self.mac.0[..])
                    && ccmp::peek_header(raw).is_ok_and(|h| h.key_id == 0)
            })
            .cloned()
            .collect();
        if mine.len() > 1 {
            ptk.stage.open_ahead(&mut self.opened, &mine);
        }
    }

    /// Forgets what [`SoftMac::open_batch`] decrypted and was not taken.
    pub fn forget_opened(&mut self) {
        self.opened.clear();
    }

    /// How many data frames were taken decrypted from a batch ([`SoftMac::open_batch`]).
    pub fn batch_decrypted(&self) -> u64 {
        self.opened.taken()
    }

    /// Turns management frame protection on with the AP's IGTK and its last IPN (the 4-way
    /// handshake handed them over): robust management frames then go and must come protected.
    pub fn enable_pmf(&mut self, igtk: Igtk, ipn: u64) {
        self.pmf = Some((igtk, ipn));
    }

    /// Whether management frame protection is on.
    pub fn pmf(&self) -> bool {
        self.pmf.is_some()
    }

    /// Applies PMF to a management frame from `bssid` before it is parsed: a CCMP-protected
    /// unicast frame is decrypted with the pairwise key (replay-checked); a group-addressed
    /// deauthentication or disassociation must carry a valid BIP MME (IGTK, IPN); an
    /// unprotected unicast one is refused. Without PMF, frames pass unchanged.
    pub fn receive_mgmt(&mut self, raw: &Bytes) -> Result<Bytes, RxDrop> {
        let Some((igtk, last_ipn)) = &mut self.pmf else {
            return Ok(raw.clone());
        };
        let (Some(&b0), Some(&b1)) = (raw.first(), raw.get(1)) else {
            return Ok(raw.clone());
        };
        let subtype = (b0 >> 4) & 0x0f;
        // Deauthentication (12), disassociation (10) and SA Query actions (13, category 8):
        // the robust frames handled here.
        let robust = subtype == 12
            || subtype == 10
            || (subtype == 13 && raw.get(24) == Some(&SA_QUERY_CATEGORY));
        let group = raw.get(4).is_some_and(|b| b & 1 != 0);
        let protected = b1 & 0x40 != 0;
        if protected {
            let Some(ptk) = &mut self.ptk else {
                return Err(RxDrop::NoKey);
            };
            let dec = ccmp::decrypt(&ptk.tk, raw).map_err(|_| RxDrop::DecryptFailed)?;
            ptk.mgmt_rx.accept(0, dec.pn).map_err(|_| RxDrop::Replay)?;
            return Ok(Bytes::from(dec.mpdu));
        }
        match (robust, group) {
            (false, _) => Ok(raw.clone()),
            (true, false) => Err(RxDrop::Unprotected),
            (true, true) => {
                let ipn = crate::crypto::bip::bip_verify(igtk, raw, *last_ipn)
                    .map_err(|_| RxDrop::Unprotected)?;
                *last_ipn = ipn;
                // The MME is left on: parsers read it as one more element.
                Ok(raw.clone())
            }
        }
    }

    /// Whether a pairwise key is installed.
    pub fn has_ptk(&self) -> bool {
        self.ptk.is_some()
    }

    fn next_seq(&mut self) -> SequenceControl {
        let s = SequenceControl::new(self.seq);
        self.seq = (self.seq + 1) & SequenceControl::MAX_SEQUENCE;
        s
    }

    fn mgmt(&mut self, da: MacAddr, bssid: MacAddr, body: MgmtBody) -> Bytes {
        let mut frame = MgmtFrame::new(da, self.mac, bssid, body);
        frame.header.sequence = self.next_seq();
        let mut out = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut out);
        Bytes::from(out)
    }

    /// A broadcast probe request for `ssid` (empty: the wildcard SSID) with the rates of `band`.
    pub fn probe_request(&mut self, ssid: &[u8], band: Band) -> Bytes {
        let mut elements = ElementList::new();
        elements.push(Element::Ssid(Ssid::new(ssid).unwrap_or_default()));
        push_rates(&mut elements, &band_rates(band));
        self.mgmt(
            MacAddr::BROADCAST,
            MacAddr::BROADCAST,
            MgmtBody::ProbeRequest(ProbeRequest { elements }),
        )
    }

    /// An open-system authentication request (transaction 1) to `bssid`.
    pub fn auth_request(&mut self, bssid: MacAddr) -> Bytes {
        let body = Authentication::open_system(1, StatusCode::Success);
        self.mgmt(bssid, bssid, MgmtBody::Authentication(body))
    }

    /// An SAE Authentication frame (algorithm 3) to `bssid`: a commit or confirm.
    pub fn sae_auth(
        &mut self,
        bssid: MacAddr,
        transaction: u16,
        status: StatusCode,
        body: Vec<u8>,
    ) -> Bytes {
        let body = Authentication {
            algorithm: crate::wire::AuthAlgorithm::Sae,
            transaction_seq: transaction,
            status,
            body,
        };
        self.mgmt(bssid, bssid, MgmtBody::Authentication(body))
    }

    /// An association request to `bss`: its SSID, its rates echoed, and `rsne` (the
    /// station's choice of ciphers and AKM) for a protected network.
    pub fn assoc_request(
        &mut self,
        bss: &BssEntry,
        listen_interval: u16,
        rsne: Option<&Rsne>,
    ) -> Bytes {
        self.assoc_request_with_rsnxe(bss, listen_interval, rsne, None)
    }

    /// [`SoftMac::assoc_request`] with an RSN Extension element after the RSNE (WPA3: the
    /// station supports SAE hash-to-element).
    pub fn assoc_request_with_rsnxe(
        &mut self,
        bss: &BssEntry,
        listen_interval: u16,
        rsne: Option<&Rsne>,
        rsnxe: Option<&Element>,
    ) -> Bytes {
        self.join_request(bss, listen_interval, rsne, rsnxe, None)
    }

    /// A Reassociation Request to `bss` naming `current_ap`, the AP the station is leaving
    /// (roaming), with the same elements as [`SoftMac::assoc_request_with_rsnxe`].
    pub fn reassoc_request(
        &mut self,
        bss: &BssEntry,
        listen_interval: u16,
        rsne: Option<&Rsne>,
        rsnxe: Option<&Element>,
        current_ap: MacAddr,
    ) -> Bytes {
        self.join_request(bss, listen_interval, rsne, rsnxe, Some(current_ap))
    }

    fn join_request(
        &mut self,
        bss: &BssEntry,
        listen_interval: u16,
        rsne: Option<&Rsne>,
        rsnxe: Option<&Element>,
        current_ap: Option<MacAddr>,
    ) -> Bytes {
        let mut capability = CapabilityInfo::ESS;
        if rsne.is_some() {
            capability |= CapabilityInfo::PRIVACY;
        }
        if bss.channel.band() == Band::Ghz2_4 {
            capability |= CapabilityInfo::SHORT_SLOT_TIME;
        }
        let mut elements = ElementList::new();
        elements.push(Element::Ssid(
            Ssid::new(bss.ssid.as_bytes()).unwrap_or_default(),
        ));
        let rates: Vec<Rate> = bss
            .rates
            .iter()
            .copied()
            .filter(|r| !r.is_membership_selector())
            .collect();
        match rates.is_empty() {
            true => push_rates(&mut elements, &band_rates(bss.channel.band())),
            false => push_rates(&mut elements, &rates),
        }
        if let Some(rsne) = rsne {
            elements.push(Element::Rsn(rsne.clone()));
        }
        // HT/VHT/HE capabilities: what the station and the BSS have in common.
        let phy = crate::phy::PhyCaps::STATION_DEFAULT.common(&bss.phy, bss.channel);
        for e in crate::phy::elements::capability_elements(&phy, bss.channel.band()) {
            elements.push(e);
        }
        if let Some(rsnxe) = rsnxe {
            elements.push(rsnxe.clone());
        }
        let capability = CapabilityInfo(capability);
        let body = match current_ap {
            None => MgmtBody::AssocRequest(AssocRequest {
                capability,
                listen_interval,
                elements,
            }),
            Some(current_ap) => MgmtBody::ReassocRequest(ReassocRequest {
                capability,
                listen_interval,
                current_ap,
                elements,
            }),
        };
        self.mgmt(bss.bssid, bss.bssid, body)
    }

    /// A deauthentication to `bssid` with `reason`; CCMP-protected with the pairwise key
    /// when management frame protection is on.
    pub fn deauth(&mut self, bssid: MacAddr, reason: ReasonCode) -> Bytes {
        let body = Deauthentication::new(reason);
        let frame = self.mgmt(bssid, bssid, MgmtBody::Deauthentication(body));
        self.protect_mgmt(frame)
    }

    /// The SA Query Response (IEEE 802.11-2020 9.6.9.3) to an SA Query Request from `bssid`
    /// with `transaction`: an Action frame, category 8, action 1, CCMP-protected (PMF).
    pub fn sa_query_response(&mut self, bssid: MacAddr, transaction: [u8; 2]) -> Bytes {
        let body = MgmtBody::Other {
            subtype: crate::wire::MgmtSubtype::Action,
            body: vec![
                SA_QUERY_CATEGORY,
                SA_QUERY_RESPONSE,
                transaction[0],
                transaction[1],
            ],
        };
        let frame = self.mgmt(bssid, bssid, body);
        self.protect_mgmt(frame)
    }

    /// CCMP-protects a robust management frame with the pairwise key when PMF is on.
    fn protect_mgmt(&mut self, frame: Bytes) -> Bytes {
        match (&self.pmf, &mut self.ptk) {
            (Some(_), Some(ptk)) => {
                let pn = ptk.tx_pn + 1;
                match ccmp::encrypt(&ptk.tk, 0, pn, &frame) {
                    Ok(sealed) => {
                        ptk.tx_pn = pn;
                        Bytes::from(sealed)
                    }
                    Err(_) => frame,
                }
            }
            _ => frame,
        }
    }

    /// A null-data frame to `bssid` with the power-management bit set (`power_save`: the AP
    /// buffers for the station) or clear (the AP delivers what it buffered).
    pub fn null(&mut self, bssid: MacAddr, power_save: bool) -> Bytes {
        let mut frame = DataFrame::null(self.mac, bssid, power_save, None);
        frame.header.sequence = self.next_seq();
        let mut out = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut out);
        Bytes::from(out)
    }

    /// The data frame (To DS) that carries `eth` to `bssid`, CCMP-protected once a pairwise key
    /// is installed. EAPOL uses this too: unprotected before the keys, protected after (rekeys).
    /// The caller checks the source address.
    pub fn data(&mut self, bssid: MacAddr, eth: &EthernetFrame) -> Result<Bytes, CryptoError> {
        let mut header = eth.data_header(DsDirection::ToAp { bssid }, None);
        header.sequence = self.next_seq();
        let len = header.buffer_len() + eth.data_body_len();
        self.seal(len, |buf| eth.emit_data(&header, buf))
    }

    /// The A-MSDU (To DS, TID 0) that carries `frames` to `bssid` in one MPDU, CCMP-protected
    /// once (one packet number) once a pairwise key is installed. The caller checks the
    /// frames' sources, that they are unicast, and that the A-MSDU fits what the AP takes.
    pub fn data_amsdu(
        &mut self,
        bssid: MacAddr,
        frames: &[EthernetFrame],
    ) -> Result<Bytes, CryptoError> {
        let mut one = self.data_amsdus(bssid, &[frames])?;
        one.pop()
            .ok_or(CryptoError::MpduTooShort { need: 1, have: 0 })
    }

    /// [`SoftMac::data_amsdu`] for several A-MSDUs at once, in order: with a pairwise key they
    /// are sealed together ([`ccmp::encrypt_batch`]: their CBC-MAC chains interleaved, about
    /// the time of one), each with the next packet number.
    pub fn data_amsdus(
        &mut self,
        bssid: MacAddr,
        groups: &[&[EthernetFrame]],
    ) -> Result<Vec<Bytes>, CryptoError> {
        let room = if self.ptk.is_some() {
            (ccmp::CCMP_HEADER_LEN, ccmp::CCMP_MIC_LEN)
        } else {
            (0, 0)
        };
        let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(groups.len());
        for frames in groups {
            let mut header = amsdu::data_header(DsDirection::ToAp { bssid }, self.mac, 0);
            header.sequence = self.next_seq();
            let len = amsdu::ethernet_mpdu_len(&header, frames);
            let mut buf = Vec::with_capacity(room.0 + len + room.1);
            buf.resize(room.0, 0);
            amsdu::emit_ethernet(&header, frames, &mut buf);
            buf.resize(buf.len() + room.1, 0);
            bufs.push(buf);
        }
        if let Some(ptk) = &mut self.ptk {
            let first = ptk.tx_pn + 1;
            ccmp::encrypt_batch(&ptk.tk, 0, first, &mut bufs)?;
            ptk.tx_pn += bufs.len() as u64;
        }
        Ok(bufs.into_iter().map(Bytes::from).collect())
    }

    /// Builds an MPDU of about `len` octets with `emit` and protects it with the pairwise key
    /// if there is one, in the same buffer: the payload is copied once.
    fn seal(&mut self, len: usize, emit: impl FnOnce(&mut Vec<u8>)) -> Result<Bytes, CryptoError> {
        let out = match &mut self.ptk {
            Some(ptk) => {
                let pn = ptk.tx_pn + 1;
                let out = ccmp::encrypt_emitted(&ptk.tk, 0, pn, len, emit)?;
                ptk.tx_pn = pn;
                out
            }
            None => {
                let mut out = Vec::with_capacity(len);
                emit(&mut out);
                out
            }
        };
        Ok(Bytes::from(out))
    }

    /// Reads a data frame heard from the air: it must come From DS from `bssid`, be addressed to
    /// the station or a group; a protected frame must decrypt with the matching key and carry a
    /// fresh packet number; an unprotected one is accepted in a `protected_bss` only if it is
    /// EAPOL. `raw` is the frame's bytes, `frame` its parsed form.
    pub fn receive_data(
        &mut self,
        raw: &Bytes,
        frame: &DataFrame,
        bssid: MacAddr,
        protected_bss: bool,
    ) -> Result<RxData, RxDrop> {
        let header = &frame.header;
        let flags = header.flags();
        if !flags.from_ds() || flags.to_ds() {
            return Err(RxDrop::NotForUs);
        }
        if header.addr2 != bssid {
            return Err(RxDrop::NotFromBss);
        }
        let group = header.addr1.is_group();
        if !group && header.addr1 != self.mac {
            return Err(RxDrop::NotForUs);
        }
        if !group && self.duplicates.is_duplicate(header) {
            return Err(RxDrop::Duplicate);
        }
        if frame.is_null() {
            return Err(RxDrop::NoPayload);
        }
        let protected = flags.protected();
        let is_amsdu = header.qos.is_some_and(QosControl::amsdu_present);
        if is_amsdu && (group || (!protected && protected_bss)) {
            // A group-addressed A-MSDU is refused as mac80211 does; an unprotected one in a
            // protected BSS is not EAPOL before the keys.
            return Err(match group {
                true => RxDrop::Malformed,
                false => RxDrop::Unprotected,
            });
        }
        // A staging station hands its unicast data on unopened: protected under the pairwise
        // key to that key's stage, or on an open link, unprotected, to the link's.
        let stage = match (protected, &self.ptk) {
            _ if group || !self.staging => None,
            (true, Some(ptk)) => {
                let hdr = ccmp::peek_header(raw).map_err(|_| RxDrop::Malformed)?;
                if hdr.key_id != 0 {
                    return Err(RxDrop::NoKey);
                }
                Some(&ptk.stage)
            }
            (false, _) if !protected_bss => Some(&self.open_stage),
            _ => None,
        };
        if let Some(stage) = stage {
            return Ok(RxData {
                frames: Vec::new(),
                group,
                protected,
                amsdu: is_amsdu,
                refused: 0,
                sealed: Some(Sealed::new(raw.clone(), is_amsdu, Arc::clone(stage))),
            });
        }
        let plain = match protected {
            true => self.decrypt(raw, group)?,
            false => frame.clone(),
        };
        if is_amsdu {
            return self.receive_amsdu(&plain, protected);
        }
        let eth = EthernetFrame::from_data(&plain).map_err(|_| RxDrop::Malformed)?;
        if !protected && protected_bss && eth.ethertype != EtherType::Eapol {
            return Err(RxDrop::Unprotected);
        }
        if group && eth.src == self.mac {
            return Err(RxDrop::OwnReflection);
        }
        if eth.ethertype == EtherType::VwifiControl {
            return Err(RxDrop::ControlEtherType);
        }
        Ok(RxData {
            frames: vec![eth],
            group,
            protected,
            amsdu: false,
            refused: 0,
            sealed: None,
        })
    }

    /// The MSDUs of an A-MSDU from the AP, decrypted and replay-checked once as one MPDU
    /// ([`rx_stage::amsdu_msdus`] says which are refused).
    fn receive_amsdu(&self, plain: &DataFrame, protected: bool) -> Result<RxData, RxDrop> {
        let (frames, refused) = rx_stage::amsdu_msdus(plain, self.mac)?;
        Ok(RxData {
            refused,
            frames,
            group: false,
            protected,
            amsdu: true,
            sealed: None,
        })
    }

    fn decrypt(&mut self, raw: &[u8], group: bool) -> Result<DataFrame, RxDrop> {
        let hdr = ccmp::peek_header(raw).map_err(|_| RxDrop::Malformed)?;
        let (tk, counters) = match group {
            false => match &self.ptk {
                Some(k) if hdr.key_id == 0 => {
                    let mpdu = k.stage.decrypt(&mut self.opened, raw)?;
                    return DataFrame::parse_bytes(&mpdu).map_err(|_| RxDrop::Malformed);
                }
                _ => return Err(RxDrop::NoKey),
            },
            true => match self.gtks.iter_mut().find(|g| g.gtk.key_id() == hdr.key_id) {
                Some(g) => (g.gtk.key(), &mut g.rx),
                None => return Err(RxDrop::NoKey),
            },
        };
        let dec = self.opened.decrypt(tk, raw).map_err(|e| match e {
            CryptoError::CcmpDecryptFailed => RxDrop::DecryptFailed,
            _ => RxDrop::Malformed,
        })?;
        // Recorded only once authentic, so forged frames cannot advance the counter.
        counters
            .accept(dec.info.tid, dec.info.pn)
            .map_err(|_| RxDrop::Replay)?;
        DataFrame::parse_bytes(&dec.mpdu).map_err(|_| RxDrop::Malformed)
    }
}

/// Appends Supported Rates (the first eight) and, if more, Extended Supported Rates.
fn push_rates(elements: &mut ElementList, rates: &[Rate]) {
    let (first, rest) = rates.split_at(rates.len().min(MAX_SUPPORTED_RATES));
    elements.push(Element::SupportedRates(first.to_vec()));
    if !rest.is_empty() {
        elements.push(Element::ExtendedSupportedRates(rest.to_vec()));
    }
}

/// The rates a station offers on a band, basic rates marked (units of 500 kb/s): 2.4 GHz
/// 1, 2, 5.5, 11 (basic), 6 to 54 Mb/s; 5 and 6 GHz 6, 12, 24 (basic) and the other OFDM rates.
fn band_rates(band: Band) -> Vec<Rate> {
    match band {
        Band::Ghz2_4 => [(2, true), (4, true), (11, true), (22, true)]
            .into_iter()
            .chain([12, 18, 24, 36, 48, 72, 96, 108].map(|u| (u, false)))
            .map(|(u, b)| Rate::new(u, b))
            .collect(),
        Band::Ghz5 | Band::Ghz6 => [12, 18, 24, 36, 48, 72, 96, 108]
            .into_iter()
            .map(|u| Rate::new(u, matches!(u, 12 | 24 | 48)))
            .collect(),
    }
}

#[cfg(test)]
mod amsdu_tests;
#[cfg(test)]
mod stage_tests;
