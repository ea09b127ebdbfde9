//! `huella demo`: run the ledger with demo agencies and demo events.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use huella_core::event::PlainEvent;
use huella_core::values::Timestamp;
use huella_verify::client::Client;

use crate::cli::CliResult;
use crate::cli::log::{LogArgs, http_limits, open_log, shutdown_signal};
use crate::http;
use crate::keyfile;

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

/// run starts the demo log, submits the demo events and serves until Ctrl-C.
pub async fn run(args: DemoArgs) -> CliResult {
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
    let limits = http_limits(&args.log)?;
    let app = http::router(ledger.clone(), limits);
    let server = tokio::spawn(http::serve(
        listener,
        app,
        limits,
        ledger.metrics().clone(),
        shutdown_signal(),
    ));
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
    println!("    curl {base}/readyz");
    // The verifier, which builds without the server (cargo install --path crates/huella-verify).
    println!(
        "    huella-verify verify --url {base} --log-key {} --registry {}",
        args.data.join("log.key.pub").display(),
        args.data.join("registry.json").display()
    );
    println!(
        "  demo agency keys: {}",
        args.data.join("agencies").display()
    );
    println!("Serving until Ctrl-C.");
    server.await??;
    ledger.close();
    Ok(())
}
