//! Guest offloads: the virtio-net header, TCP/UDP segmentation and checksum completion.
//!
//! A TAP opened with `IFF_VNET_HDR` (and `TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4 |
//! TUN_F_TSO6`, optionally `TUN_F_USO4 | TUN_F_USO6`) and a virtio-net device that negotiated
//! `HOST_TSO4/6`, `HOST_USO` and `CSUM` hand vwifi Ethernet frames behind a [`VnetHeader`]: the
//! guest's kernel skips segmenting its large TCP (and UDP) sends and computing their checksums,
//! and vwifi does both here, once per frame on the air. Every segment is a complete Ethernet
//! frame with valid IP and transport checksums, no longer than the caller's limit (an MSDU is
//! at most 2304 bytes: [`MAX_MSDU_FRAME_LEN`]), so the frames on the air stay ordinary 802.11
//! data frames that a capture shows as such.
//!
//! Frames to a guest go the other way: [`coalesce`] joins runs of consecutive TCP segments of
//! one flow into one frame behind a GSO header, so the guest's kernel takes them as one packet.
//!
//! Sans-IO: [`VnetHeader::parse`] reads the header from bytes, [`segment`] and [`coalesce`]
//! write frames into a caller-owned buffer and hand each one to a closure. Untrusted input (a guest's header and
//! frame) gives an [`OffloadError`] naming what is wrong, never a panic.
//!
//! The header is little-endian: virtio 1.0 devices, and a TAP on a little-endian host (the
//! kernel's default vnet header byte order is the host's).

use core::fmt;

use bytes::Bytes;

mod coalesce;

pub use coalesce::{coalesce, Coalesced, Run, MAX_COALESCED_SEGMENTS};

/// The length of the virtio-net header a TAP uses by default (`struct virtio_net_hdr`).
pub const VNET_HDR_LEN: usize = 10;

/// The length of the header with `num_buffers` (`struct virtio_net_hdr_mrg_rxbuf`): virtio 1.0
/// devices, and legacy devices that negotiated `MRG_RXBUF`.
pub const VNET_HDR_MRG_LEN: usize = 12;

/// The longest Ethernet frame (without FCS) whose payload fits one MSDU: 2304 bytes of MSDU
/// less the 8-byte LLC/SNAP header that carries the EtherType, plus the 14-byte Ethernet
/// header.
pub const MAX_MSDU_FRAME_LEN: usize = 14 + 2304 - 8;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum from `csum_start` on is to be completed.
pub const FLAG_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksums have been verified.
pub const FLAG_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_ECN`: the sender set ECN on the flow (CWR goes on the first segment).
const GSO_ECN: u8 = 0x80;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const ETH_HEADER_LEN: usize = 14;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The segmentation a frame asks for (`gso_type` without the ECN bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoType {
    /// `VIRTIO_NET_HDR_GSO_NONE`: one frame, at most a checksum to complete.
    None,
    /// `VIRTIO_NET_HDR_GSO_TCPV4`: TCP over IPv4, cut every `gso_size` bytes of payload.
    TcpV4,
    /// `VIRTIO_NET_HDR_GSO_TCPV6`: TCP over IPv6.
    TcpV6,
    /// `VIRTIO_NET_HDR_GSO_UDP_L4`: UDP (v4 or v6) cut into datagrams of `gso_size` bytes.
    UdpL4,
}

impl GsoType {
    fn from_wire(v: u8) -> Result<Self, OffloadError> {
        match v & !GSO_ECN {
            0 => Ok(Self::None),
            1 => Ok(Self::TcpV4),
            4 => Ok(Self::TcpV6),
            5 => Ok(Self::UdpL4),
            other => Err(OffloadError::UnsupportedGso(other)),
        }
    }

    fn to_wire(self) -> u8 {
        match self {
            Self::None => 0,
            Self::TcpV4 => 1,
            Self::TcpV6 => 4,
            Self::UdpL4 => 5,
        }
    }
}

/// A virtio-net header (`struct virtio_net_hdr`, the first [`VNET_HDR_LEN`] bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VnetHeader {
    /// [`FLAG_NEEDS_CSUM`], [`FLAG_DATA_VALID`].
    pub flags: u8,
    /// The segmentation asked for.
    pub gso_type: GsoType,
    /// Whether the sender marked the flow ECN (`VIRTIO_NET_HDR_GSO_ECN`).
    pub ecn: bool,
    /// A hint of the headers' length (Linux puts the linear part's length here); not trusted.
    pub hdr_len: u16,
    /// The payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// Where the checksummed part starts, from the start of the Ethernet frame.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// The header of a frame that needs nothing: no segmentation, checksums complete.
    pub const PLAIN: Self = Self {
        flags: 0,
        gso_type: GsoType::None,
        ecn: false,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Reads the header from the first [`VNET_HDR_LEN`] bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, OffloadError> {
        let Some(&[flags, gso, h0, h1, g0, g1, s0, s1, o0, o1]) = bytes.get(..VNET_HDR_LEN) else {
            return Err(OffloadError::ShortHeader { len: bytes.len() });
        };
        if flags & !(FLAG_NEEDS_CSUM | FLAG_DATA_VALID) != 0 {
            return Err(OffloadError::UnknownFlags(flags));
        }
        Ok(Self {
            flags,
            gso_type: GsoType::from_wire(gso)?,
            ecn: gso & GSO_ECN != 0,
            hdr_len: u16::from_le_bytes([h0, h1]),
            gso_size: u16::from_le_bytes([g0, g1]),
            csum_start: u16::from_le_bytes([s0, s1]),
            csum_offset: u16::from_le_bytes([o0, o1]),
        })
    }

    /// The header's [`VNET_HDR_LEN`] bytes.
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut out = [0u8; VNET_HDR_LEN];
        out[0] = self.flags;
        out[1] = self.gso_type.to_wire() | if self.ecn { GSO_ECN } else { 0 };
        out[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        out
    }

    /// Whether the checksum from `csum_start` on is still to be computed.
    pub fn needs_csum(&self) -> bool {
        self.flags & FLAG_NEEDS_CSUM != 0
    }
}

/// Why a frame from a guest could not be segmented or checksummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    /// Fewer bytes than a virtio-net header.
    #[error("virtio-net header too short: {len} of {VNET_HDR_LEN} bytes")]
    ShortHeader {
        /// The bytes there were.
        len: usize,
    },
    /// Flag bits this module does not know.
    #[error("virtio-net header has unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// A `gso_type` not negotiated (UFO, or unknown).
    #[error("unsupported GSO type {0}")]
    UnsupportedGso(u8),
    /// A segmentation request without a segment size.
    #[error("GSO frame with gso_size 0")]
    ZeroGsoSize,
    /// A segmentation request without `NEEDS_CSUM`, or a checksum position that does not
    /// match the transport header.
    #[error("checksum at {csum_start}+{csum_offset} does not match the frame's transport header")]
    ChecksumPosition {
        /// `csum_start`.
        csum_start: u16,
        /// `csum_offset`.
        csum_offset: u16,
    },
    /// The checksum field lies beyond the frame.
    #[error("checksum field at {at} beyond the frame of {len} bytes")]
    ChecksumOutOfFrame {
        /// Where the field is.
        at: usize,
        /// The frame's length.
        len: usize,
    },
    /// The frame ends inside a header it must have.
    #[error("frame truncated in its {0} header")]
    Truncated(&'static str),
    /// Segmentation asked for a frame that is not TCP/UDP over IPv4/IPv6 as its type says.
    #[error("GSO frame is not {0}")]
    WrongProtocol(&'static str),
    /// IPv6 extension headers or IPv4 options in a frame to segment are not supported
    /// (IPv4 options are copied; IPv6 extension headers are refused).
    #[error("GSO frame with IPv6 extension headers")]
    Ipv6Extensions,
    /// A segment would be longer than the limit (an MSDU).
    #[error("segments of {len} bytes exceed the limit of {max}")]
    SegmentTooLong {
        /// The length of a full segment.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The IP header's length fields disagree with the frame.
    #[error("IP length fields disagree with the frame")]
    BadLength,
}

/// Where the layers of a frame to segment are.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// The offset of the IP header.
    l3: usize,
    /// Whether it is IPv6.
    v6: bool,
    /// The offset of the transport header.
    l4: usize,
    /// The offset of the payload.
    payload: usize,
    /// The transport protocol.
    proto: u8,
}

fn be16(frame: &[u8], at: usize, what: &'static str) -> Result<u16, OffloadError> {
    match frame.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(OffloadError::Truncated(what)),
    }
}

fn byte(frame: &[u8], at: usize, what: &'static str) -> Result<u8, OffloadError> {
    frame.get(at).copied().ok_or(OffloadError::Truncated(what))
}

/// Finds the IP and transport headers of an Ethernet frame (one VLAN tag allowed).
fn layout(frame: &[u8]) -> Result<Layout, OffloadError> {
    let mut l3 = ETH_HEADER_LEN;
    let mut ethertype = be16(frame, 12, "Ethernet")?;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame, 16, "VLAN")?;
        l3 += 4;
    }
    let (v6, l4, proto) = match ethertype {
        ETHERTYPE_IPV4 => {
            let vihl = byte(frame, l3, "IPv4")?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            if vihl >> 4 != 4 || ihl < 20 {
                return Err(OffloadError::WrongProtocol("IPv4"));
            }
            if frame.len() < l3 + ihl {
                return Err(OffloadError::Truncated("IPv4"));
            }
            (false, l3 + ihl, byte(frame, l3 + 9, "IPv4")?)
        }
        ETHERTYPE_IPV6 => {
            if frame.len() < l3 + 40 {
                return Err(OffloadError::Truncated("IPv6"));
            }
            let next = byte(frame, l3 + 6, "IPv6")?;
            if next != IPPROTO_TCP && next != IPPROTO_UDP {
                return Err(OffloadError::Ipv6Extensions);
            }
            (true, l3 + 40, next)
        }
        _ => return Err(OffloadError::WrongProtocol("IP")),
    };
    let payload = match proto {
        IPPROTO_TCP => {
            let off = usize::from(byte(frame, l4 + 12, "TCP")? >> 4) * 4;
            if off < 20 || frame.len() < l4 + off {
                return Err(OffloadError::Truncated("TCP"));
            }
            l4 + off
        }
        IPPROTO_UDP => {
            if frame.len() < l4 + 8 {
                return Err(OffloadError::Truncated("UDP"));
            }
            l4 + 8
        }
        _ => return Err(OffloadError::WrongProtocol("TCP or UDP")),
    };
    Ok(Layout {
        l3,
        v6,
        l4,
        payload,
        proto,
    })
}

/// The one's-complement sum of `data` (as big-endian 16-bit words, odd byte padded) added to
/// `sum`, not folded.
///
/// Eight bytes at a time: the one's-complement sum does not depend on byte order except for a
/// final swap (RFC 1071 2(B)), so `data` is summed as little-endian 32-bit halves of 64-bit
/// words into a 64-bit accumulator (no carry lost below 2^32 words), folded to 16 bits and
/// swapped to big-endian. The checksum of every frame the TAPs coalesce or segment goes
/// through here: word by word it was the ports' busiest function.
fn sum_words(sum: u64, data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let w = u64::from_le_bytes(b);
        acc += (w & 0xffff_ffff) + (w >> 32);
    }
    let mut pairs = words.remainder().chunks_exact(2);
    for p in &mut pairs {
        if let &[a, b] = p {
            acc += u64::from(u16::from_le_bytes([a, b]));
        }
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    sum + u64::from((acc as u16).swap_bytes())
}

/// Folds a sum to 16 bits and complements it: the Internet checksum (RFC 1071).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(sum_words(0, data))
}

/// Completes the checksum of a frame whose header asks for it ([`FLAG_NEEDS_CSUM`]): the
/// one's-complement sum from `csum_start` to the end (the field holds the pseudo-header's sum,
/// as the sender left it), stored at `csum_start + csum_offset`.
pub fn complete_checksum(hdr: &VnetHeader, frame: &mut [u8]) -> Result<(), OffloadError> {
    if !hdr.needs_csum() {
        return Ok(());
    }
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    let out_of_frame = OffloadError::ChecksumOutOfFrame {
        at,
        len: frame.len(),
    };
    if at + 2 > frame.len() {
        return Err(out_of_frame);
    }
    let Some(covered) = frame.get(start..) else {
        return Err(out_of_frame);
    };
    let mut csum = fold(sum_words(0, covered));
    if csum == 0 && hdr.csum_offset == 6 {
        // UDP: a computed 0 is sent as all ones (0 means "no checksum").
        csum = 0xffff;
    }
    put(frame, at, &csum.to_be_bytes()).ok_or(out_of_frame)
}

/// The sum of the pseudo-header of a transport segment of `l4_len` bytes; `None` if the frame
/// ends before the addresses.
fn pseudo_sum(frame: &[u8], lay: &Layout, l4_len: usize) -> Option<u64> {
    let addrs = if lay.v6 {
        frame.get(lay.l3 + 8..lay.l3 + 40)?
    } else {
        frame.get(lay.l3 + 12..lay.l3 + 20)?
    };
    Some(sum_words(0, addrs) + u64::from(lay.proto) + l4_len as u64)
}

/// Writes `value` into `frame` at `at`; `None` if it does not fit.
fn put(frame: &mut [u8], at: usize, value: &[u8]) -> Option<()> {
    frame
        .get_mut(at..at.checked_add(value.len())?)?
        .copy_from_slice(value);
    Some(())
}

/// The big-endian 32-bit word at `at`.
fn be32(frame: &[u8], at: usize, what: &'static str) -> Result<u32, OffloadError> {
    match frame.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(OffloadError::Truncated(what)),
    }
}

/// Turns a frame from a guest into frames for the air: with a GSO header, cuts it into
/// segments of `gso_size` payload bytes (TCP: sequence numbers advanced, FIN/PSH on the last
/// segment only, CWR on the first; IPv4: identification advanced, header checksum
/// recomputed); a checksum left to complete ([`FLAG_NEEDS_CSUM`]) is completed. Each frame is
/// written once; the segments of one send share one buffer (one allocation per send instead
/// of one per segment: at 64 KiB, 45 of them; at most 96 KiB of segments each), each handed
/// to `out` as a slice of it, once all are written; returns how many. A frame without offload
/// is handed over as it is.
///
/// `max_len` bounds every segment (pass [`MAX_MSDU_FRAME_LEN`] for frames bound for the air):
/// a GSO request whose full segments would be longer is refused whole. A frame without GSO is
/// not checked against it (the Mux refuses what does not fit an MSDU).
pub fn segment(
    hdr: &VnetHeader,
    frame: &[u8],
    max_len: usize,
    mut out: impl FnMut(Bytes),
) -> Result<usize, OffloadError> {
    if hdr.gso_type == GsoType::None {
        let mut whole = frame.to_vec();
        if hdr.needs_csum() {
            complete_checksum(hdr, &mut whole)?;
        }
        out(Bytes::from(whole));
        return Ok(1);
    }
    let mss = usize::from(hdr.gso_size);
    if mss == 0 {
        return Err(OffloadError::ZeroGsoSize);
    }
    let lay = layout(frame)?;
    let (want_proto, want_v6) = match hdr.gso_type {
        GsoType::TcpV4 => (IPPROTO_TCP, Some(false)),
        GsoType::TcpV6 => (IPPROTO_TCP, Some(true)),
        GsoType::UdpL4 => (IPPROTO_UDP, None),
        GsoType::None => (0, None),
    };
    if lay.proto != want_proto || want_v6.is_some_and(|v6| v6 != lay.v6) {
        return Err(OffloadError::WrongProtocol(match hdr.gso_type {
            GsoType::TcpV4 => "TCP over IPv4",
            GsoType::TcpV6 => "TCP over IPv6",
            _ => "UDP",
        }));
    }
    let want_offset = if lay.proto == IPPROTO_TCP { 16 } else { 6 };
    if !hdr.needs_csum() || usize::from(hdr.csum_start) != lay.l4 || hdr.csum_offset != want_offset
    {
        return Err(OffloadError::ChecksumPosition {
            csum_start: hdr.csum_start,
            csum_offset: hdr.csum_offset,
        });
    }
    // The IP length must cover the frame (Ethernet padding after it is cut off).
    let ip_total = if lay.v6 {
        40 + usize::from(be16(frame, lay.l3 + 4, "IPv6")?)
    } else {
        usize::from(be16(frame, lay.l3 + 2, "IPv4")?)
    };
    let end = lay.l3 + ip_total;
    if end > frame.len() || end < lay.payload {
        return Err(OffloadError::BadLength);
    }
    let (Some(headers), Some(payload)) = (frame.get(..lay.payload), frame.get(lay.payload..end))
    else {
        return Err(OffloadError::BadLength);
    };
    let full = lay.payload + mss.min(payload.len());
    if full > max_len {
        return Err(OffloadError::SegmentTooLong {
            len: full,
            max: max_len,
        });
    }
    let count = payload.len().div_ceil(mss).max(1);
    let (first_seq, tcp_flags) = if lay.proto == IPPROTO_TCP {
        (
            be32(frame, lay.l4 + 4, "TCP")?,
            byte(frame, lay.l4 + 13, "TCP")?,
        )
    } else {
        (0, 0)
    };
    let ip_id = if lay.v6 {
        0
    } else {
        be16(frame, lay.l3 + 4, "IPv4")?
    };
    let l4_hdr_len = lay.payload - lay.l4;
    let mut bufs = SegmentBuffers::new(count * headers.len() + payload.len());
    let mut emit = |i: usize, chunk: &[u8]| -> Option<()> {
        let seg = bufs.push(headers, chunk);
        let l4_len = l4_hdr_len + chunk.len();
        let last = i + 1 == count;
        if lay.v6 {
            put(seg, lay.l3 + 4, &(l4_len as u16).to_be_bytes())?;
        } else {
            let total = ((lay.l4 - lay.l3 + l4_len) as u16).to_be_bytes();
            put(seg, lay.l3 + 2, &total)?;
            put(seg, lay.l3 + 4, &ip_id.wrapping_add(i as u16).to_be_bytes())?;
            put(seg, lay.l3 + 10, &[0, 0])?;
            let csum = internet_checksum(seg.get(lay.l3..lay.l4)?).to_be_bytes();
            put(seg, lay.l3 + 10, &csum)?;
        }
        let csum_at = lay.l4 + usize::from(want_offset);
        if lay.proto == IPPROTO_TCP {
            let seq = first_seq.wrapping_add((i * mss) as u32).to_be_bytes();
            put(seg, lay.l4 + 4, &seq)?;
            let mut flags = tcp_flags;
            if !last {
                flags &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                flags &= !TCP_CWR;
            }
            put(seg, lay.l4 + 13, &[flags])?;
        } else {
            put(seg, lay.l4 + 4, &(l4_len as u16).to_be_bytes())?;
        }
        put(seg, csum_at, &[0, 0])?;
        let sum = sum_words(pseudo_sum(seg, &lay, l4_len)?, seg.get(lay.l4..)?);
        let mut csum = fold(sum);
        if csum == 0 && lay.proto == IPPROTO_UDP {
            csum = 0xffff;
        }
        put(seg, csum_at, &csum.to_be_bytes())?;
        Some(())
    };
    // The headers were checked against the frame by `layout`: a write that does not fit
    // cannot happen, and is refused (nothing handed over) rather than trusted.
    let truncated = OffloadError::Truncated("transport");
    if payload.is_empty() {
        emit(0, &[]).ok_or(truncated)?;
    } else {
        for (i, chunk) in payload.chunks(mss).enumerate() {
            emit(i, chunk).ok_or(truncated)?;
        }
    }
    bufs.hand_over(&mut out);
    Ok(count)
}

/// The most bytes of segments one buffer holds. A 64 KiB send's 45 segments with their headers
/// fit one; a send cut into thousands of tiny segments takes several, so that a segment kept
/// long keeps at most this much of its send in memory.
const SEGMENT_BUFFER_MAX: usize = 96 * 1024;

/// A send's segments written back to back into shared buffers (see [`segment`]).
struct SegmentBuffers {
    /// Full buffers, each with the end of every segment in it.
    full: Vec<(Vec<u8>, Vec<usize>)>,
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// The bytes of the segments not written yet.
    rest: usize,
}

impl SegmentBuffers {
    /// Room for segments of `total` bytes in all.
    fn new(total: usize) -> Self {
        Self {
            full: Vec::new(),
            buf: Vec::with_capacity(total.min(SEGMENT_BUFFER_MAX)),
            ends: Vec::new(),
            rest: total,
        }
    }

    /// Appends a segment made of `head` then `body`, and returns it to be completed in place.
    /// A buffer is never grown (its segments stay where they are): a full one is set aside and
    /// the next one sized for what is left, so that the last is exactly full.
    fn push(&mut self, head: &[u8], body: &[u8]) -> &mut [u8] {
        let len = head.len() + body.len();
        if self.buf.capacity() - self.buf.len() < len {
            let next = Vec::with_capacity(self.rest.min(SEGMENT_BUFFER_MAX).max(len));
            let full = core::mem::replace(&mut self.buf, next);
            self.full.push((full, core::mem::take(&mut self.ends)));
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(head);
        self.buf.extend_from_slice(body);
        self.rest = self.rest.saturating_sub(len);
        self.ends.push(self.buf.len());
        self.buf.get_mut(start..).unwrap_or_default()
    }

    /// Hands every segment to `out` in order, each a slice of its buffer (a buffer exactly
    /// full becomes a `Bytes` without another allocation).
    fn hand_over(mut self, out: &mut impl FnMut(Bytes)) {
        self.full.push((self.buf, self.ends));
        for (buf, ends) in self.full {
            let buf = Bytes::from(buf);
            let mut start = 0;
            for end in ends {
                out(buf.slice(start..end));
                start = end;
            }
        }
    }
}

impl fmt::Display for GsoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::TcpV4 => "TCPv4",
            Self::TcpV6 => "TCPv6",
            Self::UdpL4 => "UDP L4",
        })
    }
}

#[cfg(test)]
mod tests;
