//! The traffic-control plumbing of the kernel data path: a namespace guest's veth joined to its
//! station interface in the kernel, both ways, with `clsact` filters (`cls_u32`) and the
//! `mirred` and `gact` actions — what `tc` would install with
//!
//! ```text
//! tc qdisc add dev OUTER clsact
//! tc filter add dev OUTER ingress prio 1 protocol 0x88b5 u32 match ether src MAC        # pass up: in-band control
//! tc filter add dev OUTER ingress prio 2 protocol all u32 match ether src MAC \
//!     action mirred egress redirect dev STATION                                         # the guest's data, to the air
//! tc filter add dev OUTER ingress prio 3 protocol all u32 match u32 0 0 action drop     # another source: spoofed
//! tc qdisc add dev STATION clsact
//! tc filter add dev STATION ingress prio 1 protocol 0x88b5 u32 match u32 0 0 action drop  # only the host speaks control
//! tc filter add dev STATION ingress prio 2 protocol 0x888e u32 match u32 0 0 action drop  # EAPOL stays on the control port
//! tc filter add dev STATION ingress prio 3 protocol all u32 match u32 0 0 \
//!     action mirred egress redirect dev OUTER                                           # from the air, to the guest
//! ```
//!
//! At `clsact` ingress the packet's data starts at the network header, so the Ethernet source
//! address is matched at offsets -8 (four bytes) and -4 (two bytes).
//!
//! The station's side takes a shorter way when the kernel allows it: one direct-action `bpf`
//! filter running [`bpf::peer_redirect_program`], what
//!
//! ```text
//! tc filter add dev STATION ingress prio 1 protocol all bpf direct-action fd PROG name vwifi_peer
//! ```
//!
//! would install. It drops the same two EtherTypes and hands the rest with `bpf_redirect_peer`
//! to the ingress of the outer end's peer (the container's `wlan0`): the frame enters the
//! container's stack in the same softirq, without the veth's backlog pass that a `mirred`
//! redirect to the outer end costs. When the program cannot be loaded or attached (no
//! `CAP_BPF`, a kernel before 5.10, no `cls_bpf`), [`join`] installs the three `u32` filters
//! above and says why ([`Receive::Mirred`]).

use std::io;

use netlink_packet_core::{DefaultNla, Emitable as _, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirrorOption, TcActionOption,
    TcActionType, TcAttribute, TcBpfFlags, TcFilterBpf, TcFilterBpfOption, TcFilterU32Option,
    TcHandle, TcMessage, TcMirror, TcMirrorActionType, TcOption, TcU32Key, TcU32Selector,
    TcU32SelectorFlags,
};
use netlink_packet_route::RouteNetlinkMessage;
use vwifi_core::MacAddr;

use crate::bpf::{self, BpfError, Program};
use crate::Rtnl;

/// How [`join`] takes the station interface's frames to the guest.
#[derive(Debug)]
pub enum Receive {
    /// The BPF classifier: `bpf_redirect_peer` into the ingress of the container's veth end
    /// (no backlog pass).
    Peer,
    /// The `u32` filters and a `mirred` redirect to the outer end (a backlog pass through the
    /// veth), because the classifier could not be used for this reason.
    Mirred(BpfError),
}

/// The priority of the station interface's `bpf` filter.
const PEER_PRIO: u16 = 1;

/// `ETH_P_ALL`: a filter for every protocol.
const ETH_P_ALL: u16 = 0x0003;
/// EAPOL.
const ETH_P_PAE: u16 = 0x888e;
/// `TCA_GACT_PARMS`: the `tc_gen` of a `gact` action.
const TCA_GACT_PARMS: u16 = 2;
/// `EEXIST`.
const EEXIST: i32 = 17;
/// Where the Ethernet source address starts, relative to the network header.
const ETH_SRC_OFFSET: i32 = -8;

/// What a filter does with the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing: the packet goes on up the stack.
    Pass,
    /// Drop it.
    Drop,
    /// Steal it and send it out of link `ifindex`.
    Redirect(u32),
}

/// What a filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Every packet (of the filter's protocol).
    All,
    /// Packets from this Ethernet source address.
    Source(MacAddr),
}

/// One ingress filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Filter {
    prio: u16,
    protocol: u16,
    matches: Match,
    verdict: Verdict,
}

/// The ingress filters of the guest's side (`outer`, the host's end of its veth): in-band
/// control from the station's address goes up to the daemon, the rest from that address goes
/// to the station's interface, anything else is dropped.
fn outer_filters(station: MacAddr, station_if: u32) -> [Filter; 3] {
    [
        Filter {
            prio: 1,
            protocol: vwifi_core::proto::ETHERTYPE,
            matches: Match::Source(station),
            verdict: Verdict::Pass,
        },
        Filter {
            prio: 2,
            protocol: ETH_P_ALL,
            matches: Match::Source(station),
            verdict: Verdict::Redirect(station_if),
        },
        Filter {
            prio: 3,
            protocol: ETH_P_ALL,
            matches: Match::All,
            verdict: Verdict::Drop,
        },
    ]
}

/// The ingress filters of the station's interface: vwifi's control EtherType and EAPOL never
/// reach the guest, everything else does.
fn station_filters(outer: u32) -> [Filter; 3] {
    [
        Filter {
            prio: 1,
            protocol: vwifi_core::proto::ETHERTYPE,
            matches: Match::All,
            verdict: Verdict::Drop,
        },
        Filter {
            prio: 2,
            protocol: ETH_P_PAE,
            matches: Match::All,
            verdict: Verdict::Drop,
        },
        Filter {
            prio: 3,
            protocol: ETH_P_ALL,
            matches: Match::All,
            verdict: Verdict::Redirect(outer),
        },
    ]
}

/// Guards the guest's veth end `outer` before it is up: in-band control from `station` passes
/// up, everything else is dropped (so nothing of the container reaches the host's stack while
/// its station has no interface). A `clsact` there already is taken for ours (a daemon that
/// stopped left it): its filters stay.
pub fn guard(rtnl: &mut Rtnl, outer: u32, station: MacAddr) -> io::Result<()> {
    match rtnl.request(
        RouteNetlinkMessage::NewQueueDiscipline(clsact(outer)?),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(EEXIST) => return Ok(()),
        Err(e) => return Err(e),
    }
    let [control, _, rest] = outer_filters(station, 0);
    for f in [control, rest] {
        add(rtnl, outer, &f)?;
    }
    Ok(())
}

/// Joins the guest's veth end `outer` (guarded by [`guard`]) and the station's interface
/// `station_if` (both in the socket's namespace) in the kernel: the outer end's redirect is
/// replaced, the station interface's filters are set afresh: the BPF classifier if the kernel
/// takes it, else the `u32`/`mirred` filters (the answer says which, and why).
pub fn join(rtnl: &mut Rtnl, outer: u32, station: MacAddr, station_if: u32) -> io::Result<Receive> {
    let [_, redirect, _] = outer_filters(station, station_if);
    // A redirect to an interface of an earlier run goes first (while it is gone, the frames
    // fall through to the drop below it).
    let _ = rtnl.request(
        RouteNetlinkMessage::DelTrafficFilter(filter_header(
            outer,
            redirect.prio,
            redirect.protocol,
        )?),
        0,
    );
    add(rtnl, outer, &redirect)?;
    clear(rtnl, station_if);
    rtnl.request(
        RouteNetlinkMessage::NewQueueDiscipline(clsact(station_if)?),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    match add_peer_redirect(rtnl, station_if, outer) {
        Ok(()) => Ok(Receive::Peer),
        Err(why) => {
            for f in station_filters(outer) {
                add(rtnl, station_if, &f)?;
            }
            Ok(Receive::Mirred(why))
        }
    }
}

/// Loads the classifier for `outer` and attaches it to link `station_if`'s ingress (the filter
/// holds the program; our descriptor is closed on return).
fn add_peer_redirect(rtnl: &mut Rtnl, station_if: u32, outer: u32) -> Result<(), BpfError> {
    let program = Program::peer_redirect(outer)?;
    let msg = bpf_filter(station_if, PEER_PRIO, program.fd()).map_err(BpfError::Attach)?;
    rtnl.request(
        RouteNetlinkMessage::NewTrafficFilter(msg),
        NLM_F_CREATE | NLM_F_EXCL,
    )
    .map(drop)
    .map_err(BpfError::Attach)
}

/// The direct-action `bpf` filter running program `fd` on link `index`'s ingress, every
/// protocol.
fn bpf_filter(index: u32, prio: u16, fd: u32) -> io::Result<TcMessage> {
    let mut msg = filter_header(index, prio, ETH_P_ALL)?;
    msg.attributes
        .push(TcAttribute::Kind(TcFilterBpf::KIND.into()));
    msg.attributes.push(TcAttribute::Options(vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(fd)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(bpf::PROGRAM_NAME.into())),
        TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
    ]));
    Ok(msg)
}

/// Adds filter `f` to link `index`'s ingress.
fn add(rtnl: &mut Rtnl, index: u32, f: &Filter) -> io::Result<()> {
    rtnl.request(
        RouteNetlinkMessage::NewTrafficFilter(filter(index, f)?),
        NLM_F_CREATE | NLM_F_EXCL,
    )
    .map(drop)
}

/// Removes link `index`'s `clsact` qdisc and its filters (none: nothing to do).
pub fn clear(rtnl: &mut Rtnl, index: u32) {
    if let Ok(msg) = clsact(index) {
        let _ = rtnl.request(RouteNetlinkMessage::DelQueueDiscipline(msg), 0);
    }
}

fn ifindex(index: u32) -> io::Result<i32> {
    i32::try_from(index).map_err(|_| io::Error::other("interface index out of range"))
}

/// The `clsact` qdisc of link `index`.
fn clsact(index: u32) -> io::Result<TcMessage> {
    let mut msg = TcMessage::with_index(ifindex(index)?);
    msg.header.parent = TcHandle::CLSACT;
    msg.header.handle = TcHandle {
        major: u16::MAX,
        minor: 0,
    };
    msg.attributes.push(TcAttribute::Kind("clsact".into()));
    Ok(msg)
}

/// A filter message on link `index`'s ingress for priority `prio` and `protocol`.
fn filter_header(index: u32, prio: u16, protocol: u16) -> io::Result<TcMessage> {
    let mut msg = TcMessage::with_index(ifindex(index)?);
    msg.header.parent = TcHandle {
        major: u16::MAX,
        minor: TcHandle::MIN_INGRESS,
    };
    // tcm_info: the priority above, the protocol (network byte order) below.
    msg.header.info = (u32::from(prio) << 16) | u32::from(protocol.to_be());
    Ok(msg)
}

/// The `u32` filter `f` on link `index`'s ingress.
fn filter(index: u32, f: &Filter) -> io::Result<TcMessage> {
    let mut msg = filter_header(index, f.prio, f.protocol)?;
    let mut sel = TcU32Selector::default();
    sel.flags = TcU32SelectorFlags::Terminal;
    sel.keys = keys(f.matches);
    sel.nkeys = u8::try_from(sel.keys.len()).unwrap_or(u8::MAX);
    let mut options = vec![TcOption::U32(TcFilterU32Option::Selector(sel))];
    if let Some(action) = action(f.verdict) {
        options.push(TcOption::U32(TcFilterU32Option::Action(vec![action])));
    }
    msg.attributes.push(TcAttribute::Kind("u32".into()));
    msg.attributes.push(TcAttribute::Options(options));
    Ok(msg)
}

/// The `u32` keys of a match: values and masks as the packet holds them.
fn keys(m: Match) -> Vec<TcU32Key> {
    let key = |val: u32, mask: u32, off: i32| {
        let mut k = TcU32Key::default();
        k.val = val;
        k.mask = mask;
        k.off = off;
        k
    };
    match m {
        Match::All => vec![key(0, 0, 0)],
        Match::Source(mac) => {
            let [a, b, c, d, e, f] = mac.0;
            vec![
                key(u32::from_be_bytes([a, b, c, d]), u32::MAX, ETH_SRC_OFFSET),
                key(
                    u32::from_be_bytes([e, f, 0, 0]),
                    0xffff_0000,
                    ETH_SRC_OFFSET + 4,
                ),
            ]
        }
    }
}

/// The action of a verdict (`Pass` needs none: a matching filter without actions passes).
fn action(v: Verdict) -> Option<TcAction> {
    let mut action = TcAction::default();
    match v {
        Verdict::Pass => return None,
        Verdict::Drop => {
            let mut generic = TcActionGeneric::default();
            generic.action = TcActionType::Shot;
            let mut parms = vec![0; generic.buffer_len()];
            generic.emit(&mut parms);
            action.attributes.extend([
                TcActionAttribute::Kind("gact".into()),
                TcActionAttribute::Options(vec![TcActionOption::Other(DefaultNla::new(
                    TCA_GACT_PARMS,
                    parms,
                ))]),
            ]);
        }
        Verdict::Redirect(to) => {
            let mut mirror = TcMirror::default();
            mirror.generic.action = TcActionType::Stolen;
            mirror.eaction = TcMirrorActionType::EgressRedir;
            mirror.ifindex = to;
            action.attributes.extend([
                TcActionAttribute::Kind("mirred".into()),
                TcActionAttribute::Options(vec![TcActionOption::Mirror(
                    TcActionMirrorOption::Parms(mirror),
                )]),
            ]);
        }
    }
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATION: MacAddr = MacAddr([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

    /// The bytes of `src` as the `u32` classifier reads them from a frame at `clsact` ingress
    /// (data at the network header): does `keys` match it?
    fn u32_matches(keys: &[TcU32Key], frame: &[u8]) -> bool {
        keys.iter().all(|k| {
            let at = usize::try_from(14 + k.off).unwrap();
            let word = u32::from_be_bytes(frame[at..at + 4].try_into().unwrap());
            word & k.mask == k.val & k.mask
        })
    }

    /// A veth pair (root tests): `a` with `mac_a` here, `b` with `mac_b` in the namespace
    /// `ns`; `a`'s index.
    fn veth(
        rtnl: &mut Rtnl,
        (a, mac_a): (&str, MacAddr),
        (b, mac_b): (&str, MacAddr),
        ns: &std::fs::File,
    ) -> u32 {
        use std::os::fd::AsRawFd as _;
        rtnl.new_veth(a, mac_a, b, mac_b, ns.as_raw_fd())
            .expect("veth pair");
        rtnl.link(a)
            .expect("lookup")
            .expect("the new veth end")
            .index
    }

    /// A `clsact` discipline on interface `index` (root tests).
    fn add_clsact(rtnl: &mut Rtnl, index: u32) {
        rtnl.request(
            RouteNetlinkMessage::NewQueueDiscipline(clsact(index).unwrap()),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .expect("clsact");
    }

    fn frame(src: MacAddr, ethertype: u16) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[0x45, 0, 0, 20]);
        f
    }

    #[test]
    fn the_source_match_takes_the_station_and_nothing_else() {
        let keys = keys(Match::Source(STATION));
        assert!(u32_matches(&keys, &frame(STATION, 0x0800)));
        assert!(u32_matches(&keys, &frame(STATION, 0x88b5)));
        let mut other = STATION;
        other.0[5] ^= 1;
        assert!(!u32_matches(&keys, &frame(other, 0x0800)));
        other = STATION;
        other.0[0] ^= 0x80;
        assert!(!u32_matches(&keys, &frame(other, 0x0800)));
        assert!(u32_matches(&super::keys(Match::All), &frame(other, 0x0800)));
    }

    #[test]
    fn the_guest_side_passes_control_redirects_its_data_and_drops_the_rest() {
        let f = outer_filters(STATION, 9);
        assert_eq!(
            (f[0].protocol, f[0].verdict),
            (vwifi_core::proto::ETHERTYPE, Verdict::Pass)
        );
        assert_eq!(f[0].matches, Match::Source(STATION));
        assert_eq!(f[1].verdict, Verdict::Redirect(9));
        assert_eq!(f[1].matches, Match::Source(STATION));
        assert_eq!((f[2].matches, f[2].verdict), (Match::All, Verdict::Drop));
        assert!(f.windows(2).all(|w| w[0].prio < w[1].prio));
        let s = station_filters(4);
        assert_eq!(s[0].verdict, Verdict::Drop);
        assert_eq!(s[1].protocol, ETH_P_PAE);
        assert_eq!(s[1].verdict, Verdict::Drop);
        assert_eq!(s[2].verdict, Verdict::Redirect(4));
    }

    /// The kernel takes the `clsact` qdisc and the `u32` filters as `tc` shows them: the source
    /// match at -8/-4 and the mirred redirect (the drop needs act_gact, which not every test host
    /// has; the VM harness's `nl80211-radio` check runs the whole set).
    #[test]
    #[ignore = "needs root; .ci/run runs ignored tests as root"]
    fn the_kernel_takes_the_filters_as_tc_shows_them() {
        let here = std::fs::File::open("/proc/self/ns/net").expect("own namespace");
        let (a, b) = (
            format!("vwtca{}", std::process::id() % 10_000),
            format!("vwtcb{}", std::process::id() % 10_000),
        );
        let mut rtnl = Rtnl::open().expect("route socket");
        let ia = veth(
            &mut rtnl,
            (&a, MacAddr([2, 0, 0, 0, 0, 1])),
            (&b, STATION),
            &here,
        );
        let ib = rtnl.link(&b).expect("lookup").expect("b").index;
        add_clsact(&mut rtnl, ia);
        let [control, redirect, _] = outer_filters(STATION, ib);
        add(&mut rtnl, ia, &control).expect("pass filter");
        add(&mut rtnl, ia, &redirect).expect("redirect filter");
        let out = std::process::Command::new("tc")
            .args(["filter", "show", "dev", &a, "ingress"])
            .output()
            .expect("tc");
        let shown = String::from_utf8_lossy(&out.stdout);
        clear(&mut rtnl, ia);
        rtnl.delete_link(ia).expect("delete");
        // tc prints an EtherType it has no name for in decimal.
        assert!(
            shown.contains("protocol [34997] pref 1 u32")
                || shown.contains("protocol 0x88b5 pref 1 u32"),
            "{shown}"
        );
        assert!(shown.contains("protocol all pref 2 u32"), "{shown}");
        assert!(shown.contains("match 02112233/ffffffff at -8"), "{shown}");
        assert!(shown.contains("match 44550000/ffff0000 at -4"), "{shown}");
        assert!(
            shown.contains(&format!("Egress Redirect to device {b}")),
            "{shown}"
        );
    }

    #[test]
    fn a_filter_carries_its_priority_protocol_and_action() {
        let msg = filter(
            3,
            &Filter {
                prio: 2,
                protocol: ETH_P_ALL,
                matches: Match::Source(STATION),
                verdict: Verdict::Redirect(9),
            },
        )
        .unwrap();
        assert_eq!(msg.header.index, 3);
        assert_eq!(msg.header.info >> 16, 2);
        assert_eq!((msg.header.info & 0xffff) as u16, ETH_P_ALL.to_be());
        let TcAttribute::Options(opts) = &msg.attributes[1] else {
            panic!("no options");
        };
        let Some(TcOption::U32(TcFilterU32Option::Selector(sel))) = opts.first() else {
            panic!("no selector");
        };
        assert_eq!(usize::from(sel.nkeys), sel.keys.len());
        assert!(sel.flags.contains(TcU32SelectorFlags::Terminal));
        let Some(TcOption::U32(TcFilterU32Option::Action(actions))) = opts.get(1) else {
            panic!("no action");
        };
        assert!(actions[0]
            .attributes
            .contains(&TcActionAttribute::Kind("mirred".into())));
        // A pass filter has no action; the whole message encodes.
        let pass = filter(
            3,
            &Filter {
                prio: 1,
                protocol: 0x88b5,
                matches: Match::All,
                verdict: Verdict::Pass,
            },
        )
        .unwrap();
        let TcAttribute::Options(opts) = &pass.attributes[1] else {
            panic!("no options");
        };
        assert_eq!(opts.len(), 1);
        let mut buf = vec![0; pass.buffer_len()];
        pass.emit(&mut buf);
        let drop = action(Verdict::Drop).unwrap();
        assert!(drop
            .attributes
            .contains(&TcActionAttribute::Kind("gact".into())));
    }

    /// Walks netlink attributes: (type, value) pairs.
    fn nlas(mut buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        while buf.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
            let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
            out.push((kind, buf[4..len].to_vec()));
            buf = &buf[((len + 3) & !3).min(buf.len())..];
        }
        out
    }

    /// The `bpf` filter's attributes as `include/uapi/linux/pkt_cls.h` numbers them: TCA_KIND
    /// "bpf", TCA_OPTIONS holding TCA_BPF_FD (6), TCA_BPF_NAME (7, NUL-terminated) and
    /// TCA_BPF_FLAGS (8) = TCA_BPF_FLAG_ACT_DIRECT (1); every protocol, priority 1, ingress.
    #[test]
    fn the_bpf_filter_carries_fd_name_and_direct_action() {
        let msg = bpf_filter(5, PEER_PRIO, 9).unwrap();
        assert_eq!(msg.header.index, 5);
        assert_eq!(msg.header.parent, TcHandle::from(0xffff_fff2));
        assert_eq!(msg.header.info, (1 << 16) | u32::from(ETH_P_ALL.to_be()));
        let mut buf = vec![0; msg.buffer_len()];
        msg.emit(&mut buf);
        // struct tcmsg is 20 bytes; the attributes follow.
        let top = nlas(&buf[20..]);
        // TCA_KIND = 1, TCA_OPTIONS = 2.
        assert_eq!(top[0], (1, b"bpf\0".to_vec()));
        assert_eq!(top[1].0, 2);
        let opts = nlas(&top[1].1);
        assert_eq!(
            opts,
            vec![
                (6, 9u32.to_ne_bytes().to_vec()),
                (7, b"vwifi_peer\0".to_vec()),
                (8, 1u32.to_ne_bytes().to_vec()),
            ]
        );
    }

    /// Removes what the root test set up, whatever happened.
    struct Cleanup {
        links: Vec<u32>,
        netns: String,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Ok(mut rtnl) = Rtnl::open() {
                for &l in &self.links {
                    let _ = rtnl.delete_link(l);
                }
            }
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.netns])
                .status();
        }
    }

    fn test_frame(dst: MacAddr, src: MacAddr, ethertype: u16, n: u8) -> Vec<u8> {
        let mut f = dst.0.to_vec();
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[n; 46]);
        f
    }

    /// Needs root (namespaces, veth, `bpf(2)`) and a kernel with `bpf_redirect_peer` (5.10+) and
    /// `cls_bpf`. A veth pair stands for the station's interface (`st`; frames written into its
    /// peer `inj` arrive at its ingress) and another for the guest's (`outer` here, `inner` in
    /// a namespace of its own): `join` puts the classifier on `st`, and a data frame arrives at
    /// `inner` in the other namespace while EAPOL and in-band control frames do not.
    #[test]
    #[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
    fn root_the_classifier_takes_data_into_the_peer_namespace_and_drops_eapol_and_control() {
        let id = std::process::id() % 10_000;
        let netns = format!("vwbpf{id}");
        let (outer, inner, st, inj) = (
            format!("vwbo{id}"),
            format!("vwbi{id}"),
            format!("vwbs{id}"),
            format!("vwbj{id}"),
        );
        let ap = MacAddr([0x02, 0xaa, 0, 0, 0, 1]);
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .expect("ip")
                .success();
            assert!(ok, "ip {args:?}");
        };
        let mut cleanup = Cleanup {
            links: Vec::new(),
            netns: netns.clone(),
        };
        ip(&["netns", "add", &netns]);
        let ns = std::fs::File::open(format!("/var/run/netns/{netns}")).expect("netns");
        let here = std::fs::File::open("/proc/self/ns/net").expect("own namespace");
        let mut rtnl = Rtnl::open().expect("route socket");
        let io = veth(
            &mut rtnl,
            (&outer, MacAddr([2, 0, 0, 0, 0, 1])),
            (&inner, STATION),
            &ns,
        );
        cleanup.links.push(io);
        let is = veth(&mut rtnl, (&st, STATION), (&inj, ap), &here);
        let ij = rtnl.link(&inj).expect("lookup").expect("inj").index;
        cleanup.links.push(is);
        for l in [io, is, ij] {
            rtnl.set_up(l).expect("up");
        }
        ip(&["-n", &netns, "link", "set", &inner, "up"]);
        // `guard`'s drop needs act_gact, which not every test host has: the outer end's clsact
        // alone is enough for `join`.
        add_clsact(&mut rtnl, io);
        match join(&mut rtnl, io, STATION, is).expect("join") {
            Receive::Peer => {}
            Receive::Mirred(why) => panic!("the classifier was not used: {why}"),
        }
        let shown = std::process::Command::new("tc")
            .args(["filter", "show", "dev", &st, "ingress"])
            .output()
            .expect("tc");
        let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert!(shown.contains("protocol all pref 1 bpf"), "{shown}");
        assert!(shown.contains("vwifi_peer"), "{shown}");
        assert!(shown.contains("direct-action"), "{shown}");
        assert!(!shown.contains("u32"), "{shown}");

        let (ready_tx, ready) = std::sync::mpsc::channel();
        let capture = bpf::capture_in(&format!("/var/run/netns/{netns}"), &inner, 1.5, ready_tx);
        ready.recv().expect("capture ready");
        for (n, ethertype) in [
            (1, 0x0800),
            (2, 0x888e),
            (3, 0x88b5),
            (4, 0x86dd),
            (5, 0x888e),
        ] {
            bpf::send_raw(ij, &test_frame(STATION, ap, ethertype, n)).expect("send");
        }
        let got: Vec<(u16, u8)> = capture
            .join()
            .expect("capture thread")
            .expect("capture")
            .iter()
            // Ours only (the stand-ins' own IPv6 frames cross too).
            .filter(|f| f.len() == 60 && f[6..12] == ap.0 && f[15..].iter().all(|&b| b == f[14]))
            .map(|f| (u16::from_be_bytes([f[12], f[13]]), f[14]))
            .collect();
        drop(cleanup);
        assert_eq!(got, vec![(0x0800, 1), (0x86dd, 4)]);
    }

    /// The average RTT (ms) of `count` pings from namespace `netns` to `to`.
    fn ping_avg(netns: &str, to: &str, count: u32) -> f64 {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                "ping",
                "-q",
                "-c",
                &count.to_string(),
            ])
            .args(["-i", "0.005", "-W", "1", to])
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "ping {to} from {netns}: {text}");
        text.lines()
            .find_map(|l| l.split(" = ").nth(1))
            .and_then(|v| v.split('/').nth(1))
            .and_then(|avg| avg.parse().ok())
            .unwrap_or_else(|| panic!("no average in {text}"))
    }

    /// Needs root (namespaces, veth, `bpf(2)`). The data path of a namespace guest with a veth
    /// pair standing for the air (`air` in a namespace of its own, its peer `st` the station's
    /// interface): pings from the air side to the guest cross it with each way the kernel can
    /// take, and their RTTs are printed (`--nocapture`): the receive direction through `mirred`
    /// (a backlog pass) or the classifier (`bpf_redirect_peer`, none); the transmit direction
    /// through `mirred` or `bpf_redirect` to `st` (both `dev_queue_xmit`, after the veth's own
    /// backlog pass, which neither saves).
    #[test]
    #[ignore = "needs root and ip netns; .ci/run runs ignored tests as root"]
    fn root_pings_cross_every_receive_and_transmit_way_and_their_rtts_are_printed() {
        let id = std::process::id() % 10_000;
        let (guest_ns, air_ns) = (format!("vwpg{id}"), format!("vwpa{id}"));
        let (outer, inner, st, air) = (
            format!("vwpo{id}"),
            format!("vwpi{id}"),
            format!("vwps{id}"),
            format!("vwpr{id}"),
        );
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .expect("ip")
                .success();
            assert!(ok, "ip {args:?}");
        };
        let mut cleanup = Cleanup {
            links: Vec::new(),
            netns: guest_ns.clone(),
        };
        let _air_cleanup = Cleanup {
            links: Vec::new(),
            netns: air_ns.clone(),
        };
        ip(&["netns", "add", &guest_ns]);
        ip(&["netns", "add", &air_ns]);
        let gns = std::fs::File::open(format!("/var/run/netns/{guest_ns}")).expect("netns");
        let ans = std::fs::File::open(format!("/var/run/netns/{air_ns}")).expect("netns");
        let mut rtnl = Rtnl::open().expect("route socket");
        let io = veth(
            &mut rtnl,
            (&outer, MacAddr([2, 0, 0, 0, 0, 1])),
            (&inner, STATION),
            &gns,
        );
        cleanup.links.push(io);
        let is = veth(
            &mut rtnl,
            (&st, STATION),
            (&air, MacAddr([2, 0xaa, 0, 0, 0, 1])),
            &ans,
        );
        cleanup.links.push(is);
        for l in [io, is] {
            rtnl.set_up(l).expect("up");
        }
        ip(&[
            "-n",
            &guest_ns,
            "addr",
            "add",
            "10.77.0.2/24",
            "dev",
            &inner,
        ]);
        ip(&["-n", &guest_ns, "link", "set", &inner, "up"]);
        ip(&["-n", &air_ns, "addr", "add", "10.77.0.1/24", "dev", &air]);
        ip(&["-n", &air_ns, "link", "set", &air, "up"]);
        let [_, mirred_tx, _] = outer_filters(STATION, is);
        let [_, _, mirred_rx] = station_filters(io);
        let mut rows = Vec::new();
        for round in 0..2 {
            for (rx, tx) in [
                ("mirred", "mirred"),
                ("peer", "mirred"),
                ("peer", "bpf_redirect"),
            ] {
                for l in [io, is] {
                    clear(&mut rtnl, l);
                    add_clsact(&mut rtnl, l);
                }
                if rx == "peer" {
                    add_peer_redirect(&mut rtnl, is, io).expect("classifier");
                } else {
                    add(&mut rtnl, is, &mirred_rx).expect("mirred to the guest");
                }
                if tx == "mirred" {
                    add(&mut rtnl, io, &mirred_tx).expect("mirred to the air");
                } else {
                    let prog = bpf::load_redirect_egress(is).expect("bpf_redirect program");
                    let msg = bpf_filter(io, 2, prog.fd()).unwrap();
                    rtnl.request(
                        RouteNetlinkMessage::NewTrafficFilter(msg),
                        NLM_F_CREATE | NLM_F_EXCL,
                    )
                    .expect("bpf_redirect filter");
                }
                let avg = ping_avg(&air_ns, "10.77.0.2", 200);
                println!("round {round}: receive {rx:6}, transmit {tx:12}: RTT {avg:.4} ms");
                rows.push(avg);
            }
        }
        drop(cleanup);
        assert!(rows.iter().all(|&r| r > 0.0));
    }

    /// Needs root. Without `CAP_BPF` and `CAP_SYS_ADMIN` (dropped on a thread of its own) the
    /// kernel refuses the classifier, and the error says so: what `join` logs before it falls
    /// back to `mirred`.
    #[test]
    #[ignore = "needs root; .ci/run runs ignored tests as root"]
    fn root_without_cap_bpf_the_classifier_is_refused_with_the_reason() {
        let id = std::process::id() % 10_000;
        let (a, b) = (format!("vwca{id}"), format!("vwcb{id}"));
        let outcome = std::thread::spawn(move || {
            bpf::drop_bpf_capabilities().expect("capset");
            let here = std::fs::File::open("/proc/self/ns/net").expect("own namespace");
            let mut rtnl = Rtnl::open().expect("route socket");
            let ia = veth(
                &mut rtnl,
                (&a, MacAddr([2, 0, 0, 0, 0, 1])),
                (&b, STATION),
                &here,
            );
            let ib = rtnl.link(&b).expect("lookup").expect("b").index;
            add_clsact(&mut rtnl, ia);
            let refused = add_peer_redirect(&mut rtnl, ia, ib);
            let _ = rtnl.delete_link(ia);
            refused
        })
        .join()
        .expect("thread");
        match outcome {
            Err(e @ BpfError::Load { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with("the kernel refused the BPF program"),
                    "{text}"
                );
                assert!(text.contains("not permitted"), "{text}");
            }
            other => panic!("expected a refused load, got {other:?}"),
        }
    }
}
