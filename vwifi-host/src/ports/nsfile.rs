//! Which network namespace an attachment names, and whether it still lives.
//!
//! An attachment's key (`netns` in the control API, the state file and `[[attach]]`) is either
//! - a name as `ip netns` gives it (no `/`): the file `/var/run/netns/NAME`; or
//! - an absolute path to any namespace file: `/proc/PID/ns/net` (what `--pid PID` becomes), or
//!   a bind mount such as the ones podman and CNI runtimes leave under `/run/netns/`.
//!
//! # When a namespace dies
//! The daemon's TAP descriptor keeps the namespace object alive, so "the namespace is gone"
//! means: nothing but the daemon uses it any more. A [`Watch`] follows one file that stands for
//! the namespace and is checked every [`NAMESPACE_CHECK`](super::netns::NAMESPACE_CHECK):
//! - a name or a bind mount: the file must still be that namespace (same device and inode;
//!   `ip netns del`, `umount` or a new namespace under the same name end it);
//! - `/proc/PID/ns/net`: when PID exits, the daemon looks for another process still in the
//!   namespace (one pass over `/proc/*/ns/net`, only then) and follows it instead; when there is
//!   none the last process has exited and the namespace is gone.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::netns::NETNS_DIR;

/// The longest namespace path accepted (PATH_MAX).
const MAX_PATH_LEN: usize = 4096;

/// Which namespace a namespace file is: its device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NamespaceId {
    dev: u64,
    ino: u64,
}

impl NamespaceId {
    /// The namespace the file at `path` is now, if it exists.
    pub(crate) fn at(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|m| Self::from_meta(&m))
    }

    /// The namespace an attachment's key names now, if it exists.
    pub(crate) fn of(key: &str) -> Option<Self> {
        Self::at(&path_of(key))
    }

    /// The identity in `meta`.
    pub(crate) fn from_meta(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The inode number (what `ls -iL /proc/PID/ns/net` shows).
    pub(crate) fn ino(self) -> u64 {
        self.ino
    }

    /// The device number.
    pub(crate) fn dev(self) -> u64 {
        self.dev
    }

    /// Rebuilds an identity recorded as `(dev, ino)`.
    pub(crate) fn from_parts(dev: u64, ino: u64) -> Self {
        Self { dev, ino }
    }
}

/// Whether `key` names a namespace by path (rather than by `ip netns` name).
pub(crate) fn is_path(key: &str) -> bool {
    key.starts_with('/')
}

/// The file of the namespace `key` names.
pub(crate) fn path_of(key: &str) -> PathBuf {
    if is_path(key) {
        PathBuf::from(key)
    } else {
        Path::new(NETNS_DIR).join(key)
    }
}

/// The key of the namespace of process `pid`: its `/proc/PID/ns/net`.
pub(crate) fn pid_key(pid: u32) -> String {
    format!("/proc/{pid}/ns/net")
}

/// The key of the one namespace named by `netns` (an `ip netns` name), `path` (an absolute
/// namespace path) or `pid` (a process's namespace).
pub(crate) fn key(
    netns: Option<String>,
    path: Option<String>,
    pid: Option<u32>,
) -> Result<String, super::netns::NetnsError> {
    let key = match (netns, path, pid) {
        (Some(name), None, None) => {
            if is_path(&name) {
                return Err(super::netns::NetnsError::InvalidName {
                    what: "namespace name",
                    name,
                    reason: "a path: give it as the namespace path",
                });
            }
            name
        }
        (None, Some(path), None) => {
            if !is_path(&path) {
                return Err(super::netns::NetnsError::InvalidName {
                    what: "namespace path",
                    name: path,
                    reason: "not an absolute path",
                });
            }
            path
        }
        (None, None, Some(pid)) if pid > 0 => pid_key(pid),
        (None, None, Some(_)) => return Err(super::netns::NetnsError::Which),
        _ => return Err(super::netns::NetnsError::Which),
    };
    super::netns::check_netns_name(&key)?;
    Ok(key)
}

/// The process a `/proc/PID/ns/net` path names, if it is one.
pub(crate) fn pid_of(path: &Path) -> Option<u32> {
    let rest = path.to_str()?.strip_prefix("/proc/")?;
    let pid = rest.strip_suffix("/ns/net")?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// What is wrong with a namespace path, if anything (it must be absolute, normalised, without
/// NUL, at most [`MAX_PATH_LEN`] bytes).
pub(crate) fn path_problem(key: &str) -> Option<&'static str> {
    if !is_path(key) {
        Some("not an absolute path")
    } else if key.len() > MAX_PATH_LEN {
        Some("longer than 4096 bytes")
    } else if key.contains('\0') {
        Some("contains NUL")
    } else if key
        .split('/')
        .skip(1)
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        Some("not a normalised path (empty, '.' or '..' component)")
    } else {
        None
    }
}

/// Follows the namespace of one attachment (see the [module documentation](self)).
#[derive(Debug)]
pub(crate) struct Watch {
    /// The namespace.
    id: NamespaceId,
    /// The file checked: the attachment's file, or a process's `/proc/PID/ns/net` since the
    /// first process left.
    file: PathBuf,
}

impl Watch {
    /// Follows namespace `id` through the file of `key`.
    pub(crate) fn new(key: &str, id: NamespaceId) -> Self {
        Self {
            id,
            file: path_of(key),
        }
    }

    /// Whether the namespace still lives (switching to another process of it when the one
    /// followed has exited); blocks on `/proc` only when a process followed has exited.
    pub(crate) fn alive(&mut self) -> bool {
        if NamespaceId::at(&self.file) == Some(self.id) {
            return true;
        }
        if pid_of(&self.file).is_none() {
            return false;
        }
        match process_in(self.id, Path::new("/proc")) {
            Some(pid) => {
                tracing::debug!(from = %self.file.display(), to = pid, "namespace followed through another process");
                self.file = PathBuf::from(pid_key(pid));
                true
            }
            None => false,
        }
    }
}

/// A process (other than the daemon) in namespace `id`, looked up under `proc`.
fn process_in(id: NamespaceId, proc: &Path) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir(proc)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .find(|&pid| NamespaceId::at(&proc.join(format!("{pid}/ns/net"))) == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_files() {
        assert_eq!(path_of("c1"), PathBuf::from("/var/run/netns/c1"));
        assert_eq!(
            path_of("/run/netns/cni-1"),
            PathBuf::from("/run/netns/cni-1")
        );
        assert_eq!(pid_key(42), "/proc/42/ns/net");
        assert_eq!(pid_of(Path::new("/proc/42/ns/net")), Some(42));
        for other in [
            "/proc/self/ns/net",
            "/proc//ns/net",
            "/run/netns/x",
            "/proc/4/ns/mnt",
        ] {
            assert_eq!(pid_of(Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn exactly_one_namespace_is_named() {
        assert_eq!(key(Some("c1".into()), None, None).unwrap(), "c1");
        assert_eq!(key(None, None, Some(7)).unwrap(), "/proc/7/ns/net");
        assert_eq!(
            key(None, Some("/run/netns/x".into()), None).unwrap(),
            "/run/netns/x"
        );
        for bad in [
            key(None, None, None),
            key(Some("c1".into()), None, Some(7)),
            key(None, None, Some(0)),
            key(Some("/run/netns/x".into()), None, None),
            key(None, Some("netns/x".into()), None),
            key(None, Some("/a/../b".into()), None),
        ] {
            assert!(bad.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_are_checked() {
        assert_eq!(path_problem("/proc/1/ns/net"), None);
        for bad in ["relative", "/a//b", "/a/../b", "/a/./b", "/a/", "/a\0"] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
        assert!(path_problem(&format!("/{}", "a".repeat(5000))).is_some());
    }

    #[test]
    fn a_bind_mount_or_name_is_gone_when_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ns");
        std::fs::write(&file, b"").unwrap();
        let key = file.to_str().unwrap().to_owned();
        let mut w = Watch::new(&key, NamespaceId::of(&key).unwrap());
        assert!(w.alive());
        std::fs::remove_file(&file).unwrap();
        std::fs::write(dir.path().join("other"), b"").unwrap();
        std::fs::write(&file, b"").unwrap();
        // Same path, another inode: another namespace.
        let ino_now = NamespaceId::of(&key).unwrap();
        if ino_now != w.id {
            assert!(!w.alive());
        }
        std::fs::remove_file(&file).unwrap();
        assert!(!w.alive());
    }

    #[test]
    fn a_process_namespace_is_followed_through_its_other_processes() {
        // This test process's own namespace: the daemon's pid is skipped, so look it up under
        // a fake /proc holding a file with the same identity.
        let own = NamespaceId::at(Path::new("/proc/self/ns/net")).unwrap();
        let fake = tempfile::tempdir().unwrap();
        assert_eq!(process_in(own, fake.path()), None);
        // The real /proc: some process besides this one (init, at least) shares its
        // namespace in a test run, unless the test runs alone in a namespace.
        let mut w = Watch {
            id: own,
            file: PathBuf::from("/proc/4294967295/ns/net"),
        };
        let others = process_in(own, Path::new("/proc"));
        assert_eq!(w.alive(), others.is_some());
        if let Some(pid) = others {
            assert_eq!(w.file, PathBuf::from(pid_key(pid)));
        }
    }
}
