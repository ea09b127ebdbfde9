//! `huella-verify disclosure verify`: check a disclosure offline, with the log key alone:
//! every opening opens its commitment in a leaf included under the checkpoint, and the read
//! that revealed them is in the log.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use huella_core::disclosure::Disclosure;

use crate::cli::{CliResult, parse_log_key};
use crate::error::AuditError;

/// `disclosure` subcommands.
#[derive(Subcommand, Debug)]
pub enum DisclosureCommand {
    /// Verify a disclosure file offline (exit 0 verified, 1 failed, 2 usage or I/O error).
    Verify(DisclosureVerifyArgs),
}

/// Arguments of `disclosure verify`.
#[derive(Args, Debug)]
pub struct DisclosureVerifyArgs {
    /// The disclosure, as `huella sealed read --out` wrote it.
    pub file: PathBuf,
    /// The log's verifier key (or a file holding it), from a source you trust.
    #[arg(long)]
    pub log_key: String,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// The witnesses whose cosignatures the disclosure's checkpoint must carry.
    #[command(flatten)]
    pub witnesses: crate::witnesses::WitnessPolicyArgs,
}

/// run verifies the disclosure and says what it proves.
pub async fn run(args: DisclosureVerifyArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| AuditError::Io(format!("{}: {e}", args.file.display())))?;
    let disclosure: Disclosure = serde_json::from_slice(&bytes)
        .map_err(|e| AuditError::Io(format!("{}: not a disclosure: {e}", args.file.display())))?;
    let policy = args.witnesses.policy(&log_key)?;
    let verified = disclosure.verify(&log_key).map_err(AuditError::from)?;
    let witnessed = crate::witnesses::check(policy.as_ref(), disclosure.checkpoint.as_bytes())?;
    let read = &verified.read.event;
    // Entries erased before the read are disclosed without openings, and by which order.
    let erased: Vec<(u64, u64)> = disclosure
        .entries
        .iter()
        .filter_map(|e| Some((e.index, e.erased_by?)))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "verified": true,
                "read_index": verified.read.index.get(),
                "checkpoint_size": verified.checkpoint.size,
                "entries": verified.entries.iter().map(|e| e.index.get()).collect::<Vec<_>>(),
                "erased": erased
                    .iter()
                    .map(|(index, by)| serde_json::json!({"index": index, "erased_by": by}))
                    .collect::<Vec<_>>(),
                "read": read,
                "witnesses": witnessed,
            })
        );
    } else {
        println!(
            "VERIFIED: {} entries disclosed by the sealed read at index {} of log {} (tree size {}): every opening given opens its commitment, every entry is included, and the read itself is logged.",
            verified.entries.len(),
            verified.read.index.get(),
            verified.checkpoint.origin,
            verified.checkpoint.size
        );
        println!(
            "  read by {} ({}) with key {}, case {}, for {} ({}), at {}",
            read.agency,
            read.country,
            read.key,
            read.case_ref,
            read.purpose,
            read.legal_basis,
            read.read_at
        );
        if !erased.is_empty() {
            println!(
                "  erased before the read, so disclosed without openings: {}",
                erased
                    .iter()
                    .map(|(index, by)| format!("entry {index} (erased by entry {by})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        println!("  who may sign it is checked by replaying the log: `verify --trust`");
        println!("  {}", witnessed.render());
    }
    Ok(())
}
