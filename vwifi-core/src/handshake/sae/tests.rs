//! SAE against published vectors, and the two roles against each other.

use p256::elliptic_curve::PrimeField;
use p256::{FieldBytes, Scalar};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::exchange::{confirm_value, derive_keys, LocalCommit, PeerCommit};
use super::frame::{Commit, Confirm};
use super::group::pwe_hunting_and_pecking;
use super::*;
use crate::addr::MacAddr;
use crate::handshake::RetryPolicy;
use crate::time::Instant;
use crate::wire::codes::StatusCode;

fn unhex(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat()).unwrap()
}

fn mac(s: &str) -> MacAddr {
    MacAddr(hex::decode(s).unwrap().try_into().unwrap())
}

fn scalar(s: &str) -> Scalar {
    let bytes: [u8; 32] = hex::decode(s).unwrap().try_into().unwrap();
    Option::from(Scalar::from_repr(FieldBytes::from(bytes))).unwrap()
}

/// Runs a vector: our commit from fixed rand and mask must be `local`, the peer's commit
/// `peer` must give the KCK, PMK and PMKID.
#[allow(clippy::too_many_arguments)]
fn check_vector(
    addr1: MacAddr,
    addr2: MacAddr,
    password: &[u8],
    identifier: Option<&[u8]>,
    rand: &str,
    mask: &str,
    local: &[u8],
    peer: &[u8],
    kck: &str,
    pmk: &str,
    pmkid: &str,
) -> (LocalCommit, PeerCommit, [u8; 32]) {
    let pwe = pwe_hunting_and_pecking(addr1, addr2, password, identifier).unwrap();
    let ours = LocalCommit::with_values(&pwe, scalar(rand), scalar(mask)).unwrap();
    let id = identifier.map(<[u8]>::to_vec);
    assert_eq!(
        hex::encode(ours.to_commit(None, id).to_vec(false)),
        hex::encode(local)
    );
    let theirs = PeerCommit::validate(&Commit::parse(peer, false, 0).unwrap()).unwrap();
    let keys = derive_keys(&pwe, &ours, &theirs, None).unwrap();
    assert_eq!(hex::encode(keys.kck), kck, "KCK");
    assert_eq!(hex::encode(keys.pmk), pmk, "PMK");
    assert_eq!(hex::encode(keys.pmkid), pmkid, "PMKID");
    (ours, theirs, keys.kck)
}

/// IEEE Std 802.11-2020 Annex J.10 (SAE hunting and pecking, group 19), as published in
/// hostapd's `src/common/common_module_tests.c` (`sae_tests`: addresses 4d:3f:2f:ff:e3:87 and
/// a5:d8:aa:95:8e:3c, password "mekmitasdigoat").
#[test]
fn hunting_and_pecking_matches_ieee_2020_annex_j10() {
    check_vector(
        mac("4d3f2fffe387"),
        mac("a5d8aa958e3c"),
        b"mekmitasdigoat",
        None,
        "992465fd3daa3c60aa6565b7f62a2a7f2e12dd12f198faf4fbed89d7ff1ace94",
        "9507a90f777a044d6a0830b91ea3d5dd70bece44e1acffb86983b5e1bf9fb322",
        &unhex(&[
            "13002e2c0f0db52440ad146d967114ce005ce1eab0aa2c2e5c2871b774f6c257",
            "5c65d5ad9e00829707aa36ba8b859738fc961d08243505f47c035376d7ac4bc8",
            "d7b95083bf43827d0fc31ed778dd3671fd21a46d1091d64b6f9a1e1272621325",
            "dbe1",
        ]),
        &unhex(&[
            "1300591b96f3397fb945100848e7b550543b6720d88337ee93fc49fd6df7e08b",
            "5223e71b9bb048d3873f20556953a96c91536fd8ee6ca9b4a68a148b056a909b",
            "e03e83ae208f60f8ef5537858074db06687032399862999b511e0a1552a5fea3",
            "17c2",
        ]),
        "1e733f6d9bd53256287304338831b09a39406d121017073a5c30db36f36cb81a",
        "4e4dfab1a2dd8ac1a91790f953faaa452ae5c6873ab75b63605ba663f8a7fe59",
        "8747a600eea3f9f22475df58ca1e5498",
    );
}

/// IEEE P802.11-REVmd/D2.1 Annex J.10 (hunting and pecking with the password identifier
/// "psk4internet", commit and confirm), as published in earlier versions of hostapd's
/// `src/common/common_module_tests.c` (`sae_tests`: addresses 82:7b:91:9d:d4:b9 and
/// 1e:ec:49:ea:64:88).
#[test]
fn hunting_and_pecking_with_identifier_and_confirms_match_revmd_annex_j10() {
    let (ours, theirs, kck) = check_vector(
        mac("827b919dd4b9"),
        mac("1eec49ea6488"),
        b"mekmitasdigoat",
        Some(b"psk4internet"),
        "a906f61e4d3a5d4eb2965ff34cf917dd044445c878c17ca5d5b93786da9f83cf",
        "4234b4fb17aa435c52fbfdebe64039b43478200e54ff7b6e07b69cad74153c15",
        &unhex(&[
            "1300eb3bab1964e4a0ab05925ddf3339519138bc65d6cdc0f813dd6fd4344eb4",
            "bfe44b5c21597658f4e3eddfb4b99f25b4d6540f32ff1fd5c530c60a79444861",
            "0bc6de3d92bdbbd47d935980ca6cf8988ab6630be6764c885ceb9793970f6952",
            "17eeff0d2170736b34696e7465726e6574",
        ]),
        &unhex(&[
            "13005564f045b2ea1e566cf1dd741f70d9be35d2df5b9a5502946ee03cf8dae2",
            "7e1e05b8430eb7a99e24877ce69baf3dc580e309633d6b385f83ee1c3ec3591f",
            "1a5393c06e805ddceb2fde50930dd7cfebb987c6ff9666af164eb5184d8e6662",
            "ed6aff0d2170736b34696e7465726e6574",
        ]),
        "599d6f1e27548be8499dceed2feccf94818ce1c79f1b4eb3d6a53228a09bf3ed",
        "7aead86fba4c3221fc437f5f14d70d854ea5d5aac1690116793081eda4d557c5",
        "40a09b6017cebf0072843b5352aa2b4f",
    );
    let local_confirm = Confirm {
        send_confirm: 1,
        confirm: confirm_value(
            &kck,
            1,
            &ours.scalar,
            &ours.element,
            &theirs.scalar,
            &theirs.element,
        ),
    };
    assert_eq!(
        hex::encode(local_confirm.to_vec()),
        "010012d9d5c78c500526d36c41dbc56aedf2914cedddd7cad4a58c48f83dbde9fc77"
    );
    let peer_confirm = Confirm::parse(&unhex(&[
        "010002871cf906898b8060ec184143be77b8c08a8019b13eb6d0aef0d8383dfa",
        "c2fd",
    ]))
    .unwrap();
    assert_eq!(
        peer_confirm.confirm,
        confirm_value(
            &kck,
            1,
            &theirs.scalar,
            &theirs.element,
            &ours.scalar,
            &ours.element
        )
    );
}

const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x10]);
const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Moves frames between the two instances until neither has anything to say; returns the
/// outputs that were not frames, per side, and the frames sent (initiator first).
struct Pair {
    sta: Sae,
    ap: Sae,
    now: Instant,
    sta_events: Vec<SaeOutput>,
    ap_events: Vec<SaeOutput>,
    frames: Vec<(Role, AuthFrame)>,
    /// Drop the n-th frame (counting from 0) instead of delivering it.
    drop: Option<usize>,
}

impl Pair {
    fn new(sta_pw: &[u8], ap_pw: &[u8], h2e: bool) -> Self {
        let mk = |pw: &[u8]| SaePassword::new(pw).with_h2e(b"ssid");
        Self {
            sta: Sae::initiator(STA, AP, mk(sta_pw), h2e, RETRY),
            ap: Sae::responder(AP, STA, mk(ap_pw), true, true, RETRY),
            now: Instant::ZERO,
            sta_events: Vec::new(),
            ap_events: Vec::new(),
            frames: Vec::new(),
            drop: None,
        }
    }

    fn run(&mut self) {
        let (mut r1, mut r2) = (rng(1), rng(2));
        self.sta.start(self.now, &mut r1).unwrap();
        for _ in 0..100 {
            let mut moved = false;
            while let Some(out) = self.sta.poll_output() {
                moved = true;
                match out {
                    SaeOutput::Send(f) => {
                        let n = self.frames.len();
                        self.frames.push((Role::Initiator, f.clone()));
                        if self.drop != Some(n) {
                            let _ = self.ap.handle_frame(
                                self.now,
                                f.transaction,
                                f.status,
                                &f.body,
                                &mut r2,
                            );
                        }
                    }
                    other => self.sta_events.push(other),
                }
            }
            while let Some(out) = self.ap.poll_output() {
                moved = true;
                match out {
                    SaeOutput::Send(f) => {
                        let n = self.frames.len();
                        self.frames.push((Role::Responder, f.clone()));
                        if self.drop != Some(n) {
                            let _ = self.sta.handle_frame(
                                self.now,
                                f.transaction,
                                f.status,
                                &f.body,
                                &mut r1,
                            );
                        }
                    }
                    other => self.ap_events.push(other),
                }
            }
            if !moved {
                let next = [self.sta.poll_timeout(), self.ap.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(next) = next else { return };
                self.now = next;
                self.sta.handle_timeout(self.now);
                self.ap.handle_timeout(self.now);
            }
        }
    }
}

fn completed(events: &[SaeOutput]) -> Option<(crate::crypto::Pmk, Pmkid)> {
    events.iter().find_map(|e| match e {
        SaeOutput::Complete { pmk, pmkid } => Some((pmk.clone(), *pmkid)),
        _ => None,
    })
}

#[test]
fn initiator_and_responder_agree_with_hunting_and_pecking_and_hash_to_element() {
    for h2e in [false, true] {
        let mut p = Pair::new(b"correct horse", b"correct horse", h2e);
        p.run();
        let (sta_pmk, sta_pmkid) = completed(&p.sta_events).expect("station completes");
        let (ap_pmk, ap_pmkid) = completed(&p.ap_events).expect("AP completes");
        assert_eq!(sta_pmk, ap_pmk);
        assert_eq!(sta_pmkid, ap_pmkid);
        assert!(p.sta.is_accepted() && p.ap.is_accepted());
        let expected_status = if h2e {
            StatusCode::SaeHashToElement
        } else {
            StatusCode::Success
        };
        // commit, commit, confirm, confirm
        let seq: Vec<_> = p.frames.iter().map(|(r, f)| (*r, f.transaction)).collect();
        assert_eq!(
            seq,
            [
                (Role::Initiator, COMMIT),
                (Role::Responder, COMMIT),
                (Role::Initiator, CONFIRM),
                (Role::Responder, CONFIRM)
            ]
        );
        assert_eq!(p.frames[0].1.status, expected_status);
        assert_eq!(p.frames[1].1.status, expected_status);
    }
}

#[test]
fn wrong_password_is_refused_with_status_15_and_reported_as_such() {
    let mut p = Pair::new(b"correct horse", b"battery staple", false);
    p.run();
    assert!(completed(&p.sta_events).is_none() && completed(&p.ap_events).is_none());
    let sta_fail = p.sta_events.iter().find_map(|e| match e {
        SaeOutput::Failed(e) => Some(e.clone()),
        _ => None,
    });
    let sta_fail = sta_fail.expect("station fails");
    assert!(sta_fail.is_wrong_password(), "{sta_fail:?}");
    assert_eq!(
        p.frames.last().map(|(r, f)| (*r, f.status)),
        Some((Role::Responder, StatusCode::ChallengeFailure))
    );
    assert!(p
        .ap_events
        .contains(&SaeOutput::Failed(SaeError::ConfirmMismatch)));
}

#[test]
fn lost_frames_are_retransmitted() {
    // Lose the AP's commit (frame 1), then separately the station's confirm (frame 2).
    for lost in [0, 1, 2, 3] {
        let mut p = Pair::new(b"pw", b"pw", true);
        p.drop = Some(lost);
        p.run();
        assert!(
            completed(&p.sta_events).is_some(),
            "frame {lost} lost: station"
        );
        assert!(completed(&p.ap_events).is_some(), "frame {lost} lost: AP");
    }
}

#[test]
fn silent_peer_times_out_after_the_retry_policy() {
    let mut sta = Sae::initiator(STA, AP, SaePassword::new(b"pw"), false, RETRY);
    sta.start(Instant::ZERO, &mut rng(1)).unwrap();
    let mut sent = 0;
    let mut now = Instant::ZERO;
    while let Some(t) = sta.poll_timeout() {
        while let Some(o) = sta.poll_output() {
            sent += usize::from(matches!(o, SaeOutput::Send(_)));
        }
        now = t;
        sta.handle_timeout(now);
    }
    assert_eq!(sent, RETRY.max_attempts as usize);
    assert!(sta.is_failed());
    assert_eq!(
        sta.poll_output(),
        Some(SaeOutput::Failed(SaeError::Timeout { what: "commit" }))
    );
    assert!(now > Instant::ZERO);
}

#[test]
fn responder_without_h2e_refuses_h2e_commits_and_reflection_is_refused() {
    let pw = SaePassword::new(b"pw").with_h2e(b"ssid");
    let mut sta = Sae::initiator(STA, AP, pw.clone(), true, RETRY);
    sta.start(Instant::ZERO, &mut rng(1)).unwrap();
    let Some(SaeOutput::Send(commit)) = sta.poll_output() else {
        panic!("no commit")
    };
    let mut ap = Sae::responder(AP, STA, pw.clone(), true, false, RETRY);
    let e = ap
        .handle_frame(
            Instant::ZERO,
            COMMIT,
            commit.status,
            &commit.body,
            &mut rng(2),
        )
        .unwrap_err();
    assert!(matches!(e, SaeError::PweMethodMismatch { .. }));

    // The station's own commit reflected back to it.
    let e = sta
        .handle_frame(
            Instant::ZERO,
            COMMIT,
            commit.status,
            &commit.body,
            &mut rng(2),
        )
        .unwrap_err();
    assert_eq!(e, SaeError::Reflection);
    assert!(sta.is_failed());
}

#[test]
fn anti_clogging_token_is_required_echoed_and_accepted() {
    let ac = AntiClogging::new([7; 32], 1);
    for h2e in [false, true] {
        let pw = SaePassword::new(b"pw").with_h2e(b"ssid");
        let mut sta = Sae::initiator(STA, AP, pw.clone(), h2e, RETRY);
        let mut ap = Sae::responder(AP, STA, pw, true, true, RETRY);
        let (mut r1, mut r2) = (rng(1), rng(2));
        let now = Instant::ZERO;
        sta.start(now, &mut r1).unwrap();
        let Some(SaeOutput::Send(c1)) = sta.poll_output() else {
            panic!()
        };
        // Below the threshold: admitted as is.
        assert_eq!(ac.admit(0, STA, c1.status, &c1.body).unwrap(), c1.body);
        // At the threshold: refused with a token.
        let reply = ac.admit(1, STA, c1.status, &c1.body).unwrap_err();
        assert_eq!(reply.status, StatusCode::AntiCloggingTokenRequired);
        sta.handle_frame(now, reply.transaction, reply.status, &reply.body, &mut r1)
            .unwrap();
        let Some(SaeOutput::Send(c2)) = sta.poll_output() else {
            panic!()
        };
        assert_ne!(c2.body, c1.body, "the token is carried");
        // Another station's token does not pass.
        assert!(ac.admit(1, AP, c2.status, &c2.body).is_err());
        let body = ac.admit(1, STA, c2.status, &c2.body).unwrap();
        assert_eq!(body, c1.body, "token stripped");
        ap.handle_frame(now, COMMIT, c2.status, &body, &mut r2)
            .unwrap();
        assert!(matches!(ap.poll_output(), Some(SaeOutput::Send(f)) if f.transaction == COMMIT));
    }
}

#[test]
fn unsupported_group_is_answered_with_status_77() {
    let mut ap = Sae::responder(AP, STA, SaePassword::new(b"pw"), true, false, RETRY);
    let mut body = vec![20, 0];
    body.extend_from_slice(&[1; 96]);
    let e = ap
        .handle_frame(
            Instant::ZERO,
            COMMIT,
            StatusCode::Success,
            &body,
            &mut rng(1),
        )
        .unwrap_err();
    assert_eq!(e, SaeError::UnsupportedGroup { group: 20 });
    let Some(SaeOutput::Send(reply)) = ap.poll_output() else {
        panic!()
    };
    assert_eq!(reply.status, StatusCode::FiniteCyclicGroupNotSupported);
    let mut sta = Sae::initiator(STA, AP, SaePassword::new(b"pw"), false, RETRY);
    sta.start(Instant::ZERO, &mut rng(1)).unwrap();
    let _ = sta.poll_output();
    let e = sta
        .handle_frame(
            Instant::ZERO,
            COMMIT,
            reply.status,
            &reply.body,
            &mut rng(1),
        )
        .unwrap_err();
    assert!(matches!(e, SaeError::UnsupportedGroup { .. }));
    let _ = RetryPolicy::default();
}

#[test]
fn debug_output_hides_secrets() {
    let pw = SaePassword::new(b"hunter2hunter2").with_h2e(b"ssid");
    let text = format!(
        "{pw:?} {:?}",
        Sae::initiator(STA, AP, pw.clone(), true, RETRY)
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("104, 117"), "{text}");
}

/// hostapd answers a confirm that does not verify with status 1 (or 15): the station tells a
/// wrong password, not a generic refusal.
#[test]
fn confirm_refused_with_status_1_is_a_wrong_password() {
    let mut p = Pair::new(b"pw", b"pw", false);
    p.sta.start(Instant::ZERO, &mut rng(1)).unwrap();
    let Some(SaeOutput::Send(c)) = p.sta.poll_output() else {
        panic!()
    };
    p.ap.handle_frame(Instant::ZERO, COMMIT, c.status, &c.body, &mut rng(2))
        .unwrap();
    let Some(SaeOutput::Send(ap_commit)) = p.ap.poll_output() else {
        panic!()
    };
    p.sta
        .handle_frame(
            Instant::ZERO,
            COMMIT,
            ap_commit.status,
            &ap_commit.body,
            &mut rng(1),
        )
        .unwrap();
    let e = p
        .sta
        .handle_frame(
            Instant::ZERO,
            CONFIRM,
            StatusCode::UnspecifiedFailure,
            &[],
            &mut rng(1),
        )
        .unwrap_err();
    assert_eq!(e, SaeError::ConfirmRejected { status: 1 });
    assert!(e.is_wrong_password());
    // The same status in answer to a commit is a plain refusal.
    assert!(!SaeError::Rejected { status: 1 }.is_wrong_password());
}
