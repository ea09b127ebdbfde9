//! A store that fails, or crashes, at a chosen step of a commit: the commit order's tests.
//!
//! It keeps two [`MemoryState`]s: what reads see (`live`), and what would survive a crash
//! (`disk`). A commit walks the steps the sled store takes, in its order, and each step
//! moves the batch's data into `live` and, once made durable, into `disk`:
//!
//! | step | `live` | `disk` |
//! | --- | --- | --- |
//! | [`Step::BeforeTreeHashes`] | unchanged | unchanged |
//! | [`Step::AfterTreeHashes`] | unchanged | + hashes (written and fsynced to the hash file; the sled store's openings keys too) |
//! | [`Step::AfterRecords`] | + hashes and records | unchanged: sled has applied the batch, not flushed it |
//! | [`Step::AfterFlush`] | | + records |
//! | [`Step::AfterCheckpoint`] | | the sequencer has since answered and written its checkpoint copy |
//!
//! The memory store seals no openings, so the keys file has no state here: its writes belong
//! to the same step as the hashes, with the same tail rule (ledger/mod.rs, step 3), and the
//! sled store failed at that step is where a crash between them is tested.
//!
//! The sled store reports the same steps, in the same order, to a [`super::StepHook`]
//! (`SledStore::with_step_hook`), and `tests/commit_steps.rs` checks that both orders agree
//! and fails the real sled store at each of them too.
//!
//! A [`Fault::Fail`] makes that one commit return an error at its step, leaving `live` and
//! `disk` as the table says, and later commits work again. A [`Fault::Crash`] stops the
//! world at its step: the commit fails, every later commit fails, and `disk` is frozen as it
//! was, plus, with `persist`, the writes of the crash's own step that were not durable yet
//! (an fsync that completed after all, sled pages written before the flush). [`FaultyStore::reopen`]
//! opens what is on disk, as a restart would. The checkpoint copy is written by the
//! sequencer after a commit returns, so [`Step::AfterCheckpoint`] fires at the start of the
//! next commit, when the single sequencer thread has finished the copy.

use std::sync::Mutex;

use huella_core::merkle::{Hash, HashReader, TreeError};

use crate::store::memory::{MemoryState, guard};
use crate::store::{Batch, Store, StoreError};

/// Step is a point in a commit, in the order the sled store takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing of the batch is written yet.
    BeforeTreeHashes,
    /// The batch's tree hashes are written to their file and fsynced.
    AfterTreeHashes,
    /// The batch's records are applied (readable), not yet flushed.
    AfterRecords,
    /// The records are flushed: the batch is durable.
    AfterFlush,
    /// The sequencer has answered the batch's waiters and written its checkpoint copy.
    AfterCheckpoint,
}

/// STEPS are the steps in commit order.
pub const STEPS: [Step; 5] = [
    Step::BeforeTreeHashes,
    Step::AfterTreeHashes,
    Step::AfterRecords,
    Step::AfterFlush,
    Step::AfterCheckpoint,
];

/// Fault is what goes wrong, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The commit fails at this step; the store works again afterwards.
    Fail(Step),
    /// The process dies at this step. With `persist`, the step's writes that were not yet
    /// durable reach the disk anyway; without, they are lost.
    Crash {
        /// Where.
        at: Step,
        /// Whether the step's not-yet-durable writes survive.
        persist: bool,
    },
}

/// FaultyStore is an in-memory store with a model of its disk; see the module docs.
#[derive(Default)]
pub struct FaultyStore {
    /// What reads see.
    live: Mutex<MemoryState>,
    /// What survives a crash.
    disk: Mutex<MemoryState>,
    /// The fault to inject at the next commit that reaches its step, if any.
    fault: Mutex<Option<Fault>>,
    /// Set once a crash happened: every later commit fails and `disk` stays frozen.
    crashed: Mutex<Option<Step>>,
    /// Every step commits have reached, in order, for comparison with the sled store's.
    reached: Mutex<Vec<Step>>,
    /// Whether a commit completed since the fault was armed: [`Step::AfterCheckpoint`]
    /// belongs to that commit, and fires when the next one starts.
    committed_since_armed: Mutex<bool>,
    /// While set, every commit and repair fails with this operating system error before it
    /// writes anything (see [`FaultyStore::fail_writes`]).
    failing: Mutex<Option<i32>>,
    /// Commits begun, failed ones included.
    attempts: std::sync::atomic::AtomicU64,
}

impl FaultyStore {
    /// new returns an empty store without faults.
    pub fn new() -> FaultyStore {
        FaultyStore::default()
    }

    /// inject arms a fault for the next commit that reaches its step.
    pub fn inject(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = Some(fault);
        *self
            .committed_since_armed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = false;
    }

    /// fail_writes makes every commit and repair fail with the operating system error
    /// `errno` (`libc::EMFILE`, `libc::ENOSPC`...) before writing anything, until it is
    /// called with `None`: a fault that lasts until it is cleared.
    pub fn fail_writes(&self, errno: Option<i32>) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = errno;
    }

    /// commit_attempts counts the commits begun so far, failed ones included.
    pub fn commit_attempts(&self) -> u64 {
        self.attempts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// failing is the error of [`FaultyStore::fail_writes`], if set.
    fn failing(&self, what: &str) -> Result<(), StoreError> {
        match *self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(errno) => Err(StoreError::io(
                what,
                std::io::Error::from_raw_os_error(errno),
            )),
            None => Ok(()),
        }
    }

    /// crashed says at which step the store crashed, if it did.
    pub fn crashed(&self) -> Option<Step> {
        *self.crashed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// steps_reached lists the steps commits have reached so far, in order.
    pub fn steps_reached(&self) -> Vec<Step> {
        self.reached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// reopen is a store opened on what is on disk, as a restart after a crash finds it.
    pub fn reopen(&self) -> FaultyStore {
        let disk = guard(&self.disk).opened();
        FaultyStore {
            live: Mutex::new(disk.clone()),
            disk: Mutex::new(disk),
            ..FaultyStore::default()
        }
    }

    /// at is called at each step: it injects the armed fault if this is its step. `pending`
    /// moves the step's not-yet-durable writes to disk, for a crash that persists them.
    fn at(&self, step: Step, pending: impl FnOnce(&mut MemoryState)) -> Result<(), StoreError> {
        self.reached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(step);
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        match *fault {
            Some(Fault::Fail(at)) if at == step => {
                *fault = None;
                Err(StoreError::Injected(Fault::Fail(step)))
            }
            Some(Fault::Crash { at, persist }) if at == step => {
                *fault = None;
                if persist {
                    pending(&mut guard(&self.disk));
                }
                *self.crashed.lock().unwrap_or_else(|p| p.into_inner()) = Some(step);
                Err(StoreError::Injected(Fault::Crash { at, persist }))
            }
            _ => Ok(()),
        }
    }
}

impl HashReader for FaultyStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        guard(&self.live).read_hashes(indexes)
    }
}

impl Store for FaultyStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.failing("committing a batch (injected)")?;
        if let Some(step) = self.crashed() {
            return Err(StoreError::Injected(Fault::Crash {
                at: step,
                persist: false,
            }));
        }
        // The previous commit's copy is written by now (see the module docs).
        let mut committed = self
            .committed_since_armed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *committed {
            self.at(Step::AfterCheckpoint, |_| {})?;
        }
        guard(&self.live).check_append(batch)?;
        self.at(Step::BeforeTreeHashes, |_| {})?;
        // The hash file is written, then fsynced: a crash in between may or may not keep it.
        // Readers see the hashes only with the records, as the sled store publishes them.
        self.at(Step::AfterTreeHashes, |disk| disk.add_hashes(batch))?;
        guard(&self.disk).add_hashes(batch);
        // sled applies the batch, readable at once, durable only at the flush.
        {
            let mut live = guard(&self.live);
            live.add_hashes(batch);
            live.add_records(batch);
        }
        self.at(Step::AfterRecords, |disk| disk.add_records(batch))?;
        guard(&self.disk).add_records(batch);
        self.at(Step::AfterFlush, |_| {})?;
        *committed = true;
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(guard(&self.live).leaves.len() as u64)
    }

    fn leaves(&self, start: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(guard(&self.live).leaves(start, limit))
    }

    fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guard(&self.live).checkpoints.get(&size).cloned())
    }

    fn checkpoint_covering(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(guard(&self.live).checkpoint_covering(index))
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(guard(&self.live).latest_checkpoint())
    }

    fn request_index(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(guard(&self.live).requests.get(key).copied())
    }

    fn request_indices(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
        Ok(guard(&self.live)
            .requests
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .collect())
    }

    fn blind_lookup(&self, tag: &[u8; 32]) -> Result<Vec<u64>, StoreError> {
        Ok(guard(&self.live).blind_lookup(tag))
    }

    fn blind_upto(&self) -> Result<u64, StoreError> {
        Ok(guard(&self.live).blind_upto)
    }

    fn add_blind(&self, records: &[([u8; 32], u64)], upto: u64) -> Result<(), StoreError> {
        self.failing("adding blind-index records (injected)")?;
        for state in [&self.live, &self.disk] {
            let mut state = guard(state);
            state.blind.extend(records.iter().copied());
            state.blind_upto = upto;
        }
        Ok(())
    }

    fn erase(&self, index: u64, blind: &[[u8; 32]], by: u64) -> Result<(), StoreError> {
        self.failing("erasing openings (injected)")?;
        for state in [&self.live, &self.disk] {
            guard(state).erase(index, blind, by);
        }
        Ok(())
    }

    fn erased_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        Ok(guard(&self.live).erased.get(&index).copied())
    }

    fn opening(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guard(&self.live).openings.get(&index).cloned())
    }

    /// repair after a [`Fault::Fail`] opens what is on disk, as the sled store's reopen does
    /// (the worst case: whatever was not durable is gone); after a crash it fails, as the
    /// process is gone.
    fn repair(&self) -> Result<(), StoreError> {
        if let Some(step) = self.crashed() {
            return Err(StoreError::Injected(Fault::Crash {
                at: step,
                persist: false,
            }));
        }
        self.failing("repairing the store (injected)")?;
        let disk = guard(&self.disk).opened();
        *guard(&self.live) = disk;
        Ok(())
    }
}
