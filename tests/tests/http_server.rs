//! An axum server on a `LingerListener` still does what servers must: keep-alive,
//! `ConnectInfo<SocketAddr>`, and a graceful shutdown that ends within its bound with every
//! close accounted for (a thousand concurrent connections: `http_scale.rs`).

use linger_check::sockets::axum::{EARLY_BODY, Listening, SHUTDOWN_LINGER, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One HTTP/1.1 exchange on `stream`: sends `request`, returns (status, body).
fn exchange(reader: &mut BufReader<TcpStream>, request: &str) -> (u16, Vec<u8>) {
    reader
        .get_mut()
        .write_all(request.as_bytes())
        .expect("send");
    read_response(reader)
}

/// Reads one response with a `content-length`: (status, body).
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, body)
}

fn connect(server: &Server) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    BufReader::new(stream)
}

#[test]
fn keep_alive_requests_reuse_one_connection_and_connect_info_works() {
    let server = Server::start(Listening::Linger, "");
    let mut client = connect(&server);
    for _ in 0..20 {
        let (status, body) = exchange(&mut client, "GET / HTTP/1.1\r\nhost: test\r\n\r\n");
        assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    }
    let (status, peer) = exchange(&mut client, "GET /peer HTTP/1.1\r\nhost: test\r\n\r\n");
    assert_eq!(status, 200);
    let ours = client.get_ref().local_addr().expect("address").to_string();
    assert_eq!(
        String::from_utf8_lossy(&peer),
        ours,
        "ConnectInfo<SocketAddr>"
    );
    // The client closes first, as keep-alive clients do.
    drop(client);
    let counts = server.stop().expect("linger counts");
    assert_eq!((counts.ended(), counts.clean), (1, 1), "{counts:?}");
}

#[test]
fn graceful_shutdown_ends_lingering_closes_within_its_bound_and_counts_them_all() {
    const CLIENTS: usize = 20;
    let server = Server::start(Listening::Linger, "");
    // Each client uploads, reads the early answer, then neither sends nor closes: every
    // close waits for an EOF that never comes (30 s by the default policy).
    let clients: Vec<BufReader<TcpStream>> = (0..CLIENTS)
        .map(|_| {
            let mut client = connect(&server);
            let head = "POST /early HTTP/1.1\r\nhost: test\r\ncontent-length: 1000000\r\n\r\n";
            client.get_mut().write_all(head.as_bytes()).expect("head");
            client
                .get_mut()
                .write_all(&[b'u'; 100_000])
                .expect("upload");
            let (status, answer) = read_response(&mut client);
            assert_eq!((status, answer.len()), (413, EARLY_BODY));
            client
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        server.counts().map(|counts| counts.in_flight),
        Some(CLIENTS)
    );
    let started = Instant::now();
    let counts = server.stop().expect("linger counts");
    let took = started.elapsed();
    println!("graceful shutdown took {took:?}: {counts:?}");
    assert!(
        took < SHUTDOWN_LINGER + Duration::from_secs(1),
        "shutdown took {took:?}"
    );
    assert_eq!(
        (counts.ended(), counts.in_flight),
        (CLIENTS as u64, 0),
        "{counts:?}"
    );
    drop(clients);
}
