//! Checking a receipt: a bare C2SP tlog-proof, or the JSON receipt `huella submit` saves,
//! whose every field must agree with its proof. Offline, it proves the entry is in the tree
//! of a log-signed checkpoint; with a client, also that the log's current tree extends that
//! one, so the entry is still there.

use huella_core::admission::check_signed_event;
use huella_core::checkpoint::Checkpoint;
use huella_core::entry::Leaf;
use huella_core::keylog::{Change, KeyRegistry};
use huella_core::keys::{KeyRef, VerifierKey};
use huella_core::proof::{Receipt, TlogProof};
use huella_core::sealed::{Signable, SignedEntry};
use huella_core::trust::TrustRoot;

use crate::client::Client;
use crate::consistency::check_still_logged;
use crate::error::{AuditError, ReceiptFailure};

/// RECEIPT_FIELDS are the fields of a JSON receipt (docs/format.md §11.1).
pub const RECEIPT_FIELDS: [&str; 4] = ["index", "leaf_hash", "checkpoint", "tlog_proof"];

/// ReceiptFile is a receipt as read from a file, before it is verified.
#[derive(Clone, Debug)]
pub enum ReceiptFile {
    /// A bare tlog-proof.
    Proof(TlogProof),
    /// The JSON receipt `huella submit` saves.
    Json(Receipt),
}

impl ReceiptFile {
    /// parse reads either form: a file whose first non-blank byte is `{` is a JSON receipt
    /// (and must be a well-formed one), anything else a tlog-proof.
    pub fn parse(bytes: &[u8]) -> Result<ReceiptFile, AuditError> {
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let json = |e: serde_json::Error| ReceiptFailure::Json(e.to_string());
            let fields: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(bytes).map_err(json)?;
            // Every field a receipt file carries is checked, so it may carry no other.
            if let Some(other) = fields
                .keys()
                .find(|k| !RECEIPT_FIELDS.contains(&k.as_str()))
            {
                return Err(ReceiptFailure::UnknownField(other.clone()).into());
            }
            let receipt: Receipt =
                serde_json::from_value(serde_json::Value::Object(fields)).map_err(json)?;
            return Ok(ReceiptFile::Json(receipt));
        }
        TlogProof::parse(bytes)
            .map(ReceiptFile::Proof)
            .map_err(|e| ReceiptFailure::Proof(e).into())
    }
}

/// Checked is what a verified receipt proves.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The entry, from the proof's leaf.
    pub entry: Leaf,
    /// The log-signed checkpoint the entry is included in.
    pub checkpoint: Checkpoint,
    /// Whether the agency's signature of an access entry was checked against a trusted
    /// trust root.
    pub agency_signature_checked: bool,
    /// Whether the registrars' signatures of a registry entry were checked against a
    /// trusted trust root.
    pub registrar_signatures_checked: bool,
    /// What was checked of the signatures, or why not, for people.
    pub signature_note: String,
    /// The log's current checkpoint, proven to extend `checkpoint`, when a client was given.
    pub still_in_log: Option<Checkpoint>,
}

/// verify checks a receipt against the log key: its fields against its proof, the proof
/// against the signed checkpoint, the entry's own consistency, its signatures when a trusted
/// `trust` root is given (see [`check_signatures`]), and, with `client`, that the log still
/// holds the entry.
pub async fn verify(
    receipt: &ReceiptFile,
    log_key: &VerifierKey,
    trust: Option<&TrustRoot>,
    client: Option<&Client>,
) -> Result<Checked, AuditError> {
    let failed = |e| AuditError::Receipt(ReceiptFailure::Proof(e));
    let (entry, checkpoint) = match receipt {
        ReceiptFile::Proof(proof) => proof.verify_receipt(log_key).map_err(failed)?,
        ReceiptFile::Json(receipt) => receipt.open(log_key).map_err(failed)?,
    };
    let index = entry.index().get();
    if let Leaf::Access(access) = &entry {
        access.event.check().map_err(|e| ReceiptFailure::Entry {
            index,
            why: e.to_string(),
        })?;
    }
    let (signatures_checked, signature_note) = match trust {
        Some(trust) => {
            check_signatures(&entry, trust).map_err(|why| ReceiptFailure::Entry { index, why })?
        }
        None => (false, "not checked (give --trust to check it)".to_string()),
    };
    let still_in_log = match client {
        Some(client) => Some(check_still_logged(client, log_key, &checkpoint).await?),
        None => None,
    };
    let access = matches!(entry, Leaf::Access(_));
    let registry = matches!(entry, Leaf::Registry(_));
    Ok(Checked {
        entry,
        checkpoint,
        agency_signature_checked: signatures_checked && access,
        registrar_signatures_checked: signatures_checked && registry,
        signature_note,
        still_in_log,
    })
}

/// signer_only_in_log checks a sealed read's or an erasure's signature when its key is in the
/// trust root's registry; keys of those roles are registered in the log, which only a full
/// replay sees.
fn signer_only_in_log<E: Signable>(
    keys: &KeyRegistry,
    key: &KeyRef,
    entry: &SignedEntry<E>,
) -> Result<(bool, String), String> {
    match keys.record(key) {
        Some(record) if entry.verify(&record.key) => Ok((
            true,
            "verified against the trust root's registry (registry events not replayed)".into(),
        )),
        Some(_) => Err(format!("the signature does not verify with key {key}")),
        None => Ok((
            false,
            format!(
                "not checked: key {key} is not in the trust root's registry; it was registered in the log, which only `verify --trust` replays"
            ),
        )),
    }
}

/// check_signatures checks an entry's signatures against what a receipt alone can know of
/// who may sign: the trust root, not the registry events logged since. An access event
/// signed by a key of the trust root's registry is checked in full against it; one signed by
/// a key registered in the log is not checked here (only a full `verify --trust`, which
/// replays the registry events, can). A registry event's registrars' signatures are checked
/// when its country is known: a registration names it; a retirement or revocation of a key
/// of the trust root's registry has its key's. Returns whether they were checked, and what
/// was.
pub fn check_signatures(entry: &Leaf, trust: &TrustRoot) -> Result<(bool, String), String> {
    let keys = KeyRegistry::from_trust(trust);
    match entry {
        Leaf::Access(access) => {
            if keys.record(&access.event.key).is_none() {
                return Ok((
                    false,
                    format!(
                        "not checked: key {} is not in the trust root's registry; it was registered in the log, which only `verify --trust` replays",
                        access.event.key
                    ),
                ));
            }
            check_signed_event(&access.signed_event(), &keys, &access.integrated_at)
                .map_err(|e| e.to_string())?;
            Ok((
                true,
                "verified against the trust root's registry (registry events not replayed: a later retirement or revocation is not seen here)".into(),
            ))
        }
        Leaf::Registry(registry) => {
            let change = registry.event.change();
            let country = match keys.country_of(&change) {
                Ok(country) => country,
                Err(_) => {
                    return Ok((
                        false,
                        format!(
                            "not checked: key {} is not in the trust root's registry, so its country is not known here; `verify --trust` replays the log",
                            change.key()
                        ),
                    ));
                }
            };
            let signatures: Vec<(KeyRef, Vec<u8>)> = registry
                .signatures
                .iter()
                .map(|s| (s.key.clone(), s.signature.0.to_vec()))
                .collect();
            KeyRegistry::check_signers(
                trust,
                &country,
                &registry.event.signing_bytes(),
                &signatures,
            )
            .map_err(|e| e.to_string())?;
            let what = match change {
                Change::Register { .. } => "registration",
                Change::Retire { .. } => "retirement",
                Change::Revoke { .. } => "revocation",
            };
            Ok((
                true,
                format!(
                    "the {what}'s registrar signatures verified against the trust root ({country})"
                ),
            ))
        }
        Leaf::SealedRead(entry) => signer_only_in_log(&keys, &entry.event.key, entry),
        Leaf::Erasure(entry) => signer_only_in_log(&keys, &entry.event.key, entry),
        Leaf::Retention(entry) => {
            if !entry.verify(&trust.log.key) {
                return Err(format!(
                    "the retention notice's signature does not verify with the log key {}",
                    trust.log.key.key_ref()
                ));
            }
            Ok((
                true,
                "the retention notice's signature verified with the log key".into(),
            ))
        }
    }
}
