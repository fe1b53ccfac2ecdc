//! RSA PKCS#1 v1.5 verification of SNS signatures: SHA1 for `SignatureVersion` 1, SHA256 for 2.
//! The public key comes from the PEM X.509 certificate (`x509-cert` parses it, `rsa` verifies).

use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use super::{string_to_sign, SnsError, SnsMessage};

/// The RSA public key of a PEM certificate.
pub fn public_key_from_pem(cert_pem: &[u8]) -> Result<RsaPublicKey, SnsError> {
    let cert = Certificate::from_pem(cert_pem)
        .map_err(|e| SnsError::Certificate(format!("not a PEM X.509 certificate: {e}")))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| SnsError::Certificate(format!("unreadable public key: {e}")))?;
    RsaPublicKey::from_public_key_der(&spki)
        .map_err(|e| SnsError::Certificate(format!("the certificate's key is not an RSA key: {e}")))
}

/// Verifies `msg` against the certificate `cert_pem`.
pub fn verify(msg: &SnsMessage, cert_pem: &[u8]) -> Result<(), SnsError> {
    verify_with_key(msg, &public_key_from_pem(cert_pem)?)
}

/// Verifies `msg` against an already parsed key.
pub fn verify_with_key(msg: &SnsMessage, key: &RsaPublicKey) -> Result<(), SnsError> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(msg.signature.trim())
        .map_err(|_| SnsError::BadSignature("the Signature is not base64".into()))?;
    let data = string_to_sign(msg)?;
    let result = match msg.signature_version.as_str() {
        "1" => key.verify(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(data.as_bytes()),
            &signature,
        ),
        "2" => key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(data.as_bytes()),
            &signature,
        ),
        other => {
            return Err(SnsError::BadSignature(format!(
                "SignatureVersion `{other}` is not supported (1 or 2)"
            )))
        }
    };
    result.map_err(|_| SnsError::BadSignature("the signature does not match the message".into()))
}
