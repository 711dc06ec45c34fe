//! [`VwifiLink`]: a vwifi link for a Rust guest without a kernel, on `virtio-drivers`.
//!
//! The guest's virtio-net NIC is the station: Ethernet frames sent are the station's data,
//! frames received are the station's data from the air, and guest-protocol messages ride
//! in-band in frames of EtherType 0x88B5 (to the broadcast address; the host answers to the
//! NIC's MAC). The link is polled: call [`VwifiLink::recv`] when the device interrupts or in a
//! loop.

use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::Transport;
use virtio_drivers::Hal;
use vwifi_core::proto::inband::{self, InbandFrame, ETH_HEADER_LEN};
use vwifi_core::proto::{Message, ProtoError};
use vwifi_core::MacAddr;

/// Receive and transmit queue size of the link.
pub const LINK_QUEUE_SIZE: usize = 16;

/// Receive buffer length: a standard frame with its virtio-net header, rounded up.
pub const LINK_BUFFER_LEN: usize = 2048;

/// The longest control message sent in one frame (the standard Ethernet MTU).
pub const MAX_CONTROL_PAYLOAD: usize = inband::MAX_CONTROL_PAYLOAD;

/// What went wrong on a [`VwifiLink`].
#[derive(Debug, thiserror::Error)]
pub enum VwifiLinkError {
    /// The virtio driver failed (device not ready, queue full, DMA allocation failed...).
    #[error("virtio-net driver: {0}")]
    Driver(#[from] virtio_drivers::Error),
    /// A control message could not be encoded or does not fit one frame.
    #[error("control message: {0}")]
    Encode(#[from] ProtoError),
    /// A frame shorter than an Ethernet header.
    #[error("a frame of {len} bytes is shorter than an Ethernet header")]
    Runt {
        /// Its length.
        len: usize,
    },
}

/// What the link received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A data frame (Ethernet, without FCS).
    Frame(Vec<u8>),
    /// A control message from the host.
    Control(Message),
    /// A control frame whose message did not decode.
    BadControl(ProtoError),
}

/// A vwifi link over a virtio-net device. See the [module documentation](self).
pub struct VwifiLink<H: Hal, T: Transport> {
    net: VirtIONet<H, T, LINK_QUEUE_SIZE>,
    mac: MacAddr,
}

impl<H: Hal, T: Transport> core::fmt::Debug for VwifiLink<H, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VwifiLink").field("mac", &self.mac).finish()
    }
}

impl<H: Hal, T: Transport> VwifiLink<H, T> {
    /// Initializes the device behind `transport` and fills its receive queue.
    pub fn new(transport: T) -> Result<Self, VwifiLinkError> {
        let net = VirtIONet::new(transport, LINK_BUFFER_LEN)?;
        let mac = MacAddr(net.mac_address());
        Ok(Self { net, mac })
    }

    /// The NIC's MAC: the station's address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Acknowledges the device's interrupt; returns whether its config (the link status)
    /// changed.
    pub fn ack_interrupt(&mut self) -> bool {
        self.net
            .ack_interrupt()
            .contains(virtio_drivers::transport::InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT)
    }

    /// Sends one Ethernet frame (the station's data), waiting until the device took it.
    pub fn send_frame(&mut self, frame: &[u8]) -> Result<(), VwifiLinkError> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(VwifiLinkError::Runt { len: frame.len() });
        }
        let mut buf = self.net.new_tx_buffer(frame.len());
        buf.packet_mut().copy_from_slice(frame);
        self.net.send(buf)?;
        Ok(())
    }

    /// Sends one control message to the host, in-band.
    pub fn send_control(&mut self, msg: &Message) -> Result<(), VwifiLinkError> {
        let frame = control_frame(msg, self.mac)?;
        self.send_frame(&frame)
    }

    /// The next frame or control message received, if any (never waits).
    pub fn recv(&mut self) -> Result<Option<Received>, VwifiLinkError> {
        if !self.net.can_recv() {
            return Ok(None);
        }
        let buf = self.net.receive()?;
        let frame = buf.packet().to_vec();
        self.net.recycle_rx_buffer(buf)?;
        Ok(Some(classify(frame)))
    }
}

/// The frame carrying `msg` from `src` to the host (the broadcast address), padded to 60 bytes.
pub fn control_frame(msg: &Message, src: MacAddr) -> Result<Vec<u8>, ProtoError> {
    inband::frame(msg, src, MacAddr::BROADCAST)
}

/// A received frame: control (EtherType 0x88B5) or data (a runt too: the caller decides).
fn classify(frame: Vec<u8>) -> Received {
    match inband::classify(&frame) {
        InbandFrame::Control { msg: Ok(msg), .. } => Received::Control(msg),
        InbandFrame::Control { msg: Err(bad), .. } => Received::BadControl(bad.error),
        InbandFrame::Data { .. } | InbandFrame::Runt => Received::Frame(frame),
    }
}
