//! Route netlink shared by the vwifi host and guest: one socket type, [`Rtnl`], for every
//! link request (look a link up, create a veth pair, set it up, all-multicast, its operational
//! state or carrier, delete it), and the traffic-control filters of the host's kernel data path
//! ([`tc`]) sent through the same socket.
//!
//! - [`Rtnl::set_operstate`]: link mode `dormant`, operational state `up` or `dormant`
//!   (RFC 2863, the way wpa_supplicant marks a Wi-Fi link waiting for its association; the
//!   carrier stays on). The host uses it for a container's TAP and veth, the guest agent with
//!   `--link`.
//! - [`Rtnl::set_carrier`]: `IFLA_CARRIER` on a TAP (Linux 4.20 and later).
//! - [`Rtnl::delete_link`] deletes a link (`RTM_DELLINK`).
//! - [`Rtnl::add_address`] and [`Rtnl::add_route`]: an IP address on a link and a route through
//!   it (`RTM_NEWADDR`, `RTM_NEWROUTE`), as the CNI plugin configures what its IPAM plugin gave.
//! - [`hwsim::HwsimMedium`]: the medium of this kernel's `mac80211_hwsim` radios, relayed by
//!   `vwifi-guest radio` to the host.
//! - [`Rtnl::link`], [`Rtnl::new_veth`], [`Rtnl::set_up`], [`Rtnl::set_allmulti`]: the veth
//!   pair of a namespace guest on the nl80211 radio's kernel data path.
//! - [`bpf`]: the data path's receive classifier (`bpf_redirect_peer` into the container's
//!   veth end), assembled here and loaded with `bpf(2)`; the crate's only `unsafe`.

pub mod bpf;
pub mod hwsim;
mod rtnl;
pub mod tc;

pub use rtnl::{Link, Rtnl};
