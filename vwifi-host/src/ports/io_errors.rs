//! Which I/O errors of a port's reads and writes are only of the moment (the port goes on)
//! and which end it: shared by the TAPs' batched writes ([`super::tap_io`]) and the packet
//! sockets' readers (the kernel path's control socket, [`super::kernel`], and the nl80211
//! station's frame reader, [`crate::nl80211`]).

use std::io;

use rustix::io::Errno;

/// Whether a write error concerns only this frame or this moment (drop it and go on), not the
/// TAP (end the port).
pub(crate) fn write_refused_for_now(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::WouldBlock {
        return true;
    }
    matches!(
        Errno::from_io_error(e),
        Some(
            Errno::AGAIN | Errno::NOBUFS | Errno::NOMEM | Errno::IO | Errno::INVAL | Errno::MSGSIZE
        )
    )
}

/// Whether an error of a packet socket's read (pnet's) is only its read timeout, or a
/// signal, ending the wait: the reader checks whether to stop and reads again.
pub(crate) fn read_timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_for_the_moment_drop_the_frame_other_errors_end_the_port() {
        for errno in [
            Errno::AGAIN,
            Errno::NOBUFS,
            Errno::NOMEM,
            Errno::IO,
            Errno::INVAL,
            Errno::MSGSIZE,
        ] {
            assert!(write_refused_for_now(&io::Error::from(errno)), "{errno:?}");
        }
        assert!(write_refused_for_now(&io::ErrorKind::WouldBlock.into()));
        for errno in [Errno::BADFD, Errno::BADF, Errno::NODEV, Errno::FAULT] {
            assert!(!write_refused_for_now(&io::Error::from(errno)), "{errno:?}");
        }
    }

    #[test]
    fn only_a_timeout_or_a_signal_means_read_again() {
        for kind in [
            io::ErrorKind::TimedOut,
            io::ErrorKind::WouldBlock,
            io::ErrorKind::Interrupted,
        ] {
            assert!(read_timed_out(&io::Error::from(kind)), "{kind:?}");
        }
        for kind in [io::ErrorKind::NotFound, io::ErrorKind::Other] {
            assert!(!read_timed_out(&io::Error::from(kind)), "{kind:?}");
        }
        // The interface went away under the socket: the reader ends.
        let gone = io::Error::from_raw_os_error(Errno::NODEV.raw_os_error());
        assert!(!read_timed_out(&gone));
    }
}
