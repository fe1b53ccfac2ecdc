//! Organizations, access tokens and API keys. Secret values appear only in a creation's answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_store::{Role, TokenRow};

use crate::auth::{hash_secret, new_secret, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ts, JsonBody};
use crate::state::AppState;

/// Names of tokens, keys, organizations and integrations: 1–64 of letters, digits, `-`, `_`, `.`.
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            format!(
                "`{name}` is not a valid {what} name: use 1 to 64 letters, digits, `-`, `_` or `.`"
            ),
            vec![flowgate_model::Problem::new(
                "name",
                "1 to 64 letters, digits, `-`, `_` or `.`",
            )],
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    name: String,
}

#[utoipa::path(post, path = "/api/v1/orgs", tag = "organizations", request_body = Value,
    responses((status = 201, description = "Created: `{id, name, admin_token}`; the token is shown only here"), (status = 403, description = "Not the bootstrap admin")))]
pub async fn create_org(
    State(st): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<CreateOrg>,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Admin)?;
    if !st.store.is_bootstrap_token(&p.token_id).await? {
        return Err(ApiError::forbidden(
            "only the bootstrap admin token may create organizations",
        ));
    }
    check_name("organization", &body.name)?;
    let token = new_secret("fgt_");
    let (org, _) = st
        .store
        .create_org(&body.name, "admin", &hash_secret(&token))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": org.id, "name": org.name, "admin_token": token, "created_at": ts(org.created_at) }),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Role,
}

fn token_json(t: &TokenRow) -> Value {
    json!({ "id": t.id, "name": t.name, "role": t.role, "created_at": ts(t.created_at) })
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = Value, responses((status = 201, description = "`{id, name, role, token}`; the token is shown only here")))]
pub async fn create_token(
    State(st): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Admin)?;
    check_name("token", &body.name)?;
    let secret = new_secret("fgt_");
    let row = st
        .store
        .create_token(&p.org_id, &body.name, body.role, &hash_secret(&secret))
        .await?;
    let mut out = token_json(&row);
    out["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, description = "`{items: [{id, name, role, created_at}]}`")))]
pub async fn list_tokens(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let items: Vec<Value> = st
        .store
        .list_tokens(&p.org_id)
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete_token(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    p.require(Role::Admin)?;
    st.store
        .delete_token(&p.org_id, &id)
        .await
        .map_err(|e| not_found(e, "token"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    name: String,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = Value, responses((status = 201, description = "`{name, key}`; the key is shown only here"), (status = 409)))]
pub async fn create_api_key(
    State(st): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<CreateApiKey>,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Admin)?;
    check_name("API key", &body.name)?;
    let key = new_secret("fgk_");
    let row = st
        .store
        .create_api_key(&p.org_id, &body.name, &hash_secret(&key))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": row.name, "key": key, "created_at": ts(row.created_at) })),
    ))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", responses((status = 200, description = "`{items: [{name, created_at}]}`, never the values")))]
pub async fn list_api_keys(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = st
        .store
        .list_api_keys(&p.org_id)
        .await?
        .iter()
        .map(|k| json!({ "name": k.name, "created_at": ts(k.created_at) }))
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{name}", tag = "api-keys", params(("name" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete_api_key(
    State(st): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    p.require(Role::Admin)?;
    st.store
        .delete_api_key(&p.org_id, &name)
        .await
        .map_err(|e| not_found(e, "API key"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Maps a store `NotFound` to a 404 naming the resource.
pub fn not_found(e: flowgate_store::StoreError, what: &str) -> ApiError {
    match e {
        flowgate_store::StoreError::NotFound => ApiError::not_found(what),
        e => e.into(),
    }
}
