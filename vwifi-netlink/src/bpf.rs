//! The kernel data path's receive classifier: a dozen eBPF instructions, assembled here and
//! loaded with the `bpf(2)` system call, that take a frame from the station's interface (`vwN`)
//! straight into the ingress of the peer of the guest's outer veth end — the container's
//! `wlan0`, in the container's namespace — with `bpf_redirect_peer` (Linux 5.10 and later), in
//! the same softirq and without the backlog pass of a `mirred` redirect through the veth.
//!
//! The program keeps the station interface's filters of the `mirred` path:
//!
//! ```text
//! r6 = r1                              ; the skb, as LD_ABS wants it
//! r0 = ntohs(*(u16 *)(skb + 12))       ; the EtherType
//! if r0 == 0x888e goto drop            ; EAPOL stays on the nl80211 control port
//! if r0 == 0x88b5 goto drop            ; only the host speaks vwifi's in-band control
//! r1 = OUTER                           ; the outer end: its peer takes the frame
//! r2 = 0
//! call bpf_redirect_peer               ; TC_ACT_REDIRECT, or TC_ACT_SHOT if it cannot
//! exit
//! drop: r0 = TC_ACT_SHOT
//! exit
//! ```
//!
//! (At a `cls_bpf` hook on ingress the kernel pushes the MAC header back before the program
//! runs, so offset 12 is the EtherType.) The program is attached as a direct-action `bpf`
//! filter ([`crate::tc`]); the filter holds it, so the path outlives the daemon's descriptor.
//!
//! `unsafe` is confined to the private `sys` module: the system call and taking its descriptor.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd};

/// `BPF_PROG_TYPE_SCHED_CLS`: a tc classifier.
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
/// `BPF_FUNC_redirect_peer` (include/uapi/linux/bpf.h, Linux 5.10 and later; 155 in 6.1).
pub const BPF_FUNC_REDIRECT_PEER: i32 = 155;
/// `TC_ACT_SHOT`: drop the frame.
pub const TC_ACT_SHOT: i32 = 2;
/// `TC_ACT_REDIRECT`: what `bpf_redirect_peer` returns when it took the frame.
pub const TC_ACT_REDIRECT: i32 = 7;
/// EAPOL.
const ETH_P_PAE: i32 = 0x888e;
/// Where the EtherType sits in an Ethernet frame.
const ETHERTYPE_OFFSET: i32 = 12;
/// The verifier's log, kept for the error when the kernel refuses the program.
const LOG_SIZE: usize = 64 * 1024;
/// The program's name, as `bpftool prog` and `tc filter show` give it.
pub const PROGRAM_NAME: &str = "vwifi_peer";

// Instruction classes, sizes, modes and operations (include/uapi/linux/bpf_common.h, bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_H: u8 = 0x08;
const BPF_ABS: u8 = 0x20;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;

/// Why the classifier could not be put on the station's interface (the `mirred` filters are
/// used instead).
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    /// The outer end's interface index does not fit the 32-bit signed immediate of an
    /// instruction.
    #[error("interface index {0} out of range for the program")]
    Ifindex(u32),
    /// `bpf(BPF_PROG_LOAD)` failed: no `CAP_BPF`/`CAP_NET_ADMIN` (`EPERM`), a kernel without
    /// `bpf_redirect_peer` or the verifier refusing the program (`EINVAL`, `EACCES`; its log is
    /// kept).
    #[error("the kernel refused the BPF program: {source}{}", Log(.log))]
    Load {
        /// The system call's error.
        source: io::Error,
        /// The verifier's log (empty when it wrote none).
        log: String,
    },
    /// The kernel refused the `bpf` tc filter holding the program (no `cls_bpf`).
    #[error("the kernel refused the bpf tc filter: {0}")]
    Attach(#[source] io::Error),
}

/// The verifier's log in an error message: its last lines, after a colon.
struct Log<'a>(&'a str);

impl fmt::Display for Log<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.0.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return Ok(());
        }
        let tail = &lines[lines.len().saturating_sub(4)..];
        write!(f, " (verifier: {})", tail.join(" / "))
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Class, size/source and operation.
    pub code: u8,
    /// Destination (low nibble on a little-endian machine) and source register.
    regs: u8,
    /// Jump offset, in instructions after the next one.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        let regs = if cfg!(target_endian = "little") {
            (dst & 0xf) | (src << 4)
        } else {
            (dst << 4) | (src & 0xf)
        };
        Self {
            code,
            regs,
            off,
            imm,
        }
    }

    /// The destination register.
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }

    /// The source register.
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }

    /// The instruction as the kernel reads it (native byte order).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// `dst = src` (64 bits).
fn mov_reg(dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
}

/// `dst = imm` (64 bits, sign-extended).
fn mov_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
}

/// `r0 = ntohs(*(u16 *)(skb->data + off))` (the skb in `r6`).
fn ld_abs_h(off: i32) -> Insn {
    Insn::new(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, off)
}

/// `if dst == imm goto +off`.
fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
}

/// Calls helper `id`.
fn call(id: i32) -> Insn {
    Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, id)
}

/// Returns `r0`.
fn exit() -> Insn {
    Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

/// The classifier of the station's interface for the outer veth end `outer` (its index in the
/// station interface's namespace): EAPOL and vwifi's control EtherType dropped, everything else
/// to the ingress of `outer`'s peer.
pub fn peer_redirect_program(outer: u32) -> Result<Vec<Insn>, BpfError> {
    let outer = i32::try_from(outer).map_err(|_| BpfError::Ifindex(outer))?;
    Ok(vec![
        mov_reg(6, 1),
        ld_abs_h(ETHERTYPE_OFFSET),
        jeq_imm(0, ETH_P_PAE, 5),
        jeq_imm(0, i32::from(vwifi_core::proto::ETHERTYPE), 4),
        mov_imm(1, outer),
        mov_imm(2, 0),
        call(BPF_FUNC_REDIRECT_PEER),
        exit(),
        mov_imm(0, TC_ACT_SHOT),
        exit(),
    ])
}

/// A loaded classifier; the kernel keeps it while a tc filter holds it or this descriptor is
/// open.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

impl Program {
    /// Loads [`peer_redirect_program`] for `outer` (needs `CAP_BPF` and `CAP_NET_ADMIN`, or
    /// root).
    pub fn peer_redirect(outer: u32) -> Result<Self, BpfError> {
        let insns = peer_redirect_program(outer)?;
        sys::prog_load(BPF_PROG_TYPE_SCHED_CLS, &insns, PROGRAM_NAME).map(|fd| Self { fd })
    }

    /// The program's descriptor, for `TCA_BPF_FD`.
    pub fn fd(&self) -> u32 {
        // A descriptor the kernel handed out is never negative.
        u32::try_from(self.fd.as_raw_fd()).unwrap_or(u32::MAX)
    }
}

/// `BPF_FUNC_redirect`.
#[cfg(test)]
const BPF_FUNC_REDIRECT: i32 = 23;

/// For the measurements of the transmit direction: a classifier that sends every frame out of
/// link `ifindex` (`bpf_redirect(ifindex, 0)`, the egress path `mirred` also takes).
#[cfg(test)]
pub(crate) fn load_redirect_egress(ifindex: u32) -> Result<Program, BpfError> {
    let ifindex = i32::try_from(ifindex).map_err(|_| BpfError::Ifindex(ifindex))?;
    let insns = [
        mov_imm(1, ifindex),
        mov_imm(2, 0),
        call(BPF_FUNC_REDIRECT),
        exit(),
    ];
    sys::prog_load(BPF_PROG_TYPE_SCHED_CLS, &insns, "vwifi_egress").map(|fd| Program { fd })
}

/// The system call (the only `unsafe` of the crate).
#[allow(unsafe_code)]
mod sys {
    use std::io;
    use std::os::fd::{FromRawFd as _, OwnedFd};

    use super::{BpfError, Insn, LOG_SIZE};

    /// `BPF_PROG_LOAD`.
    const BPF_PROG_LOAD: libc::c_long = 5;
    /// The verifier's log level: its messages (1: the instructions it walked, and why it
    /// refused).
    const LOG_LEVEL: u32 = 1;

    /// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `expected_attach_type` (the kernel
    /// takes a shorter attribute and zeroes the rest).
    #[repr(C)]
    struct ProgLoadAttr {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
    }

    /// Loads `insns` as a program of `prog_type`, licence "GPL", named `name` (at most 15
    /// bytes kept).
    pub(super) fn prog_load(
        prog_type: u32,
        insns: &[Insn],
        name: &str,
    ) -> Result<OwnedFd, BpfError> {
        let license = c"GPL";
        let mut log = vec![0u8; LOG_SIZE];
        let mut prog_name = [0u8; 16];
        let n = name.len().min(15);
        prog_name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let load_error = |source| BpfError::Load {
            source,
            log: String::new(),
        };
        let attr = ProgLoadAttr {
            prog_type,
            insn_cnt: u32::try_from(insns.len())
                .map_err(|_| load_error(io::Error::other("too many instructions")))?,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: LOG_LEVEL,
            log_size: u32::try_from(log.len()).unwrap_or(u32::MAX),
            log_buf: log.as_mut_ptr() as u64,
            kern_version: 0,
            prog_flags: 0,
            prog_name,
            prog_ifindex: 0,
            expected_attach_type: 0,
        };
        // SAFETY: `attr` is a valid prefix of `union bpf_attr` for BPF_PROG_LOAD, its size
        // passed along; the instructions, the NUL-terminated licence and the log buffer it
        // points to outlive the call, and the kernel writes at most `log_size` bytes into the
        // log buffer, which is ours alone.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &attr as *const ProgLoadAttr,
                std::mem::size_of::<ProgLoadAttr>(),
            )
        };
        if ret < 0 {
            let source = io::Error::last_os_error();
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            return Err(BpfError::Load {
                source,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            });
        }
        let fd = i32::try_from(ret)
            .map_err(|_| load_error(io::Error::other("descriptor out of range")))?;
        // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Writes `frame` (a whole Ethernet frame) out of link `ifindex` through a packet socket.
    #[cfg(test)]
    pub(crate) fn send_raw(ifindex: u32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: socket(2) with constant arguments; the result is checked below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = i32::try_from(ifindex).map_err(io::Error::other)?;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(frame.get(..6).unwrap_or(&[0; 6]));
        // SAFETY: the frame and the address are valid for the lengths passed, for the call's
        // duration; `fd` is an open packet socket.
        let sent = unsafe {
            libc::sendto(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Drops `CAP_BPF` and `CAP_SYS_ADMIN` from the calling thread's effective capabilities
    /// (the other threads keep theirs).
    #[cfg(test)]
    pub(crate) fn drop_bpf_capabilities() -> io::Result<()> {
        /// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
        const VERSION_3: u32 = 0x2008_0522;
        const CAP_SYS_ADMIN: u32 = 21;
        const CAP_BPF: u32 = 39;
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let mut data = [Data::default(); 2];
        // SAFETY: capget(2) with a version-3 header and room for its two data words, both
        // valid for the call's duration.
        if unsafe {
            libc::syscall(
                libc::SYS_capget,
                &mut header as *mut Header,
                data.as_mut_ptr(),
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        for cap in [CAP_SYS_ADMIN, CAP_BPF] {
            data[(cap / 32) as usize].effective &= !(1 << (cap % 32));
        }
        // SAFETY: capset(2) with the same header and data, valid for the call's duration; it
        // changes only this thread's capabilities.
        if unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) }
            != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Captures the frames link `ifname` of network namespace `netns` (a path such as
    /// `/var/run/netns/NAME`) receives or sends for `secs` seconds, on a thread that enters
    /// the namespace; `ready` is told once the socket listens.
    #[cfg(test)]
    pub(crate) fn capture_in(
        netns: &str,
        ifname: &str,
        secs: f64,
        ready: std::sync::mpsc::Sender<()>,
    ) -> std::thread::JoinHandle<io::Result<Vec<Vec<u8>>>> {
        use std::os::fd::AsRawFd as _;
        let (netns, ifname) = (netns.to_owned(), ifname.to_owned());
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&netns)?;
            // SAFETY: setns(2) on an open namespace file; it changes this thread's namespace
            // only, and the thread is ours.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let name = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
            // SAFETY: `name` is a NUL-terminated string that outlives the call.
            let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if index == 0 {
                return Err(io::Error::last_os_error());
            }
            let all = i32::from((libc::ETH_P_ALL as u16).to_be());
            // SAFETY: socket(2) with constant arguments; the result is checked below.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, all) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
            addr.sll_ifindex = i32::try_from(index).map_err(io::Error::other)?;
            // SAFETY: the address is valid for its length for the call's duration.
            let bound = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if bound != 0 {
                return Err(io::Error::last_os_error());
            }
            let timeout = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            // SAFETY: SO_RCVTIMEO with a timeval valid for its length for the call's duration.
            let set = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&timeout as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            if set != 0 {
                return Err(io::Error::last_os_error());
            }
            let _ = ready.send(());
            let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
            let mut frames = Vec::new();
            let mut buf = vec![0u8; 2048];
            while std::time::Instant::now() < end {
                // SAFETY: `buf` is valid for writes of its length for the call's duration.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if let Ok(n) = usize::try_from(n) {
                    frames.push(buf[..n].to_vec());
                }
            }
            Ok(frames)
        })
    }
}

#[cfg(test)]
pub(crate) use sys::{capture_in, drop_bpf_capabilities, send_raw};

#[cfg(test)]
mod tests {
    use super::*;

    /// What the program did with a frame.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        /// It returned this verdict without calling a helper.
        Verdict(i32),
        /// It called `bpf_redirect_peer(ifindex, flags)` and returned what the helper returned.
        RedirectPeer { ifindex: u64, flags: u64 },
    }

    /// Runs `prog` over `frame` the way the kernel would for the instructions it uses (an
    /// `LD_ABS` out of the frame ends the program with 0).
    fn run(prog: &[Insn], frame: &[u8]) -> Outcome {
        let mut r = [0u64; 11];
        let mut called = None;
        let mut pc = 0usize;
        for _ in 0..64 {
            let i = prog[pc];
            let (dst, src) = (usize::from(i.dst()), usize::from(i.src()));
            pc += 1;
            match i.code {
                0xbf => r[dst] = r[src],
                0xb7 => r[dst] = i64::from(i.imm) as u64,
                0x28 => {
                    let at = usize::try_from(i.imm).unwrap();
                    let Some(b) = frame.get(at..at + 2) else {
                        return Outcome::Verdict(0);
                    };
                    r[0] = u64::from(u16::from_be_bytes([b[0], b[1]]));
                    r[1..6].fill(0xdead);
                }
                0x15 => {
                    if r[dst] == i64::from(i.imm) as u64 {
                        pc = pc.checked_add_signed(isize::from(i.off)).unwrap();
                    }
                }
                0x85 => {
                    assert_eq!(i.imm, BPF_FUNC_REDIRECT_PEER);
                    called = Some((r[1], r[2]));
                    r[0] = TC_ACT_REDIRECT as u64;
                }
                0x95 => {
                    return match called {
                        Some((ifindex, flags)) => {
                            assert_eq!(r[0], TC_ACT_REDIRECT as u64);
                            Outcome::RedirectPeer { ifindex, flags }
                        }
                        None => Outcome::Verdict(r[0] as i32),
                    };
                }
                op => panic!("opcode {op:#x} not in the program"),
            }
        }
        panic!("the program does not end");
    }

    fn frame(ethertype: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0, 0, 0, 0, 1];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[0x45, 0, 0, 20]);
        f
    }

    #[test]
    fn data_goes_to_the_peer_eapol_and_control_are_dropped() {
        let prog = peer_redirect_program(42).unwrap();
        for ethertype in [0x0800, 0x86dd, 0x0806, 0x88b4, 0x888f] {
            assert_eq!(
                run(&prog, &frame(ethertype)),
                Outcome::RedirectPeer {
                    ifindex: 42,
                    flags: 0
                },
                "{ethertype:#x}"
            );
        }
        assert_eq!(run(&prog, &frame(0x888e)), Outcome::Verdict(TC_ACT_SHOT));
        assert_eq!(run(&prog, &frame(0x88b5)), Outcome::Verdict(TC_ACT_SHOT));
        // A frame without an EtherType ends the program (TC_ACT_OK), as LD_ABS does in the
        // kernel.
        assert_eq!(run(&prog, &frame(0x0800)[..13]), Outcome::Verdict(0));
    }

    /// The encoding `llvm-objdump -d` shows for the same instructions (little-endian).
    #[test]
    #[cfg(target_endian = "little")]
    fn the_instructions_encode_as_the_kernel_reads_them() {
        let prog = peer_redirect_program(0x0102_0304).unwrap();
        let bytes: Vec<[u8; 8]> = prog.iter().map(|i| i.to_bytes()).collect();
        assert_eq!(bytes[0], [0xbf, 0x16, 0, 0, 0, 0, 0, 0]); // r6 = r1
        assert_eq!(bytes[1], [0x28, 0, 0, 0, 12, 0, 0, 0]); // r0 = *(u16 *)skb[12]
        assert_eq!(bytes[2], [0x15, 0, 5, 0, 0x8e, 0x88, 0, 0]); // if r0 == 0x888e goto +5
        assert_eq!(bytes[3], [0x15, 0, 4, 0, 0xb5, 0x88, 0, 0]); // if r0 == 0x88b5 goto +4
        assert_eq!(bytes[4], [0xb7, 0x01, 0, 0, 4, 3, 2, 1]); // r1 = 0x01020304
        assert_eq!(bytes[5], [0xb7, 0x02, 0, 0, 0, 0, 0, 0]); // r2 = 0
        assert_eq!(bytes[6], [0x85, 0, 0, 0, 155, 0, 0, 0]); // call 155
        assert_eq!(bytes[7], [0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
        assert_eq!(bytes[8], [0xb7, 0, 0, 0, 2, 0, 0, 0]); // r0 = 2
        assert_eq!(bytes[9], [0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    #[test]
    fn an_index_beyond_the_immediate_is_refused() {
        assert!(matches!(
            peer_redirect_program(u32::MAX),
            Err(BpfError::Ifindex(u32::MAX))
        ));
    }

    #[test]
    fn the_error_carries_the_end_of_the_verifier_log() {
        let e = BpfError::Load {
            source: io::Error::from_raw_os_error(13),
            log: "0: (bf) r6 = r1\n1: (28) r0 = *(u16 *)skb[12]\n\nunknown func 155\n".into(),
        };
        let text = e.to_string();
        assert!(text.contains("unknown func 155"), "{text}");
        assert!(
            text.starts_with("the kernel refused the BPF program"),
            "{text}"
        );
        let quiet = BpfError::Load {
            source: io::Error::from_raw_os_error(1),
            log: String::new(),
        };
        assert!(!quiet.to_string().contains("verifier"));
    }
}
