//! placeholder

pub mod sns;
