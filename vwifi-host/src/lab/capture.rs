//! Live capture of the simulated air: subscribers of the driver, and the control connection
//! that streams one subscriber's frames as pcapng.
//!
//! # Flow
//! A `{"request":"capture","channel":N}` on the control socket subscribes
//! ([`Command::Capture`](crate::command::Command::Capture)): while anyone subscribes, the
//! medium's tap is on ([`vwifi_core::sim::medium::Medium::enable_tap`]). After each turn the
//! driver hands the frames tapped to every subscriber ([`Subscribers::publish`]) in batches
//! of at most [`BATCH`] frames through a queue of [`QUEUE`] batches: a full queue loses the
//! batch (counted, [`Subscription::lost`]); the driver never waits for a reader, so a slow
//! one never slows the air. The connection's task turns the batches into pcapng
//! ([`vwifi_core::sim::pcapng`]) off the driver's task, and after a loss writes an Interface
//! Statistics Block with the total lost (`isb_ifdrop`): Wireshark shows it as dropped
//! packets, and `vwifi-host capture` prints it when it ends.
//!
//! Only what is on the air is captured: protected frames as sent (encrypted), no key and no
//! secret ever (the tap sees frames, not the stations' state).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use vwifi_core::channel::{Band, Channel};
use vwifi_core::sim::medium::AirFrame;
use vwifi_core::sim::pcapng::PcapngWriter;

/// The most frames in one batch handed to a subscriber.
pub(crate) const BATCH: usize = 64;
/// The most batches waiting for one subscriber (so at most `BATCH * QUEUE` frames).
pub(crate) const QUEUE: usize = 128;
/// The most frames the medium's tap holds between two turns of the driver.
pub(crate) const TAP_LIMIT: usize = 1 << 16;

/// One subscriber's end, for the control connection.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The frames, in batches.
    pub(crate) frames: mpsc::Receiver<Arc<[AirFrame]>>,
    /// Frames lost because the queue was full.
    pub(crate) lost: Arc<AtomicU64>,
    /// The Unix time of the air's time zero, microseconds (frames carry the air's time).
    pub(crate) epoch_us: u64,
}

#[derive(Debug)]
struct Subscriber {
    channel: Option<Channel>,
    tx: mpsc::Sender<Arc<[AirFrame]>>,
    lost: Arc<AtomicU64>,
}

/// The channel a capture asks for: `number` in `band` (`"2.4"`, `"5"` or `"6"`; without a band
/// the number names a 2.4 or 5 GHz channel), or every channel; a message for the client if
/// there is no such channel.
pub(crate) fn channel(number: Option<u8>, band: Option<&str>) -> Result<Option<Channel>, String> {
    let band = band
        .map(|name| Band::from_name(name).ok_or(format!("no band {name:?} (2.4, 5 or 6)")))
        .transpose()?;
    match (number, band) {
        (None, None) => Ok(None),
        (None, Some(b)) => Err(format!("a band ({} GHz) needs a channel number", b.name())),
        (Some(n), None) => Channel::new(n).map(Some).map_err(|_| {
            format!("no channel {n} (2.4 GHz 1-14 or a 5 GHz 20 MHz channel; 6 GHz: give band 6)")
        }),
        (Some(n), Some(b)) => Channel::in_band(b, n)
            .map(Some)
            .map_err(|_| format!("no channel {n} in the {} GHz band", b.name())),
    }
}

/// The driver's capture subscribers.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    subs: Vec<Subscriber>,
    /// The medium tap's overflow already counted as lost.
    overflow_seen: u64,
}

impl Subscribers {
    /// A new subscriber of `channel`'s frames (every channel's if `None`).
    pub(crate) fn subscribe(&mut self, channel: Option<Channel>, epoch_us: u64) -> Subscription {
        let (tx, frames) = mpsc::channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        self.subs.push(Subscriber {
            channel,
            tx,
            lost: lost.clone(),
        });
        Subscription {
            frames,
            lost,
            epoch_us,
        }
    }

    /// Whether anyone subscribes (forgetting those who left).
    pub(crate) fn is_empty(&mut self) -> bool {
        self.subs.retain(|s| !s.tx.is_closed());
        self.subs.is_empty()
    }

    /// Hands `frames` to every subscriber; `overflow` is the medium tap's overflow count so
    /// far (frames lost before anyone could take them: lost for every subscriber).
    pub(crate) fn publish(&mut self, frames: Vec<AirFrame>, overflow: u64) {
        let missed = overflow.saturating_sub(self.overflow_seen);
        self.overflow_seen = self.overflow_seen.max(overflow);
        if missed > 0 {
            for s in &self.subs {
                s.lost.fetch_add(missed, Ordering::Relaxed);
            }
        }
        if frames.is_empty() {
            return;
        }
        let all: Vec<Arc<[AirFrame]>> = frames.chunks(BATCH).map(Arc::from).collect();
        self.subs.retain(|s| {
            let mine: Vec<Arc<[AirFrame]>> = match s.channel {
                None => all.clone(),
                Some(ch) => frames
                    .iter()
                    .filter(|f| f.info.channel == ch)
                    .cloned()
                    .collect::<Vec<_>>()
                    .chunks(BATCH)
                    .map(Arc::from)
                    .collect(),
            };
            for batch in mine {
                match s.tx.try_send(batch) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(b)) => {
                        s.lost.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
    }
}

/// Streams `sub` as pcapng into `out` until the subscription ends (the daemon stops) or the
/// client goes (a write fails, or `input` ends). Returns the frames written and lost.
pub(crate) async fn stream(
    mut sub: Subscription,
    mut input: impl AsyncRead + Unpin,
    mut out: impl AsyncWrite + Unpin,
) -> (u64, u64) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut w = PcapngWriter::new(&mut buf, Some("vwifi simulated air"));
    let (mut written, mut reported) = (0u64, 0u64);
    let mut probe = [0u8; 64];
    loop {
        if out.write_all(&buf).await.is_err() || out.flush().await.is_err() {
            break;
        }
        buf.clear();
        let batch = tokio::select! {
            b = sub.frames.recv() => b,
            // The client never sends after its request: readable means it closed.
            r = input.read(&mut probe) => match r {
                Ok(n) if n > 0 => continue,
                _ => break,
            },
        };
        let Some(batch) = batch else {
            break;
        };
        for f in batch.iter() {
            let at = sub.epoch_us.saturating_add(f.at.as_micros());
            w.write_frame(&mut buf, at, &f.info, &f.frame);
            written += 1;
        }
        // Take what else is queued, up to a few batches per write.
        for _ in 0..8 {
            let Ok(more) = sub.frames.try_recv() else {
                break;
            };
            for f in more.iter() {
                let at = sub.epoch_us.saturating_add(f.at.as_micros());
                w.write_frame(&mut buf, at, &f.info, &f.frame);
                written += 1;
            }
        }
        let lost = sub.lost.load(Ordering::Relaxed);
        if lost != reported {
            let at = batch.last().map_or(sub.epoch_us, |f| {
                sub.epoch_us.saturating_add(f.at.as_micros())
            });
            w.write_drops(&mut buf, at, lost);
            reported = lost;
        }
    }
    let lost = sub.lost.load(Ordering::Relaxed);
    if lost != reported {
        buf.clear();
        w.write_drops(&mut buf, sub.epoch_us, lost);
        let _ = out.write_all(&buf).await;
    }
    let _ = out.shutdown().await;
    (written, lost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwifi_core::phy::TxVector;
    use vwifi_core::sim::medium::PhyRate;
    use vwifi_core::sim::pcap::RadioInfo;
    use vwifi_core::Instant;

    fn frame(ch: u8, n: u64) -> AirFrame {
        frame_on(Channel::new(ch).unwrap(), n)
    }

    fn frame_on(channel: Channel, n: u64) -> AirFrame {
        AirFrame {
            at: Instant::from_micros(n),
            info: RadioInfo {
                channel,
                rate: TxVector::Legacy(PhyRate::Ofdm6),
                signal_dbm: None,
            },
            frame: bytes::Bytes::from_static(&[0x80, 0, 0, 0]),
        }
    }

    #[test]
    fn a_channel_is_named_by_number_and_band_and_six_ghz_is_told_apart() {
        assert_eq!(channel(None, None), Ok(None));
        assert_eq!(channel(Some(6), None), Ok(Some(Channel::new(6).unwrap())));
        assert_eq!(channel(Some(36), Some("5")), Ok(Channel::new(36).ok()));
        let six = Channel::six_ghz(37).unwrap();
        assert_eq!(channel(Some(37), Some("6")), Ok(Some(six)));
        for (number, band, says) in [
            (Some(37), None, "give band 6"),
            (Some(36), Some("6"), "no channel 36 in the 6 GHz band"),
            (Some(1), Some("7"), "no band \"7\""),
            (None, Some("6"), "needs a channel number"),
        ] {
            let e = channel(number, band).unwrap_err();
            assert!(e.contains(says), "{number:?} {band:?}: {e}");
        }
        // A subscriber of 2.4 GHz channel 1 gets none of 6 GHz channel 1's frames.
        let mut subs = Subscribers::default();
        let mut one = subs.subscribe(Some(Channel::new(1).unwrap()), 0);
        let mut six_one = subs.subscribe(Some(Channel::six_ghz(1).unwrap()), 0);
        subs.publish(
            vec![
                frame(1, 1),
                frame_on(Channel::six_ghz(1).unwrap(), 2),
                frame(1, 3),
            ],
            0,
        );
        let got = one.frames.try_recv().unwrap();
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|f| f.info.channel == Channel::new(1).unwrap()));
        let got = six_one.frames.try_recv().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].info.channel.frequency_mhz(), 5955);
    }

    #[test]
    fn a_slow_subscriber_loses_whole_batches_counted_and_never_blocks() {
        let mut subs = Subscribers::default();
        let mut slow = subs.subscribe(None, 0);
        let mut ch6 = subs.subscribe(Some(Channel::new(6).unwrap()), 0);
        // More batches than the queue holds, nobody reading: publish returns every time.
        for i in 0..(QUEUE as u64 + 10) {
            subs.publish(
                (0..BATCH as u64)
                    .map(|n| frame(if n == 0 { 6 } else { 1 }, i * 100 + n))
                    .collect(),
                0,
            );
        }
        assert_eq!(slow.lost.load(Ordering::Relaxed), 10 * BATCH as u64);
        // The channel-6 subscriber got one frame per publish: its queue held them all
        // until full, then lost one per publish.
        assert_eq!(ch6.lost.load(Ordering::Relaxed), 10);
        let first = ch6.frames.try_recv().unwrap();
        assert!(first.iter().all(|f| f.info.channel.number() == 6));
        // The tap's overflow is lost for everyone.
        subs.publish(Vec::new(), 5);
        subs.publish(Vec::new(), 5);
        assert_eq!(ch6.lost.load(Ordering::Relaxed), 15);
        // A subscriber that left is forgotten.
        drop(slow.frames.try_recv());
        drop(slow);
        assert!(!subs.is_empty());
        drop(ch6);
        assert!(subs.is_empty());
    }

    #[tokio::test]
    async fn the_stream_is_pcapng_with_a_loss_report() {
        use vwifi_core::sim::pcapng::{next_block, BLOCK_EPB, BLOCK_IDB, BLOCK_ISB, BLOCK_SHB};
        let mut subs = Subscribers::default();
        let sub = subs.subscribe(None, 1_700_000_000_000_000);
        subs.publish(vec![frame(1, 1), frame(6, 2)], 3);
        drop(subs); // the daemon stops: the stream ends
        let (client, server) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server);
        let (written, lost) = stream(sub, server_read, server_write).await;
        assert_eq!((written, lost), (2, 3));
        let mut bytes = Vec::new();
        let (mut client_read, _client_write) = tokio::io::split(client);
        client_read.read_to_end(&mut bytes).await.unwrap();
        let mut kinds = Vec::new();
        let mut rest = &bytes[..];
        let mut drops = None;
        while let Some((b, n)) = next_block(rest).unwrap() {
            kinds.push(b.kind);
            drops = b.ifdrop().or(drops);
            rest = &rest[n..];
        }
        assert_eq!(
            kinds,
            [BLOCK_SHB, BLOCK_IDB, BLOCK_EPB, BLOCK_IDB, BLOCK_EPB, BLOCK_ISB]
        );
        assert_eq!(drops, Some(3));
    }
}
