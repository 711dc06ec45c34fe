//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vwifi_core::addr::MacAddr;

/// Wi-Fi for this VM or container: scan, connect with your own credentials, see the link.
///
/// Talks to the vwifi host over a Unix socket (--socket; the host's, or a local agent's) or
/// in-band on this guest's own network interface (--link: messages in Ethernet frames of
/// EtherType 0x88B5, needs CAP_NET_RAW).
#[derive(Debug, Parser)]
#[command(
    name = "vwifi-guest",
    version,
    arg_required_else_help = true,
    after_help = concat!(
        "Without --socket or --link: $VWIFI_SOCKET, else the agent's guest.sock if one runs, else ",
        "the host's host.sock, in /run/vwifi (root) or $XDG_RUNTIME_DIR/vwifi.\n\n",
        "A connection over a Unix socket is one guest for the host: a station lives as long as ",
        "the connection. Inside a container or VM that reaches the host over a stream, run ",
        "`vwifi-guest agent` once (it keeps the connection, owns the TAP, and serves this CLI on ",
        "guest.sock); over --link the station belongs to the interface and outlives the command.\n\n",
        "Exit status:\n  0  success\n  1  the operation failed (the host refused it, or the ",
        "connection attempt failed)\n  2  usage error (bad arguments, an invalid passphrase or PSK ",
        "file)\n  3  cannot reach the vwifi host (no socket, no permission, no interface, link lost)\n  ",
        "4  timeout (no answer, or no outcome of `connect` within --timeout)"
    )
)]
pub struct Cli {
    /// The Unix socket of the vwifi host or of a local agent.
    #[arg(long, value_name = "PATH", global = true)]
    pub socket: Option<PathBuf>,

    /// Talk to the host in-band on this network interface (EtherType 0x88B5; needs CAP_NET_RAW).
    #[arg(long, value_name = "IFACE", global = true)]
    pub link: Option<String>,

    /// Print JSON for scripts (one object per line) instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments; on a bad command line, prints the error and usage and
    /// exits with status 2 (as clap does).
    pub fn parse_checked() -> Self {
        use clap::Parser as _;
        let cli = Self::parse();
        if let Err(e) = cli.check() {
            e.exit();
        }
        cli
    }

    /// The checks clap cannot make on global options: `--socket` and `--link` exclude each
    /// other (wherever they stand), and the agent reaches the host one way only: a socket, a
    /// serial port or vsock, never `--link`.
    pub fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory as _;
        let conflict =
            |msg: &str| Err(Self::command().error(clap::error::ErrorKind::ArgumentConflict, msg));
        if self.socket.is_some() && self.link.is_some() {
            return conflict(
                "--socket and --link cannot be used together: pick one way to reach the host",
            );
        }
        if matches!(&self.command, Command::Events(e) if e.follow_link) && self.link.is_none() {
            return conflict("--follow-link marks the --link interface: give --link IFACE");
        }
        if let Command::Agent(a) = &self.command {
            if self.link.is_some() {
                return conflict("the agent reaches the host over --socket, --serial or --vsock; over --link the host serves the NIC directly and no agent is needed");
            }
            if self.socket.is_some() && (a.serial.is_some() || a.vsock.is_some()) {
                return conflict(
                    "--socket cannot be used with --serial or --vsock: pick one way to reach the host",
                );
            }
        }
        Ok(())
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan for networks and print them, strongest first.
    Scan(ScanArgs),
    /// Join a network with its passphrase or PSK (none for an open network).
    #[command(after_help = "Examples:\n  \
        vwifi-guest connect lab --passphrase-stdin < lab.pass\n  \
        vwifi-guest connect lab --psk-file /etc/vwifi/lab.psk\n  \
        vwifi-guest connect cafe                      (an open network)")]
    Connect(ConnectArgs),
    /// Leave the network (or stop trying to join one).
    Disconnect,
    /// Print the station's state, network, signal, rate and counters.
    Status,
    /// Print events (connected, disconnected, failures, signal changes, roams between the
    /// access points of one network) as they come.
    Events(EventsArgs),
    /// Run the agent: keep one connection to the host, relay this guest's data through its own
    /// TAP device, and serve the CLI on a local socket.
    #[command(
        long_about = "Run the agent, for a container or VM that reaches the host over a \
        stream: the host daemon's Unix socket (--socket, default as for the other commands), a \
        VM's virtio-serial port (--serial /dev/virtio-ports/NAME, whose other end the VMM \
        connects to the daemon's socket), or vsock (--vsock host:PORT, forwarded by the VMM to \
        the daemon's socket).\n\n\
        The agent connects to the host once (one connection = one guest), creates the TAP \
        device --tap with the station's MAC address, relays Ethernet frames between the TAP and \
        the host, and serves the CLI on --control (default guest.sock in the runtime directory), \
        forwarding its requests over the one host connection and every event to every client.\n\n\
        Needs CAP_NET_ADMIN (root) for the TAP. The TAP's carrier follows the association: \
        off until the station is connected, on while it is. Stops on SIGINT/SIGTERM. When the host goes away (a daemon restart) the agent keeps \
        its TAP, reconnects with backoff and joins the network of the last `connect` again \
        (kept in memory until `disconnect`)."
    )]
    Agent(AgentArgs),
    /// Relay this VM's own mac80211_hwsim radio to the host's simulated air.
    #[command(
        long_about = "Be the medium of this VM's own mac80211_hwsim radio(s) (`modprobe \
        mac80211_hwsim radios=1`) and relay every frame and transmit report to the vwifi host, \
        which puts the radio on its simulated air beside its access points and other guests. \
        The VM's own wpa_supplicant, iwd, hostapd and `iw` then drive a real wlan0.\n\n\
        The host end is the daemon's radio socket ([hwsim] relay_socket), reached over a \
        virtio-serial port (--serial DEV), vsock (--vsock CID:PORT) or a Unix socket \
        (--socket PATH). Needs root (CAP_NET_ADMIN). Stops on SIGINT/SIGTERM; the kernel's \
        own medium takes the radio back then.",
        after_help = "Example:\n  modprobe mac80211_hwsim radios=1 && vwifi-guest radio --serial /dev/virtio-ports/vwifi-radio"
    )]
    Radio(RadioArgs),
}

/// The arguments of `radio`.
#[derive(Debug, Args)]
pub struct RadioArgs {
    /// Reach the host over this virtio-serial port (the VMM connects its other end to the
    /// daemon's radio socket).
    #[arg(long, value_name = "DEV", conflicts_with = "vsock")]
    pub serial: Option<PathBuf>,
    /// Reach the host over vsock, CID:PORT (forwarded by the VMM to the daemon's radio socket).
    #[arg(long, value_name = "CID:PORT", value_parser = parse_vsock)]
    pub vsock: Option<(u32, u32)>,
}

/// The arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Only this network (and, in an active scan, probe for it: finds hidden networks).
    #[arg(long, value_name = "SSID")]
    pub ssid: Option<String>,
    /// Only listen for beacons; send no probe requests.
    #[arg(long)]
    pub passive: bool,
}

/// The arguments of `connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The network name (SSID), at most 32 bytes.
    #[arg(value_name = "SSID")]
    pub ssid: String,
    /// Only this access point of the network.
    #[arg(long, value_name = "BSSID")]
    pub bssid: Option<MacAddr>,
    /// The secret.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Return once the host accepted the request; do not wait for the outcome.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the outcome, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// Where the secret comes from: at most one of these; none for an open network.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct SecretArgs {
    /// The passphrase (8 to 63 printable ASCII characters). Visible to other users in the
    /// process list and kept in shell history: prefer --passphrase-stdin or --psk-file.
    #[arg(long, value_name = "PASSPHRASE")]
    pub passphrase: Option<String>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
    /// Read the key from a file: 64 hex digits (a PSK, as `vwifi-host psk` prints it) or the
    /// passphrase, on the first line that is not empty or a # comment.
    #[arg(long, value_name = "FILE")]
    pub psk_file: Option<PathBuf>,
}

/// The arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Stop after this many events (default: run until interrupted or the host goes away).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// With --link: while running, mark that interface `dormant` when the station is not
    /// associated and `up` while it is (`ip link`: state DORMANT/UP), keeping its carrier so
    /// in-band control still works: for a VM's virtio NIC, whose carrier the VMM keeps up.
    /// Needs CAP_NET_ADMIN.
    #[arg(long)]
    pub follow_link: bool,
}

/// The arguments of `agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Reach the host over this virtio-serial port (for example
    /// /dev/virtio-ports/vwifi) instead of a Unix socket: the VMM connects the port's other
    /// end to the host daemon's socket.
    #[arg(long, value_name = "DEV", conflicts_with = "vsock")]
    pub serial: Option<PathBuf>,
    /// Reach the host over vsock, CID:PORT (`host:5000` for the host, context 2) instead of a
    /// Unix socket: the VMM's vsock device forwards the port to the host daemon's socket.
    #[arg(long, value_name = "CID:PORT", value_parser = parse_vsock)]
    pub vsock: Option<(u32, u32)>,
    /// The name of the TAP device to create.
    #[arg(long, value_name = "NAME", default_value = "vwifi0")]
    pub tap: String,
    /// The local socket the CLI talks to (default: guest.sock in the runtime directory).
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
}

/// Parses `--vsock CID:PORT`.
fn parse_vsock(text: &str) -> Result<(u32, u32), String> {
    vwifi_transport_unix::parse_vsock_addr(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("vwifi-guest").chain(args.iter().copied()))?;
        cli.check()?;
        Ok(cli)
    }

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connect_takes_one_secret_source_at_most() {
        let cli = parse(&["connect", "lab", "--passphrase-stdin", "--json"]).unwrap();
        let Command::Connect(c) = cli.command else {
            panic!("not connect")
        };
        assert!(cli.json && c.secret.passphrase_stdin && c.secret.psk_file.is_none());
        assert_eq!(c.timeout, 30);
        let e = parse(&["connect", "lab", "--passphrase", "x", "--psk-file", "f"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["connect", "open-net"]).is_ok());
    }

    #[test]
    fn the_agent_reaches_the_host_one_way() {
        let cli = parse(&["agent", "--serial", "/dev/virtio-ports/vwifi"]).unwrap();
        let Command::Agent(a) = cli.command else {
            panic!("not agent")
        };
        assert_eq!(
            a.serial.as_deref(),
            Some(std::path::Path::new("/dev/virtio-ports/vwifi"))
        );
        let cli = parse(&["agent", "--vsock", "host:5000"]).unwrap();
        let Command::Agent(a) = cli.command else {
            panic!("not agent")
        };
        assert_eq!(a.vsock, Some((2, 5000)));
        for args in [
            &["agent", "--serial", "/dev/x", "--vsock", "2:1"][..],
            &["--socket", "/s", "agent", "--serial", "/dev/x"],
            &["agent", "--vsock", "2:1", "--socket", "/s"],
            &["--link", "eth0", "agent"],
        ] {
            assert!(parse(args).is_err(), "{args:?} must be refused");
        }
        let e = parse(&["agent", "--vsock", "5000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CID:PORT"), "{e}");
    }

    #[test]
    fn socket_and_link_exclude_each_other_in_any_position() {
        let e = parse(&["--link", "eth0", "status", "--socket", "/s"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let e = parse(&["--socket", "/s", "status", "--link", "eth0"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let e = parse(&["--link", "eth0", "agent"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let cli = parse(&["status", "--socket", "/s"]).unwrap();
        assert_eq!(cli.socket.as_deref(), Some(std::path::Path::new("/s")));
    }

    #[test]
    fn bssid_and_timeout_are_validated() {
        assert!(parse(&["connect", "lab", "--bssid", "02:00:00:00:00:01"]).is_ok());
        assert!(parse(&["connect", "lab", "--bssid", "nope"]).is_err());
        assert!(parse(&["connect", "lab", "--timeout", "0"]).is_err());
    }

    #[test]
    fn help_documents_the_exit_statuses() {
        let help = Cli::command().render_long_help().to_string();
        for line in [
            "0  success",
            "1  the operation failed",
            "2  usage error",
            "3  cannot reach the vwifi host",
            "4  timeout",
        ] {
            assert!(help.contains(line), "{line} missing from {help}");
        }
    }
}
