//! Checked values that events are made of: agency ids, country codes, request ids,
//! purposes, legal bases, timestamps and counts. Each is built only through a constructor
//! that checks it, so the rest of the code cannot hold a bad one.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::canonical::MAX_SAFE_INTEGER;

/// ValueError says which value is malformed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {why}")]
pub struct ValueError {
    /// What kind of value (e.g. "country code").
    pub what: &'static str,
    /// Why it was refused.
    pub why: String,
}

fn charset(
    s: &str,
    min: usize,
    max: usize,
    ok: fn(char) -> bool,
    allowed: &str,
) -> Result<(), String> {
    let len = s.chars().count();
    if len < min || len > max {
        return Err(format!("length {len} is outside {min}..={max}"));
    }
    match s.chars().enumerate().find(|&(_, c)| !ok(c)) {
        Some((i, c)) => Err(format!(
            "character {} at position {} is not allowed (allowed: {allowed})",
            code_point(c),
            i + 1
        )),
        None => Ok(()),
    }
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// new checks the value and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, ValueError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&value).map_err(|why| ValueError { what: $what, why })?;
                Ok(Self(value))
            }

            /// as_str returns the checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = crate::quiet::text(d)?;
                Self::new(value.into_owned()).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_string!(
    /// AgencyId names an agency, e.g. `US-DHS-CBP`: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    AgencyId,
    "agency id",
    |s| charset(s, 1, 64, |c| c.is_ascii_alphanumeric() || "._-".contains(c), "A-Z a-z 0-9 . _ -")
);

checked_string!(
    /// CountryCode is an ISO 3166-1 alpha-2 code in capitals, e.g. `CO`.
    CountryCode,
    "country code",
    |s| charset(s, 2, 2, |c| c.is_ascii_uppercase(), "two capital letters A-Z")
);

checked_string!(
    /// RequestId is the agency's own id for a request, used to make retries idempotent:
    /// 1 to 128 visible ASCII characters, no spaces.
    RequestId,
    "request id",
    |s| charset(s, 1, 128, |c| c.is_ascii_graphic(), "visible ASCII, no spaces")
);

checked_string!(
    /// Purpose is a short code for why data was accessed, e.g. `border_screening`:
    /// 1 to 64 of `a-z 0-9 _ -`, so that counts by purpose group cleanly.
    Purpose,
    "purpose",
    |s| charset(s, 1, 64, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c), "a-z 0-9 _ -")
);

/// DEFAULT_IGNORABLE lists the Default_Ignorable_Code_Point ranges (Unicode
/// DerivedCoreProperties.txt) whose general category is not Cc or Cf, which
/// [`invisible`] refuses by category: the combining grapheme joiner, Hangul fillers,
/// Khmer inherent vowels, Mongolian free variation selectors, variation selectors, and the
/// code points Unicode reserves for future ignorables. Unicode keeps this property stable.
const DEFAULT_IGNORABLE: [(char, char); 11] = [
    ('\u{034F}', '\u{034F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180D}'),
    ('\u{180F}', '\u{180F}'),
    ('\u{2065}', '\u{2065}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Invisible is why [`invisible`] refuses a character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invisible {
    /// General category Cc: C0 and C1 controls and delete.
    Control,
    /// General category Cf: bidirectional marks and controls, zero-width characters, tags.
    Format,
    /// General category Zl or Zp: U+2028 and U+2029.
    Separator,
    /// Default_Ignorable_Code_Point of another category: variation selectors, fillers.
    DefaultIgnorable,
}

impl Invisible {
    /// describe says what kind of character it is, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Invisible::Control => "a control character (category Cc)",
            Invisible::Format => "an invisible format character (category Cf)",
            Invisible::Separator => "a line or paragraph separator (category Zl/Zp)",
            Invisible::DefaultIgnorable => "a default-ignorable character",
        }
    }
}

/// invisible says whether a reader could miss `c` or be misled by it, and why: a control, a
/// format character (bidi marks, overrides and isolates, zero-width characters, the soft
/// hyphen, the byte-order mark, tag characters), a line or paragraph separator, or any other
/// default-ignorable code point (variation selectors, fillers). An auditor must see what was
/// logged; docs/format.md §2 ("Visible text") lists every code point this refuses.
pub fn invisible(c: char) -> Option<Invisible> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    match c.general_category() {
        GeneralCategory::Control => Some(Invisible::Control),
        GeneralCategory::Format => Some(Invisible::Format),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some(Invisible::Separator)
        }
        _ if DEFAULT_IGNORABLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c)) =>
        {
            Some(Invisible::DefaultIgnorable)
        }
        _ => None,
    }
}

/// visible_text checks free text: its length, and that no character is invisible.
fn visible_text(s: &str, min: usize, max: usize) -> Result<(), String> {
    charset(s, min, max, |_| true, "")?;
    match first_invisible(s) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// first_invisible names the first character of `s` a reader cannot see (see [`invisible`]),
/// by its code point and position, never quoting the text around it.
pub fn first_invisible(s: &str) -> Option<String> {
    let (i, c, why) = s
        .chars()
        .enumerate()
        .find_map(|(i, c)| Some((i, c, invisible(c)?)))?;
    Some(format!(
        "character {} at position {} is {}, which a reader cannot see",
        code_point(c),
        i + 1,
        why.describe()
    ))
}

/// code_point writes a character as `U+XXXX`, which names it without printing it.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

checked_string!(
    /// LegalBasis cites the instrument and article invoked, e.g.
    /// `US-CO biometric data-sharing LoI (2025), sec. 3`: 1 to 512 characters of visible
    /// text (see [`invisible`]).
    LegalBasis,
    "legal basis",
    |s| visible_text(s, 1, 512)
);

checked_string!(
    /// Reason says why registrars revoked a key, e.g. `laptop stolen on 2027-03-02`: 1 to
    /// 512 characters of visible text (see [`invisible`]), public like the rest of the log.
    Reason,
    "reason",
    |s| visible_text(s, 1, 512)
);

/// Timestamp is an instant in RFC 3339 UTC form (`2026-11-23T19:13:00Z`, optionally with a
/// fraction of a second). It keeps the exact text it was given, because that text is what
/// was signed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The text as written (and signed).
    text: String,
    /// The same instant, in milliseconds since the Unix epoch, for comparisons.
    unix_millis: u64,
}

impl Timestamp {
    /// parse reads an RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`).
    pub fn parse(text: &str) -> Result<Timestamp, ValueError> {
        let err = |why: &str| ValueError {
            what: "timestamp",
            why: why.to_string(),
        };
        // humantime checks the first 19 bytes (`YYYY-MM-DDTHH:MM:SS`) but not all of the rest:
        // it takes `.Z`, and anything after a `Z` or `+` within 25 bytes (`…:00ZabcZ`). After
        // the seconds, RFC 3339 UTC allows only `Z`, or a dot, digits, and `Z`.
        let rest_is_utc = match text.as_bytes().get(19..) {
            Some([b'Z']) => true,
            Some([b'.', digits @ .., b'Z']) => {
                !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
        if text.len() > 30 || !rest_is_utc {
            return Err(err("want RFC 3339 UTC, like 2026-11-23T19:13:00Z"));
        }
        // RFC 3339 allows second 60 for a leap second, but most parsers refuse it (and
        // humantime reads it as second 59): signed text that one verifier reads as some
        // instant and another not at all. Refused.
        if text.get(17..19) == Some("60") {
            return Err(err(
                "second 60 (a leap second) is not allowed; seconds are 00-59",
            ));
        }
        let time = humantime::parse_rfc3339(text).map_err(|e| {
            err(&format!(
                "{e}; want RFC 3339 UTC, like 2026-11-23T19:13:00Z"
            ))
        })?;
        let since = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| err("before 1970"))?;
        Ok(Timestamp {
            text: text.to_string(),
            unix_millis: since.as_millis() as u64,
        })
    }

    /// from_unix_millis writes an instant with millisecond precision, as the log stamps
    /// entries.
    pub fn from_unix_millis(unix_millis: u64) -> Timestamp {
        let time = UNIX_EPOCH + Duration::from_millis(unix_millis);
        Timestamp {
            text: humantime::format_rfc3339_millis(time).to_string(),
            unix_millis,
        }
    }

    /// from_system_time truncates a clock reading to milliseconds.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Timestamp::from_unix_millis(millis)
    }

    /// unix_millis is the instant in milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> u64 {
        self.unix_millis
    }

    /// as_str is the text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = crate::quiet::text(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Count is a non-negative integer that JSON represents exactly (at most 2^53 - 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(into = "u64")]
pub struct Count(u64);

impl<'de> serde::Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        crate::quiet::count(d).map(Count)
    }
}

impl Count {
    /// new checks the bound.
    pub fn new(value: u64) -> Result<Count, ValueError> {
        if value > MAX_SAFE_INTEGER {
            return Err(ValueError {
                what: "count",
                why: "is above 2^53 - 1".to_string(),
            });
        }
        Ok(Count(value))
    }

    /// get returns the number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Count {
    type Error = ValueError;
    fn try_from(value: u64) -> Result<Count, ValueError> {
        Count::new(value)
    }
}

impl From<Count> for u64 {
    fn from(c: Count) -> u64 {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_strings_accept_and_refuse() {
        assert!(AgencyId::new("US-DHS-CBP").is_ok());
        assert!(AgencyId::new("").is_err());
        assert!(AgencyId::new("a b").is_err());
        assert!(CountryCode::new("CO").is_ok());
        assert!(CountryCode::new("co").is_err());
        assert!(CountryCode::new("COL").is_err());
        assert!(RequestId::new("REQ/2026:0001").is_ok());
        assert!(RequestId::new("x".repeat(129)).is_err());
        assert!(Purpose::new("border_screening").is_ok());
        assert!(Purpose::new("Border").is_err());
        assert!(LegalBasis::new("LoI 2025, art. 3").is_ok());
        assert!(LegalBasis::new("bad\u{0000}").is_err());
        assert!(
            LegalBasis::new("art. 3\u{202E}4 .tra").is_err(),
            "direction override"
        );
        assert!(LegalBasis::new("art.\u{2028}3").is_err(), "line separator");
        assert!(LegalBasis::new("Carta de intención, párr. 3").is_ok());
    }

    #[test]
    fn legal_bases_refuse_invisible_characters() {
        #[rustfmt::skip]
        let cases = [
            ('\u{061C}', Invisible::Format), // Arabic letter mark
            ('\u{00AD}', Invisible::Format), // soft hyphen
            ('\u{180E}', Invisible::Format), // Mongolian vowel separator
            ('\u{FFF9}', Invisible::Format), // interlinear annotation anchor
            ('\u{E0041}', Invisible::Format), // tag latin capital letter A
            ('\u{0007}', Invisible::Control), // bell
            ('\u{0085}', Invisible::Control), // next line
            ('\u{200F}', Invisible::Format), // right-to-left mark
            ('\u{2066}', Invisible::Format), // left-to-right isolate
            ('\u{2029}', Invisible::Separator), // paragraph separator
            ('\u{FE0F}', Invisible::DefaultIgnorable), // variation selector 16
            ('\u{E0100}', Invisible::DefaultIgnorable), // variation selector 17
            ('\u{3164}', Invisible::DefaultIgnorable), // Hangul filler
            ('\u{034F}', Invisible::DefaultIgnorable), // combining grapheme joiner
        ];
        for (c, kind) in cases {
            assert_eq!(invisible(c), Some(kind), "U+{:04X}", u32::from(c));
            let text = format!("Ley 1581{c} art. 26");
            let error = LegalBasis::new(text.as_str()).unwrap_err();
            assert_eq!(error.what, "legal basis");
            let code = format!(
                "U+{:04X} at position 9 is {}",
                u32::from(c),
                kind.describe()
            );
            assert!(error.why.contains(&code), "{error}");
            assert!(
                !error.to_string().contains(&text),
                "{error} quotes the value"
            );
        }
        for text in [
            "Carta de intención, párr. 3 (Ley Estatutaria 1581 de 2012, art. 26)",
            "US-CO letter of intent on biometric data sharing (2025), para. 3 — «anexo»",
            "Reglamento (UE) 2024/1358, artículo 41; Décret n° 2019-1 ¿válido? ñ ü ç",
        ] {
            assert!(LegalBasis::new(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn timestamps_round_trip_and_refuse_offsets() {
        let t = Timestamp::parse("2026-11-23T19:13:00Z").unwrap();
        assert_eq!(t.unix_millis(), 1_795_461_180_000);
        assert_eq!(
            Timestamp::from_unix_millis(t.unix_millis()).as_str(),
            "2026-11-23T19:13:00.000Z"
        );
        assert!(Timestamp::parse("2026-11-23T19:13:00+01:00").is_err());
        assert!(Timestamp::parse("2026-13-23T19:13:00Z").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-11-23T19:13:00.Z").is_err());
        // humantime ignores what follows a `Z` (fuzz/regressions/event has these as events).
        assert!(Timestamp::parse("2026-11-23T19:13:00ZabcZ").is_err());
        assert!(Timestamp::parse("2026-11-23T19:13:00Z+é+Z").is_err());
        assert!(Timestamp::parse("2026-11-23T19:13:00.5+abcdZ").is_err());
        assert!(Timestamp::parse("2026-11-23T19:13:00.1x3Z").is_err());
        assert!(Timestamp::parse("2026-11-23T19:13:00.123456789Z").is_ok());
    }

    #[test]
    fn leap_seconds_are_refused() {
        // Most RFC 3339 parsers refuse second 60; one that takes it reads another instant.
        for text in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2026-11-23T19:13:60Z",
        ] {
            let error = Timestamp::parse(text).unwrap_err();
            assert_eq!(error.what, "timestamp");
            assert!(error.why.contains("leap second"), "{error}");
        }
        assert!(Timestamp::parse("2016-12-31T23:59:59.999Z").is_ok());
    }

    #[test]
    fn counts_stay_exact_in_json() {
        assert!(Count::new(MAX_SAFE_INTEGER).is_ok());
        assert!(Count::new(MAX_SAFE_INTEGER + 1).is_err());
        assert!(serde_json::from_str::<Count>("9007199254740992").is_err());
    }
}
