//! `Lingerer::accept` out of descriptors, for real: the process's soft limit lowered and every
//! descriptor taken, a client waiting in the listen queue. With a lingering close to reclaim,
//! it reclaims it and accepts; with nothing to reclaim, it waits for a descriptor instead of
//! failing, so that `lingerer.accept(&listener).await?` keeps a server up. Alone in its test
//! binary, each test holding the limit's lock: the limit is the whole process's.
#![cfg(unix)]

// The hyper server's routes and clients; its `Server`, which accepts by itself, is life.rs's.
#[allow(dead_code)]
mod common;

use common::{client, get, read_until};
use linger_tokio::{CloseReport, DescriptorLimit, Lingerer, Policy};
use std::fs::File;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Held by the test that lowers the limit, from before its runtime is built (which takes
/// descriptors too) until the limit is restored.
static LIMIT: Mutex<()> = Mutex::new(());

/// Runs `test` on a runtime of its own, holding [`LIMIT`].
fn alone(test: impl Future<Output = ()>) {
    let _limit = LIMIT.lock().unwrap_or_else(PoisonError::into_inner);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test);
}

/// The soft `RLIMIT_NOFILE` lowered to `soft` until dropped, then restored.
struct LoweredLimit {
    before: DescriptorLimit,
}

impl LoweredLimit {
    fn to(soft: u64) -> LoweredLimit {
        let before = linger_io::limits::descriptor_limit().expect("getrlimit");
        set_soft_limit(soft.min(before.hard), before.hard);
        LoweredLimit { before }
    }
}

impl Drop for LoweredLimit {
    fn drop(&mut self) {
        set_soft_limit(self.before.soft, self.before.hard);
    }
}

/// Sets the soft `RLIMIT_NOFILE`, keeping the hard one.
fn set_soft_limit(soft: u64, hard: u64) {
    linger_io::limits::set_descriptor_limit(DescriptorLimit { soft, hard }).expect("setrlimit");
}

/// Opens `/dev/null` until the process is out of descriptors (`EMFILE`); the files, to be
/// dropped to free descriptors again.
fn take_every_descriptor() -> Vec<File> {
    let mut taken = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => taken.push(file),
            Err(error) if error.raw_os_error() == Some(libc::EMFILE) => return taken,
            Err(error) => panic!("open /dev/null: {error}"),
        }
        assert!(taken.len() < 4096, "the lowered limit did not hold");
    }
}

/// A listener on loopback and a client waiting in its listen queue.
async fn listener_with_a_client() -> (TcpListener, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    (listener, client)
}

#[test]
fn out_of_descriptors_accept_reclaims_a_lingering_close_and_accepts() {
    alone(async {
        let lingerer = Lingerer::new(Policy::default());
        // A close lingering for its silent client's EOF, holding a descriptor.
        let (listener, _silent) = listener_with_a_client().await;
        let (mut stream, _) = lingerer.accept(&listener).await.expect("accept");
        stream.write_all(b"answer").await.expect("write");
        drop(stream);
        assert_eq!(lingerer.counts().in_flight, 1);
        let _waiting =
            TcpStream::connect(listener.local_addr().expect("address")).expect("connect");

        let lowered = LoweredLimit::to(256);
        let taken = take_every_descriptor();
        let accepted =
            tokio::time::timeout(Duration::from_secs(10), lingerer.accept(&listener)).await;
        drop((taken, lowered));

        let (_stream, _) = accepted
            .expect("accept went on")
            .expect("accepted after reclaiming");
        let counts = lingerer.counts();
        assert_eq!((counts.reclaimed, counts.in_flight), (1, 0), "{counts:?}");
    });
}

#[test]
fn out_of_descriptors_with_nothing_to_reclaim_accept_waits_for_one_instead_of_failing() {
    alone(async {
        let lingerer = Lingerer::new(Policy::default());
        let (listener, _client) = listener_with_a_client().await;

        let lowered = LoweredLimit::to(256);
        let mut taken = take_every_descriptor();
        let accepting = tokio::spawn({
            let lingerer = lingerer.clone();
            async move { lingerer.accept(&listener).await.map(|(_, peer)| peer) }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let failed_at_once = accepting.is_finished();
        // One descriptor free: the accept after the pause takes it.
        taken.pop();
        let accepted = tokio::time::timeout(Duration::from_secs(10), accepting).await;
        drop((taken, lowered));

        assert!(
            !failed_at_once,
            "accept returned with descriptors still out"
        );
        let peer = accepted
            .expect("accept went on")
            .expect("the accepting task")
            .expect("accepted once a descriptor was free");
        assert!(peer.ip().is_loopback());
        assert_eq!(lingerer.counts().reclaimed, 0);
    });
}

#[test]
fn out_of_descriptors_the_silent_then_the_idle_give_way_and_requests_being_answered_never() {
    alone(async {
        let (lingerer, reports) = recording();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let timeout = Duration::from_secs(10);
        // Every client connects now, while descriptors are to be had.
        let silent = client(address, timeout);
        let mut idle = client(address, timeout);
        let slow = |client: TcpStream| {
            std::thread::spawn(move || {
                let mut client = client;
                // Longer than the whole test takes to run out of descriptors.
                get(&mut client, "/slow/6000");
                read_until(&mut client, "done").0
            })
        };
        let answered = slow(client(address, timeout));
        for _ in 0..3 {
            common::serve(lingerer.accept(&listener).await.expect("accept").0);
        }
        let idle_answer = tokio::task::spawn_blocking(move || {
            get(&mut idle, "/");
            let answer = read_until(&mut idle, "ok").0;
            (idle, answer)
        });
        let (idle, idle_answer) = idle_answer.await.expect("idle client");
        assert!(idle_answer.ends_with("ok"));
        let queued = [
            slow(client(address, timeout)),
            slow(client(address, timeout)),
        ];
        let last = client(address, timeout);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let lowered = LoweredLimit::to(256);
        let taken = take_every_descriptor();
        // The silent connection gives way to the first in the queue, the idle one to the
        // second; then only requests being answered are left, and nothing gives way.
        for _ in 0..2 {
            let accepted = tokio::time::timeout(timeout, lingerer.accept(&listener)).await;
            common::serve(accepted.expect("accept went on").expect("accepted").0);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let waited = tokio::time::timeout(Duration::from_millis(1500), lingerer.accept(&listener));
        let nothing_gave_way = waited.await.is_err();
        drop((taken, lowered));

        assert!(nothing_gave_way, "a request being answered was reclaimed");
        let ended = |mut client: TcpStream| {
            tokio::task::spawn_blocking(move || read_until(&mut client, "").1)
        };
        assert!(
            ended(silent).await.expect("silent client"),
            "the silent gave way"
        );
        assert!(ended(idle).await.expect("idle client"), "the idle gave way");
        for slow in [answered].into_iter().chain(queued) {
            let answer = tokio::task::spawn_blocking(move || slow.join().expect("slow client"));
            assert!(
                answer.await.expect("slow").ends_with("done"),
                "answered whole"
            );
        }
        let reclaimed: Vec<CloseReport> = reports
            .lock()
            .expect("reports")
            .iter()
            .filter(|report| report.reclaimed)
            .copied()
            .collect();
        assert_eq!(reclaimed.len(), 2, "{reclaimed:?}");
        assert_eq!(lingerer.counts().reclaimed, 2);
        drop(last);
    });
}

#[test]
fn out_of_descriptors_a_connection_whose_request_waits_unread_does_not_give_way() {
    alone(async {
        let lingerer = Lingerer::new(Policy::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let timeout = Duration::from_secs(10);
        // The older connection's request is in before it is accepted, the younger sends
        // nothing; the server's tasks for them have not run yet (a runtime under load).
        let mut asking = client(address, timeout);
        get(&mut asking, "/");
        let (unread, _) = lingerer.accept(&listener).await.expect("accept");
        let silent = client(address, timeout);
        let (quiet, _) = lingerer.accept(&listener).await.expect("accept");
        let _waiting = client(address, timeout);
        // Long enough that a first byte could have come: both may give way.
        tokio::time::sleep(linger_io::pressure::REQUEST_EN_ROUTE).await;

        let lowered = LoweredLimit::to(256);
        let taken = take_every_descriptor();
        let accepting = tokio::spawn({
            let lingerer = lingerer.clone();
            async move { lingerer.accept(&listener).await.map(|_| ()) }
        });
        // Out of descriptors, the accept asks both to give way, the older first; then their
        // tasks run.
        tokio::time::sleep(Duration::from_millis(300)).await;
        common::serve(unread);
        common::serve(quiet);
        let accepted = tokio::time::timeout(timeout, accepting).await;
        drop((taken, lowered));

        accepted
            .expect("accept went on")
            .expect("the accepting task")
            .expect("accepted once the silent one gave way");
        let answer = tokio::task::spawn_blocking(move || read_until(&mut asking, "ok").0);
        assert!(
            answer.await.expect("client").ends_with("ok"),
            "the request that waited unread was answered"
        );
        let ended = tokio::task::spawn_blocking(move || {
            let mut silent = silent;
            read_until(&mut silent, "").1
        });
        assert!(ended.await.expect("client"), "the silent one gave way");
    });
}

#[test]
fn out_of_descriptors_under_an_accept_loop_linger_does_not_own_a_connection_gives_way_as_it_goes_idle()
 {
    alone(async {
        let (lingerer, reports) = recording();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let timeout = Duration::from_secs(10);
        // axum-server's loop, which retries an accept error after 50 ms and never tells
        // linger; it accepts one connection per permit, so that the test says when.
        let permits = Arc::new(tokio::sync::Semaphore::new(0));
        tokio::spawn({
            let (lingerer, permits) = (lingerer.clone(), Arc::clone(&permits));
            async move {
                while let Ok(permit) = permits.acquire().await {
                    permit.forget();
                    loop {
                        match listener.accept().await {
                            Ok((stream, _)) => break common::serve(lingerer.stream(stream)),
                            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                }
            }
        });
        let ask = |mut client: TcpStream, path: &'static str, until: &'static str| {
            get(&mut client, path);
            std::thread::spawn(move || read_until(&mut client, until).0)
        };
        // A request worked on for longer than the test takes to run out of descriptors.
        let working = ask(client(address, timeout), "/slow/1500", "done");
        permits.add_permits(1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Two requests in the listen queue, and one descriptor left for the first.
        let (first, second) = (client(address, timeout), client(address, timeout));
        let lowered = LoweredLimit::to(256);
        let mut taken = take_every_descriptor();
        taken.pop();
        let first = ask(first, "/", "ok");
        let second = ask(second, "/", "ok");
        permits.add_permits(2);
        // The first, accepted with the last descriptor while the other is worked on, is
        // answered; as it goes idle, it gives way to the second.
        let answers = tokio::task::spawn_blocking(move || {
            [first, second].map(|client| client.join().expect("client"))
        });
        let answers = tokio::time::timeout(timeout, answers).await;
        drop((taken, lowered));

        let answers = answers.expect("both answered in time").expect("clients");
        assert!(
            answers.iter().all(|answer| answer.ends_with("ok")),
            "{answers:?}"
        );
        let working = tokio::task::spawn_blocking(move || working.join().expect("client"));
        assert!(
            working.await.expect("client").ends_with("done"),
            "answered whole"
        );
        let reclaimed = reports
            .lock()
            .expect("reports")
            .iter()
            .filter(|report| report.reclaimed)
            .count();
        assert_eq!(reclaimed, 1, "the first gave way, and only it");
    });
}

/// A lingerer of the default policy whose reports are kept.
fn recording() -> (Lingerer, Arc<Mutex<Vec<CloseReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let lingerer = Lingerer::builder(Policy::default())
        .on_outcome(move |report| sink.lock().expect("reports").push(*report))
        .build();
    (lingerer, reports)
}

#[test]
fn two_lingerers_share_the_process_descriptors_and_one_reclaims_the_others_silent_connection() {
    alone(async {
        let (first, _) = recording();
        let (second, second_reports) = recording();
        // The second server's connection has sent nothing: it gives way first.
        let (second_listener, silent) = listener_with_a_client().await;
        let (live, _) = second.accept(&second_listener).await.expect("accept");
        common::serve(live);
        let (first_listener, _waiting) = listener_with_a_client().await;
        tokio::time::sleep(Duration::from_millis(100)).await;

        let lowered = LoweredLimit::to(256);
        let taken = take_every_descriptor();
        let accepted =
            tokio::time::timeout(Duration::from_secs(10), first.accept(&first_listener)).await;
        drop((taken, lowered));

        accepted
            .expect("accept went on")
            .expect("accepted once the other server's connection gave way");
        let ended = tokio::task::spawn_blocking(move || {
            let mut silent = silent;
            silent
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            read_until(&mut silent, "").1
        });
        assert!(ended.await.expect("silent client"), "it read the end");
        second.finished().await;
        let reports = second_reports.lock().expect("reports").clone();
        assert!(reports.iter().all(|report| report.reclaimed), "{reports:?}");
        assert_eq!(second.counts().reclaimed, 1);
        assert_eq!(first.counts().reclaimed, 0, "its own closes: none");
    });
}
