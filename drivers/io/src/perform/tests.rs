//! `drive` on real loopback sockets, its reads injected where an error must be staged.

use crate::profile::Profile;
use crate::{drive, perform};
use linger::{Action, CloseMachine, Ending, Instant, NagleMode, Policy, Release};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

/// A connected pair on loopback: `(client, server)`.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

fn reads_per_wakeup(bytes: u32) -> Policy {
    Policy::builder()
        .reads_per_wakeup(bytes)
        .build()
        .expect("valid policy")
}

/// A machine told to close at 0, none of its actions performed yet.
fn closing(policy: Policy) -> CloseMachine {
    let mut machine = CloseMachine::new(policy);
    machine.close(Instant::ZERO).expect("close from Open");
    machine
}

/// Drives `machine` on `server` as an event loop would, reads and all, until it releases
/// the socket or two seconds pass.
fn drive_to_release(server: &TcpStream, machine: &mut CloseMachine) -> Option<Release> {
    let clock = linger::Clock::new();
    for _ in 0..2_000 {
        let now = clock.now();
        let read = |buf: &mut [u8]| crate::sys::read_nonblocking(server, buf);
        if let Some(release) = drive(server, machine, now, read).expect("the kernel is believed") {
            return Some(release);
        }
        std::thread::sleep(Duration::from_millis(1));
        let now = clock.now();
        let _ = machine.handle(linger::Event::Readable, now);
        machine.handle_timeout(now);
    }
    None
}

/// Reads served from a script, one step per call; a read past its end fails the test.
fn script(mut steps: Vec<io::Result<usize>>) -> impl FnMut(&mut [u8]) -> io::Result<usize> {
    steps.reverse();
    move |buf: &mut [u8]| {
        let step = steps
            .pop()
            .expect("a read after the round should have ended");
        step.map(|bytes| bytes.min(buf.len()))
    }
}

#[test]
fn a_close_whose_peer_closed_too_discards_its_upload_and_ends_clean() {
    let (mut client, mut server) = pair();
    client.write_all(&[b'u'; 100_000]).expect("upload");
    client.shutdown(Shutdown::Write).expect("client FIN");
    server.write_all(&[b'r'; 1_000]).expect("response");
    let mut machine = closing(Policy::default());
    assert_eq!(
        drive_to_release(&server, &mut machine),
        Some(Release::Close)
    );
    let outcome = machine.outcome().expect("closed");
    assert_eq!(outcome.ending, profile().ending(Ending::Clean));
    assert_eq!(outcome.bytes_discarded, 100_000);
    drop(server);
    let mut response = Vec::new();
    client
        .read_to_end(&mut response)
        .expect("our FIN, not a reset");
    assert_eq!(response.len(), 1_000);
}

#[test]
fn a_close_sends_our_fin_before_it_lingers() {
    let (mut client, server) = pair();
    let mut machine = closing(Policy::default());
    let read = |buf: &mut [u8]| crate::sys::read_nonblocking(&server, buf);
    let released = drive(&server, &mut machine, Instant::ZERO, read).expect("believed");
    assert_eq!(released, None, "the close lingers for the silent peer");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("our FIN, while we linger");
    assert!(rest.is_empty());
}

#[test]
fn an_abort_arms_a_reset_and_releases() {
    let (_client, server) = pair();
    let mut machine = CloseMachine::new(Policy::default());
    machine.abort(Instant::ZERO).expect("abort");
    let read = |_: &mut [u8]| -> io::Result<usize> { unreachable!("an abort reads nothing") };
    let released = drive(&server, &mut machine, Instant::ZERO, read).expect("believed");
    assert_eq!(released, Some(Release::Abort));
    let linger = socket2::SockRef::from(&server).linger().expect("SO_LINGER");
    assert_eq!(linger, Some(Duration::ZERO), "close() will send RST");
}

/// A fresh machine whose policy has `nagle`, its first actions performed on `server`.
fn nagle_set(server: &TcpStream, nagle: NagleMode) {
    let no_reads = |_: &mut [u8]| -> io::Result<usize> { unreachable!("nothing to read") };
    let policy = Policy::builder().nagle(nagle).build().expect("valid");
    let mut machine = CloseMachine::new(policy);
    drive(server, &mut machine, Instant::ZERO, no_reads).expect("believed");
}

#[test]
fn no_delay_sets_tcp_nodelay() {
    let (_client, server) = pair();
    nagle_set(&server, NagleMode::NoDelay);
    let socket = socket2::SockRef::from(&server);
    assert!(socket.tcp_nodelay().expect("TCP_NODELAY"));
}

/// `TCP_CORK` reads back only on Linux.
#[cfg(target_os = "linux")]
#[test]
fn cork_while_assembling_sets_tcp_cork() {
    let (_client, server) = pair();
    nagle_set(&server, NagleMode::CorkWhileAssembling);
    let socket = socket2::SockRef::from(&server);
    assert!(socket.tcp_cork().expect("TCP_CORK"));
}

#[test]
fn a_close_after_the_peer_reset_reports_the_reset() {
    let (client, server) = pair();
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    // Loopback delivers the RST before drop returns; the margin is for a loaded machine.
    std::thread::sleep(Duration::from_millis(20));
    let mut machine = closing(Policy::default());
    let read = |buf: &mut [u8]| crate::sys::read_nonblocking(&server, buf);
    let released = drive(&server, &mut machine, Instant::ZERO, read).expect("believed");
    assert_eq!(released, Some(Release::Close));
    let ending = machine.outcome().expect("closed").ending;
    assert!(matches!(ending, Ending::ResetByPeer { .. }), "{ending:?}");
}

#[test]
fn a_discard_round_reads_its_allowance_and_no_more() {
    let (_client, server) = pair();
    let mut machine = closing(reads_per_wakeup(40_000));
    let mut asked = 0;
    let flood = |buf: &mut [u8]| {
        asked += buf.len();
        Ok(buf.len())
    };
    drive(&server, &mut machine, Instant::ZERO, flood).expect("believed");
    assert_eq!(asked, 40_000);
    let stats = machine.stats();
    assert_eq!(stats.bytes_discarded, 40_000);
    assert!(
        !stats.peer_eof,
        "a spent round is not the end of the stream"
    );
}

#[test]
fn a_discard_round_retries_an_interrupted_read_and_stops_when_it_would_block() {
    let (_client, server) = pair();
    let mut machine = closing(Policy::default());
    let reads = script(vec![
        Err(ErrorKind::Interrupted.into()),
        Ok(10),
        Err(ErrorKind::WouldBlock.into()),
    ]);
    drive(&server, &mut machine, Instant::ZERO, reads).expect("believed");
    assert!(machine.outcome().is_none(), "{:?}", machine.outcome());
    assert_eq!(machine.stats().bytes_discarded, 10);
}

#[test]
fn a_discard_round_that_meets_a_reset_ends_the_close() {
    let (_client, server) = pair();
    let mut machine = closing(Policy::default());
    let reads = script(vec![Err(io::ErrorKind::ConnectionReset.into())]);
    let released = drive(&server, &mut machine, Instant::ZERO, reads).expect("believed");
    assert_eq!(released, Some(Release::Close));
    let ending = machine.outcome().expect("closed").ending;
    assert!(matches!(ending, Ending::ResetByPeer { .. }), "{ending:?}");
}

#[test]
fn performing_close_or_abort_releases_the_socket() {
    let (_client, server) = pair();
    for (action, release) in [
        (Action::Close, Release::Close),
        (Action::Abort, Release::Abort),
    ] {
        let mut machine = closing(Policy::default());
        let performed = perform(&server, action, &mut machine, Instant::ZERO, script(vec![]));
        assert_eq!(performed, Ok(Some(release)));
    }
}
