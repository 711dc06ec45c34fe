//! The status snapshot of the driver's radio and guests ([`crate::api::Snapshot`]).

use std::sync::atomic::Ordering;

use vwifi_core::demux::{DropReason, GuestId};
use vwifi_core::io::Clock as _;
use vwifi_core::proto::StationState;
use vwifi_core::sim::ap::ApSecurity;
use vwifi_core::Instant;

use std::collections::BTreeMap;

use super::{Driver, GuestEntry};
use crate::api::{ApSnapshot, GuestSnapshot, RadioSnapshot, Snapshot, SNAPSHOT_VERSION};
use crate::hwsim::HwsimAir as _;
use crate::nl80211::Nl80211Radio;
use crate::world::SimWorld;

impl Driver {
    /// The state of the radio, the APs and every guest.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut snap = self.world.snapshot(self.clock.now(), &self.guests);
        snap.state_error.clone_from(&self.state_error);
        snap.uplink_error.clone_from(&self.uplink_error);
        if let (Some(f), Some(w)) = (&self.federation, self.world.sim()) {
            snap.federation = Some(Box::new(f.snapshot(w.federation_stats())));
        }
        snap.radio.details.extend(self.native_details());
        if self.waits > 0 {
            let (holds, refused) = self.intake.holds();
            snap.radio.details.push((
                "waits for a short-changed guest".to_owned(),
                format!(
                    "{} ({} in vain; {holds} holding the guests ahead of it, {refused} more not \
                     for the limit on holding): its queue ran dry while another was served more",
                    self.waits, self.waits_in_vain,
                ),
            ));
        }
        let gave_up_text = format!(
            "not attached again: gave up after {} attempts (see the log); attach it anew",
            crate::ports::netns::REATTACH_ATTEMPTS
        );
        for (netns, &(n, gave_up)) in &self.lost_interfaces {
            let attached = self
                .guests
                .values()
                .any(|e| e.netns.as_ref() == Some(netns));
            let now = match (attached, gave_up) {
                (true, _) => "attached again",
                (false, true) => gave_up_text.as_str(),
                (false, false) => "not attached again yet",
            };
            snap.radio.details.push((
                format!("interface of network namespace {netns} deleted under the daemon"),
                format!("{n} time(s); {now}"),
            ));
        }
        for netns in &self.gone_namespaces {
            snap.radio.details.push((
                format!("network namespace {netns} gone"),
                "deleted (or its last process exited) under the daemon: its station was removed; \
                 attach it anew once it exists again"
                    .to_owned(),
            ));
        }
        for (netns, tap) in self
            .guests
            .values()
            .filter_map(|e| Some((e.netns.as_ref()?, e.tap.as_ref()?)))
        {
            let names = tap.names();
            if names.now != names.attached {
                snap.radio.details.push((
                    format!("interface of network namespace {netns} renamed in the container"),
                    format!("{} -> {}; followed", names.attached, names.now),
                ));
            }
        }
        snap
    }
}

/// The state of the simulated radio, its APs and `guests` at `now`.
pub(crate) fn sim_snapshot(
    world: &SimWorld,
    now: Instant,
    guests_of: &BTreeMap<GuestId, GuestEntry>,
) -> Snapshot {
    {
        let mut radio = RadioSnapshot {
            kind: "sim".into(),
            ..RadioSnapshot::default()
        };
        let bridge = world.bridge();
        radio.bridge_forwarded = bridge.forwarded;
        radio.bridge_flooded = bridge.flooded;
        radio.bridge_no_route = bridge.no_route;
        let mut guests = Vec::new();
        let mux = world.mux();
        let st = mux.stats();
        radio.channel = mux.tuned().map(|c| c.number());
        radio.rx_frames = st.rx_frames;
        radio.rx_routed = st.rx_routed;
        radio.tx_frames = st.tx_frames;
        radio.tunes = st.tunes;
        radio.rx_not_listening = st.rx_not_listening;
        radio.tx_off_channel = st.tx_off_channel;
        radio.rx_dropped = DropReason::ALL
            .iter()
            .map(|r| (drop_reason_name(*r).to_owned(), mux.demux().dropped(*r)))
            .collect();
        for st in mux
            .guests()
            .filter_map(|g| mux.station(g))
            .map(|s| s.stats())
        {
            radio.amsdu_tx.0 += st.amsdu_tx;
            radio.amsdu_tx.1 += st.amsdu_tx_msdus;
            radio.amsdu_rx.0 += st.amsdu_rx;
            radio.amsdu_rx.1 += st.amsdu_rx_msdus;
            radio.amsdu_refused += st.amsdu_refused;
        }
        for (&id, entry) in guests_of {
            let Some(report) = mux.report(id) else {
                continue;
            };
            let s = &report.status;
            let c = &report.counters;
            let radio_queue_full = mux
                .station(id)
                .map_or(0, |sta| world.station_queue(sta.mac()).1);
            guests.push(guest_snapshot(
                id,
                entry,
                s,
                vec![
                    ("bad_message".into(), c.bad_messages),
                    ("spoofed".into(), c.spoofed),
                    ("tx_dropped".into(), c.tx_dropped),
                    ("rx_dropped".into(), s.counters.rx_dropped),
                    ("rx_queue_full".into(), c.rx_queue_full),
                    ("control_dropped".into(), c.control_dropped),
                    ("link_queue_full".into(), entry.link_data_dropped),
                    ("link_control_dropped".into(), entry.link_control_dropped),
                    ("radio_queue_full".into(), radio_queue_full),
                ],
            ));
            if let (Some(port), Some(g)) = (entry.flow.port_counters.get(), guests.last_mut()) {
                g.dropped.extend(port.counters());
            }
            if let (Some(tap), Some(g)) = (&entry.tap, guests.last_mut()) {
                let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                g.dropped.extend([
                    ("tap_spoofed".into(), n(&tap.spoofed)),
                    ("tap_not_associated".into(), n(&tap.not_associated)),
                    ("tap_bad_inband".into(), n(&tap.bad_inband)),
                    ("tap_bad_offload".into(), n(&tap.bad_offload)),
                    ("tap_write_dropped".into(), n(&tap.write_dropped)),
                    (
                        "tap_error_replies_suppressed".into(),
                        n(&tap.replies_suppressed),
                    ),
                ]);
            }
        }
        for c in world.aps().map(vwifi_core::sim::ap::SoftAp::counters) {
            radio.amsdu_tx.0 += c.amsdu_tx;
            radio.amsdu_tx.1 += c.amsdu_tx_msdus;
            radio.amsdu_rx.0 += c.amsdu_rx;
            radio.amsdu_rx.1 += c.amsdu_rx_msdus;
            radio.amsdu_refused += c.amsdu_refused;
        }
        let aps = world
            .aps()
            .map(|ap| {
                let cfg = ap.config();
                ApSnapshot {
                    ssid: vwifi_core::proto::Ssid::new(cfg.ssid.as_bytes())
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    bssid: ap.bssid().to_string(),
                    channel: cfg.channel.number(),
                    protected: cfg.security.is_protected(),
                    security: match &cfg.security {
                        ApSecurity::Open => "open",
                        ApSecurity::Wpa2Psk { .. } => "wpa2",
                        ApSecurity::Wpa3Sae {
                            transition_psk: None,
                            ..
                        } => "wpa3",
                        ApSecurity::Wpa3Sae { .. } => "wpa2-wpa3",
                    }
                    .into(),
                    stations: ap.associated_count() as u64,
                    sae_completed: ap.counters().sae_completed,
                    stopped: world
                        .medium()
                        .owner_of(ap.bssid())
                        .is_some_and(|n| !world.medium().is_on_air(n)),
                }
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            uptime_ms: now.as_micros() / 1000,
            radio,
            aps,
            guests,
            state_error: None,
            uplink_error: None,
            federation: None,
        }
    }
}

/// The state of a real card's radio and `guests` at `now`.
pub(crate) fn nl80211_snapshot(
    r: &Nl80211Radio,
    now: Instant,
    guests_of: &BTreeMap<GuestId, GuestEntry>,
) -> Snapshot {
    {
        let mut details = r.details();
        let ifaces: Vec<String> = guests_of
            .keys()
            .filter_map(|id| r.ifname(*id).map(|n| format!("{n} (guest {})", id.0)))
            .collect();
        if !ifaces.is_empty() {
            details.push(("station interfaces".into(), ifaces.join(", ")));
        }
        let radio = RadioSnapshot {
            kind: "nl80211".into(),
            details,
            ..RadioSnapshot::default()
        };
        let guests = guests_of
            .iter()
            .filter_map(|(&id, entry)| {
                let s = r.status(id)?;
                Some(guest_snapshot(
                    id,
                    entry,
                    &s,
                    vec![
                        ("tx_dropped".into(), s.counters.tx_dropped),
                        ("rx_dropped".into(), s.counters.rx_dropped),
                        ("link_queue_full".into(), entry.link_data_dropped),
                        ("link_control_dropped".into(), entry.link_control_dropped),
                    ],
                ))
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            uptime_ms: now.as_micros() / 1000,
            radio,
            aps: Vec::new(),
            guests,
            state_error: None,
            uplink_error: None,
            federation: None,
        }
    }
}
/// One guest's row of the status: who it is (the driver's entry) and its station's `status`,
/// with the radio's own drop counters.
fn guest_snapshot(
    id: GuestId,
    entry: &GuestEntry,
    s: &vwifi_core::proto::StationStatus,
    dropped: Vec<(String, u64)>,
) -> GuestSnapshot {
    GuestSnapshot {
        id: id.0,
        name: entry.name.clone(),
        ifname: entry
            .tap
            .as_ref()
            .map(|t| t.names().now)
            .filter(|n| !n.is_empty()),
        agent: entry.agent.clone(),
        peer: entry.peer.to_string(),
        mac: s.mac.to_string(),
        state: state_name(s.state),
        ssid: s.ssid.as_ref().map(ToString::to_string),
        bssid: s.bssid.map(|b| b.to_string()),
        channel: s.channel,
        signal_dbm: s.signal_dbm,
        rate_kbps: s.tx_rate_kbps,
        phy: s.phy.map(|p| p.to_string()),
        rx_packets: s.counters.rx_packets,
        rx_bytes: s.counters.rx_bytes,
        tx_packets: s.counters.tx_packets,
        tx_bytes: s.counters.tx_bytes,
        dropped,
    }
}

/// The name of a station state in the status.
pub(crate) fn state_name(s: StationState) -> String {
    match s {
        StationState::Idle => "idle".into(),
        StationState::Scanning => "scanning".into(),
        StationState::Authenticating => "authenticating".into(),
        StationState::Associating => "associating".into(),
        StationState::Handshaking => "handshaking".into(),
        StationState::Connected => "connected".into(),
        StationState::Failed => "failed".into(),
        StationState::Other(code) => format!("state {code}"),
    }
}

fn drop_reason_name(r: DropReason) -> &'static str {
    match r {
        DropReason::Malformed => "malformed",
        DropReason::Control => "control",
        DropReason::UnknownReceiver => "unknown_receiver",
        DropReason::ForeignBss => "foreign_bss",
        DropReason::NoMemberOfBss => "no_member_of_bss",
        DropReason::FourAddress => "four_address",
        DropReason::ToDs => "to_ds",
    }
}
