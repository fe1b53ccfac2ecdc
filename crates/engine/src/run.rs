//! Driving one claimed execution: recover or wake its steps, run what is ready, commit each result
//! with the execution's new state, and stop at a wait, the end, or a lost lease. A loop body runs
//! as a child `Run` per item, in its own scope (`loop_id[index]`), so finished items are not run
//! again after a crash.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Map, Value};

use flowgate_model::{NodeSpec, WorkflowDocument};
use flowgate_nodes::{Decision, Wake};
use flowgate_store::executions::Commit;
use flowgate_store::{ApprovalRow, ExecStatus, ExecutionRow, StepRow, StepStatus};

use crate::plan::{plan, NodeState};
use crate::step::{Call, Finished, StepJob};
use crate::{Engine, EngineError};

const OUTCOME_UNKNOWN_AFTER_CRASH: &str =
    "outcome unknown: Flowgate stopped while this step was calling out, so it is not known whether the call took effect; check the real state before running it again";

type StepFuture = Pin<Box<dyn Future<Output = Finished> + Send>>;

pub(crate) struct Run {
    pub(crate) engine: Arc<Engine>,
    pub(crate) exec: ExecutionRow,
    pub(crate) doc: Arc<WorkflowDocument>,
    /// `""` at the top level; `loop_id[index]` (nested: `outer[0]/inner[2]`) in a loop body.
    pub(crate) scope_key: String,
    /// The nodes planned at this level, in document order.
    pub(crate) nodes: Vec<String>,
    /// Nodes that run first without predecessors (a loop body's entry nodes).
    pub(crate) entries: Vec<String>,
    /// Names visible to references besides this level's steps (outer steps, `loop`).
    pub(crate) extra: Map<String, Value>,
    /// This level's step rows, by node id.
    pub(crate) steps: HashMap<String, StepRow>,
    /// Rows of deeper scopes (loop bodies run from this level).
    pub(crate) nested: Vec<StepRow>,
    pub(crate) seq: Arc<AtomicI64>,
    /// Rows decided but not yet committed (skips), carried into the next commit.
    pub(crate) pending: Vec<StepRow>,
    /// An approval created by a suspending step, committed with it.
    pub(crate) approval: Option<ApprovalRow>,
    /// Set while the execution is not stored yet (see `Engine::start`): its first commit inserts it.
    pub(crate) birth: Option<crate::create::Birth>,
}

/// How driving a level stopped.
pub(crate) enum Ending {
    /// Nothing is running or ready: the level is done, or waits.
    Settled,
    /// A step ended the whole execution (`core.stop`, `core.fail`, a deadline).
    End(ExecStatus, Option<String>),
    /// A step failed with no `error` edge.
    StepFailed(String),
    /// The lease was lost: another process or a cancel owns the execution now.
    Fenced,
    /// A run not stored yet reached a step that is not pure: the execution is to be stored with
    /// the steps so far and continued by a task of its own.
    Handoff,
}

/// What a finished step means.
pub(crate) enum Effect {
    Continue,
    End(ExecStatus, Option<String>),
    StepFailed(String),
    /// Run the node again after `delay` (a retryable failure inside a loop body).
    RetryIn(String, Duration, i64),
}

/// How one loop item ended.
pub(crate) enum ItemEnd {
    Done(Value),
    /// A step of the item waits (an approval, a wait) until this time or a decision.
    Waiting(i64),
    Failed(String),
    Ended(ExecStatus, Option<String>),
    Fenced,
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
        let nodes = self.top_nodes(&doc);
        let seq = Arc::new(AtomicI64::new(
            rows.iter().map(|r| r.seq + 1).max().unwrap_or(0),
        ));
        let (top, nested): (Vec<StepRow>, Vec<StepRow>) =
            rows.into_iter().partition(|r| r.scope.is_empty());
        let steps = top.into_iter().map(|r| (r.node_id.clone(), r)).collect();
        let mut run = Run::new(
            self,
            exec,
            doc,
            String::new(),
            nodes,
            Vec::new(),
            Map::new(),
            steps,
            nested,
            seq,
        );
        let ending = run.drive().await?;
        run.conclude(ending).await
    }

    /// The nodes of the top level, in document order: those in no loop's body.
    pub(crate) fn top_nodes(&self, doc: &WorkflowDocument) -> Vec<String> {
        let body: HashSet<String> = doc.nodes.iter().flat_map(|n| self.body_of(n)).collect();
        doc.nodes
            .iter()
            .map(|n| n.id.clone())
            .filter(|id| !body.contains(id))
            .collect()
    }

    /// The ids a node runs as its body (a loop), empty for other nodes.
    pub(crate) fn body_of(&self, node: &NodeSpec) -> Vec<String> {
        self.registry
            .get(&node.node_type)
            .map(|t| t.body(&node.params))
            .unwrap_or_default()
    }
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        engine: Arc<Engine>,
        exec: ExecutionRow,
        doc: Arc<WorkflowDocument>,
        scope_key: String,
        nodes: Vec<String>,
        entries: Vec<String>,
        extra: Map<String, Value>,
        steps: HashMap<String, StepRow>,
        nested: Vec<StepRow>,
        seq: Arc<AtomicI64>,
    ) -> Self {
        Self {
            engine,
            exec,
            doc,
            scope_key,
            nodes,
            entries,
            extra,
            steps,
            nested,
            seq,
            pending: Vec::new(),
            approval: None,
            birth: None,
        }
    }

    /// Commits what a top-level drive ended with.
    pub(crate) async fn conclude(&mut self, ending: Ending) -> Result<(), EngineError> {
        match ending {
            Ending::Settled => self.settle().await,
            // A stop's message is on its step; the execution has no error.
            Ending::End(status, error) => {
                self.end(status, error.filter(|_| status != ExecStatus::Stopped))
                    .await
            }
            Ending::StepFailed(message) => self.end(ExecStatus::Failed, Some(message)).await,
            Ending::Handoff => {
                let started = self.steps.len() > 1;
                let status = if started {
                    ExecStatus::Running
                } else {
                    ExecStatus::Queued
                };
                self.commit(status, None, None).await.map(|_| ())
            }
            Ending::Fenced => Ok(()),
        }
    }

    pub(crate) fn is_top(&self) -> bool {
        self.scope_key.is_empty()
    }

    pub(crate) async fn drive(&mut self) -> Result<Ending, EngineError> {
        let now = self.engine.now_ms();
        if self.is_top() && self.exec.deadline.is_some_and(|d| now >= d) {
            return Ok(Ending::End(
                ExecStatus::Failed,
                Some("execution timed out".into()),
            ));
        }
        let mut inflight: FuturesUnordered<StepFuture> = FuturesUnordered::new();
        let mut running: HashSet<String> = HashSet::new();

        // Steps a crash left running, and waiting steps whose time or decision has come.
        let existing: Vec<StepRow> = self.steps.values().cloned().collect();
        for step in existing {
            match step.status {
                StepStatus::Running => {
                    let idempotent = self.engine.registry.get(&step.node_type).is_none_or(|n| {
                        n.is_idempotent(step.input.as_ref().unwrap_or(&Value::Null))
                    });
                    if idempotent {
                        self.steps.remove(&step.node_id);
                    } else {
                        match self.fail_step(step, OUTCOME_UNKNOWN_AFTER_CRASH.into(), now) {
                            Effect::End(s, e) => return Ok(Ending::End(s, e)),
                            Effect::StepFailed(m) => return Ok(Ending::StepFailed(m)),
                            _ => {}
                        }
                    }
                }
                // A loop waits while items of its body wait: run it again, and each item looks at
                // its own waiting steps (finished items are not run again).
                StepStatus::Waiting
                    if self.is_loop(&step.node_id)
                        && step.state.as_ref().is_none_or(|st| st["retry"] != true) =>
                {
                    running.insert(step.node_id.clone());
                    inflight.push(self.start(&step.node_id, step.attempts));
                }
                StepStatus::Waiting => {
                    if let Some(job) = self.wake_job(&step, now).await? {
                        running.insert(step.node_id.clone());
                        inflight.push(Box::pin(job.run()));
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
            let p = plan(&self.doc, &self.nodes, &self.entries, &states, &running);
            for id in p.skipped {
                let row = self.new_row(&id, StepStatus::Skipped, now);
                self.steps.insert(id, row.clone());
                self.pending.push(row);
            }
            // A run not stored yet goes only as far as its pure steps take it.
            if self.unborn() && p.ready.iter().any(|id| !self.is_pure(id)) {
                return Ok(Ending::Handoff);
            }
            // Deferred results of pure steps are made durable before anything else starts.
            if !self.pending.is_empty()
                && p.ready.iter().any(|id| !self.is_pure(id))
                && !self.commit(ExecStatus::Running, None, None).await?
            {
                return Ok(Ending::Fenced);
            }
            for id in p.ready {
                let future = self.start(&id, self.attempts_of(&id) + 1);
                running.insert(id);
                inflight.push(future);
            }
            let Some(done) = inflight.next().await else {
                return Ok(Ending::Settled);
            };
            running.remove(&done.node_id);
            if done.fenced {
                return Ok(Ending::Fenced);
            }
            // A pure step alone in flight is committed with the steps that follow it (in an unborn
            // run every step is pure and waits for the insert).
            let defer = self.unborn() || (inflight.is_empty() && self.is_pure(&done.node_id));
            let ending = match self.apply(done) {
                Effect::Continue => {
                    if !defer && !self.commit(ExecStatus::Running, None, None).await? {
                        return Ok(Ending::Fenced);
                    }
                    continue;
                }
                Effect::RetryIn(id, delay, attempts) => {
                    let job = self.job(&id, Call::Execute, attempts);
                    running.insert(id);
                    inflight.push(Box::pin(async move {
                        tokio::time::sleep(delay).await;
                        job.run().await
                    }));
                    continue;
                }
                Effect::End(status, error) => Ending::End(status, error),
                Effect::StepFailed(message) => Ending::StepFailed(message),
            };
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
            return Ok(ending);
        }
    }

    /// Starts a ready node: a loop runs its body per item; any other node is one step job.
    fn start(&mut self, id: &str, attempts: i64) -> StepFuture {
        let node = self.doc.node(id).cloned().expect("planned nodes exist");
        let body = self.engine.body_of(&node);
        if body.is_empty() {
            return Box::pin(self.job(id, Call::Execute, attempts).run());
        }
        let child_prefix = if self.is_top() {
            String::new()
        } else {
            format!("{}/", self.scope_key)
        };
        let nested: Vec<StepRow> = self
            .nested
            .iter()
            .filter(|r| r.scope.starts_with(&format!("{child_prefix}{id}[")))
            .cloned()
            .collect();
        let job = crate::looping::LoopJob {
            engine: self.engine.clone(),
            exec: self.exec.clone(),
            doc: self.doc.clone(),
            node,
            body,
            scope: self.scope(),
            child_prefix,
            rows: nested,
            seq: self.seq.clone(),
            attempts,
        };
        Box::pin(job.run())
    }

    /// Runs a loop item's level to its end and commits what it decided.
    pub(crate) async fn drive_item(mut self) -> ItemEnd {
        let ending = match self.drive().await {
            Ok(e) => e,
            Err(e) => return ItemEnd::Failed(e.to_string()),
        };
        if matches!(ending, Ending::Fenced | Ending::Handoff) {
            return ItemEnd::Fenced;
        }
        if !self.pending.is_empty() {
            match self.commit(ExecStatus::Running, None, None).await {
                Ok(true) => {}
                Ok(false) => return ItemEnd::Fenced,
                Err(e) => return ItemEnd::Failed(e.to_string()),
            }
        }
        match ending {
            // Run again (after a wait or a crash), an item that failed before stays failed.
            Ending::Settled => match (self.unrouted_failure(), self.earliest_wake()) {
                (Some(message), _) => ItemEnd::Failed(message),
                (None, Some(at)) => ItemEnd::Waiting(at),
                (None, None) => ItemEnd::Done(self.last_output()),
            },
            Ending::StepFailed(message) => ItemEnd::Failed(message),
            Ending::End(status, error) => ItemEnd::Ended(status, error),
            Ending::Fenced | Ending::Handoff => ItemEnd::Fenced,
        }
    }

    /// How the level failed, if a step of it failed with no `error` edge to go on.
    fn unrouted_failure(&self) -> Option<String> {
        self.steps
            .values()
            .filter(|s| s.status == StepStatus::Failed && s.port.as_deref() != Some("error"))
            .min_by_key(|s| s.seq)
            .map(|s| {
                let message = s.error.clone().unwrap_or_default();
                format!("step `{}` failed: {message}", s.node_id)
            })
    }

    /// The output of the level's last node (one with no outgoing edge), as the item's result.
    fn last_output(&self) -> Value {
        let last = self
            .nodes
            .iter()
            .rev()
            .filter(|id| self.doc.outgoing(id).next().is_none())
            .find_map(|id| {
                self.steps
                    .get(id)
                    .filter(|s| s.status == StepStatus::Succeeded)
            });
        match last.and_then(|s| s.output.clone()) {
            Some(Value::Object(mut m)) if m.contains_key("output") => {
                m.remove("output").unwrap_or(Value::Null)
            }
            Some(other) => other,
            None => Value::Null,
        }
    }

    /// Nothing is running: the execution waits for its earliest waiting step, or has succeeded.
    /// When the level's earliest waiting step wakes, if one waits.
    fn earliest_wake(&self) -> Option<i64> {
        self.steps
            .values()
            .filter(|s| s.status == StepStatus::Waiting)
            .filter_map(|s| s.state.as_ref().and_then(|st| st["wake_at"].as_i64()))
            .min()
    }

    async fn settle(&mut self) -> Result<(), EngineError> {
        match self.earliest_wake() {
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
        if self.unborn() {
            let birth = self.birth.take().expect("an unborn run has a birth");
            return self.insert(birth, status, error, wake_at).await;
        }
        let commit = Commit {
            execution_id: self.exec.id.clone(),
            owner: self.engine.owner.clone(),
            steps: std::mem::take(&mut self.pending),
            status,
            error,
            wake_at,
            lease_until: self.engine.lease_until(),
            approval: self.approval.take(),
            // Loop items may wait in scopes this run does not hold.
            close_open: status.is_finished() && status != ExecStatus::Succeeded && self.has_loop(),
        };
        Ok(self.engine.store.commit(commit).await?)
    }

    /// Whether the execution is not stored yet: its next commit inserts it.
    fn unborn(&self) -> bool {
        self.birth.as_ref().is_some_and(|b| !b.stored())
    }

    /// Whether the workflow has a `core.loop`.
    fn has_loop(&self) -> bool {
        self.doc.nodes.iter().any(|n| self.is_loop(&n.id))
    }

    /// Whether the node runs a body (`core.loop`).
    fn is_loop(&self, id: &str) -> bool {
        self.doc
            .node(id)
            .is_some_and(|n| !self.engine.body_of(n).is_empty())
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

    fn seq_of(&self, id: &str) -> i64 {
        self.steps
            .get(id)
            .map(|s| s.seq)
            .unwrap_or_else(|| self.seq.fetch_add(1, Ordering::SeqCst))
    }

    pub(crate) fn new_row(&self, id: &str, status: StepStatus, now: i64) -> StepRow {
        let node = self.doc.node(id);
        StepRow {
            execution_id: self.exec.id.clone(),
            scope: self.scope_key.clone(),
            node_id: id.to_string(),
            seq: self.seq_of(id),
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

    /// Outputs of the steps that finished, by node id, for references (plus outer names).
    fn scope(&self) -> Map<String, Value> {
        let mut scope = self.extra.clone();
        for (id, s) in &self.steps {
            if matches!(s.status, StepStatus::Succeeded | StepStatus::Failed) {
                scope.insert(id.clone(), s.output.clone().unwrap_or(Value::Null));
            }
        }
        scope
    }

    fn job(&mut self, id: &str, call: Call, attempts: i64) -> StepJob {
        let node = self.doc.node(id).cloned().expect("planned nodes exist");
        StepJob {
            engine: self.engine.clone(),
            org_id: self.exec.org_id.clone(),
            workflow_id: self.exec.workflow_id.clone(),
            execution_id: self.exec.id.clone(),
            seq: self.seq_of(id),
            node,
            scope: self.scope(),
            scope_key: self.scope_key.clone(),
            attempts,
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
