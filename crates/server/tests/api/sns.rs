//! AWS SNS deliveries on the webhook (protocols §2, against the SNS stand-in): signed
//! notifications (v1 and v2) start runs with the parsed message, repeats are de-duplicated,
//! subscriptions are confirmed, forged or foreign-host messages are refused with nothing stored
//! or fetched, the API key is still required; and trigger output schemas (inferred or given,
//! with warnings for references the schema does not have).

use reqwest::Method;
use serde_json::{json, Value};

use flowgate_standins::sns::SnsStandin;

use crate::helpers::{spawn_app_with, step, webhook_yaml, Resp, TestApp, ADMIN};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:budget-alerts";
const ALERT: &str = r#"{"Organization_Name":"SpotOrgname","Account_Name":"SpotAccountname","Account_ID":"act-29ddd123","MTD_Spend":"3.8","Budget":"4.0","Elastigroup_Id":"sig-e26f1234"}"#;

struct Setup {
    app: TestApp,
    sns: SnsStandin,
    id: String,
    key: String,
}

async fn setup() -> Setup {
    let sns = SnsStandin::start().await;
    let endpoint = sns.endpoint();
    let app = spawn_app_with(move |s, _| s.sns_endpoint = Some(endpoint)).await;
    let key = app.create_api_key(ADMIN, "budget-alerts").await;
    let id = app
        .workflow_id(ADMIN, &webhook_yaml("budget", "budget-alerts"))
        .await;
    Setup { app, sns, id, key }
}

impl Setup {
    /// Delivers `msg` as SNS does (text/plain body), with or without the `x-amz-sns-*` headers.
    async fn deliver(&self, msg: &Value, key: Option<&str>, with_headers: bool) -> Resp {
        let path = match key {
            Some(k) => format!("/webhooks/{}?x-api-key={k}", self.id),
            None => format!("/webhooks/{}", self.id),
        };
        let mut req = self.app.client.post(self.app.url(&path));
        for (name, value) in SnsStandin::delivery_headers(msg) {
            if with_headers || name == "content-type" || name == "user-agent" {
                req = req.header(name, value);
            }
        }
        self.app.send(req.body(msg.to_string())).await
    }

    async fn send(&self, msg: &Value) -> Resp {
        self.deliver(msg, Some(&self.key), true).await
    }
}

#[tokio::test]
async fn a_signed_notification_starts_a_run_with_the_parsed_message_v1_and_v2() {
    let s = setup().await;
    let alert: Value = serde_json::from_str(ALERT).unwrap();
    for version in [1, 2] {
        let msg = s
            .sns
            .notification(TOPIC, Some("Budget alert"), ALERT, version);
        let r = s.send(&msg).await;
        let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
        assert_eq!(r.body["duplicate"], false);
        let exec = s.app.wait_finished(ADMIN, &exec_id).await;
        assert_eq!(exec["status"], "succeeded", "{exec:#}");
        assert_eq!(exec["trigger"]["type"], "sns");
        assert_eq!(exec["trigger"]["body"], alert);
        let out = &step(&exec, "trigger_1")["output"];
        assert_eq!(out["output"], alert, "v{version}");
        assert_eq!(out["sns"]["MessageId"], msg["MessageId"]);
        assert_eq!(out["sns"]["TopicArn"], TOPIC);
        assert_eq!(out["sns"]["Subject"], "Budget alert");
        assert_eq!(out["sns"]["Timestamp"], msg["Timestamp"]);
        assert_eq!(
            out["sns"]["MessageAttributes"]["source"]["Value"],
            "flowgate-standin"
        );
        assert_eq!(step(&exec, "echo")["output"]["output"], alert);
        let record = serde_json::to_string(&exec).unwrap();
        assert!(!record.contains(&s.key), "the API key is in the record");
    }
    // A text message stays text.
    let msg = s.sns.notification(TOPIC, None, "plain words\nline two", 2);
    let r = s.send(&msg).await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    let exec = s.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(
        step(&exec, "trigger_1")["output"]["output"],
        "plain words\nline two"
    );
    // The certificate was fetched once and then cached.
    assert_eq!(s.sns.cert_fetches(), 1);
}

#[tokio::test]
async fn a_repeated_message_id_starts_nothing() {
    let s = setup().await;
    let msg = s.sns.notification(TOPIC, None, ALERT, 1);
    let first = s.send(&msg).await;
    let exec_id = first.expect(202)["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.app.wait_finished(ADMIN, &exec_id).await;
    let before = s.app.counts().await;
    for _ in 0..2 {
        let again = s.send(&msg).await;
        let body = again.expect(200);
        assert_eq!(body["duplicate"], true);
        assert_eq!(body["execution_id"], exec_id.as_str());
    }
    assert_eq!(s.app.counts().await, before);
    // A different message with the same content is a new run.
    let other = s.sns.notification(TOPIC, None, ALERT, 1);
    s.send(&other).await.expect(202);
    assert_eq!(s.app.count("executions").await, 2);
}

#[tokio::test]
async fn a_subscription_confirmation_fetches_the_subscribe_url() {
    let s = setup().await;
    let before = s.app.counts().await;
    let msg = s.sns.subscription_confirmation(TOPIC, 1);
    // Without the key nothing is confirmed.
    s.deliver(&msg, None, true)
        .await
        .expect_error(401, "unauthorized");
    assert!(s.sns.confirmations().is_empty());
    assert_eq!(s.sns.cert_fetches(), 0);

    let r = s.send(&msg).await;
    let body = r.expect(200);
    assert_eq!(body["confirmed"], true);
    assert_eq!(body["topic_arn"], TOPIC);
    let confirmations = s.sns.confirmations();
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    assert_eq!(confirmations[0].action, "ConfirmSubscription");
    assert_eq!(confirmations[0].topic_arn, TOPIC);
    assert_eq!(confirmations[0].token.as_deref(), msg["Token"].as_str());
    assert_eq!(s.app.counts().await, before, "a confirmation stored a run");
}

#[tokio::test]
async fn forged_unsigned_and_foreign_host_messages_are_refused_with_nothing_stored() {
    let s = setup().await;
    let before = s.app.counts().await;

    // The message was changed after signing.
    let mut forged = s.sns.notification(TOPIC, None, ALERT, 2);
    forged["Message"] = json!(ALERT.replace("3.8", "0.1"));
    let r = s.send(&forged).await;
    r.expect_error(401, "bad_signature");
    assert!(r.error_text().contains("SNS"), "{}", r.error_text());
    // A signature of another version does not verify either.
    let mut wrong_version = s.sns.notification(TOPIC, None, ALERT, 1);
    wrong_version["SignatureVersion"] = json!("2");
    s.send(&wrong_version)
        .await
        .expect_error(401, "bad_signature");
    let mut unknown_version = s.sns.notification(TOPIC, None, ALERT, 1);
    unknown_version["SignatureVersion"] = json!("3");
    let r = s.send(&unknown_version).await;
    assert!(matches!(r.status, 400 | 401), "{r:?}");
    // No signature at all.
    let mut unsigned = s.sns.notification(TOPIC, None, ALERT, 1);
    unsigned.as_object_mut().unwrap().remove("Signature");
    let r = s.send(&unsigned).await;
    assert!(matches!(r.status, 400 | 401), "{r:?}");
    assert_eq!(s.app.counts().await, before);
    let fetched = s.sns.cert_fetches();

    // A certificate on a foreign host is never fetched.
    for url in [
        "https://evil.example.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example.com/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://s3.amazonaws.com/x.pem",
    ] {
        let mut foreign = s.sns.notification(TOPIC, None, ALERT, 1);
        foreign["SigningCertURL"] = json!(url);
        let r = s.send(&foreign).await;
        r.expect_error(400, "bad_request");
        assert!(r.error_text().contains("SNS"), "{url}: {}", r.error_text());
    }
    assert_eq!(
        s.sns.cert_fetches(),
        fetched,
        "a foreign certificate URL was fetched"
    );
    assert_eq!(s.app.counts().await, before);

    // A header that contradicts the body is refused.
    let msg = s.sns.notification(TOPIC, None, ALERT, 1);
    let r = s
        .app
        .send(
            s.app
                .client
                .post(
                    s.app
                        .url(&format!("/webhooks/{}?x-api-key={}", s.id, s.key)),
                )
                .header("x-amz-sns-message-type", "SubscriptionConfirmation")
                .body(msg.to_string()),
        )
        .await;
    r.expect_error(400, "bad_request");
    assert_eq!(s.app.counts().await, before);
}

#[tokio::test]
async fn the_type_in_the_body_is_enough_and_the_key_is_still_required() {
    let s = setup().await;
    let before = s.app.counts().await;
    let msg = s.sns.notification(TOPIC, None, ALERT, 2);
    // No key, a wrong key: 401, nothing stored, nothing fetched.
    s.deliver(&msg, None, false)
        .await
        .expect_error(401, "unauthorized");
    s.deliver(&msg, Some("fgk_wrong"), true)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(s.app.counts().await, before);
    assert_eq!(s.sns.cert_fetches(), 0);
    // No x-amz-sns-* headers and a text/plain body: still an SNS notification.
    let r = s.deliver(&msg, Some(&s.key), false).await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    let exec = s.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["trigger"]["type"], "sns");
    let alert: Value = serde_json::from_str(ALERT).unwrap();
    assert_eq!(step(&exec, "trigger_1")["output"]["output"], alert);
    // ... and so is its confirmation.
    let confirm = s.sns.subscription_confirmation(TOPIC, 2);
    s.deliver(&confirm, Some(&s.key), false).await.expect(200);
    assert_eq!(s.sns.confirmations().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Trigger output schemas

async fn put_schema(app: &TestApp, id: &str, body: &Value) -> Resp {
    app.json(
        Method::PUT,
        ADMIN,
        &format!("/api/v1/workflows/{id}/trigger/output-schema"),
        body,
    )
    .await
}

#[tokio::test]
async fn an_output_schema_is_inferred_from_an_execution_and_saved_as_a_new_version() {
    let s = setup().await;
    let alert = json!({
        "Account_ID": "act-29ddd123", "MTD_Spend": "3.8", "count": 2, "ratio": 0.5, "ok": true,
        "tags": [{ "k": "team", "v": "ops" }], "meta": { "region": "us-east-1", "ids": [1, 2] }
    });
    let r = s.app.post_webhook(&s.id, Some(&s.key), &alert).await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    s.app.wait_finished(ADMIN, &exec_id).await;

    let r = put_schema(&s.app, &s.id, &json!({ "from_execution": exec_id })).await;
    let body = r.expect(200);
    assert_eq!(body["version"], 2);
    assert_eq!(body["warnings"], json!([]));
    let w = s
        .app
        .get(ADMIN, &format!("/api/v1/workflows/{}", s.id))
        .await;
    let w = w.expect(200);
    assert_eq!(w["version"], 2);
    let schema = &w["document"]["nodes"][0]["params"]["output_schema"];
    assert_eq!(schema["type"], "object");
    let props = &schema["properties"];
    assert_eq!(props["Account_ID"]["type"], "string");
    assert_eq!(props["MTD_Spend"]["type"], "string");
    assert_eq!(props["count"]["type"], "integer");
    assert_eq!(props["ratio"]["type"], "number");
    assert_eq!(props["ok"]["type"], "boolean");
    assert_eq!(props["tags"]["type"], "array");
    assert_eq!(props["tags"]["items"]["type"], "object");
    assert_eq!(props["tags"]["items"]["properties"]["k"]["type"], "string");
    assert_eq!(props["meta"]["properties"]["region"]["type"], "string");
    assert_eq!(
        props["meta"]["properties"]["ids"]["items"]["type"],
        "integer"
    );
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(
        required,
        [
            "Account_ID",
            "MTD_Spend",
            "count",
            "meta",
            "ok",
            "ratio",
            "tags"
        ]
    );
    // The first version is unchanged.
    let v1 = s
        .app
        .get(ADMIN, &format!("/api/v1/workflows/{}/versions/1", s.id))
        .await;
    let v1 = v1.expect(200);
    assert!(
        v1["document"]["nodes"][0]["params"]
            .get("output_schema")
            .is_none(),
        "{v1:#}"
    );

    // An SNS execution's alert body works the same way.
    let msg = s.sns.notification(TOPIC, None, ALERT, 1);
    let r = s.send(&msg).await;
    let sns_exec = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    let r = put_schema(&s.app, &s.id, &json!({ "from_execution": sns_exec })).await;
    assert_eq!(r.expect(200)["version"], 3);
    let w = s
        .app
        .get(ADMIN, &format!("/api/v1/workflows/{}", s.id))
        .await;
    let schema = &w.body["document"]["nodes"][0]["params"]["output_schema"];
    assert_eq!(schema["properties"]["Elastigroup_Id"]["type"], "string");
}

#[tokio::test]
async fn a_given_schema_is_saved_and_bad_requests_are_refused() {
    let s = setup().await;
    let schema = json!({ "type": "object", "properties": { "Budget": { "type": "string" } }, "required": ["Budget"] });
    let r = put_schema(&s.app, &s.id, &json!({ "schema": schema })).await;
    assert_eq!(r.expect(200)["version"], 2);
    let w = s
        .app
        .get(ADMIN, &format!("/api/v1/workflows/{}", s.id))
        .await;
    assert_eq!(
        w.body["document"]["nodes"][0]["params"]["output_schema"],
        schema
    );
    // The existing echo of the whole output is fine with the schema; no warning.
    assert_eq!(r.body["warnings"], json!([]));

    let before = s.app.counts().await;
    for body in [
        json!({ "schema": { "type": 5 } }),
        json!({ "schema": "not an object" }),
        json!({}),
        json!({ "schema": schema, "from_execution": "x" }),
    ] {
        put_schema(&s.app, &s.id, &body)
            .await
            .expect_error(422, "invalid");
    }
    put_schema(
        &s.app,
        &s.id,
        &json!({ "from_execution": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" }),
    )
    .await
    .expect_error(404, "not_found");
    // A manual workflow has no output schema.
    let manual = s
        .app
        .workflow_id(ADMIN, &crate::helpers::manual_yaml("by hand"))
        .await;
    let after_manual = s.app.counts().await;
    put_schema(&s.app, &manual, &json!({ "schema": schema }))
        .await
        .expect_error(422, "invalid");
    assert_eq!(s.app.counts().await, after_manual);
    assert_eq!(
        before[4].1 + 1,
        after_manual[4].1,
        "only the manual workflow was added"
    );
}

#[tokio::test]
async fn saving_a_reference_the_schema_does_not_have_returns_a_warning_naming_it() {
    let s = setup().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "Elastigroup_Id": { "type": "string" },
            "meta": { "type": "object", "properties": { "region": { "type": "string" } } }
        }
    });
    put_schema(&s.app, &s.id, &json!({ "schema": schema }))
        .await
        .expect(200);
    let doc = json!({
        "name": "budget", "description": "uses the alert",
        "nodes": [
            { "id": "trigger_1", "type": "trigger.webhook", "params": { "api_key": "budget-alerts", "output_schema": schema } },
            { "id": "use", "type": "core.transform", "params": { "value": {
                "group": "{{ trigger_1.output.Elastigroup_Id }}",
                "region": "{{ trigger_1.output.meta.region }}",
                "missing": "{{ trigger_1.output.Missing }}"
            } } }
        ],
        "edges": [ { "from": "trigger_1", "to": "use" } ]
    });
    let r = s
        .app
        .json(
            Method::PUT,
            ADMIN,
            &format!("/api/v1/workflows/{}", s.id),
            &doc,
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["version"], 3);
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0]["path"], "nodes[1].params");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("Missing"), "{message}");
    assert!(!message.contains("region"), "{message}");

    // The same document is created with the same warning; it is only a warning.
    let created = s.app.post(ADMIN, "/api/v1/workflows", &doc).await;
    let created = created.expect(201);
    assert_eq!(created["warnings"].as_array().unwrap().len(), 1);
    assert!(created["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Missing"));
}
