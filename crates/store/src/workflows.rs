//! Workflows and their immutable, numbered versions.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{new_id, now_ms, Page, Store, StoreError, VersionRow, WorkflowRow};

const COLUMNS: &str = "w.id, w.org_id, w.name, w.enabled, w.version, w.created_at, w.updated_at, w.deleted_at, v.document";

fn workflow_row(r: &AnyRow) -> Result<WorkflowRow, StoreError> {
    let document: String = r.try_get("document")?;
    Ok(WorkflowRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        version: r.try_get("version")?,
        document: serde_json::from_str(&document)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted: r.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
    })
}

impl Store {
    /// Creates a workflow with version 1.
    pub async fn create_workflow(
        &self,
        org_id: &str,
        name: &str,
        document: Value,
    ) -> Result<WorkflowRow, StoreError> {
        let now = now_ms();
        let row = WorkflowRow {
            id: new_id(),
            org_id: org_id.into(),
            name: name.into(),
            enabled: true,
            version: 1,
            document,
            created_at: now,
            updated_at: now,
            deleted: false,
        };
        let r = row.clone();
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO workflows (id, org_id, name, enabled, version, created_at, updated_at) VALUES ($1, $2, $3, 1, 1, $4, $4)")
                    .bind(r.id.clone())
                    .bind(r.org_id)
                    .bind(r.name)
                    .bind(r.created_at)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("INSERT INTO workflow_versions (workflow_id, version, document, created_at) VALUES ($1, 1, $2, $3)")
                    .bind(r.id)
                    .bind(r.document.to_string())
                    .bind(r.created_at)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(row)
    }

    /// Saves a new version; returns its number.
    pub async fn save_workflow_version(
        &self,
        org_id: &str,
        id: &str,
        name: &str,
        document: Value,
    ) -> Result<i64, StoreError> {
        let (org, id, name) = (org_id.to_string(), id.to_string(), name.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let now = now_ms();
                let row = sqlx::query("UPDATE workflows SET version = version + 1, name = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING version")
                    .bind(org)
                    .bind(id.clone())
                    .bind(name)
                    .bind(now)
                    .fetch_optional(&mut *c)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let version: i64 = row.try_get("version")?;
                sqlx::query("INSERT INTO workflow_versions (workflow_id, version, document, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(version)
                    .bind(document.to_string())
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                Ok(version)
            })
        })
        .await
    }

    /// The workflow with its current document, within the organization.
    pub async fn workflow(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<WorkflowRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version WHERE w.org_id = $1 AND w.id = $2 AND w.deleted_at IS NULL"
        ))
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(workflow_row).transpose()
    }

    /// The workflow by id alone, deleted ones included (webhooks: the caller then checks the key
    /// of its organization).
    pub async fn workflow_any_org(&self, id: &str) -> Result<Option<WorkflowRow>, StoreError> {
        let cache = &self.cache;
        if let Some(hit) = cache.workflow(id) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let row = self.workflow_any_org_uncached(id).await?;
        cache.put_workflow(generation, id, row.clone());
        Ok(row)
    }

    async fn workflow_any_org_uncached(&self, id: &str) -> Result<Option<WorkflowRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version WHERE w.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(workflow_row).transpose()
    }

    /// Enabled workflows of every organization whose trigger is of this type (schedules).
    pub async fn workflows_with_trigger(
        &self,
        trigger_type: &str,
    ) -> Result<Vec<WorkflowRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version \
             WHERE w.deleted_at IS NULL AND w.enabled = 1 AND v.document LIKE $1"
        ))
        // A cheap pre-filter in the database; the exact check on the parsed nodes follows.
        .bind(format!("%\"{trigger_type}\"%"))
        .fetch_all(&self.pool)
        .await?;
        let all: Vec<WorkflowRow> = rows.iter().map(workflow_row).collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|w| {
                w.document["nodes"]
                    .as_array()
                    .is_some_and(|nodes| nodes.iter().any(|n| n["type"] == trigger_type))
            })
            .collect())
    }

    pub async fn list_workflows(
        &self,
        org_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<WorkflowRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version \
             WHERE w.org_id = $1 AND w.deleted_at IS NULL AND w.id < $2 ORDER BY w.id DESC LIMIT $3"
        ))
        .bind(org_id.to_string())
        .bind(cursor.unwrap_or("~").to_string())
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(workflow_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, limit, |w| w.id.clone()))
    }

    pub async fn set_workflow_enabled(
        &self,
        org_id: &str,
        id: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let (org, id) = (org_id.to_string(), id.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE workflows SET enabled = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL")
                    .bind(org)
                    .bind(id)
                    .bind(enabled as i64)
                    .bind(now_ms())
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
        })
        .await
    }

    /// Marks a workflow deleted; its finished executions stay until retention removes them.
    pub async fn delete_workflow(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        let (org, id) = (org_id.to_string(), id.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE workflows SET deleted_at = $3, enabled = 0 WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL")
                    .bind(org)
                    .bind(id)
                    .bind(now_ms())
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn workflow_versions(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.version, v.document, v.created_at FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id \
             WHERE w.org_id = $1 AND w.id = $2 AND w.deleted_at IS NULL ORDER BY v.version DESC",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
    }

    /// One version of a workflow (for executions pinned to it: any organization check is the caller's).
    pub async fn workflow_version(
        &self,
        org_id: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<VersionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT v.version, v.document, v.created_at FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id \
             WHERE w.org_id = $1 AND w.id = $2 AND v.version = $3",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_row).transpose()
    }
}

fn version_row(r: &AnyRow) -> Result<VersionRow, StoreError> {
    let document: String = r.try_get("document")?;
    Ok(VersionRow {
        version: r.try_get("version")?,
        document: serde_json::from_str(&document)?,
        created_at: r.try_get("created_at")?,
    })
}
