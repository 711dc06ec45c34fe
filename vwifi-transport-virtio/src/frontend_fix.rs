//! A relay between the VMM and the `vhost-user-backend` request loop that smooths over what
//! QEMU before 8.0 does differently from what `vhost` 0.18 accepts.
//!
//! QEMU's `virtio-net` sends `SET_VRING_ENABLE` whenever it attaches its queues (at realize
//! and reset, before any `SET_FEATURES`), and QEMU 7.2 leaves
//! `VHOST_USER_F_PROTOCOL_FEATURES` out of `SET_FEATURES` even though it uses protocol
//! features. `vhost` refuses `SET_VRING_ENABLE` unless that bit was acknowledged in
//! `SET_FEATURES` (`InactiveFeature`), and its request loop then ends the session; QEMU 7.2
//! then never enables the rings again. The relay passes `SET_VRING_ENABLE` only when the last
//! `SET_FEATURES` acknowledged the bit. Before that it holds the ring's enable state back
//! (acknowledging the message itself if the VMM asked for a reply) and replays it right after
//! a `SET_FEATURES` with the bit, which is what the VMM meant. After a `SET_FEATURES` without
//! the bit, enables are dropped: the backend enables the rings at `SET_FEATURES`, as the
//! vhost-user specification says for that case.
//!
//! Everything else, file descriptors included, passes unchanged both ways. Only control
//! messages cross the relay: the rings and the frames stay in shared memory.

use std::io::{self, IoSlice, IoSliceMut, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The vhost-user message header: request, flags, payload size.
const HEADER_LEN: usize = 12;
/// The largest payload relayed.
const MAX_PAYLOAD: usize = 0x1000;
/// The most file descriptors one message carries (as `vhost` allows).
const MAX_FDS: usize = 32;
/// `VHOST_USER_SET_FEATURES`.
const SET_FEATURES: u32 = 2;
/// `VHOST_USER_SET_VRING_ENABLE`.
const SET_VRING_ENABLE: u32 = 18;
/// Header flags: protocol version 1, a reply, a reply wanted.
const FLAG_VERSION: u32 = 0x1;
const FLAG_REPLY: u32 = 0x4;
const FLAG_NEED_REPLY: u32 = 0x8;
/// `VHOST_USER_F_PROTOCOL_FEATURES`.
const PROTOCOL_FEATURES: u64 = 1 << 30;

/// One message: header, payload and the descriptors that came with it.
struct Message {
    header: [u8; HEADER_LEN],
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Message {
    fn field(&self, at: usize) -> u32 {
        match self.header.get(at..at + 4) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }
}

/// Reads one message; `Ok(None)` at the end of the stream.
fn read_message(stream: &mut UnixStream) -> io::Result<Option<Message>> {
    let mut header = [0u8; HEADER_LEN];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = recvmsg(
        stream.as_fd(),
        &mut [IoSliceMut::new(&mut header)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?
    .bytes;
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_LEN {
        stream.read_exact(header.get_mut(got..).unwrap_or_default())?;
    }
    let mut msg = Message {
        header,
        payload: Vec::new(),
        fds,
    };
    let size = usize::try_from(msg.field(8)).unwrap_or(usize::MAX);
    if size > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a vhost-user message of {size} bytes (at most {MAX_PAYLOAD})"),
        ));
    }
    msg.payload = vec![0u8; size];
    stream.read_exact(&mut msg.payload)?;
    Ok(Some(msg))
}

/// Writes one message with its descriptors.
fn write_message(stream: &UnixStream, msg: &Message) -> io::Result<()> {
    let fds: Vec<_> = msg.fds.iter().map(AsFd::as_fd).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("too many file descriptors in one message"));
    }
    let iov = [IoSlice::new(&msg.header), IoSlice::new(&msg.payload)];
    let total = HEADER_LEN + msg.payload.len();
    let sent = sendmsg(stream.as_fd(), &iov, &mut control, SendFlags::NOSIGNAL)?;
    if sent < total {
        // The descriptors went with the first bytes; the rest is plain data.
        let mut all = msg.header.to_vec();
        all.extend_from_slice(&msg.payload);
        (&*stream).write_all(all.get(sent..).unwrap_or_default())?;
    }
    Ok(())
}

/// Relays between `vmm` and `backend` until either side closes or fails; then shuts both
/// down. Blocks; returns why the relay ended (`Ok` at a clean end of stream).
pub(crate) fn relay(vmm: UnixStream, backend: UnixStream) -> io::Result<()> {
    let vmm_write = Arc::new(Mutex::new(vmm.try_clone()?));
    let backend_read = backend.try_clone()?;
    let replies = {
        let vmm_write = vmm_write.clone();
        std::thread::Builder::new()
            .name("vhost-user relay".into())
            .spawn(move || -> io::Result<()> {
                let mut from = backend_read;
                let result = (|| {
                    while let Some(msg) = read_message(&mut from)? {
                        let out = vmm_write.lock().unwrap_or_else(PoisonError::into_inner);
                        write_message(&out, &msg)?;
                    }
                    Ok(())
                })();
                // The backend is gone: so is the VMM's connection.
                let out = vmm_write.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = out.shutdown(std::net::Shutdown::Both);
                result
            })?
    };
    let result = forward_requests(vmm, &backend, &vmm_write);
    let _ = backend.shutdown(std::net::Shutdown::Both);
    if let Ok(v) = vmm_write.lock() {
        let _ = v.shutdown(std::net::Shutdown::Both);
    }
    let back = replies
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("relay thread panicked")));
    result.and(back)
}

/// The VMM's requests to the backend, fixed up (see the module documentation).
fn forward_requests(
    mut vmm: UnixStream,
    backend: &UnixStream,
    vmm_write: &Mutex<UnixStream>,
) -> io::Result<()> {
    // Whether the last SET_FEATURES acknowledged VHOST_USER_F_PROTOCOL_FEATURES, and whether
    // any SET_FEATURES came yet.
    let mut enable_allowed = false;
    let mut features_seen = false;
    // The enable state held back per ring (the message's payload: index, state).
    let mut held: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = std::collections::BTreeMap::new();
    while let Some(msg) = read_message(&mut vmm)? {
        match msg.field(0) {
            SET_FEATURES => {
                features_seen = true;
                enable_allowed = <[u8; 8]>::try_from(msg.payload.as_slice())
                    .is_ok_and(|b| u64::from_le_bytes(b) & PROTOCOL_FEATURES != 0);
                write_message(backend, &msg)?;
                if enable_allowed {
                    for payload in std::mem::take(&mut held).into_values() {
                        let mut header = [0u8; HEADER_LEN];
                        header[..4].copy_from_slice(&SET_VRING_ENABLE.to_le_bytes());
                        header[4..8].copy_from_slice(&FLAG_VERSION.to_le_bytes());
                        header[8..12].copy_from_slice(&8u32.to_le_bytes());
                        let replay = Message {
                            header,
                            payload,
                            fds: Vec::new(),
                        };
                        write_message(backend, &replay)?;
                    }
                } else {
                    held.clear();
                }
                continue;
            }
            SET_VRING_ENABLE if !enable_allowed => {
                tracing::trace!("vhost-user: SET_VRING_ENABLE held back until SET_FEATURES");
                if !features_seen && msg.payload.len() == 8 {
                    let index = msg.payload.get(..4).map(<[u8]>::to_vec).unwrap_or_default();
                    held.insert(index, msg.payload.clone());
                }
                if msg.field(4) & FLAG_NEED_REPLY != 0 {
                    let mut header = [0u8; HEADER_LEN];
                    header[..4].copy_from_slice(&SET_VRING_ENABLE.to_le_bytes());
                    header[4..8].copy_from_slice(&(FLAG_VERSION | FLAG_REPLY).to_le_bytes());
                    header[8..12].copy_from_slice(&8u32.to_le_bytes());
                    let ack = Message {
                        header,
                        payload: 0u64.to_le_bytes().to_vec(),
                        fds: Vec::new(),
                    };
                    let out = vmm_write.lock().unwrap_or_else(PoisonError::into_inner);
                    write_message(&out, &ack)?;
                }
                continue;
            }
            _ => {}
        }
        write_message(backend, &msg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(request: u32, flags: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = request.to_le_bytes().to_vec();
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn early_vring_enables_are_held_back_and_replayed_after_features() {
        let (mut qemu, vmm) = UnixStream::pair().unwrap();
        let (backend, mut device) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || relay(vmm, backend));
        let read20 = |s: &mut UnixStream| {
            let mut m = [0u8; 20];
            s.read_exact(&mut m).unwrap();
            m
        };
        // SET_VRING_ENABLE (ring 1, reply wanted) before SET_FEATURES: answered by the relay.
        let enable = [1u8, 0, 0, 0, 1, 0, 0, 0];
        qemu.write_all(&message(
            SET_VRING_ENABLE,
            FLAG_VERSION | FLAG_NEED_REPLY,
            &enable,
        ))
        .unwrap();
        let ack = read20(&mut qemu);
        assert_eq!(&ack[..4], &SET_VRING_ENABLE.to_le_bytes());
        assert_eq!(u32::from_le_bytes(ack[4..8].try_into().unwrap()), 0x5);
        assert_eq!(&ack[12..], &[0; 8]);
        // SET_FEATURES with protocol features: forwarded, then the held enable is replayed.
        let features = (1u64 << 32) | (1 << 15) | PROTOCOL_FEATURES;
        qemu.write_all(&message(
            SET_FEATURES,
            FLAG_VERSION,
            &features.to_le_bytes(),
        ))
        .unwrap();
        let got = read20(&mut device);
        assert_eq!(&got[..4], &SET_FEATURES.to_le_bytes());
        assert_eq!(
            u64::from_le_bytes(got[12..20].try_into().unwrap()),
            features
        );
        let got = read20(&mut device);
        assert_eq!(&got[..4], &SET_VRING_ENABLE.to_le_bytes());
        assert_eq!(&got[12..], &enable);
        // From now on enables pass at once; replies flow back.
        let disable = [0u8, 0, 0, 0, 0, 0, 0, 0];
        qemu.write_all(&message(SET_VRING_ENABLE, FLAG_VERSION, &disable))
            .unwrap();
        assert_eq!(&read20(&mut device)[12..], &disable);
        device
            .write_all(&message(1, FLAG_VERSION | FLAG_REPLY, &[7; 8]))
            .unwrap();
        assert_eq!(&read20(&mut qemu)[12..], &[7; 8]);
        // SET_FEATURES without the bit: enables are dropped (the backend enables the rings).
        let plain = 1u64 << 32;
        qemu.write_all(&message(SET_FEATURES, FLAG_VERSION, &plain.to_le_bytes()))
            .unwrap();
        qemu.write_all(&message(SET_VRING_ENABLE, FLAG_VERSION, &enable))
            .unwrap();
        qemu.write_all(&message(3, FLAG_VERSION, &[])).unwrap();
        assert_eq!(&read20(&mut device)[..4], &SET_FEATURES.to_le_bytes());
        let mut next = [0u8; 12];
        device.read_exact(&mut next).unwrap();
        assert_eq!(&next[..4], &3u32.to_le_bytes(), "the enable was dropped");
        // An oversized message ends the relay with an error; both sides see the end.
        qemu.write_all(&message(1, FLAG_VERSION, &[])[..8]).unwrap();
        qemu.write_all(&0x10_0000u32.to_le_bytes()).unwrap();
        let e = relay.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
        let mut rest = Vec::new();
        assert_eq!(device.read_to_end(&mut rest).unwrap(), 0);
    }
}
