//! Tools for tampering with a log: a shared honest log (and a fork of it under the same log
//! key), bundles written from altered copies of it, entry surgery, and a static HTTP server
//! that serves whatever history a test hands it, as a dishonest operator would.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use huella::http::Limits;
use huella::store::{MemoryStore, SledStore};
use huella_core::checkpoint::Checkpoint;
use huella_core::entry::Entry;
use huella_core::event::SignedEvent;
use huella_core::keys::{KeyName, SignerKey, VerifierKey};
use huella_core::merkle::{Frontier, Hash, consistency_proof, inclusion_proof, record_hash};
use huella_core::proof::{Receipt, TlogProof};
use huella_core::values::Count;
use huella_verify::bundle::{
    self, CHECKPOINT_FILE, ENTRIES_FILE, MANIFEST_FILE, Manifest, REGISTRY_FILE,
};
use huella_verify::client::Client;
use sha2::{Digest as _, Sha256};
use tokio::sync::oneshot;

use crate::common::{TestLog, agencies, log_signer, sealed};

/// SIZE is how many entries the honest log holds.
pub const SIZE: u64 = 30;

/// LogData is a log's public data, as a bundle holds it or a server serves it. Registry and
/// checkpoint are raw bytes so that tests can make them anything.
#[derive(Clone, Debug)]
pub struct LogData {
    /// The signed checkpoint note.
    pub checkpoint: Vec<u8>,
    /// `registry.json`.
    pub registry: Vec<u8>,
    /// Leaf bytes, one per entry.
    pub leaves: Vec<Vec<u8>>,
}

/// Fixture is built once per test binary: an honest log exported as a bundle, its older
/// checkpoints and receipts, and a fork of it that the same log key signed.
pub struct Fixture {
    /// The exported bundle's files, by name.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The honest log, as exported.
    pub honest: LogData,
    /// Every checkpoint the honest log signed, by size.
    pub checkpoints: BTreeMap<u64, Vec<u8>>,
    /// The receipt of each honest entry, by index, as its agency got it.
    pub receipts: Vec<Receipt>,
    /// Another history of [`FORK_SIZE`] entries, logged by a second log under the same log
    /// key: what an operator who forks its log can show.
    pub fork: Vec<Vec<u8>>,
    /// The fork's checkpoints of sizes [`SIZE`] and [`FORK_SIZE`].
    pub fork_checkpoints: BTreeMap<u64, Vec<u8>>,
}

/// FORK_SIZE is how long the fork grows.
pub const FORK_SIZE: u64 = 40;

impl Fixture {
    /// fork_at is the fork's public data at `size` (SIZE or FORK_SIZE).
    pub fn fork_at(&self, size: u64) -> LogData {
        LogData {
            checkpoint: self.fork_checkpoints[&size].clone(),
            registry: self.honest.registry.clone(),
            leaves: self.fork[..size as usize].to_vec(),
        }
    }

    /// honest_at is the honest log as it was at `size`.
    pub fn honest_at(&self, size: u64) -> LogData {
        LogData {
            checkpoint: self.checkpoints[&size].clone(),
            registry: self.honest.registry.clone(),
            leaves: self.honest.leaves[..size as usize].to_vec(),
        }
    }

    /// manifest is the honest bundle's manifest.
    pub fn manifest(&self) -> Manifest {
        serde_json::from_slice(&self.files[MANIFEST_FILE]).unwrap()
    }
}

/// fixture builds the shared logs on first use, on a runtime of its own.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(build_fixture())
        })
        .join()
        .unwrap()
    })
}

async fn build_fixture() -> Fixture {
    let (agencies, _) = agencies();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    let log = TestLog::start(store, Limits::default()).await;
    // One at a time, so that the log signs a checkpoint at every size.
    let receipts = log.log_events(0..SIZE).await;
    assert_eq!(log.check_log().await.0.size, SIZE);
    let out = dir.path().join("bundle");
    bundle::export(&log.client, &out, Some(&log.log_key), true)
        .await
        .unwrap();
    let checkpoints = (0..=SIZE)
        .map(|n| (n, log.ledger.store().checkpoint(n).unwrap().unwrap()))
        .collect();
    log.stop().await;
    to_older_form(&out);
    let files: BTreeMap<String, Vec<u8>> =
        [CHECKPOINT_FILE, REGISTRY_FILE, ENTRIES_FILE, MANIFEST_FILE]
            .into_iter()
            .map(|name| (name.to_string(), std::fs::read(out.join(name)).unwrap()))
            .collect();
    let honest = LogData {
        checkpoint: files[CHECKPOINT_FILE].clone(),
        registry: files[REGISTRY_FILE].clone(),
        leaves: lines(&files[ENTRIES_FILE]),
    };
    assert_eq!(honest.leaves.len() as u64, SIZE);

    // The fork: other events, the same log key (common::log_signer), another store.
    let other = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    for n in 0..FORK_SIZE {
        other
            .client
            .submit(&sealed(&agencies, 1000 + n))
            .await
            .unwrap();
    }
    let fork = other.ledger.store().leaves(0, FORK_SIZE).unwrap();
    let fork_checkpoints = [SIZE, FORK_SIZE]
        .into_iter()
        .map(|n| (n, other.ledger.store().checkpoint(n).unwrap().unwrap()))
        .collect();
    other.stop().await;
    Fixture {
        files,
        honest,
        checkpoints,
        receipts,
        fork,
        fork_checkpoints,
    }
}

/// to_older_form turns an exported bundle into the older form these tests tamper with: a
/// submitter registry (`registry.json`) in place of the trust root (`trust.json`), which a
/// verifier still reads. The test log has no registrars, so nothing is lost; bundles with a
/// trust root and registry events are tampered with in tests/key_lifecycle.rs.
fn to_older_form(dir: &Path) {
    let trust_path = dir.join(bundle::TRUST_FILE);
    let trust = huella_core::trust::TrustRoot::parse(&std::fs::read(&trust_path).unwrap()).unwrap();
    let registry = trust.registry.to_json().into_bytes();
    std::fs::write(dir.join(REGISTRY_FILE), &registry).unwrap();
    std::fs::remove_file(&trust_path).unwrap();
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    for file in &mut manifest.files {
        if file.name == bundle::TRUST_FILE {
            file.name = REGISTRY_FILE.to_string();
            file.bytes = registry.len() as u64;
            file.sha256 = hex(&Sha256::digest(&registry));
        }
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// lines splits an entries file into leaves.
pub fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\n").unwrap_or(l).to_vec())
        .collect()
}

/// Seal says what happens to `manifest.json` after a tampering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seal {
    /// The honest manifest stays, so its file hashes betray the change.
    Kept,
    /// A careful attacker recomputes every file's size and hash, and the tree size and root
    /// from the (possibly forged) checkpoint.
    Recomputed,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// write_bundle writes `data` as a bundle into `dir`, with the manifest as `seal` says.
pub fn write_bundle(dir: &Path, data: &LogData, seal: Seal) {
    std::fs::create_dir_all(dir).unwrap();
    let mut entries = Vec::new();
    for leaf in &data.leaves {
        entries.extend_from_slice(leaf);
        entries.push(b'\n');
    }
    let files = [
        (CHECKPOINT_FILE, &data.checkpoint),
        (REGISTRY_FILE, &data.registry),
        (ENTRIES_FILE, &entries),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let manifest = match seal {
        Seal::Kept => fixture().files[MANIFEST_FILE].clone(),
        Seal::Recomputed => {
            let mut manifest = fixture().manifest();
            for file in &mut manifest.files {
                let bytes = files.iter().find(|(n, _)| *n == file.name).unwrap().1;
                file.bytes = bytes.len() as u64;
                file.sha256 = hex(&Sha256::digest(bytes));
            }
            if let Some(c) = unverified_checkpoint(&data.checkpoint) {
                manifest.tree_size = c.size;
                manifest.root = c.root;
            }
            serde_json::to_vec_pretty(&manifest).unwrap()
        }
    };
    std::fs::write(dir.join(MANIFEST_FILE), manifest).unwrap();
}

/// reseal rewrites the manifest of the bundle in `dir` for the files as they are now (those
/// that exist), as a careful attacker would after changing them.
pub fn reseal(dir: &Path) {
    let mut manifest = fixture().manifest();
    for file in &mut manifest.files {
        if let Ok(bytes) = std::fs::read(dir.join(&file.name)) {
            file.bytes = bytes.len() as u64;
            file.sha256 = hex(&Sha256::digest(&bytes));
        }
    }
    if let Some(c) = std::fs::read(dir.join(CHECKPOINT_FILE))
        .ok()
        .and_then(|note| unverified_checkpoint(&note))
    {
        manifest.tree_size = c.size;
        manifest.root = c.root;
    }
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// unverified_checkpoint reads a checkpoint note without checking its signature.
pub fn unverified_checkpoint(note: &[u8]) -> Option<Checkpoint> {
    let (text, _) = huella_core::note::parse(note).ok()?;
    Checkpoint::parse_text(&text).ok()
}

/// entry parses a leaf.
pub fn entry(leaf: &[u8]) -> Entry {
    Entry::parse_leaf(leaf).unwrap()
}

/// rechain renumbers the leaves from `from` on and links each to the one before, as an
/// attacker who wants an intact chain would.
pub fn rechain(leaves: &mut [Vec<u8>], from: usize) {
    for i in from..leaves.len() {
        let mut e = entry(&leaves[i]);
        e.index = Count::new(i as u64).unwrap();
        e.prev = if i == 0 {
            huella_core::entry::GENESIS_PREV
        } else {
            record_hash(&leaves[i - 1])
        };
        leaves[i] = e.to_leaf();
    }
}

/// resign replaces an entry's event (changed by `change`) and signs it with `signer`.
pub fn resign(leaf: &[u8], signer: &SignerKey, change: impl FnOnce(&mut Entry)) -> Vec<u8> {
    let mut e = entry(leaf);
    change(&mut e);
    e.event.key = signer.key_ref().clone();
    let signed = SignedEvent::sign(e.event.clone(), signer).unwrap();
    e.signature = signed.signature;
    e.to_leaf()
}

/// forged is a well-formed new entry at `index` after `prev_leaf`, signed by the registered
/// agency that makes the `n`-th demo event: an agency logging an access after the fact.
pub fn forged(index: u64, prev_leaf: Option<&[u8]>, n: u64) -> Vec<u8> {
    let (agencies, _) = agencies();
    let (signed, _) = sealed(&agencies, n).into_parts();
    Entry::new(
        Count::new(index).unwrap(),
        entry(&fixture().honest.leaves[0]).integrated_at,
        prev_leaf.map_or(huella_core::entry::GENESIS_PREV, record_hash),
        signed,
    )
    .to_leaf()
}

/// root is the RFC 6962 root of the leaves.
pub fn root(leaves: &[Vec<u8>]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.append(record_hash(leaf));
    }
    frontier.root()
}

/// sign_checkpoint signs a checkpoint of `leaves` with `key`, under the honest log's origin.
pub fn sign_checkpoint(leaves: &[Vec<u8>], key: &SignerKey) -> Vec<u8> {
    Checkpoint::new(
        log_signer().name().as_str(),
        leaves.len() as u64,
        root(leaves),
    )
    .sign(key)
    .unwrap()
    .into_bytes()
}

/// stranger is a key the registry does not know.
pub fn stranger() -> SignerKey {
    SignerKey::from_seed(
        KeyName::new("attacker.example/huella").unwrap(),
        &[0xa7; 32],
    )
}

/// impostor is another key with the log key's name (and so another key id).
pub fn impostor() -> SignerKey {
    SignerKey::from_seed(log_signer().name().clone(), &[0x66; 32])
}

/// log_key is the honest log's verifier key.
pub fn log_key() -> VerifierKey {
    log_signer().verifier()
}

/// ServedLog is an HTTP server answering the read API from fixed data, as an operator who
/// serves whatever it likes would: `/checkpoint`, `/v1/entries` and `/v1/entries/{index}`,
/// `/v1/proofs/inclusion` and `/v1/proofs/consistency` (computed from the served leaves),
/// `/v1/receipts/{index}` (against the served checkpoint, the only one it has) and
/// `/v1/keys`.
pub struct ServedLog {
    /// Its base URL.
    pub base: String,
    /// A client for it.
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

struct Served {
    data: LogData,
    /// Answer every consistency proof request with an error, as an operator hiding a fork
    /// might.
    refuse_proofs: bool,
    /// Stored hashes of the served leaves, by stored hash index.
    hashes: Vec<Hash>,
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": code, "message": message})),
    )
        .into_response()
}

fn number(q: &HashMap<String, String>, name: &str) -> Option<u64> {
    q.get(name).and_then(|v| v.parse().ok())
}

async fn serve_checkpoint(State(s): State<Arc<Served>>) -> Response {
    s.data.checkpoint.clone().into_response()
}

async fn serve_entries(
    State(s): State<Arc<Served>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let start = number(&q, "start").unwrap_or(0) as usize;
    let limit = number(&q, "limit").unwrap_or(100) as usize;
    let leaves = &s.data.leaves;
    if start > leaves.len() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("start {start} is beyond the log"),
        );
    }
    let mut body = Vec::new();
    for leaf in &leaves[start..(start + limit).min(leaves.len())] {
        body.extend_from_slice(leaf);
        body.push(b'\n');
    }
    body.into_response()
}

async fn serve_entry(State(s): State<Arc<Served>>, UrlPath(index): UrlPath<usize>) -> Response {
    match s.data.leaves.get(index) {
        Some(leaf) => leaf.clone().into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no entry {index}"),
        ),
    }
}

async fn serve_inclusion(
    State(s): State<Arc<Served>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(index) = number(&q, "index") else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            "index is required".into(),
        );
    };
    let size = number(&q, "tree_size").unwrap_or(s.data.leaves.len() as u64);
    match inclusion_proof(index, size, &s.hashes) {
        Ok(proof) => axum::Json(serde_json::json!({
            "index": index,
            "tree_size": size,
            "leaf_hash": record_hash(&s.data.leaves[index as usize]),
            "proof": proof,
        }))
        .into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
    }
}

async fn serve_receipt(
    State(s): State<Arc<Served>>,
    UrlPath(index): UrlPath<u64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let not_found = |why: String| error(StatusCode::NOT_FOUND, "not_found", why);
    let Some(signed) = unverified_checkpoint(&s.data.checkpoint) else {
        return not_found("no checkpoint".into());
    };
    if number(&q, "tree_size").is_some_and(|size| size != signed.size) {
        return not_found("no checkpoint at that size".into());
    }
    match inclusion_proof(index, signed.size, &s.hashes) {
        Ok(proof) => TlogProof {
            extra: Some(s.data.leaves[index as usize].clone()),
            index,
            proof,
            checkpoint: String::from_utf8_lossy(&s.data.checkpoint).into_owned(),
        }
        .to_text()
        .into_response(),
        Err(e) => not_found(e.to_string()),
    }
}

async fn serve_consistency(
    State(s): State<Arc<Served>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if s.refuse_proofs {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "try again later".into(),
        );
    }
    let (Some(from), Some(to)) = (number(&q, "from"), number(&q, "to")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            "from and to are required".into(),
        );
    };
    match consistency_proof(from, to, &s.hashes) {
        Ok(proof) => {
            axum::Json(serde_json::json!({"from": from, "to": to, "proof": proof})).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
    }
}

async fn serve_keys(State(s): State<Arc<Served>>) -> Response {
    let registry: serde_json::Value =
        serde_json::from_slice(&s.data.registry).unwrap_or(serde_json::Value::Null);
    axum::Json(serde_json::json!({
        "origin": log_signer().name().as_str(),
        "log_key": log_key().to_string(),
        "submitters": registry["submitters"],
        "holders": registry["holders"],
    }))
    .into_response()
}

/// serve_trust serves the trust root of the older form the fake log holds: its registry
/// and no registrars (whatever the registry's bytes, as an attacker would serve them).
async fn serve_trust(State(s): State<Arc<Served>>) -> Response {
    let registry: serde_json::Value =
        serde_json::from_slice(&s.data.registry).unwrap_or(serde_json::Value::Null);
    axum::Json(serde_json::json!({
        "version": 1,
        "log": {"origin": log_signer().name().as_str(), "key": log_key().to_string()},
        "countries": [],
        "registry": registry,
    }))
    .into_response()
}

impl ServedLog {
    /// start serves `data` on 127.0.0.1:0.
    pub async fn start(data: LogData) -> ServedLog {
        ServedLog::serve(data, false).await
    }

    /// start_refusing_proofs serves `data` but answers no consistency proof.
    pub async fn start_refusing_proofs(data: LogData) -> ServedLog {
        ServedLog::serve(data, true).await
    }

    async fn serve(data: LogData, refuse_proofs: bool) -> ServedLog {
        let mut frontier = Frontier::new();
        let mut hashes = Vec::new();
        for leaf in &data.leaves {
            for (index, hash) in frontier.append(record_hash(leaf)) {
                assert_eq!(index, hashes.len() as u64, "stored hashes come in order");
                hashes.push(hash);
            }
        }
        let app = Router::new()
            .route("/checkpoint", get(serve_checkpoint))
            .route("/v1/entries", get(serve_entries))
            .route("/v1/entries/{index}", get(serve_entry))
            .route("/v1/proofs/inclusion", get(serve_inclusion))
            .route("/v1/proofs/consistency", get(serve_consistency))
            .route("/v1/receipts/{index}", get(serve_receipt))
            .route("/v1/keys", get(serve_keys))
            .route("/v1/trust", get(serve_trust))
            .with_state(Arc::new(Served {
                data,
                refuse_proofs,
                hashes,
            }));
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
        ServedLog {
            client: Client::new(&base),
            base,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// stop shuts the server down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}
