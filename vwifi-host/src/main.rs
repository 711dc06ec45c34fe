//! `vwifi-host`: the vwifi host daemon and CLI.
//!
//! Exit status: 0 on success; 1 when the command ran but failed (an invalid passphrase or
//! SSID, an I/O error); 2 when the command line could not be parsed (a missing, unknown or
//! conflicting argument), as clap reports it.
// Denied, not forbidden: the nl80211 radio's packet ring (`nl80211::packet_ring`, its FFI and
// the memory it shares with the kernel) is the one module allowed `unsafe`.
#![deny(unsafe_code)]

mod api;
mod cli;
mod clock;
mod command;
mod config;
mod control;
mod daemon;
mod driver;
mod error;
mod error_text;
mod federation;
#[cfg(test)]
mod fuzz;
mod gen;
mod hwsim;
mod lab;
mod nl80211;
mod notify;
mod outbox;
mod ports;
mod psk;
mod sae_thread;
mod sim_control;
mod state;
mod world;

use std::error::Error as _;
use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::error::HostError;

/// The exit status of a command that ran and failed.
const EXIT_FAILURE: u8 = 1;

/// mimalloc instead of glibc's malloc: the data plane allocates a frame on one thread and
/// frees it on another (see `Cargo.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // On a bad command line, clap prints the error and usage and exits with status 2.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Runs one subcommand.
fn run(cli: Cli) -> Result<(), HostError> {
    match cli.command {
        Command::Psk(args) => psk::run(args, &mut io::stdin().lock(), &mut io::stdout().lock()),
        Command::Run(args) => daemon::run(args),
        Command::Status(args) => daemon::status(args, &mut io::stdout().lock()),
        Command::Metrics(args) => daemon::metrics(args, &mut io::stdout().lock()),
        Command::Attach(args) => daemon::attach(args, &mut io::stdout().lock()),
        Command::Detach(args) => daemon::detach(args, &mut io::stdout().lock()),
        Command::VhostUser(args) => daemon::vhost_user(args, &mut io::stdout().lock()),
        Command::Gen(args) => gen::run(&args, &mut io::stdout().lock()),
        Command::Capture(args) => sim_control::client::capture(args),
        Command::Sim(args) => {
            sim_control::client::sim(args, &mut io::stdin().lock(), &mut io::stdout().lock())
        }
        Command::Join(args) => {
            daemon::join(args, &mut io::stdin().lock(), &mut io::stdout().lock())
        }
    }
}

/// Prints an error and its chain of causes on standard error, on one line.
fn report(e: &HostError) {
    let mut line = format!("vwifi-host: error: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    // Nothing more can be done if standard error is gone.
    let _ = writeln!(io::stderr().lock(), "{line}");
}
