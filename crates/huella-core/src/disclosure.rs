//! Disclosures (issue #15, in progress): what a sealed read gives its auditor, and the check
//! anyone can run on it offline. A disclosure holds, for each entry read, its leaf, the
//! openings of its commitments and an inclusion proof, plus the signed checkpoint they are
//! proven against and the receipt of the read itself: so it proves both what the entries
//! say and that the read that revealed them is in the log.
//!
//! The file (`docs/format.md` §16.5):
//!
//! ```json
//! {"checkpoint": "<signed checkpoint note>",
//!  "entries": [{"index": 3, "leaf": "<leaf JSON, as logged>",
//!               "openings": {"subject": {"salt": "…", "value": "…"}, …},
//!               "inclusion_proof": ["<base64 hash>", …]}],
//!  "read_receipt": {"index": …, "leaf_hash": …, "checkpoint": …, "tlog_proof": …}}
//! ```

use std::collections::BTreeSet;

use crate::checkpoint::{self, Checkpoint};
use crate::commitment::Opening;
use crate::entry::{Entry, Leaf};
use crate::event::Openings;
use crate::keys::VerifierKey;
use crate::merkle::{Hash, record_hash, verify_inclusion};
use crate::proof::Receipt;
use crate::sealed::{SealedRead, SearchField, SignedEntry, Target};

/// DisclosedEntry is one entry read: its leaf, its openings, and its inclusion proof in the
/// disclosure's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosedEntry {
    /// The entry's index.
    pub index: u64,
    /// The leaf, exactly as logged (RFC 8785 JSON).
    pub leaf: String,
    /// The openings of its four commitments; absent once erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openings: Option<Openings>,
    /// The index of the erasure order that destroyed its openings, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_by: Option<u64>,
    /// Its inclusion proof in the tree of the disclosure's checkpoint, leaf first.
    pub inclusion_proof: Vec<Hash>,
}

/// Disclosure is what a sealed read reveals, with its proofs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// The signed checkpoint everything is proven against: the one committed with the read.
    pub checkpoint: String,
    /// The entries read, ascending by index.
    pub entries: Vec<DisclosedEntry>,
    /// The receipt of the read entry itself.
    pub read_receipt: Receipt,
    /// For a search, the opening of the value searched for (it opens the read's search
    /// commitment, and each entry disclosed has that value in the field searched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Opening>,
}

/// DisclosureError says what in a disclosure does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    /// The read's receipt does not verify, or is not of a sealed read.
    #[error("the read receipt: {0}")]
    Read(String),
    /// The checkpoint does not verify with the log key, or is not the read's.
    #[error("the checkpoint: {0}")]
    Checkpoint(String),
    /// A disclosed entry does not check.
    #[error("entry {index}: {why}")]
    Entry {
        /// Its index.
        index: u64,
        /// What is wrong.
        why: String,
    },
    /// The entries disclosed are not the ones the read names.
    #[error("the entries disclosed ({disclosed}) are not the ones the read names ({named})")]
    Target {
        /// The indices disclosed.
        disclosed: String,
        /// The indices the read names.
        named: String,
    },
}

/// Verified is what a checked disclosure proves.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The read, as logged.
    pub read: SignedEntry<SealedRead>,
    /// The checkpoint everything is proven against.
    pub checkpoint: Checkpoint,
    /// The entries disclosed, parsed.
    pub entries: Vec<Entry>,
}

fn list(indices: impl Iterator<Item = u64>) -> String {
    indices
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Disclosure {
    /// verify checks, with the log key alone: the read's receipt (its entry is a sealed read
    /// included in the log under its checkpoint), that the disclosure's checkpoint is that
    /// same checkpoint, and for each entry that its leaf is an access entry at its index,
    /// included under the checkpoint, whose every commitment its openings open. For a read
    /// of listed entries, the entries disclosed must be exactly those listed. (Who may have
    /// signed the read is checked by a replay of the log, `verify --trust`.)
    pub fn verify(&self, log_key: &VerifierKey) -> Result<Verified, DisclosureError> {
        let (leaf, read_checkpoint) = self
            .read_receipt
            .open(log_key)
            .map_err(|e| DisclosureError::Read(e.to_string()))?;
        let Leaf::SealedRead(read) = leaf else {
            return Err(DisclosureError::Read(format!(
                "entry {} is a {}, not a sealed_read",
                self.read_receipt.index,
                leaf.kind()
            )));
        };
        let (checkpoint, _) = checkpoint::open(self.checkpoint.as_bytes(), log_key)
            .map_err(|e| DisclosureError::Checkpoint(e.to_string()))?;
        if checkpoint != read_checkpoint {
            return Err(DisclosureError::Checkpoint(format!(
                "size {} is not the read receipt's checkpoint (size {})",
                checkpoint.size, read_checkpoint.size
            )));
        }
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut last = None;
        for disclosed in &self.entries {
            let index = disclosed.index;
            let fail = |why: String| DisclosureError::Entry { index, why };
            if last.is_some_and(|l| l >= index) {
                return Err(fail("entries are not listed once each, ascending".into()));
            }
            last = Some(index);
            let entry = Entry::parse_leaf(disclosed.leaf.as_bytes())
                .map_err(|e| fail(format!("not an access entry: {e}")))?;
            if entry.index.get() != index {
                return Err(fail(format!("its leaf says index {}", entry.index.get())));
            }
            verify_inclusion(
                index,
                checkpoint.size,
                &record_hash(disclosed.leaf.as_bytes()),
                &disclosed.inclusion_proof,
                &checkpoint.root,
            )
            .map_err(|e| fail(format!("inclusion proof: {e}")))?;
            match (&disclosed.openings, disclosed.erased_by) {
                (Some(openings), None) => openings
                    .check(&entry.event)
                    .map_err(|e| fail(e.to_string()))?,
                (None, Some(by)) if by > index => {}
                _ => {
                    return Err(fail(
                        "give either its openings or the erasure that destroyed them".into(),
                    ));
                }
            }
            entries.push(entry);
        }
        let read_index = read.index.get();
        match read.event.target(read_index) {
            Ok(Target::Entries(named)) => {
                let named: BTreeSet<u64> = named.iter().map(|c| c.get()).collect();
                let disclosed: BTreeSet<u64> = self.entries.iter().map(|e| e.index).collect();
                if named != disclosed {
                    return Err(DisclosureError::Target {
                        disclosed: list(disclosed.into_iter()),
                        named: list(named.into_iter()),
                    });
                }
            }
            Ok(Target::Search(search)) => {
                let opening = self.search.as_ref().ok_or_else(|| {
                    DisclosureError::Read(
                        "a search's disclosure carries the opening of the value searched for"
                            .into(),
                    )
                })?;
                if !search.opens(opening) {
                    return Err(DisclosureError::Read(
                        "the searched value's opening does not open the read's search commitment"
                            .into(),
                    ));
                }
                for disclosed in &self.entries {
                    let Some(openings) = &disclosed.openings else {
                        return Err(DisclosureError::Entry {
                            index: disclosed.index,
                            why: "a search disclosed an entry without its openings".into(),
                        });
                    };
                    let value = match search.field {
                        SearchField::Subject => &openings.subject,
                        SearchField::RecordRef => &openings.record_ref,
                        SearchField::RequestingUser => &openings.requesting_user,
                    };
                    if value.value != opening.value {
                        return Err(DisclosureError::Entry {
                            index: disclosed.index,
                            why: format!(
                                "its {} is not the value searched for",
                                search.field.name()
                            ),
                        });
                    }
                }
            }
            Err(e) => return Err(DisclosureError::Read(e.to_string())),
        }
        Ok(Verified {
            read,
            checkpoint,
            entries,
        })
    }
}
