//! One close under way on tokio: it starts at once, performing what needs no waiting; if it
//! must wait, its loop serves readiness, the machine's deadlines and the server's requests;
//! dropped before the end, it is cut short; and its outcome is reported exactly once.

use crate::lingerer::{Lingerer, Request, Ticket};
use crate::report::{self, CloseReport};
use linger::{Clock, CloseMachine, Event, Outcome};
use linger_io::pressure::Progress;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::runtime::Handle;

/// A close under way. Dropping it before the end ends it at once, as if its budget ran out:
/// a plain close unless data is unread or the policy says abort, then a reset.
pub(crate) struct Lingering {
    /// `None` once released.
    stream: Option<TcpStream>,
    machine: CloseMachine,
    clock: Clock,
    /// The lingerer whose hook and counts get the outcome, if any.
    owner: Option<Lingerer>,
    /// Set while the close waits in the background, counted in flight.
    ticket: Option<Ticket>,
    /// What the peer has shown since the close began: where it stands in the order closes
    /// give way.
    progress: Progress,
    /// Ended early by its lingerer to make room.
    reclaimed: bool,
    peer: Option<SocketAddr>,
    reported: bool,
}

/// Reads without blocking, in a way that is right whatever tokio believes. Through tokio
/// when it thinks the socket readable, so that an `EWOULDBLOCK` clears its readiness (else
/// the next wait would wake at once for nothing); straight from the kernel when it thinks
/// not, since its readiness may lag the socket (an event not yet processed, a runtime
/// shutting down), and a discard round that believed it would let the close end plainly
/// over unread data.
fn read_surely(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut asked_the_kernel = false;
    let through_tokio = stream.try_io(Interest::READABLE, || {
        asked_the_kernel = true;
        linger_io::sys::read_nonblocking(stream, buf)
    });
    match through_tokio {
        Err(error) if error.kind() == io::ErrorKind::WouldBlock && !asked_the_kernel => {
            linger_io::sys::read_nonblocking(stream, buf)
        }
        result => result,
    }
}

impl Lingering {
    /// Starts closing `stream` now (`machine.close`) and performs every action that needs no
    /// waiting. Most closes of a connection whose peer closed first end right here.
    pub(crate) fn begin(
        stream: TcpStream,
        mut machine: CloseMachine,
        clock: Clock,
        owner: Option<Lingerer>,
        peer: Option<SocketAddr>,
    ) -> Lingering {
        // Refused only once the machine is closed, and then its release is queued.
        let _ = machine.close(clock.now());
        let mut lingering = Lingering {
            stream: Some(stream),
            machine,
            clock,
            owner,
            ticket: None,
            progress: Progress::default(),
            reclaimed: false,
            peer,
            reported: false,
        };
        lingering.perform();
        lingering
    }

    /// Goes on in the background on `runtime`, counted in flight; without a runtime, ends
    /// at once (see [`Drop`]). A close that already ended is only reported.
    pub(crate) fn hand_off(mut self, runtime: Option<Handle>) {
        let Some(runtime) = runtime.filter(|_| self.stream.is_some()) else {
            return;
        };
        self.wait_in_background();
        // On a runtime shutting down the task is dropped unpolled: the close is cut short.
        drop(runtime.spawn(async move {
            self.run().await;
        }));
    }

    /// Counts the close in flight with its lingerer, if it has one and must wait.
    pub(crate) fn wait_in_background(&mut self) {
        if let (Some(owner), None, Some(_)) = (&self.owner, &self.ticket, &self.stream) {
            let standing = self.progress.standing(&self.machine, self.clock.now());
            self.ticket = Some(owner.enter(standing));
        }
    }

    /// Drives the close to its end.
    pub(crate) async fn run(mut self) -> Outcome {
        while !self.perform() {
            self.restand();
            if !self.answer_request() {
                self.wait().await;
            }
        }
        self.finish()
    }

    /// Tells the lingerer where the close now stands in the order closes give way.
    fn restand(&mut self) {
        if let (Some(owner), Some(ticket)) = (&self.owner, &mut self.ticket) {
            owner.restand(
                ticket,
                self.progress.standing(&self.machine, self.clock.now()),
            );
        }
    }

    /// Performs every action; true once the socket was released (and dropped).
    fn perform(&mut self) -> bool {
        let Some(stream) = &self.stream else {
            return true;
        };
        let now = self.clock.now();
        loop {
            let read = |buf: &mut [u8]| read_surely(stream, buf);
            match linger_io::drive(stream, &mut self.machine, now, read) {
                Ok(Some(_release)) => {
                    // For an abort, `SO_LINGER {1, 0}` is set: this close sends RST.
                    self.stream = None;
                    return true;
                }
                Ok(None) => return false,
                // The kernel reported what the machine cannot believe: stop trusting it.
                Err(_) => {
                    let _ = self.machine.abort(now);
                }
            }
        }
    }

    /// Acts on what the server asked (pressure, shutdown); true if it asked anything.
    fn answer_request(&mut self) -> bool {
        let Some(request) = self
            .ticket
            .as_ref()
            .and_then(|ticket| ticket.control.take())
        else {
            return false;
        };
        let now = self.clock.now();
        // Refused only once the close has ended, when there is nothing left to do.
        let _ = match request {
            Request::Shorten(within) => self.machine.shorten_budget(now, within),
            Request::Reclaim => {
                self.give_way(now);
                Ok(())
            }
            Request::Abort => self.machine.abort(now),
        };
        self.machine.handle_timeout(now);
        true
    }

    /// Ends the close now to make room, as for a spent budget, and releases its socket. One
    /// last discard round first: what the peer sent since the last one would make a plain
    /// close a reset, and the outcome would not say so. A close that this round ends (the
    /// peer's EOF was waiting) was not cut short.
    pub(crate) fn give_way(&mut self, now: linger::Instant) {
        let _ = self.machine.handle(Event::Readable, now);
        if !self.perform() {
            self.reclaimed = true;
            linger_io::pressure::spend_budget(&mut self.machine, now);
            self.perform();
        }
    }

    /// Waits for readiness, the next deadline or a request, then fires what is due.
    async fn wait(&mut self) {
        let now = self.clock.now();
        let Some(stream) = &self.stream else {
            return;
        };
        let Some(deadline) = self.machine.poll_timeout() else {
            // A lingering machine always has a deadline; without one, nothing would end it.
            let _ = self.machine.abort(now);
            return;
        };
        let sleep = match self.clock.to_std(deadline) {
            Some(at) => tokio::time::sleep_until(at.into()),
            None => tokio::time::sleep(Duration::from_secs(u32::MAX.into())),
        };
        let wants_read = self.machine.wants_read();
        let readable = async {
            if wants_read {
                stream.readable().await
            } else {
                std::future::pending().await
            }
        };
        let control = self.ticket.as_ref().map(|ticket| &ticket.control);
        let asked = async {
            match control {
                Some(control) => control.asked().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ready = readable => {
                let event = if ready.is_ok() { Event::Readable } else { Event::Failed };
                let _ = self.machine.handle(event, self.clock.now());
            }
            () = sleep => {}
            () = asked => {}
        }
        self.machine.handle_timeout(self.clock.now());
    }

    /// The outcome, reported the first time.
    pub(crate) fn finish(&mut self) -> Outcome {
        let outcome = linger_io::released_outcome(&self.machine);
        if !self.reported {
            self.reported = true;
            let report = CloseReport {
                peer: self.peer,
                outcome,
                reclaimed: self.reclaimed,
                ended_by: self.machine.ended_by(),
            };
            report::trace(&report);
            if let Some(owner) = self.owner.take() {
                owner.report(self.ticket.take(), &report);
            }
        }
        outcome
    }
}

impl Drop for Lingering {
    /// Dropped before the end (a future dropped, a runtime shutting down, none to run on):
    /// end the close now as if its budget ran out, without waiting.
    fn drop(&mut self) {
        if self.stream.is_some() {
            linger_io::pressure::spend_budget(&mut self.machine, self.clock.now());
            self.perform();
        }
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::read_surely;
    use std::io::{self, Write};

    #[tokio::test]
    async fn read_surely_reads_what_tokio_has_not_seen_arrive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let mut client = std::net::TcpStream::connect(address).expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 16];
        // Nothing sent yet: the kernel says so through tokio, which clears its readiness.
        let empty = server.try_read(&mut buf).expect_err("nothing sent yet");
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"upload").expect("write");
        // No await since: the reactor has not polled, tokio still believes nothing is there.
        // Loopback delivers within the write, so the kernel has it.
        let read = read_surely(&server, &mut buf).expect("the kernel's bytes");
        assert_eq!(&buf[..read], b"upload");
    }
}
