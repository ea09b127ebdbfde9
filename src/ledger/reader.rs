//! The log reader: every read of the log is bounded by the published checkpoint, the newest
//! durable one, by construction. A [`Snapshot`] fixes that checkpoint once; its methods refuse
//! any index or size beyond it, so nothing unflushed is ever served and the HTTP handlers
//! check no sizes by hand.

use huella_core::keylog::KeyRegistry;
use std::sync::Arc;

use huella_core::merkle::{self, Hash, TreeError, record_hash, stored_hash_index};
use huella_core::proof::{Receipt, TlogProof};

use crate::ledger::sequencer::Shared;
use crate::store::{Corruption, Store, StoreError};

/// Published is the newest durable checkpoint: all reads are bounded by it, so nothing
/// unflushed is ever served.
#[derive(Debug)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// Signed checkpoint note.
    pub note: Arc<String>,
    /// The registry of keys as of `size`: every key registered, retired or revoked by the
    /// entries the checkpoint covers.
    pub keys: Arc<KeyRegistry>,
}

/// ReadError says why a read was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A size or start index beyond the published log.
    #[error("{what} {value} is beyond the log, which has {size} entries")]
    Beyond {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The published size.
        size: u64,
    },
    /// An entry index at or beyond the published size.
    #[error("no entry {index}: the log has {size} entries")]
    NoEntry {
        /// The index asked for.
        index: u64,
        /// The published size.
        size: u64,
    },
    /// An entry index at or beyond the tree size a receipt was asked for.
    #[error("no entry {index} in the tree of size {size}")]
    NotInTree {
        /// The index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// No checkpoint was signed at exactly this size.
    #[error(
        "the log signed no checkpoint at tree size {size} (it signs one after each batch){}; omit tree_size for the latest",
        match next { Some(next) => format!("; the next size it signed is {next}"), None => String::new() }
    )]
    NoCheckpoint {
        /// The size asked for.
        size: u64,
        /// The next larger size the log signed a checkpoint at, within the published log.
        next: Option<u64>,
    },
    /// A consistency proof from a larger size to a smaller one.
    #[error("from ({from}) must not be larger than to ({to})")]
    Range {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// The Merkle tree refused the request (an index outside the tree) or could not be read.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Storage failed or holds what the log did not write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// LogReader reads the log as far as it is published. Cheap to clone.
#[derive(Clone)]
pub struct LogReader {
    /// Where the log lives.
    store: Arc<dyn Store>,
    /// The published checkpoint, moved by the sequencer after each durable batch.
    shared: Arc<Shared>,
}

impl LogReader {
    pub(crate) fn new(store: Arc<dyn Store>, shared: Arc<Shared>) -> LogReader {
        LogReader { store, shared }
    }

    /// published is the newest durable checkpoint.
    pub fn published(&self) -> Arc<Published> {
        self.shared
            .published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// snapshot fixes the published checkpoint for a series of reads.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            store: self.store.clone(),
            published: self.published(),
        }
    }

    /// receipt builds the receipt of an entry the log just committed, against the checkpoint
    /// committed with it (which the published one covers).
    pub(crate) fn receipt(
        &self,
        index: u64,
        leaf: Vec<u8>,
        size: u64,
        note: &str,
    ) -> Result<Receipt, ReadError> {
        let leaf_hash = record_hash(&leaf);
        let proof = tlog_proof(self.store.as_ref(), index, leaf, size, note)?;
        Ok(Receipt {
            index,
            leaf_hash,
            checkpoint: note.to_string(),
            tlog_proof: proof.to_text(),
        })
    }
}

/// Snapshot reads the log as of one published checkpoint.
pub struct Snapshot {
    /// Where the log lives.
    store: Arc<dyn Store>,
    /// The checkpoint every read is bounded by.
    published: Arc<Published>,
}

/// Inclusion is an inclusion proof and what it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inclusion {
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The proof, leaf sibling first.
    pub proof: Vec<Hash>,
}

impl Snapshot {
    /// size is the published tree size.
    pub fn size(&self) -> u64 {
        self.published.size
    }

    /// note is the published signed checkpoint.
    pub fn note(&self) -> &str {
        &self.published.note
    }

    /// within checks that `value`, a size or start index named `what`, is not beyond the log.
    fn within(&self, what: &'static str, value: u64) -> Result<u64, ReadError> {
        match value > self.size() {
            true => Err(ReadError::Beyond {
                what,
                value,
                size: self.size(),
            }),
            false => Ok(value),
        }
    }

    /// leaf is entry `index`'s leaf bytes.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>, ReadError> {
        if index >= self.size() {
            return Err(ReadError::NoEntry {
                index,
                size: self.size(),
            });
        }
        stored_leaf(self.store.as_ref(), index)
    }

    /// leaves is up to `limit` consecutive leaves from `start`, within the published log.
    pub fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, ReadError> {
        self.within("start", start)?;
        let end = start.saturating_add(limit).min(self.size());
        Ok(self.store.leaves(start, end - start)?)
    }

    /// inclusion proves entry `index` is in the tree of `tree_size` (default: published).
    pub fn inclusion(&self, index: u64, tree_size: Option<u64>) -> Result<Inclusion, ReadError> {
        let tree_size = match tree_size {
            Some(n) => self.within("tree_size", n)?,
            None => self.size(),
        };
        let proof = merkle::inclusion_proof(index, tree_size, self.store.as_ref())?;
        let leaf_hash = self.store.read_hashes(&[stored_hash_index(0, index)])?[0];
        Ok(Inclusion {
            leaf_hash,
            tree_size,
            proof,
        })
    }

    /// consistency proves the tree of `from` is a prefix of the tree of `to` (default:
    /// published), and returns `to` with the proof.
    pub fn consistency(&self, from: u64, to: Option<u64>) -> Result<(u64, Vec<Hash>), ReadError> {
        let to = match to {
            Some(n) => self.within("to", n)?,
            None => self.size(),
        };
        if from > to {
            return Err(ReadError::Range { from, to });
        }
        Ok((
            to,
            merkle::consistency_proof(from, to, self.store.as_ref())?,
        ))
    }

    /// receipt is entry `index`'s tlog-proof against the checkpoint signed at `tree_size`
    /// (default: the published one).
    pub fn receipt(&self, index: u64, tree_size: Option<u64>) -> Result<TlogProof, ReadError> {
        let (size, note) = match tree_size {
            Some(n) => {
                self.within("tree_size", n)?;
                let Some(note) = self.store.checkpoint(n)? else {
                    let next = match n.checked_sub(1) {
                        Some(below) => self.store.checkpoint_covering(below)?.map(|(s, _)| s),
                        None => None,
                    }
                    .filter(|&s| s <= self.size());
                    return Err(ReadError::NoCheckpoint { size: n, next });
                };
                let note = String::from_utf8(note)
                    .map_err(|_| StoreError::from(Corruption::CheckpointNotUtf8(n)))?;
                (n, note)
            }
            None => (self.size(), self.note().to_string()),
        };
        if index >= size {
            return Err(ReadError::NotInTree { index, size });
        }
        let leaf = stored_leaf(self.store.as_ref(), index)?;
        tlog_proof(self.store.as_ref(), index, leaf, size, &note)
    }
}

/// stored_leaf reads a leaf the published size covers; its absence means a corrupt store.
fn stored_leaf(store: &dyn Store, index: u64) -> Result<Vec<u8>, ReadError> {
    Ok(store
        .leaves(index, 1)?
        .pop()
        .ok_or(StoreError::from(Corruption::PublishedEntryMissing(index)))?)
}

/// tlog_proof builds the C2SP tlog-proof of entry `index` against the signed checkpoint
/// `note` of size `size`, with the leaf in `extra`.
fn tlog_proof(
    store: &dyn Store,
    index: u64,
    leaf: Vec<u8>,
    size: u64,
    note: &str,
) -> Result<TlogProof, ReadError> {
    Ok(TlogProof {
        extra: Some(leaf),
        index,
        proof: merkle::inclusion_proof(index, size, store)?,
        checkpoint: note.to_string(),
    })
}
