//! What a log serves to other readers (single entries, inclusion proofs, consistency proofs,
//! receipts) is checked against the tree the verifier and the monitor recompute. A proxy in
//! front of a real log corrupts one kind of answer at a time, as a log that shows others
//! something else than it signed would; `verify` and `monitor` must catch each one and name
//! the path that served it, and must pass the honest log.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::TestLog;
use huella::http::Limits;
use huella::store::MemoryStore;
use huella_core::proof::TlogProof;
use tokio::sync::oneshot;

const BIN: &str = env!("CARGO_BIN_EXE_huella");

/// SIZE is how many entries the test log holds: more than the default sample of 32, so
/// that the default really samples.
const SIZE: u64 = 40;

/// AT is the index (and, for consistency proofs, the older size) whose answers the proxy
/// corrupts; above [`RESUMED`], so that a monitor resuming from there checks it too.
const AT: u64 = 27;

/// RESUMED is the size of the monitor state the resumed rounds start from.
const RESUMED: u64 = 20;

/// Tamper is the kind of answer the proxy corrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tamper {
    /// Forward everything unchanged.
    Nothing,
    /// Flip a bit of the first hash of every inclusion proof of entry [`AT`].
    InclusionHash,
    /// Flip a bit of the first hash of every consistency proof from size [`AT`].
    ConsistencyHash,
    /// Flip a bit of the first proof hash of every receipt of entry [`AT`].
    Receipt,
    /// Serve entry [`AT`] re-indented: the same JSON, other bytes.
    Entry,
}

impl Tamper {
    const ALL: [Tamper; 4] = [
        Tamper::InclusionHash,
        Tamper::ConsistencyHash,
        Tamper::Receipt,
        Tamper::Entry,
    ];

    /// named is how the failure must name the answer, when the log's size is `size`.
    fn named(self, size: u64) -> String {
        match self {
            Tamper::Nothing => String::new(),
            Tamper::InclusionHash => {
                format!("GET /v1/proofs/inclusion?index={AT}&tree_size={size}: ")
            }
            Tamper::ConsistencyHash => format!("GET /v1/proofs/consistency?from={AT}&to={size}: "),
            Tamper::Receipt => format!("GET /v1/receipts/{AT}"),
            Tamper::Entry => format!("GET /v1/entries/{AT}: "),
        }
    }
}

/// Proxy forwards every request to a real log and corrupts the answers its [`Tamper`] says.
struct Proxy {
    base: String,
    tamper: Arc<Mutex<Tamper>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone)]
struct Forward {
    /// The real log's base URL.
    upstream: String,
    http: reqwest::Client,
    tamper: Arc<Mutex<Tamper>>,
}

/// flip_hash flips the lowest bit of the first byte of a base64 hash.
fn flip_hash(hash: &str) -> String {
    let mut bytes = B64.decode(hash).unwrap();
    bytes[0] ^= 1;
    B64.encode(bytes)
}

/// flip_first_proof_hash flips the first hash of a JSON proof answer's `proof`.
fn flip_first_proof_hash(body: &[u8]) -> Vec<u8> {
    let mut answer: serde_json::Value = serde_json::from_slice(body).unwrap();
    let first = answer["proof"][0]
        .as_str()
        .expect("a proof hash")
        .to_string();
    answer["proof"][0] = flip_hash(&first).into();
    serde_json::to_vec(&answer).unwrap()
}

async fn forward(
    State(f): State<Forward>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let answer = f
        .http
        .get(format!("{}{path_and_query}", f.upstream))
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_string();
    let mut body = answer.bytes().await.unwrap().to_vec();
    let tamper = *f.tamper.lock().unwrap();
    let at = AT.to_string();
    let is = |name: &str| q.get(name) == Some(&at);
    if status.is_success() {
        match (tamper, uri.path()) {
            (Tamper::InclusionHash, "/v1/proofs/inclusion") if is("index") => {
                body = flip_first_proof_hash(&body);
            }
            (Tamper::ConsistencyHash, "/v1/proofs/consistency") if is("from") => {
                body = flip_first_proof_hash(&body);
            }
            (Tamper::Receipt, path) if path == format!("/v1/receipts/{AT}") => {
                let mut proof = TlogProof::parse(&body).unwrap();
                proof.proof[0].0[0] ^= 1;
                body = proof.to_text().into_bytes();
            }
            (Tamper::Entry, path) if path == format!("/v1/entries/{AT}") => {
                let leaf: serde_json::Value = serde_json::from_slice(&body).unwrap();
                body = serde_json::to_vec_pretty(&leaf).unwrap();
            }
            _ => {}
        }
    }
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        Bytes::from(body),
    )
        .into_response()
}

impl Proxy {
    async fn start(log: &TestLog) -> Proxy {
        let tamper = Arc::new(Mutex::new(Tamper::Nothing));
        let app = Router::new().fallback(forward).with_state(Forward {
            upstream: log.base.clone(),
            http: log.http.clone(),
            tamper: tamper.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Proxy {
            base,
            tamper,
            stop: Some(stop),
            server: Some(server),
        }
    }

    fn tamper(&self, tamper: Tamper) {
        *self.tamper.lock().unwrap() = tamper;
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

/// log_of starts a test log holding `size` entries, logged one at a time so that it signs a
/// checkpoint at every size.
async fn log_of(size: u64) -> TestLog {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    log.log_events(0..size).await;
    log
}

/// run runs `huella` with `args` from inside the test's runtime.
fn run(args: &[&str]) -> Output {
    let out = tokio::task::block_in_place(|| Command::new(BIN).args(args).output().unwrap());
    assert_ne!(
        out.status.code(),
        Some(101),
        "huella {args:?} panicked: {}",
        stderr(&out)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn verify(url: &str, log: &TestLog, extra: &[&str]) -> Output {
    let key = log.log_key.to_string();
    let mut args = vec!["verify", "--url", url, "--log-key", &key];
    args.extend_from_slice(extra);
    run(&args)
}

fn monitor(url: &str, log: &TestLog, state: &std::path::Path, extra: &[&str]) -> Output {
    let key = log.log_key.to_string();
    let mut args = vec![
        "monitor",
        "--url",
        url,
        "--log-key",
        &key,
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// With `--check-all-proofs`, `verify` and a first `monitor` round catch each corrupted kind
/// of answer, exit 1 and name the path that served it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corrupted_answer_is_caught_with_check_all_proofs() {
    let log = log_of(SIZE).await;
    let proxy = Proxy::start(&log).await;
    let dir = tempfile::tempdir().unwrap();
    let mut missed = Vec::new();
    for tamper in Tamper::ALL {
        proxy.tamper(tamper);
        let named = tamper.named(SIZE);
        let out = verify(&proxy.base, &log, &["--check-all-proofs"]);
        let said = stderr(&out);
        if out.status.code() != Some(1) || !said.contains(&named) {
            missed.push(format!(
                "verify, {tamper:?}: exit {:?}, wanted {named:?} in: {said}",
                out.status.code()
            ));
        }
        let state = dir.path().join(format!("{tamper:?}.json"));
        let out = monitor(&proxy.base, &log, &state, &["--check-all-proofs"]);
        let said = stderr(&out);
        if out.status.code() != Some(1)
            || !said.contains(&format!("ALERT bad_answer: verification failed: {named}"))
        {
            missed.push(format!(
                "monitor, {tamper:?}: exit {:?}, wanted {named:?} in: {said}",
                out.status.code()
            ));
        }
        assert!(!state.exists(), "no state is saved after an alert");
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));

    // The JSON report of a failed verify names the answer too.
    proxy.tamper(Tamper::Entry);
    let out = verify(&proxy.base, &log, &["--check-all-proofs", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(report["failure"], "answer", "{report}");
    assert_eq!(report["path"], format!("/v1/entries/{AT}"), "{report}");
    proxy.stop().await;
    log.stop().await;
}

/// A monitor round that resumes from a saved state checks the answers about what it adds:
/// the new entries, and consistency from the saved size on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_monitor_round_catches_corrupted_answers_about_new_entries() {
    let log = log_of(RESUMED).await;
    let proxy = Proxy::start(&log).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let out = monitor(&proxy.base, &log, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved = std::fs::read(&state).unwrap();
    log.log_events(RESUMED..SIZE).await;
    for tamper in Tamper::ALL {
        proxy.tamper(tamper);
        let out = monitor(&proxy.base, &log, &state, &["--check-all-proofs"]);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{tamper:?}: {said}");
        assert!(
            said.contains(&format!(
                "ALERT bad_answer: verification failed: {}",
                tamper.named(SIZE)
            )),
            "{tamper:?}: {said}"
        );
        assert_eq!(std::fs::read(&state).unwrap(), saved, "the state stays");
    }
    proxy.tamper(Tamper::Nothing);
    let out = monitor(&proxy.base, &log, &state, &["--check-all-proofs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    proxy.stop().await;
    log.stop().await;
}

/// The honest log passes the default sample and the full check, and prints the seed; the
/// JSON report says what was checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_log_passes_the_default_sample_and_the_full_check() {
    let log = log_of(SIZE).await;
    let proxy = Proxy::start(&log).await;
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--check-all-proofs"], &["--sample", "0"]] {
        let out = verify(&proxy.base, &log, extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        let state = dir.path().join(format!("state-{}.json", extra.len()));
        let out = monitor(&proxy.base, &log, &state, extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
    }

    let out = verify(&proxy.base, &log, &["--json", "--seed", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let served = &report["served"];
    assert_eq!(served["seed"], 7, "{report}");
    for kind in [
        "entries",
        "inclusion_proofs",
        "consistency_proofs",
        "receipts",
    ] {
        assert_eq!(served[kind], 32, "{kind}: {report}");
    }
    let out = verify(&proxy.base, &log, &["--seed", "7"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seed 7"), "{text}");

    // A bundle serves nothing: the sampling flags are a usage error there.
    let bundle = dir.path().join("bundle");
    let out = run(&[
        "export",
        "--url",
        &proxy.base,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = log.log_key.to_string();
    let bundle = bundle.to_str().unwrap();
    let out = run(&[
        "verify",
        "--bundle",
        bundle,
        "--log-key",
        &key,
        "--sample",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("use them with --url"),
        "{}",
        stderr(&out)
    );
    let out = run(&["verify", "--bundle", bundle, "--log-key", &key]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    proxy.stop().await;
    log.stop().await;
}

/// A sample drawn from a seed is drawn again from the same seed: a failure found with one
/// seed is found again with it. With `--sample 0` nothing but the entries is checked, so the
/// corrupted answers pass: the sample is what catches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_checks_the_same_sample() {
    let log = log_of(SIZE).await;
    let proxy = Proxy::start(&log).await;
    proxy.tamper(Tamper::Entry);
    let out = verify(&proxy.base, &log, &["--sample", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // With 20 of 40 entries a seed, half the seeds catch it; find one that does and one
    // that does not, and run each again.
    let mut seen = HashMap::new();
    for seed in 0..40u64 {
        let seed = seed.to_string();
        let out = verify(&proxy.base, &log, &["--sample", "20", "--seed", &seed]);
        let code = out.status.code();
        assert!(matches!(code, Some(0 | 1)), "{}", stderr(&out));
        if code == Some(1) {
            assert!(
                stderr(&out).contains(&Tamper::Entry.named(SIZE)),
                "{}",
                stderr(&out)
            );
        }
        seen.entry(code).or_insert((seed, stderr(&out)));
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "some seeds catch it, some do not: {seen:?}");
    for (code, (seed, said)) in seen {
        let again = verify(&proxy.base, &log, &["--sample", "20", "--seed", &seed]);
        assert_eq!(again.status.code(), code, "{}", stderr(&again));
        if code == Some(1) {
            let line = |s: &str| {
                s.lines()
                    .find(|l| l.contains("verification failed"))
                    .map(str::to_string)
            };
            assert_eq!(line(&stderr(&again)), line(&said));
        }
    }
    proxy.stop().await;
    log.stop().await;
}
