//! Storage behind a trait with a written contract:
//!
//! - [`sled`]: the default, sled for the records and a flat file for the tree hashes;
//! - [`memory`]: in memory, for tests and tools;
//! - [`faulty`]: in memory with a model of what is on disk, failing or crashing at any step
//!   of a commit, for the tests of the commit order.
//!
//! # Contract
//!
//! - **Durable once `commit` returns `Ok`.** Every part of the batch (leaves, stored hashes,
//!   openings, request ids and the signed checkpoint) is on disk and survives a crash.
//! - **All or nothing.** After a crash, a batch is either wholly visible or not at all.
//! - **Append only.** A batch starts exactly at the stored size; the checkpoint it carries
//!   is for the stored size after it. The store never rewrites a committed leaf.
//! - **After a failed commit the store's state is unknown** until [`Store::repair`] returns
//!   `Ok`: callers must stop writing, repair, and check what the store holds as start-up
//!   does before they write again (the sequencer does). Reads of what was durable before the
//!   failure keep working meanwhile.
//! - **`repair` succeeds only once the store can write again**, and leaves it holding only
//!   what is durable: every batch whose commit returned `Ok`, and possibly a batch whose
//!   commit failed (wholly, never in part).

use std::sync::Arc;

use huella_core::merkle::{Hash, HashReader};

pub mod faulty;
pub mod hash_file;
pub mod memory;
pub mod opening_keys;
pub mod sled;

pub use faulty::{Fault, FaultyStore, STEPS, Step};
pub use hash_file::{HASH_FILE, UPPER_LEVEL};
pub use memory::MemoryStore;
pub use sled::{SLED_CACHE_BYTES, SledStore};

/// StepHook is told each [`Step`] of a commit as the store takes it, and may stop the commit
/// there by returning an error (see [`SledStore::with_step_hook`]).
pub type StepHook = Arc<dyn Fn(Step) -> Result<(), StoreError> + Send + Sync>;

/// StoreError is a storage failure. [`StoreError::is_transient`] tells the ones worth
/// retrying at once (a resource briefly exhausted) from the ones that last until the fault
/// is cleared (a full disk) or forever (corruption).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("storage I/O error: {what}: {source}")]
    Io {
        /// What was being done, on which file.
        what: String,
        /// The operating system's error (its kind tells a full disk from a missing file).
        source: Arc<std::io::Error>,
    },
    /// sled failed.
    #[error("storage I/O error: {0}")]
    Sled(Arc<::sled::Error>),
    /// The database was closed after a failed write, and could not be opened again yet.
    #[error(
        "the database {dir} is closed after a failed write; reopening it when the disk takes writes again"
    )]
    Closed {
        /// The database directory.
        dir: String,
    },
    /// Another process holds the database's lock (a server still running, say).
    #[error("the database {dir} is in use by another process (could not acquire its lock)")]
    Locked {
        /// The database directory.
        dir: String,
    },
    /// A fault a test injected (see [`FaultyStore`]).
    #[error("injected {0:?}")]
    Injected(Fault),
    /// The stored data is not what the log wrote.
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[from] Corruption),
    /// The batch does not start at the stored size.
    #[error("batch starts at {start} but the log has {size} entries")]
    NotAppend {
        /// First index of the batch.
        start: u64,
        /// Entries stored.
        size: u64,
    },
}

/// TRANSIENT are the operating system errors that say a resource is briefly exhausted
/// (descriptors, memory, a non-blocking retry), not that the disk failed.
const TRANSIENT: [i32; 6] = [
    libc::EMFILE,
    libc::ENFILE,
    libc::ENOMEM,
    libc::EAGAIN,
    libc::EINTR,
    libc::ENOBUFS,
];

/// is_transient_io says whether an I/O error is one of [`TRANSIENT`].
pub fn is_transient_io(e: &std::io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|code| TRANSIENT.contains(&code))
        || matches!(
            e.kind(),
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::OutOfMemory
        )
}

impl StoreError {
    /// is_transient says whether the error is a resource briefly exhausted (too many open
    /// files, no memory, try again), worth retrying the same write at once.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => is_transient_io(source),
            StoreError::Sled(e) => {
                matches!(e.as_ref(), ::sled::Error::Io(io) if is_transient_io(io))
            }
            _ => false,
        }
    }

    /// io wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, e: std::io::Error) -> StoreError {
        StoreError::Io {
            what: what.into(),
            source: Arc::new(e),
        }
    }
}

/// Corruption is how stored data differs from what the log wrote, one case per check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// A stored integer does not have 8 bytes.
    #[error("expected an 8-byte integer, found {0} bytes")]
    BadInteger(usize),
    /// The database holds a log in a layout this version does not read.
    #[error(
        "{dir} holds a log in the layout of an earlier Huella version (one sled tree per kind \
         of record); export it with that version and start a new log"
    )]
    OldLayout {
        /// The database directory.
        dir: String,
    },
    /// An entry below the stored size is missing.
    #[error("entry {index} is missing from a log of {size} entries")]
    MissingEntry {
        /// The missing index.
        index: u64,
        /// The stored size.
        size: u64,
    },
    /// The hash file is shorter than the stored entries need.
    #[error(
        "{path} holds {have} tree hashes, but the log's {size} entries need {need} (if an \
         earlier Huella version wrote to this log since, remove the file: the next start \
         computes it again from the entries)"
    )]
    ShortHashFile {
        /// The file.
        path: String,
        /// Hashes it holds.
        have: u64,
        /// Entries stored.
        size: u64,
        /// Hashes they need.
        need: u64,
    },
    /// A stored tree hash is not the hash of its two children.
    #[error(
        "stored tree hash {index} in {path} is not the hash of its two children (a damaged \
         file can be removed: the next start computes it again from the entries)"
    )]
    HashMismatch {
        /// The file.
        path: String,
        /// The stored hash index.
        index: u64,
    },
    /// A batch's tree hashes are not the next ones, in order.
    #[error("a batch of entries {start}..{end} must carry stored hashes {first}..{last} in order")]
    HashesOutOfOrder {
        /// First entry of the batch.
        start: u64,
        /// One past its last entry.
        end: u64,
        /// First stored hash index it must carry.
        first: u64,
        /// One past the last.
        last: u64,
    },
    /// A request id points at an entry that is not stored.
    #[error("request index points at missing entry {0}")]
    RequestWithoutEntry(u64),
    /// A stored entry does not parse.
    #[error("entry {index}: {why}")]
    BadEntry {
        /// Its index.
        index: u64,
        /// Why.
        why: String,
    },
    /// An entry is logged but no checkpoint covers it.
    #[error("no checkpoint covers entry {0}")]
    Uncovered(u64),
    /// A stored checkpoint is not UTF-8.
    #[error("checkpoint {0} is not UTF-8")]
    CheckpointNotUtf8(u64),
    /// After a failed write, the store holds fewer entries than the log had published.
    #[error("the store holds {held} entries, fewer than the {published} already published")]
    Shrunk {
        /// Entries the store holds.
        held: u64,
        /// Entries published before the failure.
        published: u64,
    },
    /// An entry the published size covers is missing.
    #[error("entry {0} is missing")]
    PublishedEntryMissing(u64),
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> StoreError {
        StoreError::Sled(Arc::new(e))
    }
}

/// Batch is one group commit: consecutive entries and the checkpoint that covers them.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Index of the first leaf.
    pub start: u64,
    /// Leaf bytes for indexes `start..start + leaves.len()`.
    pub leaves: Vec<Vec<u8>>,
    /// Openings (JSON) for the same indexes; stored apart from the public data.
    pub openings: Vec<Vec<u8>>,
    /// Request keys (agency, request id) of the same entries, for idempotent retries.
    pub request_keys: Vec<Vec<u8>>,
    /// New stored Merkle hashes, by stored hash index.
    pub hashes: Vec<(u64, Hash)>,
    /// Blind-index records of the batch's access entries: (tag, entry index), each tag an
    /// HMAC of a searchable field and its value under the server's blind-index key.
    pub blind: Vec<([u8; 32], u64)>,
    /// With a blind index, the size up to which it covers the log after the batch.
    pub blind_upto: Option<u64>,
    /// Tree size after the batch.
    pub checkpoint_size: u64,
    /// The signed checkpoint for that size.
    pub checkpoint: Vec<u8>,
}

/// Store is where the log lives. See the module docs for the contract.
pub trait Store: HashReader + Send + Sync + 'static {
    /// commit writes a batch durably and atomically.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// size is the number of committed leaves.
    fn size(&self) -> Result<u64, StoreError>;
    /// leaves returns up to `limit` leaves from `start`.
    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// checkpoint returns the signed checkpoint for exactly `size`, if one was stored.
    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// checkpoint_covering returns the first stored checkpoint whose size exceeds `index`:
    /// the one committed with that entry.
    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// latest_checkpoint returns the newest signed checkpoint and its size.
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// request_index finds the entry logged for a request key.
    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError>;
    /// request_indices finds every entry logged for a request key that starts with
    /// `prefix` (the registry events, at start-up), in no particular order.
    fn request_indices(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError>;
    /// blind_lookup lists the entries indexed under a blind-index tag, ascending.
    fn blind_lookup(&self, tag: &[u8; 32]) -> Result<Vec<u64>, StoreError>;
    /// blind_upto is the size up to which the blind index covers the log (0 for a log that
    /// never had one).
    fn blind_upto(&self) -> Result<u64, StoreError>;
    /// add_blind adds blind-index records for entries the log already holds, durably, and
    /// records that the index now covers the log up to `upto` (start-up builds the index of
    /// a log written without one this way).
    fn add_blind(&self, records: &[([u8; 32], u64)], upto: u64) -> Result<(), StoreError>;
    /// erase destroys entry `index`'s openings for good, and its blind-index records (`blind`,
    /// the tags of its values), and records that the erasure at index `by` did it. Durable
    /// when it returns.
    fn erase(&self, index: u64, blind: &[[u8; 32]], by: u64) -> Result<(), StoreError>;
    /// erased_by is the index of the erasure that destroyed an entry's openings, if one did.
    fn erased_by(&self, index: u64) -> Result<Option<u64>, StoreError>;
    /// opening returns the stored openings of an entry (for operators; never served).
    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// repair makes the store usable again after a failed commit, once the fault has cleared;
    /// see the contract in the module docs.
    fn repair(&self) -> Result<(), StoreError>;
}
