//! A hyper server accepting through a `Lingerer`, as the README's, with the routes the tests
//! of a connection's life need, and blocking clients that read with a bound.

use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use linger_tokio::{CloseReport, LingerStream, Lingerer, LingererBuilder, MinRate, Policy};
use std::convert::Infallible;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server on loopback and what its lingerer reported.
pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    pub(crate) lingerer: Lingerer,
    pub(crate) reports: Arc<Mutex<Vec<CloseReport>>>,
}

impl Server {
    /// Serves the routes below with hyper, accepting through a lingerer built by `builder`,
    /// until the runtime ends.
    pub(crate) async fn start(builder: LingererBuilder) -> Server {
        Server::serving(builder, serve).await
    }

    /// As [`start`](Self::start), each connection's service telling it the requests it holds
    /// (`HoldRequests`).
    #[cfg(feature = "hyper")]
    pub(crate) async fn start_holding(builder: LingererBuilder) -> Server {
        Server::serving(builder, serve_holding).await
    }

    async fn serving(builder: LingererBuilder, serve: fn(LingerStream)) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reports);
        let lingerer = builder
            .on_outcome(move |report| sink.lock().expect("reports").push(*report))
            .build();
        let accepting = lingerer.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = accepting.accept(&listener).await {
                serve(stream);
            }
        });
        Server {
            address,
            lingerer,
            reports,
        }
    }

    /// Waits up to `within` for `count` reports; what was reported by then.
    pub(crate) async fn reported(&self, count: usize, within: Duration) -> Vec<CloseReport> {
        let deadline = Instant::now() + within;
        while self.reports.lock().expect("reports").len() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.reports.lock().expect("reports").clone()
    }
}

/// Serves `stream` with hyper in a task of its own, its service telling the stream which
/// requests it holds.
#[cfg(feature = "hyper")]
pub(crate) fn serve_holding(stream: LingerStream) {
    let service = linger_tokio::HoldRequests::new(service_fn(route), stream.requests());
    let connection = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::spawn(connection);
}

/// Serves `stream` with hyper in a task of its own.
pub(crate) fn serve(stream: LingerStream) {
    let connection = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(route))
        .with_upgrades();
    tokio::spawn(connection);
}

type Body = BoxBody<Bytes, Infallible>;

fn text(text: impl Into<Bytes>) -> Response<Body> {
    Response::new(Full::new(text.into()).boxed())
}

/// `/`: "ok". `/slow/<ms>`: "done" after that long. `/echo`: the body's length, once read
/// whole. `/stream/<lines>/<ms>`: that many lines, that long apart. `/large/<bytes>`: that
/// many bytes. `/upgrade`: `101`, then an echo of every byte of the upgraded connection.
async fn route(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path: Vec<String> = request
        .uri()
        .path()
        .split('/')
        .skip(1)
        .map(String::from)
        .collect();
    let number = |index: usize| path.get(index).and_then(|n| n.parse::<u64>().ok());
    Ok(match path[0].as_str() {
        "" => text("ok"),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(number(1).unwrap_or(0))).await;
            text("done")
        }
        "echo" => match request.into_body().collect().await {
            Ok(body) => text(body.to_bytes().len().to_string()),
            Err(_) => text("broken"),
        },
        "stream" => {
            let (lines, apart) = (number(1).unwrap_or(0), number(2).unwrap_or(0));
            let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
            tokio::spawn(async move {
                for line in 0..lines {
                    if line > 0 {
                        tokio::time::sleep(Duration::from_millis(apart)).await;
                    }
                    let frame = Frame::data(Bytes::from(format!("line {line}\n")));
                    if sender.send(frame).await.is_err() {
                        return;
                    }
                }
            });
            Response::new(body.boxed())
        }
        "large" => text(vec![b'x'; number(1).unwrap_or(0) as usize]),
        "upgrade" => {
            tokio::spawn(async move {
                let Ok(upgraded) = hyper::upgrade::on(request).await else {
                    return;
                };
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 1024];
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                while let Ok(read) = io.read(&mut buf).await {
                    if read == 0 || io.write_all(&buf[..read]).await.is_err() {
                        return;
                    }
                }
            });
            let mut response = text("");
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert("connection", "upgrade".parse().expect("header"));
            headers.insert("upgrade", "echo".parse().expect("header"));
            response
        }
        _ => {
            let mut response = text("");
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

/// A client connected to `address`, reads bounded by `timeout`.
pub(crate) fn client(address: SocketAddr, timeout: Duration) -> TcpStream {
    let client = TcpStream::connect(address).expect("connect");
    client.set_read_timeout(Some(timeout)).expect("timeout");
    client
}

/// A keep-alive `GET path` on `client`.
pub(crate) fn get(client: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    client.write_all(request.as_bytes()).expect("request");
}

/// Reads until the answer holds `until` or the connection ends; what was read, and whether
/// it ended (EOF or reset) rather than timed out.
pub(crate) fn read_until(client: &mut TcpStream, until: &str) -> (String, bool) {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&read).into(), true),
            Ok(n) => {
                read.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&read);
                if !until.is_empty() && text.contains(until) {
                    return (text.into(), false);
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (String::from_utf8_lossy(&read).into(), false);
            }
            Err(_) => return (String::from_utf8_lossy(&read).into(), true),
        }
    }
}

/// Guards a few hundred milliseconds long, so that each test takes a second or two; the close
/// after one is short too.
pub(crate) fn brisk() -> Policy {
    Policy::builder()
        .first_byte_timeout(Some(Duration::from_millis(300)))
        .min_receive_rate(Some(MinRate {
            bytes_per_second: 1000,
            grace: Duration::from_millis(500),
        }))
        .keep_alive_timeout(Some(Duration::from_millis(700)))
        .send_timeout(Some(Duration::from_millis(800)))
        .idle_timeout(Duration::from_secs(1))
        .linger_budget(Duration::from_secs(3))
        .build()
        .expect("a valid policy")
}
