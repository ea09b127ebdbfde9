//! Storage behind a trait with a written contract, a sled implementation (the default), and
//! an in-memory one that can inject faults for tests.
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

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use crate::merkle::{
    Hash, HashReader, TreeError, split_stored_hash_index, stored_hash_count, stored_hash_index,
};

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

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
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

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn from_be(bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "expected an 8-byte integer, found {} bytes",
            bytes.len()
        ))
    })?;
    Ok(u64::from_be_bytes(array))
}

fn to_hash(bytes: &[u8], index: u64) -> Result<Hash, TreeError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| {
        TreeError::Storage(format!(
            "stored hash {index} is {} bytes, not 32",
            bytes.len()
        ))
    })?;
    Ok(Hash(array))
}

/// SledStore keeps the log in one sled tree, `log`, whose keys start with a byte that says
/// what kind of record follows:
///
/// | prefix | key | value |
/// | --- | --- | --- |
/// | `L` | entry index, 8 bytes big-endian | leaf bytes |
/// | `H` | stored hash index, 8 bytes big-endian | 32-byte hash |
/// | `O` | entry index | openings (personal data: kept apart from the public records, erasable) |
/// | `R` | agency, 0x00, request id | entry index |
/// | `C` | tree size | signed checkpoint |
///
/// One tree lets a whole batch go in as one atomic `apply_batch`: sled's multi-tree
/// transactions, which five trees needed, cost more CPU than the writes themselves.
pub struct SledStore {
    /// The database, for flushing.
    db: sled::Db,
    /// Every record, by prefixed key.
    log: sled::Tree,
    /// The stored hashes at level [`UPPER_LEVEL`] and above, also kept in memory.
    upper: RwLock<UpperHashes>,
    /// The stored hashes from [`LAZY_LEVEL`] up to [`UPPER_LEVEL`] that reads have met.
    lazy: RwLock<LazyHashes>,
}

/// UPPER_LEVEL is the lowest level of tree hashes [`SledStore`] also keeps in memory. A
/// proof's hashes below it lie near its leaf, in the same few sled pages; those above are
/// scattered across the whole log, one page visit each, and there are few of them: one per
/// 2^8 = 256 leaves at level 8, about 2.5 MB for 10,000,000 entries. Level 8 is also the
/// height of a tlog-tiles tile.
pub const UPPER_LEVEL: u8 = 8;

/// UpperHashes holds the stored hashes at level [`UPPER_LEVEL`] and above, by level and
/// then by position: `levels[l - UPPER_LEVEL][n]` is `(l, n)`.
#[derive(Default)]
struct UpperHashes {
    levels: Vec<Vec<Hash>>,
}

impl UpperHashes {
    /// get returns the hash at `(level, n)`, if held.
    fn get(&self, level: u8, n: u64) -> Option<Hash> {
        let row = self
            .levels
            .get(usize::from(level.checked_sub(UPPER_LEVEL)?))?;
        row.get(usize::try_from(n).ok()?).copied()
    }

    /// add keeps the hash at `(level, n)` if it is the next one of its level; hashes are
    /// written in order, so every upper hash of a log arrives that way.
    fn add(&mut self, level: u8, n: u64, hash: Hash) {
        let Some(at) = level.checked_sub(UPPER_LEVEL) else {
            return;
        };
        let at = usize::from(at);
        if self.levels.len() <= at {
            self.levels.resize_with(at + 1, Vec::new);
        }
        let row = &mut self.levels[at];
        if row.len() as u64 == n {
            row.push(hash);
        }
    }
}

/// LAZY_LEVEL is the lowest level of tree hashes [`SledStore`] keeps in memory once a read
/// has met them. A proof's hashes at levels 4 to 7 lie within 256 leaves of its leaf, but
/// sled's nodes hold only a few dozen keys, so each is one more node to page in; kept, a
/// random proof on a large log pages in one or two nodes instead of five or six. They are
/// not read at open (1.2 million hashes on a 10,000,000-entry log took over two minutes):
/// the cache fills as proofs read them, to at most 1/8 of a hash per entry, about 3.8 bytes
/// per entry once every one was read (docs/benchmarks.md).
pub const LAZY_LEVEL: u8 = 4;

/// Hashes per [`LazyChunk`].
const LAZY_CHUNK: usize = 256;

/// LazyChunk holds up to [`LAZY_CHUNK`] consecutive hashes of one level, and which of them
/// are held.
struct LazyChunk {
    held: [u64; LAZY_CHUNK / 64],
    hashes: [Hash; LAZY_CHUNK],
}

/// LazyHashes holds the stored hashes at levels [`LAZY_LEVEL`] to [`UPPER_LEVEL`] - 1 that
/// were read, in chunks of [`LAZY_CHUNK`] allocated as first met: `levels[l - LAZY_LEVEL]`
/// is level `l`. Stored hashes never change once written, so a held hash never goes stale.
#[derive(Default)]
struct LazyHashes {
    levels: [Vec<Option<Box<LazyChunk>>>; (UPPER_LEVEL - LAZY_LEVEL) as usize],
}

impl LazyHashes {
    /// place returns where `(level, n)` goes: the level's row, the chunk, the slot; `None` for
    /// a level this cache does not hold.
    fn place(level: u8, n: u64) -> Option<(usize, usize, usize)> {
        if !(LAZY_LEVEL..UPPER_LEVEL).contains(&level) {
            return None;
        }
        let chunk = usize::try_from(n / LAZY_CHUNK as u64).ok()?;
        Some((
            usize::from(level - LAZY_LEVEL),
            chunk,
            (n % LAZY_CHUNK as u64) as usize,
        ))
    }

    /// get returns the hash at `(level, n)`, if held.
    fn get(&self, level: u8, n: u64) -> Option<Hash> {
        let (row, chunk, slot) = LazyHashes::place(level, n)?;
        let chunk = self.levels[row].get(chunk)?.as_deref()?;
        (chunk.held[slot / 64] & (1 << (slot % 64)) != 0).then(|| chunk.hashes[slot])
    }

    /// put keeps the hash at `(level, n)`, if its level is one this cache holds.
    fn put(&mut self, level: u8, n: u64, hash: Hash) {
        let Some((row, chunk, slot)) = LazyHashes::place(level, n) else {
            return;
        };
        let row = &mut self.levels[row];
        if row.len() <= chunk {
            row.resize_with(chunk + 1, || None);
        }
        let chunk = row[chunk].get_or_insert_with(|| {
            Box::new(LazyChunk {
                held: [0; LAZY_CHUNK / 64],
                hashes: [Hash::default(); LAZY_CHUNK],
            })
        });
        chunk.held[slot / 64] |= 1 << (slot % 64);
        chunk.hashes[slot] = hash;
    }

    /// held counts the hashes held, for tests.
    #[cfg(test)]
    fn held(&self) -> u32 {
        self.levels
            .iter()
            .flatten()
            .flatten()
            .flat_map(|chunk| chunk.held)
            .map(u64::count_ones)
            .sum()
    }
}

/// Key prefixes; see [`SledStore`].
const LEAF: u8 = b'L';
const HASH: u8 = b'H';
const OPENING: u8 = b'O';
const REQUEST: u8 = b'R';
const CHECKPOINT: u8 = b'C';

/// key is a record key: its prefix, then the big-endian number.
fn key(prefix: u8, n: u64) -> [u8; 9] {
    let mut k = [prefix; 9];
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}

/// number reads the big-endian number back out of a record key.
fn number(key: &[u8]) -> Result<u64, StoreError> {
    from_be(key.get(1..).unwrap_or_default())
}

fn request_key(request: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + request.len());
    k.push(REQUEST);
    k.extend_from_slice(request);
    k
}

/// Memory sled may use for its page cache by default; kept small so the server's memory
/// stays low. A larger cache serves random proofs on a large log faster (docs/benchmarks.md).
pub const SLED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Trees of the earlier layout (one per kind of record), which this version does not read.
const OLD_TREES: [&str; 5] = ["leaves", "hashes", "openings", "requests", "checkpoints"];

impl SledStore {
    /// open opens (or creates) the database in `dir`, with the default page cache.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(dir, SLED_CACHE_BYTES)
    }

    /// open_with_cache opens (or creates) the database in `dir`, with a page cache of
    /// `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        for name in db.tree_names() {
            if OLD_TREES.iter().any(|old| name == old.as_bytes())
                && !db.open_tree(&name)?.is_empty()
            {
                return Err(StoreError::Corrupt(format!(
                    "{} holds a log in the layout of an earlier Huella version (one sled tree per \
                     kind of record); export it with that version and start a new log",
                    dir.display()
                )));
            }
        }
        let store = SledStore {
            log: db.open_tree("log")?,
            db,
            upper: RwLock::default(),
            lazy: RwLock::default(),
        };
        store.load_upper()?;
        Ok(store)
    }

    /// load_upper reads every stored hash at [`UPPER_LEVEL`] and above into memory.
    fn load_upper(&self) -> Result<(), StoreError> {
        let count = stored_hash_count(self.size()?);
        let mut upper = UpperHashes::default();
        for level in UPPER_LEVEL..64 {
            let mut n = 0;
            loop {
                let index = stored_hash_index(level, n);
                if index >= count {
                    break;
                }
                let Some(bytes) = self.log.get(key(HASH, index))? else {
                    return Err(StoreError::Corrupt(format!(
                        "stored hash {index} is missing from a log of {count} stored hashes"
                    )));
                };
                let hash =
                    to_hash(&bytes, index).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                upper.add(level, n, hash);
                n += 1;
            }
            if n == 0 {
                break;
            }
        }
        *self.upper.write().unwrap_or_else(|e| e.into_inner()) = upper;
        Ok(())
    }

    /// last returns the last record with this prefix.
    fn last(&self, prefix: u8) -> Result<Option<(sled::IVec, sled::IVec)>, StoreError> {
        Ok(self
            .log
            .range([prefix]..[prefix + 1])
            .next_back()
            .transpose()?)
    }
}

impl HashReader for SledStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let mut hashes = Vec::with_capacity(indexes.len());
        // (position in `hashes`, stored hash index, level, n) of each hash not in memory.
        let mut missed = Vec::new();
        {
            let upper = self.upper.read().unwrap_or_else(|e| e.into_inner());
            let lazy = self.lazy.read().unwrap_or_else(|e| e.into_inner());
            for &i in indexes {
                let (level, n) = split_stored_hash_index(i);
                let held = upper.get(level, n).or_else(|| lazy.get(level, n));
                if held.is_none() {
                    missed.push((hashes.len(), i, level, n));
                }
                hashes.push(held.unwrap_or_default());
            }
        }
        if missed.is_empty() {
            return Ok(hashes);
        }
        for &(at, i, _, _) in &missed {
            hashes[at] = match self.log.get(key(HASH, i)) {
                Ok(Some(bytes)) => to_hash(&bytes, i)?,
                Ok(None) => return Err(TreeError::MissingHash(i)),
                Err(e) => return Err(TreeError::Storage(e.to_string())),
            };
        }
        if missed
            .iter()
            .any(|&(_, _, level, n)| LazyHashes::place(level, n).is_some())
        {
            let mut lazy = self.lazy.write().unwrap_or_else(|e| e.into_inner());
            for &(at, _, level, n) in &missed {
                lazy.put(level, n, hashes[at]);
            }
        }
        Ok(hashes)
    }
}

impl Store for SledStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let size = self.size()?;
        if batch.start != size {
            return Err(StoreError::NotAppend {
                start: batch.start,
                size,
            });
        }
        let mut writes = sled::Batch::default();
        for (i, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.start + i as u64;
            writes.insert(&key(LEAF, index), leaf.as_slice());
            writes.insert(&key(OPENING, index), batch.openings[i].as_slice());
            writes.insert(request_key(&batch.request_keys[i]), &be(index));
        }
        for (index, hash) in &batch.hashes {
            writes.insert(&key(HASH, *index), &hash.0);
        }
        writes.insert(
            &key(CHECKPOINT, batch.checkpoint_size),
            batch.checkpoint.as_slice(),
        );
        // Atomic: after a crash the batch is wholly visible or not at all.
        self.log.apply_batch(writes)?;
        // The in-memory upper hashes follow what sled shows, flushed or not, as reads do.
        {
            let mut upper = self.upper.write().unwrap_or_else(|e| e.into_inner());
            for (index, hash) in &batch.hashes {
                let (level, n) = split_stored_hash_index(*index);
                upper.add(level, n, *hash);
            }
        }
        // sled splits an overfull B-tree node lazily, on the next traversal, and a split is a
        // write. Once a write to disk has failed, sled fails every later write, and so every
        // read that meets an overfull node: on a full disk, proofs would fail until a restart.
        // Reading every key this batch touched, while writes work, does those splits before
        // the flush (and with it), so that reads keep working if the flush fails. Entry,
        // opening and hash keys only grow, so their last keys are enough; request keys land
        // anywhere, so each is read.
        if let Some(last) = batch.leaves.len().checked_sub(1) {
            let index = batch.start + last as u64;
            self.log.get(key(LEAF, index))?;
            self.log.get(key(OPENING, index))?;
        }
        if let Some(last) = batch.hashes.iter().map(|(i, _)| *i).max() {
            self.log.get(key(HASH, last))?;
        }
        for request in &batch.request_keys {
            self.log.get(request_key(request))?;
        }
        self.log.get(key(CHECKPOINT, batch.checkpoint_size))?;
        // Durable once flush returns: sled fsyncs its log here.
        self.db.flush()?;
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        match self.last(LEAF)? {
            None => Ok(0),
            Some((k, _)) => Ok(number(&k)? + 1),
        }
    }

    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let end = start.saturating_add(limit);
        self.log
            .range(key(LEAF, start)..key(LEAF, end))
            .map(|kv| kv.map(|(_, v)| v.to_vec()).map_err(StoreError::from))
            .collect()
    }

    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(key(CHECKPOINT, size))?.map(|v| v.to_vec()))
    }

    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let Some(first) = index.checked_add(1) else {
            return Ok(None);
        };
        let (from, end) = (key(CHECKPOINT, first), [CHECKPOINT + 1]);
        match self.log.range(&from[..]..&end[..]).next() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((number(&k)?, v.to_vec())))
            }
        }
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self.last(CHECKPOINT)? {
            None => Ok(None),
            Some((k, v)) => Ok(Some((number(&k)?, v.to_vec()))),
        }
    }

    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.log
            .get(request_key(key))?
            .map(|v| from_be(&v))
            .transpose()
    }

    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log.get(key(OPENING, index))?.map(|v| v.to_vec()))
    }
}

/// MemoryStore keeps the log in memory. Tests use it to inject storage faults.
#[derive(Default)]
pub struct MemoryStore {
    /// Everything stored, behind one lock so that commits are atomic.
    state: Mutex<MemoryState>,
    /// When set, every commit fails with an I/O error and changes nothing.
    fail_commits: AtomicBool,
    /// When set, every commit writes its batch, where reads see it, then fails as a flush
    /// would: what sled does when fsync fails after a batch was applied.
    fail_flushes: AtomicBool,
}

#[derive(Default)]
struct MemoryState {
    leaves: Vec<Vec<u8>>,
    hashes: BTreeMap<u64, Hash>,
    openings: BTreeMap<u64, Vec<u8>>,
    requests: BTreeMap<Vec<u8>, u64>,
    checkpoints: BTreeMap<u64, Vec<u8>>,
}

impl MemoryStore {
    /// new returns an empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// fail_commits makes every later commit fail (true) or succeed (false).
    pub fn fail_commits(&self, fail: bool) {
        self.fail_commits.store(fail, Ordering::SeqCst);
    }

    /// fail_flushes makes every later commit write its batch and then fail (true), as a
    /// store whose fsync fails does, or behave normally (false).
    pub fn fail_flushes(&self, fail: bool) {
        self.fail_flushes.store(fail, Ordering::SeqCst);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave a half-applied batch (commit mutates only
        // after all checks), so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HashReader for MemoryStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let state = self.state();
        indexes
            .iter()
            .map(|i| {
                state
                    .hashes
                    .get(i)
                    .copied()
                    .ok_or(TreeError::MissingHash(*i))
            })
            .collect()
    }
}

impl Store for MemoryStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if self.fail_commits.load(Ordering::SeqCst) {
            return Err(StoreError::Io("injected fault: commit failed".into()));
        }
        let mut state = self.state();
        let size = state.leaves.len() as u64;
        if batch.start != size {
            return Err(StoreError::NotAppend {
                start: batch.start,
                size,
            });
        }
        for (i, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.start + i as u64;
            state.leaves.push(leaf.clone());
            state.openings.insert(index, batch.openings[i].clone());
            state.requests.insert(batch.request_keys[i].clone(), index);
        }
        state.hashes.extend(batch.hashes.iter().copied());
        state
            .checkpoints
            .insert(batch.checkpoint_size, batch.checkpoint.clone());
        if self.fail_flushes.load(Ordering::SeqCst) {
            return Err(StoreError::Io("injected fault: flush failed".into()));
        }
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.state().leaves.len() as u64)
    }

    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let state = self.state();
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(state.leaves.len());
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
            .min(state.leaves.len());
        Ok(state.leaves[start..end].to_vec())
    }

    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().checkpoints.get(&size).cloned())
    }

    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .state()
            .checkpoints
            .range(index.saturating_add(1)..)
            .next()
            .map(|(k, v)| (*k, v.clone())))
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .state()
            .checkpoints
            .last_key_value()
            .map(|(k, v)| (*k, v.clone())))
    }

    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(self.state().requests.get(key).copied())
    }

    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().openings.get(&index).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Frontier, inclusion_proof};

    /// commit_leaves appends `count` leaves in batches of `per_batch`, adding their hashes
    /// to `frontier`.
    fn commit_leaves(store: &dyn Store, frontier: &mut Frontier, count: u64, per_batch: u64) {
        let mut start = store.size().unwrap();
        let end = start + count;
        while start < end {
            let n = per_batch.min(end - start);
            let mut batch = Batch {
                start,
                leaves: Vec::new(),
                openings: Vec::new(),
                request_keys: Vec::new(),
                hashes: Vec::new(),
                checkpoint_size: start + n,
                checkpoint: format!("checkpoint {}", start + n).into_bytes(),
            };
            for i in start..start + n {
                let leaf = format!("leaf {i}").into_bytes();
                batch
                    .hashes
                    .extend(frontier.append(crate::merkle::record_hash(&leaf)));
                batch.leaves.push(leaf);
                batch.openings.push(b"{}".to_vec());
                batch.request_keys.push(format!("req-{i}").into_bytes());
            }
            store.commit(&batch).unwrap();
            start += n;
        }
    }

    #[test]
    fn lazy_hashes_hold_only_their_levels_and_what_was_put() {
        let mut lazy = LazyHashes::default();
        let hash = |b: u8| Hash([b; 32]);
        for (level, n) in [(4, 0), (4, 255), (4, 256), (7, 1_000_000), (5, 77)] {
            assert_eq!(lazy.get(level, n), None);
            lazy.put(level, n, hash(level ^ n as u8));
            assert_eq!(lazy.get(level, n), Some(hash(level ^ n as u8)));
        }
        // Neighbours in the same chunk, and the same position on another level, stay empty.
        assert_eq!(lazy.get(4, 1), None);
        assert_eq!(lazy.get(4, 254), None);
        assert_eq!(lazy.get(5, 0), None);
        assert_eq!(lazy.get(7, 999_999), None);
        // Levels below LAZY_LEVEL and from UPPER_LEVEL up are not this cache's.
        lazy.put(3, 0, hash(1));
        lazy.put(UPPER_LEVEL, 0, hash(1));
        assert_eq!(lazy.get(3, 0), None);
        assert_eq!(lazy.get(UPPER_LEVEL, 0), None);
        assert_eq!(lazy.held(), 5);
    }

    #[test]
    fn sled_reads_every_hash_the_same_from_memory_and_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryStore::default();
        let mut frontier = Frontier::new();
        let mut copy = Frontier::new();
        let size = 5_000;
        {
            let sled = SledStore::open(dir.path()).unwrap();
            // Batches of odd sizes, so level-8 and higher hashes land mid-batch.
            commit_leaves(&sled, &mut frontier, size, 37);
            commit_leaves(&memory, &mut copy, size, 512);
            let all: Vec<u64> = (0..stored_hash_count(size)).collect();
            let want = memory.read_hashes(&all).unwrap();
            assert_eq!(sled.read_hashes(&all).unwrap(), want);
            let upper = sled.upper.read().unwrap();
            // 5,000 leaves: 19 hashes at level 8, 9 at level 9, 4, 2, 1 above.
            let counts: Vec<usize> = upper.levels.iter().map(Vec::len).collect();
            assert_eq!(counts, [19, 9, 4, 2, 1]);
            // Reading every hash met every one at levels 4 to 7: 312 + 156 + 78 + 39.
            assert_eq!(sled.lazy.read().unwrap().held(), 585);
            // And read again from memory, they are still the same.
            assert_eq!(sled.read_hashes(&all).unwrap(), want);
        }
        // Reopened, the upper hashes come from disk, the lazy ones start empty, and proofs
        // still match.
        let sled = SledStore::open(dir.path()).unwrap();
        assert_eq!(sled.upper.read().unwrap().levels.len(), 5);
        assert_eq!(sled.lazy.read().unwrap().held(), 0);
        for index in [0, 1, 255, 256, 4095, 4096, 4999] {
            for tree in [index + 1, 4096, size] {
                if index < tree {
                    assert_eq!(
                        inclusion_proof(index, tree, &sled).unwrap(),
                        inclusion_proof(index, tree, &memory).unwrap(),
                    );
                }
            }
        }
        // The proofs met some level 4 to 7 hashes; each twice, the second time from memory.
        let held = sled.lazy.read().unwrap().held();
        assert!(held > 0);
        for index in [0, 255, 4999] {
            assert_eq!(
                inclusion_proof(index, size, &sled).unwrap(),
                inclusion_proof(index, size, &memory).unwrap(),
            );
        }
        assert_eq!(sled.lazy.read().unwrap().held(), held);
        // A missing upper hash is refused at open, not served wrongly later.
        let missing = stored_hash_index(UPPER_LEVEL, 3);
        sled.log.remove(key(HASH, missing)).unwrap();
        sled.db.flush().unwrap();
        drop(sled);
        let err = SledStore::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
