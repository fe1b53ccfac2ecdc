//! The durable executor. Executions and steps are rows; a worker claims an execution (a lease in
//! the database), runs its ready nodes, and commits each step's result together with the
//! execution's new state in one transaction, fenced by the lease. Waiting executions hold no task:
//! they are rows with a `wake_at` that the dispatcher claims when the time or a decision comes.

mod create;
pub mod plan;
mod redact;
mod run;
mod step;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowgate_model::{Templates, WorkflowDocument};
use flowgate_nodes::{Registry, Services};
use flowgate_store::{ExecStatus, Store, StoreError};
use tokio::sync::{Notify, Semaphore};

pub use create::{NewRun, TriggerEvent};

/// Tuning of the executor.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a claim lasts without a heartbeat before another worker may take over.
    pub lease: Duration,
    /// How often idle workers look for due work when nothing wakes them.
    pub poll_interval: Duration,
    /// Executions this process runs at once.
    pub max_concurrency: usize,
    /// A step's time limit when its node sets none.
    pub default_step_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { lease: Duration::from_secs(30), poll_interval: Duration::from_millis(500), max_concurrency: 512, default_step_timeout: Duration::from_secs(300) }
    }
}

/// Hooks for metrics; the server implements them.
pub trait Observer: Send + Sync + 'static {
    fn execution_started(&self) {}
    fn execution_finished(&self, status: ExecStatus) {
        let _ = status;
    }
    fn step_finished(&self, node_type: &str, status: &str, elapsed: Duration) {
        let _ = (node_type, status, elapsed);
    }
}

struct NoObserver;
impl Observer for NoObserver {}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

pub struct Engine {
    store: Store,
    registry: Arc<Registry>,
    templates: Arc<Templates>,
    services: Arc<Services>,
    owner: String,
    config: EngineConfig,
    work: Notify,
    permits: Arc<Semaphore>,
    documents: Mutex<HashMap<(String, i64), Arc<WorkflowDocument>>>,
    observer: Arc<dyn Observer>,
}

impl Engine {
    pub fn new(store: Store, registry: Arc<Registry>, templates: Arc<Templates>, services: Arc<Services>, config: EngineConfig) -> Self {
        Self {
            store,
            registry,
            templates,
            services,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            permits: Arc::new(Semaphore::new(config.max_concurrency)),
            config,
            work: Notify::new(),
            documents: Mutex::new(HashMap::new()),
            observer: Arc::new(NoObserver),
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn templates(&self) -> &Arc<Templates> {
        &self.templates
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// This process's identity in leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn now_ms(&self) -> i64 {
        self.services.clock.now_ms()
    }

    fn lease_until(&self) -> i64 {
        self.now_ms() + self.config.lease.as_millis() as i64
    }

    /// Tells the dispatcher to look for work now (a decision was recorded, a clock moved).
    pub fn wake(&self) {
        self.work.notify_one();
    }

    /// Runs the dispatcher and the lease heartbeat until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()> + Send) {
        let heartbeat = {
            let engine = self.clone();
            tokio::spawn(async move {
                let every = engine.config.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = engine.store.heartbeat(&engine.owner, engine.lease_until()).await {
                        tracing::warn!(error = %e, "lease heartbeat failed");
                    }
                }
            })
        };
        let dispatcher = {
            let engine = self.clone();
            tokio::spawn(async move { engine.dispatch_loop().await })
        };
        shutdown.await;
        heartbeat.abort();
        dispatcher.abort();
    }

    async fn dispatch_loop(self: Arc<Self>) {
        loop {
            let free = self.permits.available_permits();
            if free > 0 {
                match self.store.claim(&self.owner, self.now_ms(), self.lease_until(), free.min(256)).await {
                    Ok(claimed) => {
                        let full = claimed.len() == free.min(256);
                        for exec in claimed {
                            self.clone().spawn(exec, None);
                        }
                        if full {
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming work failed"),
                }
            }
            let _ = tokio::time::timeout(self.config.poll_interval, self.work.notified()).await;
        }
    }

    fn spawn(self: Arc<Self>, exec: flowgate_store::ExecutionRow, steps: Option<Vec<flowgate_store::StepRow>>) {
        tokio::spawn(async move {
            let Ok(_permit) = self.permits.clone().acquire_owned().await else { return };
            let id = exec.id.clone();
            if let Err(e) = self.run_execution(exec, steps).await {
                tracing::warn!(execution = %id, error = %e, "execution interrupted; it resumes when its lease expires");
            }
        });
    }

    /// The parsed document of one workflow version, cached.
    async fn document(&self, org_id: &str, workflow_id: &str, version: i64) -> Result<Arc<WorkflowDocument>, EngineError> {
        let key = (workflow_id.to_string(), version);
        if let Some(doc) = self.documents.lock().expect("lock poisoned").get(&key) {
            return Ok(doc.clone());
        }
        let row = self.store.workflow_version(org_id, workflow_id, version).await?.ok_or(StoreError::NotFound)?;
        let doc: WorkflowDocument = serde_json::from_value(row.document).map_err(|e| EngineError::Invalid(format!("stored document is invalid: {e}")))?;
        let doc = Arc::new(doc);
        self.documents.lock().expect("lock poisoned").insert(key, doc.clone());
        Ok(doc)
    }
}
