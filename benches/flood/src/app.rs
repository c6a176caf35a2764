//! The app the axum and hyper flood-servers serve: `GET /` answers `hello` (from a file if
//! asked, as a server reads a page), an upload to `POST /` is answered early with `413` and a
//! body, without being read; and the routes of the honest slow clients, whom no guard may
//! cut: `POST /echo` reads its body whole and answers its length, `GET /slow/<ms>` answers
//! `done` that long after, `GET /stream/<lines>/<ms>` streams that many lines that long
//! apart, `GET /upgrade` switches to an echo of every byte.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The router: `early` the body of the early `413`, `page` the file `GET /` reads, if any.
pub(crate) fn router(early: Bytes, page: Option<PathBuf>) -> Router {
    Router::new()
        .route(
            "/",
            get(move || hello(page)).post(move |body: Body| early_reply(body, early)),
        )
        .route("/echo", post(echo))
        .route("/slow/{ms}", get(slow))
        .route("/stream/{lines}/{ms}", get(stream))
        .route("/upgrade", get(upgrade))
}

async fn hello(page: Option<PathBuf>) -> (StatusCode, Vec<u8>) {
    // From a file, as a server reads a page, a template or a database: a descriptor the
    // lingerer cannot give back.
    let Some(path) = page else {
        return (StatusCode::OK, b"hello".to_vec());
    };
    match std::fs::read(path) {
        Ok(page) => (StatusCode::OK, page),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string().into()),
    }
}

/// `413` once the upload has begun; the rest is never read.
async fn early_reply(mut body: Body, early: Bytes) -> (StatusCode, Bytes) {
    let _first_bytes = body.frame().await;
    (StatusCode::PAYLOAD_TOO_LARGE, early)
}

/// The body's length, once it has been read whole.
async fn echo(body: Body) -> Response {
    match body.collect().await {
        Ok(body) => body.to_bytes().len().to_string().into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}

async fn slow(Path(ms): Path<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "done"
}

/// `line 0\n` at once, then one more line every `ms`.
async fn stream(Path((lines, ms)): Path<(u64, u64)>) -> Body {
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for line in 0..lines {
            if line > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let frame = Frame::data(Bytes::from(format!("line {line}\n")));
            if sender.send(frame).await.is_err() {
                return;
            }
        }
    });
    Body::new(body)
}

/// `101`, then every byte the peer sends on the upgraded connection comes back.
async fn upgrade(request: Request) -> Response {
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 4096];
        while let Ok(read) = io.read(&mut buf).await {
            if read == 0 || io.write_all(&buf[..read]).await.is_err() {
                return;
            }
        }
    });
    let headers = [(header::CONNECTION, "upgrade"), (header::UPGRADE, "echo")];
    (StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
}
