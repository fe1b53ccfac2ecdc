//! Workflow documents: their types, parsing, validation, durations and references. Pure: no IO.

pub mod document;
pub mod duration;
pub mod parse;
pub mod problem;
pub mod schema;
pub mod template;
pub mod validate;

pub use document::{Edge, NodeSpec, Position, RetrySpec, WorkflowDocument};
pub use duration::{format_duration, parse_duration};
pub use parse::{parse_document, DocumentFormat, ParseError, MAX_DOCUMENT_BYTES};
pub use problem::Problem;
pub use template::{RenderError, Templates};
pub use validate::{validate, Catalog};
