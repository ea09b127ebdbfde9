//! Crash points, tested one by one. For each step of a commit (see `src/ledger/mod.rs` for
//! the commit order, and `src/store/faulty.rs` for what each step has written), the store
//! crashes there, with the step's not-yet-durable writes either persisting or lost; then
//! the store is reopened from what is on disk, the ledger restarts on it with the same
//! checkpoint copy, and the whole log and every receipt already given must verify.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestLog, agencies, sealed};
use huella::http::Limits;
use huella::ledger::Options;
use huella::store::{Fault, FaultyStore, STEPS, Step};
use huella_core::proof::Receipt;
use huella_verify::consistency::check_still_logged;

/// Entries logged before the crash.
const BEFORE: u64 = 5;

/// crash_at runs the scenario for one step and both ways of persisting.
async fn crash_at(step: Step) {
    let (agencies, _) = agencies();
    for persist in [false, true] {
        let case = format!("{step:?}, persist {persist}");
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            batch_wait: Duration::from_millis(1),
            checkpoint_copy: Some(dir.path().join("checkpoint")),
            ..Options::default()
        };
        let store = Arc::new(FaultyStore::new());
        let log = TestLog::start_with(store.clone(), Limits::default(), options.clone()).await;
        let mut receipts: Vec<Receipt> = Vec::new();
        for n in 0..BEFORE {
            receipts.push(
                log.client
                    .submit(&sealed(&agencies, n))
                    .await
                    .unwrap()
                    .receipt,
            );
        }
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
        let (checkpoint, _) = log.check_log().await;
        let durable = match (step, persist) {
            (Step::BeforeTreeHashes | Step::AfterTreeHashes, _) | (Step::AfterRecords, false) => {
                BEFORE
            }
            (Step::AfterRecords, true) | (Step::AfterFlush, _) | (Step::AfterCheckpoint, _) => {
                BEFORE + 1
            }
        };
        assert_eq!(checkpoint.size, durable, "{case}");
        // Every receipt given still verifies, and its entry is still in the log.
        for receipt in &receipts {
            let (entry, signed) = receipt.open(&log.log_key).unwrap();
            check_still_logged(&log.client, &log.log_key, &signed)
                .await
                .unwrap_or_else(|e| panic!("{case}: receipt {}: {e}", receipt.index));
            let stored = log.get(&format!("/v1/entries/{}", receipt.index)).await;
            assert_eq!(stored.bytes().await.unwrap(), entry.to_leaf(), "{case}");
        }
        // The event that met the crash is logged exactly once, at the next index, whether
        // the crash kept it (its retry gets the original) or not (its retry logs it).
        let retry = log.client.submit(&crashed).await.unwrap();
        assert_eq!(retry.receipt.index, BEFORE, "{case}");
        assert_eq!(retry.created, durable == BEFORE, "{case}");
        assert_eq!(log.check_log().await.0.size, BEFORE + 1, "{case}");
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
