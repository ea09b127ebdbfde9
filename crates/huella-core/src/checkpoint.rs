//! C2SP tlog-checkpoints (`c2sp.org/tlog-checkpoint`): a signed note whose text is
//! `<origin>\n<tree size>\n<base64 root>\n` followed by optional extension lines.

use crate::keys::{SignerKey, VerifierKey};
use crate::merkle::Hash;
use crate::note::{self, Note, NoteError};

/// CheckpointError says why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note itself is bad or not signed by the log key.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    Origin {
        /// Origin line found.
        found: String,
        /// Origin expected (the log key's name).
        expected: String,
    },
}

/// Checkpoint is a log's tree head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log; by convention the log key's name.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root of those leaves.
    pub root: Hash,
    /// Optional extension lines (without newlines); not used by Huella.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// new makes a checkpoint without extensions.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// to_text writes the note text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// parse_text reads a checkpoint's note text.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing tree size"))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing root hash"))?;
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        let size = parse_decimal(size).ok_or(CheckpointError::Malformed(
            "tree size must be decimal without leading zeros",
        ))?;
        let root = Hash::from_base64(root)
            .map_err(|_| CheckpointError::Malformed("root must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Malformed("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// sign signs the checkpoint with the log key.
    pub fn sign(&self, log_key: &SignerKey) -> Result<String, CheckpointError> {
        Ok(note::sign(&self.to_text(), &[log_key])?)
    }
}

/// parse_decimal reads an ASCII decimal without sign or leading zeros.
pub fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

/// open verifies a signed checkpoint against the log key, whose name must be the origin.
pub fn open(bytes: &[u8], log_key: &VerifierKey) -> Result<(Checkpoint, Note), CheckpointError> {
    let note = note::open(bytes, std::slice::from_ref(log_key))?;
    let checkpoint = Checkpoint::parse_text(&note.text)?;
    if checkpoint.origin != log_key.name().as_str() {
        return Err(CheckpointError::Origin {
            found: checkpoint.origin,
            expected: log_key.name().to_string(),
        });
    }
    Ok((checkpoint, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyName;

    #[test]
    fn text_round_trips_and_refuses_bad_forms() {
        let cp = Checkpoint::new("example.org/log", 12, crate::merkle::empty_root());
        assert_eq!(Checkpoint::parse_text(&cp.to_text()).unwrap(), cp);
        let root = cp.root.to_base64();
        for bad in [
            format!("example.org/log\n012\n{root}\n"),
            format!("example.org/log\n-1\n{root}\n"),
            format!("example.org/log\n12\n{root}"),
            format!("\n12\n{root}\n"),
            "example.org/log\n12\nAAAA\n".to_string(),
            format!("example.org/log\n12\n{root}\n\n"),
            "example.org/log\n12\n".to_string(),
        ] {
            assert!(Checkpoint::parse_text(&bad).is_err(), "accepted {bad:?}");
        }
        let ext = format!("example.org/log\n12\n{root}\nextra line\n");
        assert_eq!(
            Checkpoint::parse_text(&ext).unwrap().extensions,
            vec!["extra line"]
        );
    }

    #[test]
    fn origin_must_match_log_key() {
        let key = SignerKey::from_seed(KeyName::new("example.org/log").unwrap(), &[3; 32]);
        let other = Checkpoint::new("example.org/other", 0, crate::merkle::empty_root());
        let signed = other.sign(&key).unwrap();
        assert!(matches!(
            open(signed.as_bytes(), &key.verifier()),
            Err(CheckpointError::Origin { .. })
        ));
    }
}
