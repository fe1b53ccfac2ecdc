//! The Flowgate server: the REST API, webhooks, Slack callbacks, authentication, the OpenAPI
//! document, operations endpoints and the embedded web console. The only crate that speaks HTTP
//! to users; it maps every error to the API's error shape.

pub mod api;
pub mod app;
pub mod auth;
pub mod connectors;
pub mod console;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod ops;
pub mod retention;
pub mod schedules;
pub mod settings;
pub mod slack;
pub mod sns;
pub mod state;
pub mod vault;
pub mod webhook;

pub use app::{start, Options, Running, StartError};
pub use settings::Settings;
