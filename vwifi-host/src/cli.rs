//! The command line.

use std::ffi::OsString;

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
}
