//! In-band control: guest-protocol messages in Ethernet frames of EtherType
//! [`ETHERTYPE`] (0x88B5) on the guest's own NIC.
//!
//! # Framing
//! One message per frame: destination, source, EtherType 0x88B5, then the encoded message,
//! padded with zeros to Ethernet's 60-byte minimum (the decoder takes the length from the
//! message header and ignores the padding).
//! - **Guest → host:** destination [`HOST_ADDRESS`], the broadcast address (the host side of
//!   the NIC sees every frame the guest sends, and the broadcast address needs no
//!   configuration); source the NIC's MAC.
//! - **Host → guest:** any destination that is the NIC's MAC or a group address; frames from
//!   the NIC's own MAC are ignored (the socket, bound to 0x88B5 alone, is not handed the
//!   frames it sends; a frame that claims the NIC's address is not the host's).
//!
//! # Limits
//! A message sent must fit one standard frame: at most [`MAX_SEND_PAYLOAD`] (1500) bytes,
//! header included; a larger one is refused with
//! [`LinkError::Encode`] (`TooLong`) and nothing is sent.
//! The requests the CLI sends are far below it. Frames received may be up to 64 KiB plus the
//! Ethernet header ([`MAX_RECV_FRAME`]), for links with jumbo frames: a host with a standard
//! MTU fits what it can of a long scan result into one frame.
//!
//! # Privileges
//! The packet socket (AF_PACKET) needs CAP_NET_RAW: without it, opening fails with
//! [`GuestError::RawSocket`], which says so.

use std::num::NonZeroU32;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rustix::net::{AddressFamily, Protocol, SocketType};
use vwifi_core::addr::MacAddr;
use vwifi_core::io::{GuestLink, GuestRx, GuestTx, LinkError, PeerInfo};
use vwifi_core::proto::inband::{self, InbandFrame};
use vwifi_core::proto::{Message, ETHERTYPE, MAX_MESSAGE_LEN};

use crate::error::GuestError;

/// Where the guest sends its control frames: the broadcast address.
pub const HOST_ADDRESS: MacAddr = MacAddr::BROADCAST;

/// The longest message sent in one frame (the standard Ethernet MTU).
pub const MAX_SEND_PAYLOAD: usize = inband::MAX_CONTROL_PAYLOAD;

/// The longest frame received: a 64 KiB message and the 14-byte Ethernet header.
pub const MAX_RECV_FRAME: usize = MAX_MESSAGE_LEN + ETH_HEADER_LEN;

pub use vwifi_core::proto::inband::ETH_HEADER_LEN;

/// How often the receiving thread checks whether the link was dropped.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The frame that carries `msg` from `src` to `dst` ([`inband::frame`]), or
/// [`LinkError::Encode`] if the message does not fit [`MAX_SEND_PAYLOAD`].
pub fn frame_message(msg: &Message, src: MacAddr, dst: MacAddr) -> Result<Vec<u8>, LinkError> {
    inband::frame(msg, src, dst).map_err(LinkError::Encode)
}

/// The message in a received frame, if the frame is a control frame for `own` (see the module
/// docs): `None` for frames to ignore, `Some(Err(BadMessage))` for a control frame whose
/// message does not decode.
pub fn parse_frame(frame: &[u8], own: MacAddr) -> Option<Result<Message, LinkError>> {
    match inband::classify(frame) {
        InbandFrame::Control { dst, src, msg } if src != own && (dst == own || dst.is_group()) => {
            Some(msg.map_err(LinkError::from))
        }
        _ => None,
    }
}

/// The MAC address of interface `name`, from sysfs.
pub fn interface_mac(name: &str) -> Result<MacAddr, GuestError> {
    let iface = find_interface(name)?;
    iface
        .mac
        .map(|m| MacAddr(m.octets()))
        .filter(|m| *m != MacAddr::ZERO)
        .ok_or_else(|| GuestError::NoMac {
            name: name.to_owned(),
        })
}

/// The kernel's index of interface `name`.
pub(crate) fn interface_index(name: &str) -> Result<u32, GuestError> {
    find_interface(name).map(|i| i.index)
}

fn find_interface(name: &str) -> Result<pnet_datalink::NetworkInterface, GuestError> {
    pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| GuestError::NoInterface {
            name: name.to_owned(),
        })
}

/// A raw packet socket (whole Ethernet frames) for EtherType 0x88B5 only.
///
/// Not pnet's own layer-2 socket: that one is opened for every EtherType (`ETH_P_ALL`), and
/// the kernel then hands it a copy of every frame the NIC sends and receives. In a VM sending
/// over iperf3 that woke the receiving thread about 1 000 times a second, each wake-up
/// preempting the sender, and the VM sent at half the rate of the same VM over a plain TAP
/// NIC. A socket of one EtherType sees only the control frames the host sends (the kernel
/// does not loop back a socket's own frames to a socket bound to one protocol).
fn control_socket() -> std::io::Result<OwnedFd> {
    let protocol = NonZeroU32::new(u32::from(ETHERTYPE.to_be()))
        .map(Protocol::from_raw)
        .ok_or_else(|| std::io::Error::other("EtherType 0"))?;
    Ok(rustix::net::socket(
        AddressFamily::PACKET,
        SocketType::RAW,
        Some(protocol),
    )?)
}

/// The in-band link on one interface: a [`GuestLink`] whose peer is the host side of the NIC.
pub struct InbandLink {
    rx: InbandRx,
    tx: InbandTx,
}

impl core::fmt::Debug for InbandLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InbandLink")
            .field("own", &self.tx.own)
            .finish_non_exhaustive()
    }
}

/// The receiving half of an [`InbandLink`].
pub struct InbandRx {
    messages: tokio::sync::mpsc::Receiver<Result<Message, LinkError>>,
    stop: Arc<AtomicBool>,
}

/// The sending half of an [`InbandLink`].
pub struct InbandTx {
    sender: Arc<Mutex<Box<dyn pnet_datalink::DataLinkSender>>>,
    own: MacAddr,
}

impl InbandLink {
    /// Opens a packet socket on interface `name` (needs CAP_NET_RAW) and starts receiving its
    /// control frames on a thread of its own. Must be called within a tokio runtime.
    pub fn open(name: &str) -> Result<Self, GuestError> {
        let iface = find_interface(name)?;
        let own = iface
            .mac
            .map(|m| MacAddr(m.octets()))
            .filter(|m| *m != MacAddr::ZERO)
            .ok_or_else(|| GuestError::NoMac {
                name: name.to_owned(),
            })?;
        let raw = |source| GuestError::RawSocket {
            name: name.to_owned(),
            source,
        };
        let config = pnet_datalink::Config {
            read_buffer_size: MAX_RECV_FRAME,
            read_timeout: Some(POLL_INTERVAL),
            promiscuous: false,
            // pnet binds the socket to the interface and to this EtherType; the socket is our
            // raw one, so frames keep their Ethernet header both ways.
            channel_type: pnet_datalink::ChannelType::Layer3(ETHERTYPE),
            socket_fd: Some(control_socket().map_err(raw)?.into_raw_fd()),
            ..pnet_datalink::Config::default()
        };
        let pnet_datalink::Channel::Ethernet(sender, mut receiver) =
            pnet_datalink::channel(&iface, config).map_err(raw)?
        else {
            return Err(raw(std::io::Error::other(
                "the interface gave a channel of another type",
            )));
        };
        let (queue, messages) = tokio::sync::mpsc::channel(64);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name(format!("vwifi-inband-{name}"))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let item = match receiver.next() {
                        Ok(frame) => match parse_frame(frame, own) {
                            Some(item) => item,
                            None => continue,
                        },
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::TimedOut
                                    | std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::Interrupted
                            ) =>
                        {
                            continue
                        }
                        Err(e) => Err(LinkError::Read(e)),
                    };
                    let fatal = item.as_ref().is_err_and(LinkError::is_fatal);
                    if queue.blocking_send(item).is_err() || fatal {
                        break;
                    }
                }
            })
            .map_err(raw)?;
        tracing::debug!(interface = name, mac = %own, "in-band link open");
        Ok(Self {
            rx: InbandRx { messages, stop },
            tx: InbandTx {
                sender: Arc::new(Mutex::new(sender)),
                own,
            },
        })
    }

    /// The NIC's MAC address (the source of the frames sent).
    pub fn own_mac(&self) -> MacAddr {
        self.tx.own
    }
}

impl Drop for InbandRx {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[async_trait]
impl GuestRx for InbandRx {
    async fn recv(&mut self) -> Result<Message, LinkError> {
        self.messages.recv().await.unwrap_or(Err(LinkError::Closed))
    }

    fn peer(&self) -> PeerInfo {
        PeerInfo::Anonymous
    }
}

#[async_trait]
impl GuestTx for InbandTx {
    async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        let frame = frame_message(msg, self.own, HOST_ADDRESS)?;
        let sender = Arc::clone(&self.sender);
        // A packet socket's send does not wait for the peer; run it off the async thread anyway.
        tokio::task::spawn_blocking(move || {
            let mut sender = sender.lock().map_err(|_| LinkError::Broken)?;
            match sender.send_to(&frame, None) {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(LinkError::Write(e)),
                None => Err(LinkError::Write(std::io::Error::other(
                    "the packet socket took no frame",
                ))),
            }
        })
        .await
        .map_err(|e| LinkError::Write(std::io::Error::other(e)))?
    }

    async fn close(&mut self) -> Result<(), LinkError> {
        Ok(())
    }

    fn peer(&self) -> PeerInfo {
        PeerInfo::Anonymous
    }
}

#[async_trait]
impl GuestLink for InbandLink {
    async fn recv(&mut self) -> Result<Message, LinkError> {
        self.rx.recv().await
    }

    async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        self.tx.send(msg).await
    }

    async fn close(&mut self) -> Result<(), LinkError> {
        self.tx.close().await
    }

    fn peer(&self) -> PeerInfo {
        PeerInfo::Anonymous
    }

    fn split(self: Box<Self>) -> (Box<dyn GuestRx>, Box<dyn GuestTx>) {
        let this = *self;
        (Box::new(this.rx), Box::new(this.tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwifi_core::proto::{self, BssInfo, ProtoError, RequestId, Security, Ssid, ETHERTYPE};

    const OWN: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x10]);
    const HOST: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x20]);

    #[test]
    fn a_request_becomes_one_padded_broadcast_frame() {
        let msg = Message::StatusRequest { id: RequestId(7) };
        let frame = frame_message(&msg, OWN, HOST_ADDRESS).unwrap();
        assert_eq!(frame.len(), 60);
        assert_eq!(&frame[..6], &[0xff; 6]);
        assert_eq!(&frame[6..12], &OWN.0);
        assert_eq!(&frame[12..14], &[0x88, 0xb5]);
        // What the host sees: the message, padding ignored.
        let (decoded, used) = proto::decode(&frame[14..]).unwrap();
        assert_eq!(decoded, msg);
        assert_eq!(used, proto::HEADER_LEN);
    }

    #[test]
    fn replies_to_us_or_a_group_are_taken_and_others_ignored() {
        let reply = Message::Ack { id: RequestId(3) };
        let to_us = frame_message(&reply, HOST, OWN).unwrap();
        assert_eq!(parse_frame(&to_us, OWN).unwrap().unwrap(), reply);
        let to_all = frame_message(&reply, HOST, MacAddr::BROADCAST).unwrap();
        assert!(parse_frame(&to_all, OWN).is_some());
        // Our own frame, seen again by the packet socket.
        let ours = frame_message(&reply, OWN, HOST_ADDRESS).unwrap();
        assert!(parse_frame(&ours, OWN).is_none());
        // Another station's unicast.
        let other = frame_message(&reply, HOST, MacAddr([2, 0, 0, 0, 0, 0x30])).unwrap();
        assert!(parse_frame(&other, OWN).is_none());
        // Another EtherType, and runts.
        let mut ip = to_us.clone();
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(parse_frame(&ip, OWN).is_none());
        assert!(parse_frame(&to_us[..13], OWN).is_none());
        assert!(parse_frame(&[], OWN).is_none());
    }

    #[test]
    fn a_broken_control_frame_is_a_bad_message_with_its_request_id() {
        let mut frame = frame_message(&Message::Ack { id: RequestId(9) }, HOST, OWN).unwrap();
        frame[14 + 2] = 0x7f; // unknown message type
        match parse_frame(&frame, OWN) {
            Some(Err(LinkError::BadMessage { id, .. })) => assert_eq!(id, Some(RequestId(9))),
            other => panic!("{other:?}"),
        }
        // Every truncation is an error or ignored, never a panic.
        for cut in 0..frame.len() {
            let _ = parse_frame(&frame[..cut], OWN);
        }
    }

    #[test]
    fn messages_over_the_mtu_are_refused_and_jumbo_frames_received() {
        let bss = BssInfo {
            ssid: Ssid::new(&[b'x'; 32]).unwrap(),
            bssid: HOST,
            channel: 1,
            frequency_mhz: 2412,
            signal_dbm: -40,
            security: Security::Wpa2Psk,
            beacon_age_ms: 0,
            phy: None,
        };
        let big = Message::ScanResults {
            id: RequestId(1),
            bss: vec![bss; 60],
        };
        match frame_message(&big, OWN, HOST_ADDRESS) {
            Err(LinkError::Encode(ProtoError::TooLong { max, .. })) => {
                assert_eq!(max, MAX_SEND_PAYLOAD)
            }
            other => panic!("{other:?}"),
        }
        // The same message from the host on a jumbo link is taken.
        let mut frame = Vec::new();
        frame.extend_from_slice(&OWN.0);
        frame.extend_from_slice(&HOST.0);
        frame.extend_from_slice(&ETHERTYPE.to_be_bytes());
        proto::encode(&big, &mut frame).unwrap();
        assert!(frame.len() > 1514 && frame.len() <= MAX_RECV_FRAME);
        assert_eq!(parse_frame(&frame, OWN).unwrap().unwrap(), big);
    }
}
