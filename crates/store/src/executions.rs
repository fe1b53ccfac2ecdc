//! Executions and their steps: creation, the engine's claims, leases and fenced step commits,
//! cancellation, listing and retention.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

use crate::batch::Typed;
use crate::{
    now_ms, ApprovalRow, Backend, ExecStatus, ExecutionRow, Page, StepRow, StepStatus, Store,
    StoreError,
};

const EXEC_COLUMNS: &str = "id, org_id, workflow_id, workflow_version, status, trigger_type, trigger, created_at, started_at, finished_at, error, wake_at, deadline";
pub(crate) const STEP_COLUMNS: &str = "execution_id, scope, node_id, seq, node_type, name, status, port, attempts, input, output, error, state, started_at, finished_at";

fn json_opt(r: &AnyRow, col: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = r.try_get(col)?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

pub(crate) fn execution_row(r: &AnyRow) -> Result<ExecutionRow, StoreError> {
    let status: String = r.try_get("status")?;
    let trigger: String = r.try_get("trigger")?;
    Ok(ExecutionRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        workflow_id: r.try_get("workflow_id")?,
        workflow_version: r.try_get("workflow_version")?,
        status: ExecStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status}")))?,
        trigger_type: r.try_get("trigger_type")?,
        trigger: serde_json::from_str(&trigger)?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        error: r.try_get("error")?,
        wake_at: r.try_get("wake_at")?,
        deadline: r.try_get("deadline")?,
    })
}

fn step_row(r: &AnyRow) -> Result<StepRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(StepRow {
        execution_id: r.try_get("execution_id")?,
        scope: r.try_get("scope")?,
        node_id: r.try_get("node_id")?,
        seq: r.try_get("seq")?,
        node_type: r.try_get("node_type")?,
        name: r.try_get("name")?,
        status: StepStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown step status {status}")))?,
        port: r.try_get("port")?,
        attempts: r.try_get("attempts")?,
        input: json_opt(r, "input")?,
        output: json_opt(r, "output")?,
        error: r.try_get("error")?,
        state: json_opt(r, "state")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// A new execution and the steps recorded with it (the trigger's).
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub execution: ExecutionRow,
    pub steps: Vec<StepRow>,
    /// A key that makes a repeated delivery (an SNS `MessageId`) a no-op.
    pub dedup_key: Option<String>,
    /// Claim the execution for this process at once, so no poll is needed to start it.
    pub lease: Option<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The dedup key was seen before; the id is the execution it started.
    Duplicate(String),
}

/// The result of one step (or several, e.g. skipped branches) and the execution's new state,
/// committed together only if `owner` still holds the execution's lease.
#[derive(Debug, Clone)]
pub struct Commit {
    pub execution_id: String,
    pub owner: String,
    pub steps: Vec<StepRow>,
    pub status: ExecStatus,
    pub error: Option<String>,
    /// When a waiting execution should be looked at again.
    pub wake_at: Option<i64>,
    pub lease_until: i64,
    pub approval: Option<ApprovalRow>,
    /// The execution ends while steps may still be open in scopes the committer does not hold
    /// (loop items waiting on an approval): cancel every open step and pending approval it has.
    pub close_open: bool,
}

/// Filters of the executions list.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub workflow_id: Option<String>,
    pub status: Option<ExecStatus>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Store {
    pub async fn create_execution(&self, new: NewExecution) -> Result<Created, StoreError> {
        self.write_typed(Typed::Insert(Box::new(new))).await
    }

    pub async fn execution(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<ExecutionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXEC_COLUMNS} FROM executions WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(execution_row).transpose()
    }

    pub async fn steps(&self, execution_id: &str) -> Result<Vec<StepRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM steps WHERE execution_id = $1 ORDER BY seq, scope"
        ))
        .bind(execution_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    pub async fn list_executions(
        &self,
        org_id: &str,
        filter: &ExecutionFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ExecutionRow>, StoreError> {
        let mut sql =
            format!("SELECT {EXEC_COLUMNS} FROM executions WHERE org_id = $1 AND id < $2");
        let mut n = 2;
        let mut texts: Vec<String> = Vec::new();
        let mut ints: Vec<(usize, i64)> = Vec::new();
        if let Some(w) = &filter.workflow_id {
            n += 1;
            sql.push_str(&format!(" AND workflow_id = ${n}"));
            texts.push(w.clone());
        }
        if let Some(s) = filter.status {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
            texts.push(s.as_str().to_string());
        }
        let text_count = n;
        if let Some(since) = filter.since {
            n += 1;
            sql.push_str(&format!(" AND created_at >= ${n}"));
            ints.push((n, since));
        }
        if let Some(until) = filter.until {
            n += 1;
            sql.push_str(&format!(" AND created_at < ${n}"));
            ints.push((n, until));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut q = sqlx::query(&sql)
            .bind(org_id.to_string())
            .bind(cursor.unwrap_or("~").to_string());
        for t in texts {
            q = q.bind(t);
        }
        debug_assert!(ints.iter().all(|(i, _)| *i > text_count));
        for (_, v) in ints {
            q = q.bind(v);
        }
        let rows = q.bind(limit as i64 + 1).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(execution_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, limit, |e| e.id.clone()))
    }

    /// The last execution of each of these workflows (one query for a whole page of workflows).
    pub async fn last_executions(
        &self,
        workflow_ids: &[String],
    ) -> Result<HashMap<String, ExecutionRow>, StoreError> {
        if workflow_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let list: Vec<String> = (1..=workflow_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {EXEC_COLUMNS} FROM executions WHERE id IN \
             (SELECT MAX(id) FROM executions WHERE workflow_id IN ({}) GROUP BY workflow_id)",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in workflow_ids {
            q = q.bind(id.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| execution_row(r).map(|e| (e.workflow_id.clone(), e)))
            .collect()
    }

    /// Cancels an unfinished execution: it and its unsettled steps become `cancelled`, its
    /// pending approvals are closed, and a worker holding it loses its lease.
    pub async fn cancel_execution(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<ExecutionRow, StoreError> {
        let (org, id) = (org_id.to_string(), id.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let now = now_ms();
                let row = sqlx::query(&format!(
                    "UPDATE executions SET status = 'cancelled', finished_at = $3, error = 'cancelled', lease_owner = NULL, lease_until = NULL, wake_at = NULL \
                     WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running', 'waiting') RETURNING {EXEC_COLUMNS}"
                ))
                .bind(org.clone())
                .bind(id.clone())
                .bind(now)
                .fetch_optional(&mut *c)
                .await?;
                let Some(row) = row else {
                    let exists = sqlx::query("SELECT status FROM executions WHERE org_id = $1 AND id = $2").bind(org).bind(id).fetch_optional(&mut *c).await?;
                    return match exists {
                        Some(r) => Err(StoreError::Conflict(format!("the execution is {} already", r.try_get::<String, _>("status")?))),
                        None => Err(StoreError::NotFound),
                    };
                };
                sqlx::query("UPDATE steps SET status = 'cancelled', finished_at = $2 WHERE execution_id = $1 AND status IN ('pending', 'running', 'waiting')")
                    .bind(id.clone())
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("UPDATE approvals SET status = 'cancelled' WHERE execution_id = $1 AND status = 'pending'").bind(id).execute(&mut *c).await?;
                execution_row(&row)
            })
        })
        .await
    }

    /// Claims up to `limit` executions that need a worker: queued ones nobody holds, running ones
    /// whose lease expired (their process died), and waiting ones whose time has come.
    pub async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>, StoreError> {
        let owner = owner.to_string();
        let lock = if self.backend == Backend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE executions SET lease_owner = $1, lease_until = $2, status = CASE WHEN status = 'waiting' THEN 'running' ELSE status END \
             WHERE id IN (SELECT id FROM executions WHERE \
               (status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < $3)) OR (status = 'waiting' AND wake_at <= $3) \
               ORDER BY id LIMIT $4{lock}) \
             RETURNING {EXEC_COLUMNS}"
        );
        self.write_hot(move |c| {
            Box::pin(async move {
                let rows = sqlx::query(&sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit as i64)
                    .fetch_all(&mut *c)
                    .await?;
                rows.iter().map(execution_row).collect()
            })
        })
        .await
    }

    /// The earliest time a waiting execution wants to be woken, if any.
    pub async fn next_wake(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(wake_at) AS w FROM executions WHERE status = 'waiting'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("w")?)
    }

    /// Frees every lease (SQLite at start-up: one process owns the database, so whatever a
    /// previous process held is orphaned).
    pub async fn release_all_leases(&self) -> Result<u64, StoreError> {
        self.write(|c| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE executions SET lease_owner = NULL, lease_until = NULL WHERE status IN ('queued', 'running')").execute(&mut *c).await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// Extends the leases this process holds on the executions it is running (`ids`). An
    /// execution leased to this process but not running in it (its start was interrupted after the
    /// insert) is left to expire, so that a dispatcher claims and runs it.
    pub async fn heartbeat(
        &self,
        owner: &str,
        ids: Vec<String>,
        lease_until: i64,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let owner = owner.to_string();
        self.write_hot(move |c| {
            Box::pin(async move { crate::batch::renew_leases(c, &owner, &ids, lease_until).await })
        })
        .await
    }

    /// Commits a step result with the execution's new state. `Ok(false)` when the lease was lost
    /// (cancelled, or taken over by another process): nothing was written.
    pub async fn commit(&self, commit: Commit) -> Result<bool, StoreError> {
        self.write_typed(Typed::Commit(Box::new(commit))).await
    }

    /// Deletes up to `batch` finished executions older than `before`, with their steps and
    /// approvals; returns how many went. Unfinished executions are never touched.
    pub async fn purge_finished(&self, before: i64, batch: usize) -> Result<u64, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(batch as i64)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        self.write(move |c| {
            Box::pin(async move {
                let mut n = 0;
                for id in ids {
                    sqlx::query("DELETE FROM steps WHERE execution_id = $1")
                        .bind(id.clone())
                        .execute(&mut *c)
                        .await?;
                    sqlx::query("DELETE FROM approvals WHERE execution_id = $1")
                        .bind(id.clone())
                        .execute(&mut *c)
                        .await?;
                    n += sqlx::query(
                        "DELETE FROM executions WHERE id = $1 AND finished_at IS NOT NULL",
                    )
                    .bind(id)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                }
                Ok(n)
            })
        })
        .await
    }
}
