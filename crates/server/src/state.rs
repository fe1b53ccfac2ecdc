//! The state every handler shares.

use std::sync::Arc;

use flowgate_engine::Engine;
use flowgate_model::Templates;
use flowgate_nodes::Registry;
use flowgate_store::Store;

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::vault::Vault;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    pub templates: Arc<Templates>,
    pub vault: Arc<Vault>,
    pub metrics: Arc<Metrics>,
    pub http: reqwest::Client,
    /// The externally visible base URL, no trailing slash.
    pub public_url: String,
    pub default_org_id: String,
    /// SNS signing certificates, fetched once per (checked) URL.
    pub sns_certs: Arc<flowgate_nodes::sns::CertCache>,
}
