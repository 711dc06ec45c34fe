//! Several guests share one simulated radio, in one process, in virtual time: no root, no
//! hardware, no sockets. The built-in demo networks (`vwifi-open`, `vwifi-lab` on channel 1,
//! `vwifi-office` on channel 6) run as software APs on the simulated medium; the host's radio is
//! the Mux (as a `MuxNode`), and each guest gets its own virtual station:
//!
//! - `ns-open` joins `vwifi-open` (open), `ns-lab` joins `vwifi-lab` and `ns-office` joins
//!   `vwifi-office`, each with its own passphrase; the radio time-shares channels 1 and 6;
//! - `ns-intruder` tries `vwifi-lab` with a wrong passphrase and is refused, told why;
//! - `ns-open` and `ns-lab` exchange frames through their APs' uplinks, bridged as
//!   `vwifi-host` does ("the wired LAN");
//! - a status table like `vwifi-host status` ends the run.
//!
//! Run: `cargo run -p vwifi-examples --example sim_guests` (it ends by itself).

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use vwifi_core::crypto::Passphrase;
use vwifi_core::demux::GuestId;
use vwifi_core::mux::{GuestConfig, Mux, MuxConfig};
use vwifi_core::mux_node::MuxNode;
use vwifi_core::proto::{ConnectFailure, Credentials, Event, Message, RequestId, Ssid};
use vwifi_core::radio::NodeId;
use vwifi_core::sim::ap::SoftAp;
use vwifi_core::sim::config::SimConfig;
use vwifi_core::sim::medium::{Medium, MediumConfig, Placement};
use vwifi_core::wire::{EtherType, EthernetFrame};
use vwifi_core::MacAddr;

/// One guest of the example: its name, the network it joins and the passphrase it gives.
struct Guest {
    name: &'static str,
    ssid: &'static str,
    passphrase: Option<&'static str>,
    id: GuestId,
    inbox: Vec<Message>,
}

/// The simulated world: the medium with the demo APs and the host's radio.
struct Lab {
    medium: Medium,
    aps: Vec<NodeId>,
    /// Per AP, the uplink frames taken so far.
    uplinked: Vec<u64>,
    host: NodeId,
    guests: Vec<Guest>,
}

impl Lab {
    fn new() -> Result<Self, String> {
        let sim = SimConfig::demo();
        let seed = sim.seed.unwrap_or(1);
        let mut medium_seed = [0u8; 32];
        medium_seed[..8].copy_from_slice(&seed.to_le_bytes());
        let mut medium =
            Medium::new(MediumConfig::default(), medium_seed).map_err(|e| e.to_string())?;
        let mut aps = Vec::new();
        for (i, cfg) in sim
            .ap_configs()
            .map_err(|e| e.to_string())?
            .into_iter()
            .enumerate()
        {
            let (x, y) = cfg.position;
            let bssid = cfg.bssid;
            let ap =
                SoftAp::new(cfg, medium.now(), seed + i as u64 + 1).map_err(|e| e.to_string())?;
            let node = medium.add_node(ap, Placement::at(x, y));
            medium
                .set_addresses(node, vec![bssid])
                .map_err(|e| e.to_string())?;
            aps.push(node);
        }
        let channel = vwifi_core::channel::Channel::new(1).map_err(|e| e.to_string())?;
        let mux = Mux::new(MuxConfig::default(), [42; 32]);
        let host = medium.add_node(MuxNode::new(mux, channel), Placement::at(2.0, 2.0));
        Ok(Self {
            medium,
            uplinked: vec![0; aps.len()],
            aps,
            host,
            guests: Vec::new(),
        })
    }

    fn node(&self) -> &MuxNode {
        self.medium
            .node_as::<MuxNode>(self.host)
            .expect("the host radio")
    }

    fn node_mut(&mut self) -> &mut MuxNode {
        self.medium
            .node_as_mut::<MuxNode>(self.host)
            .expect("the host radio")
    }

    fn admit(&mut self, name: &'static str, ssid: &'static str, passphrase: Option<&'static str>) {
        let id = self
            .node_mut()
            .admit(GuestConfig {
                name: name.into(),
                mac: None,
            })
            .expect("room for the guest");
        let addrs = self.node().addresses();
        self.medium
            .set_addresses(self.host, addrs)
            .expect("unique addresses");
        self.guests.push(Guest {
            name,
            ssid,
            passphrase,
            id,
            inbox: Vec::new(),
        });
    }

    fn send(&mut self, i: usize, msg: Message) {
        let now = self.medium.now();
        let id = self.guests[i].id;
        self.node_mut().guest_message(now, id, msg);
    }

    fn mac(&self, i: usize) -> MacAddr {
        self.node()
            .mux()
            .station(self.guests[i].id)
            .expect("admitted")
            .mac()
    }

    /// Advances to the next event, bridges the APs' uplinks and collects the guests' messages.
    fn step(&mut self) {
        let Some(next) = self.medium.poll_timeout() else {
            // Nothing left to happen: let time pass.
            let later = self.medium.now() + Duration::from_millis(10);
            self.medium.handle_timeout(later);
            return;
        };
        self.medium.handle_timeout(next);
        let now = self.medium.now();
        // The uplink bridge: a frame leaving one AP's uplink enters every other AP's.
        // Only APs whose uplink counter moved are touched: touching a node makes the medium
        // service it again at once, and an idle world must stay idle for time to move on.
        let mut out = Vec::new();
        for (&ap, taken) in self.aps.iter().zip(self.uplinked.iter_mut()) {
            let sent = self
                .medium
                .node_as::<SoftAp>(ap)
                .map_or(0, |a| a.counters().uplink_tx_frames);
            if sent != *taken {
                *taken = sent;
                if let Some(a) = self.medium.node_as_mut::<SoftAp>(ap) {
                    while let Some(f) = a.poll_uplink() {
                        out.push((ap, f));
                    }
                }
            }
        }
        for (from, frame) in out {
            for &ap in self.aps.iter().filter(|&&a| a != from) {
                if let Some(a) = self.medium.node_as_mut::<SoftAp>(ap) {
                    a.handle_uplink(now, frame.clone());
                }
            }
        }
        for i in 0..self.guests.len() {
            let id = self.guests[i].id;
            if !self.node().guest_items(id).is_empty() {
                let msgs = self.node_mut().take_guest_messages(id);
                self.guests[i].inbox.extend(msgs);
            }
        }
    }

    /// Runs until `done` holds, for at most `limit` of virtual time.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = self.medium.now() + limit;
        while !done(self) {
            if self.medium.now() > deadline {
                return false;
            }
            self.step();
        }
        true
    }

    fn event(&self, i: usize, f: impl Fn(&Event) -> bool) -> bool {
        self.guests[i]
            .inbox
            .iter()
            .any(|m| matches!(m, Message::Event(e) if f(e)))
    }

    fn failure(&self, i: usize) -> Option<ConnectFailure> {
        self.guests[i].inbox.iter().find_map(|m| match m {
            Message::Event(Event::ConnectFailed { reason }) => Some(*reason),
            _ => None,
        })
    }

    fn received(&self, i: usize, tag: u8) -> bool {
        self.guests[i].inbox.iter().any(|m| match m {
            Message::Data(d) => {
                EthernetFrame::parse_bytes(d).is_ok_and(|e| e.payload.get(1) == Some(&tag))
            }
            _ => false,
        })
    }
}

fn ping(src: MacAddr, dst: MacAddr, tag: u8) -> Message {
    let mut out = Vec::new();
    EthernetFrame {
        dst,
        src,
        ethertype: EtherType::Ipv4,
        payload: Bytes::from(vec![0x45, tag, 0, 20, 192, 168, 0, tag]),
    }
    .emit(&mut out);
    Message::Data(out.into())
}

fn connect(lab: &mut Lab, i: usize) {
    let g = &lab.guests[i];
    println!(
        "{:<12} joins {:<13} {}",
        g.name,
        g.ssid,
        if g.passphrase.is_some() {
            "with its passphrase"
        } else {
            "(open)"
        }
    );
    let credentials = match g.passphrase {
        Some(p) => Credentials::Passphrase(Passphrase::new(p).expect("valid passphrase")),
        None => Credentials::None,
    };
    let ssid = Ssid::new(g.ssid.as_bytes()).expect("valid SSID");
    lab.send(
        i,
        Message::Connect {
            id: RequestId(1),
            ssid,
            bssid: None,
            credentials,
        },
    );
}

fn print_status(lab: &Lab) {
    let mux = lab.node().mux();
    println!(
        "\n{:<12} {:<17} {:<10} {:<13} {:<17} {:>3} {:>8} {:>9} {:>7} {:>7}",
        "GUEST", "MAC", "STATE", "SSID", "BSSID", "CH", "SIGNAL", "RATE", "RX", "TX"
    );
    for g in &lab.guests {
        let Some(r) = mux.report(g.id) else { continue };
        let s = &r.status;
        let dash = || "-".to_owned();
        println!(
            "{:<12} {:<17} {:<10} {:<13} {:<17} {:>3} {:>8} {:>9} {:>7} {:>7}",
            g.name,
            s.mac.to_string(),
            format!("{:?}", s.state).to_lowercase(),
            s.ssid.as_ref().map_or_else(dash, ToString::to_string),
            s.bssid.map_or_else(dash, |b| b.to_string()),
            s.channel.map_or_else(dash, |c| c.to_string()),
            s.signal_dbm.map_or_else(dash, |d| format!("{d} dBm")),
            s.tx_rate_kbps
                .map_or_else(dash, |k| format!("{} Mb/s", k / 1000)),
            s.counters.rx_packets,
            s.counters.tx_packets,
        );
    }
    let st = mux.stats();
    println!(
        "\nradio: {} frames sent, {} received, {} channel changes, {:.1} s of virtual time",
        st.tx_frames,
        st.rx_frames,
        st.tunes,
        lab.medium.now().as_micros() as f64 / 1e6
    );
}

fn main() -> ExitCode {
    let mut lab = match Lab::new() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot build the simulated world: {e}");
            return ExitCode::FAILURE;
        }
    };
    lab.admit("ns-open", "vwifi-open", None);
    lab.admit("ns-lab", "vwifi-lab", Some("correct horse battery staple"));
    lab.admit("ns-office", "vwifi-office", Some("office demo passphrase"));
    lab.admit("ns-intruder", "vwifi-lab", Some("not the lab passphrase"));
    // The three members join first; the intruder tries once they are connected.
    for i in 0..3 {
        connect(&mut lab, i);
    }
    let joined = lab.run_until(Duration::from_secs(30), |l| {
        (0..3).all(|i| l.event(i, |e| matches!(e, Event::Connected { .. })))
    });
    for g in &lab.guests {
        let connected = g.inbox.iter().find_map(|m| match m {
            Message::Event(Event::Connected {
                ssid,
                bssid,
                channel,
            }) => Some((ssid, bssid, channel)),
            _ => None,
        });
        if let Some((ssid, bssid, channel)) = connected {
            println!(
                "{:<12} connected to {ssid} ({bssid}, channel {channel})",
                g.name
            );
        }
    }
    if !joined {
        eprintln!("not every guest joined within 30 s of virtual time");
        print_status(&lab);
        return ExitCode::FAILURE;
    }
    connect(&mut lab, 3);
    lab.run_until(Duration::from_secs(30), |l| l.failure(3).is_some());
    match lab.failure(3) {
        Some(ConnectFailure::WrongPassphrase) => {
            println!(
                "{:<12} refused: wrong passphrase (the AP's 4-way handshake failed)",
                lab.guests[3].name
            );
        }
        other => {
            eprintln!("the intruder was not refused for its passphrase: {other:?}");
            print_status(&lab);
            return ExitCode::FAILURE;
        }
    }

    // ns-open <-> ns-lab: two networks, one wired LAN behind their APs.
    let (open, lab_mac) = (lab.mac(0), lab.mac(1));
    lab.send(0, ping(open, lab_mac, 1));
    lab.send(1, ping(lab_mac, open, 2));
    let exchanged = lab.run_until(Duration::from_secs(5), |l| {
        l.received(1, 1) && l.received(0, 2)
    });
    if !exchanged {
        eprintln!("the frames between ns-open and ns-lab did not arrive");
        print_status(&lab);
        return ExitCode::FAILURE;
    }
    println!("ns-open -> ns-lab and back: delivered through vwifi-open, the bridge and vwifi-lab");
    print_status(&lab);
    ExitCode::SUCCESS
}
