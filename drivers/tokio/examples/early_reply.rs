//! A tokio server that answers every request at once with `413` and a body, without reading
//! the upload, then closes: with `linger` every client gets the whole body; with `naive`
//! (`drop(stream)`) a client still uploading gets a reset.
//!
//! ```sh
//! cargo run --release -p linger-tokio --example early_reply -- --listen 127.0.0.1:8415 \
//!     --strategy linger --body-bytes 3145728 &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -s -o /dev/null --limit-rate 10M -H 'Expect:' --data-binary @/tmp/upload \
//!     http://127.0.0.1:8415/; echo "curl exit $?"
//! ```
//!
//! curl reads at 10 MB/s: unthrottled on loopback it often drains the body before the close.
//!
//! Each connection is handed to [`linger_tokio::spawn_close`]; the accept loop never waits
//! for a close. `--connections K` stops after K connections (and their closes).

use linger::Policy;
use std::process::ExitCode;
use tokio::io::AsyncWriteExt;

const USAGE: &str = "usage: early_reply --listen ADDR --strategy linger|naive --body-bytes N \
                     [--connections K]";

struct Args {
    listen: String,
    linger: bool,
    body_bytes: usize,
    connections: Option<usize>,
}

fn parse() -> Result<Args, String> {
    let (mut listen, mut linger, mut body_bytes, mut connections) = (None, None, None, None);
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--strategy" => {
                linger = Some(match value.as_str() {
                    "linger" => true,
                    "naive" => false,
                    other => return Err(format!("unknown strategy {other:?}")),
                });
            }
            "--body-bytes" => body_bytes = value.parse().ok(),
            "--connections" => connections = value.parse().ok(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        linger: linger.ok_or("--strategy is required")?,
        body_bytes: body_bytes.ok_or("--body-bytes takes a whole number")?,
        connections,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("early_reply: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("early_reply: cannot listen on {}: {error}", args.listen);
            return ExitCode::FAILURE;
        }
    };
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
