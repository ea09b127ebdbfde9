//! Known answers for the worked examples in `docs/format.md` §12 (access entries) and §15.6
//! (registry events): fixed seeds, salts and clocks give fixed keys, commitments,
//! signatures, leaves, checkpoints and receipts. If any of these change, the format changed
//! and every verifier written from the docs breaks, so this test must fail first.
//! `docs/verify_example.py` recomputes the same values without our code; keep the three in
//! step.

use std::sync::Arc;

use huella_core::canonical;
use huella_core::checkpoint::{self, Checkpoint};
use huella_core::commitment::{Field, Opening, Salt};
use huella_core::entry::{Entry, GENESIS_PREV, Leaf, RegistryEntry};
use huella_core::event::{
    AccessEvent, DataCategory, EventKind, Openings, Outcome, SignedEvent, Submission,
};
use huella_core::keylog::{REGISTRY_TAG, RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, KeyRef, SignerKey, VerifierKey};
use huella_core::merkle::{
    self, Frontier, Hash, ProofError, consistency_proof, inclusion_proof, verify_consistency,
    verify_inclusion,
};
use huella_core::proof::{ReceiptError, TlogProof};
use huella_core::registry::{Registry, RegistryError};
use huella_core::trust::TrustRoot;
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, Reason, RequestId, Timestamp,
};
use huella_core::verify::{Auditor, Failure, VerifyError};

// Keys: seed [1; 32] for the agency, [2; 32] for the log. Never use these for real.
const AGENCY_VERIFIER: &str =
    "us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
const AGENCY_SIGNER: &str =
    "PRIVATE+KEY+us-dhs-cbp.example+2e49a808+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";
const LOG_VERIFIER: &str =
    "huella.example/log+731bcf3c+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";
const LOG_SIGNER: &str =
    "PRIVATE+KEY+huella.example/log+731bcf3c+AQICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC";

// Entry 0: its commitments (salts 0x11, 0x22, 0x33, 0x44 repeated 32 times).
const COMMIT_SUBJECT_0: &str = "dvzsjQ/ckGcQPJfP1f92NPzi3YnjKBvW1aTVEDTeuuk=";
const COMMIT_REQUESTING_USER_0: &str = "0tm14qGj51KlczxlakCNVBNNvXLToSu35Rj3OJBLrbc=";
const COMMIT_RECORD_REF_0: &str = "QmyOZ4LsWyu5+GVGzHSQb8ZTYxeomDLHiIjmfVuaHaY=";
const COMMIT_QUERY_0: &str = "s1xIWNRvSdC+y8C73tlYkeKUVxlv88r1jT2Xzsiwavo=";

const SIGNING_BYTES_0: &str = concat!(
    "huella/event/v1\n",
    r#"{"accessed_at":"2026-11-23T19:13:00Z","category":"biometric_fingerprint","holder_agency":"CO-MIGRACION","holder_country":"CO","key":"us-dhs-cbp.example+2e49a808","kind":"access","legal_basis":"US-CO biometric data-sharing LoI (2025), sec. 3","outcome":"hit","purpose":"border_screening","query":"s1xIWNRvSdC+y8C73tlYkeKUVxlv88r1jT2Xzsiwavo=","record_ref":"QmyOZ4LsWyu5+GVGzHSQb8ZTYxeomDLHiIjmfVuaHaY=","records_returned":1,"request_id":"CBP-2026-000123","requesting_agency":"US-DHS-CBP","requesting_country":"US","requesting_user":"0tm14qGj51KlczxlakCNVBNNvXLToSu35Rj3OJBLrbc=","subject":"dvzsjQ/ckGcQPJfP1f92NPzi3YnjKBvW1aTVEDTeuuk="}"#,
);

const SIGNATURE_0: &str =
    "WthuokHYceW1L3cnIuj8zovC65lN4e/exX0bx5PTjCassr+5WWCb0rhxt6MgwPbDyY4hqXMKPXNpE9urTUFGBA==";

/// The POST /v1/entries body as docs/format.md shows it: pretty-printed, which the log
/// accepts, because it signs and hashes the canonical form, not the bytes sent.
const SUBMISSION_0: &str = r#"{
  "event": {
    "accessed_at": "2026-11-23T19:13:00Z",
    "category": "biometric_fingerprint",
    "holder_agency": "CO-MIGRACION",
    "holder_country": "CO",
    "key": "us-dhs-cbp.example+2e49a808",
    "kind": "access",
    "legal_basis": "US-CO biometric data-sharing LoI (2025), sec. 3",
    "outcome": "hit",
    "purpose": "border_screening",
    "query": "s1xIWNRvSdC+y8C73tlYkeKUVxlv88r1jT2Xzsiwavo=",
    "record_ref": "QmyOZ4LsWyu5+GVGzHSQb8ZTYxeomDLHiIjmfVuaHaY=",
    "records_returned": 1,
    "request_id": "CBP-2026-000123",
    "requesting_agency": "US-DHS-CBP",
    "requesting_country": "US",
    "requesting_user": "0tm14qGj51KlczxlakCNVBNNvXLToSu35Rj3OJBLrbc=",
    "subject": "dvzsjQ/ckGcQPJfP1f92NPzi3YnjKBvW1aTVEDTeuuk="
  },
  "openings": {
    "query": {
      "salt": "REREREREREREREREREREREREREREREREREREREREREQ=",
      "value": "fingerprint:right-index:template-7f3a9c"
    },
    "record_ref": {
      "salt": "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=",
      "value": "RNEC-BIO-000042"
    },
    "requesting_user": {
      "salt": "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=",
      "value": "officer-4711"
    },
    "subject": {
      "salt": "ERERERERERERERERERERERERERERERERERERERERERE=",
      "value": "CO-CC-1020304050"
    }
  },
  "signature": "WthuokHYceW1L3cnIuj8zovC65lN4e/exX0bx5PTjCassr+5WWCb0rhxt6MgwPbDyY4hqXMKPXNpE9urTUFGBA=="
}"#;

const LEAF_0: &str = r#"{"event":{"accessed_at":"2026-11-23T19:13:00Z","category":"biometric_fingerprint","holder_agency":"CO-MIGRACION","holder_country":"CO","key":"us-dhs-cbp.example+2e49a808","kind":"access","legal_basis":"US-CO biometric data-sharing LoI (2025), sec. 3","outcome":"hit","purpose":"border_screening","query":"s1xIWNRvSdC+y8C73tlYkeKUVxlv88r1jT2Xzsiwavo=","record_ref":"QmyOZ4LsWyu5+GVGzHSQb8ZTYxeomDLHiIjmfVuaHaY=","records_returned":1,"request_id":"CBP-2026-000123","requesting_agency":"US-DHS-CBP","requesting_country":"US","requesting_user":"0tm14qGj51KlczxlakCNVBNNvXLToSu35Rj3OJBLrbc=","subject":"dvzsjQ/ckGcQPJfP1f92NPzi3YnjKBvW1aTVEDTeuuk="},"index":0,"integrated_at":"2026-11-23T19:13:02.345Z","prev":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signature":"WthuokHYceW1L3cnIuj8zovC65lN4e/exX0bx5PTjCassr+5WWCb0rhxt6MgwPbDyY4hqXMKPXNpE9urTUFGBA=="}"#;

const LEAF_HASH_0: &str = "JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=";

const CHECKPOINT_1: &str = "huella.example/log
1
JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=

\u{2014} huella.example/log cxvPPCyayLmlT0UDw6/TIQensaXhkcdDp/oSFWTRBVN7vaFJn22dzQvZjUB2DbX3UvW2pI6WvppvET1OE+BQOK3DLwA=
";

const RECEIPT_0: &str = "c2sp.org/tlog-proof@v1
extra eyJldmVudCI6eyJhY2Nlc3NlZF9hdCI6IjIwMjYtMTEtMjNUMTk6MTM6MDBaIiwiY2F0ZWdvcnkiOiJiaW9tZXRyaWNfZmluZ2VycHJpbnQiLCJob2xkZXJfYWdlbmN5IjoiQ08tTUlHUkFDSU9OIiwiaG9sZGVyX2NvdW50cnkiOiJDTyIsImtleSI6InVzLWRocy1jYnAuZXhhbXBsZSsyZTQ5YTgwOCIsImtpbmQiOiJhY2Nlc3MiLCJsZWdhbF9iYXNpcyI6IlVTLUNPIGJpb21ldHJpYyBkYXRhLXNoYXJpbmcgTG9JICgyMDI1KSwgc2VjLiAzIiwib3V0Y29tZSI6ImhpdCIsInB1cnBvc2UiOiJib3JkZXJfc2NyZWVuaW5nIiwicXVlcnkiOiJzMXhJV05SdlNkQyt5OEM3M3RsWWtlS1VWeGx2ODhyMWpUMlh6c2l3YXZvPSIsInJlY29yZF9yZWYiOiJRbXlPWjRMc1d5dTUrR1ZHekhTUWI4WlRZeGVvbURMSGlJam1mVnVhSGFZPSIsInJlY29yZHNfcmV0dXJuZWQiOjEsInJlcXVlc3RfaWQiOiJDQlAtMjAyNi0wMDAxMjMiLCJyZXF1ZXN0aW5nX2FnZW5jeSI6IlVTLURIUy1DQlAiLCJyZXF1ZXN0aW5nX2NvdW50cnkiOiJVUyIsInJlcXVlc3RpbmdfdXNlciI6IjB0bTE0cUdqNTFLbGN6eGxha0NOVkJOTnZYTFRvU3UzNVJqM09KQkxyYmM9Iiwic3ViamVjdCI6ImR2enNqUS9ja0djUVBKZlAxZjkyTlB6aTNZbmpLQnZXMWFUVkVEVGV1dWs9In0sImluZGV4IjowLCJpbnRlZ3JhdGVkX2F0IjoiMjAyNi0xMS0yM1QxOToxMzowMi4zNDVaIiwicHJldiI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9Iiwic2lnbmF0dXJlIjoiV3RodW9rSFljZVcxTDNjbkl1ajh6b3ZDNjVsTjRlL2V4WDBieDVQVGpDYXNzcis1V1dDYjByaHh0Nk1nd1BiRHlZNGhxWE1LUFhOcEU5dXJUVUZHQkE9PSJ9
index 0

huella.example/log
1
JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=

\u{2014} huella.example/log cxvPPCyayLmlT0UDw6/TIQensaXhkcdDp/oSFWTRBVN7vaFJn22dzQvZjUB2DbX3UvW2pI6WvppvET1OE+BQOK3DLwA=
";

// Entry 1: same person and officer, fresh salts (0x55, 0x66, 0x77, 0x88), no hit.
const LEAF_1: &str = r#"{"event":{"accessed_at":"2026-11-23T19:20:00Z","category":"biometric_fingerprint","holder_agency":"CO-MIGRACION","holder_country":"CO","key":"us-dhs-cbp.example+2e49a808","kind":"access","legal_basis":"US-CO biometric data-sharing LoI (2025), sec. 3","outcome":"no_hit","purpose":"border_screening","query":"KiIWeXpWbTp9QLfVEiDxCYnMFuFIcUqV0bMJC7hZaI8=","record_ref":"dl2fxP0S/F8RuMz3wgUy5zgKGjQT3C77kq0A2Zn0RGo=","records_returned":0,"request_id":"CBP-2026-000124","requesting_agency":"US-DHS-CBP","requesting_country":"US","requesting_user":"bm0Hn/6zxEzwd6Did8BH/Tvh8c5FVP68EkH1D63Zt2M=","subject":"oNCy1CSi0NYNssvdBsUzz3hcG371nJQRUs1srI/MBd0="},"index":1,"integrated_at":"2026-11-23T19:20:01.007Z","prev":"JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=","signature":"Dd6LCGgrjzAt5f0eeYDxqQc0GDgjsTZVw9aJGrql03pXB88MVSNx16GuvpJrh/MxwYmd2aWGPfHoNZZpdas4BQ=="}"#;

const LEAF_HASH_1: &str = "NgpLlSA2hwK4tuY1TdyfalPgN127r9+5ub5MCXFCMtg=";

const ROOT_2: &str = "Z1uVKZ2GUungj5284DPs58fDC1R0MUGaYuX5wNaijHE=";

const CHECKPOINT_2: &str = "huella.example/log
2
Z1uVKZ2GUungj5284DPs58fDC1R0MUGaYuX5wNaijHE=

\u{2014} huella.example/log cxvPPAwxwE92IBvmLlQZlDaiXFemXlNAoqJ9vKdFR4CrGBG0HSmRFVLv9pUCt2WcI6fDG5BwrY9xEjlSjq2K5TdxaQs=
";

const REGISTRY: &str = r#"{"version": 2,
 "submitters": [
  {"agency": "US-DHS-CBP", "country": "US",
   "key": "us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"}
 ],
 "holders": [
  {"agency": "CO-MIGRACION", "country": "CO"}
 ]}"#;

fn agency_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("us-dhs-cbp.example").unwrap(), &[1u8; 32])
}

fn log_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("huella.example/log").unwrap(), &[2u8; 32])
}

fn b64(hash: &Hash) -> String {
    hash.to_base64()
}

/// The openings of one event; a real client draws each salt at random.
fn openings(salts: [u8; 4], values: [&str; 4]) -> Openings {
    Openings {
        subject: Opening::new(Salt([salts[0]; 32]), values[0]),
        requesting_user: Opening::new(Salt([salts[1]; 32]), values[1]),
        record_ref: Opening::new(Salt([salts[2]; 32]), values[2]),
        query: Opening::new(Salt([salts[3]; 32]), values[3]),
    }
}

fn event(
    key: &KeyRef,
    openings: &Openings,
    request_id: &str,
    accessed_at: &str,
    outcome: Outcome,
    records_returned: u64,
) -> AccessEvent {
    AccessEvent {
        kind: EventKind::Access,
        key: key.clone(),
        request_id: RequestId::new(request_id).unwrap(),
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
        accessed_at: Timestamp::parse(accessed_at).unwrap(),
        query: openings.query.commitment(Field::Query),
        outcome,
        records_returned: Count::new(records_returned).unwrap(),
    }
}

/// Everything the worked example builds, in the order the log builds it.
struct Example {
    openings0: Openings,
    signed0: SignedEvent,
    entry0: Entry,
    entry1: Entry,
    /// Stored hashes of the two-leaf tree, for proofs.
    stored: Vec<Hash>,
    root1: Hash,
    root2: Hash,
}

fn example() -> Example {
    let agency = agency_key();

    let openings0 = openings(
        [0x11, 0x22, 0x33, 0x44],
        [
            "CO-CC-1020304050",
            "officer-4711",
            "RNEC-BIO-000042",
            "fingerprint:right-index:template-7f3a9c",
        ],
    );
    let event0 = event(
        agency.key_ref(),
        &openings0,
        "CBP-2026-000123",
        "2026-11-23T19:13:00Z",
        Outcome::Hit,
        1,
    );
    let signed0 = SignedEvent::sign(event0, &agency).unwrap();
    let entry0 = Entry::new(
        Count::new(0).unwrap(),
        Timestamp::from_unix_millis(1_795_461_182_345),
        GENESIS_PREV,
        signed0.clone(),
    );

    let openings1 = openings(
        [0x55, 0x66, 0x77, 0x88],
        [
            "CO-CC-1020304050",
            "officer-4711",
            "none",
            "fingerprint:left-index:template-04be11",
        ],
    );
    let event1 = event(
        agency.key_ref(),
        &openings1,
        "CBP-2026-000124",
        "2026-11-23T19:20:00Z",
        Outcome::NoHit,
        0,
    );
    let entry1 = Entry::new(
        Count::new(1).unwrap(),
        Timestamp::from_unix_millis(1_795_461_601_007),
        entry0.leaf_hash(),
        SignedEvent::sign(event1, &agency).unwrap(),
    );

    let mut frontier = Frontier::new();
    let mut stored = Vec::new();
    stored.extend(
        frontier
            .append(entry0.leaf_hash())
            .into_iter()
            .map(|(_, h)| h),
    );
    let root1 = frontier.root();
    stored.extend(
        frontier
            .append(entry1.leaf_hash())
            .into_iter()
            .map(|(_, h)| h),
    );
    let root2 = frontier.root();

    Example {
        openings0,
        signed0,
        entry0,
        entry1,
        stored,
        root1,
        root2,
    }
}

#[test]
fn keys() {
    let (agency, log) = (agency_key(), log_key());
    assert_eq!(agency.verifier().to_string(), AGENCY_VERIFIER);
    assert_eq!(*agency.to_private_string(), AGENCY_SIGNER);
    assert_eq!(log.verifier().to_string(), LOG_VERIFIER);
    assert_eq!(*log.to_private_string(), LOG_SIGNER);
    assert_eq!(agency.key_ref().id, 0x2e49a808);
    assert_eq!(log.key_ref().id, 0x731bcf3c);
    assert_eq!(
        VerifierKey::parse(AGENCY_VERIFIER).unwrap(),
        agency.verifier()
    );
    assert_eq!(
        SignerKey::parse(LOG_SIGNER).unwrap().verifier(),
        log.verifier()
    );
}

#[test]
fn commitments_signing_bytes_and_signature() {
    let ex = example();
    let event = &ex.signed0.event;
    assert_eq!(b64(&event.subject.0), COMMIT_SUBJECT_0);
    assert_eq!(b64(&event.requesting_user.0), COMMIT_REQUESTING_USER_0);
    assert_eq!(b64(&event.record_ref.0), COMMIT_RECORD_REF_0);
    assert_eq!(b64(&event.query.0), COMMIT_QUERY_0);
    assert_eq!(event.check(), Ok(()));
    assert_eq!(ex.openings0.check(event), Ok(()));
    assert_eq!(event.signing_bytes(), SIGNING_BYTES_0.as_bytes());
    assert_eq!(
        serde_json::to_string(&ex.signed0.signature).unwrap(),
        format!("\"{SIGNATURE_0}\"")
    );
    ex.signed0.verify(&agency_key().verifier()).unwrap();
}

#[test]
fn submission_is_parsed_then_canonicalized() {
    let ex = example();
    let submission: Submission = canonical::parse(SUBMISSION_0.as_bytes()).unwrap();
    assert_eq!(submission.event, ex.signed0.event);
    assert_eq!(submission.signature, ex.signed0.signature);
    assert_eq!(submission.openings, ex.openings0);
    let (signed, openings) = submission.into_parts();
    signed.verify(&agency_key().verifier()).unwrap();
    openings.check(&signed.event).unwrap();
}

#[test]
fn registry_authorizes_the_agency_key_only_for_its_agency_and_country() {
    let ex = example();
    let registry = Registry::parse(REGISTRY.as_bytes()).unwrap();
    assert_eq!(
        registry.authorize(&ex.signed0.event).unwrap().to_string(),
        AGENCY_VERIFIER
    );
    let mut elsewhere = ex.signed0.event.clone();
    elsewhere.requesting_country = CountryCode::new("MX").unwrap();
    assert!(matches!(
        registry.authorize(&elsewhere),
        Err(RegistryError::NotAuthorized { .. })
    ));
    // The example's holder is listed, in its country.
    assert_eq!(registry.check_holder(&ex.signed0.event), Ok(()));
    // The registry is the one docs/format.md §7 shows, byte for byte.
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"));
    assert!(
        docs.unwrap().contains(REGISTRY),
        "docs/format.md §7 shows another registry"
    );
}

#[test]
fn first_leaf_and_its_hash() {
    let ex = example();
    assert_eq!(ex.entry0.to_leaf(), LEAF_0.as_bytes());
    assert_eq!(b64(&ex.entry0.leaf_hash()), LEAF_HASH_0);
    assert_eq!(b64(&merkle::record_hash(LEAF_0.as_bytes())), LEAF_HASH_0);
    assert_eq!(Entry::parse_leaf(LEAF_0.as_bytes()).unwrap(), ex.entry0);
    ex.entry0.check_link(0, &GENESIS_PREV).unwrap();
}

#[test]
fn checkpoint_and_receipt_at_size_one() {
    let ex = example();
    let log = log_key();
    assert_eq!(
        b64(&ex.root1),
        LEAF_HASH_0,
        "a one-leaf tree's root is its leaf hash"
    );
    let signed = Checkpoint::new(log.name().as_str(), 1, ex.root1)
        .sign(&log)
        .unwrap();
    assert_eq!(signed, CHECKPOINT_1);
    let (checkpoint, _) = checkpoint::open(CHECKPOINT_1.as_bytes(), &log.verifier()).unwrap();
    assert_eq!((checkpoint.size, checkpoint.root), (1, ex.root1));

    let receipt = TlogProof {
        extra: Some(ex.entry0.to_leaf()),
        index: 0,
        proof: inclusion_proof(0, 1, &ex.stored).unwrap(),
        checkpoint: signed,
    };
    assert_eq!(receipt.to_text(), RECEIPT_0);
    let (entry, _) = TlogProof::parse(RECEIPT_0.as_bytes())
        .unwrap()
        .verify_receipt(&log.verifier())
        .unwrap();
    assert_eq!(entry, huella_core::entry::Leaf::Access(ex.entry0));

    // What a holder would notice: a receipt whose leaf was edited (still canonical JSON) no
    // longer verifies, because the leaf hash leaves the Merkle path.
    let mut edited = TlogProof::parse(RECEIPT_0.as_bytes()).unwrap();
    edited.extra = Some(
        LEAF_0
            .replace(r#""records_returned":1"#, r#""records_returned":2"#)
            .into_bytes(),
    );
    assert!(matches!(
        edited.verify_receipt(&log.verifier()),
        Err(ReceiptError::Inclusion(ProofError::RootMismatch { .. }))
    ));
}

#[test]
fn second_leaf_chains_and_proves() {
    let ex = example();
    let log = log_key();
    assert_eq!(ex.entry1.to_leaf(), LEAF_1.as_bytes());
    assert_eq!(b64(&ex.entry1.leaf_hash()), LEAF_HASH_1);
    ex.entry1.check_link(1, &ex.entry0.leaf_hash()).unwrap();
    ex.entry1
        .signed_event()
        .verify(&agency_key().verifier())
        .unwrap();
    assert_ne!(
        ex.entry1.event.subject, ex.signed0.event.subject,
        "fresh salts: the same person gives unlinkable commitments"
    );

    assert_eq!(b64(&ex.root2), ROOT_2);
    assert_eq!(
        ex.root2,
        merkle::node_hash(&ex.entry0.leaf_hash(), &ex.entry1.leaf_hash())
    );
    let signed = Checkpoint::new(log.name().as_str(), 2, ex.root2)
        .sign(&log)
        .unwrap();
    assert_eq!(signed, CHECKPOINT_2);

    let inclusion = inclusion_proof(1, 2, &ex.stored).unwrap();
    let inclusion: Vec<String> = inclusion.iter().map(b64).collect();
    assert_eq!(inclusion, [LEAF_HASH_0]);
    let consistency = consistency_proof(1, 2, &ex.stored).unwrap();
    assert_eq!(
        consistency.iter().map(b64).collect::<Vec<_>>(),
        [LEAF_HASH_1]
    );
    verify_inclusion(
        1,
        2,
        &ex.entry1.leaf_hash(),
        &[ex.entry0.leaf_hash()],
        &ex.root2,
    )
    .unwrap();
    verify_consistency(1, 2, &ex.root1, &ex.root2, &consistency).unwrap();
}

#[test]
fn empty_tree_root() {
    assert_eq!(
        b64(&merkle::empty_root()),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}

// --- Registry events (docs/format.md §15.6) ---------------------------------------------
//
// The log of §12 runs with the trust root of §14.1. Entry 2 registers a key for
// CO-MIGRACION, signed by Colombia's registrar; entry 3 revokes the CBP key, signed by the
// United States' registrar, as in other hands since 19:15, which exposes entry 1.

// Registrar keys: seed [3; 32] for Colombia's, [4; 32] for the United States'; the key that
// entry 2 registers: seed [5; 32]. Never use these for real.
const REGISTRAR_CO_VERIFIER: &str =
    "registrar.co.example+41e2200a+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR";
const REGISTRAR_US_VERIFIER: &str =
    "registrar.us.example+7b7256cb+AcqTrBcFGHBx1nuDx/8O/oEI6OxFMFdddyaHkzPb2r58";
const NEW_KEY_VERIFIER: &str =
    "co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx";

/// The trust root of docs/format.md §14.1, byte for byte.
const TRUST: &str = r#"{
  "version": 1,
  "log": {
    "origin": "huella.example/log",
    "key": "huella.example/log+731bcf3c+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
  },
  "countries": [
    {"country": "CO", "registrars": ["registrar.co.example+41e2200a+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR"]},
    {"country": "US", "registrars": ["registrar.us.example+7b7256cb+AcqTrBcFGHBx1nuDx/8O/oEI6OxFMFdddyaHkzPb2r58"], "threshold": 1}
  ],
  "registry": {
    "version": 2,
    "submitters": [
      {"agency": "US-DHS-CBP", "country": "US", "key": "us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"}
    ],
    "holders": [
      {"agency": "CO-MIGRACION", "country": "CO"}
    ]
  }
}"#;

// Entry 2: key_register, signed by registrar.co.example.
const SIGNING_BYTES_2: &str = concat!(
    "huella/registry/v1\n",
    r#"{"agency":"CO-MIGRACION","country":"CO","key":"co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx","kind":"key_register","role":"submitter","valid_from":"2026-11-23T00:00:00Z"}"#,
);

const SIGNATURE_2: &str =
    "K9fKXIvnrSlBjRrV6Ou3UMN51OL2YaIwB6lBIOIwzpjuuiKxvFizGLfSXwXWDUOIC4ZVwJhQZXAtZ+he2H1ABg==";

/// SHA-256 of the signing bytes, in hex: what identifies the event for idempotency.
const SIGNING_HASH_2: &str = "c48736a4ac1fa33ed3ea567826d582316c7cdafb4b59421c9819735d123b1ddb";

/// The POST /v1/registry body as docs/format.md shows it: pretty-printed, members in any
/// order, which the log accepts, because signatures cover the canonical form.
const SIGNED_2: &str = r#"{
  "event": {
    "kind": "key_register",
    "agency": "CO-MIGRACION",
    "country": "CO",
    "role": "submitter",
    "key": "co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx",
    "valid_from": "2026-11-23T00:00:00Z"
  },
  "signatures": [
    {
      "key": "registrar.co.example+41e2200a",
      "signature": "K9fKXIvnrSlBjRrV6Ou3UMN51OL2YaIwB6lBIOIwzpjuuiKxvFizGLfSXwXWDUOIC4ZVwJhQZXAtZ+he2H1ABg=="
    }
  ]
}"#;

const LEAF_2: &str = r#"{"event":{"agency":"CO-MIGRACION","country":"CO","key":"co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx","kind":"key_register","role":"submitter","valid_from":"2026-11-23T00:00:00Z"},"index":2,"integrated_at":"2026-11-23T19:30:00.250Z","prev":"NgpLlSA2hwK4tuY1TdyfalPgN127r9+5ub5MCXFCMtg=","signatures":[{"key":"registrar.co.example+41e2200a","signature":"K9fKXIvnrSlBjRrV6Ou3UMN51OL2YaIwB6lBIOIwzpjuuiKxvFizGLfSXwXWDUOIC4ZVwJhQZXAtZ+he2H1ABg=="}]}"#;

const LEAF_HASH_2: &str = "NecDxTHTf8ldwbQufqd7FkqIruW5bCbfD1qHdGPxUXg=";

// Entry 3: key_revoke of the CBP key, signed by registrar.us.example.
const SIGNING_BYTES_3: &str = concat!(
    "huella/registry/v1\n",
    r#"{"compromised_since":"2026-11-23T19:15:00Z","key":"us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c","kind":"key_revoke","reason":"signing laptop reported stolen"}"#,
);

const SIGNATURE_3: &str =
    "jur2Bp8OZRFv2XKLa2QhUmgrB5QgyEDRPhNAXIGHsewImHgnpogVl+1GJXXhu4VHHVNNSsFGFQVGapRgbcfVAg==";

const LEAF_3: &str = r#"{"event":{"compromised_since":"2026-11-23T19:15:00Z","key":"us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c","kind":"key_revoke","reason":"signing laptop reported stolen"},"index":3,"integrated_at":"2026-11-23T19:45:00.125Z","prev":"NecDxTHTf8ldwbQufqd7FkqIruW5bCbfD1qHdGPxUXg=","signatures":[{"key":"registrar.us.example+7b7256cb","signature":"jur2Bp8OZRFv2XKLa2QhUmgrB5QgyEDRPhNAXIGHsewImHgnpogVl+1GJXXhu4VHHVNNSsFGFQVGapRgbcfVAg=="}]}"#;

const LEAF_HASH_3: &str = "AHBYBfooMW8EFj/s2dDgXVVfEURGjGgt4YiD16RLpKE=";

const ROOT_4: &str = "lSz+j9+A2afqiOrlgCj63mInfsq3DYepv4fbFKVVeUk=";

// What a verifier says, docs/format.md §15.6.
const REVOKED_AT_4: &str = "entry 4: key us-dhs-cbp.example+2e49a808 was revoked at log index 3";
const WRONG_REGISTRAR_2: &str = "entry 2: registry event key_register: key registrar.us.example+7b7256cb is not a registrar of CO";
const UNKNOWN_KIND_2: &str = r#"entry 2: unknown event kind "key_rename": this verifier knows access, key_register, key_retire, key_revoke, sealed_read, erasure and retention"#;

fn seeded(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
}

fn registrar_co() -> SignerKey {
    seeded("registrar.co.example", 3)
}

fn registrar_us() -> SignerKey {
    seeded("registrar.us.example", 4)
}

fn new_key() -> SignerKey {
    seeded("co-migracion.example", 5)
}

fn trust() -> Arc<TrustRoot> {
    Arc::new(TrustRoot::parse(TRUST.as_bytes()).unwrap())
}

fn register_event() -> RegistryEvent {
    RegistryEvent::KeyRegister {
        agency: AgencyId::new("CO-MIGRACION").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        role: Role::Submitter,
        key: new_key().verifier(),
        valid_from: Timestamp::parse("2026-11-23T00:00:00Z").unwrap(),
    }
}

/// Entries 2 and 3 of the example, signed as the log holds them.
fn registry_entries(ex: &Example) -> (RegistryEntry, RegistryEntry) {
    let entry2 = RegistryEntry::new(
        Count::new(2).unwrap(),
        Timestamp::parse("2026-11-23T19:30:00.250Z").unwrap(),
        ex.entry1.leaf_hash(),
        SignedRegistryEvent::sign(register_event(), &[&registrar_co()]),
    );
    let revoke = RegistryEvent::KeyRevoke {
        key: agency_key().verifier(),
        compromised_since: Timestamp::parse("2026-11-23T19:15:00Z").unwrap(),
        reason: Reason::new("signing laptop reported stolen").unwrap(),
    };
    let entry3 = RegistryEntry::new(
        Count::new(3).unwrap(),
        Timestamp::parse("2026-11-23T19:45:00.125Z").unwrap(),
        merkle::record_hash(&entry2.to_leaf()),
        SignedRegistryEvent::sign(revoke, &[&registrar_us()]),
    );
    (entry2, entry3)
}

/// An auditor over the example's trust root that has checked `leaves`.
fn replay(leaves: &[&[u8]]) -> Result<Auditor, VerifyError> {
    let mut auditor = Auditor::new(trust());
    for leaf in leaves {
        auditor.push(leaf)?;
    }
    Ok(auditor)
}

#[test]
fn registrar_keys_and_the_trust_root() {
    assert_eq!(registrar_co().verifier().to_string(), REGISTRAR_CO_VERIFIER);
    assert_eq!(registrar_us().verifier().to_string(), REGISTRAR_US_VERIFIER);
    assert_eq!(new_key().verifier().to_string(), NEW_KEY_VERIFIER);
    let trust = trust();
    assert_eq!(trust.log.key, log_key().verifier());
    let co = trust
        .registrars_of(&CountryCode::new("CO").unwrap())
        .unwrap();
    assert_eq!(co.registrars, [registrar_co().verifier()]);
    assert_eq!(co.threshold(), 1, "absent means 1");
}

#[test]
fn registry_events_sign_their_tagged_canonical_form() {
    assert_eq!(REGISTRY_TAG, b"huella/registry/v1\n");
    assert_eq!(REGISTRY_TAG.len(), 19);
    let event = register_event();
    assert_eq!(event.signing_bytes(), SIGNING_BYTES_2.as_bytes());
    assert_eq!(
        hex(&Hash::sha256(SIGNING_BYTES_2.as_bytes()).0),
        SIGNING_HASH_2
    );
    let signed = SignedRegistryEvent::sign(event.clone(), &[&registrar_co()]);
    assert_eq!(
        serde_json::to_string(&signed.signatures[0].signature).unwrap(),
        format!("\"{SIGNATURE_2}\"")
    );
    assert_eq!(
        signed.signatures[0].key.to_string(),
        "registrar.co.example+41e2200a"
    );
    // The body as the docs show it parses to the same signed event.
    let body: SignedRegistryEvent = canonical::parse(SIGNED_2.as_bytes()).unwrap();
    assert_eq!(body, signed);
    // Entry 3's event and signature.
    let (_, entry3) = registry_entries(&example());
    assert_eq!(entry3.event.signing_bytes(), SIGNING_BYTES_3.as_bytes());
    assert_eq!(
        serde_json::to_string(&entry3.signatures[0].signature).unwrap(),
        format!("\"{SIGNATURE_3}\"")
    );
}

#[test]
fn registry_leaves_their_hashes_and_the_root() {
    let ex = example();
    let (entry2, entry3) = registry_entries(&ex);
    assert_eq!(entry2.to_leaf(), LEAF_2.as_bytes());
    assert_eq!(b64(&merkle::record_hash(LEAF_2.as_bytes())), LEAF_HASH_2);
    assert_eq!(entry3.to_leaf(), LEAF_3.as_bytes());
    assert_eq!(b64(&merkle::record_hash(LEAF_3.as_bytes())), LEAF_HASH_3);
    // Leaves parse back as registry entries, which chain like any other.
    let leaf2 = Leaf::parse(LEAF_2.as_bytes()).unwrap();
    assert_eq!(leaf2, Leaf::Registry(entry2));
    assert_eq!(leaf2.kind(), "key_register");
    leaf2.check_link(2, &ex.entry1.leaf_hash()).unwrap();
    assert_eq!(Leaf::parse(LEAF_3.as_bytes()).unwrap().kind(), "key_revoke");
    let mut frontier = Frontier::new();
    for leaf in [LEAF_0, LEAF_1, LEAF_2, LEAF_3] {
        frontier.append(merkle::record_hash(leaf.as_bytes()));
    }
    assert_eq!(b64(&frontier.root()), ROOT_4);
}

/// The replay of §15.6: entries 0 to 3 verify; the revocation reports entry 1 (accessed at
/// 19:20, after compromised_since) and not entry 0 (19:13); an entry 4 signed by the revoked
/// key fails, naming the revocation.
#[test]
fn a_verifier_replays_the_registry_events() {
    let leaves: [&[u8]; 4] = [
        LEAF_0.as_bytes(),
        LEAF_1.as_bytes(),
        LEAF_2.as_bytes(),
        LEAF_3.as_bytes(),
    ];
    let auditor = replay(&leaves).unwrap();
    let mut summary = auditor.summary();
    // The auditor counts a key's entries by day of accessed_at; those of the day
    // compromised_since falls in are counted from a second read of their index range.
    for c in &mut summary.compromised {
        if let Some(mut recount) = c.recount.take() {
            for index in recount.first..=recount.last {
                recount.feed(index, leaves[index as usize]).unwrap();
            }
            recount.apply(c).unwrap();
        }
    }
    assert_eq!(summary.entries, 2, "access entries");
    assert_eq!(
        summary.registry_events.into_iter().collect::<Vec<_>>(),
        [
            ("key_register".to_string(), 1),
            ("key_revoke".to_string(), 1)
        ]
    );
    assert_eq!(summary.compromised.len(), 1);
    let c = &summary.compromised[0];
    assert_eq!(c.key, "us-dhs-cbp.example+2e49a808");
    assert_eq!(
        (c.agency.as_str(), c.country.as_str()),
        ("US-DHS-CBP", "US")
    );
    assert_eq!(c.compromised_since, "2026-11-23T19:15:00Z");
    assert_eq!(c.reason, "signing laptop reported stolen");
    assert_eq!(c.revoked_at, 3);
    assert_eq!(
        (c.entries, c.first_index, c.last_index),
        (1, Some(1), Some(1))
    );
    // The registry as of index 4: the new key is CO-MIGRACION's from its valid_from on.
    let record = auditor.keys().record(new_key().key_ref()).unwrap();
    assert_eq!(record.registered_at, Some(2));
    assert_eq!(record.role, Role::Submitter);

    // Entry 4: another CBP access signed with the revoked key.
    let openings4 = openings(
        [0x99, 0xaa, 0xbb, 0xcc],
        ["CO-CC-1020304050", "officer-4711", "none", "fingerprint"],
    );
    let event4 = event(
        agency_key().key_ref(),
        &openings4,
        "CBP-2026-000125",
        "2026-11-23T19:50:00Z",
        Outcome::NoHit,
        0,
    );
    let entry4 = Entry::new(
        Count::new(4).unwrap(),
        Timestamp::parse("2026-11-23T19:50:01.000Z").unwrap(),
        merkle::record_hash(LEAF_3.as_bytes()),
        SignedEvent::sign(event4, &agency_key()).unwrap(),
    );
    let mut auditor = auditor;
    let refused = auditor.push(&entry4.to_leaf()).unwrap_err();
    assert_eq!(refused.to_string(), REVOKED_AT_4);
    assert!(matches!(
        refused,
        VerifyError::Entry {
            index: 4,
            failure: Failure::Unauthorized,
            ..
        }
    ));
    // Checked against the trust root alone, without the revocation, it would pass: the
    // replay is what refuses it.
    let mut unrevoked = replay(&leaves[..3]).unwrap();
    let mut relinked = entry4.clone();
    relinked.index = Count::new(3).unwrap();
    relinked.prev = merkle::record_hash(LEAF_2.as_bytes());
    unrevoked.push(&relinked.to_leaf()).unwrap();
}

/// What a verifier says when a registry entry breaks a rule, or has a kind it does not know.
#[test]
fn a_verifier_names_the_index_of_a_bad_registry_entry() {
    let ex = example();
    let prefix: [&[u8]; 2] = [LEAF_0.as_bytes(), LEAF_1.as_bytes()];
    // Signed by the other country's registrar.
    let wrong = RegistryEntry::new(
        Count::new(2).unwrap(),
        Timestamp::parse("2026-11-23T19:30:00.250Z").unwrap(),
        ex.entry1.leaf_hash(),
        SignedRegistryEvent::sign(register_event(), &[&registrar_us()]),
    );
    let mut auditor = replay(&prefix).unwrap();
    let refused = auditor.push(&wrong.to_leaf()).unwrap_err();
    assert_eq!(refused.to_string(), WRONG_REGISTRAR_2);
    assert!(matches!(
        refused,
        VerifyError::Entry {
            index: 2,
            failure: Failure::Registry,
            ..
        }
    ));
    // A kind this verifier does not know: it fails, naming the index and the kind.
    let renamed = LEAF_2.replace("key_register", "key_rename");
    let refused = auditor.push(renamed.as_bytes()).unwrap_err();
    assert_eq!(refused.to_string(), UNKNOWN_KIND_2);
    assert!(matches!(
        refused,
        VerifyError::Entry {
            index: 2,
            failure: Failure::UnknownKind,
            ..
        }
    ));
    // The real entry 2 still verifies after both refusals: they changed nothing.
    auditor.push(LEAF_2.as_bytes()).unwrap();
}

/// Every value above is printed in docs/format.md, byte for byte.
#[test]
fn the_registry_example_is_the_one_in_the_docs() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md")).unwrap();
    for (what, value) in [
        ("registrar CO", REGISTRAR_CO_VERIFIER),
        ("registrar US", REGISTRAR_US_VERIFIER),
        ("new key", NEW_KEY_VERIFIER),
        ("trust root", TRUST),
        ("signing bytes 2", SIGNING_BYTES_2),
        ("signature 2", SIGNATURE_2),
        ("signing hash 2", SIGNING_HASH_2),
        ("body 2", SIGNED_2),
        ("leaf 2", LEAF_2),
        ("leaf hash 2", LEAF_HASH_2),
        ("signing bytes 3", SIGNING_BYTES_3),
        ("signature 3", SIGNATURE_3),
        ("leaf 3", LEAF_3),
        ("leaf hash 3", LEAF_HASH_3),
        ("root 4", ROOT_4),
        ("revoked at 4", REVOKED_AT_4),
        ("wrong registrar", WRONG_REGISTRAR_2),
        ("unknown kind", UNKNOWN_KIND_2),
    ] {
        assert!(
            docs.contains(value),
            "docs/format.md lacks the {what}: {value}"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// Entry 4, the other way the example may go on: Colombia's registrar retires the key entry
// 2 registered, planned (docs/format.md §15.6, "A retirement").
const SIGNING_BYTES_4_RETIRE: &str = concat!(
    "huella/registry/v1\n",
    r#"{"key":"co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx","kind":"key_retire","valid_until":"2026-12-31T00:00:00Z"}"#,
);

const SIGNATURE_4_RETIRE: &str =
    "KDGUIdVKYXwj+EghQLKGZ/RlDUZ59lRzb/s136UoH6pkBNjOL0RFkRu8VUwvUndTQ7YzBRLboSwFJceCkfzgDA==";

const LEAF_4_RETIRE: &str = r#"{"event":{"key":"co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx","kind":"key_retire","valid_until":"2026-12-31T00:00:00Z"},"index":4,"integrated_at":"2026-11-23T20:00:00.000Z","prev":"AHBYBfooMW8EFj/s2dDgXVVfEURGjGgt4YiD16RLpKE=","signatures":[{"key":"registrar.co.example+41e2200a","signature":"KDGUIdVKYXwj+EghQLKGZ/RlDUZ59lRzb/s136UoH6pkBNjOL0RFkRu8VUwvUndTQ7YzBRLboSwFJceCkfzgDA=="}]}"#;

const LEAF_HASH_4_RETIRE: &str = "3pBRkI6i51EZSnuRdAlcPpetoeweL2p7Yo9PeFTmIO0=";

/// A retirement (entry 4 instead of another access): its signed form, its leaf, and the
/// replay, which keeps the key's earlier entries valid and ends it at `valid_until`.
#[test]
fn a_retirement_signs_its_tagged_canonical_form_and_replays() {
    let retire = RegistryEvent::KeyRetire {
        key: new_key().verifier(),
        valid_until: Timestamp::parse("2026-12-31T00:00:00Z").unwrap(),
    };
    assert_eq!(retire.signing_bytes(), SIGNING_BYTES_4_RETIRE.as_bytes());
    let entry4 = RegistryEntry::new(
        Count::new(4).unwrap(),
        Timestamp::parse("2026-11-23T20:00:00.000Z").unwrap(),
        merkle::record_hash(LEAF_3.as_bytes()),
        SignedRegistryEvent::sign(retire, &[&registrar_co()]),
    );
    assert_eq!(
        serde_json::to_string(&entry4.signatures[0].signature).unwrap(),
        format!("\"{SIGNATURE_4_RETIRE}\"")
    );
    assert_eq!(entry4.to_leaf(), LEAF_4_RETIRE.as_bytes());
    assert_eq!(
        b64(&merkle::record_hash(LEAF_4_RETIRE.as_bytes())),
        LEAF_HASH_4_RETIRE
    );
    let leaf = Leaf::parse(LEAF_4_RETIRE.as_bytes()).unwrap();
    assert_eq!(leaf.kind(), "key_retire");
    let auditor = replay(&[
        LEAF_0.as_bytes(),
        LEAF_1.as_bytes(),
        LEAF_2.as_bytes(),
        LEAF_3.as_bytes(),
        LEAF_4_RETIRE.as_bytes(),
    ])
    .unwrap();
    let record = auditor.keys().record(new_key().key_ref()).unwrap();
    assert_eq!(
        record.retired,
        Some((Timestamp::parse("2026-12-31T00:00:00Z").unwrap(), 4))
    );
    assert!(record.revoked.is_none());
}
