//! Durable storage for Flowgate: one implementation over sqlx's `Any` driver serving SQLite and
//! PostgreSQL, with dialect differences kept to [`Backend`] checks. All writes go through the
//! group-commit [`writer`], so many concurrent requests share one durable commit.

pub mod approvals;
mod batch;
mod cache;
mod error;
pub mod executions;
pub mod integrations;
pub mod kv;
pub mod tenants;
pub mod types;
pub mod workflows;
mod writer;

use std::sync::Arc;
use std::time::Duration;

pub use error::StoreError;
pub use types::*;
pub use writer::WriteFuture;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};
use std::str::FromStr;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store: a read pool and a group-commit writer. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    writer: Arc<writer::Writer>,
    url: Arc<str>,
    /// Workflow rows and API key hashes for webhooks.
    cache: Arc<cache::ReadCache>,
    /// Stops the PostgreSQL cache follower when the last clone of the store is dropped.
    _follower: Option<Arc<AbortOnDrop>>,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The PostgreSQL channel on which commits that create work announce it.
pub const WORK_CHANNEL: &str = "flowgate_work";

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    /// `sqlite://path/flowgate.db` or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").await?;
                    }
                    Ok(())
                })
            });
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if backend == Backend::Sqlite {
            let mut conn = pool.acquire().await?;
            // auto_vacuum only takes effect on an empty database, before the first table.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;")
                .await?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        // One group-commit lane on both backends. SQLite has one writer anyway. With PostgreSQL a
        // single lane per process makes the biggest batches (fewest commits and WAL flushes: with
        // three processes on one server, one lane each accepted ~1.6x the webhooks of four lanes
        // each, see BENCHMARKS.md) and keeps a process's own writes from waiting on each other's
        // row locks (a lease heartbeat and a commit touch the same rows).
        let writer = writer::Writer::start(&pool);
        let cache = Arc::new(cache::ReadCache::new(backend == Backend::Sqlite));
        let follower = (backend == Backend::Postgres).then(|| {
            let task = tokio::spawn(cache::follow(url.clone(), cache.clone()));
            Arc::new(AbortOnDrop(task.abort_handle()))
        });
        Ok(Self {
            pool,
            backend,
            writer: Arc::new(writer),
            url: url.into(),
            cache,
            _follower: follower,
        })
    }

    /// Whether the webhook read cache is in use: always with SQLite; with PostgreSQL while this
    /// process listens for other processes' changes.
    pub fn read_cache_enabled(&self) -> bool {
        self.cache.enabled()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs `f` inside the next group commit and returns its result once that commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let backend = self.backend;
        let out = self
            .writer
            .submit(move |c| {
                Box::pin(async move {
                    let out = f(&mut *c).await?;
                    // Any write may change a workflow or a key: other processes forget what their
                    // read caches hold when this commits.
                    if backend == Backend::Postgres {
                        sqlx::query("SELECT pg_notify($1, '')")
                            .bind(cache::CACHE_CHANNEL)
                            .execute(&mut *c)
                            .await?;
                    }
                    Ok(out)
                })
            })
            .await;
        // ... and so does this one.
        self.cache.invalidate();
        out
    }

    /// Like [`Store::write`], for the executor's writes (executions, steps, leases), which never
    /// touch workflows or keys and so leave the read cache alone.
    pub(crate) async fn write_hot<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        self.writer.submit(f).await
    }

    /// A typed hot write (see [`batch`]), applied with others of its group commit in multi-row
    /// statements; like [`Store::write_hot`], it leaves the read cache alone.
    pub(crate) async fn write_typed<T: Send + 'static>(
        &self,
        op: batch::Typed,
    ) -> Result<T, StoreError> {
        self.writer.submit_typed(op).await
    }

    /// A PostgreSQL listener on [`WORK_CHANNEL`], so idle processes wake when another process
    /// creates or wakes work; `None` on SQLite (one process, woken in memory).
    pub async fn work_listener(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(WORK_CHANNEL).await?;
        Ok(Some(listener))
    }

    /// Announces new work to other processes when the surrounding transaction commits.
    pub(crate) async fn announce(
        backend: Backend,
        c: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(WORK_CHANNEL)
                .execute(c)
                .await?;
        }
        Ok(())
    }

    /// Runs a statement on `(org_id, key)` that must change exactly one row; `NotFound` otherwise.
    pub(crate) async fn change_one(
        &self,
        sql: &'static str,
        org_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let (org, key) = (org_id.to_string(), key.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let done = sqlx::query(sql)
                    .bind(org)
                    .bind(key)
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

    /// Group-commit counters: (transactions committed, write operations they carried).
    pub fn write_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Returns free pages to the file system after large deletions (SQLite), or lets PostgreSQL's
    /// autovacuum do its work.
    pub async fn reclaim_space(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            let mut conn = self.pool.acquire().await?;
            conn.execute("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
                .await?;
        }
        Ok(())
    }
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
