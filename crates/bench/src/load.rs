//! The webhook load: a bounded number of keep-alive connections, each sending one webhook after
//! the other until the request budget or the time budget is spent, recording each 202's latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use hyper::Method;

use crate::http::{Conn, Target};

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub targets: Vec<Target>,
    pub workflow_id: String,
    pub api_key: String,
    pub requests: u64,
    pub concurrency: usize,
    pub duration: Duration,
    /// Keep the execution id of every n-th accepted webhook.
    pub sample_every: u64,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub accepted: u64,
    /// Refused or failed requests by status code or error kind.
    pub errors: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    /// Latency of each 202, in microseconds.
    pub latencies_us: Vec<u32>,
    pub elapsed: Duration,
    pub sampled: Vec<String>,
}

struct Worker {
    accepted: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
    sampled: Vec<String>,
}

pub async fn run(cfg: LoadConfig, start: Instant) -> Result<LoadResult> {
    let issued = Arc::new(AtomicU64::new(0));
    let accepted_total = Arc::new(AtomicU64::new(0));
    let cfg = Arc::new(cfg);
    let mut tasks = Vec::with_capacity(cfg.concurrency);
    for w in 0..cfg.concurrency {
        let (cfg, issued, accepted_total) = (cfg.clone(), issued.clone(), accepted_total.clone());
        tasks.push(tokio::spawn(async move {
            worker(w, &cfg, &issued, &accepted_total, start).await
        }));
    }
    let mut out = LoadResult::default();
    for t in tasks {
        let w = t.await?;
        out.accepted += w.accepted;
        for (k, v) in w.errors {
            *out.errors.entry(k).or_default() += v;
        }
        if out.first_error.is_none() {
            out.first_error = w.first_error;
        }
        out.latencies_us.extend(w.latencies_us);
        out.sampled.extend(w.sampled);
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

async fn worker(
    index: usize,
    cfg: &LoadConfig,
    issued: &AtomicU64,
    accepted_total: &AtomicU64,
    start: Instant,
) -> Worker {
    let target = &cfg.targets[index % cfg.targets.len()];
    let path = format!("/webhooks/{}", cfg.workflow_id);
    let mut w = Worker {
        accepted: 0,
        errors: BTreeMap::new(),
        first_error: None,
        latencies_us: Vec::with_capacity((cfg.requests as usize / cfg.concurrency.max(1)) + 16),
        sampled: Vec::new(),
    };
    let mut conn: Option<Conn> = None;
    loop {
        let i = issued.fetch_add(1, Ordering::Relaxed);
        if i >= cfg.requests || start.elapsed() >= cfg.duration {
            break;
        }
        if conn.is_none() {
            match Conn::connect(target).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    w.error("connect", &e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let body = Bytes::from(format!(
            r#"{{"alert":{{"severity":"high","host":"web-{}","seq":{i},"region":"eu-west-1"}}}}"#,
            i % 97
        ));
        let sent = Instant::now();
        let result = conn
            .as_mut()
            .expect("connected above")
            .send(
                Method::POST,
                &path,
                &[
                    ("content-type", "application/json"),
                    ("x-api-key", &cfg.api_key),
                ],
                body,
            )
            .await;
        match result {
            Ok((status, bytes)) if status.as_u16() == 202 => {
                w.latencies_us
                    .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                w.accepted += 1;
                let n = accepted_total.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(cfg.sample_every) {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                        if let Some(id) = v["execution_id"].as_str() {
                            w.sampled.push(id.to_string());
                        }
                    }
                }
            }
            Ok((status, bytes)) => {
                let msg = anyhow::anyhow!("{status}: {}", String::from_utf8_lossy(&bytes));
                w.error(status.as_str(), &msg);
            }
            Err(e) => {
                w.error("io", &e);
                conn = None;
            }
        }
    }
    w
}

impl Worker {
    fn error(&mut self, kind: &str, e: &anyhow::Error) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{e:#}"));
        }
    }
}
