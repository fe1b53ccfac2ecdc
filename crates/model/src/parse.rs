//! Strict parsing of workflow documents from JSON or YAML bytes, with errors that name the field.

use crate::document::WorkflowDocument;

/// A document over this size is refused before it is parsed (spec §3).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Json,
    Yaml,
}

impl DocumentFormat {
    /// Picks the format from a content type (`application/yaml`, `text/yaml`, ...); JSON otherwise.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match content_type {
            Some(ct) if ct.contains("yaml") => Self::Yaml,
            _ => Self::Json,
        }
    }

    /// Picks the format from a file name's extension.
    pub fn from_path(path: &str) -> Self {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            Self::Yaml
        } else {
            Self::Json
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the document is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the document is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("{message}")]
    Syntax { path: String, message: String },
}

impl ParseError {
    pub fn path(&self) -> &str {
        match self {
            Self::Syntax { path, .. } => path,
            _ => "",
        }
    }
}

/// Parses a workflow document; unknown fields, wrong types and malformed text are errors with a path.
pub fn parse_document(bytes: &[u8], format: DocumentFormat) -> Result<WorkflowDocument, ParseError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError::TooLarge { size: bytes.len(), limit: MAX_DOCUMENT_BYTES });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::InvalidUtf8 { offset: e.valid_up_to() })?;
    match format {
        DocumentFormat::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let doc = serde_path_to_error::deserialize(&mut de).map_err(|e| syntax("JSON", e))?;
            de.end().map_err(|e| ParseError::Syntax { path: String::new(), message: format!("invalid JSON: {e}") })?;
            Ok(doc)
        }
        DocumentFormat::Yaml => {
            let de = serde_yaml_ng::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| syntax("YAML", e))
        }
    }
}

fn syntax<E: std::fmt::Display>(kind: &str, e: serde_path_to_error::Error<E>) -> ParseError {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = e.into_inner().to_string();
    let message = if path.is_empty() { format!("invalid {kind}: {inner}") } else { format!("invalid {kind} at {path}: {inner}") };
    ParseError::Syntax { path, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"name":"n","description":"d","nodes":[{"id":"t","type":"trigger.manual"}]}"#;

    #[test]
    fn json_and_yaml_parse_to_the_same_document() {
        let json = parse_document(MIN.as_bytes(), DocumentFormat::Json).unwrap();
        let yaml = "name: n\ndescription: d\nnodes:\n  - id: t\n    type: trigger.manual\n";
        assert_eq!(json, parse_document(yaml.as_bytes(), DocumentFormat::Yaml).unwrap());
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let doc = r#"{"name":"n","description":"d","nodes":[{"id":"t","type":"trigger.manual","colour":1}]}"#;
        let err = parse_document(doc.as_bytes(), DocumentFormat::Json).unwrap_err();
        assert_eq!(err.path(), "nodes[0].colour");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        let yaml = "name: n\ndescription: d\nnodez: []\n";
        let err = parse_document(yaml.as_bytes(), DocumentFormat::Yaml).unwrap_err();
        assert!(err.to_string().contains("nodez"), "{err}");
    }

    #[test]
    fn wrong_types_huge_deep_and_binary_input_are_refused() {
        let doc = r#"{"name":5,"description":"d","nodes":[]}"#;
        assert!(parse_document(doc.as_bytes(), DocumentFormat::Json).unwrap_err().to_string().contains("name"));
        let huge = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(parse_document(&huge, DocumentFormat::Json), Err(ParseError::TooLarge { .. })));
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let deep = format!(r#"{{"name":"n","description":"d","nodes":[{{"id":"t","type":"x","params":{{"a":{deep}}}}}]}}"#);
        assert!(parse_document(deep.as_bytes(), DocumentFormat::Json).is_err());
        assert!(matches!(parse_document(b"{\"name\":\"\xff\"}", DocumentFormat::Json), Err(ParseError::InvalidUtf8 { .. })));
        assert!(parse_document(b"name: [unclosed", DocumentFormat::Yaml).is_err());
    }
}
