//! The appender: everything between a submission and its receipt. Admission (the pure
//! checks of [`huella_core::admission`], which return an [`Admitted`] value: the sequencer
//! takes nothing else), the per-agency rate limit, the pool, and the sequencer thread; then
//! the receipt, built once the entry is durable.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use huella_core::admission::{AdmissionError, Rules, Window, admit};
use huella_core::event::Submission;
use huella_core::keylog::{ChangeError, KeyRegistry, SignedRegistryEvent};
use huella_core::proof::Receipt;
use huella_core::trust::TrustRoot;
use tokio::sync::oneshot;

use crate::ledger::clock::Clock;
use crate::ledger::reader::{LogReader, ReadError};
use crate::ledger::sequencer::{
    Accepted, Claim, Item, Pending, READ_REQUESTS, RETENTION_REQUESTS, Shared, already_logged,
    erasure_request_key, lock, read_request_key, registry_request_key, request_key,
    retention_request_key,
};
use crate::metrics::Metrics;
use crate::store::Store;
use huella_core::entry::Leaf;
use huella_core::sealed::{
    Erasure, ErasureSubmission, ReadSubmission, Retention, SealedError, SealedReadError,
    SearchOpenings, Target, admit_erasure, admit_read,
};
use huella_core::values::Count;

/// Options tune the ledger; the defaults suit a single server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most entries in one batch.
    pub max_batch: usize,
    /// How long the sequencer waits, after the first event of a batch, for more.
    pub batch_wait: Duration,
    /// Accepted events that may wait for the sequencer; beyond this, submissions get 503.
    pub pool_capacity: usize,
    /// Most events one agency may have waiting in the pool; beyond this, its submissions get
    /// 503, so that one agency's burst never takes the others' room. `None`: a quarter of the
    /// pool.
    pub agency_share: Option<usize>,
    /// How far `accessed_at` may be from now.
    pub window: Window,
    /// A file outside the store that keeps a copy of the newest signed checkpoint, written
    /// after every batch. Start-up refuses a store that is behind it: a store can lose its
    /// tail without noticing (sled drops a corrupt tail as if it were a torn write), and a
    /// log that restarted on it would sign a fork of what agencies hold receipts for.
    pub checkpoint_copy: Option<PathBuf>,
    /// How fast each submitting agency may append; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// How long a batch's waiters wait while a transient write failure (too many open
    /// files, no memory) is retried, before they get 503 and writes are refused until the
    /// store takes writes again.
    pub write_retry: Duration,
    /// The blind index's key: with it, every access entry's searchable values are indexed
    /// (and search reads work); without it, none are.
    pub blind_key: Option<crate::blind::BlindKey>,
    /// Where the statistics index keeps its snapshot (a cache: start-up counts only the
    /// entries after it); `None` counts the whole log at every start.
    pub stats_snapshot: Option<PathBuf>,
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
            agency_share: None,
            window: Window::default(),
            checkpoint_copy: None,
            rate_limit: None,
            write_retry: Duration::from_secs(5),
            blind_key: None,
            stats_snapshot: None,
        }
    }
}

/// SubmitError says why a submission was not logged.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A check refused the event.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// The registry event is refused: its registrars' signatures, or the change itself.
    #[error("registry event refused: {0}")]
    Registry(#[from] ChangeError),
    /// The sealed read is refused.
    #[error("sealed read refused: {0}")]
    Read(#[from] SealedReadError),
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
    #[error(
        "the log is busy: its pool of events waiting to be written is full ({0} events); retry shortly"
    )]
    PoolFull(usize),
    /// The agency has its whole share of the pool waiting: try again shortly.
    #[error(
        "{agency} already has {share} events waiting to be written, its share of the log's pool; retry shortly"
    )]
    ShareFull {
        /// The agency.
        agency: String,
        /// Its share of the pool.
        share: usize,
    },
    /// The agency submits faster than its rate limit allows.
    #[error("{agency} is over its rate limit; retry in {retry_after_ms} ms")]
    RateLimited {
        /// The agency.
        agency: String,
        /// When a token will be available again.
        retry_after_ms: u64,
    },
    /// The entry is logged, but its receipt could not be read back: a retry of the same
    /// submission gets it.
    #[error("the entry is logged, but reading its receipt failed ({0}); retry for it")]
    Receipt(ReadError),
    /// The log cannot write now (storage failure, or shutting down).
    #[error("the log cannot accept writes: {0}")]
    Unavailable(String),
}

/// Submitted is a receipt and whether the log created the entry (false: an idempotent retry).
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The receipt, against the checkpoint committed with the entry.
    pub receipt: Receipt,
    /// True when this submission created the entry.
    pub created: bool,
}

/// Appender admits submissions and hands them to the sequencer.
pub struct Appender {
    /// Where the log lives, for idempotent retries after the window.
    store: Arc<dyn Store>,
    /// The trust root: registrars, and the holders events may name.
    trust: Arc<TrustRoot>,
    /// The blind index's key, to find what a search erasure names.
    blind_key: Option<crate::blind::BlindKey>,
    /// Time source for admission.
    clock: Arc<dyn Clock>,
    /// Admission window.
    window: Window,
    /// The failure flag the sequencer sets.
    shared: Arc<Shared>,
    /// Reads for receipts, bounded by the published checkpoint.
    reader: LogReader,
    /// The pool; `None` once closed.
    pool: Mutex<Option<SyncSender<Pending>>>,
    /// Pool capacity, for error messages.
    pool_capacity: usize,
    /// Events each agency has in the pool, and the most it may have.
    shares: Shares,
    /// The sequencer thread, joined on close.
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Per-agency token buckets, if submissions are rate limited.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Operational metrics, shared with the sequencer and the HTTP layer.
    metrics: Arc<Metrics>,
    /// Held while an erasure or a retention notice is carried out: one at a time, so that
    /// each sees the openings the other left (two orders of entries holding one value must
    /// not each keep a search's copy for the other).
    erasing: tokio::sync::Mutex<()>,
}

/// Parts is what [`Appender::new`] is built from.
pub(crate) struct Parts {
    /// The store, for idempotent retries after the window.
    pub(crate) store: Arc<dyn Store>,
    /// The trust root.
    pub(crate) trust: Arc<TrustRoot>,
    /// Time source for admission.
    pub(crate) clock: Arc<dyn Clock>,
    /// The failure flag the sequencer sets.
    pub(crate) shared: Arc<Shared>,
    /// Reads for receipts.
    pub(crate) reader: LogReader,
    /// The sending side of the pool the sequencer reads.
    pub(crate) pool: SyncSender<Pending>,
    /// The sequencer thread.
    pub(crate) thread: JoinHandle<()>,
    /// Operational metrics.
    pub(crate) metrics: Arc<Metrics>,
}

impl Appender {
    /// new assembles an appender around a started sequencer.
    pub(crate) fn new(parts: Parts, options: &Options) -> Appender {
        Appender {
            store: parts.store,
            trust: parts.trust,
            blind_key: options.blind_key.clone(),
            clock: parts.clock,
            window: options.window,
            shared: parts.shared,
            reader: parts.reader,
            pool: Mutex::new(Some(parts.pool)),
            pool_capacity: options.pool_capacity,
            shares: Shares::new(
                options
                    .agency_share
                    .unwrap_or(options.pool_capacity / 4)
                    .max(1),
            ),
            thread: Mutex::new(Some(parts.thread)),
            limiter: options
                .rate_limit
                .map(|r| RateLimiter::keyed(Quota::per_second(r.per_second).allow_burst(r.burst))),
            metrics: parts.metrics,
            erasing: tokio::sync::Mutex::new(()),
        }
    }

    /// submit checks a submission, waits until its entry is durable, and returns its
    /// receipt.
    pub async fn submit(&self, submission: Submission) -> Result<Submitted, SubmitError> {
        let accepted = self.append(submission).await?;
        self.receipt(accepted)
    }

    /// submit_registry checks a registry event's registrars' signatures and the change
    /// against the registry as published, waits until its entry is durable, and returns its
    /// receipt. The sequencer checks it again against the registry at its own index.
    pub async fn submit_registry(
        &self,
        signed: SignedRegistryEvent,
    ) -> Result<Submitted, SubmitError> {
        let published = self.reader.published();
        let request_key = registry_request_key(&signed);
        // The signatures first: a hostile request costs no copy of the registry.
        probe_signers(&published.keys, &self.trust, &signed)?;
        let mut probe = (*published.keys).clone();
        let item = Item::Registry(signed);
        if let Item::Registry(signed) = &item
            && let Err(refused) = probe.apply_signed(signed, &self.trust, published.size)
        {
            // A retry of a change already logged is refused by the registry it made (a key
            // registered twice): give it its original receipt (its own signatures held).
            match already_logged(self.store.as_ref(), item.claim(), &request_key) {
                Ok(Some(Ok(original))) if original.checkpoint_size <= published.size => {
                    return self.receipt(original);
                }
                Err(e) => return Err(SubmitError::Unavailable(e.to_string())),
                _ => return Err(refused.into()),
            }
        }
        // Registry events share one place in the pool, apart from every agency's (no agency
        // id holds a space).
        let accepted = self.enqueue(item, request_key, "registry events").await?;
        self.receipt(accepted)
    }

    /// submit_read checks an auditor's sealed read ([`admit_read`]: role, signature, time
    /// window, target, openings; and every entry it lists is an access entry the log
    /// holds), waits until the read's entry is durable, and returns its receipt. Only then
    /// may anything it reads be disclosed.
    pub async fn submit_read(&self, read: ReadSubmission) -> Result<Submitted, SubmitError> {
        let published = self.reader.published();
        admit_read(
            &read,
            &published.keys,
            published.size,
            self.clock.now_millis(),
            self.window,
        )?;
        if let Target::Entries(listed) = read
            .event
            .target(published.size)
            .map_err(SealedReadError::from)?
        {
            for index in listed {
                self.check_access(index.get())?;
            }
        }
        let request_key = read_request_key(&read.event);
        let agency = read.event.agency.to_string();
        let accepted = self
            .enqueue(Item::SealedRead(read), request_key, &agency)
            .await?;
        self.receipt(accepted)
    }

    /// submit_erasure checks an erasure order ([`admit_erasure`]: role `erasure_authority`,
    /// signature, window, target, openings; every entry it lists an access entry the log
    /// holds), waits until its entry is durable, then destroys the openings it names, and
    /// returns its receipt and the entries erased. A retry of a logged order finishes it.
    pub async fn submit_erasure(
        &self,
        order: ErasureSubmission,
    ) -> Result<(Submitted, Vec<u64>), SubmitError> {
        let published = self.reader.published();
        admit_erasure(
            &order,
            &published.keys,
            published.size,
            self.clock.now_millis(),
            self.window,
        )?;
        if let Target::Entries(listed) = order
            .event
            .target(published.size)
            .map_err(SealedReadError::from)?
        {
            for index in listed {
                self.check_access(index.get())?;
            }
        }
        let request_key = erasure_request_key(&order.event);
        let agency = order.event.agency.to_string();
        let accepted = self
            .enqueue(Item::Erasure(order.clone()), request_key, &agency)
            .await?;
        let _one_at_a_time = self.erasing.lock().await;
        let erased = carry_out_erasure(
            self.store.as_ref(),
            self.blind_key.as_ref(),
            accepted.index,
            &order.event,
            order.openings.as_ref(),
        )
        .map_err(|e| SubmitError::Unavailable(format!(
            "the erasure is logged at index {}, but destroying the openings failed ({e}); retry it to finish",
            accepted.index
        )))?;
        Ok((self.receipt(accepted)?, erased))
    }

    /// retain destroys the openings of access entries accessed before `before`, from the
    /// first entry no retention notice covers yet, in index order, up to the first entry
    /// accessed at or after it (or `most` entries): it logs a retention notice naming the
    /// range, signed by the log key, and once that is durable destroys them as an erasure
    /// does. Returns the range purged, if any.
    pub async fn retain(
        &self,
        before: huella_core::values::Timestamp,
        most: u64,
    ) -> Result<Option<(u64, u64, u64)>, SubmitError> {
        let unavailable = |e: crate::store::StoreError| SubmitError::Unavailable(e.to_string());
        let _one_at_a_time = self.erasing.lock().await;
        let size = self.reader.published().size;
        let first = retention_next(self.store.as_ref()).map_err(unavailable)?;
        let mut last = None;
        let mut at = first;
        'scan: while at < size && at - first < most {
            let page = self
                .store
                .leaves(at, 1000.min(size - at))
                .map_err(unavailable)?;
            if page.is_empty() {
                break;
            }
            for leaf in &page {
                if at - first >= most {
                    break 'scan;
                }
                // The range ends at the last access entry accessed before `before`; other
                // entries (registry events, reads, notices) hold nothing to purge.
                if let Ok(Leaf::Access(entry)) = Leaf::parse(leaf) {
                    if entry.event.accessed_at.unix_millis() >= before.unix_millis() {
                        break 'scan;
                    }
                    last = Some(at);
                }
                at += 1;
            }
        }
        let Some(last) = last else {
            return Ok(None);
        };
        let notice = Retention {
            before,
            first: Count::new(first).map_err(|e| SubmitError::Unavailable(e.to_string()))?,
            kind: huella_core::sealed::RetentionKind::Only,
            last: Count::new(last).map_err(|e| SubmitError::Unavailable(e.to_string()))?,
        };
        let request_key = retention_request_key(&notice);
        let accepted = self
            .enqueue(
                Item::Retention(notice.clone()),
                request_key,
                "retention notices",
            )
            .await?;
        carry_out_retention(
            self.store.as_ref(),
            self.blind_key.as_ref(),
            accepted.index,
            &notice,
        )
        .map_err(unavailable)?;
        Ok(Some((first, last, accepted.index)))
    }

    /// check_access refuses an index that is not an access entry the log holds.
    fn check_access(&self, index: u64) -> Result<(), SubmitError> {
        let leaf = self
            .store
            .leaves(index, 1)
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        if leaf
            .first()
            .is_some_and(|l| matches!(Leaf::parse(l), Ok(Leaf::Access(_))))
        {
            return Ok(());
        }
        Err(SealedReadError::Target(SealedError::Entries(format!(
            "entry {index} is not an access entry: it holds no sealed data"
        )))
        .into())
    }

    /// receipt reads the receipt of an accepted entry.
    fn receipt(&self, accepted: Accepted) -> Result<Submitted, SubmitError> {
        let receipt = self
            .reader
            .receipt(
                accepted.index,
                accepted.leaf,
                accepted.checkpoint_size,
                &accepted.checkpoint,
            )
            .map_err(SubmitError::Receipt)?;
        Ok(Submitted {
            receipt,
            created: accepted.created,
        })
    }

    /// append admits a submission and waits until its entry is durable.
    async fn append(&self, submission: Submission) -> Result<Accepted, SubmitError> {
        let published = self.reader.published();
        let rules = Rules {
            keys: &published.keys,
            holders: &self.trust.registry,
        };
        let admitted = match admit(submission, rules, self.clock.now_millis(), self.window) {
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
                match already_logged(
                    self.store.as_ref(),
                    Claim::Access(&signed),
                    &request_key(&signed),
                ) {
                    Ok(Some(Ok(original)))
                        if original.checkpoint_size <= self.reader.published().size =>
                    {
                        return Ok(original);
                    }
                    // The store cannot say now (it is being repaired, say): retry later, not
                    // a refusal that looks final.
                    Err(e) => return Err(SubmitError::Unavailable(e.to_string())),
                    _ => {}
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
        let agency = admitted.signed().event.requesting_agency.to_string();
        let key = request_key(admitted.signed());
        self.enqueue(Item::Access(admitted), key, &agency).await
    }

    /// enqueue puts an admitted item in the pool, within `agency`'s share and rate limit,
    /// and waits until its entry is durable.
    async fn enqueue(
        &self,
        item: Item,
        request_key: Vec<u8>,
        agency: &str,
    ) -> Result<Accepted, SubmitError> {
        if let Some(failure) = lock(&self.shared.failure).clone() {
            return Err(SubmitError::Unavailable(failure));
        }
        let Some(share) = self.shares.take(agency) else {
            return Err(SubmitError::ShareFull {
                agency: agency.to_string(),
                share: self.shares.most,
            });
        };
        // After the share, so that an event refused for a full share spends no token.
        if let Some(limiter) = &self.limiter
            && matches!(item, Item::Access(_))
        {
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
            request_key,
            item,
            reply,
            share,
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

    /// write_failure says why writes are refused, if they are.
    pub fn write_failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// trust is the trust root the log admits events against.
    pub fn trust(&self) -> &TrustRoot {
        &self.trust
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

/// probe_signers checks a registry event's registrars' signatures alone (the threshold of
/// the right country's, each valid), against the registry `keys` for the country of a key
/// it retires or revokes.
fn probe_signers(
    keys: &KeyRegistry,
    trust: &TrustRoot,
    signed: &SignedRegistryEvent,
) -> Result<(), ChangeError> {
    let country = keys.country_of(&signed.event.change())?;
    let signatures: Vec<_> = signed
        .signatures
        .iter()
        .map(|s| (s.key.clone(), s.signature.0.to_vec()))
        .collect();
    KeyRegistry::check_signers(trust, &country, &signed.event.signing_bytes(), &signatures)
}

/// Shares counts the events each agency has in the pool.
#[derive(Clone)]
pub(crate) struct Shares {
    /// Events in the pool, by agency.
    waiting: Arc<Mutex<HashMap<String, usize>>>,
    /// The most one agency may have.
    most: usize,
}

/// Share is one event's place in its agency's share of the pool, given back when dropped:
/// when the sequencer takes the event out of the pool.
pub(crate) struct Share {
    shares: Shares,
    agency: String,
}

impl Shares {
    fn new(most: usize) -> Shares {
        Shares {
            waiting: Arc::default(),
            most,
        }
    }

    /// take takes a place in `agency`'s share, if it has one free.
    fn take(&self, agency: &str) -> Option<Share> {
        let mut waiting = lock(&self.waiting);
        let count = waiting.entry(agency.to_string()).or_insert(0);
        if *count >= self.most {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: self.clone(),
            agency: agency.to_string(),
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut waiting = lock(&self.shares.waiting);
        if let Some(count) = waiting.get_mut(&self.agency) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&self.agency);
            }
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.close();
    }
}

/// carry_out_erasure destroys the openings (and blind-index records) of every access entry
/// the order logged at `by` names, that are not destroyed yet: the listed entries, or those
/// before it whose searched field has the value of `search`. Before any of them, it destroys
/// the value a sealed read searched for when the entries it destroys are the last that hold
/// it ([`erase_searches`]); a search's own opening, kept beside the order until now, goes
/// last. So a run stopped anywhere (a crash, a failed write) and run again finishes the
/// same: the openings it reads are there until the searches are done. Returns the entries
/// erased now or before by this order.
pub(crate) fn carry_out_erasure(
    store: &dyn Store,
    blind: Option<&crate::blind::BlindKey>,
    by: u64,
    order: &Erasure,
    search: Option<&SearchOpenings>,
) -> Result<Vec<u64>, crate::store::StoreError> {
    let targets: Vec<u64> = match (&order.entries, &order.search, search, blind) {
        (Some(listed), _, _, _) => listed.iter().map(|i| i.get()).collect(),
        (None, Some(wanted), Some(opening), Some(key)) => {
            let mut found = Vec::new();
            for index in store.blind_lookup(&key.tag(wanted.field, &opening.search.value))? {
                if index < by {
                    found.push(index);
                }
            }
            found
        }
        _ => Vec::new(),
    };
    let matches = |openings: &huella_core::event::Openings| match (&order.search, search) {
        (Some(wanted), Some(opening)) => {
            crate::blind::value(openings, wanted.field).value == opening.search.value
        }
        _ => true,
    };
    let mut erased = Vec::new();
    let mut doomed = Vec::new();
    for index in targets {
        if let Some(earlier) = store.erased_by(index)? {
            if earlier == by {
                erased.push(index);
            }
            continue;
        }
        if let Some(openings) = stored_openings(store, index)?
            && matches(&openings)
        {
            doomed.push((index, openings));
        }
    }
    let mut destroyed = Destroyed::default();
    if let (Some(wanted), Some(opening)) = (&order.search, search) {
        destroyed.add(wanted.field, &opening.search.value);
    }
    for (index, openings) in &doomed {
        destroyed.add_entry(*index, openings);
    }
    let doomed_indices: HashSet<u64> = doomed.iter().map(|(i, _)| *i).collect();
    erase_searches(store, blind, by, &destroyed, &doomed_indices)?;
    for (index, openings) in doomed {
        erase_entry(store, blind, index, &openings, by)?;
        erased.push(index);
    }
    if order.search.is_some() && store.erased_by(by)?.is_none() {
        store.erase(by, &[], by)?;
    }
    erased.sort_unstable();
    Ok(erased)
}

/// Destroyed is the searchable values an erasure or a retention notice destroys, each with
/// the entries being erased that hold it.
#[derive(Default)]
struct Destroyed(HashMap<(huella_core::sealed::SearchField, String), Vec<u64>>);

impl Destroyed {
    /// add adds a value of `field` (an order's searched value: no entry of its own).
    fn add(&mut self, field: huella_core::sealed::SearchField, value: &str) {
        self.0.entry((field, value.to_string())).or_default();
    }

    /// add_entry adds the searchable values of the access entry at `index`.
    fn add_entry(&mut self, index: u64, openings: &huella_core::event::Openings) {
        for field in crate::blind::FIELDS {
            let value = crate::blind::value(openings, field).value.clone();
            self.0.entry((field, value)).or_default().push(index);
        }
    }
}

/// erase_searches destroys, recorded as by the entry at `by`, the searched value a sealed
/// read keeps beside its entry (so that a retry can be answered) when that value is one in
/// `destroyed` and either the read found one of the entries being erased (an entry before
/// it holding the value: a retry could no longer disclose what the read disclosed), or no
/// access entry outside `erasing` still holds it (the read's copy would be the last). A
/// read whose copy stays (its value is still held by entries it found, none of them erased)
/// discloses the same on a retry. Reads are few beside accesses, so this looks at each
/// read's kept value rather than keeping an index of them. (An erasure order's own
/// searched value is destroyed by that order, last.)
fn erase_searches(
    store: &dyn Store,
    blind: Option<&crate::blind::BlindKey>,
    by: u64,
    destroyed: &Destroyed,
    erasing: &HashSet<u64>,
) -> Result<(), crate::store::StoreError> {
    if destroyed.0.is_empty() {
        return Ok(());
    }
    let mut gone: HashMap<(huella_core::sealed::SearchField, String), bool> = HashMap::new();
    for index in store.request_indices(READ_REQUESTS)? {
        if store.erased_by(index)?.is_some() {
            continue;
        }
        let Some(leaf) = store.leaves(index, 1)?.pop() else {
            continue;
        };
        let Ok(Leaf::SealedRead(read)) = Leaf::parse(&leaf) else {
            continue;
        };
        let (Some(wanted), Some(bytes)) = (read.event.search, store.opening(index)?) else {
            continue;
        };
        let Ok(Some(SearchOpenings { search })) =
            serde_json::from_slice::<Option<SearchOpenings>>(&bytes)
        else {
            continue;
        };
        let value = (wanted.field, search.value);
        let Some(holders) = destroyed.0.get(&value) else {
            continue;
        };
        let found_one = holders.iter().any(|&holder| holder < index);
        let last_copy = match gone.get(&value) {
            Some(&last) => last,
            None => {
                let last = match blind {
                    Some(key) => store
                        .blind_lookup(&key.tag(value.0, &value.1))?
                        .iter()
                        .all(|i| erasing.contains(i)),
                    None => true,
                };
                gone.insert(value, last);
                last
            }
        };
        if found_one || last_copy {
            store.erase(index, &[], by)?;
        }
    }
    Ok(())
}

/// retention_next is the first index no retention notice covers: one past the last notice's
/// range, or 0.
pub(crate) fn retention_next(store: &dyn Store) -> Result<u64, crate::store::StoreError> {
    let mut next = 0;
    for index in store.request_indices(RETENTION_REQUESTS)? {
        if let Some(leaf) = store.leaves(index, 1)?.pop()
            && let Ok(Leaf::Retention(notice)) = Leaf::parse(&leaf)
        {
            next = next.max(notice.event.last.get() + 1);
        }
    }
    Ok(next)
}

/// carry_out_retention destroys, as an erasure does (recorded as by the notice at `by`),
/// the openings of the access entries in the notice's range accessed before its `before`
/// and not destroyed yet; first, the value any sealed read made before `before` kept
/// (wherever it is in the log), and the value a later read kept when the entries destroyed
/// now are the last that held it ([`erase_searches`]). Run again after a stop, it finishes
/// the same.
pub(crate) fn carry_out_retention(
    store: &dyn Store,
    blind: Option<&crate::blind::BlindKey>,
    by: u64,
    notice: &Retention,
) -> Result<(), crate::store::StoreError> {
    let (first, last) = (notice.first.get(), notice.last.get());
    let before = notice.before.unix_millis();
    let leaves = store.leaves(first, last - first + 1)?;
    let mut doomed = Vec::new();
    for (leaf, index) in leaves.iter().zip(first..) {
        let Ok(Leaf::Access(entry)) = Leaf::parse(leaf) else {
            continue;
        };
        if entry.event.accessed_at.unix_millis() >= before || store.erased_by(index)?.is_some() {
            continue;
        }
        if let Some(openings) = stored_openings(store, index)? {
            doomed.push((index, openings));
        }
    }
    for index in store.request_indices(READ_REQUESTS)? {
        if index >= by || store.erased_by(index)?.is_some() || store.opening(index)?.is_none() {
            continue;
        }
        if let Some(leaf) = store.leaves(index, 1)?.pop()
            && let Ok(Leaf::SealedRead(read)) = Leaf::parse(&leaf)
            && read.event.search.is_some()
            && read.event.read_at.unix_millis() < before
        {
            store.erase(index, &[], by)?;
        }
    }
    let mut destroyed = Destroyed::default();
    for (index, openings) in &doomed {
        destroyed.add_entry(*index, openings);
    }
    let erasing: HashSet<u64> = doomed.iter().map(|(i, _)| *i).collect();
    erase_searches(store, blind, by, &destroyed, &erasing)?;
    for (index, openings) in doomed {
        erase_entry(store, blind, index, &openings, by)?;
    }
    Ok(())
}

/// stored_openings reads an access entry's openings, if it still has them.
fn stored_openings(
    store: &dyn Store,
    index: u64,
) -> Result<Option<huella_core::event::Openings>, crate::store::StoreError> {
    Ok(store
        .opening(index)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// erase_entry destroys an access entry's openings and blind-index records, recorded as by
/// the entry at `by`.
fn erase_entry(
    store: &dyn Store,
    blind: Option<&crate::blind::BlindKey>,
    index: u64,
    openings: &huella_core::event::Openings,
    by: u64,
) -> Result<(), crate::store::StoreError> {
    let tags: Vec<[u8; 32]> = match blind {
        Some(key) => key.records(index, openings).map(|(tag, _)| tag).to_vec(),
        None => Vec::new(),
    };
    store.erase(index, &tags, by)
}
