//! The error of the host binary.

use std::io;

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
    /// The result could not be written to standard output.
    #[error("could not write to standard output")]
    WriteStdout(#[source] io::Error),
}
