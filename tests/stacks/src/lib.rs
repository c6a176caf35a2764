//! HTTP servers on every stack linger-tokio adapts, for its examples and tests: one
//! early-`413` app served over TLS by axum-server (rustls and OpenSSL), tokio-rustls in a
//! hyper-util loop, poem and salvo, each with the stack's own close (`Listening::Plain`) or
//! through linger (`Listening::Linger`), with a certificate made at start; and `reqwest`
//! over TLS and HTTP/2. The other clients (curl, Python `requests`, Chromium) and the plain
//! axum server are linger-check's.

pub mod h2c;
mod servers;
mod slow_link;
pub mod tls_client;

pub use servers::{Https, Stack};
pub use slow_link::SlowLink;

use linger_check::sockets::clients::Reply;
use std::sync::Arc;

/// The examples of `docs/` (the HTTP servers of every stack, over TLS), compiled as doctests
/// here, where every framework and TLS library is a dependency; linger-check's
/// `tests/readme.rs` checks that none is `ignore`d and that every document with Rust in it is
/// listed here or in linger-check.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../../../docs/http.md")]
    struct Http;
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made now, in PEM.
pub struct Identity {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

impl Identity {
    /// A fresh one.
    pub fn generate() -> Identity {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let certified = rcgen::generate_simple_self_signed(names).expect("a certificate");
        Identity {
            cert: certified.cert.pem(),
            key: certified.signing_key.serialize_pem(),
        }
    }

    /// A rustls configuration with it, offering HTTP/2 and HTTP/1.1 by ALPN.
    pub fn rustls(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(self.cert.as_bytes()).expect("certificate");
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes()).expect("key");
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("a rustls configuration");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// How `reqwest` speaks to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2: ALPN `h2` over TLS, prior knowledge over plain TCP.
    Http2,
}

/// A `reqwest` client that accepts the test's self-signed certificates.
pub fn reqwest_client(version: Version) -> reqwest::Client {
    let builder = reqwest::Client::builder().danger_accept_invalid_certs(true);
    let builder = match version {
        Version::Http1 => builder.http1_only(),
        Version::Http2 => builder.http2_prior_knowledge(),
    };
    builder.build().expect("a reqwest client")
}

/// `reqwest` POSTs `upload_bytes` to `url`, reading while it sends, as `version` says, on a
/// runtime of its own: its connection closes when the call returns, as curl's does.
pub fn reqwest_post(version: Version, url: &str, upload_bytes: usize) -> Reply {
    let failed = |error: reqwest::Error, status| Reply {
        verdict: format!("reqwest: {}", causes(&error)),
        status,
        body_bytes: 0,
    };
    let runtime = linger_check::sockets::current_thread_runtime();
    let client = reqwest_client(version);
    runtime.block_on(async {
        let sent = client.post(url).body(vec![b'u'; upload_bytes]).send().await;
        let reply = match sent {
            Ok(reply) => reply,
            Err(error) => return failed(error, 0),
        };
        let status = reply.status().as_u16();
        match reply.bytes().await {
            Ok(body) => Reply {
                verdict: "ok".into(),
                status,
                body_bytes: body.len(),
            },
            Err(error) => failed(error, status),
        }
    })
}

/// `error` and its sources, outermost first: reqwest's own message ("error sending request")
/// leaves out what went wrong.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
