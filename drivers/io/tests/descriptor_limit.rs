//! The opt-in that raises the soft descriptor limit, and the default capacity that follows
//! the limit in force. Alone in its test binary: it lowers the process's own limit, which
//! would starve any test running beside it.
#![cfg(unix)]

use linger_io::limits::{self, DescriptorLimit};

/// Sets the soft `RLIMIT_NOFILE`, keeping the hard one.
#[allow(unsafe_code)]
fn set_soft_limit(soft: u64, hard: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: reads one live `rlimit`.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

#[test]
fn raising_the_limit_lifts_the_soft_limit_to_the_hard_one_and_the_default_capacity_with_it() {
    let before = limits::descriptor_limit().expect("getrlimit");
    let lowered = before.hard.min(512);
    set_soft_limit(lowered, before.hard);
    assert_eq!(
        limits::default_capacity(),
        limits::capacity_for(Some(lowered))
    );

    let raised = limits::raise_descriptor_limit();
    let now = limits::descriptor_limit().expect("getrlimit");
    set_soft_limit(before.soft, before.hard);

    let raised = raised.expect("the soft limit may always rise to the hard one");
    assert_eq!(
        raised,
        DescriptorLimit {
            soft: before.hard,
            hard: before.hard
        }
    );
    assert_eq!(now, raised, "the limit in force is the one reported");
}
