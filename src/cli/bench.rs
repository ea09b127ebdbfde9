//! `huella bench`: a load generator for a running `huella demo`. It pre-signs unique,
//! realistic events with the demo agencies' keys, drives `POST /v1/entries` with C
//! concurrent clients, then checks every receipt (after the timed window, so checking does
//! not compete with the server for the CPU) and reports throughput and latency.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::demo::{AGENCIES, Agency, sample_event};
use crate::keyfile;
use clap::Args;
use huella_core::event::PlainEvent;
use huella_core::keys::VerifierKey;
use huella_core::proof::{Receipt, TlogProof};
use huella_core::values::{AgencyId, CountryCode, Timestamp};
use huella_verify::cli::{CliResult, ClientArgs, parse_log_key};
use huella_verify::client::{Client, ClientError};

/// Arguments of `huella bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Base URL of the running demo log.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Data directory of that `huella demo` (its agency keys sign the events).
    #[arg(long, default_value = "demo-data")]
    pub data: PathBuf,
    /// Timed window, in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Events to pre-sign (default: enough for 25,000 appends/s over the window).
    #[arg(long)]
    pub events: Option<u64>,
    /// Fill mode: append exactly N entries as fast as possible, with no time limit.
    #[arg(long, value_name = "N", conflicts_with = "proofs")]
    pub fill: Option<u64>,
    /// Fill mode: events pre-signed, sent and checked per round, which bounds the load
    /// generator's memory (about 2.5 KB per event).
    #[arg(long, value_name = "N", default_value_t = FILL_ROUND, value_parser = clap::value_parser!(u64).range(1..))]
    pub fill_round: u64,
    /// Proof mode: request inclusion and consistency proofs (random indexes and sizes)
    /// against the newest checkpoint instead of appending, and verify each inclusion proof.
    #[arg(long)]
    pub proofs: bool,
    /// After the run, also measure the machine's own limits (fsyncs/s in DIR, SHA-256 rate,
    /// single and batch signature checks), one second each, and report them with the run.
    #[arg(long)]
    pub limits: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// run drives the load and prints the report.
pub async fn run(args: BenchArgs) -> CliResult {
    let log_key = parse_log_key(&args.data.join("log.key.pub").display().to_string())?;
    let client = args.client.client(&args.url)?;
    let seed = u64::from_le_bytes(keyfile::random_bytes()?[..8].try_into()?);
    if args.proofs {
        let duration = Duration::from_secs(args.duration);
        let report = run_proofs(&client, &log_key, seed, args.concurrency, duration).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", render_proofs(&report));
        }
        if report.errors > 0 {
            return Err(format!("{} proof requests failed", report.errors).into());
        }
        return Ok(());
    }
    let agencies = load_agencies(&args.data)?;
    let mut report = if let Some(count) = args.fill {
        eprintln!(
            "filling {} with {count} entries from {} clients, {} at a time...",
            args.url,
            args.concurrency,
            args.fill_round.min(count)
        );
        let started = std::time::Instant::now();
        let progress = |done: u64, rate: f64| {
            eprintln!(
                "  {done}/{count} entries appended and their receipts checked, {rate:.0}/s while \
                 sending, {:.0} s in all",
                started.elapsed().as_secs_f64()
            );
        };
        fill(
            &client,
            &log_key,
            &agencies,
            FillPlan {
                count,
                round: args.fill_round,
                concurrency: args.concurrency,
                seed,
            },
            progress,
        )
        .await?
    } else {
        let count = args
            .events
            .unwrap_or(args.duration.saturating_mul(25_000).max(1000));
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        eprintln!("pre-signing {count} events...");
        let started = std::time::Instant::now();
        let bodies = tokio::task::block_in_place(|| presign(&agencies, seed, 0, count, &now));
        eprintln!(
            "pre-signed {count} events in {:.1} s; driving {} with {} clients...",
            started.elapsed().as_secs_f64(),
            args.url,
            args.concurrency
        );
        let duration = Duration::from_secs(args.duration);
        run_appends(&client, &log_key, bodies, args.concurrency, duration).await?
    };
    if args.limits {
        let dir = args.data.clone();
        report.machine = Some(tokio::task::block_in_place(|| {
            crate::cli::limits::measure(&dir, Duration::from_secs(1))
        })?);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
        if let Some(machine) = &report.machine {
            print!("{}", crate::cli::limits::render(machine));
        }
    }
    if report.errors > 0 {
        return Err(format!("{} appends failed", report.errors).into());
    }
    Ok(())
}

/// Report is what a bench run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Entries acknowledged per second over the timed window.
    pub appends_per_sec: f64,
    /// Client-side latency of acknowledged appends, in milliseconds.
    pub latency_ms: Latency,
    /// Entries acknowledged.
    pub appended: u64,
    /// Requests that failed (any error), not counted as appended.
    pub errors: u64,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Length of the timed window, in seconds.
    pub seconds: f64,
    /// Receipts verified after the run (all of them, or the run fails).
    pub receipts_verified: u64,
    /// Tree size of the log when the run ended.
    pub tree_size: u64,
    /// The machine's own limits, measured right after the timed window (`--limits`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<crate::cli::limits::MachineLimits>,
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// ProofReport is what a proof-serving run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProofReport {
    /// Proof requests answered per second over the timed window.
    pub proofs_per_sec: f64,
    /// Client-side latency of answered requests, in milliseconds.
    pub latency_ms: Latency,
    /// Server-side time to build a proof, in milliseconds, from the log's
    /// `huella_proof_seconds` histogram over the run (bucket upper bounds).
    pub server_ms: ServerLatency,
    /// Inclusion proofs fetched, and each verified against the signed checkpoint.
    pub inclusion: u64,
    /// Consistency proofs fetched (checked for shape: the bench knows only the newest root).
    pub consistency: u64,
    /// Requests that failed, or proofs that did not verify.
    pub errors: u64,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Length of the timed window, in seconds.
    pub seconds: f64,
    /// Size of the tree the proofs were for.
    pub tree_size: u64,
}

/// Server-side percentiles, read off a histogram: each is the upper bound of the bucket
/// that holds it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ServerLatency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// BenchError says why a run could not be done or did not hold.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Set-up failed (keys, log unreachable).
    #[error("{0}")]
    Setup(String),
    /// A receipt did not verify.
    #[error("receipt for index {index} does not verify: {why}")]
    Receipt {
        /// Its index.
        index: u64,
        /// Why.
        why: String,
    },
}

/// load_agencies reads the demo agencies' current keys that `huella demo` wrote in `data`:
/// the successor `<id>.2.key` of a key the demo rotated or revoked, else `<id>.key`.
pub fn load_agencies(data: &Path) -> Result<Vec<Agency>, BenchError> {
    AGENCIES
        .iter()
        .map(|(id, country, _)| {
            let dir = data.join("agencies");
            let successor = dir.join(format!("{id}.2.key"));
            let path = if successor.exists() {
                successor
            } else {
                dir.join(format!("{id}.key"))
            };
            let key = keyfile::read_signer(&path).map_err(|e| {
                BenchError::Setup(format!(
                    "{e} (is {} the data directory of a huella demo?)",
                    data.display()
                ))
            })?;
            Ok(Agency {
                // Invariant: the demo constants are valid.
                id: AgencyId::new(*id).expect("demo agency ids are valid"),
                country: CountryCode::new(*country).expect("demo countries are valid"),
                key,
            })
        })
        .collect()
}

/// presign seals events number `first` to `first + count - 1` (unique per `seed`: request
/// ids carry both), on every core, and returns their JSON bodies.
pub fn presign(
    agencies: &[Agency],
    seed: u64,
    first: u64,
    count: u64,
    now: &Timestamp,
) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let per = count.div_ceil(cores.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                scope.spawn(move || {
                    let range = (first + c * per)..(first + ((c + 1) * per).min(count));
                    range
                        .map(|n| {
                            let (from, json) = sample_event(agencies, seed, n, now);
                            // Invariant: sample_event writes valid plain events.
                            let plain: PlainEvent =
                                serde_json::from_value(json).expect("demo events parse");
                            let submission = plain
                                .seal(&agencies[from].key, now.clone(), keyfile::random_salt)
                                .expect("demo events seal");
                            serde_json::to_vec(&submission).expect("submissions serialize")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            // Invariant: the closures above only panic on broken invariants.
            .flat_map(|h| h.join().expect("pre-signing panicked"))
            .collect()
    })
}

impl Latency {
    /// of_sorted reads the percentiles off latencies sorted in ascending order.
    fn of_sorted(sorted: &[Duration]) -> Latency {
        Latency {
            p50: percentile(sorted, 50.0),
            p90: percentile(sorted, 90.0),
            p99: percentile(sorted, 99.0),
            max: percentile(sorted, 100.0),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// run drives the log at `client` with `bodies` from `concurrency` clients until `duration`
/// passes or the bodies run out, then verifies every receipt with `log_key`.
pub async fn run_appends(
    client: &Client,
    log_key: &VerifierKey,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    duration: Duration,
) -> Result<Report, BenchError> {
    let round = drive(client, bodies, concurrency, Some(duration)).await?;
    let verified = verify_receipts(&round.receipts, log_key)?;
    let mut latencies = round.latencies;
    latencies.sort_unstable();
    report(
        client,
        log_key,
        &latencies,
        round.errors,
        concurrency,
        round.seconds,
        verified,
    )
    .await
}

/// FILL_ROUND is how many events a fill pre-signs, sends and checks at a time by default: a
/// fill of any size then holds at most this many bodies and receipts in memory (about
/// 0.5 GB).
pub const FILL_ROUND: u64 = 200_000;

/// FillPlan says how to fill a log.
#[derive(Clone, Copy, Debug)]
pub struct FillPlan {
    /// Entries to append.
    pub count: u64,
    /// Events signed, sent and checked per round (see [`FILL_ROUND`]).
    pub round: u64,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Makes the request ids unique to this fill.
    pub seed: u64,
}

/// fill appends `plan.count` entries to the log at `client` as fast as `plan.concurrency`
/// clients can, round after round of `plan.round` events signed by `agencies`, and verifies
/// every receipt. After each round it calls `progress` with the entries appended so far and
/// the append rate. The report's rate and seconds count only the time spent sending, not the
/// signing and checking between rounds.
pub async fn fill(
    client: &Client,
    log_key: &VerifierKey,
    agencies: &[Agency],
    plan: FillPlan,
    mut progress: impl FnMut(u64, f64),
) -> Result<Report, BenchError> {
    let FillPlan {
        count,
        round,
        concurrency,
        seed,
    } = plan;
    let mut latencies = Vec::new();
    let (mut errors, mut seconds, mut verified) = (0, 0.0, 0);
    let mut first = 0;
    while first < count {
        let n = round.clamp(1, count - first);
        // Each round signs with a fresh time, so a long fill stays inside the log's
        // admission window.
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let bodies = presign(agencies, seed, first, n, &now);
        let pass = drive(client, bodies, concurrency, None).await?;
        verified += verify_receipts(&pass.receipts, log_key)?;
        latencies.extend(pass.latencies);
        errors += pass.errors;
        seconds += pass.seconds;
        first += n;
        progress(latencies.len() as u64, latencies.len() as f64 / seconds);
    }
    latencies.sort_unstable();
    report(
        client,
        log_key,
        &latencies,
        errors,
        concurrency,
        seconds,
        verified,
    )
    .await
}

/// Round is what one pass of the clients over a set of pre-signed bodies gave.
struct Round {
    /// Latency of each acknowledged append.
    latencies: Vec<Duration>,
    /// The receipts, as received.
    receipts: Vec<Vec<u8>>,
    /// Failed requests.
    errors: u64,
    /// Length of the pass.
    seconds: f64,
}

/// drive posts `bodies` from `concurrency` clients until they run out or `duration` (if
/// any) passes.
async fn drive(
    client: &Client,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    duration: Option<Duration>,
) -> Result<Round, BenchError> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (bodies, next, client) = (bodies.clone(), next.clone(), client.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut receipts = Vec::new();
            let mut errors = 0u64;
            while deadline.is_none_or(|d| Instant::now() < d) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                match client.post_raw("/v1/entries", body.clone()).await {
                    Ok(bytes) => {
                        latencies.push(sent.elapsed());
                        receipts.push(bytes);
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, receipts, errors)
        });
    }
    let mut round = Round {
        latencies: Vec::new(),
        receipts: Vec::new(),
        errors: 0,
        seconds: 0.0,
    };
    while let Some(done) = tasks.join_next().await {
        let (l, r, e) = done.map_err(|e| BenchError::Setup(format!("client task failed: {e}")))?;
        round.latencies.extend(l);
        round.receipts.extend(r);
        round.errors += e;
    }
    round.seconds = started.elapsed().as_secs_f64();
    Ok(round)
}

/// report reads the log's size and puts a run's numbers together.
async fn report(
    client: &Client,
    log_key: &VerifierKey,
    sorted_latencies: &[Duration],
    errors: u64,
    concurrency: usize,
    seconds: f64,
    receipts_verified: u64,
) -> Result<Report, BenchError> {
    let note = client
        .get("/checkpoint")
        .await
        .map_err(|e: ClientError| BenchError::Setup(e.to_string()))?;
    let tree_size = huella_core::checkpoint::open(&note, log_key)
        .map_err(|e| BenchError::Setup(format!("checkpoint: {e}")))?
        .0
        .size;
    Ok(Report {
        appends_per_sec: sorted_latencies.len() as f64 / seconds,
        latency_ms: Latency::of_sorted(sorted_latencies),
        appended: sorted_latencies.len() as u64,
        errors,
        concurrency,
        seconds,
        receipts_verified,
        tree_size,
        machine: None,
    })
}

/// verify_receipts checks every receipt fully (checkpoint signature, inclusion, leaf) on
/// every core.
fn verify_receipts(receipts: &[Vec<u8>], log_key: &VerifierKey) -> Result<u64, BenchError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = receipts.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = receipts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for bytes in part {
                        let receipt: Receipt =
                            serde_json::from_slice(bytes).map_err(|e| BenchError::Receipt {
                                index: u64::MAX,
                                why: format!("receipt does not parse: {e}"),
                            })?;
                        let fail = |why: String| BenchError::Receipt {
                            index: receipt.index,
                            why,
                        };
                        let proof = TlogProof::parse(receipt.tlog_proof.as_bytes())
                            .map_err(|e| fail(e.to_string()))?;
                        let (entry, _) = proof
                            .verify_receipt(log_key)
                            .map_err(|e| fail(e.to_string()))?;
                        if entry.index().get() != receipt.index
                            || entry.leaf_hash() != receipt.leaf_hash
                        {
                            return Err(fail("receipt fields disagree with its proof".into()));
                        }
                    }
                    Ok(part.len() as u64)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            // Invariant: the closures return errors rather than panic.
            total += h.join().expect("receipt checking panicked")?;
        }
        Ok(total)
    })
}

/// render formats a report for people.
pub fn render(r: &Report) -> String {
    format!(
        "appended {} entries in {:.1} s with {} clients: {:.0} appends/s; latency ms p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}; {} errors; {} receipts verified; tree size {}\n",
        r.appended,
        r.seconds,
        r.concurrency,
        r.appends_per_sec,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.errors,
        r.receipts_verified,
        r.tree_size
    )
}

/// Request is one proof request of a run.
enum ProofRequest {
    /// An inclusion proof of this index.
    Inclusion(u64),
    /// A consistency proof from this size.
    Consistency(u64),
}

/// run_proofs asks the log at `client` for inclusion and consistency proofs (alternately,
/// random indexes and sizes) against its newest checkpoint, from `concurrency` clients for
/// `duration`, verifies every inclusion proof, and reports throughput and latency.
pub async fn run_proofs(
    client: &Client,
    log_key: &VerifierKey,
    seed: u64,
    concurrency: usize,
    duration: Duration,
) -> Result<ProofReport, BenchError> {
    let setup = |e: ClientError| BenchError::Setup(e.to_string());
    let note = client.get("/checkpoint").await.map_err(setup)?;
    let (checkpoint, _) = huella_core::checkpoint::open(&note, log_key)
        .map_err(|e| BenchError::Setup(format!("checkpoint: {e}")))?;
    if checkpoint.size < 2 {
        return Err(BenchError::Setup("the log needs at least 2 entries".into()));
    }
    let (size, root) = (checkpoint.size, checkpoint.root);
    let before = client.get("/metrics").await.map_err(setup)?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..concurrency.max(1) {
        let client = client.clone();
        let mut state = seed ^ (c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        tasks.spawn(async move {
            let (mut latencies, mut counts, mut errors) = (Vec::new(), [0u64; 2], 0u64);
            while Instant::now() < deadline {
                // xorshift64: cheap, and good enough to spread requests over the tree.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // The low bit picks the kind; the rest picks the index or size.
                let pick = state >> 1;
                let request = if state & 1 == 0 {
                    ProofRequest::Inclusion(pick % size)
                } else {
                    ProofRequest::Consistency(1 + pick % (size - 1))
                };
                let path = match request {
                    ProofRequest::Inclusion(i) => {
                        format!("/v1/proofs/inclusion?index={i}&tree_size={size}")
                    }
                    ProofRequest::Consistency(m) => {
                        format!("/v1/proofs/consistency?from={m}&to={size}")
                    }
                };
                let sent = Instant::now();
                let answer = client.get(&path).await;
                let elapsed = sent.elapsed();
                let checked = answer.ok().and_then(|body| match request {
                    ProofRequest::Inclusion(i) => check_inclusion(&body, i, size, &root),
                    ProofRequest::Consistency(_) => {
                        serde_json::from_slice::<ProofBody>(&body).ok().map(|_| ())
                    }
                });
                match checked {
                    Some(()) => {
                        latencies.push(elapsed);
                        counts[matches!(request, ProofRequest::Consistency(_)) as usize] += 1;
                    }
                    None => errors += 1,
                }
            }
            (latencies, counts, errors)
        });
    }
    let (mut latencies, mut counts, mut errors) = (Vec::new(), [0u64; 2], 0u64);
    while let Some(done) = tasks.join_next().await {
        let (l, c, e) = done.map_err(|e| BenchError::Setup(format!("client task failed: {e}")))?;
        latencies.extend(l);
        counts[0] += c[0];
        counts[1] += c[1];
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = client.get("/metrics").await.map_err(setup)?;
    latencies.sort_unstable();
    let buckets = histogram_delta(&before, &after, "huella_proof_seconds_bucket");
    Ok(ProofReport {
        proofs_per_sec: latencies.len() as f64 / seconds,
        latency_ms: Latency::of_sorted(&latencies),
        server_ms: ServerLatency {
            p50: bucket_percentile(&buckets, 50.0) * 1000.0,
            p99: bucket_percentile(&buckets, 99.0) * 1000.0,
        },
        inclusion: counts[0],
        consistency: counts[1],
        errors,
        concurrency,
        seconds,
        tree_size: size,
    })
}

/// The JSON of a proof answer, as far as the bench reads it.
#[derive(serde::Deserialize)]
struct ProofBody {
    proof: Vec<huella_core::merkle::Hash>,
    #[serde(default)]
    leaf_hash: Option<huella_core::merkle::Hash>,
}

/// check_inclusion verifies an inclusion proof answer against the signed root.
fn check_inclusion(
    body: &[u8],
    index: u64,
    size: u64,
    root: &huella_core::merkle::Hash,
) -> Option<()> {
    let answer: ProofBody = serde_json::from_slice(body).ok()?;
    huella_core::merkle::verify_inclusion(index, size, &answer.leaf_hash?, &answer.proof, root).ok()
}

/// histogram_delta reads a Prometheus histogram's cumulative buckets `(le, count)` from two
/// scrapes and returns what was observed between them.
fn histogram_delta(before: &[u8], after: &[u8], name: &str) -> Vec<(f64, f64)> {
    let read = |text: &[u8]| -> Vec<(f64, f64)> {
        String::from_utf8_lossy(text)
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix("{le=\"")?;
                let (le, count) = rest.split_once("\"} ")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, count.trim().parse().ok()?))
            })
            .collect()
    };
    let (b, a) = (read(before), read(after));
    a.iter()
        .map(|&(le, n)| {
            let earlier = b.iter().find(|(l, _)| *l == le).map_or(0.0, |(_, c)| *c);
            (le, n - earlier)
        })
        .collect()
}

/// bucket_percentile is the upper bound of the bucket holding percentile `p` of cumulative
/// `buckets`, or 0 if nothing was observed.
fn bucket_percentile(buckets: &[(f64, f64)], p: f64) -> f64 {
    let Some(&(_, total)) = buckets.last() else {
        return 0.0;
    };
    if total <= 0.0 {
        return 0.0;
    }
    buckets
        .iter()
        .find(|(_, count)| *count >= total * p / 100.0)
        .map_or(0.0, |(le, _)| *le)
}

/// render_proofs is the text form of a proof report.
pub fn render_proofs(r: &ProofReport) -> String {
    format!(
        "proofs:  {:.0} requests/s over {:.1} s with {} clients ({} inclusion, all verified; \
         {} consistency), tree size {}\n\
         latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (client side)\n\
         server:  p50 <= {:.3} ms, p99 <= {:.3} ms (time to build a proof)\n\
         errors:  {}\n",
        r.proofs_per_sec,
        r.seconds,
        r.concurrency,
        r.inclusion,
        r.consistency,
        r.tree_size,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.server_ms.p50,
        r.server_ms.p99,
        r.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_delta_and_percentiles_read_prometheus_buckets() {
        let before = b"huella_proof_seconds_bucket{le=\"0.001\"} 10\n\
                       huella_proof_seconds_bucket{le=\"0.002\"} 10\n\
                       huella_proof_seconds_bucket{le=\"+Inf\"} 10\n";
        let after = b"huella_proof_seconds_bucket{le=\"0.001\"} 70\n\
                      huella_proof_seconds_bucket{le=\"0.002\"} 109\n\
                      huella_proof_seconds_bucket{le=\"+Inf\"} 110\n";
        let delta = histogram_delta(before, after, "huella_proof_seconds_bucket");
        assert_eq!(
            delta,
            vec![(0.001, 60.0), (0.002, 99.0), (f64::INFINITY, 100.0)]
        );
        assert_eq!(bucket_percentile(&delta, 50.0), 0.001);
        assert_eq!(bucket_percentile(&delta, 99.0), 0.002);
        assert_eq!(bucket_percentile(&delta, 100.0), f64::INFINITY);
        assert_eq!(bucket_percentile(&[], 50.0), 0.0);
    }
}
