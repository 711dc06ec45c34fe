//! A scripted station for tests of the simulated air, built from the wire, crypto and handshake
//! modules alone (not the real `station` state machine, which it can be checked against).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use core::time::Duration;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::addr::MacAddr;
use crate::channel::{Band, Channel};
use crate::crypto::ccmp::{self, ReplayCounters};
use crate::crypto::{Gtk, Psk, TemporalKey};
use crate::handshake::{HandshakeError, Output, Supplicant, SupplicantConfig};
use crate::radio::{Node, NodeId, RxMeta, TxStatus};
use crate::sim::medium::{Medium, MediumError, Placement};
use crate::time::Instant;
use crate::wire::{
    AssocRequest, Authentication, Beacon, CapabilityInfo, ControlFrame, DataFrame,
    Deauthentication, DsDirection, Element, ElementList, EtherType, EthernetFrame, FcFlags, Frame,
    MgmtBody, MgmtFrame, ProbeRequest, PsPoll, Rate, ReasonCode, Rsne, SequenceControl, Ssid,
    StatusCode, Tim,
};

/// How long the station waits for an authentication or association response.
const STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the 4-way handshake may take, from the association to message 3.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most overheard frames kept.
const OVERHEARD_LIMIT: usize = 1024;

/// A BSS the station heard a beacon or probe response from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedBss {
    /// The BSSID.
    pub bssid: MacAddr,
    /// The SSID (empty for a hidden network's beacons).
    pub ssid: Ssid,
    /// The channel: from the DS Parameter Set, or the one it was heard on.
    pub channel: Channel,
    /// The signal of the latest frame heard, in dBm.
    pub signal_dbm: i8,
    /// The RSN element, whole (ID and length included), if the BSS is WPA2.
    pub rsne: Option<Vec<u8>>,
    /// Beacons heard.
    pub beacons: u32,
    /// Probe responses heard.
    pub probe_responses: u32,
    /// The TIM of the latest beacon.
    pub tim: Option<Tim>,
}

/// A step of joining a BSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStage {
    /// Open-system authentication.
    Authentication,
    /// Association.
    Association,
    /// The WPA2 4-way handshake.
    Handshake,
}

/// What became of a join or an association: the station records one per event, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Associated (and, on a WPA2 BSS, the 4-way handshake completed: keys installed).
    Joined {
        /// The BSS.
        bssid: MacAddr,
        /// The association ID.
        aid: u16,
    },
    /// The AP refused the authentication or association with this status.
    Refused {
        /// The BSS.
        bssid: MacAddr,
        /// Which step.
        stage: JoinStage,
        /// The status code.
        status: StatusCode,
    },
    /// The station's supplicant failed (it deauthenticated with the error's reason code).
    HandshakeFailed {
        /// The BSS.
        bssid: MacAddr,
        /// What went wrong.
        error: HandshakeError,
    },
    /// The AP deauthenticated the station.
    Deauthenticated {
        /// The BSS.
        bssid: MacAddr,
        /// Why.
        reason: ReasonCode,
        /// How far the join had got.
        stage: Option<JoinStage>,
    },
    /// The AP disassociated the station.
    Disassociated {
        /// The BSS.
        bssid: MacAddr,
        /// Why.
        reason: ReasonCode,
    },
    /// No answer to the authentication or association request in time.
    TimedOut {
        /// The BSS.
        bssid: MacAddr,
        /// Which step.
        stage: JoinStage,
    },
}

/// An 802.3 frame delivered to the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// When it arrived.
    pub at: Instant,
    /// The frame.
    pub frame: EthernetFrame,
    /// Whether it came encrypted (CCMP).
    pub protected: bool,
    /// Whether it was group-addressed.
    pub group: bool,
    /// The More Data bit (more frames buffered at the AP).
    pub more_data: bool,
}

/// The station's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptedCounters {
    /// Unicast frames acknowledged.
    pub tx_acked: u64,
    /// Unicast frames given up by the medium after its retry limit.
    pub tx_not_acked: u64,
    /// Retransmissions before the acknowledgements.
    pub tx_retries: u64,
    /// Received retransmissions of a frame already received (dropped).
    pub rx_duplicates: u64,
    /// Protected frames for the station it could not decrypt or that were replays.
    pub undecryptable: u64,
    /// Null frames from the AP (the answer to a PS-Poll with nothing buffered).
    pub nulls: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Authenticating,
    Associating,
    Handshaking,
    Connected,
}

/// The association in progress or established.
#[derive(Debug)]
struct Link {
    bss: ScannedBss,
    psk: Option<Psk>,
    state: LinkState,
    /// Until when an authentication or association response is awaited.
    deadline: Option<Instant>,
    aid: Option<u16>,
    supplicant: Option<Supplicant>,
    tk: Option<TemporalKey>,
    tx_pn: u64,
    rx_replay: ReplayCounters,
    gtks: BTreeMap<u8, (Gtk, ReplayCounters)>,
}

impl Link {
    fn stage(&self) -> JoinStage {
        match self.state {
            LinkState::Authenticating => JoinStage::Authentication,
            LinkState::Associating => JoinStage::Association,
            LinkState::Handshaking | LinkState::Connected => JoinStage::Handshake,
        }
    }
}

/// A scan in progress.
#[derive(Debug)]
struct Scan {
    /// Channels still to visit after the current one.
    channels: VecDeque<Channel>,
    dwell: Duration,
    active: bool,
    /// When the second probe request of an active scan goes out on the current channel.
    reprobe: Option<Instant>,
    /// When the current channel's dwell ends.
    until: Instant,
}

/// A station [`Node`] driven by a test: it scans (probing or listening), joins an open or WPA2
/// BSS (open-system authentication, association, the 4-way handshake through
/// [`Supplicant`]), sends and receives 802.3 frames (CCMP once keyed), dozes and wakes (Null
/// frames with the Power Management bit), sends PS-Polls, and records everything: the BSSs it
/// heard (every beacon and probe response, scanning or not), each [`Outcome`], the frames
/// delivered to it, and the protected frames it overheard for others.
///
/// Commands that start something take the current time (`world.now()`); the medium services
/// the station at that time when it is reached through `World::node_mut` or
/// `Medium::node_as_mut`. Put it on the air with [`ScriptedStation::add_to`], which also
/// registers its MAC so the medium acknowledges its frames.
#[derive(Debug)]
pub struct ScriptedStation {
    addr: MacAddr,
    channel: Channel,
    rng: ChaCha20Rng,
    seq: u16,
    pm: bool,
    tx: VecDeque<Bytes>,
    scan: Option<Scan>,
    scans_done: u32,
    bss: BTreeMap<MacAddr, ScannedBss>,
    link: Option<Link>,
    outcomes: Vec<Outcome>,
    received: Vec<Delivered>,
    overheard: Vec<Bytes>,
    /// The sequence number of the last unicast frame from each transmitter.
    last_seq: BTreeMap<MacAddr, u16>,
    tim_announcements: u32,
    counters: ScriptedCounters,
}

impl ScriptedStation {
    /// A station with address `addr`, tuned to `channel`, its nonces drawn from a generator
    /// seeded with `seed`.
    pub fn new(addr: MacAddr, channel: Channel, seed: u64) -> Self {
        Self {
            addr,
            channel,
            rng: ChaCha20Rng::seed_from_u64(seed),
            seq: 0,
            pm: false,
            tx: VecDeque::new(),
            scan: None,
            scans_done: 0,
            bss: BTreeMap::new(),
            link: None,
            outcomes: Vec::new(),
            received: Vec::new(),
            overheard: Vec::new(),
            last_seq: BTreeMap::new(),
            tim_announcements: 0,
            counters: ScriptedCounters::default(),
        }
    }

    /// Puts the station on `medium` at `placement` and registers its address.
    pub fn add_to(self, medium: &mut Medium, placement: Placement) -> Result<NodeId, MediumError> {
        let addr = self.addr;
        let id = medium.add_node(self, placement);
        medium.set_addresses(id, vec![addr])?;
        Ok(id)
    }

    // ---- commands ----

    /// Scans `channels` in order, `dwell` on each, sending a wildcard probe request on
    /// arrival and another halfway through if `active` (a probe request is broadcast: sent
    /// once, it may be lost to a collision), else only listening for beacons. Stops any scan in progress.
    /// [`ScriptedStation::scans_done`] counts finished scans. Ignored while joined or joining.
    pub fn scan(&mut self, now: Instant, channels: &[Channel], dwell: Duration, active: bool) {
        if self.link.is_some() {
            return;
        }
        let mut channels: VecDeque<Channel> = channels.iter().copied().collect();
        let Some(first) = channels.pop_front() else {
            self.scans_done += 1;
            return;
        };
        self.scan = Some(Scan {
            channels,
            dwell,
            active,
            reprobe: None,
            until: now,
        });
        self.visit(now, first);
    }

    /// Joins `bss` (from [`ScriptedStation::bss`]): open system if `psk` is `None`, WPA2-PSK
    /// with it otherwise. Stops a scan; leaves any earlier BSS without a word.
    pub fn join(&mut self, now: Instant, bss: &ScannedBss, psk: Option<Psk>) {
        self.scan = None;
        self.channel = bss.channel;
        self.link = Some(Link {
            bss: bss.clone(),
            psk,
            state: LinkState::Authenticating,
            deadline: Some(now + STEP_TIMEOUT),
            aid: None,
            supplicant: None,
            tk: None,
            tx_pn: 0,
            rx_replay: ReplayCounters::new(),
            gtks: BTreeMap::new(),
        });
        let auth = Authentication::open_system(1, StatusCode::Success);
        self.send_mgmt(bss.bssid, bss.bssid, MgmtBody::Authentication(auth));
    }

    /// Deauthenticates from the BSS with `reason` (nothing if not joined).
    pub fn leave(&mut self, reason: ReasonCode) {
        if let Some(link) = self.link.take() {
            let bssid = link.bss.bssid;
            self.send_mgmt(
                bssid,
                bssid,
                MgmtBody::Deauthentication(Deauthentication::new(reason)),
            );
        }
    }

    /// Sends `frame` to the BSS (encrypted once the pairwise key is installed). `false` if
    /// the station has not got as far as associating.
    pub fn send(&mut self, frame: &EthernetFrame) -> bool {
        let Some(bssid) = self
            .link
            .as_ref()
            .filter(|l| matches!(l.state, LinkState::Handshaking | LinkState::Connected))
            .map(|l| l.bss.bssid)
        else {
            return false;
        };
        let mut data = frame.to_data(DsDirection::ToAp { bssid }, None);
        data.header.frame_control.flags =
            data.header.flags().with(FcFlags::POWER_MANAGEMENT, self.pm);
        data.header.sequence = self.next_seq();
        let plain = Frame::Data(data).to_vec();
        let out = match self.link.as_mut().and_then(|l| {
            let tk = l.tk.as_ref()?;
            l.tx_pn += 1;
            Some(ccmp::encrypt(tk, 0, l.tx_pn, &plain))
        }) {
            Some(Ok(cipher)) => cipher,
            Some(Err(_)) => return false,
            None => plain,
        };
        self.tx.push_back(Bytes::from(out));
        true
    }

    /// Sends `payload` to `dst` as an IPv4-typed frame from the station's address.
    pub fn send_to(&mut self, dst: MacAddr, payload: &[u8]) -> bool {
        self.send(&EthernetFrame {
            dst,
            src: self.addr,
            ethertype: EtherType::Ipv4,
            payload: Bytes::copy_from_slice(payload),
        })
    }

    /// Enters power save: a Null frame with the Power Management bit set; every later frame
    /// carries it too.
    pub fn doze(&mut self) {
        self.set_power_save(true);
    }

    /// Leaves power save: a Null frame with the Power Management bit clear (the AP then
    /// delivers what it buffered).
    pub fn wake(&mut self) {
        self.set_power_save(false);
    }

    /// Asks the AP for one buffered frame (PS-Poll). `false` without an association ID.
    pub fn ps_poll(&mut self) -> bool {
        let Some((bssid, aid)) = self.link.as_ref().and_then(|l| Some((l.bss.bssid, l.aid?)))
        else {
            return false;
        };
        let poll = PsPoll::new(aid, bssid, self.addr);
        self.tx.push_back(Bytes::from(
            Frame::Control(ControlFrame::PsPoll(poll)).to_vec(),
        ));
        true
    }

    // ---- observations ----

    /// The station's address.
    pub fn addr(&self) -> MacAddr {
        self.addr
    }

    /// Scans finished so far.
    pub fn scans_done(&self) -> u32 {
        self.scans_done
    }

    /// Whether a scan is in progress.
    pub fn is_scanning(&self) -> bool {
        self.scan.is_some()
    }

    /// Every BSS heard, by BSSID.
    pub fn bss_list(&self) -> impl Iterator<Item = &ScannedBss> + '_ {
        self.bss.values()
    }

    /// The BSS `bssid`, if heard.
    pub fn bss(&self, bssid: MacAddr) -> Option<&ScannedBss> {
        self.bss.get(&bssid)
    }

    /// The first BSS heard named `ssid`.
    pub fn bss_named(&self, ssid: &str) -> Option<&ScannedBss> {
        self.bss
            .values()
            .find(|b| b.ssid.as_bytes() == ssid.as_bytes())
    }

    /// Forgets every BSS heard.
    pub fn clear_bss(&mut self) {
        self.bss.clear();
    }

    /// Every outcome, oldest first.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The latest outcome.
    pub fn last_outcome(&self) -> Option<&Outcome> {
        self.outcomes.last()
    }

    /// Whether the station is joined (associated and, on WPA2, keyed).
    pub fn is_connected(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|l| l.state == LinkState::Connected)
    }

    /// The BSSID of the BSS joined or being joined.
    pub fn bssid(&self) -> Option<MacAddr> {
        self.link.as_ref().map(|l| l.bss.bssid)
    }

    /// The association ID, once associated.
    pub fn aid(&self) -> Option<u16> {
        self.link.as_ref().and_then(|l| l.aid)
    }

    /// Whether the pairwise key is installed.
    pub fn has_pairwise_key(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.tk.is_some())
    }

    /// The key IDs of the group keys installed.
    pub fn group_key_ids(&self) -> Vec<u8> {
        self.link
            .as_ref()
            .map(|l| l.gtks.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Whether the station is in power save.
    pub fn is_dozing(&self) -> bool {
        self.pm
    }

    /// Frames delivered to the station (EAPOL excluded), oldest first.
    pub fn received(&self) -> &[Delivered] {
        &self.received
    }

    /// Takes the frames delivered so far.
    pub fn take_received(&mut self) -> Vec<Delivered> {
        core::mem::take(&mut self.received)
    }

    /// Protected data frames of its BSS addressed to other stations, as heard on the air (at
    /// most 1024).
    pub fn overheard(&self) -> &[Bytes] {
        &self.overheard
    }

    /// Whether the station's keys decrypt the protected frame `raw` (its pairwise key for key
    /// ID 0, its group keys otherwise); no replay check.
    pub fn can_decrypt(&self, raw: &[u8]) -> bool {
        let Some(link) = &self.link else { return false };
        let Ok(header) = ccmp::peek_header(raw) else {
            return false;
        };
        let tk = if header.key_id == 0 {
            link.tk.as_ref()
        } else {
            link.gtks.get(&header.key_id).map(|(g, _)| g.key())
        };
        tk.is_some_and(|tk| ccmp::decrypt(tk, raw).is_ok())
    }

    /// Beacons of its BSS whose TIM announced frames buffered for its AID.
    pub fn tim_announcements(&self) -> u32 {
        self.tim_announcements
    }

    /// The counters.
    pub fn counters(&self) -> &ScriptedCounters {
        &self.counters
    }

    // ---- internals ----

    fn next_seq(&mut self) -> SequenceControl {
        let s = SequenceControl::new(self.seq);
        self.seq = (self.seq + 1) & SequenceControl::MAX_SEQUENCE;
        s
    }

    fn send_mgmt(&mut self, da: MacAddr, bssid: MacAddr, body: MgmtBody) {
        let mut frame = MgmtFrame::new(da, self.addr, bssid, body);
        frame.header.frame_control.flags = FcFlags(0).with(FcFlags::POWER_MANAGEMENT, self.pm);
        frame.header.sequence = self.next_seq();
        self.tx
            .push_back(Bytes::from(Frame::Management(frame).to_vec()));
    }

    fn set_power_save(&mut self, on: bool) {
        self.pm = on;
        let Some(bssid) = self.bssid() else { return };
        let mut null = DataFrame::null(self.addr, bssid, on, None);
        null.header.sequence = self.next_seq();
        self.tx.push_back(Bytes::from(Frame::Data(null).to_vec()));
    }

    /// Tunes to `channel` for a scan's dwell, probing if the scan is active.
    fn visit(&mut self, now: Instant, channel: Channel) {
        self.channel = channel;
        let Some(scan) = self.scan.as_mut() else {
            return;
        };
        scan.until = now + scan.dwell;
        scan.reprobe = scan.active.then(|| now + scan.dwell / 2);
        if scan.active {
            self.probe(channel);
        }
    }

    /// A wildcard probe request on `channel`.
    fn probe(&mut self, channel: Channel) {
        let mut elements = ElementList::new();
        elements.push(Element::Ssid(Ssid::default()));
        elements.push(Element::SupportedRates(rates(channel)));
        elements.push(Element::DsParameterSet {
            channel: channel.number(),
        });
        let body = MgmtBody::ProbeRequest(ProbeRequest { elements });
        self.send_mgmt(MacAddr::BROADCAST, MacAddr::BROADCAST, body);
    }

    fn record_bss(&mut self, bssid: MacAddr, body: &Beacon, beacon: bool, meta: RxMeta) {
        let channel = body
            .elements
            .channel()
            .and_then(|c| Channel::new(c).ok())
            .unwrap_or(meta.channel);
        let rsne = body.elements.rsn().map(|r| {
            let mut out = Vec::new();
            Element::Rsn(r.clone()).emit(&mut out);
            out
        });
        let entry = self.bss.entry(bssid).or_insert_with(|| ScannedBss {
            bssid,
            ssid: Ssid::default(),
            channel,
            signal_dbm: meta.signal_dbm,
            rsne: None,
            beacons: 0,
            probe_responses: 0,
            tim: None,
        });
        if let Some(ssid) = body.elements.ssid().filter(|s| !s.is_hidden()) {
            entry.ssid = ssid.clone();
        }
        entry.channel = channel;
        entry.signal_dbm = meta.signal_dbm;
        entry.rsne = rsne;
        if beacon {
            entry.beacons += 1;
            entry.tim = body.elements.tim().cloned();
        } else {
            entry.probe_responses += 1;
        }
        let aid = self
            .link
            .as_ref()
            .filter(|l| l.bss.bssid == bssid)
            .and_then(|l| l.aid);
        if beacon && aid.is_some_and(|aid| body.elements.tim().is_some_and(|t| t.has_aid(aid))) {
            self.tim_announcements += 1;
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        if !matches!(outcome, Outcome::Joined { .. }) {
            self.link = None;
        }
        self.outcomes.push(outcome);
    }

    fn on_mgmt(&mut self, now: Instant, frame: MgmtFrame, meta: RxMeta) {
        let h = frame.header;
        match &frame.body {
            MgmtBody::Beacon(b) => return self.record_bss(h.addr3, b, true, meta),
            MgmtBody::ProbeResponse(b) if h.addr1 == self.addr => {
                return self.record_bss(h.addr3, b, false, meta)
            }
            _ => {}
        }
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let bssid = link.bss.bssid;
        if h.addr1 != self.addr || h.addr2 != bssid {
            return;
        }
        let stage = link.stage();
        match frame.body {
            MgmtBody::Authentication(a)
                if link.state == LinkState::Authenticating && a.transaction_seq == 2 =>
            {
                if !a.status.is_success() {
                    let status = a.status;
                    return self.finish(Outcome::Refused {
                        bssid,
                        stage,
                        status,
                    });
                }
                link.state = LinkState::Associating;
                link.deadline = Some(now + STEP_TIMEOUT);
                let mut elements = ElementList::new();
                elements.push(Element::Ssid(link.bss.ssid.clone()));
                elements.push(Element::SupportedRates(rates(link.bss.channel)));
                if link.psk.is_some() {
                    elements.push(Element::Rsn(Rsne::wpa2_psk()));
                }
                let req = AssocRequest {
                    capability: CapabilityInfo(CapabilityInfo::ESS),
                    listen_interval: 10,
                    elements,
                };
                self.send_mgmt(bssid, bssid, MgmtBody::AssocRequest(req));
            }
            MgmtBody::AssocResponse(r) if link.state == LinkState::Associating => {
                if !r.status.is_success() {
                    let status = r.status;
                    return self.finish(Outcome::Refused {
                        bssid,
                        stage,
                        status,
                    });
                }
                link.deadline = None;
                link.aid = Some(r.aid());
                let Some(pmk) = link.psk.clone() else {
                    link.state = LinkState::Connected;
                    let aid = r.aid();
                    return self.finish(Outcome::Joined { bssid, aid });
                };
                link.state = LinkState::Handshaking;
                let mut own_rsne = Vec::new();
                Element::Rsn(Rsne::wpa2_psk()).emit(&mut own_rsne);
                let cfg = SupplicantConfig {
                    aa: bssid,
                    spa: self.addr,
                    pmk,
                    ap_rsne: link.bss.rsne.clone().unwrap_or_default(),
                    own_rsne,
                    timeout: HANDSHAKE_TIMEOUT,
                };
                match Supplicant::new(cfg, now) {
                    Ok(s) => link.supplicant = Some(s),
                    Err(error) => self.fail_handshake(error),
                }
            }
            MgmtBody::Deauthentication(d) => {
                let stage = (link.state != LinkState::Connected).then_some(stage);
                self.finish(Outcome::Deauthenticated {
                    bssid,
                    reason: d.reason,
                    stage,
                });
            }
            MgmtBody::Disassociation(d) => self.finish(Outcome::Disassociated {
                bssid,
                reason: d.reason,
            }),
            _ => {}
        }
    }

    fn fail_handshake(&mut self, error: HandshakeError) {
        let Some(bssid) = self.bssid() else { return };
        let reason = ReasonCode::from(error.reason_code());
        self.send_mgmt(
            bssid,
            bssid,
            MgmtBody::Deauthentication(Deauthentication::new(reason)),
        );
        self.finish(Outcome::HandshakeFailed { bssid, error });
    }

    fn on_data(&mut self, now: Instant, raw: &Bytes, frame: DataFrame) {
        let h = &frame.header;
        let Some(link) = self.link.as_mut() else {
            return;
        };
        if h.addr2 != link.bss.bssid || !h.flags().from_ds() {
            return;
        }
        if h.addr1 != self.addr && !h.addr1.is_group() {
            if h.flags().protected() && self.overheard.len() < OVERHEARD_LIMIT {
                self.overheard.push(raw.clone());
            }
            return;
        }
        if frame.is_null() {
            self.counters.nulls += 1;
            return;
        }
        let more_data = h.flags().more_data();
        let protected = h.flags().protected();
        let plain = if protected {
            let decrypted = ccmp::peek_header(raw).ok().and_then(|hdr| {
                let (tk, replay) = if hdr.key_id == 0 {
                    (link.tk.as_ref()?, &mut link.rx_replay)
                } else {
                    let (gtk, replay) = link.gtks.get_mut(&hdr.key_id)?;
                    (gtk.key(), replay)
                };
                let d = ccmp::decrypt(tk, raw).ok()?;
                replay.accept(d.tid, d.pn).ok()?;
                DataFrame::parse(&d.mpdu).ok()
            });
            match decrypted {
                Some(d) => d,
                None => {
                    self.counters.undecryptable += 1;
                    return;
                }
            }
        } else if link.tk.is_some() {
            // Unprotected data once keyed is refused, as a real station does.
            self.counters.undecryptable += 1;
            return;
        } else {
            frame
        };
        let Ok(eth) = EthernetFrame::from_data(&plain) else {
            return;
        };
        if eth.ethertype == EtherType::Eapol {
            return self.on_eapol(now, &eth.payload);
        }
        if eth.src == self.addr {
            return; // our own group frame, sent back by the AP
        }
        self.received.push(Delivered {
            at: now,
            group: eth.dst.is_group(),
            frame: eth,
            protected,
            more_data,
        });
    }

    fn on_eapol(&mut self, now: Instant, payload: &[u8]) {
        let Some(sup) = self.link.as_mut().and_then(|l| l.supplicant.as_mut()) else {
            return;
        };
        // A rejected frame is ignored; a fatal error comes out as Output::Failed.
        let _ = sup.handle_eapol(now, payload, &mut self.rng);
        self.drain_supplicant();
    }

    fn drain_supplicant(&mut self) {
        while let Some(out) = self
            .link
            .as_mut()
            .and_then(|l| l.supplicant.as_mut())
            .and_then(Supplicant::poll_output)
        {
            let Some(link) = self.link.as_mut() else {
                return;
            };
            let bssid = link.bss.bssid;
            match out {
                Output::Send(eapol) => {
                    let eth = EthernetFrame {
                        dst: bssid,
                        src: self.addr,
                        ethertype: EtherType::Eapol,
                        payload: Bytes::from(eapol),
                    };
                    self.send(&eth);
                }
                Output::InstallPairwise(tk) => {
                    link.tk = Some(tk);
                    link.tx_pn = 0;
                    link.rx_replay = ReplayCounters::new();
                }
                Output::InstallGroup { gtk, rsc } => {
                    let replay = ReplayCounters::starting_after(rsc);
                    link.gtks.insert(gtk.key_id(), (gtk, replay));
                }
                Output::Complete => {
                    link.state = LinkState::Connected;
                    let aid = link.aid.unwrap_or(0);
                    self.finish(Outcome::Joined { bssid, aid });
                }
                Output::GroupKeyComplete => {}
                Output::Failed(error) => self.fail_handshake(error),
            }
        }
    }

    /// Whether `raw` (for the station) repeats the last frame from its transmitter.
    fn is_duplicate(&mut self, raw: &Bytes) -> bool {
        let Ok(view) = crate::wire::FrameView::new_checked(&raw[..]) else {
            return false;
        };
        let (Some(ta), Some(seq)) = (view.addr2(), view.sequence()) else {
            return false;
        };
        if view.addr1() != self.addr {
            return false;
        }
        let repeat =
            view.frame_control().flags.retry() && self.last_seq.get(&ta) == Some(&seq.sequence);
        self.last_seq.insert(ta, seq.sequence);
        repeat
    }
}

/// The Supported Rates a station offers on `channel`'s band (500 kbit/s units).
fn rates(channel: Channel) -> Vec<Rate> {
    let units: &[u8] = match channel.band() {
        Band::Ghz2_4 => &[2, 4, 11, 22, 12, 24, 48, 108],
        Band::Ghz5 | Band::Ghz6 => &[12, 18, 24, 36, 48, 72, 96, 108],
    };
    units.iter().map(|&u| Rate::new(u, false)).collect()
}

impl Node for ScriptedStation {
    fn channel(&self) -> Channel {
        self.channel
    }

    fn handle_rx(&mut self, now: Instant, frame: &Bytes, meta: RxMeta) {
        if self.is_duplicate(frame) {
            self.counters.rx_duplicates += 1;
            return;
        }
        match Frame::parse_bytes(frame) {
            Ok(Frame::Management(m)) => self.on_mgmt(now, m, meta),
            Ok(Frame::Data(d)) => self.on_data(now, frame, d),
            _ => {}
        }
    }

    fn handle_tx_status(&mut self, _now: Instant, _frame: &Bytes, status: TxStatus) {
        match status {
            TxStatus::Acked { retries } => {
                self.counters.tx_acked += 1;
                self.counters.tx_retries += u64::from(retries);
            }
            TxStatus::NotAcked => self.counters.tx_not_acked += 1,
            TxStatus::Sent => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(scan) = self
            .scan
            .as_mut()
            .filter(|s| s.reprobe.is_some_and(|t| t <= now))
        {
            scan.reprobe = None;
            let channel = self.channel;
            self.probe(channel);
        }
        if self.scan.as_ref().is_some_and(|s| s.until <= now) {
            match self.scan.as_mut().and_then(|s| s.channels.pop_front()) {
                Some(next) => self.visit(now, next),
                None => {
                    self.scan = None;
                    self.scans_done += 1;
                }
            }
        }
        let Some(link) = self.link.as_mut() else {
            return;
        };
        if link.deadline.is_some_and(|d| d <= now) {
            let (bssid, stage) = (link.bss.bssid, link.stage());
            return self.finish(Outcome::TimedOut { bssid, stage });
        }
        if let Some(sup) = link
            .supplicant
            .as_mut()
            .filter(|s| s.poll_timeout().is_some_and(|t| t <= now))
        {
            sup.handle_timeout(now);
            self.drain_supplicant();
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let scan = self
            .scan
            .as_ref()
            .map(|s| s.reprobe.map_or(s.until, |r| r.min(s.until)));
        let link = self.link.as_ref().and_then(|l| {
            let sup = l
                .supplicant
                .as_ref()
                .filter(|_| l.state == LinkState::Handshaking)
                .and_then(Supplicant::poll_timeout);
            [l.deadline, sup].into_iter().flatten().min()
        });
        [scan, link].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ap::{ApConfig, ApSecurity, SoftAp};
    use crate::testing::World;

    const BSSID: MacAddr = MacAddr([0x02, 0, 0, 0, 0x01, 0x00]);

    fn ch(n: u8) -> Channel {
        Channel::new(n).unwrap()
    }

    fn sta(n: u8) -> ScriptedStation {
        ScriptedStation::new(MacAddr([0x02, 0, 0, 0, 0, n]), ch(1), u64::from(n))
    }

    fn world_with_ap(security: ApSecurity) -> (World, NodeId) {
        let mut world = World::new(11);
        let mut cfg = ApConfig::new(Ssid::try_from("t").unwrap(), BSSID, ch(1), security);
        cfg.uplink = true;
        let ap = SoftAp::new(cfg, Instant::ZERO, 3).unwrap();
        let id = world.add_node(ap, Placement::at(0.0, 0.0));
        world.medium_mut().set_addresses(id, vec![BSSID]).unwrap();
        (world, id)
    }

    fn scan_and_join(world: &mut World, id: NodeId, psk: Option<Psk>) {
        let now = world.now();
        world
            .node_mut::<ScriptedStation>(id)
            .scan(now, &[ch(1)], Duration::from_millis(50), true);
        world.drive(|w| w.node::<ScriptedStation>(id).scans_done() == 1);
        let bss = world
            .node::<ScriptedStation>(id)
            .bss(BSSID)
            .cloned()
            .unwrap();
        assert!(bss.probe_responses >= 1);
        let now = world.now();
        world.node_mut::<ScriptedStation>(id).join(now, &bss, psk);
        world.drive(|w| w.node::<ScriptedStation>(id).last_outcome().is_some());
    }

    #[test]
    fn joins_an_open_bss_and_hears_its_group_frames() {
        let (mut world, ap) = world_with_ap(ApSecurity::Open);
        let id = sta(1)
            .add_to(world.medium_mut(), Placement::at(3.0, 0.0))
            .unwrap();
        scan_and_join(&mut world, id, None);
        let s = world.node::<ScriptedStation>(id);
        assert_eq!(
            s.outcomes(),
            [Outcome::Joined {
                bssid: BSSID,
                aid: 1
            }]
        );
        assert!(s.is_connected() && !s.has_pairwise_key());
        let eth = EthernetFrame {
            dst: MacAddr::BROADCAST,
            src: MacAddr([0x02, 0, 0, 0, 9, 9]),
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(b"all"),
        };
        let now = world.now();
        world.node_mut::<SoftAp>(ap).handle_uplink(now, eth);
        world.drive(|w| !w.node::<ScriptedStation>(id).received().is_empty());
        let got = &world.node::<ScriptedStation>(id).received()[0];
        assert!(got.group && !got.protected);
        assert_eq!(&got.frame.payload[..], b"all");
    }

    #[test]
    fn wpa2_join_installs_keys_and_a_bad_rsne_less_join_is_refused() {
        let psk = Psk::from_bytes([7; 32]);
        let (mut world, _) = world_with_ap(ApSecurity::Wpa2Psk { psk: psk.clone() });
        let good = sta(1)
            .add_to(world.medium_mut(), Placement::at(3.0, 0.0))
            .unwrap();
        scan_and_join(&mut world, good, Some(psk));
        let s = world.node::<ScriptedStation>(good);
        assert_eq!(
            s.last_outcome(),
            Some(&Outcome::Joined {
                bssid: BSSID,
                aid: 1
            })
        );
        assert!(s.has_pairwise_key());
        assert_eq!(s.group_key_ids(), [1]);
        // Without a PSK the station sends no RSNE: status 40, invalid element.
        let open = sta(2)
            .add_to(world.medium_mut(), Placement::at(0.0, 3.0))
            .unwrap();
        scan_and_join(&mut world, open, None);
        assert_eq!(
            world.node::<ScriptedStation>(open).last_outcome(),
            Some(&Outcome::Refused {
                bssid: BSSID,
                stage: JoinStage::Association,
                status: StatusCode::from(40)
            })
        );
    }

    #[test]
    fn an_unanswered_join_times_out() {
        let mut world = World::new(12);
        let id = sta(1)
            .add_to(world.medium_mut(), Placement::default())
            .unwrap();
        let bss = ScannedBss {
            bssid: BSSID,
            ssid: Ssid::try_from("nobody").unwrap(),
            channel: ch(1),
            signal_dbm: -50,
            rsne: None,
            beacons: 0,
            probe_responses: 0,
            tim: None,
        };
        world
            .node_mut::<ScriptedStation>(id)
            .join(Instant::ZERO, &bss, None);
        world.drive(|w| w.node::<ScriptedStation>(id).last_outcome().is_some());
        let s = world.node::<ScriptedStation>(id);
        assert_eq!(
            s.outcomes(),
            [Outcome::TimedOut {
                bssid: BSSID,
                stage: JoinStage::Authentication
            }]
        );
        assert_eq!(s.counters().tx_not_acked, 1);
        assert_eq!(world.now(), Instant::ZERO + STEP_TIMEOUT);
    }

    #[test]
    fn commands_without_a_link_do_nothing() {
        let mut s = sta(1);
        assert!(!s.send_to(MacAddr::BROADCAST, b"x"));
        assert!(!s.ps_poll());
        s.doze();
        assert!(s.is_dozing());
        assert!(s.poll_transmit().is_none());
        assert!(!s.can_decrypt(&[0u8; 40]));
        s.scan(Instant::ZERO, &[], Duration::from_millis(1), true);
        assert_eq!(s.scans_done(), 1);
        // Junk on the air is ignored.
        let meta = RxMeta {
            channel: ch(1),
            signal_dbm: -40,
            rate_kbps: 1000,
        };
        for len in 0..40 {
            s.handle_rx(Instant::ZERO, &Bytes::from(vec![0x88; len]), meta);
        }
        assert!(s.bss_list().next().is_none() && s.received().is_empty());
    }
}
