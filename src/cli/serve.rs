//! `huella serve`: run the ledger service.

use std::path::PathBuf;

use clap::Args;

use crate::cli::CliResult;
use crate::cli::log::{LogArgs, http_limits, open_log, read_registry, shutdown_signal};
use crate::http;

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

/// run serves the log until Ctrl-C.
pub async fn run(args: ServeArgs) -> CliResult {
    let registry = read_registry(&args.keys.join("registry.json"))?;
    let ledger = open_log(&args.data, registry, &args.log)?;
    let listener = tokio::net::TcpListener::bind(args.log.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.log.listen))?;
    let published = ledger.published();
    eprintln!(
        "huella: log {} serving on http://{} with {} entries, {} registered submitters and {} holders",
        ledger.log_key().name(),
        listener.local_addr()?,
        published.size,
        ledger.registry().submitters.len(),
        ledger.registry().holders.len()
    );
    println!("{}", ledger.log_key());
    let limits = http_limits(&args.log)?;
    http::serve(
        listener,
        http::router(ledger.clone(), limits),
        limits,
        ledger.metrics().clone(),
        shutdown_signal(),
    )
    .await?;
    ledger.close();
    Ok(())
}
