//! The error of the host binary.

use std::io;
use std::path::PathBuf;

use vwifi_core::crypto::CryptoError;

/// Why a `vwifi-host` command failed. `main` prints it with its chain of causes and exits
/// with status 1. No variant carries a passphrase or key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    /// The passphrase is not a valid WPA2 passphrase.
    #[error("invalid passphrase")]
    Passphrase(#[source] CryptoError),
    /// The SSID is longer than 32 bytes.
    #[error("invalid SSID: {len} bytes long, the limit is {max}")]
    SsidTooLong {
        /// The SSID's length in bytes.
        len: usize,
        /// The limit, 32 bytes.
        max: usize,
    },
    /// The PSK could not be derived (a check the core makes beyond ours).
    #[error("could not derive the PSK")]
    Derive(#[source] CryptoError),
    /// `--passphrase-stdin` was given and standard input could not be read.
    #[error("could not read the passphrase from standard input")]
    ReadStdin(#[source] io::Error),
    /// `--passphrase-stdin` was given and standard input was empty.
    #[error("no passphrase on standard input (--passphrase-stdin reads its first line)")]
    EmptyStdin,
    /// `gen` could not write a file.
    #[error("cannot write {}", path.display())]
    Gen {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The result could not be written to standard output.
    #[error("could not write to standard output")]
    WriteStdout(#[source] io::Error),
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The configuration file is invalid.
    #[error("invalid configuration file {}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the field).
        #[source]
        source: crate::config::ConfigFileError,
    },
    /// The simulated radio could not be built.
    #[error("cannot start the simulated radio")]
    World(#[source] crate::world::WorldError),
    /// The nl80211 radio could not be started.
    #[error("cannot start the nl80211 radio")]
    Nl80211(#[source] crate::nl80211::Nl80211Error),
    /// The directory of the sockets could not be created.
    #[error("cannot create the directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The guests' socket could not be set up.
    #[error("cannot listen for guests")]
    Listen(#[source] vwifi_transport_unix::Error),
    /// The control socket could not be set up.
    #[error("cannot set up the control socket {}", path.display())]
    ControlSocket {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The async runtime or the signal handlers could not be set up.
    #[error("cannot start the runtime")]
    Runtime(#[source] io::Error),
    /// The logger could not be set up.
    #[error("cannot set up logging: {reason}")]
    Logging {
        /// What tracing-subscriber said.
        reason: String,
    },
    /// A daemon task failed (a bug).
    #[error("a daemon task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The daemon's control socket could not be reached.
    #[error("cannot talk to the daemon at {} (is `vwifi-host run` running?)", path.display())]
    Control {
        /// The control socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The daemon's answer was not understood.
    #[error("the daemon's answer is not valid")]
    ControlJson(#[source] serde_json::Error),
    /// A namespace of the configuration's `[[attach]]` could not be attached.
    #[error("cannot attach the network namespace {netns:?} of the configuration")]
    Attach {
        /// The namespace.
        netns: String,
        /// Why.
        #[source]
        source: crate::ports::netns::AttachError,
    },
    /// A native namespace of the configuration (`native = true`) could not be attached.
    #[error("cannot give the network namespace {netns:?} of the configuration its radio")]
    AttachNative {
        /// The namespace.
        netns: String,
        /// Why.
        #[source]
        source: crate::ports::native::NativeError,
    },
    /// The state directory could not be used.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The uplink TAP could not be created.
    #[error("cannot create the uplink TAP {name:?} ([host] uplink_tap; needs root)")]
    UplinkTap {
        /// Its name.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A VM of the configuration's `[[vhost_user]]` could not be served.
    #[error("cannot serve the vhost-user socket {socket} of the configuration")]
    VhostUser {
        /// The socket path.
        socket: String,
        /// Why.
        #[source]
        source: crate::ports::vhost_user::VhostUserError,
    },
    /// The hwsim radio could not start.
    #[error("cannot be the medium of the kernel's hwsim radios")]
    Hwsim(#[source] crate::hwsim::HwsimError),
    /// `capture -w -` on a terminal.
    #[error("refusing to write a binary capture to a terminal: give -w FILE, or pipe it (vwifi-host capture -w - | tshark -r -)")]
    CaptureToTerminal,
    /// The capture could not be written.
    #[error("cannot write the capture to {}", path.display())]
    CaptureWrite {
        /// The file (- for standard output).
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The daemon's capture stream is not pcapng.
    #[error("the daemon's capture stream is not valid pcapng")]
    CaptureStream(#[source] vwifi_core::wire::ParseError),
    /// The federated air could not be joined.
    #[error("cannot join the federated air")]
    Federation(#[source] crate::federation::FederationError),
    /// The daemon refused the request.
    #[error("the daemon refused: {message}")]
    ControlRefused {
        /// Its reason.
        message: String,
    },
}
