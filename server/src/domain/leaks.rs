//! Signature checks for leaked-key reports (GitHub secret scanning's partner
//! program): the raw request body is signed with ECDSA P-256 / SHA-256 (an
//! ASN.1 DER signature, base64 in `Github-Public-Key-Signature`) by a key
//! whose public half is configured in `KEYWARD_LEAK_REPORT_PUBLIC_KEYS`.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use sha2::{Digest, Sha256};

/// Whether `der` is an X.509 `SubjectPublicKeyInfo` of a P-256 key.
pub fn is_p256_public_key(der: &[u8]) -> bool {
    ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).is_ok()
}

/// Whether `signature_b64` signs `body` under one of `keys`. The identifier
/// GitHub sends picks the key when it is the hex SHA-256 of the key's DER;
/// otherwise every configured key is tried (there are only a few).
pub fn signature_valid(keys: &[Vec<u8>], identifier: Option<&str>, signature_b64: &str, body: &[u8]) -> bool {
    let Ok(signature) = BASE64.decode(signature_b64.trim()) else { return false };
    let named =
        identifier.and_then(|id| keys.iter().find(|k| hex::encode(Sha256::digest(k)).eq_ignore_ascii_case(id.trim())));
    let candidates: Vec<&Vec<u8>> = match named {
        Some(key) => vec![key],
        None => keys.iter().collect(),
    };
    candidates.into_iter().any(|der| {
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).is_ok_and(|key| key.verify_sig(body, &signature).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::{
        encoding::AsDer,
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
    };

    fn key_pair() -> (EcdsaKeyPair, Vec<u8>) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap().as_ref().to_vec();
        (pair, der)
    }

    #[test]
    fn verifies_only_the_signed_body_under_a_configured_key() {
        let (pair, der) = key_pair();
        let (_, other) = key_pair();
        let body = br#"[{"token":"x","type":"keyward_api_key","url":"https://github.com/a/b","source":"content"}]"#;
        let sig = BASE64.encode(pair.sign(&SystemRandom::new(), body).unwrap().as_ref());
        assert!(is_p256_public_key(&der));
        assert!(!is_p256_public_key(b"not a key"));
        assert!(signature_valid(&[other.clone(), der.clone()], None, &sig, body));
        assert!(signature_valid(&[other.clone(), der.clone()], Some(&hex::encode(Sha256::digest(&der))), &sig, body));
        assert!(!signature_valid(std::slice::from_ref(&other), None, &sig, body));
        assert!(!signature_valid(std::slice::from_ref(&der), None, &sig, b"[]"));
        assert!(!signature_valid(&[der], None, "not base64!", body));
    }
}
