//! Liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;
use utoipa::OpenApi;

use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    if st.store.ping().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "the database does not answer" })),
        )
    }
}

pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    if let Ok(row) =
        sqlx::query("SELECT COUNT(*) AS n FROM executions WHERE status IN ('queued', 'running')")
            .fetch_one(st.store.pool())
            .await
    {
        st.metrics
            .set_queue_depth(row.try_get::<i64, _>("n").unwrap_or(0));
    }
    st.metrics.set_write_stats(st.store.write_stats());
    st.metrics.set_cache_enabled(st.store.read_cache_enabled());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flowgate",
        description = "Event-driven workflow automation for cloud operations. Management API: `Authorization: Bearer <access token>`."
    ),
    paths(
        crate::api::tenants::create_org,
        crate::api::tenants::create_token,
        crate::api::tenants::list_tokens,
        crate::api::tenants::delete_token,
        crate::api::tenants::create_api_key,
        crate::api::tenants::list_api_keys,
        crate::api::tenants::delete_api_key,
        crate::api::session::sign_in,
        crate::api::session::current,
        crate::api::session::sign_out,
        crate::api::node_types::list,
        crate::api::workflows::create,
        crate::api::workflows::list,
        crate::api::workflows::get_one,
        crate::api::workflows::update,
        crate::api::workflows::patch,
        crate::api::workflows::delete,
        crate::api::workflows::versions,
        crate::api::workflows::version,
        crate::api::workflows::set_output_schema,
        crate::api::workflows::schedule,
        crate::api::workflows::run,
        crate::api::executions::list,
        crate::api::executions::get_one,
        crate::api::executions::cancel,
        crate::api::approvals::list,
        crate::api::approvals::decide,
        crate::api::integrations::create,
        crate::api::integrations::list,
        crate::api::integrations::get_one,
        crate::api::integrations::update,
        crate::api::integrations::delete,
        crate::api::integrations::accounts,
        crate::api::integrations::channels,
    )
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
