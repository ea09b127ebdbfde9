//! The monitor: checks a log round after round, only its new entries each time (and a
//! sample of what the log serves to others about them), and raises an alert on a rollback,
//! a fork, a bad signature, a broken chain, a bad answer or an outage.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use huella_core::checkpoint::{self, Checkpoint};
use huella_core::entry::GENESIS_PREV;
use huella_core::keys::VerifierKey;
use huella_core::merkle::{Frontier, Hash};
use huella_core::trust::TrustRoot;
use huella_core::verify::{Auditor, Failure, VerifyError};

use crate::audit::{Progress, audit_entries};
use crate::client::Client;
use crate::consistency::check_extends;
use crate::error::{AnswerProblem, AuditError, HistoryError, io};
use crate::sample::{Sample, Sampling};
use crate::source::Source;

/// AlertKind is what a monitor round found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The log's tree got smaller.
    Rollback,
    /// Two incompatible histories: same size and another root, a failed consistency proof,
    /// or entries that do not match the checkpoint.
    Fork,
    /// A checkpoint or an entry signature does not verify.
    BadSignature,
    /// An entry's index or `prev` link is wrong.
    BrokenChain,
    /// An entry is malformed, unregistered or inconsistent.
    InvalidEntry,
    /// An answer the log serves to other readers (a single entry, an inclusion or
    /// consistency proof, a receipt) disagrees with the tree the monitor verified.
    BadAnswer,
    /// The log could not be reached.
    Unreachable,
    /// The checkpoint's witness cosignatures do not meet the witness policy's quorum.
    Witnesses,
}

/// Alert is one finding of the monitor.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Alert {
    /// Its kind.
    pub alert: AlertKind,
    /// What exactly, for people.
    pub message: String,
}

/// MonitorState is what the monitor keeps between rounds: the last verified checkpoint and
/// enough of the tree and chain to check only new entries next time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorState {
    /// The log's origin.
    pub origin: String,
    /// Size of the last verified checkpoint.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The signed checkpoint itself: keep it, it is evidence.
    pub checkpoint: String,
    /// The tree's right edge at that size, largest subtree first.
    pub frontier: Vec<Hash>,
    /// Leaf hash of the last verified entry.
    pub prev: Hash,
    /// The registry events verified so far, by index (the leaf as logged): replayed from the
    /// trust root to check the next round's entries against the registry at their index.
    #[serde(default)]
    pub registry_entries: Vec<(u64, String)>,
}

impl MonitorState {
    /// load reads a state file; `None` if it does not exist yet.
    pub fn load(path: &Path) -> Result<Option<MonitorState>, AuditError> {
        let corrupt = |why: String| {
            AuditError::Io(format!("state file {} is unusable: {why}", path.display()))
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let state: MonitorState =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if Frontier::from_parts(state.size, state.frontier.clone()).is_none() {
                    return Err(corrupt(format!(
                        "its frontier does not fit size {}",
                        state.size
                    )));
                }
                Ok(Some(state))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// save writes the state atomically: a temporary file, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_vec_pretty(self).map_err(io)?;
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| AuditError::Io(format!("{}: {e}", tmp.display())))?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path)
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        Ok(())
    }
}

fn alert(alert: AlertKind, message: impl Into<String>) -> Alert {
    Alert {
        alert,
        message: message.into(),
    }
}

/// monitor_round checks the log once against the saved state and returns the new state, or
/// the first alert. After the new entries, it checks the answers `sampling` picks among
/// those about them (the new entries, and trees from the saved size on). The state only
/// moves on when everything verified.
pub async fn monitor_round(
    client: &Client,
    log_key: &VerifierKey,
    trust: &Arc<TrustRoot>,
    state: Option<&MonitorState>,
    sampling: &Sampling,
) -> Result<(MonitorState, u64), Alert> {
    monitor_round_witnessed(client, log_key, trust, state, sampling, None)
        .await
        .map(|(state, new, _)| (state, new))
}

/// monitor_round_witnessed is [`monitor_round`] that, with a witness policy, first requires
/// the checkpoint's cosignatures to meet its quorum (else a `witnesses` alert), and also
/// returns who cosigned.
pub async fn monitor_round_witnessed(
    client: &Client,
    log_key: &VerifierKey,
    trust: &Arc<TrustRoot>,
    state: Option<&MonitorState>,
    sampling: &Sampling,
    policy: Option<&huella_core::policy::Policy>,
) -> Result<(MonitorState, u64, crate::witnesses::Witnessed), Alert> {
    let note = client
        .get("/checkpoint")
        .await
        .map_err(|e| alert(AlertKind::Unreachable, e.to_string()))?;
    let (latest, _) = checkpoint::open(&note, log_key)
        .map_err(|e| alert(AlertKind::BadSignature, format!("checkpoint: {e}")))?;
    let witnessed = crate::witnesses::check(policy, &note)
        .map_err(|e| alert(AlertKind::Witnesses, e.to_string()))?;
    let (mut auditor, from) = match state {
        None => (Auditor::new(trust.clone()), 0),
        Some(old) => {
            // MonitorState::load refuses a state whose frontier does not fit its size.
            let frontier =
                Frontier::from_parts(old.size, old.frontier.clone()).ok_or_else(|| {
                    alert(
                        AlertKind::Fork,
                        "the saved frontier does not fit the saved size",
                    )
                })?;
            let seen = Checkpoint::new(old.origin.clone(), old.size, old.root);
            check_extends(client, &seen, &latest)
                .await
                .map_err(|e| match e {
                    AuditError::Io(m) => alert(AlertKind::Unreachable, m),
                    e @ AuditError::History(HistoryError::Rollback { .. }) => {
                        alert(AlertKind::Rollback, e.to_string())
                    }
                    other => alert(AlertKind::Fork, other.to_string()),
                })?;
            let saved: Vec<(u64, Vec<u8>)> = old
                .registry_entries
                .iter()
                .map(|(i, leaf)| (*i, leaf.as_bytes().to_vec()))
                .collect();
            let auditor =
                Auditor::resume(trust.clone(), frontier, old.prev, &saved).map_err(|e| {
                    alert(
                        AlertKind::InvalidEntry,
                        format!("replaying the saved registry events with the trust root: {e}"),
                    )
                })?;
            (auditor, old.size)
        }
    };
    let source = Source::Http(client.clone());
    let mut sample = Sample::plan(sampling, from, latest.size);
    audit_entries(
        &source,
        &mut auditor,
        latest.size,
        &Progress::new(0, "", true),
        &mut sample,
    )
    .await
    .map_err(|e| match e {
        AuditError::Entry(VerifyError::Entry { failure, .. }) => alert(
            match failure {
                Failure::Chain => AlertKind::BrokenChain,
                Failure::Signature => AlertKind::BadSignature,
                Failure::Format
                | Failure::UnknownKind
                | Failure::Registry
                | Failure::Unauthorized
                | Failure::Holder
                | Failure::Inconsistent => AlertKind::InvalidEntry,
            },
            e.to_string(),
        ),
        AuditError::Io(m) => alert(AlertKind::Unreachable, m),
        other => alert(AlertKind::Fork, other.to_string()),
    })?;
    auditor.finish(&latest).map_err(|e| {
        alert(
            AlertKind::Fork,
            format!("the entries served do not match the signed checkpoint: {e}"),
        )
    })?;
    sample
        .check(client, log_key, &latest, true)
        .await
        .map_err(|e| match &e {
            AuditError::Answer(answer) => alert(
                match answer.why {
                    AnswerProblem::Conflict { .. } | AnswerProblem::NotExtending { .. } => {
                        AlertKind::Fork
                    }
                    AnswerProblem::Older { .. } => AlertKind::Rollback,
                    _ => AlertKind::BadAnswer,
                },
                e.to_string(),
            ),
            AuditError::Io(m) => alert(AlertKind::Unreachable, m.clone()),
            other => alert(AlertKind::BadAnswer, other.to_string()),
        })?;
    let prev = if latest.size == 0 {
        GENESIS_PREV
    } else {
        auditor.prev()
    };
    Ok((
        MonitorState {
            origin: latest.origin.clone(),
            size: latest.size,
            root: latest.root,
            checkpoint: String::from_utf8_lossy(&note).into_owned(),
            frontier: auditor.frontier().subtrees().to_vec(),
            prev,
            registry_entries: auditor
                .registry_entries()
                .iter()
                .map(|(i, leaf)| (*i, String::from_utf8_lossy(leaf).into_owned()))
                .collect(),
        },
        latest.size - from,
        witnessed,
    ))
}
