//! `attach --native`: a container gets a Wi-Fi radio of its own on vwifi's air.
//!
//! Instead of a TAP served by the Mux, the namespace gets a `mac80211_hwsim` radio: the daemon
//! creates it (`HWSIM_CMD_NEW_RADIO`, named after the namespace, `vw-NAME`), moves its wiphy
//! into the namespace (`NL80211_CMD_SET_WIPHY_NETNS`) and creates its station interface there
//! (`wlan0` unless told otherwise, left down: the container's tools bring it up). The daemon is
//! the registered medium of hwsim radios (`run --hwsim`), so the radio is a node of the
//! simulated air at its position: the container's own `iw`, wpa_supplicant, iwd or hostapd
//! see the simulated APs, the other guests' radios and the host's, with the signal their
//! distance gives ([`crate::hwsim`]).
//!
//! The radio dies with the daemon (it is created with `HWSIM_ATTR_DESTROY_RADIO_ON_CLOSE` on a
//! socket the driver keeps): a crash leaves no stale radio, and a restarted daemon creates the
//! recorded radios afresh (the container sees its `wlan0` go and come back). `detach` deletes
//! it (`HWSIM_CMD_DEL_RADIO`); a namespace that goes away loses it within
//! [`super::netns::NAMESPACE_CHECK`].
//!
//! Isolation: the radio hears what its position lets it hear, as any radio on the air; its
//! frames claiming another node's transmitter address are refused ([`crate::hwsim`]); its
//! queue toward the air is bounded ([`crate::hwsim::KernelRadio`]).

use std::fs::File;

use tokio::sync::{mpsc, oneshot};

use super::netns::{check_ifname, check_netns_name, NetnsError, NAMESPACE_CHECK};
use super::nsfile::{NamespaceId, Watch};
use crate::api::NativeAttachment;
use crate::command::{Command, NativeRadio, Refused};
use crate::error_text::error_chain;
use crate::hwsim::manage::{ManageError, OwnedRadio};

/// The longest wiphy name vwifi gives (the kernel allows more; `iw` prints them whole).
const MAX_WIPHY_NAME: usize = 24;

/// Why `attach --native` or its `detach` failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NativeError {
    /// A bad name, or the namespace cannot be opened.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The driver refused (no hwsim medium, attached already).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The radio could not be created, moved or deleted.
    #[error(transparent)]
    Radio(#[from] ManageError),
    /// The daemon is stopping.
    #[error("the daemon is stopping")]
    Stopping,
    /// A blocking task failed (a bug).
    #[error("the radio's task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// The wiphy name of the radio of namespace `key`: `vw-NAME` for a short plain name, else
/// `vw-` and a hash of the key (a path, a long name).
pub(crate) fn radio_name(key: &str) -> String {
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain && !key.is_empty() && key.len() + 3 <= MAX_WIPHY_NAME {
        return format!("vw-{key}");
    }
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("vw-{:012x}", hash & 0xffff_ffff_ffff)
}

/// Opens the namespace file of `key` and names the namespace.
fn open_namespace(key: &str) -> Result<(File, NamespaceId), NetnsError> {
    let path = super::nsfile::path_of(key);
    let file = File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound if super::nsfile::is_path(key) => {
            NetnsError::NoNamespaceFile {
                path: key.to_owned(),
            }
        }
        std::io::ErrorKind::NotFound => NetnsError::NoNamespace {
            name: key.to_owned(),
        },
        std::io::ErrorKind::PermissionDenied => NetnsError::NotPermitted {
            what: "open the namespace",
        },
        _ => NetnsError::Open {
            name: key.to_owned(),
            source,
        },
    })?;
    let meta = file.metadata().map_err(|source| NetnsError::Open {
        name: key.to_owned(),
        source,
    })?;
    Ok((file, NamespaceId::from_meta(&meta)))
}

/// Gives the namespace `netns` a radio of its own with the interface `ifname`, placed at
/// `position` (else where `[hwsim]` puts radios).
pub(crate) async fn attach(
    cmds: &mpsc::Sender<Command>,
    netns: String,
    ifname: String,
    position: Option<[f64; 2]>,
) -> Result<NativeAttachment, NativeError> {
    check_netns_name(&netns)?;
    check_ifname(&ifname)?;
    if let Some([x, y]) = position {
        if !(x.is_finite() && y.is_finite()) {
            return Err(NetnsError::InvalidName {
                what: "position",
                name: format!("{x},{y}"),
                reason: "coordinates must be finite numbers",
            }
            .into());
        }
    }
    let (reply, answer) = oneshot::channel();
    cmds.send(Command::NativeCheck {
        netns: netns.clone(),
        reply,
    })
    .await
    .map_err(|_| NativeError::Stopping)?;
    answer.await.map_err(|_| NativeError::Stopping)??;
    let (key, ifn) = (netns.clone(), ifname.clone());
    let (owned, ns, id) = tokio::task::spawn_blocking(move || {
        let (ns, id) = open_namespace(&key)?;
        let owned = OwnedRadio::create(&radio_name(&key))?;
        owned.move_into(&ns)?;
        owned.add_interface(&ns, &ifn)?;
        Ok::<_, NativeError>((owned, ns, id))
    })
    .await
    .map_err(NativeError::Task)??;
    let (index, wiphy, radio) = (owned.index(), owned.name().to_owned(), owned.address());
    let (watch, stopped) = oneshot::channel();
    let (reply, answer) = oneshot::channel();
    cmds.send(Command::NativeAttach {
        netns: netns.clone(),
        radio: NativeRadio {
            owned,
            ifname: ifname.clone(),
            position,
        },
        watch,
        reply,
    })
    .await
    .map_err(|_| NativeError::Stopping)?;
    let (x, y) = answer.await.map_err(|_| NativeError::Stopping)??;
    drop(ns);
    tokio::spawn(follow(
        cmds.clone(),
        netns.clone(),
        Watch::new(&netns, id),
        stopped,
    ));
    let mac = crate::hwsim::first_interface(radio);
    tracing::info!(%netns, %ifname, %wiphy, index, %radio, x, y, "network namespace attached with a radio of its own");
    Ok(NativeAttachment {
        netns,
        ifname,
        wiphy,
        radio: radio.to_string(),
        mac: mac.to_string(),
        position: [x, y],
    })
}

/// Detaches `netns` if it has a native radio: takes it off the air and deletes it. `Ok(false)`
/// if the namespace has none (it may be attached with a TAP).
pub(crate) async fn detach(cmds: &mpsc::Sender<Command>, netns: &str) -> Result<bool, NativeError> {
    let (reply, answer) = oneshot::channel();
    cmds.send(Command::NativeDetach {
        netns: netns.to_owned(),
        reply,
    })
    .await
    .map_err(|_| NativeError::Stopping)?;
    let Some(owned) = answer.await.map_err(|_| NativeError::Stopping)? else {
        return Ok(false);
    };
    let key = netns.to_owned();
    tokio::task::spawn_blocking(move || {
        let ns = open_namespace(&key).ok().map(|(f, _)| f);
        owned.delete(ns.as_ref())
    })
    .await
    .map_err(NativeError::Task)??;
    Ok(true)
}

/// Follows the namespace of a native attachment: when it is gone, the radio goes too. Ends
/// when the driver drops the attachment (`stopped`).
async fn follow(
    cmds: mpsc::Sender<Command>,
    netns: String,
    mut watch: Watch,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut check = tokio::time::interval(NAMESPACE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = check.tick() => {}
        }
        if !watch.alive() {
            tracing::info!(%netns, "the namespace of a native radio is gone: deleting the radio");
            if let Err(e) = detach(&cmds, &netns).await {
                tracing::warn!(%netns, error = %error_chain(&e), "the radio of a gone namespace");
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radios_are_named_after_their_namespace_or_a_hash_of_its_path() {
        assert_eq!(radio_name("c1"), "vw-c1");
        assert_eq!(radio_name("web_2-a"), "vw-web_2-a");
        let by_path = radio_name("/proc/123/ns/net");
        assert!(
            by_path.starts_with("vw-") && by_path.len() == 15,
            "{by_path}"
        );
        assert_ne!(by_path, radio_name("/proc/124/ns/net"));
        assert_eq!(by_path, radio_name("/proc/123/ns/net"), "stable");
        let long = radio_name("a-very-long-namespace-name-indeed");
        assert!(long.len() <= MAX_WIPHY_NAME, "{long}");
        // `phyN` names belong to the kernel; ours never look like them.
        assert!(!radio_name("phy0").starts_with("phy"));
    }
}
