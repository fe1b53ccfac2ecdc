//! Group commit: write operations queue up while the previous commit is being made durable, and
//! the next transaction applies all of them at once. Each operation runs inside its own savepoint,
//! so one that fails rolls back alone; a failed commit fails every operation of the batch.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;
type AnyResult = Result<Box<dyn Any + Send>, StoreError>;
type Job =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, Box<dyn Any + Send>> + Send>;

struct Op {
    job: Job,
    reply: oneshot::Sender<AnyResult>,
}

pub struct Writer {
    lanes: Vec<mpsc::Sender<Op>>,
    next: std::sync::atomic::AtomicUsize,
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
    pub async fn start(pool: &AnyPool, lanes: usize) -> Result<Self, StoreError> {
        let mut senders = Vec::with_capacity(lanes);
        let stats = Arc::new(Stats::default());
        for _ in 0..lanes {
            let (tx, rx) = mpsc::channel::<Op>(8192);
            let pool = pool.clone();
            tokio::spawn(run_lane(pool, rx, stats.clone()));
            senders.push(tx);
        }
        Ok(Self {
            lanes: senders,
            next: Default::default(),
            stats,
        })
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
        let (reply, rx) = oneshot::channel();
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        self.lanes[lane]
            .send(Op { job, reply })
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
            Err(()) => conn = None, // drop a connection that failed mid-transaction
        }
    }
}

async fn apply(conn: &mut AnyConnection, batch: Vec<Op>) -> Result<(), ()> {
    let fail_all = |batch: Vec<oneshot::Sender<AnyResult>>, msg: String| {
        for reply in batch {
            let _ = reply.send(Err(StoreError::Unavailable(msg.clone())));
        }
    };
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            fail_all(
                batch.into_iter().map(|op| op.reply).collect(),
                e.to_string(),
            );
            return Err(());
        }
    };
    // One round trip between operations: the previous savepoint's end and the next one's start.
    if let Err(e) = tx.execute("SAVEPOINT op").await {
        fail_all(
            batch.into_iter().map(|op| op.reply).collect(),
            e.to_string(),
        );
        return Err(());
    }
    let n = batch.len();
    let mut results = Vec::with_capacity(n);
    let mut ops = batch.into_iter().enumerate();
    while let Some((i, op)) = ops.next() {
        let out = (op.job)(&mut tx).await;
        let end = match (out.is_ok(), i + 1 == n) {
            (true, true) => "RELEASE SAVEPOINT op",
            (true, false) => "RELEASE SAVEPOINT op; SAVEPOINT op",
            (false, true) => "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op",
            (false, false) => "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op; SAVEPOINT op",
        };
        results.push((op.reply, out));
        if let Err(e) = tx.execute(end).await {
            // The transaction is in an unknown state: nothing of this batch commits.
            let rest = ops.map(|(_, op)| op.reply);
            fail_all(
                results.into_iter().map(|(r, _)| r).chain(rest).collect(),
                e.to_string(),
            );
            return Err(());
        }
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, out) in results {
                let _ = reply.send(out);
            }
            Ok(())
        }
        Err(e) => {
            fail_all(results.into_iter().map(|(r, _)| r).collect(), e.to_string());
            Err(())
        }
    }
}
