//! `vwifi-host run`, `status` and `metrics`: set-up around the [driver](crate::driver).

use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, IsTerminal as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand_core::{OsRng, RngCore as _};
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::EnvFilter;
use vwifi_transport_unix::{ListenerConfig, PeerPolicy, UnixGuestListener};

use crate::cli::{AttachArgs, DetachArgs, JoinArgs, RunArgs, SocketArg, StatusArgs, VhostUserArgs};
use crate::clock::TokioClock;
use crate::config::{
    control_socket, default_config_text, default_state_dir, socket_or_default, HostConfig,
    RadioKind,
};
use crate::control::serve_control;
use crate::driver::{Driver, HostRadio};
use crate::error::HostError;
use crate::nl80211::Nl80211Radio;
use crate::ports::netns::attach as attach_netns;
use crate::ports::unix::accept_guests;
use crate::ports::uplink::{create_uplink_tap, serve_uplink_tap};
use crate::state::StateStore;
use crate::world::SimWorld;
use crate::{api, control};

/// Commands waiting for the driver (guest messages, admissions, control requests).
const COMMAND_QUEUE: usize = 1024;

/// How long guests' tasks get to write their last messages at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// `vwifi-host run`.
pub(crate) fn run(args: RunArgs) -> Result<(), HostError> {
    if args.print_default_config {
        return io::stdout()
            .lock()
            .write_all(default_config_text().as_bytes())
            .map_err(HostError::WriteStdout);
    }
    let cfg = match &args.config {
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|source| HostError::ReadConfig {
                path: path.clone(),
                source,
            })?;
            HostConfig::from_toml_str(&text).map_err(|source| HostError::Config {
                path: path.clone(),
                source,
            })?
        }
        None => HostConfig::default(),
    };
    let mut cfg = cfg;
    // A native attachment needs the daemon to be the medium of hwsim radios.
    if cfg.attach.iter().any(|a| a.native) && cfg.hwsim.is_none() {
        tracing::info!("[[attach]] native = true: vwifi is the medium of hwsim radios");
        cfg.hwsim = Some(crate::hwsim::HwsimSection::default());
    }
    if args.hwsim && cfg.hwsim.is_none() {
        cfg.hwsim = Some(crate::hwsim::HwsimSection::default());
    }
    init_logging(args.verbose, cfg.host.log.as_deref())?;
    let socket = socket_or_default(args.socket.or_else(|| cfg.host.socket.clone()));
    // As many workers as port threads: the driver's thread, two workers and two port threads
    // share the machine's cores (README, session 24).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::ports::threads::PORT_THREADS)
        .enable_all()
        .build()
        .map_err(HostError::Runtime)?;
    runtime.block_on(daemon(cfg, socket))
}

/// Logs to standard error: `-v`/`-vv` if given, else `RUST_LOG`, else the config's `log`,
/// else `info`.
fn init_logging(verbose: u8, configured: Option<&str>) -> Result<(), HostError> {
    let filter = match verbose {
        0 => match std::env::var("RUST_LOG") {
            Ok(v) if !v.is_empty() => EnvFilter::try_new(v),
            _ => EnvFilter::try_new(configured.unwrap_or("info")),
        },
        1 => EnvFilter::try_new("debug"),
        _ => EnvFilter::try_new("trace"),
    }
    .map_err(|e| HostError::Logging {
        reason: e.to_string(),
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init()
        .map_err(|e| HostError::Logging {
            reason: e.to_string(),
        })
}

/// Creates the socket's directory if missing (0755: the socket's own mode restricts access).
fn create_socket_dir(socket: &Path) -> Result<(), HostError> {
    let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|source| HostError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Binds the control socket. The guests' socket is bound first and refuses a path in use, so
/// a socket file left at `<socket>.ctl` is stale and replaced.
fn bind_control(path: &Path, mode: u32) -> Result<UnixListener, HostError> {
    let err = |source| HostError::ControlSocket {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            fs::remove_file(path).map_err(err)?;
        }
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(err)?;
    Ok(listener)
}

/// Removes the control socket when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

async fn daemon(cfg: HostConfig, socket: PathBuf) -> Result<(), HostError> {
    let (world, radio_kind, networks) = match cfg.radio.kind {
        RadioKind::Sim => {
            let sim = cfg.sim_config();
            let mut seed = [0u8; 32];
            OsRng.fill_bytes(&mut seed);
            let mut mux_cfg = cfg.mux_config();
            if let Some(hw) = &cfg.hwsim {
                // Real APs on kernel radios answer slower than the simulated ones.
                hw.apply_to(&mut mux_cfg);
            }
            let mut world = SimWorld::new(&sim, mux_cfg, seed).map_err(HostError::World)?;
            if let Some(worker) = crate::sae_thread::SaeThread::spawn() {
                world.set_sae_worker(worker);
            }
            let networks: Vec<String> = world
                .aps()
                .map(|ap| {
                    vwifi_core::proto::Ssid::new(ap.config().ssid.as_bytes())
                        .map(|s| format!("{s} (ch {})", ap.config().channel.number()))
                        .unwrap_or_default()
                })
                .collect();
            (Box::new(world) as Box<dyn HostRadio>, "sim", networks)
        }
        RadioKind::Nl80211 => {
            let radio = Nl80211Radio::open(&cfg.radio, cfg.mux.max_stations)
                .await
                .map_err(HostError::Nl80211)?;
            let card = format!("{} (#{})", radio.wiphy().name, radio.wiphy().index);
            (Box::new(radio) as Box<dyn HostRadio>, "nl80211", vec![card])
        }
    };
    let mut driver = Driver::new(world, TokioClock::start(), cfg.mux.link_queue);
    if let Some(fed) = &cfg.federation {
        let link = crate::federation::Federation::open(fed)
            .await
            .map_err(HostError::Federation)?;
        driver
            .with_federation(link)
            .map_err(HostError::Federation)?;
    }
    if let Some(hw) = cfg.hwsim.clone() {
        if cfg.radio.kind != RadioKind::Sim {
            return Err(HostError::Hwsim(crate::hwsim::HwsimError::NeedsSimRadio));
        }
        driver
            .start_hwsim(hw, cfg.sim_config().medium.tx_power_dbm)
            .await
            .map_err(HostError::Hwsim)?;
    }

    create_socket_dir(&socket)?;
    let mut peers = PeerPolicy::same_user();
    for &uid in &cfg.host.allow_uids {
        peers = peers.allow_uid(uid);
    }
    for &gid in &cfg.host.allow_gids {
        peers = peers.allow_gid(gid);
    }
    let listener = UnixGuestListener::bind(
        &socket,
        ListenerConfig {
            mode: cfg.host.socket_mode,
            peers: peers.clone(),
            ..ListenerConfig::default()
        },
    )
    .await
    .map_err(HostError::Listen)?;
    let ctl_path = control_socket(&socket);
    let ctl = bind_control(&ctl_path, cfg.host.socket_mode)?;
    let _ctl_guard = RemoveOnDrop(ctl_path.clone());

    let mut sigterm = signal(SignalKind::terminate()).map_err(HostError::Runtime)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(HostError::Runtime)?;

    let state_dir = cfg
        .host
        .state_dir
        .clone()
        .or_else(|| default_state_dir(rustix::process::geteuid().as_raw()));
    let mut state = state_dir.as_deref().map(StateStore::open).transpose()?;
    if let Some(state) = &mut state {
        forget_dead_paths(state);
    }
    // The configuration's namespaces, then those attached at run time before a restart.
    let mut attachments: Vec<(String, String, bool, Option<crate::state::Native>)> = cfg
        .attach
        .iter()
        .filter_map(|a| {
            let native = a.native.then_some(crate::state::Native {
                position: a.position,
            });
            Some((a.key().ok()?, a.ifname.clone(), true, native))
        })
        .collect();
    if let Some(state) = &state {
        for (netns, recorded) in state.attachments() {
            if !attachments.iter().any(|(n, _, _, _)| n == netns) {
                attachments.push((
                    netns.clone(),
                    recorded.ifname.clone(),
                    false,
                    recorded.native,
                ));
            }
        }
        tracing::info!(
            state_dir = %state_dir.as_deref().unwrap_or(Path::new("")).display(),
            recorded = state.attachments().len(),
            "state loaded"
        );
    }

    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (stop_tx, stop_rx) = watch::channel(false);
    driver = driver.with_state(state);
    if let Some(name) = &cfg.host.uplink_tap {
        if cfg.radio.kind != RadioKind::Sim {
            return Err(HostError::UplinkTap {
                name: name.clone(),
                source: io::Error::other(
                    "the uplink TAP bridges the simulated access points; a real radio has none \
                     (its guests reach the real APs' networks)",
                ),
            });
        }
        let tap = create_uplink_tap(name).map_err(|source| HostError::UplinkTap {
            name: name.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        driver = driver.with_wired(tx);
        tokio::spawn(serve_uplink_tap(tap, name.clone(), rx, cmd_tx.clone()));
        tracing::info!(tap = %name, "uplink TAP bridged to the access points");
    }
    if let Some(path) = cfg.hwsim.as_ref().and_then(|h| h.relay_socket.clone()) {
        create_socket_dir(&path)?;
        let relays = UnixGuestListener::bind(
            &path,
            ListenerConfig {
                mode: cfg.host.socket_mode,
                peers: peers.clone(),
                ..ListenerConfig::default()
            },
        )
        .await
        .map_err(HostError::Listen)?;
        tracing::info!(socket = %path.display(), "VMs may relay their own hwsim radios here");
        tokio::spawn(crate::ports::relay::serve_relays(
            relays,
            cmd_tx.clone(),
            stop_rx.clone(),
        ));
    }
    let acceptor = tokio::spawn(accept_guests(listener, cmd_tx.clone(), stop_rx.clone()));
    let control = tokio::spawn(serve_control(ctl, peers, cmd_tx.clone(), stop_rx.clone()));
    tracing::info!(
        socket = %socket.display(),
        control = %ctl_path.display(),
        radio = if cfg.hwsim.is_some() { "sim+hwsim" } else { radio_kind },
        networks = %networks.join(", "),
        "vwifi-host running"
    );
    let vms = cfg.vhost_user.clone();
    let stop = async move {
        // A namespace of the configuration that cannot be attached stops the daemon; one
        // recorded at run time is forgotten (its namespace was deleted while we were away).
        for (netns, ifname, configured, native) in attachments {
            if let Some(native) = native {
                match crate::ports::native::attach(&cmd_tx, netns.clone(), ifname, native.position)
                    .await
                {
                    Ok(_) => {}
                    Err(source) if configured => {
                        let _ = stop_tx.send(true);
                        return Err(HostError::AttachNative { netns, source });
                    }
                    Err(e) => {
                        tracing::warn!(%netns, error = %crate::error_text::error_chain(&e), "a recorded native attachment could not be restored: forgotten");
                    }
                }
                continue;
            }
            match attach_netns(&cmd_tx, netns.clone(), ifname).await {
                Ok(_) => {}
                Err(source) if configured => {
                    let _ = stop_tx.send(true);
                    return Err(HostError::Attach { netns, source });
                }
                Err(e) => {
                    tracing::warn!(%netns, error = %crate::error_text::error_chain(&e), "a recorded attachment could not be restored: forgotten");
                }
            }
        }
        for vm in vms {
            let socket = vm.socket.display().to_string();
            if let Err(source) = crate::ports::vhost_user::attach(&cmd_tx, vm.socket, vm.name).await
            {
                let _ = stop_tx.send(true);
                return Err(HostError::VhostUser { socket, source });
            }
        }
        drop(cmd_tx);
        // Serving: the sockets listen and the configured namespaces and VMs are attached.
        crate::notify::notify("READY=1");
        let signal_name = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        };
        tracing::info!(signal = signal_name, "shutting down");
        crate::notify::notify("STOPPING=1");
        let _ = stop_tx.send(true);
        Ok(())
    };
    // The driver runs on this thread, the control tasks and the socket guests on the
    // runtime's workers, the TAP and vhost-user ports on the port threads
    // (`ports::threads`).
    let (summary, attached) = tokio::join!(driver.run(cmd_rx, stop_rx), stop);
    let mut guests = acceptor.await.map_err(HostError::Task)?;
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while guests.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some guest links did not close in time");
        guests.abort_all();
    }
    control.await.map_err(HostError::Task)?;
    tracing::info!(
        guests_served = summary.guests_served,
        guests_disconnected = summary.guests_at_shutdown,
        tx_frames = summary.tx_frames,
        rx_frames = summary.rx_frames,
        uptime_s = summary.uptime.as_secs(),
        "vwifi-host stopped"
    );
    attached
}

/// Forgets the recorded namespaces attached by path that are gone: their process exited while
/// the daemon was away, or the path (a reused PID) is another namespace now.
fn forget_dead_paths(state: &mut StateStore) {
    let dead: Vec<String> = state
        .attachments()
        .iter()
        .filter(|(netns, recorded)| {
            crate::ports::nsfile::is_path(netns)
                && crate::ports::nsfile::NamespaceId::of(netns) != recorded.ns
        })
        .map(|(netns, _)| netns.clone())
        .collect();
    for netns in dead {
        tracing::warn!(%netns, "a namespace attached by path is gone (its process exited, or the path names another namespace now): forgotten");
        if let Err(e) = state.detached(&netns) {
            tracing::warn!(%netns, error = %e, "cannot forget the attachment");
        }
    }
}

/// `vwifi-host attach`.
pub(crate) fn attach(args: AttachArgs, out: &mut impl io::Write) -> Result<(), HostError> {
    let ctl = control_socket(&socket_or_default(args.socket.socket));
    let (netns, netns_path, pid) = args.ns.parts();
    let req = api::Request::Attach {
        netns,
        netns_path,
        pid,
        ifname: Some(args.ifname),
        native: args.native,
        position: args.position,
    };
    let text = match control::request(&ctl, &req)? {
        api::Response::Attached(a) => format!(
            "{} in network namespace {}: station {} (guest {})\n",
            a.ifname, a.netns, a.mac, a.guest
        ),
        api::Response::NativeAttached(a) => format!(
            "{} in network namespace {}: its own radio {} ({}), address {}, at ({}, {}); bring it up there: ip link set {} up\n",
            a.ifname, a.netns, a.wiphy, a.radio, a.mac, a.position[0], a.position[1], a.ifname
        ),
        other => format!("{other:?}\n"),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// `vwifi-host join`: the station of an attached namespace joins `SSID`; an error when it
/// could not (the cause in words).
pub(crate) fn join(
    args: JoinArgs,
    input: &mut impl io::BufRead,
    out: &mut impl io::Write,
) -> Result<(), HostError> {
    let ctl = control_socket(&socket_or_default(args.socket.socket));
    let passphrase = if args.passphrase_stdin {
        let line = crate::psk::read_first_line(input)?;
        Some(api::Secret(line.as_str().to_owned()))
    } else {
        None
    };
    let (netns, netns_path, pid) = args.ns.parts();
    let req = api::Request::Join {
        netns,
        netns_path,
        pid,
        ssid: args.ssid.clone(),
        bssid: args.bssid,
        passphrase,
        psk: None,
    };
    let text = match control::request(&ctl, &req)? {
        api::Response::Joined {
            netns,
            bssid,
            channel,
        } => format!(
            "{netns}: joined {} ({bssid}) on channel {channel}\n",
            args.ssid
        ),
        api::Response::JoinFailed { code, detail, .. } => {
            return Err(HostError::ControlRefused {
                message: format!("cannot join {}: {}", args.ssid, join_failure(code, detail)),
            })
        }
        other => format!("{other:?}\n"),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// A join failure's cause in words (`vwifi-guest connect` explains more).
fn join_failure(code: u8, detail: u16) -> String {
    use vwifi_core::proto::ConnectFailure as F;
    match F::from_code(code, detail) {
        Ok(F::NetworkNotFound) => "network not found".into(),
        Ok(F::WrongPassphrase) => "wrong passphrase".into(),
        Ok(F::ApUnreachable) => "access point unreachable".into(),
        Ok(F::HandshakeTimeout) => "handshake timeout".into(),
        Ok(F::AuthRejected { status }) => format!("authentication refused (status {status})"),
        Ok(F::AssocRejected { status }) => format!("association refused (status {status})"),
        _ => format!("failure code {code} (detail {detail})"),
    }
}

/// `vwifi-host vhost-user`.
pub(crate) fn vhost_user(args: VhostUserArgs, out: &mut impl io::Write) -> Result<(), HostError> {
    let ctl = control_socket(&socket_or_default(args.daemon_socket));
    let socket = std::path::absolute(&args.vhost_socket).unwrap_or(args.vhost_socket);
    let req = api::Request::VhostUser {
        socket: socket.display().to_string(),
        name: args.name,
    };
    let text = match control::request(&ctl, &req)? {
        api::Response::VhostUser(a) => format!(
            "vhost-user socket {} for VM {}: station {} (guest {})\n",
            a.socket, a.name, a.mac, a.guest
        ),
        other => format!("{other:?}\n"),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// `vwifi-host detach`.
pub(crate) fn detach(args: DetachArgs, out: &mut impl io::Write) -> Result<(), HostError> {
    let ctl = control_socket(&socket_or_default(args.socket.socket));
    let (netns, netns_path, pid) = args.ns.parts();
    let req = api::Request::Detach {
        netns,
        netns_path,
        pid,
    };
    let text = match control::request(&ctl, &req)? {
        api::Response::Detached { netns } => format!("network namespace {netns} detached\n"),
        other => format!("{other:?}\n"),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// `vwifi-host status`.
pub(crate) fn status(args: StatusArgs, out: &mut impl io::Write) -> Result<(), HostError> {
    let snap = control::query(&control_socket(&socket_or_default(args.socket.socket)))?;
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&snap).map_err(HostError::ControlJson)?;
        t.push('\n');
        t
    } else if args.metrics {
        control::format_metrics(&snap)
    } else {
        control::format_status(&snap)
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// `vwifi-host metrics`.
pub(crate) fn metrics(args: SocketArg, out: &mut impl io::Write) -> Result<(), HostError> {
    status(
        StatusArgs {
            socket: args,
            json: false,
            metrics: true,
        },
        out,
    )
}
