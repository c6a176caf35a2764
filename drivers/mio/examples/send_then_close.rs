//! The simplest way to lose data: write N bytes to each client, then close with the chosen
//! strategy. A client that sends anything the server never reads turns a plain close into
//! a reset:
//!
//! ```sh
//! cargo run -p linger-mio --example send_then_close -- --listen 127.0.0.1:8414 \
//!     --bytes 3000000 --strategy naive &
//! python3 -c 'import socket, time
//! s = socket.create_connection(("127.0.0.1", 8414)); s.sendall(b"hello"); time.sleep(0.3)
//! got = 0
//! while chunk := s.recv(65536): got += len(chunk); time.sleep(0.0005)
//! print(got)'
//! ```
//!
//! With `naive` the client's read fails with ECONNRESET well short of 3000000 bytes; with
//! `linger` it prints 3000000.

mod common;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: send_then_close --listen ADDR --bytes N \
                     --strategy linger|naive|shutdown-close [--connections K]";

fn main() -> ExitCode {
    let args = match common::args("send_then_close", "--bytes", USAGE) {
        Ok(args) => args,
        Err(status) => return status,
    };
    let payload = vec![b'x'; args.bytes];
    common::serve(&args, |stream| stream.write_all(&payload))
}
