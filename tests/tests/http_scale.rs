//! A thousand concurrent `Connection: close` requests to an axum server on a
//! `LingerListener`: every one answered, every close clean, no descriptor leaked. Alone in
//! its test binary, so that no other test opens or closes descriptors while it counts them.

use linger_check::sockets::axum::{Listening, Server};
use linger_check::sockets::{open_fds, raise_fd_limit};
use std::time::Instant;

#[test]
fn a_thousand_concurrent_short_connections_complete_without_error_or_leak() {
    const CONNECTIONS: usize = 1_000;
    raise_fd_limit();
    // tokio's signal driver (where its `signal` feature is on) opens a socket pair once per
    // process, for good, with the first runtime: count from after it.
    drop(linger_check::sockets::current_thread_runtime());
    let fds_before = open_fds();
    let server = Server::start(Listening::Linger, "");
    let address = server.address;
    let runtime = linger_check::sockets::current_thread_runtime();
    let started = Instant::now();
    let answers = runtime.block_on(async move {
        let requests = (0..CONNECTIONS).map(|_| {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = tokio::net::TcpStream::connect(address).await?;
                let request = "GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";
                stream.write_all(request.as_bytes()).await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            })
        });
        let tasks: Vec<_> = requests.collect();
        let mut answers = Vec::with_capacity(CONNECTIONS);
        for task in tasks {
            answers.push(task.await.expect("client task"));
        }
        answers
    });
    let took = started.elapsed();
    drop(runtime);
    let failed: Vec<_> = answers
        .iter()
        .filter(|answer| {
            answer.as_ref().map_or(true, |answer| {
                !(answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"hello"))
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {CONNECTIONS} failed",
        failed.len()
    );
    let counts = server.stop().expect("linger counts");
    println!("{CONNECTIONS} connections in {took:?}; closes {counts:?}");
    assert_eq!(counts.ended(), CONNECTIONS as u64, "{counts:?}");
    assert_eq!(counts.clean, CONNECTIONS as u64, "{counts:?}");
    assert_eq!(open_fds(), fds_before, "descriptors leaked");
}
