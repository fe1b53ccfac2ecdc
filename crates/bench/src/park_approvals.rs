//! Park N executions at a `slack.approval` step and report the server's memory before and after.
//! The server runs in this process; the Slack stand-in runs in a child process so that the
//! messages it records do not count against the server.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::Row;

use flowgate_server::{Options, Settings};
use flowgate_standins::slack::{SlackStandin, BOT_TOKEN, SIGNING_SECRET};

const ADMIN: &str = "fgt_bench-admin-token";

#[derive(clap::Args)]
pub struct Args {
    /// Executions to park.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Webhook requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Executions parked before the first measurement (warms pools and caches).
    #[arg(long, default_value_t = 500)]
    warmup: usize,
}

/// The hidden `slack-standin` subcommand: serve until killed.
pub async fn serve_standin() -> anyhow::Result<()> {
    let standin = SlackStandin::start().await;
    println!("{}", standin.api_url());
    std::future::pending::<()>().await;
    drop(standin);
    Ok(())
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn workflow(channel: &str) -> String {
    format!(
        "name: Park\ndescription: waits for an approval\nnodes:\n  - id: trigger_1\n    type: trigger.webhook\n    params: {{ api_key: bench }}\n  - id: approval_1\n    type: slack.approval\n    params:\n      integration: bench-slack\n      channel: {channel}\n      notes: \"Scale down {{{{ trigger_1.output.Elastigroup_Id }}}} by 2?\"\n      timeout: 7d\n  - id: done\n    type: core.transform\n    params: {{ value: ok }}\nedges:\n  - {{ from: trigger_1, to: approval_1 }}\n  - {{ from: approval_1, port: approved, to: done }}\n"
    )
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let resp = http
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path}: {status} {value}");
    }
    Ok(value)
}

async fn pending(pool: &sqlx::AnyPool) -> anyhow::Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending'")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get::<i64, _>("n")?)
}

/// Fires `n` alerts and waits until `target` approvals are pending.
async fn park(
    http: &reqwest::Client,
    hook: &str,
    key: &str,
    n: usize,
    concurrency: usize,
    pool: &sqlx::AnyPool,
    target: i64,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..n)
        .map(|i| async move {
            let body = json!({ "Elastigroup_Id": format!("sig-{i:08x}"), "MTD_Spend": "3.8", "Budget": "4.0" });
            let r = http.post(hook).header("x-api-key", key).json(&body).send().await?;
            if r.status().as_u16() != 202 {
                bail!("webhook answered {}", r.status());
            }
            Ok(())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<()>>()?;
    let until = Instant::now() + Duration::from_secs(3600);
    loop {
        let now = pending(pool).await?;
        if now >= target {
            return Ok(());
        }
        if Instant::now() > until {
            bail!("only {now} of {target} approvals pending after an hour");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (_standin, slack_api) = crate::workflows::start_child("slack-standin")?;
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        admin_token: Some(ADMIN.into()),
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let options = Options {
        print_token: false,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = flowgate_server::start(settings, Some(listener), options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = format!("http://{}", running.addr);
    let pool = running.state.store.pool().clone();
    let http = reqwest::Client::new();

    let key = call(
        &http,
        &base,
        "/api/v1/api-keys",
        &json!({ "name": "bench" }),
    )
    .await?["key"]
        .as_str()
        .context("key")?
        .to_string();
    let integration = json!({ "type": "slack", "alias": "bench-slack", "config": { "base_url": slack_api },
        "secrets": { "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET } });
    call(&http, &base, "/api/v1/integrations", &integration).await?;
    let resp = http
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(ADMIN)
        .header("Content-Type", "application/yaml")
        .body(workflow("C0OPS"))
        .send()
        .await?;
    let wf: Value = resp.json().await?;
    let id = wf["id"].as_str().context("workflow id")?;
    let hook = format!("{base}/webhooks/{id}");

    let started = Instant::now();
    park(
        &http,
        &hook,
        &key,
        args.warmup,
        args.concurrency,
        &pool,
        args.warmup as i64,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss0, hwm0) = memory_kib();
    let tasks0 = tasks();
    println!(
        "before: {} waiting, VmRSS {rss0} KiB, VmHWM {hwm0} KiB, tokio tasks {tasks0}",
        args.warmup
    );

    let t = Instant::now();
    let target = (args.warmup + args.count) as i64;
    park(
        &http,
        &hook,
        &key,
        args.count,
        args.concurrency,
        &pool,
        target,
    )
    .await?;
    let took = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss1, hwm1) = memory_kib();
    let tasks1 = tasks();
    let waiting: i64 = sqlx::query("SELECT COUNT(*) AS n FROM executions WHERE status = 'waiting'")
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    println!("after:  {waiting} waiting, VmRSS {rss1} KiB, VmHWM {hwm1} KiB, tokio tasks {tasks1}");
    let growth = rss1 as i64 - rss0 as i64;
    println!(
        "parked {} in {:.1} s ({:.0}/s); RSS growth {:.1} MiB = {:.0} bytes per waiting execution; HWM growth {:.1} MiB; tasks {tasks0} -> {tasks1}; total {:.0} s",
        args.count,
        took.as_secs_f64(),
        args.count as f64 / took.as_secs_f64(),
        growth as f64 / 1024.0,
        growth as f64 * 1024.0 / args.count as f64,
        (hwm1 as i64 - hwm0 as i64) as f64 / 1024.0,
        started.elapsed().as_secs_f64(),
    );
    let _ = running.shutdown.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), running.task).await;
    Ok(())
}
