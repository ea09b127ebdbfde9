//! The in-memory store: everything behind one lock, so a commit is atomic. [`MemoryState`]
//! is also the faulty store's model of what reads see and of what is on disk.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use huella_core::merkle::{Hash, HashReader, TreeError, stored_hash_count};

use crate::store::{Batch, Store, StoreError};

/// MemoryStore keeps the log in memory.
#[derive(Default)]
pub struct MemoryStore {
    /// Everything stored, behind one lock so that commits are atomic.
    state: Mutex<MemoryState>,
}

/// MemoryState is a whole log's records and tree hashes.
#[derive(Clone, Default)]
pub(crate) struct MemoryState {
    pub(crate) leaves: Vec<Vec<u8>>,
    pub(crate) hashes: BTreeMap<u64, Hash>,
    pub(crate) openings: BTreeMap<u64, Vec<u8>>,
    pub(crate) requests: BTreeMap<Vec<u8>, u64>,
    pub(crate) checkpoints: BTreeMap<u64, Vec<u8>>,
    pub(crate) blind: std::collections::BTreeSet<([u8; 32], u64)>,
    pub(crate) blind_upto: u64,
    pub(crate) erased: BTreeMap<u64, u64>,
}

impl MemoryState {
    /// check_append refuses a batch that does not start at the stored size.
    pub(crate) fn check_append(&self, batch: &Batch) -> Result<(), StoreError> {
        let size = self.leaves.len() as u64;
        match batch.start == size {
            true => Ok(()),
            false => Err(StoreError::NotAppend {
                start: batch.start,
                size,
            }),
        }
    }

    /// add_hashes writes a batch's tree hashes.
    pub(crate) fn add_hashes(&mut self, batch: &Batch) {
        self.hashes.extend(batch.hashes.iter().copied());
    }

    /// add_records writes a batch's leaves, openings, request ids and checkpoint.
    pub(crate) fn add_records(&mut self, batch: &Batch) {
        for (i, leaf) in batch.leaves.iter().enumerate() {
            let index = batch.start + i as u64;
            self.leaves.push(leaf.clone());
            self.openings.insert(index, batch.openings[i].clone());
            self.requests.insert(batch.request_keys[i].clone(), index);
        }
        self.checkpoints
            .insert(batch.checkpoint_size, batch.checkpoint.clone());
        self.blind.extend(batch.blind.iter().copied());
        if let Some(upto) = batch.blind_upto {
            self.blind_upto = upto;
        }
    }

    /// erase drops an entry's openings and blind records, and notes the erasure.
    pub(crate) fn erase(&mut self, index: u64, blind: &[[u8; 32]], by: u64) {
        self.openings.remove(&index);
        for tag in blind {
            self.blind.remove(&(*tag, index));
        }
        self.erased.insert(index, by);
    }

    /// blind_lookup lists the entries under a tag.
    pub(crate) fn blind_lookup(&self, tag: &[u8; 32]) -> Vec<u64> {
        self.blind
            .range((*tag, 0)..=(*tag, u64::MAX))
            .map(|(_, i)| *i)
            .collect()
    }

    /// opened is what a store opened on this state would hold: tree hashes past those of
    /// its leaves are an unfinished commit's tail, which opening ignores (as the sled store
    /// ignores bytes past them in its hash file).
    pub(crate) fn opened(&self) -> MemoryState {
        let mut state = self.clone();
        let count = stored_hash_count(state.leaves.len() as u64);
        state.hashes.retain(|&i, _| i < count);
        state
    }

    pub(crate) fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|i| {
                self.hashes
                    .get(i)
                    .copied()
                    .ok_or(TreeError::MissingHash(*i))
            })
            .collect()
    }

    pub(crate) fn leaves(&self, start: u64, limit: u64) -> Vec<Vec<u8>> {
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.leaves.len());
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
            .min(self.leaves.len());
        self.leaves[start..end].to_vec()
    }

    pub(crate) fn checkpoint_covering(&self, index: u64) -> Option<(u64, Vec<u8>)> {
        self.checkpoints
            .range(index.saturating_add(1)..)
            .next()
            .map(|(k, v)| (*k, v.clone()))
    }

    pub(crate) fn latest_checkpoint(&self) -> Option<(u64, Vec<u8>)> {
        self.checkpoints
            .last_key_value()
            .map(|(k, v)| (*k, v.clone()))
    }
}

/// guard locks a state. A panic while holding the lock cannot leave a half-applied batch
/// (commits mutate only after all checks), so a poisoned lock still guards consistent data.
pub(crate) fn guard(state: &Mutex<MemoryState>) -> MutexGuard<'_, MemoryState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    /// new returns an empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, MemoryState> {
        guard(&self.state)
    }
}

impl HashReader for MemoryStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.state().read_hashes(indexes)
    }
}

impl Store for MemoryStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut state = self.state();
        state.check_append(batch)?;
        state.add_hashes(batch);
        state.add_records(batch);
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.state().leaves.len() as u64)
    }

    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.state().leaves(start, limit))
    }

    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().checkpoints.get(&size).cloned())
    }

    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.state().checkpoint_covering(index))
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.state().latest_checkpoint())
    }

    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(self.state().requests.get(key).copied())
    }

    fn request_indices(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .state()
            .requests
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .collect())
    }

    fn blind_lookup(&self, tag: &[u8; 32]) -> Result<Vec<u64>, StoreError> {
        Ok(self.state().blind_lookup(tag))
    }

    fn blind_upto(&self) -> Result<u64, StoreError> {
        Ok(self.state().blind_upto)
    }

    fn add_blind(&self, records: &[([u8; 32], u64)], upto: u64) -> Result<(), StoreError> {
        let mut state = self.state();
        state.blind.extend(records.iter().copied());
        state.blind_upto = upto;
        Ok(())
    }

    fn erase(&self, index: u64, blind: &[[u8; 32]], by: u64) -> Result<(), StoreError> {
        self.state().erase(index, blind, by);
        Ok(())
    }

    fn erased_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        Ok(self.state().erased.get(&index).copied())
    }

    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().openings.get(&index).cloned())
    }

    fn repair(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
