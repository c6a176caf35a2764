//! A hyper server, without axum, that answers an upload early with `413` and a body,
//! without reading the upload. Each connection is accepted through a `Lingerer` and served
//! as a `LingerStream` wrapped in hyper-util's `TokioIo`; with `--close plain` it serves the
//! `TcpStream` itself, and hyper's close resets a client still uploading.
//!
//! ```sh
//! cargo run --release -p linger-tokio --example hyper_early_reply -- \
//!     --listen 127.0.0.1:8417 --close linger &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --limit-rate 10M \
//!     -H 'Expect:' --data-binary @/tmp/upload http://127.0.0.1:8417/
//! ```
//!
//! Ctrl-C (or SIGTERM) stops accepting, lets hyper finish its connections gracefully (at
//! most ten seconds), gives the closes still lingering two more seconds, and waits for the
//! last one.

mod common;

use common::Close;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use linger_tokio::{Lingerer, SHORT_LINGER};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

#[tokio::main]
async fn main() -> ExitCode {
    let (args, listener) = match common::start("hyper_early_reply").await {
        Ok(started) => started,
        Err(status) => return status,
    };
    let lingerer = Lingerer::builder(args.policy)
        .on_outcome(common::print_outcome)
        .build();
    let answer = Bytes::from(vec![b'x'; args.body_bytes]);
    let (linger, plain) = (args.close == Close::Linger, args.close == Close::Plain);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(common::stop_signal());
    loop {
        tokio::select! {
            Ok((stream, _peer)) = lingerer.accept(&listener), if linger => {
                tokio::spawn(serve(stream, answer.clone(), graceful.watcher()));
            }
            Ok((stream, _peer)) = listener.accept(), if plain => {
                tokio::spawn(serve(stream, answer.clone(), graceful.watcher()));
            }
            () = &mut stop => break,
        }
    }
    // The streams still served close once hyper lets go of them: `shutdown` waits for them.
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    let counts = lingerer.shutdown(SHORT_LINGER).await;
    println!("closes: {counts:?}");
    ExitCode::SUCCESS
}

/// Serves one connection with hyper until it ends or graceful shutdown has finished it;
/// dropping `stream` at the end is its close.
async fn serve(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    answer: Bytes,
    watcher: Watcher,
) {
    let service = service_fn(move |request| common::early_reply(request, answer.clone()));
    let io = TokioIo::new(stream);
    let connection = http1::Builder::new().serve_connection(io, service);
    if let Err(error) = watcher.watch(connection).await {
        eprintln!("connection: {error}");
    }
}
