//! Linux's rules, as the model (`tests/src/model/kernel.rs`, flavour `Linux`) states them,
//! measured on real loopback sockets: one test per rule of docs/model.md's "Linux's rules",
//! named after it, so the model rests on what this kernel does.
#![cfg(target_os = "linux")]

use linger_check::sockets::pair;
use linger_io::sys::{unacked, unsent, wait_readable};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for loopback segments to arrive and be answered.
const SETTLE: Duration = Duration::from_millis(50);

/// Writes to a peer that does not read until the kernel takes no more; the bytes written.
fn fill(stream: &mut TcpStream) -> usize {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut written = 0;
    while let Ok(bytes) = stream.write(&[b'f'; 65536]) {
        written += bytes;
    }
    stream.set_nonblocking(false).expect("blocking");
    written
}

/// Resets the connection from `stream`'s side: `SO_LINGER {1, 0}`, then `close`.
fn abort(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(stream);
    thread::sleep(SETTLE);
}

/// Reads until EOF or an error, waiting at most `limit` for each read: the bytes read and
/// how the reading ended (`Ok(())` at EOF).
fn read_to_end(stream: &mut TcpStream, limit: Duration) -> (usize, Result<(), ErrorKind>) {
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut buf = vec![0; 65536];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (total, Ok(())),
            Ok(bytes) => total += bytes,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return (total, Err(error.kind())),
        }
    }
}

/// The pending error (`SO_ERROR`), taking it.
fn pending(stream: &TcpStream) -> Option<ErrorKind> {
    stream
        .take_error()
        .expect("SO_ERROR")
        .map(|error| error.kind())
}

/// `SIOCOUTQ` once it has stopped moving (two readings `SETTLE` apart agree).
fn siocoutq(stream: &TcpStream) -> u32 {
    let read = || {
        unacked(stream)
            .expect("SIOCOUTQ")
            .expect("Linux reports it")
    };
    let mut last = read();
    loop {
        thread::sleep(SETTLE);
        let now = read();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn close_over_unread_data_sends_rst_and_drops_unsent_data() {
    let (mut client, mut server) = pair(Some(4096));
    let written = fill(&mut server);
    client.write_all(b"request body").expect("upload");
    thread::sleep(SETTLE);
    drop(server); // 12 bytes unread: TCPAbortOnClose.
    let (read, ended) = read_to_end(&mut client, Duration::from_secs(2));
    assert_eq!(ended, Err(ErrorKind::ConnectionReset));
    assert!(
        read < written,
        "read {read} of {written}: unsent data dropped"
    );
}

#[test]
fn data_arriving_after_close_is_answered_with_rst() {
    let (mut client, server) = pair(None);
    drop(server); // Nothing unread: a FIN, and an orphan that answers data with RST.
    thread::sleep(SETTLE);
    client.write_all(b"late").expect("the write is accepted");
    thread::sleep(SETTLE);
    // The client had the FIN (CLOSE_WAIT), where Linux reports a reset as EPIPE.
    assert_eq!(pending(&client), Some(ErrorKind::BrokenPipe));
}

#[test]
fn a_reset_leaves_received_data_readable_then_reads_fail_with_econnreset_once() {
    let (mut client, mut server) = pair(None);
    client.write_all(b"hello").expect("write");
    thread::sleep(SETTLE);
    abort(client);
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).expect("the data first"), 5);
    let error = server.read(&mut buf).expect_err("then the reset");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert_eq!(server.read(&mut buf).expect("then EOF"), 0, "taken once");
    assert_eq!(pending(&server), None, "the read took the error");
}

#[test]
fn after_the_peers_fin_a_reset_leaves_the_error_pending_and_reads_return_eof() {
    let (client, mut server) = pair(None);
    client.shutdown(Shutdown::Write).expect("client FIN");
    thread::sleep(SETTLE);
    abort(client);
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).expect("EOF, not the error"), 0);
    assert_eq!(server.read(&mut buf).expect("EOF again"), 0);
    // In CLOSE_WAIT Linux reports the reset as EPIPE (tcp_reset): a reset all the same.
    assert_eq!(pending(&server), Some(ErrorKind::BrokenPipe));
}

#[test]
fn siocoutq_counts_unacknowledged_data_and_one_for_an_unacknowledged_fin() {
    let (_client, mut server) = pair(Some(4096));
    let written = fill(&mut server) as u32;
    // What the peer's full receive buffer took is acknowledged; the rest waits.
    let data = siocoutq(&server);
    assert!(data > 0 && data < written, "{data} of {written}");
    server.shutdown(Shutdown::Write).expect("FIN");
    assert_eq!(siocoutq(&server), data + 1);
}

#[test]
fn siocoutq_keeps_its_figure_after_a_reset() {
    let (client, mut server) = pair(Some(4096));
    fill(&mut server);
    let before = siocoutq(&server);
    abort(client);
    assert_eq!(pending(&server), Some(ErrorKind::ConnectionReset));
    assert_eq!(siocoutq(&server), before);
}

#[test]
fn shutdown_fails_with_enotconn_after_a_reset_with_the_error_pending() {
    let (client, server) = pair(None);
    abort(client);
    let refused = server.shutdown(Shutdown::Write).expect_err("ENOTCONN");
    assert_eq!(refused.kind(), ErrorKind::NotConnected);
    assert_eq!(pending(&server), Some(ErrorKind::ConnectionReset));
}

#[test]
fn shutdown_fails_with_enotconn_after_both_sides_closed_gracefully_with_no_error_pending() {
    // We close second (CLOSE_WAIT, LAST_ACK, CLOSE) and first (FIN_WAIT, TIME_WAIT).
    for we_close_first in [false, true] {
        let (mut client, mut server) = pair(None);
        let (first, second) = if we_close_first {
            (&server, &client)
        } else {
            (&client, &server)
        };
        first.shutdown(Shutdown::Write).expect("first FIN");
        thread::sleep(SETTLE);
        second.shutdown(Shutdown::Write).expect("second FIN");
        thread::sleep(SETTLE);
        assert_eq!(read_to_end(&mut server, SETTLE), (0, Ok(())));
        assert_eq!(read_to_end(&mut client, SETTLE), (0, Ok(())));
        let refused = server.shutdown(Shutdown::Write).expect_err("ENOTCONN");
        assert_eq!(
            refused.kind(),
            ErrorKind::NotConnected,
            "first: {we_close_first}"
        );
        assert_eq!(pending(&server), None, "first: {we_close_first}");
        assert_eq!(siocoutq(&server), 0, "first: {we_close_first}");
    }
}

#[test]
fn the_fin_follows_the_data() {
    let (mut client, mut server) = pair(Some(4096));
    let written = fill(&mut server);
    server
        .shutdown(Shutdown::Write)
        .expect("FIN queued behind the data");
    let (read, ended) = read_to_end(&mut client, Duration::from_secs(2));
    assert_eq!((read, ended), (written, Ok(())), "every byte, then EOF");
}

#[test]
fn sending_respects_the_window_which_opens_as_the_receiver_reads() {
    let (mut client, mut server) = pair(Some(4096));
    let written = fill(&mut server);
    let waiting = unsent(&server).expect("SIOCOUTQNSD").expect("Linux");
    assert!(waiting > 0, "the closed window holds data back");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut everything = vec![0; written];
    client.read_exact(&mut everything).expect("every byte");
    assert_eq!(unsent(&server).expect("SIOCOUTQNSD"), Some(0));
}

#[test]
fn close_without_unread_data_sends_the_rest_and_the_fin_on_its_own() {
    let (mut client, mut server) = pair(Some(4096));
    let written = fill(&mut server);
    drop(server); // An orphan: the kernel keeps sending.
    let (read, ended) = read_to_end(&mut client, Duration::from_secs(2));
    assert_eq!((read, ended), (written, Ok(())));
}

#[test]
fn a_retransmission_timeout_leaves_etimedout_pending_keeps_siocoutq_and_answers_the_peer_with_rst()
{
    let (mut client, mut server) = pair(Some(4096));
    // TCP_USER_TIMEOUT: give up on unacknowledged data after 100 ms; the client's window
    // stays shut, so the kernel does.
    socket2::SockRef::from(&server)
        .set_tcp_user_timeout(Some(Duration::from_millis(100)))
        .expect("TCP_USER_TIMEOUT");
    let written = fill(&mut server);
    let before = siocoutq(&server);
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        if let Some(error) = pending(&server) {
            break error;
        }
        assert!(Instant::now() < deadline, "the kernel never gave up");
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(error, ErrorKind::TimedOut);
    assert_eq!(siocoutq(&server), before, "kept, as after a reset");
    thread::sleep(SETTLE);
    assert_eq!(pending(&client), None, "giving up sent nothing");
    // Reading opens the client's window; the window update meets no connection: RST.
    let (read, ended) = read_to_end(&mut client, Duration::from_secs(1));
    assert!(read < written);
    assert_eq!(ended, Err(ErrorKind::ConnectionReset));
}

#[test]
fn a_pending_error_wakes_the_poller() {
    let (client, server) = pair(None);
    assert!(
        !wait_readable(&server, Duration::ZERO),
        "nothing to report yet"
    );
    abort(client);
    assert!(
        wait_readable(&server, Duration::ZERO),
        "POLLERR with nothing to read"
    );
}

#[test]
fn a_connection_closed_both_ways_ignores_a_later_abort() {
    let (mut client, mut server) = pair(None);
    client.shutdown(Shutdown::Write).expect("client FIN");
    thread::sleep(SETTLE);
    server.shutdown(Shutdown::Write).expect("server FIN");
    thread::sleep(SETTLE);
    assert_eq!(read_to_end(&mut client, SETTLE), (0, Ok(())));
    abort(client);
    assert_eq!(
        pending(&server),
        None,
        "no reset reached a connection already over"
    );
    assert_eq!(read_to_end(&mut server, SETTLE), (0, Ok(())));
}
