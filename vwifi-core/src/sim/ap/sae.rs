//! WPA3-Personal on the software AP: the SAE responder per station (IEEE 802.11-2020 12.4),
//! anti-clogging, the PMKSA cache for reconnects, the IGTK of management frame protection, and
//! the RSN/RSNXE elements of a WPA3 or WPA2/WPA3 transition BSS.

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;

use tracing::{debug, trace};

use super::station::Station;
use super::{ApEvent, ApSecurity, LeaveReason};
use crate::addr::MacAddr;
use crate::crypto::bip::Igtk;
use crate::crypto::Pmk;
use crate::handshake::sae::{
    AntiClogging, AuthFrame, PmksaCache, Sae, SaeOutput, SaePassword, SaeWorkerHandle, COMMIT,
    RETRY, RSNXE_SAE_H2E,
};
use crate::time::Instant;
use crate::wire::{
    AkmSuite, AuthAlgorithm, Authentication, CipherSuite, Element, ElementId, MgmtBody,
    RsnCapabilities, Rsne, StatusCode,
};

/// Open SAE exchanges from which the AP requires anti-clogging tokens (hostapd's default
/// `sae_anti_clogging_threshold` is 5).
pub(super) const ANTI_CLOGGING_THRESHOLD: usize = 5;

/// How many PMKSAs the AP keeps.
const PMKSA_CAPACITY: usize = 256;

/// The WPA3 state of a software AP.
#[derive(Debug)]
pub(super) struct ApSae {
    pub(super) password: SaePassword,
    /// Whether WPA2-PSK stations are admitted too (transition mode: PMF optional).
    pub(super) transition: bool,
    pub(super) anti_clogging: AntiClogging,
    pub(super) pmksa: PmksaCache,
    /// The IGTK (key ID 4) and the last IPN used with it.
    pub(super) igtk: Option<Igtk>,
    pub(super) ipn: u64,
    /// Where the responders' group arithmetic runs.
    pub(super) worker: SaeWorkerHandle,
}

impl ApSae {
    /// The WPA3 state for `ssid`: the password's PT is derived once here (hash-to-element).
    pub(super) fn new(
        password: &SaePassword,
        ssid: &[u8],
        transition: bool,
        rng: &mut ChaCha20Rng,
    ) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Self {
            password: password.clone().with_h2e(ssid),
            transition,
            anti_clogging: AntiClogging::new(secret, ANTI_CLOGGING_THRESHOLD),
            pmksa: PmksaCache::new(PMKSA_CAPACITY, PmksaCache::DEFAULT_LIFETIME),
            // Key ID 4 is in range: generation cannot fail.
            igtk: Igtk::generate(rng, 4).ok(),
            ipn: 0,
            worker: SaeWorkerHandle::default(),
        }
    }

    /// A responder for `sta`, accepting both password element methods.
    pub(super) fn responder(&self, bssid: MacAddr, sta: MacAddr) -> Sae {
        Sae::responder(bssid, sta, self.password.clone(), true, true, RETRY)
            .with_worker(self.worker.clone())
    }

    /// Remembers a completed exchange for PMKSA caching.
    pub(super) fn cache(&mut self, now: Instant, sta: MacAddr, pmk: Pmk, pmkid: [u8; 16]) {
        self.pmksa.insert(now, sta, pmk, pmkid);
    }

    /// The RSNE of the BSS: CCMP-128, AKM SAE (and PSK in transition mode), MFPC, and MFPR
    /// unless in transition mode (WPA3-only networks require protected management frames).
    pub(super) fn rsne(&self) -> Element {
        let (akms, caps) = if self.transition {
            (vec![AkmSuite::Psk, AkmSuite::Sae], RsnCapabilities::MFPC)
        } else {
            (
                vec![AkmSuite::Sae],
                RsnCapabilities::MFPC | RsnCapabilities::MFPR,
            )
        };
        Element::Rsn(Rsne::new(
            CipherSuite::Ccmp128,
            vec![CipherSuite::Ccmp128],
            akms,
            RsnCapabilities(caps),
        ))
    }

    /// The RSN Extension element: hash-to-element supported.
    pub(super) fn rsnxe() -> Element {
        Element::Other {
            id: ElementId::RsnExtension,
            data: vec![RSNXE_SAE_H2E],
        }
    }
}

impl super::SoftAp {
    /// An Authentication frame with algorithm SAE: anti-clogging, then the station's
    /// responder; its frames go out as Authentication frames, its PMK waits for the
    /// association.
    pub(super) fn on_sae_auth(&mut self, now: Instant, sa: MacAddr, a: &Authentication) {
        let Some(sae) = &self.sae else {
            return;
        };
        let bssid = self.cfg.bssid;
        let mut body = a.body.clone();
        let fresh = a.transaction_seq == COMMIT
            && self
                .stations
                .get(&sa)
                .and_then(|s| s.sae.as_ref())
                .is_none_or(|x| x.is_accepted() || x.is_failed());
        if fresh {
            let open = self
                .stations
                .values()
                .filter_map(|s| s.sae.as_ref())
                .filter(|x| !x.is_accepted() && !x.is_failed())
                .count();
            match sae.anti_clogging.admit(open, sa, a.status, &a.body) {
                Ok(b) => body = b,
                Err(reply) => {
                    debug!(bssid = %bssid, sta = %sa, "SAE commit without token: anti-clogging");
                    self.counters.sae_tokens_requested += 1;
                    self.send_sae(sa, reply);
                    return;
                }
            }
            let limit = usize::from(self.cfg.max_stations) * 2 + 8;
            if !self.stations.contains_key(&sa) && self.stations.len() >= limit {
                self.send_sae(
                    sa,
                    AuthFrame {
                        transaction: COMMIT,
                        status: StatusCode::ApUnableToHandleNewStations,
                        body: Vec::new(),
                    },
                );
                return;
            }
            // A new exchange: a station that was associated starts over.
            let responder = sae.responder(bssid, sa);
            let old = self.stations.insert(sa, Station::new(sa, now));
            if old.is_some_and(|o| o.is_associated()) {
                self.push_event(ApEvent::Left {
                    sta: sa,
                    reason: LeaveReason::Reauthenticated,
                });
                self.after_station_change();
            }
            if let Some(sta) = self.stations.get_mut(&sa) {
                sta.sae = Some(Box::new(responder));
            }
        }
        let Some(responder) = self.stations.get_mut(&sa).and_then(|s| s.sae.as_mut()) else {
            trace!(bssid = %bssid, sta = %sa, "SAE confirm without commit ignored");
            return;
        };
        if let Err(error) =
            responder.handle_frame(now, a.transaction_seq, a.status, &body, &mut self.rng)
        {
            trace!(bssid = %bssid, sta = %sa, %error, "SAE frame refused");
        }
        self.drain_sae(now, sa);
    }

    /// Handles what a station's SAE responder asks for.
    pub(super) fn drain_sae(&mut self, now: Instant, sa: MacAddr) {
        loop {
            let Some(output) = self
                .stations
                .get_mut(&sa)
                .and_then(|s| s.sae.as_mut())
                .and_then(|x| x.poll_output())
            else {
                return;
            };
            match output {
                SaeOutput::Send(frame) => self.send_sae(sa, frame),
                SaeOutput::Complete { pmk, pmkid } => {
                    debug!(bssid = %self.cfg.bssid, sta = %sa, "SAE complete: station authenticated");
                    self.counters.sae_completed += 1;
                    if let Some(sae) = &mut self.sae {
                        sae.cache(now, sa, pmk.clone(), pmkid);
                    }
                    if let Some(sta) = self.stations.get_mut(&sa) {
                        sta.sae_pmk = Some(pmk);
                    }
                }
                SaeOutput::Failed(error) => {
                    let wrong_passphrase = error.is_wrong_password();
                    debug!(bssid = %self.cfg.bssid, sta = %sa, %error, "SAE failed");
                    self.stations.remove(&sa);
                    self.push_event(ApEvent::SaeFailed {
                        sta: sa,
                        error,
                        wrong_passphrase,
                    });
                    return;
                }
            }
        }
    }

    fn send_sae(&mut self, sa: MacAddr, frame: AuthFrame) {
        self.send_mgmt(
            sa,
            MgmtBody::Authentication(Authentication {
                algorithm: AuthAlgorithm::Sae,
                transaction_seq: frame.transaction,
                status: frame.status,
                body: frame.body,
            }),
        );
    }

    /// Runs the SAE retransmission timers that are due.
    pub(super) fn sae_timeouts(&mut self, now: Instant) {
        let due: Vec<MacAddr> = self
            .stations
            .values()
            .filter(|s| {
                s.sae
                    .as_ref()
                    .and_then(|x| x.poll_timeout())
                    .is_some_and(|t| t <= now)
            })
            .map(|s| s.addr)
            .collect();
        for sa in due {
            if let Some(x) = self.stations.get_mut(&sa).and_then(|s| s.sae.as_mut()) {
                x.handle_timeout(now);
            }
            self.drain_sae(now, sa);
        }
    }

    /// The earliest SAE retransmission timer.
    pub(super) fn sae_poll_timeout(&self) -> Option<Instant> {
        self.stations
            .values()
            .filter_map(|s| s.sae.as_ref().and_then(|x| x.poll_timeout()))
            .min()
    }

    /// The PMK for an association on a WPA3 BSS whose RSNE selects `akm`, with the IGTK to
    /// hand over if the station is MFP capable; or the status code refusing it.
    pub(super) fn wpa3_pmk(
        &mut self,
        now: Instant,
        sa: MacAddr,
        rsne: &Rsne,
    ) -> Result<(Pmk, Option<(Igtk, u64)>), StatusCode> {
        let (Some(sae), ApSecurity::Wpa3Sae { transition_psk, .. }) =
            (&self.sae, &self.cfg.security)
        else {
            return Err(StatusCode::UnspecifiedFailure);
        };
        let caps = rsne.capabilities.unwrap_or_default();
        if !sae.transition && !caps.mfp_capable() {
            return Err(StatusCode::RobustManagementPolicyViolation);
        }
        let igtk = sae
            .igtk
            .clone()
            .filter(|_| caps.mfp_capable())
            .map(|k| (k, sae.ipn));
        let akms = rsne.akm_suites.as_deref().unwrap_or_default();
        let pmk = match akms {
            [AkmSuite::Sae] => {
                let sta = self.stations.get(&sa);
                let pmkid = rsne.pmkids.as_deref().and_then(|p| p.first());
                match (sta.and_then(|s| s.sae_pmk.clone()), pmkid) {
                    // Open System authentication, then the PMKID of a cached PMKSA.
                    (_, Some(id)) => {
                        let pmk = sae
                            .pmksa
                            .find(now, sa, id)
                            .map(|e| e.pmk.clone())
                            .ok_or(StatusCode::InvalidPmkid)?;
                        self.counters.pmksa_resumed += 1;
                        pmk
                    }
                    (Some(pmk), None) => pmk,
                    (None, None) => return Err(StatusCode::InvalidPmkid),
                }
            }
            [AkmSuite::Psk] => transition_psk.clone().ok_or(StatusCode::InvalidAkmp)?,
            _ => return Err(StatusCode::InvalidAkmp),
        };
        Ok((pmk, igtk))
    }
}
