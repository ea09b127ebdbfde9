//! Issue #15, first step: the public records of the sealed half (sealed reads, erasure
//! orders, retention notices) are entries every verifier checks: the signer's key in the
//! right role and valid at the event's time, as of the entry's index; its signature; and
//! the target it names. Logs are built here by hand, with the core alone.

use std::sync::Arc;

use huella_core::commitment::Salt;
use huella_core::entry::{GENESIS_PREV, Leaf, RegistryEntry};
use huella_core::keylog::{RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::{Hash, record_hash};
use huella_core::registry::Registry;
use huella_core::sealed::{
    Erasure, ErasureKind, Recipient, Retention, RetentionKind, SealedRead, SealedReadKind, Search,
    SearchField, SignedEntry, sign,
};
use huella_core::trust::{LogId, Registrars, TrustRoot};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};
use huella_core::verify::{Auditor, Failure, VerifyError};

fn key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
}

fn log_key() -> SignerKey {
    key("huella.example/log", 2)
}

fn registrar() -> SignerKey {
    key("registrar.co.example", 3)
}

fn auditor() -> SignerKey {
    key("procuraduria.co.example", 11)
}

fn authority() -> SignerKey {
    key("sic.co.example", 12)
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn trust() -> TrustRoot {
    TrustRoot {
        log: LogId {
            origin: "huella.example/log".into(),
            key: log_key().verifier(),
        },
        countries: vec![Registrars {
            country: CountryCode::new("CO").unwrap(),
            registrars: vec![registrar().verifier()],
            threshold: None,
        }],
        registry: Registry::default(),
    }
}

/// Log builds leaves with their index, `integrated_at` and `prev`.
struct Log {
    leaves: Vec<Vec<u8>>,
}

impl Log {
    fn prev(&self) -> Hash {
        self.leaves.last().map_or(GENESIS_PREV, |l| record_hash(l))
    }

    fn index(&self) -> Count {
        Count::new(self.leaves.len() as u64).unwrap()
    }

    fn register(&mut self, agency: &str, role: Role, signer: &SignerKey, from: &str) {
        let event = RegistryEvent::KeyRegister {
            agency: AgencyId::new(agency).unwrap(),
            country: CountryCode::new("CO").unwrap(),
            role,
            key: signer.verifier(),
            valid_from: at(from),
        };
        let entry = RegistryEntry::new(
            self.index(),
            at("2026-11-23T10:00:00.000Z"),
            self.prev(),
            SignedRegistryEvent::sign(event, &[&registrar()]),
        );
        self.leaves.push(entry.to_leaf());
    }

    fn signed<E: huella_core::sealed::Signable>(&self, event: E, signer: &SignerKey) -> Vec<u8> {
        SignedEntry {
            signature: sign(&event, signer),
            event,
            index: self.index(),
            integrated_at: at("2026-11-23T12:00:00.000Z"),
            prev: self.prev(),
        }
        .to_leaf()
    }
}

fn read(signer: &SignerKey, entries: Option<Vec<u64>>, search: Option<Search>) -> SealedRead {
    SealedRead {
        agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
        case_ref: RequestId::new("PGN-2026-17").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: entries.map(|e| e.into_iter().map(|i| Count::new(i).unwrap()).collect()),
        key: signer.key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
        purpose: Purpose::new("oversight_audit").unwrap(),
        read_at: at("2026-11-23T11:59:00Z"),
        recipient: Recipient([7; 32]),
        request_id: RequestId::new("PGN-READ-1").unwrap(),
        search,
    }
}

fn erasure(signer: &SignerKey, entries: Vec<u64>) -> Erasure {
    Erasure {
        agency: AgencyId::new("CO-SIC").unwrap(),
        country: CountryCode::new("CO").unwrap(),
        entries: Some(
            entries
                .into_iter()
                .map(|i| Count::new(i).unwrap())
                .collect(),
        ),
        key: signer.key_ref().clone(),
        kind: ErasureKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 15").unwrap(),
        order_ref: RequestId::new("SIC-ORD-9").unwrap(),
        ordered_at: at("2026-11-23T11:59:00Z"),
        request_id: RequestId::new("SIC-ERASE-1").unwrap(),
        search: None,
    }
}

/// base is a log of two registrations: the auditor (index 0) and the erasure authority
/// (index 1), valid from 11:00.
fn base() -> Log {
    let mut log = Log { leaves: Vec::new() };
    log.register(
        "CO-PROCURADURIA",
        Role::Auditor,
        &auditor(),
        "2026-11-23T11:00:00Z",
    );
    log.register(
        "CO-SIC",
        Role::ErasureAuthority,
        &authority(),
        "2026-11-23T11:00:00Z",
    );
    log
}

fn audit(leaves: &[Vec<u8>]) -> Result<Auditor, VerifyError> {
    let mut auditor = Auditor::new(Arc::new(trust()));
    for leaf in leaves {
        auditor.push(leaf)?;
    }
    Ok(auditor)
}

#[test]
fn sealed_reads_erasures_and_retention_notices_verify_and_are_counted() {
    let mut log = base();
    let search = Search {
        field: SearchField::Subject,
        value: SearchField::Subject.commit(&Salt([5; 32]), "CO-CC-0000000042"),
    };
    let leaf = log.signed(read(&auditor(), None, Some(search)), &auditor());
    log.leaves.push(leaf);
    let leaf = log.signed(read(&auditor(), Some(vec![0, 1]), None), &auditor());
    log.leaves.push(leaf);
    let leaf = log.signed(erasure(&authority(), vec![2]), &authority());
    log.leaves.push(leaf);
    let notice = Retention {
        before: at("2025-11-23T00:00:00Z"),
        first: Count::new(0).unwrap(),
        kind: RetentionKind::Only,
        last: Count::new(4).unwrap(),
    };
    let leaf = log.signed(notice, &log_key());
    log.leaves.push(leaf);
    let auditor = audit(&log.leaves).unwrap();
    let summary = auditor.summary();
    assert_eq!(summary.sealed_reads_by_agency["CO-PROCURADURIA"], 2);
    assert_eq!(summary.sealed_reads_by_purpose["oversight_audit"], 2);
    assert_eq!(summary.erasures_by_agency["CO-SIC"], 1);
    assert_eq!(summary.retention_notices, 1);
    assert_eq!(summary.entries, 0, "no access entries");
    for (i, kind) in [(2, "sealed_read"), (4, "erasure"), (5, "retention")] {
        assert_eq!(Leaf::parse(&log.leaves[i]).unwrap().kind(), kind);
    }
}

/// MakeLeaf builds the next leaf of a log.
type MakeLeaf = Box<dyn Fn(&Log) -> Vec<u8>>;

/// Each bad record fails at its own index, naming what is wrong.
#[test]
fn a_bad_sealed_read_or_erasure_fails_naming_its_index() {
    let submitter = key("cbp.us.example", 13);
    let mut with_submitter = base();
    with_submitter.register(
        "CO-MIGRACION",
        Role::Submitter,
        &submitter,
        "2026-11-23T11:00:00Z",
    );
    let cases: Vec<(&str, Log, MakeLeaf, Failure, &str)> = vec![
        (
            "a key of another role (submitter)",
            with_submitter,
            Box::new(move |log: &Log| {
                let mut event = read(&submitter, Some(vec![0]), None);
                event.agency = AgencyId::new("CO-MIGRACION").unwrap();
                log.signed(event, &submitter)
            }),
            Failure::Unauthorized,
            "registered as submitter, not auditor",
        ),
        (
            "an auditor ordering an erasure",
            base(),
            Box::new(|log: &Log| {
                let mut event = erasure(&auditor(), vec![0]);
                event.agency = AgencyId::new("CO-PROCURADURIA").unwrap();
                log.signed(event, &auditor())
            }),
            Failure::Unauthorized,
            "registered as auditor, not erasure_authority",
        ),
        (
            "a read before the key is valid",
            base(),
            Box::new(|log: &Log| {
                let mut event = read(&auditor(), Some(vec![0]), None);
                event.read_at = at("2026-11-23T10:30:00Z");
                log.signed(event, &auditor())
            }),
            Failure::Unauthorized,
            "is valid from 2026-11-23T11:00:00Z",
        ),
        (
            "an unregistered key",
            base(),
            Box::new(|log: &Log| {
                let stranger = key("procuraduria.co.example", 14);
                log.signed(read(&stranger, Some(vec![0]), None), &stranger)
            }),
            Failure::Unauthorized,
            "is not registered",
        ),
        (
            "a bad signature",
            base(),
            Box::new(|log: &Log| {
                log.signed(
                    read(&auditor(), Some(vec![0]), None),
                    &key("procuraduria.co.example", 15),
                )
            }),
            Failure::Signature,
            "does not verify",
        ),
        (
            "a read of an entry not before it",
            base(),
            Box::new(|log: &Log| log.signed(read(&auditor(), Some(vec![0, 2]), None), &auditor())),
            Failure::Inconsistent,
            "entry 2 is not before index 2",
        ),
        (
            "a read naming both entries and a search",
            base(),
            Box::new(|log: &Log| {
                let search = Search {
                    field: SearchField::RecordRef,
                    value: SearchField::RecordRef.commit(&Salt([1; 32]), "x"),
                };
                log.signed(read(&auditor(), Some(vec![0]), Some(search)), &auditor())
            }),
            Failure::Inconsistent,
            "exactly one of entries and search",
        ),
        (
            "a retention notice not signed by the log",
            base(),
            Box::new(|log: &Log| {
                let notice = Retention {
                    before: at("2025-11-23T00:00:00Z"),
                    first: Count::new(0).unwrap(),
                    kind: RetentionKind::Only,
                    last: Count::new(1).unwrap(),
                };
                log.signed(notice, &auditor())
            }),
            Failure::Signature,
            "does not verify with the log key",
        ),
        (
            "an erasure ordered before the key is valid",
            base(),
            Box::new(|log: &Log| {
                let mut event = erasure(&authority(), vec![0]);
                event.ordered_at = at("2026-11-23T10:30:00Z");
                log.signed(event, &authority())
            }),
            Failure::Unauthorized,
            "is valid from 2026-11-23T11:00:00Z",
        ),
        (
            "an erasure by an unregistered key",
            base(),
            Box::new(|log: &Log| {
                let stranger = key("sic.co.example", 16);
                log.signed(erasure(&stranger, vec![0]), &stranger)
            }),
            Failure::Unauthorized,
            "is not registered",
        ),
        (
            "an erasure with a bad signature",
            base(),
            Box::new(|log: &Log| {
                log.signed(erasure(&authority(), vec![0]), &key("sic.co.example", 17))
            }),
            Failure::Signature,
            "does not verify",
        ),
        (
            "an erasure of an entry not before it",
            base(),
            Box::new(|log: &Log| log.signed(erasure(&authority(), vec![0, 2]), &authority())),
            Failure::Inconsistent,
            "entry 2 is not before index 2",
        ),
        (
            "an erasure that is not canonical",
            base(),
            Box::new(|log: &Log| {
                let leaf = log.signed(erasure(&authority(), vec![0]), &authority());
                let mut value: serde_json::Value = serde_json::from_slice(&leaf).unwrap();
                value["event"]["extra"] = 1.into();
                serde_json::to_vec(&value).unwrap()
            }),
            Failure::Format,
            "extra",
        ),
        (
            "a sealed read that is not canonical",
            base(),
            Box::new(|log: &Log| {
                let leaf = log.signed(read(&auditor(), Some(vec![0]), None), &auditor());
                let mut value: serde_json::Value = serde_json::from_slice(&leaf).unwrap();
                value["event"]["extra"] = 1.into();
                serde_json::to_vec(&value).unwrap()
            }),
            Failure::Format,
            "extra",
        ),
    ];
    for (what, mut log, make, failure, says) in cases {
        let index = log.leaves.len() as u64;
        let leaf = make(&log);
        log.leaves.push(leaf);
        match audit(&log.leaves) {
            Err(VerifyError::Entry {
                index: at,
                failure: got,
                reason,
            }) => {
                assert_eq!((at, got), (index, failure), "{what}: {reason}");
                assert!(reason.contains(says), "{what}: {reason}");
            }
            other => panic!("{what}: {:?}", other.map(|a| a.size())),
        }
    }
}
