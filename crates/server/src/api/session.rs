//! Console sessions: an access token exchanged for an HttpOnly, SameSite=Strict cookie, with a
//! CSRF token that mutations made with the cookie must echo in `x-csrf-token`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{cookie_value, hash_secret, new_secret, SessionRecord, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

const SESSION_HOURS: i64 = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: String,
}

async fn describe(st: &AppState, token: &flowgate_store::TokenRow, csrf: &str) -> ApiResult<Value> {
    let org = st
        .store
        .org(&token.org_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(
        json!({ "org_id": org.id, "org_name": org.name, "role": token.role, "token_name": token.name, "csrf_token": csrf }),
    )
}

fn cookie(st: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if st.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .expect("cookie is ASCII")
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Value, responses((status = 200, description = "Signed in; sets the session cookie"), (status = 401)))]
pub async fn sign_in(
    State(st): State<AppState>,
    JsonBody(body): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let token = st
        .store
        .token_by_hash(&hash_secret(body.token.trim()))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let session = new_secret("");
    let csrf = new_secret("");
    let record = serde_json::to_string(&SessionRecord {
        token_id: token.id.clone(),
        csrf: csrf.clone(),
    })
    .expect("serializes");
    let expires = flowgate_store::now_ms() + SESSION_HOURS * 3_600_000;
    st.store
        .kv_insert(
            &token.org_id,
            "session",
            &hash_secret(&session),
            &record,
            Some(expires),
        )
        .await?;
    let body = describe(&st, &token, &csrf).await?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&st, &session, SESSION_HOURS * 3600),
    );
    Ok(response)
}

/// The session behind the cookie, if any.
pub struct Session(pub SessionRecord, pub String);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let id = cookie_value(parts, SESSION_COOKIE).ok_or_else(ApiError::unauthorized)?;
        let (_, value) = st
            .store
            .kv_get("session", &hash_secret(id))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let record = serde_json::from_str(&value).map_err(|_| ApiError::unauthorized())?;
        Ok(Session(record, hash_secret(id)))
    }
}

#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200), (status = 401)))]
pub async fn current(
    State(st): State<AppState>,
    Session(record, _): Session,
) -> ApiResult<Json<Value>> {
    let token = st
        .store
        .token_by_id(&record.token_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Json(describe(&st, &token, &record.csrf).await?))
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(
    State(st): State<AppState>,
    headers: HeaderMap,
    session: Result<Session, ApiError>,
) -> ApiResult<Response> {
    if let Ok(Session(record, key)) = session {
        let sent = headers
            .get(crate::auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crate::auth::secure_eq(sent, &record.csrf) {
            return Err(ApiError::forbidden("missing or wrong x-csrf-token header"));
        }
        st.store.kv_take("session", &key).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&st, "", 0));
    Ok(response)
}
