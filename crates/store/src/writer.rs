//! Group commit: write operations queue up while the previous commit is being made durable, and
//! the next transaction applies all of them at once. Each operation runs inside its own savepoint,
//! so one that fails rolls back alone; a failed commit fails every operation of the batch. A run of
//! typed hot writes on distinct executions shares one savepoint and multi-row statements; if that
//! group fails, its operations are applied again one by one, each in its own savepoint.

use std::any::Any;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::batch::{self, Typed};
use crate::StoreError;

pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;
type AnyResult = Result<Box<dyn Any + Send>, StoreError>;
type Reply = oneshot::Sender<AnyResult>;
type Job =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, Box<dyn Any + Send>> + Send>;

/// What an operation does: run a closure, or a typed hot write that can share multi-row
/// statements with the typed writes next to it.
enum Work {
    Job(Job),
    Typed(Typed),
}

struct Op {
    work: Work,
    reply: oneshot::Sender<AnyResult>,
}

/// The writer lane: one task that owns a connection and applies the queued operations, a batch per
/// transaction.
pub struct Writer {
    lane: mpsc::Sender<Op>,
    stats: Arc<Stats>,
}

/// Counters of the group commit: transactions committed and operations they carried.
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: AtomicU64,
    pub ops: AtomicU64,
}

const MAX_BATCH: usize = 1024;

impl Writer {
    pub fn start(pool: &AnyPool) -> Self {
        let stats = Arc::new(Stats::default());
        let (lane, rx) = mpsc::channel::<Op>(8192);
        tokio::spawn(run_lane(pool.clone(), rx, stats.clone()));
        Self { lane, stats }
    }

    /// (transactions committed, operations committed) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.ops.load(Ordering::Relaxed),
        )
    }

    pub async fn submit<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let fut = f(conn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        self.send(Work::Job(job)).await
    }

    pub async fn submit_typed<T: Send + 'static>(&self, op: Typed) -> Result<T, StoreError> {
        self.send(Work::Typed(op)).await
    }

    async fn send<T: Send + 'static>(&self, work: Work) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.lane
            .send(Op { work, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        let out = rx
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Corrupt("writer returned the wrong type".into()))
    }
}

async fn run_lane(pool: AnyPool, mut rx: mpsc::Receiver<Op>, stats: Arc<Stats>) {
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match pool.acquire().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    let msg = e.to_string();
                    for op in batch {
                        let _ = op.reply.send(Err(StoreError::Unavailable(msg.clone())));
                    }
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connection acquired above");
        let n = batch.len() as u64;
        match apply(c, batch).await {
            Ok(()) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.ops.fetch_add(n, Ordering::Relaxed);
            }
            Err(()) => {
                // The connection may be inside a transaction: close it rather than return it.
                if let Some(c) = conn.take() {
                    let _ = c.close().await;
                }
            }
        }
    }
}

/// Opens the batch's transaction and its first operation's savepoint, in one round trip.
const BEGIN: &str = "BEGIN; SAVEPOINT op";

/// The statement that ends an operation's savepoint (rolling it back if it failed) and then opens
/// the next one, or commits the batch after its last: one round trip between operations.
fn end_of_op(ok: bool, last: bool) -> &'static str {
    match (ok, last) {
        (true, true) => "RELEASE SAVEPOINT op; COMMIT",
        (true, false) => "RELEASE SAVEPOINT op; SAVEPOINT op",
        (false, true) => "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op; COMMIT",
        (false, false) => "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op; SAVEPOINT op",
    }
}

/// Takes from the front of `rest` the typed operations that can join `first` in one group: a run
/// of typed operations on distinct executions.
fn take_group(first: (Typed, Reply), rest: &mut VecDeque<Op>) -> Vec<(Typed, Reply)> {
    let mut group = vec![first];
    let mut ids = HashSet::from([group[0].0.execution_id().to_string()]);
    while let Some(Op {
        work: Work::Typed(next),
        ..
    }) = rest.front()
    {
        if !ids.insert(next.execution_id().to_string()) {
            break;
        }
        let Some(Op {
            work: Work::Typed(op),
            reply,
        }) = rest.pop_front()
        else {
            unreachable!("the front was a typed operation")
        };
        group.push((op, reply));
    }
    group
}

async fn apply(conn: &mut AnyConnection, batch: Vec<Op>) -> Result<(), ()> {
    let fail_all = |replies: Vec<Reply>, msg: String| {
        for reply in replies {
            let _ = reply.send(Err(StoreError::Unavailable(msg.clone())));
        }
    };
    let mut rest: VecDeque<Op> = batch.into();
    // The transaction is driven by statements rather than `Connection::begin`, so that opening it
    // and committing it share round trips with the savepoints. Each later savepoint is opened by
    // the previous operation's end; the last operation's end commits.
    let tx = conn;
    if let Err(e) = tx.execute(BEGIN).await {
        fail_all(rest.into_iter().map(|op| op.reply).collect(), e.to_string());
        return Err(());
    }
    let mut results: Vec<(Reply, AnyResult)> = Vec::with_capacity(rest.len());
    // Operations whose fate is unknown when a savepoint statement fails.
    let mut unsettled: Vec<Reply> = Vec::new();
    let mut broken = None;
    'ops: while let Some(op) = rest.pop_front() {
        match op.work {
            Work::Job(job) => {
                let out = (job)(&mut *tx).await;
                let end = end_of_op(out.is_ok(), rest.is_empty());
                results.push((op.reply, out));
                if let Err(e) = tx.execute(end).await {
                    broken = Some(e);
                    break;
                }
            }
            Work::Typed(typed) => {
                let group = take_group((typed, op.reply), &mut rest);
                let (ops, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                // The whole group in one savepoint; if it fails, each operation alone in its own.
                let outs = match batch::apply_group(&mut *tx, &ops).await {
                    Ok(outs) => outs.into_iter().map(Ok).collect(),
                    Err(e) if ops.len() == 1 => vec![Err(e)],
                    Err(_) => Vec::new(),
                };
                if !outs.is_empty() {
                    let end = end_of_op(outs[0].is_ok(), rest.is_empty());
                    results.extend(replies.into_iter().zip(outs));
                    if let Err(e) = tx.execute(end).await {
                        broken = Some(e);
                        break;
                    }
                    continue;
                }
                if let Err(e) = tx.execute("ROLLBACK TO SAVEPOINT op").await {
                    unsettled = replies;
                    broken = Some(e);
                    break;
                }
                let n = ops.len();
                let mut replies = replies.into_iter();
                for (i, op) in ops.iter().enumerate() {
                    let reply = replies.next().expect("one reply per operation");
                    let out = batch::apply_group(&mut *tx, std::slice::from_ref(op))
                        .await
                        .map(|mut outs| outs.remove(0));
                    let end = end_of_op(out.is_ok(), i + 1 == n && rest.is_empty());
                    results.push((reply, out));
                    if let Err(e) = tx.execute(end).await {
                        unsettled = replies.collect();
                        broken = Some(e);
                        break 'ops;
                    }
                }
            }
        }
    }
    if let Some(e) = broken {
        // The transaction is in an unknown state: nothing of this batch commits.
        let replies = results.into_iter().map(|(r, _)| r);
        fail_all(
            replies
                .chain(unsettled)
                .chain(rest.into_iter().map(|op| op.reply))
                .collect(),
            e.to_string(),
        );
        return Err(());
    }
    // The last operation's end committed.
    for (reply, out) in results {
        let _ = reply.send(out);
    }
    Ok(())
}
