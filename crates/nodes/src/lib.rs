//! The node catalogue: the `Node` trait every step type implements, typed params whose JSON
//! Schema drives both validation and the console's forms, and the registry of built-in nodes.

pub mod clock;
pub mod context;
pub mod core;
pub mod http;
mod registry;
pub mod slack;
pub mod sns;
pub mod spot;
mod typed;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};

pub use clock::{Clock, SystemClock, TestClock};
pub use context::{Integration, IntegrationSource, NodeContext, Services};
pub use flowgate_model::validate::PortSet;
pub use flowgate_model::Problem;
pub use registry::Registry;
pub use typed::{Typed, TypedNode};

/// Where a node sits in the console's palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Category {
    #[serde(rename = "Triggers")]
    Triggers,
    #[serde(rename = "Core")]
    Core,
    #[serde(rename = "Control Structures")]
    Control,
    #[serde(rename = "Spot by NetApp")]
    Spot,
    #[serde(rename = "Slack")]
    Slack,
}

/// What the engine and the console know about a node type besides its params.
#[derive(Debug, Clone, Serialize)]
pub struct Descriptor {
    #[serde(rename = "type")]
    pub node_type: &'static str,
    pub display_name: &'static str,
    pub category: Category,
    pub description: &'static str,
    /// Named output ports; empty when the node only has its default (success) path.
    pub ports: &'static [&'static str],
    /// Whether the ports come from the params (`core.if`).
    pub dynamic_ports: bool,
    /// Whether a failing step may continue on an `error` edge.
    pub error_port: bool,
    /// Whether repeating the node after an unknown outcome is harmless.
    pub idempotent: bool,
    /// Ports that, left on while no edge is connected to them, fail the step with the message
    /// (an approval that times out with no `timed_out` edge fails with "approval timed out").
    #[serde(skip)]
    pub unconnected_fails: &'static [(&'static str, &'static str)],
    /// Whether the node only computes on its input: no outside calls, no waiting, the same result
    /// every time. The engine may commit such a step together with the steps that follow it (a
    /// crash before that commit re-runs it, with the same result).
    #[serde(skip)]
    pub pure: bool,
}

impl Descriptor {
    pub const fn new(
        node_type: &'static str,
        display_name: &'static str,
        category: Category,
        description: &'static str,
    ) -> Self {
        Self {
            node_type,
            display_name,
            category,
            description,
            ports: &[],
            dynamic_ports: false,
            error_port: true,
            idempotent: true,
            unconnected_fails: &[],
            pure: false,
        }
    }
}

/// What a decision or timer brings to a suspended step when it wakes.
#[derive(Debug, Clone, Serialize)]
pub struct Wake {
    /// The decision recorded for the step's approval, if any (`approved`, `denied`, `timed_out`).
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub status: String,
    pub decided_by: Option<Value>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub channel: Option<String>,
    pub ts: Option<String>,
}

/// A human decision a suspended step waits for.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub id: String,
    pub secret: String,
    pub notes: String,
    pub integration: Option<String>,
    pub channel: Option<String>,
    pub ts: Option<String>,
    pub approvers: Option<Vec<String>>,
    pub expires_at: i64,
}

/// How a step ends (or pauses).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Finished; the run continues on `port` (`None`: the default path).
    Done { output: Value, port: Option<String> },
    /// Waits, holding nothing in memory, until `wake_at` or a decision; then `resume` runs.
    Suspend {
        wake_at: i64,
        state: Value,
        approval: Option<ApprovalRequest>,
    },
    /// Ends the execution as `stopped`.
    Stop { message: Option<String> },
    /// Ends the execution as `failed` with this message.
    Fail { message: String },
}

impl Outcome {
    pub fn output(output: Value) -> Self {
        Self::Done { output, port: None }
    }
}

/// Why a step failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    pub message: String,
    /// A transient failure (rate limit, 5xx, connection refused before sending).
    pub retryable: bool,
    /// Honour this delay before retrying (a `Retry-After`).
    pub retry_after_ms: Option<u64>,
}

impl NodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            retry_after_ms: None,
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            retry_after_ms: None,
        }
    }
}

/// One node type. Implement [`TypedNode`] and register `Typed::new(...)` rather than this.
#[async_trait]
pub trait Node: Send + Sync + 'static {
    fn descriptor(&self) -> &Descriptor;
    /// JSON Schema of the params.
    fn params_schema(&self) -> &Value;
    /// Problems with literal params at save time (references are checked when the step runs).
    fn validate(&self, params: &Value, path: &str) -> Vec<Problem>;
    /// The ports of a node with these params.
    fn ports(&self, params: &Value) -> PortSet;
    /// Whether repeating a call with these (rendered) params is harmless; the descriptor's answer
    /// unless the node knows better (an HTTP GET is, a POST is not).
    fn is_idempotent(&self, params: &Value) -> bool {
        let _ = params;
        self.descriptor().idempotent
    }
    /// The param (an object) whose entries are bare `{{Name}}` names in the other params.
    fn locals_param(&self) -> Option<&'static str> {
        None
    }
    /// Ids of the nodes this node runs as its body (a loop), from its params as written.
    fn body(&self, params: &Map<String, Value>) -> Vec<String> {
        let _ = params;
        Vec::new()
    }
    async fn execute(&self, ctx: &NodeContext, params: Value) -> Result<Outcome, NodeError>;
    async fn resume(
        &self,
        ctx: &NodeContext,
        params: Value,
        state: Value,
        wake: Wake,
    ) -> Result<Outcome, NodeError>;
}
