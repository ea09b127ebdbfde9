//! Sealing disclosures to their auditor with RFC 9180 HPKE, base mode, with the suite
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305 (KEM 0x0020, KDF 0x0001, AEAD
//! 0x0003). The server seals a disclosure to the X25519 key the signed read names, with the
//! read entry's leaf hash as associated data; only the holder of the private key opens it.
//! A TLS-terminating proxy, an access log or a stolen response holds ciphertext only.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use huella_core::sealed::Recipient;

/// INFO is HPKE's `info`: what the key schedule binds the ciphertext to.
pub const INFO: &[u8] = b"huella/disclosure/v1";

/// SUITE names the suite, as a sealed disclosure carries it.
pub const SUITE: &str = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305";

/// Sealed is a sealed disclosure as the API answers it: the suite, the encapsulated key and
/// the ciphertext, base64.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Always [`SUITE`].
    pub suite: String,
    /// The encapsulated key (`enc`, 32 bytes), base64.
    pub enc: String,
    /// The ciphertext with its tag, base64.
    pub ciphertext: String,
}

/// seal seals `plaintext` to `recipient`, bound to `aad`.
pub fn seal(recipient: &Recipient, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, String> {
    let key = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&recipient.0)
        .map_err(|e| format!("recipient key: {e}"))?;
    let (enc, ciphertext) =
        hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &key,
            INFO,
            plaintext,
            aad,
        )
        .map_err(|e| format!("sealing: {e}"))?;
    Ok(Sealed {
        suite: SUITE.into(),
        enc: B64.encode(enc.to_bytes()),
        ciphertext: B64.encode(ciphertext),
    })
}

/// open opens a sealed disclosure with the recipient's private key.
pub fn open(private: &[u8; 32], sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, String> {
    if sealed.suite != SUITE {
        return Err(format!("suite {:?} is not {SUITE:?}", sealed.suite));
    }
    let key = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private)
        .map_err(|e| format!("private key: {e}"))?;
    let enc_bytes = B64
        .decode(&sealed.enc)
        .map_err(|_| "enc is not base64".to_string())?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&enc_bytes)
        .map_err(|e| format!("enc: {e}"))?;
    let ciphertext = B64
        .decode(&sealed.ciphertext)
        .map_err(|_| "ciphertext is not base64".to_string())?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &key,
        &enc,
        INFO,
        &ciphertext,
        aad,
    )
    .map_err(|e| format!("opening: {e} (not sealed to this key, or altered)"))
}

/// keypair makes a fresh X25519 key pair: the private key (keep it) and the recipient to
/// name in a read.
pub fn keypair() -> ([u8; 32], Recipient) {
    let (private, public) = X25519HkdfSha256::gen_keypair();
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&private.to_bytes());
    let mut recipient = [0u8; 32];
    recipient.copy_from_slice(&public.to_bytes());
    (secret, Recipient(recipient))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_disclosure_opens_with_its_key_and_aad_only() {
        let (private, recipient) = keypair();
        let sealed = seal(&recipient, b"aad", b"CO-CC-0000000042").unwrap();
        assert!(!sealed.ciphertext.contains("CO-CC"));
        assert_eq!(
            open(&private, &sealed, b"aad").unwrap(),
            b"CO-CC-0000000042"
        );
        assert!(open(&private, &sealed, b"other").is_err());
        let (other, _) = keypair();
        assert!(open(&other, &sealed, b"aad").is_err());
    }
}
