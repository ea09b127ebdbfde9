//! The logged entry (the Merkle leaf): a signed event, its index, when the log integrated
//! it, and `prev`, the leaf hash of the entry before it (32 zero bytes for index 0). `prev`
//! chains every entry to all before it; the Merkle tree over the leaves gives the proofs.
//!
//! The leaf bytes are the RFC 8785 form of the entry; leaf hash = SHA-256(0x00 || leaf).
//!
//! An entry holds one of two kinds of event, told apart by the event's `kind`: an access
//! event with its agency's `signature` ([`Entry`]), or a registry event (`key_register`,
//! `key_retire`, `key_revoke`) with its registrars' `signatures` ([`RegistryEntry`]).
//! [`Leaf`] is either; a leaf of any other kind is refused, naming the kind.

use crate::canonical::{FormatError, parse_exact, to_canonical, to_canonical_sorted};
use crate::event::{AccessEvent, EventSignature, SignedEvent};
use crate::keylog::{RegistrarSignature, RegistryEvent, SignedRegistryEvent};
use crate::merkle::{Hash, record_hash};
use crate::sealed::{Erasure, Retention, SealedRead, SignedEntry};
use crate::values::{Count, Timestamp};

/// GENESIS_PREV is `prev` of entry 0: 32 zero bytes.
pub const GENESIS_PREV: Hash = Hash([0u8; 32]);

/// Entry is one leaf of the log. Its fields are declared in RFC 8785 key order (see
/// [`to_canonical_sorted`]); keep them sorted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The agency's event, as signed.
    pub event: AccessEvent,
    /// Position in the log, from 0, dense.
    pub index: Count,
    /// When the log integrated the entry.
    pub integrated_at: Timestamp,
    /// Leaf hash of the entry at `index - 1`; [`GENESIS_PREV`] for index 0.
    pub prev: Hash,
    /// The agency's signature over the event.
    pub signature: EventSignature,
}

/// ChainError says how an entry sits wrongly in the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The entry's index is not its position.
    #[error("entry at position {position} says index {claimed}")]
    Index {
        /// Where it is.
        position: u64,
        /// What it says.
        claimed: u64,
    },
    /// `prev` is not the leaf hash of the entry before.
    #[error("entry {index}: prev is {found}, but the entry before has leaf hash {expected}")]
    Prev {
        /// The entry's index.
        index: u64,
        /// Its `prev`.
        found: Hash,
        /// Leaf hash of the entry before.
        expected: Hash,
    },
}

impl Entry {
    /// new builds the entry for a signed event at `index` after the entry with hash `prev`.
    pub fn new(index: Count, integrated_at: Timestamp, prev: Hash, signed: SignedEvent) -> Entry {
        Entry {
            index,
            integrated_at,
            prev,
            event: signed.event,
            signature: signed.signature,
        }
    }

    /// to_leaf returns the leaf bytes: RFC 8785 JSON of the entry. The fields of `Entry`
    /// and of the event are declared in RFC 8785 key order, so serde's compact output is
    /// canonical ([`to_canonical_sorted`]).
    pub fn to_leaf(&self) -> Vec<u8> {
        to_canonical_sorted(self)
    }

    /// parse_leaf reads leaf bytes, which must be canonical.
    pub fn parse_leaf(bytes: &[u8]) -> Result<Entry, FormatError> {
        parse_exact(bytes, Entry::to_leaf)
    }

    /// leaf_hash is SHA-256(0x00 || leaf bytes).
    pub fn leaf_hash(&self) -> Hash {
        record_hash(&self.to_leaf())
    }

    /// signed_event returns the agency's signed event.
    pub fn signed_event(&self) -> SignedEvent {
        SignedEvent {
            event: self.event.clone(),
            signature: self.signature,
        }
    }

    /// check_link checks that this entry sits at `position` right after an entry whose leaf
    /// hash is `prev` ([`GENESIS_PREV`] at position 0).
    pub fn check_link(&self, position: u64, prev: &Hash) -> Result<(), ChainError> {
        check_link(self.index, self.prev, position, prev)
    }
}

/// RegistryEntry is a leaf that holds a registry event: a change to who may sign, with the
/// signatures of its country's registrars. Its fields sort as RFC 8785 orders them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// The change, as the registrars signed it.
    pub event: RegistryEvent,
    /// Position in the log.
    pub index: Count,
    /// When the log integrated the entry.
    pub integrated_at: Timestamp,
    /// Leaf hash of the entry at `index - 1`; [`GENESIS_PREV`] for index 0.
    pub prev: Hash,
    /// The registrars' signatures over [`RegistryEvent::signing_bytes`].
    pub signatures: Vec<RegistrarSignature>,
}

impl RegistryEntry {
    /// new builds the entry for a signed registry event at `index` after the entry with
    /// hash `prev`.
    pub fn new(
        index: Count,
        integrated_at: Timestamp,
        prev: Hash,
        signed: SignedRegistryEvent,
    ) -> RegistryEntry {
        RegistryEntry {
            event: signed.event,
            index,
            integrated_at,
            prev,
            signatures: signed.signatures,
        }
    }

    /// to_leaf returns the leaf bytes: RFC 8785 JSON of the entry (keys sorted by the
    /// general canonicalizer: the event's `kind` tag does not come first).
    pub fn to_leaf(&self) -> Vec<u8> {
        to_canonical(self)
    }

    /// signed_event returns the registrars' signed event.
    pub fn signed_event(&self) -> SignedRegistryEvent {
        SignedRegistryEvent {
            event: self.event.clone(),
            signatures: self.signatures.clone(),
        }
    }
}

/// Leaf is one parsed leaf of the log, of either kind.
// An access entry is the common case and is not boxed: boxing it would cost every leaf of
// the log an allocation, to save space only while a registry entry is held.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// An access event and its agency's signature.
    Access(Entry),
    /// A registry event and its registrars' signatures.
    Registry(RegistryEntry),
    /// An auditor's read of sealed data, and its signature.
    SealedRead(SignedEntry<SealedRead>),
    /// An erasure authority's order, and its signature.
    Erasure(SignedEntry<Erasure>),
    /// The log's retention notice, signed with the log key.
    Retention(SignedEntry<Retention>),
}

/// LeafError says why leaf bytes are not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    /// The bytes are not a canonical entry of a known kind.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The event's `kind` is none this code knows: a newer format, or not a Huella log.
    #[error(
        "unknown event kind {0:?}: this verifier knows access, key_register, key_retire, \
         key_revoke, sealed_read, erasure and retention"
    )]
    UnknownKind(String),
}

/// REGISTRY_KINDS are the `kind` values of registry events.
pub const REGISTRY_KINDS: [&str; 3] = ["key_register", "key_retire", "key_revoke"];

impl Leaf {
    /// parse reads leaf bytes, which must be canonical. Access entries, nearly all of a log,
    /// take the fast path; the `kind` is looked at only when that fails.
    pub fn parse(bytes: &[u8]) -> Result<Leaf, LeafError> {
        let access = match Entry::parse_leaf(bytes) {
            Ok(entry) => return Ok(Leaf::Access(entry)),
            Err(e) => e,
        };
        let kind = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("event")?.get("kind")?.as_str().map(str::to_string));
        match kind.as_deref() {
            None | Some("access") => Err(access.into()),
            Some(k) if REGISTRY_KINDS.contains(&k) => {
                Ok(Leaf::Registry(parse_exact(bytes, RegistryEntry::to_leaf)?))
            }
            Some("sealed_read") => Ok(Leaf::SealedRead(SignedEntry::parse_leaf(bytes)?)),
            Some("erasure") => Ok(Leaf::Erasure(SignedEntry::parse_leaf(bytes)?)),
            Some("retention") => Ok(Leaf::Retention(SignedEntry::parse_leaf(bytes)?)),
            Some(other) => Err(LeafError::UnknownKind(other.to_string())),
        }
    }

    /// to_leaf returns the leaf bytes.
    pub fn to_leaf(&self) -> Vec<u8> {
        match self {
            Leaf::Access(e) => e.to_leaf(),
            Leaf::Registry(e) => e.to_leaf(),
            Leaf::SealedRead(e) => e.to_leaf(),
            Leaf::Erasure(e) => e.to_leaf(),
            Leaf::Retention(e) => e.to_leaf(),
        }
    }

    /// leaf_hash is SHA-256(0x00 || leaf bytes).
    pub fn leaf_hash(&self) -> Hash {
        record_hash(&self.to_leaf())
    }

    /// kind is the event's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Leaf::Access(_) => "access",
            Leaf::Registry(e) => e.event.kind(),
            Leaf::SealedRead(_) => "sealed_read",
            Leaf::Erasure(_) => "erasure",
            Leaf::Retention(_) => "retention",
        }
    }

    /// index is the position the entry claims.
    pub fn index(&self) -> Count {
        match self {
            Leaf::Access(e) => e.index,
            Leaf::Registry(e) => e.index,
            Leaf::SealedRead(e) => e.index,
            Leaf::Erasure(e) => e.index,
            Leaf::Retention(e) => e.index,
        }
    }

    /// integrated_at is when the log integrated the entry.
    pub fn integrated_at(&self) -> &Timestamp {
        match self {
            Leaf::Access(e) => &e.integrated_at,
            Leaf::Registry(e) => &e.integrated_at,
            Leaf::SealedRead(e) => &e.integrated_at,
            Leaf::Erasure(e) => &e.integrated_at,
            Leaf::Retention(e) => &e.integrated_at,
        }
    }

    /// prev is the leaf hash the entry chains to.
    pub fn prev(&self) -> Hash {
        match self {
            Leaf::Access(e) => e.prev,
            Leaf::Registry(e) => e.prev,
            Leaf::SealedRead(e) => e.prev,
            Leaf::Erasure(e) => e.prev,
            Leaf::Retention(e) => e.prev,
        }
    }

    /// check_link checks that this entry sits at `position` right after an entry whose leaf
    /// hash is `prev` ([`GENESIS_PREV`] at position 0).
    pub fn check_link(&self, position: u64, prev: &Hash) -> Result<(), ChainError> {
        check_link(self.index(), self.prev(), position, prev)
    }
}

fn check_link(index: Count, found: Hash, position: u64, prev: &Hash) -> Result<(), ChainError> {
    if index.get() != position {
        return Err(ChainError::Index {
            position,
            claimed: index.get(),
        });
    }
    if found != *prev {
        return Err(ChainError::Prev {
            index: position,
            found,
            expected: *prev,
        });
    }
    Ok(())
}
