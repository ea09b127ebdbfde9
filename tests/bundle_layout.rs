//! The bundle layout of docs/format.md §13, followed by hand: a bundle built from a log's API
//! with nothing but the documented rules (not with the export code) is accepted by `huella
//! verify --bundle`, and one missing any required file is refused with a message naming it.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::TestLog;
use huella::http::Limits;
use huella::store::MemoryStore;
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_huella");

/// SIZE is how many entries the log holds.
const SIZE: u64 = 12;

/// REQUIRED are the files a bundle must hold (docs/format.md §13).
const REQUIRED: [&str; 4] = [
    "checkpoint",
    "entries.ndjson",
    "trust.json",
    "manifest.json",
];

/// LISTED are the files the manifest must list: all but itself.
const LISTED: [&str; 3] = ["checkpoint", "entries.ndjson", "trust.json"];

fn run(args: &[&str]) -> Output {
    let out = tokio::task::block_in_place(|| Command::new(BIN).args(args).output().unwrap());
    assert_ne!(out.status.code(), Some(101), "huella {args:?} panicked");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn verify(dir: &Path, log: &TestLog, extra: &[&str]) -> Output {
    let key = log.log_key.to_string();
    let mut args = vec![
        "verify",
        "--bundle",
        dir.to_str().unwrap(),
        "--log-key",
        &key,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

async fn body(log: &TestLog, path: &str) -> Vec<u8> {
    let answer = log.get(path).await;
    assert_eq!(answer.status(), 200, "{path}");
    answer.bytes().await.unwrap().to_vec()
}

/// hex is lowercase hex, as the manifest writes SHA-256 digests.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// by_hand writes a bundle of `log` into `dir` from the documented rules alone, and returns
/// the manifest it wrote.
async fn by_hand(log: &TestLog, dir: &Path) -> serde_json::Value {
    std::fs::create_dir_all(dir).unwrap();
    // checkpoint: the signed note, byte for byte as served.
    let checkpoint = body(log, "/checkpoint").await;
    let text = String::from_utf8(checkpoint.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (origin, size, root) = (lines[0], lines[1].parse::<u64>().unwrap(), lines[2]);
    assert_eq!(size, SIZE);
    // entries.ndjson: each leaf as served, then one newline; a page of the API is just that.
    let entries = body(log, &format!("/v1/entries?start=0&limit={size}")).await;
    assert_eq!(entries.iter().filter(|&&b| b == b'\n').count() as u64, size);
    // trust.json: the trust root (§14), as the log serves it.
    let registry = body(log, "/v1/trust").await;
    let files = [
        ("checkpoint", &checkpoint),
        ("entries.ndjson", &entries),
        ("trust.json", &registry),
    ];
    let mut listed: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, bytes)| {
            std::fs::write(dir.join(name), bytes).unwrap();
            serde_json::json!({
                "name": name,
                "bytes": bytes.len(),
                "sha256": hex(&Sha256::digest(bytes)),
            })
        })
        .collect();
    // Files the format does not define are ignored, listed or not.
    let readme = b"notes of whoever made this bundle\n";
    std::fs::write(dir.join("README.txt"), readme).unwrap();
    std::fs::write(dir.join("unlisted.txt"), "not in the manifest\n").unwrap();
    listed.push(serde_json::json!({
        "name": "README.txt",
        "bytes": readme.len(),
        "sha256": hex(&Sha256::digest(readme)),
    }));
    listed.reverse();
    let manifest = serde_json::json!({
        "format": "huella-bundle/v1",
        "origin": origin,
        "tree_size": size,
        "root": root,
        "source": log.base,
        "exported_at": "2026-11-23T12:00:00.000Z",
        "files": listed,
    });
    // Any JSON layout: compact here, where export indents.
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    manifest
}

fn copy_without(from: &Path, to: &Path, left_out: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != left_out {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_made_by_hand_from_the_documented_layout_verifies() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    log.log_events(0..SIZE).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    by_hand(&log, &bundle).await;
    let registry = dir.path().join("trust.json");
    std::fs::copy(bundle.join("trust.json"), &registry).unwrap();
    let registry = registry.to_str().unwrap();
    for extra in [&[][..], &["--trust", registry]] {
        let out = verify(&bundle, &log, extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(&format!("holds {SIZE} entries")), "{said}");
    }
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_missing_a_required_file_is_refused_naming_it() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    log.log_events(0..SIZE).await;
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let manifest = by_hand(&log, &whole).await;
    let registry = dir.path().join("trusted-trust.json");
    std::fs::copy(whole.join("trust.json"), &registry).unwrap();
    let registry = registry.to_str().unwrap();

    // A required file missing from the directory: an unreadable input (exit 2), named; the
    // bundle's trust root is required even when --trust is given.
    for name in REQUIRED {
        let bundle = dir.path().join(format!("without-{name}"));
        copy_without(&whole, &bundle, name);
        for extra in [&[][..], &["--trust", registry]] {
            let out = verify(&bundle, &log, extra);
            let said = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} {extra:?}: {said}");
            let error = said.lines().last().unwrap_or_default();
            assert!(
                error.starts_with("huella: ") && error.contains(&format!("without-{name}/{name}")),
                "{name} {extra:?}: {said}"
            );
        }
    }

    // A required file the manifest does not list: the bundle is not what it claims (exit 1).
    for name in LISTED {
        let bundle = dir.path().join(format!("unlisted-{name}"));
        copy_without(&whole, &bundle, "manifest.json");
        let mut manifest = manifest.clone();
        manifest["files"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["name"] != name);
        std::fs::write(
            bundle.join("manifest.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        let out = verify(&bundle, &log, &[]);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {said}");
        assert!(
            said.contains(&format!("manifest.json does not list {name}")),
            "{name}: {said}"
        );
    }

    // A manifest that names another log, or another length for a file: refused, naming it.
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: [(&str, Edit, &str); 3] = [
        (
            "origin",
            Box::new(|m| m["origin"] = "elsewhere.example/log".into()),
            "manifest.json names origin \"elsewhere.example/log\", but the checkpoint is of",
        ),
        (
            "checkpoint length",
            Box::new(|m| {
                let files = m["files"].as_array_mut().unwrap();
                let f = files
                    .iter_mut()
                    .find(|f| f["name"] == "checkpoint")
                    .unwrap();
                f["bytes"] = (f["bytes"].as_u64().unwrap() + 1).into();
            }),
            "bundle file checkpoint holds",
        ),
        (
            "entries length",
            Box::new(|m| {
                let files = m["files"].as_array_mut().unwrap();
                let f = files
                    .iter_mut()
                    .find(|f| f["name"] == "entries.ndjson")
                    .unwrap();
                f["bytes"] = 7.into();
            }),
            "bundle file entries.ndjson holds",
        ),
    ];
    for (what, edit, says) in edits {
        let bundle = dir
            .path()
            .join(format!("edited-{}", what.replace(' ', "-")));
        copy_without(&whole, &bundle, "manifest.json");
        let mut manifest = manifest.clone();
        edit(&mut manifest);
        std::fs::write(
            bundle.join("manifest.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        let out = verify(&bundle, &log, &[]);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {said}");
        assert!(said.contains(says), "{what}: {said}");
    }
    log.stop().await;
}

/// docs/format.md §13 names every file and every manifest field this test writes.
#[test]
fn the_documented_layout_names_every_file_and_field() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md")).unwrap();
    let section = doc
        .split("\n## 13. Bundles")
        .nth(1)
        .expect("format.md has a section 13 on bundles");
    for name in REQUIRED.iter().chain(
        [
            "format",
            "origin",
            "tree_size",
            "root",
            "source",
            "exported_at",
            "files",
            "name",
            "bytes",
            "sha256",
            "huella-bundle/v1",
        ]
        .iter(),
    ) {
        assert!(
            section.contains(&format!("`{name}`")),
            "format.md §13 does not name `{name}`"
        );
    }
}
