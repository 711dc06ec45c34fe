//! `vhost-user-tap`: plays a VM's virtio-net NIC on a vhost-user-net socket and bridges it to
//! a TAP, so a VM's data path runs where no VM can (no nested virtualisation).
//!
//! ```text
//! vhost-user-tap --socket /run/vwifi/vm1.sock --mac 02:00:00:00:01:00 --tap vu0 --netns vm1
//! ```
//!
//! It connects as QEMU's `-netdev vhost-user` would (see
//! `vwifi_transport_virtio::frontend`), creates the TAP with the station's MAC (the one
//! `vwifi-host vhost-user` prints) in the network namespace, and moves frames both ways until
//! the backend hangs up. In the namespace, `vwifi-guest --link <tap>` then controls the
//! station in-band, as inside a VM.

use std::fs::File;
use std::os::fd::AsFd as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vwifi_core::MacAddr;
use vwifi_transport_virtio::frontend::{self, FrontendError, VhostUserNic};

/// Plays a VM's virtio-net NIC on a vhost-user-net socket and bridges it to a TAP.
#[derive(Debug, Parser)]
#[command(name = "vhost-user-tap", version)]
struct Args {
    /// The vhost-user-net backend's socket (`vwifi-host vhost-user --socket`).
    #[arg(long)]
    socket: PathBuf,
    /// The NIC's MAC: the station's (`vwifi-host vhost-user` prints it).
    #[arg(long)]
    mac: MacAddr,
    /// The TAP to create.
    #[arg(long, default_value = "vu0")]
    tap: String,
    /// Create the TAP in this network namespace (`ip netns` name, under /run/netns).
    #[arg(long)]
    netns: Option<String>,
}

/// Why `vhost-user-tap` stopped.
#[derive(Debug, thiserror::Error)]
enum TapError {
    /// The namespace could not be opened or entered.
    #[error("cannot enter the network namespace {name}: {source}")]
    Netns {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// The TAP could not be created or brought up.
    #[error("cannot create the TAP {name}: {source}")]
    Tap {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// The vhost-user session failed.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
}

fn enter_netns(name: &str) -> Result<(), TapError> {
    let error = |source| TapError::Netns {
        name: name.to_owned(),
        source,
    };
    if name.contains('/') || name.is_empty() || name.starts_with('.') {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a namespace name",
        )));
    }
    let ns = File::open(PathBuf::from("/run/netns").join(name)).map_err(error)?;
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| error(e.into()))
}

fn run(args: &Args) -> Result<(), TapError> {
    if let Some(name) = &args.netns {
        enter_netns(name)?;
    }
    let tap_error = |source| TapError::Tap {
        name: args.tap.clone(),
        source,
    };
    let tap = tun_rs::DeviceBuilder::new()
        .name(&args.tap)
        .layer(tun_rs::Layer::L2)
        .mac_addr(args.mac.0)
        .build_sync()
        .map_err(tap_error)?;
    tap.enabled(true).map_err(tap_error)?;
    let mut nic = VhostUserNic::connect(&args.socket, args.mac.0)?;
    println!(
        "vhost-user-tap: {} ({}) on {}{}",
        args.tap,
        MacAddr(nic.mac()),
        args.socket.display(),
        args.netns
            .as_ref()
            .map(|n| format!(" in netns {n}"))
            .unwrap_or_default()
    );
    let stats = frontend::bridge(&mut nic, &tap, |_| {})?;
    println!(
        "vhost-user-tap: the backend hung up; {} frames sent, {} received, {} dropped by the TAP",
        stats.to_backend, stats.from_backend, stats.tap_dropped
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("vhost-user-tap: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
