//! C2SP signed notes (`c2sp.org/signed-note`): text ending in a newline, a blank line, and
//! one or more lines `— <key name> base64(key id || signature)`.
//!
//! [`open`] follows the spec: the note must be UTF-8 without control characters other than
//! newline; signatures by unknown keys are ignored; a signature by a known key must verify;
//! and at least one known key must have signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::keys::{KeyName, KeyRef, SignerKey, VerifierKey};

/// MAX_SIGNATURES bounds the signature lines [`open`] reads (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// MAX_NOTE_SIZE bounds a whole note, in bytes.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

const SIG_PREFIX: &str = "\u{2014} ";

/// NoteError says why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note breaks the format.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// The text to sign breaks the format.
    #[error("malformed note text: {0}")]
    MalformedText(&'static str),
    /// A known key's signature does not verify.
    #[error("invalid signature by known key {0}")]
    InvalidSignature(String),
    /// No known key signed the note.
    #[error("no signature by a known key")]
    Unverified,
}

/// NoteSignature is one signature line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name and key id from the line.
    pub key: KeyRef,
    /// The signature bytes after the 4-byte key id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// to_line writes `— name base64(id || sig)\n`.
    pub fn to_line(&self) -> String {
        let mut data = self.key.id.to_be_bytes().to_vec();
        data.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.key.name, B64.encode(data))
    }
}

/// Note is a signed note whose text a known key has verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Signatures that a known key verified.
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys not known to the verifier, kept (e.g. witness cosignatures).
    pub unverified: Vec<NoteSignature>,
}

fn check_chars(text: &str) -> bool {
    !text.chars().any(|c| c < ' ' && c != '\n')
}

/// check_text enforces what a note text must be: non-empty UTF-8 ending in a newline, with no
/// control characters but newline. A text with a blank line at its end is refused too, so
/// that the signed text and the blank separator stay unambiguous.
pub fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::MalformedText("must end with a newline"));
    }
    if text.ends_with("\n\n") || text == "\n" {
        return Err(NoteError::MalformedText("must not end with a blank line"));
    }
    if !check_chars(text) {
        return Err(NoteError::MalformedText(
            "control character other than newline",
        ));
    }
    Ok(())
}

/// sign signs `text` with each signer and returns the whole note.
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::MalformedText("no signers"));
    }
    let mut note = String::with_capacity(text.len() + 1 + signers.len() * 120);
    note.push_str(text);
    note.push('\n');
    for signer in signers {
        let line = NoteSignature {
            key: signer.key_ref().clone(),
            signature: signer.sign(text.as_bytes()).to_vec(),
        };
        note.push_str(&line.to_line());
    }
    Ok(note)
}

/// parse splits a note into text and signature lines, checking its form but no signature.
pub fn parse(bytes: &[u8]) -> Result<(String, Vec<NoteSignature>), NoteError> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(NoteError::Malformed("note too large"));
    }
    let note = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8"))?;
    if !check_chars(note) {
        return Err(NoteError::Malformed("control character other than newline"));
    }
    // The text is separated from the signatures by the last blank line.
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block must end with a newline",
        ));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    let mut signatures = Vec::with_capacity(lines.len());
    for line in lines {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "signature line must start with an em dash and a space",
        ))?;
        let (name, data) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "signature line must be '— name signature'",
        ))?;
        let name = KeyName::new(name).map_err(|_| NoteError::Malformed("invalid key name"))?;
        let data = B64
            .decode(data)
            .map_err(|_| NoteError::Malformed("signature is not standard base64"))?;
        if data.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let id = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        signatures.push(NoteSignature {
            key: KeyRef { name, id },
            signature: data[4..].to_vec(),
        });
    }
    Ok((text.to_string(), signatures))
}

/// open parses a note and verifies it against the known keys.
pub fn open(bytes: &[u8], known: &[VerifierKey]) -> Result<Note, NoteError> {
    let (text, signatures) = parse(bytes)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unverified = Vec::new();
    for sig in signatures {
        match known.iter().find(|k| *k.key_ref() == sig.key) {
            Some(key) => {
                if verified.iter().any(|v| v.key == sig.key) {
                    return Err(NoteError::Malformed("two signatures by the same known key"));
                }
                if !key.verify(text.as_bytes(), &sig.signature) {
                    return Err(NoteError::InvalidSignature(sig.key.to_string()));
                }
                verified.push(sig);
            }
            None => unverified.push(sig),
        }
    }
    if verified.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(Note {
        text,
        verified,
        unverified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
    }

    #[test]
    fn sign_then_open() {
        let a = key("a.example", 1);
        let note = sign("hello\n\nworld\n", &[&a]).unwrap();
        let opened = open(note.as_bytes(), &[a.verifier()]).unwrap();
        assert_eq!(opened.text, "hello\n\nworld\n");
        assert_eq!(opened.verified.len(), 1);
    }

    #[test]
    fn unknown_signatures_are_ignored_but_one_known_is_required() {
        let (a, b) = (key("a.example", 1), key("b.example", 2));
        let note = sign("hi\n", &[&a, &b]).unwrap();
        let opened = open(note.as_bytes(), &[b.verifier()]).unwrap();
        assert_eq!(opened.unverified.len(), 1);
        let only_a = sign("hi\n", &[&a]).unwrap();
        assert_eq!(
            open(only_a.as_bytes(), &[b.verifier()]),
            Err(NoteError::Unverified)
        );
    }

    #[test]
    fn accepts_sixteen_signatures() {
        let keys: Vec<SignerKey> = (0..16).map(|i| key(&format!("k{i}"), i)).collect();
        let refs: Vec<&SignerKey> = keys.iter().collect();
        let note = sign("many\n", &refs).unwrap();
        assert!(open(note.as_bytes(), &[keys[15].verifier()]).is_ok());
    }

    #[test]
    fn malformed_notes_are_refused() {
        let a = key("a.example", 1);
        let good = sign("hi\n", &[&a]).unwrap();
        let known = [a.verifier()];
        for bad in [
            good.replace("\n\n", "\n"),
            good.trim_end().to_string(),
            good.replace('\u{2014}', "-"),
            good.replace("hi", "h\ri"),
            format!("{good}{good}"),
            good.replace(" a.example ", " a.example  "),
        ] {
            assert!(open(bad.as_bytes(), &known).is_err(), "accepted {bad:?}");
        }
        let dup = format!("{good}{}", good.split_once("\n\n").unwrap().1);
        assert!(
            open(dup.as_bytes(), &known).is_err(),
            "accepted duplicate signature"
        );
        assert!(sign("no newline", &[&a]).is_err());
        assert!(sign("blank end\n\n", &[&a]).is_err());
    }
}
