//! The sequencer: the single writer. It takes admitted events from the pool in batches
//! (group commit) and integrates each batch in the commit order the [module docs of
//! `ledger`](crate::ledger) describe, step by step.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use huella_core::admission::{AdmissionError, Admitted};
use huella_core::checkpoint::Checkpoint;
use huella_core::entry::{Entry, Leaf, RegistryEntry};
use huella_core::event::{EventSignature, SignedEvent};
use huella_core::keylog::{KeyRegistry, RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::SignerKey;
use huella_core::merkle::{Frontier, Hash, record_hash};
use huella_core::sealed::{
    Erasure, ErasureSubmission, ReadSubmission, Retention, SealedRead, SignedEntry,
};
use huella_core::stats::Facts;
use huella_core::trust::TrustRoot;
use huella_core::values::{Count, Timestamp};
use tokio::sync::oneshot;

use crate::ledger::appender::{Options, Share, SubmitError};
use crate::ledger::clock::Clock;
use crate::ledger::reader::Published;
use crate::ledger::recovery::{Inconsistency, Recovered, StartError, recover, write_copy};
use crate::metrics::Metrics;
use crate::store::{Batch, Corruption, Store, StoreError, is_transient_io};

/// FIRST_RETRY is the wait before the first retry after a failed write; each later wait
/// doubles, up to [`LAST_RETRY`] while waiters wait, and up to [`LAST_RESUME`] between
/// attempts to resume once writes are refused.
const FIRST_RETRY: Duration = Duration::from_millis(10);
/// LAST_RETRY is the longest wait between two retries of a batch whose waiters wait.
const LAST_RETRY: Duration = Duration::from_secs(1);
/// LAST_RESUME is the longest wait between two attempts to resume writing. The wait grows
/// on, and is not reset, when writes fail again soon after resuming (a fault that the
/// store's repair cannot see, such as a file-size limit): it is reset by a batch committed.
const LAST_RESUME: Duration = Duration::from_secs(5);

/// Accepted is a logged entry and the checkpoint committed with it.
#[derive(Clone, Debug)]
pub(crate) struct Accepted {
    /// The entry's index.
    pub(crate) index: u64,
    /// The leaf bytes.
    pub(crate) leaf: Vec<u8>,
    /// Size of the checkpoint committed with the entry.
    pub(crate) checkpoint_size: u64,
    /// That checkpoint, signed.
    pub(crate) checkpoint: Arc<String>,
    /// False when the event was already logged (an idempotent retry).
    pub(crate) created: bool,
}

/// Item is what a submission asks the log to append.
// Access events are nearly every item; boxing them would cost each an allocation to save
// room only while a rare registry event waits in the pool.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// An access event, with every admission check passed.
    Access(Admitted),
    /// A registry event, its registrars' signatures checked against the registry as
    /// published; the sequencer checks it again against the registry at its index.
    Registry(SignedRegistryEvent),
    /// An auditor's sealed read, checked like a submission ([`admit_read`]); the
    /// sequencer checks the key again at its index.
    SealedRead(ReadSubmission),
    /// An erasure authority's order, checked like a read ([`admit_erasure`]).
    Erasure(ErasureSubmission),
    /// The log's own retention notice, which the sequencer signs with the log key.
    Retention(Retention),
}

impl Item {
    /// claim is what the item's entry holds, to tell a retry from a conflict.
    pub(crate) fn claim(&self) -> Claim<'_> {
        match self {
            Item::Access(a) => Claim::Access(a.signed()),
            Item::Registry(r) => Claim::Registry(&r.event),
            Item::SealedRead(r) => Claim::SealedRead(&r.event, &r.signature),
            Item::Erasure(e) => Claim::Erasure(&e.event, &e.signature),
            Item::Retention(r) => Claim::Retention(r),
        }
    }
}

/// Claim is the event a submission asks to log, as its entry would hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim<'a> {
    /// An access event and its signature.
    Access(&'a SignedEvent),
    /// A registry event (its signatures may differ between retries).
    Registry(&'a RegistryEvent),
    /// A sealed read and its signature.
    SealedRead(&'a SealedRead, &'a EventSignature),
    /// An erasure order and its signature.
    Erasure(&'a Erasure, &'a EventSignature),
    /// A retention notice.
    Retention(&'a Retention),
}

impl Claim<'_> {
    /// logged_as says whether `leaf`, logged under this claim's request key, holds this
    /// event (a retry), as opposed to another under the same key (a conflict).
    fn logged_as(self, leaf: &Leaf) -> bool {
        match (self, leaf) {
            (Claim::Access(a), Leaf::Access(e)) => e.signed_event() == *a,
            (Claim::Registry(r), Leaf::Registry(e)) => e.event == *r,
            (Claim::SealedRead(r, s), Leaf::SealedRead(e)) => e.event == *r && e.signature == *s,
            (Claim::Erasure(r, s), Leaf::Erasure(e)) => e.event == *r && e.signature == *s,
            (Claim::Retention(r), Leaf::Retention(e)) => e.event == *r,
            _ => false,
        }
    }

    /// conflict is the error for another event logged at `index` under this claim's key.
    fn conflict(self, index: u64) -> SubmitError {
        match self {
            Claim::Access(a) => conflict(a, index),
            // The key is a hash of the event: only the same event can share it.
            Claim::Registry(_) => SubmitError::Unavailable(format!(
                "entry {index} holds another event under this registry event's key"
            )),
            Claim::SealedRead(r, _) => SubmitError::Conflict {
                index,
                agency: r.agency.to_string(),
                request_id: r.request_id.to_string(),
            },
            Claim::Erasure(r, _) => SubmitError::Conflict {
                index,
                agency: r.agency.to_string(),
                request_id: r.request_id.to_string(),
            },
            Claim::Retention(_) => SubmitError::Unavailable(format!(
                "entry {index} holds another event under this retention notice's key"
            )),
        }
    }
}

/// REGISTRY_REQUESTS starts the request key of every registry event. No agency's request
/// key starts with a 0x00 byte (an agency id is never empty), so the two never collide, and
/// start-up finds every registry entry by this prefix.
pub(crate) const REGISTRY_REQUESTS: &[u8] = b"\0registry\0";

/// registry_request_key identifies a registry event for idempotency: [`REGISTRY_REQUESTS`]
/// then SHA-256 of the bytes its registrars sign.
pub(crate) fn registry_request_key(signed: &SignedRegistryEvent) -> Vec<u8> {
    let mut key = REGISTRY_REQUESTS.to_vec();
    key.extend_from_slice(&Hash::sha256(&signed.event.signing_bytes()).0);
    key
}

/// READ_REQUESTS starts the request key of every sealed read: 0x00, `read`, 0x00. An
/// erasure finds, by this prefix, the reads whose search kept a value it destroys.
pub(crate) const READ_REQUESTS: &[u8] = b"\0read\0";

/// read_request_key identifies an auditor's read for idempotency: [`READ_REQUESTS`], the
/// agency, 0x00, its request id (apart from agencies' access events and registry events).
pub(crate) fn read_request_key(read: &SealedRead) -> Vec<u8> {
    let mut key = READ_REQUESTS.to_vec();
    key.extend_from_slice(read.agency.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(read.request_id.as_str().as_bytes());
    key
}

/// ERASURE_REQUESTS starts the request key of every erasure order: 0x00, `erase`, 0x00;
/// then the agency, 0x00, its request id. Start-up finds every order by this prefix.
pub(crate) const ERASURE_REQUESTS: &[u8] = b"\0erase\0";

/// erasure_request_key identifies an erasure order for idempotency.
pub(crate) fn erasure_request_key(order: &Erasure) -> Vec<u8> {
    let mut key = ERASURE_REQUESTS.to_vec();
    key.extend_from_slice(order.agency.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(order.request_id.as_str().as_bytes());
    key
}

/// RETENTION_REQUESTS starts the request key of every retention notice: 0x00, `retention`,
/// 0x00, then the first index purged. Start-up finds every notice by this prefix.
pub(crate) const RETENTION_REQUESTS: &[u8] = b"\0retention\0";

/// retention_request_key identifies a retention notice by the first index it purges.
pub(crate) fn retention_request_key(notice: &Retention) -> Vec<u8> {
    let mut key = RETENTION_REQUESTS.to_vec();
    key.extend_from_slice(&notice.first.get().to_be_bytes());
    key
}

/// Pending is an admitted event waiting in the pool, and where its answer goes.
pub(crate) struct Pending {
    /// The event, with every admission check passed.
    pub(crate) item: Item,
    /// Its agency and request id (or registry key), for idempotency.
    pub(crate) request_key: Vec<u8>,
    /// Where the sequencer answers once the entry is durable.
    pub(crate) reply: oneshot::Sender<Result<Accepted, SubmitError>>,
    /// Its place in its agency's share of the pool, given back when it leaves the pool.
    pub(crate) share: Share,
}

/// State shared by the HTTP side and the sequencer thread.
pub(crate) struct Shared {
    /// Newest durable checkpoint.
    pub(crate) published: RwLock<Arc<Published>>,
    /// Set when a write failed, until the sequencer finds the store writable again and
    /// resumes; writes are refused meanwhile.
    pub(crate) failure: Mutex<Option<String>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values are replaced whole, never left half-updated, so a poisoned lock
    // still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// request_key identifies an agency's request for idempotency: agency, 0x00, request id.
pub(crate) fn request_key(signed: &SignedEvent) -> Vec<u8> {
    let e = &signed.event;
    let mut key = e.requesting_agency.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(e.request_id.as_str().as_bytes());
    key
}

/// Sequencer is the single writer.
pub(crate) struct Sequencer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) signer: SignerKey,
    /// The trust root: registrars, and the registry the log started with.
    pub(crate) trust: Arc<TrustRoot>,
    /// The registry of keys as of the durable tree.
    pub(crate) keys: Arc<KeyRegistry>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shared: Arc<Shared>,
    /// Right edge of the durable tree.
    pub(crate) frontier: Frontier,
    /// Leaf hash of the last durable entry.
    pub(crate) head: Hash,
    /// `integrated_at` of the last durable entry (Unix ms): batches are stamped no earlier,
    /// so that `integrated_at` never goes back, whatever the clock does.
    pub(crate) last_integrated: u64,
    pub(crate) options: Options,
    /// Where batch sizes and commit times are counted.
    pub(crate) metrics: Arc<Metrics>,
    /// The statistics index, which counts each batch once it is published.
    pub(crate) stats: Arc<super::stats::Stats>,
}

/// What one waiting request will be told once the batch is durable.
enum Reply {
    /// A new entry at this position in the batch.
    New(usize),
    /// An in-batch duplicate of the new entry at this position.
    Same(usize),
}

impl Sequencer {
    /// run integrates batches from the pool until it is closed. After a failed write it
    /// refuses what arrives, and tries to [`resume`](Sequencer::resume) at growing intervals
    /// until the store takes writes again.
    pub(crate) fn run(mut self, rx: Receiver<Pending>) {
        let mut wait = FIRST_RETRY;
        loop {
            if let Some(why) = self.failure() {
                match rx.recv_timeout(wait) {
                    Ok(pending) => {
                        self.metrics.queue_depth.dec();
                        let _ = pending.reply.send(Err(SubmitError::Unavailable(why)));
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        match self.resume() {
                            Ok(size) => {
                                tracing::warn!(
                                    "the store takes writes again; resumed at size {size}"
                                )
                            }
                            Err(e) => tracing::debug!("writes stay refused: {e}"),
                        }
                        wait = (wait * 2).min(LAST_RESUME);
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                continue;
            }
            let Ok(first) = rx.recv() else { break };
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
            if self.failure().is_none() {
                wait = FIRST_RETRY;
            }
        }
        // Closed: keep the statistics for the next start.
        self.stats.save(self.store.as_ref());
    }

    /// failure says why writes are refused, if they are.
    fn failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// resync repairs the store after a failed write and checks what it holds as start-up
    /// does; the store must hold at least what is published.
    fn resync(&self) -> Result<Recovered, StartError> {
        self.store.repair()?;
        let recovered = recover(
            self.store.as_ref(),
            &self.signer,
            &self.trust,
            self.options.checkpoint_copy.as_deref(),
        )?;
        // The sequencer's frontier is the published tree: both move together, here only.
        let published = self.frontier.size();
        if recovered.published.size < published {
            return Err(StoreError::from(Corruption::Shrunk {
                held: recovered.published.size,
                published,
            })
            .into());
        }
        Ok(recovered)
    }

    /// resume takes up writing after a failure, if the store takes writes again: it starts
    /// from what the store holds, as start-up would (a batch whose commit failed may be
    /// there, durable now; its waiters were refused, and their retries get its receipts),
    /// publishes it, and lets writes in. It returns the tree size it resumed at.
    fn resume(&mut self) -> Result<u64, StartError> {
        let recovered = self.resync()?;
        if let Some(path) = &self.options.checkpoint_copy {
            write_copy(path, &recovered.published.note).map_err(|e| {
                StoreError::io(format!("writing the checkpoint copy {}", path.display()), e)
            })?;
        }
        let size = recovered.published.size;
        // A batch whose commit failed but which the store holds, durable now.
        self.metrics
            .appended
            .inc_by(size.saturating_sub(self.frontier.size()));
        self.frontier = recovered.frontier;
        self.head = recovered.head;
        self.last_integrated = recovered.last_integrated;
        self.keys = recovered.published.keys.clone();
        self.stats.catch_up(self.store.as_ref(), size)?;
        self.metrics.tree_size.set(size);
        *self
            .shared
            .published
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(recovered.published);
        *lock(&self.shared.failure) = None;
        self.metrics.writes_refused.set(0);
        Ok(size)
    }

    /// commit commits `batch`, retrying a transient failure (too many open files, say) for up
    /// to [`Options::write_retry`] while its waiters wait. Before each retry it repairs the
    /// store and looks at what it holds: the batch wholly (it became durable after all) or
    /// not at all (commit it again).
    fn commit(&self, batch: &Batch) -> Result<(), String> {
        let first = Instant::now();
        let mut wait = FIRST_RETRY;
        let mut result = self.store.commit(batch).map_err(StartError::from);
        loop {
            let error = match result {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !transient(&error) || first.elapsed() >= self.options.write_retry {
                return Err(error.to_string());
            }
            tracing::warn!(
                "commit of entries {}..{} failed ({error}); retrying",
                batch.start,
                batch.checkpoint_size
            );
            std::thread::sleep(wait);
            wait = (wait * 2).min(LAST_RETRY);
            result = match self.resync() {
                Ok(held) if held.published.size == batch.start => {
                    self.store.commit(batch).map_err(StartError::from)
                }
                Ok(held)
                    if held.published.size == batch.checkpoint_size
                        && held.published.note.as_bytes() == batch.checkpoint =>
                {
                    Ok(())
                }
                Ok(held) => {
                    return Err(format!(
                        "after a failed commit of entries {}..{} the store holds {} entries",
                        batch.start, batch.checkpoint_size, held.published.size
                    ));
                }
                Err(e) => Err(e),
            };
        }
    }

    /// copy writes the checkpoint copy, retrying a transient failure for up to
    /// [`Options::write_retry`].
    fn copy(&self, note: &str) -> Result<(), String> {
        let Some(path) = &self.options.checkpoint_copy else {
            return Ok(());
        };
        let first = Instant::now();
        let mut wait = FIRST_RETRY;
        loop {
            match write_copy(path, note) {
                Ok(()) => return Ok(()),
                Err(e) if is_transient_io(&e) && first.elapsed() < self.options.write_retry => {
                    tracing::warn!(
                        "writing the checkpoint copy {}: {e}; retrying",
                        path.display()
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(LAST_RETRY);
                }
                Err(e) => {
                    return Err(format!(
                        "writing the checkpoint copy {}: {e}",
                        path.display()
                    ));
                }
            }
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
        let stamped = self.clock.now_millis().max(self.last_integrated);
        let integrated_at = Timestamp::from_unix_millis(stamped);
        let mut frontier = self.frontier.clone();
        let mut head = self.head;
        let mut out = Batch {
            start,
            ..Batch::default()
        };
        let mut in_batch: HashMap<Vec<u8>, (usize, Item)> = HashMap::new();
        let mut replies = Vec::new();
        // What statistics count of each new entry, in order.
        let mut batch_facts = Vec::new();
        // The registry as this batch changes it, if it does.
        let mut changed: Option<KeyRegistry> = None;
        for Pending {
            item,
            request_key,
            reply,
            share,
        } in batch
        {
            // Out of the pool: its agency may send another.
            drop(share);
            // 1. Idempotency: an earlier batch, or earlier in this one.
            match already_logged(self.store.as_ref(), item.claim(), &request_key) {
                Ok(None) => {}
                Ok(Some(answer)) => {
                    let _ = reply.send(answer);
                    continue;
                }
                Err(e) => {
                    let _ = reply.send(Err(SubmitError::Unavailable(e.to_string())));
                    continue;
                }
            }
            if let Some((position, first)) = in_batch.get(&request_key) {
                if first.claim() == item.claim() {
                    replies.push((reply, Reply::Same(*position)));
                } else {
                    let _ = reply.send(Err(item.claim().conflict(start + *position as u64)));
                }
                continue;
            }
            // 1. Index, chain, tree.
            let position = out.leaves.len();
            let index = start + position as u64;
            let Ok(count) = Count::new(index) else {
                let _ = reply.send(Err(SubmitError::Unavailable("the log is full".into())));
                continue;
            };
            // Checked again against the registry at this index: a key retired or revoked
            // by an entry logged since its admission (even earlier in this batch) is refused,
            // as a verifier replaying the log would refuse it.
            let keys = changed.as_ref().unwrap_or(&self.keys);
            let (leaf, openings, facts) = match &item {
                Item::Access(admitted) => {
                    let event = &admitted.signed().event;
                    if let Err(e) = keys.may_sign_for(
                        &event.key,
                        Role::Submitter,
                        (&event.requesting_agency, &event.requesting_country),
                        &event.accessed_at,
                        &integrated_at,
                    ) {
                        let _ = reply.send(Err(AdmissionError::Key(e).into()));
                        continue;
                    }
                    let entry = Entry::new(
                        count,
                        integrated_at.clone(),
                        head,
                        admitted.signed().clone(),
                    );
                    if let Some(key) = &self.options.blind_key {
                        out.blind.extend(key.records(index, admitted.openings()));
                    }
                    // Invariant: openings hold only strings, which always serialize.
                    let openings =
                        serde_json::to_vec(admitted.openings()).expect("openings serialize");
                    (entry.to_leaf(), openings, Facts::of_access(&entry))
                }
                Item::SealedRead(read) => {
                    let e = &read.event;
                    if let Err(refused) = keys.may_sign_for(
                        &e.key,
                        Role::Auditor,
                        (&e.agency, &e.country),
                        &e.read_at,
                        &integrated_at,
                    ) {
                        let _ = reply.send(Err(SubmitError::Read(refused.into())));
                        continue;
                    }
                    let entry = SignedEntry {
                        event: read.event.clone(),
                        index: count,
                        integrated_at: integrated_at.clone(),
                        prev: head,
                        signature: read.signature,
                    };
                    // The searched value's opening, stored apart like an access event's.
                    // Invariant: openings hold only strings, which always serialize.
                    let openings = serde_json::to_vec(&read.openings).expect("openings serialize");
                    (entry.to_leaf(), openings, Facts::of_sealed_read(&entry))
                }
                Item::Erasure(order) => {
                    let e = &order.event;
                    if let Err(refused) = keys.may_sign_for(
                        &e.key,
                        Role::ErasureAuthority,
                        (&e.agency, &e.country),
                        &e.ordered_at,
                        &integrated_at,
                    ) {
                        let _ = reply.send(Err(SubmitError::Read(refused.into())));
                        continue;
                    }
                    let entry = SignedEntry {
                        event: order.event.clone(),
                        index: count,
                        integrated_at: integrated_at.clone(),
                        prev: head,
                        signature: order.signature,
                    };
                    // A search's value is kept, sealed, only until the order is carried
                    // out: the erasure then destroys it too (see `Appender::erase`).
                    // Invariant: openings hold only strings, which always serialize.
                    let openings = serde_json::to_vec(&order.openings).expect("openings serialize");
                    (entry.to_leaf(), openings, Facts::of_erasure(&entry))
                }
                Item::Retention(notice) => {
                    let entry = SignedEntry {
                        signature: huella_core::sealed::sign(notice, &self.signer),
                        event: notice.clone(),
                        index: count,
                        integrated_at: integrated_at.clone(),
                        prev: head,
                    };
                    (
                        entry.to_leaf(),
                        b"null".to_vec(),
                        Facts::of_retention(&entry),
                    )
                }
                Item::Registry(signed) => {
                    let next = changed.get_or_insert_with(|| (*self.keys).clone());
                    if let Err(e) = next.apply_signed(signed, &self.trust, index) {
                        let _ = reply.send(Err(SubmitError::Registry(e)));
                        continue;
                    }
                    let entry =
                        RegistryEntry::new(count, integrated_at.clone(), head, signed.clone());
                    // A registry event holds no personal data: nothing sealed.
                    (entry.to_leaf(), b"{}".to_vec(), Facts::of_registry(&entry))
                }
            };
            in_batch.insert(request_key.clone(), (position, item));
            head = record_hash(&leaf);
            out.hashes.extend(frontier.append(head));
            out.leaves.push(leaf);
            out.openings.push(openings);
            out.request_keys.push(request_key);
            batch_facts.push(facts);
            replies.push((reply, Reply::New(position)));
        }
        if out.leaves.is_empty() {
            // Only retries of logged events: all answered above (an in-batch duplicate
            // always follows a new entry, so `replies` is empty too).
            return;
        }
        // 2. Sign the checkpoint for the new size. It extends the durable tree by
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
        if self.options.blind_key.is_some() {
            out.blind_upto = Some(size);
        }
        // 3 to 5. Tree hashes, records, flush: the store does them in this order.
        let started = Instant::now();
        if let Err(e) = self.commit(&out) {
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
        self.last_integrated = stamped;
        if let Some(keys) = changed {
            self.keys = Arc::new(keys);
        }
        let note = Arc::new(note);
        *self
            .shared
            .published
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(Published {
            size,
            note: note.clone(),
            keys: self.keys.clone(),
        });
        self.stats.add(&batch_facts, &self.store);
        // 7. Answer (step 6, publishing, is just above).
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
        // 8. Keep the copy outside the store. After the answers, so it adds no latency; a
        // crash here leaves the copy behind the store, which start-up accepts.
        if let Err(e) = self.copy(&note) {
            self.stop(Vec::new(), e);
        }
    }

    /// stop refuses writes after a failure, until [`Sequencer::resume`] finds the store
    /// writable again, and fails the waiters.
    fn stop(
        &self,
        replies: Vec<(oneshot::Sender<Result<Accepted, SubmitError>>, Reply)>,
        why: String,
    ) {
        tracing::error!("{why}; refusing writes until the store takes writes again");
        *lock(&self.shared.failure) = Some(why.clone());
        self.metrics.write_failures.inc();
        self.metrics.writes_refused.set(1);
        for (reply, _) in replies {
            let _ = reply.send(Err(SubmitError::Unavailable(why.clone())));
        }
    }
}

/// transient says whether a failure is a resource briefly exhausted, worth retrying at once.
fn transient(e: &StartError) -> bool {
    match e {
        StartError::Store(e) => e.is_transient(),
        StartError::Inconsistent(Inconsistency::CopyUnreadable { error, .. }) => {
            is_transient_io(error)
        }
        StartError::Inconsistent(_) => false,
    }
}

/// already_logged answers a retry of an event the store already holds: its original
/// receipt, or a conflict if the request id is logged with other content.
pub(crate) fn already_logged(
    store: &dyn Store,
    claim: Claim<'_>,
    request_key: &[u8],
) -> Result<Option<Result<Accepted, SubmitError>>, StoreError> {
    let Some(index) = store.request_index(request_key)? else {
        return Ok(None);
    };
    let leaf = store
        .leaves(index, 1)?
        .pop()
        .ok_or_else(|| StoreError::from(Corruption::RequestWithoutEntry(index)))?;
    let entry = Leaf::parse(&leaf).map_err(|e| Corruption::BadEntry {
        index,
        why: e.to_string(),
    })?;
    if !claim.logged_as(&entry) {
        return Ok(Some(Err(claim.conflict(index))));
    }
    // The receipt it got first: the checkpoint committed with it.
    let (size, note) = store
        .checkpoint_covering(index)?
        .ok_or(Corruption::Uncovered(index))?;
    let note = String::from_utf8(note).map_err(|_| Corruption::CheckpointNotUtf8(size))?;
    Ok(Some(Ok(Accepted {
        index,
        leaf,
        checkpoint_size: size,
        checkpoint: Arc::new(note),
        created: false,
    })))
}

pub(crate) fn conflict(signed: &SignedEvent, index: u64) -> SubmitError {
    SubmitError::Conflict {
        index,
        agency: signed.event.requesting_agency.to_string(),
        request_id: signed.event.request_id.to_string(),
    }
}
