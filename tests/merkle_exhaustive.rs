//! Exhaustive small trees: every size up to 64, every index and every older size, checked
//! against RFC 6962's definitions computed naively, with every proof hash bit-flipped.

use huella_core::merkle::{
    self, Frontier, Hash, ProofError, node_hash, record_hash, verify_consistency, verify_inclusion,
};

const MAX: u64 = 64;

/// RFC 6962 §2.1 MTH, straight from the definition.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = (n - 1).next_power_of_two().max(1);
            let k = if k >= n { k / 2 } else { k };
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), straight from the definition.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let k = largest_power_below(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 6962 §2.1.2 SUBPROOF(m, D[n], b), straight from the definition.
fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let k = largest_power_below(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], whole);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn largest_power_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut h = *hash;
    h.0[bit / 8] ^= 1 << (bit % 8);
    h
}

fn build() -> (Vec<Hash>, Vec<Hash>) {
    let mut leaves = Vec::new();
    let mut stored = Vec::new();
    let mut frontier = Frontier::new();
    for i in 0..MAX {
        let leaf = record_hash(format!("leaf {i}").as_bytes());
        leaves.push(leaf);
        stored.extend(frontier.append(leaf).into_iter().map(|(_, h)| h));
    }
    (leaves, stored)
}

#[test]
fn every_inclusion_proof_up_to_64() {
    let (leaves, stored) = build();
    for size in 1..=MAX {
        let root = mth(&leaves[..size as usize]);
        for index in 0..size {
            let proof = merkle::inclusion_proof(index, size, &stored).unwrap();
            assert_eq!(proof, path(index as usize, &leaves[..size as usize]));
            let leaf = leaves[index as usize];
            verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
            for (i, h) in proof.iter().enumerate() {
                for bit in [0, 7, 100, 255, (i * 37 + index as usize) % 256] {
                    let mut bad = proof.clone();
                    bad[i] = flip(h, bit);
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
            }
            assert!(verify_inclusion(index, size, &flip(&leaf, 3), &proof, &root).is_err());
            assert!(verify_inclusion(index, size, &leaf, &proof, &flip(&root, 3)).is_err());
            if !proof.is_empty() {
                let short = &proof[..proof.len() - 1];
                assert!(verify_inclusion(index, size, &leaf, short, &root).is_err());
            }
            let mut long = proof.clone();
            long.push(leaf);
            assert!(verify_inclusion(index, size, &leaf, &long, &root).is_err());
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
            }
            assert!(matches!(
                verify_inclusion(size, size, &leaf, &proof, &root),
                Err(ProofError::IndexOutOfRange { .. })
            ));
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64() {
    let (leaves, stored) = build();
    for to in 1..=MAX {
        let new_root = mth(&leaves[..to as usize]);
        for from in 0..=to {
            let old_root = mth(&leaves[..from as usize]);
            let proof = merkle::consistency_proof(from, to, &stored).unwrap();
            let want = if from == 0 {
                vec![]
            } else {
                subproof(from as usize, &leaves[..to as usize], true)
            };
            assert_eq!(proof, want, "from {from} to {to}");
            verify_consistency(from, to, &old_root, &new_root, &proof).unwrap();
            for (i, h) in proof.iter().enumerate() {
                for bit in [0, 7, 100, 255, (i * 37 + from as usize) % 256] {
                    let mut bad = proof.clone();
                    bad[i] = flip(h, bit);
                    assert!(
                        verify_consistency(from, to, &old_root, &new_root, &bad).is_err(),
                        "flipped bit {bit} of hash {i}, from {from} to {to}"
                    );
                }
            }
            assert!(verify_consistency(from, to, &flip(&old_root, 1), &new_root, &proof).is_err());
            // Every tree extends the empty one, so from size 0 the new root is unconstrained.
            let new_root_checked = from > 0;
            assert_eq!(
                verify_consistency(from, to, &old_root, &flip(&new_root, 1), &proof).is_err(),
                new_root_checked
            );
            if !proof.is_empty() {
                let short = &proof[..proof.len() - 1];
                assert!(verify_consistency(from, to, &old_root, &new_root, short).is_err());
            }
            let mut long = proof.clone();
            long.push(new_root);
            assert!(verify_consistency(from, to, &old_root, &new_root, &long).is_err());
        }
        assert!(merkle::consistency_proof(to + 1, to, &stored).is_err());
    }
}
