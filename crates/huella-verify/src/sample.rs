//! Checking what the log serves to other readers against the tree the audit recomputed: a
//! random sample (or all) of its single-entry answers, inclusion proofs, consistency proofs
//! and receipts. The audit proves that the entries it read make the signed tree; these
//! checks prove that the answers others get (an agency fetching a receipt, a reader checking
//! one entry or one proof) come from that same tree.
//!
//! A [`Sample`] is drawn before the audit, from a seed, so that the same seed on the same
//! tree checks the same answers again. The audit feeds it the leaf hashes and tree roots its
//! checks need as it rebuilds the tree; [`Sample::check`] then fetches each answer and
//! checks it against them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use huella_core::checkpoint::Checkpoint;
use huella_core::keys::VerifierKey;
use huella_core::merkle::{Frontier, Hash, record_hash, verify_consistency, verify_inclusion};
use huella_core::proof::TlogProof;

use crate::audit::Progress;
use crate::client::{Client, ClientError};
use crate::consistency::check_extends;
use crate::error::{AnswerError, AnswerProblem, AuditError};

/// DEFAULT_SAMPLE is how many answers of each kind are checked unless told otherwise.
pub const DEFAULT_SAMPLE: u64 = 32;

/// IN_FLIGHT is how many answers are fetched at once.
const IN_FLIGHT: usize = 8;

/// Sampling says which answers the log serves to others a check fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// Answers of each kind to check at random; 0 checks none.
    pub per_kind: u64,
    /// Check every index's answers instead of a random sample.
    pub all: bool,
    /// The seed the random sample is drawn from.
    pub seed: u64,
}

impl Sampling {
    /// off checks no served answer.
    pub fn off() -> Sampling {
        Sampling {
            per_kind: 0,
            all: false,
            seed: 0,
        }
    }

    /// every checks every index's answers.
    pub fn every() -> Sampling {
        Sampling {
            all: true,
            ..Sampling::off()
        }
    }

    /// random checks `per_kind` answers of each kind, drawn from `seed`.
    pub fn random(per_kind: u64, seed: u64) -> Sampling {
        Sampling {
            per_kind,
            all: false,
            seed,
        }
    }

    /// is_off says whether no answer is checked.
    pub fn is_off(&self) -> bool {
        !self.all && self.per_kind == 0
    }

    /// sample_seed is the seed of a random sample; `None` when every answer or none is
    /// checked.
    pub fn sample_seed(&self) -> Option<u64> {
        (!self.all && self.per_kind > 0).then_some(self.seed)
    }
}

/// Check is one answer to fetch and check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// `GET /v1/entries/{index}`.
    Entry(u64),
    /// `GET /v1/proofs/inclusion?index=I&tree_size=N`.
    Inclusion {
        /// The entry.
        index: u64,
        /// The tree it is proven in.
        size: u64,
    },
    /// `GET /v1/proofs/consistency?from=A&to=B`.
    Consistency {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// `GET /v1/receipts/{index}?tree_size=N`, or without `tree_size` (the latest).
    Receipt {
        /// The entry.
        index: u64,
        /// The audited size to ask for; `None` asks for the latest checkpoint.
        size: Option<u64>,
    },
}

impl Check {
    /// path is the request's path and query.
    fn path(&self) -> String {
        match *self {
            Check::Entry(index) => format!("/v1/entries/{index}"),
            Check::Inclusion { index, size } => {
                format!("/v1/proofs/inclusion?index={index}&tree_size={size}")
            }
            Check::Consistency { from, to } => {
                format!("/v1/proofs/consistency?from={from}&to={to}")
            }
            Check::Receipt { index, size: None } => format!("/v1/receipts/{index}"),
            Check::Receipt {
                index,
                size: Some(size),
            } => format!("/v1/receipts/{index}?tree_size={size}"),
        }
    }
}

/// Plan is which answers to check.
#[derive(Clone, Debug)]
enum Plan {
    /// A random sample, drawn in advance.
    Drawn(Vec<Check>),
    /// Every index of `from..size`, made as they are checked (a large log's list would not
    /// fit in memory).
    All {
        /// The first index the audit rebuilds.
        from: u64,
        /// The audited size.
        size: u64,
    },
}

impl Plan {
    /// checks lists the checks in the order they are made: single entries, inclusion
    /// proofs, consistency proofs, receipts.
    fn checks(&self) -> Box<dyn Iterator<Item = Check> + Send + '_> {
        match *self {
            Plan::Drawn(ref checks) => Box::new(checks.iter().copied()),
            Plan::All { from, size } => Box::new(
                (from..size)
                    .map(Check::Entry)
                    .chain((from..size).map(move |index| Check::Inclusion { index, size }))
                    .chain(
                        (from.max(1)..size).map(move |from| Check::Consistency { from, to: size }),
                    )
                    .chain((from..size).flat_map(move |index| {
                        [
                            Check::Receipt {
                                index,
                                size: Some(size),
                            },
                            Check::Receipt { index, size: None },
                        ]
                    })),
            ),
        }
    }
}

/// Known holds the leaf hashes (by index) or roots (by size) that the checks need, as the
/// audit rebuilds the tree.
#[derive(Clone, Debug)]
enum Known {
    /// Those of a sample.
    Some {
        /// The indexes or sizes wanted.
        wanted: BTreeSet<u64>,
        /// Those recorded so far.
        hashes: BTreeMap<u64, Hash>,
    },
    /// All of them from `from` on, in order: 32 bytes each.
    All {
        /// The first index or size kept.
        from: u64,
        /// One hash per index or size from `from`.
        hashes: Vec<Hash>,
    },
}

impl Known {
    fn some(wanted: BTreeSet<u64>) -> Known {
        Known::Some {
            wanted,
            hashes: BTreeMap::new(),
        }
    }

    fn wants(&self, at: u64) -> bool {
        match self {
            Known::Some { wanted, .. } => wanted.contains(&at),
            Known::All { from, hashes } => at == from + hashes.len() as u64,
        }
    }

    /// put records the hash at `at`, which [`Known::wants`].
    fn put(&mut self, at: u64, hash: Hash) {
        match self {
            Known::Some { hashes, .. } => {
                hashes.insert(at, hash);
            }
            Known::All { hashes, .. } => hashes.push(hash),
        }
    }

    fn get(&self, at: u64) -> Option<Hash> {
        match self {
            Known::Some { hashes, .. } => hashes.get(&at).copied(),
            Known::All { from, hashes } => at
                .checked_sub(*from)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| hashes.get(i))
                .copied(),
        }
    }
}

/// Sample is the answers a check fetches, and what the audit recomputed that they are
/// checked against.
#[derive(Clone, Debug)]
pub struct Sample {
    /// How it was drawn.
    sampling: Sampling,
    /// Which answers.
    plan: Plan,
    /// Leaf hashes the checks need, by index.
    leaves: Known,
    /// Tree roots the checks need, by size.
    roots: Known,
}

/// distinct draws `k` distinct numbers of `lo..hi` (all of them if there are no more),
/// in increasing order: Robert Floyd's algorithm, `k` draws whatever the range.
fn distinct(rng: &mut fastrand::Rng, lo: u64, hi: u64, k: u64) -> Vec<u64> {
    let n = hi.saturating_sub(lo);
    if k >= n {
        return (lo..hi).collect();
    }
    let mut chosen = BTreeSet::new();
    for j in n - k..n {
        let t = rng.u64(0..=j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().map(|x| lo + x).collect()
}

impl Sample {
    /// plan draws the answers to check for an audit that rebuilds the tree from `from`
    /// leaves (0, or a monitor's saved size) to the audited `size`. Only what the audit
    /// rebuilds is checked: entries `from..size`, and trees of `from` to `size` leaves.
    /// The same sampling, `from` and `size` always draw the same sample.
    pub fn plan(sampling: &Sampling, from: u64, size: u64) -> Sample {
        let first_size = from.max(1);
        if sampling.all {
            return Sample {
                sampling: *sampling,
                plan: Plan::All { from, size },
                leaves: Known::All {
                    from,
                    hashes: Vec::new(),
                },
                roots: Known::All {
                    from: first_size,
                    hashes: Vec::new(),
                },
            };
        }
        let k = sampling.per_kind;
        let mut rng = fastrand::Rng::with_seed(sampling.seed);
        let mut checks = Vec::new();
        checks.extend(
            distinct(&mut rng, from, size, k)
                .into_iter()
                .map(Check::Entry),
        );
        // Half the proofs are in the audited tree, which readers ask for most; the other
        // half in an older tree, of a random size that holds the entry.
        for (n, index) in distinct(&mut rng, from, size, k).into_iter().enumerate() {
            let size = if n % 2 == 0 {
                size
            } else {
                rng.u64(index + 1..=size)
            };
            checks.push(Check::Inclusion { index, size });
        }
        for (n, from) in distinct(&mut rng, first_size, size, k)
            .into_iter()
            .enumerate()
        {
            let to = if n % 2 == 0 {
                size
            } else {
                rng.u64(from + 1..=size)
            };
            checks.push(Check::Consistency { from, to });
        }
        // Half the receipts against the audited checkpoint, which the log signed; half
        // against whatever the log's latest is, as an agency fetching one now gets.
        for (n, index) in distinct(&mut rng, from, size, k).into_iter().enumerate() {
            let size = (n % 2 == 0).then_some(size);
            checks.push(Check::Receipt { index, size });
        }
        let mut leaves = BTreeSet::new();
        let mut roots = BTreeSet::new();
        for check in &checks {
            match *check {
                Check::Entry(index) => {
                    leaves.insert(index);
                }
                Check::Inclusion { index, size } => {
                    leaves.insert(index);
                    roots.insert(size);
                }
                Check::Consistency { from, to } => {
                    roots.insert(from);
                    roots.insert(to);
                }
                // A receipt's checkpoint is compared with the audited one.
                Check::Receipt { index, .. } => {
                    leaves.insert(index);
                }
            }
        }
        Sample {
            sampling: *sampling,
            plan: Plan::Drawn(checks),
            leaves: Known::some(leaves),
            roots: Known::some(roots),
        }
    }

    /// observe_root records the root of the tree `frontier` describes, if a check needs it.
    pub fn observe_root(&mut self, frontier: &Frontier) {
        if self.roots.wants(frontier.size()) {
            self.roots.put(frontier.size(), frontier.root());
        }
    }

    /// observe records entry `index`'s leaf hash, and the root of the tree it completes
    /// (`frontier`, just after it was appended), if a check needs them.
    pub fn observe(&mut self, index: u64, leaf_hash: Hash, frontier: &Frontier) {
        if self.leaves.wants(index) {
            self.leaves.put(index, leaf_hash);
        }
        self.observe_root(frontier);
    }

    /// len is the number of answers to check.
    pub fn len(&self) -> u64 {
        match self.plan {
            Plan::Drawn(ref checks) => checks.len() as u64,
            Plan::All { from, size } => {
                let indexes = size.saturating_sub(from);
                4 * indexes + size.saturating_sub(from.max(1))
            }
        }
    }

    /// is_empty says whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// check fetches every planned answer from `client` and checks it against the tree the
    /// audit recomputed, which matched the `audited` checkpoint (signed by `log_key`). Call
    /// it only after the audit succeeded. It stops at the first answer that disagrees, in
    /// plan order, and names the request that got it.
    pub async fn check(
        self,
        client: &Client,
        log_key: &VerifierKey,
        audited: &Checkpoint,
        quiet: bool,
    ) -> Result<ServedChecks, AuditError> {
        let mut done = ServedChecks {
            seed: self.sampling.sample_seed(),
            all: self.sampling.all,
            ..ServedChecks::default()
        };
        let progress = Progress::counting(self.len(), "checking served answers", "answers", quiet);
        let context = Arc::new(Context {
            client: client.clone(),
            log_key: log_key.clone(),
            audited: audited.clone(),
            leaves: self.leaves,
            roots: self.roots,
            seed: done.seed,
        });
        let mut checks = self.plan.checks();
        let mut pending = VecDeque::new();
        let result = loop {
            while pending.len() < IN_FLIGHT {
                let Some(check) = checks.next() else { break };
                let context = context.clone();
                pending.push_back((check, tokio::spawn(check_one(context, check))));
            }
            let Some((check, task)) = pending.pop_front() else {
                break Ok(());
            };
            let outcome = task
                .await
                .map_err(|e| AuditError::Io(format!("checking GET {}: {e}", check.path())))
                .and_then(|checked| checked);
            if let Err(e) = outcome {
                break Err(e);
            }
            done.count(&check);
            progress.set(done.total());
        };
        progress.done();
        for (_, task) in pending {
            task.abort();
        }
        result.map(|()| done)
    }
}

/// ServedChecks says which answers the log serves to others were checked, and agreed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServedChecks {
    /// The seed of the random sample (`--seed`); absent when every index was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Whether every index was checked (`--check-all-proofs`).
    pub all: bool,
    /// Single entries (`GET /v1/entries/{index}`).
    pub entries: u64,
    /// Inclusion proofs.
    pub inclusion_proofs: u64,
    /// Consistency proofs.
    pub consistency_proofs: u64,
    /// Receipts.
    pub receipts: u64,
}

impl ServedChecks {
    fn count(&mut self, check: &Check) {
        match check {
            Check::Entry(_) => self.entries += 1,
            Check::Inclusion { .. } => self.inclusion_proofs += 1,
            Check::Consistency { .. } => self.consistency_proofs += 1,
            Check::Receipt { .. } => self.receipts += 1,
        }
    }

    /// total is the number of answers checked.
    pub fn total(&self) -> u64 {
        self.entries + self.inclusion_proofs + self.consistency_proofs + self.receipts
    }
}

/// Context is what every check shares.
struct Context {
    /// The log.
    client: Client,
    /// The log's key, which every receipt's checkpoint must verify with.
    log_key: VerifierKey,
    /// The checkpoint the audit verified the entries against.
    audited: Checkpoint,
    /// Audited leaf hashes, by index.
    leaves: Known,
    /// Audited roots, by size.
    roots: Known,
    /// The sample's seed, for the failure's message.
    seed: Option<u64>,
}

/// InclusionAnswer is the JSON of `GET /v1/proofs/inclusion` (docs/api.md).
#[derive(serde::Deserialize)]
struct InclusionAnswer {
    index: u64,
    tree_size: u64,
    leaf_hash: Hash,
    proof: Vec<Hash>,
}

/// ConsistencyAnswer is the JSON of `GET /v1/proofs/consistency` (docs/api.md).
#[derive(serde::Deserialize)]
struct ConsistencyAnswer {
    from: u64,
    to: u64,
    proof: Vec<Hash>,
}

impl Context {
    fn leaf(&self, index: u64) -> Result<Hash, AuditError> {
        self.leaves
            .get(index)
            .ok_or_else(|| AuditError::Io(format!("entry {index} was not recorded by the audit")))
    }

    fn root(&self, size: u64) -> Result<Hash, AuditError> {
        self.roots
            .get(size)
            .ok_or_else(|| AuditError::Io(format!("the root at size {size} was not recorded")))
    }
}

/// field is the failure of an answer field that says `served` where it must say `expected`.
fn field<T: PartialEq + std::fmt::Display>(
    name: &'static str,
    served: T,
    expected: T,
) -> Result<(), AnswerProblem> {
    if served == expected {
        return Ok(());
    }
    Err(AnswerProblem::Field {
        field: name,
        served: served.to_string(),
        expected: expected.to_string(),
    })
}

/// check_one fetches one answer and checks it.
async fn check_one(context: Arc<Context>, check: Check) -> Result<(), AuditError> {
    let path = check.path();
    let failed = |why: AnswerProblem| {
        AuditError::from(AnswerError {
            path: path.clone(),
            why,
            seed: context.seed,
        })
    };
    let body = match context.client.get(&path).await {
        Ok(body) => body,
        // An outage or a busy log is not evidence: the check could not be made.
        Err(e) if e.is_retryable() => return Err(AuditError::Io(format!("GET {path}: {e}"))),
        Err(e @ (ClientError::Api { .. } | ClientError::NotJson { .. })) => {
            return Err(failed(AnswerProblem::Refused(e.to_string())));
        }
        Err(e) => return Err(failed(AnswerProblem::Malformed(e.to_string()))),
    };
    let malformed = |e: serde_json::Error| failed(AnswerProblem::Malformed(e.to_string()));
    match check {
        Check::Entry(index) => {
            // The leaf hash fixes every byte: comparing it is comparing the bytes.
            let audited = context.leaf(index)?;
            let served = record_hash(&body);
            if served != audited {
                return Err(failed(AnswerProblem::Leaf {
                    index,
                    served,
                    audited,
                }));
            }
        }
        Check::Inclusion { index, size } => {
            let answer: InclusionAnswer = serde_json::from_slice(&body).map_err(malformed)?;
            let leaf = context.leaf(index)?;
            field("index", answer.index, index)
                .and_then(|()| field("tree_size", answer.tree_size, size))
                .and_then(|()| field("leaf_hash", answer.leaf_hash, leaf))
                .map_err(failed)?;
            // RFC 9162 §2.1.3.2, from the audited leaf to the audited root.
            verify_inclusion(index, size, &leaf, &answer.proof, &context.root(size)?)
                .map_err(|e| failed(AnswerProblem::Proof(e)))?;
        }
        Check::Consistency { from, to } => {
            let answer: ConsistencyAnswer = serde_json::from_slice(&body).map_err(malformed)?;
            field("from", answer.from, from)
                .and_then(|()| field("to", answer.to, to))
                .map_err(failed)?;
            // RFC 9162 §2.1.4.2, between two audited roots.
            let (old, new) = (context.root(from)?, context.root(to)?);
            verify_consistency(from, to, &old, &new, &answer.proof)
                .map_err(|e| failed(AnswerProblem::Proof(e)))?;
        }
        Check::Receipt { index, size } => {
            check_receipt(&context, index, size, &body)
                .await
                .map_err(|e| match e {
                    Ok(why) => failed(why),
                    Err(io) => io,
                })?;
        }
    }
    Ok(())
}

/// check_receipt checks a served receipt of entry `index`: it verifies with the log key, its
/// leaf is the audited entry, and its checkpoint is the audited one (asked at its `size`)
/// or, for the latest, one that extends it. Err(Ok) is a disagreement, Err(Err) a check
/// that could not be made.
async fn check_receipt(
    context: &Context,
    index: u64,
    size: Option<u64>,
    body: &[u8],
) -> Result<(), Result<AnswerProblem, AuditError>> {
    let disagree = |why: AnswerProblem| Err(Ok(why));
    let proof = TlogProof::parse(body).map_err(|e| Ok(AnswerProblem::Receipt(e)))?;
    let (_, checkpoint) = proof
        .verify_receipt(&context.log_key)
        .map_err(|e| Ok(AnswerProblem::Receipt(e)))?;
    field("index", proof.index, index).map_err(Ok)?;
    let audited_leaf = context.leaf(index).map_err(Err)?;
    // verify_receipt refuses a receipt without a leaf.
    let served_leaf = record_hash(proof.extra.as_deref().unwrap_or_default());
    if served_leaf != audited_leaf {
        return disagree(AnswerProblem::Leaf {
            index,
            served: served_leaf,
            audited: audited_leaf,
        });
    }
    let audited = &context.audited;
    if let Some(size) = size {
        field("checkpoint size", checkpoint.size, size).map_err(Ok)?;
    }
    if checkpoint.size == audited.size {
        if checkpoint.root != audited.root {
            return disagree(AnswerProblem::Conflict {
                size: audited.size,
                served: checkpoint.root,
                audited: audited.root,
            });
        }
        return Ok(());
    }
    if checkpoint.size < audited.size {
        return disagree(AnswerProblem::Older {
            size: checkpoint.size,
            audited: audited.size,
        });
    }
    // The log grew since the audit: its newer tree must extend the audited one.
    match check_extends(&context.client, audited, &checkpoint).await {
        Ok(()) => Ok(()),
        Err(AuditError::History(error)) => disagree(AnswerProblem::NotExtending {
            size: checkpoint.size,
            error,
        }),
        Err(other) => Err(Err(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_draws_k_different_numbers_in_range_or_all_of_them() {
        let mut rng = fastrand::Rng::with_seed(1);
        for (lo, hi, k) in [(0, 10, 3), (5, 6, 1), (3, 1000, 996), (0, 1 << 62, 40)] {
            let drawn = distinct(&mut rng, lo, hi, k);
            assert_eq!(drawn.len() as u64, k);
            assert!(drawn.windows(2).all(|w| w[0] < w[1]), "{drawn:?}");
            assert!(drawn.iter().all(|&x| (lo..hi).contains(&x)));
        }
        assert_eq!(distinct(&mut rng, 4, 8, 10), vec![4, 5, 6, 7]);
        assert!(distinct(&mut rng, 8, 8, 3).is_empty());
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_and_another_seed_another() {
        let plan = |seed| match Sample::plan(&Sampling::random(32, seed), 0, 1_000_000).plan {
            Plan::Drawn(checks) => checks,
            Plan::All { .. } => unreachable!(),
        };
        assert_eq!(plan(7), plan(7));
        assert_ne!(plan(7), plan(8));
    }

    #[test]
    fn a_sample_checks_only_what_the_audit_rebuilds() {
        for (from, size) in [(0, 1), (0, 40), (20, 40), (39, 40), (40, 40), (0, 0)] {
            for sampling in [Sampling::random(32, 3), Sampling::every()] {
                let sample = Sample::plan(&sampling, from, size);
                let checks: Vec<Check> = sample.plan.checks().collect();
                assert_eq!(checks.len() as u64, sample.len(), "{from}..{size}");
                for check in checks {
                    let ok = match check {
                        Check::Entry(i) | Check::Receipt { index: i, .. } => {
                            (from..size).contains(&i)
                        }
                        Check::Inclusion { index, size: s } => {
                            (from..size).contains(&index) && index < s && s <= size
                        }
                        Check::Consistency { from: a, to: b } => {
                            from <= a && 0 < a && a < b && b <= size
                        }
                    };
                    assert!(ok, "{check:?} in {from}..{size}");
                }
            }
        }
    }

    #[test]
    fn every_index_is_checked_with_check_all() {
        let sample = Sample::plan(&Sampling::every(), 0, 5);
        let checks: Vec<String> = sample.plan.checks().map(|c| c.path()).collect();
        assert_eq!(checks.len(), 5 + 5 + 4 + 10);
        assert!(checks.contains(&"/v1/entries/4".to_string()));
        assert!(checks.contains(&"/v1/proofs/inclusion?index=0&tree_size=5".to_string()));
        assert!(checks.contains(&"/v1/proofs/consistency?from=1&to=5".to_string()));
        assert!(checks.contains(&"/v1/receipts/3?tree_size=5".to_string()));
        assert!(checks.contains(&"/v1/receipts/3".to_string()));
    }

    #[test]
    fn the_audit_records_what_the_checks_need() {
        let leaves: Vec<Hash> = (0..40u8).map(|i| record_hash(&[i])).collect();
        for sampling in [Sampling::random(5, 9), Sampling::every()] {
            let mut sample = Sample::plan(&sampling, 0, 40);
            let mut frontier = Frontier::new();
            sample.observe_root(&frontier);
            let mut roots = vec![frontier.root()];
            for (i, leaf) in leaves.iter().enumerate() {
                frontier.append(*leaf);
                roots.push(frontier.root());
                sample.observe(i as u64, *leaf, &frontier);
            }
            for check in sample.plan.checks() {
                match check {
                    Check::Entry(i) | Check::Receipt { index: i, .. } => {
                        assert_eq!(sample.leaves.get(i), Some(leaves[i as usize]))
                    }
                    Check::Inclusion { index, size } => {
                        assert_eq!(sample.leaves.get(index), Some(leaves[index as usize]));
                        assert_eq!(sample.roots.get(size), Some(roots[size as usize]));
                    }
                    Check::Consistency { from, to } => {
                        assert_eq!(sample.roots.get(from), Some(roots[from as usize]));
                        assert_eq!(sample.roots.get(to), Some(roots[to as usize]));
                    }
                }
            }
        }
    }
}
