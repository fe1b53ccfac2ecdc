//! `core.if`: ordered rules `{left, operator, right, port}`; the first rule that matches picks the
//! output port, and `else` is taken when none does.
//!
//! Values are compared after the engine has rendered references, so `left` and `right` are plain
//! JSON. Two values compare as numbers when both are numbers or strings that parse as numbers
//! (`"3.8" < "4.0"` is a numeric comparison). Otherwise:
//! - `==` / `!=`: equal JSON values, or a string equal to the text of a number, boolean or null
//!   (`"true" == true`);
//! - `<`, `<=`, `>`, `>=`: two strings compare byte-wise (ISO dates order correctly); any other
//!   pair fails the step, as there is no sensible order between them;
//! - `contains` / `not_contains`: substring of a string, element of a list, key of an object;
//! - `starts_with`, `ends_with`, `matches` (a regex, `regex` crate syntax): on the text of `left`;
//! - `exists`: `left` is not `null`; `not_exists`: `left` is `null`. A reference that does not
//!   resolve fails the step before the rules are evaluated (references never become silent nulls),
//!   so these test a value that is present but may be `null`;
//! - `is_empty`: `null`, `""`, `[]` or `{}`.

use std::cmp::Ordering;

use async_trait::async_trait;
use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_model::template::has_template;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, PortSet, Problem, TypedNode};

/// How a rule compares `left` with `right`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Operator {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "not_contains")]
    NotContains,
    #[serde(rename = "starts_with")]
    StartsWith,
    #[serde(rename = "ends_with")]
    EndsWith,
    #[serde(rename = "matches")]
    Matches,
    #[serde(rename = "exists")]
    Exists,
    #[serde(rename = "not_exists")]
    NotExists,
    #[serde(rename = "is_empty")]
    IsEmpty,
}

impl Operator {
    /// Whether the operator looks at `right`.
    pub fn binary(self) -> bool {
        !matches!(self, Self::Exists | Self::NotExists | Self::IsEmpty)
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The value tested, usually a reference such as `{{ trigger_1.output.MTD_Spend }}`.
    pub left: Value,
    pub operator: Operator,
    /// What `left` is compared with (not used by `exists`, `not_exists` and `is_empty`).
    #[serde(default)]
    pub right: Option<Value>,
    /// The output port taken when this rule is the first to match.
    pub port: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IfParams {
    /// Tried in order; the first that matches wins, `else` is taken when none does.
    #[schemars(length(min = 1))]
    pub rules: Vec<Rule>,
}

pub struct If;

static DESCRIPTOR: Descriptor = Descriptor {
    dynamic_ports: true,
    pure: true,
    ..Descriptor::new(
        "core.if",
        "If",
        Category::Control,
        "Branches on ordered rules: the first rule that matches picks its port, otherwise `else`.",
    )
};

pub const ELSE: &str = "else";

fn port_problem(port: &str) -> Option<String> {
    let ok = !port.is_empty()
        && port.len() <= 64
        && port
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        Some(format!(
            "`{port}` is not a port name: use 1 to 64 letters, digits, `_` or `-`"
        ))
    } else if port == "error" || port == ELSE {
        Some(format!("`{port}` is a reserved port name"))
    } else {
        None
    }
}

/// The number a value stands for, when it is a number or a string holding one.
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// The text of a value: strings as they are, other values as compact JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x == y;
    }
    match (a, b) {
        (Value::String(s), other @ (Value::Bool(_) | Value::Null | Value::Number(_)))
        | (other @ (Value::Bool(_) | Value::Null | Value::Number(_)), Value::String(s)) => {
            s.as_str() == other.to_string().as_str()
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Result<Ordering, String> {
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x
            .partial_cmp(&y)
            .ok_or_else(|| "numbers that cannot be ordered".to_string());
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "cannot order {} and {}: compare two numbers or two strings",
            kind(a),
            kind(b)
        )),
    }
}

fn kind(v: &Value) -> String {
    let k = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let t = text(v);
    if t.len() > 40 {
        k.to_string()
    } else {
        format!("{k} ({t})")
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(items) => items.iter().any(|i| loose_eq(i, needle)),
        Value::Object(map) => map.contains_key(&text(needle)),
        Value::Null => false,
        other => text(other).contains(&text(needle)),
    }
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))
}

/// Whether one rule matches. Errors name what could not be compared.
pub fn evaluate(rule: &Rule) -> Result<bool, String> {
    let left = &rule.left;
    let right = rule.right.as_ref().unwrap_or(&Value::Null);
    if rule.operator.binary() && rule.right.is_none() {
        return Err(format!(
            "operator `{:?}` needs a `right` value",
            rule.operator
        ));
    }
    Ok(match rule.operator {
        Operator::Eq => loose_eq(left, right),
        Operator::Ne => !loose_eq(left, right),
        Operator::Lt => order(left, right)? == Ordering::Less,
        Operator::Le => order(left, right)? != Ordering::Greater,
        Operator::Gt => order(left, right)? == Ordering::Greater,
        Operator::Ge => order(left, right)? != Ordering::Less,
        Operator::Contains => contains(left, right),
        Operator::NotContains => !contains(left, right),
        Operator::StartsWith => !left.is_null() && text(left).starts_with(&text(right)),
        Operator::EndsWith => !left.is_null() && text(left).ends_with(&text(right)),
        Operator::Matches => {
            let Value::String(pattern) = right else {
                return Err("`matches` needs a regular expression (a string) on the right".into());
            };
            !left.is_null() && compile(pattern)?.is_match(&text(left))
        }
        Operator::Exists => !left.is_null(),
        Operator::NotExists => left.is_null(),
        Operator::IsEmpty => match left {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        },
    })
}

#[async_trait]
impl TypedNode for If {
    type Params = IfParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &IfParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if p.rules.is_empty() {
            problems.push(Problem::new("rules", "add at least one rule"));
        }
        for (i, rule) in p.rules.iter().enumerate() {
            if let Some(m) = port_problem(&rule.port) {
                problems.push(Problem::new(format!("rules[{i}].port"), m));
            }
            if rule.operator.binary() && rule.right.is_none() {
                problems.push(Problem::new(
                    format!("rules[{i}].right"),
                    "this operator compares with a `right` value: set one",
                ));
            }
            if rule.operator == Operator::Matches {
                match &rule.right {
                    Some(Value::String(s)) if has_template(s) => {}
                    Some(Value::String(s)) => problems.extend(
                        compile(s)
                            .err()
                            .map(|m| Problem::new(format!("rules[{i}].right"), m)),
                    ),
                    Some(_) => problems.push(Problem::new(
                        format!("rules[{i}].right"),
                        "`matches` needs a regular expression (a string)",
                    )),
                    None => {}
                }
            }
        }
        problems
    }

    fn ports(&self, params: &Value) -> Option<PortSet> {
        let mut named: Vec<String> = Vec::new();
        for rule in params
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(port) = rule.get("port").and_then(Value::as_str) {
                if !named.iter().any(|p| p == port) {
                    named.push(port.to_string());
                }
            }
        }
        named.push(ELSE.to_string());
        Some(PortSet {
            default: false,
            named,
            error: DESCRIPTOR.error_port,
        })
    }

    async fn run(&self, _: &NodeContext, p: IfParams) -> Result<Outcome, NodeError> {
        for (i, rule) in p.rules.iter().enumerate() {
            let matched = evaluate(rule).map_err(|m| NodeError::new(format!("rule {i}: {m}")))?;
            if matched {
                return Ok(Outcome::Done {
                    output: json!({ "output": { "port": rule.port, "rule": i } }),
                    port: Some(rule.port.clone()),
                });
            }
        }
        Ok(Outcome::Done {
            output: json!({ "output": { "port": ELSE, "rule": null } }),
            port: Some(ELSE.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(left: Value, op: &str, right: Option<Value>) -> Rule {
        serde_json::from_value(json!({ "left": left, "operator": op, "right": right, "port": "p" }))
            .unwrap()
    }

    fn eval(left: Value, op: &str, right: Value) -> bool {
        evaluate(&rule(left, op, Some(right))).unwrap()
    }

    #[test]
    fn numeric_strings_compare_as_numbers() {
        assert!(eval(json!("3.8"), "<", json!("4.0")));
        assert!(!eval(json!("10"), "<", json!("9")));
        assert!(eval(json!("10"), ">", json!(9)));
        assert!(eval(json!("4.0"), "==", json!(4)));
        assert!(eval(json!(" 4 "), ">=", json!("4.0")));
        // Not numbers: byte-wise.
        assert!(eval(json!("b"), ">", json!("a10")));
        assert!(eval(
            json!("2024-01-02T00:00:00Z"),
            ">",
            json!("2024-01-01T23:00:00Z")
        ));
    }

    #[test]
    fn equality_is_loose_between_strings_and_scalars() {
        assert!(eval(json!("true"), "==", json!(true)));
        assert!(eval(json!({"a": 1}), "==", json!({"a": 1})));
        assert!(eval(json!("x"), "!=", json!("y")));
        assert!(!eval(json!("x"), "!=", json!("x")));
        assert!(!eval(json!(null), "==", json!("")));
    }

    #[test]
    fn ordering_mismatched_types_is_an_error() {
        let err = evaluate(&rule(json!("abc"), "<", Some(json!(5)))).unwrap_err();
        assert!(err.contains("cannot order"), "{err}");
        assert!(evaluate(&rule(json!(null), ">", Some(json!(1)))).is_err());
    }

    #[test]
    fn text_operators() {
        assert!(eval(json!("sig-e26f1234"), "starts_with", json!("sig-")));
        assert!(eval(json!("web-prod"), "ends_with", json!("-prod")));
        assert!(eval(json!("web-prod"), "contains", json!("b-p")));
        assert!(eval(json!("web-prod"), "not_contains", json!("dev")));
        assert!(eval(json!(["a", "b", 3]), "contains", json!("3")));
        assert!(eval(json!({"k": 1}), "contains", json!("k")));
        assert!(eval(
            json!("sig-e26f1234"),
            "matches",
            json!("^sig-[0-9a-f]{8}$")
        ));
        assert!(!eval(
            json!("sig-E26F1234"),
            "matches",
            json!("^sig-[0-9a-f]{8}$")
        ));
        assert!(!eval(json!(null), "starts_with", json!("n")));
    }

    #[test]
    fn presence_and_emptiness() {
        assert!(evaluate(&rule(json!(0), "exists", None)).unwrap());
        assert!(!evaluate(&rule(json!(null), "exists", None)).unwrap());
        assert!(evaluate(&rule(json!(null), "not_exists", None)).unwrap());
        for empty in [json!(null), json!(""), json!([]), json!({})] {
            assert!(evaluate(&rule(empty, "is_empty", None)).unwrap());
        }
        assert!(!evaluate(&rule(json!(" "), "is_empty", None)).unwrap());
        assert!(!evaluate(&rule(json!(0), "is_empty", None)).unwrap());
    }

    #[test]
    fn checks_find_bad_rules_but_skip_templates() {
        let params: IfParams = serde_json::from_value(json!({ "rules": [
            { "left": "x", "operator": "matches", "right": "([a-z", "port": "bad" },
            { "left": "x", "operator": "matches", "right": "{{ t.output.re }}", "port": "ok" },
            { "left": "x", "operator": "==", "port": "else" },
        ]}))
        .unwrap();
        let problems = If.check(&params);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["rules[0].right", "rules[2].port", "rules[2].right"],
            "{problems:?}"
        );
        assert!(problems[0]
            .message
            .contains("not a valid regular expression"));
    }

    #[test]
    fn ports_are_the_rules_ports_then_else() {
        let ports = If
            .ports(&json!({ "rules": [{"port": "over"}, {"port": "under"}, {"port": "over"}] }))
            .unwrap();
        assert_eq!(ports.named, ["over", "under", "else"]);
        assert!(!ports.default);
    }
}
