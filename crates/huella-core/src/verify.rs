//! Verification of a whole log from public data: a streaming [`Auditor`] that checks each
//! leaf in order (canonical form, a key allowed to sign it at its index, signature, index,
//! `prev` link), replays the registry events it meets so that each entry is checked against
//! the registry as of its own index, rebuilds the Merkle tree with O(log n) memory, and
//! finally checks the root against a checkpoint the log key signed. It also counts what the
//! log shows, for a summary people can quote, and reports the entries a revoked key signed
//! while it may have been in other hands.
//!
//! Pure: it depends on the core only, never on the store or the server, so a rights group can
//! trust it without trusting the server's code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::admission::Rules;
use crate::checkpoint::Checkpoint;
use crate::entry::{ChainError, GENESIS_PREV, Leaf, LeafError};
use crate::keylog::{KeyRegistry, Role};
use crate::keys::KeyRef;
use crate::merkle::{Frontier, Hash, record_hash};
use crate::sealed::{Signable, SignedEntry};
use crate::trust::TrustRoot;
use crate::values::{AgencyId, CountryCode, Timestamp};

/// Failure is the kind of check an entry failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The leaf is not a canonical, well-formed entry.
    Format,
    /// The event's `kind` is none this verifier knows.
    UnknownKind,
    /// Its key is unknown, registered for another agency, country or role, not yet valid, or
    /// retired or revoked before the event.
    Unauthorized,
    /// Its holder agency is not a listed data holder, or is listed in another country.
    Holder,
    /// The agency's signature does not verify.
    Signature,
    /// Its fields contradict each other.
    Inconsistent,
    /// A registry event breaks a rule: too few or wrong registrars, a bad signature, a key
    /// registered twice, retired or revoked when it may not be.
    Registry,
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

/// Compromised is a key revoked as compromised, and the entries it signed, before its
/// revocation was logged, with `accessed_at` at or after `compromised_since`: entries a thief
/// could have written. They verify (the key was valid when they arrived) and stay counted in
/// the summary; this says which they are.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Compromised {
    /// The key, `name+hexid`.
    pub key: String,
    /// The agency it spoke for.
    pub agency: String,
    /// Its country.
    pub country: String,
    /// Since when it may have been in other hands.
    pub compromised_since: String,
    /// The revocation's reason.
    pub reason: String,
    /// Where the revocation is logged.
    pub revoked_at: u64,
    /// How many entries fall in the exposed time.
    pub entries: u64,
    /// The first of them, by index.
    pub first_index: Option<u64>,
    /// The last of them.
    pub last_index: Option<u64>,
    /// The entries of the day `compromised_since` falls in, not counted yet: the auditor
    /// keeps counts by day, not every entry, so these are counted from a second read of
    /// the index range that holds them ([`Recount`]). `None` once counted.
    #[serde(skip)]
    pub recount: Option<Recount>,
}

/// DAY is the span, in milliseconds, of `accessed_at` over which the auditor counts each
/// key's entries together.
const DAY: u64 = 86_400_000;

/// Day is one key's access entries whose `accessed_at` falls in one day: how many, the
/// first and last index, and the hashes that pin that index range (the `prev` of the first,
/// and the leaf hash of the last), so that a second read of it can be checked.
#[derive(Clone, Debug)]
struct Day {
    count: u64,
    first: u64,
    last: u64,
    before_first: Hash,
    last_hash: Hash,
}

/// Recount counts, from a second read of the entries `first..=last`, those a compromised key
/// signed at or after `compromised_since`. The range is pinned by the hash chain: the
/// entries read must link from `prev` of the first as the audit saw it to the leaf hash of
/// the last, so a second answer that differs from the first cannot be counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recount {
    key: KeyRef,
    since: u64,
    /// The first index to read.
    pub first: u64,
    /// The last index to read.
    pub last: u64,
    /// The next index expected.
    next: u64,
    /// Leaf hash of the entry before `next`.
    prev: Hash,
    /// Leaf hash the entry at `last` must have.
    last_hash: Hash,
    /// Exposed entries found: how many, the first and last index.
    found: (u64, Option<u64>, Option<u64>),
}

/// signed_at is the key that signed an entry of an agency or authority, and the time the
/// entry says it happened (in Unix milliseconds): an access's `accessed_at`, a sealed read's
/// `read_at`, an erasure order's `ordered_at`. These are what a key revoked as compromised
/// could have signed: each is counted against the key's `compromised_since`.
fn signed_at(leaf: &Leaf) -> Option<(&KeyRef, u64)> {
    match leaf {
        Leaf::Access(entry) => Some((&entry.event.key, entry.event.accessed_at.unix_millis())),
        Leaf::SealedRead(entry) => Some((&entry.event.key, entry.event.read_at.unix_millis())),
        Leaf::Erasure(entry) => Some((&entry.event.key, entry.event.ordered_at.unix_millis())),
        Leaf::Registry(_) | Leaf::Retention(_) => None,
    }
}

impl Recount {
    /// feed takes the next leaf of the range; it must be the next index and chain to the
    /// one before.
    pub fn feed(&mut self, index: u64, leaf: &[u8]) -> Result<(), VerifyError> {
        let fail = |reason: String| VerifyError::Entry {
            index,
            failure: Failure::Chain,
            reason: format!("read a second time to count a compromised key's entries: {reason}"),
        };
        if index != self.next || index > self.last {
            return Err(fail(format!("expected index {}", self.next)));
        }
        let parsed = Leaf::parse(leaf).map_err(|e| fail(e.to_string()))?;
        parsed
            .check_link(index, &self.prev)
            .map_err(|e| fail(e.to_string()))?;
        self.prev = record_hash(leaf);
        self.next += 1;
        if self.next > self.last && self.prev != self.last_hash {
            return Err(fail(format!(
                "its leaf hash is {}, not the {} the audit saw",
                self.prev, self.last_hash
            )));
        }
        // Only the day being recounted: the range also holds entries of later days (late
        // reports), which the auditor counted already.
        let day_end = (self.since / DAY + 1) * DAY;
        if let Some((key, at)) = signed_at(&parsed)
            && *key == self.key
            && (self.since..day_end).contains(&at)
        {
            let (n, first, last) = &mut self.found;
            *n += 1;
            first.get_or_insert(index);
            *last = Some(index);
        }
        Ok(())
    }

    /// done says whether every entry of the range was read.
    pub fn done(&self) -> bool {
        self.next > self.last
    }

    /// apply adds what was found to `compromised`, once every entry of the range was read.
    pub fn apply(self, compromised: &mut Compromised) -> Result<(), VerifyError> {
        if !self.done() {
            return Err(VerifyError::Entry {
                index: self.next,
                failure: Failure::Chain,
                reason: format!(
                    "the second read ended before index {} of the range {}..={}",
                    self.next, self.first, self.last
                ),
            });
        }
        let (n, first, last) = self.found;
        compromised.entries += n;
        compromised.first_index = [compromised.first_index, first].into_iter().flatten().min();
        compromised.last_index = [compromised.last_index, last].into_iter().flatten().max();
        Ok(())
    }
}

/// Summary counts what the verified entries show. Keys are the values as logged.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Access entries verified (registry events are counted in `registry_events`).
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
    /// Registry events, by kind (`key_register`, `key_retire`, `key_revoke`).
    pub registry_events: BTreeMap<String, u64>,
    /// Keys revoked as compromised, with the entries they signed in the exposed time.
    pub compromised: Vec<Compromised>,
    /// Sealed reads, by reading agency.
    pub sealed_reads_by_agency: BTreeMap<String, u64>,
    /// Sealed reads, by purpose.
    pub sealed_reads_by_purpose: BTreeMap<String, u64>,
    /// Erasure orders, by ordering agency.
    pub erasures_by_agency: BTreeMap<String, u64>,
    /// The log's retention notices.
    pub retention_notices: u64,
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

    fn count(&mut self, leaf: &Leaf) {
        let entry = match leaf {
            Leaf::Access(entry) => entry,
            other => {
                match other {
                    Leaf::Registry(entry) => bump(&mut self.registry_events, entry.event.kind()),
                    Leaf::SealedRead(entry) => {
                        let e = &entry.event;
                        bump(&mut self.sealed_reads_by_agency, e.agency.as_str());
                        bump(&mut self.sealed_reads_by_purpose, e.purpose.as_str());
                    }
                    Leaf::Erasure(entry) => {
                        bump(&mut self.erasures_by_agency, entry.event.agency.as_str())
                    }
                    Leaf::Retention(_) => self.retention_notices += 1,
                    Leaf::Access(_) => {}
                }
                let at = other.integrated_at();
                self.widen(1, at.unix_millis(), at.as_str());
                return;
            }
        };
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
    pub leaf: Leaf,
    /// SHA-256(0x00 || leaf).
    pub leaf_hash: Hash,
    /// Whether the access event's signature was verified already: not when its key was not
    /// yet registered in the registry it was checked against (it may be registered by an
    /// entry just before it); [`Auditor::push_checked`] verifies it then.
    signature_checked: bool,
}

fn entry_failure(index: u64) -> impl Fn(Failure, String) -> VerifyError {
    move |failure, reason| VerifyError::Entry {
        index,
        failure,
        reason,
    }
}

/// parse_and_check does the checks of one leaf at `index` except its signature, and returns
/// the entry and, for an access event whose key `rules` know, the key that must have signed
/// it.
fn parse_and_check(
    index: u64,
    leaf: &[u8],
    rules: Rules<'_>,
) -> Result<(Leaf, Option<ed25519_dalek::VerifyingKey>), VerifyError> {
    let fail = entry_failure(index);
    let parsed = Leaf::parse(leaf).map_err(|e| match e {
        LeafError::UnknownKind(_) => fail(Failure::UnknownKind, e.to_string()),
        LeafError::Format(_) => fail(Failure::Format, e.to_string()),
    })?;
    let Leaf::Access(entry) = &parsed else {
        return Ok((parsed, None));
    };
    let event = &entry.event;
    let key = match rules.keys.record(&event.key) {
        Some(record) => {
            if record.role != Role::Submitter
                || record.principal.agency != event.requesting_agency
                || record.principal.country != event.requesting_country
            {
                // The full rule, for its message.
                if let Err(e) = rules.keys.may_sign_for(
                    &event.key,
                    Role::Submitter,
                    (&event.requesting_agency, &event.requesting_country),
                    &event.accessed_at,
                    &entry.integrated_at,
                ) {
                    return Err(fail(Failure::Unauthorized, e.to_string()));
                }
            }
            Some(*record.key.public_key())
        }
        None => None,
    };
    // The log refuses such events at admission; one in the log was let in by another rule.
    rules
        .holders
        .check_holder(event)
        .map_err(|e| fail(Failure::Holder, e.to_string()))?;
    event
        .check()
        .map_err(|e| fail(Failure::Inconsistent, e.to_string()))?;
    Ok((parsed, key))
}

fn signature_failure(index: u64, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Entry {
        index,
        failure: Failure::Signature,
        reason: format!("agency signature: {e}"),
    }
}

/// check_leaf checks one leaf at `index` on its own: canonical form, a known kind, for an
/// access event a key registered for the event's agency, country and role, a holder listed
/// with its country, field consistency and its signature (strictly). A registry event's
/// signatures are checked in order, by [`Auditor::push_checked`].
pub fn check_leaf(index: u64, leaf: &[u8], rules: Rules<'_>) -> Result<Checked, VerifyError> {
    let (parsed, key) = parse_and_check(index, leaf, rules)?;
    if let (Leaf::Access(entry), Some(key)) = (&parsed, key) {
        let signature = ed25519_dalek::Signature::from_bytes(&entry.signature.0);
        key.verify_strict(&entry.event.signing_bytes(), &signature)
            .map_err(|_| {
                signature_failure(
                    index,
                    format!("signature does not verify with key {}", entry.event.key),
                )
            })?;
    }
    Ok(Checked {
        signature_checked: key.is_some(),
        leaf: parsed,
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
    rules: Rules<'_>,
) -> Result<Vec<Checked>, VerifyError> {
    let mut parsed = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        parsed.push(parse_and_check(start + i as u64, leaf, rules)?);
    }
    let mut messages: Vec<Vec<u8>> = Vec::with_capacity(parsed.len());
    let mut signatures = Vec::with_capacity(parsed.len());
    let mut keys = Vec::with_capacity(parsed.len());
    for (leaf, key) in &parsed {
        if let (Leaf::Access(entry), Some(key)) = (leaf, key) {
            messages.push(entry.event.signing_bytes());
            signatures.push(ed25519_dalek::Signature::from_bytes(&entry.signature.0));
            keys.push(*key);
        }
    }
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    if ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_err() {
        // Find and name the first bad one.
        for (i, leaf) in leaves.iter().enumerate() {
            check_leaf(start + i as u64, leaf, rules)?;
        }
    }
    Ok(parsed
        .into_iter()
        .zip(leaves)
        .map(|((leaf, key), bytes)| Checked {
            signature_checked: key.is_some(),
            leaf,
            leaf_hash: record_hash(bytes),
        })
        .collect())
}

/// Signer is who must have signed an entry of the sealed half, in which role, and when.
struct Signer<'a> {
    key: &'a KeyRef,
    role: Role,
    principal: (&'a AgencyId, &'a CountryCode),
    at: &'a Timestamp,
}

/// Auditor checks a log's leaves in order, replaying its registry events.
///
/// Memory: O(log n) for the tree, plus, to report the entries of keys revoked later (a
/// revocation may name a time long past), a count per key and per day of `accessed_at`
/// with the index range and hashes that pin it: it grows with keys and days, not entries.
/// The entries of the day a compromise began are counted from a second read of that day's
/// index range ([`Recount`]).
#[derive(Clone, Debug)]
pub struct Auditor {
    /// The trust root: registrars, holders, the first registry.
    trust: Arc<TrustRoot>,
    /// Every key registered so far, as of the next index.
    keys: KeyRegistry,
    /// Right edge of the tree rebuilt so far.
    frontier: Frontier,
    /// Leaf hash of the last entry checked.
    prev: Hash,
    /// What the entries show.
    summary: Summary,
    /// Per key, its access entries counted by day of `accessed_at`.
    timelines: HashMap<KeyRef, BTreeMap<u64, Day>>,
    /// The registry entries checked, by index: what a monitor saves to resume.
    registry_entries: Vec<(u64, Vec<u8>)>,
    /// Statistics of the entries checked, when asked for ([`Auditor::with_stats`]).
    stats: Option<crate::stats::Cube>,
}

impl Auditor {
    /// new starts at the beginning of the log.
    pub fn new(trust: Arc<TrustRoot>) -> Auditor {
        Auditor {
            keys: KeyRegistry::from_trust(&trust),
            trust,
            frontier: Frontier::new(),
            prev: GENESIS_PREV,
            summary: Summary::default(),
            timelines: HashMap::new(),
            registry_entries: Vec::new(),
            stats: None,
        }
    }

    /// with_stats also counts every entry checked into a statistics cube
    /// ([`crate::stats`]), from the start of the log.
    pub fn with_stats(mut self) -> Auditor {
        self.stats = Some(crate::stats::Cube::default());
        self
    }

    /// stats is the statistics cube of the entries checked, if [`Auditor::with_stats`]
    /// asked for one.
    pub fn stats(&self) -> Option<&crate::stats::Cube> {
        self.stats.as_ref()
    }

    /// resume continues after a verified prefix: its frontier, last leaf hash, and the
    /// registry entries in it (as [`Auditor::registry_entries`] gave them), which are replayed.
    /// The summary counts only what is checked from here on.
    pub fn resume(
        trust: Arc<TrustRoot>,
        frontier: Frontier,
        prev: Hash,
        registry_entries: &[(u64, Vec<u8>)],
    ) -> Result<Auditor, VerifyError> {
        let mut auditor = Auditor::new(trust);
        for (index, bytes) in registry_entries {
            let fail = entry_failure(*index);
            match Leaf::parse(bytes) {
                Ok(Leaf::Registry(entry)) if entry.index.get() == *index => {
                    auditor
                        .keys
                        .apply_signed(&entry.signed_event(), &auditor.trust, *index)
                        .map_err(|e| fail(Failure::Registry, e.to_string()))?;
                }
                _ => {
                    return Err(fail(
                        Failure::Format,
                        "a saved registry entry does not parse as one".into(),
                    ));
                }
            }
        }
        auditor.registry_entries = registry_entries.to_vec();
        auditor.frontier = frontier;
        auditor.prev = prev;
        Ok(auditor)
    }

    /// trust is the trust root entries are checked against.
    pub fn trust(&self) -> &TrustRoot {
        &self.trust
    }

    /// keys is the registry as of the next index: every key registered so far.
    pub fn keys(&self) -> &KeyRegistry {
        &self.keys
    }

    /// rules is what the next leaves can be checked against on their own.
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            keys: &self.keys,
            holders: &self.trust.registry,
        }
    }

    /// registry_entries are the registry entries checked, with their indices.
    pub fn registry_entries(&self) -> &[(u64, Vec<u8>)] {
        &self.registry_entries
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

    /// summary is what the entries checked so far show, with the entries of each key revoked
    /// as compromised that fall in its exposed time: those of whole days after
    /// `compromised_since` counted, those of its own day left to a [`Recount`] (see
    /// [`Compromised::recount`]).
    pub fn summary(&self) -> Summary {
        let mut summary = self.summary.clone();
        for record in self.keys.records() {
            let Some(revoked) = &record.revoked else {
                continue;
            };
            let since = revoked.compromised_since.unix_millis();
            let mut compromised = Compromised {
                key: record.key.key_ref().to_string(),
                agency: record.principal.agency.to_string(),
                country: record.principal.country.to_string(),
                compromised_since: revoked.compromised_since.to_string(),
                reason: revoked.reason.clone(),
                revoked_at: revoked.index,
                entries: 0,
                first_index: None,
                last_index: None,
                recount: None,
            };
            let days = self.timelines.get(record.key.key_ref());
            for (&day, counted) in days.into_iter().flatten() {
                if day * DAY >= since {
                    compromised.entries += counted.count;
                    compromised.first_index = Some(
                        compromised
                            .first_index
                            .map_or(counted.first, |f| f.min(counted.first)),
                    );
                    compromised.last_index = Some(
                        compromised
                            .last_index
                            .map_or(counted.last, |l| l.max(counted.last)),
                    );
                } else if day == since / DAY {
                    compromised.recount = Some(Recount {
                        key: record.key.key_ref().clone(),
                        since,
                        first: counted.first,
                        last: counted.last,
                        next: counted.first,
                        prev: counted.before_first,
                        last_hash: counted.last_hash,
                        found: (0, None, None),
                    });
                }
            }
            summary.compromised.push(compromised);
        }
        summary.compromised.sort_by_key(|c| c.revoked_at);
        summary
    }

    /// push checks the next leaf: everything [`check_leaf`] checks, then what
    /// [`Auditor::push_checked`] does. Nothing changes if it fails.
    pub fn push(&mut self, leaf: &[u8]) -> Result<Leaf, VerifyError> {
        let checked = check_leaf(self.frontier.size(), leaf, self.rules())?;
        self.push_checked(checked)
    }

    /// push_checked takes the next leaf, already checked on its own by [`check_leaf`] or
    /// [`check_leaves`], and checks what needs the entries before it: its index and `prev`
    /// link; for an access event, that its key may sign it as of this index (valid at its
    /// `accessed_at`, not retired or revoked before it arrived) and, if not done yet, its
    /// signature; for a registry event, its registrars' signatures and that the change
    /// is allowed, which it then applies. Then it adds the leaf to the tree and the summary.
    /// Nothing changes if it fails.
    pub fn push_checked(&mut self, checked: Checked) -> Result<Leaf, VerifyError> {
        let index = self.frontier.size();
        let fail = entry_failure(index);
        let Checked {
            leaf,
            leaf_hash,
            signature_checked,
        } = checked;
        leaf.check_link(index, &self.prev).map_err(|e| match e {
            ChainError::Index { claimed, .. } => {
                fail(Failure::Chain, format!("says index {claimed}"))
            }
            ChainError::Prev {
                found, expected, ..
            } => fail(
                Failure::Chain,
                format!(
                    "prev link is broken: prev is {found}, but entry {} has leaf hash {expected}",
                    index.wrapping_sub(1)
                ),
            ),
        })?;
        match &leaf {
            Leaf::Access(entry) => {
                let event = &entry.event;
                let record = self
                    .keys
                    .may_sign_for(
                        &event.key,
                        Role::Submitter,
                        (&event.requesting_agency, &event.requesting_country),
                        &event.accessed_at,
                        &entry.integrated_at,
                    )
                    .map_err(|e| fail(Failure::Unauthorized, e.to_string()))?;
                if !signature_checked {
                    entry
                        .signed_event()
                        .verify(&record.key)
                        .map_err(|e| signature_failure(index, e))?;
                }
            }
            Leaf::SealedRead(entry) => {
                let e = &entry.event;
                let target = e.target(index);
                self.check_signer(
                    index,
                    Signer {
                        key: &e.key,
                        role: Role::Auditor,
                        principal: (&e.agency, &e.country),
                        at: &e.read_at,
                    },
                    entry,
                )?;
                target.map_err(|e| fail(Failure::Inconsistent, format!("sealed_read: {e}")))?;
            }
            Leaf::Erasure(entry) => {
                let e = &entry.event;
                let target = e.target(index);
                self.check_signer(
                    index,
                    Signer {
                        key: &e.key,
                        role: Role::ErasureAuthority,
                        principal: (&e.agency, &e.country),
                        at: &e.ordered_at,
                    },
                    entry,
                )?;
                target.map_err(|e| fail(Failure::Inconsistent, format!("erasure: {e}")))?;
            }
            Leaf::Retention(entry) => {
                if !entry.verify(&self.trust.log.key) {
                    return Err(fail(
                        Failure::Signature,
                        format!(
                            "retention notice: signature does not verify with the log key {}",
                            self.trust.log.key.key_ref()
                        ),
                    ));
                }
                entry
                    .event
                    .check(index)
                    .map_err(|e| fail(Failure::Inconsistent, format!("retention notice: {e}")))?;
            }
            Leaf::Registry(entry) => {
                self.keys
                    .apply_signed(&entry.signed_event(), &self.trust, index)
                    .map_err(|e| {
                        fail(
                            Failure::Registry,
                            format!("registry event {}: {e}", entry.event.kind()),
                        )
                    })?;
                self.registry_entries.push((index, entry.to_leaf()));
            }
        }
        if let Some((key, at)) = signed_at(&leaf) {
            let days = match self.timelines.get_mut(key) {
                Some(days) => days,
                None => self.timelines.entry(key.clone()).or_default(),
            };
            let counted = days.entry(at / DAY).or_insert(Day {
                count: 0,
                first: index,
                last: index,
                before_first: self.prev,
                last_hash: leaf_hash,
            });
            counted.count += 1;
            counted.last = index;
            counted.last_hash = leaf_hash;
        }
        self.frontier.append(leaf_hash);
        self.prev = leaf_hash;
        self.summary.count(&leaf);
        if let Some(stats) = &mut self.stats {
            stats.add_leaf(&leaf);
        }
        Ok(leaf)
    }

    /// check_signer checks that `signer` may sign an event of its role at `signer.at`, as of
    /// this index (its `integrated_at` the arrival), and that `entry`'s signature verifies
    /// with its key.
    fn check_signer<E: Signable>(
        &self,
        index: u64,
        signer: Signer<'_>,
        entry: &SignedEntry<E>,
    ) -> Result<(), VerifyError> {
        let fail = entry_failure(index);
        let record = self
            .keys
            .may_sign_for(
                signer.key,
                signer.role,
                signer.principal,
                signer.at,
                &entry.integrated_at,
            )
            .map_err(|e| fail(Failure::Unauthorized, e.to_string()))?;
        if !entry.verify(&record.key) {
            return Err(signature_failure(
                index,
                format!("signature does not verify with key {}", signer.key),
            ));
        }
        Ok(())
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
