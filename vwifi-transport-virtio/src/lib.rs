//! Virtio transport of vwifi for VMs.
//!
//! - [`device`]: the virtio-net device model (features, config space with the station's MAC
//!   and link status, the transmit queue to frames, frames into the receive queue with
//!   mergeable buffers and event-index notifications), independent of how the rings arrive.
//! - [`vhost_user`]: that device as a vhost-user-net backend for a VMM (QEMU's
//!   `-netdev vhost-user`, cloud-hypervisor's `--net vhost_user=true`), one port per VM, with
//!   an async-friendly API for the host daemon.
//! - [`link`]: the driver side on `virtio-drivers`: [`link::VwifiLink`] gives a Rust guest
//!   without a kernel Ethernet frames and in-band control messages (EtherType 0x88B5).
//! - [`frontend`]: the VMM's side of vhost-user-net without a VM: a `virtio-drivers` NIC
//!   whose rings are in a memfd shared with a backend, bridged to a TAP (`vhost-user-tap`).
//! - [`dma`]: the DMA memory (a `virtio-drivers` Hal) of a driver in this process.
//! - `testing` (feature `test-utils`): a `virtio-drivers` Transport whose registers are the
//!   device, on the Hal of [`dma`], so the driver and the device exchange frames in one process.
//!
//! `unsafe` is confined to the `dma` module (the `Hal` trait is unsafe by nature) and the
//! `testing` module's tests; the device itself reaches guest memory only through `vm-memory`'s checked accessors.

pub mod device;
#[allow(unsafe_code)]
pub mod dma;
pub mod frontend;
mod frontend_fix;
pub mod link;
#[cfg(any(test, feature = "test-utils"))]
#[allow(unsafe_code)]
pub mod testing;
pub mod vhost_user;

pub use device::{DeviceError, DeviceStats, NetDevice};
pub use link::{Received, VwifiLink, VwifiLinkError};
pub use vhost_user::{PortConfig, PortHandle, SessionEnd, VhostUserError, VhostUserPort};
