//! The access event: what an agency signs and submits for every cross-border access.
//!
//! Its fields follow what access-log rules for cross-border systems ask of each record
//! (EU Eurodac Art. 41, SIS Art. 12): who, whose data, what, why, on which legal basis,
//! when, with which query, and with what result. Fields that identify a person are
//! [commitments](crate::commitment); their openings travel beside the event.
//!
//! The agency signs `"huella/event/v1\n" || JCS(event)` with its Ed25519 key; the prefix keeps
//! event signatures apart from anything else the same key might sign.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::canonical::{FormatError, parse_without_arrays};
use crate::commitment::{Commitment, CommitmentError, Field, Opening, Salt};
use crate::keys::{KeyRef, SignerKey, VerifierKey};
use crate::quiet::{Object, Text};
use crate::values::{AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp};

/// EVENT_SIGNING_PREFIX is prepended to the canonical event before signing.
pub const EVENT_SIGNING_PREFIX: &[u8] = b"huella/event/v1\n";

/// from_name reads a unit enum from its JSON name. The enums below deserialize through it
/// (`try_from = "Text"`) because serde's derive would also take the one-key object form
/// (`{"hit": null}`), which the schema does not allow; the error does not quote the name.
fn from_name<T: Copy>(
    all: &[T],
    name_of: fn(T) -> &'static str,
    what: &str,
    name: &str,
) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| name_of(*v) == name)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name_of(*v)).collect();
            format!("unknown {what}, expected one of {}", names.join(", "))
        })
}

/// EventKind says what an event records; later kinds (key registration, erasure notice)
/// join the same log under their own kind.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case", try_from = "Text")]
pub enum EventKind {
    /// An access to personal data held by another agency.
    Access,
}

impl EventKind {
    /// as_str is the JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Access => "access",
        }
    }
}

impl TryFrom<Text> for EventKind {
    type Error = String;
    fn try_from(Text(name): Text) -> Result<EventKind, String> {
        from_name(&[EventKind::Access], EventKind::as_str, "kind", &name)
    }
}

/// DataCategory is what kind of personal data was accessed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case", try_from = "Text")]
pub enum DataCategory {
    /// Fingerprints.
    BiometricFingerprint,
    /// Facial images.
    BiometricFace,
    /// Iris scans.
    BiometricIris,
    /// Names, dates of birth, document numbers and the like.
    Biographic,
    /// Anything else.
    Other,
}

impl DataCategory {
    /// as_str is the JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataCategory::BiometricFingerprint => "biometric_fingerprint",
            DataCategory::BiometricFace => "biometric_face",
            DataCategory::BiometricIris => "biometric_iris",
            DataCategory::Biographic => "biographic",
            DataCategory::Other => "other",
        }
    }
}

impl TryFrom<Text> for DataCategory {
    type Error = String;
    fn try_from(Text(name): Text) -> Result<DataCategory, String> {
        let all = [
            DataCategory::BiometricFingerprint,
            DataCategory::BiometricFace,
            DataCategory::BiometricIris,
            DataCategory::Biographic,
            DataCategory::Other,
        ];
        from_name(&all, DataCategory::as_str, "category", &name)
    }
}

/// Outcome is what the query returned.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case", try_from = "Text")]
pub enum Outcome {
    /// One or more records matched.
    Hit,
    /// Nothing matched.
    NoHit,
    /// The query failed.
    Error,
}

impl Outcome {
    /// as_str is the JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::NoHit => "no_hit",
            Outcome::Error => "error",
        }
    }
}

impl TryFrom<Text> for Outcome {
    type Error = String;
    fn try_from(Text(name): Text) -> Result<Outcome, String> {
        let all = [Outcome::Hit, Outcome::NoHit, Outcome::Error];
        from_name(&all, Outcome::as_str, "outcome", &name)
    }
}

/// AccessEvent is the public, signed record of one access.
///
/// Fields are declared in RFC 8785 key order (sorted by UTF-16 code units), so serde_json's
/// compact output of this type is already its canonical form: see
/// [`crate::canonical::to_canonical_sorted`]. Keep them sorted when adding one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessEvent {
    /// When the access happened (UTC).
    pub accessed_at: Timestamp,
    /// What was accessed.
    pub category: DataCategory,
    /// Whose data: the agency holding it.
    pub holder_agency: AgencyId,
    /// Whose data: the holder's country.
    pub holder_country: CountryCode,
    /// The signing key, `name+hexid`, which the submitter registry maps to an agency.
    pub key: KeyRef,
    /// Always `access` for this type; lets later kinds share the log.
    pub kind: EventKind,
    /// Why: the agreement and article invoked.
    pub legal_basis: LegalBasis,
    /// What came back.
    pub outcome: Outcome,
    /// Why: a purpose code.
    pub purpose: Purpose,
    /// The data used to search (committed).
    pub query: Commitment,
    /// Whose data: the holder's reference of the record(s) touched (committed).
    pub record_ref: Commitment,
    /// How many records came back.
    pub records_returned: Count,
    /// The requesting agency's own id for this request; retries reuse it.
    pub request_id: RequestId,
    /// Who asked: the agency.
    pub requesting_agency: AgencyId,
    /// Who asked: its country.
    pub requesting_country: CountryCode,
    /// Who asked: the individual officer (committed).
    pub requesting_user: Commitment,
    /// Whose data: the person the record is about (committed).
    pub subject: Commitment,
}

/// EventError says why an event or its signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The fields contradict each other.
    #[error("inconsistent event: {0}")]
    Inconsistent(&'static str),
    /// The signature is not 64 bytes of base64.
    #[error("malformed signature: {0}")]
    MalformedSignature(&'static str),
    /// The event names another key than the one checking it.
    #[error("event names key {named}, not {checking}")]
    WrongKey {
        /// Key named in the event.
        named: String,
        /// Key used to check.
        checking: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify with key {0}")]
    BadSignature(String),
}

impl AccessEvent {
    /// signing_bytes is what the agency signs: the prefix and the RFC 8785 event.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = EVENT_SIGNING_PREFIX.to_vec();
        crate::canonical::write_canonical_sorted(&mut bytes, self);
        bytes
    }

    /// check refuses events whose fields contradict each other.
    pub fn check(&self) -> Result<(), EventError> {
        let n = self.records_returned.get();
        match self.outcome {
            Outcome::Hit if n == 0 => Err(EventError::Inconsistent(
                "a hit must return at least one record",
            )),
            Outcome::NoHit if n != 0 => {
                Err(EventError::Inconsistent("no_hit must return zero records"))
            }
            Outcome::Error if n != 0 => {
                Err(EventError::Inconsistent("error must return zero records"))
            }
            _ => Ok(()),
        }
    }

    /// commitment returns the commitment held in a committed field.
    pub fn commitment(&self, field: Field) -> &Commitment {
        match field {
            Field::Subject => &self.subject,
            Field::RequestingUser => &self.requesting_user,
            Field::RecordRef => &self.record_ref,
            Field::Query => &self.query,
        }
    }
}

/// EventSignature is an Ed25519 signature, written in base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSignature(pub [u8; 64]);

impl serde::Serialize for EventSignature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for EventSignature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventSignature, D::Error> {
        let text = crate::quiet::text(d)?;
        let bytes = B64
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("signature is not standard base64"))?;
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("signature must be 64 bytes"))?;
        Ok(EventSignature(array))
    }
}

/// SignedEvent is an event with its agency's signature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEvent {
    /// The event.
    pub event: AccessEvent,
    /// The agency's signature over [`AccessEvent::signing_bytes`].
    pub signature: EventSignature,
}

impl SignedEvent {
    /// sign signs an event; the event's `key` must name the signer.
    pub fn sign(event: AccessEvent, signer: &SignerKey) -> Result<SignedEvent, EventError> {
        if event.key != *signer.key_ref() {
            return Err(EventError::WrongKey {
                named: event.key.to_string(),
                checking: signer.key_ref().to_string(),
            });
        }
        let signature = EventSignature(signer.sign(&event.signing_bytes()));
        Ok(SignedEvent { event, signature })
    }

    /// verify checks the signature with `key`, which must be the key the event names.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), EventError> {
        if self.event.key != *key.key_ref() {
            return Err(EventError::WrongKey {
                named: self.event.key.to_string(),
                checking: key.key_ref().to_string(),
            });
        }
        if !key.verify(&self.event.signing_bytes(), &self.signature.0) {
            return Err(EventError::BadSignature(key.key_ref().to_string()));
        }
        Ok(())
    }
}

/// Openings holds the opening of every committed field of one event. It is never logged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Openings {
    /// Opens `subject`.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub subject: Opening,
    /// Opens `requesting_user`.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub requesting_user: Opening,
    /// Opens `record_ref`.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub record_ref: Opening,
    /// Opens `query`.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub query: Opening,
}

impl Openings {
    /// opening returns the opening for a field.
    pub fn opening(&self, field: Field) -> &Opening {
        match field {
            Field::Subject => &self.subject,
            Field::RequestingUser => &self.requesting_user,
            Field::RecordRef => &self.record_ref,
            Field::Query => &self.query,
        }
    }

    /// check verifies that every opening opens the event's matching commitment.
    pub fn check(&self, event: &AccessEvent) -> Result<(), CommitmentError> {
        for field in Field::ALL {
            self.opening(field).check(field, event.commitment(field))?;
        }
        Ok(())
    }

    /// check_visible refuses a value with a character a reader cannot see (the rule of
    /// every free-text field, [`crate::values::first_invisible`]). Admission applies it to
    /// new submissions; readers of what is already logged do not.
    pub fn check_visible(&self) -> Result<(), CommitmentError> {
        for field in Field::ALL {
            if let Some(why) = crate::values::first_invisible(&self.opening(field).value) {
                return Err(CommitmentError::Invisible {
                    field: field.name(),
                    why,
                });
            }
        }
        Ok(())
    }
}

/// Submission is the body of `POST /v1/entries`: a signed event and its openings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The event, as signed.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub event: AccessEvent,
    /// The agency's signature over the event.
    pub signature: EventSignature,
    /// Openings of the event's commitments, stored apart and never published.
    #[serde(deserialize_with = "crate::quiet::object")]
    pub openings: Openings,
}

impl Submission {
    /// parse reads the body of `POST /v1/entries` strictly (docs/format.md §5). Its errors
    /// name the field and the problem and never quote the body, which holds personal values:
    /// every part of a submission reads its JSON through [`crate::quiet`].
    pub fn parse(bytes: &[u8]) -> Result<Submission, FormatError> {
        parse_without_arrays::<Object<Submission>>(bytes).map(|Object(s)| s)
    }

    /// into_parts separates the public signed event from the private openings.
    pub fn into_parts(self) -> (SignedEvent, Openings) {
        (
            SignedEvent {
                event: self.event,
                signature: self.signature,
            },
            self.openings,
        )
    }
}

/// PlainEvent is an access event as an agency's system describes it, with personal values in
/// clear. [`PlainEvent::seal`] commits to those values and signs the public form; this is what
/// `huella submit` reads from its `--event` file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainEvent {
    /// The agency's own id for this request.
    pub request_id: RequestId,
    /// Who asked: the agency.
    pub requesting_agency: AgencyId,
    /// Who asked: its country.
    pub requesting_country: CountryCode,
    /// Who asked: the officer (committed, never logged in clear).
    pub requesting_user: String,
    /// Whose data: the holding agency.
    pub holder_agency: AgencyId,
    /// Whose data: its country.
    pub holder_country: CountryCode,
    /// Whose data: the holder's record reference (committed).
    pub record_ref: String,
    /// Whose data: the person (committed).
    pub subject: String,
    /// What was accessed.
    pub category: DataCategory,
    /// Why: a purpose code.
    pub purpose: Purpose,
    /// Why: the legal basis.
    pub legal_basis: LegalBasis,
    /// When; the time of sealing if absent (absent, not `null`: no field is nullable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessed_at: Option<Timestamp>,
    /// The data used to search (committed).
    pub query: String,
    /// What came back.
    pub outcome: Outcome,
    /// How many records came back.
    pub records_returned: Count,
}

impl PlainEvent {
    /// seal commits to the personal values with fresh salts from `salt`, fills `key` from the
    /// signer and `accessed_at` (if absent) from `now`, and signs: the result is ready to
    /// submit. The caller supplies randomness, so this stays pure.
    pub fn seal(
        self,
        signer: &SignerKey,
        now: Timestamp,
        mut salt: impl FnMut() -> Salt,
    ) -> Result<Submission, EventError> {
        let openings = Openings {
            subject: Opening::new(salt(), self.subject),
            requesting_user: Opening::new(salt(), self.requesting_user),
            record_ref: Opening::new(salt(), self.record_ref),
            query: Opening::new(salt(), self.query),
        };
        let event = AccessEvent {
            kind: EventKind::Access,
            key: signer.key_ref().clone(),
            request_id: self.request_id,
            requesting_agency: self.requesting_agency,
            requesting_country: self.requesting_country,
            requesting_user: openings.requesting_user.commitment(Field::RequestingUser),
            holder_agency: self.holder_agency,
            holder_country: self.holder_country,
            record_ref: openings.record_ref.commitment(Field::RecordRef),
            subject: openings.subject.commitment(Field::Subject),
            category: self.category,
            purpose: self.purpose,
            legal_basis: self.legal_basis,
            accessed_at: self.accessed_at.unwrap_or(now),
            query: openings.query.commitment(Field::Query),
            outcome: self.outcome,
            records_returned: self.records_returned,
        };
        event.check()?;
        for field in Field::ALL {
            if openings.opening(field).value.len() > crate::commitment::MAX_VALUE_BYTES {
                return Err(EventError::Inconsistent(
                    "a committed value is longer than 16 KiB",
                ));
            }
        }
        // The log would refuse it (`422 invisible_character`): say so before signing.
        if openings.check_visible().is_err() {
            return Err(EventError::Inconsistent(
                "a committed value holds a character a reader cannot see (docs/format.md §2)",
            ));
        }
        let signed = SignedEvent::sign(event, signer)?;
        Ok(Submission {
            event: signed.event,
            signature: signed.signature,
            openings,
        })
    }
}
