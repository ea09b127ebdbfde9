//! Salted commitments to personal data. The public entry holds only
//! `SHA-256(tag || salt || value)`; the opening (salt and value) is kept apart, so deleting
//! it erases the value for good while every hash and signature still verifies.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize;

use crate::merkle::Hash;

/// MAX_VALUE_BYTES bounds a committed value (e.g. a query's search data).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// Field names a committed field. Each has its own domain-separation tag, so a commitment to
/// one field can never be passed off as a commitment to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// The data subject: a reference to the person whose record it is.
    Subject,
    /// The individual officer who made the query.
    RequestingUser,
    /// The holder's reference of the record(s) touched.
    RecordRef,
    /// The data used to search.
    Query,
}

impl Field {
    /// ALL lists every committed field.
    pub const ALL: [Field; 4] = [
        Field::Subject,
        Field::RequestingUser,
        Field::RecordRef,
        Field::Query,
    ];

    /// name is the field's JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::RequestingUser => "requesting_user",
            Field::RecordRef => "record_ref",
            Field::Query => "query",
        }
    }

    /// tag is the domain-separation tag: `huella/commitment/v1/<name>` and a newline.
    pub fn tag(self) -> String {
        format!("huella/commitment/v1/{}\n", self.name())
    }
}

/// Salt is 32 random bytes chosen by the submitting client for one commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Drop for Salt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(..)")
    }
}

impl serde::Serialize for Salt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Salt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Salt, D::Error> {
        let text = crate::quiet::text(d)?;
        let bytes = B64
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("salt is not standard base64"))?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("salt must be 32 bytes"))?;
        Ok(Salt(array))
    }
}

/// Commitment is `SHA-256(tag || salt || value)`, written in base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Commitment(pub Hash);

/// commit computes a commitment. The tag is fixed per field and the salt is 32 bytes, so the
/// concatenation is unambiguous.
pub fn commit(field: Field, salt: &Salt, value: &str) -> Commitment {
    let mut h = Sha256::new();
    h.update(field.tag().as_bytes());
    h.update(salt.0);
    h.update(value.as_bytes());
    Commitment(Hash(h.finalize().into()))
}

/// Opening is what opens a commitment: the salt and the value, stored apart from the log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The salt.
    pub salt: Salt,
    /// The committed value, as UTF-8 text (binary data is sent as base64 by convention).
    #[serde(deserialize_with = "bounded_value")]
    pub value: String,
}

/// bounded_value reads a committed value of at most [`MAX_VALUE_BYTES`], so that a long one
/// is refused as malformed, naming its field, before any signature or hash is checked.
fn bounded_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = crate::quiet::text(d)?.into_owned();
    if value.len() > MAX_VALUE_BYTES {
        return Err(serde::de::Error::custom(format!(
            "value is {} bytes, longer than {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    Ok(value)
}

/// CommitmentError says which field's opening is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// The opening does not hash to the commitment.
    #[error("opening for {0} does not match its commitment")]
    Mismatch(&'static str),
    /// The value is longer than [`MAX_VALUE_BYTES`].
    #[error("value for {0} is longer than {MAX_VALUE_BYTES} bytes")]
    TooLong(&'static str),
    /// The value holds a character a reader cannot see (a control, format or other
    /// invisible character, as in every free-text field): two values that look the same
    /// would then differ, and a search for one would miss the other.
    #[error("value for {field}: {why}")]
    Invisible {
        /// The field.
        field: &'static str,
        /// Which character, where (never the value).
        why: String,
    },
}

impl Opening {
    /// new pairs a salt with a value.
    pub fn new(salt: Salt, value: impl Into<String>) -> Opening {
        Opening {
            salt,
            value: value.into(),
        }
    }

    /// commitment computes what this opening commits to for `field`.
    pub fn commitment(&self, field: Field) -> Commitment {
        commit(field, &self.salt, &self.value)
    }

    /// check verifies that this opening opens `commitment` for `field`.
    pub fn check(&self, field: Field, commitment: &Commitment) -> Result<(), CommitmentError> {
        if self.value.len() > MAX_VALUE_BYTES {
            return Err(CommitmentError::TooLong(field.name()));
        }
        if self.commitment(field) != *commitment {
            return Err(CommitmentError::Mismatch(field.name()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_bind_field_salt_and_value() {
        let salt = Salt([9; 32]);
        let c = commit(Field::Subject, &salt, "CO-1234");
        assert_ne!(c, commit(Field::Query, &salt, "CO-1234"), "field separates");
        assert_ne!(
            c,
            commit(Field::Subject, &Salt([8; 32]), "CO-1234"),
            "salt hides"
        );
        assert_ne!(c, commit(Field::Subject, &salt, "CO-1235"), "value binds");
        let opening = Opening::new(salt, "CO-1234");
        assert_eq!(opening.check(Field::Subject, &c), Ok(()));
        assert_eq!(
            opening.check(Field::RecordRef, &c),
            Err(CommitmentError::Mismatch("record_ref"))
        );
    }

    #[test]
    fn openings_longer_than_the_limit_do_not_parse() {
        let at_limit = Opening::new(Salt([1; 32]), "x".repeat(MAX_VALUE_BYTES));
        let json = serde_json::to_string(&at_limit).unwrap();
        assert_eq!(serde_json::from_str::<Opening>(&json).unwrap(), at_limit);
        let over = json.replacen("\"x", "\"xx", 1);
        let error = serde_json::from_str::<Opening>(&over).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("value is 16385 bytes, longer than 16384"),
            "{error}"
        );
    }

    #[test]
    fn known_answer() {
        // SHA-256("huella/commitment/v1/subject\n" || 0x00*32 || "x"), computed with Python's
        // hashlib, so the tag and layout are pinned independently of this code.
        let c = commit(Field::Subject, &Salt([0; 32]), "x");
        assert_eq!(
            c.0.to_base64(),
            "fK9lZraUbg6jQX0SY8J0XTakIllCgWrFMDvLajKBqo4="
        );
    }
}
