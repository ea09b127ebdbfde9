//! Start-up refuses a store whose entries, tree hashes, chain head and checkpoint disagree,
//! and says what is wrong.

mod common;

use std::sync::Arc;

use common::{NOW, agencies, log_signer, sealed};
use huella::ledger::{Inconsistency, Ledger, ManualClock, Options, StartError};
use huella::store::{Batch, Corruption, MemoryStore, Store, StoreError};
use huella_core::checkpoint::{Checkpoint, CheckpointError};
use huella_core::entry::{Entry, GENESIS_PREV};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::{Frontier, Hash, record_hash};
use huella_core::note::NoteError;
use huella_core::values::{Count, Timestamp};

/// A batch of `n` well-formed entries from index 0, with its stored hashes and root.
fn entries(n: u64) -> (Batch, Frontier) {
    let (agencies, _) = agencies();
    let mut frontier = Frontier::new();
    let mut prev = GENESIS_PREV;
    let mut batch = Batch::default();
    for i in 0..n {
        let (signed, openings) = sealed(&agencies, i).into_parts();
        let entry = Entry::new(
            Count::new(i).unwrap(),
            Timestamp::from_unix_millis(NOW),
            prev,
            signed,
        );
        let leaf = entry.to_leaf();
        prev = record_hash(&leaf);
        batch.hashes.extend(frontier.append(prev));
        batch.leaves.push(leaf);
        batch.openings.push(serde_json::to_vec(&openings).unwrap());
        batch.request_keys.push(format!("r{i}").into_bytes());
    }
    (batch, frontier)
}

fn signed(size: u64, root: Hash, key: &SignerKey) -> Vec<u8> {
    Checkpoint::new(key.name().as_str(), size, root)
        .sign(key)
        .unwrap()
        .into_bytes()
}

fn open(store: Arc<MemoryStore>) -> Result<Ledger, StartError> {
    Ledger::open(
        store,
        log_signer(),
        common::trust(),
        Arc::new(ManualClock::new(NOW)),
        Options::default(),
    )
}

/// refused opens the ledger on `store` and returns what start-up found inconsistent.
fn refused(store: Arc<MemoryStore>) -> Inconsistency {
    match open(store) {
        Ok(_) => panic!("started on an inconsistent store"),
        Err(StartError::Inconsistent(why)) => why,
        Err(e) => panic!("refused for another reason: {e:?}"),
    }
}

#[test]
fn a_consistent_store_starts_and_a_new_one_gets_an_empty_checkpoint() {
    let store = Arc::new(MemoryStore::new());
    let ledger = open(store.clone()).unwrap();
    assert_eq!(ledger.published().size, 0);
    ledger.close();
    let (mut batch, frontier) = entries(5);
    batch.start = 0;
    batch.checkpoint_size = 5;
    batch.checkpoint = signed(5, frontier.root(), &log_signer());
    store.commit(&batch).unwrap();
    assert_eq!(open(store).unwrap().published().size, 5);
}

#[test]
fn refuses_a_checkpoint_whose_root_is_not_the_stored_tree() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, _) = entries(5);
    batch.checkpoint_size = 5;
    batch.checkpoint = signed(5, Hash([7; 32]), &log_signer());
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::RootMismatch { size: 5, .. }
    ));
}

#[test]
fn refuses_a_checkpoint_for_another_size() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(5);
    batch.checkpoint_size = 4;
    batch.checkpoint = signed(4, frontier.root(), &log_signer());
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::SizeMismatch {
            stored: 5,
            checkpoint: 4
        }
    ));
}

#[test]
fn refuses_a_checkpoint_the_log_key_did_not_sign() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(3);
    let impostor = SignerKey::from_seed(KeyName::new("test.huella.example/log").unwrap(), &[1; 32]);
    batch.checkpoint_size = 3;
    batch.checkpoint = signed(3, frontier.root(), &impostor);
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::CheckpointUnsigned {
            error: CheckpointError::Note(NoteError::Unverified),
            ..
        }
    ));
}

#[test]
fn refuses_entries_that_no_checkpoint_covers() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, _) = entries(2);
    // Entries stored with a valid, signed checkpoint of the empty tree.
    batch.checkpoint_size = 0;
    batch.checkpoint = signed(0, huella_core::merkle::empty_root(), &log_signer());
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::SizeMismatch {
            stored: 2,
            checkpoint: 0
        }
    ));
}

#[test]
fn refuses_a_malformed_checkpoint() {
    let store = Arc::new(MemoryStore::new());
    let (batch, _) = entries(2);
    store.commit(&batch).unwrap(); // checkpoint bytes left empty
    assert!(matches!(
        refused(store),
        Inconsistency::CheckpointUnsigned {
            error: CheckpointError::Note(NoteError::Malformed(_)),
            ..
        }
    ));
}

#[test]
fn refuses_a_chain_head_that_does_not_match_its_leaf_hash() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(4);
    // Swap in another well-formed leaf at the head: the tree still says the old leaf hash.
    let mut head = Entry::parse_leaf(&batch.leaves[3]).unwrap();
    head.integrated_at = Timestamp::from_unix_millis(NOW + 1);
    batch.leaves[3] = head.to_leaf();
    batch.checkpoint_size = 4;
    batch.checkpoint = signed(4, frontier.root(), &log_signer());
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::LeafHashMismatch { index: 3, .. }
    ));
}

#[test]
fn refuses_a_head_entry_that_is_not_a_canonical_leaf() {
    let store = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(2);
    batch.leaves[1] = b"{\"not\": \"a leaf\"}".to_vec();
    batch.checkpoint_size = 2;
    batch.checkpoint = signed(2, frontier.root(), &log_signer());
    store.commit(&batch).unwrap();
    assert!(matches!(
        refused(store),
        Inconsistency::BadEntry { index: 1, .. }
    ));
}

#[test]
fn refuses_a_store_behind_the_checkpoint_it_signed() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("checkpoint");
    let options = || Options {
        checkpoint_copy: Some(copy.clone()),
        ..Options::default()
    };
    let open_with = |store: Arc<MemoryStore>| {
        Ledger::open(
            store,
            log_signer(),
            common::trust(),
            Arc::new(ManualClock::new(NOW)),
            options(),
        )
    };
    let store = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(5);
    batch.checkpoint_size = 5;
    batch.checkpoint = signed(5, frontier.root(), &log_signer());
    store.commit(&batch).unwrap();
    open_with(store.clone()).unwrap().close();
    assert!(std::fs::read_to_string(&copy).unwrap().contains("\n5\n"));
    // The same store starts again; an empty one (a lost database) does not, and is not
    // given a fresh empty checkpoint.
    open_with(store).unwrap().close();
    let empty = Arc::new(MemoryStore::new());
    let err = open_with(empty.clone())
        .err()
        .expect("an empty store behind its copy is refused");
    assert!(
        matches!(
            err,
            StartError::Inconsistent(Inconsistency::BehindCopy {
                stored: 0,
                signed: 5,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(empty.size().unwrap(), 0);
    assert!(
        empty.latest_checkpoint().unwrap().is_none(),
        "no new checkpoint was signed"
    );
    // A longer store with another history (fresh salts make every entry differ) disagrees
    // with the root the log signed at size 5.
    let other = Arc::new(MemoryStore::new());
    let (mut batch, frontier) = entries(6);
    batch.checkpoint_size = 6;
    batch.checkpoint = signed(6, frontier.root(), &log_signer());
    other.commit(&batch).unwrap();
    let err = open_with(other).err().expect("another history is refused");
    assert!(
        matches!(
            err,
            StartError::Inconsistent(Inconsistency::CopyRootMismatch { size: 5, .. })
        ),
        "{err}"
    );
}

#[test]
fn refuses_a_database_in_the_earlier_layout_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let old = sled::open(&db).unwrap();
        old.open_tree("leaves")
            .unwrap()
            .insert([0u8; 8], &b"{}"[..])
            .unwrap();
        old.flush().unwrap();
    }
    // sled lets go of its lock a moment after the database above is dropped.
    match common::open_sled(&db) {
        Ok(_) => panic!("a database in the old layout must be refused"),
        Err(e) => assert!(
            matches!(e, StoreError::Corrupt(Corruption::OldLayout { .. })),
            "{e}"
        ),
    }
}

/// start_sled opens the ledger on the sled store in `data/db`, with the checkpoint copy
/// `data/checkpoint`, as `huella serve` does.
fn start_sled(data: &std::path::Path) -> Result<Ledger, String> {
    let store = common::open_sled(&data.join("db")).map_err(|e| format!("store: {e}"))?;
    Ledger::open(
        Arc::new(store),
        log_signer(),
        common::trust(),
        Arc::new(ManualClock::new(NOW)),
        Options {
            checkpoint_copy: Some(data.join("checkpoint")),
            ..Options::default()
        },
    )
    .map_err(|e| format!("ledger: {e}"))
}

/// The outside attack's finding: a restart with a few hundred KB free left an empty sled
/// snapshot (`snap.*.generating`), and after space was freed every start failed with "Read
/// corrupted data". Here a log of 2,000 entries is started on a tmpfs filled to leave from
/// 0 to 4 MiB free, a page (4 KiB) at a time where start-up writes, so that it is stopped at
/// each of its writes; whatever that start does, once the space is freed the next start
/// succeeds with every entry.
/// Needs root to mount the tmpfs (CI runs as root); says so and passes without it.
#[test]
fn a_start_on_a_full_disk_never_keeps_the_log_from_starting_later() {
    const ENTRIES: u64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let tmpfs = match common::tmpfs::Tmpfs::try_mount(&disk, "24m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            eprintln!("full-disk start-up: SKIPPED, cannot mount a tmpfs here: {why}");
            return;
        }
    };
    // The log, built once on the real disk and copied onto the tmpfs for each start.
    let pristine = dir.path().join("pristine");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let want = runtime.block_on(async {
        let ledger = Arc::new(start_sled(&pristine).unwrap());
        let (agencies, _) = agencies();
        let mut set = tokio::task::JoinSet::new();
        for n in 0..ENTRIES {
            let ledger = ledger.clone();
            let submission = sealed(&agencies, n);
            set.spawn(async move { ledger.appender().submit(submission).await.map(|_| ()) });
        }
        while let Some(done) = set.join_next().await {
            done.unwrap().unwrap();
        }
        let published = ledger.published();
        ledger.close();
        published.note.to_string()
    });
    drop(runtime);
    let mut outcomes = std::collections::BTreeMap::<String, Vec<u64>>::new();
    // Every 16 KiB from a full disk up, so that start-up is stopped at each of its writes
    // (sled's snapshot of its page table, its log, the checkpoint copy: where it stops
    // varies from run to run, up to about 400 KiB), until four starts in a row succeed;
    // then coarser, up to 4 MiB.
    let mut started_in_a_row = 0;
    let mut next = 0u64;
    loop {
        let leave = next;
        if leave > 4 << 20 {
            break;
        }
        next = if started_in_a_row < 4 {
            leave + (16 << 10)
        } else {
            (leave + (512 << 10)) & !((512 << 10) - 1)
        };
        let data = disk.join("data");
        common::copy_dir(&pristine, &data);
        let filler = disk.join("filler");
        common::tmpfs::fill(&filler, leave);
        let first = start_sled(&data).map(|ledger| ledger.close());
        let outcome = match first {
            Ok(()) => "started".to_string(),
            Err(e) => e.split(':').next().unwrap_or_default().to_string(),
        };
        started_in_a_row = if outcome == "started" {
            started_in_a_row + 1
        } else {
            0
        };
        outcomes.entry(outcome).or_default().push(leave >> 10);
        std::fs::remove_file(&filler).unwrap();
        let ledger = start_sled(&data).unwrap_or_else(|e| {
            panic!(
                "with {} KiB left free, a start failed; once freed: {e}",
                leave >> 10
            )
        });
        assert_eq!(
            *ledger.published().note,
            want,
            "with {} KiB left free, then freed",
            leave >> 10
        );
        assert_eq!(ledger.store().size().unwrap(), ENTRIES);
        ledger.close();
        drop(ledger);
        // sled lets go of its files a moment after it is dropped.
        common::open_sled(&data.join("db")).unwrap();
        std::fs::remove_dir_all(&data).unwrap();
    }
    eprintln!("full-disk start-up: first starts, by outcome (KiB left free): {outcomes:?}");
    assert!(
        outcomes.len() > 1,
        "the sweep must reach both failing and succeeding starts: {outcomes:?}"
    );
    drop(tmpfs);
}
