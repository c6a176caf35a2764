//! salvo over TLS (rustls), with a self-signed certificate made at start, answering an upload
//! early with `413` and a body without reading the upload. With `--close linger` (the
//! default) salvo's `TcpListener` is wrapped in a `LingerListener` beneath salvo's
//! `RustlsListener`; with `--close plain` it is salvo's own.
//!
//! ```sh
//! cargo run --release -p linger-stacks --example salvo_tls -- --listen 127.0.0.1:8446 &
//! python3 -c "import requests, urllib3; urllib3.disable_warnings(); \
//!     r = requests.post('https://127.0.0.1:8446/', data=b'u' * 20_000_000, verify=False); \
//!     print(r.status_code, len(r.content))"
//! ```
//!
//! Ctrl-C (or SIGTERM) stops the server gracefully: the closes still lingering get two more
//! seconds from then, and the server waits for the last one.

#[path = "../../../drivers/tokio/examples/common/mod.rs"]
mod common;

use common::Close;
use http_body_util::BodyExt;
use linger_tokio::LingerListener;
use linger_tokio::{Lingerer, SHORT_LINGER};
use salvo::conn::rustls::{Keycert, RustlsConfig, RustlsListener};
use salvo::conn::{Listener, TcpListener};
use salvo::http::StatusCode;
use salvo::{Request, Response, Router, Server, handler};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match common::arguments("salvo_tls") {
        Ok(args) => args,
        Err(status) => return status,
    };
    let config = match self_signed() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("salvo_tls: no certificate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lingerer = Lingerer::builder(args.policy)
        .on_outcome(common::print_outcome)
        .build();
    let early_reply = EarlyReply {
        answer: vec![b'x'; args.body_bytes],
    };
    let router = Router::new().post(early_reply);
    let tcp = TcpListener::new(args.listen);
    let served = match args.close {
        // The one change: the TCP listener beneath rustls is a lingering one.
        Close::Linger => {
            let tcp = LingerListener::with_lingerer(tcp, lingerer.clone());
            serve(RustlsListener::new(config, tcp), router, &lingerer).await
        }
        Close::Plain => serve(RustlsListener::new(config, tcp), router, &lingerer).await,
    };
    let counts = lingerer.shutdown(SHORT_LINGER).await;
    println!("closes: {counts:?}");
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("salvo_tls: cannot listen on {}: {error}", args.listen);
            ExitCode::FAILURE
        }
    }
}

/// Binds `listener` and serves `router` on it until Ctrl-C (or SIGTERM), then stops
/// gracefully.
async fn serve<L>(listener: L, router: Router, lingerer: &Lingerer) -> salvo::Result<()>
where
    L: Listener + Send + 'static,
{
    let server = Server::new(listener.try_bind().await?);
    let handle = server.handle();
    let stopping = lingerer.clone();
    tokio::spawn(async move {
        common::stop_signal().await;
        // salvo keeps its acceptor until it has stopped: shorten the closes from now.
        stopping.shorten_all(SHORT_LINGER);
        handle.stop_graceful(Some(Duration::from_secs(10)));
    });
    server.serve(router).await;
    Ok(())
}

/// `413` and the answer, once the upload has begun; the rest of it is never read.
struct EarlyReply {
    answer: Vec<u8>,
}

#[handler]
impl EarlyReply {
    async fn handle(&self, request: &mut Request, response: &mut Response) {
        let _first_bytes = request.body_mut().frame().await;
        response.status_code(StatusCode::PAYLOAD_TOO_LARGE);
        response.body(self.answer.clone());
    }
}

/// A rustls configuration with a certificate for `localhost` and `127.0.0.1`, made now.
fn self_signed() -> Result<RustlsConfig, rcgen::Error> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let keycert = Keycert::new()
        .cert(certified.cert.pem())
        .key(certified.signing_key.serialize_pem());
    Ok(RustlsConfig::new(keycert))
}
