//! Checking a receipt: a bare C2SP tlog-proof, or the JSON receipt `huella submit` saves,
//! whose every field must agree with its proof. Offline, it proves the entry is in the tree
//! of a log-signed checkpoint; with a client, also that the log's current tree extends that
//! one, so the entry is still there.

use huella_core::admission::check_signed_event;
use huella_core::checkpoint::Checkpoint;
use huella_core::entry::Entry;
use huella_core::keys::VerifierKey;
use huella_core::proof::{Receipt, TlogProof};
use huella_core::registry::Registry;

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
    pub entry: Entry,
    /// The log-signed checkpoint the entry is included in.
    pub checkpoint: Checkpoint,
    /// Whether the agency's signature was checked against a trusted registry.
    pub agency_signature_checked: bool,
    /// The log's current checkpoint, proven to extend `checkpoint`, when a client was given.
    pub still_in_log: Option<Checkpoint>,
}

/// verify checks a receipt against the log key: its fields against its proof, the proof
/// against the signed checkpoint, the entry's own consistency, the agency's signature when
/// a trusted `registry` is given, and, with `client`, that the log still holds the entry.
pub async fn verify(
    receipt: &ReceiptFile,
    log_key: &VerifierKey,
    registry: Option<&Registry>,
    client: Option<&Client>,
) -> Result<Checked, AuditError> {
    let failed = |e| AuditError::Receipt(ReceiptFailure::Proof(e));
    let (entry, checkpoint) = match receipt {
        ReceiptFile::Proof(proof) => proof.verify_receipt(log_key).map_err(failed)?,
        ReceiptFile::Json(receipt) => receipt.open(log_key).map_err(failed)?,
    };
    let index = entry.index.get();
    entry.event.check().map_err(|e| ReceiptFailure::Entry {
        index,
        why: e.to_string(),
    })?;
    if let Some(registry) = registry {
        check_signed_event(&entry.signed_event(), registry).map_err(|e| ReceiptFailure::Entry {
            index,
            why: e.to_string(),
        })?;
    }
    let still_in_log = match client {
        Some(client) => Some(check_still_logged(client, log_key, &checkpoint).await?),
        None => None,
    };
    Ok(Checked {
        entry,
        checkpoint,
        agency_signature_checked: registry.is_some(),
        still_in_log,
    })
}
