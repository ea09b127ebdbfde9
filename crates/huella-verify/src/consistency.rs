//! Proving that one checkpoint extends another: the consistency check behind `receipt
//! verify --url` and every monitor round, and what a rollback or a fork looks like.

use huella_core::checkpoint::{self, Checkpoint};
use huella_core::keys::VerifierKey;
use huella_core::merkle::{Hash, verify_consistency};

use crate::client::{Client, ClientError};
use crate::error::{AuditError, io};

/// check_still_logged proves that the tree of `old` is a prefix of the log's current tree.
pub async fn check_still_logged(
    client: &Client,
    log_key: &VerifierKey,
    old: &Checkpoint,
) -> Result<Checkpoint, AuditError> {
    let note = client.get("/checkpoint").await.map_err(io)?;
    let (latest, _) = checkpoint::open(&note, log_key)
        .map_err(|e| AuditError::Failed(format!("the log's current checkpoint: {e}")))?;
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
        return Err(AuditError::Failed(format!(
            "rollback: the log's checkpoint has size {}, smaller than the {} already seen",
            new.size, old.size
        )));
    }
    if new.size == old.size {
        if new.root != old.root {
            return Err(AuditError::Failed(format!(
                "fork: two checkpoints of size {} with different roots ({} and {})",
                new.size, old.root, new.root
            )));
        }
        return Ok(());
    }
    let body = client
        .get(&format!(
            "/v1/proofs/consistency?from={}&to={}",
            old.size, new.size
        ))
        .await
        .map_err(|e| match e {
            // A log that signed the new checkpoint but will not prove it extends the old one
            // is as good as a fork; only a failure to reach it is an outage.
            ClientError::Api { .. } => AuditError::Failed(format!(
                "fork: the log signed size {} but refuses to prove it consistent with size {}: {e}",
                new.size, old.size
            )),
            other => io(other),
        })?;
    #[derive(serde::Deserialize)]
    struct Proof {
        proof: Vec<Hash>,
    }
    let proof: Proof = serde_json::from_slice(&body)
        .map_err(|e| AuditError::Io(format!("consistency proof: {e}")))?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof.proof).map_err(|e| {
        AuditError::Failed(format!(
            "fork: the checkpoint of size {} is not a prefix of the one of size {}: {e}",
            old.size, new.size
        ))
    })
}
