//! The flood's mio server: one event loop serves each connection through a
//! `linger_mio::Connection` made by `Connection::accepted`, whose guards end a connection that
//! never finishes its request; it reads each request's head without blocking, holds the
//! request until its answer is written (it parses its requests, so it says it holds every one:
//! a head that stops short is ended once its credit runs out), then hands the connection to a
//! `linger_mio::Lingerer` polled from the same loop. When an accept finds descriptors running
//! short, or fails for want of them, the loop makes room: live connections that give way
//! first, then lingering closes.

use crate::server::{Options, Status, announce, answer};
use linger::{Guard, Policy};
use linger_mio::{AcceptFailure, Connection, Lingerer};
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::Duration;

const LISTENER: Token = Token(0);
const LINGERER: Token = Token(1);
/// The longest the loop sleeps: how often it looks at the status.
const TURN: Duration = Duration::from_millis(50);

/// A live connection whose request is being read, or whose answer written.
struct Exchange {
    connection: Connection,
    peer: SocketAddr,
    head: Vec<u8>,
    /// The answer and how much of it is written, once the head is in.
    answer: Option<(Vec<u8>, usize)>,
}

/// What to do with a connection after an event.
enum Next {
    Wait,
    /// Answered, or ended by a guard: its close goes on in the lingerer.
    Linger,
    /// Failed before it was answered (the peer left, or reset): drop it.
    Drop,
}

impl Exchange {
    /// Reads what has arrived, holds the request and answers once its head is in, writes
    /// what the socket takes, and says the request answered once it is all written.
    fn advance(&mut self, body_bytes: usize) -> Next {
        let mut buf = [0u8; 4096];
        while self.answer.is_none() {
            match self.connection.read(&mut buf) {
                Ok(0) => return Next::Drop,
                Ok(read) => {
                    self.head.extend_from_slice(&buf[..read]);
                    if let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") {
                        if self.connection.hold().is_err() {
                            return Next::Linger;
                        }
                        self.answer = Some((answer(&self.head[..end + 4], body_bytes), 0));
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                // A guard ended it (its close under way), or the peer did.
                Err(_) => return self.ended(),
            }
        }
        let Some((answer, written)) = &mut self.answer else {
            return Next::Wait;
        };
        while *written < answer.len() {
            match self.connection.write(&answer[*written..]) {
                Ok(sent) => *written += sent,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.ended(),
            }
        }
        // Refused only once the connection is closing, which the lingerer goes on with.
        let _ = self.connection.answered();
        Next::Linger
    }

    /// A read or write failed: a guard's close goes on in the lingerer, a dead connection
    /// is dropped.
    fn ended(&self) -> Next {
        if self.connection.ended_by().is_some() {
            Next::Linger
        } else {
            Next::Drop
        }
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
    let mut serving = Serving {
        exchanges: HashMap::new(),
        closes: HashMap::new(),
        next_token: 2,
        policy: options.policy,
        body_bytes: options.body_bytes,
    };
    // Set when `accept` failed with nothing to make room with: try again on the next turn.
    let mut accept_pending = false;
    while !status.stopping() {
        let wait = [lingerer.next_timeout(), serving.next_guard()]
            .into_iter()
            .flatten()
            .fold(TURN, Duration::min);
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
                Ok((stream, peer)) => {
                    status.accepted.fetch_add(1, Ordering::Relaxed);
                    let in_use = linger_mio::in_use_at_accept(&stream).unwrap_or(0);
                    if linger_mio::running_short(in_use) {
                        serving.make_room(&mut lingerer, poll.registry(), status);
                    }
                    if let Some(token) = serving.accept(stream, peer, poll.registry()) {
                        ready.push(token);
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => accept_pending = false,
                Err(error) => match linger_mio::accept_failure(&error) {
                    AcceptFailure::Exhausted => {
                        // Nothing gave way: the next turn tries again.
                        if serving.make_room(&mut lingerer, poll.registry(), status) == 0 {
                            break;
                        }
                    }
                    AcceptFailure::Transient => {}
                    AcceptFailure::Other => break,
                },
            }
        }
        for token in ready {
            serving.advance(token, &mut lingerer, poll.registry());
        }
        serving.fire_guards(&mut lingerer, poll.registry(), status);
        report(&mut lingerer, &mut serving.closes, status, Duration::ZERO)?;
    }
    // Fails only if the wake-up fails; the loop below polls anyway.
    let _ = lingerer.shutdown_handle().close_all();
    for _ in 0..60 {
        if lingerer.is_empty() {
            break;
        }
        report(
            &mut lingerer,
            &mut serving.closes,
            status,
            Duration::from_millis(50),
        )?;
    }
    Ok(())
}

/// The live connections of the loop, and the peers of the closes it handed over.
struct Serving {
    exchanges: HashMap<Token, Exchange>,
    /// Each close in the lingerer: its peer, and the guard that ended its connection.
    closes: HashMap<Token, (SocketAddr, Option<Guard>)>,
    next_token: usize,
    policy: Policy,
    body_bytes: usize,
}

impl Serving {
    /// Takes a connection just accepted, guarded from now on; its token, to read it at once.
    fn accept(
        &mut self,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        registry: &Registry,
    ) -> Option<Token> {
        let token = Token(self.next_token);
        self.next_token += 1;
        let mut connection = Connection::accepted(stream, self.policy);
        // It parses every request and holds it until answered: a head that stops short is
        // a request still arriving. Refused only once closed, which its first read says.
        let _ = connection.holds_requests();
        connection.register(registry, token).ok()?;
        let head = Vec::new();
        let exchange = Exchange {
            connection,
            peer,
            head,
            answer: None,
        };
        self.exchanges.insert(token, exchange);
        Some(token)
    }

    /// Advances the connection of `token`, handing it to `lingerer` once answered or ended.
    fn advance(&mut self, token: Token, lingerer: &mut Lingerer, registry: &Registry) {
        let Some(exchange) = self.exchanges.get_mut(&token) else {
            return;
        };
        match exchange.advance(self.body_bytes) {
            Next::Wait => {}
            Next::Drop => drop(self.exchanges.remove(&token)),
            Next::Linger => self.linger(token, lingerer, registry),
        }
    }

    /// Hands the connection of `token` to `lingerer`, its close to go on there.
    fn linger(&mut self, token: Token, lingerer: &mut Lingerer, registry: &Registry) {
        let Some(exchange) = self.exchanges.remove(&token) else {
            return;
        };
        let guard = exchange.connection.ended_by();
        if let Ok(close) = lingerer.adopt_connection(exchange.connection, registry) {
            self.closes.insert(close, (exchange.peer, guard));
        }
    }

    /// How long until the first guard is due.
    fn next_guard(&self) -> Option<Duration> {
        self.exchanges
            .values()
            .filter_map(|exchange| exchange.connection.timeout())
            .min()
    }

    /// Acts on the guards due: a connection a guard ended closes in the lingerer.
    fn fire_guards(&mut self, lingerer: &mut Lingerer, registry: &Registry, status: &Status) {
        let due: Vec<Token> = self
            .exchanges
            .iter()
            .filter(|(_, exchange)| exchange.connection.timeout() == Some(Duration::ZERO))
            .map(|(&token, _)| token)
            .collect();
        for token in due {
            let Some(exchange) = self.exchanges.get_mut(&token) else {
                continue;
            };
            if let Some(outcome) = exchange.connection.handle_timeout(registry) {
                let guard = exchange.connection.ended_by();
                status.closed(Some(exchange.peer), &outcome, guard, false);
                self.exchanges.remove(&token);
            } else if exchange.connection.ended_by().is_some() {
                self.linger(token, lingerer, registry);
            }
        }
    }

    /// Makes room for a batch: live connections that give way first, then lingering
    /// closes. How many gave way.
    fn make_room(
        &mut self,
        lingerer: &mut Lingerer,
        registry: &Registry,
        status: &Status,
    ) -> usize {
        let batch = lingerer.batch(self.exchanges.len());
        let reclaimed_before = lingerer.reclaimed();
        let live = self
            .exchanges
            .iter_mut()
            .map(|(token, exchange)| (*token, &mut exchange.connection));
        let gave_way = lingerer.make_room(batch, live, registry);
        for (token, outcome) in &gave_way {
            if let Some(exchange) = self.exchanges.remove(token) {
                status.closed(Some(exchange.peer), outcome, None, false);
            }
        }
        usize::try_from(lingerer.reclaimed() - reclaimed_before).unwrap_or(usize::MAX)
    }
}

/// Drives the lingering closes (waiting at most `wait`), reports those that ended, and
/// updates the status.
fn report(
    lingerer: &mut Lingerer,
    closes: &mut HashMap<Token, (SocketAddr, Option<Guard>)>,
    status: &Status,
    wait: Duration,
) -> std::io::Result<()> {
    for (close, outcome) in lingerer.poll(Some(wait))? {
        let (peer, guard) = closes.remove(&close).unzip();
        status.closed(peer, &outcome, guard.flatten(), false);
    }
    status.in_flight.store(lingerer.len(), Ordering::Relaxed);
    status
        .reclaimed
        .store(lingerer.reclaimed(), Ordering::Relaxed);
    Ok(())
}
