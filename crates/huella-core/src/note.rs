//! C2SP signed notes (`c2sp.org/signed-note`): text ending in a newline, a blank line, and
//! one or more lines `— <key name> base64(key id || signature)`.
//!
//! [`open`] follows the spec: the note must be UTF-8 without control characters other than
//! newline; signatures by unknown keys are ignored; a signature by a known key must verify;
//! and at least one known key must have signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::keys::{KeyRef, SignerKey, VerifierKey};

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

/// DUPLICATE is the [`NoteError::Malformed`] reason for a second signature line by a known
/// key.
pub const DUPLICATE: &str = "two signatures by the same known key";

/// NoteSignature is one signature line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name from the line: a C2SP key name (non-empty, no Unicode spaces, no `+`), which
    /// need not be one Huella would give its own keys ([`crate::keys::KeyName`]): lines by other keys
    /// are ignored, not refused, whatever their names.
    pub name: String,
    /// Key id from the line.
    pub id: u32,
    /// The signature bytes after the 4-byte key id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// to_line writes `— name base64(id || sig)\n`.
    pub fn to_line(&self) -> String {
        let mut data = self.id.to_be_bytes().to_vec();
        data.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(data))
    }

    /// is_by says whether the line names `key`: the same name and the same id.
    pub fn is_by(&self, key: &KeyRef) -> bool {
        self.id == key.id && self.name == key.name.as_str()
    }
}

/// is_key_name is C2SP's rule for a key name, and no more: non-empty, no Unicode spaces (Go's
/// `unicode.IsSpace`, which is Unicode White_Space), no `+`.
fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
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
            name: signer.name().to_string(),
            id: signer.key_ref().id,
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
        // Only C2SP's own rules here: a line that meets them is a signature, to be ignored
        // if its key is unknown (C2SP: "Verifiers MUST ignore signatures from unknown keys"),
        // even if its name is one Huella would refuse for a key of its own.
        if !is_key_name(name) {
            return Err(NoteError::Malformed("invalid key name"));
        }
        let data = B64
            .decode(data)
            .map_err(|_| NoteError::Malformed("signature is not standard base64"))?;
        // C2SP: "the base64 encoding of 4+n bytes", a key id and a signature (Go's reference
        // refuses an empty signature too).
        let Some((id, signature)) = data.split_first_chunk::<4>() else {
            return Err(NoteError::Malformed("signature too short"));
        };
        if signature.is_empty() {
            return Err(NoteError::Malformed("signature too short"));
        }
        signatures.push(NoteSignature {
            name: name.to_string(),
            id: u32::from_be_bytes(*id),
            signature: signature.to_vec(),
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
        match known.iter().find(|k| sig.is_by(k.key_ref())) {
            Some(key) => {
                if verified.iter().any(|v| v.is_by(key.key_ref())) {
                    return Err(NoteError::Malformed(DUPLICATE));
                }
                if !key.verify(text.as_bytes(), &sig.signature) {
                    return Err(NoteError::InvalidSignature(key.key_ref().to_string()));
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
    use crate::keys::KeyName;

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

    /// The example of C2SP signed-note, "Verifier keys": this key verifies this note.
    const SPEC_KEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo \
        Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    /// spec_note_with adds signature lines to the spec's example note.
    fn spec_note_with(lines: &[String]) -> String {
        format!("{SPEC_NOTE}{}", lines.concat())
    }

    /// line writes a signature line by hand: name, key id, and `n` bytes of signature.
    fn line(name: &str, id: u32, n: usize) -> String {
        let mut data = id.to_be_bytes().to_vec();
        data.resize(4 + n, 0x5a);
        format!("\u{2014} {name} {}\n", B64.encode(data))
    }

    #[test]
    fn the_spec_example_verifies() {
        let key = VerifierKey::parse(SPEC_KEY).unwrap();
        let opened = open(SPEC_NOTE.as_bytes(), std::slice::from_ref(&key)).unwrap();
        assert_eq!(opened.text, "This is an example message.\n");
        assert!(opened.verified[0].is_by(key.key_ref()));
        assert!(opened.unverified.is_empty());
    }

    #[test]
    fn well_formed_lines_from_unknown_keys_are_ignored_whatever_their_names() {
        // C2SP: "Verifiers MUST ignore signatures from unknown keys, even if they share a
        // name or ID (but not both) with a known key." A key name is only "non-empty" without
        // "Unicode spaces or plus (U+002B) characters"; the note only has no code point below
        // U+0020 but newline. So each of these lines is a signature, by a key we do not know.
        let key = VerifierKey::parse(SPEC_KEY).unwrap();
        let unknown = [
            line("example.com/foo", 0x530d903b, 64), // the known name, another id
            line("example.com/bar", 0x530d903a, 64), // another name, the known id
            line("witness.example/w1", 7, 64),
            line("witness.example/ml-dsa", 8, 2420), // any length: another algorithm
            line("witness.example/tiny", 9, 1),
            line("bad\u{7f}name", 10, 64),   // DEL: no space, no plus
            line("\u{202e}evil", 11, 64),    // a bidi override, which Huella refuses
            line("tab\u{200b}less", 12, 64), // a zero-width space is not White_Space
            line("\u{2014}", 13, 64),        // an em dash alone is a name
            line("é/ü/\u{fe0f}", 14, 64),
        ];
        for extra in &unknown {
            for note in [spec_note_with(std::slice::from_ref(extra)), {
                // Before the known signature as well as after it.
                let (text, sig) = SPEC_NOTE.split_once("\n\n").unwrap();
                format!("{text}\n\n{extra}{sig}")
            }] {
                let opened = open(note.as_bytes(), std::slice::from_ref(&key))
                    .unwrap_or_else(|e| panic!("{extra:?}: {e}"));
                assert_eq!(opened.verified.len(), 1, "{extra:?}");
                assert_eq!(opened.unverified.len(), 1, "{extra:?}");
                assert_eq!(opened.unverified[0].to_line(), *extra);
            }
        }
        let all = spec_note_with(&unknown);
        let opened = open(all.as_bytes(), std::slice::from_ref(&key)).unwrap();
        assert_eq!(opened.unverified.len(), unknown.len());
        // Alone, they prove nothing: "If no signature from a known key verifies
        // successfully, clients MUST reject the note."
        let (text, _) = SPEC_NOTE.split_once("\n\n").unwrap();
        let only_unknown = format!("{text}\n\n{}", unknown.concat());
        assert_eq!(
            open(only_unknown.as_bytes(), std::slice::from_ref(&key)),
            Err(NoteError::Unverified)
        );
    }

    #[test]
    fn lines_that_break_the_format_reject_the_note_whoever_they_name() {
        // C2SP's format: "em dash (U+2014), space (U+0020), key name, space, base64-encoded
        // signature, newline"; names "MUST be non-empty and MUST NOT contain any Unicode
        // spaces or plus (U+002B) characters"; signatures are "the base64 encoding of 4+n
        // bytes". A line that is none of these is not a signature line, so the input is not
        // a signed note, whichever key the line seems to name.
        let key = VerifierKey::parse(SPEC_KEY).unwrap();
        let sig = B64.encode([0x5a; 68]);
        let broken = [
            format!("- witness.example {sig}\n"),         // not an em dash
            format!("\u{2014}witness.example {sig}\n"),   // no space after it
            "\u{2014} witness.example\n".to_string(),     // no signature
            format!("\u{2014}  {sig}\n"),                 // empty name
            format!("\u{2014} a+b {sig}\n"),              // plus in the name
            format!("\u{2014} a\u{a0}b {sig}\n"),         // no-break space in the name
            format!("\u{2014} a\u{85}b {sig}\n"),         // next line (White_Space)
            format!("\u{2014} a\u{3000}b {sig}\n"),       // ideographic space
            format!("\u{2014} witness.example {sig} \n"), // trailing space
            "\u{2014} witness.example not-base64!\n".to_string(),
            "\u{2014} witness.example AAAAAAA\n".to_string(), // unpadded
            "\u{2014} witness.example AAAAAA==\n".to_string(), // 4 bytes: no signature
            "\u{2014} witness.example AAA=\n".to_string(),    // 2 bytes
            "\n".to_string(),                                 // an empty line
        ];
        for bad in &broken {
            let note = spec_note_with(std::slice::from_ref(bad));
            assert!(
                matches!(
                    open(note.as_bytes(), std::slice::from_ref(&key)),
                    Err(NoteError::Malformed(_))
                ),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn a_known_key_must_verify() {
        // "If the key name and ID match a known key, verifiers MUST verify the signature. If
        // a signature from a known key fails to verify, clients SHOULD reject the whole note."
        let key = VerifierKey::parse(SPEC_KEY).unwrap();
        let (text, _) = SPEC_NOTE.split_once("\n\n").unwrap();
        for n in [64, 1, 2420] {
            let forged = format!("{text}\n\n{}", line("example.com/foo", 0x530d903a, n));
            assert_eq!(
                open(forged.as_bytes(), std::slice::from_ref(&key)),
                Err(NoteError::InvalidSignature(key.key_ref().to_string()))
            );
        }
    }
}
