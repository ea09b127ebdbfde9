//! Hostile input (issue #6), against the real HTTP app on 127.0.0.1:0. Every case checks what
//! a client would see: the exact status `docs/api.md` documents, the JSON error code, a
//! message that names what was wrong, and a log that did not change. Every test ends with the
//! whole log verifying. `docs/testing.md` lists the cases.

mod common;

use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{NOW, TestLog, agencies};
use huella::demo::Agency;
use huella::http::Limits;
use huella::keyfile::random_salt;
use huella::store::MemoryStore;
use huella_core::commitment::{Field, Salt};
use huella_core::event::{AccessEvent, EventSignature, PlainEvent, SignedEvent, Submission};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::registry::{Registry, RegistryError};
use huella_core::values::Timestamp;
use serde_json::{Value, json};

/// Indices into the demo agencies: two in the US, two in Colombia.
const CBP: usize = 0;
const FBI: usize = 1;
const MIGRACION: usize = 2;

const DAY_MS: u64 = 86_400_000;

async fn start() -> TestLog {
    TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await
}

/// plain is a valid event from `agency`, accessed half an hour before the test clock's now.
fn plain(agency: &Agency, request_id: &str) -> PlainEvent {
    let (holder, holder_country) = if agency.country.as_str() == "US" {
        ("CO-MIGRACION", "CO")
    } else {
        ("US-DHS-CBP", "US")
    };
    serde_json::from_value(json!({
        "request_id": request_id,
        "requesting_agency": agency.id,
        "requesting_country": agency.country,
        "requesting_user": "officer-04411",
        "holder_agency": holder,
        "holder_country": holder_country,
        "record_ref": "REC-000000123456",
        "subject": "CO-CC-1012345678",
        "category": "biometric_fingerprint",
        "purpose": "border_screening",
        "legal_basis": "US-CO letter of intent on biometric data sharing (2025), para. 3",
        "accessed_at": Timestamp::from_unix_millis(NOW - 1_800_000),
        "query": "fingerprint template sha256:9f2c",
        "outcome": "hit",
        "records_returned": 1
    }))
    .unwrap()
}

/// seal commits to and signs a valid event from `agency`.
fn seal(agency: &Agency, request_id: &str) -> Submission {
    plain(agency, request_id)
        .seal(&agency.key, Timestamp::from_unix_millis(NOW), random_salt)
        .unwrap()
}

/// resign changes a submission's event and signs it again with `key`, so that the change is
/// the only thing wrong with it.
fn resign(s: &Submission, key: &SignerKey, change: impl FnOnce(&mut AccessEvent)) -> Submission {
    let mut event = s.event.clone();
    change(&mut event);
    let signed = SignedEvent::sign(event, key).unwrap();
    Submission {
        event: signed.event,
        signature: signed.signature,
        openings: s.openings.clone(),
    }
}

fn body(s: &Submission) -> Vec<u8> {
    serde_json::to_vec(s).unwrap()
}

/// Base is a valid submission's JSON, which the malformed bodies are cut from.
struct Base {
    json: Value,
    text: String,
}

impl Base {
    fn new(s: &Submission) -> Base {
        Base {
            json: serde_json::to_value(s).unwrap(),
            text: serde_json::to_string(s).unwrap(),
        }
    }

    /// with sets the value at a JSON pointer.
    fn with(&self, pointer: &str, value: Value) -> Vec<u8> {
        let mut json = self.json.clone();
        *json.pointer_mut(pointer).unwrap() = value;
        serde_json::to_vec(&json).unwrap()
    }

    /// adding adds a field to the object at a JSON pointer.
    fn adding(&self, pointer: &str, field: &str, value: Value) -> Vec<u8> {
        let mut json = self.json.clone();
        let object = json.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        assert!(object.insert(field.into(), value).is_none());
        serde_json::to_vec(&json).unwrap()
    }

    /// without removes a field from the object at a JSON pointer.
    fn without(&self, pointer: &str, field: &str) -> Vec<u8> {
        let mut json = self.json.clone();
        let object = json.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        assert!(object.remove(field).is_some());
        serde_json::to_vec(&json).unwrap()
    }

    /// replacing puts raw bytes where `from` first occurs in the compact text.
    fn replacing(&self, from: &str, to: &[u8]) -> Vec<u8> {
        let at = self
            .text
            .find(from)
            .unwrap_or_else(|| panic!("{from} is not in {}", self.text));
        let mut out = self.text.as_bytes()[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&self.text.as_bytes()[at + from.len()..]);
        out
    }

    /// in_field puts raw bytes at the start of a string field's value.
    fn in_field(&self, field: &str, bytes: &[u8]) -> Vec<u8> {
        let key = format!("\"{field}\":\"");
        let mut to = key.as_bytes().to_vec();
        to.extend_from_slice(bytes);
        self.replacing(&key, &to)
    }
}

/// refused sends a request and checks that it is refused as `docs/api.md` says: the status,
/// the JSON error code, a message saying each of `says`, and a log that did not change.
async fn refused(
    log: &TestLog,
    what: &str,
    request: impl Future<Output = reqwest::Response>,
    (status, code): (u16, &str),
    says: &[&str],
) {
    let before = log.checkpoint().await;
    let response = request.await;
    assert_eq!(response.status().as_u16(), status, "{what}: status");
    let content_type = response.headers().get("content-type").cloned();
    let text = response.text().await.unwrap();
    assert!(
        content_type.is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
        "{what}: the error is not JSON: {text}"
    );
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"], code, "{what}: {error}");
    let message = error["message"].as_str().unwrap();
    for part in says {
        assert!(
            message.contains(part),
            "{what}: the message does not say {part:?}: {message}"
        );
    }
    let after = log.checkpoint().await;
    assert_eq!(
        (after.size, after.root),
        (before.size, before.root),
        "{what}: a refused request changed the log"
    );
}

const MALFORMED: (u16, &str) = (400, "malformed");

/// malformed posts a body that must be refused as malformed.
async fn malformed(log: &TestLog, what: &str, body: Vec<u8>, says: &[&str]) {
    refused(log, what, log.post(body), MALFORMED, says).await;
}

/// at is how an error message names the field at a JSON pointer: `/event/key` is `event.key: `.
fn at(pointer: &str) -> String {
    match pointer {
        "" => String::new(),
        _ => format!("{}: ", pointer[1..].replace('/', ".")),
    }
}

/// admission_steps is the numbered list of checks `POST /v1/entries` runs, as a document
/// states them (docs/format.md §5, docs/api.md), one string per step.
fn admission_steps(doc: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let order = text
        .find("in this order")
        .unwrap_or_else(|| panic!("{doc}: no check order"));
    let start = order + text[order..].find("\n1. ").expect("a numbered list");
    let mut steps: Vec<String> = Vec::new();
    for line in text[start + 1..].lines() {
        let number = line.split_once(". ").map(|(n, _)| n);
        if number.is_some_and(|n| n.parse::<usize>() == Ok(steps.len() + 1)) {
            steps.push(line.to_string());
        } else if line.starts_with("   ") && !steps.is_empty() {
            steps.last_mut().unwrap().push_str(line);
        } else {
            break;
        }
    }
    assert!(steps.len() >= 6, "{doc}: {steps:?}");
    steps
}

/// accepted submits and expects a new entry.
async fn accepted(log: &TestLog, s: &Submission) -> Value {
    let response = log.post(body(s)).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_and_names_the_problem() {
    let log = start().await;
    let (agencies, _) = agencies();
    accepted(&log, &seal(&agencies[CBP], "CBP-1")).await;
    let good = seal(&agencies[CBP], "CBP-2");
    let base = Base::new(&good);
    let text = base.text.as_bytes();

    // Truncated, followed by something, or not an object.
    let fields_in_order = [
        &base.json["event"],
        &base.json["signature"],
        &base.json["openings"],
    ];
    #[rustfmt::skip]
    let cases = [
        ("an empty body", vec![], "EOF while parsing a value"),
        ("a body cut in half", text[..text.len() / 2].to_vec(), "EOF while parsing"),
        ("no closing brace", text[..text.len() - 1].to_vec(), "EOF while parsing an object"),
        ("garbage after the object", [text, b"x"].concat(), "trailing characters"),
        ("two objects", [text, text].concat(), "trailing characters"),
        ("0xFF before the object", [b"\xff", text].concat(), "expected value"),
        ("a string", b"\"submission\"".to_vec(), "expected an object, found a string"),
        ("null", b"null".to_vec(), "expected an object, found null"),
        ("an empty array", b"[]".to_vec(), "an array at line 1 column 1,"),
        ("the fields in an array", serde_json::to_vec(&fields_in_order).unwrap(), "an array"),
    ];
    for (what, body, says) in cases {
        malformed(&log, what, body, &[says]).await;
    }

    // Wrong types, at every level. serde would read a struct from an array of its fields and
    // an enum from a one-key object; neither is the schema.
    let event = base.json["event"].as_object().unwrap();
    let event_as_array = Value::Array(event.values().cloned().collect());
    #[rustfmt::skip]
    let cases = [
        ("/event", event_as_array, "an array at line 1 column 10, where only objects"),
        ("/openings/subject", json!(["AAAA", "x"]), "an array at line 1 column"),
        ("/event/outcome", json!({"hit": null}), "expected a string, found an object"),
        ("/event/records_returned", json!("1"), "expected an integer from 0 to 2^53 - 1, found a string"),
        ("/event/records_returned", json!(null), "expected an integer from 0 to 2^53 - 1, found null"),
        ("/event/records_returned", json!(true), "expected an integer from 0 to 2^53 - 1, found a boolean"),
        ("/event/purpose", json!(7), "expected a string, found an integer"),
        ("/event/accessed_at", json!(1_795_435_200), "expected a string, found an integer"),
        ("/signature", json!(12), "expected a string, found an integer"),
        ("/openings", json!(null), "expected an object, found null"),
        ("/openings/subject", json!("CO-CC-1"), "expected an object, found a string"),
        ("/openings/subject/value", json!(1_012_345_678), "expected a string, found an integer"),
    ];
    for (pointer, value, says) in cases {
        let path = if says.starts_with("an array") {
            String::new()
        } else {
            at(pointer)
        };
        let what = format!("{pointer} = {value}");
        malformed(
            &log,
            &what,
            base.with(pointer, value),
            &[&format!("{path}{says}")],
        )
        .await;
    }

    // Missing and unknown fields, at every level.
    for (pointer, field) in [
        ("", "event"),
        ("", "signature"),
        ("/event", "legal_basis"),
        ("/event", "key"),
        ("/openings/query", "salt"),
    ] {
        let says = format!("{}missing field `{field}`", at(pointer));
        malformed(&log, &says, base.without(pointer, field), &[&says]).await;
    }
    for (pointer, field) in [
        ("", "comment"),
        ("/event", "officer_name"),
        ("/openings/subject", "hint"),
    ] {
        // The path is the object's; the unknown member's name is the sender's text, and not
        // quoted (it could be a personal value).
        let says = format!("{}unknown field, expected one of `", at(pointer));
        malformed(
            &log,
            &says,
            base.adding(pointer, field, json!("x")),
            &[&says],
        )
        .await;
    }

    // Duplicate keys, at the top level and nested. Each repeats a field with a valid value,
    // so only the repetition is wrong.
    let signature = format!("{{\"signature\":\"{}\",", B64.encode(good.signature.0));
    let purpose = "\"purpose\":\"border_screening\"";
    #[rustfmt::skip]
    let cases = [
        ("{", signature, "duplicate field `signature`"),
        (purpose, format!("{purpose},\"purpose\":\"statistics\""), "event: duplicate field"),
        ("\"subject\":{", "\"subject\":{\"value\":\"x\",".into(), "openings.subject: duplicate"),
    ];
    for (from, to, says) in cases {
        malformed(&log, says, base.replacing(from, to.as_bytes()), &[says]).await;
    }

    // Fields over their own size limits, in bodies well under the body limit.
    #[rustfmt::skip]
    let cases = [
        ("/event/legal_basis", 513, "invalid legal basis: length 513 is outside 1..=512"),
        ("/event/request_id", 129, "invalid request id: length 129 is outside 1..=128"),
        ("/event/purpose", 65, "invalid purpose: length 65 is outside 1..=64"),
        ("/event/holder_agency", 65, "invalid agency id: length 65 is outside 1..=64"),
    ];
    for (pointer, length, says) in cases {
        let what = format!("{pointer} of {length} characters");
        let body = base.with(pointer, json!("x".repeat(length)));
        malformed(&log, &what, body, &[&format!("{}{says}", at(pointer))]).await;
    }

    // Invalid UTF-8 and control characters in strings, raw and escaped. Raw control
    // characters are not JSON; escaped ones, and the invisible characters that change how
    // text reads, are refused by the field's own rule, so that an auditor sees what was logged.
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], &str)] = &[
        ("legal_basis", b"\xff", "invalid unicode code point"),
        ("legal_basis", b"\xc0\xaf", "invalid unicode code point"), // overlong '/'
        ("legal_basis", b"\xed\xa0\x80", "invalid unicode code point"), // a surrogate
        ("legal_basis", b"\xe2\x82", "invalid unicode code point"), // a character cut short
        ("legal_basis", b"\\ud800", "unexpected end of hex escape"), // a lone high surrogate
        ("legal_basis", b"\\udc00", "lone leading surrogate in hex escape"),
        ("legal_basis", b"\x01", "control character (\\u0000-\\u001F) found"),
        ("purpose", b"\n", "control character (\\u0000-\\u001F) found"),
        ("legal_basis", b"\\u0000", "invalid legal basis: character U+0000 at position 1 is a control"),
        ("legal_basis", b"\\n", "character U+000A at position 1 is a control character (category Cc)"),
        ("legal_basis", b"\\u001b[31m", "character U+001B at position 1 is a control"), // ANSI colour
        ("legal_basis", b"\x7f", "character U+007F at position 1 is a control"), // delete
        ("legal_basis", "\u{85}".as_bytes(), "character U+0085 at position 1 is a control"), // next line
        ("legal_basis", b"\\u202e", "character U+202E at position 1 is an invisible format"), // RTL override
        ("legal_basis", "\u{200b}".as_bytes(), "U+200B at position 1 is an invisible format"),
        // The reported ones (issue #13), and a mark, an isolate and a variation selector.
        ("legal_basis", "\u{61c}".as_bytes(), "U+061C at position 1 is an invisible format"),
        ("legal_basis", b"\\u00ad", "U+00AD at position 1 is an invisible format"), // soft hyphen
        ("legal_basis", "\u{180e}".as_bytes(), "U+180E at position 1 is an invisible format"),
        ("legal_basis", "\u{fff9}".as_bytes(), "U+FFF9 at position 1 is an invisible format"),
        ("legal_basis", b"\\udb40\\udc41", "U+E0041 at position 1 is an invisible format"), // tag A
        ("legal_basis", "\u{200f}".as_bytes(), "U+200F at position 1 is an invisible format"),
        ("legal_basis", "\u{2066}".as_bytes(), "U+2066 at position 1 is an invisible format"),
        ("legal_basis", "\u{fe0f}".as_bytes(), "U+FE0F at position 1 is a default-ignorable"),
        ("purpose", b"\\t", "invalid purpose: character U+0009 at position 1 is not allowed"),
        ("request_id", b"\\u0000", "invalid request id: character U+0000 at position 1 is not"),
        ("key", b"\\n", "invalid key name: must be non-empty, without spaces"),
        ("key", "\u{200f}".as_bytes(), "invalid key name"),
    ];
    for (field, bytes, says) in cases {
        let what = format!(
            "{} in {field}",
            String::from_utf8_lossy(bytes).escape_debug()
        );
        let path = format!("event.{field}: ");
        malformed(&log, &what, base.in_field(field, bytes), &[&path, says]).await;
    }

    // Numbers: the count must be a plain integer from 0 to 2^53 - 1.
    let count = format!("\"records_returned\":{}", good.event.records_returned.get());
    #[rustfmt::skip]
    let cases = [
        ("1e400", "number out of range"),
        ("-1e400", "number out of range"),
        ("NaN", "expected value"),
        ("Infinity", "expected value"),
        ("-0", "expected an integer from 0 to 2^53 - 1, found a number with a fraction, an exponent or a minus sign on zero"),
        ("1.0", "expected an integer from 0 to 2^53 - 1, found a number with a fraction"),
        ("1e0", "expected an integer from 0 to 2^53 - 1, found a number with a fraction"),
        ("01", "invalid number"),
        ("+1", "expected value"),
        ("-1", "expected an integer from 0 to 2^53 - 1, found a negative integer"),
        ("9007199254740992", "integer is above 2^53 - 1"),
        ("18446744073709551616", "expected an integer from 0 to 2^53 - 1, found a number with a fraction, an exponent or a minus sign on zero, or beyond 64 bits"),
        ("123456789012345678901234567890", "expected an integer from 0 to 2^53 - 1, found a number with a fraction, an exponent or a minus sign on zero, or beyond 64 bits"),
    ];
    for (spelling, says) in cases {
        let bad = base.replacing(
            &count,
            format!("\"records_returned\":{spelling}").as_bytes(),
        );
        let says = format!("event.records_returned: {says}");
        malformed(
            &log,
            &format!("records_returned: {spelling}"),
            bad,
            &[&says],
        )
        .await;
    }
    // JSON has no hex numbers: it reads 0 and stops at the x.
    let hex = base.replacing(&count, b"\"records_returned\":0x1");
    malformed(&log, "records_returned: 0x1", hex, &["expected `,` or `}`"]).await;

    // The body the cases were cut from is fine, and the log verifies.
    accepted(&log, &good).await;
    assert_eq!(log.check_log().await.0.size, 2);
    log.stop().await;
}

/// MARKER and NUMBER stand for personal values: a national id as text and as a number.
const MARKER: &str = "CO-CC-7319551234";
const NUMBER: u64 = 7_319_551_234;

/// echoes_nothing posts a body built around a personal value and checks the error: its status
/// and code, that it names the place and the problem (`says`), and that the body quotes
/// neither marker.
async fn echoes_nothing(log: &TestLog, what: &str, body: Vec<u8>, answer: (u16, &str), says: &str) {
    let response = log.post(body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    for marker in [MARKER, "7319551234"] {
        assert!(
            !text.contains(marker),
            "{what}: the error quotes the value: {text}"
        );
    }
    assert_eq!(
        (status, text.contains(answer.1)),
        (answer.0, true),
        "{what}: {text}"
    );
    assert!(
        text.contains(says),
        "{what}: the error does not say {says:?}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_quote_personal_values() {
    let log = start().await;
    let (agencies, _) = agencies();
    let cbp = &agencies[CBP];
    let mut plain = plain(cbp, "CBP-MARKER");
    plain.subject = MARKER.into();
    plain.requesting_user = MARKER.into();
    plain.record_ref = MARKER.into();
    plain.query = MARKER.into();
    let good = plain
        .clone()
        .seal(&cbp.key, Timestamp::from_unix_millis(NOW), random_salt)
        .unwrap();
    let base = Base::new(&good);
    let long = format!("{MARKER}{}", "x".repeat(16 * 1024));
    let opening = json!({"salt": base.json["openings"]["subject"]["salt"], "value": MARKER});

    // Where an opening, its value or its salt belongs, each field in turn.
    for field in ["subject", "requesting_user", "record_ref", "query"] {
        let at = |rest: &str| format!("/openings/{field}{rest}");
        let path = format!("openings.{field}");
        #[rustfmt::skip]
        let cases = [
            (at(""), json!(MARKER), format!("{path}: expected an object, found a string")),
            (at(""), json!(NUMBER), format!("{path}: expected an object, found an integer")),
            (at(""), json!({MARKER: MARKER}), format!("{path}: unknown field, expected one of `salt`")),
            (at("/value"), json!(NUMBER), format!("{path}.value: expected a string, found an integer")),
            (at("/value"), json!(-(NUMBER as i64)), format!("{path}.value: expected a string, found a negative integer")),
            (at("/value"), json!(NUMBER as f64 + 0.5), format!("{path}.value: expected a string, found a number")),
            (at("/value"), json!({"id": MARKER}), format!("{path}.value: expected a string, found an object")),
            (at("/value"), json!(long), format!("{path}.value: value is 16400 bytes, longer than 16384")),
            (at("/salt"), json!(MARKER), format!("{path}.salt: salt is not standard base64")),
            (at("/salt"), json!(NUMBER), format!("{path}.salt: expected a string, found an integer")),
        ];
        for (pointer, value, says) in cases {
            let what = format!("{pointer} = {value}");
            echoes_nothing(&log, &what, base.with(&pointer, value), MALFORMED, &says).await;
        }
        // Unknown fields beside the value, holding it or named by it.
        let pointer = at("");
        let body = base.adding(&pointer, "hint", json!(MARKER));
        let says = format!("{path}: unknown field, expected one of `salt`, `value`");
        echoes_nothing(
            &log,
            "an unknown field with the value",
            body,
            MALFORMED,
            &says,
        )
        .await;
        let body = base.adding(&pointer, MARKER, json!("x"));
        echoes_nothing(
            &log,
            "an unknown field named by the value",
            body,
            MALFORMED,
            &says,
        )
        .await;
        // The value in the event, in clear, where its commitment belongs.
        let pointer = format!("/event/{field}");
        let says = format!("event.{field}: hash is not valid standard base64");
        echoes_nothing(
            &log,
            &pointer,
            base.with(&pointer, json!(MARKER)),
            MALFORMED,
            &says,
        )
        .await;
        let says = format!("event.{field}: expected a string, found an integer");
        echoes_nothing(
            &log,
            &pointer,
            base.with(&pointer, json!(NUMBER)),
            MALFORMED,
            &says,
        )
        .await;
    }

    // The value anywhere else the sender might put it by mistake.
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("the body a string", json!(MARKER).to_string().into_bytes(), "expected an object, found a string"),
        ("the body a number", NUMBER.to_string().into_bytes(), "expected an object, found an integer"),
        ("an opening beside the four", base.adding("/openings", "name", opening.clone()), "openings: unknown field, expected one of `subject`"),
        ("an opening named by the value", base.adding("/openings", MARKER, opening), "openings: unknown field"),
        ("an unknown event field", base.adding("/event", "subject_name", json!(MARKER)), "event: unknown field, expected one of `accessed_at`"),
        ("an unknown top-level field", base.adding("", "subject", json!(MARKER)), "unknown field, expected one of `event`, `signature`, `openings`"),
        ("openings as a string", base.with("/openings", json!(MARKER)), "openings: expected an object, found a string"),
        ("the event as a string", base.with("/event", json!(MARKER)), "event: expected an object, found a string"),
        ("the signature", base.with("/signature", json!(MARKER)), "signature: signature is not standard base64"),
        ("the key", base.with("/event/key", json!(MARKER)), "event.key: malformed key string"),
        ("the key, with a space", base.with("/event/key", json!(format!("{MARKER} x+00000000"))), "event.key: invalid key name"),
        ("the request id, with a space", base.with("/event/request_id", json!(format!("{MARKER} 1"))), "event.request_id: invalid request id: character U+0020 at position 17"),
        ("the agency", base.with("/event/holder_agency", json!(format!("{MARKER} x"))), "event.holder_agency: invalid agency id: character U+0020"),
        ("the purpose", base.with("/event/purpose", json!(MARKER)), "event.purpose: invalid purpose: character U+0043 at position 1"),
        ("the legal basis, invisible", base.with("/event/legal_basis", json!(format!("{MARKER}\u{200b}"))), "event.legal_basis: invalid legal basis: character U+200B at position 17"),
        ("the country", base.with("/event/holder_country", json!(MARKER)), "event.holder_country: invalid country code: length 16"),
        ("the outcome", base.with("/event/outcome", json!(MARKER)), "event.outcome: unknown outcome, expected one of"),
        ("the category", base.with("/event/category", json!(MARKER)), "event.category: unknown category, expected one of"),
        ("the kind", base.with("/event/kind", json!(MARKER)), "event.kind: unknown kind, expected one of access"),
        ("the time", base.with("/event/accessed_at", json!(MARKER)), "event.accessed_at: invalid timestamp"),
        ("the count as text", base.with("/event/records_returned", json!(MARKER)), "event.records_returned: expected an integer from 0 to 2^53 - 1, found a string"),
        ("the count", base.with("/event/records_returned", json!(NUMBER * 10_000_000)), "event.records_returned: integer is above 2^53 - 1"),
        ("the count, negative", base.with("/event/records_returned", json!(-(NUMBER as i64))), "found a negative integer"),
        ("a raw byte after it", base.in_field("value", &[MARKER.as_bytes(), b"\xff"].concat()), "invalid unicode code point"),
        ("a lone surrogate after it", base.in_field("value", &[MARKER.as_bytes(), b"\\ud800"].concat()), "unexpected end of hex escape"),
        ("a raw control character after it", base.in_field("value", &[MARKER.as_bytes(), b"\x01"].concat()), "control character"),
        ("it repeated as a duplicate", base.replacing("\"value\":", format!("\"value\":\"{MARKER}\",\"value\":").as_bytes()), "duplicate field `value`"),
        ("it after the body", [base.text.as_bytes(), MARKER.as_bytes()].concat(), "trailing characters"),
        ("the body cut after it", base.text.as_bytes()[..base.text.find(MARKER).unwrap() + MARKER.len()].to_vec(), "EOF while parsing"),
    ];
    for (what, body, says) in cases {
        echoes_nothing(&log, what, body, MALFORMED, says).await;
    }

    // Well-formed, signed submissions refused later: their errors quote nothing personal.
    let mut wrong = good.clone();
    wrong.openings.subject.value = format!("{MARKER}0");
    let says = "opening for subject does not match its commitment";
    echoes_nothing(
        &log,
        "an opening that does not open",
        body(&wrong),
        (422, "commitment_mismatch"),
        says,
    )
    .await;
    let late = plain
        .seal(
            &cbp.key,
            Timestamp::from_unix_millis(NOW + DAY_MS),
            random_salt,
        )
        .unwrap();
    let late = resign(&late, &cbp.key, |e| {
        e.accessed_at = Timestamp::from_unix_millis(NOW - 2 * DAY_MS)
    });
    echoes_nothing(
        &log,
        "too old",
        body(&late),
        (422, "access_time_out_of_window"),
        "in the past",
    )
    .await;

    accepted(&log, &good).await;
    assert_eq!(log.check_log().await.0.size, 1);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_and_nesting_limits_hold() {
    // A body limit large enough for 100,000 levels of nesting, to show that no stack
    // overflows and the service stays up.
    let limits = Limits {
        max_body: 1 << 20,
        ..Limits::default()
    };
    let log = TestLog::start(Arc::new(MemoryStore::new()), limits).await;
    let (agencies, _) = agencies();
    let good = seal(&agencies[CBP], "CBP-1");
    let base = Base::new(&good);
    let legal_basis = format!("\"{}\"", good.event.legal_basis);
    let arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let objects = format!("{}1{}", "{\"x\":".repeat(100_000), "}".repeat(100_000));
    #[rustfmt::skip]
    let cases = [
        ("nested arrays", arrays.clone().into_bytes(), "an array at line 1 column 1,"),
        ("unclosed arrays", "[".repeat(100_000).into_bytes(), "an array at line 1 column 1,"),
        ("nested arrays in a field", base.replacing(&legal_basis, arrays.as_bytes()), "an array"),
        (
            "nested objects in a field",
            base.replacing(&legal_basis, objects.as_bytes()),
            "event.legal_basis: expected a string, found an object",
        ),
        (
            "nested objects in an unknown field",
            base.replacing("{", format!("{{\"x\":{objects},").as_bytes()),
            "unknown field, expected one of `event`",
        ),
    ];
    for (what, body, says) in cases {
        malformed(&log, &format!("100,000 {what}"), body, &[says]).await;
    }

    // One byte over the body limit: 413 before anything is parsed. At the limit the body
    // is read, and refused for the field that is too long.
    let padded = |total: usize| {
        let mut json = base.json.clone();
        let pad = total - base.text.len() + legal_basis.len() - 2;
        json["event"]["legal_basis"] = json!("x".repeat(pad));
        let bytes = serde_json::to_vec(&json).unwrap();
        assert_eq!(bytes.len(), total);
        bytes
    };
    // The answer says the connection closes (the body is left unread), so that a client
    // does not send its next request on it and see that cut off.
    let response = log.post_over_limit(padded(limits.max_body + 1)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["connection"], "close");
    let over = log.post_over_limit(padded(limits.max_body + 1));
    let too_large = (413, "too_large");
    refused(
        &log,
        "over the limit",
        over,
        too_large,
        &["larger than 1048576 bytes"],
    )
    .await;
    let length = "event.legal_basis: invalid legal basis: length 1047471 is outside 1..=512";
    malformed(&log, "at the limit", padded(limits.max_body), &[length]).await;

    // The default limit is 512 KiB.
    let log = {
        log.stop().await;
        start().await
    };
    let over = log.post_over_limit(padded(Limits::default().max_body + 1));
    refused(
        &log,
        "over 512 KiB",
        over,
        too_large,
        &["larger than 524288 bytes"],
    )
    .await;

    // The service is still up.
    accepted(&log, &good).await;
    assert_eq!(log.check_log().await.0.size, 1);
    log.stop().await;
}

/// flip_unused_bits sets the low bit of the last base64 character before the padding, which
/// carries no data when there is padding: a non-canonical spelling of the same bytes.
fn flip_unused_bits(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert!(text.ends_with('='), "without padding no bits are unused");
    let last = text.trim_end_matches('=').len() - 1;
    let mut bytes = text.as_bytes().to_vec();
    let value = ALPHABET.iter().position(|&c| c == bytes[last]).unwrap();
    bytes[last] = ALPHABET[value | 1];
    assert_ne!(bytes, text.as_bytes(), "the low bit was already set");
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_and_signatures_are_refused() {
    let log = start().await;
    let (agencies, _) = agencies();
    let (cbp, fbi, migracion) = (&agencies[CBP], &agencies[FBI], &agencies[MIGRACION]);
    accepted(&log, &seal(cbp, "CBP-1")).await;
    let good = seal(cbp, "CBP-2");
    let base = Base::new(&good);
    let signature = B64.encode(good.signature.0);
    let salt = B64.encode(good.openings.subject.salt.0);
    let key = good.event.key.to_string();
    let (name, id) = key.split_once('+').unwrap();
    assert_ne!(id, id.to_uppercase(), "the key id has letters");

    // 400: keys, signatures and salts that are not even well-formed.
    const BASE64: &str = "is not standard base64";
    const SIGNATURE_LENGTH: &str = "signature must be 64 bytes";
    const KEY_ID: &str = "malformed key string: key id must be 8 lowercase hex digits";
    #[rustfmt::skip]
    let cases = [
        ("not base64", "/signature", "not base64!".into(), BASE64),
        ("empty", "/signature", String::new(), SIGNATURE_LENGTH),
        ("unpadded", "/signature", signature.trim_end_matches('=').into(), BASE64),
        ("extra padding", "/signature", format!("{signature}="), BASE64),
        ("a line break", "/signature", format!("{}\n{}", &signature[..44], &signature[44..]),
            BASE64),
        ("unused bits set", "/signature", flip_unused_bits(&signature), BASE64),
        ("63 bytes", "/signature", B64.encode([7; 63]), SIGNATURE_LENGTH),
        ("65 bytes", "/signature", B64.encode([7; 65]), SIGNATURE_LENGTH),
        ("31 bytes", "/openings/subject/salt", B64.encode([7; 31]), "salt must be 32 bytes"),
        ("33 bytes", "/openings/subject/salt", B64.encode([7; 33]), "salt must be 32 bytes"),
        ("unused bits set", "/openings/subject/salt", flip_unused_bits(&salt), BASE64),
        ("no key id", "/event/key", name.into(), "malformed key string: want name+hexid"),
        ("a 7-digit id", "/event/key", format!("{name}+{}", &id[1..]), KEY_ID),
        ("a 9-digit id", "/event/key", format!("{key}0"), KEY_ID),
        ("an id in capitals", "/event/key", format!("{name}+{}", id.to_uppercase()), KEY_ID),
        ("no name", "/event/key", format!("+{id}"), "invalid key name"),
    ];
    for (what, pointer, value, says) in cases {
        let what = format!("{pointer} with {what}");
        malformed(
            &log,
            &what,
            base.with(pointer, json!(value)),
            &[&at(pointer), says],
        )
        .await;
    }

    // 401: a key nobody registered, including one with a registered key's name.
    for stranger in [
        SignerKey::from_seed(KeyName::new("stranger.example/huella").unwrap(), &[99; 32]),
        SignerKey::from_seed(cbp.key.name().clone(), &[99; 32]),
    ] {
        let s = resign(&good, &stranger, |e| e.key = stranger.key_ref().clone());
        let says = format!("key {} is not registered", stranger.key_ref());
        refused(
            &log,
            &says,
            log.post(body(&s)),
            (401, "unknown_key"),
            &[&says],
        )
        .await;
    }

    // 403: a registered key speaking for another agency, or for its agency in another
    // country.
    let for_cbp = resign(&good, &fbi.key, |e| e.key = fbi.key.key_ref().clone());
    let from_co = seal(migracion, "MIG-1");
    let in_us = resign(&from_co, &migracion.key, |e| {
        e.requesting_country = huella_core::values::CountryCode::new("US").unwrap();
    });
    #[rustfmt::skip]
    let cases = [
        (for_cbp, "is registered for US-DOJ-FBI-CJIS (US), not US-DHS-CBP (US)"),
        (in_us, "is registered for CO-MIGRACION (CO), not CO-MIGRACION (US)"),
    ];
    for (s, says) in cases {
        let says = format!("key {} {says}", s.event.key);
        refused(
            &log,
            &says,
            log.post(body(&s)),
            (403, "unauthorized_key"),
            &[&says],
        )
        .await;
    }

    // 401: signatures that do not verify with the key the event names.
    let prefixless = {
        let signed = good.event.signing_bytes();
        EventSignature(
            cbp.key
                .sign(&signed[huella_core::event::EVENT_SIGNING_PREFIX.len()..]),
        )
    };
    let mut flipped = good.signature;
    flipped.0[10] ^= 0x01;
    let by_fbi = EventSignature(fbi.key.sign(&good.event.signing_bytes()));
    let says = format!("signature does not verify with key {}", cbp.key.key_ref());
    #[rustfmt::skip]
    let cases = [
        ("the right key's signature over another event", seal(cbp, "CBP-3").signature),
        ("another registered key's signature", by_fbi),
        ("a signature without the domain prefix", prefixless),
        ("a signature with one bit flipped", flipped),
        ("a signature of zeros", EventSignature([0; 64])),
    ];
    for (what, signature) in cases {
        let s = Submission {
            signature,
            ..good.clone()
        };
        refused(
            &log,
            what,
            log.post(body(&s)),
            (401, "bad_signature"),
            &[&says],
        )
        .await;
    }
    let changed = log.post(base.with("/event/purpose", json!("statistics")));
    refused(
        &log,
        "an event changed after signing",
        changed,
        (401, "bad_signature"),
        &[&says],
    )
    .await;

    accepted(&log, &good).await;
    assert_eq!(log.check_log().await.0.size, 2);
    log.stop().await;
}

#[test]
fn a_registry_with_bad_keys_does_not_load() {
    // Public keys are never sent to the API (events name their key), so bad public keys can
    // only come in through the registry file; each is refused, saying what was wrong.
    let (agencies, _) = agencies();
    let good = agencies[CBP].key.verifier().to_string();
    let (name_and_id, data) = good.rsplit_once('+').unwrap();
    let id = name_and_id.split_once('+').unwrap().1;
    let raw = B64.decode(data).unwrap();
    let with_data = |bytes: &[u8]| format!("{name_and_id}+{}", B64.encode(bytes));
    // 0x01 (Ed25519), then the identity point: a valid encoding of a small-order key.
    let mut weak = [0u8; 33];
    weak[..2].copy_from_slice(&[0x01, 0x01]);
    let other_algorithm = [&[0x02], &raw[1..]].concat();
    const LENGTH: &str = "key data must be 33 bytes (0x01 || 32-byte key)";
    #[rustfmt::skip]
    let cases = [
        ("a 31-byte public key", with_data(&raw[..32]), LENGTH),
        ("a 33-byte public key", with_data(&[raw.as_slice(), &[0]].concat()), LENGTH),
        ("key data one character short", format!("{name_and_id}+{}", &data[1..]), "base64"),
        ("key data with extra padding", format!("{good}="), "base64"),
        ("another algorithm", with_data(&other_algorithm), "unsupported key algorithm 0x02"),
        ("a small-order key", with_data(&weak), "small-order (weak) key"),
        ("a wrong key id", good.replacen(id, "00000000", 1), "key id 00000000 does not match"),
    ];
    for (what, key, says) in cases {
        let file = json!({
            "version": 2,
            "submitters": [{"agency": "US-DHS-CBP", "country": "US", "key": key}],
            "holders": [],
        });
        let error = Registry::parse(&serde_json::to_vec(&file).unwrap()).expect_err(what);
        assert!(
            matches!(error, RegistryError::Format(_)),
            "{what}: {error:?}"
        );
        let message = error.to_string();
        for part in ["submitters[0].key: ", says] {
            assert!(
                message.contains(part),
                "{what}: {message:?} does not say {part:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_get_the_original_receipt_and_conflicts_are_409() {
    let log = start().await;
    let (agencies, _) = agencies();
    let (cbp, fbi) = (&agencies[CBP], &agencies[FBI]);
    for n in 0..2 {
        accepted(&log, &seal(cbp, &format!("CBP-{n}"))).await;
    }
    let first = seal(cbp, "CBP-REPLAYED");
    let original = accepted(&log, &first).await;
    assert_eq!(original["index"], 2);
    let size = log.checkpoint().await.size;

    // The same signed event, sent again as it was and re-spelled (pretty-printed, fields in
    // another order, an escape): signatures cover the canonical form, so all are replays.
    let json = serde_json::to_value(&first).unwrap();
    let (event, signature, openings) = (&json["event"], &json["signature"], &json["openings"]);
    let reordered = json!({"openings": openings, "signature": signature, "event": event});
    let respelled = serde_json::to_string_pretty(&reordered).unwrap();
    let respelled = respelled.replacen("border_screening", "border\\u005fscreening", 1);
    for (what, bytes) in [
        ("an identical replay", body(&first)),
        ("a re-spelled replay", respelled.into_bytes()),
    ] {
        let response = log.post(bytes).await;
        assert_eq!(response.status(), 200, "{what}");
        let receipt: Value = response.json().await.unwrap();
        assert_eq!(receipt, original, "{what} gets the original receipt");
        assert_eq!(log.checkpoint().await.size, size, "{what} adds nothing");
    }

    // A storm of concurrent retries of a new event logs it once.
    let stormed = seal(cbp, "CBP-STORM");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, url, bytes) = (log.http.clone(), log.url("/v1/entries"), body(&stormed));
        tasks.spawn(async move {
            let response = http.post(url).body(bytes).send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap()["index"].clone(),
            )
        });
    }
    let mut answers: Vec<(u16, Value)> = tasks.join_all().await;
    answers.sort_by_key(|(status, _)| *status);
    let mut want = vec![(200, json!(3)); 15];
    want.push((201, json!(3)));
    assert_eq!(answers, want, "one 201 and fifteen 200s, all for entry 3");
    assert_eq!(log.checkpoint().await.size, size + 1);

    // The same request id with other content: 409, naming the original's index. Fresh salts
    // alone make other content.
    let other_purpose = resign(&first, &cbp.key, |e| {
        e.purpose = huella_core::values::Purpose::new("statistics").unwrap();
    });
    let says = "request id CBP-REPLAYED of US-DHS-CBP is already logged at index 2";
    for (what, s) in [
        ("another purpose", other_purpose),
        ("fresh salts", seal(cbp, "CBP-REPLAYED")),
    ] {
        refused(&log, what, log.post(body(&s)), (409, "conflict"), &[says]).await;
    }
    // Request ids are per agency: another agency may use the same one.
    let reused = accepted(&log, &seal(fbi, "CBP-REPLAYED")).await;
    assert_eq!(reused["index"], 4);
    assert_eq!(log.check_log().await.0.size, 5);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_times_outside_the_window_are_422() {
    let log = start().await;
    let (agencies, _) = agencies();
    let cbp = &agencies[CBP];
    let at = |accessed_at: Timestamp, request_id: &str| {
        let mut p = plain(cbp, request_id);
        p.accessed_at = Some(accessed_at);
        p.seal(&cbp.key, Timestamp::from_unix_millis(NOW), random_salt)
            .unwrap()
    };
    let ms = Timestamp::from_unix_millis;
    let year_9999 = Timestamp::parse("9999-12-31T23:59:59.999999999Z").unwrap();
    #[rustfmt::skip]
    let cases = [
        ("2 days ago", ms(NOW - 2 * DAY_MS), "172800 s in the past; the log accepts up to 86400"),
        ("a day and a millisecond ago", ms(NOW - DAY_MS - 1), "86400 s in the past"),
        ("at the Unix epoch", ms(0), "1970-01-01T00:00:00.000Z is 1795435200 s in the past"),
        ("an hour ahead", ms(NOW + 3_600_000), "3600 s in the future; the log accepts up to 300 s"),
        ("five minutes and a millisecond ahead", ms(NOW + 300_001), "300 s in the future"),
        ("in the year 9999", year_9999, "accessed_at 9999-12-31T23:59:59.999999999Z is"),
    ];
    for (what, accessed_at, says) in cases {
        let s = at(accessed_at, &what.replace(' ', "-"));
        let window = (422, "access_time_out_of_window");
        refused(&log, what, log.post(body(&s)), window, &[says]).await;
    }
    // The edges of the window are inside it.
    accepted(&log, &at(ms(NOW - DAY_MS), "OLDEST")).await;
    accepted(&log, &at(ms(NOW + 300_000), "NEWEST")).await;
    assert_eq!(log.check_log().await.0.size, 2);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commitments_that_do_not_open_are_refused() {
    let log = start().await;
    let (agencies, _) = agencies();
    let cbp = &agencies[CBP];
    let good = seal(cbp, "CBP-1");
    let base = Base::new(&good);

    // 422: every opening is checked, and the error names the field.
    let mut cases = Vec::new();
    for field in Field::ALL {
        let mut s = good.clone();
        match field {
            Field::Subject => s.openings.subject.value.push('x'),
            Field::RequestingUser => s.openings.requesting_user.value.push('x'),
            Field::RecordRef => s.openings.record_ref.value.push('x'),
            Field::Query => s.openings.query.value.push('x'),
        }
        cases.push((format!("another value for {}", field.name()), s, field));
    }
    let mut other_salt = good.clone();
    other_salt.openings.record_ref.salt = Salt([7; 32]);
    cases.push((
        "another salt for record_ref".into(),
        other_salt,
        Field::RecordRef,
    ));
    let mut swapped = good.clone();
    std::mem::swap(
        &mut swapped.openings.subject,
        &mut swapped.openings.record_ref,
    );
    cases.push((
        "subject and record_ref swapped".into(),
        swapped,
        Field::Subject,
    ));
    // The query's salt and value, given for the subject: the field's tag tells them apart.
    let mut query_for_subject = good.clone();
    query_for_subject.openings.subject = good.openings.query.clone();
    cases.push((
        "the query's opening for subject".into(),
        query_for_subject,
        Field::Subject,
    ));
    for (what, s, field) in cases {
        let says = format!("opening for {} does not match its commitment", field.name());
        let mismatch = (422, "commitment_mismatch");
        refused(&log, &what, log.post(body(&s)), mismatch, &[&says]).await;
    }

    // 400: openings missing, extra, or longer than 16 KiB (committed and signed properly).
    let with_query_of = |length: usize, request_id: &str| {
        let mut s = seal(cbp, request_id);
        s.openings.query.value = "x".repeat(length);
        s.event.query = s.openings.query.commitment(Field::Query);
        resign(&s, &cbp.key, |_| {})
    };
    let opening = base.json["openings"]["query"].clone();
    #[rustfmt::skip]
    let cases = [
        ("no openings", base.without("", "openings"), "missing field `openings`"),
        ("no opening for query", base.without("/openings", "query"), "openings: missing field"),
        (
            "an opening for a field that is not committed",
            base.adding("/openings", "holder_agency", opening),
            "openings: unknown field, expected one of `subject`",
        ),
        (
            "an opening value of 16 KiB and a byte",
            body(&with_query_of(16 * 1024 + 1, "CBP-LONG")),
            "openings.query.value: value is 16385 bytes, longer than 16384",
        ),
    ];
    for (what, body, says) in cases {
        malformed(&log, what, body, &[says]).await;
    }

    // The docs put that limit where the log checks it: parsing, step 1 of both lists.
    for doc in ["docs/format.md", "docs/api.md"] {
        let steps = admission_steps(doc);
        assert!(
            steps[0].contains("16 KiB") || steps[0].contains("16384"),
            "{doc}: {steps:?}"
        );
        for step in &steps[1..] {
            assert!(
                !step.contains("16 KiB") && !step.contains("16384"),
                "{doc}: {step}"
            );
        }
    }

    // A value of exactly 16 KiB is fine.
    accepted(&log, &with_query_of(16 * 1024, "CBP-LONGEST")).await;
    accepted(&log, &good).await;
    assert_eq!(log.check_log().await.0.size, 2);
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_read_parameters_are_refused() {
    let log = start().await;
    let (agencies, _) = agencies();
    for n in 0..3 {
        accepted(&log, &seal(&agencies[CBP], &format!("CBP-{n}"))).await;
    }

    // 400 bad_parameter: numbers that are not plain decimals, or do not fit in 64 bits.
    #[rustfmt::skip]
    let cases = [
        ("/v1/entries/-1", "index", "-1"),
        ("/v1/entries/abc", "index", "abc"),
        ("/v1/entries/01", "index", "01"),
        ("/v1/entries/+1", "index", "+1"),
        ("/v1/entries/1.0", "index", "1.0"),
        ("/v1/entries/1e2", "index", "1e2"),
        ("/v1/entries/%201", "index", " 1"),
        ("/v1/entries?start=-1", "start", "-1"),
        ("/v1/entries?limit=-1", "limit", "-1"),
        ("/v1/entries?limit=", "limit", ""),
        ("/v1/entries?limit=ten", "limit", "ten"),
        ("/v1/proofs/inclusion?index=-1", "index", "-1"),
        ("/v1/proofs/inclusion?index=0&tree_size=3.0", "tree_size", "3.0"),
        ("/v1/proofs/consistency?from=0x1&to=3", "from", "0x1"),
        ("/v1/receipts/abc", "index", "abc"),
        ("/v1/receipts/0?tree_size=-3", "tree_size", "-3"),
    ];
    for (path, name, value) in cases {
        let says = format!(
            "{name} must be a decimal integer without sign or leading zeros, got {value:?}"
        );
        refused(&log, path, log.get(path), (400, "bad_parameter"), &[&says]).await;
    }
    #[rustfmt::skip]
    let cases = [
        ("/v1/entries/18446744073709551616", "index is too large (above 18446744073709551615)"),
        ("/v1/entries?limit=99999999999999999999", "limit is too large"),
        ("/v1/entries?limit=1&limit=2", "duplicate field `limit`"),
        ("/v1/proofs/inclusion?tree_size=3", "missing parameter index"),
        ("/v1/proofs/consistency?to=3", "missing parameter from"),
    ];
    for (path, says) in cases {
        refused(&log, path, log.get(path), (400, "bad_parameter"), &[says]).await;
    }

    // 400: numbers that parse but ask for what cannot be.
    #[rustfmt::skip]
    let cases = [
        ("/v1/entries?limit=0", "bad_limit", "limit must be between 1 and 1000"),
        ("/v1/entries?limit=1001", "bad_limit", "limit must be between 1 and 1000"),
        ("/v1/entries?limit=1000000000", "bad_limit", "limit must be between 1 and 1000"),
        ("/v1/proofs/inclusion?index=3", "out_of_range", "index 3 is outside a tree of size 3"),
        ("/v1/proofs/inclusion?index=0&tree_size=0", "out_of_range", "outside a tree of size 0"),
        ("/v1/receipts/3", "out_of_range", "no entry 3 in the tree of size 3"),
        ("/v1/proofs/consistency?from=5&to=2", "bad_range", "from (5) must not be larger than to"),
        ("/v1/proofs/consistency?from=4", "bad_range", "from (4) must not be larger than to (3)"),
    ];
    for (path, code, says) in cases {
        refused(&log, path, log.get(path), (400, code), &[says]).await;
    }

    // 404: what is beyond the log, and paths that are not endpoints.
    #[rustfmt::skip]
    let cases = [
        ("/v1/entries/3", "no entry 3: the log has 3 entries"),
        ("/v1/entries/18446744073709551615", "no entry 18446744073709551615"),
        ("/v1/entries?start=4", "start 4 is beyond the log, which has 3 entries"),
        ("/v1/entries?start=18446744073709551615", "start 18446744073709551615 is beyond"),
        ("/v1/proofs/inclusion?index=0&tree_size=4", "tree_size 4 is beyond the log"),
        ("/v1/proofs/inclusion?index=0&tree_size=18446744073709551615", "is beyond the log"),
        ("/v1/proofs/consistency?from=1&to=4", "to 4 is beyond the log"),
        ("/v1/receipts/0?tree_size=4", "tree_size 4 is beyond the log"),
        ("/v1/entries/0/extra", "no such endpoint"),
        ("/v2/entries", "no such endpoint"),
    ];
    for (path, says) in cases {
        refused(&log, path, log.get(path), (404, "not_found"), &[says]).await;
    }

    // 405: the wrong method.
    for (method, path) in [
        (reqwest::Method::PUT, "/v1/entries"),
        (reqwest::Method::DELETE, "/v1/entries/0"),
        (reqwest::Method::POST, "/checkpoint"),
        (reqwest::Method::PATCH, "/v1/keys"),
    ] {
        let what = format!("{method} {path}");
        let request = log.http.request(method, log.url(path)).send();
        let request = async { request.await.unwrap() };
        refused(
            &log,
            &what,
            request,
            (405, "method_not_allowed"),
            &["not allowed"],
        )
        .await;
    }

    // The values next to the refused ones work.
    for path in [
        "/v1/entries/2",
        "/v1/entries?limit=1000",
        "/v1/entries?start=0&limit=1",
        "/v1/proofs/inclusion?index=2&tree_size=3",
        "/v1/proofs/consistency?from=3&to=3",
        "/v1/proofs/consistency?from=0",
        "/v1/receipts/2?tree_size=3",
    ] {
        assert_eq!(log.get(path).await.status(), 200, "{path}");
    }
    let end = log.get("/v1/entries?start=3").await;
    assert_eq!(end.status(), 200);
    assert!(
        end.bytes().await.unwrap().is_empty(),
        "start = size is an empty page"
    );
    assert_eq!(log.check_log().await.0.size, 3);
    log.stop().await;
}
