//! Approvals inside a `core.loop` body, against the Slack stand-in: one approval per item, each
//! decided on its own (a Slack click, the API), the loop waiting until the last; an execution that
//! fails while items wait cancels their approvals.

use std::time::{Duration, Instant};

use serde_json::json;

use flowgate_standins::slack::{self, Tamper};

use crate::control::scoped;
use crate::helpers::{step, ADMIN};
use crate::story::{alice, full_text, World};

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
    // One item decided, the other still asks: the loop waits on.
    let until = Instant::now() + DEADLINE;
    loop {
        let exec = w.app.execution(ADMIN, &exec_id).await;
        let kept = exec["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["node_id"] == "keep");
        if kept {
            assert_eq!(exec["status"], "waiting", "{exec:#}");
            break;
        }
        assert!(
            Instant::now() < until,
            "the denied item did not go on: {exec:#}"
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
