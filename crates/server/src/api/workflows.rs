//! Workflows: create from JSON or YAML documents, validate (every problem at once, 422), save
//! immutable versions, enable/disable, delete, output schemas, and manual runs.

use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_engine::TriggerEvent;
use flowgate_model::template::Templates;
use flowgate_model::{
    parse_document, schema, validate, DocumentFormat, Problem, WorkflowDocument, MAX_DOCUMENT_BYTES,
};
use flowgate_store::{Role, WorkflowRow};

use crate::api::tenants::not_found;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{read_body, ts, JsonBody, PageQuery, QueryParams};
use crate::state::AppState;

/// Parses and validates a document body; 413/400/415/422 with every problem.
pub async fn document_from_request(st: &AppState, req: Request) -> ApiResult<WorkflowDocument> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let format = match ct.as_deref() {
        Some(c) if c.contains("yaml") => DocumentFormat::Yaml,
        Some(c) if crate::extract::is_json(Some(c)) => DocumentFormat::Json,
        _ => return Err(ApiError::unsupported_media("send the workflow as JSON (`Content-Type: application/json`) or YAML (`Content-Type: application/yaml`)")),
    };
    let bytes = read_body(req, MAX_DOCUMENT_BYTES).await?;
    check_document(st, &bytes, format)
}

pub fn check_document(
    st: &AppState,
    bytes: &[u8],
    format: DocumentFormat,
) -> ApiResult<WorkflowDocument> {
    let doc = parse_document(bytes, format).map_err(|e| match e {
        flowgate_model::ParseError::TooLarge { limit, .. } => ApiError::too_large(limit),
        e @ flowgate_model::ParseError::InvalidUtf8 { .. } => ApiError::bad_request(e.to_string()),
        e => ApiError::invalid(
            format!("the workflow document is invalid: {e}"),
            vec![Problem::new(e.path(), e.to_string())],
        ),
    })?;
    validate_document(st, doc)
}

/// Validates a parsed document: 422 with every problem, or the document back.
pub fn validate_document(st: &AppState, doc: WorkflowDocument) -> ApiResult<WorkflowDocument> {
    let problems = validate(&doc, st.registry.as_ref(), &st.templates);
    if !problems.is_empty() {
        let n = problems.len();
        return Err(ApiError::invalid(
            format!(
                "the workflow has {n} problem{}",
                if n == 1 { "" } else { "s" }
            ),
            problems,
        ));
    }
    Ok(doc)
}

/// References into the trigger's output that its output schema does not have.
pub fn schema_warnings(doc: &WorkflowDocument) -> Vec<Problem> {
    let Some(trigger) = doc.trigger() else {
        return Vec::new();
    };
    let Some(schema) = trigger
        .params
        .get("output_schema")
        .filter(|s| s.is_object())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, node) in doc.nodes.iter().enumerate() {
        for (root, path) in Templates::plain_paths(&Value::Object(node.params.clone())) {
            if root != trigger.id
                || path.first() != Some(&flowgate_model::template::Segment::Key("output".into()))
            {
                continue;
            }
            if !schema::has_path(schema, &path[1..]) {
                out.push(Problem::new(format!("nodes[{i}].params"), format!("`{root}.output` has no such field in the trigger's output schema: {path:?}")));
            }
        }
    }
    out
}

fn webhook_url(st: &AppState, w: &WorkflowRow) -> Option<String> {
    let is_webhook = w.document["nodes"]
        .as_array()
        .is_some_and(|n| n.iter().any(|n| n["type"] == "trigger.webhook"));
    is_webhook.then(|| format!("{}/webhooks/{}", st.public_url, w.id))
}

pub fn workflow_json(st: &AppState, w: &WorkflowRow) -> Value {
    json!({
        "id": w.id, "name": w.name, "description": w.document["description"], "version": w.version, "enabled": w.enabled,
        "webhook_url": webhook_url(st, w), "document": w.document, "created_at": ts(w.created_at), "updated_at": ts(w.updated_at),
    })
}

async fn load(st: &AppState, p: &Principal, id: &str) -> ApiResult<WorkflowRow> {
    st.store
        .workflow(&p.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow"))
}

#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body(content = Value, content_type = "application/json"),
    responses((status = 201, description = "Created: the workflow with `version` 1 and `warnings`"), (status = 422, description = "Every problem, each with its path")))]
pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Editor)?;
    let doc = document_from_request(&st, req).await?;
    let warnings = schema_warnings(&doc);
    let row = st
        .store
        .create_workflow(
            &p.org_id,
            &doc.name,
            serde_json::to_value(&doc).expect("documents serialize"),
        )
        .await?;
    let mut out = workflow_json(&st, &row);
    out["warnings"] = json!(warnings);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)), responses((status = 200, description = "`{items, next_cursor}`")))]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    QueryParams(q): QueryParams<PageQuery>,
) -> ApiResult<Json<Value>> {
    let page = st
        .store
        .list_workflows(&p.org_id, q.limit()?, q.cursor.as_deref())
        .await?;
    let ids: Vec<String> = page.items.iter().map(|w| w.id.clone()).collect();
    let last = st.store.last_executions(&ids).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for w in &page.items {
        let mut v = workflow_json(&st, w);
        v.as_object_mut().expect("object").remove("document");
        v["last_execution"] = match last.get(&w.id) {
            Some(e) => json!({ "id": e.id, "status": e.status, "created_at": ts(e.created_at) }),
            None => Value::Null,
        };
        items.push(v);
    }
    Ok(Json(
        json!({ "items": items, "next_cursor": page.next_cursor }),
    ))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(workflow_json(&st, &load(&st, &p, &id).await?)))
}

#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path)), request_body(content = Value, content_type = "application/json"),
    responses((status = 200, description = "`{id, version, warnings}`"), (status = 422)))]
pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<Value>> {
    p.require(Role::Editor)?;
    load(&st, &p, &id).await?;
    let doc = document_from_request(&st, req).await?;
    let warnings = schema_warnings(&doc);
    let version = st
        .store
        .save_workflow_version(
            &p.org_id,
            &id,
            &doc.name,
            serde_json::to_value(&doc).expect("serializes"),
        )
        .await
        .map_err(|e| not_found(e, "workflow"))?;
    Ok(Json(
        json!({ "id": id, "version": version, "warnings": warnings }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    enabled: bool,
}

#[utoipa::path(patch, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path)), request_body = Value, responses((status = 200), (status = 404)))]
pub async fn patch(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Patch>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Editor)?;
    st.store
        .set_workflow_enabled(&p.org_id, &id, body.enabled)
        .await
        .map_err(|e| not_found(e, "workflow"))?;
    Ok(Json(workflow_json(&st, &load(&st, &p, &id).await?)))
}

#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    p.require(Role::Editor)?;
    st.store
        .delete_workflow(&p.org_id, &id)
        .await
        .map_err(|e| not_found(e, "workflow"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/versions", tag = "workflows", params(("id" = String, Path)), responses((status = 200, description = "`{items: [{version, created_at}]}`")))]
pub async fn versions(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    load(&st, &p, &id).await?;
    let items: Vec<Value> = st.store.workflow_versions(&p.org_id, &id).await?.iter().map(|v| json!({ "version": v.version, "name": v.document["name"], "created_at": ts(v.created_at) })).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/versions/{n}", tag = "workflows", params(("id" = String, Path), ("n" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn version(
    State(st): State<AppState>,
    p: Principal,
    Path((id, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    load(&st, &p, &id).await?;
    let n: i64 = n
        .parse()
        .map_err(|_| ApiError::bad_request(format!("`{n}` is not a version number")))?;
    let v = st
        .store
        .workflow_version(&p.org_id, &id, n)
        .await?
        .ok_or_else(|| ApiError::not_found("version"))?;
    Ok(Json(
        json!({ "version": v.version, "document": v.document, "created_at": ts(v.created_at) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSchema {
    from_execution: Option<String>,
    schema: Option<Value>,
}

#[utoipa::path(put, path = "/api/v1/workflows/{id}/trigger/output-schema", tag = "workflows", params(("id" = String, Path)), request_body = Value,
    responses((status = 200, description = "A new version: `{id, version}`"), (status = 422)))]
pub async fn set_output_schema(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OutputSchema>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Editor)?;
    let row = load(&st, &p, &id).await?;
    let schema = match (body.from_execution, body.schema) {
        (Some(exec_id), None) => {
            let exec = st.store.execution(&p.org_id, &exec_id).await?.ok_or_else(|| ApiError::not_found("execution"))?;
            schema::infer(&exec.trigger["body"])
        }
        (None, Some(s)) if s.is_object() => {
            jsonschema::validator_for(&s).map_err(|e| ApiError::invalid(format!("`schema` is not a valid JSON Schema: {e}"), vec![Problem::new("schema", e.to_string())]))?;
            s
        }
        _ => return Err(ApiError::invalid("give exactly one of `from_execution` (an execution id) or `schema` (a JSON Schema object)", Vec::new())),
    };
    let mut doc: WorkflowDocument =
        serde_json::from_value(row.document).map_err(|e| ApiError::internal(e.to_string()))?;
    let trigger = doc
        .nodes
        .iter_mut()
        .find(|n| n.is_trigger())
        .ok_or_else(|| ApiError::invalid("the workflow has no trigger", Vec::new()))?;
    if trigger.node_type != "trigger.webhook" {
        return Err(ApiError::invalid(
            format!(
                "only a webhook trigger has an output schema; this one is `{}`",
                trigger.node_type
            ),
            Vec::new(),
        ));
    }
    trigger.params.insert("output_schema".into(), schema);
    let doc = validate_document(&st, doc)?;
    let version = st
        .store
        .save_workflow_version(
            &p.org_id,
            &id,
            &doc.name,
            serde_json::to_value(&doc).expect("serializes"),
        )
        .await?;
    Ok(Json(
        json!({ "id": id, "version": version, "warnings": schema_warnings(&doc) }),
    ))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/executions", tag = "executions", params(("id" = String, Path)), request_body = Value,
    responses((status = 202, description = "`{execution_id}` once committed"), (status = 409, description = "Disabled"), (status = 422, description = "Payload does not match the trigger's parameters")))]
pub async fn run(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    p.require(Role::Editor)?;
    let row = load(&st, &p, &id).await?;
    if !row.enabled {
        return Err(ApiError::conflict(
            "the workflow is disabled; enable it to run it",
        ));
    }
    let bytes = read_body(req, st.settings.webhook_max_body()).await?;
    let payload: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        crate::extract::parse_json(&bytes)?
    };
    let doc: WorkflowDocument = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(schema) = doc
        .trigger()
        .and_then(|t| t.params.get("parameters"))
        .filter(|s| s.is_object())
    {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| ApiError::internal(format!("stored parameters schema is invalid: {e}")))?;
        let problems: Vec<Problem> = validator
            .iter_errors(&payload)
            .map(|e| Problem::new(e.instance_path.to_string(), e.to_string()))
            .collect();
        if !problems.is_empty() {
            return Err(ApiError::invalid(
                "the payload does not match the workflow's parameters",
                problems,
            ));
        }
    }
    let event = TriggerEvent {
        kind: "manual".into(),
        output: json!({ "output": payload.clone() }),
        body: payload,
    };
    let started = st.engine.start(&row, event, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "execution_id": started.execution_id })),
    ))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/schedule", tag = "workflows", params(("id" = String, Path)),
    responses((status = 200, description = "`{next_runs}`: the next 10 run times of a schedule trigger"), (status = 422, description = "Not a schedule workflow")))]
pub async fn schedule(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = load(&st, &p, &id).await?;
    let now = st.engine.services().clock.now_ms();
    let next =
        crate::schedules::upcoming(&row, now, 10).map_err(|e| ApiError::invalid(e, Vec::new()))?;
    let params = crate::schedules::params_of(&row);
    Ok(Json(json!({
        "cron": params.as_ref().and_then(|p| p.cron.clone()),
        "every": params.as_ref().and_then(|p| p.every.clone()),
        "timezone": params.as_ref().and_then(|p| p.timezone.clone()),
        "next_runs": next.iter().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).collect::<Vec<_>>(),
    })))
}
