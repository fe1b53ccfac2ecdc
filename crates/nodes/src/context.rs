//! What a running node may use: shared services (HTTP client, integrations, clock, settings) and
//! the identity of its step. Nodes never touch the database.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::{Clock, NodeError};

/// An integration with its secrets decrypted, as a node receives it.
#[derive(Clone)]
pub struct Integration {
    pub kind: String,
    pub alias: String,
    pub config: Value,
    pub secrets: BTreeMap<String, String>,
}

impl Integration {
    pub fn secret(&self, name: &str) -> Result<&str, NodeError> {
        self.secrets.get(name).map(String::as_str).ok_or_else(|| {
            NodeError::new(format!(
                "integration `{}` has no `{name}` secret",
                self.alias
            ))
        })
    }

    pub fn config_str(&self, name: &str) -> Option<&str> {
        self.config.get(name).and_then(Value::as_str)
    }
}

/// Looks integrations up by alias within an organization.
#[async_trait]
pub trait IntegrationSource: Send + Sync + 'static {
    async fn integration(
        &self,
        org_id: &str,
        alias: &str,
    ) -> Result<Option<Integration>, NodeError>;
}

/// Process-wide services handed to every node.
pub struct Services {
    pub http: reqwest::Client,
    pub integrations: Arc<dyn IntegrationSource>,
    pub clock: Arc<dyn Clock>,
    /// The externally visible base URL (Slack links, webhook URLs).
    pub public_url: String,
    /// Lets `core.http_request` reach private and loopback addresses.
    pub allow_private_networks: bool,
}

/// One step's view of the world.
pub struct NodeContext {
    pub services: Arc<Services>,
    pub org_id: String,
    pub workflow_id: String,
    pub execution_id: String,
    pub node_id: String,
    pub scope: String,
    pub attempt: u32,
    secrets_seen: Mutex<Vec<String>>,
}

impl NodeContext {
    pub fn new(
        services: Arc<Services>,
        org_id: &str,
        workflow_id: &str,
        execution_id: &str,
        node_id: &str,
        scope: &str,
        attempt: u32,
    ) -> Self {
        Self {
            services,
            org_id: org_id.into(),
            workflow_id: workflow_id.into(),
            execution_id: execution_id.into(),
            node_id: node_id.into(),
            scope: scope.into(),
            attempt,
            secrets_seen: Mutex::new(Vec::new()),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.services.clock.now_ms()
    }

    /// The integration `alias` of this organization, which must be of type `kind`. Its secrets
    /// are remembered so the engine can redact them from what the step records.
    pub async fn integration(&self, alias: &str, kind: &str) -> Result<Integration, NodeError> {
        let found = self
            .services
            .integrations
            .integration(&self.org_id, alias)
            .await?;
        let integration = found.ok_or_else(|| {
            NodeError::new(format!(
                "there is no integration named `{alias}`: create it under Integrations first"
            ))
        })?;
        if integration.kind != kind {
            return Err(NodeError::new(format!(
                "integration `{alias}` is of type `{}`, but this node needs a `{kind}` integration",
                integration.kind
            )));
        }
        let mut seen = self.secrets_seen.lock().expect("lock poisoned");
        seen.extend(
            integration
                .secrets
                .values()
                .filter(|s| !s.is_empty())
                .cloned(),
        );
        Ok(integration)
    }

    /// Remembers a value derived from secrets (an encoded credential, a signed token) so that it
    /// is redacted like the secrets themselves.
    pub fn add_secret(&self, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.secrets_seen.lock().expect("lock poisoned").push(value);
        }
    }

    /// Secret values this step has handled, to be replaced by `***` wherever they appear.
    pub fn secrets_seen(&self) -> Vec<String> {
        self.secrets_seen.lock().expect("lock poisoned").clone()
    }
}
