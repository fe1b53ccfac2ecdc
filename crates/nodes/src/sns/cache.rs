//! Signing certificates fetched once per URL (after [`check_cert_url`]), and subscription
//! confirmation by fetching the checked `SubscribeURL`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsa::RsaPublicKey;

use super::{
    check_cert_url, check_url, public_key_from_pem, verify_with_key, MessageType, SnsError,
    SnsMessage,
};

/// The largest certificate or confirmation answer read.
const MAX_BYTES: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Certificates kept; the cache starts over when full (AWS uses a handful at a time).
const MAX_ENTRIES: usize = 64;

/// Verifies SNS messages, fetching each signing certificate once (per process).
pub struct CertCache {
    client: reqwest::Client,
    endpoint_override: Option<String>,
    keys: Mutex<HashMap<String, Arc<RsaPublicKey>>>,
}

impl CertCache {
    /// `endpoint_override` is `FLOWGATE_SNS_ENDPOINT`: the only way to trust another host.
    pub fn new(client: reqwest::Client, endpoint_override: Option<String>) -> Self {
        Self {
            client,
            endpoint_override,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Checks the certificate URL, fetches the certificate if it is not cached, and verifies.
    pub async fn verify(&self, msg: &SnsMessage) -> Result<(), SnsError> {
        let key = self.key(&msg.signing_cert_url).await?;
        verify_with_key(msg, &key)
    }

    /// The public key of the certificate at `cert_url` (checked before anything is fetched).
    pub async fn key(&self, cert_url: &str) -> Result<Arc<RsaPublicKey>, SnsError> {
        let url = check_cert_url(cert_url, self.endpoint_override.as_deref())?;
        if let Some(k) = self.keys.lock().expect("lock poisoned").get(url.as_str()) {
            return Ok(k.clone());
        }
        let pem = fetch(&self.client, url.clone())
            .await
            .map_err(SnsError::Fetch)?;
        let key = Arc::new(public_key_from_pem(&pem)?);
        let mut keys = self.keys.lock().expect("lock poisoned");
        if keys.len() >= MAX_ENTRIES {
            keys.clear();
        }
        keys.insert(url.to_string(), key.clone());
        Ok(key)
    }

    /// How many certificates are cached.
    pub fn len(&self) -> usize {
        self.keys.lock().expect("lock poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn fetch(client: &reqwest::Client, url: url::Url) -> Result<Vec<u8>, String> {
    let mut resp = client
        .get(url.clone())
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if out.len() + chunk.len() > MAX_BYTES {
            return Err(format!("GET {url}: the answer is over {MAX_BYTES} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Confirms a (verified) `SubscriptionConfirmation` by fetching its `SubscribeURL`, after checking
/// it like a certificate URL. Returns the XML answer.
pub async fn confirm_subscription(
    client: &reqwest::Client,
    msg: &SnsMessage,
    endpoint_override: Option<&str>,
) -> Result<String, SnsError> {
    if msg.kind() != Some(MessageType::SubscriptionConfirmation) {
        return Err(SnsError::Malformed(format!(
            "a {} is not confirmed",
            msg.message_type
        )));
    }
    let subscribe = msg
        .subscribe_url
        .as_deref()
        .ok_or_else(|| SnsError::Malformed("no SubscribeURL".into()))?;
    let url = check_url(subscribe, endpoint_override)?;
    let body = fetch(client, url).await.map_err(SnsError::Fetch)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}
