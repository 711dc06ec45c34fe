//! The control server: answers one JSON request per connection on the control socket.

use core::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use vwifi_transport_unix::PeerPolicy;

use vwifi_core::crypto::{Passphrase, Psk};
use vwifi_core::proto::{Credentials, Ssid};
use vwifi_core::MacAddr;

use super::netns_locks::NetnsLocks;
use crate::api::{parse_request, Request, Response, Secret, MAX_REQUEST_LEN};
use crate::command::{Command, JoinError};
use crate::error_text::error_chain;
use crate::ports;

/// How long a control client gets to send its request.
const CONTROL_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the control socket until shutdown.
pub(crate) async fn serve_control(
    listener: UnixListener,
    peers: PeerPolicy,
    cmds: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let locks = NetnsLocks::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            r = listener.accept() => r,
        };
        while tasks.try_join_next().is_some() {}
        match accepted {
            Ok((stream, _)) => {
                let allowed = stream
                    .peer_cred()
                    .is_ok_and(|c| peers.allows(c.uid(), c.gid()));
                if !allowed {
                    tracing::warn!("control client refused: its uid and gid are not allowed");
                    continue;
                }
                tasks.spawn(answer_control(stream, cmds.clone(), locks.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tasks.abort_all();
}

/// How long a `join` waits for the station's outcome (the radio gives one sooner: its own
/// authentication and handshake timeouts are shorter).
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The network, access point and credentials of a `join`, or what is wrong with them.
fn join_command(
    ssid: &str,
    bssid: Option<&str>,
    passphrase: Option<Secret>,
    psk: Option<Secret>,
) -> Result<(Ssid, Option<MacAddr>, Credentials), String> {
    let ssid = Ssid::new(ssid.as_bytes()).map_err(|e| format!("bad SSID: {e}"))?;
    let bssid = bssid
        .map(|b| {
            b.parse::<MacAddr>()
                .map_err(|e| format!("bad BSSID {b:?}: {e}"))
        })
        .transpose()?;
    let credentials = match (passphrase, psk) {
        (None, None) => Credentials::None,
        (Some(p), None) => Credentials::Passphrase(
            Passphrase::new(&p.0).map_err(|e| format!("bad passphrase: {e}"))?,
        ),
        (None, Some(k)) => {
            Credentials::Psk(Psk::from_hex(k.0.trim()).ok_or("bad PSK: it must be 64 hex digits")?)
        }
        (Some(_), Some(_)) => return Err("give a passphrase or a PSK, not both".into()),
    };
    Ok((ssid, bssid, credentials))
}

/// Answers one control request. Commands on one namespace are served one after the other
/// ([`NetnsLocks`]): a `detach` and an `attach` sent together never interleave, and a
/// `detach` answers once the interface is gone.
async fn answer_control(stream: UnixStream, cmds: mpsc::Sender<Command>, locks: NetnsLocks) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let limit = u64::try_from(MAX_REQUEST_LEN).unwrap_or(u64::MAX);
    let mut reader = BufReader::new(read.take(limit));
    let read = tokio::time::timeout(CONTROL_READ_TIMEOUT, reader.read_line(&mut line)).await;
    let response = match read {
        Ok(Ok(_)) => match parse_request(&line) {
            Ok(Request::Attach {
                netns,
                netns_path,
                pid,
                ifname,
                native,
                position,
            }) => {
                let ifname = ifname.unwrap_or_else(|| ports::netns::DEFAULT_IFNAME.to_owned());
                let attached = match ports::nsfile::key(netns, netns_path, pid) {
                    Ok(key) if native => {
                        let _serial = locks.lock(&key).await;
                        ports::native::attach(&cmds, key, ifname, position)
                            .await
                            .map(Response::NativeAttached)
                            .map_err(|e| error_chain(&e))
                    }
                    Ok(key) => {
                        let _serial = locks.lock(&key).await;
                        ports::netns::attach(&cmds, key, ifname)
                            .await
                            .map(Response::Attached)
                            .map_err(|e| error_chain(&e))
                    }
                    Err(e) => Err(error_chain(&e)),
                };
                attached.unwrap_or_else(|message| Response::Error { message })
            }
            Ok(Request::Detach {
                netns,
                netns_path,
                pid,
            }) => {
                // A detach names the namespace as attached: a path given as `netns` is taken.
                let (netns, netns_path) = match netns {
                    Some(n) if ports::nsfile::is_path(&n) => (None, Some(n)),
                    other => (other, netns_path),
                };
                match ports::nsfile::key(netns, netns_path, pid) {
                    Err(e) => Response::Error {
                        message: error_chain(&e),
                    },
                    Ok(netns) => {
                        let _serial = locks.lock(&netns).await;
                        let detached = match ports::native::detach(&cmds, &netns).await {
                            Ok(true) => Ok(()),
                            Ok(false) => ports::netns::detach(&cmds, netns.clone())
                                .await
                                .map_err(|e| error_chain(&e)),
                            Err(e) => Err(error_chain(&e)),
                        };
                        match detached {
                            Ok(()) => Response::Detached { netns },
                            Err(message) => Response::Error { message },
                        }
                    }
                }
            }
            Ok(Request::VhostUser { socket, name }) => {
                match ports::vhost_user::attach(&cmds, socket.into(), name).await {
                    Ok(a) => Response::VhostUser(a),
                    Err(e) => Response::Error {
                        message: error_chain(&e),
                    },
                }
            }
            Ok(Request::Join {
                netns,
                netns_path,
                pid,
                ssid,
                bssid,
                passphrase,
                psk,
            }) => {
                let asked = ports::nsfile::key(netns, netns_path, pid)
                    .map_err(|e| error_chain(&e))
                    .and_then(|key| {
                        join_command(&ssid, bssid.as_deref(), passphrase, psk).map(|c| (key, c))
                    });
                match asked {
                    Err(message) => Response::Error { message },
                    Ok((netns, (ssid, bssid, credentials))) => {
                        let (reply, answer) = oneshot::channel();
                        let cmd = Command::Join {
                            netns: netns.clone(),
                            ssid,
                            bssid,
                            credentials,
                            reply,
                        };
                        if cmds.send(cmd).await.is_err() {
                            return;
                        }
                        match tokio::time::timeout(JOIN_TIMEOUT, answer).await {
                            Ok(Ok(Ok(j))) => Response::Joined {
                                netns,
                                bssid: j.bssid.to_string(),
                                channel: j.channel,
                            },
                            Ok(Ok(Err(JoinError::Failed(reason)))) => {
                                let (code, detail) = reason.to_code();
                                Response::JoinFailed {
                                    netns,
                                    code,
                                    detail,
                                }
                            }
                            Ok(Ok(Err(e))) => Response::Error {
                                message: error_chain(&e),
                            },
                            Ok(Err(_)) => Response::Error {
                                message: JoinError::Superseded.to_string(),
                            },
                            Err(_) => Response::Error {
                                message: format!(
                                    "the station did not join within {} s",
                                    JOIN_TIMEOUT.as_secs()
                                ),
                            },
                        }
                    }
                }
            }
            Ok(Request::Capture { channel, band }) => {
                match crate::lab::capture::channel(channel, band.as_deref()) {
                    Err(message) => Response::Error { message },
                    Ok(picked) => {
                        let (reply, answer) = oneshot::channel();
                        let cmd = Command::Capture {
                            channel: picked,
                            reply,
                        };
                        if cmds.send(cmd).await.is_err() {
                            return;
                        }
                        match answer.await {
                            Ok(Ok(sub)) => {
                                let head = Response::Capturing { channel, band };
                                let Ok(mut text) = serde_json::to_string(&head) else {
                                    return;
                                };
                                text.push('\n');
                                if write.write_all(text.as_bytes()).await.is_err() {
                                    return;
                                }
                                let (frames, lost) =
                                    crate::lab::capture::stream(sub, reader.into_inner(), write)
                                        .await;
                                tracing::info!(frames, lost, "a live capture ended");
                                return;
                            }
                            Ok(Err(message)) => Response::Error { message },
                            Err(_) => return,
                        }
                    }
                }
            }
            Ok(
                request @ (Request::SimNodes
                | Request::SimMove { .. }
                | Request::SimLink { .. }
                | Request::SimAp(_)),
            ) => {
                let (reply, answer) = oneshot::channel();
                if cmds.send(Command::Sim { request, reply }).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(r) => r,
                    Err(_) => return,
                }
            }
            Ok(Request::Status) => {
                let (reply, answer) = oneshot::channel();
                if cmds.send(Command::Snapshot { reply }).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(s) => Response::Status(s),
                    Err(_) => return,
                }
            }
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        Ok(Err(e)) => Response::Error {
            message: format!("cannot read the request: {e}"),
        },
        Err(_) => Response::Error {
            message: "no request within 5 s".into(),
        },
    };
    let Ok(mut text) = serde_json::to_string(&response) else {
        return;
    };
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
    let _ = write.shutdown().await;
}
