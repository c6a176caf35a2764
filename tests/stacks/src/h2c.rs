//! An HTTP/2 client on a plain socket (prior knowledge) that makes the server end the
//! connection with a connection error while the client is still uploading and the answer is
//! on its way: it `POST`s, sends part of the body, waits for the response's headers, then
//! sends a `WINDOW_UPDATE` of 0 on the connection (a `PROTOCOL_ERROR`, RFC 9113 §6.9) and
//! more of the body, and only then reads on, at about 16 MB/s (as a client across a
//! network): the response's body, the server's `GOAWAY`, and how the connection ended.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Body bytes sent before the error and after it: within the 1 MiB that hyper's windows allow.
const BEFORE: usize = 64 << 10;
const AFTER: usize = 512 << 10;
const FRAME: usize = 16 << 10;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const ACK: u8 = 1;

/// What the client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Bytes of response body (stream 1) received.
    pub body_bytes: usize,
    /// The response's last `DATA` frame arrived.
    pub end_stream: bool,
    /// The error code of the server's `GOAWAY`, if one arrived.
    pub goaway: Option<u32>,
    /// How the connection ended: `EOF`, or the error.
    pub ending: String,
}

/// `POST`s to `path` at `address` and provokes the connection error; see the module docs.
pub fn connection_error(address: SocketAddr, path: &str) -> Seen {
    let mut seen = Seen {
        body_bytes: 0,
        end_stream: false,
        goaway: None,
        ending: String::new(),
    };
    let exchanged = TcpStream::connect(address)
        .and_then(|mut stream| exchange(&mut stream, address, path, &mut seen));
    if let Err(error) = exchanged {
        seen.ending = match error.kind() {
            ErrorKind::UnexpectedEof => "EOF".to_string(),
            ErrorKind::ConnectionReset => "ECONNRESET".to_string(),
            _ => error.to_string(),
        };
    }
    seen
}

/// The exchange, to the end of the connection (always an error: EOF or worse).
fn exchange(
    stream: &mut TcpStream,
    address: SocketAddr,
    path: &str,
    seen: &mut Seen,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(&request(address, path))?;
    // Our part of the settings handshake, so that hyper's 1 MiB windows apply.
    while read_frame(stream, seen)? != (SETTINGS, 0) {}
    stream.write_all(&frame(SETTINGS, ACK, 0, &[]))?;
    let block = frame(DATA, 0, 1, &[b'u'; FRAME]);
    for _ in 0..BEFORE / FRAME {
        stream.write_all(&block)?;
    }
    while read_frame(stream, seen)?.0 != HEADERS {}
    stream.write_all(&frame(WINDOW_UPDATE, 0, 0, &0u32.to_be_bytes()))?;
    // The server may be gone by now: its reset is what the reads below report.
    for _ in 0..AFTER / FRAME {
        if stream.write_all(&block).is_err() {
            break;
        }
    }
    loop {
        read_frame(stream, seen)?;
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The preface, our settings (windows open wide, so the response is not held back), and the
/// request's headers without `END_STREAM`.
fn request(address: SocketAddr, path: &str) -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    let wide = 0x7fff_ffffu32;
    let mut settings = 4u16.to_be_bytes().to_vec(); // SETTINGS_INITIAL_WINDOW_SIZE
    settings.extend(wide.to_be_bytes());
    bytes.extend(frame(SETTINGS, 0, 0, &settings));
    bytes.extend(frame(WINDOW_UPDATE, 0, 0, &(wide - 65_535).to_be_bytes()));
    // HPACK: :method POST (static 3), :scheme http (static 6), then literals without
    // indexing for :path (name 4), :authority (name 1) and content-length (name 28).
    let mut block = vec![0x83, 0x86];
    literal(&mut block, &[0x04], path);
    literal(&mut block, &[0x01], &address.to_string());
    literal(&mut block, &[0x0f, 28 - 15], "20000000");
    bytes.extend(frame(HEADERS, END_HEADERS, 1, &block));
    bytes
}

/// A header field without indexing: the name's index (`prefix`), then the value's length
/// (under 127) and the value.
fn literal(block: &mut Vec<u8>, prefix: &[u8], value: &str) {
    block.extend(prefix);
    block.push(u8::try_from(value.len()).unwrap_or(u8::MAX) & 0x7f);
    block.extend(value.as_bytes());
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    let mut bytes = length[1..].to_vec();
    bytes.extend([kind, flags]);
    bytes.extend(stream.to_be_bytes());
    bytes.extend(payload);
    bytes
}

/// Reads one frame, noting the response's body and the `GOAWAY`; returns its type and
/// flags.
fn read_frame(stream: &mut TcpStream, seen: &mut Seen) -> io::Result<(u8, u8)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head)?;
    let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload)?;
    let (kind, flags) = (head[3], head[4]);
    let stream_id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    match kind {
        DATA if stream_id == 1 => {
            seen.body_bytes += length;
            seen.end_stream |= flags & END_STREAM != 0;
        }
        GOAWAY if length >= 8 => {
            seen.goaway = Some(u32::from_be_bytes([
                payload[4], payload[5], payload[6], payload[7],
            ]));
        }
        _ => {}
    }
    Ok((kind, flags))
}
