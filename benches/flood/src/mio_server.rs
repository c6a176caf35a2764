//! The flood's mio server: one event loop reads each request's head without blocking,
//! answers, and hands the connection to a `linger_mio::Lingerer` polled from the same loop;
//! when `accept` runs out of descriptors, the loop reclaims lingering closes and accepts on.

use crate::server::{Options, Status, announce, answer};
use linger::Policy;
use linger_mio::Lingerer;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::Duration;

const LISTENER: Token = Token(0);
const LINGERER: Token = Token(1);

/// A connection whose request is being read, or whose answer written.
struct Exchange {
    stream: TcpStream,
    peer: SocketAddr,
    head: Vec<u8>,
    /// The answer and how much of it is written, once the head is in.
    answer: Option<(Vec<u8>, usize)>,
}

/// What to do with a connection after an event.
enum Next {
    Wait,
    /// Answered: hand it to the lingerer.
    Linger,
    /// Failed before it was answered: drop it.
    Drop,
}

impl Exchange {
    /// Reads what has arrived, answers once the head is in, writes what the socket takes.
    fn advance(&mut self, body_bytes: usize) -> Next {
        let mut buf = [0u8; 4096];
        while self.answer.is_none() {
            match self.stream.read(&mut buf) {
                Ok(0) => return Next::Drop,
                Ok(read) => {
                    self.head.extend_from_slice(&buf[..read]);
                    if let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") {
                        self.answer = Some((answer(&self.head[..end + 4], body_bytes), 0));
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Next::Drop,
            }
        }
        let Some((answer, written)) = &mut self.answer else {
            return Next::Wait;
        };
        while *written < answer.len() {
            match self.stream.write(&answer[*written..]) {
                Ok(sent) => *written += sent,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Next::Drop,
            }
        }
        Next::Linger
    }
}

/// Serves until the status says stop; then gives the lingering closes the short linger and
/// waits for them (at most 3 s).
pub(super) fn serve(
    options: &Options,
    listener: std::net::TcpListener,
    status: &Status,
) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut listener = TcpListener::from_std(listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let capacity = options.capacity.unwrap_or_else(Lingerer::default_capacity);
    let mut lingerer = Lingerer::new(capacity)?;
    status.capacity.store(capacity, Ordering::Relaxed);
    let lingerer_fd = lingerer.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&lingerer_fd), LINGERER, Interest::READABLE)?;
    announce(listener.local_addr()?);
    let mut exchanges: HashMap<Token, Exchange> = HashMap::new();
    let mut peers: HashMap<Token, SocketAddr> = HashMap::new();
    let mut next_token = 2;
    // Set when `accept` failed with nothing to reclaim: try again on the next turn.
    let mut accept_pending = false;
    while !status.stopping() {
        let wait = lingerer
            .next_timeout()
            .map_or(Duration::from_millis(50), |due| {
                due.min(Duration::from_millis(50))
            });
        poll.poll(&mut events, Some(wait))?;
        let mut ready = Vec::new();
        for event in events.iter() {
            match event.token() {
                LISTENER => accept_pending = true,
                LINGERER => {}
                token => ready.push(token),
            }
        }
        while accept_pending {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    status.accepted.fetch_add(1, Ordering::Relaxed);
                    let token = Token(next_token);
                    next_token += 1;
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if poll
                        .registry()
                        .register(&mut stream, token, interest)
                        .is_ok()
                    {
                        let head = Vec::new();
                        exchanges.insert(
                            token,
                            Exchange {
                                stream,
                                peer,
                                head,
                                answer: None,
                            },
                        );
                        ready.push(token);
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => accept_pending = false,
                // One connection lost, or lingering closes reclaimed: accept again at once.
                Err(error) if lingerer.after_accept_error(&error) => {}
                // Nothing to reclaim, or another error: the next turn tries again.
                Err(_) => break,
            }
        }
        for token in ready {
            let Some(exchange) = exchanges.get_mut(&token) else {
                continue;
            };
            match exchange.advance(options.body_bytes) {
                Next::Wait => {}
                Next::Drop => drop(exchanges.remove(&token)),
                Next::Linger => {
                    let Some(mut exchange) = exchanges.remove(&token) else {
                        continue;
                    };
                    let _ = poll.registry().deregister(&mut exchange.stream);
                    if let Ok(close) = lingerer.adopt(exchange.stream, Policy::default()) {
                        peers.insert(close, exchange.peer);
                    }
                }
            }
        }
        report(&mut lingerer, &mut peers, status, Duration::ZERO)?;
    }
    // Fails only if the wake-up fails; the loop below polls anyway.
    let _ = lingerer.shutdown_handle().close_all();
    for _ in 0..60 {
        if lingerer.is_empty() {
            break;
        }
        report(&mut lingerer, &mut peers, status, Duration::from_millis(50))?;
    }
    Ok(())
}

/// Drives the lingering closes (waiting at most `wait`), reports those that ended, and
/// updates the status.
fn report(
    lingerer: &mut Lingerer,
    peers: &mut HashMap<Token, SocketAddr>,
    status: &Status,
    wait: Duration,
) -> std::io::Result<()> {
    for (close, outcome) in lingerer.poll(Some(wait))? {
        status.ended(peers.remove(&close), &outcome);
    }
    status.in_flight.store(lingerer.len(), Ordering::Relaxed);
    status
        .reclaimed
        .store(lingerer.reclaimed(), Ordering::Relaxed);
    Ok(())
}
