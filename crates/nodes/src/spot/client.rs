//! A client for the Spot API (`api.spotinst.io`, protocols.md §3): bearer token, `accountId`,
//! Spot's response envelope and error shape, bounded retries for calls that are safe to repeat and
//! "outcome unknown" for those that are not.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::NodeError;

pub const DEFAULT_BASE_URL: &str = "https://api.spotinst.io";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How calls that are safe to repeat are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First back-off delay; it doubles per attempt, with ±50 % jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A longer `Retry-After` is not waited out here: the error goes back to the engine, which
    /// schedules the step's retry durably.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// Whether repeating a call after an unknown outcome is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    /// Reads, and writes of absolute values (update capacity): retried on 429, 5xx and transport errors.
    Repeatable,
    /// Scale up/down and delete: retried only when Spot certainly did not act on the request (429,
    /// connection refused); otherwise they fail with "outcome unknown".
    Once,
}

/// A successful answer: the envelope's `request.id`, `response.kind` and `response.items`.
#[derive(Debug, Clone, Default)]
pub struct SpotResponse {
    pub request_id: Option<String>,
    pub kind: Option<String>,
    pub items: Vec<Value>,
}

/// An error answer from Spot (any status but 200).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    /// `response.errors[0].code`, e.g. `GROUP_DOESNT_EXIST`.
    pub code: Option<String>,
    pub message: String,
    pub field: Option<String>,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "Spot says {code}: {}", self.message)?,
            None => write!(f, "Spot answered: {}", self.message)?,
        }
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        write!(f, " (HTTP {}", self.status)?;
        if let Some(id) = &self.request_id {
            write!(f, ", request {id}")?;
        }
        f.write_str(")")?;
        match self.status {
            401 => f.write_str(": check the Spot integration's token"),
            403 => f.write_str(": the token's user lacks permission for this call or account"),
            _ => Ok(()),
        }
    }
}

/// Why a Spot call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SpotError {
    #[error("{0}")]
    Api(ApiError),
    /// Nothing reached Spot (connection refused, DNS, TLS): safe to repeat.
    #[error("could not reach Spot for {call}: {reason}")]
    NotSent { call: String, reason: String },
    /// The request may have reached Spot but no answer was read (timeout, dropped connection).
    #[error("no answer from Spot for {call}: {reason}")]
    NoAnswer { call: String, reason: String },
    /// A call that must not be repeated may have taken effect; an operator must check.
    #[error("outcome unknown: {call} may have reached Spot, but {reason}. It was not retried, because repeating it could apply the change twice; check the group in Spot before running the step again")]
    OutcomeUnknown { call: String, reason: String },
    /// The integration is unusable (no token, bad base URL).
    #[error("{0}")]
    Config(String),
}

impl From<SpotError> for NodeError {
    fn from(e: SpotError) -> Self {
        let message = e.to_string();
        match e {
            SpotError::Api(a) if a.status == 429 || a.status >= 500 => NodeError {
                message,
                retryable: true,
                retry_after_ms: a.retry_after.map(|d| d.as_millis() as u64),
            },
            SpotError::NotSent { .. } | SpotError::NoAnswer { .. } => NodeError::retryable(message),
            _ => NodeError::new(message),
        }
    }
}

/// A Spot API client for one token (and optionally one account).
#[derive(Clone)]
pub struct SpotClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
    account_id: Option<String>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for SpotClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpotClient")
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .field("token", &"***")
            .finish()
    }
}

impl SpotClient {
    pub fn new(http: reqwest::Client, base_url: &str, token: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            account_id: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// From a `spot` integration: `secrets.token`, `config.base_url` (default
    /// [`DEFAULT_BASE_URL`]), `config.default_account_id` and `config.timeout_seconds` (default 30).
    pub fn from_integration(
        http: reqwest::Client,
        config: &Value,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Self, SpotError> {
        let token = secrets
            .get("token")
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                SpotError::Config(
                    "the Spot integration has no `token` secret: add the programmatic access token"
                        .into(),
                )
            })?;
        let base_url = match config.get("base_url") {
            None | Some(Value::Null) => DEFAULT_BASE_URL,
            Some(Value::String(s)) if s.trim().is_empty() => DEFAULT_BASE_URL,
            Some(Value::String(s)) => s.trim(),
            Some(other) => {
                return Err(SpotError::Config(format!(
                    "the Spot integration's `base_url` must be a URL string, not {other}"
                )))
            }
        };
        match url::Url::parse(base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(SpotError::Config(format!(
                    "the Spot integration's `base_url` `{base_url}` is not an http(s) URL"
                )))
            }
        }
        let mut client = Self::new(http, base_url, token);
        if let Some(account) = config
            .get("default_account_id")
            .and_then(Value::as_str)
            .filter(|a| !a.trim().is_empty())
        {
            client.account_id = Some(account.trim().to_string());
        }
        match config.get("timeout_seconds") {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_f64().filter(|s| *s > 0.0 && *s <= 600.0) {
                Some(secs) => client.timeout = Duration::from_secs_f64(secs),
                None => return Err(SpotError::Config(format!("the Spot integration's `timeout_seconds` must be a number of seconds between 0 and 600, not {v}"))),
            },
        }
        Ok(client)
    }

    /// Sends `accountId=<account>` with every call except [`SpotClient::accounts`].
    pub fn with_account(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The limit for each attempt, from sending to reading the whole answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// `GET /setup/account`: the accounts of the token's organization (no `accountId` sent).
    pub async fn accounts(&self) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::GET,
            "/setup/account".into(),
            Vec::new(),
            None,
            false,
            Safety::Repeatable,
        )
        .await
    }

    /// `GET /aws/ec2/group`
    pub async fn list_groups(&self) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::GET,
            "/aws/ec2/group".into(),
            Vec::new(),
            None,
            true,
            Safety::Repeatable,
        )
        .await
    }

    /// `GET /aws/ec2/group/{id}`
    pub async fn get_group(&self, group_id: &str) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::GET,
            group_path(group_id, ""),
            Vec::new(),
            None,
            true,
            Safety::Repeatable,
        )
        .await
    }

    /// `PUT /aws/ec2/group/{id}/scale/up?adjustment=N`: not repeatable.
    pub async fn scale_up(
        &self,
        group_id: &str,
        adjustment: u64,
    ) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::PUT,
            group_path(group_id, "/scale/up"),
            vec![("adjustment", adjustment.to_string())],
            None,
            true,
            Safety::Once,
        )
        .await
    }

    /// `PUT /aws/ec2/group/{id}/scale/down?adjustment=N`: not repeatable.
    pub async fn scale_down(
        &self,
        group_id: &str,
        adjustment: u64,
    ) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::PUT,
            group_path(group_id, "/scale/down"),
            vec![("adjustment", adjustment.to_string())],
            None,
            true,
            Safety::Once,
        )
        .await
    }

    /// `PUT /aws/ec2/group/{id}/capacity` with the values given; absolute, so repeatable.
    pub async fn update_capacity(
        &self,
        group_id: &str,
        minimum: Option<u64>,
        maximum: Option<u64>,
        target: Option<u64>,
    ) -> Result<SpotResponse, SpotError> {
        let mut capacity = serde_json::Map::new();
        for (key, value) in [
            ("minimum", minimum),
            ("maximum", maximum),
            ("target", target),
        ] {
            if let Some(v) = value {
                capacity.insert(key.into(), json!(v));
            }
        }
        let body = json!({ "capacity": capacity });
        self.call(
            Method::PUT,
            group_path(group_id, "/capacity"),
            Vec::new(),
            Some(body),
            true,
            Safety::Repeatable,
        )
        .await
    }

    /// `DELETE /aws/ec2/group/{id}`: treated as not repeatable (a repeat after an unknown outcome
    /// would answer GROUP_DOESNT_EXIST and hide what happened).
    pub async fn delete_group(&self, group_id: &str) -> Result<SpotResponse, SpotError> {
        self.call(
            Method::DELETE,
            group_path(group_id, ""),
            Vec::new(),
            None,
            true,
            Safety::Once,
        )
        .await
    }

    async fn call(
        &self,
        method: Method,
        path: String,
        query: Vec<(&str, String)>,
        body: Option<Value>,
        with_account: bool,
        safety: Safety,
    ) -> Result<SpotResponse, SpotError> {
        let call = format!("{method} {path}");
        let mut query = query;
        if with_account {
            if let Some(account) = &self.account_id {
                query.push(("accountId", account.clone()));
            }
        }
        let mut attempt = 1;
        loop {
            let err = match self
                .once(&call, &method, &path, &query, body.as_ref())
                .await
            {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            let wait = match (&err, safety) {
                (SpotError::Api(a), _) if a.status == 429 => a.retry_after,
                (SpotError::Api(a), Safety::Repeatable) if a.status >= 500 => a.retry_after,
                (SpotError::Api(a), Safety::Once) if a.status >= 500 => {
                    return Err(SpotError::OutcomeUnknown {
                        call,
                        reason: format!("the answer was an error: {a}"),
                    })
                }
                (SpotError::NotSent { .. }, _)
                | (SpotError::NoAnswer { .. }, Safety::Repeatable) => None,
                (SpotError::NoAnswer { reason, .. }, Safety::Once) => {
                    return Err(SpotError::OutcomeUnknown {
                        call,
                        reason: reason.clone(),
                    })
                }
                _ => return Err(err),
            };
            if attempt >= self.retry.max_attempts {
                return Err(err);
            }
            let delay = match wait {
                Some(d) if d > self.retry.max_retry_after => return Err(err),
                Some(d) => d,
                None => self.backoff(attempt),
            };
            tracing::debug!(call = %self.mask(&call), attempt, delay_ms = delay.as_millis() as u64, error = %self.mask(&err.to_string()), "retrying Spot call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// `text` with the token replaced by `***`, for logs: a path or message can carry it when
    /// a referenced value (say, a group id taken from an alert) happens to hold it.
    fn mask(&self, text: &str) -> String {
        if self.token.len() < 4 {
            return text.to_string();
        }
        text.replace(self.token.as_str(), "***")
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .retry
            .base_delay
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.retry.max_delay);
        let jitter = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 1000;
        base.mul_f64(0.5 + jitter as f64 / 1000.0)
    }

    async fn once(
        &self,
        call: &str,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<SpotResponse, SpotError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport(call, e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport(call, e))?;
        parse_envelope(status, &bytes, retry_after)
    }

    fn transport(&self, call: &str, e: reqwest::Error) -> SpotError {
        let call = call.to_string();
        if e.is_builder() {
            return SpotError::Config(format!("cannot build the request {call}: {}", chain(&e)));
        }
        if e.is_connect() {
            return SpotError::NotSent {
                call,
                reason: format!("{} ({})", chain(&e), self.base_url),
            };
        }
        if e.is_timeout() {
            return SpotError::NoAnswer {
                call,
                reason: format!("no answer within {:?}", self.timeout),
            };
        }
        SpotError::NoAnswer {
            call,
            reason: format!(
                "the connection failed before an answer arrived ({})",
                chain(&e)
            ),
        }
    }
}

fn group_path(group_id: &str, suffix: &str) -> String {
    let mut path = String::from("/aws/ec2/group/");
    for b in group_id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            path.push(b as char);
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path.push_str(suffix);
    path
}

/// The error and its sources, without the request URL reqwest puts first.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

/// Reads Spot's envelope: only HTTP 200 is success; errors come from `response.errors[]`.
pub fn parse_envelope(
    status: StatusCode,
    bytes: &[u8],
    retry_after: Option<Duration>,
) -> Result<SpotResponse, SpotError> {
    let doc: Option<Value> = serde_json::from_slice(bytes).ok();
    let request_id = doc
        .as_ref()
        .and_then(|d| d.pointer("/request/id"))
        .and_then(Value::as_str)
        .map(String::from);
    let response = doc
        .as_ref()
        .and_then(|d| d.get("response"))
        .filter(|r| r.is_object());
    if status == StatusCode::OK {
        let Some(response) = response else {
            return Err(SpotError::Api(ApiError {
                status: 200,
                code: None,
                message: format!(
                    "HTTP 200 with a body that is not Spot's JSON envelope: {}",
                    snippet(bytes)
                ),
                field: None,
                request_id,
                retry_after: None,
            }));
        };
        let items = match response.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let kind = response
            .get("kind")
            .and_then(Value::as_str)
            .map(String::from);
        return Ok(SpotResponse {
            request_id,
            kind,
            items,
        });
    }
    let errors: Vec<&Value> = response
        .and_then(|r| r.get("errors"))
        .and_then(Value::as_array)
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let (code, message, field) = match errors.first() {
        Some(first) => {
            let mut message = text(first, "message").unwrap_or_else(|| "no message".into());
            for more in &errors[1..] {
                message.push_str(&format!(
                    "; {}: {}",
                    text(more, "code").unwrap_or_default(),
                    text(more, "message").unwrap_or_default()
                ));
            }
            (text(first, "code"), message, text(first, "field"))
        }
        None => {
            let reason = response
                .and_then(|r| r.pointer("/status/message"))
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| status.canonical_reason().map(String::from))
                .unwrap_or_default();
            let message = if doc.is_some() {
                reason
            } else {
                format!("{reason}, body {}", snippet(bytes))
            };
            (None, message, None)
        }
    };
    Err(SpotError::Api(ApiError {
        status: status.as_u16(),
        code,
        message,
        field,
        request_id,
        retry_after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelopes_read_like_the_go_sdk() {
        let body = br#"{"request":{"id":"3b750eff-1","url":"/aws/ec2/group/sig-nope","method":"GET","timestamp":"x"},
            "response":{"status":{"code":400,"message":"Bad Request"},"errors":[{"code":"GROUP_DOESNT_EXIST","message":"Group doesn't exist"}]}}"#;
        let err = parse_envelope(StatusCode::BAD_REQUEST, body, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Spot says GROUP_DOESNT_EXIST: Group doesn't exist (HTTP 400, request 3b750eff-1)"
        );
        let node: NodeError = err.into();
        assert!(!node.retryable);
    }

    #[test]
    fn non_json_errors_keep_the_status_and_a_snippet() {
        let err = parse_envelope(
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
            Some(Duration::from_secs(2)),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Spot answered: Bad Gateway, body `<html>bad gateway</html>` (HTTP 502)"
        );
        let node: NodeError = err.into();
        assert!(node.retryable);
        assert_eq!(node.retry_after_ms, Some(2000));
    }

    #[test]
    fn group_ids_are_escaped_in_paths() {
        assert_eq!(
            group_path("sig-12ab", "/scale/up"),
            "/aws/ec2/group/sig-12ab/scale/up"
        );
        assert_eq!(group_path("a/b c", ""), "/aws/ec2/group/a%2Fb%20c");
    }

    #[test]
    fn success_without_items_is_empty() {
        let body = br#"{"request":{"id":"r1"},"response":{"status":{"code":200,"message":"OK"}}}"#;
        let ok = parse_envelope(StatusCode::OK, body, None).unwrap();
        assert_eq!(ok.request_id.as_deref(), Some("r1"));
        assert!(ok.items.is_empty());
        assert!(parse_envelope(StatusCode::OK, b"not json", None).is_err());
    }
}
