//! Property tests of the Mux's isolation on the simulated air: random guest actions (connect,
//! disconnect, scan, data to random addresses with honest or spoofed sources, data from the
//! uplinks) over random frame loss. Whatever happens:
//! - no guest ever receives a unicast frame addressed to another (every `Message::Data` a guest
//!   gets is for its own address or a group address);
//! - no guest can send as another: a frame with a foreign source never appears on the air (the
//!   open network's frames are read from the capture), at an AP's uplink or at another guest,
//!   and the Mux counts every such attempt as spoofed.

mod mux_lab;

use std::time::Duration;

use bytes::Bytes;
use mux_lab::{psk_of, Lab, LabOptions, Net, UPLINK_PEER};
use proptest::prelude::*;
use vwifi_core::demux::GuestId;
use vwifi_core::proto::{Credentials, Message, RequestId, ScanMode};
use vwifi_core::sim::medium::MediumConfig;
use vwifi_core::sim::pcap::PcapFile;
use vwifi_core::wire::{EtherType, EthernetFrame, Frame};
use vwifi_core::MacAddr;

const GUESTS: usize = 4;
/// Marks the payload of a frame a guest sent: `[MAGIC, sender index, serial (2 bytes)]`.
const MAGIC: u8 = 0xa5;
/// Marks the payload of a frame injected at an uplink.
const UPLINK_MAGIC: u8 = 0x5a;
const RANDOM_MAC: MacAddr = MacAddr([0x02, 0x42, 0x42, 0, 0, 7]);

/// Network 0: WPA2 on channel 1; network 1: open on channel 11 (its frames are readable on
/// the air).
fn nets() -> Vec<Net> {
    vec![
        Net {
            ssid: "prop-wpa2",
            bssid: MacAddr([0x02, 0x76, 0x77, 0, 1, 0x0a]),
            channel: 1,
            pass: Some("property passphrase"),
            at: (0.0, 0.0),
        },
        Net {
            ssid: "prop-open",
            bssid: MacAddr([0x02, 0x76, 0x77, 0, 1, 0x0b]),
            channel: 11,
            pass: None,
            at: (4.0, 0.0),
        },
    ]
}

#[derive(Debug, Clone, Copy)]
enum Dst {
    Guest(usize),
    Broadcast,
    Uplink,
    Random,
}

#[derive(Debug, Clone, Copy)]
enum Src {
    Own,
    Guest(usize),
    Random,
}

#[derive(Debug, Clone)]
enum Action {
    Connect {
        guest: usize,
        net: usize,
        right: bool,
    },
    Disconnect {
        guest: usize,
    },
    Scan {
        guest: usize,
    },
    Send {
        guest: usize,
        dst: Dst,
        src: Src,
    },
    Uplink {
        net: usize,
        to: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let guest = 0..GUESTS;
    let dst = prop_oneof![
        (0..GUESTS).prop_map(Dst::Guest),
        Just(Dst::Broadcast),
        Just(Dst::Uplink),
        Just(Dst::Random),
    ];
    let src = prop_oneof![
        3 => Just(Src::Own),
        2 => (0..GUESTS).prop_map(Src::Guest),
        1 => Just(Src::Random),
    ];
    prop_oneof![
        3 => (guest.clone(), 0..2usize, prop::bool::weighted(0.8))
            .prop_map(|(guest, net, right)| Action::Connect { guest, net, right }),
        1 => guest.clone().prop_map(|guest| Action::Disconnect { guest }),
        1 => guest.clone().prop_map(|guest| Action::Scan { guest }),
        6 => (guest.clone(), dst, src).prop_map(|(guest, dst, src)| Action::Send { guest, dst, src }),
        2 => (0..2usize, guest).prop_map(|(net, to)| Action::Uplink { net, to }),
    ]
}

struct Run {
    lab: Lab,
    guests: Vec<GuestId>,
    macs: Vec<MacAddr>,
    wrong_psk: vwifi_core::crypto::Psk,
    /// Frames each guest sent with a source other than its own address.
    spoofs: Vec<u64>,
    serial: u16,
    /// Every frame delivered to each guest.
    delivered: Vec<Vec<EthernetFrame>>,
    /// Every frame that left through an uplink.
    uplinked: Vec<EthernetFrame>,
}

impl Run {
    fn new(seed: u64, loss: f64) -> Self {
        let medium = MediumConfig {
            extra_loss: loss,
            ..MediumConfig::default()
        };
        let mut lab = Lab::with_options(
            seed,
            &nets(),
            LabOptions {
                medium,
                ..LabOptions::default()
            },
        );
        let guests = lab.admit_many("prop", GUESTS);
        let macs = guests.iter().map(|g| lab.mac(*g)).collect();
        Self {
            lab,
            guests,
            macs,
            wrong_psk: psk_of("not the passphrase", "prop-wpa2"),
            spoofs: vec![0; GUESTS],
            serial: 0,
            delivered: vec![Vec::new(); GUESTS],
            uplinked: Vec::new(),
        }
    }

    fn apply(&mut self, a: &Action) {
        match *a {
            Action::Connect { guest, net, right } => {
                if right || self.lab.psks[net].is_none() {
                    self.lab.connect_net(self.guests[guest], net);
                } else {
                    let creds = Credentials::Psk(self.wrong_psk.clone());
                    self.lab
                        .connect_with(self.guests[guest], nets()[net].ssid, creds);
                }
            }
            Action::Disconnect { guest } => {
                let msg = Message::Disconnect { id: RequestId(2) };
                self.lab.send(self.guests[guest], msg);
            }
            Action::Scan { guest } => {
                let msg = Message::ScanRequest {
                    id: RequestId(3),
                    ssid: None,
                    mode: ScanMode::Active,
                };
                self.lab.send(self.guests[guest], msg);
            }
            Action::Send { guest, dst, src } => {
                let dst = match dst {
                    Dst::Guest(i) => self.macs[i],
                    Dst::Broadcast => MacAddr::BROADCAST,
                    Dst::Uplink => UPLINK_PEER,
                    Dst::Random => RANDOM_MAC,
                };
                let src = match src {
                    Src::Own => self.macs[guest],
                    Src::Guest(i) => self.macs[i],
                    Src::Random => RANDOM_MAC,
                };
                // A short burst, as traffic comes.
                for _ in 0..3 {
                    if src != self.macs[guest] {
                        self.spoofs[guest] += 1;
                    }
                    self.serial = self.serial.wrapping_add(1);
                    let [lo, hi] = self.serial.to_le_bytes();
                    let payload = [MAGIC, guest as u8, lo, hi, 0, 0, 0, 0];
                    let msg = mux_lab::tagged_frame(src, dst, &payload);
                    self.lab.send(self.guests[guest], msg);
                }
            }
            Action::Uplink { net, to } => {
                let now = self.lab.world.now();
                let frame = EthernetFrame {
                    dst: self.macs[to],
                    src: UPLINK_PEER,
                    ethertype: EtherType::Ipv4,
                    payload: Bytes::from(vec![UPLINK_MAGIC, to as u8, 0, 0]),
                };
                self.lab.ap_mut(net).handle_uplink(now, frame);
            }
        }
    }

    /// Runs the world for `d`, collecting what guests and uplinks got.
    fn run(&mut self, d: Duration) {
        let until = self.lab.world.now() + d;
        while self.lab.world.now() < until {
            let step = Duration::from_millis(10).min(until - self.lab.world.now());
            self.lab.run_for(step);
            for net in 0..2 {
                let up = self.lab.drain_uplink(net);
                self.uplinked.extend(up);
            }
        }
        for (i, g) in self.guests.iter().enumerate() {
            for m in self.lab.take(*g) {
                if let Message::Data(b) = m {
                    let eth = EthernetFrame::parse_bytes(&b).expect("the Mux sends valid frames");
                    self.delivered[i].push(eth);
                }
            }
        }
    }

    /// The claimed sender of a frame carrying our tag, if it does.
    fn tagged_sender(&self, eth: &EthernetFrame) -> Option<MacAddr> {
        match eth.payload.first().copied() {
            Some(MAGIC) => {
                let i = usize::from(*eth.payload.get(1)?);
                self.macs.get(i).copied()
            }
            _ => None,
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        // 1. Unicast reaches its owner only.
        for (i, frames) in self.delivered.iter().enumerate() {
            for f in frames {
                prop_assert!(
                    f.dst == self.macs[i] || f.dst.is_group(),
                    "guest {i} received a frame for {}",
                    f.dst
                );
                if f.payload.first() == Some(&UPLINK_MAGIC) {
                    prop_assert_eq!(usize::from(f.payload[1]), i);
                }
            }
        }
        // 2. No frame with a foreign source reached another guest or an uplink.
        let downstream = self.delivered.iter().flatten().chain(&self.uplinked);
        for f in downstream {
            if let Some(sender) = self.tagged_sender(f) {
                prop_assert_eq!(f.src, sender, "a guest sent as {}", f.src);
            }
        }
        // 3. Nor did one appear on the air (the open network's frames are readable).
        let pcap = PcapFile::parse(self.lab.world.pcap_bytes()).expect("capture");
        for rec in &pcap.records {
            let Ok((rt, mut bytes)) = rec.radiotap() else {
                continue;
            };
            if rt.flags.is_some_and(|f| f & 0x10 != 0) {
                bytes = bytes
                    .get(..bytes.len().saturating_sub(4))
                    .unwrap_or_default();
            }
            let Ok(Frame::Data(d)) = Frame::parse(bytes) else {
                continue;
            };
            let Ok(eth) = EthernetFrame::from_data(&d) else {
                continue;
            };
            if let Some(sender) = self.tagged_sender(&eth) {
                prop_assert_eq!(eth.src, sender, "a spoofed frame on the air");
                if d.header.flags().to_ds() {
                    prop_assert_eq!(d.header.addr2, sender, "transmitted as another");
                }
            }
        }
        // 4. The Mux counted every attempt.
        for (i, g) in self.guests.iter().enumerate() {
            prop_assert_eq!(self.lab.counters(*g).spoofed, self.spoofs[i]);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_guest_sees_anothers_unicast_or_sends_as_another(
        seed in any::<u64>(),
        loss in prop_oneof![Just(0.0), Just(0.05), Just(0.15)],
        steps in prop::collection::vec((action(), 0u64..300), 1..32),
    ) {
        let mut run = Run::new(seed, loss);
        // Everyone starts on a network, so that most actions have something to act on.
        for i in 0..GUESTS {
            run.apply(&Action::Connect { guest: i, net: i % 2, right: true });
        }
        run.run(Duration::from_millis(2500));
        for (a, ms) in &steps {
            run.apply(a);
            run.run(Duration::from_millis(*ms + 2));
        }
        run.run(Duration::from_secs(1));
        run.check()?;
    }
}
