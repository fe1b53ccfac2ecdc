//! The management API under `/api/v1` (spec §7).

pub mod approvals;
pub mod executions;
pub mod integrations;
pub mod node_types;
pub mod session;
pub mod tenants;
pub mod workflows;

use axum::routing::{get, post, put};
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", post(tenants::create_org))
        .route(
            "/tokens",
            post(tenants::create_token).get(tenants::list_tokens),
        )
        .route("/tokens/{id}", axum::routing::delete(tenants::delete_token))
        .route(
            "/api-keys",
            post(tenants::create_api_key).get(tenants::list_api_keys),
        )
        .route(
            "/api-keys/{name}",
            axum::routing::delete(tenants::delete_api_key),
        )
        .route(
            "/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        .route("/node-types", get(node_types::list))
        .route("/workflows", post(workflows::create).get(workflows::list))
        .route(
            "/workflows/{id}",
            get(workflows::get_one)
                .put(workflows::update)
                .patch(workflows::patch)
                .delete(workflows::delete),
        )
        .route("/workflows/{id}/versions", get(workflows::versions))
        .route("/workflows/{id}/versions/{n}", get(workflows::version))
        .route(
            "/workflows/{id}/trigger/output-schema",
            put(workflows::set_output_schema),
        )
        .route("/workflows/{id}/executions", post(workflows::run))
        .route("/workflows/{id}/schedule", get(workflows::schedule))
        .route("/executions", get(executions::list))
        .route("/executions/{id}", get(executions::get_one))
        .route("/executions/{id}/cancel", post(executions::cancel))
        .route("/approvals", get(approvals::list))
        .route("/approvals/{id}/decision", post(approvals::decide))
        .route(
            "/integrations",
            post(integrations::create).get(integrations::list),
        )
        .route(
            "/integrations/{alias}",
            get(integrations::get_one)
                .put(integrations::update)
                .delete(integrations::delete),
        )
        .route(
            "/integrations/{alias}/accounts",
            get(integrations::accounts),
        )
        .route(
            "/integrations/{alias}/channels",
            get(integrations::channels),
        )
}
