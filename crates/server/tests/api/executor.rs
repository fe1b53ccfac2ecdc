//! The executor through the API: ports, the `error` port, skipped branches, joins, Stop, Fail,
//! cancel, manual runs, and the executions list with its filters and pagination.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{
    manual_yaml, ran, spawn_app, spawn_app_with, spawn_idle_app, step, TestApp, ADMIN,
};

/// `pick` fails when the payload has no `wanted` (no JSONPath match) and then continues on its
/// `error` port; `join` has one predecessor on each branch.
const BRANCHES: &str = r#"
name: branches
description: error port, skipped branch, join
nodes:
  - id: start
    type: trigger.manual
  - id: pick
    type: core.jsonpath
    params: { json_object: "{{ start.output }}", json_path: "$.wanted" }
  - id: found
    type: core.transform
    params: { value: "found {{ pick.output }}" }
  - id: after_found
    type: core.transform
    params: { value: "{{ found.output }}" }
  - id: handle_error
    type: core.transform
    params: { value: "{{ pick.error.message }}" }
  - id: join
    type: core.transform
    params: { value: joined }
edges:
  - { from: start, to: pick }
  - { from: pick, to: found }
  - { from: found, to: after_found }
  - { from: pick, port: error, to: handle_error }
  - { from: after_found, to: join }
  - { from: handle_error, to: join }
"#;

fn statuses(exec: &Value) -> Vec<(String, String)> {
    exec["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["node_id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[track_caller]
fn assert_each_step_once(exec: &Value) {
    let ids: Vec<String> = statuses(exec).into_iter().map(|(id, _)| id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a step recorded twice: {ids:?}");
}

#[tokio::test]
async fn a_failure_continues_on_the_error_port_skips_the_other_branch_and_joins_once() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, BRANCHES).await;

    let exec = app.run_manual(ADMIN, &id, &json!({ "other": 1 })).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(exec["error"], Value::Null);
    assert_each_step_once(&exec);
    let pick = step(&exec, "pick");
    assert_eq!(pick["status"], "failed");
    assert_eq!(pick["port"], "error");
    assert!(pick["error"].as_str().unwrap().contains("matched nothing"));
    assert_eq!(step(&exec, "found")["status"], "skipped");
    assert_eq!(step(&exec, "after_found")["status"], "skipped");
    let handled = step(&exec, "handle_error");
    assert_eq!(handled["status"], "succeeded");
    assert!(handled["output"]["output"]
        .as_str()
        .unwrap()
        .contains("`$.wanted` matched nothing"));
    assert_eq!(step(&exec, "join")["status"], "succeeded");
    assert_eq!(step(&exec, "join")["output"]["output"], "joined");
    assert_eq!(exec["steps"].as_array().unwrap().len(), 6);

    let exec = app.run_manual(ADMIN, &id, &json!({ "wanted": 42 })).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_each_step_once(&exec);
    assert_eq!(step(&exec, "pick")["port"], Value::Null);
    assert_eq!(step(&exec, "pick")["output"]["output"], 42);
    assert_eq!(step(&exec, "found")["output"]["output"], "found 42");
    assert_eq!(step(&exec, "after_found")["output"]["output"], "found 42");
    assert_eq!(step(&exec, "handle_error")["status"], "skipped");
    assert_eq!(step(&exec, "join")["status"], "succeeded");
    for s in exec["steps"].as_array().unwrap() {
        if s["status"] == "succeeded" {
            assert!(
                s["started_at"].is_string() && s["finished_at"].is_string(),
                "{s}"
            );
            assert_eq!(s["attempts"], 1, "{s}");
        }
    }
}

#[tokio::test]
async fn a_failure_without_an_error_edge_fails_the_execution() {
    let app = spawn_app().await;
    let yaml = "name: strict\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: pick, type: core.jsonpath, params: { json_object: '{{ start.output }}', json_path: '$.nope' } }\n  - { id: next, type: core.transform, params: { value: 1 } }\nedges:\n  - { from: start, to: pick }\n  - { from: pick, to: next }\n";
    let id = app.workflow_id(ADMIN, yaml).await;
    let exec = app.run_manual(ADMIN, &id, &json!({})).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "failed");
    let error = exec["error"].as_str().unwrap();
    assert!(
        error.contains("pick") && error.contains("`$.nope` matched nothing"),
        "{error}"
    );
    assert_eq!(step(&exec, "pick")["status"], "failed");
    assert!(!ran(&exec, "next"), "{exec:#}");
    assert_each_step_once(&exec);
}

#[tokio::test]
async fn stop_ends_the_run_as_stopped_and_fail_as_failed_with_its_message() {
    let app = spawn_app().await;
    let stop = "name: stopper\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: stop_1, type: core.stop, params: { message: enough for today } }\n  - { id: after, type: core.transform, params: { value: 1 } }\nedges:\n  - { from: start, to: stop_1 }\n  - { from: stop_1, to: after }\n";
    let id = app.workflow_id(ADMIN, stop).await;
    let exec = app.run_manual(ADMIN, &id, &json!({})).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "stopped", "{exec:#}");
    assert_eq!(exec["error"], Value::Null);
    assert_eq!(
        step(&exec, "stop_1")["output"]["message"],
        "enough for today"
    );
    assert!(!ran(&exec, "after"), "a node after Stop ran: {exec:#}");

    let fail = "name: failer\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: fail_1, type: core.fail, params: { message: 'budget {{ start.output.budget }} exceeded' } }\nedges:\n  - { from: start, to: fail_1 }\n";
    let id = app.workflow_id(ADMIN, fail).await;
    let exec = app.run_manual(ADMIN, &id, &json!({ "budget": 4 })).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    assert_eq!(exec["error"], "budget 4 exceeded");
    assert_eq!(step(&exec, "fail_1")["status"], "failed");
    assert_eq!(step(&exec, "fail_1")["error"], "budget 4 exceeded");
}

#[tokio::test]
async fn a_workflow_that_only_computes_is_stored_finished_and_pure_steps_lead_into_the_rest() {
    let app = spawn_app().await;
    // Every step only computes: the 202 comes after the whole run is stored, finished.
    let pure = "name: pure\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: pick, type: core.jsonpath, params: { json_object: '{{ start.output }}', json_path: '$.n' } }\n  - { id: check, type: core.if, params: { rules: [ { port: big, left: '{{ pick.output }}', operator: '>', right: 1 } ] } }\n  - { id: shape, type: core.transform, params: { value: 'n is {{ pick.output }}' } }\n  - { id: small, type: core.transform, params: { value: small } }\n  - { id: done, type: core.stop, params: { message: computed } }\nedges:\n  - { from: start, to: pick }\n  - { from: pick, to: check }\n  - { from: check, port: big, to: shape }\n  - { from: check, port: else, to: small }\n  - { from: shape, to: done }\n";
    let id = app.workflow_id(ADMIN, pure).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({ "n": 2 })).await;
    let exec = app.execution(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "stopped", "{exec:#}");
    assert!(exec["finished_at"].is_string() && exec["started_at"].is_string());
    assert_eq!(step(&exec, "shape")["output"]["output"], "n is 2");
    assert_eq!(step(&exec, "small")["status"], "skipped");
    assert_each_step_once(&exec);

    // Pure steps first, then a wait: the run goes on after the 202 from what was stored.
    let mixed = "name: mixed\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: shape, type: core.transform, params: { value: '{{ start.output.n }}' } }\n  - { id: pause, type: core.wait, params: { duration: 1s } }\n  - { id: after, type: core.transform, params: { value: 'after {{ shape.output }}' } }\nedges:\n  - { from: start, to: shape }\n  - { from: shape, to: pause }\n  - { from: pause, to: after }\n";
    let id = app.workflow_id(ADMIN, mixed).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({ "n": 3 })).await;
    let exec = app.execution(ADMIN, &exec_id).await;
    assert_ne!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "shape")["status"], "succeeded", "{exec:#}");
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "after")["output"]["output"], "after 3");
    assert_each_step_once(&exec);
}

#[tokio::test]
async fn a_start_whose_caller_goes_away_still_stores_and_runs_the_execution() {
    let app = spawn_app().await;
    let yaml = "name: abandoned\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: shape, type: core.transform, params: { value: 1 } }\n  - { id: pause, type: core.wait, params: { duration: 1s } }\nedges:\n  - { from: start, to: shape }\n  - { from: shape, to: pause }\n";
    let id = app.workflow_id(ADMIN, yaml).await;
    let wf = app.store().workflow_any_org(&id).await.unwrap().unwrap();
    let engine = app.running.state.engine.clone();
    let event = flowgate_engine::TriggerEvent {
        kind: "manual".into(),
        output: json!({ "output": {} }),
        body: json!({}),
    };
    // Callers that give up at every moment of the start (a webhook sender hanging up).
    const STARTS: u64 = 40;
    for i in 0..STARTS {
        let start = engine.start(&wf, event.clone(), None);
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i * 100), start).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let rows = sqlx::query("SELECT status FROM executions WHERE workflow_id = $1")
            .bind(id.clone())
            .fetch_all(app.store().pool())
            .await
            .unwrap();
        let statuses: Vec<String> = rows.iter().map(|r| sqlx::Row::get(r, "status")).collect();
        if statuses.len() as u64 == STARTS && statuses.iter().all(|s| s == "succeeded") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {STARTS} executions stored, statuses {statuses:?}",
            statuses.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_execution_leased_here_but_not_running_here_is_taken_up_when_its_lease_ends() {
    use flowgate_store::executions::NewExecution;
    use flowgate_store::{ExecStatus, ExecutionRow, StepRow, StepStatus};
    let app = spawn_app_with(|_, o| o.engine.lease = std::time::Duration::from_secs(1)).await;
    let id = app.workflow_id(ADMIN, &manual_yaml("orphan")).await;
    let wf = app.store().workflow_any_org(&id).await.unwrap().unwrap();
    let owner = app.running.state.engine.owner().to_string();
    let now = flowgate_store::now_ms();
    let exec_id = flowgate_store::new_id();
    // What a start interrupted between its insert and its run leaves: stored, leased to this
    // process, running nowhere. The heartbeat must not keep that lease alive.
    let execution = ExecutionRow {
        id: exec_id.clone(),
        org_id: wf.org_id.clone(),
        workflow_id: wf.id.clone(),
        workflow_version: wf.version,
        status: ExecStatus::Queued,
        trigger_type: "manual".into(),
        trigger: json!({ "body": { "n": 7 }, "received_at": now }),
        created_at: now,
        started_at: None,
        finished_at: None,
        error: None,
        wake_at: None,
        deadline: None,
    };
    let trigger = StepRow {
        execution_id: exec_id.clone(),
        scope: String::new(),
        node_id: "start".into(),
        seq: 0,
        node_type: "trigger.manual".into(),
        name: None,
        status: StepStatus::Succeeded,
        port: None,
        attempts: 1,
        input: None,
        output: Some(json!({ "output": { "n": 7 } })),
        error: None,
        state: None,
        started_at: Some(now),
        finished_at: Some(now),
    };
    let new = NewExecution {
        execution,
        steps: vec![trigger],
        dedup_key: None,
        lease: Some((owner, now + 1000)),
    };
    app.store().create_execution(new).await.unwrap();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "echo")["output"]["output"], json!({ "n": 7 }));
}

#[tokio::test]
async fn a_manual_run_answers_202_once_the_execution_exists() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, &manual_yaml("by hand")).await;
    let payload = json!({ "group": "sig-1", "n": 2 });
    let exec_id = app.run_manual(ADMIN, &id, &payload).await;
    // Readable at once, before it may have finished.
    let now = app.execution(ADMIN, &exec_id).await;
    assert_eq!(now["id"], exec_id.as_str());
    assert_eq!(now["workflow_id"], id.as_str());
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["trigger"]["type"], "manual");
    assert_eq!(exec["trigger"]["body"], payload);
    assert!(exec["trigger"]["received_at"].is_string());
    assert_eq!(step(&exec, "start")["output"]["output"], payload);
    assert_eq!(step(&exec, "echo")["output"]["output"], payload);
    assert!(exec["created_at"].is_string() && exec["started_at"].is_string());

    // An empty body is an empty payload.
    let r = app
        .send(app.request(
            reqwest::Method::POST,
            ADMIN,
            &format!("/api/v1/workflows/{id}/executions"),
        ))
        .await;
    let empty = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    let exec = app.wait_finished(ADMIN, &empty).await;
    assert_eq!(exec["trigger"]["body"], json!({}));
}

#[tokio::test]
async fn manual_payloads_are_checked_against_the_parameters_schema() {
    let app = spawn_app().await;
    let yaml = "name: typed\ndescription: d\nnodes:\n  - id: start\n    type: trigger.manual\n    params:\n      parameters: { type: object, required: [group_id], properties: { group_id: { type: string } } }\n  - { id: echo, type: core.transform, params: { value: '{{ start.output.group_id }}' } }\nedges:\n  - { from: start, to: echo }\n";
    let id = app.workflow_id(ADMIN, yaml).await;
    let before = app.counts().await;
    let path = format!("/api/v1/workflows/{id}/executions");
    let r = app.post(ADMIN, &path, &json!({ "group_id": 5 })).await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), vec!["/group_id"]);
    app.post(ADMIN, &path, &json!({}))
        .await
        .expect_error(422, "invalid");
    app.raw(
        reqwest::Method::POST,
        ADMIN,
        &path,
        "application/json",
        "{not json",
    )
    .await
    .expect_error(400, "bad_request");
    assert_eq!(app.counts().await, before, "a refused run stored something");
    let exec = app
        .run_manual(ADMIN, &id, &json!({ "group_id": "sig-9" }))
        .await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(step(&exec, "echo")["output"]["output"], "sig-9");
}

#[tokio::test]
async fn a_queued_execution_can_be_cancelled_once() {
    let app = spawn_idle_app().await;
    let id = app.workflow_id(ADMIN, &manual_yaml("never runs")).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    let exec = app.execution(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "queued");
    assert_eq!(exec["finished_at"], Value::Null);
    let path = format!("/api/v1/executions/{exec_id}/cancel");
    let r = app.post(ADMIN, &path, &json!({})).await;
    assert_eq!(r.expect(200)["status"], "cancelled");
    let exec = app.execution(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "cancelled");
    assert!(exec["finished_at"].is_string());
    let r = app.post(ADMIN, &path, &json!({})).await;
    r.expect_error(409, "conflict");
    assert!(r.error_text().contains("cancelled"), "{}", r.error_text());
    app.post(
        ADMIN,
        "/api/v1/executions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/cancel",
        &json!({}),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn a_finished_execution_cannot_be_cancelled() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, &manual_yaml("quick")).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    app.wait_finished(ADMIN, &exec_id).await;
    let r = app
        .post(
            ADMIN,
            &format!("/api/v1/executions/{exec_id}/cancel"),
            &json!({}),
        )
        .await;
    r.expect_error(409, "conflict");
    assert!(r.error_text().contains("succeeded"), "{}", r.error_text());
    assert_eq!(app.execution(ADMIN, &exec_id).await["status"], "succeeded");
}

async fn list_ids(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(ADMIN, &format!("/api/v1/executions?{query}")).await;
    r.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn executions_are_listed_with_filters_and_pages() {
    let app = spawn_app().await;
    let ok = app.workflow_id(ADMIN, &manual_yaml("ok")).await;
    let failing = "name: failing\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: f, type: core.fail, params: { message: no } }\nedges:\n  - { from: start, to: f }\n";
    let bad = app.workflow_id(ADMIN, failing).await;
    let t0 = flowgate_store::now_ms() - 1;
    let mut ok_runs = Vec::new();
    for _ in 0..3 {
        ok_runs.push(app.run_manual(ADMIN, &ok, &json!({})).await);
    }
    let bad_run = app.run_manual(ADMIN, &bad, &json!({})).await;
    for id in ok_runs.iter().chain([&bad_run]) {
        app.wait_finished(ADMIN, id).await;
    }

    let mut all = list_ids(&app, "").await;
    assert_eq!(all.len(), 4);
    let mut newest_first = all.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, newest_first, "newest first");
    all.sort();

    let mut by_wf = list_ids(&app, &format!("workflow_id={ok}")).await;
    by_wf.sort();
    let mut want = ok_runs.clone();
    want.sort();
    assert_eq!(by_wf, want);
    assert_eq!(list_ids(&app, "status=failed").await, vec![bad_run.clone()]);
    assert_eq!(list_ids(&app, "status=succeeded").await.len(), 3);
    assert_eq!(
        list_ids(&app, &format!("status=succeeded&workflow_id={bad}")).await,
        Vec::<String>::new()
    );
    assert_eq!(list_ids(&app, &format!("since={t0}")).await.len(), 4);
    assert!(list_ids(&app, "since=2999-01-01T00:00:00Z")
        .await
        .is_empty());
    assert!(list_ids(&app, &format!("until={t0}")).await.is_empty());
    assert_eq!(list_ids(&app, "until=2999-01-01T00:00:00Z").await.len(), 4);
    for bad_query in ["status=done", "since=yesterday", "until=noon", "limit=0"] {
        app.get(ADMIN, &format!("/api/v1/executions?{bad_query}"))
            .await
            .expect_error(400, "bad_request");
    }

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".into(),
        };
        let r = app.get(ADMIN, &format!("/api/v1/executions?{query}")).await;
        let body = r.expect(200).clone();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        paged.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 5);
    }
    assert_eq!(pages, 2);
    // Empty parameters count as absent.
    let blank = list_ids(&app, "workflow_id=&status=&since=&until=&cursor=").await;
    assert_eq!(blank.len(), 4);
    paged.sort();
    assert_eq!(paged, all, "every execution exactly once across pages");
}
