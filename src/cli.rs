//! The `huella` command line: `keygen`, `serve`, `submit`, `demo`, `verify`, `monitor`,
//! `export` and `receipt verify`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::admission::Window;
use crate::audit::{self, AuditError, Source};
use crate::client::Client;
use crate::event::PlainEvent;
use crate::http::{self, Limits};
use crate::keyfile;
use crate::keys::{KeyName, SignerKey, VerifierKey};
use crate::proof::TlogProof;
use crate::registry::Registry;
use crate::sequencer::{Ledger, Options, RateLimit, SystemClock};
use crate::store::SledStore;
use crate::text::Timestamp;

/// Huella: a tamper-evident audit ledger for cross-border access to personal data.
#[derive(Parser, Debug)]
#[command(name = "huella", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a new signer key (mode 0600) and print its verifier key.
    Keygen(KeygenArgs),
    /// Run the ledger service.
    Serve(ServeArgs),
    /// Seal an access event (commit to personal values, sign) and submit it.
    Submit(SubmitArgs),
    /// Run the ledger with demo agencies and demo events: start here.
    Demo(DemoArgs),
    /// Verify a whole log, from its API or an exported bundle (exit 0 verified, 1 failed,
    /// 2 usage or I/O error).
    Verify(VerifyArgs),
    /// Check a log incrementally, round after round, and alert on rollbacks, forks, bad
    /// signatures, broken chains and outages.
    Monitor(MonitorArgs),
    /// Export a self-contained bundle of a log for offline verification.
    Export(ExportArgs),
    /// Receipts (C2SP tlog-proofs).
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Load-test a running `huella demo` with pre-signed events and report throughput and
    /// latency; or fill it with --fill N entries.
    Bench(BenchArgs),
    /// Measure this machine's limits in a few seconds: fsyncs per second, SHA-256 MB/s, and
    /// Ed25519 verifications per second on one core and in batches on every core.
    Limits(LimitsArgs),
}

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
    #[arg(long, value_name = "N", default_value_t = crate::bench::FILL_ROUND, value_parser = clap::value_parser!(u64).range(1..))]
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
}

/// Arguments of `huella verify`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["url", "bundle"])))]
pub struct VerifyArgs {
    /// Base URL of the log to verify.
    #[arg(long)]
    pub url: Option<String>,
    /// An exported bundle directory to verify offline.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The log's verifier key (or a file holding it), from a source you trust (never only
    /// from the log itself).
    #[arg(long)]
    pub log_key: String,
    /// A submitter registry you trust; without it the log's (or bundle's) own is used.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Print a machine-readable JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `huella monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Base URL of the log to watch.
    #[arg(long)]
    pub url: String,
    /// The log's verifier key (or a file holding it), from a source you trust.
    #[arg(long)]
    pub log_key: String,
    /// File keeping the last verified checkpoint between rounds (created on first run).
    #[arg(long)]
    pub state: PathBuf,
    /// Keep watching, one round every SECONDS; without it, run one round.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
    /// A submitter registry you trust; without it the log's own is used.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `huella export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Base URL of the log.
    #[arg(long)]
    pub url: String,
    /// Directory to write the bundle to (must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The log's verifier key: if given, the checkpoint is verified before exporting.
    #[arg(long)]
    pub log_key: Option<String>,
}

/// `huella receipt` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Verify a receipt offline; with --url, also that its entry is still in the log.
    Verify(ReceiptVerifyArgs),
}

/// Arguments of `huella receipt verify`.
#[derive(Args, Debug)]
pub struct ReceiptVerifyArgs {
    /// The receipt: a tlog-proof file, or the JSON receipt `huella submit` saves.
    pub file: PathBuf,
    /// The log's verifier key (or a file holding it), from a source you trust.
    #[arg(long)]
    pub log_key: String,
    /// Also check, by a consistency proof, that the entry is still in the log at URL.
    #[arg(long)]
    pub url: Option<String>,
    /// A submitter registry you trust, to check the agency's signature too.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `huella keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Key name, e.g. `cbp.dhs.gov/huella` (no spaces or '+').
    #[arg(long)]
    pub name: String,
    /// File to write the signer key to; `<FILE>.pub` gets the verifier key.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options shared by `serve` and `demo`.
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The log's origin (its key name), used when the log key is first created.
    #[arg(long)]
    pub origin: Option<String>,
    /// Memory for sled's page cache, in MiB: entries, openings and request ids. More serves
    /// reads of a large log faster, at the cost of resident memory; proofs read the tree
    /// hashes from their own file (see docs/benchmarks.md).
    #[arg(long, value_name = "MIB", default_value_t = crate::store::SLED_CACHE_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub cache_mb: u64,
    /// How old an access may be when submitted, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub max_age: u64,
    /// How far in the future an access time may be, in seconds (clock skew).
    #[arg(long, default_value_t = 300)]
    pub max_future: u64,
    /// Most entries per batch (group commit).
    #[arg(long, default_value_t = 1024)]
    pub max_batch: usize,
    /// How long a batch waits for more entries, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub batch_wait_ms: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// Sustained submissions per second allowed to each agency (0: no limit); over it,
    /// 429 with Retry-After.
    #[arg(long, default_value_t = 10_000)]
    pub rate_limit: u32,
    /// Submissions an agency may send at once before its rate limit applies.
    /// (The default is a quarter of the pool, so one agency alone cannot fill it.)
    #[arg(long, default_value_t = 4_096)]
    pub rate_burst: u32,
    /// Longest a request may take, in seconds, body upload included (408 after it; at most
    /// a day).
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed (at most a day).
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
}

/// Arguments of `huella serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Data directory: the database and the log's key.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Directory holding the submitter registry, `registry.json`.
    #[arg(long, default_value = "keys")]
    pub keys: PathBuf,
    /// Service options.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Arguments of `huella submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Base URL of the ledger.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The agency's signer key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The event, as JSON with personal values in clear (see docs/api.md).
    #[arg(long)]
    pub event: PathBuf,
    /// Save the receipt here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Retries of the same sealed event after a network error or a 503 (a retry of the same
    /// signed event is idempotent: it gets the original receipt).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
}

/// Arguments of `huella demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data directory for the demo log and the demo agencies' keys.
    #[arg(long, default_value = "demo-data")]
    pub data: PathBuf,
    /// How many demo events to submit.
    #[arg(long, default_value_t = 200)]
    pub events: u64,
    /// Service options.
    #[command(flatten)]
    pub log: LogArgs,
}

/// DEFAULT_ORIGIN names a log whose key is created without `--origin`.
pub const DEFAULT_ORIGIN: &str = "huella.localhost/log";

/// main parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Serve(args) => runtime().and_then(|rt| rt.block_on(serve(args))),
        Command::Submit(args) => runtime().and_then(|rt| rt.block_on(submit(args))),
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(demo(args))),
        Command::Verify(args) => runtime().and_then(|rt| rt.block_on(verify(args))),
        Command::Monitor(args) => runtime().and_then(|rt| rt.block_on(monitor(args))),
        Command::Export(args) => runtime().and_then(|rt| rt.block_on(export(args))),
        Command::Receipt(ReceiptCommand::Verify(args)) => {
            runtime().and_then(|rt| rt.block_on(receipt_verify(args)))
        }
        Command::Bench(args) => runtime().and_then(|rt| rt.block_on(bench(args))),
        Command::Limits(args) => limits_probe(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huella: {e}");
            // 1 when something failed verification, 2 for usage and I/O errors.
            let code = match e.downcast_ref::<AuditError>() {
                Some(a) => a.exit_code(),
                None if e.downcast_ref::<Alerted>().is_some() => 1,
                None => 2,
            };
            ExitCode::from(code)
        }
    }
}

/// Alerted ends a monitor run that raised an alert (already printed).
#[derive(Debug, thiserror::Error)]
#[error("the monitor raised an alert; the state file was not advanced")]
struct Alerted;

/// parse_log_key reads `--log-key`: the verifier key itself, or a file that holds it (such
/// as a log's `log.key.pub`).
fn parse_log_key(text: &str) -> Result<VerifierKey, AuditError> {
    let path = Path::new(text);
    let key = if path.is_file() {
        std::fs::read_to_string(path)
            .map_err(|e| AuditError::Io(format!("--log-key {text}: {e}")))?
    } else {
        text.to_string()
    };
    VerifierKey::parse(key.trim()).map_err(|e| AuditError::Io(format!("--log-key: {e}")))
}

fn trusted_registry(path: &Option<PathBuf>) -> Result<Option<Registry>, AuditError> {
    path.as_deref()
        .map(|p| {
            let bytes =
                std::fs::read(p).map_err(|e| AuditError::Io(format!("{}: {e}", p.display())))?;
            Registry::parse(&bytes).map_err(|e| AuditError::Io(format!("{}: {e}", p.display())))
        })
        .transpose()
}

async fn verify(args: VerifyArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let registry = trusted_registry(&args.registry)?;
    let source = match (&args.url, &args.bundle) {
        (Some(url), _) => Source::Http(Client::new(url)),
        (None, Some(dir)) => Source::Bundle(dir.clone()),
        (None, None) => return Err(AuditError::Io("give --url or --bundle".into()).into()),
    };
    match audit::verify_log(&source, &log_key, registry, args.json).await {
        Ok(verified) => {
            if args.json {
                let mut report = serde_json::to_value(&verified)?;
                report["verified"] = serde_json::Value::Bool(true);
                println!("{report}");
            } else {
                print!("{}", audit::render(&verified));
            }
            Ok(())
        }
        Err(e) => {
            if args.json {
                let mut report = serde_json::json!({"verified": false, "error": e.to_string()});
                if let AuditError::Entry(crate::verify::VerifyError::Entry {
                    index, failure, ..
                }) = &e
                {
                    report["index"] = (*index).into();
                    report["failure"] = serde_json::to_value(failure)?;
                }
                println!("{report}");
            }
            Err(e.into())
        }
    }
}

fn report_alert(json: bool, url: &str, a: &audit::Alert) {
    if json {
        let line = serde_json::json!({"alert": a.alert, "message": a.message, "url": url});
        eprintln!("{line}");
    } else {
        let kind = serde_json::to_value(a.alert)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        eprintln!("ALERT {}: {} ({url})", kind.unwrap_or_default(), a.message);
    }
}

async fn monitor(args: MonitorArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let client = Client::new(&args.url);
    let registry = match trusted_registry(&args.registry)? {
        Some(r) => r,
        None => {
            eprintln!(
                "warning: using the submitter registry the log serves, which trusts its operator; \
                 pass --registry FILE with a registry from a source you trust"
            );
            Source::Http(client.clone()).registry().await?
        }
    };
    let mut state = audit::MonitorState::load(&args.state)?;
    loop {
        match audit::monitor_round(&client, &log_key, &registry, state.as_ref()).await {
            Ok((next, new_entries)) => {
                if state.as_ref() != Some(&next) {
                    next.save(&args.state)?;
                }
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"status": "ok", "tree_size": next.size, "root": next.root, "new_entries": new_entries})
                    );
                } else {
                    eprintln!(
                        "ok: {} verified at size {} (+{new_entries} entries), root {}",
                        args.url, next.size, next.root
                    );
                }
                state = Some(next);
            }
            Err(a) => {
                report_alert(args.json, &args.url, &a);
                // An outage may pass: keep watching. Anything else is evidence to keep.
                if args.watch.is_none() || a.alert != audit::AlertKind::Unreachable {
                    return Err(Alerted.into());
                }
            }
        }
        match args.watch {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds.max(1))).await,
            None => return Ok(()),
        }
    }
}

async fn export(args: ExportArgs) -> CliResult {
    let log_key = args.log_key.as_deref().map(parse_log_key).transpose()?;
    let client = Client::new(&args.url);
    let manifest = audit::export(&client, &args.out, log_key.as_ref(), false).await?;
    eprintln!(
        "exported {} entries of log {} (root {}) to {}",
        manifest.tree_size,
        manifest.origin,
        manifest.root,
        args.out.display()
    );
    if log_key.is_none() {
        eprintln!(
            "note: the checkpoint was not verified (no --log-key); huella verify --bundle will verify it"
        );
    }
    Ok(())
}

async fn receipt_verify(args: ReceiptVerifyArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let registry = trusted_registry(&args.registry)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| AuditError::Io(format!("{}: {e}", args.file.display())))?;
    // Accept the JSON receipt `huella submit` saves as well as a bare tlog-proof.
    let text = match serde_json::from_slice::<crate::proof::Receipt>(&bytes) {
        Ok(receipt) => receipt.tlog_proof.into_bytes(),
        Err(_) => bytes,
    };
    let proof = TlogProof::parse(&text).map_err(|e| AuditError::Failed(e.to_string()))?;
    let (entry, checkpoint) = proof
        .verify_receipt(&log_key)
        .map_err(|e| AuditError::Failed(e.to_string()))?;
    entry
        .event
        .check()
        .map_err(|e| AuditError::Failed(format!("entry {}: {e}", entry.index.get())))?;
    if let Some(registry) = &registry {
        crate::admission::check_signed_event(&entry.signed_event(), registry)
            .map_err(|e| AuditError::Failed(format!("entry {}: {e}", entry.index.get())))?;
    }
    let latest = match &args.url {
        Some(url) => {
            Some(audit::check_still_logged(&Client::new(url), &log_key, &checkpoint).await?)
        }
        None => None,
    };
    let e = &entry.event;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "verified": true,
                "index": entry.index.get(),
                "leaf_hash": entry.leaf_hash(),
                "checkpoint_size": checkpoint.size,
                "agency_signature_checked": registry.is_some(),
                "still_in_log_at_size": latest.as_ref().map(|c| c.size),
                "entry": entry,
            })
        );
    } else {
        println!(
            "VERIFIED: entry {} is in log {} at tree size {} (signed checkpoint, inclusion proof).",
            entry.index.get(),
            checkpoint.origin,
            checkpoint.size
        );
        println!(
            "  {} ({}) accessed {} data held by {} ({}) at {} for {} ({}); outcome {}, {} records",
            e.requesting_agency,
            e.requesting_country,
            e.category.as_str(),
            e.holder_agency,
            e.holder_country,
            e.accessed_at,
            e.purpose,
            e.legal_basis,
            e.outcome.as_str(),
            e.records_returned.get()
        );
        println!(
            "  logged at {}; leaf hash {}",
            entry.integrated_at,
            entry.leaf_hash()
        );
        match &registry {
            Some(_) => println!("  agency signature: verified against --registry"),
            None => println!("  agency signature: not checked (give --registry to check it)"),
        }
        if let Some(latest) = latest {
            println!(
                "  still in the log: its tree is a prefix of the current one (size {}), by consistency proof",
                latest.size
            );
        }
    }
    Ok(())
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn std::error::Error>> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn keygen(args: KeygenArgs) -> CliResult {
    let key = keyfile::generate(KeyName::new(args.name)?)?;
    keyfile::write_signer(&args.out, &key)?;
    eprintln!(
        "wrote signer key to {} (mode 0600) and verifier key to {}",
        args.out.display(),
        keyfile::public_path(&args.out).display()
    );
    println!("{}", key.verifier());
    Ok(())
}

/// open_log loads or creates the log key in `data` and opens the ledger over sled there.
fn open_log(
    data: &Path,
    registry: Registry,
    args: &LogArgs,
) -> Result<Arc<Ledger>, Box<dyn std::error::Error>> {
    // Owner only, even if it already existed: the database holds the openings (personal
    // data) and the directory the log key.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .map_err(|e| format!("{}: {e}", data.display()))?;
    // A directory someone else owns (a volume the service writes through its group) cannot
    // be changed; say so rather than refuse to start.
    if let Err(e) = std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)) {
        eprintln!(
            "warning: could not make {} owner-only ({e}); it holds personal data (the openings)",
            data.display()
        );
    }
    let origin = KeyName::new(args.origin.as_deref().unwrap_or(DEFAULT_ORIGIN))?;
    let key_path = data.join("log.key");
    let (log_key, created) = keyfile::load_or_create(&key_path, &origin)?;
    if let Some(wanted) = &args.origin
        && log_key.name().as_str() != wanted
    {
        return Err(format!(
            "{} holds the key of log {:?}, not --origin {wanted:?}",
            key_path.display(),
            log_key.name().as_str()
        )
        .into());
    }
    if created {
        eprintln!("created the log key in {} (mode 0600)", key_path.display());
    }
    let store = SledStore::open_with_cache(&data.join("db"), args.cache_mb << 20)?;
    let options = Options {
        max_batch: args.max_batch.max(1),
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        checkpoint_copy: Some(data.join("checkpoint")),
        window: Window {
            max_age_millis: args.max_age.saturating_mul(1000),
            max_future_millis: args.max_future.saturating_mul(1000),
        },
        rate_limit: NonZeroU32::new(args.rate_limit).map(|per_second| RateLimit {
            per_second,
            burst: NonZeroU32::new(args.rate_burst).unwrap_or(per_second),
        }),
        ..Options::default()
    };
    let ledger = Ledger::open(
        Arc::new(store),
        log_key,
        registry,
        Arc::new(SystemClock),
        options,
    )?;
    Ok(Arc::new(ledger))
}

fn read_registry(path: &Path) -> Result<Registry, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e} (see keys/README.md for the registry format)",
            path.display()
        )
    })?;
    Ok(Registry::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?)
}

async fn shutdown_signal() {
    // If the signal handler cannot be installed, serve until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn serve(args: ServeArgs) -> CliResult {
    let registry = read_registry(&args.keys.join("registry.json"))?;
    let ledger = open_log(&args.data, registry, &args.log)?;
    let listener = tokio::net::TcpListener::bind(args.log.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.log.listen))?;
    let published = ledger.published();
    eprintln!(
        "huella: log {} serving on http://{} with {} entries and {} registered submitters",
        ledger.log_key().name(),
        listener.local_addr()?,
        published.size,
        ledger.registry().submitters.len()
    );
    println!("{}", ledger.log_key());
    let limits = limits(&args.log);
    http::serve(
        listener,
        http::router(ledger.clone(), limits),
        limits,
        shutdown_signal(),
    )
    .await?;
    ledger.close();
    Ok(())
}

fn limits(args: &LogArgs) -> Limits {
    Limits {
        max_body: args.max_body,
        // Bounded to a day: hyper adds the idle timeout to the clock, which must not overflow.
        request_timeout: Duration::from_secs(args.request_timeout.clamp(1, 86_400)),
        idle_timeout: Duration::from_secs(args.idle_timeout.clamp(1, 86_400)),
        ..Limits::default()
    }
}

async fn submit(args: SubmitArgs) -> CliResult {
    let key: SignerKey = keyfile::read_signer(&args.key)?;
    let bytes = std::fs::read(&args.event).map_err(|e| format!("{}: {e}", args.event.display()))?;
    let plain: PlainEvent = crate::canonical::parse_without_arrays(&bytes)
        .map_err(|e| format!("{}: {e}", args.event.display()))?;
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let submission = plain.seal(&key, now, keyfile::random_salt)?;
    let client = Client::new(&args.url);
    let submitted = submit_with_retries(&client, &submission, args.retries).await?;
    let receipt = serde_json::to_string_pretty(&submitted.receipt)?;
    let verb = if submitted.created {
        "logged"
    } else {
        "already logged"
    };
    eprintln!("{verb} at index {}", submitted.receipt.index);
    match args.out {
        Some(path) => {
            std::fs::write(&path, format!("{receipt}\n"))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("receipt saved to {}", path.display());
        }
        None => println!("{receipt}"),
    }
    Ok(())
}

/// submit_with_retries sends one sealed event, retrying the very same bytes with backoff
/// when the log is unreachable or busy; re-sealing would pick new salts and conflict.
async fn submit_with_retries(
    client: &Client,
    submission: &crate::event::Submission,
    retries: u32,
) -> Result<crate::client::Submitted, crate::client::ClientError> {
    let mut delay = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        match client.submit(submission).await {
            Err(e) if attempt < retries && e.is_retryable() => {
                eprintln!("{e}; retrying in {} ms", delay.as_millis());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn demo(args: DemoArgs) -> CliResult {
    let (agencies, registry) = crate::demo::load_or_create_agencies(&args.data.join("agencies"))?;
    std::fs::create_dir_all(&args.data)?;
    std::fs::write(args.data.join("registry.json"), registry.to_json())?;
    let ledger = open_log(&args.data, registry, &args.log)?;
    let listener = tokio::net::TcpListener::bind(args.log.listen)
        .await
        .map_err(|e| {
            format!(
                "listening on {}: {e} (try --listen 127.0.0.1:0)",
                args.log.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let limits = limits(&args.log);
    let app = http::router(ledger.clone(), limits);
    let server = tokio::spawn(http::serve(listener, app, limits, shutdown_signal()));
    let base = format!("http://{addr}");
    let before = ledger.published().size;
    eprintln!(
        "huella demo: log {} on {base}; submitting {} events...",
        ledger.log_key().name(),
        args.events
    );
    let agencies = Arc::new(agencies);
    let client = Client::new(&base);
    let seed = u64::from_le_bytes(keyfile::random_bytes()?[..8].try_into()?);
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 8u64;
    for worker in 0..workers {
        let (agencies, client) = (agencies.clone(), client.clone());
        let events = args.events;
        tasks.spawn(async move {
            let mut directions = [0u64; 2];
            let mut n = worker;
            while n < events {
                let now = Timestamp::from_system_time(std::time::SystemTime::now());
                let (from, json) = crate::demo::sample_event(&agencies, seed, n, &now);
                let plain: PlainEvent = serde_json::from_value(json).map_err(|e| e.to_string())?;
                let submission = plain
                    .seal(&agencies[from].key, now, keyfile::random_salt)
                    .map_err(|e| e.to_string())?;
                client
                    .submit(&submission)
                    .await
                    .map_err(|e| e.to_string())?;
                directions[usize::from(agencies[from].country.as_str() == "CO")] += 1;
                n += workers;
            }
            Ok::<_, String>(directions)
        });
    }
    let mut directions = [0u64; 2];
    while let Some(done) = tasks.join_next().await {
        let counts = done??;
        directions[0] += counts[0];
        directions[1] += counts[1];
    }
    let elapsed = started.elapsed();
    let published = ledger.published();
    println!();
    println!("Huella demo log is running.");
    println!(
        "  submitted {} events in {:.2} s through the HTTP API: {} US -> CO, {} CO -> US",
        args.events,
        elapsed.as_secs_f64(),
        directions[0],
        directions[1]
    );
    println!(
        "  tree size {} (was {before}); latest checkpoint:",
        published.size
    );
    for line in published.note.lines() {
        println!("    {line}");
    }
    println!("  log verifier key (keep it to verify the log):");
    println!("    {}", ledger.log_key());
    println!("  try:");
    println!("    curl {base}/checkpoint");
    println!("    curl {base}/v1/entries/0");
    println!("    curl '{base}/v1/entries?start=0&limit=5'");
    println!(
        "    curl '{base}/v1/proofs/inclusion?index=0&tree_size={}'",
        published.size
    );
    println!(
        "    curl '{base}/v1/proofs/consistency?from=1&to={}'",
        published.size
    );
    println!("    curl {base}/v1/receipts/0");
    println!("    curl {base}/v1/keys");
    println!(
        "  demo agency keys: {}",
        args.data.join("agencies").display()
    );
    println!("Serving until Ctrl-C.");
    server.await??;
    ledger.close();
    Ok(())
}

async fn bench(args: BenchArgs) -> CliResult {
    let log_key = parse_log_key(&args.data.join("log.key.pub").display().to_string())?;
    let client = Client::new(&args.url);
    let seed = u64::from_le_bytes(keyfile::random_bytes()?[..8].try_into()?);
    if args.proofs {
        let duration = Duration::from_secs(args.duration);
        let report =
            crate::bench::run_proofs(&client, &log_key, seed, args.concurrency, duration).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", crate::bench::render_proofs(&report));
        }
        if report.errors > 0 {
            return Err(format!("{} proof requests failed", report.errors).into());
        }
        return Ok(());
    }
    let agencies = crate::bench::load_agencies(&args.data)?;
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
        crate::bench::fill(
            &client,
            &log_key,
            &agencies,
            crate::bench::FillPlan {
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
        let bodies =
            tokio::task::block_in_place(|| crate::bench::presign(&agencies, seed, 0, count, &now));
        eprintln!(
            "pre-signed {count} events in {:.1} s; driving {} with {} clients...",
            started.elapsed().as_secs_f64(),
            args.url,
            args.concurrency
        );
        let duration = Duration::from_secs(args.duration);
        crate::bench::run(&client, &log_key, bodies, args.concurrency, duration).await?
    };
    if args.limits {
        let dir = args.data.clone();
        report.machine = Some(tokio::task::block_in_place(|| {
            crate::limits::measure(&dir, Duration::from_secs(1))
        })?);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", crate::bench::render(&report));
        if let Some(machine) = &report.machine {
            print!("{}", crate::limits::render(machine));
        }
    }
    if report.errors > 0 {
        return Err(format!("{} appends failed", report.errors).into());
    }
    Ok(())
}

fn limits_probe(args: LimitsArgs) -> CliResult {
    let per_probe = Duration::try_from_secs_f64(args.seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--seconds {}: want a positive number", args.seconds))?;
    let measured = crate::limits::measure(&args.dir, per_probe)?;
    if args.json {
        println!("{}", serde_json::to_string(&measured)?);
    } else {
        print!("{}", crate::limits::render(&measured));
    }
    Ok(())
}
