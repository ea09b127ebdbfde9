//! C2SP tlog-proofs (`c2sp.org/tlog-proof@v1`), Huella's receipts:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 leaf bytes>
//! index <N>
//! <base64 hash>            (inclusion proof, leaf sibling first; zero or more lines)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! Huella puts the entry's leaf bytes in `extra`, so a receipt alone lets its holder recompute
//! the leaf hash, check the inclusion proof against the checkpoint, and read the entry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::canonical::FormatError;
use crate::checkpoint::{self, Checkpoint, CheckpointError, parse_decimal};
use crate::entry::Leaf;
use crate::keys::VerifierKey;
use crate::merkle::{Hash, ProofError, record_hash, verify_inclusion};

/// Receipt is the JSON answer to an accepted submission (`POST /v1/entries`), and the file
/// `huella submit` saves. Its `tlog_proof` is what proves anything; the other fields repeat
/// parts of it for convenience, and [`Receipt::open`] refuses a receipt where any of them
/// says something else (docs/format.md, "The JSON receipt"). A receipt *file* must carry no
/// other field (the verifier's reader checks that); an API answer may gain fields later.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The signed checkpoint the proof is against.
    pub checkpoint: String,
    /// The entry's C2SP tlog-proof: keep it, it proves the entry is in the log.
    pub tlog_proof: String,
}

/// HEADER is the first line of every tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// MAX_PROOF_SIZE bounds a whole tlog-proof: a note, 64 hashes and a leaf in `extra`.
pub const MAX_PROOF_SIZE: usize = crate::note::MAX_NOTE_SIZE + 64 * 1024;

/// MAX_PROOF_HASHES bounds the inclusion proof (a tree of 2^63 leaves needs 63).
pub const MAX_PROOF_HASHES: usize = 64;

/// TlogProof is a parsed tlog-proof. Its parts are unauthenticated until [`TlogProof::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional opaque data; Huella puts the leaf bytes here.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry.
    pub index: u64,
    /// Inclusion proof, leaf sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: String,
}

/// ReceiptError says why a tlog-proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The text is not a tlog-proof.
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// The checkpoint does not verify.
    #[error("receipt checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not verify.
    #[error("receipt inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The receipt carries no leaf, or the leaf is malformed.
    #[error("receipt leaf: {0}")]
    Leaf(String),
    /// A field of a JSON receipt disagrees with its tlog-proof.
    #[error("receipt field {field} disagrees with its tlog_proof: {detail}")]
    FieldMismatch {
        /// The JSON field: `index`, `leaf_hash` or `checkpoint`.
        field: &'static str,
        /// What each says.
        detail: String,
    },
    /// The leaf says another index than the proof.
    #[error("receipt is for index {proof} but its entry says index {entry}")]
    IndexMismatch {
        /// Index in the proof.
        proof: u64,
        /// Index in the entry.
        entry: u64,
    },
}

impl Receipt {
    /// open parses the receipt's tlog-proof, checks that every other field agrees with it,
    /// and verifies it as [`TlogProof::verify_receipt`] does.
    pub fn open(&self, log_key: &VerifierKey) -> Result<(Leaf, Checkpoint), ReceiptError> {
        let proof = TlogProof::parse(self.tlog_proof.as_bytes())?;
        self.check_fields(&proof)?;
        proof.verify_receipt(log_key)
    }

    /// check_fields checks that `index`, `leaf_hash` and `checkpoint` say what `proof` says.
    pub fn check_fields(&self, proof: &TlogProof) -> Result<(), ReceiptError> {
        if self.index != proof.index {
            return Err(ReceiptError::FieldMismatch {
                field: "index",
                detail: format!("{} against index {} in the proof", self.index, proof.index),
            });
        }
        if let Some(leaf) = &proof.extra {
            let hash = record_hash(leaf);
            if self.leaf_hash != hash {
                return Err(ReceiptError::FieldMismatch {
                    field: "leaf_hash",
                    detail: format!(
                        "{} against {hash}, the hash of the proof's leaf",
                        self.leaf_hash
                    ),
                });
            }
        }
        if self.checkpoint != proof.checkpoint {
            return Err(ReceiptError::FieldMismatch {
                field: "checkpoint",
                detail: "it is not the checkpoint the proof carries, byte for byte".into(),
            });
        }
        Ok(())
    }
}

impl From<FormatError> for ReceiptError {
    fn from(e: FormatError) -> ReceiptError {
        ReceiptError::Leaf(e.to_string())
    }
}

impl TlogProof {
    /// to_text writes the proof.
    pub fn to_text(&self) -> String {
        let mut text = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            text.push_str(&hash.to_base64());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// parse reads a tlog-proof without verifying it.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, ReceiptError> {
        if bytes.len() > MAX_PROOF_SIZE {
            return Err(ReceiptError::Malformed("tlog-proof too large"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ReceiptError::Malformed("not UTF-8"))?;
        let rest = text
            .strip_prefix(HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(ReceiptError::Malformed(
                "first line must be c2sp.org/tlog-proof@v1",
            ))?;
        let (mut line, mut rest) = rest
            .split_once('\n')
            .ok_or(ReceiptError::Malformed("missing index line"))?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(data)
                    .map_err(|_| ReceiptError::Malformed("extra is not standard base64"))?,
            );
            (line, rest) = rest
                .split_once('\n')
                .ok_or(ReceiptError::Malformed("missing index line"))?;
        }
        let index =
            line.strip_prefix("index ")
                .and_then(parse_decimal)
                .ok_or(ReceiptError::Malformed(
                    "index line must be 'index N' with N decimal",
                ))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(ReceiptError::Malformed(
                "missing blank line before the checkpoint",
            ))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(ReceiptError::Malformed("too many proof hashes"));
            }
            proof.push(
                Hash::from_base64(line)
                    .map_err(|_| ReceiptError::Malformed("proof line is not a base64 hash"))?,
            );
        }
        if rest.is_empty() {
            return Err(ReceiptError::Malformed("missing checkpoint"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: rest.to_string(),
        })
    }

    /// verify checks the checkpoint with the log key and the inclusion of `leaf_hash` at
    /// `index` in it, and returns the checkpoint.
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        log_key: &VerifierKey,
    ) -> Result<Checkpoint, ReceiptError> {
        let (checkpoint, _) = checkpoint::open(self.checkpoint.as_bytes(), log_key)?;
        verify_inclusion(
            self.index,
            checkpoint.size,
            leaf_hash,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }

    /// verify_receipt checks a Huella receipt: the leaf in `extra` is a canonical entry at the
    /// proof's index, and it is included in the log-signed checkpoint.
    pub fn verify_receipt(
        &self,
        log_key: &VerifierKey,
    ) -> Result<(Leaf, Checkpoint), ReceiptError> {
        let leaf = self
            .extra
            .as_deref()
            .ok_or_else(|| ReceiptError::Leaf("receipt has no extra line with the leaf".into()))?;
        let entry = Leaf::parse(leaf).map_err(|e| ReceiptError::Leaf(e.to_string()))?;
        if entry.index().get() != self.index {
            return Err(ReceiptError::IndexMismatch {
                proof: self.index,
                entry: entry.index().get(),
            });
        }
        let checkpoint = self.verify(&record_hash(leaf), log_key)?;
        Ok((entry, checkpoint))
    }
}
