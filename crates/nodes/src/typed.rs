//! Nodes with typed params: the params struct's JSON Schema validates documents at save time and
//! is served to the console; at run time the rendered params deserialize into the struct.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use flowgate_model::template::has_template;

use crate::{Descriptor, Node, NodeContext, NodeError, Outcome, PortSet, Problem, Wake};

/// A node written against its own params type. Register it as `Typed::new(MyNode)`.
#[async_trait]
pub trait TypedNode: Send + Sync + 'static {
    type Params: DeserializeOwned + JsonSchema + Send;

    fn descriptor(&self) -> &'static Descriptor;

    /// Checks beyond the schema (formats, ranges, relations); string values holding references
    /// must be skipped, as they are checked when the step runs.
    fn check(&self, params: &Self::Params) -> Vec<Problem> {
        let _ = params;
        Vec::new()
    }

    /// Ports that depend on the params (`core.if`); the descriptor's otherwise.
    fn ports(&self, params: &Value) -> Option<PortSet> {
        let _ = params;
        None
    }

    /// Whether these params make a repeat harmless; `None` defers to the descriptor.
    fn idempotent(&self, params: &Value) -> Option<bool> {
        let _ = params;
        None
    }

    fn locals_param(&self) -> Option<&'static str> {
        None
    }

    fn body(&self, params: &Map<String, Value>) -> Vec<String> {
        let _ = params;
        Vec::new()
    }

    async fn run(&self, ctx: &NodeContext, params: Self::Params) -> Result<Outcome, NodeError>;

    async fn resume(
        &self,
        ctx: &NodeContext,
        params: Self::Params,
        state: Value,
        wake: Wake,
    ) -> Result<Outcome, NodeError> {
        let _ = (ctx, params, state, wake);
        Err(NodeError::new(format!(
            "`{}` never waits, so it cannot be resumed",
            self.descriptor().node_type
        )))
    }
}

pub struct Typed<T: TypedNode> {
    inner: T,
    schema: Value,
    validator: jsonschema::Validator,
}

impl<T: TypedNode> Typed<T> {
    pub fn new(inner: T) -> Self {
        let mut schema =
            serde_json::to_value(schemars::schema_for!(T::Params)).expect("schemas serialize");
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("title");
        }
        let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| {
            panic!("schema of {} is invalid: {e}", inner.descriptor().node_type)
        });
        Self {
            inner,
            schema,
            validator,
        }
    }

    fn parse(&self, params: Value) -> Result<T::Params, NodeError> {
        let node_type = self.inner.descriptor().node_type;
        serde_path_to_error::deserialize(params).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            NodeError::new(format!(
                "the params of this `{node_type}` step are invalid{at}: {}",
                e.into_inner()
            ))
        })
    }
}

/// `/capacity/0/min` → `.capacity[0].min`
fn pointer_to_path(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|seg| {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
                format!("[{seg}]")
            } else {
                format!(".{seg}")
            }
        })
        .collect()
}

#[async_trait]
impl<T: TypedNode> Node for Typed<T> {
    fn descriptor(&self) -> &Descriptor {
        self.inner.descriptor()
    }

    fn params_schema(&self) -> &Value {
        &self.schema
    }

    fn validate(&self, params: &Value, path: &str) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self
            .validator
            .iter_errors(params)
            .filter(|e| !e.instance.as_str().is_some_and(has_template))
            .map(|e| {
                Problem::new(
                    format!("{path}{}", pointer_to_path(&e.instance_path.to_string())),
                    e.to_string(),
                )
            })
            .collect();
        if problems.is_empty() {
            if let Ok(typed) = serde_json::from_value::<T::Params>(params.clone()) {
                problems.extend(self.inner.check(&typed).into_iter().map(|p| {
                    let sep = if p.path.is_empty() || p.path.starts_with('[') {
                        ""
                    } else {
                        "."
                    };
                    Problem::new(format!("{path}{sep}{}", p.path), p.message)
                }));
            }
        }
        problems
    }

    fn ports(&self, params: &Value) -> PortSet {
        self.inner.ports(params).unwrap_or_else(|| {
            let d = self.inner.descriptor();
            PortSet {
                default: d.ports.is_empty(),
                named: d.ports.iter().map(|p| p.to_string()).collect(),
                error: d.error_port,
            }
        })
    }

    fn is_idempotent(&self, params: &Value) -> bool {
        self.inner
            .idempotent(params)
            .unwrap_or(self.inner.descriptor().idempotent)
    }

    fn locals_param(&self) -> Option<&'static str> {
        self.inner.locals_param()
    }

    fn body(&self, params: &Map<String, Value>) -> Vec<String> {
        self.inner.body(params)
    }

    async fn execute(&self, ctx: &NodeContext, params: Value) -> Result<Outcome, NodeError> {
        let typed = self.parse(params)?;
        let problems = self.inner.check(&typed);
        if let Some(p) = problems.first() {
            return Err(NodeError::new(format!("invalid params: {p}")));
        }
        self.inner.run(ctx, typed).await
    }

    async fn resume(
        &self,
        ctx: &NodeContext,
        params: Value,
        state: Value,
        wake: Wake,
    ) -> Result<Outcome, NodeError> {
        let typed = self.parse(params)?;
        self.inner.resume(ctx, typed, state, wake).await
    }
}

#[cfg(test)]
mod tests {
    use super::pointer_to_path;

    #[test]
    fn pointers_become_paths() {
        assert_eq!(pointer_to_path("/capacity/minimum"), ".capacity.minimum");
        assert_eq!(pointer_to_path("/rules/0/port"), ".rules[0].port");
        assert_eq!(pointer_to_path(""), "");
    }
}
