//! RFC 8785 (JCS) canonical JSON, and the strict parser every signed or hashed form goes
//! through.
//!
//! Policy: input is *parsed strictly* (unknown fields, duplicate keys, wrong types, numbers
//! that are not integers in JSON's exact range, invalid UTF-8 and lone surrogates are
//! rejected), then *canonicalized*: signatures and hashes always cover the RFC 8785 bytes of
//! the parsed value, never the bytes a client happened to send. A stored leaf, which is
//! hashed as it is, must already be canonical (see [`parse_canonical`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// MAX_SAFE_INTEGER is the largest integer JSON (as IEEE 754 doubles, which RFC 8785
/// serializes) represents exactly: 2^53 - 1. Integer fields are bounded by it so that every
/// JCS implementation writes them the same way.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// FormatError says why bytes are not a well-formed value of the expected JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The JSON does not parse, or does not match the schema.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The bytes parse but are not the RFC 8785 canonical form of what they hold.
    #[error("not in RFC 8785 canonical form")]
    NotCanonical,
}

/// to_canonical returns the RFC 8785 bytes of a value.
pub fn to_canonical<T: Serialize>(value: &T) -> Vec<u8> {
    // Invariant: our types serialize only strings, integers within MAX_SAFE_INTEGER, and
    // objects with string keys, which JCS always accepts.
    serde_json_canonicalizer::to_vec(value).expect("huella types always canonicalize")
}

/// to_canonical_sorted returns the RFC 8785 bytes of a value whose type declares its fields
/// in RFC 8785 key order, and holds only such structs, strings, booleans, unit enums and
/// integers up to [`MAX_SAFE_INTEGER`] (as every signed and hashed Huella type does). For
/// those, serde_json's compact output *is* the canonical form: same key order, no
/// whitespace, the same string escapes (the short forms, `\u00xx` in lowercase for other
/// controls, everything else as UTF-8), integers in plain decimal. This skips building a
/// `serde_json::Value`, the costliest step of [`to_canonical`]; tests check both agree.
pub fn to_canonical_sorted<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write_canonical_sorted(&mut out, value);
    out
}

/// write_canonical_sorted appends [`to_canonical_sorted`]'s bytes to `out`.
pub fn write_canonical_sorted<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    // Invariant: the types passed here serialize only strings, integers and structs.
    serde_json::to_writer(out, value).expect("huella types always serialize");
}

/// parse reads a value strictly. Duplicate keys and unknown fields are errors because the
/// types derive `Deserialize` with `deny_unknown_fields`, which also rejects repeats. An
/// error names the field it is about (`event.records_returned: invalid type: ...`).
///
/// serde's derived structs also take a JSON *array* of their fields in order, which is a
/// value of the wrong type (docs/format.md §1): so the value must also write back as the very
/// JSON it was read from, which refuses that and any other form the type would silently
/// normalize. That costs a second parse; [`parse_without_arrays`] is the fast path for forms
/// that hold no arrays at all.
pub fn parse<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, FormatError> {
    let value: T = parse_fields(bytes)?;
    let json = |e: serde_json::Error| FormatError::Json(e.to_string());
    let untyped: serde_json::Value = serde_json::from_slice(bytes).map_err(json)?;
    if serde_json::to_value(&value).map_err(json)? != untyped {
        return Err(FormatError::Json(
            "not in the documented form (an array where an object belongs?)".into(),
        ));
    }
    Ok(value)
}

/// parse_fields is serde's strict parse, with errors that name the field.
fn parse_fields<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FormatError> {
    serde_json::from_slice(bytes).map_err(|e| FormatError::Json(locate::<T>(bytes, e)))
}

/// locate says where parsing failed. Tracking the path costs time on every parse, so it is
/// done only here, on the way out, by parsing the same bytes again.
fn locate<T: DeserializeOwned>(bytes: &[u8], error: serde_json::Error) -> String {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(located) => located.to_string(),
        // The value parsed, so what failed came after it (trailing characters).
        Ok(_) => error.to_string(),
    }
}

/// parse_without_arrays is [`parse`] for forms that hold no arrays anywhere, such as a
/// submission. serde's derive reads a struct from an array of its fields in order, which no
/// Huella schema allows; refusing every array outside a string closes that door in one cheap
/// pass over the bytes, without comparing the input against its parsed value.
pub fn parse_without_arrays<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FormatError> {
    if let Some(at) = first_array(bytes) {
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |n| n + 1)
            + 1;
        return Err(FormatError::Json(format!(
            "an array at line {line} column {column}, where only objects, strings and \
             integers are allowed"
        )));
    }
    // Without arrays, serde reads only the documented form: no round trip needed.
    parse_fields(bytes)
}

/// first_array is the offset of the first `[` outside a JSON string.
fn first_array(bytes: &[u8]) -> Option<usize> {
    let (mut in_string, mut escaped) = (false, false);
    for (at, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if in_string {
            match b {
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' => return Some(at),
                _ => {}
            }
        }
    }
    None
}

/// parse_canonical reads a value that must already be in canonical form, as stored leaves
/// are: anything else would hash differently from what it claims to be.
pub fn parse_canonical<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, FormatError> {
    parse_exact(bytes, to_canonical)
}

/// parse_exact reads a value whose bytes must be exactly `write(&value)`, e.g. its canonical
/// form. Comparing bytes is stricter than [`parse`]'s written-back check, so the input is
/// parsed once: this is the fast path for stored leaves, which a verifier reads by the million.
pub fn parse_exact<T: DeserializeOwned>(
    bytes: &[u8],
    write: impl FnOnce(&T) -> Vec<u8>,
) -> Result<T, FormatError> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
    if write(&value) != bytes {
        return Err(FormatError::NotCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        b: String,
        a: u64,
    }

    #[test]
    fn keys_are_sorted_and_whitespace_removed() {
        let v = Sample {
            b: "é\n\"/".into(),
            a: 7,
        };
        assert_eq!(to_canonical(&v), r#"{"a":7,"b":"é\n\"/"}"#.as_bytes());
    }

    #[test]
    fn rfc8785_string_escapes() {
        // RFC 8785 §3.2.2.2: control characters as \uXXXX lowercase unless a short form exists.
        let v = serde_json::json!({"k": "\u{0001}\u{001f}\t\u{7f}€"});
        assert_eq!(
            to_canonical(&v),
            "{\"k\":\"\\u0001\\u001f\\t\u{7f}€\"}".as_bytes()
        );
    }

    #[test]
    fn duplicates_unknown_fields_and_floats_are_rejected() {
        assert!(parse::<Sample>(br#"{"a":1,"b":"x","a":2}"#).is_err());
        assert!(parse::<Sample>(br#"{"a":1,"b":"x","c":2}"#).is_err());
        assert!(parse::<Sample>(br#"{"a":1.0,"b":"x"}"#).is_err());
        assert!(parse::<Sample>(br#"{"a":1e2,"b":"x"}"#).is_err());
        assert!(parse::<Sample>(br#"{"a":NaN,"b":"x"}"#).is_err());
        assert!(parse::<Sample>(br#"{"a":1,"b":"\ud800"}"#).is_err());
        assert!(parse::<Sample>(b"{\"a\":1,\"b\":\"\xff\"}").is_err());
        // Found by fuzzing (fuzz/regressions/registry): serde takes `["x",1]` for a struct.
        assert!(parse::<Sample>(br#"["x",1]"#).is_err());
        assert!(parse::<Vec<Sample>>(br#"[["x",1]]"#).is_err());
        assert!(parse::<Vec<Sample>>(br#"[{"b":"x","a":1}]"#).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        #[derive(Deserialize, Serialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Outer {
            inner: Sample,
        }
        assert_eq!(
            parse::<Outer>(br#"{"inner":{"a":1,"b":"x"}}"#)
                .unwrap()
                .inner
                .a,
            1
        );
        let error = parse::<Outer>(br#"{"inner":{"a":"1","b":"x"}}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid JSON: inner.a: invalid type"),
            "{error}"
        );
        let error = parse::<Outer>(br#"{"inner":{"a":1,"b":"x"}} x"#).unwrap_err();
        assert!(error.to_string().contains("trailing characters"), "{error}");
    }

    #[test]
    fn arrays_are_refused_where_the_form_has_none() {
        // serde alone would read this as Sample { b: "x", a: 1 }.
        assert!(parse::<Sample>(br#"["x",1]"#).is_err());
        let error = parse_without_arrays::<Sample>(b"{\"a\":1,\n \"b\":[\"x\"]}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid JSON: an array at line 2 column 6, where only objects, strings and \
             integers are allowed"
        );
        // Brackets and escaped quotes inside strings are text.
        let text = br#"{"a":1,"b":"[x\"[\\"}"#;
        assert_eq!(parse_without_arrays::<Sample>(text).unwrap().b, "[x\"[\\");
    }

    #[test]
    fn canonical_form_is_required_where_asked() {
        assert!(parse_canonical::<Sample>(br#"{"a":1,"b":"x"}"#).is_ok());
        assert_eq!(
            parse_canonical::<Sample>(br#"{"b":"x","a":1}"#),
            Err(FormatError::NotCanonical)
        );
        assert_eq!(
            parse_canonical::<Sample>(br#"{"a":1, "b":"x"}"#),
            Err(FormatError::NotCanonical)
        );
    }
}
