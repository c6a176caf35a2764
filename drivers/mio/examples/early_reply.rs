//! An early reply with a real HTTP client: answer every request with `413` and a body
//! of N bytes without reading the request body, then close with the chosen strategy.
//!
//! ```sh
//! cargo run -p linger-mio --example early_reply -- --listen 127.0.0.1:8413 \
//!     --strategy linger --body-bytes 3145728 --connections 1 &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -s -o /dev/null -w '%{http_code} %{size_download}\n' -H 'Expect:' \
//!     --data-binary @/tmp/upload http://127.0.0.1:8413/; echo "curl exit $?"
//! ```
//!
//! With `linger`, curl gets the whole body and exits 0; with `naive` or `shutdown-close` it
//! exits 56, "Connection reset by peer", when the body is still queued as the server
//! closes (add `--limit-rate 10M` to curl on loopback, where it otherwise reads the
//! body almost as fast as we write it).

mod common;

use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: early_reply --listen ADDR --strategy linger|naive|shutdown-close \
                     --body-bytes N [--connections K]";

fn main() -> ExitCode {
    let args = match common::args("early_reply", "--body-bytes", USAGE) {
        Ok(args) => args,
        Err(status) => return status,
    };
    let body = vec![b'x'; args.bytes];
    common::serve(&args, |stream| {
        read_head(stream)?;
        let head = format!(
            "HTTP/1.1 413 Payload Too Large\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)
    })
}

/// Reads up to the blank line ending the request head, and not a byte of the body after it.
fn read_head(stream: &mut std::net::TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(())
}
