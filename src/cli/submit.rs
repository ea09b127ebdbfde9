//! `huella submit`: seal an access event (commit to personal values, sign) and submit it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use huella_core::event::{PlainEvent, Submission};
use huella_core::keys::SignerKey;
use huella_core::values::Timestamp;
use huella_verify::cli::{CliResult, ClientArgs};
use huella_verify::client::{Client, ClientError, Submitted};

use crate::keyfile;

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
    /// Save the receipt here instead of printing it, and the event's openings (its personal
    /// values and salts) beside it, owner-only, in `FILE.openings.json`: the agency's own
    /// proof of what it logged, whatever the operator later does with its copy.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Retries of the same sealed event after a network error or a 503 (a retry of the same
    /// signed event is idempotent: it gets the original receipt).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// run seals, submits and prints or saves the receipt.
pub async fn run(args: SubmitArgs) -> CliResult {
    let key: SignerKey = keyfile::read_signer(&args.key)?;
    let bytes = std::fs::read(&args.event).map_err(|e| format!("{}: {e}", args.event.display()))?;
    let plain: PlainEvent = huella_core::canonical::parse_without_arrays(&bytes)
        .map_err(|e| format!("{}: {e}", args.event.display()))?;
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let submission = plain.seal(&key, now, keyfile::random_salt)?;
    let client = args.client.client(&args.url)?;
    let submitted = submit_with_retries(&client, &submission, args.retries).await?;
    if let Some(out) = &args.out {
        let mut path = out.as_os_str().to_owned();
        path.push(".openings.json");
        let path = PathBuf::from(path);
        let kept = serde_json::json!({
            "index": submitted.receipt.index,
            "leaf_hash": submitted.receipt.leaf_hash,
            "openings": submission.openings,
        });
        keyfile::write_private(&path, &serde_json::to_vec_pretty(&kept)?)?;
        eprintln!(
            "openings kept in {} (owner-only: they hold the personal values)",
            path.display()
        );
    }
    report(&submitted, "", args.out.as_deref())
}

/// report says where the entry was logged (after `what`, if any: `key_retire `) and prints
/// the receipt, or saves it to `out`.
pub(crate) fn report(
    submitted: &Submitted,
    what: &str,
    out: Option<&std::path::Path>,
) -> CliResult {
    let receipt = serde_json::to_string_pretty(&submitted.receipt)?;
    let verb = if submitted.created {
        "logged"
    } else {
        "already logged"
    };
    eprintln!("{what}{verb} at index {}", submitted.receipt.index);
    match out {
        Some(path) => {
            std::fs::write(path, format!("{receipt}\n"))
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
    submission: &Submission,
    retries: u32,
) -> Result<Submitted, ClientError> {
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
