//! The `huella-verify` binary as a rights group runs it, built alone: its subcommands, a
//! receipt verified offline with nothing but the log key, and the exit codes (0 verified,
//! 1 failed verification, 2 usage or I/O error). The receipts are the worked example of
//! `docs/format.md` §12 and a receipt of its 13-entry log, from the fuzz corpus.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The log key of `docs/format.md` §12.1.
const LOG_KEY: &str = "huella.example/log+731bcf3c+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/tlog_proof")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_huella-verify"))
        .args(args)
        .output()
        .unwrap()
}

/// receipt_verify runs `receipt verify FILE --log-key KEY` with `extra` arguments.
fn receipt_verify(file: &std::path::Path, key: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "receipt",
        "verify",
        file.to_str().unwrap(),
        "--log-key",
        key,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn it_offers_the_four_subcommands() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["verify", "export", "receipt", "monitor"] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing from:\n{help}"
        );
    }
    for args in [
        &["verify", "--help"][..],
        &["export", "--help"],
        &["receipt", "verify", "--help"],
        &["monitor", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        if args[0] != "receipt" || args.len() == 3 {
            assert!(text(&out.stdout).contains("--ca-cert"), "{args:?}");
        }
    }
}

#[test]
fn a_receipt_verifies_offline_with_the_log_key_alone() {
    for name in ["accept-receipt-12.6.txt", "accept-receipt-7-of-13.json"] {
        let path = corpus(name);
        let out = receipt_verify(&path, LOG_KEY, &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("VERIFIED: entry "), "{name}");
        let out = receipt_verify(&path, LOG_KEY, &["--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["verified"], true, "{name}");
    }
}

#[test]
fn a_receipt_that_does_not_verify_exits_1_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // The JSON receipt with its index changed: its tlog_proof still says 7.
    let json = std::fs::read_to_string(corpus("accept-receipt-7-of-13.json")).unwrap();
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, json.replacen("\"index\": 7", "\"index\": 8", 1)).unwrap();
    let out = receipt_verify(&changed, LOG_KEY, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("huella-verify: verification failed: "));
    // A key that is not the log's (the example agency's).
    let other = "us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
    let path = corpus("accept-receipt-12.6.txt");
    let out = receipt_verify(&path, other, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // A missing file, and a URL without a scheme: usage or I/O errors.
    let missing = dir.path().join("missing.txt");
    let out = receipt_verify(&missing, LOG_KEY, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&["verify", "--url", "log.example", "--log-key", LOG_KEY]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
