//! `flood`: the benchmark of `benches/flood/run.sh`. Hostile clients hold more connections
//! than a server may open descriptors, while a well-behaved client sends `GET /` on a fresh
//! connection every 20 ms (2 s timeout each), first unattacked and then under the flood, and
//! curl uploads 2 MB every few seconds, expecting the whole early `413`. The servers run back
//! to back, each in a process of its own under the descriptor limit of the case: axum on its
//! own listener, axum on a `LingerListener`, hyper accepting with `Lingerer::accept`,
//! axum-server over TLS on a `LingerAcceptor` (these the `flood-server` binary; mio and std
//! too, if named), and nginx twice: as this benchmark configures it (`lingering_close on`, a
//! static `413` from `open_file_cache`, one worker with `worker_connections` three quarters of
//! the limit) and as Debian does (`worker_processes auto`, `worker_connections 768`, nginx's
//! own timeouts), the soft limit set before it starts. Against the TLS server every client
//! speaks TLS, but the connectors that send nothing.
//!
//! ```sh
//! flood --flood-server target/release/flood-server
//!     [--servers axum-plain,axum-linger,hyper-linger,axum-server-tls,nginx,nginx-debian]
//!     [--cases 1024:1500,20000:12000] [--kinds idle,slowloris,slow-body,keep-alive,mix]
//!     [--seconds 15] [--unattacked-seconds 5] [--curls 5] [--body-bytes 16384]
//!     [--capacity N] [--server-args "ARGS"]
//! ```
//!
//! `--kinds` also takes `uploader` and `zero-window`; `--server-args` passes more arguments
//! to `flood-server` (its guards, say). Prints each run's row as it ends, with what the flood
//! saw and what the server reported, then the table of `docs/performance.md`.

use linger_check::sockets::clients::{UploadFile, curl_post};
use linger_flood::clients::{self, Endpoint, Flood, FloodCounts, Hostile, Probes};
use linger_flood::server::Kind;
use linger_flood::{CloseLine, ServerProcess, Status, TlsFiles};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: flood --flood-server PATH [--servers axum-plain,axum-linger,...] \
                     [--cases LIMIT:CONNECTIONS,...] [--kinds idle,slowloris,...] [--seconds N] \
                     [--unattacked-seconds N] [--curls N] [--body-bytes N] [--capacity N] \
                     [--server-args ARGS]";

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Flood(Kind),
    /// nginx as this benchmark configures it.
    Nginx,
    /// nginx as Debian configures it.
    NginxDebian,
}

impl Target {
    fn named(name: &str) -> Option<Target> {
        match name {
            "nginx" => Some(Target::Nginx),
            "nginx-debian" => Some(Target::NginxDebian),
            name => Kind::named(name).map(Target::Flood),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Flood(kind) => kind.name(),
            Target::Nginx => "nginx",
            Target::NginxDebian => "nginx-debian",
        }
    }
}

struct Args {
    flood_server: PathBuf,
    targets: Vec<Target>,
    cases: Vec<(u64, usize)>,
    kinds: Vec<Hostile>,
    seconds: u64,
    unattacked_seconds: u64,
    curls: usize,
    body_bytes: usize,
    /// The lingerer's capacity, for `flood-server`; its default if `None`.
    capacity: Option<usize>,
    /// More arguments for `flood-server`.
    server_args: Vec<String>,
}

/// What one run measured.
struct Row {
    limit: u64,
    connections: usize,
    kind: Hostile,
    target: Target,
    unattacked: Probes,
    probes: Probes,
    curls_whole: usize,
    curls: usize,
    fds: [usize; 3],
    /// What the server said at the end of the window (flood-servers only).
    status: Option<Status>,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("flood: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("flood: no runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let scratch = std::env::temp_dir().join(format!("linger-flood-{}", std::process::id()));
    let upload = Arc::new(UploadFile::create(2_000_000));
    if let Err(error) = std::fs::create_dir_all(&scratch) {
        eprintln!("flood: {}: {error}", scratch.display());
        return ExitCode::FAILURE;
    }
    let mut rows = Vec::new();
    for &(limit, connections) in &args.cases {
        for &kind in &args.kinds {
            for &target in &args.targets {
                let case = Case {
                    target,
                    limit,
                    connections,
                    kind,
                };
                match run(&args, &runtime, &scratch, &upload, case) {
                    Ok(measured) => {
                        eprintln!("{}", row(&measured));
                        rows.push(measured);
                    }
                    Err(error) => eprintln!(
                        "flood: {} under {limit} with {connections} {}: {error}",
                        target.name(),
                        kind.name()
                    ),
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    print_table(&rows);
    ExitCode::SUCCESS
}

/// One server under one flood.
#[derive(Clone, Copy)]
struct Case {
    target: Target,
    limit: u64,
    connections: usize,
    kind: Hostile,
}

/// One server under one flood: unattacked first, then under the flood.
fn run(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    scratch: &Path,
    upload: &Arc<UploadFile>,
    case: Case,
) -> std::io::Result<Row> {
    let mut server = Server::start(args, scratch, case.target, case.limit)?;
    let endpoint = server.endpoint.clone();
    let pids = server.serving_pids();
    let before = open_fds(&pids);
    let unattacked = probe(&endpoint, Duration::from_secs(args.unattacked_seconds));
    let flood = runtime.block_on(async { Flood::start(&endpoint, case.kind, case.connections) });
    // Let the flood build up: about 2,000 connections a second here, 5 s at least.
    std::thread::sleep(Duration::from_secs(
        (case.connections as u64 / 2_000).max(5),
    ));
    let window = Duration::from_secs(args.seconds);
    let curls = curl_uploads(&endpoint, upload, args.curls, window, args.body_bytes);
    let probes = probe(&endpoint, window);
    let curls_whole = curls.join().unwrap_or(0);
    let during = open_fds(&pids);
    let status = server.status();
    let counts = runtime.block_on(flood.stop());
    // Every descriptor back within 10 s of the flood's end.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = open_fds(&pids);
    while after > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        after = open_fds(&pids);
    }
    let closes = server.closes();
    server.stop();
    say_what_happened(case.kind, &counts, &closes);
    Ok(Row {
        limit: case.limit,
        connections: case.connections,
        kind: case.kind,
        target: case.target,
        unattacked,
        probes,
        curls_whole,
        curls: args.curls,
        fds: [before, during, after],
        status,
    })
}

/// The well-behaved client, for `window`, on a thread and a runtime of its own (apart from
/// the flood's): `GET /` on a fresh connection every 20 ms, 2 s to answer each.
fn probe(endpoint: &Endpoint, window: Duration) -> Probes {
    let endpoint = endpoint.clone();
    let probing = std::thread::spawn(move || {
        let runtime = linger_check::sockets::current_thread_runtime();
        runtime.block_on(clients::probe(
            &endpoint,
            Duration::from_millis(20),
            Duration::from_secs(2),
            usize::MAX,
            Instant::now() + window,
        ))
    });
    probing.join().unwrap_or_default()
}

/// Prints, by hostile kind, the connections made, those the server ended and how long they
/// had lived; and, from the server's close lines, what ended the connections of each kind of
/// `flood`, and of the well-behaved clients.
fn say_what_happened(flood: Hostile, counts: &FloodCounts, closes: &[CloseLine]) {
    eprintln!(
        "   {} hostile connections made, {} failed to connect",
        counts.connected.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed)
    );
    for (kind, lives) in counts.by_kind() {
        let life = lives
            .mean_life()
            .map_or_else(|| "-".into(), |life| format!("{:.1} s", life.as_secs_f64()));
        eprintln!(
            "   {}: {} made, {} ended by the server after {life} on average",
            kind.name(),
            lives.connected,
            lives.dropped
        );
    }
    if closes.is_empty() {
        return;
    }
    let mut tally: BTreeMap<(&str, &str), (u64, &str)> = BTreeMap::new();
    for close in closes {
        // The hostile clients connect from 127.0.0.2 to 127.0.0.9, client `slot` from
        // 127.0.0.(2 + slot % 8): its address says its kind, TLS handshakes that failed too.
        let kind = match close.peer.ip() {
            IpAddr::V4(ip) if (2..=9).contains(&ip.octets()[3]) => {
                flood.in_slot(usize::from(ip.octets()[3] - 2)).name()
            }
            _ => "well-behaved",
        };
        let (count, example) = tally.entry((kind, close.by.as_str())).or_default();
        *count += 1;
        if example.is_empty() {
            *example = &close.outcome;
        }
    }
    for ((kind, by), (count, example)) in tally {
        eprintln!("   closes of {kind} connections ended by {by}: {count} (one: {example})");
    }
}

/// Runs `count` curl uploads of `upload`, spread over `window`, on a thread; how many got
/// the whole early `413` (`body_bytes` of body, curl's exit status 0).
fn curl_uploads(
    endpoint: &Endpoint,
    upload: &Arc<UploadFile>,
    count: usize,
    window: Duration,
    body_bytes: usize,
) -> std::thread::JoinHandle<usize> {
    let upload = Arc::clone(upload);
    let every = window / (count.max(1) as u32 + 1);
    let scheme = if endpoint.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}/", endpoint.address);
    std::thread::spawn(move || {
        (0..count)
            .filter(|_| {
                std::thread::sleep(every);
                curl_post(&url, &upload, None).is(413, body_bytes)
            })
            .count()
    })
}

/// A server process under a descriptor limit, and how its clients reach it.
struct Server {
    process: Process,
    endpoint: Endpoint,
}

enum Process {
    Flood(ServerProcess),
    Nginx(Child),
}

impl Server {
    fn start(args: &Args, scratch: &Path, target: Target, limit: u64) -> std::io::Result<Server> {
        let kind = match target {
            Target::Flood(kind) => kind,
            Target::Nginx | Target::NginxDebian => {
                let debian = target == Target::NginxDebian;
                let (child, address) = nginx(scratch, limit, args.body_bytes, debian)?;
                return Ok(Server {
                    process: Process::Nginx(child),
                    endpoint: Endpoint::plain(address),
                });
            }
        };
        let mut words = vec![
            "--server".to_string(),
            kind.name().into(),
            "--nofile".into(),
            limit.to_string(),
            "--body-bytes".into(),
            args.body_bytes.to_string(),
            "--page-from-file".into(),
            "--report-closes".into(),
        ];
        if let Some(capacity) = args.capacity {
            words.extend(["--capacity".into(), capacity.to_string()]);
        }
        words.extend(args.server_args.iter().cloned());
        let tls = match kind {
            Kind::AxumServerTls => Some(TlsFiles::create(scratch)?),
            _ => None,
        };
        words.extend(tls.iter().flat_map(TlsFiles::args));
        let process = ServerProcess::start(&args.flood_server, &words)?;
        let endpoint = match &tls {
            Some(tls) => tls.endpoint(process.address)?,
            None => Endpoint::plain(process.address),
        };
        Ok(Server {
            process: Process::Flood(process),
            endpoint,
        })
    }

    /// The processes holding the connections: the server, or nginx's workers.
    fn serving_pids(&self) -> Vec<u32> {
        match &self.process {
            Process::Flood(process) => vec![process.pid()],
            Process::Nginx(child) => {
                let children = format!("/proc/{0}/task/{0}/children", child.id());
                let workers: Vec<u32> = std::fs::read_to_string(children)
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok())
                    .collect();
                if workers.is_empty() {
                    vec![child.id()]
                } else {
                    workers
                }
            }
        }
    }

    fn status(&mut self) -> Option<Status> {
        match &mut self.process {
            Process::Flood(process) => process.status(),
            Process::Nginx(_) => None,
        }
    }

    fn closes(&self) -> Vec<CloseLine> {
        match &self.process {
            Process::Flood(process) => process.closes(),
            Process::Nginx(_) => Vec::new(),
        }
    }

    fn stop(self) {
        match self.process {
            Process::Flood(process) => drop(process.stop()),
            // SIGTERM, so that the master stops its workers too (a killed master leaves them).
            Process::Nginx(mut child) => {
                let stopped = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                if !stopped.is_ok_and(|status| status.success()) {
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
        }
    }
}

/// nginx in `scratch` under a soft limit of `limit` descriptors, its lingering close on
/// (nginx's default): `GET /` answers `hello`; an upload to `/` past 1 KiB the static `413` of
/// `body_bytes`; `POST /echo` reads the body (up to 2 MB, as a proxy does before it passes a
/// request on) and answers from a location of its own.
///
/// As this benchmark configures it (`debian` false): one worker with
/// `worker_connections` three quarters of `limit` (Debian's 768 under the usual 1,024), the
/// `413` from `open_file_cache` (without it each lingering `413` keeps its own descriptor of
/// the file until the connection ends, and nginx runs out of descriptors before its reuse of
/// lingering connections begins), no access log. As Debian's `nginx.conf` has it (`debian`):
/// `worker_processes auto`, `worker_connections 768`, `sendfile`, `tcp_nopush`, `gzip`, an
/// access log, every timeout nginx's own.
fn nginx(
    scratch: &Path,
    limit: u64,
    body_bytes: usize,
    debian: bool,
) -> std::io::Result<(Child, SocketAddr)> {
    let root = scratch.join(format!("nginx-{limit}-{}", u8::from(debian)));
    std::fs::create_dir_all(root.join("www"))?;
    std::fs::write(root.join("www/body.bin"), vec![b'x'; body_bytes])?;
    // The workers run as nobody and must read the body.
    for dir in [scratch, root.as_path(), root.join("www").as_path()] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tmp = root.display();
    let (main, http) = if debian {
        (
            "worker_processes auto;\nevents { worker_connections 768; }\n".to_string(),
            format!(
                "  sendfile on;\n  tcp_nopush on;\n  types_hash_max_size 2048;\n\
                   include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n\
                   access_log {tmp}/access.log;\n  gzip on;\n"
            ),
        )
    } else {
        (
            format!(
                "worker_processes 1;\nworker_rlimit_nofile {limit};\n\
                 events {{ worker_connections {}; }}\n",
                limit - limit / 4
            ),
            "  access_log off;\n  lingering_close on;\n  open_file_cache max=16;\n".to_string(),
        )
    };
    let conf = format!(
        "daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n{main}\
         http {{\n{http}  client_body_temp_path {tmp}/body;\n\
           proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n\
           uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n  server {{\n\
             listen 127.0.0.1:{port} backlog=1024;\n    root {tmp}/www;\n\
             client_max_body_size 1k;\n    error_page 413 /body.bin;\n\
             location = /body.bin {{ internal; }}\n\
             location = / {{ return 200 \"hello\"; }}\n\
             location = /echo {{ client_max_body_size 2m; proxy_pass http://127.0.0.1:{port}/echoed; }}\n\
             location = /echoed {{ return 200 \"read\"; }}\n  }}\n}}\n"
    );
    std::fs::write(root.join("nginx.conf"), conf)?;
    // The soft limit as a shell sets it (`ulimit -n`), and nginx in its place.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {limit} && exec nginx -p \"$0\" -c \"$0/nginx.conf\""
        ))
        .arg(&root)
        .stdout(Stdio::null())
        .spawn()?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(address).is_err() {
        if Instant::now() > deadline {
            return Err(std::io::Error::other("nginx did not listen"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, address))
}

/// Descriptors the processes `pids` have open.
fn open_fds(pids: &[u32]) -> usize {
    pids.iter()
        .map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count))
        .sum()
}

fn millis(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "-".into(),
        |at| format!("{:.1} ms", at.as_secs_f64() * 1e3),
    )
}

fn answered(probes: &Probes) -> String {
    let share = 100.0 * probes.answered.len() as f64 / probes.attempts().max(1) as f64;
    format!(
        "{} of {} ({share:.1} %)",
        probes.answered.len(),
        probes.attempts()
    )
}

/// The p99 under the flood over the p99 unattacked.
fn ratio(row: &Row) -> String {
    match (row.probes.percentile(99.0), row.unattacked.percentile(99.0)) {
        (Some(flooded), Some(calm)) if !calm.is_zero() => {
            format!("{:.1}x", flooded.as_secs_f64() / calm.as_secs_f64())
        }
        _ => "-".into(),
    }
}

/// One run as a row of the table.
fn row(row: &Row) -> String {
    let [before, during, after] = row.fds;
    let reported = |name: &str| row.status.as_ref().map(|status| status.get(name));
    let guards = ["first-byte", "pace", "keep-alive", "send"]
        .map(|guard| reported(guard).map_or_else(|| "-".into(), |count| count.to_string()))
        .join(" / ");
    // A plain server reclaims nothing and has no guard; nginx does not say.
    let lingering = matches!(
        row.target,
        Target::Flood(kind) if kind != Kind::AxumPlain
    );
    let cells = [
        row.limit.to_string(),
        format!("{} {}", row.connections, row.kind.name()),
        row.target.name().to_string(),
        answered(&row.probes),
        millis(row.probes.percentile(50.0)),
        millis(row.probes.percentile(99.0)),
        millis(row.unattacked.percentile(99.0)),
        ratio(row),
        format!("{} of {}", row.curls_whole, row.curls),
        format!("{before} / {during} / {after}"),
        if lingering {
            reported("reclaimed").map_or_else(String::new, |count| count.to_string())
        } else {
            String::new()
        },
        if lingering { guards } else { String::new() },
    ];
    format!("| {} |", cells.join(" | "))
}

fn print_table(rows: &[Row]) {
    println!(
        "| limit | flood | server | answered | p50 | p99 | p99 unattacked | p99 ratio | curl whole \
         | descriptors before / during / after | reclaimed | ended by first byte / pace / keep-alive / send |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for each in rows {
        println!("{}", row(each));
    }
}

fn parse(words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        flood_server: PathBuf::new(),
        targets: vec![
            Target::Flood(Kind::AxumPlain),
            Target::Flood(Kind::AxumLinger),
            Target::Flood(Kind::HyperLinger),
            Target::Flood(Kind::AxumServerTls),
            Target::Nginx,
            Target::NginxDebian,
        ],
        cases: vec![(1024, 1500), (20000, 12000)],
        kinds: vec![
            Hostile::Idle,
            Hostile::Slowloris,
            Hostile::SlowBody,
            Hostile::KeepAlive,
            Hostile::Mix,
        ],
        seconds: 15,
        unattacked_seconds: 5,
        curls: 5,
        body_bytes: 16 << 10,
        capacity: None,
        server_args: Vec::new(),
    };
    let mut words = words;
    while let Some(flag) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let invalid = |what: &str| format!("{flag} {value:?}: {what}");
        let list = || value.split(',').filter(|item| !item.is_empty());
        match flag.as_str() {
            "--flood-server" => args.flood_server = PathBuf::from(&value),
            "--server-args" => {
                args.server_args = value.split_whitespace().map(String::from).collect();
            }
            "--servers" => {
                args.targets = list()
                    .map(|name| Target::named(name).ok_or_else(|| invalid("no such server")))
                    .collect::<Result<_, _>>()?;
            }
            "--kinds" => {
                args.kinds = list()
                    .map(|name| Hostile::named(name).ok_or_else(|| invalid("no such kind")))
                    .collect::<Result<_, _>>()?;
            }
            "--cases" => {
                args.cases = list()
                    .map(|case| {
                        let (limit, flood) = case.split_once(':')?;
                        Some((limit.parse().ok()?, flood.parse().ok()?))
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid("not LIMIT:CONNECTIONS,..."))?;
            }
            "--seconds" | "--unattacked-seconds" | "--curls" | "--body-bytes" | "--capacity" => {
                let number: u64 = value.parse().map_err(|_| invalid("not a whole number"))?;
                match flag.as_str() {
                    "--seconds" => args.seconds = number.max(1),
                    "--unattacked-seconds" => args.unattacked_seconds = number.max(1),
                    "--curls" => args.curls = number as usize,
                    "--capacity" => args.capacity = Some(number as usize),
                    _ => args.body_bytes = number as usize,
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.flood_server.as_os_str().is_empty() {
        return Err("--flood-server is required".into());
    }
    Ok(args)
}
