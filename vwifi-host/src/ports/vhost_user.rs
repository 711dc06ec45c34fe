//! `vhost-user`: a VM's station served as a vhost-user-net device.
//!
//! `vwifi-host vhost-user --socket PATH [--name NAME]` (or `[[vhost_user]]` in the config)
//! admits a guest named `vm:NAME` (its MAC derives from the name, so it is the same at every
//! start), and listens on PATH with a [`VhostUserPort`]. The VMM connects (QEMU:
//! `-chardev socket,id=vu,path=PATH -netdev vhost-user,id=n0,chardev=vu
//! -device virtio-net-pci,netdev=n0,mac=MAC`); the guest kernel's virtio_net driver gives the VM
//! a NIC whose frames are the station's data, exactly as [`crate::ports::netns`] serves a TAP:
//! - a frame with EtherType 0x88B5 from the guest carries one guest-protocol message
//!   (in-band control, as `vwifi-guest --link eth0` sends it), answered in one frame on the
//!   receive queue from [`HOST_MAC`](super::ethernet::HOST_MAC) to the frame's source;
//! - every other frame is the station's data, and the station's data from the air is written
//!   to the receive queue (data from the air carrying 0x88B5 is dropped: only the host speaks
//!   control on the link);
//! - the device's link status (config space) is up while the station is associated.
//!
//! One port serves one VM session: when the VMM disconnects (the VM stopped) or the guest
//! breaks the virtio contract, the guest is removed and the socket is gone; attach it again
//! for the next run. The daemon stopping closes the port (the VM's NIC loses its backend).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use vwifi_core::demux::GuestId;
use vwifi_core::MacAddr;
use vwifi_transport_virtio::{PortConfig, PortHandle, VhostUserPort};

use super::ethernet::{self, EthernetPort, FromPort};
use crate::api::VhostUserAttachment;
use crate::command::{Command, LinkFlow, PortCounters, Refused};
use crate::error_text::error_chain;
use crate::outbox::OutboxReceiver;

/// The longest VM name.
const MAX_NAME_LEN: usize = 64;

/// Why `vhost-user` could not attach a VM (the control reply shows it with its causes).
#[derive(Debug, thiserror::Error)]
pub(crate) enum VhostUserError {
    /// No name given and none in the socket path.
    #[error("give --name: the socket path {socket} has no usable file name")]
    NoName {
        /// The socket path.
        socket: String,
    },
    /// The name is empty or too long.
    #[error("the VM name {name:?} must have 1 to {MAX_NAME_LEN} bytes")]
    NameLength {
        /// The name.
        name: String,
    },
    /// The name has a space or a control character.
    #[error("the VM name {name:?} contains a space or a control character")]
    NameCharacters {
        /// The name.
        name: String,
    },
    /// The socket path is empty.
    #[error("the vhost-user socket path is empty")]
    EmptySocket,
    /// The driver refused the station.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The daemon is stopping.
    #[error("the daemon is stopping")]
    Stopping,
    /// The port could not listen on the socket.
    #[error(transparent)]
    Listen(#[from] vwifi_transport_virtio::VhostUserError),
}

/// The VM's name: `name`, or the socket's file stem; printable, at most 64 bytes.
fn vm_name(socket: &std::path::Path, name: Option<String>) -> Result<String, VhostUserError> {
    let name = match name {
        Some(n) => n,
        None => socket
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| VhostUserError::NoName {
                socket: socket.display().to_string(),
            })?,
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(VhostUserError::NameLength { name });
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(VhostUserError::NameCharacters { name });
    }
    Ok(name)
}

/// Admits the VM's station, listens on `socket` and serves the port on a port thread
/// ([`super::threads`]).
pub(crate) async fn attach(
    cmds: &mpsc::Sender<Command>,
    socket: PathBuf,
    name: Option<String>,
) -> Result<VhostUserAttachment, VhostUserError> {
    let name = vm_name(&socket, name)?;
    if socket.as_os_str().is_empty() {
        return Err(VhostUserError::EmptySocket);
    }
    let (reply, answer) = oneshot::channel();
    cmds.send(Command::AdmitNamed {
        name: format!("vm:{name}"),
        reply,
    })
    .await
    .map_err(|_| VhostUserError::Stopping)?;
    let (adm, mac) = answer.await.map_err(|_| VhostUserError::Stopping)??;
    let port = match VhostUserPort::listen(&socket, PortConfig::new(mac.0)) {
        Ok(port) => port,
        Err(e) => {
            tracing::warn!(socket = %socket.display(), %name, error = %error_chain(&e), "vhost-user failed");
            let _ = cmds.send(Command::Gone { guest: adm.guest }).await;
            return Err(e.into());
        }
    };
    tracing::info!(guest = adm.guest.0, socket = %socket.display(), %name, %mac, "vhost-user port listening");
    super::threads::spawn(serve_port(
        port,
        adm.guest,
        adm.name,
        mac,
        adm.outbox,
        adm.flow,
        cmds.clone(),
    ));
    Ok(VhostUserAttachment {
        socket: socket.display().to_string(),
        name,
        mac: mac.to_string(),
        guest: adm.guest.0,
    })
}

/// Serves one VM's port until the session ends or the driver lets the guest go
/// ([`ethernet::serve`] with a [`VhostPort`]).
async fn serve_port(
    port: VhostUserPort,
    guest: GuestId,
    name: String,
    station: MacAddr,
    outbox: OutboxReceiver,
    flow: Arc<LinkFlow>,
    cmds: mpsc::Sender<Command>,
) {
    let handle = port.handle();
    let _ = flow.port_counters.set(Arc::new(VmCounters(handle.clone())));
    let port = VhostPort {
        port,
        handle,
        guest,
        name: name.clone(),
    };
    ethernet::serve(port, guest, name, station, outbox, flow, cmds).await;
}

/// The device's drop counters of a VM, for `status` (its transmit-ring holds are no drops:
/// they are logged when the session ends).
#[derive(Debug)]
struct VmCounters(PortHandle);

impl PortCounters for VmCounters {
    fn counters(&self) -> Vec<(String, u64)> {
        let s = self.0.stats();
        vec![
            // Frames for the VM dropped: it serviced no receive buffers for too long.
            ("vm_rx_no_buffer".into(), s.rx_no_buffer),
            ("vm_rx_too_long".into(), s.rx_too_long),
            // Frames from the VM dropped: runts and oversize, or the host gone.
            ("vm_tx_dropped".into(), s.tx_dropped),
            ("vm_tx_offload_refused".into(), s.tx_offload_refused),
        ]
    }
}

/// A VM's vhost-user NIC as an [`EthernetPort`].
struct VhostPort {
    port: VhostUserPort,
    handle: PortHandle,
    guest: GuestId,
    name: String,
}

#[async_trait]
impl EthernetPort for VhostPort {
    const KIND: &'static str = "vhost-user";

    async fn recv(&mut self) -> FromPort {
        match self.port.recv().await {
            Some(frame) => FromPort::Frame(frame),
            None => FromPort::Ended(self.port.ended().await.to_string()),
        }
    }

    /// Queues the frame on the receive queue; without receive buffers it is dropped (logged).
    async fn send(&mut self, frame: Bytes) -> std::io::Result<()> {
        if !self.handle.send(frame) {
            tracing::trace!(guest = self.guest.0, name = %self.name, "frame for the VM dropped: no receive buffers");
        }
        Ok(())
    }

    /// Queues the batch with one wake-up of the device, which joins runs of TCP segments for
    /// a VM that negotiated the receive offloads; what finds no room is dropped (logged).
    async fn send_batch(&mut self, frames: &[Bytes]) -> std::io::Result<()> {
        let dropped = self.handle.send_batch(frames);
        if dropped > 0 {
            tracing::trace!(guest = self.guest.0, name = %self.name, dropped, "frames for the VM dropped: no receive buffers");
        }
        Ok(())
    }

    /// Frames the VM transmitted are waiting: the loop gathers them into one command.
    fn has_pending(&self) -> bool {
        self.port.has_pending()
    }

    /// The device's link status (config space) follows the association.
    async fn follow_link(&mut self, up: bool) {
        self.handle.set_link(up);
    }

    /// Ends the session (shutdown or removal).
    async fn close(&mut self) {
        self.handle.close();
        tracing::info!(guest = self.guest.0, name = %self.name, "vhost-user port closed");
    }

    fn ended(&mut self, why: &str) {
        let stats = self.handle.stats();
        tracing::info!(
            guest = self.guest.0,
            name = %self.name,
            reason = %why,
            tx_frames = stats.tx_frames,
            rx_frames = stats.rx_frames,
            rx_coalesced = stats.rx_coalesced,
            rx_dropped = stats.rx_no_buffer + stats.rx_too_long,
            tx_dropped = stats.tx_dropped,
            tx_holds = stats.tx_holds,
            "vhost-user session ended"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use vwifi_core::proto::{Event, Message};

    #[test]
    fn the_vm_name_defaults_to_the_socket_stem_and_is_checked() {
        assert_eq!(vm_name(Path::new("/run/vm1.sock"), None).unwrap(), "vm1");
        assert_eq!(
            vm_name(Path::new("/run/x.sock"), Some("lab".into())).unwrap(),
            "lab"
        );
        assert!(vm_name(Path::new("/"), None).is_err());
        assert!(vm_name(Path::new("/a"), Some("a b".into())).is_err());
        assert!(vm_name(Path::new("/a"), Some(String::new())).is_err());
        assert!(vm_name(Path::new("/a"), Some("x".repeat(65))).is_err());
    }

    #[test]
    fn the_link_follows_the_station_events() {
        let dir = tempfile::tempdir().unwrap();
        let port =
            VhostUserPort::listen(&dir.path().join("s"), PortConfig::new([2, 0, 0, 0, 0, 1]))
                .unwrap();
        let h = port.handle();
        assert!(!h.link_up());
        let follow_link = |h: &PortHandle, msg: &Message| {
            if let Some(up) = ethernet::link_change(msg) {
                h.set_link(up);
            }
        };
        follow_link(
            &h,
            &Message::Event(Event::Connected {
                ssid: vwifi_core::proto::Ssid::new(b"lab").unwrap(),
                bssid: MacAddr([2, 0, 0, 0, 0, 2]),
                channel: 1,
            }),
        );
        assert!(h.link_up());
        follow_link(
            &h,
            &Message::Event(Event::Disconnected {
                reason: 3,
                locally_generated: true,
            }),
        );
        assert!(!h.link_up());
    }
}
