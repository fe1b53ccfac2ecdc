//! Starting executions: the execution row and its trigger step commit together before the caller
//! answers (a webhook's 202), and the run starts in this process at once.

use std::sync::Arc;

use serde_json::{Map, Value};

use flowgate_model::parse_duration;
use flowgate_store::executions::{Created, NewExecution};
use flowgate_store::{new_id, ExecStatus, ExecutionRow, StepRow, StepStatus, WorkflowRow};

use crate::{Engine, EngineError};

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
    pub async fn start(
        self: &Arc<Self>,
        workflow: &WorkflowRow,
        event: TriggerEvent,
        dedup_key: Option<String>,
    ) -> Result<NewRun, EngineError> {
        let doc = self
            .document(&workflow.org_id, &workflow.id, workflow.version)
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
            org_id: workflow.org_id.clone(),
            workflow_id: workflow.id.clone(),
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
        let new = NewExecution {
            execution: execution.clone(),
            steps: vec![step.clone()],
            dedup_key,
            lease: Some((self.owner.clone(), self.lease_until())),
        };
        match self.store.create_execution(new).await? {
            Created::Duplicate(existing) => Ok(NewRun {
                execution_id: existing,
                duplicate: true,
            }),
            Created::New => {
                self.observer.execution_started();
                self.clone().spawn(execution, Some(vec![step]));
                Ok(NewRun {
                    execution_id: id,
                    duplicate: false,
                })
            }
        }
    }
}
