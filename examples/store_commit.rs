//! Cost of the sled store's group commit, per entry: `cargo run --release --example
//! store_commit [BATCHES]` commits BATCHES batches of 64 realistic-size entries (1 KB leaf,
//! 300-byte openings, about 2 tree hashes each) and prints CPU and wall time per entry. Run
//! it under `valgrind --tool=callgrind` for instruction counts that do not depend on what
//! else the machine is doing (docs/benchmarks.md).

use huella::store::{Batch, SledStore, Store};
use huella_core::merkle::{Frontier, record_hash};
/// cpu is this process's user + system CPU time in seconds, from /proc.
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let mut frontier = Frontier::default();
    let n_batches: usize = std::env::args().nth(1).map_or(400, |a| a.parse().unwrap());
    let per = 64;
    let c0 = cpu();
    let t0 = std::time::Instant::now();
    for b in 0..n_batches {
        let start = frontier.size();
        let mut batch = Batch {
            start,
            ..Batch::default()
        };
        for i in 0..per {
            let leaf = vec![(b * per + i) as u8; 1000];
            let h = record_hash(&leaf);
            batch.hashes.extend(frontier.append(h));
            batch.leaves.push(leaf);
            batch.openings.push(vec![7u8; 300]);
            batch
                .request_keys
                .push(format!("agency.example\0req-{b}-{i}").into_bytes());
        }
        batch.checkpoint_size = frontier.size();
        batch.checkpoint = vec![b'c'; 200];
        store.commit(&batch).unwrap();
    }
    let n = (n_batches * per) as f64;
    println!(
        "{} entries: cpu {:.1} us/entry, wall {:.1} us/entry",
        n,
        (cpu() - c0) / n * 1e6,
        t0.elapsed().as_secs_f64() / n * 1e6
    );
}
