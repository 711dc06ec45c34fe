//! The vhost-user-net backend: one VM's NIC, served on a unix socket that the VMM connects to.
//!
//! [`VhostUserPort::listen`] binds the socket and returns at once; a thread accepts the VMM's
//! connection and runs `vhost-user-backend`'s request loop (memory table, vring setup, kicks),
//! whose worker thread runs the [`NetDevice`] on the rings. The host side is async-friendly:
//! - frames the guest transmitted arrive through [`VhostUserPort::recv`] (a bounded tokio
//!   channel); `None` when the session ends, and [`VhostUserPort::ended`] then says why;
//! - **back-pressure, not loss**: while that channel is full (the host stopped reading, e.g.
//!   the driver holds the guest back) the device stops taking descriptors from the VM's
//!   transmit ring. They stay in the ring, the VM's own queue fills and its kernel backs off
//!   (TCP slows down); once the host has read the channel down to half,
//!   [`VhostUserPort::recv`] wakes the device and it takes the ring again. Only the frames of
//!   the one chain being taken when the channel filled (a TSO send gives up to ~45) wait in
//!   the device, bounded ([`TX_OVERFLOW`]); nothing is dropped;
//! - [`PortHandle::send`] queues a frame for the guest's receive queue and never blocks: a VM
//!   that stops servicing its receive ring gets [`PortConfig::rx_pending`] frames kept for it,
//!   then the rest dropped and counted (`rx_no_buffer`), and no other VM notices;
//! - [`PortHandle::set_link`] sets the link status in config space;
//! - [`PortHandle::close`] ends the session (the VMM sees the socket close).
//!
//! A guest that breaks the virtio contract (a descriptor outside its memory, a corrupt ring)
//! ends its own session with [`SessionEnd::Device`]; nothing panics and no other VM notices.
//!
//! # The VMM's side
//! The VMM's connection goes through a relay (private module `frontend_fix`) that lets
//! QEMU 7.2 (Debian 12) talk to `vhost` 0.18: QEMU sends `SET_VRING_ENABLE` before
//! `SET_FEATURES` and leaves `VHOST_USER_F_PROTOCOL_FEATURES` out of `SET_FEATURES`, both of
//! which `vhost` refuses, ending the session at boot.
//!
//! QEMU's `virtio-net` builds its config space itself (it masks
//! `VHOST_USER_PROTOCOL_F_CONFIG` for net devices), so give it the station's MAC
//! (`-device virtio-net-pci,mac=...`); the carrier the guest sees is QEMU's own link state.
//! The device's config space (MAC, `VIRTIO_NET_S_LINK_UP` following the association) serves
//! the in-process transport and any frontend that reads it; `vhost` 0.18 has no way to send
//! the config-change message.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost::vhost_user::Listener;
use vhost_user_backend::{
    ShutdownHandle, VhostUserBackend, VhostUserDaemon, VringRwLock, VringT as _,
};
use virtio_queue::QueueT as _;
use vm_memory::{
    GuestAddressSpace as _, GuestMemoryAtomic, GuestMemoryBackend as _, GuestMemoryMmap,
};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

use crate::device::{
    DeviceError, DeviceStats, NetDevice, MAX_QUEUE_SIZE, NUM_QUEUES, RX_QUEUE, TX_QUEUE,
};

/// The epoll id of the host's wake-up event (ids up to `NUM_QUEUES` are the library's).
const WAKE_EVENT: u16 = NUM_QUEUES as u16 + 1;

/// The most frames of chains already taken that wait in the device for room in the host's
/// channel (the segments of one TSO send; beyond it, dropped and counted as `tx_dropped`).
pub const TX_OVERFLOW: usize = 128;

/// How often the accepting thread checks whether the port was closed.
const ACCEPT_POLL: Duration = Duration::from_millis(200);

type Memory = GuestMemoryAtomic<GuestMemoryMmap>;
type Vring = VringRwLock<Memory>;

/// Why a vhost-user port could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VhostUserError {
    /// The socket could not be bound.
    #[error("cannot listen on the vhost-user socket {path}: {source}")]
    Listen {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: vhost::vhost_user::Error,
    },
    /// The backend's threads or events could not be set up.
    #[error("cannot start the vhost-user backend: {0}")]
    Start(String),
}

/// How a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    /// The VMM disconnected (the VM stopped) or the host closed the port.
    #[error("the VMM disconnected")]
    Disconnected,
    /// The host closed the port before a VMM connected.
    #[error("closed before a VMM connected")]
    NeverConnected,
    /// The guest broke the virtio contract.
    #[error("the guest broke the virtio contract: {0}")]
    Device(#[from] DeviceError),
    /// The vhost-user protocol failed (a malformed message from the VMM).
    #[error("vhost-user protocol error: {0}")]
    Protocol(String),
}

/// Settings of one port.
#[derive(Debug, Clone, Copy)]
pub struct PortConfig {
    /// The station's MAC, reported in config space.
    pub mac: [u8; 6],
    /// Frames for the guest kept while it has no free receive buffers.
    pub rx_pending: usize,
    /// Frames from the guest queued for the host.
    pub tx_queue: usize,
}

impl PortConfig {
    /// Defaults for `mac`: 1024 frames kept for the guest (a TCP stream to a VM that is slow to
    /// refill its receive ring outruns 256, and every drop halves the stream's window),
    /// 256 frames from it.
    pub fn new(mac: [u8; 6]) -> Self {
        Self {
            mac,
            rx_pending: 1024,
            tx_queue: 256,
        }
    }
}

/// State shared by the host's handle and the backend's threads.
struct Inner {
    device: Mutex<NetDevice>,
    mem: Mutex<Option<Memory>>,
    from_guest: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// Frames of chains already taken that did not fit the channel (sent first on resume).
    overflow: Mutex<VecDeque<Bytes>>,
    /// Set by the device when it left chains in the transmit ring for want of room; the
    /// host's [`VhostUserPort::recv`] clears it and wakes the device once it made room.
    tx_held: AtomicBool,
    /// How many times the device held the transmit ring (for status and tests).
    tx_holds: AtomicU64,
    /// Set by the host with a wake-up: run the transmit ring again.
    tx_resume: AtomicBool,
    wake: EventNotifier,
    wake_rx: EventConsumer,
    exit: Mutex<Vec<EventNotifier>>,
    shutdown: Mutex<Option<ShutdownHandle>>,
    closed: AtomicBool,
    error: Mutex<Option<DeviceError>>,
    config_read: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// Records a fatal error (the first wins) and ends the session.
    fn fail(&self, e: DeviceError) {
        tracing::warn!(error = %e, "vhost-user session ended by the guest");
        lock(&self.error).get_or_insert(e);
        self.close();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(h) = lock(&self.shutdown).as_ref() {
            h.shutdown();
        }
    }

    fn memory(&self) -> Option<Memory> {
        lock(&self.mem).clone()
    }

    /// Writes pending frames into the receive queue.
    fn run_rx(&self, vrings: &[Vring]) -> Result<(), DeviceError> {
        let (Some(vring), Some(mem)) = (vrings.get(usize::from(RX_QUEUE)), self.memory()) else {
            return Ok(());
        };
        let mut device = lock(&self.device);
        if device.pending() == 0 {
            return Ok(());
        }
        let mut state = vring.get_mut();
        if !state.is_enabled() || !state.get_queue().ready() {
            return Ok(());
        }
        let guard = mem.memory();
        let notify = device.process_rx(state.get_queue_mut(), &*guard)?;
        if notify {
            if let Err(e) = state.signal_used_queue() {
                tracing::debug!(error = %e, "cannot signal the receive queue");
            }
        }
        Ok(())
    }

    /// Takes the guest's transmitted frames while the host's channel has room (see the
    /// [module documentation](self)).
    fn run_tx(&self, vrings: &[Vring]) -> Result<(), DeviceError> {
        let (Some(vring), Some(mem)) = (vrings.get(usize::from(TX_QUEUE)), self.memory()) else {
            return Ok(());
        };
        let sender = lock(&self.from_guest).clone();
        let overflow = RefCell::new(lock(&self.overflow));
        let dropped = Cell::new(0u64);
        let mut device = lock(&self.device);
        let mut state = vring.get_mut();
        if !state.is_enabled() || !state.get_queue().ready() {
            tracing::debug!(
                enabled = state.is_enabled(),
                ready = state.get_queue().ready(),
                "transmit kick on a queue not ready"
            );
            return Ok(());
        }
        let guard = mem.memory();
        let result = device.process_tx_while(
            state.get_queue_mut(),
            &*guard,
            &mut || self.room(sender.as_ref(), &mut overflow.borrow_mut(), &dropped),
            &mut |frame| match sender.as_ref().map(|s| s.try_send(frame)) {
                Some(Ok(())) => {}
                Some(Err(mpsc::error::TrySendError::Full(frame))) => {
                    let mut o = overflow.borrow_mut();
                    if o.len() < TX_OVERFLOW {
                        o.push_back(frame);
                    } else {
                        dropped.set(dropped.get() + 1);
                    }
                }
                Some(Err(mpsc::error::TrySendError::Closed(_))) | None => {
                    dropped.set(dropped.get() + 1);
                }
            },
        );
        device.count_tx_dropped(dropped.get());
        if result? {
            if let Err(e) = state.signal_used_queue() {
                tracing::debug!(error = %e, "cannot signal the transmit queue");
            }
        }
        Ok(())
    }

    /// Whether the device may take another chain from the transmit ring: the frames waiting
    /// in `overflow` went into the host's channel and it has room. If not, the ring is marked
    /// held ([`hold_tx`](Self::hold_tx)). A host that is gone takes everything (dropped).
    fn room(
        &self,
        sender: Option<&mpsc::Sender<Bytes>>,
        overflow: &mut VecDeque<Bytes>,
        dropped: &Cell<u64>,
    ) -> bool {
        let Some(sender) = sender.filter(|s| !s.is_closed()) else {
            dropped.set(dropped.get() + overflow.len() as u64);
            overflow.clear();
            return true;
        };
        loop {
            while let Some(frame) = overflow.pop_front() {
                match sender.try_send(frame) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(frame)) => {
                        overflow.push_front(frame);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        dropped.set(dropped.get() + 1);
                    }
                }
            }
            if overflow.is_empty() && sender.capacity() > 0 {
                return true;
            }
            if self.hold_tx(sender) {
                return false;
            }
        }
    }

    /// The host's channel is full: marks the transmit ring held and returns true, unless the
    /// host made room meanwhile (then the mark is taken back and the caller looks again).
    /// Marking before looking again means that either this sees the room or the host's
    /// [`VhostUserPort::recv`] sees the mark and wakes the device.
    fn hold_tx(&self, sender: &mpsc::Sender<Bytes>) -> bool {
        let already = self.tx_held.swap(true, Ordering::SeqCst);
        if sender.capacity() > 0 {
            self.tx_held.store(false, Ordering::SeqCst);
            return false;
        }
        if !already {
            self.tx_holds.fetch_add(1, Ordering::Relaxed);
        }
        true
    }
}

/// The `vhost-user-backend` face of a port.
struct NetBackend {
    inner: Arc<Inner>,
}

impl VhostUserBackend for NetBackend {
    type Bitmap = ();
    type Vring = Vring;

    fn num_queues(&self) -> usize {
        NUM_QUEUES
    }

    fn max_queue_size(&self) -> usize {
        usize::from(MAX_QUEUE_SIZE)
    }

    fn features(&self) -> u64 {
        // QEMU's vhost-user-net needs VHOST_USER_F_PROTOCOL_FEATURES (it enables the rings
        // with SET_VRING_ENABLE); `frontend_fix` makes QEMU 7.2's use of it acceptable.
        crate::device::DEVICE_FEATURES | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn acked_features(&self, features: u64) {
        tracing::debug!(
            features = format_args!("{features:#x}"),
            "vhost-user features acked"
        );
        lock(&self.inner.device).set_acked_features(features);
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        // No CONFIG: QEMU's virtio-net never reads a vhost-user backend's config space (it
        // warns that the backend offers it), see the module documentation.
        VhostUserProtocolFeatures::REPLY_ACK
    }

    fn reset_device(&self) {
        lock(&self.inner.device).drop_pending();
    }

    fn set_event_idx(&self, _enabled: bool) {
        // The library sets it on the queues; the device follows the queues.
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        self.inner.config_read.store(true, Ordering::Relaxed);
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let size = usize::try_from(size).unwrap_or(0);
        lock(&self.inner.device).config(offset, size)
    }

    fn update_memory(&self, mem: Memory) -> io::Result<()> {
        tracing::debug!(
            regions = mem.memory().num_regions(),
            "vhost-user memory table"
        );
        *lock(&self.inner.mem) = Some(mem);
        Ok(())
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        let (consumer, notifier) = new_event_consumer_and_notifier(EventFlag::NONBLOCK).ok()?;
        let mine = notifier.try_clone().ok()?;
        lock(&self.inner.exit).push(mine);
        Some((consumer, notifier))
    }

    fn handle_event(
        &self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[Vring],
        _thread_id: usize,
    ) -> io::Result<()> {
        tracing::trace!(device_event, "vhost-user event");
        let result = match device_event {
            RX_QUEUE => self.inner.run_rx(vrings),
            TX_QUEUE => self.inner.run_tx(vrings),
            WAKE_EVENT => {
                // Nonblocking: an empty counter is no error.
                let _ = self.inner.wake_rx.consume();
                // Frames for the guest, and the transmit ring if the host made room for it.
                self.inner.run_rx(vrings).and_then(|()| {
                    if self.inner.tx_resume.swap(false, Ordering::SeqCst) {
                        self.inner.run_tx(vrings)
                    } else {
                        Ok(())
                    }
                })
            }
            _ => Ok(()),
        };
        result.map_err(|e| {
            let text = e.to_string();
            self.inner.fail(e);
            io::Error::other(text)
        })
    }
}

/// The host's handle on a port: send frames to the guest, set the link, close.
#[derive(Clone)]
pub struct PortHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PortHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortHandle")
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PortHandle {
    /// Queues `frame` for the guest's receive queue; returns false if it was dropped (too
    /// many frames waiting for the guest's buffers, or too long).
    pub fn send(&self, frame: Bytes) -> bool {
        let kept = lock(&self.inner.device).push_rx(frame);
        if kept {
            let _ = self.inner.wake.notify();
        }
        kept
    }

    /// Queues `frames` for the guest's receive queue, in order, with one wake-up of the
    /// device (which may join runs of TCP segments among them, see
    /// [`GUEST_OFFLOADS`](crate::device::GUEST_OFFLOADS)); never blocks. Returns how many were
    /// dropped (as [`send`](Self::send) drops them).
    pub fn send_batch(&self, frames: &[Bytes]) -> usize {
        let mut dropped = 0;
        {
            let mut device = lock(&self.inner.device);
            for f in frames {
                if !device.push_rx(f.clone()) {
                    dropped += 1;
                }
            }
        }
        if dropped < frames.len() {
            let _ = self.inner.wake.notify();
        }
        dropped
    }

    /// Sets the link status reported in config space.
    pub fn set_link(&self, up: bool) {
        lock(&self.inner.device).set_link(up);
    }

    /// Whether the config space reports the link up.
    pub fn link_up(&self) -> bool {
        lock(&self.inner.device).link_up()
    }

    /// Whether the VMM read the config space (it negotiated `VHOST_USER_PROTOCOL_F_CONFIG`).
    pub fn config_read(&self) -> bool {
        self.inner.config_read.load(Ordering::Relaxed)
    }

    /// The device's counters.
    pub fn stats(&self) -> DeviceStats {
        let mut stats = lock(&self.inner.device).stats();
        stats.tx_holds = self.inner.tx_holds.load(Ordering::Relaxed);
        stats
    }

    /// Ends the session (or stops waiting for the VMM).
    pub fn close(&self) {
        self.inner.close();
    }
}

/// One VM's vhost-user-net port. See the [module documentation](self).
#[derive(Debug)]
pub struct VhostUserPort {
    /// Frames the guest transmitted, in order; closed when the session ends.
    from_guest: mpsc::Receiver<Bytes>,
    handle: PortHandle,
    ended: Option<oneshot::Receiver<SessionEnd>>,
    path: PathBuf,
}

impl VhostUserPort {
    /// Binds `path` (replacing a stale socket file) and serves the first VMM that connects.
    pub fn listen(path: &Path, config: PortConfig) -> Result<Self, VhostUserError> {
        let start =
            |what: &str, e: &dyn std::fmt::Display| VhostUserError::Start(format!("{what}: {e}"));
        let listener = Listener::new(path, true).map_err(|source| VhostUserError::Listen {
            path: path.to_owned(),
            source,
        })?;
        let (wake_rx, wake) = new_event_consumer_and_notifier(EventFlag::NONBLOCK)
            .map_err(|e| start("eventfd", &e))?;
        let (tx, rx) = mpsc::channel(config.tx_queue.max(1));
        let inner = Arc::new(Inner {
            device: Mutex::new(NetDevice::new(config.mac, config.rx_pending)),
            mem: Mutex::new(None),
            from_guest: Mutex::new(Some(tx)),
            overflow: Mutex::new(VecDeque::new()),
            tx_held: AtomicBool::new(false),
            tx_holds: AtomicU64::new(0),
            tx_resume: AtomicBool::new(false),
            wake,
            wake_rx,
            exit: Mutex::new(Vec::new()),
            shutdown: Mutex::new(None),
            closed: AtomicBool::new(false),
            error: Mutex::new(None),
            config_read: AtomicBool::new(false),
        });
        let backend = Arc::new(NetBackend {
            inner: inner.clone(),
        });
        let name = format!("vhost-user {}", path.display());
        let mut daemon = VhostUserDaemon::new(
            name.clone(),
            backend,
            GuestMemoryAtomic::new(GuestMemoryMmap::new()),
        )
        .map_err(|e| start("daemon", &e))?;
        let handlers = daemon.get_epoll_handlers();
        let handler = handlers
            .first()
            .ok_or_else(|| start("daemon", &"no worker thread"))?;
        handler
            .register_listener(
                inner.wake_rx.as_raw_fd(),
                EventSet::IN,
                u64::from(WAKE_EVENT),
            )
            .map_err(|e| start("wake event", &e))?;
        let (end_tx, end_rx) = oneshot::channel();
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let end = run_session(&mut daemon, listener, &thread_inner);
                for exit in lock(&thread_inner.exit).iter() {
                    let _ = exit.notify();
                }
                // Dropping the sender closes `from_guest`: the host sees the end.
                lock(&thread_inner.from_guest).take();
                let _ = end_tx.send(end);
            })
            .map_err(|e| start("thread", &e))?;
        Ok(Self {
            from_guest: rx,
            handle: PortHandle { inner },
            ended: Some(end_rx),
            path: path.to_owned(),
        })
    }

    /// The next frame the guest transmitted, in order; `None` once the session ended
    /// ([`ended`](Self::ended) says why). Cancel-safe. Once the channel is down to half full
    /// and the device held the transmit ring, wakes the device to take it again.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let frame = self.from_guest.recv().await;
        let inner = &self.handle.inner;
        if inner.tx_held.load(Ordering::SeqCst)
            && self.from_guest.len() <= self.from_guest.max_capacity() / 2
            && inner.tx_held.swap(false, Ordering::SeqCst)
        {
            inner.tx_resume.store(true, Ordering::SeqCst);
            let _ = inner.wake.notify();
        }
        frame
    }

    /// Whether frames the guest transmitted are waiting, so that [`recv`](Self::recv) returns
    /// at once.
    pub fn has_pending(&self) -> bool {
        !self.from_guest.is_empty()
    }

    /// The host's handle (clone it for other tasks).
    pub fn handle(&self) -> PortHandle {
        self.handle.clone()
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the session ended and says how (once; later calls say `Disconnected`).
    pub async fn ended(&mut self) -> SessionEnd {
        match self.ended.take() {
            Some(rx) => rx.await.unwrap_or(SessionEnd::Disconnected),
            None => SessionEnd::Disconnected,
        }
    }
}

impl Drop for VhostUserPort {
    fn drop(&mut self) {
        self.handle.close();
    }
}

/// Accepts the VMM (checking every [`ACCEPT_POLL`] whether the port was closed), serves it
/// until it goes, and says how the session ended.
fn run_session(
    daemon: &mut VhostUserDaemon<Arc<NetBackend>>,
    listener: Listener,
    inner: &Inner,
) -> SessionEnd {
    let accept = || -> io::Result<bool> {
        let epoll = Epoll::new()?;
        epoll.ctl(
            ControlOperation::Add,
            listener.as_raw_fd(),
            EpollEvent::new(EventSet::IN, 0),
        )?;
        let mut events = [EpollEvent::default()];
        loop {
            if inner.closed.load(Ordering::SeqCst) {
                return Ok(false);
            }
            let timeout = i32::try_from(ACCEPT_POLL.as_millis()).unwrap_or(i32::MAX);
            match epoll.wait(timeout, &mut events) {
                Ok(0) => {}
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    };
    match accept() {
        Ok(true) => {}
        Ok(false) => return SessionEnd::NeverConnected,
        Err(e) => return SessionEnd::Protocol(format!("waiting for the VMM: {e}")),
    }
    let vmm = match listener.accept() {
        Ok(Some(vmm)) => vmm,
        Ok(None) => return SessionEnd::NeverConnected,
        Err(e) => return SessionEnd::Protocol(format!("accepting the VMM: {e}")),
    };
    // The socket path goes: one VMM per session.
    drop(listener);
    let backend = match connect_backend(daemon) {
        Ok(stream) => stream,
        Err(e) => return SessionEnd::Protocol(e),
    };
    let relay = match std::thread::Builder::new()
        .name("vhost-user relay".into())
        .spawn(move || crate::frontend_fix::relay(vmm, backend))
    {
        Ok(relay) => relay,
        Err(e) => return SessionEnd::Protocol(format!("relay thread: {e}")),
    };
    *lock(&inner.shutdown) = daemon.shutdown_handle();
    if inner.closed.load(Ordering::SeqCst) {
        inner.close();
    }
    tracing::info!("vhost-user VMM connected");
    let result = daemon.wait();
    if let Some(e) = lock(&inner.error).take() {
        return SessionEnd::Device(e);
    }
    // The backend's end is closed: the relay shuts the VMM's down and returns.
    match relay.join() {
        Ok(Err(e)) if !inner.closed.load(Ordering::SeqCst) => {
            return SessionEnd::Protocol(format!("from the VMM: {e}"));
        }
        Err(_) => return SessionEnd::Protocol("the relay thread panicked".into()),
        _ => {}
    }
    match result {
        Ok(()) => SessionEnd::Disconnected,
        Err(_) if inner.closed.load(Ordering::SeqCst) => SessionEnd::Disconnected,
        Err(vhost_user_backend::Error::HandleRequest(
            vhost::vhost_user::Error::Disconnected | vhost::vhost_user::Error::PartialMessage,
        )) => SessionEnd::Disconnected,
        Err(e) => SessionEnd::Protocol(e.to_string()),
    }
}

/// Starts the backend's request loop on one end of a connection made through a listener in a
/// private directory (mode 0700, removed at once), and returns the other end.
fn connect_backend(daemon: &mut VhostUserDaemon<Arc<NetBackend>>) -> Result<UnixStream, String> {
    use std::os::unix::fs::DirBuilderExt as _;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vwifi-vhost-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("private directory {}: {e}", dir.display()))?;
    let path = dir.join("backend.sock");
    let result = (|| {
        let listener = UnixListener::bind(&path).map_err(|e| format!("backend socket: {e}"))?;
        let stream = UnixStream::connect(&path).map_err(|e| format!("backend socket: {e}"))?;
        let mut listener = Listener::from(listener);
        daemon
            .start(&mut listener)
            .map_err(|e| format!("backend: {e}"))?;
        Ok(stream)
    })();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[tokio::test]
    async fn closing_before_a_vmm_connects_ends_the_session_and_removes_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.sock");
        let mut port = VhostUserPort::listen(&path, PortConfig::new(MAC)).unwrap();
        assert!(path.exists());
        assert_eq!(port.path(), path);
        let h = port.handle();
        // Frames for the guest wait (bounded) until it has buffers.
        assert!(h.send(Bytes::from_static(&[0u8; 60])));
        assert!(!h.send(Bytes::from(vec![0u8; 70_000])), "too long");
        h.close();
        assert_eq!(port.recv().await, None);
        assert!(matches!(port.ended().await, SessionEnd::NeverConnected));
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_vmm_speaking_nonsense_ends_its_session_with_a_protocol_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.sock");
        let mut port = VhostUserPort::listen(&path, PortConfig::new(MAC)).unwrap();
        let mut vmm = UnixStream::connect(&path).unwrap();
        // A header announcing a payload far beyond any vhost-user message.
        vmm.write_all(&[1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10])
            .unwrap();
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            while port.recv().await.is_some() {}
            port.ended().await
        })
        .await
        .expect("the session ends");
        match end {
            SessionEnd::Protocol(why) => assert!(why.contains("at most"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(!path.exists(), "one session per socket");
    }

    #[tokio::test]
    async fn a_vmm_that_hangs_up_ends_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.sock");
        let mut port = VhostUserPort::listen(&path, PortConfig::new(MAC)).unwrap();
        drop(UnixStream::connect(&path).unwrap());
        let end = tokio::time::timeout(Duration::from_secs(10), port.ended())
            .await
            .expect("the session ends");
        assert!(matches!(end, SessionEnd::Disconnected), "{end:?}");
    }

    /// A port whose transmit ring is a mock queue in `m` with `chains` frames (frame `i` filled
    /// with byte `i`), the host's channel holding `room` frames; the rings as the worker sees
    /// them.
    fn port_with_tx_ring(
        m: &GuestMemoryMmap,
        dir: &Path,
        room: usize,
        chains: u8,
    ) -> (VhostUserPort, NetBackend, Vec<Vring>) {
        use crate::device::{DEVICE_FEATURES, NET_HDR_LEN};
        use virtio_queue::desc::{split::Descriptor, RawDescriptor};
        use virtio_queue::mock::MockSplitQueue;
        use vm_memory::{Bytes as _, GuestAddress};
        let config = PortConfig {
            tx_queue: room,
            ..PortConfig::new(MAC)
        };
        let port = VhostUserPort::listen(&dir.join("vm.sock"), config).unwrap();
        let inner = port.handle.inner.clone();
        lock(&inner.device).set_acked_features(DEVICE_FEATURES);
        *lock(&inner.mem) = Some(GuestMemoryAtomic::new(m.clone()));
        let vq = MockSplitQueue::create(m, GuestAddress(0x8000), 16);
        let mut descs = Vec::new();
        for i in 0..chains {
            let addr = 0x4_0000 + u64::from(i) * 0x1000;
            let mut chain = vec![0u8; NET_HDR_LEN];
            let mut frame = vec![i; 60];
            frame[12..14].copy_from_slice(&[0x08, 0x00]);
            chain.extend_from_slice(&frame);
            m.write_slice(&chain, GuestAddress(addr)).unwrap();
            descs.push(RawDescriptor::from(Descriptor::new(
                addr,
                chain.len() as u32,
                0,
                0,
            )));
        }
        vq.add_desc_chains(&descs, 0).unwrap();
        let rx = Vring::new(GuestMemoryAtomic::new(m.clone()), MAX_QUEUE_SIZE).unwrap();
        let tx = Vring::new(GuestMemoryAtomic::new(m.clone()), MAX_QUEUE_SIZE).unwrap();
        tx.set_queue_size(16);
        tx.set_queue_info(vq.desc_table_addr().0, vq.avail_addr().0, vq.used_addr().0)
            .unwrap();
        tx.set_queue_ready(true);
        tx.set_enabled(true);
        (port, NetBackend { inner }, vec![rx, tx])
    }

    #[tokio::test]
    async fn a_full_host_channel_holds_the_transmit_ring_and_reading_resumes_it_in_order() {
        let m = GuestMemoryMmap::from_ranges(&[(vm_memory::GuestAddress(0), 0x10_0000)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // 8 chains: in this mock-driven setup a 9th chain reads back as the 2nd's content,
        // with or without a hold (a setup artifact, not the device: the in-process driver's
        // test runs 40 frames through a 16-slot ring in order).
        let (mut port, backend, vrings) = port_with_tx_ring(&m, dir.path(), 4, 8);
        let inner = backend.inner.clone();
        let used = |vrings: &[Vring]| vrings[1].queue_used_idx().unwrap();
        // The kick: the device takes 4 chains (the host's room), leaves 6 in the ring.
        backend
            .handle_event(TX_QUEUE, EventSet::IN, &vrings, 0)
            .unwrap();
        assert_eq!(used(&vrings), 4);
        assert!(inner.tx_held.load(Ordering::SeqCst));
        // Another kick while held takes nothing.
        backend
            .handle_event(TX_QUEUE, EventSet::IN, &vrings, 0)
            .unwrap();
        assert_eq!(used(&vrings), 4);
        let mut got = Vec::new();
        while got.len() < 8 {
            let frame = port.recv().await.unwrap();
            got.push(frame[20]);
            // Once the host has read its channel down to half, the hold is off and the device
            // is woken to take the ring again: its wake event, which the port's own worker
            // thread may take first (with its own, unconfigured rings), so the test runs this
            // ring's transmit side by hand.
            if !inner.tx_held.load(Ordering::SeqCst) && used(&vrings) < 8 {
                backend
                    .handle_event(TX_QUEUE, EventSet::IN, &vrings, 0)
                    .unwrap();
            }
            assert!(port.from_guest.len() <= 4, "bounded by the channel");
        }
        assert_eq!(got, (0..8).collect::<Vec<u8>>(), "all, in order");
        assert_eq!(used(&vrings), 8);
        let stats = port.handle().stats();
        assert_eq!(
            (stats.tx_frames, stats.tx_dropped),
            (8, 0),
            "nothing dropped"
        );
        assert!(stats.tx_holds >= 1, "{stats:?}");
    }

    #[tokio::test]
    async fn frames_from_a_chain_already_taken_wait_in_the_device_not_dropped() {
        let m = GuestMemoryMmap::from_ranges(&[(vm_memory::GuestAddress(0), 0x10_0000)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // A channel of one frame; 3 chains.
        let (mut port, backend, vrings) = port_with_tx_ring(&m, dir.path(), 1, 3);
        let inner = backend.inner.clone();
        // A frame already waits in the device (as the rest of a TSO send would).
        lock(&inner.overflow).push_back(Bytes::from(vec![0xee; 60]));
        backend
            .handle_event(TX_QUEUE, EventSet::IN, &vrings, 0)
            .unwrap();
        assert_eq!(
            vrings[1].queue_used_idx().unwrap(),
            0,
            "the waiting frame first"
        );
        let mut got = Vec::new();
        while got.len() < 4 {
            got.push(port.recv().await.unwrap()[20]);
            // As above: the hold off, this ring's transmit side run by hand.
            if !inner.tx_held.load(Ordering::SeqCst) && vrings[1].queue_used_idx().unwrap() < 3 {
                backend
                    .handle_event(TX_QUEUE, EventSet::IN, &vrings, 0)
                    .unwrap();
            }
        }
        assert_eq!(got, [0xee, 0, 1, 2]);
        assert_eq!(port.handle().stats().tx_dropped, 0);
    }

    #[test]
    fn a_socket_path_that_cannot_be_bound_is_named_in_the_error() {
        let e = VhostUserPort::listen(Path::new("/nonexistent-dir/vm.sock"), PortConfig::new(MAC))
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/vm.sock"), "{e}");
    }
}
