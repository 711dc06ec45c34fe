//! Reading messages from a byte stream (Unix socket, vsock, virtio-serial).

use core::fmt;

use bytes::BytesMut;
use zeroize::Zeroize;

use super::codec::{decode_body, Header, HEADER_LEN};
use super::message::{Message, MessageType};
use super::ProtoError;

/// Splits a byte stream into messages.
///
/// Feed it bytes as they arrive, in chunks of any size, with [`Decoder::feed`]; take whole
/// messages out with [`Decoder::next_message`] (or [`Decoder::next_frame`], to see a
/// message's header before decoding its body) until it returns `Ok(None)`.
///
/// Each message is delimited by the body length in its header. The header is checked as soon
/// as its bytes arrive: a bad magic byte, an unknown version or a length over
/// [`super::MAX_MESSAGE_LEN`] fails the stream at once, before any of the announced body is
/// buffered or even reserved. Such framing errors are sticky, as the stream cannot be re-synced:
/// every later call returns the same error and the buffer is freed. An error in one message's
/// body (an unknown message type, a bad field) drops only that message; the next call goes on
/// with the next one.
///
/// The buffer region of a `Connect` message, which may hold a passphrase or PSK, is zeroized
/// once the message has been decoded or dropped (best effort: bytes the caller read from the
/// transport, and copies made when the buffer grew, are out of its reach).
#[derive(Default)]
pub struct Decoder {
    buf: BytesMut,
    failed: Option<ProtoError>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream. Fails, without buffering them, if the stream has
    /// already failed or if the bytes complete a header that is invalid (see
    /// [`ProtoError::is_framing`]).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ProtoError> {
        self.check_failed()?;
        // Check the header that these bytes would complete before keeping them, so that an
        // over-long length or a bad magic is rejected without buffering.
        if self.buf.len() < HEADER_LEN {
            let want = HEADER_LEN - self.buf.len();
            let mut head = [0u8; HEADER_LEN];
            let (old, new) = head.split_at_mut(self.buf.len());
            old.copy_from_slice(&self.buf);
            let new_len = want.min(bytes.len());
            if let (Some(dst), Some(src)) = (new.get_mut(..new_len), bytes.get(..new_len)) {
                dst.copy_from_slice(src);
            }
            let have = self.buf.len() + new_len;
            if let Some(head) = head.get(..have) {
                let parsed = Header::parse(head);
                self.check_header(parsed)?;
            }
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next whole message, `Ok(None)` if more bytes are needed, or why the next message
    /// could not be read. Body errors skip that message; framing errors are sticky.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtoError> {
        match self.next_frame()? {
            Some(frame) => frame.into_message().map(Some),
            None => Ok(None),
        }
    }

    /// The next whole message with its body not yet decoded, or `Ok(None)` if more bytes are
    /// needed. Fails only on framing errors, which are sticky.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtoError> {
        self.check_failed()?;
        let parsed = Header::parse(&self.buf);
        let Some(header) = self.check_header(parsed)? else {
            return Ok(None);
        };
        let len = header.message_len();
        if self.buf.len() < len {
            // The length is within MAX_MESSAGE_LEN: make room for the rest of the message.
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        let mut body = self.buf.split_to(len);
        let body = body.split_off(HEADER_LEN);
        Ok(Some(Frame { header, body }))
    }

    /// The number of bytes buffered, not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The framing error that stopped the stream, if any.
    pub const fn error(&self) -> Option<&ProtoError> {
        self.failed.as_ref()
    }

    fn check_failed(&self) -> Result<(), ProtoError> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Judges a parsed header: `Ok(None)` if incomplete; on an error, fails the stream and frees
    /// the buffer.
    fn check_header(
        &mut self,
        parsed: Result<Header, ProtoError>,
    ) -> Result<Option<Header>, ProtoError> {
        match parsed {
            Ok(header) => Ok(Some(header)),
            Err(ProtoError::Truncated { .. }) => Ok(None),
            Err(e) => {
                self.buf.as_mut().zeroize();
                self.buf = BytesMut::new();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed)
            .finish()
    }
}

/// One delimited message from a [`Decoder`], its body not yet decoded.
///
/// Its header is available even when its body turns out to be malformed, so the host can answer
/// with an `Error` that carries the request id. The body of a `Connect` is zeroized on drop.
pub struct Frame {
    header: Header,
    body: BytesMut,
}

impl Frame {
    /// The message's header.
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// Decodes the body. The payload of a `Data` message is handed over without a copy.
    pub fn into_message(mut self) -> Result<Message, ProtoError> {
        if self.header.message_type() == Some(MessageType::Data) {
            let body = core::mem::take(&mut self.body).freeze();
            // The payload is the tail of the body; hand out that tail of the shared buffer.
            let shared = body.clone();
            return decode_body(&self.header, &body, |payload| {
                shared.slice(shared.len().saturating_sub(payload.len())..)
            });
        }
        decode_body(&self.header, &self.body, bytes::Bytes::copy_from_slice)
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if self.header.message_type() == Some(MessageType::Connect) {
            self.body.as_mut().zeroize();
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("header", &self.header)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Passphrase;
    use crate::proto::{
        encode, Credentials, Event, RequestId, Ssid, MAGIC, MAX_MESSAGE_LEN, VERSION,
    };

    fn messages() -> Vec<Message> {
        vec![
            Message::StatusRequest { id: RequestId(1) },
            Message::Connect {
                id: RequestId(2),
                ssid: Ssid::new(b"lab").unwrap(),
                bssid: None,
                credentials: Credentials::Passphrase(Passphrase::new("password").unwrap()),
            },
            Message::Data(bytes::Bytes::from_static(&[0xff; 60])),
            Message::Event(Event::SignalChanged { dbm: -50 }),
        ]
    }

    fn stream_of(msgs: &[Message]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            encode(m, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn yields_messages_fed_byte_by_byte() {
        let msgs = messages();
        let stream = stream_of(&msgs);
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        for b in &stream {
            dec.feed(core::slice::from_ref(b)).unwrap();
            if let Some(m) = dec.next_message().unwrap() {
                out.push(m);
            }
            assert_eq!(dec.next_message(), Ok(None));
        }
        assert_eq!(out, msgs);
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn yields_every_message_of_one_big_chunk() {
        let msgs = messages();
        let mut dec = Decoder::new();
        dec.feed(&stream_of(&msgs)).unwrap();
        let mut out = Vec::new();
        while let Some(m) = dec.next_message().unwrap() {
            out.push(m);
        }
        assert_eq!(out, msgs);
    }

    #[test]
    fn rejects_an_over_long_length_without_buffering_it() {
        let mut dec = Decoder::new();
        let mut head = vec![MAGIC, VERSION, 0x30, 0, 0, 0, 0, 0];
        head.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = ProtoError::TooLong {
            len: u32::MAX as usize + HEADER_LEN,
            max: MAX_MESSAGE_LEN,
        };
        // The body that follows in the same chunk is not kept.
        head.extend_from_slice(&[0; 1000]);
        assert_eq!(dec.feed(&head), Err(err.clone()));
        assert_eq!(dec.buffered(), 0);
        // Sticky: the stream has no framing any more.
        assert_eq!(dec.feed(&[0]), Err(err.clone()));
        assert_eq!(dec.next_message(), Err(err.clone()));
        assert_eq!(dec.error(), Some(&err));
    }

    #[test]
    fn rejects_bad_magic_on_the_first_byte() {
        let mut dec = Decoder::new();
        assert_eq!(
            dec.feed(b"GET / HTTP/1.1\r\n"),
            Err(ProtoError::BadMagic {
                got: b'G',
                expected: MAGIC
            })
        );
        assert!(dec.error().is_some_and(ProtoError::is_framing));
    }

    #[test]
    fn checks_a_header_split_across_feeds() {
        let mut dec = Decoder::new();
        dec.feed(&[MAGIC, VERSION, 0x30, 0, 0, 0]).unwrap();
        assert_eq!(dec.next_message(), Ok(None));
        assert!(matches!(
            dec.feed(&[0, 0, 0xff, 0xff, 0xff, 0xff]),
            Err(ProtoError::TooLong { .. })
        ));
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn skips_a_malformed_message_and_goes_on() {
        let mut stream = vec![MAGIC, VERSION, 0x7f, 1, 0, 0, 0, 42, 0, 0, 0, 2, 0xaa, 0xbb];
        let next = Message::Disconnect { id: RequestId(43) };
        encode(&next, &mut stream).unwrap();
        let mut dec = Decoder::new();
        dec.feed(&stream).unwrap();
        let frame = dec.next_frame().unwrap().unwrap();
        assert_eq!(frame.header().request_id(), Some(RequestId(42)));
        assert_eq!(
            frame.into_message(),
            Err(ProtoError::UnknownMessageType(0x7f))
        );
        assert_eq!(dec.next_message(), Ok(Some(next)));
        assert_eq!(dec.next_message(), Ok(None));
    }

    #[test]
    fn data_payload_is_shared_not_copied() {
        let mut dec = Decoder::new();
        let mut stream = Vec::new();
        encode(&Message::Data(vec![1, 2, 3].into()), &mut stream).unwrap();
        dec.feed(&stream).unwrap();
        match dec.next_message() {
            Ok(Some(Message::Data(d))) => assert_eq!(&d[..], [1, 2, 3]),
            other => panic!("expected data, got {other:?}"),
        }
    }

    #[test]
    fn debug_shows_no_buffered_bytes() {
        let mut dec = Decoder::new();
        let mut stream = Vec::new();
        encode(&messages()[1], &mut stream).unwrap();
        dec.feed(&stream[..stream.len() - 1]).unwrap();
        let shown = format!("{dec:?}");
        assert!(!shown.contains("password"), "{shown}");
        assert!(shown.contains("buffered"));
    }
}
