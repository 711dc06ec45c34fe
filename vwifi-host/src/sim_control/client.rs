//! The CLI's side of the lab: `vwifi-host sim ...` (one request, one answer, printed) and
//! `vwifi-host capture` (the pcapng stream copied to a file or standard output, whole blocks
//! at a time, counting frames and losses).

use core::fmt::Write as _;
use core::time::Duration;
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use vwifi_core::sim::pcapng::{next_block, BLOCK_EPB};

use crate::api::{NodeSnapshot, Request, Response, Secret, SimApRequest};
use crate::cli::{CaptureArgs, SimApCommand, SimArgs, SimCommand};
use crate::config::{control_socket, socket_or_default};
use crate::control;
use crate::error::HostError;

/// How long `capture` waits for the daemon's first answer.
const CAPTURE_START_TIMEOUT: Duration = Duration::from_secs(5);

/// `vwifi-host sim ...`: sends the request, prints the answer.
pub(crate) fn sim(
    args: SimArgs,
    input: &mut impl io::BufRead,
    out: &mut impl io::Write,
) -> Result<(), HostError> {
    let ctl = control_socket(&socket_or_default(args.socket));
    let mut json = false;
    let req = match args.command {
        SimCommand::Nodes { json: j } => {
            json = j;
            Request::SimNodes
        }
        SimCommand::Move {
            node,
            x,
            y,
            path,
            speed,
        } => {
            let moving = !path.is_empty();
            Request::SimMove {
                node,
                x,
                y,
                path: moving.then_some(path),
                speed_mps: moving.then_some(speed),
            }
        }
        SimCommand::Link { a, b, loss, .. } => Request::SimLink {
            a,
            b,
            loss: loss.unwrap_or(0.0),
        },
        SimCommand::Ap(ap) => Request::SimAp(match ap {
            SimApCommand::Add {
                ssid,
                channel,
                band,
                standard,
                x,
                y,
                bssid,
                passphrase_stdin,
            } => {
                let passphrase = if passphrase_stdin {
                    let line = crate::psk::read_first_line(input)?;
                    Some(Secret(line.as_str().to_owned()))
                } else {
                    None
                };
                SimApRequest::Add {
                    ssid,
                    channel,
                    band,
                    standard,
                    x,
                    y,
                    bssid,
                    passphrase,
                }
            }
            SimApCommand::Remove { node } => SimApRequest::Remove { node },
            SimApCommand::Stop { node } => SimApRequest::Stop { node },
            SimApCommand::Start { node } => SimApRequest::Start { node },
        }),
    };
    let answer = control::request(&ctl, &req)?;
    let text = match answer {
        Response::Nodes(nodes) if json => {
            let mut t = serde_json::to_string_pretty(&nodes).map_err(HostError::ControlJson)?;
            t.push('\n');
            t
        }
        Response::Nodes(nodes) => format_nodes(&nodes),
        Response::Node(n) => format_nodes(&[n]),
        Response::Link { a, b, loss: 0.0 } => format!("{a} <-> {b}: no extra loss\n"),
        Response::Link { a, b, loss } => format!("{a} <-> {b}: extra loss {loss}\n"),
        Response::Removed { node } => format!("{node} removed\n"),
        other => format!("{other:?}\n"),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HostError::WriteStdout)
}

/// The nodes as a table, one line each.
pub(crate) fn format_nodes(nodes: &[NodeSnapshot]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<6} {:<17} {:<16} {:>5} {:>20} {:<5} NOTES",
        "NAME", "KIND", "MAC", "SSID", "CH", "POSITION (m)", "AIR"
    );
    for n in nodes {
        let mut notes = Vec::new();
        if let Some(s) = n.speed_mps {
            notes.push(format!(
                "moving at {s} m/s, {} waypoint(s) left",
                n.path.len()
            ));
        }
        if !n.stations.is_empty() {
            notes.push(format!("stations {}", n.stations.join(" ")));
        }
        for (other, p) in &n.link_loss {
            notes.push(format!("loss {p} to {other}"));
        }
        let row = format!(
            "{:<8} {:<6} {:<17} {:<16} {:>5} {:>20} {:<5} {}",
            n.name,
            n.kind,
            if n.mac.is_empty() { "-" } else { &n.mac },
            n.ssid.as_deref().unwrap_or("-"),
            // 6 GHz channels as `6g37`: their numbers repeat the 2.4 and 5 GHz ones.
            vwifi_core::channel::Channel::from_frequency_mhz(n.frequency_mhz)
                .map_or_else(|| n.channel.to_string(), |c| c.label()),
            format!("({:.1}, {:.1})", n.x, n.y),
            if n.on_air { "on" } else { "OFF" },
            notes.join("; ")
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// Where the capture goes.
enum Sink {
    Stdout(io::Stdout),
    File(std::fs::File, PathBuf),
}

impl Sink {
    fn open(path: &Path) -> Result<Self, HostError> {
        if path.as_os_str() == "-" {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                return Err(HostError::CaptureToTerminal);
            }
            return Ok(Self::Stdout(stdout));
        }
        std::fs::File::create(path)
            .map(|f| Self::File(f, path.to_path_buf()))
            .map_err(|source| HostError::CaptureWrite {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes and flushes; `Ok(false)` if the reader went away (a closed pipe).
    fn write(&mut self, bytes: &[u8]) -> Result<bool, HostError> {
        let r = match self {
            Self::Stdout(s) => {
                let mut l = s.lock();
                l.write_all(bytes).and_then(|()| l.flush())
            }
            Self::File(f, _) => f.write_all(bytes).and_then(|()| f.flush()),
        };
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(source) => Err(HostError::CaptureWrite {
                path: match self {
                    Self::Stdout(_) => PathBuf::from("-"),
                    Self::File(_, p) => p.clone(),
                },
                source,
            }),
        }
    }
}

/// `vwifi-host capture`: copies the daemon's pcapng stream until it ends, --count frames,
/// --duration, Ctrl-C or the reader closing; then says how many frames were written and lost.
pub(crate) fn capture(args: CaptureArgs) -> Result<(), HostError> {
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            return Err(HostError::ControlRefused {
                message: format!("--duration {d}: give a number of seconds above 0"),
            });
        }
    }
    let ctl = control_socket(&socket_or_default(args.socket.socket.clone()));
    let mut sink = Sink::open(&args.write)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HostError::Runtime)?;
    let (frames, lost) = rt.block_on(copy_stream(&ctl, &args, &mut sink))?;
    let mut line = format!("vwifi-host capture: {frames} frames");
    match lost {
        0 => line.push_str(", none lost"),
        n => {
            let _ = write!(
                line,
                ", {n} lost (the reader was too slow; the air never waits)"
            );
        }
    }
    // Nothing more can be done if standard error is gone.
    let _ = writeln!(io::stderr().lock(), "{line}");
    Ok(())
}

async fn copy_stream(
    ctl: &Path,
    args: &CaptureArgs,
    sink: &mut Sink,
) -> Result<(u64, u64), HostError> {
    let io_err = |source| HostError::Control {
        path: ctl.to_path_buf(),
        source,
    };
    let stream = tokio::net::UnixStream::connect(ctl).await.map_err(io_err)?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(&Request::Capture {
        channel: args.channel,
        band: args.band.clone(),
    })
    .map_err(HostError::ControlJson)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(io_err)?;
    let mut reader = BufReader::new(read);
    let mut head = String::new();
    tokio::time::timeout(CAPTURE_START_TIMEOUT, reader.read_line(&mut head))
        .await
        .map_err(|_| io_err(io::ErrorKind::TimedOut.into()))?
        .map_err(io_err)?;
    match serde_json::from_str(&head).map_err(HostError::ControlJson)? {
        Response::Capturing { .. } => {}
        Response::Error { message } => return Err(HostError::ControlRefused { message }),
        other => {
            return Err(HostError::ControlRefused {
                message: format!("unexpected answer {other:?}"),
            })
        }
    }
    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let until = async move {
        match deadline {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let (mut frames, mut lost) = (0u64, 0u64);
    let mut pending: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];
    'copy: loop {
        let n = tokio::select! {
            r = reader.read(&mut chunk) => r.map_err(io_err)?,
            () = &mut until => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        if n == 0 {
            break;
        }
        pending.extend_from_slice(chunk.get(..n).unwrap_or_default());
        // Pass whole blocks only, so a cut stream (--count, Ctrl-C) stays a valid file.
        let mut used = 0;
        let mut stop = false;
        while let Some((block, len)) =
            next_block(pending.get(used..).unwrap_or_default()).map_err(HostError::CaptureStream)?
        {
            if block.kind == BLOCK_EPB {
                if args.count.is_some_and(|c| frames >= c) {
                    stop = true;
                    break;
                }
                frames += 1;
            }
            if let Some(d) = block.ifdrop() {
                lost = d;
            }
            used += len;
        }
        if !sink.write(pending.get(..used).unwrap_or_default())? {
            break 'copy;
        }
        pending.drain(..used);
        if stop || args.count.is_some_and(|c| frames >= c) {
            break;
        }
    }
    Ok((frames, lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake daemon on `ctl` that answers a capture with `stream` and closes.
    async fn fake_daemon(ctl: &Path, answer: &'static str, stream: Vec<u8>) {
        let listener = tokio::net::UnixListener::bind(ctl).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut line = String::new();
            BufReader::new(r).read_line(&mut line).await.unwrap();
            assert!(line.starts_with("{\"request\":\"capture\""), "{line}");
            w.write_all(answer.as_bytes()).await.unwrap();
            w.write_all(&stream).await.unwrap();
        });
    }

    fn stream_of(frames: u64, dropped: u64) -> Vec<u8> {
        use vwifi_core::channel::Channel;
        use vwifi_core::phy::TxVector;
        use vwifi_core::sim::medium::PhyRate;
        use vwifi_core::sim::pcap::RadioInfo;
        use vwifi_core::sim::pcapng::PcapngWriter;
        let mut out = Vec::new();
        let mut w = PcapngWriter::new(&mut out, None);
        let info = RadioInfo {
            channel: Channel::new(1).unwrap(),
            rate: TxVector::Legacy(PhyRate::Ofdm6),
            signal_dbm: None,
        };
        for n in 0..frames {
            w.write_frame(&mut out, n, &info, &[0x80, 0, 0, 0]);
        }
        w.write_drops(&mut out, frames, dropped);
        out
    }

    fn args(ctl_socket: &Path, write: &Path, count: Option<u64>) -> CaptureArgs {
        CaptureArgs {
            write: write.to_path_buf(),
            channel: None,
            band: None,
            count,
            duration: None,
            socket: crate::cli::SocketArg {
                socket: Some(ctl_socket.to_path_buf()),
            },
        }
    }

    #[tokio::test]
    async fn the_client_counts_frames_and_the_losses_the_stream_reports() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let ctl = control_socket(&socket);
        fake_daemon(
            &ctl,
            "{\"capturing\":{\"channel\":null}}\n",
            stream_of(5, 7),
        )
        .await;
        let file = dir.path().join("out.pcapng");
        let a = args(&socket, &file, None);
        let mut sink = Sink::open(&file).unwrap();
        assert_eq!(copy_stream(&ctl, &a, &mut sink).await.unwrap(), (5, 7));
        assert_eq!(std::fs::read(&file).unwrap(), stream_of(5, 7));
    }

    #[tokio::test]
    async fn count_cuts_the_stream_at_a_block_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let ctl = control_socket(&socket);
        fake_daemon(
            &ctl,
            "{\"capturing\":{\"channel\":null}}\n",
            stream_of(5, 0),
        )
        .await;
        let file = dir.path().join("out.pcapng");
        let a = args(&socket, &file, Some(2));
        let mut sink = Sink::open(&file).unwrap();
        assert_eq!(copy_stream(&ctl, &a, &mut sink).await.unwrap(), (2, 0));
        // Whole blocks: the SHB, the IDB and two EPBs.
        let bytes = std::fs::read(&file).unwrap();
        let mut rest = &bytes[..];
        let mut kinds = Vec::new();
        while let Some((b, n)) = next_block(rest).unwrap() {
            kinds.push(b.kind);
            rest = &rest[n..];
        }
        assert!(rest.is_empty());
        assert_eq!(kinds.len(), 4, "{kinds:?}");
    }

    #[tokio::test]
    async fn a_refusal_and_a_broken_stream_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let ctl = control_socket(&socket);
        fake_daemon(&ctl, "{\"error\":{\"message\":\"no sim\"}}\n", Vec::new()).await;
        let file = dir.path().join("out.pcapng");
        let a = args(&socket, &file, None);
        let mut sink = Sink::open(&file).unwrap();
        let e = copy_stream(&ctl, &a, &mut sink).await.unwrap_err();
        assert!(e.to_string().contains("no sim"), "{e}");
        let socket2 = dir.path().join("t.sock");
        let ctl2 = control_socket(&socket2);
        fake_daemon(
            &ctl2,
            "{\"capturing\":{\"channel\":1}}\n",
            vec![1, 2, 3, 4, 5, 0, 0, 0, 0],
        )
        .await;
        let a = args(&socket2, &file, None);
        let e = copy_stream(&ctl2, &a, &mut sink).await.unwrap_err();
        assert!(matches!(e, HostError::CaptureStream(_)), "{e:?}");
    }

    #[test]
    fn the_nodes_table_has_one_aligned_row_per_node_with_its_notes() {
        let nodes = vec![
            NodeSnapshot {
                name: "ap1".into(),
                kind: "ap".into(),
                mac: "02:76:77:01:00:01".into(),
                ssid: Some("vwifi-lab".into()),
                x: 0.0,
                y: 5.0,
                channel: 1,
                on_air: false,
                ..NodeSnapshot::default()
            },
            NodeSnapshot {
                name: "host".into(),
                kind: "host".into(),
                x: 2.0,
                y: 2.0,
                channel: 1,
                on_air: true,
                speed_mps: Some(1.5),
                path: vec![[10.0, 0.0]],
                stations: vec!["02:aa:00:00:00:01".into()],
                link_loss: vec![("ap1".into(), 0.25)],
                ..NodeSnapshot::default()
            },
            NodeSnapshot {
                name: "ap2".into(),
                kind: "ap".into(),
                channel: 37,
                frequency_mhz: 6135,
                on_air: true,
                ..NodeSnapshot::default()
            },
        ];
        let text = format_nodes(&nodes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].contains("vwifi-lab") && lines[1].contains("OFF"),
            "{text}"
        );
        assert!(
            lines[2].contains("moving at 1.5 m/s, 1 waypoint(s) left"),
            "{text}"
        );
        assert!(lines[2].contains("loss 0.25 to ap1"), "{text}");
        let col = lines[0].find("AIR").unwrap();
        assert_eq!(&lines[1][col..col + 3], "OFF");
        assert_eq!(&lines[2][col..col + 2], "on");
        let ch = lines[0].find(" CH").unwrap() + 1;
        assert_eq!(&lines[3][ch - 2..ch + 2], "6g37", "{text}");
        assert_eq!(&lines[1][ch - 2..ch + 2], "   1", "{text}");
    }
}
