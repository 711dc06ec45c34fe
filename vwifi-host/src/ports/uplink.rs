//! The uplink TAP: the wired side of the APs' bridge, in the daemon's own namespace.

use tokio::sync::mpsc;

use crate::command::Command;

/// Serves the uplink TAP: frames read from it go to the bridge, the bridge's frames for it are
/// written to it. Ends when the driver stops (or the TAP fails, logged).
pub(crate) async fn serve_uplink_tap(
    tap: tun_rs::AsyncDevice,
    name: String,
    mut frames: mpsc::Receiver<bytes::Bytes>,
    cmds: mpsc::Sender<Command>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            r = tap.recv(&mut buf) => match r {
                Ok(n) => {
                    let frame = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if cmds.send(Command::Wired { frame }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e, "uplink TAP read failed: the uplink stops");
                    return;
                }
            },
            f = frames.recv() => match f {
                Some(frame) => {
                    if let Err(e) = tap.send(&frame).await {
                        tracing::debug!(%name, error = %e, "uplink TAP write failed");
                    }
                }
                None => return,
            },
        }
    }
}

/// Creates (or takes up again) the persistent uplink TAP `name` in the daemon's namespace, up.
pub(crate) fn create_uplink_tap(name: &str) -> std::io::Result<tun_rs::AsyncDevice> {
    let dev = tun_rs::DeviceBuilder::new()
        .name(name)
        .layer(tun_rs::Layer::L2)
        .enable(true)
        .build_sync()?;
    // Its addresses (given by the host) survive a restart of the daemon.
    dev.persist()?;
    tun_rs::AsyncDevice::new(dev)
}
