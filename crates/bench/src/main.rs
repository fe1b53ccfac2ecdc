//! `flowgate-bench`: drives real `flowgate serve` processes over HTTP on loopback and reports
//! accepted webhooks/s, finished executions/s, latencies and peak memory (issue 2, "Performance").
//!
//! `webhook` starts fresh servers (or targets `--url`), creates an API key and a 4-node workflow
//! (`--workflow`, see [`workflows`]), sends a bounded number of webhooks over a
//! bounded number of keep-alive connections, waits until every accepted execution has finished,
//! and prints a table and one JSON line per run (and the medians when `--runs` > 1).
//!
//! `park-approvals` parks executions at a Slack approval and reports what they cost in memory.

mod http;
mod load;
mod park_approvals;
mod report;
mod server;
mod workflows;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use hyper::Method;

use crate::http::{Api, Target};
use crate::report::RunReport;
use crate::server::{Fleet, Launch};

#[derive(Parser)]
#[command(
    name = "flowgate-bench",
    about = "Benchmarks a real Flowgate server over HTTP on loopback."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parks N executions at a Slack approval (in-process server, Slack stand-in in a child
    /// process) and reports the server's RSS and live tokio tasks before and after.
    ParkApprovals(park_approvals::Args),
    /// Runs the Slack stand-in and prints its Web API URL (used by park-approvals).
    #[command(hide = true)]
    SlackStandin,
    /// Runs the Spot stand-in and prints its base URL (used by `webhook --workflow enrich`).
    #[command(hide = true)]
    SpotStandin,
    /// Webhook throughput: accepted webhooks/s, finished 4-node executions/s, latencies, peak RSS.
    Webhook(WebhookArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct WebhookArgs {
    /// Webhooks to send per run (the run also stops at --duration).
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Concurrent keep-alive connections (each sends one webhook after the other).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Longest time to keep sending, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Longest time to wait, after sending, for the accepted executions to finish, in seconds.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// Runs, each against freshly started servers; medians are printed at the end.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Executions whose webhook-to-finished latency is read back through the API.
    #[arg(long, default_value_t = 500)]
    samples: u64,
    /// The `flowgate` binary to start [default: the one next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Database URL for the started servers [default: SQLite in a fresh temporary directory].
    #[arg(long)]
    database_url: Option<String>,
    /// `flowgate serve` processes to start; more than one needs a PostgreSQL --database-url.
    #[arg(long, default_value_t = 1)]
    processes: usize,
    /// Extra environment for the started servers, `KEY=VALUE` (repeatable).
    #[arg(long = "server-env", value_parser = parse_env)]
    server_env: Vec<(String, String)>,
    /// Keep the temporary data directories and server logs.
    #[arg(long)]
    keep_data: bool,
    /// Benchmark an already running server (loopback only) instead of starting one (repeatable).
    #[arg(long)]
    url: Vec<String>,
    /// Admin access token for --url.
    #[arg(long, env = "FLOWGATE_TOKEN")]
    token: Option<String>,
    /// Process ids of the --url servers, to report their peak RSS and CPU time (repeatable).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Tokio worker threads of the load generator (kept small: it shares the machine).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Print only the JSON lines.
    #[arg(long)]
    json: bool,
    /// The workflow the webhooks start: `compute` only computes (stored once, finished);
    /// `enrich` makes an HTTP call to a Spot stand-in (stored twice, with the call between).
    #[arg(long, value_enum, default_value = "compute")]
    workflow: workflows::BenchWorkflow,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Webhook(args) => args.client_threads.max(1),
        _ => 2,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match cli.command {
        Command::Webhook(args) => runtime.block_on(webhook(args)),
        Command::ParkApprovals(args) => runtime.block_on(park_approvals::run(args)),
        Command::SlackStandin => runtime.block_on(park_approvals::serve_standin()),
        Command::SpotStandin => runtime.block_on(workflows::serve_spot_standin()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn webhook(args: WebhookArgs) -> Result<()> {
    if args.concurrency == 0 || args.requests == 0 || args.runs == 0 {
        bail!("--requests, --concurrency and --runs must be at least 1");
    }
    let prepared = workflows::Prepared::start(args.workflow)?;
    let launch = Launch {
        binary: args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary),
        database_url: args.database_url.clone(),
        processes: args.processes.max(1),
        env: [args.server_env.clone(), prepared.server_env.clone()].concat(),
        keep_data: args.keep_data,
    };
    let backend = match args.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => "postgres",
        Some(_) => "sqlite",
        None if args.url.is_empty() => "sqlite",
        None => "unknown",
    };
    if !args.json {
        println!(
            "flowgate-bench webhook: backend {backend}, {} process(es), {} requests, {} connections, {} core(s)",
            if args.url.is_empty() { launch.processes } else { args.url.len() },
            args.requests,
            args.concurrency,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        println!("{}", report::header());
    }
    let mut reports = Vec::new();
    for run in 1..=args.runs {
        let report = if args.url.is_empty() {
            let mut fleet = Fleet::start(&launch).await?;
            let api = Api {
                target: fleet.servers[0].target.clone(),
                token: fleet.admin_token.clone(),
            };
            let result =
                one_run(&args, &prepared, run, &api, &fleet.targets(), &fleet.pids()).await;
            if result.is_err() {
                eprintln!("server log:\n{}", fleet.log_tail());
            }
            fleet.stop().await;
            result?
        } else {
            let mut targets = Vec::new();
            for u in &args.url {
                targets.push(Target::from_url(u).await?);
            }
            let token = args
                .token
                .clone()
                .context("--url needs --token (or FLOWGATE_TOKEN), an admin access token")?;
            let api = Api {
                target: targets[0].clone(),
                token,
            };
            one_run(&args, &prepared, run, &api, &targets, &args.server_pid).await?
        };
        let mut report = report;
        report.backend = backend.into();
        if !args.json {
            println!("{}", report.row(&run.to_string()));
        }
        reports.push(report);
    }
    for r in &reports {
        println!("{}", r.json());
    }
    if reports.len() > 1 {
        let m = RunReport::median(&reports);
        if !args.json {
            println!("{}", report::header());
            println!("{}", m.row("median"));
        }
        println!("{}", m.json());
    }
    if reports.iter().any(|r| r.unfinished > 0) {
        bail!("some accepted executions did not finish within --drain-timeout");
    }
    Ok(())
}

/// Creates an API key and the workflow; returns (workflow id, key).
async fn setup(api: &Api, prepared: &workflows::Prepared) -> Result<(String, String)> {
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let key = api
        .json(
            Method::POST,
            "/api/v1/api-keys",
            "application/json",
            serde_json::json!({ "name": name }).to_string(),
        )
        .await
        .context("creating the API key")?;
    let key = key["key"]
        .as_str()
        .context("no key in the answer")?
        .to_string();
    let wf = api
        .json(
            Method::POST,
            "/api/v1/workflows",
            "application/yaml",
            prepared.document(&name),
        )
        .await
        .context("creating the workflow")?;
    let id = wf["id"].as_str().context("no workflow id")?.to_string();
    Ok((id, key))
}

async fn one_run(
    args: &WebhookArgs,
    prepared: &workflows::Prepared,
    run: usize,
    api: &Api,
    targets: &[Target],
    pids: &[u32],
) -> Result<RunReport> {
    let (workflow_id, api_key) = setup(api, prepared).await?;
    let apis: Vec<Api> = targets
        .iter()
        .map(|t| Api {
            target: t.clone(),
            token: api.token.clone(),
        })
        .collect();
    let baseline = report::finished_total(&apis).await?;
    let cpu_before: Vec<f64> = pids
        .iter()
        .filter_map(|p| server::cpu_seconds(*p))
        .collect();
    let self_cpu_before = report::self_cpu_seconds();
    let cfg = load::LoadConfig {
        targets: targets.to_vec(),
        workflow_id,
        api_key,
        requests: args.requests,
        concurrency: args.concurrency,
        duration: Duration::from_secs(args.duration),
        sample_every: (args.requests / args.samples.max(1)).max(1),
    };
    let start = Instant::now();
    let load = tokio::spawn(load::run(cfg, start));
    let poll = Duration::from_millis(50);
    let mut finished_at_load_end = 0;
    while !load.is_finished() {
        tokio::time::sleep(poll).await;
        if let Ok(f) = report::finished_total(&apis).await {
            finished_at_load_end = f.total - baseline.total;
        }
    }
    let load = load.await??;
    let load_cpu = report::self_cpu_seconds() - self_cpu_before;
    let deadline = start + load.elapsed + Duration::from_secs(args.drain_timeout);
    let (finished, all_finished_after) = loop {
        let f = report::finished_total(&apis).await?;
        let n = f.total - baseline.total;
        if n >= load.accepted {
            break (f.minus(&baseline), start.elapsed());
        }
        if Instant::now() > deadline {
            break (f.minus(&baseline), start.elapsed());
        }
        tokio::time::sleep(poll).await;
    };
    let cpu_after: Vec<f64> = pids
        .iter()
        .filter_map(|p| server::cpu_seconds(*p))
        .collect();
    let peak_rss_kib: Vec<u64> = pids
        .iter()
        .filter_map(|p| server::peak_rss_kib(*p))
        .collect();
    let metrics = apis[0].metrics().await.unwrap_or_default();
    let e2e = report::sample_e2e(api, &load.sampled).await?;
    let mut r = RunReport::new(run, args, &load, &finished, all_finished_after, &e2e);
    r.finished_during_load_per_s = finished_at_load_end as f64 / load.elapsed.as_secs_f64();
    r.server_cpu_s = (cpu_before.len() == pids.len() && !pids.is_empty())
        .then(|| cpu_after.iter().sum::<f64>() - cpu_before.iter().sum::<f64>());
    r.bench_cpu_s = load_cpu;
    r.peak_rss_mib = (!peak_rss_kib.is_empty())
        .then(|| peak_rss_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0);
    r.step_mean_us = report::step_means(&metrics);
    if let Some(e) = &load.first_error {
        eprintln!("run {run}: first refused or failed request: {e}");
    }
    Ok(r)
}
