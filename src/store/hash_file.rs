//! The tree-hash file: every stored Merkle hash of the log, 32 bytes each, stored hash `i`
//! (see [`huella_core::merkle::stored_hash_index`]) at byte offset 32 × `i`. The hashes are
//! written once, in order, and fsynced before the records that need them are committed, so
//! every hash of the committed leaves is on disk; bytes past them are an unfinished commit's,
//! never read, and the next commit writes over them. Each open checks that every stored hash
//! is the hash of its two children (start-up then checks the root against the signed
//! checkpoint), so a changed hash is refused rather than served. A missing file is computed
//! again from the leaves. A flat file keeps the tree's 64 bytes of hashes per entry dense on
//! disk and in the page cache (docs/benchmarks.md).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use huella_core::merkle::{
    Frontier, Hash, TreeError, record_hash, split_stored_hash_index, stored_hash_count,
};

use crate::store::{Corruption, StoreError};

/// HASH_FILE is the name of the file, in the database directory, that holds the tree hashes.
pub const HASH_FILE: &str = "tree-hashes";

/// Bytes per stored hash in [`HASH_FILE`].
const HASH_LEN: u64 = 32;

/// UPPER_LEVEL is the lowest level of tree hashes [`HashFile`] also keeps in memory. A
/// proof's hashes below it lie near its leaf, within 16 KB of the hash file; those above
/// are scattered across the whole file, and there are few of them: one per 2^8 = 256 leaves
/// at level 8, about 2.5 MB for 10,000,000 entries, read as the file is checked at open.
/// Level 8 is also the height of a tlog-tiles tile.
pub const UPPER_LEVEL: u8 = 8;

/// Stored hashes between two progress lines of the check at open.
const PROGRESS_EVERY: u64 = 4_000_000;

/// Entries between two progress lines of a rebuild of the hash file.
const PROGRESS_ENTRIES: u64 = 1_000_000;

/// HashFile is the open tree-hash file of a log.
pub(crate) struct HashFile {
    /// Where it is, for error messages.
    path: PathBuf,
    /// The file.
    file: File,
    /// How many stored hashes are committed: those of the tree of the committed leaves.
    count: AtomicU64,
    /// The stored hashes at level [`UPPER_LEVEL`] and above, also kept in memory.
    upper: RwLock<UpperHashes>,
}

/// UpperHashes holds the stored hashes at level [`UPPER_LEVEL`] and above, by level and
/// then by position: `levels[l - UPPER_LEVEL][n]` is `(l, n)`.
#[derive(Default)]
pub(crate) struct UpperHashes {
    pub(crate) levels: Vec<Vec<Hash>>,
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

/// Leaves is what a rebuild reads: each stored leaf with its index, in order.
pub(crate) type Leaves<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + 'a>;

impl HashFile {
    /// open opens the hash file at `path` of a log of `size` committed leaves and checks it;
    /// when it is missing, it is first computed from `leaves`.
    pub(crate) fn open(
        path: &Path,
        size: u64,
        leaves: impl FnOnce() -> Leaves<'static>,
    ) -> Result<HashFile, StoreError> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => rebuild(path, size, leaves())?,
            Err(e) => return Err(StoreError::io(format!("opening {}", path.display()), e)),
        };
        let upper = check(&file, size, path)?;
        Ok(HashFile {
            path: path.to_path_buf(),
            file,
            count: AtomicU64::new(stored_hash_count(size)),
            upper: RwLock::new(upper),
        })
    }

    /// upper is the in-memory part, for tests.
    #[cfg(test)]
    pub(crate) fn upper(&self) -> std::sync::RwLockReadGuard<'_, UpperHashes> {
        self.upper.read().unwrap_or_else(|e| e.into_inner())
    }

    /// read reads committed stored hashes: from memory when held, else from the file.
    pub(crate) fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let count = self.count.load(Ordering::Acquire);
        if let Some(&i) = indexes.iter().find(|&&i| i >= count) {
            return Err(TreeError::MissingHash(i));
        }
        // Take what memory holds, then read the rest from the file without holding the lock,
        // so that a slow read never keeps a commit waiting.
        let held: Vec<Option<Hash>> = {
            let upper = self.upper.read().unwrap_or_else(|e| e.into_inner());
            indexes
                .iter()
                .map(|&i| {
                    let (level, n) = split_stored_hash_index(i);
                    upper.get(level, n)
                })
                .collect()
        };
        indexes
            .iter()
            .zip(held)
            .map(|(&i, held)| match held {
                Some(hash) => Ok(hash),
                None => {
                    let mut bytes = [0u8; HASH_LEN as usize];
                    self.file
                        .read_exact_at(&mut bytes, i * HASH_LEN)
                        .map_err(|e| TreeError::Storage(format!("reading stored hash {i}: {e}")))?;
                    Ok(Hash(bytes))
                }
            })
            .collect()
    }

    /// write writes the hashes of the leaves `start..end`, which must be the next stored
    /// hashes in order, after the committed ones, and fsyncs them. They are not readable
    /// until [`HashFile::publish`].
    pub(crate) fn write(
        &self,
        start: u64,
        end: u64,
        hashes: &[(u64, Hash)],
    ) -> Result<(), StoreError> {
        let first = stored_hash_count(start);
        let last = stored_hash_count(end);
        if !hashes.iter().map(|(index, _)| *index).eq(first..last) {
            return Err(Corruption::HashesOutOfOrder {
                start,
                end,
                first,
                last,
            }
            .into());
        }
        if !hashes.is_empty() {
            let bytes: Vec<u8> = hashes.iter().flat_map(|(_, h)| h.0).collect();
            let what = || format!("writing {}", self.path.display());
            self.file
                .write_all_at(&bytes, first * HASH_LEN)
                .map_err(|e| StoreError::io(what(), e))?;
            self.file
                .sync_data()
                .map_err(|e| StoreError::io(what(), e))?;
        }
        Ok(())
    }

    /// publish makes the hashes of a tree of `size` leaves readable, and keeps the upper
    /// ones of `hashes` (just written) in memory.
    pub(crate) fn publish(&self, size: u64, hashes: &[(u64, Hash)]) {
        self.count.store(stored_hash_count(size), Ordering::Release);
        let mut upper = self.upper.write().unwrap_or_else(|e| e.into_inner());
        for (index, hash) in hashes {
            let (level, n) = split_stored_hash_index(*index);
            upper.add(level, n, *hash);
        }
    }
}

/// rebuild writes the hash file of a log of `size` leaves from its leaves: a new log's
/// (empty), a log of an earlier version's (which kept the hashes in sled), or a log whose
/// file was lost. It writes a temporary file, fsyncs it and renames it into place, and
/// returns it open. The result is checked like any other file, and its root against the
/// signed checkpoint, so a leaf that was changed is refused at start-up.
fn rebuild(path: &Path, size: u64, leaves: Leaves<'_>) -> Result<File, StoreError> {
    let io =
        |what: &str, e: std::io::Error| StoreError::io(format!("{what} {}", path.display()), e);
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let file = File::create(&tmp).map_err(|e| io("creating a temporary file for", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, &file);
    if size > 0 {
        tracing::info!(
            entries = size,
            "{} is missing: computing the tree hashes from the entries",
            path.display()
        );
    }
    let mut frontier = Frontier::new();
    for leaf in leaves {
        let (index, leaf) = leaf?;
        if index != frontier.size() {
            return Err(Corruption::MissingEntry {
                index: frontier.size(),
                size,
            }
            .into());
        }
        for (_, hash) in frontier.append(record_hash(&leaf)) {
            out.write_all(&hash.0).map_err(|e| io("writing", e))?;
        }
        if frontier.size() % PROGRESS_ENTRIES == 0 {
            tracing::info!(
                "computed the tree hashes of {} of {size} entries",
                frontier.size()
            );
        }
    }
    if frontier.size() != size {
        return Err(Corruption::MissingEntry {
            index: frontier.size(),
            size,
        }
        .into());
    }
    out.flush().map_err(|e| io("writing", e))?;
    drop(out);
    file.sync_all().map_err(|e| io("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming the temporary file to", e))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("syncing the directory of", e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io("opening", e))
}

/// check reads the hash file of a log of `size` leaves from the start and checks that each
/// stored hash above the leaves is the hash of its two children, as appending the stored
/// leaf hashes one by one recomputes them. It returns the hashes from [`UPPER_LEVEL`] up,
/// for memory.
fn check(file: &File, size: u64, path: &Path) -> Result<UpperHashes, StoreError> {
    let io = |e: std::io::Error| StoreError::io(format!("reading {}", path.display()), e);
    let count = stored_hash_count(size);
    let len = file.metadata().map_err(io)?.len();
    if len < count * HASH_LEN {
        return Err(Corruption::ShortHashFile {
            path: path.display().to_string(),
            have: len / HASH_LEN,
            size,
            need: count,
        }
        .into());
    }
    let started = std::time::Instant::now();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut next = || -> Result<Hash, StoreError> {
        let mut bytes = [0u8; HASH_LEN as usize];
        reader.read_exact(&mut bytes).map_err(io)?;
        Ok(Hash(bytes))
    };
    let mut frontier = Frontier::new();
    let mut upper = UpperHashes::default();
    let mut at = 0u64;
    for n in 0..size {
        let written = frontier.append(next()?);
        at += 1;
        for (level, &(index, want)) in written.iter().enumerate().skip(1) {
            let stored = next()?;
            if index != at || stored != want {
                return Err(Corruption::HashMismatch {
                    path: path.display().to_string(),
                    index: at,
                }
                .into());
            }
            at += 1;
            upper.add(level as u8, n >> level, stored);
        }
        if at / PROGRESS_EVERY != (at - written.len() as u64) / PROGRESS_EVERY {
            tracing::info!("checked {at} of {count} tree hashes");
        }
    }
    debug_assert_eq!(at, count);
    if size > 0 {
        tracing::info!(
            count,
            seconds = started.elapsed().as_secs_f64(),
            "checked the tree hashes"
        );
    }
    Ok(upper)
}
