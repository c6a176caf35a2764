//! 1,000 concurrent lingering closes through one `Lingerer`, and through tokio tasks.
//! `cargo test -p linger-check --test sockets_scale -- --nocapture` prints the figures.

use linger::Ending;
use linger_check::sockets;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 1_000;
const ANSWER: usize = 16 << 10;
const UPLOAD: usize = 1 << 10;

/// The tests here count the process's file descriptors: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Connects every client, uploads to each, then reads each to EOF, round-robin without
/// blocking; returns the bytes each received.
fn clients(address: std::net::SocketAddr) -> Vec<usize> {
    let mut streams: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream.write_all(&[b'u'; UPLOAD]).expect("upload");
            stream
        })
        .collect();
    for stream in &streams {
        stream.set_nonblocking(true).expect("non-blocking");
    }
    let mut received = vec![0; CONNECTIONS];
    let mut open: Vec<usize> = (0..CONNECTIONS).collect();
    let mut buf = vec![0; 64 << 10];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !open.is_empty() && Instant::now() < deadline {
        open.retain(|&index| {
            loop {
                match streams[index].read(&mut buf) {
                    Ok(0) => break false,
                    Ok(bytes) => received[index] += bytes,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break true,
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break false,
                }
            }
        });
        thread::sleep(Duration::from_millis(1));
    }
    streams.clear();
    received
}

/// Runs the tests of this file one at a time (each opens 2,000 sockets) once the open-file
/// limit is raised high enough for one of them.
fn alone_with_enough_fds() -> MutexGuard<'static, ()> {
    let alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let limit = sockets::raise_fd_limit();
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 64,
        "open-file limit {limit} is too low"
    );
    alone
}

#[test]
fn one_lingerer_closes_a_thousand_connections_and_delivers_every_byte() {
    let _alone = alone_with_enough_fds();
    let fds_before = sockets::open_fds();

    let listener = sockets::listener(CONNECTIONS as i32);
    let address = listener.local_addr().expect("address");
    let clients = thread::spawn(move || clients(address));

    let mut lingerer = linger_mio::Lingerer::new(2 * CONNECTIONS).expect("lingerer");
    let started = Instant::now();
    for _ in 0..CONNECTIONS {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.write_all(&[b'a'; ANSWER]).expect("answer");
        stream.set_nonblocking(true).expect("non-blocking");
        let stream = mio::net::TcpStream::from_std(stream);
        lingerer
            .adopt(stream, linger::Policy::default())
            .expect("adopt");
    }
    let adopted = started.elapsed();
    drop(listener);

    let mut endings: BTreeMap<String, usize> = BTreeMap::new();
    let mut finished = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while finished < CONNECTIONS && Instant::now() < deadline {
        for (_, outcome) in lingerer
            .poll(Some(Duration::from_millis(50)))
            .expect("poll")
        {
            *endings.entry(format!("{:?}", outcome.ending)).or_default() += 1;
            finished += 1;
        }
    }
    let closed_all = started.elapsed();
    let after_last_adoption = closed_all.saturating_sub(adopted);
    let received = clients.join().expect("clients");
    let delivered: usize = received.iter().sum();
    drop(lingerer);
    let fds_after = sockets::open_fds();

    println!(
        "{CONNECTIONS} connections: adopted in {adopted:?}, all closed after {closed_all:?} \
         ({after_last_adoption:?} after the last adoption); \
         delivered {delivered} of {} bytes; endings {endings:?}; fds {fds_before} -> {fds_after}",
        CONNECTIONS * ANSWER
    );
    assert_eq!(
        finished, CONNECTIONS,
        "not every close ended within a minute"
    );
    assert_eq!(
        endings.get(&format!("{:?}", Ending::Clean)),
        Some(&CONNECTIONS)
    );
    assert!(
        received.iter().all(|&bytes| bytes == ANSWER),
        "some client was short"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
}

#[test]
fn tokio_tasks_close_a_thousand_connections_and_deliver_every_byte() {
    let _alone = alone_with_enough_fds();
    let listener = sockets::listener(CONNECTIONS as i32);
    let address = listener.local_addr().expect("address");
    let clients = thread::spawn(move || clients(address));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let endings = runtime.block_on(async {
        let mut tasks = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (mut stream, _) = listener.accept().expect("accept");
            stream.write_all(&[b'a'; ANSWER]).expect("answer");
            tasks.push(linger_tokio::spawn_close(
                sockets::into_tokio(stream),
                linger::Policy::default(),
            ));
        }
        let mut endings: BTreeMap<String, usize> = BTreeMap::new();
        for task in tasks {
            let ending = match tokio::time::timeout(Duration::from_secs(60), task).await {
                Ok(Ok(outcome)) => format!("{:?}", outcome.ending),
                other => format!("not ended: {other:?}"),
            };
            *endings.entry(ending).or_default() += 1;
        }
        endings
    });
    let closed_all = started.elapsed();
    let received = clients.join().expect("clients");
    println!("{CONNECTIONS} tokio closes: all ended after {closed_all:?}; endings {endings:?}");
    assert_eq!(
        endings.get(&format!("{:?}", Ending::Clean)),
        Some(&CONNECTIONS),
        "{endings:?}"
    );
    assert!(
        received.iter().all(|&bytes| bytes == ANSWER),
        "some client was short"
    );
}
