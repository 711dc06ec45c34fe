//! Segmentation and checksums checked against frames built here and verified independently.

use proptest::prelude::*;

use super::*;

const SRC4: [u8; 4] = [10, 0, 0, 1];
const DST4: [u8; 4] = [10, 0, 0, 2];
const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// An Ethernet frame carrying TCP (`proto` 6) or UDP (17) over IPv4 or IPv6 with `payload`, its
/// transport checksum left as the pseudo-header's sum (as a sender with checksum offload leaves
/// it), and the matching GSO header with segment size `mss`.
fn gso_frame(
    v6: bool,
    proto: u8,
    payload: &[u8],
    mss: u16,
    tcp_flags: u8,
) -> (VnetHeader, Vec<u8>) {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    let l4_hdr = if proto == IPPROTO_TCP { 20 } else { 8 };
    let l4_len = l4_hdr + payload.len();
    if v6 {
        f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(l4_len as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&SRC6);
        f.extend_from_slice(&DST6);
    } else {
        f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let total = (20 + l4_len) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
        f.extend_from_slice(&SRC4);
        f.extend_from_slice(&DST4);
        let c = internet_checksum(&f[14..34]).to_be_bytes();
        f[24..26].copy_from_slice(&c);
    }
    let l4 = f.len();
    if proto == IPPROTO_TCP {
        f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51]); // ports
        f.extend_from_slice(&0xffff_fff0u32.to_be_bytes()); // seq (wraps)
        f.extend_from_slice(&7u32.to_be_bytes()); // ack
        f.extend_from_slice(&[0x50, tcp_flags, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&[0x1f, 0x90, 0x14, 0x51]);
        f.extend_from_slice(&(l4_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend_from_slice(payload);
    let lay = layout(&f).unwrap();
    let csum_offset: u16 = if proto == IPPROTO_TCP { 16 } else { 6 };
    // The pseudo-header sum, folded but not complemented, as Linux leaves it (CHECKSUM_PARTIAL).
    let partial = !fold(pseudo_sum(&f, &lay, l4_len).unwrap());
    let at = l4 + usize::from(csum_offset);
    f[at..at + 2].copy_from_slice(&partial.to_be_bytes());
    let gso_type = match (proto, v6) {
        (IPPROTO_TCP, false) => GsoType::TcpV4,
        (IPPROTO_TCP, true) => GsoType::TcpV6,
        _ => GsoType::UdpL4,
    };
    let hdr = VnetHeader {
        flags: FLAG_NEEDS_CSUM,
        gso_type,
        ecn: false,
        hdr_len: lay.payload as u16,
        gso_size: mss,
        csum_start: l4 as u16,
        csum_offset,
    };
    (hdr, f)
}

/// Checks a segment the way a receiver would: IP header checksum (v4), transport checksum
/// over the pseudo-header, lengths; returns (TCP sequence, flags, payload).
fn verify(seg: &[u8]) -> (u32, u8, Vec<u8>) {
    let lay = layout(seg).unwrap_or_else(|e| panic!("segment unreadable: {e}"));
    let l4_len = seg.len() - lay.l4;
    if lay.v6 {
        assert_eq!(usize::from(be16(seg, lay.l3 + 4, "").unwrap()), l4_len);
    } else {
        assert_eq!(
            usize::from(be16(seg, lay.l3 + 2, "").unwrap()),
            seg.len() - lay.l3
        );
        assert_eq!(
            internet_checksum(&seg[lay.l3..lay.l4]),
            0,
            "IPv4 header checksum"
        );
    }
    let sum = sum_words(pseudo_sum(seg, &lay, l4_len).unwrap(), &seg[lay.l4..]);
    assert_eq!(fold(sum), 0, "transport checksum");
    let (seq, flags) = if lay.proto == IPPROTO_TCP {
        let s = &seg[lay.l4 + 4..lay.l4 + 8];
        (
            u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
            seg[lay.l4 + 13],
        )
    } else {
        assert_eq!(usize::from(be16(seg, lay.l4 + 4, "").unwrap()), l4_len);
        (0, 0)
    };
    (seq, flags, seg[lay.payload..].to_vec())
}

fn run(hdr: &VnetHeader, frame: &[u8], max: usize) -> Result<Vec<Vec<u8>>, OffloadError> {
    let mut segs = Vec::new();
    let n = segment(hdr, frame, max, |s| segs.push(s.to_vec()))?;
    assert_eq!(n, segs.len());
    Ok(segs)
}

#[test]
fn header_round_trips_and_short_or_unknown_headers_are_refused() {
    let hdr = VnetHeader {
        flags: FLAG_NEEDS_CSUM,
        gso_type: GsoType::TcpV6,
        ecn: true,
        hdr_len: 86,
        gso_size: 1440,
        csum_start: 54,
        csum_offset: 16,
    };
    let bytes = hdr.to_bytes();
    assert_eq!(bytes, [1, 0x84, 86, 0, 0xa0, 0x05, 54, 0, 16, 0]);
    assert_eq!(VnetHeader::parse(&bytes), Ok(hdr));
    assert_eq!(
        VnetHeader::parse(&VnetHeader::PLAIN.to_bytes()),
        Ok(VnetHeader::PLAIN)
    );
    assert_eq!(
        VnetHeader::parse(&bytes[..9]),
        Err(OffloadError::ShortHeader { len: 9 })
    );
    assert_eq!(
        VnetHeader::parse(&[0, 3, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(OffloadError::UnsupportedGso(3))
    );
    assert_eq!(
        VnetHeader::parse(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(OffloadError::UnknownFlags(4))
    );
}

#[test]
fn a_64k_tcp_send_becomes_msdu_sized_segments_with_valid_checksums() {
    let payload: Vec<u8> = (0..65_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let (hdr, frame) = gso_frame(false, IPPROTO_TCP, &payload, 1448, TCP_PSH | 0x10 | TCP_FIN);
    let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
    assert_eq!(segs.len(), 65_000usize.div_ceil(1448));
    let mut joined = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        assert!(seg.len() <= 14 + 20 + 20 + 1448);
        let (seq, flags, data) = verify(seg);
        assert_eq!(seq, 0xffff_fff0u32.wrapping_add((i * 1448) as u32));
        let last = i + 1 == segs.len();
        assert_eq!(flags & (TCP_FIN | TCP_PSH) != 0, last, "segment {i}");
        assert_eq!(flags & 0x10, 0x10, "ACK on every segment");
        // IPv4 identification advances.
        assert_eq!(
            u16::from_be_bytes([seg[18], seg[19]]),
            0x1234u16.wrapping_add(i as u16)
        );
        joined.extend_from_slice(&data);
    }
    assert_eq!(joined, payload);
}

#[test]
fn the_segments_of_one_send_share_one_buffer_back_to_back() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let (hdr, frame) = gso_frame(false, IPPROTO_TCP, &payload, 1448, 0x10);
    let mut segs = Vec::new();
    let n = segment(&hdr, &frame, MAX_MSDU_FRAME_LEN, |s| segs.push(s)).unwrap();
    assert_eq!((n, segs.len()), (7, 7));
    // One allocation per send: each segment starts where the one before ends.
    for pair in segs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
    }
    // Slices of one buffer, yet each segment is a whole frame of its own.
    let owned: Vec<Vec<u8>> = segs.iter().map(|s| s.to_vec()).collect();
    assert_eq!(owned, run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap());
    for seg in &owned {
        verify(seg);
    }
}

#[test]
fn a_send_cut_into_tiny_segments_shares_bounded_buffers() {
    // 2 500 segments of 8 bytes, 62 bytes each with their headers: 155 000 bytes in all.
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 3) as u8).collect();
    let (hdr, frame) = gso_frame(false, IPPROTO_TCP, &payload, 8, 0x10);
    let mut segs = Vec::new();
    segment(&hdr, &frame, MAX_MSDU_FRAME_LEN, |s| segs.push(s)).unwrap();
    assert_eq!(segs.len(), 2_500);
    // Runs of segments back to back: one per buffer.
    let mut runs = vec![0usize];
    for pair in segs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.as_ptr().wrapping_add(a.len()) != b.as_ptr() {
            runs.push(0);
        }
        if let Some(last) = runs.last_mut() {
            *last += b.len();
        }
    }
    runs[0] += segs[0].len();
    assert_eq!(runs.iter().sum::<usize>(), 155_000);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|&r| r <= SEGMENT_BUFFER_MAX), "{runs:?}");
    let mut joined = Vec::new();
    for seg in &segs {
        joined.extend_from_slice(&verify(seg).2);
    }
    assert_eq!(joined, payload);
}

#[test]
fn tcp_over_ipv6_and_udp_are_segmented_too() {
    let payload = vec![0xa5u8; 5000];
    let (hdr, frame) = gso_frame(true, IPPROTO_TCP, &payload, 1400, 0x10);
    let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
    assert_eq!(segs.len(), 4);
    segs.iter().for_each(|s| drop(verify(s)));
    for v6 in [false, true] {
        let (hdr, frame) = gso_frame(v6, IPPROTO_UDP, &payload, 1200, 0);
        let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
        assert_eq!(segs.len(), 5);
        let data: Vec<u8> = segs.iter().flat_map(|s| verify(s).2).collect();
        assert_eq!(data, payload);
    }
}

#[test]
fn cwr_only_on_the_first_segment() {
    let (mut hdr, frame) = gso_frame(false, IPPROTO_TCP, &[1u8; 3000], 1000, TCP_CWR | 0x10);
    hdr.ecn = true;
    let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
    let flags: Vec<u8> = segs.iter().map(|s| verify(s).1).collect();
    assert_eq!(flags, [TCP_CWR | 0x10, 0x10, 0x10]);
}

#[test]
fn a_checksum_left_to_complete_is_completed_without_segmenting() {
    let (mut hdr, frame) = gso_frame(false, IPPROTO_TCP, b"hello, world", 1448, 0x18);
    hdr.gso_type = GsoType::None;
    hdr.gso_size = 0;
    let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!(verify(&segs[0]).2, b"hello, world");
    // Without NEEDS_CSUM the frame goes as it is.
    let plain = run(&VnetHeader::PLAIN, &frame, 60).unwrap();
    assert_eq!(plain, [frame]);
}

#[test]
fn bad_requests_are_refused_with_what_is_wrong() {
    let (hdr, frame) = gso_frame(false, IPPROTO_TCP, &[0u8; 4000], 2400, 0x10);
    assert_eq!(
        run(&hdr, &frame, MAX_MSDU_FRAME_LEN),
        Err(OffloadError::SegmentTooLong {
            len: 14 + 40 + 2400,
            max: MAX_MSDU_FRAME_LEN
        })
    );
    let (hdr, frame) = gso_frame(false, IPPROTO_TCP, &[0u8; 4000], 1000, 0x10);
    let zero = VnetHeader { gso_size: 0, ..hdr };
    assert_eq!(run(&zero, &frame, 1514), Err(OffloadError::ZeroGsoSize));
    let v6 = VnetHeader {
        gso_type: GsoType::TcpV6,
        ..hdr
    };
    assert!(matches!(
        run(&v6, &frame, 1514),
        Err(OffloadError::WrongProtocol(_))
    ));
    let moved = VnetHeader {
        csum_start: hdr.csum_start + 1,
        ..hdr
    };
    assert!(matches!(
        run(&moved, &frame, 1514),
        Err(OffloadError::ChecksumPosition { .. })
    ));
    assert_eq!(
        run(&hdr, &frame[..30], 1514),
        Err(OffloadError::Truncated("IPv4"))
    );
    assert_eq!(
        run(&hdr, &frame[..40], 1514),
        Err(OffloadError::Truncated("TCP"))
    );
    assert_eq!(
        run(&hdr, &frame[..2000], 1514),
        Err(OffloadError::BadLength)
    );
    let far = VnetHeader {
        gso_type: GsoType::None,
        csum_start: 60,
        csum_offset: 2000,
        ..hdr
    };
    assert!(matches!(
        run(&far, &frame[..100], 1514),
        Err(OffloadError::ChecksumOutOfFrame { .. })
    ));
}

/// The one's-complement sum word by word, as RFC 1071 writes it: what the fast sum must equal.
fn reference_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for pair in data.chunks(2) {
        let hi = u64::from(pair[0]);
        let lo = pair.get(1).map_or(0, |&b| u64::from(b));
        sum += (hi << 8) | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn the_checksum_matches_rfc_1071s_example() {
    // RFC 1071 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to dd f2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(!internet_checksum(&data), 0xddf2);
    assert_eq!(reference_sum(&data), 0xddf2);
    // An odd length pads the last byte on the right; a running sum is carried in.
    assert_eq!(!fold(sum_words(0, &data[..7])), reference_sum(&data[..7]));
    assert_eq!(fold(sum_words(0x1_0000, &[])), !1);
}

proptest! {
    #[test]
    fn the_fast_checksum_equals_the_word_by_word_one(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        start in 0usize..9,
    ) {
        let data = data.get(start.min(data.len())..).unwrap_or(&[]);
        prop_assert_eq!(!fold(sum_words(0, data)), reference_sum(data));
    }

    #[test]
    fn segments_fit_verify_and_reassemble(
        v6 in any::<bool>(),
        tcp in any::<bool>(),
        len in 0usize..20_000,
        mss in 1u16..1500,
        seed in any::<u8>(),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let proto = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        let (hdr, frame) = gso_frame(v6, proto, &payload, mss, 0x18);
        let segs = run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap();
        prop_assert_eq!(segs.len(), len.div_ceil(usize::from(mss)).max(1));
        let mut joined = Vec::new();
        for seg in &segs {
            prop_assert!(seg.len() <= MAX_MSDU_FRAME_LEN);
            joined.extend(verify(seg).2);
        }
        prop_assert_eq!(joined, payload);
    }

    #[test]
    fn any_header_and_frame_never_panic(
        hdr in proptest::collection::vec(any::<u8>(), 10),
        frame in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        if let Ok(h) = VnetHeader::parse(&hdr) {
            let _ = segment(&h, &frame, MAX_MSDU_FRAME_LEN, |s| {
                assert!(h.gso_type == GsoType::None || s.len() <= MAX_MSDU_FRAME_LEN);
            });
        }
    }
}

/// The segments of a GSO send, as [`segment`] cuts them.
fn segments_of(v6: bool, len: usize, mss: u16, flags: u8) -> Vec<Vec<u8>> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
    let (hdr, frame) = gso_frame(v6, IPPROTO_TCP, &payload, mss, flags);
    run(&hdr, &frame, MAX_MSDU_FRAME_LEN).unwrap()
}

/// An output of [`coalesce`] as (header, frame).
fn owned(frames: &[Vec<u8>], c: Coalesced<'_, Vec<u8>>) -> (VnetHeader, Vec<u8>) {
    match c {
        Coalesced::Single(i) => (VnetHeader::PLAIN, frames[i].clone()),
        Coalesced::Run(run) => {
            assert!(run.segments() >= 2);
            let joined = run.to_vec();
            assert_eq!(joined.len(), run.len());
            assert_eq!(&joined[..run.head().len()], run.head());
            (run.header, joined)
        }
    }
}

/// Coalesces `frames`, then cuts every output back with [`segment`].
fn round_trip(frames: &[Vec<u8>]) -> (usize, Vec<Vec<u8>>) {
    let mut outputs = Vec::new();
    let mut scratch = Vec::new();
    coalesce(frames, &mut scratch, |c| outputs.push(owned(frames, c)));
    let mut back = Vec::new();
    for (h, f) in &outputs {
        if h.gso_type != GsoType::None {
            assert!(f.len() <= 14 + 40 + 65_535);
            // What the guest's kernel sees: a partial checksum, completed, verifies.
            let mut whole = f.clone();
            complete_checksum(h, &mut whole).unwrap();
            drop(verify(&whole));
        }
        back.extend(run(h, f, MAX_MSDU_FRAME_LEN).unwrap());
    }
    (outputs.len(), back)
}

#[test]
fn a_run_of_segments_becomes_one_gso_frame_and_cuts_back_to_the_same_bytes() {
    let segs = segments_of(false, 40_000, 1448, 0x18);
    assert_eq!(segs.len(), 28);
    let (n, back) = round_trip(&segs);
    assert_eq!(n, 1);
    assert_eq!(back, segs);
    let segs6 = segments_of(true, 10_000, 1400, 0x10);
    let (n, back) = round_trip(&segs6);
    assert_eq!(n, 1);
    assert_eq!(back, segs6);
}

#[test]
fn a_whole_64k_send_coalesces_into_one_frame_and_a_longer_run_stops_at_the_ip_length() {
    // 45 segments of 1448 bytes (65 160), what a sender's kernel hands over as one TSO send:
    // one frame again, its IP total length within 16 bits.
    let segs = segments_of(false, 45 * 1448, 1448, 0x10);
    assert_eq!(segs.len(), 45);
    let (n, back) = round_trip(&segs);
    assert_eq!(n, 1);
    assert_eq!(back, segs);
    // One segment more (the next of the flow) no longer fits an IPv4 packet: the run ends
    // before it, and it goes alone.
    let mut next = segs[44].clone();
    let lay = layout(&next).unwrap();
    let seq = u32::from_be_bytes(next[lay.l4 + 4..lay.l4 + 8].try_into().unwrap());
    next[lay.l4 + 4..lay.l4 + 8].copy_from_slice(&seq.wrapping_add(1448).to_be_bytes());
    next[lay.l4 + 16..lay.l4 + 18].fill(0);
    let l4_len = next.len() - lay.l4;
    let sum = sum_words(pseudo_sum(&next, &lay, l4_len).unwrap(), &next[lay.l4..]);
    next[lay.l4 + 16..lay.l4 + 18].copy_from_slice(&fold(sum).to_be_bytes());
    let mut longer = segs.clone();
    longer.push(next.clone());
    let mut outputs = Vec::new();
    coalesce(&longer, &mut Vec::new(), |c| {
        outputs.push(owned(&longer, c))
    });
    assert_eq!(outputs.len(), 2);
    let ip_len = |f: &[u8]| usize::from(u16::from_be_bytes([f[16], f[17]]));
    assert_eq!(ip_len(&outputs[0].1), outputs[0].1.len() - 14);
    assert_eq!(outputs[1], (VnetHeader::PLAIN, next));
}

#[test]
fn other_frames_flows_and_bad_checksums_break_runs_and_keep_their_order() {
    let a = segments_of(false, 5 * 1000, 1000, 0x10);
    let b = segments_of(true, 3 * 1000, 1000, 0x10);
    let arp = vec![0xffu8; 42];
    let mut frames = vec![arp.clone()];
    frames.extend(a[..3].iter().cloned());
    frames.push(b[0].clone());
    frames.extend(a[3..].iter().cloned());
    frames.extend(b[1..].iter().cloned());
    let (n, back) = round_trip(&frames);
    assert_eq!(back, frames);
    // arp, a[0..3], b[0], a[3..5], b[1..3]
    assert_eq!(n, 5);

    // A segment whose checksum is wrong is handed on alone, as it is.
    let mut bad = a.clone();
    let last = bad[2].len() - 1;
    bad[2][last] ^= 0xff;
    let mut outputs = Vec::new();
    coalesce(&bad, &mut Vec::new(), |c| outputs.push(owned(&bad, c)));
    assert_eq!(outputs.len(), 3);
    assert_eq!(outputs[1], (VnetHeader::PLAIN, bad[2].clone()));
}

proptest! {
    #[test]
    fn coalescing_then_segmenting_gives_the_frames_back(
        v6 in any::<bool>(),
        len in 1usize..30_000,
        mss in 200u16..1500,
        drop_at in any::<prop::sample::Index>(),
        gap in any::<bool>(),
    ) {
        let mut segs = segments_of(v6, len, mss, 0x18);
        if gap && segs.len() > 2 {
            segs.remove(drop_at.index(segs.len()));
        }
        let (n, back) = round_trip(&segs);
        prop_assert!(n <= segs.len());
        prop_assert_eq!(back, segs);
    }
}
