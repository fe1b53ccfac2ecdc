//! AWS SNS HTTP(S) deliveries (protocols.md §2): parsing, the URL checks made before anything is
//! fetched, the string to sign and RSA signature verification (v1 SHA1, v2 SHA256), and a cache of
//! signing certificates. Pure apart from [`CertCache`] and [`confirm_subscription`], which fetch
//! through the reqwest client they are given. The server calls this from the webhook endpoint.
//!
//! Trust: a certificate is trusted because it was fetched over TLS from an SNS host
//! (`sns.<region>.amazonaws.com`, `.cn` too), or from the `FLOWGATE_SNS_ENDPOINT` override that
//! replaces that host; the certificate chain itself is not validated.

mod cache;
mod verify;

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

pub use cache::{confirm_subscription, CertCache};
pub use verify::{public_key_from_pem, verify, verify_with_key};

/// Why an SNS message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// Not an SNS message, or a field is missing or not a string (answer 400).
    #[error("not a valid SNS message: {0}")]
    Malformed(String),
    /// A URL in the message is not one Flowgate may fetch (answer 400, nothing fetched).
    #[error("untrusted URL: {0}")]
    UntrustedUrl(String),
    /// The signature does not verify, or uses an unknown version (answer 401).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The certificate is not a PEM X.509 certificate with an RSA key.
    #[error("unusable signing certificate: {0}")]
    Certificate(String),
    /// A checked URL could not be fetched (answer 5xx so SNS retries).
    #[error("fetch failed: {0}")]
    Fetch(String),
}

/// The three kinds of SNS deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl MessageType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Notification" => Some(Self::Notification),
            "SubscriptionConfirmation" => Some(Self::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(Self::UnsubscribeConfirmation),
            _ => None,
        }
    }
}

/// An SNS message as delivered (every field is a JSON string; `Message` and `Subject` unescaped).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub message_type: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "Token", default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(
        rename = "SubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    #[serde(
        rename = "UnsubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    #[serde(rename = "Signature")]
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(
        rename = "MessageAttributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_attributes: Option<Value>,
}

impl SnsMessage {
    pub fn kind(&self) -> Option<MessageType> {
        MessageType::parse(&self.message_type)
    }

    /// `Message` as JSON when it parses as JSON, else as text (a run's trigger output).
    pub fn parsed_message(&self) -> Value {
        serde_json::from_str(&self.message).unwrap_or_else(|_| Value::String(self.message.clone()))
    }
}

/// Parses a delivery body (SNS sends JSON even when the Content-Type says `text/plain`).
pub fn parse(body: &[u8]) -> Result<SnsMessage, SnsError> {
    let msg: SnsMessage =
        serde_json::from_slice(body).map_err(|e| SnsError::Malformed(e.to_string()))?;
    let kind = msg
        .kind()
        .ok_or_else(|| SnsError::Malformed(format!("unknown Type `{}`", msg.message_type)))?;
    if kind != MessageType::Notification && (msg.token.is_none() || msg.subscribe_url.is_none()) {
        return Err(SnsError::Malformed(format!(
            "a {} needs Token and SubscribeURL",
            msg.message_type
        )));
    }
    Ok(msg)
}

/// Whether a request body looks like an SNS envelope (for senders that omit the
/// `x-amz-sns-message-type` header): a JSON object with a known `Type` and a `SigningCertURL`.
pub fn looks_like_sns(body: &Value) -> bool {
    body.get("Type")
        .and_then(Value::as_str)
        .and_then(MessageType::parse)
        .is_some()
        && body.get("SigningCertURL").is_some_and(Value::is_string)
}

fn host_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$").expect("valid regex")
    })
}

/// Checks that `url` is `https` on an SNS host (no credentials, default port), then, with an
/// `endpoint_override` base URL (`FLOWGATE_SNS_ENDPOINT`), replaces its scheme and host (and
/// port) with the override's, keeping path and query (after the override's own path, if any).
/// Returns the URL to fetch.
pub fn check_url(url: &str, endpoint_override: Option<&str>) -> Result<Url, SnsError> {
    let bad = |why: &str| SnsError::UntrustedUrl(format!("`{url}` {why}"));
    let parsed = Url::parse(url).map_err(|_| bad("is not a URL"))?;
    if parsed.scheme() != "https" {
        return Err(bad("is not https"));
    }
    let Some(url::Host::Domain(host)) = parsed.host() else {
        return Err(bad("is not on an SNS host"));
    };
    if !host_re().is_match(host) {
        return Err(bad("is not on an SNS host (sns.<region>.amazonaws.com)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.port().is_some() {
        return Err(bad("may not carry credentials or a port"));
    }
    let Some(base) = endpoint_override else {
        return Ok(parsed);
    };
    let base = Url::parse(base).map_err(|_| {
        SnsError::UntrustedUrl(format!("the SNS endpoint override `{base}` is not a URL"))
    })?;
    let mut out = base.clone();
    out.set_path(&format!(
        "{}{}",
        base.path().trim_end_matches('/'),
        parsed.path()
    ));
    out.set_query(parsed.query());
    out.set_fragment(None);
    Ok(out)
}

/// [`check_url`] for a `SigningCertURL`, whose path must also end in `.pem`.
pub fn check_cert_url(url: &str, endpoint_override: Option<&str>) -> Result<Url, SnsError> {
    let parsed =
        Url::parse(url).map_err(|_| SnsError::UntrustedUrl(format!("`{url}` is not a URL")))?;
    if !parsed.path().ends_with(".pem") {
        return Err(SnsError::UntrustedUrl(format!(
            "`{url}` is not a .pem certificate"
        )));
    }
    check_url(url, endpoint_override)
}

/// The exact bytes SNS signs (protocols.md §2.4): `Key\nValue\n` for each signed key present, in
/// byte order. Notifications sign Message, MessageId, Subject, Timestamp, TopicArn, Type;
/// (un)subscribe confirmations sign Message, MessageId, SubscribeURL, Timestamp, Token,
/// TopicArn, Type.
pub fn string_to_sign(msg: &SnsMessage) -> Result<String, SnsError> {
    let kind = msg
        .kind()
        .ok_or_else(|| SnsError::Malformed(format!("unknown Type `{}`", msg.message_type)))?;
    let fields: Vec<(&str, Option<&str>)> = match kind {
        MessageType::Notification => vec![
            ("Message", Some(&msg.message)),
            ("MessageId", Some(&msg.message_id)),
            ("Subject", msg.subject.as_deref()),
            ("Timestamp", Some(&msg.timestamp)),
            ("TopicArn", Some(&msg.topic_arn)),
            ("Type", Some(&msg.message_type)),
        ],
        MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => vec![
            ("Message", Some(&msg.message)),
            ("MessageId", Some(&msg.message_id)),
            ("SubscribeURL", msg.subscribe_url.as_deref()),
            ("Timestamp", Some(&msg.timestamp)),
            ("Token", msg.token.as_deref()),
            ("TopicArn", Some(&msg.topic_arn)),
            ("Type", Some(&msg.message_type)),
        ],
    };
    let mut out = String::new();
    for (key, value) in fields {
        if let Some(v) = value {
            out.push_str(key);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
