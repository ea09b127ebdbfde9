//! `huella-verify receipt verify`: check a receipt offline, and with `--url` that its entry
//! is still in the log.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use huella_core::entry::Leaf;

use crate::cli::{CliResult, ClientArgs, TrustArgs, parse_log_key};
use crate::error::AuditError;
use crate::receipt;

/// `receipt` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Verify a receipt offline; with --url, also that its entry is still in the log.
    Verify(ReceiptVerifyArgs),
}

/// Arguments of `receipt verify`.
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
    /// Who may sign, to check the entry's signatures too.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The witnesses whose cosignatures the receipt's checkpoint must carry.
    #[command(flatten)]
    pub witnesses: crate::witnesses::WitnessPolicyArgs,
}

/// run verifies the receipt and prints what it proves.
pub async fn run(args: ReceiptVerifyArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let trusted = args.trust.trusted(&log_key)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| AuditError::Io(format!("{}: {e}", args.file.display())))?;
    let file = receipt::ReceiptFile::parse(&bytes)?;
    let policy = args.witnesses.policy(&log_key)?;
    let client = args
        .url
        .as_deref()
        .map(|url| args.client.client(url))
        .transpose()?;
    let checked = receipt::verify(
        &file,
        &log_key,
        trusted.as_ref().map(|t| &t.root),
        client.as_ref(),
    )
    .await?;
    let note = match &file {
        receipt::ReceiptFile::Proof(proof) => proof.checkpoint.clone(),
        receipt::ReceiptFile::Json(json) => json.checkpoint.clone(),
    };
    let witnessed = crate::witnesses::check(policy.as_ref(), note.as_bytes())?;
    let (entry, checkpoint, latest) = (&checked.entry, &checked.checkpoint, &checked.still_in_log);
    let entry_json: serde_json::Value = serde_json::from_slice(&entry.to_leaf())?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "verified": true,
                "index": entry.index().get(),
                "kind": entry.kind(),
                "leaf_hash": entry.leaf_hash(),
                "checkpoint_size": checkpoint.size,
                "agency_signature_checked": checked.agency_signature_checked,
                "registrar_signatures_checked": checked.registrar_signatures_checked,
                "signatures": checked.signature_note,
                "still_in_log_at_size": latest.as_ref().map(|c| c.size),
                "witnesses": witnessed,
                "entry": entry_json,
            })
        );
    } else {
        println!(
            "VERIFIED: entry {} is in log {} at tree size {} (signed checkpoint, inclusion proof).",
            entry.index().get(),
            checkpoint.origin,
            checkpoint.size
        );
        match entry {
            Leaf::Access(access) => {
                let e = &access.event;
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
            }
            Leaf::Registry(registry) => {
                println!(
                    "  registry event {} of key {}, signed by {} registrar(s)",
                    registry.event.kind(),
                    registry.event.key().key_ref(),
                    registry.signatures.len()
                );
            }
            Leaf::SealedRead(read) => {
                let e = &read.event;
                println!(
                    "  sealed read by {} ({}) with key {}, case {}, for {} ({})",
                    e.agency, e.country, e.key, e.case_ref, e.purpose, e.legal_basis
                );
            }
            Leaf::Erasure(order) => {
                let e = &order.event;
                println!(
                    "  erasure ordered by {} ({}) with key {}, order {} ({})",
                    e.agency, e.country, e.key, e.order_ref, e.legal_basis
                );
            }
            Leaf::Retention(notice) => {
                let e = &notice.event;
                println!(
                    "  retention notice: openings of entries {} to {} accessed before {} purged",
                    e.first.get(),
                    e.last.get(),
                    e.before
                );
            }
        }
        println!(
            "  logged at {}; leaf hash {}",
            entry.integrated_at(),
            entry.leaf_hash()
        );
        println!("  signatures: {}", checked.signature_note);
        println!("  {}", witnessed.render());
        if let Some(latest) = latest {
            println!(
                "  still in the log: its tree is a prefix of the current one (size {}), by consistency proof",
                latest.size
            );
        }
    }
    Ok(())
}
