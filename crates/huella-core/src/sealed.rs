//! The sealed half's public records (issue #15, in progress): the events that read or erase
//! sealed data, and the log's retention notices. The only way to read sealed data is to
//! append one of these first, so whoever watches the agencies is watched too.
//!
//! - [`SealedRead`]: an auditor (a key of role `auditor`) reads the openings of some entries:
//!   a list of indices, or a search for every entry whose `subject`, `record_ref` or
//!   `requesting_user` equals a value, itself committed to ([`Search`]). It names the X25519
//!   key ([`Recipient`]) the disclosure is sealed to.
//! - [`Erasure`]: an erasure authority (role `erasure_authority`) orders the openings of some
//!   entries destroyed.
//! - [`Retention`]: the log, signing with its own key, says which index range it purged
//!   because the entries' `accessed_at` passed its retention period.
//!
//! Each is signed over a tag and its RFC 8785 form, and logged as a [`SignedEntry`]: the
//! event, its index, `integrated_at`, `prev` and the signature. This module is the pure
//! format and its checks; the log's endpoints and the sealed store come next.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

use crate::canonical::{FormatError, parse_exact, to_canonical};
use crate::commitment::{Commitment, Opening, Salt};
use crate::event::EventSignature;
use crate::keys::{KeyRef, SignerKey, VerifierKey};
use crate::merkle::Hash;
use crate::values::{AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp};

/// SEALED_READ_TAG prefixes what an auditor signs.
pub const SEALED_READ_TAG: &[u8] = b"huella/sealed-read/v1\n";
/// ERASURE_TAG prefixes what an erasure authority signs.
pub const ERASURE_TAG: &[u8] = b"huella/erasure/v1\n";
/// RETENTION_TAG prefixes what the log signs for a retention notice.
pub const RETENTION_TAG: &[u8] = b"huella/retention/v1\n";
/// MAX_TARGET_ENTRIES bounds the indices one read or erasure may list.
pub const MAX_TARGET_ENTRIES: usize = 1000;

/// SearchField is a committed field a search may match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchField {
    /// The person the record is about.
    Subject,
    /// The holder's reference of the record.
    RecordRef,
    /// The officer who made the query.
    RequestingUser,
}

impl SearchField {
    /// name is the field's JSON name.
    pub fn name(self) -> &'static str {
        match self {
            SearchField::Subject => "subject",
            SearchField::RecordRef => "record_ref",
            SearchField::RequestingUser => "requesting_user",
        }
    }

    /// tag is the domain-separation tag of a searched value's commitment:
    /// `huella/search/v1/<field>` and a newline (never that of an entry's own commitment).
    pub fn tag(self) -> String {
        format!("huella/search/v1/{}\n", self.name())
    }

    /// commit commits to a searched value: SHA-256(tag || salt || value).
    pub fn commit(self, salt: &Salt, value: &str) -> Commitment {
        let mut h = Sha256::new();
        h.update(self.tag().as_bytes());
        h.update(salt.0);
        h.update(value.as_bytes());
        Commitment(Hash(h.finalize().into()))
    }
}

/// Search is "every entry whose `field` equals a value", the value committed to; its opening
/// travels beside the event, never in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The field searched.
    pub field: SearchField,
    /// The commitment to the value searched for.
    pub value: Commitment,
}

impl Search {
    /// opens checks that `opening` opens this search's commitment.
    pub fn opens(&self, opening: &Opening) -> bool {
        self.field.commit(&opening.salt, &opening.value) == self.value
    }
}

/// Target is what a read or an erasure covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// These entries.
    Entries(&'a [Count]),
    /// Every entry matching a search.
    Search(&'a Search),
}

/// Recipient is an X25519 public key (32 bytes, base64): the disclosure is sealed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient(pub [u8; 32]);

impl serde::Serialize for Recipient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Recipient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Recipient, D::Error> {
        let text = crate::quiet::text(d)?;
        let bytes = B64
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("recipient is not standard base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("recipient must be a 32-byte X25519 key"))?;
        Ok(Recipient(key))
    }
}

/// kind declares a one-value `kind` enum.
macro_rules! kind {
    ($name:ident, $text:literal) => {
        #[doc = concat!("The `kind` of this event: always `", $text, "`.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            #[doc = concat!("`", $text, "`.")]
            #[serde(rename = $text)]
            Only,
        }
    };
}

kind!(SealedReadKind, "sealed_read");
kind!(ErasureKind, "erasure");
kind!(RetentionKind, "retention");

/// SealedRead is an auditor's signed request to read sealed data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedRead {
    /// The reading oversight body.
    pub agency: AgencyId,
    /// Its case reference.
    pub case_ref: RequestId,
    /// Its country.
    pub country: CountryCode,
    /// The entries read, when not a search: 1 to [`MAX_TARGET_ENTRIES`], ascending, each
    /// before this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Count>>,
    /// The auditor's key, `name+hexid` (role `auditor`).
    pub key: KeyRef,
    /// Always `sealed_read`.
    pub kind: SealedReadKind,
    /// The instrument and article that allow the read.
    pub legal_basis: LegalBasis,
    /// Why.
    pub purpose: Purpose,
    /// When the auditor asked.
    pub read_at: Timestamp,
    /// The X25519 key the disclosure is sealed to.
    pub recipient: Recipient,
    /// The auditor's own id for this read; retries reuse it.
    pub request_id: RequestId,
    /// The search, when not a list of entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
}

/// Erasure is an erasure authority's signed order to destroy sealed data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    /// The ordering authority.
    pub agency: AgencyId,
    /// Its country.
    pub country: CountryCode,
    /// The entries erased, when not a search (as in [`SealedRead::entries`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Count>>,
    /// The authority's key, `name+hexid` (role `erasure_authority`).
    pub key: KeyRef,
    /// Always `erasure`.
    pub kind: ErasureKind,
    /// The instrument and article that order the erasure.
    pub legal_basis: LegalBasis,
    /// The order's reference.
    pub order_ref: RequestId,
    /// When the order was given.
    pub ordered_at: Timestamp,
    /// The authority's own id for this order; retries reuse it.
    pub request_id: RequestId,
    /// The search, when not a list of entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
}

/// Retention is the log's notice that it purged the openings of the entries `first..=last`
/// (those among them whose `accessed_at` is before `before`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Openings of entries accessed before this instant were purged.
    pub before: Timestamp,
    /// The first index of the range purged.
    pub first: Count,
    /// Always `retention`.
    pub kind: RetentionKind,
    /// The last index of the range purged.
    pub last: Count,
}

/// SealedError says why a sealed read, an erasure or a retention notice is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedError {
    /// Neither or both of `entries` and `search`.
    #[error("give exactly one of entries and search")]
    Target,
    /// The list of entries is empty, too long, not ascending, or names an entry not before
    /// this one.
    #[error("entries: {0}")]
    Entries(String),
    /// A retention range that is empty or not before the notice.
    #[error("retention range {first}..={last}: {why}")]
    Range {
        /// The first index.
        first: u64,
        /// The last index.
        last: u64,
        /// What is wrong.
        why: &'static str,
    },
}

/// target checks a read's or erasure's target at log index `index` (or, before it is
/// logged, below the log's size `index`).
fn target<'a>(
    entries: &'a Option<Vec<Count>>,
    search: &'a Option<Search>,
    index: u64,
) -> Result<Target<'a>, SealedError> {
    match (entries, search) {
        (Some(list), None) => {
            if list.is_empty() || list.len() > MAX_TARGET_ENTRIES {
                return Err(SealedError::Entries(format!(
                    "list 1 to {MAX_TARGET_ENTRIES} entries, not {}",
                    list.len()
                )));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(SealedError::Entries(
                    "list each entry once, in ascending order".into(),
                ));
            }
            if let Some(last) = list.last()
                && last.get() >= index
            {
                return Err(SealedError::Entries(format!(
                    "entry {} is not before index {index}",
                    last.get()
                )));
            }
            Ok(Target::Entries(list))
        }
        (None, Some(search)) => Ok(Target::Search(search)),
        _ => Err(SealedError::Target),
    }
}

impl SealedRead {
    /// signing_bytes is what the auditor signs: [`SEALED_READ_TAG`] and the RFC 8785 event.
    pub fn signing_bytes(&self) -> Vec<u8> {
        tagged(SEALED_READ_TAG, &to_canonical(self))
    }

    /// target is what the read covers, checked for a read logged at `index`.
    pub fn target(&self, index: u64) -> Result<Target<'_>, SealedError> {
        target(&self.entries, &self.search, index)
    }
}

impl Erasure {
    /// signing_bytes is what the authority signs: [`ERASURE_TAG`] and the RFC 8785 event.
    pub fn signing_bytes(&self) -> Vec<u8> {
        tagged(ERASURE_TAG, &to_canonical(self))
    }

    /// target is what the order covers, checked for an order logged at `index`.
    pub fn target(&self, index: u64) -> Result<Target<'_>, SealedError> {
        target(&self.entries, &self.search, index)
    }
}

impl Retention {
    /// signing_bytes is what the log signs: [`RETENTION_TAG`] and the RFC 8785 notice.
    pub fn signing_bytes(&self) -> Vec<u8> {
        tagged(RETENTION_TAG, &to_canonical(self))
    }

    /// check refuses an empty range, or one not wholly before the notice at `index`.
    pub fn check(&self, index: u64) -> Result<(), SealedError> {
        let (first, last) = (self.first.get(), self.last.get());
        let why = if first > last {
            "first is after last"
        } else if last >= index {
            "not before the notice"
        } else {
            return Ok(());
        };
        Err(SealedError::Range { first, last, why })
    }
}

fn tagged(tag: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut bytes = tag.to_vec();
    bytes.extend_from_slice(canonical);
    bytes
}

/// Signable is an event of this module: its bytes to sign, and the key it names.
pub trait Signable: serde::Serialize + serde::de::DeserializeOwned {
    /// signing_bytes is what its signer signs.
    fn signed_bytes(&self) -> Vec<u8>;
}

impl Signable for SealedRead {
    fn signed_bytes(&self) -> Vec<u8> {
        self.signing_bytes()
    }
}

impl Signable for Erasure {
    fn signed_bytes(&self) -> Vec<u8> {
        self.signing_bytes()
    }
}

impl Signable for Retention {
    fn signed_bytes(&self) -> Vec<u8> {
        self.signing_bytes()
    }
}

/// SignedEntry is a leaf holding one of this module's events and its signature. Its fields
/// sort as RFC 8785 orders them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEntry<E> {
    /// The event, as signed.
    pub event: E,
    /// Position in the log.
    pub index: Count,
    /// When the log integrated the entry.
    pub integrated_at: Timestamp,
    /// Leaf hash of the entry before.
    pub prev: Hash,
    /// The signature over the event's signing bytes.
    pub signature: EventSignature,
}

impl<E: Signable> SignedEntry<E> {
    /// to_leaf is the leaf bytes: RFC 8785 JSON of the entry.
    pub fn to_leaf(&self) -> Vec<u8> {
        to_canonical(self)
    }

    /// parse_leaf reads leaf bytes, which must be canonical.
    pub fn parse_leaf(bytes: &[u8]) -> Result<SignedEntry<E>, FormatError> {
        parse_exact(bytes, SignedEntry::to_leaf)
    }

    /// verify checks the signature with `key`.
    pub fn verify(&self, key: &VerifierKey) -> bool {
        key.verify(&self.event.signed_bytes(), &self.signature.0)
    }
}

/// sign signs one of this module's events with `signer`.
pub fn sign<E: Signable>(event: &E, signer: &SignerKey) -> EventSignature {
    EventSignature(signer.sign(&event.signed_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyName;

    fn read(entries: Option<Vec<u64>>, search: Option<Search>) -> SealedRead {
        SealedRead {
            agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
            case_ref: RequestId::new("PGN-2026-17").unwrap(),
            country: CountryCode::new("CO").unwrap(),
            entries: entries.map(|e| e.into_iter().map(|i| Count::new(i).unwrap()).collect()),
            key: KeyRef::parse("auditor.co.example+1ce1cf52").unwrap(),
            kind: SealedReadKind::Only,
            legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 17").unwrap(),
            purpose: Purpose::new("oversight_audit").unwrap(),
            read_at: Timestamp::parse("2026-11-23T20:00:00Z").unwrap(),
            recipient: Recipient([7; 32]),
            request_id: RequestId::new("PGN-READ-1").unwrap(),
            search,
        }
    }

    /// The signed form, written out by hand: the tag, then the members sorted, no spaces.
    #[test]
    fn a_sealed_read_signs_its_tagged_canonical_json() {
        let event = read(Some(vec![3, 17]), None);
        let recipient = B64.encode([7u8; 32]);
        assert_eq!(
            String::from_utf8(event.signing_bytes()).unwrap(),
            format!(
                "huella/sealed-read/v1\n{{\"agency\":\"CO-PROCURADURIA\",\"case_ref\":\"PGN-2026-17\",\"country\":\"CO\",\"entries\":[3,17],\"key\":\"auditor.co.example+1ce1cf52\",\"kind\":\"sealed_read\",\"legal_basis\":\"Ley 1581 de 2012, art. 17\",\"purpose\":\"oversight_audit\",\"read_at\":\"2026-11-23T20:00:00Z\",\"recipient\":\"{recipient}\",\"request_id\":\"PGN-READ-1\"}}"
            )
        );
    }

    /// The erasure order's and the retention notice's signed forms, written out by hand
    /// from format.md §16.2 and §16.3.
    #[test]
    fn erasures_and_retention_notices_sign_their_tagged_canonical_json() {
        let erasure = Erasure {
            agency: AgencyId::new("CO-SIC").unwrap(),
            country: CountryCode::new("CO").unwrap(),
            entries: Some(vec![Count::new(4).unwrap()]),
            key: KeyRef::parse("sic.co.example+0a1b2c3d").unwrap(),
            kind: ErasureKind::Only,
            legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 15").unwrap(),
            order_ref: RequestId::new("SIC-ORD-9").unwrap(),
            ordered_at: Timestamp::parse("2026-11-23T20:00:00Z").unwrap(),
            request_id: RequestId::new("SIC-ERASE-1").unwrap(),
            search: None,
        };
        assert_eq!(
            String::from_utf8(erasure.signing_bytes()).unwrap(),
            "huella/erasure/v1\n{\"agency\":\"CO-SIC\",\"country\":\"CO\",\"entries\":[4],\"key\":\"sic.co.example+0a1b2c3d\",\"kind\":\"erasure\",\"legal_basis\":\"Ley 1581 de 2012, art. 15\",\"order_ref\":\"SIC-ORD-9\",\"ordered_at\":\"2026-11-23T20:00:00Z\",\"request_id\":\"SIC-ERASE-1\"}"
        );
        let notice = Retention {
            before: Timestamp::parse("2025-11-23T00:00:00Z").unwrap(),
            first: Count::new(0).unwrap(),
            kind: RetentionKind::Only,
            last: Count::new(9).unwrap(),
        };
        assert_eq!(
            String::from_utf8(notice.signing_bytes()).unwrap(),
            "huella/retention/v1\n{\"before\":\"2025-11-23T00:00:00Z\",\"first\":0,\"kind\":\"retention\",\"last\":9}"
        );
    }

    #[test]
    fn a_target_is_a_bounded_ascending_list_of_earlier_entries_or_a_search() {
        let salt = Salt([1; 32]);
        let search = Search {
            field: SearchField::Subject,
            value: SearchField::Subject.commit(&salt, "CO-CC-0000000042"),
        };
        assert!(matches!(
            read(None, Some(search)).target(5),
            Ok(Target::Search(_))
        ));
        assert!(search.opens(&Opening::new(Salt([1; 32]), "CO-CC-0000000042")));
        assert!(!search.opens(&Opening::new(Salt([1; 32]), "CO-CC-0000000043")));
        // A search commitment is not an entry's commitment to the same value.
        assert_ne!(
            search.value,
            crate::commitment::commit(crate::commitment::Field::Subject, &salt, "CO-CC-0000000042")
        );
        assert!(read(Some(vec![1, 4]), None).target(5).is_ok());
        for (entries, search) in [
            (None, None),
            (Some(vec![1]), Some(search)),
            (Some(vec![]), None),
            (Some(vec![4, 1]), None),
            (Some(vec![1, 1]), None),
            (Some(vec![5]), None),
            (Some((0..1001).collect()), None),
        ] {
            assert!(
                read(entries.clone(), search).target(5).is_err(),
                "{entries:?}"
            );
        }
    }

    #[test]
    fn signed_entries_parse_only_from_their_canonical_leaf_and_verify() {
        let auditor = SignerKey::from_seed(KeyName::new("auditor.co.example").unwrap(), &[9; 32]);
        let mut event = read(Some(vec![0]), None);
        event.key = auditor.key_ref().clone();
        let entry = SignedEntry {
            signature: sign(&event, &auditor),
            event,
            index: Count::new(1).unwrap(),
            integrated_at: Timestamp::parse("2026-11-23T20:00:01.000Z").unwrap(),
            prev: Hash([0; 32]),
        };
        let leaf = entry.to_leaf();
        assert_eq!(SignedEntry::<SealedRead>::parse_leaf(&leaf).unwrap(), entry);
        assert!(entry.verify(&auditor.verifier()));
        let mut pretty = serde_json::to_vec_pretty(&entry).unwrap();
        assert!(SignedEntry::<SealedRead>::parse_leaf(&pretty).is_err());
        pretty = String::from_utf8(leaf)
            .unwrap()
            .replace("\"sealed_read\"", "\"erasure\"")
            .into_bytes();
        assert!(SignedEntry::<SealedRead>::parse_leaf(&pretty).is_err());
        let retention = Retention {
            before: Timestamp::parse("2025-11-23T00:00:00Z").unwrap(),
            first: Count::new(0).unwrap(),
            kind: RetentionKind::Only,
            last: Count::new(9).unwrap(),
        };
        assert!(retention.check(10).is_ok());
        assert!(retention.check(9).is_err());
    }
}

/// SearchOpenings is the opening a search read carries beside its event (never logged).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOpenings {
    /// The opening of the search's commitment: the value searched for, and its salt.
    pub search: Opening,
}

/// ReadSubmission is the body of `POST /v1/sealed/read`: the signed read, and for a search
/// the opening of the value searched for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadSubmission {
    /// The read, as the auditor signed it.
    pub event: SealedRead,
    /// For a search, the opening of the searched value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openings: Option<SearchOpenings>,
    /// The auditor's signature over [`SealedRead::signing_bytes`].
    pub signature: EventSignature,
}

/// SealedReadError says why a sealed read is refused before anything is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedReadError {
    /// The key may not sign a read for this agency now.
    #[error(transparent)]
    Key(#[from] crate::keylog::SignError),
    /// The signature does not verify.
    #[error("signature does not verify with key {0}")]
    BadSignature(String),
    /// The target is malformed, or names an entry the log does not hold.
    #[error(transparent)]
    Target(#[from] SealedError),
    /// A search without the opening of its value, or with one that does not open it; or an
    /// opening given for a read of listed entries.
    #[error("{0}")]
    Opening(&'static str),
    /// `read_at` (or an order's `ordered_at`) is outside the admission window.
    #[error("{read_at} is {detail}")]
    OutOfWindow {
        /// The time the read claims.
        read_at: String,
        /// How far off it is.
        detail: String,
    },
}

/// admit_read runs the checks anyone can run on a sealed read before the log appends it,
/// with the log of `size` entries as it stands at `now_millis`: the key is registered as an
/// auditor for the read's agency and country, valid at `read_at` and now; the signature
/// verifies; `read_at` is within `window`; the target is well formed, its entries below
/// `size`; a search carries the opening of its value.
pub fn admit_read(
    submission: &ReadSubmission,
    keys: &crate::keylog::KeyRegistry,
    size: u64,
    now_millis: u64,
    window: crate::admission::Window,
) -> Result<(), SealedReadError> {
    let event = &submission.event;
    admit_signed(
        Signed {
            key: &event.key,
            role: crate::keylog::Role::Auditor,
            principal: (&event.agency, &event.country),
            at: (&event.read_at, "read_at"),
            message: &event.signing_bytes(),
            signature: &submission.signature,
            target: event.target(size),
            openings: &submission.openings,
        },
        keys,
        now_millis,
        window,
    )
}

/// ErasureSubmission is the body of `POST /v1/sealed/erase`: the signed order, and for a
/// search the opening of the value searched for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureSubmission {
    /// The order, as the authority signed it.
    pub event: Erasure,
    /// For a search, the opening of the searched value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openings: Option<SearchOpenings>,
    /// The authority's signature over [`Erasure::signing_bytes`].
    pub signature: EventSignature,
}

/// admit_erasure runs on an erasure order the checks [`admit_read`] runs on a read, with
/// the role `erasure_authority` and `ordered_at` as its time.
pub fn admit_erasure(
    submission: &ErasureSubmission,
    keys: &crate::keylog::KeyRegistry,
    size: u64,
    now_millis: u64,
    window: crate::admission::Window,
) -> Result<(), SealedReadError> {
    let event = &submission.event;
    admit_signed(
        Signed {
            key: &event.key,
            role: crate::keylog::Role::ErasureAuthority,
            principal: (&event.agency, &event.country),
            at: (&event.ordered_at, "ordered_at"),
            message: &event.signing_bytes(),
            signature: &submission.signature,
            target: event.target(size),
            openings: &submission.openings,
        },
        keys,
        now_millis,
        window,
    )
}

/// Signed is what [`admit_signed`] checks of a read or an erasure order.
struct Signed<'a> {
    key: &'a KeyRef,
    role: crate::keylog::Role,
    principal: (&'a AgencyId, &'a CountryCode),
    /// The event's time, and its field's name for messages.
    at: (&'a Timestamp, &'static str),
    message: &'a [u8],
    signature: &'a EventSignature,
    target: Result<Target<'a>, SealedError>,
    openings: &'a Option<SearchOpenings>,
}

/// admit_signed runs the checks a read and an erasure order share, in the order the API
/// applies them: key (role, principal, validity), signature, time window, target, openings.
fn admit_signed(
    signed: Signed<'_>,
    keys: &crate::keylog::KeyRegistry,
    now_millis: u64,
    window: crate::admission::Window,
) -> Result<(), SealedReadError> {
    let record = keys.may_sign_for(
        signed.key,
        signed.role,
        signed.principal,
        signed.at.0,
        &Timestamp::from_unix_millis(now_millis),
    )?;
    if !record.key.verify(signed.message, &signed.signature.0) {
        return Err(SealedReadError::BadSignature(signed.key.to_string()));
    }
    check_window(signed.at.0, signed.at.1, now_millis, window)?;
    check_openings(signed.target?, signed.openings)
}

fn check_window(
    at: &Timestamp,
    name: &'static str,
    now_millis: u64,
    window: crate::admission::Window,
) -> Result<(), SealedReadError> {
    let millis = at.unix_millis();
    let detail = if millis.saturating_add(window.max_age_millis) < now_millis {
        format!(
            "{} s in the past; the log accepts up to {} s",
            (now_millis - millis) / 1000,
            window.max_age_millis / 1000
        )
    } else if millis > now_millis.saturating_add(window.max_future_millis) {
        format!(
            "{} s in the future; the log accepts up to {} s",
            (millis - now_millis) / 1000,
            window.max_future_millis / 1000
        )
    } else {
        return Ok(());
    };
    Err(SealedReadError::OutOfWindow {
        read_at: format!("{name} {at}"),
        detail,
    })
}

fn check_openings(
    target: Target<'_>,
    openings: &Option<SearchOpenings>,
) -> Result<(), SealedReadError> {
    match (target, openings) {
        (Target::Entries(_), None) => Ok(()),
        (Target::Entries(_), Some(_)) => Err(SealedReadError::Opening(
            "an order or read of listed entries carries no openings",
        )),
        (Target::Search(_), None) => Err(SealedReadError::Opening(
            "a search carries the opening of the value searched for, under openings.search",
        )),
        (Target::Search(search), Some(openings)) => {
            if search.opens(&openings.search) {
                Ok(())
            } else {
                Err(SealedReadError::Opening(
                    "openings.search does not open the search's commitment",
                ))
            }
        }
    }
}
