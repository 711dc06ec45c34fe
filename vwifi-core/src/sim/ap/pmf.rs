//! Protected management frames (IEEE 802.11w) at the software AP: with a station that
//! negotiated management frame protection, unicast deauthentication and disassociation go
//! CCMP-protected with its pairwise key both ways, and unprotected ones from it are ignored
//! (12.6.19: robust management frames).

use bytes::Bytes;
use tracing::trace;

use super::DropReason;
use crate::crypto::ccmp;
use crate::wire::{FrameControl, FrameType, MgmtBody, MgmtFrame, MgmtSubtype};
use crate::MacAddr;

/// Whether a management frame of this subtype is robust and goes protected under PMF here.
fn is_robust(subtype: MgmtSubtype) -> bool {
    matches!(
        subtype,
        MgmtSubtype::Deauthentication | MgmtSubtype::Disassociation
    )
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
            if is_robust(subtype) {
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
        let robust = is_robust(body.subtype());
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
}
