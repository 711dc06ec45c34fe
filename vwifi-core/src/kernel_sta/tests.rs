//! The machine against the core's own authenticator, with the kernel played by the tests.

use core::time::Duration;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::addr::MacAddr;
use crate::crypto::Gtk;
use crate::handshake::sae::SaeError;
use crate::handshake::tests::{pmk, rsne};
use crate::handshake::{Authenticator, AuthenticatorConfig, Output, RetryPolicy, SupplicantConfig};
use crate::proto::{ConnectFailure, Credentials, Event, Security, Ssid, StationState};
use crate::station::{FAILURE_CODE_HANDSHAKE_FAILED, FAILURE_CODE_REJECTED_BY_AP};
use crate::time::Instant;
use crate::wire::eapol::{KeyFrame, KeyInfo};

const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);

fn ssid() -> Ssid {
    Ssid::new(b"lab").unwrap()
}

fn target() -> Target {
    Target {
        ssid: ssid(),
        bssid: AP,
        channel: 6,
        frequency_mhz: 2437,
    }
}

fn request() -> JoinRequest {
    JoinRequest {
        ssid: ssid(),
        bssid: None,
        credentials: Credentials::None,
    }
}

fn psk_join(pass: &str, retry: bool) -> Join {
    Join {
        target: target(),
        security: Security::Wpa2Psk,
        auth: JoinAuth::Psk(SupplicantConfig {
            aa: AP,
            spa: STA,
            pmk: pmk(pass),
            ap_rsne: rsne(),
            own_rsne: rsne(),
            timeout: HANDSHAKE_TIMEOUT,
        }),
        retry: retry.then(request),
    }
}

fn open_join() -> Join {
    Join {
        target: target(),
        security: Security::Open,
        auth: JoinAuth::Open,
        retry: Some(request()),
    }
}

/// The station, the AP's authenticator, the kernel's answers, and what came out.
struct World {
    sta: KernelSta<ChaCha20Rng>,
    ap: Option<Authenticator>,
    rng: ChaCha20Rng,
    now: Instant,
    /// The kernel refuses commands of this kind.
    refuse: Option<CommandKind>,
    /// EAPOL frames the station sent, not yet given to the AP.
    to_ap: Vec<Vec<u8>>,
    /// Every output, as text, in order.
    log: Vec<String>,
    events: Vec<Event>,
    states: Vec<StationState>,
    joins: Vec<JoinRequest>,
}

impl World {
    fn new() -> Self {
        Self {
            sta: KernelSta::new(ChaCha20Rng::seed_from_u64(1)),
            ap: None,
            rng: ChaCha20Rng::seed_from_u64(2),
            now: Instant::from_millis(1000),
            refuse: None,
            to_ap: Vec::new(),
            log: Vec::new(),
            events: Vec::new(),
            states: Vec::new(),
            joins: Vec::new(),
        }
    }

    /// An AP whose passphrase is `pass`; its message 1 is queued.
    fn ap(&mut self, pass: &str) {
        let gtk = Gtk::generate(&mut self.rng, 1).unwrap();
        self.ap = Some(
            Authenticator::new(
                AuthenticatorConfig {
                    aa: AP,
                    spa: STA,
                    pmk: pmk(pass),
                    own_rsne: rsne(),
                    peer_rsne: rsne(),
                    gtk,
                    gtk_rsc: 42,
                    retry: RetryPolicy::default(),
                },
                self.now,
                &mut self.rng,
            )
            .unwrap(),
        );
    }

    /// Carries out the station's outputs as the kernel would.
    fn drain(&mut self) {
        while let Some(o) = self.sta.poll_output() {
            match o {
                KernelStaOutput::Command(c) => {
                    let kind = c.kind();
                    self.log.push(format!("{kind:?}"));
                    if let Command::SendEapol { frame, peer, .. } = &c {
                        assert_eq!(*peer, AP);
                        self.to_ap.push(frame.clone());
                    }
                    let ok = self.refuse != Some(kind);
                    self.sta.handle_command_result(kind, ok);
                }
                KernelStaOutput::Event(e) => {
                    self.log.push(format!("{e:?}"));
                    self.events.push(e);
                }
                KernelStaOutput::State(s) => self.states.push(s),
                KernelStaOutput::LinkUp(t) => self.log.push(format!("LinkUp {}", t.bssid)),
                KernelStaOutput::LinkDown { locally } => {
                    self.log.push(format!("LinkDown locally={locally}"));
                }
                KernelStaOutput::Join(r) => {
                    self.log.push("Join".into());
                    self.joins.push(r);
                }
                KernelStaOutput::Associate(_) => self.log.push("Associate".into()),
                KernelStaOutput::RunSae => self.log.push("RunSae".into()),
            }
        }
    }

    /// The AP's queued frames.
    fn frames_of_ap(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        if let Some(ap) = self.ap.as_mut() {
            while let Some(o) = ap.poll_output() {
                if let Output::Send(f) = o {
                    frames.push(f);
                }
            }
        }
        frames
    }

    /// Frames both ways until neither side has one.
    fn exchange(&mut self) {
        for _ in 0..10 {
            let down = self.frames_of_ap();
            for f in &down {
                let _ = self.sta.handle_eapol(self.now, f, true);
                self.drain();
            }
            let up = core::mem::take(&mut self.to_ap);
            if down.is_empty() && up.is_empty() {
                return;
            }
            if let Some(ap) = self.ap.as_mut() {
                for f in &up {
                    let _ = ap.handle_eapol(self.now, f);
                }
            }
        }
    }

    /// A WPA2 join with passphrase `pass` to an AP whose passphrase is `ap_pass`, associated.
    fn wpa2_associated(pass: &str, ap_pass: &str, retry: bool) -> Self {
        let mut w = Self::new();
        w.sta.handle_connect_request(request());
        w.wpa2_attempt(pass, ap_pass, retry);
        w
    }

    /// A station connected to an open network the guest asked for.
    fn connected_open() -> Self {
        let mut w = Self::new();
        w.sta.handle_connect_request(request());
        w.begin(open_join());
        w.associated();
        w
    }

    /// One WPA2 join attempt on this station, up to the association.
    fn wpa2_attempt(&mut self, pass: &str, ap_pass: &str, retry: bool) {
        self.begin(psk_join(pass, retry));
        self.ap(ap_pass);
        self.associated();
    }

    fn begin(&mut self, join: Join) {
        self.sta.handle_join_started();
        assert!(self.sta.begin_join(self.now, join));
        self.drain();
    }

    fn associated(&mut self) {
        self.sta.handle_connect_result(self.now, Some(0), false);
        self.drain();
    }

    /// The kernel reports the association refused with `status`.
    fn refused(&mut self, status: u16) {
        self.sta
            .handle_connect_result(self.now, Some(status), false);
        self.drain();
    }

    fn failures(&self) -> Vec<ConnectFailure> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ConnectFailed { reason } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    fn count(&self, what: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.as_str() == what || l.starts_with(&format!("{what} ")))
            .count()
    }
}

#[test]
fn a_wpa2_join_runs_the_handshake_on_the_control_port_and_tells_the_guest_connected() {
    let mut w = World::new();
    w.sta.handle_connect_request(request());
    w.begin(psk_join("correct horse", true));
    assert_eq!(w.sta.state(), StationState::Authenticating);
    w.ap("correct horse");
    // Message 1 before the kernel reports the association: kept, not answered yet.
    let msg1 = w.frames_of_ap();
    assert_eq!(msg1.len(), 1);
    w.sta.handle_eapol(w.now, &msg1[0], true).unwrap();
    w.drain();
    assert!(w.to_ap.is_empty(), "answered before the association");
    w.associated();
    assert_eq!(w.states.last(), Some(&StationState::Handshaking));
    assert_eq!(w.to_ap.len(), 1, "the kept message 1 was not answered");
    w.exchange();
    assert!(w.ap.as_ref().unwrap().is_established());
    assert_eq!(w.sta.state(), StationState::Connected);
    assert_eq!(w.states.last(), Some(&StationState::Connected));
    assert_eq!(w.count("InstallPairwise"), 1);
    assert_eq!(w.count("InstallGroup"), 1);
    assert_eq!(w.count("Authorize"), 1);
    // The link opens after the port is authorized, then the guest is told.
    let up = w.log.iter().position(|l| l.starts_with("LinkUp")).unwrap();
    let auth = w.log.iter().position(|l| l == "Authorize").unwrap();
    assert!(auth < up);
    assert_eq!(
        w.events.last(),
        Some(&Event::Connected {
            ssid: ssid(),
            bssid: AP,
            channel: 6
        })
    );
    assert!(w.failures().is_empty());
    assert_eq!(w.sta.target().map(|t| t.bssid), Some(AP));
}

#[test]
fn a_wrong_passphrase_the_ap_shows_plainly_is_told_at_once() {
    let mut w = World::wpa2_associated("wrong horse", "correct horse", true);
    let msg1 = w.frames_of_ap();
    // The AP sends its message 1 again (same ANonce) after each of our answers.
    for _ in 0..3 {
        let _ = w.sta.handle_eapol(w.now, &msg1[0], true);
        w.drain();
    }
    assert!(!w.to_ap.is_empty(), "message 2 never went out");
    // hostapd gives up: deauthentication, reason 15 (4-way handshake timeout).
    w.sta.handle_disconnected(w.now, 15, true);
    w.drain();
    assert_eq!(w.failures(), vec![ConnectFailure::WrongPassphrase]);
    assert!(w.joins.is_empty(), "tried again");
    assert_eq!(w.sta.state(), StationState::Failed);
    // The kernel left already: no DISCONNECT of ours.
    assert_eq!(w.count("Disconnect"), 0);
    // The network is forgotten: a deleted interface rejoins nothing.
    assert!(w.sta.handle_interface_gone(w.now).is_none());
}

#[test]
fn a_failure_after_the_association_is_tried_once_more_then_told() {
    let mut w = World::wpa2_associated("wrong horse", "correct horse", true);
    w.exchange();
    w.sta.handle_disconnected(w.now, 15, true);
    w.drain();
    assert!(w.failures().is_empty(), "told before the second attempt");
    let at = w.sta.poll_timeout().unwrap();
    assert_eq!(at, w.now + RETRY_DELAY);
    w.sta.handle_timeout(w.now + Duration::from_millis(100));
    w.drain();
    assert!(w.joins.is_empty(), "joined again too early");
    w.now = at;
    w.sta.handle_timeout(at);
    w.drain();
    assert_eq!(w.joins.len(), 1);
    // The second attempt (no retry) fails the same way: told now.
    w.wpa2_attempt("wrong horse", "correct horse", false);
    w.exchange();
    w.sta.handle_disconnected(w.now, 15, true);
    w.drain();
    assert_eq!(w.failures(), vec![ConnectFailure::WrongPassphrase]);
    assert_eq!(w.joins.len(), 1);
}

#[test]
fn a_join_past_its_deadline_fails_unreachable_and_stops_the_kernel() {
    let mut w = World::new();
    w.begin(open_join());
    let deadline = w.sta.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + JOIN_TIMEOUT);
    w.sta
        .handle_timeout(w.now + (JOIN_TIMEOUT - Duration::from_millis(1)));
    w.drain();
    assert!(w.failures().is_empty());
    w.sta.handle_timeout(deadline);
    w.drain();
    assert_eq!(w.failures(), vec![ConnectFailure::ApUnreachable]);
    assert_eq!(w.count("Disconnect"), 1);
    assert!(w.joins.is_empty(), "not associated: no second attempt");
    assert_eq!(w.sta.poll_timeout(), None);
}

#[test]
fn an_ap_that_never_sends_message_1_is_a_handshake_timeout() {
    let mut w = World::new();
    w.begin(psk_join("correct horse", false));
    w.associated();
    let t = w.sta.poll_timeout().unwrap();
    assert_eq!(t, w.now + HANDSHAKE_TIMEOUT);
    w.sta.handle_timeout(t);
    w.drain();
    assert_eq!(w.failures(), vec![ConnectFailure::HandshakeTimeout]);
    assert_eq!(w.count("Disconnect"), 1);
}

#[test]
fn a_key_the_kernel_refuses_ends_the_join_and_drops_the_rest() {
    let mut w = World::new();
    w.refuse = Some(CommandKind::InstallPairwise);
    w.begin(psk_join("correct horse", false));
    w.ap("correct horse");
    w.associated();
    w.exchange();
    assert_eq!(
        w.failures(),
        vec![ConnectFailure::Other {
            code: FAILURE_CODE_HANDSHAKE_FAILED,
            detail: 1
        }]
    );
    assert_eq!(w.count("Authorize"), 0);
    assert_eq!(w.count("InstallGroup"), 0);
    assert_eq!(w.count("LinkUp"), 0);
}

#[test]
fn an_association_refused_is_told_with_its_status() {
    let mut w = World::new();
    w.begin(open_join());
    w.refused(17);
    assert_eq!(
        w.failures(),
        vec![ConnectFailure::AssocRejected { status: 17 }]
    );
    let mut w = World::new();
    w.begin(open_join());
    w.sta.handle_connect_result(w.now, Some(1), true);
    w.drain();
    assert_eq!(w.failures(), vec![ConnectFailure::ApUnreachable]);
}

#[test]
fn a_disconnect_event_while_connected_tells_the_guest_who_ended_the_link() {
    let mut w = World::connected_open();
    assert!(w.sta.is_connected());
    w.sta.handle_disconnected(w.now, 7, true);
    w.drain();
    assert_eq!(
        w.events.last(),
        Some(&Event::Disconnected {
            reason: 7,
            locally_generated: false
        })
    );
    assert_eq!(
        w.log.last().map(String::as_str),
        Some("Disconnected { reason: 7, locally_generated: false }")
    );
    assert!(w.log.iter().any(|l| l == "LinkDown locally=false"));
    assert_eq!(w.sta.state(), StationState::Idle);
    assert_eq!(w.count("Disconnect"), 0, "the kernel left already");
    assert!(w.failures().is_empty());
}

#[test]
fn the_guests_disconnect_leaves_and_an_idle_one_is_told_not_connected() {
    let mut w = World::connected_open();
    assert!(w.sta.handle_disconnect_request(w.now));
    w.drain();
    assert_eq!(w.count("Disconnect"), 1);
    assert_eq!(
        w.events.last(),
        Some(&Event::Disconnected {
            reason: REASON_LEAVING,
            locally_generated: true
        })
    );
    assert!(!w.sta.handle_disconnect_request(w.now));
}

#[test]
fn an_interface_deleted_while_connected_rejoins_once_recreated() {
    let mut w = World::connected_open();
    let rejoin = w.sta.handle_interface_gone(w.now);
    w.drain();
    assert_eq!(rejoin.map(|r| r.ssid), Some(ssid()));
    assert_eq!(
        w.events.last(),
        Some(&Event::Disconnected {
            reason: REASON_LEAVING,
            locally_generated: true
        })
    );
    assert_eq!(w.sta.state(), StationState::Idle);
    w.sta.handle_interface_recreated();
    // The recreated interface's join.
    w.begin(open_join());
    w.associated();
    assert!(w.sta.is_connected());
}

#[test]
fn an_interface_deleted_just_after_the_kernel_ended_the_link_rejoins_but_not_long_after() {
    let mut w = World::connected_open();
    // The kernel reports the disconnection first, then the interface gone.
    w.sta.handle_disconnected(w.now, 3, false);
    w.drain();
    let soon = w.now + Duration::from_secs(1);
    assert!(w.sta.handle_interface_gone(soon).is_some());
    w.sta.handle_interface_recreated();
    let mut w = World::connected_open();
    // The AP ended it, long before: nothing to rejoin.
    w.sta.handle_disconnected(w.now, 3, false);
    let late = w.now + LINK_LOST_WITH_INTERFACE;
    assert!(w.sta.handle_interface_gone(late).is_none());
}

#[test]
fn an_sae_join_ends_its_authentication_when_it_fails_before_the_association() {
    let mut w = World::new();
    w.begin(sae_join());
    w.sta
        .handle_join_failed(w.now, sae_failure(&SaeError::Rejected { status: 1 }));
    w.drain();
    assert_eq!(w.count("Deauthenticate"), 1);
    assert_eq!(w.count("Disconnect"), 1);
    assert_eq!(
        w.failures(),
        vec![ConnectFailure::AuthRejected { status: 1 }]
    );
    // SAE done, then associated and the handshake: connected like WPA2.
    let mut w = World::new();
    w.begin(sae_join());
    let cfg = SupplicantConfig {
        aa: AP,
        spa: STA,
        pmk: pmk("sae pmk"),
        ap_rsne: rsne(),
        own_rsne: rsne(),
        timeout: HANDSHAKE_TIMEOUT,
    };
    assert!(w.sta.handle_authenticated(w.now, cfg, None));
    w.ap("sae pmk");
    w.associated();
    w.exchange();
    assert!(w.sta.is_connected());
    assert_eq!(w.count("Deauthenticate"), 0);
}

#[test]
fn the_way_to_authenticate_follows_the_network_and_the_credentials() {
    use crate::crypto::Passphrase;
    let pass = || Credentials::Passphrase(Passphrase::new("correct horse").unwrap());
    assert!(matches!(
        plan(Security::Open, Credentials::None),
        Ok(Plan::Open)
    ));
    assert!(matches!(plan(Security::Wpa2Wpa3, pass()), Ok(Plan::Sae(_))));
    assert!(matches!(plan(Security::Wpa3Sae, pass()), Ok(Plan::Sae(_))));
    assert!(matches!(
        plan(Security::Wpa2Psk, pass()),
        Ok(Plan::DerivePsk(_))
    ));
    assert_eq!(
        plan(Security::Open, pass()).err(),
        Some(security_mismatch(Security::Open))
    );
    assert_eq!(
        plan(Security::Wpa3Sae, Credentials::None).err(),
        Some(security_mismatch(Security::Wpa3Sae))
    );
    assert_eq!(
        plan(Security::Other(9), Credentials::None).err(),
        Some(unsupported_security(Security::Other(9)))
    );
}

#[test]
fn a_link_lost_during_the_handshake_after_message_2_is_a_wrong_passphrase() {
    assert_eq!(
        join_failure(true, true, 15),
        ConnectFailure::WrongPassphrase
    );
    assert_eq!(
        join_failure(true, true, 14),
        ConnectFailure::WrongPassphrase
    );
    assert_eq!(
        join_failure(true, false, 15),
        ConnectFailure::HandshakeTimeout
    );
    assert_eq!(
        join_failure(false, false, 2),
        ConnectFailure::Other {
            code: FAILURE_CODE_REJECTED_BY_AP,
            detail: 2
        }
    );
    assert_eq!(
        join_failure(true, true, 3),
        ConnectFailure::Other {
            code: FAILURE_CODE_REJECTED_BY_AP,
            detail: 3
        }
    );
}

#[test]
fn sae_failures_are_told_as_the_simulated_radio_tells_them() {
    assert_eq!(
        sae_failure(&SaeError::ConfirmRejected { status: 15 }),
        ConnectFailure::WrongPassphrase
    );
    assert_eq!(
        sae_failure(&SaeError::Timeout { what: "confirm" }),
        ConnectFailure::WrongPassphrase
    );
    assert_eq!(
        sae_failure(&SaeError::Timeout { what: "commit" }),
        ConnectFailure::ApUnreachable
    );
    assert_eq!(
        sae_failure(&SaeError::Rejected { status: 77 }),
        ConnectFailure::AuthRejected { status: 77 }
    );
    assert_eq!(
        sae_failure(&SaeError::UnsupportedGroup { group: 20 }),
        ConnectFailure::AuthRejected { status: 77 }
    );
}

fn key_frame(info: u16, nonce: u8) -> Vec<u8> {
    KeyFrame {
        version: 2,
        key_info: KeyInfo(info | KeyInfo::VERSION_HMAC_SHA1_AES),
        key_length: 16,
        replay_counter: 1,
        nonce: [nonce; 32],
        iv: [0; 16],
        rsc: [0; 8],
        reserved: [0; 8],
        mic: [0; 16],
        key_data: Vec::new(),
    }
    .to_vec()
}

#[test]
fn an_ap_repeating_message_1_with_the_same_anonce_shows_a_wrong_key() {
    let msg1 = KeyInfo::PAIRWISE | KeyInfo::ACK;
    let msg3 = msg1 | KeyInfo::MIC | KeyInfo::INSTALL | KeyInfo::SECURE;
    let mut m = Msg1Repeats::default();
    m.saw(&key_frame(msg1, 1));
    m.saw(&key_frame(msg1, 1));
    assert!(!m.shows_wrong_key());
    // A message 3, garbage: not a message 1.
    m.saw(&key_frame(msg3, 1));
    m.saw(&[1, 3, 0, 0]);
    assert!(!m.shows_wrong_key());
    m.saw(&key_frame(msg1, 1));
    assert!(m.shows_wrong_key());
    // A restarted handshake (new ANonce) starts the count again.
    m.saw(&key_frame(msg1, 2));
    assert!(!m.shows_wrong_key());
}

#[test]
fn a_signal_change_of_a_few_db_is_told_and_the_first_reading_is_the_reference() {
    let mut w = World::new();
    // Not connected: nothing told, nothing kept.
    w.sta.handle_signal(Some(-40));
    w.begin(open_join());
    w.associated();
    w.sta.handle_signal(None);
    w.sta.handle_signal(Some(-50));
    w.sta.handle_signal(Some(-52));
    w.drain();
    let told = |w: &World| {
        w.events
            .iter()
            .filter_map(|e| match e {
                Event::SignalChanged { dbm } => Some(*dbm),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(told(&w).is_empty(), "told {:?}", told(&w));
    w.sta.handle_signal(Some(-53));
    w.sta.handle_signal(Some(-55));
    w.sta.handle_signal(Some(-50));
    w.drain();
    assert_eq!(told(&w), vec![-53, -50]);
    // A new link starts from its own first reading.
    w.sta.handle_disconnected(w.now, 3, true);
    w.begin(open_join());
    w.associated();
    w.sta.handle_signal(Some(-70));
    w.drain();
    assert_eq!(told(&w), vec![-53, -50]);
}

fn sae_join() -> Join {
    Join {
        auth: JoinAuth::Sae,
        security: Security::Wpa3Sae,
        ..open_join()
    }
}

fn pmksa_join() -> Join {
    Join {
        auth: JoinAuth::SaePmksa(pmk("cached")),
        security: Security::Wpa3Sae,
        ..open_join()
    }
}

#[test]
fn a_cached_pmksa_the_ap_takes_associates_with_its_pmk() {
    let mut w = World::new();
    w.begin(pmksa_join());
    assert!(w.sta.awaits_open_auth());
    let mut associate = None;
    w.sta.handle_open_auth(w.now, true);
    while let Some(o) = w.sta.poll_output() {
        if let KernelStaOutput::Associate(pmk) = o {
            associate = Some(pmk);
        }
    }
    assert!(associate.is_some_and(|p| p.expose() == pmk("cached").expose()));
    assert!(!w.sta.awaits_open_auth());
    assert!(w.failures().is_empty());
}

#[test]
fn a_cached_pmksa_the_ap_refuses_falls_back_to_sae_not_to_a_failure() {
    // Refused at the Open System authentication (or not answered).
    let mut w = World::new();
    w.begin(pmksa_join());
    w.sta.handle_open_auth(w.now, false);
    let mut run_sae = 0;
    let mut deauth_first = false;
    while let Some(o) = w.sta.poll_output() {
        match o {
            KernelStaOutput::Command(Command::Deauthenticate { peer }) => {
                deauth_first = run_sae == 0 && peer == AP;
            }
            KernelStaOutput::RunSae => run_sae += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(deauth_first && run_sae == 1);
    assert_eq!(w.sta.retry().map(|r| r.ssid), Some(ssid()));
    // Refused at the association (status 53, invalid PMKID): SAE too, once.
    let mut w = World::new();
    w.begin(pmksa_join());
    w.sta.handle_open_auth(w.now, true);
    w.drain();
    w.sta.handle_connect_result(w.now, Some(53), false);
    let outputs: Vec<_> = core::iter::from_fn(|| w.sta.poll_output()).collect();
    assert!(
        matches!(outputs.last(), Some(KernelStaOutput::RunSae)),
        "{outputs:?}"
    );
    // The full SAE join that follows fails as any join does.
    w.begin(sae_join());
    w.refused(53);
    assert_eq!(
        w.failures(),
        vec![ConnectFailure::AssocRejected { status: 53 }]
    );
}

#[test]
fn a_join_scans_twice_for_a_network_it_misses_and_a_failed_scan_is_tried_again() {
    assert!(JoinScans::fresh(FRESH_SCAN_MS) && !JoinScans::fresh(FRESH_SCAN_MS + 1));
    let mut s = JoinScans::default();
    assert!(s.another());
    s.scanned();
    assert!(s.another(), "one miss ends the join");
    s.scanned();
    assert!(!s.another(), "a third scan after two misses");
    // Failed scans count as tries, not misses: three in all.
    let mut s = JoinScans::default();
    s.failed();
    s.failed();
    assert!(s.another());
    s.scanned();
    assert!(!s.another(), "more than three tries");
}
