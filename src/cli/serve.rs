//! `huella serve`: run the ledger service.

use std::path::PathBuf;

use clap::Args;

use crate::cli::CliResult;
use huella_core::trust::TrustRoot;

use crate::cli::log::{LogArgs, http_limits, open_log, read_registry, read_trust, shutdown_signal};
use crate::http;

/// Arguments of `huella serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Data directory: the database and the log's key.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Directory holding the trust root, `trust.json`; or, for a log without registrars
    /// (the older form), the submitter registry, `registry.json`.
    #[arg(long, default_value = "keys")]
    pub keys: PathBuf,
    /// A C2SP tlog-policy file naming this log's witnesses (with their URLs) and the quorum
    /// their cosignatures must meet: the log sends each new checkpoint to them, and
    /// `GET /checkpoint` serves the newest one that meets the quorum.
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust for the witnesses' `https://` URLs, besides
    /// the system's trust store (a test CA, or a government PKI).
    #[arg(long, value_name = "FILE", requires = "witness_policy")]
    pub ca_cert: Option<PathBuf>,
    /// The trust root (default: `trust.json` in --keys, if it is there).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Service options.
    #[command(flatten)]
    pub log: LogArgs,
}

/// run serves the log until Ctrl-C.
pub async fn run(args: ServeArgs) -> CliResult {
    let trust_file = args.trust.clone().or_else(|| {
        let default = args.keys.join("trust.json");
        default.exists().then_some(default)
    });
    let registry_file = args.keys.join("registry.json");
    let ledger = open_log(
        &args.data,
        |log_key| match &trust_file {
            Some(path) => read_trust(path),
            None => {
                eprintln!(
                    "note: no trust root ({}/trust.json); running with {} alone, the older form: \
                     no registrars, so no key can be registered, rotated or revoked in the log",
                    args.keys.display(),
                    registry_file.display()
                );
                Ok(TrustRoot::for_registry(
                    log_key,
                    read_registry(&registry_file)?,
                ))
            }
        },
        &args.log,
    )?;
    let listener = tokio::net::TcpListener::bind(args.log.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.log.listen))?;
    let published = ledger.published();
    eprintln!(
        "huella: log {} serving on http://{} with {} entries, {} registered keys, {} holders and registrars for {} countries",
        ledger.log_key().name(),
        listener.local_addr()?,
        published.size,
        published.keys.records().count(),
        ledger.trust().registry.holders.len(),
        ledger.trust().countries.len()
    );
    println!("{}", ledger.log_key());
    let limits = http_limits(&args.log)?;
    crate::cli::log::spawn_retention(&ledger, &args.log);
    let witnessing = match &args.witness_policy {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("--witness-policy {}: {e}", path.display()))?;
            let policy = huella_core::policy::Policy::parse(&text)
                .map_err(|e| format!("--witness-policy {}: {e}", path.display()))?;
            let witnessing = crate::witnessing::Witnessing::new(policy);
            witnessing
                .spawn(ledger.clone(), args.ca_cert.as_deref())
                .map_err(|e| format!("--ca-cert: {e}"))?;
            eprintln!(
                "huella: sending checkpoints to {} witnesses; GET /checkpoint serves the newest that meets the policy's quorum",
                witnessing.policy().witnesses.len()
            );
            Some(witnessing)
        }
        None => None,
    };
    http::serve(
        listener,
        http::router_witnessed(ledger.clone(), limits, witnessing),
        limits,
        ledger.metrics().clone(),
        shutdown_signal(),
    )
    .await?;
    ledger.close();
    Ok(())
}
