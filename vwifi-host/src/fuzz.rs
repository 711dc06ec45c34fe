//! Fuzzing of what the daemon reads from outside (issue 19, item 4): the control socket's JSON
//! requests ([`crate::api`]), `state.json` ([`crate::state`]), the TOML configuration
//! ([`crate::config`]), the kernel's MAC80211_HWSIM netlink datagrams
//! ([`crate::hwsim::msg`]) and the slots of the nl80211 radio's `TPACKET_V2` receive ring
//! ([`crate::nl80211::packet_ring`]).
//!
//! `vwifi-host` is a binary crate, so cargo-fuzz (which links a library) cannot reach these
//! parsers; and no nightly toolchain is at hand. Instead each target is an entry point here, and
//! two tests drive them on stable Rust:
//! - [`tests::replays_the_host_corpus`] replays `fuzz/corpus/host_<target>/` (the `seed-*`
//!   inputs come from [`seeds`]; `VWIFI_BLESS_CORPUS=1` writes missing ones);
//! - [`tests::random_mutations_of_the_corpus_never_panic`] mutates the corpus at random
//!   (bit flips, byte changes, splices, truncations, repeats; a seeded RNG, so a failure is
//!   reproducible) for 2,000 inputs per target, or for `VWIFI_FUZZ_SECS` seconds per target
//!   when set (`VWIFI_FUZZ_SECS=300 cargo test -p vwifi-host --bin vwifi-host fuzz::`).
//!
//! Each entry point checks more than "no panic": an accepted input survives a round trip
//! (request → JSON → request; state → file text → state; configuration → validated again).

use crate::api::{parse_request, Request};

/// Any bytes as a control request line: no panic; an accepted request re-serialises to a
/// line that parses to the same request.
pub(crate) fn control_request(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    if let Ok(req) = parse_request(&line) {
        let again = serde_json::to_string(&req).expect("a request serialises");
        assert!(!again.contains('\n'), "a request is one line");
        let back: Request = parse_request(&again).expect("a serialised request parses");
        assert_eq!(back, req);
    }
}

/// Any bytes as `state.json`: no panic; accepted entries render to a file that parses to the
/// same entries.
pub(crate) fn state_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    crate::state::fuzz_round_trip(&text);
}

/// Any bytes as the TOML configuration: no panic; an accepted configuration validates again
/// and yields the Mux's and the simulation's settings.
pub(crate) fn config_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(cfg) = crate::config::HostConfig::from_toml_str(&text) {
        assert!(
            cfg.validate().is_ok(),
            "an accepted configuration validates"
        );
        let _ = cfg.mux_config();
        let _ = cfg.sim_config();
    }
}

/// The generic netlink family id the hwsim target parses with (any value: the parser takes
/// the family it was given).
const HWSIM_FAMILY: u16 = 0x22;

/// Any bytes as one datagram from the kernel's MAC80211_HWSIM family (or from a VM's relay,
/// or as the answer to a radio's creation): no panic, and every message is accounted for (a
/// result per message, an error at most once per bad length); a relayed datagram gives as many
/// messages, each frame's radio renamed to the relay's.
pub(crate) fn hwsim_datagram(data: &[u8]) {
    let msgs = crate::hwsim::msg::parse_datagram(data, HWSIM_FAMILY);
    // Each message takes at least a header (16 bytes), and a bad length ends the list.
    assert!(msgs.len() <= data.len() / 16 + 1, "{} messages", msgs.len());
    let relayed = crate::hwsim::relay::from_vm(data, HWSIM_FAMILY, 9);
    assert_eq!(relayed.len(), msgs.len());
    for m in relayed.iter().flatten() {
        if let crate::hwsim::msg::FromKernel::Frame(f) = m {
            assert_eq!(crate::hwsim::relay::relay_of(f.radio), 9);
        }
    }
    let _ = crate::hwsim::msg::ack_code(data);
    let _ = vwifi_netlink::hwsim::parse_relay_hello(data);
}

/// The addresses of the bridge target: the shared station and two guests behind it.
const BRIDGE_STATION: vwifi_core::MacAddr = vwifi_core::MacAddr([2, 0, 0, 0, 0, 0x10]);
const BRIDGE_GUESTS: [vwifi_core::MacAddr; 2] = [
    vwifi_core::MacAddr([2, 0, 0, 0, 0, 0x22]),
    vwifi_core::MacAddr([2, 0, 0, 0, 0, 0x33]),
];

/// Any bytes as frames through the MAC-translating bridge of a shared nl80211 station
/// interface ([`crate::nl80211::bridge`]): the first byte picks the direction (even: from a
/// guest, odd: from the air), the rest is the Ethernet frame. No panic; a frame let out
/// carries the station's address; a frame from the air handed to a guest carries that
/// guest's address (unicast) and never goes to a guest that is not behind the interface.
pub(crate) fn bridge_frame(data: &[u8]) {
    use crate::nl80211::bridge::{Deliver, Table};
    use vwifi_core::demux::GuestId;
    let mut t = Table::new(BRIDGE_STATION, GuestId(1));
    for (i, mac) in BRIDGE_GUESTS.iter().enumerate() {
        t.add(GuestId(2 + i as u32), *mac);
    }
    let Some((&dir, frame)) = data.split_first() else {
        return;
    };
    let mut f = frame.to_vec();
    if dir % 2 == 0 {
        let guest = GuestId(2 + u32::from(dir / 2 % 2));
        if t.outbound(guest, &mut f) {
            assert_eq!(f.get(6..12), Some(&BRIDGE_STATION.octets()[..]));
        }
        // What went out may come back (the AP's echo of a group frame, a reply).
        let _ = t.inbound(&mut f);
    } else {
        match t.inbound(&mut f) {
            Deliver::Guest(g) => {
                let mac = t.mac_of(g).expect("delivered to a member");
                let dst = f.get(0..6).expect("a delivered frame has a destination");
                assert!(
                    dst == mac.octets() || dst[0] & 1 == 1,
                    "unicast for {g:?} rewritten"
                );
            }
            Deliver::All | Deliver::Drop => {}
        }
    }
}

/// A fuzz target's entry point.
pub(crate) type Target = fn(&[u8]);

/// The targets, by corpus directory (`fuzz/corpus/<name>`).
pub(crate) const TARGETS: [(&str, Target); 7] = [
    ("host_control_request", control_request),
    ("host_state_file", state_file),
    ("host_config_toml", config_toml),
    ("host_hwsim_datagram", hwsim_datagram),
    ("host_bridge_frame", bridge_frame),
    ("host_federation_hello", federation_hello),
    ("host_packet_slot", packet_slot),
];

/// Any bytes as a slot of the nl80211 radio's `TPACKET_V2` receive ring (what the kernel
/// hands over, read as untrusted): no panic; an accepted frame is the slice of the slot its
/// header names (at `tp_mac`, after the header, `tp_snaplen` bytes, whole) and nothing else.
pub(crate) fn packet_slot(data: &[u8]) {
    use crate::nl80211::packet_ring::read_slot;
    let Ok(f) = read_slot(data) else {
        return;
    };
    let word = |at: usize| u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    let (len, snaplen) = (word(4), word(8));
    let mac = usize::from(u16::from_ne_bytes([data[12], data[13]]));
    assert!(mac >= 32, "a frame over the header");
    assert!(snaplen >= len, "a cut frame accepted");
    assert_eq!(f.len(), snaplen as usize);
    assert!(mac + f.len() <= data.len(), "a frame outside the slot");
    assert!(
        core::ptr::eq(f.as_ptr(), data[mac..].as_ptr()),
        "the frame is not at tp_mac"
    );
}

/// Any bytes as a federation ping or pong from another daemon: no panic; an accepted message
/// re-encodes byte for byte.
pub(crate) fn federation_hello(data: &[u8]) {
    if let Ok(h) = crate::federation::hello::Hello::parse(data) {
        assert_eq!(h.to_line().as_bytes(), data, "an accepted hello re-encodes");
    }
}

/// A netlink message: header (length, type, flags, sequence, port) and payload, padded to 4.
fn nlmsg(nl_type: u16, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut m = Vec::with_capacity(len + 3);
    m.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    m.extend_from_slice(&nl_type.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

/// A netlink attribute, padded to 4.
fn nlattr(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut a = Vec::with_capacity(len + 3);
    a.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(value);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

/// A generic netlink message of the hwsim family: `cmd` with `attrs`.
fn hwsim_msg(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = vec![cmd, 1, 0, 0];
    for a in attrs {
        payload.extend_from_slice(a);
    }
    nlmsg(HWSIM_FAMILY, &payload)
}

/// The seed inputs: `(target, name, bytes)`; written to `fuzz/corpus/<target>/seed-<name>`.
pub(crate) fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use crate::hwsim::msg::{
        ATTR_ADDR_RECEIVER, ATTR_ADDR_TRANSMITTER, ATTR_COOKIE, ATTR_FLAGS, ATTR_FRAME, ATTR_FREQ,
        ATTR_SIGNAL, CMD_ADD_MAC_ADDR, CMD_DEL_MAC_ADDR, CMD_FRAME,
    };
    let mut out = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((target, name.to_owned(), bytes));
    };
    for (name, line) in [
        ("status", "{\"request\":\"status\"}\n"),
        ("attach", "{\"request\":\"attach\",\"netns\":\"c1\"}\n"),
        (
            "attach-ifname",
            "{\"request\":\"attach\",\"netns\":\"c1\",\"ifname\":\"wl0\"}\n",
        ),
        ("detach", "{\"request\":\"detach\",\"netns\":\"c1\"}\n"),
        (
            "vhost-user",
            "{\"request\":\"vhost_user\",\"socket\":\"/run/vwifi/vm1.sock\",\"name\":\"vm1\"}\n",
        ),
        ("unknown", "{\"request\":\"reboot\"}\n"),
        ("capture", "{\"request\":\"capture\",\"channel\":6}\n"),
        ("sim-nodes", "{\"request\":\"sim_nodes\"}\n"),
        (
            "sim-move",
            "{\"request\":\"sim_move\",\"node\":\"ap1\",\"x\":-5.5,\"y\":2}\n",
        ),
        (
            "sim-move-path",
            "{\"request\":\"sim_move\",\"node\":\"host\",\"path\":[[0,0],[40,0]],\"speed_mps\":1.5}\n",
        ),
        (
            "sim-link",
            "{\"request\":\"sim_link\",\"a\":\"ap1\",\"b\":\"host\",\"loss\":0.3}\n",
        ),
        (
            "sim-ap-add",
            "{\"request\":\"sim_ap\",\"action\":\"add\",\"ssid\":\"x\",\"channel\":11,\"x\":3,\"passphrase\":\"12345678\"}\n",
        ),
        (
            "sim-ap-stop",
            "{\"request\":\"sim_ap\",\"action\":\"stop\",\"node\":\"ap2\"}\n",
        ),
    ] {
        add("host_control_request", name, line.as_bytes().to_vec());
    }
    let eth = |dir: u8, dst: [u8; 6], src: [u8; 6], ty: u16, payload: &[u8]| {
        let mut f = vec![dir];
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let g2 = BRIDGE_GUESTS[0].octets();
    let sta = BRIDGE_STATION.octets();
    let ap = [2, 0, 0, 0, 0, 0xaa];
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&g2);
    arp.extend_from_slice(&[10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 254]);
    add(
        "host_bridge_frame",
        "arp-out",
        eth(0, [0xff; 6], g2, 0x0806, &arp),
    );
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 2,
    ];
    add("host_bridge_frame", "ip-in", eth(1, sta, ap, 0x0800, &ip));
    ip.truncate(12);
    ip.extend_from_slice(&[0, 0, 0, 0, 255, 255, 255, 255]);
    ip[9] = 17;
    let mut dhcp = vec![0, 68, 0, 67, 0, 0, 0, 0, 1, 1, 6, 0];
    dhcp.extend_from_slice(&[0; 16]);
    dhcp.extend_from_slice(&[0; 4]);
    dhcp.extend_from_slice(&g2);
    dhcp.extend_from_slice(&[0; 202]);
    ip.extend_from_slice(&dhcp);
    add(
        "host_bridge_frame",
        "dhcp-out",
        eth(0, [0xff; 6], g2, 0x0800, &ip),
    );
    let psk = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    add(
        "host_state_file",
        "two-attachments",
        format!(
            "{{\"version\":1,\"attachments\":[{{\"netns\":\"c1\",\"ifname\":\"wlan0\",\
             \"profile\":{{\"ssid_hex\":\"7677696669\",\"psk\":\"{psk}\"}}}},\
             {{\"netns\":\"c2\",\"ifname\":\"wl1\",\"profile\":null}}]}}\n"
        )
        .into_bytes(),
    );
    add(
        "host_state_file",
        "empty",
        b"{\"version\":1,\"attachments\":[]}\n".to_vec(),
    );
    add(
        "host_config_toml",
        "default",
        crate::config::default_config_text().into_bytes(),
    );
    add(
        "host_config_toml",
        "attach",
        b"[host]\nstate_dir = \"/tmp/s\"\n[[attach]]\nnetns = \"c1\"\n".to_vec(),
    );
    let radio = [2, 0, 0, 0, 0, 0];
    let frame = [
        0x08, 0x02, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0,
    ];
    let tx = hwsim_msg(
        CMD_FRAME,
        &[
            nlattr(ATTR_ADDR_TRANSMITTER, &radio),
            nlattr(ATTR_FRAME, &frame),
            nlattr(ATTR_FLAGS, &2u32.to_ne_bytes()),
            nlattr(ATTR_COOKIE, &7u64.to_ne_bytes()),
            nlattr(ATTR_FREQ, &2412u32.to_ne_bytes()),
            nlattr(ATTR_SIGNAL, &(-40i32).to_ne_bytes()),
        ],
    );
    add("host_hwsim_datagram", "frame", tx.clone());
    let addr = hwsim_msg(
        CMD_ADD_MAC_ADDR,
        &[
            nlattr(ATTR_ADDR_TRANSMITTER, &radio),
            nlattr(ATTR_ADDR_RECEIVER, &[2, 0, 0, 0, 1, 0]),
        ],
    );
    let del = hwsim_msg(
        CMD_DEL_MAC_ADDR,
        &[
            nlattr(ATTR_ADDR_TRANSMITTER, &radio),
            nlattr(ATTR_ADDR_RECEIVER, &[2, 0, 0, 0, 1, 0]),
        ],
    );
    let mut three = tx;
    three.extend_from_slice(&addr);
    three.extend_from_slice(&del);
    add("host_hwsim_datagram", "three-messages", three);
    // NLMSG_ERROR (type 2) with errno -22, then an ack (errno 0).
    let mut errors = nlmsg(2, &[&(-22i32).to_ne_bytes()[..], &[0; 16]].concat());
    errors.extend_from_slice(&nlmsg(2, &[0u8; 20]));
    add("host_hwsim_datagram", "error-and-ack", errors);
    // Found by the mutation run: an attribute shorter than its own header made neli's length
    // arithmetic overflow (a panic in a debug build); now `MsgError::BadAttribute`.
    add(
        "host_hwsim_datagram",
        "short-attribute",
        hwsim_msg(CMD_FRAME, &[vec![2, 0, 3, 0]]),
    );
    add(
        "host_federation_hello",
        "ping",
        b"VWFH1 ping host-a 00000000deadbeef 7 1500000".to_vec(),
    );
    add(
        "host_federation_hello",
        "pong",
        b"VWFH1 pong host-b 0123456789abcdef host-a 7 1500000".to_vec(),
    );
    {
        use crate::nl80211::packet_ring::build_slot;
        let data = |n: u8, len: usize| -> Vec<u8> {
            let mut f = vec![2, 0, 0, 0, 0, n, 2, 0, 0, 0, 0, 0xaa, 0x08, 0x00];
            f.resize(len, n);
            f
        };
        let set = |s: &mut Vec<u8>, at: usize, v: &[u8]| s[at..at + v.len()].copy_from_slice(v);
        add("host_packet_slot", "ping", build_slot(&data(1, 98)));
        add("host_packet_slot", "full-size", build_slot(&data(2, 1514)));
        // The largest frame a 4096-byte slot holds after the kernel's 66 bytes.
        add("host_packet_slot", "largest", build_slot(&data(3, 4030)));
        add("host_packet_slot", "zero-length", build_slot(&[]));
        // Cut by the ring: 100 of 9000 bytes.
        let mut cut = build_slot(&data(4, 100));
        set(&mut cut, 4, &9000u32.to_ne_bytes());
        add("host_packet_slot", "cut", cut);
        // tp_mac inside the header.
        let mut mac = build_slot(&data(5, 60));
        set(&mut mac, 12, &8u16.to_ne_bytes());
        add("host_packet_slot", "mac-in-header", mac);
        // The slot ends inside the frame.
        let mut short = build_slot(&data(6, 200));
        short.truncate(120);
        add("host_packet_slot", "truncated", short);
    }
    add(
        "host_federation_hello",
        "bye",
        b"VWFH1 bye host-b 0123456789abcdef".to_vec(),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::*;

    fn corpus_dir(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target)
    }

    fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = corpus_dir(target);
        let mut inputs: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {} unreadable: {e}", dir.display()))
            .map(|e| {
                let path = e.expect("entry").path();
                let bytes = fs::read(&path).expect("corpus input");
                (path, bytes)
            })
            .collect();
        inputs.sort();
        inputs
    }

    #[test]
    fn corpus_holds_every_seed() {
        let bless = std::env::var_os("VWIFI_BLESS_CORPUS").is_some();
        let mut missing = Vec::new();
        for (target, name, bytes) in seeds() {
            let dir = corpus_dir(target);
            let path = dir.join(format!("seed-{name}"));
            if fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
                continue;
            }
            if bless {
                fs::create_dir_all(&dir).expect("corpus directory");
                fs::write(&path, &bytes).expect("seed");
            } else {
                missing.push(path.display().to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "seeds missing or stale (write them with `VWIFI_BLESS_CORPUS=1 cargo test -p \
             vwifi-host --bin vwifi-host fuzz::`): {missing:#?}"
        );
    }

    #[test]
    fn replays_the_host_corpus() {
        for (target, run) in TARGETS {
            let inputs = corpus(target);
            assert!(!inputs.is_empty(), "{target}: empty corpus");
            for (path, data) in inputs {
                let r = std::panic::catch_unwind(|| run(&data));
                assert!(r.is_ok(), "{target}: {} fails", path.display());
            }
        }
    }

    #[test]
    fn the_seeds_are_accepted_where_they_are_valid() {
        // The round-trip checks only bite on accepted inputs: make sure the seeds get there.
        assert!(parse_request("{\"request\":\"detach\",\"netns\":\"c1\"}").is_ok());
        let accepted = seeds()
            .into_iter()
            .filter(|(t, ..)| *t == "host_hwsim_datagram")
            .flat_map(|(_, _, b)| crate::hwsim::msg::parse_datagram(&b, HWSIM_FAMILY))
            .filter(Result::is_ok)
            .count();
        assert!(accepted >= 5, "{accepted} hwsim messages parsed");
        let slots: Vec<Option<usize>> = seeds()
            .into_iter()
            .filter(|(t, ..)| *t == "host_packet_slot")
            .map(|(_, _, b)| {
                crate::nl80211::packet_ring::read_slot(&b)
                    .ok()
                    .map(<[u8]>::len)
            })
            .collect();
        // ping, full-size, largest, zero-length, cut, mac-in-header, truncated.
        assert_eq!(
            slots,
            [Some(98), Some(1514), Some(4030), Some(0), None, None, None]
        );
        let short = hwsim_msg(crate::hwsim::msg::CMD_FRAME, &[vec![2, 0, 3, 0]]);
        assert!(matches!(
            crate::hwsim::msg::parse_datagram(&short, HWSIM_FAMILY).as_slice(),
            [Err(crate::hwsim::msg::MsgError::BadAttribute {
                at: 20,
                len: 2,
                ..
            })]
        ));
    }

    /// xorshift64: a small seeded generator (the same inputs on every run).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// One random mutation of `base` (with `other` for splices).
    fn mutate(rng: &mut u64, base: &[u8], other: &[u8]) -> Vec<u8> {
        let mut d = base.to_vec();
        let rounds = 1 + next(rng) % 4;
        for _ in 0..rounds {
            let at = |rng: &mut u64, len: usize| (next(rng) as usize) % len.max(1);
            match next(rng) % 7 {
                0 if !d.is_empty() => {
                    let i = at(rng, d.len());
                    d[i] ^= 1 << (next(rng) % 8);
                }
                1 if !d.is_empty() => {
                    let i = at(rng, d.len());
                    d[i] = [0, 0xff, 0x7f, 0x80, b'"', b'{', b'\\', b'='][(next(rng) % 8) as usize];
                }
                2 if !d.is_empty() => {
                    d.truncate(at(rng, d.len()));
                }
                3 => {
                    let i = at(rng, d.len() + 1).min(d.len());
                    d.insert(i, next(rng) as u8);
                }
                4 if !other.is_empty() => {
                    let i = at(rng, d.len() + 1).min(d.len());
                    let j = at(rng, other.len());
                    d.splice(i..i, other[j..].iter().copied());
                }
                5 if !d.is_empty() => {
                    let i = at(rng, d.len());
                    let j = (i + 1 + at(rng, 16)).min(d.len());
                    let chunk = d[i..j].to_vec();
                    d.splice(j..j, chunk);
                }
                _ if !d.is_empty() => {
                    let i = at(rng, d.len());
                    d.remove(i);
                }
                _ => d.push(next(rng) as u8),
            }
        }
        d
    }

    #[test]
    fn random_mutations_of_the_corpus_never_panic() {
        let budget = std::env::var("VWIFI_FUZZ_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs);
        for (t, (target, run)) in TARGETS.into_iter().enumerate() {
            let inputs: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
            let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1);
            let start = Instant::now();
            let mut n = 0u64;
            loop {
                let done = match budget {
                    Some(b) => start.elapsed() >= b,
                    None => n >= 2_000,
                };
                if done {
                    break;
                }
                let base = &inputs[(next(&mut rng) as usize) % inputs.len()];
                let other = &inputs[(next(&mut rng) as usize) % inputs.len()];
                let data = mutate(&mut rng, base, other);
                let r = std::panic::catch_unwind(|| run(&data));
                assert!(
                    r.is_ok(),
                    "{target}: input {n} panics: {:?}",
                    String::from_utf8_lossy(&data)
                );
                n += 1;
            }
            if budget.is_some() {
                eprintln!(
                    "{target}: {n} mutated inputs in {:.0} s, none failed",
                    start.elapsed().as_secs_f64()
                );
            }
        }
    }
}
