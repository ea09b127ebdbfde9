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
/// types derive `Deserialize` with `deny_unknown_fields`, which also rejects repeats. serde's
/// derived structs also take a JSON *array* of their fields in order, which is a value of the
/// wrong type (docs/format.md §1): so the value must write back as the very JSON it was read
/// from, which refuses that and any other form the type would silently normalize.
pub fn parse<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, FormatError> {
    let json = |e: serde_json::Error| FormatError::Json(e.to_string());
    let value: T = serde_json::from_slice(bytes).map_err(json)?;
    let untyped: serde_json::Value = serde_json::from_slice(bytes).map_err(json)?;
    if serde_json::to_value(&value).map_err(json)? != untyped {
        return Err(FormatError::Json(
            "not in the documented form (an array where an object belongs?)".into(),
        ));
    }
    Ok(value)
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
