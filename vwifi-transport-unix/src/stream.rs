//! The guest protocol over any byte stream.

use core::time::Duration;
use std::io;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use vwifi_core::io::{GuestLink, GuestRx, GuestTx, LinkError, PeerInfo};
use vwifi_core::proto::{self, Decoder, Message, MessageType};
use zeroize::Zeroize;

/// The default [`LinkConfig::write_timeout`]: 5 seconds.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [`LinkConfig::read_chunk`]: 16 KiB.
pub const DEFAULT_READ_CHUNK: usize = 16 * 1024;

/// The settings of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// How long one [`StreamTx::send`] may wait for the peer to take a message. A peer that
    /// stops reading then fails its link with [`LinkError::WriteTimeout`] instead of blocking the
    /// host. Default [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// How many bytes one read from the stream takes at most. The receive buffer holds at most
    /// one partial message ([`proto::MAX_MESSAGE_LEN`]) plus one such chunk. Default
    /// [`DEFAULT_READ_CHUNK`]; a value of 0 is taken as 1.
    pub read_chunk: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            read_chunk: DEFAULT_READ_CHUNK,
        }
    }
}

/// A guest link over a Unix socket, as [`crate::UnixGuestListener`] and [`crate::connect`]
/// make it.
pub type UnixLink = StreamLink<OwnedReadHalf, OwnedWriteHalf>;

/// A [`GuestLink`] over a byte stream: a Unix socket, vsock, a virtio-serial port, or anything
/// else that is [`AsyncRead`] and [`AsyncWrite`].
///
/// Messages go back to back on the stream, each delimited by the length in its header
/// ([`vwifi_core::proto`]); [`Decoder`] checks every header as soon as it arrives, so an
/// over-long length, a bad magic byte or an unknown version ends the link before any of the
/// announced body is buffered. See [`StreamRx::recv`] and [`StreamTx::send`] for what each
/// direction guarantees.
#[derive(Debug)]
pub struct StreamLink<R, W> {
    rx: StreamRx<R>,
    tx: StreamTx<W>,
}

impl<S: AsyncRead + AsyncWrite> StreamLink<ReadHalf<S>, WriteHalf<S>> {
    /// A link over `stream`, whose peer is `peer` (as far as the caller can vouch for it: see
    /// [`PeerInfo`]). The stream is split with [`tokio::io::split`]; for a Unix socket,
    /// [`StreamLink::unix`] splits it without a lock.
    pub fn new(stream: S, peer: PeerInfo, config: LinkConfig) -> Self {
        let (r, w) = tokio::io::split(stream);
        Self::from_halves(r, w, peer, config)
    }
}

impl StreamLink<OwnedReadHalf, OwnedWriteHalf> {
    /// A link over a connected Unix socket.
    pub fn unix(stream: UnixStream, peer: PeerInfo, config: LinkConfig) -> Self {
        let (r, w) = stream.into_split();
        Self::from_halves(r, w, peer, config)
    }
}

impl<R, W> StreamLink<R, W> {
    /// A link that reads from `reader` and writes to `writer` (two halves of one stream, or two
    /// one-way streams such as a pair of pipes).
    pub fn from_halves(reader: R, writer: W, peer: PeerInfo, config: LinkConfig) -> Self {
        Self {
            rx: StreamRx::new(reader, peer, config),
            tx: StreamTx::new(writer, peer, config),
        }
    }

    /// The receiving and sending halves, to use from different tasks without boxing them
    /// ([`GuestLink::split`] gives them boxed).
    pub fn into_halves(self) -> (StreamRx<R>, StreamTx<W>) {
        (self.rx, self.tx)
    }

    /// Who is at the other end.
    pub const fn peer(&self) -> PeerInfo {
        self.rx.peer
    }

    /// How many bytes are buffered: received, not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.rx.buffered()
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> StreamLink<R, W> {
    /// The next message from the peer; see [`StreamRx::recv`]. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Message, LinkError> {
        self.rx.recv().await
    }

    /// Sends `msg`; see [`StreamTx::send`].
    pub async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        self.tx.send(msg).await
    }

    /// Flushes and closes the sending direction; see [`StreamTx::close`].
    pub async fn close(&mut self) -> Result<(), LinkError> {
        self.tx.close().await
    }
}

#[async_trait]
impl<R, W> GuestLink for StreamLink<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn recv(&mut self) -> Result<Message, LinkError> {
        self.rx.recv().await
    }

    async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        self.tx.send(msg).await
    }

    async fn close(&mut self) -> Result<(), LinkError> {
        self.tx.close().await
    }

    fn peer(&self) -> PeerInfo {
        self.rx.peer
    }

    fn split(self: Box<Self>) -> (Box<dyn GuestRx>, Box<dyn GuestTx>) {
        let (rx, tx) = self.into_halves();
        (Box::new(rx), Box::new(tx))
    }
}

/// The receiving half of a [`StreamLink`].
pub struct StreamRx<R> {
    reader: R,
    decoder: Decoder,
    chunk: Box<[u8]>,
    peer: PeerInfo,
}

impl<R> StreamRx<R> {
    /// A receiving half that reads from `reader`.
    pub fn new(reader: R, peer: PeerInfo, config: LinkConfig) -> Self {
        Self {
            reader,
            decoder: Decoder::new(),
            chunk: vec![0; config.read_chunk.max(1)].into_boxed_slice(),
            peer,
        }
    }

    /// How many bytes are buffered: received, not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    /// Who is at the other end.
    pub const fn peer(&self) -> PeerInfo {
        self.peer
    }
}

impl<R: AsyncRead + Unpin> StreamRx<R> {
    /// The next message from the peer.
    ///
    /// - A message whose body cannot be decoded is skipped and reported as
    ///   [`LinkError::BadMessage`] with its request id; answer it with
    ///   [`LinkError::error_reply`] and call `recv` again.
    /// - A header that breaks the framing (bad magic byte, unsupported version, length over
    ///   [`proto::MAX_MESSAGE_LEN`]) gives [`LinkError::Protocol`], again on every later call:
    ///   nothing after it can be read.
    /// - The end of the stream gives [`LinkError::Closed`] between messages and
    ///   [`LinkError::ClosedMidMessage`] inside one; a read error gives [`LinkError::Read`].
    ///
    /// **Cancel safety:** cancel-safe. Bytes are taken from the stream only by a read that
    /// completes, and go into the decoder at once; a dropped call leaves them there, and the next
    /// call returns the message this one would have.
    pub async fn recv(&mut self) -> Result<Message, LinkError> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let id = frame.header().request_id();
                    return frame
                        .into_message()
                        .map_err(|error| LinkError::BadMessage { id, error });
                }
                Ok(None) => {}
                Err(e) => return Err(LinkError::Protocol(e)),
            }
            let n = match self.reader.read(&mut self.chunk).await {
                Ok(0) => {
                    return Err(match self.decoder.buffered() {
                        0 => LinkError::Closed,
                        buffered => LinkError::ClosedMidMessage { buffered },
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LinkError::Read(e)),
            };
            let read = self.chunk.get_mut(..n).unwrap_or_default();
            let fed = self.decoder.feed(read);
            // The chunk may hold a passphrase or PSK of a `Connect`: the decoder has its copy.
            read.zeroize();
            fed.map_err(LinkError::Protocol)?;
        }
    }
}

impl<R> core::fmt::Debug for StreamRx<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamRx")
            .field("peer", &self.peer)
            .field("decoder", &self.decoder)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send + 'static> GuestRx for StreamRx<R> {
    async fn recv(&mut self) -> Result<Message, LinkError> {
        Self::recv(self).await
    }

    fn peer(&self) -> PeerInfo {
        self.peer
    }
}

/// The sending half of a [`StreamLink`].
pub struct StreamTx<W> {
    writer: W,
    /// The encoded message being written, `pending[written..]` still to go.
    pending: Vec<u8>,
    written: usize,
    /// Whether `pending` holds a `Connect` (credentials): zeroized once written.
    secret: bool,
    /// Set after a failed or timed-out write, or a close: no more sends.
    broken: bool,
    write_timeout: Duration,
    peer: PeerInfo,
}

impl<W> StreamTx<W> {
    /// A sending half that writes to `writer`.
    pub const fn new(writer: W, peer: PeerInfo, config: LinkConfig) -> Self {
        Self {
            writer,
            pending: Vec::new(),
            written: 0,
            secret: false,
            broken: false,
            write_timeout: config.write_timeout,
            peer,
        }
    }

    /// Who is at the other end.
    pub const fn peer(&self) -> PeerInfo {
        self.peer
    }
}

impl<W: AsyncWrite + Unpin> StreamTx<W> {
    /// Sends `msg`: encodes it, writes it whole and flushes, within the link's write timeout.
    ///
    /// - [`LinkError::Encode`] if the message cannot be encoded (over a limit): nothing is
    ///   written and the link goes on.
    /// - [`LinkError::WriteTimeout`] if the peer did not take it in time, [`LinkError::Write`] if
    ///   writing failed: the link is finished, and later sends return [`LinkError::Broken`].
    ///
    /// The bytes of a `Connect` (which carry a passphrase or PSK) are zeroized once written.
    ///
    /// **Cancel safety:** a message is never sent in part. The encoded message is kept until it
    /// is all written; if the call is dropped, the next `send` (or [`StreamTx::close`]) first
    /// finishes it, so it goes out whole, before the next message.
    pub async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        if self.broken {
            return Err(LinkError::Broken);
        }
        proto::encoded_len(msg).map_err(LinkError::Encode)?;
        let after = self.write_timeout;
        let result = match tokio::time::timeout(after, self.write_message(msg)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(LinkError::WriteTimeout { after }),
        };
        if result.as_ref().is_err_and(LinkError::is_fatal) {
            self.fail();
        }
        result
    }

    /// Finishes a message left by a cancelled [`StreamTx::send`] and shuts the stream down for
    /// writing, within the write timeout: the peer sees the end of the stream. Later sends
    /// return [`LinkError::Broken`].
    pub async fn close(&mut self) -> Result<(), LinkError> {
        if self.broken {
            return Err(LinkError::Broken);
        }
        let after = self.write_timeout;
        let result = tokio::time::timeout(after, async {
            self.drain().await?;
            self.writer.shutdown().await.map_err(LinkError::Write)
        })
        .await
        .unwrap_or(Err(LinkError::WriteTimeout { after }));
        self.fail();
        result
    }

    async fn write_message(&mut self, msg: &Message) -> Result<(), LinkError> {
        // A message a cancelled send left half-written goes first, so at most one message is
        // ever pending.
        self.drain().await?;
        proto::encode(msg, &mut self.pending).map_err(LinkError::Encode)?;
        self.secret = msg.message_type() == MessageType::Connect;
        self.drain().await?;
        self.writer.flush().await.map_err(LinkError::Write)
    }

    /// Writes `pending[written..]`. `write` is cancel-safe (a dropped write wrote nothing), so
    /// `written` always counts exactly what is on the stream.
    async fn drain(&mut self) -> Result<(), LinkError> {
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            match self.writer.write(rest).await {
                Ok(0) => return Err(LinkError::Write(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LinkError::Write(e)),
            }
        }
        self.clear_pending();
        Ok(())
    }

    fn clear_pending(&mut self) {
        if self.secret {
            self.pending.zeroize();
            self.secret = false;
        } else {
            self.pending.clear();
        }
        self.written = 0;
    }

    fn fail(&mut self) {
        self.broken = true;
        self.pending.zeroize();
        self.written = 0;
        self.secret = false;
    }
}

impl<W> Drop for StreamTx<W> {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}

impl<W> core::fmt::Debug for StreamTx<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamTx")
            .field("peer", &self.peer)
            .field(
                "pending",
                &(self.pending.len() - self.written.min(self.pending.len())),
            )
            .field("broken", &self.broken)
            .field("write_timeout", &self.write_timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send + 'static> GuestTx for StreamTx<W> {
    async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
        Self::send(self, msg).await
    }

    async fn close(&mut self) -> Result<(), LinkError> {
        Self::close(self).await
    }

    fn peer(&self) -> PeerInfo {
        self.peer
    }
}
