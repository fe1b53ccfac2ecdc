//! `core.loop`: runs the nodes it names once per item of a list. The engine runs the body (each
//! item in its own scope, durably); this type carries the params, their schema and the body.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnItemError {
    /// The loop fails at the first failed item.
    #[default]
    Stop,
    /// A failed item's result is `{error: {message}}` and the loop goes on.
    Continue,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoopParams {
    /// The list to loop over, usually a reference such as `{{ list.items }}`.
    pub items: Value,
    /// Ids of the body's nodes: connected among themselves, not to the rest of the graph. Inside
    /// them `{{ loop.item }}` and `{{ loop.index }}` name the current item.
    pub nodes: Vec<String>,
    /// How many items run at once (1 to 64); an item waiting for an approval or a wait does not
    /// count.
    #[serde(default = "one")]
    pub max_concurrency: u32,
    #[serde(default)]
    pub on_item_error: OnItemError,
}

fn one() -> u32 {
    1
}

pub struct Loop;

static DESCRIPTOR: Descriptor = Descriptor::new(
    "core.loop",
    "Loop",
    Category::Control,
    "Runs the nodes it names once per item of a list; its output is the list of per-item results (each the body's last node's output).",
);

#[async_trait]
impl TypedNode for Loop {
    type Params = LoopParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &LoopParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if p.nodes.is_empty() {
            problems.push(Problem::new(
                "nodes",
                "name at least one node to run per item",
            ));
        }
        if !(1..=64).contains(&p.max_concurrency) {
            problems.push(Problem::new("max_concurrency", "must be from 1 to 64"));
        }
        if !(p.items.is_array()
            || p.items
                .as_str()
                .is_some_and(flowgate_model::template::has_template))
        {
            problems.push(Problem::new(
                "items",
                "must be a list or a reference to one",
            ));
        }
        problems
    }

    fn body(&self, params: &Map<String, Value>) -> Vec<String> {
        params
            .get("nodes")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn run(&self, _: &NodeContext, _: LoopParams) -> Result<Outcome, NodeError> {
        Err(NodeError::new(
            "a loop's body is run by the engine, not by the node",
        ))
    }
}
