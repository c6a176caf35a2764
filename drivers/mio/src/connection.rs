//! One connection of the application's own event loop, closed by a `CloseMachine`.

use linger::{Clock, CloseMachine, Event, Guard, Life, Outcome, Policy, State, Stats};
use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::borrow::Borrow;
use std::io::{self, ErrorKind, Read, Write};
use std::time::Duration;

/// A `mio` TCP stream whose writes are counted, whose Nagle mode follows the policy, and
/// which closes with a lingering close on the application's own `mio::Poll`.
///
/// Register it with [`register`](Self::register), read and write through it, and pass it
/// every readiness event of its token ([`handle_event`](Self::handle_event)) and its deadline
/// ([`timeout`](Self::timeout), [`handle_timeout`](Self::handle_timeout)). When one of them
/// returns an `Outcome`, the socket has been deregistered and closed.
///
/// # The life before the close
///
/// A connection made by [`accepted`](Self::accepted) is guarded from its accept: the policy's
/// guards end one that never finishes a request (nothing sent within
/// [`Policy::first_byte_timeout`], a request slower than [`Policy::min_receive_rate`], idle
/// past [`Policy::keep_alive_timeout`] after its answer, a write held back for
/// [`Policy::send_timeout`]) with a lingering close, as if the loop had called
/// [`close`](Self::close): its deadline comes through [`timeout`](Self::timeout) like any
/// other, reads fail from then on, and [`ended_by`](Self::ended_by) says which guard it was.
/// When descriptors run short, [`Lingerer::make_room`](crate::Lingerer::make_room) takes the
/// live connections the loop offers that cost least first.
#[derive(Debug)]
pub struct Connection {
    stream: Option<TcpStream>,
    machine: CloseMachine,
    clock: Clock,
    /// When it was accepted, on the process's clock for ranking
    /// ([`linger_io::pressure::since_start`]).
    accepted: u64,
}

impl Connection {
    /// Takes over `stream`, fresh from `connect` or `accept`, and applies the policy's Nagle
    /// mode. Every later write must go through the connection.
    pub fn new(stream: TcpStream, policy: impl Borrow<Policy>) -> Connection {
        Connection::with_machine(stream, CloseMachine::new(*policy.borrow()), Clock::new())
    }

    /// Takes over `stream`, just accepted, as [`new`](Self::new) does, and guards its life
    /// before the close as `policy` says (see the type's docs). Every read and write must go
    /// through the connection.
    pub fn accepted(stream: TcpStream, policy: impl Borrow<Policy>) -> Connection {
        let clock = Clock::new();
        let machine = CloseMachine::accepted(*policy.borrow(), clock.now());
        Connection::with_machine(stream, machine, clock)
    }

    fn with_machine(stream: TcpStream, machine: CloseMachine, clock: Clock) -> Connection {
        let mut connection = Connection {
            stream: Some(stream),
            machine,
            clock,
            accepted: linger_io::pressure::since_start(std::time::Instant::now()),
        };
        connection.run(None);
        connection
    }

    /// Registers the stream for reads and writes under `token`.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.stream_mut()?.register(registry, token, interest)
    }

    /// Holds partial segments until `uncork`, `flush_segments` or `close`.
    pub fn cork(&mut self) -> Result<(), linger::Error> {
        self.machine.cork()?;
        self.run(None);
        Ok(())
    }

    /// Releases held segments and returns to the policy's Nagle mode.
    pub fn uncork(&mut self) -> Result<(), linger::Error> {
        self.machine.uncork()?;
        self.run(None);
        Ok(())
    }

    /// Pushes out any held partial segment now.
    pub fn flush_segments(&mut self) -> Result<(), linger::Error> {
        self.machine.flush()?;
        self.run(None);
        Ok(())
    }

    /// Half-closes: our FIN follows the data; reads keep going to the application.
    pub fn shutdown_write(&mut self) -> Result<(), linger::Error> {
        self.machine.shutdown_write(self.clock.now())?;
        self.run(None);
        Ok(())
    }

    /// Starts the lingering close; returns the outcome if it ended at once.
    pub fn close(&mut self, registry: &Registry) -> Result<Option<Outcome>, linger::Error> {
        self.machine.close(self.clock.now())?;
        Ok(self.run(Some(registry)))
    }

    /// Resets the connection now and releases the socket.
    pub fn abort(&mut self, registry: &Registry) -> Result<Outcome, linger::Error> {
        self.machine.abort(self.clock.now())?;
        let outcome = self.run(Some(registry));
        Ok(outcome.unwrap_or_else(|| self.ended()))
    }

    /// Feeds a readiness event of this connection's token. While closing it drains and
    /// re-checks the send queue; returns the outcome once the socket is released.
    pub fn handle_event(
        &mut self,
        registry: &Registry,
        event: &mio::event::Event,
    ) -> Option<Outcome> {
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            let _ = self.machine.handle(Event::Readable, self.clock.now());
        }
        self.run(Some(registry))
    }

    /// How long until [`handle_timeout`](Self::handle_timeout) has work, if it ever will.
    pub fn timeout(&self) -> Option<Duration> {
        let now = self.clock.now();
        self.machine
            .poll_timeout()
            .map(|at| at.saturating_duration_since(now))
    }

    /// Fires the machine's deadlines that are due; returns the outcome once released.
    pub fn handle_timeout(&mut self, registry: &Registry) -> Option<Outcome> {
        self.machine.handle_timeout(self.clock.now());
        self.run(Some(registry))
    }

    /// Where the close machine is.
    pub fn state(&self) -> State {
        self.machine.state()
    }

    /// Bytes written and, once closing, discarded.
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// What the connection is doing, until its close begins (a connection made by
    /// [`accepted`](Self::accepted)).
    pub fn life(&self) -> Option<Life> {
        self.machine.life()
    }

    /// The guard that ended the connection, if one did.
    pub fn ended_by(&self) -> Option<Guard> {
        self.machine.ended_by()
    }

    /// The application holds a request it works on, from the moment it has it until its
    /// answer ends ([`answered`](Self::answered)): no guard ends it meanwhile and it never
    /// counts as idle, whatever its bytes say ([`CloseMachine::hold`](linger::CloseMachine::hold)).
    pub fn hold(&mut self) -> Result<(), linger::Error> {
        self.machine.hold(self.clock.now())
    }

    /// The answer to a request [held](Self::hold) is out.
    pub fn answered(&mut self) -> Result<(), linger::Error> {
        self.machine.answered(self.clock.now())
    }

    /// The application took the connection over for another protocol (a WebSocket): from
    /// now on only the send timeout guards it.
    pub fn upgrade(&mut self) -> Result<(), linger::Error> {
        self.machine.upgrade(self.clock.now())
    }

    /// The application holds every request it works on, from the moment it has it (say it
    /// at the accept): a request it does not hold is one still arriving, which the pace guard
    /// ends once its credit runs out, however quiet its peer
    /// ([`CloseMachine::holds_requests`](linger::CloseMachine::holds_requests)). A server
    /// that parses its requests knows when it has one: this closes what the bytes alone
    /// leave open, a request that stops short.
    pub fn holds_requests(&mut self) -> Result<(), linger::Error> {
        self.machine.holds_requests(self.clock.now())
    }

    /// Where the live connection ranks among the process's when descriptors run short
    /// ([`linger_io::pressure::rank`]): lower gives way first, `u64::MAX` never. One whose
    /// first bytes wait unread (the loop has yet to read it) never does.
    pub(crate) fn rank(&self) -> u64 {
        let standing = self.machine.life().and_then(|life| {
            let now = self.clock.now();
            linger_io::pressure::live_standing(&life, self.machine.policy(), now)
        });
        let standing = self
            .stream
            .as_ref()
            .and_then(|stream| linger_io::pressure::unless_unread(standing, stream));
        linger_io::pressure::rank(standing, self.accepted)
    }

    /// Ends the connection now to make room, as for a spent budget (a plain close, or a
    /// reset over data still unread), after one last round of discarding what the peer sent;
    /// the socket is deregistered and released before this returns. Returns the outcome.
    pub fn give_way(&mut self, registry: &Registry) -> Outcome {
        let now = self.clock.now();
        // Refused only if it is closing already, which is as good.
        let _ = self.machine.close(now);
        let _ = self.machine.handle(Event::Readable, now);
        if let Some(outcome) = self.run(Some(registry)) {
            return outcome;
        }
        linger_io::pressure::spend_budget(&mut self.machine, now);
        self.run(Some(registry)).unwrap_or_else(|| self.ended())
    }

    /// How the close ended, once the socket is released.
    pub fn outcome(&self) -> Option<Outcome> {
        self.stream.is_none().then(|| self.ended())
    }

    /// The stream, while it is open, for addresses and socket options. Write through the
    /// connection.
    pub fn stream(&self) -> Option<&TcpStream> {
        self.stream.as_ref()
    }

    /// The stream and its machine, for a [`Lingerer`](crate::Lingerer); `None` once released.
    pub(crate) fn into_parts(self) -> Option<(TcpStream, CloseMachine)> {
        Some((self.stream?, self.machine))
    }

    fn stream_mut(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "released"))
    }

    fn ended(&self) -> Outcome {
        linger_io::released_outcome(&self.machine)
    }

    /// Performs what the machine asks; deregisters and closes the socket when it releases
    /// it (outside a close, with no registry at hand, it never does).
    fn run(&mut self, registry: Option<&Registry>) -> Option<Outcome> {
        let now = self.clock.now();
        let stream = self.stream.as_ref()?;
        let released = loop {
            match linger_io::drive(stream, &mut self.machine, now, |buf| (&*stream).read(buf)) {
                Ok(released) => break released.is_some(),
                // The kernel reported what the machine cannot believe: stop trusting it.
                Err(_) => {
                    let _ = self.machine.abort(now);
                }
            }
        };
        if !released {
            return None;
        }
        let mut stream = self.stream.take()?;
        if let Some(registry) = registry {
            let _ = stream.deregister(registry);
        }
        drop(stream);
        Some(self.ended())
    }

    fn observe(&mut self, event: Event) {
        let _ = self.machine.handle(event, self.clock.now());
    }

    /// A guard that ended the connection on what was just read (a request past its credit):
    /// its close begins now, on the application's poll.
    fn begin_a_guards_close(&mut self) {
        if self.machine.is_lingering() {
            self.run(None);
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.machine.state().may_write() {
            return Err(io::Error::new(
                ErrorKind::BrokenPipe,
                "the write side is shut down",
            ));
        }
        let written = self.stream_mut()?.write(buf);
        match &written {
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                self.observe(Event::WritePending)
            }
            written => {
                if let Some(event) = linger_io::write_event(written.as_ref().copied()) {
                    self.observe(event);
                }
            }
        }
        self.begin_a_guards_close();
        written
    }

    /// Flushes nothing: the kernel holds the data. See [`Connection::flush_segments`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Connection {
    /// Reads for the application; refused once `close` has handed reads to the machine.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.machine.is_lingering() {
            return Err(io::Error::new(
                ErrorKind::NotConnected,
                "closing: reads are discarded",
            ));
        }
        let read = self.stream_mut()?.read(buf);
        match &read {
            Err(error) if error.kind() == ErrorKind::WouldBlock && !buf.is_empty() => {
                self.observe(Event::ReadPending);
            }
            read => {
                if let Some(event) = linger_io::read_event(read.as_ref().copied(), buf.len()) {
                    self.observe(event);
                }
            }
        }
        self.begin_a_guards_close();
        read
    }
}
