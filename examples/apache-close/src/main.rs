//! Checks Apache's lingering close with linger-model: on each kernel, every property P1-P5
//! and one of our own, printing what holds and the shortest counterexample of what does not;
//! again against a gentler adversary (a peer that never resets, a path that never fails);
//! then its traces replayed on this machine's kernel
//! (Linux, as root; said and skipped elsewhere). Exits 1 if the replay finds the model's kernel
//! doing what the real one does not, 0 otherwise: that Apache breaks P1-P5 is the finding,
//! not an error.

use apache_close::{ApacheClose, LET_GO, let_go_within_a_read_timeout};
use linger_model::{Check, Flavour, Peer};
use std::process::ExitCode;

fn main() -> ExitCode {
    let apache = ApacheClose::default();
    for kernel in Flavour::ALL {
        let report = Check::new(apache)
            .kernel(kernel)
            .always(LET_GO, let_go_within_a_read_timeout)
            .run();
        println!("== Apache's lingering close, our kernel {kernel}\n{report}");
    }
    let gentle = Check::new(apache)
        .peer(Peer::default().never_resets().path_never_fails())
        .always(LET_GO, let_go_within_a_read_timeout)
        .run();
    println!("== against a peer that never resets, over a path that never fails\n{gentle}");
    replay(apache)
}

/// The traces of Apache's close on this machine's kernel, if it can replay them.
#[cfg(target_os = "linux")]
fn replay(apache: ApacheClose) -> ExitCode {
    use linger_model::conformance::{Error, Replay};
    println!("== Apache's traces replayed on this machine's kernel");
    match Check::new(apache).replay(&Replay::default()) {
        Ok(report) => {
            print!("{report}");
            if report.divergences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(Error::Unavailable(why)) => {
            println!("not replayed: {why}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("apache-close: {error}");
            ExitCode::from(1)
        }
    }
}

/// The replay runs on Linux only.
#[cfg(not(target_os = "linux"))]
fn replay(_: ApacheClose) -> ExitCode {
    println!("== not replayed: the replay on the kernel runs on Linux only");
    ExitCode::SUCCESS
}
