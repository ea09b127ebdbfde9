//! Resource limits and back-pressure (issue #6): the per-agency rate limit, request and idle
//! timeouts, and the Prometheus `/metrics` endpoint that shows them.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestLog, agencies, sealed};
use huella::http::Limits;
use huella::ledger::{Options, RateLimit};
use huella::store::MemoryStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A log whose agencies may each send 3 submissions at once, then one a minute.
async fn rate_limited_log() -> TestLog {
    let options = Options {
        batch_wait: Duration::from_millis(1),
        rate_limit: Some(RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        }),
        ..Options::default()
    };
    TestLog::start_with(Arc::new(MemoryStore::new()), Limits::default(), options).await
}

#[tokio::test]
async fn an_agency_over_its_rate_limit_gets_429_and_others_are_not_affected() {
    let log = rate_limited_log().await;
    let (agencies, _) = agencies();
    // Collect events by requesting agency: the demo events alternate between agencies.
    let mut by_agency: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for n in 0..40 {
        let s = sealed(&agencies, n);
        by_agency
            .entry(s.event.requesting_agency.to_string())
            .or_default()
            .push(s);
    }
    let mut lists = by_agency.into_values();
    let busy = lists.next().unwrap();
    let quiet = lists.next().unwrap();
    assert!(busy.len() >= 5 && !quiet.is_empty());

    for s in &busy[..3] {
        assert!(log.client.submit(s).await.unwrap().created);
    }
    let response = log.post(serde_json::to_string(&busy[3]).unwrap()).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&retry_after),
        "retry after {retry_after} s"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    let agency = busy[3].event.requesting_agency.to_string();
    assert!(
        body["message"].as_str().unwrap().contains(&agency),
        "the message names the agency: {body}"
    );
    assert_eq!(
        log.checkpoint().await.size,
        3,
        "a refused event is not logged"
    );

    // Another agency still gets through.
    assert!(log.client.submit(&quiet[0]).await.unwrap().created);

    // A bad signature does not spend the agency's allowance: only signed submissions count.
    let mut forged = quiet[1].clone();
    forged.event.purpose = huella_core::values::Purpose::new("other_purpose").unwrap();
    for _ in 0..5 {
        let response = log.post(serde_json::to_string(&forged).unwrap()).await;
        assert_eq!(response.status(), 401);
    }
    assert!(log.client.submit(&quiet[1]).await.unwrap().created);
    assert_eq!(log.check_log().await.0.size, 5);

    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("huella_rejections_total{code=\"rate_limited\"} 1"),
        "{metrics}"
    );
    log.stop().await;
}

#[tokio::test]
async fn metrics_show_appends_batches_latency_and_rejections() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    for n in 0..7 {
        log.client.submit(&sealed(&agencies, n)).await.unwrap();
    }
    assert_eq!(log.post("{").await.status(), 400);
    assert_eq!(log.get("/v1/entries/99").await.status(), 404);
    assert_eq!(log.get("/v1/entries/99").await.status(), 404);

    let response = log.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = response.text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(value("huella_appended_total"), 7.0);
    assert_eq!(value("huella_tree_size"), 7.0);
    assert_eq!(value("huella_queue_depth"), 0.0);
    assert_eq!(value("huella_append_seconds_count"), 7.0);
    assert!(value("huella_append_seconds_sum") > 0.0);
    let batches = value("huella_batch_size_count");
    assert!((1.0..=7.0).contains(&batches), "{batches} batches");
    assert_eq!(value("huella_batch_size_sum"), 7.0);
    assert_eq!(value("huella_commit_seconds_count"), batches);
    assert_eq!(value("huella_rejections_total{code=\"malformed\"}"), 1.0);
    assert_eq!(value("huella_rejections_total{code=\"not_found\"}"), 2.0);
    assert!(
        !text.contains("demo") && !text.contains("request_id"),
        "metrics name no agency and no request"
    );
    log.stop().await;
}

fn short_timeouts() -> Limits {
    Limits {
        request_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    }
}

/// read_to_close reads until the server closes the connection, or fails after `limit`.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_slow_body_gets_408_and_the_log_is_unchanged() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), short_timeouts()).await;
    let (agencies, _) = agencies();
    let body = serde_json::to_string(&sealed(&agencies, 0)).unwrap();
    let mut stream = TcpStream::connect(log.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the body, then nothing.
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let started = Instant::now();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
        .await
        .expect("the server answers a stalled upload")
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("\"error\":\"timeout\""), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(log.checkpoint().await.size, 0);
    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("huella_rejections_total{code=\"timeout\"} 1"));
    log.stop().await;
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), short_timeouts()).await;
    let addr = log.base.trim_start_matches("http://").to_string();

    // A client that never finishes its headers (slowloris).
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /checkpoint HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    read_to_close(&mut slow, Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed after {waited:?}"
    );

    // A client that sends one request, then idles on the kept-alive connection.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = read_to_close(&mut idle, Duration::from_secs(10)).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // And a well-behaved client is served as before.
    assert_eq!(log.get("/healthz").await.status(), 200);
    log.stop().await;
}
