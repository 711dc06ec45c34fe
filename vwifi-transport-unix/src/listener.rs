//! The host's listening socket and the guest's connection to it.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::net::{UnixListener, UnixStream};
use vwifi_core::io::{GuestLink, GuestListener, LinkError, PeerInfo};
use vwifi_core::proto;

use crate::stream::{LinkConfig, StreamLink, UnixLink};
use crate::Error;

/// The default permissions of the listening socket: owner and group may connect.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;

/// Which local processes may connect, judged by the credentials the kernel reports for the
/// connecting socket (`SO_PEERCRED`: the effective uid and gid of the peer when it connected).
///
/// A peer is allowed if its uid or its gid is in the allow-list. Only the peer's effective
/// group is known, not its supplementary groups. The default, [`PeerPolicy::same_user`], allows
/// the daemon's own user and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    uids: Vec<u32>,
    gids: Vec<u32>,
    anyone: bool,
}

impl PeerPolicy {
    /// The daemon's own effective user and root.
    pub fn same_user() -> Self {
        Self::nobody()
            .allow_uid(0)
            .allow_uid(rustix::process::geteuid().as_raw())
    }

    /// Nobody, until uids or gids are added with [`PeerPolicy::allow_uid`] and
    /// [`PeerPolicy::allow_gid`].
    pub const fn nobody() -> Self {
        Self {
            uids: Vec::new(),
            gids: Vec::new(),
            anyone: false,
        }
    }

    /// Any peer: only the socket's file permissions restrict who connects.
    pub const fn anyone() -> Self {
        Self {
            uids: Vec::new(),
            gids: Vec::new(),
            anyone: true,
        }
    }

    /// The policy, also allowing user `uid`.
    #[must_use]
    pub fn allow_uid(mut self, uid: u32) -> Self {
        if !self.uids.contains(&uid) {
            self.uids.push(uid);
        }
        self
    }

    /// The policy, also allowing peers whose effective group is `gid`.
    #[must_use]
    pub fn allow_gid(mut self, gid: u32) -> Self {
        if !self.gids.contains(&gid) {
            self.gids.push(gid);
        }
        self
    }

    /// Whether a peer with effective user `uid` and group `gid` may connect.
    pub fn allows(&self, uid: u32, gid: u32) -> bool {
        self.anyone || self.uids.contains(&uid) || self.gids.contains(&gid)
    }
}

impl Default for PeerPolicy {
    /// [`PeerPolicy::same_user`].
    fn default() -> Self {
        Self::same_user()
    }
}

/// The settings of a [`UnixGuestListener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The permissions of the socket file. Default [`DEFAULT_SOCKET_MODE`] (0660).
    pub mode: u32,
    /// Who may connect. Default [`PeerPolicy::same_user`].
    pub peers: PeerPolicy,
    /// The settings of each accepted link.
    pub link: LinkConfig,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            mode: DEFAULT_SOCKET_MODE,
            peers: PeerPolicy::default(),
            link: LinkConfig::default(),
        }
    }
}

/// The host's listening Unix socket: every accepted connection is one guest.
///
/// Each connecting peer's credentials are checked against the [`PeerPolicy`]; a peer that is not
/// allowed is logged, sent a [`proto::Message::Error`] (`NotPermitted`) if its socket takes it
/// at once, and disconnected. The socket file is removed when the listener is dropped (if it is
/// still the one this listener bound).
#[derive(Debug)]
pub struct UnixGuestListener {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file this listener created, to remove only that one.
    file_id: Option<(u64, u64)>,
    config: ListenerConfig,
}

impl UnixGuestListener {
    /// Binds a listening socket at `path` and sets its permissions to `config.mode`.
    ///
    /// If a socket file is already there, it is probed: a socket nothing accepts on any more
    /// (left by a daemon that died) is removed and replaced; a socket in use gives
    /// [`Error::InUse`]. Anything else at `path` is left alone ([`Error::NotASocket`]).
    ///
    /// Must be called within a tokio runtime.
    pub async fn bind(path: impl AsRef<Path>, config: ListenerConfig) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        remove_if_stale(&path).await?;
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(Error::InUse { path }),
            Err(source) => return Err(Error::Bind { path, source }),
        };
        let file_id = fs::symlink_metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        let this = Self {
            listener,
            path,
            file_id,
            config,
        };
        let mode = this.config.mode;
        if let Err(source) = fs::set_permissions(&this.path, Permissions::from_mode(mode)) {
            let path = this.path.clone();
            // Dropping the listener removes the socket file.
            drop(this);
            return Err(Error::SetPermissions { path, mode, source });
        }
        tracing::info!(path = %this.path.display(), mode = format_args!("{:04o}", this.config.mode), "listening for guests");
        Ok(this)
    }

    /// The next guest: waits for a connection, checks the peer's credentials, and returns its
    /// link.
    ///
    /// Errors concern one connection attempt, and the listener goes on:
    /// [`LinkError::Accept`] (a failed `accept`, e.g. out of file descriptors: pause briefly
    /// before retrying), [`LinkError::PeerCredentials`], [`LinkError::PeerRejected`].
    ///
    /// **Cancel safety:** cancel-safe: a connection is taken from the socket only by an
    /// `accept` that completes, and everything after it runs without waiting.
    pub async fn accept_link(&mut self) -> Result<UnixLink, LinkError> {
        let (stream, _addr) = self.listener.accept().await.map_err(LinkError::Accept)?;
        let cred = stream.peer_cred().map_err(|e| {
            tracing::warn!(path = %self.path.display(), error = %e, "refused a guest: cannot read its credentials");
            LinkError::PeerCredentials(e)
        })?;
        let peer = PeerInfo::Process {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        };
        if !self.config.peers.allows(cred.uid(), cred.gid()) {
            let err = LinkError::PeerRejected { peer };
            tracing::warn!(path = %self.path.display(), %peer, "refused a guest: its uid and gid are not allowed");
            tell_and_drop(stream, &err);
            return Err(err);
        }
        tracing::debug!(path = %self.path.display(), %peer, "guest connected");
        Ok(StreamLink::unix(stream, peer, self.config.link))
    }

    /// The path of the socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The listener's settings.
    pub const fn config(&self) -> &ListenerConfig {
        &self.config
    }
}

#[async_trait]
impl GuestListener for UnixGuestListener {
    async fn accept(&mut self) -> Result<Box<dyn GuestLink>, LinkError> {
        Ok(Box::new(self.accept_link().await?))
    }
}

impl Drop for UnixGuestListener {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .ok()
            .is_some_and(|m| Some((m.dev(), m.ino())) == self.file_id);
        if ours {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket");
            }
        }
    }
}

/// Sends a refused peer the reason, if its socket takes it without waiting, and closes it.
fn tell_and_drop(stream: UnixStream, err: &LinkError) {
    let Some(reply) = err.error_reply() else {
        return;
    };
    let mut buf = Vec::new();
    if proto::encode(&reply, &mut buf).is_ok() {
        // Best effort: a peer whose buffer is full gets no explanation, only the closed socket.
        let _ = stream.try_write(&buf);
    }
}

/// Removes a socket at `path` that nothing accepts on; fails if one is in use or something
/// else is there.
async fn remove_if_stale(path: &Path) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Probe {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(Error::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path).await {
        // Someone accepts (or a full backlog makes a non-blocking connect wait): in use.
        Ok(_) => Err(Error::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Error::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(|source| Error::RemoveStale {
                path: path.to_path_buf(),
                source,
            })?;
            tracing::info!(path = %path.display(), "removed a stale socket");
            Ok(())
        }
        Err(source) => Err(Error::Probe {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Connects to the host's socket at `path`: the guest side of a Unix link. The link's peer is
/// the host process, as the kernel reports it.
pub async fn connect(path: impl AsRef<Path>, config: LinkConfig) -> Result<UnixLink, Error> {
    let path = path.as_ref();
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| Error::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let peer = stream
        .peer_cred()
        .map_or(PeerInfo::Anonymous, |c| PeerInfo::Process {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        });
    Ok(StreamLink::unix(stream, peer, config))
}
