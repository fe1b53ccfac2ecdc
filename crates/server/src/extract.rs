//! Request extractors that answer in the API's error shape: JSON bodies with field paths in their
//! errors, query strings, and pagination.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// Upper bound for management API bodies (workflow documents have their own, smaller limit).
pub const MAX_API_BODY: usize = 2 * 1024 * 1024;

/// A JSON body parsed strictly; errors name the field.
pub struct JsonBody<T>(pub T);

pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::too_large(limit))
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            ApiError::invalid(
                format!("the body is invalid{at}: {inner}"),
                vec![flowgate_model::Problem::new(
                    if path == "." { String::new() } else { path },
                    inner.to_string(),
                )],
            )
        } else {
            ApiError::bad_request(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !is_json(ct.as_deref()) {
            return Err(ApiError::unsupported_media(
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = read_body(req, MAX_API_BODY).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A query string parsed into `T`, errors in the API's shape.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_from(query).map(QueryParams)
    }
}

fn serde_urlencoded_from<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs: serde_json::Map<String, serde_json::Value> =
        url::form_urlencoded::parse(query.as_bytes())
            // An empty value (`?cursor=`) means the parameter was not given.
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect();
    serde_json::from_value(serde_json::Value::Object(pairs))
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

/// `limit` and `cursor`, as strings in the query (numbers are parsed here).
#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match &self.limit {
            None => Ok(50),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=500).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "limit must be a whole number from 1 to 500, not `{s}`"
                ))),
            },
        }
    }
}

/// Formats Unix milliseconds as RFC 3339.
pub fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn ts_opt(ms: Option<i64>) -> Option<String> {
    ms.map(ts)
}

/// Parses an RFC 3339 time or Unix milliseconds from a query parameter.
pub fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z, not `{text}`"
            ))
        })
}
