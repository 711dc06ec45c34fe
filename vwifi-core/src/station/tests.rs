//! The station against scripted access points, on a virtual clock.
//!
//! `ScriptedAp` is a small AP built from `wire` and `handshake::Authenticator` (not `sim::ap`):
//! beacons, probe responses, open-system authentication and association with scriptable status
//! codes, the WPA2 authenticator, CCMP both ways, and a record of what it received. `World`
//! plays the medium and the scheduler: it hands frames between the station and the APs on the
//! channel the radio is tuned to, answers `WantChannel` at once (off, then on), reports
//! acknowledgements, and fires timers in order.

use std::collections::VecDeque;

use core::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::crypto::ccmp::{self, ReplayCounters};
use crate::crypto::{derive_psk, Gtk, Passphrase, Psk, TemporalKey};
use crate::handshake::{self, Authenticator, AuthenticatorConfig, RetryPolicy};
use crate::proto::{Event, StationState};
use crate::radio::{RxMeta, TxStatus};
use crate::time::Instant;
use crate::wire::{
    AuthAlgorithm, Authentication, Beacon, CapabilityInfo, DataFrame, Deauthentication,
    DsDirection, Element, ElementList, EtherType, Frame, MgmtBody, MgmtFrame, Rate, Rsne, Ssid,
};

const STA: MacAddr = MacAddr([0x02, 0x5a, 0, 0, 0, 0x01]);
const AP1: MacAddr = MacAddr([0x02, 0xa0, 0, 0, 0, 0x01]);
const AP2: MacAddr = MacAddr([0x02, 0xa0, 0, 0, 0, 0x02]);
const PEER: MacAddr = MacAddr([0x02, 0x77, 0, 0, 0, 0x09]);

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap()
}

fn ssid(s: &str) -> proto::Ssid {
    proto::Ssid::try_from(s).unwrap()
}

/// A PSK without PBKDF2 (4096 rounds per test would be slow in debug builds); the passphrase
/// path is covered by `wpa2_join_with_passphrase_derives_the_psk`.
fn psk(tag: u8) -> Psk {
    Psk::from_bytes([tag; 32])
}

fn element_bytes(e: Element) -> Vec<u8> {
    let mut out = Vec::new();
    e.emit(&mut out);
    out
}

fn emit(frame: impl Into<Frame>) -> Bytes {
    Bytes::from(frame.into().to_vec())
}

/// What an AP holds for its one station.
struct ApClient {
    mac: MacAddr,
    auth: Option<Authenticator>,
    ptk: Option<TemporalKey>,
    tx_pn: u64,
    rx: ReplayCounters,
}

struct ScriptedAp {
    bssid: MacAddr,
    ssid: &'static str,
    channel: Channel,
    psk: Option<Psk>,
    signal_dbm: i8,
    beacon_interval: u16,
    next_beacon: Instant,
    /// Beacons sent so far: every second one is a DTIM beacon (DTIM period 2).
    beacons: u64,
    /// Whether the AP is on the air at all (beacons, hears, answers).
    on: bool,
    answer_auth: bool,
    auth_status: StatusCode,
    assoc_status: StatusCode,
    /// Deauthenticate a station whose handshake failed (as hostapd does).
    deauth_on_handshake_failure: bool,
    /// Start the 4-way handshake after association (WPA2).
    handshake: bool,
    gtk: Gtk,
    gtk_pn: u64,
    client: Option<ApClient>,
    rng: ChaCha20Rng,
    seq: u16,
    out: VecDeque<Bytes>,
    // What the AP received.
    probes: usize,
    auths: usize,
    assocs: usize,
    data: Vec<EthernetFrame>,
    nulls: Vec<bool>,
    deauths: Vec<ReasonCode>,
    protected_data: usize,
}

impl ScriptedAp {
    fn new(bssid: MacAddr, ssid: &'static str, channel: u8, psk: Option<Psk>) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(u64::from(bssid.0[5]));
        let gtk = Gtk::generate(&mut rng, 1).unwrap();
        Self {
            bssid,
            ssid,
            channel: ch(channel),
            psk,
            signal_dbm: -45,
            beacon_interval: 100,
            next_beacon: Instant::from_millis(3),
            beacons: 0,
            on: true,
            answer_auth: true,
            auth_status: StatusCode::Success,
            assoc_status: StatusCode::Success,
            deauth_on_handshake_failure: true,
            handshake: true,
            gtk,
            gtk_pn: 0,
            client: None,
            rng,
            seq: 0,
            out: VecDeque::new(),
            probes: 0,
            auths: 0,
            assocs: 0,
            data: Vec::new(),
            nulls: Vec::new(),
            deauths: Vec::new(),
            protected_data: 0,
        }
    }

    fn open(bssid: MacAddr, ssid: &'static str, channel: u8) -> Self {
        Self::new(bssid, ssid, channel, None)
    }

    fn wpa2(bssid: MacAddr, ssid: &'static str, channel: u8, psk: Psk) -> Self {
        Self::new(bssid, ssid, channel, Some(psk))
    }

    fn rsne(&self) -> Option<Vec<u8>> {
        self.psk
            .as_ref()
            .map(|_| element_bytes(Element::Rsn(Rsne::wpa2_psk())))
    }

    fn beacon_body(&self) -> Beacon {
        let mut elements = ElementList::new();
        elements.push(Element::Ssid(Ssid::try_from(self.ssid).unwrap()));
        elements.push(Element::SupportedRates(vec![
            Rate::new(2, true),
            Rate::new(4, true),
            Rate::new(11, true),
            Rate::new(22, true),
        ]));
        elements.push(Element::DsParameterSet {
            channel: self.channel.number(),
        });
        let mut cap = CapabilityInfo::ESS;
        if self.psk.is_some() {
            elements.push(Element::Rsn(Rsne::wpa2_psk()));
            cap |= CapabilityInfo::PRIVACY;
        }
        Beacon {
            timestamp: 0,
            beacon_interval: self.beacon_interval,
            capability: CapabilityInfo(cap),
            elements,
        }
    }

    fn mgmt(&mut self, da: MacAddr, body: MgmtBody) -> Bytes {
        let mut f = MgmtFrame::new(da, self.bssid, self.bssid, body);
        f.header.sequence = crate::wire::SequenceControl::new(self.seq);
        self.seq = self.seq.wrapping_add(1);
        emit(f)
    }

    fn send_mgmt(&mut self, da: MacAddr, body: MgmtBody) {
        let f = self.mgmt(da, body);
        self.out.push_back(f);
    }

    /// A data frame From DS carrying `eth`, CCMP-protected with the PTK (unicast) or the GTK.
    fn data_frame(&mut self, eth: &EthernetFrame) -> Bytes {
        let mut d = eth.to_data(DsDirection::FromAp { bssid: self.bssid }, None);
        d.header.sequence = crate::wire::SequenceControl::new(self.seq);
        self.seq = self.seq.wrapping_add(1);
        let plain = Frame::Data(d).to_vec();
        if eth.dst.is_group() {
            if self.psk.is_none() {
                return Bytes::from(plain);
            }
            self.gtk_pn += 1;
            let f = ccmp::encrypt(self.gtk.key(), self.gtk.key_id(), self.gtk_pn, &plain);
            return Bytes::from(f.unwrap());
        }
        match self.client.as_mut().and_then(|c| {
            let tk = c.ptk.as_ref()?;
            c.tx_pn += 1;
            Some(ccmp::encrypt(tk, 0, c.tx_pn, &plain).unwrap())
        }) {
            Some(f) => Bytes::from(f),
            None => Bytes::from(plain),
        }
    }

    fn send_data(&mut self, eth: EthernetFrame) {
        let f = self.data_frame(&eth);
        self.out.push_back(f);
    }

    fn deauth(&mut self, reason: ReasonCode) {
        if let Some(c) = self.client.take() {
            self.send_mgmt(
                c.mac,
                MgmtBody::Deauthentication(Deauthentication::new(reason)),
            );
        }
    }

    fn drain_authenticator(&mut self, now: Instant) {
        loop {
            let Some(c) = self.client.as_mut() else {
                return;
            };
            let Some(out) = c.auth.as_mut().and_then(|a| a.poll_output()) else {
                return;
            };
            let sta = c.mac;
            match out {
                handshake::Output::Send(eapol) => {
                    let eth = EthernetFrame {
                        dst: sta,
                        src: self.bssid,
                        ethertype: EtherType::Eapol,
                        payload: Bytes::from(eapol),
                    };
                    self.send_data(eth);
                }
                handshake::Output::InstallPairwise(tk) => {
                    c.ptk = Some(tk);
                    c.tx_pn = 0;
                    c.rx = ReplayCounters::new();
                }
                handshake::Output::Failed(e) => {
                    if self.deauth_on_handshake_failure {
                        self.deauth(ReasonCode::from(e.reason_code()));
                    } else if let Some(c) = &mut self.client {
                        c.auth = None;
                    }
                }
                _ => {}
            }
            let _ = now;
        }
    }

    fn handle_rx(&mut self, now: Instant, raw: &Bytes) {
        let Ok(frame) = Frame::parse_bytes(raw) else {
            return;
        };
        match frame {
            Frame::Management(m) => self.on_mgmt(now, m),
            Frame::Data(d) => self.on_data(now, raw, d),
            _ => {}
        }
    }

    fn on_mgmt(&mut self, now: Instant, m: MgmtFrame) {
        let reassoc = matches!(m.body, MgmtBody::ReassocRequest(_));
        let sa = m.header.addr2;
        let for_us = m.header.addr1 == self.bssid;
        match m.body {
            MgmtBody::ProbeRequest(p) => {
                self.probes += 1;
                let wanted = p.elements.ssid().map(|s| s.as_bytes().to_vec());
                if wanted
                    .as_deref()
                    .is_none_or(|s| s.is_empty() || s == self.ssid.as_bytes())
                {
                    let body = MgmtBody::ProbeResponse(self.beacon_body());
                    self.send_mgmt(sa, body);
                }
            }
            MgmtBody::Authentication(_) if for_us => {
                self.auths += 1;
                if self.answer_auth {
                    let body = Authentication::open_system(2, self.auth_status);
                    self.send_mgmt(sa, MgmtBody::Authentication(body));
                }
            }
            MgmtBody::AssocRequest(crate::wire::AssocRequest { elements, .. })
            | MgmtBody::ReassocRequest(crate::wire::ReassocRequest { elements, .. })
                if for_us =>
            {
                self.assocs += 1;
                let body = crate::wire::AssocResponse {
                    capability: CapabilityInfo(CapabilityInfo::ESS),
                    status: self.assoc_status,
                    association_id: crate::wire::AssocResponse::aid_field(1),
                    elements: ElementList::new(),
                };
                self.send_mgmt(
                    sa,
                    if reassoc {
                        MgmtBody::ReassocResponse(body)
                    } else {
                        MgmtBody::AssocResponse(body)
                    },
                );
                if !self.assoc_status.is_success() {
                    return;
                }
                let mut client = ApClient {
                    mac: sa,
                    auth: None,
                    ptk: None,
                    tx_pn: 0,
                    rx: ReplayCounters::new(),
                };
                if let (Some(psk), Some(own), true) =
                    (self.psk.clone(), self.rsne(), self.handshake)
                {
                    let peer = elements
                        .rsn()
                        .map(|r| element_bytes(Element::Rsn(r.clone())));
                    let cfg = AuthenticatorConfig {
                        aa: self.bssid,
                        spa: sa,
                        pmk: psk,
                        own_rsne: own,
                        peer_rsne: peer.unwrap_or_default(),
                        gtk: self.gtk.clone(),
                        gtk_rsc: self.gtk_pn,
                        retry: RetryPolicy::default(),
                    };
                    client.auth = Some(Authenticator::new(cfg, now, &mut self.rng).unwrap());
                }
                self.client = Some(client);
                self.drain_authenticator(now);
            }
            MgmtBody::Deauthentication(d) if for_us => {
                self.deauths.push(d.reason);
                self.client = None;
            }
            _ => {}
        }
    }

    fn on_data(&mut self, now: Instant, raw: &Bytes, d: DataFrame) {
        if d.header.addr1 != self.bssid || !d.header.flags().to_ds() {
            return;
        }
        if d.is_null() {
            self.nulls.push(d.power_management());
            return;
        }
        let plain = if d.header.flags().protected() {
            self.protected_data += 1;
            let Some(c) = self.client.as_mut() else {
                return;
            };
            let Some(tk) = c.ptk.as_ref() else {
                return;
            };
            let dec = ccmp::decrypt(tk, raw).unwrap();
            c.rx.accept(dec.tid, dec.pn).unwrap();
            DataFrame::parse(&dec.mpdu).unwrap()
        } else {
            d
        };
        let eth = EthernetFrame::from_data(&plain).unwrap();
        if eth.ethertype == EtherType::Eapol {
            if let Some(a) = self.client.as_mut().and_then(|c| c.auth.as_mut()) {
                let _ = a.handle_eapol(now, &eth.payload);
            }
            self.drain_authenticator(now);
        } else {
            self.data.push(eth);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let auth = self
            .client
            .as_ref()
            .and_then(|c| c.auth.as_ref())
            .and_then(|a| a.poll_timeout());
        let beacon = self.on.then_some(self.next_beacon);
        [auth, beacon].into_iter().flatten().min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.on {
            return;
        }
        if now >= self.next_beacon {
            let mut beacon = self.beacon_body();
            // The TSF counts from the first TBTT (3 ms); the TIM counts down to the DTIM.
            beacon.timestamp = now.as_micros() - 3_000;
            let dtim_count = (self.beacons % 2) as u8;
            beacon
                .elements
                .push(Element::Tim(crate::wire::Tim::from_aids(
                    dtim_count,
                    2,
                    false,
                    [],
                )));
            self.beacons += 1;
            self.send_mgmt(MacAddr::BROADCAST, MgmtBody::Beacon(beacon));
            self.next_beacon = now + crate::time::TU * u32::from(self.beacon_interval);
        }
        if let Some(a) = self.client.as_mut().and_then(|c| c.auth.as_mut()) {
            a.handle_timeout(now);
        }
        self.drain_authenticator(now);
    }
}

/// The station, its APs, and a radio that follows the station's wishes.
struct World {
    now: Instant,
    sta: Station,
    aps: Vec<ScriptedAp>,
    /// The channel the radio is tuned to.
    radio: Option<Channel>,
    /// Whether the world retunes the radio when the station asks.
    follow: bool,
    events: Vec<(Instant, Event)>,
    /// Events before this index were already looked at by `run_until_event`.
    mark: usize,
    delivered: Vec<EthernetFrame>,
    scans: Vec<Vec<BssInfo>>,
    /// Every frame the station transmitted, with the time and channel.
    sent: Vec<(Instant, Channel, Bytes)>,
    /// The DTIM timings the station reported: (when, next DTIM, interval).
    dtims: Vec<(Instant, Instant, Duration)>,
}

impl World {
    fn new(aps: Vec<ScriptedAp>) -> Self {
        let mut cfg = StationConfig::new(STA, [7; 32]);
        cfg.scan.channels = vec![ch(1), ch(6), ch(11), ch(36)];
        Self::with_config(cfg, aps)
    }

    fn with_config(cfg: StationConfig, aps: Vec<ScriptedAp>) -> Self {
        Self {
            now: Instant::ZERO,
            sta: Station::new(cfg),
            aps,
            radio: None,
            follow: true,
            events: Vec::new(),
            mark: 0,
            delivered: Vec::new(),
            scans: Vec::new(),
            sent: Vec::new(),
            dtims: Vec::new(),
        }
    }

    fn command(&mut self, c: Command) {
        self.mark = self.events.len();
        self.sta.handle_command(self.now, c).unwrap();
        self.pump();
    }

    fn connect(&mut self, name: &str, credentials: Credentials, auto_reconnect: bool) {
        self.command(Command::Connect {
            ssid: ssid(name),
            bssid: None,
            credentials,
            auto_reconnect,
        });
    }

    fn tune(&mut self, c: Channel) {
        if self.radio == Some(c) {
            return;
        }
        if self.radio.is_some() {
            self.sta.off_channel(self.now);
            self.pump_station();
        }
        self.radio = Some(c);
        self.sta.on_channel(self.now, c);
    }

    /// Drains the station's outputs once; returns whether anything came out.
    fn pump_station(&mut self) -> bool {
        let mut any = false;
        while let Some(out) = self.sta.poll_output() {
            any = true;
            match out {
                StationOutput::Transmit { frame, channel } => {
                    assert_eq!(Some(channel), self.radio, "transmit off the tuned channel");
                    self.sent.push((self.now, channel, frame.clone()));
                    let mut heard = false;
                    for ap in &mut self.aps {
                        if ap.on && ap.channel == channel {
                            ap.handle_rx(self.now, &frame);
                            heard |= frame.get(4..10) == Some(&ap.bssid.0[..]);
                        }
                    }
                    let unicast = frame.get(4).is_some_and(|b| b & 1 == 0);
                    if unicast {
                        let status = match heard {
                            true => TxStatus::Acked { retries: 0 },
                            false => TxStatus::NotAcked,
                        };
                        self.sta.handle_tx_status(self.now, &frame, status);
                    }
                }
                StationOutput::WantChannel(Some(c)) if self.follow => self.tune(c),
                StationOutput::WantChannel(_) => {}
                StationOutput::Deliver(f) => self.delivered.push(f),
                StationOutput::DeliverSealed(s) => {
                    // The receive stage, here at once.
                    let mut u = crate::station::rx_stage::Unsealed::default();
                    crate::station::rx_stage::open(&[s], &mut u);
                    self.delivered.extend(u.frames);
                    for eth in &u.eapol {
                        self.sta.receive_staged_eapol(self.now, eth);
                    }
                }
                StationOutput::Event(e) => self.events.push((self.now, e)),
                StationOutput::ScanDone(r) => self.scans.push(r),
                StationOutput::DtimTiming { next, interval } => {
                    self.dtims.push((self.now, next, interval));
                }
            }
        }
        any
    }

    fn pump_aps(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.aps.len() {
            while let Some(f) = self.aps[i].out.pop_front() {
                any = true;
                let ap = &self.aps[i];
                if self.radio == Some(ap.channel) && ap.on {
                    // Beacons go out at the lowest basic rate, everything else at 54 Mb/s.
                    let beacon = f.first() == Some(&0x80);
                    let meta = RxMeta {
                        channel: ap.channel,
                        signal_dbm: ap.signal_dbm,
                        rate_kbps: if beacon { 1_000 } else { 54_000 },
                    };
                    self.sta.handle_frame(self.now, &f, meta);
                }
            }
        }
        any
    }

    fn pump(&mut self) {
        for _ in 0..10_000 {
            let a = self.pump_station();
            let b = self.pump_aps();
            if !a && !b {
                return;
            }
        }
        panic!("livelock at {:?}", self.now);
    }

    /// Runs timers in order until `until`.
    fn run_until(&mut self, until: Instant) {
        self.pump();
        for _ in 0..1_000_000 {
            let next = [self.sta.poll_timeout()]
                .into_iter()
                .chain(self.aps.iter().map(ScriptedAp::poll_timeout))
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.sta.handle_timeout(self.now);
                    for ap in &mut self.aps {
                        ap.handle_timeout(self.now);
                    }
                    self.pump();
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("timer livelock at {:?}", self.now);
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until the station has emitted an event matching `pred` (since the last command or
    /// the last event found), at most `limit`.
    fn run_until_event(&mut self, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let end = self.now + limit;
        loop {
            let found = self.events[self.mark..].iter().position(|(_, e)| pred(e));
            if let Some(i) = found {
                self.mark += i + 1;
                return self.events[self.mark - 1].1.clone();
            }
            if self.now >= end {
                break;
            }
            self.run_for(Duration::from_millis(1));
        }
        panic!("no such event by {:?}; events: {:?}", self.now, self.events);
    }

    fn connected(&mut self) -> Event {
        self.run_until_event(Duration::from_secs(10), |e| {
            matches!(e, Event::Connected { .. } | Event::ConnectFailed { .. })
        })
    }

    fn failure(&mut self, limit: Duration) -> ConnectFailure {
        match self.run_until_event(limit, |e| matches!(e, Event::ConnectFailed { .. })) {
            Event::ConnectFailed { reason } => reason,
            _ => unreachable!(),
        }
    }

    fn sent_mgmt(&self, subtype: crate::wire::MgmtSubtype) -> Vec<(Instant, Channel, MgmtFrame)> {
        self.sent
            .iter()
            .filter_map(|(t, c, f)| match Frame::parse(f) {
                Ok(Frame::Management(m)) if m.body.subtype() == subtype => Some((*t, *c, m)),
                _ => None,
            })
            .collect()
    }

    fn eth_to_ap(&self, payload: &'static [u8]) -> EthernetFrame {
        EthernetFrame {
            dst: PEER,
            src: self.sta.mac(),
            ethertype: EtherType::Ipv4,
            payload: Bytes::from_static(payload),
        }
    }
}

fn eth_from_peer(payload: &'static [u8]) -> EthernetFrame {
    EthernetFrame {
        dst: STA,
        src: PEER,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from_static(payload),
    }
}

fn wpa2_world() -> World {
    World::new(vec![ScriptedAp::wpa2(AP1, "home", 6, psk(1))])
}

fn connected_wpa2(auto_reconnect: bool) -> World {
    let mut w = wpa2_world();
    w.connect("home", Credentials::Psk(psk(1)), auto_reconnect);
    assert!(matches!(w.connected(), Event::Connected { .. }));
    w
}

// ---- joining ----

#[test]
fn open_join_scans_authenticates_associates_and_connects() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.connect("cafe", Credentials::None, false);
    assert_eq!(w.sta.state(), StationState::Scanning);
    let e = w.connected();
    assert_eq!(
        e,
        Event::Connected {
            ssid: ssid("cafe"),
            bssid: AP1,
            channel: 6
        }
    );
    // One directed probe per scanned channel, on that channel.
    let probes = w.sent_mgmt(crate::wire::MgmtSubtype::ProbeRequest);
    let channels: Vec<u8> = probes.iter().map(|(_, c, _)| c.number()).collect();
    assert_eq!(channels, [1, 6, 11, 36]);
    let MgmtBody::ProbeRequest(p) = &probes[0].2.body else {
        unreachable!()
    };
    assert_eq!(p.elements.ssid().unwrap().as_bytes(), b"cafe");
    assert_eq!(w.aps[0].auths, 1);
    assert_eq!(w.aps[0].assocs, 1);
    let s = w.sta.status();
    assert_eq!(s.state, StationState::Connected);
    assert_eq!(s.mac, STA);
    assert_eq!(s.bssid, Some(AP1));
    assert_eq!(s.channel, Some(6));
    assert_eq!(s.signal_dbm, Some(-45));
    assert_eq!(w.sta.wanted_channel(), Some(ch(6)));
    assert!(w.sta.is_connected());
    // An open association request carries no RSNE and no Privacy bit.
    let (_, _, assoc) = &w.sent_mgmt(crate::wire::MgmtSubtype::AssocRequest)[0];
    let MgmtBody::AssocRequest(a) = &assoc.body else {
        unreachable!()
    };
    assert!(a.elements.rsn().is_none() && !a.capability.privacy());
    assert_eq!(a.listen_interval, 10);
}

#[test]
fn wpa2_join_runs_the_handshake_and_exchanges_encrypted_data() {
    let mut w = connected_wpa2(false);
    let (_, _, assoc) = &w.sent_mgmt(crate::wire::MgmtSubtype::AssocRequest)[0];
    let MgmtBody::AssocRequest(a) = &assoc.body else {
        unreachable!()
    };
    assert_eq!(a.elements.rsn(), Some(&Rsne::wpa2_psk()));
    assert!(a.capability.privacy());

    // Uplink: protected on the air, readable by the AP.
    w.sta.send_data(w.now, w.eth_to_ap(b"uplink")).unwrap();
    w.pump();
    assert_eq!(w.aps[0].data, vec![w.eth_to_ap(b"uplink")]);
    assert_eq!(w.aps[0].protected_data, 1);
    let (_, _, last) = w.sent.last().unwrap();
    assert!(
        !last.windows(6).any(|x| x == b"uplink"),
        "plaintext on the air"
    );

    // Downlink, unicast and group.
    w.aps[0].send_data(eth_from_peer(b"down"));
    let group = EthernetFrame {
        dst: MacAddr::BROADCAST,
        ..eth_from_peer(b"bcast")
    };
    w.aps[0].send_data(group.clone());
    w.pump();
    assert_eq!(w.delivered, vec![eth_from_peer(b"down"), group]);
    let c = w.sta.counters();
    assert_eq!((c.tx_packets, c.rx_packets, c.rx_dropped), (1, 2, 0));
    assert_eq!(c.tx_bytes, 14 + 6);
}

#[test]
fn wpa2_join_with_passphrase_derives_the_psk() {
    let pass = Passphrase::new("correct horse").unwrap();
    let ap_psk = derive_psk(&pass, b"home").unwrap();
    let mut w = World::new(vec![ScriptedAp::wpa2(AP1, "home", 6, ap_psk)]);
    w.connect("home", Credentials::Passphrase(pass), false);
    assert!(matches!(w.connected(), Event::Connected { .. }));
}

#[test]
fn wrong_passphrase_refused_by_the_ap_is_reported_as_such() {
    let mut w = wpa2_world();
    w.connect("home", Credentials::Psk(psk(2)), false);
    let f = w.failure(Duration::from_secs(10));
    assert_eq!(f, ConnectFailure::WrongPassphrase);
    // The AP saw a bad MIC on message 2 and deauthenticated with 14.
    assert_eq!(w.sta.failure(), Some(Failure::WrongPassphrase));
    assert_eq!(w.sta.state(), StationState::Failed);
    assert_eq!(w.sta.status().ssid, None, "credentials and target dropped");
    assert_eq!(w.sta.wanted_channel(), None);
}

#[test]
fn wrong_passphrase_with_a_silent_ap_times_out_as_wrong_passphrase() {
    let mut w = wpa2_world();
    w.aps[0].deauth_on_handshake_failure = false;
    w.connect("home", Credentials::Psk(psk(2)), false);
    let start = w.now;
    let f = w.failure(Duration::from_secs(10));
    assert_eq!(f, ConnectFailure::WrongPassphrase);
    assert!(
        w.now - start >= Duration::from_secs(5),
        "supplicant deadline"
    );
    // The station deauthenticated with 4-way handshake timeout.
    assert_eq!(w.aps[0].deauths, vec![ReasonCode::FourWayHandshakeTimeout]);
}

#[test]
fn missing_message_1_is_a_handshake_timeout() {
    let mut w = wpa2_world();
    // An AP that associates but never starts the handshake.
    w.aps[0].handshake = false;
    w.connect("home", Credentials::Psk(psk(1)), false);
    let start = w.now;
    assert_eq!(
        w.failure(Duration::from_secs(10)),
        ConnectFailure::HandshakeTimeout
    );
    assert!(w.now - start >= Duration::from_secs(5));
}

#[test]
fn network_not_found_after_a_scan() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "elsewhere", 6)]);
    w.connect("cafe", Credentials::None, false);
    let f = w.failure(Duration::from_secs(5));
    assert_eq!(f, ConnectFailure::NetworkNotFound);
    assert_eq!(w.sta.state(), StationState::Failed);
    // Two whole active scans took place (4 channels × 40 ms each).
    assert_eq!(w.now, Instant::from_millis(320));
}

#[test]
fn a_network_missed_by_the_first_scan_is_found_by_the_second() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    // The AP is silent during the first scan (a lost probe response, a slow AP).
    w.aps[0].on = false;
    w.connect("cafe", Credentials::None, false);
    w.run_for(Duration::from_millis(170));
    assert!(
        !w.events
            .iter()
            .any(|(_, e)| matches!(e, Event::ConnectFailed { .. })),
        "failed after one scan: {:?}",
        w.events
    );
    w.aps[0].on = true;
    w.connected();
    assert_eq!(w.sta.state(), StationState::Connected);
}

#[test]
fn authentication_rejected_with_status() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.aps[0].auth_status = StatusCode::UnsupportedAuthAlgorithm;
    w.connect("cafe", Credentials::None, false);
    assert_eq!(
        w.failure(Duration::from_secs(5)),
        ConnectFailure::AuthRejected { status: 13 }
    );
    assert_eq!(
        w.sta.failure(),
        Some(Failure::AuthRejected {
            status: StatusCode::UnsupportedAuthAlgorithm
        })
    );
}

#[test]
fn association_rejected_with_status_17() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.aps[0].assoc_status = StatusCode::ApUnableToHandleNewStations;
    w.connect("cafe", Credentials::None, false);
    assert_eq!(
        w.failure(Duration::from_secs(5)),
        ConnectFailure::AssocRejected { status: 17 }
    );
}

#[test]
fn ap_that_never_answers_is_unreachable_after_three_timed_out_tries() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.aps[0].answer_auth = false;
    w.connect("cafe", Credentials::None, false);
    assert_eq!(
        w.failure(Duration::from_secs(5)),
        ConnectFailure::ApUnreachable
    );
    let auths = w.sent_mgmt(crate::wire::MgmtSubtype::Authentication);
    let times: Vec<Instant> = auths.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(times.len(), 3);
    assert_eq!(times[1] - times[0], Duration::from_millis(200));
    assert_eq!(times[2] - times[1], Duration::from_millis(200));
}

#[test]
fn unacknowledged_requests_are_retried_at_once_then_unreachable() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    // Known from an earlier scan; then the AP vanishes.
    w.command(Command::Scan {
        ssid: None,
        mode: ScanMode::Active,
    });
    w.run_for(Duration::from_millis(200));
    w.aps[0].on = false;
    let start = w.now;
    w.connect("cafe", Credentials::None, false);
    assert_eq!(
        w.failure(Duration::from_secs(1)),
        ConnectFailure::ApUnreachable
    );
    assert!(w.now - start < Duration::from_millis(5));
    assert_eq!(w.sta.stats().tx_not_acked, 3);
}

#[test]
fn credentials_that_do_not_fit_the_network_are_a_security_mismatch() {
    let mut w = World::new(vec![
        ScriptedAp::open(AP1, "cafe", 6),
        ScriptedAp::wpa2(AP2, "home", 11, psk(1)),
    ]);
    w.connect("cafe", Credentials::Psk(psk(1)), false);
    w.failure(Duration::from_secs(1));
    assert_eq!(
        w.sta.failure(),
        Some(Failure::SecurityMismatch {
            network: Security::Open,
            credentials: CredentialKind::Psk
        })
    );
    w.connect("home", Credentials::None, true);
    let f = w.failure(Duration::from_secs(1));
    assert_eq!(
        f,
        ConnectFailure::Other {
            code: FAILURE_CODE_SECURITY_MISMATCH,
            detail: 1
        }
    );
    // Not transient: no reconnect even though asked for.
    w.run_for(Duration::from_secs(60));
    assert_eq!(w.sta.stats().reconnects, 0);
    assert_eq!(w.aps[1].auths, 0);
}

// ---- connected ----

#[test]
fn deauthentication_by_the_ap_disconnects() {
    let mut w = connected_wpa2(false);
    w.aps[0].deauth(ReasonCode::PrevAuthNotValid);
    w.pump();
    assert_eq!(
        w.events.last().unwrap().1,
        Event::Disconnected {
            reason: 2,
            locally_generated: false
        }
    );
    assert_eq!(w.sta.state(), StationState::Idle);
    assert_eq!(
        w.sta.send_data(w.now, w.eth_to_ap(b"x")),
        Err(StationError::NotConnected)
    );
    assert_eq!(w.sta.counters().tx_dropped, 1);
}

#[test]
fn disconnect_on_request_sends_deauthentication_reason_3() {
    let mut w = connected_wpa2(false);
    w.command(Command::Disconnect);
    assert_eq!(w.aps[0].deauths, vec![ReasonCode::DeauthLeaving]);
    assert_eq!(
        w.events.last().unwrap().1,
        Event::Disconnected {
            reason: 3,
            locally_generated: true
        }
    );
    assert_eq!(w.sta.state(), StationState::Idle);
    assert_eq!(w.sta.wanted_channel(), None);
}

#[test]
fn beacon_loss_disconnects_then_reconnects_with_growing_backoff() {
    let mut w = connected_wpa2(true);
    w.run_for(Duration::from_secs(3));
    assert!(w.sta.is_connected(), "beacons keep the link");
    w.aps[0].on = false;
    let lost_at = w.now;
    let e = w.run_until_event(Duration::from_secs(5), |e| {
        matches!(e, Event::Disconnected { .. })
    });
    assert_eq!(
        e,
        Event::Disconnected {
            reason: 4,
            locally_generated: true
        }
    );
    // 10 beacon intervals of 100 TU after the last beacon.
    let gone = w.now - lost_at;
    assert!(gone <= Duration::from_micros(10 * 102_400) && gone > Duration::from_millis(900));
    assert_eq!(w.sta.stats().beacon_losses, 1);

    // Retries fail (network not found) with doubling delays.
    w.run_for(Duration::from_secs(20));
    let fails: Vec<Instant> = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ConnectFailed { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert!(fails.len() >= 3, "{fails:?}");
    let gaps: Vec<Duration> = fails.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(
        gaps[1] > gaps[0] && gaps[0] >= Duration::from_secs(2),
        "{gaps:?}"
    );
    assert!(gaps.iter().all(|g| *g <= Duration::from_secs(31)));

    // The AP comes back: the next retry connects and the backoff starts over.
    w.aps[0].on = true;
    let e = w.run_until_event(Duration::from_secs(40), |e| {
        matches!(e, Event::Connected { .. })
    });
    assert!(matches!(e, Event::Connected { bssid: AP1, .. }));
    assert!(w.sta.stats().reconnects >= 4);
    w.aps[0].on = false;
    w.run_until_event(Duration::from_secs(5), |e| {
        matches!(e, Event::Disconnected { .. })
    });
    let t = w.now;
    w.run_until_event(Duration::from_secs(5), |e| {
        matches!(e, Event::ConnectFailed { .. })
    });
    assert!(w.now - t < Duration::from_millis(1500), "backoff reset");
}

#[test]
fn beacon_loss_with_roaming_scans_for_the_network_then_disconnects() {
    let mut w = World::new(vec![
        ScriptedAp::wpa2(AP1, "home", 6, psk(1)),
        ScriptedAp::wpa2(AP2, "home", 11, psk(1)),
    ]);
    // AP2, weaker, is heard by the join's scan; then both APs go.
    w.aps[1].signal_dbm = -60;
    w.connect("home", Credentials::Psk(psk(1)), true);
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
    w.run_for(Duration::from_secs(1));
    w.aps[1].on = false;
    w.aps[0].on = false;
    let lost_at = w.now;
    let e = w.run_until_event(Duration::from_secs(5), |e| {
        matches!(e, Event::Disconnected { .. } | Event::ConnectFailed { .. })
    });
    // Told as the loss of the connection, not as a failed attempt: the guest was connected.
    assert_eq!(
        e,
        Event::Disconnected {
            reason: 4,
            locally_generated: true
        }
    );
    // 10 beacon intervals, then the join's two scans of AP2's channel (40 ms each).
    let gone = w.now - lost_at;
    let bound = Duration::from_micros(10 * 102_400) + Duration::from_millis(2 * 40 + 50);
    assert!(
        gone <= bound && gone > Duration::from_millis(900),
        "{gone:?}"
    );
    let stats = w.sta.stats();
    assert_eq!(
        (stats.beacon_losses, stats.roam_failures, stats.roams),
        (1, 1, 0)
    );
    // The lone AP case (no other AP of the network heard) is told at once, as before:
    // `beacon_loss_disconnects_then_reconnects_with_growing_backoff`.
    assert!(!w
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Roamed { .. })));
}

#[test]
fn beacon_loss_with_another_ap_of_the_network_roams_with_a_reassociation() {
    let mut w = World::new(vec![
        ScriptedAp::wpa2(AP1, "home", 6, psk(1)),
        ScriptedAp::wpa2(AP2, "home", 11, psk(1)),
    ]);
    // AP2, weaker, is heard by the join's scan.
    w.aps[1].signal_dbm = -60;
    w.connect("home", Credentials::Psk(psk(1)), true);
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
    w.run_for(Duration::from_secs(1));
    w.aps[0].on = false;
    let e = w.run_until_event(Duration::from_secs(5), |e| {
        matches!(
            e,
            Event::Roamed { .. } | Event::Disconnected { .. } | Event::ConnectFailed { .. }
        )
    });
    let Event::Roamed {
        bssid,
        old_bssid,
        channel,
        roam_ms,
        ..
    } = e
    else {
        panic!("not a roam: {e:?}");
    };
    assert_eq!((bssid, old_bssid, channel), (AP2, AP1, 11));
    assert!(roam_ms < 500, "{roam_ms} ms");
    assert!(w.sta.is_connected());
    assert_eq!(w.sta.bssid(), Some(AP2));
    // The join went out as a Reassociation Request naming AP1.
    let reassoc = w
        .sent
        .iter()
        .filter_map(|(_, _, f)| match Frame::parse_bytes(f) {
            Ok(Frame::Management(m)) => match m.body {
                MgmtBody::ReassocRequest(r) => Some((m.header.addr1, r.current_ap)),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(reassoc, vec![(AP2, AP1)]);
    assert_eq!(w.sta.stats().roams, 1);
}

#[test]
fn data_sent_during_a_roam_is_held_and_sent_under_the_new_keys() {
    let mut w = World::new(vec![
        ScriptedAp::wpa2(AP1, "home", 6, psk(1)),
        ScriptedAp::wpa2(AP2, "home", 11, psk(1)),
    ]);
    w.aps[1].signal_dbm = -60;
    w.connect("home", Credentials::Psk(psk(1)), true);
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
    w.run_for(Duration::from_secs(1));
    w.aps[0].on = false;
    // The radio stays on AP1's channel: after the beacon loss the station waits for AP2's.
    w.follow = false;
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.sta.state(), StationState::Authenticating);
    assert_eq!(w.sta.bssid(), Some(AP2));
    for i in 0..5u8 {
        let frame = EthernetFrame {
            dst: MacAddr([2, 0, 0, 0, 0, 0x99]),
            src: STA,
            ethertype: EtherType::Ipv4,
            payload: Bytes::from(vec![0x45, i, 0, 0]),
        };
        assert_eq!(w.sta.send_data(w.now, frame), Ok(()), "frame {i} refused");
    }
    assert!(w.aps[1].data.is_empty());
    w.follow = true;
    w.tune(ch(11));
    w.run_until_event(Duration::from_secs(5), |e| {
        matches!(e, Event::Roamed { .. })
    });
    w.run_for(Duration::from_millis(100));
    let got: Vec<Bytes> = w.aps[1].data.iter().map(|e| e.payload.clone()).collect();
    for i in 0..5u8 {
        assert!(
            got.iter().any(|p| p.get(1) == Some(&i)),
            "frame {i} did not reach AP2: {got:?}"
        );
    }
}

/// A station joined to AP1 (channel 6), AP2 (channel 11) heard at `ap2_dbm` by the join; then
/// AP1's signal falls to -75 dBm, below the -70 dBm trigger, for `secs` seconds.
fn weak_ap1_world(ap2_dbm: i8, pinned: bool, secs: u64) -> World {
    let mut w = World::new(vec![
        ScriptedAp::wpa2(AP1, "home", 6, psk(1)),
        ScriptedAp::wpa2(AP2, "home", 11, psk(1)),
    ]);
    w.aps[1].signal_dbm = -80;
    w.command(Command::Connect {
        ssid: ssid("home"),
        bssid: pinned.then_some(AP1),
        credentials: Credentials::Psk(psk(1)),
        auto_reconnect: true,
    });
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
    w.aps[0].signal_dbm = -75;
    w.aps[1].signal_dbm = ap2_dbm;
    w.run_for(Duration::from_secs(secs));
    w
}

#[test]
fn a_weak_signal_scans_the_networks_channels_and_moves_to_a_much_stronger_ap() {
    let w = weak_ap1_world(-60, false, 3);
    let roamed: Vec<_> = w
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Roamed {
                bssid, old_bssid, ..
            } => Some((*old_bssid, *bssid)),
            _ => None,
        })
        .collect();
    assert_eq!(roamed, vec![(AP1, AP2)]);
    assert_eq!(w.sta.bssid(), Some(AP2));
    // The background scan probed AP2's channel only.
    let probed: Vec<u8> = w
        .sent
        .iter()
        .filter(|(_, _, f)| {
            matches!(Frame::parse_bytes(f), Ok(Frame::Management(m))
                if matches!(m.body, MgmtBody::ProbeRequest(_)))
        })
        .map(|(_, c, _)| c.number())
        .collect();
    assert_eq!(probed.last(), Some(&11), "{probed:?}");
    assert!(
        !probed.ends_with(&[1, 6, 11, 36]),
        "a full scan: {probed:?}"
    );
}

#[test]
fn a_full_background_scan_stops_at_the_first_channel_with_a_better_ap() {
    // AP2 (channel 6) is off the air during the join: no other AP of the network is known, so
    // the background scan covers every channel (1, 6, 11, 36), and it stops after 6.
    let mut w = World::new(vec![
        ScriptedAp::wpa2(AP1, "home", 1, psk(1)),
        ScriptedAp::wpa2(AP2, "home", 6, psk(1)),
    ]);
    w.aps[1].on = false;
    w.connect("home", Credentials::Psk(psk(1)), true);
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
    let probes = |w: &World| -> Vec<u8> {
        w.sent
            .iter()
            .filter(|(_, _, f)| {
                matches!(Frame::parse_bytes(f), Ok(Frame::Management(m))
                    if matches!(m.body, MgmtBody::ProbeRequest(_)))
            })
            .map(|(_, c, _)| c.number())
            .collect()
    };
    let joined = probes(&w).len();
    w.aps[1].on = true;
    w.aps[1].signal_dbm = -55;
    w.aps[0].signal_dbm = -75;
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.sta.bssid(), Some(AP2));
    assert_eq!(w.sta.stats().roams, 1);
    let background = probes(&w).split_off(joined);
    assert_eq!(background, vec![1, 6], "the background scan's probes");
}

#[test]
fn an_ap_not_stronger_by_the_hysteresis_is_not_worth_a_roam() {
    // 5 dB better than AP1's -75: short of the 8 dB hysteresis. Background scans go on, every
    // 2 s at most, and the station stays.
    let w = weak_ap1_world(-70, false, 5);
    assert_eq!(w.sta.bssid(), Some(AP1));
    assert!(w.sta.is_connected());
    let scans = w.sta.stats().roam_scans;
    assert!((2..=3).contains(&scans), "{scans} background scans in 5 s");
    assert_eq!(w.sta.stats().roams, 0);
}

#[test]
fn a_weak_station_with_no_other_ap_known_scans_less_and_less_often() {
    let mut w = connected_wpa2(true);
    w.aps[0].signal_dbm = -80;
    // Full scans (no other AP of the network known): the first at once, then 8, 16, 32 s
    // after the end of the one before (a scan of every channel takes a while): the gaps
    // between their starts grow.
    let mut starts = Vec::new();
    let mut seen = 0;
    for step in 0..260u64 {
        w.run_for(Duration::from_millis(500));
        let scans = w.sta.stats().roam_scans;
        if scans > seen {
            seen = scans;
            starts.push(step * 500);
        }
    }
    assert!(starts.len() >= 4, "{starts:?}");
    let gaps: Vec<u64> = starts.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(gaps.iter().all(|&g| g >= 8_000), "{gaps:?}");
    assert!(gaps.windows(2).all(|g| g[1] > g[0]), "{gaps:?}");
    assert!(w.sta.is_connected());
    assert_eq!(w.sta.stats().roams, 0);
}

#[test]
fn a_guests_scan_preempts_a_background_roam_scan() {
    let mut w = weak_ap1_world(-70, false, 0);
    // Run until the background scan is under way (its probe request on AP2's channel).
    for _ in 0..400 {
        if w.sta.stats().roam_scans > 0 && w.sta.wanted_channel() == Some(ch(11)) {
            break;
        }
        w.run_for(Duration::from_millis(5));
    }
    assert_eq!(w.sta.stats().roam_scans, 1);
    assert_eq!(
        w.sta.handle_command(
            w.now,
            Command::Scan {
                ssid: None,
                mode: ScanMode::Active
            }
        ),
        Ok(())
    );
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.scans.len(), 1, "the guest's scan reported");
    assert!(w.scans[0].iter().any(|b| b.bssid == AP2));
    assert!(w.sta.is_connected());
}

#[test]
fn a_station_pinned_to_one_ap_never_roams() {
    let w = weak_ap1_world(-50, true, 5);
    assert_eq!(w.sta.bssid(), Some(AP1));
    assert_eq!(w.sta.stats().roam_scans, 0);
}

#[test]
fn group_rekey_installs_the_new_gtk() {
    group_rekey_installs_the_new_gtk_with(false);
}

/// A staging station's rekey message is sealed like its data: the stage finds the EAPOL frame
/// and hands it back to the station, which installs the key and answers as before.
#[test]
fn group_rekey_through_the_receive_stage_installs_the_new_gtk() {
    let w = group_rekey_installs_the_new_gtk_with(true);
    assert!(w.sta.stages_rx());
    // The rekey message and the unicast frame after it went through the stage.
    assert_eq!(w.sta.stage_opened(), 2);
    assert_eq!(w.sta.batch_decrypted(), 0);
}

fn group_rekey_installs_the_new_gtk_with(stage_rx: bool) -> World {
    let mut cfg = StationConfig::new(STA, [7; 32]);
    cfg.scan.channels = vec![ch(1), ch(6), ch(11), ch(36)];
    cfg.stage_rx = stage_rx;
    let mut w = World::with_config(cfg, vec![ScriptedAp::wpa2(AP1, "home", 6, psk(1))]);
    w.connect("home", Credentials::Psk(psk(1)), false);
    assert!(matches!(w.connected(), Event::Connected { .. }));
    let new_gtk = Gtk::new([0x5c; 16], 2).unwrap();
    let now = w.now;
    let ap = &mut w.aps[0];
    let auth = ap.client.as_mut().and_then(|c| c.auth.as_mut()).unwrap();
    auth.start_group_rekey(now, new_gtk.clone(), 0).unwrap();
    ap.drain_authenticator(now);
    w.pump();
    // Group message 2 went back protected with the PTK, and the AP is done.
    let auth = w.aps[0]
        .client
        .as_ref()
        .and_then(|c| c.auth.as_ref())
        .unwrap();
    assert!(auth.poll_timeout().is_none());
    w.aps[0].gtk = new_gtk;
    w.aps[0].gtk_pn = 0;
    let group = EthernetFrame {
        dst: MacAddr::BROADCAST,
        ..eth_from_peer(b"new key")
    };
    w.aps[0].send_data(group.clone());
    let unicast = eth_from_peer(b"after the rekey");
    w.aps[0].send_data(unicast.clone());
    w.pump();
    assert_eq!(w.delivered, vec![group, unicast]);
    assert!(w.sta.is_connected());
    assert_eq!(w.sta.counters().rx_packets, 2);
    w
}

#[test]
fn signal_changes_are_reported_while_connected() {
    let mut w = connected_wpa2(false);
    w.run_for(Duration::from_secs(1));
    assert!(!w
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::SignalChanged { .. })));
    w.aps[0].signal_dbm = -75;
    let e = w.run_until_event(Duration::from_secs(2), |e| {
        matches!(e, Event::SignalChanged { .. })
    });
    let Event::SignalChanged { dbm } = e else {
        unreachable!()
    };
    assert!((-55..=-50).contains(&dbm), "first report after 5 dB: {dbm}");
    w.run_for(Duration::from_secs(3));
    assert_eq!(w.sta.status().signal_dbm, Some(-75));
}

#[test]
fn the_link_rate_is_the_rate_of_unicast_data_not_of_beacons() {
    let mut w = connected_wpa2(false);
    // The handshake's EAPOL frames were unicast data at 54 Mb/s; a second of 1 Mb/s beacons
    // since must not pull the reported rate down.
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.sta.status().tx_rate_kbps, Some(54_000));
}

#[test]
fn the_joined_aps_dtim_timing_is_reported_once_and_matches_its_dtim_beacons() {
    let mut w = connected_wpa2(false);
    w.run_for(Duration::from_secs(2));
    // One report: the AP's timing does not move.
    assert_eq!(w.dtims.len(), 1, "{:?}", w.dtims);
    let (at, next, interval) = w.dtims[0];
    let bi = crate::time::TU * 100;
    assert_eq!(interval, bi * 2);
    assert!(next > at && next - at <= interval, "{at:?} {next:?}");
    // DTIM beacons go out at 3 ms + 2k beacon intervals (the first beacon is a DTIM).
    let since_first = next.as_micros() - 3_000;
    assert_eq!(since_first % interval.as_micros() as u64, 0, "{next:?}");
}

#[test]
fn replayed_frame_is_dropped() {
    let mut w = connected_wpa2(false);
    let frame = w.aps[0].data_frame(&eth_from_peer(b"once"));
    let meta = RxMeta {
        channel: ch(6),
        signal_dbm: -45,
        rate_kbps: 54_000,
    };
    w.sta.handle_frame(w.now, &frame, meta);
    w.sta.handle_frame(w.now, &frame, meta);
    w.pump();
    assert_eq!(w.delivered, vec![eth_from_peer(b"once")]);
    assert_eq!(w.sta.stats().replayed, 1);
    assert_eq!(w.sta.counters().rx_dropped, 1);
    // A tampered frame does not decrypt.
    let mut bad = frame.to_vec();
    *bad.last_mut().unwrap() ^= 1;
    let bad = Bytes::from(bad);
    w.sta.handle_frame(w.now, &bad, meta);
    assert_eq!(w.sta.stats().decrypt_failed, 1);
}

#[test]
fn isolation_drops_foreign_unprotected_and_control_frames() {
    let mut w = connected_wpa2(false);
    let meta = RxMeta {
        channel: ch(6),
        signal_dbm: -45,
        rate_kbps: 54_000,
    };
    // Unicast to another station (even if it decrypted): not ours.
    let other = EthernetFrame {
        dst: PEER,
        ..eth_from_peer(b"for someone else")
    };
    let f = w.aps[0].data_frame(&other);
    w.sta.handle_frame(w.now, &f, meta);
    // Unprotected data in a protected BSS.
    let mut d = eth_from_peer(b"plain").to_data(DsDirection::FromAp { bssid: AP1 }, None);
    d.header.sequence = crate::wire::SequenceControl::new(1);
    w.sta.handle_frame(w.now, &emit(d), meta);
    // Guest-control EtherType from the air, properly protected.
    let ctl = EthernetFrame {
        ethertype: EtherType::VwifiControl,
        ..eth_from_peer(b"\x56\x01")
    };
    let f = w.aps[0].data_frame(&ctl);
    w.sta.handle_frame(w.now, &f, meta);
    // From another BSS.
    let mut d = eth_from_peer(b"x").to_data(DsDirection::FromAp { bssid: AP2 }, None);
    d.header.sequence = crate::wire::SequenceControl::new(2);
    w.sta.handle_frame(w.now, &emit(d), meta);
    // Our own broadcast, reflected.
    let own = EthernetFrame {
        dst: MacAddr::BROADCAST,
        src: STA,
        ethertype: EtherType::Arp,
        payload: Bytes::from_static(b"who-has"),
    };
    let f = w.aps[0].data_frame(&own);
    w.sta.handle_frame(w.now, &f, meta);
    w.pump();
    assert!(w.delivered.is_empty(), "{:?}", w.delivered);
    let s = w.sta.stats();
    assert_eq!(
        (
            s.not_for_us,
            s.unprotected,
            s.control_ethertype,
            s.not_from_bss,
            s.own_reflection
        ),
        (1, 1, 1, 1, 1)
    );

    // The guest may not spoof, nor send EAPOL or control frames.
    let spoofed = EthernetFrame {
        src: PEER,
        ..w.eth_to_ap(b"x")
    };
    assert_eq!(
        w.sta.send_data(w.now, spoofed),
        Err(StationError::SourceAddressMismatch {
            expected: STA,
            got: PEER
        })
    );
    for ethertype in [EtherType::Eapol, EtherType::VwifiControl] {
        let f = EthernetFrame {
            ethertype,
            ..w.eth_to_ap(b"x")
        };
        assert!(matches!(
            w.sta.send_data(w.now, f),
            Err(StationError::ReservedEtherType { .. })
        ));
    }
    w.pump();
    assert!(w.aps[0].data.is_empty());
}

#[test]
fn leaving_the_channel_enters_power_save_and_returning_flushes() {
    let mut w = connected_wpa2(false);
    w.follow = false;
    w.sta.off_channel(w.now);
    w.pump();
    w.radio = Some(ch(1));
    assert_eq!(w.aps[0].nulls, vec![true], "PM=1 before leaving");
    assert!(w.sta.is_power_save());
    // Frames from the guest wait, and beacon loss does not run while away.
    w.sta.send_data(w.now, w.eth_to_ap(b"queued")).unwrap();
    w.pump();
    assert!(w.aps[0].data.is_empty());
    assert_eq!(w.sta.poll_timeout(), None);
    w.run_for(Duration::from_secs(5));
    assert!(w.sta.is_connected());
    // Back: PM=0 first, then the queued frame.
    w.radio = Some(ch(6));
    w.sta.on_channel(w.now, ch(6));
    w.pump();
    assert_eq!(w.aps[0].nulls, vec![true, false]);
    assert_eq!(w.aps[0].data, vec![w.eth_to_ap(b"queued")]);
    assert!(!w.sta.is_power_save());
    let kinds: Vec<bool> = w.sent[w.sent.len() - 2..]
        .iter()
        .map(|(_, _, f)| DataFrame::parse(f).unwrap().is_null())
        .collect();
    assert_eq!(kinds, [true, false]);
    assert!(w.sta.poll_timeout().is_some(), "beacon loss armed again");
}

#[test]
fn off_channel_queue_is_bounded() {
    let mut w = connected_wpa2(false);
    w.follow = false;
    w.sta.off_channel(w.now);
    w.pump();
    let limit = w.sta.config().tx_queue_limit;
    for _ in 0..limit {
        w.sta.send_data(w.now, w.eth_to_ap(b"q")).unwrap();
    }
    assert_eq!(
        w.sta.send_data(w.now, w.eth_to_ap(b"q")),
        Err(StationError::QueueFull)
    );
    assert_eq!(w.sta.counters().tx_dropped, 1);
}

// ---- scanning ----

#[test]
fn scan_reports_bss_with_security_signal_and_age() {
    let mut open = ScriptedAp::open(AP1, "cafe", 1);
    open.signal_dbm = -70;
    let mut w = World::new(vec![open, ScriptedAp::wpa2(AP2, "home", 11, psk(1))]);
    w.command(Command::Scan {
        ssid: None,
        mode: ScanMode::Active,
    });
    assert_eq!(w.sta.state(), StationState::Scanning);
    assert_eq!(
        w.sta.handle_command(
            w.now,
            Command::Scan {
                ssid: None,
                mode: ScanMode::Passive
            }
        ),
        Err(StationError::Busy { what: "scanning" })
    );
    w.run_for(Duration::from_millis(500));
    assert_eq!(w.scans.len(), 1);
    let r = &w.scans[0];
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].bssid, r[0].security, r[0].signal_dbm),
        (AP2, Security::Wpa2Psk, -45)
    );
    assert_eq!(
        (r[1].bssid, r[1].security, r[1].signal_dbm),
        (AP1, Security::Open, -70)
    );
    assert_eq!((r[0].channel, r[0].frequency_mhz), (11, 2462));
    // AP1 was last heard by its beacon at 3 ms (first dwell), reported at 160 ms.
    assert_eq!(r[1].beacon_age_ms, 157);
    assert_eq!(w.sta.state(), StationState::Idle);
    assert_eq!(w.sta.wanted_channel(), None);
    // The table ages.
    let e = w.sta.bss_table().get(AP1).unwrap();
    assert!(e.age(w.now) >= Duration::from_millis(340));
}

#[test]
fn passive_scan_listens_without_probing() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.command(Command::Scan {
        ssid: Some(ssid("cafe")),
        mode: ScanMode::Passive,
    });
    w.run_for(Duration::from_millis(500));
    assert!(w.sent.is_empty(), "no frame sent in a passive scan");
    assert_eq!(w.scans.len(), 1);
    assert_eq!(w.scans[0].len(), 1);
    assert_eq!(w.scans[0][0].bssid, AP1);
    assert_eq!(w.aps[0].probes, 0);
}

#[test]
fn scan_while_connected_uses_power_save_around_the_scan() {
    let mut w = connected_wpa2(false);
    w.aps.push(ScriptedAp::open(AP2, "cafe", 1));
    w.command(Command::Scan {
        ssid: None,
        mode: ScanMode::Active,
    });
    assert_eq!(w.aps[0].nulls, vec![true]);
    w.run_for(Duration::from_millis(500));
    assert_eq!(w.scans.len(), 1);
    assert!(w.scans[0].iter().any(|b| b.bssid == AP2));
    assert_eq!(w.aps[0].nulls, vec![true, false]);
    assert!(w.sta.is_connected());
    assert_eq!(w.sta.wanted_channel(), Some(ch(6)));
}

#[test]
fn connect_uses_a_fresh_table_entry_without_scanning() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.command(Command::Scan {
        ssid: None,
        mode: ScanMode::Active,
    });
    w.run_for(Duration::from_millis(300));
    let probes = w.aps[0].probes;
    w.connect("cafe", Credentials::None, false);
    assert!(matches!(w.connected(), Event::Connected { .. }));
    assert_eq!(w.aps[0].probes, probes);
}

#[test]
fn connect_picks_the_strongest_bss_or_the_one_asked_for() {
    let mut weak = ScriptedAp::open(AP1, "cafe", 1);
    weak.signal_dbm = -80;
    let mut w = World::new(vec![weak, ScriptedAp::open(AP2, "cafe", 11)]);
    w.connect("cafe", Credentials::None, false);
    assert!(matches!(w.connected(), Event::Connected { bssid: AP2, .. }));
    w.command(Command::Connect {
        ssid: ssid("cafe"),
        bssid: Some(AP1),
        credentials: Credentials::None,
        auto_reconnect: false,
    });
    // Leaving AP2 was reported, then AP1 joined.
    assert!(w.events.iter().any(|(_, e)| *e
        == Event::Disconnected {
            reason: 3,
            locally_generated: true
        }));
    assert!(matches!(w.connected(), Event::Connected { bssid: AP1, .. }));
}

// ---- misuse, identity, secrets ----

#[test]
fn misuse_is_an_error() {
    let mut w = World::new(vec![]);
    assert_eq!(
        w.sta.handle_command(
            w.now,
            Command::Connect {
                ssid: ssid(""),
                bssid: None,
                credentials: Credentials::None,
                auto_reconnect: false
            }
        ),
        Err(StationError::EmptySsid)
    );
    assert_eq!(
        w.sta.set_mac(MacAddr::BROADCAST),
        Err(StationError::InvalidMac(MacAddr::BROADCAST))
    );
    let new = MacAddr([0x02, 1, 2, 3, 4, 5]);
    w.sta.set_mac(new).unwrap();
    assert_eq!(w.sta.mac(), new);
    w.connect("x", Credentials::None, false);
    assert!(matches!(w.sta.set_mac(STA), Err(StationError::Busy { .. })));
    assert!(matches!(
        w.sta.handle_command(
            w.now,
            Command::Scan {
                ssid: None,
                mode: ScanMode::Active
            }
        ),
        Err(StationError::Busy { what: "joining" })
    ));
    // Spurious timeouts do nothing.
    w.sta.handle_timeout(Instant::ZERO);
}

#[test]
fn local_mac_from_seed_is_stable_locally_administered_unicast() {
    let a = local_mac_from_seed([1; 32]);
    assert_eq!(a, local_mac_from_seed([1; 32]));
    assert_ne!(a, local_mac_from_seed([2; 32]));
    assert!(a.is_local() && a.is_unicast());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let pass = Passphrase::new("hunter2hunter2").unwrap();
    let cmd = Command::Connect {
        ssid: ssid("home"),
        bssid: None,
        credentials: Credentials::Passphrase(pass),
        auto_reconnect: true,
    };
    assert!(!format!("{cmd:?}").contains("hunter2"));
    let w = connected_wpa2(true);
    let dbg = format!("{:?}", w.sta);
    assert!(!dbg.contains("0101010101"), "{dbg}");
    assert!(dbg.contains("Connected"));
}

#[test]
fn failure_maps_onto_the_guest_protocol() {
    assert_eq!(
        ConnectFailure::from(Failure::AssocRejected {
            status: StatusCode::ApUnableToHandleNewStations
        }),
        ConnectFailure::AssocRejected { status: 17 }
    );
    assert_eq!(
        ConnectFailure::from(Failure::RejectedByAp {
            reason: ReasonCode::Inactivity
        }),
        ConnectFailure::Other {
            code: FAILURE_CODE_REJECTED_BY_AP,
            detail: 4
        }
    );
    assert!(!Failure::WrongPassphrase.is_transient());
    assert!(Failure::ApUnreachable.is_transient());
    let p = ReconnectPolicy::default();
    assert_eq!(p.delay(0), Duration::from_secs(1));
    assert_eq!(p.delay(3), Duration::from_secs(8));
    assert_eq!(p.delay(40), Duration::from_secs(30));
}

#[test]
fn auth_frame_with_wrong_algorithm_or_sequence_is_ignored() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.aps[0].answer_auth = false;
    w.connect("cafe", Credentials::None, false);
    w.run_for(Duration::from_millis(170));
    assert_eq!(w.sta.state(), StationState::Authenticating);
    let bogus = MgmtFrame::new(
        STA,
        AP1,
        AP1,
        MgmtBody::Authentication(Authentication {
            algorithm: AuthAlgorithm::Sae,
            transaction_seq: 2,
            status: StatusCode::Success,
            body: Vec::new(),
        }),
    );
    let meta = RxMeta {
        channel: ch(6),
        signal_dbm: -45,
        rate_kbps: 54_000,
    };
    w.sta.handle_frame(w.now, &emit(bogus), meta);
    assert_eq!(w.sta.state(), StationState::Authenticating);
    // Garbage is counted, not an error.
    w.sta
        .handle_frame(w.now, &Bytes::from_static(&[0x08]), meta);
    assert_eq!(w.sta.stats().malformed, 1);
}

// ---- sharing the radio ----

#[test]
fn leaving_the_channel_during_the_handshake_enters_power_save_so_the_ap_buffers() {
    let mut w = wpa2_world();
    w.aps[0].handshake = false;
    w.connect("home", Credentials::Psk(psk(1)), false);
    w.run_for(Duration::from_millis(500));
    assert_eq!(w.sta.state(), StationState::Handshaking);
    w.follow = false;
    w.sta.off_channel(w.now);
    w.pump();
    w.radio = Some(ch(1));
    assert_eq!(
        w.aps[0].nulls,
        vec![true],
        "PM=1 before leaving mid-handshake"
    );
    assert!(w.sta.is_power_save());
    w.radio = Some(ch(6));
    w.sta.on_channel(w.now, ch(6));
    w.pump();
    assert_eq!(w.aps[0].nulls, vec![true, false], "PM=0 on return");
    assert!(!w.sta.is_power_save());
}

#[test]
fn beacon_loss_counts_listening_time_across_channel_visits() {
    let mut w = connected_wpa2(true);
    w.follow = false;
    w.aps[0].on = false;
    // The radio is shared: 100 ms on the BSS's channel, 100 ms elsewhere, again and again.
    let mut listened = Duration::ZERO;
    for _ in 0..30 {
        w.run_for(Duration::from_millis(100));
        listened += Duration::from_millis(100);
        if !w.sta.is_connected() {
            break;
        }
        w.sta.off_channel(w.now);
        w.pump();
        w.radio = Some(ch(1));
        w.run_for(Duration::from_millis(100));
        w.radio = Some(ch(6));
        w.sta.on_channel(w.now, ch(6));
        w.pump();
    }
    assert!(
        !w.sta.is_connected(),
        "beacon loss never detected while time-shared"
    );
    assert_eq!(w.sta.stats().beacon_losses, 1);
    // Ten beacon intervals of listening, however they were spread.
    let window = Duration::from_micros(10 * 102_400);
    assert!(
        listened >= window && listened <= window + Duration::from_millis(100),
        "{listened:?}"
    );
}

#[test]
fn a_retransmitted_data_frame_is_delivered_once() {
    let mut w = World::new(vec![ScriptedAp::open(AP1, "cafe", 6)]);
    w.connect("cafe", Credentials::None, false);
    assert!(matches!(w.connected(), Event::Connected { .. }));
    let meta = RxMeta {
        channel: ch(6),
        signal_dbm: -45,
        rate_kbps: 54_000,
    };
    let frame = w.aps[0].data_frame(&eth_from_peer(b"once"));
    let mut retry = frame.to_vec();
    retry[1] |= crate::wire::FcFlags::RETRY;
    let retry = Bytes::from(retry);
    w.sta.handle_frame(w.now, &frame, meta);
    // Its Ack was lost: the AP sends it again with the Retry bit.
    w.sta.handle_frame(w.now, &retry, meta);
    w.pump();
    assert_eq!(w.delivered, vec![eth_from_peer(b"once")]);
    assert_eq!(w.sta.stats().duplicates, 1);
    assert_eq!(w.sta.counters().rx_dropped, 0, "a duplicate is not a loss");
    // A new frame that needed a retry itself is delivered.
    let next = w.aps[0].data_frame(&eth_from_peer(b"twice"));
    let mut next = next.to_vec();
    next[1] |= crate::wire::FcFlags::RETRY;
    w.sta.handle_frame(w.now, &Bytes::from(next), meta);
    w.pump();
    assert_eq!(w.delivered.len(), 2);
}

#[test]
fn duplicate_filter_keeps_one_cache_per_kind_of_frame() {
    use crate::wire::{FcFlags, FrameControl, FrameType, Header, QosControl, SequenceControl};
    let header = |frame_type, retry: bool, seq: u16, qos: Option<u8>| {
        let fc = FrameControl::new(frame_type, FcFlags(0).with(FcFlags::RETRY, retry));
        let mut h = Header::new(fc, STA, AP1, AP1);
        h.sequence = SequenceControl::new(seq);
        h.qos = qos.map(QosControl::with_tid);
        h
    };
    let data = FrameType::Data(crate::wire::DataSubtype::Data);
    let qos = FrameType::Data(crate::wire::DataSubtype::QosData);
    let mgmt = FrameType::Management(crate::wire::MgmtSubtype::AssocRequest);
    let mut f = softmac::DuplicateFilter::new();
    assert!(!f.is_duplicate(&header(mgmt, false, 7, None)));
    assert!(
        f.is_duplicate(&header(mgmt, true, 7, None)),
        "retried: a duplicate"
    );
    assert!(
        !f.is_duplicate(&header(mgmt, false, 7, None)),
        "no Retry bit: new"
    );
    // Data and each TID have their own cache: the same number there is not a repeat.
    assert!(!f.is_duplicate(&header(data, true, 7, None)));
    assert!(!f.is_duplicate(&header(qos, true, 7, Some(3))));
    assert!(f.is_duplicate(&header(qos, true, 7, Some(3))));
    assert!(!f.is_duplicate(&header(qos, true, 7, Some(4))));
    assert!(!f.is_duplicate(&header(mgmt, true, 8, None)));
}
