//! The `Lingerer` under pressure: past three quarters of its capacity it shortens the
//! oldest close; at capacity it aborts the oldest to make room.

use linger::{Ending, Policy, Release};
use linger_io::profile::Profile;
use linger_mio::{Lingerer, SHORT_LINGER};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A server-side stream whose client stays open and silent; the client is returned too.
fn silent_pair(listener: &TcpListener) -> (mio::net::TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    (mio::net::TcpStream::from_std(server), client)
}

/// Polls until a close ends, for at most `within`.
fn next_ended(lingerer: &mut Lingerer, within: Duration) -> Option<(mio::Token, linger::Outcome)> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let mut ended = lingerer
            .poll(Some(Duration::from_millis(50)))
            .expect("poll");
        if let Some(first) = ended.next() {
            return Some(first);
        }
    }
    None
}

#[test]
fn under_pressure_the_oldest_close_is_shortened_and_at_capacity_aborted() {
    let profile = Profile::detect().expect("loopback");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let mut clients = Vec::new();
    let mut adopt = |lingerer: &mut Lingerer| {
        let (stream, client) = silent_pair(&listener);
        clients.push(client);
        lingerer.adopt(stream, Policy::default()).expect("adopt")
    };
    let tokens: Vec<_> = (0..4).map(|_| adopt(&mut lingerer)).collect();

    // The fourth adoption found three held, three quarters of four: the oldest close now has
    // the short linger left instead of the default 30 s, and ends by itself within it.
    let due = lingerer.next_timeout().expect("a deadline");
    assert!(
        due <= SHORT_LINGER,
        "the oldest was not shortened: next deadline in {due:?}"
    );
    let (token, outcome) = next_ended(&mut lingerer, SHORT_LINGER + Duration::from_secs(2))
        .expect("the shortened close ended");
    assert_eq!(token, tokens[0]);
    assert_eq!(outcome.ending, profile.ending(Ending::AckedPeerOpen));

    // Three held: the next adoption shortens the oldest (the second), the one after finds
    // the lingerer full and aborts it to make room.
    adopt(&mut lingerer);
    adopt(&mut lingerer);
    assert_eq!(lingerer.len(), 4);
    let (token, outcome) = next_ended(&mut lingerer, Duration::from_secs(1)).expect("an abort");
    assert_eq!(token, tokens[1], "the oldest goes first");
    // Nothing but, perhaps, our FIN was unacknowledged at the last query.
    let aborted = [0, 1].map(|unacked| {
        profile.ending(Ending::Aborted {
            unacked: Some(unacked),
        })
    });
    assert!(aborted.contains(&outcome.ending), "{outcome}");
    assert_eq!(outcome.release, Release::Abort);
}
