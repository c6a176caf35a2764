//! Linux and Android: `SIOCOUTQ` counts what is not acknowledged, our FIN included, and keeps
//! it after a reset; `tcp_info` counts what was written; `TCP_CORK` holds partial segments.

use super::unix;
use crate::AsSocket;
use crate::acks::{self, Verdict};
use linger::Stats;
use std::io;

/// `SIOCOUTQNSD` from `linux/sockios.h`; libc does not export it.
const SIOCOUTQNSD: unix::Request = 0x894B;

pub(super) fn unacked(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    // SIOCOUTQ is TIOCOUTQ for sockets: write_seq - snd_una, the FIN included.
    unix::figure(unix::ioctl_int(socket, libc::TIOCOUTQ)?).map(Some)
}

pub(super) fn unsent(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    unix::figure(unix::ioctl_int(socket, SIOCOUTQNSD)?).map(Some)
}

/// One `ioctl(SIOCOUTQ)`: nothing else is read on Linux's close path.
pub(super) fn send_queue_verdict(socket: &impl AsSocket, _: &Stats) -> io::Result<Verdict> {
    let siocoutq = unix::figure(unix::ioctl_int(socket, libc::TIOCOUTQ)?)?;
    Ok(acks::linux(siocoutq))
}

pub(super) fn unacked_kept_after_the_end(socket: &impl AsSocket) -> Option<u32> {
    unacked(socket).ok().flatten()
}

pub(super) fn set_cork(socket: &impl AsSocket, cork: bool) -> io::Result<()> {
    socket2::SockRef::from(socket).set_tcp_cork(cork)
}

pub(super) use unix::{read_nonblocking, wait_readable};

/// `struct tcp_info` through `tcpi_bytes_retrans` (Linux 4.19), and the offsets read.
const TCP_INFO_LEN: usize = 216;
const STATE: usize = 0;
const NOTSENT_BYTES: usize = 144;
const BYTES_SENT: usize = 200;
const BYTES_RETRANS: usize = 208;

/// `tcpi_state` values (`include/net/tcp_states.h`; libc does not export them).
pub(super) mod tcp_state {
    pub(crate) const FIN_WAIT1: u8 = 4;
    pub(crate) const FIN_WAIT2: u8 = 5;
    pub(crate) const TIME_WAIT: u8 = 6;
    pub(crate) const CLOSE: u8 = 7;
    pub(crate) const LAST_ACK: u8 = 9;
    pub(crate) const CLOSING: u8 = 11;
}
use tcp_state::*;

/// States in which our FIN is queued: it sits among the unsent bytes while
/// `tcpi_notsent_bytes` is not zero. In `CLOSE` nothing tells whether it is.
const FIN_QUEUED: [u8; 5] = [FIN_WAIT1, FIN_WAIT2, CLOSING, TIME_WAIT, LAST_ACK];

pub(super) fn bytes_written(socket: &impl AsSocket) -> io::Result<Option<u64>> {
    let (info, len) = unix::getsockopt(
        socket,
        libc::IPPROTO_TCP,
        libc::TCP_INFO,
        [0u8; TCP_INFO_LEN],
    )?;
    if len < TCP_INFO_LEN {
        return Ok(None);
    }
    let u32_at =
        |at: usize| u32::from_ne_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
    let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
    Ok(written_from_tcp_info(
        info[STATE],
        u64_at(BYTES_SENT),
        u64_at(BYTES_RETRANS),
        u32_at(NOTSENT_BYTES),
    ))
}

/// The arithmetic of [`bytes_written`], apart so it can be tested on any figures.
pub(super) fn written_from_tcp_info(
    state: u8,
    bytes_sent: u64,
    bytes_retrans: u64,
    notsent: u32,
) -> Option<u64> {
    let unsent = u64::from(notsent);
    let sent_once = bytes_sent.checked_sub(bytes_retrans)?;
    let unsent_data = match state {
        _ if unsent == 0 => 0,
        CLOSE => return None,
        state if FIN_QUEUED.contains(&state) => unsent - 1,
        _ => unsent,
    };
    sent_once.checked_add(unsent_data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{bytes_written, read_nonblocking, set_cork, unacked, unsent};
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

    /// Writes `total` bytes in uneven pieces to a peer that does not read, so part of them
    /// stays unsent.
    fn write_without_reading(server: &mut TcpStream, total: usize) -> usize {
        server.set_nonblocking(true).expect("non-blocking");
        let mut written = 0;
        for piece in [1, 7_777, 65_536, 123].iter().cycle() {
            let want = (*piece).min(total - written);
            match server.write(&vec![b'w'; want]) {
                Ok(bytes) => written += bytes,
                Err(_) => break,
            }
            if written == total {
                break;
            }
        }
        written
    }

    #[test]
    fn bytes_written_counts_sent_and_unsent_bytes_on_both_sides() {
        let (mut client, mut server) = pair();
        let written = write_without_reading(&mut server, 5 << 20);
        assert_eq!(
            bytes_written(&server).expect("TCP_INFO"),
            Some(written as u64)
        );
        // A connecting socket's count does not include its SYN.
        client.write_all(b"request").expect("write");
        assert_eq!(bytes_written(&client).expect("TCP_INFO"), Some(7));
    }

    #[test]
    fn bytes_written_leaves_out_a_queued_fin() {
        let (_client, mut server) = pair();
        let written = write_without_reading(&mut server, 5 << 20);
        server.shutdown(Shutdown::Write).expect("shutdown");
        assert_eq!(
            bytes_written(&server).expect("TCP_INFO"),
            Some(written as u64)
        );
    }

    #[test]
    fn bytes_written_arithmetic() {
        use tcp_state::{CLOSE as close, FIN_WAIT1 as fin_wait1};
        use written_from_tcp_info as written;
        let established = 1;
        assert_eq!(written(established, 1500, 500, 20), Some(1020));
        assert_eq!(
            written(fin_wait1, 1000, 0, 21),
            Some(1020),
            "the FIN is unsent"
        );
        assert_eq!(
            written(fin_wait1, 1000, 0, 0),
            Some(1000),
            "the FIN is sent"
        );
        assert_eq!(written(close, 1000, 0, 0), Some(1000));
        assert_eq!(written(close, 1000, 0, 5), None, "a FIN may be among them");
        assert_eq!(
            written(established, 10, 20, 0),
            None,
            "inconsistent figures"
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
