//! The uplink TAP: the wired side of the APs' bridge, in the daemon's own namespace.

use tokio::sync::mpsc;

use crate::command::Command;

/// How long the uplink waits before trying again to recreate its TAP.
const RECREATE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Serves the uplink TAP: frames read from it go to the bridge, the bridge's frames for it are
/// written to it. Ends when the driver stops. When the TAP fails (deleted under the daemon,
/// `ip link del`), the driver is told (`status` shows it), the bridge's frames for it are
/// dropped, and the TAP is created again every [`RECREATE_EVERY`] until that works (the host
/// must give it its address again).
pub(crate) async fn serve_uplink_tap(
    mut tap: tun_rs::AsyncDevice,
    name: String,
    mut frames: mpsc::Receiver<bytes::Bytes>,
    cmds: mpsc::Sender<Command>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let why = loop {
            tokio::select! {
                r = tap.recv(&mut buf) => match r {
                    Ok(n) => {
                        let frame = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                        if cmds.send(Command::Wired { frame }).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => break format!("uplink TAP {name} failed: {e}"),
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
        };
        tracing::warn!(%name, reason = %why, "the uplink is down: recreating its TAP");
        if cmds
            .send(Command::UplinkDown { why: Some(why) })
            .await
            .is_err()
        {
            return;
        }
        tap = loop {
            tokio::select! {
                f = frames.recv() => match f {
                    Some(_) => continue,
                    None => return,
                },
                () = tokio::time::sleep(RECREATE_EVERY) => {}
            }
            match create_uplink_tap(&name) {
                Ok(tap) => break tap,
                Err(e) => tracing::debug!(%name, error = %e, "uplink TAP not recreated yet"),
            }
        };
        tracing::info!(%name, "uplink TAP recreated");
        if cmds.send(Command::UplinkDown { why: None }).await.is_err() {
            return;
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
