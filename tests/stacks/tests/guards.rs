//! The guards of the life before the close through axum-server, whose `LingerAcceptor` wraps
//! each connection's service in `HoldRequests`: the connection knows the requests it carries,
//! so an answer streamed with pauses longer than the keep-alive timeout, and an HTTP/2 stream
//! in flight past every guard, are read whole, over TLS, on HTTP/1.1 and HTTP/2.

use linger_check::sockets::axum::Listening;
use linger_stacks::{Https, Stack, Version, reqwest_client};
use linger_tokio::{Counts, Lingerer, MinRate, Policy};
use std::time::Duration;

/// Every guard under a second.
fn brisk() -> Policy {
    Policy::builder()
        .first_byte_timeout(Some(Duration::from_millis(300)))
        .min_receive_rate(Some(MinRate {
            bytes_per_second: 1000,
            grace: Duration::from_millis(300),
        }))
        .keep_alive_timeout(Some(Duration::from_millis(500)))
        .send_timeout(Some(Duration::from_millis(500)))
        .build()
        .expect("a valid policy")
}

/// `GET url` with reqwest on `version`: the answer's body.
fn get(version: Version, url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let answer = reqwest_client(version)
            .get(url)
            .send()
            .await
            .expect("the answer's head");
        answer.text().await.expect("the answer's body")
    })
}

fn no_guard_ended_a_connection(counts: Option<Counts>) {
    let counts = counts.expect("a lingering server counts its closes");
    assert_eq!(counts.guarded(), 0, "{counts:?}");
}

#[test]
fn through_axum_server_answers_that_pause_past_every_guard_are_read_whole() {
    for version in [Version::Http1, Version::Http2] {
        let server = Https::start_with(
            Stack::AxumServerRustls,
            Listening::Linger,
            Lingerer::new(brisk()),
            "",
        );
        // Three lines 800 ms apart: each pause longer than the keep-alive timeout.
        let streamed = get(version, &server.url("/stream/3/800"));
        assert_eq!(streamed, "line 0\nline 1\nline 2\n", "{version:?}");
        // A handler slower than every guard.
        assert_eq!(
            get(version, &server.url("/slow/1500")),
            "done",
            "{version:?}"
        );
        no_guard_ended_a_connection(server.stop());
    }
}
