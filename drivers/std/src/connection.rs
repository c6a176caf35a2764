//! A blocking stream whose writes, Nagle control and close go through a `CloseMachine`.

use linger::{Clock, CloseMachine, Event, Outcome, Policy, State, Stats};
use std::borrow::Borrow;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// A `TcpStream` whose writes are counted, whose corking follows the policy's Nagle mode,
/// and which closes with a lingering close.
///
/// ```no_run
/// use std::io::Write;
/// use linger_std::{NagleMode, Policy};
///
/// let stream = std::net::TcpStream::connect("127.0.0.1:8080")?;
/// let policy = Policy::builder().nagle(NagleMode::CorkWhileAssembling).build().expect("valid");
/// let mut connection = linger_std::Connection::new(stream, policy);
/// connection.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")?;
/// connection.write_all(b"hello")?; // held by TCP_CORK: headers and body leave together
/// let outcome = connection.close(); // uncorks, shuts down writing, lingers
/// assert!(outcome.claims_delivery());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    machine: CloseMachine,
    clock: Clock,
}

impl Connection {
    /// Takes over `stream`, fresh from `connect` or `accept`, and applies the policy's Nagle
    /// mode. Every later write must go through the connection.
    pub fn new(stream: TcpStream, policy: impl Borrow<Policy>) -> Connection {
        let mut connection = Connection {
            stream,
            machine: CloseMachine::new(*policy.borrow()),
            clock: Clock::new(),
        };
        connection.run_actions();
        connection
    }

    /// Holds partial segments (`TCP_CORK`) until [`uncork`](Self::uncork), [`flush`](Self::flush)
    /// or [`close`](Self::close).
    pub fn cork(&mut self) -> Result<(), linger::Error> {
        self.machine.cork()?;
        self.run_actions();
        Ok(())
    }

    /// Releases held segments and returns to the policy's Nagle mode.
    pub fn uncork(&mut self) -> Result<(), linger::Error> {
        self.machine.uncork()?;
        self.run_actions();
        Ok(())
    }

    /// Pushes out any held partial segment now.
    pub fn flush_segments(&mut self) -> Result<(), linger::Error> {
        self.machine.flush()?;
        self.run_actions();
        Ok(())
    }

    /// Half-closes: sends our FIN after the data; reads keep working.
    pub fn shutdown_write(&mut self) -> Result<(), linger::Error> {
        self.machine.shutdown_write(self.clock.now())?;
        self.run_actions();
        Ok(())
    }

    /// Closes gracefully, blocking until the close ends (at most the policy's budget).
    pub fn close(mut self) -> Outcome {
        let _refused_only_when_closed = self.machine.close(self.clock.now());
        crate::linger(self.stream, self.machine, self.clock)
    }

    /// Resets the connection now.
    pub fn abort(mut self) -> Outcome {
        let _refused_only_when_closed = self.machine.abort(self.clock.now());
        crate::linger(self.stream, self.machine, self.clock)
    }

    /// Where the close machine is.
    pub fn state(&self) -> State {
        self.machine.state()
    }

    /// Bytes written and, once closing, discarded.
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// The stream, for socket options and addresses. Write through the connection.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Performs what the machine asked for. Outside a close it asks only for socket options
    /// and, after `shutdown_write`, a send-queue query: nothing that reads or releases.
    fn run_actions(&mut self) {
        let no_reads = |_: &mut [u8]| Err(io::Error::from(ErrorKind::WouldBlock));
        let _ = linger_io::drive(&self.stream, &mut self.machine, self.clock.now(), no_reads);
    }

    fn observe(&mut self, event: Event) {
        let _ = self.machine.handle(event, self.clock.now());
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
        let written = self.stream.write(buf);
        if let Some(event) = linger_io::write_event(written.as_ref().copied()) {
            self.observe(event);
        }
        written
    }

    /// Flushes nothing: the kernel holds the data. See [`flush_segments`](Self::flush_segments)
    /// for pushing a corked tail.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.stream.read(buf);
        if let Some(event) = linger_io::read_event(read.as_ref().copied(), buf.len()) {
            self.observe(event);
        }
        read
    }
}
