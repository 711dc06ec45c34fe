//! A-MSDUs at the station's frame level: what it seals (checked against the `ccm` crate over an
//! AAD and nonce written out here from IEEE 802.11-2020 12.5.3.3.3 and 12.5.3.3.4, not from
//! `ccmp`'s own construction), and what it accepts of an AP's.

use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U13, U8};
use ccm::Ccm;

use super::*;
use crate::wire::amsdu;

pub(super) const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub(super) const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0x0a, 0x00]);
pub(super) const PEER: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x07]);

pub(super) fn tk() -> TemporalKey {
    TemporalKey::from_bytes(*b"0123456789abcdef")
}

pub(super) fn eth(
    src: MacAddr,
    dst: MacAddr,
    ethertype: EtherType,
    payload: &[u8],
) -> EthernetFrame {
    EthernetFrame {
        dst,
        src,
        ethertype,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn frames() -> Vec<EthernetFrame> {
    vec![
        eth(STA, PEER, EtherType::Ipv4, &[0x45; 61]),
        eth(STA, AP, EtherType::Ipv6, &[0x60; 100]),
        eth(STA, PEER, EtherType::Arp, &[1; 28]),
    ]
}

/// CCMP-128 of a plaintext To-DS QoS Data MPDU (no address 4, no HT Control), with the AAD and
/// nonce built here from the clauses: frame control with subtype bits 4-6, Retry, Power
/// Management and More Data masked and Protected set; A1-A3; the sequence control with the
/// sequence number masked; the QoS Control with only the TID kept (bits 4-15 masked: the
/// A-MSDU Present bit too, as neither end is SPP A-MSDU capable, and as mac80211 does without
/// SPP); the nonce's priority the TID, then A2 and the PN big-endian.
fn reference_ccmp(tk: &TemporalKey, pn: u64, plain: &[u8]) -> Vec<u8> {
    let (header, body) = plain.split_at(26);
    let mut aad = vec![header[0] & 0x8f, (header[1] & 0xc7) | 0x40];
    aad.extend_from_slice(&header[4..22]);
    aad.extend_from_slice(&[header[22] & 0x0f, 0]);
    let tid = header[24] & 0x0f;
    aad.extend_from_slice(&[tid, 0]);
    let mut nonce = vec![tid];
    nonce.extend_from_slice(&header[10..16]);
    nonce.extend_from_slice(&pn.to_be_bytes()[2..]);
    let mut sealed = body.to_vec();
    let mic = Ccm::<aes::Aes128, U8, U13>::new(GenericArray::from_slice(tk.expose()))
        .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut sealed)
        .unwrap();
    let pnb = pn.to_le_bytes();
    let mut out = header.to_vec();
    out[1] |= 0x40;
    out.extend_from_slice(&[pnb[0], pnb[1], 0, 0x20, pnb[2], pnb[3], pnb[4], pnb[5]]);
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&mic);
    out
}

#[test]
fn a_protected_amsdu_is_one_ccmp_mpdu_as_the_standard_computes_it() {
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    let frames = frames();
    let sealed = mac.data_amsdu(AP, &frames).unwrap();
    // The plaintext it sealed: QoS Data To DS, A-MSDU Present, addr3 the BSSID, sequence 0.
    let mut header = amsdu::data_header(DsDirection::ToAp { bssid: AP }, STA, 0);
    header.sequence = SequenceControl::new(0);
    let mut plain = Vec::new();
    amsdu::emit_ethernet(&header, &frames, &mut plain);
    assert_eq!(&plain[..2], &[0x88, 0x01]);
    assert_eq!(
        (plain[24], plain[25]),
        (0x80, 0x00),
        "TID 0, A-MSDU present"
    );
    assert_eq!(&plain[16..22], &AP.0, "address 3 is the BSSID");
    assert_eq!(&sealed[..], &reference_ccmp(&tk(), 1, &plain)[..]);
    // The next one takes the next PN: one per A-MSDU, not per MSDU.
    let next = mac.data_amsdu(AP, &frames[..2]).unwrap();
    assert_eq!(ccmp::peek_header(&next).unwrap().pn, 2);
    // Opened once, it is the A-MSDU of the three frames, each with its DA and SA.
    let opened = ccmp::decrypt(&tk(), &sealed).unwrap();
    assert_eq!(opened.tid, 0);
    let body = Bytes::from(opened.mpdu).slice(26..);
    let got: Vec<EthernetFrame> = amsdu::ethernet_frames(&body)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, frames);
}

#[test]
fn a_batch_of_amsdus_is_sealed_as_each_would_be_alone_with_consecutive_pns() {
    let frames = frames();
    let groups: Vec<&[EthernetFrame]> = vec![&frames[..2], &frames[1..], &frames[..]];
    let mut batch = SoftMac::new(STA);
    batch.install_ptk(tk());
    let sealed = batch.data_amsdus(AP, &groups).unwrap();
    let mut alone = SoftMac::new(STA);
    alone.install_ptk(tk());
    let each: Vec<Bytes> = groups
        .iter()
        .map(|g| alone.data_amsdu(AP, g).unwrap())
        .collect();
    assert_eq!(sealed, each);
    let pns: Vec<u64> = sealed
        .iter()
        .map(|m| ccmp::peek_header(m).unwrap().pn)
        .collect();
    assert_eq!(pns, vec![1, 2, 3]);
    // Both go on from the same PN and sequence number.
    assert_eq!(
        batch.data_amsdu(AP, &frames).unwrap(),
        alone.data_amsdu(AP, &frames).unwrap()
    );
    // Without a key: the same A-MSDUs in the clear.
    let mut open = SoftMac::new(STA);
    let plain = open.data_amsdus(AP, &groups).unwrap();
    let mut open_alone = SoftMac::new(STA);
    for (p, g) in plain.iter().zip(&groups) {
        assert_eq!(p, &open_alone.data_amsdu(AP, g).unwrap());
    }
}

#[test]
fn the_amsdu_present_bit_is_outside_the_mic_so_the_receiver_checks_the_subframe_addresses() {
    // Non-SPP: flipping bit 7 of the QoS Control keeps the MIC valid (12.5.3.3.3). That is why
    // a receiver must check each subframe's DA or SA (the A-MSDU injection of FragAttacks).
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    let sealed = mac.data_amsdu(AP, &frames()).unwrap();
    let mut flipped = sealed.to_vec();
    flipped[24] &= !0x80;
    assert!(ccmp::decrypt(&tk(), &flipped).is_ok());
    flipped[24] |= 0x01;
    assert!(
        ccmp::decrypt(&tk(), &flipped).is_err(),
        "the TID is covered"
    );
}

/// An AP's A-MSDU to the station: From DS, protected with `tk` under `pn`.
pub(super) fn from_ap(tk: &TemporalKey, pn: u64, seq: u16, frames: &[EthernetFrame]) -> Bytes {
    let mut header = amsdu::data_header(DsDirection::FromAp { bssid: AP }, STA, 0);
    header.sequence = SequenceControl::new(seq);
    let mut plain = Vec::new();
    amsdu::emit_ethernet(&header, frames, &mut plain);
    Bytes::from(ccmp::encrypt(tk, 0, pn, &plain).unwrap())
}

pub(super) fn receive(mac: &mut SoftMac, raw: &Bytes) -> Result<RxData, RxDrop> {
    let frame = DataFrame::parse_bytes(raw).unwrap();
    mac.receive_data(raw, &frame, AP, true)
}

#[test]
fn an_amsdu_from_the_ap_is_opened_once_and_split_and_a_subframe_for_another_da_is_dropped() {
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    let frames = [
        eth(PEER, STA, EtherType::Ipv4, &[1; 40]),
        eth(PEER, PEER, EtherType::Ipv4, &[2; 40]),
        eth(AP, STA, EtherType::Eapol, &[3; 40]),
        eth(PEER, STA, EtherType::Ipv4, &[4; 40]),
    ];
    let raw = from_ap(&tk(), 7, 10, &frames);
    let rx = receive(&mut mac, &raw).unwrap();
    assert!(rx.amsdu && rx.protected && !rx.group);
    assert_eq!(rx.frames, [frames[0].clone(), frames[3].clone()]);
    assert_eq!(rx.refused, 2, "another DA, and EAPOL in an A-MSDU");
    // The same MPDU again under another sequence number (not covered by the MIC): its PN
    // was seen, the whole MPDU is a replay.
    let mut again = raw.to_vec();
    again[22] = 0x30;
    assert_eq!(receive(&mut mac, &Bytes::from(again)), Err(RxDrop::Replay));
    // Unprotected in a protected BSS, or group-addressed: refused whole.
    let mut header = amsdu::data_header(DsDirection::FromAp { bssid: AP }, STA, 0);
    header.sequence = SequenceControl::new(11);
    let mut plain = Vec::new();
    amsdu::emit_ethernet(&header, &frames[..1], &mut plain);
    assert_eq!(
        receive(&mut mac, &Bytes::from(plain.clone())),
        Err(RxDrop::Unprotected)
    );
    plain[4..10].copy_from_slice(&MacAddr::BROADCAST.0);
    assert_eq!(
        receive(&mut mac, &Bytes::from(plain)),
        Err(RxDrop::Malformed)
    );
}

#[test]
fn a_batch_from_the_ap_is_decrypted_together_and_each_frame_checked_in_order() {
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    let msdus: Vec<Vec<EthernetFrame>> = (0..5u8)
        .map(|i| vec![eth(PEER, STA, EtherType::Ipv4, &[i; 50])])
        .collect();
    let p1 = from_ap(&tk(), 1, 1, &msdus[0]);
    let mut bad = from_ap(&tk(), 2, 2, &msdus[1]).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let p3 = from_ap(&tk(), 4, 3, &msdus[2]);
    // PN 3 after PN 4: behind the counter, a replay even though it authenticates.
    let late = from_ap(&tk(), 3, 4, &msdus[3]);
    let p5 = from_ap(&tk(), 5, 5, &msdus[4]);
    // Another station's frame in the same delivery: not opened for this one.
    let mut other = from_ap(&tk(), 6, 6, &msdus[4]).to_vec();
    other[9] ^= 0x55;
    let batch = [p1, Bytes::from(bad), p3, late, p5, Bytes::from(other)];
    mac.open_batch(&batch);
    let got: Vec<Result<Vec<EthernetFrame>, RxDrop>> = batch[..5]
        .iter()
        .map(|raw| receive(&mut mac, raw).map(|rx| rx.frames))
        .collect();
    assert_eq!(
        got,
        [
            Ok(msdus[0].clone()),
            Err(RxDrop::DecryptFailed),
            Ok(msdus[2].clone()),
            Err(RxDrop::Replay),
            Ok(msdus[4].clone()),
        ]
    );
    assert_eq!(mac.batch_decrypted(), 5);
    mac.forget_opened();
    // Nothing kept between batches: a frame now is decrypted on its own.
    let p7 = from_ap(&tk(), 7, 7, &msdus[0]);
    assert_eq!(
        receive(&mut mac, &p7).map(|rx| rx.frames),
        Ok(msdus[0].clone())
    );
    assert_eq!(mac.batch_decrypted(), 5);
}

#[test]
fn a_batch_opened_before_a_new_key_is_decrypted_anew_under_it() {
    let mut mac = SoftMac::new(STA);
    mac.install_ptk(tk());
    let msdu = vec![eth(PEER, STA, EtherType::Ipv4, &[9; 50])];
    let batch = [from_ap(&tk(), 1, 1, &msdu), from_ap(&tk(), 2, 2, &msdu)];
    mac.open_batch(&batch);
    // A new pairwise key between the opening and the frames' turn: the old key's results are
    // not used; under the new key the frames do not authenticate.
    mac.install_ptk(TemporalKey::from_bytes(*b"fedcba9876543210"));
    for raw in &batch {
        assert_eq!(receive(&mut mac, raw), Err(RxDrop::DecryptFailed));
    }
    assert_eq!(mac.batch_decrypted(), 0);
}
