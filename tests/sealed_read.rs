//! Issue #15, second step: sealed reads of listed entries. A registered auditor's signed
//! read is logged first; only then does the log answer with the disclosure, sealed (HPKE) to
//! the key the read names; anyone checks the disclosure offline with the log key.

mod common;

use std::sync::Arc;

use common::{NOW, TestLog, agencies, log_signer, sealed};
use huella::http::Limits;
use huella::ledger::Options;
use huella::store::MemoryStore;
use huella_core::disclosure::{Disclosure, DisclosureError};
use huella_core::entry::Leaf;
use huella_core::event::Openings;
use huella_core::keylog::{RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::proof::Receipt;
use huella_core::sealed::{
    ReadSubmission, Recipient, SealedRead, SealedReadKind, Search, SearchField, sign,
};
use huella_core::trust::{LogId, Registrars, TrustRoot};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};

fn key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
}

fn registrar() -> SignerKey {
    key("registrar.co.example", 101)
}

fn auditor() -> SignerKey {
    key("procuraduria.co.example", 111)
}

fn trust() -> TrustRoot {
    TrustRoot {
        log: LogId {
            origin: log_signer().name().as_str().to_string(),
            key: log_signer().verifier(),
        },
        countries: vec![Registrars {
            country: CountryCode::new("CO").unwrap(),
            registrars: vec![registrar().verifier()],
            threshold: None,
        }],
        registry: agencies().1,
    }
}

/// start starts a log with ten access events (0..10) and the auditor's registration (10).
async fn start() -> TestLog {
    let options = Options {
        batch_wait: std::time::Duration::from_millis(1),
        ..Options::default()
    };
    let log = TestLog::start_trusted(
        Arc::new(MemoryStore::new()),
        Limits::default(),
        options,
        trust(),
    )
    .await;
    let (all, _) = agencies();
    for n in 0..10 {
        log.client.submit(&sealed(&all, n)).await.unwrap();
    }
    let register = RegistryEvent::KeyRegister {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        role: Role::Auditor,
        key: auditor().verifier(),
        valid_from: Timestamp::from_unix_millis(NOW - 86_400_000),
    };
    log.client
        .submit_registry(&SignedRegistryEvent::sign(register, &[&registrar()]))
        .await
        .unwrap();
    log
}

fn read(signer: &SignerKey, entries: &[u64], recipient: Recipient) -> SealedRead {
    SealedRead {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        case_ref: RequestId::new("PGN-2026-17").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: Some(entries.iter().map(|&i| Count::new(i).unwrap()).collect()),
        key: signer.key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
        purpose: Purpose::new("oversight_audit").unwrap(),
        read_at: Timestamp::from_unix_millis(NOW),
        recipient,
        request_id: RequestId::new(format!(
            "PGN-READ-{}-{}",
            entries.len(),
            entries.first().unwrap_or(&0)
        ))
        .unwrap(),
        search: None,
    }
}

fn submission(event: SealedRead, signer: &SignerKey) -> ReadSubmission {
    ReadSubmission {
        signature: sign(&event, signer),
        event,
        openings: None,
    }
}

async fn post(log: &TestLog, body: &ReadSubmission) -> (u16, serde_json::Value, String) {
    let response = log
        .http
        .post(log.url("/v1/sealed/read"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap(), text)
}

/// The personal values of entry `index`, as the log stored them.
fn values(log: &TestLog, index: u64) -> Vec<String> {
    let openings: Openings =
        serde_json::from_slice(&log.ledger.store().opening(index).unwrap().unwrap()).unwrap();
    let json = serde_json::to_value(&openings).unwrap();
    json.as_object()
        .unwrap()
        .values()
        .map(|o| o["value"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_is_logged_then_disclosed_sealed_to_its_auditor_and_verifies_offline() {
    let log = start().await;
    let (private, recipient) = huella::hpke::keypair();
    let before = log.checkpoint().await.size;
    let (status, answer, text) = post(
        &log,
        &submission(read(&auditor(), &[2, 5], recipient), &auditor()),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    // The read is an entry of the log, before any value left the server...
    let receipt: Receipt = serde_json::from_value(answer["read_receipt"].clone()).unwrap();
    assert_eq!(receipt.index, before);
    let leaf = log
        .ledger
        .store()
        .leaves(receipt.index, 1)
        .unwrap()
        .remove(0);
    assert!(matches!(Leaf::parse(&leaf).unwrap(), Leaf::SealedRead(_)));
    // ...and what left it is ciphertext: no personal value of the entries read, in any form.
    for index in [2, 5] {
        for value in values(&log, index) {
            assert!(!text.contains(&value), "{value} in the answer");
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &value);
            assert!(!text.contains(&b64), "{value} (base64) in the answer");
        }
    }
    let sealed: huella::hpke::Sealed =
        serde_json::from_value(answer["disclosure"].clone()).unwrap();
    let (other, _) = huella::hpke::keypair();
    assert!(huella::hpke::open(&other, &sealed, &receipt.leaf_hash.0).is_err());
    let plaintext = huella::hpke::open(&private, &sealed, &receipt.leaf_hash.0).unwrap();
    let disclosure: Disclosure = serde_json::from_slice(&plaintext).unwrap();
    let verified = disclosure.verify(&log.log_key).unwrap();
    assert_eq!(
        verified
            .entries
            .iter()
            .map(|e| e.index.get())
            .collect::<Vec<_>>(),
        vec![2, 5]
    );
    for (disclosed, index) in disclosure.entries.iter().zip([2, 5]) {
        let json = serde_json::to_value(&disclosed.openings).unwrap();
        let mut got: Vec<String> = json
            .as_object()
            .unwrap()
            .values()
            .map(|o| o["value"].as_str().unwrap().to_string())
            .collect();
        let mut want = values(&log, index);
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
    // Tampered: an opening changed, or an entry dropped, fails offline.
    let mut changed = disclosure.clone();
    let mut openings = serde_json::to_value(&changed.entries[0].openings).unwrap();
    openings["subject"]["value"] = "CO-CC-9999999999".into();
    changed.entries[0].openings = serde_json::from_value(openings).unwrap();
    assert!(matches!(
        changed.verify(&log.log_key),
        Err(DisclosureError::Entry { index: 2, .. })
    ));
    let mut dropped = disclosure.clone();
    dropped.entries.pop();
    assert!(matches!(
        dropped.verify(&log.log_key),
        Err(DisclosureError::Target { .. })
    ));
    // The whole log, the read included, verifies; the summary counts the read.
    let (_, summary) = log.check_log().await;
    assert_eq!(summary.sealed_reads_by_agency["CO-PROCURADURIA"], 1);
    assert_eq!(summary.sealed_reads_by_purpose["oversight_audit"], 1);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_that_break_a_rule_get_a_clear_4xx_log_nothing_and_disclose_nothing() {
    let log = start().await;
    let (_, recipient) = huella::hpke::keypair();
    let cbp = agencies().0.into_iter().next().unwrap().key;
    let mut submitter_read = read(&cbp, &[1], recipient);
    submitter_read.agency = AgencyId::new("US-DHS-CBP").unwrap();
    submitter_read.country = CountryCode::new("US").unwrap();
    let mut forged = submission(read(&auditor(), &[1], recipient), &auditor());
    forged.signature.0[3] ^= 1;
    let search = Search {
        field: SearchField::Subject,
        value: SearchField::Subject.commit(&huella_core::commitment::Salt([1; 32]), "x"),
    };
    let mut searching = read(&auditor(), &[1], recipient);
    searching.entries = None;
    searching.search = Some(search);
    let stranger = key("procuraduria.co.example", 112);
    let cases: Vec<(&str, ReadSubmission, u16, &str)> = vec![
        (
            "an unregistered key",
            submission(read(&stranger, &[1], recipient), &stranger),
            401,
            "unknown_key",
        ),
        (
            "a submitter's key",
            submission(submitter_read, &cbp),
            403,
            "unauthorized_key",
        ),
        ("a bad signature", forged, 401, "bad_signature"),
        (
            "more than 1,000 entries",
            submission(
                read(&auditor(), &(0..1001).collect::<Vec<_>>(), recipient),
                &auditor(),
            ),
            422,
            "bad_target",
        ),
        (
            "an entry the log does not hold",
            submission(read(&auditor(), &[1, 40], recipient), &auditor()),
            422,
            "bad_target",
        ),
        (
            "a registry entry, which holds no sealed data",
            submission(read(&auditor(), &[10], recipient), &auditor()),
            422,
            "bad_target",
        ),
        (
            "a search without the opening of its value",
            submission(searching.clone(), &auditor()),
            422,
            "commitment_mismatch",
        ),
        (
            "a search whose opening opens another value",
            ReadSubmission {
                signature: sign(&searching, &auditor()),
                event: searching,
                openings: Some(huella_core::sealed::SearchOpenings {
                    search: huella_core::commitment::Opening::new(
                        huella_core::commitment::Salt([1; 32]),
                        "y",
                    ),
                }),
            },
            422,
            "commitment_mismatch",
        ),
    ];
    let size = log.checkpoint().await.size;
    for (what, body, status, code) in cases {
        let (got, answer, _) = post(&log, &body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{what}: {answer}"
        );
        assert!(answer.get("disclosure").is_none(), "{what}");
    }
    assert_eq!(log.checkpoint().await.size, size, "nothing was logged");
    let garbage = log
        .http
        .post(log.url("/v1/sealed/read"))
        .body("{\"event\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    log.stop().await;
}

use common::run_huella as run;

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_reads_verifies_and_saves_and_anyone_verifies_the_file() {
    let log = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    huella::keyfile::write_signer(&dir.path().join("auditor.key"), &auditor()).unwrap();
    let log_key = log.log_key.to_string();
    // The command line reads at the real time.
    log.clock.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    let out = run(&[
        "sealed",
        "read",
        "--url",
        &log.base,
        "--key",
        &path("auditor.key"),
        "--entries",
        "7,3",
        "--case-ref",
        "PGN-2026-18",
        "--purpose",
        "data_subject_request",
        "--legal-basis",
        "Ley 1581 de 2012, art. 14",
        "--log-key",
        &log_key,
        "--out",
        &path("disclosure.json"),
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("the read is logged at index 11"), "{said}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path("disclosure.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    {
        let out = run(&[
            "disclosure",
            "verify",
            &path("disclosure.json"),
            "--log-key",
            &log_key,
        ]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains("VERIFIED: 2 entries disclosed by the sealed read at index 11"),
            "{said}"
        );
    }
    // A tampered file fails (exit 1); an unreadable one is an I/O error (exit 2).
    let text = std::fs::read_to_string(path("disclosure.json")).unwrap();
    let disclosure: Disclosure = serde_json::from_str(&text).unwrap();
    let mut tampered = disclosure.clone();
    tampered.entries[1].index = 4;
    std::fs::write(
        path("tampered.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    let out = run(&[
        "disclosure",
        "verify",
        &path("tampered.json"),
        "--log-key",
        &log_key,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "disclosure",
        "verify",
        &path("missing.json"),
        "--log-key",
        &log_key,
    ]);
    assert_eq!(out.status.code(), Some(2));
    log.stop().await;
}

/// sealed_with is the `n`-th test event with `field` set to `value`, sealed.
fn sealed_with(n: u64, field: &str, value: &str) -> huella_core::event::Submission {
    let (all, _) = agencies();
    let now = Timestamp::from_unix_millis(NOW);
    let (from, mut json) = huella::demo::sample_event(&all, 7, 1000 + n, &now);
    json[field] = value.into();
    let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
    plain
        .seal(&all[from].key, now, huella::keyfile::random_salt)
        .unwrap()
}

/// search_read searches `field` for `value` and returns the verified disclosure.
async fn search_read(log: &TestLog, field: SearchField, value: &str, id: &str) -> Disclosure {
    let (private, recipient) = huella::hpke::keypair();
    let salt = huella_core::commitment::Salt([9; 32]);
    let mut event = read(&auditor(), &[0], recipient);
    event.entries = None;
    event.search = Some(Search {
        field,
        value: field.commit(&salt, value),
    });
    event.request_id = RequestId::new(id).unwrap();
    let body = ReadSubmission {
        signature: sign(&event, &auditor()),
        event,
        openings: Some(huella_core::sealed::SearchOpenings {
            search: huella_core::commitment::Opening::new(salt, value),
        }),
    };
    let (status, answer, text) = post(log, &body).await;
    assert_eq!(status, 201, "{answer}");
    assert!(!text.contains(value), "the searched value in the answer");
    let receipt: Receipt = serde_json::from_value(answer["read_receipt"].clone()).unwrap();
    let sealed: huella::hpke::Sealed =
        serde_json::from_value(answer["disclosure"].clone()).unwrap();
    let plaintext = huella::hpke::open(&private, &sealed, &receipt.leaf_hash.0).unwrap();
    let disclosure: Disclosure = serde_json::from_slice(&plaintext).unwrap();
    disclosure.verify(&log.log_key).unwrap();
    disclosure
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// A search returns exactly the entries with the value searched for, in the field
    /// searched, and nothing about any other entry.
    #[test]
    fn a_search_returns_exactly_the_entries_with_that_value(
        values in proptest::collection::vec(0..3usize, 1..20),
        wanted in 0..3usize,
        field in 0..3usize,
    ) {
        let pool = ["CO-CC-1000000001", "CO-CC-1000000002", "CO-CC-1000000003"];
        let (name, search_field) = [
            ("subject", SearchField::Subject),
            ("record_ref", SearchField::RecordRef),
            ("requesting_user", SearchField::RequestingUser),
        ][field];
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let log = start().await;
            let first = log.checkpoint().await.size;
            for (n, v) in values.iter().enumerate() {
                log.client.submit(&sealed_with(n as u64, name, pool[*v])).await.unwrap();
            }
            let disclosure = search_read(&log, search_field, pool[wanted], "SEARCH-1").await;
            let expected: Vec<u64> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v == wanted)
                .map(|(n, _)| first + n as u64)
                .collect();
            let got: Vec<u64> = disclosure.entries.iter().map(|e| e.index).collect();
            assert_eq!(got, expected);
            // Nothing of any other entry: no other pool value appears in the disclosure.
            let text = serde_json::to_string(&disclosure).unwrap();
            for (i, other) in pool.iter().enumerate() {
                if i != wanted {
                    assert!(!text.contains(other), "{other} disclosed");
                }
            }
            log.stop().await;
        });
    }
}

/// A data subject's access request from the command line: every entry about one person.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_searches_for_a_data_subject() {
    let log = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    huella::keyfile::write_signer(&dir.path().join("auditor.key"), &auditor()).unwrap();
    let person = "CO-CC-1099999999";
    for n in [0, 1] {
        log.client
            .submit(&sealed_with(50 + n, "subject", person))
            .await
            .unwrap();
    }
    log.clock.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    let log_key = log.log_key.to_string();
    let out = run(&[
        "sealed",
        "read",
        "--url",
        &log.base,
        "--key",
        &path("auditor.key"),
        "--subject",
        person,
        "--case-ref",
        "SIC-HD-2026-3",
        "--purpose",
        "data_subject_request",
        "--legal-basis",
        "Ley 1581 de 2012, art. 14",
        "--log-key",
        &log_key,
        "--out",
        &path("subject.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let disclosure: Disclosure =
        serde_json::from_slice(&std::fs::read(path("subject.json")).unwrap()).unwrap();
    assert_eq!(
        disclosure
            .entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![11, 12]
    );
    assert_eq!(disclosure.search.as_ref().unwrap().value, person);
    // The read in the log carries a commitment to the person, never the value.
    let leaf = log.ledger.store().leaves(13, 1).unwrap().remove(0);
    assert!(!String::from_utf8(leaf).unwrap().contains(person));
    let out = run(&[
        "disclosure",
        "verify",
        &path("subject.json"),
        "--log-key",
        &log_key,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    log.stop().await;
}

/// A log written without a blind index gets one at its next start, from its openings.
#[tokio::test(flavor = "multi_thread")]
async fn a_log_without_a_blind_index_is_indexed_at_start() {
    let store = Arc::new(MemoryStore::new());
    let person = "CO-CC-1088888888";
    {
        let ledger = huella::ledger::Ledger::open(
            store.clone(),
            log_signer(),
            trust(),
            Arc::new(huella::ledger::ManualClock::new(NOW)),
            Options::default(),
        )
        .unwrap();
        for n in 0..3 {
            let submission = sealed_with(60 + n, "subject", person);
            ledger.appender().submit(submission).await.unwrap();
        }
        ledger.close();
    }
    use huella::store::Store as _;
    assert_eq!(store.blind_upto().unwrap(), 0);
    let log = TestLog::start_trusted(
        store.clone(),
        Limits::default(),
        Options::default(),
        trust(),
    )
    .await;
    assert_eq!(store.blind_upto().unwrap(), 3);
    let register = RegistryEvent::KeyRegister {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        role: Role::Auditor,
        key: auditor().verifier(),
        valid_from: Timestamp::from_unix_millis(NOW - 86_400_000),
    };
    log.client
        .submit_registry(&SignedRegistryEvent::sign(register, &[&registrar()]))
        .await
        .unwrap();
    let disclosure = search_read(&log, SearchField::Subject, person, "SEARCH-OLD").await;
    assert_eq!(
        disclosure
            .entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    log.stop().await;
}

/// A recipient key nothing can be sealed to (the all-zero X25519 point) is refused before
/// the read is logged: a logged read always gets its disclosure.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_to_a_key_nothing_can_be_sealed_to_is_refused_before_it_is_logged() {
    let log = start().await;
    let size = log.checkpoint().await.size;
    let body = submission(read(&auditor(), &[1], Recipient([0; 32])), &auditor());
    let (status, answer, _) = post(&log, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("bad_recipient")),
        "{answer}"
    );
    assert_eq!(log.checkpoint().await.size, size);
    log.stop().await;
}

/// A read logs first and discloses second: the server is killed after the read's entry is
/// durable and before it answers (the debug build stops there when `HUELLA_FAILPOINT` says
/// so). The auditor gets nothing, yet the read is in the log after the restart; the same
/// read sent again gets its disclosure, and no second entry.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_killed_between_its_entry_and_its_answer_is_in_the_log() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    common::demo::DemoProcess::start(&data, 6).stop();
    let log_key = huella::keyfile::read_signer(&data.join("log.key"))
        .unwrap()
        .verifier();
    let auditor = huella::keyfile::read_signer(&data.join("auditors/CO-PROCURADURIA.key")).unwrap();
    let (private, recipient) = huella::hpke::keypair();
    let mut event = read(&auditor, &[9], recipient);
    event.read_at = Timestamp::from_system_time(std::time::SystemTime::now());
    event.request_id = RequestId::new("PGN-READ-KILLED").unwrap();
    let body = serde_json::to_vec(&submission(event.clone(), &auditor)).unwrap();
    let send = |base: String, body: Vec<u8>| async move {
        reqwest::Client::new()
            .post(format!("{base}/v1/sealed/read"))
            .header("content-type", "application/json")
            .body(body)
            .timeout(std::time::Duration::from_secs(120))
            .send()
            .await
    };

    let mut serve =
        common::serve::Serve::start(&data, Some(huella::failpoint::SEALED_READ_AFTER_APPEND)).await;
    let before = serve.size(&log_key).await;
    let pending = tokio::spawn(send(serve.base.clone(), body.clone()));
    let mut logged = false;
    for _ in 0..600 {
        if serve.size(&log_key).await == before + 1 {
            logged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(logged, "the read's entry was never published");
    // The entry is durable and published, and the answer has not left.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !pending.is_finished(),
        "the server answered past the failpoint"
    );
    serve.kill();
    let answer = pending.await.unwrap();
    assert!(answer.is_err(), "the auditor got an answer: {answer:?}");

    // After the restart the read is entry `before`, exactly as signed.
    let serve = common::serve::Serve::start(&data, None).await;
    assert_eq!(serve.size(&log_key).await, before + 1);
    let leaf = reqwest::get(format!("{}/v1/entries/{before}", serve.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let Leaf::SealedRead(logged) = Leaf::parse(&leaf).unwrap() else {
        panic!("entry {before} is not a sealed read");
    };
    assert_eq!(logged.event, event);

    // The same read again: the same entry, now with its disclosure; nothing new logged.
    let answer = send(serve.base.clone(), body).await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.unwrap();
    let receipt: Receipt = serde_json::from_value(answer["read_receipt"].clone()).unwrap();
    assert_eq!(receipt.index, before);
    let sealed: huella::hpke::Sealed =
        serde_json::from_value(answer["disclosure"].clone()).unwrap();
    let plaintext = huella::hpke::open(&private, &sealed, &receipt.leaf_hash.0).unwrap();
    let disclosure: Disclosure = serde_json::from_slice(&plaintext).unwrap();
    let verified = disclosure.verify(&log_key).unwrap();
    assert_eq!(verified.read.event, event);
    assert_eq!(disclosure.entries.len(), 1);
    assert_eq!(disclosure.entries[0].index, 9);
    assert_eq!(serve.size(&log_key).await, before + 1);
}
