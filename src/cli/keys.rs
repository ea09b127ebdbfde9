//! `huella keys register|retire|revoke`: build a registry event, sign it with every given
//! registrar key, submit it to `POST /v1/registry`, and print its receipt. Registrars who
//! keep their keys on separate machines sign in turn: the first saves the signed event
//! (`--save FILE`), each next one adds a signature with `huella keys sign FILE`, and the last
//! submits it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use huella_core::keylog::{RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{SignerKey, VerifierKey};
use huella_core::values::{AgencyId, CountryCode, Reason, Timestamp};
use huella_verify::cli::{CliResult, ClientArgs};

use crate::keyfile;

/// `huella keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Register a key for an agency (principal), country and role.
    Register(RegisterArgs),
    /// Retire a key (a planned rotation): entries it signed before --valid-until stay valid.
    Retire(RetireArgs),
    /// Revoke a key that may be in other hands since --compromised-since.
    Revoke(RevokeArgs),
    /// Add registrars' signatures to a registry event saved with --save, then submit it (or
    /// save it again for the next registrar).
    Sign(SignArgs),
}

/// Arguments of `huella keys sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The signed registry event, as `--save` wrote it.
    pub file: PathBuf,
    /// Submission and signing options.
    #[command(flatten)]
    pub registrars: RegistrarArgs,
}

/// What every `huella keys` subcommand takes: where to submit, and who signs.
#[derive(Args, Debug)]
pub struct RegistrarArgs {
    /// Base URL of the ledger.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A registrar's signer key file; repeat it for each registrar who signs (the country's
    /// threshold of them, docs/format.md §14).
    #[arg(long = "registrar-key", value_name = "FILE", required = true)]
    pub registrar_keys: Vec<PathBuf>,
    /// Save the receipt here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the signed event here instead of submitting it, for the next registrar to add
    /// a signature with `huella keys sign FILE`.
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub save: Option<PathBuf>,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `huella keys register`.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// Submission and signing options.
    #[command(flatten)]
    pub registrars: RegistrarArgs,
    /// The principal's agency id, as its events will carry it.
    #[arg(long)]
    pub agency: String,
    /// The principal's country (ISO 3166-1 alpha-2); its registrars must sign.
    #[arg(long)]
    pub country: String,
    /// What the key may sign: submitter, auditor or erasure_authority.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The key to register: its verifier key, or a file holding it (a `.pub`).
    #[arg(long)]
    pub key: String,
    /// From when the key may sign (RFC 3339, UTC); default now.
    #[arg(long)]
    pub valid_from: Option<String>,
}

/// Arguments of `huella keys retire`.
#[derive(Args, Debug)]
pub struct RetireArgs {
    /// Submission and signing options.
    #[command(flatten)]
    pub registrars: RegistrarArgs,
    /// The key to retire: its verifier key, or a file holding it.
    #[arg(long)]
    pub key: String,
    /// Until when the key signs (RFC 3339, UTC): events accessed, and arriving, before it;
    /// default now.
    #[arg(long)]
    pub valid_until: Option<String>,
}

/// Arguments of `huella keys revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// Submission and signing options.
    #[command(flatten)]
    pub registrars: RegistrarArgs,
    /// The key to revoke: its verifier key, or a file holding it.
    #[arg(long)]
    pub key: String,
    /// Since when the key may have been in other hands (RFC 3339, UTC; may lie in the
    /// past): verifiers report the entries it signed since then.
    #[arg(long)]
    pub compromised_since: String,
    /// Why, for the public record (no personal data).
    #[arg(long)]
    pub reason: String,
}

fn parse_role(text: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown role {text:?}: submitter, auditor or erasure_authority"))
}

/// parse_key reads a verifier key given as text or in a file.
fn parse_key(text: &str) -> Result<VerifierKey, String> {
    huella_verify::cli::parse_log_key(text).map_err(|e| e.to_string().replace("--log-key", "--key"))
}

/// time reads an RFC 3339 time, or gives now.
fn time(flag: &str, text: &Option<String>) -> Result<Timestamp, String> {
    match text {
        Some(t) => Timestamp::parse(t).map_err(|e| format!("--{flag}: {e}")),
        None => Ok(Timestamp::from_system_time(std::time::SystemTime::now())),
    }
}

/// run builds, signs and submits (or saves) the registry event and prints or saves its
/// receipt.
pub async fn run(command: KeysCommand) -> CliResult {
    let (signed, registrars) = match command {
        KeysCommand::Sign(args) => {
            let bytes =
                std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
            let signed: SignedRegistryEvent = huella_core::canonical::parse(&bytes)
                .map_err(|e| format!("{}: {e}", args.file.display()))?;
            (signed, args.registrars)
        }
        other => {
            let (event, registrars) = build(other)?;
            eprintln!("{}", describe(&event));
            (
                SignedRegistryEvent {
                    event,
                    signatures: Vec::new(),
                },
                registrars,
            )
        }
    };
    let keys: Vec<SignerKey> = registrars
        .registrar_keys
        .iter()
        .map(|p| keyfile::read_signer(p))
        .collect::<Result<_, _>>()?;
    let mut signed = signed;
    for key in &keys {
        if signed
            .signatures
            .iter()
            .any(|s| &s.key == key.verifier().key_ref())
        {
            return Err(
                format!("{} has signed this event already", key.verifier().key_ref()).into(),
            );
        }
        let mut more = SignedRegistryEvent::sign(signed.event.clone(), &[key]);
        signed.signatures.append(&mut more.signatures);
    }
    let kind = signed.event.kind();
    if let Some(path) = &registrars.save {
        std::fs::write(path, serde_json::to_string_pretty(&signed)? + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "{kind} signed by {} registrar(s), saved to {}: the next registrar runs `huella keys sign {}`",
            signed.signatures.len(),
            path.display(),
            path.display()
        );
        return Ok(());
    }
    let client = registrars.client.client(&registrars.url)?;
    let submitted = client.submit_registry(&signed).await?;
    eprintln!("{kind} signed by {} registrar(s)", signed.signatures.len());
    super::submit::report(&submitted, &format!("{kind} "), registrars.out.as_deref())
}

/// describe says which event was built, with the time it carries, so that a retry can give
/// the same time and be the same event.
fn describe(event: &RegistryEvent) -> String {
    match event {
        RegistryEvent::KeyRegister {
            key, valid_from, ..
        } => {
            format!(
                "key_register of {} with valid_from {valid_from}",
                key.key_ref()
            )
        }
        RegistryEvent::KeyRetire { key, valid_until } => {
            format!(
                "key_retire of {} with valid_until {valid_until}",
                key.key_ref()
            )
        }
        RegistryEvent::KeyRevoke {
            key,
            compromised_since,
            ..
        } => format!(
            "key_revoke of {} with compromised_since {compromised_since}",
            key.key_ref()
        ),
    }
}

/// build makes the event a `register`, `retire` or `revoke` command asks for.
fn build(command: KeysCommand) -> Result<(RegistryEvent, RegistrarArgs), String> {
    Ok(match command {
        KeysCommand::Register(args) => (
            RegistryEvent::KeyRegister {
                agency: AgencyId::new(&args.agency).map_err(|e| format!("--agency: {e}"))?,
                country: CountryCode::new(&args.country).map_err(|e| format!("--country: {e}"))?,
                role: args.role,
                key: parse_key(&args.key)?,
                valid_from: time("valid-from", &args.valid_from)?,
            },
            args.registrars,
        ),
        KeysCommand::Retire(args) => (
            RegistryEvent::KeyRetire {
                key: parse_key(&args.key)?,
                valid_until: time("valid-until", &args.valid_until)?,
            },
            args.registrars,
        ),
        KeysCommand::Revoke(args) => (
            RegistryEvent::KeyRevoke {
                key: parse_key(&args.key)?,
                compromised_since: time("compromised-since", &Some(args.compromised_since))?,
                reason: Reason::new(&args.reason).map_err(|e| format!("--reason: {e}"))?,
            },
            args.registrars,
        ),
        KeysCommand::Sign(_) => return Err("keys sign builds no event".into()),
    })
}
