//! The `huella` command line, one file per subcommand. `verify`, `monitor`, `export`,
//! `receipt verify`, `disclosure verify` and `stats` are the verifier's own
//! ([`huella_verify::cli`]): the same flags, output and exit codes as the `huella-verify`
//! binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use huella_verify::cli::{
    DisclosureCommand, ExportArgs, MonitorArgs, ReceiptCommand, StatsArgs, VerifyArgs,
};

// One module per subcommand, private: the load generator (`bench`) and the machine-limits
// probe (`limits`) are tools of the command line, not part of the library's API.
mod bench;
mod demo;
mod keygen;
mod keys;
mod limits;
mod log;
pub(crate) mod sealed;
mod serve;
mod submit;
mod witness;

pub use huella_verify::cli::CliResult;

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
    /// Write a new signer key (mode 0600), or a witness key, and print its verifier key.
    Keygen(keygen::KeygenArgs),
    /// Change who may sign: register, retire or revoke a key, signed by the country's
    /// registrars, as an entry of the log.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Run the ledger service.
    Serve(serve::ServeArgs),
    /// Seal an access event (commit to personal values, sign) and submit it.
    Submit(submit::SubmitArgs),
    /// Run the ledger with demo agencies and demo events: start here.
    Demo(demo::DemoArgs),
    /// Verify a whole log, from its API or an exported bundle (exit 0 verified, 1 failed,
    /// 2 usage or I/O error).
    Verify(VerifyArgs),
    /// Check a log incrementally, round after round, and alert on rollbacks, forks, bad
    /// signatures, broken chains, bad answers and outages.
    Monitor(MonitorArgs),
    /// Export a self-contained bundle of a log for offline verification.
    Export(ExportArgs),
    /// Receipts (C2SP tlog-proofs).
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Disclosures of sealed reads: verify one offline.
    #[command(subcommand)]
    Disclosure(DisclosureCommand),
    /// Statistics of a log, computed from a copy just verified (as `huella-verify stats`).
    Stats(StatsArgs),
    /// Sealed data: read it as an auditor (the read is logged first, then disclosed, sealed
    /// to you), or order it erased as an erasure authority (logged first, then destroyed).
    #[command(subcommand)]
    Sealed(sealed::SealedCommand),
    /// Load-test a running `huella demo` with pre-signed events and report throughput and
    /// latency; or fill it with --fill N entries.
    Bench(bench::BenchArgs),
    /// Run a C2SP tlog-witness: cosign checkpoints of the logs a policy lists, when they
    /// are consistent with the last one cosigned.
    Witness(witness::WitnessArgs),
    /// Measure this machine's limits in a few seconds: fsyncs per second, SHA-256 MB/s, and
    /// Ed25519 verifications per second on one core and in batches on every core.
    Limits(limits::LimitsArgs),
}

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
    use huella_verify::cli::Command as Verifier;
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Keys(command) => runtime().and_then(|rt| rt.block_on(keys::run(command))),
        Command::Serve(args) => runtime().and_then(|rt| rt.block_on(serve::run(args))),
        Command::Submit(args) => runtime().and_then(|rt| rt.block_on(submit::run(args))),
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(demo::run(args))),
        Command::Verify(args) => huella_verify::cli::run(Verifier::Verify(args)),
        Command::Monitor(args) => huella_verify::cli::run(Verifier::Monitor(args)),
        Command::Export(args) => huella_verify::cli::run(Verifier::Export(args)),
        Command::Receipt(command) => huella_verify::cli::run(Verifier::Receipt(command)),
        Command::Disclosure(command) => huella_verify::cli::run(Verifier::Disclosure(command)),
        Command::Stats(args) => huella_verify::cli::run(Verifier::Stats(args)),
        Command::Sealed(command) => runtime().and_then(|rt| rt.block_on(sealed::run(command))),
        Command::Bench(args) => runtime().and_then(|rt| rt.block_on(bench::run(args))),
        Command::Witness(args) => runtime().and_then(|rt| rt.block_on(witness::run(args))),
        Command::Limits(args) => limits::run(args),
    };
    huella_verify::cli::finish("huella", result)
}

/// runtime makes the multi-threaded runtime the async subcommands run on.
fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn std::error::Error>> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
