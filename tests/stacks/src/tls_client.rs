//! A rustls client over HTTP/1.1 that uploads while it reads the answer at about 16 MB/s (as
//! a client across a network, or curl's `--limit-rate`), then reads on to the end of the TLS
//! connection: did the server's `close_notify` come before the connection's end?

use linger_check::sockets::clients::Reply;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How the TLS connection ended, as the client read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsEnd {
    /// The server's `close_notify`, then the end: a proper TLS close.
    CloseNotify,
    /// The TCP connection ended without a `close_notify` ("EOF occurred in violation of
    /// protocol", to Python).
    EofWithoutCloseNotify,
    /// A reset.
    Reset,
    /// Anything else, or the answer was not read to its end.
    Failed(String),
}

/// What the client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsReply {
    /// The answer.
    pub reply: Reply,
    /// How the connection ended after it.
    pub end: TlsEnd,
}

/// POSTs `upload_bytes` to `path` at `address`, a server with the certificate `cert` (PEM)
/// for `localhost`; see the module docs.
pub fn post(address: SocketAddr, cert: &str, path: &str, upload_bytes: usize) -> TlsReply {
    let runtime = linger_check::sockets::current_thread_runtime();
    runtime.block_on(async {
        let mut reply = Reply {
            verdict: "ok".to_string(),
            status: 0,
            body_bytes: 0,
        };
        let end = match exchange(address, cert, path, upload_bytes, &mut reply).await {
            Ok(end) => end,
            Err(error) => {
                reply.verdict = error.to_string();
                end_of(&error)
            }
        };
        TlsReply { reply, end }
    })
}

/// A client that had its answer and neither sends nor closes, so that the server's close
/// waits for an EOF that does not come; the connection is held until this is dropped.
pub struct Silent {
    _stream: TlsStream,
    _runtime: tokio::runtime::Runtime,
}

/// POSTs the head of a 20 MB upload and 100 KB of it to `path`, reads the answer and the
/// server's `close_notify`, then goes silent.
pub fn answered_then_silent(address: SocketAddr, cert: &str, path: &str) -> (TlsReply, Silent) {
    let runtime = linger_check::sockets::current_thread_runtime();
    let (seen, stream) = runtime
        .block_on(async {
            let mut reply = Reply {
                verdict: "ok".to_string(),
                status: 0,
                body_bytes: 0,
            };
            let mut stream = connect(address, cert).await?;
            stream.write_all(&head(path, UPLOAD)).await?;
            stream.write_all(&[b'u'; 100_000]).await?;
            let length = read_head(&mut stream, &mut reply).await?;
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await?;
            reply.body_bytes = length;
            let end = match stream.read(&mut [0; 16]).await {
                Ok(0) => TlsEnd::CloseNotify,
                Ok(_) => TlsEnd::Failed("bytes after the answer".into()),
                Err(error) => end_of(&error),
            };
            Ok::<_, io::Error>((TlsReply { reply, end }, stream))
        })
        .expect("an answer");
    (
        seen,
        Silent {
            _stream: stream,
            _runtime: runtime,
        },
    )
}

/// GETs `path` at `address`, a server with the certificate `cert` (PEM) for `localhost`;
/// returns the answer's body and the client's own address.
pub fn get(address: SocketAddr, cert: &str, path: &str) -> (String, SocketAddr) {
    let runtime = linger_check::sockets::current_thread_runtime();
    runtime
        .block_on(async {
            let mut stream = connect(address, cert).await?;
            let ours = stream.get_ref().0.local_addr()?;
            let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
            stream.write_all(request.as_bytes()).await?;
            let mut reply = Reply {
                verdict: "ok".to_string(),
                status: 0,
                body_bytes: 0,
            };
            let mut body = vec![0; read_head(&mut stream, &mut reply).await?];
            stream.read_exact(&mut body).await?;
            Ok::<_, io::Error>((String::from_utf8_lossy(&body).into_owned(), ours))
        })
        .expect("an answer")
}

/// The upload [`answered_then_silent`] announces.
const UPLOAD: usize = 20 << 20;

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to `address`, checked against `cert`, offering HTTP/1.1.
async fn connect(address: SocketAddr, cert: &str) -> io::Result<TlsStream> {
    let tcp = tokio::net::TcpStream::connect(address).await?;
    handshake(&config(cert)?, tcp).await
}

/// A client configuration that trusts `cert` (PEM) alone and offers HTTP/1.1.
pub fn config(cert: &str) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let cert = CertificateDer::from_pem_slice(cert.as_bytes()).map_err(io::Error::other)?;
    roots.add(cert).map_err(io::Error::other)?;
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// TLS with `config` over `io`, a connection to a server whose certificate is for `localhost`.
pub async fn handshake<Io>(
    config: &Arc<rustls::ClientConfig>,
    io: Io,
) -> io::Result<tokio_rustls::client::TlsStream<Io>>
where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, io)
        .await
}

/// A request's head announcing `upload_bytes` of body.
fn head(path: &str, upload_bytes: usize) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {upload_bytes}\r\n\r\n")
        .into_bytes()
}

async fn exchange(
    address: SocketAddr,
    cert: &str,
    path: &str,
    upload_bytes: usize,
    reply: &mut Reply,
) -> io::Result<TlsEnd> {
    let tls = connect(address, cert).await?;
    let (mut reader, mut writer) = tokio::io::split(tls);
    let head = head(path, upload_bytes);
    let upload = tokio::spawn(async move {
        writer.write_all(&head).await?;
        let block = vec![b'u'; 64 << 10];
        let mut left = upload_bytes;
        while left > 0 {
            let now = left.min(block.len());
            writer.write_all(&block[..now]).await?;
            left -= now;
        }
        // Our own close_notify and FIN: the server's close reads our end.
        writer.shutdown().await
    });
    let length = read_head(&mut reader, reply).await?;
    let mut chunk = vec![0; 16 << 10];
    while reply.body_bytes < length {
        match reader.read(&mut chunk).await? {
            0 => return Ok(TlsEnd::Failed("the answer ended early".into())),
            read => reply.body_bytes += read,
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The answer is whole: read on to the end of the connection.
    let end = match reader.read(&mut chunk).await {
        Ok(0) => TlsEnd::CloseNotify,
        Ok(_) => TlsEnd::Failed("bytes after the answer".into()),
        Err(error) => end_of(&error),
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), upload).await;
    Ok(end)
}

/// Reads the response's head into `reply`; returns its `content-length`.
async fn read_head(reader: &mut (impl AsyncRead + Unpin), reply: &mut Reply) -> io::Result<usize> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read(&mut byte).await? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    reply.status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    });
    length.ok_or_else(|| io::Error::other("no content-length"))
}

fn end_of(error: &io::Error) -> TlsEnd {
    match error.kind() {
        ErrorKind::UnexpectedEof => TlsEnd::EofWithoutCloseNotify,
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => TlsEnd::Reset,
        _ => TlsEnd::Failed(error.to_string()),
    }
}
