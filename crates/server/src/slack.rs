//! Slack's side of the server: the interactivity Request URL (signed button clicks that decide
//! approvals) and "Add to Slack" (OAuth v2 install with a single-use CSRF `state`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_nodes::slack::{self, SlackClient};
use flowgate_nodes::Integration;
use flowgate_store::approvals::Decided;
use flowgate_store::{ApprovalRow, IntegrationRow, Role};

use crate::auth::{new_secret, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

const MAX_INTERACTION_BODY: usize = 64 * 1024;
const OAUTH_STATE_TTL_MS: i64 = 10 * 60 * 1000;
pub const BOT_SCOPES: &str = "chat:write,channels:read,groups:read";

/// `POST /slack/interactions`. Verifies the signature with the signing secret of the integration
/// that posted the approval, answers at once, and records the decision afterwards.
pub async fn interactions(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > MAX_INTERACTION_BODY {
        return ApiError::too_large(MAX_INTERACTION_BODY).into_response();
    }
    match verified_click(&st, &headers, &body).await {
        Ok((click, approval, integration)) => {
            tokio::spawn(async move { decide_click(st, click, approval, integration).await });
            StatusCode::OK.into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A click whose signature and button secret check out, with its approval and integration.
async fn verified_click(
    st: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(slack::Interaction, ApprovalRow, Integration)> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the request is not signed by Slack for this app",
        )
    };
    let timestamp = header(headers, "x-slack-request-timestamp");
    let signature = header(headers, "x-slack-signature");
    let now = st.engine.services().clock.now_ms() / 1000;
    let click = match slack::parse_interaction(body) {
        Ok(click) => click,
        Err(e) => {
            // Not a Flowgate click: say so only to a request signed with the app's own secret.
            let app_secret = st
                .settings
                .slack_signing_secret
                .as_deref()
                .ok_or_else(refused)?;
            slack::verify_signature(app_secret, timestamp, body, signature, now)
                .map_err(|_| refused())?;
            return Err(ApiError::bad_request(format!("not an approval click: {e}")));
        }
    };
    let approval = st
        .store
        .approval(None, &click.approval_id)
        .await?
        .ok_or_else(refused)?;
    let alias = approval.integration.clone().ok_or_else(refused)?;
    let row = st
        .store
        .integration(&approval.org_id, &alias)
        .await?
        .ok_or_else(refused)?;
    let integration = open(st, row)?;
    let secret = integration
        .secrets
        .get("signing_secret")
        .ok_or_else(refused)?;
    slack::verify_signature(secret, timestamp, body, signature, now).map_err(|_| refused())?;
    if !slack::secrets_equal(&click.secret, &approval.secret) {
        return Err(refused());
    }
    Ok((click, approval, integration))
}

fn open(st: &AppState, row: IntegrationRow) -> ApiResult<Integration> {
    let secrets = crate::api::integrations::open_secrets(st, &row)?;
    Ok(Integration {
        kind: row.kind,
        alias: row.alias,
        config: row.config,
        secrets,
    })
}

async fn decide_click(
    st: AppState,
    click: slack::Interaction,
    approval: ApprovalRow,
    integration: Integration,
) {
    let client = match SlackClient::for_integration(st.http.clone(), &integration) {
        Ok(c) => c,
        Err(e) => return tracing::warn!(error = %e, "cannot answer a Slack click"),
    };
    let channel = click
        .channel_id
        .clone()
        .or(approval.channel.clone())
        .unwrap_or_default();
    let allowed: Vec<String> = approval
        .approvers
        .as_ref()
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if !allowed.is_empty() && !allowed.contains(&click.user.id) {
        if let Err(e) = client
            .post_ephemeral(&channel, &click.user.id, &slack::not_an_approver_text())
            .await
        {
            tracing::warn!(error = %e, "cannot tell a Slack user they are not an approver");
        }
        return;
    }
    match st
        .store
        .decide_approval(
            &approval.id,
            click.choice.status(),
            Some(click.decided_by()),
            None,
        )
        .await
    {
        Ok(Decided::Recorded(_)) => st.engine.wake(),
        Ok(Decided::AlreadyClosed(a)) => {
            let text = slack::already_decided_text(&a.status, a.decided_by.as_ref());
            if let Err(e) = client.post_ephemeral(&channel, &click.user.id, &text).await {
                tracing::warn!(error = %e, "cannot tell a Slack user the approval was decided already");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, approval = %approval.id, "recording a Slack decision failed")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    alias: String,
}

fn redirect_uri(st: &AppState) -> String {
    format!("{}/slack/oauth/callback", st.public_url)
}

/// `POST /api/v1/integrations/slack/install`: the Slack "Add to Slack" URL, with a single-use state.
#[utoipa::path(post, path = "/api/v1/integrations/slack/install", tag = "integrations", request_body = Value, responses((status = 200, description = "`{authorize_url}`")))]
pub async fn install(
    State(st): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<InstallBody>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    crate::api::tenants::check_name("integration", &body.alias)?;
    let (Some(client_id), Some(_), Some(_)) = (
        &st.settings.slack_client_id,
        &st.settings.slack_client_secret,
        &st.settings.slack_signing_secret,
    ) else {
        return Err(ApiError::invalid(
            "Add to Slack needs the Slack app's FLOWGATE_SLACK_CLIENT_ID, FLOWGATE_SLACK_CLIENT_SECRET and FLOWGATE_SLACK_SIGNING_SECRET in the server settings; or paste a bot token and signing secret instead",
            Vec::new(),
        ));
    };
    if st
        .store
        .integration(&p.org_id, &body.alias)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "an integration named `{}` exists already",
            body.alias
        )));
    }
    let state = new_secret("");
    let record = json!({ "alias": body.alias }).to_string();
    st.store
        .kv_insert(
            &p.org_id,
            "slack_oauth",
            &state,
            &record,
            Some(flowgate_store::now_ms() + OAUTH_STATE_TTL_MS),
        )
        .await?;
    let mut url = url::Url::parse(&format!(
        "{}/oauth/v2/authorize",
        st.settings.slack_oauth_base_url()
    ))
    .map_err(|e| ApiError::internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("client_id", client_id)
        .append_pair("scope", BOT_SCOPES)
        .append_pair("user_scope", "")
        .append_pair("redirect_uri", &redirect_uri(&st));
    Ok(Json(json!({ "authorize_url": url.to_string() })))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:40rem;margin:4rem auto\"><h1>{t}</h1><p>{x}</p><p><a href=\"/#/integrations\">Back to Flowgate</a></p></body></html>",
        t = esc(title),
        x = esc(text)
    );
    (status, Html(html)).into_response()
}

/// `GET /slack/oauth/callback`: exchanges the code for a bot token and stores the integration.
pub async fn oauth_callback(State(st): State<AppState>, Query(q): Query<Callback>) -> Response {
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Slack install failed",
            "The link has no state: start again from Flowgate's Integrations page.",
        );
    };
    let taken = match st.store.kv_take("slack_oauth", &state).await {
        Ok(t) => t,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some((org_id, record)) = taken else {
        return page(StatusCode::BAD_REQUEST, "Slack install failed", "This install link is invalid, expired or was already used: start again from Flowgate's Integrations page. Nothing was saved.");
    };
    if let Some(error) = q.error {
        return page(
            StatusCode::BAD_REQUEST,
            "Slack install cancelled",
            &format!("Slack answered `{error}`: the app was not installed and nothing was saved."),
        );
    }
    let Some(code) = q.code else {
        return page(
            StatusCode::BAD_REQUEST,
            "Slack install failed",
            "Slack sent no code. Nothing was saved.",
        );
    };
    let alias = serde_json::from_str::<Value>(&record)
        .ok()
        .and_then(|v| v["alias"].as_str().map(String::from))
        .unwrap_or_default();
    match finish_install(&st, &org_id, &alias, &code).await {
        Ok(()) => Redirect::to(&format!("/#/integrations?installed={alias}")).into_response(),
        Err(message) => page(
            StatusCode::BAD_GATEWAY,
            "Slack install failed",
            &format!("{message} Nothing was saved."),
        ),
    }
}

async fn finish_install(
    st: &AppState,
    org_id: &str,
    alias: &str,
    code: &str,
) -> Result<(), String> {
    let s = &st.settings;
    let (Some(id), Some(secret), Some(signing)) = (
        &s.slack_client_id,
        &s.slack_client_secret,
        &s.slack_signing_secret,
    ) else {
        return Err("The server has no Slack app credentials.".into());
    };
    let api_base = format!("{}/api", s.slack_oauth_base_url());
    let access = SlackClient::oauth_v2_access(
        st.http.clone(),
        &api_base,
        id,
        secret,
        code,
        Some(&redirect_uri(st)),
    )
    .await
    .map_err(|e| format!("Slack refused the install: {e}."))?;
    let mut config = serde_json::Map::new();
    if s.slack_oauth_base_url() != "https://slack.com" {
        config.insert("base_url".into(), json!(api_base));
    }
    if let Some(team) = &access.team {
        config.insert("team".into(), json!(team));
    }
    let secrets = std::collections::BTreeMap::from([
        ("bot_token".to_string(), access.access_token.clone()),
        ("signing_secret".to_string(), signing.clone()),
    ]);
    let sealed = st.vault.seal(
        &serde_json::to_vec(&secrets).expect("serializes"),
        &crate::vault::integration_ad(org_id, alias, "slack"),
    );
    let row = IntegrationRow {
        org_id: org_id.into(),
        alias: alias.into(),
        kind: "slack".into(),
        config: serde_json::Value::Object(config),
        secrets: sealed,
        created_at: 0,
        updated_at: 0,
    };
    st.store
        .put_integration(row, false)
        .await
        .map_err(|e| format!("Saving the integration failed: {e}."))?;
    Ok(())
}
