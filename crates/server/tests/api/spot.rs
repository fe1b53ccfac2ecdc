//! The Spot half of the seed story through the HTTP API against the Spot stand-in: a webhook alert
//! reads the group and scales it down; bad input fails clearly; scale requests whose outcome is
//! unknown are never repeated; the token never appears in an execution or in the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use flowgate_server::vault::integration_ad;
use flowgate_standins::slack::SlackStandin;
use flowgate_standins::spot::{Capacity, Fault, SpotStandin};

use crate::helpers::{spawn_app, step, TestApp, ADMIN};
use crate::integrations::{raw_secrets, set_sealed, spot_body, spot_standin, SPOT_TOKEN};

const GROUP: &str = "sig-e26f1234";
const SCALE_DOWN: &str = "/aws/ec2/group/sig-e26f1234/scale/down";

/// The budget alert of the story (product.md §1).
fn alert() -> Value {
    json!({
        "Organization_Name": "SpotOrgname",
        "Account_Name": "SpotAccountname",
        "Account_ID": "act-29ddd123",
        "MTD_Spend": "3.8",
        "Budget": "4.0",
        "Elastigroup_Id": GROUP
    })
}

/// trigger_1 (webhook, key `alerts`) → list_elastigroup (get) → scale_down (by `adjustment`).
fn story_yaml(integration: &str, adjustment: &str) -> String {
    format!(
        r#"
name: budget alert
description: the Spot half of the seed story
nodes:
  - id: trigger_1
    type: trigger.webhook
    params: {{ api_key: alerts }}
  - id: list_elastigroup
    type: spot.elastigroup_aws
    name: List Elastigroup
    params:
      integration: {integration}
      account_id: "{{{{ trigger_1.output.Account_ID }}}}"
      operation: get_elastigroup
      group_id: "{{{{ trigger_1.output.Elastigroup_Id }}}}"
  - id: scale_down
    type: spot.elastigroup_aws
    params:
      integration: {integration}
      account_id: "{{{{ trigger_1.output.Account_ID }}}}"
      operation: scale_down
      group_id: "{{{{ list_elastigroup.output.id }}}}"
      adjustment: {adjustment}
edges:
  - {{ from: trigger_1, to: list_elastigroup }}
  - {{ from: list_elastigroup, to: scale_down }}
"#
    )
}

/// An app with a `spot` integration on a stand-in holding the story's group (target 5).
async fn setup() -> (TestApp, SpotStandin, String) {
    let app = spawn_app().await;
    let spot = spot_standin().await;
    let capacity = Capacity {
        minimum: 1,
        maximum: 10,
        target: 5,
    };
    spot.add_group("act-29ddd123", GROUP, "web-prod", capacity);
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    let key = app.create_api_key(ADMIN, "alerts").await;
    (app, spot, key)
}

/// Posts the alert (or `body`) to a new workflow and waits for the run to finish.
async fn run_alert(app: &TestApp, key: &str, yaml: &str, body: &Value) -> Value {
    let id = app.workflow_id(ADMIN, yaml).await;
    let r = app.post_webhook(&id, Some(key), body).await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    app.wait_finished(ADMIN, &exec_id).await
}

#[track_caller]
fn step_error(exec: &Value, node_id: &str) -> String {
    let s = step(exec, node_id);
    assert_eq!(s["status"], "failed", "{exec:#}");
    s["error"].as_str().unwrap_or_default().to_string()
}

#[track_caller]
fn assert_no_token(exec: &Value, token: &str) {
    let text = exec.to_string();
    assert!(!text.contains(token), "the token leaked: {exec:#}");
}

#[tokio::test]
async fn a_budget_alert_reads_the_group_and_scales_it_down_by_two() {
    let (app, spot, key) = setup().await;
    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &alert()).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(exec["trigger"]["body"], alert());

    // Spot's state: the target dropped by 2, through exactly one scale request.
    assert_eq!(spot.capacity(GROUP).unwrap().target, 3);
    assert_eq!(spot.count("PUT", SCALE_DOWN), 1);
    let scale = spot
        .requests()
        .into_iter()
        .find(|r| r.path == SCALE_DOWN)
        .unwrap();
    assert!(scale.authorized);
    assert_eq!(scale.query.get("adjustment").map(String::as_str), Some("2"));
    assert_eq!(
        scale.query.get("accountId").map(String::as_str),
        Some("act-29ddd123")
    );

    let get = step(&exec, "list_elastigroup");
    assert_eq!(get["status"], "succeeded");
    assert_eq!(get["type"], "spot.elastigroup_aws");
    assert_eq!(get["name"], "List Elastigroup");
    assert_eq!(get["input"]["operation"], "get_elastigroup");
    assert_eq!(get["input"]["group_id"], GROUP, "the reference is resolved");
    assert_eq!(get["input"]["account_id"], "act-29ddd123");
    assert_eq!(get["input"]["integration"], "spot");
    assert_eq!(get["output"]["output"]["id"], GROUP);
    assert_eq!(get["output"]["output"]["name"], "web-prod");
    assert_eq!(get["output"]["output"]["capacity"]["target"], 5);
    assert_eq!(get["output"]["items"].as_array().unwrap().len(), 1);
    assert!(get["output"]["request_id"].is_string(), "{get:#}");

    let down = step(&exec, "scale_down");
    assert_eq!(down["status"], "succeeded");
    assert_eq!(down["attempts"], 1);
    assert_eq!(down["input"]["operation"], "scale_down");
    assert_eq!(down["input"]["group_id"], GROUP);
    assert_eq!(down["input"]["adjustment"], 2);
    let victims = down["output"]["output"]["victimSpotRequests"]
        .as_array()
        .unwrap();
    assert_eq!(victims.len(), 2, "{down:#}");
    assert!(down["output"]["request_id"].is_string());
    for s in [get, down] {
        assert!(
            s["started_at"].is_string() && s["finished_at"].is_string(),
            "{s:#}"
        );
    }
    assert_no_token(&exec, SPOT_TOKEN);
}

#[tokio::test]
async fn an_unknown_integration_or_one_of_the_wrong_type_fails_the_step_clearly() {
    let (app, spot, key) = setup().await;
    let exec = run_alert(&app, &key, &story_yaml("nope", "2"), &alert()).await;
    assert_eq!(exec["status"], "failed");
    let err = step_error(&exec, "list_elastigroup");
    assert!(err.contains("no integration named `nope`"), "{err}");
    assert_eq!(
        step(&exec, "list_elastigroup")["attempts"],
        1,
        "not retried"
    );

    let slack = SlackStandin::start().await;
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &json!({ "type": "slack", "alias": "chat", "config": { "base_url": slack.api_url() },
                 "secrets": { "bot_token": flowgate_standins::slack::BOT_TOKEN, "signing_secret": flowgate_standins::slack::SIGNING_SECRET } }),
    )
    .await
    .expect(201);
    let exec = run_alert(&app, &key, &story_yaml("chat", "2"), &alert()).await;
    assert_eq!(exec["status"], "failed");
    let err = step_error(&exec, "list_elastigroup");
    assert!(
        err.contains("is of type `slack`") && err.contains("needs a `spot` integration"),
        "{err}"
    );
    assert_no_token(&exec, flowgate_standins::slack::BOT_TOKEN);
    assert_no_token(&exec, flowgate_standins::slack::SIGNING_SECRET);
    assert_eq!(spot.count("PUT", SCALE_DOWN), 0);
    assert_eq!(spot.capacity(GROUP).unwrap().target, 5);
}

#[tokio::test]
async fn a_token_spot_no_longer_accepts_fails_the_step_naming_the_problem() {
    let (app, spot, key) = setup().await;
    // The token is revoked in Spot after it was saved: reseal the record with another one.
    let st = &app.running.state;
    let bad = "revoked-token-9e8d7c6b5a";
    let sealed = st.vault.seal(
        &serde_json::to_vec(&json!({ "token": bad })).unwrap(),
        &integration_ad(&st.default_org_id, "spot", "spot"),
    );
    set_sealed(&app, &st.default_org_id, "spot", &sealed).await;

    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &alert()).await;
    assert_eq!(exec["status"], "failed");
    let err = step_error(&exec, "list_elastigroup");
    assert!(err.contains("UNAUTHORIZED") && err.contains("401"), "{err}");
    assert!(err.contains("check the Spot integration's token"), "{err}");
    assert_eq!(
        step(&exec, "list_elastigroup")["attempts"],
        1,
        "a 401 is not retried"
    );
    let reached = exec["steps"].as_array().unwrap();
    assert!(
        reached.iter().all(|s| s["node_id"] != "scale_down"),
        "{exec:#}"
    );
    assert_no_token(&exec, bad);
    assert!(spot.requests().iter().any(|r| !r.authorized));
    assert_eq!(spot.capacity(GROUP).unwrap().target, 5);
}

#[tokio::test]
async fn a_missing_group_fails_with_spots_group_doesnt_exist() {
    let (app, spot, key) = setup().await;
    let mut body = alert();
    body["Elastigroup_Id"] = json!("sig-nothere1");
    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &body).await;
    assert_eq!(exec["status"], "failed");
    let err = step_error(&exec, "list_elastigroup");
    assert!(err.contains("GROUP_DOESNT_EXIST"), "{err}");
    assert!(
        err.contains("HTTP 400") && err.contains("request "),
        "status and request id: {err}"
    );
    assert_eq!(
        step(&exec, "list_elastigroup")["input"]["group_id"],
        "sig-nothere1"
    );
    assert_eq!(
        spot.count("GET", "/aws/ec2/group/sig-nothere1"),
        1,
        "a 400 is not retried"
    );

    // A referenced group id that is not a group id at all fails before Spot is called.
    body["Elastigroup_Id"] = json!("web-prod");
    let before = spot.requests().len();
    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &body).await;
    let err = step_error(&exec, "list_elastigroup");
    assert!(err.contains("not an Elastigroup id"), "{err}");
    assert_eq!(spot.requests().len(), before);
}

#[tokio::test]
async fn a_non_numeric_adjustment_is_refused_at_save_or_fails_the_step_when_referenced() {
    let (app, spot, key) = setup().await;
    for literal in ["two", "-2", "0", "1.5"] {
        let yaml = story_yaml("spot", &format!("\"{literal}\""));
        let r = app
            .raw(
                reqwest::Method::POST,
                ADMIN,
                "/api/v1/workflows",
                "application/yaml",
                yaml,
            )
            .await;
        r.expect_error(422, "invalid");
        assert!(
            r.detail_paths()
                .iter()
                .any(|p| p == "nodes[2].params.adjustment"),
            "{literal}: {}",
            r.error_text()
        );
    }
    assert_eq!(app.count("workflows").await, 0);

    let yaml = story_yaml("spot", "\"{{ trigger_1.output.Adjustment }}\"");
    let mut body = alert();
    body["Adjustment"] = json!("two");
    let exec = run_alert(&app, &key, &yaml, &body).await;
    assert_eq!(exec["status"], "failed");
    assert_eq!(step(&exec, "list_elastigroup")["status"], "succeeded");
    let err = step_error(&exec, "scale_down");
    assert!(err.contains("adjustment") && err.contains("two"), "{err}");
    assert_eq!(spot.count("PUT", SCALE_DOWN), 0, "nothing was sent");
    assert_eq!(spot.capacity(GROUP).unwrap().target, 5);

    // The same workflow with a numeric string from the alert scales.
    body["Adjustment"] = json!("2");
    let exec = run_alert(&app, &key, &yaml, &body).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(spot.capacity(GROUP).unwrap().target, 3);
}

#[tokio::test]
async fn scale_down_after_a_500_or_a_dropped_connection_is_outcome_unknown_and_sent_once() {
    let (app, spot, key) = setup().await;
    for (fault, target_after) in [(Fault::ServerError, 5), (Fault::Drop, 3)] {
        let before = spot.count("PUT", SCALE_DOWN);
        spot.inject(SCALE_DOWN, fault.clone(), 1);
        let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &alert()).await;
        assert_eq!(exec["status"], "failed", "{fault:?}: {exec:#}");
        let err = step_error(&exec, "scale_down");
        assert!(err.contains("outcome unknown"), "{fault:?}: {err}");
        assert!(err.contains("not retried"), "{fault:?}: {err}");
        assert_eq!(step(&exec, "scale_down")["attempts"], 1, "{fault:?}");
        assert_eq!(
            spot.count("PUT", SCALE_DOWN),
            before + 1,
            "{fault:?}: sent exactly once"
        );
        // A dropped connection applied the change before closing; a 500 did not.
        assert_eq!(
            spot.capacity(GROUP).unwrap().target,
            target_after,
            "{fault:?}"
        );
        assert_no_token(&exec, SPOT_TOKEN);
    }
    // A read that meets a 500 is retried and succeeds; the scale after it is sent once.
    spot.inject("/aws/ec2/group/sig-e26f1234", Fault::ServerError, 1);
    let exec = run_alert(&app, &key, &story_yaml("spot", "1"), &alert()).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(spot.count("GET", "/aws/ec2/group/sig-e26f1234"), 4);
    assert_eq!(spot.count("PUT", SCALE_DOWN), 3);
    assert_eq!(spot.capacity(GROUP).unwrap().target, 2);
}

#[tokio::test]
async fn a_token_seen_by_a_step_is_masked_in_its_input_and_error() {
    // An alert that carries the token (by mistake or malice) as the group id: the Spot step's
    // input and its error (which names the URL) must show `***` instead.
    // A group id holds letters and digits only, so this stand-in's token is one of those.
    let (app, _, key) = setup().await;
    let token = "spottoken4f9a1c7e2b8d6f03";
    let token_group = format!("sig-{token}");
    let spot2 = SpotStandin::start(token).await;
    spot2.add_account("act-29ddd123", "SpotAccountname");
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &json!({ "type": "spot", "alias": "spot2", "config": { "base_url": spot2.base_url() }, "secrets": { "token": token } }),
    )
    .await
    .expect(201);
    let path = format!("/aws/ec2/group/{token_group}/scale/down");
    spot2.inject(&path, Fault::Drop, 1);
    let yaml = r#"
name: masked
description: a token in the alert
nodes:
  - id: trigger_1
    type: trigger.webhook
    params: { api_key: alerts }
  - id: scale_down
    type: spot.elastigroup_aws
    params:
      integration: spot2
      operation: scale_down
      group_id: "{{ trigger_1.output.Elastigroup_Id }}"
      adjustment: 1
edges:
  - { from: trigger_1, to: scale_down }
"#;
    let mut body = alert();
    body["Elastigroup_Id"] = json!(token_group);
    let exec = run_alert(&app, &key, yaml, &body).await;
    assert_eq!(spot2.count("PUT", &path), 1, "the call was made");
    let s = step(&exec, "scale_down");
    assert_eq!(s["input"]["group_id"], "sig-***", "{s:#}");
    let err = step_error(&exec, "scale_down");
    assert!(
        err.contains("outcome unknown") && err.contains("***"),
        "{err}"
    );
    assert!(!s.to_string().contains(token), "{s:#}");
    assert!(!exec["error"].to_string().contains(token), "{exec:#}");
    // The trigger's own record is the alert as received: the step records are what is masked.
    assert_eq!(
        exec["trigger"]["body"]["Elastigroup_Id"],
        json!(token_group)
    );
}

#[tokio::test]
async fn a_sealed_value_copied_from_another_integration_fails_the_run_clearly() {
    let (app, spot, key) = setup().await;
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot-b", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    // Same plaintext, same type: only the record binding (the alias) tells them apart.
    let other = raw_secrets(&app, "spot-b").await;
    let org = app.running.state.default_org_id.clone();
    set_sealed(&app, &org, "spot", &other).await;
    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &alert()).await;
    assert_eq!(exec["status"], "failed");
    let err = step_error(&exec, "list_elastigroup");
    assert!(
        err.contains("integration `spot`") && err.contains("could not be decrypted"),
        "{err}"
    );
    assert_no_token(&exec, SPOT_TOKEN);
    assert!(
        spot.requests().iter().all(|r| r.path == "/setup/account"),
        "Spot was not called"
    );
}

/// A `Write` that appends to a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_the_logs() {
    // A current-thread runtime: the server's tasks run on this thread, under this subscriber.
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // With a single dispatcher, tracing asks the registering thread's default whether a
    // callsite is wanted, so a callsite first reached by another test (no subscriber there)
    // would be switched off for good. A second, silent dispatcher makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);
    // Callsites registered while the dispatchers were being set up are recomputed.
    tracing::callsite::rebuild_interest_cache();

    let (app, spot, key) = setup().await;
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("bad", &spot, "wrong-token-0a1b2c3d"),
    )
    .await
    .expect_error(422, "invalid");
    spot.inject("/aws/ec2/group/sig-e26f1234", Fault::ServerError, 1);
    spot.inject(SCALE_DOWN, Fault::Drop, 1);
    let exec = run_alert(&app, &key, &story_yaml("spot", "2"), &alert()).await;
    assert!(step_error(&exec, "scale_down").contains("outcome unknown"));
    let accounts = app.get(ADMIN, "/api/v1/integrations/spot/accounts").await;
    accounts.expect(200);

    // A token that reaches a request path (an alert carrying it as the group id) is masked in
    // the retry log line too, as it is in the step's record.
    let token = "spottoken77aa55bb33cc11dd";
    let spot2 = SpotStandin::start(token).await;
    spot2.add_account("act-29ddd123", "SpotAccountname");
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &json!({ "type": "spot", "alias": "spot2", "config": { "base_url": spot2.base_url() }, "secrets": { "token": token } }),
    )
    .await
    .expect(201);
    let path = format!("/aws/ec2/group/sig-{token}");
    spot2.inject(&path, Fault::ServerError, 1);
    let mut body = alert();
    body["Elastigroup_Id"] = json!(format!("sig-{token}"));
    let exec = run_alert(&app, &key, &story_yaml("spot2", "2"), &body).await;
    assert!(step_error(&exec, "list_elastigroup").contains("GROUP_DOESNT_EXIST"));
    assert_eq!(spot2.count("GET", &path), 2, "retried once after the 500");

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("retrying Spot call"),
        "the logs were captured: {text}"
    );
    assert!(
        text.contains("sig-***"),
        "the retry of the masked path was logged: {text}"
    );
    for secret in [SPOT_TOKEN, "wrong-token-0a1b2c3d", token] {
        assert!(!text.contains(secret), "`{secret}` was logged");
    }
}
