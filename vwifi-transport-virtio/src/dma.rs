//! DMA memory for a `virtio-drivers` driver in this process: a [`Hal`] whose memory is one
//! `vm-memory` region per thread, anonymous (a driver and the device in one process, see
//! `testing`) or a memfd that a vhost-user backend maps too (see [`crate::frontend`]).
//!
//! Queues are allocated in the region; buffers the driver shares are bounced through it
//! (copied in on `share`, copied back on `unshare`), as a Hal for a device behind an
//! IOMMU-less bounce window would. Guest addresses start at [`REGION_BASE`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};
use vm_memory::mmap::FromRangesError;
use vm_memory::{Bytes as _, FileOffset, GuestAddress, GuestMemoryBackend as _, GuestMemoryMmap};

/// Why shared DMA memory could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SharedMemoryError {
    /// The memfd could not be created or sized.
    #[error("creating the memfd of the shared memory: {0}")]
    Memfd(#[source] std::io::Error),
    /// The memfd could not be mapped.
    #[error("mapping the shared memory: {0}")]
    Map(#[source] FromRangesError),
}

/// Where the driver's region starts (not 0: `virtio-drivers` takes address 0 as failure).
pub const REGION_BASE: u64 = 0x1000_0000;

/// Allocation granularity in the region.
const GRAIN: u64 = 64;

/// The DMA region of this thread.
#[derive(Debug)]
struct Region {
    mem: GuestMemoryMmap,
    end: u64,
    next: u64,
    free: BTreeMap<u64, Vec<u64>>,
}

impl Region {
    fn alloc(&mut self, len: usize) -> Option<u64> {
        let len = u64::try_from(len.max(1)).ok()?.div_ceil(GRAIN) * GRAIN;
        if let Some(addr) = self.free.get_mut(&len).and_then(Vec::pop) {
            return Some(addr);
        }
        let addr = self.next;
        let next = addr.checked_add(len)?;
        if next > self.end {
            return None;
        }
        self.next = next;
        Some(addr)
    }

    fn free(&mut self, addr: u64, len: usize) {
        let len = (len.max(1) as u64).div_ceil(GRAIN) * GRAIN;
        self.free.entry(len).or_default().push(addr);
    }
}

thread_local! {
    static REGION: RefCell<Option<Region>> = const { RefCell::new(None) };
}

/// The DMA memory of the driver on this thread.
#[derive(Debug, Clone, Copy)]
pub struct DmaMemory;

impl DmaMemory {
    /// Gives this thread a fresh anonymous region of `len` bytes at [`REGION_BASE`] and
    /// returns it (the device's view of the same memory).
    pub fn install(len: usize) -> Result<GuestMemoryMmap, FromRangesError> {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(REGION_BASE), len)])?;
        Self::install_memory(&mem, len);
        Ok(mem)
    }

    /// Gives this thread a fresh region of `len` bytes at [`REGION_BASE`] backed by a memfd,
    /// which a vhost-user backend in another process maps too (the memory table's region).
    pub fn install_shared(len: usize) -> Result<GuestMemoryMmap, SharedMemoryError> {
        let fd = rustix::fs::memfd_create("vwifi-dma", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| SharedMemoryError::Memfd(e.into()))?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(|e| SharedMemoryError::Memfd(e.into()))?;
        let file = FileOffset::new(std::fs::File::from(fd), 0);
        let mem = GuestMemoryMmap::from_ranges_with_files(&[(
            GuestAddress(REGION_BASE),
            len,
            Some(file),
        )])
        .map_err(SharedMemoryError::Map)?;
        Self::install_memory(&mem, len);
        Ok(mem)
    }

    /// Makes `mem`, whose `len` bytes start at [`REGION_BASE`], this thread's region.
    fn install_memory(mem: &GuestMemoryMmap, len: usize) {
        REGION.with(|r| {
            *r.borrow_mut() = Some(Region {
                mem: mem.clone(),
                end: REGION_BASE + len as u64,
                next: REGION_BASE,
                free: BTreeMap::new(),
            });
        });
    }

    fn with<T>(f: impl FnOnce(&mut Region) -> Option<T>) -> Option<T> {
        REGION.with(|r| r.borrow_mut().as_mut().and_then(f))
    }
}

/// The [`Hal`] of a driver in this process: DMA memory from this thread's [`DmaMemory`].
#[derive(Debug)]
pub struct DmaHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned memory of the requested size that no other
// allocation overlaps (a bump/free-list allocator over one mapping that lives as long as the
// thread's region), and its host address is the mapping of exactly that guest address. `share`
// returns the guest address of a private bounce buffer holding the buffer's contents; `unshare`
// copies the device's writes back. Without an installed region, allocation fails (address 0).
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let got = DmaMemory::with(|r| {
            let len = pages.checked_mul(PAGE_SIZE)?;
            // Page-align: round the bump pointer up first.
            let aligned = r.next.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
            if aligned.checked_add(len as u64)? > r.end {
                return None;
            }
            r.next = aligned + len as u64;
            r.mem
                .write_slice(&vec![0u8; len], GuestAddress(aligned))
                .ok()?;
            let host = r.mem.get_host_address(GuestAddress(aligned)).ok()?;
            Some((aligned, NonNull::new(host)?))
        });
        got.unwrap_or((0, NonNull::dangling()))
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // Queues live as long as the thread's region: nothing to give back.
        0
    }

    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // The transports of this crate have no MMIO registers.
        NonNull::dangling()
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        // SAFETY: the Hal contract: `buffer` is valid for reads (and writes) of its length
        // until `unshare`, and nothing else writes it meanwhile.
        let contents = unsafe { buffer.as_ref() };
        DmaMemory::with(|r| {
            let addr = r.alloc(len)?;
            if direction != BufferDirection::DeviceToDriver {
                r.mem.write_slice(contents, GuestAddress(addr)).ok()?;
            }
            Some(addr)
        })
        .unwrap_or(0)
    }

    unsafe fn unshare(paddr: PhysAddr, mut buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len();
        // SAFETY: the Hal contract: `buffer` is the one given to `share`, valid for writes of
        // its length, and the device is done with it.
        let target = unsafe { buffer.as_mut() };
        DmaMemory::with(|r| {
            if direction != BufferDirection::DriverToDevice {
                r.mem.read_slice(target, GuestAddress(paddr)).ok()?;
            }
            r.free(paddr, len);
            Some(())
        });
    }
}
