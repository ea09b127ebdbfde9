//! Issue #17, the witness side: `huella witness` speaks C2SP tlog-witness. It cosigns a
//! checkpoint consistent with the last it cosigned, answers every other case with the
//! spec's status (never a 5xx for hostile input), keeps its state across a SIGKILL, and
//! never lets two requests roll its state back.

mod common;

use common::witness::WitnessProcess;

use huella_core::checkpoint::Checkpoint;
use huella_core::cosignature::{CosignerKey, verify_note};
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::{Frontier, Hash, consistency_proof, record_hash};
use huella_core::witness::request_body;

/// Tree is a log's tree of leaves `leaf-0`…, with its stored hashes for proofs.
struct Tree {
    frontier: Frontier,
    stored: Vec<Hash>,
    roots: Vec<Hash>,
}

impl Tree {
    fn new(n: u64) -> Tree {
        let mut tree = Tree {
            frontier: Frontier::new(),
            stored: Vec::new(),
            roots: vec![Frontier::new().root()],
        };
        for i in 0..n {
            let added = tree
                .frontier
                .append(record_hash(format!("leaf-{i}").as_bytes()));
            tree.stored.extend(added.into_iter().map(|(_, h)| h));
            tree.roots.push(tree.frontier.root());
        }
        tree
    }

    fn note(&self, size: u64, key: &SignerKey) -> String {
        Checkpoint::new(key.name().as_str(), size, self.roots[size as usize])
            .sign(key)
            .unwrap()
    }

    fn body(&self, old: u64, size: u64, key: &SignerKey) -> String {
        let proof = consistency_proof(old, size, &self.stored).unwrap();
        request_body(old, &proof, &self.note(size, key))
    }
}

fn log_key() -> SignerKey {
    SignerKey::from_seed(KeyName::new("log.example/witnessed").unwrap(), &[5; 32])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_witness_cosigns_consistent_checkpoints_and_refuses_the_rest() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    // keygen --witness writes a cosignature/v1 key and prints its vkey.
    let out = common::run_huella(&[
        "keygen",
        "--witness",
        "--name",
        "witness.test/w1",
        "--out",
        dir.path().join("witness.key").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = CosignerKey::parse(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let log = log_key();
    std::fs::write(
        dir.path().join("policy"),
        format!(
            "# the logs this witness witnesses\nlog {}\nquorum none\n",
            log.verifier()
        ),
    )
    .unwrap();
    let mut witness = WitnessProcess::start(dir.path()).await;
    let tree = Tree::new(20);

    // The first checkpoint, from old 0: cosigned, and the cosignature verifies.
    let (status, _, line) = witness.add(tree.body(0, 5, &log)).await;
    assert_eq!(status, 200, "{line}");
    let note = format!("{}{line}", tree.note(5, &log));
    let found = verify_note(note.as_bytes(), std::slice::from_ref(&vkey)).unwrap();
    assert_eq!(found.len(), 1);
    // A client that does not know: 409 with the size, as text/x.tlog.size.
    let (status, content_type, body) = witness.add(tree.body(0, 8, &log)).await;
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );
    // Consistent growth: cosigned.
    assert_eq!(witness.add(tree.body(5, 8, &log)).await.0, 200);
    // The same size again, same root: cosigned; a fork of the same size: 409 with the size
    // (tlog-witness v1.0.0).
    assert_eq!(witness.add(tree.body(8, 8, &log)).await.0, 200);
    let fork = Tree::new(9);
    let forked = request_body(
        8,
        &[],
        &Checkpoint::new(log.name().as_str(), 8, fork.roots[7])
            .sign(&log)
            .unwrap(),
    );
    let forked_again = forked.clone();
    assert_eq!(witness.add(forked).await.0, 409);
    // A proof that does not verify: 422. Old over size: 400.
    let wrong = request_body(8, &[record_hash(b"x")], &tree.note(12, &log));
    assert_eq!(witness.add(wrong).await.0, 422);
    assert_eq!(
        witness
            .add(request_body(9, &[], &tree.note(8, &log)))
            .await
            .0,
        400
    );
    // The fork, signed by the log, is kept as evidence beside what the witness had cosigned,
    // once however often it is sent; a proof that does not verify is not evidence (the
    // client made the proof), nor are the other refusals. A line by another key added to
    // the fork does not make it another file.
    use base64::Engine as _;
    let junk = format!(
        "{forked_again}\u{2014} junk.example/x {}\n",
        base64::engine::general_purpose::STANDARD.encode([7u8; 68])
    );
    assert_eq!(witness.add(forked_again).await.0, 409);
    assert_eq!(witness.add(junk).await.0, 409);
    let evidence = dir
        .path()
        .join("state/evidence")
        .join(huella::witness::origin_hash(log.name().as_str()));
    let kept: Vec<String> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].starts_with("refused (409)") && kept[0].contains("split view"),
        "{kept:?}"
    );
    assert!(kept[0].contains("cosigned before:\n") && kept[0].contains(&tree.note(8, &log)));
    // Another log: 404. A forged signature: 403. A smaller size than cosigned: 409.
    let stranger = SignerKey::from_seed(KeyName::new("log.example/stranger").unwrap(), &[6; 32]);
    assert_eq!(witness.add(tree.body(0, 3, &stranger)).await.0, 404);
    let impostor = SignerKey::from_seed(log.name().clone(), &[7; 32]);
    assert_eq!(witness.add(tree.body(8, 12, &impostor)).await.0, 403);
    assert_eq!(witness.add(tree.body(5, 6, &log)).await.0, 409);
    // Hostile bodies: 4xx, never 5xx.
    for body in [
        Vec::new(),
        b"\n\n".to_vec(),
        vec![0xff; 1000],
        format!("old 8\n{}\n\n", "A".repeat(10_000)).into_bytes(),
        vec![b'\n'; 200_000],
    ] {
        let (status, _, text) = witness.add(body).await;
        assert!((400..500).contains(&status), "{status}: {text}");
    }
    // The monitoring path serves the cosigned checkpoint.
    let hash = huella::witness::origin_hash(log.name().as_str());
    let served = reqwest::get(format!("{}/{hash}/checkpoint", witness.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(served.starts_with(&tree.note(8, &log)));
    assert_eq!(
        verify_note(served.as_bytes(), std::slice::from_ref(&vkey))
            .unwrap()
            .len(),
        1
    );
    let unknown = reqwest::get(format!("{}/{}/checkpoint", witness.base, "0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // SIGKILL: what was cosigned was durable before the answer.
    witness.child.kill().unwrap();
    witness.child.wait().unwrap();
    let witness = WitnessProcess::start(dir.path()).await;
    let (status, _, body) = witness.add(tree.body(5, 9, &log)).await;
    assert_eq!((status, body.as_str()), (409, "8\n"));

    // Many requests at once, all from 8: exactly one is cosigned, the others learn its
    // size; the state is never rolled back.
    let mut tasks = tokio::task::JoinSet::new();
    for size in 9..=20 {
        let body = tree.body(8, size, &log);
        let base = witness.base.clone();
        tasks.spawn(async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/add-checkpoint"))
                .body(body)
                .send()
                .await
                .unwrap();
            (
                size,
                response.status().as_u16(),
                response.text().await.unwrap(),
            )
        });
    }
    let mut cosigned = Vec::new();
    let mut conflicts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (size, status, body) = done.unwrap();
        match status {
            200 => cosigned.push(size),
            409 => conflicts.push(body),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(cosigned.len(), 1, "{cosigned:?}");
    let winner = cosigned[0];
    assert!(conflicts.iter().all(|b| *b == format!("{winner}\n")));
    // And it goes on from the winner.
    assert_eq!(witness.add(tree.body(winner, 20, &log)).await.0, 200);
}
