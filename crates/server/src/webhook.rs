//! `POST /webhooks/{workflow_id}`: the webhook trigger. The API key (header or query `x-api-key`)
//! is compared in constant time; a refused request stores nothing; a 202 is sent only after the
//! execution is committed.

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use flowgate_engine::TriggerEvent;
use flowgate_store::WorkflowRow;

use crate::auth::{hash_secret, secure_eq};
use crate::error::{ApiError, ApiResult};
use crate::extract::{is_json, parse_json, read_body};
use crate::state::AppState;

/// Headers that carry credentials and are never recorded.
const SECRET_HEADERS: &[&str] = &[
    "x-api-key",
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-amz-security-token",
    "x-slack-signature",
];

pub async fn receive(State(st): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let response = match handle(&st, &id, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    st.metrics.webhook_response(response.status().as_u16());
    response
}

fn query_map(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Checks the API key against the key the workflow's trigger names, in constant time. The same
/// work is done whether or not the workflow exists.
async fn key_matches(
    st: &AppState,
    workflow: Option<&WorkflowRow>,
    presented: Option<&str>,
) -> ApiResult<bool> {
    let presented_hash = hash_secret(presented.unwrap_or(""));
    let stored = match workflow {
        Some(w) => {
            let name = w.document["nodes"]
                .as_array()
                .and_then(|nodes| nodes.iter().find(|n| n["type"] == "trigger.webhook"))
                .and_then(|n| n["params"]["api_key"].as_str());
            match name {
                Some(name) => st.store.api_key_hash(&w.org_id, name).await?,
                None => None,
            }
        }
        None => None,
    };
    let matches = secure_eq(
        &presented_hash,
        stored
            .as_deref()
            .unwrap_or("0000000000000000000000000000000000000000000000000000000000000000"),
    );
    Ok(matches && presented.is_some() && stored.is_some())
}

async fn handle(st: &AppState, id: &str, req: Request) -> ApiResult<Response> {
    let limit = st.settings.webhook_max_body();
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(ApiError::too_large(limit));
        }
    }
    let query = query_map(&req);
    let headers = req.headers().clone();
    let bytes = read_body(req, limit).await?;
    let presented = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or(query.get("x-api-key").map(String::as_str));
    let workflow = st.store.workflow_any_org(id).await?;
    if !key_matches(st, workflow.as_ref(), presented).await? {
        return Err(ApiError::unauthorized());
    }
    let workflow = workflow.expect("a matching key implies the workflow exists");
    if workflow.deleted {
        return Err(ApiError::not_found("workflow"));
    }
    if !workflow.enabled {
        return Err(ApiError::conflict(
            "the workflow is disabled; enable it to accept alerts",
        ));
    }
    if let Some(kind) = crate::sns::message_type(&headers, &bytes) {
        return crate::sns::handle(st, &workflow, kind, &headers, &bytes).await;
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_json(ct) {
        return Err(ApiError::unsupported_media(format!(
            "the alert must be JSON sent with `Content-Type: application/json` (got {})",
            ct.map_or("no Content-Type".to_string(), |c| format!("`{c}`"))
        )));
    }
    let body: Value = parse_json(&bytes)?;
    // Built by hand: `json!` would copy `body` through `Serialize` rather than clone it.
    let output = Map::from_iter([
        ("output".to_string(), body.clone()),
        ("headers".to_string(), public_headers(&headers)),
        ("query".to_string(), public_query(query)),
    ]);
    let event = TriggerEvent {
        kind: "webhook".into(),
        output: Value::Object(output),
        body,
    };
    let run = st.engine.start(&workflow, event, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "execution_id": run.execution_id })).into_response(),
    )
        .into_response())
}

pub fn public_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if SECRET_HEADERS.contains(&name) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    Value::Object(out)
}

pub fn public_query(mut query: HashMap<String, String>) -> Value {
    query.remove("x-api-key");
    json!(query)
}
