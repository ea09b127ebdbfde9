//! Issue #16: search over the public log. A search returns exactly the entries that match
//! its filters and days, in order, across pages, reading only the blocks of entries the
//! statistics index says hold a match; and `GET /v1/search` serves it.

mod common;

use std::sync::OnceLock;

use common::demo::DemoProcess;
use huella::keyfile::random_salt;
use huella::ledger::search::{Order, Request, SCAN_BUDGET, search};
use huella_core::entry::{Entry, GENESIS_PREV, Leaf};
use huella_core::event::{PlainEvent, SignedEvent};
use huella_core::merkle::record_hash;
use huella_core::stats::{BLOCK, Cube, Facts, Query};
use huella_core::values::{Count, Timestamp};
use proptest::prelude::*;

/// A log of three blocks and a bit: demo events whose purpose names their block (`b0`,
/// `b1`, …), and whose day is one of three.
fn log() -> &'static (Vec<Vec<u8>>, Cube) {
    static LOG: OnceLock<(Vec<Vec<u8>>, Cube)> = OnceLock::new();
    LOG.get_or_init(|| {
        let (agencies, _) = common::agencies();
        let mut leaves = Vec::new();
        let mut cube = Cube::default();
        let mut prev = GENESIS_PREV;
        for n in 0..3 * BLOCK + 100 {
            let day = 20 + n % 3;
            let now = Timestamp::parse(&format!("2026-11-{day}T12:00:00Z")).unwrap();
            let (from, mut json) = huella::demo::sample_event(&agencies, 7, n, &now);
            json["purpose"] = format!("b{}", n / BLOCK).into();
            let plain: PlainEvent = serde_json::from_value(json).unwrap();
            let submission = plain
                .seal(&agencies[from].key, now.clone(), random_salt)
                .unwrap();
            let entry = Entry::new(
                Count::new(n).unwrap(),
                now,
                prev,
                SignedEvent {
                    event: submission.event,
                    signature: submission.signature,
                },
            );
            let leaf = entry.to_leaf();
            prev = record_hash(&leaf);
            cube.add(&Facts::of_access(&entry));
            leaves.push(leaf);
        }
        (leaves, cube)
    })
}

fn query(pairs: &[(&str, &str)]) -> Query {
    Query::from_pairs(pairs.iter().copied()).unwrap()
}

/// every runs a search page by page to its end and returns the indices found, the leaves
/// read, and the pages.
fn every(q: &Query, order: Order, limit: u64) -> (Vec<u64>, u64, usize) {
    let (leaves, cube) = log();
    let (blocks, matches) = cube.blocks_matching(q);
    let (mut found, mut scanned, mut pages, mut cursor) = (Vec::new(), 0, 0, None);
    loop {
        let request = Request {
            query: q.clone(),
            order,
            cursor,
            limit,
        };
        let page = search(
            leaves.len() as u64,
            |first, count| Ok(leaves[first as usize..(first + count) as usize].to_vec()),
            &blocks,
            matches,
            &request,
        )
        .unwrap();
        assert!(page.entries.len() as u64 <= limit);
        assert!(page.scanned <= SCAN_BUDGET + 256);
        assert_eq!(page.matches, matches);
        found.extend(page.entries.iter().map(|e| e.index));
        scanned += page.scanned;
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (found, scanned, pages),
        }
        assert!(pages < 10_000, "the search does not end");
    }
}

/// The entries a plain scan finds, oldest first.
fn scan(q: &Query) -> Vec<u64> {
    static FACTS: OnceLock<Vec<Facts>> = OnceLock::new();
    FACTS
        .get_or_init(|| {
            log()
                .0
                .iter()
                .map(|leaf| Facts::of(&Leaf::parse(leaf).unwrap()))
                .collect()
        })
        .iter()
        .enumerate()
        .filter(|(_, facts)| q.matches(facts))
        .map(|(i, _)| i as u64)
        .collect()
}

#[test]
fn a_search_reads_only_the_blocks_that_hold_a_match() {
    let q = query(&[("purpose", "b1")]);
    let want = scan(&q);
    assert_eq!(want.len() as u64, BLOCK);
    let (found, scanned, _) = every(&q, Order::Oldest, 100);
    assert_eq!(found, want);
    assert_eq!(scanned, BLOCK, "it read other blocks than block 1");
    let (mut newest, scanned, _) = every(&q, Order::Newest, 37);
    assert_eq!(scanned, BLOCK);
    newest.reverse();
    assert_eq!(newest, want);
    // A value no entry has: nothing read at all.
    let (found, scanned, pages) = every(&query(&[("purpose", "b9")]), Order::Newest, 10);
    assert_eq!((found.len(), scanned, pages), (0, 0, 1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any filters, days, order and page size: the pages together are exactly the scan's
    /// matches, in order, each once.
    #[test]
    fn a_search_finds_exactly_what_a_scan_finds(
        purpose in proptest::option::of(0u8..4),
        outcome in proptest::option::of(proptest::sample::select(vec!["hit", "no_hit", "error"])),
        day in proptest::option::of(20u8..23),
        integrated in any::<bool>(),
        newest in any::<bool>(),
        limit in 1u64..100,
    ) {
        let purpose = purpose.map(|p| format!("b{p}"));
        let day = day.map(|d| format!("2026-11-{d}"));
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(p) = &purpose {
            pairs.push(("purpose", p));
        }
        if let Some(o) = outcome {
            pairs.push(("outcome", o));
        }
        if let Some(d) = &day {
            pairs.push(("from", d));
            pairs.push(("to", d));
        }
        if integrated {
            pairs.push(("time", "integrated_at"));
        }
        let q = query(&pairs);
        let mut want = scan(&q);
        let order = if newest { Order::Newest } else { Order::Oldest };
        if newest {
            want.reverse();
        }
        let (found, _, _) = every(&q, order, limit);
        prop_assert_eq!(found, want);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_serves_search_pages_with_links() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start(&dir.path().join("demo"), 30);
    let get = |q: &str| {
        let url = format!("{}/v1/search?{q}", demo.base);
        async move {
            let response = reqwest::get(url).await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, first) = get("kind=access&order=oldest&limit=7").await;
    assert_eq!(status, 200, "{first}");
    let mut seen: Vec<u64> = Vec::new();
    let mut page = first;
    loop {
        for e in page["entries"].as_array().unwrap() {
            assert_eq!(e["kind"], "access");
            let index = e["index"].as_u64().unwrap();
            assert_eq!(e["links"]["leaf"], format!("/v1/entries/{index}"));
            // The leaf the link names is the entry described.
            let leaf = reqwest::get(format!("{}/v1/entries/{index}", demo.base))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let Leaf::Access(entry) = Leaf::parse(&leaf).unwrap() else {
                panic!("entry {index} is not an access");
            };
            assert_eq!(
                e["requesting_agency"],
                entry.event.requesting_agency.as_str()
            );
            assert_eq!(e["time"], entry.event.accessed_at.as_str());
            // No commitment, and so no personal field, in a search answer.
            assert!(e.get("subject").is_none());
            seen.push(index);
        }
        match page["next_cursor"].as_u64() {
            Some(cursor) => {
                page = get(&format!("kind=access&order=oldest&limit=7&cursor={cursor}"))
                    .await
                    .1
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    for (q, why) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("order=random", "order"),
        ("group_by=kind", "group_by"),
        ("subject=CO-CC-1012345678", "subject"),
    ] {
        let (status, body) = get(q).await;
        assert_eq!(status, 400, "{q}");
        assert!(body["message"].as_str().unwrap().starts_with(why), "{body}");
        assert!(!body["message"].as_str().unwrap().contains("1012345678"));
    }
    let (status, _) = get("cursor=100000").await;
    assert_eq!(status, 404);
}
