//! Starting executions: the execution row and its trigger step commit together before the caller
//! answers (a webhook's 202), and the run goes on in this process at once. Steps that only compute
//! (pure nodes: JSONPath, transform, if, string, stop, fail) run before that first commit and are
//! stored with it, so a workflow that only computes is stored once, finished.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use serde_json::{Map, Value};

use flowgate_model::parse_duration;
use flowgate_store::executions::{Created, NewExecution};
use flowgate_store::{new_id, ExecStatus, ExecutionRow, StepRow, StepStatus, WorkflowRow};

use crate::run::{Ending, Run};
use crate::{Engine, EngineError};

/// The workflow version a new execution runs.
struct WorkflowVersion {
    org_id: String,
    workflow_id: String,
    version: i64,
}

/// A run started by `Engine::start`: unborn (not stored) until its first commit inserts it.
pub(crate) struct Birth {
    dedup_key: Option<String>,
    /// Filled in by the first commit.
    created: Option<Created>,
}

impl Birth {
    pub(crate) fn stored(&self) -> bool {
        self.created.is_some()
    }
}

/// What started a run.
#[derive(Debug, Clone)]
pub struct TriggerEvent {
    /// `webhook`, `manual`, `schedule`, `sns`.
    pub kind: String,
    /// The trigger step's output object (`{output, headers, query}` for a webhook).
    pub output: Value,
    /// The raw alert body, kept on the execution.
    pub body: Value,
}

/// The answer to a start request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub execution_id: String,
    /// The same delivery was seen before (an SNS retry); nothing new was started.
    pub duplicate: bool,
}

impl Engine {
    /// Records a new execution of the workflow's current version and starts it. Returns once the
    /// execution is durably committed.
    ///
    /// The work runs in a task of its own, so that a caller that goes away (a webhook sender that
    /// hangs up) cannot leave an execution stored, leased to this process, and never run.
    pub async fn start(
        self: &Arc<Self>,
        workflow: &WorkflowRow,
        event: TriggerEvent,
        dedup_key: Option<String>,
    ) -> Result<NewRun, EngineError> {
        let version = WorkflowVersion {
            org_id: workflow.org_id.clone(),
            workflow_id: workflow.id.clone(),
            version: workflow.version,
        };
        tokio::spawn(self.clone().start_detached(version, event, dedup_key))
            .await
            .map_err(|e| EngineError::Invalid(format!("starting the execution failed: {e}")))?
    }

    async fn start_detached(
        self: Arc<Self>,
        workflow: WorkflowVersion,
        event: TriggerEvent,
        dedup_key: Option<String>,
    ) -> Result<NewRun, EngineError> {
        let doc = self
            .document(&workflow.org_id, &workflow.workflow_id, workflow.version)
            .await?;
        let trigger = doc
            .trigger()
            .ok_or_else(|| EngineError::Invalid("the workflow has no trigger".into()))?;
        let now = self.now_ms();
        let id = new_id();
        let deadline = doc
            .timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .map(|d| now + d.as_millis() as i64);
        let execution = ExecutionRow {
            id: id.clone(),
            org_id: workflow.org_id,
            workflow_id: workflow.workflow_id,
            workflow_version: workflow.version,
            status: ExecStatus::Queued,
            trigger_type: event.kind.clone(),
            // Moves the body in; `json!` would copy it through `Serialize`.
            trigger: Value::Object(Map::from_iter([
                ("body".to_string(), event.body),
                ("received_at".to_string(), Value::from(now)),
            ])),
            created_at: now,
            started_at: None,
            finished_at: None,
            error: None,
            wake_at: None,
            deadline,
        };
        let step = StepRow {
            execution_id: id.clone(),
            scope: String::new(),
            node_id: trigger.id.clone(),
            seq: 0,
            node_type: trigger.node_type.clone(),
            name: trigger.name.clone(),
            status: StepStatus::Succeeded,
            port: None,
            attempts: 1,
            input: None,
            output: Some(event.output),
            error: None,
            state: None,
            started_at: Some(now),
            finished_at: Some(now),
        };
        let mut run = Run::new(
            self.clone(),
            execution,
            doc.clone(),
            String::new(),
            self.top_nodes(&doc),
            Vec::new(),
            Map::new(),
            HashMap::from([(step.node_id.clone(), step.clone())]),
            Vec::new(),
            Arc::new(AtomicI64::new(1)),
        );
        run.pending.push(step);
        run.birth = Some(Birth {
            dedup_key,
            created: None,
        });
        // The run counts against the process's concurrency; with none free it is only stored.
        let ending = match self.permits.try_acquire() {
            Ok(_permit) => run.drive().await?,
            Err(_) => Ending::Handoff,
        };
        let handoff = matches!(ending, Ending::Handoff);
        run.conclude(ending).await?;
        let created = run
            .birth
            .take()
            .and_then(|b| b.created)
            .ok_or_else(|| EngineError::Invalid("the execution was not stored".into()))?;
        match created {
            Created::Duplicate(existing) => Ok(NewRun {
                execution_id: existing,
                duplicate: true,
            }),
            Created::New => {
                if handoff {
                    let rows = run.steps.into_values().collect();
                    self.clone().spawn(run.exec, Some(rows));
                }
                Ok(NewRun {
                    execution_id: id,
                    duplicate: false,
                })
            }
        }
    }
}

impl Run {
    /// The first commit of a run not stored yet: inserts the execution in its current state with
    /// the steps so far; `false` if it was a repeated delivery (nothing stored).
    pub(crate) async fn insert(
        &mut self,
        mut birth: Birth,
        status: ExecStatus,
        error: Option<String>,
        wake_at: Option<i64>,
    ) -> Result<bool, EngineError> {
        let now = self.engine.now_ms();
        let mut execution = self.exec.clone();
        execution.status = status;
        execution.error = error;
        execution.wake_at = wake_at;
        if status != ExecStatus::Queued {
            execution.started_at = Some(now);
        }
        if status.is_finished() {
            execution.finished_at = Some(now);
        }
        let active = matches!(status, ExecStatus::Queued | ExecStatus::Running);
        let new = NewExecution {
            execution,
            steps: std::mem::take(&mut self.pending),
            dedup_key: birth.dedup_key.take(),
            lease: active.then(|| (self.engine.owner.clone(), self.engine.lease_until())),
        };
        let created = self.engine.store.create_execution(new).await?;
        let fresh = created == Created::New;
        if fresh {
            self.engine.observer.execution_started();
        }
        // Kept for `Engine::start`; the run is not unborn any more.
        birth.created = Some(created);
        self.birth = Some(birth);
        Ok(fresh)
    }
}
