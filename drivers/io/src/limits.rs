//! The descriptor budget: how many closes a lingerer holds by default, and the opt-in that
//! raises the process's soft `RLIMIT_NOFILE` to its hard limit, as Go does at start.
//!
//! A lingering close keeps its socket's descriptor for up to the policy's budget (30 s by
//! default) where a plain close frees it at once. A lingerer that may hold more closes than
//! the process may open descriptors lets a flood of clients that never finish (slow uploads
//! that never read the answer) take every descriptor: `accept` then fails with `EMFILE` and
//! the server answers no one. So a lingerer's default capacity is derived from the soft
//! limit, when the lingerer is built: [`capacity_for`].
//!
//! ```
//! // What a server calls first in `main`, where an administrator raised the hard limit.
//! match linger_io::limits::raise_descriptor_limit() {
//!     Ok(limit) => println!("descriptors: {} of {}", limit.soft, limit.hard),
//!     Err(error) => eprintln!("{error}"),
//! }
//! println!("closes held by default: {}", linger_io::limits::default_capacity());
//! ```

use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most closes a lingerer holds by default where the process has no descriptor limit to go
/// by: on Windows (a process may hold some 16 million handles; what runs out first is
/// socket memory, `WSAENOBUFS`, on which the lingerers reclaim), or an unlimited soft limit.
/// It bounds the lingerer's memory (about 0.5 KiB of heap per close held, and the socket's
/// kernel buffers) rather than its descriptors.
pub const FALLBACK_CAPACITY: usize = 10_000;

/// The process's descriptor limit, `RLIMIT_NOFILE`: `u64::MAX` stands for no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// The limit in force: `accept` fails with `EMFILE` past it.
    pub soft: u64,
    /// How far the process may raise the soft limit without privilege.
    pub hard: u64,
}

/// Why the descriptor limit could not be read or raised.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The platform has no `RLIMIT_NOFILE` (Windows): nothing to raise.
    #[error("this platform has no descriptor limit (RLIMIT_NOFILE) to raise")]
    Unsupported,
    /// `getrlimit` failed.
    #[error("cannot read the descriptor limit (RLIMIT_NOFILE): {0}")]
    Read(#[source] io::Error),
    /// `setrlimit` refused to set the limit asked for.
    #[error("cannot set the descriptor limit (RLIMIT_NOFILE) to {wanted:?}: {source}")]
    Set {
        /// The limit asked for.
        wanted: DescriptorLimit,
        /// What `setrlimit` answered.
        #[source]
        source: io::Error,
    },
    /// `setrlimit` refused the new soft limit.
    #[error("cannot raise the descriptor limit (RLIMIT_NOFILE) from {soft} to {hard}: {source}")]
    Raise {
        /// The soft limit, unchanged.
        soft: u64,
        /// The hard limit it was to be raised to.
        hard: u64,
        /// What `setrlimit` answered.
        #[source]
        source: io::Error,
    },
}

/// The process's descriptor limit now; `None` where the platform has none (Windows) or
/// `getrlimit` failed.
pub fn descriptor_limit() -> Option<DescriptorLimit> {
    let (soft, hard) = crate::sys::descriptor_limit().ok().flatten()?;
    Some(DescriptorLimit { soft, hard })
}

/// Raises the soft descriptor limit to the hard one, as Go's runtime does at start (since Go
/// 1.19; on macOS at most `kern.maxfilesperproc`, which XNU requires), and returns the limit
/// now in force. For a server's `main`, before it binds: the descriptor budget is then what
/// the administrator allowed (systemd gives a service a soft limit of 1,024 and a hard one
/// of 524,288 unless told otherwise). linger never calls it by itself.
///
/// The lingerers built afterwards size their default capacity from the raised limit.
/// Processes the server starts inherit it; one that still uses `select(2)` (whose sets hold
/// descriptors below 1,024 only) should be given the old limit back (`Command::pre_exec`).
/// On Windows there is no such limit: [`LimitError::Unsupported`].
pub fn raise_descriptor_limit() -> Result<DescriptorLimit, LimitError> {
    let (soft, hard) = crate::sys::descriptor_limit()
        .map_err(LimitError::Read)?
        .ok_or(LimitError::Unsupported)?;
    if soft == hard {
        return Ok(DescriptorLimit { soft, hard });
    }
    match crate::sys::raise_descriptor_limit() {
        Ok(Some(raised)) => Ok(DescriptorLimit { soft: raised, hard }),
        Ok(None) => Err(LimitError::Unsupported),
        Err(source) => Err(LimitError::Raise { soft, hard, source }),
    }
}

/// Sets the process's descriptor limit to `wanted`: lowering either limit is always
/// allowed, raising the hard one takes privilege (`CAP_SYS_RESOURCE`). For tests and
/// benchmarks that run a server out of descriptors on purpose; a server raises its limit with
/// [`raise_descriptor_limit`]. [`LimitError::Unsupported`] on Windows.
pub fn set_descriptor_limit(wanted: DescriptorLimit) -> Result<(), LimitError> {
    match crate::sys::set_descriptor_limit(wanted.soft, wanted.hard) {
        Ok(true) => Ok(()),
        Ok(false) => Err(LimitError::Unsupported),
        Err(source) => Err(LimitError::Set { wanted, source }),
    }
}

/// Whether `in_use` descriptors leave a sixteenth of the soft limit or less free: nginx
/// drains its reusable connections when its free ones fall to a sixteenth. The limit is read
/// at most once a second. Never where there is no limit (Windows) or it is unlimited.
///
/// A server knows a lower bound of the descriptors in use at each accept: on unix the new
/// socket's descriptor number, which the kernel gives as the lowest free one, so that all
/// below it are taken ([`in_use_at_accept`]).
pub fn running_short(in_use: u64) -> bool {
    static LIMIT: Mutex<Option<(Option<u64>, Instant)>> = Mutex::new(None);
    let limit = {
        let mut cached = LIMIT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *cached {
            Some((limit, read)) if read.elapsed() < Duration::from_secs(1) => limit,
            _ => {
                let limit = descriptor_limit().map(|limit| limit.soft);
                *cached = Some((limit, Instant::now()));
                limit
            }
        }
    };
    limit.is_some_and(|limit| limit != u64::MAX && in_use >= limit - limit / 16)
}

/// What a socket just accepted says of the descriptors in use: on unix its descriptor
/// number plus one (the kernel gave it the lowest free one, so every one below is taken);
/// `None` on Windows, whose handles say nothing of the kind.
pub fn in_use_at_accept(socket: &impl crate::AsSocket) -> Option<u64> {
    #[cfg(unix)]
    return {
        use std::os::fd::AsRawFd;
        u64::try_from(socket.as_fd().as_raw_fd())
            .ok()
            .map(|fd| fd + 1)
    };
    #[cfg(not(unix))]
    return {
        let _ = socket;
        None
    };
}

/// The default capacity of a lingerer built now: [`capacity_for`] the soft limit in force.
pub fn default_capacity() -> usize {
    capacity_for(descriptor_limit().map(|limit| limit.soft))
}

/// The default capacity of a lingerer under the soft descriptor limit `soft`: half of it (at
/// least one); [`FALLBACK_CAPACITY`] when there is no limit (`None`, or `u64::MAX`).
///
/// Half, because every descriptor a lingering close holds is one the server cannot give to
/// a live connection, a file or an upstream connection, and those cannot be reclaimed: at
/// most half for the closes of past connections leaves the live ones at least as many, and
/// matches nginx's rule of thumb of twice as many descriptors as connections
/// (`worker_rlimit_nofile`). Past three quarters of the capacity the oldest closes get the
/// short linger, and at the capacity they give way; `accept`'s `EMFILE` reclaims the rest
/// (docs/design.md, "Pressure", has the measurements behind the share).
pub fn capacity_for(soft: Option<u64>) -> usize {
    match soft {
        Some(soft) if soft != u64::MAX => usize::try_from(soft / 2).unwrap_or(usize::MAX).max(1),
        _ => FALLBACK_CAPACITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_capacity_is_half_the_soft_limit() {
        assert_eq!(capacity_for(Some(1_024)), 512);
        assert_eq!(capacity_for(Some(65_536)), 32_768);
        assert_eq!(capacity_for(Some(1)), 1, "at least one");
    }

    #[test]
    fn without_a_limit_the_fallback_bounds_the_closes() {
        assert_eq!(capacity_for(None), FALLBACK_CAPACITY);
        assert_eq!(capacity_for(Some(u64::MAX)), FALLBACK_CAPACITY);
    }

    #[cfg(unix)]
    #[test]
    fn descriptors_run_short_when_a_sixteenth_of_the_limit_is_left() {
        let soft = descriptor_limit().expect("getrlimit").soft;
        let short = soft - soft / 16;
        assert!(!running_short(short - 1));
        assert!(running_short(short));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let in_use = in_use_at_accept(&listener).expect("a descriptor number");
        assert!(
            in_use >= 4,
            "stdin, stdout, stderr and the listener: {in_use}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_limit_in_force_is_read_and_sizes_the_default() {
        let limit = descriptor_limit().expect("getrlimit");
        assert!(limit.soft <= limit.hard, "{limit:?}");
        assert_eq!(default_capacity(), capacity_for(Some(limit.soft)));
    }
}
