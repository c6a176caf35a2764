//! Closes through each driver versus a plain close (for tokio: versus dropping the tokio
//! stream), on loopback, in one run:
//! `cargo bench -p linger-check --bench closes`.
//!
//! Every close is of a connection whose server wrote a 4 KiB response and whose peer has
//! already sent its FIN (the common case: the peer closes promptly), so the lingering close
//! waits only for our FIN's acknowledgement. Setting up the connection is not timed.
//! `adopt_with_held` times handing one more socket to a `Lingerer` that already holds N
//! closes waiting on silent peers: registration, the first actions, and the timer
//! bookkeeping, as N grows.

use divan::{Bencher, black_box};
use linger::Policy;
use linger_check::sockets::{self, Closer};
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    sockets::raise_fd_limit();
    divan::main();
}

/// `(client, server)`: the response written, the client's FIN sent.
fn prompt_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    server.write_all(&[b'r'; 4096]).expect("response");
    client.shutdown(Shutdown::Write).expect("FIN");
    (client, server)
}

/// A lingerer's close of `server`, polled to its end.
fn close_in(lingerer: &mut linger_mio::Lingerer, server: TcpStream) {
    server.set_nonblocking(true).expect("non-blocking");
    let token = lingerer
        .adopt(mio::net::TcpStream::from_std(server), Policy::default())
        .expect("adopt");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let mut ended = lingerer
            .poll(Some(Duration::from_millis(50)))
            .expect("poll");
        if ended.any(|(done, _)| done == token) {
            return;
        }
    }
    panic!("the close did not end");
}

#[divan::bench(sample_count = 40, sample_size = 25)]
fn plain_close(bencher: Bencher<'_, '_>) {
    let listener = sockets::listener(1024);
    bencher
        .with_inputs(|| prompt_pair(&listener))
        .bench_local_values(|(client, server)| {
            drop(server);
            client
        });
}

#[divan::bench(sample_count = 40, sample_size = 25)]
fn linger_mio_close(bencher: Bencher<'_, '_>) {
    let listener = sockets::listener(1024);
    let mut lingerer = linger_mio::Lingerer::new(1024).expect("lingerer");
    bencher
        .with_inputs(|| prompt_pair(&listener))
        .bench_local_values(|(client, server)| {
            close_in(&mut lingerer, server);
            client
        });
}

#[divan::bench(sample_count = 40, sample_size = 25)]
fn linger_std_close(bencher: Bencher<'_, '_>) {
    let listener = sockets::listener(1024);
    bencher
        .with_inputs(|| prompt_pair(&listener))
        .bench_local_values(|(client, server)| {
            black_box(Closer::Std.close(server, &Policy::default()));
            client
        });
}

/// A tokio stream, registered with `runtime`'s reactor, of a prompt pair.
fn tokio_pair(
    listener: &TcpListener,
    runtime: &tokio::runtime::Runtime,
) -> (TcpStream, tokio::net::TcpStream) {
    let (client, server) = prompt_pair(listener);
    let _context = runtime.enter();
    (client, sockets::into_tokio(server))
}

#[divan::bench(sample_count = 40, sample_size = 25)]
fn tokio_plain_drop(bencher: Bencher<'_, '_>) {
    let listener = sockets::listener(1024);
    let runtime = sockets::current_thread_runtime();
    bencher
        .with_inputs(|| tokio_pair(&listener, &runtime))
        .bench_local_values(|(client, server)| {
            let _context = runtime.enter();
            drop(server);
            client
        });
}

#[divan::bench(sample_count = 40, sample_size = 25)]
fn linger_tokio_close(bencher: Bencher<'_, '_>) {
    let listener = sockets::listener(1024);
    let runtime = sockets::current_thread_runtime();
    bencher
        .with_inputs(|| tokio_pair(&listener, &runtime))
        .bench_local_values(|(client, server)| {
            black_box(runtime.block_on(linger_tokio::close(server, &Policy::default())));
            client
        });
}

#[divan::bench(args = [100, 1_000, 5_000], sample_count = 20, sample_size = 10)]
fn adopt_with_held(bencher: Bencher<'_, '_>, held: usize) {
    let listener = sockets::listener(8192);
    let mut lingerer = linger_mio::Lingerer::new(held + 1024).expect("lingerer");
    let mut peers = Vec::with_capacity(held);
    for _ in 0..held {
        let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("non-blocking");
        lingerer
            .adopt(mio::net::TcpStream::from_std(server), Policy::default())
            .expect("adopt");
        peers.push(client);
    }
    bencher
        .with_inputs(|| {
            let client =
                TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            server.set_nonblocking(true).expect("non-blocking");
            (client, mio::net::TcpStream::from_std(server))
        })
        .bench_local_values(|(client, server)| {
            black_box(lingerer.adopt(server, Policy::default()).expect("adopt"));
            client
        });
}
