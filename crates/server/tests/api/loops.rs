//! `core.loop` through the API: items, index, per-item error policy, non-lists, body wiring; waits
//! and approvals inside a body (an item that waits lets the next start, the loop waits until the
//! last, each item resumes on its own), a failed item staying failed when the loop runs again, and
//! an execution that fails while items wait cancelling their approvals (Slack stand-in).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use flowgate_standins::slack::{self, Tamper};

use crate::control::{
    clocked, create_json, create_ok, manual_doc, run_to_end, scoped, wait_status, HOUR_MS,
};
use crate::helpers::{spawn_app, step, ADMIN};
use crate::story::{alice, full_text, World};

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
async fn a_wait_inside_a_nested_loop_parks_both_loops_and_resumes_them() {
    let (app, clock) = clocked().await;
    // The outer body is the inner loop; the inner body is a wait, then a transform.
    let inner = json!({ "id": "inner", "type": "core.loop", "params": { "items": ["x", "y"], "nodes": ["pause", "tag"] } });
    let mut doc = loop_doc(
        json!([1, 2]),
        vec![inner],
        vec![json!({ "from": "pause", "to": "tag" })],
        json!({}),
    );
    let nodes = doc["nodes"].as_array_mut().unwrap();
    nodes.push(json!({ "id": "pause", "type": "core.wait", "params": { "duration": "1h" } }));
    nodes.push(
        json!({ "id": "tag", "type": "core.transform", "params": { "value": "{{ loop.item }}" } }),
    );
    let id = create_ok(&app, &doc).await;
    let exec_id = app.run_manual(ADMIN, &id, &json!({})).await;
    let exec = wait_status(&app, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "each")["status"], "waiting", "{exec:#}");
    assert_eq!(
        scoped(&exec, "inner", "each[1]").unwrap()["status"],
        "waiting"
    );
    assert_eq!(
        scoped(&exec, "pause", "each[1]/inner[1]").unwrap()["status"],
        "waiting"
    );
    clock.advance(HOUR_MS + 1000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(
        step(&exec, "each")["output"]["output"],
        json!([["x", "y"], ["x", "y"]])
    );
    // Four waits (two outer items × two inner items), each run once.
    let pauses: Vec<(String, &Value, &Value)> = exec["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["node_id"] == "pause")
        .map(|s| {
            (
                s["scope"].as_str().unwrap().to_string(),
                &s["status"],
                &s["attempts"],
            )
        })
        .collect();
    assert_eq!(pauses.len(), 4, "{pauses:?}");
    for (scope, status, attempts) in pauses {
        assert_eq!(
            (status, attempts),
            (&json!("succeeded"), &json!(1)),
            "{scope}"
        );
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

const DEADLINE: Duration = Duration::from_secs(20);

/// One approval per group, asked inside a loop body; approved groups are scaled, denied ones kept.
const PER_GROUP_YAML: &str = r#"name: Per-group approvals
description: Ask for each group inside a loop
nodes:
  - id: trigger_1
    type: trigger.webhook
    params:
      api_key: budget-alerts
  - id: each
    type: core.loop
    params:
      items: ["first", "second"]
      nodes: [ask, scale, keep]
  - id: ask
    type: slack.approval
    params:
      integration: ops-slack
      channel: C0123ABCD
      notes: "Scale down {{ loop.item }}?"
      timeout: 1h
  - id: scale
    type: core.transform
    params:
      value: "scaled {{ loop.item }}"
  - id: keep
    type: core.transform
    params:
      value: "kept {{ loop.item }}"
edges:
  - { from: trigger_1, to: each }
  - { from: ask, port: approved, to: scale }
  - { from: ask, port: denied, to: keep }
"#;

#[tokio::test]
async fn approvals_inside_a_loop_body_are_asked_per_item_and_decided_separately() {
    let w = World::new().await;
    let wf = w.app.workflow_id(ADMIN, PER_GROUP_YAML).await;
    let exec_id = w.fire(&wf).await;
    let until = Instant::now() + DEADLINE;
    let pending = loop {
        let pending = w.approvals("pending").await;
        if pending.len() == 2 {
            break pending;
        }
        assert!(
            Instant::now() < until,
            "two approvals were not asked: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let exec = w.wait_status(ADMIN, &exec_id, "waiting").await;
    assert_eq!(step(&exec, "each")["status"], "waiting", "{exec:#}");
    assert_eq!(w.slack.posted().len(), 2, "one message per item");
    let id_of = |item: &str| {
        pending
            .iter()
            .find(|a| a["notes"] == format!("Scale down {item}?"))
            .unwrap_or_else(|| panic!("no approval for {item}: {pending:?}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let decide = |id: String, decision: &'static str| {
        let app = &w.app;
        async move {
            let path = format!("/api/v1/approvals/{id}/decision");
            app.post(ADMIN, &path, &json!({ "decision": decision }))
                .await
                .expect(200);
        }
    };
    decide(id_of("second"), "deny").await;
    // One item decided, the other still asks: the loop waits on. (The denied item's steps commit
    // while the execution runs; the loop then waits again.)
    let until = Instant::now() + DEADLINE;
    loop {
        let exec = w.app.execution(ADMIN, &exec_id).await;
        let kept = exec["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["node_id"] == "keep");
        if kept && exec["status"] == "waiting" {
            break;
        }
        assert!(
            Instant::now() < until,
            "the denied item did not go on, or the loop did not wait again: {exec:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The other is approved with a click on its own Slack message.
    let first = w
        .slack
        .posted()
        .into_iter()
        .find(|m| full_text(m).contains("Scale down first?"))
        .expect("the first item's message");
    let clicked = w
        .click(
            &first,
            "flowgate_approve",
            &alice(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(clicked, 200);
    let exec = w.wait_status(ADMIN, &exec_id, "succeeded").await;
    assert_eq!(
        step(&exec, "each")["output"]["output"],
        json!(["scaled first", "kept second"]),
        "{exec:#}"
    );
    assert!(w.approvals("pending").await.is_empty());
    let asked = scoped(&exec, "ask", "each[0]").expect("the first item asked");
    assert_eq!(
        asked["output"]["output"]["decided_by"],
        json!({ "id": "U0ALICE", "name": "alice" })
    );
    assert!(
        w.slack.calls("chat.update") >= 2,
        "both messages lose their buttons"
    );
}

#[tokio::test]
async fn an_execution_that_fails_while_loop_items_wait_closes_their_approvals() {
    let w = World::new().await;
    let yaml = r#"name: Fails while asking
description: The first item asks, the second fails the execution
nodes:
  - { id: trigger_1, type: trigger.webhook, params: { api_key: budget-alerts } }
  - id: each
    type: core.loop
    params: { items: ["first", "bad"], nodes: [gate, ask, boom] }
  - id: gate
    type: core.if
    params: { rules: [ { port: bad, left: "{{ loop.item }}", operator: "==", right: bad } ] }
  - id: ask
    type: slack.approval
    params: { integration: ops-slack, channel: C0123ABCD, notes: "Go on with {{ loop.item }}?", timeout: 1h }
  - { id: boom, type: core.fail, params: { message: "bad item" } }
edges:
  - { from: trigger_1, to: each }
  - { from: gate, port: bad, to: boom }
  - { from: gate, port: else, to: ask }
"#;
    let wf = w.app.workflow_id(ADMIN, yaml).await;
    let exec_id = w.fire(&wf).await;
    let exec = w.wait_status(ADMIN, &exec_id, "failed").await;
    assert_eq!(exec["error"], "bad item", "{exec:#}");
    let ask = scoped(&exec, "ask", "each[0]").expect("the first item asked");
    assert_eq!(ask["status"], "cancelled", "{exec:#}");
    assert!(w.approvals("pending").await.is_empty());
    let all = w.app.get(ADMIN, "/api/v1/approvals").await;
    let all = all.expect(200);
    assert_eq!(all["items"][0]["status"], "cancelled", "{all:#}");
}
