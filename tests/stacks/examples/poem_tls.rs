//! poem over TLS (rustls), with a self-signed certificate made at start, answering an upload
//! early with `413` and a body without reading the upload. With `--close linger` (the
//! default) poem's `TcpListener` is wrapped in a `LingerListener` beneath poem's rustls; with
//! `--close plain` it is poem's own.
//!
//! ```sh
//! cargo run --release -p linger-stacks --example poem_tls -- --listen 127.0.0.1:8445 &
//! python3 -c "import requests, urllib3; urllib3.disable_warnings(); \
//!     r = requests.post('https://127.0.0.1:8445/', data=b'u' * 20_000_000, verify=False); \
//!     print(r.status_code, len(r.content))"
//! ```
//!
//! Ctrl-C (or SIGTERM) shuts down gracefully: poem drops its acceptor, which gives the closes
//! still lingering two more seconds; the server waits for the last one.

#[path = "../../../drivers/tokio/examples/common/mod.rs"]
mod common;

use common::Close;
use linger_tokio::LingerListener;
use linger_tokio::{Lingerer, SHORT_LINGER};
use poem::http::StatusCode;
use poem::listener::{Listener, RustlsCertificate, RustlsConfig, TcpListener};
use poem::{Body, EndpointExt, Response, Route, Server, handler, post};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match common::arguments("poem_tls") {
        Ok(args) => args,
        Err(status) => return status,
    };
    let config = match self_signed() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("poem_tls: no certificate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lingerer = Lingerer::builder(args.policy)
        .on_outcome(common::print_outcome)
        .build();
    let hello = poem::endpoint::make_sync(|_| "hello\n");
    let app = Route::new()
        .at("/", post(early_reply).get(hello))
        .data(args.body_bytes);
    let tcp = TcpListener::bind(args.listen);
    let shutdown = common::stop_signal();
    let grace = Some(Duration::from_secs(10));
    let served = match args.close {
        // The one change: the TCP listener beneath rustls is a lingering one.
        Close::Linger => {
            let listener = LingerListener::with_lingerer(tcp, lingerer.clone()).rustls(config);
            Server::new(listener)
                .run_with_graceful_shutdown(app, shutdown, grace)
                .await
        }
        Close::Plain => {
            let listener = tcp.rustls(config);
            Server::new(listener)
                .run_with_graceful_shutdown(app, shutdown, grace)
                .await
        }
    };
    let counts = lingerer.shutdown(SHORT_LINGER).await;
    println!("closes: {counts:?}");
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("poem_tls: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `413` and the answer, once the upload has begun; the rest of it is never read.
#[handler]
async fn early_reply(body: Body, body_bytes: poem::web::Data<&usize>) -> Response {
    let _first_bytes = body.into_async_read().read(&mut [0; 16 << 10]).await;
    Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .body(vec![b'x'; *body_bytes.0])
}

/// A rustls configuration with a certificate for `localhost` and `127.0.0.1`, made now.
fn self_signed() -> Result<RustlsConfig, rcgen::Error> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let certificate = RustlsCertificate::new()
        .cert(certified.cert.pem())
        .key(certified.signing_key.serialize_pem());
    Ok(RustlsConfig::new().fallback(certificate))
}
