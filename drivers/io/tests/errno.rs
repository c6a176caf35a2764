//! Every errno mapping of `linger_io::errors`, pinned on real loopback sockets: how each
//! way a connection ends reaches the machine, and what the outcome then says. Linux's, with
//! its send-queue figure: not built where acknowledgements are hidden
//! (`cfg(linger_acks_unobservable)`), whose profile `linger_io::profile` covers.
#![cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(linger_acks_unobservable)
))]

use linger::{CloseMachine, Ending, Event, Instant, Outcome, Policy, Release};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

/// A connected pair, `(client, server)`; the client's receive buffer is small when asked.
fn pair(small_client_buffer: bool) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    if small_client_buffer {
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    }
    socket
        .connect(&listener.local_addr().expect("address").into())
        .expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (socket.into(), server)
}

/// Writes to a peer that does not read until the kernel takes no more.
fn fill(server: &mut TcpStream) {
    server.set_nonblocking(true).expect("non-blocking");
    while server.write(&[b'f'; 65536]).is_ok() {}
    server.set_nonblocking(false).expect("blocking");
}

/// Resets the connection from the client's side.
fn reset(client: TcpStream) {
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
}

/// Closes `server` with a machine adopted now, driving it until it releases (at most a
/// second of polling; nothing here waits longer).
fn close(server: TcpStream) -> Outcome {
    let mut machine = CloseMachine::adopt(Policy::default());
    let start = std::time::Instant::now();
    let now = || Instant::ZERO + start.elapsed();
    machine.close(now()).expect("close");
    let read = |buf: &mut [u8]| linger_io::sys::read_nonblocking(&server, buf);
    for _ in 0..1000 {
        if let Some(release) = linger_io::drive(&server, &mut machine, now(), read).expect("drive")
        {
            assert_eq!(release, machine.outcome().expect("closed").release);
            return machine.outcome().expect("closed");
        }
        std::thread::sleep(Duration::from_millis(1));
        let _ = machine.handle(Event::Readable, now());
        machine.handle_timeout(now());
    }
    panic!("the close did not end: {:?}", machine.stats());
}

#[test]
fn shutdown_on_a_connection_both_sides_closed_ends_clean_not_reset() {
    let (mut client, mut server) = pair(false);
    server.write_all(b"answer").expect("write");
    let mut answer = [0u8; 6];
    client.read_exact(&mut answer).expect("read");
    client.shutdown(Shutdown::Write).expect("client FIN");
    assert_eq!(server.read(&mut [0u8; 8]).expect("EOF"), 0);
    // The framework's own shutdown, around the machine; the client acknowledges it.
    server.shutdown(Shutdown::Write).expect("server FIN");
    std::thread::sleep(Duration::from_millis(20));
    let refused = server
        .shutdown(Shutdown::Write)
        .expect_err("a second shutdown");
    assert_eq!(
        refused.kind(),
        ErrorKind::NotConnected,
        "Linux says ENOTCONN"
    );
    let outcome = close(server);
    assert_eq!(outcome.ending, Ending::Clean, "{outcome}");
    assert_eq!(outcome.release, Release::Close);
}

#[test]
fn shutdown_after_a_reset_reports_the_reset_it_left_pending() {
    let (client, mut server) = pair(true);
    fill(&mut server);
    reset(client);
    let outcome = close(server);
    // Found at the shutdown, before any send-queue query: the figure is not claimed.
    assert_eq!(
        outcome.ending,
        Ending::ResetByPeer { unacked: None },
        "{outcome}"
    );
}

#[test]
fn shutdown_after_a_reset_already_reported_elsewhere_is_a_failure() {
    let (client, mut server) = pair(true);
    fill(&mut server);
    reset(client);
    // Someone read the pending error before the close: only the send queue tells.
    let taken = server
        .take_error()
        .expect("SO_ERROR")
        .expect("a pending reset");
    assert_eq!(taken.kind(), ErrorKind::ConnectionReset);
    let outcome = close(server);
    assert_eq!(
        outcome.ending,
        Ending::Failed { unacked: None },
        "{outcome}"
    );
}

#[test]
fn a_reset_during_the_close_reaches_it_through_the_discarding_read() {
    let (client, server) = pair(false);
    let mut machine = CloseMachine::adopt(Policy::default());
    machine.close(Instant::ZERO).expect("close");
    let read = |buf: &mut [u8]| linger_io::sys::read_nonblocking(&server, buf);
    let driven = linger_io::drive(&server, &mut machine, Instant::ZERO, read).expect("drive");
    assert_eq!(driven, None, "the peer has not closed");
    (&client).write_all(b"late").expect("late data");
    reset(client);
    machine
        .handle(Event::Readable, Instant::ZERO)
        .expect("readable");
    let driven = linger_io::drive(&server, &mut machine, Instant::ZERO, read).expect("drive");
    assert_eq!(driven, Some(Release::Close));
    let outcome = machine.outcome().expect("closed");
    assert!(
        matches!(outcome.ending, Ending::ResetByPeer { .. }),
        "{outcome}"
    );
}

#[test]
fn the_applications_reads_and_writes_after_a_reset_report_it() {
    let (client, mut server) = pair(false);
    reset(client);
    let read = server.read(&mut [0u8; 64]);
    assert_eq!(
        linger_io::read_event(read.as_ref().copied(), 64),
        Some(Event::Reset),
        "{read:?}"
    );
    // The pending error was consumed by that read: a write now fails with EPIPE.
    let written = server.write(b"answer");
    assert_eq!(
        written.as_ref().map_err(io::Error::kind).err(),
        Some(ErrorKind::BrokenPipe)
    );
    assert_eq!(
        linger_io::write_event(written.as_ref().copied()),
        Some(Event::Reset)
    );
}

#[test]
fn a_retransmission_timeout_is_a_failure_not_a_reset() {
    let (_client, mut server) = pair(true);
    // TCP_USER_TIMEOUT: give up on unacknowledged data after 100 ms; the client's window
    // stays shut, so the kernel does.
    socket2::SockRef::from(&server)
        .set_tcp_user_timeout(Some(Duration::from_millis(100)))
        .expect("TCP_USER_TIMEOUT");
    fill(&mut server);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let read = loop {
        server
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        match server.read(&mut [0u8; 64]) {
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            result => break result,
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the kernel never gave up"
        );
    };
    assert_eq!(
        read.as_ref().map_err(io::Error::raw_os_error).err(),
        Some(Some(libc::ETIMEDOUT))
    );
    assert_eq!(
        linger_io::read_event(read.as_ref().copied(), 64),
        Some(Event::Failed)
    );
}
