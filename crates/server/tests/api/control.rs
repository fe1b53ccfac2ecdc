//! Control structures through the API: `core.if` (every operator family, numeric comparison of
//! numeric strings, first match wins, `else`, skipped branches), `core.loop` (items, index,
//! per-item error policy, non-lists, body wiring), `core.wait` (durable, across a restart, with
//! a test clock), the workflow `timeout`, and `core.string`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use flowgate_nodes::TestClock;

use crate::helpers::{spawn_app, spawn_app_with, step, TestApp, ADMIN};

/// The seed alert of the budget story: spend and budget are strings.
fn seed() -> Value {
    json!({
        "Organization_Name": "SpotOrgname", "Account_Name": "SpotAccountname",
        "Account_ID": "act-29ddd123", "MTD_Spend": "3.8", "Budget": "4.0",
        "Elastigroup_Id": "sig-e26f1234"
    })
}

/// Creates a workflow from a JSON document; the raw answer (for 422 checks).
pub async fn create_json(app: &TestApp, doc: &Value) -> crate::helpers::Resp {
    app.post(ADMIN, "/api/v1/workflows", doc).await
}

/// Creates a workflow from a JSON document; asserts 201 and returns its id.
pub async fn create_ok(app: &TestApp, doc: &Value) -> String {
    let r = create_json(app, doc).await;
    r.expect(201)["id"].as_str().unwrap().to_string()
}

/// Runs a workflow by hand and waits for it to finish.
pub async fn run_to_end(app: &TestApp, id: &str, payload: &Value) -> Value {
    let exec = app.run_manual(ADMIN, id, payload).await;
    app.wait_finished(ADMIN, &exec).await
}

/// Polls an execution until its status is `status`, failing after a deadline.
pub async fn wait_status(app: &TestApp, exec_id: &str, status: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let exec = app.execution(ADMIN, exec_id).await;
        if exec["status"] == status {
            return exec;
        }
        assert!(
            exec["finished_at"].is_null(),
            "the execution ended instead of reaching `{status}`: {exec:#}"
        );
        assert!(
            Instant::now() < until,
            "execution {exec_id} did not reach `{status}` in time: {exec:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The step of `node_id` in scope `scope` (a loop item such as `each[1]`), if recorded.
pub fn scoped<'a>(exec: &'a Value, node_id: &str, scope: &str) -> Option<&'a Value> {
    exec["steps"]
        .as_array()?
        .iter()
        .find(|s| s["node_id"] == node_id && s["scope"] == scope)
}

fn manual_doc(name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> Value {
    let mut all = vec![json!({ "id": "start", "type": "trigger.manual" })];
    all.extend(nodes);
    json!({ "name": name, "description": "control structures", "nodes": all, "edges": edges })
}

// ---------------------------------------------------------------------------------------------
// core.if

#[tokio::test]
async fn every_if_operator_family_decides_as_documented() {
    let app = spawn_app().await;
    // (left, operator, right, matches)
    let cases: Vec<(Value, &str, Option<Value>, bool)> = vec![
        // The seed's strings compare as numbers.
        (
            json!("{{ start.output.MTD_Spend }}"),
            "<",
            Some(json!("{{ start.output.Budget }}")),
            true,
        ),
        (
            json!("{{ start.output.MTD_Spend }}"),
            ">=",
            Some(json!("{{ start.output.Budget }}")),
            false,
        ),
        // As text "9.5" > "10.0"; as numbers it is smaller.
        (json!("9.5"), "<", Some(json!("10.0")), true),
        (json!("9.5"), ">", Some(json!("10.0")), false),
        (json!("4"), "==", Some(json!("4.0")), true),
        (json!(4), "==", Some(json!("4.0")), true),
        (json!("3.8"), "<=", Some(json!("3.8")), true),
        (json!("4.0"), ">", Some(json!(3.8)), true),
        (json!("abc"), "==", Some(json!("abc")), true),
        (json!("abc"), "!=", Some(json!("abd")), true),
        (json!("abc"), "!=", Some(json!("abc")), false),
        (json!("apple"), "<", Some(json!("banana")), true),
        (
            json!("{{ start.output.Elastigroup_Id }}"),
            "contains",
            Some(json!("e26f")),
            true,
        ),
        (json!(["a", "b"]), "contains", Some(json!("b")), true),
        (json!({ "k": 1 }), "contains", Some(json!("k")), true),
        (json!("abc"), "not_contains", Some(json!("z")), true),
        (json!("abc"), "not_contains", Some(json!("b")), false),
        (
            json!("sig-e26f1234"),
            "starts_with",
            Some(json!("sig-")),
            true,
        ),
        (
            json!("sig-e26f1234"),
            "starts_with",
            Some(json!("e26")),
            false,
        ),
        (
            json!("sig-e26f1234"),
            "ends_with",
            Some(json!("1234")),
            true,
        ),
        (
            json!("{{ start.output.Account_ID }}"),
            "matches",
            Some(json!("^act-[0-9a-f]+$")),
            true,
        ),
        (json!("ACT-1"), "matches", Some(json!("^act-")), false),
        (json!("{{ start.output.Account_ID }}"), "exists", None, true),
        (json!("{{ start.output.nothing }}"), "exists", None, false),
        (
            json!("{{ start.output.nothing }}"),
            "not_exists",
            None,
            true,
        ),
        (json!(""), "is_empty", None, true),
        (json!([]), "is_empty", None, true),
        (json!("{{ start.output.Budget }}"), "is_empty", None, false),
    ];
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (i, (left, op, right, _)) in cases.iter().enumerate() {
        let mut rule = json!({ "left": left, "operator": op, "port": "yes" });
        if let Some(r) = right {
            rule["right"] = r.clone();
        }
        nodes.push(
            json!({ "id": format!("if_{i}"), "type": "core.if", "params": { "rules": [rule] } }),
        );
        edges.push(json!({ "from": "start", "to": format!("if_{i}") }));
    }
    let id = create_ok(&app, &manual_doc("operators", nodes, edges)).await;
    let mut payload = seed();
    payload["nothing"] = Value::Null;
    let exec = run_to_end(&app, &id, &payload).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    for (i, (left, op, right, expected)) in cases.iter().enumerate() {
        let s = step(&exec, &format!("if_{i}"));
        assert_eq!(s["status"], "succeeded", "{s:#}");
        let want = if *expected { "yes" } else { "else" };
        assert_eq!(s["port"], want, "case {i}: {left} {op} {right:?}");
    }
}

const BUDGET: &str = r#"
name: budget branches
description: first match wins
nodes:
  - id: start
    type: trigger.manual
  - id: check
    type: core.if
    params:
      rules:
        - { left: "{{ start.output.MTD_Spend }}", operator: ">=", right: "{{ start.output.Budget }}", port: over }
        - { left: "{{ start.output.MTD_Spend }}", operator: ">=", right: "3", port: near }
  - { id: over_step, type: core.transform, params: { value: over } }
  - { id: near_step, type: core.transform, params: { value: near } }
  - { id: else_step, type: core.transform, params: { value: fine } }
  - { id: after_else, type: core.transform, params: { value: "{{ else_step.output }}" } }
edges:
  - { from: start, to: check }
  - { from: check, port: over, to: over_step }
  - { from: check, port: near, to: near_step }
  - { from: check, port: else, to: else_step }
  - { from: else_step, to: after_else }
"#;

#[tokio::test]
async fn the_first_matching_rule_wins_else_otherwise_and_untaken_branches_are_skipped() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, BUDGET).await;
    let branches = ["over_step", "near_step", "else_step"];
    for (payload, taken) in [
        // 3.8 >= 4.0 is false, 3.8 >= 3 is true.
        (seed(), "near_step"),
        // Both rules match: the first wins.
        (json!({ "MTD_Spend": "12.5", "Budget": "10" }), "over_step"),
        // None matches.
        (json!({ "MTD_Spend": "1", "Budget": "4.0" }), "else_step"),
    ] {
        let exec = run_to_end(&app, &id, &payload).await;
        assert_eq!(exec["status"], "succeeded", "{exec:#}");
        let port = taken.trim_end_matches("_step");
        assert_eq!(step(&exec, "check")["port"], port, "{payload}");
        for b in branches {
            let want = if b == taken { "succeeded" } else { "skipped" };
            assert_eq!(step(&exec, b)["status"], want, "{b} for {payload}");
        }
        let after = if taken == "else_step" {
            "succeeded"
        } else {
            "skipped"
        };
        assert_eq!(step(&exec, "after_else")["status"], after);
    }
}

#[tokio::test]
async fn an_invalid_if_regex_or_a_missing_right_is_refused_at_save_time() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let rules = json!([
        { "left": "x", "operator": "matches", "right": "([a-z", "port": "bad" },
        { "left": "x", "operator": "==", "port": "no_right" },
        { "left": "x", "operator": "exists", "port": "else" }
    ]);
    let doc = manual_doc(
        "bad if",
        vec![json!({ "id": "check", "type": "core.if", "params": { "rules": rules } })],
        vec![json!({ "from": "start", "to": "check" })],
    );
    let r = create_json(&app, &doc).await;
    r.expect_error(422, "invalid");
    let paths = r.detail_paths();
    for p in [
        "nodes[1].params.rules[0].right",
        "nodes[1].params.rules[1].right",
        "nodes[1].params.rules[2].port",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} missing in {paths:?}");
    }
    assert!(
        r.error_text().contains("not a valid regular expression"),
        "{}",
        r.error_text()
    );
    assert_eq!(app.counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// core.loop

fn loop_doc(items: Value, body: Vec<Value>, body_edges: Vec<Value>, extra: Value) -> Value {
    let ids: Vec<Value> = body.iter().map(|n| n["id"].clone()).collect();
    let mut params = json!({ "items": items, "nodes": ids });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    let mut nodes = vec![json!({ "id": "each", "type": "core.loop", "params": params })];
    nodes.extend(body);
    nodes.push(json!({ "id": "after", "type": "core.transform", "params": { "value": "{{ each.output }}" } }));
    let mut edges = vec![
        json!({ "from": "start", "to": "each" }),
        json!({ "from": "each", "to": "after" }),
    ];
    edges.extend(body_edges);
    manual_doc("loop", nodes, edges)
}

#[tokio::test]
async fn a_loop_runs_its_body_per_item_with_item_and_index_and_collects_the_results() {
    let app = spawn_app().await;
    let body = vec![
        json!({ "id": "greet", "type": "core.transform", "params": { "value": "{{ loop.index }}: hello {{ loop.item.name }}" } }),
        json!({ "id": "shout", "type": "core.string", "params": { "input": "{{ greet.output }} from {{ start.output.team }}", "operation": "to_upper" } }),
    ];
    let doc = loop_doc(
        json!("{{ start.output.people }}"),
        body,
        vec![json!({ "from": "greet", "to": "shout" })],
        json!({ "max_concurrency": 2 }),
    );
    let id = create_ok(&app, &doc).await;
    let payload =
        json!({ "team": "ops", "people": [{ "name": "ann" }, { "name": "bo" }, { "name": "cy" }] });
    let exec = run_to_end(&app, &id, &payload).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let want = json!([
        "0: HELLO ANN FROM OPS",
        "1: HELLO BO FROM OPS",
        "2: HELLO CY FROM OPS"
    ]);
    assert_eq!(step(&exec, "each")["output"]["output"], want);
    assert_eq!(step(&exec, "after")["output"]["output"], want);
    // Each item's steps are recorded in its own scope.
    for i in 0..3 {
        let scope = format!("each[{i}]");
        for node in ["greet", "shout"] {
            let s = scoped(&exec, node, &scope)
                .unwrap_or_else(|| panic!("no {node} in {scope}: {exec:#}"));
            assert_eq!(s["status"], "succeeded");
        }
    }
    // An empty list runs nothing and gives an empty list.
    let exec = run_to_end(&app, &id, &json!({ "team": "ops", "people": [] })).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "each")["output"]["output"], json!([]));
}

/// A body whose only node fails for an item without `v` (a JSONPath that matches nothing).
fn picky_loop(policy: &str) -> Value {
    loop_doc(
        json!("{{ start.output.items }}"),
        vec![
            json!({ "id": "pick", "type": "core.jsonpath", "params": { "json_object": "{{ loop.item }}", "json_path": "$.v" } }),
        ],
        vec![],
        json!({ "on_item_error": policy, "max_concurrency": 1 }),
    )
}

#[tokio::test]
async fn a_failed_item_stops_the_loop_or_is_recorded_and_skipped_over() {
    let app = spawn_app().await;
    let payload = json!({ "items": [{ "v": 1 }, { "w": 2 }, { "v": 3 }] });

    let id = create_ok(&app, &picky_loop("continue")).await;
    let exec = run_to_end(&app, &id, &payload).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let out = &step(&exec, "each")["output"]["output"];
    assert_eq!(out[0], 1);
    assert!(
        out[1]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`$.v` matched nothing")),
        "{out}"
    );
    assert_eq!(out[2], 3);
    assert_eq!(
        scoped(&exec, "pick", "each[1]").unwrap()["status"],
        "failed"
    );

    let id = create_ok(&app, &picky_loop("stop")).await;
    let exec = run_to_end(&app, &id, &payload).await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    let error = exec["error"].as_str().unwrap();
    assert!(
        error.contains("item 1 failed") && error.contains("matched nothing"),
        "{error}"
    );
    assert_eq!(step(&exec, "each")["status"], "failed");
    assert!(!crate::helpers::ran(&exec, "after"));
    assert!(scoped(&exec, "pick", "each[0]").is_some());
    assert!(
        scoped(&exec, "pick", "each[2]").is_none(),
        "an item after the failure ran: {exec:#}"
    );
}

#[tokio::test]
async fn a_loop_over_something_else_than_a_list_fails_with_a_clear_message() {
    let app = spawn_app().await;
    let id = create_ok(&app, &picky_loop("continue")).await;
    for (items, kind) in [
        (json!("abc"), "a string"),
        (json!({ "v": 1 }), "an object"),
        (json!(7), "a number"),
    ] {
        let exec = run_to_end(&app, &id, &json!({ "items": items })).await;
        assert_eq!(exec["status"], "failed", "{exec:#}");
        let error = step(&exec, "each")["error"].as_str().unwrap().to_string();
        assert!(
            error.contains("`items` must be a list") && error.contains(kind),
            "{error}"
        );
        assert!(scoped(&exec, "pick", "each[0]").is_none());
    }
    // A literal that is not a list is refused at save time.
    let r = create_json(
        &app,
        &loop_doc(
            json!(5),
            vec![json!({ "id": "pick", "type": "core.transform", "params": { "value": 1 } })],
            vec![],
            json!({}),
        ),
    )
    .await;
    r.expect_error(422, "invalid");
    assert!(
        r.detail_paths()
            .contains(&"nodes[1].params.items".to_string()),
        "{:?}",
        r.detail_paths()
    );
}

#[tokio::test]
async fn a_loop_body_wired_to_the_outer_graph_or_loop_outside_a_body_is_422() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let mut doc = loop_doc(
        json!("{{ start.output.items }}"),
        vec![
            json!({ "id": "inner", "type": "core.transform", "params": { "value": "{{ loop.item }}" } }),
        ],
        vec![],
        json!({}),
    );
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "from": "inner", "to": "after" }));
    let r = create_json(&app, &doc).await;
    r.expect_error(422, "invalid");
    assert!(
        r.error_text().contains("crosses the body of loop `each`"),
        "{}",
        r.error_text()
    );
    assert!(
        r.detail_paths().contains(&"edges[2]".to_string()),
        "{:?}",
        r.detail_paths()
    );

    // `loop` outside a body is an unknown name.
    let doc = manual_doc(
        "loose loop",
        vec![
            json!({ "id": "t", "type": "core.transform", "params": { "value": "{{ loop.item }}" } }),
        ],
        vec![json!({ "from": "start", "to": "t" })],
    );
    let r = create_json(&app, &doc).await;
    r.expect_error(422, "invalid");
    assert!(
        r.error_text().contains("only available inside a loop body"),
        "{}",
        r.error_text()
    );
    assert_eq!(app.counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// core.wait and the workflow timeout

const HOUR_MS: i64 = 3_600_000;

fn wait_doc(params: Value) -> Value {
    manual_doc(
        "wait",
        vec![
            json!({ "id": "pause", "type": "core.wait", "params": params }),
            json!({ "id": "after", "type": "core.transform", "params": { "value": "{{ pause.output.waited_until }}" } }),
        ],
        vec![
            json!({ "from": "start", "to": "pause" }),
            json!({ "from": "pause", "to": "after" }),
        ],
    )
}

async fn clocked() -> (TestApp, Arc<TestClock>) {
    let clock = Arc::new(TestClock::default());
    let c = clock.clone();
    let app = spawn_app_with(move |_, o| o.clock = c).await;
    (app, clock)
}

#[tokio::test]
async fn waits_inside_a_loop_body_park_the_loop_and_each_item_resumes_when_due() {
    let (app, clock) = clocked().await;
    let body = vec![
        json!({ "id": "pause", "type": "core.wait", "params": { "duration": "{{ loop.item.hours }}h" } }),
        json!({ "id": "tag", "type": "core.transform", "params": { "value": "{{ loop.item.name }} waited" } }),
    ];
    // One at a time: an item that waits lets the next one start.
    let doc = loop_doc(
        json!("{{ start.output.items }}"),
        body,
        vec![json!({ "from": "pause", "to": "tag" })],
        json!({ "max_concurrency": 1 }),
    );
    let id = create_ok(&app, &doc).await;
    let items = json!({ "items": [{ "name": "a", "hours": 1 }, { "name": "b", "hours": 2 }] });
    let exec_id = app.run_manual(ADMIN, &id, &items).await;
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "each")["status"], "waiting", "{exec:#}");
    for scope in ["each[0]", "each[1]"] {
        assert_eq!(scoped(&exec, "pause", scope).unwrap()["status"], "waiting");
    }
    // The first item's time comes: it finishes, the loop waits on for the second.
    clock.advance(HOUR_MS + 1000);
    app.running.state.engine.wake();
    let until = Instant::now() + Duration::from_secs(20);
    while scoped(&app.execution(ADMIN, &exec_id).await, "tag", "each[0]").is_none() {
        assert!(Instant::now() < until, "the first item did not resume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(
        scoped(&exec, "pause", "each[1]").unwrap()["status"],
        "waiting"
    );
    clock.advance(HOUR_MS);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let want = json!(["a waited", "b waited"]);
    assert_eq!(step(&exec, "each")["output"]["output"], want);
    assert_eq!(step(&exec, "after")["output"]["output"], want);
    for scope in ["each[0]", "each[1]"] {
        for node in ["pause", "tag"] {
            let s = scoped(&exec, node, scope).unwrap();
            assert_eq!(
                (s["status"].as_str(), s["attempts"].as_i64()),
                (Some("succeeded"), Some(1))
            );
        }
    }
}

#[tokio::test]
async fn a_failed_item_stays_failed_when_the_loop_runs_again_after_a_wait() {
    let (app, clock) = clocked().await;
    let body = vec![
        json!({ "id": "pause", "type": "core.wait", "params": { "duration": "{{ loop.item }}" } }),
    ];
    let doc = loop_doc(
        json!(["soon", "1h"]),
        body,
        vec![],
        json!({ "on_item_error": "continue" }),
    );
    let id = create_ok(&app, &doc).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    wait_status(&app, &exec_id, "waiting").await;
    clock.advance(HOUR_MS + 1000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let out = &step(&exec, "each")["output"]["output"];
    let failed = out[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        failed.contains("step `pause` failed") && failed.contains("soon"),
        "{out:#}"
    );
    assert!(out[1]["waited_until"].is_string(), "{out:#}");
}

#[tokio::test]
async fn a_wait_holds_the_run_until_its_time_comes() {
    let (app, clock) = clocked().await;
    let id = create_ok(&app, &wait_doc(json!({ "duration": "1h" }))).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "pause")["status"], "waiting", "{exec:#}");
    assert!(!crate::helpers::ran(&exec, "after"));
    // Not yet due: a wake changes nothing.
    clock.advance(HOUR_MS / 2);
    app.running.state.engine.wake();
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "pause")["status"], "waiting");

    clock.advance(HOUR_MS / 2 + 1000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let waited = step(&exec, "pause")["output"]["output"]["waited_until"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(step(&exec, "after")["output"]["output"], waited.as_str());
}

#[tokio::test]
async fn a_waiting_run_survives_a_restart() {
    let (app, clock) = clocked().await;
    let id = create_ok(&app, &wait_doc(json!({ "duration": "2h" }))).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    wait_status(&app, &exec_id, "waiting").await;
    let c = clock.clone();
    let app = app.restart_with(move |_, o| o.clock = c).await;
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "pause")["status"], "waiting");
    clock.advance(2 * HOUR_MS + 1000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "pause")["attempts"], 1, "{exec:#}");
    assert!(crate::helpers::ran(&exec, "after"));
}

#[tokio::test]
async fn a_wait_until_a_past_time_continues_at_once() {
    let app = spawn_app().await;
    let id = create_ok(&app, &wait_doc(json!({ "until": "2020-01-02T03:04:05Z" }))).await;
    let exec = run_to_end(&app, &id, &json!({})).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(
        step(&exec, "pause")["output"]["output"]["waited_until"],
        "2020-01-02T03:04:05.000Z"
    );
}

#[tokio::test]
async fn a_wait_needs_exactly_one_of_duration_and_until() {
    let app = spawn_app().await;
    let before = app.counts().await;
    for params in [
        json!({ "duration": "5m", "until": "2030-01-01T00:00:00Z" }),
        json!({}),
        json!({ "duration": "5 minutes" }),
        json!({ "until": "tomorrow" }),
    ] {
        let r = create_json(&app, &wait_doc(params.clone())).await;
        r.expect_error(422, "invalid");
        assert!(
            r.detail_paths()
                .iter()
                .any(|p| p.starts_with("nodes[1].params")),
            "{params}: {:?}",
            r.detail_paths()
        );
    }
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_run_longer_than_the_workflow_timeout_fails_with_execution_timed_out() {
    let (app, clock) = clocked().await;
    let mut doc = wait_doc(json!({ "duration": "1h" }));
    doc["timeout"] = json!("1m");
    let id = create_ok(&app, &doc).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    wait_status(&app, &exec_id, "waiting").await;
    clock.advance(2 * 60_000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    assert_eq!(exec["error"], "execution timed out");
    assert!(!crate::helpers::ran(&exec, "after"));
    // A bad timeout is refused.
    doc["timeout"] = json!("soon");
    create_json(&app, &doc).await.expect_error(422, "invalid");
}

// ---------------------------------------------------------------------------------------------
// core.string

#[tokio::test]
async fn every_string_operation_gives_the_documented_result() {
    let app = spawn_app().await;
    let input = "  Budget ALERT for sig-e26f1234 and sig-0abc9999  ";
    let ops = vec![
        (
            "lower",
            json!({ "input": "{{ start.output.text }}", "operation": "to_lower" }),
            json!(input.to_lowercase()),
        ),
        (
            "upper",
            json!({ "input": "{{ start.output.text }}", "operation": "to_upper" }),
            json!(input.to_uppercase()),
        ),
        (
            "strip",
            json!({ "input": "{{ start.output.text }}", "operation": "strip" }),
            json!(input.trim()),
        ),
        (
            "replace",
            json!({ "input": "{{ start.output.text }}", "operation": "replace", "find": "sig-", "replace_with": "eg:" }),
            json!(input.replace("sig-", "eg:")),
        ),
        (
            "replace_re",
            json!({ "input": "{{ start.output.text }}", "operation": "replace", "find": "sig-([0-9a-f]+)", "replace_with": "<$1>", "regex": true }),
            json!("  Budget ALERT for <e26f1234> and <0abc9999>  "),
        ),
        (
            "extract",
            json!({ "input": "{{ start.output.text }}", "operation": "regex_extract_all", "pattern": "sig-[0-9a-f]+" }),
            json!(["sig-e26f1234", "sig-0abc9999"]),
        ),
        (
            "extract_group",
            json!({ "input": "{{ start.output.text }}", "operation": "regex_extract_all", "pattern": "sig-([0-9a-f]{4})" }),
            json!(["e26f", "0abc"]),
        ),
        (
            "split",
            json!({ "input": "{{ start.output.csv }}", "operation": "split", "separator": "," }),
            json!(["a", "b", "c"]),
        ),
        (
            "join",
            json!({ "input": "{{ start.output.list }}", "operation": "join", "separator": " | " }),
            json!("x | 2 | z"),
        ),
    ];
    let nodes = ops
        .iter()
        .map(|(id, params, _)| json!({ "id": id, "type": "core.string", "params": params }))
        .collect();
    let edges = ops
        .iter()
        .map(|(id, _, _)| json!({ "from": "start", "to": id }))
        .collect();
    let id = create_ok(&app, &manual_doc("strings", nodes, edges)).await;
    let payload = json!({ "text": input, "csv": "a,b,c", "list": ["x", 2, "z"] });
    let exec = run_to_end(&app, &id, &payload).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    for (id, _, want) in &ops {
        assert_eq!(&step(&exec, id)["output"]["output"], want, "{id}");
    }
}

#[tokio::test]
async fn an_invalid_string_regex_or_missing_argument_is_422() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let nodes = vec![
        json!({ "id": "a", "type": "core.string", "params": { "input": "x", "operation": "regex_extract_all", "pattern": "(unclosed" } }),
        json!({ "id": "b", "type": "core.string", "params": { "input": "x", "operation": "replace", "find": "[z-a]", "replace_with": "", "regex": true } }),
        json!({ "id": "c", "type": "core.string", "params": { "input": "x", "operation": "split" } }),
        json!({ "id": "d", "type": "core.string", "params": { "input": "x", "operation": "shout" } }),
    ];
    let edges = ["a", "b", "c", "d"]
        .iter()
        .map(|n| json!({ "from": "start", "to": n }))
        .collect();
    let r = create_json(&app, &manual_doc("bad strings", nodes, edges)).await;
    r.expect_error(422, "invalid");
    let paths = r.detail_paths();
    for p in [
        "nodes[1].params.pattern",
        "nodes[2].params.find",
        "nodes[3].params.separator",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} missing in {paths:?}");
    }
    assert!(
        paths.iter().any(|x| x.starts_with("nodes[4].params")),
        "{paths:?}"
    );
    assert!(r.error_text().contains("not a valid regular expression"));
    assert_eq!(app.counts().await, before);
    // A regex that is only known at run time fails the step, naming the problem.
    let nodes = vec![
        json!({ "id": "a", "type": "core.string", "params": { "input": "x", "operation": "regex_extract_all", "pattern": "{{ start.output.re }}" } }),
    ];
    let id = create_ok(
        &app,
        &manual_doc(
            "late regex",
            nodes,
            vec![json!({ "from": "start", "to": "a" })],
        ),
    )
    .await;
    let exec = run_to_end(&app, &id, &json!({ "re": "(oops" })).await;
    assert_eq!(exec["status"], "failed");
    assert!(
        step(&exec, "a")["error"]
            .as_str()
            .unwrap()
            .contains("not a valid regular expression"),
        "{exec:#}"
    );
}
