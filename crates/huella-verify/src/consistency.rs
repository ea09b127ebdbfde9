//! Proving that one checkpoint extends another: the consistency check behind `receipt
//! verify --url` and every monitor round, and what a rollback or a fork looks like.

use huella_core::checkpoint::{self, Checkpoint};
use huella_core::keys::VerifierKey;
use huella_core::merkle::{Hash, verify_consistency};

use crate::client::{Client, ClientError};
use crate::error::{AuditError, HistoryError, WhichCheckpoint, io};

/// check_still_logged proves that the tree of `old` is a prefix of the log's current tree.
pub async fn check_still_logged(
    client: &Client,
    log_key: &VerifierKey,
    old: &Checkpoint,
) -> Result<Checkpoint, AuditError> {
    let note = client.get("/checkpoint").await.map_err(io)?;
    let (latest, _) = checkpoint::open(&note, log_key).map_err(|error| AuditError::Checkpoint {
        which: WhichCheckpoint::Current,
        error,
    })?;
    check_extends(client, old, &latest).await?;
    Ok(latest)
}

/// check_extends proves with a consistency proof from the log that `new` extends `old`.
pub(crate) async fn check_extends(
    client: &Client,
    old: &Checkpoint,
    new: &Checkpoint,
) -> Result<(), AuditError> {
    if new.size < old.size {
        return Err(HistoryError::Rollback {
            seen: old.size,
            now: new.size,
        }
        .into());
    }
    if new.size == old.size {
        if new.root != old.root {
            return Err(HistoryError::SameSizeFork {
                size: new.size,
                seen: old.root,
                now: new.root,
            }
            .into());
        }
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct Proof {
        proof: Vec<Hash>,
    }
    let path = format!("/v1/proofs/consistency?from={}&to={}", old.size, new.size);
    let proof: Proof = client.get_json(&path).await.map_err(|e| match e {
        // A log that signed the new checkpoint but will not prove it extends the old one
        // is as good as a fork; only a failure to reach it is an outage.
        ClientError::Api { .. } => HistoryError::RefusedProof {
            old: old.size,
            new: new.size,
            why: e.to_string(),
        }
        .into(),
        other => io(format!("consistency proof: {other}")),
    })?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof.proof).map_err(|error| {
        HistoryError::NotAPrefix {
            old: old.size,
            new: new.size,
            error,
        }
        .into()
    })
}
