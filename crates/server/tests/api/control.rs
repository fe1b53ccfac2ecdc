//! Control structures through the API: `core.if` (every operator family, numeric comparison of
//! numeric strings, first match wins, `else`, skipped branches), `core.wait` (durable, across a
//! restart, with a test clock), the workflow `timeout`, and `core.string`. `core.loop` is in
//! `loops.rs`.

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

pub fn manual_doc(name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> Value {
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
// core.wait and the workflow timeout

pub const HOUR_MS: i64 = 3_600_000;

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

pub async fn clocked() -> (TestApp, Arc<TestClock>) {
    let clock = Arc::new(TestClock::default());
    let c = clock.clone();
    let app = spawn_app_with(move |_, o| o.clock = c).await;
    (app, clock)
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
