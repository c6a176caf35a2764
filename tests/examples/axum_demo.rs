//! The loss and the cure in the Rust HTTP stack, side by side, measured on this machine:
//!
//! ```sh
//! cargo run --release --example axum_demo      # about 5 s
//! ```
//!
//! One axum app that answers a 20 MB upload early (`413` and a 1 MiB body, the upload left
//! unread), served twice: on axum's own `TcpListener`, where hyper shuts down writing and
//! closes over the unread upload, and on a `LingerListener`, the one line that changes. Each
//! client posts three times to each server: a client on plain sockets that reads while it
//! sends (as browsers and curl do), one that sends everything first (as Python's `requests`
//! does), and curl at 10 MB/s and Python `requests` themselves where installed.

use linger_check::sockets::axum::{EARLY_BODY, Listening, Server};
use linger_check::sockets::clients::{self, Reply, Sending, UploadFile};
use std::process::ExitCode;

const UPLOAD: usize = 20 << 20;
const RUNS: usize = 3;

/// A client of the demo: its name and one POST to `/early`.
type Client<'a> = (&'static str, Box<dyn Fn(&Server) -> Reply + 'a>);

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|word| word == "--help" || word == "-h")
    {
        println!("usage: axum_demo   (no options)");
        return ExitCode::SUCCESS;
    }
    if let Some(word) = std::env::args().nth(1) {
        eprintln!("axum_demo: unexpected argument {word:?}\nusage: axum_demo   (no options)");
        return ExitCode::from(2);
    }
    let upload = UploadFile::create(UPLOAD);
    let mut clients: Vec<Client<'_>> = vec![
        (
            "reads while sending",
            Box::new(|server| {
                clients::raw_post(server.address, "/early", UPLOAD, Sending::WhileReading)
            }),
        ),
        (
            "sends all, then reads",
            Box::new(|server| {
                clients::raw_post(server.address, "/early", UPLOAD, Sending::ThenReading)
            }),
        ),
    ];
    if clients::curl_available() {
        clients.push((
            "curl --limit-rate 10M",
            Box::new(|server| clients::curl_post(&server.url("/early"), &upload, Some("10M"))),
        ));
    }
    if clients::python_requests_available() {
        clients.push((
            "python requests",
            Box::new(|server| clients::python_post(&server.url("/early"), UPLOAD)),
        ));
    }

    println!(
        "axum answers a {} MB upload early: 413 and {EARLY_BODY} bytes, the upload unread\n",
        UPLOAD >> 20
    );
    println!("| client | listener | whole answer | what the client saw | lingering closes |");
    println!("|---|---|---|---|---|");
    let mut lost = [0; 2];
    for (name, client) in &clients {
        for (index, listening) in Listening::BOTH.into_iter().enumerate() {
            let server = Server::start(listening, "");
            let replies: Vec<Reply> = (0..RUNS).map(|_| client(&server)).collect();
            let whole = replies
                .iter()
                .filter(|reply| reply.is(413, EARLY_BODY))
                .count();
            lost[index] += RUNS - whole;
            let seen = replies
                .iter()
                .find(|reply| !reply.is(413, EARLY_BODY))
                .map_or("413, every byte, EOF".to_string(), describe);
            let closes = server.stop().map_or(String::new(), |counts| {
                format!("{} clean of {}", counts.clean, counts.ended())
            });
            let listener = match listening {
                Listening::Plain => "axum `TcpListener`",
                Listening::Linger => "`LingerListener`",
            };
            println!("| {name} | {listener} | {whole}/{RUNS} | {seen} | {closes} |");
        }
    }
    let runs = clients.len() * RUNS;
    println!(
        "\nsummary: hyper's own close lost the answer in {} of {runs} runs; \
         through LingerListener, {} of {runs}",
        lost[0], lost[1]
    );
    if lost[1] == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What a client that did not get the whole answer saw.
fn describe(reply: &Reply) -> String {
    let status = match reply.status {
        0 => "no status".to_string(),
        status => status.to_string(),
    };
    format!("{status}, {} bytes, {}", reply.body_bytes, reply.verdict)
}
