//! Running one node: rendering its params against earlier steps, calling it under a time limit,
//! and turning what it returns into a step record with secrets redacted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use flowgate_model::{parse_duration, NodeSpec};
use flowgate_nodes::{NodeContext, NodeError, Outcome, Wake};

use crate::redact::{redact, redact_str};
use crate::Engine;

/// How a started step ended, before it is turned into rows.
pub(crate) struct Finished {
    pub node_id: String,
    pub input: Option<Value>,
    pub started_at: i64,
    pub attempts: i64,
    pub result: Result<Outcome, NodeError>,
    /// The lease was lost while committing the step's start: abandon the execution.
    pub fenced: bool,
    pub elapsed: Duration,
}

/// What a step is asked to do.
pub(crate) struct Resume {
    pub state: Value,
    pub wake: Wake,
    pub input: Value,
}

pub(crate) enum Call {
    Execute,
    Resume(Box<Resume>),
}

pub(crate) struct StepJob {
    pub engine: Arc<Engine>,
    pub org_id: String,
    pub workflow_id: String,
    pub execution_id: String,
    pub node: NodeSpec,
    /// Outputs of earlier steps (and `loop`), by name, for references.
    pub scope: Map<String, Value>,
    /// `""` at the top level, `loop_id[index]` inside a loop body.
    pub scope_key: String,
    pub attempts: i64,
    pub seq: i64,
    pub call: Call,
}

impl StepJob {
    pub async fn run(self) -> Finished {
        let started = Instant::now();
        let engine = self.engine.clone();
        let started_at = engine.now_ms();
        let node_id = self.node.id.clone();
        let Some(node) = engine.registry.get(&self.node.node_type).cloned() else {
            let error = NodeError::new(format!("unknown node type `{}`", self.node.node_type));
            return self.finish(node_id, None, started_at, started, Err(error), Vec::new());
        };
        let ctx = NodeContext::new(
            engine.services.clone(),
            &self.org_id,
            &self.workflow_id,
            &self.execution_id,
            &node_id,
            &self.scope_key,
            self.attempts as u32,
        );
        let (input, result) = match &self.call {
            Call::Execute => match render_params(
                &engine.templates,
                &self.node,
                &self.scope,
                node.locals_param(),
            ) {
                Err(message) => (None, Err(NodeError::new(message))),
                Ok(params) => {
                    let idempotent = node.is_idempotent(&params);
                    if !idempotent && !self.commit_start(&params, started_at).await {
                        return Finished {
                            node_id,
                            input: Some(params),
                            started_at,
                            attempts: self.attempts,
                            result: Err(NodeError::new("lease lost")),
                            fenced: true,
                            elapsed: started.elapsed(),
                        };
                    }
                    let limit = self.timeout(&engine);
                    let result =
                        match tokio::time::timeout(limit, node.execute(&ctx, params.clone())).await
                        {
                            Ok(r) => r,
                            Err(_) => Err(self.timed_out(limit, idempotent)),
                        };
                    (Some(params), result)
                }
            },
            Call::Resume(resume) => {
                let crate::step::Resume { state, wake, input } = resume.as_ref();
                let limit = self.timeout(&engine);
                let result = match tokio::time::timeout(
                    limit,
                    node.resume(&ctx, input.clone(), state.clone(), wake.clone()),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(self.timed_out(limit, node.is_idempotent(input))),
                };
                (Some(input.clone()), result)
            }
        };
        let secrets = ctx.secrets_seen();
        self.finish(node_id, input, started_at, started, result, secrets)
    }

    fn timeout(&self, engine: &Engine) -> Duration {
        self.node
            .timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(engine.config.default_step_timeout)
    }

    fn timed_out(&self, limit: Duration, idempotent: bool) -> NodeError {
        let limit = flowgate_model::format_duration(limit);
        if idempotent {
            NodeError::retryable(format!("the step timed out after {limit}"))
        } else {
            NodeError::new(format!("outcome unknown: the step timed out after {limit}, so it is not known whether the call took effect; check the real state before running it again"))
        }
    }

    fn finish(
        self,
        node_id: String,
        mut input: Option<Value>,
        started_at: i64,
        started: Instant,
        result: Result<Outcome, NodeError>,
        secrets: Vec<String>,
    ) -> Finished {
        if let Some(i) = input.as_mut() {
            redact(i, &secrets);
        }
        let result = match result {
            Ok(Outcome::Done { mut output, port }) => {
                redact(&mut output, &secrets);
                Ok(Outcome::Done { output, port })
            }
            Ok(Outcome::Suspend {
                wake_at,
                mut state,
                approval,
            }) => {
                redact(&mut state, &secrets);
                Ok(Outcome::Suspend {
                    wake_at,
                    state,
                    approval,
                })
            }
            Ok(Outcome::Fail { message }) => Ok(Outcome::Fail {
                message: redact_str(&message, &secrets),
            }),
            Ok(other) => Ok(other),
            Err(mut e) => {
                e.message = redact_str(&e.message, &secrets);
                Err(e)
            }
        };
        Finished {
            node_id,
            input,
            started_at,
            attempts: self.attempts,
            result,
            fenced: false,
            elapsed: started.elapsed(),
        }
    }

    /// Records that a non-idempotent step is about to call out, so a crash is known to have
    /// happened mid-call. `false` when the lease was lost.
    async fn commit_start(&self, params: &Value, started_at: i64) -> bool {
        let row = flowgate_store::StepRow {
            execution_id: self.execution_id.clone(),
            scope: self.scope_key.clone(),
            node_id: self.node.id.clone(),
            seq: self.seq,
            node_type: self.node.node_type.clone(),
            name: self.node.name.clone(),
            status: flowgate_store::StepStatus::Running,
            port: None,
            attempts: self.attempts,
            input: Some(params.clone()),
            output: None,
            error: None,
            state: None,
            started_at: Some(started_at),
            finished_at: None,
        };
        let commit = flowgate_store::executions::Commit {
            execution_id: self.execution_id.clone(),
            owner: self.engine.owner.clone(),
            steps: vec![row],
            status: flowgate_store::ExecStatus::Running,
            error: None,
            wake_at: None,
            lease_until: self.engine.lease_until(),
            approval: None,
            close_open: false,
        };
        matches!(self.engine.store.commit(commit).await, Ok(true))
    }
}

/// The output a failed step hands to its `error` edge.
pub(crate) fn error_output(message: &str) -> Value {
    json!({ "error": { "message": message } })
}

/// Renders a node's params against `scope`; a `locals_param` (Slack `variables`) is rendered first
/// and its entries become bare names in the other params.
pub(crate) fn render_params(
    templates: &flowgate_model::Templates,
    node: &NodeSpec,
    scope: &Map<String, Value>,
    locals_param: Option<&str>,
) -> Result<Value, String> {
    let mut params = node.params.clone();
    let mut locals = Map::new();
    if let Some(name) = locals_param {
        if let Some(v) = params.get(name) {
            let rendered = templates
                .render(v, scope, &Map::new())
                .map_err(|e| e.to_string())?;
            if let Value::Object(m) = &rendered {
                locals = m.clone();
            }
            params.insert(name.to_string(), rendered);
        }
    }
    let mut out = Map::with_capacity(params.len());
    for (k, v) in params {
        let rendered = if Some(k.as_str()) == locals_param {
            v
        } else {
            templates
                .render(&v, scope, &locals)
                .map_err(|e| e.to_string())?
        };
        out.insert(k, rendered);
    }
    Ok(Value::Object(out))
}
