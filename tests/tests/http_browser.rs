//! A real browser: headless Chromium loads a page whose script `fetch()`es a 20 MB POST to
//! the early-`413` route several times and reports the status and body length of each.
//! Served on a plain `TcpListener`, the browser sees network errors or short bodies; on a
//! `LingerListener`, the `413` and the whole body every time.
//!
//! Takes about 3 s (two browser starts, 2 × 6 uploads of 20 MB on loopback). Skipped, with a
//! `SKIPPED` line in the output, where Chromium is not installed (Debian: `chromium`); under
//! CI, whose `.ci/run` installs it, a missing browser fails the test.

use linger_check::sockets::axum::{EARLY_BODY, Listening, Server};
use linger_check::sockets::clients;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 6;

const PAGE: &str = r#"<!doctype html>
<title>early reply</title>
<script>
(async () => {
  const upload = new Uint8Array(20 * 1024 * 1024);
  const results = [];
  for (let run = 0; run < 6; run++) {
    try {
      const reply = await fetch('/early', { method: 'POST', body: upload });
      const body = await reply.arrayBuffer();
      results.push(reply.status + ' ' + body.byteLength);
    } catch (error) {
      results.push('error ' + error.name);
    }
  }
  await fetch('/report', { method: 'POST', body: results.join('\n') });
})();
</script>
"#;

/// A headless Chromium, killed when dropped.
struct Browser {
    child: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Opens `/page` of `server`, with a fresh profile of its own.
    fn open(server: &Server) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "linger-chromium-{}-{}",
            std::process::id(),
            server.address.port()
        ));
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
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(server.url("/page"))
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

/// What the page reported, one line per fetch; `None` if it did not report within 60 s.
fn browse(listening: Listening) -> Option<Vec<String>> {
    let server = Server::start(listening, PAGE);
    let browser = Browser::open(&server);
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        if let Some(report) = server.reports().pop() {
            break Some(report);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(browser);
    let counts = server.stop();
    println!("{listening:?}: {report:?}; lingering closes {counts:?}");
    report.map(|report| report.lines().map(str::to_string).collect())
}

#[test]
fn chromium_gets_every_early_answer_only_through_linger() {
    if !clients::available("chromium", &["--version"], "Debian: chromium") {
        return;
    }
    let whole = format!("413 {EARLY_BODY}");
    let plain = browse(Listening::Plain).expect("the page on the plain server never reported");
    assert_eq!(plain.len(), RUNS);
    assert!(
        plain.iter().any(|result| *result != whole),
        "hyper's close never lost the answer: the scenario is not reproduced: {plain:?}"
    );
    let linger = browse(Listening::Linger).expect("the page on the linger server never reported");
    assert_eq!(linger, vec![whole; RUNS]);
}
