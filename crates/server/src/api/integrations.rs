//! Integrations: named connections to Spot, Slack and HTTP services. Secrets are sealed by the
//! vault before they reach the store and are never returned.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use flowgate_model::Problem;
use flowgate_nodes::Integration;
use flowgate_store::{IntegrationRow, Role};

use crate::api::tenants::{check_name, not_found};
use crate::auth::Principal;
use crate::connectors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ts, JsonBody};
use crate::state::AppState;
use crate::vault::integration_ad;

pub const KINDS: &[&str] = &["spot", "slack", "http"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    #[serde(rename = "type")]
    kind: String,
    alias: Option<String>,
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    secrets: Option<BTreeMap<String, String>>,
}

fn integration_json(row: &IntegrationRow, secret_names: &[String]) -> Value {
    json!({ "type": row.kind, "alias": row.alias, "config": row.config, "secret_names": secret_names, "created_at": ts(row.created_at), "updated_at": ts(row.updated_at) })
}

/// Checks the type, config and secrets an integration of this type needs.
fn check_shape(
    kind: &str,
    config: &Map<String, Value>,
    secrets: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    let mut need = |name: &str| {
        if secrets.get(name).is_none_or(|v| v.trim().is_empty()) {
            problems.push(Problem::new(
                format!("secrets.{name}"),
                format!("a `{kind}` integration needs `secrets.{name}`"),
            ));
        }
    };
    match kind {
        "spot" => need("token"),
        "slack" => {
            need("bot_token");
            need("signing_secret");
        }
        "http" => match config.get("auth").and_then(Value::as_str) {
            Some("bearer") => need("token"),
            Some("basic") => {
                need("username");
                need("password");
            }
            Some("header") => {
                need("value");
                if config
                    .get("header_name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    problems.push(Problem::new(
                        "config.header_name",
                        "`header` auth needs `config.header_name`",
                    ));
                }
            }
            _ => problems.push(Problem::new(
                "config.auth",
                "an `http` integration needs `config.auth`: bearer, basic or header",
            )),
        },
        other => problems.push(Problem::new(
            "type",
            format!(
                "unknown integration type `{other}`; use one of {}",
                KINDS.join(", ")
            ),
        )),
    }
    for (key, value) in config {
        if key == "base_url"
            && !value.as_str().is_some_and(|u| {
                url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            })
        {
            problems.push(Problem::new("config.base_url", "must be an http(s) URL"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("the integration is incomplete", problems))
    }
}

pub fn open_secrets(
    st: &AppState,
    row: &IntegrationRow,
) -> Result<BTreeMap<String, String>, ApiError> {
    let plain = st
        .vault
        .open(
            &row.secrets,
            &integration_ad(&row.org_id, &row.alias, &row.kind),
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    serde_json::from_slice(&plain)
        .map_err(|e| ApiError::internal(format!("stored secrets are not a JSON object: {e}")))
}

fn seal(
    st: &AppState,
    org_id: &str,
    alias: &str,
    kind: &str,
    secrets: &BTreeMap<String, String>,
) -> String {
    st.vault.seal(
        &serde_json::to_vec(secrets).expect("serializes"),
        &integration_ad(org_id, alias, kind),
    )
}

async fn save(
    st: &AppState,
    p: &Principal,
    alias: String,
    body: IntegrationBody,
    secrets: BTreeMap<String, String>,
    replace: bool,
) -> ApiResult<IntegrationRow> {
    check_shape(&body.kind, &body.config, &secrets)?;
    let integration = Integration {
        kind: body.kind.clone(),
        alias: alias.clone(),
        config: Value::Object(body.config.clone()),
        secrets: secrets.clone(),
    };
    connectors::verify(st, &integration).await?;
    let row = IntegrationRow {
        org_id: p.org_id.clone(),
        secrets: seal(st, &p.org_id, &alias, &body.kind, &secrets),
        alias,
        kind: body.kind,
        config: Value::Object(body.config),
        created_at: 0,
        updated_at: 0,
    };
    Ok(st.store.put_integration(row, replace).await?)
}

#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = Value,
    responses((status = 201, description = "Created; secrets are never returned"), (status = 409), (status = 422, description = "Incomplete, or the service refused the credentials")))]
pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Admin)?;
    let alias = body.alias.clone().ok_or_else(|| {
        ApiError::invalid(
            "`alias` is required",
            vec![Problem::new("alias", "required")],
        )
    })?;
    check_name("integration", &alias)?;
    if st.store.integration(&p.org_id, &alias).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "an integration named `{alias}` exists already"
        )));
    }
    let secrets = body.secrets.clone().unwrap_or_default();
    let names: Vec<String> = secrets.keys().cloned().collect();
    let row = save(&st, &p, alias, body, secrets, false).await?;
    Ok((StatusCode::CREATED, Json(integration_json(&row, &names))))
}

#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations", responses((status = 200, description = "`{items}` without secrets")))]
pub async fn list(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let rows = st.store.list_integrations(&p.org_id).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        // One record that does not open (altered, or sealed under another key) is listed with
        // the problem instead of hiding every other integration behind a 500.
        match open_secrets(&st, row) {
            Ok(secrets) => items.push(integration_json(
                row,
                &secrets.into_keys().collect::<Vec<_>>(),
            )),
            Err(e) => {
                let mut item = integration_json(row, &[]);
                item["error"] = json!(e.message);
                items.push(item);
            }
        }
    }
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

async fn load(st: &AppState, p: &Principal, alias: &str) -> ApiResult<IntegrationRow> {
    st.store
        .integration(&p.org_id, alias)
        .await?
        .ok_or_else(|| ApiError::not_found("integration"))
}

#[utoipa::path(get, path = "/api/v1/integrations/{alias}", tag = "integrations", params(("alias" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(alias): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = load(&st, &p, &alias).await?;
    let names: Vec<String> = open_secrets(&st, &row)?.into_keys().collect();
    Ok(Json(integration_json(&row, &names)))
}

#[utoipa::path(put, path = "/api/v1/integrations/{alias}", tag = "integrations", params(("alias" = String, Path)), request_body = Value,
    responses((status = 200, description = "Replaced; secrets left out keep their stored values"), (status = 404), (status = 422)))]
pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(alias): Path<String>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let existing = load(&st, &p, &alias).await?;
    if body.alias.as_ref().is_some_and(|a| a != &alias) {
        return Err(ApiError::invalid(
            "the alias cannot be changed; create a new integration instead",
            vec![Problem::new("alias", "differs from the URL")],
        ));
    }
    let mut secrets = if existing.kind == body.kind {
        match open_secrets(&st, &existing) {
            Ok(secrets) => secrets,
            // Stored secrets that no longer open can be replaced by re-entering them all.
            Err(_) if body.secrets.is_some() => BTreeMap::new(),
            Err(e) => return Err(e),
        }
    } else {
        BTreeMap::new()
    };
    secrets.extend(body.secrets.clone().unwrap_or_default());
    let names: Vec<String> = secrets.keys().cloned().collect();
    let row = save(&st, &p, alias, body, secrets, true).await?;
    Ok(Json(integration_json(&row, &names)))
}

#[utoipa::path(delete, path = "/api/v1/integrations/{alias}", tag = "integrations", params(("alias" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete(
    State(st): State<AppState>,
    p: Principal,
    Path(alias): Path<String>,
) -> ApiResult<StatusCode> {
    p.require(Role::Admin)?;
    st.store
        .delete_integration(&p.org_id, &alias)
        .await
        .map_err(|e| not_found(e, "integration"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The integration with its secrets opened, checked to be of `kind`.
async fn opened(st: &AppState, p: &Principal, alias: &str, kind: &str) -> ApiResult<Integration> {
    let row = load(st, p, alias).await?;
    if row.kind != kind {
        return Err(ApiError::invalid(
            format!(
                "integration `{alias}` is of type `{}`, not `{kind}`",
                row.kind
            ),
            Vec::new(),
        ));
    }
    let secrets = open_secrets(st, &row)?;
    Ok(Integration {
        kind: row.kind,
        alias: row.alias,
        config: row.config,
        secrets,
    })
}

#[utoipa::path(get, path = "/api/v1/integrations/{alias}/accounts", tag = "integrations", params(("alias" = String, Path)), responses((status = 200, description = "`{items}`: the Spot accounts the token sees")))]
pub async fn accounts(
    State(st): State<AppState>,
    p: Principal,
    Path(alias): Path<String>,
) -> ApiResult<Json<Value>> {
    let integration = opened(&st, &p, &alias, "spot").await?;
    let items = connectors::spot_accounts(&st, &integration).await?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[utoipa::path(get, path = "/api/v1/integrations/{alias}/channels", tag = "integrations", params(("alias" = String, Path)), responses((status = 200, description = "`{items}`: the Slack channels the bot sees")))]
pub async fn channels(
    State(st): State<AppState>,
    p: Principal,
    Path(alias): Path<String>,
) -> ApiResult<Json<Value>> {
    let integration = opened(&st, &p, &alias, "slack").await?;
    let items = connectors::slack_channels(&st, &integration).await?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}
