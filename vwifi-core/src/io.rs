//! The async traits that radios, guest links and clocks implement.
//!
//! The core is sans-IO; these traits are the seam where a driver (the host daemon's loop, or a
//! test) plugs real I/O into it. They are small and object-safe, like quinn's `Runtime`, so a
//! driver holds `Box<dyn Radio>`, `Box<dyn GuestListener>` and `Box<dyn Clock>` and never names
//! a transport or a runtime. The traits use `async-trait`: their futures are `Send`, and this
//! crate still depends on no async runtime.
//!
//! - [`GuestLink`]: one guest's connection, carrying [`Message`]s both ways. It can be
//!   [split](GuestLink::split) into a [`GuestRx`] and a [`GuestTx`] when reading and writing
//!   happen in different tasks.
//! - [`GuestListener`]: where new guests connect; each accepted link is one guest.
//! - [`Radio`]: a frame-level (soft-MAC) radio: 802.11 frames out on a channel, frames and
//!   transmit outcomes in.
//! - [`Clock`]: the time, as [`Instant`]s, and sleeping until one.
//!
//! # Cancel safety
//! Drivers call `recv` and `accept` inside `tokio::select!`, which drops the futures of the
//! branches that did not complete. Every `recv` and `accept` must therefore be cancel-safe:
//! dropping the future before it completes loses nothing, and the next call returns what the
//! dropped one would have. Each method's doc states its contract; implementations must honour it.
//!
//! # Errors
//! [`LinkError`] is the error of guest links and listeners, [`RadioError`] that of radios.
//! [`LinkError::is_fatal`] and [`RadioError::is_fatal`] tell whether the object that returned the
//! error is finished. A malformed message from a guest is not fatal: the link reports it
//! ([`LinkError::BadMessage`]) and goes on, and [`LinkError::error_reply`] builds the
//! [`Message::Error`] to answer it with.

use core::fmt;
use core::time::Duration;
use std::io;

use async_trait::async_trait;
use bytes::Bytes;

use crate::channel::{Band, Channel};
use crate::proto::{ErrorCode, Message, ProtoError, RequestId, MAX_ERROR_TEXT_LEN};
use crate::radio::{RxMeta, TxStatus};
use crate::time::Instant;

/// Who is at the other end of a guest link, as far as the transport can tell.
///
/// The host uses it for logs and to decide which guest configuration applies; only what the
/// transport itself vouches for (the kernel's peer credentials, the vsock context id) is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerInfo {
    /// A local process, as the kernel reports it for a Unix socket (`SO_PEERCRED`): its
    /// effective user and group when it connected.
    Process {
        /// The peer's effective user id.
        uid: u32,
        /// The peer's effective group id.
        gid: u32,
        /// The peer's process id, if the kernel reported one.
        pid: Option<i32>,
    },
    /// A virtual machine on an `AF_VSOCK` socket.
    Vsock {
        /// The VM's context id.
        cid: u32,
        /// The VM's port.
        port: u32,
    },
    /// The transport cannot say who the peer is (a virtio-serial port, a socket pair in a test).
    Anonymous,
}

impl fmt::Display for PeerInfo {
    /// `uid 1000 gid 1000 pid 4242`, `vsock cid 3 port 5000`, `anonymous peer`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Process { uid, gid, pid } => {
                write!(f, "uid {uid} gid {gid}")?;
                match pid {
                    Some(pid) => write!(f, " pid {pid}"),
                    None => Ok(()),
                }
            }
            Self::Vsock { cid, port } => write!(f, "vsock cid {cid} port {port}"),
            Self::Anonymous => f.write_str("anonymous peer"),
        }
    }
}

/// Why a guest link or listener operation failed.
///
/// [`LinkError::is_fatal`] sorts the variants: after a fatal error the link half that returned it
/// is finished (drop it; its peer's session is over); after another, the same link or listener
/// goes on. No error of one link affects another.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The peer closed the link between two messages: a normal end. Fatal.
    #[error("the peer closed the link")]
    Closed,
    /// The peer closed the link in the middle of a message. Fatal.
    #[error(
        "the peer closed the link in the middle of a message ({buffered} bytes of it received)"
    )]
    ClosedMidMessage {
        /// How many bytes of the unfinished message had arrived.
        buffered: usize,
    },
    /// The byte stream lost its framing (a bad magic byte, an unsupported version, a length over
    /// [`MAX_MESSAGE_LEN`](crate::proto::MAX_MESSAGE_LEN); see [`ProtoError::is_framing`]): nothing after it can be read.
    /// Fatal for reading; the peer may still be sent a last [`LinkError::error_reply`].
    #[error("the link lost its framing")]
    Protocol(#[source] ProtoError),
    /// One message was well delimited but could not be decoded (an unknown type, a bad field).
    /// It was skipped; the link goes on. Answer with [`LinkError::error_reply`].
    #[error("malformed message from the peer{}", RequestIdSuffix(*id))]
    BadMessage {
        /// The request id of the message's header, if it had one.
        id: Option<RequestId>,
        /// What was wrong with it.
        #[source]
        error: ProtoError,
    },
    /// The message to send cannot be encoded (a field or the whole message over its limit).
    /// Nothing was sent; the link goes on.
    #[error("the message cannot be encoded")]
    Encode(#[source] ProtoError),
    /// Reading from the link failed. Fatal.
    #[error("reading from the link failed")]
    Read(#[source] io::Error),
    /// Writing to the link failed. Fatal.
    #[error("writing to the link failed")]
    Write(#[source] io::Error),
    /// The peer did not take a message within the link's write timeout: it stopped reading.
    /// Fatal.
    #[error("the peer took no message for {after:?}")]
    WriteTimeout {
        /// The write timeout that ran out.
        after: Duration,
    },
    /// This half of the link can no longer send: an earlier write failed or timed out (part of
    /// a message may be on the wire), or the link was closed. Fatal.
    #[error("the link can no longer send: it failed or was closed earlier")]
    Broken,
    /// Accepting a connection failed (too many open files, a connection reset before it was
    /// accepted). The listener goes on; a driver should pause briefly before the next accept if
    /// such errors repeat.
    #[error("accepting a connection failed")]
    Accept(#[source] io::Error),
    /// The credentials of a connecting peer could not be read; it was refused. The listener goes
    /// on.
    #[error("reading the credentials of a connecting peer failed")]
    PeerCredentials(#[source] io::Error),
    /// A connecting peer is not allowed by the listener's policy; it was refused (and told so, if
    /// the transport could). The listener goes on.
    #[error("refused {peer}: not allowed to connect")]
    PeerRejected {
        /// Who tried to connect.
        peer: PeerInfo,
    },
}

/// Formats ` (request #n)` after a message, or nothing.
struct RequestIdSuffix(Option<RequestId>);

impl fmt::Display for RequestIdSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request {id})"),
            None => Ok(()),
        }
    }
}

impl From<crate::proto::inband::BadControl> for LinkError {
    /// A control frame whose message did not decode is a [`LinkError::BadMessage`].
    fn from(bad: crate::proto::inband::BadControl) -> Self {
        Self::BadMessage {
            id: bad.id,
            error: bad.error,
        }
    }
}

impl LinkError {
    /// Whether the link half (or, for [`LinkError::Accept`], [`LinkError::PeerCredentials`] and
    /// [`LinkError::PeerRejected`], the connection being accepted) is finished. Fatal errors
    /// end one guest's session; the listener and every other link go on.
    pub const fn is_fatal(&self) -> bool {
        !matches!(self, Self::BadMessage { .. } | Self::Encode(_))
    }

    /// The [`Message::Error`] to send the peer about this error, if there is one to send: the
    /// answer to a malformed message (carrying its request id), the last word before closing a
    /// link that lost its framing, or the reason a peer was refused.
    pub fn error_reply(&self) -> Option<Message> {
        let (id, code) = match self {
            Self::BadMessage { id, error } => (*id, ErrorCode::from(error)),
            Self::Protocol(error) => (None, ErrorCode::from(error)),
            Self::PeerRejected { .. } => (None, ErrorCode::NotPermitted),
            _ => return None,
        };
        let text = match self {
            Self::BadMessage { error, .. } | Self::Protocol(error) => error.to_string(),
            _ => self.to_string(),
        };
        Some(Message::Error {
            id,
            code,
            text: Some(truncate_text(text)),
        })
    }
}

/// Cuts `text` to at most [`MAX_ERROR_TEXT_LEN`] bytes, at a character boundary.
fn truncate_text(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT_LEN {
        let mut end = MAX_ERROR_TEXT_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// One guest's link to the host: [`Message`]s in both directions.
///
/// One link is one guest. A driver either uses the link whole (one task that selects over
/// [`GuestLink::recv`] and its outgoing queue, then calls [`GuestLink::send`]) or
/// [splits](GuestLink::split) it to read and write from different tasks.
#[async_trait]
pub trait GuestLink: Send {
    /// The next message from the peer.
    ///
    /// Returns [`LinkError::BadMessage`] for a message that could not be decoded (answer it with
    /// [`LinkError::error_reply`] and call `recv` again), [`LinkError::Closed`] when the peer
    /// has gone, and another fatal error when the link failed (see [`LinkError::is_fatal`]).
    ///
    /// **Cancel safety:** cancel-safe. If the future is dropped before it completes, no message
    /// is lost or cut: bytes already read stay buffered, and the next call returns the message
    /// this one would have.
    async fn recv(&mut self) -> Result<Message, LinkError>;

    /// Sends `msg` to the peer, waiting until it has been handed to the transport whole (not
    /// until the peer has read it), for at most the link's write timeout.
    ///
    /// **Cancel safety:** a message is never sent in part. If the future is dropped before it
    /// completes, `msg` may or may not be sent; if it is, it goes out whole, before the message
    /// of the next call.
    async fn send(&mut self, msg: &Message) -> Result<(), LinkError>;

    /// Sends what is still pending from a cancelled [`GuestLink::send`] and closes the direction
    /// towards the peer, which then sees the end of the link. Further sends fail.
    async fn close(&mut self) -> Result<(), LinkError>;

    /// Who is at the other end.
    fn peer(&self) -> PeerInfo;

    /// Splits the link into its receiving and sending halves, to be used from different tasks.
    /// Bytes received but not yet returned as messages go with the receiving half.
    fn split(self: Box<Self>) -> (Box<dyn GuestRx>, Box<dyn GuestTx>);
}

/// The receiving half of a [`GuestLink`].
#[async_trait]
pub trait GuestRx: Send {
    /// The next message from the peer; as [`GuestLink::recv`], and cancel-safe in the same way.
    async fn recv(&mut self) -> Result<Message, LinkError>;

    /// Who is at the other end.
    fn peer(&self) -> PeerInfo;
}

/// The sending half of a [`GuestLink`].
#[async_trait]
pub trait GuestTx: Send {
    /// Sends `msg` to the peer; as [`GuestLink::send`], with the same cancel safety.
    async fn send(&mut self, msg: &Message) -> Result<(), LinkError>;

    /// As [`GuestLink::close`].
    async fn close(&mut self) -> Result<(), LinkError>;

    /// Who is at the other end.
    fn peer(&self) -> PeerInfo;
}

/// Where guests connect: each accepted link is one new guest.
#[async_trait]
pub trait GuestListener: Send {
    /// The next guest link, once a peer has connected and passed the listener's checks.
    ///
    /// An error concerns one connection attempt (see [`LinkError::Accept`],
    /// [`LinkError::PeerRejected`]); the listener stays usable and the next call waits for the
    /// next peer.
    ///
    /// **Cancel safety:** cancel-safe: dropping the future loses no pending connection.
    async fn accept(&mut self) -> Result<Box<dyn GuestLink>, LinkError>;
}

/// The bands a radio can use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Bands {
    ghz2_4: bool,
    ghz5: bool,
    ghz6: bool,
}

impl Bands {
    /// No band.
    pub const NONE: Self = Self {
        ghz2_4: false,
        ghz5: false,
        ghz6: false,
    };
    /// Every band vwifi knows: 2.4, 5 and 6 GHz.
    pub const ALL: Self = Self {
        ghz2_4: true,
        ghz5: true,
        ghz6: true,
    };

    /// The set with `band` added.
    #[must_use]
    pub const fn with(self, band: Band) -> Self {
        match band {
            Band::Ghz2_4 => Self {
                ghz2_4: true,
                ..self
            },
            Band::Ghz5 => Self { ghz5: true, ..self },
            Band::Ghz6 => Self { ghz6: true, ..self },
        }
    }

    /// Whether `band` is in the set.
    pub const fn contains(self, band: Band) -> bool {
        match band {
            Band::Ghz2_4 => self.ghz2_4,
            Band::Ghz5 => self.ghz5,
            Band::Ghz6 => self.ghz6,
        }
    }
}

impl fmt::Debug for Bands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for band in [Band::Ghz2_4, Band::Ghz5, Band::Ghz6] {
            if self.contains(band) {
                set.entry(&band);
            }
        }
        set.finish()
    }
}

/// What a radio can do: the limits the association scheduler admits stations against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RadioCaps {
    /// How many virtual stations (interfaces) the radio can serve at once.
    pub max_stations: u16,
    /// On how many different channels the radio can keep stations at once (1 for most cards:
    /// stations on other channels then share the radio in time).
    pub max_channels: u8,
    /// The bands the radio can tune to.
    pub bands: Bands,
}

impl RadioCaps {
    /// Whether the radio can tune to `channel`.
    pub const fn supports(&self, channel: Channel) -> bool {
        self.bands.contains(channel.band())
    }
}

/// Something a [`Radio`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioEvent {
    /// A frame heard on the air (802.11, without FCS), addressed to anyone: the core filters.
    Rx {
        /// The frame.
        frame: Bytes,
        /// Where and how it was received.
        meta: RxMeta,
    },
    /// The outcome of a frame this radio sent. Outcomes come in the order the frames were
    /// sent, one for every frame [`Radio::send`] accepted.
    TxStatus {
        /// The frame sent.
        frame: Bytes,
        /// Whether it was acknowledged.
        status: TxStatus,
    },
}

/// Why a radio operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RadioError {
    /// The radio is gone (the device was removed, the medium shut down). Fatal.
    #[error("the radio is gone")]
    Gone,
    /// The radio cannot use this channel (a band it lacks, a channel its regulatory domain
    /// forbids).
    #[error("the radio cannot use channel {channel}")]
    UnsupportedChannel {
        /// The channel asked for.
        channel: Channel,
    },
    /// The radio transmits only on the channel it is tuned to, and the frame was for another.
    #[error("the radio is tuned to channel {tuned}, not {requested}")]
    NotOnChannel {
        /// The channel the radio is on.
        tuned: Channel,
        /// The channel the frame was to be sent on.
        requested: Channel,
    },
    /// The frame is longer than the radio can send.
    #[error("frame of {len} bytes exceeds the radio's maximum of {max}")]
    FrameTooLong {
        /// The frame's length in bytes.
        len: usize,
        /// The longest frame the radio sends.
        max: usize,
    },
    /// The radio's transmit queue is full; the frame was dropped. Try again later.
    #[error("the radio's transmit queue is full")]
    QueueFull,
    /// Handing a frame to the radio failed.
    #[error("sending a frame to the radio failed")]
    Send(#[source] io::Error),
    /// Reading from the radio failed. Fatal.
    #[error("receiving from the radio failed")]
    Recv(#[source] io::Error),
    /// Tuning the radio failed.
    #[error("tuning the radio to channel {channel} failed")]
    SetChannel {
        /// The channel asked for.
        channel: Channel,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl RadioError {
    /// Whether the radio is finished: a driver stops serving it.
    pub const fn is_fatal(&self) -> bool {
        matches!(self, Self::Gone | Self::Recv(_))
    }
}

/// A frame-level (soft-MAC) radio: the simulated medium, a `mac80211_hwsim` radio, or a card.
///
/// The core builds every 802.11 frame (management, EAPOL, data with CCMP applied) and the radio
/// puts it on the air; the radio reports every frame it hears and the outcome of every frame it
/// sent.
#[async_trait]
pub trait Radio: Send {
    /// Queues `frame` (802.11, without FCS) for transmission on `channel`. Returns once the radio
    /// has taken it, not once it is on the air; its outcome comes later as a
    /// [`RadioEvent::TxStatus`].
    ///
    /// **Cancel safety:** if the future is dropped before it completes, the frame may or may not
    /// be sent (whole, and reported like any other).
    async fn send(&mut self, frame: Bytes, channel: Channel) -> Result<(), RadioError>;

    /// The next frame heard or transmit outcome.
    ///
    /// **Cancel safety:** cancel-safe. If the future is dropped before it completes, no event is
    /// lost: the next call returns it.
    async fn recv(&mut self) -> Result<RadioEvent, RadioError>;

    /// Tunes the radio to `channel`: it hears that channel from now on.
    ///
    /// **Cancel safety:** if the future is dropped before it completes, the radio may be on the
    /// old channel or the new one; call again to be sure.
    async fn set_channel(&mut self, channel: Channel) -> Result<(), RadioError>;

    /// What the radio can do. Does not change while the radio lives.
    fn caps(&self) -> RadioCaps;
}

/// The time source of a driver: real time in the daemon, virtual time in tests and simulations.
///
/// The core reads no clock itself; the driver asks the clock for [`Instant`]s and passes them
/// in.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Instant;

    /// Completes at `deadline` (at once, if it has passed).
    ///
    /// **Cancel safety:** cancel-safe: dropping the future only abandons the wait.
    async fn sleep_until(&self, deadline: Instant);
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::proto::{self, MessageType};

    /// Polls a future that never waits to completion.
    fn ready<F: Future>(fut: F) -> F::Output {
        let mut fut = pin!(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("the future is not ready"),
        }
    }

    /// A link over in-memory queues, to check that the traits are usable as objects.
    struct QueueLink {
        inbox: VecDeque<Result<Message, LinkError>>,
        outbox: Vec<Message>,
    }

    #[async_trait]
    impl GuestLink for QueueLink {
        async fn recv(&mut self) -> Result<Message, LinkError> {
            self.inbox.pop_front().unwrap_or(Err(LinkError::Closed))
        }
        async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
            self.outbox.push(msg.clone());
            Ok(())
        }
        async fn close(&mut self) -> Result<(), LinkError> {
            Ok(())
        }
        fn peer(&self) -> PeerInfo {
            PeerInfo::Anonymous
        }
        fn split(self: Box<Self>) -> (Box<dyn GuestRx>, Box<dyn GuestTx>) {
            (
                Box::new(QueueRx(self.inbox)),
                Box::new(QueueTx(self.outbox)),
            )
        }
    }

    struct QueueRx(VecDeque<Result<Message, LinkError>>);
    struct QueueTx(Vec<Message>);

    #[async_trait]
    impl GuestRx for QueueRx {
        async fn recv(&mut self) -> Result<Message, LinkError> {
            self.0.pop_front().unwrap_or(Err(LinkError::Closed))
        }
        fn peer(&self) -> PeerInfo {
            PeerInfo::Anonymous
        }
    }

    #[async_trait]
    impl GuestTx for QueueTx {
        async fn send(&mut self, msg: &Message) -> Result<(), LinkError> {
            self.0.push(msg.clone());
            Ok(())
        }
        async fn close(&mut self) -> Result<(), LinkError> {
            Ok(())
        }
        fn peer(&self) -> PeerInfo {
            PeerInfo::Anonymous
        }
    }

    fn bad_message() -> LinkError {
        LinkError::BadMessage {
            id: Some(RequestId(7)),
            error: ProtoError::UnknownMessageType(0x7f),
        }
    }

    #[test]
    fn a_boxed_link_answers_a_bad_message_and_goes_on() {
        let disconnect = Message::Disconnect { id: RequestId(8) };
        let mut link: Box<dyn GuestLink> = Box::new(QueueLink {
            inbox: VecDeque::from([Err(bad_message()), Ok(disconnect.clone())]),
            outbox: Vec::new(),
        });
        let err = ready(link.recv()).unwrap_err();
        assert!(!err.is_fatal());
        let reply = err.error_reply().unwrap();
        ready(link.send(&reply)).unwrap();
        assert_eq!(ready(link.recv()).unwrap(), disconnect);
        let (mut rx, _tx) = link.split();
        let end = ready(rx.recv()).unwrap_err();
        assert!(matches!(end, LinkError::Closed) && end.is_fatal());
    }

    #[test]
    fn error_reply_to_a_bad_message_echoes_its_request_id() {
        match bad_message().error_reply() {
            Some(Message::Error {
                id,
                code,
                text: Some(text),
            }) => {
                assert_eq!(id, Some(RequestId(7)));
                assert_eq!(code, ErrorCode::UnsupportedMessage);
                assert!(text.contains("0x7f"), "{text}");
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }

    #[test]
    fn error_replies_encode_and_fit_the_text_limit() {
        let long = ProtoError::BadField {
            what: "a field with a very long name that goes on and on and on and on and on \
                   and on and on and on and on and on and on and on and on and on and on and on \
                   and on and on and on and on and on and on and on and on and on and on and on",
            value: 1,
        };
        let errors = [
            LinkError::Protocol(ProtoError::TooLong {
                len: 1 << 20,
                max: proto::MAX_MESSAGE_LEN,
            }),
            LinkError::BadMessage {
                id: None,
                error: long,
            },
            LinkError::PeerRejected {
                peer: PeerInfo::Process {
                    uid: 1000,
                    gid: 100,
                    pid: Some(42),
                },
            },
        ];
        for e in &errors {
            let reply = e.error_reply().unwrap();
            assert_eq!(reply.message_type(), MessageType::Error);
            let mut buf = Vec::new();
            proto::encode(&reply, &mut buf).unwrap();
        }
        let Some(Message::Error { code, text, .. }) = errors[2].error_reply() else {
            panic!("no reply");
        };
        assert_eq!(code, ErrorCode::NotPermitted);
        assert_eq!(
            text.as_deref(),
            Some("refused uid 1000 gid 100 pid 42: not allowed to connect")
        );
    }

    #[test]
    fn only_bad_messages_and_encoding_errors_leave_a_link_usable() {
        assert!(!bad_message().is_fatal());
        assert!(!LinkError::Encode(ProtoError::UnknownMessageType(1)).is_fatal());
        for e in [
            LinkError::Closed,
            LinkError::ClosedMidMessage { buffered: 3 },
            LinkError::Protocol(ProtoError::BadMagic {
                got: 0,
                expected: proto::MAGIC,
            }),
            LinkError::Write(io::ErrorKind::BrokenPipe.into()),
            LinkError::WriteTimeout {
                after: Duration::from_secs(1),
            },
            LinkError::Broken,
        ] {
            assert!(e.is_fatal(), "{e}");
        }
        assert_eq!(
            LinkError::Encode(ProtoError::UnknownMessageType(1)).error_reply(),
            None
        );
    }

    #[test]
    fn bad_message_display_names_the_request() {
        assert_eq!(
            bad_message().to_string(),
            "malformed message from the peer (request #7)"
        );
    }

    #[test]
    fn peer_info_displays_what_the_transport_vouches_for() {
        let p = PeerInfo::Process {
            uid: 0,
            gid: 0,
            pid: None,
        };
        assert_eq!(p.to_string(), "uid 0 gid 0");
        assert_eq!(
            PeerInfo::Vsock { cid: 3, port: 5000 }.to_string(),
            "vsock cid 3 port 5000"
        );
    }

    #[test]
    fn radio_caps_support_only_their_bands() {
        let caps = RadioCaps {
            max_stations: 8,
            max_channels: 1,
            bands: Bands::NONE.with(Band::Ghz2_4),
        };
        assert!(caps.supports(Channel::new(6).unwrap()));
        assert!(!caps.supports(Channel::new(36).unwrap()));
        assert!(Bands::ALL.contains(Band::Ghz5));
        assert_eq!(format!("{:?}", caps.bands), "{Ghz2_4}");
        assert!(RadioError::Gone.is_fatal());
        assert!(!RadioError::QueueFull.is_fatal());
    }

    #[test]
    fn radio_and_clock_are_object_safe() {
        struct Fixed;
        #[async_trait]
        impl Clock for Fixed {
            fn now(&self) -> Instant {
                Instant::from_millis(5)
            }
            async fn sleep_until(&self, _deadline: Instant) {}
        }
        let clock: Box<dyn Clock> = Box::new(Fixed);
        ready(clock.sleep_until(Instant::ZERO));
        assert_eq!(clock.now(), Instant::from_millis(5));
        fn takes_radio(_: Option<Box<dyn Radio>>) {}
        takes_radio(None);
        let ev = RadioEvent::TxStatus {
            frame: Bytes::new(),
            status: TxStatus::Sent,
        };
        assert_ne!(
            ev,
            RadioEvent::Rx {
                frame: Bytes::new(),
                meta: RxMeta {
                    channel: Channel::new(1).unwrap(),
                    signal_dbm: -40,
                    rate_kbps: 6000
                }
            }
        );
    }
}
