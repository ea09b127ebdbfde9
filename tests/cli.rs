//! The `huella` binary as a user runs it: keygen, submit against a live log, and demo.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::demo::DemoProcess;
use common::{TestLog, agencies};
use huella::http::Limits;
use huella::keyfile;
use huella::store::MemoryStore;
use huella_core::entry::Leaf;
use huella_core::proof::{Receipt, TlogProof};

const BIN: &str = env!("CARGO_BIN_EXE_huella");

#[test]
fn keygen_writes_a_private_key_and_prints_its_verifier_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agency.key");
    let out = Command::new(BIN)
        .args(["keygen", "--name", "agency.example/huella", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let key = keyfile::read_signer(&path).unwrap();
    assert_eq!(printed.trim_end(), key.verifier().to_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = Command::new(BIN)
        .args(["keygen", "--name", "agency.example/huella", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "refuses to overwrite a key");
    let bad = Command::new(BIN)
        .args(["keygen", "--name", "has space", "--out"])
        .arg(dir.path().join("x.key"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid key name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_seals_signs_and_saves_the_receipt() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (agencies, _) = agencies();
    let cbp = agencies
        .iter()
        .find(|a| a.id.as_str() == "US-DHS-CBP")
        .unwrap();
    let key_path = dir.path().join("cbp.key");
    keyfile::write_signer(&key_path, &cbp.key).unwrap();
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/event.json"
    ))
    .unwrap();
    // The test log's clock is fixed, so give the event a time inside its window.
    let mut event: serde_json::Value = serde_json::from_str(&event).unwrap();
    event["accessed_at"] = serde_json::json!("2026-11-23T11:30:00Z");
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let receipt_path = dir.path().join("receipt.json");

    let run = |out: &std::path::Path| {
        Command::new(BIN)
            .args(["submit", "--url", &log.base, "--key"])
            .arg(&key_path)
            .arg("--event")
            .arg(&event_path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = tokio::task::block_in_place(|| run(&receipt_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Receipt = serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    let proof = TlogProof::parse(receipt.tlog_proof.as_bytes()).unwrap();
    let (entry, _) = proof.verify_receipt(&log.log_key).unwrap();
    let Leaf::Access(entry) = entry else {
        panic!("the receipt is not of an access entry")
    };
    assert_eq!(entry.event.request_id.as_str(), "US-DHS-CBP-2026-TOUR-0001");
    // The agency keeps its own openings beside the receipt, owner-only: they open the
    // entry's commitments, whatever the operator does with its copy.
    let kept_path = dir.path().join("receipt.json.openings.json");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&kept_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kept_path).unwrap()).unwrap();
    assert_eq!(kept["index"], receipt.index);
    let openings: huella_core::event::Openings =
        serde_json::from_value(kept["openings"].clone()).unwrap();
    openings.check(&entry.event).unwrap();
    assert_eq!(kept["openings"]["subject"]["value"], "CO-CC-1012345678");
    // The leaf holds commitments, never the clear values from the event file.
    let leaf = String::from_utf8(proof.extra.unwrap()).unwrap();
    for secret in [
        "officer-04411",
        "CO-CC-1012345678",
        "CO-MIGRACION-REC-000000123456",
        "9f2c51e0a4b7d3c8",
    ] {
        assert!(
            !leaf.contains(secret),
            "{secret} leaked into the public leaf"
        );
    }
    // A second run re-seals with fresh salts: same request id, other content.
    let out = tokio::task::block_in_place(|| run(&dir.path().join("second.json")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("conflict"));
    assert_eq!(log.check_log().await.0.size, 1);
    log.stop().await;
}

#[test]
fn demo_serves_a_verifiable_log_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start(&dir.path().join("demo"), 40);
    let (base, key) = (demo.base.clone(), demo.log_key.clone());
    let log_key = huella_core::keys::VerifierKey::parse(&key).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let note = runtime.block_on(async {
        huella_verify::client::install_crypto();
        reqwest::get(format!("{base}/checkpoint"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let (checkpoint, _) = huella_core::checkpoint::open(&note, &log_key).unwrap();
    assert_eq!(checkpoint.size, 40 + common::demo::EXTRA_ENTRIES);
    // The data directory holds the openings and the log key: owner only.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path().join("demo"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "data directory mode {mode:o}");
    // Each country's auditor read two entries; each disclosure verifies with the log key and
    // is owner-only (it holds personal data).
    for auditor in ["CO-PROCURADURIA", "US-DHS-OIG"] {
        let file = dir
            .path()
            .join("demo/disclosures")
            .join(format!("{auditor}.json"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{auditor}: mode {mode:o}");
        let out = Command::new(BIN)
            .args(["disclosure", "verify"])
            .arg(&file)
            .args(["--log-key", &key])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("VERIFIED: 2 entries disclosed"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(demo.stop().success(), "demo exits cleanly on Ctrl-C");
}

#[test]
fn submit_retries_the_same_sealed_event_then_reports_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (agencies, _) = agencies();
    let key_path = dir.path().join("cbp.key");
    keyfile::write_signer(&key_path, &agencies[0].key).unwrap();
    // Nothing listens on port 9 of loopback (discard), so every attempt fails to connect.
    let out = Command::new(BIN)
        .args([
            "submit",
            "--url",
            "http://127.0.0.1:9",
            "--retries",
            "1",
            "--key",
        ])
        .arg(&key_path)
        .arg("--event")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/examples/event.json"
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("retrying in").count(), 1, "{stderr}");
    assert!(
        stderr.contains("request to http://127.0.0.1:9/v1/entries failed"),
        "{stderr}"
    );
}
