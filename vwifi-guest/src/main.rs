//! `vwifi-guest`: Wi-Fi for this VM or container (see `vwifi-guest --help`).
//!
//! Exit status: 0 success; 1 the operation failed; 2 usage error (clap's status for a bad
//! command line, and invalid passphrases, PSK files and SSIDs); 3 the host cannot be reached;
//! 4 timeout.
#![forbid(unsafe_code)]

use std::io::{self, Write as _};
use std::process::ExitCode;

use serde_json::json;
use vwifi_guest::agent::{self, AgentConfig, HostEndpoint};
use vwifi_guest::cli::{Cli, Command};
use vwifi_guest::run::{self as cmd, Printer};
use vwifi_guest::{paths, GuestError};

fn main() -> ExitCode {
    // On a bad command line, clap prints the error and usage and exits with status 2.
    let cli = Cli::parse_checked();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .init();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(io::stderr(), "vwifi-guest: error: cannot start: {e}");
            return ExitCode::from(vwifi_guest::error::EXIT_FAILED);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Agent(args) => {
                let host = cli.socket.unwrap_or_else(|| {
                    std::env::var_os(paths::SOCKET_ENV)
                        .map(std::path::PathBuf::from)
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or_else(|| paths::this_runtime_dir().join(paths::HOST_SOCKET_NAME))
                });
                let control = args
                    .control
                    .unwrap_or_else(|| paths::this_runtime_dir().join(paths::AGENT_SOCKET_NAME));
                // The agent must not talk to its own control socket.
                let host = if host == control {
                    paths::this_runtime_dir().join(paths::HOST_SOCKET_NAME)
                } else {
                    host
                };
                let host = match (args.serial, args.vsock) {
                    (Some(dev), _) => HostEndpoint::Serial(dev),
                    (None, Some((cid, port))) => HostEndpoint::Vsock { cid, port },
                    (None, None) => HostEndpoint::Socket(host),
                };
                agent::run(AgentConfig { host, control }, &args.tap).await
            }
            Command::Radio(args) => {
                let host = match (args.serial, args.vsock, cli.socket) {
                    (Some(dev), _, _) => HostEndpoint::Serial(dev),
                    (None, Some((cid, port)), _) => HostEndpoint::Vsock { cid, port },
                    (None, None, Some(path)) => HostEndpoint::Socket(path),
                    (None, None, None) => HostEndpoint::Socket(
                        paths::this_runtime_dir().join(vwifi_guest::radio::RADIO_SOCKET_NAME),
                    ),
                };
                vwifi_guest::radio::run(host).await
            }
            _ => {
                let mut out = Printer::new(io::stdout().lock(), json);
                cmd::run(cli, &mut io::stdin().lock(), &mut out).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints an error: one line with its causes on standard error, and with `--json` also a JSON
/// object on standard output.
fn report(e: &GuestError, json: bool) {
    let line = e.chain();
    if json {
        let value =
            json!({ "error": { "kind": e.kind(), "message": line, "exit_code": e.exit_code() } });
        let _ = writeln!(io::stdout().lock(), "{value}");
    }
    // Nothing more can be done if standard error is gone.
    let _ = writeln!(io::stderr().lock(), "vwifi-guest: error: {line}");
}
