//! An actix-web 4 server that answers every `POST` with `413` and a body of N bytes once the
//! upload has begun, without reading the rest, on actix-web's default `HttpServer`: since
//! actix-http 3.13, its dispatcher itself reads and discards what the client still sends
//! after such an early answer, until the client's EOF or `client_disconnect_timeout` (1 s by
//! default in `HttpServer`), then closes. `--disconnect-ms N` sets that timeout. It prints
//! its address, then serves until killed.

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::time::Duration;

async fn early_reply(mut upload: web::Payload, answer: web::Data<web::Bytes>) -> HttpResponse {
    let _first_bytes = upload.next().await;
    HttpResponse::PayloadTooLarge().body(answer.get_ref().clone())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut body_bytes = 3 << 20;
    let mut disconnect = None;
    let mut words = std::env::args().skip(1);
    while let (Some(option), Some(value)) = (words.next(), words.next()) {
        let invalid = || std::io::Error::other(format!("{option} {value:?}: invalid"));
        match option.as_str() {
            "--listen" => listen = value.parse().map_err(|_| invalid())?,
            "--body-bytes" => body_bytes = value.parse().map_err(|_| invalid())?,
            "--disconnect-ms" => {
                disconnect = Some(Duration::from_millis(value.parse().map_err(|_| invalid())?))
            }
            _ => return Err(invalid()),
        }
    }
    let answer = web::Data::new(web::Bytes::from(vec![b'x'; body_bytes]));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(answer.clone())
            .route("/", web::post().to(early_reply))
            .route("/", web::get().to(|| async { "hello\n" }))
    })
    .workers(1);
    if let Some(timeout) = disconnect {
        server = server.client_disconnect_timeout(timeout);
    }
    let server = server.bind(listen)?;
    for address in server.addrs() {
        println!("{address}");
    }
    server.run().await
}
