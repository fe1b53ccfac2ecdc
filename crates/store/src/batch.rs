//! The executor's hot writes (new executions, fenced step commits) as typed operations, so the
//! group commit can apply a run of them with one multi-row statement per table instead of a few
//! statements per operation. Each statement is a round trip to the database (for SQLite, a hand-off
//! to sqlx's worker thread), and the single writer lane is bound by those round trips.

use std::any::Any;
use std::collections::HashSet;

use sqlx::{AnyConnection, Row};

use crate::executions::{Commit, Created, NewExecution, STEP_COLUMNS};
use crate::{now_ms, StepRow, StoreError};

/// A hot write operation. Operations of one group must concern distinct executions (see
/// [`Typed::execution_id`]), so applying them table by table equals applying them one by one.
pub(crate) enum Typed {
    Insert(Box<NewExecution>),
    Commit(Box<Commit>),
}

impl Typed {
    pub fn execution_id(&self) -> &str {
        match self {
            Typed::Insert(n) => &n.execution.id,
            Typed::Commit(c) => &c.execution_id,
        }
    }
}

/// Rows per multi-row statement: a run is cut into chunks of these sizes (largest first), so the
/// statement text repeats and the connection's prepared-statement cache hits instead of the
/// database re-preparing a statement of a new row count on almost every group commit. At most
/// 64 rows × 16 columns, well under SQLite's (32,766) and PostgreSQL's (65,535) parameter limits.
const BUCKETS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// `items` cut into consecutive chunks whose lengths are [`BUCKETS`] sizes.
fn buckets<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = BUCKETS.into_iter().find(|&b| b <= items.len())?;
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

/// Placeholders for the parameters of one statement, numbered in order of appearance: `$n` for
/// PostgreSQL, a bare `?` for SQLite (sqlx looks a numbered SQLite parameter up by name, which
/// costs time linear in the statement's parameter count, so quadratic for a multi-row statement).
struct Params {
    numbered: bool,
    next: usize,
}

impl Params {
    fn new(c: &AnyConnection) -> Self {
        Self {
            numbered: c.backend_name() != "SQLite",
            next: 0,
        }
    }

    fn one(&mut self) -> String {
        self.next += 1;
        match self.numbered {
            true => format!("${}", self.next),
            false => "?".to_string(),
        }
    }

    /// `(p, ..., p), (...)`: a VALUES list of `rows` rows of `cols` parameters.
    fn rows(&mut self, rows: usize, cols: usize) -> String {
        let mut sql = String::with_capacity(rows * cols * 5);
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..cols {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&self.one());
            }
            sql.push(')');
        }
        sql
    }
}

/// Applies `ops` (distinct executions) in one go: new executions, then the fenced execution
/// updates, then every step of the inserted and of the still-leased executions, then approvals.
/// Returns each operation's result (`Created` for an insert, `bool` for a commit), in order.
pub(crate) async fn apply_group(
    c: &mut AnyConnection,
    ops: &[Typed],
) -> Result<Vec<Box<dyn Any + Send>>, StoreError> {
    let mut duplicates = vec![None; ops.len()];
    let mut fresh = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if let Typed::Insert(new) = op {
            if let Some(key) = &new.dedup_key {
                let row = sqlx::query("SELECT id FROM executions WHERE dedup_key = $1")
                    .bind(key.clone())
                    .fetch_optional(&mut *c)
                    .await?;
                if let Some(row) = row {
                    duplicates[i] = Some(row.try_get::<String, _>("id")?);
                    continue;
                }
            }
            fresh.push(new.as_ref());
        }
    }
    let inserted = insert_executions(c, &fresh).await?;
    for (i, op) in ops.iter().enumerate() {
        if let Typed::Insert(new) = op {
            if duplicates[i].is_none() && !inserted.contains(&new.execution.id) {
                // A concurrent transaction took the de-duplication key first.
                let key = new
                    .dedup_key
                    .clone()
                    .ok_or_else(|| StoreError::Corrupt("an execution was not inserted".into()))?;
                let row = sqlx::query("SELECT id FROM executions WHERE dedup_key = $1")
                    .bind(key)
                    .fetch_one(&mut *c)
                    .await?;
                duplicates[i] = Some(row.try_get::<String, _>("id")?);
            }
        }
    }
    let commits: Vec<&Commit> = ops
        .iter()
        .filter_map(|op| match op {
            Typed::Commit(commit) => Some(commit.as_ref()),
            Typed::Insert(_) => None,
        })
        .collect();
    let leased = update_executions(c, &commits).await?;
    let mut steps = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Typed::Insert(new) if duplicates[i].is_none() => steps.extend(&new.steps),
            Typed::Commit(commit) if leased.contains(commit.execution_id.as_str()) => {
                steps.extend(&commit.steps)
            }
            _ => {}
        }
    }
    upsert_steps(c, &steps).await?;
    for commit in &commits {
        if commit.close_open && leased.contains(commit.execution_id.as_str()) {
            close_open(c, &commit.execution_id).await?;
        }
    }
    for commit in &commits {
        if let Some(a) = &commit.approval {
            if leased.contains(commit.execution_id.as_str()) {
                crate::approvals::insert_approval(c, a.clone()).await?;
            }
        }
    }
    Ok(ops
        .iter()
        .zip(duplicates)
        .map(|(op, duplicate)| match op {
            Typed::Insert(_) => {
                Box::new(duplicate.map_or(Created::New, Created::Duplicate)) as Box<dyn Any + Send>
            }
            Typed::Commit(commit) => Box::new(leased.contains(commit.execution_id.as_str())),
        })
        .collect())
}

/// Inserts new executions; returns the ids actually inserted. One whose de-duplication key another
/// transaction took first (a concurrent repeat delivery) is left out rather than failing the batch.
async fn insert_executions(
    c: &mut AnyConnection,
    news: &[&NewExecution],
) -> Result<HashSet<String>, StoreError> {
    const COLS: usize = 16;
    let mut inserted = HashSet::with_capacity(news.len());
    for chunk in buckets(news) {
        let sql = format!(
            "INSERT INTO executions (id, org_id, workflow_id, workflow_version, status, trigger_type, trigger, created_at, started_at, finished_at, error, lease_owner, lease_until, wake_at, deadline, dedup_key) VALUES {} ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            Params::new(c).rows(chunk.len(), COLS)
        );
        let mut q = sqlx::query(&sql);
        for new in chunk {
            let e = &new.execution;
            let (owner, until) = new
                .lease
                .clone()
                .map_or((None, None), |(o, u)| (Some(o), Some(u)));
            q = q
                .bind(e.id.clone())
                .bind(e.org_id.clone())
                .bind(e.workflow_id.clone())
                .bind(e.workflow_version)
                .bind(e.status.as_str())
                .bind(e.trigger_type.clone())
                .bind(e.trigger.to_string())
                .bind(e.created_at)
                .bind(e.started_at)
                .bind(e.finished_at)
                .bind(e.error.clone())
                .bind(owner)
                .bind(until)
                .bind(e.wake_at)
                .bind(e.deadline)
                .bind(new.dedup_key.clone());
        }
        for row in q.fetch_all(&mut *c).await? {
            inserted.insert(row.try_get::<String, _>(0)?);
        }
    }
    Ok(inserted)
}

/// Sets each execution's new state if its committer still holds the lease; returns the ids of the
/// executions updated (the others lost their lease: nothing of theirs is written).
///
/// The fence is the lease owner alone: only a queued or running execution holds a lease (waiting,
/// finishing and cancelling all release it; PostgreSQL checks this with the constraint
/// `executions_lease_active`). The statement names no status on purpose: PostgreSQL plans a
/// prepared statement once, and a plan made while the table was new and empty would otherwise scan
/// every active execution through the status index instead of finding each by id.
async fn update_executions<'a>(
    c: &mut AnyConnection,
    commits: &[&'a Commit],
) -> Result<HashSet<&'a str>, StoreError> {
    const COLS: usize = 8;
    let now = now_ms();
    let mut leased = HashSet::with_capacity(commits.len());
    for chunk in buckets(commits) {
        // v: (id, owner, status, error, wake_at, finished_at, lease_owner, lease_until)
        let mut params = Params::new(c);
        let sql = format!(
            "UPDATE executions SET status = v.column3, error = v.column4, wake_at = v.column5, \
             started_at = COALESCE(executions.started_at, {}), finished_at = v.column6, \
             lease_owner = v.column7, lease_until = v.column8 \
             FROM (VALUES {}) AS v \
             WHERE executions.id = v.column1 AND executions.lease_owner = v.column2 RETURNING id",
            params.one(),
            params.rows(chunk.len(), COLS)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for commit in chunk {
            let finished = commit.status.is_finished();
            let release = finished || commit.status == crate::ExecStatus::Waiting;
            q = q
                .bind(commit.execution_id.clone())
                .bind(commit.owner.clone())
                .bind(commit.status.as_str())
                .bind(commit.error.clone())
                .bind(commit.wake_at)
                .bind(finished.then_some(now))
                .bind((!release).then(|| commit.owner.clone()))
                .bind((!release).then_some(commit.lease_until));
        }
        let updated = q
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<HashSet<_>, _>>()?;
        leased.extend(
            chunk
                .iter()
                .map(|commit| commit.execution_id.as_str())
                .filter(|id| updated.contains(*id)),
        );
    }
    Ok(leased)
}

/// Extends `owner`'s leases on the executions `ids` (those it is running); returns how many changed.
pub(crate) async fn renew_leases(
    c: &mut AnyConnection,
    owner: &str,
    ids: &[String],
    until: i64,
) -> Result<u64, StoreError> {
    let mut renewed = 0;
    for chunk in buckets(ids) {
        let mut p = Params::new(c);
        let (until_p, owner_p) = (p.one(), p.one());
        let list: Vec<String> = chunk.iter().map(|_| p.one()).collect();
        let sql = format!(
            "UPDATE executions SET lease_until = {until_p} WHERE lease_owner = {owner_p} \
             AND status IN ('queued', 'running') AND id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(until).bind(owner.to_string());
        for id in chunk {
            q = q.bind(id.clone());
        }
        renewed += q.execute(&mut *c).await?.rows_affected();
    }
    Ok(renewed)
}

/// Cancels an ending execution's steps that are still pending, running or waiting, and its pending
/// approvals.
async fn close_open(c: &mut AnyConnection, execution_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE steps SET status = 'cancelled', finished_at = $2 WHERE execution_id = $1 AND status IN ('pending', 'running', 'waiting')")
        .bind(execution_id.to_string())
        .bind(now_ms())
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "UPDATE approvals SET status = 'cancelled' WHERE execution_id = $1 AND status = 'pending'",
    )
    .bind(execution_id.to_string())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Inserts or updates steps, in order: a statement never holds the same step twice (PostgreSQL
/// refuses that), so a later row for a step goes into a later statement.
async fn upsert_steps(c: &mut AnyConnection, steps: &[&StepRow]) -> Result<(), StoreError> {
    let mut start = 0;
    while start < steps.len() {
        let mut seen = HashSet::new();
        let mut end = start;
        while end < steps.len()
            && seen.insert((
                &steps[end].execution_id,
                &steps[end].scope,
                &steps[end].node_id,
            ))
        {
            end += 1;
        }
        for chunk in buckets(&steps[start..end]) {
            upsert_step_rows(c, chunk).await?;
        }
        start = end;
    }
    Ok(())
}

/// One `INSERT ... ON CONFLICT DO UPDATE` of `chunk` (distinct steps).
async fn upsert_step_rows(c: &mut AnyConnection, chunk: &[&StepRow]) -> Result<(), StoreError> {
    const COLS: usize = 15;
    let sql = format!(
        "INSERT INTO steps ({STEP_COLUMNS}) VALUES {} \
         ON CONFLICT (execution_id, scope, node_id) DO UPDATE SET status = excluded.status, port = excluded.port, attempts = excluded.attempts, \
         input = excluded.input, output = excluded.output, error = excluded.error, state = excluded.state, started_at = excluded.started_at, finished_at = excluded.finished_at",
        Params::new(c).rows(chunk.len(), COLS)
    );
    let mut q = sqlx::query(&sql);
    for s in chunk {
        q = q
            .bind(s.execution_id.clone())
            .bind(s.scope.clone())
            .bind(s.node_id.clone())
            .bind(s.seq)
            .bind(s.node_type.clone())
            .bind(s.name.clone())
            .bind(s.status.as_str())
            .bind(s.port.clone())
            .bind(s.attempts)
            .bind(s.input.as_ref().map(|v| v.to_string()))
            .bind(s.output.as_ref().map(|v| v.to_string()))
            .bind(s.error.clone())
            .bind(s.state.as_ref().map(|v| v.to_string()))
            .bind(s.started_at)
            .bind(s.finished_at);
    }
    q.execute(&mut *c).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order_of_appearance() {
        let mut p = super::Params {
            numbered: true,
            next: 0,
        };
        assert_eq!(p.one(), "$1");
        assert_eq!(p.rows(2, 3), "($2, $3, $4), ($5, $6, $7)");
        p.numbered = false;
        assert_eq!(p.rows(1, 2), "(?, ?)");
    }

    #[test]
    fn runs_are_cut_into_bucket_sizes() {
        let items: Vec<usize> = (0..203).collect();
        let sizes: Vec<usize> = super::buckets(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 8, 2, 1]);
        let rejoined: Vec<usize> = super::buckets(&items).flatten().copied().collect();
        assert_eq!(rejoined, items);
        assert_eq!(super::buckets::<usize>(&[]).count(), 0);
    }
}
