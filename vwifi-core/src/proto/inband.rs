//! In-band framing: one guest-protocol [`Message`] in one Ethernet frame of EtherType
//! [`ETHERTYPE`] on the guest's own link. The one place that builds and classifies such
//! frames; the host's ports, the guest's `--link` and the virtio link all use it.
//!
//! A frame is destination, source, EtherType (the [`ETH_HEADER_LEN`]-byte Ethernet II
//! header), then the encoded message, padded with zeros to Ethernet's [`MIN_FRAME_LEN`]
//! (the decoder takes the length from the message header and ignores the padding). A message
//! sent in one frame is at most [`MAX_CONTROL_PAYLOAD`] bytes (the standard MTU): [`frame`]
//! refuses a longer one, and [`frame_truncating`] drops the last BSSs of a scan result until
//! it fits.

use crate::addr::MacAddr;

use super::{decode, encode, encoded_len, Header, Message, ProtoError, RequestId, ETHERTYPE};

/// The Ethernet II header: destination, source, EtherType.
pub const ETH_HEADER_LEN: usize = 14;

/// Ethernet's minimum frame length without FCS: shorter control frames are padded to it.
pub const MIN_FRAME_LEN: usize = 60;

/// The longest message in one control frame: the standard Ethernet MTU.
pub const MAX_CONTROL_PAYLOAD: usize = 1500;

/// A control frame whose message did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadControl {
    /// The request id of the message's header, if it had one (the error reply echoes it).
    pub id: Option<RequestId>,
    /// What was wrong with the message.
    pub error: ProtoError,
}

/// What an Ethernet frame on a guest's link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InbandFrame {
    /// A control frame (EtherType [`ETHERTYPE`]): its message, or why it did not decode.
    Control {
        /// Its destination address.
        dst: MacAddr,
        /// Its source address.
        src: MacAddr,
        /// The message.
        msg: Result<Message, BadControl>,
    },
    /// Any other frame: the station's data.
    Data {
        /// Its destination address.
        dst: MacAddr,
        /// Its source address.
        src: MacAddr,
    },
    /// Shorter than an Ethernet header.
    Runt,
}

/// Classifies a frame: control, data or runt. Never panics.
pub fn classify(frame: &[u8]) -> InbandFrame {
    let Some((header, payload)) = frame.split_at_checked(ETH_HEADER_LEN) else {
        return InbandFrame::Runt;
    };
    let (Some(dst), Some(src), Some(&[a, b])) = (
        header.get(0..6).and_then(MacAddr::from_slice),
        header.get(6..12).and_then(MacAddr::from_slice),
        header.get(12..14),
    ) else {
        return InbandFrame::Runt;
    };
    if u16::from_be_bytes([a, b]) != ETHERTYPE {
        return InbandFrame::Data { dst, src };
    }
    let msg = match decode(payload) {
        Ok((msg, _used)) => Ok(msg),
        Err(error) => Err(BadControl {
            id: Header::parse(payload).ok().and_then(|h| h.request_id()),
            error,
        }),
    };
    InbandFrame::Control { dst, src, msg }
}

/// The control frame carrying `msg` from `src` to `dst`, padded to [`MIN_FRAME_LEN`]; a
/// message longer than [`MAX_CONTROL_PAYLOAD`] is [`ProtoError::TooLong`].
pub fn frame(msg: &Message, src: MacAddr, dst: MacAddr) -> Result<Vec<u8>, ProtoError> {
    let len = encoded_len(msg)?;
    if len > MAX_CONTROL_PAYLOAD {
        return Err(ProtoError::TooLong {
            len,
            max: MAX_CONTROL_PAYLOAD,
        });
    }
    let mut out = Vec::with_capacity((ETH_HEADER_LEN + len).max(MIN_FRAME_LEN));
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&ETHERTYPE.to_be_bytes());
    encode(msg, &mut out)?;
    if out.len() < MIN_FRAME_LEN {
        out.resize(MIN_FRAME_LEN, 0);
    }
    Ok(out)
}

/// Like [`frame`], but a scan result too long for one frame loses its last BSSs until it fits;
/// returns the frame and how many BSSs were cut. Any other message too long is
/// [`ProtoError::TooLong`].
pub fn frame_truncating(
    msg: Message,
    src: MacAddr,
    dst: MacAddr,
) -> Result<(Vec<u8>, usize), ProtoError> {
    let mut msg = msg;
    let mut cut = 0;
    let mut len = encoded_len(&msg)?;
    while len > MAX_CONTROL_PAYLOAD {
        match &mut msg {
            Message::ScanResults { bss, .. } if !bss.is_empty() => {
                bss.pop();
                cut += 1;
            }
            _ => {
                return Err(ProtoError::TooLong {
                    len,
                    max: MAX_CONTROL_PAYLOAD,
                })
            }
        }
        len = encoded_len(&msg)?;
    }
    Ok((frame(&msg, src, dst)?, cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{BssInfo, Security, Ssid};

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    #[test]
    fn a_small_message_is_padded_and_classified_back() {
        let msg = Message::StatusRequest { id: RequestId(7) };
        let f = frame(&msg, A, B).unwrap();
        assert_eq!(f.len(), MIN_FRAME_LEN);
        assert_eq!(&f[..6], &B.0);
        assert_eq!(&f[6..12], &A.0);
        assert_eq!(&f[12..14], &ETHERTYPE.to_be_bytes());
        assert_eq!(
            classify(&f),
            InbandFrame::Control {
                dst: B,
                src: A,
                msg: Ok(msg)
            }
        );
    }

    #[test]
    fn other_ethertypes_are_data_and_short_frames_runts() {
        let mut ip = vec![0u8; 40];
        ip[..6].copy_from_slice(&B.0);
        ip[6..12].copy_from_slice(&A.0);
        ip[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(classify(&ip), InbandFrame::Data { dst: B, src: A });
        assert_eq!(classify(&ip[..13]), InbandFrame::Runt);
        assert_eq!(classify(&[]), InbandFrame::Runt);
    }

    #[test]
    fn a_broken_message_keeps_its_request_id() {
        let mut f = frame(&Message::Ack { id: RequestId(9) }, A, B).unwrap();
        f[ETH_HEADER_LEN + 2] = 0x7f; // an unknown message type
        match classify(&f) {
            InbandFrame::Control { msg: Err(bad), .. } => assert_eq!(bad.id, Some(RequestId(9))),
            other => panic!("{other:?}"),
        }
        for cut in 0..f.len() {
            let _ = classify(&f[..cut]);
        }
    }

    fn scan_results(n: usize) -> Message {
        let bss = (0..n)
            .map(|i| BssInfo {
                ssid: Ssid::new(&[b'x'; 32]).unwrap(),
                bssid: MacAddr([2, 0, 0, 0, 1, i as u8]),
                channel: 1,
                frequency_mhz: 2412,
                signal_dbm: -40,
                security: Security::Wpa2Psk,
                beacon_age_ms: 100,
                phy: None,
            })
            .collect();
        Message::ScanResults {
            id: RequestId(3),
            bss,
        }
    }

    #[test]
    fn a_long_scan_result_loses_its_last_bsss_and_other_long_messages_fail() {
        let (f, cut) = frame_truncating(scan_results(100), A, B).unwrap();
        assert!(cut > 0);
        assert!(f.len() <= ETH_HEADER_LEN + MAX_CONTROL_PAYLOAD);
        match classify(&f) {
            InbandFrame::Control {
                msg: Ok(Message::ScanResults { bss, .. }),
                ..
            } => assert_eq!(bss.len() + cut, 100),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            frame(&scan_results(100), A, B),
            Err(ProtoError::TooLong { .. })
        ));
        let (_, none) = frame_truncating(scan_results(1), A, B).unwrap();
        assert_eq!(none, 0);
    }
}
