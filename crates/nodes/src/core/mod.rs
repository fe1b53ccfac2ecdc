//! Built-in core nodes: triggers, JSONPath, transform, stop and fail, if, wait, string, schedule.

pub mod if_node;
pub mod jsonpath;
pub mod looping;
pub mod schedule;
pub mod stop;
pub mod string;
pub mod transform;
pub mod triggers;
pub mod wait;
