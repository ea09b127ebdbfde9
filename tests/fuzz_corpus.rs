//! The fuzz corpus, replayed on stable Rust: every committed seed in `fuzz/corpus/<target>/`
//! and every fixed crash input in `fuzz/regressions/<target>/` goes through the same property
//! checks the fuzz targets run (`huella_testkit`). This is CI's fuzz smoke run; the long
//! libFuzzer runs and what they found are in docs/testing.md.
//!
//! A file's name says how far it must get: `accept-…` all the way, `parse-…` parsed but not
//! verified, `reject-…` refused; any other name only has to keep the properties.
//!
//! The seeds built from the worked example of docs/format.md §12 are generated here too, and
//! must match the committed files; `HUELLA_WRITE_SEEDS=1 cargo test --test fuzz_corpus`
//! rewrites them after a deliberate format change.

use std::path::{Path, PathBuf};

use huella_core::canonical::to_canonical;
use huella_core::checkpoint::Checkpoint;
use huella_core::commitment::{Field, Opening, Salt};
use huella_core::entry::{Entry, GENESIS_PREV};
use huella_core::event::{
    AccessEvent, DataCategory, EventKind, Openings, Outcome, SignedEvent, Submission,
};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::{Frontier, Hash, inclusion_proof};
use huella_core::note;
use huella_core::proof::{Receipt, TlogProof};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};
use huella_testkit::{Reach, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every committed input of a target, with its file name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = format!(
                "{dir}/{target}/{}",
                path.file_name().unwrap().to_string_lossy()
            );
            inputs.push((name, std::fs::read(&path).unwrap()));
        }
    }
    inputs.sort();
    inputs
}

/// replay runs a target's check over its committed inputs and holds named seeds to their
/// expected reach. It asserts the corpus has seeds of every kind, so that an empty or
/// misplaced corpus fails instead of passing.
fn replay(target: &str) {
    let (_, check) = TARGETS.iter().find(|(name, _)| *name == target).unwrap();
    let inputs = inputs(target);
    let mut seen = [0usize; 3];
    for (name, bytes) in &inputs {
        let reach = check(bytes);
        let file = name.rsplit('/').next().unwrap();
        let expected = [
            ("reject-", Reach::Rejected),
            ("parse-", Reach::Parsed),
            ("accept-", Reach::Accepted),
        ]
        .into_iter()
        .position(|(prefix, _)| file.starts_with(prefix));
        if let Some(i) = expected {
            let want = [Reach::Rejected, Reach::Parsed, Reach::Accepted][i];
            assert_eq!(reach, want, "{name}");
            seen[i] += 1;
        }
    }
    assert!(
        seen[2] >= 1 && seen[0] >= 1,
        "{target}: the corpus needs accept- and reject- seeds (found {seen:?} of {})",
        inputs.len()
    );
}

#[test]
fn event_corpus() {
    replay("event");
}

#[test]
fn note_corpus() {
    replay("note");
}

#[test]
fn tlog_proof_corpus() {
    replay("tlog_proof");
}

#[test]
fn merkle_corpus() {
    replay("merkle");
}

#[test]
fn registry_corpus() {
    replay("registry");
}

#[test]
fn every_target_has_a_fuzz_target_and_a_corpus() {
    for (target, _) in TARGETS {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&source).unwrap_or_default();
        assert!(
            text.contains(&format!("huella_testkit::{target}(")),
            "{} does not call huella_testkit::{target}",
            source.display()
        );
        assert!(inputs(target).len() >= 5, "{target}: fewer than 5 seeds");
    }
}

#[test]
fn generated_seeds_are_committed() {
    let write = std::env::var_os("HUELLA_WRITE_SEEDS").is_some();
    for (target, name, bytes) in generated_seeds() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (HUELLA_WRITE_SEEDS=1 writes it)", path.display()));
        assert!(
            committed == bytes,
            "{} is stale: HUELLA_WRITE_SEEDS=1 cargo test --test fuzz_corpus rewrites it",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Seeds built with Huella's own code, from the worked example of docs/format.md §12.

fn agency_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("us-dhs-cbp.example").unwrap(), &[1; 32])
}

fn log_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("huella.example/log").unwrap(), &[2; 32])
}

fn witness_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("witness.example/w1").unwrap(), &[3; 32])
}

fn openings(salt: u8, n: u64) -> Openings {
    let opening = |i: u8, value: String| Opening::new(Salt([salt.wrapping_add(i); 32]), value);
    Openings {
        subject: opening(0, format!("CO-CC-10203040{n:02}")),
        requesting_user: opening(1, "officer-4711".into()),
        record_ref: opening(2, format!("RNEC-BIO-0000{n:02}")),
        query: opening(3, "fingerprint:right-index:template-7f3a9c".into()),
    }
}

/// The n-th event of the example agency; n = 0 is the event of docs/format.md §12.3.
fn submission(n: u64) -> Submission {
    let openings = if n == 0 {
        Openings {
            subject: Opening::new(Salt([0x11; 32]), "CO-CC-1020304050"),
            requesting_user: Opening::new(Salt([0x22; 32]), "officer-4711"),
            record_ref: Opening::new(Salt([0x33; 32]), "RNEC-BIO-000042"),
            query: Opening::new(Salt([0x44; 32]), "fingerprint:right-index:template-7f3a9c"),
        }
    } else {
        openings(n as u8 * 4, n)
    };
    let agency = agency_key();
    let event = AccessEvent {
        kind: EventKind::Access,
        key: agency.key_ref().clone(),
        request_id: RequestId::new(format!("CBP-2026-{:06}", 123 + n)).unwrap(),
        requesting_agency: AgencyId::new("US-DHS-CBP").unwrap(),
        requesting_country: CountryCode::new("US").unwrap(),
        requesting_user: openings.requesting_user.commitment(Field::RequestingUser),
        holder_agency: AgencyId::new("CO-MIGRACION").unwrap(),
        holder_country: CountryCode::new("CO").unwrap(),
        record_ref: openings.record_ref.commitment(Field::RecordRef),
        subject: openings.subject.commitment(Field::Subject),
        category: DataCategory::BiometricFingerprint,
        purpose: Purpose::new("border_screening").unwrap(),
        legal_basis: LegalBasis::new("US-CO biometric data-sharing LoI (2025), sec. 3").unwrap(),
        accessed_at: Timestamp::from_unix_millis(1_795_461_180_000 + n * 60_000),
        query: openings.query.commitment(Field::Query),
        outcome: if n % 3 == 1 {
            Outcome::NoHit
        } else {
            Outcome::Hit
        },
        records_returned: Count::new(u64::from(n % 3 != 1)).unwrap(),
    };
    let event = if n == 0 {
        AccessEvent {
            accessed_at: Timestamp::parse("2026-11-23T19:13:00Z").unwrap(),
            ..event
        }
    } else {
        event
    };
    let signed = SignedEvent::sign(event, &agency).unwrap();
    Submission {
        event: signed.event,
        signature: signed.signature,
        openings,
    }
}

/// A log of `size` example entries: leaves, stored hashes and signed checkpoints by size.
struct Log {
    leaves: Vec<Vec<u8>>,
    stored: Vec<Hash>,
    checkpoints: Vec<String>,
}

fn log(size: u64) -> Log {
    let mut log = Log {
        leaves: Vec::new(),
        stored: Vec::new(),
        checkpoints: Vec::new(),
    };
    let mut frontier = Frontier::new();
    let mut prev = GENESIS_PREV;
    for n in 0..size {
        let (signed, _) = submission(n).into_parts();
        // Entry 0 is integrated at 2026-11-23T19:13:02.345Z, as in docs/format.md §12.5.
        let at = Timestamp::from_unix_millis(1_795_461_182_345 + n * 61_000);
        let entry = Entry::new(Count::new(n).unwrap(), at, prev, signed);
        prev = entry.leaf_hash();
        log.stored
            .extend(frontier.append(prev).into_iter().map(|(_, h)| h));
        log.leaves.push(entry.to_leaf());
        let checkpoint = Checkpoint::new("huella.example/log", n + 1, frontier.root());
        log.checkpoints.push(checkpoint.sign(&log_key()).unwrap());
    }
    log
}

fn receipt(log: &Log, index: u64, size: u64) -> TlogProof {
    TlogProof {
        extra: Some(log.leaves[index as usize].clone()),
        index,
        proof: inclusion_proof(index, size, &log.stored).unwrap(),
        checkpoint: log.checkpoints[size as usize - 1].clone(),
    }
}

fn generated_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |target, name: &str, bytes: Vec<u8>| seeds.push((target, name.into(), bytes));
    let log = log(13);

    // Events: the forms of docs/format.md §12, then near misses.
    let sub = submission(0);
    let (signed, _) = sub.clone().into_parts();
    let pretty = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap();
    let sub_json = serde_json::to_value(&sub).unwrap();
    add("event", "accept-submission-12.4.json", pretty(&sub_json));
    add(
        "event",
        "accept-submission-canonical.json",
        to_canonical(&sub),
    );
    add("event", "accept-signed-event.json", to_canonical(&signed));
    add(
        "event",
        "parse-access-event.json",
        to_canonical(&signed.event),
    );
    add("event", "accept-leaf-12.5.json", log.leaves[0].clone());
    add("event", "accept-leaf-1.json", log.leaves[1].clone());
    let leaf: serde_json::Value = serde_json::from_slice(&log.leaves[0]).unwrap();
    add("event", "parse-leaf-not-canonical.json", pretty(&leaf));
    add(
        "event",
        "accept-plain-event.json",
        include_bytes!("../docs/examples/event.json").to_vec(),
    );
    let edit = |path: &[&str], value: serde_json::Value| {
        let mut v = sub_json.clone();
        let mut at = &mut v;
        for key in path {
            at = &mut at[*key];
        }
        *at = value;
        serde_json::to_vec(&v).unwrap()
    };
    let other_signature = serde_json::to_value(submission(1).signature).unwrap();
    add(
        "event",
        "parse-submission-other-signature.json",
        edit(&["signature"], other_signature),
    );
    add(
        "event",
        "parse-submission-hit-without-records.json",
        edit(&["event", "records_returned"], 0.into()),
    );
    add(
        "event",
        "parse-submission-wrong-opening.json",
        edit(&["openings", "subject", "value"], "CO-CC-1020304051".into()),
    );
    add(
        "event",
        "reject-count-above-2^53.json",
        edit(&["event", "records_returned"], (1u64 << 53).into()),
    );
    add(
        "event",
        "reject-timestamp-offset.json",
        edit(
            &["event", "accessed_at"],
            "2026-11-23T19:13:00+00:00".into(),
        ),
    );
    add(
        "event",
        "reject-key-id-upper-case.json",
        edit(&["event", "key"], "us-dhs-cbp.example+2E49A808".into()),
    );
    add(
        "event",
        "reject-unknown-field.json",
        edit(&["event", "note"], "extra".into()),
    );
    let canonical = String::from_utf8(to_canonical(&signed)).unwrap();
    add(
        "event",
        "reject-duplicate-key.json",
        canonical
            .replacen("{\"event\":{", "{\"event\":{\"kind\":\"access\",", 1)
            .into_bytes(),
    );
    add(
        "event",
        "reject-float-count.json",
        canonical
            .replacen("\"records_returned\":1", "\"records_returned\":1.0", 1)
            .into_bytes(),
    );
    add(
        "event",
        "reject-lone-surrogate.json",
        canonical.replacen("sec. 3", "sec. \\ud800", 1).into_bytes(),
    );
    for (name, value) in [
        ("value-timestamp.txt", "2026-11-23T19:13:02.345Z"),
        (
            "value-timestamp-leap-second.txt",
            "2024-12-31T23:59:60.999999999Z",
        ),
        ("value-key-ref.txt", "us-dhs-cbp.example+2e49a808"),
        (
            "value-legal-basis.txt",
            "Carta de intención (2025), párr. 3 — ¶ 2",
        ),
    ] {
        add("event", name, value.as_bytes().to_vec());
    }

    // Signed notes and checkpoints.
    add(
        "note",
        "accept-checkpoint-12.6.txt",
        log.checkpoints[0].clone().into_bytes(),
    );
    add(
        "note",
        "accept-checkpoint-size-2.txt",
        log.checkpoints[1].clone().into_bytes(),
    );
    let witness_line = note::sign(
        &Checkpoint::parse_text(&note::parse(log.checkpoints[12].as_bytes()).unwrap().0)
            .unwrap()
            .to_text(),
        &[&witness_key()],
    )
    .unwrap();
    let witness_line = witness_line.rsplit_once("\n\n").unwrap().1;
    add(
        "note",
        "accept-checkpoint-cosigned.txt",
        format!("{}{witness_line}", log.checkpoints[12]).into_bytes(),
    );
    let text = "huella.example/log audit\nmonth 2026-11: 13 accesses ✓\n\nsigned twice\n";
    add(
        "note",
        "accept-note-two-known-keys.txt",
        note::sign(text, &[&log_key(), &agency_key()])
            .unwrap()
            .into_bytes(),
    );
    let vectors: serde_json::Value =
        serde_json::from_slice(include_bytes!("vectors/tlog-go-reference.json")).unwrap();
    add(
        "note",
        "parse-go-note.txt",
        vectors["signed_notes"][0]["signed_note"]
            .as_str()
            .unwrap()
            .into(),
    );
    add(
        "note",
        "parse-go-checkpoint.txt",
        vectors["checkpoints"][0]["signed_note"]
            .as_str()
            .unwrap()
            .into(),
    );
    let mut bad = log.checkpoints[1].clone().into_bytes();
    let last = bad.len() - 10;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    add("note", "parse-checkpoint-bad-signature.txt", bad);
    add(
        "note",
        "reject-no-blank-line.txt",
        log.checkpoints[1].replacen("\n\n", "\n", 1).into_bytes(),
    );
    add(
        "note",
        "reject-hyphen-not-em-dash.txt",
        log.checkpoints[1].replacen('\u{2014}', "-", 1).into_bytes(),
    );
    add(
        "note",
        "text-checkpoint-with-extension.txt",
        b"huella.example/log\n13\nJVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=\nextension\n"
            .to_vec(),
    );

    // Receipts.
    let receipt0 = receipt(&log, 0, 1);
    add(
        "tlog_proof",
        "accept-receipt-12.6.txt",
        receipt0.to_text().into_bytes(),
    );
    let json = Receipt {
        index: 7,
        leaf_hash: huella_core::merkle::record_hash(&log.leaves[7]),
        checkpoint: log.checkpoints[12].clone(),
        tlog_proof: receipt(&log, 7, 13).to_text(),
    };
    add(
        "tlog_proof",
        "accept-receipt-7-of-13.json",
        serde_json::to_vec_pretty(&json).unwrap(),
    );
    add(
        "tlog_proof",
        "accept-receipt-12-of-13.txt",
        receipt(&log, 12, 13).to_text().into_bytes(),
    );
    let no_extra = TlogProof {
        extra: None,
        ..receipt(&log, 3, 13)
    };
    add(
        "tlog_proof",
        "parse-no-extra.txt",
        no_extra.to_text().into_bytes(),
    );
    let wrong_index = TlogProof {
        index: 4,
        ..receipt(&log, 3, 13)
    };
    add(
        "tlog_proof",
        "parse-wrong-index.txt",
        wrong_index.to_text().into_bytes(),
    );
    let mut short = receipt(&log, 5, 13);
    short.proof.pop();
    add(
        "tlog_proof",
        "parse-proof-too-short.txt",
        short.to_text().into_bytes(),
    );
    add(
        "tlog_proof",
        "reject-bad-header.txt",
        receipt0
            .to_text()
            .replacen("tlog-proof@v1", "tlog-proof@v2", 1)
            .into_bytes(),
    );
    add(
        "tlog_proof",
        "reject-index-leading-zero.txt",
        receipt0
            .to_text()
            .replacen("index 0", "index 00", 1)
            .into_bytes(),
    );

    // Merkle: [index, size, leaf, root, count, proof…] then the honest tree's
    // [bits, size, special, other index, from, flip at, flip bit].
    let merkle = |index: u64, size: u64, leaf: [u8; 32], root: [u8; 32], honest: &[u64]| {
        let mut bytes = Vec::new();
        bytes.extend(index.to_be_bytes());
        bytes.extend(size.to_be_bytes());
        bytes.extend(leaf);
        bytes.extend(root);
        bytes.push(0);
        bytes.push(honest[0] as u8);
        for n in &honest[1..] {
            bytes.extend(n.to_be_bytes());
        }
        bytes.extend([3, 77]);
        bytes
    };
    let hash = |b: u8| [b; 32];
    add(
        "merkle",
        "accept-one-leaf-is-its-root.bin",
        merkle(0, 1, hash(7), hash(7), &[3, 5, 2, 1, 3]),
    );
    add(
        "merkle",
        "accept-equal-sizes-equal-roots.bin",
        merkle(
            9,
            9,
            hash(9),
            hash(9),
            &[20, 1_000_003, 524_288, 17, 999_999],
        ),
    );
    add(
        "merkle",
        "reject-claim-2^53-leaves.bin",
        merkle(
            5,
            13,
            hash(1),
            hash(2),
            &[53, u64::MAX, 1 << 52, 3, (1 << 52) + 1],
        ),
    );
    add(
        "merkle",
        "reject-claim-2^40-leaves.bin",
        merkle(
            u64::MAX,
            u64::MAX,
            hash(0),
            hash(1),
            &[40, u64::MAX, 12345, 1 << 39, 1 << 39],
        ),
    );
    add("merkle", "reject-empty.bin", Vec::new());

    // Registries and key strings.
    add(
        "registry",
        "accept-keys-registry.json",
        include_bytes!("../keys/registry.json").to_vec(),
    );
    let verifier = agency_key().verifier().to_string();
    add(
        "registry",
        "accept-registry-7.json",
        format!(
            "{{\"version\": 2,\n \"submitters\": [\n  {{\"agency\": \"US-DHS-CBP\", \"country\": \"US\",\n   \"key\": \"{verifier}\"}}\n ],\n \"holders\": [\n  {{\"agency\": \"CO-MIGRACION\", \"country\": \"CO\"}}\n ]}}"
        )
        .into_bytes(),
    );
    let agencies = huella::demo::fixed_agencies();
    let demo = huella::demo::registry_for(&agencies).to_json();
    add(
        "registry",
        "accept-demo-registry.json",
        demo.clone().into_bytes(),
    );
    let first = demo.find("{\n      \"agency\"").unwrap();
    let end = demo[first..].find('}').unwrap() + first + 1;
    add(
        "registry",
        "reject-duplicate-key.json",
        demo.replacen('[', &format!("[\n    {},", &demo[first..end]), 1)
            .into_bytes(),
    );
    // A registered key with its id in upper case: the id of a demo key with a letter in it.
    let key = agencies
        .iter()
        .map(|a| a.key.verifier().to_string())
        .find(|k| {
            k.split('+')
                .nth(1)
                .unwrap()
                .bytes()
                .any(|b| b.is_ascii_lowercase())
        })
        .unwrap();
    let mut parts = key.splitn(3, '+');
    let (name, id, data) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    add(
        "registry",
        "reject-key-id-upper-case.json",
        demo.replacen(&key, &format!("{name}+{}+{data}", id.to_uppercase()), 1)
            .into_bytes(),
    );
    add(
        "registry",
        "reject-version-1.json",
        b"{\"submitters\": []}".to_vec(),
    );
    let holder = "{\"agency\": \"CO-MIGRACION\", \"country\": \"US\"}";
    add(
        "registry",
        "reject-duplicate-holder.json",
        demo.replacen("\"holders\": [", &format!("\"holders\": [{holder},"), 1)
            .into_bytes(),
    );
    add(
        "registry",
        "reject-unknown-field.json",
        demo.replacen("\"agency\"", "\"role\": \"admin\", \"agency\"", 1)
            .into_bytes(),
    );
    add(
        "registry",
        "value-verifier-key.txt",
        verifier.clone().into_bytes(),
    );
    add(
        "registry",
        "value-signer-key.txt",
        agency_key().to_private_string().as_bytes().to_vec(),
    );
    seeds
}
