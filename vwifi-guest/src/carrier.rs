//! The carrier of the agent's TAP, following the association: on while the station is
//! associated, off otherwise (the kernel then drops what the guest sends, as on a Wi-Fi
//! interface without association). Set with route netlink (`RTM_SETLINK` with `IFLA_CARRIER`;
//! a TAP takes it since Linux 4.20).
//!
//! The agent's control travels over its socket, not over the TAP, so the carrier can really be
//! off. (A container's TAP served in-band by the host cannot: there the host marks the link
//! `dormant` instead.)

use std::io;

use vwifi_netlink::Rtnl;

/// A route-netlink socket and the TAP's interface index.
pub struct Carrier {
    rtnl: Rtnl,
    index: u32,
    /// What was last set, to skip repeats: the carrier ([`Carrier::set`]) or the operational
    /// state up ([`Carrier::set_operstate`]); a `Carrier` is used for one of the two.
    on: Option<bool>,
}

impl core::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Carrier")
            .field("index", &self.index)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl Carrier {
    /// The carrier (or operational state) of interface `index`, in this process's network
    /// namespace.
    pub fn open(index: u32) -> io::Result<Self> {
        Ok(Self {
            rtnl: Rtnl::open()?,
            index,
            on: None,
        })
    }

    /// Switches the carrier on or off (nothing if it is so already); waits for the kernel's
    /// acknowledgement.
    pub fn set(&mut self, on: bool) -> io::Result<()> {
        if self.on == Some(on) {
            return Ok(());
        }
        let result = self.rtnl.set_carrier(self.index, on);
        self.on = result.as_ref().ok().map(|()| on);
        result
    }

    /// Marks the interface `dormant` (not usable yet: the station is not associated) or `up`
    /// (RFC 2863 operational state, with the link mode that lets userspace set it, as
    /// wpa_supplicant does for a Wi-Fi interface), keeping its carrier: in-band control still
    /// gets through while it is dormant. Nothing if it is so already.
    pub fn set_operstate(&mut self, up: bool) -> io::Result<()> {
        if self.on == Some(up) {
            return Ok(());
        }
        let result = self.rtnl.set_operstate(self.index, up);
        self.on = result.as_ref().ok().map(|()| up);
        result
    }
}
