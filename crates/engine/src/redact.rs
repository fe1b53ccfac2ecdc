//! Replaces secret values by `***` wherever they appear in what a step records.

use serde_json::Value;

pub const MASK: &str = "***";

pub fn redact_str(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

pub fn redact(value: &mut Value, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    match value {
        Value::String(s)
            if secrets
                .iter()
                .any(|x| x.len() >= 4 && s.contains(x.as_str())) =>
        {
            *s = redact_str(s, secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact(v, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_everywhere() {
        let mut v = json!({"a": "Bearer tok-123456", "b": ["x tok-123456 y"], "c": 5});
        redact(&mut v, &["tok-123456".into()]);
        assert_eq!(v, json!({"a": "Bearer ***", "b": ["x *** y"], "c": 5}));
    }
}
