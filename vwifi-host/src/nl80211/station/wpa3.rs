//! A station's WPA3 join through the kernel's MLME: the SAE exchange as `AUTHENTICATE`
//! requests and events, then `ASSOCIATE` with the SAE RSNE and management frame protection
//! (frames and elements in [`crate::nl80211::sae`]). The curve operations of SAE run on the
//! blocking pool, never on the runtime's threads.

use rand_core::OsRng;
use vwifi_core::crypto::{Passphrase, Pmk};
use vwifi_core::handshake::sae::{PmksaCache, Sae, SaeOutput, SaePassword};
use vwifi_core::handshake::SupplicantConfig;
use vwifi_core::kernel_sta::{sae_failure, Join, JoinAuth, JoinRequest, Target, HANDSHAKE_TIMEOUT};
use vwifi_core::proto::ConnectFailure;
use vwifi_core::wire::codes::StatusCode;
use vwifi_core::wire::Rsne;
use vwifi_core::Instant;

use super::super::consts as c;
use super::super::genl::Attr;
use super::super::sae::{self as sae_nl, parse_auth, parse_open_auth};
use super::super::scan::ScanEntry;
use super::{Secret, Sta};

/// PMKSAs a station keeps (one per AP it joined with SAE).
pub(super) const PMKSA_ENTRIES: usize = 8;

/// A fresh PMKSA cache.
pub(super) fn pmksa_cache() -> PmksaCache {
    PmksaCache::new(PMKSA_ENTRIES, PmksaCache::DEFAULT_LIFETIME)
}

/// The SAE part of a WPA3 join.
#[derive(Debug)]
pub(super) struct SaeJoin {
    /// The exchange, until it completes (`None` then, and while a frame is processed).
    sae: Option<Box<Sae>>,
    /// The BSS's frequency (MHz).
    freq: u32,
    /// The AP's RSNE, whole.
    ap_rsne: Vec<u8>,
    /// Ours, whole (association request and message 2).
    own_rsne: Vec<u8>,
    /// Hash-to-element: the RSNXE goes with the association request and message 2.
    h2e: bool,
    /// What a full SAE join needs if the AP does not take the cached PMKSA (a join that
    /// skips SAE: Open System authentication with the PMKID, [`JoinAuth::SaePmksa`]).
    fallback: Option<(Passphrase, ScanEntry)>,
}

impl SaeJoin {
    /// When the exchange's retransmission is due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.sae.as_ref().and_then(|s| s.poll_timeout())
    }

    /// Whether the exchange is still running (the station is not yet authenticated).
    pub(super) fn running(&self) -> bool {
        self.sae.is_some()
    }
}

/// Whether the AP's RSNE (whole) says it can protect management frames.
fn ap_mfp_capable(ap_rsne: &[u8]) -> bool {
    ap_rsne
        .get(2..)
        .and_then(|body| Rsne::parse(body).ok())
        .and_then(|r| r.capabilities)
        .is_some_and(|c| c.mfp_capable())
}

impl Sta {
    /// Starts a WPA3 join: with a PMKSA cached for the AP (an earlier SAE with the same
    /// password), Open System authentication and the PMKID; otherwise SAE.
    pub(super) async fn join_sae(
        &mut self,
        target: Target,
        bss: &ScanEntry,
        pass: Passphrase,
        retry: Option<JoinRequest>,
    ) {
        let secret = Secret::Sae(zeroize::Zeroizing::new(pass.expose().to_vec()));
        if !self.pmksa_for.as_ref().is_some_and(|s| s.matches(&secret)) {
            self.pmksa = pmksa_cache();
            self.pmksa_for = Some(secret);
        }
        let now = self.now();
        let Some(entry) = self.pmksa.get(now, target.bssid).cloned() else {
            return self.join_sae_full(target, bss, pass, retry).await;
        };
        let ap_rsne = bss.rsne.clone().unwrap_or_default();
        let own_rsne = sae_nl::own_rsne_with(&ap_rsne, Some(entry.pmkid));
        tracing::info!(guest = self.spec.guest.0, bssid = %target.bssid, "SAE skipped: PMKSA cached, Open System authentication with the PMKID");
        let bssid = target.bssid;
        let ssid = target.ssid;
        let join = Join {
            target,
            security: bss.info.security,
            auth: JoinAuth::SaePmksa(entry.pmk),
            retry,
        };
        self.begin_sae_join(
            now,
            join,
            SaeJoin {
                sae: None,
                freq: bss.freq,
                ap_rsne,
                own_rsne,
                h2e: bss.sae_h2e,
                fallback: Some((pass, bss.clone())),
            },
        )
        .await;
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &bssid.octets()),
            Attr::bytes(c::ATTR_SSID, ssid.as_bytes()),
            Attr::u32(c::ATTR_WIPHY_FREQ, bss.freq),
            Attr::u32(c::ATTR_AUTH_TYPE, u32::from(c::AUTHTYPE_OPEN_SYSTEM)),
        ];
        if let Err(e) = self
            .nl
            .request("AUTHENTICATE (open)", c::CMD_AUTHENTICATE, &attrs, false)
            .await
        {
            tracing::info!(guest = self.spec.guest.0, error = %super::super::error_chain(&e), "authentication with the cached PMKSA not sent");
            let now = self.now();
            self.m.handle_open_auth(now, false);
            self.drain().await;
        }
    }

    /// The join's machine starts an SAE join; `sae` is its SAE part.
    async fn begin_sae_join(&mut self, now: Instant, join: Join, sae: SaeJoin) {
        // An SAE join never fails at its start (no supplicant yet).
        let _ = self.m.begin_join(now, join);
        self.sae = Some(Box::new(sae));
        self.drain().await;
    }

    /// The AP did not take the cached PMKSA (or did not answer; the machine ended the
    /// kernel's Open System authentication): it is forgotten and the join runs SAE.
    pub(super) async fn run_sae(&mut self) {
        if !self.m.is_authenticating() {
            return;
        }
        let (Some(target), Some(j)) = (self.m.target().copied(), self.sae.take()) else {
            return;
        };
        let retry = self.m.retry().cloned();
        let Some((pass, bss)) = j.fallback else {
            return;
        };
        tracing::info!(guest = self.spec.guest.0, bssid = %target.bssid, "the AP did not take the cached PMKSA: running SAE");
        self.pmksa.remove(target.bssid);
        self.join_sae_full(target, &bss, pass, retry).await;
    }

    /// A full SAE join: derives the password element (or the PT for hash-to-element) and
    /// sends the first commit.
    async fn join_sae_full(
        &mut self,
        target: Target,
        bss: &ScanEntry,
        pass: Passphrase,
        retry: Option<JoinRequest>,
    ) {
        let ssid = target.ssid;
        let h2e = bss.sae_h2e;
        let (own, peer) = (self.spec.mac, target.bssid);
        let now = self.now();
        let started = tokio::task::spawn_blocking(move || {
            let mut password = SaePassword::new(pass.expose());
            if h2e {
                password = password.with_h2e(ssid.as_bytes());
            }
            let mut sae = Box::new(Sae::initiator(own, peer, password, h2e, sae_nl::RETRY));
            let r = sae.start(now, &mut OsRng);
            (sae, r)
        })
        .await;
        let sae = match started {
            Ok((sae, Ok(()))) => sae,
            Ok((_, Err(e))) => return self.fail(sae_failure(&e)).await,
            Err(e) => {
                tracing::warn!(guest = self.spec.guest.0, error = %e, "SAE task failed");
                return self.fail(ConnectFailure::ApUnreachable).await;
            }
        };
        let ap_rsne = bss.rsne.clone().unwrap_or_default();
        let own_rsne = sae_nl::own_rsne(&ap_rsne);
        tracing::info!(guest = self.spec.guest.0, bssid = %target.bssid, h2e, "SAE: commit");
        let join = Join {
            target,
            security: bss.info.security,
            auth: JoinAuth::Sae,
            retry,
        };
        self.begin_sae_join(
            now,
            join,
            SaeJoin {
                sae: Some(sae),
                freq: bss.freq,
                ap_rsne,
                own_rsne,
                h2e,
                fallback: None,
            },
        )
        .await;
        self.drain_sae().await;
    }

    /// An `AUTHENTICATE` event: the AP's SAE frame, or the kernel giving up on an answer.
    pub(super) async fn auth_event(&mut self, frame: Option<&[u8]>, timed_out: bool) {
        if !self.m.is_authenticating() {
            return;
        }
        let (Some(bssid), Some(j)) = (self.m.target().map(|t| t.bssid), self.sae.as_ref()) else {
            return;
        };
        let running = j.running();
        if self.m.awaits_open_auth() {
            let now = self.now();
            match frame.and_then(parse_open_auth) {
                Some((from, status)) if from == bssid.octets() => {
                    self.m.handle_open_auth(now, status == StatusCode::Success);
                }
                _ if timed_out => self.m.handle_open_auth(now, false),
                _ => return,
            }
            return self.drain().await;
        }
        if !running {
            return;
        }
        let Some(frame) = frame else {
            if timed_out {
                // The exchange retransmits on its own timer (a new AUTHENTICATE).
                tracing::debug!(
                    guest = self.spec.guest.0,
                    "the kernel timed out an SAE frame"
                );
            }
            return;
        };
        let Some(auth) = parse_auth(frame) else {
            return;
        };
        if auth.from != bssid.octets() {
            return;
        }
        tracing::debug!(
            guest = self.spec.guest.0,
            transaction = auth.transaction,
            status = u16::from(auth.status),
            "SAE frame from the AP"
        );
        let Some(mut sae) = self.sae.as_mut().and_then(|j| j.sae.take()) else {
            return;
        };
        let (transaction, status, body) = (auth.transaction, auth.status, auth.body.to_vec());
        let now = self.now();
        let done = tokio::task::spawn_blocking(move || {
            let r = sae.handle_frame(now, transaction, status, &body, &mut OsRng);
            (sae, r)
        })
        .await;
        let Ok((sae, r)) = done else {
            return self.fail(ConnectFailure::ApUnreachable).await;
        };
        if let Err(e) = r {
            tracing::debug!(guest = self.spec.guest.0, error = %e, "SAE frame refused");
        }
        if let Some(j) = self.sae.as_mut() {
            j.sae = Some(sae);
        }
        self.drain_sae().await;
    }

    /// The exchange's retransmission timer.
    pub(super) async fn sae_timer(&mut self) {
        let now = self.now();
        if let Some(s) = self.sae.as_mut().and_then(|j| j.sae.as_mut()) {
            s.handle_timeout(now);
        }
        self.drain_sae().await;
    }

    /// Sends the exchange's frames; on success associates, on failure ends the join.
    async fn drain_sae(&mut self) {
        loop {
            let Some(j) = self.sae.as_mut() else {
                return;
            };
            match j.sae.as_mut().and_then(|s| s.poll_output()) {
                None => return,
                Some(SaeOutput::Send(f)) => self.send_sae(&f).await,
                Some(SaeOutput::Complete { pmk, pmkid }) => {
                    if let Some(bssid) = self.m.target().map(|t| t.bssid) {
                        let now = self.now();
                        self.pmksa.insert(now, bssid, pmk.clone(), pmkid);
                    }
                    return self.associate_sae(pmk).await;
                }
                Some(SaeOutput::Failed(e)) => {
                    tracing::info!(guest = self.spec.guest.0, error = %e, "SAE failed");
                    return self.fail(sae_failure(&e)).await;
                }
            }
        }
    }

    /// One SAE frame out: `AUTHENTICATE` with the frame as `AUTH_DATA`. A refusal is logged;
    /// the exchange's timer sends it again.
    async fn send_sae(&mut self, f: &vwifi_core::handshake::sae::AuthFrame) {
        let (Some(target), Some(j)) = (self.m.target(), self.sae.as_ref()) else {
            return;
        };
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &target.bssid.octets()),
            Attr::bytes(c::ATTR_SSID, target.ssid.as_bytes()),
            Attr::u32(c::ATTR_WIPHY_FREQ, j.freq),
            Attr::u32(c::ATTR_AUTH_TYPE, u32::from(c::AUTHTYPE_SAE)),
            Attr::bytes(c::ATTR_AUTH_DATA, &sae_nl::auth_data(f)),
        ];
        tracing::debug!(
            guest = self.spec.guest.0,
            transaction = f.transaction,
            "SAE frame to the AP"
        );
        if let Err(e) = self
            .nl
            .request("AUTHENTICATE (SAE)", c::CMD_AUTHENTICATE, &attrs, false)
            .await
        {
            tracing::info!(guest = self.spec.guest.0, error = %super::super::error_chain(&e), "SAE frame not sent");
        }
    }

    /// SAE done: the supplicant gets the PMK, and `ASSOCIATE` goes with the SAE RSNE (and
    /// RSNXE), management frame protection and the control port.
    pub(super) async fn associate_sae(&mut self, pmk: Pmk) {
        let now = self.now();
        let spa = self.spec.mac;
        let (Some(target), Some(j)) = (self.m.target().copied(), self.sae.as_mut()) else {
            return;
        };
        j.sae = None;
        let cfg = SupplicantConfig {
            aa: target.bssid,
            spa,
            pmk,
            ap_rsne: j.ap_rsne.clone(),
            own_rsne: j.own_rsne.clone(),
            timeout: HANDSHAKE_TIMEOUT,
        };
        let mut ies = j.own_rsne.clone();
        if j.h2e {
            ies.extend_from_slice(&sae_nl::own_rsnxe());
        }
        let own_rsnxe = j.h2e.then(sae_nl::own_rsnxe);
        let mut attrs = vec![
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::bytes(c::ATTR_MAC, &target.bssid.octets()),
            Attr::bytes(c::ATTR_SSID, target.ssid.as_bytes()),
            Attr::u32(c::ATTR_WIPHY_FREQ, j.freq),
            Attr::bytes(c::ATTR_IE, &ies),
            Attr::u32(c::ATTR_WPA_VERSIONS, u32::from(c::WPA_VERSION_2)),
            Attr::u32(c::ATTR_CIPHER_SUITES_PAIRWISE, c::CIPHER_CCMP),
            Attr::u32(c::ATTR_CIPHER_SUITE_GROUP, c::CIPHER_CCMP),
            Attr::u32(c::ATTR_AKM_SUITES, c::AKM_SAE),
            Attr::flag(c::ATTR_CONTROL_PORT),
            Attr::u16(c::ATTR_CONTROL_PORT_ETHERTYPE, c::ETH_P_PAE),
            Attr::flag(c::ATTR_SOCKET_OWNER),
        ];
        if ap_mfp_capable(&j.ap_rsne) {
            attrs.push(Attr::u32(c::ATTR_USE_MFP, c::MFP_REQUIRED));
        }
        if !self.m.handle_authenticated(now, cfg, own_rsnxe) {
            tracing::info!(
                guest = self.spec.guest.0,
                "the network's RSN element is not usable with SAE"
            );
            return self.drain().await;
        }
        if self.shared.control_port_over_nl80211 {
            attrs.push(Attr::flag(c::ATTR_CONTROL_PORT_OVER_NL80211));
        }
        tracing::info!(guest = self.spec.guest.0, "SAE complete: associating");
        if let Err(e) = self
            .nl
            .request("ASSOCIATE", c::CMD_ASSOCIATE, &attrs, false)
            .await
        {
            tracing::warn!(guest = self.spec.guest.0, error = %super::super::error_chain(&e), "ASSOCIATE refused");
            self.fail(ConnectFailure::ApUnreachable).await;
        }
    }

    /// Installs the IGTK the 4-way (or group) handshake gave, once per key: BIP-CMAC-128,
    /// key 4 or 5, with its IPN, so that the kernel checks broadcast robust management frames.
    pub(super) async fn install_igtk(&mut self) -> Result<(), super::super::Nl80211Error> {
        let igtk = self.m.igtk().map(|(k, ipn)| (k.key_id(), *k.expose(), ipn));
        let Some((id, key, ipn)) = igtk else {
            return Ok(());
        };
        if self.igtk == Some((id, key)) {
            return Ok(());
        }
        let idx = u8::try_from(id).unwrap_or(4);
        let attrs = [
            Attr::u32(c::ATTR_IFINDEX, self.ifindex),
            Attr::nested(
                c::ATTR_KEY,
                &[
                    Attr::bytes(c::KEY_DATA, &key),
                    Attr::u32(c::KEY_CIPHER, c::CIPHER_BIP_CMAC_128),
                    Attr::bytes(c::KEY_IDX, &[idx]),
                    Attr::bytes(c::KEY_SEQ, &sae_nl::ipn_seq(ipn)),
                    Attr::u32(c::KEY_TYPE, u32::from(c::KEYTYPE_GROUP)),
                ],
            ),
        ];
        self.nl
            .request("NEW_KEY (IGTK)", c::CMD_NEW_KEY, &attrs, false)
            .await?;
        tracing::debug!(guest = self.spec.guest.0, key_id = id, "IGTK installed");
        self.igtk = Some((id, key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pmf_is_asked_for_only_when_the_ap_can_do_it() {
        assert!(ap_mfp_capable(&sae_nl::own_rsne(&[])));
        assert!(!ap_mfp_capable(&super::super::super::scan::own_rsne()));
        assert!(!ap_mfp_capable(&[48, 1]));
    }
}
