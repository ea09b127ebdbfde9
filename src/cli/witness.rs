//! `huella witness`: run a C2SP tlog-witness for the logs a policy file lists.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use huella_core::policy::Policy;

use crate::cli::CliResult;
use crate::cli::log::shutdown_signal;
use crate::keyfile;
use crate::witness::{Witness, router};

/// Arguments of `huella witness`.
#[derive(Args, Debug)]
pub struct WitnessArgs {
    /// Address to listen on; `POST /add-checkpoint` is the submission prefix's call.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// The witness key (`huella keygen --witness`).
    #[arg(long)]
    pub key: PathBuf,
    /// A C2SP tlog-policy file: its `log` lines are the logs witnessed (a `quorum none`
    /// line will do for a witness).
    #[arg(long)]
    pub policy: PathBuf,
    /// Directory for the latest cosigned checkpoint of each log.
    #[arg(long, default_value = "witness-data")]
    pub data: PathBuf,
}

/// run serves the witness until Ctrl-C.
pub async fn run(args: WitnessArgs) -> CliResult {
    let signer = keyfile::read_cosigner(&args.key)?;
    let text = std::fs::read(&args.policy)
        .map_err(|e| format!("--policy {}: {e}", args.policy.display()))?;
    let policy =
        Policy::parse(&text).map_err(|e| format!("--policy {}: {e}", args.policy.display()))?;
    if policy.logs.is_empty() {
        return Err(format!(
            "--policy {}: no log lines: this witness would witness nothing",
            args.policy.display()
        )
        .into());
    }
    let vkey = signer.verifier();
    let witness = Arc::new(Witness::open(signer, &policy, &args.data)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    eprintln!(
        "huella witness {vkey} on http://{}: witnessing {}",
        listener.local_addr()?,
        policy
            .logs
            .iter()
            .map(|l| l.key.name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
