//! The database going away: start-up against an unreachable database fails with a clear error,
//! and while running, requests get 503 when PostgreSQL is down and work resumes, nothing lost,
//! when it comes back. Uses its own throwaway PostgreSQL server (scripts/postgres.sh); skipped
//! where PostgreSQL is not installed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ADMIN: &str = "outage-admin-token";

fn script() -> String {
    format!("{}/../../scripts/postgres.sh", env!("CARGO_MANIFEST_DIR"))
}

/// Starts a private PostgreSQL server; `(dir, url)`.
fn start_postgres() -> Option<(String, String)> {
    let out = Command::new("bash")
        .arg(script())
        .arg("start")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {key}=")).map(String::from))
    };
    Some((value("PGDIR")?, value("FLOWGATE_TEST_POSTGRES_URL")?))
}

fn pg(action: &str, dir: &str) {
    assert!(
        Command::new("bash")
            .arg(script())
            .args([action, dir])
            .status()
            .unwrap()
            .success(),
        "postgres.sh {action}"
    );
}

#[test]
fn start_up_against_an_unreachable_database_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("serve")
        .env(
            "FLOWGATE_DATABASE_URL",
            "postgres://flowgate@127.0.0.1:1/flowgate",
        )
        .env("FLOWGATE_LISTEN", "127.0.0.1:0")
        .env("FLOWGATE_DATA_DIR", dir.path())
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "exits non-zero");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "fails promptly"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the database"),
        "clear message: {stderr}"
    );
}

async fn until(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_503_while_postgres_is_down_and_work_resumes_after() {
    let Some((pgdir, admin_url)) = start_postgres() else {
        eprintln!("PostgreSQL is not installed: skipping the outage test");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("serve")
        .env("FLOWGATE_DATABASE_URL", &admin_url)
        .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("FLOWGATE_DATA_DIR", data.path())
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN)
        .env("FLOWGATE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    until("the server", 30, async || {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let key = common::create_api_key(&http, &base, ADMIN, "k").await;
    let doc = "name: Outage\ndescription: d\nnodes:\n- {id: t, type: trigger.webhook, params: {api_key: k}}\n- {id: a, type: core.transform, params: {value: '{{ t.output.n }}'}}\n- {id: b, type: core.transform, params: {value: '{{ a.output }}'}}\nedges:\n- {from: t, to: a}\n- {from: a, to: b}\n";
    let wf = common::create_workflow(&http, &base, ADMIN, doc).await;
    let send = |n: u32| {
        http.post(format!("{base}/webhooks/{wf}"))
            .header("x-api-key", &key)
            .json(&json!({"n": n}))
            .send()
    };

    let mut accepted = Vec::new();
    for n in 0..20 {
        let r = send(n).await.unwrap();
        assert_eq!(r.status(), 202);
        accepted.push(
            r.json::<Value>().await.unwrap()["execution_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    pg("pause", &pgdir);
    let r = send(100).await.unwrap();
    assert_eq!(
        r.status(),
        503,
        "a webhook while the database is down: {}",
        r.text().await.unwrap()
    );
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let api = http
        .get(format!("{base}/api/v1/workflows"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 503);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");

    pg("resume", &pgdir);
    until("readiness after the outage", 30, async || {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let r = send(200).await.unwrap();
    assert_eq!(r.status(), 202);
    accepted.push(
        r.json::<Value>().await.unwrap()["execution_id"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    for id in &accepted {
        until("every accepted execution to finish", 60, async || {
            let e: Value = match http
                .get(format!("{base}/api/v1/executions/{id}"))
                .bearer_auth(ADMIN)
                .send()
                .await
            {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => return false,
            };
            e["status"] == "succeeded" && e["steps"].as_array().is_some_and(|s| s.len() == 3)
        })
        .await;
    }
    let _ = child.kill();
    let _ = child.wait();
    pg("stop", &pgdir);
}
