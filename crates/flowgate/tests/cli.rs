//! The `flowgate` command line: help, validating and running workflow files, and the client
//! subcommands against a real `flowgate serve`.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "cli-admin-token";

const GOOD: &str = r#"
name: Budget check
description: pick and summarise
nodes:
  - {id: trigger_1, type: trigger.webhook, params: {api_key: budget-alerts}}
  - {id: pick, type: core.jsonpath, params: {json_object: "{{ trigger_1.output }}", json_path: "$.Elastigroup_Id"}}
  - {id: summary, type: core.transform, params: {value: "group {{ pick.output }} at {{ trigger_1.output.MTD_Spend }}"}}
edges:
  - {from: trigger_1, to: pick}
  - {from: pick, to: summary}
"#;

fn flowgate(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowgate"));
    cmd.args(args)
        .env_remove("FLOWGATE_TOKEN")
        .env_remove("FLOWGATE_SERVER");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run flowgate")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help_lists_the_subcommands() {
    let out = flowgate(&["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out);
    for sub in [
        "serve",
        "validate",
        "run",
        "workflows",
        "executions",
        "api-keys",
        "keys",
    ] {
        assert!(help.contains(sub), "{sub} in {help}");
    }
}

#[test]
fn validate_accepts_a_good_file_and_lists_every_problem_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, GOOD).unwrap();
    let out = flowgate(&["validate", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is valid"));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        GOOD.replace("Budget check", "AWS budget")
            .replace("{{ pick.output }}", "{{ ghost.output }}"),
    )
    .unwrap();
    let out = flowgate(&["validate", bad.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("name") && t.contains("ghost"), "{t}");
}

#[test]
fn run_executes_a_file_in_process_and_prints_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wf.yaml");
    let payload = dir.path().join("alert.json");
    std::fs::write(&file, GOOD).unwrap();
    std::fs::write(
        &payload,
        r#"{"Elastigroup_Id": "sig-e26f1234", "MTD_Spend": "3.8"}"#,
    )
    .unwrap();
    let out = flowgate(
        &[
            "run",
            file.to_str().unwrap(),
            "--payload",
            payload.to_str().unwrap(),
        ],
        &[],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("summary") && t.contains("group sig-e26f1234 at 3.8"),
        "{t}"
    );
    assert!(t.contains(": succeeded"), "{t}");
}

#[test]
fn client_subcommands_manage_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("serve")
        .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("FLOWGATE_DATA_DIR", dir.path().join("data"))
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN)
        .env("FLOWGATE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let env = [("FLOWGATE_SERVER", url.as_str()), ("FLOWGATE_TOKEN", ADMIN)];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !flowgate(&["workflows", "list"], &env).status.success() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let key = flowgate(&["api-keys", "create", "budget-alerts"], &env);
    assert!(key.status.success(), "{}", text(&key));
    assert!(String::from_utf8_lossy(&key.stdout)
        .trim()
        .starts_with("fgk_"));
    assert!(text(&flowgate(&["api-keys", "list"], &env)).contains("budget-alerts"));

    let file = dir.path().join("wf.yaml");
    std::fs::write(&file, GOOD).unwrap();
    let created = flowgate(&["workflows", "create", file.to_str().unwrap()], &env);
    assert!(created.status.success(), "{}", text(&created));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(text(&flowgate(&["workflows", "list"], &env)).contains("Budget check"));
    let exported = flowgate(&["workflows", "export", id], &env);
    assert!(text(&exported).contains("core.jsonpath"));

    let payload = dir.path().join("alert.json");
    std::fs::write(&payload, r#"{"Elastigroup_Id": "sig-1", "MTD_Spend": "1"}"#).unwrap();
    let run = flowgate(
        &[
            "workflows",
            "run",
            id,
            "--payload",
            payload.to_str().unwrap(),
        ],
        &env,
    );
    assert!(run.status.success(), "{}", text(&run));
    let run: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let exec = run["execution_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = flowgate(&["executions", "get", exec], &env);
        let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
        if v["status"] == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not finish: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(text(&flowgate(&["executions", "list"], &env)).contains(exec));

    let integration = dir.path().join("http.json");
    std::fs::write(&integration, r#"{"type": "http", "alias": "ticketing", "config": {"auth": "bearer"}, "secrets": {"token": "tok-very-secret"}}"#).unwrap();
    let created = flowgate(
        &["integrations", "create", integration.to_str().unwrap()],
        &env,
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        !text(&created).contains("tok-very-secret"),
        "secrets are never shown"
    );
    assert!(text(&flowgate(&["integrations", "list"], &env)).contains("ticketing"));
    assert!(flowgate(&["integrations", "delete", "ticketing"], &env)
        .status
        .success());

    let wrong = flowgate(
        &["workflows", "list"],
        &[
            ("FLOWGATE_SERVER", url.as_str()),
            ("FLOWGATE_TOKEN", "nope"),
        ],
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("401"), "{}", text(&wrong));
    let _ = server.kill();
    let _ = server.wait();
}
