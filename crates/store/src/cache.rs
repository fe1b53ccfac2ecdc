//! A read cache for the webhook hot path (a workflow row by id, an API key hash by name). Every
//! write through the store except the executor's own (executions, steps, leases) empties it, so
//! it never serves a workflow or key older than the last committed change; the generation check
//! keeps a read that raced a write from being cached. With PostgreSQL, other processes write too:
//! each such write also sends a notification on [`CACHE_CHANNEL`] when it commits, every process
//! follows that channel ([`follow`]), and a process caches nothing while it is not listening.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::WorkflowRow;

/// The PostgreSQL channel on which writes that may change workflows or keys are announced.
pub const CACHE_CHANNEL: &str = "flowgate_cache";

const MAX_ENTRIES: usize = 4096;

pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Whether entries may be added: always with SQLite; with PostgreSQL only while this process
    /// listens for other processes' changes.
    enabled: bool,
    generation: u64,
    workflows: HashMap<String, Option<WorkflowRow>>,
    api_keys: HashMap<(String, String), Option<String>>,
}

impl ReadCache {
    /// A cache that starts enabled (one process owns the data) or disabled (until [`follow`] has
    /// started listening).
    pub fn new(enabled: bool) -> Self {
        Self {
            inner: Mutex::new(Inner {
                enabled,
                generation: 0,
                workflows: HashMap::new(),
                api_keys: HashMap::new(),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.lock().expect("lock poisoned").enabled
    }

    /// The generation to pass back to `put_*` after reading the database.
    pub fn generation(&self) -> u64 {
        self.inner.lock().expect("lock poisoned").generation
    }

    /// Forgets everything (after a write that may change workflows or keys).
    pub fn invalidate(&self) {
        let enabled = self.inner.lock().expect("lock poisoned").enabled;
        self.reset(enabled);
    }

    /// Forgets everything and allows or forbids new entries.
    fn reset(&self, enabled: bool) {
        let mut inner = self.inner.lock().expect("lock poisoned");
        inner.enabled = enabled;
        inner.generation += 1;
        inner.workflows.clear();
        inner.api_keys.clear();
    }

    pub fn workflow(&self, id: &str) -> Option<Option<WorkflowRow>> {
        self.inner
            .lock()
            .expect("lock poisoned")
            .workflows
            .get(id)
            .cloned()
    }

    pub fn put_workflow(&self, generation: u64, id: &str, row: Option<WorkflowRow>) {
        let mut inner = self.inner.lock().expect("lock poisoned");
        if inner.enabled && inner.generation == generation {
            if inner.workflows.len() >= MAX_ENTRIES {
                inner.workflows.clear();
            }
            inner.workflows.insert(id.to_string(), row);
        }
    }

    pub fn api_key(&self, org_id: &str, name: &str) -> Option<Option<String>> {
        self.inner
            .lock()
            .expect("lock poisoned")
            .api_keys
            .get(&(org_id.to_string(), name.to_string()))
            .cloned()
    }

    pub fn put_api_key(&self, generation: u64, org_id: &str, name: &str, hash: Option<String>) {
        let mut inner = self.inner.lock().expect("lock poisoned");
        if inner.enabled && inner.generation == generation {
            if inner.api_keys.len() >= MAX_ENTRIES {
                inner.api_keys.clear();
            }
            inner
                .api_keys
                .insert((org_id.to_string(), name.to_string()), hash);
        }
    }
}

/// Follows [`CACHE_CHANNEL`] for as long as the store lives: the cache is enabled once this
/// process listens, emptied on every notification, and disabled whenever the listening connection
/// is lost (notifications sent meanwhile are lost with it) until a new one listens.
pub(crate) async fn follow(url: String, cache: Arc<ReadCache>) {
    let mut was_listening = true; // so that not listening at start-up is reported too
    loop {
        if let Ok(mut listener) = PgListener::connect(&url).await {
            if listener.listen(CACHE_CHANNEL).await.is_ok() {
                // Anything read before this point may predate a change nobody told us about.
                cache.reset(true);
                if !was_listening {
                    tracing::info!("listening for cache notifications again");
                }
                was_listening = true;
                while let Ok(Some(_)) = listener.try_recv().await {
                    cache.invalidate();
                }
            }
        }
        cache.reset(false);
        if was_listening {
            tracing::warn!(
                "not listening for cache notifications; webhook reads go to the database until it is back"
            );
        }
        was_listening = false;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
