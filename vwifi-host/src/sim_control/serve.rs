//! The runtime controls of the simulated air, as the control socket serves them: `sim_nodes`,
//! `sim_move`, `sim_link` and `sim_ap` ([`crate::api::Request`]), applied to the driver's
//! [`SimWorld`] between two turns of the air.
//!
//! # Names
//! Every node has a name: `ap1`, `ap2`... for the APs in configuration order (those added at
//! run time next; a removed AP's name is not reused), `host` for the radio of every guest's
//! station (the Mux: guests' stations share it, so moving it moves them all), `radio0`...
//! for the kernel's hwsim radios. A request may also name a node by a MAC address it answers
//! to (an AP's BSSID, a guest station's MAC: its radio), or an AP by an SSID only it has.

use vwifi_core::radio::NodeId;
use vwifi_core::sim::ap::SoftAp;
use vwifi_core::sim::config::{ApEntry, SimConfig};
use vwifi_core::sim::medium::{Placement, Position};
use vwifi_core::{Instant, MacAddr};

use crate::api::{NodeSnapshot, Request, Response, SimApRequest};
use crate::error_text::error_chain;
use crate::hwsim::{HwsimAir as _, KernelRadio};
use crate::lab::mobility::{coordinate, Path, DEFAULT_SPEED_MPS};
use crate::world::SimWorld;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ap,
    Host,
    Kernel,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Ap => "ap",
            Kind::Host => "host",
            Kind::Kernel => "kernel",
        }
    }
}

/// A node and its name.
#[derive(Debug, Clone)]
struct Named {
    name: String,
    node: NodeId,
    kind: Kind,
}

/// Every node on the air, named.
fn named(world: &SimWorld) -> Vec<Named> {
    let mut out: Vec<Named> = world
        .ap_nodes()
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| !world.lab.is_removed(*n))
        .map(|(i, (_, n))| Named {
            name: format!("ap{}", i + 1),
            node: *n,
            kind: Kind::Ap,
        })
        .collect();
    out.push(Named {
        name: "host".into(),
        node: world.host_node(),
        kind: Kind::Host,
    });
    let kernel: Vec<NodeId> = world
        .medium()
        .nodes_of::<KernelRadio>()
        .map(|(id, _)| id)
        .collect();
    out.extend(kernel.into_iter().enumerate().map(|(i, node)| Named {
        name: format!("radio{i}"),
        node,
        kind: Kind::Kernel,
    }));
    out
}

/// The node `name` names (see the [module documentation](self)), or why none.
fn resolve(world: &SimWorld, name: &str) -> Result<Named, String> {
    let all = named(world);
    if let Some(n) = all.iter().find(|n| n.name == name) {
        return Ok(n.clone());
    }
    if let Ok(mac) = name.parse::<MacAddr>() {
        if let Some(n) = world
            .medium()
            .owner_of(mac)
            .and_then(|owner| all.iter().find(|n| n.node == owner))
        {
            return Ok(n.clone());
        }
    }
    let by_ssid: Vec<&Named> = all
        .iter()
        .filter(|n| {
            n.kind == Kind::Ap
                && world
                    .medium()
                    .node_as::<SoftAp>(n.node)
                    .is_some_and(|ap| ap.config().ssid.as_bytes() == name.as_bytes())
        })
        .collect();
    match by_ssid.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "no node {name:?} on the air (names: {}; or a MAC address, or an SSID)",
            all.iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        many => Err(format!(
            "{} APs have the SSID {name:?}: name one of {}",
            many.len(),
            many.iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The node's state.
fn snapshot(world: &SimWorld, n: &Named, all: &[Named]) -> NodeSnapshot {
    let m = world.medium();
    let position = m.placement(n.node).map(|p| p.position).unwrap_or_default();
    let ap = m.node_as::<SoftAp>(n.node).filter(|_| n.kind == Kind::Ap);
    let path = world.lab.mobility.path(n.node);
    let now = m.now();
    let name_of = |id: NodeId| {
        all.iter()
            .find(|x| x.node == id)
            .map_or_else(|| format!("node{}", id.0), |x| x.name.clone())
    };
    NodeSnapshot {
        name: n.name.clone(),
        kind: n.kind.as_str().into(),
        mac: match (ap, n.kind) {
            (Some(ap), _) => ap.bssid().to_string(),
            (None, Kind::Kernel) => m
                .addresses(n.node)
                .and_then(|a| a.first())
                .map(ToString::to_string)
                .unwrap_or_default(),
            _ => String::new(),
        },
        ssid: ap.map(|ap| String::from_utf8_lossy(ap.config().ssid.as_bytes()).into_owned()),
        x: position.x,
        y: position.y,
        channel: m.channel_of(n.node).map_or(0, |c| c.number()),
        frequency_mhz: m.channel_of(n.node).map_or(0, |c| c.frequency_mhz()),
        on_air: m.is_on_air(n.node),
        speed_mps: path.map(Path::speed),
        path: path
            .map(|p| p.at(now).1.iter().map(|w| [w.x, w.y]).collect())
            .unwrap_or_default(),
        stations: if n.kind == Kind::Host {
            m.addresses(n.node)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect()
        } else {
            Vec::new()
        },
        link_loss: m
            .link_losses()
            .filter_map(|(a, b, p)| {
                let other = if a == n.node {
                    b
                } else if b == n.node {
                    a
                } else {
                    return None;
                };
                Some((name_of(other), p))
            })
            .collect(),
    }
}

/// Every node's state, in name order (APs, the host radio, kernel radios).
pub(crate) fn nodes(world: &SimWorld) -> Vec<NodeSnapshot> {
    let all = named(world);
    all.iter().map(|n| snapshot(world, n, &all)).collect()
}

fn node_reply(world: &SimWorld, node: NodeId) -> Response {
    let all = named(world);
    match all.iter().find(|n| n.node == node) {
        Some(n) => Response::Node(snapshot(world, n, &all)),
        None => Response::Error {
            message: "the node is gone".into(),
        },
    }
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

/// Serves one `sim_*` request at `now`; anything else is refused.
pub(crate) fn handle(world: &mut SimWorld, now: Instant, req: Request) -> Response {
    world.advance(now);
    let result = match req {
        Request::SimNodes => Ok(Response::Nodes(nodes(world))),
        Request::SimMove {
            node,
            x,
            y,
            path,
            speed_mps,
        } => sim_move(world, now, &node, x, y, path, speed_mps),
        Request::SimLink { a, b, loss } => sim_link(world, &a, &b, loss),
        Request::SimAp(ap) => sim_ap(world, now, ap),
        _ => Err("not a request of the simulated air".into()),
    };
    // Let the change act at once (an AP started beacons at its next target time).
    world.advance(now);
    result.unwrap_or_else(error)
}

fn sim_move(
    world: &mut SimWorld,
    now: Instant,
    name: &str,
    x: Option<f64>,
    y: Option<f64>,
    path: Option<Vec<[f64; 2]>>,
    speed: Option<f64>,
) -> Result<Response, String> {
    let n = resolve(world, name)?;
    let err = |e: crate::lab::mobility::PathError| format!("{name}: {e}");
    match (x, y, path) {
        (Some(x), Some(y), None) => {
            let to = Position::new(coordinate(x).map_err(err)?, coordinate(y).map_err(err)?);
            if speed.is_some() {
                return Err("speed_mps goes with path, not with x and y".into());
            }
            world.lab.mobility.stop(n.node);
            world
                .medium_mut()
                .set_position(n.node, to)
                .map_err(|e| error_chain(&e))?;
        }
        (None, None, Some(path)) => {
            let from = world
                .medium()
                .placement(n.node)
                .map(|p| p.position)
                .unwrap_or_default();
            let p = Path::new(from, now, &path, speed.unwrap_or(DEFAULT_SPEED_MPS)).map_err(err)?;
            world.lab.mobility.start(n.node, p);
        }
        _ => return Err("give x and y, or a path (and speed_mps)".into()),
    }
    Ok(node_reply(world, n.node))
}

fn sim_link(world: &mut SimWorld, a: &str, b: &str, loss: f64) -> Result<Response, String> {
    let na = resolve(world, a)?;
    let nb = resolve(world, b)?;
    if na.node == nb.node {
        return Err(format!("{a} and {b} are the same node"));
    }
    if !(0.0..=1.0).contains(&loss) {
        return Err(format!("loss {loss} is not a probability between 0 and 1"));
    }
    world
        .medium_mut()
        .set_link_loss(na.node, nb.node, loss)
        .map_err(|e| error_chain(&e))?;
    Ok(Response::Link {
        a: na.name,
        b: nb.name,
        loss,
    })
}

fn ap_named(world: &SimWorld, name: &str) -> Result<Named, String> {
    let n = resolve(world, name)?;
    if n.kind != Kind::Ap {
        return Err(format!("{} is not an AP", n.name));
    }
    Ok(n)
}

/// Replaces the AP `node` by a fresh one of the same configuration: no station associated, new
/// keys. A stopped AP is renewed at once, so that it holds no association its stations will
/// have dropped (beacon loss) by the time it starts again, and the uplink bridge routes no
/// frame to it meanwhile.
fn renew(world: &mut SimWorld, node: NodeId, now: Instant) -> Result<(), String> {
    let seed = world.lab.next_ap_seed();
    let cfg = world
        .medium()
        .node_as::<SoftAp>(node)
        .map(|ap| ap.config().clone())
        .ok_or("the AP is gone")?;
    let fresh = SoftAp::new(cfg, now, seed).map_err(|e| error_chain(&e))?;
    if let Some(ap) = world.medium_mut().node_as_mut::<SoftAp>(node) {
        *ap = fresh;
    }
    Ok(())
}

fn sim_ap(world: &mut SimWorld, now: Instant, req: SimApRequest) -> Result<Response, String> {
    match req {
        SimApRequest::Stop { node } => {
            let n = ap_named(world, &node)?;
            world
                .medium_mut()
                .set_on_air(n.node, false)
                .map_err(|e| error_chain(&e))?;
            if !world.lab.is_stopped(n.node) {
                renew(world, n.node, now)?;
                world.lab.stopped_insert(n.node);
            }
            Ok(node_reply(world, n.node))
        }
        SimApRequest::Start { node } => {
            let n = ap_named(world, &node)?;
            world
                .medium_mut()
                .set_on_air(n.node, true)
                .map_err(|e| error_chain(&e))?;
            world.lab.stopped_remove(n.node);
            Ok(node_reply(world, n.node))
        }
        SimApRequest::Remove { node } => {
            let n = ap_named(world, &node)?;
            world
                .medium_mut()
                .set_on_air(n.node, false)
                .map_err(|e| error_chain(&e))?;
            world.lab.mobility.stop(n.node);
            renew(world, n.node, now)?;
            world.lab.remove(n.node);
            // Its BSSID is free for an AP added later.
            let _ = world.medium_mut().set_addresses(n.node, Vec::new());
            Ok(Response::Removed { node: n.name })
        }
        SimApRequest::Add {
            ssid,
            channel,
            band,
            standard,
            x,
            y,
            bssid,
            passphrase,
        } => {
            let index = world.ap_nodes().len();
            let bssid = match bssid {
                Some(b) => b,
                None => {
                    let n = u16::try_from(index + 1).unwrap_or(u16::MAX).to_be_bytes();
                    MacAddr([0x02, 0x76, 0x77, 0x01, n[0], n[1]]).to_string()
                }
            };
            let mut entry = serde_json::json!({
                "ssid": ssid,
                "channel": channel,
                "position": [coordinate(x).map_err(|e| e.to_string())?, coordinate(y).map_err(|e| e.to_string())?],
                "bssid": bssid,
            });
            if let Some(obj) = entry.as_object_mut() {
                for (key, value) in [("band", band), ("standard", standard)] {
                    if let Some(v) = value {
                        obj.insert(key.into(), serde_json::Value::String(v));
                    }
                }
            }
            if let (Some(p), Some(obj)) = (&passphrase, entry.as_object_mut()) {
                obj.insert("passphrase".into(), serde_json::Value::String(p.0.clone()));
            }
            let parsed = <ApEntry as serde::Deserialize>::deserialize(&entry);
            // The passphrase's copy in the JSON value is wiped, as the request's is.
            if let Some(serde_json::Value::String(p)) = entry.get_mut("passphrase") {
                zeroize::Zeroize::zeroize(p);
            }
            let entry = parsed.map_err(|e| format!("bad AP: {e}"))?;
            let cfg = SimConfig {
                medium: Default::default(),
                aps: vec![entry],
                seed: None,
                stations: Default::default(),
            };
            let mut configs = cfg.ap_configs().map_err(|e| error_chain(&e))?;
            let Some(ap_cfg) = configs.pop() else {
                return Err("no AP".into());
            };
            let position = ap_cfg.position;
            let seed = world.lab.next_ap_seed();
            let ap = SoftAp::new(ap_cfg, now, seed).map_err(|e| error_chain(&e))?;
            let power = world
                .medium()
                .placement(world.host_node())
                .map_or(Placement::DEFAULT_TX_POWER_DBM, |p| p.tx_power_dbm);
            let node = world
                .add_ap(
                    ap,
                    Placement::at(position.0, position.1).with_tx_power(power),
                )
                .map_err(|e| error_chain(&e))?;
            Ok(node_reply(world, node))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::parse_request;
    use vwifi_core::mux::MuxConfig;

    fn world() -> SimWorld {
        let mut cfg = SimConfig::demo();
        for ap in &mut cfg.aps {
            ap.passphrase = None;
        }
        // Two APs of one SSID, to name them apart.
        cfg.aps[2].ssid = "vwifi-lab".into();
        SimWorld::new(&cfg, MuxConfig::default(), [3; 32]).unwrap()
    }

    fn ask(w: &mut SimWorld, line: &str) -> Response {
        let req = parse_request(line).unwrap();
        let now = w.now();
        handle(w, now, req)
    }

    fn err(r: Response) -> String {
        match r {
            Response::Error { message } => message,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn nodes_are_named_and_found_by_name_mac_or_unique_ssid() {
        let mut w = world();
        let Response::Nodes(nodes) = ask(&mut w, r#"{"request":"sim_nodes"}"#) else {
            panic!("no nodes");
        };
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ap1", "ap2", "ap3", "host"]);
        assert_eq!((nodes[2].x, nodes[2].y, nodes[2].channel), (20.0, 10.0, 6));
        assert_eq!(resolve(&w, "02:76:77:00:00:02").unwrap().name, "ap2");
        assert_eq!(resolve(&w, "vwifi-open").unwrap().name, "ap1");
        let e = resolve(&w, "vwifi-lab").unwrap_err();
        assert!(
            e.contains("2 APs have the SSID") && e.contains("ap2, ap3"),
            "{e}"
        );
        let e = resolve(&w, "nosuch").unwrap_err();
        assert!(e.contains("no node \"nosuch\""), "{e}");
    }

    #[test]
    fn move_and_path_change_the_position_and_bad_ones_are_refused() {
        let mut w = world();
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_move","node":"host","x":-7,"y":3.5}"#,
        ) else {
            panic!("not moved");
        };
        assert_eq!((n.x, n.y), (-7.0, 3.5));
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_move","node":"host","path":[[3,3.5]],"speed_mps":2}"#,
        ) else {
            panic!("no path");
        };
        assert_eq!((n.speed_mps, n.path.len()), (Some(2.0), 1));
        // 2 s later it is 4 m further east.
        let later = w.now() + core::time::Duration::from_secs(2);
        w.advance(later);
        let host = nodes(&w).into_iter().find(|n| n.name == "host").unwrap();
        assert!((host.x - -3.0).abs() < 0.01, "{host:?}");
        let later = w.now() + core::time::Duration::from_secs(60);
        w.advance(later);
        let host = nodes(&w).into_iter().find(|n| n.name == "host").unwrap();
        assert_eq!((host.x, host.speed_mps), (3.0, None), "arrived and stopped");
        for (line, want) in [
            (
                r#"{"request":"sim_move","node":"host","x":1}"#,
                "give x and y",
            ),
            (
                r#"{"request":"sim_move","node":"host","x":1,"y":2e9}"#,
                "coordinate",
            ),
            (
                r#"{"request":"sim_move","node":"host","path":[]}"#,
                "1 to 1024 waypoints",
            ),
            (
                r#"{"request":"sim_move","node":"host","path":[[1,1]],"speed_mps":-1}"#,
                "speed",
            ),
            (
                r#"{"request":"sim_move","node":"zz","x":1,"y":1}"#,
                "no node",
            ),
        ] {
            let e = err(ask(&mut w, line));
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn a_link_loss_is_set_shown_and_cleared() {
        let mut w = world();
        let r = ask(
            &mut w,
            r#"{"request":"sim_link","a":"ap1","b":"host","loss":0.25}"#,
        );
        assert_eq!(
            r,
            Response::Link {
                a: "ap1".into(),
                b: "host".into(),
                loss: 0.25
            }
        );
        let host = nodes(&w).into_iter().find(|n| n.name == "host").unwrap();
        assert_eq!(host.link_loss, [("ap1".to_owned(), 0.25)]);
        ask(
            &mut w,
            r#"{"request":"sim_link","a":"host","b":"ap1","loss":0}"#,
        );
        assert!(nodes(&w).iter().all(|n| n.link_loss.is_empty()));
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_link","a":"ap1","b":"ap1","loss":0.5}"#,
        ));
        assert!(e.contains("same node"), "{e}");
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_link","a":"ap1","b":"host","loss":2}"#,
        ));
        assert!(e.contains("not a probability"), "{e}");
    }

    #[test]
    fn aps_stop_start_come_and_go() {
        let mut w = world();
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"stop","node":"ap1"}"#,
        ) else {
            panic!("not stopped");
        };
        assert!(!n.on_air);
        let bssid = w.ap_nodes()[0].0;
        let from_ap1 = |w: &mut SimWorld| {
            w.medium_mut()
                .take_tapped()
                .iter()
                .filter(|f| f.frame.get(10..16) == Some(&bssid.0[..]))
                .count()
        };
        w.medium_mut().enable_tap(None, 100_000);
        let later = w.now() + core::time::Duration::from_secs(1);
        w.advance(later);
        assert_eq!(from_ap1(&mut w), 0, "a stopped AP is silent");
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"start","node":"ap1"}"#,
        ) else {
            panic!("not started");
        };
        assert!(n.on_air);
        let later = w.now() + core::time::Duration::from_secs(1);
        w.advance(later);
        assert!(from_ap1(&mut w) >= 9, "started, it beacons");
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_ap","action":"stop","node":"host"}"#,
        ));
        assert!(e.contains("host is not an AP"), "{e}");
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"extra","channel":11,"x":3,"y":-1}"#,
        ) else {
            panic!("not added");
        };
        assert_eq!(
            (n.name.as_str(), n.mac.as_str(), n.channel, n.x, n.y),
            ("ap4", "02:76:77:01:00:04", 11, 3.0, -1.0)
        );
        assert_eq!(w.aps().count(), 4);
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"dup","channel":1,"bssid":"02:76:77:01:00:04"}"#,
        ));
        assert!(e.contains("02:76:77:01:00:04"), "{e}");
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"x","channel":99}"#,
        ));
        assert!(e.contains("channel"), "{e}");
        assert_eq!(
            ask(
                &mut w,
                r#"{"request":"sim_ap","action":"remove","node":"extra"}"#
            ),
            Response::Removed { node: "ap4".into() }
        );
        assert_eq!(w.aps().count(), 3);
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_ap","action":"start","node":"ap4"}"#,
        ));
        assert!(e.contains("no node"), "{e}");
        // Its BSSID is free again; the next AP gets the next name.
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"again","channel":1,"bssid":"02:76:77:01:00:04"}"#,
        ) else {
            panic!("not added");
        };
        assert_eq!(n.name, "ap5");
        // A 6 GHz AP: band and standard as in `[[sim.aps]]`; its frequency tells it apart.
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"six","channel":37,"band":"6","standard":"ax"}"#,
        ) else {
            panic!("not added");
        };
        assert_eq!((n.channel, n.frequency_mhz), (37, 6135));
        let e = err(ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"six-g","channel":37,"band":"6"}"#,
        ));
        assert!(e.contains("standard = \"ax\""), "{e}");
        let Response::Node(n) = ask(
            &mut w,
            r#"{"request":"sim_ap","action":"add","ssid":"two","channel":6}"#,
        ) else {
            panic!("not added");
        };
        assert_eq!((n.channel, n.frequency_mhz), (6, 2437));
    }
}
