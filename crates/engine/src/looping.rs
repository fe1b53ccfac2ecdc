//! `core.loop`: runs the loop's body once per item, each item a child run in its own scope
//! (`loop_id[index]`) whose steps commit as they finish, so a crash mid-loop resumes it and
//! finished items are not run again. An item whose body waits (an approval, a wait) lets the next
//! item start; when the others are done the loop step waits until the earliest of them, and runs
//! again when the execution is woken.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Map, Value};

use flowgate_model::{NodeSpec, WorkflowDocument};
use flowgate_nodes::{NodeError, Outcome};
use flowgate_store::{ExecStatus, ExecutionRow, StepRow};

use crate::run::{ItemEnd, Run};
use crate::step::{render_params, Finished};
use crate::Engine;

pub(crate) struct LoopJob {
    pub engine: Arc<Engine>,
    pub exec: ExecutionRow,
    pub doc: Arc<WorkflowDocument>,
    pub node: NodeSpec,
    pub body: Vec<String>,
    /// Names visible to the loop's params and its body (outer step outputs).
    pub scope: Map<String, Value>,
    /// `""` for a top-level loop, `outer[0]/` inside another loop's body.
    pub child_prefix: String,
    /// Rows already recorded in this loop's item scopes.
    pub rows: Vec<StepRow>,
    pub seq: Arc<AtomicI64>,
    pub attempts: i64,
}

impl LoopJob {
    pub async fn run(self) -> Finished {
        let started = Instant::now();
        let started_at = self.engine.now_ms();
        let (input, result, fenced) =
            match render_params(&self.engine.templates, &self.node, &self.scope, None) {
                Err(message) => (None, Err(NodeError::new(message)), false),
                Ok(params) => {
                    let (result, fenced) = self.iterate(&params).await;
                    (Some(params), result, fenced)
                }
            };
        Finished {
            node_id: self.node.id.clone(),
            input,
            started_at,
            attempts: self.attempts,
            result,
            fenced,
            elapsed: started.elapsed(),
        }
    }

    async fn iterate(&self, params: &Value) -> (Result<Outcome, NodeError>, bool) {
        let items = match &params["items"] {
            Value::Array(items) => items.clone(),
            other => {
                let kind = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Object(_) => "an object",
                    Value::Array(_) => "a list",
                };
                return (
                    Err(NodeError::new(format!(
                        "`items` must be a list to loop over, but it is {kind}"
                    ))),
                    false,
                );
            }
        };
        let max = params["max_concurrency"].as_u64().unwrap_or(1).clamp(1, 64) as usize;
        let keep_going = params["on_item_error"].as_str() == Some("continue");
        let inner: Vec<String> = self
            .body
            .iter()
            .filter_map(|id| self.doc.node(id))
            .flat_map(|n| self.engine.body_of(n))
            .collect();
        let nodes: Vec<String> = self
            .body
            .iter()
            .filter(|id| !inner.contains(id))
            .cloned()
            .collect();
        let entries: Vec<String> = nodes
            .iter()
            .filter(|id| !self.doc.incoming(id).any(|e| nodes.contains(&e.from)))
            .cloned()
            .collect();

        let mut results = vec![Value::Null; items.len()];
        // The earliest wake-up of the items that wait, and how many wait.
        let mut waiting: Option<(i64, usize)> = None;
        let mut next = 0;
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < max && next < items.len() {
                let child = self.child(next, &items[next], &nodes, &entries);
                let index = next;
                running.push(async move { (index, child.drive_item().await) });
                next += 1;
            }
            let Some((index, end)) = running.next().await else {
                break;
            };
            match end {
                ItemEnd::Done(value) => results[index] = value,
                ItemEnd::Waiting(at) => {
                    waiting = Some(waiting.map_or((at, 1), |(w, n)| (w.min(at), n + 1)))
                }
                ItemEnd::Failed(message) if keep_going => {
                    results[index] = json!({ "error": { "message": message } })
                }
                ItemEnd::Failed(message) => {
                    return (
                        Err(NodeError::new(format!("item {index} failed: {message}"))),
                        false,
                    )
                }
                ItemEnd::Ended(ExecStatus::Stopped, message) => {
                    return (Ok(Outcome::Stop { message }), false)
                }
                ItemEnd::Ended(_, message) => {
                    return (
                        Ok(Outcome::Fail {
                            message: message.unwrap_or_else(|| format!("item {index} failed")),
                        }),
                        false,
                    )
                }
                ItemEnd::Fenced => return (Err(NodeError::new("lease lost")), true),
            }
        }
        if let Some((wake_at, items)) = waiting {
            // The loop waits with its items; it runs again when the execution is woken.
            let state = json!({ "items_waiting": items });
            return (
                Ok(Outcome::Suspend {
                    wake_at,
                    state,
                    approval: None,
                }),
                false,
            );
        }
        (Ok(Outcome::output(json!({ "output": results }))), false)
    }

    fn child(&self, index: usize, item: &Value, nodes: &[String], entries: &[String]) -> Run {
        let scope_key = format!("{}{}[{index}]", self.child_prefix, self.node.id);
        let steps: HashMap<String, StepRow> = self
            .rows
            .iter()
            .filter(|r| r.scope == scope_key)
            .map(|r| (r.node_id.clone(), r.clone()))
            .collect();
        let nested: Vec<StepRow> = self
            .rows
            .iter()
            .filter(|r| r.scope.starts_with(&format!("{scope_key}/")))
            .cloned()
            .collect();
        let mut extra = self.scope.clone();
        extra.insert("loop".into(), json!({ "item": item, "index": index }));
        Run::new(
            self.engine.clone(),
            self.exec.clone(),
            self.doc.clone(),
            scope_key,
            nodes.to_vec(),
            entries.to_vec(),
            extra,
            steps,
            nested,
            self.seq.clone(),
        )
    }
}
