//! The frame demultiplexer: which guest owns a frame received on the shared radio.
//!
//! Every guest's virtual station has its own MAC address and, once associated, a BSSID. A
//! received frame is routed by its addresses only (it is still encrypted):
//! - a unicast frame goes to the one station whose address is the receiver address (addr1),
//!   and only if its BSSID, where the frame carries one, is that station's BSS or the station
//!   is not yet associated (authentication and association responses, probe responses);
//! - a group-addressed data frame goes to every station associated with the frame's BSSID;
//!   each decrypts it with its own group key;
//! - group-addressed management frames (beacons, broadcast probe responses) go to every
//!   station: they carry no private data and scanning stations need them all;
//! - everything else is dropped and counted by [`DropReason`].
//!
//! The demultiplexer is the isolation boundary on the receive path: a unicast frame never
//! reaches a station that does not own its receiver address (a property test checks this).
//! On the send path, [`Demux::check_source`] says whether a guest may send with an address.

use std::collections::HashMap;

use crate::addr::MacAddr;
use crate::wire::{FrameType, FrameView};

/// Identifies one guest (a VM or a network namespace) and its virtual station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuestId(pub u32);

/// Why a received frame went to nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The frame is too short or its header is malformed.
    Malformed,
    /// A control frame (ACK, RTS, CTS, ...): handled by the radio, never by a station.
    Control,
    /// A unicast frame whose receiver address belongs to no station.
    UnknownReceiver,
    /// A unicast frame for a station, but from a BSS the station is not associated with.
    ForeignBss,
    /// A group-addressed data frame of a BSS no station is associated with.
    NoMemberOfBss,
    /// A four-address (WDS/mesh) frame: not served.
    FourAddress,
    /// A To-DS frame: sent by a station to its AP, never for a station.
    ToDs,
}

impl DropReason {
    /// Every reason, for counters and reports.
    pub const ALL: [Self; 7] = [
        Self::Malformed,
        Self::Control,
        Self::UnknownReceiver,
        Self::ForeignBss,
        Self::NoMemberOfBss,
        Self::FourAddress,
        Self::ToDs,
    ];

    /// A short stable name, for metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Control => "control",
            Self::UnknownReceiver => "unknown_receiver",
            Self::ForeignBss => "foreign_bss",
            Self::NoMemberOfBss => "no_member_of_bss",
            Self::FourAddress => "four_address",
            Self::ToDs => "to_ds",
        }
    }
}

/// Where a received frame goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To this one guest.
    Unicast(GuestId),
    /// To each of these guests (group-addressed), in ascending order; never empty.
    Group(Vec<GuestId>),
    /// To nobody.
    Drop(DropReason),
}

#[derive(Debug, Clone, Copy)]
struct Member {
    mac: MacAddr,
    bssid: Option<MacAddr>,
}

/// The table of stations by address and BSS, and the drop counters.
#[derive(Debug, Default)]
pub struct Demux {
    guests: HashMap<GuestId, Member>,
    by_mac: HashMap<MacAddr, GuestId>,
    dropped: HashMap<DropReason, u64>,
}

/// Why a station could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DemuxError {
    /// Another guest's station already uses this MAC address.
    #[error("MAC address {mac} is already used by another guest")]
    AddressInUse {
        /// The contested address.
        mac: MacAddr,
    },
    /// A station address must be an individual (unicast) address.
    #[error("{mac} is a group address; a station needs an individual address")]
    GroupAddress {
        /// The refused address.
        mac: MacAddr,
    },
}

impl Demux {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or re-addresses) a guest's station with MAC address `mac`, not associated.
    pub fn insert(&mut self, guest: GuestId, mac: MacAddr) -> Result<(), DemuxError> {
        if mac.is_group() {
            return Err(DemuxError::GroupAddress { mac });
        }
        match self.by_mac.get(&mac) {
            Some(owner) if *owner != guest => return Err(DemuxError::AddressInUse { mac }),
            _ => {}
        }
        if let Some(old) = self.guests.insert(guest, Member { mac, bssid: None }) {
            if old.mac != mac {
                self.by_mac.remove(&old.mac);
            }
        }
        self.by_mac.insert(mac, guest);
        Ok(())
    }

    /// Removes a guest's station.
    pub fn remove(&mut self, guest: GuestId) {
        if let Some(m) = self.guests.remove(&guest) {
            self.by_mac.remove(&m.mac);
        }
    }

    /// Records the BSS a guest's station is associated with (`None` when it is not).
    pub fn set_bssid(&mut self, guest: GuestId, bssid: Option<MacAddr>) {
        if let Some(m) = self.guests.get_mut(&guest) {
            m.bssid = bssid;
        }
    }

    /// The MAC address of a guest's station.
    pub fn mac_of(&self, guest: GuestId) -> Option<MacAddr> {
        self.guests.get(&guest).map(|m| m.mac)
    }

    /// The guest whose station has address `mac`.
    pub fn owner_of(&self, mac: MacAddr) -> Option<GuestId> {
        self.by_mac.get(&mac).copied()
    }

    /// Whether `guest` may send a frame with source address `src`: only its own.
    pub fn check_source(&self, guest: GuestId, src: MacAddr) -> bool {
        self.mac_of(guest) == Some(src)
    }

    /// Routes a received 802.11 frame (without FCS) and counts it if dropped.
    pub fn route(&mut self, frame: &[u8]) -> Route {
        let route = self.classify(frame);
        if let Route::Drop(reason) = route {
            *self.dropped.entry(reason).or_default() += 1;
        }
        route
    }

    /// How many frames were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    fn classify(&self, frame: &[u8]) -> Route {
        let Ok(view) = FrameView::new_checked(frame) else {
            return Route::Drop(DropReason::Malformed);
        };
        let fc = view.frame_control();
        let is_data = match fc.frame_type {
            FrameType::Management(_) => false,
            FrameType::Data(_) => true,
            FrameType::Control(_) => return Route::Drop(DropReason::Control),
            FrameType::Extension(_) => return Route::Drop(DropReason::Malformed),
        };
        let flags = fc.flags;
        match (flags.to_ds(), flags.from_ds()) {
            (true, true) => return Route::Drop(DropReason::FourAddress),
            (true, false) => return Route::Drop(DropReason::ToDs),
            _ => {}
        }
        let (Some(addr2), Some(addr3)) = (view.addr2(), view.addr3()) else {
            return Route::Drop(DropReason::Malformed);
        };
        let receiver = view.addr1();
        // The BSSID by the DS bits: the transmitter for From-DS frames, address 3 otherwise.
        let bssid = if flags.from_ds() { addr2 } else { addr3 };

        if receiver.is_group() {
            let members: Vec<GuestId> = if is_data {
                let mut v: Vec<_> = self
                    .guests
                    .iter()
                    .filter(|(_, m)| m.bssid == Some(bssid))
                    .map(|(g, _)| *g)
                    .collect();
                v.sort_unstable();
                v
            } else {
                let mut v: Vec<_> = self.guests.keys().copied().collect();
                v.sort_unstable();
                v
            };
            return if members.is_empty() {
                Route::Drop(DropReason::NoMemberOfBss)
            } else {
                Route::Group(members)
            };
        }

        let Some(owner) = self.by_mac.get(&receiver).copied() else {
            return Route::Drop(DropReason::UnknownReceiver);
        };
        match self.guests.get(&owner).and_then(|m| m.bssid) {
            // Associated: only frames of its own BSS (management from other APs, e.g. probe
            // responses while roaming scans, are still the station's: it owns the address).
            Some(own) if is_data && own != bssid => Route::Drop(DropReason::ForeignBss),
            _ => Route::Unicast(owner),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::{DataFrame, DsDirection, EtherType, EthernetFrame};

    const AP1: MacAddr = MacAddr([0x02, 0xa0, 0, 0, 0, 1]);
    const AP2: MacAddr = MacAddr([0x02, 0xa0, 0, 0, 0, 2]);

    fn sta(n: u8) -> MacAddr {
        MacAddr([0x02, 0x5a, 0, 0, 0, n])
    }

    fn data_from_ap(bssid: MacAddr, dst: MacAddr, protected: bool) -> Vec<u8> {
        let eth = EthernetFrame {
            dst,
            src: MacAddr([0x02, 0xee, 0, 0, 0, 9]),
            ethertype: EtherType::Ipv4,
            payload: vec![0x45; 20].into(),
        };
        let mut frame: DataFrame = eth.to_data(DsDirection::FromAp { bssid }, None);
        let flags = frame.header.frame_control.flags;
        frame.header.frame_control.flags = flags.with(crate::wire::FcFlags::PROTECTED, protected);
        let mut out = Vec::new();
        frame.emit(&mut out);
        out
    }

    fn table() -> Demux {
        let mut d = Demux::new();
        d.insert(GuestId(1), sta(1)).unwrap();
        d.insert(GuestId(2), sta(2)).unwrap();
        d.insert(GuestId(3), sta(3)).unwrap();
        d.set_bssid(GuestId(1), Some(AP1));
        d.set_bssid(GuestId(2), Some(AP1));
        d.set_bssid(GuestId(3), Some(AP2));
        d
    }

    #[test]
    fn unicast_goes_to_its_owner_only() {
        let mut d = table();
        assert_eq!(
            d.route(&data_from_ap(AP1, sta(2), true)),
            Route::Unicast(GuestId(2))
        );
        assert_eq!(
            d.route(&data_from_ap(AP2, sta(3), true)),
            Route::Unicast(GuestId(3))
        );
        // A frame for station 3 from a BSS it is not in.
        assert_eq!(
            d.route(&data_from_ap(AP1, sta(3), true)),
            Route::Drop(DropReason::ForeignBss)
        );
        assert_eq!(
            d.route(&data_from_ap(AP1, sta(9), true)),
            Route::Drop(DropReason::UnknownReceiver)
        );
        assert_eq!(d.dropped(DropReason::ForeignBss), 1);
        assert_eq!(d.dropped(DropReason::UnknownReceiver), 1);
    }

    #[test]
    fn group_data_goes_to_the_members_of_its_bss() {
        let mut d = table();
        let bcast = data_from_ap(AP1, MacAddr::BROADCAST, true);
        assert_eq!(d.route(&bcast), Route::Group(vec![GuestId(1), GuestId(2)]));
        let other = data_from_ap(MacAddr([0x02, 0xa0, 0, 0, 0, 7]), MacAddr::BROADCAST, true);
        assert_eq!(d.route(&other), Route::Drop(DropReason::NoMemberOfBss));
    }

    #[test]
    fn sources_are_checked_and_addresses_unique() {
        let mut d = table();
        assert!(d.check_source(GuestId(1), sta(1)));
        assert!(!d.check_source(GuestId(1), sta(2)));
        assert!(!d.check_source(GuestId(9), sta(1)));
        assert_eq!(
            d.insert(GuestId(4), sta(1)),
            Err(DemuxError::AddressInUse { mac: sta(1) })
        );
        assert_eq!(
            d.insert(GuestId(4), MacAddr::BROADCAST),
            Err(DemuxError::GroupAddress {
                mac: MacAddr::BROADCAST
            })
        );
        // Re-addressing frees the old address.
        d.insert(GuestId(1), sta(8)).unwrap();
        assert_eq!(d.owner_of(sta(1)), None);
        d.remove(GuestId(2));
        assert_eq!(
            d.route(&data_from_ap(AP1, sta(2), true)),
            Route::Drop(DropReason::UnknownReceiver)
        );
    }

    #[test]
    fn junk_and_control_frames_are_dropped() {
        let mut d = table();
        assert_eq!(d.route(&[]), Route::Drop(DropReason::Malformed));
        assert_eq!(d.route(&[0x08]), Route::Drop(DropReason::Malformed));
        // An ACK to station 1.
        let mut ack = vec![0xd4, 0x00, 0, 0];
        ack.extend_from_slice(&sta(1).0);
        assert_eq!(d.route(&ack), Route::Drop(DropReason::Control));
    }

    proptest! {
        /// No unicast frame ever reaches a guest that does not own its receiver address, for
        /// any table and any frame bytes.
        #[test]
        fn unicast_never_reaches_a_non_owner(
            assoc in proptest::collection::vec(0u8..3, 8),
            frame in proptest::collection::vec(any::<u8>(), 0..64),
            pick in 0u8..12,
            ds in 0u8..4,
        ) {
            let mut d = Demux::new();
            for (i, a) in assoc.iter().enumerate() {
                let g = GuestId(i as u32);
                d.insert(g, sta(i as u8)).unwrap();
                d.set_bssid(g, [None, Some(AP1), Some(AP2)][*a as usize]);
            }
            // Half of the cases: a data frame with a receiver from the table (or near it).
            let mut frame = frame;
            if frame.len() >= 24 && pick < 10 {
                frame[0] = 0x08;
                frame[1] = (frame[1] & !0x03) | ds;
                frame[4..10].copy_from_slice(&sta(pick).0);
            }
            match d.route(&frame) {
                Route::Unicast(g) => {
                    let ra = MacAddr::from_slice(&frame[4..]).unwrap();
                    prop_assert_eq!(d.mac_of(g), Some(ra));
                }
                Route::Group(gs) => {
                    prop_assert!(!gs.is_empty());
                    prop_assert!(frame[4] & 1 == 1, "group route for a unicast receiver");
                }
                Route::Drop(_) => {}
            }
            prop_assert!(ds != 1 || pick >= 10 || frame.len() < 24 || matches!(d.route(&frame), Route::Drop(DropReason::ToDs)));
        }
    }
}
