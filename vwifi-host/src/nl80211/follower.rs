//! A guest without a station interface of its own (`[radio] max_interfaces`: the card has
//! no room for another): it shares the interface of a guest connected to the network it asks
//! for, behind that interface's MAC-translating bridge ([`super::bridge`]). It must know the
//! network's credential (the same PSK, SAE password, or none); a network no interface is on
//! is refused as "radio busy: the card takes N station interfaces"
//! ([`vwifi_core::proto::FAILURE_CODE_CARD_FULL`]).

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use vwifi_core::crypto::derive_psk;
use vwifi_core::demux::GuestId;
use vwifi_core::proto::{
    self, ConnectFailure, Credentials, ErrorCode, Event, Message, StationState, StationStatus,
};
use vwifi_core::MacAddr;
use zeroize::Zeroizing;

use super::consts as c;
use super::genl::{Attr, Genl};
use super::scan::parse_entry;
use super::station::{error, hello_reply, DataPath, LinkInfo, Secret, Shared};

/// The interface a sharing guest is behind, if any (the driver sends its frames there).
pub(crate) type Joined = Arc<Mutex<Option<Arc<DataPath>>>>;

/// Who the sharing guest is.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The guest.
    pub(crate) guest: GuestId,
    /// Its own address (kept behind the bridge).
    pub(crate) mac: MacAddr,
    /// How many station interfaces the card takes.
    pub(crate) max_interfaces: u16,
}

struct Follower {
    spec: Spec,
    shared: Arc<Shared>,
    joined: Joined,
    status: watch::Sender<StationStatus>,
}

/// Runs a sharing guest until it goes (`cmds` closes).
pub(crate) async fn run(
    spec: Spec,
    shared: Arc<Shared>,
    mut cmds: mpsc::UnboundedReceiver<Message>,
    joined: Joined,
    status: watch::Sender<StationStatus>,
) {
    let mut f = Follower {
        spec,
        shared,
        joined,
        status,
    };
    tracing::info!(guest = f.spec.guest.0, mac = %f.spec.mac, "guest admitted without an interface of its own (the card is full): it may share one");
    while let Some(msg) = cmds.recv().await {
        f.message(msg).await;
    }
    f.leave();
}

impl Follower {
    async fn tell(&self, msg: Message) {
        let _ = self.shared.to_guests.send((self.spec.guest, msg)).await;
    }

    /// The interface it shares and that interface's network, while the bridge still holds it.
    fn current(&self) -> Option<(Arc<DataPath>, LinkInfo)> {
        let data = self.joined.lock().ok()?.clone()?;
        let member = data
            .bridge
            .lock()
            .ok()?
            .as_ref()?
            .mac_of(self.spec.guest)
            .is_some();
        let link = data.link.lock().ok()?.clone()?;
        member.then_some((data, link))
    }

    fn status(&self) -> StationStatus {
        let link = self.current().map(|(_, l)| l);
        StationStatus {
            state: if link.is_some() {
                StationState::Connected
            } else {
                StationState::Idle
            },
            mac: self.spec.mac,
            ssid: link.as_ref().map(|l| l.ssid),
            bssid: link.as_ref().map(|l| l.bssid),
            channel: link.as_ref().map(|l| l.channel),
            frequency_mhz: None,
            signal_dbm: None,
            tx_rate_kbps: None,
            phy: None,
            counters: Default::default(),
        }
    }

    fn publish(&self) {
        self.status.send_replace(self.status());
    }

    /// Leaves the shared interface; whether it was behind one.
    fn leave(&mut self) -> bool {
        let Some(data) = self.joined.lock().ok().and_then(|mut j| j.take()) else {
            return false;
        };
        let was = self.current().is_some()
            || data
                .bridge
                .lock()
                .ok()
                .and_then(|b| b.as_ref().and_then(|t| t.mac_of(self.spec.guest)))
                .is_some();
        if let Ok(mut b) = data.bridge.lock() {
            if let Some(t) = b.as_mut() {
                t.remove(self.spec.guest);
            }
        }
        self.publish();
        was
    }

    async fn message(&mut self, msg: Message) {
        match msg {
            Message::Hello { id, version, .. } => {
                self.tell(hello_reply(id, version)).await;
            }
            Message::ScanRequest { id, ssid, .. } => {
                let reply = match self.scan_table().await {
                    Some(bss) => Message::ScanResults {
                        id,
                        bss: bss
                            .into_iter()
                            .filter(|b| ssid.is_none_or(|s| s == b.ssid))
                            .collect(),
                    },
                    None => error(
                        Some(id),
                        ErrorCode::RadioUnavailable,
                        "no station interface to read the card's scan results with",
                    ),
                };
                self.tell(reply).await;
            }
            Message::Connect {
                id,
                ssid,
                bssid,
                credentials,
            } => {
                self.tell(Message::Ack { id }).await;
                if self.leave() {
                    self.tell(Message::Event(Event::Disconnected {
                        reason: 3,
                        locally_generated: true,
                    }))
                    .await;
                }
                let outcome = self.join(ssid, bssid, credentials).await;
                self.publish();
                let msg = match outcome {
                    Ok(link) => {
                        tracing::info!(guest = self.spec.guest.0, ssid = %link.ssid, "sharing a station interface");
                        Event::Connected {
                            ssid: link.ssid,
                            bssid: link.bssid,
                            channel: link.channel,
                        }
                    }
                    Err(reason) => {
                        tracing::info!(
                            guest = self.spec.guest.0,
                            ?reason,
                            "cannot share a station interface"
                        );
                        Event::ConnectFailed { reason }
                    }
                };
                self.tell(Message::Event(msg)).await;
            }
            Message::Disconnect { id } => {
                let reply = if self.leave() {
                    self.tell(Message::Event(Event::Disconnected {
                        reason: 3,
                        locally_generated: true,
                    }))
                    .await;
                    Message::Ack { id }
                } else {
                    error(
                        Some(id),
                        ErrorCode::NotConnected,
                        "the station is not connected",
                    )
                };
                self.tell(reply).await;
            }
            Message::StatusRequest { id } => {
                let status = Box::new(self.status());
                self.tell(Message::Status { id, status }).await;
            }
            Message::Data(_) => {}
            other => {
                self.tell(error(
                    other.request_id(),
                    ErrorCode::UnsupportedMessage,
                    "the host does not take this message from a guest",
                ))
                .await;
            }
        }
    }

    /// The card's BSS table (`GET_SCAN` on any station interface: the table is the card's).
    async fn scan_table(&self) -> Option<Vec<proto::BssInfo>> {
        let ifindex = self.shared.links.lock().ok()?.first().map(|(i, _)| *i)?;
        let mut nl = Genl::open(&self.shared.family, &[]).ok()?;
        let msgs = nl
            .request(
                "GET_SCAN",
                c::CMD_GET_SCAN,
                &[Attr::u32(c::ATTR_IFINDEX, ifindex)],
                true,
            )
            .await
            .ok()?;
        Some(
            msgs.iter()
                .filter_map(parse_entry)
                .map(|e| e.info)
                .collect(),
        )
    }

    /// Joins the bridge of an interface connected to `ssid`, if the credential is the one it
    /// used.
    async fn join(
        &mut self,
        ssid: proto::Ssid,
        bssid: Option<MacAddr>,
        credentials: Credentials,
    ) -> Result<LinkInfo, ConnectFailure> {
        let full = ConnectFailure::Other {
            code: proto::FAILURE_CODE_CARD_FULL,
            detail: self.spec.max_interfaces,
        };
        let found = self.shared.links.lock().ok().and_then(|links| {
            links.iter().find_map(|(_, d)| {
                let link = d.link.lock().ok()?.clone()?;
                (link.ssid == ssid && bssid.is_none_or(|b| b == link.bssid))
                    .then(|| (d.clone(), link))
            })
        });
        let Some((data, link)) = found else {
            return Err(full);
        };
        let given = match (&link.secret, credentials) {
            (_, Credentials::None) => Secret::Open,
            (Secret::Sae(_), Credentials::Passphrase(p)) => {
                Secret::Sae(Zeroizing::new(p.expose().to_vec()))
            }
            (_, Credentials::Psk(psk)) => Secret::Psk(Zeroizing::new(*psk.expose())),
            (_, Credentials::Passphrase(p)) => {
                let derived = tokio::task::spawn_blocking(move || derive_psk(&p, ssid.as_bytes()))
                    .await
                    .ok()
                    .and_then(Result::ok);
                match derived {
                    Some(psk) => Secret::Psk(Zeroizing::new(*psk.expose())),
                    None => return Err(ConnectFailure::WrongPassphrase),
                }
            }
        };
        if !link.secret.matches(&given) {
            return Err(match link.secret {
                Secret::Open => ConnectFailure::Other {
                    code: vwifi_core::station::FAILURE_CODE_SECURITY_MISMATCH,
                    detail: proto::Security::Open.code().into(),
                },
                _ => ConnectFailure::WrongPassphrase,
            });
        }
        let added = data
            .bridge
            .lock()
            .ok()
            .and_then(|mut b| b.as_mut().map(|t| t.add(self.spec.guest, self.spec.mac)))
            .unwrap_or(false);
        if !added {
            return Err(full);
        }
        if let Ok(mut j) = self.joined.lock() {
            *j = Some(data);
        }
        Ok(link)
    }
}
