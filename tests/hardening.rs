//! Hardening (issue #13): no client can stop the log, a full disk never bricks it, and
//! agencies get fair shares. Each test here failed before the fix it pins.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::TestLog;
use huella::http::Limits;
use huella::ledger::Options;
use huella::store::{FaultyStore, MemoryStore, SledStore, Step, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// answer_of sends `request` on a new connection and returns what the server answers
/// first (at most 4 KiB).
async fn answer_of(log: &TestLog, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(log.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut response))
        .await
        .expect("the server answers")
        .unwrap();
    String::from_utf8_lossy(&response[..n]).into_owned()
}

/// A `Content-Length` beyond the body limit is refused from the header alone, with 413,
/// not after the request timeout with 408: the client never sends the body.
#[tokio::test]
async fn a_huge_content_length_gets_413_at_once() {
    let limits = Limits {
        request_timeout: Duration::from_secs(3600),
        ..Limits::default()
    };
    let log = TestLog::start(Arc::new(MemoryStore::new()), limits).await;
    for path in ["/v1/entries", "/checkpoint", "/nowhere"] {
        let answer = answer_of(
            &log,
            format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                 content-length: 1000000000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains("\"error\":\"too_large\""),
            "{path}: {answer}"
        );
        assert!(
            answer.contains("524288"),
            "{path}: names the limit: {answer}"
        );
    }
    // Exactly at the limit is not refused by the header check.
    let mut request =
        b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-length: 524288\r\n\r\n".to_vec();
    request.resize(request.len() + 524288, b'x');
    let answer = answer_of(&log, &request).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(log.checkpoint().await.size, 0);
    log.stop().await;
}

/// readiness is `/readyz`'s status and body.
async fn readiness(log: &TestLog) -> (u16, serde_json::Value) {
    let response = log.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// until polls `check` every 10 ms for up to 20 s.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A transient failure (too many open files) is retried while the submitter waits: it gets
/// its receipt, not 503, and writes were never refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_write_failure_is_retried_while_the_submitter_waits() {
    let store = Arc::new(FaultyStore::new());
    let log = TestLog::start(store.clone(), Limits::default()).await;
    let (agencies, _) = common::agencies();
    log.log_events(0..3).await;
    store.fail_writes(Some(libc::EMFILE));
    let submission = common::sealed(&agencies, 3);
    let client = log.client.clone();
    let waiting = tokio::spawn(async move { client.submit(&submission).await });
    // Past several retries, still waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    store.fail_writes(None);
    let submitted = waiting
        .await
        .unwrap()
        .expect("the waiting submission is logged");
    assert!(submitted.created);
    assert_eq!(submitted.receipt.index, 3);
    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("huella_write_failures_total 0"),
        "{metrics}"
    );
    assert_eq!(log.check_log().await.0.size, 4);
    log.stop().await;
}

/// A lasting failure (a full disk) refuses writes with 503 while every read of what is
/// durable keeps working and `/readyz` says which half is down; once the fault clears,
/// writes resume by themselves, with no restart, and nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_write_failure_keeps_reads_and_writes_resume_when_it_clears() {
    let store = Arc::new(FaultyStore::new());
    let log = TestLog::start(store.clone(), Limits::default()).await;
    let (agencies, _) = common::agencies();
    let receipts = log.log_events(0..5).await;
    store.fail_writes(Some(libc::ENOSPC));
    for n in 5..8 {
        let response = log
            .post(serde_json::to_string(&common::sealed(&agencies, n)).unwrap())
            .await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unavailable", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("No space left"),
            "{body}"
        );
    }
    // Liveness stays up; readiness says reads work and writes do not.
    assert_eq!(log.get("/healthz").await.status(), 200);
    let (status, ready) = readiness(&log).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["reads"]["ok"], true, "{ready}");
    assert_eq!(ready["reads"]["tree_size"], 5, "{ready}");
    assert_eq!(ready["writes"]["ok"], false, "{ready}");
    // Every read of what is durable answers.
    for path in [
        "/v1/entries/4",
        "/v1/entries?start=0&limit=1000",
        "/v1/proofs/inclusion?index=4&tree_size=5",
        "/v1/proofs/consistency?from=1&to=5",
        "/v1/receipts/4",
        "/checkpoint",
    ] {
        assert_eq!(log.get(path).await.status(), 200, "GET {path}");
    }
    assert_eq!(log.check_log().await.0.size, 5);
    // Still refused a while later: the fault has not cleared.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(readiness(&log).await.0, 503);

    store.fail_writes(None);
    until("writes resume", || async { readiness(&log).await.0 == 200 }).await;
    let (_, ready) = readiness(&log).await;
    assert_eq!(ready["writes"]["ok"], true, "{ready}");
    let submitted = log
        .client
        .submit(&common::sealed(&agencies, 5))
        .await
        .unwrap();
    assert_eq!(submitted.receipt.index, 5);
    let (checkpoint, _) = log.check_log().await;
    assert_eq!(checkpoint.size, 6);
    for receipt in &receipts {
        let leaf = log
            .get(&format!("/v1/entries/{}", receipt.index))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(huella_core::merkle::record_hash(&leaf), receipt.leaf_hash);
    }
    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("huella_writes_refused 0"), "{metrics}");
    assert!(
        metrics.contains("huella_write_failures_total 1"),
        "{metrics}"
    );
    log.stop().await;
}

/// The outside attack's finding: the checkpoint copy failed to write once (too many open
/// files) and every later submission got 503 until a restart. A copy that cannot be written
/// refuses writes only until it can, and then writes resume by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_checkpoint_copy_refuses_writes_only_until_it_can_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("checkpoint");
    let options = Options {
        batch_wait: Duration::from_millis(1),
        checkpoint_copy: Some(copy.clone()),
        ..Options::default()
    };
    let log = TestLog::start_with(Arc::new(MemoryStore::new()), Limits::default(), options).await;
    let (agencies, _) = common::agencies();
    log.log_events(0..2).await;
    let copied = |size: u64| {
        let copy = copy.clone();
        let log_key = log.log_key.clone();
        move || {
            let copy = copy.clone();
            let log_key = log_key.clone();
            async move {
                std::fs::read(&copy).is_ok_and(|kept| {
                    huella_core::checkpoint::open(&kept, &log_key)
                        .is_ok_and(|(c, _)| c.size == size)
                })
            }
        }
    };
    until("the copy is written", copied(2)).await;
    // The copy is written through `checkpoint.tmp`: a directory there makes it fail, and not
    // transiently.
    let blocker = dir.path().join("checkpoint.tmp");
    std::fs::create_dir(&blocker).unwrap();
    // The batch itself is durable and answered; the copy after it fails.
    let submitted = log
        .client
        .submit(&common::sealed(&agencies, 2))
        .await
        .unwrap();
    assert_eq!(submitted.receipt.index, 2);
    until("writes are refused", || async {
        readiness(&log).await.0 == 503
    })
    .await;
    let response = log
        .post(serde_json::to_string(&common::sealed(&agencies, 3)).unwrap())
        .await;
    assert_eq!(response.status(), 503);

    std::fs::remove_dir(&blocker).unwrap();
    until("writes resume", || async { readiness(&log).await.0 == 200 }).await;
    assert_eq!(
        log.client
            .submit(&common::sealed(&agencies, 3))
            .await
            .unwrap()
            .receipt
            .index,
        3
    );
    // The copy holds the newest checkpoint again (written just after the answer).
    until("the copy is written", copied(4)).await;
    assert_eq!(log.check_log().await.0.size, 4);
    log.stop().await;
}

/// The real sled store, given a transient error in the middle of a commit (after its
/// records are applied, before the flush): the retry finds the batch whole, makes it
/// durable, and the submitter gets its receipt; the log verifies after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_recovers_from_a_transient_error_in_the_middle_of_a_commit() {
    for step in [
        Step::BeforeTreeHashes,
        Step::AfterTreeHashes,
        Step::AfterRecords,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let options = Options {
            batch_wait: Duration::from_millis(1),
            checkpoint_copy: Some(dir.path().join("checkpoint")),
            ..Options::default()
        };
        let armed = Arc::new(AtomicBool::new(false));
        let trigger = armed.clone();
        let store = SledStore::open(&db)
            .unwrap()
            .with_step_hook(Arc::new(move |at| {
                if at == step && trigger.swap(false, Ordering::SeqCst) {
                    return Err(StoreError::io(
                        "injected",
                        std::io::Error::from_raw_os_error(libc::EMFILE),
                    ));
                }
                Ok(())
            }));
        let log = TestLog::start_with(Arc::new(store), Limits::default(), options.clone()).await;
        let (agencies, _) = common::agencies();
        log.log_events(0..3).await;
        armed.store(true, Ordering::SeqCst);
        let submitted = log.client.submit(&common::sealed(&agencies, 3)).await;
        let submitted = submitted.unwrap_or_else(|e| panic!("{step:?}: {e}"));
        assert_eq!(submitted.receipt.index, 3, "{step:?}");
        assert!(!armed.load(Ordering::SeqCst), "{step:?}: the fault fired");
        log.log_events(4..6).await;
        log.stop().await;
        let log = TestLog::start_with(
            Arc::new(common::open_sled(&db).unwrap()),
            Limits::default(),
            options,
        )
        .await;
        assert_eq!(log.check_log().await.0.size, 6, "{step:?}");
        log.stop().await;
    }
}

/// connect_from opens a TCP connection to `server` from the loopback address `from`
/// (127.0.0.2, say: all of 127/8 is this host), with a small receive buffer so that what a
/// client does not read stays on the server's side.
fn connect_from(from: [u8; 4], server: &str) -> std::io::Result<std::net::TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.bind(&std::net::SocketAddr::from((from, 0)).into())?;
    let server: std::net::SocketAddr = server.parse().unwrap();
    socket.connect(&server.into())?;
    Ok(socket.into())
}

/// read_answer reads what the server sends first on `stream`, within 10 s.
fn read_answer(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read as _;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// open_connections is the server's `huella_connections` gauge.
async fn open_connections(log: &TestLog) -> u64 {
    let metrics = log.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("huella_connections "))
        .and_then(|n| n.trim().parse().ok())
        .expect("huella_connections in /metrics")
}

/// One address over its connection cap gets 429 and is closed; others are served, and the
/// address is served again once it closes some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_over_its_connection_cap_gets_429_and_others_are_served() {
    let limits = Limits {
        max_connections_per_address: 8,
        ..Limits::default()
    };
    let log = TestLog::start(Arc::new(MemoryStore::new()), limits).await;
    let addr = log.base.trim_start_matches("http://").to_string();
    let held: Vec<_> = tokio::task::block_in_place(|| {
        (0..8)
            .map(|_| connect_from([127, 0, 0, 2], &addr).unwrap())
            .collect()
    });
    // The server counts a connection once it accepts it: wait until all eight are in.
    until("eight connections open", || async {
        open_connections(&log).await >= 9 // the eight, and this scrape's own
    })
    .await;
    let answer = tokio::task::block_in_place(|| {
        let mut ninth = connect_from([127, 0, 0, 2], &addr).unwrap();
        read_answer(&mut ninth)
    });
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    // Another address is served as before.
    assert_eq!(log.get("/readyz").await.status(), 200);
    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("huella_connections_refused_total{code=\"per_address\"} 1"),
        "{metrics}"
    );
    drop(held);
    until("the eight connections close", || async {
        // This scrape's own, and perhaps another idle one of the test's client pool.
        open_connections(&log).await <= 2
    })
    .await;
    let answer = tokio::task::block_in_place(|| {
        use std::io::Write as _;
        let mut again = connect_from([127, 0, 0, 2], &addr).unwrap();
        again
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        read_answer(&mut again)
    });
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    log.stop().await;
}

/// At the total cap the server accepts nothing more: a new connection waits in the listen
/// queue and is served as soon as one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_connections_wait_and_are_served_when_one_closes() {
    let limits = Limits {
        max_connections: 4,
        ..Limits::default()
    };
    let log = TestLog::start(Arc::new(MemoryStore::new()), limits).await;
    let addr = log.base.trim_start_matches("http://").to_string();
    let mut held: Vec<_> = tokio::task::block_in_place(|| {
        (2..6u8)
            .map(|i| connect_from([127, 0, 0, i], &addr).unwrap())
            .collect()
    });
    let waiting = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            use std::io::Write as _;
            let mut fifth = connect_from([127, 0, 0, 9], &addr).unwrap();
            fifth
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            read_answer(&mut fifth)
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fifth connection was served");
    held.pop();
    let answer = waiting.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    log.stop().await;
}

/// get sends `GET path` to `addr` on a connection of its own and returns the whole answer,
/// head and body.
fn get(addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// huella_at runs the `huella` binary with `args` and returns its stdout, or panics with its
/// stderr.
fn huella_at(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_huella"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "huella {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The attack that stopped writes for good: a server allowed 1,024 open files, and one client
/// holding 1,100 idle connections. Now that address gets its 256 and a 429 for the rest, the
/// server never runs out of descriptors, and other clients' writes go on while the
/// connections are held and after they close.
#[test]
fn idle_connections_from_one_address_cannot_exhaust_the_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = common::demo::DemoProcess::start_with(&data, 20, &[], Some(1024));
    let addr = demo.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..1100 {
        match connect_from([127, 0, 0, 2], &addr) {
            Ok(stream) => held.push(stream),
            Err(_) => refused += 1,
        }
    }
    // Writes from another address go on meanwhile (bench's fill appends and checks each
    // receipt).
    let url = demo.base.as_str();
    let fill = |n: &str| {
        huella_at(&[
            "bench",
            "--url",
            url,
            "--data",
            data.to_str().unwrap(),
            "--fill",
            n,
            "--json",
        ])
    };
    fill("50");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let metrics = get(&addr, "/metrics");
        if metrics.contains("huella_connections_refused_total{code=\"per_address\"} 844")
            || std::time::Instant::now() > deadline
        {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        metrics.contains("huella_connections_refused_total{code=\"per_address\"} 844"),
        "{metrics}"
    );
    assert!(metrics.contains("huella_writes_refused 0"), "{metrics}");
    assert!(
        metrics.contains("huella_write_failures_total 0"),
        "{metrics}"
    );
    assert_eq!(
        refused, 0,
        "the connects themselves succeed; the server closes the extra"
    );
    drop(held);
    fill("50");
    let ready = get(&addr, "/readyz");
    assert!(ready.contains("\"writes\":{\"ok\":true}"), "{ready}");
    let checkpoint = get(&addr, "/checkpoint");
    let body = checkpoint.split("\r\n\r\n").nth(1).unwrap();
    let size = (120 + common::demo::EXTRA_ENTRIES).to_string();
    assert_eq!(body.lines().nth(1), Some(size.as_str()), "{checkpoint}");
    demo.stop();
}

/// Idle connections from many addresses: a server allowed 1,024 open files holds at most
/// 768 connections (a quarter of the descriptors stays for the store), however many
/// addresses they come from; the rest wait in the listen queue. The store never runs short:
/// no write fails, and once the idle connections are closed, writes go on.
#[test]
fn idle_connections_from_many_addresses_stop_at_the_total_cap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = common::demo::DemoProcess::start_with(&data, 20, &[], Some(1024));
    let addr = demo.base.trim_start_matches("http://").to_string();
    // The connections the server holds are its socket descriptors (the listener's among them).
    let sockets = || {
        std::fs::read_dir(format!("/proc/{}/fd", demo.pid()))
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    };
    let before = sockets();
    // 3 addresses × 256, each at the per-address cap, make the total cap; 50 more from a
    // fourth wait in the listen queue (its 128 places; past them, connects wait for room).
    let mut held = Vec::new();
    for (a, count) in [(2u8, 256), (3, 256), (4, 256), (5, 50)] {
        for _ in 0..count {
            held.push(connect_from([127, 0, 0, a], &addr).unwrap());
        }
    }
    // Wait until the server holds the connections the cap allows (10 s at most), then watch
    // a second more that it takes none of the queued ones.
    let mut most = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while most < 768 && std::time::Instant::now() < deadline {
        most = most.max(sockets());
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..10 {
        most = most.max(sockets());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The demo's own client connections to itself (among the sockets before) count toward
    // the cap too: the flood gets what they leave of the 768, and never the 50 more.
    let flood = most - before;
    assert!(
        (768 - before..=768).contains(&flood),
        "{most} sockets, {before} before: the total cap at 1,024 descriptors is 768 connections"
    );
    // The clients close them all (the queued ones too). Writes go on, and none failed.
    drop(held);
    let url = demo.base.as_str();
    huella_at(&[
        "bench",
        "--url",
        url,
        "--data",
        data.to_str().unwrap(),
        "--fill",
        "50",
        "--json",
    ]);
    let after = get(&addr, "/metrics");
    assert!(after.contains("huella_write_failures_total 0"), "{after}");
    assert!(after.contains("huella_writes_refused 0"), "{after}");
    let checkpoint = get(&addr, "/checkpoint");
    let body = checkpoint.split("\r\n\r\n").nth(1).unwrap();
    let size = (70 + common::demo::EXTRA_ENTRIES).to_string();
    assert_eq!(body.lines().nth(1), Some(size.as_str()), "{checkpoint}");
    demo.stop();
}

/// Slow readers: 1,000 connections (from four addresses, under the per-address cap) each
/// ask for a page of 1,000 entries and never read it. Resident memory stays bounded by the
/// response budget while they wait, the write timeout closes them, and the memory comes back
/// once they are gone. Before: 3,000 such clients took the server from 58 MB to 1.2 GB
/// resident, which stayed after they closed.
#[test]
fn readers_that_never_read_cannot_pin_memory() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = common::demo::DemoProcess::start_with(
        &data,
        1_100,
        &["--response-mb", "64", "--write-timeout", "3"],
        None,
    );
    let addr = demo.base.trim_start_matches("http://").to_string();
    let page = get(&addr, "/v1/entries?start=0&limit=1000");
    let page_bytes = page.len();
    assert!(
        page_bytes > 800_000,
        "a page of 1,000 entries: {page_bytes} bytes"
    );
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let before = demo.resident();
    let mut readers = Vec::new();
    for i in 0..1_000u32 {
        let mut stream = connect_from([127, 0, 0, 2 + (i % 4) as u8], &addr).unwrap();
        stream
            .write_all(b"GET /v1/entries?start=0&limit=1000 HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        readers.push(stream);
    }
    std::thread::sleep(Duration::from_secs(1));
    let during = demo.resident();
    // The write timeout closes them on the server's side, though the clients hold on.
    std::thread::sleep(Duration::from_secs(5));
    let timed_out = demo.resident();
    let metrics = get(&addr, "/metrics");
    let count = |prefix: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Those refused `503 busy` got their short answer whole and idle until the idle
    // timeout; those that were sent a page are closed. (A few more are the demo's own idle
    // client connections, and this scrape.)
    let (open, busy) = (
        count("huella_connections "),
        count("huella_rejections_total{code=\"busy\"} "),
    );
    assert!(
        open <= busy + 16,
        "{open} connections still open 5 s after a write timeout of 3 s ({busy} were answered 503)"
    );
    drop(readers);
    std::thread::sleep(Duration::from_secs(1));
    let after = demo.resident();
    let metrics = get(&addr, "/metrics");
    eprintln!(
        "slow readers: page {:.2} MiB; resident before {:.1} MiB, with 1,000 readers {:.1} MiB, \
         after the write timeout {:.1} MiB, after they closed {:.1} MiB",
        mib(page_bytes as u64),
        mib(before),
        mib(during),
        mib(timed_out),
        mib(after)
    );
    let busy = metrics
        .lines()
        .find(|l| l.starts_with("huella_rejections_total{code=\"busy\"}"))
        .unwrap_or("none");
    eprintln!("slow readers: {busy}");
    // Unbounded, 1,000 pages would be over 1 GB. Bounded: the 64 MiB budget, plus per
    // connection hyper's 64 KiB buffer and the task and request state.
    assert!(
        during < before + (64 << 20) + 1_000 * (96 << 10) + (64 << 20),
        "resident {:.1} MiB with 1,000 slow readers (from {:.1} MiB)",
        mib(during),
        mib(before)
    );
    assert!(
        after < before + (64 << 20),
        "resident {:.1} MiB after the readers left (from {:.1} MiB)",
        mib(after),
        mib(before)
    );
    // And the server still serves.
    assert!(get(&addr, "/readyz").starts_with("HTTP/1.1 200"));
    demo.stop();
}

/// One agency's burst cannot take the others' room: while the disk is slow (writes failing
/// transiently, retried), an agency may fill only its share of the pool; then it gets 503
/// naming its share, and another agency's event still goes in. All are logged once the disk
/// recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agency_cannot_take_another_agencys_room_in_the_pool() {
    let store = Arc::new(FaultyStore::new());
    let options = Options {
        batch_wait: Duration::from_millis(1),
        pool_capacity: 8,
        agency_share: Some(2),
        write_retry: Duration::from_secs(60),
        ..Options::default()
    };
    let log = TestLog::start_with(store.clone(), Limits::default(), options).await;
    let (agencies, _) = common::agencies();
    // The demo events by requesting agency.
    let mut by_agency = std::collections::BTreeMap::<String, Vec<_>>::new();
    for n in 0..40 {
        let s = common::sealed(&agencies, n);
        by_agency
            .entry(s.event.requesting_agency.to_string())
            .or_default()
            .push(s);
    }
    let mut lists = by_agency.into_iter();
    let (busy_agency, busy) = lists.next().unwrap();
    let (_, quiet) = lists.next().unwrap();
    store.fail_writes(Some(libc::EMFILE));
    let attempts = store.commit_attempts();
    let mut waiting = Vec::new();
    let queued = |n: u64| {
        let log = &log;
        move || async move {
            let metrics = log.get("/metrics").await.text().await.unwrap();
            metrics.contains(&format!("huella_queue_depth {n}\n"))
        }
    };
    // The first is taken by the sequencer, which retries it; two more fill the share.
    for (i, s) in busy[..3].iter().enumerate() {
        let client = log.client.clone();
        let s = s.clone();
        waiting.push(tokio::spawn(async move { client.submit(&s).await }));
        if i == 0 {
            // Out of the pool, into the batch the sequencer keeps retrying.
            let store = store.clone();
            until("the sequencer tries to commit it", move || {
                let store = store.clone();
                async move { store.commit_attempts() > attempts }
            })
            .await;
        } else {
            until("the event is queued", queued(i as u64)).await;
        }
    }
    let response = log.post(serde_json::to_string(&busy[3]).unwrap()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "busy", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&busy_agency) && message.contains("its share"),
        "{message}"
    );
    // Another agency still has room.
    let client = log.client.clone();
    let other = quiet[0].clone();
    waiting.push(tokio::spawn(async move { client.submit(&other).await }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(waiting.iter().all(|w| !w.is_finished()));
    store.fail_writes(None);
    for w in waiting {
        assert!(w.await.unwrap().unwrap().created);
    }
    assert_eq!(log.check_log().await.0.size, 4);
    log.stop().await;
}

/// The body limit admits every valid submission: four committed values at their 16 KiB
/// maximum, each byte escaped into six by the JSON encoder, go in under the default limit
/// (before: four values of 16 KiB did not fit under 64 KiB at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_valid_submission_fits_the_default_body_limit() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = common::agencies();
    let now = huella_core::values::Timestamp::from_unix_millis(common::NOW);
    let (from, mut json) = huella::demo::sample_event(&agencies, 7, 0, &now);
    // Values of visible characters, each sent escaped as `\u0041`: six bytes of JSON per
    // byte of value, as many as any escape takes.
    let value = "A".repeat(huella_core::commitment::MAX_VALUE_BYTES);
    for field in ["subject", "requesting_user", "record_ref", "query"] {
        json[field] = serde_json::Value::String(value.clone());
    }
    let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
    let sealed = plain
        .seal(&agencies[from].key, now, huella::keyfile::random_salt)
        .unwrap();
    let body = serde_json::to_string(&sealed)
        .unwrap()
        .replace(&value, &"\\u0041".repeat(value.len()));
    assert!(body.len() > 4 * 6 * 16384, "{} bytes", body.len());
    assert!(body.len() <= huella::http::LARGEST_SUBMISSION);
    let response = log.post(body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    log.stop().await;
}

/// A committed value with a character a reader cannot see is refused (422
/// `invisible_character`), naming the field and the code point, never the value, and
/// nothing is logged: two values that look the same must be the same, or a search for one
/// would miss the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_values_with_invisible_characters_are_refused() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = common::agencies();
    let now = huella_core::values::Timestamp::from_unix_millis(common::NOW);
    for (n, (field, value, code)) in [
        ("subject", "CO-CC-1077\u{200b}777777", "U+200B"),
        ("requesting_user", "officer\u{202e}4471", "U+202E"),
        ("record_ref", "REC-\u{1}55", "U+0001"),
        ("query", "fingerprint\u{e0041}match", "U+E0041"),
    ]
    .into_iter()
    .enumerate()
    {
        // `huella submit` refuses to seal such a value; a client of its own may not.
        let (from, json) = huella::demo::sample_event(&agencies, 7, n as u64, &now);
        let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
        let mut sealed = plain
            .seal(
                &agencies[from].key,
                now.clone(),
                huella::keyfile::random_salt,
            )
            .unwrap();
        let opening =
            huella_core::commitment::Opening::new(huella_core::commitment::Salt([9; 32]), value);
        let mut event = sealed.event.clone();
        use huella_core::commitment::Field;
        match field {
            "subject" => event.subject = opening.commitment(Field::Subject),
            "requesting_user" => event.requesting_user = opening.commitment(Field::RequestingUser),
            "record_ref" => event.record_ref = opening.commitment(Field::RecordRef),
            _ => event.query = opening.commitment(Field::Query),
        }
        match field {
            "subject" => sealed.openings.subject = opening,
            "requesting_user" => sealed.openings.requesting_user = opening,
            "record_ref" => sealed.openings.record_ref = opening,
            _ => sealed.openings.query = opening,
        }
        let signed = huella_core::event::SignedEvent::sign(event, &agencies[from].key).unwrap();
        (sealed.event, sealed.signature) = (signed.event, signed.signature);
        let response = log.post(serde_json::to_string(&sealed).unwrap()).await;
        assert_eq!(response.status(), 422, "{field}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invisible_character", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains(code),
            "{message}"
        );
        let visible: String = value.chars().filter(|c| !c.is_control()).take(6).collect();
        assert!(!message.contains(&visible), "{message}");
    }
    assert_eq!(log.checkpoint().await.size, 0);
    log.stop().await;
}

/// A receipt at a size the log signed no checkpoint at (it signs one per batch) is 404, and
/// the answer names the next size it did sign, so a reader knows which sizes to ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_at_an_unsigned_size_names_the_next_signed_size() {
    let options = Options {
        batch_wait: Duration::from_millis(200),
        ..Options::default()
    };
    let log = TestLog::start_with(Arc::new(MemoryStore::new()), Limits::default(), options).await;
    let (agencies, _) = common::agencies();
    // Three events in one batch: the log signs sizes 0 and 3 only.
    let mut set = tokio::task::JoinSet::new();
    for n in 0..3 {
        let client = log.client.clone();
        let s = common::sealed(&agencies, n);
        set.spawn(async move { client.submit(&s).await.unwrap() });
    }
    while let Some(done) = set.join_next().await {
        assert!(done.unwrap().created);
    }
    assert_eq!(log.checkpoint().await.size, 3);
    let response = log.get("/v1/receipts/0?tree_size=2").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("no checkpoint at tree size 2")
            && message.contains("next size it signed is 3"),
        "{message}"
    );
    assert_eq!(log.get("/v1/receipts/0?tree_size=3").await.status(), 200);
    log.stop().await;
}

/// A reader that reads a little now and then (to keep its connection, and the memory of the
/// response it holds) is closed as if it read nothing: within the write timeout it must
/// read 16 KiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_trickles_is_closed_by_the_write_timeout() {
    use std::io::{Read as _, Write as _};
    let limits = Limits {
        write_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let log = TestLog::start(Arc::new(MemoryStore::new()), limits).await;
    // Enough entries that a page outgrows the socket buffers on both sides.
    log.log_events(0..600).await;
    let addr = log.base.trim_start_matches("http://").to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let mut stream = connect_from([127, 0, 0, 2], &addr).unwrap();
        stream
            .write_all(b"GET /v1/entries?start=0&limit=1000 HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut got = 0;
        let mut bytes = [0u8; 64];
        // 64 bytes every 100 ms: 640 bytes a second, far under 16 KiB a second, until the
        // server resets the connection.
        while started.elapsed() < Duration::from_secs(30) {
            match stream.read(&mut bytes) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (got, started.elapsed())
    });
    // The client sees the connection reset, long before the page (over 500 KB) could arrive
    // at its pace: the server closed it and dropped what it never read.
    let (got, took) = reader.await.unwrap();
    assert!(got < 100_000, "read {got} bytes");
    assert!(took < Duration::from_secs(20), "reset after {took:?}");
    log.stop().await;
}
