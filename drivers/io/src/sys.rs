//! What each platform can tell about a socket's send queue, and the Nagle options socket2
//! does not cover. The only `unsafe` in linger's drivers lives here.
//!
//! | platform | unacknowledged bytes | FIN counted | cork |
//! |---|---|---|---|
//! | Linux, Android | `ioctl(SIOCOUTQ)` | yes | `TCP_CORK` |
//! | macOS, iOS | `getsockopt(SO_NWRITE)` | no | `TCP_NOPUSH` |
//! | FreeBSD | `ioctl(FIONWRITE)` | no | `TCP_NOPUSH` |
//! | elsewhere | unknown: the outcome says so | | none |

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Bytes written to `socket` and not yet acknowledged by the peer, or `None` where the
/// platform cannot tell. On Linux the FIN counts as one byte once it is queued.
pub fn unacked(socket: &impl AsFd) -> io::Result<Option<u32>> {
    platform::unacked(socket.as_fd().as_raw_fd())
}

/// Bytes written to `socket` and not yet sent at all (Linux `SIOCOUTQNSD`): the part of
/// [`unacked`] still waiting for the congestion or receive window. `None` elsewhere.
pub fn unsent(socket: &impl AsFd) -> io::Result<Option<u32>> {
    platform::unsent(socket.as_fd().as_raw_fd())
}

/// Holds (`true`) or releases partial segments: `TCP_CORK` on Linux, `TCP_NOPUSH` on the
/// BSDs. Elsewhere there is no such option and this does nothing.
pub fn set_cork(socket: &impl AsFd, cork: bool) -> io::Result<()> {
    platform::set_cork(socket, cork)
}

/// Reads into `buf` without blocking, whatever the socket's mode (`recv` with
/// `MSG_DONTWAIT`): a blocking std stream can be drained without a `fcntl`/`ioctl` call to
/// switch it to non-blocking first. `WouldBlock` when nothing is waiting.
#[allow(unsafe_code)]
pub fn read_nonblocking(socket: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = socket.as_fd().as_raw_fd();
    // SAFETY: `buf` is live and writable for `buf.len()` bytes, which is all `recv` writes;
    // an invalid `fd` makes the call fail with EBADF, nothing worse.
    let read = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
}

fn figure(value: libc::c_int) -> io::Result<Option<u32>> {
    u32::try_from(value).map(Some).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("negative send queue {value}"),
        )
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod platform {
    use super::figure;
    use std::io;
    use std::os::fd::{AsFd, RawFd};

    /// `SIOCOUTQNSD` from `linux/sockios.h`; libc does not export it.
    const SIOCOUTQNSD: libc::Ioctl = 0x894B;

    #[allow(unsafe_code)]
    fn ioctl_int(fd: RawFd, request: libc::Ioctl) -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        // SAFETY: both requests write one `int` through the pointer, which points to a live,
        // writable `c_int`; an invalid `fd` makes the call fail with EBADF, nothing worse.
        let result = unsafe { libc::ioctl(fd, request, &mut value as *mut libc::c_int) };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(value)
    }

    pub(super) fn unacked(fd: RawFd) -> io::Result<Option<u32>> {
        // SIOCOUTQ is TIOCOUTQ for sockets: write_seq - snd_una, the FIN included.
        figure(ioctl_int(fd, libc::TIOCOUTQ)?)
    }

    pub(super) fn unsent(fd: RawFd) -> io::Result<Option<u32>> {
        figure(ioctl_int(fd, SIOCOUTQNSD)?)
    }

    pub(super) fn set_cork(socket: &impl AsFd, cork: bool) -> io::Result<()> {
        socket2::SockRef::from(socket).set_tcp_cork(cork)
    }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod platform {
    use super::figure;
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};

    #[cfg(any(target_os = "macos", target_os = "ios"))]
    #[allow(unsafe_code)]
    pub(super) fn unacked(fd: RawFd) -> io::Result<Option<u32>> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: SO_NWRITE writes at most `len` bytes into `value`, a live `c_int`, and
        // updates `len`; an invalid `fd` makes the call fail, nothing worse.
        let result = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NWRITE,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        figure(value)
    }

    #[cfg(target_os = "freebsd")]
    #[allow(unsafe_code)]
    pub(super) fn unacked(fd: RawFd) -> io::Result<Option<u32>> {
        let mut value: libc::c_int = 0;
        // SAFETY: FIONWRITE writes one `int` through the pointer, which points to a live
        // `c_int`; an invalid `fd` makes the call fail, nothing worse.
        let result = unsafe { libc::ioctl(fd, libc::FIONWRITE, &mut value as *mut libc::c_int) };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        figure(value)
    }

    pub(super) fn unsent(_fd: RawFd) -> io::Result<Option<u32>> {
        Ok(None)
    }

    #[allow(unsafe_code)]
    pub(super) fn set_cork(socket: &impl AsFd, cork: bool) -> io::Result<()> {
        let value = libc::c_int::from(cork);
        // SAFETY: TCP_NOPUSH reads one `int` from a live `c_int` of the length given.
        let result = unsafe {
            libc::setsockopt(
                socket.as_fd().as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NOPUSH,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
mod platform {
    use std::io;
    use std::os::fd::{AsFd, RawFd};

    pub(super) fn unacked(_fd: RawFd) -> io::Result<Option<u32>> {
        Ok(None)
    }

    pub(super) fn unsent(_fd: RawFd) -> io::Result<Option<u32>> {
        Ok(None)
    }

    pub(super) fn set_cork(_socket: &impl AsFd, _cork: bool) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client, server)
    }

    /// Polls `unacked` until it equals `want`, for at most two seconds.
    fn settles_at(socket: &TcpStream, want: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if unacked(socket).expect("SIOCOUTQ") == Some(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn unacked_counts_bytes_then_the_fin_until_the_peer_acks() {
        let (mut client, server) = pair();
        assert_eq!(unacked(&client).expect("SIOCOUTQ"), Some(0));
        // Loopback acknowledges at once; what is unacked here is only ever in flight.
        client.write_all(&[7; 1000]).expect("write");
        assert!(settles_at(&client, 0), "1000 bytes were never acknowledged");
        client.shutdown(Shutdown::Write).expect("shutdown");
        assert!(settles_at(&client, 0), "the FIN was never acknowledged");
        drop(server);
    }

    #[test]
    fn unacked_keeps_what_a_peer_that_stopped_reading_cannot_take() {
        let (client, mut server) = pair();
        socket2::SockRef::from(&client)
            .set_recv_buffer_size(4096)
            .expect("rcvbuf");
        server.set_nonblocking(true).expect("nonblocking");
        let mut sent = 0usize;
        let block = [1u8; 65536];
        // Fill the peer's window and our send buffer; the peer never reads.
        while let Ok(written) = server.write(&block) {
            sent += written;
        }
        let unacked_bytes = unacked(&server)
            .expect("SIOCOUTQ")
            .expect("Linux reports it");
        let unsent_bytes = unsent(&server)
            .expect("SIOCOUTQNSD")
            .expect("Linux reports it");
        assert!(unacked_bytes > 0 && unacked_bytes as usize <= sent);
        assert!(unsent_bytes <= unacked_bytes);
        let mut sink = Vec::new();
        let _ = (&client).take(0).read_to_end(&mut sink);
    }

    /// Retries `read_nonblocking` while it would block, for at most two seconds.
    fn read_once_ready(socket: &TcpStream, buf: &mut [u8]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match read_nonblocking(socket, buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "nothing arrived");
                    std::thread::sleep(Duration::from_millis(1));
                }
                result => return result.expect("read"),
            }
        }
    }

    #[test]
    fn read_nonblocking_never_blocks_a_blocking_stream() {
        let (mut client, server) = pair();
        let mut buf = [0u8; 16];
        let empty = read_nonblocking(&server, &mut buf).expect_err("nothing was sent");
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"hello").expect("write");
        let read = read_once_ready(&server, &mut buf);
        assert_eq!(&buf[..read], b"hello");
        client.shutdown(Shutdown::Write).expect("shutdown");
        assert_eq!(
            read_once_ready(&server, &mut buf),
            0,
            "the peer's FIN reads as EOF"
        );
    }

    #[test]
    fn cork_can_be_set_and_cleared() {
        let (client, _server) = pair();
        set_cork(&client, true).expect("cork");
        assert!(
            socket2::SockRef::from(&client)
                .tcp_cork()
                .expect("read cork")
        );
        set_cork(&client, false).expect("uncork");
        assert!(
            !socket2::SockRef::from(&client)
                .tcp_cork()
                .expect("read cork")
        );
    }
}
