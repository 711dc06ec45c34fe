//! The driver's side of `attach --native`: the radios created for namespaces, on the air of
//! the kernel's hwsim radios ([`crate::hwsim`]), kept until `detach` (see
//! [`crate::ports::native`]).

use tokio::sync::oneshot;
use vwifi_core::io::Clock as _;
use vwifi_core::MacAddr;

use super::Driver;
use crate::command::{NativeRadio, Refused};
use crate::hwsim::manage::OwnedRadio;
use crate::hwsim::GuestRadio;

/// A namespace's radio as the driver keeps it.
#[derive(Debug)]
pub(crate) struct NativeEntry {
    /// The kernel's radio: dropping it destroys the radio.
    owned: OwnedRadio,
    /// Its hwsim address.
    address: MacAddr,
    /// Dropped with the entry: ends the namespace's watch.
    _watch: oneshot::Sender<()>,
}

impl Driver {
    /// May `netns` get a radio?
    pub(super) fn native_check(&self, netns: &str) -> Result<(), Refused> {
        if self.hwsim.is_none() || self.world.sim().is_none() {
            return Err(Refused::NoHwsim);
        }
        let attached = self.native.contains_key(netns)
            || self
                .guests
                .values()
                .any(|e| e.netns.as_deref() == Some(netns));
        if attached {
            return Err(Refused::AlreadyAttached {
                netns: netns.to_owned(),
            });
        }
        Ok(())
    }

    /// Puts the radio of `netns` on the air and keeps it; records the attachment.
    pub(super) fn native_attach(
        &mut self,
        netns: String,
        radio: NativeRadio,
        watch: oneshot::Sender<()>,
    ) -> Result<(f64, f64), Refused> {
        self.native_check(&netns)?;
        let (Some(h), Some(world)) = (self.hwsim.as_mut(), self.world.sim_mut()) else {
            return Err(Refused::NoHwsim);
        };
        let address = radio.owned.address();
        let position = radio
            .position
            .map_or_else(|| h.radios().position_of(address), |[x, y]| (x, y));
        let g = GuestRadio {
            guest: netns.clone(),
            position,
            wiphy: radio.owned.name().to_owned(),
            ifname: radio.ifname.clone(),
            address: crate::hwsim::first_interface(address),
        };
        let now = self.clock.now();
        crate::hwsim::HwsimAir::advance(world, now);
        h.radios_mut()
            .add_guest(crate::hwsim::HwsimAir::medium_mut(world), address, g);
        let ifname = radio.ifname.clone();
        self.record(|s| s.attached_native(&netns, &ifname, radio.position));
        self.native.insert(
            netns,
            NativeEntry {
                owned: radio.owned,
                address,
                _watch: watch,
            },
        );
        Ok(position)
    }

    /// Takes the radio of `netns` off the air and forgets the attachment; the caller deletes
    /// the radio.
    pub(super) fn native_detach(&mut self, netns: &str) -> Option<OwnedRadio> {
        let entry = self.native.remove(netns)?;
        if let (Some(h), Some(world)) = (self.hwsim.as_mut(), self.world.sim_mut()) {
            h.radios_mut()
                .remove_guest(crate::hwsim::HwsimAir::medium_mut(world), entry.address);
        }
        self.record(|s| s.detached(netns));
        tracing::info!(%netns, radio = %entry.address, "native radio detached");
        Some(entry.owned)
    }

    /// One line per native radio for the status: its namespace, interface, radio, place and
    /// counters.
    pub(super) fn native_details(&self) -> Vec<(String, String)> {
        let (Some(h), Some(world)) = (self.hwsim.as_ref(), self.world.sim()) else {
            return Vec::new();
        };
        let spoofed = h.radios().counters().spoofed;
        let refused = (spoofed > 0).then(|| {
            (
                "native frames refused".to_owned(),
                format!("{spoofed} (another node's transmitter address)"),
            )
        });
        h.radios()
            .guest_radios(crate::hwsim::HwsimAir::medium(world))
            .map(|(radio, g, c)| {
                let c = c.unwrap_or_default();
                (
                    format!("native {}", g.guest),
                    format!(
                        "{} on {} ({radio}) at ({:.1}, {:.1}); tx {} ({} acked), rx {}",
                        g.ifname,
                        g.wiphy,
                        g.position.0,
                        g.position.1,
                        c.tx_frames,
                        c.tx_acked,
                        c.rx_frames
                    ),
                )
            })
            .chain(refused)
            .collect()
    }
}
