//! What the medium reads from and writes into the frames it carries: the receiver address,
//! whether the frame is acknowledged, the Retry bit, and the Ack frames it generates.

use bytes::{Bytes, BytesMut};

use crate::addr::MacAddr;
use crate::wire::{ControlFrame, CtrlSubtype, FcFlags, FrameType, FrameView};

/// Address 1 of a frame, if it is long enough to carry one.
pub(super) fn receiver(frame: &[u8]) -> Option<MacAddr> {
    MacAddr::from_slice(frame.get(4..)?)
}

/// The address an Ack to `frame` goes to (its transmitter), if `frame` is one that its receiver
/// acknowledges: an individually addressed management or data frame (QoS data only with the
/// Normal Ack policy) or a PS-Poll, with a complete header.
pub(super) fn ack_receiver(frame: &[u8]) -> Option<MacAddr> {
    let view = FrameView::new_checked(frame).ok()?;
    if view.addr1().is_group() {
        return None;
    }
    let acked = match view.frame_control().frame_type {
        FrameType::Management(_) => true,
        FrameType::Data(_) => view.qos().is_none_or(|qos| qos.ack_policy() == 0),
        FrameType::Control(subtype) => subtype == CtrlSubtype::PsPoll,
        FrameType::Extension(_) => false,
    };
    if acked {
        view.addr2()
    } else {
        None
    }
}

/// `frame` with the Retry bit of its Frame Control set (a copy only if it was clear).
pub(super) fn with_retry(frame: &Bytes) -> Bytes {
    match frame.get(1) {
        Some(&flags) if flags & FcFlags::RETRY == 0 => {
            let mut copy = BytesMut::from(&frame[..]);
            if let Some(byte) = copy.get_mut(1) {
                *byte |= FcFlags::RETRY;
            }
            copy.freeze()
        }
        _ => frame.clone(),
    }
}

/// An Ack control frame to `ra` (without FCS), Duration 0: the last frame of an exchange.
pub(super) fn ack_frame(ra: MacAddr) -> Vec<u8> {
    let ack = ControlFrame::Ack {
        flags: FcFlags::default(),
        duration: 0,
        ra,
    };
    let mut out = Vec::with_capacity(ack.buffer_len());
    ack.emit(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        DataFrame, DataSubtype, FrameControl, Header, MgmtBody, MgmtFrame, PsPoll, QosControl,
    };

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn data(to: MacAddr, qos: Option<QosControl>) -> Vec<u8> {
        let subtype = if qos.is_some() {
            DataSubtype::QosData
        } else {
            DataSubtype::Data
        };
        let fc = FrameControl::new(FrameType::Data(subtype), FcFlags::default());
        let mut header = Header::new(fc, to, A, B);
        header.qos = qos;
        let mut out = Vec::new();
        DataFrame {
            header,
            payload: Bytes::from_static(b"hello"),
        }
        .emit(&mut out);
        out
    }

    #[test]
    fn unicast_data_and_mgmt_are_acknowledged_to_their_transmitter() {
        assert_eq!(ack_receiver(&data(B, None)), Some(A));
        assert_eq!(
            ack_receiver(&data(B, Some(QosControl::with_tid(0)))),
            Some(A)
        );
        let mut mgmt = Vec::new();
        let deauth = crate::wire::Deauthentication::new(crate::wire::ReasonCode::from(3));
        MgmtFrame::new(B, A, B, MgmtBody::Deauthentication(deauth)).emit(&mut mgmt);
        assert_eq!(ack_receiver(&mgmt), Some(A));
        let mut poll = Vec::new();
        ControlFrame::PsPoll(PsPoll::new(1, B, A)).emit(&mut poll);
        assert_eq!(ack_receiver(&poll), Some(A));
    }

    #[test]
    fn group_no_ack_control_and_truncated_frames_are_not_acknowledged() {
        assert_eq!(ack_receiver(&data(MacAddr::BROADCAST, None)), None);
        // QoS Ack Policy "No Ack" (bits 5-6 = 01).
        assert_eq!(ack_receiver(&data(B, Some(QosControl(0x0020)))), None);
        assert_eq!(ack_receiver(&ack_frame(A)), None);
        assert_eq!(ack_receiver(&data(B, None)[..20]), None);
        assert_eq!(ack_receiver(&[]), None);
        assert_eq!(receiver(&[0x08, 0, 0, 0, 2]), None);
        assert_eq!(receiver(&data(B, None)), Some(B));
    }

    #[test]
    fn retry_bit_is_set_once() {
        let frame = Bytes::from(data(B, None));
        let retried = with_retry(&frame);
        assert_eq!(retried[1] & FcFlags::RETRY, FcFlags::RETRY);
        assert_eq!(retried[2..], frame[2..]);
        assert_eq!(with_retry(&retried), retried);
        assert_eq!(
            with_retry(&Bytes::from_static(&[0x08])),
            Bytes::from_static(&[0x08])
        );
        assert_eq!(ack_frame(A), [0xd4, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    }
}
