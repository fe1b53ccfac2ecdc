//! JSON Schemas of alert bodies: inferred from an example, and asked whether a reference path
//! exists in them (for save-time warnings).

use serde_json::{json, Map, Value};

use crate::template::Segment;

/// Infers a JSON Schema (types, required keys, nested objects, array items) from an example.
pub fn infer(value: &Value) -> Value {
    let mut schema = infer_inner(value);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
    }
    schema
}

fn infer_inner(value: &Value) -> Value {
    match value {
        Value::Null => json!({ "type": "null" }),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "type": "integer" }),
        Value::Number(_) => json!({ "type": "number" }),
        Value::String(_) => json!({ "type": "string" }),
        Value::Array(items) => match items.first() {
            Some(first) => json!({ "type": "array", "items": infer_inner(first) }),
            None => json!({ "type": "array" }),
        },
        Value::Object(map) => {
            let properties: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), infer_inner(v)))
                .collect();
            let required: Vec<&String> = map.keys().collect();
            json!({ "type": "object", "properties": properties, "required": required })
        }
    }
}

/// Whether `path` can exist in values of `schema`. Schemas that do not constrain a level
/// (no `properties`, or `additionalProperties` allowed) accept any key there.
pub fn has_path(schema: &Value, path: &[Segment]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match first {
        Segment::Key(k) => match schema.get("properties").and_then(Value::as_object) {
            Some(props) => match props.get(k) {
                Some(sub) => has_path(sub, rest),
                None => {
                    schema
                        .get("additionalProperties")
                        .is_some_and(|a| a != &Value::Bool(false))
                        && !schema
                            .get("additionalProperties")
                            .is_some_and(Value::is_boolean)
                }
            },
            None => !matches!(
                schema.get("type").and_then(Value::as_str),
                Some("string" | "number" | "integer" | "boolean" | "null" | "array")
            ),
        },
        Segment::Index(_) => match schema.get("items") {
            Some(items) => has_path(items, rest),
            None => !matches!(
                schema.get("type").and_then(Value::as_str),
                Some("string" | "number" | "integer" | "boolean" | "null" | "object")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_and_answers_paths() {
        let body = json!({"Elastigroup_Id": "sig-1", "MTD_Spend": "3.8", "n": 2, "tags": [{"k": "v"}], "meta": {"a": true}});
        let s = infer(&body);
        assert_eq!(s["properties"]["n"]["type"], "integer");
        assert_eq!(
            s["properties"]["tags"]["items"]["properties"]["k"]["type"],
            "string"
        );
        assert_eq!(s["required"].as_array().unwrap().len(), 5);
        let key = |k: &str| Segment::Key(k.into());
        assert!(has_path(&s, &[key("Elastigroup_Id")]));
        assert!(has_path(&s, &[key("tags"), Segment::Index(0), key("k")]));
        assert!(!has_path(&s, &[key("Elastigroup")]));
        assert!(!has_path(&s, &[key("n"), key("x")]));
        assert!(has_path(&json!({"type": "object"}), &[key("anything")]));
    }
}
