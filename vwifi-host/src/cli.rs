//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Lets many VMs and containers share one Wi-Fi radio, each with a virtual station of its own.
#[derive(Debug, Parser)]
#[command(
    name = "vwifi-host",
    version,
    arg_required_else_help = true,
    after_help = "Exit status: 0 on success, 1 if the command failed (for example an invalid \
                  passphrase), 2 if the command line could not be parsed."
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Derive a WPA2 pre-shared key from a passphrase and an SSID, as wpa_passphrase does.
    #[command(
        long_about = "Derive a WPA2 pre-shared key from a passphrase and an SSID, as \
        wpa_passphrase does: PBKDF2-HMAC-SHA1, 4096 rounds, 256 bits (IEEE 802.11 Annex J.4).\n\n\
        Prints the key as 64 lowercase hex digits on one line, the value of wpa_passphrase's \
        `psk=` line; with --config, prints a wpa_supplicant network block instead (without \
        wpa_passphrase's commented-out plaintext passphrase).\n\n\
        The passphrase must be 8 to 63 printable ASCII characters; the SSID at most 32 bytes, \
        taken byte for byte as given (UTF-8 stays UTF-8). Unlike wpa_passphrase, which accepts \
        them, longer SSIDs and passphrases with non-ASCII characters are refused, as no WPA2 \
        network can use them.",
        after_help = "Examples:\n  \
            vwifi-host psk --ssid home --passphrase-stdin < passphrase.txt\n  \
            vwifi-host psk --ssid home --passphrase-stdin --config >> wpa_supplicant.conf\n\n\
            Exit status: 0 on success, 1 if the SSID or passphrase is invalid or an I/O error \
            occurred, 2 if the command line could not be parsed."
    )]
    Psk(PskArgs),
    /// Run the daemon: serve guests on a Unix socket, on the simulated radio.
    #[command(
        long_about = "Run the daemon: guests connect on a Unix socket (one connection = one \
        guest, with its own virtual station), and a control socket <socket>.ctl serves \
        `vwifi-host status` and `vwifi-host metrics`.\n\n\
        With no radio configured the simulated radio runs, with the networks of the config \
        file's [sim] section or the built-in demo networks (vwifi-open, open; vwifi-lab and \
        vwifi-office, WPA2). Needs neither root nor hardware.\n\n\
        SIGINT or SIGTERM stops it: guests are told they were disconnected (reason 3), their \
        stations deauthenticate, and it exits with status 0.",
        after_help = "Examples:\n  \
            vwifi-host run --socket /tmp/vwifi.sock\n  \
            vwifi-host run --print-default-config > host.toml\n  \
            RUST_LOG=debug vwifi-host run --config host.toml"
    )]
    Run(RunArgs),
    /// Show the guests and the radio of a running daemon.
    Status(StatusArgs),
    /// Print a running daemon's metrics in the Prometheus text format.
    Metrics(SocketArg),
    /// Give a network namespace (a container) a station: a TAP created inside it.
    #[command(
        long_about = "Ask the running daemon to give the network namespace NAME (as `ip netns` \
        names it, /var/run/netns/NAME) a virtual station: the daemon creates the TAP IFNAME \
        inside the namespace with the station's MAC, up. The interface carries the station's \
        data; control travels in-band (EtherType 0x88B5), so `vwifi-guest --link IFNAME` run \
        inside the namespace scans, connects and shows the status. The daemon must be root \
        (or hold CAP_SYS_ADMIN and CAP_NET_ADMIN). The TAP is DORMANT until the station is \
        associated and UP while it is. It survives a daemon restart (the restarted daemon \
        takes it up again and rejoins the network last joined) and lives until `vwifi-host \
        detach`.\n\nWith --native the namespace gets a Wi-Fi radio of its own instead: a \
        mac80211_hwsim radio (wiphy `vw-NAME`) created by the daemon, its wiphy moved into the \
        namespace and its station interface IFNAME created there, down. The container's own \
        tools drive it (`ip link set wlan0 up; iw dev wlan0 scan`, wpa_supplicant, iwd, \
        hostapd) and it is a node of vwifi's simulated air at --position. The daemon must run \
        with --hwsim; the radio dies with the daemon (a restarted daemon creates it again) \
        and on `vwifi-host detach`.",
        after_help = "Examples:\n  \
            ip netns add c1 && vwifi-host attach --netns c1\n  \
            ip netns exec c1 vwifi-guest --link wlan0 connect vwifi-lab --passphrase-stdin\n  \
            vwifi-host attach --pid \"$(docker inspect -f '{{.State.Pid}}' c2)\"\n  \
            vwifi-host attach --netns-path /run/netns/cni-1234\n  \
            vwifi-host attach --netns c3 --native --position 10,0   # its own wlan0 (run --hwsim)\n\n\
            A namespace given by --pid or --netns-path is followed: when its last process exits \
            (or its bind mount is removed) the station is removed within a second."
    )]
    Attach(AttachArgs),
    /// Remove the station of an attached network namespace, and its TAP.
    Detach(DetachArgs),
    /// Join a network from an attached namespace's station, from the host.
    #[command(
        long_about = "Ask the daemon to connect the station of an attached network namespace \
        to the network SSID, and wait until it is associated (exit 0) or failed (exit 1, with \
        the cause). The same as `vwifi-guest --link wlan0 connect` inside the namespace, for \
        containers that have no vwifi-guest (docker, CNI). The passphrase comes from stdin; \
        the daemon records the network, so a restarted daemon rejoins it.",
        after_help = "Example (docker):\n  \
            vwifi-host attach --pid \"$PID\" && vwifi-host join --pid \"$PID\" vwifi-lab --passphrase-stdin < lab.pass"
    )]
    Join(JoinArgs),
    /// Give a VM a station: a vhost-user-net device on a unix socket for its VMM.
    #[command(
        long_about = "Ask the running daemon to serve a VM's NIC as a vhost-user-net device on \
        the unix socket PATH, for the VM named NAME (default: PATH's file stem). The station's \
        MAC is printed: give it to the VMM. The NIC carries the station's data; control travels \
        in-band (EtherType 0x88B5), so `vwifi-guest --link eth0` inside the VM scans, connects \
        and shows the status. One socket serves one VM run: when the VMM disconnects the station \
        is removed.",
        after_help = "Example (QEMU; the VM's RAM must be shared memory):\n  \
            vwifi-host vhost-user --socket /run/vwifi/vm1.sock --name vm1\n  \
            qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \\\n    \
            -numa node,memdev=mem -chardev socket,id=vu,path=/run/vwifi/vm1.sock \\\n    \
            -netdev vhost-user,id=n0,chardev=vu -device virtio-net-pci,netdev=n0,mac=MAC"
    )]
    VhostUser(VhostUserArgs),
    /// Stream what is on a running daemon's simulated air as pcapng, live (tshark, Wireshark).
    #[command(
        long_about = "Stream every frame on the running daemon's simulated air as pcapng: \
        802.11 frames behind a radiotap header (channel, rate, MCS), one interface per channel \
        (ch1, ch6...), timestamped with the host's clock. What is on the air only: protected \
        frames stay encrypted, no key or passphrase is ever in it. The daemon never waits for \
        a slow reader: frames it cannot queue are lost, counted in the stream (pcapng \
        statistics, shown by Wireshark as dropped) and printed when the capture ends \
        (end of --count or --duration, Ctrl-C, the reader closing the pipe, the daemon \
        stopping).",
        after_help = "Examples:\n  \
            vwifi-host capture -w - | tshark -r -\n  \
            vwifi-host capture -w - | wireshark -k -i -\n  \
            vwifi-host capture -w lab.pcapng --channel 6 --duration 30"
    )]
    Capture(CaptureArgs),
    /// Look at and change the running daemon's simulated air: nodes, positions, links, APs.
    #[command(
        long_about = "Look at and change the running daemon's simulated air while guests run: \
        list the nodes (`sim nodes`), move one or send it along a path (`sim move`), add loss \
        between two nodes (`sim link`), add, remove, stop and start APs (`sim ap`). Nodes are \
        named ap1, ap2... (APs in configuration order), host (the radio of every guest's \
        station: moving it moves them all) and radio0... (kernel hwsim radios); a MAC address \
        or an SSID only one AP has names a node too. The same requests are JSON lines on the \
        control socket for test frameworks (README: Control socket).",
        after_help = "Examples:\n  \
            vwifi-host sim nodes\n  \
            vwifi-host sim move host 30 0\n  \
            vwifi-host sim move ap2 --path 0,0 --path 40,0 --speed 1.5\n  \
            vwifi-host sim link ap1 host --loss 0.3\n  \
            vwifi-host sim ap stop ap1"
    )]
    Sim(SimArgs),
    /// Write the man pages and shell completions (bash, zsh, fish) into a directory.
    #[command(
        long_about = "Write the man pages (DIR/man/man1/vwifi-host.1 and one per subcommand, \
        vwifi-host-attach.1...) and the shell completions (DIR/completions: vwifi-host.bash, \
        _vwifi-host for zsh, vwifi-host.fish), generated from this command line's own \
        definitions, for packaging.",
        after_help = "Example:\n  \
            vwifi-host gen --dir dist && MANPATH=dist/man man vwifi-host-attach"
    )]
    Gen(GenArgs),
}

/// The arguments of `gen`.
#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// The directory to write `man/` and `completions/` into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// The arguments of `capture`.
#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// Where to write the pcapng stream: a file, or - for standard output (not a terminal).
    #[arg(short = 'w', long = "write", value_name = "FILE", default_value = "-")]
    pub(crate) write: PathBuf,

    /// Only this channel's frames [default: every channel].
    #[arg(long, value_name = "N")]
    pub(crate) channel: Option<u8>,

    /// The band of --channel: 2.4, 5 or 6 (GHz) [default: 2.4 or 5, as the number tells; 6 GHz
    /// channel numbers repeat theirs, so `--channel 37 --band 6` for 6 GHz channel 37].
    #[arg(long, value_name = "GHZ", requires = "channel")]
    pub(crate) band: Option<String>,

    /// Stop after N frames.
    #[arg(short = 'c', long, value_name = "N")]
    pub(crate) count: Option<u64>,

    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) duration: Option<f64>,

    /// Where the daemon is.
    #[command(flatten)]
    pub(crate) socket: SocketArg,
}

/// The arguments of `sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// What to look at or change.
    #[command(subcommand)]
    pub(crate) command: SimCommand,

    /// The daemon's guest socket (its control socket is `<PATH>.ctl`) [default: as for run].
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) socket: Option<PathBuf>,
}

/// The `sim` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SimCommand {
    /// List the nodes on the air: name, kind, MAC, SSID, channel, position, state.
    Nodes {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a node to X Y (metres), or send it along --path at --speed.
    #[command(allow_negative_numbers = true)]
    Move {
        /// The node (ap1, host, radio0, a MAC address, or an SSID only one AP has).
        #[arg(value_name = "NODE")]
        node: String,
        /// Where to, east-west, metres.
        #[arg(value_name = "X", requires = "y", conflicts_with = "path")]
        x: Option<f64>,
        /// Where to, north-south, metres.
        #[arg(value_name = "Y")]
        y: Option<f64>,
        /// A waypoint X,Y to walk to, in order (repeat the option, or give several; a negative
        /// X as --path=-3,4).
        #[arg(long, value_name = "X,Y", num_args = 1.., value_parser = parse_point, required_unless_present = "x")]
        path: Vec<[f64; 2]>,
        /// The speed along the path, metres per second.
        #[arg(long, value_name = "MPS", default_value_t = 1.0, requires = "path")]
        speed: f64,
    },
    /// Add an extra loss probability between two nodes, both ways (or --clear it).
    Link {
        /// One node.
        #[arg(value_name = "A")]
        a: String,
        /// The other.
        #[arg(value_name = "B")]
        b: String,
        /// The probability (0 to 1) that a frame between them is lost, on top of the rest.
        #[arg(long, value_name = "P", required_unless_present = "clear")]
        loss: Option<f64>,
        /// Remove the extra loss.
        #[arg(long, conflicts_with = "loss")]
        clear: bool,
    },
    /// Add, remove, stop or start a simulated AP.
    #[command(subcommand)]
    Ap(SimApCommand),
}

/// The `sim ap` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SimApCommand {
    /// Put a new AP on the air.
    #[command(allow_negative_numbers = true)]
    Add {
        /// Its network name.
        #[arg(value_name = "SSID")]
        ssid: String,
        /// Its channel.
        #[arg(long, value_name = "N", default_value_t = 1)]
        channel: u8,
        /// The band of --channel: 2.4, 5 or 6 (GHz) [default: 2.4 or 5, as the number tells].
        /// A 6 GHz AP needs --standard ax.
        #[arg(long, value_name = "GHZ")]
        band: Option<String>,
        /// Its standard: g, n, ac (5 GHz) or ax [default: g].
        #[arg(long, value_name = "STD")]
        standard: Option<String>,
        /// Where, east-west, metres.
        #[arg(long, value_name = "X", default_value_t = 0.0)]
        x: f64,
        /// Where, north-south, metres.
        #[arg(long, value_name = "Y", default_value_t = 0.0)]
        y: f64,
        /// Its BSSID [default: 02:76:77:01:HH:LL from its index].
        #[arg(long, value_name = "BSSID")]
        bssid: Option<String>,
        /// Read a WPA2 passphrase from the first line of standard input (else: open).
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Take an AP off the air for good (its name is not reused).
    Remove {
        /// The AP.
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Silence an AP: no beacons, no answers; its stations lose it.
    Stop {
        /// The AP.
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Put a stopped AP back on the air, fresh (its stations join again).
    Start {
        /// The AP.
        #[arg(value_name = "NODE")]
        node: String,
    },
}

/// `X,Y` in metres.
fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?} is not X,Y"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{v:?} is not a number of metres"))
    };
    Ok([num(x)?, num(y)?])
}

/// The arguments of `vhost-user`.
#[derive(Debug, Args)]
pub(crate) struct VhostUserArgs {
    /// The unix socket the VMM connects to (replaced if it exists).
    #[arg(long = "socket", value_name = "PATH")]
    pub(crate) vhost_socket: PathBuf,

    /// The VM's name; its station's MAC derives from it [default: PATH's file stem].
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// The daemon's guest socket (its control socket is `<PATH>.ctl`) [default: as for run].
    #[arg(long, value_name = "PATH")]
    pub(crate) daemon_socket: Option<PathBuf>,
}

/// Which network namespace: exactly one of a name, a path, a process.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct NamespaceArg {
    /// The network namespace, as `ip netns` names it (/var/run/netns/NAME).
    #[arg(long, value_name = "NAME")]
    pub(crate) netns: Option<String>,

    /// The network namespace's file: /proc/PID/ns/net, or a bind mount of one (podman's and
    /// CNI's /run/netns/...).
    #[arg(long, value_name = "PATH")]
    pub(crate) netns_path: Option<PathBuf>,

    /// The network namespace of process PID (docker: `docker inspect -f '{{.State.Pid}}' NAME`).
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,
}

impl NamespaceArg {
    /// The name, the absolute path and the PID, as the control API takes them.
    pub(crate) fn parts(self) -> (Option<String>, Option<String>, Option<u32>) {
        let path = self.netns_path.map(|p| {
            std::path::absolute(&p)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        });
        (self.netns, path, self.pid)
    }
}

/// The arguments of `attach`.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Which network namespace.
    #[command(flatten)]
    pub(crate) ns: NamespaceArg,

    /// The interface to create inside it.
    #[arg(long, value_name = "IFNAME", default_value = "wlan0")]
    pub(crate) ifname: String,

    /// Give the namespace a Wi-Fi radio of its own (a mac80211_hwsim radio on vwifi's air)
    /// instead of a TAP: its own `iw`, wpa_supplicant, iwd or hostapd drive IFNAME. Needs a
    /// daemon run with --hwsim and the module loaded (`modprobe mac80211_hwsim radios=0`).
    #[arg(long)]
    pub(crate) native: bool,

    /// Where the native radio stands on the simulated floor, metres (default: beside the
    /// host's radio, as `[hwsim]` places radios).
    #[arg(long, value_name = "X,Y", requires = "native", value_parser = parse_position)]
    pub(crate) position: Option<[f64; 2]>,

    /// Where the daemon is.
    #[command(flatten)]
    pub(crate) socket: SocketArg,
}

/// `X,Y` in metres, both finite.
fn parse_position(text: &str) -> Result<[f64; 2], String> {
    let (x, y) = text
        .split_once(',')
        .ok_or_else(|| format!("{text:?}: give X,Y in metres, such as 4,2.5"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("{v:?} is not a finite number of metres"))
    };
    Ok([num(x)?, num(y)?])
}

/// The arguments of `join`.
#[derive(Debug, Args)]
pub(crate) struct JoinArgs {
    /// Which network namespace, as attached.
    #[command(flatten)]
    pub(crate) ns: NamespaceArg,

    /// The network to join.
    #[arg(value_name = "SSID")]
    pub(crate) ssid: String,

    /// Only this access point (aa:bb:cc:dd:ee:ff).
    #[arg(long, value_name = "BSSID")]
    pub(crate) bssid: Option<String>,

    /// Read the WPA2 passphrase from the first line of standard input (else: an open network).
    #[arg(long)]
    pub(crate) passphrase_stdin: bool,

    /// Where the daemon is.
    #[command(flatten)]
    pub(crate) socket: SocketArg,
}

/// The arguments of `detach`.
#[derive(Debug, Args)]
pub(crate) struct DetachArgs {
    /// Which network namespace, as attached.
    #[command(flatten)]
    pub(crate) ns: NamespaceArg,

    /// Where the daemon is.
    #[command(flatten)]
    pub(crate) socket: SocketArg,
}

/// The arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The configuration file (TOML; see --print-default-config).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The guests' socket [default: /run/vwifi/host.sock as root, else
    /// $XDG_RUNTIME_DIR/vwifi/host.sock]. Overrides the config file.
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,

    /// Print the default configuration (with the demo networks) and exit.
    #[arg(long)]
    pub(crate) print_default_config: bool,

    /// Also be the medium of the kernel's mac80211_hwsim radios (as `[hwsim]` in the config
    /// file): they share the simulated air with its networks and guests. Needs root.
    #[arg(long)]
    pub(crate) hwsim: bool,

    /// More logs: -v for debug, -vv for trace (overrides RUST_LOG and the config file).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// Where the daemon is.
#[derive(Debug, Args)]
pub(crate) struct SocketArg {
    /// The daemon's guest socket (its control socket is `<PATH>.ctl`) [default: as for run].
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,
}

/// The arguments of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub(crate) socket: SocketArg,

    /// Print the daemon's snapshot as JSON.
    #[arg(long, conflicts_with = "metrics")]
    pub(crate) json: bool,

    /// Print the metrics in the Prometheus text format (as `vwifi-host metrics`).
    #[arg(long)]
    pub(crate) metrics: bool,
}

/// The arguments of `psk`.
#[derive(Debug, Args)]
pub(crate) struct PskArgs {
    /// The network name (SSID), at most 32 bytes.
    #[arg(long, value_name = "SSID")]
    pub(crate) ssid: OsString,

    /// Where the passphrase comes from.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,

    /// Print a wpa_supplicant `network={...}` block instead of the bare key.
    #[arg(long)]
    pub(crate) config: bool,
}

/// The passphrase, on the command line or from standard input: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct PassphraseSource {
    /// The passphrase, 8 to 63 printable ASCII characters. Visible to other users in the
    /// process list (ps, /proc/PID/cmdline) and kept in shell history: prefer
    /// --passphrase-stdin.
    #[arg(long, value_name = "PASSPHRASE")]
    pub(crate) passphrase: Option<String>,

    /// Read the passphrase from the first line of standard input (without its line ending),
    /// so that it appears neither in the process list nor in shell history.
    #[arg(long)]
    pub(crate) passphrase_stdin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sim_move_takes_a_position_or_a_path_and_negative_numbers() {
        let cli = Cli::try_parse_from(["vwifi-host", "sim", "move", "ap1", "-5", "2.5"]).unwrap();
        let Command::Sim(SimArgs {
            command: SimCommand::Move { x, y, path, .. },
            ..
        }) = cli.command
        else {
            panic!("not sim move");
        };
        assert_eq!((x, y, path.len()), (Some(-5.0), Some(2.5), 0));
        let cli = Cli::try_parse_from([
            "vwifi-host",
            "sim",
            "move",
            "host",
            "--path",
            "1,2",
            "--path=-3,4",
            "--speed",
            "2",
        ])
        .unwrap();
        let Command::Sim(SimArgs {
            command: SimCommand::Move { path, speed, .. },
            ..
        }) = cli.command
        else {
            panic!("not sim move");
        };
        assert_eq!((path, speed), (vec![[1.0, 2.0], [-3.0, 4.0]], 2.0));
        assert!(Cli::try_parse_from(["vwifi-host", "sim", "move", "host"]).is_err());
        assert!(Cli::try_parse_from(["vwifi-host", "sim", "move", "host", "--path", "1"]).is_err());
        assert!(Cli::try_parse_from(["vwifi-host", "sim", "link", "a", "b"]).is_err());
        assert!(Cli::try_parse_from([
            "vwifi-host",
            "sim",
            "link",
            "a",
            "b",
            "--clear",
            "--loss",
            "1"
        ])
        .is_err());
    }
}
