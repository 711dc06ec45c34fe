//! The federation's lines in `vwifi-host status` and its `metrics` families.

use core::fmt::Write as _;

use crate::api::FederationSnapshot;

/// The status lines: the air, then one line per peer.
pub(crate) fn status_lines(f: &FederationSnapshot) -> String {
    let mut out = String::new();
    let present = f.peers.iter().filter(|p| p.present).count();
    let dropped: u64 = f.dropped.iter().map(|(_, n)| n).sum();
    let _ = writeln!(
        out,
        "federation: node {} on air {}, {present} of {} peers present; frames out {}, in {} \
         ({} receptions), {dropped} dropped",
        f.node,
        f.air,
        f.peers.len(),
        f.frames_out,
        f.frames_in,
        f.delivered
    );
    for (reason, n) in f.dropped.iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(out, "  dropped {reason}: {n}");
    }
    for p in &f.peers {
        let latency = p.latency_us.map_or_else(
            || "-".to_owned(),
            |l| format!("{:.2} ms", l as f64 / 1000.0),
        );
        let _ = writeln!(
            out,
            "  peer {}: {}, latency {latency}, {} nodes, {} frames in, {} lost on the way",
            p.name,
            if p.present { "present" } else { "GONE" },
            p.nodes,
            p.frames_in,
            p.seq_gaps
        );
    }
    out
}

/// A writer of one metric family: `family(name, kind, help, samples)`.
pub(crate) type Family<'a> = dyn FnMut(&str, &str, &str, Vec<(String, u64)>) + 'a;

/// The metric families, written through `family`.
pub(crate) fn metrics(f: &FederationSnapshot, family: &mut Family<'_>, label: fn(&str) -> String) {
    let peer = |name: &str| format!("peer=\"{}\"", label(name));
    family(
        "vwifi_federation_peer_present",
        "gauge",
        "1 while the peer daemon is heard within the peer timeout.",
        f.peers
            .iter()
            .map(|p| (peer(&p.name), u64::from(p.present)))
            .collect(),
    );
    family(
        "vwifi_federation_peer_latency_microseconds",
        "gauge",
        "Half the last ping round trip to the peer daemon.",
        f.peers
            .iter()
            .filter_map(|p| Some((peer(&p.name), p.latency_us?)))
            .collect(),
    );
    family(
        "vwifi_federation_peer_nodes",
        "gauge",
        "Remote nodes (transmitter addresses) heard from the peer daemon.",
        f.peers.iter().map(|p| (peer(&p.name), p.nodes)).collect(),
    );
    family(
        "vwifi_federation_peer_frames_total",
        "counter",
        "Frames received from the peer daemon, and those missing from its sequence.",
        f.peers
            .iter()
            .flat_map(|p| {
                [
                    (
                        format!("{},outcome=\"received\"", peer(&p.name)),
                        p.frames_in,
                    ),
                    (format!("{},outcome=\"lost\"", peer(&p.name)), p.seq_gaps),
                ]
            })
            .collect(),
    );
    family(
        "vwifi_federation_frames_total",
        "counter",
        "Frames exchanged with the federated air, by direction.",
        vec![
            ("direction=\"out\"".into(), f.frames_out),
            ("direction=\"in\"".into(), f.frames_in),
        ],
    );
    family(
        "vwifi_federation_dropped_total",
        "counter",
        "Federation messages dropped or refused, by reason.",
        f.dropped
            .iter()
            .map(|(r, n)| (format!("reason=\"{}\"", label(r)), *n))
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PeerSnapshot;

    fn snap() -> FederationSnapshot {
        FederationSnapshot {
            node: "host-a".into(),
            air: "lab".into(),
            peers: vec![
                PeerSnapshot {
                    name: "host-b".into(),
                    present: true,
                    latency_us: Some(150),
                    nodes: 2,
                    frames_in: 40,
                    seq_gaps: 1,
                },
                PeerSnapshot {
                    name: "host-c".into(),
                    present: false,
                    ..PeerSnapshot::default()
                },
            ],
            frames_out: 10,
            frames_in: 40,
            delivered: 39,
            remote_acked: 3,
            dropped: vec![("malformed".into(), 5), ("in_queue_full".into(), 0)],
        }
    }

    #[test]
    fn status_names_each_peer_its_latency_and_the_drops() {
        let text = status_lines(&snap());
        assert!(text.contains("1 of 2 peers present"), "{text}");
        assert!(
            text.contains("peer host-b: present, latency 0.15 ms, 2 nodes"),
            "{text}"
        );
        assert!(text.contains("peer host-c: GONE"), "{text}");
        assert!(text.contains("dropped malformed: 5"), "{text}");
        assert!(!text.contains("in_queue_full"), "{text}");
    }

    #[test]
    fn metrics_carry_latency_frames_and_drops_per_label() {
        let mut lines = Vec::new();
        let mut family = |name: &str, _: &str, _: &str, samples: Vec<(String, u64)>| {
            for (l, v) in samples {
                lines.push(format!("{name}{{{l}}} {v}"));
            }
        };
        metrics(&snap(), &mut family, |s| s.to_owned());
        for want in [
            "vwifi_federation_peer_latency_microseconds{peer=\"host-b\"} 150",
            "vwifi_federation_peer_present{peer=\"host-c\"} 0",
            "vwifi_federation_frames_total{direction=\"in\"} 40",
            "vwifi_federation_dropped_total{reason=\"malformed\"} 5",
            "vwifi_federation_peer_frames_total{peer=\"host-b\",outcome=\"lost\"} 1",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
        }
    }
}
