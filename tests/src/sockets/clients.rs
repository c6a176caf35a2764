//! Real HTTP clients driven from tests: curl and Python `requests`, each run once per call,
//! bounded in time. A missing client skips its test with the reason printed, except under
//! CI (`CI=true`), whose `.ci/run` installs them, where it fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Whether `program` runs here; prints why a test skips if not, and fails under CI.
pub fn available(program: &str, probe: &[&str], install: &str) -> bool {
    let runs = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|output| output.status.success());
    if !runs {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is missing under CI: .ci/run installs it ({install})"
        );
        println!("skipped: {program} is not available ({install})");
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

/// curl POSTs `upload` to `url` (no `Expect: 100-continue`, as browsers), reading at `rate`
/// if given (`10M`: as a client across a network reads).
pub fn curl_post(url: &str, upload: &UploadFile, rate: Option<&str>) -> Reply {
    let mut command = Command::new("curl");
    command
        .args([
            "-s",
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
import sys, requests
url, size = sys.argv[1], int(sys.argv[2])
try:
    reply = requests.post(url, data=b'u' * size, timeout=60)
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
