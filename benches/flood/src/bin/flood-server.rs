//! `flood-server`: a server for floods to be aimed at, in a process of its own (see
//! `linger_flood::server`).
//!
//! ```sh
//! flood-server --server axum-plain|axum-linger|hyper-linger|axum-server-tls|mio|std \
//!     --listen ADDR [--nofile N] [--capacity N] [--body-bytes N] [--report-closes] \
//!     [--page-from-file] [--tls-cert PEM --tls-key PEM] [--unguarded] \
//!     [--first-byte-timeout MS] [--min-receive-rate BYTES_PER_S/GRACE_MS] \
//!     [--keep-alive-timeout MS] [--send-timeout MS]
//! ```
//!
//! The tokio servers' policy is `Policy::default()`; `--unguarded` turns its guards off, and
//! each guard flag sets one (`0` turns it off). axum-server-tls needs the certificate and
//! its key.
//!
//! Exit status: 0 once stopped, 1 if it could not serve, 2 on bad arguments.

use linger::{MinRate, Policy, PolicyBuilder};
use linger_flood::server::{self, Kind, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: flood-server --server \
                     axum-plain|axum-linger|hyper-linger|axum-server-tls|mio|std --listen ADDR \
                     [--nofile N] [--capacity N] [--body-bytes N] [--report-closes] \
                     [--page-from-file] [--tls-cert PEM --tls-key PEM] [--unguarded] \
                     [--first-byte-timeout MS] [--min-receive-rate BYTES_PER_S/GRACE_MS] \
                     [--keep-alive-timeout MS] [--send-timeout MS]";

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("flood-server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match server::run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flood-server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse(words: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        kind: Kind::AxumLinger,
        listen: ([127, 0, 0, 1], 0).into(),
        nofile: None,
        capacity: None,
        body_bytes: 16 << 10,
        report_closes: false,
        page_from_file: false,
        policy: Policy::default(),
        tls: None,
    };
    let mut policy = Policy::builder();
    let (mut cert, mut key) = (None, None);
    let mut words = words;
    while let Some(flag) = words.next() {
        match flag.as_str() {
            "--report-closes" => options.report_closes = true,
            "--page-from-file" => options.page_from_file = true,
            "--unguarded" => policy = policy.unguarded(),
            "--tls-cert" | "--tls-key" => {
                let path = words.next().map(PathBuf::from);
                let slot = if flag == "--tls-cert" {
                    &mut cert
                } else {
                    &mut key
                };
                *slot = Some(path.ok_or_else(|| format!("{flag} needs a value"))?);
            }
            "--first-byte-timeout"
            | "--min-receive-rate"
            | "--keep-alive-timeout"
            | "--send-timeout" => policy = guard(policy, &flag, words.next())?,
            _ => set(&mut options, &flag, words.next())?,
        }
    }
    options.policy = policy.build().map_err(|error| error.to_string())?;
    options.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(options)
}

/// Sets the guard `flag` names to `value`, in milliseconds (the rate: `BYTES_PER_S/GRACE_MS`);
/// `0` turns it off.
fn guard(
    policy: PolicyBuilder,
    flag: &str,
    value: Option<String>,
) -> Result<PolicyBuilder, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let invalid = || format!("{flag} {value:?}: not a whole number of milliseconds");
    let millis = |text: &str| text.parse::<u64>().map_err(|_| invalid());
    let timeout = |text: &str| millis(text).map(|ms| (ms > 0).then(|| Duration::from_millis(ms)));
    Ok(match flag {
        "--first-byte-timeout" => policy.first_byte_timeout(timeout(&value)?),
        "--keep-alive-timeout" => policy.keep_alive_timeout(timeout(&value)?),
        "--send-timeout" => policy.send_timeout(timeout(&value)?),
        _ => {
            let (rate, grace) = value.split_once('/').unwrap_or((&value, "0"));
            let rate = u32::try_from(millis(rate)?).map_err(|_| invalid())?;
            let grace = Duration::from_millis(millis(grace)?);
            policy.min_receive_rate((rate > 0).then_some(MinRate {
                bytes_per_second: rate,
                grace,
            }))
        }
    })
}

/// Sets the option `flag` names to `value`.
fn set(options: &mut Options, flag: &str, value: Option<String>) -> Result<(), String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let invalid = |what: &str| format!("{flag} {value:?}: {what}");
    let number = || {
        value
            .parse::<u64>()
            .map_err(|_| invalid("not a whole number"))
    };
    match flag {
        "--server" => {
            options.kind = Kind::named(&value).ok_or_else(|| invalid("no such server"))?
        }
        "--listen" => options.listen = value.parse().map_err(|_| invalid("not an address"))?,
        "--nofile" => options.nofile = Some(number()?),
        "--capacity" => options.capacity = Some(number()? as usize),
        "--body-bytes" => options.body_bytes = number()? as usize,
        _ => return Err(format!("unknown option {flag}")),
    }
    Ok(())
}
