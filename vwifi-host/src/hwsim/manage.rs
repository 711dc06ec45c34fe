//! Radios vwifi creates for guests: `HWSIM_CMD_NEW_RADIO`, the wiphy moved into the guest's
//! network namespace (`NL80211_CMD_SET_WIPHY_NETNS`), its interface created there
//! (`NL80211_CMD_NEW_INTERFACE`), and `HWSIM_CMD_DEL_RADIO`.
//!
//! Each radio is created on a generic netlink socket of its own with
//! `HWSIM_ATTR_DESTROY_RADIO_ON_CLOSE`: the socket lives in the [`OwnedRadio`], so the radio
//! dies with it whatever happens to the daemon (a crash included) and no stale radio is left
//! behind. The radio is created in the daemon's network namespace, where vwifi is the
//! registered medium: hwsim keeps a radio in the group of the namespace that created it when
//! its wiphy moves, so its frames still come to vwifi.
//!
//! Everything here blocks (a netlink round trip; entering a namespace spawns a thread): call
//! it from a blocking task. The kernel answers a generic netlink request within the `send`
//! call, so a reply is always waiting when `recv` is called.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _};

use neli::consts::socket::NlFamily;
use neli::socket::{NlSocket, NlSocketHandle};
use neli::types::GenlBuffer;
use vwifi_core::MacAddr;

use super::msg;

/// Where the kernel lists the wiphys of the daemon's namespace.
const SYSFS_WIPHYS: &str = "/sys/class/ieee80211";

/// `NL80211_CMD_NEW_INTERFACE`.
const NL80211_CMD_NEW_INTERFACE: u8 = 7;
/// `NL80211_CMD_SET_WIPHY_NETNS`.
const NL80211_CMD_SET_WIPHY_NETNS: u8 = 49;
/// `NL80211_ATTR_WIPHY` (u32).
const NL80211_ATTR_WIPHY: u16 = 1;
/// `NL80211_ATTR_IFNAME` (string).
const NL80211_ATTR_IFNAME: u16 = 4;
/// `NL80211_ATTR_IFTYPE` (u32).
const NL80211_ATTR_IFTYPE: u16 = 5;
/// `NL80211_ATTR_NETNS_FD` (u32).
const NL80211_ATTR_NETNS_FD: u16 = 219;
/// `NL80211_IFTYPE_STATION`.
const NL80211_IFTYPE_STATION: u32 = 2;

/// Why a guest's radio could not be created, moved or deleted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManageError {
    /// The kernel has no `MAC80211_HWSIM` family.
    #[error(
        "the kernel has no MAC80211_HWSIM generic netlink family: load the module with \
         `modprobe mac80211_hwsim radios=0` (radios=0: vwifi creates the radios) ({reason})"
    )]
    NoHwsim {
        /// What neli said.
        reason: String,
    },
    /// The kernel has no nl80211 family (no cfg80211).
    #[error("the kernel has no nl80211 generic netlink family ({reason})")]
    NoNl80211 {
        /// What neli said.
        reason: String,
    },
    /// A generic netlink socket failed.
    #[error("generic netlink socket")]
    Socket(#[source] io::Error),
    /// A request could not be encoded (cannot happen with the attributes we send).
    #[error("cannot encode a generic netlink request")]
    Encode(#[source] neli::err::SerError),
    /// The kernel refused a request.
    #[error("the kernel refused {what}")]
    Refused {
        /// The request.
        what: &'static str,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The kernel did not answer a request with an acknowledgement.
    #[error("the kernel did not acknowledge {what}")]
    NoAck {
        /// The request.
        what: &'static str,
    },
    /// A radio of that name exists already (left by something else than this daemon).
    #[error("a wireless device named {name:?} exists already (`iw phy {name} info`); delete it or detach its guest")]
    NameTaken {
        /// The wiphy name.
        name: String,
    },
    /// The new radio is not where the kernel lists wiphys.
    #[error("cannot read the new radio's wiphy index from {path}")]
    Sysfs {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The guest's namespace could not be entered.
    #[error("cannot enter the guest's network namespace")]
    Enter(#[source] io::Error),
    /// The thread entering the namespace died (a bug).
    #[error("the thread entering the network namespace failed")]
    Thread,
}

/// A hwsim radio created for a guest; dropping it (closing its socket) destroys the radio.
pub(crate) struct OwnedRadio {
    sock: NlSocket,
    family: u16,
    seq: u32,
    index: u32,
    name: String,
    wiphy: u32,
}

impl core::fmt::Debug for OwnedRadio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedRadio")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("wiphy", &self.wiphy)
            .finish_non_exhaustive()
    }
}

/// The hwsim address (`42:00:00:NN:NN:00`) of the radio with index `index`, as the kernel
/// names it in `HWSIM_ATTR_ADDR_TRANSMITTER` (a radio created without a permanent address).
pub(crate) fn hwsim_address(index: u32) -> MacAddr {
    let [_, _, hi, lo] = index.to_be_bytes();
    MacAddr::from([0x42, 0, 0, hi, lo, 0])
}

/// A generic netlink socket and the id of `family` (`what` names the family in errors).
fn open(family: &str) -> Result<(NlSocket, u16), ManageError> {
    let mut handle =
        NlSocketHandle::connect(NlFamily::Generic, None, &[]).map_err(ManageError::Socket)?;
    let id = handle.resolve_genl_family(family).map_err(|e| {
        if family == msg::FAMILY_NAME {
            ManageError::NoHwsim {
                reason: e.to_string(),
            }
        } else {
            ManageError::NoNl80211 {
                reason: e.to_string(),
            }
        }
    })?;
    let sock = NlSocket::from(handle);
    sock.block().map_err(ManageError::Socket)?;
    Ok((sock, id))
}

/// Sends `bytes` and returns the acknowledgement's code (see [`msg::ack_code`]).
fn transact(sock: &NlSocket, bytes: &[u8], what: &'static str) -> Result<i32, ManageError> {
    sock.send(bytes, 0).map_err(ManageError::Socket)?;
    let mut buf = vec![0u8; 16 * 1024];
    // A reply message (NEW_INTERFACE answers with the interface) may come before the ack.
    for _ in 0..8 {
        let n = sock.recv(&mut buf[..], 0).map_err(ManageError::Socket)?;
        if let Some(code) = msg::ack_code(buf.get(..n).unwrap_or(&[])) {
            if code < 0 {
                return Err(ManageError::Refused {
                    what,
                    source: io::Error::from_raw_os_error(code.saturating_neg()),
                });
            }
            return Ok(code);
        }
    }
    Err(ManageError::NoAck { what })
}

/// Runs `f` on a thread that entered the network namespace `ns` (`setns` moves only the
/// calling thread; sockets opened there stay in that namespace).
fn in_namespace<T: Send + 'static>(
    ns: &File,
    f: impl FnOnce() -> Result<T, ManageError> + Send + 'static,
) -> Result<T, ManageError> {
    let ns = ns.try_clone().map_err(ManageError::Enter)?;
    std::thread::Builder::new()
        .name("vwifi-native-ns".into())
        .spawn(move || {
            use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
                .map_err(|e| ManageError::Enter(e.into()))?;
            f()
        })
        .map_err(|_| ManageError::Thread)?
        .join()
        .map_err(|_| ManageError::Thread)?
}

impl OwnedRadio {
    /// Creates the radio `name` (without interface) in the daemon's namespace.
    pub(crate) fn create(name: &str) -> Result<Self, ManageError> {
        let sys = format!("{SYSFS_WIPHYS}/{name}");
        if fs::metadata(&sys).is_ok() {
            return Err(ManageError::NameTaken {
                name: name.to_owned(),
            });
        }
        let (sock, family) = open(msg::FAMILY_NAME)?;
        let req = msg::new_radio(family, 1, name).map_err(ManageError::Encode)?;
        let code = transact(&sock, &req, "HWSIM_CMD_NEW_RADIO")?;
        let index = u32::try_from(code).unwrap_or_default();
        let mut radio = Self {
            sock,
            family,
            seq: 2,
            index,
            name: name.to_owned(),
            wiphy: 0,
        };
        // hwsim falls back to a `phyN` name when the name is taken elsewhere (in another
        // namespace): then the file is missing and the radio is dropped (destroyed) here.
        let path = format!("{sys}/index");
        let text = fs::read_to_string(&path).map_err(|source| ManageError::Sysfs {
            path: path.clone(),
            source,
        })?;
        radio.wiphy = text.trim().parse().map_err(|_| ManageError::Sysfs {
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, "not a number"),
        })?;
        Ok(radio)
    }

    /// The radio's hwsim index.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The radio's wiphy name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The radio's hwsim address (how the kernel names it to the medium).
    pub(crate) fn address(&self) -> MacAddr {
        hwsim_address(self.index)
    }

    /// Moves the radio's wiphy into the network namespace `ns`.
    pub(crate) fn move_into(&self, ns: &File) -> Result<(), ManageError> {
        let (sock, family) = open("nl80211")?;
        let fd = u32::try_from(ns.as_raw_fd()).map_err(|_| {
            ManageError::Enter(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad descriptor",
            ))
        })?;
        let mut attrs = GenlBuffer::new();
        attrs.push(msg::attr(NL80211_ATTR_WIPHY, self.wiphy).map_err(ManageError::Encode)?);
        attrs.push(msg::attr(NL80211_ATTR_NETNS_FD, fd).map_err(ManageError::Encode)?);
        let req = msg::request(family, NL80211_CMD_SET_WIPHY_NETNS, true, 1, attrs)
            .map_err(ManageError::Encode)?;
        transact(&sock, &req, "NL80211_CMD_SET_WIPHY_NETNS").map(drop)
    }

    /// Creates the station interface `ifname` of the radio inside `ns` (where its wiphy is).
    pub(crate) fn add_interface(&self, ns: &File, ifname: &str) -> Result<(), ManageError> {
        let (wiphy, ifname) = (self.wiphy, ifname.to_owned());
        in_namespace(ns, move || {
            let (sock, family) = open("nl80211")?;
            let mut attrs = GenlBuffer::new();
            attrs.push(msg::attr(NL80211_ATTR_WIPHY, wiphy).map_err(ManageError::Encode)?);
            attrs.push(
                msg::attr(NL80211_ATTR_IFNAME, ifname.as_str()).map_err(ManageError::Encode)?,
            );
            attrs.push(
                msg::attr(NL80211_ATTR_IFTYPE, NL80211_IFTYPE_STATION)
                    .map_err(ManageError::Encode)?,
            );
            let req = msg::request(family, NL80211_CMD_NEW_INTERFACE, true, 1, attrs)
                .map_err(ManageError::Encode)?;
            transact(&sock, &req, "NL80211_CMD_NEW_INTERFACE").map(drop)
        })
    }

    /// Deletes the radio: `HWSIM_CMD_DEL_RADIO` from inside `ns` (the kernel deletes only
    /// radios of the sender's namespace), else from the daemon's namespace (a namespace that
    /// died hands its radios back). Closing the creating socket destroys it in any case.
    pub(crate) fn delete(mut self, ns: Option<&File>) -> Result<(), ManageError> {
        let name = self.name.clone();
        let inside = match ns {
            Some(ns) => {
                let name = name.clone();
                in_namespace(ns, move || {
                    let (sock, family) = open(msg::FAMILY_NAME)?;
                    let req = msg::del_radio(family, 1, &name).map_err(ManageError::Encode)?;
                    transact(&sock, &req, "HWSIM_CMD_DEL_RADIO").map(drop)
                })
            }
            None => Err(ManageError::Thread),
        };
        if inside.is_ok() {
            return Ok(());
        }
        self.seq = self.seq.wrapping_add(1);
        let req = msg::del_radio(self.family, self.seq, &name).map_err(ManageError::Encode)?;
        match transact(&self.sock, &req, "HWSIM_CMD_DEL_RADIO") {
            Ok(_) => Ok(()),
            // Not in our namespace either: closing the socket (now) destroys it.
            Err(ManageError::Refused { source, .. })
                if source.raw_os_error() == Some(rustix::io::Errno::NODEV.raw_os_error()) =>
            {
                tracing::debug!(radio = %name, error = ?inside.err(), "hwsim: the radio is deleted by closing its socket");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hwsim_address_carries_the_index_in_bytes_3_and_4() {
        assert_eq!(hwsim_address(5).to_string(), "42:00:00:00:05:00");
        assert_eq!(hwsim_address(0x1234).to_string(), "42:00:00:12:34:00");
        assert_eq!(super::super::radio_index(hwsim_address(300)), 300);
    }

    #[test]
    fn the_missing_module_is_told_with_the_command_that_loads_it() {
        let e = ManageError::NoHwsim {
            reason: "not found".into(),
        };
        assert!(e.to_string().contains("modprobe mac80211_hwsim radios=0"));
    }
}
