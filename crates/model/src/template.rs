//! References (spec §4) evaluated by minijinja, sandboxed: no loader, no IO, bounded fuel.
//!
//! A param that is exactly one `{{ ... }}` keeps the JSON type of what it names; a reference inside
//! longer text is interpolated (objects and lists as compact JSON). A reference that does not
//! resolve is an error naming the reference and the missing part.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior, Value as JValue};
use regex::Regex;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("reference `{reference}` does not resolve: {missing}")]
    Unresolved { reference: String, missing: String },
    #[error("template `{template}` is invalid: {message}")]
    Syntax { template: String, message: String },
    #[error("template `{template}` failed: {message}")]
    Eval { template: String, message: String },
}

/// The template engine, configured once and shared.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

fn block_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?s)\{\{-?\s*(.*?)\s*-?\}\}").expect("valid regex"))
}

fn whole_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?s)^\s*\{\{-?\s*(.*?)\s*-?\}\}\s*$").expect("valid regex"))
}

/// Whether a string holds any template syntax at all.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(200_000));
        env.set_recursion_limit(64);
        env.set_formatter(|out, state, value| match value.kind() {
            ValueKind::Map | ValueKind::Seq => {
                let text = serde_json::to_string(value).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
                })?;
                out.write_str(&text).map_err(minijinja::Error::from)
            }
            ValueKind::None => out.write_str("null").map_err(minijinja::Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        });
        Self { env }
    }

    /// Renders every string inside `value` against `scope` (step id → step output).
    /// `locals` are extra names usable as bare `{{Name}}` (e.g. Slack variables), even when the
    /// name is not a valid identifier (`EG-Name`).
    pub fn render(
        &self,
        value: &Value,
        scope: &Map<String, Value>,
        locals: &Map<String, Value>,
    ) -> Result<Value, RenderError> {
        // The scope as a template context, converted once for all the strings of `value`.
        let mut ctx = None;
        self.render_in(value, scope, locals, &mut ctx)
    }

    fn render_in(
        &self,
        value: &Value,
        scope: &Map<String, Value>,
        locals: &Map<String, Value>,
        ctx: &mut Option<JValue>,
    ) -> Result<Value, RenderError> {
        match value {
            Value::String(s) if has_template(s) => self.render_str(s, scope, locals, ctx),
            Value::Array(items) => items
                .iter()
                .map(|v| self.render_in(v, scope, locals, ctx))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.clone(), self.render_in(v, scope, locals, ctx)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn render_str(
        &self,
        s: &str,
        scope: &Map<String, Value>,
        locals: &Map<String, Value>,
        ctx: &mut Option<JValue>,
    ) -> Result<Value, RenderError> {
        let (source, ctx) = if locals.is_empty() {
            let ctx = ctx.get_or_insert_with(|| JValue::from_serialize(scope));
            (Cow::Borrowed(s), ctx.clone())
        } else {
            let (source, ctx) = substitute_locals(s, scope, locals);
            (Cow::Owned(source), ctx)
        };
        if let Some(caps) = whole_re().captures(&source) {
            let expr = caps.get(1).map_or("", |m| m.as_str());
            if !expr.contains("}}") && !expr.contains("{{") && !source.contains("{%") {
                let compiled = self
                    .env
                    .compile_expression(expr)
                    .map_err(|e| syntax(s, e))?;
                let value = compiled.eval(&ctx).map_err(|e| self.explain(s, &ctx, e))?;
                if value.is_undefined() {
                    return Err(self.explain(
                        s,
                        &ctx,
                        minijinja::Error::from(minijinja::ErrorKind::UndefinedError),
                    ));
                }
                return serde_json::to_value(&value).map_err(|e| RenderError::Eval {
                    template: s.into(),
                    message: e.to_string(),
                });
            }
        }
        let tmpl = self
            .env
            .template_from_str(&source)
            .map_err(|e| syntax(s, e))?;
        tmpl.render(&ctx)
            .map(Value::String)
            .map_err(|e| self.explain(s, &ctx, e))
    }

    fn explain(&self, template: &str, ctx: &JValue, err: minijinja::Error) -> RenderError {
        for caps in block_re().captures_iter(template) {
            let expr = caps.get(1).map_or("", |m| m.as_str());
            if let Some(path) = parse_path(expr) {
                if let Some(missing) = missing_part(&path, ctx) {
                    return RenderError::Unresolved {
                        reference: format!("{{{{ {expr} }}}}"),
                        missing,
                    };
                }
            }
        }
        RenderError::Eval {
            template: template.into(),
            message: err.to_string(),
        }
    }

    /// The root names (step ids, `loop`) that the templates inside `value` read, locals excepted.
    pub fn roots(&self, value: &Value, locals: &[String]) -> Result<BTreeSet<String>, RenderError> {
        let mut out = BTreeSet::new();
        self.collect_roots(value, locals, &mut out)?;
        Ok(out)
    }

    fn collect_roots(
        &self,
        value: &Value,
        locals: &[String],
        out: &mut BTreeSet<String>,
    ) -> Result<(), RenderError> {
        match value {
            Value::String(s) if has_template(s) => {
                let local_map: Map<String, Value> =
                    locals.iter().map(|l| (l.clone(), Value::Null)).collect();
                let (source, _) = substitute_locals(s, &Map::new(), &local_map);
                let tmpl = self
                    .env
                    .template_from_str(&source)
                    .map_err(|e| syntax(s, e))?;
                out.extend(
                    tmpl.undeclared_variables(false)
                        .into_iter()
                        .filter(|v| !v.starts_with("__local_")),
                );
            }
            Value::Array(items) => items
                .iter()
                .try_for_each(|v| self.collect_roots(v, locals, out))?,
            Value::Object(map) => map
                .values()
                .try_for_each(|v| self.collect_roots(v, locals, out))?,
            _ => {}
        }
        Ok(())
    }

    /// Every `{{ path }}` that is a plain path in `value`, as (root, rest-of-path) for schema checks.
    pub fn plain_paths(value: &Value) -> Vec<(String, Vec<Segment>)> {
        let mut out = Vec::new();
        collect_paths(value, &mut out);
        out
    }
}

fn collect_paths(value: &Value, out: &mut Vec<(String, Vec<Segment>)>) {
    match value {
        Value::String(s) => {
            for caps in block_re().captures_iter(s) {
                if let Some(mut path) = parse_path(caps.get(1).map_or("", |m| m.as_str())) {
                    if let Some(Segment::Key(root)) = (!path.is_empty()).then(|| path.remove(0)) {
                        out.push((root, path));
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_paths(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_paths(v, out)),
        _ => {}
    }
}

fn syntax(template: &str, e: minijinja::Error) -> RenderError {
    RenderError::Syntax {
        template: template.into(),
        message: e.to_string(),
    }
}

/// Replaces `{{ Name }}` for each local `Name` by a generated identifier bound in the context, so a
/// local's value is data, never template text.
fn substitute_locals(
    s: &str,
    scope: &Map<String, Value>,
    locals: &Map<String, Value>,
) -> (String, JValue) {
    let mut ctx: Map<String, Value> = scope.clone();
    let mut index = 0;
    let replaced = block_re().replace_all(s, |caps: &regex::Captures| {
        let name = caps.get(1).map_or("", |m| m.as_str());
        match locals.get(name) {
            Some(value) => {
                let ident = format!("__local_{index}");
                index += 1;
                ctx.insert(ident.clone(), value.clone());
                format!("{{{{ {ident} }}}}")
            }
            None => caps[0].to_string(),
        }
    });
    (replaced.into_owned(), JValue::from_serialize(&ctx))
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Parses `a.b[0]["key-x"]`; `None` when the expression is more than a plain path.
pub fn parse_path(expr: &str) -> Option<Vec<Segment>> {
    let mut chars = expr.trim().char_indices().peekable();
    let src = expr.trim();
    let mut out = Vec::new();
    let ident = |chars: &mut std::iter::Peekable<std::str::CharIndices>| -> Option<String> {
        let mut s = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c);
                chars.next();
            } else {
                break;
            }
        }
        (!s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit())).then_some(s)
    };
    out.push(Segment::Key(ident(&mut chars)?));
    while let Some((i, c)) = chars.next() {
        match c {
            '.' => out.push(Segment::Key(ident(&mut chars)?)),
            '[' => {
                let close = src[i..].find(']')? + i;
                let inner = src[i + 1..close].trim();
                let seg = if let Ok(n) = inner.parse::<usize>() {
                    Segment::Index(n)
                } else if inner.len() >= 2
                    && (inner.starts_with('"') && inner.ends_with('"')
                        || inner.starts_with('\'') && inner.ends_with('\''))
                {
                    Segment::Key(inner[1..inner.len() - 1].to_string())
                } else {
                    return None;
                };
                out.push(seg);
                while chars.peek().is_some_and(|&(j, _)| j <= close) {
                    chars.next();
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn show(path: &[Segment]) -> String {
    let mut s = String::new();
    for (i, seg) in path.iter().enumerate() {
        match seg {
            Segment::Key(k) if i == 0 => s.push_str(k),
            Segment::Key(k) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                s.push('.');
                s.push_str(k)
            }
            Segment::Key(k) => s.push_str(&format!("[{k:?}]")),
            Segment::Index(n) => s.push_str(&format!("[{n}]")),
        }
    }
    s
}

/// Walks `path` through the context and describes the first part that is missing.
fn missing_part(path: &[Segment], ctx: &JValue) -> Option<String> {
    let mut current = ctx.clone();
    for (i, seg) in path.iter().enumerate() {
        let next = match seg {
            Segment::Key(k) => current.get_attr(k).ok().filter(|v| !v.is_undefined()),
            Segment::Index(n) => current
                .get_item(&JValue::from(*n))
                .ok()
                .filter(|v| !v.is_undefined()),
        };
        match next {
            Some(v) => current = v,
            None if i == 0 => {
                let Segment::Key(root) = seg else {
                    return Some("the path is malformed".into());
                };
                return Some(format!(
                    "`{root}` is not a step that has run before this one"
                ));
            }
            None => {
                let parent = show(&path[..i]);
                return Some(match (seg, current.kind()) {
                    (Segment::Index(n), ValueKind::Seq) => {
                        format!(
                            "`{parent}` has {} items, so there is no index {n}",
                            current.len().unwrap_or(0)
                        )
                    }
                    (Segment::Key(k), ValueKind::Map) => format!("`{parent}` has no key `{k}`"),
                    (_, kind) => format!(
                        "`{parent}` is {}, not {}",
                        kind_name(kind),
                        match seg {
                            Segment::Index(_) => "a list",
                            Segment::Key(_) => "an object",
                        }
                    ),
                });
            }
        }
    }
    None
}

fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::None | ValueKind::Undefined => "null",
        ValueKind::Bool => "a boolean",
        ValueKind::Number => "a number",
        ValueKind::String => "a string",
        ValueKind::Seq => "a list",
        ValueKind::Map => "an object",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Map<String, Value> {
        json!({
            "trigger_1": {"output": {"Elastigroup_Id": "sig-1", "MTD_Spend": 3.8, "tags": ["a", "b"], "x-y": {"k": 1}}},
            "get": {"output": {"name": "web-prod", "items": [{"id": 1}]}}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn whole_references_keep_their_type() {
        let t = Templates::new();
        let none = Map::new();
        assert_eq!(
            t.render(&json!("{{ trigger_1.output.MTD_Spend }}"), &scope(), &none)
                .unwrap(),
            json!(3.8)
        );
        assert_eq!(
            t.render(&json!("{{ trigger_1.output.tags }}"), &scope(), &none)
                .unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            t.render(&json!("{{ trigger_1.output[\"x-y\"] }}"), &scope(), &none)
                .unwrap(),
            json!({"k": 1})
        );
        assert_eq!(
            t.render(&json!(" {{get.output.items[0].id}} "), &scope(), &none)
                .unwrap(),
            json!(1)
        );
    }

    #[test]
    fn embedded_references_interpolate_as_text() {
        let t = Templates::new();
        let v = t
            .render(
                &json!({"a": ["Group {{ get.output.name }}: {{ trigger_1.output.tags }}"]}),
                &scope(),
                &Map::new(),
            )
            .unwrap();
        assert_eq!(v, json!({"a": ["Group web-prod: [\"a\",\"b\"]"]}));
    }

    #[test]
    fn locals_are_data_not_template_text() {
        let t = Templates::new();
        let locals = json!({"EG-Name": "{{ evil }}"})
            .as_object()
            .unwrap()
            .clone();
        let v = t
            .render(
                &json!("Budget threshold reached for {{EG-Name}}"),
                &scope(),
                &locals,
            )
            .unwrap();
        assert_eq!(v, json!("Budget threshold reached for {{ evil }}"));
    }

    #[test]
    fn unresolved_references_name_the_missing_part() {
        let t = Templates::new();
        let err = t
            .render(&json!("{{ get.output.nme }}"), &scope(), &Map::new())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reference `{{ get.output.nme }}` does not resolve: `get.output` has no key `nme`"
        );
        let err = t
            .render(
                &json!("x {{ get.output.items[3].id }}"),
                &scope(),
                &Map::new(),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("has 1 items, so there is no index 3"),
            "{err}"
        );
        let err = t
            .render(&json!("{{ nobody.output }}"), &scope(), &Map::new())
            .unwrap_err();
        assert!(err.to_string().contains("`nobody` is not a step"), "{err}");
    }

    #[test]
    fn roots_lists_referenced_steps() {
        let t = Templates::new();
        let roots = t
            .roots(
                &json!(["{{ a.output.x }} {{ b.output }}", {"k": "{{ c }}"}, "{{EG-Name}}"]),
                &["EG-Name".into()],
            )
            .unwrap();
        assert_eq!(roots.into_iter().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert!(t.roots(&json!("{{ a. }}"), &[]).is_err());
    }
}
