//! Executions: list with filters, one with its steps, cancel.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_store::executions::ExecutionFilter;
use flowgate_store::{ExecStatus, ExecutionRow, Role, StepRow};

use crate::api::tenants::not_found;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_time, ts, ts_opt, PageQuery, QueryParams};
use crate::state::AppState;

pub fn execution_json(e: &ExecutionRow) -> Value {
    json!({
        "id": e.id, "workflow_id": e.workflow_id, "workflow_version": e.workflow_version, "status": e.status,
        "trigger": { "type": e.trigger_type, "body": e.trigger["body"], "received_at": e.trigger["received_at"].as_i64().map(ts) },
        "created_at": ts(e.created_at), "started_at": ts_opt(e.started_at), "finished_at": ts_opt(e.finished_at), "error": e.error,
    })
}

pub fn step_json(s: &StepRow) -> Value {
    json!({
        "node_id": s.node_id, "type": s.node_type, "name": s.name, "scope": if s.scope.is_empty() { Value::Null } else { json!(s.scope) },
        "status": s.status, "port": s.port, "attempts": s.attempts, "input": s.input, "output": s.output, "error": s.error,
        "started_at": ts_opt(s.started_at), "finished_at": ts_opt(s.finished_at),
        "duration_ms": s.started_at.zip(s.finished_at).map(|(a, b)| b - a),
    })
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

#[utoipa::path(get, path = "/api/v1/executions", tag = "executions",
    params(("workflow_id" = Option<String>, Query), ("status" = Option<String>, Query), ("since" = Option<String>, Query), ("until" = Option<String>, Query), ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "`{items, next_cursor}`, newest first")))]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ExecStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = ExecStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "unknown status `{s}`; use one of {}",
                all.join(", ")
            ))
        })?),
    };
    let filter = ExecutionFilter {
        workflow_id: q.workflow_id.filter(|w| !w.is_empty()),
        status,
        since: q
            .since
            .as_deref()
            .map(|t| parse_time("since", t))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|t| parse_time("until", t))
            .transpose()?,
    };
    let page = st
        .store
        .list_executions(
            &p.org_id,
            &filter,
            q.page.limit()?,
            q.page.cursor.as_deref(),
        )
        .await?;
    Ok(Json(
        json!({ "items": page.items.iter().map(execution_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor }),
    ))
}

#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = "executions", params(("id" = String, Path)), responses((status = 200, description = "The execution with its steps"), (status = 404)))]
pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let exec = st
        .store
        .execution(&p.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    let steps = st.store.steps(&id).await?;
    let mut out = execution_json(&exec);
    out["steps"] = json!(steps.iter().map(step_json).collect::<Vec<_>>());
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/cancel", tag = "executions", params(("id" = String, Path)), responses((status = 200), (status = 404), (status = 409, description = "Already finished")))]
pub async fn cancel(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Editor)?;
    let exec = st
        .store
        .cancel_execution(&p.org_id, &id)
        .await
        .map_err(|e| not_found(e, "execution"))?;
    Ok(Json(execution_json(&exec)))
}
