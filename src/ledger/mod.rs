//! The ledger: start-up checks, the pool, and the sequencer that integrates accepted events
//! in batches (group commit).
//!
//! # Commit order, and what a crash between steps leaves
//!
//! For each batch the sequencer, a single thread and the only writer:
//!
//! 1. checks idempotency (request id already logged, or already in this batch);
//! 2. assigns dense indices, chains `prev`, and appends leaf hashes to the in-memory frontier
//!    (a copy: the live one changes only after step 5);
//! 3. signs a checkpoint for the new size (kept private until step 5);
//! 4. writes leaves, hashes, openings, request ids and the checkpoint in one atomic batch;
//! 5. flushes (fsync), then publishes the checkpoint and moves the live frontier on;
//! 6. answers every waiting request;
//! 7. copies the checkpoint to a file outside the store ([`Options::checkpoint_copy`]).
//!
//! A crash before step 5 completes leaves either nothing of the batch (the batch is
//! atomic) or all of it, checkpoint included; no receipt had left, so nothing acknowledged is
//! lost. A crash after step 6 leaves the copy behind the store, which is harmless. Start-up
//! ([`Ledger::open`]) checks that the stored leaves, tree hashes, chain head and latest
//! checkpoint agree, and that the store is not behind the copy (a store that lost its tail),
//! and refuses to start, saying what is wrong, if they do not. If a
//! commit fails, the sequencer stops accepting writes (503) until a restart has re-checked
//! the store, because a failed commit leaves the store's state unknown: writing on could
//! sign two different trees of the same size.

use std::collections::HashMap;
use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::store::{Batch, Store, StoreError};
use huella_core::admission::{AdmissionError, Window, admit};
use huella_core::checkpoint::{self, Checkpoint};
use huella_core::entry::{Entry, GENESIS_PREV};
use huella_core::event::{Openings, SignedEvent, Submission};
use huella_core::keys::{SignerKey, VerifierKey};
use huella_core::merkle::{self, Frontier, Hash, record_hash, stored_hash_index};
use huella_core::proof::TlogProof;
use huella_core::registry::Registry;
use huella_core::values::{Count, Timestamp};

/// Clock gives the time; tests use a manual one instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// now_millis is milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// SystemClock reads the system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// ManualClock is a clock that moves only when told to.
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// new starts the clock at `unix_millis`.
    pub fn new(unix_millis: u64) -> ManualClock {
        ManualClock(AtomicU64::new(unix_millis))
    }

    /// set moves the clock.
    pub fn set(&self, unix_millis: u64) {
        self.0.store(unix_millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Options tune the ledger; the defaults suit a single server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most entries in one batch.
    pub max_batch: usize,
    /// How long the sequencer waits, after the first event of a batch, for more.
    pub batch_wait: Duration,
    /// Accepted events that may wait for the sequencer; beyond this, submissions get 503.
    pub pool_capacity: usize,
    /// How far `accessed_at` may be from now.
    pub window: Window,
    /// A file outside the store that keeps a copy of the newest signed checkpoint, written
    /// after every batch. Start-up refuses a store that is behind it: a store can lose its
    /// tail without noticing (sled drops a corrupt tail as if it were a torn write), and a
    /// log that restarted on it would sign a fork of what agencies hold receipts for.
    pub checkpoint_copy: Option<PathBuf>,
    /// How fast each submitting agency may append; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
}

/// RateLimit bounds one agency's submissions: a token bucket that refills at `per_second`
/// and holds at most `burst`. It counts only submissions whose signature checked, so nobody
/// but the key holder can spend an agency's allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained submissions per second.
    pub per_second: NonZeroU32,
    /// Submissions that may arrive at once.
    pub burst: NonZeroU32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_batch: 1024,
            batch_wait: Duration::from_millis(2),
            pool_capacity: 16 * 1024,
            window: Window::default(),
            checkpoint_copy: None,
            rate_limit: None,
        }
    }
}

/// StartError says why the ledger refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored does not agree with itself; the message says what.
    #[error("refusing to start: {0}")]
    Inconsistent(String),
}

/// SubmitError says why a submission was not logged.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A check refused the event.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// The agency's request id is already logged with other content.
    #[error(
        "request id {request_id} of {agency} is already logged at index {index} with other content"
    )]
    Conflict {
        /// Where the original is.
        index: u64,
        /// The agency.
        agency: String,
        /// Its request id.
        request_id: String,
    },
    /// The pool is full: try again shortly.
    #[error("the log is busy: {0} events are waiting; retry shortly")]
    PoolFull(usize),
    /// The agency submits faster than its rate limit allows.
    #[error("{agency} is over its rate limit; retry in {retry_after_ms} ms")]
    RateLimited {
        /// The agency.
        agency: String,
        /// When a token will be available again.
        retry_after_ms: u64,
    },
    /// The log cannot write now (storage failure, or shutting down).
    #[error("the log cannot accept writes: {0}")]
    Unavailable(String),
}

/// Accepted is a logged entry and the checkpoint committed with it.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The entry's index.
    pub index: u64,
    /// The leaf bytes.
    pub leaf: Vec<u8>,
    /// Size of the checkpoint committed with the entry.
    pub checkpoint_size: u64,
    /// That checkpoint, signed.
    pub checkpoint: Arc<String>,
    /// False when the event was already logged (an idempotent retry).
    pub created: bool,
}

/// Published is the newest durable checkpoint: all reads are bounded by it, so nothing
/// unflushed is ever served.
#[derive(Debug)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// Signed checkpoint note.
    pub note: Arc<String>,
}

struct Pending {
    signed: SignedEvent,
    openings: Openings,
    request_key: Vec<u8>,
    reply: oneshot::Sender<Result<Accepted, SubmitError>>,
}

/// State shared by the HTTP side and the sequencer thread.
struct Shared {
    /// Newest durable checkpoint.
    published: RwLock<Arc<Published>>,
    /// Set when a commit failed; writes are refused from then on.
    failure: Mutex<Option<String>>,
}

/// Ledger is a running log: its store, keys, registry and sequencer.
pub struct Ledger {
    /// Where the log lives.
    store: Arc<dyn Store>,
    /// The log's public key (its name is the origin).
    log_key: VerifierKey,
    /// Who may submit.
    registry: Registry,
    /// Time source for admission.
    clock: Arc<dyn Clock>,
    /// Admission window.
    window: Window,
    /// Published state and failure flag.
    shared: Arc<Shared>,
    /// The pool; `None` once closed.
    pool: Mutex<Option<SyncSender<Pending>>>,
    /// Pool capacity, for error messages.
    pool_capacity: usize,
    /// The sequencer thread, joined on close.
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Per-agency token buckets, if submissions are rate limited.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Operational metrics, shared with the sequencer and the HTTP layer.
    metrics: Arc<Metrics>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values are replaced whole, never left half-updated, so a poisoned lock
    // still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// request_key identifies an agency's request for idempotency: agency, 0x00, request id.
fn request_key(signed: &SignedEvent) -> Vec<u8> {
    let e = &signed.event;
    let mut key = e.requesting_agency.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(e.request_id.as_str().as_bytes());
    key
}

/// Recovered is the state start-up reconstructs from the store.
struct Recovered {
    frontier: Frontier,
    head: Hash,
    published: Published,
}

/// check_copy refuses a store that is behind, or disagrees with, the checkpoint copy kept
/// outside it.
fn check_copy(store: &dyn Store, log_key: &VerifierKey, path: &Path) -> Result<(), StartError> {
    let bad = |msg: String| StartError::Inconsistent(msg);
    let note = match std::fs::read(path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(bad(format!(
                "reading the checkpoint copy {}: {e}",
                path.display()
            )));
        }
    };
    let (copy, _) = checkpoint::open(&note, log_key).map_err(|e| {
        bad(format!(
            "the checkpoint copy {} does not verify with the log key: {e}",
            path.display()
        ))
    })?;
    let size = store.size()?;
    if copy.size > size {
        return Err(bad(format!(
            "the store holds {size} entries, but the log already signed a checkpoint of size {} \
             ({}): the store is corrupt or was rolled back and lost entries; restore the data \
             directory from a backup",
            copy.size,
            path.display()
        )));
    }
    let root = merkle::tree_hash(copy.size, store)
        .map_err(|e| bad(format!("reading the tree at size {}: {e}", copy.size)))?;
    if root != copy.root {
        return Err(bad(format!(
            "the stored tree has root {root} at size {}, but the log signed {} ({})",
            copy.size,
            copy.root,
            path.display()
        )));
    }
    Ok(())
}

/// write_copy replaces the checkpoint copy atomically: temporary file, fsync, rename.
fn write_copy(path: &Path, note: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(note.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn recover(
    store: &dyn Store,
    signer: &SignerKey,
    copy: Option<&Path>,
) -> Result<Recovered, StartError> {
    let log_key = signer.verifier();
    let bad = |msg: String| StartError::Inconsistent(msg);
    if let Some(path) = copy {
        check_copy(store, &log_key, path)?;
    }
    let size = store.size()?;
    let Some((checkpoint_size, note)) = store.latest_checkpoint()? else {
        if size != 0 {
            return Err(bad(format!(
                "the store holds {size} entries but no checkpoint"
            )));
        }
        // A new log: sign and store the checkpoint of the empty tree.
        let text = Checkpoint::new(log_key.name().as_str(), 0, merkle::empty_root())
            .sign(signer)
            .map_err(|e| bad(format!("signing the first checkpoint: {e}")))?;
        store.commit(&Batch {
            checkpoint: text.clone().into_bytes(),
            ..Batch::default()
        })?;
        return Ok(Recovered {
            frontier: Frontier::new(),
            head: GENESIS_PREV,
            published: Published {
                size: 0,
                note: Arc::new(text),
            },
        });
    };
    let (checkpoint, _) = checkpoint::open(&note, &log_key).map_err(|e| {
        bad(format!(
            "the latest stored checkpoint does not verify with the log key {log_key}: {e}"
        ))
    })?;
    if checkpoint.size != checkpoint_size {
        return Err(bad(format!(
            "checkpoint stored under size {checkpoint_size} says size {}",
            checkpoint.size
        )));
    }
    if checkpoint.size != size {
        return Err(bad(format!(
            "the store holds {size} entries but the latest checkpoint is for {}",
            checkpoint.size
        )));
    }
    let frontier = Frontier::load(size, store)
        .map_err(|e| bad(format!("reading the tree's right edge: {e}")))?;
    if frontier.root() != checkpoint.root {
        return Err(bad(format!(
            "stored tree hashes give root {} at size {size}, but the checkpoint says {}",
            frontier.root(),
            checkpoint.root
        )));
    }
    let head = if size == 0 {
        GENESIS_PREV
    } else {
        let last = size - 1;
        let leaf = store
            .leaves(last, 1)?
            .pop()
            .ok_or_else(|| bad(format!("entry {last} is missing")))?;
        let entry = Entry::parse_leaf(&leaf).map_err(|e| bad(format!("entry {last}: {e}")))?;
        if entry.index.get() != last {
            return Err(bad(format!(
                "entry {last} says index {}",
                entry.index.get()
            )));
        }
        let hash = record_hash(&leaf);
        let stored = store
            .read_hashes(&[stored_hash_index(0, last)])
            .map_err(|e| bad(format!("reading the leaf hash of entry {last}: {e}")))?;
        if stored.first() != Some(&hash) {
            return Err(bad(format!(
                "entry {last} hashes to {hash} but the tree stores another leaf hash"
            )));
        }
        hash
    };
    let text = String::from_utf8(note).map_err(|_| bad("checkpoint is not UTF-8".into()))?;
    Ok(Recovered {
        frontier,
        head,
        published: Published {
            size,
            note: Arc::new(text),
        },
    })
}

impl Ledger {
    /// open checks the store, starts the sequencer and returns the running ledger.
    pub fn open(
        store: Arc<dyn Store>,
        signer: SignerKey,
        registry: Registry,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Result<Ledger, StartError> {
        let recovered = recover(store.as_ref(), &signer, options.checkpoint_copy.as_deref())?;
        if let Some(path) = &options.checkpoint_copy {
            write_copy(path, &recovered.published.note).map_err(|e| {
                StoreError::Io(format!(
                    "writing the checkpoint copy {}: {e}",
                    path.display()
                ))
            })?;
        }
        let log_key = signer.verifier();
        let metrics = Arc::new(Metrics::new());
        metrics.tree_size.set(recovered.published.size);
        let limiter = options
            .rate_limit
            .map(|r| RateLimiter::keyed(Quota::per_second(r.per_second).allow_burst(r.burst)));
        let shared = Arc::new(Shared {
            published: RwLock::new(Arc::new(recovered.published)),
            failure: Mutex::new(None),
        });
        let (tx, rx) = sync_channel(options.pool_capacity);
        let window = options.window;
        let pool_capacity = options.pool_capacity;
        let sequencer = Sequencer {
            store: store.clone(),
            signer,
            clock: clock.clone(),
            shared: shared.clone(),
            frontier: recovered.frontier,
            head: recovered.head,
            options,
            metrics: metrics.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || sequencer.run(rx))
            .map_err(|e| {
                StartError::Store(StoreError::Io(format!("starting the sequencer: {e}")))
            })?;
        Ok(Ledger {
            store,
            log_key,
            registry,
            clock,
            window,
            shared,
            pool: Mutex::new(Some(tx)),
            pool_capacity,
            thread: Mutex::new(Some(thread)),
            limiter,
            metrics,
        })
    }

    /// submit checks a submission and waits until its entry is durable.
    pub async fn submit(&self, submission: Submission) -> Result<Accepted, SubmitError> {
        let (signed, openings) = match admit(
            submission,
            &self.registry,
            self.clock.now_millis(),
            self.window,
        ) {
            Ok(admitted) => admitted,
            Err(AdmissionError::OutOfWindow {
                accessed_at,
                detail,
                signed,
            }) => {
                // A retry that arrives after the window has passed still gets its receipt,
                // but only from what is durable: the store may hold a batch whose flush is
                // still running, or failed. `published` moves only after a flush, so read it
                // after the store.
                if let Ok(Some(Ok(original))) =
                    already_logged(self.store.as_ref(), &signed, &request_key(&signed))
                    && original.checkpoint_size <= self.published().size
                {
                    return Ok(original);
                }
                return Err(AdmissionError::OutOfWindow {
                    accessed_at,
                    detail,
                    signed,
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(failure) = lock(&self.shared.failure).clone() {
            return Err(SubmitError::Unavailable(failure));
        }
        if let Some(limiter) = &self.limiter {
            let agency = signed.event.requesting_agency.as_str();
            // Allocates the key only for the check; agencies are few and short-named.
            if let Err(not_until) = limiter.check_key(&agency.to_string()) {
                let wait = not_until.wait_time_from(limiter.clock().now());
                return Err(SubmitError::RateLimited {
                    agency: agency.to_string(),
                    retry_after_ms: wait.as_millis().max(1) as u64,
                });
            }
        }
        let (reply, wait) = oneshot::channel();
        let pending = Pending {
            request_key: request_key(&signed),
            signed,
            openings,
            reply,
        };
        {
            let pool = lock(&self.pool);
            let Some(pool) = pool.as_ref() else {
                return Err(SubmitError::Unavailable("the log is shutting down".into()));
            };
            // Counted before it is sent, so the sequencer's decrement never comes first.
            self.metrics.queue_depth.inc();
            match pool.try_send(pending) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.metrics.queue_depth.dec();
                    return Err(SubmitError::PoolFull(self.pool_capacity));
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.metrics.queue_depth.dec();
                    return Err(SubmitError::Unavailable("the sequencer has stopped".into()));
                }
            }
        }
        wait.await
            .unwrap_or_else(|_| Err(SubmitError::Unavailable("the sequencer has stopped".into())))
    }

    /// published is the newest durable checkpoint.
    pub fn published(&self) -> Arc<Published> {
        self.shared
            .published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// metrics are the ledger's operational metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// write_failure says why writes are refused, if they are.
    pub fn write_failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// store is the log's storage, for reads.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// log_key is the log's public key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// registry is the submitter registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// tlog_proof builds the C2SP tlog-proof of entry `index` against the signed checkpoint
    /// `note` of size `size`, with the leaf in `extra`.
    pub fn tlog_proof(
        &self,
        index: u64,
        leaf: Vec<u8>,
        size: u64,
        note: &str,
    ) -> Result<TlogProof, merkle::TreeError> {
        Ok(TlogProof {
            extra: Some(leaf),
            index,
            proof: merkle::inclusion_proof(index, size, self.store.as_ref())?,
            checkpoint: note.to_string(),
        })
    }

    /// close stops the sequencer after it finishes the batches already queued.
    pub fn close(&self) {
        lock(&self.pool).take();
        if let Some(thread) = lock(&self.thread).take() {
            // A panicking sequencer has already failed its waiters; nothing more to do here.
            let _ = thread.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

/// Sequencer is the single writer.
struct Sequencer {
    store: Arc<dyn Store>,
    signer: SignerKey,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    /// Right edge of the durable tree.
    frontier: Frontier,
    /// Leaf hash of the last durable entry.
    head: Hash,
    options: Options,
    /// Where batch sizes and commit times are counted.
    metrics: Arc<Metrics>,
}

/// What one waiting request will be told once the batch is durable.
enum Reply {
    /// A new entry at this position in the batch.
    New(usize),
    /// An in-batch duplicate of the new entry at this position.
    Same(usize),
}

impl Sequencer {
    fn run(mut self, rx: Receiver<Pending>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.options.batch_wait;
            while batch.len() < self.options.max_batch {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(p) => batch.push(p),
                    Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            self.metrics.queue_depth.dec_by(batch.len() as i64);
            self.integrate(batch);
        }
    }

    fn fail_all(batch: Vec<Pending>, why: &str) {
        for p in batch {
            let _ = p.reply.send(Err(SubmitError::Unavailable(why.to_string())));
        }
    }

    /// integrate logs one batch; see the module docs for the order of steps.
    fn integrate(&mut self, batch: Vec<Pending>) {
        if let Some(failure) = lock(&self.shared.failure).clone() {
            return Self::fail_all(batch, &failure);
        }
        let start = self.frontier.size();
        let integrated_at = Timestamp::from_unix_millis(self.clock.now_millis());
        let mut frontier = self.frontier.clone();
        let mut head = self.head;
        let mut out = Batch {
            start,
            ..Batch::default()
        };
        let mut in_batch: HashMap<Vec<u8>, (usize, SignedEvent)> = HashMap::new();
        let mut replies = Vec::new();
        for p in batch {
            // 1. Idempotency: an earlier batch, or earlier in this one.
            match already_logged(self.store.as_ref(), &p.signed, &p.request_key) {
                Ok(None) => {}
                Ok(Some(answer)) => {
                    let _ = p.reply.send(answer);
                    continue;
                }
                Err(e) => {
                    let _ = p.reply.send(Err(SubmitError::Unavailable(e.to_string())));
                    continue;
                }
            }
            if let Some((position, signed)) = in_batch.get(&p.request_key) {
                if *signed == p.signed {
                    replies.push((p.reply, Reply::Same(*position)));
                } else {
                    let _ = p
                        .reply
                        .send(Err(conflict(&p.signed, start + *position as u64)));
                }
                continue;
            }
            // 2. Index, chain, tree.
            let position = out.leaves.len();
            let index = start + position as u64;
            let Ok(count) = Count::new(index) else {
                let _ = p
                    .reply
                    .send(Err(SubmitError::Unavailable("the log is full".into())));
                continue;
            };
            in_batch.insert(p.request_key.clone(), (position, p.signed.clone()));
            let entry = Entry::new(count, integrated_at.clone(), head, p.signed);
            let leaf = entry.to_leaf();
            head = record_hash(&leaf);
            out.hashes.extend(frontier.append(head));
            out.leaves.push(leaf);
            // Invariant: openings hold only strings, which always serialize.
            out.openings
                .push(serde_json::to_vec(&p.openings).expect("openings serialize"));
            out.request_keys.push(p.request_key);
            replies.push((p.reply, Reply::New(position)));
        }
        if out.leaves.is_empty() {
            // Only retries of logged events: all answered above (an in-batch duplicate
            // always follows a new entry, so `replies` is empty too).
            return;
        }
        // 3. Sign the checkpoint for the new size. It extends the durable tree by
        // construction: `frontier` is the durable frontier with these leaves appended.
        let size = frontier.size();
        let note = match Checkpoint::new(self.signer.name().as_str(), size, frontier.root())
            .sign(&self.signer)
        {
            Ok(note) => note,
            Err(e) => return self.stop(replies, format!("signing checkpoint {size}: {e}")),
        };
        out.checkpoint_size = size;
        out.checkpoint = note.clone().into_bytes();
        // 4 and 5. Write and flush.
        let started = Instant::now();
        if let Err(e) = self.store.commit(&out) {
            return self.stop(
                replies,
                format!("commit of entries {start}..{size} failed: {e}"),
            );
        }
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_size.observe(out.leaves.len() as f64);
        self.metrics.appended.inc_by(out.leaves.len() as u64);
        self.metrics.tree_size.set(size);
        self.frontier = frontier;
        self.head = head;
        let note = Arc::new(note);
        *self
            .shared
            .published
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(Published {
            size,
            note: note.clone(),
        });
        // 6. Answer.
        for (reply, kind) in replies {
            let (position, created) = match kind {
                Reply::New(p) => (p, true),
                Reply::Same(p) => (p, false),
            };
            let _ = reply.send(Ok(Accepted {
                index: start + position as u64,
                leaf: out.leaves[position].clone(),
                checkpoint_size: size,
                checkpoint: note.clone(),
                created,
            }));
        }
        // 7. Keep the copy outside the store. After the answers, so it adds no latency; a
        // crash here leaves the copy behind the store, which start-up accepts.
        if let Some(path) = &self.options.checkpoint_copy
            && let Err(e) = write_copy(path, &note)
        {
            self.stop(
                Vec::new(),
                format!("writing the checkpoint copy {}: {e}", path.display()),
            );
        }
    }

    /// stop refuses all further writes after a failure, and fails the waiters.
    fn stop(
        &self,
        replies: Vec<(oneshot::Sender<Result<Accepted, SubmitError>>, Reply)>,
        why: String,
    ) {
        tracing::error!("{why}; refusing writes until restart");
        *lock(&self.shared.failure) = Some(why.clone());
        for (reply, _) in replies {
            let _ = reply.send(Err(SubmitError::Unavailable(why.clone())));
        }
    }
}

/// already_logged answers a retry of an event the store already holds: its original
/// receipt, or a conflict if the request id is logged with other content.
fn already_logged(
    store: &dyn Store,
    signed: &SignedEvent,
    request_key: &[u8],
) -> Result<Option<Result<Accepted, SubmitError>>, StoreError> {
    let Some(index) = store.request_index(request_key)? else {
        return Ok(None);
    };
    let leaf = store.leaves(index, 1)?.pop().ok_or_else(|| {
        StoreError::Corrupt(format!("request index points at missing entry {index}"))
    })?;
    let entry =
        Entry::parse_leaf(&leaf).map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
    if entry.signed_event() != *signed {
        return Ok(Some(Err(conflict(signed, index))));
    }
    // The receipt it got first: the checkpoint committed with it.
    let (size, note) = store
        .checkpoint_covering(index)?
        .ok_or_else(|| StoreError::Corrupt(format!("no checkpoint covers entry {index}")))?;
    let note = String::from_utf8(note)
        .map_err(|_| StoreError::Corrupt(format!("checkpoint {size} is not UTF-8")))?;
    Ok(Some(Ok(Accepted {
        index,
        leaf,
        checkpoint_size: size,
        checkpoint: Arc::new(note),
        created: false,
    })))
}

fn conflict(signed: &SignedEvent, index: u64) -> SubmitError {
    SubmitError::Conflict {
        index,
        agency: signed.event.requesting_agency.to_string(),
        request_id: signed.event.request_id.to_string(),
    }
}
