//! The Linux queries on real loopback sockets, and the arithmetic behind them.

use super::{BYTES_RETRANS, BYTES_SENT, NOTSENT_BYTES, STATE, TCP_INFO_LEN};
use super::{tcp_state, written_from_raw_tcp_info, written_from_tcp_info};
use crate::sys::{bytes_written, read_nonblocking, set_cork, unacked, unsent, wait_readable};
use std::io;
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
    assert!(
        unsent_bytes > 1 && unsent_bytes <= unacked_bytes,
        "a closed window leaves most of it unsent: {unsent_bytes} of {unacked_bytes}"
    );
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
fn wait_readable_waits_out_its_timeout_when_nothing_arrives() {
    let (_client, server) = pair();
    let started = Instant::now();
    assert!(!wait_readable(&server, Duration::from_millis(30)));
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "the wait lasted its timeout"
    );
}

#[test]
fn wait_readable_reports_data_and_the_peers_fin() {
    let (mut client, mut server) = pair();
    client.write_all(b"x").expect("write");
    assert!(wait_readable(&server, Duration::from_secs(5)), "data");
    server.read_exact(&mut [0u8; 1]).expect("read the byte");
    client.shutdown(Shutdown::Write).expect("shutdown");
    assert!(wait_readable(&server, Duration::from_secs(5)), "EOF");
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

#[test]
fn queries_on_a_file_fail_rather_than_report_figures() {
    let file = std::fs::File::open("/dev/null").expect("/dev/null");
    assert!(unacked(&file).is_err(), "SIOCOUTQ on a file");
    assert!(bytes_written(&file).is_err(), "TCP_INFO on a file");
}

#[test]
fn raw_tcp_info_is_read_in_the_machines_byte_order() {
    const ESTABLISHED: u8 = 1;
    let mut info = [0u8; TCP_INFO_LEN];
    let sent: u64 = (5 << 30) + 7;
    let retransmitted: u64 = 1 << 32;
    info[STATE] = ESTABLISHED;
    info[BYTES_SENT..BYTES_SENT + 8].copy_from_slice(&sent.to_ne_bytes());
    info[BYTES_RETRANS..BYTES_RETRANS + 8].copy_from_slice(&retransmitted.to_ne_bytes());
    info[NOTSENT_BYTES..NOTSENT_BYTES + 4].copy_from_slice(&20u32.to_ne_bytes());
    assert_eq!(
        written_from_raw_tcp_info(&info),
        Some(sent - retransmitted + 20)
    );
}
