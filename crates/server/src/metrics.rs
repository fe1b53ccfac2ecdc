//! Prometheus metrics: executions started and finished by status, step durations by node type,
//! queue depth (read at scrape time), webhook responses by status code.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use flowgate_engine::Observer;
use flowgate_store::ExecStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node_type: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    started: Counter,
    finished: Family<StatusLabel, Counter>,
    steps: Family<NodeLabel, Histogram>,
    webhooks: Family<CodeLabel, Counter>,
    queue_depth: Gauge,
    cache_enabled: Gauge,
    commits: Counter,
    commit_ops: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("flowgate");
        let started = Counter::default();
        let finished = Family::<StatusLabel, Counter>::default();
        let steps = Family::<NodeLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 4.0, 10))
        });
        let webhooks = Family::<CodeLabel, Counter>::default();
        let queue_depth = Gauge::default();
        let cache_enabled = Gauge::default();
        let commits = Counter::default();
        let commit_ops = Counter::default();
        registry.register("executions_started", "Executions started", started.clone());
        registry.register(
            "executions_finished",
            "Executions finished, by status",
            finished.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Time steps took, by node type and outcome",
            steps.clone(),
        );
        registry.register(
            "webhook_responses",
            "Webhook responses, by HTTP status code",
            webhooks.clone(),
        );
        registry.register(
            "queue_depth",
            "Executions queued or running",
            queue_depth.clone(),
        );
        registry.register(
            "webhook_cache_enabled",
            "1 while the webhook read cache is in use (with PostgreSQL: while this process listens for other processes' changes)",
            cache_enabled.clone(),
        );
        registry.register(
            "store_commits",
            "Group-commit transactions committed",
            commits.clone(),
        );
        registry.register(
            "store_commit_ops",
            "Write operations carried by the group commits",
            commit_ops.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            started,
            finished,
            steps,
            webhooks,
            queue_depth,
            cache_enabled,
            commits,
            commit_ops,
        }
    }

    /// Brings the group-commit counters up to the store's (read at scrape time).
    pub fn set_write_stats(&self, (commits, ops): (u64, u64)) {
        self.commits
            .inc_by(commits.saturating_sub(self.commits.get()));
        self.commit_ops
            .inc_by(ops.saturating_sub(self.commit_ops.get()));
    }

    pub fn webhook_response(&self, code: u16) {
        self.webhooks
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
    }

    pub fn set_queue_depth(&self, depth: i64) {
        self.queue_depth.set(depth);
    }

    pub fn set_cache_enabled(&self, enabled: bool) {
        self.cache_enabled.set(i64::from(enabled));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry.lock().expect("lock poisoned"))
            .expect("encoding to a string does not fail");
        out
    }
}

impl Observer for Metrics {
    fn execution_started(&self) {
        self.started.inc();
    }

    fn execution_finished(&self, status: ExecStatus) {
        self.finished
            .get_or_create(&StatusLabel {
                status: status.as_str().into(),
            })
            .inc();
    }

    fn step_finished(&self, node_type: &str, status: &str, elapsed: Duration) {
        self.steps
            .get_or_create(&NodeLabel {
                node_type: node_type.into(),
                status: status.into(),
            })
            .observe(elapsed.as_secs_f64());
    }
}
