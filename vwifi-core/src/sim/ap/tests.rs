//! The AP against scripted stations, frames passed by hand over a two-party "wire" (no
//! medium): every frame the AP transmits is shown to every station, and their replies go back
//! to the AP until all are quiet.

use std::collections::BTreeMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::crypto::ccmp::ReplayCounters;
use crate::crypto::TemporalKey;
use crate::handshake::{Supplicant, SupplicantConfig};
use crate::wire::{
    AkmSuite, AssocRequest, CapabilityInfo, CipherSuite, ElementId, ReassocRequest, RsnCapabilities,
};

const BSSID: MacAddr = MacAddr([0x02, 0, 0, 0, 0x01, 0x00]);
const PEER: MacAddr = MacAddr([0x02, 0, 0, 0, 0x09, 0x09]);

fn sta_addr(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap()
}

fn meta() -> RxMeta {
    RxMeta {
        channel: ch(1),
        signal_dbm: -42,
        rate_kbps: 54_000,
    }
}

/// A PSK per passphrase without PBKDF2 (tested in `crypto::psk`): 4096 rounds per test would
/// make the suite slow in debug builds.
fn psk(pass: &str) -> Psk {
    let mut key = [0u8; 32];
    for (k, b) in key.iter_mut().zip(pass.bytes().cycle()) {
        *k = b;
    }
    Psk::from_bytes(key)
}

fn ssid() -> Ssid {
    Ssid::try_from("vwifi-lab").unwrap()
}

fn open_cfg() -> ApConfig {
    ApConfig::new(ssid(), BSSID, ch(1), ApSecurity::Open)
}

fn wpa2_cfg(pass: &str) -> ApConfig {
    ApConfig::new(ssid(), BSSID, ch(1), ApSecurity::Wpa2Psk { psk: psk(pass) })
}

fn rsne_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    Element::Rsn(Rsne::wpa2_psk()).emit(&mut out);
    out
}

fn parse(frame: &Bytes) -> Frame {
    Frame::parse_bytes(frame).unwrap()
}

fn mgmt_body(frame: &Bytes) -> Option<MgmtBody> {
    match parse(frame) {
        Frame::Management(m) => Some(m.body),
        _ => None,
    }
}

/// A scripted station: open authentication, association, the WPA2 supplicant, CCMP, power
/// save.
struct TestSta {
    addr: MacAddr,
    pmk: Option<Psk>,
    sup: Option<Supplicant>,
    tk: Option<TemporalKey>,
    tx_pn: u64,
    rx_replay: ReplayCounters,
    gtks: BTreeMap<u8, (Gtk, ReplayCounters)>,
    rng: ChaCha20Rng,
    /// The Power Management bit it sends.
    pm: bool,
    aid: Option<u16>,
    auth_status: Option<StatusCode>,
    assoc_status: Option<StatusCode>,
    deauth: Option<ReasonCode>,
    /// Data delivered to the station, with the More Data bit of its frame.
    received: Vec<(EthernetFrame, bool)>,
    /// Protected frames for it that it could not decrypt.
    undecryptable: usize,
    /// Null frames from the AP (end of a PS-Poll with nothing buffered).
    nulls: usize,
    /// A-MSDUs from the AP (their MSDUs are in `received`).
    amsdus: usize,
    complete: bool,
    failed: Option<HandshakeError>,
    /// When set, EAPOL is ignored (a station that never answers).
    mute: bool,
    /// When set, its association request carries HT Capabilities (so it takes A-MSDUs).
    ht: bool,
}

impl TestSta {
    fn new(n: u8, pass: Option<&str>) -> Self {
        Self {
            addr: sta_addr(n),
            pmk: pass.map(psk),
            sup: None,
            tk: None,
            tx_pn: 0,
            rx_replay: ReplayCounters::new(),
            gtks: BTreeMap::new(),
            rng: ChaCha20Rng::seed_from_u64(u64::from(n) + 100),
            pm: false,
            aid: None,
            auth_status: None,
            assoc_status: None,
            deauth: None,
            received: Vec::new(),
            undecryptable: 0,
            nulls: 0,
            amsdus: 0,
            complete: false,
            failed: None,
            mute: false,
            ht: false,
        }
    }

    fn mgmt(&self, body: MgmtBody) -> Bytes {
        let mut f = MgmtFrame::new(BSSID, self.addr, BSSID, body);
        f.header.frame_control.flags = FcFlags(0).with(FcFlags::POWER_MANAGEMENT, self.pm);
        Bytes::from(Frame::Management(f).to_vec())
    }

    fn auth(&self, algorithm: AuthAlgorithm) -> Bytes {
        let mut a = Authentication::open_system(1, StatusCode::Success);
        a.algorithm = algorithm;
        self.mgmt(MgmtBody::Authentication(a))
    }

    fn assoc_elements(&self, rsne: Option<Rsne>) -> ElementList {
        let mut el = ElementList::new();
        el.push(Element::Ssid(ssid()));
        el.push(frames::rate_elements(ch(1))[0].clone());
        if let Some(r) = rsne {
            el.push(Element::Rsn(r));
        }
        if self.ht {
            let caps = crate::phy::PhyCaps {
                standard: crate::phy::Standard::Ht,
                width: crate::phy::Width::Mhz20,
                nss: 1,
            };
            for e in crate::phy::elements::capability_elements(&caps, crate::channel::Band::Ghz2_4)
            {
                el.push(e);
            }
        }
        el
    }

    fn assoc(&self, rsne: Option<Rsne>) -> Bytes {
        self.mgmt(MgmtBody::AssocRequest(AssocRequest {
            capability: CapabilityInfo(CapabilityInfo::ESS),
            listen_interval: 10,
            elements: self.assoc_elements(rsne),
        }))
    }

    fn reassoc(&self, rsne: Option<Rsne>) -> Bytes {
        self.mgmt(MgmtBody::ReassocRequest(ReassocRequest {
            capability: CapabilityInfo(CapabilityInfo::ESS),
            listen_interval: 10,
            current_ap: BSSID,
            elements: self.assoc_elements(rsne),
        }))
    }

    /// A To-DS data frame carrying `eth`, encrypted once the station holds its key.
    fn data_eth(&mut self, eth: &EthernetFrame) -> Bytes {
        let mut d = eth.to_data(DsDirection::ToAp { bssid: BSSID }, None);
        d.header.frame_control.flags = d.header.flags().with(FcFlags::POWER_MANAGEMENT, self.pm);
        let plain = Frame::Data(d).to_vec();
        match &self.tk {
            Some(tk) => {
                self.tx_pn += 1;
                Bytes::from(ccmp::encrypt(tk, 0, self.tx_pn, &plain).unwrap())
            }
            None => Bytes::from(plain),
        }
    }

    fn data(&mut self, dst: MacAddr, payload: &'static [u8]) -> Bytes {
        let eth = EthernetFrame {
            dst,
            src: self.addr,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(payload),
        };
        self.data_eth(&eth)
    }

    fn null(&self) -> Bytes {
        Bytes::from(Frame::Data(DataFrame::null(self.addr, BSSID, self.pm, None)).to_vec())
    }

    fn ps_poll(&self) -> Bytes {
        let p = PsPoll::new(self.aid.unwrap(), BSSID, self.addr);
        Bytes::from(Frame::Control(ControlFrame::PsPoll(p)).to_vec())
    }

    /// Handles a frame from the air; returns its replies to the AP.
    fn rx(&mut self, now: Instant, raw: &Bytes) -> Vec<Bytes> {
        let frame = parse(raw);
        match frame {
            Frame::Management(m) if m.header.addr1 == self.addr => self.on_mgmt(now, m.body),
            Frame::Data(d)
                if (d.header.addr1 == self.addr || d.header.addr1.is_group())
                    && d.header.addr2 == BSSID =>
            {
                self.on_data(now, raw, d)
            }
            _ => Vec::new(),
        }
    }

    fn on_mgmt(&mut self, now: Instant, body: MgmtBody) -> Vec<Bytes> {
        match body {
            MgmtBody::Authentication(a) => self.auth_status = Some(a.status),
            MgmtBody::AssocResponse(r) | MgmtBody::ReassocResponse(r) => {
                self.assoc_status = Some(r.status);
                if r.status.is_success() {
                    self.aid = Some(r.aid());
                    if let Some(pmk) = &self.pmk {
                        self.sup = Some(
                            Supplicant::new(
                                SupplicantConfig {
                                    aa: BSSID,
                                    spa: self.addr,
                                    pmk: pmk.clone(),
                                    ap_rsne: rsne_bytes(),
                                    own_rsne: rsne_bytes(),
                                    timeout: Duration::from_secs(30),
                                },
                                now,
                            )
                            .unwrap(),
                        );
                    }
                }
            }
            MgmtBody::Deauthentication(d) => {
                self.deauth = Some(d.reason);
                self.tk = None;
                self.aid = None;
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_data(&mut self, now: Instant, raw: &Bytes, d: DataFrame) -> Vec<Bytes> {
        if d.is_null() {
            self.nulls += 1;
            return Vec::new();
        }
        let more_data = d.header.flags().more_data();
        let plain = if d.header.flags().protected() {
            let hdr = ccmp::peek_header(raw).unwrap();
            let result = if hdr.key_id == 0 {
                self.tk
                    .as_ref()
                    .and_then(|tk| ccmp::decrypt(tk, raw).ok())
                    .filter(|p| self.rx_replay.accept(p.tid, p.pn).is_ok())
            } else {
                self.gtks.get_mut(&hdr.key_id).and_then(|(gtk, replay)| {
                    ccmp::decrypt(gtk.key(), raw)
                        .ok()
                        .filter(|p| replay.accept(p.tid, p.pn).is_ok())
                })
            };
            match result {
                Some(p) => DataFrame::parse(&p.mpdu).unwrap(),
                None => {
                    self.undecryptable += 1;
                    return Vec::new();
                }
            }
        } else {
            d
        };
        if plain.header.qos.is_some_and(QosControl::amsdu_present) {
            self.amsdus += 1;
            for eth in amsdu::ethernet_frames(&plain.payload).unwrap() {
                self.received.push((eth.unwrap(), more_data));
            }
            return Vec::new();
        }
        let eth = EthernetFrame::from_data(&plain).unwrap();
        if eth.ethertype != EtherType::Eapol {
            self.received.push((eth, more_data));
            return Vec::new();
        }
        if self.mute {
            return Vec::new();
        }
        let Some(sup) = self.sup.as_mut() else {
            return Vec::new();
        };
        let _ = sup.handle_eapol(now, &eth.payload, &mut self.rng);
        let mut replies = Vec::new();
        while let Some(out) = self.sup.as_mut().and_then(Supplicant::poll_output) {
            match out {
                Output::Send(eapol) => {
                    let eth = EthernetFrame {
                        dst: BSSID,
                        src: self.addr,
                        ethertype: EtherType::Eapol,
                        payload: Bytes::from(eapol),
                    };
                    replies.push(self.data_eth(&eth));
                }
                Output::InstallPairwise(tk) => {
                    self.tk = Some(tk);
                    self.tx_pn = 0;
                }
                Output::InstallGroup { gtk, rsc } => {
                    self.gtks
                        .insert(gtk.key_id(), (gtk, ReplayCounters::starting_after(rsc)));
                }
                Output::Complete => self.complete = true,
                Output::GroupKeyComplete => {}
                Output::Failed(e) => self.failed = Some(e),
            }
        }
        replies
    }
}

/// The AP, its stations and the clock.
struct Net {
    ap: SoftAp,
    stas: Vec<TestSta>,
    now: Instant,
    /// Every frame the AP sent, in order.
    air: Vec<Bytes>,
}

impl Net {
    fn new(cfg: ApConfig, stas: Vec<TestSta>) -> Self {
        Self {
            ap: SoftAp::new(cfg, Instant::ZERO, 1).unwrap(),
            stas,
            now: Instant::ZERO,
            air: Vec::new(),
        }
    }

    /// Delivers the AP's frames to every station and their replies to the AP until quiet.
    /// Returns the frames the AP sent.
    fn pump(&mut self) -> Vec<Bytes> {
        let mut sent = Vec::new();
        for _ in 0..1000 {
            let Some(frame) = self.ap.poll_transmit() else {
                return sent;
            };
            sent.push(frame.clone());
            self.air.push(frame.clone());
            let mut replies = Vec::new();
            for sta in &mut self.stas {
                replies.extend(sta.rx(self.now, &frame));
            }
            for r in replies {
                self.ap.handle_rx(self.now, &r, meta());
            }
        }
        panic!("the AP and its stations never went quiet");
    }

    /// Station `i` sends `frame` to the AP; returns what the AP sent in consequence.
    fn send(&mut self, frame: Bytes) -> Vec<Bytes> {
        self.ap.handle_rx(self.now, &frame, meta());
        self.pump()
    }

    fn advance(&mut self, to: Instant) -> Vec<Bytes> {
        self.now = to;
        self.ap.handle_timeout(to);
        self.pump()
    }

    fn join(&mut self, i: usize) {
        let f = self.stas[i].auth(AuthAlgorithm::OpenSystem);
        self.send(f);
        assert_eq!(self.stas[i].auth_status, Some(StatusCode::Success));
        let rsne = self.stas[i].pmk.as_ref().map(|_| Rsne::wpa2_psk());
        let f = self.stas[i].assoc(rsne);
        self.send(f);
        assert_eq!(self.stas[i].assoc_status, Some(StatusCode::Success));
    }

    fn events(&mut self) -> Vec<ApEvent> {
        std::iter::from_fn(|| self.ap.poll_event()).collect()
    }

    fn uplink(&mut self) -> Vec<EthernetFrame> {
        std::iter::from_fn(|| self.ap.poll_uplink()).collect()
    }
}

fn eth_to(dst: MacAddr, payload: &'static [u8]) -> EthernetFrame {
    EthernetFrame {
        dst,
        src: PEER,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from_static(payload),
    }
}

fn beacon_of(frame: &Bytes) -> Beacon {
    match mgmt_body(frame) {
        Some(MgmtBody::Beacon(b)) => b,
        other => panic!("not a beacon: {other:?}"),
    }
}

fn probe(ssid: &[u8], channel: Option<u8>) -> Bytes {
    let mut el = ElementList::new();
    el.push(Element::Ssid(Ssid::new(ssid).unwrap()));
    if let Some(c) = channel {
        el.push(Element::DsParameterSet { channel: c });
    }
    let f = MgmtFrame::new(
        MacAddr::BROADCAST,
        sta_addr(1),
        MacAddr::BROADCAST,
        MgmtBody::ProbeRequest(ProbeRequest { elements: el }),
    );
    Bytes::from(Frame::Management(f).to_vec())
}

// ---- beacons and probes ----

#[test]
fn beacons_at_every_interval_with_dtim_count_and_rsn() {
    let mut cfg = wpa2_cfg("correct horse");
    cfg.dtim_period = 3;
    let mut ap = SoftAp::new(cfg, Instant::from_millis(5), 1).unwrap();
    let mut beacons = Vec::new();
    for _ in 0..4 {
        let at = ap.poll_timeout().unwrap();
        ap.handle_timeout(at);
        beacons.push((at, ap.poll_transmit().unwrap()));
        assert!(ap.poll_transmit().is_none());
    }
    let times: Vec<u64> = beacons.iter().map(|(t, _)| t.as_micros()).collect();
    assert_eq!(
        times,
        [5000, 5000 + 102_400, 5000 + 204_800, 5000 + 307_200]
    );
    let mut dtim_counts = Vec::new();
    for (i, (_, raw)) in beacons.iter().enumerate() {
        let Frame::Management(m) = parse(raw) else {
            panic!()
        };
        assert_eq!(m.header.addr1, MacAddr::BROADCAST);
        assert_eq!(m.header.addr2, BSSID);
        assert_eq!(m.header.sequence.sequence, i as u16);
        let MgmtBody::Beacon(b) = m.body else {
            panic!()
        };
        assert_eq!(b.timestamp, 102_400 * i as u64);
        assert_eq!(b.beacon_interval, 100);
        assert!(b.capability.ess() && b.capability.privacy());
        assert_eq!(b.elements.ssid(), Some(&ssid()));
        assert_eq!(b.elements.channel(), Some(1));
        assert_eq!(b.elements.rsn(), Some(&Rsne::wpa2_psk()));
        let tim = b.elements.tim().unwrap();
        assert_eq!(tim.dtim_period, 3);
        assert_eq!(tim.aids().count(), 0);
        assert!(!tim.group_traffic());
        dtim_counts.push(tim.dtim_count);
        // Element order of Table 9-32: SSID, rates, DS, TIM, extended rates, RSN.
        let ids: Vec<ElementId> = b.elements.iter().map(Element::id).collect();
        assert_eq!(
            ids,
            [
                ElementId::Ssid,
                ElementId::SupportedRates,
                ElementId::DsParameterSet,
                ElementId::Tim,
                ElementId::ExtendedSupportedRates,
                ElementId::Rsn
            ]
        );
    }
    assert_eq!(dtim_counts, [0, 2, 1, 0]);
    assert_eq!(ap.counters().beacons, 4);
}

#[test]
fn a_late_wakeup_sends_one_beacon_and_keeps_the_tbtt_grid() {
    let mut ap = SoftAp::new(open_cfg(), Instant::ZERO, 1).unwrap();
    ap.handle_timeout(Instant::from_micros(350_000));
    let b = beacon_of(&ap.poll_transmit().unwrap());
    assert!(ap.poll_transmit().is_none());
    assert!(!b.capability.privacy());
    assert!(b.elements.rsn().is_none());
    assert_eq!(ap.poll_timeout(), Some(Instant::from_micros(409_600)));
}

#[test]
fn probe_responses_for_wildcard_and_own_ssid_only() {
    let mut net = Net::new(wpa2_cfg("pass word"), Vec::new());
    for (req, answered) in [
        (probe(b"", None), true),
        (probe(b"vwifi-lab", None), true),
        (probe(b"vwifi-lab", Some(1)), true),
        (probe(b"vwifi-lab", Some(6)), false),
        (probe(b"other-net", None), false),
    ] {
        let out = net.send(req);
        assert_eq!(out.len(), usize::from(answered));
        if let Some(raw) = out.first() {
            let Frame::Management(m) = parse(raw) else {
                panic!()
            };
            assert_eq!(m.header.addr1, sta_addr(1));
            let MgmtBody::ProbeResponse(b) = m.body else {
                panic!()
            };
            assert_eq!(b.elements.ssid(), Some(&ssid()));
            assert_eq!(b.elements.rsn(), Some(&Rsne::wpa2_psk()));
            assert!(b.elements.tim().is_none());
        }
    }
    assert_eq!(net.ap.counters().probe_responses, 3);
}

#[test]
fn hidden_ssid_beacons_empty_and_answers_only_directed_probes() {
    let mut cfg = open_cfg();
    cfg.hidden = true;
    let mut net = Net::new(cfg, Vec::new());
    let out = net.advance(Instant::ZERO);
    assert_eq!(beacon_of(&out[0]).elements.ssid().map(Ssid::len), Some(0));
    assert!(net.send(probe(b"", None)).is_empty());
    assert_eq!(net.send(probe(b"vwifi-lab", None)).len(), 1);
}

#[test]
fn five_ghz_ap_advertises_ofdm_rates_only() {
    let cfg = ApConfig::new(ssid(), BSSID, ch(36), ApSecurity::Open);
    let mut ap = SoftAp::new(cfg, Instant::ZERO, 1).unwrap();
    ap.handle_timeout(Instant::ZERO);
    let b = beacon_of(&ap.poll_transmit().unwrap());
    let kbps: Vec<u32> = b.elements.rates().map(|r| r.kbps()).collect();
    assert_eq!(kbps.first(), Some(&6000));
    assert!(kbps.iter().all(|&k| k >= 6000));
    assert_eq!(b.elements.channel(), Some(36));
}

// ---- authentication and association ----

#[test]
fn open_join_authorizes_at_once_and_data_reaches_the_uplink() {
    let mut cfg = open_cfg();
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None)]);
    net.join(0);
    assert_eq!(net.stas[0].aid, Some(1));
    assert_eq!(
        net.events(),
        [
            ApEvent::Associated {
                sta: sta_addr(1),
                aid: 1,
                reassociation: false
            },
            ApEvent::Authorized { sta: sta_addr(1) }
        ]
    );
    let info = net.ap.station(sta_addr(1)).unwrap();
    assert_eq!(info.state, StationState::Authorized);
    assert_eq!(info.signal_dbm, Some(-42));
    let f = net.stas[0].data(PEER, b"hello");
    net.send(f);
    let up = net.uplink();
    assert_eq!(up.len(), 1);
    assert_eq!((up[0].src, up[0].dst), (sta_addr(1), PEER));
    assert_eq!(&up[0].payload[..], b"hello");
}

#[test]
fn wpa2_join_runs_the_four_way_handshake_then_passes_data() {
    let mut cfg = wpa2_cfg("correct horse battery staple");
    cfg.uplink = true;
    let mut net = Net::new(
        cfg,
        vec![TestSta::new(1, Some("correct horse battery staple"))],
    );
    net.join(0);
    assert!(net.stas[0].complete);
    assert!(net.stas[0].tk.is_some());
    assert!(net.stas[0].gtks.contains_key(&1));
    assert_eq!(
        net.events(),
        [
            ApEvent::Associated {
                sta: sta_addr(1),
                aid: 1,
                reassociation: false
            },
            ApEvent::Authorized { sta: sta_addr(1) }
        ]
    );
    let f = net.stas[0].data(PEER, b"secret payload");
    assert!(parse(&f).frame_control().flags.protected());
    net.send(f);
    let up = net.uplink();
    assert_eq!(up.len(), 1);
    assert_eq!(&up[0].payload[..], b"secret payload");
    // And back: the uplink's answer arrives encrypted with the pairwise key.
    net.ap
        .handle_uplink(net.now, eth_to(sta_addr(1), b"answer"));
    let out = net.pump();
    assert!(parse(&out[0]).frame_control().flags.protected());
    assert_eq!(&net.stas[0].received[0].0.payload[..], b"answer");
}

#[test]
fn data_before_the_handshake_completes_is_dropped() {
    let mut cfg = wpa2_cfg("correct horse");
    cfg.uplink = true;
    let mut sta = TestSta::new(1, Some("correct horse"));
    sta.mute = true;
    let mut net = Net::new(cfg, vec![sta]);
    net.join(0);
    let f = net.stas[0].data(PEER, b"too early");
    net.send(f);
    assert!(net.uplink().is_empty());
    assert_eq!(net.ap.counters().dropped.not_authorized, 1);
    // Nor does the uplink reach it.
    net.ap.handle_uplink(net.now, eth_to(sta_addr(1), b"x"));
    assert!(net.pump().is_empty());
    assert_eq!(net.ap.counters().dropped.no_route, 1);
}

#[test]
fn wrong_passphrase_fails_on_message_2_and_deauthenticates_with_reason_14() {
    let mut net = Net::new(
        wpa2_cfg("correct horse battery staple"),
        vec![TestSta::new(1, Some("Tr0ub4dor&3 wrong"))],
    );
    net.join(0);
    assert!(!net.stas[0].complete);
    assert_eq!(net.stas[0].deauth, Some(ReasonCode::MicFailure));
    let events = net.events();
    assert!(events.contains(&ApEvent::HandshakeFailed {
        sta: sta_addr(1),
        error: HandshakeError::MicMismatch {
            message: Message::Msg2
        },
        wrong_passphrase: true,
    }));
    assert!(events.contains(&ApEvent::Left {
        sta: sta_addr(1),
        reason: LeaveReason::Removed(ReasonCode::MicFailure),
    }));
    assert!(net.ap.station(sta_addr(1)).is_none());
}

#[test]
fn silent_supplicant_times_out_with_reason_15() {
    let mut sta = TestSta::new(1, Some("correct horse"));
    sta.mute = true;
    let mut net = Net::new(wpa2_cfg("correct horse"), vec![sta]);
    net.join(0);
    let mut msg1s = 1;
    while net.stas[0].deauth.is_none() {
        let at = net.ap.poll_timeout().unwrap();
        assert!(at < Instant::from_millis(10_000), "no timeout");
        let out = net.advance(at);
        msg1s += out
            .iter()
            .filter(|f| matches!(parse(f), Frame::Data(_)))
            .count();
    }
    assert_eq!(msg1s, 4, "message 1 sent four times in all");
    assert_eq!(
        net.stas[0].deauth,
        Some(ReasonCode::FourWayHandshakeTimeout)
    );
    let events = net.events();
    assert!(events.iter().any(|e| matches!(
        e,
        ApEvent::HandshakeFailed {
            wrong_passphrase: false,
            error: HandshakeError::Timeout { .. },
            ..
        }
    )));
}

#[test]
fn shared_key_and_sae_authentication_are_refused_with_status_13() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    for alg in [AuthAlgorithm::SharedKey, AuthAlgorithm::Sae] {
        let f = net.stas[0].auth(alg);
        net.send(f);
        assert_eq!(
            net.stas[0].auth_status,
            Some(StatusCode::UnsupportedAuthAlgorithm)
        );
    }
    assert!(net.ap.station(sta_addr(1)).is_none());
}

#[test]
fn association_refused_with_17_when_full() {
    let mut cfg = open_cfg();
    cfg.max_stations = 1;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None), TestSta::new(2, None)]);
    net.join(0);
    let f = net.stas[1].auth(AuthAlgorithm::OpenSystem);
    net.send(f);
    let f = net.stas[1].assoc(None);
    net.send(f);
    assert_eq!(
        net.stas[1].assoc_status,
        Some(StatusCode::ApUnableToHandleNewStations)
    );
    assert!(net.events().contains(&ApEvent::AssociationRefused {
        sta: sta_addr(2),
        status: StatusCode::ApUnableToHandleNewStations
    }));
    // Once the first leaves, there is room, and the AID is reused.
    let f = net.stas[0].mgmt(MgmtBody::Disassociation(Deauthentication::new(
        ReasonCode::DisassocLeaving,
    )));
    net.send(f);
    let f = net.stas[1].assoc(None);
    net.send(f);
    assert_eq!(net.stas[1].assoc_status, Some(StatusCode::Success));
    assert_eq!(net.stas[1].aid, Some(1));
}

#[test]
fn wpa2_association_needs_a_matching_rsne() {
    let bad = |f: fn(&mut Rsne)| {
        let mut r = Rsne::wpa2_psk();
        f(&mut r);
        Some(r)
    };
    let cases = [
        (None, StatusCode::InvalidElement),
        (
            bad(|r| r.group_cipher = Some(CipherSuite::Tkip)),
            StatusCode::InvalidGroupCipher,
        ),
        (
            bad(|r| r.pairwise_ciphers = Some(vec![CipherSuite::Tkip])),
            StatusCode::InvalidPairwiseCipher,
        ),
        (
            bad(|r| r.akm_suites = Some(vec![AkmSuite::Ieee8021x])),
            StatusCode::InvalidAkmp,
        ),
        (bad(|r| r.version = 2), StatusCode::UnsupportedRsneVersion),
        (
            bad(|r| {
                r.capabilities = Some(RsnCapabilities(
                    RsnCapabilities::MFPR | RsnCapabilities::MFPC,
                ))
            }),
            StatusCode::RobustManagementPolicyViolation,
        ),
    ];
    let mut net = Net::new(wpa2_cfg("pass word"), vec![TestSta::new(1, None)]);
    let f = net.stas[0].auth(AuthAlgorithm::OpenSystem);
    net.send(f);
    for (rsne, status) in cases {
        let f = net.stas[0].assoc(rsne);
        net.send(f);
        assert_eq!(net.stas[0].assoc_status, Some(status));
    }
    assert_eq!(net.ap.associated_count(), 0);
}

#[test]
fn association_for_another_ssid_is_refused() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    let f = net.stas[0].auth(AuthAlgorithm::OpenSystem);
    net.send(f);
    let mut el = ElementList::new();
    el.push(Element::Ssid(Ssid::try_from("elsewhere").unwrap()));
    let f = net.stas[0].mgmt(MgmtBody::AssocRequest(AssocRequest {
        capability: CapabilityInfo(CapabilityInfo::ESS),
        listen_interval: 1,
        elements: el,
    }));
    net.send(f);
    assert_eq!(
        net.stas[0].assoc_status,
        Some(StatusCode::UnspecifiedFailure)
    );
}

#[test]
fn association_without_authentication_is_answered_with_deauthentication() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    let f = net.stas[0].assoc(None);
    net.send(f);
    assert_eq!(net.stas[0].deauth, Some(ReasonCode::NotAuthenticated));
    assert_eq!(net.stas[0].assoc_status, None);
}

#[test]
fn class_3_frames_from_unassociated_stations_get_reason_7() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    let f = net.stas[0].data(PEER, b"x");
    net.send(f);
    assert_eq!(
        net.stas[0].deauth,
        Some(ReasonCode::Class3FrameFromNonassocSta)
    );
    // Authenticated but not associated: still class 3.
    net.stas[0].deauth = None;
    let f = net.stas[0].auth(AuthAlgorithm::OpenSystem);
    net.send(f);
    let f = net.stas[0].null();
    net.send(f);
    assert_eq!(
        net.stas[0].deauth,
        Some(ReasonCode::Class3FrameFromNonassocSta)
    );
    assert_eq!(net.ap.counters().dropped.not_associated, 2);
}

#[test]
fn reassociation_keeps_the_aid_and_reruns_the_handshake() {
    let mut net = Net::new(
        wpa2_cfg("pass word"),
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    net.events();
    net.stas[1].tk = None;
    net.stas[1].complete = false;
    let f = net.stas[1].reassoc(Some(Rsne::wpa2_psk()));
    net.send(f);
    assert_eq!(net.stas[1].aid, Some(2));
    assert!(net.stas[1].complete);
    assert_eq!(
        net.events(),
        [
            ApEvent::Associated {
                sta: sta_addr(2),
                aid: 2,
                reassociation: true
            },
            ApEvent::Authorized { sta: sta_addr(2) }
        ]
    );
}

#[test]
fn deauthentication_and_disassociation_from_a_station_end_its_association() {
    let mut net = Net::new(
        open_cfg(),
        vec![TestSta::new(1, None), TestSta::new(2, None)],
    );
    net.join(0);
    net.join(1);
    net.events();
    let f = net.stas[0].mgmt(MgmtBody::Deauthentication(Deauthentication::new(
        ReasonCode::DeauthLeaving,
    )));
    net.send(f);
    let f = net.stas[1].mgmt(MgmtBody::Disassociation(Deauthentication::new(
        ReasonCode::DisassocLeaving,
    )));
    net.send(f);
    assert_eq!(
        net.events(),
        [
            ApEvent::Left {
                sta: sta_addr(1),
                reason: LeaveReason::Deauthenticated(ReasonCode::DeauthLeaving)
            },
            ApEvent::Left {
                sta: sta_addr(2),
                reason: LeaveReason::Disassociated(ReasonCode::DisassocLeaving)
            },
        ]
    );
    assert!(net.ap.station(sta_addr(1)).is_none());
    assert_eq!(
        net.ap.station(sta_addr(2)).map(|s| s.state),
        Some(StationState::Authenticated)
    );
}

#[test]
fn silent_stations_are_removed_after_the_inactivity_timeout() {
    let mut cfg = open_cfg();
    cfg.inactivity_timeout = Duration::from_secs(10);
    let mut net = Net::new(cfg, vec![TestSta::new(1, None), TestSta::new(2, None)]);
    net.join(0);
    net.join(1);
    net.events();
    net.now = Instant::from_millis(6000);
    let f = net.stas[1].null();
    net.send(f);
    net.advance(Instant::from_millis(10_000));
    assert_eq!(net.stas[0].deauth, Some(ReasonCode::Inactivity));
    assert_eq!(net.stas[1].deauth, None);
    assert_eq!(
        net.events(),
        [ApEvent::Left {
            sta: sta_addr(1),
            reason: LeaveReason::Removed(ReasonCode::Inactivity)
        }]
    );
    assert!(net.ap.poll_timeout().unwrap() <= Instant::from_millis(16_000));
}

// ---- power save ----

#[test]
fn dozing_station_frames_are_buffered_announced_and_polled_one_by_one() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    net.stas[0].pm = true;
    let f = net.stas[0].null();
    net.send(f);
    assert!(net.ap.station(sta_addr(1)).unwrap().power_save);
    for p in [&b"one"[..], b"two", b"three"] {
        net.ap
            .handle_uplink(net.now, eth_to(sta_addr(1), Box::leak(p.into())));
    }
    assert!(net.pump().is_empty(), "buffered, not sent");
    assert_eq!(net.ap.station(sta_addr(1)).unwrap().buffered, 3);
    // The TIM names AID 1.
    let out = net.advance(Instant::ZERO);
    let tim = beacon_of(&out[0]).elements.tim().cloned().unwrap();
    assert!(tim.has_aid(1));
    // Each PS-Poll delivers one frame, More Data while more remain.
    let f = net.stas[0].ps_poll();
    net.send(f);
    let f = net.stas[0].ps_poll();
    net.send(f);
    let got: Vec<(&[u8], bool)> = net.stas[0]
        .received
        .iter()
        .map(|(e, more)| (&e.payload[..], *more))
        .collect();
    assert_eq!(got, [(&b"one"[..], true), (&b"two"[..], true)]);
    // Waking flushes the rest.
    net.stas[0].pm = false;
    let f = net.stas[0].null();
    net.send(f);
    assert_eq!(net.stas[0].received.len(), 3);
    assert_eq!(&net.stas[0].received[2].0.payload[..], b"three");
    assert!(!net.stas[0].received[2].1);
    // A poll with nothing buffered is answered with a Null frame; the TIM is clear again.
    let f = net.stas[0].ps_poll();
    net.send(f);
    assert_eq!(net.stas[0].nulls, 1);
    let out = net.advance(Instant::from_micros(102_400));
    assert_eq!(beacon_of(&out[0]).elements.tim().unwrap().aids().count(), 0);
    assert_eq!(net.ap.counters().ps_buffered, 3);
}

#[test]
fn frames_unacknowledged_after_the_station_began_to_doze_are_buffered_again() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    assert!(net.stas[0].complete);
    // Two frames leave the AP (taken off its queue, as the medium does) ...
    for p in [&b"first"[..], b"second"] {
        net.ap
            .handle_uplink(net.now, eth_to(sta_addr(1), Box::leak(p.into())));
    }
    let in_flight: Vec<Bytes> = std::iter::from_fn(|| net.ap.poll_transmit()).collect();
    assert_eq!(in_flight.len(), 2);
    // ... the station announces power save and leaves before they reach it ...
    net.stas[0].pm = true;
    let f = net.stas[0].null();
    net.send(f);
    net.ap.handle_uplink(
        net.now,
        eth_to(sta_addr(1), Box::leak(b"third".as_slice().into())),
    );
    assert!(net.pump().is_empty(), "the third frame is buffered");
    // ... so the medium reports them unacknowledged: they go back into the buffer, first.
    for f in &in_flight {
        net.ap.handle_tx_status(net.now, f, TxStatus::NotAcked);
    }
    let sta = net.ap.station(sta_addr(1)).unwrap();
    assert_eq!(sta.buffered, 3);
    assert_eq!(net.ap.counters().ps_rebuffered, 2);
    let out = net.advance(Instant::ZERO);
    assert!(beacon_of(&out[0]).elements.tim().unwrap().has_aid(1));
    // Polls deliver them in their original order, still decryptable (Retry and More Data are
    // outside CCMP's AAD), then the frame buffered since.
    for _ in 0..3 {
        let f = net.stas[0].ps_poll();
        net.send(f);
    }
    let got: Vec<(&[u8], bool)> = net.stas[0]
        .received
        .iter()
        .map(|(e, more)| (&e.payload[..], *more))
        .collect();
    assert_eq!(
        got,
        [(&b"first"[..], true), (b"second", true), (b"third", false)]
    );
    assert_eq!(net.stas[0].undecryptable, 0);
}

#[test]
fn unacknowledged_frames_to_an_awake_station_are_not_buffered() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    net.ap.handle_uplink(
        net.now,
        eth_to(sta_addr(1), Box::leak(b"lost".as_slice().into())),
    );
    let f = net.ap.poll_transmit().unwrap();
    net.ap.handle_tx_status(net.now, &f, TxStatus::NotAcked);
    assert_eq!(net.ap.station(sta_addr(1)).unwrap().buffered, 0);
    assert_eq!(net.ap.counters().ps_rebuffered, 0);
}

#[test]
fn power_save_queue_drops_the_oldest_when_full() {
    let mut cfg = open_cfg();
    cfg.uplink = true;
    cfg.ps_queue_limit = 2;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None)]);
    net.join(0);
    net.stas[0].pm = true;
    let f = net.stas[0].null();
    net.send(f);
    for p in [&b"a"[..], b"b", b"c"] {
        net.ap
            .handle_uplink(net.now, eth_to(sta_addr(1), Box::leak(p.into())));
    }
    net.stas[0].pm = false;
    let f = net.stas[0].null();
    net.send(f);
    let got: Vec<&[u8]> = net.stas[0]
        .received
        .iter()
        .map(|(e, _)| &e.payload[..])
        .collect();
    assert_eq!(got, [&b"b"[..], b"c"]);
    let info = net.ap.station(sta_addr(1)).unwrap();
    assert_eq!(info.counters.dropped.get(DropReason::QueueFull), 1);
    assert_eq!(net.ap.counters().dropped.queue_full, 1);
}

#[test]
fn group_frames_wait_for_the_dtim_beacon_while_a_station_dozes() {
    let mut cfg = open_cfg();
    cfg.uplink = true;
    cfg.dtim_period = 2;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None), TestSta::new(2, None)]);
    net.join(0);
    net.join(1);
    // First beacon (DTIM) at 0 goes out now; then station 1 dozes.
    net.advance(Instant::ZERO);
    net.stas[0].pm = true;
    let f = net.stas[0].null();
    net.send(f);
    net.ap
        .handle_uplink(net.now, eth_to(MacAddr::BROADCAST, b"bcast1"));
    net.ap
        .handle_uplink(net.now, eth_to(MacAddr::BROADCAST, b"bcast2"));
    assert!(net.pump().is_empty());
    // TBTT 1 is not a DTIM: nothing released.
    let out = net.advance(Instant::from_micros(102_400));
    assert_eq!(out.len(), 1);
    let tim = beacon_of(&out[0]).elements.tim().cloned().unwrap();
    assert_eq!(tim.dtim_count, 1);
    assert!(!tim.group_traffic());
    // TBTT 2 is: the group bit is set and both frames follow the beacon, More Data on the first.
    let out = net.advance(Instant::from_micros(204_800));
    assert_eq!(out.len(), 3);
    let tim = beacon_of(&out[0]).elements.tim().cloned().unwrap();
    assert_eq!(tim.dtim_count, 0);
    assert!(tim.group_traffic());
    for sta in &net.stas {
        let got: Vec<(&[u8], bool)> = sta
            .received
            .iter()
            .map(|(e, more)| (&e.payload[..], *more))
            .collect();
        assert_eq!(got, [(&b"bcast1"[..], true), (&b"bcast2"[..], false)]);
    }
}

// ---- bridging, group frames, uplink ----

#[test]
fn stations_talk_through_the_ap_each_with_its_own_key() {
    let mut net = Net::new(
        wpa2_cfg("pass word"),
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    let f = net.stas[0].data(sta_addr(2), b"hi two");
    let out = net.send(f);
    assert_eq!(out.len(), 1);
    // Forwarded From DS, SA station 1, encrypted with station 2's key: station 2 reads it,
    // station 1 cannot (it never even tries: not addressed to it), and station 1's key does
    // not open it.
    let Frame::Data(d) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!(
        (d.header.addr1, d.header.addr2, d.header.addr3),
        (sta_addr(2), BSSID, sta_addr(1))
    );
    assert!(ccmp::decrypt(net.stas[0].tk.as_ref().unwrap(), &out[0]).is_err());
    assert!(ccmp::decrypt(net.stas[1].tk.as_ref().unwrap(), &out[0]).is_ok());
    assert_eq!(net.stas[1].received.len(), 1);
    assert_eq!(net.stas[1].received[0].0.src, sta_addr(1));
    assert_eq!(&net.stas[1].received[0].0.payload[..], b"hi two");
    assert!(net.stas[0].received.is_empty());
    // And back.
    let f = net.stas[1].data(sta_addr(1), b"hi one");
    net.send(f);
    assert_eq!(&net.stas[0].received[0].0.payload[..], b"hi one");
    assert_eq!(net.ap.counters().forwarded, 2);
}

#[test]
fn group_frames_from_a_station_go_to_the_bss_with_the_gtk_and_to_the_uplink() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(
        cfg,
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    let f = net.stas[0].data(MacAddr::BROADCAST, b"arp who-has");
    let out = net.send(f);
    assert_eq!(out.len(), 1);
    assert_eq!(ccmp::peek_header(&out[0]).unwrap().key_id, 1);
    for sta in &net.stas {
        assert_eq!(&sta.received[0].0.payload[..], b"arp who-has");
        assert_eq!(sta.received[0].0.src, sta_addr(1));
    }
    let up = net.uplink();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].dst, MacAddr::BROADCAST);
}

#[test]
fn uplink_frames_reach_their_station_or_the_whole_bss() {
    let mut cfg = open_cfg();
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None), TestSta::new(2, None)]);
    net.join(0);
    net.join(1);
    net.ap
        .handle_uplink(net.now, eth_to(sta_addr(2), b"for two"));
    net.ap
        .handle_uplink(net.now, eth_to(MacAddr::BROADCAST, b"for all"));
    net.ap
        .handle_uplink(net.now, eth_to(sta_addr(9), b"nobody"));
    net.pump();
    assert_eq!(net.stas[0].received.len(), 1);
    assert_eq!(net.stas[1].received.len(), 2);
    assert_eq!(&net.stas[1].received[0].0.payload[..], b"for two");
    assert_eq!(net.ap.counters().dropped.no_route, 1);
    assert_eq!(net.ap.counters().uplink_rx_frames, 3);
    // Frames to addresses outside the BSS go up.
    let f = net.stas[0].data(PEER, b"out");
    net.send(f);
    assert_eq!(net.uplink().len(), 1);
}

#[test]
fn without_an_uplink_frames_leaving_the_bss_are_dropped() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    net.join(0);
    let f = net.stas[0].data(PEER, b"out");
    net.send(f);
    net.ap.handle_uplink(net.now, eth_to(sta_addr(1), b"in"));
    assert!(net.uplink().is_empty());
    assert!(net.pump().is_empty());
    assert_eq!(net.ap.counters().dropped.no_route, 1);
    assert_eq!(net.ap.counters().uplink_rx_frames, 0);
}

// ---- CCMP ----

#[test]
fn replayed_ccmp_frame_is_dropped() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    let f = net.stas[0].data(PEER, b"once");
    net.send(f.clone());
    net.send(f);
    assert_eq!(net.uplink().len(), 1);
    assert_eq!(net.ap.counters().dropped.replay, 1);
    let info = net.ap.station(sta_addr(1)).unwrap();
    assert_eq!(info.counters.dropped.replay, 1);
}

#[test]
fn tampered_and_unprotected_frames_from_a_wpa2_station_are_dropped() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    let f = net.stas[0].data(PEER, b"payload");
    let mut tampered = f.to_vec();
    let last = tampered.len() - 12;
    tampered[last] ^= 1;
    net.send(Bytes::from(tampered));
    let tk = net.stas[0].tk.take();
    let f = net.stas[0].data(PEER, b"in clear");
    net.send(f);
    net.stas[0].tk = tk;
    assert!(net.uplink().is_empty());
    let c = &net.ap.counters().dropped;
    assert_eq!((c.decrypt_failed, c.unprotected), (1, 1));
}

#[test]
fn protected_frames_on_an_open_bss_are_dropped() {
    let mut cfg = open_cfg();
    cfg.uplink = true;
    let mut net = Net::new(cfg, vec![TestSta::new(1, None)]);
    net.join(0);
    net.stas[0].tk = Some(TemporalKey::from_bytes([7; 16]));
    let f = net.stas[0].data(PEER, b"x");
    net.send(f);
    assert!(net.uplink().is_empty());
    assert_eq!(net.ap.counters().dropped.unprotected, 1);
}

// ---- GTK rekeying ----

#[test]
fn gtk_rekey_hands_the_new_key_to_every_station_then_uses_it() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(
        cfg,
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    net.events();
    let old = net.stas[0].gtks.get(&1).unwrap().0.clone();
    net.ap.rekey_group(net.now);
    net.pump();
    assert_eq!(net.events(), [ApEvent::GroupKeyRekeyed { key_id: 2 }]);
    assert_eq!(net.ap.group_key_id(), Some(2));
    let new = net.stas[0].gtks.get(&2).unwrap().0.clone();
    assert_ne!(old, new);
    assert_eq!(&new, &net.stas[1].gtks.get(&2).unwrap().0);
    net.ap
        .handle_uplink(net.now, eth_to(MacAddr::BROADCAST, b"new key"));
    let out = net.pump();
    assert_eq!(ccmp::peek_header(&out[0]).unwrap().key_id, 2);
    for sta in &net.stas {
        assert_eq!(&sta.received[0].0.payload[..], b"new key");
        assert_eq!(sta.undecryptable, 0);
    }
    assert_eq!(net.ap.counters().gtk_rekeys, 1);
}

#[test]
fn gtk_rekeys_on_its_interval_and_a_silent_station_is_removed_with_reason_16() {
    let mut cfg = wpa2_cfg("pass word");
    cfg.gtk_rekey_interval = Some(Duration::from_secs(60));
    let mut net = Net::new(
        cfg,
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    net.events();
    net.stas[1].mute = true;
    // Keep both stations alive while time passes.
    let mut t = Instant::ZERO;
    while t < Instant::from_millis(70_000) {
        t = net.ap.poll_timeout().unwrap();
        net.advance(t);
    }
    let events = net.events();
    assert!(events.contains(&ApEvent::Left {
        sta: sta_addr(2),
        reason: LeaveReason::Removed(ReasonCode::GroupKeyHandshakeTimeout)
    }));
    assert!(events.contains(&ApEvent::GroupKeyRekeyed { key_id: 2 }));
    assert_eq!(
        net.stas[1].deauth,
        Some(ReasonCode::GroupKeyHandshakeTimeout)
    );
    assert!(net.stas[0].gtks.contains_key(&2));
    assert_eq!(net.ap.group_key_id(), Some(2));
}

#[test]
fn a_station_joining_during_a_rekey_gets_the_new_key_too() {
    let mut net = Net::new(
        wpa2_cfg("pass word"),
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.stas[0].mute = true;
    net.ap.rekey_group(net.now);
    net.pump();
    net.join(1);
    assert!(net.stas[1].gtks.contains_key(&2), "handed the pending GTK");
    assert_eq!(
        net.ap.group_key_id(),
        Some(1),
        "not in use until all hold it"
    );
    net.stas[0].mute = false;
    // The retransmitted group message 1 (after a second) reaches station 1 this time.
    while net.ap.group_key_id() == Some(1) {
        let at = net.ap.poll_timeout().unwrap();
        assert!(at < Instant::from_millis(2000));
        net.advance(at);
    }
    assert_eq!(net.ap.group_key_id(), Some(2));
    assert!(net.stas[0].gtks.contains_key(&2));
}

// ---- robustness and hygiene ----

#[test]
fn random_bytes_never_panic_and_are_counted_when_addressed_to_us() {
    let mut ap = SoftAp::new(wpa2_cfg("pass word"), Instant::ZERO, 1).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for i in 0..2000u32 {
        let len = (rng.next_u32() % 80) as usize;
        let mut buf = vec![0u8; len];
        rng.fill_bytes(&mut buf);
        if i % 2 == 0 && len >= 10 {
            buf[4..10].copy_from_slice(&BSSID.0);
        }
        ap.handle_rx(
            Instant::from_micros(u64::from(i)),
            &Bytes::from(buf),
            meta(),
        );
        while ap.poll_transmit().is_some() {}
    }
    // Frames on another channel are not heard at all.
    let mut other = meta();
    other.channel = ch(6);
    let before = ap.counters().rx_frames;
    ap.handle_rx(Instant::ZERO, &probe(b"", None), other);
    assert_eq!(ap.counters().rx_frames, before);
    assert!(ap.poll_transmit().is_none());
}

#[test]
fn debug_output_never_shows_the_psk() {
    let cfg = wpa2_cfg("pass word");
    let ApSecurity::Wpa2Psk { psk } = &cfg.security else {
        panic!()
    };
    let hex = psk.to_hex();
    let mut net = Net::new(cfg.clone(), vec![TestSta::new(1, Some("pass word"))]);
    net.join(0);
    for text in [format!("{cfg:?}"), format!("{:?}", net.ap)] {
        assert!(!text.contains(&hex));
        assert!(!text.contains("112, 97, 115, 115"), "PSK bytes: {text}");
        assert!(text.contains("redacted"));
    }
}

#[test]
fn invalid_configs_are_refused() {
    let mut cfg = open_cfg();
    cfg.beacon_interval_tu = 0;
    assert_eq!(
        SoftAp::new(cfg, Instant::ZERO, 1).err(),
        Some(ApConfigError::ZeroBeaconInterval)
    );
    let mut cfg = open_cfg();
    cfg.max_stations = 2008;
    assert_eq!(cfg.validate(), Err(ApConfigError::MaxStations(2008)));
    let mut cfg = open_cfg();
    cfg.bssid = MacAddr::BROADCAST;
    assert!(matches!(
        cfg.validate(),
        Err(ApConfigError::BssidNotUnicast(_))
    ));
}

#[test]
fn ps_poll_of_a_wrong_aid_is_dropped() {
    let mut net = Net::new(open_cfg(), vec![TestSta::new(1, None)]);
    net.join(0);
    let p = PsPoll::new(5, BSSID, sta_addr(1));
    let f = Bytes::from(Frame::Control(ControlFrame::PsPoll(p)).to_vec());
    assert!(net.send(f).is_empty());
    assert_eq!(net.ap.counters().dropped.malformed, 1);
}

#[test]
fn a_retransmitted_association_request_does_not_restart_the_handshake() {
    let mut sta = TestSta::new(1, Some("correct horse"));
    sta.mute = true;
    let mut net = Net::new(wpa2_cfg("correct horse"), vec![sta]);
    net.join(0);
    assert_eq!(net.events().len(), 1, "associated");
    // The Ack of the request was lost: the station's MAC sends it again, Retry bit set.
    let mut again = net.stas[0].assoc(Some(Rsne::wpa2_psk())).to_vec();
    again[1] |= FcFlags::RETRY;
    let out = net.send(Bytes::from(again));
    assert!(out.is_empty(), "a duplicate was answered: {out:?}");
    assert!(net.events().is_empty());
    // A new request (no Retry bit) is a new association.
    let f = net.stas[0].assoc(Some(Rsne::wpa2_psk()));
    assert!(!net.send(f).is_empty());
}

/// The A-MSDU station `i` sends carrying `frames` (To DS, TID 0, sequence `seq`), protected
/// with its key, as a vwifi station builds it.
fn amsdu_from(net: &mut Net, i: usize, seq: u16, frames: &[EthernetFrame]) -> Bytes {
    let sta = &mut net.stas[i];
    let mut h = amsdu::data_header(DsDirection::ToAp { bssid: BSSID }, sta.addr, 0);
    h.sequence = SequenceControl::new(seq);
    let mut plain = Vec::new();
    amsdu::emit_ethernet(&h, frames, &mut plain);
    sta.tx_pn += 1;
    Bytes::from(ccmp::encrypt(sta.tk.as_ref().unwrap(), 0, sta.tx_pn, &plain).unwrap())
}

/// The payloads station `i` was delivered, in order.
fn received_payloads(net: &Net, i: usize) -> Vec<&[u8]> {
    net.stas[i]
        .received
        .iter()
        .map(|(e, _)| &e.payload[..])
        .collect()
}

fn ipv4(src: MacAddr, dst: MacAddr, payload: &'static [u8]) -> EthernetFrame {
    EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from_static(payload),
    }
}

const HT_20: crate::phy::PhyCaps = crate::phy::PhyCaps {
    standard: crate::phy::Standard::Ht,
    width: crate::phy::Width::Mhz20,
    nss: 1,
};

fn ht_wpa2_net(second_ht: bool) -> Net {
    wpa2_net_of(HT_20, second_ht)
}

/// A WPA2 BSS of `phy` with stations 1 and 2 joined, station 2 with HT Capabilities if
/// `second_ht`.
fn wpa2_net_of(phy: crate::phy::PhyCaps, second_ht: bool) -> Net {
    let mut cfg = wpa2_cfg("pass word");
    cfg.phy = phy;
    let mut two = TestSta::new(2, Some("pass word"));
    two.ht = second_ht;
    let mut net = Net::new(cfg, vec![TestSta::new(1, Some("pass word")), two]);
    net.join(0);
    net.join(1);
    net
}

#[test]
fn a_protected_amsdu_is_opened_once_and_a_subframe_with_a_foreign_sa_is_dropped() {
    let mut net = ht_wpa2_net(false);
    let (one, two) = (sta_addr(1), sta_addr(2));
    let frames = [
        ipv4(one, two, b"first"),
        // Injected: a source that is not the station that sent the A-MSDU.
        ipv4(PEER, two, b"spoofed"),
        ipv4(one, two, b"second"),
    ];
    let raw = amsdu_from(&mut net, 0, 40, &frames);
    let out = net.send(raw.clone());
    // Station 2 took no A-MSDUs in its association: two plain frames, in order.
    assert_eq!(out.len(), 2);
    assert_eq!(net.stas[1].amsdus, 0);
    let got = received_payloads(&net, 1);
    assert_eq!(got, [&b"first"[..], &b"second"[..]]);
    assert!(net.stas[1].received.iter().all(|(e, _)| e.src == one));
    let c = net.ap.counters();
    assert_eq!((c.amsdu_rx, c.amsdu_rx_msdus, c.amsdu_refused), (1, 2, 1));
    assert_eq!((c.amsdu_tx, c.forwarded), (0, 2));
    // Replayed under a new sequence number (outside the MIC): one PN, one replay.
    let mut again = raw.to_vec();
    again[22] = 0x50;
    assert!(net.send(Bytes::from(again)).is_empty());
    assert_eq!(net.ap.counters().dropped.get(DropReason::Replay), 1);
    assert_eq!(net.stas[1].received.len(), 2);
}

#[test]
fn a_flipped_amsdu_present_bit_on_a_protected_frame_forwards_nothing() {
    // The FragAttacks A-MSDU injection: the bit is outside the MIC (non-SPP), so the frame
    // decrypts, and its LLC/SNAP header and payload are read as subframe headers; the SA of
    // the "subframe" is not the station's.
    let mut net = ht_wpa2_net(true);
    let eth = ipv4(
        sta_addr(1),
        sta_addr(2),
        &[0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0],
    );
    let mut d = eth.to_data(
        DsDirection::ToAp { bssid: BSSID },
        Some(QosControl::with_tid(0)),
    );
    d.header.sequence = SequenceControl::new(9);
    let plain = Frame::Data(d).to_vec();
    net.stas[0].tx_pn += 1;
    let tk = net.stas[0].tk.clone().unwrap();
    let mut sealed = ccmp::encrypt(&tk, 0, net.stas[0].tx_pn, &plain).unwrap();
    sealed[24] |= 0x80;
    assert!(ccmp::decrypt(&tk, &sealed).is_ok());
    assert!(net.send(Bytes::from(sealed)).is_empty());
    assert!(net.stas[1].received.is_empty());
    assert_eq!(net.ap.counters().forwarded, 0);
}

#[test]
fn msdus_onward_to_a_station_that_takes_amsdus_go_in_one_again() {
    let mut net = ht_wpa2_net(true);
    let (one, two) = (sta_addr(1), sta_addr(2));
    let frames = [
        ipv4(one, two, b"a"),
        ipv4(one, PEER, b"to nobody"),
        ipv4(one, two, b"b"),
        ipv4(one, two, b"c"),
    ];
    let raw = amsdu_from(&mut net, 0, 41, &frames);
    let out = net.send(raw);
    assert_eq!(out.len(), 1, "one A-MSDU to station 2");
    assert_eq!(net.stas[1].amsdus, 1);
    let got = received_payloads(&net, 1);
    assert_eq!(got, [&b"a"[..], &b"b"[..], &b"c"[..]]);
    // Sealed for station 2 alone, once.
    assert!(ccmp::decrypt(net.stas[0].tk.as_ref().unwrap(), &out[0]).is_err());
    let c = net.ap.counters();
    assert_eq!((c.amsdu_tx, c.amsdu_tx_msdus, c.forwarded), (1, 3, 3));
    assert_eq!(c.dropped.get(DropReason::NoRoute), 1);
    // A legacy BSS never sends one, whatever the station says.
    let mut net = wpa2_net_of(crate::phy::PhyCaps::LEGACY, true);
    let raw = amsdu_from(&mut net, 0, 42, &frames);
    let out = net.send(raw);
    assert_eq!(out.len(), 3);
    assert_eq!(net.stas[1].amsdus, 0);
    assert_eq!(net.ap.counters().amsdu_tx, 0);
}

#[test]
fn an_amsdu_all_for_one_station_goes_on_with_its_body_unchanged() {
    let mut net = ht_wpa2_net(true);
    let (one, two) = (sta_addr(1), sta_addr(2));
    let frames = [
        ipv4(one, two, b"first"),
        ipv4(one, two, b"second, longer"),
        ipv4(one, two, b"third"),
    ];
    let raw = amsdu_from(&mut net, 0, 43, &frames);
    let sent = ccmp::decrypt(net.stas[0].tk.as_ref().unwrap(), &raw).unwrap();
    let out = net.send(raw);
    assert_eq!(out.len(), 1, "one A-MSDU to station 2");
    let got = ccmp::decrypt(net.stas[1].tk.as_ref().unwrap(), &out[0]).unwrap();
    let (h_in, h_out) = (
        Header::parse(&mut crate::wire::Reader::new(&sent.mpdu)).unwrap(),
        Header::parse(&mut crate::wire::Reader::new(&got.mpdu)).unwrap(),
    );
    assert_eq!(
        got.mpdu[h_out.buffer_len()..],
        sent.mpdu[h_in.buffer_len()..],
        "the subframes as the station sent them"
    );
    assert_eq!((h_out.addr1, h_out.addr2, h_out.addr3), (two, BSSID, BSSID));
    assert!(h_out.flags().from_ds() && !h_out.flags().to_ds());
    assert!(h_out.qos.is_some_and(QosControl::amsdu_present));
    assert_eq!(
        received_payloads(&net, 1),
        [&b"first"[..], &b"second, longer"[..], &b"third"[..]]
    );
    let c = net.ap.counters();
    assert_eq!(
        (
            c.amsdu_rx,
            c.amsdu_rx_msdus,
            c.amsdu_tx,
            c.amsdu_tx_msdus,
            c.forwarded
        ),
        (1, 3, 1, 3, 3)
    );
    // An EAPOL subframe among them is dropped, the others go on without it.
    let mut eapol = ipv4(one, two, b"not in an A-MSDU");
    eapol.ethertype = EtherType::Eapol;
    let raw = amsdu_from(
        &mut net,
        0,
        44,
        &[frames[0].clone(), eapol, frames[2].clone()],
    );
    assert_eq!(net.send(raw).len(), 1);
    let c = net.ap.counters();
    assert_eq!((c.amsdu_refused, c.amsdu_tx_msdus), (1, 5));
}

// ---- frames received in a batch (an A-MPDU's MPDUs), decrypted together ----

/// A WPA2 AP with an uplink and stations 1 and 2 joined.
fn two_joined() -> Net {
    let mut cfg = wpa2_cfg("pass word");
    cfg.uplink = true;
    let mut net = Net::new(
        cfg,
        vec![
            TestSta::new(1, Some("pass word")),
            TestSta::new(2, Some("pass word")),
        ],
    );
    net.join(0);
    net.join(1);
    net.events();
    net
}

fn batch(frames: &[Bytes]) -> Vec<(Bytes, RxMeta)> {
    frames.iter().map(|f| (f.clone(), meta())).collect()
}

fn payloads(up: &[EthernetFrame]) -> Vec<Vec<u8>> {
    up.iter().map(|e| e.payload.to_vec()).collect()
}

#[test]
fn a_batch_of_two_stations_frames_is_decrypted_together_and_passed_in_order() {
    let mut net = two_joined();
    let frames = vec![
        net.stas[0].data(PEER, b"a1"),
        net.stas[1].data(PEER, b"b1"),
        net.stas[0].data(PEER, b"a2"),
        net.stas[0].data(PEER, b"a3"),
        net.stas[1].data(PEER, b"b2"),
    ];
    let before = net.ap.station(sta_addr(2)).unwrap().counters.rx_frames;
    net.ap.handle_rx_batch(net.now, &batch(&frames));
    assert_eq!(
        payloads(&net.uplink()),
        [&b"a1"[..], b"b1", b"a2", b"a3", b"b2"]
    );
    // Each one's key: five taken from the batch, none decrypted on its own.
    assert_eq!(net.ap.batch_decrypted(), 5);
    assert_eq!(net.ap.counters().dropped.total(), 0);
    let c = &net.ap.station(sta_addr(2)).unwrap().counters;
    assert_eq!(c.rx_frames - before, 2);
}

#[test]
fn a_replayed_frame_in_a_batch_is_dropped_and_counted_and_the_others_pass() {
    let mut net = two_joined();
    let a1 = net.stas[0].data(PEER, b"a1");
    let a2 = net.stas[0].data(PEER, b"a2");
    let a3 = net.stas[0].data(PEER, b"a3");
    let a4 = net.stas[0].data(PEER, b"a4");
    // a2 after a3: its PN is behind the last accepted (the check is per frame, in order); a3
    // again: the same PN.
    net.ap
        .handle_rx_batch(net.now, &batch(&[a1, a3.clone(), a2, a3, a4]));
    assert_eq!(payloads(&net.uplink()), [&b"a1"[..], b"a3", b"a4"]);
    assert_eq!(net.ap.counters().dropped.replay, 2);
    let info = net.ap.station(sta_addr(1)).unwrap();
    assert_eq!(info.counters.dropped.replay, 2);
}

#[test]
fn a_frame_with_a_bad_mic_in_the_middle_of_a_batch_is_dropped_alone() {
    let mut net = two_joined();
    let a1 = net.stas[0].data(PEER, b"a1");
    let mut a2 = net.stas[0].data(PEER, b"a2").to_vec();
    let last = a2.len() - 1;
    a2[last] ^= 0x40;
    let b1 = net.stas[1].data(PEER, b"b1");
    let a3 = net.stas[0].data(PEER, b"a3");
    net.ap
        .handle_rx_batch(net.now, &batch(&[a1, Bytes::from(a2), b1, a3]));
    assert_eq!(payloads(&net.uplink()), [&b"a1"[..], b"b1", b"a3"]);
    let c = &net.ap.counters().dropped;
    assert_eq!((c.decrypt_failed, c.replay), (1, 0));
    assert_eq!(net.ap.batch_decrypted(), 4);
}

#[test]
fn a_batch_does_what_the_same_frames_one_by_one_do() {
    let make = || {
        let mut net = two_joined();
        let mut frames = Vec::new();
        for i in 0..12u8 {
            let sta = usize::from(i % 3 == 0);
            // Some to the uplink, some forwarded to the other station (sealed for it).
            let dst = match i % 4 {
                1 => sta_addr(2 - sta as u8),
                _ => PEER,
            };
            frames.push(net.stas[sta].data(dst, b"payload"));
        }
        // A replay, a tampered frame, an unprotected one and one from a stranger among them.
        frames.push(frames[3].clone());
        let mut bad = frames[5].to_vec();
        bad[30] ^= 1;
        frames.insert(6, Bytes::from(bad));
        let tk = net.stas[1].tk.take();
        frames.insert(2, net.stas[1].data(PEER, b"in clear"));
        net.stas[1].tk = tk;
        let mut stranger = TestSta::new(9, Some("pass word"));
        frames.push(stranger.data(PEER, b"who?"));
        (net, frames)
    };
    let (mut one_by_one, frames) = make();
    for f in &frames {
        one_by_one.ap.handle_rx(one_by_one.now, f, meta());
    }
    let (mut batched, frames) = make();
    batched.ap.handle_rx_batch(batched.now, &batch(&frames));
    assert_eq!(payloads(&batched.uplink()), payloads(&one_by_one.uplink()));
    assert_eq!(batched.ap.counters(), one_by_one.ap.counters());
    for addr in [sta_addr(1), sta_addr(2)] {
        assert_eq!(
            batched.ap.station(addr).map(|s| s.counters),
            one_by_one.ap.station(addr).map(|s| s.counters)
        );
    }
    // The same frames on the air, byte for byte (those forwarded sealed together in the
    // batch), and the stations take them.
    let (sent, want) = (batched.pump(), one_by_one.pump());
    assert!(sent.len() >= 3, "{}", sent.len());
    assert_eq!(sent, want);
    assert_eq!(
        batched.stas[0].undecryptable + batched.stas[1].undecryptable,
        0
    );
    assert_eq!(one_by_one.ap.batch_decrypted(), 0);
    assert!(batched.ap.batch_decrypted() >= 10);
}
