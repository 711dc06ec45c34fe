//! The other direction: consecutive TCP segments of one flow coalesced into one large frame
//! behind a GSO header, so a guest's kernel takes a run of segments as one packet (what GRO
//! does in a NIC driver).

use super::{
    be16, be32, byte, fold, internet_checksum, layout, pseudo_sum, put, sum_words, GsoType, Layout,
    VnetHeader, FLAG_NEEDS_CSUM, IPPROTO_TCP,
};

/// TCP flags that may appear in a coalesced segment: ACK, and PSH on the last one.
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// The most segments in one coalesced frame.
pub const MAX_COALESCED_SEGMENTS: usize = 64;

/// The longest coalesced packet from its IP header on: an IPv4 packet's 16-bit total length
/// bounds it (an IPv6 payload's 16-bit length would allow its 40-byte header more). A 64 KiB
/// TSO send of the sender's kernel (45 segments of 1448 bytes) fits whole: cut at 60 000
/// bytes, every such send reached the receiver as two frames (41 and 4 segments), and its
/// kernel sent an ACK for each.
const MAX_COALESCED_L3_LEN: usize = 65_535;

/// One output of [`coalesce`], in the order of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coalesced<'a, F> {
    /// Input frame number `usize`, to write as it is (behind [`VnetHeader::PLAIN`]).
    Single(usize),
    /// A run of input frames joined into one frame, to write behind its header.
    Run(Run<'a, F>),
}

/// A run of TCP segments joined into one frame: the first segment's headers, fixed for the
/// whole ([`Run::head`]), then every segment's payload in order ([`Run::payloads`]). The
/// payloads are not copied: a writer hands the pieces to one vectored write, or copies them
/// once ([`Run::write_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run<'a, F> {
    /// The GSO header for the joined frame.
    pub header: VnetHeader,
    head: &'a [u8],
    segments: &'a [F],
    payload_at: usize,
    /// The joined frame's length, known when the run was made.
    len: usize,
}

impl<'a, F: AsRef<[u8]>> Run<'a, F> {
    /// The joined frame's headers: the first segment's up to its payload, with the IP length
    /// and header checksum of the whole, the last segment's PSH, and the TCP checksum left
    /// partial (the pseudo-header's sum, for `NEEDS_CSUM`).
    pub fn head(&self) -> &'a [u8] {
        self.head
    }

    /// The segments' payloads, in order: the joined frame's bytes after [`head`](Self::head).
    pub fn payloads(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let at = self.payload_at;
        self.segments
            .iter()
            .map(move |f| f.as_ref().get(at..).unwrap_or_default())
    }

    /// How many input frames the run holds.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// The joined frame's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the joined frame is empty (never: a run holds headers).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The joined frame, copied once.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the joined frame to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        out.extend_from_slice(self.head);
        for p in self.payloads() {
            out.extend_from_slice(p);
        }
    }
}

/// A segment that may start or extend a run.
#[derive(Debug, Clone, Copy)]
struct Segment {
    lay: Layout,
    seq: u32,
    flags: u8,
    payload_len: usize,
}

/// Whether `frame` is a TCP segment with data that may be coalesced: IPv4 without options or
/// fragmentation, or IPv6 without extension headers; flags ACK (PSH allowed); valid checksums
/// (a frame from another guest is checked here, since the receiver will trust the coalesced
/// frame's checksum).
fn candidate(frame: &[u8]) -> Option<Segment> {
    let lay = layout(frame).ok()?;
    if lay.proto != IPPROTO_TCP {
        return None;
    }
    let ip_total = if lay.v6 {
        40 + usize::from(be16(frame, lay.l3 + 4, "").ok()?)
    } else {
        if lay.l4 - lay.l3 != 20 {
            return None;
        }
        let frag = be16(frame, lay.l3 + 6, "").ok()?;
        if frag & 0x3fff != 0 || internet_checksum(frame.get(lay.l3..lay.l4)?) != 0 {
            return None;
        }
        usize::from(be16(frame, lay.l3 + 2, "").ok()?)
    };
    if lay.l3 + ip_total != frame.len() || frame.len() <= lay.payload {
        return None;
    }
    let flags = byte(frame, lay.l4 + 13, "").ok()?;
    if flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    let l4_len = frame.len() - lay.l4;
    if fold(sum_words(
        pseudo_sum(frame, &lay, l4_len)?,
        frame.get(lay.l4..)?,
    )) != 0
    {
        return None;
    }
    Some(Segment {
        lay,
        seq: be32(frame, lay.l4 + 4, "").ok()?,
        flags,
        payload_len: frame.len() - lay.payload,
    })
}

/// Whether `b`'s headers match the run started by `a` in everything but what changes from
/// segment to segment (IP lengths, identification and checksum; TCP sequence, checksum and
/// PSH).
fn same_flow(a: &[u8], la: &Layout, b: &[u8], lb: &Layout) -> bool {
    if la.l3 != lb.l3 || la.l4 != lb.l4 || la.payload != lb.payload || la.v6 != lb.v6 {
        return false;
    }
    // The layouts are equal: the same ranges of both frames, each present in both.
    let same = |r: core::ops::Range<usize>| match (a.get(r.clone()), b.get(r)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    };
    let (l3, l4) = (la.l3, la.l4);
    if !same(0..l3) {
        return false;
    }
    let ip_same = if la.v6 {
        same(l3..l3 + 4) && same(l3 + 6..l4)
    } else {
        // Version/IHL, TOS; flags/fragment, TTL, protocol; addresses.
        same(l3..l3 + 2) && same(l3 + 6..l3 + 10) && same(l3 + 12..l4)
    };
    // Ports; ack number, data offset; window; urgent pointer and options (not the flags byte).
    ip_same
        && same(l4..l4 + 4)
        && same(l4 + 8..l4 + 13)
        && same(l4 + 14..l4 + 16)
        && same(l4 + 18..la.payload)
}

/// Coalesces runs of consecutive TCP segments of one flow in `frames` (in order) and hands
/// each result to `out`: a run of two or more segments as one frame with a TCP GSO header
/// (`gso_size` the first segment's payload, checksum left partial with `NEEDS_CSUM`)
/// ([`Coalesced::Run`]), anything else by its index ([`Coalesced::Single`]). The order of
/// frames is kept; segmenting each output with [`super::segment`] gives the input back.
///
/// A run holds segments of equal payload length (the last may be shorter), contiguous
/// sequence numbers, identical headers otherwise, flags ACK with PSH only on the last, valid
/// checksums; at most [`MAX_COALESCED_SEGMENTS`] segments and 65 535 bytes from the IP header
/// on.
pub fn coalesce<F: AsRef<[u8]>>(
    frames: &[F],
    scratch: &mut Vec<u8>,
    mut out: impl FnMut(Coalesced<'_, F>),
) {
    let mut i = 0;
    while let Some(first) = frames.get(i).map(AsRef::as_ref) {
        let Some(head) = candidate(first) else {
            out(Coalesced::Single(i));
            i += 1;
            continue;
        };
        // Extend the run as far as it goes.
        let mss = head.payload_len;
        let mut end = i + 1;
        let mut total = first.len();
        let mut last_flags = head.flags;
        let mut next_seq = head.seq.wrapping_add(mss as u32);
        let mut last_len = mss;
        while end - i < MAX_COALESCED_SEGMENTS && last_flags & TCP_PSH == 0 && last_len == mss {
            let Some(b) = frames.get(end).map(AsRef::as_ref) else {
                break;
            };
            let Some(seg) = candidate(b) else { break };
            if seg.seq != next_seq
                || seg.payload_len > mss
                || total + seg.payload_len - head.lay.l3 > MAX_COALESCED_L3_LEN
                || !same_flow(first, &head.lay, b, &seg.lay)
            {
                break;
            }
            total += seg.payload_len;
            next_seq = next_seq.wrapping_add(seg.payload_len as u32);
            last_flags = seg.flags;
            last_len = seg.payload_len;
            end += 1;
        }
        if end == i + 1 {
            out(Coalesced::Single(i));
            i += 1;
            continue;
        }
        let lay = head.lay;
        let run = frames.get(i..end).unwrap_or_default();
        if join(run, &lay, total, last_flags, scratch).is_none() {
            // Every segment was checked against its layout by `candidate`: a join that does
            // not fit cannot happen, and then the frames go as they are.
            for k in i..end {
                out(Coalesced::Single(k));
            }
            i = end;
            continue;
        }
        let hdr = VnetHeader {
            flags: FLAG_NEEDS_CSUM,
            gso_type: if lay.v6 {
                GsoType::TcpV6
            } else {
                GsoType::TcpV4
            },
            ecn: false,
            hdr_len: lay.payload as u16,
            gso_size: mss as u16,
            csum_start: lay.l4 as u16,
            csum_offset: 16,
        };
        out(Coalesced::Run(Run {
            header: hdr,
            head: scratch,
            segments: run,
            payload_at: lay.payload,
            len: total,
        }));
        i = end;
    }
}

/// Writes the headers of a run of segments (checked by [`candidate`] and [`same_flow`], all
/// with layout `lay`, `total` bytes once joined) into `scratch`: the first frame's headers
/// with the IP length and header checksum of the whole, the flags of the last segment, and
/// the TCP checksum left partial (`CHECKSUM_PARTIAL`: the field holds the pseudo-header's sum,
/// folded, not complemented). `None` if a header field does not fit the frame.
fn join<F: AsRef<[u8]>>(
    run: &[F],
    lay: &Layout,
    total: usize,
    last_flags: u8,
    scratch: &mut Vec<u8>,
) -> Option<()> {
    let first = run.first()?;
    scratch.clear();
    scratch.extend_from_slice(first.as_ref().get(..lay.payload)?);
    let l4_len = total.checked_sub(lay.l4)?;
    if lay.v6 {
        put(
            scratch,
            lay.l3 + 4,
            &u16::try_from(l4_len).ok()?.to_be_bytes(),
        )?;
    } else {
        let ip_len = u16::try_from(total - lay.l3).ok()?;
        put(scratch, lay.l3 + 2, &ip_len.to_be_bytes())?;
        put(scratch, lay.l3 + 10, &[0, 0])?;
        let c = internet_checksum(scratch.get(lay.l3..lay.l4)?).to_be_bytes();
        put(scratch, lay.l3 + 10, &c)?;
    }
    put(scratch, lay.l4 + 13, &[TCP_ACK | (last_flags & TCP_PSH)])?;
    let partial = !fold(pseudo_sum(scratch, lay, l4_len)?);
    put(scratch, lay.l4 + 16, &partial.to_be_bytes())
}
