//! `huella-verify export`: write a self-contained bundle of a log for offline verification.

use std::path::PathBuf;

use clap::Args;

use crate::bundle;
use crate::cli::{CliResult, ClientArgs, parse_log_key};

/// Arguments of `export`.
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
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `huella receipt` subcommands.
/// run exports the bundle.
pub async fn run(args: ExportArgs) -> CliResult {
    let log_key = args.log_key.as_deref().map(parse_log_key).transpose()?;
    let client = args.client.client(&args.url)?;
    let manifest = bundle::export(&client, &args.out, log_key.as_ref(), false).await?;
    eprintln!(
        "exported {} entries of log {} (root {}) to {}",
        manifest.tree_size,
        manifest.origin,
        manifest.root,
        args.out.display()
    );
    if log_key.is_none() {
        eprintln!(
            "note: the checkpoint was not verified (no --log-key); verify --bundle will verify it"
        );
    }
    Ok(())
}
