//! Daemons' federation links in one process over loopback TCP: they meet, measure their
//! latency, carry beacons from one medium to another, refuse a daemon that takes another's
//! name, and count a rogue publisher's garbage.

use std::time::Duration;

use vwifi_core::sim::config::SimConfig;
use vwifi_core::{Instant, MacAddr};

use super::*;
use crate::config::HostConfig;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn section(node: &str, air: &str, listen: Option<u16>, connect: Option<u16>) -> FederationSection {
    FederationSection {
        node: node.into(),
        air: air.into(),
        listen: listen
            .map(|p| vec![format!("tcp/127.0.0.1:{p}")])
            .unwrap_or_default(),
        connect: connect
            .map(|p| vec![format!("tcp/127.0.0.1:{p}")])
            .unwrap_or_default(),
        queue: 1024,
        peer_timeout_ms: 3000,
        position: None,
    }
}

fn world(with_aps: bool) -> SimWorld {
    let sim = if with_aps {
        SimConfig::demo()
    } else {
        SimConfig::from_toml_str("seed = 1").expect("an empty sim")
    };
    SimWorld::new(&sim, HostConfig::default().mux_config(), [7; 32]).expect("world")
}

/// Runs every daemon's world and link in real time until `done` holds or 10 s pass.
async fn run_until(
    daemons: &mut [(Federation, SimWorld)],
    done: impl Fn(&[(Federation, SimWorld)]) -> bool,
) {
    let start = std::time::Instant::now();
    let deadline = start + Duration::from_secs(10);
    while !done(daemons) {
        assert!(
            std::time::Instant::now() < deadline,
            "not done in 10 s: {:#?}",
            daemons
                .iter()
                .map(|(f, w)| f.snapshot(w.federation_stats()))
                .collect::<Vec<_>>()
        );
        for (f, w) in daemons.iter_mut() {
            let now = Instant::from_micros(start.elapsed().as_micros() as u64);
            w.advance(now);
            f.publish(w);
            if let Ok(ev) = tokio::time::timeout(Duration::from_millis(2), f.next()).await {
                f.handle(w, now, ev);
                while let Some(ev) = f.try_next() {
                    f.handle(w, now, ev);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_meet_share_beacons_and_refuse_a_name_taken_twice() {
    let port = free_port();
    let air = format!("unit{}", std::process::id());
    let open = |s: FederationSection| async move { Federation::open(&s).await.expect("open") };
    let mut daemons = vec![
        (
            open(section("ap-host", &air, Some(port), None)).await,
            world(true),
        ),
        (
            open(section("sta-host", &air, None, Some(port))).await,
            world(false),
        ),
    ];
    for (f, w) in &mut daemons {
        w.enable_federation(f.medium_config());
    }
    // The station host hears the AP host's demo APs, and both measure their latency.
    let bssid: MacAddr = "02:76:77:00:00:02".parse().expect("mac");
    run_until(&mut daemons, |d| {
        let sta = &d[1].0;
        let ap = &d[0].0;
        sta.peers
            .get("ap-host")
            .is_some_and(|p| p.present && p.latency.is_some() && p.addrs.contains(&bssid))
            && ap
                .peers
                .get("sta-host")
                .is_some_and(|p| p.latency.is_some())
    })
    .await;
    let stats = daemons[1].1.federation_stats();
    assert!(stats.received > 0 && stats.delivered > 0, "{stats:?}");
    assert!(daemons[1].1.mux().stats().rx_frames > 0);

    // A third daemon that calls itself "ap-host" too: refused by both, loudly, and counted.
    daemons.push((
        open(section("ap-host", &air, None, Some(port))).await,
        world(false),
    ));
    run_until(&mut daemons, |d| {
        d[0].0.name_clashes > 0 && d[2].0.name_clashes > 0
    })
    .await;

    // A rogue publisher's garbage is counted as malformed and changes nothing else.
    let mut config = zenoh::Config::default();
    for (k, v) in [
        ("mode", "\"peer\"".to_owned()),
        ("scouting/multicast/enabled", "false".to_owned()),
        ("connect/endpoints", format!("[\"tcp/127.0.0.1:{port}\"]")),
    ] {
        config.insert_json5(k, &v).expect("config");
    }
    let rogue = zenoh::open(config).await.expect("rogue");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..200u32 {
        let key = if i % 2 == 0 {
            format!("vwifi/{air}/ch/1")
        } else {
            format!("vwifi/{air}/ping")
        };
        rogue
            .put(key, i.to_le_bytes().repeat(i as usize % 7))
            .await
            .expect("put");
    }
    run_until(&mut daemons, |d| {
        d[1].0.shared.malformed.load(Ordering::Relaxed) >= 150
    })
    .await;
    assert!(daemons[1].0.peers.len() <= 2, "garbage made no peers");
    let _ = rogue.close().await;

    // The impostor goes; the AP host stops and says so: the station host forgets its nodes at
    // once (no timeout).
    drop(daemons.pop());
    let (mut ap_fed, _ap_world) = daemons.remove(0);
    let instance = ap_fed.instance;
    run_until(&mut daemons, |d| {
        d[0].0
            .peers
            .get("ap-host")
            .is_some_and(|p| p.instance == instance)
    })
    .await;
    ap_fed.leave();
    run_until(&mut daemons, |d| {
        d[0].0.peers.get("ap-host").is_some_and(|p| !p.present)
    })
    .await;
    assert!(daemons[0].0.peers["ap-host"].addrs.is_empty());
    drop(ap_fed);
}
