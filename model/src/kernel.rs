//! One endpoint's kernel TCP, at the level that matters for closing: what was written, sent,
//! acknowledged; the FIN; the receive queue; the pending socket error; and each kernel's
//! rules for close, reset and what it reports ([`Flavour`]).
//!
//! Data is counted in segments (one byte each in the model). The network between the two
//! kernels is a FIFO per direction: in order, never lost, arbitrarily delayed.

use core::fmt;
use linger_io::acks::TcpState;
use std::collections::VecDeque;

/// Whose rules a kernel follows where the kernels differ (docs/model.md cites the source of
/// each rule). The peer's kernel is Linux's; ours is any of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// `SIOCOUTQ` counts the data and our FIN not acknowledged and keeps its figure after a
    /// reset; a read returns the peer's EOF before a pending error.
    #[default]
    Linux,
    /// `FIONWRITE` counts the data not acknowledged, not the FIN, and reads 0 once the
    /// connection is over (`soisdisconnected` drops the send buffer at a reset, a timeout or
    /// the graceful end); `TCP_INFO` fails once the connection is dropped or in TIME_WAIT; every
    /// reset leaves `ECONNRESET` pending; a pending error is read before the EOF.
    FreeBsd,
    /// `SO_NWRITE` counts the data not acknowledged, not the FIN, and keeps its figure after
    /// the end; `TCP_CONNECTION_INFO` reports the state to the end; a reset in CLOSING or
    /// LAST_ACK closes the connection without a pending error; a pending error is read before
    /// the EOF.
    MacOs,
}

impl Flavour {
    /// Every flavour, in the order the CLI lists them.
    pub const ALL: [Flavour; 3] = [Flavour::Linux, Flavour::FreeBsd, Flavour::MacOs];

    /// The name the CLI takes: `linux`, `freebsd`, `macos`.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Linux => "linux",
            Flavour::FreeBsd => "freebsd",
            Flavour::MacOs => "macos",
        }
    }

    /// The flavour named `name`, as [`name`](Self::name) spells it.
    pub fn from_name(name: &str) -> Option<Flavour> {
        Flavour::ALL
            .into_iter()
            .find(|flavour| flavour.name() == name)
    }

    /// Whether a pending error is read before the peer's EOF (the BSDs' `soreceive`) or
    /// after it (Linux's `tcp_recvmsg` stops at the EOF and leaves the error pending).
    fn error_before_eof(self) -> bool {
        self != Flavour::Linux
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A socket's pending error (`SO_ERROR`): what ended the connection, until a read or
/// `getsockopt(SO_ERROR)` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SoError {
    /// `ECONNRESET` (or Linux's `EPIPE` for a reset after the peer's FIN): the peer reset.
    Reset,
    /// `ETIMEDOUT`: our kernel gave up retransmitting.
    TimedOut,
}

impl SoError {
    /// The error as the socket calls return it.
    pub fn io_error(self) -> std::io::Error {
        std::io::Error::from(match self {
            SoError::Reset => std::io::ErrorKind::ConnectionReset,
            SoError::TimedOut => std::io::ErrorKind::TimedOut,
        })
    }
}

/// What travels between the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// One data segment.
    Data,
    /// The sender's FIN.
    Fin,
    /// Cumulative acknowledgement, and the receive window's right edge.
    Ack {
        /// Data segments received.
        received: u8,
        /// The FIN was received.
        fin: bool,
        /// The sender may send data up to this sequence number.
        window_end: u8,
    },
    /// Reset.
    Rst,
}

/// One direction of the network: in order, never lost, delivered whenever the model says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Wire(VecDeque<Segment>);

impl Wire {
    /// Queues `segment`. An ACK behind another ACK replaces it: acknowledgements are
    /// cumulative and the newer one says everything the older did, which keeps the state
    /// space small without hiding any ordering of data, FIN and RST.
    pub fn push(&mut self, segment: Segment) {
        if let (Segment::Ack { .. }, Some(Segment::Ack { .. })) = (segment, self.0.back()) {
            self.0.pop_back();
        }
        self.0.push_back(segment);
    }

    /// The segment that arrives next.
    pub fn pop(&mut self) -> Option<Segment> {
        self.0.pop_front()
    }

    /// Nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In flight, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.0.iter()
    }
}

/// Our FIN's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fin {
    /// Not asked for.
    None,
    /// `shutdown` or `close` asked for it; it follows the data.
    Queued,
    /// On the wire.
    Sent,
    /// Acknowledged.
    Acked,
}

/// Why this kernel is dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dead {
    /// It sent RST: `close()` with unread data (Linux `TCPAbortOnClose`).
    ClosedOnUnread,
    /// It sent RST: data arrived after `close()` (Linux `TCPAbortOnData`).
    DataAfterClose,
    /// It sent RST: the application aborted (`SO_LINGER {1, 0}`).
    Aborted,
    /// The application aborted in CLOSING or LAST_ACK with everything sent: Linux drops the
    /// connection without a RST (`tcp_disconnect` resets only where `tcp_need_reset` says so,
    /// or while something is unsent).
    AbortedQuietly,
    /// It received RST.
    ResetByPeer,
    /// It gave up retransmitting (`ETIMEDOUT`); the BSDs send RST as they drop it.
    TimedOut,
}

/// `ENOTCONN`: the connection is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotConnected;

/// What a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    /// One segment.
    Data,
    /// Nothing yet (`EWOULDBLOCK`).
    WouldBlock,
    /// The peer's FIN, or a connection that is over: 0.
    Eof,
    /// The pending error, taken by the read once the received data is read.
    Error(SoError),
}

/// One endpoint's socket in the kernel, following its [`Flavour`]'s rules. Strategies act on it
/// through [`Io`](crate::Io); a property reads it in the [`World`](crate::World)
/// (`world.ours`, `world.peer`).
///
/// ```
/// use linger_model::{Flavour, Kernel, Segment};
/// use linger_model::kernel::Wire;
///
/// // Linux: a FIN queued behind a segment the window cannot take rides on it, and waits.
/// let mut ours = Kernel::new(Flavour::Linux, 2, 1);
/// let mut wire = Wire::default();
/// ours.write(2, &mut wire);
/// assert_eq!(ours.shutdown_write(&mut wire), Ok(()));
/// ours.receive(Segment::Ack { received: 1, fin: false, window_end: 2 }, &mut wire);
/// assert_eq!((ours.sent, ours.siocoutq()), (1, 2));
/// assert!(ours.probe_due(), "nothing in flight: the persist timer sends the data alone");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// Whose rules it follows.
    pub flavour: Flavour,
    /// Data segments the application wrote.
    pub written: u8,
    /// Of those, sent.
    pub sent: u8,
    /// Of those, acknowledged by the other kernel.
    pub acked: u8,
    /// The other kernel's window: data may be sent up to here.
    pub window_end: u8,
    /// Our FIN.
    pub fin: Fin,
    /// The other side's FIN had arrived when ours was queued: we close second (CLOSE_WAIT,
    /// LAST_ACK, then CLOSED once our FIN is acknowledged) rather than first (FIN_WAIT,
    /// CLOSING, then TIME_WAIT).
    pub closes_second: bool,
    /// Data segments received from the other kernel.
    pub received: u8,
    /// Of those, read by the application.
    pub read: u8,
    /// Receive buffer, in segments.
    pub capacity: u8,
    /// The other side's FIN arrived.
    pub peer_fin: bool,
    /// The application still holds the socket.
    pub fd_open: bool,
    /// Dead, and why; a dead kernel accepts nothing more (one that gave up answers with RST).
    pub dead: Option<Dead>,
    /// The pending socket error (`SO_ERROR`), until a read or `getsockopt` takes it.
    pub error: Option<SoError>,
    /// Written data this kernel will never send: dropped when it died.
    pub discarded: u8,
    /// Data segments that arrived after it died and were dropped.
    pub dropped: u8,
}

impl Kernel {
    /// A connected socket following `flavour`'s rules, with a receive buffer of `capacity`
    /// segments, facing a peer whose buffer holds `peer_capacity`.
    pub fn new(flavour: Flavour, capacity: u8, peer_capacity: u8) -> Kernel {
        Kernel {
            flavour,
            written: 0,
            sent: 0,
            acked: 0,
            window_end: peer_capacity,
            fin: Fin::None,
            closes_second: false,
            received: 0,
            read: 0,
            capacity,
            peer_fin: false,
            fd_open: true,
            dead: None,
            error: None,
            discarded: 0,
            dropped: 0,
        }
    }

    /// Received data the application has not read.
    pub fn unread(&self) -> u8 {
        self.received - self.read
    }

    /// `SIOCOUTQ`: data written and not acknowledged, plus one for a FIN not acknowledged. It
    /// keeps its figure after a reset: what really is not acknowledged, on every flavour.
    pub fn siocoutq(&self) -> u32 {
        let fin = u32::from(matches!(self.fin, Fin::Queued | Fin::Sent));
        u32::from(self.written - self.acked) + fin
    }

    /// The send-queue figure the flavour's kernel reports: Linux `SIOCOUTQ`; FreeBSD
    /// `FIONWRITE` (data only, 0 once disconnected); macOS `SO_NWRITE` (data only).
    pub fn send_queue(&self) -> u32 {
        let data = u32::from(self.written - self.acked);
        match self.flavour {
            Flavour::Linux => self.siocoutq(),
            Flavour::FreeBsd if self.disconnected() => 0,
            Flavour::FreeBsd | Flavour::MacOs => data,
        }
    }

    /// Both FINs acknowledged both ways (TIME_WAIT, or CLOSED after LAST_ACK), or dead: the
    /// kernel calls the socket disconnected and `shutdown` fails with `ENOTCONN`.
    pub fn disconnected(&self) -> bool {
        matches!(self.tcp_state(), TcpState::TimeWait | TcpState::Closed)
    }

    /// The connection's state, as the BSDs name it (the state changes when the FIN is
    /// queued, not when it leaves).
    pub fn tcp_state(&self) -> TcpState {
        use TcpState::*;
        if self.dead.is_some() {
            return Closed;
        }
        match (self.fin, self.peer_fin) {
            (Fin::None, false) => Established,
            (Fin::None, true) => CloseWait,
            (Fin::Queued | Fin::Sent, _) if self.closes_second => LastAck,
            (Fin::Queued | Fin::Sent, false) => FinWait1,
            (Fin::Queued | Fin::Sent, true) => Closing,
            (Fin::Acked, _) if self.closes_second => Closed,
            (Fin::Acked, false) => FinWait2,
            (Fin::Acked, true) => TimeWait,
        }
    }

    /// The state as the flavour's kernel reports it: FreeBSD's `TCP_INFO` fails (`None`)
    /// once the connection is dropped or in TIME_WAIT (FreeBSD 13 and before); macOS's
    /// `TCP_CONNECTION_INFO` answers to the end. (Linux's close path does not ask.)
    pub fn tcp_info(&self) -> Option<TcpState> {
        match self.flavour {
            Flavour::FreeBsd if self.disconnected() => None,
            _ => Some(self.tcp_state()),
        }
    }

    /// The send-queue figure the flavour's kernel keeps once the connection is over: Linux's
    /// and macOS's stay; FreeBSD's is gone with the send buffer.
    pub fn send_queue_after_the_end(&self) -> Option<u32> {
        match self.flavour {
            Flavour::FreeBsd => None,
            Flavour::Linux | Flavour::MacOs => Some(self.send_queue()),
        }
    }

    /// Whether a read would return something other than `EWOULDBLOCK` (a poller reports a
    /// pending error too).
    pub fn readable(&self) -> bool {
        self.unread() > 0 || self.peer_fin || self.error.is_some() || self.dead.is_some()
    }

    /// `getsockopt(SO_ERROR)`: takes the pending error.
    pub fn take_error(&mut self) -> Option<SoError> {
        self.error.take()
    }

    /// The application writes `segments`.
    pub fn write(&mut self, segments: u8, out: &mut Wire) {
        self.written = self.written.saturating_add(segments);
        self.transmit(out);
    }

    /// The application reads one segment, or learns why not. Reading opens the window. Data
    /// comes first; then Linux returns the peer's EOF and leaves a pending error pending,
    /// where the BSDs return the error first; a connection that is over reads as EOF.
    pub fn app_read(&mut self, out: &mut Wire) -> Read {
        if self.unread() > 0 {
            self.read += 1;
            if self.dead.is_none() {
                out.push(self.ack());
            }
            return Read::Data;
        }
        let error_first = self.flavour.error_before_eof() || !self.peer_fin;
        match self.error {
            Some(error) if error_first => {
                self.error = None;
                Read::Error(error)
            }
            _ if self.peer_fin || self.dead.is_some() => Read::Eof,
            _ => Read::WouldBlock,
        }
    }

    /// `shutdown(SHUT_WR)`: the FIN follows the data. On a connection that is over (reset,
    /// timed out, or closed both ways), `ENOTCONN`.
    pub fn shutdown_write(&mut self, out: &mut Wire) -> Result<(), NotConnected> {
        if self.disconnected() {
            return Err(NotConnected);
        }
        self.queue_fin(out);
        Ok(())
    }

    fn queue_fin(&mut self, out: &mut Wire) {
        if self.fin == Fin::None && self.dead.is_none() {
            self.fin = Fin::Queued;
            self.closes_second = self.peer_fin;
            self.transmit(out);
        }
    }

    /// `close()`: with unread data, Linux resets at once; otherwise the FIN follows the data
    /// and the kernel keeps sending on its own (an orphan socket). A connection already over
    /// (reset, timed out, or closed both ways) is only released: `__tcp_close` kills a socket in
    /// CLOSE without a RST, whatever it left unread (`net/ipv4/tcp.c`).
    pub fn close(&mut self, out: &mut Wire) {
        self.fd_open = false;
        if self.disconnected() {
            return;
        }
        if self.unread() > 0 {
            self.die(Dead::ClosedOnUnread, out);
        } else {
            self.queue_fin(out);
        }
    }

    /// Whether `close()` now would reset the connection: received data unread on a connection
    /// that is not over.
    pub fn resets_on_close(&self) -> bool {
        self.unread() > 0 && !self.disconnected()
    }

    /// `SO_LINGER {1, 0}` + `close()`: reset now, unless the connection is over (reset, timed
    /// out, or closed both ways: `__tcp_close` kills a socket in CLOSE without a RST). Linux's
    /// `tcp_disconnect` resets ESTABLISHED, CLOSE_WAIT and the FIN_WAITs (`tcp_need_reset`),
    /// but CLOSING and LAST_ACK only while something is unsent: with data and FIN all sent it
    /// drops the connection without a word. (The BSDs' `tcp_drop` resets every synchronized
    /// state.)
    pub fn abort(&mut self, out: &mut Wire) {
        self.fd_open = false;
        if self.disconnected() {
            return;
        }
        let closing = matches!(self.tcp_state(), TcpState::Closing | TcpState::LastAck);
        let all_sent = self.sent == self.written && self.fin != Fin::Queued;
        if self.flavour == Flavour::Linux && closing && all_sent {
            self.dead = Some(Dead::AbortedQuietly);
        } else {
            self.die(Dead::Aborted, out);
        }
    }

    /// A segment arrives from the other kernel. A connection in CLOSED (dead, whatever
    /// killed it, or closed second and acknowledged) has no socket left to take it: the kernel
    /// answers anything but a RST with one (`tcp_v4_send_reset` for a segment no socket
    /// matches; the BSDs' `tcp_input` drops it with a reset alike). TIME_WAIT still has one,
    /// which takes the peer's last ACKs in silence.
    pub fn receive(&mut self, segment: Segment, out: &mut Wire) {
        if self.tcp_state() == TcpState::Closed {
            if segment == Segment::Data {
                self.dropped = self.dropped.saturating_add(1);
            }
            if segment != Segment::Rst {
                out.push(Segment::Rst);
            }
            return;
        }
        match segment {
            Segment::Data if !self.fd_open => {
                // Linux: data for a socket the application closed is answered with RST.
                self.dropped = self.dropped.saturating_add(1);
                self.die(Dead::DataAfterClose, out);
            }
            Segment::Data => {
                self.received = self.received.saturating_add(1);
                out.push(self.ack());
            }
            Segment::Fin => {
                self.peer_fin = true;
                out.push(self.ack());
            }
            Segment::Ack {
                received,
                fin,
                window_end,
            } => {
                self.acked = self.acked.max(received);
                self.window_end = self.window_end.max(window_end);
                if fin && self.fin == Fin::Sent {
                    self.fin = Fin::Acked;
                }
                self.transmit(out);
            }
            Segment::Rst => self.reset_by_peer(),
        }
    }

    /// A RST arrives: the kernel drops the connection, its unsent data with it, and leaves
    /// `ECONNRESET` pending, except on macOS in CLOSING and LAST_ACK (XNU's `tcp_input`
    /// closes those without an error). A connection already closed both ways ignores it.
    fn reset_by_peer(&mut self) {
        if self.disconnected() {
            return;
        }
        let closing = matches!(self.tcp_state(), TcpState::Closing | TcpState::LastAck);
        if !(self.flavour == Flavour::MacOs && closing) {
            self.error = Some(SoError::Reset);
        }
        self.dead = Some(Dead::ResetByPeer);
        self.discarded = self.written - self.sent;
    }

    /// Our kernel gives up retransmitting: `ETIMEDOUT` pending, unsent data dropped; the BSDs
    /// send RST as they drop the connection (`tcp_drop`), Linux does not (`tcp_write_err`) and
    /// answers the peer's next segment with one instead. A Linux kernel that holds its last
    /// segment for the window's sake gives up at its persist timer, whose first firing sends
    /// the probe (`tcp_probe_timer`): that data goes out before the kernel gives up.
    pub fn time_out(&mut self, out: &mut Wire) {
        if self.disconnected() {
            return;
        }
        self.probe(out);
        self.error = Some(SoError::TimedOut);
        self.dead = Some(Dead::TimedOut);
        self.discarded = self.written - self.sent;
        if self.flavour != Flavour::Linux {
            out.push(Segment::Rst);
        }
    }

    /// Whether Linux's persist timer is due to send the last data segment, held because the FIN
    /// riding on it leaves no room in the peer's window (`transmit`'s rule): the
    /// window has room for the data alone and nothing else is in flight (`tcp_check_probe_timer`
    /// arms the timer only then).
    pub fn probe_due(&self) -> bool {
        self.dead.is_none()
            && self.flavour == Flavour::Linux
            && self.fin == Fin::Queued
            && self.written - self.sent == 1
            && self.window_end == self.written
            && self.acked == self.sent
    }

    /// The persist timer's probe (`tcp_write_wakeup`), when [due](Self::probe_due): it splits
    /// the data the window has room for off the segment the FIN rides on and sends it; the FIN,
    /// alone, waits for room.
    pub fn probe(&mut self, out: &mut Wire) {
        if self.probe_due() {
            self.sent += 1;
            out.push(Segment::Data);
        }
    }

    /// Something written is not acknowledged yet (a FIN the window holds back included): what
    /// a retransmission or persist timer waits on.
    pub fn awaiting_ack(&self) -> bool {
        self.acked < self.written || matches!(self.fin, Fin::Queued | Fin::Sent)
    }

    fn ack(&self) -> Segment {
        Segment::Ack {
            received: self.received,
            fin: self.peer_fin,
            window_end: self.read.saturating_add(self.capacity),
        }
    }

    /// Sends what the window allows, then the FIN once the data is out. The FIN takes a
    /// sequence number, and on Linux it rides on the last data segment when it is queued behind
    /// unsent data (`tcp_send_fin` tacks it onto the unsent tail); Linux sends a segment only
    /// when all of its numbers fit the window (`tcp_snd_wnd_test`), but tests a run of more than
    /// one segment on its first only and sends as much of the run as the window reaches
    /// (`tcp_mss_split_point`), FIN and all once the window reaches the data's end. So a FIN
    /// queued alone waits for a place in the window; a last data segment with the FIN on it
    /// waits, data and all, for the persist timer's probe ([`probe`](Self::probe)) or a wider
    /// window; a run of two or more that the window takes whole takes the FIN past the window's
    /// edge. The BSDs' `tcp_output` sends the FIN with the last data whatever room it leaves.
    /// (The application writes its response in one call: unsent data is one run.)
    fn transmit(&mut self, out: &mut Wire) {
        let linux = self.flavour == Flavour::Linux;
        let unsent = self.written - self.sent;
        let room = self.window_end.saturating_sub(self.sent);
        let rides = linux && self.fin == Fin::Queued && unsent > 0;
        if rides && unsent == 1 && room < 2 {
            return;
        }
        while self.sent < self.written && self.sent < self.window_end {
            self.sent += 1;
            out.push(Segment::Data);
        }
        let run_taken_whole = rides && unsent >= 2 && self.sent == self.written;
        let room_for_fin = !linux || self.window_end > self.written || run_taken_whole;
        if self.fin == Fin::Queued && self.sent == self.written && room_for_fin {
            self.fin = Fin::Sent;
            out.push(Segment::Fin);
        }
    }

    /// Our side sends RST (a close over unread data, data after close, an abort).
    fn die(&mut self, why: Dead, out: &mut Wire) {
        self.dead = Some(why);
        self.discarded = self.written - self.sent;
        out.push(Segment::Rst);
    }
}

#[cfg(test)]
mod tests;
