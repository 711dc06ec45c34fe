//! The agent: one connection to the host for this guest, its TAP device, and a local control
//! socket for the CLI.
//!
//! ```text
//!  vwifi-guest CLI ──┐                               
//!  vwifi-guest CLI ──┤ guest.sock   ┌─────────┐  one stream (host.sock, or   ┌──────────┐
//!                    └────────────▶ │  agent  │ ═════════════════════════════ │ vwifi-   │
//!  kernel ◀── TAP (station's MAC) ──│         │  vsock/serial as a socket)   │ host     │
//!                                   └─────────┘                               └──────────┘
//! ```
//! - **Data:** Ethernet frames read from the TAP go to the host as `Message::Data`; `Data`
//!   from the host is written to the TAP.
//! - **Control:** each CLI connection's requests are forwarded with a request id of the
//!   agent's own (so that two clients' ids cannot collide), and the reply goes back to that
//!   client with its original id. `Hello` is answered by the agent. Every event goes to every
//!   client. Clients may not send data.
//! - **Link state:** the TAP's carrier follows the association ([`crate::carrier`]): off
//!   until the host reports the station connected, on while it is, off when it disconnects or
//!   the link to the host is lost. The interface stays up with its addresses and routes.
//! - **Reconnection:** when the host goes away (a daemon restart), the agent keeps its TAP and
//!   its CLI socket, reconnects with backoff ([`RECONNECT_FIRST`] doubling up to
//!   [`RECONNECT_MAX`]), and asks again for the network last joined: it keeps the last `connect`
//!   a client made (credentials included, in memory only) until a `disconnect`. Requests in
//!   flight when the link broke are answered with an error. If the new station's address
//!   differs, the TAP takes it.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use vwifi_core::addr::MacAddr;
use vwifi_core::io::{GuestLink, LinkError};
use vwifi_core::proto::{Capabilities, ErrorCode, Event, Message, RequestId, VERSION};
use vwifi_transport_unix::{LinkConfig, ListenerConfig, UnixGuestListener, UnixLink};

use crate::client::{AGENT_NAME, CLI_CAPABILITIES};
use crate::error::{connect_hint, GuestError};

/// How many messages may wait for one slow CLI client before further events to it are dropped.
const CLIENT_QUEUE: usize = 64;

/// The largest Ethernet frame read from the TAP (jumbo frames included).
const MAX_TAP_FRAME: usize = 65_535;

/// The first wait before reconnecting to a host that went away.
pub const RECONNECT_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two reconnection attempts.
pub const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// How the agent reaches the host: one stream, one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEndpoint {
    /// The host daemon's Unix socket (a container, a local guest).
    Socket(PathBuf),
    /// A virtio-serial port (`/dev/vportNpM`, or a `/dev/virtio-ports/NAME` link) whose other
    /// end the VMM connects to the host daemon's socket.
    Serial(PathBuf),
    /// An `AF_VSOCK` port of a context (the host is context 2), which the VMM's vsock device
    /// forwards to the host daemon's socket.
    Vsock {
        /// The context id.
        cid: u32,
        /// The port.
        port: u32,
    },
}

impl HostEndpoint {
    /// Opens one link to the host over this endpoint.
    pub(crate) async fn open(&self) -> Result<Box<dyn GuestLink>, GuestError> {
        match self {
            Self::Socket(path) => vwifi_transport_unix::connect(path, LinkConfig::default())
                .await
                .map(|l| Box::new(l) as Box<dyn GuestLink>)
                .map_err(|e| match e {
                    vwifi_transport_unix::Error::Connect { path, source } => GuestError::Connect {
                        hint: connect_hint(&source),
                        path,
                        source,
                    },
                    other => GuestError::Connect {
                        path: path.clone(),
                        hint: "check the path",
                        source: std::io::Error::other(other),
                    },
                }),
            Self::Serial(path) => {
                vwifi_transport_unix::open_char_device(path, LinkConfig::default())
                    .map(|l| Box::new(l) as Box<dyn GuestLink>)
                    .map_err(|e| {
                        GuestError::Connect {
                path: path.clone(),
                hint: "give the VM's virtio-serial port (ls /dev/virtio-ports/); it admits one \
                               opener, so no other agent may hold it",
                source: std::io::Error::other(e),
            }
                    })
            }
            Self::Vsock { cid, port } => {
                vwifi_transport_unix::connect_vsock(*cid, *port, LinkConfig::default())
                    .await
                    .map(|l| Box::new(l) as Box<dyn GuestLink>)
                    .map_err(|e| GuestError::Connect {
                        path: PathBuf::from(self.to_string()),
                        hint: "check that the VM has a vsock device (modprobe \
                               vmw_vsock_virtio_transport) and that the host forwards the port \
                               to `vwifi-host run`'s socket",
                        source: std::io::Error::other(e),
                    })
            }
        }
    }
}

impl core::fmt::Display for HostEndpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Socket(p) => write!(f, "{}", p.display()),
            Self::Serial(p) => write!(f, "serial port {}", p.display()),
            Self::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
        }
    }
}

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// How to reach the host.
    pub host: HostEndpoint,
    /// The control socket to serve the CLI on.
    pub control: PathBuf,
}

/// A connected agent, before it runs: the host link, its negotiated capabilities and the
/// station's MAC address.
pub struct Agent {
    host: Box<dyn GuestLink>,
    endpoint: HostEndpoint,
    /// The last `Connect` a client made (without request id), to ask again after reconnecting.
    profile: Option<Message>,
    capabilities: Capabilities,
    version: u8,
    mac: MacAddr,
    next_id: u32,
}

impl core::fmt::Debug for Agent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Agent")
            .field("mac", &self.mac)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Connects to the host, says hello (asking for data frames) and learns the station's MAC.
    pub async fn connect(host: &HostEndpoint) -> Result<Self, GuestError> {
        let link = host.open().await?;
        let mut agent = Self {
            host: link,
            endpoint: host.clone(),
            profile: None,
            capabilities: Capabilities::EMPTY,
            version: VERSION,
            mac: MacAddr::ZERO,
            next_id: 1,
        };
        let id = agent.id();
        let hello = Message::Hello {
            id,
            version: VERSION,
            capabilities: CLI_CAPABILITIES | Capabilities::DATA,
            agent: AGENT_NAME.to_owned(),
        };
        match agent.ask(hello).await? {
            Message::HelloAck {
                version,
                capabilities,
                ..
            } => {
                agent.version = version;
                agent.capabilities = capabilities;
            }
            other => return Err(unexpected("Hello", &other)),
        }
        let id = agent.id();
        match agent.ask(Message::StatusRequest { id }).await? {
            Message::Status { status, .. } => agent.mac = status.mac,
            other => return Err(unexpected("StatusRequest", &other)),
        }
        tracing::info!(mac = %agent.mac, capabilities = ?agent.capabilities, "connected to the host");
        Ok(agent)
    }

    /// The station's MAC address, for the TAP.
    pub const fn mac(&self) -> MacAddr {
        self.mac
    }

    fn id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Sends a request and waits for its reply, before the relay runs (other messages are
    /// dropped).
    async fn ask(&mut self, msg: Message) -> Result<Message, GuestError> {
        let id = msg.request_id();
        self.host.send(&msg).await.map_err(GuestError::Link)?;
        let wait = async {
            loop {
                match self.host.recv().await {
                    Ok(Message::Error {
                        code,
                        text,
                        id: rid,
                    }) if rid == id => return Err(GuestError::Host { code, text }),
                    Ok(m) if m.request_id() == id => return Ok(m),
                    Ok(_) | Err(LinkError::BadMessage { .. }) => {}
                    Err(e) => return Err(GuestError::Link(e)),
                }
            }
        };
        let after = crate::client::DEFAULT_REPLY_TIMEOUT;
        tokio::time::timeout(after, wait)
            .await
            .unwrap_or(Err(GuestError::Timeout {
                what: "the agent's hello",
                after,
            }))
    }

    /// Serves the control socket and relays data between `tap` (if any) and the host until
    /// `shutdown` completes (`Ok`) or the TAP fails (`Err`); a host link that fails is
    /// reconnected (see the [module documentation](self)).
    pub async fn run(
        mut self,
        control: UnixGuestListener,
        tap: Option<tun_rs::AsyncDevice>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GuestError> {
        let mut control = control;
        let (from_clients_tx, mut from_clients) = mpsc::channel::<(u64, Option<Message>)>(256);
        let mut clients: HashMap<u64, mpsc::Sender<Message>> = HashMap::new();
        let mut pending: HashMap<u32, (u64, RequestId)> = HashMap::new();
        let mut next_client = 0u64;
        let mut buf = vec![0u8; MAX_TAP_FRAME];
        let mut lost: Option<LinkError> = None;
        let mut carrier = tap.as_ref().and_then(|t| {
            t.if_index()
                .and_then(crate::carrier::Carrier::open)
                .map_err(|e| tracing::warn!(error = %e, "the TAP's carrier cannot follow the association"))
                .ok()
        });
        set_carrier(&mut carrier, false);
        tokio::pin!(shutdown);
        loop {
            if let Some(e) = lost.take() {
                tracing::warn!(error = %e, "lost the link to the host: reconnecting");
                set_carrier(&mut carrier, false);
                for (_, (cid, original)) in pending.drain() {
                    if let Some(tx) = clients.get(&cid) {
                        let _ = tx.try_send(Message::Error {
                            id: Some(original),
                            code: ErrorCode::RadioUnavailable,
                            text: Some("the link to the host was lost; the agent is reconnecting: try again".to_owned()),
                        });
                    }
                }
                tokio::select! {
                    () = &mut shutdown => {
                        tracing::info!("agent stopping");
                        return Ok(());
                    }
                    () = self.reconnect(tap.as_ref()) => {}
                }
                continue;
            }
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("agent stopping");
                    let _ = self.host.close().await;
                    return Ok(());
                }
                msg = self.host.recv() => match msg {
                    Ok(Message::Data(frame)) => {
                        if let Some(tap) = &tap {
                            if let Err(e) = tap.send(&frame).await {
                                tracing::warn!(error = %e, "cannot write a frame to the TAP");
                            }
                        }
                    }
                    Ok(Message::Event(e)) => {
                        tracing::info!(event = ?e, "event");
                        match &e {
                            Event::Connected { .. } => set_carrier(&mut carrier, true),
                            Event::Disconnected { .. } | Event::ConnectFailed { .. } => {
                                set_carrier(&mut carrier, false);
                            }
                            _ => {}
                        }
                        let msg = Message::Event(e);
                        clients.retain(|cid, tx| match tx.try_send(msg.clone()) {
                            Ok(()) => true,
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                tracing::warn!(client = cid, "client too slow: an event to it was dropped");
                                true
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => false,
                        });
                    }
                    Ok(msg) => {
                        let routed = msg
                            .request_id()
                            .and_then(|id| pending.remove(&id.0));
                        match routed {
                            Some((cid, original)) => {
                                if let Some(tx) = clients.get(&cid) {
                                    let _ = tx.try_send(with_request_id(msg, original));
                                }
                            }
                            None => tracing::debug!(msg = ?msg, "host message for no client"),
                        }
                    }
                    Err(e @ LinkError::BadMessage { .. }) => {
                        tracing::warn!(error = %e, "skipped a message from the host");
                    }
                    Err(e) => lost = Some(e),
                },
                n = recv_tap(tap.as_ref(), &mut buf) => match n {
                    Ok(n) => {
                        let frame = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                        if let Err(e) = self.host.send(&Message::Data(frame)).await {
                            lost = Some(e);
                        }
                    }
                    Err(e) => {
                        return Err(GuestError::Tap { name: tap_name(tap.as_ref()), source: e });
                    }
                },
                accepted = control.accept_link() => match accepted {
                    Ok(link) => {
                        next_client += 1;
                        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
                        clients.insert(next_client, tx);
                        spawn_client(next_client, link, rx, from_clients_tx.clone());
                    }
                    Err(e) => tracing::warn!(error = %e, "refused a CLI connection"),
                },
                Some((cid, msg)) = from_clients.recv() => {
                    let Some(msg) = msg else {
                        clients.remove(&cid);
                        pending.retain(|_, (c, _)| *c != cid);
                        continue;
                    };
                    let reply = match msg {
                        Message::Hello { id, version, .. } => Some(Message::HelloAck {
                            id,
                            version: version.min(self.version),
                            capabilities: self.capabilities.intersection(CLI_CAPABILITIES),
                        }),
                        Message::Data(_) => Some(refuse(None, "the agent owns this guest's data path (its TAP)")),
                        m @ (Message::ScanRequest { .. }
                        | Message::Connect { .. }
                        | Message::Disconnect { .. }
                        | Message::StatusRequest { .. }) => {
                            let original = m.request_id().unwrap_or_default();
                            match &m {
                                Message::Connect { .. } => self.profile = Some(m.clone()),
                                Message::Disconnect { .. } => self.profile = None,
                                _ => {}
                            }
                            let id = self.id();
                            pending.insert(id.0, (cid, original));
                            if let Err(e) = self.host.send(&with_request_id(m, id)).await {
                                lost = Some(e);
                            }
                            None
                        }
                        other => Some(refuse(other.request_id(), "not a request")),
                    };
                    if let (Some(reply), Some(tx)) = (reply, clients.get(&cid)) {
                        let _ = tx.try_send(reply);
                    }
                }
            }
        }
    }
}

impl Agent {
    /// Connects to the host again (with backoff, until it answers), takes the new station's
    /// address for the TAP if it changed, and asks for the network last joined.
    async fn reconnect(&mut self, tap: Option<&tun_rs::AsyncDevice>) {
        let mut wait = RECONNECT_FIRST;
        let fresh = loop {
            tokio::time::sleep(wait).await;
            match Agent::connect(&self.endpoint).await {
                Ok(fresh) => break fresh,
                Err(e) => {
                    tracing::debug!(error = %e, "the host is not back yet");
                    wait = (wait * 2).min(RECONNECT_MAX);
                }
            }
        };
        self.host = fresh.host;
        self.capabilities = fresh.capabilities;
        self.version = fresh.version;
        if fresh.mac != self.mac {
            tracing::info!(old = %self.mac, new = %fresh.mac, "the station's address changed");
            if let Some(tap) = tap {
                if let Err(e) = tap.set_mac_address(fresh.mac.0) {
                    tracing::warn!(error = %e, "cannot give the TAP the station's new address");
                }
            }
            self.mac = fresh.mac;
        }
        tracing::info!(mac = %self.mac, "reconnected to the host");
        if let Some(connect) = self.profile.clone() {
            let id = self.id();
            if let Message::Connect { ssid, .. } = &connect {
                tracing::info!(%ssid, "joining the network again");
            }
            // Its answer goes to no client; the outcome comes as an event to every client.
            if let Err(e) = self.host.send(&with_request_id(connect, id)).await {
                tracing::warn!(error = %e, "cannot ask for the network again");
            }
        }
    }
}

/// Switches the TAP's carrier, if the agent has one to switch (a failure is logged).
fn set_carrier(carrier: &mut Option<crate::carrier::Carrier>, on: bool) {
    if let Some(c) = carrier {
        if let Err(e) = c.set(on) {
            tracing::warn!(error = %e, on, "cannot switch the TAP's carrier");
        }
    }
}

fn refuse(id: Option<RequestId>, text: &str) -> Message {
    Message::Error {
        id,
        code: ErrorCode::UnsupportedMessage,
        text: Some(text.to_owned()),
    }
}

fn unexpected(request: &'static str, got: &Message) -> GuestError {
    GuestError::UnexpectedReply {
        request,
        got: got.message_type().name(),
    }
}

fn tap_name(tap: Option<&tun_rs::AsyncDevice>) -> String {
    tap.and_then(|t| t.name().ok()).unwrap_or_default()
}

/// The next frame from the TAP; never completes without one.
async fn recv_tap(tap: Option<&tun_rs::AsyncDevice>, buf: &mut [u8]) -> std::io::Result<usize> {
    match tap {
        Some(tap) => tap.recv(buf).await,
        None => std::future::pending().await,
    }
}

/// The same message with another request id (requests and replies only; others unchanged).
pub fn with_request_id(msg: Message, new: RequestId) -> Message {
    match msg {
        Message::Hello {
            version,
            capabilities,
            agent,
            ..
        } => Message::Hello {
            id: new,
            version,
            capabilities,
            agent,
        },
        Message::HelloAck {
            version,
            capabilities,
            ..
        } => Message::HelloAck {
            id: new,
            version,
            capabilities,
        },
        Message::Ack { .. } => Message::Ack { id: new },
        Message::Error {
            id: Some(_),
            code,
            text,
        } => Message::Error {
            id: Some(new),
            code,
            text,
        },
        Message::ScanRequest { ssid, mode, .. } => Message::ScanRequest {
            id: new,
            ssid,
            mode,
        },
        Message::ScanResults { bss, .. } => Message::ScanResults { id: new, bss },
        Message::Connect {
            ssid,
            bssid,
            credentials,
            ..
        } => Message::Connect {
            id: new,
            ssid,
            bssid,
            credentials,
        },
        Message::Disconnect { .. } => Message::Disconnect { id: new },
        Message::StatusRequest { .. } => Message::StatusRequest { id: new },
        Message::Status { status, .. } => Message::Status { id: new, status },
        other => other,
    }
}

/// Runs one CLI client: its messages go to the agent loop (then `None` when it leaves), and
/// what the loop sends it goes out on its link.
fn spawn_client(
    cid: u64,
    link: UnixLink,
    mut to_client: mpsc::Receiver<Message>,
    to_agent: mpsc::Sender<(u64, Option<Message>)>,
) {
    let (mut rx, mut tx) = link.into_halves();
    let writer = tokio::spawn(async move {
        while let Some(msg) = to_client.recv().await {
            if tx.send(&msg).await.is_err() {
                break;
            }
        }
        let _ = tx.close().await;
    });
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(msg) => {
                    if to_agent.send((cid, Some(msg))).await.is_err() {
                        break;
                    }
                }
                Err(e) if !e.is_fatal() => {
                    tracing::debug!(client = cid, error = %e, "bad message from a CLI client");
                    if let Some(reply) = e.error_reply() {
                        let _ = to_agent.send((cid, Some(reply))).await;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = to_agent.send((cid, None)).await;
        writer.abort();
    });
}

/// Binds the control socket at `path` (creating its directory), for the CLI of this user.
pub async fn bind_control(path: &Path) -> Result<UnixGuestListener, GuestError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| {
                GuestError::Listen(vwifi_transport_unix::Error::Bind {
                    path: path.to_path_buf(),
                    source,
                })
            })?;
        }
    }
    UnixGuestListener::bind(path, ListenerConfig::default())
        .await
        .map_err(GuestError::Listen)
}

/// Creates the TAP `name` with the station's MAC, up.
pub fn create_tap(name: &str, mac: MacAddr) -> Result<tun_rs::AsyncDevice, GuestError> {
    tun_rs::DeviceBuilder::new()
        .name(name)
        .layer(tun_rs::Layer::L2)
        .mac_addr(mac.0)
        .enable(true)
        .build_async()
        .map_err(|source| GuestError::Tap {
            name: name.to_owned(),
            source,
        })
}

/// `vwifi-guest agent`: connect, create the TAP, serve the control socket until SIGINT/SIGTERM.
pub async fn run(config: AgentConfig, tap_name: &str) -> Result<(), GuestError> {
    let agent = Agent::connect(&config.host).await?;
    let tap = create_tap(tap_name, agent.mac())?;
    let control = bind_control(&config.control).await?;
    eprintln!(
        "vwifi-guest agent: {} is the station ({}); CLI on {}",
        tap_name,
        agent.mac(),
        config.control.display()
    );
    agent.run(control, Some(tap), shutdown_signal()).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwifi_core::proto::ScanMode;

    #[test]
    fn request_ids_are_rewritten_and_events_kept() {
        let m = with_request_id(
            Message::ScanRequest {
                id: RequestId(1),
                ssid: None,
                mode: ScanMode::Passive,
            },
            RequestId(77),
        );
        assert_eq!(m.request_id(), Some(RequestId(77)));
        let e = Message::Error {
            id: None,
            code: ErrorCode::Internal,
            text: None,
        };
        assert_eq!(with_request_id(e.clone(), RequestId(5)), e);
    }
}
