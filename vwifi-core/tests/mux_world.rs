//! The Mux on the simulated air (issue 4): many guests, one radio, software APs.

use std::time::Duration;

use bytes::Bytes;
use vwifi_core::channel::Channel;
use vwifi_core::crypto::{Passphrase, Psk};
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{GuestConfig, Mux, MuxConfig};
use vwifi_core::proto::{
    ConnectFailure, Credentials, Event, Message, RequestId, Ssid, StationState,
};
use vwifi_core::sim::ap::{ApConfig, ApSecurity, SoftAp};
use vwifi_core::sim::medium::Placement;
use vwifi_core::sim::{MuxNode, NodeId};
use vwifi_core::testing::{seed_bytes, World};
use vwifi_core::wire::{EtherType, EthernetFrame};
use vwifi_core::MacAddr;

struct Net {
    ssid: &'static str,
    bssid: MacAddr,
    channel: u8,
    pass: Option<&'static str>,
    at: (f64, f64),
}

struct Lab {
    world: World,
    host: NodeId,
    aps: Vec<NodeId>,
}

fn psk_of(pass: &str, ssid: &str) -> Psk {
    vwifi_core::crypto::derive_psk(&Passphrase::new(pass).unwrap(), ssid.as_bytes()).unwrap()
}

impl Lab {
    fn new(seed: u64, nets: &[Net], cfg: MuxConfig) -> Self {
        let mut world = World::new(seed);
        let mut aps = Vec::new();
        let mut psks = Vec::new();
        for (i, n) in nets.iter().enumerate() {
            let security = match n.pass {
                Some(p) => {
                    let psk = psk_of(p, n.ssid);
                    psks.push((n.ssid, psk.clone()));
                    ApSecurity::Wpa2Psk { psk }
                }
                None => ApSecurity::Open,
            };
            let mut ap_cfg = ApConfig::new(
                vwifi_core::wire::Ssid::new(n.ssid.as_bytes()).unwrap(),
                n.bssid,
                Channel::new(n.channel).unwrap(),
                security,
            );
            ap_cfg.position = n.at;
            ap_cfg.uplink = true;
            let ap = SoftAp::new(ap_cfg, world.now(), seed.wrapping_add(i as u64 + 1)).unwrap();
            let id = world.add_node(ap, Placement::at(n.at.0, n.at.1));
            world.medium_mut().set_addresses(id, vec![n.bssid]).unwrap();
            aps.push(id);
        }
        let mux = Mux::new(cfg, seed_bytes(seed ^ 0xabcd));
        let host = world.add_node(
            MuxNode::new(mux, Channel::new(1).unwrap()),
            Placement::at(0.0, 3.0),
        );
        let _ = psks;
        Self { world, host, aps }
    }

    fn admit(&mut self, name: &str) -> GuestId {
        let g = self
            .world
            .node_mut::<MuxNode>(self.host)
            .admit(GuestConfig {
                name: name.into(),
                mac: None,
            })
            .unwrap();
        let addrs = self.world.node::<MuxNode>(self.host).addresses();
        self.world
            .medium_mut()
            .set_addresses(self.host, addrs)
            .unwrap();
        g
    }

    fn send(&mut self, g: GuestId, msg: Message) {
        let now = self.world.now();
        self.world
            .node_mut::<MuxNode>(self.host)
            .guest_message(now, g, msg);
    }

    fn connect(&mut self, g: GuestId, ssid: &str, pass: Option<&str>) {
        let credentials = match pass {
            Some(p) => Credentials::Passphrase(Passphrase::new(p).unwrap()),
            None => Credentials::None,
        };
        let ssid = Ssid::new(ssid.as_bytes()).unwrap();
        self.send(
            g,
            Message::Connect {
                id: RequestId(7),
                ssid,
                bssid: None,
                credentials,
            },
        );
    }

    fn state(&self, g: GuestId) -> StationState {
        self.world
            .node::<MuxNode>(self.host)
            .mux()
            .station(g)
            .unwrap()
            .state()
    }

    fn mac(&self, g: GuestId) -> MacAddr {
        self.world
            .node::<MuxNode>(self.host)
            .mux()
            .station(g)
            .unwrap()
            .mac()
    }

    fn messages(&self, g: GuestId) -> Vec<Message> {
        self.world
            .node::<MuxNode>(self.host)
            .guest_messages(g)
            .to_vec()
    }

    fn take(&mut self, g: GuestId) -> Vec<Message> {
        self.world
            .node_mut::<MuxNode>(self.host)
            .take_guest_messages(g)
    }

    fn drive_until(&mut self, limit: Duration, mut f: impl FnMut(&Lab) -> bool) {
        let deadline = self.world.now() + limit;
        while !f(self) {
            assert!(
                self.world.now() < deadline,
                "condition not met within {limit:?} (seed {})",
                self.world.seed()
            );
            if !self.world.step() {
                panic!("world idle (seed {})", self.world.seed());
            }
        }
    }

    fn connected(&self, g: GuestId) -> bool {
        self.state(g) == StationState::Connected
    }

    fn failure(&self, g: GuestId) -> Option<ConnectFailure> {
        self.messages(g).iter().find_map(|m| match m {
            Message::Event(Event::ConnectFailed { reason }) => Some(*reason),
            _ => None,
        })
    }

    fn data_received(&self, g: GuestId) -> Vec<EthernetFrame> {
        self.messages(g)
            .iter()
            .filter_map(|m| match m {
                Message::Data(b) => EthernetFrame::parse_bytes(b).ok(),
                _ => None,
            })
            .collect()
    }
}

fn ip_frame(src: MacAddr, dst: MacAddr, tag: u8) -> Message {
    let eth = EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from(vec![0x45, tag, 0, 20, 1, 2, 3, 4]),
    };
    let mut out = Vec::new();
    eth.emit(&mut out);
    Message::Data(out.into())
}

const AP_A: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x0a]);
const AP_B: MacAddr = MacAddr([0x02, 0x76, 0x77, 0, 0, 0x0b]);

fn two_networks() -> Vec<Net> {
    vec![
        Net {
            ssid: "lab-a",
            bssid: AP_A,
            channel: 1,
            pass: Some("passphrase of A"),
            at: (0.0, 0.0),
        },
        Net {
            ssid: "lab-b",
            bssid: AP_B,
            channel: 11,
            pass: Some("another secret B"),
            at: (5.0, 0.0),
        },
    ]
}

#[test]
fn three_guests_on_two_channels_connect_and_exchange_data_and_a_wrong_passphrase_is_told() {
    let mut lab = Lab::new(11, &two_networks(), MuxConfig::default());
    let g1 = lab.admit("ns-one");
    let g2 = lab.admit("ns-two");
    let g3 = lab.admit("ns-three");
    lab.connect(g1, "lab-a", Some("passphrase of A"));
    lab.connect(g2, "lab-a", Some("passphrase of A"));
    lab.connect(g3, "lab-b", Some("another secret B"));
    lab.drive_until(Duration::from_secs(20), |l| {
        [g1, g2, g3].iter().all(|g| l.connected(*g))
    });

    // A fourth guest with the wrong passphrase is told so, the others stay connected.
    let g4 = lab.admit("ns-four");
    lab.connect(g4, "lab-b", Some("not the passphrase"));
    lab.drive_until(Duration::from_secs(30), |l| l.failure(g4).is_some());
    assert_eq!(lab.failure(g4), Some(ConnectFailure::WrongPassphrase));
    for g in [g1, g2, g3] {
        assert!(lab.connected(g), "guest {g:?} lost its connection");
    }

    // g1 -> g2 through AP A (bridged, re-encrypted), and g2 -> g1.
    let (m1, m2) = (lab.mac(g1), lab.mac(g2));
    for g in [g1, g2, g3] {
        lab.take(g);
    }
    lab.send(g1, ip_frame(m1, m2, 1));
    lab.send(g2, ip_frame(m2, m1, 2));
    // g3 (on the other channel, time-shared) sends to its AP's uplink.
    lab.send(
        g3,
        ip_frame(lab.mac(g3), MacAddr([0x02, 0xee, 0, 0, 0, 1]), 3),
    );
    lab.drive_until(Duration::from_secs(5), |l| {
        l.data_received(g2).iter().any(|e| e.payload[1] == 1)
            && l.data_received(g1).iter().any(|e| e.payload[1] == 2)
    });
    // g3's frame left through AP B's uplink.
    let mut uplinked = Vec::new();
    let g3_mac = lab.mac(g3);
    lab.drive_until(Duration::from_secs(5), |l| {
        let _ = l;
        true
    });
    for _ in 0..2000 {
        while let Some(f) = lab.world.node_mut::<SoftAp>(lab.aps[1]).poll_uplink() {
            uplinked.push(f);
        }
        if uplinked.iter().any(|f| f.src == g3_mac) {
            break;
        }
        lab.world.step();
    }
    assert!(
        uplinked
            .iter()
            .any(|f| f.src == g3_mac && f.payload[1] == 3),
        "g3's frame never reached the uplink"
    );
    // Isolation: nobody saw another guest's unicast frames.
    for (g, mac) in [(g1, m1), (g2, m2), (g3, g3_mac)] {
        assert!(
            lab.data_received(g)
                .iter()
                .all(|e| e.dst == mac || e.dst.is_group()),
            "guest {g:?} saw foreign unicast"
        );
    }
    assert!(lab.connected(g1) && lab.connected(g2) && lab.connected(g3));
}
