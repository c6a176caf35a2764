//! Apache httpd's lingering close, `ap_lingering_close` (`server/connection.c`, httpd 2.4), as
//! a [`linger_model`] strategy.
//!
//! What Apache does once a response is written and the connection is to close:
//!
//! 1. `apr_socket_shutdown(csd, APR_SHUTDOWN_WRITE)`: its FIN; on failure, close at once;
//! 2. blocking reads of 512 bytes, each with a timeout of 2 s (`SECONDS_TO_LINGER`), the data
//!    thrown away; a read that fails (the timeout, an error) or returns 0 (the peer's EOF)
//!    ends it;
//! 3. from the first read that returns data, a cap of 30 s (`MAX_SECS_TO_LINGER`): after each
//!    later read of data, past the cap it stops;
//! 4. `apr_socket_close(csd)`.
//!
//! It never looks at the send queue: whether the peer has our data when the socket closes is
//! not something it asks. In the model a read is one segment, and time is scaled as
//! `linger_model::policy` scales linger's: milliseconds where Apache has seconds.

use linger_model::{CloseModel, Describe, Io, Read, Strategy, World};

/// `ap_lingering_close`, its two timeouts in model microseconds.
#[derive(Clone, Copy, Debug)]
pub struct ApacheClose {
    /// A read's timeout (`SECONDS_TO_LINGER`, 2 s).
    pub read_timeout: u64,
    /// How long it reads once data came (`MAX_SECS_TO_LINGER`, 30 s).
    pub cap: u64,
}

impl Default for ApacheClose {
    /// Apache's 2 s and 30 s, as 2 and 30 model milliseconds.
    fn default() -> ApacheClose {
        ApacheClose {
            read_timeout: 2_000,
            cap: 30_000,
        }
    }
}

/// Where Apache's close is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lingering {
    /// The response written, not closing yet.
    Open,
    /// Blocked in a read that times out at `read_until`; `cap` is set by the first read that
    /// returned data.
    Reading {
        /// When the read under way times out.
        read_until: u64,
        /// The end of the 30 s, once data came.
        cap: Option<u64>,
    },
    /// `apr_socket_close` done.
    Closed,
}

impl Describe for Lingering {
    fn describe(&self) -> String {
        match *self {
            Lingering::Open => "apache: response written".into(),
            Lingering::Reading {
                read_until,
                cap: None,
            } => format!("apache: reading, the read times out at {read_until}us"),
            Lingering::Reading {
                read_until,
                cap: Some(cap),
            } => format!("apache: reading until {read_until}us, stops after {cap}us"),
            Lingering::Closed => "apache: closed, believes the response delivered".into(),
        }
    }
}

impl ApacheClose {
    /// The read loop: reads while the socket has something, as the blocking `apr_socket_recv`
    /// returns it; closes at the EOF, an error, or past the cap; otherwise blocks in a new
    /// read of its own timeout.
    fn read_on(&self, lingering: &mut Lingering, io: &mut Io<'_>) {
        let Lingering::Reading { read_until, cap } = lingering else {
            return;
        };
        loop {
            match io.read() {
                Read::Data => {
                    let now = io.now();
                    match *cap {
                        None => *cap = Some(now.saturating_add(self.cap)),
                        Some(end) if now >= end => break,
                        Some(_) => {}
                    }
                    *read_until = now.saturating_add(self.read_timeout);
                }
                Read::WouldBlock => return,
                Read::Eof | Read::Error(_) => break,
            }
        }
        io.close();
        *lingering = Lingering::Closed;
    }
}

impl Strategy for ApacheClose {
    type App = Lingering;

    fn name(&self) -> String {
        "apache".into()
    }

    fn start(&self, response: u8, io: &mut Io<'_>) -> Lingering {
        io.write(response);
        Lingering::Open
    }

    fn close(&self, lingering: &mut Lingering, io: &mut Io<'_>) {
        if io.shutdown_write().is_err() {
            io.close();
            *lingering = Lingering::Closed;
            return;
        }
        *lingering = Lingering::Reading {
            read_until: io.now().saturating_add(self.read_timeout),
            cap: None,
        };
        self.read_on(lingering, io);
    }

    /// A blocked read returns when the socket has something (data, the EOF, an error); an ACK
    /// alone does not wake it.
    fn on_delivered(&self, lingering: &mut Lingering, io: &mut Io<'_>) {
        if matches!(lingering, Lingering::Reading { .. }) && io.readable() {
            self.read_on(lingering, io);
        }
    }

    fn deadline(&self, lingering: &Lingering) -> Option<u64> {
        match *lingering {
            Lingering::Reading { read_until, .. } => Some(read_until),
            Lingering::Open | Lingering::Closed => None,
        }
    }

    /// The read timed out: out of the loop, close.
    fn on_time(&self, lingering: &mut Lingering, io: &mut Io<'_>) {
        if matches!(lingering, Lingering::Reading { .. }) {
            io.close();
            *lingering = Lingering::Closed;
        }
    }

    fn released(&self, lingering: &Lingering) -> bool {
        *lingering == Lingering::Closed
    }

    /// Once closed, Apache has done all it does for the response: its log says it was sent.
    fn claims_delivery(&self, lingering: &Lingering) -> bool {
        *lingering == Lingering::Closed
    }

    /// The first read's timeout, the cap, and a last read begun just before the cap.
    fn time_bound(&self) -> u64 {
        self.read_timeout.saturating_mul(2).saturating_add(self.cap)
    }
}

/// The name of our property, as reports print it.
pub const LET_GO: &str = "held no longer than a read timeout past the last read";

/// Our property of Apache's close: it holds the socket no longer than one read's timeout past
/// the last segment it read (or its decision to close), so a peer that falls silent costs at
/// most that.
pub fn let_go_within_a_read_timeout(
    model: &CloseModel<ApacheClose>,
    world: &World<Lingering>,
) -> bool {
    let Some(asked) = world.facts.close_asked_at else {
        return true;
    };
    let last_read = world.facts.last_progress.unwrap_or(asked).max(asked);
    world.released() || world.now <= last_read.saturating_add(model.strategy.read_timeout)
}

/// The walk-through of this crate, `docs/your-close.md` in linger's repository: each of its
/// examples compiled, and run, as a doctest of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/your-close.md")]
struct Walkthrough;
