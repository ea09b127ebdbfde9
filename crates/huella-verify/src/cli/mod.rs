//! The `huella-verify` command line: `verify`, `export`, `receipt verify`, `monitor`,
//! `disclosure verify` and `stats`, one file per subcommand. The `huella` binary embeds the same subcommands, so both take the
//! same flags, print the same output and exit with the same codes: 0 verified, 1 failed
//! verification (or a monitor alert), 2 usage or I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use huella_core::keys::VerifierKey;
use huella_core::registry::Registry;
use huella_core::trust::TrustRoot;

use crate::client::{Client, ClientError};
use crate::error::AuditError;
use crate::sample::{DEFAULT_SAMPLE, Sampling};

pub mod disclosure;
pub mod export;
pub mod monitor;
pub mod receipt;
pub mod stats;
pub mod verify;

pub use disclosure::{DisclosureCommand, DisclosureVerifyArgs};
pub use export::ExportArgs;
pub use monitor::MonitorArgs;
pub use receipt::{ReceiptCommand, ReceiptVerifyArgs};
pub use stats::StatsArgs;
pub use verify::VerifyArgs;

/// huella-verify: check a Huella log from outside, trusting nothing but the log's public key.
#[derive(Parser, Debug)]
#[command(name = "huella-verify", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verifier's subcommands; `huella` offers the same ones.
#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// Disclosures of sealed reads.
    #[command(subcommand)]
    Disclosure(DisclosureCommand),
    /// Statistics of a log (counts by agency, country, category, purpose, outcome, kind,
    /// day, month, year), computed from a copy just verified.
    Stats(StatsArgs),
}

/// ClientArgs are the connection options every subcommand that talks to a log takes.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// A CA certificate (PEM) to trust for https:// URLs, besides the system's trust store:
    /// a test CA, or a government PKI.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl ClientArgs {
    /// client makes a client for the log at `url` with these options.
    pub fn client(&self, url: &str) -> Result<Client, ClientError> {
        Client::with_ca_cert(url, self.ca_cert.as_deref())
    }
}

/// SampleArgs say which of the answers a log serves to other readers (single entries,
/// inclusion proofs, consistency proofs, receipts) `verify` and `monitor` check against the
/// tree they rebuilt.
#[derive(Args, Debug, Clone, Default)]
pub struct SampleArgs {
    /// How many answers of each kind (single entries, inclusion proofs, consistency proofs,
    /// receipts) to check at random against the rebuilt tree [default: 32]; 0 checks none.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Check every index's answers instead of a sample: about five requests per entry, and
    /// 64 bytes of memory per entry.
    #[arg(long, conflicts_with_all = ["sample", "seed"])]
    pub check_all_proofs: bool,
    /// Draw the random sample from this seed (printed with the result) to check the same
    /// answers again; without it, a fresh one each run.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
}

impl SampleArgs {
    /// sampling is what these flags ask for, with a fresh seed unless `--seed` gave one.
    pub fn sampling(&self) -> Sampling {
        if self.check_all_proofs {
            return Sampling::every();
        }
        Sampling::random(
            self.sample.unwrap_or(DEFAULT_SAMPLE),
            self.seed.unwrap_or_else(|| fastrand::u64(..)),
        )
    }

    /// given says whether any of these flags was given.
    pub fn given(&self) -> bool {
        self.sample.is_some() || self.check_all_proofs || self.seed.is_some()
    }
}

/// CliResult is what a subcommand returns; an error's type decides the exit code.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

/// main parses the command line and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    finish("huella-verify", run(cli.command))
}

/// run runs one verifier subcommand on a new runtime.
pub fn run(command: Command) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Verify(args) => verify::run(args).await,
            Command::Monitor(args) => monitor::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Receipt(ReceiptCommand::Verify(args)) => receipt::run(args).await,
            Command::Disclosure(DisclosureCommand::Verify(args)) => disclosure::run(args).await,
            Command::Stats(args) => stats::run(args).await,
        }
    })
}

/// finish prints a failed command's error after `program: ` and turns the result into the
/// exit code: 1 when something failed verification, 2 for usage and I/O errors.
pub fn finish(program: &str, result: CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::from(exit_code(e.as_ref()))
        }
    }
}

/// exit_code is 1 for a failed verification or a monitor alert, 2 for anything else.
pub fn exit_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    match e.downcast_ref::<AuditError>() {
        Some(a) => a.exit_code(),
        None if e.downcast_ref::<monitor::Alerted>().is_some() => 1,
        None => 2,
    }
}

/// parse_log_key reads `--log-key`: the verifier key itself, or a file that holds it (such
/// as a log's `log.key.pub`).
pub fn parse_log_key(text: &str) -> Result<VerifierKey, AuditError> {
    let path = Path::new(text);
    let key = if path.is_file() {
        std::fs::read_to_string(path)
            .map_err(|e| AuditError::Io(format!("--log-key {text}: {e}")))?
    } else {
        text.to_string()
    };
    VerifierKey::parse(key.trim()).map_err(|e| AuditError::Io(format!("--log-key: {e}")))
}

/// TrustArgs say what a reader trusts about who may sign: a trust root, or (the older form)
/// a submitter registry. Without either, the log's own is used, with a warning.
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// The log's trust root (`trust.json`: the log key, each country's registrars and the
    /// first registry), from a source you trust; registry events in the log are replayed
    /// from it.
    #[arg(long, value_name = "FILE", conflicts_with = "registry")]
    pub trust: Option<PathBuf>,
    /// A submitter registry you trust: the older form of --trust, for logs without registry
    /// events.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
}

/// Trusted is a trust root the user gave, and how.
#[derive(Clone, Debug)]
pub struct Trusted {
    /// The trust root.
    pub root: TrustRoot,
    /// `trust` (from --trust) or `registry` (from --registry, the older form).
    pub from: &'static str,
}

impl TrustArgs {
    /// trusted reads `--trust` or `--registry`, if given, and checks the trust root is for
    /// `log_key`. A registry is said, once, to be the older form.
    pub fn trusted(&self, log_key: &VerifierKey) -> Result<Option<Trusted>, AuditError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| AuditError::Io(format!("{}: {e}", p.display())))
        };
        if let Some(path) = &self.trust {
            let root = TrustRoot::parse(&read(path)?)
                .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
            if root.log.key != *log_key {
                return Err(AuditError::Io(format!(
                    "{}: the trust root is for log key {}, not the --log-key {log_key}",
                    path.display(),
                    root.log.key
                )));
            }
            return Ok(Some(Trusted {
                root,
                from: "trust",
            }));
        }
        if let Some(path) = &self.registry {
            let registry = Registry::parse(&read(path)?)
                .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
            eprintln!(
                "note: --registry is the older form of --trust: it holds no registrars, so a log \
                 with registry events (key registrations, rotations, revocations) fails; give \
                 --trust FILE for such logs"
            );
            return Ok(Some(Trusted {
                root: TrustRoot::for_registry(log_key, registry),
                from: "registry",
            }));
        }
        Ok(None)
    }
}
