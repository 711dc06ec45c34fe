//! The radio the driver runs, behind one trait ([`HostRadio`]): the simulated world
//! ([`SimWorld`]: the medium, its APs, the Mux as the host's radio, the kernel's hwsim radios)
//! or a real card ([`Nl80211Radio`]: the kernel's MLME, one interface per station).
//!
//! The driver knows only this trait; what only the simulated air has (the kernel's hwsim
//! radios and the uplink TAP join it) it reaches through [`HostRadio::sim_mut`].

use core::time::Duration;
use std::collections::BTreeMap;

use tokio::sync::mpsc;
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{AdmitError, GuestConfig, GuestItem, MuxStats};
use vwifi_core::proto::Message;
use vwifi_core::wire::EthernetFrame;
use vwifi_core::{Instant, MacAddr};

use super::snapshot::{nl80211_snapshot, sim_snapshot};
use super::GuestEntry;
use crate::api::Snapshot;
use crate::command::KernelPort;
use crate::nl80211::Nl80211Radio;
use crate::world::SimWorld;

/// What the driver asks of its radio: admit and remove guests, carry their messages both
/// ways, and (a simulated radio) run in time.
pub(crate) trait HostRadio: Send + core::fmt::Debug {
    /// Admits a guest: a station of its own; a namespace's (`netns`) data may stay in the
    /// kernel on a real card ([`HostRadio::kernel_port`]).
    fn admit(&mut self, cfg: GuestConfig, netns: bool) -> Result<GuestId, AdmitError>;

    /// For a namespace guest on a real card whose data stays in the kernel: what its attach
    /// needs ([`crate::ports::kernel`]).
    fn kernel_port(&self, _guest: GuestId) -> Option<KernelPort> {
        None
    }

    /// The address of `guest`'s station.
    fn station_mac(&self, guest: GuestId) -> Option<MacAddr>;

    /// Removes `guest` at `now` (its station leaves its network).
    fn remove(&mut self, now: Instant, guest: GuestId);

    /// A message from `guest`, arriving at `now`.
    fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message);

    /// Data frames `guest` handed over together, arriving at `now`, in order: as many
    /// [`Message::Data`] (a radio whose stations aggregate takes them at once).
    fn guest_data(&mut self, now: Instant, guest: GuestId, frames: Vec<bytes::Bytes>) {
        for frame in frames {
            self.guest_message(now, guest, Message::Data(frame));
        }
    }

    /// Takes what is for `guest` so far as the radio made it: sealed frames stay sealed, for
    /// the guest's port to open (a radio without receive stages has only messages).
    fn take_guest_items(&mut self, guest: GuestId) -> Vec<GuestItem>;

    /// EAPOL frames `guest`'s port found in sealed frames, arriving at `now`, for its station.
    fn staged_eapol(&mut self, _now: Instant, _guest: GuestId, _frames: &[EthernetFrame]) {}

    /// Processes everything due up to `now` (a radio without its own time: nothing).
    fn advance(&mut self, _now: Instant) {}

    /// When [`HostRadio::advance`] must be called next, if ever.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Lets `span` of the radio's time pass at once (the last frames at shutdown).
    fn run_for(&mut self, _span: Duration) {}

    /// What the Mux counted, if the radio runs one.
    fn mux_stats(&self) -> Option<MuxStats> {
        None
    }

    /// The stream of the radio's own messages for guests, to be handed back with
    /// [`HostRadio::push_event`] (a real card's stations run on tasks of their own); taken once.
    fn take_events(&mut self) -> Option<mpsc::Receiver<(GuestId, Message)>> {
        None
    }

    /// One message from the stream of [`HostRadio::take_events`].
    fn push_event(&mut self, _guest: GuestId, _msg: Message) {}

    /// The data frames `guest`'s station has waiting in the radio's own queue (a radio without
    /// one: none); the driver holds the guest's data back while it is long.
    fn radio_queue(&self, _guest: GuestId) -> usize {
        0
    }

    /// The status of the radio and of `guests` at `now`.
    fn snapshot(&self, now: Instant, guests: &BTreeMap<GuestId, GuestEntry>) -> Snapshot;

    /// The simulated air, if that is the radio (the kernel's hwsim radios and the uplink TAP
    /// join it).
    fn sim(&self) -> Option<&SimWorld> {
        None
    }

    /// [`HostRadio::sim`], mutably.
    fn sim_mut(&mut self) -> Option<&mut SimWorld> {
        None
    }
}

impl HostRadio for SimWorld {
    fn admit(&mut self, cfg: GuestConfig, _netns: bool) -> Result<GuestId, AdmitError> {
        SimWorld::admit(self, cfg)
    }

    fn station_mac(&self, guest: GuestId) -> Option<MacAddr> {
        self.mux().station(guest).map(|s| s.mac())
    }

    fn remove(&mut self, now: Instant, guest: GuestId) {
        SimWorld::remove(self, now, guest);
    }

    fn guest_message(&mut self, now: Instant, guest: GuestId, msg: Message) {
        SimWorld::guest_message(self, now, guest, msg);
    }

    fn guest_data(&mut self, now: Instant, guest: GuestId, frames: Vec<bytes::Bytes>) {
        SimWorld::guest_data(self, now, guest, frames);
    }

    fn take_guest_items(&mut self, guest: GuestId) -> Vec<GuestItem> {
        SimWorld::take_guest_items(self, guest)
    }

    fn staged_eapol(&mut self, now: Instant, guest: GuestId, frames: &[EthernetFrame]) {
        SimWorld::staged_eapol(self, now, guest, frames);
    }

    fn advance(&mut self, now: Instant) {
        SimWorld::advance(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        SimWorld::poll_timeout(self)
    }

    fn radio_queue(&self, guest: GuestId) -> usize {
        self.station_mac(guest)
            .map_or(0, |sta| self.station_queue(sta).0)
    }

    fn run_for(&mut self, span: Duration) {
        SimWorld::run_for(self, span);
    }

    fn mux_stats(&self) -> Option<MuxStats> {
        Some(*self.mux().stats())
    }

    fn snapshot(&self, now: Instant, guests: &BTreeMap<GuestId, GuestEntry>) -> Snapshot {
        sim_snapshot(self, now, guests)
    }

    fn sim(&self) -> Option<&SimWorld> {
        Some(self)
    }

    fn sim_mut(&mut self) -> Option<&mut SimWorld> {
        Some(self)
    }
}

impl HostRadio for Nl80211Radio {
    fn admit(&mut self, cfg: GuestConfig, netns: bool) -> Result<GuestId, AdmitError> {
        Nl80211Radio::admit(self, cfg, netns)
    }

    fn kernel_port(&self, guest: GuestId) -> Option<KernelPort> {
        Nl80211Radio::kernel_port(self, guest)
    }

    fn station_mac(&self, guest: GuestId) -> Option<MacAddr> {
        Nl80211Radio::station_mac(self, guest)
    }

    fn remove(&mut self, _now: Instant, guest: GuestId) {
        Nl80211Radio::remove(self, guest);
    }

    fn guest_message(&mut self, _now: Instant, guest: GuestId, msg: Message) {
        Nl80211Radio::guest_message(self, guest, msg);
    }

    /// The frames go to the station's packet socket as one batch (one `sendmmsg`).
    fn guest_data(&mut self, _now: Instant, guest: GuestId, frames: Vec<bytes::Bytes>) {
        Nl80211Radio::guest_data(self, guest, frames);
    }

    fn take_guest_items(&mut self, guest: GuestId) -> Vec<GuestItem> {
        let msgs = Nl80211Radio::take_guest_messages(self, guest);
        msgs.into_iter().map(GuestItem::Message).collect()
    }

    fn take_events(&mut self) -> Option<mpsc::Receiver<(GuestId, Message)>> {
        Nl80211Radio::take_events(self)
    }

    fn push_event(&mut self, guest: GuestId, msg: Message) {
        Nl80211Radio::push_event(self, guest, msg);
    }

    fn snapshot(&self, now: Instant, guests: &BTreeMap<GuestId, GuestEntry>) -> Snapshot {
        nl80211_snapshot(self, now, guests)
    }
}
