//! The two roles against each other, and against tampering, replays and loss.

use core::time::Duration;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::crypto::{derive_psk, Passphrase};
use crate::time::Instant;
use crate::wire::eapol::MIC_RANGE;

const AA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const SPA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);

/// RSNE: version 1, group CCMP, pairwise [CCMP], AKM [PSK], capabilities 0.
pub(crate) fn rsne() -> Vec<u8> {
    vec![
        48, 20, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 2, 0,
        0,
    ]
}

/// A PMK per passphrase. PBKDF2 (tested in `crypto::psk`) is skipped: 4096 rounds per
/// handshake would make the tamper test take minutes in debug builds.
pub(crate) fn pmk(pass: &str) -> Pmk {
    let mut key = [0u8; 32];
    for (k, b) in key.iter_mut().zip(pass.bytes().cycle()) {
        *k = b;
    }
    Pmk::from_bytes(key)
}

struct Pair {
    sup: Supplicant,
    auth: Authenticator,
    rng: ChaCha20Rng,
    now: Instant,
    /// Outputs other than `Send`, per side.
    sup_events: Vec<Output>,
    auth_events: Vec<Output>,
    /// Every frame sent, in order, with its sender (true = authenticator).
    log: Vec<(bool, Vec<u8>)>,
}

fn pair_with(sup_pass: &str, auth_pass: &str, ap_rsne_seen: Vec<u8>) -> Pair {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let now = Instant::from_millis(1000);
    let gtk = Gtk::generate(&mut rng, 1).unwrap();
    let sup = Supplicant::new(
        SupplicantConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk(sup_pass),
            ap_rsne: ap_rsne_seen,
            own_rsne: rsne(),
            timeout: Duration::from_secs(5),
        },
        now,
    )
    .unwrap();
    let auth = Authenticator::new(
        AuthenticatorConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk(auth_pass),
            own_rsne: rsne(),
            peer_rsne: rsne(),
            gtk,
            gtk_rsc: 42,
            retry: RetryPolicy::default(),
        },
        now,
        &mut rng,
    )
    .unwrap();
    Pair {
        sup,
        auth,
        rng,
        now,
        sup_events: vec![],
        auth_events: vec![],
        log: vec![],
    }
}

fn pair() -> Pair {
    pair_with("correct horse", "correct horse", rsne())
}

impl Pair {
    /// Frames queued by the authenticator / supplicant; other outputs go to the event lists.
    fn drain_auth(&mut self) -> Vec<Vec<u8>> {
        let mut frames = vec![];
        while let Some(o) = self.auth.poll_output() {
            match o {
                Output::Send(f) => {
                    self.log.push((true, f.clone()));
                    frames.push(f);
                }
                other => self.auth_events.push(other),
            }
        }
        frames
    }

    fn drain_sup(&mut self) -> Vec<Vec<u8>> {
        let mut frames = vec![];
        while let Some(o) = self.sup.poll_output() {
            match o {
                Output::Send(f) => {
                    self.log.push((false, f.clone()));
                    frames.push(f);
                }
                other => self.sup_events.push(other),
            }
        }
        frames
    }

    fn deliver_to_sup(&mut self, f: &[u8]) -> Result<(), HandshakeError> {
        self.sup.handle_eapol(self.now, f, &mut self.rng)
    }

    fn deliver_to_auth(&mut self, f: &[u8]) -> Result<(), HandshakeError> {
        self.auth.handle_eapol(self.now, f)
    }

    /// Runs the exchange until neither side has anything to send; rejections are ignored.
    fn run(&mut self) {
        loop {
            let a = self.drain_auth();
            for f in &a {
                let _ = self.deliver_to_sup(f);
            }
            let s = self.drain_sup();
            for f in &s {
                let _ = self.deliver_to_auth(f);
            }
            if a.is_empty() && s.is_empty() {
                break;
            }
        }
    }
}

fn installed_tk(events: &[Output]) -> Option<&TemporalKey> {
    events.iter().find_map(|o| match o {
        Output::InstallPairwise(tk) => Some(tk),
        _ => None,
    })
}

fn failure(events: &[Output]) -> Option<&HandshakeError> {
    events.iter().find_map(|o| match o {
        Output::Failed(e) => Some(e),
        _ => None,
    })
}

#[test]
fn roles_complete_and_agree_on_ptk_and_gtk() {
    let mut p = pair();
    let auth_gtk = p.auth.cfg_gtk_for_test().clone();
    p.run();
    assert!(p.sup.is_established() && p.auth.is_established());
    assert_eq!(p.log.len(), 4, "four messages");
    let (sup_tk, auth_tk) = (installed_tk(&p.sup_events), installed_tk(&p.auth_events));
    assert!(sup_tk.is_some());
    assert_eq!(sup_tk, auth_tk);
    assert!(p.sup_events.contains(&Output::InstallGroup {
        gtk: auth_gtk,
        rsc: 42
    }));
    assert!(p.sup_events.contains(&Output::Complete));
    assert!(p.auth_events.contains(&Output::Complete));
    assert_eq!(p.sup.poll_timeout(), None);
    assert_eq!(p.auth.poll_timeout(), None);
    // The recorded exchange verifies with the PSK and fails with another.
    let msgs: Vec<&[u8]> = p.log.iter().map(|(_, f)| f.as_slice()).collect();
    let msgs = [msgs[0], msgs[1], msgs[2], msgs[3]];
    let ptk = verify_recorded(&pmk("correct horse"), AA, SPA, msgs).unwrap();
    assert_eq!(Some(ptk.tk()), sup_tk);
    assert_eq!(
        verify_recorded(&pmk("wrong horse"), AA, SPA, msgs).unwrap_err(),
        HandshakeError::MicMismatch {
            message: Message::Msg2
        }
    );
}

#[test]
fn wrong_passphrase_fails_with_mic_mismatch_at_authenticator_and_timeout_at_supplicant() {
    let mut p = pair_with("correct horse", "battery staple", rsne());
    p.run();
    let e = failure(&p.auth_events).expect("authenticator fails");
    assert_eq!(
        e,
        &HandshakeError::MicMismatch {
            message: Message::Msg2
        }
    );
    assert_eq!(e.kind(), ErrorKind::WrongKey);
    assert_eq!(e.reason_code(), 14);
    assert!(installed_tk(&p.sup_events).is_none());
    // The supplicant never sees message 3 and gives up at its deadline.
    let deadline = p.sup.poll_timeout().unwrap();
    p.sup.handle_timeout(deadline);
    p.drain_sup();
    let e = failure(&p.sup_events).expect("supplicant times out");
    assert_eq!(
        e,
        &HandshakeError::Timeout {
            awaiting: Message::Msg3,
            attempts: 0
        }
    );
    assert_eq!(u16::from(e), 15);
}

#[test]
fn rejects_replayed_msg1_and_msg3_after_completion() {
    let mut p = pair();
    p.run();
    let msg1 = p.log[0].1.clone();
    let msg3 = p.log[2].1.clone();
    assert!(matches!(
        p.deliver_to_sup(&msg1),
        Err(HandshakeError::ReplayCounterNotIncreasing {
            message: Message::Msg1,
            received: 1,
            last: 2
        })
    ));
    assert!(matches!(
        p.deliver_to_sup(&msg3),
        Err(HandshakeError::ReplayCounterNotIncreasing {
            message: Message::Msg3,
            ..
        })
    ));
    assert!(p.drain_sup().is_empty(), "no reply to replays");
    assert_eq!(p.sup_events.len(), 3, "no reinstalled key");
    // The authenticator rejects a replayed message 2 or 4 too.
    let msg2 = p.log[1].1.clone();
    assert!(p.deliver_to_auth(&msg2).is_err());
}

#[test]
fn rejects_replayed_msg1_during_handshake() {
    let mut p = pair();
    let msg1 = p.drain_auth().remove(0);
    p.deliver_to_sup(&msg1).unwrap();
    assert!(matches!(
        p.deliver_to_sup(&msg1),
        Err(HandshakeError::ReplayCounterNotIncreasing { .. })
    ));
}

#[test]
fn tampered_messages_are_rejected() {
    // Each run flips one bit of message 3 (at the supplicant) or message 2/4 (at the
    // authenticator) and checks that no key gets installed from it.
    let mut reference = pair();
    reference.run();
    let sizes: Vec<usize> = reference.log.iter().map(|(_, f)| f.len()).collect();
    for (msg_index, &size) in sizes.iter().enumerate().skip(1) {
        for byte in 0..size {
            let mut p = pair();
            let mut step = 0;
            let mut rejected = false;
            loop {
                let mut frames: Vec<(bool, Vec<u8>)> =
                    p.drain_auth().into_iter().map(|f| (true, f)).collect();
                frames.extend(p.drain_sup().into_iter().map(|f| (false, f)));
                if frames.is_empty() {
                    break;
                }
                for (from_auth, mut f) in frames {
                    if step == msg_index {
                        f[byte] ^= 0x01;
                    }
                    step += 1;
                    let r = if from_auth {
                        p.deliver_to_sup(&f)
                    } else {
                        p.deliver_to_auth(&f)
                    };
                    if step - 1 == msg_index {
                        rejected = r.is_err();
                        assert!(rejected, "message {} byte {byte} accepted", msg_index + 1);
                    }
                }
                if rejected {
                    break;
                }
            }
            assert!(rejected);
            let installed = if msg_index == 2 {
                installed_tk(&p.sup_events)
            } else {
                installed_tk(&p.auth_events)
            };
            assert!(installed.is_none(), "message {} byte {byte}", msg_index + 1);
        }
    }
}

#[test]
fn rsne_mismatch_in_msg3_fails_with_reason_17() {
    // The beacon the supplicant saw advertised another RSNE (say, a forged one): a downgrade.
    let mut seen = rsne();
    seen[20] = 0x0c; // RSN capabilities
    let mut p = pair_with("correct horse", "correct horse", seen);
    p.run();
    let e = failure(&p.sup_events).expect("supplicant fails");
    assert_eq!(
        e,
        &HandshakeError::RsneMismatch {
            message: Message::Msg3
        }
    );
    assert_eq!(e.reason_code(), 17);
    assert!(installed_tk(&p.sup_events).is_none());
}

#[test]
fn rsne_mismatch_in_msg2_fails_with_reason_17() {
    let mut p = pair();
    p.auth.set_peer_rsne_for_test({
        let mut r = rsne();
        r[21] = 0x01;
        r
    });
    p.run();
    let e = failure(&p.auth_events).expect("authenticator fails");
    assert_eq!(
        e,
        &HandshakeError::RsneMismatch {
            message: Message::Msg2
        }
    );
    assert_eq!(e.reason_code(), 17);
}

#[test]
fn authenticator_retransmits_with_increasing_counter_then_times_out() {
    let mut p = pair();
    let mut counters = vec![];
    for _ in 0..4 {
        let f = p.drain_auth();
        assert_eq!(f.len(), 1);
        counters.push(KeyFrame::parse(&f[0]).unwrap().replay_counter);
        let t = p.auth.poll_timeout().unwrap();
        assert!(t > p.now);
        p.now = t;
        p.auth.handle_timeout(t);
    }
    assert_eq!(counters, [1, 2, 3, 4]);
    p.drain_auth();
    assert_eq!(
        failure(&p.auth_events),
        Some(&HandshakeError::Timeout {
            awaiting: Message::Msg2,
            attempts: 4
        })
    );
    assert_eq!(p.auth.poll_timeout(), None);
}

#[test]
fn lost_msg3_and_msg4_are_recovered_by_retransmission() {
    let mut p = pair();
    let m1 = p.drain_auth().remove(0);
    p.deliver_to_sup(&m1).unwrap();
    let m2 = p.drain_sup().remove(0);
    p.deliver_to_auth(&m2).unwrap();
    let _lost_m3 = p.drain_auth().remove(0);
    p.now = p.auth.poll_timeout().unwrap();
    p.auth.handle_timeout(p.now);
    let m3 = p.drain_auth().remove(0);
    assert_eq!(KeyFrame::parse(&m3).unwrap().replay_counter, 3);
    p.deliver_to_sup(&m3).unwrap();
    let _lost_m4 = p.drain_sup().remove(0);
    assert!(p.sup.is_established());
    p.now = p.auth.poll_timeout().unwrap();
    p.auth.handle_timeout(p.now);
    let m3b = p.drain_auth().remove(0);
    p.deliver_to_sup(&m3b).unwrap();
    let m4 = p.drain_sup().remove(0);
    p.deliver_to_auth(&m4).unwrap();
    p.drain_auth();
    assert!(p.auth.is_established());
    let installs = p
        .sup_events
        .iter()
        .filter(|o| matches!(o, Output::InstallPairwise(_)))
        .count();
    assert_eq!(installs, 1, "the TK is installed once");
    assert_eq!(installed_tk(&p.sup_events), installed_tk(&p.auth_events));
}

#[test]
fn group_rekey_round_trip() {
    let mut p = pair();
    p.run();
    let new_gtk = Gtk::generate(&mut p.rng, 2).unwrap();
    assert_eq!(p.auth.start_group_rekey(p.now, new_gtk.clone(), 7), Ok(()));
    p.run();
    assert!(p.sup_events.contains(&Output::InstallGroup {
        gtk: new_gtk.clone(),
        rsc: 7
    }));
    assert!(p.auth_events.contains(&Output::GroupKeyComplete));
    assert_eq!(p.auth.poll_timeout(), None);
    // A replayed group message 1 is rejected and the GTK is not reinstalled.
    let g1 = p.log[4].1.clone();
    assert!(matches!(
        p.deliver_to_sup(&g1),
        Err(HandshakeError::ReplayCounterNotIncreasing {
            message: Message::GroupMsg1,
            ..
        })
    ));
}

#[test]
fn group_rekey_needs_completed_handshake_and_times_out_with_reason_16() {
    let mut p = pair();
    let gtk = Gtk::generate(&mut p.rng, 2).unwrap();
    assert_eq!(
        p.auth.start_group_rekey(p.now, gtk.clone(), 0),
        Err(HandshakeError::NotEstablished)
    );
    p.run();
    p.auth.start_group_rekey(p.now, gtk, 0).unwrap();
    for _ in 0..4 {
        assert_eq!(p.drain_auth().len(), 1);
        p.now = p.auth.poll_timeout().unwrap();
        p.auth.handle_timeout(p.now);
    }
    p.drain_auth();
    let e = failure(&p.auth_events).unwrap();
    assert_eq!(e, &HandshakeError::GroupKeyTimeout { attempts: 4 });
    assert_eq!(e.reason_code(), 16);
}

#[test]
fn incompatible_rsne_is_refused_at_construction() {
    let mut tkip = rsne();
    tkip[13] = 2; // pairwise TKIP
    let cfg = SupplicantConfig {
        aa: AA,
        spa: SPA,
        pmk: pmk("correct horse"),
        ap_rsne: rsne(),
        own_rsne: tkip,
        timeout: Duration::from_secs(1),
    };
    let e = Supplicant::new(cfg, Instant::ZERO).unwrap_err();
    assert_eq!(
        e,
        HandshakeError::UnsupportedPairwiseCipher { suite: 0x000f_ac02 }
    );
    assert_eq!(e.kind(), ErrorKind::Incompatible);
    assert_eq!(e.reason_code(), 19);
}

#[test]
fn unsupported_key_descriptor_version_is_refused() {
    let mut p = pair();
    let mut m1 = p.drain_auth().remove(0);
    m1[6] = (m1[6] & !0x07) | 0x01; // HMAC-MD5 / RC4
    assert_eq!(
        p.deliver_to_sup(&m1),
        Err(HandshakeError::UnsupportedKeyDescriptor { version: 1 })
    );
    assert_eq!(MIC_RANGE, 81..97);
}

/// A real WPA2 4-way handshake captured by iwd's developers (iwd `unit/test-eapol.c`,
/// `eapol_key_data_7` to `eapol_key_data_10`, passphrase "EasilyGuessedPassword", SSID
/// "TestWPA"): our PBKDF2, PRF, MIC and key unwrap agree with a deployed implementation.
#[test]
fn verifies_a_recorded_iwd_handshake() {
    let h = |s: &str| hex::decode(s.split_whitespace().collect::<String>()).unwrap();
    let pad = |mut v: Vec<u8>, n: usize| {
        v.resize(n, 0);
        v
    };
    let m1 = pad(
        h("0203005f 02 008a 0010 0000000000000001
           2b5852b88e4ca34dc599ed202c63957c535e3efa92898734 11127cbaf3588425"),
        99,
    );
    let mut m2 = pad(
        h("02030073 02 010a 0000 0000000000000001
           727c656c5ed642d7f47f484351d808945118da6a4933ac7e293f2f2ac088348c"),
        81,
    );
    m2.extend(h("7d7c45989f492b4a36583529282d8fed 0014
                 30120100000fac040100000fac040100000fac02"));
    let mut m3 = pad(
        h("0203009702 13ca 0010 0000000000000002
           2b5852b88e4ca34dc599ed202c63957c535e3efa92898734 11127cbaf3588425"),
        81,
    );
    m3.extend(h("f8626a5776c733bfc071de62ebf7a7c5 0038
                 14dd52803dc83df7ba7eb648296d650e88ccc8dd676204a2c7c1f2650bcaf96b
                 66f5b43d9926adc5ce18c0a99be50e508584b157e37a5e0f"));
    let mut m4 = pad(h("0203005f 02 030a 0000 0000000000000002"), 81);
    m4.extend(h("8b0f342349f08503e5fc54b72cb53266 0000"));
    let psk = derive_psk(
        &Passphrase::new("EasilyGuessedPassword").unwrap(),
        b"TestWPA",
    )
    .unwrap();
    // The addresses of iwd's `eapol_sm_wpa2_retransmit_test`, which replays these frames.
    let aa = MacAddr([0x02, 0, 0, 0, 0, 0]);
    let spa = MacAddr([0x02, 0, 0, 0, 0x01, 0]);
    verify_recorded(&psk, aa, spa, [&m1, &m2, &m3, &m4]).unwrap();
    let other = derive_psk(
        &Passphrase::new("EasilyGuessedPasswore").unwrap(),
        b"TestWPA",
    )
    .unwrap();
    assert_eq!(
        verify_recorded(&other, aa, spa, [&m1, &m2, &m3, &m4]).unwrap_err(),
        HandshakeError::MicMismatch {
            message: Message::Msg2
        }
    );
    assert!(
        verify_recorded(&psk, spa, aa, [&m1, &m2, &m3, &m4]).is_ok(),
        "min/max ordering"
    );
}

/// RSNE: version 1, group CCMP, pairwise [CCMP], AKM [SAE], capabilities MFPC | MFPR.
fn sae_rsne() -> Vec<u8> {
    vec![
        48, 20, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 8,
        0xc0, 0,
    ]
}

/// RSNE of a transition-mode AP: AKMs [PSK, SAE], MFPC.
fn transition_rsne() -> Vec<u8> {
    vec![
        48, 24, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 4, 2, 0, 0x00, 0x0f, 0xac, 2,
        0x00, 0x0f, 0xac, 8, 0x80, 0,
    ]
}

fn sae_pair(ap_rsne: Vec<u8>, sta_rsne: Vec<u8>, igtk: Option<crypto::bip::Igtk>) -> Pair {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let now = Instant::from_millis(1000);
    let gtk = Gtk::generate(&mut rng, 1).unwrap();
    let sup = Supplicant::new(
        SupplicantConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk("sae pmk"),
            ap_rsne: ap_rsne.clone(),
            own_rsne: sta_rsne.clone(),
            timeout: Duration::from_secs(5),
        },
        now,
    )
    .unwrap();
    let mut auth = Authenticator::new(
        AuthenticatorConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk("sae pmk"),
            own_rsne: ap_rsne,
            peer_rsne: sta_rsne,
            gtk,
            gtk_rsc: 7,
            retry: RetryPolicy::default(),
        },
        now,
        &mut rng,
    )
    .unwrap();
    if let Some(igtk) = igtk {
        auth.set_igtk(igtk, 3);
    }
    Pair {
        sup,
        auth,
        rng,
        now,
        sup_events: vec![],
        auth_events: vec![],
        log: vec![],
    }
}

#[test]
fn sae_akm_uses_descriptor_version_0_cmac_and_sha256_ptk_and_hands_over_the_igtk() {
    let igtk = crypto::bip::Igtk::new([0x5a; 16], 4).unwrap();
    let mut p = sae_pair(sae_rsne(), sae_rsne(), Some(igtk.clone()));
    p.run();
    assert!(p.sup.is_established() && p.auth.is_established());
    assert_eq!((p.sup.akm(), p.auth.akm()), (Akm::Sae, Akm::Sae));
    assert_eq!(p.sup.igtk(), Some((&igtk, 3)));
    let (sup_tk, auth_tk) = (installed_tk(&p.sup_events), installed_tk(&p.auth_events));
    assert!(sup_tk.is_some());
    assert_eq!(sup_tk, auth_tk);
    for (_, f) in &p.log {
        let key = crate::wire::eapol::KeyFrame::parse(f).unwrap();
        assert_eq!(key.key_info.descriptor_version(), 0, "AKM-defined version");
    }
    // The PTK is KDF-SHA-256's: message 2's MIC verifies as AES-CMAC with its KCK.
    let m1 = crate::wire::eapol::KeyFrame::parse(&p.log[0].1).unwrap();
    let m2 = crate::wire::eapol::KeyFrame::parse(&p.log[1].1).unwrap();
    let ptk = Akm::Sae.derive_ptk(&pmk("sae pmk"), AA, SPA, &m1.nonce, &m2.nonce);
    crypto::verify_mic_cmac(ptk.kck(), &p.log[1].1, MIC_RANGE).unwrap();
    assert!(crypto::verify_mic(ptk.kck(), &p.log[1].1, MIC_RANGE).is_err());
    // A version-2 (PSK) frame is refused by an SAE supplicant.
    assert!(matches!(
        verify_recorded(
            &pmk("sae pmk"),
            AA,
            SPA,
            [&p.log[0].1, &p.log[1].1, &p.log[2].1, &p.log[3].1]
        ),
        Err(HandshakeError::UnsupportedKeyDescriptor { version: 0 })
    ));
}

#[test]
fn transition_ap_runs_whichever_akm_the_station_selects() {
    for (sta, akm) in [(rsne(), Akm::Psk), (sae_rsne(), Akm::Sae)] {
        let mut p = sae_pair(transition_rsne(), sta, None);
        p.run();
        assert!(p.sup.is_established(), "{akm:?}");
        assert_eq!(p.auth.akm(), akm);
        assert_eq!(p.sup.igtk(), None, "no IGTK without set_igtk");
    }
    // A station selecting SAE from a PSK-only AP is refused.
    let e = Supplicant::new(
        SupplicantConfig {
            aa: AA,
            spa: SPA,
            pmk: pmk("x"),
            ap_rsne: rsne(),
            own_rsne: sae_rsne(),
            timeout: Duration::from_secs(5),
        },
        Instant::ZERO,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        HandshakeError::UnsupportedAkm { suite: 0x000f_ac08 }
    ));
}
