//! The guests' ports: how a guest's frames and control messages reach the driver, one task per
//! guest, each talking to the driver only through [`Command`](crate::command::Command)s and
//! its bounded outbox.
//!
//! - [`unix`]: guests on the guests' Unix socket (the guest protocol as a byte stream);
//! - [`netns`]: a container's TAP inside its network namespace (`attach --netns`), its
//!   batched, offloaded reads and writes in [`tap_io`];
//! - [`native`]: a container's own hwsim radio (`attach --native`), on the air as a node;
//! - [`relay`]: VMs' own hwsim radios relayed by `vwifi-guest radio` (`[hwsim] relay_socket`);
//! - [`nsfile`]: which namespace an attachment names (a name, a path, a PID) and whether it
//!   still lives;
//! - [`vhost_user`]: a VM's virtio-net NIC as a vhost-user-net device;
//! - [`uplink`]: the uplink TAP, the wired side of the APs' bridge;
//! - [`io_errors`]: which read and write errors a port outlives;
//! - [`threads`]: the port threads the TAP and vhost-user ports run on, beside the driver's
//!   thread.
//!
//! The TAP and the vhost-user NIC are both an Ethernet link on which the guest speaks in-band
//! control (EtherType 0x88B5, [`vwifi_core::proto::inband`]); [`ethernet`] holds their one
//! loop, and each of them only says how to read, write and follow the association.

pub(crate) mod ethernet;
pub(crate) mod io_errors;
pub(crate) mod kernel;
pub(crate) mod native;
pub(crate) mod netns;
pub(crate) mod nsfile;
pub(crate) mod relay;
pub(crate) mod tap_io;
pub(crate) mod threads;
pub(crate) mod unix;
pub(crate) mod uplink;
pub(crate) mod vhost_user;
