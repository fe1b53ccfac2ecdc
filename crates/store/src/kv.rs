//! A small namespaced key-value table for short-lived records (OAuth states, SNS message ids).

use sqlx::Row;

use crate::{now_ms, Store, StoreError};

impl Store {
    /// Inserts a key; `false` when it already exists (and has not expired).
    pub async fn kv_insert(
        &self,
        org_id: &str,
        namespace: &str,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let (org, ns, key, value) = (
            org_id.to_string(),
            namespace.to_string(),
            key.to_string(),
            value.to_string(),
        );
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("DELETE FROM kv WHERE namespace = $1 AND key = $2 AND expires_at IS NOT NULL AND expires_at < $3")
                    .bind(ns.clone())
                    .bind(key.clone())
                    .bind(now_ms())
                    .execute(&mut *c)
                    .await?;
                let done = sqlx::query("INSERT INTO kv (org_id, namespace, key, value, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, key) DO NOTHING")
                    .bind(org)
                    .bind(ns)
                    .bind(key)
                    .bind(value)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    /// Removes a key and returns `(org_id, value)` if it existed and had not expired (single use).
    pub async fn kv_take(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let (ns, key) = (namespace.to_string(), key.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let row = sqlx::query("DELETE FROM kv WHERE namespace = $1 AND key = $2 RETURNING org_id, value, expires_at").bind(ns).bind(key).fetch_optional(&mut *c).await?;
                let Some(row) = row else { return Ok(None) };
                let expires: Option<i64> = row.try_get("expires_at")?;
                if expires.is_some_and(|e| e < now_ms()) {
                    return Ok(None);
                }
                Ok(Some((row.try_get("org_id")?, row.try_get("value")?)))
            })
        })
        .await
    }

    /// Inserts or replaces a key.
    pub async fn kv_put(
        &self,
        org_id: &str,
        namespace: &str,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let (org, ns, key, value) = (
            org_id.to_string(),
            namespace.to_string(),
            key.to_string(),
            value.to_string(),
        );
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO kv (org_id, namespace, key, value, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at")
                    .bind(org)
                    .bind(ns)
                    .bind(key)
                    .bind(value)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Reads a key that has not expired: `(org_id, value)`.
    pub async fn kv_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT org_id, value, expires_at FROM kv WHERE namespace = $1 AND key = $2",
        )
        .bind(namespace.to_string())
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires: Option<i64> = row.try_get("expires_at")?;
        if expires.is_some_and(|e| e < now_ms()) {
            return Ok(None);
        }
        Ok(Some((row.try_get("org_id")?, row.try_get("value")?)))
    }

    /// Drops expired keys.
    pub async fn kv_purge(&self) -> Result<u64, StoreError> {
        self.write(|c| {
            Box::pin(async move {
                let done =
                    sqlx::query("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at < $1")
                        .bind(now_ms())
                        .execute(&mut *c)
                        .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
