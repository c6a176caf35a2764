//! Our side: a real TCP socket in the namespace, on which the replay makes the calls the
//! model's application made, and from which it reads what the model's kernel shows of itself
//! ([`View`]) without changing it.

use super::peer::SEGMENT;
use super::tun::PEER;
use crate::kernel::{Read, SoError};
use linger_io::acks::TcpState;
use socket2::{Domain, Socket, Type};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Linux's TCP states (`include/net/tcp_states.h`), as `TCP_INFO` reports them.
mod linux_state {
    pub(super) const ESTABLISHED: u8 = 1;
    pub(super) const FIN_WAIT1: u8 = 4;
    pub(super) const FIN_WAIT2: u8 = 5;
    pub(super) const TIME_WAIT: u8 = 6;
    pub(super) const CLOSE: u8 = 7;
    pub(super) const CLOSE_WAIT: u8 = 8;
    pub(super) const LAST_ACK: u8 = 9;
    pub(super) const CLOSING: u8 = 11;
}

/// What a socket shows of its kernel without changing it, in model units where the model
/// has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// `SIOCOUTQ`: bytes and FIN not acknowledged.
    pub unacked: u32,
    /// `SIOCOUTQNSD`: bytes and FIN not sent.
    pub unsent: u32,
    /// `SIOCINQ`: bytes received and not read.
    pub unread: u32,
    /// `TCP_INFO`'s state, Linux's number.
    pub state: u8,
    /// `poll` reports it readable (`POLLIN`, `POLLHUP`, `POLLERR` or `POLLRDHUP`).
    pub readable: bool,
    /// `poll` reports `POLLERR`: an error is pending.
    pub error_pending: bool,
}

/// The Linux state number a socket held by our application shows for the model's state. A
/// connection in TIME_WAIT lives on in a time-wait socket the descriptor does not see: the
/// socket itself is CLOSE (`tcp_time_wait` ends in `tcp_done`).
pub fn linux_state(state: TcpState) -> u8 {
    use linux_state::*;
    match state {
        TcpState::Established => ESTABLISHED,
        TcpState::FinWait1 => FIN_WAIT1,
        TcpState::FinWait2 => FIN_WAIT2,
        TcpState::CloseWait => CLOSE_WAIT,
        TcpState::Closing => CLOSING,
        TcpState::LastAck => LAST_ACK,
        TcpState::TimeWait | TcpState::Closed => CLOSE,
        TcpState::Listen | TcpState::SynSent | TcpState::SynReceived => 0,
    }
}

/// The model state for a Linux state number, where there is one.
pub fn model_state(state: u8) -> Option<TcpState> {
    use linux_state::*;
    Some(match state {
        ESTABLISHED => TcpState::Established,
        FIN_WAIT1 => TcpState::FinWait1,
        FIN_WAIT2 => TcpState::FinWait2,
        CLOSE_WAIT => TcpState::CloseWait,
        CLOSING => TcpState::Closing,
        LAST_ACK => TcpState::LastAck,
        TIME_WAIT => TcpState::TimeWait,
        CLOSE => TcpState::Closed,
        _ => return None,
    })
}

/// Our application's socket.
#[derive(Debug)]
pub struct Ours {
    socket: Option<Socket>,
    /// A close blocking in `SO_LINGER` on its own thread, which tells when it returned.
    lingering: Option<JoinHandle<Instant>>,
    /// When the lingering close returned, once it has been joined.
    returned_at: Option<Instant>,
}

impl Ours {
    /// Starts connecting to the peer's `port`, without blocking: the SYN goes out to the
    /// TUN device, where the scripted peer answers it.
    pub fn connect(port: u16) -> io::Result<Ours> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        match socket.connect(&SocketAddr::from((PEER, port)).into()) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) => return Err(error),
        }
        Ok(Ours {
            socket: Some(socket),
            lingering: None,
            returned_at: None,
        })
    }

    /// Whether the connection is established (the handshake's last ACK sent).
    pub fn established(&self) -> bool {
        self.view()
            .is_ok_and(|view| view.state == linux_state::ESTABLISHED)
    }

    /// The socket, while our application holds it.
    fn socket(&self) -> io::Result<&Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }

    /// Whether our application still holds the socket.
    pub fn open(&self) -> bool {
        self.socket.is_some()
    }

    /// `write` of `segments` segments: whether the kernel took all of them.
    pub fn write(&self, segments: u8) -> io::Result<bool> {
        let bytes = vec![b'o'; (u32::from(segments) * SEGMENT) as usize];
        let written = io::Write::write(&mut self.socket()?, &bytes)?;
        Ok(written == bytes.len())
    }

    /// `read` of one segment, as the model names the answer, with the errno's name for an
    /// error; an answer the model has no name for (a short read, another error) as it is.
    pub fn read(&self) -> Result<(Read, Option<&'static str>), String> {
        let mut buf = [0u8; SEGMENT as usize];
        match io::Read::read(&mut self.socket().map_err(|e| e.to_string())?, &mut buf) {
            Ok(0) => Ok((Read::Eof, None)),
            Ok(bytes) if bytes == buf.len() => Ok((Read::Data, None)),
            Ok(bytes) => Err(format!("a read of {bytes} bytes, not {SEGMENT}")),
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok((Read::WouldBlock, None)),
            Err(error) => so_error(&error)
                .map(|(kind, name)| (Read::Error(kind), Some(name)))
                .ok_or_else(|| error.to_string()),
        }
    }

    /// `shutdown(SHUT_WR)`.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.socket()?.shutdown(std::net::Shutdown::Write)
    }

    /// `setsockopt(TCP_CORK)`.
    pub fn set_cork(&self, on: bool) -> io::Result<()> {
        self.socket()?.set_tcp_cork(on)
    }

    /// `getsockopt(SO_ERROR)`, taking it, with the errno's name; an error the model has no
    /// name for as it is.
    pub fn take_error(&self) -> Result<Option<(SoError, &'static str)>, String> {
        match self.socket().and_then(Socket::take_error) {
            Ok(None) => Ok(None),
            Ok(Some(error)) => so_error(&error).map(Some).ok_or_else(|| error.to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// `close`.
    pub fn close(&mut self) {
        self.socket = None;
    }

    /// `SO_LINGER {1, 0}` + `close`.
    pub fn abort(&mut self) -> io::Result<()> {
        self.socket()?.set_linger(Some(Duration::ZERO))?;
        self.close();
        Ok(())
    }

    /// `SO_LINGER {1, seconds}` + `close` on a blocking socket, on a thread of its own: it
    /// returns once everything is acknowledged, the connection is over, or the time is up.
    /// Returns once the close has begun: the thread has returned or sleeps in it.
    pub fn lingering_close(&mut self, seconds: u64) -> io::Result<()> {
        let socket = self
            .socket
            .take()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        socket.set_linger(Some(Duration::from_secs(seconds)))?;
        socket.set_nonblocking(false)?;
        let (tell, told) = std::sync::mpsc::channel();
        let closing = std::thread::spawn(move || {
            let _ = tell.send(thread_id());
            drop(socket);
            Instant::now()
        });
        let thread = told.recv().map_err(io::Error::other)?;
        let deadline = Instant::now() + Duration::from_secs(1);
        while !closing.is_finished() && !sleeping(thread) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        self.lingering = Some(closing);
        Ok(())
    }

    /// Waits at most `wait` for a lingering close to return.
    pub fn join_lingering(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while self.lingering_returned() == Some(false) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.lingering_returned_at();
    }

    /// Whether a lingering close has returned (`None`: there is none).
    pub fn lingering_returned(&self) -> Option<bool> {
        match (&self.lingering, self.returned_at) {
            (_, Some(_)) => Some(true),
            (Some(thread), None) => Some(thread.is_finished()),
            (None, None) => None,
        }
    }

    /// When a lingering close returned, if it has.
    pub fn lingering_returned_at(&mut self) -> Option<Instant> {
        if self.lingering.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(thread) = self.lingering.take()
        {
            self.returned_at = thread.join().ok();
        }
        self.returned_at
    }

    /// `TCP_USER_TIMEOUT`: our kernel gives up on data unacknowledged this long.
    pub fn set_user_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket()?.set_tcp_user_timeout(Some(timeout))
    }

    /// What `poll` for `POLLIN | POLLRDHUP` reports, by name as packetdrill writes it (`0`:
    /// nothing).
    pub fn poll_events(&self) -> io::Result<String> {
        let revents = revents(self.socket()?);
        let names: Vec<&str> = [
            (libc::POLLIN, "POLLIN"),
            (libc::POLLERR, "POLLERR"),
            (libc::POLLHUP, "POLLHUP"),
            (libc::POLLRDHUP, "POLLRDHUP"),
        ]
        .into_iter()
        .filter(|(flag, _)| revents & flag != 0)
        .map(|(_, name)| name)
        .collect();
        Ok(if names.is_empty() {
            "0".into()
        } else {
            names.join("|")
        })
    }

    /// What the socket shows of its kernel, without changing it.
    pub fn view(&self) -> io::Result<View> {
        let socket = self.socket()?;
        let figure = |value: io::Result<Option<u32>>| value.map(Option::unwrap_or_default);
        let (readable, error_pending) = poll(socket);
        Ok(View {
            unacked: figure(linger_io::sys::unacked(socket))?,
            unsent: figure(linger_io::sys::unsent(socket))?,
            unread: siocinq(socket)?,
            state: tcp_state(socket)?,
            readable,
            error_pending,
        })
    }
}

/// The calling thread's id.
#[allow(unsafe_code)]
fn thread_id() -> libc::pid_t {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// Whether thread `id` of this process sleeps (state `S` in `/proc/self/task/ID/stat`): the
/// lingering close waits in the kernel.
fn sleeping(id: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{id}/stat")).is_ok_and(|stat| {
        // "pid (comm) S ...": the state follows the command's closing parenthesis.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
    })
}

/// The model's name for a socket error, and the errno's: `ECONNRESET`, and Linux's `EPIPE`
/// for a reset in CLOSE_WAIT, are a reset; `ETIMEDOUT` a timeout.
fn so_error(error: &io::Error) -> Option<(SoError, &'static str)> {
    match error.raw_os_error()? {
        libc::ECONNRESET => Some((SoError::Reset, "ECONNRESET")),
        libc::EPIPE => Some((SoError::Reset, "EPIPE")),
        libc::ETIMEDOUT => Some((SoError::TimedOut, "ETIMEDOUT")),
        _ => None,
    }
}

/// `poll` with no wait: (readable, error pending).
fn poll(socket: &Socket) -> (bool, bool) {
    let revents = revents(socket);
    (revents != 0, revents & libc::POLLERR != 0)
}

/// What `poll` for `POLLIN | POLLRDHUP` reports, with no wait.
#[allow(unsafe_code)]
fn revents(socket: &Socket) -> libc::c_short {
    let mut pollfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one live, writable pollfd, count 1, no wait.
    let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
    if ready > 0 { pollfd.revents } else { 0 }
}

/// `ioctl(SIOCINQ)`: bytes received and not read.
#[allow(unsafe_code)]
fn siocinq(socket: &Socket) -> io::Result<u32> {
    let mut value: libc::c_int = 0;
    // SAFETY: SIOCINQ (FIONREAD) writes one int through the pointer, which points to a live
    // `c_int`.
    let result = unsafe {
        libc::ioctl(
            socket.as_raw_fd(),
            libc::FIONREAD,
            &mut value as *mut libc::c_int,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.max(0) as u32)
}

/// `TCP_INFO`'s `tcpi_state`.
#[allow(unsafe_code)]
fn tcp_state(socket: &Socket) -> io::Result<u8> {
    // SAFETY: an all-zero `tcp_info` is a valid value of the plain-old-data struct.
    let mut info: libc::tcp_info = unsafe { core::mem::zeroed() };
    let mut length = core::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is live and writable for `length` bytes, which is all the kernel writes;
    // `length` is live and writable.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut length,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(info.tcpi_state)
}
