//! The blind index: how the server finds, without storing any personal value in the clear
//! beside the log, every entry whose `subject`, `record_ref` or `requesting_user` equals a
//! value. Each access entry's three values are indexed under
//! `HMAC-SHA256(key, "huella/blind/v1\n" || field || 0x00 || value)`, with a key that never
//! leaves the server (`blind-index.key` in the data directory, owner-only). A tag says
//! nothing about the value to whoever lacks the key; the key holder can test guesses, which
//! the threat model states.

use std::path::Path;

use hmac::{KeyInit as _, Mac as _};
use huella_core::event::Openings;
use huella_core::sealed::SearchField;

use crate::keyfile::{self, KeyFileError};

/// BlindKey is the blind index's HMAC key.
#[derive(Clone)]
pub struct BlindKey([u8; 32]);

impl std::fmt::Debug for BlindKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindKey(..)")
    }
}

/// FIELDS are the fields a search may match on.
pub const FIELDS: [SearchField; 3] = [
    SearchField::Subject,
    SearchField::RecordRef,
    SearchField::RequestingUser,
];

impl BlindKey {
    /// new is a key of these bytes.
    pub fn new(bytes: [u8; 32]) -> BlindKey {
        BlindKey(bytes)
    }

    /// load_or_create reads the key at `path`, or makes one there (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<BlindKey, KeyFileError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    KeyFileError::Malformed(format!("{}: not a 32-byte key", path.display()))
                })?;
                Ok(BlindKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = keyfile::random_bytes()?;
                keyfile::write_private(path, &key)?;
                Ok(BlindKey(key))
            }
            Err(e) => Err(KeyFileError::Malformed(format!("{}: {e}", path.display()))),
        }
    }

    /// tag is the index tag of `value` in `field`.
    pub fn tag(&self, field: SearchField, value: &str) -> [u8; 32] {
        // Invariant: HMAC takes a key of any length.
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(b"huella/blind/v1\n");
        mac.update(field.name().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// records are the index records of an access entry at `index` with these openings.
    pub fn records(&self, index: u64, openings: &Openings) -> [([u8; 32], u64); 3] {
        FIELDS.map(|field| (self.tag(field, &value(openings, field).value), index))
    }
}

/// value is the opening of `field` among an entry's openings.
pub fn value(openings: &Openings, field: SearchField) -> &huella_core::commitment::Opening {
    use huella_core::commitment::Field;
    openings.opening(match field {
        SearchField::Subject => Field::Subject,
        SearchField::RecordRef => Field::RecordRef,
        SearchField::RequestingUser => Field::RequestingUser,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known answer computed apart, with Python's `hmac` module:
    /// `hmac.new(bytes([77]*32), b"huella/blind/v1\n" + b"subject" + b"\x00" +
    /// b"CO-CC-1012345678", hashlib.sha256).hexdigest()`.
    #[test]
    fn a_tag_is_the_documented_hmac() {
        let tag = BlindKey::new([77; 32]).tag(SearchField::Subject, "CO-CC-1012345678");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "6b0474e6edd06ade6b3e8393ecb1f4e695f4fa7d2b626042526b47ffef1b94a6"
        );
    }
}
