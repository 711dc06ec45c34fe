//! The error of the guest CLI and agent, and the exit status each one means.

use core::time::Duration;
use std::io;
use std::path::PathBuf;

use vwifi_core::crypto::CryptoError;
use vwifi_core::io::LinkError;
use vwifi_core::proto::{ConnectFailure, ErrorCode, ProtoError, Ssid};

use crate::output;

/// The exit status of a command that succeeded.
pub const EXIT_OK: u8 = 0;
/// The exit status of a command that ran and failed: the host refused it, or a connection
/// attempt failed (wrong passphrase, network not found, ...).
pub const EXIT_FAILED: u8 = 1;
/// The exit status of a bad command line or bad input (as clap reports parse errors): an invalid
/// passphrase, PSK file or SSID.
pub const EXIT_USAGE: u8 = 2;
/// The exit status when the host cannot be reached: no socket, no permission, no interface, the
/// link broke.
pub const EXIT_UNREACHABLE: u8 = 3;
/// The exit status when the host did not answer in time (or a connection attempt did not end
/// within `--timeout`).
pub const EXIT_TIMEOUT: u8 = 4;

/// Why a `vwifi-guest` command failed. `main` prints it with its chain of causes (or as JSON
/// with `--json`) and exits with [`GuestError::exit_code`]. No variant carries a passphrase or
/// key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// This kernel's hwsim radios cannot be relayed (`vwifi-guest radio`): the module is not
    /// loaded, another medium is registered, or the socket failed.
    #[error("cannot be the medium of this VM's mac80211_hwsim radio")]
    Radio(#[source] io::Error),
    /// The host's socket could not be connected to.
    #[error("cannot reach the vwifi host at {}: {hint}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The link to the host failed or was closed while waiting for an answer.
    #[error("the link to the vwifi host failed")]
    Link(#[source] LinkError),
    /// The host answered a request with an error.
    #[error("{}", output::host_error_text(*code, text.as_deref()))]
    Host {
        /// The host's error code.
        code: ErrorCode,
        /// The host's explanation, if it gave one.
        text: Option<String>,
    },
    /// The host answered with a message that is not a reply to the request.
    #[error("the host answered {request} with an unexpected {got}")]
    UnexpectedReply {
        /// The request's name.
        request: &'static str,
        /// The reply's message type.
        got: &'static str,
    },
    /// No reply (or no outcome of a connection attempt) arrived in time.
    #[error("no answer from the vwifi host within {} s: {what}", after.as_secs_f32())]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// How long.
        after: Duration,
    },
    /// The connection attempt failed; the message says why and what to do.
    #[error("{}", output::failure_text(ssid, *reason))]
    ConnectFailed {
        /// The network.
        ssid: Ssid,
        /// Why, as the host reported it.
        reason: ConnectFailure,
    },
    /// The passphrase is not a valid WPA2 passphrase (8 to 63 printable ASCII characters).
    #[error("invalid passphrase (a WPA2 passphrase has 8 to 63 printable ASCII characters)")]
    Passphrase(#[source] CryptoError),
    /// The SSID is not valid (over 32 bytes).
    #[error("invalid SSID")]
    Ssid(#[source] ProtoError),
    /// The PSK file could not be read.
    #[error("cannot read the PSK file {}", path.display())]
    ReadPskFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The PSK file holds no key line.
    #[error("the PSK file {} holds no key: put 64 hex digits (as `vwifi-host psk` prints them) or the passphrase on its first line", path.display())]
    EmptyPskFile {
        /// The file.
        path: PathBuf,
    },
    /// Standard input could not be read (`--passphrase-stdin`).
    #[error("cannot read the passphrase from standard input")]
    ReadStdin(#[source] io::Error),
    /// Standard input was empty (`--passphrase-stdin`).
    #[error("no passphrase on standard input (--passphrase-stdin reads its first line)")]
    EmptyStdin,
    /// No network interface has this name (`--link`).
    #[error("no network interface named '{name}' (see `ip link`)")]
    NoInterface {
        /// The name given.
        name: String,
    },
    /// The interface has no MAC address (`--link` needs an Ethernet interface).
    #[error("interface '{name}' has no MAC address: --link needs the guest's Ethernet NIC")]
    NoMac {
        /// The interface.
        name: String,
    },
    /// The packet socket on the interface could not be opened.
    #[error("cannot open a packet socket on '{name}'{}", raw_socket_hint(source))]
    RawSocket {
        /// The interface.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `events --follow-link` could not open route netlink for the interface.
    #[error("cannot follow the link state of '{name}' (route netlink)")]
    LinkState {
        /// The interface.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The agent's TAP device could not be created or configured.
    #[error("cannot set up the TAP device '{name}'{}", tap_hint(source))]
    Tap {
        /// The device name.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The agent's control socket could not be set up.
    #[error("cannot serve the control socket")]
    Listen(#[source] vwifi_transport_unix::Error),
    /// The result could not be written to standard output.
    #[error("cannot write to standard output")]
    Output(#[source] io::Error),
}

fn raw_socket_hint(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::PermissionDenied {
        ": in-band control needs CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep` the binary)"
    } else {
        ""
    }
}

fn tap_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            ": creating a TAP needs CAP_NET_ADMIN (run the agent as root)"
        }
        io::ErrorKind::NotFound => {
            ": /dev/net/tun is missing (load the tun module: `modprobe tun`)"
        }
        _ => "",
    }
}

impl GuestError {
    /// The exit status this error means (see the `EXIT_*` constants).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Connect { .. }
            | Self::Link(_)
            | Self::NoInterface { .. }
            | Self::NoMac { .. }
            | Self::RawSocket { .. } => EXIT_UNREACHABLE,
            Self::Timeout { .. } => EXIT_TIMEOUT,
            Self::Passphrase(_)
            | Self::Ssid(_)
            | Self::ReadPskFile { .. }
            | Self::EmptyPskFile { .. }
            | Self::ReadStdin(_)
            | Self::EmptyStdin => EXIT_USAGE,
            Self::Host { .. }
            | Self::UnexpectedReply { .. }
            | Self::ConnectFailed { .. }
            | Self::Tap { .. }
            | Self::LinkState { .. }
            | Self::Listen(_)
            | Self::Radio(_)
            | Self::Output(_) => EXIT_FAILED,
        }
    }

    /// A short stable name of the error, for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "unreachable",
            Self::Link(_) => "link_failed",
            Self::Host { .. } => "host_error",
            Self::UnexpectedReply { .. } => "unexpected_reply",
            Self::Timeout { .. } => "timeout",
            Self::ConnectFailed { reason, .. } => output::failure_kind(*reason),
            Self::Passphrase(_) => "invalid_passphrase",
            Self::Ssid(_) => "invalid_ssid",
            Self::ReadPskFile { .. } | Self::EmptyPskFile { .. } => "invalid_psk_file",
            Self::ReadStdin(_) | Self::EmptyStdin => "invalid_stdin",
            Self::NoInterface { .. } | Self::NoMac { .. } => "no_interface",
            Self::RawSocket { .. } => "raw_socket",
            Self::Tap { .. } => "tap",
            Self::LinkState { .. } => "link_state",
            Self::Listen(_) => "control_socket",
            Self::Radio(_) => "radio",
            Self::Output(_) => "output",
        }
    }

    /// The message and its chain of causes, on one line.
    pub fn chain(&self) -> String {
        use std::error::Error as _;
        let mut line = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            line.push_str(": ");
            line.push_str(&cause.to_string());
            source = cause.source();
        }
        line
    }
}

/// The hint for a failed connect to the host's socket.
pub(crate) fn connect_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => {
            "no vwifi host listens there; start `vwifi-host run`, or give --socket PATH (or VWIFI_SOCKET)"
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied; run as the host daemon's user or root, or ask for access to the socket"
        }
        io::ErrorKind::ConnectionRefused => {
            "nothing accepts on that socket (the host daemon stopped); start `vwifi-host run`"
        }
        _ => "check that `vwifi-host run` is running and the path is right",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_classes() {
        let connect = GuestError::Connect {
            path: "/x".into(),
            hint: "h",
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(connect.exit_code(), EXIT_UNREACHABLE);
        assert_eq!(
            GuestError::Timeout {
                what: "w",
                after: Duration::from_secs(1)
            }
            .exit_code(),
            EXIT_TIMEOUT
        );
        assert_eq!(GuestError::EmptyStdin.exit_code(), EXIT_USAGE);
        let failed = GuestError::ConnectFailed {
            ssid: Ssid::new(b"lab").unwrap(),
            reason: ConnectFailure::WrongPassphrase,
        };
        assert_eq!(failed.exit_code(), EXIT_FAILED);
        assert_eq!(failed.kind(), "wrong_passphrase");
    }

    #[test]
    fn connect_error_names_path_hint_and_cause() {
        let source = io::Error::from(io::ErrorKind::NotFound);
        let e = GuestError::Connect {
            path: "/run/vwifi/host.sock".into(),
            hint: connect_hint(&source),
            source,
        };
        let line = e.chain();
        assert!(line.starts_with("cannot reach the vwifi host at /run/vwifi/host.sock: no vwifi host listens there; start `vwifi-host run`"), "{line}");
    }

    #[test]
    fn raw_socket_error_says_which_capability_is_missing() {
        let e = GuestError::RawSocket {
            name: "eth0".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().contains("CAP_NET_RAW"), "{e}");
        assert_eq!(e.exit_code(), EXIT_UNREACHABLE);
    }
}
