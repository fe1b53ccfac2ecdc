//! `slack.approval`: posts the notes with Approve and Deny buttons and suspends the step; the
//! engine records the approval and wakes the step on a decision or at the timeout. Nothing is
//! held in memory while it waits.

use async_trait::async_trait;
use rand::rngs::OsRng;
use rand::RngCore;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_model::parse_duration;
use flowgate_model::template::has_template;

use super::client::SlackClient;
use super::messages::{self, is_slack_user_id, rfc3339};
use crate::{
    ApprovalRequest, Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode,
    Wake,
};

/// The shortest and longest wait for a decision.
const TIMEOUT_MIN_MS: i64 = 60_000;
const TIMEOUT_MAX_MS: i64 = 7 * 86_400_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParams {
    /// Alias of the `slack` integration to post with.
    #[schemars(extend("x-integration-type" = "slack"))]
    pub integration: String,
    /// Channel id (e.g. `C0123ABCD`) where the request is posted; the Flowgate app must be a member.
    #[schemars(extend("x-source" = "slack-channels"))]
    pub channel: String,
    /// What the reviewer is asked to decide (Slack mrkdwn).
    pub notes: String,
    /// How long to wait for a decision, from `1m` to `7d` (e.g. `4h`); then the `timed_out` port.
    pub timeout: String,
    /// Slack user ids (e.g. `U012AB3CD`) allowed to decide; anyone in the channel when empty.
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
}

pub struct Approval;

static DESCRIPTOR: Descriptor = Descriptor {
    ports: &["approved", "denied", "timed_out"],
    idempotent: false,
    unconnected_fails: &[("timed_out", "approval timed out")],
    ..Descriptor::new(
        "slack.approval",
        "Slack Approval",
        Category::Slack,
        "Posts the notes with Approve and Deny buttons and waits (durably, up to 7 days) for a decision: ports `approved`, `denied`, `timed_out`.",
    )
};

/// The timeout in milliseconds, if it is a duration from 1 minute to 7 days.
fn timeout_ms(text: &str) -> Result<i64, String> {
    let ms = parse_duration(text)?.as_millis().min(i64::MAX as u128) as i64;
    if !(TIMEOUT_MIN_MS..=TIMEOUT_MAX_MS).contains(&ms) {
        return Err(format!(
            "`{text}` is outside the allowed range: an approval waits from 1m to 7d"
        ));
    }
    Ok(ms)
}

/// 32 random bytes from the OS, hex: what makes a button value unguessable.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[async_trait]
impl TypedNode for Approval {
    type Params = ApprovalParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &ApprovalParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if p.channel.trim().is_empty() {
            problems.push(Problem::new(
                "channel",
                "give the channel id, e.g. C0123ABCD",
            ));
        }
        if p.notes.trim().is_empty() {
            problems.push(Problem::new(
                "notes",
                "say what the reviewer is asked to approve",
            ));
        }
        if !has_template(&p.timeout) {
            if let Err(message) = timeout_ms(&p.timeout) {
                problems.push(Problem::new("timeout", message));
            }
        }
        for (i, id) in p.approvers.iter().flatten().enumerate() {
            if !has_template(id) && !is_slack_user_id(id) {
                problems.push(Problem::new(
                    format!("approvers[{i}]"),
                    format!("`{id}` is not a Slack user id (like U012AB3CD)"),
                ));
            }
        }
        problems
    }

    async fn run(&self, ctx: &NodeContext, p: ApprovalParams) -> Result<Outcome, NodeError> {
        let timeout = timeout_ms(&p.timeout).map_err(NodeError::new)?;
        let integration = ctx.integration(&p.integration, "slack").await?;
        let client = SlackClient::for_integration(ctx.services.http.clone(), &integration)?;
        let approval_id = uuid::Uuid::now_v7().to_string();
        let secret = new_secret();
        let expires_at = ctx.now_ms().saturating_add(timeout);
        let approvers = p.approvers.filter(|a| !a.is_empty());
        let (text, blocks) = messages::approval_request(
            &p.notes,
            &approval_id,
            &secret,
            approvers.as_deref(),
            expires_at,
        );
        let posted = client
            .post_message(&p.channel, &text, Some(&blocks))
            .await?;
        let state = json!({ "approval_id": approval_id, "channel": posted.channel, "ts": posted.ts, "expires_at": expires_at });
        let approval = ApprovalRequest {
            id: approval_id,
            secret,
            notes: p.notes,
            integration: Some(p.integration),
            channel: Some(posted.channel),
            ts: Some(posted.ts),
            approvers,
            expires_at,
        };
        Ok(Outcome::Suspend {
            wake_at: expires_at,
            state,
            approval: Some(approval),
        })
    }

    async fn resume(
        &self,
        ctx: &NodeContext,
        p: ApprovalParams,
        state: Value,
        wake: Wake,
    ) -> Result<Outcome, NodeError> {
        let decision = wake.decision.as_ref();
        let status = decision.map_or("timed_out", |d| d.status.as_str());
        let port = match status {
            "approved" | "denied" | "timed_out" => status,
            other => {
                return Err(NodeError::new(format!(
                    "the approval ended as `{other}`, which `slack.approval` does not know"
                )))
            }
        };
        let channel = state["channel"]
            .as_str()
            .map(str::to_string)
            .or_else(|| decision.and_then(|d| d.channel.clone()))
            .unwrap_or_default();
        let ts = state["ts"]
            .as_str()
            .map(str::to_string)
            .or_else(|| decision.and_then(|d| d.ts.clone()))
            .unwrap_or_default();
        let recorded_by = decision
            .and_then(|d| d.decided_by.as_ref())
            .filter(|v| !v.is_null());
        let decided_by = recorded_by.map(person);
        let decided_at = decision
            .and_then(|d| d.decided_at)
            .unwrap_or_else(|| ctx.now_ms());

        if !channel.is_empty() && !ts.is_empty() {
            let (text, blocks) =
                messages::decided_message(&p.notes, port, recorded_by, Some(decided_at));
            let updated = async {
                let integration = ctx.integration(&p.integration, "slack").await?;
                let client = SlackClient::for_integration(ctx.services.http.clone(), &integration)?;
                client
                    .update_message(&channel, &ts, &text, Some(&blocks))
                    .await
                    .map_err(NodeError::from)
            };
            if let Err(e) = updated.await {
                tracing::warn!(node_id = %ctx.node_id, execution_id = %ctx.execution_id, error = %e, "could not update the Slack approval message");
            }
        }

        let mut output = json!({
            "decision": port,
            "decided_by": decided_by,
            "decided_at": rfc3339(decided_at),
            "channel": channel,
            "ts": ts,
        });
        if let Some(comment) = decision.and_then(|d| d.comment.as_ref()) {
            output["comment"] = json!(comment);
        }
        Ok(Outcome::Done {
            output: json!({ "output": output }),
            port: Some(port.to_string()),
        })
    }
}

/// `{id, name}` of whoever decided, from what the server recorded (an object or a bare name).
fn person(recorded: &Value) -> Value {
    match recorded {
        Value::String(s) => json!({ "id": s, "name": s }),
        v => {
            let id = v["id"].as_str().unwrap_or_default();
            let name = v["name"].as_str().or(v["username"].as_str()).unwrap_or(id);
            json!({ "id": id, "name": name })
        }
    }
}
