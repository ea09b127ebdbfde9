//! Tampering with a log in every way the threat model names, and checking that the verifier,
//! the monitor and receipt checks refuse each one and say which entry or checkpoint is wrong.
//!
//! One honest log of 30 entries is built and exported once (see `common/tamper.rs`); each
//! case alters a fresh copy. Every bundle case runs twice: with the honest manifest, whose
//! file hashes betray any change, and with a manifest a careful attacker recomputed, so that
//! the deeper checks (signatures, registry, chain, root) must find it.

mod common;
#[path = "common/tamper.rs"]
mod tamper;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use huella::ledger::{Ledger, ManualClock, Options};
use huella::store::SledStore;
use huella_core::checkpoint::CheckpointError;
use huella_core::note::NoteError;
use huella_core::registry::RegistryError;
use huella_core::registry::{Registry, Submitter};
use huella_core::trust::TrustRoot;
use huella_core::verify::{Auditor, Failure, VerifyError};
use huella_verify::audit::{self, Verified};
use huella_verify::bundle::{CHECKPOINT_FILE, ENTRIES_FILE, MANIFEST_FILE, REGISTRY_FILE};
use huella_verify::cli::Trusted;
use huella_verify::client::Client;
use huella_verify::error::{AuditError, BundleError, ReceiptFailure, ServedError, WhichCheckpoint};
use huella_verify::monitor::{self, AlertKind, MonitorState};
use huella_verify::receipt::ReceiptFile;
use huella_verify::sample::Sampling;
use huella_verify::source::Source;
use tamper::{
    FORK_SIZE, LogData, SIZE, Seal, ServedLog, entry, fixture, forged, impostor, log_key, rechain,
    resign, sign_checkpoint, stranger, write_bundle,
};

const BIN: &str = env!("CARGO_BIN_EXE_huella");

// ---------------------------------------------------------------------------------------
// Expectations

/// Expect is what verification of a tampered bundle must report once the manifest is
/// recomputed (with the honest manifest, "bundle file ... was altered", or a length that is
/// not the manifest's, is also right).
#[derive(Clone, Debug)]
enum Expect {
    /// This entry failed this check.
    Entry(u64, Failure),
    /// The entry after `k` does not link to it: a chain failure at `k + 1`, the first entry
    /// whose `prev` no longer matches entry `k`, the one that changed.
    ChainAfter(u64),
    /// The checkpoint does not verify with the log key, for this reason.
    CheckpointSignature(fn(&NoteError) -> bool),
    /// The entries do not give the checkpoint's root.
    CheckpointRoot,
    /// Verification fails with an error this accepts.
    Error(fn(&AuditError) -> bool),
}

fn registry() -> Registry {
    Registry::parse(&fixture().honest.registry).unwrap()
}

/// trust_of is the trust root of the honest log with `registry` (no registrars).
fn trust_of(registry: &Registry) -> Arc<TrustRoot> {
    Arc::new(TrustRoot::for_registry(&log_key(), registry.clone()))
}

async fn verify_dir(dir: &Path, trusted: Option<Registry>) -> Result<Verified, AuditError> {
    audit::verify_log(
        &Source::Bundle(dir.to_path_buf()),
        &log_key(),
        trusted.map(|r| Trusted {
            root: TrustRoot::for_registry(&log_key(), r),
            from: "registry",
        }),
        &Sampling::off(),
        true,
    )
    .await
}

/// check says how `result` misses `expect`, if it does.
fn check(result: &Result<Verified, AuditError>, expect: &Expect) -> Result<(), String> {
    let e = match result {
        Ok(v) => return Err(format!("VERIFIED (size {}, root {})", v.tree_size, v.root)),
        Err(e) => e,
    };
    let ok = match (expect, e) {
        (
            Expect::Entry(want, kind),
            AuditError::Entry(VerifyError::Entry { index, failure, .. }),
        ) => index == want && failure == kind,
        (
            Expect::ChainAfter(k),
            AuditError::Entry(VerifyError::Entry {
                index,
                failure: Failure::Chain,
                ..
            }),
        ) => *index == k + 1,
        (
            Expect::CheckpointSignature(why),
            AuditError::Checkpoint {
                which: WhichCheckpoint::Audited,
                error: CheckpointError::Note(note),
            },
        ) => why(note),
        (Expect::CheckpointRoot, AuditError::Entry(VerifyError::CheckpointRoot { size, .. })) => {
            *size == SIZE
        }
        (Expect::Error(accepts), e) => accepts(e),
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("{e:?}")) }
}

/// Case is one tampering: the altered log, and what verification must say.
struct Case {
    name: String,
    data: LogData,
    expect: Expect,
    /// Verify with the honest registry passed as trusted (`--registry`), not the bundle's.
    trusted: bool,
    /// What verification over HTTP must say, for the cases also served by a live log
    /// (`a_tampered_log_served_over_http_fails_at_the_entry_or_checkpoint`).
    over_http: Option<Expect>,
}

fn case(name: &str, data: LogData, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        data,
        expect,
        trusted: false,
        over_http: None,
    }
}

impl Case {
    /// also_over_http marks a case that must fail the same way when a live log serves it.
    fn also_over_http(self) -> Case {
        let expect = self.expect.clone();
        self.over_http(expect)
    }

    /// over_http marks a case served by a live log too, where it must fail as `expect` says.
    fn over_http(mut self, expect: Expect) -> Case {
        self.over_http = Some(expect);
        self
    }
}

/// run_cases verifies each case's bundle with the honest manifest and with a recomputed
/// one, and fails listing every case that verified or said the wrong thing. With the honest
/// manifest, a changed file may be caught by its length or digest first.
async fn run_cases(cases: Vec<Case>) {
    let mut wrong = Vec::new();
    for c in &cases {
        for seal in [Seal::Kept, Seal::Recomputed] {
            let dir = tempfile::tempdir().unwrap();
            write_bundle(dir.path(), &c.data, seal);
            let result = verify_dir(dir.path(), c.trusted.then(registry)).await;
            let verdict = check(&result, &c.expect).or_else(|miss| match (&result, seal) {
                (
                    Err(AuditError::Bundle(
                        BundleError::Altered { .. } | BundleError::Length { .. },
                    )),
                    Seal::Kept,
                ) => Ok(()),
                _ => Err(miss),
            });
            if let Err(got) = verdict {
                wrong.push(format!(
                    "{} ({seal:?} manifest): wanted {:?}, got {got}",
                    c.name, c.expect
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} runs of {} tamperings were not reported as expected:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Tampered logs

fn honest() -> LogData {
    fixture().honest.clone()
}

/// with_leaves is the honest log with its leaves changed by `change`.
fn with_leaves(change: impl FnOnce(&mut Vec<Vec<u8>>)) -> LogData {
    let mut data = honest();
    change(&mut data.leaves);
    data
}

/// with_checkpoint_over is `with_leaves`, plus a checkpoint over the new leaves that `key`
/// signed: the log key for a dishonest operator, another key for an outsider.
fn with_checkpoint_over(
    key: &huella_core::keys::SignerKey,
    change: impl FnOnce(&mut Vec<Vec<u8>>),
) -> LogData {
    let mut data = with_leaves(change);
    data.checkpoint = sign_checkpoint(&data.leaves, key);
    data
}

/// replace_value changes the first byte of the JSON string value of `field` in a leaf to
/// another letter of the same case or another digit (so that the value keeps its form, be
/// it a purpose code or base64), leaving everything else as it was.
fn replace_value(leaf: &mut [u8], field: &str) {
    let at = position(leaf, &format!("\"{field}\":\"")) + field.len() + 4;
    leaf[at] = match leaf[at] {
        b'z' | b'Z' | b'9' => leaf[at] - 1,
        b if b.is_ascii_alphanumeric() => b + 1,
        _ => b'A',
    };
}

fn position(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} not found"))
}

/// other_agency is a registered agency other than the one that made entry `index`.
fn other_agency(index: usize) -> huella::demo::Agency {
    let e = entry(&fixture().honest.leaves[index]);
    let (agencies, _) = common::agencies();
    agencies
        .into_iter()
        .find(|a| a.id != e.event.requesting_agency)
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Bundles

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_honest_bundle_verifies_with_either_manifest() {
    for seal in [Seal::Kept, Seal::Recomputed] {
        let dir = tempfile::tempdir().unwrap();
        write_bundle(dir.path(), &honest(), seal);
        let v = verify_dir(dir.path(), None).await.unwrap();
        assert_eq!((v.tree_size, v.summary.entries), (SIZE, SIZE));
        let v = verify_dir(dir.path(), Some(registry())).await.unwrap();
        assert_eq!(v.registry_source, "registry");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_entries_fail_at_the_entry_that_changed() {
    run_cases(altered_entry_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_inserted_swapped_truncated_and_appended_entries_fail() {
    run_cases(order_cases()).await;
}

/// Deleting, inserting or duplicating an entry is named where the chain breaks, whatever the
/// bundle's size: the bundle reader hands over its last page before it judges the file's
/// entry count and its manifest, so the chain check meets the change first, as it does over
/// HTTP (`a_tampered_log_served_over_http_fails_at_the_entry_or_checkpoint`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_or_inserted_entries_are_named_where_the_chain_breaks() {
    run_cases(chain_break_cases()).await;
}

/// edit_checkpoint changes a checkpoint's text and keeps its signature lines.
fn edit_checkpoint(
    note: &[u8],
    change: impl FnOnce(&mut huella_core::checkpoint::Checkpoint),
) -> Vec<u8> {
    let note = std::str::from_utf8(note).unwrap();
    let split = note.find("\n\n").unwrap();
    let mut c = huella_core::checkpoint::Checkpoint::parse_text(&note[..split + 1]).unwrap();
    change(&mut c);
    format!("{}{}", c.to_text(), &note[split + 1..]).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_checkpoints_fail_at_the_checkpoint() {
    run_cases(checkpoint_cases()).await;
}

/// registry_json writes a registry as a bundle holds it.
fn registry_json(change: impl FnOnce(&mut Vec<Submitter>)) -> Vec<u8> {
    let mut r = registry();
    change(&mut r.submitters);
    r.to_json().into_bytes()
}

/// first_entry_of is the first entry logged by the agency of entry `index`, and that agency.
fn first_entry_of(index: usize) -> (u64, huella_core::values::AgencyId) {
    let agency = entry(&fixture().honest.leaves[index])
        .event
        .requesting_agency;
    let first = fixture()
        .honest
        .leaves
        .iter()
        .position(|l| entry(l).event.requesting_agency == agency)
        .unwrap();
    (first as u64, agency)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_registry_in_the_bundle_fails() {
    let (first, agency) = first_entry_of(7);
    // The first entry that names the holder of entry 7.
    let holder = entry(&fixture().honest.leaves[7]).event.holder_agency;
    let first_holding = fixture()
        .honest
        .leaves
        .iter()
        .position(|l| entry(l).event.holder_agency == holder)
        .unwrap() as u64;
    let other = other_agency(7);
    let attacker = Submitter {
        agency: agency.clone(),
        country: entry(&fixture().honest.leaves[7]).event.requesting_country,
        key: stranger().verifier(),
    };
    let forged_by_attacker = |l: &mut Vec<Vec<u8>>| {
        replace_value(&mut l[7], "purpose");
        l[7] = resign(&l[7], &stranger(), |_| {});
        rechain(l, 8);
    };
    let mut cases = vec![
        case(
            "an agency's key reassigned to another agency",
            LogData {
                registry: registry_json(|s| {
                    let i = s.iter().position(|s| s.agency == agency).unwrap();
                    s[i].agency = other.id.clone();
                    s[i].country = other.country.clone();
                }),
                ..honest()
            },
            Expect::Entry(first, Failure::Unauthorized),
        ),
        case(
            "an agency's key replaced by an attacker's",
            LogData {
                registry: registry_json(|s| {
                    let i = s.iter().position(|s| s.agency == agency).unwrap();
                    s[i] = attacker.clone();
                }),
                ..honest()
            },
            Expect::Entry(first, Failure::Unauthorized),
        ),
        case(
            "a data holder removed from the registry",
            LogData {
                registry: {
                    let mut r = registry();
                    r.holders.retain(|h| h.agency != holder);
                    r.to_json().into_bytes()
                },
                ..honest()
            },
            Expect::Entry(first_holding, Failure::Holder),
        ),
        case(
            "a data holder moved to another country",
            LogData {
                registry: {
                    let mut r = registry();
                    let h = r.holders.iter_mut().find(|h| h.agency == holder).unwrap();
                    h.country = huella_core::values::CountryCode::new("ZZ").unwrap();
                    r.to_json().into_bytes()
                },
                ..honest()
            },
            Expect::Entry(first_holding, Failure::Holder),
        ),
        case(
            "an agency removed from the registry",
            LogData {
                registry: registry_json(|s| s.retain(|s| s.agency != agency)),
                ..honest()
            },
            Expect::Entry(first, Failure::Unauthorized),
        ),
        case(
            "a key listed twice",
            LogData {
                registry: registry_json(|s| s.push(s[0].clone())),
                ..honest()
            },
            Expect::Error(|e| {
                matches!(
                    e,
                    AuditError::Served(ServedError::Registry(RegistryError::Duplicate(_)))
                )
            }),
        ),
        case(
            "the registry replaced by junk",
            LogData {
                registry: b"{\"submitters\": [{\"agency\": 7}]}".to_vec(),
                ..honest()
            },
            Expect::Error(|e| {
                matches!(
                    e,
                    AuditError::Served(ServedError::Registry(RegistryError::Format(_)))
                )
            }),
        ),
        case(
            "an attacker's key added for an agency, and entry 7 forged with it and re-chained",
            LogData {
                registry: registry_json(|s| s.push(attacker.clone())),
                ..with_leaves(forged_by_attacker)
            },
            Expect::CheckpointRoot,
        ),
    ];
    // With a trusted registry, the bundle's registry no longer matters for the entries.
    cases.push(Case {
        trusted: true,
        ..case(
            "an attacker's key added and entry 7 forged with it, verified with --registry",
            LogData {
                registry: registry_json(|s| s.push(attacker.clone())),
                ..with_leaves(forged_by_attacker)
            },
            Expect::Entry(7, Failure::Unauthorized),
        )
    });
    run_cases(cases).await;

    // An altered registry with intact entries: with a trusted registry it is irrelevant, if
    // the manifest was recomputed; with the honest manifest the change is still reported.
    let data = LogData {
        registry: registry_json(|s| s.push(attacker.clone())),
        ..honest()
    };
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &data, Seal::Recomputed);
    let v = verify_dir(dir.path(), Some(registry())).await.unwrap();
    assert_eq!(
        (v.tree_size, v.registry_source.as_str()),
        (SIZE, "registry")
    );
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &data, Seal::Kept);
    let e = verify_dir(dir.path(), Some(registry())).await.unwrap_err();
    assert!(
        matches!(
            &e,
            AuditError::Bundle(BundleError::Altered { name, .. } | BundleError::Length { name, .. })
                if name == "registry.json"
        ),
        "{e}"
    );
}

/// audit_from checks `leaves` as entries `start..` of the honest log, resuming after the
/// honest prefix, the way `verify_log` does (a batch of signatures, then index and `prev`
/// in order), and stops at the first failure or the end of the leaves.
fn audit_from(start: usize, leaves: &[Vec<u8>], registry: &Registry) -> Result<(), VerifyError> {
    let honest = &fixture().honest.leaves;
    let mut frontier = huella_core::merkle::Frontier::new();
    for leaf in &honest[..start] {
        frontier.append(huella_core::merkle::record_hash(leaf));
    }
    let prev = huella_core::merkle::record_hash(&honest[start - 1]);
    let mut auditor = Auditor::resume(trust_of(registry), frontier, prev, &[])?;
    let checked = huella_core::verify::check_leaves(start as u64, leaves, auditor.rules())?;
    for checked in checked {
        auditor.push_checked(checked)?;
    }
    Ok(())
}

/// Flip every bit of every byte of one entry, one at a time: each must be refused, and the
/// report must name that entry, or, for the parts the agency does not sign, the next
/// entry's broken link to it.
#[test]
fn every_bit_flipped_in_an_entry_is_caught_at_that_entry() {
    let registry = registry();
    let honest = &fixture().honest.leaves;
    let mut wrong = Vec::new();
    for at in 0..honest[7].len() {
        for bit in 0..8 {
            let mut leaf = honest[7].clone();
            leaf[at] ^= 1 << bit;
            let result = audit_from(7, &[leaf, honest[8].clone()], &registry);
            let named = match &result {
                Err(VerifyError::Entry { index: 7, .. }) => true,
                Err(
                    e @ VerifyError::Entry {
                        index: 8,
                        failure: Failure::Chain,
                        ..
                    },
                ) => e.to_string().contains("entry 7 has leaf hash"),
                _ => false,
            };
            if !named {
                wrong.push(format!("byte {at} bit {bit}: {result:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The same through whole bundles, for a sample of bytes: every 16th byte of entry 7, one
/// bit each, with a recomputed manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bits_in_a_bundle_are_caught_at_that_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for at in (0..fixture().honest.leaves[7].len()).step_by(16) {
        let data = with_leaves(|l| l[7][at] ^= 1 << (at / 16 % 8));
        write_bundle(dir.path(), &data, Seal::Recomputed);
        let result = verify_dir(dir.path(), None).await;
        let named = [
            Expect::Entry(7, Failure::Format),
            Expect::Entry(7, Failure::Unauthorized),
            Expect::Entry(7, Failure::Holder),
            Expect::Entry(7, Failure::Signature),
            Expect::Entry(7, Failure::Inconsistent),
            Expect::Entry(7, Failure::Chain),
            Expect::ChainAfter(7),
        ]
        .iter()
        .any(|e| check(&result, e).is_ok());
        // A flip that makes a newline splits the entry in two: one line too many.
        let split = data.leaves[7].contains(&b'\n')
            && check(
                &result,
                &Expect::Error(|e| matches!(e, AuditError::Bundle(BundleError::TooMany(30)))),
            )
            .is_ok();
        if !named && !split {
            wrong.push(format!("byte {at}: {:?}", result.map(|v| v.root)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The same tamperings served over HTTP, as `huella verify --url` reads them: the entry is
/// named there too, including for deletions and insertions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_log_served_over_http_fails_at_the_entry_or_checkpoint() {
    let cases: Vec<(Case, Expect)> = [
        altered_entry_cases(),
        order_cases(),
        chain_break_cases(),
        checkpoint_cases(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|c| c.over_http.clone().map(|expect| (c, expect)))
    .collect();
    assert_eq!(cases.len(), 9, "the cases marked over_http");
    let mut wrong = Vec::new();
    for (c, expect) in &cases {
        let served = ServedLog::start(c.data.clone()).await;
        let result = audit::verify_log(
            &Source::Http(served.client.clone()),
            &log_key(),
            None,
            &Sampling::every(),
            true,
        )
        .await;
        if let Err(got) = check(&result, expect) {
            wrong.push(format!("{}: wanted {:?}, got {got}", c.name, expect));
        }
        if c.name == "entry 7 deleted" {
            let base = served.base.clone();
            let key = log_key().to_string();
            let out =
                tokio::task::block_in_place(|| run(&["verify", "--url", &base, "--log-key", &key]));
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert!(
                stderr(&out).contains("entry 7: says index 8"),
                "{}",
                stderr(&out)
            );
        }
        served.stop().await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// altered_entry_cases is the cases of `altered_entries_fail_at_the_entry_that_changed`.
fn altered_entry_cases() -> Vec<Case> {
    let a = other_agency(7);
    vec![
        case(
            "one byte of entry 7's purpose",
            with_leaves(|l| replace_value(&mut l[7], "purpose")),
            Expect::Entry(7, Failure::Signature),
        )
        .also_over_http(),
        case(
            "one byte of entry 7's signature",
            with_leaves(|l| replace_value(&mut l[7], "signature")),
            Expect::Entry(7, Failure::Signature),
        ),
        case(
            "one byte of entry 7's integrated_at, which the agency did not sign",
            with_leaves(|l| {
                let at = position(&l[7], ".000Z") + 3;
                l[7][at] = b'1';
            }),
            Expect::ChainAfter(7),
        ),
        case(
            "one byte of the last entry's integrated_at",
            with_leaves(|l| {
                let last = &mut l[SIZE as usize - 1];
                let at = position(last, ".000Z") + 3;
                last[at] = b'1';
            }),
            Expect::CheckpointRoot,
        ),
        case(
            "entry 7's records_returned changed and re-canonicalized",
            with_leaves(|l| {
                let mut e = entry(&l[7]);
                e.event.records_returned =
                    huella_core::values::Count::new(e.event.records_returned.get() + 5).unwrap();
                e.event.outcome = huella_core::event::Outcome::Hit;
                l[7] = e.to_leaf();
            }),
            Expect::Entry(7, Failure::Signature),
        ),
        case(
            "entry 7's purpose changed and re-canonicalized",
            with_leaves(|l| {
                let mut e = entry(&l[7]);
                e.event.purpose = huella_core::values::Purpose::new("fishing_expedition").unwrap();
                l[7] = e.to_leaf();
            }),
            Expect::Entry(7, Failure::Signature),
        ),
        case(
            "entry 7 made inconsistent (a hit with no records) and re-canonicalized",
            with_leaves(|l| {
                let mut e = entry(&l[7]);
                e.event.outcome = huella_core::event::Outcome::Hit;
                e.event.records_returned = huella_core::values::Count::new(0).unwrap();
                l[7] = e.to_leaf();
            }),
            Expect::Entry(7, Failure::Inconsistent),
        ),
        case(
            "entry 7's index changed and re-canonicalized",
            with_leaves(|l| {
                let mut e = entry(&l[7]);
                e.index = huella_core::values::Count::new(70).unwrap();
                l[7] = e.to_leaf();
            }),
            Expect::Entry(7, Failure::Chain),
        ),
        case(
            "entry 7 not in canonical form (a space added)",
            with_leaves(|l| l[7].insert(1, b' ')),
            Expect::Entry(7, Failure::Format),
        ),
        case(
            "entry 7 re-signed by another registered agency's key, still naming its own agency",
            with_leaves(|l| l[7] = resign(&l[7], &a.key, |_| {})),
            Expect::Entry(7, Failure::Unauthorized),
        ),
        case(
            "entry 7 re-signed by another registered agency, now claiming to be it",
            with_leaves(|l| {
                l[7] = resign(&l[7], &a.key, |e| {
                    e.event.requesting_agency = a.id.clone();
                    e.event.requesting_country = a.country.clone();
                })
            }),
            Expect::ChainAfter(7),
        ),
        case(
            "entry 7 re-signed by another registered agency claiming to be it, chain repaired",
            with_leaves(|l| {
                l[7] = resign(&l[7], &a.key, |e| {
                    e.event.requesting_agency = a.id.clone();
                    e.event.requesting_country = a.country.clone();
                });
                rechain(l, 8);
            }),
            Expect::CheckpointRoot,
        ),
        case(
            "entry 7 signed with an unregistered key",
            with_leaves(|l| l[7] = resign(&l[7], &stranger(), |_| {})),
            Expect::Entry(7, Failure::Unauthorized),
        )
        .also_over_http(),
        case(
            "entry 7 signed with an unregistered key, chain repaired",
            with_leaves(|l| {
                l[7] = resign(&l[7], &stranger(), |_| {});
                rechain(l, 8);
            }),
            Expect::Entry(7, Failure::Unauthorized),
        ),
        case(
            "entry 12's prev link broken, everything after re-chained",
            with_leaves(|l| {
                let mut e = entry(&l[12]);
                e.prev = huella_core::merkle::record_hash(&l[10]);
                l[12] = e.to_leaf();
                rechain(l, 13);
            }),
            Expect::Entry(12, Failure::Chain),
        ),
        case(
            "entry 12's prev link broken, re-chained, and the checkpoint re-signed by the log \
             key (a dishonest operator)",
            with_checkpoint_over(&common::log_signer(), |l| {
                let mut e = entry(&l[12]);
                e.prev = huella_core::merkle::record_hash(&l[10]);
                l[12] = e.to_leaf();
                rechain(l, 13);
            }),
            Expect::Entry(12, Failure::Chain),
        )
        .also_over_http(),
        case(
            "entry 0's prev not the genesis value",
            with_leaves(|l| {
                let mut e = entry(&l[0]);
                e.prev = huella_core::merkle::record_hash(b"before the beginning");
                l[0] = e.to_leaf();
                rechain(l, 1);
            }),
            Expect::Entry(0, Failure::Chain),
        ),
    ]
}

/// order_cases is the cases of `deleted_inserted_swapped_truncated_and_appended_entries_fail`.
fn order_cases() -> Vec<Case> {
    let n = SIZE as usize;
    vec![
        case(
            "entry 7 deleted, the rest renumbered and re-chained",
            with_leaves(|l| {
                l.remove(7);
                rechain(l, 7);
            }),
            Expect::Error(|e| {
                matches!(
                    e,
                    AuditError::Bundle(BundleError::TooFew { have: 29, want: 30 })
                )
            }),
        ),
        case(
            "entry 7 deleted, renumbered, re-chained and a forged entry appended to keep the count",
            with_leaves(|l| {
                l.remove(7);
                rechain(l, 7);
                let last = forged(29, l.last().map(Vec::as_slice), 500);
                l.push(last);
            }),
            Expect::CheckpointRoot,
        ),
        case(
            "a forged entry inserted at 7, the rest renumbered and re-chained, the last dropped",
            with_leaves(|l| {
                l.insert(7, forged(7, Some(&l[6]), 501));
                l.pop();
                rechain(l, 8);
            }),
            Expect::CheckpointRoot,
        ),
        case(
            "entries 7 and 8 swapped",
            with_leaves(|l| l.swap(7, 8)),
            Expect::Entry(7, Failure::Chain),
        )
        .also_over_http(),
        case(
            "entries 7 and 8 swapped, renumbered and re-chained",
            with_leaves(|l| {
                l.swap(7, 8);
                rechain(l, 7);
            }),
            Expect::CheckpointRoot,
        )
        .also_over_http(),
        case(
            "the last 3 entries truncated",
            with_leaves(|l| l.truncate(n - 3)),
            Expect::Error(|e| {
                matches!(
                    e,
                    AuditError::Bundle(BundleError::TooFew { have: 27, want: 30 })
                )
            }),
        )
        .over_http(Expect::Error(|e| {
            matches!(e, AuditError::Served(ServedError::NoEntries(27)))
        })),
        case(
            "every entry truncated",
            with_leaves(Vec::clear),
            Expect::Error(|e| {
                matches!(
                    e,
                    AuditError::Bundle(BundleError::TooFew { have: 0, want: 30 })
                )
            }),
        ),
        case(
            "a forged entry appended",
            with_leaves(|l| {
                let last = forged(SIZE, l.last().map(Vec::as_slice), 502);
                l.push(last);
            }),
            Expect::Error(|e| matches!(e, AuditError::Bundle(BundleError::TooMany(30)))),
        ),
        case(
            "a forged entry appended and the checkpoint's size and root edited to match",
            {
                let mut data = with_leaves(|l| {
                    let last = forged(SIZE, l.last().map(Vec::as_slice), 502);
                    l.push(last);
                });
                data.checkpoint = edit_checkpoint(&data.checkpoint, |c| {
                    c.size = SIZE + 1;
                    c.root = tamper::root(&data.leaves);
                });
                data
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::InvalidSignature(_))),
        ),
    ]
}

/// chain_break_cases is the cases of `deleted_or_inserted_entries_are_named_where_the_chain_breaks`.
fn chain_break_cases() -> Vec<Case> {
    vec![
        case(
            "entry 7 deleted",
            with_leaves(|l| {
                l.remove(7);
            }),
            Expect::Entry(7, Failure::Chain),
        )
        .also_over_http(),
        case(
            "a forged entry inserted at 7",
            with_leaves(|l| l.insert(7, forged(7, Some(&l[6]), 501))),
            Expect::Entry(8, Failure::Chain),
        )
        .also_over_http(),
        case(
            "entry 7 duplicated",
            with_leaves(|l| l.insert(8, l[7].clone())),
            Expect::Entry(8, Failure::Chain),
        ),
    ]
}

/// checkpoint_cases is the cases of `altered_checkpoints_fail_at_the_checkpoint`.
fn checkpoint_cases() -> Vec<Case> {
    let f = fixture();
    let other_root = huella_core::merkle::record_hash(b"another tree");
    vec![
        case(
            "the checkpoint's root replaced",
            LogData {
                checkpoint: edit_checkpoint(&f.honest.checkpoint, |c| c.root = other_root),
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::InvalidSignature(_))),
        ),
        case(
            "the checkpoint's root replaced by that of altered entries",
            {
                let mut data = with_leaves(|l| replace_value(&mut l[7], "purpose"));
                data.checkpoint = edit_checkpoint(&f.honest.checkpoint, |c| {
                    c.root = tamper::root(&data.leaves)
                });
                data
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::InvalidSignature(_))),
        ),
        case(
            "the checkpoint's size made smaller",
            LogData {
                checkpoint: edit_checkpoint(&f.honest.checkpoint, |c| c.size = 20),
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::InvalidSignature(_))),
        ),
        case(
            "the checkpoint signed by another key of the same name",
            LogData {
                checkpoint: sign_checkpoint(&f.honest.leaves, &impostor()),
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::Unverified)),
        )
        .also_over_http(),
        case(
            "altered entries under a checkpoint signed by another key of the same name",
            with_checkpoint_over(&impostor(), |l| {
                l[7] = resign(&l[7], &stranger(), |_| {});
            }),
            Expect::CheckpointSignature(|e| matches!(e, NoteError::Unverified)),
        ),
        case(
            "the checkpoint signed by an agency's key",
            LogData {
                checkpoint: sign_checkpoint(&f.honest.leaves, &other_agency(0).key),
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::Unverified)),
        ),
        case(
            "the checkpoint's signature line removed",
            LogData {
                checkpoint: {
                    let note = &f.honest.checkpoint;
                    note[..position(note, "\n\n") + 2].to_vec()
                },
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::Malformed(_))),
        ),
        case(
            "one character of the checkpoint's signature changed",
            LogData {
                checkpoint: {
                    let mut note = f.honest.checkpoint.clone();
                    let at =
                        position(&note, "\u{2014} ") + 3 + log_key().name().as_str().len() + 1 + 10;
                    note[at] = if note[at] == b'A' { b'B' } else { b'A' };
                    note
                },
                ..honest()
            },
            Expect::CheckpointSignature(|e| matches!(e, NoteError::InvalidSignature(_))),
        ),
        case(
            "an older checkpoint (size 20, validly signed) with all 30 entries",
            LogData {
                checkpoint: f.checkpoints[&20].clone(),
                ..honest()
            },
            Expect::Error(|e| matches!(e, AuditError::Bundle(BundleError::TooMany(20)))),
        ),
        case(
            "the fork's checkpoint of the same size (validly signed) with the honest entries",
            LogData {
                checkpoint: f.fork_checkpoints[&SIZE].clone(),
                ..honest()
            },
            Expect::CheckpointRoot,
        ),
        case(
            "the fork's entries under the honest checkpoint",
            LogData {
                leaves: f.fork[..SIZE as usize].to_vec(),
                ..honest()
            },
            Expect::CheckpointRoot,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Rollback and fork: validly signed by the log key, so a bundle alone cannot tell; the
// monitor's saved state and a receipt can.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_or_forked_bundle_verifies_alone_as_what_it_is() {
    // Both are histories the log key signed; what a bundle alone proves is only that.
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("old"), &f.honest_at(20), Seal::Recomputed);
    let v = verify_dir(&dir.path().join("old"), None).await.unwrap();
    assert_eq!(v.tree_size, 20);
    write_bundle(&dir.path().join("fork"), &f.fork_at(SIZE), Seal::Recomputed);
    let fork = verify_dir(&dir.path().join("fork"), None).await.unwrap();
    let honest = huella_core::checkpoint::open(&f.honest.checkpoint, &log_key())
        .unwrap()
        .0;
    assert_eq!(fork.tree_size, honest.size);
    assert_ne!(fork.root, honest.root, "a fork: same size, another history");
}

async fn round(
    served: &ServedLog,
    state: Option<&MonitorState>,
) -> Result<(MonitorState, u64), monitor::Alert> {
    // Every answer the fake log serves is checked too: it serves the whole read API.
    monitor::monitor_round(
        &served.client,
        &log_key(),
        &trust_of(&registry()),
        state,
        &Sampling::every(),
    )
    .await
}

/// state_at is the monitor's state after verifying the honest log at `size`.
async fn state_at(size: u64) -> MonitorState {
    let served = ServedLog::start(fixture().honest_at(size)).await;
    let (state, new) = round(&served, None).await.unwrap();
    assert_eq!((state.size, new), (size, size));
    served.stop().await;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_alerts_on_every_tampering_it_can_see() {
    let f = fixture();
    let (s10, s20, s30) = (state_at(10).await, state_at(20).await, state_at(SIZE).await);

    // Controls: the honest log verifies from scratch and from every saved state.
    let served = ServedLog::start(honest()).await;
    for (state, new) in [
        (None, SIZE),
        (Some(&s10), 20),
        (Some(&s20), 10),
        (Some(&s30), 0),
    ] {
        let (next, added) = round(&served, state).await.unwrap();
        assert_eq!((next.size, added), (SIZE, new));
        assert_eq!(next, s30, "the same state whatever the path");
    }
    served.stop().await;

    let a = other_agency(7);
    let broken_link = |l: &mut Vec<Vec<u8>>| {
        let mut e = entry(&l[12]);
        e.prev = huella_core::merkle::record_hash(&l[10]);
        l[12] = e.to_leaf();
        rechain(l, 13);
    };
    let cases: Vec<(&str, Option<&MonitorState>, LogData, AlertKind, &str)> = vec![
        (
            "one byte of entry 7 changed",
            None,
            with_leaves(|l| replace_value(&mut l[7], "purpose")),
            AlertKind::BadSignature,
            "entry 7: agency signature",
        ),
        (
            "entry 7 re-signed by another registered agency's key",
            None,
            with_leaves(|l| l[7] = resign(&l[7], &a.key, |_| {})),
            AlertKind::InvalidEntry,
            "entry 7: key",
        ),
        (
            "entry 7 signed with an unregistered key",
            None,
            with_leaves(|l| l[7] = resign(&l[7], &stranger(), |_| {})),
            AlertKind::InvalidEntry,
            "entry 7: key attacker.example/huella",
        ),
        (
            "entry 7 deleted",
            None,
            with_leaves(|l| {
                l.remove(7);
            }),
            AlertKind::BrokenChain,
            "entry 7: says index 8",
        ),
        (
            "a forged entry inserted at 7",
            None,
            with_leaves(|l| l.insert(7, forged(7, Some(&l[6]), 501))),
            AlertKind::BrokenChain,
            "entry 8: says index 7",
        ),
        (
            "entries 7 and 8 swapped",
            None,
            with_leaves(|l| l.swap(7, 8)),
            AlertKind::BrokenChain,
            "entry 7: says index 8",
        ),
        (
            "entries 7 and 8 swapped and re-chained",
            None,
            with_leaves(|l| {
                l.swap(7, 8);
                rechain(l, 7);
            }),
            AlertKind::Fork,
            "do not match the signed checkpoint",
        ),
        (
            "the last 3 entries truncated",
            None,
            with_leaves(|l| l.truncate(SIZE as usize - 3)),
            AlertKind::Fork,
            "no entries from index 27",
        ),
        (
            "the checkpoint's root replaced",
            Some(&s20),
            LogData {
                checkpoint: edit_checkpoint(&f.honest.checkpoint, |c| {
                    c.root = huella_core::merkle::record_hash(b"x")
                }),
                ..honest()
            },
            AlertKind::BadSignature,
            "checkpoint: invalid signature by known key",
        ),
        (
            "the checkpoint signed by another key of the same name",
            Some(&s20),
            LogData {
                checkpoint: sign_checkpoint(&f.honest.leaves, &impostor()),
                ..honest()
            },
            AlertKind::BadSignature,
            "checkpoint: no signature by a known key",
        ),
        (
            "rolled back to the log key's own checkpoint of size 20",
            Some(&s30),
            f.honest_at(20),
            AlertKind::Rollback,
            "rollback: the log's checkpoint has size 20, smaller than the 30",
        ),
        (
            "a fork of the same size",
            Some(&s30),
            f.fork_at(SIZE),
            AlertKind::Fork,
            "fork: two checkpoints of size 30 with different roots",
        ),
        (
            "a longer fork",
            Some(&s30),
            f.fork_at(FORK_SIZE),
            AlertKind::Fork,
            "fork: the checkpoint of size 30 is not a prefix of the one of size 40",
        ),
        (
            "a shorter fork",
            Some(&s30),
            LogData {
                checkpoint: sign_checkpoint(&f.fork[..20], &common::log_signer()),
                leaves: f.fork[..20].to_vec(),
                ..honest()
            },
            AlertKind::Rollback,
            "rollback",
        ),
        (
            "history rewritten before the saved state, re-signed by the log key",
            Some(&s20),
            with_checkpoint_over(&common::log_signer(), |l| {
                replace_value(&mut l[7], "purpose");
                rechain(l, 8);
            }),
            AlertKind::Fork,
            "fork: the checkpoint of size 20 is not a prefix of the one of size 30",
        ),
        (
            "a prev link broken after the saved state, re-signed by the log key",
            Some(&s10),
            with_checkpoint_over(&common::log_signer(), broken_link),
            AlertKind::BrokenChain,
            "entry 12: prev link is broken",
        ),
        (
            "a prev link broken, re-signed by the log key, checked from scratch",
            None,
            with_checkpoint_over(&common::log_signer(), broken_link),
            AlertKind::BrokenChain,
            "entry 12: prev link is broken",
        ),
        (
            "an entry by an unregistered key appended, re-signed by the log key",
            Some(&s30),
            with_checkpoint_over(&common::log_signer(), |l| {
                let last = forged(SIZE, l.last().map(Vec::as_slice), 503);
                l.push(resign(&last, &stranger(), |_| {}));
            }),
            AlertKind::InvalidEntry,
            "entry 30: key attacker.example/huella",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, state, data, kind, says) in cases {
        let served = ServedLog::start(data).await;
        match round(&served, state).await {
            Ok((next, _)) => wrong.push(format!("{name}: no alert, verified at {}", next.size)),
            Err(alert) if alert.alert == kind && alert.message.contains(says) => {}
            Err(alert) => wrong.push(format!(
                "{name}: wanted {kind:?} saying {says:?}, got {alert:?}"
            )),
        }
        served.stop().await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A log nobody answers for.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let alert = monitor::monitor_round(
        &Client::new(&closed),
        &log_key(),
        &trust_of(&registry()),
        Some(&s30),
        &Sampling::every(),
    )
    .await
    .unwrap_err();
    assert_eq!(alert.alert, AlertKind::Unreachable, "{alert:?}");
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "huella {args:?} panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// huge_checkpoint is a checkpoint of 2^62 entries that the log key signed.
fn huge_checkpoint() -> LogData {
    LogData {
        checkpoint: huella_core::checkpoint::Checkpoint::new(
            log_key().name().as_str(),
            1 << 62,
            huella_core::merkle::record_hash(b"x"),
        )
        .sign(&common::log_signer())
        .unwrap()
        .into_bytes(),
        ..honest()
    }
}

/// A log that signs a checkpoint it then will not prove consistent with what the monitor saw
/// raises an alert naming the refusal, and the state does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_alerts_when_the_log_will_not_prove_consistency() {
    let s30 = state_at(SIZE).await;
    for served in [
        ServedLog::start(huge_checkpoint()).await,
        ServedLog::start_refusing_proofs(fixture().fork_at(FORK_SIZE)).await,
    ] {
        let alert = round(&served, Some(&s30)).await.unwrap_err();
        assert!(
            alert.message.contains("the log refused the request"),
            "{alert:?}"
        );
        served.stop().await;
    }
}

/// A log that signs a larger checkpoint and then refuses to prove it consistent with the one
/// the monitor saw is a fork alert, not an outage (`huella monitor --watch` keeps watching
/// through outages): otherwise an operator hiding a fork could turn every fork alert into an
/// outage alert by refusing consistency proofs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_consistency_proof_is_a_fork_alert() {
    let s30 = state_at(SIZE).await;
    for (name, served) in [
        ("2^62 entries", ServedLog::start(huge_checkpoint()).await),
        (
            "a longer fork, proofs refused",
            ServedLog::start_refusing_proofs(fixture().fork_at(FORK_SIZE)).await,
        ),
    ] {
        let alert = round(&served, Some(&s30)).await.unwrap_err();
        assert_eq!(alert.alert, AlertKind::Fork, "{name}: {alert:?}");
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_command_alerts_and_keeps_its_state() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap().to_string();
    let key = log_key().to_string();
    let registry_path = dir.path().join("registry.json");
    std::fs::write(&registry_path, &f.honest.registry).unwrap();
    let monitor = |url: &str, json: bool| {
        let mut args = vec![
            "monitor",
            "--url",
            url,
            "--log-key",
            &key,
            "--state",
            &state_arg,
            "--registry",
            registry_path.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        tokio::task::block_in_place(|| run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    };

    let honest = ServedLog::start(honest()).await;
    let out = monitor(&honest.base, false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved = std::fs::read(&state).unwrap();
    let loaded = MonitorState::load(&state).unwrap().unwrap();
    assert_eq!(loaded.size, SIZE);

    let impostor_signed = LogData {
        checkpoint: sign_checkpoint(&f.honest.leaves, &impostor()),
        ..self::honest()
    };
    let broken = with_checkpoint_over(&common::log_signer(), |l| {
        let last = forged(SIZE, l.last().map(Vec::as_slice), 504);
        let mut e = entry(&last);
        e.prev = huella_core::merkle::record_hash(b"not the last entry");
        l.push(e.to_leaf());
    });
    for (data, kind) in [
        (f.fork_at(SIZE), "fork"),
        (f.fork_at(FORK_SIZE), "fork"),
        (f.honest_at(20), "rollback"),
        (impostor_signed, "bad_signature"),
        (broken, "broken_chain"),
    ] {
        let served = ServedLog::start(data).await;
        let out = monitor(&served.base, false);
        assert_eq!(out.status.code(), Some(1), "{kind}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("ALERT {kind}: ")),
            "{}",
            stderr(&out)
        );
        let out = monitor(&served.base, true);
        assert_eq!(out.status.code(), Some(1));
        let line = stderr(&out)
            .lines()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .unwrap_or_else(|| panic!("no JSON alert line in {}", stderr(&out)));
        assert_eq!(line["alert"], kind, "{line}");
        assert_eq!(line["url"], served.base.as_str());
        assert_eq!(
            std::fs::read(&state).unwrap(),
            saved,
            "the state file is not advanced after an alert ({kind})"
        );
        served.stop().await;
    }

    // Unreachable: an alert too, and the state stays.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = monitor(&closed, false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ALERT unreachable: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&state).unwrap(), saved);

    // And the honest log still verifies from the kept state.
    let out = monitor(&honest.base, false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    honest.stop().await;

    // Without --registry the monitor trusts the registry the log serves; a log serving one
    // that gives entry 0's key to another agency is caught at entry 0, and no state is made.
    let (first, agency) = first_entry_of(0);
    let other = other_agency(0);
    let served = ServedLog::start(LogData {
        registry: registry_json(|s| {
            let i = s.iter().position(|s| s.agency == agency).unwrap();
            s[i].agency = other.id.clone();
            s[i].country = other.country.clone();
        }),
        ..self::honest()
    })
    .await;
    let fresh = dir.path().join("fresh-state.json");
    let out = tokio::task::block_in_place(|| {
        run(&[
            "monitor",
            "--url",
            &served.base,
            "--log-key",
            &key,
            "--state",
            fresh.to_str().unwrap(),
        ])
    });
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "ALERT invalid_entry: verification failed: entry {first}: key"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!fresh.exists(), "no state is saved after an alert");
    served.stop().await;
}

/// `huella receipt verify --url` proves by a consistency proof that the receipt's tree is a
/// prefix of the log's current one: an agency holding a receipt catches a fork or a
/// rollback of its entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_catches_a_fork_or_a_rollback_of_its_entry() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let key = log_key().to_string();
    let verify = |index: usize, url: &str| {
        // Entries were logged one at a time: entry i's receipt is against the tree of i + 1.
        let receipt = &f.receipts[index];
        assert_eq!(receipt.index, index as u64);
        assert!(receipt.checkpoint.contains(&format!("\n{}\n", index + 1)));
        let path = dir.path().join(format!("receipt-{index}.json"));
        std::fs::write(&path, serde_json::to_vec(receipt).unwrap()).unwrap();
        tokio::task::block_in_place(|| {
            run(&[
                "receipt",
                "verify",
                path.to_str().unwrap(),
                "--log-key",
                &key,
                "--url",
                url,
            ])
        })
    };
    let honest = ServedLog::start(honest()).await;
    for index in [0, 25, 29] {
        let out = verify(index, &honest.base);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    honest.stop().await;
    for (index, data, says) in [
        (
            25,
            f.fork_at(SIZE),
            "fork: the checkpoint of size 26 is not a prefix of the one of size 30",
        ),
        (
            29,
            f.fork_at(SIZE),
            "fork: two checkpoints of size 30 with different roots",
        ),
        (
            25,
            f.fork_at(FORK_SIZE),
            "fork: the checkpoint of size 26 is not a prefix of the one of size 40",
        ),
        (
            25,
            f.honest_at(20),
            "rollback: the log's checkpoint has size 20, smaller than the 26",
        ),
    ] {
        let served = ServedLog::start(data).await;
        let out = verify(index, &served.base);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        served.stop().await;
    }
}

// ---------------------------------------------------------------------------------------
// The command line

fn verify_bundle(dir: &Path, extra: &[&str]) -> Output {
    let key = log_key().to_string();
    let mut args = vec![
        "verify",
        "--bundle",
        dir.to_str().unwrap(),
        "--log-key",
        &key,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn the_verify_command_exits_1_and_names_the_entry_or_checkpoint() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let registry_path = dir.path().join("trusted-registry.json");
    std::fs::write(&registry_path, &f.honest.registry).unwrap();
    let cases: Vec<(&str, LogData, &str)> = vec![
        ("honest", honest(), ""),
        (
            "byte",
            with_leaves(|l| replace_value(&mut l[7], "purpose")),
            "entry 7: agency signature",
        ),
        (
            "stranger",
            with_leaves(|l| l[7] = resign(&l[7], &stranger(), |_| {})),
            "entry 7: key attacker.example/huella",
        ),
        (
            "swap",
            with_leaves(|l| l.swap(7, 8)),
            "entry 7: says index 8",
        ),
        (
            "root",
            LogData {
                checkpoint: edit_checkpoint(&f.honest.checkpoint, |c| {
                    c.root = huella_core::merkle::record_hash(b"x")
                }),
                ..honest()
            },
            "checkpoint: invalid signature by known key",
        ),
        (
            "rechained",
            with_leaves(|l| {
                l.swap(7, 8);
                rechain(l, 7);
            }),
            "checkpoint (size 30): entries give root",
        ),
        (
            "truncated",
            with_leaves(|l| l.truncate(27)),
            "entry 27 is missing",
        ),
    ];
    for (name, data, says) in cases {
        for seal in [Seal::Kept, Seal::Recomputed] {
            let bundle = dir.path().join(format!("{name}-{seal:?}"));
            write_bundle(&bundle, &data, seal);
            let out = verify_bundle(&bundle, &[]);
            if says.is_empty() {
                assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
                assert!(String::from_utf8_lossy(&out.stdout).starts_with("VERIFIED: "));
                continue;
            }
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name} {seal:?}: {}",
                stderr(&out)
            );
            assert!(out.stdout.is_empty(), "nothing on stdout without --json");
            if seal == Seal::Recomputed {
                assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
            } else {
                assert!(
                    stderr(&out).contains(says)
                        || stderr(&out).contains("was altered")
                        || stderr(&out).contains("bytes, but the manifest says"),
                    "{name}: {}",
                    stderr(&out)
                );
            }
        }
    }

    // The JSON report names the entry and the failed check.
    let bundle = dir.path().join("json");
    write_bundle(
        &bundle,
        &with_leaves(|l| replace_value(&mut l[7], "purpose")),
        Seal::Recomputed,
    );
    let out = verify_bundle(
        &bundle,
        &["--json", "--registry", registry_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(report["index"], 7, "{report}");
    assert_eq!(report["failure"], "signature", "{report}");
    assert!(
        report["error"].as_str().unwrap().contains("entry 7: "),
        "{report}"
    );

    // A checkpoint failure has no index in the JSON report, but says so.
    let bundle = dir.path().join("json-checkpoint");
    let data = LogData {
        checkpoint: sign_checkpoint(&f.honest.leaves, &impostor()),
        ..honest()
    };
    write_bundle(&bundle, &data, Seal::Recomputed);
    let out = verify_bundle(&bundle, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert!(report.get("index").is_none(), "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("checkpoint: no signature by a known key"),
        "{report}"
    );
}

fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| [l.as_slice(), b"\n"].concat())
        .collect()
}

/// Garbage in place of a bundle never crashes the verifier: it exits 1 (verification
/// failed) or 2 (unusable input), never 101 (panic) and never 0.
#[test]
fn garbage_bundles_never_crash_the_verifier() {
    let f = fixture();
    let root = tempfile::tempdir().unwrap();
    type Break = Box<dyn Fn(&Path)>;
    let write = |name: &'static str, bytes: Vec<u8>| -> Break {
        Box::new(move |dir: &Path| std::fs::write(dir.join(name), &bytes).unwrap())
    };
    let remove = |name: &'static str| -> Break {
        Box::new(move |dir: &Path| std::fs::remove_file(dir.join(name)).unwrap())
    };
    let mut junk = Vec::new();
    for i in 0..4096u32 {
        junk.push((i.wrapping_mul(2_654_435_761) >> 13) as u8);
    }
    let mut huge_line = vec![b'{'; 16 << 20];
    huge_line.push(b'\n');
    let entries = &f.files[ENTRIES_FILE];
    let cases: Vec<(&str, Break, &[i32])> = vec![
        ("empty entries", write(ENTRIES_FILE, Vec::new()), &[1]),
        (
            "binary junk entries",
            write(ENTRIES_FILE, junk.clone()),
            &[1],
        ),
        (
            "junk lines",
            write(ENTRIES_FILE, b"\x00\xff\n{}\n[]\nnull\n\n\n".repeat(10)),
            &[1],
        ),
        ("a 16 MiB line", write(ENTRIES_FILE, huge_line), &[1]),
        (
            "30 lines of binary junk",
            write(ENTRIES_FILE, {
                let line: Vec<u8> = junk.iter().copied().filter(|&b| b != b'\n').collect();
                [line.as_slice(), b"\n"].concat().repeat(30)
            }),
            &[1],
        ),
        (
            "a line nested 100000 deep",
            write(ENTRIES_FILE, {
                let mut deep = "[".repeat(100_000);
                deep.push_str(&"]".repeat(100_000));
                let mut lines = tamper::lines(entries);
                lines[0] = deep.into_bytes();
                joined(&lines)
            }),
            &[1],
        ),
        (
            "an entry whose index is 1e400",
            write(ENTRIES_FILE, {
                let mut lines = tamper::lines(entries);
                let text = String::from_utf8(lines[0].clone()).unwrap();
                lines[0] = text.replace("\"index\":0", "\"index\":1e400").into_bytes();
                joined(&lines)
            }),
            &[1],
        ),
        (
            "CRLF line ends",
            write(
                ENTRIES_FILE,
                String::from_utf8(entries.clone())
                    .unwrap()
                    .replace('\n', "\r\n")
                    .into_bytes(),
            ),
            &[1],
        ),
        (
            "no final newline",
            write(ENTRIES_FILE, entries[..entries.len() - 1].to_vec()),
            &[1],
        ),
        (
            "empty lines only",
            write(ENTRIES_FILE, vec![b'\n'; 30]),
            &[1],
        ),
        ("no entries file", remove(ENTRIES_FILE), &[1, 2]),
        ("no checkpoint", remove(CHECKPOINT_FILE), &[1, 2]),
        ("no registry", remove(REGISTRY_FILE), &[1, 2]),
        ("no manifest", remove(MANIFEST_FILE), &[1, 2]),
        (
            "manifest not JSON",
            write(MANIFEST_FILE, b"{\"format\": ".to_vec()),
            &[1],
        ),
        (
            "manifest binary junk",
            write(MANIFEST_FILE, junk.clone()),
            &[1],
        ),
        (
            "manifest of another format",
            write(MANIFEST_FILE, {
                let mut m = f.manifest();
                m.format = "huella-bundle/v0".into();
                serde_json::to_vec(&m).unwrap()
            }),
            &[1],
        ),
        (
            "manifest listing nothing",
            write(MANIFEST_FILE, {
                let mut m = f.manifest();
                m.files.clear();
                serde_json::to_vec(&m).unwrap()
            }),
            &[1],
        ),
        ("empty checkpoint", write(CHECKPOINT_FILE, Vec::new()), &[1]),
        (
            "binary junk checkpoint",
            write(CHECKPOINT_FILE, junk.clone()),
            &[1],
        ),
        (
            "huge checkpoint",
            write(CHECKPOINT_FILE, vec![b'a'; 4 << 20]),
            &[1],
        ),
        (
            "checkpoint claiming 2^64-1 entries",
            write(
                CHECKPOINT_FILE,
                edit_checkpoint(&f.honest.checkpoint, |c| c.size = u64::MAX),
            ),
            &[1],
        ),
        (
            "binary junk registry",
            write(REGISTRY_FILE, junk.clone()),
            &[1],
        ),
        (
            "entries file is a directory",
            Box::new(|dir: &Path| {
                std::fs::remove_file(dir.join(ENTRIES_FILE)).unwrap();
                std::fs::create_dir(dir.join(ENTRIES_FILE)).unwrap();
            }),
            &[1, 2],
        ),
        (
            "bundle is an empty directory",
            Box::new(|dir: &Path| {
                for name in [ENTRIES_FILE, CHECKPOINT_FILE, REGISTRY_FILE, MANIFEST_FILE] {
                    std::fs::remove_file(dir.join(name)).unwrap();
                }
            }),
            &[2],
        ),
    ];
    let mut wrong = Vec::new();
    for (i, (name, breaks, codes)) in cases.iter().enumerate() {
        for seal in [Seal::Kept, Seal::Recomputed] {
            let dir = root.path().join(format!("{i}-{seal:?}"));
            write_bundle(&dir, &honest(), Seal::Kept);
            breaks(&dir);
            // Unless the case broke the manifest itself, also try past a recomputed one.
            let manifest = std::fs::read(dir.join(MANIFEST_FILE)).ok();
            if seal == Seal::Recomputed {
                if manifest.as_ref() != Some(&f.files[MANIFEST_FILE]) {
                    continue;
                }
                tamper::reseal(&dir);
            }
            let out = verify_bundle(&dir, &[]);
            let code = out.status.code();
            if !code.is_some_and(|c| codes.contains(&c)) || !stderr(&out).contains("huella: ") {
                wrong.push(format!(
                    "{name} ({seal:?} manifest): exit {code:?}, wanted one of {codes:?}: {}",
                    stderr(&out)
                ));
            }
        }
    }
    let out = verify_bundle(&root.path().join("does-not-exist"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The service's own data files

/// What happened when the service was started on a data directory with a flipped bit.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the fields are for people: failure messages print them"
)]
enum Outcome {
    /// sled refused to open the database.
    StoreRefused(String),
    /// Start-up refused the store.
    StartRefused(String),
    /// It started, and reading or verifying what it serves failed.
    VerificationFailed(String),
    /// It started and serves exactly the log (and keeps exactly the openings) it had.
    Unchanged,
    /// It started and serves, as if nothing happened, a log that verifies but holds only
    /// the first `served` of its entries: entries with receipts are gone, and the next
    /// submission makes the log key sign a fork.
    RolledBack { served: usize, had: usize },
    /// It started and serves a log that verifies but is another history, or has other
    /// openings.
    Different(String),
    /// Something panicked.
    Panicked(String),
}

impl Outcome {
    fn kind(&self) -> &'static str {
        match self {
            Outcome::StoreRefused(_) => "refused by the store",
            Outcome::StartRefused(_) => "refused at start-up",
            Outcome::VerificationFailed(_) => "failed verification",
            Outcome::Unchanged => "unchanged",
            Outcome::RolledBack { .. } => "SILENTLY ROLLED BACK",
            Outcome::Different(_) => "SILENTLY DIFFERENT",
            Outcome::Panicked(_) => "PANICKED",
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Everything a started service holds: its checkpoint note, its leaves, its openings.
type Held = (Vec<u8>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// start_on opens the store in `db` and the ledger over it, as `huella serve` does, then
/// verifies everything the store would serve, as an outside auditor would.
///
/// `kept` is the checkpoint the service last signed, which it keeps in a file outside the
/// store (`Options::checkpoint_copy`); `None` for a first start.
fn start_on(db: &Path, kept: Option<&[u8]>) -> Result<Held, Outcome> {
    let copy = db.with_extension("checkpoint");
    match kept {
        Some(note) => std::fs::write(&copy, note).unwrap(),
        None => {
            let _ = std::fs::remove_file(&copy);
        }
    }
    let store = match std::panic::catch_unwind(|| common::open_sled(db)) {
        Err(p) => {
            return Err(Outcome::Panicked(format!(
                "SledStore::open: {}",
                panic_message(p)
            )));
        }
        Ok(Err(e)) => return Err(Outcome::StoreRefused(e.to_string())),
        Ok(Ok(store)) => Arc::new(store),
    };
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Ledger::open(
            store.clone(),
            common::log_signer(),
            TrustRoot::for_registry(&log_key(), registry()),
            Arc::new(ManualClock::new(common::NOW)),
            Options {
                checkpoint_copy: Some(copy.clone()),
                ..Options::default()
            },
        )
    }));
    let ledger = match started {
        Err(p) => {
            return Err(Outcome::Panicked(format!(
                "Ledger::open: {}",
                panic_message(p)
            )));
        }
        Ok(Err(e)) => return Err(Outcome::StartRefused(e.to_string())),
        Ok(Ok(ledger)) => ledger,
    };
    let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let note = ledger.published().note.as_bytes().to_vec();
        let checkpoint = huella_core::checkpoint::open(&note, &log_key())
            .map_err(|e| format!("checkpoint: {e}"))?
            .0;
        let leaves = ledger
            .store()
            .leaves(0, checkpoint.size)
            .map_err(|e| e.to_string())?;
        let mut auditor = Auditor::new(trust_of(&registry()));
        for leaf in &leaves {
            auditor.push(leaf).map_err(|e| e.to_string())?;
        }
        auditor.finish(&checkpoint).map_err(|e| e.to_string())?;
        let openings = (0..checkpoint.size)
            .map(|i| ledger.store().opening(i).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((note, leaves, openings))
    }));
    ledger.close();
    match held {
        Err(p) => Err(Outcome::Panicked(format!(
            "reading the store: {}",
            panic_message(p)
        ))),
        Ok(Err(e)) => Err(Outcome::VerificationFailed(e)),
        Ok(Ok(held)) => Ok(held),
    }
}

fn outcome(db: &Path, original: &Held) -> Outcome {
    match start_on(db, Some(&original.0)) {
        Err(outcome) => outcome,
        Ok(held) if held == *original => Outcome::Unchanged,
        Ok((_, leaves, openings))
            if leaves.len() < original.1.len()
                && original.1.starts_with(&leaves)
                && original.2.starts_with(&openings) =>
        {
            Outcome::RolledBack {
                served: leaves.len(),
                had: original.1.len(),
            }
        }
        Ok((_, leaves, openings)) => Outcome::Different(format!(
            "serves {} entries (had {}); {} openings differ",
            leaves.len(),
            original.1.len(),
            openings
                .iter()
                .zip(&original.2)
                .filter(|(a, b)| a != b)
                .count()
        )),
    }
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<std::path::PathBuf>) {
    for item in std::fs::read_dir(dir).unwrap() {
        let item = item.unwrap();
        if item.file_type().unwrap().is_dir() {
            files_under(&item.path(), base, out);
        } else {
            out.push(item.path().strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

/// flips_for picks the bytes to flip in one data file: a spread over the part in use, a few
/// past it, and every copy of the log's own records (a leaf, the checkpoint, a stored hash,
/// an entry's openings) that the file holds.
fn flips_for(bytes: &[u8], held: &Held) -> Vec<(usize, String)> {
    let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let mut flips: Vec<(usize, String)> = (0..32)
        .map(|k| (used * k / 32, format!("{k}/32 into the bytes in use")))
        .collect();
    flips.push((used.saturating_sub(1), "the last byte in use".into()));
    for past in [used, used + 100, bytes.len() - 1] {
        if past < bytes.len() {
            flips.push((past, "past the bytes in use".into()));
        }
    }
    let (_, leaves, openings) = held;
    let n = leaves.len();
    let last = entry(&leaves[n - 1]);
    let records: Vec<(&str, Vec<u8>)> = vec![
        (
            "entry 1's request id",
            entry(&leaves[1]).event.request_id.as_str().into(),
        ),
        (
            "the last entry's request id",
            last.event.request_id.as_str().into(),
        ),
        ("the last entry's prev", last.prev.to_base64().into()),
        (
            "the last entry's signature",
            serde_json::to_vec(&last.signature).unwrap(),
        ),
        (
            "the latest checkpoint",
            format!("{}\n{n}\n", log_key().name()).into(),
        ),
        (
            "the last entry's stored leaf hash",
            huella_core::merkle::record_hash(&leaves[n - 1]).0.to_vec(),
        ),
        ("entry 1's openings", openings[1][..40].to_vec()),
    ];
    for (what, needle) in records {
        let copies: Vec<usize> = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle.as_slice())
            .map(|(i, _)| i + needle.len() / 2)
            .collect();
        for (k, at) in copies.iter().enumerate() {
            flips.push((*at, format!("{what} (copy {} of {})", k + 1, copies.len())));
        }
    }
    flips
}

/// DataDir is a data directory a stopped service left behind, and what it held.
struct DataDir {
    dir: tempfile::TempDir,
    /// The database as the service left it.
    db: std::path::PathBuf,
    /// What the service holds when started on it untouched.
    held: Held,
}

/// stopped_service runs a log of `n` entries over sled, stops it, and keeps its files as
/// they are; with `reopened`, after the store was opened and closed once more.
async fn stopped_service(n: u64, reopened: bool) -> DataDir {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let log = common::TestLog::start(
        Arc::new(SledStore::open(&live).unwrap()),
        huella::http::Limits::default(),
    )
    .await;
    let (agencies, _) = common::agencies();
    for i in 0..n {
        log.client
            .submit(&common::sealed(&agencies, i))
            .await
            .unwrap();
    }
    log.check_log().await;
    log.stop().await;
    tokio::task::block_in_place(|| {
        // Opening the store rewrites some of its files, so keep a copy as they were.
        let db = dir.path().join("db");
        common::copy_dir(&live, &db);
        let held = start_on(&live, None).unwrap_or_else(|o| panic!("the untouched store: {o:?}"));
        assert_eq!(held.1.len() as u64, n);
        if reopened {
            std::fs::remove_dir_all(&db).unwrap();
            common::copy_dir(&live, &db);
            assert!(matches!(outcome(&db, &held), Outcome::Unchanged));
        }
        DataDir { dir, db, held }
    })
}

/// flip_each flips one bit at a time in each file of the data directory (each time on a
/// fresh copy) and starts the service on it; it returns what happened, by flip.
fn flip_each(data: &DataDir) -> Vec<(String, Outcome)> {
    let mut files = Vec::new();
    files_under(&data.db, &data.db, &mut files);
    assert!(files.len() >= 2, "sled keeps several files: {files:?}");
    let copy = data.dir.path().join("copy");
    let mut outcomes = Vec::new();
    for file in &files {
        let bytes = std::fs::read(data.db.join(file)).unwrap();
        for (at, why) in flips_for(&bytes, &data.held) {
            common::copy_dir(&data.db, &copy);
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x01;
            std::fs::write(copy.join(file), &flipped).unwrap();
            let result = outcome(&copy, &data.held);
            outcomes.push((format!("{} byte {at} ({why})", file.display()), result));
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (_, o) in &outcomes {
        *tally.entry(o.kind()).or_default() += 1;
    }
    eprintln!("outcomes of single-bit flips in the data files: {tally:?}");
    outcomes
}

/// Flipped bits in the data files: nothing panics, and the service
/// never serves another history or other openings. Once the store has been reopened (sled
/// then snapshots its page table), every flip in use is refused at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bits_in_the_data_files_never_panic_or_serve_another_history() {
    for reopened in [false, true] {
        let data = stopped_service(SIZE, reopened).await;
        let outcomes = tokio::task::block_in_place(|| flip_each(&data));
        let mut bad = Vec::new();
        let mut refused = 0;
        for (flip, o) in &outcomes {
            match o {
                Outcome::Panicked(_) | Outcome::Different(_) => bad.push(format!("{flip}: {o:?}")),
                Outcome::RolledBack { .. } if reopened => bad.push(format!("{flip}: {o:?}")),
                Outcome::StoreRefused(_) | Outcome::StartRefused(_) => refused += 1,
                _ => {}
            }
        }
        assert!(bad.is_empty(), "reopened {reopened}:\n{}", bad.join("\n"));
        if reopened {
            assert!(refused > outcomes.len() * 3 / 4, "{outcomes:?}");
        }
    }
}

/// The requirement: a flipped bit in the data files is caught by start-up or by
/// verification. With the files as a stopped (or crashed) service leaves them, one flipped
/// bit anywhere in sled's log file makes sled take the rest of its log for a torn write and
/// drop it, leaving an older, self-consistent store (a flip at byte 0 leaves an empty one).
/// Serving it would lose entries agencies hold receipts for, and the next submission would
/// make the log key sign a fork. Start-up refuses it because the service keeps a copy of the
/// newest checkpoint outside sled (`Options::checkpoint_copy`) and the store is behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bits_in_the_data_files_never_roll_the_log_back() {
    let data = stopped_service(SIZE, false).await;
    let outcomes = tokio::task::block_in_place(|| flip_each(&data));
    let rolled_back: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| {
            !matches!(
                o,
                Outcome::StoreRefused(_)
                    | Outcome::StartRefused(_)
                    | Outcome::VerificationFailed(_)
                    | Outcome::Unchanged
            )
        })
        .map(|(flip, o)| format!("{flip}: {o:?}"))
        .collect();
    assert!(
        rolled_back.is_empty(),
        "{} of {} single-bit flips were served as a valid log:\n{}",
        rolled_back.len(),
        outcomes.len(),
        rolled_back.join("\n")
    );
}

/// `huella serve` on a data directory with one flipped bit (in the middle of sled's log
/// file, as the service left it) exits with an error saying the data is corrupt, instead of
/// serving the entries before the flip as the whole log.
#[test]
fn the_service_refuses_to_start_on_corrupt_data() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stopped = runtime.block_on(stopped_service(5, false));
    let data = stopped.dir.path().join("data");
    let keys = stopped.dir.path().join("keys");
    common::copy_dir(&stopped.db, &data.join("db"));
    huella::keyfile::write_signer(&data.join("log.key"), &common::log_signer()).unwrap();
    // The copy of the newest checkpoint the service keeps beside its store.
    std::fs::write(data.join("checkpoint"), &stopped.held.0).unwrap();
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("registry.json"), &fixture().honest.registry).unwrap();
    let db_file = data.join("db").join("db");
    let mut bytes = std::fs::read(&db_file).unwrap();
    let used = bytes.iter().rposition(|&b| b != 0).unwrap();
    bytes[used / 2] ^= 0x01;
    std::fs::write(&db_file, bytes).unwrap();

    let mut child =
        common::serve::command(&data, common::serve::Registry::Keys(&keys), "127.0.0.1:0")
            .args(["--origin", log_key().name().as_str()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "huella serve started on a corrupt database: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "no log key printed: it did not serve"
    );
}

/// A JSON receipt's `index`, `leaf_hash` and `checkpoint` repeat parts of its `tlog_proof`;
/// a receipt file where any of them says something else is refused, naming the field, even
/// though the proof itself verifies. A field the format does not define is refused too.
#[test]
fn a_json_receipt_whose_fields_contradict_its_proof_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let key = log_key().to_string();
    let honest = &f.receipts[7];
    let other = &f.receipts[8];
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: [(&str, Change); 4] = [
        ("index", Box::new(|r| r["index"] = 8.into())),
        (
            "leaf_hash",
            Box::new(|r| r["leaf_hash"] = serde_json::to_value(other.leaf_hash).unwrap()),
        ),
        (
            "checkpoint",
            Box::new(|r| r["checkpoint"] = other.checkpoint.clone().into()),
        ),
        ("unknown", Box::new(|r| r["note"] = "trust me".into())),
    ];
    for (field, change) in cases {
        let mut json = serde_json::to_value(honest).unwrap();
        change(&mut json);
        let path = dir.path().join(format!("{field}.json"));
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        // The library says which field.
        let bytes = serde_json::to_vec(&json).unwrap();
        let read = ReceiptFile::parse(&bytes);
        match (field, read) {
            ("unknown", Err(AuditError::Receipt(ReceiptFailure::UnknownField(name)))) => {
                assert_eq!(name, "note")
            }
            (_, Ok(ReceiptFile::Json(receipt))) => assert!(
                matches!(
                    receipt.open(&log_key()),
                    Err(huella_core::proof::ReceiptError::FieldMismatch { field: f, .. }) if f == field
                ),
                "{field}"
            ),
            (_, other) => panic!("{field}: {other:?}"),
        }
        // The command line fails verification (exit 1) and names it.
        let out = run(&[
            "receipt",
            "verify",
            path.to_str().unwrap(),
            "--log-key",
            &key,
        ]);
        assert_eq!(out.status.code(), Some(1), "{field}: {}", stderr(&out));
        let named = if field == "unknown" { "note" } else { field };
        assert!(stderr(&out).contains(named), "{field}: {}", stderr(&out));
    }
    // The honest receipt verifies.
    let path = dir.path().join("honest.json");
    std::fs::write(&path, serde_json::to_vec(honest).unwrap()).unwrap();
    let out = run(&[
        "receipt",
        "verify",
        path.to_str().unwrap(),
        "--log-key",
        &key,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
