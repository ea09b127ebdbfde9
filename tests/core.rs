//! Example-based tests of the pure core, driven through the public API the way a client, the
//! log and an outside verifier use it: a realistic access event is committed, signed,
//! submitted as JSON, authorized, chained into entries, put in a Merkle tree and handed back
//! as a receipt. Each step is then attacked the way a forger or a buggy client would.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use huella_core::admission::{self, AdmissionError, Window};
use huella_core::canonical::{self, FormatError, MAX_SAFE_INTEGER};
use huella_core::checkpoint::{Checkpoint, CheckpointError};
use huella_core::commitment::{
    Commitment, CommitmentError, Field, MAX_VALUE_BYTES, Opening, Salt, commit,
};
use huella_core::entry::{ChainError, Entry, GENESIS_PREV};
use huella_core::event::{
    AccessEvent, DataCategory, EventError, EventKind, Openings, Outcome, SignedEvent, Submission,
};
use huella_core::keys::{KeyName, SignerKey, VerifierKey};
use huella_core::merkle::{self, Frontier, Hash, ProofError, record_hash};
use huella_core::note::NoteError;
use huella_core::proof::{ReceiptError, TlogProof};
use huella_core::registry::{Holder, HolderError, Registry, RegistryError, Submitter};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Fixtures: one agency, one log, fixed seeds and salts, so every run signs the same bytes.

const AGENCY_KEY_NAME: &str = "huella.example/agency/US-DHS-CBP";
const LOG_KEY_NAME: &str = "huella.example/log";

fn signer(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
}

fn agency_key() -> SignerKey {
    signer(AGENCY_KEY_NAME, 0x11)
}

fn log_key() -> SignerKey {
    signer(LOG_KEY_NAME, 0x22)
}

fn openings() -> Openings {
    Openings {
        subject: Opening::new(Salt([0xa1; 32]), "CO-CC-1020304050"),
        requesting_user: Opening::new(Salt([0xa2; 32]), "officer 4711, San Juan PR"),
        record_ref: Opening::new(Salt([0xa3; 32]), "RNEC/2026/000123"),
        query: Opening::new(
            Salt([0xa4; 32]),
            "fingerprint template sha256:9f86d081884c7d659a2feaa0c55ad015",
        ),
    }
}

fn committed(field: Field, openings: &Openings) -> Commitment {
    let opening = openings.opening(field);
    commit(field, &opening.salt, &opening.value)
}

/// A realistic access event: every field set, commitments from the fixed openings.
fn event_for(key: &SignerKey, openings: &Openings) -> AccessEvent {
    AccessEvent {
        kind: EventKind::Access,
        key: key.key_ref().clone(),
        request_id: RequestId::new("CBP-2026-11-23/000042").unwrap(),
        requesting_agency: AgencyId::new("US-DHS-CBP").unwrap(),
        requesting_country: CountryCode::new("US").unwrap(),
        requesting_user: committed(Field::RequestingUser, openings),
        holder_agency: AgencyId::new("CO-RNEC").unwrap(),
        holder_country: CountryCode::new("CO").unwrap(),
        record_ref: committed(Field::RecordRef, openings),
        subject: committed(Field::Subject, openings),
        category: DataCategory::BiometricFingerprint,
        purpose: Purpose::new("border_screening").unwrap(),
        legal_basis: LegalBasis::new("Carta de Intención US-CO (2025), sección 3").unwrap(),
        accessed_at: Timestamp::parse("2026-11-23T19:13:00Z").unwrap(),
        query: committed(Field::Query, openings),
        outcome: Outcome::Hit,
        records_returned: Count::new(1).unwrap(),
    }
}

fn event() -> AccessEvent {
    event_for(&agency_key(), &openings())
}

fn signed() -> SignedEvent {
    SignedEvent::sign(event(), &agency_key()).unwrap()
}

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

// ---------------------------------------------------------------------------------------
// Event signatures.

#[test]
fn signed_event_verifies_with_the_agency_key() {
    let key = agency_key();
    let signed = signed();
    assert_eq!(signed.verify(&key.verifier()), Ok(()));
    // The signature covers the prefixed RFC 8785 form, so anyone can recompute it.
    assert!(
        key.verifier()
            .verify(&signed.event.signing_bytes(), &signed.signature.0)
    );
    assert!(
        signed
            .event
            .signing_bytes()
            .starts_with(b"huella/event/v1\n{\"accessed_at\":\"2026-11-23T19:13:00Z\",")
    );
}

#[test]
fn signed_event_fails_with_another_key() {
    let signed = signed();
    // Same name, other seed: another key id, so the event does not name it.
    let impostor = signer(AGENCY_KEY_NAME, 0x12);
    assert!(matches!(
        signed.verify(&impostor.verifier()),
        Err(EventError::WrongKey { .. })
    ));
    // An event relabelled to name the other key still carries the first key's signature.
    let mut relabelled = signed.clone();
    relabelled.event.key = impostor.key_ref().clone();
    assert_eq!(
        relabelled.verify(&impostor.verifier()),
        Err(EventError::BadSignature(impostor.key_ref().to_string()))
    );
}

#[test]
fn signed_event_fails_after_any_field_changes() {
    let key = agency_key().verifier();
    type Change = Box<dyn Fn(&mut AccessEvent)>;
    let changes: Vec<(&str, Change)> = vec![
        (
            "request_id",
            Box::new(|e| e.request_id = RequestId::new("CBP-2026-11-23/000043").unwrap()),
        ),
        (
            "requesting_agency",
            Box::new(|e| e.requesting_agency = AgencyId::new("US-DHS-ICE").unwrap()),
        ),
        (
            "requesting_country",
            Box::new(|e| e.requesting_country = CountryCode::new("MX").unwrap()),
        ),
        (
            "requesting_user",
            Box::new(|e| {
                e.requesting_user = commit(Field::RequestingUser, &Salt([0xa2; 32]), "officer 4712")
            }),
        ),
        (
            "holder_agency",
            Box::new(|e| e.holder_agency = AgencyId::new("CO-MIGRACION").unwrap()),
        ),
        (
            "holder_country",
            Box::new(|e| e.holder_country = CountryCode::new("CR").unwrap()),
        ),
        (
            "record_ref",
            Box::new(|e| e.record_ref = commit(Field::RecordRef, &Salt([0xa3; 32]), "other")),
        ),
        (
            "subject",
            Box::new(|e| e.subject = commit(Field::Subject, &Salt([0xa1; 32]), "CO-CC-1")),
        ),
        (
            "category",
            Box::new(|e| e.category = DataCategory::BiometricFace),
        ),
        (
            "purpose",
            Box::new(|e| e.purpose = Purpose::new("criminal_investigation").unwrap()),
        ),
        (
            "legal_basis",
            Box::new(|e| e.legal_basis = LegalBasis::new("none").unwrap()),
        ),
        (
            "accessed_at",
            Box::new(|e| e.accessed_at = Timestamp::parse("2026-11-23T19:13:01Z").unwrap()),
        ),
        (
            // The same instant written differently is different signed text.
            "accessed_at spelling",
            Box::new(|e| e.accessed_at = Timestamp::parse("2026-11-23T19:13:00.000Z").unwrap()),
        ),
        (
            "query",
            Box::new(|e| e.query = commit(Field::Query, &Salt([0xa4; 32]), "name: J. Doe")),
        ),
        ("outcome", Box::new(|e| e.outcome = Outcome::NoHit)),
        (
            "records_returned",
            Box::new(|e| e.records_returned = Count::new(2).unwrap()),
        ),
    ];
    for (name, change) in changes {
        let mut tampered = signed();
        change(&mut tampered.event);
        assert_ne!(
            tampered.event,
            event(),
            "{name}: the change changes nothing"
        );
        assert_eq!(
            tampered.verify(&key),
            Err(EventError::BadSignature(key.key_ref().to_string())),
            "{name}: tampered event verified"
        );
    }
}

#[test]
fn signed_event_fails_with_a_flipped_signature_bit() {
    let key = agency_key().verifier();
    for bit in [0, 7, 255, 256, 511] {
        let mut tampered = signed();
        flip_bit(&mut tampered.signature.0, bit);
        assert!(
            matches!(tampered.verify(&key), Err(EventError::BadSignature(_))),
            "bit {bit}"
        );
    }
}

#[test]
fn sign_refuses_an_event_naming_another_key() {
    let other = signer("huella.example/agency/CO-RNEC", 0x33);
    let event = event_for(&other, &openings());
    assert_eq!(
        SignedEvent::sign(event, &agency_key()),
        Err(EventError::WrongKey {
            named: other.key_ref().to_string(),
            checking: agency_key().key_ref().to_string(),
        })
    );
}

#[test]
fn outcome_and_record_count_must_agree() {
    let with = |outcome, n| {
        let mut e = event();
        e.outcome = outcome;
        e.records_returned = Count::new(n).unwrap();
        e.check()
    };
    assert_eq!(with(Outcome::Hit, 1), Ok(()));
    assert_eq!(with(Outcome::Hit, 250), Ok(()));
    assert_eq!(with(Outcome::NoHit, 0), Ok(()));
    assert_eq!(with(Outcome::Error, 0), Ok(()));
    for (outcome, n) in [
        (Outcome::Hit, 0),
        (Outcome::NoHit, 1),
        (Outcome::NoHit, 7),
        (Outcome::Error, 1),
        (Outcome::Error, MAX_SAFE_INTEGER),
    ] {
        assert!(
            matches!(with(outcome, n), Err(EventError::Inconsistent(_))),
            "{outcome:?} with {n} records was accepted"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Openings.

#[test]
fn openings_open_the_event_commitments() {
    assert_eq!(openings().check(&event()), Ok(()));
}

#[test]
fn openings_with_a_wrong_value_or_salt_name_the_field() {
    let event = event();

    let mut wrong_value = openings();
    wrong_value.record_ref.value = "RNEC/2026/000124".into();
    assert_eq!(
        wrong_value.check(&event),
        Err(CommitmentError::Mismatch("record_ref"))
    );

    let mut wrong_salt = openings();
    wrong_salt.query.salt.0[31] ^= 1;
    assert_eq!(
        wrong_salt.check(&event),
        Err(CommitmentError::Mismatch("query"))
    );

    let mut too_long = openings();
    too_long.requesting_user.value = "x".repeat(MAX_VALUE_BYTES + 1);
    assert_eq!(
        too_long.check(&event),
        Err(CommitmentError::TooLong("requesting_user"))
    );
}

#[test]
fn openings_swapped_between_fields_are_refused() {
    let event = event();

    let mut swapped = openings();
    std::mem::swap(&mut swapped.record_ref, &mut swapped.query);
    assert_eq!(
        swapped.check(&event),
        Err(CommitmentError::Mismatch("record_ref"))
    );

    // Even a commitment made with the very same salt and value for another field does not
    // open: each field has its own tag.
    let shared = Opening::new(Salt([7; 32]), "same text");
    let mut event = event;
    event.subject = commit(Field::Subject, &shared.salt, &shared.value);
    event.requesting_user = commit(Field::RequestingUser, &shared.salt, &shared.value);
    let mut same = openings();
    same.subject = shared.clone();
    same.requesting_user = shared;
    assert_eq!(same.check(&event), Ok(()));
    std::mem::swap(&mut event.subject, &mut event.requesting_user);
    assert_eq!(
        same.check(&event),
        Err(CommitmentError::Mismatch("subject"))
    );
}

// ---------------------------------------------------------------------------------------
// Submission JSON.

fn submission() -> Submission {
    let signed = signed();
    Submission {
        event: signed.event,
        signature: signed.signature,
        openings: openings(),
    }
}

fn submission_json() -> Value {
    serde_json::to_value(submission()).unwrap()
}

fn parse_submission(bytes: &[u8]) -> Result<Submission, FormatError> {
    canonical::parse::<Submission>(bytes)
}

/// parse_with sets one field, at a JSON pointer, of an otherwise valid submission.
fn parse_with(pointer: &str, value: Value) -> Result<Submission, FormatError> {
    let mut json = submission_json();
    *json
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
    parse_submission(&serde_json::to_vec(&json).unwrap())
}

fn assert_refused(result: Result<Submission, FormatError>, what: &str) {
    assert!(
        matches!(result, Err(FormatError::Json(_))),
        "{what} was accepted: {result:?}"
    );
}

#[test]
fn valid_submission_parses_and_verifies() {
    let text = serde_json::to_vec_pretty(&submission_json()).unwrap();
    let parsed = parse_submission(&text).unwrap();
    assert_eq!(parsed, submission());
    let (signed, openings) = parsed.into_parts();
    assert_eq!(signed.verify(&agency_key().verifier()), Ok(()));
    assert_eq!(openings.check(&signed.event), Ok(()));
    // The boundary values right next to the refused ones below are accepted.
    assert!(parse_with("/event/records_returned", json!(MAX_SAFE_INTEGER)).is_ok());
    assert!(
        parse_with(
            "/event/accessed_at",
            json!("2026-11-23T19:13:00.123456789Z")
        )
        .is_ok()
    );
}

#[test]
fn submission_refuses_unknown_fields() {
    for (pointer, name) in [
        ("", "comment"),
        ("/event", "officer_name"),
        ("/openings", "notes"),
        ("/openings/subject", "hint"),
    ] {
        let mut json = submission_json();
        json.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(name.into(), json!("x"));
        assert_refused(
            parse_submission(&serde_json::to_vec(&json).unwrap()),
            &format!("unknown field {name} in {pointer:?}"),
        );
    }
}

#[test]
fn submission_refuses_duplicate_keys() {
    let text = serde_json::to_string(&submission_json()).unwrap();
    let signature = B64.encode(submission().signature.0);
    assert!(text.starts_with("{\"event\":{\"accessed_at\":"));
    // Each duplicate repeats a field with its own value, so only the repetition is wrong.
    let top = text.replacen('{', &format!("{{\"signature\":\"{signature}\","), 1);
    let inner = text.replacen(
        "{\"event\":{",
        "{\"event\":{\"purpose\":\"border_screening\",",
        1,
    );
    let last = text.replacen(
        "\"purpose\":\"border_screening\"",
        "\"purpose\":\"border_screening\",\"purpose\":\"statistics\"",
        1,
    );
    let opening = text.replacen(
        "\"subject\":{",
        "\"subject\":{\"value\":\"CO-CC-1020304050\",",
        1,
    );
    for (what, bad) in [
        ("top level", top),
        ("inside event", inner),
        ("inside event, new value last", last),
        ("inside an opening", opening),
    ] {
        assert_ne!(bad, text, "{what}: fixture did not change");
        // Well-formed JSON (a lax parser keeps the last value), refused only for the repeat.
        assert!(serde_json::from_str::<Value>(&bad).is_ok(), "{what}: {bad}");
        assert_refused(
            parse_submission(bad.as_bytes()),
            &format!("duplicate {what}"),
        );
    }
}

#[test]
fn submission_refuses_missing_fields() {
    let json = submission_json();
    for pointer in ["", "/event", "/openings"] {
        for name in json.pointer(pointer).unwrap().as_object().unwrap().keys() {
            let mut without = json.clone();
            without
                .pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(name);
            assert_refused(
                parse_submission(&serde_json::to_vec(&without).unwrap()),
                &format!("missing {pointer}/{name}"),
            );
        }
    }
    for name in ["salt", "value"] {
        let mut without = json.clone();
        without["openings"]["query"]
            .as_object_mut()
            .unwrap()
            .remove(name);
        assert_refused(
            parse_submission(&serde_json::to_vec(&without).unwrap()),
            &format!("missing opening {name}"),
        );
    }
}

#[test]
fn submission_refuses_wrong_types() {
    for (pointer, value) in [
        ("/event", json!([])),
        ("/event/records_returned", json!("1")),
        ("/event/records_returned", json!(null)),
        ("/event/records_returned", json!(true)),
        ("/event/purpose", json!(7)),
        ("/event/key", json!({"name": AGENCY_KEY_NAME})),
        ("/event/subject", json!(null)),
        ("/event/kind", json!(["access"])),
        ("/event/outcome", json!(1)),
        ("/signature", json!(12)),
        ("/openings/subject", json!("CO-CC-1020304050")),
        ("/openings/subject/value", json!(1020304050)),
        // serde's derive would read a unit enum from a one-key object.
        ("/event/kind", json!({"access": null})),
        ("/event/category", json!({"biometric_face": null})),
        ("/event/outcome", json!({"hit": null})),
    ] {
        assert_refused(
            parse_with(pointer, value.clone()),
            &format!("{pointer} = {value}"),
        );
    }
}

#[test]
fn every_kind_category_and_outcome_reads_back_from_its_name() {
    fn round_trip<T>(value: T, name: &str)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        assert_eq!(serde_json::to_value(&value).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<T>(json!(name)).unwrap(), value);
    }
    round_trip(EventKind::Access, "access");
    for c in [
        DataCategory::BiometricFingerprint,
        DataCategory::BiometricFace,
        DataCategory::BiometricIris,
        DataCategory::Biographic,
        DataCategory::Other,
    ] {
        round_trip(c, c.as_str());
    }
    for o in [Outcome::Hit, Outcome::NoHit, Outcome::Error] {
        round_trip(o, o.as_str());
    }
    let error = serde_json::from_value::<Outcome>(json!("miss")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown outcome, expected one of hit, no_hit, error"
    );
}

#[test]
fn submission_refuses_records_returned_that_are_not_exact_integers() {
    for value in [
        json!(1.0),
        json!(0.5),
        json!(-1),
        json!(1u64 << 53),
        json!(u64::MAX),
    ] {
        assert_refused(
            parse_with("/event/records_returned", value.clone()),
            &format!("records_returned = {value}"),
        );
    }
    // Spellings serde_json's Value cannot produce.
    let text = serde_json::to_string(&submission_json()).unwrap();
    assert!(text.contains("\"records_returned\":1"));
    for spelling in ["1e0", "1E0", "1.0", "-0", "01", "9007199254740992", "1e400"] {
        let bad = text.replacen(
            "\"records_returned\":1",
            &format!("\"records_returned\":{spelling}"),
            1,
        );
        assert_refused(
            parse_submission(bad.as_bytes()),
            &format!("records_returned: {spelling}"),
        );
    }
}

#[test]
fn submission_refuses_malformed_text_values() {
    for (pointer, value) in [
        ("/event/requesting_country", "us"),
        ("/event/holder_country", "co"),
        ("/event/holder_country", "COL"),
        ("/event/requesting_agency", "US DHS"),
        ("/event/request_id", ""),
        ("/event/purpose", "Border_Screening"),
        ("/event/legal_basis", "line\nbreak"),
        ("/event/key", "no-plus-sign"),
        ("/event/key", "huella.example/agency/US-DHS-CBP+1234567"),
        ("/event/kind", "erasure"),
        ("/event/kind", "Access"),
        ("/event/category", "dna"),
        ("/event/category", "biometric"),
        ("/event/outcome", "miss"),
        ("/event/outcome", "Hit"),
        ("/event/outcome", "no-hit"),
    ] {
        assert_refused(
            parse_with(pointer, json!(value)),
            &format!("{pointer} = {value:?}"),
        );
    }
}

/// invisible_per_docs reads the code points docs/format.md §2 ("Visible text") refuses.
fn invisible_per_docs() -> Vec<(u32, u32)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let section = &docs[docs.find("**Visible text**").expect("a Visible text rule")..];
    let block = section.split("```").nth(1).expect("a list of code points");
    let hex = |h: &str| u32::from_str_radix(h, 16).unwrap();
    let ranges: Vec<(u32, u32)> = block
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|first| match first.split_once("..") {
            Some((from, to)) => (hex(from), hex(to)),
            None => (hex(first), hex(first)),
        })
        .collect();
    assert!(ranges.len() > 20, "{ranges:x?}");
    ranges
}

#[test]
fn free_text_refuses_exactly_the_invisible_characters_the_docs_list() {
    let listed = invisible_per_docs();
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let refused = listed.iter().any(|&(a, b)| (a..=b).contains(&u32::from(c)));
        let code = format!("U+{:04X}", u32::from(c));
        match LegalBasis::new(format!("art. 3{c}")) {
            Ok(_) => assert!(!refused, "legal_basis takes {code}, which the docs refuse"),
            Err(e) => {
                assert!(
                    refused,
                    "legal_basis refuses {code}, which the docs allow: {e}"
                );
                assert!(
                    e.to_string().contains(&format!("{code} at position 7")),
                    "{e}"
                );
            }
        }
        let name_ok = !c.is_whitespace() && c != '+' && !refused;
        assert_eq!(
            KeyName::new(format!("a{c}")).is_ok(),
            name_ok,
            "key name with {code}"
        );
    }
    // The reported cases, and one of each kind, among them.
    for c in [
        0x061C, 0x00AD, 0x180E, 0xFFF9, 0xE0041, 0x0007, 0x200B, 0xFE0F, 0x200F, 0x2066,
    ] {
        assert!(listed.iter().any(|&(a, b)| (a..=b).contains(&c)), "{c:04X}");
    }
}

#[test]
fn submission_refuses_bad_timestamps() {
    for value in [
        "",
        "2026-11-23",
        "2026-11-23T19:13Z",
        "2026-11-23T19:13:00",
        "2026-11-23T19:13:00z",
        "2026-11-23t19:13:00Z",
        "2026-11-23 19:13:00Z",
        "2026-11-23T19:13:00+00:00",
        "2026-11-23T19:13:00-05:00",
        "2026-11-23T19:13:00.1234567891Z",
        "2026-11-23T19:13:00,5Z",
        "2026-13-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-1-23T19:13:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T19:60:00Z",
        "2016-12-31T23:59:60Z",
        "1969-12-31T23:59:59Z",
        "+2026-11-23T19:13:00Z",
        " 2026-11-23T19:13:00Z",
    ] {
        assert_refused(
            parse_with("/event/accessed_at", json!(value)),
            &format!("accessed_at = {value:?}"),
        );
    }
}

#[test]
fn submission_refuses_a_fraction_without_digits() {
    assert!(parse_with("/event/accessed_at", json!("2026-11-23T19:13:00.5Z")).is_ok());
    assert_refused(
        parse_with("/event/accessed_at", json!("2026-11-23T19:13:00.Z")),
        "accessed_at = \"2026-11-23T19:13:00.Z\"",
    );
}

#[test]
fn submission_refuses_bad_signatures_and_salts() {
    let canonical_but_short = B64.encode([0u8; 63]);
    let canonical_but_long = B64.encode([0u8; 65]);
    let good = B64.encode(submission().signature.0);
    let unpadded = good.trim_end_matches('=').to_string();
    let url_safe = good.replace('+', "-").replace('/', "_");
    for value in [
        "",
        "not base64!",
        canonical_but_short.as_str(),
        canonical_but_long.as_str(),
        unpadded.as_str(),
        &format!("{good} "),
        &format!("{good}="),
    ] {
        assert_refused(
            parse_with("/signature", json!(value)),
            &format!("signature {value:?}"),
        );
    }
    if url_safe != good {
        assert_refused(
            parse_with("/signature", json!(url_safe)),
            "url-safe signature",
        );
    }

    let salt_31 = B64.encode([1u8; 31]);
    let salt_33 = B64.encode([1u8; 33]);
    // 32 bytes are 43 characters and one '='; the last character carries 2 spare bits.
    let salt_spare_bits = B64.encode([0u8; 32]).replacen("AAA=", "AAB=", 1);
    assert_ne!(salt_spare_bits, B64.encode([0u8; 32]));
    for value in [
        "",
        "%%%%",
        salt_31.as_str(),
        salt_33.as_str(),
        salt_spare_bits.as_str(),
    ] {
        assert_refused(
            parse_with("/openings/record_ref/salt", json!(value)),
            &format!("salt {value:?}"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Registry.

fn submitter(agency: &str, country: &str, key: &SignerKey) -> Submitter {
    Submitter {
        agency: AgencyId::new(agency).unwrap(),
        country: CountryCode::new(country).unwrap(),
        key: key.verifier(),
    }
}

fn registry() -> Registry {
    Registry {
        submitters: vec![
            submitter("US-DHS-CBP", "US", &agency_key()),
            submitter(
                "CO-MIGRACION",
                "CO",
                &signer("huella.example/agency/CO", 0x44),
            ),
        ],
        holders: vec![holder("CO-RNEC", "CO"), holder("US-DHS-CBP", "US")],
    }
}

fn holder(agency: &str, country: &str) -> Holder {
    Holder {
        agency: AgencyId::new(agency).unwrap(),
        country: CountryCode::new(country).unwrap(),
    }
}

#[test]
fn registry_round_trips_and_authorizes_the_registered_key() {
    let registry = registry();
    let parsed = Registry::parse(registry.to_json().as_bytes()).unwrap();
    assert_eq!(parsed, registry);
    assert_eq!(parsed.authorize(&event()), Ok(&agency_key().verifier()));
}

#[test]
fn registry_refuses_duplicate_keys() {
    let mut registry = registry();
    // The same key registered again, even for another agency, is ambiguous.
    registry
        .submitters
        .push(submitter("US-DHS-ICE", "US", &agency_key()));
    assert_eq!(
        Registry::parse(registry.to_json().as_bytes()),
        Err(RegistryError::Duplicate(agency_key().key_ref().to_string()))
    );
}

#[test]
fn registry_refuses_malformed_keys() {
    let good = agency_key().verifier().to_string();
    let (name_and_id, data) = good.rsplit_once('+').unwrap();
    let (name, _) = name_and_id.split_once('+').unwrap();
    let other = signer("other.example", 9).verifier().to_string();
    let other_data = other.rsplit_once('+').unwrap().1;
    for key in [
        String::new(),
        "huella.example/agency/US-DHS-CBP".to_string(),
        format!("{name}+00000000+{data}"),
        format!("{name}+{data}"),
        format!("{name_and_id}+{other_data}"),
        format!("{name_and_id}+{}", &data[1..]),
        format!("{name_and_id}+{}", B64.encode([2u8; 33])),
        good.replacen(name, "renamed.example", 1),
        good.replacen("US-DHS-CBP", "US DHS CBP", 1),
    ] {
        let json = json!({"version": 2, "holders": [], "submitters": [
            {"agency": "US-DHS-CBP", "country": "US", "key": key}
        ]});
        let result = Registry::parse(&serde_json::to_vec(&json).unwrap());
        assert!(
            matches!(result, Err(RegistryError::Format(_))),
            "key {key:?} accepted: {result:?}"
        );
    }
    let unknown_field = json!({"version": 2, "holders": [], "submitters": [
        {"agency": "US-DHS-CBP", "country": "US", "key": good, "role": "admin"}
    ]});
    assert!(matches!(
        Registry::parse(&serde_json::to_vec(&unknown_field).unwrap()),
        Err(RegistryError::Format(_))
    ));
}

#[test]
fn registry_refuses_unregistered_keys() {
    let stranger = signer("huella.example/agency/unknown", 0x55);
    let event = event_for(&stranger, &openings());
    assert_eq!(
        registry().authorize(&event),
        Err(RegistryError::UnknownKey(stranger.key_ref().to_string()))
    );
    // Same name as a registered key, other key id: still unknown.
    let lookalike = signer(AGENCY_KEY_NAME, 0x56);
    assert!(matches!(
        registry().authorize(&event_for(&lookalike, &openings())),
        Err(RegistryError::UnknownKey(_))
    ));
}

#[test]
fn registry_refuses_keys_registered_for_another_agency_or_country() {
    let key = agency_key();
    let for_other_agency = Registry {
        submitters: vec![submitter("US-DHS-ICE", "US", &key)],
        holders: vec![],
    };
    assert_eq!(
        for_other_agency.authorize(&event()),
        Err(RegistryError::NotAuthorized {
            key: key.key_ref().to_string(),
            agency: "US-DHS-ICE".into(),
            country: "US".into(),
            claimed_agency: "US-DHS-CBP".into(),
            claimed_country: "US".into(),
        })
    );
    let for_other_country = Registry {
        submitters: vec![submitter("US-DHS-CBP", "PR", &key)],
        holders: vec![],
    };
    assert_eq!(
        for_other_country.authorize(&event()),
        Err(RegistryError::NotAuthorized {
            key: key.key_ref().to_string(),
            agency: "US-DHS-CBP".into(),
            country: "PR".into(),
            claimed_agency: "US-DHS-CBP".into(),
            claimed_country: "US".into(),
        })
    );
    // The Colombian key cannot speak for CBP either.
    let co_key = signer("huella.example/agency/CO", 0x44);
    let mut claims_cbp = event_for(&co_key, &openings());
    claims_cbp.requesting_country = CountryCode::new("US").unwrap();
    assert!(matches!(
        registry().authorize(&claims_cbp),
        Err(RegistryError::NotAuthorized { .. })
    ));
}

#[test]
fn registry_lists_holders_in_a_versioned_format() {
    let registry = registry();
    let json: Value = serde_json::from_str(&registry.to_json()).unwrap();
    assert_eq!(json["version"], 2);
    assert_eq!(
        json["holders"],
        json!([{"agency": "CO-RNEC", "country": "CO"}, {"agency": "US-DHS-CBP", "country": "US"}])
    );
    // Version 1, without holders (or without a version), does not load: a log would have
    // nothing to check holders against. The error says what to add.
    let version_1 = json!({"submitters": json["submitters"]});
    let error = Registry::parse(&serde_json::to_vec(&version_1).unwrap()).unwrap_err();
    assert_eq!(error, RegistryError::OldFormat);
    assert!(error.to_string().contains("\"holders\""), "{error}");
    for (what, file) in [
        (
            "version 3",
            json!({"version": 3, "submitters": [], "holders": []}),
        ),
        ("no holders", json!({"version": 2, "submitters": []})),
        (
            "a holder without a country",
            json!({"version": 2, "submitters": [], "holders": [{"agency": "CO-RNEC"}]}),
        ),
        (
            "a holder with a key",
            json!({"version": 2, "submitters": [], "holders": [{"agency": "CO-RNEC", "country": "CO", "key": "x"}]}),
        ),
        (
            "a bad country",
            json!({"version": 2, "submitters": [], "holders": [{"agency": "CO-RNEC", "country": "co"}]}),
        ),
    ] {
        let result = Registry::parse(&serde_json::to_vec(&file).unwrap());
        assert!(
            matches!(result, Err(RegistryError::Format(_))),
            "{what}: {result:?}"
        );
    }
    // An agency is in one country: listing it twice is ambiguous.
    let mut twice = registry;
    twice.holders.push(holder("CO-RNEC", "US"));
    assert_eq!(
        Registry::parse(twice.to_json().as_bytes()),
        Err(RegistryError::DuplicateHolder("CO-RNEC".into()))
    );
}

#[test]
fn admission_refuses_unknown_holders_and_holders_in_another_country() {
    let now = Timestamp::parse("2026-11-23T19:14:00Z")
        .unwrap()
        .unix_millis();
    let admit = |change: &dyn Fn(&mut AccessEvent)| {
        let mut event = event();
        change(&mut event);
        let signed = SignedEvent::sign(event, &agency_key()).unwrap();
        let submission = Submission {
            event: signed.event,
            signature: signed.signature,
            openings: openings(),
        };
        let registry = registry();
        let keys = huella_core::keylog::KeyRegistry::from_registry(&registry);
        let rules = admission::Rules {
            keys: &keys,
            holders: &registry,
        };
        admission::admit(submission, rules, now, Window::default())
    };
    assert!(admit(&|_| {}).is_ok(), "CO-RNEC in CO is a known holder");
    assert_eq!(
        admit(&|e| e.holder_agency = AgencyId::new("XX-NOBODY").unwrap()).unwrap_err(),
        AdmissionError::Holder(HolderError::Unknown("XX-NOBODY".into()))
    );
    assert_eq!(
        admit(&|e| e.holder_country = CountryCode::new("US").unwrap()).unwrap_err(),
        AdmissionError::Holder(HolderError::WrongCountry {
            agency: "CO-RNEC".into(),
            country: "CO".into(),
            claimed: "US".into(),
        })
    );
    // A requesting agency is not a holder unless listed as one.
    let error = admit(&|e| e.holder_agency = AgencyId::new("CO-MIGRACION").unwrap());
    assert_eq!(
        error.unwrap_err().to_string(),
        "holder_agency CO-MIGRACION is not a known data holder (not in the registry's holders)"
    );
}

// ---------------------------------------------------------------------------------------
// Entries and the hash chain.

const T0_MILLIS: u64 = 1_795_461_180_000; // 2026-11-23T19:13:00Z

/// chain builds `n` entries, each with `prev` = the leaf hash of the one before.
fn chain(n: u64) -> Vec<Entry> {
    let key = agency_key();
    let mut entries: Vec<Entry> = Vec::new();
    for i in 0..n {
        let mut event = event();
        event.request_id = RequestId::new(format!("CBP-2026-11-23/{i:06}")).unwrap();
        event.records_returned = Count::new(i % 3 + 1).unwrap();
        let signed = SignedEvent::sign(event, &key).unwrap();
        let prev = entries.last().map_or(GENESIS_PREV, Entry::leaf_hash);
        entries.push(Entry::new(
            Count::new(i).unwrap(),
            Timestamp::from_unix_millis(T0_MILLIS + 1000 * i + 7),
            prev,
            signed,
        ));
    }
    entries
}

/// check_chain is what a verifier walking the whole log does.
fn check_chain(entries: &[Entry]) -> Result<(), ChainError> {
    let mut prev = GENESIS_PREV;
    for (position, entry) in entries.iter().enumerate() {
        entry.check_link(position as u64, &prev)?;
        prev = entry.leaf_hash();
    }
    Ok(())
}

#[test]
fn leaf_is_canonical_and_round_trips() {
    for entry in chain(3) {
        let leaf = entry.to_leaf();
        assert_eq!(Entry::parse_leaf(&leaf), Ok(entry.clone()));
        assert_eq!(leaf, canonical::to_canonical(&entry));
        assert_eq!(entry.leaf_hash(), record_hash(&leaf));
        assert_eq!(
            entry.signed_event().verify(&agency_key().verifier()),
            Ok(())
        );
        let text = std::str::from_utf8(&leaf).unwrap();
        assert!(text.starts_with("{\"event\":{\"accessed_at\":"), "{text}");
        assert!(
            text.contains("sección 3"),
            "non-ASCII is written raw: {text}"
        );
    }
}

#[test]
fn non_canonical_leaves_are_refused() {
    let entry = chain(1).remove(0);
    let leaf = String::from_utf8(entry.to_leaf()).unwrap();
    let value: Value = serde_json::from_str(&leaf).unwrap();
    let object = value.as_object().unwrap();
    let reordered = format!(
        "{{{}}}",
        object
            .iter()
            .rev()
            .map(|(k, v)| format!("{}:{}", json!(k), v))
            .collect::<Vec<_>>()
            .join(",")
    );
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let escaped = leaf.replacen('ó', "\\u00f3", 1);
    for (what, bad) in [
        ("reordered keys", reordered),
        ("pretty-printed", pretty),
        ("one space", leaf.replacen(':', ": ", 1)),
        ("trailing newline", format!("{leaf}\n")),
        ("leading space", format!(" {leaf}")),
        ("escaped non-ASCII", escaped),
        ("escaped ASCII", leaf.replacen("RNEC", "\\u0052NEC", 1)),
    ] {
        assert_ne!(bad, leaf, "{what}: fixture did not change");
        // Each still means the same entry; only the bytes are wrong.
        assert_eq!(
            canonical::parse::<Entry>(bad.as_bytes()),
            Ok(entry.clone()),
            "{what}"
        );
        assert_eq!(
            Entry::parse_leaf(bad.as_bytes()),
            Err(FormatError::NotCanonical),
            "{what}"
        );
    }
    assert!(matches!(
        Entry::parse_leaf(
            leaf.replacen("\"index\":0", "\"index\":0,\"index\":0", 1)
                .as_bytes()
        ),
        Err(FormatError::Json(_))
    ));
}

#[test]
fn chain_of_twenty_links_at_every_position() {
    let entries = chain(20);
    assert_eq!(entries[0].prev, GENESIS_PREV);
    for (i, entry) in entries.iter().enumerate() {
        let prev = if i == 0 {
            GENESIS_PREV
        } else {
            entries[i - 1].leaf_hash()
        };
        assert_eq!(entry.check_link(i as u64, &prev), Ok(()), "position {i}");
    }
    assert_eq!(check_chain(&entries), Ok(()));
}

#[test]
fn chain_with_a_wrong_prev_is_refused() {
    let mut entries = chain(20);
    let skipped = entries[5].leaf_hash();
    entries[7].prev = skipped;
    assert_eq!(
        check_chain(&entries),
        Err(ChainError::Prev {
            index: 7,
            found: skipped,
            expected: entries[6].leaf_hash(),
        })
    );
    // Entry 0 must point at the genesis value.
    let mut entries = chain(2);
    entries[0].prev = Hash([1; 32]);
    assert!(matches!(
        check_chain(&entries),
        Err(ChainError::Prev { index: 0, .. })
    ));
}

#[test]
fn chain_with_an_edited_entry_breaks_at_the_next_link() {
    let mut entries = chain(20);
    entries[11].event.purpose = Purpose::new("statistics").unwrap();
    assert!(matches!(
        check_chain(&entries),
        Err(ChainError::Prev { index: 12, .. })
    ));
}

#[test]
fn chain_with_a_wrong_index_is_refused() {
    let mut entries = chain(20);
    entries[9].index = Count::new(10).unwrap();
    assert_eq!(
        check_chain(&entries),
        Err(ChainError::Index {
            position: 9,
            claimed: 10,
        })
    );
    // Dropping an entry shows up as a gap in the indexes.
    let mut entries = chain(20);
    entries.remove(4);
    assert_eq!(
        check_chain(&entries),
        Err(ChainError::Index {
            position: 4,
            claimed: 5,
        })
    );
}

#[test]
fn chain_with_a_swapped_pair_is_refused() {
    let mut entries = chain(20);
    entries.swap(13, 14);
    assert_eq!(
        check_chain(&entries),
        Err(ChainError::Index {
            position: 13,
            claimed: 14,
        })
    );
    // Renumbering the swapped pair does not help: their prev links still point backwards.
    entries[13].index = Count::new(13).unwrap();
    entries[14].index = Count::new(14).unwrap();
    assert!(matches!(
        check_chain(&entries),
        Err(ChainError::Prev { index: 13, .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Receipts.

struct Log {
    entries: Vec<Entry>,
    stored: Vec<Hash>,
    roots: Vec<Hash>,
    checkpoint: String,
}

fn log(n: u64) -> Log {
    let entries = chain(n);
    let mut frontier = Frontier::new();
    let mut stored = Vec::new();
    let mut roots = vec![frontier.root()];
    for entry in &entries {
        for (index, hash) in frontier.append(entry.leaf_hash()) {
            assert_eq!(index, stored.len() as u64);
            stored.push(hash);
        }
        roots.push(frontier.root());
    }
    let checkpoint = Checkpoint::new(LOG_KEY_NAME, n, frontier.root())
        .sign(&log_key())
        .unwrap();
    Log {
        entries,
        stored,
        roots,
        checkpoint,
    }
}

impl Log {
    fn receipt(&self, index: u64) -> TlogProof {
        TlogProof {
            extra: Some(self.entries[index as usize].to_leaf()),
            index,
            proof: merkle::inclusion_proof(index, self.entries.len() as u64, &self.stored).unwrap(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

const LOG_SIZE: u64 = 13;

#[test]
fn receipts_round_trip_and_verify_for_every_entry() {
    let log = log(LOG_SIZE);
    let key = log_key().verifier();
    for index in 0..LOG_SIZE {
        let receipt = log.receipt(index);
        let text = receipt.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
        let parsed = TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed, receipt);
        let (entry, checkpoint) = parsed.verify_receipt(&key).unwrap();
        assert_eq!(
            entry,
            huella_core::entry::Leaf::Access(log.entries[index as usize].clone())
        );
        assert_eq!(checkpoint.size, LOG_SIZE);
        assert_eq!(checkpoint.root, log.roots[LOG_SIZE as usize]);
        assert_eq!(checkpoint.origin, LOG_KEY_NAME);
    }
}

#[test]
fn receipt_fails_with_a_wrong_log_key() {
    let log = log(LOG_SIZE);
    let receipt = log.receipt(3);
    // Same name, other key: its signature is not there.
    let impostor = signer(LOG_KEY_NAME, 0x23).verifier();
    assert_eq!(
        receipt.verify_receipt(&impostor),
        Err(ReceiptError::Checkpoint(CheckpointError::Note(
            NoteError::Unverified
        )))
    );
    // Another log's key: not the origin, and not the signer either.
    let other_log = signer("huella.example/other-log", 0x24).verifier();
    assert!(matches!(
        receipt.verify_receipt(&other_log),
        Err(ReceiptError::Checkpoint(_))
    ));
}

#[test]
fn receipt_fails_with_a_changed_leaf() {
    let log = log(LOG_SIZE);
    let key = log_key().verifier();
    let receipt = log.receipt(5);
    let leaf = receipt.extra.clone().unwrap();
    // A meaningful edit that keeps the leaf canonical: only the Merkle proof catches it.
    let edited = String::from_utf8(leaf.clone())
        .unwrap()
        .replacen("border_screening", "border_screeninh", 1)
        .into_bytes();
    assert_ne!(edited, leaf);
    let forged = TlogProof {
        extra: Some(edited),
        ..receipt.clone()
    };
    assert!(matches!(
        forged.verify_receipt(&key),
        Err(ReceiptError::Inclusion(ProofError::RootMismatch { .. }))
    ));
    // Any byte changed anywhere in the leaf is refused, one way or another.
    for position in 0..leaf.len() {
        let mut changed = leaf.clone();
        changed[position] ^= 0x01;
        let forged = TlogProof {
            extra: Some(changed),
            ..receipt.clone()
        };
        assert!(
            forged.verify_receipt(&key).is_err(),
            "leaf byte {position} changed and still verified"
        );
    }
    let no_leaf = TlogProof {
        extra: None,
        ..receipt
    };
    assert!(matches!(
        no_leaf.verify_receipt(&key),
        Err(ReceiptError::Leaf(_))
    ));
}

#[test]
fn receipt_fails_with_the_index_changed() {
    let log = log(LOG_SIZE);
    let key = log_key().verifier();
    let receipt = log.receipt(6);
    for index in [5, 7, LOG_SIZE, u64::MAX] {
        let moved = TlogProof {
            index,
            ..receipt.clone()
        };
        assert_eq!(
            moved.verify_receipt(&key),
            Err(ReceiptError::IndexMismatch {
                proof: index,
                entry: 6
            })
        );
        // Checking the leaf hash alone at the other position fails on the proof.
        assert!(matches!(
            moved.verify(&log.entries[6].leaf_hash(), &key),
            Err(ReceiptError::Inclusion(_))
        ));
    }
}

#[test]
fn receipt_fails_with_a_flipped_proof_hash() {
    let log = log(LOG_SIZE);
    let key = log_key().verifier();
    for index in 0..LOG_SIZE {
        let receipt = log.receipt(index);
        assert!(!receipt.proof.is_empty());
        for (i, bit) in (0..receipt.proof.len()).flat_map(|i| [(i, 0), (i, 255)]) {
            let mut flipped = receipt.clone();
            flip_bit(&mut flipped.proof[i].0, bit);
            assert!(
                matches!(
                    flipped.verify_receipt(&key),
                    Err(ReceiptError::Inclusion(ProofError::RootMismatch { .. }))
                ),
                "index {index}: proof hash {i} bit {bit}"
            );
        }
        let mut shorter = receipt.clone();
        shorter.proof.pop();
        assert!(matches!(
            shorter.verify_receipt(&key),
            Err(ReceiptError::Inclusion(_))
        ));
        let mut longer = receipt.clone();
        longer.proof.push(log.roots[1]);
        assert!(matches!(
            longer.verify_receipt(&key),
            Err(ReceiptError::Inclusion(_))
        ));
    }
}

#[test]
fn receipt_fails_with_a_checkpoint_for_another_size() {
    let log = log(LOG_SIZE);
    let key = log_key();
    for size in [1, 4, 8, LOG_SIZE - 1] {
        // A genuine, log-signed checkpoint, just not the one the proof was made for.
        let checkpoint = Checkpoint::new(LOG_KEY_NAME, size, log.roots[size as usize])
            .sign(&key)
            .unwrap();
        for index in 0..LOG_SIZE {
            let receipt = TlogProof {
                checkpoint: checkpoint.clone(),
                ..log.receipt(index)
            };
            assert!(
                matches!(
                    receipt.verify_receipt(&key.verifier()),
                    Err(ReceiptError::Inclusion(_))
                ),
                "index {index} verified against a checkpoint of size {size}"
            );
        }
    }
    // The right size with another root (a forked log) fails too.
    let forked = Checkpoint::new(LOG_KEY_NAME, LOG_SIZE, Hash([9; 32]))
        .sign(&key)
        .unwrap();
    let receipt = TlogProof {
        checkpoint: forked,
        ..log.receipt(2)
    };
    assert!(matches!(
        receipt.verify_receipt(&key.verifier()),
        Err(ReceiptError::Inclusion(ProofError::RootMismatch { .. }))
    ));
}

#[test]
fn receipt_parse_refuses_malformed_texts() {
    let log = log(LOG_SIZE);
    let good = log.receipt(4).to_text();
    let (head, checkpoint) = good.split_once("\n\n").unwrap();
    let lines: Vec<&str> = head.split('\n').collect();
    assert!(lines[2] == "index 4" && lines.len() > 3, "{lines:?}");
    let with_line = |i: usize, line: &str| {
        let mut l = lines.clone();
        l[i] = line;
        format!("{}\n\n{checkpoint}", l.join("\n"))
    };
    let proof_only = format!("{head}\n");
    let hash_line = lines[3].to_string();
    let cases = [
        (
            "missing header",
            good.replacen("c2sp.org/tlog-proof@v1\n", "", 1),
        ),
        ("other header", good.replacen("@v1", "@v2", 1)),
        ("empty", String::new()),
        ("bad index", with_line(2, "index four")),
        ("negative index", with_line(2, "index -4")),
        ("leading-zero index", with_line(2, "index 04")),
        ("index with a space", with_line(2, "index  4")),
        (
            "index too large",
            with_line(2, "index 18446744073709551616"),
        ),
        ("no index", with_line(2, "4")),
        ("non-base64 hash", with_line(3, "not a hash!")),
        ("short hash", with_line(3, &hash_line[4..])),
        ("bad extra", with_line(1, "extra ***")),
        ("missing blank line", proof_only),
        ("no blank line at all", good.replacen("\n\n", "\n", 1)),
        ("missing checkpoint", format!("{head}\n\n")),
    ];
    for (what, bad) in cases {
        assert!(
            matches!(
                TlogProof::parse(bad.as_bytes()),
                Err(ReceiptError::Malformed(_))
            ),
            "{what}: {bad:?}"
        );
    }
    let mut not_utf8 = good.clone().into_bytes();
    not_utf8.insert(25, 0xff);
    assert!(matches!(
        TlogProof::parse(&not_utf8),
        Err(ReceiptError::Malformed(_))
    ));
    // The unmangled text parses, so the refusals above are about the mangling.
    assert!(TlogProof::parse(good.as_bytes()).is_ok());
    // A receipt whose checkpoint is not a signed note parses but does not verify.
    let garbage = format!("{head}\n\nnot a note\n");
    let parsed = TlogProof::parse(garbage.as_bytes()).unwrap();
    assert!(matches!(
        parsed.verify_receipt(&log_key().verifier()),
        Err(ReceiptError::Checkpoint(_))
    ));
}

#[test]
fn verifier_key_from_a_signer_string_is_the_same_key() {
    // The receipt verifier is configured from a key string, not a SignerKey.
    let key = log_key();
    let parsed = VerifierKey::parse(&key.verifier().to_string()).unwrap();
    let log = log(3);
    assert!(log.receipt(2).verify_receipt(&parsed).is_ok());
    assert_eq!(
        SignerKey::parse(&key.to_private_string())
            .unwrap()
            .verifier(),
        parsed
    );
}

/// The trust root of docs/format.md §14.1 parses, and holds the keys its text says it was
/// made from: the §12.1 log key (seed 0x02), and the registrars `registrar.co.example`
/// (seed 0x03) and `registrar.us.example` (seed 0x04).
#[test]
fn the_documented_trust_root_parses_with_the_keys_it_names() {
    use huella_core::trust::TrustRoot;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let section = &docs[docs.find("### 14.1 Example").expect("§14.1")..];
    let block = section
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a JSON block in §14.1");
    let root = TrustRoot::parse(block.as_bytes()).unwrap();
    let key = |name: &str, seed: u8| {
        SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32]).verifier()
    };
    assert_eq!(root.log.origin, "huella.example/log");
    assert_eq!(root.log.key, key("huella.example/log", 2));
    let countries: Vec<(String, Vec<VerifierKey>, u64)> = root
        .countries
        .iter()
        .map(|c| (c.country.to_string(), c.registrars.clone(), c.threshold()))
        .collect();
    assert_eq!(
        countries,
        [
            ("CO".to_string(), vec![key("registrar.co.example", 3)], 1),
            ("US".to_string(), vec![key("registrar.us.example", 4)], 1),
        ]
    );
    assert_eq!(
        root.registry.submitters[0].key,
        key("us-dhs-cbp.example", 1)
    );
    // The shipped example is not canonical (it is laid out for reading); its canonical
    // form reads back the same.
    assert_eq!(TrustRoot::parse(root.to_json().as_bytes()).unwrap(), root);
}
