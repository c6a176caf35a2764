//! `flood`: the benchmark of `benches/flood/run.sh`. Hostile clients hold more connections
//! than a server may open descriptors, while a well-behaved client sends `GET /` on a fresh
//! connection every 20 ms (2 s timeout each) and curl uploads 2 MB every few seconds,
//! expecting the whole early `413`. The servers run back to back, each in a process of its
//! own under the descriptor limit of the case: axum on its own listener, axum on a
//! `LingerListener`, hyper accepting with `Lingerer::accept` (these the `flood-server`
//! binary; mio and std too, if named), and nginx (`lingering_close on`, a
//! static `413` from `open_file_cache`, one worker with `worker_connections` three quarters
//! of the limit, as Debian configures it).
//!
//! ```sh
//! flood --flood-server target/release/flood-server [--servers axum-plain,axum-linger,nginx]
//!     [--cases 1024:1500,20000:12000] [--kinds uploader,idle,zero-window] [--seconds 15]
//!     [--curls 5] [--body-bytes 16384] [--capacity N]
//! ```
//!
//! Prints each run's row as it ends, then the table of `docs/performance.md`.

use linger_check::sockets::clients::{UploadFile, curl_post};
use linger_flood::clients::{self, Flood, Hostile, Probes};
use linger_flood::server::Kind;
use linger_flood::{ServerProcess, Status};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: flood --flood-server PATH [--servers axum-plain,axum-linger,nginx] \
                     [--cases LIMIT:CONNECTIONS,...] [--kinds uploader,idle,zero-window] \
                     [--seconds N] [--curls N] [--body-bytes N] [--capacity N]";

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Flood(Kind),
    Nginx,
}

impl Target {
    fn named(name: &str) -> Option<Target> {
        match name {
            "nginx" => Some(Target::Nginx),
            name => Kind::named(name).map(Target::Flood),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Flood(kind) => kind.name(),
            Target::Nginx => "nginx",
        }
    }
}

struct Args {
    flood_server: PathBuf,
    targets: Vec<Target>,
    cases: Vec<(u64, usize)>,
    kinds: Vec<Hostile>,
    seconds: u64,
    curls: usize,
    body_bytes: usize,
    /// The lingerer's capacity, for `flood-server`; its default if `None`.
    capacity: Option<usize>,
}

/// What one run measured.
struct Row {
    limit: u64,
    connections: usize,
    kind: Hostile,
    target: Target,
    probes: Probes,
    curls_whole: usize,
    curls: usize,
    fds: [usize; 3],
    reclaimed: Option<u64>,
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
                match run(
                    &args,
                    &runtime,
                    &scratch,
                    &upload,
                    target,
                    limit,
                    connections,
                    kind,
                ) {
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
#[allow(clippy::too_many_arguments)]
fn run(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    scratch: &Path,
    upload: &Arc<UploadFile>,
    target: Target,
    limit: u64,
    connections: usize,
    kind: Hostile,
) -> std::io::Result<Row> {
    let mut server = Server::start(args, scratch, target, limit)?;
    let address = server.address();
    let pid = server.serving_pid();
    let before = open_fds(pid);
    let flood = runtime.block_on(async { Flood::start(address, kind, connections) });
    // Let the flood build up: about 2,000 connections a second here, 5 s at least.
    std::thread::sleep(Duration::from_secs((connections as u64 / 2_000).max(5)));
    let window = Duration::from_secs(args.seconds);
    let curls = curl_uploads(address, upload, args.curls, window, args.body_bytes);
    let probes = runtime.block_on(clients::probe(
        address,
        Duration::from_millis(20),
        Duration::from_secs(2),
        usize::MAX,
        Instant::now() + window,
    ));
    let curls_whole = curls.join().unwrap_or(0);
    let during = open_fds(pid);
    let reclaimed = server.status().map(|status| status.get("reclaimed"));
    let counts = runtime.block_on(flood.stop());
    eprintln!(
        "   {} hostile connections made, {} refused",
        counts.connected.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed)
    );
    // Every descriptor back within 10 s of the flood's end.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = open_fds(pid);
    while after > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        after = open_fds(pid);
    }
    server.stop();
    Ok(Row {
        limit,
        connections,
        kind,
        target,
        probes,
        curls_whole,
        curls: args.curls,
        fds: [before, during, after],
        // A plain server reclaims nothing; nginx does not say.
        reclaimed: reclaimed.filter(|_| !matches!(target, Target::Flood(Kind::AxumPlain))),
    })
}

/// Runs `count` curl uploads of `upload`, spread over `window`, on a thread; how many got
/// the whole early `413` (`body_bytes` of body, curl's exit status 0).
fn curl_uploads(
    address: SocketAddr,
    upload: &Arc<UploadFile>,
    count: usize,
    window: Duration,
    body_bytes: usize,
) -> std::thread::JoinHandle<usize> {
    let upload = Arc::clone(upload);
    let every = window / (count.max(1) as u32 + 1);
    std::thread::spawn(move || {
        let url = format!("http://{address}/");
        (0..count)
            .filter(|_| {
                std::thread::sleep(every);
                curl_post(&url, &upload, None).is(413, body_bytes)
            })
            .count()
    })
}

/// A server process under a descriptor limit.
enum Server {
    Flood(ServerProcess),
    Nginx { child: Child, address: SocketAddr },
}

impl Server {
    fn start(args: &Args, scratch: &Path, target: Target, limit: u64) -> std::io::Result<Server> {
        let Target::Flood(kind) = target else {
            return nginx(scratch, limit, args.body_bytes);
        };
        let mut words = vec![
            "--server".to_string(),
            kind.name().into(),
            "--nofile".into(),
            limit.to_string(),
            "--body-bytes".into(),
            args.body_bytes.to_string(),
            "--page-from-file".into(),
        ];
        if let Some(capacity) = args.capacity {
            words.extend(["--capacity".into(), capacity.to_string()]);
        }
        ServerProcess::start(&args.flood_server, &words).map(Server::Flood)
    }

    fn address(&self) -> SocketAddr {
        match self {
            Server::Flood(process) => process.address,
            Server::Nginx { address, .. } => *address,
        }
    }

    /// The process holding the connections: the server, or nginx's worker.
    fn serving_pid(&self) -> u32 {
        match self {
            Server::Flood(process) => process.pid(),
            Server::Nginx { child, .. } => {
                let children = format!("/proc/{0}/task/{0}/children", child.id());
                std::fs::read_to_string(children)
                    .ok()
                    .and_then(|pids| pids.split_whitespace().next()?.parse().ok())
                    .unwrap_or(child.id())
            }
        }
    }

    fn status(&mut self) -> Option<Status> {
        match self {
            Server::Flood(process) => process.status(),
            Server::Nginx { .. } => None,
        }
    }

    fn stop(self) {
        match self {
            Server::Flood(process) => drop(process.stop()),
            // SIGTERM, so that the master stops its worker too (a killed master leaves it).
            Server::Nginx { mut child, .. } => {
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

/// nginx in `scratch`, one worker under `limit` descriptors with `worker_connections` three
/// quarters of it (Debian's 768 under the usual 1,024), its lingering close on (nginx's
/// default): `GET /` answers `hello`, an upload past 1 KiB the static `413` of `body_bytes`,
/// from `open_file_cache` (without it each lingering `413` keeps its own descriptor of the
/// file until the connection ends, and nginx runs out of descriptors before its reuse of
/// lingering connections begins).
fn nginx(scratch: &Path, limit: u64, body_bytes: usize) -> std::io::Result<Server> {
    let connections = limit - limit / 4;
    let root = scratch.join(format!("nginx-{limit}"));
    std::fs::create_dir_all(root.join("www"))?;
    std::fs::write(root.join("www/body.bin"), vec![b'x'; body_bytes])?;
    // The worker runs as nobody and must read the body.
    for dir in [scratch, root.as_path(), root.join("www").as_path()] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tmp = root.display();
    let conf = format!(
        "worker_processes 1;\nworker_rlimit_nofile {limit};\ndaemon off;\n\
         pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n\
         events {{ worker_connections {connections}; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n\
           proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n\
           uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n\
           lingering_close on;\n  open_file_cache max=16;\n  server {{\n    listen 127.0.0.1:{port} backlog=1024;\n\
             root {tmp}/www;\n    client_max_body_size 1k;\n\
             error_page 413 /body.bin;\n    location = /body.bin {{ internal; }}\n\
             location = / {{ return 200 \"hello\"; }}\n  }}\n}}\n"
    );
    std::fs::write(root.join("nginx.conf"), conf)?;
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&root)
        .arg("-c")
        .arg(root.join("nginx.conf"))
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
    Ok(Server::Nginx { child, address })
}

/// Descriptors process `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
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

/// One run as a row of the table.
fn row(row: &Row) -> String {
    let [before, during, after] = row.fds;
    let cells = [
        row.limit.to_string(),
        format!("{} {}", row.connections, row.kind.name()),
        row.target.name().to_string(),
        answered(&row.probes),
        millis(row.probes.percentile(50.0)),
        millis(row.probes.percentile(99.0)),
        format!("{} of {}", row.curls_whole, row.curls),
        format!("{before} / {during} / {after}"),
        row.reclaimed
            .map_or_else(String::new, |count| count.to_string()),
    ];
    format!("| {} |", cells.join(" | "))
}

fn print_table(rows: &[Row]) {
    println!(
        "| limit | flood | server | answered | p50 | p99 | curl whole | descriptors before / during / after | reclaimed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
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
            Target::Nginx,
        ],
        cases: vec![(1024, 1500), (65536, 12000)],
        kinds: Hostile::ALL.to_vec(),
        seconds: 15,
        curls: 5,
        body_bytes: 16 << 10,
        capacity: None,
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
            "--seconds" | "--curls" | "--body-bytes" | "--capacity" => {
                let number: u64 = value.parse().map_err(|_| invalid("not a whole number"))?;
                match flag.as_str() {
                    "--seconds" => args.seconds = number.max(1),
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
