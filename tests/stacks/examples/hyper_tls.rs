//! tokio-rustls in a hyper-util loop, with a self-signed certificate made at start, answering
//! an upload early with `413` and a body without reading the upload. With `--close linger`
//! (the default) each connection is accepted through a `Lingerer` and the TLS handshake runs
//! over the `LingerStream`; with `--close plain` over the `TcpStream` itself. HTTP/1.1 and
//! HTTP/2 (ALPN), through hyper-util's automatic builder.
//!
//! ```sh
//! cargo run --release -p linger-stacks --example hyper_tls -- --listen 127.0.0.1:8444 &
//! head -c 20000000 /dev/zero > /tmp/upload
//! curl -sk --http1.1 -o /dev/null -w '%{http_code} %{size_download}\n' --limit-rate 10M \
//!     -H 'Expect:' --data-binary @/tmp/upload https://127.0.0.1:8444/
//! ```
//!
//! At the end of each connection hyper's shutdown sends TLS's `close_notify`, then the
//! stream's half-close our FIN; the close drains what the client still sends. Ctrl-C (or
//! SIGTERM) stops accepting, drops the connections still in their handshake, lets hyper
//! finish the others (at most ten seconds), gives the closes still lingering two more
//! seconds, and waits for the last one: `Lingerer::shutdown` waits for every stream the
//! server still holds, so none may be held forever (a handshake has ten seconds).

#[path = "../../../drivers/tokio/examples/common/mod.rs"]
mod common;

use common::Close;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use linger_tokio::{Lingerer, SHORT_LINGER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long a client has for its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    let (args, listener) = match common::start("hyper_tls").await {
        Ok(started) => started,
        Err(status) => return status,
    };
    let tls = match self_signed() {
        Ok(config) => TlsAcceptor::from(config),
        Err(error) => {
            eprintln!("hyper_tls: no certificate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lingerer = Lingerer::builder(args.policy)
        .on_outcome(common::print_outcome)
        .build();
    let answer = Bytes::from(vec![b'x'; args.body_bytes]);
    let (linger, plain) = (args.close == Close::Linger, args.close == Close::Plain);
    let graceful = GracefulShutdown::new();
    let (stopping, stopped) = watch::channel(false);
    let mut stop = std::pin::pin!(common::stop_signal());
    loop {
        let connection = Connection {
            tls: tls.clone(),
            answer: answer.clone(),
            watcher: graceful.watcher(),
            stopped: stopped.clone(),
        };
        tokio::select! {
            // The one change: accept through the lingerer, and run TLS over its stream.
            Ok((stream, _peer)) = lingerer.accept(&listener), if linger => {
                tokio::spawn(connection.serve(stream));
            }
            Ok((stream, _peer)) = listener.accept(), if plain => {
                tokio::spawn(connection.serve(stream));
            }
            () = &mut stop => break,
        }
    }
    stopping.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    let counts = lingerer.shutdown(SHORT_LINGER).await;
    println!("closes: {counts:?}");
    ExitCode::SUCCESS
}

/// What serving one connection needs.
struct Connection {
    tls: TlsAcceptor,
    answer: Bytes,
    watcher: Watcher,
    /// Becomes true at shutdown.
    stopped: watch::Receiver<bool>,
}

impl Connection {
    /// The TLS handshake over `stream` (given up at shutdown or after [`HANDSHAKE`]), then
    /// HTTP until the connection ends or graceful shutdown has finished it; dropping the
    /// stream at the end is its close.
    async fn serve(mut self, stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
        let handshake = tokio::time::timeout(HANDSHAKE, self.tls.accept(stream));
        let stream = tokio::select! {
            handshake = handshake => match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    eprintln!("handshake: {error}");
                    return;
                }
                Err(_) => {
                    eprintln!("handshake: timed out");
                    return;
                }
            },
            _ = self.stopped.wait_for(|&stopped| stopped) => return,
        };
        let answer = self.answer;
        let service = service_fn(move |request| common::early_reply(request, answer.clone()));
        let builder = auto::Builder::new(TokioExecutor::new());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        if let Err(error) = self.watcher.watch(connection).await {
            eprintln!("connection: {error}");
        }
    }
}

/// A rustls configuration with a certificate for `localhost` and `127.0.0.1`, made now,
/// offering HTTP/2 and HTTP/1.1.
fn self_signed() -> Result<Arc<rustls::ServerConfig>, Box<dyn std::error::Error>> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert = CertificateDer::from_pem_slice(certified.cert.pem().as_bytes())?;
    let key = PrivateKeyDer::from_pem_slice(certified.signing_key.serialize_pem().as_bytes())?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
