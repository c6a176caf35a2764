//! A slow link for a client that cannot limit how fast it reads (`reqwest`): a relay on
//! loopback, for one connection, that passes on what the client sends at once and what the
//! server answers at a bounded rate, through a small receive buffer, as a client across a
//! network reads (curl's `--limit-rate`). When the server closes, its kernel still holds
//! part of its answer, as it would for such a client.
//!
//! The relay loses nothing itself: however the server's side ends (its FIN, or a reset), it
//! passes on every byte it read, then a FIN. What the client lost is what the server's kernel
//! never delivered.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The relay's receive buffer towards the server (the kernel doubles it), and how much it
/// reads at a time: what it holds of the answer is small beside the server's send buffer.
const RECEIVE_BUFFER: usize = 32 << 10;
const READ: usize = 16 << 10;

/// A relay to a server, for one connection; see the module docs.
pub struct SlowLink {
    server: SocketAddr,
    address: SocketAddr,
    relay: Option<JoinHandle<()>>,
}

impl SlowLink {
    /// A relay to `server` that passes its answer on at `bytes_per_second`.
    pub fn to(server: SocketAddr, bytes_per_second: usize) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let address = listener.local_addr().expect("the relay's address");
        let relay = std::thread::spawn(move || {
            if let Ok((client, _)) = listener.accept()
                && let Err(error) = relay(client, server, bytes_per_second)
            {
                eprintln!("the slow link to {server} failed: {error}");
            }
        });
        SlowLink {
            server,
            address,
            relay: Some(relay),
        }
    }

    /// `url`, a URL of the server, through the relay.
    pub fn url(&self, url: &str) -> String {
        url.replacen(&self.server.to_string(), &self.address.to_string(), 1)
    }
}

impl Drop for SlowLink {
    /// Waits for the relay to end: the connection was made and has ended both ways.
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}

/// Relays `client` to `server` until both sides have ended.
fn relay(client: TcpStream, server: SocketAddr, bytes_per_second: usize) -> io::Result<()> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.connect(&server.into())?;
    let upstream = TcpStream::from(socket);
    let (mut from_client, mut to_server) = (client.try_clone()?, upstream.try_clone()?);
    let uploading = std::thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    pass_on_slowly(upstream, &client, bytes_per_second);
    let _ = client.shutdown(Shutdown::Write);
    let _ = uploading.join();
    Ok(())
}

/// Passes on what `from` sends to `to` at `bytes_per_second`, until `from` ends (its FIN, or
/// a reset: what came before it is passed on) or `to` fails.
fn pass_on_slowly(mut from: TcpStream, mut to: &TcpStream, bytes_per_second: usize) {
    let started = Instant::now();
    let mut passed = 0;
    let mut buffer = vec![0; READ];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if to.write_all(&buffer[..read]).is_err() {
            return;
        }
        passed += read;
        let due = started + Duration::from_secs_f64(passed as f64 / bytes_per_second as f64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}
