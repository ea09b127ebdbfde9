//! Known answers from Go's reference implementation (golang.org/x/mod/sumdb/tlog and
//! sumdb/note), which shares no code with Huella: roots, inclusion and consistency proofs,
//! signed notes and checkpoints must all come out byte for byte the same.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use huella_core::checkpoint::{self, Checkpoint};
use huella_core::keys::{KeyName, SignerKey, VerifierKey};
use huella_core::merkle::{self, Frontier, Hash, record_hash};
use huella_core::note;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    leaves_base64: Vec<String>,
    roots_base64_by_size: std::collections::BTreeMap<String, String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
    signed_notes: Vec<SignedNote>,
    checkpoints: Vec<SignedNote>,
}

#[derive(Deserialize)]
struct Inclusion {
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    proof: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Consistency {
    from: u64,
    to: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct SignedNote {
    key_name: String,
    ed25519_seed_hex: String,
    verifier_key: String,
    signer_key: String,
    text: String,
    signed_note: String,
}

fn vectors() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/tlog-go-reference.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("read vectors")).expect("parse vectors")
}

fn hashes(list: &[String]) -> Vec<Hash> {
    list.iter().map(|h| Hash::from_base64(h).unwrap()).collect()
}

/// The stored hashes of the vector tree, built by appending every leaf.
fn stored_tree(v: &Vectors) -> (Vec<Hash>, Vec<Frontier>) {
    let mut stored = Vec::new();
    let mut frontier = Frontier::new();
    let mut frontiers = vec![frontier.clone()];
    for leaf in &v.leaves_base64 {
        let leaf = B64.decode(leaf).unwrap();
        for (index, hash) in frontier.append(record_hash(&leaf)) {
            assert_eq!(index as usize, stored.len());
            stored.push(hash);
        }
        frontiers.push(frontier.clone());
    }
    (stored, frontiers)
}

#[test]
fn roots_match_go() {
    let v = vectors();
    assert_eq!(v.leaves_base64.len(), 300);
    let (stored, frontiers) = stored_tree(&v);
    for (size, root) in &v.roots_base64_by_size {
        let size: u64 = size.parse().unwrap();
        let want = Hash::from_base64(root).unwrap();
        assert_eq!(
            frontiers[size as usize].root(),
            want,
            "frontier root, size {size}"
        );
        assert_eq!(
            merkle::tree_hash(size, &stored).unwrap(),
            want,
            "stored root, size {size}"
        );
    }
    assert!(v.roots_base64_by_size.len() > 40);
}

#[test]
fn inclusion_proofs_match_go() {
    let v = vectors();
    let (stored, frontiers) = stored_tree(&v);
    for case in &v.inclusion {
        let leaf = B64.decode(&v.leaves_base64[case.index as usize]).unwrap();
        let leaf_hash = Hash::from_base64(&case.leaf_hash).unwrap();
        assert_eq!(record_hash(&leaf), leaf_hash);
        let want = hashes(case.proof.as_deref().unwrap_or_default());
        let got = merkle::inclusion_proof(case.index, case.tree_size, &stored).unwrap();
        assert_eq!(got, want, "index {} size {}", case.index, case.tree_size);
        let root = frontiers[case.tree_size as usize].root();
        merkle::verify_inclusion(case.index, case.tree_size, &leaf_hash, &want, &root).unwrap();
    }
    assert!(v.inclusion.len() > 900);
}

#[test]
fn consistency_proofs_match_go() {
    let v = vectors();
    let (stored, frontiers) = stored_tree(&v);
    for case in &v.consistency {
        let want = hashes(&case.proof);
        let got = merkle::consistency_proof(case.from, case.to, &stored).unwrap();
        assert_eq!(got, want, "from {} to {}", case.from, case.to);
        let old = frontiers[case.from as usize].root();
        let new = frontiers[case.to as usize].root();
        merkle::verify_consistency(case.from, case.to, &old, &new, &want).unwrap();
    }
    assert!(v.consistency.len() > 900);
}

fn check_note_vector(case: &SignedNote) -> SignerKey {
    let seed: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&case.ed25519_seed_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .try_into()
        .unwrap();
    let signer = SignerKey::from_seed(KeyName::new(case.key_name.as_str()).unwrap(), &seed);
    assert_eq!(signer.verifier().to_string(), case.verifier_key);
    assert_eq!(*signer.to_private_string(), case.signer_key);
    let parsed = SignerKey::parse(&case.signer_key).unwrap();
    assert_eq!(parsed.verifier(), signer.verifier());
    let verifier = VerifierKey::parse(&case.verifier_key).unwrap();
    assert_eq!(verifier, signer.verifier());
    // Deterministic Ed25519: same seed and text give the same note, byte for byte.
    assert_eq!(
        note::sign(&case.text, &[&signer]).unwrap(),
        case.signed_note
    );
    let opened = note::open(case.signed_note.as_bytes(), &[verifier]).unwrap();
    assert_eq!(opened.text, case.text);
    signer
}

#[test]
fn signed_notes_match_go() {
    let v = vectors();
    assert!(!v.signed_notes.is_empty());
    for case in &v.signed_notes {
        check_note_vector(case);
    }
}

#[test]
fn checkpoints_match_go() {
    let v = vectors();
    assert!(!v.checkpoints.is_empty());
    let (_, frontiers) = stored_tree(&v);
    for case in &v.checkpoints {
        let signer = check_note_vector(case);
        let parsed = Checkpoint::parse_text(&case.text).unwrap();
        assert_eq!(parsed.origin, case.key_name);
        assert_eq!(parsed.root, frontiers[parsed.size as usize].root());
        assert_eq!(parsed.to_text(), case.text);
        assert_eq!(parsed.sign(&signer).unwrap(), case.signed_note);
        let (opened, _) =
            checkpoint::open(case.signed_note.as_bytes(), &signer.verifier()).unwrap();
        assert_eq!(opened, parsed);
    }
}
