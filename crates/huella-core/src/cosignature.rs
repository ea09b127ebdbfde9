//! C2SP tlog-cosignature `cosignature/v1`: a witness's timestamped Ed25519 statement that a
//! checkpoint is the largest consistent tree it has seen for the log.
//!
//! - key id = SHA-256(name || 0x0A || 0x04 || public key)[:4]
//! - verifier key (vkey): `name+hexid+base64(0x04 || public key)`
//! - signer key: `PRIVATE+KEY+name+hexid+base64(0x04 || seed)` (Huella's own form for a
//!   witness key file, the signed-note form with the cosignature type byte)
//! - signed message: `cosignature/v1\n` `time <t>\n` then the checkpoint's note body (its
//!   text, with its final newline, without the signature lines)
//! - signature line: `— name base64(key id (4) || timestamp (8, big-endian) || signature (64))`

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyName};
use crate::note::{NoteError, NoteSignature};

/// ALG_COSIGNATURE_V1 is the signed-note signature type byte of Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// HEADER is the signed message's first line.
pub const HEADER: &str = "cosignature/v1\n";

/// MAX_TIMESTAMP is the largest timestamp a cosignature may carry (2^63 − 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// key_id is the cosigner key id: SHA-256(name || 0x0A || 0x04 || key)[:4].
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_COSIGNATURE_V1]);
    h.update(public_key);
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// signed_message is what a cosigner signs for the note body `body` at `time`.
pub fn signed_message(body: &str, time: u64) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER.len() + 26 + body.len());
    message.extend_from_slice(HEADER.as_bytes());
    message.extend_from_slice(format!("time {time}\n").as_bytes());
    message.extend_from_slice(body.as_bytes());
    message
}

/// split reads `name+hexid+base64(0x04 || 32 bytes)`.
fn split(text: &str) -> Result<(KeyName, u32, Zeroizing<[u8; 32]>), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("want name+hexid+base64"));
    };
    let name = KeyName::new(name)?;
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyError::Malformed(
            "key id must be 8 lower-case hex digits",
        ));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| KeyError::Malformed("bad key id"))?;
    let raw = Zeroizing::new(
        B64.decode(data)
            .map_err(|_| KeyError::Malformed("key is not standard base64"))?,
    );
    if raw.len() != 33 {
        return Err(KeyError::Malformed("key must be 33 bytes: type and key"));
    }
    if raw[0] != ALG_COSIGNATURE_V1 {
        return Err(KeyError::Algorithm(raw[0]));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&raw[1..]);
    Ok((name, id, key))
}

/// CosignerKey is a witness's public key for `cosignature/v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    name: KeyName,
    id: u32,
    key: VerifyingKey,
}

impl CosignerKey {
    /// parse reads a cosigner vkey, `name+hexid+base64(0x04 || key)`, checking the key id.
    pub fn parse(text: &str) -> Result<CosignerKey, KeyError> {
        let (name, id, bytes) = split(text)?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::PublicKey("not a valid curve point"))?;
        if key.is_weak() {
            return Err(KeyError::PublicKey("small-order (weak) key"));
        }
        let computed = key_id(name.as_str(), &bytes);
        if computed != id {
            return Err(KeyError::IdMismatch {
                given: id,
                computed,
            });
        }
        Ok(CosignerKey { name, id, key })
    }

    /// name is the cosigner's name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// id is the key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// public_key is the raw Ed25519 key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// signs says whether a signature line names this key (its name and id).
    pub fn signs(&self, line: &NoteSignature) -> bool {
        line.name == self.name.as_str() && line.id == self.id
    }

    /// verify checks a signature line's payload (timestamp and signature) against the note
    /// body, and returns the timestamp.
    pub fn verify(&self, body: &str, payload: &[u8]) -> Result<u64, CosignatureError> {
        let Some((time, signature)) = payload.split_first_chunk::<8>() else {
            return Err(CosignatureError::Length(payload.len()));
        };
        if signature.len() != 64 {
            return Err(CosignatureError::Length(payload.len()));
        }
        let time = u64::from_be_bytes(*time);
        if time > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(time));
        }
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return Err(CosignatureError::Signature(self.to_string()));
        };
        self.key
            .verify_strict(&signed_message(body, time), &signature)
            .map_err(|_| CosignatureError::Signature(self.to_string()))?;
        Ok(time)
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut data = [0u8; 33];
        data[0] = ALG_COSIGNATURE_V1;
        data[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(data))
    }
}

/// CosignerSigner is a witness's private key for `cosignature/v1`. Its seed is zeroized on
/// drop and never printed.
pub struct CosignerSigner {
    name: KeyName,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for CosignerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerSigner({}+{:08x})", self.name, self.id)
    }
}

impl CosignerSigner {
    /// from_seed makes a cosigner key from a 32-byte RFC 8032 seed.
    pub fn from_seed(name: KeyName, seed: &[u8; 32]) -> CosignerSigner {
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name.as_str(), key.verifying_key().as_bytes());
        CosignerSigner { name, id, key }
    }

    /// parse reads `PRIVATE+KEY+name+hexid+base64(0x04 || seed)`.
    pub fn parse(text: &str) -> Result<CosignerSigner, KeyError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, id, seed) = split(rest)?;
        let signer = CosignerSigner::from_seed(name, &seed);
        if signer.id != id {
            return Err(KeyError::IdMismatch {
                given: id,
                computed: signer.id,
            });
        }
        Ok(signer)
    }

    /// to_private_string writes the signer key string. It is the secret.
    pub fn to_private_string(&self) -> Zeroizing<String> {
        let mut data = Zeroizing::new([0u8; 33]);
        data[0] = ALG_COSIGNATURE_V1;
        data[1..].copy_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(data.as_slice())
        ))
    }

    /// verifier is the matching public key.
    pub fn verifier(&self) -> CosignerKey {
        CosignerKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// cosign signs the note body `body` at `time` and returns the signature line, ending in
    /// a newline.
    pub fn cosign(&self, body: &str, time: u64) -> String {
        let signature = self.key.sign(&signed_message(body, time));
        let mut payload = time.to_be_bytes().to_vec();
        payload.extend_from_slice(&signature.to_bytes());
        NoteSignature {
            name: self.name.as_str().to_string(),
            id: self.id,
            signature: payload,
        }
        .to_line()
    }
}

/// CosignatureError says why a cosignature line does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The note is not a signed note.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The line's payload is not 8 + 64 bytes.
    #[error("a cosignature/v1 line holds 76 bytes (key id, timestamp, signature), not {}", .0 + 4)]
    Length(usize),
    /// The timestamp is over 2^63 − 1.
    #[error("cosignature timestamp {0} is over 2^63 - 1")]
    Timestamp(u64),
    /// A known cosigner's line does not verify: the note is malformed (signed-note).
    #[error("the cosignature by known witness key {0} does not verify")]
    Signature(String),
    /// A known cosigner signed twice.
    #[error("two cosignatures by witness key {0}")]
    Twice(String),
    /// A known witness's line does not verify: which witness (its position in the keys
    /// given, and a name for people), and why.
    #[error("witness {name}: {why}")]
    Witness {
        /// The key's position in the list given to [`verify_note`].
        key: usize,
        /// Who, for people: the key's vkey (a policy puts its own name first).
        name: String,
        /// Why its line does not verify.
        why: Box<CosignatureError>,
    },
}

/// Cosigned is a verified cosignature: which of the keys given, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The position of the key in the list given to [`verify_note`].
    pub key: usize,
    /// The cosignature's timestamp (POSIX seconds).
    pub time: u64,
}

/// verify_note finds the cosignatures in a signed note by any of `keys`, and verifies each.
/// Lines by other keys are ignored; a line that names a known key but does not verify
/// makes the note malformed (signed-note), and so does a second line by the same key.
pub fn verify_note(note: &[u8], keys: &[CosignerKey]) -> Result<Vec<Cosigned>, CosignatureError> {
    let (body, lines) = crate::note::parse(note)?;
    let mut found: Vec<Cosigned> = Vec::new();
    for line in &lines {
        let Some(key) = keys.iter().position(|k| k.signs(line)) else {
            continue;
        };
        let fail = |why: CosignatureError| CosignatureError::Witness {
            key,
            name: keys[key].to_string(),
            why: Box::new(why),
        };
        if found.iter().any(|c| c.key == key) {
            return Err(fail(CosignatureError::Twice(keys[key].to_string())));
        }
        let time = keys[key].verify(&body, &line.signature).map_err(fail)?;
        found.push(Cosigned { key, time });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example cosignature line of C2SP tlog-cosignature ("— witness.example.com/w1 …")
    /// carries key id 0x8d66cf3f and the timestamp of the spec's example message,
    /// 1679315147 (`time 1679315147`).
    #[test]
    fn the_spec_example_line_reads_as_the_spec_says() {
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
            \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
            \u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let (_, lines) = crate::note::parse(note.as_bytes()).unwrap();
        let witness = &lines[1];
        assert_eq!(witness.name, "witness.example.com/w1");
        assert_eq!(witness.signature.len(), 8 + 64);
        let time = u64::from_be_bytes(witness.signature[..8].try_into().unwrap());
        assert_eq!(time, 1_679_315_147);
        assert_eq!(witness.id, 0x8d66_cf3f);
        assert_eq!(
            String::from_utf8(signed_message("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 1_679_315_147)).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    /// Known answers computed outside this crate, from the spec text alone, with Python's
    /// `cryptography` (Ed25519 is deterministic):
    ///
    /// ```python
    /// sk = Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32)
    /// pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    /// kid = sha256(b"witness.example/w1\n\x04" + pk).digest()[:4]
    /// msg = b"cosignature/v1\ntime 1679315147\n" + body
    /// line = "— witness.example/w1 " + b64encode(kid + t.to_bytes(8, "big") + sk.sign(msg))
    /// ```
    #[test]
    fn known_answers_from_an_independent_implementation() {
        let signer =
            CosignerSigner::from_seed(KeyName::new("witness.example/w1").unwrap(), &[9; 32]);
        assert_eq!(
            signer.verifier().to_string(),
            "witness.example/w1+24b5d9fe+BP0XJDhaoMdbZPt4zWAvodmR/ev3axPFjtcC6sg16fYY"
        );
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            signer.cosign(body, 1_679_315_147),
            "\u{2014} witness.example/w1 JLXZ/gAAAABkGFDLSEwbtADY9t5XeSzDTVuiqYN5nZfoc9NQOUgkPYm4wwjIUL68Nczz1tpzCjnpmnRXttgqVVwOg3WfE7AXqa+DAg==\n"
        );
    }

    #[test]
    fn a_cosignature_verifies_and_a_changed_one_does_not() {
        let signer =
            CosignerSigner::from_seed(KeyName::new("witness.example/w1").unwrap(), &[9; 32]);
        let key = signer.verifier();
        assert_eq!(CosignerKey::parse(&key.to_string()).unwrap(), key);
        let again = CosignerSigner::parse(&signer.to_private_string()).unwrap();
        assert_eq!(again.verifier(), key);
        let body = "log.example/a\n5\nKgOSCcyxUOoNHhv95Udc9EeVmw8enUcXzpvOpbyeL9c=\n";
        let line = signer.cosign(body, 1_800_000_000);
        let note = format!("{body}\n{line}");
        let found = verify_note(note.as_bytes(), std::slice::from_ref(&key)).unwrap();
        assert_eq!(
            found,
            vec![Cosigned {
                key: 0,
                time: 1_800_000_000
            }]
        );
        // Another body: the same line does not verify, and the note is malformed.
        let other =
            format!("log.example/a\n6\nKgOSCcyxUOoNHhv95Udc9EeVmw8enUcXzpvOpbyeL9c=\n\n{line}");
        assert!(matches!(
            verify_note(other.as_bytes(), std::slice::from_ref(&key)),
            Err(CosignatureError::Witness { key: 0, ref why, .. }) if matches!(**why, CosignatureError::Signature(_))
        ));
        // Twice the same key.
        let twice = format!("{body}\n{line}{}", signer.cosign(body, 1_800_000_001));
        assert!(matches!(
            verify_note(twice.as_bytes(), std::slice::from_ref(&key)),
            Err(CosignatureError::Witness { ref why, .. }) if matches!(**why, CosignatureError::Twice(_))
        ));
        // A log key (type 0x01) is not a cosigner key.
        let log =
            crate::keys::SignerKey::from_seed(KeyName::new("log.example/a").unwrap(), &[1; 32]);
        assert!(matches!(
            CosignerKey::parse(&log.verifier().to_string()),
            Err(KeyError::Algorithm(1))
        ));
        // Unknown keys are ignored.
        assert!(verify_note(note.as_bytes(), &[]).unwrap().is_empty());
    }
}
