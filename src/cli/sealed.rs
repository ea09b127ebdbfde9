//! `huella sealed read`: an auditor reads sealed data. It makes a fresh X25519 key pair,
//! signs a `sealed_read` naming it, submits it to `POST /v1/sealed/read`, opens the sealed
//! disclosure, verifies it against the log key, and writes it as JSON. The read is logged
//! before anything is disclosed.

use std::path::PathBuf;

use base64::Engine as _;
use clap::{Args, Subcommand};
use huella_core::commitment::Opening;
use huella_core::disclosure::Disclosure;
use huella_core::keys::SignerKey;
use huella_core::proof::Receipt;
use huella_core::sealed::{
    ReadSubmission, SealedRead, SealedReadKind, Search, SearchField, SearchOpenings, sign,
};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, RequestId, Timestamp,
};
use huella_verify::cli::{CliResult, ClientArgs};

use crate::keyfile;

/// `huella sealed` subcommands.
#[derive(Subcommand, Debug)]
pub enum SealedCommand {
    /// Read the openings of listed entries, or of every entry with a value (--subject,
    /// --record-ref, --requesting-user), as a registered auditor; the read is logged first,
    /// and the disclosure, sealed to a key made for this read, verified and written to --out.
    Read(ReadArgs),
    /// Order the openings of listed entries, or of every entry with a value, destroyed for
    /// good, as a registered erasure authority; the order is logged first.
    Erase(EraseArgs),
}

/// TargetArgs say what a read or an erasure order covers: listed entries, or every entry
/// whose field has a value. A searched value is personal data: the event carries only a
/// commitment to it, and its opening goes to the log beside the event, never into it.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// The entries, by index: `3,17,42` (at most 1,000).
    #[arg(long, value_delimiter = ',')]
    pub entries: Vec<u64>,
    /// Every entry about this person: whose `subject` is this value (for a read, a data
    /// subject's access request).
    #[arg(long, value_name = "VALUE")]
    pub subject: Option<String>,
    /// Every entry whose `record_ref` is this value.
    #[arg(long, value_name = "VALUE")]
    pub record_ref: Option<String>,
    /// Every entry whose `requesting_user` (the officer) is this value.
    #[arg(long, value_name = "VALUE")]
    pub requesting_user: Option<String>,
}

impl TargetArgs {
    /// target is what the flags ask for.
    fn target(&self) -> Result<ReadTarget, String> {
        Ok(
            match (&self.subject, &self.record_ref, &self.requesting_user) {
                (Some(value), _, _) => ReadTarget::Search(SearchField::Subject, value.clone()),
                (_, Some(value), _) => ReadTarget::Search(SearchField::RecordRef, value.clone()),
                (_, _, Some(value)) => {
                    ReadTarget::Search(SearchField::RequestingUser, value.clone())
                }
                _ => ReadTarget::Entries(
                    self.entries
                        .iter()
                        .map(|&i| Count::new(i))
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("--entries: {e}"))?,
                ),
            },
        )
    }
}

/// Arguments of `huella sealed erase`.
#[derive(Args, Debug)]
pub struct EraseArgs {
    /// Base URL of the ledger.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The authority's signer key file (a key registered with role `erasure_authority`).
    #[arg(long)]
    pub key: PathBuf,
    /// What to erase.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The order's reference.
    #[arg(long)]
    pub order_ref: String,
    /// The instrument and article that order the erasure.
    #[arg(long)]
    pub legal_basis: String,
    /// Your own id for this order (default: one made up); a retry with the same id and
    /// order is the same order.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `huella sealed read`.
#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Base URL of the ledger.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The auditor's signer key file (a key registered with role `auditor`).
    #[arg(long)]
    pub key: PathBuf,
    /// What to read.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The case this read is for.
    #[arg(long)]
    pub case_ref: String,
    /// Why, as a purpose code (`a-z 0-9 _ -`).
    #[arg(long)]
    pub purpose: String,
    /// The instrument and article that allow the read.
    #[arg(long)]
    pub legal_basis: String,
    /// Your own id for this read (default: one made up); a retry with the same id and
    /// read is the same read.
    #[arg(long)]
    pub request_id: Option<String>,
    /// The log's verifier key (or a file holding it) to verify the disclosure with; without
    /// it, the key the log serves is used, with a warning.
    #[arg(long)]
    pub log_key: Option<String>,
    /// Where to write the verified disclosure (JSON, docs/format.md §16.5). It holds
    /// personal data: it is written owner-only.
    #[arg(long)]
    pub out: PathBuf,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// run reads (verifies and saves) or erases.
pub async fn run(command: SealedCommand) -> CliResult {
    let args = match command {
        SealedCommand::Read(args) => args,
        SealedCommand::Erase(args) => return erase(args).await,
    };
    let key: SignerKey = keyfile::read_signer(&args.key)?;
    let client = args.client.client(&args.url)?;
    // The auditor's agency and country, as the log registered its key.
    let (agency, country, keys) = registered(&client, &key, "auditor").await?;
    let log_key = match &args.log_key {
        Some(text) => huella_verify::cli::parse_log_key(text)?,
        None => {
            eprintln!(
                "warning: verifying the disclosure with the log key the log serves; pass --log-key"
            );
            huella_verify::cli::parse_log_key(keys["log_key"].as_str().unwrap_or_default())?
        }
    };
    let request_id = match &args.request_id {
        Some(id) => RequestId::new(id).map_err(|e| format!("--request-id: {e}"))?,
        None => fresh_request_id()?,
    };
    let request = ReadRequest {
        key: &key,
        agency,
        country,
        target: args.target.target()?,
        case_ref: RequestId::new(&args.case_ref).map_err(|e| format!("--case-ref: {e}"))?,
        purpose: Purpose::new(&args.purpose).map_err(|e| format!("--purpose: {e}"))?,
        legal_basis: LegalBasis::new(&args.legal_basis)
            .map_err(|e| format!("--legal-basis: {e}"))?,
        request_id,
    };
    let (disclosure, verified) = read_sealed(&client, request, &log_key).await?;
    eprintln!("the read is logged at index {}", verified.read.index.get());
    keyfile::write_private(&args.out, &serde_json::to_vec_pretty(&disclosure)?)?;
    eprintln!(
        "disclosure of {} entries verified (checkpoint size {}) and written to {} (owner-only: it holds personal data)",
        verified.entries.len(),
        verified.checkpoint.size,
        args.out.display()
    );
    Ok(())
}

/// ReadRequest is what an auditor asks to read.
pub(crate) struct ReadRequest<'a> {
    /// The auditor's key (role `auditor`).
    pub(crate) key: &'a SignerKey,
    /// Its agency and country, as registered.
    pub(crate) agency: AgencyId,
    /// Its country.
    pub(crate) country: CountryCode,
    /// What to read.
    pub(crate) target: ReadTarget,
    /// The case.
    pub(crate) case_ref: RequestId,
    /// Why.
    pub(crate) purpose: Purpose,
    /// On which legal basis.
    pub(crate) legal_basis: LegalBasis,
    /// The auditor's id for the read.
    pub(crate) request_id: RequestId,
}

/// ReadTarget is what a read covers: listed entries, or a search for a value in a field.
pub(crate) enum ReadTarget {
    /// These entries.
    Entries(Vec<Count>),
    /// Every entry whose field has this value.
    Search(SearchField, String),
}

impl ReadTarget {
    /// encode is the target as an event carries it (`entries`, or `search` with a fresh salt)
    /// and the opening of a searched value, sent beside the event.
    fn encode(self) -> (Option<Vec<Count>>, Option<Search>, Option<SearchOpenings>) {
        match self {
            ReadTarget::Entries(mut entries) => {
                entries.sort();
                entries.dedup();
                (Some(entries), None, None)
            }
            ReadTarget::Search(field, value) => {
                let salt = keyfile::random_salt();
                let search = Search {
                    field,
                    value: field.commit(&salt, &value),
                };
                let openings = SearchOpenings {
                    search: Opening::new(salt, value),
                };
                (None, Some(search), Some(openings))
            }
        }
    }
}

/// fresh_request_id makes up a request id for a read or an order.
pub(crate) fn fresh_request_id() -> Result<RequestId, Box<dyn std::error::Error>> {
    let random = keyfile::random_bytes()?;
    Ok(RequestId::new(format!(
        "read-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&random[..9])
    ))?)
}

/// read_sealed makes a key pair for the read, signs it, submits it, opens the sealed
/// disclosure and verifies it with `log_key`.
pub(crate) async fn read_sealed(
    client: &huella_verify::client::Client,
    request: ReadRequest<'_>,
    log_key: &huella_core::keys::VerifierKey,
) -> Result<(Disclosure, huella_core::disclosure::Verified), Box<dyn std::error::Error>> {
    let (private, recipient) = crate::hpke::keypair();
    let (entries, search, openings) = request.target.encode();
    let event = SealedRead {
        agency: request.agency,
        case_ref: request.case_ref,
        country: request.country,
        entries,
        key: request.key.key_ref().clone(),
        kind: SealedReadKind::Only,
        legal_basis: request.legal_basis,
        purpose: request.purpose,
        read_at: Timestamp::from_system_time(std::time::SystemTime::now()),
        recipient,
        request_id: request.request_id,
        search,
    };
    let submission = ReadSubmission {
        signature: sign(&event, request.key),
        event,
        openings,
    };
    let answer = client
        .post_raw("/v1/sealed/read", serde_json::to_vec(&submission)?)
        .await?;
    #[derive(serde::Deserialize)]
    struct Answer {
        read_receipt: Receipt,
        disclosure: crate::hpke::Sealed,
    }
    let answer: Answer = serde_json::from_slice(&answer)
        .map_err(|e| format!("the log's answer is not a sealed disclosure: {e}"))?;
    let plaintext = crate::hpke::open(
        &private,
        &answer.disclosure,
        &answer.read_receipt.leaf_hash.0,
    )?;
    let disclosure: Disclosure = serde_json::from_slice(&plaintext)
        .map_err(|e| format!("the disclosure does not parse: {e}"))?;
    if disclosure.read_receipt != answer.read_receipt {
        return Err("the disclosure's read receipt is not the one the log answered with".into());
    }
    let verified = disclosure
        .verify(log_key)
        .map_err(|e| format!("the disclosure does not verify: {e}"))?;
    if verified.read.event != submission.event {
        return Err("the read the log logged is not the one submitted".into());
    }
    Ok((disclosure, verified))
}

/// registered finds `key`'s agency and country in the log's registry (`GET /v1/keys`, also
/// returned), and checks its role.
async fn registered(
    client: &huella_verify::client::Client,
    key: &SignerKey,
    role: &str,
) -> Result<(AgencyId, CountryCode, serde_json::Value), Box<dyn std::error::Error>> {
    let keys: serde_json::Value = client.get_json("/v1/keys").await?;
    let id = key.key_ref().to_string();
    let record = keys["keys"]
        .as_array()
        .and_then(|all| all.iter().find(|k| k["key_id"] == id.as_str()))
        .ok_or_else(|| format!("key {id} is not registered in the log"))?;
    if record["role"] != role {
        return Err(format!("key {id} is registered as {}, not {role}", record["role"]).into());
    }
    let agency = AgencyId::new(record["agency"].as_str().unwrap_or_default())?;
    let country = CountryCode::new(record["country"].as_str().unwrap_or_default())?;
    Ok((agency, country, keys))
}

/// erase signs and submits an erasure order and prints its receipt and what it erased.
async fn erase(args: EraseArgs) -> CliResult {
    let key: SignerKey = keyfile::read_signer(&args.key)?;
    let client = args.client.client(&args.url)?;
    let (agency, country, _) = registered(&client, &key, "erasure_authority").await?;
    let (entries, search, openings) = args.target.target()?.encode();
    let event = huella_core::sealed::Erasure {
        agency,
        country,
        entries,
        key: key.key_ref().clone(),
        kind: huella_core::sealed::ErasureKind::Only,
        legal_basis: LegalBasis::new(&args.legal_basis)
            .map_err(|e| format!("--legal-basis: {e}"))?,
        order_ref: RequestId::new(&args.order_ref).map_err(|e| format!("--order-ref: {e}"))?,
        ordered_at: Timestamp::from_system_time(std::time::SystemTime::now()),
        request_id: match &args.request_id {
            Some(id) => RequestId::new(id).map_err(|e| format!("--request-id: {e}"))?,
            None => fresh_request_id()?,
        },
        search,
    };
    let submission = huella_core::sealed::ErasureSubmission {
        signature: sign(&event, &key),
        event,
        openings,
    };
    let answer: serde_json::Value = serde_json::from_slice(
        &client
            .post_raw("/v1/sealed/erase", serde_json::to_vec(&submission)?)
            .await?,
    )?;
    eprintln!(
        "the erasure order is logged at index {}; the openings of entries {} are destroyed",
        answer["receipt"]["index"], answer["erased"]
    );
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
