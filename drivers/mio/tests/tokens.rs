//! Tokens: a close that ends while being adopted keeps its token until its outcome is
//! reported, so every outcome names exactly one close.

use linger::{Ending, Policy};
use linger_io::profile::Profile;
use linger_mio::Lingerer;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A server-side stream and its client, connected over loopback.
fn pair(listener: &TcpListener) -> (mio::net::TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    (mio::net::TcpStream::from_std(server), client)
}

/// Waits until the client's FIN has reached `server` (it reads as EOF), for at most 2 s.
fn wait_for_fin(server: &mio::net::TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut probe = [0u8; 1];
    while Instant::now() < deadline {
        if server.peek(&mut probe).is_ok_and(|read| read == 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the client's FIN never arrived");
}

#[test]
fn a_close_that_ends_during_adopt_keeps_its_token_until_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");

    let (done, done_client) = pair(&listener);
    done_client.shutdown(Shutdown::Write).expect("client FIN");
    wait_for_fin(&done);
    let done_token = lingerer.adopt(done, Policy::default()).expect("adopt");
    assert_eq!(
        lingerer.len(),
        0,
        "the peer had closed: the close ends during adopt"
    );

    let (silent, _silent_client) = pair(&listener);
    let silent_token = lingerer.adopt(silent, Policy::default()).expect("adopt");
    assert_ne!(
        silent_token, done_token,
        "a token was reused before its outcome was reported"
    );

    let ended: Vec<_> = lingerer.poll(Some(Duration::ZERO)).expect("poll").collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, done_token);
    let clean = Profile::detect().expect("loopback").ending(Ending::Clean);
    assert_eq!(ended[0].1.ending, clean, "{:?}", ended[0].1);
    let mut rest = Vec::new();
    (&done_client)
        .read_to_end(&mut rest)
        .expect("EOF, not a reset");

    let (next, _next_client) = pair(&listener);
    let next_token = lingerer.adopt(next, Policy::default()).expect("adopt");
    assert_eq!(
        next_token, done_token,
        "once reported, the token is free again"
    );
    assert_eq!(lingerer.len(), 2);
}
