//! `core.http_request`: one HTTP call with optional `http` integration auth, a response size cap,
//! redirects followed by hand (each hop re-checked) and an SSRF guard.
//!
//! - The guard refuses loopback, private, link-local (cloud metadata), CGNAT, multicast and other
//!   special addresses unless the server allows private networks. IP literals are checked before
//!   connecting; names are resolved by [`guard::GuardedResolver`], which drops refused addresses,
//!   so the decision is made on the address actually connected to. The node uses its own clients
//!   (no proxy, no automatic redirects) rather than the shared one: a proxy would hide the address.
//! - The descriptor says `idempotent: false` (a POST may not be repeated), but `idempotent()`
//!   answers per call: a GET or HEAD is safe to repeat after a crash. GET and HEAD failures (connection, timeout, 429, 5xx) are retryable. For other
//!   methods, a failure before the request was sent (connect error, 429) is retryable, and a
//!   failure after sending fails the step with "outcome unknown: ...".
//! - A non-2xx final status fails the step with the status and an excerpt of the body.

pub mod guard;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use reqwest::{Client, Method, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use url::Url;

use flowgate_model::parse_duration;
use flowgate_model::template::has_template;

use crate::core::if_node::text;
use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;
const MAX_RESPONSE_BYTES_LIMIT: u64 = 100 * 1024 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum HttpMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "OPTIONS")]
    Options,
}

impl HttpMethod {
    fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Head => Method::HEAD,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
            Self::Options => Method::OPTIONS,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestParams {
    /// The HTTP method (default GET).
    #[serde(default)]
    pub method: HttpMethod,
    /// An `http` or `https` URL.
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    /// Query parameters, added to those already in the URL.
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    /// The body: a string is sent as it is, any other JSON value as `application/json`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Alias of an `http` integration whose credentials authenticate the request.
    #[serde(default)]
    #[schemars(extend("x-integration-type" = "http"))]
    pub auth: Option<String>,
    /// How long the whole call may take, redirects included (default 30s, at most 10m).
    #[serde(default)]
    pub timeout: Option<String>,
    /// The largest response body accepted, in bytes (default 10 MiB).
    #[serde(default)]
    #[schemars(range(min = 1, max = 104857600))]
    pub max_response_bytes: Option<u64>,
}

/// The node. [`HttpRequest::default`] is what the registry holds.
#[derive(Debug, Default)]
pub struct HttpRequest {
    exceptions: Vec<SocketAddr>,
}

impl HttpRequest {
    /// A node whose guard lets these exact IP-literal socket addresses through (tests only: a
    /// local server must be reachable to test that a redirect from it is refused).
    pub fn with_exceptions(exceptions: Vec<SocketAddr>) -> Self {
        Self { exceptions }
    }
}

static DESCRIPTOR: Descriptor = Descriptor {
    idempotent: false,
    ..Descriptor::new("core.http_request", "HTTP Request", Category::Core, "Calls an HTTP API: method, URL, headers, query, body and auth; the output is the parsed JSON (or text) response.")
};

fn client(allow_private: bool) -> Result<&'static Client, NodeError> {
    static GUARDED: OnceLock<Client> = OnceLock::new();
    static OPEN: OnceLock<Client> = OnceLock::new();
    let cell = if allow_private { &OPEN } else { &GUARDED };
    if let Some(c) = cell.get() {
        return Ok(c);
    }
    let mut b = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("flowgate/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        b = b.dns_resolver(guard::resolver());
    }
    let built = b
        .build()
        .map_err(|e| NodeError::new(format!("cannot build the HTTP client: {e}")))?;
    Ok(cell.get_or_init(|| built))
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{s}` must be an http or https URL"));
    }
    if url.host().is_none() {
        return Err(format!("`{s}` has no host"));
    }
    Ok(url)
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(format!("`{s}`: the timeout must be between 1ms and 10m"));
    }
    Ok(d)
}

fn scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// The headers an `http` integration adds.
async fn auth_headers(ctx: &NodeContext, alias: &str) -> Result<HeaderMap, NodeError> {
    let i = ctx.integration(alias, "http").await?;
    let mut h = HeaderMap::new();
    let value = |s: String| {
        HeaderValue::from_str(&s).map_err(|_| {
            NodeError::new(format!(
                "integration `{alias}` holds a credential that is not a valid header value"
            ))
        })
    };
    match i.config_str("auth").unwrap_or("bearer") {
        "bearer" => {
            let mut v = value(format!("Bearer {}", i.secret("token")?))?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        "basic" => {
            use base64::Engine;
            let raw = format!("{}:{}", i.secret("username")?, i.secret("password")?);
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            // The encoded pair is as good as the password: redact it too (an echoing server).
            ctx.add_secret(encoded.clone());
            let mut v = value(format!("Basic {encoded}"))?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        "header" => {
            let name = i.config_str("header_name").ok_or_else(|| {
                NodeError::new(format!(
                    "integration `{alias}` uses header auth but has no `config.header_name`"
                ))
            })?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                NodeError::new(format!(
                    "integration `{alias}`: `{name}` is not a header name"
                ))
            })?;
            let mut v = value(i.secret("value")?.to_string())?;
            v.set_sensitive(true);
            h.insert(name, v);
        }
        other => {
            return Err(NodeError::new(format!(
                "integration `{alias}`: auth `{other}` is not one of bearer, basic, header"
            )))
        }
    }
    Ok(h)
}

/// Checks a hop's host when it is an IP literal (names are checked by the resolver).
fn check_literal(
    url: &Url,
    allow_private: bool,
    exceptions: &[SocketAddr],
) -> Result<(), NodeError> {
    if allow_private {
        return Ok(());
    }
    let ip: IpAddr = match url.host() {
        Some(url::Host::Ipv4(v4)) => v4.into(),
        Some(url::Host::Ipv6(v6)) => v6.into(),
        _ => return Ok(()),
    };
    let port = url.port_or_known_default().unwrap_or(0);
    if exceptions.contains(&SocketAddr::new(ip, port)) {
        return Ok(());
    }
    guard::check_addr(&ip.to_string(), ip).map_err(|b| NodeError::new(b.to_string()))
}

fn retry_after_ms(h: &HeaderMap) -> Option<u64> {
    h.get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1000))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Turns a transport error into a step error.
fn send_error(e: reqwest::Error, safe_to_repeat: bool) -> NodeError {
    if let Some(b) = guard::find_blocked(&e) {
        return NodeError::new(b.to_string());
    }
    let detail = error_chain(&e);
    if e.is_connect() {
        return NodeError::retryable(format!("could not connect: {detail}"));
    }
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    if safe_to_repeat {
        NodeError::retryable(format!("the request {what}: {detail}"))
    } else {
        NodeError::new(format!("outcome unknown: the request {what} after it was sent, so it is not repeated: {detail}"))
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn excerpt(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

#[async_trait]
impl TypedNode for HttpRequest {
    type Params = HttpRequestParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn idempotent(&self, params: &Value) -> Option<bool> {
        let method = params
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET");
        Some(matches!(
            method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD"
        ))
    }

    fn check(&self, p: &HttpRequestParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !has_template(&p.url) {
            problems.extend(parse_url(&p.url).err().map(|m| Problem::new("url", m)));
        }
        if let Some(t) = p.timeout.as_deref().filter(|t| !has_template(t)) {
            problems.extend(parse_timeout(t).err().map(|m| Problem::new("timeout", m)));
        }
        for (name, v) in &p.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(Problem::new(
                    format!("headers.{name}"),
                    format!("`{name}` is not a valid header name"),
                ));
            } else if !scalar(v) {
                problems.push(Problem::new(
                    format!("headers.{name}"),
                    "a header value must be text",
                ));
            }
        }
        for (name, v) in &p.query {
            if !scalar(v) {
                problems.push(Problem::new(
                    format!("query.{name}"),
                    "a query value must be text, a number or a boolean",
                ));
            }
        }
        if p.max_response_bytes
            .is_some_and(|m| m == 0 || m > MAX_RESPONSE_BYTES_LIMIT)
        {
            problems.push(Problem::new(
                "max_response_bytes",
                "must be between 1 and 104857600 (100 MiB)",
            ));
        }
        problems
    }

    async fn run(&self, ctx: &NodeContext, p: HttpRequestParams) -> Result<Outcome, NodeError> {
        let started = Instant::now();
        let allow_private = ctx.services.allow_private_networks;
        let mut url = parse_url(&p.url).map_err(NodeError::new)?;
        if !p.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &p.query {
                pairs.append_pair(k, &text(v));
            }
        }
        let timeout = p
            .timeout
            .as_deref()
            .map(parse_timeout)
            .transpose()
            .map_err(NodeError::new)?
            .unwrap_or(DEFAULT_TIMEOUT);
        let cap = p.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let deadline = started + timeout;

        let mut headers = HeaderMap::new();
        for (k, v) in &p.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| NodeError::new(format!("`{k}` is not a valid header name")))?;
            let value = HeaderValue::from_str(&text(v)).map_err(|_| {
                NodeError::new(format!(
                    "the value of header `{k}` is not valid in a header"
                ))
            })?;
            headers.insert(name, value);
        }
        let auth = match &p.auth {
            Some(alias) => auth_headers(ctx, alias).await?,
            None => HeaderMap::new(),
        };
        let (mut body, content_type): (Option<Vec<u8>>, Option<&str>) = match &p.body {
            None | Some(Value::Null) => (None, None),
            Some(Value::String(s)) => (
                Some(s.clone().into_bytes()),
                Some("text/plain; charset=utf-8"),
            ),
            Some(v) => (
                Some(serde_json::to_vec(v).unwrap_or_default()),
                Some("application/json"),
            ),
        };
        if let Some(ct) = content_type.filter(|_| !headers.contains_key(CONTENT_TYPE)) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }

        let client = client(allow_private)?;
        let mut method = p.method.method();
        let origin = url.clone();
        let mut hops = 0;
        let response = loop {
            check_literal(&url, allow_private, &self.exceptions)?;
            let safe = matches!(method, Method::GET | Method::HEAD);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(send_error_timeout(safe));
            }
            let mut req = client
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .timeout(remaining);
            if same_origin(&origin, &url) {
                req = req.headers(auth.clone());
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let resp = req.send().await.map_err(|e| send_error(e, safe))?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let (true, Some(location)) = (
                status.is_redirection() && status != StatusCode::NOT_MODIFIED,
                location,
            ) else {
                break resp;
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(NodeError::new(format!(
                    "more than {MAX_REDIRECTS} redirects (last to {location})"
                )));
            }
            let next = url.join(&location).map_err(|e| {
                NodeError::new(format!(
                    "the redirect to `{location}` is not a valid URL: {e}"
                ))
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(NodeError::new(format!(
                    "refused a redirect to `{next}`: only http and https are followed"
                )));
            }
            // 303 always, and 301/302 after a POST, continue as a GET without a body.
            if status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method == Method::POST
            {
                method = Method::GET;
                body = None;
                headers.remove(CONTENT_TYPE);
            }
            url = next;
        };

        let status = response.status();
        let safe = matches!(method, Method::GET | Method::HEAD);
        let resp_headers = response.headers().clone();
        let bytes = read_capped(response, cap, safe).await?;
        let elapsed_ms = started.elapsed().as_millis() as u64;

        if !status.is_success() {
            let message = format!("HTTP {status} from {url}: {}", excerpt(&bytes));
            let retryable =
                status == StatusCode::TOO_MANY_REQUESTS || (safe && status.is_server_error());
            return Err(NodeError {
                message,
                retryable,
                retry_after_ms: if retryable {
                    retry_after_ms(&resp_headers)
                } else {
                    None
                },
            });
        }

        let is_json = resp_headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let output = if method == Method::HEAD || bytes.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut header_out = Map::new();
        for (name, value) in &resp_headers {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match header_out.get_mut(name.as_str()) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&v);
                }
                _ => {
                    header_out.insert(name.as_str().to_string(), Value::String(v));
                }
            }
        }
        Ok(Outcome::output(
            json!({ "output": output, "status": status.as_u16(), "headers": header_out, "elapsed_ms": elapsed_ms }),
        ))
    }
}

fn send_error_timeout(safe: bool) -> NodeError {
    if safe {
        NodeError::retryable("the request timed out")
    } else {
        NodeError::new("outcome unknown: the request timed out while following redirects")
    }
}

/// Reads the body, refusing it once it passes `cap` bytes.
async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
    safe: bool,
) -> Result<Vec<u8>, NodeError> {
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(NodeError::new(format!(
            "the response is larger than max_response_bytes ({cap} bytes)"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| send_error(e, safe))? {
        if out.len() as u64 + chunk.len() as u64 > cap {
            return Err(NodeError::new(format!(
                "the response is larger than max_response_bytes ({cap} bytes)"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
