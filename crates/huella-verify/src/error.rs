//! Why an audit stopped: the log failed verification (exit 1), or it could not be checked
//! (exit 2). Each way of failing verification is a variant a caller can match, with the
//! entry, checkpoint, file or sizes it concerns.

use huella_core::checkpoint::CheckpointError;
use huella_core::merkle::{Hash, ProofError};
use huella_core::proof::ReceiptError;
use huella_core::registry::RegistryError;
use huella_core::verify::VerifyError;

/// AuditError separates "the log failed verification" (exit 1) from "could not check"
/// (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A signed checkpoint does not open with the log key.
    #[error("verification failed: {which}: {error}")]
    Checkpoint {
        /// Which checkpoint.
        which: WhichCheckpoint,
        /// Why.
        error: CheckpointError,
    },
    /// An entry failed a check, or the entries do not give the checkpoint's root.
    #[error("verification failed: {0}")]
    Entry(#[from] VerifyError),
    /// A bundle's files disagree with its manifest or its checkpoint.
    #[error("verification failed: {0}")]
    Bundle(#[from] BundleError),
    /// The log's history is not append-only: a rollback or a fork.
    #[error("verification failed: {0}")]
    History(#[from] HistoryError),
    /// The log served something its API does not allow.
    #[error("verification failed: {0}")]
    Served(#[from] ServedError),
    /// A receipt does not verify.
    #[error("verification failed: {0}")]
    Receipt(#[from] ReceiptFailure),
    /// An answer the log serves to other readers (a single entry, a proof, a receipt)
    /// disagrees with the tree the audit recomputed. Boxed: it is the largest variant.
    #[error("verification failed: {0}")]
    Answer(Box<AnswerError>),
    /// A disclosure does not verify.
    #[error("verification failed: disclosure: {0}")]
    Disclosure(#[from] huella_core::disclosure::DisclosureError),
    /// The checkpoint's witness cosignatures do not meet the policy's quorum, or one does
    /// not verify.
    #[error("verification failed: witnesses: {0}")]
    Witnesses(String),
    /// Reading failed (network, file) or the input is unusable.
    #[error("{0}")]
    Io(String),
}

impl AuditError {
    /// exit_code: 1 for a failed verification, 2 for usage or I/O errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::Io(_) => 2,
            _ => 1,
        }
    }

    /// checkpoint is a checkpoint failure of the checkpoint the audit checks.
    pub(crate) fn checkpoint(error: impl Into<CheckpointError>) -> AuditError {
        AuditError::Checkpoint {
            which: WhichCheckpoint::Audited,
            error: error.into(),
        }
    }
}

impl From<AnswerError> for AuditError {
    fn from(e: AnswerError) -> AuditError {
        AuditError::Answer(Box::new(e))
    }
}

/// WhichCheckpoint names the checkpoint that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhichCheckpoint {
    /// The checkpoint being verified (a log's, a bundle's, an export's).
    Audited,
    /// The log's current checkpoint, fetched to prove an older one still holds.
    Current,
}

impl std::fmt::Display for WhichCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WhichCheckpoint::Audited => "checkpoint",
            WhichCheckpoint::Current => "the log's current checkpoint",
        })
    }
}

/// BundleError is how a bundle's files disagree with its manifest or its checkpoint.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A line of the entries file has no final newline.
    #[error("entries.ndjson: entry {0} is not newline-terminated")]
    Unterminated(u64),
    /// The entries file holds more entries than the checkpoint.
    #[error("entries.ndjson holds more entries than the checkpoint's {0}")]
    TooMany(u64),
    /// The entries file holds fewer entries than the checkpoint.
    #[error(
        "entries.ndjson holds {have} entries but the checkpoint says {want}: entry {have} is missing"
    )]
    TooFew {
        /// Entries in the file.
        have: u64,
        /// The checkpoint's size.
        want: u64,
    },
    /// The manifest does not parse.
    #[error("manifest.json: {0}")]
    Manifest(String),
    /// The manifest is of another format.
    #[error("manifest.json: format {0:?} is not huella-bundle/v1")]
    Format(String),
    /// The manifest does not list a file.
    #[error("manifest.json does not list {0}")]
    Unlisted(String),
    /// A file's SHA-256 is not the manifest's.
    #[error("bundle file {name} was altered: its SHA-256 is {digest}, the manifest says {listed}")]
    Altered {
        /// The file.
        name: String,
        /// Its SHA-256.
        digest: String,
        /// The manifest's.
        listed: String,
    },
    /// A file's length is not the manifest's.
    #[error("bundle file {name} holds {bytes} bytes, but the manifest says {listed}")]
    Length {
        /// The file.
        name: String,
        /// Its length.
        bytes: u64,
        /// The manifest's.
        listed: u64,
    },
    /// The manifest names another log than the checkpoint.
    #[error("manifest.json names origin {origin:?}, but the checkpoint is of {checkpoint:?}")]
    Origin {
        /// The manifest's origin.
        origin: String,
        /// The checkpoint's.
        checkpoint: String,
    },
    /// The manifest describes another tree than the checkpoint.
    #[error(
        "manifest.json describes size {size} root {root}, but the checkpoint is size {checkpoint_size} root {checkpoint_root}"
    )]
    Mismatch {
        /// The manifest's size.
        size: u64,
        /// The manifest's root.
        root: Hash,
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The checkpoint's root.
        checkpoint_root: Hash,
    },
}

/// HistoryError is a log that did not only append since a checkpoint already seen.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The log's tree got smaller.
    #[error("rollback: the log's checkpoint has size {now}, smaller than the {seen} already seen")]
    Rollback {
        /// The size seen before.
        seen: u64,
        /// The size now.
        now: u64,
    },
    /// Two checkpoints of the same size with different roots.
    #[error("fork: two checkpoints of size {size} with different roots ({seen} and {now})")]
    SameSizeFork {
        /// The size.
        size: u64,
        /// The root seen before.
        seen: Hash,
        /// The root now.
        now: Hash,
    },
    /// The log signed a larger tree but will not prove it extends the older one.
    #[error(
        "fork: the log signed size {new} but refuses to prove it consistent with size {old}: {why}"
    )]
    RefusedProof {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
        /// The log's answer.
        why: String,
    },
    /// The consistency proof does not verify: the older tree is not a prefix of the newer.
    #[error("fork: the checkpoint of size {old} is not a prefix of the one of size {new}: {error}")]
    NotAPrefix {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
        /// Why the proof failed.
        error: ProofError,
    },
}

/// ServedError is an answer the log's API does not allow.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServedError {
    /// The registry the log or bundle serves does not parse.
    #[error("the registry the source serves: {0}")]
    Registry(RegistryError),
    /// The trust root the log or bundle serves does not parse, or is for another log key.
    #[error("the trust root the source serves: {0}")]
    Trust(String),
    /// A page of entries below the checkpoint came back empty.
    #[error("the log served no entries from index {0}, below its checkpoint")]
    NoEntries(u64),
    /// A page held more entries than asked for.
    #[error("the log served {served} entries from index {start} when asked for {asked}")]
    TooMany {
        /// The first index.
        start: u64,
        /// Entries served.
        served: u64,
        /// Entries asked for.
        asked: u64,
    },
    /// The source holds entries beyond the checkpoint's size.
    #[error("the source holds entries from index {start}, beyond the {end} expected")]
    Beyond {
        /// Where the extra entries start.
        start: u64,
        /// The checkpoint's size.
        end: u64,
    },
}

/// AnswerError is an answer of the log's API, checked against the tree the audit
/// recomputed, that disagrees with it: which request got it, and what is wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("GET {path}: {why}{}", seed.map(|s| format!(" (sample seed {s})")).unwrap_or_default())]
pub struct AnswerError {
    /// The path and query that served it, e.g. `/v1/proofs/inclusion?index=7&tree_size=12`.
    pub path: String,
    /// What is wrong with it.
    pub why: AnswerProblem,
    /// The seed of the random sample that found it (`--seed`), to find it again; `None`
    /// when every index was checked.
    pub seed: Option<u64>,
}

/// AnswerProblem is what is wrong with an answer the log serves to other readers.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerProblem {
    /// The log refused a request its API must answer for the tree it signed.
    #[error("{0}")]
    Refused(String),
    /// The answer is not in the form the API documents.
    #[error("the answer is not what the API promises: {0}")]
    Malformed(String),
    /// The bytes served for an entry are not that entry's leaf in the audited tree.
    #[error(
        "not byte for byte entry {index} of the audited tree: its leaf hash is {served}, the audited entry's is {audited}"
    )]
    Leaf {
        /// The entry.
        index: u64,
        /// The leaf hash of what was served.
        served: Hash,
        /// The leaf hash of the audited entry.
        audited: Hash,
    },
    /// A field of the answer says something else than the request or the audited tree.
    #[error("its {field} is {served}, not {expected}")]
    Field {
        /// The field.
        field: &'static str,
        /// What the answer says.
        served: String,
        /// What it must say.
        expected: String,
    },
    /// A proof does not verify against the audited tree.
    #[error("the proof does not verify against the audited tree: {0}")]
    Proof(ProofError),
    /// A receipt does not parse or does not verify with the log key.
    #[error("{0}")]
    Receipt(ReceiptError),
    /// A receipt carries a checkpoint the log key signed, of the audited size but with
    /// another root: the log signed two trees of that size.
    #[error(
        "fork: its checkpoint, signed by the log key, has size {size} and root {served}, but the audited checkpoint of that size has root {audited}"
    )]
    Conflict {
        /// The size of both checkpoints.
        size: u64,
        /// The receipt's root.
        served: Hash,
        /// The audited root.
        audited: Hash,
    },
    /// A receipt against the latest checkpoint carries one older than the audited one.
    #[error(
        "rollback: its checkpoint has size {size}, smaller than the audited checkpoint's {audited}"
    )]
    Older {
        /// The receipt checkpoint's size.
        size: u64,
        /// The audited size.
        audited: u64,
    },
    /// A receipt against the latest checkpoint carries a larger one that does not extend the
    /// audited tree.
    #[error("its checkpoint of size {size} does not extend the audited tree: {error}")]
    NotExtending {
        /// The receipt checkpoint's size.
        size: u64,
        /// Why not.
        error: HistoryError,
    },
}

/// ReceiptFailure is why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptFailure {
    /// The file looks like a JSON receipt but is not one.
    #[error("the JSON receipt does not parse: {0}")]
    Json(String),
    /// A JSON receipt carries a field the format does not define.
    #[error("the JSON receipt has a field {0:?} that receipts do not have")]
    UnknownField(String),
    /// The tlog-proof, or a JSON receipt's field, does not verify.
    #[error(transparent)]
    Proof(#[from] ReceiptError),
    /// The entry the receipt carries breaks a rule of the format or the registry.
    #[error("entry {index}: {why}")]
    Entry {
        /// The entry's index.
        index: u64,
        /// Why.
        why: String,
    },
}

pub(crate) fn io(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io(e.to_string())
}
