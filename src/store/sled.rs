//! The default store: sled for the records, and a flat file beside it for the tree hashes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use huella_core::merkle::{Hash, HashReader, TreeError};

use crate::store::hash_file::{HASH_FILE, HashFile};
use crate::store::opening_keys::{self, OPENING_KEYS_FILE, OpeningKeys};
use crate::store::{Batch, Corruption, Step, StepHook, Store, StoreError};

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn from_be(bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::from(Corruption::BadInteger(bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

/// SledStore keeps the log's records in one sled tree, `log`, whose keys start with a byte
/// that says what kind of record follows, and its tree hashes in a file beside sled's:
///
/// | prefix | key | value |
/// | --- | --- | --- |
/// | `L` | entry index, 8 bytes big-endian | leaf bytes |
/// | `O` | entry index | openings (personal data: kept apart from the public records, erasable) |
/// | `R` | agency, 0x00, request id | entry index |
/// | `C` | tree size | signed checkpoint |
/// | `B` | blind-index tag (32 bytes), entry index | empty: the entry's field has the value the tag stands for |
/// | `M` | `blind` | the size up to which the blind index covers the log |
/// | `E` | entry index | the index of the erasure entry that destroyed its openings |
///
/// Openings are sealed, each under its own key, kept in [`OPENING_KEYS_FILE`]
/// ([`crate::store::opening_keys`]); erasing one destroys its key in place.
///
/// One tree lets a batch's records go in as one atomic `apply_batch`: sled's multi-tree
/// transactions, which five trees needed, cost more CPU than the writes themselves.
///
/// The tree hashes are in [`HASH_FILE`] ([`crate::store::hash_file`]), fsynced before the
/// sled batch that needs them is applied, so every hash of the `size()` leaves sled holds is
/// on disk. Sled spread them over nodes of at most 16 keys, one disk read per node
/// (docs/benchmarks.md). When the file is missing, open computes it from the entries: for a
/// new log, for a log whose file was lost or removed, and for a log of an earlier version,
/// which kept the hashes in sled under prefix `H`. Those records stay in sled, never read again: removing 20 million keys from
/// sled 0.34 at start-up took minutes per million or many GB of memory (docs/benchmarks.md),
/// so only logs begun with this layout are without their memory and disk cost.
///
/// After a failed write sled refuses every later write until it is opened again, so
/// [`Store::repair`] reopens it in place once the disk takes writes again (see there).
pub struct SledStore {
    /// The database directory.
    dir: PathBuf,
    /// sled's page cache, in bytes.
    cache_bytes: u64,
    /// The open database; `None` only while a reopen failed, until the next repair.
    open: RwLock<Option<Arc<Open>>>,
    /// Called after each step of a commit, for the tests of the commit order; none in
    /// service.
    hook: Option<StepHook>,
}

/// Open is the database as one open of it: sled and the hash file.
struct Open {
    /// The database, for flushing.
    db: sled::Db,
    /// Every record, by prefixed key.
    log: sled::Tree,
    /// Every stored tree hash, by stored hash index.
    hashes: HashFile,
    /// Every entry's openings key.
    keys: OpeningKeys,
}

/// Key prefixes; see [`SledStore`].
const LEAF: u8 = b'L';
/// Tree hashes of logs written before [`HASH_FILE`]: no longer read or written; tests
/// write them to make a log of that layout.
#[cfg(test)]
const HASH: u8 = b'H';
const OPENING: u8 = b'O';
const REQUEST: u8 = b'R';
const CHECKPOINT: u8 = b'C';
const BLIND: u8 = b'B';
const ERASED: u8 = b'E';
/// BLIND_UPTO is the key of the size the blind index covers.
const BLIND_UPTO: &[u8] = b"Mblind";

fn blind_key(tag: &[u8; 32], index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(41);
    k.push(BLIND);
    k.extend_from_slice(tag);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

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
/// stays low. Proofs do not need it: the tree hashes are in [`HASH_FILE`].
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
        let open = Open::new(dir, cache_bytes)?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            cache_bytes,
            open: RwLock::new(Some(Arc::new(open))),
            hook: None,
        })
    }

    /// current is the open database, or why there is none.
    fn current(&self) -> Result<Arc<Open>, StoreError> {
        self.open
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Closed {
                dir: self.dir.display().to_string(),
            })
    }
}

impl Open {
    /// new opens (or creates) the database in `dir` and checks its hash file.
    fn new(dir: &Path, cache_bytes: u64) -> Result<Open, StoreError> {
        let open = || {
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .open()
        };
        // Only once sled has taken its lock and found a snapshot it cannot read: then no other
        // process is writing one.
        let db = match open() {
            Err(sled::Error::Corruption { .. }) if remove_unfinished_snapshots(dir)? > 0 => open(),
            other => other,
        }
        .map_err(|e| match e {
            // sled says so only in its message; callers get a variant.
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                StoreError::Locked {
                    dir: dir.display().to_string(),
                }
            }
            other => other.into(),
        })?;
        for name in db.tree_names() {
            if OLD_TREES.iter().any(|old| name == old.as_bytes())
                && !db.open_tree(&name)?.is_empty()
            {
                return Err(Corruption::OldLayout {
                    dir: dir.display().to_string(),
                }
                .into());
            }
        }
        let log = db.open_tree("log")?;
        let size = stored_size(&log)?;
        let leaves = log.clone();
        let hashes = HashFile::open(&dir.join(HASH_FILE), size, move || {
            Box::new(leaves.range(key(LEAF, 0)..key(LEAF, size)).map(|kv| {
                let (k, leaf) = kv?;
                Ok((number(&k)?, leaf.to_vec()))
            }))
        })?;
        let keys = OpeningKeys::open(&dir.join(OPENING_KEYS_FILE))?;
        Ok(Open {
            db,
            log,
            hashes,
            keys,
        })
    }
}

impl SledStore {
    /// with_step_hook calls `hook` at each step of every later commit, in commit order (see
    /// [`Step`]); an error it returns stops the commit there, with what the steps before it
    /// wrote. For tests: it ties the fault-injecting store's model to this store's order.
    pub fn with_step_hook(mut self, hook: StepHook) -> SledStore {
        self.hook = Some(hook);
        self
    }

    /// step reports a step of a commit to the hook, if any.
    fn step(&self, step: Step) -> Result<(), StoreError> {
        match &self.hook {
            Some(hook) => hook(step),
            None => Ok(()),
        }
    }
}

/// stored_size is the number of entries in `log`: one past the last entry's index.
fn stored_size(log: &sled::Tree) -> Result<u64, StoreError> {
    match last(log, LEAF)? {
        None => Ok(0),
        Some((k, _)) => Ok(number(&k)? + 1),
    }
}

/// last returns the last record in `log` with this prefix.
fn last(log: &sled::Tree, prefix: u8) -> Result<Option<(sled::IVec, sled::IVec)>, StoreError> {
    Ok(log.range([prefix]..[prefix + 1]).next_back().transpose()?)
}

impl HashReader for SledStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.current()
            .map_err(|e| TreeError::Storage(e.to_string()))?
            .hashes
            .read(indexes)
    }
}

impl Store for SledStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let open = self.current()?;
        let size = stored_size(&open.log)?;
        if batch.start != size {
            return Err(StoreError::NotAppend {
                start: batch.start,
                size,
            });
        }
        self.step(Step::BeforeTreeHashes)?;
        // The batch's tree hashes are the next ones, in order: write them after the last, and
        // make them durable before sled can make the batch's entries durable.
        let end = batch.start + batch.leaves.len() as u64;
        open.hashes.write(batch.start, end, &batch.hashes)?;
        // Each entry's openings under a fresh key of its own, the keys durable before sled
        // can make the sealed openings durable.
        let mut keys = Vec::with_capacity(batch.leaves.len());
        for _ in 0..batch.leaves.len() {
            keys.push(crate::keyfile::random_bytes().map_err(|e| {
                StoreError::io(
                    "drawing an openings key",
                    std::io::Error::other(e.to_string()),
                )
            })?);
        }
        open.keys.write(batch.start, &keys)?;
        self.step(Step::AfterTreeHashes)?;
        let mut writes = sled::Batch::default();
        for (i, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.start + i as u64;
            writes.insert(&key(LEAF, index), leaf.as_slice());
            writes.insert(
                &key(OPENING, index),
                opening_keys::seal(&keys[i], index, &batch.openings[i]),
            );
            writes.insert(request_key(&batch.request_keys[i]), &be(index));
        }
        for (tag, index) in &batch.blind {
            writes.insert(blind_key(tag, *index), &[]);
        }
        if let Some(upto) = batch.blind_upto {
            writes.insert(BLIND_UPTO, &be(upto));
        }
        writes.insert(
            &key(CHECKPOINT, batch.checkpoint_size),
            batch.checkpoint.as_slice(),
        );
        // Atomic: after a crash the batch is wholly visible or not at all.
        open.log.apply_batch(writes)?;
        // The hashes readers may read, and the in-memory upper ones, follow what sled shows,
        // flushed or not, as reads do.
        open.hashes.publish(end, &batch.hashes);
        self.step(Step::AfterRecords)?;
        // sled splits an overfull B-tree node lazily, on the next traversal, and a split is a
        // write. Once a write to disk has failed, sled fails every later write, and so every
        // read that meets an overfull node: on a full disk, proofs would fail until a restart.
        // Reading every key this batch touched, while writes work, does those splits before
        // the flush (and with it), so that reads keep working if the flush fails. Entry and
        // opening keys only grow, so their last keys are enough; request keys land anywhere,
        // so each is read.
        if let Some(last) = batch.leaves.len().checked_sub(1) {
            let index = batch.start + last as u64;
            open.log.get(key(LEAF, index))?;
            open.log.get(key(OPENING, index))?;
        }
        for request in &batch.request_keys {
            open.log.get(request_key(request))?;
        }
        // Blind-index keys are not read back: they are read only by sealed reads and
        // erasures, which append, and so wait for writes anyway.
        open.log.get(key(CHECKPOINT, batch.checkpoint_size))?;
        // Durable once flush returns: sled fsyncs its log here.
        open.db.flush()?;
        self.step(Step::AfterFlush)?;
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        stored_size(&self.current()?.log)
    }

    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let end = start.saturating_add(limit);
        self.current()?
            .log
            .range(key(LEAF, start)..key(LEAF, end))
            .map(|kv| kv.map(|(_, v)| v.to_vec()).map_err(StoreError::from))
            .collect()
    }

    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .current()?
            .log
            .get(key(CHECKPOINT, size))?
            .map(|v| v.to_vec()))
    }

    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let Some(first) = index.checked_add(1) else {
            return Ok(None);
        };
        let (from, end) = (key(CHECKPOINT, first), [CHECKPOINT + 1]);
        match self.current()?.log.range(&from[..]..&end[..]).next() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((number(&k)?, v.to_vec())))
            }
        }
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match last(&self.current()?.log, CHECKPOINT)? {
            None => Ok(None),
            Some((k, v)) => Ok(Some((number(&k)?, v.to_vec()))),
        }
    }

    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.current()?
            .log
            .get(request_key(key))?
            .map(|v| from_be(&v))
            .transpose()
    }

    fn request_indices(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
        self.current()?
            .log
            .scan_prefix(request_key(prefix))
            .map(|kv| from_be(&kv?.1))
            .collect()
    }

    fn blind_lookup(&self, tag: &[u8; 32]) -> Result<Vec<u64>, StoreError> {
        let mut prefix = vec![BLIND];
        prefix.extend_from_slice(tag);
        self.current()?
            .log
            .scan_prefix(prefix)
            .map(|kv| from_be(&kv?.0[33..]))
            .collect()
    }

    fn blind_upto(&self) -> Result<u64, StoreError> {
        self.current()?
            .log
            .get(BLIND_UPTO)?
            .map_or(Ok(0), |v| from_be(&v))
    }

    fn add_blind(&self, records: &[([u8; 32], u64)], upto: u64) -> Result<(), StoreError> {
        let open = self.current()?;
        let mut writes = sled::Batch::default();
        for (tag, index) in records {
            writes.insert(blind_key(tag, *index), &[]);
        }
        writes.insert(BLIND_UPTO, &be(upto));
        open.log.apply_batch(writes)?;
        open.db.flush()?;
        Ok(())
    }

    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let open = self.current()?;
        let Some(record) = open.log.get(key(OPENING, index))? else {
            return Ok(None);
        };
        if record.first() != Some(&opening_keys::SEALED) {
            // A log of an earlier version kept its openings in clear.
            return Ok(Some(record.to_vec()));
        }
        match open.keys.read(index)? {
            Some(k) => Ok(Some(opening_keys::open(&k, index, &record)?)),
            None => Ok(None),
        }
    }

    fn erase(&self, index: u64, blind: &[[u8; 32]], by: u64) -> Result<(), StoreError> {
        let open = self.current()?;
        // The key first, in place: from here on the sealed openings are noise, wherever sled
        // keeps copies of them.
        open.keys.erase(&[index])?;
        let mut writes = sled::Batch::default();
        writes.remove(&key(OPENING, index));
        for tag in blind {
            writes.remove(blind_key(tag, index));
        }
        writes.insert(&key(ERASED, index), &be(by));
        open.log.apply_batch(writes)?;
        open.db.flush()?;
        Ok(())
    }

    fn erased_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        self.current()?
            .log
            .get(key(ERASED, index))?
            .map(|v| from_be(&v))
            .transpose()
    }

    /// repair first checks that the disk takes a write and an fsync again, of as much as a
    /// reopen writes ([`probe`]). Then, if sled still flushes, nothing more is needed: what it
    /// holds becomes durable. If it does not (after a failed write sled refuses every later
    /// one), it is closed and opened again on what is on disk. Reads are refused (`Closed`,
    /// 503) while it reopens, rather than wait: on a large log sled's recovery and the hash
    /// file's check take seconds. If the reopen fails, reads stay refused until a later
    /// repair succeeds, which the probe makes unlikely.
    fn repair(&self) -> Result<(), StoreError> {
        let open = self.current();
        probe(&self.dir)?;
        if let Ok(open) = &open
            && open.db.flush().is_ok()
        {
            return Ok(());
        }
        self.open.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(open);
        tracing::warn!(
            "reopening the database {} after a failed write; reads wait for it",
            self.dir.display()
        );
        // sled's I/O threads let go of its lock a moment after the last handle is dropped.
        let deadline = Instant::now() + Duration::from_secs(10);
        let reopened = loop {
            match Open::new(&self.dir, self.cache_bytes) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                other => break other,
            }
        };
        *self.open.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(reopened?));
        Ok(())
    }
}

/// remove_unfinished_snapshots removes the snapshots sled had begun but not finished
/// (`snap.<lsn>.generating`) when a start or a snapshot failed, on a full disk, say. sled
/// writes a snapshot under that name, fsyncs it, and only then renames it to `snap.<lsn>`,
/// so it never relies on one that still has the name: its log and its last finished
/// snapshot hold everything. But it reads the newest file named `snap.*` at start, and an
/// empty or torn `.generating` file made every later start fail with "Read corrupted data".
/// Each removal is logged with the file's name and size; it returns how many it removed.
fn remove_unfinished_snapshots(dir: &Path) -> Result<usize, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io(format!("listing {}", dir.display()), e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("snap.") && name.ends_with(".generating")) {
            continue;
        }
        let path = entry.path();
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&path)
            .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
        tracing::warn!(
            "removed {} ({bytes} bytes): a snapshot sled had begun but not finished when a \
             start or a snapshot failed (a full disk, say); sled's log and its last finished \
             snapshot hold every entry",
            path.display()
        );
        removed += 1;
    }
    Ok(removed)
}

/// PROBE_BYTES is the least [`probe`] writes: room for sled to write again.
const PROBE_BYTES: u64 = 1 << 20;

/// probe writes to a file in `dir`, fsyncs and removes it: whether the disk takes writes
/// again after a failure (a full disk that was freed, say). It writes [`PROBE_BYTES`] plus
/// twice the size of sled's newest snapshot, which a reopen writes anew, so that a reopen it
/// lets through does not fail for want of room and leave reads refused.
fn probe(dir: &Path) -> Result<(), StoreError> {
    let snapshot = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
                .filter_map(|e| e.metadata().ok().map(|m| m.len()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let bytes = PROBE_BYTES + 2 * snapshot;
    let path = dir.join("write-probe");
    let result = (|| {
        let mut file = std::fs::File::create(&path)?;
        let block = vec![0; 1 << 16];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            file.write_all(&block[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result.map_err(|e| StoreError::io(format!("writing a probe to {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use huella_core::merkle::{Frontier, inclusion_proof, stored_hash_count};

    /// reopen opens the store in `dir`, waiting up to 5 s for the lock on it: sled's
    /// threads let go of the database a moment after the store that used it is dropped.
    fn reopen(dir: &Path) -> Result<SledStore, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match SledStore::open(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result,
            }
        }
    }

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
                ..Batch::default()
            };
            for i in start..start + n {
                let leaf = format!("leaf {i}").into_bytes();
                batch
                    .hashes
                    .extend(frontier.append(huella_core::merkle::record_hash(&leaf)));
                batch.leaves.push(leaf);
                batch.openings.push(b"{}".to_vec());
                batch.request_keys.push(format!("req-{i}").into_bytes());
            }
            store.commit(&batch).unwrap();
            start += n;
        }
    }

    #[test]
    fn sled_reads_every_hash_the_same_from_memory_and_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryStore::default();
        let mut frontier = Frontier::new();
        let mut copy = Frontier::new();
        let size = 5_000;
        let all: Vec<u64> = (0..stored_hash_count(size)).collect();
        let want = {
            let sled = reopen(dir.path()).unwrap();
            // Batches of odd sizes, so level-8 and higher hashes land mid-batch.
            commit_leaves(&sled, &mut frontier, size, 37);
            commit_leaves(&memory, &mut copy, size, 512);
            let want = memory.read_hashes(&all).unwrap();
            assert_eq!(sled.read_hashes(&all).unwrap(), want);
            let open = sled.current().unwrap();
            let upper = open.hashes.upper();
            // 5,000 leaves: 19 hashes at level 8, 9 at level 9, 4, 2, 1 above.
            let counts: Vec<usize> = upper.levels.iter().map(Vec::len).collect();
            assert_eq!(counts, [19, 9, 4, 2, 1]);
            // Nothing past the tree is read, even where the file might hold bytes.
            let past = stored_hash_count(size);
            assert!(matches!(
                sled.read_hashes(&[past]),
                Err(TreeError::MissingHash(i)) if i == past
            ));
            want
        };
        // The hashes are in the file, 32 bytes each, and not in sled.
        let file = std::fs::read(dir.path().join(HASH_FILE)).unwrap();
        assert_eq!(file.len() as u64, stored_hash_count(size) * 32);
        let sled = reopen(dir.path()).unwrap();
        let open = sled.current().unwrap();
        assert!(open.log.range([HASH]..[HASH + 1]).next().is_none());
        // Reopened, the upper hashes come from the file, and proofs still match.
        assert_eq!(open.hashes.upper().levels.len(), 5);
        assert_eq!(sled.read_hashes(&all).unwrap(), want);
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
    }

    /// reopen_with_file opens the store in `dir` after `change` rewrote its hash file.
    fn reopen_with_file(dir: &Path, change: impl FnOnce(&mut Vec<u8>)) -> Result<(), StoreError> {
        let path = dir.join(HASH_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        change(&mut bytes);
        std::fs::write(&path, bytes).unwrap();
        reopen(dir).map(drop)
    }

    #[test]
    fn a_changed_or_short_hash_file_is_refused_and_an_unfinished_tail_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let size = 1_000;
        {
            let sled = reopen(dir.path()).unwrap();
            commit_leaves(&sled, &mut Frontier::new(), size, 100);
        }
        let count = stored_hash_count(size) as usize;
        // Bytes past the log's hashes are an unfinished commit's: opened as before.
        reopen_with_file(dir.path(), |b| b.extend_from_slice(&[7; 100])).unwrap();
        // A flipped bit in a hash with a parent is refused: leaf hashes and hashes above.
        for index in [0, 1, 2, 500, count - 30] {
            let err = reopen_with_file(dir.path(), |b| b[index * 32 + 5] ^= 1).unwrap_err();
            assert!(
                matches!(err, StoreError::Corrupt(Corruption::HashMismatch { .. })),
                "{index}: {err}"
            );
            reopen_with_file(dir.path(), |b| b[index * 32 + 5] ^= 1).unwrap();
        }
        // A file that lost hashes the log needs is refused.
        let err = reopen_with_file(dir.path(), |b| b.truncate(count * 32 - 32)).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt(Corruption::ShortHashFile { need, have, .. })
                if need == count as u64 && have == need - 1),
            "{err}"
        );
    }

    #[test]
    fn a_missing_hash_file_is_computed_from_the_entries() {
        for size in [0, 1, 2, 3, 256, 257, 1_000] {
            let dir = tempfile::tempdir().unwrap();
            let memory = MemoryStore::default();
            commit_leaves(&memory, &mut Frontier::new(), size, 100);
            let all: Vec<u64> = (0..stored_hash_count(size)).collect();
            let want = memory.read_hashes(&all).unwrap();
            {
                let sled = reopen(dir.path()).unwrap();
                commit_leaves(&sled, &mut Frontier::new(), size, 100);
            }
            // Lost, and a stale temporary file left by a rebuild cut short.
            let path = dir.path().join(HASH_FILE);
            std::fs::remove_file(&path).unwrap();
            std::fs::write(format!("{}.tmp", path.display()), [9; 100]).unwrap();
            let sled = reopen(dir.path()).unwrap();
            assert_eq!(sled.read_hashes(&all).unwrap(), want, "size {size}");
            assert!(!dir.path().join(format!("{HASH_FILE}.tmp")).exists());
            drop(sled);
            // And it reopens, checked, as written.
            let sled = reopen(dir.path()).unwrap();
            assert_eq!(sled.read_hashes(&all).unwrap(), want, "size {size}");
        }
    }

    #[test]
    fn a_log_of_the_earlier_layout_gets_its_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryStore::default();
        let size = 3_000;
        commit_leaves(&memory, &mut Frontier::new(), size, 256);
        let all: Vec<u64> = (0..stored_hash_count(size)).collect();
        let want = memory.read_hashes(&all).unwrap();
        {
            // Write the log as the earlier version did: every record in sled, no hash file.
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let log = db.open_tree("log").unwrap();
            let state = memory.state();
            for (i, leaf) in state.leaves.iter().enumerate() {
                log.insert(key(LEAF, i as u64), leaf.as_slice()).unwrap();
            }
            for (i, hash) in &state.hashes {
                log.insert(key(HASH, *i), &hash.0).unwrap();
            }
            db.flush().unwrap();
        }
        let sled = reopen(dir.path()).unwrap();
        assert_eq!(sled.read_hashes(&all).unwrap(), want);
        let file = std::fs::read(dir.path().join(HASH_FILE)).unwrap();
        assert_eq!(file.len(), all.len() * 32);
        drop(sled);
        // An entry missing from such a log is refused, not hashed around.
        std::fs::remove_dir_all(dir.path()).unwrap();
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let log = db.open_tree("log").unwrap();
            log.insert(key(LEAF, 0), b"leaf 0".as_slice()).unwrap();
            log.insert(key(LEAF, 2), b"leaf 2".as_slice()).unwrap();
            db.flush().unwrap();
        }
        let err = reopen(dir.path()).err().expect("refused");
        assert!(
            matches!(
                err,
                StoreError::Corrupt(Corruption::MissingEntry { index: 1, size: 3 })
            ),
            "{err}"
        );
    }

    #[test]
    fn a_batch_must_carry_the_next_hashes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sled = reopen(dir.path()).unwrap();
        let mut frontier = Frontier::new();
        commit_leaves(&sled, &mut frontier, 3, 3);
        let leaf = b"leaf 3".to_vec();
        let mut hashes = frontier
            .clone()
            .append(huella_core::merkle::record_hash(&leaf));
        hashes.reverse();
        let batch = Batch {
            start: 3,
            leaves: vec![leaf],
            openings: vec![b"{}".to_vec()],
            request_keys: vec![b"req-3".to_vec()],
            hashes,
            checkpoint_size: 4,
            checkpoint: b"checkpoint 4".to_vec(),
            ..Batch::default()
        };
        let err = sled.commit(&batch).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt(Corruption::HashesOutOfOrder {
                    start: 3,
                    end: 4,
                    ..
                })
            ),
            "{err}"
        );
        assert_eq!(sled.size().unwrap(), 3);
    }
}
