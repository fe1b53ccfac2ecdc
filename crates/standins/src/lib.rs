//! placeholder
pub mod slack;
