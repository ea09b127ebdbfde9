//! Verification of a whole log from public data: a streaming [`Auditor`] that checks each
//! leaf in order (canonical form, registered key, signature, index, `prev` link), rebuilds
//! the Merkle tree with O(log n) memory, and finally checks the root against a checkpoint the
//! log key signed. It also counts what the log shows, for a summary people can quote.
//!
//! Pure: it depends on the core only, never on the store or the server, so a rights group can
//! trust it without trusting the server's code.

use std::collections::BTreeMap;

use crate::checkpoint::Checkpoint;
use crate::entry::{ChainError, Entry, GENESIS_PREV};
use crate::merkle::{Frontier, Hash, record_hash};
use crate::registry::Registry;

/// Failure is the kind of check an entry failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The leaf is not a canonical, well-formed entry.
    Format,
    /// Its key is unknown, or registered for another agency or country.
    Unauthorized,
    /// Its holder agency is not a listed data holder, or is listed in another country.
    Holder,
    /// The agency's signature does not verify.
    Signature,
    /// Its fields contradict each other.
    Inconsistent,
    /// Its index or `prev` link is wrong: the chain is broken.
    Chain,
}

/// VerifyError names what failed and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// An entry failed a check.
    #[error("entry {index}: {reason}")]
    Entry {
        /// The entry's position in the log.
        index: u64,
        /// Which kind of check failed.
        failure: Failure,
        /// What failed, for people.
        reason: String,
    },
    /// The checkpoint is for another number of entries than the log served.
    #[error(
        "checkpoint (size {size}): the log served {served} entries for a checkpoint of size {size}"
    )]
    CheckpointSize {
        /// The checkpoint's size.
        size: u64,
        /// Entries checked.
        served: u64,
    },
    /// The entries do not hash to the checkpoint's root.
    #[error(
        "checkpoint (size {size}): entries give root {computed}, but the checkpoint says {signed}"
    )]
    CheckpointRoot {
        /// The checkpoint's size.
        size: u64,
        /// The root the entries give.
        computed: Hash,
        /// The root the checkpoint says.
        signed: Hash,
    },
}

/// Summary counts what the verified entries show. Keys are the values as logged.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Entries verified.
    pub entries: u64,
    /// Earliest and latest `accessed_at` (RFC 3339).
    pub accessed_from: Option<String>,
    /// Latest `accessed_at`.
    pub accessed_to: Option<String>,
    /// Earliest `integrated_at`.
    pub integrated_from: Option<String>,
    /// Latest `integrated_at`.
    pub integrated_to: Option<String>,
    /// Entries by requesting agency.
    pub by_requesting_agency: BTreeMap<String, u64>,
    /// Entries by holder agency.
    pub by_holder_agency: BTreeMap<String, u64>,
    /// Entries by `requesting country -> holder country`.
    pub by_country_pair: BTreeMap<String, u64>,
    /// Entries by data category.
    pub by_category: BTreeMap<String, u64>,
    /// Entries by purpose.
    pub by_purpose: BTreeMap<String, u64>,
    /// Entries by outcome.
    pub by_outcome: BTreeMap<String, u64>,
    /// Records returned, summed.
    pub records_returned: u64,
    /// Earliest and latest instants seen, in Unix milliseconds, to keep the ranges.
    #[serde(skip)]
    ranges: [Option<(u64, u64)>; 2],
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}

impl Summary {
    fn widen(&mut self, which: usize, millis: u64, text: &str) {
        let (from, to) = match which {
            0 => (&mut self.accessed_from, &mut self.accessed_to),
            _ => (&mut self.integrated_from, &mut self.integrated_to),
        };
        let range = self.ranges[which].get_or_insert((millis, millis));
        if from.is_none() || millis < range.0 {
            range.0 = millis;
            *from = Some(text.to_string());
        }
        if to.is_none() || millis > range.1 {
            range.1 = millis;
            *to = Some(text.to_string());
        }
    }

    fn count(&mut self, entry: &Entry) {
        let e = &entry.event;
        self.entries += 1;
        bump(&mut self.by_requesting_agency, e.requesting_agency.as_str());
        bump(&mut self.by_holder_agency, e.holder_agency.as_str());
        bump(
            &mut self.by_country_pair,
            &format!("{} -> {}", e.requesting_country, e.holder_country),
        );
        bump(&mut self.by_category, e.category.as_str());
        bump(&mut self.by_purpose, e.purpose.as_str());
        bump(&mut self.by_outcome, e.outcome.as_str());
        // Each claim is at most 2^53 - 1, but a log may hold many: never wrap.
        self.records_returned = self
            .records_returned
            .saturating_add(e.records_returned.get());
        self.widen(0, e.accessed_at.unix_millis(), e.accessed_at.as_str());
        self.widen(
            1,
            entry.integrated_at.unix_millis(),
            entry.integrated_at.as_str(),
        );
    }
}

/// Checked is a leaf that passed every check that needs no other entry.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The parsed entry.
    pub entry: Entry,
    /// SHA-256(0x00 || leaf).
    pub leaf_hash: Hash,
}

/// parse_and_authorize does the checks of one leaf at `index` except its signature, and
/// returns the entry and the key that must have signed it.
fn parse_and_authorize<'r>(
    index: u64,
    leaf: &[u8],
    registry: &'r Registry,
) -> Result<(Entry, &'r crate::keys::VerifierKey), VerifyError> {
    let fail = |failure: Failure, reason: String| VerifyError::Entry {
        index,
        failure,
        reason,
    };
    let entry = Entry::parse_leaf(leaf).map_err(|e| fail(Failure::Format, e.to_string()))?;
    let key = registry
        .authorize(&entry.event)
        .map_err(|e| fail(Failure::Unauthorized, e.to_string()))?;
    // The log refuses such events at admission; one in the log was let in by another rule.
    registry
        .check_holder(&entry.event)
        .map_err(|e| fail(Failure::Holder, e.to_string()))?;
    entry
        .event
        .check()
        .map_err(|e| fail(Failure::Inconsistent, e.to_string()))?;
    Ok((entry, key))
}

/// check_leaf checks one leaf at `index` on its own: canonical form, a key registered for
/// the event's agency and country, a holder listed with its country, its signature
/// (strictly), and field consistency.
pub fn check_leaf(index: u64, leaf: &[u8], registry: &Registry) -> Result<Checked, VerifyError> {
    let (entry, key) = parse_and_authorize(index, leaf, registry)?;
    entry
        .signed_event()
        .verify(key)
        .map_err(|e| VerifyError::Entry {
            index,
            failure: Failure::Signature,
            reason: format!("agency signature: {e}"),
        })?;
    Ok(Checked {
        entry,
        leaf_hash: record_hash(leaf),
    })
}

/// check_leaves checks consecutive leaves from `start` like [`check_leaf`], verifying their
/// signatures as one Ed25519 batch (about twice as fast). If the batch fails, each signature
/// is checked on its own, so the result names the first bad entry exactly as `check_leaf`
/// would. The results are in order; checking stops at the first failure.
///
/// Batch verification uses the cofactored equation, which may accept a signature with a
/// small-order component that strict single verification refuses. Only the holder of the
/// agency's private key can make such a signature (it is no forgery), and the log's own
/// admission checks refuse them, so accepting them here loses no evidence.
pub fn check_leaves(
    start: u64,
    leaves: &[Vec<u8>],
    registry: &Registry,
) -> Result<Vec<Checked>, VerifyError> {
    let mut parsed = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        parsed.push(parse_and_authorize(start + i as u64, leaf, registry)?);
    }
    let messages: Vec<Vec<u8>> = parsed
        .iter()
        .map(|(e, _)| e.event.signing_bytes())
        .collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<ed25519_dalek::Signature> = parsed
        .iter()
        .map(|(e, _)| ed25519_dalek::Signature::from_bytes(&e.signature.0))
        .collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> =
        parsed.iter().map(|(_, k)| *k.public_key()).collect();
    if ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_err() {
        // Find and name the first bad one.
        for (i, leaf) in leaves.iter().enumerate() {
            check_leaf(start + i as u64, leaf, registry)?;
        }
    }
    Ok(parsed
        .into_iter()
        .zip(leaves)
        .map(|((entry, _), leaf)| Checked {
            entry,
            leaf_hash: record_hash(leaf),
        })
        .collect())
}

/// Auditor checks a log's leaves in order.
#[derive(Clone, Debug)]
pub struct Auditor<'r> {
    /// Who may sign which events.
    registry: &'r Registry,
    /// Right edge of the tree rebuilt so far.
    frontier: Frontier,
    /// Leaf hash of the last entry checked.
    prev: Hash,
    /// What the entries show.
    summary: Summary,
}

impl<'r> Auditor<'r> {
    /// new starts at the beginning of the log.
    pub fn new(registry: &'r Registry) -> Auditor<'r> {
        Auditor::resume(registry, Frontier::new(), GENESIS_PREV)
    }

    /// resume continues after a verified prefix: its frontier and last leaf hash.
    pub fn resume(registry: &'r Registry, frontier: Frontier, prev: Hash) -> Auditor<'r> {
        Auditor {
            registry,
            frontier,
            prev,
            summary: Summary::default(),
        }
    }

    /// registry is the registry entries are checked against.
    pub fn registry(&self) -> &'r Registry {
        self.registry
    }

    /// size is the number of leaves checked (including a resumed prefix).
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// prev is the leaf hash of the last entry checked.
    pub fn prev(&self) -> Hash {
        self.prev
    }

    /// frontier is the rebuilt tree's right edge.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// summary is what the entries checked so far show.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// push checks the next leaf: canonical form, registered key, signature, field
    /// consistency, index and `prev` link. Nothing changes if it fails.
    pub fn push(&mut self, leaf: &[u8]) -> Result<Entry, VerifyError> {
        let checked = check_leaf(self.frontier.size(), leaf, self.registry)?;
        self.push_checked(checked)
    }

    /// push_checked takes the next leaf, already checked on its own by [`check_leaf`] or
    /// [`check_leaves`], and checks what needs the entries before it: its index and its `prev`
    /// link. Then it adds the leaf to the tree and the summary.
    pub fn push_checked(&mut self, checked: Checked) -> Result<Entry, VerifyError> {
        let index = self.frontier.size();
        let fail = |reason: String| VerifyError::Entry {
            index,
            failure: Failure::Chain,
            reason,
        };
        let Checked { entry, leaf_hash } = checked;
        entry.check_link(index, &self.prev).map_err(|e| match e {
            ChainError::Index { claimed, .. } => fail(format!("says index {claimed}")),
            ChainError::Prev {
                found, expected, ..
            } => fail(format!(
                "prev link is broken: prev is {found}, but entry {} has leaf hash {expected}",
                index.wrapping_sub(1)
            )),
        })?;
        self.frontier.append(leaf_hash);
        self.prev = leaf_hash;
        self.summary.count(&entry);
        Ok(entry)
    }

    /// finish checks that the leaves checked are exactly the tree of a checkpoint (whose
    /// signature the caller has verified with the log key).
    pub fn finish(&self, checkpoint: &Checkpoint) -> Result<(), VerifyError> {
        if checkpoint.size != self.frontier.size() {
            return Err(VerifyError::CheckpointSize {
                size: checkpoint.size,
                served: self.frontier.size(),
            });
        }
        let root = self.frontier.root();
        if root != checkpoint.root {
            return Err(VerifyError::CheckpointRoot {
                size: checkpoint.size,
                computed: root,
                signed: checkpoint.root,
            });
        }
        Ok(())
    }
}
