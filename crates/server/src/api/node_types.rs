//! `GET /api/v1/node-types`: every node type with its ports and params schema (the console's
//! palette and forms are built from this).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/node-types", tag = "node-types", responses((status = 200, description = "`{items: [{type, display_name, category, description, ports, dynamic_ports, error_port, idempotent, params_schema}]}`")))]
pub async fn list(State(st): State<AppState>, _: Principal) -> Json<Value> {
    let items: Vec<Value> = st
        .registry
        .iter()
        .map(|n| {
            let mut v = serde_json::to_value(n.descriptor()).expect("descriptors serialize");
            v["params_schema"] = n.params_schema().clone();
            v
        })
        .collect();
    Json(json!({ "items": items }))
}
