//! The opt-in that raises the soft descriptor limit, and the default capacity that follows
//! the limit in force. Alone in its test binary: it lowers the process's own limit, which
//! would starve any test running beside it.
#![cfg(unix)]

use linger_io::limits::{self, DescriptorLimit};

/// Sets the soft `RLIMIT_NOFILE`, keeping the hard one.
fn set_soft_limit(soft: u64, hard: u64) {
    limits::set_descriptor_limit(DescriptorLimit { soft, hard }).expect("setrlimit");
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

    assert_eq!(
        limits::descriptor_limit(),
        Some(DescriptorLimit {
            soft: lowered,
            hard: before.hard
        }),
        "the limit set is the one in force"
    );
    assert!(
        limits::running_short(lowered - lowered / 16),
        "a sixteenth left"
    );
    assert!(!limits::running_short(lowered - lowered / 16 - 1));
    let beyond = DescriptorLimit {
        soft: before.hard.saturating_add(1),
        hard: before.hard,
    };
    assert!(
        matches!(
            limits::set_descriptor_limit(beyond),
            Err(limits::LimitError::Set { .. })
        ),
        "a soft limit above the hard one is refused"
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
