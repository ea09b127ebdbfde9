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
    let enc = B64
        .decode(&sealed.enc)
        .map_err(|_| "enc is not base64".to_string())?;
    let ciphertext = B64
        .decode(&sealed.ciphertext)
        .map_err(|_| "ciphertext is not base64".to_string())?;
    open_base(private, &enc, INFO, &ciphertext, aad)
}

/// open_base is RFC 9180 single-shot `Open` in base mode with this suite: the key schedule
/// bound to `info`, sequence number 0.
fn open_base(
    private: &[u8; 32],
    enc: &[u8],
    info: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let key = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private)
        .map_err(|e| format!("private key: {e}"))?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|e| format!("enc: {e}"))?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &key,
        &enc,
        info,
        ciphertext,
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9180, Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    /// ChaCha20Poly1305, base mode) and A.2.1.1, sequence number 0: the RFC's recipient key
    /// opens the RFC's ciphertext to the RFC's plaintext, and its public key is the RFC's
    /// pkRm. Any other info, aad or a flipped bit fails.
    #[test]
    fn rfc_9180_a_2_1_base_vector_opens() {
        let sk_r: [u8; 32] =
            hex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
                .try_into()
                .unwrap();
        let pk_r = hex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
        let enc = hex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
        let info = hex("4f6465206f6e2061204772656369616e2055726e");
        let aad = hex("436f756e742d30");
        let ct = hex(concat!(
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db",
            "21993c62ce81883d2dd1b51a28"
        ));
        let pt = hex("4265617574792069732074727574682c20747275746820626561757479");
        let private = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&sk_r).unwrap();
        assert_eq!(
            X25519HkdfSha256::sk_to_pk(&private).to_bytes().to_vec(),
            pk_r
        );
        assert_eq!(open_base(&sk_r, &enc, &info, &ct, &aad).unwrap(), pt);
        assert_eq!(pt, b"Beauty is truth, truth beauty");
        assert!(open_base(&sk_r, &enc, INFO, &ct, &aad).is_err());
        assert!(open_base(&sk_r, &enc, &info, &ct, b"Count-1").is_err());
        let mut flipped = ct.clone();
        flipped[0] ^= 1;
        assert!(open_base(&sk_r, &enc, &info, &flipped, &aad).is_err());
        // The same through the API's form, which binds this suite's own info instead.
        let sealed = Sealed {
            suite: SUITE.into(),
            enc: B64.encode(&enc),
            ciphertext: B64.encode(&ct),
        };
        assert!(open(&sk_r, &sealed, &aad).is_err());
    }
}
