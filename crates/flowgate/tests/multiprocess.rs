//! Several `flowgate serve` processes on one PostgreSQL share the work and survive faults: one is
//! SIGKILLed and restarted mid-stream, another SIGSTOPped for longer than a lease and resumed.
//! Every execution that got a 202 must finish exactly once, with no step recorded twice, and no
//! non-idempotent call (a Spot scale-up, one group per execution) may reach Spot twice.
//! Needs `FLOWGATE_TEST_POSTGRES_URL` (scripts/test.sh starts a server); skipped without it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ADMIN: &str = "multiprocess-admin-token";
const MASTER_KEY: &str = "q83vEjV1Plq3j9qLO8DTnOb2n3c5Vq4J0V0eX1yqVJ4=";
const LEASE_SECONDS: u64 = 3;

struct Proc {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn spawn(db: &str, port: u16, dir: &tempfile::TempDir) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("serve")
        .env("FLOWGATE_DATABASE_URL", db)
        .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("FLOWGATE_DATA_DIR", dir.path())
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN)
        .env("FLOWGATE_MASTER_KEY", MASTER_KEY)
        .env("FLOWGATE_LEASE_SECONDS", LEASE_SECONDS.to_string())
        .env("FLOWGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flowgate serve")
}

async fn wait_healthy(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flowgate on port {port} did not become ready");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

async fn fresh_database(admin_url: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("mp_{}", std::process::id());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .unwrap();
    let _ = sqlx::Executor::execute(
        &mut conn,
        format!("DROP DATABASE IF EXISTS {name}").as_str(),
    )
    .await;
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    format!("{}/{name}", &admin_url[..admin_url.rfind('/').unwrap()])
}

const WORKFLOW: &str = r#"
name: Shared work
description: four steps, run by whichever process holds the execution
nodes:
  - {id: trigger_1, type: trigger.webhook, params: {api_key: load}}
  - {id: pick, type: core.jsonpath, params: {json_object: "{{ trigger_1.output }}", json_path: "$.n"}}
  - {id: scale, type: spot.elastigroup_aws, params: {integration: spot, account_id: act-12345678, operation: scale_up, group_id: "sig-{{ pick.output }}", adjustment: 1}}
  - {id: stop_1, type: core.stop}
edges:
  - {from: trigger_1, to: pick}
  - {from: pick, to: scale}
  - {from: scale, to: stop_1}
"#;

const SPOT_TOKEN: &str = "spot-multiprocess-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_share_work_through_kills_and_pauses() {
    let Ok(admin_url) = std::env::var("FLOWGATE_TEST_POSTGRES_URL") else {
        eprintln!(
            "FLOWGATE_TEST_POSTGRES_URL is not set: skipping the multi-process PostgreSQL test"
        );
        return;
    };
    let db = fresh_database(&admin_url).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut procs: Vec<Proc> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let port = common::free_port();
            Proc {
                child: spawn(&db, port, &dir),
                port,
                dir,
            }
        })
        .collect();
    for p in &procs {
        wait_healthy(&http, p.port).await;
    }
    let base = format!("http://127.0.0.1:{}", procs[0].port);
    // The CI run is short; scripts/fault-soak.sh runs a longer one (more webhooks, more rounds).
    let total: usize = std::env::var("FLOWGATE_FAULT_WEBHOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    let rounds: usize = std::env::var("FLOWGATE_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let round_len = (total / rounds).max(3);
    let started = Instant::now();
    let spot = flowgate_standins::spot::SpotStandin::start(SPOT_TOKEN).await;
    spot.add_account("act-12345678", "load");
    for n in 0..total {
        spot.add_group(
            "act-12345678",
            &format!("sig-{n}"),
            &format!("group {n}"),
            flowgate_standins::spot::Capacity {
                minimum: 0,
                maximum: 10,
                target: 1,
            },
        );
    }
    let integration = json!({"type": "spot", "alias": "spot", "config": {"base_url": spot.base_url()}, "secrets": {"token": SPOT_TOKEN}});
    let created = http
        .post(format!("{base}/api/v1/integrations"))
        .bearer_auth(ADMIN)
        .json(&integration)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let key = common::create_api_key(&http, &base, ADMIN, "load").await;
    let wf = common::create_workflow(&http, &base, ADMIN, WORKFLOW).await;

    let mut accepted = Vec::new();
    let mut stopped_at: Option<Instant> = None;
    for i in 0..total {
        if i % round_len == round_len / 3 {
            procs[1].child.kill().unwrap();
            procs[1].child.wait().unwrap();
            procs[1].child = spawn(&db, procs[1].port, &procs[1].dir);
            wait_healthy(&http, procs[1].port).await;
        }
        if i % round_len == round_len / 2 && stopped_at.is_none() {
            signal(&procs[2].child, "-STOP");
            stopped_at = Some(Instant::now());
        }
        if stopped_at.is_some_and(|t| t.elapsed() > Duration::from_secs(LEASE_SECONDS * 2)) {
            signal(&procs[2].child, "-CONT");
            stopped_at = None;
        }
        let target = if stopped_at.is_some() {
            procs[i % 2].port
        } else {
            procs[i % 3].port
        };
        let res = http
            .post(format!("http://127.0.0.1:{target}/webhooks/{wf}"))
            .header("x-api-key", &key)
            .json(&json!({"n": i}))
            .send()
            .await;
        if let Ok(r) = res {
            if r.status() == 202 {
                let body: Value = r.json().await.unwrap();
                accepted.push(body["execution_id"].as_str().unwrap().to_string());
            }
        }
        if stopped_at.is_some() {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    if stopped_at.is_some() {
        signal(&procs[2].child, "-CONT");
    }
    assert!(
        accepted.len() > total * 9 / 10,
        "most webhooks are accepted: {} of {total}",
        accepted.len()
    );

    // Every accepted execution finishes exactly once, whichever process ran it.
    let deadline = Instant::now() + Duration::from_secs(60 + total as u64 / 20);
    let mut unfinished = accepted.clone();
    let mut unknown = 0;
    while !unfinished.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for id in unfinished {
            let e: Value = http
                .get(format!("{base}/api/v1/executions/{id}"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let outcome_unknown = e["status"] == "failed"
                && e["error"]
                    .as_str()
                    .is_some_and(|m| m.contains("outcome unknown"));
            if e["status"] != "stopped" && !outcome_unknown {
                assert!(
                    !matches!(e["status"].as_str(), Some("failed" | "cancelled")),
                    "{e}"
                );
                still.push(id);
                continue;
            }
            let steps = e["steps"].as_array().unwrap();
            let mut nodes: Vec<&str> = steps
                .iter()
                .map(|s| s["node_id"].as_str().unwrap())
                .collect();
            nodes.sort();
            let expected: &[&str] = if outcome_unknown {
                &["pick", "scale", "trigger_1"]
            } else {
                &["pick", "scale", "stop_1", "trigger_1"]
            };
            assert_eq!(nodes, expected, "each step once in {id}: {e}");
            unknown += usize::from(outcome_unknown);
        }
        unfinished = still;
        if !unfinished.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        unfinished.is_empty(),
        "{} executions did not finish: {:?}",
        unfinished.len(),
        &unfinished[..unfinished.len().min(5)]
    );
    let mut scaled = 0;
    for n in 0..total {
        let calls = spot.count("PUT", &format!("/aws/ec2/group/sig-{n}/scale/up"));
        assert!(calls <= 1, "group sig-{n} was scaled {calls} times");
        scaled += calls;
    }
    assert!(
        scaled >= accepted.len() * 9 / 10,
        "the scale steps really called Spot: {scaled} calls for {} executions",
        accepted.len()
    );
    eprintln!(
        "fault run: {total} webhooks in {rounds} round(s) of kill + pause; {} accepted, all finished once ({unknown} as outcome unknown); {scaled} scale calls, at most one per group; {:.1} s",
        accepted.len(),
        started.elapsed().as_secs_f64()
    );
    let list: Value = http
        .get(format!("{base}/api/v1/executions?limit=500&status=running"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing is left running"
    );
    for p in &mut procs {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}
