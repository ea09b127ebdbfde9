//! Start-up: what the ledger checks before it serves anything, and the checkpoint copy kept
//! outside the store. Start-up checks that the stored leaves, tree hashes, chain head and
//! latest checkpoint agree, and that the store is not behind the copy (a store that lost its
//! tail), and refuses to start, saying what is wrong, if they do not. A new log gets the
//! signed checkpoint of the empty tree.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use huella_core::checkpoint::{self, Checkpoint};
use huella_core::entry::{Entry, GENESIS_PREV};
use huella_core::keys::{SignerKey, VerifierKey};
use huella_core::merkle::{self, Frontier, Hash, record_hash, stored_hash_index};

use crate::ledger::reader::Published;
use crate::store::{Batch, Store, StoreError};

/// StartError says why the ledger refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored does not agree with itself; the message says what.
    #[error("refusing to start: {0}")]
    Inconsistent(String),
}

/// Recovered is the state start-up reconstructs from the store.
pub(crate) struct Recovered {
    /// The right edge of the stored tree.
    pub(crate) frontier: Frontier,
    /// The leaf hash of the last entry (the chain head).
    pub(crate) head: Hash,
    /// The latest stored checkpoint, which start-up publishes.
    pub(crate) published: Published,
}

/// check_copy refuses a store that is behind, or disagrees with, the checkpoint copy kept
/// outside it.
fn check_copy(store: &dyn Store, log_key: &VerifierKey, path: &Path) -> Result<(), StartError> {
    let bad = |msg: String| StartError::Inconsistent(msg);
    let note = match std::fs::read(path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(bad(format!(
                "reading the checkpoint copy {}: {e}",
                path.display()
            )));
        }
    };
    let (copy, _) = checkpoint::open(&note, log_key).map_err(|e| {
        bad(format!(
            "the checkpoint copy {} does not verify with the log key: {e}",
            path.display()
        ))
    })?;
    let size = store.size()?;
    if copy.size > size {
        return Err(bad(format!(
            "the store holds {size} entries, but the log already signed a checkpoint of size {} \
             ({}): the store is corrupt or was rolled back and lost entries; restore the data \
             directory from a backup",
            copy.size,
            path.display()
        )));
    }
    let root = merkle::tree_hash(copy.size, store)
        .map_err(|e| bad(format!("reading the tree at size {}: {e}", copy.size)))?;
    if root != copy.root {
        return Err(bad(format!(
            "the stored tree has root {root} at size {}, but the log signed {} ({})",
            copy.size,
            copy.root,
            path.display()
        )));
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
    copy: Option<&Path>,
) -> Result<Recovered, StartError> {
    let log_key = signer.verifier();
    let bad = |msg: String| StartError::Inconsistent(msg);
    if let Some(path) = copy {
        check_copy(store, &log_key, path)?;
    }
    let size = store.size()?;
    let Some((checkpoint_size, note)) = store.latest_checkpoint()? else {
        if size != 0 {
            return Err(bad(format!(
                "the store holds {size} entries but no checkpoint"
            )));
        }
        // A new log: sign and store the checkpoint of the empty tree.
        let text = Checkpoint::new(log_key.name().as_str(), 0, merkle::empty_root())
            .sign(signer)
            .map_err(|e| bad(format!("signing the first checkpoint: {e}")))?;
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
            },
        });
    };
    let (checkpoint, _) = checkpoint::open(&note, &log_key).map_err(|e| {
        bad(format!(
            "the latest stored checkpoint does not verify with the log key {log_key}: {e}"
        ))
    })?;
    if checkpoint.size != checkpoint_size {
        return Err(bad(format!(
            "checkpoint stored under size {checkpoint_size} says size {}",
            checkpoint.size
        )));
    }
    if checkpoint.size != size {
        return Err(bad(format!(
            "the store holds {size} entries but the latest checkpoint is for {}",
            checkpoint.size
        )));
    }
    let frontier = Frontier::load(size, store)
        .map_err(|e| bad(format!("reading the tree's right edge: {e}")))?;
    if frontier.root() != checkpoint.root {
        return Err(bad(format!(
            "stored tree hashes give root {} at size {size}, but the checkpoint says {}",
            frontier.root(),
            checkpoint.root
        )));
    }
    let head = if size == 0 {
        GENESIS_PREV
    } else {
        let last = size - 1;
        let leaf = store
            .leaves(last, 1)?
            .pop()
            .ok_or_else(|| bad(format!("entry {last} is missing")))?;
        let entry = Entry::parse_leaf(&leaf).map_err(|e| bad(format!("entry {last}: {e}")))?;
        if entry.index.get() != last {
            return Err(bad(format!(
                "entry {last} says index {}",
                entry.index.get()
            )));
        }
        let hash = record_hash(&leaf);
        let stored = store
            .read_hashes(&[stored_hash_index(0, last)])
            .map_err(|e| bad(format!("reading the leaf hash of entry {last}: {e}")))?;
        if stored.first() != Some(&hash) {
            return Err(bad(format!(
                "entry {last} hashes to {hash} but the tree stores another leaf hash"
            )));
        }
        hash
    };
    let text = String::from_utf8(note).map_err(|_| bad("checkpoint is not UTF-8".into()))?;
    Ok(Recovered {
        frontier,
        head,
        published: Published {
            size,
            note: Arc::new(text),
        },
    })
}
