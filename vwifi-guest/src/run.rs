//! Running one command of the CLI: opening the link, asking, printing.

use core::time::Duration;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use serde_json::{json, Value};
use vwifi_core::proto::{Event, ScanMode, Ssid, StationState};
use zeroize::Zeroizing;

use crate::cli::{Cli, Command, ConnectArgs, SecretArgs};
use crate::client::{Client, CLI_CAPABILITIES};
use crate::error::GuestError;
use crate::inband::InbandLink;
use crate::secret::SecretSource;
use crate::{output, paths};

/// Where the CLI reaches the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Unix socket: the host's or an agent's.
    Socket(PathBuf),
    /// In-band on this interface.
    Link(String),
}

impl Target {
    /// The target the command line names, or the default socket.
    pub fn from_cli(socket: Option<PathBuf>, link: Option<String>) -> Self {
        match (socket, link) {
            (_, Some(iface)) => Self::Link(iface),
            (Some(path), None) => Self::Socket(path),
            (None, None) => Self::Socket(paths::default_cli_socket(
                std::env::var_os(paths::SOCKET_ENV).map(PathBuf::from),
                &paths::this_runtime_dir(),
            )),
        }
    }

    /// Opens the link and says hello.
    pub async fn open(&self) -> Result<Client, GuestError> {
        match self {
            Self::Socket(path) => Client::connect_unix(path).await,
            Self::Link(iface) => {
                let link = InbandLink::open(iface)?;
                let mut client = Client::new(Box::new(link));
                client.hello(CLI_CAPABILITIES).await?;
                Ok(client)
            }
        }
    }
}

/// Where the output goes, and in which form.
pub struct Printer<W> {
    out: W,
    json: bool,
}

impl<W: Write> Printer<W> {
    /// A printer of text (or JSON, if `json`) to `out`.
    pub const fn new(out: W, json: bool) -> Self {
        Self { out, json }
    }

    /// Prints text for people, or the JSON value for scripts, each followed by a newline.
    pub fn print(&mut self, text: &str, value: impl FnOnce() -> Value) -> Result<(), GuestError> {
        let r = if self.json {
            writeln!(self.out, "{}", value())
        } else if text.ends_with('\n') {
            write!(self.out, "{text}")
        } else {
            writeln!(self.out, "{text}")
        };
        r.and_then(|()| self.out.flush())
            .map_err(GuestError::Output)
    }

    /// Prints a progress line for people; nothing in JSON mode.
    pub fn progress(&mut self, text: &str) -> Result<(), GuestError> {
        if self.json {
            return Ok(());
        }
        self.print(text, || Value::Null)
    }
}

/// Runs the command of `cli` (not `agent`), reading a passphrase from `stdin` if asked and
/// printing to `out`.
pub async fn run(
    cli: Cli,
    stdin: &mut impl BufRead,
    out: &mut Printer<impl Write>,
) -> Result<(), GuestError> {
    let target = Target::from_cli(cli.socket, cli.link);
    match cli.command {
        Command::Scan(args) => {
            // Checked before reaching the host.
            let ssid = args.ssid.as_deref().map(parse_ssid).transpose()?;
            let mode = if args.passive {
                ScanMode::Passive
            } else {
                ScanMode::Active
            };
            let mut client = target.open().await?;
            let bss = client.scan(ssid, mode).await?;
            client.close().await;
            out.print(
                &output::scan_table(&bss),
                || json!({ "networks": bss.iter().map(output::bss_json).collect::<Vec<_>>() }),
            )
        }
        Command::Connect(args) => connect(&target, args, stdin, out).await,
        Command::Disconnect => {
            let mut client = target.open().await?;
            let was = client.disconnect().await?;
            client.close().await;
            let text = if was {
                "disconnected"
            } else {
                "not connected (nothing to do)"
            };
            out.print(text, || json!({ "disconnected": was }))
        }
        Command::Status => {
            let mut client = target.open().await?;
            let status = client.status().await?;
            client.close().await;
            out.print(&output::status_text(&status), || {
                output::status_json(&status)
            })
        }
        Command::Events(args) => {
            let mut client = target.open().await?;
            let mut link_state = match (&target, args.follow_link) {
                (Target::Link(iface), true) => {
                    let mut state = LinkState::open(iface)?;
                    let status = client.status().await?;
                    state.follow(status.state == StationState::Connected);
                    Some(state)
                }
                _ => None,
            };
            let mut seen = 0u64;
            while args.count.is_none_or(|n| seen < n) {
                let e = client.next_event().await?;
                if let Some(state) = &mut link_state {
                    match e {
                        Event::Connected { .. } => state.follow(true),
                        Event::Disconnected { .. } | Event::ConnectFailed { .. } => {
                            state.follow(false);
                        }
                        _ => {}
                    }
                }
                out.print(&output::event_line(&e), || output::event_json(&e))?;
                seen += 1;
            }
            client.close().await;
            Ok(())
        }
        Command::Agent(_) | Command::Radio(_) => Err(GuestError::Output(io::Error::other(
            "the agent is run by `agent::run`",
        ))),
    }
}

/// `events --follow-link`: the `--link` interface's operational state following the
/// association.
struct LinkState {
    iface: String,
    link: crate::carrier::Carrier,
}

impl LinkState {
    fn open(iface: &str) -> Result<Self, GuestError> {
        let index = crate::inband::interface_index(iface)?;
        let link =
            crate::carrier::Carrier::open(index).map_err(|source| GuestError::LinkState {
                name: iface.to_owned(),
                source,
            })?;
        Ok(Self {
            iface: iface.to_owned(),
            link,
        })
    }

    /// Marks the interface up (associated) or dormant; a failure is reported on stderr once
    /// per change and the events go on.
    fn follow(&mut self, associated: bool) {
        if let Err(e) = self.link.set_operstate(associated) {
            eprintln!(
                "vwifi-guest: cannot mark {} {} (needs CAP_NET_ADMIN): {e}",
                self.iface,
                if associated { "up" } else { "dormant" }
            );
        }
    }
}

fn parse_ssid(s: &str) -> Result<Ssid, GuestError> {
    Ssid::new(s.as_bytes()).map_err(GuestError::Ssid)
}

fn secret_source(args: SecretArgs) -> SecretSource {
    match (args.passphrase, args.passphrase_stdin, args.psk_file) {
        (Some(p), _, _) => SecretSource::Passphrase(Zeroizing::new(p)),
        (None, true, _) => SecretSource::Stdin,
        (None, false, Some(path)) => SecretSource::PskFile(path),
        (None, false, None) => SecretSource::None,
    }
}

async fn connect(
    target: &Target,
    args: ConnectArgs,
    stdin: &mut impl BufRead,
    out: &mut Printer<impl Write>,
) -> Result<(), GuestError> {
    // Everything the user gave is checked before reaching the host.
    let ssid = parse_ssid(&args.ssid)?;
    let credentials = secret_source(args.secret).resolve(stdin)?;
    let mut client = target.open().await?;
    out.progress(&format!("connecting to {ssid}…"))?;
    client.connect(ssid, args.bssid, credentials).await?;
    if args.no_wait {
        client.close().await;
        return out.print(
            &format!("the host is connecting to {ssid}; see `vwifi-guest status` or `vwifi-guest events`"),
            || json!({ "connecting": ssid.to_string() }),
        );
    }
    let after = Duration::from_secs(args.timeout);
    let outcome = tokio::time::timeout(after, async {
        loop {
            match client.next_event().await? {
                Event::Connected {
                    ssid,
                    bssid,
                    channel,
                } => return Ok((ssid, bssid, channel)),
                Event::ConnectFailed { reason } => {
                    return Err(GuestError::ConnectFailed { ssid, reason })
                }
                // Leaving the previous network, signal changes: the attempt goes on.
                other => tracing::debug!(event = ?other, "while connecting"),
            }
        }
    })
    .await;
    client.close().await;
    let (ssid, bssid, channel) = match outcome {
        Ok(r) => r?,
        Err(_) => {
            return Err(GuestError::Timeout {
                what: "the connection attempt did not end (see `vwifi-guest events`)",
                after,
            })
        }
    };
    out.print(&output::connected_line(&ssid, bssid, channel), || {
        json!({ "connected": { "ssid": ssid.to_string(), "bssid": bssid.to_string(), "channel": channel } })
    })
}
