//! Spot by NetApp: the API client and the `spot.elastigroup_aws` node, plus the token check the
//! server runs when a `spot` integration is saved.

pub mod client;
pub mod elastigroup;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::NodeError;
pub use client::{SpotClient, SpotError, SpotResponse};
pub use elastigroup::ElastigroupAws;

/// Checks a `spot` integration's token with one cheap call (`GET /setup/account`) and returns the
/// organization's accounts (`[{accountId, name, organizationId, ...}]`). Saving an integration
/// calls this and refuses a bad token; `GET /integrations/{alias}/accounts` can serve its result.
pub async fn verify_token(
    http: &reqwest::Client,
    config: &Value,
    secrets: &BTreeMap<String, String>,
) -> Result<Vec<Value>, NodeError> {
    let client = SpotClient::from_integration(http.clone(), config, secrets)?;
    Ok(client.accounts().await?.items)
}
