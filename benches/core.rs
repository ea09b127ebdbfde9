//! Criterion micro-benchmarks of the pure core, on realistic data: demo entries of about
//! 1 KB, a 1,000,000-leaf tree, and signed demo events from the four demo agencies.
//!
//! `cargo bench --bench core` measures; `cargo test --benches` runs each benchmark once,
//! untimed, as CI does. Read the numbers beside `huella limits` on the same machine
//! (docs/benchmarks.md).

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use huella::demo::{Agency, fixed_agencies, sealed_sample};
use huella_core::canonical;
use huella_core::entry::Entry;
use huella_core::event::Submission;
use huella_core::merkle::{self, Frontier, Hash};
use huella_core::values::{Count, Timestamp};

/// Leaves in the tree the proof benchmarks read.
const TREE_SIZE: u64 = 1_000_000;

/// 2026-11-23T12:00:00Z, the demo events' clock.
const NOW: u64 = 1_795_435_200_000;

/// Realistic signed submissions, and the entries the log would make of them.
struct Data {
    agencies: Vec<Agency>,
    submissions: Vec<Submission>,
    entries: Vec<Entry>,
}

fn data(count: u64) -> Data {
    let agencies = fixed_agencies();
    let now = Timestamp::from_unix_millis(NOW);
    let submissions: Vec<Submission> = (0..count)
        .map(|n| sealed_sample(&agencies, 1, n, &now))
        .collect();
    let mut prev = huella_core::entry::GENESIS_PREV;
    let mut entries = Vec::new();
    for (n, s) in submissions.iter().enumerate() {
        // A mid-sized log's index, so the number is as wide as in production.
        let index = Count::new(123_456 + n as u64).expect("small indexes are valid counts");
        let (signed, _) = s.clone().into_parts();
        let entry = Entry::new(index, Timestamp::from_unix_millis(NOW + 250), prev, signed);
        prev = entry.leaf_hash();
        entries.push(entry);
    }
    Data {
        agencies,
        submissions,
        entries,
    }
}

/// Indexes spread over `1..bound`, deterministic, so proofs take every shape.
fn spread(count: usize, bound: u64) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % (bound - 1)
        })
        .collect()
}

fn hashing(c: &mut Criterion) {
    let leaf = data(1).entries[0].to_leaf();
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Bytes(leaf.len() as u64));
    group.bench_function(BenchmarkId::new("record_hash", leaf.len()), |b| {
        b.iter(|| merkle::record_hash(black_box(&leaf)))
    });
    let (left, right) = (merkle::record_hash(b"left"), merkle::record_hash(b"right"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("node_hash", |b| {
        b.iter(|| merkle::node_hash(black_box(&left), black_box(&right)))
    });
    group.finish();
}

/// The stored hashes of the [`TREE_SIZE`]-leaf tree, in stored-hash order, and its
/// frontier: built once, as a `Vec<Hash>` is a [`merkle::HashReader`] held in memory.
fn tree() -> &'static (Vec<Hash>, Frontier) {
    static TREE: OnceLock<(Vec<Hash>, Frontier)> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut stored = Vec::with_capacity(2 * TREE_SIZE as usize);
        let mut frontier = Frontier::new();
        for i in 0..TREE_SIZE {
            for (_, hash) in frontier.append(merkle::record_hash(&i.to_be_bytes())) {
                stored.push(hash);
            }
        }
        (stored, frontier)
    })
}

fn append(c: &mut Criterion) {
    let large = &tree().1;
    let leaves: Vec<Hash> = (0..1024u64)
        .map(|i| merkle::record_hash(&i.to_le_bytes()))
        .collect();
    let mut group = c.benchmark_group("merkle_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_leaf_onto_1M", |b| {
        // The frontier keeps growing: the cost per append is amortized over every shape.
        let mut frontier = large.clone();
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % leaves.len();
            frontier.append(black_box(leaves[i]))
        })
    });
    group.throughput(Throughput::Elements(leaves.len() as u64));
    group.bench_function("batch_1024_then_root", |b| {
        // One group commit: append a batch, then compute the root to sign.
        let mut frontier = large.clone();
        b.iter(|| {
            for leaf in &leaves {
                black_box(frontier.append(*leaf));
            }
            frontier.root()
        })
    });
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let (stored, frontier) = tree();
    let root = frontier.root();
    let indexes = spread(1024, TREE_SIZE);
    let inclusion: Vec<Vec<Hash>> = indexes
        .iter()
        .map(|&i| merkle::inclusion_proof(i, TREE_SIZE, stored).expect("index is in the tree"))
        .collect();
    let leaf = |i: u64| merkle::record_hash(&i.to_be_bytes());
    let old_roots: Vec<Hash> = indexes
        .iter()
        .map(|&m| merkle::tree_hash(m, stored).expect("size is within the tree"))
        .collect();
    let consistency: Vec<Vec<Hash>> = indexes
        .iter()
        .map(|&m| merkle::consistency_proof(m, TREE_SIZE, stored).expect("sizes are ordered"))
        .collect();
    // Benchmark the success path only: every prepared proof must verify.
    for (k, &i) in indexes.iter().enumerate() {
        merkle::verify_inclusion(i, TREE_SIZE, &leaf(i), &inclusion[k], &root)
            .expect("inclusion proof verifies");
        merkle::verify_consistency(i, TREE_SIZE, &old_roots[k], &root, &consistency[k])
            .expect("consistency proof verifies");
    }

    let mut group = c.benchmark_group("proof_1M_leaves");
    group.throughput(Throughput::Elements(1));
    // Each iteration takes the next prepared case, so the numbers average over shapes.
    let (mut k, count) = (0usize, indexes.len());
    let mut next = move || {
        k = (k + 1) % count;
        k
    };
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| merkle::inclusion_proof(indexes[next()], TREE_SIZE, black_box(stored)))
    });
    group.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            let k = next();
            let i = indexes[k];
            merkle::verify_inclusion(i, TREE_SIZE, &leaf(i), black_box(&inclusion[k]), &root)
        })
    });
    group.bench_function("consistency_proof", |b| {
        b.iter(|| merkle::consistency_proof(indexes[next()], TREE_SIZE, black_box(stored)))
    });
    group.bench_function("verify_consistency", |b| {
        b.iter(|| {
            let k = next();
            merkle::verify_consistency(
                indexes[k],
                TREE_SIZE,
                &old_roots[k],
                &root,
                black_box(&consistency[k]),
            )
        })
    });
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let d = data(1024);
    let messages: Vec<Vec<u8>> = d
        .submissions
        .iter()
        .map(|s| s.event.signing_bytes())
        .collect();
    let signatures: Vec<Signature> = d
        .submissions
        .iter()
        .map(|s| Signature::from_bytes(&s.signature.0))
        .collect();
    let keys: Vec<VerifyingKey> = d
        .submissions
        .iter()
        .map(|s| {
            let agency = d
                .agencies
                .iter()
                .find(|a| *a.key.key_ref() == s.event.key)
                .expect("a demo agency signed it");
            *agency.key.verifier().public_key()
        })
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&refs, &signatures, &keys).expect("the samples verify");

    let mut group = c.benchmark_group("ed25519");
    group.throughput(Throughput::Elements(1));
    let mut k = 0usize;
    group.bench_function("verify_strict", |b| {
        b.iter(|| {
            k = (k + 1) % messages.len();
            keys[k].verify_strict(black_box(&messages[k]), &signatures[k])
        })
    });
    for size in [64usize, 1024] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(BenchmarkId::new("verify_batch", size), |b| {
            b.iter(|| {
                ed25519_dalek::verify_batch(
                    black_box(&refs[..size]),
                    &signatures[..size],
                    &keys[..size],
                )
            })
        });
    }
    group.finish();
}

fn canonicalization(c: &mut Criterion) {
    let d = data(1);
    let (submission, entry) = (&d.submissions[0], &d.entries[0]);
    let event = &submission.event;
    let leaf = entry.to_leaf();
    let body = serde_json::to_vec(submission).expect("submissions serialize");
    assert_eq!(
        canonical::to_canonical(entry),
        leaf,
        "the fast writer and JCS agree"
    );

    let mut group = c.benchmark_group("canonical");
    let event_len = canonical::to_canonical_sorted(event).len() as u64;
    group.throughput(Throughput::Bytes(event_len));
    group.bench_function("event/jcs", |b| {
        b.iter(|| canonical::to_canonical(black_box(event)))
    });
    group.bench_function("event/sorted_writer", |b| {
        b.iter(|| canonical::to_canonical_sorted(black_box(event)))
    });
    group.throughput(Throughput::Bytes(leaf.len() as u64));
    group.bench_function("entry/jcs", |b| {
        b.iter(|| canonical::to_canonical(black_box(entry)))
    });
    group.bench_function("entry/sorted_writer", |b| {
        b.iter(|| canonical::to_canonical_sorted(black_box(entry)))
    });
    group.bench_function("entry/parse_leaf", |b| {
        // What an auditor does per leaf: strict parse, then the canonical-form check.
        b.iter(|| Entry::parse_leaf(black_box(&leaf)))
    });
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("submission/parse", |b| {
        b.iter(|| canonical::parse::<Submission>(black_box(&body)))
    });
    group.finish();
}

/// A statistics cube of a year of demo accesses: `STATS_ENTRIES` entries (10,000,000 when
/// measuring, 20,000 when `cargo test --benches` runs each benchmark once), spread evenly
/// over 365 days, each with the public fields of one of 10,000 demo events.
fn stats_cube() -> &'static huella_core::stats::Cube {
    static CUBE: OnceLock<huella_core::stats::Cube> = OnceLock::new();
    CUBE.get_or_init(|| {
        let entries: u64 = if std::env::args().any(|a| a == "--bench") {
            10_000_000
        } else {
            20_000
        };
        let agencies = fixed_agencies();
        let now = Timestamp::from_unix_millis(NOW);
        let field = |json: &serde_json::Value, name: &str| json[name].as_str().map(String::from);
        let pool: Vec<huella_core::stats::Facts> = (0..10_000)
            .map(|n| {
                let (_, json) = huella::demo::sample_event(&agencies, 3, n, &now);
                huella_core::stats::Facts {
                    values: [
                        field(&json, "requesting_agency"),
                        field(&json, "requesting_country"),
                        field(&json, "holder_agency"),
                        field(&json, "holder_country"),
                        field(&json, "category"),
                        field(&json, "purpose"),
                        field(&json, "legal_basis"),
                        field(&json, "outcome"),
                        Some("access".into()),
                    ],
                    accessed_day: String::new(),
                    integrated_day: String::new(),
                    records_returned: json["records_returned"].as_u64().unwrap_or(0),
                }
            })
            .collect();
        let days: Vec<String> = (0..365u64)
            .map(|d| {
                Timestamp::from_unix_millis(1_767_225_600_000 + d * 86_400_000).as_str()[..10]
                    .to_string()
            })
            .collect();
        let mut cube = huella_core::stats::Cube::default();
        for i in 0..entries {
            let mut facts = pool[(i % 10_000) as usize].clone();
            let day = &days[(i * 365 / entries) as usize];
            facts.accessed_day.clone_from(day);
            facts.integrated_day.clone_from(day);
            cube.add(&facts);
        }
        cube
    })
}

fn stats(c: &mut Criterion) {
    let cube = stats_cube();
    println!(
        "statistics cube: {} entries in {} cells",
        cube.size(),
        cube.cells()
    );
    let mut group = c.benchmark_group("stats");
    for (name, query) in [
        ("total", ""),
        ("by_kind", "group_by=kind"),
        (
            "pair_by_month",
            "group_by=requesting_country,holder_country,month&kind=access",
        ),
        (
            "agency_purpose_outcome_one_month",
            "group_by=requesting_agency,purpose,outcome&from=2026-03&to=2026-03",
        ),
        (
            "fingerprints_by_day",
            "group_by=day&category=biometric_fingerprint",
        ),
    ] {
        let query = huella_core::stats::Query::from_pairs(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, ""))),
        )
        .expect("the benchmark's queries parse");
        group.bench_function(BenchmarkId::new("query", name), |b| {
            b.iter(|| cube.query(black_box(&query)))
        });
    }
    let search = huella_core::stats::Query::from_pairs([("purpose", "criminal_investigation")])
        .expect("parses");
    group.bench_function("blocks_matching", |b| {
        b.iter(|| cube.blocks_matching(black_box(&search)))
    });
    group.finish();
}

criterion_group!(
    benches,
    hashing,
    append,
    proofs,
    signatures,
    canonicalization,
    stats
);
criterion_main!(benches);
