//! Issue #17, the log's side: `huella serve --witness-policy` sends each new checkpoint to
//! its witnesses (real `huella witness` processes here), with a consistency proof from the
//! size each last cosigned, and `GET /checkpoint` serves the newest checkpoint whose
//! cosignatures meet the policy's quorum. A witness that goes down stops the cosigned
//! checkpoint from advancing, never the appends.

mod common;

use std::time::Duration;

use common::demo::DemoProcess;
use common::serve::Serve;
use common::witness::WitnessProcess;
use huella_core::checkpoint;
use huella_core::policy::Policy;

async fn checkpoint_note(base: &str) -> String {
    reqwest::get(format!("{base}/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn submit(base: &str, data: &std::path::Path, request_id: &str) {
    let out = std::process::Command::new("python3")
        .args(["docs/examples/submit.py", "--url", base, "--key"])
        .arg(data.join("agencies/US-DHS-CBP.key"))
        .args([
            "--event",
            "docs/examples/event.json",
            "--request-id",
            request_id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// serve_witnessed serves the demo log in `data` with the witness policy `policy_file`.
async fn serve_witnessed(data: &std::path::Path, policy_file: &std::path::Path) -> Serve {
    Serve::start_with(
        data,
        None,
        &["--witness-policy", policy_file.to_str().unwrap()],
    )
    .await
}

/// wait_cosigned waits until `GET /checkpoint` meets `policy` at `size` or more, and
/// returns its size and the witnesses that cosigned.
async fn wait_cosigned(
    base: &str,
    policy: &Policy,
    log_key: &huella_core::keys::VerifierKey,
    size: u64,
) -> (u64, Vec<String>) {
    for _ in 0..200 {
        let note = checkpoint_note(base).await;
        let (checkpoint, _) = checkpoint::open(note.as_bytes(), log_key).unwrap();
        let check = policy.check(note.as_bytes()).unwrap();
        if check.met && checkpoint.size >= size {
            return (
                checkpoint.size,
                check.cosigned.into_iter().map(|(n, _)| n).collect(),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint of size {size} or more met the policy within 20 s");
}

/// start_witnesses starts `count` `huella witness` processes of the log `log_key`, each
/// with a key made by `keygen --witness` under `dir/w<n>/`, and returns them with the
/// policy lines naming them `W<n>` with their URLs.
async fn start_witnesses(
    dir: &std::path::Path,
    count: usize,
    log_key: &huella_core::keys::VerifierKey,
) -> (Vec<WitnessProcess>, String) {
    let mut witnesses = Vec::new();
    let mut lines = String::new();
    for n in 1..=count {
        let wdir = dir.join(format!("w{n}"));
        std::fs::create_dir(&wdir).unwrap();
        let out = common::run_huella(&[
            "keygen",
            "--witness",
            "--name",
            &format!("witness.test/w{n}"),
            "--out",
            wdir.join("witness.key").to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
        std::fs::write(wdir.join("policy"), format!("log {log_key}\nquorum none\n")).unwrap();
        let witness = WitnessProcess::start(&wdir).await;
        lines += &format!("witness W{n} {vkey} {}\n", witness.base);
        witnesses.push(witness);
    }
    (witnesses, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_serves_the_newest_checkpoint_its_witnesses_cosigned() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    assert!(DemoProcess::start(&data, 5).stop().success());
    let log_key = huella::keyfile::read_signer(&data.join("log.key"))
        .unwrap()
        .verifier();

    // Two witnesses of this log.
    let (mut witnesses, lines) = start_witnesses(dir.path(), 2, &log_key).await;
    let policy_text = format!("{lines}group both all W1 W2\nquorum both\n");
    let policy_file = dir.path().join("log.policy");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(policy_text.as_bytes()).unwrap();

    let serve = serve_witnessed(&data, &policy_file).await;
    let size = 5 + common::demo::EXTRA_ENTRIES;
    let (cosigned, by) = wait_cosigned(&serve.base, &policy, &log_key, size).await;
    assert_eq!(cosigned, size);
    assert_eq!(by, vec!["W1".to_string(), "W2".to_string()]);

    // A restart with nothing new appended: the log has forgotten the cosignatures, and the
    // witnesses have cosigned this very size; they cosign it again (an empty proof from
    // their own size, learned from a 409), so /checkpoint is cosigned without waiting for
    // an append.
    assert!(serve.stop().success());
    let serve = serve_witnessed(&data, &policy_file).await;
    let (cosigned, by) = wait_cosigned(&serve.base, &policy, &log_key, size).await;
    assert_eq!(cosigned, size);
    assert_eq!(by, vec!["W1".to_string(), "W2".to_string()]);

    // A new entry: the witnesses cosign the next checkpoint from the size they cosigned,
    // with a consistency proof.
    tokio::task::block_in_place(|| submit(&serve.base, &data, "WITNESSED-1"));
    let (cosigned, _) = wait_cosigned(&serve.base, &policy, &log_key, size + 1).await;
    assert_eq!(cosigned, size + 1);

    // A reader that requires the policy accepts the log, and says who cosigned; one that
    // does not require it says none was checked; a policy the cosignatures do not meet
    // (a third witness required) fails, exit 1.
    let verify = |extra: &[&str]| {
        let log_pub = data.join("log.key.pub");
        let trust = data.join("trust.json");
        let mut args = vec![
            "verify",
            "--url",
            &serve.base,
            "--log-key",
            log_pub.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = common::run_huella(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = verify(&["--witness-policy", policy_file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("the policy's quorum is met; cosigned by W1, W2"),
        "{out}"
    );
    let (code, out) = verify(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no witness policy was checked"), "{out}");
    let third = huella_core::cosignature::CosignerSigner::from_seed(
        huella_core::keys::KeyName::new("witness.test/w3").unwrap(),
        &[3; 32],
    );
    let stricter = dir.path().join("stricter.policy");
    std::fs::write(
        &stricter,
        format!(
            "{lines}witness W3 {}
group three all W1 W2 W3
quorum three
",
            third.verifier()
        ),
    )
    .unwrap();
    let (code, out) = verify(&["--witness-policy", stricter.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("do not meet the policy's quorum (cosigned by: W1, W2)"),
        "{out}"
    );

    // A receipt over the newest cosigned checkpoint carries the cosignatures, and
    // `receipt verify --witness-policy` checks them.
    let receipt = reqwest::get(format!("{}/v1/receipts/{size}", serve.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let receipt_file = dir.path().join("receipt.tlog-proof");
    std::fs::write(&receipt_file, &receipt).unwrap();
    let receipt_verify = |policy: &std::path::Path| {
        let out = common::run_huella(&[
            "receipt",
            "verify",
            receipt_file.to_str().unwrap(),
            "--log-key",
            data.join("log.key.pub").to_str().unwrap(),
            "--witness-policy",
            policy.to_str().unwrap(),
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = receipt_verify(&policy_file);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("cosigned by W1, W2"), "{out}");
    assert_eq!(receipt_verify(&stricter).0, Some(1));

    // A sealed read waits for the witnesses: its disclosure is over a cosigned checkpoint,
    // and `disclosure verify --witness-policy` accepts it.
    let disclosure = dir.path().join("disclosure.json");
    common::demo::sealed_read(&serve.base, &data, "8", "PGN-WITNESSED-1", &disclosure);
    let out = common::run_huella(&[
        "disclosure",
        "verify",
        disclosure.to_str().unwrap(),
        "--log-key",
        data.join("log.key.pub").to_str().unwrap(),
        "--witness-policy",
        policy_file.to_str().unwrap(),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("cosigned by W1, W2"), "{text}");
    // The read is an entry: the cosigned checkpoint moved on to cover it.
    let (now_cosigned, _) = wait_cosigned(&serve.base, &policy, &log_key, size + 2).await;
    assert_eq!(now_cosigned, size + 2);

    // The monitor too: a round with the policy names the witnesses; with the stricter one,
    // a `witnesses` alert, exit 1.
    let monitor = |policy: &std::path::Path, state: &str| {
        let out = common::run_huella(&[
            "monitor",
            "--url",
            &serve.base,
            "--log-key",
            data.join("log.key.pub").to_str().unwrap(),
            "--trust",
            data.join("trust.json").to_str().unwrap(),
            "--state",
            dir.path().join(state).to_str().unwrap(),
            "--witness-policy",
            policy.to_str().unwrap(),
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out) = monitor(&policy_file, "monitor.state");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("cosigned by W1, W2"), "{out}");
    let (code, out) = monitor(&stricter, "monitor2.state");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ALERT witnesses"), "{out}");

    // One witness down: appends go on, the cosigned checkpoint stays where both cosigned.
    let mut w2 = witnesses.pop().unwrap();
    w2.child.kill().unwrap();
    w2.child.wait().unwrap();
    tokio::task::block_in_place(|| submit(&serve.base, &data, "WITNESSED-2"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let note = checkpoint_note(&serve.base).await;
    let (served, _) = checkpoint::open(note.as_bytes(), &log_key).unwrap();
    assert_eq!(
        served.size,
        size + 2,
        "the served checkpoint moved without its quorum"
    );
    assert!(policy.check(note.as_bytes()).unwrap().met);
    // The metrics show each witness's cosigned size and the failures of the one down.
    let metrics = reqwest::get(format!("{}/metrics", serve.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "huella_witness_cosigned_size{{witness=\"W1\"}} {}",
            size + 3
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "huella_witness_cosigned_size{{witness=\"W2\"}} {}",
        size + 2
    )));
    assert!(metrics.contains("huella_witness_failures_total{witness=\"W2\"}"));
    // The entry was logged all the same, and is served: reads follow the log's own
    // checkpoint, which does not wait for witnesses.
    let entry = reqwest::get(format!("{}/v1/entries/{}", serve.base, size + 2))
        .await
        .unwrap();
    assert_eq!(entry.status(), 200);
}

/// Three witnesses, two of three needed. One that saw a fork (a checkpoint of this log's
/// size with another root, signed by the log key: what a log that split its view leaves
/// behind) refuses the log's checkpoints, and the log reports it; the two others still
/// publish. With two down, the cosigned checkpoint stops, the appends and receipts do not.
#[tokio::test(flavor = "multi_thread")]
async fn two_of_three_witnesses_publish_and_a_witness_that_saw_a_fork_refuses() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    assert!(DemoProcess::start(&data, 5).stop().success());
    let log_signer = huella::keyfile::read_signer(&data.join("log.key")).unwrap();
    let log_key = log_signer.verifier();
    let size = 5 + common::demo::EXTRA_ENTRIES;

    let (mut witnesses, lines) = start_witnesses(dir.path(), 3, &log_key).await;
    // W3 is shown a fork first: the log's key signed, at a smaller size, another root.
    let fork = huella_core::checkpoint::Checkpoint::new(
        log_key.name().as_str(),
        3,
        huella_core::merkle::record_hash(b"another history"),
    )
    .sign(&log_signer)
    .unwrap();
    let (status, _, _) = witnesses[2]
        .add(huella_core::witness::request_body(0, &[], &fork))
        .await;
    assert_eq!(status, 200);

    let policy_text = format!("{lines}group two 2 W1 W2 W3\nquorum two\n");
    let policy_file = dir.path().join("log.policy");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(policy_text.as_bytes()).unwrap();
    let serve = serve_witnessed(&data, &policy_file).await;
    let (cosigned, by) = wait_cosigned(&serve.base, &policy, &log_key, size).await;
    assert_eq!(
        (cosigned, by),
        (size, vec!["W1".to_string(), "W2".to_string()])
    );
    // The log reports W3's refusal: its consistency proof from 3 does not verify against the
    // fork W3 saw.
    let mut reported = false;
    for _ in 0..50 {
        let metrics = reqwest::get(format!("{}/metrics", serve.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| {
            l.starts_with("huella_witness_failures_total{witness=\"W3\"}") && !l.ends_with(" 0")
        }) {
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reported, "the log did not report W3's refusal");
    assert!(
        !reqwest::get(format!("{}/metrics", serve.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("huella_witness_cosigned_size{witness=\"W3\"}")
    );

    // W2 down too: only W1 is left, the quorum is not met; appends and receipts go on.
    let mut w2 = witnesses.remove(1);
    w2.child.kill().unwrap();
    w2.child.wait().unwrap();
    tokio::task::block_in_place(|| submit(&serve.base, &data, "TWO-OF-THREE-1"));
    let receipt = reqwest::get(format!("{}/v1/receipts/{size}", serve.base))
        .await
        .unwrap();
    assert_eq!(receipt.status(), 200, "the new entry's receipt");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let note = checkpoint_note(&serve.base).await;
    let (served, _) = checkpoint::open(note.as_bytes(), &log_key).unwrap();
    assert_eq!(
        served.size, size,
        "a checkpoint was published without its quorum"
    );
}
