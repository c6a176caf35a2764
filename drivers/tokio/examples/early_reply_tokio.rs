//! A tokio server that answers every request at once with `413` and a body, without reading
//! the upload, then closes: with `linger` every client gets the whole body; with `naive`
//! (`drop(stream)`) a client still uploading gets a reset.
//!
//! ```sh
//! cargo run --release -p linger-tokio --example early_reply_tokio -- --listen 127.0.0.1:8415 \
//!     --strategy linger --body-bytes 3145728 &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -s -o /dev/null --limit-rate 10M -H 'Expect:' --data-binary @/tmp/upload \
//!     http://127.0.0.1:8415/; echo "curl exit $?"
//! ```
//!
//! curl reads at 10 MB/s: unthrottled on loopback it often drains the body before the close.
//!
//! Each connection gets a task of its own, which writes the response and awaits
//! [`linger_tokio::close`]; the accept loop never waits for a close. `--connections K` stops
//! after K connections (and their closes).

use linger::Policy;
use std::process::ExitCode;
use tokio::io::AsyncWriteExt;

const USAGE: &str = "usage: early_reply_tokio --listen ADDR --strategy linger|naive \
                     --body-bytes N [--connections K]";

#[derive(Debug, PartialEq, Eq)]
struct Args {
    listen: String,
    linger: bool,
    body_bytes: usize,
    connections: Option<usize>,
}

/// The arguments, `None` when `--help` or `-h` asks for the usage, or what is wrong with them.
fn parse(words: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let words: Vec<String> = words.into_iter().collect();
    if words.iter().any(|word| word == "--help" || word == "-h") {
        return Ok(None);
    }
    let (mut listen, mut linger, mut body_bytes, mut connections) = (None, None, None, None);
    let mut words = words.iter();
    while let Some(flag) = words.next() {
        let mut value = || {
            words
                .next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let whole = |value: &str| {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(value()?.to_string()),
            "--strategy" => {
                linger = Some(match value()? {
                    "linger" => true,
                    "naive" => false,
                    other => return Err(format!("{flag} takes linger or naive, not {other:?}")),
                });
            }
            "--body-bytes" => body_bytes = Some(whole(value()?)?),
            "--connections" => connections = Some(whole(value()?)?),
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            stray => return Err(format!("unexpected argument {stray:?}")),
        }
    }
    Ok(Some(Args {
        listen: listen.ok_or("--listen is required")?,
        linger: linger.ok_or("--strategy is required")?,
        body_bytes: body_bytes.ok_or("--body-bytes is required")?,
        connections,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("early_reply_tokio: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "early_reply_tokio: cannot listen on {}: {error}",
                args.listen
            );
            return ExitCode::FAILURE;
        }
    };
    if let Ok(address) = listener.local_addr() {
        println!("listening on {address}");
    }
    let head = format!(
        "HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        args.body_bytes
    );
    let body = vec![b'x'; args.body_bytes];
    let mut closes = Vec::new();
    let mut served = 0;
    while args.connections.is_none_or(|limit| served < limit) {
        let Ok((mut stream, peer)) = listener.accept().await else {
            continue;
        };
        served += 1;
        let response = [head.as_bytes(), &body].concat();
        let linger = args.linger;
        closes.push(tokio::spawn(async move {
            if let Err(error) = stream.write_all(&response).await {
                eprintln!("{peer}: {error}");
            }
            if linger {
                let outcome = linger_tokio::close(stream, &Policy::default()).await;
                println!("{peer}: {outcome}");
            } else {
                drop(stream);
                println!("{peer}: closed at once");
            }
        }));
    }
    for close in closes {
        let _ = close.await;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Option<Args>, String> {
        parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn help_asks_for_the_usage_whatever_else_is_given() {
        assert_eq!(parse_words(&["--help"]), Ok(None));
        assert_eq!(parse_words(&["--strategy", "linger", "-h"]), Ok(None));
    }

    #[test]
    fn a_complete_command_line_parses() {
        let words = [
            "--listen",
            "127.0.0.1:8415",
            "--strategy",
            "linger",
            "--body-bytes",
            "9",
        ];
        let args = parse_words(&words).expect("valid").expect("not help");
        assert!(args.linger);
        assert_eq!((args.body_bytes, args.connections), (9, None));
    }

    #[test]
    fn an_unknown_option_is_named_as_such() {
        assert_eq!(
            parse_words(&["--bogus-flag"]),
            Err("unknown option --bogus-flag".into())
        );
    }

    #[test]
    fn a_stray_word_is_an_unexpected_argument() {
        assert_eq!(
            parse_words(&["extra"]),
            Err("unexpected argument \"extra\"".into())
        );
    }

    #[test]
    fn a_number_that_is_not_one_says_so() {
        assert_eq!(
            parse_words(&["--body-bytes", "3M"]),
            Err("--body-bytes takes a whole number, not \"3M\"".into())
        );
    }
}
