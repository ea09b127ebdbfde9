//! Deserializers whose errors name the problem but never quote the input.
//!
//! A submission carries personal values (the openings of §3 of docs/format.md), and the log
//! answers a malformed one with an error message. serde's own messages quote what they
//! refuse (`invalid type: string "CO-CC-1020304050", expected struct Opening`, `unknown field
//! `...``), so every type a submission is made of reads its JSON through these instead: a
//! string, an integer or an object is taken through `deserialize_any`, and anything else is
//! refused by its kind alone ("expected a string, found an integer"). The caller's error path
//! names the field.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::canonical::MAX_SAFE_INTEGER;

/// refuse_other_kinds writes the visitor methods for every JSON kind but the wanted one(s):
/// each refuses with the kind it found and what was expected, never the value. (serde_json
/// reads a number with a fraction, an exponent or more than 64 bits as a float.)
macro_rules! refuse_other_kinds {
    ($expected:literal; $($method:ident $(($arg:ty))? => $found:literal),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> {
                Err(E::custom(concat!("expected ", $expected, ", found ", $found)))
            }
        )*
    };
}

/// TextVisitor reads a JSON string, borrowing it where it has no escapes.
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }

    refuse_other_kinds!("a string";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a negative integer",
        visit_u64(u64) => "an integer",
        visit_i128(i128) => "an integer",
        visit_u128(u128) => "an integer",
        visit_f64(f64) => "a number with a fraction, an exponent or a minus sign on zero, or beyond 64 bits",
        visit_bytes(&[u8]) => "bytes",
        visit_unit => "null",
        visit_none => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a string, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a string, found an object"))
    }
}

/// text reads a JSON string; any other kind of value is refused without quoting it.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_any(TextVisitor)
}

/// Text is a JSON string read by [`text`], for `#[serde(try_from = "Text")]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        text(d).map(|t| Text(t.into_owned()))
    }
}

/// CountVisitor reads a JSON integer from 0 to 2^53 - 1.
struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer from 0 to 2^53 - 1")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom("integer is above 2^53 - 1"));
        }
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(
                "expected an integer from 0 to 2^53 - 1, found a negative integer",
            )),
        }
    }

    refuse_other_kinds!("an integer from 0 to 2^53 - 1";
        visit_bool(bool) => "a boolean",
        visit_i128(i128) => "an integer beyond 64 bits",
        visit_u128(u128) => "an integer beyond 64 bits",
        visit_f64(f64) => "a number with a fraction, an exponent or a minus sign on zero, or beyond 64 bits",
        visit_str(&str) => "a string",
        visit_bytes(&[u8]) => "bytes",
        visit_unit => "null",
        visit_none => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<u64, A::Error> {
        Err(de::Error::custom(
            "expected an integer from 0 to 2^53 - 1, found an array",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<u64, A::Error> {
        Err(de::Error::custom(
            "expected an integer from 0 to 2^53 - 1, found an object",
        ))
    }
}

/// count reads a JSON integer from 0 to 2^53 - 1 (docs/format.md §1).
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(CountVisitor)
}

/// ObjectVisitor reads a JSON object as `T`, a struct with named fields.
struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(QuietKeys(map)))
    }

    refuse_other_kinds!("an object";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a negative integer",
        visit_u64(u64) => "an integer",
        visit_i128(i128) => "an integer",
        visit_u128(u128) => "an integer",
        visit_f64(f64) => "a number with a fraction, an exponent or a minus sign on zero, or beyond 64 bits",
        visit_str(&str) => "a string",
        visit_bytes(&[u8]) => "bytes",
        visit_unit => "null",
        visit_none => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        Err(de::Error::custom("expected an object, found an array"))
    }
}

/// object reads a JSON object as the struct `T`: any other kind of value is refused without
/// quoting it, and so is a member `T` does not have, without naming it (a member's name is
/// the sender's text too). For `#[serde(deserialize_with = "...")]`.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(ObjectVisitor(PhantomData))
}

/// Object is a struct read by [`object`], for the top level of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object<T>, D::Error> {
        object(d).map(Object)
    }
}

/// QuietKeys hands an object's member names to `T`'s field visitor as plain strings, so that
/// the visitor's error for an unknown member is a [`KeyError`], which does not quote it.
struct QuietKeys<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for QuietKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Text(name)) = self.0.next_key::<Text>()? else {
            return Ok(None);
        };
        seed.deserialize(CowStrDeserializer::<KeyError>::new(Cow::Owned(name)))
            .map(Some)
            .map_err(|e| de::Error::custom(e.0))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// KeyError is the error of identifying a member name: serde's `unknown_field` would quote
/// the name, this says only which names are allowed.
#[derive(Debug)]
struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

impl de::Error for KeyError {
    fn custom<T: fmt::Display>(msg: T) -> KeyError {
        KeyError(msg.to_string())
    }

    fn unknown_field(_: &str, expected: &'static [&'static str]) -> KeyError {
        let names: Vec<String> = expected.iter().map(|n| format!("`{n}`")).collect();
        KeyError(format!(
            "unknown field, expected one of {}",
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(deserialize_with = "text_string")]
        value: String,
        #[serde(deserialize_with = "count")]
        n: u64,
    }

    fn text_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        text(d).map(Cow::into_owned)
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(deserialize_with = "object")]
        inner: Inner,
    }

    fn error(json: &str) -> String {
        let mut de = serde_json::Deserializer::from_str(json);
        let error = serde_path_to_error::deserialize::<_, Object<Outer>>(&mut de).unwrap_err();
        error.to_string()
    }

    #[test]
    fn errors_name_the_place_and_the_kind_never_the_value() {
        let good = r#"{"inner": {"value": "x", "n": 1}}"#;
        let mut de = serde_json::Deserializer::from_str(good);
        let Object(outer) = Object::<Outer>::deserialize(&mut de).unwrap();
        assert_eq!(outer.inner.value, "x");
        #[rustfmt::skip]
        let cases = [
            (r#""SECRET""#, "expected an object, found a string"),
            (r#"{"inner": "SECRET"}"#, "inner: expected an object, found a string"),
            (r#"{"inner": 731955}"#, "inner: expected an object, found an integer"),
            (r#"{"inner": {"value": 731955, "n": 1}}"#, "inner.value: expected a string, found an integer"),
            (r#"{"inner": {"value": -731955, "n": 1}}"#, "inner.value: expected a string, found a negative"),
            (r#"{"inner": {"value": 731955.5, "n": 1}}"#, "inner.value: expected a string, found a number"),
            (r#"{"inner": {"value": {"SECRET": 1}, "n": 1}}"#, "inner.value: expected a string, found an object"),
            (r#"{"inner": {"value": "x", "n": "731955"}}"#, "inner.n: expected an integer from 0 to 2^53 - 1, found a string"),
            (r#"{"inner": {"value": "x", "n": 9007199254740992}}"#, "inner.n: integer is above 2^53 - 1"),
            (r#"{"inner": {"value": "x", "n": 1, "SECRET": "SECRET"}}"#, "inner: unknown field, expected one of `value`, `n`"),
            (r#"{"SECRET": 1, "inner": {"value": "x", "n": 1}}"#, "unknown field, expected one of `inner`"),
            (r#"{"inner": {"value": "x", "value": "SECRET", "n": 1}}"#, "inner: duplicate field `value`"),
        ];
        for (json, says) in cases {
            let message = error(json);
            assert!(message.contains(says), "{json}: {message}");
            assert!(
                !message.contains("SECRET") && !message.contains("731955"),
                "{message}"
            );
        }
    }
}
