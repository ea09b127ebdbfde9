//! Why an audit stopped: the log failed verification (exit 1), or it could not be checked
//! (exit 2).

use huella_core::verify::VerifyError;

/// AuditError separates "the log failed verification" (exit 1) from "could not check"
/// (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log, bundle or receipt is not what it claims to be.
    #[error("verification failed: {0}")]
    Failed(String),
    /// An entry failed a check.
    #[error("verification failed: {0}")]
    Entry(#[from] VerifyError),
    /// Reading failed (network, file) or the input is unusable.
    #[error("{0}")]
    Io(String),
}

impl AuditError {
    /// exit_code: 1 for a failed verification, 2 for usage or I/O errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::Failed(_) | AuditError::Entry(_) => 1,
            AuditError::Io(_) => 2,
        }
    }
}

pub(crate) fn io(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io(e.to_string())
}
