//! `core.stop` and `core.fail`: end the whole execution as `stopped` or `failed`.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, TypedNode};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopParams {
    /// Why the run stopped, shown on the execution.
    #[serde(default)]
    pub message: Option<String>,
}

pub struct Stop;

static STOP: Descriptor = Descriptor {
    error_port: false,
    pure: true,
    ..Descriptor::new(
        "core.stop",
        "Stop",
        Category::Control,
        "Ends the whole execution with status `stopped`.",
    )
};

#[async_trait]
impl TypedNode for Stop {
    type Params = StopParams;

    fn descriptor(&self) -> &'static Descriptor {
        &STOP
    }

    async fn run(&self, _: &NodeContext, p: StopParams) -> Result<Outcome, NodeError> {
        Ok(Outcome::Stop { message: p.message })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailParams {
    /// The execution's error message.
    pub message: String,
}

pub struct Fail;

static FAIL: Descriptor = Descriptor {
    error_port: false,
    pure: true,
    ..Descriptor::new(
        "core.fail",
        "Fail",
        Category::Control,
        "Ends the whole execution with status `failed` and a message.",
    )
};

#[async_trait]
impl TypedNode for Fail {
    type Params = FailParams;

    fn descriptor(&self) -> &'static Descriptor {
        &FAIL
    }

    async fn run(&self, _: &NodeContext, p: FailParams) -> Result<Outcome, NodeError> {
        Ok(Outcome::Fail { message: p.message })
    }
}
