//! The early reply with a real HTTP client: curl uploads 20 MiB, the server answers
//! 413 with a 3 MiB body without reading the upload, and closes. The server answers once the
//! upload has begun (`serve_early_reply`), so curl is always caught sending. Skipped where
//! curl is not installed, with a `SKIPPED` line in the output (a failure under CI).
//!
//! On loopback an unthrottled curl drains 3 MiB about as fast as the server writes it, so a
//! plain close finds little left to destroy (the loss shows in about one run of five). A
//! client on a real network reads slower than we write: `--limit-rate` models that, keeping
//! part of the answer in the server's send queue when it closes, as on a real network.

use linger_check::sockets::Closer;
use linger_check::sockets::clients::{self, UploadFile};
use linger_check::sockets::http::serve_early_reply;
use std::process::Command;

const BODY: usize = 3 << 20;
const UPLOAD: usize = 20 << 20;
/// curl's read rate: a 3 MiB body takes about a third of a second.
const RATE: &str = "10M";

/// curl's exit code and the bytes of body it received.
fn curl(closer: Closer, upload: &UploadFile) -> (i32, usize) {
    let (address, server) = serve_early_reply(closer, BODY, 1);
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-H",
            "Expect:",
        ])
        .args(["--limit-rate", RATE, "--max-time", "30", "--data-binary"])
        .arg(format!("@{}", upload.path().display()))
        .arg(format!("http://{address}/"))
        .output()
        .expect("run curl");
    server.join().expect("server");
    let received = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (output.status.code().unwrap_or(-1), received)
}

#[test]
fn curl_gets_connection_reset_from_a_plain_close() {
    if !clients::curl_available() {
        return;
    }
    let upload = UploadFile::create(UPLOAD);
    let runs: Vec<(i32, usize)> = (0..5).map(|_| curl(Closer::Plain, &upload)).collect();
    println!("plain close: curl (exit code, body bytes) over five runs: {runs:?}");
    assert!(
        runs.iter().any(|&(code, _)| code == 56),
        "curl never saw the reset: {runs:?}"
    );
}

#[test]
fn curl_gets_the_whole_body_from_every_driver() {
    if !clients::curl_available() {
        return;
    }
    let upload = UploadFile::create(UPLOAD);
    for closer in Closer::DRIVERS {
        for _ in 0..3 {
            let (code, received) = curl(closer, &upload);
            println!("{closer:?}: curl exit {code}, {received} of {BODY} body bytes");
            assert_eq!((code, received), (0, BODY), "{closer:?}");
        }
    }
}
