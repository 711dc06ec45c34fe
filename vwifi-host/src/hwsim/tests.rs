//! The kernel radios on the medium, without a kernel: messages as the kernel would send them go
//! in, and what comes out for the kernel is checked.

use core::time::Duration;

use bytes::Bytes;
use vwifi_core::mux::MuxConfig;
use vwifi_core::sim::config::SimConfig;
use vwifi_core::sim::medium::{Medium, MediumConfig};
use vwifi_core::wire::FrameView;
use vwifi_core::{Instant, MacAddr};

use super::msg::{FromKernel, KernelFrame, MsgError, ToKernel, TxRates, TX_STAT_ACK};
use super::*;
use crate::world::{HostNode, SimWorld};

fn radio(n: u8) -> MacAddr {
    MacAddr::from([0x42, 0, 0, 0, n, 0])
}

fn iface(n: u8) -> MacAddr {
    first_interface(radio(n))
}

/// A 3-address data frame from `from` to `to` (BSSID `to`), 30 bytes of payload.
fn data(from: MacAddr, to: MacAddr) -> Bytes {
    let mut f = vec![0x08, 0x01, 0, 0];
    f.extend_from_slice(&to.octets());
    f.extend_from_slice(&from.octets());
    f.extend_from_slice(&to.octets());
    f.extend_from_slice(&[0x10, 0]);
    f.extend_from_slice(&[0xaa; 30]);
    Bytes::from(f)
}

/// A broadcast probe request (wildcard SSID) from `from`.
fn probe(from: MacAddr) -> Bytes {
    let mut f = vec![0x40, 0, 0, 0];
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&from.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[0x20, 0]);
    f.extend_from_slice(&[0, 0, 1, 4, 0x82, 0x84, 0x8b, 0x96]);
    Bytes::from(f)
}

fn sent(from: u8, frame: Bytes, freq: Option<u32>, cookie: u64) -> Result<FromKernel, MsgError> {
    Ok(FromKernel::Frame(KernelFrame {
        radio: radio(from),
        frame,
        flags: 1,
        cookie,
        freq,
        rates: TxRates {
            rates: [(11, 3), (4, 3), (-1, 0), (-1, 0)],
        },
        rate_flags: [0; 4],
    }))
}

fn medium() -> Medium<HostNode> {
    Medium::new(MediumConfig::default(), [9; 32]).unwrap()
}

/// Runs the medium up to `until`.
fn run(medium: &mut Medium<HostNode>, until: Instant) {
    while let Some(t) = medium.poll_timeout().filter(|&t| t <= until) {
        medium.handle_timeout(t);
    }
    medium.handle_timeout(until);
}

fn frames_to(out: &[ToKernel], r: u8) -> Vec<(Bytes, i32, u32, u32)> {
    out.iter()
        .filter_map(|m| match m {
            ToKernel::Frame {
                radio: to,
                frame,
                signal_dbm,
                rate_index,
                freq,
            } if *to == radio(r) => Some((frame.clone(), *signal_dbm, *rate_index, *freq)),
            _ => None,
        })
        .collect()
}

fn statuses_of(out: &[ToKernel], r: u8) -> Vec<(u64, u32, TxRates)> {
    out.iter()
        .filter_map(|m| match m {
            ToKernel::TxInfo {
                radio: from,
                flags,
                cookie,
                rates,
                ..
            } if *from == radio(r) => Some((*cookie, *flags, *rates)),
            _ => None,
        })
        .collect()
}

#[test]
fn two_kernel_radios_reach_each_other_with_acknowledgement_and_signal() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    // Radio 1 speaks first (a probe request on channel 1), so it is on the air.
    k.handle(&mut m, sent(1, probe(iface(1)), Some(2412), 100));
    run(&mut m, Instant::from_millis(5));
    let out = k.poll_output(&mut m);
    assert_eq!(statuses_of(&out, 1).len(), 1, "{out:?}");
    // Radio 0 sends a unicast data frame to radio 1's interface.
    let frame = data(iface(0), iface(1));
    k.handle(&mut m, sent(0, frame.clone(), Some(2412), 7));
    run(&mut m, Instant::from_millis(10));
    let out = k.poll_output(&mut m);
    let got = frames_to(&out, 1);
    assert_eq!(got.len(), 1, "{out:?}");
    let (f, signal, rate, freq) = &got[0];
    assert_eq!(f, &frame);
    assert_eq!(*freq, 2412);
    assert_eq!(
        *signal, -20,
        "20 dBm less 40 dB at 1 m (radios 0 and 1 stand 1 m apart)"
    );
    assert_eq!(*rate, 11, "54 Mbit/s at 2.4 GHz is index 11");
    // Radio 0 hears the probe request? No: it was not on the air yet. Its status: acked,
    // one attempt at its first rate.
    let st = statuses_of(&out, 0);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].0, 7);
    assert_eq!(st[0].1, 1 | TX_STAT_ACK);
    assert_eq!(st[0].2.rates[0], (11, 1));
    assert_eq!(st[0].2.rates[1], (-1, 0));
    // Nothing goes back to the sender itself.
    assert!(frames_to(&out, 0).is_empty());
    // The counters agree.
    let counters: Vec<_> = k.radios(&m).map(|(r, _, c)| (r, c)).collect();
    assert_eq!(counters.len(), 2);
    assert_eq!(counters[0].1.tx_acked, 1);
    assert_eq!(counters[1].1.rx_frames, 1);
}

#[test]
fn a_frame_to_nobody_is_reported_unacked_after_the_retries() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    let nobody = MacAddr::from([2, 9, 9, 9, 9, 9]);
    k.handle(&mut m, sent(0, data(iface(0), nobody), Some(2412), 55));
    run(&mut m, Instant::from_millis(100));
    let out = k.poll_output(&mut m);
    let st = statuses_of(&out, 0);
    assert_eq!(st.len(), 1, "{out:?}");
    assert_eq!(st[0].0, 55);
    assert_eq!(st[0].1 & TX_STAT_ACK, 0);
    // The rates go back as the kernel tried them.
    assert_eq!(st[0].2.rates[0], (11, 3));
}

#[test]
fn a_radio_on_another_channel_does_not_hear_the_frame() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.handle(&mut m, sent(1, probe(iface(1)), Some(2437), 1));
    k.handle(&mut m, sent(2, probe(iface(2)), Some(2412), 2));
    run(&mut m, Instant::from_millis(5));
    let _ = k.poll_output(&mut m);
    k.handle(&mut m, sent(0, probe(iface(0)), Some(2412), 3));
    run(&mut m, Instant::from_millis(10));
    let out = k.poll_output(&mut m);
    assert_eq!(frames_to(&out, 2).len(), 1, "same channel: heard");
    assert!(frames_to(&out, 1).is_empty(), "channel 6: not heard");
}

#[test]
fn frames_on_two_channels_go_out_in_order_each_on_its_own_frequency() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.handle(&mut m, sent(1, probe(iface(1)), Some(2412), 1));
    k.handle(&mut m, sent(2, probe(iface(2)), Some(2437), 2));
    run(&mut m, Instant::from_millis(5));
    let _ = k.poll_output(&mut m);
    // Radio 0 scans: channel 1 then channel 6, back to back.
    k.handle(&mut m, sent(0, probe(iface(0)), Some(2412), 10));
    k.handle(&mut m, sent(0, probe(iface(0)), Some(2437), 11));
    run(&mut m, Instant::from_millis(20));
    let out = k.poll_output(&mut m);
    let on1 = frames_to(&out, 1);
    let on6 = frames_to(&out, 2);
    assert_eq!(on1.len(), 1, "{out:?}");
    assert_eq!(on6.len(), 1, "{out:?}");
    assert_eq!(on1[0].3, 2412);
    assert_eq!(on6[0].3, 2437);
    let cookies: Vec<u64> = statuses_of(&out, 0).iter().map(|s| s.0).collect();
    assert_eq!(cookies, [10, 11]);
}

#[test]
fn an_unknown_frequency_is_reported_unacked_at_once() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    // 4920 MHz: the Japanese 4.9 GHz band, no channel vwifi knows (5955 is 6 GHz channel 1).
    k.handle(&mut m, sent(0, probe(iface(0)), Some(4920), 4));
    let out = k.poll_output(&mut m);
    let st = statuses_of(&out, 0);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].1 & TX_STAT_ACK, 0);
    assert_eq!(m.stats().transmissions, 0);
    assert_eq!(
        k.radios(&m).next().map(|(_, _, c)| c.tx_unknown_freq),
        Some(1)
    );
}

#[test]
fn announced_and_learned_addresses_are_acknowledged() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    let vif = MacAddr::from([2, 0xaa, 0, 0, 1, 0]);
    k.handle(
        &mut m,
        Ok(FromKernel::AddMacAddr {
            radio: radio(1),
            addr: vif,
        }),
    );
    let node = k.nodes[&radio(1)];
    assert_eq!(m.owner_of(vif), Some(node));
    assert_eq!(m.owner_of(iface(1)), Some(node));
    // A frame radio 1 sends from yet another address teaches the medium that one too.
    let other = MacAddr::from([2, 0xbb, 0, 0, 1, 0]);
    k.handle(&mut m, sent(1, data(other, iface(0)), Some(2412), 1));
    assert_eq!(m.owner_of(other), Some(node));
    run(&mut m, Instant::from_millis(50));
    let _ = k.poll_output(&mut m);
    k.handle(&mut m, sent(0, data(iface(0), vif), Some(2412), 9));
    run(&mut m, Instant::from_millis(60));
    let out = k.poll_output(&mut m);
    assert_eq!(statuses_of(&out, 0)[0].1 & TX_STAT_ACK, TX_STAT_ACK);
    // Gone again: no longer acknowledged.
    k.handle(
        &mut m,
        Ok(FromKernel::DelMacAddr {
            radio: radio(1),
            addr: vif,
        }),
    );
    assert_eq!(m.owner_of(vif), None);
}

#[test]
fn malformed_and_foreign_messages_are_counted_never_fatal() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    for e in msg::parse_datagram(
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
        30,
    ) {
        k.handle(&mut m, e);
    }
    k.handle(&mut m, Ok(FromKernel::Error { errno: 22 }));
    k.handle(
        &mut m,
        Ok(FromKernel::Other {
            nl_type: 30,
            cmd: Some(6),
        }),
    );
    // A frame too short for a header still goes on the air (the medium carries any bytes)
    // and gets its status.
    k.handle(&mut m, sent(0, Bytes::from_static(&[0x08]), Some(2412), 3));
    run(&mut m, Instant::from_millis(5));
    let out = k.poll_output(&mut m);
    assert_eq!(statuses_of(&out, 0).len(), 1);
    let c = k.counters();
    assert_eq!((c.malformed, c.kernel_errors, c.ignored), (1, 1, 1));
}

#[test]
fn radios_stand_where_the_configuration_says() {
    let cfg = HwsimSection {
        position: Some([10.0, 5.0]),
        radios: vec![HwsimRadioSection {
            index: 2,
            position: [-3.0, 1.0],
        }],
        ..HwsimSection::default()
    };
    assert_eq!(cfg.position_of(radio(0)), (10.0, 5.0));
    assert_eq!(cfg.position_of(radio(1)), (11.0, 5.0));
    assert_eq!(cfg.position_of(radio(2)), (-3.0, 1.0));
    assert_eq!(radio_index(MacAddr::from([0x42, 0, 0, 1, 2, 0])), 258);
    assert!(cfg.validate().is_ok());
    let bad = HwsimSection {
        position: None,
        radios: vec![
            HwsimRadioSection {
                index: 1,
                position: [0.0, 0.0],
            },
            HwsimRadioSection {
                index: 1,
                position: [f64::NAN, 0.0],
            },
        ],
        ..HwsimSection::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "radios[1].position: coordinates must be finite numbers, got [NaN, 0]"
    );
}

/// The whole point: a kernel station and vwifi's software AP on one air.
#[test]
fn a_kernel_station_hears_a_vwifi_soft_ap_and_gets_its_probe_response() {
    let sim = SimConfig::from_toml_str(
        "seed = 3\n[[aps]]\nssid = \"vwifi-lab\"\nchannel = 1\nposition = [0.0, 0.0]\n",
    )
    .unwrap();
    let mut world = SimWorld::new(&sim, MuxConfig::default(), [5; 32]).unwrap();
    let bssid = world.aps().next().unwrap().bssid();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    world.advance(Instant::from_millis(1));
    k.handle(world.medium_mut(), sent(0, probe(iface(0)), Some(2412), 1));
    let mut out = Vec::new();
    let mut t = Instant::from_millis(1);
    while t < Instant::from_millis(300) {
        t += Duration::from_millis(5);
        world.advance(t);
        out.extend(k.poll_output(&mut world));
    }
    let from_ap: Vec<u8> = frames_to(&out, 0)
        .iter()
        .filter_map(|(f, ..)| {
            let v = FrameView::new_checked(&f[..]).ok()?;
            (v.addr2() == Some(bssid)).then(|| f[0])
        })
        .collect();
    assert!(from_ap.contains(&0x50), "a probe response: {from_ap:x?}");
    assert!(from_ap.contains(&0x80), "beacons: {from_ap:x?}");
    // The probe response was unicast to the station's interface and acknowledged by the
    // medium on the kernel radio's behalf: the AP saw it acked.
    assert!(world.medium().stats().acked >= 1);
}

/// A beacon of the open network `lab` on channel 1 from `bssid`.
fn beacon(bssid: MacAddr) -> Bytes {
    let mut f = vec![0x80, 0, 0, 0];
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&bssid.octets());
    f.extend_from_slice(&bssid.octets());
    f.extend_from_slice(&[0x30, 0]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&[100, 0, 0x01, 0]);
    f.extend_from_slice(&[0, 3, b'l', b'a', b'b']);
    f.extend_from_slice(&[1, 8, 0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]);
    f.extend_from_slice(&[3, 1, 1]);
    Bytes::from(f)
}

/// The other way round: vwifi's station (the Mux, the host's radio) and a kernel AP.
#[test]
fn a_vwifi_station_authenticates_to_a_kernel_ap_and_the_medium_acks_for_it() {
    use vwifi_core::mux::GuestConfig;
    use vwifi_core::proto::{Credentials, Message, RequestId, Ssid};
    let sim = SimConfig::from_toml_str("seed = 3\n").unwrap();
    let mut world = SimWorld::new(&sim, MuxConfig::default(), [5; 32]).unwrap();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    let g = world
        .admit(GuestConfig {
            name: "g".into(),
            mac: None,
        })
        .unwrap();
    let sta = world.mux().station(g).unwrap().mac();
    world.guest_message(
        Instant::ZERO,
        g,
        Message::Connect {
            id: RequestId(1),
            ssid: Ssid::new(b"lab").unwrap(),
            bssid: None,
            credentials: Credentials::None,
        },
    );
    let mut out = Vec::new();
    let mut t = Instant::ZERO;
    let mut cookie = 0;
    while t < Instant::from_millis(3000) {
        if t.as_micros() % 102_400 < 5000 {
            cookie += 1;
            k.handle(
                world.medium_mut(),
                sent(0, beacon(iface(0)), Some(2412), cookie),
            );
        }
        t += Duration::from_millis(5);
        world.advance(t);
        out.extend(k.poll_output(&mut world));
    }
    let auths = frames_to(&out, 0)
        .iter()
        .filter(|(f, ..)| f[0] == 0xb0)
        .count();
    assert!(
        auths >= 1,
        "the station's authentication reached the kernel radio"
    );
    let from_sta = frames_to(&out, 0)
        .into_iter()
        .filter(|(f, ..)| FrameView::new_checked(&f[..]).ok().and_then(|v| v.addr2()) == Some(sta))
        .count();
    assert!(from_sta >= 1);
    assert!(
        world.medium().stats().acked >= 1,
        "{:?}",
        world.medium().stats()
    );
}

/// A null data frame from `from` to its AP `to`, with or without the power-management bit.
fn null(from: MacAddr, to: MacAddr, sleeps: bool) -> Bytes {
    let mut f = vec![0x48, if sleeps { 0x11 } else { 0x01 }, 0, 0];
    f.extend_from_slice(&to.octets());
    f.extend_from_slice(&from.octets());
    f.extend_from_slice(&to.octets());
    f.extend_from_slice(&[0x40, 0]);
    Bytes::from(f)
}

#[test]
fn frames_for_a_station_that_sleeps_are_held_until_it_wakes() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    // Radio 1 (a station) tells radio 0 (its AP) that it sleeps.
    k.handle(&mut m, sent(0, probe(iface(0)), Some(2412), 1));
    k.handle(
        &mut m,
        sent(1, null(iface(1), iface(0), true), Some(2412), 2),
    );
    run(&mut m, Instant::from_millis(10));
    let _ = k.poll_output(&mut m);
    // The AP sends it a frame: held, no status yet, nothing reaches the station.
    let frame = data(iface(0), iface(1));
    k.handle(&mut m, sent(0, frame.clone(), Some(2412), 3));
    run(&mut m, Instant::from_millis(20));
    let out = k.poll_output(&mut m);
    assert!(frames_to(&out, 1).is_empty(), "{out:?}");
    assert!(statuses_of(&out, 0).is_empty(), "{out:?}");
    // The station wakes: the held frame goes out and is acknowledged.
    k.handle(
        &mut m,
        sent(1, null(iface(1), iface(0), false), Some(2412), 4),
    );
    run(&mut m, Instant::from_millis(30));
    let out = k.poll_output(&mut m);
    let got = frames_to(&out, 1);
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(got[0].0, frame);
    let st = statuses_of(&out, 0);
    assert_eq!(st.len(), 1);
    assert_eq!((st[0].0, st[0].1 & TX_STAT_ACK), (3, TX_STAT_ACK));
    let c = k.radios(&m).next().map(|(_, _, c)| c).unwrap();
    assert_eq!((c.held_for_sleeper, c.held_dropped), (1, 0));
}

#[test]
fn a_frame_held_too_long_is_reported_unacked() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.handle(&mut m, sent(0, probe(iface(0)), Some(2412), 1));
    k.handle(
        &mut m,
        sent(1, null(iface(1), iface(0), true), Some(2412), 2),
    );
    run(&mut m, Instant::from_millis(10));
    let _ = k.poll_output(&mut m);
    k.handle(&mut m, sent(0, data(iface(0), iface(1)), Some(2412), 3));
    run(
        &mut m,
        Instant::from_millis(10) + radio::HOLD_LIMIT + Duration::from_millis(5),
    );
    let out = k.poll_output(&mut m);
    let st = statuses_of(&out, 0);
    assert_eq!(st.len(), 1, "{out:?}");
    assert_eq!((st[0].0, st[0].1 & TX_STAT_ACK), (3, 0));
    assert!(frames_to(&out, 1).is_empty());
}

#[test]
fn a_kernel_radio_s_ht_rate_sets_its_frames_airtime_and_rate_on_the_medium() {
    let mut m = medium();
    m.enable_capture(None);
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.handle(&mut m, sent(1, probe(iface(1)), Some(5180), 100));
    run(&mut m, Instant::from_millis(5));
    let _ = k.poll_output(&mut m);
    // Radio 0 sends a data frame at HT MCS 15, 40 MHz, short GI (300 Mbit/s), as minstrel_ht
    // in the kernel would choose.
    let frame = data(iface(0), iface(1));
    let ht = super::msg::TX_RC_MCS | super::msg::TX_RC_40_MHZ | super::msg::TX_RC_SHORT_GI;
    k.handle(
        &mut m,
        Ok(FromKernel::Frame(KernelFrame {
            radio: radio(0),
            frame: frame.clone(),
            flags: 1,
            cookie: 8,
            freq: Some(5180),
            rates: TxRates {
                rates: [(15, 2), (-1, 0), (-1, 0), (-1, 0)],
            },
            rate_flags: [ht, 0, 0, 0],
        })),
    );
    run(&mut m, Instant::from_millis(10));
    let out = k.poll_output(&mut m);
    assert_eq!(frames_to(&out, 1).len(), 1, "{out:?}");
    // The capture shows the frame with the HT MCS field: index 15, 40 MHz, short GI.
    let pcap = m.take_capture().unwrap();
    let file = vwifi_core::sim::pcap::PcapFile::parse(&pcap).unwrap();
    let mcs: Vec<[u8; 3]> = file
        .records
        .iter()
        .filter_map(|r| r.radiotap().ok()?.0.mcs)
        .collect();
    assert_eq!(mcs, [[0x07, 0x05, 15]]);
}

fn guest(name: &str, x: f64, n: u8) -> GuestRadio {
    GuestRadio {
        guest: name.into(),
        position: (x, 0.0),
        wiphy: format!("vw-{name}"),
        ifname: "wlan0".into(),
        address: iface(n),
    }
}

#[test]
fn a_guests_radio_stands_where_placed_and_cannot_speak_as_another_node() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.add_guest(&mut m, radio(0), guest("c1", 3.0, 0));
    k.add_guest(&mut m, radio(1), guest("c2", 40.0, 1));
    let node0 = m
        .owner_of(iface(0))
        .expect("radio 0 answers to its interface at once");
    assert_eq!(m.placement(node0).unwrap().position.x, 3.0);
    // Radio 1 sends data as radio 0's interface: refused, never on the air, reported
    // unacknowledged to its kernel.
    k.handle(&mut m, sent(1, data(iface(0), iface(0)), Some(2412), 5));
    run(&mut m, Instant::from_millis(10));
    let out = k.poll_output(&mut m);
    assert!(frames_to(&out, 0).is_empty(), "{out:?}");
    let st = statuses_of(&out, 1);
    assert_eq!(st.len(), 1, "{out:?}");
    assert_eq!(st[0].1 & TX_STAT_ACK, 0);
    assert_eq!(k.counters().spoofed, 1);
    // Nor does it learn that address from its frames.
    assert_eq!(m.owner_of(iface(0)), Some(node0));
    // Its own address passes.
    k.handle(&mut m, sent(1, data(iface(1), iface(0)), Some(2412), 6));
    run(&mut m, Instant::from_millis(20));
    let out = k.poll_output(&mut m);
    assert_eq!(frames_to(&out, 0).len(), 1, "{out:?}");
    assert_eq!(k.counters().spoofed, 1);
    let listed: Vec<String> = k
        .guest_radios(&m)
        .map(|(_, g, _)| g.guest.clone())
        .collect();
    assert_eq!(listed, ["c1", "c2"]);
}

#[test]
fn a_removed_guest_radio_falls_silent_and_frees_its_addresses() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.add_guest(&mut m, radio(0), guest("c1", 3.0, 0));
    k.add_guest(&mut m, radio(1), guest("c2", 4.0, 1));
    k.remove_guest(&mut m, radio(0));
    assert_eq!(m.owner_of(iface(0)), None);
    assert_eq!(k.guest_radios(&m).count(), 1);
    // What the air carries to it any more goes nowhere.
    k.handle(&mut m, sent(1, probe(iface(1)), Some(2412), 9));
    run(&mut m, Instant::from_millis(10));
    let out = k.poll_output(&mut m);
    assert!(frames_to(&out, 0).is_empty(), "{out:?}");
}

#[test]
fn a_guest_radio_keeps_its_address_when_a_scan_ends() {
    let mut m = medium();
    let mut k = KernelRadios::new(HwsimSection::default(), 20.0);
    k.add_guest(&mut m, radio(2), guest("c1", 3.0, 2));
    let node = m.owner_of(iface(2)).unwrap();
    // Interface up, scan start (the same address again), scan end: still its own.
    let add = || {
        Ok(FromKernel::AddMacAddr {
            radio: radio(2),
            addr: iface(2),
        })
    };
    let del = || {
        Ok(FromKernel::DelMacAddr {
            radio: radio(2),
            addr: iface(2),
        })
    };
    k.handle(&mut m, add());
    k.handle(&mut m, add());
    k.handle(&mut m, del());
    assert_eq!(m.owner_of(iface(2)), Some(node));
    // A scan from a random address: answered during the scan, not after.
    let random = MacAddr::from([0x06, 1, 2, 3, 4, 5]);
    k.handle(
        &mut m,
        Ok(FromKernel::AddMacAddr {
            radio: radio(2),
            addr: random,
        }),
    );
    assert_eq!(m.owner_of(random), Some(node));
    k.handle(
        &mut m,
        Ok(FromKernel::DelMacAddr {
            radio: radio(2),
            addr: random,
        }),
    );
    assert_eq!(m.owner_of(random), None);
}
