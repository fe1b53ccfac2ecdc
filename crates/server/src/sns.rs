//! AWS SNS deliveries on the webhook endpoint (spec §7, protocols §2).

use axum::http::HeaderMap;
use axum::response::Response;

use flowgate_store::WorkflowRow;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The SNS message type of a request, from the header or, failing that, the body's `Type`.
pub fn message_type(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(t) = headers
        .get("x-amz-sns-message-type")
        .and_then(|v| v.to_str().ok())
    {
        return Some(t.to_string());
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let t = value.get("Type")?.as_str()?;
    (matches!(
        t,
        "Notification" | "SubscriptionConfirmation" | "UnsubscribeConfirmation"
    ) && value.get("TopicArn").is_some()
        && value.get("Signature").is_some())
    .then(|| t.to_string())
}

pub async fn handle(
    st: &AppState,
    workflow: &WorkflowRow,
    kind: String,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let _ = (st, workflow, headers, body);
    Err(ApiError::bad_request(format!(
        "SNS `{kind}` messages are not accepted by this build"
    )))
}
