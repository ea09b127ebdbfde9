//! The sequencer: the single writer. It takes admitted events from the pool in batches
//! (group commit) and integrates each batch in the commit order the [module docs of
//! `ledger`](crate::ledger) describe, step by step.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use huella_core::admission::Admitted;
use huella_core::checkpoint::Checkpoint;
use huella_core::entry::Entry;
use huella_core::event::SignedEvent;
use huella_core::keys::SignerKey;
use huella_core::merkle::{Frontier, Hash, record_hash};
use huella_core::values::{Count, Timestamp};
use tokio::sync::oneshot;

use crate::ledger::appender::{Options, SubmitError};
use crate::ledger::clock::Clock;
use crate::ledger::reader::Published;
use crate::ledger::recovery::write_copy;
use crate::metrics::Metrics;
use crate::store::{Batch, Corruption, Store, StoreError};

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

/// Pending is an admitted event waiting in the pool, and where its answer goes.
pub(crate) struct Pending {
    /// The event, with every admission check passed.
    pub(crate) admitted: Admitted,
    /// Its agency and request id, for idempotency.
    pub(crate) request_key: Vec<u8>,
    /// Where the sequencer answers once the entry is durable.
    pub(crate) reply: oneshot::Sender<Result<Accepted, SubmitError>>,
}

/// State shared by the HTTP side and the sequencer thread.
pub(crate) struct Shared {
    /// Newest durable checkpoint.
    pub(crate) published: RwLock<Arc<Published>>,
    /// Set when a commit failed; writes are refused from then on.
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
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shared: Arc<Shared>,
    /// Right edge of the durable tree.
    pub(crate) frontier: Frontier,
    /// Leaf hash of the last durable entry.
    pub(crate) head: Hash,
    pub(crate) options: Options,
    /// Where batch sizes and commit times are counted.
    pub(crate) metrics: Arc<Metrics>,
}

/// What one waiting request will be told once the batch is durable.
enum Reply {
    /// A new entry at this position in the batch.
    New(usize),
    /// An in-batch duplicate of the new entry at this position.
    Same(usize),
}

impl Sequencer {
    /// run integrates batches from the pool until it is closed.
    pub(crate) fn run(mut self, rx: Receiver<Pending>) {
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
        for Pending {
            admitted,
            request_key,
            reply,
        } in batch
        {
            let (signed, openings) = admitted.into_parts();
            // 1. Idempotency: an earlier batch, or earlier in this one.
            match already_logged(self.store.as_ref(), &signed, &request_key) {
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
                if *first == signed {
                    replies.push((reply, Reply::Same(*position)));
                } else {
                    let _ = reply.send(Err(conflict(&signed, start + *position as u64)));
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
            in_batch.insert(request_key.clone(), (position, signed.clone()));
            let entry = Entry::new(count, integrated_at.clone(), head, signed);
            let leaf = entry.to_leaf();
            head = record_hash(&leaf);
            out.hashes.extend(frontier.append(head));
            out.leaves.push(leaf);
            // Invariant: openings hold only strings, which always serialize.
            out.openings
                .push(serde_json::to_vec(&openings).expect("openings serialize"));
            out.request_keys.push(request_key);
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
        // 3 to 5. Tree hashes, records, flush: the store does them in this order.
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
pub(crate) fn already_logged(
    store: &dyn Store,
    signed: &SignedEvent,
    request_key: &[u8],
) -> Result<Option<Result<Accepted, SubmitError>>, StoreError> {
    let Some(index) = store.request_index(request_key)? else {
        return Ok(None);
    };
    let leaf = store
        .leaves(index, 1)?
        .pop()
        .ok_or_else(|| StoreError::from(Corruption::RequestWithoutEntry(index)))?;
    let entry = Entry::parse_leaf(&leaf).map_err(|e| Corruption::BadEntry {
        index,
        why: e.to_string(),
    })?;
    if entry.signed_event() != *signed {
        return Ok(Some(Err(conflict(signed, index))));
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
