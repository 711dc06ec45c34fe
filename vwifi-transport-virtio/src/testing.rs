//! A driver and the device in one process: the `virtio-drivers` Hal of [`crate::dma`] (its
//! DMA memory a `vm-memory` region), and a [`Transport`] whose registers are the [`NetDevice`]
//! itself.
//!
//! The driver's queues and buffers live in one [`GuestMemoryMmap`] (per thread: install it
//! with [`InProcessMemory::install`]); the device sees them at the same guest addresses as it
//! would see a VM's memory. Notifying a queue runs the device's handler for it at once; frames
//! for the driver are pushed through the [`InProcessDevice`] handle. A [`DeviceError`] ends the
//! session: the device stops and reports `DEVICE_NEEDS_RESET`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::PhysAddr;
use virtio_queue::{Queue, QueueT as _};
use vm_memory::GuestMemoryMmap;
use zerocopy::{FromBytes, Immutable, IntoBytes};

pub use crate::dma::{DmaHal as InProcessHal, DmaMemory as InProcessMemory, REGION_BASE};

use crate::device::{
    DeviceError, DeviceStats, NetDevice, CONFIG_LEN, NUM_QUEUES, RX_QUEUE, TX_QUEUE,
};

/// What the device and its transport share.
struct Shared {
    device: NetDevice,
    mem: GuestMemoryMmap,
    queues: [Option<Queue>; NUM_QUEUES],
    status: DeviceStatus,
    driver_features: u64,
    isr: InterruptStatus,
    generation: u32,
    from_guest: VecDeque<Bytes>,
    /// The most frames the host keeps from the guest before it stops taking the transmit
    /// ring (unbounded if `None`), as a full host channel would.
    tx_room: Option<usize>,
    error: Option<String>,
    interrupts: u64,
}

impl Shared {
    fn event_idx(&self) -> bool {
        self.driver_features & (1 << 29) != 0
    }

    fn fail(&mut self, e: &DeviceError) {
        self.error = Some(e.to_string());
        self.status |= DeviceStatus::DEVICE_NEEDS_RESET;
        self.queues = [None, None];
        self.isr |= InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT;
    }

    fn run(&mut self, queue: u16) {
        if self.error.is_some() {
            return;
        }
        let Self {
            device,
            mem,
            queues,
            from_guest,
            tx_room,
            ..
        } = self;
        let result = match (queue, queues.get_mut(usize::from(queue))) {
            (TX_QUEUE, Some(Some(q))) => {
                let limit = tx_room.unwrap_or(usize::MAX);
                let from_guest = RefCell::new(from_guest);
                device.process_tx_while(
                    q,
                    mem,
                    &mut || from_guest.borrow().len() < limit,
                    &mut |frame| from_guest.borrow_mut().push_back(frame),
                )
            }
            (RX_QUEUE, Some(Some(q))) => device.process_rx(q, mem),
            _ => Ok(false),
        };
        match result {
            Ok(true) => {
                self.isr |= InterruptStatus::QUEUE_INTERRUPT;
                self.interrupts += 1;
            }
            Ok(false) => {}
            Err(e) => self.fail(&e),
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("device", &self.device)
            .field("status", &self.status)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The host's side of an in-process device: push frames to the driver, take what it sent,
/// change the link.
#[derive(Debug, Clone)]
pub struct InProcessDevice {
    shared: Arc<Mutex<Shared>>,
}

/// The driver's side: a [`Transport`] whose registers are the device.
#[derive(Debug)]
pub struct InProcessTransport {
    shared: Arc<Mutex<Shared>>,
}

/// A device with `mac` on `mem` (from [`InProcessMemory::install`]) and its transport.
pub fn in_process(mac: [u8; 6], mem: GuestMemoryMmap) -> (InProcessDevice, InProcessTransport) {
    let shared = Arc::new(Mutex::new(Shared {
        device: NetDevice::new(mac, 256),
        mem,
        queues: [None, None],
        status: DeviceStatus::empty(),
        driver_features: 0,
        isr: InterruptStatus::empty(),
        generation: 0,
        from_guest: VecDeque::new(),
        tx_room: None,
        error: None,
        interrupts: 0,
    }));
    (
        InProcessDevice {
            shared: shared.clone(),
        },
        InProcessTransport { shared },
    )
}

impl InProcessDevice {
    /// Queues a frame for the driver and writes it into its receive buffers if it has some.
    pub fn push(&self, frame: &[u8]) -> bool {
        let mut s = lock(&self.shared);
        let kept = s.device.push_rx(Bytes::copy_from_slice(frame));
        s.run(RX_QUEUE);
        kept
    }

    /// The frames the driver transmitted since the last call; the device then takes what
    /// it left in the transmit ring for want of room (as a host that made room wakes it).
    pub fn take_sent(&self) -> Vec<Bytes> {
        let mut s = lock(&self.shared);
        let sent = s.from_guest.drain(..).collect();
        if s.tx_room.is_some() {
            s.run(TX_QUEUE);
        }
        sent
    }

    /// The host keeps at most `frames` from the guest until [`take_sent`](Self::take_sent):
    /// beyond them the device leaves the guest's frames in its transmit ring.
    pub fn limit_tx(&self, frames: usize) {
        lock(&self.shared).tx_room = Some(frames);
    }

    /// Sets the link status; a change raises a config-change interrupt.
    pub fn set_link(&self, up: bool) {
        let mut s = lock(&self.shared);
        if s.device.set_link(up) {
            s.generation = s.generation.wrapping_add(1);
            s.isr |= InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT;
        }
    }

    /// Why the session ended, if it did.
    pub fn error(&self) -> Option<String> {
        lock(&self.shared).error.clone()
    }

    /// The device's counters.
    pub fn stats(&self) -> DeviceStats {
        lock(&self.shared).device.stats()
    }

    /// The features the driver acknowledged.
    pub fn acked_features(&self) -> u64 {
        lock(&self.shared).device.acked_features()
    }

    /// How many used-buffer interrupts the device raised.
    pub fn interrupts(&self) -> u64 {
        lock(&self.shared).interrupts
    }

    /// Runs the device's handler of `queue` (as a kick would).
    pub fn kick(&self, queue: u16) {
        lock(&self.shared).run(queue);
    }

    /// The guest memory (to corrupt it in tests).
    pub fn memory(&self) -> GuestMemoryMmap {
        lock(&self.shared).mem.clone()
    }

    /// The guest addresses of `queue`'s descriptor table, available and used rings.
    pub fn queue_addresses(&self, queue: u16) -> Option<(u64, u64, u64)> {
        let s = lock(&self.shared);
        let q = s.queues.get(usize::from(queue))?.as_ref()?;
        Some((q.desc_table(), q.avail_ring(), q.used_ring()))
    }
}

impl Transport for InProcessTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }

    fn read_device_features(&mut self) -> u64 {
        crate::device::DEVICE_FEATURES
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let mut s = lock(&self.shared);
        s.driver_features = driver_features;
        s.device.set_acked_features(driver_features);
    }

    fn max_queue_size(&mut self, _queue: u16) -> u32 {
        u32::from(crate::device::MAX_QUEUE_SIZE)
    }

    fn notify(&mut self, queue: u16) {
        lock(&self.shared).run(queue);
    }

    fn get_status(&self) -> DeviceStatus {
        lock(&self.shared).status
    }

    fn set_status(&mut self, status: DeviceStatus) {
        let mut s = lock(&self.shared);
        if status.is_empty() {
            s.queues = [None, None];
            s.device.drop_pending();
        }
        s.status = status;
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
        let mut s = lock(&self.shared);
        let event_idx = s.event_idx();
        let Ok(mut q) = Queue::new(crate::device::MAX_QUEUE_SIZE) else {
            return;
        };
        let split = |a: u64| (Some(a as u32), Some((a >> 32) as u32));
        q.set_size(u16::try_from(size).unwrap_or(0));
        let (lo, hi) = split(descriptors);
        q.set_desc_table_address(lo, hi);
        let (lo, hi) = split(driver_area);
        q.set_avail_ring_address(lo, hi);
        let (lo, hi) = split(device_area);
        q.set_used_ring_address(lo, hi);
        q.set_event_idx(event_idx);
        q.set_ready(true);
        if !q.is_valid(&s.mem) {
            let e = DeviceError::NotReady {
                queue: if queue == TX_QUEUE {
                    "transmit"
                } else {
                    "receive"
                },
            };
            s.fail(&e);
            return;
        }
        if let Some(slot) = s.queues.get_mut(usize::from(queue)) {
            *slot = Some(q);
        }
    }

    fn queue_unset(&mut self, queue: u16) {
        if let Some(slot) = lock(&self.shared).queues.get_mut(usize::from(queue)) {
            *slot = None;
        }
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        lock(&self.shared)
            .queues
            .get(usize::from(queue))
            .is_some_and(Option::is_some)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        std::mem::take(&mut lock(&self.shared).isr)
    }

    fn read_config_generation(&self) -> u32 {
        lock(&self.shared).generation
    }

    fn read_config_space<T: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        crate::frontend::read_config(&lock(&self.shared).device.config(0, CONFIG_LEN), offset)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{Received, VwifiLink};
    use virtio_drivers::device::net::VirtIONet;
    use vm_memory::{Bytes as _, GuestAddress};
    use vwifi_core::proto::{self, Message, RequestId, ETHERTYPE};
    use vwifi_core::MacAddr;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    fn link() -> (InProcessDevice, VwifiLink<InProcessHal, InProcessTransport>) {
        let mem = InProcessMemory::install(4 << 20).unwrap();
        let (dev, transport) = in_process(MAC, mem);
        let link = VwifiLink::new(transport).unwrap();
        (dev, link)
    }

    fn ip_frame(dst: [u8; 6], src: [u8; 6], len: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![fill; len];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    #[test]
    fn the_driver_reads_the_mac_and_negotiates_version_1_and_event_idx() {
        let (dev, link) = link();
        assert_eq!(link.mac(), MacAddr(MAC));
        let acked = dev.acked_features();
        assert_ne!(acked & (1 << 32), 0, "VERSION_1");
        assert_ne!(acked & (1 << 29), 0, "EVENT_IDX");
        assert_ne!(acked & (1 << 5), 0, "MAC");
        assert_ne!(acked & (1 << 16), 0, "STATUS");
    }

    #[test]
    fn frames_flow_both_ways() {
        let (dev, mut link) = link();
        let out = ip_frame([0xff; 6], MAC, 1000, 0x42);
        link.send_frame(&out).unwrap();
        let sent = dev.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(&sent[0][..], &out[..]);
        assert_eq!(link.recv().unwrap(), None);
        for i in 0..40u8 {
            // More frames than the link has buffers: each is recycled after reading.
            let back = ip_frame(MAC, [2, 0, 0, 0, 0, 1], 60 + usize::from(i) * 10, i);
            assert!(dev.push(&back));
            assert_eq!(link.recv().unwrap(), Some(Received::Frame(back)));
        }
        assert!(dev.interrupts() > 0);
        let stats = dev.stats();
        assert_eq!((stats.tx_frames, stats.rx_frames), (1, 40));
        assert_eq!(dev.error(), None);
    }

    #[test]
    fn frames_wait_for_receive_buffers_and_overflow_is_counted() {
        let (dev, mut link) = link();
        // 16 buffers in the ring, 256 frames may wait: 300 pushed, 28 dropped.
        let mut kept = 0;
        for i in 0..300u32 {
            if dev.push(&ip_frame(MAC, [2, 0, 0, 0, 0, 1], 64, (i % 256) as u8)) {
                kept += 1;
            }
        }
        assert_eq!(kept, 256 + 16);
        assert_eq!(dev.stats().rx_no_buffer, 300 - 272);
        let mut got = 0;
        while let Some(Received::Frame(f)) = link.recv().unwrap() {
            assert_eq!(f[20], (got % 256) as u8, "in order");
            got += 1;
            // Recycling a buffer kicks the receive queue: waiting frames move in.
        }
        assert_eq!(got, 272);
    }

    #[test]
    fn a_host_without_room_leaves_frames_in_the_ring_then_takes_them_in_order() {
        use virtio_drivers::device::net::VirtIONetRaw;
        let mem = InProcessMemory::install(4 << 20).unwrap();
        let (dev, transport) = in_process(MAC, mem);
        let mut net = VirtIONetRaw::<InProcessHal, InProcessTransport, 16>::new(transport).unwrap();
        // The host keeps 4 frames until it reads them.
        dev.limit_tx(4);
        let mut in_flight: VecDeque<(u16, Vec<u8>)> = VecDeque::new();
        let mut next = 0u8;
        let begin =
            |net: &mut VirtIONetRaw<_, _, 16>, in_flight: &mut VecDeque<_>, next: &mut u8| {
                let mut buf = vec![0u8; crate::device::NET_HDR_LEN + 100];
                let h = net.fill_buffer_header(&mut buf).unwrap();
                buf[h..].copy_from_slice(&ip_frame([0xff; 6], MAC, 100, *next));
                // SAFETY: the buffer stays in `in_flight`, untouched, until `transmit_complete`.
                match unsafe { net.transmit_begin(&buf) } {
                    Ok(token) => {
                        in_flight.push_back((token, buf));
                        *next += 1;
                        true
                    }
                    Err(virtio_drivers::Error::QueueFull) => false,
                    Err(e) => panic!("{e:?}"),
                }
            };
        // The guest fills its ring: the device takes 4, the other 12 stay in the ring and the
        // guest's 17th send finds its queue full (its kernel would stop the queue there).
        while begin(&mut net, &mut in_flight, &mut next) {}
        assert_eq!(in_flight.len(), 16);
        let stats = dev.stats();
        assert_eq!((stats.tx_frames, stats.tx_dropped), (4, 0));
        let mut got = Vec::new();
        let mut rounds = 0;
        while got.len() < 40 {
            rounds += 1;
            assert!(
                rounds < 100,
                "the ring is taken again once the host has room"
            );
            // The guest reclaims what the device used, and sends more in the room it gets.
            while let Some(token) = net.poll_transmit() {
                let (t, buf) = in_flight.pop_front().unwrap();
                assert_eq!(t, token, "used in order");
                // SAFETY: the same buffer as given to `transmit_begin` for this token.
                unsafe { net.transmit_complete(token, &buf) }.unwrap();
            }
            while next < 40 && begin(&mut net, &mut in_flight, &mut next) {}
            // The host reads: the device takes the ring again, 4 at a time.
            let sent = dev.take_sent();
            assert!(sent.len() <= 4, "never more than the host's room");
            got.extend(sent);
        }
        let fills: Vec<u8> = got.iter().map(|f| f[20]).collect();
        assert_eq!(fills, (0..40).collect::<Vec<u8>>(), "all, in order");
        let stats = dev.stats();
        assert_eq!(
            (stats.tx_frames, stats.tx_dropped),
            (40, 0),
            "nothing dropped"
        );
        assert_eq!(dev.error(), None);
    }

    #[test]
    fn a_driver_that_stops_servicing_its_receive_ring_loses_only_its_own_frames() {
        let mem = InProcessMemory::install(8 << 20).unwrap();
        let (stalled_dev, t1) = in_process(MAC, mem.clone());
        let mut stalled: VwifiLink<InProcessHal, _> = VwifiLink::new(t1).unwrap();
        let other_mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x66];
        let (other_dev, t2) = in_process(other_mac, mem);
        let mut other: VwifiLink<InProcessHal, _> = VwifiLink::new(t2).unwrap();
        let from = [2, 0, 0, 0, 0, 1];
        let mut kept = 0;
        for i in 0..1000u32 {
            // The stalled guest never takes its frames: pushing never waits, the device keeps
            // its ring's 16 and 256 pending, and drops and counts the rest.
            if stalled_dev.push(&ip_frame(MAC, from, 64, (i % 256) as u8)) {
                kept += 1;
            }
            // The other guest is served all along.
            let f = ip_frame(other_mac, from, 64, (i % 256) as u8);
            assert!(other_dev.push(&f));
            assert_eq!(other.recv().unwrap(), Some(Received::Frame(f)));
        }
        assert_eq!(kept, 16 + 256);
        assert_eq!(stalled_dev.stats().rx_no_buffer, 1000 - 272);
        assert_eq!(other_dev.stats().rx_no_buffer, 0);
        assert_eq!(other_dev.stats().rx_frames, 1000);
        // The stalled guest still transmits.
        let out = ip_frame([0xff; 6], MAC, 100, 7);
        stalled.send_frame(&out).unwrap();
        assert_eq!(stalled_dev.take_sent().len(), 1);
        // And recovers: what was kept comes in order, then new frames again.
        let mut got = 0u32;
        while let Some(Received::Frame(f)) = stalled.recv().unwrap() {
            assert_eq!(u32::from(f[20]), got % 256, "in order");
            got += 1;
        }
        assert_eq!(got, 272);
        let f = ip_frame(MAC, from, 64, 9);
        assert!(stalled_dev.push(&f));
        assert_eq!(stalled.recv().unwrap(), Some(Received::Frame(f)));
        assert_eq!((stalled_dev.error(), other_dev.error()), (None, None));
    }

    #[test]
    fn control_messages_ride_in_band_both_ways() {
        let (dev, mut link) = link();
        let req = Message::StatusRequest { id: RequestId(7) };
        link.send_control(&req).unwrap();
        let sent = dev.take_sent();
        assert_eq!(sent.len(), 1);
        let f = &sent[0];
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), ETHERTYPE);
        assert_eq!(proto::decode(&f[14..]).unwrap().0, req);
        let mut reply = MAC.to_vec();
        reply.extend_from_slice(&[0x02, 0x76, 0x77, 0x69, 0x66, 0x69]);
        reply.extend_from_slice(&ETHERTYPE.to_be_bytes());
        let msg = Message::Error {
            id: Some(RequestId(7)),
            code: proto::ErrorCode::Busy,
            text: Some("busy".into()),
        };
        proto::encode(&msg, &mut reply).unwrap();
        reply.resize(60.max(reply.len()), 0);
        dev.push(&reply);
        assert_eq!(link.recv().unwrap(), Some(Received::Control(msg)));
        let mut bad = reply[..14].to_vec();
        bad.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        bad.resize(60, 0);
        dev.push(&bad);
        assert!(matches!(
            link.recv().unwrap(),
            Some(Received::BadControl(_))
        ));
    }

    #[test]
    fn link_status_changes_raise_a_config_interrupt_the_driver_sees() {
        let mem = InProcessMemory::install(4 << 20).unwrap();
        let (dev, mut transport) = in_process(MAC, mem);
        // The status as the driver reads it, before and after.
        let mut net =
            VirtIONet::<InProcessHal, _, 16>::new(InProcessTransportRef(&mut transport), 2048)
                .unwrap();
        let _ = net.ack_interrupt();
        dev.set_link(true);
        assert!(net
            .ack_interrupt()
            .contains(InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT));
        drop(net);
        assert_eq!(transport.read_config_space::<u16>(6).unwrap(), 1, "LINK_UP");
        dev.set_link(true);
        assert!(
            transport.ack_interrupt().is_empty(),
            "no change, no interrupt"
        );
        dev.set_link(false);
        assert!(transport
            .ack_interrupt()
            .contains(InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT));
        assert_eq!(transport.read_config_space::<u16>(6).unwrap(), 0);
        assert!(transport.read_config_generation() >= 2);
    }

    #[test]
    fn a_corrupted_descriptor_ends_the_session_with_an_error() {
        let (dev, mut link) = link();
        let (desc_table, _, _) = dev.queue_addresses(RX_QUEUE).unwrap();
        // Point every receive descriptor far outside the VM's memory.
        let mem = dev.memory();
        for i in 0..16u64 {
            mem.write_obj(0x7fff_0000_0000u64, GuestAddress(desc_table + i * 16))
                .unwrap();
        }
        dev.push(&ip_frame(MAC, [2, 0, 0, 0, 0, 1], 100, 1));
        let error = dev.error().expect("the session ended");
        assert!(error.contains("receive descriptor chain"), "{error}");
        // The device stopped and says so; the driver sees nothing more.
        let mut t = InProcessTransport {
            shared: dev.shared.clone(),
        };
        assert!(t.get_status().contains(DeviceStatus::DEVICE_NEEDS_RESET));
        assert!(!t.queue_used(RX_QUEUE));
        assert_eq!(link.recv().unwrap(), None);
        assert!(!dev.push(&[0u8; 70_000]), "too long");
    }

    /// Lets a test keep the transport while a driver borrows it.
    struct InProcessTransportRef<'a>(&'a mut InProcessTransport);

    impl Transport for InProcessTransportRef<'_> {
        fn device_type(&self) -> DeviceType {
            self.0.device_type()
        }
        fn read_device_features(&mut self) -> u64 {
            self.0.read_device_features()
        }
        fn write_driver_features(&mut self, f: u64) {
            self.0.write_driver_features(f)
        }
        fn max_queue_size(&mut self, q: u16) -> u32 {
            self.0.max_queue_size(q)
        }
        fn notify(&mut self, q: u16) {
            self.0.notify(q)
        }
        fn get_status(&self) -> DeviceStatus {
            self.0.get_status()
        }
        fn set_status(&mut self, s: DeviceStatus) {
            self.0.set_status(s)
        }
        fn set_guest_page_size(&mut self, s: u32) {
            self.0.set_guest_page_size(s)
        }
        fn requires_legacy_layout(&self) -> bool {
            self.0.requires_legacy_layout()
        }
        fn queue_set(&mut self, q: u16, size: u32, d: PhysAddr, dr: PhysAddr, dv: PhysAddr) {
            self.0.queue_set(q, size, d, dr, dv)
        }
        fn queue_unset(&mut self, q: u16) {
            self.0.queue_unset(q)
        }
        fn queue_used(&mut self, q: u16) -> bool {
            self.0.queue_used(q)
        }
        fn ack_interrupt(&mut self) -> InterruptStatus {
            self.0.ack_interrupt()
        }
        fn read_config_generation(&self) -> u32 {
            self.0.read_config_generation()
        }
        fn read_config_space<T: FromBytes + IntoBytes>(
            &self,
            offset: usize,
        ) -> virtio_drivers::Result<T> {
            self.0.read_config_space(offset)
        }
        fn write_config_space<T: IntoBytes + Immutable>(
            &mut self,
            offset: usize,
            value: T,
        ) -> virtio_drivers::Result<()> {
            self.0.write_config_space(offset, value)
        }
    }
}
