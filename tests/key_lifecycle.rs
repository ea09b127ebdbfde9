//! Issue #14: who may sign is decided by registry events in the log, signed by each
//! country's registrars, and replayed by every verifier. Rotation, revocation, the
//! registrars' rules, tampering with the trust root or the registry events, and a property
//! test that the log and the verifier replay the same registry.

mod common;

use std::sync::Arc;

use common::{NOW, TestLog, agencies, log_signer, sealed};
use huella::http::Limits;
use huella::ledger::{Ledger, ManualClock, Options};
use huella::store::{MemoryStore, Store};
use huella_core::entry::{Leaf, RegistryEntry};
use huella_core::keylog::{KeyRegistry, RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::trust::{LogId, Registrars, TrustRoot};
use huella_core::values::{AgencyId, CountryCode, Reason, Timestamp};
use huella_core::verify::{Auditor, Failure, VerifyError};
use huella_verify::audit;
use huella_verify::cli::Trusted;
use huella_verify::error::AuditError;
use huella_verify::sample::Sampling;
use huella_verify::source::Source;
use proptest::prelude::*;

fn key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
}

/// The registrars: one for Colombia; two for the United States, both of whom must sign.
fn co_registrar() -> SignerKey {
    key("registrar.co.example", 101)
}
fn us_registrars() -> [SignerKey; 2] {
    [
        key("registrar-a.us.example", 102),
        key("registrar-b.us.example", 103),
    ]
}

/// trust is the test log's trust root: the four test agencies registered from the start,
/// and the registrars above.
fn trust() -> TrustRoot {
    let [us_a, us_b] = us_registrars();
    TrustRoot {
        log: LogId {
            origin: log_signer().name().as_str().to_string(),
            key: log_signer().verifier(),
        },
        countries: vec![
            Registrars {
                country: CountryCode::new("CO").unwrap(),
                registrars: vec![co_registrar().verifier()],
                threshold: None,
            },
            Registrars {
                country: CountryCode::new("US").unwrap(),
                registrars: vec![us_a.verifier(), us_b.verifier()],
                threshold: Some(2),
            },
        ],
        registry: agencies().1,
    }
}

fn at(millis: u64) -> Timestamp {
    Timestamp::from_unix_millis(millis)
}

async fn start() -> TestLog {
    let options = Options {
        batch_wait: std::time::Duration::from_millis(1),
        ..Options::default()
    };
    TestLog::start_trusted(
        Arc::new(MemoryStore::new()),
        Limits::default(),
        options,
        trust(),
    )
    .await
}

/// post posts a signed registry event and returns the status and the JSON answer.
async fn post(log: &TestLog, signed: &SignedRegistryEvent) -> (u16, serde_json::Value) {
    let response = log
        .http
        .post(log.url("/v1/registry"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(signed).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn submit(
    log: &TestLog,
    submission: &huella_core::event::Submission,
) -> (u16, serde_json::Value) {
    let response = log.post(serde_json::to_vec(submission).unwrap()).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// sealed_by is the `n`-th test event whose requesting agency is `agency`, signed by `with`.
fn sealed_by(agency: &str, with: SignerKey, n: u64) -> huella_core::event::Submission {
    let (mut agencies, _) = agencies();
    let position = agencies
        .iter()
        .position(|a| a.id.as_str() == agency)
        .unwrap();
    agencies[position].key = with;
    (n..)
        .map(|i| {
            let now = at(NOW);
            let (from, json) = huella::demo::sample_event(&agencies, 7, i, &now);
            (from, json)
        })
        .find(|(from, _)| *from == position)
        .map(|(from, json)| {
            let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
            plain
                .seal(&agencies[from].key, at(NOW), huella::keyfile::random_salt)
                .unwrap()
        })
        .unwrap()
}

fn agency_key(id: &str) -> SignerKey {
    let (agencies, _) = agencies();
    agencies
        .into_iter()
        .find(|a| a.id.as_str() == id)
        .unwrap()
        .key
}

async fn verify(log: &TestLog, trust: TrustRoot) -> Result<audit::Verified, AuditError> {
    audit::verify_log(
        &Source::Http(log.client.clone()),
        &log.log_key,
        Some(Trusted {
            root: trust,
            from: "trust",
        }),
        &Sampling::every(),
        true,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_keeps_old_entries_valid_and_refuses_the_retired_key_naming_its_retirement() {
    let log = start().await;
    let old = agency_key("US-DHS-CBP");
    let new = key("cbp-2027.us.example", 120);
    let [us_a, us_b] = us_registrars();
    // Before the rotation, with the old key.
    assert_eq!(
        submit(&log, &sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), 0))
            .await
            .0,
        201
    );
    let register = RegistryEvent::KeyRegister {
        agency: AgencyId::new("US-DHS-CBP").unwrap(),
        country: CountryCode::new("US").unwrap(),
        role: Role::Submitter,
        key: new.verifier(),
        valid_from: at(NOW - 7_200_000),
    };
    let (status, receipt) = post(&log, &SignedRegistryEvent::sign(register, &[&us_a, &us_b])).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["index"], 1);
    // Both keys sign during the overlap.
    assert_eq!(
        submit(
            &log,
            &sealed_by("US-DHS-CBP", key("cbp-2027.us.example", 120), 10)
        )
        .await
        .0,
        201
    );
    assert_eq!(
        submit(&log, &sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), 20))
            .await
            .0,
        201
    );
    let retire = RegistryEvent::KeyRetire {
        key: old.verifier(),
        valid_until: at(NOW + 1_000),
    };
    let (status, receipt) = post(&log, &SignedRegistryEvent::sign(retire, &[&us_a, &us_b])).await;
    assert_eq!(status, 201, "{receipt}");
    let retired_at = receipt["index"].as_u64().unwrap();
    // Until valid_until, the old key still signs; from it on, refused, naming the key and
    // the retirement's index.
    assert_eq!(
        submit(&log, &sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), 30))
            .await
            .0,
        201
    );
    log.clock.set(NOW + 1_000);
    let (status, error) =
        submit(&log, &sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), 40)).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"], "unauthorized_key");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&old.verifier().key_ref().to_string())
            && message.contains(&format!("retired at log index {retired_at}")),
        "{message}"
    );
    assert_eq!(
        submit(
            &log,
            &sealed_by("US-DHS-CBP", key("cbp-2027.us.example", 120), 50)
        )
        .await
        .0,
        201
    );
    // GET /v1/keys shows both, with the changes' indices.
    let keys: serde_json::Value = log.get("/v1/keys").await.json().await.unwrap();
    let find = |id: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_id"] == id)
            .unwrap()
            .clone()
    };
    let old_json = find(&old.verifier().key_ref().to_string());
    assert_eq!(old_json["retired_at"], retired_at);
    assert_eq!(old_json["valid_until"], at(NOW + 1_000).to_string());
    assert_eq!(old_json["registered_at"], serde_json::Value::Null);
    let new_json = find(&new.verifier().key_ref().to_string());
    assert_eq!(new_json["registered_at"], 1);
    assert_eq!(new_json["role"], "submitter");
    assert_eq!(new_json["valid_until"], serde_json::Value::Null);
    // Every entry, before and after the rotation, verifies against the trust root.
    let verified = verify(&log, trust()).await.unwrap();
    assert_eq!(verified.summary.entries, 5);
    assert_eq!(verified.summary.registry_events["key_register"], 1);
    assert_eq!(verified.summary.registry_events["key_retire"], 1);
    assert!(verified.summary.compromised.is_empty());
    log.check_log().await;
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_is_refused_and_the_verifier_reports_its_exposed_entries() {
    let log = start().await;
    let dijin = agency_key("CO-POLICIA-DIJIN");
    // Forty events of every agency: DIJIN's among them, accessed within the hour before NOW.
    let (all, _) = agencies();
    for n in 0..40 {
        assert_eq!(submit(&log, &sealed(&all, n)).await.0, 201);
    }
    let since = NOW - 1_800_000;
    let revoke = RegistryEvent::KeyRevoke {
        key: dijin.verifier(),
        compromised_since: at(since),
        reason: Reason::new("signing laptop stolen").unwrap(),
    };
    let (status, receipt) =
        post(&log, &SignedRegistryEvent::sign(revoke, &[&co_registrar()])).await;
    assert_eq!(status, 201, "{receipt}");
    let revoked_at = receipt["index"].as_u64().unwrap();
    let (status, error) = submit(
        &log,
        &sealed_by("CO-POLICIA-DIJIN", agency_key("CO-POLICIA-DIJIN"), 100),
    )
    .await;
    assert_eq!(status, 403, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&format!("revoked at log index {revoked_at}")),
        "{error}"
    );
    // What the verifier must report, counted here from the leaves themselves.
    let leaves = log.ledger.store().leaves(0, revoked_at).unwrap();
    let exposed: Vec<u64> = leaves
        .iter()
        .filter_map(|l| match Leaf::parse(l).unwrap() {
            Leaf::Access(e)
                if e.event.key == *dijin.verifier().key_ref()
                    && e.event.accessed_at.unix_millis() >= since =>
            {
                Some(e.index.get())
            }
            _ => None,
        })
        .collect();
    assert!(!exposed.is_empty(), "the test needs exposed entries");
    let verified = verify(&log, trust()).await.unwrap();
    let compromised = &verified.summary.compromised;
    assert_eq!(compromised.len(), 1);
    let c = &compromised[0];
    assert_eq!(c.key, dijin.verifier().key_ref().to_string());
    assert_eq!(c.revoked_at, revoked_at);
    assert_eq!(c.entries, exposed.len() as u64);
    assert_eq!(c.first_index, exposed.first().copied());
    assert_eq!(c.last_index, exposed.last().copied());
    assert_eq!(c.reason, "signing laptop stolen");
    // The exposed entries are not hidden: they stay counted.
    assert_eq!(verified.summary.entries, 40);
    // The text and the JSON report carry them.
    let text = audit::render(&verified);
    assert!(
        text.contains(&format!("COMPROMISED KEY {}", c.key))
            && text.contains(&format!("{} entries it signed", c.entries))
            && text.contains(&format!(
                "indices {} to {}",
                exposed[0],
                exposed[exposed.len() - 1]
            )),
        "{text}"
    );
    let json = serde_json::to_value(&verified).unwrap();
    assert_eq!(json["summary"]["compromised"][0]["entries"], c.entries);
    assert_eq!(json["summary"]["compromised"][0]["revoked_at"], revoked_at);
    assert_eq!(json["summary"]["compromised"][0]["first_index"], exposed[0]);
    assert_eq!(
        json["summary"]["compromised"][0]["last_index"],
        exposed[exposed.len() - 1]
    );
    log.stop().await;
}

/// sealed_at is the `n`-th test event at `now` (accessed up to an hour before it).
fn sealed_at(n: u64, now: u64) -> huella_core::event::Submission {
    let (agencies, _) = agencies();
    let (from, json) = huella::demo::sample_event(&agencies, 7, n, &at(now));
    let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
    plain
        .seal(&agencies[from].key, at(now), huella::keyfile::random_salt)
        .unwrap()
}

/// The verifier counts exposed entries by day and recounts the day the compromise began from
/// a second read: entries over several days are counted exactly, whichever day they fall in.
#[tokio::test(flavor = "multi_thread")]
async fn exposed_entries_over_several_days_are_counted_exactly() {
    let log = start().await;
    let dijin = agency_key("CO-POLICIA-DIJIN");
    const DAY: u64 = 86_400_000;
    let mut n = 0;
    for day in 0..4 {
        let now = NOW + day * DAY;
        log.clock.set(now);
        for _ in 0..25 {
            assert_eq!(submit(&log, &sealed_at(n, now)).await.0, 201);
            n += 1;
        }
    }
    // Compromised since the middle of the second day's hour of events.
    let since = NOW + DAY - 1_800_000;
    let revoke = RegistryEvent::KeyRevoke {
        key: dijin.verifier(),
        compromised_since: at(since),
        reason: Reason::new("keys copied from a backup").unwrap(),
    };
    let (status, receipt) =
        post(&log, &SignedRegistryEvent::sign(revoke, &[&co_registrar()])).await;
    assert_eq!(status, 201, "{receipt}");
    let revoked_at = receipt["index"].as_u64().unwrap();
    let leaves = log.ledger.store().leaves(0, revoked_at).unwrap();
    let exposed: Vec<u64> = leaves
        .iter()
        .filter_map(|l| match Leaf::parse(l).unwrap() {
            Leaf::Access(e)
                if e.event.key == *dijin.verifier().key_ref()
                    && e.event.accessed_at.unix_millis() >= since =>
            {
                Some(e.index.get())
            }
            _ => None,
        })
        .collect();
    let in_first_day = exposed.iter().filter(|&&i| i < 50).count();
    assert!(
        in_first_day > 0 && in_first_day < exposed.len(),
        "the test needs exposed entries in the recounted day and after it"
    );
    for trust_from in ["http", "bundle"] {
        let verified = match trust_from {
            "http" => verify(&log, trust()).await.unwrap(),
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let out = dir.path().join("bundle");
                huella_verify::bundle::export(&log.client, &out, Some(&log.log_key), true)
                    .await
                    .unwrap();
                audit::verify_log(
                    &Source::Bundle(out),
                    &log.log_key,
                    Some(Trusted {
                        root: trust(),
                        from: "trust",
                    }),
                    &Sampling::off(),
                    true,
                )
                .await
                .unwrap()
            }
        };
        let c = &verified.summary.compromised[0];
        assert_eq!(c.entries, exposed.len() as u64, "{trust_from}");
        assert_eq!(c.first_index, exposed.first().copied(), "{trust_from}");
        assert_eq!(c.last_index, exposed.last().copied(), "{trust_from}");
        assert!(c.recount.is_none());
    }
    log.stop().await;
}

/// Late reports mix days in the index range of the day a compromise began: entries of the
/// next day there are counted once, not again by the recount (found by review: 56 reported
/// for 35 before).
#[tokio::test(flavor = "multi_thread")]
async fn exposed_entries_across_midnight_are_counted_once() {
    let log = start().await;
    let dijin = agency_key("CO-POLICIA-DIJIN");
    let midnight = NOW + 12 * 3_600_000;
    let now = midnight + 1_800_000;
    log.clock.set(now);
    for n in 0..200 {
        assert_eq!(submit(&log, &sealed_at(n, now)).await.0, 201);
    }
    let since = midnight - 900_000;
    let revoke = RegistryEvent::KeyRevoke {
        key: dijin.verifier(),
        compromised_since: at(since),
        reason: Reason::new("keys copied").unwrap(),
    };
    let (status, receipt) =
        post(&log, &SignedRegistryEvent::sign(revoke, &[&co_registrar()])).await;
    assert_eq!(status, 201, "{receipt}");
    let leaves = log.ledger.store().leaves(0, 200).unwrap();
    let times: Vec<(u64, u64)> = leaves
        .iter()
        .filter_map(|l| match Leaf::parse(l).unwrap() {
            Leaf::Access(e) if e.event.key == *dijin.verifier().key_ref() => {
                Some((e.index.get(), e.event.accessed_at.unix_millis()))
            }
            _ => None,
        })
        .collect();
    let exposed: Vec<u64> = times
        .iter()
        .filter(|(_, t)| *t >= since)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        times.iter().any(|(_, t)| (since..midnight).contains(t))
            && times.iter().any(|(_, t)| *t >= midnight),
        "the test needs exposed entries on both sides of midnight"
    );
    let verified = verify(&log, trust()).await.unwrap();
    let c = &verified.summary.compromised[0];
    assert_eq!(c.entries, exposed.len() as u64);
    assert_eq!(c.first_index, exposed.first().copied());
    assert_eq!(c.last_index, exposed.last().copied());
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_events_that_break_the_registrars_rules_get_a_clear_4xx_and_change_nothing() {
    let log = start().await;
    let [us_a, us_b] = us_registrars();
    let co = co_registrar();
    let stranger = key("registrar.co.example", 99);
    let fresh = key("new.us.example", 130).verifier();
    let register_us = RegistryEvent::KeyRegister {
        agency: AgencyId::new("US-DHS-CBP").unwrap(),
        country: CountryCode::new("US").unwrap(),
        role: Role::Submitter,
        key: fresh.clone(),
        valid_from: at(NOW),
    };
    let cbp = agency_key("US-DHS-CBP").verifier();
    let cases: Vec<(&str, SignedRegistryEvent, u16, &str, &str)> = vec![
        (
            "too few signatures",
            SignedRegistryEvent::sign(register_us.clone(), &[&us_a]),
            403,
            "registrar_signatures",
            "1 registrar signature(s) of US, but 2 are needed",
        ),
        (
            "a registrar of the other country",
            SignedRegistryEvent::sign(register_us.clone(), &[&us_a, &co]),
            403,
            "registrar_signatures",
            "is not a registrar of US",
        ),
        (
            "an unknown registrar",
            SignedRegistryEvent::sign(
                RegistryEvent::KeyRegister {
                    agency: AgencyId::new("CO-MIGRACION").unwrap(),
                    country: CountryCode::new("CO").unwrap(),
                    role: Role::Auditor,
                    key: fresh.clone(),
                    valid_from: at(NOW),
                },
                &[&stranger],
            ),
            403,
            "registrar_signatures",
            "is not a registrar of CO",
        ),
        (
            "the same registrar twice",
            SignedRegistryEvent::sign(register_us.clone(), &[&us_a, &us_a]),
            403,
            "registrar_signatures",
            "signed twice",
        ),
        (
            "a duplicate registration",
            SignedRegistryEvent::sign(
                RegistryEvent::KeyRegister {
                    agency: AgencyId::new("US-DHS-CBP").unwrap(),
                    country: CountryCode::new("US").unwrap(),
                    role: Role::Submitter,
                    key: cbp.clone(),
                    valid_from: at(NOW),
                },
                &[&us_a, &us_b],
            ),
            409,
            "registry_conflict",
            "is already registered (in the trust root)",
        ),
        (
            "revoking an unknown key",
            SignedRegistryEvent::sign(
                RegistryEvent::KeyRevoke {
                    key: fresh.clone(),
                    compromised_since: at(NOW),
                    reason: Reason::new("never registered").unwrap(),
                },
                &[&co],
            ),
            404,
            "unknown_key",
            "is not registered",
        ),
        (
            "registering a registrar's key",
            SignedRegistryEvent::sign(
                RegistryEvent::KeyRegister {
                    agency: AgencyId::new("CO-MIGRACION").unwrap(),
                    country: CountryCode::new("CO").unwrap(),
                    role: Role::Submitter,
                    key: co.verifier(),
                    valid_from: at(NOW),
                },
                &[&co],
            ),
            409,
            "registry_conflict",
            "a key has one role",
        ),
    ];
    let before_keys: serde_json::Value = log.get("/v1/keys").await.json().await.unwrap();
    let before_size = log.checkpoint().await.size;
    for (what, signed, status, code, says) in cases {
        let (got, error) = post(&log, &signed).await;
        assert_eq!(got, status, "{what}: {error}");
        assert_eq!(error["error"], code, "{what}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{what}: {error}"
        );
    }
    // A forged signature, and a body that is no registry event.
    let mut forged = SignedRegistryEvent::sign(register_us.clone(), &[&us_a, &us_b]);
    forged.signatures[1].signature.0[0] ^= 1;
    let (got, error) = post(&log, &forged).await;
    assert_eq!(
        (got, error["error"].as_str()),
        (403, Some("registrar_signatures")),
        "{error}"
    );
    let response = log
        .http
        .post(log.url("/v1/registry"))
        .body(r#"{"event":{"kind":"key_rename"},"signatures":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Nothing changed.
    assert_eq!(log.checkpoint().await.size, before_size);
    let after_keys: serde_json::Value = log.get("/v1/keys").await.json().await.unwrap();
    assert_eq!(before_keys, after_keys);
    // The valid one is logged once; its retry gets the original receipt.
    let valid = SignedRegistryEvent::sign(register_us, &[&us_a, &us_b]);
    let (status, first) = post(&log, &valid).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = post(&log, &valid).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first, again);
    // A retry must carry valid signatures too.
    let mut forged_retry = valid.clone();
    forged_retry.signatures[0].signature.0[5] ^= 1;
    let (status, error) = post(&log, &forged_retry).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (403, Some("registrar_signatures")),
        "{error}"
    );
    log.check_log().await;
    log.stop().await;
}

/// A log with registry events, exported to a bundle.
async fn bundle_with_registry_events() -> (tempfile::TempDir, Vec<u64>) {
    let log = start().await;
    let (all, _) = agencies();
    let [us_a, us_b] = us_registrars();
    let mut registry_indices = Vec::new();
    for n in 0..6 {
        assert_eq!(submit(&log, &sealed(&all, n)).await.0, 201);
    }
    let auditor_key = key("procuraduria.co.example", 140).verifier();
    let events = [
        SignedRegistryEvent::sign(
            RegistryEvent::KeyRegister {
                agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
                country: CountryCode::new("CO").unwrap(),
                role: Role::Auditor,
                key: auditor_key.clone(),
                valid_from: at(NOW),
            },
            &[&co_registrar()],
        ),
        SignedRegistryEvent::sign(
            RegistryEvent::KeyRetire {
                key: agency_key("US-DOJ-FBI-CJIS").verifier(),
                valid_until: at(NOW),
            },
            &[&us_a, &us_b],
        ),
    ];
    for (i, event) in events.iter().enumerate() {
        let (status, receipt) = post(&log, event).await;
        assert_eq!(status, 201, "{receipt}");
        registry_indices.push(receipt["index"].as_u64().unwrap());
        for n in 0..3 {
            let n = 100 + 10 * i as u64 + n;
            let mut event = sealed(&all, n);
            // CJIS is retired after the second change: its events no longer come in.
            if i == 1 && event.event.requesting_agency.as_str() == "US-DOJ-FBI-CJIS" {
                event = sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), n);
            }
            assert_eq!(submit(&log, &event).await.0, 201);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    huella_verify::bundle::export(&log.client, &out, Some(&log.log_key), true)
        .await
        .unwrap();
    log.stop().await;
    (dir, registry_indices)
}

async fn verify_bundle(
    dir: &std::path::Path,
    trust: TrustRoot,
) -> Result<audit::Verified, AuditError> {
    audit::verify_log(
        &Source::Bundle(dir.to_path_buf()),
        &log_signer().verifier(),
        Some(Trusted {
            root: trust,
            from: "trust",
        }),
        &Sampling::off(),
        true,
    )
    .await
}

fn failed_at(result: Result<audit::Verified, AuditError>) -> (u64, Failure, String) {
    match result {
        Err(AuditError::Entry(VerifyError::Entry {
            index,
            failure,
            reason,
        })) => (index, failure, reason),
        other => panic!(
            "expected an entry failure, got {:?}",
            other.map(|v| v.tree_size)
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_the_trust_root_or_dropping_or_reordering_a_registry_event_fails_naming_the_index()
{
    let (dir, registry_indices) = bundle_with_registry_events().await;
    let bundle = dir.path().join("bundle");
    let honest = verify_bundle(&bundle, trust()).await.unwrap();
    assert_eq!(honest.summary.registry_events.len(), 2);
    // The bundle carries the trust root; without --trust it is used (with a warning).
    let served = audit::verify_log(
        &Source::Bundle(bundle.clone()),
        &log_signer().verifier(),
        None,
        &Sampling::off(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(served.registry_source, "bundle");

    // A trust root whose Colombian registrar is another key: the registration fails.
    let mut edited = trust();
    edited.countries[0].registrars = vec![key("registrar.co.example", 150).verifier()];
    let (index, failure, reason) = failed_at(verify_bundle(&bundle, edited).await);
    assert_eq!(
        (index, failure),
        (registry_indices[0], Failure::Registry),
        "{reason}"
    );
    // A trust root that asks for more US registrars than signed.
    let mut edited = trust();
    edited.countries[1]
        .registrars
        .push(key("registrar-c.us.example", 151).verifier());
    edited.countries[1].threshold = Some(3);
    let (index, failure, _) = failed_at(verify_bundle(&bundle, edited).await);
    assert_eq!((index, failure), (registry_indices[1], Failure::Registry));
    // The older form, a registry without registrars, cannot accept registry events.
    let (index, failure, _) = failed_at(
        verify_bundle(
            &bundle,
            TrustRoot::for_registry(&log_signer().verifier(), agencies().1),
        )
        .await,
    );
    assert_eq!((index, failure), (registry_indices[0], Failure::Registry));

    // Dropping or reordering a registry event in the entries breaks the chain right there.
    let entries_path = bundle.join(huella_verify::bundle::ENTRIES_FILE);
    let lines: Vec<String> = std::fs::read_to_string(&entries_path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let write = |lines: &[String]| {
        std::fs::write(&entries_path, lines.join("\n") + "\n").unwrap();
    };
    let r = registry_indices[1] as usize;
    let mut dropped = lines.clone();
    dropped.remove(r);
    write(&dropped);
    let (index, failure, _) = failed_at(verify_bundle(&bundle, trust()).await);
    assert_eq!((index, failure), (r as u64, Failure::Chain));
    let mut swapped = lines.clone();
    swapped.swap(r, r + 1);
    write(&swapped);
    let (index, failure, _) = failed_at(verify_bundle(&bundle, trust()).await);
    assert_eq!((index, failure), (r as u64, Failure::Chain));
    // An entry of an unknown kind is refused naming the index and the kind.
    let mut unknown = lines.clone();
    unknown[r] = unknown[r].replace("\"key_retire\"", "\"key_rename\"");
    write(&unknown);
    let (index, failure, reason) = failed_at(verify_bundle(&bundle, trust()).await);
    assert_eq!((index, failure), (r as u64, Failure::UnknownKind));
    assert!(reason.contains("key_rename"), "{reason}");
}

// ---- Property: the log and a verifier replay the same registry. ----

/// Op is one registry change a test tries: which key (of a small pool), what, and who signs.
#[derive(Clone, Debug)]
enum Op {
    Register { key: usize, role: usize, from: u64 },
    Retire { key: usize, until: u64 },
    Revoke { key: usize, since: u64 },
}

#[derive(Clone, Copy, Debug)]
enum Signers {
    /// The registrars of the right country, all of them.
    Right,
    /// The other country's.
    Other,
    /// Too few (one of the two US registrars; nobody for Colombia).
    Few,
}

/// The pool: keys of US-DHS-CBP (US) and CO-MIGRACION (CO), two of them the trust root's.
fn pool(i: usize) -> (SignerKey, &'static str, &'static str) {
    match i {
        0 => (agency_key("US-DHS-CBP"), "US-DHS-CBP", "US"),
        1 => (agency_key("CO-MIGRACION"), "CO-MIGRACION", "CO"),
        2 => (key("p2.us.example", 160), "US-DHS-CBP", "US"),
        3 => (key("p3.co.example", 161), "CO-MIGRACION", "CO"),
        _ => (key("p4.co.example", 162), "CO-PROCURADURIA", "CO"),
    }
}

fn signed(op: &Op, signers: Signers) -> SignedRegistryEvent {
    let roles = [Role::Submitter, Role::Auditor, Role::ErasureAuthority];
    let (event, country) = match *op {
        Op::Register { key, role, from } => {
            let (k, agency, country) = pool(key);
            (
                RegistryEvent::KeyRegister {
                    agency: AgencyId::new(agency).unwrap(),
                    country: CountryCode::new(country).unwrap(),
                    role: roles[role],
                    key: k.verifier(),
                    valid_from: at(from),
                },
                country,
            )
        }
        Op::Retire { key, until } => {
            let (k, _, country) = pool(key);
            (
                RegistryEvent::KeyRetire {
                    key: k.verifier(),
                    valid_until: at(until),
                },
                country,
            )
        }
        Op::Revoke { key, since } => {
            let (k, _, country) = pool(key);
            (
                RegistryEvent::KeyRevoke {
                    key: k.verifier(),
                    compromised_since: at(since),
                    reason: Reason::new("test").unwrap(),
                },
                country,
            )
        }
    };
    let [us_a, us_b] = us_registrars();
    let co = co_registrar();
    let us = country == "US";
    let keys: Vec<&SignerKey> = match (signers, us) {
        (Signers::Right, true) => vec![&us_a, &us_b],
        (Signers::Right, false) => vec![&co],
        (Signers::Other, true) => vec![&co],
        (Signers::Other, false) => vec![&us_a, &us_b],
        (Signers::Few, true) => vec![&us_a],
        (Signers::Few, false) => vec![],
    };
    SignedRegistryEvent::sign(event, &keys)
}

fn op() -> impl Strategy<Value = (Op, Signers)> {
    let op = prop_oneof![
        (0..5usize, 0..3usize, 0..4_000u64).prop_map(|(key, role, from)| Op::Register {
            key,
            role,
            from
        }),
        (0..5usize, 0..4_000u64).prop_map(|(key, until)| Op::Retire { key, until }),
        (0..5usize, 0..4_000u64).prop_map(|(key, since)| Op::Revoke { key, since }),
    ];
    let signers = prop_oneof![
        6 => Just(Signers::Right),
        1 => Just(Signers::Other),
        1 => Just(Signers::Few)
    ];
    (op, signers)
}

fn open(store: Arc<MemoryStore>) -> Ledger {
    Ledger::open(
        store,
        log_signer(),
        trust(),
        Arc::new(ManualClock::new(NOW)),
        Options::default(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random sequences of registry changes, valid and not, go through the log's API; the
    /// registry the log publishes, the one it replays at start-up, and the one a verifier
    /// replays from the entries are the same.
    #[test]
    fn the_log_and_the_verifier_replay_the_same_registry(ops in prop::collection::vec(op(), 1..16)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let store = Arc::new(MemoryStore::new());
        let ledger = open(store.clone());
        let mut accepted = 0;
        for (op, signers) in &ops {
            let result = runtime.block_on(ledger.appender().submit_registry(signed(op, *signers)));
            if let Ok(s) = result && s.created {
                accepted += 1;
            }
        }
        let published = ledger.published();
        prop_assert_eq!(published.size, accepted);
        let served: KeyRegistry = (*ledger.keys()).clone();
        ledger.close();
        drop(ledger);
        // The verifier's replay.
        let mut auditor = Auditor::new(Arc::new(trust()));
        for leaf in store.leaves(0, published.size).unwrap() {
            let pushed = auditor.push(&leaf);
            prop_assert!(pushed.is_ok(), "{:?}", pushed.err());
            let registry_entry = matches!(Leaf::parse(&leaf).unwrap(), Leaf::Registry(RegistryEntry { .. }));
            prop_assert!(registry_entry, "only registry events were submitted");
        }
        prop_assert_eq!(auditor.keys(), &served);
        // The log's own replay at start-up.
        let reopened = open(store);
        prop_assert_eq!(&*reopened.keys(), &served);
        reopened.close();
    }
}

use common::run_huella as run;

/// `huella keys register|retire|revoke` sign with every registrar key given and submit;
/// `receipt verify --trust` checks the registrars' signatures; `verify --trust --json`
/// carries the compromised key; the monitor replays registry events across rounds.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_registers_retires_and_revokes_and_readers_replay_it() {
    let log = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let [us_a, us_b] = us_registrars();
    huella::keyfile::write_signer(&dir.path().join("co.key"), &co_registrar()).unwrap();
    huella::keyfile::write_signer(&dir.path().join("us-a.key"), &us_a).unwrap();
    huella::keyfile::write_signer(&dir.path().join("us-b.key"), &us_b).unwrap();
    std::fs::write(path("trust.json"), trust().to_json()).unwrap();
    let auditor = key("procuraduria.co.example", 170);
    huella::keyfile::write_signer(&dir.path().join("auditor.key"), &auditor).unwrap();
    let state = path("monitor.json");
    let log_key_text = log.log_key.to_string();
    let monitor = |extra: &[&str]| {
        let mut args = vec![
            "monitor",
            "--url",
            &log.base,
            "--log-key",
            &log_key_text,
            "--state",
            &state,
            "--trust",
        ];
        let trust_path = path("trust.json");
        let mut owned: Vec<String> = args.drain(..).map(str::to_string).collect();
        owned.push(trust_path);
        owned.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        run(&refs)
    };
    let (all, _) = agencies();
    for n in 0..5 {
        assert_eq!(submit(&log, &sealed(&all, n)).await.0, 201);
    }
    let out = monitor(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Register an auditor key (Colombia: one registrar), from its .pub file.
    let out = run(&[
        "keys",
        "register",
        "--url",
        &log.base,
        "--registrar-key",
        &path("co.key"),
        "--agency",
        "CO-PROCURADURIA",
        "--country",
        "CO",
        "--role",
        "auditor",
        "--key",
        &path("auditor.key.pub"),
        "--out",
        &path("register.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key_register logged at index 5"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Retiring a US key needs both US registrars: one alone is refused, naming the rule.
    let cjis = agency_key("US-DOJ-FBI-CJIS").verifier().to_string();
    let out = run(&[
        "keys",
        "retire",
        "--url",
        &log.base,
        "--registrar-key",
        &path("us-a.key"),
        "--key",
        &cjis,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("but 2 are needed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The two US registrars sign on separate machines: the first saves, the second adds its
    // signature and submits.
    let out = run(&[
        "keys",
        "retire",
        "--registrar-key",
        &path("us-a.key"),
        "--key",
        &cjis,
        "--valid-until",
        &at(NOW).to_string(),
        "--save",
        &path("retire.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "keys",
        "sign",
        &path("retire.json"),
        "--registrar-key",
        &path("us-a.key"),
        "--url",
        &log.base,
    ]);
    assert_eq!(out.status.code(), Some(2), "the same registrar twice");
    let out = run(&[
        "keys",
        "sign",
        &path("retire.json"),
        "--registrar-key",
        &path("us-b.key"),
        "--url",
        &log.base,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key_retire logged at index 6"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dijin = agency_key("CO-POLICIA-DIJIN").verifier().to_string();
    let out = run(&[
        "keys",
        "revoke",
        "--url",
        &log.base,
        "--registrar-key",
        &path("co.key"),
        "--key",
        &dijin,
        "--compromised-since",
        &at(NOW - 3_600_000).to_string(),
        "--reason",
        "token lost",
        "--out",
        &path("revoke.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The receipts: the registrars' signatures check against the trust root.
    for (receipt, what) in [
        ("register.json", "registration"),
        ("revoke.json", "revocation"),
    ] {
        let out = run(&[
            "receipt",
            "verify",
            &path(receipt),
            "--log-key",
            &log_key_text,
            "--trust",
            &path("trust.json"),
        ]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains(&format!("the {what}'s registrar signatures verified")),
            "{said}"
        );
    }
    // The whole log, with the trust root: the revoked key's entries are reported.
    let out = run(&[
        "verify",
        "--url",
        &log.base,
        "--log-key",
        &log_key_text,
        "--trust",
        &path("trust.json"),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["registry_source"], "trust");
    assert_eq!(report["summary"]["registry_events"]["key_revoke"], 1);
    let compromised = &report["summary"]["compromised"][0];
    assert_eq!(
        compromised["key"],
        agency_key("CO-POLICIA-DIJIN")
            .verifier()
            .key_ref()
            .to_string()
    );
    assert_eq!(compromised["revoked_at"], 7);
    // The older form cannot check a log with registry events, and says why.
    std::fs::write(path("registry.json"), agencies().1.to_json()).unwrap();
    let out = run(&[
        "verify",
        "--url",
        &log.base,
        "--log-key",
        &log_key_text,
        "--registry",
        &path("registry.json"),
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("older form") && said.contains("entry 5"),
        "{said}"
    );
    // A trust root for another log is refused before anything is read.
    let mut other = trust();
    other.log.key = key("other.example/log", 171).verifier();
    other.log.origin = "other.example/log".into();
    std::fs::write(path("other.json"), other.to_json()).unwrap();
    let out = run(&[
        "verify",
        "--url",
        &log.base,
        "--log-key",
        &log_key_text,
        "--trust",
        &path("other.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // The monitor's next round replays the new registry events and says what they changed;
    // the round after resumes from its state.
    let out = monitor(&[]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("registry event at index 5: key procuraduria.co.example")
            && said.contains("registry event at index 6")
            && said.contains("REVOKED (\"token lost\")"),
        "{said}"
    );
    let out = monitor(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("registry event"));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["registry_entries"].as_array().unwrap().len(), 3);
    // An event of the retired key, arriving after its valid_until, is refused...
    log.clock.set(NOW + 1);
    let (status, _) = submit(
        &log,
        &sealed_by("US-DOJ-FBI-CJIS", agency_key("US-DOJ-FBI-CJIS"), 300),
    )
    .await;
    assert_eq!(status, 403);
    // ...and new entries keep verifying round after round.
    assert_eq!(
        submit(
            &log,
            &sealed_by("US-DHS-CBP", agency_key("US-DHS-CBP"), 400)
        )
        .await
        .0,
        201
    );
    let out = monitor(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    log.stop().await;
}

/// `integrated_at` never goes back, whatever the clock does: a retired key's "arrival" is
/// the log's stamp, and a clock set back must not make it look earlier (found by review).
/// Across a restart too.
#[tokio::test(flavor = "multi_thread")]
async fn integrated_at_never_goes_back_when_the_clock_does() {
    let store = Arc::new(MemoryStore::new());
    let log = TestLog::start_trusted(
        store.clone(),
        Limits::default(),
        Options::default(),
        trust(),
    )
    .await;
    let (all, _) = agencies();
    log.clock.set(NOW + 5_000);
    assert_eq!(submit(&log, &sealed(&all, 0)).await.0, 201);
    log.clock.set(NOW);
    assert_eq!(submit(&log, &sealed(&all, 1)).await.0, 201);
    log.stop().await;
    let log = TestLog::start_trusted(
        store.clone(),
        Limits::default(),
        Options::default(),
        trust(),
    )
    .await;
    // The restarted log's clock is at NOW, before the last stamp.
    assert_eq!(submit(&log, &sealed(&all, 2)).await.0, 201);
    let stamps: Vec<u64> = store
        .leaves(0, 3)
        .unwrap()
        .iter()
        .map(|l| Leaf::parse(l).unwrap().integrated_at().unix_millis())
        .collect();
    assert_eq!(stamps, vec![NOW + 5_000; 3]);
    log.stop().await;
}
