//! Approvals: list them, and decide one through the API (the same decision a Slack click makes).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_store::approvals::Decided;
use flowgate_store::{ApprovalRow, Role};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ts, ts_opt, JsonBody, PageQuery, QueryParams};
use crate::state::AppState;

pub fn approval_json(a: &ApprovalRow) -> Value {
    json!({
        "id": a.id, "execution_id": a.execution_id, "workflow_id": a.workflow_id, "node_id": a.node_id, "status": a.status,
        "notes": a.notes, "channel": a.channel, "expires_at": ts(a.expires_at), "decision": a.decision, "decided_by": a.decided_by,
        "decided_at": ts_opt(a.decided_at), "comment": a.comment, "created_at": ts(a.created_at),
    })
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", params(("status" = Option<String>, Query)), responses((status = 200, description = "`{items, next_cursor}`")))]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = q.status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !["pending", "approved", "denied", "timed_out", "cancelled"].contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown status `{s}`; use pending, approved, denied, timed_out or cancelled"
            )));
        }
    }
    let page = st
        .store
        .list_approvals(
            &p.org_id,
            status.as_deref(),
            q.page.limit()?,
            q.page.cursor.as_deref(),
        )
        .await?;
    Ok(Json(
        json!({ "items": page.items.iter().map(approval_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/decision", tag = "approvals", params(("id" = String, Path)), request_body = Value,
    responses((status = 200, description = "The decided approval"), (status = 404), (status = 409, description = "Already decided; says by whom")))]
pub async fn decide(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.require(Role::Editor)?;
    let status = match body.decision.as_str() {
        "approve" => "approved",
        "deny" => "denied",
        other => {
            return Err(ApiError::invalid(
                format!("decision must be `approve` or `deny`, not `{other}`"),
                Vec::new(),
            ))
        }
    };
    st.store
        .approval(Some(&p.org_id), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("approval"))?;
    let by = json!({ "id": p.token_id, "name": p.token_name, "via": "api" });
    match st
        .store
        .decide_approval(&id, status, Some(by), body.comment)
        .await?
    {
        Decided::Recorded(a) => {
            st.engine.wake();
            Ok((StatusCode::OK, Json(approval_json(&a))))
        }
        Decided::AlreadyClosed(a) => {
            let who = a
                .decided_by
                .as_ref()
                .and_then(|d| d["name"].as_str().map(str::to_string))
                .unwrap_or_else(|| "nobody (it timed out or was cancelled)".into());
            Err(ApiError::conflict(format!(
                "this approval is {} already, decided by {who}",
                a.status
            )))
        }
    }
}
