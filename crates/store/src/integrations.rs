//! Integration records. Secrets arrive here already sealed; the store never sees plaintext.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, IntegrationRow, Store, StoreError};

fn integration_row(r: &AnyRow) -> Result<IntegrationRow, StoreError> {
    let config: String = r.try_get("config")?;
    Ok(IntegrationRow {
        org_id: r.try_get("org_id")?,
        alias: r.try_get("alias")?,
        kind: r.try_get("kind")?,
        config: serde_json::from_str(&config)?,
        secrets: r.try_get("secrets")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "org_id, alias, kind, config, secrets, created_at, updated_at";

impl Store {
    /// Creates (`replace == false`, conflict when it exists) or replaces an integration.
    pub async fn put_integration(
        &self,
        row: IntegrationRow,
        replace: bool,
    ) -> Result<IntegrationRow, StoreError> {
        let r = row.clone();
        self.write(move |c| {
            Box::pin(async move {
                let existing = sqlx::query("SELECT created_at FROM integrations WHERE org_id = $1 AND alias = $2")
                    .bind(r.org_id.clone())
                    .bind(r.alias.clone())
                    .fetch_optional(&mut *c)
                    .await?;
                match (existing, replace) {
                    (Some(_), false) => return Err(StoreError::Conflict(format!("an integration named `{}` exists already", r.alias))),
                    (None, true) => return Err(StoreError::NotFound),
                    (Some(_), true) => {
                        sqlx::query("UPDATE integrations SET kind = $3, config = $4, secrets = $5, updated_at = $6 WHERE org_id = $1 AND alias = $2")
                            .bind(r.org_id)
                            .bind(r.alias)
                            .bind(r.kind)
                            .bind(r.config.to_string())
                            .bind(r.secrets)
                            .bind(now_ms())
                            .execute(&mut *c)
                            .await?;
                    }
                    (None, false) => {
                        sqlx::query("INSERT INTO integrations (org_id, alias, kind, config, secrets, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
                            .bind(r.org_id)
                            .bind(r.alias)
                            .bind(r.kind)
                            .bind(r.config.to_string())
                            .bind(r.secrets)
                            .bind(now_ms())
                            .execute(&mut *c)
                            .await?;
                    }
                }
                Ok(())
            })
        })
        .await?;
        self.integration(&row.org_id, &row.alias)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn integration(
        &self,
        org_id: &str,
        alias: &str,
    ) -> Result<Option<IntegrationRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE org_id = $1 AND alias = $2"
        ))
        .bind(org_id.to_string())
        .bind(alias.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(integration_row).transpose()
    }

    pub async fn list_integrations(&self, org_id: &str) -> Result<Vec<IntegrationRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE org_id = $1 ORDER BY alias"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_row).collect()
    }

    /// Every integration of every organization (for re-encryption under a new key).
    pub async fn all_integrations(&self) -> Result<Vec<IntegrationRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM integrations"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(integration_row).collect()
    }

    /// Replaces the sealed secrets of many integrations, and the vault's check value, in one
    /// transaction (master key rotation).
    pub async fn reseal_integrations(
        &self,
        rows: Vec<(String, String, String)>,
        canary: String,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE kv SET value = $1 WHERE namespace = 'vault' AND key = 'canary'",
                )
                .bind(canary)
                .execute(&mut *c)
                .await?;
                for (org, alias, secrets) in rows {
                    sqlx::query(
                        "UPDATE integrations SET secrets = $3 WHERE org_id = $1 AND alias = $2",
                    )
                    .bind(org)
                    .bind(alias)
                    .bind(secrets)
                    .execute(&mut *c)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn delete_integration(&self, org_id: &str, alias: &str) -> Result<(), StoreError> {
        self.change_one(
            "DELETE FROM integrations WHERE org_id = $1 AND alias = $2",
            org_id,
            alias,
        )
        .await
    }
}
