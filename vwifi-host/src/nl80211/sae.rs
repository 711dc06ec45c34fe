//! WPA3-Personal on a real card: the SAE exchange of [`vwifi_core::handshake::sae`] carried by
//! the kernel's MLME, as wpa_supplicant's SME does with `driver_nl80211`.
//!
//! | step | nl80211 |
//! |---|---|
//! | commit, confirm out | `AUTHENTICATE` with `AUTH_TYPE` = SAE and `AUTH_DATA` = transaction, status, SAE fields |
//! | the AP's commit, confirm in | `AUTHENTICATE` events carrying the whole Authentication frame |
//! | association | `ASSOCIATE` with the SAE RSNE (AKM 8, MFPC/MFPR), the RSNXE for hash-to-element, `USE_MFP` |
//! | 4-way handshake | over the control port as for WPA2, with the PMK SAE gave |
//! | keys | pairwise and group CCMP, then the IGTK (BIP-CMAC-128, key 4 or 5, its IPN) |
//!
//! This module holds the pure parts (frames, elements); [`super::station`] drives them.

use vwifi_core::handshake::sae::{AuthFrame, RSNXE_SAE_H2E};
use vwifi_core::handshake::RetryPolicy;
use vwifi_core::wire::codes::StatusCode;
use vwifi_core::wire::{AkmSuite, CipherSuite, Element, ElementId, RsnCapabilities, Rsne};

/// The authentication algorithm number of SAE (IEEE 802.11-2020 9.4.1.1).
const AUTH_ALG_SAE: u16 = 3;
/// The frame control of an Authentication frame (type management, subtype 11), first octet.
const FC_AUTH: u8 = 0xb0;
/// The management header's length.
const MGMT_HEADER: usize = 24;

/// The retransmission policy of the SAE exchange through the kernel: each retransmission is
/// an `AUTHENTICATE` request, so less eager than the soft-MAC's; a wrong password the AP
/// refuses (status 15 to our confirm) is told at once, one it ignores after about 5 s.
pub(crate) const RETRY: RetryPolicy = RetryPolicy {
    timeout: core::time::Duration::from_millis(1000),
    max_attempts: 5,
};

/// The `AUTH_DATA` of an SAE frame to send: transaction sequence number and status code
/// (little-endian, as on the air), then the SAE fields.
pub(crate) fn auth_data(frame: &AuthFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + frame.body.len());
    out.extend_from_slice(&frame.transaction.to_le_bytes());
    out.extend_from_slice(&u16::from(frame.status).to_le_bytes());
    out.extend_from_slice(&frame.body);
    out
}

/// An SAE Authentication frame the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerAuth<'a> {
    /// Its transmitter (the AP).
    pub(crate) from: [u8; 6],
    /// The transaction sequence number.
    pub(crate) transaction: u16,
    /// The status code.
    pub(crate) status: StatusCode,
    /// The SAE fields after the status code.
    pub(crate) body: &'a [u8],
}

/// The SAE part of a whole Authentication frame as the kernel reports it (`FRAME` of an
/// `AUTHENTICATE` event), `None` if it is not an SAE Authentication frame. Never panics.
pub(crate) fn parse_auth(frame: &[u8]) -> Option<PeerAuth<'_>> {
    if frame.first().map(|b| b & 0xfc) != Some(FC_AUTH) {
        return None;
    }
    let from: [u8; 6] = frame.get(10..16)?.try_into().ok()?;
    let le = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    if le(MGMT_HEADER)? != AUTH_ALG_SAE {
        return None;
    }
    Some(PeerAuth {
        from,
        transaction: le(MGMT_HEADER + 2)?,
        status: StatusCode::from(le(MGMT_HEADER + 4)?),
        body: frame.get(MGMT_HEADER + 6..)?,
    })
}

/// The status of an Open System Authentication frame the kernel reported (the AP's answer
/// to a join that skips SAE with a cached PMKSA) and its transmitter; `None` for anything
/// else. Never panics.
pub(crate) fn parse_open_auth(frame: &[u8]) -> Option<([u8; 6], StatusCode)> {
    if frame.first().map(|b| b & 0xfc) != Some(FC_AUTH) {
        return None;
    }
    let from: [u8; 6] = frame.get(10..16)?.try_into().ok()?;
    let le = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    (le(MGMT_HEADER)? == 0 && le(MGMT_HEADER + 2)? == 2)
        .then(|| Some((from, StatusCode::from(le(MGMT_HEADER + 4)?))))?
}

/// Whether the AP's RSNE (whole) requires management frame protection.
fn ap_requires_mfp(ap_rsne: &[u8]) -> bool {
    ap_rsne
        .get(2..)
        .and_then(|body| Rsne::parse(body).ok())
        .and_then(|r| r.capabilities)
        .is_some_and(|c| c.mfp_required())
}

/// The station's RSNE (whole) for an SAE join: CCMP-128, AKM 8, MFPC, and MFPR if the AP
/// requires it. The association request and message 2 carry exactly these bytes.
pub(crate) fn own_rsne(ap_rsne: &[u8]) -> Vec<u8> {
    own_rsne_with(ap_rsne, None)
}

/// [`own_rsne`] with the PMKID of a cached PMKSA (a join that skips SAE).
pub(crate) fn own_rsne_with(ap_rsne: &[u8], pmkid: Option<[u8; 16]>) -> Vec<u8> {
    let mut caps = RsnCapabilities::MFPC;
    if ap_requires_mfp(ap_rsne) {
        caps |= RsnCapabilities::MFPR;
    }
    let rsne = Rsne::new(
        CipherSuite::Ccmp128,
        vec![CipherSuite::Ccmp128],
        vec![AkmSuite::Sae],
        RsnCapabilities(caps),
    );
    let mut rsne = rsne;
    rsne.pmkids = pmkid.map(|id| vec![id]);
    let mut out = Vec::new();
    Element::Rsn(rsne).emit(&mut out);
    out
}

/// The RSN Extension element (whole) of an H2E join: SAE hash-to-element supported.
pub(crate) fn own_rsnxe() -> Vec<u8> {
    let mut out = Vec::new();
    Element::Other {
        id: ElementId::RsnExtension,
        data: vec![RSNXE_SAE_H2E],
    }
    .emit(&mut out);
    out
}

/// The `KEY_SEQ` of an IGTK: its IPN, 6 octets little-endian.
pub(crate) fn ipn_seq(ipn: u64) -> [u8; 6] {
    let b = ipn.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_data_is_transaction_status_then_the_fields() {
        let f = AuthFrame {
            transaction: 2,
            status: StatusCode::Success,
            body: vec![1, 0, 0xaa],
        };
        assert_eq!(auth_data(&f), vec![2, 0, 0, 0, 1, 0, 0xaa]);
        let h2e = AuthFrame {
            transaction: 1,
            status: StatusCode::from(126),
            body: vec![],
        };
        assert_eq!(auth_data(&h2e), vec![1, 0, 126, 0]);
    }

    fn auth_frame(alg: u16, seq: u16, status: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0xb0, 0, 0, 0];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2]); // DA
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]); // SA
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]); // BSSID
        f.extend_from_slice(&[0, 0]);
        for v in [alg, seq, status] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn the_kernels_auth_frames_are_read_and_anything_else_refused() {
        let f = auth_frame(3, 1, 0, &[19, 0, 9, 9]);
        let p = parse_auth(&f).unwrap();
        assert_eq!(p.from, [2, 0, 0, 0, 0, 1]);
        assert_eq!((p.transaction, p.status), (1, StatusCode::Success));
        assert_eq!(p.body, &[19, 0, 9, 9]);
        let refused = auth_frame(3, 2, 15, &[]);
        assert_eq!(
            parse_auth(&refused).unwrap().status,
            StatusCode::ChallengeFailure
        );
        // Open System, another frame type, truncated frames: not SAE.
        assert!(parse_auth(&auth_frame(0, 2, 0, &[])).is_none());
        let mut assoc = f.clone();
        assoc[0] = 0x10;
        assert!(parse_auth(&assoc).is_none());
        for n in 0..30 {
            assert!(parse_auth(&f[..n]).is_none(), "{n} octets");
            assert!(parse_open_auth(&f[..n]).is_none(), "{n} octets");
        }
        let open = auth_frame(0, 2, 0, &[]);
        assert_eq!(
            parse_open_auth(&open),
            Some(([2, 0, 0, 0, 0, 1], StatusCode::Success))
        );
        assert!(parse_open_auth(&auth_frame(0, 1, 0, &[])).is_none());
        assert!(parse_open_auth(&f).is_none());
    }

    #[test]
    fn the_own_rsne_offers_sae_with_pmf_and_requires_it_when_the_ap_does() {
        let parse = |whole: &[u8]| Rsne::parse(&whole[2..]).unwrap();
        let capable = own_rsne(&[]);
        let r = parse(&capable);
        assert_eq!(r.akm_suites, Some(vec![AkmSuite::Sae]));
        let caps = r.capabilities.unwrap();
        assert!(caps.mfp_capable() && !caps.mfp_required());
        let ap = own_rsne(&own_rsne(&[])); // an AP RSNE with MFPC only
        assert!(!parse(&ap).capabilities.unwrap().mfp_required());
        let mut ap_required = Rsne::parse(&capable[2..]).unwrap();
        ap_required.capabilities = Some(RsnCapabilities(
            RsnCapabilities::MFPC | RsnCapabilities::MFPR,
        ));
        let mut whole = Vec::new();
        Element::Rsn(ap_required).emit(&mut whole);
        assert!(parse(&own_rsne(&whole))
            .capabilities
            .unwrap()
            .mfp_required());
        assert_eq!(own_rsnxe(), vec![244, 1, RSNXE_SAE_H2E]);
        let with = parse(&own_rsne_with(&[], Some([5; 16])));
        assert_eq!(with.pmkids, Some(vec![[5; 16]]));
        assert_eq!(ipn_seq(0x0102_0304_0506), [6, 5, 4, 3, 2, 1]);
    }
}
