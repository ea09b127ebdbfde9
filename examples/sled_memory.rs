//! Resident memory of a sled 0.34 database as a log grows, for two layouts:
//! `cargo run --release --example sled_memory -- flat|packed ENTRIES [DIR]`.
//!
//! - `flat` is `store::SledStore`'s layout: one key per leaf, opening, request id and stored
//!   hash, about 5 keys per entry.
//! - `packed` puts leaves and openings 16 to a key and stored hashes 64 to a key, keeping one
//!   key per request id (an index by request id needs one), about 1.2 keys per entry.
//!
//! Values have the demo log's average sizes (906-byte leaves, 436-byte openings). Batches
//! of 256 entries go in with one `apply_batch` and one flush each, as the sequencer's do. It
//! prints resident memory and disk use every 500,000 entries; docs/benchmarks.md reads the
//! slopes. The database goes in DIR (default: a fresh directory under the current one) and
//! is removed at the end.

use std::path::{Path, PathBuf};

fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn du(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn key(prefix: u8, n: u64) -> [u8; 9] {
    let mut k = [prefix; 9];
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: sled_memory flat|packed ENTRIES [DIR]";
    let mode = args.next().expect(usage);
    let packed = match mode.as_str() {
        "flat" => false,
        "packed" => true,
        _ => panic!("{usage}"),
    };
    let total: u64 = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let dir = args.next().map_or_else(
        || PathBuf::from(format!("sled-memory-{}", std::process::id())),
        PathBuf::from,
    );
    let db = sled::Config::new()
        .path(&dir)
        .cache_capacity(16 << 20)
        .open()
        .expect("open sled");
    let log = db.open_tree("log").expect("open tree");
    let (leaf, opening) = (vec![b'l'; 906], vec![b'o'; 436]);
    let (mut leaves, mut openings, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    let mut stored = 0u64;
    let per_batch = 256;
    let started = std::time::Instant::now();
    let mut start = 0;
    while start < total {
        let mut batch = sled::Batch::default();
        for i in start..start + per_batch {
            // Request ids land all over the key space, as agencies' do.
            let id = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 100_000_000;
            let request = format!("RUS-DHS-CBP\0US-DHS-CBP-8f3a9c1d22e4b7a0-{id:08}");
            batch.insert(request.as_bytes(), &i.to_be_bytes());
            let new_hashes = 1 + u64::from((i + 1).trailing_zeros());
            if packed {
                leaves.extend_from_slice(&leaf);
                openings.extend_from_slice(&opening);
                batch.insert(&key(b'L', i / 16), leaves.as_slice());
                batch.insert(&key(b'O', i / 16), openings.as_slice());
                if i % 16 == 15 {
                    leaves.clear();
                    openings.clear();
                }
                for h in stored..stored + new_hashes {
                    hashes.extend_from_slice(&[7u8; 32]);
                    batch.insert(&key(b'H', h / 64), hashes.as_slice());
                    if h % 64 == 63 {
                        hashes.clear();
                    }
                }
            } else {
                batch.insert(&key(b'L', i), leaf.as_slice());
                batch.insert(&key(b'O', i), opening.as_slice());
                for h in stored..stored + new_hashes {
                    batch.insert(&key(b'H', h), &[7u8; 32]);
                }
            }
            stored += new_hashes;
        }
        log.apply_batch(batch).expect("apply batch");
        db.flush().expect("flush");
        start += per_batch;
        if start % 500_000 < per_batch || start >= total {
            println!(
                "{mode}: {start} entries, resident {} MB, disk {} MB, {:.0} s",
                rss_mb(),
                du(&dir) / 1_000_000,
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop((log, db));
    std::fs::remove_dir_all(&dir).expect("remove the database");
}
