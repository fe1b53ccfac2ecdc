//! `spot.elastigroup_aws`: lists, reads, scales, resizes and deletes AWS Elastigroups.

use std::borrow::Cow;
use std::sync::OnceLock;

use async_trait::async_trait;
use regex::Regex;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_model::template::has_template;

use super::client::SpotClient;
use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

/// What the step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    ListElastigroups,
    GetElastigroup,
    ScaleUp,
    ScaleDown,
    UpdateCapacity,
    DeleteElastigroup,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::ListElastigroups => "list_elastigroups",
            Self::GetElastigroup => "get_elastigroup",
            Self::ScaleUp => "scale_up",
            Self::ScaleDown => "scale_down",
            Self::UpdateCapacity => "update_capacity",
            Self::DeleteElastigroup => "delete_elastigroup",
        }
    }
}

/// A whole number written literally, or (at run time) produced by a reference, possibly as a
/// numeric string such as `"2"` taken from an alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Count(pub Value);

impl JsonSchema for Count {
    fn schema_name() -> Cow<'static, str> {
        "Count".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 0 })
    }
}

impl Count {
    /// `Ok(None)` for a reference still to be rendered.
    fn whole(&self) -> Result<Option<u64>, String> {
        let bad = || format!("must be a whole number, not {}", self.0);
        match &self.0 {
            Value::String(s) if has_template(s) => Ok(None),
            Value::String(s) => s.trim().parse::<u64>().map(Some).map_err(|_| bad()),
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(v), _) => Ok(Some(v)),
                (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
                    Ok(Some(f as u64))
                }
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// The new capacity; give any of the three, the others stay as they are.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityParams {
    /// Fewest instances the group keeps.
    #[serde(default)]
    pub minimum: Option<Count>,
    /// Most instances the group may run.
    #[serde(default)]
    pub maximum: Option<Count>,
    /// Instances the group should run now (minimum ≤ target ≤ maximum).
    #[serde(default)]
    pub target: Option<Count>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElastigroupParams {
    /// Alias of the `spot` integration holding the API token.
    #[schemars(extend("x-integration-type" = "spot"))]
    pub integration: String,
    /// Spot account (`act-…`); the integration's default account when left out.
    #[serde(default)]
    #[schemars(extend("x-source" = "spot-accounts"))]
    pub account_id: Option<String>,
    /// `list_elastigroups`, `get_elastigroup`, `scale_up`, `scale_down` (by `adjustment`),
    /// `update_capacity` (to `capacity`) or `delete_elastigroup`.
    pub operation: Operation,
    /// The Elastigroup (`sig-…`); every operation but `list_elastigroups` needs it.
    #[serde(default)]
    pub group_id: Option<String>,
    /// How many instances `scale_up` adds or `scale_down` removes.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub adjustment: Option<Count>,
    /// The capacity `update_capacity` sets.
    #[serde(default)]
    #[schemars(with = "CapacityParams")]
    pub capacity: Option<CapacityParams>,
}

pub struct ElastigroupAws;

static DESCRIPTOR: Descriptor = Descriptor {
    idempotent: false,
    ..Descriptor::new(
        "spot.elastigroup_aws",
        "Spot Elastigroup AWS",
        Category::Spot,
        "Lists, reads, scales up or down, resizes or deletes an AWS Elastigroup: `output` is the first item of Spot's answer, `items` all of them.",
    )
};

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

fn group_id_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r"^sig-[A-Za-z0-9]+$")
}

fn account_id_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r"^act-[A-Za-z0-9]+$")
}

/// A string param's value, `None` when left out or empty.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn check_params(p: &ElastigroupParams) -> Vec<Problem> {
    let mut problems = Vec::new();
    let op = p.operation.name();
    if p.integration.trim().is_empty() {
        problems.push(Problem::new(
            "integration",
            "name the `spot` integration to use",
        ));
    }
    if let Some(account) = given(&p.account_id).filter(|a| !has_template(a)) {
        if !account_id_re().is_match(account) {
            problems.push(Problem::new(
                "account_id",
                format!("`{account}` is not a Spot account id; they look like `act-1a2b3c4d`"),
            ));
        }
    }
    if p.operation != Operation::ListElastigroups {
        match given(&p.group_id) {
            None => problems.push(Problem::new(
                "group_id",
                format!("`{op}` needs the Elastigroup's id (`sig-…`)"),
            )),
            Some(id) if !has_template(id) && !group_id_re().is_match(id) => {
                problems.push(Problem::new(
                    "group_id",
                    format!("`{id}` is not an Elastigroup id; they look like `sig-1a2b3c4d`"),
                ))
            }
            Some(_) => {}
        }
    }
    if matches!(p.operation, Operation::ScaleUp | Operation::ScaleDown) {
        match p.adjustment.as_ref().map(Count::whole) {
            None => problems.push(Problem::new(
                "adjustment",
                format!(
                    "`{op}` needs an adjustment: how many instances to {}",
                    if op == "scale_up" { "add" } else { "remove" }
                ),
            )),
            Some(Err(e)) => {
                problems.push(Problem::new("adjustment", format!("the adjustment {e}")))
            }
            Some(Ok(Some(0))) => problems.push(Problem::new(
                "adjustment",
                "the adjustment must be at least 1",
            )),
            Some(Ok(_)) => {}
        }
    }
    if p.operation == Operation::UpdateCapacity {
        check_capacity(p.capacity.as_ref(), &mut problems);
    }
    problems
}

fn check_capacity(capacity: Option<&CapacityParams>, problems: &mut Vec<Problem>) {
    let Some(c) = capacity else {
        problems.push(Problem::new(
            "capacity",
            "`update_capacity` needs a capacity: minimum, maximum and/or target",
        ));
        return;
    };
    if c.minimum.is_none() && c.maximum.is_none() && c.target.is_none() {
        problems.push(Problem::new(
            "capacity",
            "give at least one of minimum, maximum and target",
        ));
        return;
    }
    let mut value = |name: &str, count: &Option<Count>| match count.as_ref().map(Count::whole) {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            problems.push(Problem::new(
                format!("capacity.{name}"),
                format!("the {name} {e}"),
            ));
            None
        }
        None => None,
    };
    let (min, max, target) = (
        value("minimum", &c.minimum),
        value("maximum", &c.maximum),
        value("target", &c.target),
    );
    let order = [
        ("minimum", min, "target", target),
        ("target", target, "maximum", max),
        ("minimum", min, "maximum", max),
    ];
    if let Some((a, Some(x), b, Some(y))) = order
        .into_iter()
        .find(|(_, x, _, y)| matches!((x, y), (Some(x), Some(y)) if x > y))
    {
        problems.push(Problem::new(
            "capacity",
            format!("the {a} ({x}) is above the {b} ({y}); Spot needs minimum ≤ target ≤ maximum"),
        ));
    }
}

/// A value `check` has already accepted, at run time (references rendered).
fn number(count: &Option<Count>, name: &str) -> Result<Option<u64>, NodeError> {
    match count
        .as_ref()
        .map(Count::whole)
        .transpose()
        .map_err(|e| NodeError::new(format!("the {name} {e}")))?
    {
        Some(Some(n)) => Ok(Some(n)),
        Some(None) => Err(NodeError::new(format!(
            "the {name} still holds an unrendered reference"
        ))),
        None => Ok(None),
    }
}

#[async_trait]
impl TypedNode for ElastigroupAws {
    type Params = ElastigroupParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &ElastigroupParams) -> Vec<Problem> {
        check_params(p)
    }

    async fn run(&self, ctx: &NodeContext, p: ElastigroupParams) -> Result<Outcome, NodeError> {
        let integration = ctx.integration(p.integration.trim(), "spot").await?;
        let mut client = SpotClient::from_integration(
            ctx.services.http.clone(),
            &integration.config,
            &integration.secrets,
        )?;
        if let Some(account) = given(&p.account_id) {
            client = client.with_account(account);
        }
        let group = || {
            given(&p.group_id)
                .ok_or_else(|| NodeError::new(format!("`{}` needs a group_id", p.operation.name())))
        };
        let adjustment = || {
            number(&p.adjustment, "adjustment")?
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    NodeError::new("the adjustment must be a whole number of at least 1")
                })
        };
        let response = match p.operation {
            Operation::ListElastigroups => client.list_groups().await,
            Operation::GetElastigroup => client.get_group(group()?).await,
            Operation::ScaleUp => client.scale_up(group()?, adjustment()?).await,
            Operation::ScaleDown => client.scale_down(group()?, adjustment()?).await,
            Operation::UpdateCapacity => {
                let c = p
                    .capacity
                    .as_ref()
                    .ok_or_else(|| NodeError::new("`update_capacity` needs a capacity"))?;
                client
                    .update_capacity(
                        group()?,
                        number(&c.minimum, "minimum")?,
                        number(&c.maximum, "maximum")?,
                        number(&c.target, "target")?,
                    )
                    .await
            }
            Operation::DeleteElastigroup => client.delete_group(group()?).await,
        }?;
        Ok(Outcome::output(json!({
            "output": response.items.first().cloned().unwrap_or(Value::Null),
            "items": response.items,
            "request_id": response.request_id,
        })))
    }
}
