//! The durable executor. Executions and steps are rows; a worker claims an execution (a lease in
//! the database), runs its ready nodes, and commits each step's result together with the
//! execution's new state in one transaction, fenced by the lease. Waiting executions hold no task:
//! they are rows with a `wake_at` that the dispatcher claims when the time or a decision comes.

mod apply;
mod create;
mod looping;
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
        Self {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_concurrency: 512,
            default_step_timeout: Duration::from_secs(300),
        }
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
    /// Executions this process is running now. Leases fence other processes, not this one: a
    /// claim of an execution whose lease lapsed while this process still runs it (a late
    /// heartbeat) must not start a second run here, or both would pass the same fence.
    active: Mutex<std::collections::HashSet<String>>,
}

impl Engine {
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        templates: Arc<Templates>,
        services: Arc<Services>,
        config: EngineConfig,
    ) -> Self {
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
            active: Mutex::new(Default::default()),
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
                    let running: Vec<String> = engine
                        .active
                        .lock()
                        .expect("lock poisoned")
                        .iter()
                        .cloned()
                        .collect();
                    if let Err(e) = engine
                        .store
                        .heartbeat(&engine.owner, running, engine.lease_until())
                        .await
                    {
                        tracing::warn!(error = %e, "lease heartbeat failed");
                    }
                }
            })
        };
        let dispatcher = {
            let engine = self.clone();
            tokio::spawn(async move { engine.dispatch_loop().await })
        };
        let listener = {
            let engine = self.clone();
            tokio::spawn(async move { engine.listen_for_work().await })
        };
        shutdown.await;
        heartbeat.abort();
        dispatcher.abort();
        listener.abort();
    }

    /// On PostgreSQL, wakes the dispatcher when another process announces work (a decision).
    async fn listen_for_work(self: Arc<Self>) {
        let mut listener = match self.store.work_listener().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for work notifications; polling only");
                return;
            }
        };
        loop {
            match listener.recv().await {
                Ok(_) => self.work.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "work notifications interrupted; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn dispatch_loop(self: Arc<Self>) {
        loop {
            let free = self.permits.available_permits();
            if free > 0 {
                match self
                    .store
                    .claim(
                        &self.owner,
                        self.now_ms(),
                        self.lease_until(),
                        free.min(256),
                    )
                    .await
                {
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

    fn spawn(
        self: Arc<Self>,
        exec: flowgate_store::ExecutionRow,
        steps: Option<Vec<flowgate_store::StepRow>>,
    ) {
        if !self
            .active
            .lock()
            .expect("lock poisoned")
            .insert(exec.id.clone())
        {
            return; // already running here; the claim only renewed its lease
        }
        tokio::spawn(async move {
            let _active = ActiveGuard {
                engine: self.clone(),
                id: exec.id.clone(),
            };
            let Ok(_permit) = self.permits.clone().acquire_owned().await else {
                return;
            };
            // A database outage interrupts a run: try again (from the committed steps) until it
            // ends or another process has taken the execution over (then commits are fenced).
            let mut steps = steps;
            let mut delay = Duration::from_millis(250);
            loop {
                match self.clone().run_execution(exec.clone(), steps.take()).await {
                    Ok(()) => break,
                    Err(EngineError::Invalid(e)) => {
                        tracing::error!(execution = %exec.id, error = %e, "execution cannot run");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(execution = %exec.id, error = %e, retry_in_ms = delay.as_millis() as u64, "execution interrupted; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(15));
                    }
                }
            }
        });
    }

    /// The parsed document of one workflow version, cached.
    async fn document(
        &self,
        org_id: &str,
        workflow_id: &str,
        version: i64,
    ) -> Result<Arc<WorkflowDocument>, EngineError> {
        let key = (workflow_id.to_string(), version);
        if let Some(doc) = self.documents.lock().expect("lock poisoned").get(&key) {
            return Ok(doc.clone());
        }
        let row = self
            .store
            .workflow_version(org_id, workflow_id, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        let doc: WorkflowDocument = serde_json::from_value(row.document)
            .map_err(|e| EngineError::Invalid(format!("stored document is invalid: {e}")))?;
        let doc = Arc::new(doc);
        self.documents
            .lock()
            .expect("lock poisoned")
            .insert(key, doc.clone());
        Ok(doc)
    }
}

/// Forgets an execution in `Engine::active` when its run ends, however it ends.
struct ActiveGuard {
    engine: Arc<Engine>,
    id: String,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.engine
            .active
            .lock()
            .expect("lock poisoned")
            .remove(&self.id);
    }
}
