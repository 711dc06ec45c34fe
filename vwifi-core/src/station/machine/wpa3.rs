//! WPA3-Personal on the station side: which AKM a join uses, the RSNE it sends, and the SAE
//! exchange run as the authentication step of a join (IEEE 802.11-2020 12.4), with PMKSA
//! caching so that a reconnect to the same AP skips SAE.

use bytes::Bytes;
use tracing::debug;

use super::{BssEntry, Conn, Failure, Station};
use crate::handshake::sae::Sae;
use crate::handshake::sae::{Pmkid, SaeError, SaeOutput};
use crate::handshake::Akm;
use crate::proto::{Credentials, Security};
use crate::time::Instant;
use crate::wire::{AkmSuite, CipherSuite, RsnCapabilities, Rsne, StatusCode};

/// The AKM a join to a network of `security` uses with `credentials`, `None` for an open
/// network or a mismatch: SAE whenever offered and a passphrase is given (WPA3, and the
/// WPA2/WPA3 transition mode), PSK otherwise.
pub(super) fn choose_akm(security: Security, credentials: &Credentials) -> Option<Akm> {
    match (security, credentials) {
        (Security::Wpa3Sae | Security::Wpa2Wpa3, Credentials::Passphrase(_)) => Some(Akm::Sae),
        (Security::Wpa2Psk, Credentials::Passphrase(_) | Credentials::Psk(_))
        | (Security::Wpa2Wpa3, Credentials::Psk(_)) => Some(Akm::Psk),
        _ => None,
    }
}

/// Whether the BSS's RSNE requires management frame protection (MFPR).
fn ap_requires_mfp(bss: &BssEntry) -> bool {
    bss.rsne
        .as_deref()
        .and_then(|r| r.get(2..))
        .and_then(|body| Rsne::parse(body).ok())
        .and_then(|r| r.capabilities)
        .is_some_and(|c| c.mfp_required())
}

/// The RSNE the station sends (association request, then message 2) for `akm`: CCMP-128 and
/// the AKM; with SAE also MFPC (and MFPR if the AP requires it) and the PMKID of a cached
/// PMKSA. With PSK exactly the WPA2 RSNE.
pub(super) fn station_rsne(bss: &BssEntry, akm: Akm, pmkid: Option<Pmkid>) -> Rsne {
    match akm {
        Akm::Psk => Rsne::wpa2_psk(),
        Akm::Sae => {
            let mut caps = RsnCapabilities::MFPC;
            if ap_requires_mfp(bss) {
                caps |= RsnCapabilities::MFPR;
            }
            let mut rsne = Rsne::new(
                CipherSuite::Ccmp128,
                vec![CipherSuite::Ccmp128],
                vec![AkmSuite::Sae],
                RsnCapabilities(caps),
            );
            rsne.pmkids = pmkid.map(|id| vec![id]);
            rsne
        }
    }
}

/// The RSN Extension element a WPA3 station sends in its association request and message 2:
/// SAE hash-to-element supported (hostapd refuses an H2E station that does not say so).
pub(super) fn station_rsnxe() -> crate::wire::Element {
    crate::wire::Element::Other {
        id: crate::wire::ElementId::RsnExtension,
        data: vec![crate::handshake::sae::RSNXE_SAE_H2E],
    }
}

/// The connect failure an SAE failure is reported as.
pub(super) fn sae_failure(e: &SaeError) -> Failure {
    if e.is_wrong_password() {
        return Failure::WrongPassphrase;
    }
    match e {
        SaeError::Timeout { .. } => Failure::ApUnreachable,
        SaeError::Rejected { status } => Failure::AuthRejected {
            status: StatusCode::from(*status),
        },
        other => Failure::AuthRejected {
            status: other
                .status_code()
                .unwrap_or(StatusCode::UnspecifiedFailure),
        },
    }
}

impl Station {
    /// Turns management frame protection on once the 4-way handshake handed over an IGTK
    /// (both sides MFPC): robust management frames then go and must come protected.
    pub(super) fn enable_pmf(&mut self) {
        let igtk = match &self.conn {
            Conn::Handshake(l) | Conn::Connected(l) => l
                .supplicant
                .as_ref()
                .and_then(|s| s.igtk())
                .map(|(k, ipn)| (k.clone(), ipn)),
            _ => None,
        };
        if let Some((igtk, ipn)) = igtk {
            debug!(station = %self.mac(), "management frame protection on");
            self.softmac.enable_pmf(igtk, ipn);
        }
    }

    /// A received frame with PMF applied: management frames go through
    /// [`SoftMac::receive_mgmt`](crate::station::softmac::SoftMac::receive_mgmt); `None` if
    /// it is dropped (counted).
    pub(super) fn receive_pmf(&mut self, frame: &Bytes) -> Option<Bytes> {
        if !self.softmac.pmf() || frame.first().is_none_or(|b| b & 0x0c != 0) {
            return Some(frame.clone());
        }
        match self.softmac.receive_mgmt(frame) {
            Ok(f) => Some(f),
            Err(drop) => {
                self.count_drop(drop);
                None
            }
        }
    }

    /// An Action frame from the AP (decrypted, PMF on): an SA Query Request is answered at
    /// once (IEEE 802.11-2020 11.13), so that the AP keeps the association.
    pub(super) fn on_sa_query(&mut self, body: &[u8]) {
        use crate::station::softmac::{SA_QUERY_CATEGORY, SA_QUERY_REQUEST};
        let (Some(&SA_QUERY_CATEGORY), Some(&SA_QUERY_REQUEST), Some(&t0), Some(&t1)) =
            (body.first(), body.get(1), body.get(2), body.get(3))
        else {
            return;
        };
        let Some((bssid, channel)) = (match &self.conn {
            Conn::Handshake(l) | Conn::Connected(l) => Some((l.bss.bssid, l.bss.channel)),
            _ => None,
        }) else {
            return;
        };
        debug!(station = %self.mac(), "SA Query answered");
        let frame = self.softmac.sa_query_response(bssid, [t0, t1]);
        self.transmit_or_queue(frame, channel);
    }

    /// The SAE exchange of the join in progress, with the station's RNG.
    fn sae_and_rng(&mut self) -> Option<(&mut Sae, &mut rand_chacha::ChaCha20Rng)> {
        match &mut self.conn {
            Conn::Auth(j) => j.sae.as_deref_mut().map(|s| (s, &mut self.rng)),
            _ => None,
        }
    }

    /// The BSS being joined.
    fn join_target(&self) -> Option<&BssEntry> {
        match &self.conn {
            Conn::Auth(j) | Conn::Assoc(j) => Some(&j.bss),
            _ => None,
        }
    }

    /// The join waits for the SAE exchange's next retransmission time.
    fn arm_sae_deadline(&mut self) {
        if let Conn::Auth(j) = &mut self.conn {
            j.deadline = j.sae.as_ref().and_then(|s| s.poll_timeout());
        }
    }

    /// Sends the SAE commit (first call of a join) or whatever retransmission is due, then
    /// acts on the exchange's outputs.
    pub(super) fn sae_auth_step(&mut self, now: Instant) {
        let Some((sae, rng)) = self.sae_and_rng() else {
            return;
        };
        if sae.is_idle() {
            if let Err(error) = sae.start(now, rng) {
                debug!(%error, "SAE could not start");
            }
        } else {
            sae.handle_timeout(now);
        }
        self.drain_sae(now);
    }

    /// An SAE Authentication frame from the target AP.
    pub(super) fn on_sae_frame(
        &mut self,
        now: Instant,
        transaction: u16,
        status: StatusCode,
        body: &[u8],
    ) {
        let Some((sae, rng)) = self.sae_and_rng() else {
            return;
        };
        if let Err(error) = sae.handle_frame(now, transaction, status, body, rng) {
            debug!(%error, "SAE frame refused");
        }
        self.drain_sae(now);
    }

    /// Sends the SAE frames, stores the PMK and moves on to association, or fails the join.
    fn drain_sae(&mut self, now: Instant) {
        loop {
            let Some((sae, _)) = self.sae_and_rng() else {
                return;
            };
            let Some(output) = sae.poll_output() else {
                break;
            };
            match output {
                SaeOutput::Send(f) => {
                    let Some(bss) = self.join_target() else {
                        return;
                    };
                    let (bssid, channel) = (bss.bssid, bss.channel);
                    let frame: Bytes =
                        self.softmac
                            .sae_auth(bssid, f.transaction, f.status, f.body);
                    self.transmit(frame, channel);
                }
                SaeOutput::Complete { pmk, pmkid } => {
                    let Some(bssid) = self.join_target().map(|b| b.bssid) else {
                        return;
                    };
                    debug!(%bssid, "SAE complete");
                    self.pmksa.insert(now, bssid, pmk.clone(), pmkid);
                    if let Some(p) = &mut self.profile {
                        p.sae_pmk = Some(pmk);
                    }
                    self.start_assoc();
                    return;
                }
                SaeOutput::Failed(error) => {
                    debug!(%error, "SAE failed");
                    let failure = sae_failure(&error);
                    self.fail(now, failure, None);
                    return;
                }
            }
        }
        self.arm_sae_deadline();
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::crypto::bip::{bip_protect, Igtk};
    use crate::crypto::{ccmp, TemporalKey};
    use crate::station::softmac::{RxDrop, SoftMac};
    use crate::wire::{Deauthentication, MgmtBody, MgmtFrame, ReasonCode};
    use crate::MacAddr;

    const AP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
    const STA: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);

    fn deauth_to(da: MacAddr) -> Vec<u8> {
        let frame = MgmtFrame::new(
            da,
            AP,
            AP,
            MgmtBody::Deauthentication(Deauthentication::new(ReasonCode::Unspecified)),
        );
        let mut out = Vec::new();
        frame.emit(&mut out);
        out
    }

    #[test]
    fn with_pmf_only_protected_deauthentications_are_taken() {
        let tk = TemporalKey::from_bytes([7; 16]);
        let igtk = Igtk::new([9; 16], 4).unwrap();
        let mut mac = SoftMac::new(STA);
        mac.install_ptk(tk.clone());
        let plain = Bytes::from(deauth_to(STA));
        // Without PMF an unprotected deauthentication passes.
        assert_eq!(mac.receive_mgmt(&plain), Ok(plain.clone()));
        mac.enable_pmf(igtk.clone(), 0);
        assert_eq!(mac.receive_mgmt(&plain), Err(RxDrop::Unprotected));
        // CCMP-protected with the pairwise key: decrypted to the plain frame, once.
        let sealed = Bytes::from(ccmp::encrypt(&tk, 0, 1, &plain).unwrap());
        let mut expected = plain.to_vec();
        expected[1] &= !0x40;
        assert_eq!(mac.receive_mgmt(&sealed).unwrap(), Bytes::from(expected));
        assert_eq!(mac.receive_mgmt(&sealed), Err(RxDrop::Replay));
        let other = TemporalKey::from_bytes([8; 16]);
        let forged = Bytes::from(ccmp::encrypt(&other, 0, 5, &plain).unwrap());
        assert_eq!(mac.receive_mgmt(&forged), Err(RxDrop::DecryptFailed));
        // Broadcast: only with a valid BIP MME, and a fresh IPN.
        let broadcast = deauth_to(MacAddr::BROADCAST);
        assert_eq!(
            mac.receive_mgmt(&Bytes::from(broadcast.clone())),
            Err(RxDrop::Unprotected)
        );
        let mut bip = broadcast;
        bip_protect(&igtk, &mut bip, 1).unwrap();
        let bip = Bytes::from(bip);
        assert_eq!(mac.receive_mgmt(&bip), Ok(bip.clone()));
        assert_eq!(
            mac.receive_mgmt(&bip),
            Err(RxDrop::Unprotected),
            "replayed IPN"
        );
        // An unprotected SA Query Request is refused; our response goes protected.
        let mut sa_query = deauth_to(STA);
        sa_query[0] = 0xd0; // Action
        sa_query.truncate(24);
        sa_query.extend_from_slice(&[8, 0, 0x12, 0x34]);
        assert_eq!(
            mac.receive_mgmt(&Bytes::from(sa_query)),
            Err(RxDrop::Unprotected)
        );
        let resp = mac.sa_query_response(AP, [0x12, 0x34]);
        let plain = ccmp::decrypt(&tk, &resp).unwrap().mpdu;
        assert_eq!(&plain[24..], &[8, 1, 0x12, 0x34]);
        // Our own deauthentication goes protected.
        let out = mac.deauth(AP, ReasonCode::DeauthLeaving);
        assert_ne!(out[1] & 0x40, 0, "protected bit");
        assert!(ccmp::decrypt(&tk, &out).is_ok());
    }
}
