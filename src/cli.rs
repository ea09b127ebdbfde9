//! The `huella` command line: `keygen`, `serve`, `submit` and `demo`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::admission::Window;
use crate::client::Client;
use crate::event::PlainEvent;
use crate::http::{self, Limits};
use crate::keyfile;
use crate::keys::{KeyName, SignerKey};
use crate::registry::Registry;
use crate::sequencer::{Ledger, Options, SystemClock};
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huella: {e}");
            ExitCode::from(2)
        }
    }
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
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
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
    let store = SledStore::open(&data.join("db"))?;
    let options = Options {
        max_batch: args.max_batch.max(1),
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        window: Window {
            max_age_millis: args.max_age.saturating_mul(1000),
            max_future_millis: args.max_future.saturating_mul(1000),
        },
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
    let app = http::router(ledger.clone(), limits(&args.log));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    ledger.close();
    Ok(())
}

fn limits(args: &LogArgs) -> Limits {
    Limits {
        max_body: args.max_body,
        ..Limits::default()
    }
}

async fn submit(args: SubmitArgs) -> CliResult {
    let key: SignerKey = keyfile::read_signer(&args.key)?;
    let bytes = std::fs::read(&args.event).map_err(|e| format!("{}: {e}", args.event.display()))?;
    let plain: PlainEvent =
        crate::canonical::parse(&bytes).map_err(|e| format!("{}: {e}", args.event.display()))?;
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
    let app = http::router(ledger.clone(), limits(&args.log));
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
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
