//! `slack.approval`: the posted request, the suspension, and each way it wakes.

use serde_json::{json, Value};

use flowgate_nodes::{Clock, Decision, Outcome};
use flowgate_standins::slack::Fault;

use crate::{done, Harness};

// ---------------------------------------------------------------- slack.approval

pub(crate) fn approval_params() -> Value {
    json!({ "integration": "ops-slack", "channel": "C0OPS", "notes": "Scale down web-prod by 2 instances?", "timeout": "4h" })
}

#[tokio::test]
async fn approval_posts_two_unguessable_buttons_and_suspends() {
    let h = Harness::start().await;
    let before = h.clock.now_ms();
    let mut params = approval_params();
    params["approvers"] = json!(["U0ALICE", "U0BOB"]);
    let Outcome::Suspend {
        wake_at,
        state,
        approval,
    } = h.execute("slack.approval", params.clone()).await.unwrap()
    else {
        panic!("approval must suspend")
    };
    let approval = approval.expect("an approval request");
    let four_hours = 4 * 3_600_000;
    assert!(wake_at >= before + four_hours && wake_at <= h.clock.now_ms() + four_hours);
    assert_eq!(approval.expires_at, wake_at);
    assert_eq!(approval.secret.len(), 64);
    assert!(approval.secret.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        approval.approvers,
        Some(vec!["U0ALICE".to_string(), "U0BOB".to_string()])
    );
    assert_eq!(approval.integration.as_deref(), Some("ops-slack"));

    let posted = h.slack.posted();
    assert_eq!(posted.len(), 1);
    let msg = &posted[0];
    assert_eq!(
        (approval.channel.as_deref(), approval.ts.as_deref()),
        (Some("C0OPS"), Some(msg.ts.as_str()))
    );
    assert_eq!(
        (state["channel"].as_str(), state["ts"].as_str()),
        (Some("C0OPS"), Some(msg.ts.as_str()))
    );
    assert!(
        !state.to_string().contains(&approval.secret),
        "the secret stays out of the step state"
    );
    assert!(msg.text.contains("Scale down web-prod by 2 instances?"));
    let buttons = msg.buttons();
    assert_eq!(buttons.len(), 2);
    let approve = msg.button("flowgate_approve").unwrap();
    let deny = msg.button("flowgate_deny").unwrap();
    assert_eq!(
        approve["value"],
        format!("{}:{}:approve", approval.id, approval.secret)
    );
    assert_eq!(
        deny["value"],
        format!("{}:{}:deny", approval.id, approval.secret)
    );
    assert_eq!(
        (approve["style"].as_str(), deny["style"].as_str()),
        (Some("primary"), Some("danger"))
    );
    assert_eq!(approve["block_id"], "flowgate_approval");

    let Outcome::Suspend {
        approval: second, ..
    } = h
        .execute("slack.approval", approval_params())
        .await
        .unwrap()
    else {
        panic!()
    };
    let second = second.unwrap();
    assert_ne!(second.id, approval.id);
    assert_ne!(second.secret, approval.secret);
}

#[tokio::test]
async fn approval_timeout_must_be_between_a_minute_and_a_week() {
    let h = Harness::start().await;
    let node = h.registry.get("slack.approval").unwrap();
    let problems_for = |timeout: &str| {
        let mut p = approval_params();
        p["timeout"] = json!(timeout);
        node.validate(&p, "nodes[4].params")
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>()
    };
    for ok in ["1m", "4h", "7d", "{{ trigger_1.output.wait }}"] {
        assert!(problems_for(ok).is_empty(), "{ok}");
    }
    for bad in ["59s", "8d", "soon", ""] {
        assert_eq!(problems_for(bad), ["nodes[4].params.timeout"], "{bad}");
    }
    let mut p = approval_params();
    p["approvers"] = json!(["U0ALICE", "alice@example.com"]);
    assert_eq!(
        node.validate(&p, "n")
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>(),
        ["n.approvers[1]"]
    );
    let ports = node.ports(&approval_params());
    assert_eq!(ports.named, ["approved", "denied", "timed_out"]);
    assert!(ports.error && !ports.default);
}

async fn suspended(h: &Harness) -> (Value, String) {
    let Outcome::Suspend { state, .. } = h
        .execute("slack.approval", approval_params())
        .await
        .unwrap()
    else {
        panic!("approval must suspend")
    };
    let ts = state["ts"].as_str().unwrap().to_string();
    (state, ts)
}

fn decision(status: &str, decided_by: Option<Value>, decided_at: Option<i64>) -> Decision {
    Decision {
        status: status.into(),
        decided_by,
        decided_at,
        comment: None,
        channel: Some("C0OPS".into()),
        ts: None,
    }
}

#[tokio::test]
async fn approved_leaves_on_approved_and_updates_the_message() {
    let h = Harness::start().await;
    let (state, ts) = suspended(&h).await;
    let by = json!({ "id": "U0ALICE", "name": "alice", "team_id": "T0STANDIN", "via": "slack" });
    let at = 1_700_000_000_000;
    let (output, port) = done(
        h.resume(
            approval_params(),
            state,
            Some(decision("approved", Some(by), Some(at))),
        )
        .await
        .unwrap(),
    );
    assert_eq!(port.as_deref(), Some("approved"));
    assert_eq!(
        output["output"],
        json!({ "decision": "approved", "decided_by": { "id": "U0ALICE", "name": "alice" }, "decided_at": "2023-11-14T22:13:20Z", "channel": "C0OPS", "ts": ts })
    );
    let now = h.slack.message("C0OPS", &ts).unwrap();
    assert!(
        now.buttons().is_empty(),
        "the decided message has no buttons"
    );
    assert!(now.text.starts_with("Approved by alice"), "{}", now.text);
    assert!(now
        .blocks
        .unwrap()
        .to_string()
        .contains("*Approved* by <@U0ALICE>"));
    assert_eq!(h.slack.updates().len(), 1);
}

#[tokio::test]
async fn denied_leaves_on_denied() {
    let h = Harness::start().await;
    let (state, ts) = suspended(&h).await;
    let by = json!({ "id": "U0BOB", "name": "bob" });
    let (output, port) = done(
        h.resume(
            approval_params(),
            state,
            Some(decision("denied", Some(by), Some(1_700_000_000_000))),
        )
        .await
        .unwrap(),
    );
    assert_eq!(port.as_deref(), Some("denied"));
    assert_eq!(
        output["output"]["decided_by"],
        json!({ "id": "U0BOB", "name": "bob" })
    );
    assert!(h
        .slack
        .message("C0OPS", &ts)
        .unwrap()
        .text
        .starts_with("Denied by bob"));
}

#[tokio::test]
async fn a_timeout_leaves_on_timed_out_and_says_so_in_slack() {
    let h = Harness::start().await;
    for wake in [
        Some(decision("timed_out", None, Some(1_700_000_000_000))),
        None,
    ] {
        let (state, ts) = suspended(&h).await;
        let (output, port) = done(h.resume(approval_params(), state, wake).await.unwrap());
        assert_eq!(port.as_deref(), Some("timed_out"));
        assert_eq!(output["output"]["decision"], "timed_out");
        assert_eq!(output["output"]["decided_by"], Value::Null);
        let now = h.slack.message("C0OPS", &ts).unwrap();
        assert!(now.text.starts_with("Timed out"), "{}", now.text);
        assert!(now.buttons().is_empty());
    }
}

#[tokio::test]
async fn a_failed_update_does_not_fail_the_decided_step() {
    let h = Harness::start().await;
    let (state, _) = suspended(&h).await;
    h.slack
        .inject("chat.update", Fault::Error("message_not_found".into()));
    let (_, port) = done(
        h.resume(
            approval_params(),
            state,
            Some(decision("approved", Some(json!("alice")), None)),
        )
        .await
        .unwrap(),
    );
    assert_eq!(port.as_deref(), Some("approved"));
    assert_eq!(h.slack.calls("chat.update"), 1);
    assert!(h.slack.updates().is_empty());
}

#[tokio::test]
async fn an_unknown_decision_status_fails_the_step() {
    let h = Harness::start().await;
    let (state, _) = suspended(&h).await;
    let err = h
        .resume(
            approval_params(),
            state,
            Some(decision("maybe", None, None)),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("`maybe`"));
}
