//! `core.transform`: builds a new JSON value from references to earlier steps.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, TypedNode};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformParams {
    /// Any JSON; strings inside it may hold references.
    pub value: Value,
}

pub struct Transform;

static DESCRIPTOR: Descriptor = Descriptor {
    pure: true,
    ..Descriptor::new(
        "core.transform",
        "Transform",
        Category::Core,
        "Builds a JSON value (object, list, text ...) from references to earlier steps.",
    )
};

#[async_trait]
impl TypedNode for Transform {
    type Params = TransformParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    async fn run(&self, _: &NodeContext, p: TransformParams) -> Result<Outcome, NodeError> {
        Ok(Outcome::output(json!({ "output": p.value })))
    }
}
