//! Trigger nodes. The engine records a trigger's step when the execution is created, from the
//! event that started it; these types carry the trigger's params and schema.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, TypedNode};

fn not_run(node_type: &str) -> NodeError {
    NodeError::new(format!("`{node_type}` starts executions; it is not run as a step"))
}

/// Starts a run when an alert is POSTed to the workflow's webhook URL.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookParams {
    /// Name of the organization's API key that callers must present (`x-api-key`).
    pub api_key: String,
    /// JSON Schema of the alert body, for the console's reference picker and save-time warnings.
    #[serde(default)]
    pub output_schema: Option<Value>,
}

pub struct Webhook;

static WEBHOOK: Descriptor = Descriptor {
    error_port: false,
    ..Descriptor::new("trigger.webhook", "Generic Webhook", Category::Triggers, "Starts a run for each JSON alert POSTed to the workflow's webhook URL with an API key (AWS SNS deliveries included).")
};

#[async_trait]
impl TypedNode for Webhook {
    type Params = WebhookParams;

    fn descriptor(&self) -> &'static Descriptor {
        &WEBHOOK
    }

    async fn run(&self, _: &NodeContext, _: WebhookParams) -> Result<Outcome, NodeError> {
        Err(not_run(WEBHOOK.node_type))
    }
}

/// Starts a run from the API, the CLI or the console, with a payload.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualParams {
    /// JSON Schema the payload of a manual run must satisfy.
    #[serde(default)]
    pub parameters: Option<Value>,
}

pub struct Manual;

static MANUAL: Descriptor = Descriptor {
    error_port: false,
    ..Descriptor::new("trigger.manual", "Manual", Category::Triggers, "Starts a run on demand with a payload, validated against an optional JSON Schema.")
};

#[async_trait]
impl TypedNode for Manual {
    type Params = ManualParams;

    fn descriptor(&self) -> &'static Descriptor {
        &MANUAL
    }

    fn check(&self, params: &ManualParams) -> Vec<crate::Problem> {
        match &params.parameters {
            Some(schema) => match jsonschema::validator_for(schema) {
                Ok(_) => Vec::new(),
                Err(e) => vec![crate::Problem::new("parameters", format!("not a valid JSON Schema: {e}"))],
            },
            None => Vec::new(),
        }
    }

    async fn run(&self, _: &NodeContext, _: ManualParams) -> Result<Outcome, NodeError> {
        Err(not_run(MANUAL.node_type))
    }
}
