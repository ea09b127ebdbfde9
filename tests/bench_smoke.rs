//! Smoke runs of the performance tools as a user runs them, kept to a few seconds for CI:
//! `huella bench` against a real `huella demo`, and `huella limits`. Benchmarks are not timed
//! tests: these check that the tools run and report complete, consistent numbers, never how
//! large the numbers are.

mod common;

use std::process::{Command, Output};

use common::demo::DemoProcess;

const BIN: &str = env!("CARGO_BIN_EXE_huella");

/// Demo events submitted before the bench starts.
const DEMO_EVENTS: u64 = 10;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn number(report: &serde_json::Value, path: &str) -> f64 {
    report
        .pointer(path)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{path} is missing or not a number in {report}"))
}

#[test]
fn bench_appends_to_a_demo_log_and_verifies_every_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = DemoProcess::start(&data, DEMO_EVENTS);
    let data_arg = data.to_str().unwrap();
    // --events bounds pre-signing, so the run stays short in a debug build.
    let report = json(&run(&[
        "bench",
        "--url",
        &demo.base,
        "--data",
        data_arg,
        "--duration",
        "2",
        "--concurrency",
        "8",
        "--events",
        "3000",
        "--json",
    ]));

    assert!(number(&report, "/appends_per_sec") > 0.0, "{report}");
    let latency: Vec<f64> = ["p50", "p90", "p99", "max"]
        .iter()
        .map(|p| number(&report, &format!("/latency_ms/{p}")))
        .collect();
    assert!(latency[0] > 0.0, "{report}");
    assert!(
        latency.windows(2).all(|w| w[0] <= w[1]),
        "percentiles are ordered: {report}"
    );
    assert_eq!(number(&report, "/errors"), 0.0, "{report}");
    let appended = number(&report, "/appended");
    assert!(appended > 0.0, "{report}");
    assert_eq!(number(&report, "/receipts_verified"), appended, "{report}");
    assert_eq!(
        number(&report, "/tree_size"),
        (DEMO_EVENTS + common::demo::EXTRA_ENTRIES) as f64 + appended,
        "the log holds the demo's entries and every acknowledged append: {report}"
    );

    // What the bench wrote is a log anyone can verify.
    let (log_key, registry) = (data.join("log.key.pub"), data.join("trust.json"));
    let verified = json(&run(&[
        "verify",
        "--url",
        &demo.base,
        "--log-key",
        log_key.to_str().unwrap(),
        "--trust",
        registry.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(
        number(&verified, "/summary/entries"),
        DEMO_EVENTS as f64 + appended,
        "{verified}"
    );

    // Proof mode on the same log: every inclusion proof verifies, and the server-side
    // time comes from its /metrics.
    let proofs = json(&run(&[
        "bench",
        "--proofs",
        "--url",
        &demo.base,
        "--data",
        data_arg,
        "--duration",
        "1",
        "--concurrency",
        "4",
        "--json",
    ]));
    assert!(number(&proofs, "/proofs_per_sec") > 0.0, "{proofs}");
    assert!(number(&proofs, "/inclusion") > 0.0, "{proofs}");
    assert!(number(&proofs, "/consistency") > 0.0, "{proofs}");
    assert_eq!(number(&proofs, "/errors"), 0.0, "{proofs}");
    assert!(number(&proofs, "/server_ms/p50") > 0.0, "{proofs}");
    assert_eq!(
        number(&proofs, "/tree_size"),
        (DEMO_EVENTS + common::demo::EXTRA_ENTRIES) as f64 + appended,
        "{proofs}"
    );
}

#[test]
fn fill_appends_exactly_n_entries_round_by_round() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = DemoProcess::start(&data, DEMO_EVENTS);
    // 25 entries in rounds of 10: two full rounds and a short one, each signed, sent and
    // checked before the next, so a fill of any size keeps the generator's memory bounded.
    let out = run(&[
        "bench",
        "--fill",
        "25",
        "--fill-round",
        "10",
        "--url",
        &demo.base,
        "--data",
        data.to_str().unwrap(),
        "--concurrency",
        "4",
        "--json",
    ]);
    let report = json(&out);
    assert_eq!(number(&report, "/appended"), 25.0, "{report}");
    assert_eq!(number(&report, "/receipts_verified"), 25.0, "{report}");
    assert_eq!(number(&report, "/errors"), 0.0, "{report}");
    assert_eq!(
        number(&report, "/tree_size"),
        (DEMO_EVENTS + common::demo::EXTRA_ENTRIES) as f64 + 25.0,
        "{report}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rounds: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("entries appended and their receipts checked"))
        .collect();
    assert_eq!(rounds.len(), 3, "one progress line per round: {stderr}");
    for (line, done) in rounds.iter().zip(["10/25", "20/25", "25/25"]) {
        assert!(line.trim_start().starts_with(done), "{line}");
    }
}

#[test]
fn limits_reports_every_rate_and_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let limits = json(&run(&[
        "limits",
        "--dir",
        dir_arg,
        "--seconds",
        "0.2",
        "--json",
    ]));
    for rate in [
        "/fsyncs_per_sec",
        "/sha256_mb_per_sec",
        "/verify_per_sec_one_core",
        "/batch_verify_per_sec_all_cores",
    ] {
        assert!(number(&limits, rate) > 0.0, "{rate} in {limits}");
    }
    assert!(number(&limits, "/threads") >= 1.0, "{limits}");
    assert_eq!(number(&limits, "/seconds_per_probe"), 0.2, "{limits}");
    assert_eq!(limits["fsync_dir"], dir_arg, "{limits}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the fsync probe removes its scratch file"
    );

    let missing = dir.path().join("missing");
    let out = run(&["limits", "--dir", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("fsync probe in {}", missing.display())),
        "{stderr}"
    );
}
