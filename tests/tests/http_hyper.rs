//! hyper without axum: connections accepted through a `Lingerer` and served as
//! `LingerStream`s in hyper-util's `TokioIo` get the same guarantees as axum's. The same
//! server serving the plain `TcpStream` loses the early answer, in the same test.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use linger_check::sockets::clients::{self, Reply, Sending};
use linger_tokio::{Counts, Lingerer, Policy};
use std::convert::Infallible;
use tokio::io::{AsyncRead, AsyncWrite};

const ANSWER: usize = 1 << 20;
const UPLOAD: usize = 20 << 20;
const RUNS: usize = 3;

/// `413` and the answer once the upload has begun; the rest is never read.
async fn early_reply(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _first_bytes = request.into_body().frame().await;
    let mut response = Response::new(Full::new(Bytes::from(vec![b'x'; ANSWER])));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    Ok(response)
}

async fn serve(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(early_reply))
        .await;
}

/// Serves `RUNS` connections (through linger or not), each a 20 MB upload sent as `sending`
/// says; returns the replies and, through linger, the closes' counts once the last ended.
fn run(linger: bool, sending: Sending) -> (Vec<Reply>, Option<Counts>) {
    let (runtime, listener, address) = linger_check::sockets::server_runtime();
    let lingerer = Lingerer::new(Policy::default());
    let accepting = lingerer.clone();
    runtime.spawn(async move {
        for _ in 0..RUNS {
            if linger {
                let Ok((stream, _peer)) = accepting.accept(&listener).await else {
                    return;
                };
                tokio::spawn(serve(stream));
            } else {
                let Ok((stream, _peer)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream));
            }
        }
    });
    let replies = (0..RUNS)
        .map(|_| clients::raw_post(address, "/", UPLOAD, sending))
        .collect();
    let counts = linger.then(|| runtime.block_on(lingerer.shutdown(linger_tokio::SHORT_LINGER)));
    (replies, counts)
}

#[test]
fn hyper_serving_linger_streams_delivers_every_early_answer_that_its_own_close_loses() {
    for sending in [Sending::WhileReading, Sending::ThenReading] {
        let (plain, _) = run(false, sending);
        println!("hyper, plain TcpStream, {sending:?}: {plain:?}");
        let (linger, counts) = run(true, sending);
        println!("hyper, LingerStream, {sending:?}: {linger:?}; closes {counts:?}");
        assert!(
            linger.iter().all(|reply| reply.is(413, ANSWER)),
            "{linger:?}"
        );
        let counts = counts.expect("linger counts");
        assert_eq!(
            (counts.clean, counts.in_flight),
            (RUNS as u64, 0),
            "{counts:?}"
        );
        if sending == Sending::ThenReading {
            assert!(
                plain.iter().all(|reply| !reply.is(413, ANSWER)),
                "hyper's own close did not lose the answer: the scenario is not reproduced"
            );
        }
    }
}
