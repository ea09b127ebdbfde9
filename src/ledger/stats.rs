//! The log's statistics index: a [`Cube`] of every published entry, kept up to date as the
//! sequencer publishes batches, so that `GET /v1/stats` answers from it without reading the
//! log.
//!
//! The cube lives in memory. A snapshot of it (`Options::stats_snapshot`, `data/stats.json`
//! for `huella serve`) is written beside the store every [`SNAPSHOT_EVERY`] entries and when
//! the sequencer stops, so that start-up counts only the entries after it. The snapshot is a
//! cache, not a record: it names the leaf hash of the last entry it counts, and start-up
//! counts the whole log again when that does not match (or the file is missing, torn, or of
//! another version).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use huella_core::entry::Leaf;
use huella_core::merkle::{Hash, record_hash};
use huella_core::stats::{Cube, Facts, Query, Row, Table};

use crate::store::{Store, StoreError};

/// SNAPSHOT_EVERY is how many entries apart snapshots are written.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// PAGE is how many leaves start-up reads at once.
const PAGE: u64 = 1_000;

/// Snapshot is the file form of a cube.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    /// Always 1.
    version: u32,
    /// The entries counted: `0..size`.
    size: u64,
    /// The leaf hash of entry `size - 1` (absent when `size` is 0).
    last: Option<Hash>,
    /// The cube's cells, by id.
    rows: Vec<Row>,
    /// Per block of entries, the ids of the cells its entries fall in.
    blocks: Vec<Vec<u32>>,
}

/// Stats is the statistics index shared by the sequencer (which adds) and readers.
pub(crate) struct Stats {
    cube: RwLock<Cube>,
    snapshot: Option<PathBuf>,
}

impl Stats {
    /// build counts the first `size` entries of `store`, from the snapshot where it holds.
    pub(crate) fn build(
        store: &dyn Store,
        size: u64,
        snapshot: Option<PathBuf>,
    ) -> Result<Stats, StoreError> {
        let cube = snapshot
            .as_deref()
            .and_then(|path| load(store, path, size))
            .unwrap_or_default();
        let stats = Stats {
            cube: RwLock::new(cube),
            snapshot,
        };
        if stats.catch_up(store, size)? > 0 {
            stats.save(store);
        }
        Ok(stats)
    }

    /// catch_up counts the entries of `store` from the cube's size up to `size` (a batch
    /// that became durable after its commit failed, when the sequencer resumes), and
    /// returns how many it counted.
    pub(crate) fn catch_up(&self, store: &dyn Store, size: u64) -> Result<u64, StoreError> {
        let mut cube = self.cube.write().unwrap_or_else(|p| p.into_inner());
        let from = cube.size();
        if from >= size {
            return Ok(0);
        }
        if size - from > PAGE {
            tracing::info!("counting statistics of entries {from}..{size}");
        }
        let mut at = from;
        while at < size {
            let leaves = store.leaves(at, PAGE.min(size - at))?;
            if leaves.is_empty() {
                return Err(StoreError::from(crate::store::Corruption::BadEntry {
                    index: at,
                    why: "missing while counting statistics".into(),
                }));
            }
            for leaf in &leaves {
                let parsed = Leaf::parse(leaf).map_err(|e| {
                    StoreError::from(crate::store::Corruption::BadEntry {
                        index: at,
                        why: format!("counting statistics: {e}"),
                    })
                })?;
                cube.add_leaf(&parsed);
                at += 1;
            }
            if at % 1_000_000 < PAGE && at < size {
                tracing::info!("counted statistics up to {at} of {size}");
            }
        }
        Ok(size - from)
    }

    /// add counts a published batch, whose first entry is the cube's next.
    pub(crate) fn add(self: &Arc<Self>, facts: &[Facts], store: &Arc<dyn Store>) {
        let (before, after) = {
            let mut cube = self.cube.write().unwrap_or_else(|p| p.into_inner());
            let before = cube.size();
            for f in facts {
                cube.add(f);
            }
            (before, cube.size())
        };
        if before / SNAPSHOT_EVERY != after / SNAPSHOT_EVERY && self.snapshot.is_some() {
            let (stats, store) = (self.clone(), store.clone());
            // Off the sequencer's thread: a snapshot is a cache, and appends do not wait
            // for it.
            let _ = std::thread::Builder::new()
                .name("stats-snapshot".into())
                .spawn(move || stats.save(store.as_ref()));
        }
    }

    /// query answers a query over the published entries counted so far.
    pub(crate) fn query(&self, query: &Query) -> Table {
        self.cube
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .query(query)
    }

    /// blocks_matching says which blocks of entries hold a match of `query`, and how many
    /// entries match ([`Cube::blocks_matching`]).
    pub(crate) fn blocks_matching(&self, query: &Query) -> (Vec<bool>, u64) {
        self.cube
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .blocks_matching(query)
    }

    /// save writes the snapshot, if there is one to write; a failure is logged, not fatal.
    pub(crate) fn save(&self, store: &dyn Store) {
        let Some(path) = &self.snapshot else { return };
        let (size, rows, blocks) = {
            let cube = self.cube.read().unwrap_or_else(|p| p.into_inner());
            (cube.size(), cube.rows(), cube.blocks().to_vec())
        };
        let Ok(last) = last_leaf_hash(store, size) else {
            return;
        };
        let snapshot = Snapshot {
            version: 1,
            size,
            last,
            rows,
            blocks,
        };
        if let Err(e) = write(path, &snapshot) {
            tracing::warn!("writing the statistics snapshot {}: {e}", path.display());
        }
    }
}

/// load reads a snapshot that counts a prefix of the first `size` entries of `store`, or
/// `None` (saying why) if there is none that does.
fn load(store: &dyn Store, path: &Path, size: u64) -> Option<Cube> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("reading {}: {e}; counting statistics again", path.display());
            return None;
        }
    };
    let why = match serde_json::from_slice::<Snapshot>(&bytes) {
        Err(e) => format!("it does not parse ({e})"),
        Ok(s) if s.version != 1 => format!("it is of version {}", s.version),
        Ok(s) if s.size > size => format!("it counts {} entries, the log has {size}", s.size),
        Ok(s) => {
            let Ok(last) = last_leaf_hash(store, s.size) else {
                return None;
            };
            if last != s.last {
                "its last entry is not the log's".to_string()
            } else {
                match Cube::from_parts(s.size, &s.rows, s.blocks) {
                    Ok(cube) => return Some(cube),
                    Err(e) => e,
                }
            }
        }
    };
    tracing::warn!(
        "the statistics snapshot {} does not fit the log: {why}; counting statistics again",
        path.display()
    );
    None
}

/// last_leaf_hash is the leaf hash of entry `size - 1` (`None` for an empty prefix), what a
/// snapshot of the first `size` entries names; `Err` if the store cannot say.
fn last_leaf_hash(store: &dyn Store, size: u64) -> Result<Option<Hash>, ()> {
    let Some(index) = size.checked_sub(1) else {
        return Ok(None);
    };
    match store.leaves(index, 1) {
        Ok(leaves) if leaves.len() == 1 => Ok(Some(record_hash(&leaves[0]))),
        _ => Err(()),
    }
}

/// write writes a snapshot to a temporary file and renames it into place, so a reader never
/// sees half of one.
fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
