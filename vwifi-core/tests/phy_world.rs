//! HT/VHT/HE on the simulated air with the Mux (issue 13): what guests see of a network's
//! standard and their link's MCS, and the goodput each standard gives in simulated time.

mod mux_lab;

use std::time::Duration;

use mux_lab::{Lab, LabOptions, Net, AP_A};
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

/// Goodput of one guest to its AP's uplink per standard, in simulated time, without
/// aggregation: the per-frame overhead (DIFS, backoff, preamble, SIFS, Ack) caps the gain of
/// the faster PHYs. Printed as a table; run with `-- --nocapture` to see it.
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
        let _ = lab.goodput(&[(g, 0)], payload, 64, Duration::from_millis(200));
        let fps = lab.goodput(&[(g, 0)], payload, 64, Duration::from_millis(500))[0];
        let m = fps * (payload as f64 + 14.0) * 8.0 / 1e6;
        let top = caps.top_rate().kbps() as f64 / 1000.0;
        eprintln!(
            "{name}: PHY {top:.1} Mbit/s, goodput {m:.1} Mbit/s ({:.0} % MAC efficiency, no aggregation)",
            100.0 * m / top
        );
        mbps.push(m);
    }
    // g < n < ac; ax is no faster than ac per frame without aggregation (its longer preamble
    // eats the gain of its faster symbols at one MPDU per PPDU).
    assert!(mbps[0] < mbps[1] && mbps[1] < mbps[2], "{mbps:?}");
    assert!(mbps[3] > 0.9 * mbps[2], "{mbps:?}");
    assert!(mbps[3] > 1.5 * mbps[0], "{mbps:?}");
}
