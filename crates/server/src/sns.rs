//! AWS SNS deliveries on the webhook endpoint (spec §7, protocols §2): the signature is verified
//! (the certificate URL checked against the SNS host pattern before anything is fetched), a
//! subscription is confirmed by fetching its checked `SubscribeURL`, a `Notification` starts a
//! run with the parsed `Message`, and a repeated `MessageId` starts nothing.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use flowgate_engine::TriggerEvent;
use flowgate_nodes::sns::{self, MessageType, SnsError};
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
    let value: Value = serde_json::from_slice(body).ok()?;
    sns::looks_like_sns(&value).then(|| value["Type"].as_str().unwrap_or_default().to_string())
}

fn refuse(e: SnsError) -> ApiError {
    let message = format!("SNS message refused: {e}");
    match e {
        SnsError::Malformed(_) | SnsError::UntrustedUrl(_) => ApiError::bad_request(message),
        SnsError::BadSignature(_) | SnsError::Certificate(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message)
        }
        SnsError::Fetch(_) => ApiError::bad_gateway(message),
    }
}

pub async fn handle(
    st: &AppState,
    workflow: &WorkflowRow,
    kind: String,
    _headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let msg = sns::parse(body).map_err(refuse)?;
    if msg.message_type != kind {
        return Err(ApiError::bad_request(format!(
            "the x-amz-sns-message-type header says `{kind}` but the message's Type is `{}`",
            msg.message_type
        )));
    }
    st.sns_certs.verify(&msg).await.map_err(refuse)?;
    match msg.kind() {
        Some(MessageType::SubscriptionConfirmation) => {
            sns::confirm_subscription(&st.http, &msg, st.settings.sns_endpoint.as_deref())
                .await
                .map_err(refuse)?;
            tracing::info!(workflow = %workflow.id, topic = %msg.topic_arn, "confirmed an SNS subscription");
            Ok(Json(json!({ "confirmed": true, "topic_arn": msg.topic_arn })).into_response())
        }
        Some(MessageType::UnsubscribeConfirmation) => {
            Ok(Json(json!({ "unsubscribed": true, "topic_arn": msg.topic_arn })).into_response())
        }
        Some(MessageType::Notification) => {
            let message = msg.parsed_message();
            let envelope = json!({
                "MessageId": msg.message_id, "TopicArn": msg.topic_arn, "Subject": msg.subject,
                "Timestamp": msg.timestamp, "MessageAttributes": msg.message_attributes,
            });
            let event = TriggerEvent {
                kind: "sns".into(),
                output: json!({ "output": message, "sns": envelope }),
                body: message,
            };
            let dedup = format!("sns:{}:{}", workflow.id, msg.message_id);
            let run = st.engine.start(workflow, event, Some(dedup)).await?;
            let status = if run.duplicate {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok((
                status,
                Json(json!({ "execution_id": run.execution_id, "duplicate": run.duplicate })),
            )
                .into_response())
        }
        None => Err(ApiError::bad_request(format!(
            "unknown SNS message type `{}`",
            msg.message_type
        ))),
    }
}
