//! A minimal HTTP/1.1 server that answers every request with `413` and a body, without
//! reading the request body, and closes with a [`Closer`]: an early reply.

use super::Closer;
use linger::{Outcome, Policy};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Serves `connections` requests on a loopback port, then stops. Returns the address and
/// the thread, whose result is each close's outcome (`None` for the plain closes).
pub fn serve_early_reply(
    closer: Closer,
    body_bytes: usize,
    connections: usize,
) -> (SocketAddr, JoinHandle<Vec<Option<Outcome>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let server = thread::spawn(move || {
        (0..connections)
            .filter_map(|_| listener.accept().ok())
            .map(|(stream, _)| answer(stream, closer, body_bytes))
            .collect()
    });
    (address, server)
}

/// Reads the request head (not its body), answers `413` with `body_bytes`, closes.
fn answer(mut stream: TcpStream, closer: Closer, body_bytes: usize) -> Option<Outcome> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    read_head(&mut stream);
    wait_for_upload(&stream);
    let head = format!(
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: {body_bytes}\r\n\
         content-type: application/octet-stream\r\nconnection: close\r\n\r\n"
    );
    let written = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&vec![b'x'; body_bytes]));
    match written {
        Ok(()) => closer.close(stream, &Policy::default()),
        // The client gave up first; nothing left to deliver.
        Err(_) => None,
    }
}

/// Waits (at most the read timeout) until the first bytes of the upload have arrived, so
/// the answer always meets a client that is sending, as a real early reply does. Answered
/// sooner, on a busy machine, curl can see the `413` before it sends any of the body; it
/// then stops, sends its FIN, and a plain close finds nothing unread and does not reset.
fn wait_for_upload(stream: &TcpStream) {
    let _ = stream.peek(&mut [0u8; 1]);
}

/// Reads up to the blank line that ends the head; stops early on EOF or error.
pub fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut byte) {
            Ok(0) => return,
            Ok(_) => head.push(byte[0]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
