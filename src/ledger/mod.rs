//! The ledger, split by what it does (as Tessera splits its appender from its log reader):
//!
//! - [`recovery`]: start-up checks, and the checkpoint copy kept outside the store.
//! - [`appender`]: admission, rate limit, pool; [`Appender::submit`] returns the receipt.
//! - [`sequencer`]: the single writer, integrating admitted events in batches (group commit).
//! - [`reader`]: [`LogReader`], every read bounded by the published checkpoint.
//! - [`clock`]: the time admission and entries read, injectable for tests.
//!
//! # Commit order, and what a crash at each step leaves
//!
//! For each batch the sequencer, a single thread and the only writer, does the following.
//! After each step that writes, the note says what a crash there leaves on disk and how
//! start-up ([`Ledger::open`], in [`recovery`]) repairs or refuses it. `tests/commit_steps.rs`
//! crashes a [`crate::store::FaultyStore`] at each of the steps marked (*Step*), with the
//! step's not-yet-durable writes persisting and not, then restarts and verifies the whole log
//! and every receipt already given; it also checks that the sled store takes the same steps
//! in the same order, and fails it at each of them.
//!
//! 1. Checks idempotency (request id already logged, or already in this batch), assigns
//!    dense indices, chains `prev`, and appends leaf hashes to a copy of the frontier (the
//!    live one changes only at step 6).
//! 2. Signs a checkpoint for the new size, kept private until step 6.
//!    (*BeforeTreeHashes*) A crash up to here wrote nothing: the batch is lost, and none of
//!    its waiters had an answer. Start-up finds the log as it was.
//! 3. The store writes the batch's tree hashes after the last ones in the hash file and
//!    fsyncs it; then the sled store draws a fresh key for each entry's openings and writes
//!    them at `32 × index` in `db/opening-keys`, fsynced, before sled can hold the openings
//!    sealed under them. (*AfterTreeHashes*) A crash anywhere in this step, before, between
//!    or after the two fsyncs, leaves at most a tail of hashes and a tail of keys past the
//!    stored entries: start-up reads only the hashes of the entries sled holds and never
//!    reads a key past them, and the next commit writes over both tails (at the same
//!    indices, since it starts at the stored size). The keys of stored entries are never
//!    written here, so no crash can destroy an opening that was acknowledged.
//!    `tests/commit_steps.rs` reads every entry's openings back after each crash.
//! 4. The store applies the batch's records (leaves, openings, request ids and the signed
//!    checkpoint) as one atomic sled batch. (*AfterRecords*) Until the flush, a crash keeps
//!    either the whole batch, checkpoint included, or none of it. Kept, it is a complete log
//!    whose checkpoint nobody was given yet; its waiters' retries get the original receipts.
//!    Lost, the log is as it was, with a hash tail as in step 3.
//! 5. The store flushes (fsync). (*AfterFlush*) The batch is durable. A crash before the
//!    answers leaves a durable batch nobody has a receipt for, as in step 4.
//! 6. Publishes the checkpoint and moves the live frontier on; reads now serve the batch.
//! 7. Answers every waiting request with its receipt.
//! 8. Copies the checkpoint to a file outside the store ([`Options::checkpoint_copy`]).
//!    A crash between the answers and the copy leaves the disk as after step 5 with the old
//!    copy, behind the store, which start-up accepts (it refuses only a store behind the
//!    copy: a store that lost its tail); the receipts given are for a durable batch. The copy
//!    is replaced by rename, so it is the old one or the new one. (*AfterCheckpoint*) A crash
//!    once the copy is written leaves everything of the batch, its receipts given.
//!
//! Start-up checks that the stored leaves, tree hashes, chain head and latest checkpoint
//! agree, and that the store is not behind the copy, and refuses to start, saying what is
//! wrong, if they do not.
//!
//! # After a failed write
//!
//! A failed commit leaves the store's state unknown: writing on from the sequencer's own
//! idea of it could sign two different trees of the same size. So a failed write is never
//! simply retried. A transient failure (too many open files, no memory: the descriptor
//! exhaustion an outside attack caused) is retried for up to [`Options::write_retry`] while
//! the batch's waiters wait: each retry first repairs the store ([`Store::repair`]) and runs
//! the start-up checks on what it now holds, which is either the whole batch (durable now:
//! the waiters get their receipts) or none of it (committed again). Any other failure, or
//! one that outlasts the retries, fails the batch's waiters with 503 and refuses writes;
//! the sequencer then repairs and re-checks the store at growing intervals (up to 5 s)
//! and resumes writing from what it holds as soon as the store takes writes again (a full
//! disk that was freed), with no restart. Reads of what is published keep working
//! throughout, except while the sled store reopens itself (see its `repair`). A failed
//! checkpoint copy (step 8) is handled the same way.
//!
//! One thing this cannot see: when the kernel reports a failed write-back only at fsync, it
//! may keep the pages it failed to write in its cache, marked clean. A reopen (or a restart)
//! then reads the failed batch back as if it were durable, and it is published; after a
//! power loss it is gone, and start-up refuses the store as behind its checkpoint copy
//! (loudly, never a silent fork). Full disks on common file systems fail at `write`, before
//! any of this.

use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex, RwLock};

use huella_core::keylog::KeyRegistry;
use huella_core::keys::{SignerKey, VerifierKey};
use huella_core::trust::TrustRoot;

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

pub mod appender;
pub mod clock;
pub mod reader;
pub mod recovery;
pub mod search;
pub mod sequencer;
pub(crate) mod stats;

pub use appender::{Appender, Options, RateLimit, SubmitError, Submitted};
pub use clock::{Clock, ManualClock, SystemClock};
pub use reader::{LogReader, Published, ReadError, Snapshot};
pub use recovery::{Inconsistency, StartError};

/// Ledger is a running log: its appender, its reader, its key and its metrics.
pub struct Ledger {
    /// Admission and the sequencer.
    appender: Appender,
    /// Reads bounded by the published checkpoint.
    reader: LogReader,
    /// The raw store, for [`Ledger::store`].
    store: Arc<dyn Store>,
    /// The log's public key (its name is the origin).
    log_key: VerifierKey,
    /// Operational metrics, shared with the sequencer and the HTTP layer.
    metrics: Arc<Metrics>,
    /// The blind index's key, if the log keeps one.
    blind_key: Option<crate::blind::BlindKey>,
    /// Statistics of the published entries.
    stats: Arc<stats::Stats>,
}

impl Ledger {
    /// open checks the store, starts the sequencer and returns the running ledger.
    pub fn open(
        store: Arc<dyn Store>,
        signer: SignerKey,
        trust: TrustRoot,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Result<Ledger, StartError> {
        let trust = Arc::new(trust);
        let recovered = recovery::recover(
            store.as_ref(),
            &signer,
            &trust,
            options.checkpoint_copy.as_deref(),
        )?;
        if let Some(path) = &options.checkpoint_copy {
            recovery::write_copy(path, &recovered.published.note).map_err(|e| {
                StoreError::io(format!("writing the checkpoint copy {}", path.display()), e)
            })?;
        }
        if let Some(key) = &options.blind_key {
            recovery::build_blind_index(store.as_ref(), key, recovered.published.size)?;
        }
        // An order logged before a crash, its openings not all destroyed yet: finish it.
        recovery::finish_erasures(
            store.as_ref(),
            options.blind_key.as_ref(),
            recovered.published.size,
        )?;
        let stats = Arc::new(stats::Stats::build(
            store.as_ref(),
            recovered.published.size,
            options.stats_snapshot.clone(),
        )?);
        let log_key = signer.verifier();
        let metrics = Arc::new(Metrics::new());
        metrics.tree_size.set(recovered.published.size);
        let keys = recovered.published.keys.clone();
        let shared = Arc::new(sequencer::Shared {
            published: RwLock::new(Arc::new(recovered.published)),
            failure: Mutex::new(None),
        });
        let reader = LogReader::new(store.clone(), shared.clone());
        let (pool, rx) = sync_channel(options.pool_capacity);
        let sequencer = sequencer::Sequencer {
            store: store.clone(),
            signer,
            trust: trust.clone(),
            keys,
            clock: clock.clone(),
            shared: shared.clone(),
            frontier: recovered.frontier,
            head: recovered.head,
            last_integrated: recovered.last_integrated,
            options: options.clone(),
            metrics: metrics.clone(),
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || sequencer.run(rx))
            .map_err(|e| StartError::Store(StoreError::io("starting the sequencer", e)))?;
        let appender = Appender::new(
            appender::Parts {
                store: store.clone(),
                trust,
                clock,
                shared,
                reader: reader.clone(),
                pool,
                thread,
                metrics: metrics.clone(),
            },
            &options,
        );
        Ok(Ledger {
            appender,
            reader,
            store,
            log_key,
            metrics,
            blind_key: options.blind_key.clone(),
            stats,
        })
    }

    /// stats answers a statistics query over the published entries
    /// ([`huella_core::stats`]), from the index the sequencer keeps up to date.
    pub fn stats(&self, query: &huella_core::stats::Query) -> huella_core::stats::Table {
        self.stats.query(query)
    }

    /// search answers one page of a search over the published entries ([`search`]).
    pub fn search(&self, request: &search::Request) -> Result<search::Page, ReadError> {
        let snapshot = self.reader.snapshot();
        let (blocks, matches) = self.stats.blocks_matching(&request.query);
        search::search(
            snapshot.size(),
            |first, count| snapshot.leaves(first, count),
            &blocks,
            matches,
            request,
        )
    }

    /// appender admits submissions and returns their receipts.
    pub fn appender(&self) -> &Appender {
        &self.appender
    }

    /// reader reads the log as far as it is published.
    pub fn reader(&self) -> &LogReader {
        &self.reader
    }

    /// store is the raw store, for operators' tools and tests. Reads through it are not
    /// bounded by the published checkpoint, so the HTTP API reads through [`Ledger::reader`]
    /// only.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// published is the newest durable checkpoint.
    pub fn published(&self) -> Arc<Published> {
        self.reader.published()
    }

    /// log_key is the log's public key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// trust is the trust root the log admits events against.
    pub fn trust(&self) -> &TrustRoot {
        self.appender.trust()
    }

    /// keys is the registry of keys as of the published checkpoint.
    pub fn keys(&self) -> Arc<KeyRegistry> {
        self.reader.published().keys.clone()
    }

    /// blind_key is the blind index's key, if the log keeps one.
    pub fn blind_key(&self) -> Option<&crate::blind::BlindKey> {
        self.blind_key.as_ref()
    }

    /// metrics are the ledger's operational metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// close stops the sequencer after it finishes the batches already queued.
    pub fn close(&self) {
        self.appender.close();
    }
}
