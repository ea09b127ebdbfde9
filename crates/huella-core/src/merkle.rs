//! RFC 6962 / RFC 9162 Merkle trees: hashing, stored hashes, proofs.
//!
//! The tree is kept as "stored hashes": the hash of every complete subtree, numbered as
//! `golang.org/x/mod/sumdb/tlog` numbers them, so that an append writes O(log n) hashes
//! and any proof reads O(log n) hashes through a [`HashReader`]. Nothing here does I/O.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

/// Hash is a SHA-256 output: a leaf hash, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// to_base64 encodes the hash as C2SP writes it: standard base64 with padding.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// from_base64 decodes a hash written as canonical standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Hash, HashParseError> {
        let bytes = B64.decode(text).map_err(|_| HashParseError::Base64)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| HashParseError::Length(b.len()))?;
        Ok(Hash(array))
    }

    /// sha256 hashes raw bytes with no domain prefix (e.g. the root of the empty tree).
    pub fn sha256(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = crate::quiet::text(d)?;
        Hash::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// HashParseError says why a string is not a base64 SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text is not canonical standard base64 with padding.
    #[error("hash is not valid standard base64")]
    Base64,
    /// The text decodes to the wrong number of bytes.
    #[error("hash decodes to {0} bytes, want 32")]
    Length(usize),
}

/// record_hash is the leaf hash of a record. RFC 6962 §2.1: SHA-256(0x00 || leaf).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// node_hash is an interior node's hash. RFC 6962 §2.1: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// empty_root is the root of the empty tree. RFC 6962 §2.1: MTH({}) = SHA-256().
pub fn empty_root() -> Hash {
    Hash::sha256(b"")
}

/// stored_hash_index numbers the hash of the complete subtree covering leaves
/// `[n << level, (n + 1) << level)`. Hashes are numbered in the order an append-only log
/// writes them (the numbering of Go's `tlog.StoredHashIndex`), so storage is dense.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // Level L's n-th hash is written right after level L+1's (2n+1)-th leaf-level hash:
    // walk down to level 0, then count the hashes written before it.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut index = 0u64;
    while n > 0 {
        index += n;
        n >>= 1;
    }
    index + u64::from(level)
}

/// split_stored_hash_index is the inverse of [`stored_hash_index`]: the `(level, n)` of a
/// stored hash (Go's `tlog.SplitStoredHashIndex`).
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Start from a leaf-level hash at or before `index` (stored_hash_index(0, n) is 2n minus
    // the one bits of n), then walk forward: leaf n's hash is followed by the
    // trailing_ones(n) hashes of the subtrees it completes.
    let mut n = index / 2;
    let mut at = stored_hash_index(0, n);
    loop {
        let next = at + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        at = next;
    }
    // The hash was written with leaf n: it is (0, n), (1, n/2), (2, n/4), ...
    let level = (index - at) as u8;
    (level, n >> level)
}

/// stored_hash_count is how many stored hashes a tree of `size` leaves has.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let mut count = stored_hash_index(0, size - 1) + 1;
    // The last leaf also completes one subtree per trailing one bit of its index.
    let mut i = size - 1;
    while i & 1 == 1 {
        count += 1;
        i >>= 1;
    }
    count
}

/// HashReader reads stored hashes by their [`stored_hash_index`]. Any store can serve proofs
/// by implementing it; a slice of stored hashes, in order, is one.
pub trait HashReader {
    /// read_hashes returns the stored hashes at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(TreeError::MissingHash(i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.as_slice().read_hashes(indexes)
    }
}

/// TreeError says why a tree operation (not a proof check) could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The leaf index is not inside the tree.
    #[error("index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("cannot prove consistency from size {from} to the smaller size {to}")]
    SizeOrder {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// The reader has no hash at that stored index.
    #[error("stored hash {0} is missing")]
    MissingHash(u64),
    /// The reader returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes for {want} indexes")]
    ShortRead {
        /// How many were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// The reader's storage failed.
    #[error("reading stored hashes: {0}")]
    Storage(String),
}

/// Frontier is the right edge of a tree: the hashes of its complete subtrees, largest first.
/// It is all an append needs, so appends read nothing.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    /// Leaves in the tree.
    size: u64,
    /// One hash per set bit of `size`, from the highest bit (leftmost subtree) down.
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// new returns the frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// load reads the frontier of a stored tree of `size` leaves: O(log size) hashes.
    pub fn load(size: u64, reader: &(impl HashReader + ?Sized)) -> Result<Frontier, TreeError> {
        let indexes: Vec<u64> = complete_subtrees(0, size)
            .into_iter()
            .map(|(level, n)| stored_hash_index(level, n))
            .collect();
        let subtrees = read_exact(reader, &indexes)?;
        Ok(Frontier { size, subtrees })
    }

    /// from_parts rebuilds a frontier from its size and subtree hashes (largest first), as
    /// saved by [`Frontier::subtrees`]; `None` if their number does not fit the size.
    pub fn from_parts(size: u64, subtrees: Vec<Hash>) -> Option<Frontier> {
        (subtrees.len() == size.count_ones() as usize).then_some(Frontier { size, subtrees })
    }

    /// subtrees are the hashes of the complete subtrees on the right edge, largest first.
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }

    /// size is the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// append adds a leaf hash and returns the stored hashes it creates, with their indexes:
    /// the leaf itself and one per subtree it completes.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u64, Hash)> {
        let mut written = vec![(stored_hash_index(0, self.size), leaf)];
        let mut hash = leaf;
        let mut level = 0u8;
        let mut n = self.size;
        while n & 1 == 1 {
            // Invariant: one subtree is held per set bit of size, so a set low bit has one.
            let left = self
                .subtrees
                .pop()
                .expect("frontier holds a subtree for every set bit of its size");
            hash = node_hash(&left, &hash);
            level += 1;
            n >>= 1;
            written.push((stored_hash_index(level, n), hash));
        }
        self.subtrees.push(hash);
        self.size += 1;
        written
    }

    /// root is the tree head: RFC 6962 MTH over all leaves appended.
    pub fn root(&self) -> Hash {
        fold_right(&self.subtrees)
    }
}

/// complete_subtrees splits leaves `[lo, hi)` into the largest aligned complete subtrees,
/// left to right, as `(level, n)` pairs. For the ranges RFC 6962's recursion produces, the
/// range's MTH is the right fold of these subtrees (see [`fold_right`]).
fn complete_subtrees(lo: u64, hi: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    let mut lo = lo;
    while lo < hi {
        let fits = 63 - (hi - lo).leading_zeros(); // floor(log2(hi - lo))
        let aligned = if lo == 0 { 63 } else { lo.trailing_zeros() };
        let level = fits.min(aligned);
        out.push((level as u8, lo >> level));
        lo += 1u64 << level;
    }
    out
}

/// fold_right combines subtree hashes, left to right, into the hash of their union:
/// MTH(a ∪ b ∪ c) = node(a, node(b, c)). The empty list is the empty tree.
fn fold_right(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)),
    }
}

fn read_exact(
    reader: &(impl HashReader + ?Sized),
    indexes: &[u64],
) -> Result<Vec<Hash>, TreeError> {
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// subtree_hashes computes MTH of each leaf range in `ranges` with one batched read.
fn subtree_hashes(
    ranges: &[(u64, u64)],
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    let plans: Vec<Vec<(u8, u64)>> = ranges
        .iter()
        .map(|&(lo, hi)| complete_subtrees(lo, hi))
        .collect();
    let indexes: Vec<u64> = plans
        .iter()
        .flatten()
        .map(|&(level, n)| stored_hash_index(level, n))
        .collect();
    let hashes = read_exact(reader, &indexes)?;
    let mut rest = hashes.as_slice();
    let mut out = Vec::with_capacity(plans.len());
    for plan in &plans {
        let (these, tail) = rest.split_at(plan.len());
        out.push(fold_right(these));
        rest = tail;
    }
    Ok(out)
}

/// tree_hash is the root of the first `size` leaves of a stored tree. O(log size) reads.
pub fn tree_hash(size: u64, reader: &(impl HashReader + ?Sized)) -> Result<Hash, TreeError> {
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(subtree_hashes(&[(0, size)], reader)?[0])
}

/// Largest power of two strictly less than `n` (n >= 2). RFC 9162 §2.1.1's `k`.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// inclusion_proof is RFC 9162 §2.1.3.1's PATH(index, D[size]): the sibling hashes from the
/// leaf up to the root.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    // Walk from the root down, noting each sibling range; the proof lists them leaf-first.
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    siblings.reverse();
    subtree_hashes(&siblings, reader)
}

/// consistency_proof is RFC 9162 §2.1.4.1's PROOF(from, D[to]). From the empty tree, and
/// between equal sizes, the proof is empty.
pub fn consistency_proof(
    from: u64,
    to: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    if from > to {
        return Err(TreeError::SizeOrder { from, to });
    }
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled from the root down; nodes are listed leaf-first.
    let mut nodes = Vec::new();
    let (mut m, mut lo, mut hi, mut whole) = (from, 0u64, to, true);
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            nodes.push((lo + k, hi));
            hi = lo + k;
        } else {
            nodes.push((lo, lo + k));
            m -= k;
            lo += k;
            whole = false;
        }
    }
    if !whole {
        // SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree is not a whole subtree here.
        nodes.push((lo, hi));
    }
    nodes.reverse();
    subtree_hashes(&nodes, reader)
}

/// ProofError says why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not inside the tree the proof claims.
    #[error("index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("old tree size {from} is larger than new tree size {to}")]
    SizeOrder {
        /// Claimed older size.
        from: u64,
        /// Claimed newer size.
        to: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has the wrong number of hashes ({0}) for these tree sizes")]
    WrongLength(usize),
    /// The hashes lead to another root.
    #[error("proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// Root the proof computes.
        computed: Hash,
        /// Root it was checked against.
        expected: Hash,
    },
    /// A consistency proof leads to another old root.
    #[error("proof leads to old root {computed}, not {expected}")]
    OldRootMismatch {
        /// Old root the proof computes.
        computed: Hash,
        /// Old root it was checked against.
        expected: Hash,
    },
}

/// verify_inclusion checks RFC 9162 §2.1.3.2: `proof` proves that `leaf` is at `index` in the
/// tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength(proof.len()));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength(proof.len()));
    }
    if r != *root {
        return Err(ProofError::RootMismatch {
            computed: r,
            expected: *root,
        });
    }
    Ok(())
}

/// verify_consistency checks RFC 9162 §2.1.4.2: `proof` proves that the tree of `from` leaves
/// with root `old_root` is a prefix of the tree of `to` leaves with root `new_root`.
pub fn verify_consistency(
    from: u64,
    to: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::SizeOrder { from, to });
    }
    if from == 0 || from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength(proof.len()));
        }
        // From size 0 the old root must be the empty tree's; between equal sizes the two
        // roots must be equal.
        let implied_old = if from == 0 { empty_root() } else { *new_root };
        if *old_root != implied_old {
            return Err(ProofError::OldRootMismatch {
                computed: implied_old,
                expected: *old_root,
            });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength(0));
    }
    // If the old tree is a complete subtree, its root is the first node of the path.
    let mut path = proof.iter();
    let seed = if from.is_power_of_two() {
        *old_root
    } else {
        // Invariant: proof is non-empty (checked above).
        *path.next().expect("proof is non-empty")
    };
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if s == 0 {
            return Err(ProofError::WrongLength(proof.len()));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength(proof.len()));
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 MTH computed straight from the definition, as an independent reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn build(n: u64) -> (Vec<Hash>, Vec<Hash>, Frontier) {
        let mut stored = Vec::new();
        let mut leaves = Vec::new();
        let mut frontier = Frontier::new();
        for i in 0..n {
            let leaf = record_hash(&i.to_be_bytes());
            leaves.push(leaf);
            for (index, hash) in frontier.append(leaf) {
                assert_eq!(index, stored.len() as u64, "stored hashes are dense");
                stored.push(hash);
            }
            assert_eq!(stored.len() as u64, stored_hash_count(i + 1));
        }
        (leaves, stored, frontier)
    }

    #[test]
    fn frontier_root_matches_definition_and_reload() {
        let (leaves, stored, frontier) = build(70);
        for size in 0..=70u64 {
            let want = reference_root(&leaves[..size as usize]);
            assert_eq!(tree_hash(size, &stored).unwrap(), want, "size {size}");
            assert_eq!(Frontier::load(size, &stored).unwrap().root(), want);
        }
        assert_eq!(frontier.root(), reference_root(&leaves));
    }

    #[test]
    fn stored_hash_index_matches_go_numbering() {
        // Go's tlog: level 0 hashes 0,1,3,4,7,... and level 1 n=0 at 2.
        assert_eq!(stored_hash_index(0, 0), 0);
        assert_eq!(stored_hash_index(0, 1), 1);
        assert_eq!(stored_hash_index(1, 0), 2);
        assert_eq!(stored_hash_index(0, 2), 3);
        assert_eq!(stored_hash_index(0, 3), 4);
        assert_eq!(stored_hash_index(1, 1), 5);
        assert_eq!(stored_hash_index(2, 0), 6);
    }

    #[test]
    fn split_stored_hash_index_inverts_it() {
        for level in 0..12u8 {
            for n in 0..300u64 {
                let index = stored_hash_index(level, n);
                assert_eq!(split_stored_hash_index(index), (level, n), "index {index}");
            }
        }
        // Every index of a tree is some (level, n), in order.
        let count = stored_hash_count(1000);
        let mut seen: Vec<u64> = (0..count)
            .map(|i| {
                let (level, n) = split_stored_hash_index(i);
                stored_hash_index(level, n)
            })
            .collect();
        seen.dedup();
        assert_eq!(seen, (0..count).collect::<Vec<_>>());
        let big = stored_hash_index(40, 3);
        assert_eq!(split_stored_hash_index(big), (40, 3));
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let (_, stored, _) = build(5);
        assert!(matches!(
            inclusion_proof(5, 5, &stored),
            Err(TreeError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            consistency_proof(6, 5, &stored),
            Err(TreeError::SizeOrder { .. })
        ));
        assert!(matches!(
            tree_hash(9, &stored),
            Err(TreeError::MissingHash(_))
        ));
    }
}
