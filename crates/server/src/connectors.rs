//! Where the server talks to outside services for its own endpoints (checking credentials when an
//! integration is saved, listing Spot accounts and Slack channels), and the integration source the
//! engine's nodes read through.

use async_trait::async_trait;
use serde_json::{json, Value};

use flowgate_model::Problem;
use flowgate_nodes::slack::SlackClient;
use flowgate_nodes::{Integration, IntegrationSource, NodeError};
use flowgate_store::Store;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::vault::{integration_ad, Vault};

/// Checks credentials with the service before an integration is saved: one cheap call. A refusal
/// is a 422 that stores nothing; `http` integrations have nothing to check.
pub async fn verify(st: &AppState, integration: &Integration) -> ApiResult<()> {
    let refused = |what: &str, e: NodeError| {
        ApiError::invalid(
            format!("{what} refused the credentials: {e}"),
            vec![Problem::new("secrets", e.message)],
        )
    };
    match integration.kind.as_str() {
        "spot" => {
            flowgate_nodes::spot::verify_token(&st.http, &integration.config, &integration.secrets)
                .await
                .map(|_| ())
                .map_err(|e| refused("Spot", e))
        }
        "slack" => {
            let client = SlackClient::for_integration(st.http.clone(), integration)
                .map_err(|e| refused("Slack", e))?;
            client
                .auth_test()
                .await
                .map(|_| ())
                .map_err(|e| refused("Slack", e.into()))
        }
        _ => Ok(()),
    }
}

pub async fn spot_accounts(st: &AppState, integration: &Integration) -> ApiResult<Vec<Value>> {
    flowgate_nodes::spot::verify_token(&st.http, &integration.config, &integration.secrets)
        .await
        .map_err(|e| ApiError::bad_gateway(e.message))
}

pub async fn slack_channels(st: &AppState, integration: &Integration) -> ApiResult<Vec<Value>> {
    let client = SlackClient::for_integration(st.http.clone(), integration)
        .map_err(|e| ApiError::bad_gateway(e.message))?;
    let channels = client
        .list_channels()
        .await
        .map_err(|e| ApiError::bad_gateway(NodeError::from(e).message))?;
    Ok(channels
        .into_iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "is_private": c.is_private, "is_member": c.is_member, "is_archived": c.is_archived, "num_members": c.num_members }))
        .collect())
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
