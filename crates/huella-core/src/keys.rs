//! C2SP signed-note Ed25519 keys: names, key ids, verifier and signer key strings.
//!
//! - key id = SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian
//! - verifier key: `name+hexid+base64(0x01 || public key)`
//! - signer key: `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`
//!
//! Verification is strict: small-order ("weak") public keys are refused when a key is
//! parsed, and signatures are checked with `verify_strict`, which rejects non-canonical and
//! small-order signature components.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// ALG_ED25519 is the signed-note signature type byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;

/// KeyError says why a key string or key name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The name is empty or has a space, a `+` or an invisible character. (The error does
    /// not quote the name: it may come from a submission, whose errors never quote input.)
    #[error("invalid key name: must be non-empty, without spaces, '+' or invisible characters")]
    Name,
    /// The string is not `name+hexid+base64`.
    #[error("malformed key string: {0}")]
    Malformed(&'static str),
    /// The algorithm byte is not Ed25519's.
    #[error("unsupported key algorithm 0x{0:02x} (only Ed25519, 0x01)")]
    Algorithm(u8),
    /// The public key is not a valid, non-weak Ed25519 point.
    #[error("invalid Ed25519 public key: {0}")]
    PublicKey(&'static str),
    /// The key id in the string is not the one the name and key give.
    #[error("key id {given:08x} does not match the key (computed {computed:08x})")]
    IdMismatch {
        /// The id written in the string.
        given: u32,
        /// The id computed from name and key.
        computed: u32,
    },
}

/// KeyName is the name of a key Huella uses: a signed-note key name (non-empty, no Unicode
/// spaces, no `+`) that is also visible text (no control, format or other invisible
/// character, [`crate::values::invisible`]), since events and checkpoints show it to readers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// new checks a key name.
    pub fn new(name: impl Into<String>) -> Result<KeyName, KeyError> {
        let name = name.into();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c == '+' || crate::values::invisible(c).is_some())
        {
            return Err(KeyError::Name);
        }
        Ok(KeyName(name))
    }

    /// as_str returns the name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// key_id is the C2SP key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4].
pub fn key_id(name: &KeyName, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_str().as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Key ids are 8 lowercase hex digits, as every implementation writes them. Upper case is
/// refused so that a key has one spelling: an event naming a key in upper case would be
/// re-serialized in lower case and fail its signature for no visible reason.
fn parse_hex_id(text: &str) -> Result<u32, KeyError> {
    const WANT: &str = "key id must be 8 lowercase hex digits";
    if text.len() != 8
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(KeyError::Malformed(WANT));
    }
    u32::from_str_radix(text, 16).map_err(|_| KeyError::Malformed(WANT))
}

/// Split `name+hexid+base64` into its parts and decode the `0x01 || 32 bytes` payload.
fn split_key(text: &str) -> Result<(KeyName, u32, [u8; 32]), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("want name+hexid+base64"));
    };
    let name = KeyName::new(name)?;
    let id = parse_hex_id(id)?;
    let raw = Zeroizing::new(
        B64.decode(data)
            .map_err(|_| KeyError::Malformed("key data is not standard base64"))?,
    );
    if raw.len() != 33 {
        return Err(KeyError::Malformed(
            "key data must be 33 bytes (0x01 || 32-byte key)",
        ));
    }
    if raw[0] != ALG_ED25519 {
        return Err(KeyError::Algorithm(raw[0]));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[1..]);
    Ok((name, id, key))
}

/// KeyRef names a key the way a signature line does: name and key id, `name+hexid`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    /// The key's name.
    pub name: KeyName,
    /// The key's id.
    pub id: u32,
}

impl KeyRef {
    /// parse reads `name+hexid`.
    pub fn parse(text: &str) -> Result<KeyRef, KeyError> {
        let (name, id) = text
            .split_once('+')
            .ok_or(KeyError::Malformed("want name+hexid"))?;
        Ok(KeyRef {
            name: KeyName::new(name)?,
            id: parse_hex_id(id)?,
        })
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}", self.name, self.id)
    }
}

impl serde::Serialize for KeyRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyRef, D::Error> {
        let text = crate::quiet::text(d)?;
        KeyRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// VerifierKey is a named Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    /// Name and id, as they appear in signature lines.
    key_ref: KeyRef,
    /// The public key, checked to be a valid non-weak point.
    key: VerifyingKey,
}

impl VerifierKey {
    /// parse reads a verifier key string `name+hexid+base64(0x01 || key)`.
    pub fn parse(text: &str) -> Result<VerifierKey, KeyError> {
        let (name, id, bytes) = split_key(text)?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::PublicKey("not a valid curve point"))?;
        if key.is_weak() {
            return Err(KeyError::PublicKey("small-order (weak) key"));
        }
        let computed = key_id(&name, &bytes);
        if computed != id {
            return Err(KeyError::IdMismatch {
                given: id,
                computed,
            });
        }
        Ok(VerifierKey {
            key_ref: KeyRef { name, id },
            key,
        })
    }

    /// name is the key's name.
    pub fn name(&self) -> &KeyName {
        &self.key_ref.name
    }

    /// id is the key's id.
    pub fn id(&self) -> u32 {
        self.key_ref.id
    }

    /// key_ref is `name+hexid`.
    pub fn key_ref(&self) -> &KeyRef {
        &self.key_ref
    }

    /// public_key is the raw 32-byte Ed25519 key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// verify checks a 64-byte Ed25519 signature over `message`, strictly.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut data = [0u8; 33];
        data[0] = ALG_ED25519;
        data[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{}", self.key_ref, B64.encode(data))
    }
}

impl serde::Serialize for VerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for VerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VerifierKey, D::Error> {
        let text = crate::quiet::text(d)?;
        VerifierKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// SignerKey is a named Ed25519 private key. Its seed is zeroized on drop and never
/// printed by `Debug`.
pub struct SignerKey {
    /// Name and id of the matching verifier key.
    key_ref: KeyRef,
    /// The private key (zeroized on drop by ed25519-dalek).
    key: SigningKey,
}

impl SignerKey {
    /// from_seed makes a signer key from a 32-byte RFC 8032 seed. The caller supplies the
    /// randomness, so the core stays deterministic.
    pub fn from_seed(name: KeyName, seed: &[u8; 32]) -> SignerKey {
        let key = SigningKey::from_bytes(seed);
        let id = key_id(&name, key.verifying_key().as_bytes());
        SignerKey {
            key_ref: KeyRef { name, id },
            key,
        }
    }

    /// parse reads `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`.
    pub fn parse(text: &str) -> Result<SignerKey, KeyError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, id, seed) = split_key(rest)?;
        let seed = Zeroizing::new(seed);
        let signer = SignerKey::from_seed(name, &seed);
        if signer.key_ref.id != id {
            return Err(KeyError::IdMismatch {
                given: id,
                computed: signer.key_ref.id,
            });
        }
        Ok(signer)
    }

    /// to_private_string writes the signer key string. Handle with care: it is the secret.
    pub fn to_private_string(&self) -> Zeroizing<String> {
        let mut data = Zeroizing::new([0u8; 33]);
        data[0] = ALG_ED25519;
        data[1..].copy_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}",
            self.key_ref,
            B64.encode(*data)
        ))
    }

    /// verifier is the matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            key_ref: self.key_ref.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// key_ref is `name+hexid`.
    pub fn key_ref(&self) -> &KeyRef {
        &self.key_ref
    }

    /// name is the key's name.
    pub fn name(&self) -> &KeyName {
        &self.key_ref.name
    }

    /// sign makes a deterministic RFC 8032 Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}, private)", self.key_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_strings_round_trip() {
        let signer = SignerKey::from_seed(KeyName::new("example.org/a").unwrap(), &[7u8; 32]);
        let private = signer.to_private_string();
        let again = SignerKey::parse(&private).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let vk = VerifierKey::parse(&signer.verifier().to_string()).unwrap();
        assert_eq!(vk, signer.verifier());
        assert!(!format!("{signer:?}").contains(&private[12..]));
    }

    #[test]
    fn mangled_keys_are_refused() {
        let vk = SignerKey::from_seed(KeyName::new("n").unwrap(), &[1u8; 32])
            .verifier()
            .to_string();
        assert!(
            VerifierKey::parse(&vk.replacen("n+", "m+", 1)).is_err(),
            "wrong id for name"
        );
        assert!(VerifierKey::parse("n+0000+AQ==").is_err());
        let (name_id, data) = vk.rsplit_once('+').unwrap();
        let upper = format!("{}+{data}", name_id.to_uppercase().replacen('N', "n", 1));
        assert_ne!(upper, vk, "the id has a letter to upper-case");
        assert_eq!(
            VerifierKey::parse(&upper),
            Err(KeyError::Malformed("key id must be 8 lowercase hex digits"))
        );
        assert!(VerifierKey::parse("a b+00000000+AQ==").is_err());
        // A small-order point (the identity) is refused even with a matching id.
        let name = KeyName::new("weak").unwrap();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(&identity);
        let weak = format!("weak+{:08x}+{}", key_id(&name, &identity), B64.encode(data));
        assert_eq!(
            VerifierKey::parse(&weak),
            Err(KeyError::PublicKey("small-order (weak) key"))
        );
    }

    #[test]
    fn signatures_verify_strictly() {
        let signer = SignerKey::from_seed(KeyName::new("n").unwrap(), &[2u8; 32]);
        let vk = signer.verifier();
        let sig = signer.sign(b"hello");
        assert!(vk.verify(b"hello", &sig));
        assert!(!vk.verify(b"hellp", &sig));
        assert!(!vk.verify(b"hello", &sig[..63]));
        // Non-canonical S (S + group order L) must be rejected.
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(s[i]) + u16::from(l[i]) + carry;
            s[i] = sum as u8;
            carry = sum >> 8;
        }
        let mut bad = sig;
        bad[32..].copy_from_slice(&s);
        assert!(!vk.verify(b"hello", &bad));
    }
}
