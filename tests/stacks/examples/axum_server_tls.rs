//! axum-server over TLS (rustls), with a self-signed certificate made at start, answering an
//! upload early with `413` and a body without reading the upload. With `--close linger` (the
//! default) a `LingerAcceptor` beneath axum-server's `RustlsAcceptor` closes every
//! connection with a lingering close; with `--close plain` the connection closes as
//! axum-server's own, and the client still uploading loses the answer.
//!
//! ```sh
//! cargo run --release -p linger-stacks --example axum_server_tls -- \
//!     --listen 127.0.0.1:8443 --close plain &
//! python3 -c "import requests, urllib3; urllib3.disable_warnings(); \
//!     r = requests.post('https://127.0.0.1:8443/', data=b'u' * 20_000_000, verify=False); \
//!     print(r.status_code, len(r.content))"
//! ```
//!
//! `--close plain`: `requests.exceptions.SSLError ... EOF occurred in violation of
//! protocol`; `--close linger`: `413 1048576`. Ctrl-C (or SIGTERM) shuts down gracefully: the
//! closes still lingering get two more seconds, and the server waits for the last one.

#[path = "../../../drivers/tokio/examples/common/mod.rs"]
mod common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing::get;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use common::Close;
use http_body_util::BodyExt;
use linger_tokio::{LingerAcceptor, Lingerer, SHORT_LINGER};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let (args, listener) = match common::start("axum_server_tls").await {
        Ok(started) => started,
        Err(status) => return status,
    };
    let config = match self_signed().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("axum_server_tls: no certificate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let answer = Bytes::from(vec![b'x'; args.body_bytes]);
    let early_reply = move |body: Body| async move {
        // Answer once the upload has begun; never read the rest.
        let _first_bytes = body.into_data_stream().frame().await;
        (StatusCode::PAYLOAD_TOO_LARGE, answer)
    };
    let app = Router::new().route("/", get(|| async { "hello\n" }).post(early_reply));
    let lingerer = Lingerer::builder(args.policy)
        .on_outcome(common::print_outcome)
        .build();
    let handle = axum_server::Handle::<std::net::SocketAddr>::new();
    let stopping = handle.clone();
    let shortening = lingerer.clone();
    tokio::spawn(async move {
        common::stop_signal().await;
        shortening.shorten_all(SHORT_LINGER);
        stopping.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let server = axum_server::Server::from_listener(listener).handle(handle);
    let tls = RustlsAcceptor::new(config);
    let served = match args.close {
        // The one change: the TCP stream beneath TLS is a lingering one.
        Close::Linger => {
            let acceptor = tls.acceptor(LingerAcceptor::with_lingerer(lingerer.clone()));
            server
                .acceptor(acceptor)
                .serve(app.into_make_service())
                .await
        }
        Close::Plain => server.acceptor(tls).serve(app.into_make_service()).await,
    };
    let counts = lingerer.shutdown(SHORT_LINGER).await;
    println!("closes: {counts:?}");
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_server_tls: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A rustls configuration with a certificate for `localhost` and `127.0.0.1`, made now.
async fn self_signed() -> Result<RustlsConfig, Box<dyn std::error::Error>> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert = certified.cert.pem().into_bytes();
    let key = certified.signing_key.serialize_pem().into_bytes();
    Ok(RustlsConfig::from_pem(cert, key).await?)
}
