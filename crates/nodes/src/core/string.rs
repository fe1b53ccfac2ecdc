//! `core.string`: text operations (case, replace, regex extraction, split, join, strip).
//!
//! The params are one flat object, `input` + `operation` + the arguments the operation uses, so a
//! form generator shows a plain dropdown and fields; which arguments an operation needs is checked
//! at save time. Arguments an operation does not use are ignored (switching the operation in the
//! console leaves them behind).

use async_trait::async_trait;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use flowgate_model::template::has_template;

use crate::core::if_node::text;
use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StringOperation {
    /// Lower-case the text.
    ToLower,
    /// Upper-case the text.
    ToUpper,
    /// Replace every `find` with `replace_with` (`find` is a regex when `regex` is true).
    Replace,
    /// Every match of `pattern` (its first capture group when it has one), as a list.
    RegexExtractAll,
    /// Split the text at each `separator`, giving a list.
    Split,
    /// Join a list `input` with `separator`.
    Join,
    /// Remove leading and trailing whitespace.
    Strip,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StringParams {
    /// The text (a list for `join`), usually a reference.
    pub input: Value,
    pub operation: StringOperation,
    /// `replace`: the text (or, with `regex`, the regular expression) to find.
    #[serde(default)]
    pub find: Option<String>,
    /// `replace`: the replacement; with `regex`, `$1` or `${name}` insert capture groups.
    #[serde(default)]
    pub replace_with: Option<String>,
    /// `replace`: treat `find` as a regular expression.
    #[serde(default)]
    pub regex: bool,
    /// `regex_extract_all`: the regular expression.
    #[serde(default)]
    pub pattern: Option<String>,
    /// `split` and `join`: the separator.
    #[serde(default)]
    pub separator: Option<String>,
}

pub struct StringNode;

static DESCRIPTOR: Descriptor = Descriptor {
    pure: true,
    ..Descriptor::new(
        "core.string",
        "String",
        Category::Core,
        "Text operations: to_lower, to_upper, replace, regex_extract_all, split, join, strip.",
    )
};

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))
}

/// The argument an operation needs, by name, when it is missing.
fn missing(p: &StringParams) -> Option<&'static str> {
    match p.operation {
        StringOperation::Replace if p.find.is_none() => Some("find"),
        StringOperation::Replace if p.replace_with.is_none() => Some("replace_with"),
        StringOperation::RegexExtractAll if p.pattern.is_none() => Some("pattern"),
        StringOperation::Split | StringOperation::Join if p.separator.is_none() => {
            Some("separator")
        }
        _ => None,
    }
}

fn input_text(input: &Value) -> Result<String, String> {
    match input {
        Value::Array(_) | Value::Object(_) => {
            Err("`input` must be text for this operation (only `join` takes a list)".into())
        }
        other => Ok(text(other)),
    }
}

/// Applies the operation; errors are meant for the step's error message.
pub fn apply(p: &StringParams) -> Result<Value, String> {
    if let Some(arg) = missing(p) {
        return Err(format!(
            "`{}` needs `{arg}`",
            serde_json::to_value(p.operation)
                .map(|v| text(&v))
                .unwrap_or_default()
        ));
    }
    let arg = |o: &Option<String>| o.clone().unwrap_or_default();
    Ok(match p.operation {
        StringOperation::ToLower => json!(input_text(&p.input)?.to_lowercase()),
        StringOperation::ToUpper => json!(input_text(&p.input)?.to_uppercase()),
        StringOperation::Strip => json!(input_text(&p.input)?.trim()),
        StringOperation::Replace => {
            let s = input_text(&p.input)?;
            let (find, with) = (arg(&p.find), arg(&p.replace_with));
            if p.regex {
                json!(compile(&find)?.replace_all(&s, with.as_str()))
            } else if find.is_empty() {
                json!(s)
            } else {
                json!(s.replace(&find, &with))
            }
        }
        StringOperation::RegexExtractAll => {
            let s = input_text(&p.input)?;
            let re = compile(&arg(&p.pattern))?;
            let found: Vec<&str> = if re.captures_len() > 1 {
                re.captures_iter(&s)
                    .filter_map(|c| c.get(1))
                    .map(|m| m.as_str())
                    .collect()
            } else {
                re.find_iter(&s).map(|m| m.as_str()).collect()
            };
            json!(found)
        }
        StringOperation::Split => {
            let s = input_text(&p.input)?;
            let sep = arg(&p.separator);
            if sep.is_empty() {
                json!(s.chars().map(String::from).collect::<Vec<_>>())
            } else {
                json!(s.split(sep.as_str()).collect::<Vec<_>>())
            }
        }
        StringOperation::Join => {
            let Value::Array(items) = &p.input else {
                return Err("`join` needs a list as `input`".into());
            };
            json!(items
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join(&arg(&p.separator)))
        }
    })
}

#[async_trait]
impl TypedNode for StringNode {
    type Params = StringParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &StringParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(arg) = missing(p) {
            problems.push(Problem::new(arg, "this operation needs it"));
        }
        let literal_regex = match p.operation {
            StringOperation::Replace if p.regex => p.find.as_deref().map(|f| ("find", f)),
            StringOperation::RegexExtractAll => p.pattern.as_deref().map(|f| ("pattern", f)),
            _ => None,
        };
        if let Some((field, re)) = literal_regex.filter(|(_, re)| !has_template(re)) {
            problems.extend(compile(re).err().map(|m| Problem::new(field, m)));
        }
        if p.operation == StringOperation::Join
            && !matches!(&p.input, Value::Array(_))
            && !p.input.as_str().is_some_and(has_template)
        {
            problems.push(Problem::new(
                "input",
                "`join` needs a list (or a reference to one)",
            ));
        }
        problems
    }

    async fn run(&self, _: &NodeContext, p: StringParams) -> Result<Outcome, NodeError> {
        apply(&p)
            .map(|v| Outcome::output(json!({ "output": v })))
            .map_err(NodeError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value) -> Result<Value, String> {
        apply(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn operations() {
        assert_eq!(
            run(json!({"input": "Web-Prod", "operation": "to_lower"})).unwrap(),
            json!("web-prod")
        );
        assert_eq!(
            run(json!({"input": "Web-Prod", "operation": "to_upper"})).unwrap(),
            json!("WEB-PROD")
        );
        assert_eq!(
            run(json!({"input": "  x \n", "operation": "strip"})).unwrap(),
            json!("x")
        );
        assert_eq!(
            run(json!({"input": 3.5, "operation": "strip"})).unwrap(),
            json!("3.5")
        );
        assert_eq!(
            run(
                json!({"input": "a.b.c", "operation": "replace", "find": ".", "replace_with": "-"})
            )
            .unwrap(),
            json!("a-b-c")
        );
        assert_eq!(run(json!({"input": "sig-12 sig-34", "operation": "replace", "find": "sig-(\\d+)", "replace_with": "<$1>", "regex": true})).unwrap(), json!("<12> <34>"));
        assert_eq!(run(json!({"input": "ids: sig-12, sig-34", "operation": "regex_extract_all", "pattern": "sig-\\d+"})).unwrap(), json!(["sig-12", "sig-34"]));
        assert_eq!(run(json!({"input": "ids: sig-12, sig-34", "operation": "regex_extract_all", "pattern": "sig-(\\d+)"})).unwrap(), json!(["12", "34"]));
        assert_eq!(
            run(json!({"input": "a,b,,c", "operation": "split", "separator": ","})).unwrap(),
            json!(["a", "b", "", "c"])
        );
        assert_eq!(
            run(json!({"input": ["a", 1, true], "operation": "join", "separator": ", "})).unwrap(),
            json!("a, 1, true")
        );
    }

    #[test]
    fn wrong_inputs_fail_clearly() {
        assert!(
            run(json!({"input": "a", "operation": "join", "separator": ","}))
                .unwrap_err()
                .contains("needs a list")
        );
        assert!(run(json!({"input": ["a"], "operation": "to_lower"}))
            .unwrap_err()
            .contains("must be text"));
        assert!(run(json!({"input": "a", "operation": "split"}))
            .unwrap_err()
            .contains("separator"));
        assert!(
            run(json!({"input": "a", "operation": "regex_extract_all", "pattern": "("}))
                .unwrap_err()
                .contains("not a valid regular expression")
        );
    }

    #[test]
    fn save_time_checks() {
        let check = |v: Value| StringNode.check(&serde_json::from_value(v).unwrap());
        let p = check(json!({"input": "a", "operation": "regex_extract_all", "pattern": "[a-"}));
        assert_eq!((p.len(), p[0].path.as_str()), (1, "pattern"));
        let p = check(
            json!({"input": "a", "operation": "replace", "find": "(", "replace_with": "", "regex": true}),
        );
        assert_eq!(p[0].path, "find");
        assert!(check(
            json!({"input": "a", "operation": "replace", "find": "(", "replace_with": ""})
        )
        .is_empty());
        assert!(check(
            json!({"input": "a", "operation": "regex_extract_all", "pattern": "{{ t.output.re }}"})
        )
        .is_empty());
        assert_eq!(
            check(json!({"input": "a", "operation": "replace", "find": "x"}))[0].path,
            "replace_with"
        );
        assert_eq!(
            check(json!({"input": "a", "operation": "join", "separator": ","}))[0].path,
            "input"
        );
        assert!(check(
            json!({"input": "{{ t.output.list }}", "operation": "join", "separator": ","})
        )
        .is_empty());
    }
}
