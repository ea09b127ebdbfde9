//! Property tests: for arbitrary inputs, the core's formats are stable (canonical JSON),
//! binding (commitments, proofs) and brittle in the right way (any single change to a signed
//! note, checkpoint, key string or event signature is refused).
//!
//! Case counts are chosen so the whole file runs in a few seconds in the debug profile.

use std::sync::OnceLock;

use huella_core::canonical::{MAX_SAFE_INTEGER, to_canonical};
use huella_core::checkpoint::{self, Checkpoint};
use huella_core::commitment::{Field, Opening, Salt, commit};
use huella_core::event::{AccessEvent, DataCategory, EventError, EventKind, Outcome, SignedEvent};
use huella_core::keys::{KeyName, SignerKey, VerifierKey};
use huella_core::merkle::{
    self, Frontier, Hash, consistency_proof, inclusion_proof, record_hash, stored_hash_count,
    verify_consistency, verify_inclusion,
};
use huella_core::note;
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Canonical JSON.

/// Characters that stress JSON escaping and RFC 8785 key order: controls, quotes and
/// backslashes, characters JSON may escape but JCS must not, and characters on both sides of
/// the UTF-16 surrogate range, where UTF-16 order and code point order disagree.
fn tricky_char() -> impl Strategy<Value = char> {
    select(vec![
        '\u{0}',
        '\u{8}',
        '\t',
        '\n',
        '\u{b}',
        '\u{c}',
        '\r',
        '\u{1f}',
        ' ',
        '"',
        '\\',
        '/',
        '\u{7f}',
        '\u{80}',
        'é',
        '\u{2028}',
        '\u{2029}',
        '\u{d7ff}',
        '\u{e000}',
        '\u{fb33}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{10000}',
        '😀',
        '\u{10ffff}',
    ])
}

fn json_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'e'),
            2 => tricky_char(),
            1 => prop::char::range('\u{0}', '\u{1f}'),
            1 => any::<char>(),
        ],
        0..6,
    )
    .prop_map(String::from_iter)
}

fn json_integer() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..10u64,
        0..=MAX_SAFE_INTEGER,
        select(vec![
            MAX_SAFE_INTEGER,
            MAX_SAFE_INTEGER - 1,
            1 << 52,
            999_999_999_999_999,
            1_000_000_000_000_000,
            u64::from(u32::MAX) + 1,
        ]),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_integer().prop_map(Value::from),
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(json_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// RFC 8785, written out independently for the values [`json_value`] makes: integers in
/// decimal, strings with only the escapes JCS (ECMAScript `JSON.stringify`) uses, object
/// members sorted by their names' UTF-16 code units.
fn reference_jcs(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.as_u64().expect("only integers").to_string()),
        Value::String(s) => reference_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reference_jcs(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reference_string(name, out);
                out.push(':');
                reference_jcs(item, out);
            }
            out.push('}');
        }
    }
}

fn reference_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Serializes a value with every object's members rotated by `shift`, so the canonicalizer
/// sees them in another order than sorted.
struct Rotated<'a> {
    value: &'a Value,
    shift: usize,
}

impl serde::Serialize for Rotated<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let shift = self.shift;
        match self.value {
            Value::Object(members) => {
                let mut entries: Vec<_> = members.iter().collect();
                if !entries.is_empty() {
                    let k = shift % entries.len();
                    entries.rotate_left(k);
                    entries[..].reverse();
                }
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (name, value) in entries {
                    map.serialize_entry(name, &Rotated { value, shift })?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Rotated { value, shift })?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Bytes outside JSON strings, with string contents (and their escapes) skipped.
fn outside_strings(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn canonical_json_matches_rfc_8785(value in json_value()) {
        let bytes = to_canonical(&value);
        let mut want = String::new();
        reference_jcs(&value, &mut want);
        prop_assert_eq!(String::from_utf8(bytes).unwrap(), want);
    }

    #[test]
    fn canonical_json_is_idempotent_and_lossless(value in json_value()) {
        let once = to_canonical(&value);
        let parsed: Value = serde_json::from_slice(&once).unwrap();
        prop_assert_eq!(&parsed, &value);
        prop_assert_eq!(to_canonical(&parsed), once);
    }

    #[test]
    fn canonical_json_has_no_whitespace_outside_strings(value in json_value()) {
        let bytes = to_canonical(&value);
        let structure = outside_strings(&bytes);
        prop_assert!(
            !structure.iter().any(|b| b.is_ascii_whitespace() || *b == 0x0b),
            "whitespace in {:?}",
            String::from_utf8_lossy(&bytes)
        );
        // And no raw control character anywhere, not even inside strings.
        prop_assert!(!bytes.iter().any(|b| *b < 0x20));
    }

    #[test]
    fn canonical_json_ignores_layout_and_member_order(value in json_value(), shift in 0..8usize) {
        let want = to_canonical(&value);
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let reparsed: Value = serde_json::from_str(&pretty).unwrap();
        prop_assert_eq!(to_canonical(&reparsed), want.clone());
        let rotated = Rotated { value: &value, shift };
        prop_assert_eq!(to_canonical(&rotated), want);
    }
}

// ---------------------------------------------------------------------------------------
// Commitments.

fn field() -> impl Strategy<Value = Field> {
    select(Field::ALL.to_vec())
}

fn value_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => any::<char>(), 1 => tricky_char(), 2 => prop::char::range('0', '9')],
        0..40,
    )
    .prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn opening_checks_and_any_salt_byte_change_breaks_it(
        field in field(),
        salt in any::<[u8; 32]>(),
        value in value_string(),
        byte in 0..32usize,
        delta in 1..=255u8,
    ) {
        let commitment = commit(field, &Salt(salt), &value);
        prop_assert_eq!(Opening::new(Salt(salt), value.clone()).check(field, &commitment), Ok(()));
        let mut other = salt;
        other[byte] ^= delta;
        prop_assert!(Opening::new(Salt(other), value).check(field, &commitment).is_err());
    }

    #[test]
    fn any_change_to_the_value_breaks_the_opening(
        field in field(),
        salt in any::<[u8; 32]>(),
        value in value_string(),
        at in any::<Index>(),
        new in prop_oneof![any::<char>(), tricky_char()],
        edit in 0..3u8,
    ) {
        let commitment = commit(field, &Salt(salt), &value);
        let mut chars: Vec<char> = value.chars().collect();
        match edit {
            // Replace a character (or add one to an empty value).
            0 if !chars.is_empty() => {
                let i = at.index(chars.len());
                prop_assume!(chars[i] != new);
                chars[i] = new;
            }
            // Delete one.
            1 if !chars.is_empty() => {
                chars.remove(at.index(chars.len()));
            }
            _ => chars.insert(at.index(chars.len() + 1), new),
        }
        let changed: String = chars.into_iter().collect();
        prop_assert_ne!(&changed, &value);
        prop_assert!(Opening::new(Salt(salt), changed).check(field, &commitment).is_err());
        // The same opening does not open the commitment under another field either.
        for other in Field::ALL.into_iter().filter(|f| *f != field) {
            prop_assert!(Opening::new(Salt(salt), value.clone()).check(other, &commitment).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Merkle proofs.

const MAX_SIZE: u64 = 3000;

/// A tree of MAX_SIZE leaves: its stored hashes, its leaves and its root at every size, as a
/// Frontier saw them while appending.
struct Tree {
    stored: Vec<Hash>,
    leaves: Vec<Hash>,
    roots: Vec<Hash>,
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut frontier = Frontier::new();
        let mut tree = Tree {
            stored: Vec::new(),
            leaves: Vec::new(),
            roots: vec![frontier.root()],
        };
        for i in 0..MAX_SIZE {
            let leaf = record_hash(format!("entry {i}").as_bytes());
            tree.leaves.push(leaf);
            tree.stored
                .extend(frontier.append(leaf).into_iter().map(|(_, h)| h));
            tree.roots.push(frontier.root());
        }
        tree
    })
}

/// The stored hashes a log of `size` leaves has, and no more: a proof must not need later ones.
fn stored(size: u64) -> &'static [Hash] {
    &tree().stored[..stored_hash_count(size) as usize]
}

fn tree_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1..=MAX_SIZE,
        1..=70u64,
        (0..12u32, -1..=1i64).prop_map(|(bits, d)| ((1i64 << bits) + d).max(1) as u64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn inclusion_proofs_verify_only_for_their_index_and_size(
        size in tree_size(),
        at in any::<Index>(),
        other_at in any::<Index>(),
        other_size in tree_size(),
    ) {
        let tree = tree();
        let index = at.index(size as usize) as u64;
        let leaf = tree.leaves[index as usize];
        let root = tree.roots[size as usize];
        prop_assert_eq!(merkle::tree_hash(size, stored(size)).unwrap(), root);
        prop_assert_eq!(Frontier::load(size, stored(size)).unwrap().root(), root);

        let proof = inclusion_proof(index, size, stored(size)).unwrap();
        prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));

        // Another leaf, or the same leaf claimed at another index, does not verify.
        let other = other_at.index(size as usize) as u64;
        if other != index {
            prop_assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
            let other_leaf = tree.leaves[other as usize];
            prop_assert!(verify_inclusion(index, size, &other_leaf, &proof, &root).is_err());
            prop_assert!(verify_inclusion(other, size, &other_leaf, &proof, &root).is_err());
        }
        // Nor against the tree of another size.
        if other_size != size {
            let other_root = tree.roots[other_size as usize];
            prop_assert!(verify_inclusion(index, other_size, &leaf, &proof, &other_root).is_err());
        }
        prop_assert!(verify_inclusion(size, size, &leaf, &proof, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_only_for_their_sizes(
        size in tree_size(),
        older in any::<Index>(),
        other_older in any::<Index>(),
        other_size in tree_size(),
    ) {
        let tree = tree();
        let from = older.index(size as usize + 1) as u64; // 0..=size
        let (old_root, new_root) = (tree.roots[from as usize], tree.roots[size as usize]);
        let proof = consistency_proof(from, size, stored(size)).unwrap();
        prop_assert_eq!(verify_consistency(from, size, &old_root, &new_root, &proof), Ok(()));

        // Another older size 0 < m < size (sizes 0 and `size` are trivially consistent).
        if size > 1 {
            let m = 1 + other_older.index(size as usize - 1) as u64; // 1..size
            if m != from {
                let m_root = tree.roots[m as usize];
                prop_assert!(verify_consistency(m, size, &m_root, &new_root, &proof).is_err());
            }
        }
        // Another newer size, for a proof that is not trivially empty.
        if 0 < from && from < size && other_size != size && other_size >= from {
            let other_root = tree.roots[other_size as usize];
            prop_assert!(
                verify_consistency(from, other_size, &old_root, &other_root, &proof).is_err()
            );
        }
        // A wrong old root, with the right sizes.
        if 0 < from && from < size {
            let wrong_old = tree.roots[(from - 1) as usize];
            prop_assert!(verify_consistency(from, size, &wrong_old, &new_root, &proof).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mangled notes, checkpoints, keys and signatures.

const LOG_NAME: &str = "huella.example/log";

fn log_key() -> &'static SignerKey {
    static KEY: OnceLock<SignerKey> = OnceLock::new();
    KEY.get_or_init(|| SignerKey::from_seed(KeyName::new(LOG_NAME).unwrap(), &[0x22; 32]))
}

fn signed_note() -> &'static str {
    static NOTE: OnceLock<String> = OnceLock::new();
    NOTE.get_or_init(|| {
        let text =
            "huella.example/log audit\nmonth 2026-11 — 4711 accesses ✓\n\nsecond paragraph\n";
        note::sign(text, &[log_key()]).unwrap()
    })
}

fn signed_checkpoint() -> &'static str {
    static CHECKPOINT: OnceLock<String> = OnceLock::new();
    CHECKPOINT.get_or_init(|| {
        Checkpoint::new(LOG_NAME, MAX_SIZE, tree().roots[MAX_SIZE as usize])
            .sign(log_key())
            .unwrap()
    })
}

/// change_byte sets the byte at `at` to another value (old XOR a non-zero `delta`).
fn change_byte(text: &str, at: Index, delta: u8) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let i = at.index(bytes.len());
    bytes[i] ^= delta;
    bytes
}

fn agency_key() -> &'static SignerKey {
    static KEY: OnceLock<SignerKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SignerKey::from_seed(
            KeyName::new("huella.example/agency/US-DHS-CBP").unwrap(),
            &[0x11; 32],
        )
    })
}

fn signed_event() -> &'static SignedEvent {
    static EVENT: OnceLock<SignedEvent> = OnceLock::new();
    EVENT.get_or_init(|| {
        let key = agency_key();
        let c = |field, value: &str| commit(field, &Salt([0xa5; 32]), value);
        let event = AccessEvent {
            kind: EventKind::Access,
            key: key.key_ref().clone(),
            request_id: RequestId::new("CBP-2026-11-23/000042").unwrap(),
            requesting_agency: AgencyId::new("US-DHS-CBP").unwrap(),
            requesting_country: CountryCode::new("US").unwrap(),
            requesting_user: c(Field::RequestingUser, "officer 4711"),
            holder_agency: AgencyId::new("CO-RNEC").unwrap(),
            holder_country: CountryCode::new("CO").unwrap(),
            record_ref: c(Field::RecordRef, "RNEC/2026/000123"),
            subject: c(Field::Subject, "CO-CC-1020304050"),
            category: DataCategory::Biographic,
            purpose: Purpose::new("border_screening").unwrap(),
            legal_basis: LegalBasis::new("US-CO LoI (2025), sec. 3").unwrap(),
            accessed_at: Timestamp::parse("2026-11-23T19:13:00Z").unwrap(),
            query: c(Field::Query, "name: J. Doe"),
            outcome: Outcome::NoHit,
            records_returned: Count::new(0).unwrap(),
        };
        SignedEvent::sign(event, key).unwrap()
    })
}

/// Characters a key string is made of, plus some it must not contain.
fn key_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=.-_ "
                .chars()
                .collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ]
}

fn key_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9./_-]{0,24}"
}

/// change_char replaces the character at `at` with `new`, which must differ from it.
fn change_char(text: &str, at: Index, new: char) -> Option<(usize, String)> {
    let mut chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len());
    if chars[i] == new {
        return None;
    }
    chars[i] = new;
    Some((i, chars.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_byte_change_breaks_a_signed_note(at in any::<Index>(), delta in 1..=255u8) {
        let known = [log_key().verifier()];
        prop_assert!(note::open(signed_note().as_bytes(), &known).is_ok());
        let mangled = change_byte(signed_note(), at, delta);
        prop_assert!(
            note::open(&mangled, &known).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(&mangled)
        );
    }

    #[test]
    fn any_byte_change_breaks_a_signed_checkpoint(at in any::<Index>(), delta in 1..=255u8) {
        let key = log_key().verifier();
        prop_assert!(checkpoint::open(signed_checkpoint().as_bytes(), &key).is_ok());
        let mangled = change_byte(signed_checkpoint(), at, delta);
        prop_assert!(
            checkpoint::open(&mangled, &key).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(&mangled)
        );
    }

    #[test]
    fn any_bit_flip_breaks_an_event_signature(bit in 0..512usize) {
        let key = agency_key().verifier();
        let mut flipped = signed_event().clone();
        prop_assert_eq!(flipped.verify(&key), Ok(()));
        flipped.signature.0[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(
            flipped.verify(&key),
            Err(EventError::BadSignature(key.key_ref().to_string()))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_char_change_breaks_a_verifier_key(
        name in key_name(),
        seed in any::<[u8; 32]>(),
        at in any::<Index>(),
        new in key_char(),
    ) {
        let key = SignerKey::from_seed(KeyName::new(name.clone()).unwrap(), &seed).verifier();
        let text = key.to_string();
        prop_assert_eq!(VerifierKey::parse(&text), Ok(key.clone()));
        let Some((i, mangled)) = change_char(&text, at, new) else {
            return Err(TestCaseError::reject("no change"));
        };
        if let Ok(parsed) = VerifierKey::parse(&mangled) {
            // Key ids are hex, read case-insensitively as Go's note.NewVerifier reads them:
            // that is the only change allowed to give back the same key, which then prints
            // in its original, lowercase form.
            if parsed == key {
                let id = name.len() + 1..name.len() + 9;
                let old = text.as_bytes()[i] as char;
                prop_assert!(
                    id.contains(&i) && old.eq_ignore_ascii_case(&new),
                    "{:?} parses to the same key as {:?}", mangled, text
                );
                prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }

    #[test]
    fn any_char_change_breaks_a_signer_key(
        name in key_name(),
        seed in any::<[u8; 32]>(),
        at in any::<Index>(),
        new in key_char(),
    ) {
        let key = SignerKey::from_seed(KeyName::new(name.clone()).unwrap(), &seed);
        let text = key.to_private_string();
        let Some((i, mangled)) = change_char(&text, at, new) else {
            return Err(TestCaseError::reject("no change"));
        };
        if let Ok(parsed) = SignerKey::parse(&mangled) {
            // As for verifier keys, only a case change in the hex key id names the same key.
            if parsed.verifier() == key.verifier() {
                let id = "PRIVATE+KEY+".len() + name.len() + 1;
                let id = id..id + 8;
                let old = text.as_bytes()[i] as char;
                prop_assert!(
                    id.contains(&i) && old.eq_ignore_ascii_case(&new),
                    "{:?} parses to the same key", mangled
                );
            }
        }
    }
}

/// A random registry change over a small world: five candidate keys, two principals of
/// different countries, three roles, times in a short range, so that duplicates, unknown
/// keys, retirements before validity and repeated revocations all come up.
fn registry_change() -> impl Strategy<Value = huella_core::keylog::Change> {
    use huella_core::keylog::{Change, Principal, Role};
    use huella_core::values::{AgencyId, CountryCode};
    let key = |seed: u8| {
        SignerKey::from_seed(
            KeyName::new(format!("k{seed}.example")).unwrap(),
            &[seed; 32],
        )
        .verifier()
    };
    let principal = |i: u8| match i {
        0 => Principal {
            agency: AgencyId::new("US-DHS-CBP").unwrap(),
            country: CountryCode::new("US").unwrap(),
        },
        _ => Principal {
            agency: AgencyId::new("CO-MIGRACION").unwrap(),
            country: CountryCode::new("CO").unwrap(),
        },
    };
    let role = prop_oneof![
        Just(Role::Submitter),
        Just(Role::Auditor),
        Just(Role::ErasureAuthority)
    ];
    prop_oneof![
        (1u8..=5, 0u8..2, role, 0u64..10).prop_map(move |(seed, p, role, t)| Change::Register {
            principal: principal(p),
            role,
            key: key(seed),
            valid_from: Timestamp::from_unix_millis(t * 1000),
        }),
        (1u8..=5, 0u64..10).prop_map(move |(seed, t)| Change::Retire {
            key: key(seed).key_ref().clone(),
            valid_until: Timestamp::from_unix_millis(t * 1000),
        }),
        (1u8..=5, 0u64..10).prop_map(move |(seed, t)| Change::Revoke {
            key: key(seed).key_ref().clone(),
            compromised_since: Timestamp::from_unix_millis(t * 1000),
            reason: "stolen".to_string(),
        }),
    ]
}

proptest! {
    /// Replaying registry changes: a refused change leaves the registry as it was; replaying
    /// the accepted ones, at their indices, on a fresh registry gives the same registry (the
    /// log and every verifier replay the same way); every key registered stays in it; and a
    /// revoked key never signs again.
    #[test]
    fn registry_replay_is_deterministic_and_refusals_change_nothing(
        changes in prop::collection::vec(registry_change(), 0..40)
    ) {
        use huella_core::keylog::{KeyRegistry, SignError};
        use huella_core::trust::TrustRoot;
        let trust = TrustRoot::parse(
            serde_json::json!({
                "version": 1,
                "log": {"origin": "log.example", "key": SignerKey::from_seed(KeyName::new("log.example").unwrap(), &[0x40; 32]).verifier().to_string()},
                "countries": [],
                "registry": {"version": 2, "submitters": [], "holders": []}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let mut live = KeyRegistry::from_trust(&trust);
        let mut accepted = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let before = live.clone();
            match live.apply(change, index as u64) {
                Ok(()) => accepted.push((index as u64, change.clone())),
                Err(_) => prop_assert_eq!(&live, &before),
            }
        }
        let mut replayed = KeyRegistry::from_trust(&trust);
        for (index, change) in &accepted {
            replayed.apply(change, *index).unwrap();
        }
        prop_assert_eq!(&replayed, &live);
        let registered = accepted
            .iter()
            .filter(|(_, c)| matches!(c, huella_core::keylog::Change::Register { .. }))
            .count();
        prop_assert_eq!(live.records().count(), registered);
        let late = Timestamp::from_unix_millis(1_000_000);
        for record in live.records() {
            if let Some(revoked) = &record.revoked {
                let refused = live.may_sign(
                    record.key.key_ref(),
                    record.role,
                    &record.principal,
                    &late,
                    &late,
                );
                prop_assert_eq!(
                    refused.unwrap_err(),
                    SignError::Revoked { key: record.key.key_ref().to_string(), index: revoked.index }
                );
            }
        }
    }
}
