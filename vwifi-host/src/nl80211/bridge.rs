//! The MAC-translating bridge behind a shared station interface (`[radio] max_interfaces`):
//! when the card has no room for another station interface, guests joining the network a
//! guest's interface is on share that interface's association. On the air there is one
//! station (the interface's address); behind it, in the daemon, each guest keeps its own MAC,
//! as a Wi-Fi client bridge does (an AP takes frames only from the address it associated):
//!
//! - out: the source address becomes the station's; so do the sender hardware address of
//!   ARP and the link-layer address options of IPv6 neighbour discovery (checksum redone); a
//!   DHCP request asks for a broadcast reply (the AP would not carry a reply to the guest's
//!   own address); the guest's IPv4 and IPv6 addresses are learned (first come, first served:
//!   an address another guest holds is not taken over);
//! - in: unicast to the station goes to the guest holding its destination IP address (ARP by
//!   the target protocol address), with the guest's MAC put back; a DHCP reply goes to the
//!   guest whose client hardware address it names; other group frames go to every guest;
//!   unicast for an address nobody holds is dropped, so that no guest sees another's.
//!
//! The interface's own guest (the owner, whose MAC is the station's) is a member like the
//! others, without translation. Pure code: the station's receive thread and the driver call it.

use vwifi_core::demux::GuestId;
use vwifi_core::MacAddr;

/// The most addresses of each family learned for one guest.
const MAX_ADDRS: usize = 8;
const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const DHCP_SERVER: u16 = 67;
const DHCP_CLIENT: u16 = 68;
/// The BOOTP broadcast flag (RFC 2131 section 2).
const BOOTP_BROADCAST: u8 = 0x80;

/// Where a frame from the air goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deliver {
    /// To this guest (the frame rewritten for it).
    Guest(GuestId),
    /// To every guest sharing the interface (a group frame).
    All,
    /// To nobody.
    Drop,
}

/// One guest behind the shared interface.
#[derive(Debug, Clone)]
struct Member {
    guest: GuestId,
    mac: MacAddr,
    v4: Vec<[u8; 4]>,
    v6: Vec<[u8; 16]>,
}

/// The guests sharing one station interface.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    station: MacAddr,
    members: Vec<Member>,
}

fn be16(f: &[u8], at: usize) -> Option<u16> {
    f.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn ethertype(f: &[u8]) -> Option<u16> {
    be16(f, 12)
}

fn arr<const N: usize>(f: &[u8], at: usize) -> Option<[u8; N]> {
    f.get(at..at + N)?.try_into().ok()
}

/// The offset of the IPv4 payload and its protocol.
fn ipv4_payload(f: &[u8]) -> Option<(usize, u8)> {
    let ihl = usize::from(f.get(ETH_HLEN)? & 0x0f) * 4;
    (ihl >= 20).then_some((ETH_HLEN + ihl, *f.get(ETH_HLEN + 9)?))
}

/// The UDP ports of an IPv4 frame and the offset of the UDP header.
fn udp4(f: &[u8]) -> Option<(usize, u16, u16)> {
    let (at, proto) = ipv4_payload(f)?;
    (proto == IPPROTO_UDP).then_some((at, be16(f, at)?, be16(f, at + 2)?))
}

/// The client hardware address of a DHCP reply (server to client port).
fn dhcp_reply_chaddr(f: &[u8]) -> Option<MacAddr> {
    let (at, sport, dport) = udp4(f)?;
    if sport != DHCP_SERVER || dport != DHCP_CLIENT {
        return None;
    }
    MacAddr::from_slice(f.get(at + 8 + 28..at + 8 + 34)?)
}

/// The ICMPv6 checksum over the IPv6 pseudo-header and the message at `at`.
fn icmpv6_checksum(f: &[u8], at: usize) -> Option<u16> {
    let msg = f.get(at..)?;
    let src = f.get(ETH_HLEN + 8..ETH_HLEN + 24)?;
    let dst = f.get(ETH_HLEN + 24..ETH_HLEN + 40)?;
    let len = u32::try_from(msg.len()).ok()?;
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair.first().copied().unwrap_or(0)) << 8;
            let lo = u32::from(pair.get(1).copied().unwrap_or(0));
            sum = sum.wrapping_add(hi | lo);
        }
    };
    add(src);
    add(dst);
    add(&len.to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    // The checksum field itself counts as zero.
    add(msg.get(..2)?);
    add(msg.get(4..)?);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    Some(!(u16::try_from(sum).ok()?))
}

/// Replaces the source and target link-layer address options (types 1 and 2) of a neighbour
/// discovery message that name `from` with `to`, and redoes the checksum. Other frames are
/// left alone.
fn rewrite_nd(f: &mut [u8], from: MacAddr, to: MacAddr) {
    if ethertype(f) != Some(ETH_P_IPV6) || f.get(ETH_HLEN + 6) != Some(&IPPROTO_ICMPV6) {
        return;
    }
    let at = ETH_HLEN + 40;
    // Router Solicitation 133, Advertisement 134, Neighbour Solicitation 135, Advert. 136.
    let options_at = match f.get(at) {
        Some(133) => at + 8,
        Some(134) => at + 16,
        Some(135 | 136) => at + 24,
        _ => return,
    };
    let mut changed = false;
    let mut o = options_at;
    while let (Some(&ty), Some(&len)) = (f.get(o), f.get(o + 1)) {
        let len = usize::from(len) * 8;
        if len == 0 {
            break;
        }
        if (ty == 1 || ty == 2) && f.get(o + 2..o + 8) == Some(&from.octets()[..]) {
            if let Some(slot) = f.get_mut(o + 2..o + 8) {
                slot.copy_from_slice(&to.octets());
                changed = true;
            }
        }
        o += len;
    }
    if changed {
        if let Some(sum) = icmpv6_checksum(f, at) {
            if let Some(slot) = f.get_mut(at + 2..at + 4) {
                slot.copy_from_slice(&sum.to_be_bytes());
            }
        }
    }
}

fn put_mac(f: &mut [u8], at: usize, mac: MacAddr) {
    if let Some(slot) = f.get_mut(at..at + 6) {
        slot.copy_from_slice(&mac.octets());
    }
}

impl Table {
    /// The table of the interface with address `station`, owned by guest `owner`.
    pub(crate) fn new(station: MacAddr, owner: GuestId) -> Self {
        Self {
            station,
            members: vec![Member {
                guest: owner,
                mac: station,
                v4: Vec::new(),
                v6: Vec::new(),
            }],
        }
    }

    /// Whether guests other than the owner share the interface.
    pub(crate) fn shared(&self) -> bool {
        self.members.len() > 1
    }

    /// The guests sharing the interface (the owner first).
    pub(crate) fn guests(&self) -> Vec<GuestId> {
        self.members.iter().map(|m| m.guest).collect()
    }

    /// Adds a guest with its own `mac`; `false` if that address is already behind the
    /// interface (another guest's, or the station's).
    pub(crate) fn add(&mut self, guest: GuestId, mac: MacAddr) -> bool {
        if self
            .members
            .iter()
            .any(|m| m.mac == mac || m.guest == guest)
        {
            return false;
        }
        self.members.push(Member {
            guest,
            mac,
            v4: Vec::new(),
            v6: Vec::new(),
        });
        true
    }

    /// Removes a guest (never the owner).
    pub(crate) fn remove(&mut self, guest: GuestId) {
        if let Some(i) = self.members.iter().skip(1).position(|m| m.guest == guest) {
            self.members.remove(i + 1);
        }
    }

    /// Removes every guest but the owner, returning them.
    pub(crate) fn clear(&mut self) -> Vec<GuestId> {
        self.members.drain(1..).map(|m| m.guest).collect()
    }

    /// Notes the addresses a frame from `guest` uses (IPv4 source, ARP sender, IPv6 source).
    fn learn(&mut self, guest: GuestId, f: &[u8]) {
        let (v4, v6) = match ethertype(f) {
            Some(ETH_P_IP) => (arr::<4>(f, ETH_HLEN + 12), None),
            Some(ETH_P_ARP) => (arr::<4>(f, ETH_HLEN + 14), None),
            Some(ETH_P_IPV6) => (None, arr::<16>(f, ETH_HLEN + 8)),
            _ => (None, None),
        };
        let v4 = v4.filter(|a| *a != [0; 4]);
        let v6 = v6.filter(|a| *a != [0; 16]);
        let taken4 = v4.is_some_and(|a| self.members.iter().any(|m| m.v4.contains(&a)));
        let taken6 = v6.is_some_and(|a| self.members.iter().any(|m| m.v6.contains(&a)));
        let Some(m) = self.members.iter_mut().find(|m| m.guest == guest) else {
            return;
        };
        if let (Some(a), false) = (v4, taken4) {
            if m.v4.len() < MAX_ADDRS {
                m.v4.push(a);
            }
        }
        if let (Some(a), false) = (v6, taken6) {
            if m.v6.len() < MAX_ADDRS {
                m.v6.push(a);
            }
        }
    }

    /// A frame of the owner going out: its addresses are learned (no translation).
    pub(crate) fn owner_out(&mut self, f: &[u8]) {
        if let Some(owner) = self.members.first().map(|m| m.guest) {
            self.learn(owner, f);
        }
    }

    /// Translates a frame of a sharing guest for the air; `false` if it may not go (not from
    /// the guest's own address, or the guest is not a member).
    pub(crate) fn outbound(&mut self, guest: GuestId, f: &mut [u8]) -> bool {
        let Some(mac) = self
            .members
            .iter()
            .find(|m| m.guest == guest)
            .map(|m| m.mac)
        else {
            return false;
        };
        if f.get(6..12) != Some(&mac.octets()[..]) {
            return false;
        }
        self.learn(guest, f);
        let station = self.station;
        put_mac(f, 6, station);
        match ethertype(f) {
            Some(ETH_P_ARP) if f.get(ETH_HLEN + 8..ETH_HLEN + 14) == Some(&mac.octets()[..]) => {
                put_mac(f, ETH_HLEN + 8, station);
            }
            Some(ETH_P_IP) => {
                if let Some((at, DHCP_CLIENT, DHCP_SERVER)) = udp4(f) {
                    // The reply must come broadcast; the UDP checksum (optional over IPv4)
                    // is cleared rather than redone.
                    if let Some(flags) = f.get_mut(at + 8 + 10) {
                        *flags |= BOOTP_BROADCAST;
                    }
                    if let Some(sum) = f.get_mut(at + 6..at + 8) {
                        sum.copy_from_slice(&[0, 0]);
                    }
                }
            }
            Some(ETH_P_IPV6) => rewrite_nd(f, mac, station),
            _ => {}
        }
        true
    }

    /// Where a frame from the air goes, rewritten for its guest if it goes to one.
    pub(crate) fn inbound(&self, f: &mut [u8]) -> Deliver {
        let Some(dst) = f.get(0..6).and_then(MacAddr::from_slice) else {
            return Deliver::Drop;
        };
        if let Some(chaddr) = dhcp_reply_chaddr(f) {
            let m = self
                .members
                .iter()
                .find(|m| m.mac == chaddr || (chaddr == self.station && m.mac == self.station));
            return match m {
                Some(m) => {
                    if !dst.is_group() {
                        put_mac(f, 0, m.mac);
                    }
                    Deliver::Guest(m.guest)
                }
                None => Deliver::Drop,
            };
        }
        if dst.is_group() {
            return Deliver::All;
        }
        if dst != self.station {
            return Deliver::Drop;
        }
        let member = match ethertype(f) {
            Some(ETH_P_IP) => arr::<4>(f, ETH_HLEN + 16)
                .and_then(|a| self.members.iter().find(|m| m.v4.contains(&a))),
            Some(ETH_P_ARP) => arr::<4>(f, ETH_HLEN + 24)
                .and_then(|a| self.members.iter().find(|m| m.v4.contains(&a))),
            Some(ETH_P_IPV6) => arr::<16>(f, ETH_HLEN + 24)
                .and_then(|a| self.members.iter().find(|m| m.v6.contains(&a))),
            // Anything else unicast is the owner's (the interface is its own).
            _ => self.members.first(),
        };
        let Some(m) = member else {
            return Deliver::Drop;
        };
        if m.mac != self.station {
            put_mac(f, 0, m.mac);
            if ethertype(f) == Some(ETH_P_ARP)
                && f.get(ETH_HLEN + 18..ETH_HLEN + 24) == Some(&self.station.octets()[..])
            {
                put_mac(f, ETH_HLEN + 18, m.mac);
            }
        }
        Deliver::Guest(m.guest)
    }

    /// The MAC of a member.
    pub(crate) fn mac_of(&self, guest: GuestId) -> Option<MacAddr> {
        self.members
            .iter()
            .find(|m| m.guest == guest)
            .map(|m| m.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STA: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x10]);
    const G2: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x22]);
    const G3: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x33]);
    const AP: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);

    fn eth(dst: MacAddr, src: MacAddr, ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = dst.octets().to_vec();
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    fn arp(op: u16, sha: MacAddr, spa: [u8; 4], tha: MacAddr, tpa: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4];
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(&sha.octets());
        p.extend_from_slice(&spa);
        p.extend_from_slice(&tha.octets());
        p.extend_from_slice(&tpa);
        p
    }

    fn table() -> Table {
        let mut t = Table::new(STA, GuestId(1));
        assert!(t.add(GuestId(2), G2));
        assert!(t.add(GuestId(3), G3));
        assert!(
            !t.add(GuestId(4), G3),
            "an address already behind the interface"
        );
        assert!(!t.add(GuestId(5), STA));
        t
    }

    #[test]
    fn each_guest_gets_only_its_own_unicast_back() {
        let mut t = table();
        t.owner_out(&eth(
            AP,
            STA,
            ETH_P_IP,
            &ipv4([10, 0, 0, 1], [10, 0, 0, 254], 1, &[]),
        ));
        for (g, mac, ip) in [(2, G2, 2u8), (3, G3, 3)] {
            let mut out = eth(
                AP,
                mac,
                ETH_P_IP,
                &ipv4([10, 0, 0, ip], [10, 0, 0, 254], 1, &[]),
            );
            assert!(t.outbound(GuestId(g), &mut out));
            assert_eq!(&out[6..12], &STA.octets(), "the air sees the station only");
        }
        for (ip, g, mac) in [(1u8, 1, STA), (2, 2, G2), (3, 3, G3)] {
            let mut back = eth(
                STA,
                AP,
                ETH_P_IP,
                &ipv4([10, 0, 0, 254], [10, 0, 0, ip], 1, &[]),
            );
            assert_eq!(t.inbound(&mut back), Deliver::Guest(GuestId(g)));
            assert_eq!(&back[0..6], &mac.octets());
        }
        // An address nobody holds: dropped, not handed to some guest.
        let mut stray = eth(
            STA,
            AP,
            ETH_P_IP,
            &ipv4([10, 0, 0, 254], [10, 0, 0, 9], 1, &[]),
        );
        assert_eq!(t.inbound(&mut stray), Deliver::Drop);
        // Group frames go to all; unicast to another station is not ours.
        let mut bc = eth(
            MacAddr::BROADCAST,
            AP,
            ETH_P_IP,
            &ipv4([10, 0, 0, 254], [255; 4], 17, &[0; 8]),
        );
        assert_eq!(t.inbound(&mut bc), Deliver::All);
        let mut other = eth(AP, G2, ETH_P_IP, &[]);
        assert_eq!(t.inbound(&mut other), Deliver::Drop);
    }

    #[test]
    fn a_guest_cannot_take_another_guests_address_or_send_from_a_foreign_mac() {
        let mut t = table();
        let mut a = eth(
            AP,
            G2,
            ETH_P_IP,
            &ipv4([10, 0, 0, 2], [10, 0, 0, 254], 1, &[]),
        );
        assert!(t.outbound(GuestId(2), &mut a));
        // Guest 3 claims .2 too: not learned for it; replies still go to guest 2.
        let mut b = eth(
            AP,
            G3,
            ETH_P_IP,
            &ipv4([10, 0, 0, 2], [10, 0, 0, 254], 1, &[]),
        );
        assert!(t.outbound(GuestId(3), &mut b));
        let mut back = eth(
            STA,
            AP,
            ETH_P_IP,
            &ipv4([10, 0, 0, 254], [10, 0, 0, 2], 1, &[]),
        );
        assert_eq!(t.inbound(&mut back), Deliver::Guest(GuestId(2)));
        let mut spoof = eth(AP, G2, ETH_P_IP, &[0; 20]);
        assert!(!t.outbound(GuestId(3), &mut spoof));
        assert!(!t.outbound(GuestId(9), &mut eth(AP, G2, ETH_P_IP, &[0; 20])));
        t.remove(GuestId(2));
        assert_eq!(t.inbound(&mut back.clone()), Deliver::Drop);
        assert_eq!(t.clear(), vec![GuestId(3)]);
        assert!(!t.shared());
    }

    #[test]
    fn arp_is_translated_both_ways() {
        let mut t = table();
        let mut req = eth(
            MacAddr::BROADCAST,
            G2,
            ETH_P_ARP,
            &arp(1, G2, [10, 0, 0, 2], MacAddr::ZERO, [10, 0, 0, 254]),
        );
        assert!(t.outbound(GuestId(2), &mut req));
        assert_eq!(&req[ETH_HLEN + 8..ETH_HLEN + 14], &STA.octets());
        let mut reply = eth(
            STA,
            AP,
            ETH_P_ARP,
            &arp(2, AP, [10, 0, 0, 254], STA, [10, 0, 0, 2]),
        );
        assert_eq!(t.inbound(&mut reply), Deliver::Guest(GuestId(2)));
        assert_eq!(&reply[0..6], &G2.octets());
        assert_eq!(&reply[ETH_HLEN + 18..ETH_HLEN + 24], &G2.octets());
    }

    #[test]
    fn dhcp_asks_for_broadcast_replies_and_they_go_by_client_address() {
        let mut t = table();
        let mut bootp = vec![0u8; 240];
        bootp[0] = 1;
        bootp[28..34].copy_from_slice(&G3.octets());
        let mut udp = vec![0, 68, 0, 67, 0, 0, 0x12, 0x34];
        udp.extend_from_slice(&bootp);
        let mut discover = eth(
            MacAddr::BROADCAST,
            G3,
            ETH_P_IP,
            &ipv4([0; 4], [255; 4], 17, &udp),
        );
        assert!(t.outbound(GuestId(3), &mut discover));
        let at = ETH_HLEN + 20;
        assert_eq!(discover[at + 8 + 10] & BOOTP_BROADCAST, BOOTP_BROADCAST);
        assert_eq!(&discover[at + 6..at + 8], &[0, 0]);
        let mut offer_udp = vec![0, 67, 0, 68, 0, 0, 0, 0];
        let mut offer = bootp.clone();
        offer[0] = 2;
        offer_udp.extend_from_slice(&offer);
        let mut bc = eth(
            MacAddr::BROADCAST,
            AP,
            ETH_P_IP,
            &ipv4([10, 0, 0, 254], [255; 4], 17, &offer_udp),
        );
        assert_eq!(t.inbound(&mut bc), Deliver::Guest(GuestId(3)));
        let mut uc = eth(
            STA,
            AP,
            ETH_P_IP,
            &ipv4([10, 0, 0, 254], [10, 0, 0, 3], 17, &offer_udp),
        );
        assert_eq!(t.inbound(&mut uc), Deliver::Guest(GuestId(3)));
        assert_eq!(&uc[0..6], &G3.octets());
    }

    #[test]
    fn neighbour_discovery_options_are_translated_with_a_valid_checksum() {
        let mut t = table();
        let src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let dst = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1];
        let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        ns.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ns.extend_from_slice(&[1, 1]);
        ns.extend_from_slice(&G2.octets());
        let mut ip6 = vec![0x60, 0, 0, 0, 0, u8::try_from(ns.len()).unwrap(), 58, 255];
        ip6.extend_from_slice(&src);
        ip6.extend_from_slice(&dst);
        ip6.extend_from_slice(&ns);
        let mut f = eth(MacAddr([0x33, 0x33, 0xff, 0, 0, 1]), G2, ETH_P_IPV6, &ip6);
        assert!(t.outbound(GuestId(2), &mut f));
        let at = ETH_HLEN + 40;
        assert_eq!(&f[at + 26..at + 32], &STA.octets());
        let sum = u16::from_be_bytes([f[at + 2], f[at + 3]]);
        assert_eq!(Some(sum), icmpv6_checksum(&f, at));
        assert_ne!(sum, 0);
        // Replies to the learned link-local address go to guest 2.
        let mut back = eth(STA, AP, ETH_P_IPV6, &{
            let mut p = vec![0x60, 0, 0, 0, 0, 0, 58, 255];
            p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            p.extend_from_slice(&src);
            p
        });
        assert_eq!(t.inbound(&mut back), Deliver::Guest(GuestId(2)));
        assert_eq!(t.mac_of(GuestId(2)), Some(G2));
    }

    #[test]
    fn truncated_and_random_frames_never_panic() {
        let mut t = table();
        let mut seed = 7u32;
        for len in 0..200 {
            let mut f: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            if f.len() >= 12 {
                f[6..12].copy_from_slice(&G2.octets());
            }
            let _ = t.outbound(GuestId(2), &mut f.clone());
            let _ = t.inbound(&mut f);
            for ty in [ETH_P_IP, ETH_P_ARP, ETH_P_IPV6] {
                if f.len() >= 14 {
                    f[12..14].copy_from_slice(&ty.to_be_bytes());
                    let _ = t.outbound(GuestId(2), &mut f.clone());
                    f[0..6].copy_from_slice(&STA.octets());
                    let _ = t.inbound(&mut f);
                }
            }
        }
    }
}
