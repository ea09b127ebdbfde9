//! Checking a log from outside: the machinery behind `huella verify`, `monitor`, `export`
//! and `receipt verify`. It stands on the pure core ([`crate::verify`], Merkle, notes) and the
//! HTTP [`Client`], never on the store or the server, so that someone who does not trust the
//! server's code can still trust it.
//!
//! Entries stream in pages (at most [`PAGE`] leaves in memory per page, a few pages in
//! flight): one task reads the next page while the current one is checked on every core,
//! with Ed25519 signatures verified in batches.

use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::checkpoint::{self, Checkpoint};
use crate::client::{Client, ClientError};
use crate::entry::GENESIS_PREV;
use crate::keys::VerifierKey;
use crate::merkle::{Frontier, Hash, verify_consistency};
use crate::registry::Registry;
use crate::verify::{Auditor, Checked, Failure, Summary, VerifyError, check_leaves};

/// PAGE is how many leaves are fetched and checked at a time (the API's largest page).
pub const PAGE: u64 = 1000;

/// The bundle format, written in its manifest.
pub const BUNDLE_FORMAT: &str = "huella-bundle/v1";

/// AuditError separates "the log failed verification" (exit 1) from "could not check"
/// (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log, bundle or receipt is not what it claims to be.
    #[error("verification failed: {0}")]
    Failed(String),
    /// An entry failed a check.
    #[error("verification failed: {0}")]
    Entry(#[from] VerifyError),
    /// Reading failed (network, file) or the input is unusable.
    #[error("{0}")]
    Io(String),
}

impl AuditError {
    /// exit_code: 1 for a failed verification, 2 for usage or I/O errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::Failed(_) | AuditError::Entry(_) => 1,
            AuditError::Io(_) => 2,
        }
    }
}

fn io(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io(e.to_string())
}

/// A page of consecutive leaves and the index of the first, or why reading stopped.
type PageResult = Result<(u64, Vec<Vec<u8>>), AuditError>;

/// Source is where a log's public data comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A running log's HTTP API.
    Http(Client),
    /// An exported bundle directory.
    Bundle(PathBuf),
}

/// Manifest describes a bundle: what it holds, and the SHA-256 of each file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// Entries in the bundle: the checkpoint's size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// Where it was exported from.
    pub source: String,
    /// When (RFC 3339).
    pub exported_at: String,
    /// Files and their hashes.
    pub files: Vec<ManifestFile>,
}

/// ManifestFile is one file of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// File name inside the bundle.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of its contents.
    pub sha256: String,
}

/// The files of a bundle.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Submitter registry file of a bundle.
pub const REGISTRY_FILE: &str = "registry.json";
/// Entries file of a bundle: one leaf per line.
pub const ENTRIES_FILE: &str = "entries.ndjson";
/// Manifest file of a bundle.
pub const MANIFEST_FILE: &str = "manifest.json";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Source {
    /// checkpoint returns the source's latest signed checkpoint, unverified.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, AuditError> {
        match self {
            Source::Http(client) => client.get("/checkpoint").await.map_err(io),
            Source::Bundle(dir) => read_file(&dir.join(CHECKPOINT_FILE)),
        }
    }

    /// registry returns the registry the source serves: trusting it trusts the operator.
    pub async fn registry(&self) -> Result<Registry, AuditError> {
        let bytes = match self {
            Source::Http(client) => {
                let keys: serde_json::Value =
                    serde_json::from_slice(&client.get("/v1/keys").await.map_err(io)?)
                        .map_err(io)?;
                serde_json::to_vec(&serde_json::json!({"submitters": keys["submitters"]}))
                    .map_err(io)?
            }
            Source::Bundle(dir) => read_file(&dir.join(REGISTRY_FILE))?,
        };
        Registry::parse(&bytes)
            .map_err(|e| AuditError::Failed(format!("the registry the source serves: {e}")))
    }

    /// pages streams the leaves `start..end` in pages, read ahead of the consumer.
    fn pages(&self, start: u64, end: u64) -> mpsc::Receiver<PageResult> {
        let (tx, rx) = mpsc::channel(4);
        match self.clone() {
            Source::Http(client) => {
                tokio::spawn(async move {
                    let mut at = start;
                    while at < end {
                        let limit = PAGE.min(end - at);
                        let page = fetch_page(&client, at, limit).await;
                        let stop = page.is_err();
                        let n = page.as_ref().map_or(0, |p| p.len() as u64);
                        if tx.send(page.map(|p| (at, p))).await.is_err() || stop {
                            return;
                        }
                        at += n;
                    }
                });
            }
            Source::Bundle(dir) => {
                tokio::task::spawn_blocking(move || {
                    let result = read_bundle_pages(&dir, start, end, &tx);
                    if let Err(e) = result {
                        let _ = tx.blocking_send(Err(e));
                    }
                });
            }
        }
        rx
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, AuditError> {
    std::fs::read(path).map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))
}

async fn fetch_page(client: &Client, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, AuditError> {
    let body = client
        .get(&format!("/v1/entries?start={start}&limit={limit}"))
        .await
        .map_err(io)?;
    let leaves: Vec<Vec<u8>> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if leaves.is_empty() {
        return Err(AuditError::Failed(format!(
            "the log served no entries from index {start}, below its checkpoint"
        )));
    }
    if leaves.len() as u64 > limit {
        return Err(AuditError::Failed(format!(
            "the log served {} entries from index {start} when asked for {limit}",
            leaves.len()
        )));
    }
    Ok(leaves)
}

/// Streams `entries.ndjson` of a bundle, checking that it holds exactly `end` lines and that
/// its SHA-256 matches the manifest.
fn read_bundle_pages(
    dir: &Path,
    start: u64,
    end: u64,
    tx: &mpsc::Sender<PageResult>,
) -> Result<(), AuditError> {
    let path = dir.join(ENTRIES_FILE);
    let file = std::fs::File::open(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut index = 0u64;
    let mut page = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        if line.last() != Some(&b'\n') {
            return Err(AuditError::Failed(format!(
                "{ENTRIES_FILE}: entry {index} is not newline-terminated"
            )));
        }
        if index >= end {
            // The entries so far first: an inserted entry is named where the chain breaks.
            if !page.is_empty() {
                let first = index - page.len() as u64;
                if tx
                    .blocking_send(Ok((first, std::mem::take(&mut page))))
                    .is_err()
                {
                    return Ok(());
                }
            }
            return Err(AuditError::Failed(format!(
                "{ENTRIES_FILE} holds more entries than the checkpoint's {end}"
            )));
        }
        if index >= start {
            page.push(line[..line.len() - 1].to_vec());
            if page.len() as u64 == PAGE {
                let first = index + 1 - PAGE;
                if tx
                    .blocking_send(Ok((first, std::mem::take(&mut page))))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        index += 1;
    }
    // Hand over the last page before judging the file as a whole, so that a deleted or
    // inserted entry is named where the chain breaks, whatever the bundle's size.
    if !page.is_empty() {
        let first = index - page.len() as u64;
        if tx.blocking_send(Ok((first, page))).is_err() {
            return Ok(());
        }
    }
    if index < end {
        return Err(AuditError::Failed(format!(
            "{ENTRIES_FILE} holds {index} entries but the checkpoint says {end}: entry {index} is missing"
        )));
    }
    let digest = hex(&hasher.finalize());
    check_manifest_hash(&read_manifest(dir)?, ENTRIES_FILE, &digest)?;
    Ok(())
}

fn read_manifest(dir: &Path) -> Result<Manifest, AuditError> {
    let bytes = read_file(&dir.join(MANIFEST_FILE))?;
    let manifest: Manifest = crate::canonical::parse(&bytes)
        .map_err(|e| AuditError::Failed(format!("{MANIFEST_FILE}: {e}")))?;
    if manifest.format != BUNDLE_FORMAT {
        return Err(AuditError::Failed(format!(
            "{MANIFEST_FILE}: format {:?} is not {BUNDLE_FORMAT}",
            manifest.format
        )));
    }
    Ok(manifest)
}

fn check_manifest_hash(manifest: &Manifest, name: &str, digest: &str) -> Result<(), AuditError> {
    let listed = manifest
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| AuditError::Failed(format!("{MANIFEST_FILE} does not list {name}")))?;
    if listed.sha256 != digest {
        return Err(AuditError::Failed(format!(
            "bundle file {name} was altered: its SHA-256 is {digest}, the manifest says {}",
            listed.sha256
        )));
    }
    Ok(())
}

/// check_bundle_files checks the small files of a bundle against its manifest, and that the
/// manifest agrees with the checkpoint.
fn check_bundle_files(dir: &Path, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    let manifest = read_manifest(dir)?;
    for name in [CHECKPOINT_FILE, REGISTRY_FILE] {
        check_manifest_hash(
            &manifest,
            name,
            &hex(&Sha256::digest(read_file(&dir.join(name))?)),
        )?;
    }
    if manifest.tree_size != checkpoint.size || manifest.root != checkpoint.root {
        return Err(AuditError::Failed(format!(
            "{MANIFEST_FILE} describes size {} root {}, but the checkpoint is size {} root {}",
            manifest.tree_size, manifest.root, checkpoint.size, checkpoint.root
        )));
    }
    Ok(())
}

/// Progress shows a bar on a terminal and nothing otherwise.
pub struct Progress(ProgressBar);

impl Progress {
    /// new shows a bar for `total` items labelled `what`, if stderr is a terminal and not
    /// `quiet`.
    pub fn new(total: u64, what: &str, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(total);
        let template =
            format!("{what} [{{bar:40}}] {{pos}}/{{len}} entries, {{per_sec}}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(bar)
    }

    fn set(&self, position: u64) {
        self.0.set_position(position);
    }

    fn done(&self) {
        self.0.finish_and_clear();
    }
}

/// check_page checks a page's leaves on their own, split across the machine's cores.
fn check_page(
    start: u64,
    leaves: &[Vec<u8>],
    registry: &Registry,
) -> Result<Vec<Checked>, VerifyError> {
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = leaves.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = leaves
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                scope.spawn(move || check_leaves(start + (i * chunk) as u64, part, registry))
            })
            .collect();
        let mut out = Vec::with_capacity(leaves.len());
        for handle in handles {
            // Invariant: check_leaves does not panic; if it did, surfacing the panic is right.
            out.extend(handle.join().expect("leaf checking panicked")?);
        }
        Ok(out)
    })
}

/// audit_entries feeds entries `auditor.size()..end` from `source` through the auditor.
pub async fn audit_entries(
    source: &Source,
    auditor: &mut Auditor<'_>,
    end: u64,
    progress: &Progress,
) -> Result<(), AuditError> {
    let mut pages = source.pages(auditor.size(), end);
    while auditor.size() < end {
        let (start, leaves) = pages.recv().await.ok_or_else(|| {
            AuditError::Io(format!(
                "the entry stream ended at {} of {end}",
                auditor.size()
            ))
        })??;
        if start != auditor.size() {
            return Err(AuditError::Io(format!(
                "page starts at {start}, expected {}",
                auditor.size()
            )));
        }
        let registry = auditor.registry();
        let checked = tokio::task::block_in_place(|| check_page(start, &leaves, registry))?;
        for c in checked {
            auditor.push_checked(c)?;
        }
        progress.set(auditor.size());
    }
    // The reader may still judge the source as a whole (extra entries, a manifest mismatch):
    // wait for its last word.
    if let Some(more) = pages.recv().await {
        let (start, _) = more?;
        return Err(AuditError::Failed(format!(
            "the source holds entries from index {start}, beyond the {end} expected"
        )));
    }
    Ok(())
}

/// Verified is the result of a full audit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verified {
    /// The log's origin.
    pub origin: String,
    /// Entries verified.
    pub tree_size: u64,
    /// The verified root.
    pub root: Hash,
    /// The signed checkpoint the log was verified against.
    pub checkpoint: String,
    /// Where the registry came from: `file` (trusted) or the source (`log` or `bundle`).
    pub registry_source: String,
    /// What the entries show.
    pub summary: Summary,
    /// Seconds the audit took.
    pub seconds: f64,
}

/// verify_log runs a full audit of `source` against `log_key`, with `registry` if the user
/// gave one (else the source's, with a warning).
pub async fn verify_log(
    source: &Source,
    log_key: &VerifierKey,
    registry: Option<Registry>,
    quiet: bool,
) -> Result<Verified, AuditError> {
    let started = Instant::now();
    let note = source.checkpoint().await?;
    let (checkpoint, _) = checkpoint::open(&note, log_key)
        .map_err(|e| AuditError::Failed(format!("checkpoint: {e}")))?;
    if let Source::Bundle(dir) = source {
        check_bundle_files(dir, &checkpoint)?;
    }
    let (registry, registry_source) = match registry {
        Some(r) => (r, "file".to_string()),
        None => {
            let from = if matches!(source, Source::Http(_)) {
                "log"
            } else {
                "bundle"
            };
            eprintln!(
                "warning: using the submitter registry the {from} serves, which trusts its operator; \
                 pass --registry FILE with a registry from a source you trust"
            );
            (source.registry().await?, from.to_string())
        }
    };
    let mut auditor = Auditor::new(&registry);
    let progress = Progress::new(checkpoint.size, "verifying", quiet);
    let result = audit_entries(source, &mut auditor, checkpoint.size, &progress).await;
    progress.done();
    result?;
    auditor.finish(&checkpoint)?;
    Ok(Verified {
        origin: checkpoint.origin.clone(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
        registry_source,
        summary: auditor.summary().clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// render writes a verification summary for people.
pub fn render(v: &Verified) -> String {
    let mut out = String::new();
    let s = &v.summary;
    out.push_str(&format!(
        "VERIFIED: log {} holds {} entries, all signed by registered agency keys, chained and matching the signed checkpoint.\n",
        v.origin, v.tree_size
    ));
    out.push_str(&format!(
        "  tree size: {}\n  root:      {}\n",
        v.tree_size, v.root
    ));
    out.push_str("  checkpoint:\n");
    for line in v.checkpoint.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    if let (Some(from), Some(to)) = (&s.accessed_from, &s.accessed_to) {
        out.push_str(&format!("  accesses from {from} to {to}\n"));
    }
    if let (Some(from), Some(to)) = (&s.integrated_from, &s.integrated_to) {
        out.push_str(&format!("  logged from   {from} to {to}\n"));
    }
    out.push_str(&format!(
        "  records returned in all: {}\n",
        s.records_returned
    ));
    for (title, map) in [
        ("requesting agency", &s.by_requesting_agency),
        ("holder agency", &s.by_holder_agency),
        ("country pair", &s.by_country_pair),
        ("data category", &s.by_category),
        ("purpose", &s.by_purpose),
        ("outcome", &s.by_outcome),
    ] {
        out.push_str(&format!("  by {title}:\n"));
        for (key, count) in map {
            out.push_str(&format!("    {count:>10}  {key}\n"));
        }
    }
    out.push_str(&format!(
        "  registry: {}\n  verified in {:.2} s ({:.0} entries/s)\n",
        match v.registry_source.as_str() {
            "file" => "from --registry (trusted)".to_string(),
            other => format!("served by the {other} (trusts the operator)"),
        },
        v.seconds,
        v.tree_size as f64 / v.seconds.max(1e-9)
    ));
    out
}

/// export writes a self-contained bundle of the log at `client` into `out`.
pub async fn export(
    client: &Client,
    out: &Path,
    log_key: Option<&VerifierKey>,
    quiet: bool,
) -> Result<Manifest, AuditError> {
    if out.exists() && std::fs::read_dir(out).map_err(io)?.next().is_some() {
        return Err(AuditError::Io(format!(
            "{} exists and is not empty",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| AuditError::Io(format!("{}: {e}", out.display())))?;
    let note = client.get("/checkpoint").await.map_err(io)?;
    let checkpoint = match log_key {
        Some(key) => {
            checkpoint::open(&note, key)
                .map_err(|e| AuditError::Failed(format!("checkpoint: {e}")))?
                .0
        }
        None => {
            let (text, _) = crate::note::parse(&note)
                .map_err(|e| AuditError::Failed(format!("checkpoint: {e}")))?;
            Checkpoint::parse_text(&text)
                .map_err(|e| AuditError::Failed(format!("checkpoint: {e}")))?
        }
    };
    let registry = Source::Http(client.clone()).registry().await?;
    let mut files = Vec::new();
    files.push(write_file(out, CHECKPOINT_FILE, &note)?);
    files.push(write_file(
        out,
        REGISTRY_FILE,
        registry.to_json().as_bytes(),
    )?);

    let path = out.join(ENTRIES_FILE);
    let file = std::fs::File::create(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let progress = Progress::new(checkpoint.size, "exporting", quiet);
    let mut at = 0;
    while at < checkpoint.size {
        let page = fetch_page(client, at, PAGE.min(checkpoint.size - at)).await?;
        for leaf in &page {
            for part in [leaf.as_slice(), b"\n"] {
                hasher.update(part);
                writer.write_all(part).map_err(io)?;
                bytes += part.len() as u64;
            }
        }
        at += page.len() as u64;
        progress.set(at);
    }
    progress.done();
    let file = writer.into_inner().map_err(io)?;
    file.sync_all().map_err(io)?;
    files.push(ManifestFile {
        name: ENTRIES_FILE.into(),
        bytes,
        sha256: hex(&hasher.finalize()),
    });
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        origin: checkpoint.origin.clone(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        source: client.url(""),
        exported_at: crate::text::Timestamp::from_system_time(std::time::SystemTime::now())
            .to_string(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(io)?;
    write_file(out, MANIFEST_FILE, &json)?;
    Ok(manifest)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<ManifestFile, AuditError> {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(ManifestFile {
        name: name.into(),
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

/// check_still_logged proves that the tree of `old` is a prefix of the log's current tree.
pub async fn check_still_logged(
    client: &Client,
    log_key: &VerifierKey,
    old: &Checkpoint,
) -> Result<Checkpoint, AuditError> {
    let note = client.get("/checkpoint").await.map_err(io)?;
    let (latest, _) = checkpoint::open(&note, log_key)
        .map_err(|e| AuditError::Failed(format!("the log's current checkpoint: {e}")))?;
    check_extends(client, old, &latest).await?;
    Ok(latest)
}

/// check_extends proves with a consistency proof from the log that `new` extends `old`.
async fn check_extends(
    client: &Client,
    old: &Checkpoint,
    new: &Checkpoint,
) -> Result<(), AuditError> {
    if new.size < old.size {
        return Err(AuditError::Failed(format!(
            "rollback: the log's checkpoint has size {}, smaller than the {} already seen",
            new.size, old.size
        )));
    }
    if new.size == old.size {
        if new.root != old.root {
            return Err(AuditError::Failed(format!(
                "fork: two checkpoints of size {} with different roots ({} and {})",
                new.size, old.root, new.root
            )));
        }
        return Ok(());
    }
    let body = client
        .get(&format!(
            "/v1/proofs/consistency?from={}&to={}",
            old.size, new.size
        ))
        .await
        .map_err(|e| match e {
            // A log that signed the new checkpoint but will not prove it extends the old one
            // is as good as a fork; only a failure to reach it is an outage.
            ClientError::Api { .. } => AuditError::Failed(format!(
                "fork: the log signed size {} but refuses to prove it consistent with size {}: {e}",
                new.size, old.size
            )),
            other => io(other),
        })?;
    #[derive(serde::Deserialize)]
    struct Proof {
        proof: Vec<Hash>,
    }
    let proof: Proof = serde_json::from_slice(&body)
        .map_err(|e| AuditError::Io(format!("consistency proof: {e}")))?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof.proof).map_err(|e| {
        AuditError::Failed(format!(
            "fork: the checkpoint of size {} is not a prefix of the one of size {}: {e}",
            old.size, new.size
        ))
    })
}

/// AlertKind is what a monitor round found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The log's tree got smaller.
    Rollback,
    /// Two incompatible histories: same size and another root, a failed consistency proof,
    /// or entries that do not match the checkpoint.
    Fork,
    /// A checkpoint or an entry signature does not verify.
    BadSignature,
    /// An entry's index or `prev` link is wrong.
    BrokenChain,
    /// An entry is malformed, unregistered or inconsistent.
    InvalidEntry,
    /// The log could not be reached.
    Unreachable,
}

/// Alert is one finding of the monitor.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Alert {
    /// Its kind.
    pub alert: AlertKind,
    /// What exactly, for people.
    pub message: String,
}

/// MonitorState is what the monitor keeps between rounds: the last verified checkpoint and
/// enough of the tree and chain to check only new entries next time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorState {
    /// The log's origin.
    pub origin: String,
    /// Size of the last verified checkpoint.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The signed checkpoint itself: keep it, it is evidence.
    pub checkpoint: String,
    /// The tree's right edge at that size, largest subtree first.
    pub frontier: Vec<Hash>,
    /// Leaf hash of the last verified entry.
    pub prev: Hash,
}

impl MonitorState {
    /// load reads a state file; `None` if it does not exist yet.
    pub fn load(path: &Path) -> Result<Option<MonitorState>, AuditError> {
        let corrupt = |why: String| {
            AuditError::Io(format!("state file {} is unusable: {why}", path.display()))
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let state: MonitorState =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if Frontier::from_parts(state.size, state.frontier.clone()).is_none() {
                    return Err(corrupt(format!(
                        "its frontier does not fit size {}",
                        state.size
                    )));
                }
                Ok(Some(state))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// save writes the state atomically: a temporary file, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_vec_pretty(self).map_err(io)?;
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| AuditError::Io(format!("{}: {e}", tmp.display())))?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path)
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        Ok(())
    }
}

fn alert(alert: AlertKind, message: impl Into<String>) -> Alert {
    Alert {
        alert,
        message: message.into(),
    }
}

/// monitor_round checks the log once against the saved state and returns the new state, or
/// the first alert. The state only moves on when everything verified.
pub async fn monitor_round(
    client: &Client,
    log_key: &VerifierKey,
    registry: &Registry,
    state: Option<&MonitorState>,
) -> Result<(MonitorState, u64), Alert> {
    let note = client
        .get("/checkpoint")
        .await
        .map_err(|e| alert(AlertKind::Unreachable, e.to_string()))?;
    let (latest, _) = checkpoint::open(&note, log_key)
        .map_err(|e| alert(AlertKind::BadSignature, format!("checkpoint: {e}")))?;
    let (mut auditor, from) = match state {
        None => (Auditor::new(registry), 0),
        Some(old) => {
            // MonitorState::load refuses a state whose frontier does not fit its size.
            let frontier =
                Frontier::from_parts(old.size, old.frontier.clone()).ok_or_else(|| {
                    alert(
                        AlertKind::Fork,
                        "the saved frontier does not fit the saved size",
                    )
                })?;
            let seen = Checkpoint::new(old.origin.clone(), old.size, old.root);
            check_extends(client, &seen, &latest)
                .await
                .map_err(|e| match e {
                    AuditError::Io(m) => alert(AlertKind::Unreachable, m),
                    other if latest.size < old.size => {
                        alert(AlertKind::Rollback, other.to_string())
                    }
                    other => alert(AlertKind::Fork, other.to_string()),
                })?;
            (Auditor::resume(registry, frontier, old.prev), old.size)
        }
    };
    let source = Source::Http(client.clone());
    audit_entries(
        &source,
        &mut auditor,
        latest.size,
        &Progress::new(0, "", true),
    )
    .await
    .map_err(|e| match e {
        AuditError::Entry(VerifyError::Entry { failure, .. }) => alert(
            match failure {
                Failure::Chain => AlertKind::BrokenChain,
                Failure::Signature => AlertKind::BadSignature,
                Failure::Format | Failure::Unauthorized | Failure::Inconsistent => {
                    AlertKind::InvalidEntry
                }
            },
            e.to_string(),
        ),
        AuditError::Io(m) => alert(AlertKind::Unreachable, m),
        other => alert(AlertKind::Fork, other.to_string()),
    })?;
    auditor.finish(&latest).map_err(|e| {
        alert(
            AlertKind::Fork,
            format!("the entries served do not match the signed checkpoint: {e}"),
        )
    })?;
    let prev = if latest.size == 0 {
        GENESIS_PREV
    } else {
        auditor.prev()
    };
    Ok((
        MonitorState {
            origin: latest.origin.clone(),
            size: latest.size,
            root: latest.root,
            checkpoint: String::from_utf8_lossy(&note).into_owned(),
            frontier: auditor.frontier().subtrees().to_vec(),
            prev,
        },
        latest.size - from,
    ))
}
