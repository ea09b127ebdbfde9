//! The HTTP API against the real app on 127.0.0.1:0, driven by a real client, with the whole
//! log re-verified after each step.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{NOW, TestLog, agencies, sealed};
use huella::demo::Agency;
use huella::http::Limits;
use huella::store::{Fault, FaultyStore, MemoryStore, SledStore, Step};
use huella_core::checkpoint;
use huella_core::event::{SignedEvent, Submission};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::{Hash, verify_consistency};
use huella_core::proof::{Receipt, TlogProof};

fn sled(dir: &tempfile::TempDir) -> Arc<SledStore> {
    Arc::new(SledStore::open(&dir.path().join("db")).unwrap())
}

fn hashes(value: &serde_json::Value) -> Vec<Hash> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// check_receipt verifies a receipt offline against its own checkpoint.
fn check_receipt(log: &TestLog, receipt: &Receipt) -> checkpoint::Checkpoint {
    let proof = TlogProof::parse(receipt.tlog_proof.as_bytes()).unwrap();
    let (entry, checkpoint) = proof.verify_receipt(&log.log_key).unwrap();
    assert_eq!(entry.index().get(), receipt.index);
    assert_eq!(entry.leaf_hash(), receipt.leaf_hash);
    assert_eq!(proof.checkpoint, receipt.checkpoint);
    checkpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_events_from_fifty_concurrent_clients() {
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::start(sled(&dir), Limits::default()).await;
    let (agencies, _) = agencies();
    let agencies = Arc::new(agencies);
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..50u64 {
        let (agencies, api) = (agencies.clone(), log.client.clone());
        tasks.spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..20u64 {
                let submitted = api
                    .submit(&sealed(&agencies, client * 20 + i))
                    .await
                    .unwrap();
                assert!(submitted.created);
                receipts.push(submitted.receipt);
            }
            receipts
        });
    }
    let mut receipts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        receipts.extend(done.unwrap());
    }
    let indices: BTreeSet<u64> = receipts.iter().map(|r| r.index).collect();
    assert_eq!(
        indices,
        (0..1000).collect::<BTreeSet<u64>>(),
        "indices are exactly 0..999"
    );

    let (last, summary) = log.check_log().await;
    assert_eq!(last.size, 1000);
    assert_eq!(summary.entries, 1000);
    for receipt in &receipts {
        let own = check_receipt(&log, receipt);
        assert!(own.size > receipt.index);
        let body: serde_json::Value = log
            .get(&format!(
                "/v1/proofs/consistency?from={}&to={}",
                own.size, last.size
            ))
            .await
            .json()
            .await
            .unwrap();
        verify_consistency(
            own.size,
            last.size,
            &own.root,
            &last.root,
            &hashes(&body["proof"]),
        )
        .unwrap();
    }
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_returns_the_original_receipt_and_conflict_is_409() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    let first = sealed(&agencies, 1);
    let original = log.client.submit(&first).await.unwrap();
    assert!(original.created);
    for n in 2..6 {
        log.client.submit(&sealed(&agencies, n)).await.unwrap();
    }
    let again = log.client.submit(&first).await.unwrap();
    assert!(!again.created, "a retry is answered 200, not 201");
    assert_eq!(
        again.receipt, original.receipt,
        "the retry gets the original receipt"
    );
    assert_eq!(log.checkpoint().await.size, 5, "a retry adds nothing");

    // Same request id, other content.
    let mut other = first.clone();
    other.event.purpose = huella_core::values::Purpose::new("other_purpose").unwrap();
    let other = SignedEvent::sign(other.event, signer_of(&agencies, &first)).unwrap();
    let body = serde_json::json!({"event": other.event, "signature": other.signature, "openings": first.openings});
    let response = log.post(body.to_string()).await;
    assert_eq!(response.status(), 409);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "conflict");
    assert_eq!(log.check_log().await.0.size, 5);
    log.stop().await;
}

fn signer_of<'a>(agencies: &'a [Agency], submission: &Submission) -> &'a SignerKey {
    &agencies
        .iter()
        .find(|a| a.key.key_ref() == &submission.event.key)
        .unwrap()
        .key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (agencies, _) = agencies();
    let log = TestLog::start(sled(&dir), Limits::default()).await;
    let submissions: Vec<Submission> = (0..40).map(|n| sealed(&agencies, n)).collect();
    let mut receipts = Vec::new();
    for s in &submissions[..30] {
        receipts.push(log.client.submit(s).await.unwrap().receipt);
    }
    let (before, _) = log.check_log().await;
    let note_before = log.get("/checkpoint").await.text().await.unwrap();
    log.stop().await;

    let log = TestLog::start(sled(&dir), Limits::default()).await;
    assert_eq!(
        log.get("/checkpoint").await.text().await.unwrap(),
        note_before
    );
    for (n, s) in submissions.iter().enumerate().skip(30) {
        let r = log.client.submit(s).await.unwrap().receipt;
        assert_eq!(r.index, n as u64, "indices continue after a restart");
    }
    let (after, summary) = log.check_log().await;
    assert_eq!((after.size, summary.entries), (40, 40));
    let body: serde_json::Value = log
        .get(&format!(
            "/v1/proofs/consistency?from={}&to=40",
            before.size
        ))
        .await
        .json()
        .await
        .unwrap();
    verify_consistency(
        before.size,
        40,
        &before.root,
        &after.root,
        &hashes(&body["proof"]),
    )
    .unwrap();
    // A retry of an event from before the restart still gets its original receipt.
    let again = log.client.submit(&submissions[3]).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.receipt, receipts[3]);
    assert_eq!(log.checkpoint().await.size, 40);
    log.stop().await;
}

/// expect sends a request and checks the status, the error code and that the log did not
/// change.
async fn expect(log: &TestLog, response: reqwest::Response, status: u16, code: &str) -> String {
    let size = log.ledger.published().size;
    assert_eq!(
        response.status().as_u16(),
        status,
        "expected {status} {code}"
    );
    let is_json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
    assert!(is_json, "errors are JSON");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    assert_eq!(
        log.ledger.published().size,
        size,
        "a refused request changes nothing"
    );
    message
}

fn resign(
    agencies: &[Agency],
    submission: &Submission,
    change: impl FnOnce(&mut Submission),
) -> String {
    let mut s = submission.clone();
    change(&mut s);
    let signed = SignedEvent::sign(s.event.clone(), signer_of(agencies, submission)).unwrap();
    serde_json::json!({"event": signed.event, "signature": signed.signature, "openings": s.openings}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_has_its_status_and_changes_nothing() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    for n in 0..3 {
        log.client.submit(&sealed(&agencies, n)).await.unwrap();
    }
    let good = sealed(&agencies, 100);
    let good_json = serde_json::to_value(&good).unwrap();

    // 400: malformed input.
    for body in [
        "".to_string(),
        "{".to_string(),
        "[]".to_string(),
        r#"{"event": 1, "signature": "", "openings": {}}"#.to_string(),
        {
            let mut v = good_json.clone();
            v["event"]["records_returned"] = serde_json::json!("1");
            v.to_string()
        },
        {
            let mut v = good_json.clone();
            v["extra"] = serde_json::json!(1);
            v.to_string()
        },
        {
            let mut v = good_json.clone();
            v["signature"] = serde_json::json!("not base64!");
            v.to_string()
        },
    ] {
        expect(&log, log.post(body).await, 400, "malformed").await;
    }

    // 401: a key nobody registered.
    let stranger = SignerKey::from_seed(KeyName::new("stranger.example").unwrap(), &[99; 32]);
    let mut event = good.event.clone();
    event.key = stranger.key_ref().clone();
    let signed = SignedEvent::sign(event, &stranger).unwrap();
    let body = serde_json::json!({"event": signed.event, "signature": signed.signature, "openings": good.openings});
    expect(&log, log.post(body.to_string()).await, 401, "unknown_key").await;

    // 401: a signature over other content.
    let mut tampered = good_json.clone();
    tampered["event"]["purpose"] = serde_json::json!("something_else");
    expect(
        &log,
        log.post(tampered.to_string()).await,
        401,
        "bad_signature",
    )
    .await;

    // 403: a registered key used for another agency.
    let other = agencies
        .iter()
        .find(|a| a.key.key_ref() != &good.event.key && a.country != good.event.requesting_country)
        .unwrap();
    let mut event = good.event.clone();
    event.key = other.key.key_ref().clone();
    let signed = SignedEvent::sign(event, &other.key).unwrap();
    let body = serde_json::json!({"event": signed.event, "signature": signed.signature, "openings": good.openings});
    expect(
        &log,
        log.post(body.to_string()).await,
        403,
        "unauthorized_key",
    )
    .await;

    // 422: failed validation, each properly signed.
    let old = resign(&agencies, &good, |s| {
        s.event.accessed_at =
            huella_core::values::Timestamp::from_unix_millis(NOW - 2 * 86_400_000);
    });
    expect(&log, log.post(old).await, 422, "access_time_out_of_window").await;
    let future = resign(&agencies, &good, |s| {
        s.event.accessed_at = huella_core::values::Timestamp::from_unix_millis(NOW + 3_600_000);
    });
    expect(
        &log,
        log.post(future).await,
        422,
        "access_time_out_of_window",
    )
    .await;
    let wrong_opening = resign(&agencies, &good, |s| s.openings.subject.value.push('x'));
    let message = expect(
        &log,
        log.post(wrong_opening).await,
        422,
        "commitment_mismatch",
    )
    .await;
    assert!(
        message.contains("subject"),
        "the error names the field: {message}"
    );
    let inconsistent = resign(&agencies, &good, |s| {
        s.event.outcome = huella_core::event::Outcome::Hit;
        s.event.records_returned = huella_core::values::Count::new(0).unwrap();
    });
    expect(
        &log,
        log.post(inconsistent).await,
        422,
        "inconsistent_event",
    )
    .await;

    // 413: too large.
    let huge = format!(
        "{{\"pad\": \"{}\"}}",
        "x".repeat(Limits::default().max_body + 1)
    );
    expect(
        &log,
        log.post_over_limit(huge.into()).await,
        413,
        "too_large",
    )
    .await;

    // 404: not found.
    expect(&log, log.get("/v1/entries/3").await, 404, "not_found").await;
    expect(
        &log,
        log.get("/v1/entries/99999999999").await,
        404,
        "not_found",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/inclusion?index=0&tree_size=4").await,
        404,
        "not_found",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/consistency?from=1&to=9").await,
        404,
        "not_found",
    )
    .await;
    // As an inclusion proof for an index outside its tree.
    expect(&log, log.get("/v1/receipts/7").await, 400, "out_of_range").await;
    expect(
        &log,
        log.get("/v1/receipts/0?tree_size=4").await,
        404,
        "not_found",
    )
    .await;
    expect(&log, log.get("/v1/entries?start=9").await, 404, "not_found").await;
    expect(&log, log.get("/no/such/thing").await, 404, "not_found").await;

    // 400: bad read parameters.
    expect(&log, log.get("/v1/entries/abc").await, 400, "bad_parameter").await;
    expect(&log, log.get("/v1/entries/01").await, 400, "bad_parameter").await;
    expect(&log, log.get("/v1/entries?limit=0").await, 400, "bad_limit").await;
    expect(
        &log,
        log.get("/v1/entries?limit=1000000").await,
        400,
        "bad_limit",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/consistency?from=3&to=2").await,
        400,
        "bad_range",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/inclusion?index=3&tree_size=3").await,
        400,
        "out_of_range",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/inclusion?tree_size=3").await,
        400,
        "bad_parameter",
    )
    .await;
    expect(
        &log,
        log.get("/v1/proofs/inclusion?index=-1").await,
        400,
        "bad_parameter",
    )
    .await;

    // The good event still goes in, and the log verifies.
    assert!(log.client.submit(&good).await.unwrap().created);
    let (checkpoint, _) = log.check_log().await;
    assert_eq!(checkpoint.size, 4);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_naming_an_unknown_holder_or_its_wrong_country_are_422() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    let good = sealed(&agencies, 5);
    let holder = |agency: &str, country: &str| {
        let (agency, country) = (agency.to_string(), country.to_string());
        move |s: &mut Submission| {
            s.event.holder_agency = huella_core::values::AgencyId::new(agency).unwrap();
            s.event.holder_country = huella_core::values::CountryCode::new(country).unwrap();
        }
    };
    // Each is signed by a registered key for its own agency: only the holder is wrong.
    for (agency, country, says) in [
        (
            "XX-NOBODY",
            "XX",
            "holder_agency XX-NOBODY is not a known data holder",
        ),
        (
            "XX-NOBODY",
            "CO",
            "holder_agency XX-NOBODY is not a known data holder",
        ),
        (
            "CO-MIGRACION",
            "US",
            "holder_agency CO-MIGRACION is in CO, not holder_country US",
        ),
        (
            "US-DHS-CBP",
            "CO",
            "holder_agency US-DHS-CBP is in US, not holder_country CO",
        ),
    ] {
        let body = resign(&agencies, &good, holder(agency, country));
        let message = expect(&log, log.post(body).await, 422, "unknown_holder").await;
        assert!(message.contains(says), "{agency} in {country}: {message}");
    }
    assert_eq!(log.check_log().await.0.size, 0);
    // A known holder in its own country is logged, and counted under its country pair.
    for (agency, country) in [("CO-POLICIA-DIJIN", "CO"), ("US-DOJ-FBI-CJIS", "US")] {
        let body = resign(&agencies, &good, |s| {
            holder(agency, country)(s);
            s.event.request_id =
                huella_core::values::RequestId::new(format!("{}-{agency}", s.event.request_id))
                    .unwrap();
        });
        let response = log.post(body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let (checkpoint, summary) = log.check_log().await;
    assert_eq!(checkpoint.size, 2);
    assert_eq!(
        summary.by_holder_agency.keys().collect::<Vec<_>>(),
        ["CO-POLICIA-DIJIN", "US-DOJ-FBI-CJIS"]
    );
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failure_is_503_keeps_reads_and_loses_nothing() {
    let store = Arc::new(FaultyStore::new());
    let (agencies, _) = agencies();
    let log = TestLog::start(store.clone(), Limits::default()).await;
    for n in 0..5 {
        log.client.submit(&sealed(&agencies, n)).await.unwrap();
    }
    store.inject(Fault::Fail(Step::BeforeTreeHashes));
    let response = log
        .post(serde_json::to_string(&sealed(&agencies, 5)).unwrap())
        .await;
    assert!(response.headers().contains_key("retry-after"));
    expect(&log, response, 503, "unavailable").await;
    // Reads still work and nothing acknowledged is lost.
    assert_eq!(log.check_log().await.0.size, 5);
    // The fault was one commit's: the sequencer repairs the store, re-checks it as start-up
    // would, and takes writes again by itself (tests/hardening.rs covers faults that last).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while log.get("/readyz").await.status() != 200 {
        assert!(std::time::Instant::now() < deadline, "writes never resumed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let submitted = log.client.submit(&sealed(&agencies, 5)).await.unwrap();
    assert_eq!(submitted.receipt.index, 5);
    log.stop().await;

    let log = TestLog::start(Arc::new(store.reopen()), Limits::default()).await;
    assert_eq!(log.get("/readyz").await.status(), 200);
    assert_eq!(
        log.client
            .submit(&sealed(&agencies, 6))
            .await
            .unwrap()
            .receipt
            .index,
        6
    );
    assert_eq!(log.check_log().await.0.size, 7);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_endpoints_serve_what_the_docs_promise() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    let mut receipts = Vec::new();
    for n in 0..7 {
        receipts.push(
            log.client
                .submit(&sealed(&agencies, n))
                .await
                .unwrap()
                .receipt,
        );
    }
    let checkpoint_response = log.get("/checkpoint").await;
    assert!(
        checkpoint_response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let cp = log.checkpoint().await;

    // An entry's body hashes to its leaf hash.
    let leaf = log.get("/v1/entries/4").await.bytes().await.unwrap();
    assert_eq!(
        huella_core::merkle::record_hash(&leaf),
        receipts[4].leaf_hash
    );
    let page = log.get("/v1/entries?start=2&limit=3").await;
    assert_eq!(page.headers()["content-type"], "application/x-ndjson");
    let page = page.text().await.unwrap();
    assert_eq!(page.lines().count(), 3);
    assert_eq!(page.lines().nth(2).unwrap().as_bytes(), &leaf[..]);

    let inclusion: serde_json::Value = log
        .get(&format!(
            "/v1/proofs/inclusion?index=4&tree_size={}",
            cp.size
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inclusion["leaf_hash"], receipts[4].leaf_hash.to_base64());
    huella_core::merkle::verify_inclusion(
        4,
        cp.size,
        &receipts[4].leaf_hash,
        &hashes(&inclusion["proof"]),
        &cp.root,
    )
    .unwrap();

    let receipt = log.get("/v1/receipts/4").await;
    assert!(
        receipt.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let proof = TlogProof::parse(&receipt.bytes().await.unwrap()).unwrap();
    let (entry, at) = proof.verify_receipt(&log.log_key).unwrap();
    assert_eq!((entry.index().get(), at.size), (4, cp.size));
    // A receipt at an older signed size.
    let own = check_receipt(&log, &receipts[4]);
    let older = log
        .get(&format!("/v1/receipts/4?tree_size={}", own.size))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(older, receipts[4].tlog_proof);

    let keys: serde_json::Value = log.get("/v1/keys").await.json().await.unwrap();
    assert_eq!(keys["origin"], "test.huella.example/log");
    assert_eq!(keys["log_key"], log.log_key.to_string());
    assert_eq!(keys["tree_size"], log.checkpoint().await.size);
    let registered = keys["keys"].as_array().unwrap();
    assert_eq!(registered.len(), 4);
    for key in registered {
        assert_eq!(key["role"], "submitter", "{key}");
        assert_eq!(key["registered_at"], serde_json::Value::Null, "{key}");
        assert_eq!(key["valid_until"], serde_json::Value::Null, "{key}");
    }
    let trust: serde_json::Value = log.get("/v1/trust").await.json().await.unwrap();
    assert_eq!(trust["log"]["key"], log.log_key.to_string());
    assert_eq!(keys["holders"].as_array().unwrap().len(), 4);
    let health: serde_json::Value = log.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    log.stop().await;
}

#[tokio::test]
async fn a_retry_after_the_window_has_passed_still_gets_its_original_receipt() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    let first = sealed(&agencies, 1);
    let original = log.client.submit(&first).await.unwrap();
    // Two days later the event is out of the 24-hour window...
    log.clock.set(common::NOW + 2 * 86_400_000);
    let again = log.client.submit(&first).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.receipt, original.receipt);
    // ...so a new event from then is refused, and nothing was added.
    let response = log
        .post(serde_json::to_string(&sealed(&agencies, 2)).unwrap())
        .await;
    expect(&log, response, 422, "access_time_out_of_window").await;
    assert_eq!(log.check_log().await.0.size, 1);
    log.stop().await;
}

#[tokio::test]
async fn a_late_retry_is_never_answered_from_an_unflushed_batch() {
    let store = Arc::new(FaultyStore::new());
    let log = TestLog::start(store.clone(), Limits::default()).await;
    let (agencies, _) = agencies();
    let first = sealed(&agencies, 1);
    // The batch reaches the store, where reads see it, but its flush fails: no receipt.
    store.inject(Fault::Fail(Step::AfterRecords));
    let response = log.post(serde_json::to_string(&first).unwrap()).await;
    expect(&log, response, 503, "unavailable").await;
    // Days later a retry must not get a receipt for what was never durable.
    log.clock.set(common::NOW + 2 * 86_400_000);
    let response = log.post(serde_json::to_string(&first).unwrap()).await;
    expect(&log, response, 422, "access_time_out_of_window").await;
    assert_eq!(log.check_log().await.0.size, 0);
    log.stop().await;
}
