//! Property checks behind the fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`). Not part of Huella's API.
//!
//! Each check feeds arbitrary bytes to one family of parsers and **panics** if a property
//! that must hold for every input fails: a parsed value does not write back to the same
//! bytes, canonicalization is not idempotent, a verifier accepts what it should refuse, a
//! value rule disagrees with `docs/format.md`. Otherwise it returns how far the input got
//! ([`Reach`]). A fuzz target is a one-line call to one of them; the replay test runs the same
//! checks over every committed seed and every fixed crash input on stable Rust, so a finding
//! stays fixed without nightly or libFuzzer.
//!
//! The keys are the fixed example keys of `docs/format.md` §12.1, so the documented values
//! (the §12 submission, leaves, checkpoints and receipt) are seeds that verify in full.
//!
//! # Layout
//!
//! One module, one check per fuzz target: [`event`], [`note`], [`tlog_proof`], [`merkle`] and
//! [`registry`], each returning the [`Reach`] of its input.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use huella_core::admission::{self, Window};
use huella_core::canonical::{
    MAX_SAFE_INTEGER, parse, parse_canonical, to_canonical, to_canonical_sorted,
};
use huella_core::checkpoint::{self, Checkpoint};
use huella_core::commitment::{Commitment, Salt};
use huella_core::entry::{Entry, Leaf};
use huella_core::event::{
    AccessEvent, DataCategory, EVENT_SIGNING_PREFIX, EventError, EventKind, Outcome, PlainEvent,
    SignedEvent, Submission,
};
use huella_core::keylog::KeyRegistry;
use huella_core::keys::{KeyName, KeyRef, SignerKey, VerifierKey};
use huella_core::merkle::{
    self, Frontier, Hash, HashReader, TreeError, empty_root, node_hash, record_hash,
    stored_hash_index, verify_consistency, verify_inclusion,
};
use huella_core::note::{self, MAX_NOTE_SIZE, MAX_SIGNATURES, NoteSignature};
use huella_core::proof::{MAX_PROOF_HASHES, Receipt, TlogProof};
use huella_core::registry::{Holder, HolderError, Registry, RegistryError, Submitter};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};

/// Reach is how far an input got through a check. What `Accepted` means is said on each
/// check; the replay test holds seeds named `accept-…`, `parse-…` and `reject-…` to theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// No parser of the target took the input.
    Rejected,
    /// It parsed, but did not verify or was not admitted.
    Parsed,
    /// It parsed and verified in full.
    Accepted,
}

/// A property check: arbitrary bytes in, how far they got out; panics on a violation.
pub type Check = fn(&[u8]) -> Reach;

/// TARGETS names every check; the fuzz targets and the corpus directories use these names.
pub const TARGETS: [(&str, Check); 5] = [
    ("event", event),
    ("note", note),
    ("tlog_proof", tlog_proof),
    ("merkle", merkle),
    ("registry", registry),
];

/// The example keys of docs/format.md §12.1 and the registry of §7.
struct Keys {
    /// `huella.example/log`, seed 32 × 0x02: the log key.
    log: SignerKey,
    /// `us-dhs-cbp.example`, seed 32 × 0x01: the agency key.
    agency: SignerKey,
    /// The agency key, registered for US-DHS-CBP / US.
    registry: Registry,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        // Invariant: these are the constant, valid names and ids of docs/format.md §12.1.
        let name = |n: &str| KeyName::new(n).expect("example key names are valid");
        let log = SignerKey::from_seed(name("huella.example/log"), &[2; 32]);
        let agency = SignerKey::from_seed(name("us-dhs-cbp.example"), &[1; 32]);
        let registry = Registry {
            submitters: vec![Submitter {
                agency: AgencyId::new("US-DHS-CBP").expect("valid agency id"),
                country: CountryCode::new("US").expect("valid country"),
                key: agency.verifier(),
            }],
            holders: vec![Holder {
                agency: AgencyId::new("CO-MIGRACION").expect("valid agency id"),
                country: CountryCode::new("CO").expect("valid country"),
            }],
        };
        Keys {
            log,
            agency,
            registry,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Events and canonical JSON.

/// event checks the JSON forms an agency signs and the log hashes: [`Submission`] (the
/// body of `POST /v1/entries`), [`SignedEvent`], [`AccessEvent`], [`Entry`] (a leaf), and
/// [`PlainEvent`] (what `huella submit` reads), and, on the raw input as text, every value
/// rule of `docs/format.md` §2 against an independent reading of that table.
///
/// Properties: a parsed value's RFC 8785 form parses back to the same value, is a fixed
/// point, is what [`parse_canonical`] accepts and nothing else, and loses nothing of the input
/// (the input read as untyped JSON has the same canonical form); the fast sorted writer
/// agrees with RFC 8785 for events and leaves; an event signed with the example agency key
/// verifies after a trip over the wire; a sealed [`PlainEvent`] is admitted.
///
/// `Accepted`: a submission admitted by the example registry (at its own `accessed_at`), a
/// signed event or canonical leaf whose key is registered and whose signature verifies, or a
/// plain event that seals.
pub fn event(data: &[u8]) -> Reach {
    if let Ok(text) = std::str::from_utf8(data) {
        values_follow_the_docs(text);
    }
    let mut reach = Reach::Rejected;
    if let Ok(submission) = parse::<Submission>(data) {
        reach = reach.max(submission_checks(submission, data));
    }
    if let Ok(signed) = parse::<SignedEvent>(data) {
        canonical_checks(&signed, data);
        reach = reach.max(signed_event_checks(&signed));
    }
    if let Ok(event) = parse::<AccessEvent>(data) {
        canonical_checks(&event, data);
        access_event_checks(&event);
        reach = reach.max(Reach::Parsed);
    }
    if let Ok(entry) = parse::<Entry>(data) {
        reach = reach.max(entry_checks(&entry, data));
    }
    if let Ok(leaf) = Leaf::parse(data) {
        // A leaf of either kind parses only from its canonical bytes.
        assert_eq!(
            leaf.to_leaf(),
            data,
            "Leaf::parse accepted a non-canonical leaf"
        );
        reach = reach.max(Reach::Parsed);
    }
    if let Ok(plain) = parse::<PlainEvent>(data) {
        reach = reach.max(plain_event_checks(plain));
    }
    reach
}

/// canonical_checks asserts what canonicalization promises for `value`, parsed from `input`,
/// and returns its canonical bytes.
fn canonical_checks<T>(value: &T, input: &[u8]) -> Vec<u8>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let canonical = to_canonical(value);
    let again: T =
        parse(&canonical).unwrap_or_else(|e| panic!("the canonical form does not parse back: {e}"));
    assert_eq!(&again, value, "the canonical form parses to another value");
    assert_eq!(
        to_canonical(&again),
        canonical,
        "canonical form is not idempotent"
    );
    assert_eq!(
        parse_canonical::<T>(input).is_ok(),
        input == canonical.as_slice(),
        "parse_canonical disagrees with the canonical form"
    );
    // Nothing is dropped or changed on the way in: signatures and hashes cover the canonical
    // form of the *typed* value, so it must be the canonical form of what was sent.
    let untyped: serde_json::Value = serde_json::from_slice(input)
        .unwrap_or_else(|e| panic!("strictly parsed input is not JSON: {e}"));
    let untyped = serde_json_canonicalizer::to_vec(&untyped)
        .unwrap_or_else(|e| panic!("strictly parsed input does not canonicalize: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&untyped),
        String::from_utf8_lossy(&canonical),
        "the typed value lost or changed part of the input"
    );
    canonical
}

fn access_event_checks(event: &AccessEvent) {
    let canonical = to_canonical(event);
    assert_eq!(
        to_canonical_sorted(event),
        canonical,
        "the fast writer disagrees with RFC 8785"
    );
    assert_eq!(
        event.signing_bytes(),
        [EVENT_SIGNING_PREFIX, &canonical].concat()
    );
    event_values_follow_the_docs(event);
    let _ = event.check();
    // Whatever the agency signs verifies after a trip over the wire.
    let keys = keys();
    let mut ours = event.clone();
    ours.key = keys.agency.key_ref().clone();
    let signed = SignedEvent::sign(ours, &keys.agency)
        .unwrap_or_else(|e| panic!("signing with the key the event names failed: {e}"));
    let wire = serde_json::to_vec(&signed).unwrap_or_else(|e| panic!("serializing: {e}"));
    let received: SignedEvent =
        parse(&wire).unwrap_or_else(|e| panic!("a signed event does not parse back: {e}"));
    assert_eq!(received, signed);
    received
        .verify(&keys.agency.verifier())
        .unwrap_or_else(|e| panic!("a signed event does not verify after the wire: {e}"));
}

fn signed_event_checks(signed: &SignedEvent) -> Reach {
    access_event_checks(&signed.event);
    let keys_now = KeyRegistry::from_registry(&keys().registry);
    let checked =
        admission::check_signed_event(signed, &keys_now, &signed.event.accessed_at.clone());
    if checked.is_ok() && signed.event.check().is_ok() {
        Reach::Accepted
    } else {
        Reach::Parsed
    }
}

fn submission_checks(submission: Submission, input: &[u8]) -> Reach {
    canonical_checks(&submission, input);
    let (signed, openings) = submission.clone().into_parts();
    let reach = signed_event_checks(&signed);
    let opened = openings.check(&signed.event);
    let now = signed.event.accessed_at.unix_millis();
    let keys_now = KeyRegistry::from_registry(&keys().registry);
    let rules = admission::Rules {
        keys: &keys_now,
        holders: &keys().registry,
    };
    match admission::admit(submission, rules, now, Window::default()) {
        Ok(admitted) => {
            assert_eq!(admitted.signed(), &signed);
            assert_eq!(admitted.openings(), &openings);
            assert_eq!(
                reach,
                Reach::Accepted,
                "admitted an event that does not verify"
            );
            assert!(opened.is_ok(), "admitted openings that do not open");
            Reach::Accepted
        }
        Err(_) => Reach::Parsed,
    }
}

fn entry_checks(entry: &Entry, input: &[u8]) -> Reach {
    let canonical = canonical_checks(entry, input);
    assert_eq!(
        entry.to_leaf(),
        canonical,
        "the leaf writer disagrees with RFC 8785"
    );
    assert_eq!(
        Entry::parse_leaf(input).is_ok(),
        input == canonical.as_slice(),
        "parse_leaf disagrees with the canonical form"
    );
    assert_eq!(entry.leaf_hash(), record_hash(&canonical));
    let reach = signed_event_checks(&entry.signed_event());
    if input == canonical.as_slice() {
        reach
    } else {
        Reach::Parsed
    }
}

fn plain_event_checks(plain: PlainEvent) -> Reach {
    let keys = keys();
    let now = Timestamp::from_unix_millis(1_795_461_180_000);
    let mut counter = 0u8;
    let salts = || {
        counter = counter.wrapping_add(1);
        Salt([counter; 32])
    };
    let (agency, country) = (
        plain.requesting_agency.clone(),
        plain.requesting_country.clone(),
    );
    let submission = match plain.seal(&keys.agency, now, salts) {
        Ok(submission) => submission,
        Err(EventError::Inconsistent(_)) => return Reach::Parsed,
        Err(e) => panic!("sealing failed for another reason than the event's fields: {e}"),
    };
    // What `huella submit` sends, the log parses back and admits (given the key is
    // registered for the agency the event names).
    let wire = serde_json::to_vec(&submission).unwrap_or_else(|e| panic!("serializing: {e}"));
    let received: Submission =
        parse(&wire).unwrap_or_else(|e| panic!("a sealed submission does not parse: {e}"));
    assert_eq!(received, submission);
    let registry = Registry {
        submitters: vec![Submitter {
            agency,
            country,
            key: keys.agency.verifier(),
        }],
        holders: vec![Holder {
            agency: received.event.holder_agency.clone(),
            country: received.event.holder_country.clone(),
        }],
    };
    let at = received.event.accessed_at.unix_millis();
    let keys_now = KeyRegistry::from_registry(&registry);
    let rules = admission::Rules {
        keys: &keys_now,
        holders: &registry,
    };
    admission::admit(received, rules, at, Window::default())
        .unwrap_or_else(|e| panic!("the log refuses what huella submit sealed: {e}"));
    Reach::Accepted
}

/// values_follow_the_docs runs every checked value's constructor on `text` and compares it
/// with the rule docs/format.md §2 and §6 state, both ways.
fn values_follow_the_docs(text: &str) {
    fn same<T, E>(what: &str, text: &str, ours: Result<T, E>, docs: bool) {
        assert_eq!(
            ours.is_ok(),
            docs,
            "{what} {text:?}: Huella says {}, docs/format.md says {}",
            if ours.is_ok() { "valid" } else { "invalid" },
            if docs { "valid" } else { "invalid" }
        );
    }
    same(
        "agency id",
        text,
        AgencyId::new(text),
        docs::agency_id(text),
    );
    same("country", text, CountryCode::new(text), docs::country(text));
    same(
        "request id",
        text,
        RequestId::new(text),
        docs::request_id(text),
    );
    same("purpose", text, Purpose::new(text), docs::purpose(text));
    same(
        "legal basis",
        text,
        LegalBasis::new(text),
        docs::legal_basis(text),
    );
    same("key name", text, KeyName::new(text), docs::key_name(text));
    let key_ref = KeyRef::parse(text);
    same("key reference", text, key_ref.clone(), docs::key_ref(text));
    if let Ok(key_ref) = key_ref {
        assert_eq!(
            key_ref.to_string(),
            text,
            "a key reference has two spellings"
        );
    }
    let timestamp = Timestamp::parse(text);
    match (&timestamp, docs::timestamp_millis(text)) {
        (Ok(t), Some(millis)) => {
            assert_eq!(
                t.unix_millis(),
                millis,
                "timestamp {text:?} read as another instant"
            );
            assert_eq!(t.as_str(), text, "a timestamp does not keep its text");
        }
        (ours, docs) => same("timestamp", text, ours.clone(), docs.is_some()),
    }
}

/// event_values_follow_the_docs checks a parsed event's values against docs/format.md.
fn event_values_follow_the_docs(event: &AccessEvent) {
    let rules: [(&str, bool); 10] = [
        ("request_id", docs::request_id(event.request_id.as_str())),
        (
            "requesting_agency",
            docs::agency_id(event.requesting_agency.as_str()),
        ),
        (
            "requesting_country",
            docs::country(event.requesting_country.as_str()),
        ),
        (
            "holder_agency",
            docs::agency_id(event.holder_agency.as_str()),
        ),
        (
            "holder_country",
            docs::country(event.holder_country.as_str()),
        ),
        ("purpose", docs::purpose(event.purpose.as_str())),
        ("legal_basis", docs::legal_basis(event.legal_basis.as_str())),
        (
            "accessed_at",
            docs::timestamp_millis(event.accessed_at.as_str()).is_some(),
        ),
        ("key", docs::key_ref(&event.key.to_string())),
        (
            "records_returned",
            event.records_returned.get() <= MAX_SAFE_INTEGER,
        ),
    ];
    for (field, ok) in rules {
        assert!(ok, "parsed an event whose {field} breaks docs/format.md");
    }
}

/// The value rules as docs/format.md states them, written apart from `text` and `keys`.
mod docs {
    /// §2 "Visible text": the code points the docs list, as they spell them out.
    #[rustfmt::skip]
    const INVISIBLE: [(u32, u32); 27] = [
        (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x034F, 0x034F),
        (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
        (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5),
        (0x180B, 0x180F), (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F),
        (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
    ];

    fn invisible(c: char) -> bool {
        INVISIBLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&u32::from(c)))
    }

    fn chars(s: &str, min: usize, max: usize, ok: impl Fn(char) -> bool) -> bool {
        (min..=max).contains(&s.chars().count()) && s.chars().all(ok)
    }

    pub fn agency_id(s: &str) -> bool {
        chars(s, 1, 64, |c| {
            c.is_ascii_uppercase()
                || c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || ".-_".contains(c)
        })
    }

    pub fn country(s: &str) -> bool {
        chars(s, 2, 2, |c| c.is_ascii_uppercase())
    }

    pub fn request_id(s: &str) -> bool {
        chars(s, 1, 128, |c| ('\u{21}'..='\u{7e}').contains(&c))
    }

    pub fn purpose(s: &str) -> bool {
        chars(s, 1, 64, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c)
        })
    }

    pub fn legal_basis(s: &str) -> bool {
        chars(s, 1, 512, |c| !invisible(c))
    }

    /// §6: non-empty, no White_Space, no `+`, visible text.
    pub fn key_name(s: &str) -> bool {
        !s.is_empty()
            && s.chars()
                .all(|c| !c.is_whitespace() && c != '+' && !invisible(c))
    }

    /// §6: `name+hexid`, the id 8 lower-case hex digits.
    pub fn key_ref(s: &str) -> bool {
        match s.split_once('+') {
            Some((name, id)) => {
                key_name(name)
                    && id.len() == 8
                    && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            }
            None => false,
        }
    }

    /// §2: `YYYY-MM-DDTHH:MM:SS[.F]Z`, at most 30 bytes, year 1970–9999, a real Gregorian
    /// date, hour 00–23, minute 00–59, second 00–59 (no leap second), F 1 to 9 digits.
    /// Returns the instant in milliseconds since the Unix epoch (the fraction truncated).
    pub fn timestamp_millis(s: &str) -> Option<u64> {
        let b = s.as_bytes();
        if !(20..=30).contains(&b.len()) || b[b.len() - 1] != b'Z' {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<u64> {
            b[from..to].iter().try_fold(0u64, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
            })
        };
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if separators.iter().any(|&(at, c)| b[at] != c) {
            return None;
        }
        let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
        let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
        let fraction = &b[19..b.len() - 1];
        let millis = match fraction.split_first() {
            None => 0,
            Some((b'.', digits)) if (1..=9).contains(&digits.len()) => {
                if !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                digits
                    .iter()
                    .chain(b"00")
                    .take(3)
                    .fold(0, |n, &d| n * 10 + u64::from(d - b'0'))
            }
            Some(_) => return None,
        };
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if !(1970..=9999).contains(&year)
            || !(1..=month_days).contains(&day)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(seconds * 1000 + millis)
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (year ≥ 1970),
    /// counting by eras of 400 years from 0000-03-01.
    fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year / 400;
        let year_of_era = year % 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }
}

// ---------------------------------------------------------------------------------------
// Signed notes and checkpoints.

/// note checks C2SP signed notes and tlog-checkpoints: the input as a note (opened with the
/// example log and agency keys), as a checkpoint (opened with the log key), and, as text, as
/// a checkpoint text and as a note text the log signs.
///
/// Properties: a parsed note is exactly its text, a blank line and its signature lines;
/// `open` accepts only what `parse` does and sorts every signature into verified (known key)
/// or unverified; a note the log signed alone is re-signed to the same bytes (Ed25519 is
/// deterministic); a parsed checkpoint text writes back to the same text; any text the log
/// may sign opens again to that text, and as a checkpoint exactly when it parses as one with
/// the log's origin.
///
/// `Accepted`: the note opens with a known key.
pub fn note(data: &[u8]) -> Reach {
    let keys = keys();
    let known = [keys.log.verifier(), keys.agency.verifier()];
    let parsed = note::parse(data);
    if let Ok((text, signatures)) = &parsed {
        let mut again = format!("{text}\n");
        for signature in signatures {
            again.push_str(&signature.to_line());
        }
        assert_eq!(
            again.as_bytes(),
            data,
            "a parsed note writes back differently"
        );
        assert!((1..=MAX_SIGNATURES).contains(&signatures.len()));
    }
    let opened = note::open(data, &known);
    let reach = match (&parsed, &opened) {
        (Err(_), Ok(_)) => panic!("open accepted a note that parse refuses"),
        (Err(_), Err(_)) => Reach::Rejected,
        (Ok(_), Err(_)) => Reach::Parsed,
        (Ok((text, signatures)), Ok(opened)) => {
            assert_eq!(&opened.text, text);
            assert!(
                !opened.verified.is_empty(),
                "opened without a known signature"
            );
            assert_eq!(
                opened.verified.len() + opened.unverified.len(),
                signatures.len()
            );
            let is_known = |s: &NoteSignature| known.iter().any(|k| s.is_by(k.key_ref()));
            assert!(opened.verified.iter().all(is_known));
            assert!(!opened.unverified.iter().any(is_known));
            if signatures.len() == 1
                && opened.verified[0].is_by(keys.log.key_ref())
                && note::check_text(text).is_ok()
            {
                let resigned = note::sign(text, &[&keys.log])
                    .unwrap_or_else(|e| panic!("the log cannot sign what it signed: {e}"));
                assert_eq!(
                    resigned.as_bytes(),
                    data,
                    "Ed25519 signing is not deterministic"
                );
            }
            Reach::Accepted
        }
    };
    if let Ok((checkpoint, opened)) = checkpoint::open(data, &keys.log.verifier()) {
        assert_eq!(checkpoint.origin, keys.log.name().as_str());
        assert_eq!(checkpoint.to_text(), opened.text);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        checkpoint_text_checks(text);
        log_signs(text);
    }
    if let Ok((text, _)) = &parsed {
        checkpoint_text_checks(text);
        log_signs(text);
    }
    reach
}

fn checkpoint_text_checks(text: &str) {
    if let Ok(checkpoint) = Checkpoint::parse_text(text) {
        assert_eq!(
            checkpoint.to_text(),
            text,
            "a checkpoint text writes back differently"
        );
        assert!(!checkpoint.origin.is_empty() && !checkpoint.origin.contains('\n'));
    }
}

/// log_signs signs `text` as the log would and opens it again.
fn log_signs(text: &str) {
    let log = &keys().log;
    let verifier = log.verifier();
    let signed = match note::sign(text, &[log]) {
        Ok(signed) => signed,
        Err(_) => {
            assert!(
                note::check_text(text).is_err(),
                "refused to sign a valid text"
            );
            return;
        }
    };
    let opened = note::open(signed.as_bytes(), std::slice::from_ref(&verifier));
    if signed.len() > MAX_NOTE_SIZE {
        assert!(opened.is_err(), "opened a note over the size limit");
        return;
    }
    let opened = opened.unwrap_or_else(|e| panic!("a note the log signed does not open: {e}"));
    assert_eq!(opened.text, text);
    let as_checkpoint = checkpoint::open(signed.as_bytes(), &verifier).map(|(c, _)| c);
    match Checkpoint::parse_text(text) {
        Ok(c) if c.origin == log.name().as_str() => assert_eq!(as_checkpoint, Ok(c)),
        _ => assert!(
            as_checkpoint.is_err(),
            "opened a checkpoint that does not parse"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Receipts: tlog-proofs.

/// tlog_proof checks receipts as `huella receipt verify` reads them: the JSON [`Receipt`]
/// that `huella submit` saves, or a bare C2SP tlog-proof, verified with the example log key.
///
/// Properties: a parsed tlog-proof writes back to the same bytes; a receipt that verifies
/// holds a canonical leaf at the proof's index, inside the checkpoint; and, with its
/// checkpoint re-signed by the log key (so that fuzzed proofs get past the signature), the
/// receipt verifies exactly when its inclusion proof does.
///
/// `Accepted`: the receipt verifies.
pub fn tlog_proof(data: &[u8]) -> Reach {
    let log = &keys().log;
    let verifier = log.verifier();
    let text = match serde_json::from_slice::<Receipt>(data) {
        Ok(receipt) => {
            let wire = serde_json::to_vec(&receipt).unwrap_or_else(|e| panic!("{e}"));
            let again: Receipt = serde_json::from_slice(&wire)
                .unwrap_or_else(|e| panic!("a receipt does not parse back: {e}"));
            assert_eq!(again, receipt);
            receipt.tlog_proof.into_bytes()
        }
        Err(_) => data.to_vec(),
    };
    let Ok(proof) = TlogProof::parse(&text) else {
        return Reach::Rejected;
    };
    assert_eq!(
        proof.to_text().as_bytes(),
        text.as_slice(),
        "a parsed tlog-proof writes back differently"
    );
    assert!(proof.proof.len() <= MAX_PROOF_HASHES);
    let reach = match proof.verify_receipt(&verifier) {
        Ok((entry, checkpoint)) => {
            assert_eq!(entry.index().get(), proof.index);
            assert!(proof.index < checkpoint.size, "verified outside the tree");
            assert_eq!(Some(entry.to_leaf()), proof.extra);
            assert_eq!(checkpoint.origin, log.name().as_str());
            Reach::Accepted
        }
        Err(_) => Reach::Parsed,
    };
    let Ok((checkpoint_text, _)) = note::parse(proof.checkpoint.as_bytes()) else {
        return reach;
    };
    let Ok(mut checkpoint) = Checkpoint::parse_text(&checkpoint_text) else {
        return reach;
    };
    checkpoint.origin = log.name().to_string();
    let Ok(signed) = checkpoint.sign(log) else {
        return reach;
    };
    if signed.len() > MAX_NOTE_SIZE {
        return reach;
    }
    let resigned = TlogProof {
        checkpoint: signed,
        ..proof.clone()
    };
    let leaf = record_hash(proof.extra.as_deref().unwrap_or_default());
    let included = verify_inclusion(
        proof.index,
        checkpoint.size,
        &leaf,
        &proof.proof,
        &checkpoint.root,
    );
    assert_eq!(
        resigned.verify(&leaf, &verifier).map(|_| ()),
        included.map_err(Into::into),
        "a re-signed receipt and its inclusion proof disagree"
    );
    if let Ok((entry, _)) = resigned.verify_receipt(&verifier) {
        assert_eq!(entry.index().get(), proof.index);
        assert!(proof.index < checkpoint.size);
    }
    reach
}

// ---------------------------------------------------------------------------------------
// Merkle proofs.

/// merkle checks RFC 6962 proof verification, reading the input as numbers and hashes.
///
/// First, an arbitrary claim (index, size, leaf, root, up to 127 proof hashes) must not
/// panic either verifier, and one they accept has the length RFC 9162 gives for those sizes.
/// Then honest proofs in a tree of up to 2^53 leaves, all equal but one: the tree is computed
/// lazily, straight from RFC 6962's definitions, so sizes far beyond what tests can build are
/// cheap. The library's tree hash, frontier, append, inclusion and consistency proofs must
/// match the definitions, honest proofs must verify, and a proof with any bit flipped, the
/// wrong leaf or index, or a hash added or removed must not.
///
/// `Accepted`: the arbitrary claim verified (as inclusion or as consistency); `Rejected`: it
/// did not (every input is "parsed", so `Parsed` is never returned).
pub fn merkle(data: &[u8]) -> Reach {
    let mut input = Input(data);
    let (index, size) = (input.u64(), input.u64());
    let (leaf, root) = (input.hash(), input.hash());
    let count = usize::from(input.byte() % 128);
    let proof: Vec<Hash> = (0..count).map(|_| input.hash()).collect();
    let mut reach = Reach::Rejected;
    if verify_inclusion(index, size, &leaf, &proof, &root).is_ok() {
        assert!(index < size);
        assert_eq!(
            proof.len(),
            path_length(index, size),
            "inclusion proof length"
        );
        reach = Reach::Accepted;
    }
    if verify_consistency(index, size, &leaf, &root, &proof).is_ok() {
        assert!(index <= size);
        assert_eq!(
            proof.len(),
            subproof_length(index, size),
            "consistency proof length"
        );
        reach = Reach::Accepted;
    }
    honest_proofs(&mut input);
    reach
}

fn honest_proofs(input: &mut Input) {
    let bits = input.byte() % 54;
    let size = (1 + (input.u64() & ((1u64 << bits) - 1))).min(MAX_SAFE_INTEGER);
    let tree = LazyTree::new(input.u64() % size);
    let (special, other) = (tree.special, input.u64() % size);
    let from = input.u64() % (size + 1);
    let (flip_at, flip_bit) = (usize::from(input.byte()), input.byte());

    let root = tree.mth(0, size);
    fn read<T>(what: &str, size: u64, r: Result<T, TreeError>) -> T {
        r.unwrap_or_else(|e| panic!("{what} of size {size}: {e}"))
    }
    assert_eq!(
        read("tree_hash", size, merkle::tree_hash(size, &tree)),
        root
    );
    let mut frontier = read("Frontier::load", size, Frontier::load(size, &tree));
    assert_eq!(frontier.root(), root, "frontier root of size {size}");
    for (index, hash) in frontier.append(tree.a) {
        assert_eq!(
            tree.read_hashes(&[index]).ok(),
            Some(vec![hash]),
            "append wrote {index}"
        );
    }
    assert_eq!(frontier.root(), tree.mth(0, size + 1));

    let path = read(
        "inclusion_proof",
        size,
        merkle::inclusion_proof(special, size, &tree),
    );
    assert_eq!(
        path,
        tree.path(special, 0, size),
        "inclusion proof {special} in {size}"
    );
    let include = |index, leaf: &Hash, proof: &[Hash]| {
        verify_inclusion(index, size, leaf, proof, &root).is_ok()
    };
    assert!(
        include(special, &tree.b, &path),
        "honest inclusion proof refused"
    );
    assert!(!include(special, &tree.a, &path), "wrong leaf accepted");
    assert!(
        other == special || !include(other, &tree.b, &path),
        "wrong index accepted"
    );
    assert!(!include(special, &tree.b, &[&path[..], &[tree.a]].concat()));
    if let Some((_, shorter)) = path.split_last() {
        assert!(
            !include(special, &tree.b, shorter),
            "truncated proof accepted"
        );
        let flipped = flipped(&path, flip_at, flip_bit);
        assert!(
            !include(special, &tree.b, &flipped),
            "proof with a bit flipped accepted"
        );
    }

    let old_root = if from == 0 {
        empty_root()
    } else {
        tree.mth(0, from)
    };
    let proof = read(
        "consistency_proof",
        size,
        merkle::consistency_proof(from, size, &tree),
    );
    let expected = if from == 0 {
        Vec::new()
    } else {
        tree.subproof(from, 0, size, true)
    };
    assert_eq!(proof, expected, "consistency proof {from} to {size}");
    let consistent =
        |old: &Hash, proof: &[Hash]| verify_consistency(from, size, old, &root, proof).is_ok();
    assert!(
        consistent(&old_root, &proof),
        "honest consistency proof refused"
    );
    assert!(
        !consistent(&node_hash(&old_root, &old_root), &proof),
        "wrong old root"
    );
    if !proof.is_empty() {
        let flipped = flipped(&proof, flip_at, flip_bit);
        assert!(
            !consistent(&old_root, &flipped),
            "proof with a bit flipped accepted"
        );
        assert!(
            !consistent(&old_root, &proof[1..]),
            "truncated proof accepted"
        );
    }
    assert!(!consistent(&old_root, &[&proof[..], &[tree.a]].concat()));
}

/// flipped returns a non-empty `proof` with one bit changed.
fn flipped(proof: &[Hash], at: usize, bit: u8) -> Vec<Hash> {
    let mut proof = proof.to_vec();
    let len = proof.len();
    if let Some(hash) = proof.get_mut(at % len.max(1)) {
        hash.0[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
    }
    proof
}

/// Largest power of two strictly below `n` (n ≥ 2): RFC 9162's `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Length of RFC 9162 PATH(index, D[size]): one hash per level of the leaf's branch.
fn path_length(index: u64, size: u64) -> usize {
    let (mut index, mut size, mut length) = (index, size, 0);
    while size > 1 {
        let k = split(size);
        (index, size) = if index < k {
            (index, k)
        } else {
            (index - k, size - k)
        };
        length += 1;
    }
    length
}

/// Length of RFC 9162 PROOF(from, D[to]), empty for `from` 0 or `to`.
fn subproof_length(from: u64, to: u64) -> usize {
    if from == 0 || from == to {
        return 0;
    }
    let (mut m, mut n, mut whole, mut length) = (from, to, true, 0);
    while m != n {
        let k = split(n);
        if m <= k {
            n = k;
        } else {
            (m, n, whole) = (m - k, n - k, false);
        }
        length += 1;
    }
    length + usize::from(!whole)
}

/// Input reads numbers and hashes off the fuzzer's bytes, then zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |n, _| n << 8 | u64::from(self.byte()))
    }

    fn hash(&mut self) -> Hash {
        let mut hash = [0u8; 32];
        hash.iter_mut().for_each(|b| *b = self.byte());
        Hash(hash)
    }
}

/// LazyTree is an unbounded tree whose leaves all hash to `a` except the one at `special`,
/// which hashes to `b`. Any range's RFC 6962 hash costs O(log² n) hashes (a range without
/// `special` depends only on its length), so trees of 2^53 leaves are cheap to prove.
struct LazyTree {
    /// Position of the one distinct leaf.
    special: u64,
    /// Leaf hash everywhere else.
    a: Hash,
    /// Leaf hash at `special`.
    b: Hash,
    /// MTH of `n` leaves all `a`, by `n`.
    uniform: RefCell<HashMap<u64, Hash>>,
}

impl LazyTree {
    fn new(special: u64) -> LazyTree {
        LazyTree {
            special,
            a: record_hash(b"a"),
            b: record_hash(b"b"),
            uniform: RefCell::new(HashMap::new()),
        }
    }

    /// RFC 6962 §2.1 MTH of `n` ≥ 1 leaves all equal to `a`.
    fn uniform(&self, n: u64) -> Hash {
        if n == 1 {
            return self.a;
        }
        if let Some(hash) = self.uniform.borrow().get(&n) {
            return *hash;
        }
        let k = split(n);
        let hash = node_hash(&self.uniform(k), &self.uniform(n - k));
        self.uniform.borrow_mut().insert(n, hash);
        hash
    }

    /// RFC 6962 §2.1 MTH(D[lo:hi]), hi > lo.
    fn mth(&self, lo: u64, hi: u64) -> Hash {
        if !(lo..hi).contains(&self.special) {
            return self.uniform(hi - lo);
        }
        if hi - lo == 1 {
            return self.b;
        }
        let k = split(hi - lo);
        node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
    }

    /// RFC 6962 §2.1.1 PATH(m, D[lo:hi]), m relative to lo.
    fn path(&self, m: u64, lo: u64, hi: u64) -> Vec<Hash> {
        if hi - lo <= 1 {
            return Vec::new();
        }
        let k = split(hi - lo);
        let (mut path, sibling) = if m < k {
            (self.path(m, lo, lo + k), self.mth(lo + k, hi))
        } else {
            (self.path(m - k, lo + k, hi), self.mth(lo, lo + k))
        };
        path.push(sibling);
        path
    }

    /// RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], whole).
    fn subproof(&self, m: u64, lo: u64, hi: u64, whole: bool) -> Vec<Hash> {
        if m == hi - lo {
            return if whole {
                Vec::new()
            } else {
                vec![self.mth(lo, hi)]
            };
        }
        let k = split(hi - lo);
        let (mut proof, sibling) = if m <= k {
            (self.subproof(m, lo, lo + k, whole), self.mth(lo + k, hi))
        } else {
            (
                self.subproof(m - k, lo + k, hi, false),
                self.mth(lo, lo + k),
            )
        };
        proof.push(sibling);
        proof
    }
}

/// stored_position inverts [`stored_hash_index`]: the subtree at level `l`, position `n` is
/// stored at `s(m) + l`, where `m = ((n + 1) << l) - 1` and `s(m) = 2m - popcount(m)`, so `m`
/// lies within 32 of `(index - l) / 2`.
fn stored_position(index: u64) -> Option<(u8, u64)> {
    (0..=62u8).find_map(|level| {
        let t = index.checked_sub(u64::from(level))?;
        let low = (1u64 << level) - 1;
        (t / 2..=t / 2 + 32).find_map(|m| {
            let n = m >> level;
            let plausible = m.wrapping_mul(2).wrapping_sub(u64::from(m.count_ones())) == t
                && m & low == low
                && n < (1 << 62) >> level;
            (plausible && stored_hash_index(level, n) == index).then_some((level, n))
        })
    })
}

impl HashReader for LazyTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = stored_position(index).ok_or(TreeError::MissingHash(index))?;
                let lo = n << level;
                Ok(self.mth(lo, lo + (1 << level)))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// The submitter registry.

/// registry checks the submitter registry file, and, on the raw input as text, the key
/// strings it is made of.
///
/// Properties: a registry that parses is written back by `to_json` to one that parses to the
/// same registry; every key string in the file is exactly how the parsed key writes itself
/// (a key has one spelling); each key finds its own entry, and an event naming it is
/// authorized for its registered agency and country and for no other country. A verifier,
/// signer or key-reference string that parses writes back to the same text.
///
/// `Accepted`: the registry parses.
pub fn registry(data: &[u8]) -> Reach {
    if let Ok(text) = std::str::from_utf8(data) {
        key_strings(text);
    }
    let registry = match Registry::parse(data) {
        Ok(registry) => registry,
        Err(RegistryError::Duplicate(key)) => {
            let parsed: Registry =
                parse(data).unwrap_or_else(|e| panic!("a duplicate was found in a bad file: {e}"));
            let twice = parsed
                .submitters
                .iter()
                .filter(|s| s.key.key_ref().to_string() == key);
            assert!(twice.count() >= 2, "refused {key} as a duplicate");
            return Reach::Rejected;
        }
        Err(_) => return Reach::Rejected,
    };
    let json = registry.to_json();
    assert_eq!(Registry::parse(json.as_bytes()).as_ref(), Ok(&registry));
    let untyped: serde_json::Value = serde_json::from_slice(data)
        .unwrap_or_else(|e| panic!("a parsed registry is not JSON: {e}"));
    let written = untyped["submitters"].as_array().map(Vec::len);
    assert_eq!(written, Some(registry.submitters.len()));
    for (i, submitter) in registry.submitters.iter().enumerate() {
        let file = &untyped["submitters"][i];
        assert_eq!(
            file["key"].as_str(),
            Some(submitter.key.to_string().as_str())
        );
        assert_eq!(file["agency"].as_str(), Some(submitter.agency.as_str()));
        assert_eq!(file["country"].as_str(), Some(submitter.country.as_str()));
        let key_ref = submitter.key.key_ref();
        assert_eq!(registry.lookup(key_ref), Some(submitter));
        let mut event = template_event(key_ref.clone(), submitter);
        assert_eq!(registry.authorize(&event), Ok(&submitter.key));
        let other = if submitter.country.as_str() == "US" {
            "CO"
        } else {
            "US"
        };
        // Invariant: both are valid two-letter codes.
        event.requesting_country = CountryCode::new(other).expect("valid country");
        assert!(
            matches!(
                registry.authorize(&event),
                Err(RegistryError::NotAuthorized { .. })
            ),
            "key {key_ref} authorized for another country"
        );
    }
    let written = untyped["holders"].as_array().map(Vec::len);
    assert_eq!(written, Some(registry.holders.len()));
    let key = keys().agency.key_ref().clone();
    for (i, holder) in registry.holders.iter().enumerate() {
        let file = &untyped["holders"][i];
        assert_eq!(file["agency"].as_str(), Some(holder.agency.as_str()));
        assert_eq!(file["country"].as_str(), Some(holder.country.as_str()));
        let mut event = template_event(key.clone(), &keys().registry.submitters[0]);
        event.holder_agency = holder.agency.clone();
        event.holder_country = holder.country.clone();
        assert_eq!(registry.check_holder(&event), Ok(()));
        let other = if holder.country.as_str() == "US" {
            "CO"
        } else {
            "US"
        };
        // Invariant: both are valid two-letter codes.
        event.holder_country = CountryCode::new(other).expect("valid country");
        assert!(
            matches!(
                registry.check_holder(&event),
                Err(HolderError::WrongCountry { .. })
            ),
            "holder {} accepted in another country",
            holder.agency
        );
    }
    Reach::Accepted
}

/// key_strings checks that key strings have one spelling.
fn key_strings(text: &str) {
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(key.to_string(), text, "a verifier key has two spellings");
        assert_eq!(VerifierKey::parse(&key.to_string()), Ok(key));
    }
    if let Ok(key) = SignerKey::parse(text) {
        assert_eq!(
            *key.to_private_string(),
            text,
            "a signer key has two spellings"
        );
        assert_eq!(key.verifier().key_ref(), key.key_ref());
    }
    if let Ok(key_ref) = KeyRef::parse(text) {
        assert_eq!(
            key_ref.to_string(),
            text,
            "a key reference has two spellings"
        );
    }
}

/// template_event is an access event by `key` in the name of `submitter`.
fn template_event(key: KeyRef, submitter: &Submitter) -> AccessEvent {
    let commitment = Commitment(Hash([0; 32]));
    // Invariant: the constants below are valid values of their types.
    AccessEvent {
        accessed_at: Timestamp::from_unix_millis(1_795_461_180_000),
        category: DataCategory::Biographic,
        holder_agency: AgencyId::new("CO-MIGRACION").expect("valid agency id"),
        holder_country: CountryCode::new("CO").expect("valid country"),
        key,
        kind: EventKind::Access,
        legal_basis: LegalBasis::new("fuzzing").expect("valid legal basis"),
        outcome: Outcome::NoHit,
        purpose: Purpose::new("fuzzing").expect("valid purpose"),
        query: commitment,
        record_ref: commitment,
        records_returned: Count::new(0).expect("valid count"),
        request_id: RequestId::new("fuzzing").expect("valid request id"),
        requesting_agency: submitter.agency.clone(),
        requesting_country: submitter.country.clone(),
        requesting_user: commitment,
        subject: commitment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_position_inverts_the_numbering() {
        for level in 0..20u8 {
            for n in [0u64, 1, 2, 3, 7, 1000, (1 << 30) + 5] {
                let index = stored_hash_index(level, n);
                assert_eq!(stored_position(index), Some((level, n)), "({level}, {n})");
            }
        }
        assert_eq!(
            stored_position(stored_hash_index(0, 1 << 53)),
            Some((0, 1 << 53))
        );
    }

    #[test]
    fn proof_lengths_follow_rfc_9162() {
        assert_eq!(path_length(0, 1), 0);
        assert_eq!(path_length(2, 3), 1);
        assert_eq!(path_length(0, 3), 2);
        assert_eq!(path_length(5, 8), 3);
        assert_eq!(subproof_length(1, 2), 1);
        assert_eq!(subproof_length(3, 7), 4);
        assert_eq!(subproof_length(4, 8), 1);
    }

    #[test]
    fn documented_timestamps() {
        assert_eq!(
            docs::timestamp_millis("2026-11-23T19:13:00Z"),
            Some(1_795_461_180_000)
        );
        assert_eq!(
            docs::timestamp_millis("1970-01-01T00:00:00.9999Z"),
            Some(999)
        );
        assert_eq!(docs::timestamp_millis("2024-02-29T23:59:60Z"), None);
        assert_eq!(
            docs::timestamp_millis("2024-02-29T23:59:59Z"),
            Some(1_709_251_199_000)
        );
        assert_eq!(docs::timestamp_millis("2023-02-29T00:00:00Z"), None);
        assert_eq!(docs::timestamp_millis("2026-11-23T19:13:00.Z"), None);
        assert_eq!(
            docs::timestamp_millis("2026-11-23T19:13:00.1234567890Z"),
            None
        );
        assert_eq!(docs::timestamp_millis("2026-11-23t19:13:00Z"), None);
    }
}
