//! Built-in core nodes: triggers, JSONPath, transform, stop and fail.

pub mod jsonpath;
pub mod looping;
pub mod stop;
pub mod transform;
pub mod triggers;
