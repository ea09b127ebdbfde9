//! Crash points, tested one by one. For each step of a commit (see `src/ledger/mod.rs` for
//! the commit order, and `src/store/faulty.rs` for what each step has written), the store
//! crashes there, with the step's not-yet-durable writes either persisting or lost; then
//! the store is reopened from what is on disk, the ledger restarts on it with the same
//! checkpoint copy, and the whole log and every receipt already given must verify.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestLog, agencies, sealed};
use huella::http::Limits;
use huella::ledger::Options;
use huella::store::{Batch, Fault, FaultyStore, STEPS, SledStore, Step, Store, StoreError};
use huella_core::entry::{Entry, GENESIS_PREV};
use huella_core::event::Submission;
use huella_core::merkle::{Frontier, record_hash};
use huella_core::proof::Receipt;
use huella_core::values::{Count, Timestamp};
use huella_verify::consistency::check_still_logged;

/// Entries logged before the crash.
const BEFORE: u64 = 5;

/// check_restarted checks a log restarted after the fault: the whole log verifies, every
/// receipt given still verifies with its entry in place, and `failed`, the event that met
/// the fault, is logged exactly once at the next index (its retry gets the original when
/// the fault kept it, and logs it when not). It returns the size the log restarted with.
async fn check_restarted(
    log: &TestLog,
    receipts: &[Receipt],
    failed: &Submission,
    case: &str,
) -> u64 {
    let (checkpoint, _) = log.check_log().await;
    for receipt in receipts {
        let (entry, signed) = receipt.open(&log.log_key).unwrap();
        check_still_logged(&log.client, &log.log_key, &signed)
            .await
            .unwrap_or_else(|e| panic!("{case}: receipt {}: {e}", receipt.index));
        let stored = log.get(&format!("/v1/entries/{}", receipt.index)).await;
        assert_eq!(stored.bytes().await.unwrap(), entry.to_leaf(), "{case}");
    }
    let retry = log.client.submit(failed).await.unwrap();
    assert_eq!(retry.receipt.index, BEFORE, "{case}");
    assert_eq!(retry.created, checkpoint.size == BEFORE, "{case}");
    assert_eq!(log.check_log().await.0.size, BEFORE + 1, "{case}");
    // Every entry's openings read back whole and open its commitments: on sled, the keys
    // a failed commit left past the stored entries in `db/opening-keys` were written over,
    // not used, by the commit that logged the retry.
    for index in 0..=BEFORE {
        let bytes = log.ledger.store().opening(index).unwrap().unwrap();
        let openings: huella_core::event::Openings = serde_json::from_slice(&bytes).unwrap();
        let leaf = log.ledger.store().leaves(index, 1).unwrap().remove(0);
        let huella_core::entry::Leaf::Access(entry) =
            huella_core::entry::Leaf::parse(&leaf).unwrap()
        else {
            panic!("{case}: entry {index} is not an access");
        };
        openings
            .check(&entry.event)
            .unwrap_or_else(|e| panic!("{case}: entry {index}: {e}"));
    }
    assert_eq!(
        log.ledger.store().opening(BEFORE).unwrap().unwrap(),
        serde_json::to_vec(&failed.openings).unwrap(),
        "{case}"
    );
    checkpoint.size
}

/// crash_at runs the scenario for one step, with its pending writes persisting and not.
async fn crash_at(step: Step) {
    let (agencies, _) = agencies();
    // Only the hashes before their fsync, and the records before the flush, are writes
    // whose fate a crash decides; at the other steps nothing is pending.
    let persists: &[bool] = match step {
        Step::AfterTreeHashes | Step::AfterRecords => &[false, true],
        _ => &[false],
    };
    for &persist in persists {
        let case = format!("{step:?}, persist {persist}");
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            batch_wait: Duration::from_millis(1),
            checkpoint_copy: Some(dir.path().join("checkpoint")),
            ..Options::default()
        };
        let store = Arc::new(FaultyStore::new());
        let log = TestLog::start_with(store.clone(), Limits::default(), options.clone()).await;
        let mut receipts = log.log_events(0..BEFORE).await;
        store.inject(Fault::Crash { at: step, persist });
        let crashed = sealed(&agencies, BEFORE);
        let answer = log.client.submit(&crashed).await;
        if step == Step::AfterCheckpoint {
            // The crash comes once the batch is answered and its copy written: the next
            // commit finds the process dead.
            receipts.push(answer.unwrap().receipt);
            assert!(
                log.client.submit(&sealed(&agencies, 99)).await.is_err(),
                "{case}"
            );
        } else {
            // A crash before the answer: no receipt left the log.
            assert!(answer.is_err(), "{case}");
        }
        assert_eq!(store.crashed(), Some(step), "{case}");
        // Reads still serve the published log, which never included an unanswered batch.
        assert_eq!(
            log.check_log().await.0.size,
            receipts.len() as u64,
            "{case}"
        );
        log.stop().await;

        // Restart on what is on disk.
        let log = TestLog::start_with(Arc::new(store.reopen()), Limits::default(), options).await;
        let restarted = check_restarted(&log, &receipts, &crashed, &case).await;
        let durable = match (step, persist) {
            (Step::BeforeTreeHashes | Step::AfterTreeHashes, _) | (Step::AfterRecords, false) => {
                BEFORE
            }
            (Step::AfterRecords, true) | (Step::AfterFlush, _) | (Step::AfterCheckpoint, _) => {
                BEFORE + 1
            }
        };
        assert_eq!(restarted, durable, "{case}");
        log.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_tree_hashes_loses_only_the_unanswered_batch() {
    crash_at(Step::BeforeTreeHashes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_tree_hashes_leaves_a_tail_that_start_up_ignores() {
    crash_at(Step::AfterTreeHashes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_records_keeps_the_batch_whole_or_not_at_all() {
    crash_at(Step::AfterRecords).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_flush_keeps_the_batch_though_nobody_was_answered() {
    crash_at(Step::AfterFlush).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_checkpoint_copy_keeps_every_receipt() {
    crash_at(Step::AfterCheckpoint).await;
}

/// The sled store takes the steps the model takes, in the same order.
#[test]
fn the_sled_store_takes_the_models_steps_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let sled = SledStore::open(dir.path())
        .unwrap()
        .with_step_hook(Arc::new(move |step| {
            record.lock().unwrap().push(step);
            Ok(())
        }));
    let model = FaultyStore::new();
    let (batch, _) = one_entry_batch();
    sled.commit(&batch).unwrap();
    model.commit(&batch).unwrap();
    let in_commit = &STEPS[..4];
    assert_eq!(*seen.lock().unwrap(), in_commit);
    assert_eq!(model.steps_reached(), in_commit);
}

/// one_entry_batch is a batch of one demo entry on an empty log, with its tree hashes.
fn one_entry_batch() -> (Batch, Frontier) {
    let (agencies, _) = agencies();
    let (signed, openings) = sealed(&agencies, 0).into_parts();
    let entry = Entry::new(
        Count::new(0).unwrap(),
        Timestamp::from_unix_millis(common::NOW),
        GENESIS_PREV,
        signed,
    );
    let leaf = entry.to_leaf();
    let mut frontier = Frontier::new();
    let hashes = frontier.append(record_hash(&leaf));
    let batch = Batch {
        start: 0,
        leaves: vec![leaf],
        openings: vec![serde_json::to_vec(&openings).unwrap()],
        request_keys: vec![b"agency\0request".to_vec()],
        hashes,
        checkpoint_size: 1,
        checkpoint: b"checkpoint 1".to_vec(),
        ..Batch::default()
    };
    (batch, frontier)
}

/// The real sled store, failed at each step of a commit by its hook: the process goes on
/// (sled may still flush what it applied), the store is closed and opened again from disk,
/// and the ledger restarts whole, with every receipt given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sled_store_failed_at_each_step_restarts_with_every_receipt() {
    let (agencies, _) = agencies();
    for step in &STEPS[..4] {
        let case = format!("sled, {step:?}");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let options = Options {
            batch_wait: Duration::from_millis(1),
            checkpoint_copy: Some(dir.path().join("checkpoint")),
            ..Options::default()
        };
        let armed = Arc::new(AtomicBool::new(false));
        let trigger = (armed.clone(), *step);
        let store = SledStore::open(&db)
            .unwrap()
            .with_step_hook(Arc::new(move |at| {
                if at == trigger.1 && trigger.0.swap(false, Ordering::SeqCst) {
                    return Err(StoreError::Injected(Fault::Fail(at)));
                }
                Ok(())
            }));
        let log = TestLog::start_with(Arc::new(store), Limits::default(), options.clone()).await;
        let receipts = log.log_events(0..BEFORE).await;
        armed.store(true, Ordering::SeqCst);
        let failed = sealed(&agencies, BEFORE);
        assert!(log.client.submit(&failed).await.is_err(), "{case}");
        log.stop().await;

        let log = TestLog::start_with(
            Arc::new(common::open_sled(&db).unwrap()),
            Limits::default(),
            options,
        )
        .await;
        let restarted = check_restarted(&log, &receipts, &failed, &case).await;
        // Before the records nothing of the batch is in sled; once they are applied, sled
        // may flush them later on its own, so either is whole.
        match step {
            Step::BeforeTreeHashes | Step::AfterTreeHashes => {
                assert_eq!(restarted, BEFORE, "{case}")
            }
            Step::AfterRecords => assert!([BEFORE, BEFORE + 1].contains(&restarted), "{case}"),
            _ => assert_eq!(restarted, BEFORE + 1, "{case}"),
        }
        log.stop().await;
    }
}

#[test]
fn every_step_has_its_test() {
    // The five tests above, one per step, in commit order.
    assert_eq!(
        STEPS,
        [
            Step::BeforeTreeHashes,
            Step::AfterTreeHashes,
            Step::AfterRecords,
            Step::AfterFlush,
            Step::AfterCheckpoint,
        ]
    );
}
