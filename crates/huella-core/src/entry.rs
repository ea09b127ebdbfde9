//! The logged entry (the Merkle leaf): a signed event, its index, when the log integrated
//! it, and `prev`, the leaf hash of the entry before it (32 zero bytes for index 0). `prev`
//! chains every entry to all before it; the Merkle tree over the leaves gives the proofs.
//!
//! The leaf bytes are the RFC 8785 form of the entry; leaf hash = SHA-256(0x00 || leaf).

use crate::canonical::{FormatError, parse_exact, to_canonical_sorted};
use crate::event::{AccessEvent, EventSignature, SignedEvent};
use crate::merkle::{Hash, record_hash};
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
        if self.index.get() != position {
            return Err(ChainError::Index {
                position,
                claimed: self.index.get(),
            });
        }
        if self.prev != *prev {
            return Err(ChainError::Prev {
                index: position,
                found: self.prev,
                expected: *prev,
            });
        }
        Ok(())
    }
}
