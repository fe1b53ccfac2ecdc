//! Driving one claimed execution: recover or wake its steps, run what is ready, commit each result
//! with the execution's new state, and stop at a wait, the end, or a lost lease.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Map, Value};

use flowgate_model::{parse_duration, WorkflowDocument};
use flowgate_nodes::{Decision, Outcome, Wake};
use flowgate_store::executions::Commit;
use flowgate_store::{ApprovalRow, ExecStatus, ExecutionRow, StepRow, StepStatus};

use crate::plan::{plan, NodeState};
use crate::step::{error_output, Call, Finished, StepJob};
use crate::{Engine, EngineError};

const OUTCOME_UNKNOWN_AFTER_CRASH: &str =
    "outcome unknown: Flowgate stopped while this step was calling out, so it is not known whether the call took effect; check the real state before running it again";

struct Run {
    engine: Arc<Engine>,
    exec: ExecutionRow,
    doc: Arc<WorkflowDocument>,
    nodes: Vec<String>,
    steps: HashMap<String, StepRow>,
    next_seq: i64,
    /// Rows decided but not yet committed (skips), carried into the next commit.
    pending: Vec<StepRow>,
    /// An approval created by a suspending step, committed with it.
    approval: Option<ApprovalRow>,
}

/// What a finished step means for the execution.
enum Effect {
    Continue,
    End(ExecStatus, Option<String>),
}

impl Engine {
    pub(crate) async fn run_execution(
        self: Arc<Self>,
        exec: ExecutionRow,
        known: Option<Vec<StepRow>>,
    ) -> Result<(), EngineError> {
        let doc = self
            .document(&exec.org_id, &exec.workflow_id, exec.workflow_version)
            .await?;
        let rows = match known {
            Some(rows) => rows,
            None => self.store.steps(&exec.id).await?,
        };
        let body: HashSet<String> = doc
            .nodes
            .iter()
            .flat_map(|n| {
                self.registry
                    .get(&n.node_type)
                    .map(|t| t.body(&Value::Object(n.params.clone())))
                    .unwrap_or_default()
            })
            .collect();
        let nodes = doc
            .nodes
            .iter()
            .map(|n| n.id.clone())
            .filter(|id| !body.contains(id))
            .collect();
        let next_seq = rows.iter().map(|r| r.seq + 1).max().unwrap_or(0);
        let steps = rows
            .into_iter()
            .filter(|r| r.scope.is_empty())
            .map(|r| (r.node_id.clone(), r))
            .collect();
        let mut run = Run {
            engine: self.clone(),
            exec,
            doc,
            nodes,
            steps,
            next_seq,
            pending: Vec::new(),
            approval: None,
        };
        run.drive().await
    }
}

impl Run {
    async fn drive(&mut self) -> Result<(), EngineError> {
        let now = self.engine.now_ms();
        if self.exec.deadline.is_some_and(|d| now >= d) {
            return self
                .end(ExecStatus::Failed, Some("execution timed out".into()))
                .await;
        }
        let mut inflight = FuturesUnordered::new();
        let mut running: HashSet<String> = HashSet::new();

        // Steps a crash left running, and waiting steps whose time or decision has come.
        let existing: Vec<StepRow> = self.steps.values().cloned().collect();
        for step in existing {
            match step.status {
                StepStatus::Running => {
                    let idempotent = self
                        .engine
                        .registry
                        .get(&step.node_type)
                        .is_none_or(|n| n.descriptor().idempotent);
                    if idempotent {
                        self.steps.remove(&step.node_id);
                    } else if let Effect::End(status, error) =
                        self.fail_step(step, OUTCOME_UNKNOWN_AFTER_CRASH.into(), now)
                    {
                        return self.end(status, error).await;
                    }
                }
                StepStatus::Waiting => {
                    if let Some(job) = self.wake_job(&step, now).await? {
                        running.insert(step.node_id.clone());
                        inflight.push(job.run());
                    }
                }
                _ => {}
            }
        }

        loop {
            let states: HashMap<String, NodeState> = self
                .steps
                .iter()
                .map(|(k, v)| (k.clone(), NodeState::from(v)))
                .collect();
            let p = plan(&self.doc, &self.nodes, &states, &running);
            for id in p.skipped {
                let row = self.new_row(&id, StepStatus::Skipped, now);
                self.steps.insert(id, row.clone());
                self.pending.push(row);
            }
            // Deferred results of pure steps are made durable before anything else starts.
            if !self.pending.is_empty()
                && p.ready.iter().any(|id| !self.is_pure(id))
                && !self.commit(ExecStatus::Running, None, None).await?
            {
                return Ok(());
            }
            for id in p.ready {
                let job = self.job(&id, Call::Execute, self.attempts_of(&id) + 1);
                running.insert(id);
                inflight.push(job.run());
            }
            let Some(done) = inflight.next().await else {
                return self.settle().await;
            };
            running.remove(&done.node_id);
            if done.fenced {
                return Ok(());
            }
            // A pure step alone in flight is committed with the steps that follow it.
            let defer = inflight.is_empty() && self.is_pure(&done.node_id);
            let effect = self.apply(done);
            match effect {
                Effect::Continue => {
                    if !defer && !self.commit(ExecStatus::Running, None, None).await? {
                        return Ok(());
                    }
                }
                Effect::End(status, error) => {
                    for id in running.drain() {
                        let mut row = self
                            .steps
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| self.new_row(&id, StepStatus::Cancelled, now));
                        row.status = StepStatus::Cancelled;
                        row.finished_at = Some(self.engine.now_ms());
                        self.pending.push(row);
                    }
                    return self.end(status, error).await;
                }
            }
        }
    }

    /// Nothing is running: the execution waits for its earliest waiting step, or has succeeded.
    async fn settle(&mut self) -> Result<(), EngineError> {
        let wake_at = self
            .steps
            .values()
            .filter(|s| s.status == StepStatus::Waiting)
            .filter_map(|s| s.state.as_ref().and_then(|st| st["wake_at"].as_i64()))
            .min();
        match wake_at {
            Some(at) => {
                let at = self.exec.deadline.map_or(at, |d| d.min(at));
                self.commit(ExecStatus::Waiting, None, Some(at)).await?;
                Ok(())
            }
            None => self.end(ExecStatus::Succeeded, None).await,
        }
    }

    async fn end(&mut self, status: ExecStatus, error: Option<String>) -> Result<(), EngineError> {
        if status != ExecStatus::Succeeded {
            let now = self.engine.now_ms();
            for step in self.steps.values() {
                if matches!(
                    step.status,
                    StepStatus::Waiting | StepStatus::Running | StepStatus::Pending
                ) && !self.pending.iter().any(|p| p.node_id == step.node_id)
                {
                    let mut row = step.clone();
                    row.status = StepStatus::Cancelled;
                    row.finished_at = Some(now);
                    self.pending.push(row);
                }
            }
        }
        if self.commit(status, error, None).await? {
            self.engine.observer.execution_finished(status);
        }
        Ok(())
    }

    async fn commit(
        &mut self,
        status: ExecStatus,
        error: Option<String>,
        wake_at: Option<i64>,
    ) -> Result<bool, EngineError> {
        let commit = Commit {
            execution_id: self.exec.id.clone(),
            owner: self.engine.owner.clone(),
            steps: std::mem::take(&mut self.pending),
            status,
            error,
            wake_at,
            lease_until: self.engine.lease_until(),
            approval: self.approval.take(),
        };
        Ok(self.engine.store.commit(commit).await?)
    }

    /// Whether the node only computes (see `Descriptor::pure`).
    fn is_pure(&self, id: &str) -> bool {
        self.doc
            .node(id)
            .and_then(|n| self.engine.registry.get(&n.node_type))
            .is_some_and(|t| t.descriptor().pure)
    }

    fn attempts_of(&self, id: &str) -> i64 {
        self.steps.get(id).map_or(0, |s| s.attempts)
    }

    fn new_row(&mut self, id: &str, status: StepStatus, now: i64) -> StepRow {
        let node = self.doc.node(id);
        let seq = self.steps.get(id).map(|s| s.seq).unwrap_or_else(|| {
            self.next_seq += 1;
            self.next_seq - 1
        });
        StepRow {
            execution_id: self.exec.id.clone(),
            scope: String::new(),
            node_id: id.to_string(),
            seq,
            node_type: node.map(|n| n.node_type.clone()).unwrap_or_default(),
            name: node.and_then(|n| n.name.clone()),
            status,
            port: None,
            attempts: 0,
            input: None,
            output: None,
            error: None,
            state: None,
            started_at: None,
            finished_at: (status == StepStatus::Skipped).then_some(now),
        }
    }

    /// Outputs of the steps that finished, by node id, for references.
    fn scope(&self) -> Map<String, Value> {
        self.steps
            .iter()
            .filter(|(_, s)| matches!(s.status, StepStatus::Succeeded | StepStatus::Failed))
            .map(|(id, s)| (id.clone(), s.output.clone().unwrap_or(Value::Null)))
            .collect()
    }

    fn job(&mut self, id: &str, call: Call, attempts: i64) -> StepJob {
        let node = self.doc.node(id).cloned().expect("planned nodes exist");
        let seq = match self.steps.get(id) {
            Some(s) => s.seq,
            None => {
                self.next_seq += 1;
                self.next_seq - 1
            }
        };
        StepJob {
            engine: self.engine.clone(),
            org_id: self.exec.org_id.clone(),
            workflow_id: self.exec.workflow_id.clone(),
            execution_id: self.exec.id.clone(),
            node,
            scope: self.scope(),
            attempts,
            seq,
            call,
        }
    }

    /// A job that resumes a waiting step, if its time or its decision has come.
    async fn wake_job(&mut self, step: &StepRow, now: i64) -> Result<Option<StepJob>, EngineError> {
        let state = step.state.clone().unwrap_or(Value::Null);
        let wake_at = state["wake_at"].as_i64().unwrap_or(0);
        let input = step.input.clone().unwrap_or_else(|| json!({}));
        if state["retry"].as_bool() == Some(true) {
            return Ok(
                (now >= wake_at).then(|| self.job(&step.node_id, Call::Execute, step.attempts + 1))
            );
        }
        let mut decision = None;
        if let Some(approval_id) = state["approval_id"].as_str() {
            let mut row = self.engine.store.approval(None, approval_id).await?;
            if row.as_ref().is_some_and(|a| a.status == "pending") && now >= wake_at {
                row = Some(
                    match self
                        .engine
                        .store
                        .decide_approval(approval_id, "timed_out", None, None)
                        .await?
                    {
                        flowgate_store::approvals::Decided::Recorded(a)
                        | flowgate_store::approvals::Decided::AlreadyClosed(a) => a,
                    },
                );
            }
            decision = row.filter(|a| a.status != "pending").map(to_decision);
        }
        if decision.is_none() && now < wake_at {
            return Ok(None);
        }
        let wake = Wake { decision };
        let node_state = state.get("node").cloned().unwrap_or(Value::Null);
        Ok(Some(self.job(
            &step.node_id,
            Call::Resume(Box::new(crate::step::Resume {
                state: node_state,
                wake,
                input,
            })),
            step.attempts,
        )))
    }

    /// Turns a finished step into rows; returns what it means for the execution.
    fn apply(&mut self, done: Finished) -> Effect {
        let now = self.engine.now_ms();
        let node = self
            .doc
            .node(&done.node_id)
            .cloned()
            .expect("finished nodes exist");
        let status_label;
        let mut row = self
            .steps
            .get(&done.node_id)
            .cloned()
            .unwrap_or_else(|| self.new_row(&done.node_id, StepStatus::Running, now));
        if row.started_at.is_none() || row.status != StepStatus::Waiting {
            row.started_at = Some(done.started_at);
        }
        row.attempts = done.attempts;
        row.input = done.input.clone();
        let effect = match done.result {
            Ok(Outcome::Done { output, port }) => {
                status_label = "succeeded";
                row.status = StepStatus::Succeeded;
                row.port = port;
                row.output = Some(output);
                row.error = None;
                row.state = None;
                row.finished_at = Some(now);
                Effect::Continue
            }
            Ok(Outcome::Suspend {
                wake_at,
                state,
                approval,
            }) => {
                status_label = "waiting";
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
                        scope: String::new(),
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
                Effect::Continue
            }
            Ok(Outcome::Stop { message }) => {
                status_label = "succeeded";
                row.status = StepStatus::Succeeded;
                row.output = Some(json!({ "message": message }));
                row.finished_at = Some(now);
                Effect::End(ExecStatus::Stopped, None)
            }
            Ok(Outcome::Fail { message }) => {
                status_label = "failed";
                row.status = StepStatus::Failed;
                row.error = Some(message.clone());
                row.finished_at = Some(now);
                Effect::End(ExecStatus::Failed, Some(message))
            }
            Err(e) => {
                let max = node.retry.as_ref().map_or(1, |r| r.max_attempts as i64);
                if e.retryable && done.attempts < max {
                    status_label = "retrying";
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
                    row.status = StepStatus::Waiting;
                    row.error = Some(e.message);
                    row.state = Some(json!({ "wake_at": now + delay, "retry": true }));
                    Effect::Continue
                } else {
                    status_label = "failed";
                    self.steps.insert(done.node_id.clone(), row.clone());
                    let effect = self.fail_step(row, e.message, now);
                    self.engine
                        .observer
                        .step_finished(&node.node_type, status_label, done.elapsed);
                    return effect;
                }
            }
        };
        self.engine
            .observer
            .step_finished(&node.node_type, status_label, done.elapsed);
        self.steps.insert(done.node_id, row.clone());
        self.pending.push(row);
        effect
    }

    /// Records a failed step: the run continues on its `error` edge if it has one, else it fails.
    fn fail_step(&mut self, mut row: StepRow, message: String, now: i64) -> Effect {
        let has_error_edge = self
            .doc
            .outgoing(&row.node_id)
            .any(|e| e.port.as_deref() == Some("error"));
        row.status = StepStatus::Failed;
        row.error = Some(message.clone());
        row.state = None;
        row.finished_at = Some(now);
        let effect = if has_error_edge {
            row.port = Some("error".into());
            row.output = Some(error_output(&message));
            Effect::Continue
        } else {
            Effect::End(
                ExecStatus::Failed,
                Some(format!("step `{}` failed: {message}", row.node_id)),
            )
        };
        self.steps.insert(row.node_id.clone(), row.clone());
        self.pending.push(row);
        effect
    }
}

fn to_decision(a: ApprovalRow) -> Decision {
    Decision {
        status: a.status,
        decided_by: a.decided_by,
        decided_at: a.decided_at,
        comment: a.comment,
        channel: a.channel,
        ts: a.ts,
    }
}
