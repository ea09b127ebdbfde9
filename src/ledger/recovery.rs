//! Start-up: what the ledger checks before it serves anything, and the checkpoint copy kept
//! outside the store. Start-up checks that the stored leaves, tree hashes, chain head and
//! latest checkpoint agree, and that the store is not behind the copy (a store that lost its
//! tail), and refuses to start, saying what is wrong, if they do not. A new log gets the
//! signed checkpoint of the empty tree.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use huella_core::checkpoint::{self, Checkpoint, CheckpointError};
use huella_core::entry::{GENESIS_PREV, Leaf, LeafError};
use huella_core::keylog::KeyRegistry;
use huella_core::keys::{SignerKey, VerifierKey};
use huella_core::merkle::{self, Frontier, Hash, TreeError, record_hash, stored_hash_index};
use huella_core::trust::TrustRoot;

use crate::ledger::reader::Published;
use crate::ledger::sequencer::REGISTRY_REQUESTS;
use crate::store::{Batch, Store, StoreError};

/// StartError says why the ledger refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored does not agree with itself, or with the checkpoint copy.
    #[error("refusing to start: {0}")]
    Inconsistent(#[from] Inconsistency),
}

/// Inconsistency is what start-up found wrong, one case per check.
#[derive(Debug, thiserror::Error)]
pub enum Inconsistency {
    /// The checkpoint copy exists but cannot be read.
    #[error("reading the checkpoint copy {path}: {error}")]
    CopyUnreadable {
        /// The copy's path.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The checkpoint copy is not signed by the log key.
    #[error("the checkpoint copy {path} does not verify with the log key: {error}")]
    CopyUnsigned {
        /// The copy's path.
        path: String,
        /// Why.
        error: CheckpointError,
    },
    /// The store holds fewer entries than the log already signed for: it lost its tail.
    #[error(
        "the store holds {stored} entries, but the log already signed a checkpoint of size \
         {signed} ({path}): the store is corrupt or was rolled back and lost entries; restore \
         the data directory from a backup"
    )]
    BehindCopy {
        /// Entries in the store.
        stored: u64,
        /// Size of the copy's checkpoint.
        signed: u64,
        /// The copy's path.
        path: String,
    },
    /// The stored tree at the copy's size has another root than the copy.
    #[error(
        "the stored tree has root {stored} at size {size}, but the log signed {signed} ({path})"
    )]
    CopyRootMismatch {
        /// The size.
        size: u64,
        /// The root the store gives.
        stored: Hash,
        /// The root the copy says.
        signed: Hash,
        /// The copy's path.
        path: String,
    },
    /// The stored tree hashes could not be read.
    #[error("reading the tree at size {size}: {error}")]
    TreeUnreadable {
        /// The size.
        size: u64,
        /// Why.
        error: TreeError,
    },
    /// Entries but no checkpoint.
    #[error("the store holds {0} entries but no checkpoint")]
    NoCheckpoint(u64),
    /// The first checkpoint could not be signed.
    #[error("signing the first checkpoint: {0}")]
    FirstCheckpoint(String),
    /// The latest stored checkpoint is not signed by the log key.
    #[error("the latest stored checkpoint does not verify with the log key {key}: {error}")]
    CheckpointUnsigned {
        /// The log key.
        key: String,
        /// Why.
        error: CheckpointError,
    },
    /// A checkpoint stored under one size says another.
    #[error("checkpoint stored under size {stored_under} says size {says}")]
    CheckpointMisfiled {
        /// The size it is stored under.
        stored_under: u64,
        /// The size it says.
        says: u64,
    },
    /// The latest checkpoint is for another size than the store holds.
    #[error("the store holds {stored} entries but the latest checkpoint is for {checkpoint}")]
    SizeMismatch {
        /// Entries in the store.
        stored: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// The stored tree hashes give another root than the latest checkpoint.
    #[error(
        "stored tree hashes give root {stored} at size {size}, but the checkpoint says {signed}"
    )]
    RootMismatch {
        /// The size.
        size: u64,
        /// The root the hashes give.
        stored: Hash,
        /// The root the checkpoint says.
        signed: Hash,
    },
    /// The last entry is missing.
    #[error("entry {0} is missing")]
    MissingEntry(u64),
    /// The last entry does not parse.
    #[error("entry {index}: {error}")]
    BadEntry {
        /// Its index.
        index: u64,
        /// Why.
        error: LeafError,
    },
    /// The trust root names another log key than the log's own.
    #[error(
        "the trust root is for log key {trusted}, but this log's key is {own}: give the trust \
         root of this log"
    )]
    TrustLogKey {
        /// The key the trust root names.
        trusted: String,
        /// The log's key.
        own: String,
    },
    /// A registry entry the store holds does not apply to the registry replayed before it:
    /// the trust root given is not the one the log was started with.
    #[error(
        "replaying the registry: entry {index}: {error}; is the trust root the one this log \
         was started with?"
    )]
    RegistryReplay {
        /// The entry's index.
        index: u64,
        /// Why.
        error: String,
    },
    /// The last entry says another index.
    #[error("entry {index} says index {says}")]
    WrongIndex {
        /// Where it is stored.
        index: u64,
        /// What it says.
        says: u64,
    },
    /// The last entry's hash is not the stored leaf hash.
    #[error("entry {index} hashes to {hash} but the tree stores another leaf hash")]
    LeafHashMismatch {
        /// Its index.
        index: u64,
        /// What it hashes to.
        hash: Hash,
    },
    /// The latest checkpoint is not UTF-8.
    #[error("checkpoint is not UTF-8")]
    CheckpointNotUtf8,
}

/// Recovered is the state start-up reconstructs from the store.
pub(crate) struct Recovered {
    /// The right edge of the stored tree.
    pub(crate) frontier: Frontier,
    /// The leaf hash of the last entry (the chain head).
    pub(crate) head: Hash,
    /// The latest stored checkpoint, which start-up publishes.
    pub(crate) published: Published,
    /// The last entry's `integrated_at`, in Unix milliseconds (0 for an empty log): the
    /// next batch is stamped no earlier.
    pub(crate) last_integrated: u64,
}

/// check_copy refuses a store that is behind, or disagrees with, the checkpoint copy kept
/// outside it.
fn check_copy(store: &dyn Store, log_key: &VerifierKey, path: &Path) -> Result<(), StartError> {
    let shown = path.display().to_string();
    let note = match std::fs::read(path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Inconsistency::CopyUnreadable { path: shown, error }.into()),
    };
    let (copy, _) =
        checkpoint::open(&note, log_key).map_err(|error| Inconsistency::CopyUnsigned {
            path: shown.clone(),
            error,
        })?;
    let stored = store.size()?;
    if copy.size > stored {
        return Err(Inconsistency::BehindCopy {
            stored,
            signed: copy.size,
            path: shown,
        }
        .into());
    }
    let root =
        merkle::tree_hash(copy.size, store).map_err(|error| Inconsistency::TreeUnreadable {
            size: copy.size,
            error,
        })?;
    if root != copy.root {
        return Err(Inconsistency::CopyRootMismatch {
            size: copy.size,
            stored: root,
            signed: copy.root,
            path: shown,
        }
        .into());
    }
    Ok(())
}

/// write_copy replaces the checkpoint copy atomically: temporary file, fsync, rename.
pub(crate) fn write_copy(path: &Path, note: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(note.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// recover checks the store (and the copy at `copy`, if any) and returns the state the
/// sequencer starts from.
pub(crate) fn recover(
    store: &dyn Store,
    signer: &SignerKey,
    trust: &TrustRoot,
    copy: Option<&Path>,
) -> Result<Recovered, StartError> {
    let log_key = signer.verifier();
    if trust.log.key != log_key {
        return Err(Inconsistency::TrustLogKey {
            trusted: trust.log.key.to_string(),
            own: log_key.to_string(),
        }
        .into());
    }
    if let Some(path) = copy {
        check_copy(store, &log_key, path)?;
    }
    let size = store.size()?;
    let Some((checkpoint_size, note)) = store.latest_checkpoint()? else {
        if size != 0 {
            return Err(Inconsistency::NoCheckpoint(size).into());
        }
        // A new log: sign and store the checkpoint of the empty tree.
        let text = Checkpoint::new(log_key.name().as_str(), 0, merkle::empty_root())
            .sign(signer)
            .map_err(|e| Inconsistency::FirstCheckpoint(e.to_string()))?;
        store.commit(&Batch {
            checkpoint: text.clone().into_bytes(),
            ..Batch::default()
        })?;
        return Ok(Recovered {
            frontier: Frontier::new(),
            head: GENESIS_PREV,
            published: Published {
                size: 0,
                note: Arc::new(text),
                keys: Arc::new(KeyRegistry::from_trust(trust)),
            },
            last_integrated: 0,
        });
    };
    let (checkpoint, _) =
        checkpoint::open(&note, &log_key).map_err(|error| Inconsistency::CheckpointUnsigned {
            key: log_key.to_string(),
            error,
        })?;
    if checkpoint.size != checkpoint_size {
        return Err(Inconsistency::CheckpointMisfiled {
            stored_under: checkpoint_size,
            says: checkpoint.size,
        }
        .into());
    }
    if checkpoint.size != size {
        return Err(Inconsistency::SizeMismatch {
            stored: size,
            checkpoint: checkpoint.size,
        }
        .into());
    }
    let frontier = Frontier::load(size, store)
        .map_err(|error| Inconsistency::TreeUnreadable { size, error })?;
    if frontier.root() != checkpoint.root {
        return Err(Inconsistency::RootMismatch {
            size,
            stored: frontier.root(),
            signed: checkpoint.root,
        }
        .into());
    }
    let mut last_integrated = 0;
    let head = if size == 0 {
        GENESIS_PREV
    } else {
        let last = size - 1;
        let leaf = store
            .leaves(last, 1)?
            .pop()
            .ok_or(Inconsistency::MissingEntry(last))?;
        let entry =
            Leaf::parse(&leaf).map_err(|error| Inconsistency::BadEntry { index: last, error })?;
        if entry.index().get() != last {
            return Err(Inconsistency::WrongIndex {
                index: last,
                says: entry.index().get(),
            }
            .into());
        }
        last_integrated = entry.integrated_at().unix_millis();
        let hash = record_hash(&leaf);
        let stored = store
            .read_hashes(&[stored_hash_index(0, last)])
            .map_err(|error| Inconsistency::TreeUnreadable { size, error })?;
        if stored.first() != Some(&hash) {
            return Err(Inconsistency::LeafHashMismatch { index: last, hash }.into());
        }
        hash
    };
    let text = String::from_utf8(note).map_err(|_| Inconsistency::CheckpointNotUtf8)?;
    Ok(Recovered {
        frontier,
        head,
        published: Published {
            size,
            note: Arc::new(text),
            keys: Arc::new(replay_registry(store, trust, size)?),
        },
        last_integrated,
    })
}

/// build_blind_index indexes the access entries the blind index does not cover yet (all of
/// them, for a log written without one), from their stored openings, in durable chunks, so
/// that an interrupted build resumes where it stopped.
pub(crate) fn build_blind_index(
    store: &dyn Store,
    key: &crate::blind::BlindKey,
    size: u64,
) -> Result<(), StartError> {
    const CHUNK: u64 = 10_000;
    let mut at = store.blind_upto()?;
    if at >= size {
        return Ok(());
    }
    tracing::info!("building the blind index of entries {at}..{size}");
    while at < size {
        let end = (at + CHUNK).min(size);
        let mut records = Vec::new();
        for index in at..end {
            let Some(bytes) = store.opening(index)? else {
                continue;
            };
            // Only access entries have the three searchable openings; other entries' records
            // (a registry event's `{}`, a search's opening) do not parse as such.
            if let Ok(openings) = serde_json::from_slice::<huella_core::event::Openings>(&bytes) {
                records.extend(key.records(index, &openings));
            }
        }
        store.add_blind(&records, end)?;
        at = end;
    }
    tracing::info!("built the blind index up to {size}");
    Ok(())
}

/// finish_erasures carries out again every erasure order the store holds below `size`: each
/// destroys what it names and is not destroyed yet, so an order logged just before a crash
/// is finished at the next start.
pub(crate) fn finish_erasures(
    store: &dyn Store,
    blind: Option<&crate::blind::BlindKey>,
    size: u64,
) -> Result<(), StartError> {
    let mut orders = store.request_indices(crate::ledger::sequencer::ERASURE_REQUESTS)?;
    orders.retain(|&i| i < size);
    orders.sort_unstable();
    for index in orders {
        let leaf = store
            .leaves(index, 1)?
            .pop()
            .ok_or(Inconsistency::MissingEntry(index))?;
        let Ok(Leaf::Erasure(order)) = Leaf::parse(&leaf) else {
            return Err(Inconsistency::RegistryReplay {
                index,
                error: "the entry stored for an erasure order is not one".into(),
            }
            .into());
        };
        let search = match store.opening(index)? {
            Some(bytes) => {
                serde_json::from_slice::<Option<huella_core::sealed::SearchOpenings>>(&bytes)
                    .ok()
                    .flatten()
            }
            None => None,
        };
        crate::ledger::appender::carry_out_erasure(
            store,
            blind,
            index,
            &order.event,
            search.as_ref(),
        )?;
    }
    // And every retention notice.
    let mut notices = store.request_indices(crate::ledger::sequencer::RETENTION_REQUESTS)?;
    notices.retain(|&i| i < size);
    for index in notices {
        if let Some(leaf) = store.leaves(index, 1)?.pop()
            && let Ok(Leaf::Retention(notice)) = Leaf::parse(&leaf)
        {
            crate::ledger::appender::carry_out_retention(store, blind, index, &notice.event)?;
        }
    }
    Ok(())
}

/// replay_registry rebuilds the registry of keys as of `size`: the trust root's, with every
/// registry entry the store holds below `size` applied in order, each checked again.
pub(crate) fn replay_registry(
    store: &dyn Store,
    trust: &TrustRoot,
    size: u64,
) -> Result<KeyRegistry, StartError> {
    let mut indices = store.request_indices(REGISTRY_REQUESTS)?;
    indices.retain(|&i| i < size);
    indices.sort_unstable();
    let mut keys = KeyRegistry::from_trust(trust);
    for index in indices {
        let leaf = store
            .leaves(index, 1)?
            .pop()
            .ok_or(Inconsistency::MissingEntry(index))?;
        let entry = match Leaf::parse(&leaf) {
            Ok(Leaf::Registry(entry)) if entry.index.get() == index => entry,
            Ok(_) => {
                return Err(Inconsistency::RegistryReplay {
                    index,
                    error: "the entry stored for a registry event is not one".into(),
                }
                .into());
            }
            Err(error) => return Err(Inconsistency::BadEntry { index, error }.into()),
        };
        keys.apply_signed(&entry.signed_event(), trust, index)
            .map_err(|e| Inconsistency::RegistryReplay {
                index,
                error: e.to_string(),
            })?;
    }
    Ok(keys)
}
