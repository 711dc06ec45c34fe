//! The client side of the guest protocol: requests matched to replies by request id, events
//! kept in order, over any [`GuestLink`] (a Unix socket to the host or to an agent, or the
//! in-band link on the guest's NIC).

use core::time::Duration;
use std::collections::VecDeque;
use std::path::Path;

use vwifi_core::addr::MacAddr;
use vwifi_core::io::{GuestLink, LinkError};
use vwifi_core::proto::{
    BssInfo, Capabilities, Credentials, ErrorCode, Event, Message, RequestId, ScanMode, Ssid,
    StationStatus, VERSION,
};
use vwifi_transport_unix::LinkConfig;

use crate::error::{connect_hint, GuestError};

/// How long a request waits for its reply by default (a scan of every channel included).
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent name sent in `Hello`.
pub const AGENT_NAME: &str = concat!("vwifi-guest ", env!("CARGO_PKG_VERSION"));

/// What the CLI asks for in `Hello`: everything but data frames (the CLI carries none).
pub const CLI_CAPABILITIES: Capabilities = Capabilities::from_bits_retain(
    Capabilities::SCAN.bits()
        | Capabilities::OPEN.bits()
        | Capabilities::WPA2_PSK.bits()
        | Capabilities::EVENTS.bits()
        | Capabilities::ROAM_EVENTS.bits(),
);

/// A connection to the host (or to an agent that relays for it), speaking the guest protocol.
pub struct Client {
    link: Box<dyn GuestLink>,
    next_id: u32,
    events: VecDeque<Event>,
    reply_timeout: Duration,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.link.peer())
            .field("next_id", &self.next_id)
            .field("events", &self.events.len())
            .finish()
    }
}

impl Client {
    /// A client over `link`; call [`Client::hello`] first.
    pub fn new(link: Box<dyn GuestLink>) -> Self {
        Self {
            link,
            next_id: 1,
            events: VecDeque::new(),
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        }
    }

    /// Connects to a Unix socket (the host's or an agent's) and says hello.
    pub async fn connect_unix(path: &Path) -> Result<Self, GuestError> {
        let link = vwifi_transport_unix::connect(path, LinkConfig::default())
            .await
            .map_err(|e| match e {
                vwifi_transport_unix::Error::Connect { path, source } => GuestError::Connect {
                    hint: connect_hint(&source),
                    path,
                    source,
                },
                other => GuestError::Connect {
                    path: path.to_path_buf(),
                    hint: "check the path",
                    source: std::io::Error::other(other),
                },
            })?;
        let mut client = Self::new(Box::new(link));
        client.hello(CLI_CAPABILITIES).await?;
        Ok(client)
    }

    /// Sets how long requests wait for their replies.
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
    }

    fn id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Sends `Hello` and returns the capabilities both sides use.
    pub async fn hello(&mut self, capabilities: Capabilities) -> Result<Capabilities, GuestError> {
        let id = self.id();
        let msg = Message::Hello {
            id,
            version: VERSION,
            capabilities,
            agent: AGENT_NAME.to_owned(),
        };
        match self.request("Hello", msg).await? {
            Message::HelloAck { capabilities, .. } => Ok(capabilities),
            other => Err(unexpected("Hello", &other)),
        }
    }

    /// Scans and returns the networks found.
    pub async fn scan(
        &mut self,
        ssid: Option<Ssid>,
        mode: ScanMode,
    ) -> Result<Vec<BssInfo>, GuestError> {
        let id = self.id();
        match self
            .request("ScanRequest", Message::ScanRequest { id, ssid, mode })
            .await?
        {
            Message::ScanResults { bss, .. } => Ok(bss),
            other => Err(unexpected("ScanRequest", &other)),
        }
    }

    /// Asks the host to join a network; `Ok` once it accepted the request. The outcome comes
    /// as an event ([`Client::next_event`]); events received before the acceptance are
    /// dropped, as they concern earlier attempts.
    pub async fn connect(
        &mut self,
        ssid: Ssid,
        bssid: Option<MacAddr>,
        credentials: Credentials,
    ) -> Result<(), GuestError> {
        let id = self.id();
        let msg = Message::Connect {
            id,
            ssid,
            bssid,
            credentials,
        };
        match self.request("Connect", msg).await? {
            Message::Ack { .. } => {
                self.events.clear();
                Ok(())
            }
            other => Err(unexpected("Connect", &other)),
        }
    }

    /// Asks the host to leave the network. `Ok(false)` if the station was not connected.
    pub async fn disconnect(&mut self) -> Result<bool, GuestError> {
        let id = self.id();
        match self.request("Disconnect", Message::Disconnect { id }).await {
            Ok(Message::Ack { .. }) => Ok(true),
            Ok(other) => Err(unexpected("Disconnect", &other)),
            Err(GuestError::Host {
                code: ErrorCode::NotConnected,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The station's status.
    pub async fn status(&mut self) -> Result<StationStatus, GuestError> {
        let id = self.id();
        match self
            .request("StatusRequest", Message::StatusRequest { id })
            .await?
        {
            Message::Status { status, .. } => Ok(*status),
            other => Err(unexpected("StatusRequest", &other)),
        }
    }

    /// The next event from the host, waiting as long as it takes.
    ///
    /// **Cancel safety:** cancel-safe (no event is lost if the future is dropped).
    pub async fn next_event(&mut self) -> Result<Event, GuestError> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            let msg = self.recv().await?;
            self.keep(msg, None);
        }
    }

    /// Sends a request and waits (at most the reply timeout) for the reply with its id. An
    /// `Error` reply becomes [`GuestError::Host`].
    pub async fn request(
        &mut self,
        name: &'static str,
        msg: Message,
    ) -> Result<Message, GuestError> {
        let id = msg.request_id();
        tracing::debug!(request = name, ?id, "sending");
        self.link.send(&msg).await.map_err(GuestError::Link)?;
        // The Connect message's secret is dropped (and zeroized) here.
        drop(msg);
        let after = self.reply_timeout;
        let wait = async {
            loop {
                let reply = self.recv().await?;
                if let Some(reply) = self.keep(reply, id) {
                    return Ok(reply);
                }
            }
        };
        match tokio::time::timeout(after, wait).await {
            Ok(Ok(Message::Error { code, text, .. })) => Err(GuestError::Host { code, text }),
            Ok(other) => other,
            Err(_) => Err(GuestError::Timeout { what: name, after }),
        }
    }

    /// The next message, skipping well-delimited bad ones.
    async fn recv(&mut self) -> Result<Message, GuestError> {
        loop {
            match self.link.recv().await {
                Ok(m) => return Ok(m),
                Err(e @ LinkError::BadMessage { .. }) => {
                    tracing::warn!(error = %e, "skipped a message from the host");
                }
                Err(e) => return Err(GuestError::Link(e)),
            }
        }
    }

    /// Files a message: events are queued, the reply to `waiting` is returned, anything else is
    /// logged and dropped.
    fn keep(&mut self, msg: Message, waiting: Option<RequestId>) -> Option<Message> {
        match msg {
            Message::Event(e) => {
                self.events.push_back(e);
                None
            }
            m if waiting.is_some() && m.request_id() == waiting => Some(m),
            Message::Error {
                id: None,
                code,
                text,
            } => {
                tracing::warn!(?code, ?text, "the host reported an error");
                None
            }
            other => {
                tracing::debug!(msg = ?other, "dropped an unexpected message");
                None
            }
        }
    }

    /// Closes the link.
    pub async fn close(mut self) {
        let _ = self.link.close().await;
    }
}

fn unexpected(request: &'static str, got: &Message) -> GuestError {
    GuestError::UnexpectedReply {
        request,
        got: got.message_type().name(),
    }
}
