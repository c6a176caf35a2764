//! Floods: hostile clients holding more connections than a server may open descriptors,
//! against a server in a process of its own under a descriptor limit of its own, while
//! well-behaved clients measure what it still answers. The real-socket tests
//! (`tests/flood.rs`) and the benchmark (the `flood` binary, `run.sh`) share them.
//!
//! The server runs as the `flood-server` binary ([`server`]), so that lowering its
//! descriptor limit never starves the tests beside it; [`ServerProcess`] starts it and reads
//! what it reports. The clients ([`clients`]) live in the calling process.

mod app;
pub mod clients;
mod mio_server;
pub mod server;

use clients::Endpoint;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A status line of the server, parsed: `fds`, `accepted`, `in_flight`, `ended`,
/// `reclaimed`, `claimed`, `capacity`, and the live connections each guard ended,
/// `first-byte`, `pace`, `keep-alive`, `send`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status(pub HashMap<String, u64>);

impl Status {
    /// The figure named `name` (0 if the line did not have it).
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    fn parse(line: &str) -> Option<Status> {
        let figures = line.strip_prefix("status ")?.split(' ').filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.parse().ok()?))
        });
        Some(Status(figures.collect()))
    }
}

/// One close the server reported: its peer, whether its outcome claimed delivery, the bytes
/// written, what ended the connection, and the outcome as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseLine {
    /// The client's address.
    pub peer: SocketAddr,
    /// The outcome claimed delivery.
    pub claims: bool,
    /// Bytes written, where counted.
    pub written: Option<u64>,
    /// What ended the connection before the application closed it: a guard
    /// (`first-byte`, `pace`, `keep-alive`, `send`), `reclaimed` (it gave way to make room,
    /// live or lingering), or `-` (the application closed it).
    pub by: String,
    /// The outcome, as `Display` prints it.
    pub outcome: String,
}

impl CloseLine {
    fn parse(line: &str) -> Option<CloseLine> {
        let mut words = line.strip_prefix("close ")?.splitn(5, ' ');
        let peer = words.next()?.parse().ok()?;
        let claims = words.next()? == "claims=1";
        let written = words.next()?.strip_prefix("written=")?.parse().ok();
        let by = words.next()?.strip_prefix("by=")?.to_string();
        let outcome = words.next().unwrap_or_default().to_string();
        Some(CloseLine {
            peer,
            claims,
            written,
            by,
            outcome,
        })
    }
}

/// A certificate for `localhost` made now, and its key, in files of their own for a TLS
/// `flood-server` (removed when dropped); and how its clients trust it.
pub struct TlsFiles {
    dir: PathBuf,
    cert: String,
}

impl TlsFiles {
    /// A fresh certificate and key, in a directory of their own under `parent`.
    pub fn create(parent: &Path) -> std::io::Result<TlsFiles> {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("linger-flood-tls-{}-{made}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let identity = linger_stacks::Identity::generate();
        std::fs::write(dir.join("cert.pem"), &identity.cert)?;
        std::fs::write(dir.join("key.pem"), &identity.key)?;
        Ok(TlsFiles {
            dir,
            cert: identity.cert,
        })
    }

    /// The arguments that give them to `flood-server`.
    pub fn args(&self) -> Vec<String> {
        let path = |name: &str| self.dir.join(name).display().to_string();
        vec![
            "--tls-cert".into(),
            path("cert.pem"),
            "--tls-key".into(),
            path("key.pem"),
        ]
    }

    /// The server at `address`, serving this certificate, as its clients reach it.
    pub fn endpoint(&self, address: SocketAddr) -> std::io::Result<Endpoint> {
        Endpoint::tls(address, &self.cert)
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `flood-server` process: started with its arguments, asked for its status, stopped
/// (and killed if it does not stop) when done or dropped.
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    statuses: Receiver<Status>,
    closes: Arc<Mutex<Vec<CloseLine>>>,
    /// Where it listens.
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `binary` with `args` and waits (at most 10 s) until it listens.
    pub fn start(binary: &Path, args: &[String]) -> std::io::Result<ServerProcess> {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let (statuses, received) = channel();
        let (listening, address) = channel();
        let closes = Arc::new(Mutex::new(Vec::new()));
        let reported = Arc::clone(&closes);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(close) = CloseLine::parse(&line) {
                    reported
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(close);
                } else if let Some(status) = Status::parse(&line) {
                    let _ = statuses.send(status);
                } else if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = listening.send(address.parse::<SocketAddr>());
                }
            }
        });
        let mut server = ServerProcess {
            child,
            stdin,
            statuses: received,
            closes,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        match address.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(address)) => server.address = address,
            _ => return Err(std::io::Error::other("the server did not start listening")),
        }
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its status now (at most 5 s to answer).
    pub fn status(&mut self) -> Option<Status> {
        let stdin = self.stdin.as_mut()?;
        writeln!(stdin, "status").ok()?;
        self.statuses.recv_timeout(Duration::from_secs(5)).ok()
    }

    /// Asks for its status until `done` holds or `within` passes; the last status.
    pub fn status_when(
        &mut self,
        within: Duration,
        done: impl Fn(&Status) -> bool,
    ) -> Option<Status> {
        let deadline = Instant::now() + within;
        let mut last = self.status();
        while !last.as_ref().is_some_and(&done) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            last = self.status().or(last);
        }
        last
    }

    /// The closes it reported so far.
    pub fn closes(&self) -> Vec<CloseLine> {
        self.closes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops it; its last status, if it gave one within 10 s (else it is killed).
    pub fn stop(mut self) -> Option<Status> {
        drop(self.stdin.take());
        let last = self.statuses.recv_timeout(Duration::from_secs(10)).ok();
        self.reap();
        last
    }

    /// Waits a little for it to exit, then kills it.
    fn reap(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
