//! One endpoint's kernel TCP, at the level that matters for closing: what was written, sent,
//! acknowledged; the FIN; the receive queue; and Linux's rules for close and reset.
//!
//! Data is counted in segments (one byte each in the model). The network between the two
//! kernels is a FIFO per direction: in order, never lost, arbitrarily delayed.

use std::collections::VecDeque;

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
    /// It received RST.
    ResetByPeer,
}

/// What a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    /// One segment.
    Data,
    /// Nothing yet (`EWOULDBLOCK`).
    WouldBlock,
    /// The peer's FIN: 0.
    Eof,
    /// `ECONNRESET`, once the received data is read.
    Reset,
}

/// One endpoint's socket in the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
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
    /// Dead, and why; a dead kernel sends and accepts nothing more.
    pub dead: Option<Dead>,
    /// Written data this kernel will never send: dropped when it died.
    pub discarded: u8,
    /// Data segments that arrived after it died and were dropped.
    pub dropped: u8,
}

impl Kernel {
    /// A connected socket with a receive buffer of `capacity` segments, facing a peer whose
    /// buffer holds `peer_capacity`.
    pub fn new(capacity: u8, peer_capacity: u8) -> Kernel {
        Kernel {
            written: 0,
            sent: 0,
            acked: 0,
            window_end: peer_capacity,
            fin: Fin::None,
            received: 0,
            read: 0,
            capacity,
            peer_fin: false,
            fd_open: true,
            dead: None,
            discarded: 0,
            dropped: 0,
        }
    }

    /// Received data the application has not read.
    pub fn unread(&self) -> u8 {
        self.received - self.read
    }

    /// `SIOCOUTQ`: data written and not acknowledged, plus one for a FIN not acknowledged.
    pub fn siocoutq(&self) -> u32 {
        let fin = u32::from(matches!(self.fin, Fin::Queued | Fin::Sent));
        u32::from(self.written - self.acked) + fin
    }

    /// Whether a read would return something other than `EWOULDBLOCK`.
    pub fn readable(&self) -> bool {
        self.unread() > 0 || self.peer_fin || self.dead == Some(Dead::ResetByPeer)
    }

    /// The application writes `segments`.
    pub fn write(&mut self, segments: u8, out: &mut Wire) {
        self.written += segments;
        self.transmit(out);
    }

    /// The application reads one segment, or learns why not. Reading opens the window.
    pub fn app_read(&mut self, out: &mut Wire) -> Read {
        if self.unread() > 0 {
            self.read += 1;
            if self.dead.is_none() {
                out.push(self.ack());
            }
            Read::Data
        } else if self.peer_fin {
            Read::Eof
        } else if self.dead == Some(Dead::ResetByPeer) {
            Read::Reset
        } else {
            Read::WouldBlock
        }
    }

    /// `shutdown(SHUT_WR)`: the FIN follows the data.
    pub fn shutdown_write(&mut self, out: &mut Wire) {
        if self.fin == Fin::None && self.dead.is_none() {
            self.fin = Fin::Queued;
            self.transmit(out);
        }
    }

    /// `close()`: with unread data, Linux resets at once; otherwise the FIN follows the data
    /// and the kernel keeps sending on its own (an orphan socket).
    pub fn close(&mut self, out: &mut Wire) {
        self.fd_open = false;
        if self.dead.is_some() {
            return;
        }
        if self.unread() > 0 {
            self.die(Dead::ClosedOnUnread, out);
        } else {
            self.shutdown_write(out);
        }
    }

    /// `SO_LINGER {1, 0}` + `close()`: reset now.
    pub fn abort(&mut self, out: &mut Wire) {
        self.fd_open = false;
        if self.dead.is_none() {
            self.die(Dead::Aborted, out);
        }
    }

    /// A segment arrives from the other kernel.
    pub fn receive(&mut self, segment: Segment, out: &mut Wire) {
        if self.dead.is_some() {
            if segment == Segment::Data {
                self.dropped += 1;
            }
            return;
        }
        match segment {
            Segment::Data if !self.fd_open => {
                // Linux: data for a socket the application closed is answered with RST.
                self.dropped += 1;
                self.die(Dead::DataAfterClose, out);
            }
            Segment::Data => {
                self.received += 1;
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
            Segment::Rst => {
                self.dead = Some(Dead::ResetByPeer);
                self.discarded = self.written - self.sent;
            }
        }
    }

    fn ack(&self) -> Segment {
        Segment::Ack {
            received: self.received,
            fin: self.peer_fin,
            window_end: self.read + self.capacity,
        }
    }

    /// Sends what the window allows, then the FIN once the data is out.
    fn transmit(&mut self, out: &mut Wire) {
        while self.sent < self.written && self.sent < self.window_end {
            self.sent += 1;
            out.push(Segment::Data);
        }
        if self.fin == Fin::Queued && self.sent == self.written {
            self.fin = Fin::Sent;
            out.push(Segment::Fin);
        }
    }

    fn die(&mut self, why: Dead, out: &mut Wire) {
        self.dead = Some(why);
        self.discarded = self.written - self.sent;
        out.push(Segment::Rst);
    }
}
