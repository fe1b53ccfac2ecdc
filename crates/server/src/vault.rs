//! Secrets at rest: AES-256-GCM (RustCrypto) under the master key, each ciphertext bound to its
//! record by associated data, so a sealed value copied onto another record fails to open.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}")]
    Key(String),
    #[error("a secret could not be decrypted: the master key is wrong or the record was altered")]
    Open,
}

pub struct Vault {
    cipher: Aes256Gcm,
}

const CANARY_AD: &[u8] = b"flowgate:vault-check";

impl Vault {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// Decodes `FLOWGATE_MASTER_KEY` (32 bytes, standard base64).
    pub fn parse_key(text: &str) -> Result<[u8; 32], VaultError> {
        let bytes = B64.decode(text.trim()).map_err(|_| VaultError::Key("FLOWGATE_MASTER_KEY is not valid base64; create one with `openssl rand -base64 32`".into()))?;
        bytes.try_into().map_err(|_| VaultError::Key("FLOWGATE_MASTER_KEY must decode to exactly 32 bytes; create one with `openssl rand -base64 32`".into()))
    }

    /// The key from the setting, else from `<data_dir>/master.key`, created (mode 0600) when the
    /// database is new. Returns the key and whether it was just created.
    pub fn load_key(
        setting: Option<&str>,
        data_dir: &Path,
        database_is_new: bool,
    ) -> Result<([u8; 32], bool), VaultError> {
        if let Some(text) = setting {
            return Ok((Self::parse_key(text)?, false));
        }
        let path = data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((
                Self::parse_key(&text)
                    .map_err(|e| VaultError::Key(format!("{}: {e}", path.display())))?,
                false,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !database_is_new {
                    return Err(VaultError::Key(format!(
                        "the database holds encrypted secrets but there is no master key: set FLOWGATE_MASTER_KEY or restore {}",
                        path.display()
                    )));
                }
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    VaultError::Key(format!("cannot create {}: {e}", data_dir.display()))
                })?;
                write_private(&path, B64.encode(key).as_bytes()).map_err(|e| {
                    VaultError::Key(format!("cannot write {}: {e}", path.display()))
                })?;
                Ok((key, true))
            }
            Err(e) => Err(VaultError::Key(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Encrypts `plaintext` bound to `ad`; the result is `base64(nonce || ciphertext)`.
    pub fn seal(&self, plaintext: &[u8], ad: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: ad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        B64.encode(out)
    }

    pub fn open(&self, sealed: &str, ad: &str) -> Result<Vec<u8>, VaultError> {
        let bytes = B64.decode(sealed).map_err(|_| VaultError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(VaultError::Open);
        }
        let (nonce, ct) = bytes.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: ad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Open)
    }

    /// A value stored once so start-up can tell a wrong key before anything needs a secret.
    pub fn canary(&self) -> String {
        self.seal(b"flowgate", std::str::from_utf8(CANARY_AD).expect("ascii"))
    }

    pub fn check_canary(&self, sealed: &str) -> bool {
        self.open(sealed, std::str::from_utf8(CANARY_AD).expect("ascii"))
            .is_ok_and(|p| p == b"flowgate")
    }
}

/// The associated data that binds an integration's secrets to its record.
pub fn integration_ad(org_id: &str, alias: &str, kind: &str) -> String {
    format!("flowgate:integration:{org_id}:{alias}:{kind}")
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_record() {
        let v = Vault::from_key(&[7u8; 32]);
        let sealed = v.seal(b"xoxb-secret", "a");
        assert_eq!(v.open(&sealed, "a").unwrap(), b"xoxb-secret");
        assert!(v.open(&sealed, "b").is_err(), "bound to its record");
        assert!(
            Vault::from_key(&[8u8; 32]).open(&sealed, "a").is_err(),
            "wrong key"
        );
        assert!(!sealed.contains("secret"));
        assert!(Vault::parse_key("short").is_err());
        assert!(v.check_canary(&v.canary()));
    }
}
