//! The machine's own limits, measured in a few seconds, so that every Huella number can be
//! read beside what the hardware allows: fsyncs per second (the ceiling of durable group
//! commits), SHA-256 throughput (leaf and node hashing), and Ed25519 verification on one core
//! and in batches on every core (admission and whole-log audits).
//!
//! An edge module: it writes a file, reads the clock and starts threads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha256};

use clap::Args;

use crate::cli::CliResult;
use crate::demo::{fixed_agencies, sealed_sample};
use huella_core::values::Timestamp;

/// Arguments of `huella limits`.
#[derive(Args, Debug)]
pub struct LimitsArgs {
    /// Directory the fsync probe writes its scratch file in: put it on the log's disk.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Seconds each of the four probes runs.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// run measures and prints the limits.
pub fn run(args: LimitsArgs) -> CliResult {
    let per_probe = Duration::try_from_secs_f64(args.seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--seconds {}: want a positive number", args.seconds))?;
    let measured = measure(&args.dir, per_probe)?;
    if args.json {
        println!("{}", serde_json::to_string(&measured)?);
    } else {
        print!("{}", render(&measured));
    }
    Ok(())
}

/// FSYNC_WRITE_BYTES is what each fsync probe round appends before syncing: one 4 KiB page,
/// as a log's group commit appends a batch and syncs it.
pub const FSYNC_WRITE_BYTES: usize = 4096;

/// SHA256_BUFFER_BYTES is the buffer the SHA-256 probe hashes, large enough that per-call
/// overhead does not count.
pub const SHA256_BUFFER_BYTES: usize = 1 << 20;

/// BATCH_SIZE is how many signatures each call of the batch probe checks. Larger batches
/// cost less per signature (`cargo bench --bench core` compares 64 and 1024), so the probe
/// fixes one size to be comparable from machine to machine.
pub const BATCH_SIZE: usize = 64;

/// MachineLimits is what [`measure`] found. Rates are per second of wall-clock time.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MachineLimits {
    /// Durable appends a single writer can do: 4 KiB append then `sync_data`, in a loop.
    pub fsyncs_per_sec: f64,
    /// Where the fsync probe wrote, since the disk decides the rate.
    pub fsync_dir: PathBuf,
    /// SHA-256 throughput on one core over 1 MiB buffers, in MB (10^6 bytes) per second.
    pub sha256_mb_per_sec: f64,
    /// Ed25519 `verify_strict` of realistic signed events on one core.
    pub verify_per_sec_one_core: f64,
    /// Ed25519 batch verification ([`BATCH_SIZE`] per batch) on `threads` threads together.
    pub batch_verify_per_sec_all_cores: f64,
    /// Threads the batch probe ran: the cores the operating system offers this process.
    pub threads: usize,
    /// How long each of the four probes ran, in seconds.
    pub seconds_per_probe: f64,
}

/// LimitsError says which probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The fsync probe's file could not be created, written or synced.
    #[error("fsync probe in {}: {source}", dir.display())]
    Io {
        /// The directory the probe wrote in.
        dir: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A signature the probe made itself did not verify: the build or the machine is broken.
    #[error("{0}: a correct signature did not verify")]
    Verify(&'static str),
}

/// measure runs each probe for `per_probe` (so four times that in all): fsyncs in `dir`,
/// SHA-256, single Ed25519 verification, and batch verification on every core. It leaves no
/// file behind in `dir`.
pub fn measure(dir: &Path, per_probe: Duration) -> Result<MachineLimits, LimitsError> {
    let fsyncs_per_sec = fsync_rate(dir, per_probe).map_err(|source| LimitsError::Io {
        dir: dir.to_path_buf(),
        source,
    })?;
    let sha256_mb_per_sec = sha256_rate(per_probe);
    let samples = Samples::new(BATCH_SIZE);
    let verify_per_sec_one_core = samples.single_rate(per_probe)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batch_verify_per_sec_all_cores = samples.batch_rate(threads, per_probe)?;
    Ok(MachineLimits {
        fsyncs_per_sec,
        fsync_dir: dir.to_path_buf(),
        sha256_mb_per_sec,
        verify_per_sec_one_core,
        batch_verify_per_sec_all_cores,
        threads,
        seconds_per_probe: per_probe.as_secs_f64(),
    })
}

/// Rate of `count` operations over `elapsed`, never dividing by zero.
fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// ProbeFile is the fsync probe's scratch file, removed when dropped (also on error).
struct ProbeFile {
    /// Where it is.
    path: PathBuf,
    /// The open file.
    file: File,
}

impl ProbeFile {
    fn create(dir: &Path) -> io::Result<ProbeFile> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(".huella-limits-{}-{nanos:09}", std::process::id()));
        // create_new: never truncate a file that happens to carry the name.
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        Ok(ProbeFile { path, file })
    }
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        // Best effort: a leftover scratch file is harmless and named as ours.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// fsync_rate appends 4 KiB and calls `sync_data` in a loop: each round is one durable group
/// commit of a log that appends to a file, the best a single writer can do on this disk.
fn fsync_rate(dir: &Path, duration: Duration) -> io::Result<f64> {
    let mut probe = ProbeFile::create(dir)?;
    let page = [0x5au8; FSYNC_WRITE_BYTES];
    let started = Instant::now();
    let mut count = 0u64;
    while count == 0 || started.elapsed() < duration {
        probe.file.write_all(&page)?;
        // sync_data also persists the new length, which an append changes: a real fsync.
        probe.file.sync_data()?;
        count += 1;
    }
    Ok(rate(count, started.elapsed()))
}

/// sha256_rate hashes a 1 MiB buffer repeatedly on this thread, in MB/s.
fn sha256_rate(duration: Duration) -> f64 {
    let buffer: Vec<u8> = (0..SHA256_BUFFER_BYTES).map(|i| i as u8).collect();
    let started = Instant::now();
    let mut count = 0u64;
    while count == 0 || started.elapsed() < duration {
        std::hint::black_box(Sha256::digest(std::hint::black_box(&buffer)));
        count += 1;
    }
    rate(count * SHA256_BUFFER_BYTES as u64, started.elapsed()) / 1e6
}

/// Samples are realistic signed events: demo events from the four demo agencies, as the log
/// receives them, reduced to what Ed25519 verification reads.
struct Samples {
    /// What each agency signed: the event's signing bytes (about 1 KB).
    messages: Vec<Vec<u8>>,
    /// The signatures.
    signatures: Vec<Signature>,
    /// The signers' public keys, one per message.
    keys: Vec<VerifyingKey>,
}

impl Samples {
    fn new(count: usize) -> Samples {
        let agencies = fixed_agencies();
        let now = Timestamp::from_unix_millis(1_795_435_200_000);
        let mut samples = Samples {
            messages: Vec::with_capacity(count),
            signatures: Vec::with_capacity(count),
            keys: Vec::with_capacity(count),
        };
        for n in 0..count as u64 {
            let submission = sealed_sample(&agencies, 1, n, &now);
            let key = agencies
                .iter()
                .find(|a| *a.key.key_ref() == submission.event.key)
                .map(|a| *a.key.verifier().public_key());
            // Invariant: sealed_sample signs with one of `agencies`.
            let key = key.expect("the signer is a demo agency");
            samples.messages.push(submission.event.signing_bytes());
            samples
                .signatures
                .push(Signature::from_bytes(&submission.signature.0));
            samples.keys.push(key);
        }
        samples
    }

    /// single_rate verifies the samples one by one with `verify_strict`, as admission does.
    fn single_rate(&self, duration: Duration) -> Result<f64, LimitsError> {
        let started = Instant::now();
        let mut count = 0u64;
        while count == 0 || started.elapsed() < duration {
            for ((message, signature), key) in
                self.messages.iter().zip(&self.signatures).zip(&self.keys)
            {
                key.verify_strict(message, signature)
                    .map_err(|_| LimitsError::Verify("single verification"))?;
            }
            count += self.messages.len() as u64;
        }
        Ok(rate(count, started.elapsed()))
    }

    /// batch_rate verifies the samples as one batch, over and over, on `threads` threads at
    /// once, and counts signatures checked by all of them together.
    fn batch_rate(&self, threads: usize, duration: Duration) -> Result<f64, LimitsError> {
        let messages: Vec<&[u8]> = self.messages.iter().map(Vec::as_slice).collect();
        let started = Instant::now();
        let deadline = started + duration;
        let counts: Vec<Result<u64, LimitsError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut count = 0u64;
                        while count == 0 || Instant::now() < deadline {
                            ed25519_dalek::verify_batch(&messages, &self.signatures, &self.keys)
                                .map_err(|_| LimitsError::Verify("batch verification"))?;
                            count += messages.len() as u64;
                        }
                        Ok(count)
                    })
                })
                .collect();
            handles
                .into_iter()
                // Invariant: the probe threads return errors rather than panic.
                .map(|h| h.join().expect("a batch probe thread panicked"))
                .collect()
        });
        let elapsed = started.elapsed();
        let mut total = 0;
        for count in counts {
            total += count?;
        }
        Ok(rate(total, elapsed))
    }
}

/// render formats the limits for people, one probe per line.
pub fn render(l: &MachineLimits) -> String {
    format!(
        "machine limits ({:.1} s per probe):\n\
         \x20 fsyncs per second (4 KiB append + sync_data in {}): {:.0} /s\n\
         \x20 SHA-256, one core, 1 MiB buffers: {:.0} MB/s\n\
         \x20 Ed25519 verify_strict, one core: {:.0} /s\n\
         \x20 Ed25519 batch verification ({BATCH_SIZE} per batch), {} threads: {:.0} /s\n",
        l.seconds_per_probe,
        l.fsync_dir.display(),
        l.fsyncs_per_sec,
        l.sha256_mb_per_sec,
        l.verify_per_sec_one_core,
        l.threads,
        l.batch_verify_per_sec_all_cores,
    )
}
