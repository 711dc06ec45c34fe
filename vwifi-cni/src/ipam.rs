//! The chained IPAM plugin (`ipam.type`: `host-local`, `dhcp`, `static`...): found in
//! `CNI_PATH`, run with the same environment and the same network configuration on stdin, as
//! the CNI spec's "delegated plugin" protocol says.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{self, CniError};
use crate::result::CniResult;

/// Finds the plugin `kind` in the colon-separated `cni_path`.
pub fn find(kind: &str, cni_path: &str) -> Result<PathBuf, CniError> {
    cni_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(kind))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::new(
                error::INVALID_CONFIG,
                format!("the IPAM plugin {kind:?} is not in CNI_PATH ({cni_path})"),
            )
        })
}

/// Runs the IPAM plugin `plugin` for `command` (`ADD`, `DEL`, `CHECK`) with `config` on
/// stdin; its result for ADD (`None` for the others). Its own CNI error is passed on.
pub fn run(plugin: &Path, command: &str, config: &[u8]) -> Result<Option<CniResult>, CniError> {
    let io = |what: &str, e: std::io::Error| {
        CniError::new(
            error::IO_FAILURE,
            format!("the IPAM plugin {} {what}", plugin.display()),
        )
        .with_details(e.to_string())
    };
    let mut child = Command::new(plugin)
        .env("CNI_COMMAND", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io("could not be started", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits without reading its configuration closes the pipe first: its
        // exit status and output below say why, not our write's broken pipe.
        match stdin.write_all(config) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(io("did not take its configuration", e));
            }
            _ => {}
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| io("did not finish", e))?;
    if !out.status.success() {
        // Its error, as the spec prints it, if it printed one.
        let stated: Option<CniError> = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| {
                Some(
                    CniError::new(
                        u32::try_from(v["code"].as_u64()?).ok()?,
                        format!(
                            "the IPAM plugin {} failed: {}",
                            plugin.display(),
                            v["msg"].as_str().unwrap_or_default()
                        ),
                    )
                    .with_details(v["details"].as_str().unwrap_or_default()),
                )
            });
        return Err(stated.unwrap_or_else(|| {
            CniError::new(
                error::IO_FAILURE,
                format!(
                    "the IPAM plugin {} failed ({})",
                    plugin.display(),
                    out.status
                ),
            )
            .with_details(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }));
    }
    if command != "ADD" {
        return Ok(None);
    }
    serde_json::from_slice(&out.stdout).map(Some).map_err(|e| {
        CniError::new(
            error::DECODE,
            format!("the IPAM plugin {}'s result is not valid", plugin.display()),
        )
        .with_details(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// Held by each test that writes and runs scripts: a script being written while another
    /// test forks is "text file busy" when run (the fork holds its write descriptor).
    static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn the_plugin_is_found_in_cni_path_and_its_result_read() {
        let _one = SPAWNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            "fake-ipam",
            r#"cat > /dev/null; echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/24"}]}'"#,
        );
        let path = format!("/nonexistent:{}", dir.path().display());
        assert_eq!(find("fake-ipam", &path).unwrap(), p);
        assert_eq!(
            find("other", &path).unwrap_err().code,
            error::INVALID_CONFIG
        );
        let r = run(&p, "ADD", b"{}").unwrap().unwrap();
        assert_eq!(r.ips[0].address, "10.9.0.2/24");
        assert_eq!(run(&p, "DEL", b"{}").unwrap(), None);
    }

    #[test]
    fn the_plugins_own_error_is_passed_on() {
        let _one = SPAWNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            "bad-ipam",
            r#"cat > /dev/null; echo '{"cniVersion":"1.0.0","code":7,"msg":"no subnet"}'; exit 1"#,
        );
        let e = run(&p, "ADD", b"{}").unwrap_err();
        assert_eq!(e.code, 7);
        assert!(e.msg.contains("no subnet"), "{e}");
        let p = script(dir.path(), "crash", "echo oops >&2; exit 3");
        let e = run(&p, "ADD", b"{}").unwrap_err();
        assert_eq!(e.code, error::IO_FAILURE);
        assert!(e.details.contains("oops"), "{e}");
    }
}
