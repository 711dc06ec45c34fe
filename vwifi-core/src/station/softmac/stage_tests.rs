//! The receive stage seen from the station's frame level: what a staging station hands on
//! sealed, what the stage makes of it, and the one replay counter both paths share.

use super::amsdu_tests::{eth, from_ap, receive, tk, AP, PEER, STA};
use super::*;
use crate::proto::Counters;
use crate::station::rx_stage::{self, Unsealed};
use crate::station::StationStats;

/// A plain (no A-MSDU) protected data frame from the AP carrying `frame`, under `pn`.
fn plain_from_ap(pn: u64, seq: u16, frame: &EthernetFrame) -> Bytes {
    crate::testing::frames::protected_from_ap(&tk(), AP, pn, seq, frame)
}

fn staging_mac() -> SoftMac {
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    mac.set_staging(true);
    mac
}

fn totals(mac: &SoftMac) -> (Counters, StationStats) {
    let (mut counters, mut stats) = (Counters::default(), StationStats::default());
    mac.stage_counts().add_to(&mut counters, &mut stats);
    (counters, stats)
}

#[test]
fn a_staging_station_hands_protected_unicast_on_sealed_and_the_stage_opens_it_in_order() {
    let mut mac = staging_mac();
    let one = eth(PEER, STA, EtherType::Ipv4, &[1; 60]);
    let pair = [
        eth(PEER, STA, EtherType::Ipv4, &[2; 70]),
        eth(PEER, PEER, EtherType::Ipv4, &[3; 70]),
        eth(PEER, STA, EtherType::Ipv6, &[4; 80]),
    ];
    let rekey = eth(AP, STA, EtherType::Eapol, &[5; 95]);
    let mut forged = plain_from_ap(4, 4, &one).to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let raws = [
        plain_from_ap(1, 1, &one),
        from_ap(&tk(), 2, 2, &pair),
        plain_from_ap(3, 3, &rekey),
        Bytes::from(forged),
        // Behind the counter: a replay, although it authenticates.
        plain_from_ap(2, 5, &one),
    ];
    let mut sealed = Vec::new();
    for raw in &raws {
        let rx = receive(&mut mac, raw).unwrap();
        assert!(rx.frames.is_empty(), "nothing opened by the station");
        assert_eq!(rx.sealed.as_ref().map(|s| s.frame()), Some(raw));
        sealed.extend(rx.sealed);
    }
    // Nothing is decrypted ahead for a staging station: the stage does it.
    mac.open_batch(&raws);
    assert_eq!(mac.batch_decrypted(), 0);
    let mut out = Unsealed::default();
    rx_stage::open(&sealed, &mut out);
    assert_eq!(
        out.frames,
        [one.clone(), pair[0].clone(), pair[2].clone()],
        "in order; the A-MSDU's subframe for another DA refused"
    );
    assert_eq!(out.eapol, [rekey], "EAPOL goes back to the station");
    let (counters, stats) = totals(&mac);
    assert_eq!((counters.rx_packets, counters.rx_dropped), (3, 3));
    assert_eq!(
        counters.rx_bytes,
        (one.buffer_len() + pair[0].buffer_len() + pair[2].buffer_len()) as u64
    );
    assert_eq!((stats.decrypt_failed, stats.replayed), (1, 1));
    assert_eq!(
        (stats.amsdu_rx, stats.amsdu_rx_msdus, stats.amsdu_refused),
        (1, 2, 1)
    );
    assert_eq!(mac.stage_counts().opened(), 5);
}

#[test]
fn the_stage_and_the_station_share_one_replay_counter_for_amsdus_and_plain_frames() {
    // The A-MSDU-present bit is outside the MIC: a captured A-MSDU with the bit cleared
    // authenticates as a plain frame under the same PN, and the other way round.
    let msdus = [eth(PEER, STA, EtherType::Ipv4, &[7; 50])];
    let flip = |raw: &Bytes| {
        let mut v = raw.to_vec();
        v[24] ^= 0x80;
        Bytes::from(v)
    };
    let mut mac = staging_mac();
    let a5 = from_ap(&tk(), 5, 1, &msdus);
    let s = receive(&mut mac, &a5).unwrap().sealed.unwrap();
    let mut out = Unsealed::default();
    rx_stage::open(&[s], &mut out);
    assert_eq!(out.frames, msdus);
    // Opened by the stage, replayed to the station's own path: refused.
    mac.set_staging(false);
    assert_eq!(receive(&mut mac, &flip(&a5)), Err(RxDrop::Replay));
    // Opened by the station as a plain frame (its body read as an LLC frame), replayed
    // sealed as an A-MSDU to the stage: refused.
    let a6 = from_ap(&tk(), 6, 2, &msdus);
    assert!(receive(&mut mac, &flip(&a6)).is_ok_and(|rx| !rx.amsdu && rx.sealed.is_none()));
    mac.set_staging(true);
    let s = receive(&mut mac, &a6).unwrap().sealed.unwrap();
    let mut out = Unsealed::default();
    rx_stage::open(&[s], &mut out);
    assert!(out.frames.is_empty());
    assert_eq!(totals(&mac).1.replayed, 1);
}

#[test]
fn a_new_pairwise_key_gets_a_new_stage_and_frames_sealed_under_the_old_one_still_open() {
    let mut mac = staging_mac();
    let msdu = eth(PEER, STA, EtherType::Ipv4, &[9; 40]);
    let old = receive(&mut mac, &plain_from_ap(9, 1, &msdu))
        .unwrap()
        .sealed
        .unwrap();
    let new_tk = TemporalKey::from_bytes(*b"fedcba9876543210");
    mac.install_ptk(new_tk.clone());
    let mut header = msdu.data_header(DsDirection::FromAp { bssid: AP }, None);
    header.sequence = SequenceControl::new(2);
    let mut plain = Vec::new();
    msdu.emit_data(&header, &mut plain);
    // PN 1 under the new key: its counters start afresh.
    let raw = Bytes::from(ccmp::encrypt(&new_tk, 0, 1, &plain).unwrap());
    let new = receive(&mut mac, &raw).unwrap().sealed.unwrap();
    let mut out = Unsealed::default();
    rx_stage::open(&[old, new], &mut out);
    assert_eq!(out.frames, [msdu.clone(), msdu]);
    // Forgetting the keys stops the staging: a protected frame is then refused by the
    // station itself.
    mac.clear_keys();
    let rx = receive(&mut mac, &raw);
    assert_eq!(rx, Err(RxDrop::NoKey));
}

/// An open network's unprotected data frame from the AP: an A-MSDU of `frames`, or a plain
/// frame carrying the one frame.
fn open_from_ap(seq: u16, frames: &[EthernetFrame]) -> Bytes {
    let mut out = Vec::new();
    match frames {
        [one] => {
            let mut header = one.data_header(DsDirection::FromAp { bssid: AP }, None);
            header.sequence = SequenceControl::new(seq);
            one.emit_data(&header, &mut out);
        }
        _ => {
            let mut header = amsdu::data_header(DsDirection::FromAp { bssid: AP }, STA, 0);
            header.sequence = SequenceControl::new(seq);
            amsdu::emit_ethernet(&header, frames, &mut out);
        }
    }
    Bytes::from(out)
}

fn receive_open(mac: &mut SoftMac, raw: &Bytes) -> Result<RxData, RxDrop> {
    let frame = DataFrame::parse_bytes(raw).unwrap();
    mac.receive_data(raw, &frame, AP, false)
}

#[test]
fn on_an_open_link_the_stage_splits_what_the_station_accepted_with_the_same_rules() {
    let mut mac = SoftMac::new(STA);
    mac.set_staging(true);
    assert!(!mac.staging(), "no key: protected frames are not staged");
    let one = eth(PEER, STA, EtherType::Ipv4, &[1; 60]);
    let amsdu = [
        eth(PEER, STA, EtherType::Ipv4, &[2; 70]),
        eth(PEER, PEER, EtherType::Ipv4, &[3; 70]),
        eth(AP, STA, EtherType::Eapol, &[4; 70]),
        eth(PEER, STA, EtherType::Ipv6, &[5; 80]),
    ];
    let control = eth(PEER, STA, EtherType::VwifiControl, &[6; 40]);
    let raws = [
        open_from_ap(1, core::slice::from_ref(&one)),
        open_from_ap(2, &amsdu),
        open_from_ap(3, core::slice::from_ref(&control)),
    ];
    let mut sealed = Vec::new();
    for raw in &raws {
        let rx = receive_open(&mut mac, raw).unwrap();
        assert!(rx.frames.is_empty() && !rx.protected, "handed on unopened");
        sealed.extend(rx.sealed);
    }
    // The station's own checks still come first: a retransmission is dropped there.
    let mut retry = raws[2].to_vec();
    retry[1] |= 0x08;
    assert_eq!(
        receive_open(&mut mac, &Bytes::from(retry)),
        Err(RxDrop::Duplicate)
    );
    let mut out = Unsealed::default();
    rx_stage::open(&sealed, &mut out);
    assert_eq!(
        out.frames,
        [one.clone(), amsdu[0].clone(), amsdu[3].clone()],
        "in order; the A-MSDU's subframes for another DA or with EAPOL refused"
    );
    assert!(out.eapol.is_empty());
    let (counters, stats) = totals(&mac);
    assert_eq!((counters.rx_packets, counters.rx_dropped), (3, 3));
    assert_eq!(
        (stats.amsdu_rx, stats.amsdu_rx_msdus, stats.amsdu_refused),
        (1, 2, 2)
    );
    assert_eq!(stats.control_ethertype, 1);
    assert_eq!(mac.stage_counts().opened(), 3);
    // Once the link is gone (the keys, and the staging, forgotten) the station opens them.
    mac.clear_keys();
    let rx = receive_open(&mut mac, &open_from_ap(4, core::slice::from_ref(&one))).unwrap();
    assert_eq!((rx.frames, rx.sealed), (vec![one], None));
}

#[test]
fn a_protected_network_never_stages_its_unprotected_frames() {
    let mut mac = staging_mac();
    let rekey = eth(AP, STA, EtherType::Eapol, &[7; 95]);
    let rx = receive(&mut mac, &open_from_ap(1, core::slice::from_ref(&rekey))).unwrap();
    assert_eq!(
        (rx.frames, rx.sealed),
        (vec![rekey], None),
        "EAPOL, opened here"
    );
    let data = eth(PEER, STA, EtherType::Ipv4, &[8; 60]);
    let raw = open_from_ap(2, core::slice::from_ref(&data));
    assert_eq!(receive(&mut mac, &raw), Err(RxDrop::Unprotected));
}
