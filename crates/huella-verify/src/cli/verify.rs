//! `huella-verify verify`: a full audit of a log, from its API or an exported bundle.

use std::path::PathBuf;

use clap::Args;

use crate::audit;
use crate::cli::{CliResult, ClientArgs, SampleArgs, TrustArgs, parse_log_key};
use crate::error::AuditError;
use crate::source::Source;

/// Arguments of `verify`.
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
    /// Who may sign: without --trust or --registry, the log's (or bundle's) own trust root
    /// is used, with a warning.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print a machine-readable JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Which served answers to check against the rebuilt tree (with --url).
    #[command(flatten)]
    pub sample: SampleArgs,
    /// The witnesses whose cosignatures the checkpoint must carry.
    #[command(flatten)]
    pub witnesses: crate::witnesses::WitnessPolicyArgs,
}

/// run verifies the log and prints the report.
pub async fn run(args: VerifyArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let trusted = args.trust.trusted(&log_key)?;
    let source = match (&args.url, &args.bundle) {
        (Some(url), _) => Source::Http(args.client.client(url)?),
        (None, Some(dir)) => Source::Bundle(dir.clone()),
        (None, None) => return Err(AuditError::Io("give --url or --bundle".into()).into()),
    };
    if matches!(source, Source::Bundle(_)) && args.sample.given() {
        return Err(AuditError::Io(
            "--sample, --seed and --check-all-proofs check what a log's API serves; a bundle serves nothing: use them with --url".into(),
        )
        .into());
    }
    let sampling = args.sample.sampling();
    let policy = args.witnesses.policy(&log_key)?;
    match audit::verify_log_witnessed(
        &source,
        &log_key,
        trusted,
        &sampling,
        args.json,
        false,
        policy.as_ref(),
    )
    .await
    {
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
                if let AuditError::Entry(huella_core::verify::VerifyError::Entry {
                    index,
                    failure,
                    ..
                }) = &e
                {
                    report["index"] = (*index).into();
                    report["failure"] = serde_json::to_value(failure)?;
                }
                if let AuditError::Answer(answer) = &e {
                    report["failure"] = "answer".into();
                    report["path"] = answer.path.clone().into();
                    if let Some(seed) = answer.seed {
                        report["seed"] = seed.into();
                    }
                }
                println!("{report}");
            }
            Err(e.into())
        }
    }
}
