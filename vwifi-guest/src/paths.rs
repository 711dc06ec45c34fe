//! Default socket paths.
//!
//! The host daemon listens on `host.sock` and a guest agent on `guest.sock`, both in the runtime
//! directory: `/run/vwifi` for root, else `$XDG_RUNTIME_DIR/vwifi` (or `/run/user/UID/vwifi`
//! when that is unset).

use std::path::{Path, PathBuf};

/// The environment variable that names the socket the CLI talks to, overriding the defaults.
pub const SOCKET_ENV: &str = "VWIFI_SOCKET";

/// The host daemon's socket file name.
pub const HOST_SOCKET_NAME: &str = "host.sock";

/// The agent's control socket file name.
pub const AGENT_SOCKET_NAME: &str = "guest.sock";

/// The runtime directory for a user with effective uid `uid` and `$XDG_RUNTIME_DIR` `xdg`.
pub fn runtime_dir(uid: u32, xdg: Option<&Path>) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/run/vwifi");
    }
    match xdg {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("vwifi"),
        _ => PathBuf::from(format!("/run/user/{uid}/vwifi")),
    }
}

/// The runtime directory of this process.
pub fn this_runtime_dir() -> PathBuf {
    let uid = rustix::process::geteuid().as_raw();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    runtime_dir(uid, xdg.as_deref())
}

/// The socket the CLI talks to when `--socket` and `--link` are not given: `$VWIFI_SOCKET`;
/// else an agent's `guest.sock` if one is there (an agent owns this guest's connection);
/// else the host's `host.sock`.
pub fn default_cli_socket(env: Option<PathBuf>, runtime_dir: &Path) -> PathBuf {
    if let Some(p) = env.filter(|p| !p.as_os_str().is_empty()) {
        return p;
    }
    let agent = runtime_dir.join(AGENT_SOCKET_NAME);
    if agent.exists() {
        agent
    } else {
        runtime_dir.join(HOST_SOCKET_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_uses_run_vwifi_and_users_their_runtime_dir() {
        assert_eq!(
            runtime_dir(0, Some(Path::new("/x"))),
            Path::new("/run/vwifi")
        );
        assert_eq!(
            runtime_dir(1000, Some(Path::new("/run/user/1000"))),
            Path::new("/run/user/1000/vwifi")
        );
        assert_eq!(runtime_dir(1000, None), Path::new("/run/user/1000/vwifi"));
    }

    #[test]
    fn env_overrides_then_agent_socket_then_host_socket() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            default_cli_socket(Some("/tmp/s".into()), dir.path()),
            Path::new("/tmp/s")
        );
        assert_eq!(
            default_cli_socket(None, dir.path()),
            dir.path().join("host.sock")
        );
        std::fs::write(dir.path().join("guest.sock"), b"").unwrap();
        assert_eq!(
            default_cli_socket(Some("".into()), dir.path()),
            dir.path().join("guest.sock")
        );
    }
}
