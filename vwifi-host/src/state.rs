//! What the daemon keeps across restarts: the attached network namespaces and, for each, the
//! network it last joined.
//!
//! One file, `state.json` in the state directory (`[host] state_dir`, by default
//! `/var/lib/vwifi` for root), mode 0600 in a directory of mode 0700, replaced atomically
//! (written beside, then renamed) at every change:
//! - an attachment is recorded when `attach` (or `[[attach]]`) succeeds and forgotten on
//!   `detach` or when its namespace is deleted;
//! - a profile (the SSID and the derived PSK — never the passphrase) is recorded when a
//!   connection the guest asked for succeeds, and forgotten when the guest disconnects or a
//!   connection it asked for fails.
//!
//! A daemon stopping (signal, crash) keeps the file: the next start re-attaches the namespaces
//! (their TAPs survived) and reconnects their stations. A lock file (`flock`) held from the
//! first write keeps two daemons from sharing one state directory.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vwifi_core::crypto::Psk;
use vwifi_core::proto::Ssid;
use zeroize::Zeroizing;

/// The state directory of a root daemon when the configuration names none.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/vwifi";

/// The state file's name in the state directory.
const STATE_FILE: &str = "state.json";

/// The lock file's name in the state directory.
const LOCK_FILE: &str = "lock";

/// The version of the state file's format.
const STATE_VERSION: u32 = 1;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// The directory could not be created or is not usable.
    #[error("cannot create the state directory {} (set [host] state_dir to a directory the daemon can write)", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another daemon holds the directory's lock.
    #[error("another vwifi-host uses the state directory {} (its lock is held); give each daemon its own [host] state_dir", path.display())]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The state file could not be read.
    #[error("cannot read the state file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The state file is not what this version writes.
    #[error("the state file {} is not valid: {reason} (move it away to start afresh)", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: FileError,
    },
    /// The state file could not be written.
    #[error("cannot write the state file {} (set [host] state_dir to a directory the daemon can write)", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What is wrong with a state file's text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// Not the JSON this daemon writes.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Another version's layout.
    #[error("version {found} (this daemon writes {STATE_VERSION})")]
    Version {
        /// The version in the file.
        found: u32,
    },
    /// An attachment's names cannot be used.
    #[error("attachments[{index}]: {error}")]
    Names {
        /// The attachment's index.
        index: usize,
        /// What is wrong with its names.
        error: crate::ports::netns::NetnsError,
    },
    /// An attachment's profile has a bad field.
    #[error("attachments[{index}].profile.{field}: {what}")]
    Profile {
        /// The attachment's index.
        index: usize,
        /// The field (`ssid_hex`, `psk`).
        field: &'static str,
        /// What is wrong with it.
        what: String,
    },
}

/// The network a guest last joined: what a restarted daemon reconnects it to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    /// The network.
    pub(crate) ssid: Ssid,
    /// Its PSK; `None` for an open network.
    pub(crate) psk: Option<Psk>,
}

impl core::fmt::Debug for Profile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Profile")
            .field("ssid", &self.ssid.to_string())
            .field("psk", &self.psk.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One attached namespace as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The interface inside it.
    pub(crate) ifname: String,
    /// The network its station last joined, if it is to be rejoined.
    pub(crate) profile: Option<Profile>,
    /// A namespace attached by path (`/proc/PID/ns/net`, a bind mount): which namespace it
    /// was, so that a restarted daemon does not attach whatever the path names now (another
    /// process under a reused PID).
    pub(crate) ns: Option<crate::ports::nsfile::NamespaceId>,
    /// `attach --native`: the namespace has a radio of its own, not a TAP (recreated at the
    /// next start: the radio dies with the daemon).
    pub(crate) native: Option<Native>,
}

/// What a native attachment needs to be made again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Native {
    /// Where its radio stands, if given.
    pub(crate) position: Option<[f64; 2]>,
}

impl Eq for Native {}

/// The file's form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    version: u32,
    attachments: Vec<AttachmentForm>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachmentForm {
    netns: String,
    ifname: String,
    /// `[dev, ino]` of a namespace attached by path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ns: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileForm>,
    /// A native radio (`attach --native`).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    native: bool,
    /// Where the native radio stands, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<[f64; 2]>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileForm {
    /// The SSID's bytes in hex (an SSID need not be UTF-8).
    ssid_hex: String,
    /// The PSK in hex; absent for an open network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    psk: Option<String>,
}

impl Drop for ProfileForm {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        if let Some(psk) = &mut self.psk {
            psk.zeroize();
        }
    }
}

/// The daemon's persistent state. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct StateStore {
    dir: PathBuf,
    lock: Option<File>,
    entries: BTreeMap<String, Recorded>,
}

impl StateStore {
    /// Opens the state directory `dir` (creating it, mode 0700) and reads its state file if
    /// there is one. Takes the lock at once if the file records attachments.
    pub(crate) fn open(dir: &Path) -> Result<Self, StateError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StateError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        // Writable? Found now rather than at the first attach (the lock file is created here,
        // locked only from the first write).
        let lock_path = dir.join(LOCK_FILE);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| StateError::Write {
                path: lock_path,
                source,
            })?;
        let path = dir.join(STATE_FILE);
        let entries = match fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|reason| StateError::Parse {
                path: path.clone(),
                reason,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let mut store = Self {
            dir: dir.to_path_buf(),
            lock: None,
            entries,
        };
        if !store.entries.is_empty() {
            store.lock()?;
        }
        Ok(store)
    }

    /// The recorded attachments, by namespace.
    pub(crate) fn attachments(&self) -> &BTreeMap<String, Recorded> {
        &self.entries
    }

    /// Records an attachment (keeping its profile if it was recorded already); a namespace
    /// attached by path is recorded with its identity now.
    pub(crate) fn attached(&mut self, netns: &str, ifname: &str) -> Result<(), StateError> {
        let ns = crate::ports::nsfile::is_path(netns)
            .then(|| crate::ports::nsfile::NamespaceId::of(netns))
            .flatten();
        let entry = self
            .entries
            .entry(netns.to_owned())
            .or_insert_with(|| Recorded {
                ifname: ifname.to_owned(),
                profile: None,
                ns,
                native: None,
            });
        entry.ifname = ifname.to_owned();
        entry.ns = ns;
        self.write()
    }

    /// Records a native attachment (a radio of its own, placed at `position` if given).
    pub(crate) fn attached_native(
        &mut self,
        netns: &str,
        ifname: &str,
        position: Option<[f64; 2]>,
    ) -> Result<(), StateError> {
        let ns = crate::ports::nsfile::is_path(netns)
            .then(|| crate::ports::nsfile::NamespaceId::of(netns))
            .flatten();
        self.entries.insert(
            netns.to_owned(),
            Recorded {
                ifname: ifname.to_owned(),
                profile: None,
                ns,
                native: Some(Native { position }),
            },
        );
        self.write()
    }

    /// Forgets an attachment.
    pub(crate) fn detached(&mut self, netns: &str) -> Result<(), StateError> {
        if self.entries.remove(netns).is_some() {
            self.write()
        } else {
            Ok(())
        }
    }

    /// Records (or, with `None`, forgets) the network an attached namespace's station joined.
    pub(crate) fn set_profile(
        &mut self,
        netns: &str,
        profile: Option<Profile>,
    ) -> Result<(), StateError> {
        match self.entries.get_mut(netns) {
            Some(entry) if entry.profile != profile => {
                entry.profile = profile;
                self.write()
            }
            _ => Ok(()),
        }
    }

    /// Takes the lock of the directory if not held yet.
    fn lock(&mut self) -> Result<(), StateError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StateError::Write { path, source })?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| StateError::Locked {
                path: self.dir.clone(),
            },
        )?;
        self.lock = Some(file);
        Ok(())
    }

    /// Writes the state file: beside it first (mode 0600), then renamed over it.
    fn write(&mut self) -> Result<(), StateError> {
        self.lock()?;
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.new"));
        let err = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let text = render(&self.entries);
        let _ = fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        fs::rename(&tmp, &path).map_err(err)
    }
}

/// The file's text for `entries` (it holds PSKs: zeroized when dropped).
fn render(entries: &BTreeMap<String, Recorded>) -> Zeroizing<String> {
    let form = FileForm {
        version: STATE_VERSION,
        attachments: entries
            .iter()
            .map(|(netns, r)| AttachmentForm {
                netns: netns.clone(),
                ifname: r.ifname.clone(),
                ns: r.ns.map(|id| [id.dev(), id.ino()]),
                profile: r.profile.as_ref().map(|p| ProfileForm {
                    ssid_hex: hex::encode(p.ssid.as_bytes()),
                    psk: p.psk.as_ref().map(Psk::to_hex),
                }),
                native: r.native.is_some(),
                position: r.native.and_then(|n| n.position),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&form).unwrap_or_default();
    text.push('\n');
    Zeroizing::new(text)
}

/// The entries of a state file's text, or what is wrong with it.
fn parse(text: &str) -> Result<BTreeMap<String, Recorded>, FileError> {
    let form: FileForm = serde_json::from_str(text)?;
    if form.version != STATE_VERSION {
        return Err(FileError::Version {
            found: form.version,
        });
    }
    let mut entries = BTreeMap::new();
    for (i, a) in form.attachments.iter().enumerate() {
        crate::ports::netns::check_netns_name(&a.netns)
            .and_then(|()| crate::ports::netns::check_ifname(&a.ifname))
            .map_err(|error| FileError::Names { index: i, error })?;
        let bad = |field, what: String| FileError::Profile {
            index: i,
            field,
            what,
        };
        let profile = match &a.profile {
            None => None,
            Some(p) => {
                let bytes =
                    hex::decode(&p.ssid_hex).map_err(|_| bad("ssid_hex", "not hex".into()))?;
                let ssid = Ssid::new(&bytes).map_err(|e| bad("ssid_hex", e.to_string()))?;
                let psk = match &p.psk {
                    None => None,
                    Some(h) => Some(
                        Psk::from_hex(h).ok_or_else(|| bad("psk", "not 64 hex digits".into()))?,
                    ),
                };
                Some(Profile { ssid, psk })
            }
        };
        entries.insert(
            a.netns.clone(),
            Recorded {
                ifname: a.ifname.clone(),
                profile,
                ns: a
                    .ns
                    .map(|[dev, ino]| crate::ports::nsfile::NamespaceId::from_parts(dev, ino)),
                native: a.native.then_some(Native {
                    position: a.position,
                }),
            },
        );
    }
    Ok(entries)
}

/// Fuzz entry point ([`crate::fuzz::state_file`]): `text` parsed as a state file; accepted
/// entries render to a file that parses to the same entries.
#[cfg(test)]
pub(crate) fn fuzz_round_trip(text: &str) {
    if let Ok(entries) = parse(text) {
        let again = render(&entries);
        let back = parse(&again).expect("a rendered state file parses");
        assert!(back == entries, "state file round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn profile() -> Profile {
        Profile {
            ssid: Ssid::new(b"vwifi-lab").unwrap(),
            psk: Some(Psk::from_bytes([0xab; 32])),
        }
    }

    #[test]
    fn attachments_and_profiles_survive_a_reopen_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let mut s = StateStore::open(&state_dir).unwrap();
        assert!(s.attachments().is_empty());
        s.attached("c1", "wlan0").unwrap();
        s.attached("c2", "wlan1").unwrap();
        s.set_profile("c1", Some(profile())).unwrap();
        // A profile for a namespace not attached is not recorded.
        s.set_profile("c3", Some(profile())).unwrap();
        let file = state_dir.join(STATE_FILE);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(&state_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.contains(&"ab".repeat(32)), "{text}");
        drop(s);

        let mut s = StateStore::open(&state_dir).unwrap();
        let a = s.attachments();
        assert_eq!(a.len(), 2);
        assert_eq!(a["c1"].profile, Some(profile()));
        assert_eq!(a["c2"].ifname, "wlan1");
        assert_eq!(a["c2"].profile, None);
        s.set_profile("c1", None).unwrap();
        s.detached("c2").unwrap();
        drop(s);
        let s = StateStore::open(&state_dir).unwrap();
        assert_eq!(s.attachments().len(), 1);
        assert_eq!(s.attachments()["c1"].profile, None);
    }

    #[test]
    fn a_native_attachment_is_recorded_with_its_position_and_forgotten_on_detach() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = StateStore::open(dir.path()).unwrap();
        s.attached_native("c1", "wlan0", Some([3.5, -2.0])).unwrap();
        s.attached_native("c2", "wl1", None).unwrap();
        s.attached("c3", "wlan0").unwrap();
        drop(s);
        let mut s = StateStore::open(dir.path()).unwrap();
        let a = s.attachments();
        assert_eq!(
            a["c1"].native,
            Some(Native {
                position: Some([3.5, -2.0])
            })
        );
        assert_eq!(a["c2"].native, Some(Native { position: None }));
        assert_eq!(a["c2"].ifname, "wl1");
        assert_eq!(a["c3"].native, None);
        s.detached("c1").unwrap();
        drop(s);
        let s = StateStore::open(dir.path()).unwrap();
        assert!(!s.attachments().contains_key("c1"));
    }

    #[test]
    fn a_namespace_attached_by_path_is_recorded_with_its_identity() {
        let dir = tempfile::tempdir().unwrap();
        let own = "/proc/self/ns/net";
        let mut s = StateStore::open(dir.path()).unwrap();
        s.attached(own, "wlan0").unwrap();
        s.attached("c1", "wlan0").unwrap();
        drop(s);
        let s = StateStore::open(dir.path()).unwrap();
        let id = crate::ports::nsfile::NamespaceId::of(own);
        assert!(id.is_some());
        assert_eq!(s.attachments()[own].ns, id);
        assert_eq!(s.attachments()["c1"].ns, None);
    }

    #[test]
    fn a_second_daemon_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = StateStore::open(dir.path()).unwrap();
        a.attached("c1", "wlan0").unwrap();
        let e = StateStore::open(dir.path()).unwrap_err();
        assert!(matches!(e, StateError::Locked { .. }), "{e:?}");
        assert!(e.to_string().contains("state_dir"), "{e}");
    }

    #[test]
    fn a_broken_state_file_is_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(STATE_FILE);
        for (text, want) in [
            ("not json", "expected"),
            (r#"{"version":9,"attachments":[]}"#, "version 9"),
            (
                r#"{"version":1,"attachments":[{"netns":"a/b","ifname":"wlan0"}]}"#,
                "attachments[0]",
            ),
            (
                r#"{"version":1,"attachments":[{"netns":"a","ifname":"wlan0","profile":{"ssid_hex":"61","psk":"zz"}}]}"#,
                "profile.psk",
            ),
        ] {
            fs::write(&file, text).unwrap();
            let e = StateStore::open(dir.path()).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn a_directory_that_cannot_be_written_is_refused_at_open() {
        // A directory nobody can create files in, root included.
        let e = StateStore::open(Path::new("/proc/self")).unwrap_err();
        assert!(matches!(e, StateError::Write { .. }), "{e:?}");
        assert!(e.to_string().contains("state_dir"), "{e}");
    }

    #[test]
    fn profiles_never_print_their_key() {
        let text = format!("{:?}", profile());
        assert!(
            text.contains("redacted") && !text.contains("abab"),
            "{text}"
        );
    }
}
