//! HT/VHT/HE on the simulated air with the Mux (issue 13): what guests see of a network's
//! standard and their link's MCS, and the goodput each standard gives in simulated time.

mod mux_lab;

use std::time::Duration;

use mux_lab::{Lab, LabOptions, Net, AP_A};
use vwifi_core::demux::GuestId;
use vwifi_core::mux::MuxConfig;
use vwifi_core::phy::{PhyCaps, Standard, Width};

fn open_net(channel: u8) -> Vec<Net> {
    vec![Net {
        ssid: "phy-lab",
        bssid: AP_A,
        channel,
        pass: None,
        at: (0.0, 0.0),
    }]
}

fn lab(seed: u64, channel: u8, ap_phy: PhyCaps, station_phy: PhyCaps) -> Lab {
    Lab::with_options(
        seed,
        &open_net(channel),
        LabOptions {
            mux: MuxConfig::default(),
            ap_phy,
            station_phy,
            ..LabOptions::default()
        },
    )
}

const AX_80_2X2: PhyCaps = PhyCaps {
    standard: Standard::He,
    width: Width::Mhz80,
    nss: 2,
};

#[test]
fn scan_and_status_show_the_network_s_standard_and_the_link_s_mcs() {
    let mut lab = lab(3, 36, AX_80_2X2, PhyCaps::STATION_DEFAULT);
    let g = lab.admit("ax");
    lab.connect_net(g, 0);
    lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
    let station = lab.mux().station(g).unwrap();
    let entry = station.bss_table().get(AP_A).unwrap();
    assert_eq!(entry.phy, AX_80_2X2);
    let info = entry.to_info(lab.world.now()).phy.unwrap();
    assert_eq!(
        (info.standard, info.width_mhz, info.streams, info.rate_kbps),
        (Standard::He, 80, 2, 1_200_980)
    );
    assert_eq!(info.to_string(), "802.11ax 80 MHz 2x2 1201.0 Mbit/s");
    // Traffic from the uplink to the guest: the AP's rate controller climbs, and the
    // guest's status shows the MCS its frames come at.
    let _ = lab.goodput(&[(g, 0)], 1400, 32, Duration::from_millis(200));
    let echo = mux_lab::ip_frame(mux_lab::UPLINK_PEER, lab.mac(g), 9);
    for _ in 0..200 {
        if let vwifi_core::proto::Message::Data(f) = &echo {
            let now = lab.world.now();
            lab.world
                .node_mut::<vwifi_core::sim::ap::SoftAp>(lab.aps[0])
                .handle_uplink(now, vwifi_core::wire::EthernetFrame::parse(f).unwrap());
        }
        lab.world.run_for(Duration::from_millis(1));
    }
    let status = lab.mux().station(g).unwrap().status();
    let phy = status.phy.unwrap();
    assert_eq!(phy.standard, Standard::He);
    assert_eq!(phy.width_mhz, 80);
    let mcs = phy.mcs.expect("the AP's data frames come at an HE MCS");
    assert!(mcs >= 7, "{phy}");
    assert_eq!(Some(phy.rate_kbps), status.tx_rate_kbps);
    assert!(phy.rate_kbps > 54_000);
}

#[test]
fn a_legacy_network_keeps_a_legacy_link_for_an_ax_station() {
    let mut lab = lab(4, 1, PhyCaps::LEGACY, PhyCaps::STATION_DEFAULT);
    let g = lab.admit("g");
    lab.connect_net(g, 0);
    lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
    let entry = lab.mux().station(g).unwrap().bss_table().get(AP_A).unwrap();
    let info = entry.to_info(lab.world.now()).phy.unwrap();
    assert_eq!((info.standard, info.rate_kbps), (Standard::Legacy, 54_000));
    let status = lab.mux().station(g).unwrap().status();
    assert_eq!(status.phy.map(|p| p.standard), Some(Standard::Legacy));
    assert_eq!(status.phy.and_then(|p| p.mcs), None);
}

/// Goodput of one guest to its AP's uplink per standard, in simulated time: A-MPDUs with
/// Block Ack amortise the per-PPDU overhead (DIFS, backoff, preamble, SIFS, Block Ack) on
/// HT/VHT/HE links; 802.11g sends one frame per access. Printed as a table; run with
/// `-- --nocapture` to see it.
#[test]
fn goodput_per_standard_grows_with_the_phy_rate() {
    let cases = [
        ("g 20 MHz 1x1", 1, PhyCaps::LEGACY),
        (
            "n 40 MHz 2x2",
            36,
            PhyCaps {
                standard: Standard::Ht,
                width: Width::Mhz40,
                nss: 2,
            },
        ),
        (
            "ac 80 MHz 2x2",
            36,
            PhyCaps {
                standard: Standard::Vht,
                width: Width::Mhz80,
                nss: 2,
            },
        ),
        ("ax 80 MHz 2x2", 36, AX_80_2X2),
    ];
    let payload = 1460;
    let mut mbps = Vec::new();
    for (name, channel, caps) in cases {
        let mut lab = lab(5, channel, caps, PhyCaps::STATION_DEFAULT);
        let g = lab.admit(name);
        lab.connect_net(g, 0);
        lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
        // Warm the rate controller up, then measure.
        // A window of 256 frames keeps the radio's queue full between the 1 ms steps.
        let _ = lab.goodput(&[(g, 0)], payload, 256, Duration::from_millis(200));
        let fps = lab.goodput(&[(g, 0)], payload, 256, Duration::from_millis(500))[0];
        let m = fps * (payload as f64 + 14.0) * 8.0 / 1e6;
        let top = caps.top_rate().kbps() as f64 / 1000.0;
        eprintln!(
            "{name}: PHY {top:.1} Mbit/s, goodput {m:.1} Mbit/s ({:.0} % of the PHY rate)",
            100.0 * m / top
        );
        mbps.push(m);
    }
    assert!(mbps.windows(2).all(|w| w[0] < w[1]), "{mbps:?}");
    // Each within reach of its PHY: at least half of it with aggregation, 802.11g near 55 %.
    assert!(mbps[0] > 0.45 * 54.0, "{mbps:?}");
    assert!(
        mbps[1] > 0.5 * 300.0 && mbps[2] > 0.5 * 866.7 && mbps[3] > 0.5 * 1201.0,
        "{mbps:?}"
    );
}

/// Goodput from guest `from` to guest `to` through their AP, in frames per second of
/// simulated time: at most `window` frames outstanding, for `duration`.
fn guest_to_guest(
    lab: &mut Lab,
    from: GuestId,
    to: GuestId,
    payload: usize,
    window: usize,
    duration: Duration,
) -> f64 {
    let (src, dst) = (lab.mac(from), lab.mac(to));
    let body = vec![0x6b; payload];
    let frame = mux_lab::tagged_frame(src, dst, &body);
    lab.take(to);
    let (mut sent, mut got) = (0usize, 0usize);
    let until = lab.world.now() + duration;
    while lab.world.now() < until {
        while sent - got.min(sent) < window {
            lab.send(from, frame.clone());
            sent += 1;
        }
        lab.world.run_for(Duration::from_millis(1));
        got += lab
            .take(to)
            .iter()
            .filter(|m| matches!(m, vwifi_core::proto::Message::Data(b) if b.len() > payload))
            .count();
    }
    got as f64 / duration.as_secs_f64()
}

/// Two guests of one network exchange frames through the AP (two hops on the same air) per
/// standard, in simulated time; printed with `-- --nocapture`.
#[test]
fn two_guests_through_an_ax_ap_exceed_300_mbit_s_of_air_goodput() {
    let mut out = Vec::new();
    for (name, channel, caps) in [
        ("g 20 MHz 1x1", 1, PhyCaps::LEGACY),
        ("ax 80 MHz 2x2", 36, AX_80_2X2),
    ] {
        let mut lab = lab(8, channel, caps, PhyCaps::STATION_DEFAULT);
        let (g1, g2) = (lab.admit("one"), lab.admit("two"));
        lab.connect_net(g1, 0);
        lab.connect_net(g2, 0);
        lab.drive_until(Duration::from_secs(10), |l| {
            l.connected(g1) && l.connected(g2)
        });
        let _ = guest_to_guest(&mut lab, g1, g2, 1460, 64, Duration::from_millis(200));
        let fps = guest_to_guest(&mut lab, g1, g2, 1460, 64, Duration::from_millis(500));
        let mbps = fps * 1474.0 * 8.0 / 1e6;
        eprintln!("{name}: two guests through the AP, {mbps:.1} Mbit/s of simulated air goodput");
        out.push(mbps);
    }
    assert!(out[0] < 20.0, "802.11g through one AP: {out:?}");
    assert!(
        out[1] >= 300.0,
        "802.11ax 80 MHz 2x2 through one AP: {out:?}"
    );
}

/// The capture of one network with `ap` PHY on `channel` ([`capture_in`]).
fn capture_of(ap: PhyCaps, channel: u8) -> Vec<u8> {
    capture_in(lab(6, channel, ap, PhyCaps::STATION_DEFAULT))
}

/// The air of `lab`'s first network: a guest joins and exchanges frames with the uplink;
/// returns the capture.
fn capture_in(mut lab: Lab) -> Vec<u8> {
    let g = lab.admit("capture");
    lab.connect_net(g, 0);
    lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
    let _ = lab.goodput(&[(g, 0)], 1000, 8, Duration::from_millis(30));
    lab.world.pcap_bytes().to_vec()
}

/// tshark's fields of every frame of `pcap`, one `Vec` per frame.
fn tshark_fields(pcap: &[u8], name: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields_with(pcap, name, fields, &[])
}

/// [`tshark_fields`] with extra tshark arguments.
fn tshark_fields_with(
    pcap: &[u8],
    name: &str,
    fields: &[&str],
    extra: &[&str],
) -> Vec<Vec<String>> {
    let path = std::env::temp_dir().join(format!("vwifi-phy-{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap).unwrap();
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r")
        .arg(&path)
        .args(extra)
        .args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

/// A tshark field value as a number: decimal, `0x` hex, `True`/`False`; the first of a list.
fn num(v: &str) -> Option<u64> {
    let v = v.split(',').next()?.trim();
    match v {
        "True" => Some(1),
        "False" => Some(0),
        _ => v
            .strip_prefix("0x")
            .map_or_else(|| v.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
    }
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn tshark_decodes_the_ht_vht_he_elements_and_radiotap_rate_fields() {
    let fields = [
        "wlan.fc.type_subtype",
        "wlan.ht.capabilities.width",
        "wlan.ht.info.secchanoffset",
        "wlan.vht.op.channelwidth",
        "wlan.vht.op.channelcenter0",
        "wlan.ext_tag.number",
        "wlan.ext_tag.he_phy_cap.chan_width_set.40_80_in_5ghz",
        "radiotap.mcs.index",
        "radiotap.vht.mcs.0",
        "radiotap.vht.nss.0",
        "radiotap.vht.bw",
        "radiotap.he.data_3.data_mcs",
        "radiotap.he.data_6.nsts",
        "radiotap.he.data_5.data_bw_ru_allocation",
        "radiotap.vht.datarate.0",
        "wlan.fixed.category_code",
        "wlan.fixed.action_code",
    ];
    let n40 = PhyCaps {
        standard: Standard::Ht,
        width: Width::Mhz40,
        nss: 2,
    };
    let ac80 = PhyCaps {
        standard: Standard::Vht,
        width: Width::Mhz80,
        nss: 2,
    };
    for (name, caps) in [("n", n40), ("ac", ac80), ("ax", AX_80_2X2)] {
        let rows = tshark_fields(&capture_of(caps, 36), name, &fields);
        let col = |r: &Vec<String>, i: usize| r.get(i).and_then(|v| num(v));
        let beacons: Vec<&Vec<String>> = rows.iter().filter(|r| col(r, 0) == Some(8)).collect();
        assert!(!beacons.is_empty(), "{name}: no beacons");
        for b in &beacons {
            // HT Capabilities: 20/40 MHz; HT Operation: secondary channel above (36 + 40).
            assert_eq!(
                (col(b, 1), col(b, 2)),
                (Some(1), Some(1)),
                "{name} beacon: {b:?}"
            );
            if caps.standard >= Standard::Vht {
                // VHT Operation: 80 MHz, centre channel 42.
                assert_eq!((col(b, 3), col(b, 4)), (Some(1), Some(42)), "{name}: {b:?}");
            }
            if caps.standard == Standard::He {
                let ext: Vec<&str> = b[5].split(',').collect();
                assert!(ext.contains(&"35") && ext.contains(&"36"), "{name}: {b:?}");
                assert_eq!(col(b, 6), Some(1), "{name}: 40/80 MHz in 5 GHz: {b:?}");
            }
        }
        // The Block Ack agreement: ADDBA Request and Response (category 3, actions 0 and 1),
        // then Block Acks (control subtype 9).
        for action in [0, 1] {
            assert!(
                rows.iter()
                    .any(|r| col(r, 15) == Some(3) && col(r, 16) == Some(action)),
                "{name}: no ADDBA action {action}"
            );
        }
        assert!(
            rows.iter().any(|r| col(r, 0) == Some(0x19)),
            "{name}: no Block Ack"
        );
        // Unicast data frames (data or QoS data) carry the format's radiotap field.
        let field = match caps.standard {
            Standard::Ht => 7,
            Standard::Vht => 8,
            _ => 11,
        };
        let data: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| matches!(col(r, 0), Some(0x20 | 0x28)) && col(r, field).is_some())
            .collect();
        assert!(
            data.len() > 5,
            "{name}: data frames with MCS fields: {rows:?}"
        );
        let last = data.last().unwrap();
        match caps.standard {
            // HT MCS index 8 (nss - 1) + mcs, two streams at most.
            Standard::Ht => assert!(col(last, 7).unwrap() <= 15, "{name}: {last:?}"),
            Standard::Vht => {
                assert!(col(last, 8).unwrap() <= 9, "{last:?}");
                assert!(matches!(col(last, 9), Some(1 | 2)), "{last:?}");
                assert_eq!(col(last, 10), Some(4), "80 MHz: {last:?}");
                // Wireshark's own rate table agrees with ours.
                let theirs: f64 = last[14].parse().unwrap();
                let ours = vwifi_core::phy::McsRate::new(
                    Standard::Vht,
                    col(last, 8).unwrap() as u8,
                    col(last, 9).unwrap() as u8,
                    Width::Mhz80,
                    vwifi_core::phy::GuardInterval::Short400,
                )
                .unwrap()
                .kbps();
                assert!(
                    (theirs * 1000.0 - f64::from(ours)).abs() < 100.0,
                    "{theirs} vs {ours}"
                );
            }
            _ => {
                assert!(col(last, 11).unwrap() <= 11, "{last:?}");
                assert!(matches!(col(last, 12), Some(1 | 2)), "{last:?}");
                assert_eq!(col(last, 13), Some(2), "80 MHz: {last:?}");
            }
        }
    }
}

/// tshark's `fields` of every frame of `pcap` (the second field `wlan.qos.amsdupresent`), and
/// those of the A-MSDUs. The lab's payloads are filler behind an IPv4 EtherType: IP is not
/// decoded, so that only the 802.11 framing is judged.
fn tshark_amsdus(pcap: &[u8], name: &str, fields: &[&str]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let no_ip = ["--disable-protocol", "ip", "--disable-protocol", "ipv6"];
    let rows = tshark_fields_with(pcap, name, fields, &no_ip);
    let amsdus = rows
        .iter()
        .filter(|r| r.get(1).and_then(|v| num(v)) == Some(1))
        .cloned()
        .collect();
    (rows, amsdus)
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn tshark_decodes_the_amsdus_inside_the_ampdus() {
    let mut lab = lab(6, 36, AX_80_2X2, PhyCaps::STATION_DEFAULT);
    let g = lab.admit("amsdu");
    lab.connect_net(g, 0);
    lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
    // A full window: the station's queue holds several frames to the AP at a time.
    let _ = lab.goodput(&[(g, 0)], 1400, 256, Duration::from_millis(20));
    let pcap = lab.world.pcap_bytes().to_vec();
    let fields = [
        "wlan.fc.type_subtype",
        "wlan.qos.amsdupresent",
        "wlan_aggregate.a_mdsu.length",
        "wlan.sa",
        "_ws.malformed",
        "_ws.expert.severity",
    ];
    let (rows, amsdus) = tshark_amsdus(&pcap, "amsdu", &fields);
    assert!(!amsdus.is_empty(), "no A-MSDU in {} frames", rows.len());
    for r in &amsdus {
        // QoS Data (0x28) with two or more subframes of the lab's 1400-octet payloads.
        assert_eq!(r.first().and_then(|v| num(v)), Some(0x28), "{r:?}");
        let lens: Vec<u64> = r[2].split(',').filter_map(num).collect();
        assert!(lens.len() >= 2 && lens.iter().all(|&l| l > 1400), "{r:?}");
    }
    // Nothing on the air is malformed to tshark.
    assert!(
        rows.iter().all(|r| r.get(4).is_none_or(|v| v.is_empty())),
        "malformed: {:?}",
        rows.iter()
            .find(|r| r.get(4).is_some_and(|v| !v.is_empty()))
    );
}

/// Two guests of one network on `channel` with `caps` (WPA2 if `pass`), connected.
fn pair(channel: u8, caps: PhyCaps, pass: Option<&'static str>) -> (Lab, GuestId, GuestId) {
    let mut net = open_net(channel);
    net[0].pass = pass;
    let mut lab = Lab::with_options(
        9,
        &net,
        LabOptions {
            mux: MuxConfig::default(),
            ap_phy: caps,
            station_phy: PhyCaps::STATION_DEFAULT,
            ..LabOptions::default()
        },
    );
    let (g1, g2) = (lab.admit("one"), lab.admit("two"));
    lab.connect_net(g1, 0);
    lab.connect_net(g2, 0);
    lab.drive_until(Duration::from_secs(10), |l| {
        l.connected(g1) && l.connected(g2)
    });
    (lab, g1, g2)
}

/// Guest `from` hands `n` frames of `payload` octets (the first octet numbering them) to
/// guest `to` at once; returns the first octets of what `to` got, in order.
fn batch(lab: &mut Lab, from: GuestId, to: GuestId, n: u8, payload: usize) -> Vec<u8> {
    let (src, dst) = (lab.mac(from), lab.mac(to));
    lab.take(to);
    let frames = (0..n)
        .map(|i| {
            let mut body = vec![0x6b; payload];
            body[0] = i;
            match mux_lab::tagged_frame(src, dst, &body) {
                vwifi_core::proto::Message::Data(b) => b,
                _ => unreachable!(),
            }
        })
        .collect();
    lab.send_batch(from, frames);
    lab.world.run_for(Duration::from_millis(50));
    lab.take(to)
        .iter()
        .filter_map(|m| match m {
            vwifi_core::proto::Message::Data(b) if b.len() == 14 + payload => Some(b[14]),
            _ => None,
        })
        .collect()
}

const HE_20_CH1: PhyCaps = PhyCaps {
    standard: Standard::He,
    width: Width::Mhz20,
    nss: 1,
};

const HT_20: PhyCaps = PhyCaps {
    standard: Standard::Ht,
    width: Width::Mhz20,
    nss: 1,
};

/// A guest's frames handed over together go as A-MSDUs (protected once on WPA2) to the AP,
/// which opens and splits them and sends them on to the other guest in A-MSDUs again, each
/// within its link's limit: 8 MSDUs of 1408 octets in 11 408 (VHT Capabilities' 11 454-octet
/// MPDUs, 5 GHz), 5 in 7935 (HT Capabilities, HE at 2.4 GHz), 2 in 4049 (an HT A-MPDU's 4095-
/// octet MPDUs); never on 802.11g. Every frame arrives once, in order.
#[test]
fn a_guest_s_batch_goes_in_amsdus_both_hops_within_each_link_s_limit() {
    for (name, channel, caps, pass, per_amsdu) in [
        ("ax 5 GHz WPA2", 36, AX_80_2X2, Some("amsdu pass"), 8),
        ("ax 5 GHz open", 36, AX_80_2X2, None, 8),
        ("ax 2.4 GHz WPA2", 1, HE_20_CH1, Some("amsdu pass"), 5),
        ("n WPA2", 1, HT_20, Some("amsdu pass"), 2),
        ("g WPA2", 1, PhyCaps::LEGACY, Some("amsdu pass"), 1),
    ] {
        let (mut lab, g1, g2) = pair(channel, caps, pass);
        let got = batch(&mut lab, g1, g2, 20, 1400);
        assert_eq!(got, (0..20).collect::<Vec<u8>>(), "{name}");
        let amsdus = if per_amsdu == 1 {
            0
        } else {
            20u64.div_ceil(per_amsdu)
        };
        let msdus = if per_amsdu == 1 { 0 } else { 20 };
        let (tx, rx) = (
            lab.mux().station(g1).unwrap().stats(),
            lab.mux().station(g2).unwrap().stats(),
        );
        let ap = lab.ap(0).counters().clone();
        assert_eq!((tx.amsdu_tx, tx.amsdu_tx_msdus), (amsdus, msdus), "{name}");
        assert_eq!((ap.amsdu_rx, ap.amsdu_rx_msdus), (amsdus, msdus), "{name}");
        assert_eq!((ap.amsdu_tx, ap.amsdu_tx_msdus), (amsdus, msdus), "{name}");
        assert_eq!((rx.amsdu_rx, rx.amsdu_rx_msdus), (amsdus, msdus), "{name}");
        assert_eq!(ap.amsdu_refused + rx.amsdu_refused, 0, "{name}");
        assert_eq!(ap.dropped.total(), 0, "{name}: {ap:?}");
    }
}

/// A radio that takes short MPDUs only (a kernel radio: 2304 octets, whatever its capabilities
/// say) gets A-MSDUs within that: none of two 1408-octet MSDUs, 18 MSDUs of 108 octets.
#[test]
fn amsdus_to_a_radio_with_an_mpdu_limit_stay_within_it() {
    use vwifi_core::wire::amsdu::KERNEL_RADIO_MAX_MPDU;
    let (mut lab, g1, g2) = pair(36, AX_80_2X2, Some("amsdu pass"));
    let limits: std::collections::BTreeMap<_, _> = [
        (AP_A, KERNEL_RADIO_MAX_MPDU),
        (lab.mac(g2), KERNEL_RADIO_MAX_MPDU),
    ]
    .into();
    lab.node_mut().mux_mut().set_mpdu_limits(limits.clone());
    lab.ap_mut(0).set_mpdu_limits(limits);
    assert_eq!(
        batch(&mut lab, g1, g2, 20, 1400),
        (0..20).collect::<Vec<u8>>()
    );
    let counts = |lab: &Lab| {
        let st = lab.mux().station(g1).unwrap().stats();
        let ap = lab.ap(0).counters().clone();
        (
            st.amsdu_tx,
            st.amsdu_tx_msdus,
            ap.amsdu_tx,
            ap.amsdu_tx_msdus,
        )
    };
    assert_eq!(counts(&lab), (0, 0, 0, 0));
    assert_eq!(
        batch(&mut lab, g1, g2, 20, 100),
        (0..20).collect::<Vec<u8>>()
    );
    assert_eq!(counts(&lab), (2, 20, 2, 20));
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn tshark_decodes_the_guests_amsdus_open_and_protected() {
    for pass in [None, Some("amsdu pass")] {
        let (mut lab, g1, g2) = pair(36, AX_80_2X2, pass);
        assert_eq!(batch(&mut lab, g1, g2, 20, 1400).len(), 20);
        let pcap = lab.world.pcap_bytes().to_vec();
        let fields = [
            "wlan.fc.type_subtype",
            "wlan.qos.amsdupresent",
            "wlan.fc.protected",
            "wlan_aggregate.a_mdsu.length",
            "frame.len",
            "_ws.malformed",
        ];
        let (rows, amsdus) = tshark_amsdus(&pcap, "guest-amsdu", &fields);
        assert_eq!(amsdus.len(), 6, "{pass:?}: three each way of the AP");
        for r in &amsdus {
            assert_eq!(r.first().and_then(|v| num(v)), Some(0x28), "{r:?}");
            assert_eq!(
                r.get(2).and_then(|v| num(v)),
                Some(u64::from(pass.is_some()))
            );
            if pass.is_none() {
                let lens: Vec<u64> = r[3].split(',').filter_map(num).collect();
                assert!(lens.len() >= 4 && lens.iter().all(|&l| l == 1408), "{r:?}");
            }
        }
        assert!(
            rows.iter().all(|r| r.get(5).is_none_or(|v| v.is_empty())),
            "malformed: {:?}",
            rows.iter()
                .find(|r| r.get(5).is_some_and(|v| !v.is_empty()))
        );
    }
}

/// A lab whose one open ax network is on 6 GHz channel `channel`.
fn six_ghz_lab(seed: u64, channel: u8, ap_phy: PhyCaps) -> Lab {
    Lab::with_options(
        seed,
        &open_net(channel),
        LabOptions {
            ap_phy,
            station_phy: PhyCaps::STATION_DEFAULT,
            six_ghz: true,
            ..LabOptions::default()
        },
    )
}

/// A guest finds a 6 GHz ax AP on a preferred scanning channel, joins it, sees its 6 GHz
/// frequency and HE figures in `scan` and `status`, and exchanges data both ways at HE rates.
#[test]
fn a_guest_joins_a_six_ghz_ax_network_and_exchanges_data() {
    let mut lab = six_ghz_lab(21, 37, AX_80_2X2);
    let g = lab.admit("six");
    lab.connect_net(g, 0);
    lab.drive_until(Duration::from_secs(10), |l| l.connected(g));
    let station = lab.mux().station(g).unwrap();
    let entry = station.bss_table().get(AP_A).unwrap();
    assert_eq!(
        entry.channel,
        vwifi_core::channel::Channel::six_ghz(37).unwrap()
    );
    assert_eq!(entry.phy, AX_80_2X2);
    let info = entry.to_info(lab.world.now());
    assert_eq!((info.channel, info.frequency_mhz), (37, 6135));
    assert_eq!(
        info.phy.unwrap().to_string(),
        "802.11ax 80 MHz 2x2 1201.0 Mbit/s"
    );
    // Guest to uplink at HE rates: more than 802.11g's air could carry.
    let up = lab.goodput(&[(g, 0)], 1400, 32, Duration::from_millis(200));
    assert!(up[0] * 1400.0 * 8.0 > 60e6, "{up:?} frames/s to the uplink");
    // Uplink to guest: the AP's frames come at an HE MCS, shown by `status`.
    lab.take(g);
    for tag in 0..100 {
        if let vwifi_core::proto::Message::Data(f) =
            &mux_lab::ip_frame(mux_lab::UPLINK_PEER, lab.mac(g), tag)
        {
            let now = lab.world.now();
            lab.world
                .node_mut::<vwifi_core::sim::ap::SoftAp>(lab.aps[0])
                .handle_uplink(now, vwifi_core::wire::EthernetFrame::parse(f).unwrap());
        }
        lab.world.run_for(Duration::from_millis(1));
    }
    lab.world.run_for(Duration::from_millis(50));
    assert!(lab.data_received(g).len() >= 90, "frames from the uplink");
    let status = lab.mux().station(g).unwrap().status();
    assert_eq!(
        (status.channel, status.frequency_mhz),
        (Some(37), Some(6135))
    );
    let phy = status.phy.unwrap();
    assert_eq!((phy.standard, phy.width_mhz), (Standard::He, 80));
    assert!(phy.mcs.is_some(), "{phy}");
}

/// The capture of a 6 GHz ax network: tshark decodes its beacons with no malformed element,
/// sees the HE Operation's 6 GHz Operation Information and the HE 6 GHz Band Capabilities,
/// no HT, VHT or DS Parameter Set element, and the radiotap frequency 6135 MHz.
#[test]
#[ignore = "needs tshark (apt-get install tshark); .ci/run provides it"]
fn tshark_decodes_a_six_ghz_beacon_without_malformed_elements() {
    let pcap = capture_in(six_ghz_lab(22, 37, AX_80_2X2));
    let fields = [
        "wlan.fc.type_subtype",
        "radiotap.channel.freq",
        "wlan.ext_tag.number",
        "wlan.tag.number",
        "_ws.malformed",
        "_ws.expert.severity",
        "wlan.ext_tag.he_operation.6ghz.primary_channel",
        "wlan.ext_tag.he_operation.6ghz.control.channel_width",
        "wlan.ext_tag.he_operation.6ghz.chan_center_freq_seg_0",
        "wlan.ext_tag.he_operation.6ghz.minimum_rate",
        "wlan.tag.he_6ghz.cap_inf.b3_b5",
        "wlan.tag.he_6ghz.cap_inf.b6_b7",
    ];
    // The lab's payloads are filler behind an IP EtherType: only the 802.11 framing is judged.
    let no_ip = ["--disable-protocol", "ip", "--disable-protocol", "ipv6"];
    let rows = tshark_fields_with(&pcap, "six", &fields, &no_ip);
    let col = |r: &Vec<String>, i: usize| r.get(i).and_then(|v| num(v));
    let beacons: Vec<&Vec<String>> = rows.iter().filter(|r| col(r, 0) == Some(8)).collect();
    assert!(!beacons.is_empty(), "no beacons: {rows:?}");
    for b in &beacons {
        assert_eq!(col(b, 1), Some(6135), "{b:?}");
        let ext: Vec<&str> = b[2].split(',').collect();
        for id in ["35", "36", "59"] {
            assert!(ext.contains(&id), "extension {id} missing: {b:?}");
        }
        let tags: Vec<&str> = b[3].split(',').collect();
        // DS Parameter Set (3), HT Capabilities (45), HT Operation (61), VHT (191, 192).
        for id in ["3", "45", "61", "191", "192"] {
            assert!(!tags.contains(&id), "element {id} at 6 GHz: {b:?}");
        }
        assert!(b[4].is_empty(), "malformed: {b:?}");
        // No expert warning or error (PI_WARN 0x00600000, PI_ERROR 0x00800000).
        assert!(
            b[5].split(',')
                .filter_map(|v| v.parse::<u64>().ok())
                .all(|v| v < 0x0060_0000),
            "expert info: {b:?}"
        );
        assert_eq!(
            (col(b, 6), col(b, 7), col(b, 8), col(b, 9)),
            (Some(37), Some(2), Some(39), Some(6)),
            "6 GHz Operation Information: {b:?}"
        );
        // HE 6 GHz Band Capabilities: A-MPDU exponent 7, MPDUs of 11 454 octets.
        assert_eq!((col(b, 10), col(b, 11)), (Some(7), Some(2)), "{b:?}");
    }
    // Nothing in the whole capture is malformed.
    let malformed: Vec<&Vec<String>> = rows.iter().filter(|r| !r[4].is_empty()).collect();
    assert!(malformed.is_empty(), "malformed frames: {malformed:?}");
}

/// On WPA2 the MPDUs of an A-MPDU reach the AP, and then the receiving guest's station,
/// together: each end decrypts them together (`ccmp::decrypt_batch`), then takes them one by
/// one in order, replay-checked as before. Every frame arrives once, in order, nothing dropped.
#[test]
fn the_mpdus_of_an_ampdu_are_decrypted_together_at_the_ap_and_at_the_station() {
    let (mut lab, g1, g2) = pair(1, HT_20, Some("amsdu pass"));
    let got = batch(&mut lab, g1, g2, 20, 1400);
    assert_eq!(got, (0..20).collect::<Vec<u8>>());
    let ap = lab.ap(0).batch_decrypted();
    let sta = lab.mux().station(g2).unwrap().batch_decrypted();
    // 20 MSDUs in 10 A-MSDUs per hop, every one in an A-MPDU with others.
    assert_eq!((ap, sta), (10, 10));
    assert_eq!(lab.ap(0).counters().dropped.total(), 0);
}
