//! Issue #16, first step: statistics over the public log. The log's `GET /v1/stats` and the
//! verifier's `stats` (computed from a copy it has just verified) give the same tables; both
//! agree with counts made here from the raw entries; the index the log keeps survives a
//! restart, and is rebuilt when its snapshot is missing, torn or of another log.

mod common;

use std::collections::BTreeMap;

use common::demo::DemoProcess;
use common::serve::Serve;
use huella_core::entry::Leaf;
use huella_core::stats::{Cube, Facts, Field, Query, TimeField};
use proptest::prelude::*;

/// QUERIES are (query string of `GET /v1/stats`, the same as `stats` flags).
const QUERIES: &[(&str, &[&str])] = &[
    ("", &[]),
    ("group_by=kind", &["--group-by", "kind"]),
    (
        "group_by=requesting_country,holder_country,month&kind=access",
        &[
            "--group-by",
            "requesting_country,holder_country,month",
            "--filter",
            "kind=access",
        ],
    ),
    (
        "group_by=requesting_agency,purpose,outcome",
        &["--group-by", "requesting_agency,purpose,outcome"],
    ),
    (
        "group_by=category,day&time=integrated_at&from=2026-01&to=2099",
        &[
            "--group-by",
            "category,day",
            "--time",
            "integrated_at",
            "--from",
            "2026-01",
            "--to",
            "2099",
        ],
    ),
    (
        "group_by=legal_basis,year&requesting_country=US&outcome=hit,no_hit",
        &[
            "--group-by",
            "legal_basis,year",
            "--filter",
            "requesting_country=US",
            "--filter",
            "outcome=hit,no_hit",
        ],
    ),
    ("to=2000-01-01", &["--to", "2000-01-01"]),
];

async fn served(base: &str, query: &str) -> serde_json::Value {
    let response = reqwest::get(format!("{base}/v1/stats?{query}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn verified(base: &str, data: &std::path::Path, flags: &[&str]) -> serde_json::Value {
    let log_key = data.join("log.key.pub");
    let trust = data.join("trust.json");
    let mut args = vec![
        "stats",
        "--url",
        base,
        "--log-key",
        log_key.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(flags);
    let out = common::run_huella(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Everything the log's answer and the verifier's have in common (the verifier adds what
/// it verified).
fn table(mut json: serde_json::Value) -> serde_json::Value {
    json.as_object_mut().unwrap().remove("verified");
    json
}

/// Counts of kinds and outcomes made here from the raw leaves, without the stats code.
async fn by_hand(base: &str, size: u64) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let body = reqwest::get(format!("{base}/v1/entries?start=0&limit={size}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in body.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let event = &v["event"];
        *counts
            .entry(format!("kind:{}", event["kind"].as_str().unwrap()))
            .or_default() += 1;
        if let Some(outcome) = event["outcome"].as_str() {
            *counts.entry(format!("outcome:{outcome}")).or_default() += 1;
            *counts.entry("records".into()).or_default() +=
                event["records_returned"].as_u64().unwrap();
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_and_the_verifier_give_the_same_tables_and_survive_restarts() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = DemoProcess::start(&data, 40);
    let size = 40 + common::demo::EXTRA_ENTRIES;
    let mut answers = Vec::new();
    for (query, flags) in QUERIES {
        let server = served(&demo.base, query).await;
        assert_eq!(server["tree_size"], size, "{query}");
        assert_eq!(
            table(verified(&demo.base, &data, flags)),
            server,
            "{query}: the verifier's table differs from the log's"
        );
        answers.push(server);
    }
    // Against counts made from the raw entries.
    let hand = by_hand(&demo.base, size).await;
    let kinds = &answers[1]["groups"];
    for group in kinds.as_array().unwrap() {
        let kind = group["kind"].as_str().unwrap();
        assert_eq!(group["count"], hand[&format!("kind:{kind}")], "{kind}");
    }
    assert_eq!(answers[0]["total"]["count"], size);
    assert_eq!(answers[0]["total"]["records_returned"], hand["records"]);
    assert_eq!(
        answers[0]["total"]["hits"],
        hand.get("outcome:hit").copied().unwrap_or(0)
    );
    assert_eq!(answers[6]["total"]["count"], 0, "nothing before 2000");
    // Bad queries name their parameter, and change nothing.
    for (query, parameter) in [
        ("group_by=nationality", "group_by"),
        ("subject=CO-CC-1012345678", "subject"),
        ("from=2026-13-01", "from"),
        ("time=now", "time"),
    ] {
        let response = reqwest::get(format!("{}/v1/stats?{query}", demo.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "bad_query");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{parameter}:")), "{message}");
        assert!(!message.contains("1012345678"), "{message}");
    }
    assert!(demo.stop().success());

    // A restart reads the snapshot written at shutdown; the answers are the same.
    let snapshot = data.join("stats.json");
    assert!(snapshot.exists(), "no statistics snapshot at shutdown");
    let again = |label: &'static str| {
        let data = data.clone();
        let answers = answers.clone();
        async move {
            let serve = Serve::start(&data, None).await;
            for ((query, _), answer) in QUERIES.iter().zip(&answers) {
                assert_eq!(
                    &served(&serve.base, query).await,
                    answer,
                    "{label}: {query}"
                );
            }
            assert!(serve.stop().success());
        }
    };
    again("from the snapshot").await;
    // Torn, missing, or of another log: counted again from the entries.
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 2]).unwrap();
    again("torn snapshot").await;
    let mut other: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    other["last"] = serde_json::Value::String(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [7u8; 32],
    ));
    std::fs::write(&snapshot, other.to_string()).unwrap();
    again("another log's snapshot").await;
    std::fs::remove_file(&snapshot).unwrap();
    again("no snapshot").await;
}

/// csv_fields splits one RFC 4180 line (no line breaks inside fields) into its fields.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The standalone verifier, from an exported bundle: its `stats --json` gives the log's
/// tables, and its `--csv` the same numbers.
#[tokio::test(flavor = "multi_thread")]
async fn the_standalone_verifier_gives_the_same_tables_from_a_bundle_and_as_csv() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = DemoProcess::start(&data, 40);
    let bundle = dir.path().join("bundle");
    let out = common::run_huella(&[
        "export",
        "--url",
        &demo.base,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = tokio::task::block_in_place(common::huella_verify_binary);
    let log_key = data.join("log.key.pub");
    let trust = data.join("trust.json");
    let run = |flags: &[&str], format: &str| {
        let mut args = vec![
            "stats",
            "--bundle",
            bundle.to_str().unwrap(),
            "--log-key",
            log_key.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            format,
        ];
        args.extend_from_slice(flags);
        let out = std::process::Command::new(&binary)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "huella-verify {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for (query, flags) in QUERIES {
        let server = served(&demo.base, query).await;
        assert_eq!(server["tree_size"], 40 + common::demo::EXTRA_ENTRIES);
        let json: serde_json::Value = serde_json::from_str(&run(flags, "--json")).unwrap();
        assert_eq!(
            table(json),
            server,
            "{query}: huella-verify --bundle differs from the log"
        );
        // The CSV: a header of the dimensions and the totals, then one line per group with
        // the log's numbers.
        let csv = run(flags, "--csv");
        let mut lines = csv.lines();
        let dimensions: Vec<&str> = server["group_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let mut header = dimensions.clone();
        header.extend(["count", "records_returned", "hits", "hit_rate"]);
        assert_eq!(lines.next(), Some(header.join(",").as_str()), "{query}");
        let groups = server["groups"].as_array().unwrap();
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), groups.len(), "{query}: {csv}");
        for (row, group) in rows.iter().zip(groups) {
            let cells = csv_fields(row);
            let n = dimensions.len();
            for (cell, dimension) in cells.iter().zip(&dimensions) {
                assert_eq!(
                    cell,
                    group[*dimension].as_str().unwrap_or(""),
                    "{query}: {row}"
                );
            }
            for (i, name) in ["count", "records_returned", "hits"].iter().enumerate() {
                assert_eq!(
                    cells[n + i],
                    group[*name].to_string(),
                    "{query} {name}: {row}"
                );
            }
        }
    }
}

/// A snapshot that counts fewer entries than the log (the log grew after it was written)
/// is caught up from the entries after it.
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_behind_the_log_is_caught_up() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    assert!(DemoProcess::start(&data, 12).stop().success());
    let early = std::fs::read(data.join("stats.json")).unwrap();
    // The demo again on the same data adds entries; put the earlier snapshot back.
    let demo = DemoProcess::start(&data, 12);
    let want = served(&demo.base, "group_by=kind,requesting_agency").await;
    assert!(demo.stop().success());
    std::fs::write(data.join("stats.json"), &early).unwrap();
    let serve = Serve::start(&data, None).await;
    assert_eq!(
        served(&serve.base, "group_by=kind,requesting_agency").await,
        want
    );
    assert!(serve.stop().success());
}

fn arb_facts() -> impl Strategy<Value = Facts> {
    (
        proptest::collection::vec(proptest::option::of(0u8..3), 9),
        0u8..4,
        0u8..4,
        0u64..5,
    )
        .prop_map(|(values, accessed, integrated, records)| {
            let mut fields: [Option<String>; 9] = Default::default();
            for (i, v) in values.into_iter().enumerate() {
                fields[i] = v.map(|v| match i {
                    7 => ["hit", "no_hit", "error"][v as usize].to_string(),
                    _ => format!("v{v}"),
                });
            }
            Facts {
                values: fields,
                accessed_day: format!("2026-0{}-1{}", 1 + accessed / 2, accessed),
                integrated_day: format!("2026-0{}-1{}", 1 + integrated / 2, integrated),
                records_returned: records,
            }
        })
}

fn arb_query() -> impl Strategy<Value = Query> {
    (
        proptest::sample::subsequence(
            vec![
                "requesting_agency",
                "category",
                "outcome",
                "kind",
                "day",
                "month",
                "year",
            ],
            0..4,
        ),
        proptest::option::of((0usize..9, proptest::collection::vec(0u8..3, 1..3))),
        proptest::option::of(0u8..4),
        proptest::option::of(0u8..4),
        any::<bool>(),
    )
        .prop_map(|(group_by, filter, from, to, integrated)| {
            let mut pairs: Vec<(String, String)> = vec![("group_by".into(), group_by.join(","))];
            if let Some((field, values)) = filter {
                let name = huella_core::stats::FIELDS[field].name();
                let values: Vec<String> = values
                    .iter()
                    .map(|v| {
                        if field == 7 {
                            ["hit", "no_hit", "error"][*v as usize].to_string()
                        } else {
                            format!("v{v}")
                        }
                    })
                    .collect();
                pairs.push((name.into(), values.join(",")));
            }
            if let Some(d) = from {
                pairs.push(("from".into(), format!("2026-0{}-1{d}", 1 + d / 2)));
            }
            if let Some(d) = to {
                pairs.push(("to".into(), format!("2026-0{}-1{d}", 1 + d / 2)));
            }
            if integrated {
                pairs.push(("time".into(), "integrated_at".into()));
            }
            // A range the wrong way round is refused; such queries are skipped.
            Query::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .unwrap_or_default()
        })
}

proptest! {
    /// The cube answers every query as a plain scan of the entries would: the same groups,
    /// each with the same count, records, hits and rate.
    #[test]
    fn the_cube_answers_as_a_scan_would(
        entries in proptest::collection::vec(arb_facts(), 0..60),
        query in arb_query(),
    ) {
        let mut cube = Cube::default();
        for f in &entries {
            cube.add(f);
        }
        let table = cube.query(&query);
        // The scan.
        let mut groups: BTreeMap<Vec<Option<String>>, (u64, u64, u64, u64)> = BTreeMap::new();
        for f in &entries {
            let day = match query.time {
                TimeField::AccessedAt => &f.accessed_day,
                TimeField::IntegratedAt => &f.integrated_day,
            };
            if query.from.as_ref().is_some_and(|from| day < from)
                || query.to.as_ref().is_some_and(|to| day > to)
            {
                continue;
            }
            let position = |field: Field| {
                huella_core::stats::FIELDS.iter().position(|f| *f == field).unwrap()
            };
            if !query.filters.iter().all(|(field, values)| {
                f.values[position(*field)].as_ref().is_some_and(|v| values.contains(v))
            }) {
                continue;
            }
            let key: Vec<Option<String>> = query
                .group_by
                .iter()
                .map(|d| match d.name() {
                    "day" => Some(day.clone()),
                    "month" => Some(day[..7].to_string()),
                    "year" => Some(day[..4].to_string()),
                    name => f.values[position(Field::parse(name).unwrap())].clone(),
                })
                .collect();
            let outcome = f.values[position(Field::Outcome)].as_deref();
            let g = groups.entry(key).or_default();
            g.0 += 1;
            g.1 += f.records_returned;
            g.2 += u64::from(outcome == Some("hit"));
            g.3 += u64::from(outcome.is_some());
        }
        prop_assert_eq!(table.groups.len(), groups.len());
        for group in &table.groups {
            let want = groups.get(&group.key);
            prop_assert!(want.is_some(), "unexpected group {:?}", group.key);
            let (count, records, hits, outcomes) = *want.unwrap();
            prop_assert_eq!(group.totals.count, count);
            prop_assert_eq!(group.totals.records_returned, records);
            prop_assert_eq!(group.totals.hits, hits);
            prop_assert_eq!(group.totals.outcomes, outcomes);
        }
        prop_assert_eq!(table.total.count, groups.values().map(|g| g.0).sum::<u64>());
    }
}

/// Every kind of leaf is counted with the fields it has, and none it does not.
#[test]
fn each_kind_counts_its_own_fields() {
    let leaf = std::fs::read_to_string("docs/format.md").unwrap();
    // The worked access entry of format.md §12: its leaf line.
    let line = leaf
        .lines()
        .find(|l| l.starts_with("{\"event\":{\"accessed_at\":\"2026-11-23T19:13:00Z\""))
        .unwrap();
    let facts = Facts::of(&Leaf::parse(line.as_bytes()).unwrap());
    assert_eq!(facts.values[0].as_deref(), Some("US-DHS-CBP"));
    assert_eq!(facts.values[2].as_deref(), Some("CO-MIGRACION"));
    assert_eq!(facts.values[7].as_deref(), Some("hit"));
    assert_eq!(facts.values[8].as_deref(), Some("access"));
    assert_eq!(facts.accessed_day, "2026-11-23");
    assert_eq!(facts.integrated_day, "2026-11-23");
    assert_eq!(facts.records_returned, 1);
}
