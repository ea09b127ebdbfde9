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
//! - **After a failed commit the store's state is unknown** until it is reopened: callers
//!   must stop writing (the sequencer does) and let start-up check what is on disk.

use huella_core::merkle::{Hash, HashReader};

pub mod faulty;
pub mod memory;
pub mod sled;

pub use faulty::{Fault, FaultyStore, STEPS, Step};
pub use memory::MemoryStore;
pub use sled::{HASH_FILE, SLED_CACHE_BYTES, SledStore, UPPER_LEVEL};

/// StoreError is a storage failure. All are retryable only by restarting the service.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The underlying storage failed.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// The stored data is not what the log wrote.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The batch does not start at the stored size.
    #[error("batch starts at {start} but the log has {size} entries")]
    NotAppend {
        /// First index of the batch.
        start: u64,
        /// Entries stored.
        size: u64,
    },
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> StoreError {
        StoreError::Io(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> StoreError {
        StoreError::Io(e.to_string())
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
    /// opening returns the stored openings of an entry (for operators; never served).
    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
}
