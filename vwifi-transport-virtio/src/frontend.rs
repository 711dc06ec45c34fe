//! The VMM's side of vhost-user-net, without a VM: [`VhostUserNic`] connects to a
//! vhost-user-net backend as QEMU would and drives the device with `virtio-drivers`'
//! `VirtIONet`; [`bridge`] moves frames between that NIC and a TAP (`vhost-user-tap`).
//!
//! The rings live in memory shared with the backend: a memfd ([`DmaMemory::install_shared`])
//! sent in `SET_MEM_TABLE`. [`VhostUserTransport`] is the `virtio-drivers` [`Transport`] that
//! turns the driver's register accesses into vhost-user messages (the `vhost` crate's
//! frontend):
//!
//! - connecting: `SET_OWNER`, `GET_FEATURES`, and with `VHOST_USER_F_PROTOCOL_FEATURES`
//!   `GET_PROTOCOL_FEATURES`/`SET_PROTOCOL_FEATURES`;
//! - the driver's features (`VERSION_1`, `MAC`, `STATUS`, `EVENT_IDX`, `INDIRECT_DESC`: what
//!   `virtio-drivers` supports; no mergeable receive buffers): `SET_FEATURES`, then
//!   `SET_MEM_TABLE` with the memfd;
//! - each queue the driver sets up: `SET_VRING_NUM`, `SET_VRING_BASE` 0, `SET_VRING_ADDR`
//!   (this process's addresses of the rings, as a VMM sends its own), `SET_VRING_KICK`,
//!   `SET_VRING_CALL` and `SET_VRING_ENABLE`; removing it: `GET_VRING_BASE`;
//! - a notification writes the queue's kick eventfd; an interrupt is a call eventfd that
//!   fired.
//!
//! The config space (the MAC, the link up) is the frontend's own, as QEMU's is for a
//! vhost-user-net backend without `VHOST_USER_PROTOCOL_F_CONFIG`.
//!
//! Sending waits until the backend took the frame (`VirtIONet::send` spins on the used ring;
//! a backend that stops servicing the transmit ring while connected stalls the sender): the
//! proof that data moves, not a fast path.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost::vhost_user::{Frontend, VhostUserFrontend as _};
use vhost::{VhostBackend as _, VhostUserMemoryRegionInfo, VringConfigData};
use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::PhysAddr;
use vm_memory::{GuestAddress, GuestMemoryBackend as _, GuestMemoryMmap};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::device::{CONFIG_LEN, CONFIG_STATUS_OFFSET, MAX_QUEUE_SIZE, NUM_QUEUES, TX_QUEUE};
use crate::dma::{DmaHal, DmaMemory, SharedMemoryError};

/// Size of the shared memory: the rings and every bounced buffer.
pub const MEMORY_LEN: usize = 4 << 20;

/// Receive and transmit queue size.
pub const QUEUE_SIZE: usize = 64;

/// Receive buffer length: a standard frame with its virtio-net header, rounded up.
pub const BUFFER_LEN: usize = 2048;

/// `VHOST_USER_F_PROTOCOL_FEATURES`.
const PROTOCOL_FEATURES: u64 = 1 << 30;

/// How long a send sleeps waiting for the backend to use the frame before it spins.
const TX_USED_WAIT_MS: i32 = 100;

/// `VIRTIO_NET_S_LINK_UP`.
const LINK_UP: u16 = 1;

/// What went wrong in the frontend.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The backend's socket could not be connected.
    #[error("cannot connect to the vhost-user socket {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The backend refused or failed a vhost-user request.
    #[error("vhost-user {request} failed: {source}")]
    Request {
        /// The request (`SET_MEM_TABLE`, ...).
        request: &'static str,
        /// Why.
        #[source]
        source: vhost::Error,
    },
    /// The backend does not offer virtio 1.x.
    #[error("the backend does not offer VIRTIO_F_VERSION_1 (features {features:#x})")]
    NoVersion1 {
        /// What it offers.
        features: u64,
    },
    /// The shared memory could not be set up.
    #[error(transparent)]
    Memory(#[from] SharedMemoryError),
    /// A ring address is outside the shared memory (a bug of the DMA allocator).
    #[error("the ring address {addr:#x} is outside the shared memory")]
    RingAddress {
        /// The guest address.
        addr: u64,
    },
    /// An eventfd could not be created, read or written.
    #[error("eventfd: {0}")]
    EventFd(#[source] io::Error),
    /// The `virtio-drivers` driver failed (queue full, bad token, device not ready...).
    #[error("virtio-net driver: {0}")]
    Driver(#[from] virtio_drivers::Error),
    /// The TAP could not be read or written.
    #[error("TAP: {0}")]
    Tap(#[source] io::Error),
    /// Waiting for the TAP, the backend or its interrupts failed.
    #[error("poll: {0}")]
    Poll(#[source] io::Error),
}

/// A failure inside a [`Transport`] method (which cannot return one), kept for the caller.
type Fault = Rc<RefCell<Option<FrontendError>>>;

/// The eventfds of one queue the driver set up.
#[derive(Debug)]
struct Ring {
    kick: EventFd,
}

/// The `virtio-drivers` [`Transport`] of a vhost-user-net backend. See the
/// [module documentation](self).
pub struct VhostUserTransport {
    backend: Frontend,
    mem: GuestMemoryMmap,
    mac: [u8; 6],
    /// The backend's features (`VHOST_USER_F_PROTOCOL_FEATURES` included).
    features: u64,
    status: DeviceStatus,
    rings: [Option<Ring>; NUM_QUEUES],
    calls: [EventFd; NUM_QUEUES],
    /// Waits on the transmit queue's call eventfd.
    tx_used: Epoll,
    /// The socket again, to notice the backend hanging up.
    hangup: UnixStream,
    fault: Fault,
}

impl std::fmt::Debug for VhostUserTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VhostUserTransport")
            .field("features", &self.features)
            .field("status", &self.status)
            .field("rings", &self.rings)
            .finish_non_exhaustive()
    }
}

impl VhostUserTransport {
    /// Connects to the backend at `socket`, takes ownership of it and negotiates the protocol
    /// features; `mem` is the shared memory (from [`DmaMemory::install_shared`]).
    pub fn connect(
        socket: &Path,
        mac: [u8; 6],
        mem: GuestMemoryMmap,
    ) -> Result<Self, FrontendError> {
        let stream = UnixStream::connect(socket).map_err(|source| FrontendError::Connect {
            path: socket.display().to_string(),
            source,
        })?;
        let hangup = stream
            .try_clone()
            .map_err(|source| FrontendError::Connect {
                path: socket.display().to_string(),
                source,
            })?;
        let mut backend = Frontend::from_stream(stream, NUM_QUEUES as u64);
        let request = |request| move |source| FrontendError::Request { request, source };
        backend.set_owner().map_err(request("SET_OWNER"))?;
        let features = backend.get_features().map_err(request("GET_FEATURES"))?;
        if features & (1 << virtio_bindings::virtio_config::VIRTIO_F_VERSION_1) == 0 {
            return Err(FrontendError::NoVersion1 { features });
        }
        if features & PROTOCOL_FEATURES != 0 {
            let offered = backend
                .get_protocol_features()
                .map_err(request("GET_PROTOCOL_FEATURES"))?;
            // Replies to requests are all this frontend could use; it does not ask for them.
            backend
                .set_protocol_features(offered & VhostUserProtocolFeatures::REPLY_ACK)
                .map_err(request("SET_PROTOCOL_FEATURES"))?;
        }
        let call = || EventFd::new(EFD_NONBLOCK).map_err(FrontendError::EventFd);
        let calls = [call()?, call()?];
        let tx_used = Epoll::new().map_err(FrontendError::Poll)?;
        tx_used
            .ctl(
                ControlOperation::Add,
                calls[usize::from(TX_QUEUE)].as_raw_fd(),
                EpollEvent::new(EventSet::IN, 0),
            )
            .map_err(FrontendError::Poll)?;
        Ok(Self {
            backend,
            mem,
            mac,
            features,
            status: DeviceStatus::empty(),
            rings: [None, None],
            calls,
            tx_used,
            hangup,
            fault: Rc::default(),
        })
    }

    /// Records the first failure and marks the device failed.
    fn fail(&mut self, e: FrontendError) {
        self.status |= DeviceStatus::FAILED;
        self.fault.borrow_mut().get_or_insert(e);
    }

    /// This process's address of the guest address `addr` (what `SET_VRING_ADDR` carries).
    fn user_addr(&self, addr: PhysAddr) -> Result<u64, FrontendError> {
        self.mem
            .get_host_address(GuestAddress(addr))
            .map(|p| p as u64)
            .map_err(|_| FrontendError::RingAddress { addr })
    }

    /// Sends the vring set-up of `queue`: its size and its descriptor table, driver and
    /// device areas.
    fn set_up_ring(
        &mut self,
        queue: u16,
        size: u32,
        [descriptors, driver_area, device_area]: [PhysAddr; 3],
    ) -> Result<Ring, FrontendError> {
        let request = |request| move |source| FrontendError::Request { request, source };
        let index = usize::from(queue);
        let size = u16::try_from(size).unwrap_or(MAX_QUEUE_SIZE);
        let config = VringConfigData {
            queue_max_size: size,
            queue_size: size,
            flags: 0,
            desc_table_addr: self.user_addr(descriptors)?,
            used_ring_addr: self.user_addr(device_area)?,
            avail_ring_addr: self.user_addr(driver_area)?,
            log_addr: None,
        };
        let kick = EventFd::new(EFD_NONBLOCK).map_err(FrontendError::EventFd)?;
        let b = &mut self.backend;
        b.set_vring_num(index, size)
            .map_err(request("SET_VRING_NUM"))?;
        b.set_vring_base(index, 0)
            .map_err(request("SET_VRING_BASE"))?;
        b.set_vring_addr(index, &config)
            .map_err(request("SET_VRING_ADDR"))?;
        b.set_vring_kick(index, &kick)
            .map_err(request("SET_VRING_KICK"))?;
        if let Some(call) = self.calls.get(index) {
            b.set_vring_call(index, call)
                .map_err(request("SET_VRING_CALL"))?;
        }
        if self.features & PROTOCOL_FEATURES != 0 {
            b.set_vring_enable(index, true)
                .map_err(request("SET_VRING_ENABLE"))?;
        }
        Ok(Ring { kick })
    }

    /// The config space: the MAC and the link status (up).
    fn config(&self) -> [u8; CONFIG_LEN] {
        let mut space = [0u8; CONFIG_LEN];
        space[..6].copy_from_slice(&self.mac);
        space[CONFIG_STATUS_OFFSET..].copy_from_slice(&LINK_UP.to_le_bytes());
        space
    }
}

impl Transport for VhostUserTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }

    fn read_device_features(&mut self) -> u64 {
        self.features & !PROTOCOL_FEATURES
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let acked = driver_features | (self.features & PROTOCOL_FEATURES);
        let region = self
            .mem
            .iter()
            .next()
            .map(VhostUserMemoryRegionInfo::from_guest_region);
        let result = match region {
            Some(Ok(region)) => self
                .backend
                .set_features(acked)
                .map_err(|source| FrontendError::Request {
                    request: "SET_FEATURES",
                    source,
                })
                .and_then(|()| {
                    self.backend
                        .set_mem_table(&[region])
                        .map_err(|source| FrontendError::Request {
                            request: "SET_MEM_TABLE",
                            source,
                        })
                }),
            Some(Err(source)) => Err(FrontendError::Request {
                request: "SET_MEM_TABLE",
                source,
            }),
            None => Err(FrontendError::RingAddress { addr: 0 }),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn max_queue_size(&mut self, _queue: u16) -> u32 {
        u32::from(MAX_QUEUE_SIZE)
    }

    fn notify(&mut self, queue: u16) {
        let kicked = match self.rings.get(usize::from(queue)) {
            Some(Some(ring)) => ring.kick.write(1).map_err(FrontendError::EventFd),
            _ => Ok(()),
        };
        if let Err(e) = kicked {
            self.fail(e);
            return;
        }
        if queue == TX_QUEUE {
            // `VirtIONet::send` spins until the backend used the frame: sleep on the transmit
            // queue's call first, so the backend gets the CPU at once (with one CPU, spinning
            // would leave it a scheduler tick per frame). Past the limit (a backend holding
            // its ring), the spin goes on.
            let mut events = [EpollEvent::default()];
            if matches!(self.tx_used.wait(TX_USED_WAIT_MS, &mut events), Ok(1)) {
                let _ = self.calls[usize::from(TX_QUEUE)].read();
            }
        }
    }

    fn get_status(&self) -> DeviceStatus {
        self.status
    }

    fn set_status(&mut self, status: DeviceStatus) {
        if status.is_empty() {
            for queue in 0..NUM_QUEUES as u16 {
                self.queue_unset(queue);
            }
        }
        // A failure stays visible to the driver.
        self.status = status | (self.status & DeviceStatus::FAILED);
    }

    fn set_guest_page_size(&mut self, _guest_page_size: u32) {}

    fn requires_legacy_layout(&self) -> bool {
        false
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        match self.set_up_ring(queue, size, [descriptors, driver_area, device_area]) {
            Ok(ring) => {
                if let Some(slot) = self.rings.get_mut(usize::from(queue)) {
                    *slot = Some(ring);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn queue_unset(&mut self, queue: u16) {
        if let Some(Some(_)) = self.rings.get_mut(usize::from(queue)).map(Option::take) {
            // Stops the ring; what it returns (the next available index) is of no use here.
            let _ = self.backend.get_vring_base(usize::from(queue));
        }
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.rings
            .get(usize::from(queue))
            .is_some_and(Option::is_some)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        // Reading resets a nonblocking eventfd; `WouldBlock` means it did not fire.
        if self
            .calls
            .iter()
            .fold(false, |any, c| c.read().is_ok() | any)
        {
            InterruptStatus::QUEUE_INTERRUPT
        } else {
            InterruptStatus::empty()
        }
    }

    fn read_config_generation(&self) -> u32 {
        0
    }

    fn read_config_space<T: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        read_config(&self.config(), offset)
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        _offset: usize,
        _value: T,
    ) -> virtio_drivers::Result<()> {
        // The net config space is read-only.
        Ok(())
    }
}

/// The value of type `T` at `offset` in the config space `space`, for a [`Transport`]'s
/// `read_config_space`.
pub(crate) fn read_config<T: FromBytes>(space: &[u8], offset: usize) -> virtio_drivers::Result<T> {
    let bytes = offset
        .checked_add(std::mem::size_of::<T>())
        .and_then(|end| space.get(offset..end))
        .ok_or(virtio_drivers::Error::ConfigSpaceTooSmall)?;
    T::read_from_bytes(bytes).map_err(|_| virtio_drivers::Error::InvalidParam)
}

/// A virtio-net NIC on a vhost-user-net backend, driven by `virtio-drivers` in this thread
/// (whose DMA memory it installs). See the [module documentation](self).
pub struct VhostUserNic {
    net: VirtIONet<DmaHal, VhostUserTransport, QUEUE_SIZE>,
    fault: Fault,
    /// The receive queue's call eventfd (the transport keeps the original).
    rx_call: EventFd,
    /// The backend's socket, to notice it closing.
    socket: UnixStream,
    /// Waits on both, and on a watched descriptor.
    epoll: Epoll,
}

impl std::fmt::Debug for VhostUserNic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VhostUserNic")
            .field("mac", &self.net.mac_address())
            .finish_non_exhaustive()
    }
}

impl VhostUserNic {
    /// Connects to the backend at `socket`, gives this thread the shared memory, initializes
    /// the device with the MAC `mac` and fills its receive queue.
    pub fn connect(socket: &Path, mac: [u8; 6]) -> Result<Self, FrontendError> {
        let mem = DmaMemory::install_shared(MEMORY_LEN)?;
        let transport = VhostUserTransport::connect(socket, mac, mem)?;
        let fault = transport.fault.clone();
        let rx_call = transport.calls[usize::from(crate::device::RX_QUEUE)]
            .try_clone()
            .map_err(FrontendError::EventFd)?;
        let socket = transport.hangup.try_clone().map_err(FrontendError::Poll)?;
        let net = VirtIONet::new(transport, BUFFER_LEN);
        if let Some(e) = fault.borrow_mut().take() {
            return Err(e);
        }
        let epoll = Epoll::new().map_err(FrontendError::Poll)?;
        for (fd, data) in [
            (rx_call.as_raw_fd(), WAKE_FRAMES),
            (socket.as_raw_fd(), WAKE_SOCKET),
        ] {
            epoll
                .ctl(
                    ControlOperation::Add,
                    fd,
                    EpollEvent::new(EventSet::IN, data),
                )
                .map_err(FrontendError::Poll)?;
        }
        Ok(Self {
            net: net?,
            fault,
            rx_call,
            socket,
            epoll,
        })
    }

    /// The NIC's MAC.
    pub fn mac(&self) -> [u8; 6] {
        self.net.mac_address()
    }

    /// The first failure of the transport since the last call, if any.
    fn check(&self) -> Result<(), FrontendError> {
        self.fault.borrow_mut().take().map_or(Ok(()), Err)
    }

    /// Sends one Ethernet frame, waiting until the backend took it.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), FrontendError> {
        let mut buf = self.net.new_tx_buffer(frame.len());
        buf.packet_mut().copy_from_slice(frame);
        self.net.send(buf)?;
        self.check()
    }

    /// The next frame the backend delivered, if any (never waits); its buffer goes back to
    /// the receive queue.
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, FrontendError> {
        self.check()?;
        if !self.net.can_recv() {
            return Ok(None);
        }
        let buf = self.net.receive()?;
        let frame = buf.packet().to_vec();
        self.net.recycle_rx_buffer(buf)?;
        Ok(Some(frame))
    }

    /// Makes [`wait`](Self::wait) also wake when `fd` is readable.
    pub fn watch(&self, fd: BorrowedFd<'_>) -> Result<(), FrontendError> {
        self.epoll
            .ctl(
                ControlOperation::Add,
                fd.as_raw_fd(),
                EpollEvent::new(EventSet::IN, WAKE_OTHER),
            )
            .map_err(FrontendError::Poll)
    }

    /// Waits up to `timeout` for the backend to deliver frames or hang up, or a
    /// [watched](Self::watch) descriptor to become readable; returns what happened.
    pub fn wait(&mut self, timeout: Duration) -> Result<Wake, FrontendError> {
        let mut events = [EpollEvent::default(); 3];
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let n = match self.epoll.wait(ms, &mut events) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(FrontendError::Poll(e)),
        };
        let mut wake = Wake::default();
        for event in events.iter().take(n) {
            match event.data() {
                WAKE_FRAMES => {
                    wake.frames = true;
                    // Nonblocking: resets the counter.
                    let _ = self.rx_call.read();
                }
                WAKE_SOCKET => {
                    // The backend sends nothing unasked: readable means closed.
                    let mut byte = [0u8; 1];
                    let got = rustix::net::recv(
                        &self.socket,
                        &mut byte,
                        rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT,
                    );
                    wake.hung_up = !matches!(got, Ok((n, _)) if n > 0);
                }
                _ => wake.other = true,
            }
        }
        Ok(wake)
    }
}

/// The epoll data of the receive queue's call eventfd, the socket and a watched descriptor.
const WAKE_FRAMES: u64 = 0;
const WAKE_SOCKET: u64 = 1;
const WAKE_OTHER: u64 = 2;

/// What [`VhostUserNic::wait`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wake {
    /// The backend signalled used receive buffers.
    pub frames: bool,
    /// The backend closed the session.
    pub hung_up: bool,
    /// The other descriptor is readable.
    pub other: bool,
}

/// Frames a [`bridge`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Frames read from the TAP and sent to the backend.
    pub to_backend: u64,
    /// Frames received from the backend and written to the TAP.
    pub from_backend: u64,
    /// Frames the TAP refused (interface down, no buffer space).
    pub tap_dropped: u64,
}

/// The longest frame read from the TAP (a standard MTU and more, as the receive buffers).
const TAP_FRAME_MAX: usize = BUFFER_LEN;

/// The most frames taken from either side before looking at the other.
const BATCH: usize = QUEUE_SIZE;

/// Moves frames between `nic` and the TAP `tap` (nonblocking: set here) until the backend
/// hangs up; returns the counts. `progress` is called with them every time frames moved.
pub fn bridge(
    nic: &mut VhostUserNic,
    tap: &tun_rs::SyncDevice,
    mut progress: impl FnMut(&BridgeStats),
) -> Result<BridgeStats, FrontendError> {
    tap.set_nonblocking(true).map_err(FrontendError::Tap)?;
    nic.watch(tap.as_fd())?;
    let mut stats = BridgeStats::default();
    let mut buf = vec![0u8; TAP_FRAME_MAX];
    loop {
        let before = stats;
        for _ in 0..BATCH {
            let Some(frame) = nic.recv()? else { break };
            match tap.send(&frame) {
                Ok(_) => stats.from_backend += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stats.tap_dropped += 1,
                Err(e) if e.raw_os_error().is_some_and(|c| c == 5 || c == 105) => {
                    // EIO (the TAP is down) or ENOBUFS: the frame is lost, as on a wire.
                    stats.tap_dropped += 1;
                }
                Err(e) => return Err(FrontendError::Tap(e)),
            }
        }
        for _ in 0..BATCH {
            match tap.recv(&mut buf) {
                Ok(len) => {
                    nic.send(buf.get(..len).unwrap_or_default())?;
                    stats.to_backend += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrontendError::Tap(e)),
            }
        }
        if stats != before {
            progress(&stats);
            continue;
        }
        let wake = nic.wait(Duration::from_millis(500))?;
        if wake.hung_up {
            return Ok(stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vhost_user::{PortConfig, SessionEnd, VhostUserPort};
    use bytes::Bytes;

    const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x01, 0x07];
    const SENDS: u32 = 40;

    fn frame(dst: [u8; 6], src: [u8; 6], fill: u8) -> Vec<u8> {
        let mut f = vec![fill; 600];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    /// The frame the NIC receives first, waiting up to five seconds.
    fn recv_within(nic: &mut VhostUserNic) -> Result<Option<Vec<u8>>, FrontendError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Some(f) = nic.recv()? {
                return Ok(Some(f));
            }
            nic.wait(Duration::from_millis(100))?;
        }
        Ok(None)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_cross_the_backend_both_ways_and_dropping_the_nic_ends_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.sock");
        let mut port = VhostUserPort::listen(&path, PortConfig::new(MAC)).unwrap();
        let handle = port.handle();
        let out = frame([0xff; 6], MAC, 0x5a);
        let into = frame(MAC, [0x02, 0, 0, 0, 0, 0x99], 0xa5);
        let (sent, nic_sent) = (out.clone(), std::sync::mpsc::channel());
        // The NIC's DMA memory is its thread's.
        let nic = std::thread::spawn(move || {
            let mut nic = VhostUserNic::connect(&path, MAC)?;
            assert_eq!(nic.mac(), MAC);
            // Each send sleeps on the transmit call until the backend used the frame: the
            // backend signals it, so no send waits out TX_USED_WAIT_MS.
            let start = std::time::Instant::now();
            for _ in 0..SENDS {
                nic.send(&sent)?;
            }
            let took = start.elapsed();
            assert!(
                took < Duration::from_millis(TX_USED_WAIT_MS as u64) * SENDS / 4,
                "{SENDS} sends took {took:?}"
            );
            let _ = nic_sent.1.recv();
            recv_within(&mut nic)
        });
        for _ in 0..SENDS {
            let got = tokio::time::timeout(Duration::from_secs(5), port.recv())
                .await
                .expect("the backend got no frame")
                .expect("session over");
            assert_eq!(&got[..], &out[..]);
        }
        assert!(handle.send(Bytes::from(into.clone())));
        nic_sent.0.send(()).unwrap();
        let received = tokio::task::spawn_blocking(move || nic.join().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(received.as_deref(), Some(&into[..]));
        let ended = tokio::time::timeout(Duration::from_secs(5), port.ended())
            .await
            .expect("the session did not end");
        assert!(matches!(ended, SessionEnd::Disconnected), "{ended:?}");
    }

    #[test]
    fn config_reads_past_the_space_are_refused_not_panics() {
        let space = [1, 2, 3, 4, 5, 6, 1, 0];
        assert_eq!(
            read_config::<[u8; 6]>(&space, 0).unwrap(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(read_config::<u16>(&space, 6).unwrap(), 1);
        for offset in [7, 8, usize::MAX] {
            assert!(matches!(
                read_config::<u16>(&space, offset),
                Err(virtio_drivers::Error::ConfigSpaceTooSmall)
            ));
        }
    }

    #[test]
    fn a_missing_socket_is_named_in_the_error() {
        let e = VhostUserNic::connect(Path::new("/nonexistent-dir/vm.sock"), MAC).unwrap_err();
        assert!(matches!(e, FrontendError::Connect { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent-dir/vm.sock"), "{e}");
    }
}
