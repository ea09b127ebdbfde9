//! Readers enforce a witness policy (C2SP tlog-policy): a checkpoint is accepted only if
//! its witness cosignatures, each verified, meet the policy's quorum.

use std::path::{Path, PathBuf};

use clap::Args;
use huella_core::keys::VerifierKey;
use huella_core::policy::Policy;

use crate::error::AuditError;

/// WitnessPolicyArgs is the `--witness-policy` flag readers take.
#[derive(Args, Debug, Clone, Default)]
pub struct WitnessPolicyArgs {
    /// A C2SP tlog-policy file: accept a checkpoint only if its witness cosignatures meet
    /// the policy's quorum (and, if the policy lists logs, only this log's). Without it, no
    /// witness cosignature is checked, and the output says so.
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
}

impl WitnessPolicyArgs {
    /// policy reads the policy file, if given, and checks it accepts `log_key`.
    pub fn policy(&self, log_key: &VerifierKey) -> Result<Option<Policy>, AuditError> {
        let Some(path) = &self.witness_policy else {
            return Ok(None);
        };
        read(path, log_key).map(Some)
    }
}

fn read(path: &Path, log_key: &VerifierKey) -> Result<Policy, AuditError> {
    let io = |why: String| AuditError::Io(format!("--witness-policy {}: {why}", path.display()));
    let text = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    let policy = Policy::parse(&text).map_err(|e| io(e.to_string()))?;
    if !policy.logs.is_empty() && !policy.logs.iter().any(|l| l.key == *log_key) {
        return Err(io(format!(
            "the policy does not list the log {}",
            log_key.key_ref()
        )));
    }
    Ok(policy)
}

/// Witnessed is what a reader found of a checkpoint's witnesses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Witnessed {
    /// Whether a witness policy was checked at all.
    pub policy_checked: bool,
    /// The witnesses of the policy that cosigned, by name, with their cosignatures' times.
    pub cosigned: Vec<(String, u64)>,
}

impl Witnessed {
    /// render is one line for people.
    pub fn render(&self) -> String {
        if !self.policy_checked {
            return "witnesses: no witness policy was checked (--witness-policy FILE to require cosignatures)".into();
        }
        let names: Vec<&str> = self.cosigned.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "witnesses: the policy's quorum is met; cosigned by {}",
            if names.is_empty() {
                "none needed".to_string()
            } else {
                names.join(", ")
            }
        )
    }
}

/// check checks a signed checkpoint's cosignatures against `policy`, if there is one: an
/// error unless they verify and meet its quorum.
pub fn check(policy: Option<&Policy>, note: &[u8]) -> Result<Witnessed, AuditError> {
    let Some(policy) = policy else {
        return Ok(Witnessed {
            policy_checked: false,
            cosigned: Vec::new(),
        });
    };
    let found = policy
        .check(note)
        .map_err(|e| AuditError::Witnesses(e.to_string()))?;
    if !found.met {
        let names: Vec<&str> = found.cosigned.iter().map(|(n, _)| n.as_str()).collect();
        let ignored = if found.ignored.is_empty() {
            String::new()
        } else {
            format!(
                "; ignored, as keys the policy does not name: {}",
                found.ignored.join(", ")
            )
        };
        return Err(AuditError::Witnesses(format!(
            "the checkpoint's cosignatures do not meet the policy's quorum (cosigned by: {}){ignored}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    Ok(Witnessed {
        policy_checked: true,
        cosigned: found.cosigned,
    })
}
