//! A slow link the test owns: two network namespaces joined by a veth pair whose server
//! side is rate-limited with `tbf`. Needs root, `ip` and `tc`; [`SlowLink::create`] says why
//! not where they are missing, so the caller can skip with that reason.
//!
//! Addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for benchmark tests;
//! they exist only inside the two namespaces, which are deleted when the link is dropped.

use super::{Closer, Received};
use linger_model::conformance::tun::{is_root, run};
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Two namespaces, `server` and `client`, joined by a link of `rate_mbit` from the server.
#[derive(Debug)]
pub struct SlowLink {
    server_ns: String,
    client_ns: String,
    /// The server's address on the link.
    pub server_addr: Ipv4Addr,
    /// The rate of the server → client direction, in bits per second.
    pub rate_bits_per_second: u64,
}

impl SlowLink {
    /// Creates the namespaces and the link, or says why it cannot.
    pub fn create(rate_mbit: u32) -> Result<SlowLink, String> {
        if !is_root() {
            return Err("needs root to create network namespaces".into());
        }
        for tool in ["ip", "tc"] {
            if Command::new(tool).arg("-V").output().is_err() {
                return Err(format!("`{tool}` is not installed (Debian: iproute2)"));
            }
        }
        static LINKS: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}x{}",
            std::process::id(),
            LINKS.fetch_add(1, Ordering::Relaxed)
        );
        let link = SlowLink {
            server_ns: format!("lgs{id}"),
            client_ns: format!("lgc{id}"),
            server_addr: Ipv4Addr::new(198, 18, 0, 1),
            rate_bits_per_second: u64::from(rate_mbit) * 1_000_000,
        };
        let (server_if, client_if) = (format!("lv{id}s"), format!("lv{id}c"));
        let (server, client) = (link.server_ns.as_str(), link.client_ns.as_str());
        let rate = format!("{rate_mbit}mbit");
        let steps: [&[&str]; 10] = [
            &["ip", "netns", "add", server],
            &["ip", "netns", "add", client],
            &[
                "ip", "link", "add", &server_if, "netns", server, "type", "veth", "peer", "name",
                &client_if, "netns", client,
            ],
            &[
                "ip",
                "-n",
                server,
                "addr",
                "add",
                "198.18.0.1/30",
                "dev",
                &server_if,
            ],
            &[
                "ip",
                "-n",
                client,
                "addr",
                "add",
                "198.18.0.2/30",
                "dev",
                &client_if,
            ],
            &["ip", "-n", server, "link", "set", &server_if, "up"],
            &["ip", "-n", client, "link", "set", &client_if, "up"],
            &["ip", "-n", server, "link", "set", "lo", "up"],
            &["ip", "-n", client, "link", "set", "lo", "up"],
            &[
                "ip", "netns", "exec", server, "tc", "qdisc", "add", "dev", &server_if, "root",
                "tbf", "rate", &rate, "burst", "32kbit", "latency", "400ms",
            ],
        ];
        for step in steps {
            run(step)?; // on failure, `link` is dropped here and deletes what exists
        }
        Ok(link)
    }

    /// The server's address with `port`.
    pub fn server_socket(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.server_addr, port))
    }

    /// Runs `work` on a thread inside the server's namespace.
    pub fn in_server<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        in_namespace(&self.server_ns, work)
    }

    /// Runs `work` on a thread inside the client's namespace.
    pub fn in_client<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        in_namespace(&self.client_ns, work)
    }

    /// Spawns `work` on a thread inside the client's namespace, within `scope`.
    pub fn spawn_client<'scope, T: Send + 'scope>(
        &'scope self,
        scope: &'scope thread::Scope<'scope, '_>,
        work: impl FnOnce() -> T + Send + 'scope,
    ) -> thread::ScopedJoinHandle<'scope, T> {
        let namespace = self.client_ns.as_str();
        scope.spawn(move || {
            enter(namespace).expect("enter the client namespace");
            work()
        })
    }
}

impl Drop for SlowLink {
    /// Deleting a namespace deletes the veth end inside it, and with it the other end.
    fn drop(&mut self) {
        for namespace in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .output();
        }
    }
}

fn in_namespace<T: Send>(namespace: &str, work: impl FnOnce() -> T + Send) -> T {
    thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(namespace).expect("enter the namespace");
                work()
            })
            .join()
            .expect("namespace thread")
    })
}

/// Moves the calling thread into `namespace`; sockets it creates afterwards live there.
#[allow(unsafe_code)]
fn enter(namespace: &str) -> io::Result<()> {
    let handle = File::open(format!("/var/run/netns/{namespace}"))?;
    // SAFETY: `handle` is an open namespace file; CLONE_NEWNET only switches this thread's
    // network namespace and touches no memory of ours.
    let result = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One early reply across a [`SlowLink`].
#[derive(Clone, Copy, Debug)]
pub struct LinkRun {
    /// What the client received.
    pub received: Received,
    /// Bytes still unacknowledged when the server called close.
    pub queued_at_close: u32,
    /// Wall-clock time of the server's close (for `Mio`, until the outcome).
    pub close_took: std::time::Duration,
    /// How linger said the close ended (`None` for the other closes).
    pub outcome: Option<linger::Outcome>,
}

impl LinkRun {
    /// The physical limit of the close: the bytes queued at close through the link's rate.
    pub fn limit(&self, link: &SlowLink) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            f64::from(self.queued_at_close) * 8.0 / link.rate_bits_per_second as f64,
        )
    }
}

/// The early reply across `link`: the client uploads 64 KiB the server never reads and
/// then reads; the server answers `answer` bytes and closes with `closer`.
pub fn early_reply_across(link: &SlowLink, closer: Closer, answer: usize) -> LinkRun {
    use std::io::Write;
    let listener = link
        .in_server(|| std::net::TcpListener::bind(link.server_socket(0)))
        .expect("bind in the server namespace");
    let address = listener.local_addr().expect("address");
    thread::scope(|scope| {
        let client = link.spawn_client(scope, move || {
            let mut stream = super::connect(address, None);
            stream.write_all(&[b'u'; 64 << 10]).expect("upload");
            super::read_all(
                stream,
                64 << 10,
                std::time::Duration::ZERO,
                std::time::Duration::from_secs(30),
            )
        });
        let (mut server, _) = listener.accept().expect("accept");
        server.write_all(&vec![b'a'; answer]).expect("answer");
        let queued_at_close = linger_io::sys::unacked(&server).ok().flatten().unwrap_or(0);
        let started = std::time::Instant::now();
        let outcome = closer.close(server, &linger::Policy::default());
        let close_took = started.elapsed();
        let received = client.join().expect("client");
        LinkRun {
            received,
            queued_at_close,
            close_took,
            outcome,
        }
    })
}
