//! The scripted TCP peer: plays the model's peer kernel on the wire, writing the segments the
//! model's peer sends as raw IPv4/TCP into the TUN device, and reads back what our kernel
//! sends, abstracted to what the model can compare ([`Sent`]).
//!
//! Sequence numbers are relative, as packetdrill writes them: byte 1 is the first data byte
//! after the SYN, on each side. One model segment is [`SEGMENT`] bytes, and the peer's SYN
//! announces that as its MSS, so our kernel sends one model segment per TCP segment. No
//! window scaling, SACK or timestamps are offered, so windows are exact byte counts.

use super::tun::{OURS, PEER, Tun};
use crate::kernel::Segment;
use etherparse::{PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};
use std::io;
use std::time::{Duration, Instant};

/// Bytes in one model segment, and the MSS the peer announces.
pub const SEGMENT: u32 = 100;

/// The peer's initial sequence number: arbitrary, fixed so scripts read the same every run.
const PEER_ISN: u32 = 1_000_000;

/// What our kernel has sent so far, cumulatively, relative to its SYN: what the model's
/// kernel has put on the wire to the peer, whether or not the peer has taken it in yet.
/// Retransmissions and zero-window probes repeat what was sent and change nothing here;
/// ACKs are cumulative and only their highest counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Data bytes sent (the highest sequence number of data, relative).
    pub data: u32,
    /// Our FIN was sent.
    pub fin: bool,
    /// Our kernel sent a RST.
    pub rst: bool,
    /// The highest acknowledgement of the peer's bytes (its FIN counting one).
    pub ack: u32,
    /// The highest right edge of the window our kernel offered the peer, relative.
    pub window_end: u32,
}

/// One segment on the wire, as a packetdrill line shows it (relative numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// When, since the connection began.
    pub at: Duration,
    /// From the peer (`<`) or from our kernel (`>`).
    pub inbound: bool,
    /// `S`, `S.`, `.`, `P.`, `F.`, `R.`...
    pub flags: String,
    /// First relative sequence number.
    pub seq: u32,
    /// Payload bytes.
    pub len: u32,
    /// Relative acknowledgement, if the ACK flag is set.
    pub ack: Option<u32>,
    /// The window.
    pub window: u16,
    /// The MSS option, on a SYN.
    pub mss: Option<u16>,
}

/// The scripted peer of one connection, and what it has seen of our kernel.
#[derive(Debug)]
pub struct Peer {
    /// Our socket's port.
    our_port: u16,
    /// The peer's port.
    port: u16,
    /// Our kernel's initial sequence number, learnt from its SYN.
    our_isn: u32,
    /// Data segments the peer has sent.
    data_sent: u32,
    /// The peer's FIN has been sent.
    fin_sent: bool,
    /// The acknowledgement the peer last sent (relative) and its window: every later data,
    /// FIN or RST segment carries the same, so it tells our kernel nothing the model's peer
    /// has not told it in an ACK.
    ack: u32,
    window: u16,
    /// What our kernel has sent.
    sent: Sent,
    /// Every segment either way, for the packetdrill script.
    lines: Vec<Line>,
    /// When our kernel's SYN was asked for: the script's time 0.
    started: Instant,
}

impl Peer {
    /// Waits (at most `wait`) for our kernel's SYN from `our_port` to `port`, then answers it
    /// with a SYN-ACK announcing an MSS of [`SEGMENT`] and a window of `window` segments.
    /// `started` is when our socket began to connect.
    pub fn accept(
        tun: &mut Tun,
        port: u16,
        window: u8,
        started: Instant,
        wait: Duration,
    ) -> io::Result<Peer> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(packet) = tun.recv(left)? else {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no SYN from our kernel",
                ));
            };
            let Some(tcp) = Tcp::parse(&packet) else {
                continue;
            };
            if tcp.dst_port != port || !tcp.syn || tcp.ack_flag {
                continue;
            }
            let mut peer = Peer {
                our_port: tcp.src_port,
                port,
                our_isn: tcp.seq,
                data_sent: 0,
                fin_sent: false,
                ack: 1,
                window: segments_to_window(u32::from(window)),
                sent: Sent::default(),
                lines: Vec::new(),
                started,
            };
            peer.lines.push(Line {
                at: started.elapsed(),
                inbound: false,
                flags: "S".into(),
                seq: 0,
                len: 0,
                ack: None,
                window: tcp.window,
                mss: tcp.mss,
            });
            peer.transmit(tun, Flags::SYN_ACK, 0, 0, Some(SEGMENT as u16))?;
            return Ok(peer);
        }
    }

    /// Writes `segment`, as the model's peer kernel sent it, to our kernel.
    pub fn send(&mut self, tun: &mut Tun, segment: Segment) -> io::Result<()> {
        let next = 1 + self.data_sent * SEGMENT;
        match segment {
            Segment::Data => {
                self.data_sent += 1;
                self.transmit(tun, Flags::PSH_ACK, next, SEGMENT, None)
            }
            Segment::Fin => {
                self.fin_sent = true;
                self.transmit(tun, Flags::FIN_ACK, next, 0, None)
            }
            Segment::Rst => {
                let seq = next + u32::from(self.fin_sent);
                self.transmit(tun, Flags::RST_ACK, seq, 0, None)
            }
            Segment::Ack {
                received,
                fin,
                window_end,
            } => {
                self.ack = 1 + u32::from(received) * SEGMENT + u32::from(fin);
                let edge = 1 + u32::from(window_end) * SEGMENT;
                self.window = window_bytes(edge.saturating_sub(self.ack));
                let seq = next + u32::from(self.fin_sent);
                self.transmit(tun, Flags::ACK, seq, 0, None)
            }
        }
    }

    /// Ends the connection for good, whatever our kernel still holds of it: a RST at the
    /// sequence number our kernel expects (what a peer that goes away sends).
    pub fn reset(&mut self, tun: &mut Tun) -> io::Result<()> {
        let seq = 1 + self.data_sent * SEGMENT + u32::from(self.fin_sent);
        self.transmit(tun, Flags::RST_ACK, seq, 0, None)
    }

    /// Reads what our kernel has sent, waiting at most `wait` for the first segment and then
    /// taking whatever else is already there; what it sent so far.
    pub fn take_in(&mut self, tun: &mut Tun, wait: Duration) -> io::Result<Sent> {
        let mut wait = wait;
        while let Some(packet) = tun.recv(wait)? {
            wait = Duration::ZERO;
            if let Some(tcp) = Tcp::parse(&packet) {
                self.record(&tcp);
            }
        }
        Ok(self.sent)
    }

    /// What our kernel sent so far.
    pub fn sent(&self) -> Sent {
        self.sent
    }

    /// Every segment of the connection either way, in order.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    fn record(&mut self, tcp: &Tcp<'_>) {
        if tcp.src_port != self.our_port || tcp.dst_port != self.port || tcp.syn {
            return;
        }
        let seq = tcp.seq.wrapping_sub(self.our_isn);
        let len = tcp.payload.len() as u32;
        let sent = &mut self.sent;
        if len > 0 {
            sent.data = sent.data.max(seq + len - 1);
        }
        sent.fin |= tcp.fin;
        sent.rst |= tcp.rst;
        if let Some(ack) = tcp.ack {
            let ack = ack.wrapping_sub(PEER_ISN).saturating_sub(1);
            sent.ack = sent.ack.max(ack);
            sent.window_end = sent.window_end.max(ack + u32::from(tcp.window));
        }
        self.lines.push(Line {
            at: self.started.elapsed(),
            inbound: false,
            flags: tcp.flags(),
            seq,
            len,
            ack: tcp.ack.map(|ack| ack.wrapping_sub(PEER_ISN)),
            window: tcp.window,
            mss: None,
        });
    }

    fn transmit(
        &mut self,
        tun: &mut Tun,
        flags: Flags,
        seq: u32,
        len: u32,
        mss: Option<u16>,
    ) -> io::Result<()> {
        let ack = flags.ack.then_some(self.our_isn.wrapping_add(self.ack));
        let packet = build(
            self.port,
            self.our_port,
            PEER_ISN.wrapping_add(seq),
            ack,
            self.window,
            flags,
            mss,
            len,
        )?;
        self.lines.push(Line {
            at: self.started.elapsed(),
            inbound: true,
            flags: flags.text().into(),
            seq,
            len,
            ack: flags.ack.then_some(self.ack),
            window: self.window,
            mss,
        });
        tun.send(&packet)
    }
}

/// A window of `segments` segments, in bytes.
fn segments_to_window(segments: u32) -> u16 {
    window_bytes(segments * SEGMENT)
}

fn window_bytes(bytes: u32) -> u16 {
    u16::try_from(bytes).unwrap_or(u16::MAX)
}

/// The flags the peer sends.
#[derive(Clone, Copy, Debug)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

impl Flags {
    const SYN_ACK: Flags = Flags::with(true, false, false, false);
    const ACK: Flags = Flags::with(false, false, false, false);
    const PSH_ACK: Flags = Flags::with(false, true, false, false);
    const FIN_ACK: Flags = Flags::with(false, false, true, false);
    const RST_ACK: Flags = Flags::with(false, false, false, true);

    const fn with(syn: bool, psh: bool, fin: bool, rst: bool) -> Flags {
        Flags {
            syn,
            ack: true,
            psh,
            fin,
            rst,
        }
    }

    /// packetdrill's spelling.
    fn text(self) -> &'static str {
        match (self.syn, self.psh, self.fin, self.rst) {
            (true, ..) => "S.",
            (_, true, ..) => "P.",
            (_, _, true, _) => "F.",
            (.., true) => "R.",
            _ => ".",
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: Option<u32>,
    window: u16,
    flags: Flags,
    mss: Option<u16>,
    len: u32,
) -> io::Result<Vec<u8>> {
    let mut builder =
        PacketBuilder::ipv4(PEER.octets(), OURS.octets(), 64).tcp(src_port, dst_port, seq, window);
    if let Some(ack) = ack {
        builder = builder.ack(ack);
    }
    if flags.syn {
        builder = builder.syn();
    }
    if flags.psh {
        builder = builder.psh();
    }
    if flags.fin {
        builder = builder.fin();
    }
    if flags.rst {
        builder = builder.rst();
    }
    if let Some(mss) = mss {
        builder = builder
            .options(&[TcpOptionElement::MaximumSegmentSize(mss)])
            .map_err(io::Error::other)?;
    }
    let payload = vec![b'p'; len as usize];
    let mut packet = Vec::with_capacity(builder.size(payload.len()));
    builder
        .write(&mut packet, &payload)
        .map_err(io::Error::other)?;
    Ok(packet)
}

/// The parts of a TCP segment from our kernel the peer looks at.
struct Tcp<'a> {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: Option<u32>,
    ack_flag: bool,
    window: u16,
    syn: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    mss: Option<u16>,
    payload: &'a [u8],
}

impl<'a> Tcp<'a> {
    /// The TCP segment in an IPv4 packet from [`OURS`] to [`PEER`]; `None` for anything else
    /// (IPv6, ICMP, another address).
    fn parse(packet: &'a [u8]) -> Option<Tcp<'a>> {
        let sliced = SlicedPacket::from_ip(packet).ok()?;
        let Some(etherparse::NetSlice::Ipv4(ip)) = &sliced.net else {
            return None;
        };
        let header = ip.header();
        if header.source_addr() != OURS || header.destination_addr() != PEER {
            return None;
        }
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            return None;
        };
        let mss = tcp.options_iterator().find_map(|option| match option {
            Ok(TcpOptionElement::MaximumSegmentSize(mss)) => Some(mss),
            _ => None,
        });
        Some(Tcp {
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.ack().then(|| tcp.acknowledgment_number()),
            ack_flag: tcp.ack(),
            window: tcp.window_size(),
            syn: tcp.syn(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
            mss,
            payload: tcp.payload(),
        })
    }

    /// packetdrill's spelling of the flags.
    fn flags(&self) -> String {
        let mut flags = String::new();
        for (set, letter) in [
            (self.syn, 'S'),
            (self.psh, 'P'),
            (self.fin, 'F'),
            (self.rst, 'R'),
        ] {
            if set {
                flags.push(letter);
            }
        }
        if self.ack_flag {
            flags.push('.');
        }
        if flags.is_empty() { ".".into() } else { flags }
    }
}
