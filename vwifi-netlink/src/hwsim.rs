//! The guest end of a relayed hwsim radio ([`HwsimMedium`]): a generic netlink socket
//! registered as the medium of this kernel's `mac80211_hwsim` radios (`HWSIM_CMD_REGISTER`).
//! It passes the kernel's messages on as they are and writes back what it is given: the vwifi
//! host parses and builds every hwsim message (one parser, at the trust boundary).
//!
//! Only two messages are built here: the generic netlink controller's `CTRL_CMD_GETFAMILY` (to
//! find the family's id) and `HWSIM_CMD_REGISTER`, each a fixed header and at most one
//! attribute; the controller's answer is read without trusting its lengths.

use std::io;

/// The hwsim family's name.
const FAMILY_NAME: &str = "MAC80211_HWSIM";
/// `GENL_ID_CTRL`: the generic netlink controller.
const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`.
const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID` (u16).
const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (string).
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `HWSIM_CMD_REGISTER`.
const HWSIM_CMD_REGISTER: u8 = 1;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST | NLM_F_ACK`.
const REQUEST_ACK: u16 = 0x1 | 0x4;
/// The netlink header's length.
const NLMSG_HDRLEN: usize = 16;
/// The generic netlink header's length.
const GENL_HDRLEN: usize = 4;
/// Larger than any message the kernel sends a medium (a frame of 2304 bytes and attributes).
pub const RECV_BUFFER: usize = 64 * 1024;

/// The first `Data` message of a radio relay link (guest to host): this tag, then the guest
/// kernel's hwsim family id (u16, little endian), which the host needs to read and write the
/// guest's messages. Every later `Data` message carries one netlink datagram as it is.
pub const RELAY_HELLO: &[u8] = b"vwifi-radio/1";

/// The hello of a relay link whose guest kernel numbers the hwsim family `family`.
pub fn relay_hello(family: u16) -> Vec<u8> {
    let mut out = RELAY_HELLO.to_vec();
    out.extend_from_slice(&family.to_le_bytes());
    out
}

/// The family id a relay hello announces, or `None` if it is not one.
pub fn parse_relay_hello(msg: &[u8]) -> Option<u16> {
    let rest = msg.strip_prefix(RELAY_HELLO)?;
    Some(u16::from_le_bytes(rest.try_into().ok()?))
}

/// This kernel's hwsim radios' medium: a generic netlink socket registered with
/// `HWSIM_CMD_REGISTER`. Reads block; a send never waits (the kernel handles a generic netlink
/// message within the call).
pub struct HwsimMedium {
    socket: netlink_sys::Socket,
    family: u16,
}

impl core::fmt::Debug for HwsimMedium {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HwsimMedium")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// A generic netlink request: header, `cmd`, version 1, and the attribute `attr` if given.
fn request(family: u16, cmd: u8, seq: u32, attr: Option<(u16, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some((ty, payload)) = attr {
        let len = 4 + payload.len();
        body.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
        body.extend_from_slice(&ty.to_ne_bytes());
        body.extend_from_slice(payload);
        while body.len() % 4 != 0 {
            body.push(0);
        }
    }
    let len = NLMSG_HDRLEN + GENL_HDRLEN + body.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    out.extend_from_slice(&family.to_ne_bytes());
    out.extend_from_slice(&REQUEST_ACK.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[cmd, 1, 0, 0]);
    out.extend_from_slice(&body);
    out
}

/// What a controller answer says: the family's id, or the kernel's error (negative errno).
fn family_of(buf: &[u8]) -> Option<Result<u16, i32>> {
    let ty = u16::from_ne_bytes(buf.get(4..6)?.try_into().ok()?);
    let len = usize::try_from(u32::from_ne_bytes(buf.get(..4)?.try_into().ok()?)).ok()?;
    let msg = buf.get(..len)?;
    if ty == NLMSG_ERROR {
        let code = i32::from_ne_bytes(msg.get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)?.try_into().ok()?);
        return Some(Err(code));
    }
    let mut at = NLMSG_HDRLEN + GENL_HDRLEN;
    while at + 4 <= msg.len() {
        let alen = usize::from(u16::from_ne_bytes(msg.get(at..at + 2)?.try_into().ok()?));
        let aty = u16::from_ne_bytes(msg.get(at + 2..at + 4)?.try_into().ok()?) & 0x3fff;
        if alen < 4 {
            return None;
        }
        if aty == CTRL_ATTR_FAMILY_ID {
            let id = msg.get(at + 4..at + 6)?;
            return Some(Ok(u16::from_ne_bytes(id.try_into().ok()?)));
        }
        at += (alen + 3) & !3;
    }
    None
}

/// The code of the acknowledgement in `buf`, if it is one.
fn ack_of(buf: &[u8]) -> Option<i32> {
    let ty = u16::from_ne_bytes(buf.get(4..6)?.try_into().ok()?);
    (ty == NLMSG_ERROR)
        .then(|| buf.get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4))
        .flatten()
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
}

impl HwsimMedium {
    /// Opens a generic netlink socket, finds the hwsim family and registers as the medium of
    /// this namespace's hwsim radios. An error of kind `NotFound` means the module is not
    /// loaded; `ResourceBusy`, another medium (wmediumd) is registered.
    pub fn register() -> io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let mut name = FAMILY_NAME.as_bytes().to_vec();
        name.push(0);
        let get = request(
            GENL_ID_CTRL,
            CTRL_CMD_GETFAMILY,
            1,
            Some((CTRL_ATTR_FAMILY_NAME, &name)),
        );
        socket.send(&get, 0)?;
        let mut buf = vec![0u8; RECV_BUFFER];
        let family = loop {
            let n = socket.recv(&mut &mut buf[..], 0)?;
            match family_of(buf.get(..n).unwrap_or(&[])) {
                Some(Ok(id)) => break id,
                Some(Err(code)) if code < 0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "no {FAMILY_NAME} generic netlink family ({}): load the module with `modprobe mac80211_hwsim radios=1`",
                            io::Error::from_raw_os_error(-code)
                        ),
                    ));
                }
                _ => {}
            }
        };
        socket.send(&request(family, HWSIM_CMD_REGISTER, 2, None), 0)?;
        // Frames may come before the acknowledgement: they are dropped (the kernel retries).
        for _ in 0..64 {
            let n = socket.recv(&mut &mut buf[..], 0)?;
            match ack_of(buf.get(..n).unwrap_or(&[])) {
                Some(0) => return Ok(Self { socket, family }),
                Some(code) => {
                    let e = io::Error::from_raw_os_error(code.saturating_neg());
                    return Err(io::Error::new(
                        e.kind(),
                        format!("the kernel refused HWSIM_CMD_REGISTER (is another medium, such as wmediumd, registered?): {e}"),
                    ));
                }
                None => {}
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no acknowledgement of HWSIM_CMD_REGISTER",
        ))
    }

    /// The family's id in this kernel (the type of its messages).
    pub fn family(&self) -> u16 {
        self.family
    }

    /// The next datagram from the kernel (blocks).
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.clear();
        buf.reserve(RECV_BUFFER);
        self.socket.recv(buf, 0)
    }

    /// Hands the kernel one message (never waits).
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        self.socket.send(msg, 0).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_hello_carries_the_family() {
        assert_eq!(parse_relay_hello(&relay_hello(0x22)), Some(0x22));
        assert_eq!(parse_relay_hello(b"vwifi-radio/1"), None);
        assert_eq!(parse_relay_hello(b"vwifi-radio/2\x22\x00"), None);
        assert_eq!(parse_relay_hello(&[]), None);
    }

    #[test]
    fn the_requests_are_generic_netlink_with_an_acknowledgement() {
        let r = request(0x10, 3, 7, Some((2, b"MAC80211_HWSIM\0")));
        assert_eq!(r.len(), 16 + 4 + 4 + 16);
        assert_eq!(
            u32::from_ne_bytes(r[..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 5);
        assert_eq!(&r[16..18], &[3, 1]);
        let reg = request(0x21, 1, 2, None);
        assert_eq!(reg.len(), 20);
        assert_eq!(u16::from_ne_bytes(reg[4..6].try_into().unwrap()), 0x21);
    }

    #[test]
    fn the_controller_answer_gives_the_family_or_the_error_and_never_panics() {
        let mut m = request(
            0x10,
            1,
            1,
            Some((CTRL_ATTR_FAMILY_ID, &0x21u16.to_ne_bytes())),
        );
        assert_eq!(family_of(&m), Some(Ok(0x21)));
        let mut err = vec![0u8; 36];
        err[..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(family_of(&err), Some(Err(-2)));
        assert_eq!(ack_of(&err), Some(-2));
        for cut in 0..m.len() {
            let _ = family_of(&m[..cut]);
            let _ = ack_of(&m[..cut]);
        }
        m[20] = 0;
        m[21] = 0;
        assert_eq!(family_of(&m), None, "an attribute shorter than its header");
    }
}
