//! `core.jsonpath`: selects from JSON with an RFC 9535 JSONPath (serde_json_path).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use serde_json_path::JsonPath;

use flowgate_model::template::has_template;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonPathParams {
    /// The JSON to select from, usually a reference such as `{{ trigger_1.output }}`.
    pub json_object: Value,
    /// An RFC 9535 JSONPath, e.g. `$.items[?@.capacity.target > 2].id`.
    pub json_path: String,
    /// Succeed with `output: null` when nothing matches (otherwise the step fails).
    #[serde(default)]
    pub allow_empty: bool,
}

pub struct JsonPathNode;

static DESCRIPTOR: Descriptor = Descriptor {
    pure: true,
    ..Descriptor::new("core.jsonpath", "JSONPath", Category::Core, "Selects values from JSON with an RFC 9535 JSONPath: `output` is the first match, `matches` all of them.")
};

fn parse(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path).map_err(|e| format!("`{path}` is not a valid JSONPath (RFC 9535): {e}"))
}

#[async_trait]
impl TypedNode for JsonPathNode {
    type Params = JsonPathParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &JsonPathParams) -> Vec<Problem> {
        if has_template(&p.json_path) {
            return Vec::new();
        }
        parse(&p.json_path)
            .err()
            .map(|m| Problem::new("json_path", m))
            .into_iter()
            .collect()
    }

    async fn run(&self, _: &NodeContext, p: JsonPathParams) -> Result<Outcome, NodeError> {
        let path = parse(&p.json_path).map_err(NodeError::new)?;
        let matches: Vec<Value> = path
            .query(&p.json_object)
            .all()
            .into_iter()
            .cloned()
            .collect();
        if matches.is_empty() && !p.allow_empty {
            return Err(NodeError::new(format!(
                "`{}` matched nothing (set allow_empty: true to continue anyway)",
                p.json_path
            )));
        }
        Ok(Outcome::output(
            json!({ "output": matches.first().cloned().unwrap_or(Value::Null), "matches": matches }),
        ))
    }
}
