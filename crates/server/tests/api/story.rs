//! The seed story of spec §1, end to end through the HTTP API against the Spot and Slack
//! stand-ins: alert → group fetched → message posted → approval → signed click → scale down; and
//! its Deny, timeout and restart-while-waiting paths. Also the `World` the Slack tests share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use flowgate_nodes::TestClock;
use flowgate_server::{Options, Settings};
use flowgate_standins::slack::{self, ClickUser, Message, SlackStandin, Tamper};
use flowgate_standins::spot::Capacity;
use flowgate_standins::SpotStandin;

use crate::helpers::{spawn_app_with, step, TestApp, ADMIN};

/// The workflow of spec §3, verbatim: its aliases name integrations pointing at the stand-ins.
pub const STORY_YAML: &str = r#"name: Budget scale-down
description: Scale an Elastigroup down when its budget threshold is reached, after approval
nodes:
  - id: trigger_1
    type: trigger.webhook
    params:
      api_key: budget-alerts          # name of an API key of this organization
  - id: list_elastigroup
    type: spot.elastigroup_aws
    name: List Elastigroup
    params:
      integration: spot-prod          # integration alias
      account_id: "{{ trigger_1.output.Account_ID }}"
      operation: get_elastigroup
      group_id: "{{ trigger_1.output.Elastigroup_Id }}"
  - id: notify
    type: slack.send_message
    params:
      integration: ops-slack
      channel: C0123ABCD
      variables:
        EG-Name: "{{ list_elastigroup.output.name }}"
      text: "Budget threshold reached for {{EG-Name}}"
  - id: approval_1
    type: slack.approval
    params:
      integration: ops-slack
      channel: C0123ABCD
      notes: "Scale down {{ list_elastigroup.output.name }} by 2 instances?"
      timeout: 4h
  - id: scale_down
    type: spot.elastigroup_aws
    name: Scale Down Elastigroup
    params:
      integration: spot-prod
      account_id: "{{ trigger_1.output.Account_ID }}"
      operation: scale_down
      group_id: "{{ trigger_1.output.Elastigroup_Id }}"
      adjustment: 2
  - id: stop_1
    type: core.stop
edges:
  - { from: trigger_1, to: list_elastigroup }
  - { from: list_elastigroup, to: notify }
  - { from: notify, to: approval_1 }
  - { from: approval_1, port: approved, to: scale_down }
  - { from: approval_1, port: denied, to: stop_1 }
"#;

pub const SPOT_TOKEN: &str = "spot-standin-token";
pub const ACCOUNT: &str = "act-29ddd123";
pub const GROUP: &str = "sig-e26f1234";
pub const GROUP_NAME: &str = "web-prod";
pub const CHANNEL: &str = "C0123ABCD";
/// How long a test waits for an outcome before it fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// The budget alert of spec §1.
pub fn alert() -> Value {
    json!({
        "Organization_Name": "SpotOrgname", "Account_Name": "SpotAccountname", "Account_ID": ACCOUNT,
        "MTD_Spend": "3.8", "Budget": "4.0", "Elastigroup_Id": GROUP,
    })
}

/// The story YAML with a `timed_out` edge to an `escalate` step.
pub fn yaml_with_timeout_edge() -> String {
    STORY_YAML
        .replace(
            "edges:\n",
            "  - id: escalate\n    type: core.transform\n    params:\n      value: escalated\nedges:\n",
        )
        .replace(
            "to: stop_1 }\n",
            "to: stop_1 }\n  - { from: approval_1, port: timed_out, to: escalate }\n",
        )
}

/// The story YAML with an `approvers` allow-list on the approval.
pub fn yaml_with_approvers(ids: &[&str]) -> String {
    STORY_YAML.replace(
        "      timeout: 4h\n",
        &format!("      timeout: 4h\n      approvers: [{}]\n", ids.join(", ")),
    )
}

/// A Flowgate server with a TestClock, the Spot and Slack stand-ins, the integrations
/// `spot-prod` and `ops-slack` pointing at them, and the API key `budget-alerts`.
pub struct World {
    pub app: TestApp,
    pub slack: SlackStandin,
    pub spot: SpotStandin,
    pub clock: Arc<TestClock>,
    pub key: String,
}

pub fn alice() -> ClickUser {
    ClickUser::new("U0ALICE", "alice")
}

pub fn bob() -> ClickUser {
    ClickUser::new("U0BOB", "bob")
}

impl World {
    pub async fn new() -> World {
        Self::with(|_, _| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Settings, &mut Options)) -> World {
        let clock = Arc::new(TestClock::default());
        let c = clock.clone();
        let app = spawn_app_with(|s, o| {
            o.clock = c;
            adjust(s, o)
        })
        .await;
        let slack = SlackStandin::start().await;
        slack.add_channel(CHANNEL, "budget-alerts", false, true);
        let spot = SpotStandin::start(SPOT_TOKEN).await;
        spot.add_account(ACCOUNT, "SpotAccountname");
        let capacity = Capacity {
            minimum: 0,
            maximum: 10,
            target: 5,
        };
        spot.add_group(ACCOUNT, GROUP, GROUP_NAME, capacity);
        let key = app.create_api_key(ADMIN, "budget-alerts").await;
        let w = World {
            app,
            slack,
            spot,
            clock,
            key,
        };
        w.add_integrations(ADMIN, slack::SIGNING_SECRET).await;
        w
    }

    /// Creates `spot-prod` and `ops-slack` in the token's organization.
    pub async fn add_integrations(&self, token: &str, signing_secret: &str) {
        let spot = json!({ "type": "spot", "alias": "spot-prod", "config": { "base_url": self.spot.base_url() }, "secrets": { "token": SPOT_TOKEN } });
        self.app
            .post(token, "/api/v1/integrations", &spot)
            .await
            .expect(201);
        let slack = json!({ "type": "slack", "alias": "ops-slack", "config": { "base_url": self.slack.api_url() },
            "secrets": { "bot_token": slack::BOT_TOKEN, "signing_secret": signing_secret } });
        self.app
            .post(token, "/api/v1/integrations", &slack)
            .await
            .expect(201);
    }

    /// Sends the alert to the workflow's webhook; returns the execution id.
    pub async fn fire(&self, workflow_id: &str) -> String {
        let r = self
            .app
            .post_webhook(workflow_id, Some(&self.key), &alert())
            .await;
        r.expect(202)["execution_id"].as_str().unwrap().to_string()
    }

    /// Creates the workflow from `yaml`, fires the alert and waits for the approval request.
    pub async fn park(&self, yaml: &str) -> (String, Message) {
        let wf = self.app.workflow_id(ADMIN, yaml).await;
        let exec = self.fire(&wf).await;
        self.wait_status(ADMIN, &exec, "waiting").await;
        (exec, self.approval_message().await)
    }

    /// Polls the execution until it has `status`; fails the test after a deadline.
    pub async fn wait_status(&self, token: &str, id: &str, status: &str) -> Value {
        wait_status(&self.app, token, id, status).await
    }

    /// The most recent posted message with Approve and Deny buttons.
    pub async fn approval_message(&self) -> Message {
        let found = self
            .slack
            .wait_until(DEADLINE, |s| {
                s.posted()
                    .iter()
                    .any(|m| m.button("flowgate_approve").is_some())
            })
            .await;
        assert!(
            found,
            "no approval request posted: {:?}",
            self.slack.posted()
        );
        self.slack
            .posted()
            .into_iter()
            .rev()
            .find(|m| m.button("flowgate_approve").is_some())
            .unwrap()
    }

    pub fn interactions_url(&self) -> String {
        self.app.url("/slack/interactions")
    }

    /// Clicks a button of `msg` through the stand-in; returns Flowgate's HTTP status.
    pub async fn click(
        &self,
        msg: &Message,
        action: &str,
        user: &ClickUser,
        secret: &str,
        tamper: Tamper,
    ) -> u16 {
        self.slack
            .click(&self.interactions_url(), secret, msg, action, user, tamper)
            .await
            .expect("Flowgate answers")
            .status()
            .as_u16()
    }

    /// The approvals of the admin's organization with this status.
    pub async fn approvals(&self, status: &str) -> Vec<Value> {
        let r = self
            .app
            .get(ADMIN, &format!("/api/v1/approvals?status={status}"))
            .await;
        r.expect(200)["items"].as_array().unwrap().clone()
    }

    /// Spot scale-down requests received, with their `adjustment`.
    pub fn scale_downs(&self) -> Vec<String> {
        self.spot
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/{GROUP}/scale/down")))
            .map(|r| r.query.get("adjustment").cloned().unwrap_or_default())
            .collect()
    }

    /// Waits for a chat.update of `msg`; returns the latest one.
    pub async fn wait_update(&self, msg: &Message) -> Message {
        let (channel, ts) = (msg.channel.clone(), msg.ts.clone());
        let found = self
            .slack
            .wait_until(DEADLINE, |s| {
                s.updates()
                    .iter()
                    .any(|u| u.channel == channel && u.ts == ts)
            })
            .await;
        assert!(found, "the approval message was not updated");
        let update = self
            .slack
            .updates()
            .into_iter()
            .rev()
            .find(|u| u.channel == channel && u.ts == ts)
            .unwrap();
        assert!(update.buttons().is_empty(), "buttons left: {update:?}");
        update
    }
}

pub async fn wait_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    let until = Instant::now() + DEADLINE;
    loop {
        let exec = app.execution(token, id).await;
        if exec["status"] == status {
            return exec;
        }
        assert!(
            Instant::now() < until,
            "execution {id} did not become {status}: {exec:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything the message said, blocks included, for `contains` checks.
pub fn full_text(m: &Message) -> String {
    format!("{} {}", m.text, m.blocks.clone().unwrap_or_default())
}

#[tokio::test]
async fn the_seed_story_runs_end_to_end_and_records_the_approver() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;

    // The group's name was fetched and used in both messages.
    let posted = w.slack.posted();
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(posted[0].channel, CHANNEL);
    assert_eq!(posted[0].text, "Budget threshold reached for web-prod");
    assert_eq!(msg.channel, CHANNEL);
    assert!(full_text(&msg).contains("Scale down web-prod by 2 instances?"));
    let labels: Vec<Value> = msg
        .buttons()
        .iter()
        .map(|b| b["text"]["text"].clone())
        .collect();
    assert_eq!(labels, vec![json!("Approve"), json!("Deny")]);

    let waiting = w.app.execution(ADMIN, &exec_id).await;
    assert_eq!(step(&waiting, "approval_1")["status"], "waiting");
    assert_eq!(
        step(&waiting, "notify")["output"]["output"]["ts"],
        posted[0].ts.as_str()
    );
    assert!(w.scale_downs().is_empty(), "scaled before the approval");

    let status = w
        .click(
            &msg,
            "flowgate_approve",
            &alice(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["trigger"]["body"], alert());

    // Scaled down by 2, once.
    assert_eq!(w.scale_downs(), vec!["2".to_string()]);
    assert_eq!(w.spot.capacity(GROUP).unwrap().target, 3);
    assert_eq!(step(&done, "scale_down")["status"], "succeeded");
    assert_eq!(step(&done, "stop_1")["status"], "skipped");

    // Who approved: on the step and on the approval.
    let approval_step = step(&done, "approval_1");
    assert_eq!(approval_step["port"], "approved");
    let out = &approval_step["output"]["output"];
    assert_eq!(out["decision"], "approved");
    assert_eq!(
        out["decided_by"],
        json!({ "id": "U0ALICE", "name": "alice" })
    );
    assert!(out["decided_at"].is_string(), "{out}");
    assert_eq!(out["channel"], CHANNEL);
    assert_eq!(out["ts"], msg.ts.as_str());
    let approved = w.approvals("approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["execution_id"], exec_id.as_str());
    assert_eq!(approved[0]["decided_by"]["id"], "U0ALICE");
    assert_eq!(approved[0]["decided_by"]["name"], "alice");
    assert!(approved[0]["decided_at"].is_string());
    assert!(w.approvals("pending").await.is_empty());

    // The message now says who decided, without buttons.
    let update = w.wait_update(&msg).await;
    assert!(update.text.contains("Approved by alice"), "{update:?}");
    assert!(full_text(&update).contains("<@U0ALICE>"), "{update:?}");
}

#[tokio::test]
async fn deny_ends_the_run_stopped_without_scaling() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let status = w
        .click(
            &msg,
            "flowgate_deny",
            &bob(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "stopped", "{done:#}");
    assert_eq!(step(&done, "stop_1")["status"], "succeeded");
    assert_eq!(step(&done, "approval_1")["port"], "denied");
    let by = &step(&done, "approval_1")["output"]["output"]["decided_by"];
    assert_eq!(by, &json!({ "id": "U0BOB", "name": "bob" }));
    assert!(w.scale_downs().is_empty());
    assert_eq!(w.spot.capacity(GROUP).unwrap().target, 5);
    let update = w.wait_update(&msg).await;
    assert!(update.text.contains("Denied by bob"), "{update:?}");
    assert_eq!(w.approvals("denied").await.len(), 1);
}

/// Moves the clock past the 4h timeout and tells the dispatcher to look.
fn expire(w: &World) {
    w.clock.advance(4 * 3_600_000 + 60_000);
    w.app.running.state.engine.wake();
}

#[tokio::test]
async fn a_timeout_with_a_timed_out_edge_continues_there() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(&yaml_with_timeout_edge()).await;
    expire(&w);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(step(&done, "approval_1")["port"], "timed_out");
    assert_eq!(
        step(&done, "approval_1")["output"]["output"]["decision"],
        "timed_out"
    );
    assert_eq!(step(&done, "escalate")["output"]["output"], "escalated");
    assert!(w.scale_downs().is_empty());
    let update = w.wait_update(&msg).await;
    assert!(update.text.contains("Timed out"), "{update:?}");
    let timed_out = w.approvals("timed_out").await;
    assert_eq!(timed_out.len(), 1);
    assert!(timed_out[0]["decided_by"].is_null());

    // A click after the timeout decides nothing.
    let status = w
        .click(
            &msg,
            "flowgate_approve",
            &alice(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    // The TestClock is 4h ahead, so Slack's fresh timestamp is outside the window: refused.
    assert_eq!(status, 401);
    assert_eq!(
        w.app.execution(ADMIN, &exec_id).await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn a_timeout_without_a_timed_out_edge_fails_the_run() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    // Not yet due: a wake changes nothing.
    w.app.running.state.engine.wake();
    assert_eq!(w.app.execution(ADMIN, &exec_id).await["status"], "waiting");
    expire(&w);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "failed", "{done:#}");
    assert!(
        done["error"].to_string().contains("approval timed out"),
        "{}",
        done["error"]
    );
    assert!(w.scale_downs().is_empty());
    let update = w.wait_update(&msg).await;
    assert!(update.text.contains("Timed out"), "{update:?}");
    assert_eq!(w.approvals("timed_out").await.len(), 1);
}

#[tokio::test]
async fn a_restart_while_waiting_changes_nothing() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let World {
        app, slack, spot, ..
    } = w;
    let clock = Arc::new(TestClock::default());
    let c = clock.clone();
    let app = app.restart_with(|_, o| o.clock = c).await;
    let w = World {
        app,
        slack,
        spot,
        clock,
        key: String::new(),
    };
    let exec = w.app.execution(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "waiting", "{exec:#}");
    assert_eq!(step(&exec, "approval_1")["status"], "waiting");
    assert_eq!(w.approvals("pending").await.len(), 1);
    // Nothing was re-posted or re-run by the restart.
    assert_eq!(w.slack.posted().len(), 2);
    assert_eq!(w.slack.calls("chat.update"), 0);

    let status = w
        .click(
            &msg,
            "flowgate_approve",
            &alice(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(w.scale_downs(), vec!["2".to_string()]);
    assert_eq!(w.slack.posted().len(), 2);
    w.wait_update(&msg).await;
}

#[tokio::test]
async fn pending_approvals_are_listed_with_the_spec_fields() {
    let w = World::new().await;
    let wf = w.app.workflow_id(ADMIN, STORY_YAML).await;
    let exec_id = w.fire(&wf).await;
    w.wait_status(ADMIN, &exec_id, "waiting").await;
    let pending = w.approvals("pending").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let a = &pending[0];
    for field in [
        "id",
        "execution_id",
        "workflow_id",
        "node_id",
        "status",
        "notes",
        "channel",
        "expires_at",
        "decision",
        "decided_by",
        "decided_at",
    ] {
        assert!(a.get(field).is_some(), "no `{field}` in {a}");
    }
    assert_eq!(a["execution_id"], exec_id.as_str());
    assert_eq!(a["workflow_id"], wf.as_str());
    assert_eq!(a["node_id"], "approval_1");
    assert_eq!(a["status"], "pending");
    assert_eq!(a["notes"], "Scale down web-prod by 2 instances?");
    assert_eq!(a["channel"], CHANNEL);
    assert!(a["decision"].is_null() && a["decided_by"].is_null() && a["decided_at"].is_null());
    let expires = chrono::DateTime::parse_from_rfc3339(a["expires_at"].as_str().unwrap()).unwrap();
    let in_hours = (expires.timestamp() - chrono::Utc::now().timestamp()) as f64 / 3600.0;
    assert!((3.9..=4.1).contains(&in_hours), "expires in {in_hours} h");
    // The button secret is never shown.
    let msg = w.approval_message().await;
    let value = msg.button("flowgate_approve").unwrap()["value"].clone();
    let secret = value
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!a.to_string().contains(&secret));

    assert!(w.approvals("approved").await.is_empty());
    let all = w.app.get(ADMIN, "/api/v1/approvals").await;
    assert_eq!(all.expect(200)["items"].as_array().unwrap().len(), 1);
    let r = w.app.get(ADMIN, "/api/v1/approvals?status=maybe").await;
    r.expect_error(400, "bad_request");
}

#[tokio::test]
async fn an_editor_decides_through_the_api_and_the_first_decision_wins() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let id = w.approvals("pending").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/approvals/{id}/decision");
    let editor = w.app.create_token(ADMIN, "night-editor", "editor").await;
    let viewer = w.app.create_token(ADMIN, "watcher", "viewer").await;
    let (_, other_admin) = w.app.create_org("elsewhere").await;

    let r = w
        .app
        .post(&viewer, &path, &json!({ "decision": "approve" }))
        .await;
    r.expect_error(403, "forbidden");
    let r = w
        .app
        .post(&other_admin, &path, &json!({ "decision": "approve" }))
        .await;
    r.expect_error(404, "not_found");
    let r = w
        .app
        .post(&editor, &path, &json!({ "decision": "maybe" }))
        .await;
    r.expect_error(422, "invalid");
    let r = w
        .app
        .post(
            &editor,
            "/api/v1/approvals/nope/decision",
            &json!({ "decision": "deny" }),
        )
        .await;
    r.expect_error(404, "not_found");
    assert_eq!(w.approvals("pending").await.len(), 1);
    assert_eq!(w.app.execution(ADMIN, &exec_id).await["status"], "waiting");

    let body = json!({ "decision": "approve", "comment": "budget owner agreed" });
    let r = w.app.post(&editor, &path, &body).await;
    let decided = r.expect(200);
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["decided_by"]["name"], "night-editor");
    assert!(decided["decided_at"].is_string());
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(w.scale_downs(), vec!["2".to_string()]);
    let out = &step(&done, "approval_1")["output"]["output"];
    assert_eq!(out["decided_by"]["name"], "night-editor");
    assert_eq!(out["comment"], "budget owner agreed");
    let update = w.wait_update(&msg).await;
    assert!(
        update.text.contains("Approved by night-editor"),
        "{update:?}"
    );

    // A second decision: 409 naming who decided; a Slack click is told the same.
    let r = w
        .app
        .post(&editor, &path, &json!({ "decision": "deny" }))
        .await;
    r.expect_error(409, "conflict");
    assert!(
        r.error_text().contains("night-editor"),
        "{}",
        r.error_text()
    );
    let status = w
        .click(
            &msg,
            "flowgate_deny",
            &bob(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let told = w
        .slack
        .wait_until(DEADLINE, |s| !s.ephemerals().is_empty())
        .await;
    assert!(told);
    let text = &w.slack.ephemerals()[0].text;
    assert!(text.contains("already approved by night-editor"), "{text}");
    assert_eq!(w.approvals("approved").await.len(), 1);
    assert_eq!(w.scale_downs().len(), 1);
}

#[tokio::test]
async fn an_api_deny_stops_the_run() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let id = w.approvals("pending").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .app
        .post(
            ADMIN,
            &format!("/api/v1/approvals/{id}/decision"),
            &json!({ "decision": "deny" }),
        )
        .await;
    assert_eq!(r.expect(200)["status"], "denied");
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "stopped", "{done:#}");
    assert!(w.scale_downs().is_empty());
    assert!(w.wait_update(&msg).await.text.contains("Denied by"));
}
