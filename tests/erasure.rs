//! Issue #15: erasure. An erasure authority's signed order is logged, and once it is durable
//! the openings it names are destroyed for good: no byte of the data directory reveals an
//! erased value, raw, base64 or hex; reads say which order erased them; the log verifies.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::{NOW, TestLog, agencies, log_signer};
use huella::http::Limits;
use huella::ledger::Options;
use huella_core::commitment::{Opening, Salt};
use huella_core::disclosure::Disclosure;
use huella_core::event::Openings;
use huella_core::keylog::{RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::proof::Receipt;
use huella_core::sealed::{
    Erasure, ErasureKind, ErasureSubmission, ReadSubmission, SealedRead, SealedReadKind, Search,
    SearchField, SearchOpenings, sign,
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
fn authority() -> SignerKey {
    key("sic.co.example", 112)
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

const PERSON: &str = "CO-CC-1077777777";

fn sealed_with(n: u64, subject: &str) -> huella_core::event::Submission {
    let (all, _) = agencies();
    let now = Timestamp::from_unix_millis(NOW);
    let (from, mut json) = huella::demo::sample_event(&all, 7, 2000 + n, &now);
    json["subject"] = subject.into();
    let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
    plain
        .seal(&all[from].key, now, huella::keyfile::random_salt)
        .unwrap()
}

/// start starts a log on sled in `dir`: eight access events (0..8, the person's at 2 and
/// 5), then the auditor's and the erasure authority's registrations (8, 9).
async fn start(dir: &std::path::Path) -> TestLog {
    let store = common::open_sled(&dir.join("db")).unwrap();
    let options = Options {
        batch_wait: std::time::Duration::from_millis(1),
        checkpoint_copy: Some(dir.join("checkpoint")),
        ..Options::default()
    };
    let log = TestLog::start_trusted(Arc::new(store), Limits::default(), options, trust()).await;
    for n in 0..8 {
        let subject = if n == 2 || n == 5 {
            PERSON.to_string()
        } else {
            format!("CO-CC-10{n:08}")
        };
        log.client.submit(&sealed_with(n, &subject)).await.unwrap();
    }
    for (agency, role, signer) in [
        ("CO-PROCURADURIA", Role::Auditor, auditor()),
        ("CO-SIC", Role::ErasureAuthority, authority()),
    ] {
        let register = RegistryEvent::KeyRegister {
            agency: AgencyId::new(agency).unwrap(),
            country: CountryCode::new("CO").unwrap(),
            role,
            key: signer.verifier(),
            valid_from: Timestamp::from_unix_millis(NOW - 86_400_000),
        };
        log.client
            .submit_registry(&SignedRegistryEvent::sign(register, &[&registrar()]))
            .await
            .unwrap();
    }
    log
}

fn order(
    signer: &SignerKey,
    agency: &str,
    entries: Option<Vec<u64>>,
    search: Option<Search>,
) -> Erasure {
    Erasure {
        agency: AgencyId::new(agency).unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: entries.map(|e| e.into_iter().map(|i| Count::new(i).unwrap()).collect()),
        key: signer.key_ref().clone(),
        kind: ErasureKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 15").unwrap(),
        order_ref: RequestId::new("SIC-ORD-9").unwrap(),
        ordered_at: Timestamp::from_unix_millis(NOW),
        request_id: RequestId::new("SIC-ERASE-1").unwrap(),
        search,
    }
}

async fn post(log: &TestLog, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = log
        .http
        .post(log.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// every_byte reads every file under `dir`.
fn every_byte(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.push((path.display().to_string(), bytes));
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// assert_absent fails if any file under `dir` holds one of `values`, raw, base64 or hex.
fn assert_absent(dir: &std::path::Path, values: &[String]) {
    let files = every_byte(dir);
    assert!(files.iter().any(|(name, _)| name.ends_with("opening-keys")));
    for value in values {
        let forms = [
            value.as_bytes().to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(value)
                .into_bytes(),
            value
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ];
        for (name, bytes) in &files {
            for form in &forms {
                assert!(!contains(bytes, form), "{value:?} found in {name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_destroys_the_openings_for_good_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    // What will be erased: every personal value of the person's two entries.
    let mut values = Vec::new();
    for index in [2, 5] {
        let openings: Openings =
            serde_json::from_slice(&log.ledger.store().opening(index).unwrap().unwrap()).unwrap();
        for opening in [
            &openings.subject,
            &openings.requesting_user,
            &openings.record_ref,
            &openings.query,
        ] {
            values.push(opening.value.clone());
        }
    }
    // Each entry's openings are sealed under its own key, kept in a flat file beside sled's.
    let keys_file = dir.path().join("db").join("opening-keys");
    let slot =
        |index: usize| std::fs::read(&keys_file).unwrap()[index * 32..index * 32 + 32].to_vec();
    assert_ne!(slot(2), vec![0; 32]);
    assert_ne!(slot(5), vec![0; 32]);
    // An auditor may not order an erasure.
    let salt = Salt([3; 32]);
    let search = Search {
        field: SearchField::Subject,
        value: SearchField::Subject.commit(&salt, PERSON),
    };
    let by_auditor = order(&auditor(), "CO-PROCURADURIA", None, Some(search));
    let body = ErasureSubmission {
        signature: sign(&by_auditor, &auditor()),
        event: by_auditor,
        openings: Some(SearchOpenings {
            search: Opening::new(Salt([3; 32]), PERSON),
        }),
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("unauthorized_key")),
        "{answer}"
    );
    // The erasure authority orders every entry about the person erased.
    let erasure = order(&authority(), "CO-SIC", None, Some(search));
    let body = ErasureSubmission {
        signature: sign(&erasure, &authority()),
        event: erasure,
        openings: Some(SearchOpenings {
            search: Opening::new(Salt([3; 32]), PERSON),
        }),
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["erased"], serde_json::json!([2, 5]));
    let receipt: Receipt = serde_json::from_value(answer["receipt"].clone()).unwrap();
    let by = receipt.index;
    assert_eq!(by, 10);
    for index in [2, 5] {
        assert_eq!(log.ledger.store().opening(index).unwrap(), None);
        assert_eq!(log.ledger.store().erased_by(index).unwrap(), Some(by));
    }
    // The order's own search value is destroyed too, once carried out.
    assert_eq!(log.ledger.store().opening(by).unwrap(), None);
    // Their keys are destroyed in place: whatever copies of the sealed openings sled keeps
    // are noise now.
    assert_eq!(slot(2), vec![0; 32]);
    assert_eq!(slot(5), vec![0; 32]);
    assert_ne!(slot(3), vec![0; 32]);
    // Other entries keep theirs.
    assert!(log.ledger.store().opening(3).unwrap().is_some());

    // No byte of the data directory reveals an erased value, raw, base64 or hex.
    assert_absent(dir.path(), &values);

    // A read of an erased entry says which order erased it; the disclosure verifies.
    let (private, recipient) = huella::hpke::keypair();
    let read = SealedRead {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        case_ref: RequestId::new("PGN-1").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: Some(vec![Count::new(2).unwrap(), Count::new(3).unwrap()]),
        key: auditor().key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
        purpose: Purpose::new("oversight_audit").unwrap(),
        read_at: Timestamp::from_unix_millis(NOW),
        recipient,
        request_id: RequestId::new("PGN-READ-1").unwrap(),
        search: None,
    };
    let body = ReadSubmission {
        signature: sign(&read, &auditor()),
        event: read,
        openings: None,
    };
    let (status, answer) = post(&log, "/v1/sealed/read", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 201, "{answer}");
    let receipt: Receipt = serde_json::from_value(answer["read_receipt"].clone()).unwrap();
    let sealed: huella::hpke::Sealed =
        serde_json::from_value(answer["disclosure"].clone()).unwrap();
    let plaintext = huella::hpke::open(&private, &sealed, &receipt.leaf_hash.0).unwrap();
    let disclosure: Disclosure = serde_json::from_slice(&plaintext).unwrap();
    disclosure.verify(&log.log_key).unwrap();
    assert_eq!(disclosure.entries[0].erased_by, Some(by));
    assert!(disclosure.entries[0].openings.is_none());
    assert!(disclosure.entries[1].openings.is_some());

    // Every leaf, hash, signature and checkpoint still verifies; the erasure is counted.
    let (_, summary) = log.check_log().await;
    assert_eq!(summary.erasures_by_agency["CO-SIC"], 1);
    assert_eq!(summary.sealed_reads_by_agency["CO-PROCURADURIA"], 1);
    // A retry of the order gets its receipt; a search order already carried out has nothing
    // left to find (the erased entries left the blind index), so it lists none.
    let (status, again) = post(
        &log,
        "/v1/sealed/erase",
        serde_json::to_vec(&body_again(&search)).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["receipt"]["index"], by);
    assert_eq!(again["erased"], serde_json::json!([]));
    log.stop().await;
}

fn body_again(search: &Search) -> ErasureSubmission {
    let erasure = order(&authority(), "CO-SIC", None, Some(*search));
    ErasureSubmission {
        signature: sign(&erasure, &authority()),
        event: erasure,
        openings: Some(SearchOpenings {
            search: Opening::new(Salt([3; 32]), PERSON),
        }),
    }
}

/// search_read is the auditor's signed search for entries whose subject is `subject`.
fn search_read(subject: &str, request_id: &str) -> ReadSubmission {
    let (_, recipient) = huella::hpke::keypair();
    let salt = Salt([7; 32]);
    let read = SealedRead {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        case_ref: RequestId::new("PGN-2").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: None,
        key: auditor().key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
        purpose: Purpose::new("oversight_audit").unwrap(),
        read_at: Timestamp::from_unix_millis(NOW),
        recipient,
        request_id: RequestId::new(request_id).unwrap(),
        search: Some(Search {
            field: SearchField::Subject,
            value: SearchField::Subject.commit(&salt, subject),
        }),
    };
    ReadSubmission {
        signature: sign(&read, &auditor()),
        event: read,
        openings: Some(SearchOpenings {
            search: Opening::new(salt, subject),
        }),
    }
}

/// A search read keeps the value it searched for beside its entry (so that a retry can be
/// answered). An erasure of the entries holding that value destroys that copy too, whether
/// the order lists the entries or searches; a search for another value keeps its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_destroys_the_value_an_earlier_search_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    let other = "CO-CC-1000000003";
    // A search for a value no entry holds yet (it finds nothing), then two entries with it.
    let later = "CO-CC-1055555555";
    let (status, answer) = post(
        &log,
        "/v1/sealed/read",
        serde_json::to_vec(&search_read(later, "PGN-EARLY")).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let early_read = answer["read_receipt"]["index"].as_u64().unwrap();
    let mut later_entries = Vec::new();
    for n in [20, 21] {
        let submitted = log.client.submit(&sealed_with(n, later)).await.unwrap();
        later_entries.push(submitted.receipt.index);
    }
    let mut reads = Vec::new();
    for (subject, id) in [(PERSON, "PGN-SEARCH-1"), (other, "PGN-SEARCH-2")] {
        let body = serde_json::to_vec(&search_read(subject, id)).unwrap();
        let (status, answer) = post(&log, "/v1/sealed/read", body.clone()).await;
        assert_eq!(status, 201, "{answer}");
        reads.push((answer["read_receipt"]["index"].as_u64().unwrap(), body));
    }
    let [(person_read, person_body), (other_read, _)] = reads.try_into().unwrap();
    assert!(log.ledger.store().opening(person_read).unwrap().is_some());
    // A read of listed entries, among them one of the person's.
    let (_, recipient) = huella::hpke::keypair();
    let listed_read = SealedRead {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        case_ref: RequestId::new("PGN-3").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: Some(vec![Count::new(2).unwrap(), Count::new(3).unwrap()]),
        key: auditor().key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
        purpose: Purpose::new("oversight_audit").unwrap(),
        read_at: Timestamp::from_unix_millis(NOW),
        recipient,
        request_id: RequestId::new("PGN-LISTED-1").unwrap(),
        search: None,
    };
    let listed_body = serde_json::to_vec(&ReadSubmission {
        signature: sign(&listed_read, &auditor()),
        event: listed_read,
        openings: None,
    })
    .unwrap();
    assert_eq!(
        post(&log, "/v1/sealed/read", listed_body.clone()).await.0,
        201
    );
    // An order listing one of the person's two entries: entry 5 still holds the value, so
    // the search keeps its copy (erasing it would not make the value gone).
    let erase = |entries: Vec<u64>, id: &str| {
        let mut listed = order(&authority(), "CO-SIC", Some(entries), None);
        listed.request_id = RequestId::new(id).unwrap();
        serde_json::to_vec(&ErasureSubmission {
            signature: sign(&listed, &authority()),
            event: listed,
            openings: None,
        })
        .unwrap()
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", erase(vec![2], "SIC-E-1")).await;
    assert_eq!(status, 201, "{answer}");
    let first = answer["receipt"]["index"].as_u64().unwrap();
    // The person's search found entry 2: its copy goes with it, though entry 5 still holds
    // the value, so that a retry cannot disclose less than the read did without saying so.
    assert_eq!(
        log.ledger.store().erased_by(person_read).unwrap(),
        Some(first)
    );
    assert!(log.ledger.store().opening(other_read).unwrap().is_some());
    for (body, says) in [
        (person_body, format!("erased by entry {first}")),
        (listed_body, "entry 2, which read".to_string()),
    ] {
        let (status, answer) = post(&log, "/v1/sealed/read", body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (410, Some("erased")),
            "{answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains(&says),
            "{answer}"
        );
    }
    // The early search found neither later entry: erasing one keeps its copy (the other
    // still holds the value); erasing the last destroys it.
    let (status, answer) = post(
        &log,
        "/v1/sealed/erase",
        erase(vec![later_entries[0]], "SIC-E-2"),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert!(log.ledger.store().opening(early_read).unwrap().is_some());
    let (status, answer) = post(
        &log,
        "/v1/sealed/erase",
        erase(vec![later_entries[1]], "SIC-E-3"),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let last = answer["receipt"]["index"].as_u64().unwrap();
    assert_eq!(
        log.ledger.store().erased_by(early_read).unwrap(),
        Some(last)
    );
    // An order that searches for the other value destroys the other search's copy too.
    let salt = Salt([3; 32]);
    let mut searching = order(
        &authority(),
        "CO-SIC",
        None,
        Some(Search {
            field: SearchField::Subject,
            value: SearchField::Subject.commit(&salt, other),
        }),
    );
    searching.request_id = RequestId::new("SIC-ERASE-2").unwrap();
    let body = ErasureSubmission {
        signature: sign(&searching, &authority()),
        event: searching,
        openings: Some(SearchOpenings {
            search: Opening::new(salt, other),
        }),
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["erased"], serde_json::json!([3]));
    let by = answer["receipt"]["index"].as_u64().unwrap();
    assert_eq!(log.ledger.store().erased_by(other_read).unwrap(), Some(by));
    assert_eq!(log.ledger.store().opening(by).unwrap(), None);
    log.check_log().await;
    log.stop().await;
}

/// A revoked auditor's key: the reads it signed since `compromised_since` are reported by
/// the verifier as a thief's could be, as access entries are for an agency's key.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_auditor_keys_reads_are_reported_as_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    let mut reads = Vec::new();
    for id in ["PGN-SEARCH-1", "PGN-SEARCH-2"] {
        let body = serde_json::to_vec(&search_read(PERSON, id)).unwrap();
        let (status, answer) = post(&log, "/v1/sealed/read", body).await;
        assert_eq!(status, 201, "{answer}");
        reads.push(answer["read_receipt"]["index"].as_u64().unwrap());
    }
    let revoke = RegistryEvent::KeyRevoke {
        key: auditor().verifier(),
        compromised_since: Timestamp::from_unix_millis(NOW - 3_600_000),
        reason: huella_core::values::Reason::new("auditor's laptop stolen").unwrap(),
    };
    let revoked_at = log
        .client
        .submit_registry(&SignedRegistryEvent::sign(revoke, &[&registrar()]))
        .await
        .unwrap()
        .receipt
        .index;
    // The full verifier: a compromised key's first day is counted on a second read.
    let verified = huella_verify::audit::verify_log(
        &huella_verify::source::Source::Http(log.client.clone()),
        &log.log_key,
        Some(huella_verify::cli::Trusted {
            root: trust(),
            from: "trust",
        }),
        &huella_verify::sample::Sampling::every(),
        true,
    )
    .await
    .unwrap();
    let summary = verified.summary;
    assert_eq!(summary.compromised.len(), 1);
    let c = &summary.compromised[0];
    assert_eq!(c.key, auditor().key_ref().to_string());
    assert_eq!(c.revoked_at, revoked_at);
    assert_eq!(
        (c.entries, c.first_index, c.last_index),
        (2, Some(reads[0]), Some(reads[1]))
    );
    log.stop().await;
}

/// An order of listed entries, and its refusals.
#[tokio::test(flavor = "multi_thread")]
async fn an_order_of_listed_entries_erases_exactly_those() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    let size = log.checkpoint().await.size;
    // A registry entry holds no sealed data.
    let wrong = order(&authority(), "CO-SIC", Some(vec![8]), None);
    let body = ErasureSubmission {
        signature: sign(&wrong, &authority()),
        event: wrong,
        openings: None,
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("bad_target")),
        "{answer}"
    );
    assert_eq!(log.checkpoint().await.size, size);
    let listed = order(&authority(), "CO-SIC", Some(vec![1, 4]), None);
    let body = ErasureSubmission {
        signature: sign(&listed, &authority()),
        event: listed,
        openings: None,
    };
    let (status, answer) = post(&log, "/v1/sealed/erase", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["erased"], serde_json::json!([1, 4]));
    for index in 0..8 {
        let gone = log.ledger.store().opening(index).unwrap().is_none();
        assert_eq!(gone, index == 1 || index == 4, "entry {index}");
    }
    log.check_log().await;
    log.stop().await;
}

/// `huella sealed erase` signs and submits an order as the registered authority.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_orders_an_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    let keys = tempfile::tempdir().unwrap();
    let path = |name: &str| keys.path().join(name).to_str().unwrap().to_string();
    huella::keyfile::write_signer(&keys.path().join("sic.key"), &authority()).unwrap();
    huella::keyfile::write_signer(&keys.path().join("pgn.key"), &auditor()).unwrap();
    log.clock.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    let args = |key: &str| {
        vec![
            "sealed".to_string(),
            "erase".into(),
            "--url".into(),
            log.base.clone(),
            "--key".into(),
            path(key),
            "--entries".into(),
            "6".into(),
            "--order-ref".into(),
            "SIC-2026-4".into(),
            "--legal-basis".into(),
            "Ley 1581 de 2012, art. 15".into(),
        ]
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run_huella(&refs)
    };
    let out = run(args("pgn.key"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("registered as \"auditor\", not erasure_authority")
    );
    let out = run(args("sic.key"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["erased"], serde_json::json!([6]));
    assert_eq!(log.ledger.store().opening(6).unwrap(), None);
    log.stop().await;
}

/// Retention: the log destroys the openings of entries accessed before a time, logs a
/// retention notice signed by its own key naming the range, and the log still verifies.
#[tokio::test(flavor = "multi_thread")]
async fn retention_purges_old_openings_and_logs_a_signed_notice() {
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path()).await;
    // A search for the person, whose value is kept beside the read (index 10).
    let body = serde_json::to_vec(&search_read(PERSON, "PGN-SEARCH-1")).unwrap();
    let (status, answer) = post(&log, "/v1/sealed/read", body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["read_receipt"]["index"], 10);
    // Every personal value the log holds.
    let mut values = vec![PERSON.to_string()];
    for index in 0..8 {
        let openings: Openings =
            serde_json::from_slice(&log.ledger.store().opening(index).unwrap().unwrap()).unwrap();
        for opening in [
            &openings.subject,
            &openings.requesting_user,
            &openings.record_ref,
            &openings.query,
        ] {
            values.push(opening.value.clone());
        }
    }
    let size = log.checkpoint().await.size;
    // Nothing accessed before the day before: nothing to purge.
    let early = Timestamp::from_unix_millis(NOW - 86_400_000);
    assert_eq!(
        log.ledger.appender().retain(early, 100_000).await.unwrap(),
        None
    );
    // Everything accessed before the day after: all of it.
    log.clock.set(NOW + 2 * 86_400_000);
    let late = Timestamp::from_unix_millis(NOW + 86_400_000);
    let (first, last, notice) = log
        .ledger
        .appender()
        .retain(late.clone(), 100_000)
        .await
        .unwrap()
        .unwrap();
    // The range ends at the last access entry (7): the registrations after it hold nothing.
    assert_eq!((first, last, notice), (0, 7, size));
    for index in 0..8 {
        assert_eq!(
            log.ledger.store().opening(index).unwrap(),
            None,
            "entry {index}"
        );
        assert_eq!(log.ledger.store().erased_by(index).unwrap(), Some(notice));
    }
    // The search's kept value went with the entries that hold it.
    assert_eq!(log.ledger.store().erased_by(10).unwrap(), Some(notice));
    // No byte of the data directory reveals a purged value, raw, base64 or hex.
    assert_absent(dir.path(), &values);
    // Nothing more to purge, until more entries.
    assert_eq!(
        log.ledger.appender().retain(late, 100_000).await.unwrap(),
        None
    );
    let leaf = log.ledger.store().leaves(notice, 1).unwrap().remove(0);
    let huella_core::entry::Leaf::Retention(entry) =
        huella_core::entry::Leaf::parse(&leaf).unwrap()
    else {
        panic!("not a retention notice");
    };
    assert!(entry.verify(&log.log_key));
    let (_, summary) = log.check_log().await;
    assert_eq!(summary.retention_notices, 1);
    log.stop().await;
}

/// `huella serve --retention`: the task runs at start, logs a notice signed by the log key,
/// and destroys the openings of the entries it names; a later read of one says which notice
/// erased it, and the whole log still verifies, counting the notice.
#[tokio::test(flavor = "multi_thread")]
async fn serve_with_retention_purges_what_is_older_and_the_log_verifies() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    // The demo's accesses are spread over the past year.
    assert!(common::demo::DemoProcess::start(&data, 40).stop().success());
    let serve = common::serve::Serve::start_with(&data, None, &["--retention", "30d"]).await;
    // The notice: the first retention entry the log serves.
    let mut notice = None;
    for _ in 0..100 {
        let page = reqwest::get(format!("{}/v1/entries?start=0&limit=1000", serve.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        notice = page.lines().enumerate().find_map(|(i, line)| {
            let leaf: serde_json::Value = serde_json::from_str(line).unwrap();
            (leaf["event"]["kind"] == "retention").then_some((i as u64, leaf))
        });
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (at, notice) = notice.expect("a retention notice within 10 s");
    let last = notice["event"]["last"].as_u64().unwrap();
    // A read of the range's last entry, an access accessed before the cutoff: erased by it.
    let disclosure = dir.path().join("disclosure.json");
    common::demo::sealed_read(
        &serve.base,
        &data,
        &last.to_string(),
        "PGN-RETENTION-1",
        &disclosure,
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&disclosure).unwrap()).unwrap();
    assert_eq!(file["entries"][0]["index"], last);
    assert_eq!(file["entries"][0]["erased_by"], at);
    assert!(file["entries"][0].get("openings").is_none(), "{file}");
    let out = common::run_huella(&[
        "disclosure",
        "verify",
        disclosure.to_str().unwrap(),
        "--log-key",
        data.join("log.key.pub").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("entry {last} (erased by entry {at})")),
        "{text}"
    );
    // The whole log verifies, and counts the notice.
    let out = common::run_huella(&[
        "verify",
        "--url",
        &serve.base,
        "--log-key",
        data.join("log.key.pub").to_str().unwrap(),
        "--trust",
        data.join("trust.json").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["retention_notices"], 1, "{report}");
}
