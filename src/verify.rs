//! Verification of a whole log from public data: a streaming [`Auditor`] that checks each
//! leaf in order (canonical form, registered key, signature, index, `prev` link), rebuilds
//! the Merkle tree with O(log n) memory, and finally checks the root against a checkpoint the
//! log key signed. It also counts what the log shows, for a summary people can quote.
//!
//! Pure: it depends on the core only, never on the store or the server, so a rights group can
//! trust it without trusting the server's code.

use std::collections::BTreeMap;

use crate::admission::{AdmissionError, check_signed_event};
use crate::checkpoint::Checkpoint;
use crate::entry::{ChainError, Entry, GENESIS_PREV};
use crate::merkle::{Frontier, Hash, record_hash};
use crate::registry::Registry;

/// VerifyError names what failed and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// An entry failed a check.
    #[error("entry {index}: {reason}")]
    Entry {
        /// The entry's position in the log.
        index: u64,
        /// What failed.
        reason: String,
    },
    /// The checkpoint does not match the entries.
    #[error("checkpoint (size {size}): {reason}")]
    Checkpoint {
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        reason: String,
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
        self.records_returned += e.records_returned.get();
        self.widen(0, e.accessed_at.unix_millis(), e.accessed_at.as_str());
        self.widen(
            1,
            entry.integrated_at.unix_millis(),
            entry.integrated_at.as_str(),
        );
    }
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
        let index = self.frontier.size();
        let fail = |reason: String| VerifyError::Entry { index, reason };
        let entry = Entry::parse_leaf(leaf).map_err(|e| fail(e.to_string()))?;
        entry.check_link(index, &self.prev).map_err(|e| match e {
            ChainError::Index { claimed, .. } => fail(format!("says index {claimed}")),
            ChainError::Prev {
                found, expected, ..
            } => fail(format!(
                "prev link is broken: prev is {found}, but entry {} has leaf hash {expected}",
                index.wrapping_sub(1)
            )),
        })?;
        let signed = entry.signed_event();
        check_signed_event(&signed, self.registry).map_err(|e| match e {
            AdmissionError::Event(e) => fail(format!("agency signature: {e}")),
            other => fail(other.to_string()),
        })?;
        entry.event.check().map_err(|e| fail(e.to_string()))?;
        let hash = record_hash(leaf);
        self.frontier.append(hash);
        self.prev = hash;
        self.summary.count(&entry);
        Ok(entry)
    }

    /// finish checks that the leaves checked are exactly the tree of a checkpoint (whose
    /// signature the caller has verified with the log key).
    pub fn finish(&self, checkpoint: &Checkpoint) -> Result<(), VerifyError> {
        let fail = |reason: String| VerifyError::Checkpoint {
            size: checkpoint.size,
            reason,
        };
        if checkpoint.size != self.frontier.size() {
            return Err(fail(format!(
                "the log served {} entries for a checkpoint of size {}",
                self.frontier.size(),
                checkpoint.size
            )));
        }
        let root = self.frontier.root();
        if root != checkpoint.root {
            return Err(fail(format!(
                "entries give root {root}, but the checkpoint says {}",
                checkpoint.root
            )));
        }
        Ok(())
    }
}
