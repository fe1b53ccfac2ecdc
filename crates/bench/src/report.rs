//! Figures of a run: counters read from `/metrics`, latencies read back through the API,
//! percentiles and medians, and the table and JSON output.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};

use crate::http::Api;
use crate::load::LoadResult;
use crate::WebhookArgs;

/// Finished executions by status, summed over the servers.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
    /// Group-commit transactions and the write operations they carried.
    pub commits: u64,
    pub commit_ops: u64,
}

impl Finished {
    pub fn minus(&self, base: &Finished) -> Finished {
        let by_status = self
            .by_status
            .iter()
            .map(|(k, v)| (k.clone(), v - base.by_status.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .collect();
        Finished {
            total: self.total - base.total,
            by_status,
            commits: self.commits.saturating_sub(base.commits),
            commit_ops: self.commit_ops.saturating_sub(base.commit_ops),
        }
    }
}

/// Reads `flowgate_executions_finished_total{status=...}` from every server.
pub async fn finished_total(apis: &[Api]) -> Result<Finished> {
    let mut out = Finished::default();
    for api in apis {
        let text = api.metrics().await?;
        for line in text.lines() {
            let value = |l: &str| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0) as u64
            };
            if line.starts_with("flowgate_store_commits_total ") {
                out.commits += value(line);
            } else if line.starts_with("flowgate_store_commit_ops_total ") {
                out.commit_ops += value(line);
            }
            let Some(rest) = line.strip_prefix("flowgate_executions_finished_total{status=\"")
            else {
                continue;
            };
            let Some((status, value)) = rest.split_once("\"} ") else {
                continue;
            };
            let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
            out.total += n;
            *out.by_status.entry(status.to_string()).or_default() += n;
        }
    }
    Ok(out)
}

/// Mean step time by node type, in microseconds, from the step-duration histogram.
pub fn step_means(metrics: &str) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in metrics.lines() {
        let (kind, rest) = if let Some(r) = line.strip_prefix("flowgate_step_duration_seconds_sum{")
        {
            (0, r)
        } else if let Some(r) = line.strip_prefix("flowgate_step_duration_seconds_count{") {
            (1, r)
        } else {
            continue;
        };
        let Some(node) = rest
            .split("node_type=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let e = sums.entry(node.to_string()).or_default();
        if kind == 0 {
            e.0 += v;
        } else {
            e.1 += v;
        }
    }
    sums.into_iter()
        .filter(|(_, (_, n))| *n > 0.0)
        .map(|(k, (s, n))| (k, (s / n * 1e6 * 10.0).round() / 10.0))
        .collect()
}

/// Webhook-to-finished latencies of the sampled executions, and what looked wrong about them.
#[derive(Debug, Default)]
pub struct E2e {
    pub latencies_ms: Vec<f64>,
    pub anomalies: Vec<String>,
}

pub async fn sample_e2e(api: &Api, ids: &[String]) -> Result<E2e> {
    let mut out = E2e::default();
    for id in ids {
        let e = api.get(&format!("/api/v1/executions/{id}")).await?;
        let steps = e["steps"].as_array().map_or(0, Vec::len);
        if e["status"] != "stopped" || steps != 4 {
            out.anomalies
                .push(format!("{id}: status {} with {steps} steps", e["status"]));
        }
        let t = |k: &str| {
            e[k].as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.timestamp_millis())
        };
        if let (Some(a), Some(b)) = (t("created_at"), t("finished_at")) {
            out.latencies_ms.push((b - a) as f64);
        }
    }
    Ok(out)
}

pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)])
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 50.0)
}

/// CPU time this process (the load generator) has used, in seconds.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The figures of one run (or the medians of several).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub run: String,
    pub backend: String,
    pub processes: usize,
    pub requests: u64,
    pub concurrency: usize,
    pub accepted: u64,
    pub errors: u64,
    pub send_s: f64,
    pub accepted_per_s: f64,
    pub finished: u64,
    pub not_stopped: u64,
    pub unfinished: u64,
    pub all_finished_s: f64,
    pub finished_per_s: f64,
    pub finished_during_load_per_s: f64,
    pub commits_per_s: f64,
    pub ops_per_commit: f64,
    pub webhook_p50_ms: Option<f64>,
    pub webhook_p99_ms: Option<f64>,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub e2e_samples: usize,
    pub anomalies: usize,
    pub peak_rss_mib: Option<f64>,
    pub server_cpu_s: Option<f64>,
    pub bench_cpu_s: f64,
    pub step_mean_us: BTreeMap<String, f64>,
}

impl RunReport {
    pub fn new(
        run: usize,
        args: &WebhookArgs,
        load: &LoadResult,
        finished: &Finished,
        all_finished_after: Duration,
        e2e: &E2e,
    ) -> Self {
        let mut lat: Vec<f64> = load
            .latencies_us
            .iter()
            .map(|us| *us as f64 / 1000.0)
            .collect();
        lat.sort_by(|a, b| a.total_cmp(b));
        let mut e2e_lat = e2e.latencies_ms.clone();
        e2e_lat.sort_by(|a, b| a.total_cmp(b));
        for a in e2e.anomalies.iter().take(5) {
            eprintln!("run {run}: unexpected execution {a}");
        }
        let send_s = load.elapsed.as_secs_f64();
        let all_s = all_finished_after.as_secs_f64();
        RunReport {
            run: run.to_string(),
            backend: String::new(),
            processes: if args.url.is_empty() {
                args.processes.max(1)
            } else {
                args.url.len()
            },
            requests: args.requests,
            concurrency: args.concurrency,
            accepted: load.accepted,
            errors: load.errors.values().sum(),
            send_s,
            accepted_per_s: load.accepted as f64 / send_s,
            finished: finished.total,
            not_stopped: finished
                .by_status
                .iter()
                .filter(|(k, _)| k.as_str() != "stopped")
                .map(|(_, v)| v)
                .sum(),
            unfinished: load.accepted.saturating_sub(finished.total),
            all_finished_s: all_s,
            finished_per_s: finished.total.min(load.accepted) as f64 / all_s,
            finished_during_load_per_s: 0.0,
            commits_per_s: finished.commits as f64 / all_s,
            ops_per_commit: finished.commit_ops as f64 / (finished.commits.max(1)) as f64,
            webhook_p50_ms: percentile(&lat, 50.0),
            webhook_p99_ms: percentile(&lat, 99.0),
            e2e_p50_ms: percentile(&e2e_lat, 50.0),
            e2e_p99_ms: percentile(&e2e_lat, 99.0),
            e2e_samples: e2e_lat.len(),
            anomalies: e2e.anomalies.len(),
            peak_rss_mib: None,
            server_cpu_s: None,
            bench_cpu_s: 0.0,
            step_mean_us: BTreeMap::new(),
        }
    }

    /// The median of every figure over several runs.
    pub fn median(runs: &[RunReport]) -> RunReport {
        let m = |f: &dyn Fn(&RunReport) -> f64| median(runs.iter().map(f).collect()).unwrap_or(0.0);
        let mo =
            |f: &dyn Fn(&RunReport) -> Option<f64>| median(runs.iter().filter_map(f).collect());
        let first = &runs[0];
        let mut steps: BTreeMap<String, f64> = BTreeMap::new();
        for k in first.step_mean_us.keys() {
            if let Some(v) = median(
                runs.iter()
                    .filter_map(|r| r.step_mean_us.get(k).copied())
                    .collect(),
            ) {
                steps.insert(k.clone(), v);
            }
        }
        RunReport {
            run: format!("median of {}", runs.len()),
            backend: first.backend.clone(),
            processes: first.processes,
            requests: first.requests,
            concurrency: first.concurrency,
            accepted: m(&|r| r.accepted as f64) as u64,
            errors: runs.iter().map(|r| r.errors).sum(),
            send_s: m(&|r| r.send_s),
            accepted_per_s: m(&|r| r.accepted_per_s),
            finished: m(&|r| r.finished as f64) as u64,
            not_stopped: runs.iter().map(|r| r.not_stopped).sum(),
            unfinished: runs.iter().map(|r| r.unfinished).sum(),
            all_finished_s: m(&|r| r.all_finished_s),
            finished_per_s: m(&|r| r.finished_per_s),
            finished_during_load_per_s: m(&|r| r.finished_during_load_per_s),
            commits_per_s: m(&|r| r.commits_per_s),
            ops_per_commit: m(&|r| r.ops_per_commit),
            webhook_p50_ms: mo(&|r| r.webhook_p50_ms),
            webhook_p99_ms: mo(&|r| r.webhook_p99_ms),
            e2e_p50_ms: mo(&|r| r.e2e_p50_ms),
            e2e_p99_ms: mo(&|r| r.e2e_p99_ms),
            e2e_samples: runs.iter().map(|r| r.e2e_samples).sum(),
            anomalies: runs.iter().map(|r| r.anomalies).sum(),
            peak_rss_mib: mo(&|r| r.peak_rss_mib),
            server_cpu_s: mo(&|r| r.server_cpu_s),
            bench_cpu_s: m(&|r| r.bench_cpu_s),
            step_mean_us: steps,
        }
    }

    pub fn row(&self, label: &str) -> String {
        let o = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        format!(
            "{:<8} {:>8} {:>6} {:>10.0} {:>10.0} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7.2} {:>8.0} {:>6.1}",
            label,
            self.accepted,
            self.errors,
            self.accepted_per_s,
            self.finished_per_s,
            o(self.webhook_p50_ms, 2),
            o(self.webhook_p99_ms, 2),
            o(self.e2e_p50_ms, 0),
            o(self.e2e_p99_ms, 0),
            o(self.peak_rss_mib, 1),
            o(self.server_cpu_s, 2),
            self.bench_cpu_s,
            self.commits_per_s,
            self.ops_per_commit,
        )
    }

    pub fn json(&self) -> String {
        let v: Value = json!({
            "bench": "webhook",
            "run": self.run,
            "backend": self.backend,
            "processes": self.processes,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "accepted": self.accepted,
            "errors": self.errors,
            "send_s": round3(self.send_s),
            "accepted_per_s": self.accepted_per_s.round(),
            "finished": self.finished,
            "finished_not_stopped": self.not_stopped,
            "unfinished": self.unfinished,
            "all_finished_s": round3(self.all_finished_s),
            "finished_per_s": self.finished_per_s.round(),
            "finished_during_load_per_s": self.finished_during_load_per_s.round(),
            "commits_per_s": self.commits_per_s.round(),
            "ops_per_commit": (self.ops_per_commit * 10.0).round() / 10.0,
            "webhook_p50_ms": self.webhook_p50_ms.map(round3),
            "webhook_p99_ms": self.webhook_p99_ms.map(round3),
            "e2e_p50_ms": self.e2e_p50_ms,
            "e2e_p99_ms": self.e2e_p99_ms,
            "e2e_samples": self.e2e_samples,
            "sample_anomalies": self.anomalies,
            "peak_rss_mib": self.peak_rss_mib.map(|v| (v * 10.0).round() / 10.0),
            "server_cpu_s": self.server_cpu_s.map(round3),
            "bench_cpu_s": round3(self.bench_cpu_s),
            "step_mean_us": self.step_mean_us,
        });
        v.to_string()
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub fn header() -> String {
    format!(
        "{:<8} {:>8} {:>6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}",
        "run",
        "accepted",
        "errors",
        "accepted/s",
        "finished/s",
        "202 p50",
        "202 p99",
        "e2e p50",
        "e2e p99",
        "RSS MiB",
        "srv CPU",
        "gen CPU"
    ) + "\n"
        + &format!(
            "{:<8} {:>8} {:>6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>8} {:>6}",
            "", "", "", "", "", "ms", "ms", "ms", "ms", "peak", "s", "s", "", ""
        )
}
