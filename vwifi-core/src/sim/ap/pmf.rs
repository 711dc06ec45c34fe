//! Protected management frames (IEEE 802.11w) at the software AP: with a station that
//! negotiated management frame protection, unicast deauthentication, disassociation and SA
//! Query go CCMP-protected with its pairwise key both ways, and unprotected ones from it are
//! ignored (12.6.19: robust management frames). Group-addressed robust frames (the broadcast
//! deauthentication of [`SoftAp::stop`](super::SoftAp::stop)) carry a BIP-CMAC-128 MME with
//! the IGTK.
//!
//! SA Query (11.13): an unprotected (Re)Association Request from a station associated with PMF
//! may be forged, or the station may have lost its keys. The AP refuses it temporarily (status
//! 30 with an association comeback time) and asks the station, protected, whether it is still
//! there: an answer keeps the association; none within [`SA_QUERY_MAX_TIMEOUT_TU`] ends it, so
//! that the station's next request is taken.

use bytes::Bytes;
use rand_core::RngCore;
use tracing::{debug, trace};

use super::{ApEvent, DropReason, LeaveReason};
use crate::crypto::bip::bip_protect;
use crate::crypto::ccmp;
use crate::time::{Instant, TU};
use crate::wire::{
    AssocResponse, Deauthentication, Element, ElementId, ElementList, FrameControl, FrameType,
    MgmtBody, MgmtFrame, MgmtSubtype, ReasonCode, StatusCode,
};
use crate::MacAddr;

/// The Action category of SA Query.
const SA_QUERY_CATEGORY: u8 = 8;
/// SA Query Request.
const SA_QUERY_REQUEST: u8 = 0;
/// SA Query Response.
const SA_QUERY_RESPONSE: u8 = 1;
/// dot11AssociationSAQueryMaximumTimeout (TU): how long the station has to answer.
pub(super) const SA_QUERY_MAX_TIMEOUT_TU: u32 = 1000;
/// dot11AssociationSAQueryRetryTimeout (TU): how often the request is sent again.
const SA_QUERY_RETRY_TU: u32 = 201;
/// The Timeout Interval type "association comeback time" (9.4.2.49).
const TIMEOUT_ASSOC_COMEBACK: u8 = 3;

/// An SA Query the AP runs with one station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SaQuery {
    /// The transaction identifier the answer must echo.
    transaction: [u8; 2],
    /// When the station has not answered in time.
    deadline: Instant,
    /// When the request goes again.
    retry_at: Instant,
}

impl SaQuery {
    /// When the AP must look at this query again.
    pub(super) fn next_due(&self) -> Instant {
        self.retry_at.min(self.deadline)
    }
}

/// Whether a management frame of this subtype (Action: with this body) is robust and goes
/// protected under PMF here.
fn is_robust(subtype: MgmtSubtype, body: &[u8]) -> bool {
    match subtype {
        MgmtSubtype::Deauthentication | MgmtSubtype::Disassociation => true,
        MgmtSubtype::Action => body.first() == Some(&SA_QUERY_CATEGORY),
        _ => false,
    }
}

/// A time in TUs.
fn tus(n: u32) -> core::time::Duration {
    TU * n
}

impl super::SoftAp {
    /// Applies PMF to a received frame before it is parsed: a protected management frame from
    /// a station with PMF is decrypted (replay-checked on its management counter); an
    /// unprotected deauthentication or disassociation from such a station, or a protected
    /// frame that does not decrypt, is dropped (`None`). Anything else passes as it is.
    pub(super) fn pmf_rx(&mut self, frame: &Bytes) -> Option<Bytes> {
        let (Some(&b0), Some(&b1)) = (frame.first(), frame.get(1)) else {
            return Some(frame.clone());
        };
        let fc = FrameControl::from_u16(u16::from_le_bytes([b0, b1]));
        let FrameType::Management(subtype) = fc.frame_type else {
            return Some(frame.clone());
        };
        let protected = b1 & 0x40 != 0;
        let ta = frame
            .get(10..16)
            .and_then(|a| <[u8; 6]>::try_from(a).ok())
            .map(MacAddr);
        let sta = ta.and_then(|a| self.stations.get_mut(&a));
        let Some(sta) = sta.filter(|s| s.mfp && s.tk.is_some()) else {
            return match protected {
                true => {
                    self.drop_frame(ta, DropReason::NoKey);
                    None
                }
                false => Some(frame.clone()),
            };
        };
        if !protected {
            if is_robust(subtype, frame.get(24..).unwrap_or_default()) {
                trace!(bssid = %self.cfg.bssid, sta = ?ta, "unprotected robust frame from a PMF station ignored");
                self.drop_frame(ta, DropReason::Unprotected);
                return None;
            }
            return Some(frame.clone());
        }
        let tk = sta.tk.as_ref()?;
        let result = ccmp::decrypt(tk, frame)
            .map_err(|_| DropReason::DecryptFailed)
            .and_then(|d| {
                sta.mgmt_replay
                    .accept(0, d.pn)
                    .map(|()| Bytes::from(d.mpdu))
                    .map_err(|_| DropReason::Replay)
            });
        match result {
            Ok(plain) => Some(plain),
            Err(reason) => {
                self.drop_frame(ta, reason);
                None
            }
        }
    }

    /// Sends a management frame to `da`, CCMP-protected with its pairwise key if `da`
    /// negotiated PMF and the frame is robust.
    pub(super) fn send_mgmt_pmf(&mut self, da: MacAddr, body: MgmtBody) {
        let action_body = match &body {
            MgmtBody::Other { body, .. } => body.as_slice(),
            _ => &[],
        };
        let robust = is_robust(body.subtype(), action_body);
        let mut frame = MgmtFrame::new(da, self.cfg.bssid, self.cfg.bssid, body);
        frame.header.sequence = self.next_seq();
        let mut out = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut out);
        if let Some(sta) = self.stations.get_mut(&da).filter(|s| s.mfp && robust) {
            if let Some(tk) = &sta.tk {
                let pn = sta.tx_pn + 1;
                if let Ok(sealed) = ccmp::encrypt(tk, 0, pn, &out) {
                    sta.tx_pn = pn;
                    out = sealed;
                }
            }
        }
        self.push_tx(out);
    }

    /// Checks a (Re)Association Request (never protected) from `sa` against PMF: from a
    /// station associated with PMF it is refused with status 30 and an association comeback
    /// time while an SA Query asks the station (started if none runs). `true` if refused.
    pub(super) fn sa_query_on_assoc(&mut self, now: Instant, sa: MacAddr, reassoc: bool) -> bool {
        let Some(sta) = self.stations.get_mut(&sa) else {
            return false;
        };
        if !(sta.mfp && sta.tk.is_some() && sta.is_associated()) {
            return false;
        }
        let start = sta.sa_query.is_none();
        let capability = super::frames::capability(self.cfg.channel, self.rsne.is_some());
        let mut comeback = vec![TIMEOUT_ASSOC_COMEBACK];
        comeback.extend_from_slice(&SA_QUERY_MAX_TIMEOUT_TU.to_le_bytes());
        let resp = AssocResponse {
            capability,
            status: StatusCode::RefusedTemporarily,
            association_id: 0,
            elements: ElementList::from(vec![Element::Other {
                id: ElementId::TimeoutInterval,
                data: comeback,
            }]),
        };
        self.send_mgmt(
            sa,
            if reassoc {
                MgmtBody::ReassocResponse(resp)
            } else {
                MgmtBody::AssocResponse(resp)
            },
        );
        if start {
            let mut transaction = [0u8; 2];
            self.rng.fill_bytes(&mut transaction);
            debug!(bssid = %self.cfg.bssid, sta = %sa, "unprotected association request from a PMF station: SA Query");
            if let Some(sta) = self.stations.get_mut(&sa) {
                sta.sa_query = Some(SaQuery {
                    transaction,
                    deadline: now + tus(SA_QUERY_MAX_TIMEOUT_TU),
                    retry_at: now + tus(SA_QUERY_RETRY_TU),
                });
            }
            self.send_sa_query(sa, SA_QUERY_REQUEST, transaction);
        }
        self.push_event(ApEvent::AssociationRefused {
            sta: sa,
            status: StatusCode::RefusedTemporarily,
        });
        true
    }

    fn send_sa_query(&mut self, da: MacAddr, action: u8, transaction: [u8; 2]) {
        let body = MgmtBody::Other {
            subtype: MgmtSubtype::Action,
            body: vec![SA_QUERY_CATEGORY, action, transaction[0], transaction[1]],
        };
        self.send_mgmt_pmf(da, body);
    }

    /// An Action frame from an authenticated station (decrypted if it came protected; an
    /// unprotected SA Query from a PMF station never gets here): an SA Query Response that
    /// echoes the running query keeps the association; a request is answered.
    pub(super) fn on_action(&mut self, sa: MacAddr, body: &[u8]) {
        let (Some(&SA_QUERY_CATEGORY), Some(&action), Some(&t0), Some(&t1)) =
            (body.first(), body.get(1), body.get(2), body.get(3))
        else {
            return;
        };
        let Some(sta) = self.stations.get_mut(&sa).filter(|s| s.mfp) else {
            return;
        };
        match action {
            SA_QUERY_RESPONSE if sta.sa_query.is_some_and(|q| q.transaction == [t0, t1]) => {
                sta.sa_query = None;
                debug!(bssid = %self.cfg.bssid, sta = %sa, "SA Query answered: the association stays");
            }
            SA_QUERY_REQUEST => self.send_sa_query(sa, SA_QUERY_RESPONSE, [t0, t1]),
            _ => {}
        }
    }

    /// Sends SA Query Requests again when due; ends the association of a station that did not
    /// answer in time (its next association request is then taken).
    pub(super) fn sa_query_timeouts(&mut self, now: Instant) {
        let due: Vec<(MacAddr, SaQuery)> = self
            .stations
            .values()
            .filter_map(|s| s.sa_query.map(|q| (s.addr, q)))
            .filter(|(_, q)| q.next_due() <= now)
            .collect();
        for (addr, q) in due {
            if now >= q.deadline {
                debug!(bssid = %self.cfg.bssid, sta = %addr, "SA Query unanswered: association ended");
                if let Some(sta) = self.stations.get_mut(&addr) {
                    sta.sa_query = None;
                    sta.clear_association();
                    sta.mfp = false;
                    self.push_event(ApEvent::Left {
                        sta: addr,
                        reason: LeaveReason::Removed(ReasonCode::PrevAuthNotValid),
                    });
                    self.after_station_change();
                }
                continue;
            }
            if let Some(sta) = self.stations.get_mut(&addr) {
                if let Some(running) = sta.sa_query.as_mut() {
                    running.retry_at = now + tus(SA_QUERY_RETRY_TU);
                }
            }
            self.send_sa_query(addr, SA_QUERY_REQUEST, q.transaction);
        }
    }

    /// When the next SA Query is due.
    pub(super) fn sa_query_poll_timeout(&self) -> Option<Instant> {
        self.stations
            .values()
            .filter_map(|s| s.sa_query.map(|q| q.next_due()))
            .min()
    }

    /// Stops the AP: one broadcast deauthentication (reason 3, leaving), BIP-protected with
    /// the IGTK when the BSS has one (WPA3) so that PMF stations take it (stations without
    /// PMF on such a BSS get a unicast one each), then every station is forgotten (an [`ApEvent::Left`] for each associated one). The frame is in
    /// [`Node::poll_transmit`](crate::radio::Node::poll_transmit).
    pub fn stop(&mut self) {
        // A station without PMF (WPA2 on a transition BSS) drops a broadcast frame carrying a
        // BIP MME it has no key for: it gets a unicast deauthentication of its own.
        if self.sae.as_ref().is_some_and(|s| s.igtk.is_some()) {
            let plain: Vec<MacAddr> = self
                .stations
                .values()
                .filter(|s| s.is_associated() && !s.mfp)
                .map(|s| s.addr)
                .collect();
            for addr in plain {
                self.send_deauth(addr, ReasonCode::DeauthLeaving);
            }
        }
        let mut frame = MgmtFrame::new(
            MacAddr::BROADCAST,
            self.cfg.bssid,
            self.cfg.bssid,
            MgmtBody::Deauthentication(Deauthentication::new(ReasonCode::DeauthLeaving)),
        );
        frame.header.sequence = self.next_seq();
        let mut out = Vec::with_capacity(frame.buffer_len());
        frame.emit(&mut out);
        if let Some(sae) = self.sae.as_mut() {
            if let Some(igtk) = &sae.igtk {
                let ipn = sae.ipn + 1;
                match bip_protect(igtk, &mut out, ipn) {
                    Ok(()) => sae.ipn = ipn,
                    Err(e) => trace!(error = %e, "BIP protection failed"),
                }
            }
        }
        self.push_tx(out);
        let stations = core::mem::take(&mut self.stations);
        for sta in stations.values().filter(|s| s.is_associated()) {
            self.push_event(ApEvent::Left {
                sta: sta.addr,
                reason: LeaveReason::Removed(ReasonCode::DeauthLeaving),
            });
        }
        self.after_station_change();
        debug!(bssid = %self.cfg.bssid, "soft AP stopped");
    }
}
