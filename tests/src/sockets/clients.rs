//! HTTP clients driven from tests and the demo: curl and Python `requests`, each run once
//! per call, bounded in time, over HTTP or HTTPS (certificate verification off: the tests'
//! certificates are self-signed, made at start), headless Chromium, and a client on plain
//! sockets that needs no program. A missing program skips its test, visibly, except under
//! CI, where it fails ([`crate::skip`]).

use crate::skip;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// An upload file of its own (tests run side by side), removed when dropped.
pub struct UploadFile(PathBuf);

impl UploadFile {
    /// `bytes` bytes of `u` in the temporary directory.
    pub fn create(bytes: usize) -> UploadFile {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let number = CREATED.fetch_add(1, Ordering::Relaxed);
        let name = format!("linger-upload-{}-{number}.bin", std::process::id());
        let path = std::env::temp_dir().join(name);
        let mut file = std::fs::File::create(&path).expect("create the upload");
        file.write_all(&vec![b'u'; bytes])
            .expect("write the upload");
        UploadFile(path)
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for UploadFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What one client run saw: its verdict, the status and the bytes of body it received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// `ok`, or what went wrong (curl's exit code, Python's exception).
    pub verdict: String,
    /// The HTTP status, 0 if none arrived.
    pub status: u16,
    /// Bytes of body received.
    pub body_bytes: usize,
}

impl Reply {
    /// The client got `status` and a body of `body_bytes`, without an error.
    pub fn is(&self, status: u16, body_bytes: usize) -> bool {
        self.verdict == "ok" && self.status == status && self.body_bytes == body_bytes
    }
}

/// Whether `program` runs here; if not, the running test reports its skip, or fails under
/// CI ([`skip::because`]).
pub fn available(program: &str, probe: &[&str], install: &str) -> bool {
    let runs = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|output| output.status.success());
    if !runs {
        skip::because(&format!("{program} is not available ({install})"));
    }
    runs
}

/// curl is installed.
pub fn curl_available() -> bool {
    available("curl", &["--version"], "Debian: curl")
}

/// Python 3 with `requests` is installed.
pub fn python_requests_available() -> bool {
    available(
        "python3",
        &["-c", "import requests"],
        "pip install requests",
    )
}

/// Chromium is installed.
pub fn chromium_available() -> bool {
    available("chromium", &["--version"], "Debian: chromium")
}

/// A headless Chromium showing one page, killed when dropped.
pub struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    /// Opens `url` with a fresh profile of its own, and `flags` beside the usual ones
    /// (`--ignore-certificate-errors` for the tests' self-signed certificates,
    /// `--disable-http2`).
    pub fn open(url: &str, flags: &[&str]) -> Browser {
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        let number = OPENED.fetch_add(1, Ordering::Relaxed);
        let profile =
            std::env::temp_dir().join(format!("linger-chromium-{}-{number}", std::process::id()));
        // The flags keep a root, offline, GPU-less Chromium from trying the network or a
        // sandbox it cannot have.
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What the page at `url` reported, one line per item: the first report to arrive in
/// `reports` (the server's `/report`) after the call; `None` if none did within 60 s.
/// Chromium shows the page with `flags`.
pub fn browse(url: &str, flags: &[&str], reports: impl Fn() -> Vec<String>) -> Option<Vec<String>> {
    let earlier = reports().len();
    let browser = Browser::open(url, flags);
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        if let Some(report) = reports().get(earlier) {
            break Some(report.clone());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(browser);
    report.map(|report| report.lines().map(str::to_string).collect())
}

/// curl POSTs `upload` to `url` (no `Expect: 100-continue`, as browsers), reading at `rate`
/// if given (`10M`: as a client across a network reads).
pub fn curl_post(url: &str, upload: &UploadFile, rate: Option<&str>) -> Reply {
    curl_post_with(url, upload, rate, &[])
}

/// [`curl_post`] with more of curl's options (`--http1.1`, `--http2-prior-knowledge`).
pub fn curl_post_with(
    url: &str,
    upload: &UploadFile,
    rate: Option<&str>,
    options: &[&str],
) -> Reply {
    let mut command = Command::new("curl");
    command
        .args(options)
        .args([
            "-s",
            "-k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
        ])
        .args(["-H", "Expect:", "--max-time", "60", "--data-binary"])
        .arg(format!("@{}", upload.path().display()));
    if let Some(rate) = rate {
        command.args(["--limit-rate", rate]);
    }
    let output = command.arg(url).output().expect("run curl");
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut figures = printed
        .split_whitespace()
        .map(|word| word.parse().unwrap_or(0));
    let status = figures.next().unwrap_or(0);
    let body_bytes = figures.next().unwrap_or(0);
    let verdict = match output.status.code() {
        Some(0) => "ok".to_string(),
        Some(code) => format!("curl exit {code}"),
        None => "curl killed".to_string(),
    };
    Reply {
        verdict,
        status: u16::try_from(status).unwrap_or(0),
        body_bytes,
    }
}

/// Python `requests` POSTs `upload_bytes` to `url`: it sends the whole body before it reads
/// the answer, as most scripted clients do.
pub fn python_post(url: &str, upload_bytes: usize) -> Reply {
    const SCRIPT: &str = "\
import sys, requests, urllib3
urllib3.disable_warnings()
url, size = sys.argv[1], int(sys.argv[2])
try:
    reply = requests.post(url, data=b'u' * size, timeout=60, verify=False)
    print('ok', reply.status_code, len(reply.content))
except Exception as error:
    print(type(error).__name__, 0, 0)
";
    let output = Command::new("python3")
        .args(["-c", SCRIPT, url, &upload_bytes.to_string()])
        .output()
        .expect("run python3");
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut words = printed.split_whitespace();
    let verdict = words.next().unwrap_or("no output").to_string();
    let status = words.next().and_then(|word| word.parse().ok()).unwrap_or(0);
    let body_bytes = words.next().and_then(|word| word.parse().ok()).unwrap_or(0);
    Reply {
        verdict,
        status,
        body_bytes,
    }
}

/// How [`raw_post`] sends its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// Reads the answer while it still sends, as curl and browsers do.
    WhileReading,
    /// Sends the whole upload, then reads, as Python's `requests` does.
    ThenReading,
}

/// POSTs `upload_bytes` to `path` through a plain socket, sending as `sending` says; no
/// external program needed. The answer must carry a `content-length`.
pub fn raw_post(address: SocketAddr, path: &str, upload_bytes: usize, sending: Sending) -> Reply {
    let failed = |verdict: String| Reply {
        verdict,
        status: 0,
        body_bytes: 0,
    };
    let stream = match TcpStream::connect(address) {
        Ok(stream) => stream,
        Err(error) => return failed(format!("connect: {error}")),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let head =
        format!("POST {path} HTTP/1.1\r\nhost: linger\r\ncontent-length: {upload_bytes}\r\n\r\n");
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(error) => return failed(format!("clone: {error}")),
    };
    let upload = std::thread::spawn(move || -> io::Result<()> {
        writer.write_all(head.as_bytes())?;
        let block = vec![b'u'; 64 << 10];
        let mut left = upload_bytes;
        while left > 0 {
            let now = left.min(block.len());
            writer.write_all(&block[..now])?;
            left -= now;
        }
        Ok(())
    });
    if sending == Sending::ThenReading {
        let uploaded = upload
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the upload thread panicked")));
        if let Err(error) = uploaded {
            return failed(format!("upload: {}", describe(&error)));
        }
        return read_reply(stream);
    }
    let reply = read_reply(stream);
    let _ = upload.join();
    reply
}

/// Reads a response head and its `content-length` body: `ok` only if all of it arrived.
fn read_reply(stream: TcpStream) -> Reply {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut reply = Reply {
        verdict: "ok".to_string(),
        status: 0,
        body_bytes: 0,
    };
    let mut length = None;
    let head = (|| -> io::Result<()> {
        reader.read_line(&mut line)?;
        reply.status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                return Ok(());
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
    })();
    if let Err(error) = head {
        reply.verdict = format!("head: {}", describe(&error));
        return reply;
    }
    let mut chunk = vec![0; 64 << 10];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => reply.body_bytes += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => {
                reply.verdict = format!("body: {}", describe(&error));
                return reply;
            }
        }
        if Some(reply.body_bytes) == length {
            break;
        }
    }
    if Some(reply.body_bytes) != length {
        reply.verdict = "short body, then EOF".to_string();
    }
    reply
}

/// An error as a client reports it: its errno name where it has one.
fn describe(error: &io::Error) -> String {
    match error.kind() {
        ErrorKind::ConnectionReset => "ECONNRESET".to_string(),
        ErrorKind::BrokenPipe => "EPIPE".to_string(),
        _ => error.to_string(),
    }
}
