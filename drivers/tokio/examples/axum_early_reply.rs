//! An axum server that answers an upload early with `413` and a body, without reading the
//! upload. With `--close plain` it serves on axum's own `TcpListener` and hyper's close
//! resets a client still uploading; with `--close linger` (the default) it serves on a
//! `LingerListener` and every client gets the whole answer.
//!
//! ```sh
//! cargo run --release -p linger-tokio --features axum --example axum_early_reply -- \
//!     --listen 127.0.0.1:8416 --close plain &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --limit-rate 10M \
//!     -H 'Expect:' --data-binary @/tmp/upload http://127.0.0.1:8416/
//! ```
//!
//! `--close plain`: curl exits 56 ("Connection reset by peer") after about 128 KB of the
//! 1 MiB body; `--close linger`: curl exits 0 with all of it. `GET /` answers `hello`, for
//! load generators. The lingerer's policy is `Policy::default()`, its guards on the life
//! before the close included; `--policy unguarded` turns them off (`benches/http_rps.sh`
//! measures both). Ctrl-C (or SIGTERM) shuts down gracefully: the closes still lingering get
//! two more seconds, and the server waits for the last one.

mod common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::get;
use common::Close;
use http_body_util::BodyExt;
use linger_tokio::{LingerListener, Lingerer, SHORT_LINGER};
use std::net::SocketAddr;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let (args, listener) = match common::start("axum_early_reply").await {
        Ok(started) => started,
        Err(status) => return status,
    };
    let answer = Bytes::from(vec![b'x'; args.body_bytes]);
    let early_reply = move |ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Body| async move {
        // Answer once the upload has begun; never read the rest.
        let _first_bytes = body.into_data_stream().frame().await;
        println!("{peer}: 413 with {} bytes", answer.len());
        (StatusCode::PAYLOAD_TOO_LARGE, answer)
    };
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }).post(early_reply))
        .into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = common::stop_signal();
    let served = match args.close {
        Close::Plain => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Close::Linger => {
            let lingerer = Lingerer::builder(args.policy)
                .on_outcome(common::print_outcome)
                .build();
            let listener = LingerListener::with_lingerer(listener, lingerer.clone());
            let served = axum::serve(listener.with_connect_info(), app)
                .with_graceful_shutdown(shutdown)
                .await;
            let counts = lingerer.shutdown(SHORT_LINGER).await;
            println!("closes: {counts:?}");
            served
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_early_reply: {error}");
            ExitCode::FAILURE
        }
    }
}
