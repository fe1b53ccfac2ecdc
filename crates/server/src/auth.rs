//! Who is calling: a bearer access token or a console session cookie (with a CSRF header on
//! mutations), resolved to an organization and a role. Secrets are stored only as SHA-256 hashes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use flowgate_store::Role;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "flowgate_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// SHA-256 of a secret, hex: how tokens and API keys are stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret with a recognisable prefix (`fgt_` tokens, `fgk_` API keys).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// Constant-time equality of two strings.
pub fn secure_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a console session stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub token_id: String,
    pub csrf: String,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    pub token_name: String,
    pub org_id: String,
    pub role: Role,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Editor => 1,
        Role::Admin => 2,
    }
}

impl Principal {
    /// Refuses the call unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if rank(self.role) >= rank(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role; your token is a {}",
                self.role
            )))
        }
    }
}

pub fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let token = if let Some(secret) = bearer {
            state.store.token_by_hash(&hash_secret(secret)).await?
        } else if let Some(session_id) = cookie_value(parts, SESSION_COOKIE) {
            let Some((_, value)) = state
                .store
                .kv_get("session", &hash_secret(session_id))
                .await?
            else {
                return Err(ApiError::unauthorized());
            };
            let record: SessionRecord =
                serde_json::from_str(&value).map_err(|_| ApiError::unauthorized())?;
            if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !secure_eq(sent, &record.csrf) {
                    return Err(ApiError::forbidden("missing or wrong x-csrf-token header for a request made with the session cookie"));
                }
            }
            state.store.token_by_id(&record.token_id).await?
        } else {
            None
        };
        let token = token.ok_or_else(ApiError::unauthorized)?;
        Ok(Principal {
            token_id: token.id,
            token_name: token.name,
            org_id: token.org_id,
            role: token.role,
        })
    }
}
