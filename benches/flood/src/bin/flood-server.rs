//! `flood-server`: a server for floods to be aimed at, in a process of its own (see
//! `linger_flood::server`).
//!
//! ```sh
//! flood-server --server axum-plain|axum-linger|hyper-linger|mio|std --listen ADDR [--nofile N]
//!     [--capacity N] [--body-bytes N] [--report-closes] [--page-from-file]
//! ```
//!
//! Exit status: 0 once stopped, 1 if it could not serve, 2 on bad arguments.

use linger_flood::server::{self, Kind, Options};
use std::process::ExitCode;

const USAGE: &str = "usage: flood-server --server axum-plain|axum-linger|hyper-linger|mio|std \
                     --listen ADDR [--nofile N] [--capacity N] [--body-bytes N] [--report-closes] \
                     [--page-from-file]";

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
    };
    let mut words = words;
    while let Some(flag) = words.next() {
        match flag.as_str() {
            "--report-closes" => options.report_closes = true,
            "--page-from-file" => options.page_from_file = true,
            _ => set(&mut options, &flag, words.next())?,
        }
    }
    Ok(options)
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
