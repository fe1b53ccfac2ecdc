//! A read cache for the webhook hot path (a workflow row by id, an API key hash by name), used
//! only with SQLite, where one process owns the database. Every write through the store except
//! the executor's own (executions, steps, leases) empties it, so it can never serve a workflow or
//! key older than the last committed change; the generation check keeps a read that raced a
//! write from being cached.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::WorkflowRow;

const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    workflows: HashMap<String, Option<WorkflowRow>>,
    api_keys: HashMap<(String, String), Option<String>>,
}

impl ReadCache {
    /// The generation to pass back to `put_*` after reading the database.
    pub fn generation(&self) -> u64 {
        self.inner.lock().expect("lock poisoned").generation
    }

    /// Forgets everything (after a write that may change workflows or keys).
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock().expect("lock poisoned");
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
        if inner.generation == generation {
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
        if inner.generation == generation {
            if inner.api_keys.len() >= MAX_ENTRIES {
                inner.api_keys.clear();
            }
            inner
                .api_keys
                .insert((org_id.to_string(), name.to_string()), hash);
        }
    }
}
