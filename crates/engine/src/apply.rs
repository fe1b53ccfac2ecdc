//! What a finished step means: its row (succeeded, waiting, failed, retrying), the approval a
//! suspending step creates, and the effect on the run (go on, end, fail, retry a loop item).

use std::time::Duration;

use serde_json::json;

use flowgate_model::{parse_duration, NodeSpec};
use flowgate_nodes::Outcome;
use flowgate_store::{ApprovalRow, ExecStatus, StepRow, StepStatus};

use crate::run::{Effect, Run};
use crate::step::{error_output, Finished};

impl Run {
    /// Turns a finished step into rows; returns what it means for the execution.
    pub(crate) fn apply(&mut self, done: Finished) -> Effect {
        let now = self.engine.now_ms();
        let node = self
            .doc
            .node(&done.node_id)
            .cloned()
            .expect("finished nodes exist");
        let mut row = self
            .steps
            .get(&done.node_id)
            .cloned()
            .unwrap_or_else(|| self.new_row(&done.node_id, StepStatus::Running, now));
        if row.status != StepStatus::Waiting || row.started_at.is_none() {
            row.started_at = Some(done.started_at);
        }
        row.attempts = done.attempts;
        row.input = done.input.clone();
        let (label, effect) = match done.result {
            Ok(Outcome::Done {
                port: Some(port), ..
            }) if self.unconnected_failure(&node, &port).is_some() => {
                let message = self.unconnected_failure(&node, &port).unwrap_or_default();
                ("failed", self.fail_step(row, message, now))
            }
            Ok(Outcome::Done { output, port }) => {
                row.status = StepStatus::Succeeded;
                row.port = port;
                row.output = Some(output);
                row.error = None;
                row.state = None;
                row.finished_at = Some(now);
                self.record(row);
                ("succeeded", Effect::Continue)
            }
            Ok(Outcome::Suspend {
                wake_at,
                state,
                approval,
            }) => {
                row.status = StepStatus::Waiting;
                let mut st = json!({ "wake_at": wake_at, "node": state });
                if let Some(a) = approval {
                    st["approval_id"] = json!(a.id);
                    self.approval = Some(ApprovalRow {
                        id: a.id,
                        org_id: self.exec.org_id.clone(),
                        execution_id: self.exec.id.clone(),
                        workflow_id: self.exec.workflow_id.clone(),
                        node_id: done.node_id.clone(),
                        scope: self.scope_key.clone(),
                        status: "pending".into(),
                        notes: a.notes,
                        integration: a.integration,
                        channel: a.channel,
                        ts: a.ts,
                        approvers: a.approvers.map(|v| json!(v)),
                        secret: a.secret,
                        expires_at: a.expires_at,
                        decision: None,
                        decided_by: None,
                        decided_at: None,
                        comment: None,
                        created_at: now,
                    });
                }
                row.state = Some(st);
                self.record(row);
                ("waiting", Effect::Continue)
            }
            Ok(Outcome::Stop { message }) => {
                row.status = StepStatus::Succeeded;
                row.output = Some(json!({ "message": message }));
                row.finished_at = Some(now);
                self.record(row);
                ("succeeded", Effect::End(ExecStatus::Stopped, message))
            }
            Ok(Outcome::Fail { message }) => {
                row.status = StepStatus::Failed;
                row.error = Some(message.clone());
                row.finished_at = Some(now);
                self.record(row);
                ("failed", Effect::End(ExecStatus::Failed, Some(message)))
            }
            Err(e) => {
                // Without a `retry` of its own, a node's rate-limited call (a Retry-After) is tried up
                // to three times: connectors already retry transient errors inside one attempt.
                let default_attempts = if e.retry_after_ms.is_some() { 3 } else { 1 };
                let max = node
                    .retry
                    .as_ref()
                    .map_or(default_attempts, |r| r.max_attempts as i64);
                if e.retryable && done.attempts < max {
                    let base = node
                        .retry
                        .as_ref()
                        .and_then(|r| r.backoff.as_deref())
                        .and_then(|b| parse_duration(b).ok())
                        .map_or(1000, |d| d.as_millis() as i64);
                    let delay = e
                        .retry_after_ms
                        .map(|ms| ms as i64)
                        .unwrap_or(base.saturating_mul(1 << (done.attempts - 1).min(16)));
                    if self.is_top() {
                        row.status = StepStatus::Waiting;
                        row.error = Some(e.message);
                        row.state = Some(json!({ "wake_at": now + delay, "retry": true }));
                        self.record(row);
                        ("retrying", Effect::Continue)
                    } else {
                        (
                            "retrying",
                            Effect::RetryIn(
                                done.node_id.clone(),
                                Duration::from_millis(delay.max(0) as u64),
                                done.attempts + 1,
                            ),
                        )
                    }
                } else {
                    ("failed", self.fail_step(row, e.message, now))
                }
            }
        };
        self.engine
            .observer
            .step_finished(&node.node_type, label, done.elapsed);
        effect
    }

    fn record(&mut self, row: StepRow) {
        self.steps.insert(row.node_id.clone(), row.clone());
        self.pending.push(row);
    }

    /// The failure a port means when no edge leaves on it (see `Descriptor::unconnected_fails`).
    fn unconnected_failure(&self, node: &NodeSpec, port: &str) -> Option<String> {
        let descriptor = self.engine.registry.get(&node.node_type)?.descriptor();
        let (_, message) = descriptor
            .unconnected_fails
            .iter()
            .find(|(p, _)| *p == port)?;
        let connected = self
            .doc
            .outgoing(&node.id)
            .any(|e| e.port.as_deref() == Some(port));
        (!connected).then(|| message.to_string())
    }

    /// Records a failed step: the run continues on its `error` edge if it has one.
    pub(crate) fn fail_step(&mut self, mut row: StepRow, message: String, now: i64) -> Effect {
        let has_error_edge = self
            .doc
            .outgoing(&row.node_id)
            .any(|e| e.port.as_deref() == Some("error"));
        row.status = StepStatus::Failed;
        row.error = Some(message.clone());
        row.state = None;
        row.finished_at = Some(now);
        let id = row.node_id.clone();
        if has_error_edge {
            row.port = Some("error".into());
            row.output = Some(error_output(&message));
        }
        self.record(row);
        if has_error_edge {
            Effect::Continue
        } else {
            Effect::StepFailed(format!("step `{id}` failed: {message}"))
        }
    }
}
