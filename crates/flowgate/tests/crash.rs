//! Crash safety (issue 2, item 6): the real `flowgate serve` is SIGKILLed four times in the middle of
//! a stream of webhooks and restarted on the same data directory; afterwards every execution that
//! got a 202 exists once and finished (`stopped`), has exactly one step per node, each run once,
//! and nothing is left unfinished.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TOKEN: &str = "fgt_crash_test_admin_token";
const SENDERS: u64 = 6;
const PER_PHASE: usize = 300;
const KILLS: usize = 4;
const NODES: [&str; 5] = ["hook", "pick", "shape", "pause", "done"];

/// The pure steps (`pick`, `shape`) are stored with the execution; the wait makes every execution
/// span several commits, so the kills land in the middle of executions.
const WORKFLOW: &str = r#"name: crash-5-node
description: trigger then jsonpath then transform then a short wait then stop
nodes:
  - id: hook
    type: trigger.webhook
    params:
      api_key: crash
  - id: pick
    type: core.jsonpath
    params:
      json_object: "{{ hook.output }}"
      json_path: "$.alert.severity"
  - id: shape
    type: core.transform
    params:
      value:
        severity: "{{ pick.output }}"
        seq: "{{ hook.output.alert.seq }}"
  - id: pause
    type: core.wait
    params:
      duration: 1s
  - id: done
    type: core.stop
    params:
      message: handled
edges:
  - { from: hook, to: pick }
  - { from: pick, to: shape }
  - { from: shape, to: pause }
  - { from: pause, to: done }
"#;

struct Server {
    child: Child,
    base: String,
}

fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn start(dir: &Path, http: &reqwest::Client) -> Server {
    let port = common::free_port();
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("open the log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("serve")
        .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("FLOWGATE_DATA_DIR", dir.join("data"))
        .env("FLOWGATE_ADMIN_TOKEN", TOKEN)
        .env("FLOWGATE_LOG", "warn")
        .env_remove("FLOWGATE_DATABASE_URL")
        .env_remove("FLOWGATE_MASTER_KEY")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log"))
        .stderr(log)
        .spawn()
        .expect("start flowgate serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            panic!("flowgate serve exited ({status}):\n{}", log_tail(dir));
        }
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return Server { child, base };
            }
        }
        assert!(
            Instant::now() < deadline,
            "not ready in 30 s:\n{}",
            log_tail(dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Executions the dead server left unfinished, and their committed steps, read straight from its
/// SQLite file before the restart (proof that the kill landed mid-execution).
async fn left_behind(dir: &Path) -> (i64, i64) {
    use sqlx::{Connection, Row};
    let url = format!(
        "sqlite://{}?mode=ro",
        dir.join("data/flowgate.db").display()
    );
    let mut c = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the database");
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, (SELECT COUNT(*) FROM steps WHERE execution_id IN \
         (SELECT id FROM executions WHERE status IN ('queued', 'running'))) AS s \
         FROM executions WHERE status IN ('queued', 'running')",
    )
    .fetch_one(&mut c)
    .await
    .expect("count unfinished executions");
    let out = (row.get("n"), row.get("s"));
    c.close().await.expect("close the database");
    out
}

/// SIGKILL (what `Child::kill` sends on unix) and reap.
fn kill(server: &mut Server) {
    server.child.kill().expect("SIGKILL the server");
    server.child.wait().expect("reap the server");
}

async fn api(http: &reqwest::Client, base: &str, path: &str) -> Value {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("API call");
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().await.expect("JSON")
}

/// Every execution of the workflow, by id (paging through the list).
async fn all_executions(http: &reqwest::Client, base: &str, wf: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/executions?workflow_id={wf}&limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api(http, base, &path).await;
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

async fn unfinished(http: &reqwest::Client, base: &str) -> usize {
    let mut n = 0;
    for status in ["queued", "running", "waiting"] {
        let page = api(
            http,
            base,
            &format!("/api/v1/executions?status={status}&limit=500"),
        )
        .await;
        n += page["items"].as_array().map_or(0, Vec::len);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_and_repeats_nothing() {
    let started = Instant::now();
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "flowgate-crash-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let mut server = start(&dir, &http).await;
    let key = common::create_api_key(&http, &server.base, TOKEN, "crash").await;
    let wf = common::create_workflow(&http, &server.base, TOKEN, WORKFLOW).await;

    // The stream: several tasks, each sending webhooks one after the other to whichever server
    // is current; a refused connection (the server is down) is retried with the next sequence.
    let base = Arc::new(RwLock::new(server.base.clone()));
    let accepted: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let attempted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for t in 0..SENDERS {
        let (base, accepted, attempted, stop, http, wf, key) = (
            base.clone(),
            accepted.clone(),
            attempted.clone(),
            stop.clone(),
            http.clone(),
            wf.clone(),
            key.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let seq = t * 1_000_000 + i;
                i += 1;
                attempted.fetch_add(1, Ordering::Relaxed);
                let url = format!("{}/webhooks/{wf}", base.read().expect("lock"));
                let sent = http
                    .post(url)
                    .header("x-api-key", &key)
                    .json(&json!({ "alert": { "severity": "high", "seq": seq } }))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 202 => {
                        let v: Value = r.json().await.expect("202 body");
                        let id = v["execution_id"]
                            .as_str()
                            .expect("execution_id")
                            .to_string();
                        accepted.lock().expect("lock").push((id, seq));
                    }
                    Ok(r) => panic!("webhook answered {}", r.status()),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }

    let wait_for = |n: usize| {
        let accepted = accepted.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while accepted.lock().expect("lock").len() < n {
                assert!(
                    Instant::now() < deadline,
                    "the stream stalled before {n} 202s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let mut kills = 0;
    let mut interrupted = 0;
    for phase in 1..=KILLS {
        wait_for(phase * PER_PHASE).await;
        kill(&mut server);
        kills += 1;
        let at_kill = accepted.lock().expect("lock").len();
        let (left, steps) = left_behind(&dir).await;
        interrupted += left;
        eprintln!("kill {kills}: {at_kill} accepted so far; {left} executions left unfinished with {steps} steps committed");
        server = start(&dir, &http).await;
        *base.write().expect("lock") = server.base.clone();
    }
    assert!(
        interrupted > 0,
        "no kill landed in the middle of an execution"
    );
    wait_for((KILLS + 1) * PER_PHASE).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.expect("sender");
    }

    // Everything accepted finishes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while unfinished(&http, &server.base).await > 0 {
        assert!(
            Instant::now() < deadline,
            "executions left unfinished:\n{}",
            log_tail(&dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let accepted = accepted.lock().expect("lock").clone();
    let all = all_executions(&http, &server.base, &wf).await;
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let mut seqs = HashSet::new();
    for e in &all {
        let id = e["id"].as_str().expect("id").to_string();
        assert_eq!(e["status"], "stopped", "execution {id} is {}", e["status"]);
        let seq = e["trigger"]["body"]["alert"]["seq"].as_u64().expect("seq");
        assert!(seqs.insert(seq), "webhook {seq} started two executions");
        assert!(
            by_id.insert(id.clone(), e.clone()).is_none(),
            "{id} listed twice"
        );
    }
    let ids: HashSet<&String> = accepted.iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids.len(),
        accepted.len(),
        "an execution id was answered twice"
    );
    for (id, seq) in &accepted {
        let e = by_id
            .get(id)
            .unwrap_or_else(|| panic!("accepted execution {id} is lost"));
        assert_eq!(e["trigger"]["body"]["alert"]["seq"], json!(seq));
    }

    // Steps: one per node, each run once, in every execution (also those whose 202 was lost).
    let mut checks = tokio::task::JoinSet::new();
    let ids: Vec<String> = by_id.keys().cloned().collect();
    for chunk in ids.chunks(ids.len().div_ceil(8).max(1)) {
        let (chunk, http, base) = (chunk.to_vec(), http.clone(), server.base.clone());
        checks.spawn(async move {
            for id in chunk {
                let e = api(&http, &base, &format!("/api/v1/executions/{id}")).await;
                let steps = e["steps"].as_array().expect("steps");
                let nodes: Vec<&str> = steps
                    .iter()
                    .map(|s| s["node_id"].as_str().expect("node_id"))
                    .collect();
                assert_eq!(nodes.len(), NODES.len(), "{id} has steps {nodes:?}");
                assert_eq!(
                    nodes.iter().collect::<HashSet<_>>(),
                    NODES.iter().collect::<HashSet<_>>(),
                    "{id} has steps {nodes:?}"
                );
                for s in steps {
                    assert_eq!(s["status"], "succeeded", "{id}: {s}");
                    assert_eq!(s["attempts"], 1, "{id}: a step ran twice: {s}");
                }
                let shape = steps
                    .iter()
                    .find(|s| s["node_id"] == "shape")
                    .expect("shape");
                assert_eq!(
                    shape["output"]["output"]["seq"],
                    e["trigger"]["body"]["alert"]["seq"]
                );
            }
        });
    }
    while let Some(r) = checks.join_next().await {
        r.expect("step checks");
    }
    eprintln!(
        "{} webhooks sent, {} accepted, {} executions (some 202s were lost to the kills), {kills} kills, {:.1} s",
        attempted.load(Ordering::Relaxed),
        accepted.len(),
        all.len(),
        started.elapsed().as_secs_f64()
    );
    kill(&mut server);
    let _ = std::fs::remove_dir_all(&dir);
}
