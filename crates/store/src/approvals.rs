//! Approvals: a pending human decision tied to one waiting step. The first decision wins and
//! wakes the execution in the same transaction.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{now_ms, ApprovalRow, Page, Store, StoreError};

const COLUMNS: &str = "id, org_id, execution_id, workflow_id, node_id, scope, status, notes, integration, channel, ts, approvers, secret, expires_at, decision, decided_by, decided_at, comment, created_at";

fn approval_row(r: &AnyRow) -> Result<ApprovalRow, StoreError> {
    let parse = |col: &str| -> Result<Option<Value>, StoreError> {
        let t: Option<String> = r.try_get(col)?;
        Ok(t.map(|t| serde_json::from_str(&t)).transpose()?)
    };
    Ok(ApprovalRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        execution_id: r.try_get("execution_id")?,
        workflow_id: r.try_get("workflow_id")?,
        node_id: r.try_get("node_id")?,
        scope: r.try_get("scope")?,
        status: r.try_get("status")?,
        notes: r.try_get("notes")?,
        integration: r.try_get("integration")?,
        channel: r.try_get("channel")?,
        ts: r.try_get("ts")?,
        approvers: parse("approvers")?,
        secret: r.try_get("secret")?,
        expires_at: r.try_get("expires_at")?,
        decision: r.try_get("decision")?,
        decided_by: parse("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        comment: r.try_get("comment")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn insert_approval(c: &mut AnyConnection, a: ApprovalRow) -> Result<(), StoreError> {
    sqlx::query(&format!("INSERT INTO approvals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"))
        .bind(a.id)
        .bind(a.org_id)
        .bind(a.execution_id)
        .bind(a.workflow_id)
        .bind(a.node_id)
        .bind(a.scope)
        .bind(a.status)
        .bind(a.notes)
        .bind(a.integration)
        .bind(a.channel)
        .bind(a.ts)
        .bind(a.approvers.map(|v| v.to_string()))
        .bind(a.secret)
        .bind(a.expires_at)
        .bind(a.decision)
        .bind(a.decided_by.map(|v| v.to_string()))
        .bind(a.decided_at)
        .bind(a.comment)
        .bind(a.created_at)
        .execute(c)
        .await?;
    Ok(())
}

/// What happened to a decision.
#[derive(Debug, Clone)]
pub enum Decided {
    /// This decision was recorded and the execution woken.
    Recorded(ApprovalRow),
    /// Someone decided earlier (or the approval expired or was cancelled): the row as it stands.
    AlreadyClosed(ApprovalRow),
}

impl Store {
    pub async fn approval(&self, org_id: Option<&str>, id: &str) -> Result<Option<ApprovalRow>, StoreError> {
        let row = match org_id {
            Some(org) => sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE org_id = $1 AND id = $2")).bind(org.to_string()).bind(id.to_string()).fetch_optional(&self.pool).await?,
            None => sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?,
        };
        row.as_ref().map(approval_row).transpose()
    }

    /// The approval of a step, if one was recorded.
    pub async fn approval_for_step(&self, execution_id: &str, scope: &str, node_id: &str) -> Result<Option<ApprovalRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE execution_id = $1 AND scope = $2 AND node_id = $3 ORDER BY id DESC LIMIT 1"))
            .bind(execution_id.to_string())
            .bind(scope.to_string())
            .bind(node_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(approval_row).transpose()
    }

    pub async fn list_approvals(&self, org_id: &str, status: Option<&str>, limit: usize, cursor: Option<&str>) -> Result<Page<ApprovalRow>, StoreError> {
        let rows = match status {
            Some(s) => sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE org_id = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4"))
                .bind(org_id.to_string())
                .bind(s.to_string())
                .bind(cursor.unwrap_or("~").to_string())
                .bind(limit as i64 + 1)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"))
                .bind(org_id.to_string())
                .bind(cursor.unwrap_or("~").to_string())
                .bind(limit as i64 + 1)
                .fetch_all(&self.pool)
                .await?,
        };
        let rows = rows.iter().map(approval_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, limit, |a| a.id.clone()))
    }

    /// Records where the approval message was posted.
    pub async fn set_approval_message(&self, id: &str, channel: &str, ts: &str) -> Result<(), StoreError> {
        let (id, channel, ts) = (id.to_string(), channel.to_string(), ts.to_string());
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("UPDATE approvals SET channel = $2, ts = $3 WHERE id = $1").bind(id).bind(channel).bind(ts).execute(&mut *c).await?;
                Ok(())
            })
        })
        .await
    }

    /// Records a decision (`approved`, `denied`, `timed_out`) if the approval is still pending,
    /// and wakes its execution in the same transaction.
    pub async fn decide_approval(&self, id: &str, status: &str, decided_by: Option<Value>, comment: Option<String>) -> Result<Decided, StoreError> {
        let (id, status) = (id.to_string(), status.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let now = now_ms();
                let row = sqlx::query(&format!(
                    "UPDATE approvals SET status = $2, decision = $2, decided_by = $3, decided_at = $4, comment = $5 WHERE id = $1 AND status = 'pending' RETURNING {COLUMNS}"
                ))
                .bind(id.clone())
                .bind(status)
                .bind(decided_by.map(|v| v.to_string()))
                .bind(now)
                .bind(comment)
                .fetch_optional(&mut *c)
                .await?;
                match row {
                    Some(row) => {
                        let a = approval_row(&row)?;
                        sqlx::query("UPDATE executions SET wake_at = $2 WHERE id = $1 AND status = 'waiting'").bind(a.execution_id.clone()).bind(now).execute(&mut *c).await?;
                        Ok(Decided::Recorded(a))
                    }
                    None => {
                        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1")).bind(id).fetch_optional(&mut *c).await?.ok_or(StoreError::NotFound)?;
                        Ok(Decided::AlreadyClosed(approval_row(&row)?))
                    }
                }
            })
        })
        .await
    }
}
